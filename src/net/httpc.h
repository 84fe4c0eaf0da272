/*
 * httpc: one blocking HTTP GET, by libcurl (over GnuTLS), plain or TLS.
 * Used for a member's /v1/bootstrap (src/net/bff) and by the command
 * line for the local node's /v1/status and /v1/nodes (with its token, to
 * the node's own socket only).  Every call is bounded as a whole by its
 * timeout and its reply by max bytes; redirects are not followed and no
 * proxy is used.
 *
 * TLS to another host (httpc_get) checks the server: its certificate
 * against the system's CA store and its name, or, given a pin, only
 * that its public key is the pinned one (a self-signed certificate);
 * or not at all with HTTPC_ANY_CERT, for an answer the caller checks by
 * other means (a member's bootstrap answer must carry the key the node
 * list has for it).
 * httpc_get_local does not check the certificate: the server's socket
 * being root's or the node's user's is the proof there, checked before
 * the token is sent.
 *
 * No threads of its own; any thread may call it.  libcurl's global state
 * is set up once, by httpc_init (or the first call).
 */
#ifndef OAND_HTTPC_H
#define OAND_HTTPC_H

#include <stddef.h>
#include <sys/types.h>

enum httpc_tls {
	HTTPC_PLAIN,
	HTTPC_TLS,
	HTTPC_AUTO,	/* plain; if no HTTP answer came, TLS */
	HTTPC_ANY_CERT = 0x10,	/* with one of the above: TLS takes any certificate */
};

struct httpc_reply {
	int status;	/* 200, 404, ... */
	char *head;	/* status line and headers, NUL-terminated, malloc'd */
	char *body;	/* NUL-terminated, malloc'd */
	size_t len;
	int tls;	/* the answer came over TLS */
};

/* libcurl's global set-up, once per process (later calls return its
   result): 0 or -ENOMEM.  Main programs call it before their threads. */
int httpc_init(void);
/*
 * GET http(s)://host:port/path: 0 with the reply, or -ECONNREFUSED,
 * -EHOSTUNREACH, -ETIMEDOUT, -EBADMSG (not an HTTP answer, or more than
 * max bytes), -EKEYREJECTED (the server's certificate or key refused)
 * or -errno.  pin, if not NULL, is curl's "sha256//BASE64[;...]": TLS
 * only, to a server with that public key.
 */
int httpc_get(const char *host, int port, int tls, const char *path, const char *pin,
	      int timeout_ms, size_t max, struct httpc_reply *out);
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
