/*
 * httpc: a small blocking HTTP/1.0 client for one GET, over plain TCP or
 * TLS (GnuTLS).  Used for a member's /v1/bootstrap (src/bff) and by the
 * command line for the local node's /v1/status and /v1/nodes (with its
 * token, to the node's own socket only).
 *
 * The server's certificate is not checked: what is fetched this way is
 * either the local node's own answer over loopback, or a bootstrap hint
 * whose every claim is proven over Tox afterwards (the cluster key, and
 * bff-tox-id when set).  TLS there keeps the query private, no more.
 * No threads of its own; blocks up to its timeout.
 */
#ifndef OAND_HTTPC_H
#define OAND_HTTPC_H

#include <stddef.h>
#include <sys/types.h>

enum httpc_tls {
	HTTPC_PLAIN,
	HTTPC_TLS,
	HTTPC_AUTO,	/* plain; if no HTTP answer came, TLS */
};

struct httpc_reply {
	int status;	/* 200, 404, ... */
	char *head;	/* status line and headers, NUL-terminated, malloc'd */
	char *body;	/* NUL-terminated, malloc'd */
	size_t len;
	int tls;	/* the answer came over TLS */
};

/* GET http(s)://host:port/path: 0 with the reply, or -ECONNREFUSED,
   -EHOSTUNREACH, -ETIMEDOUT, -EBADMSG (not an HTTP answer, or more than
   max bytes) or -errno. */
int httpc_get(const char *host, int port, enum httpc_tls tls, const char *path, int timeout_ms,
	      size_t max, struct httpc_reply *out);
/*
 * The same GET to a server on this host, with "Authorization: Bearer
 * token", sent only once the socket that took the connection is known
 * (/proc/net/tcp, tcp6) to be root's or owner's: a local user who took
 * the port while the node was down gets nothing (-EPERM).
 */
int httpc_get_local(const char *host, int port, enum httpc_tls tls, const char *path,
		    const char *token, uid_t owner, int timeout_ms, size_t max,
		    struct httpc_reply *out);
void httpc_reply_free(struct httpc_reply *r);
/* The value of header name (case-insensitive) in out, or NULL. */
const char *httpc_header(const struct httpc_reply *r, const char *name, char *out, size_t len);

#endif
