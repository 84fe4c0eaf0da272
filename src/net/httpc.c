#include "httpc.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "deadline.h"

/* libcurl's global state: set up once (pthread_once), never torn down. */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result = -ENOMEM;

static void global_init(void)
{
	init_result = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -ENOMEM;
}

int httpc_init(void)
{
	pthread_once(&init_once, global_init);
	return init_result;
}

/* /proc/net/tcp's hex address: 32-bit words, each as the kernel holds it. */
static int proc_addr(const char *hex, struct in6_addr *a)
{
	size_t n = strlen(hex);
	uint8_t raw[16];

	if (n != 8 && n != 32)
		return -EINVAL;
	for (size_t i = 0; i < n / 8; i++) {
		char w[9];
		uint32_t v;

		memcpy(w, hex + 8 * i, 8);
		w[8] = '\0';
		v = (uint32_t)strtoul(w, NULL, 16);
		memcpy(raw + 4 * i, &v, 4);
	}
	memset(a, 0, sizeof(*a));
	if (n == 8) {
		a->s6_addr[10] = a->s6_addr[11] = 0xff;
		memcpy(&a->s6_addr[12], raw, 4);
	} else {
		memcpy(a->s6_addr, raw, 16);
	}
	return 0;
}

/* A textual address as IPv6 (IPv4 as v4-mapped): 0 or -EINVAL. */
static int text_to_in6(const char *ip, struct in6_addr *a)
{
	char buf[INET6_ADDRSTRLEN];
	struct in_addr v4;

	snprintf(buf, sizeof(buf), "%s", ip);
	buf[strcspn(buf, "%")] = '\0';	/* a scope id */
	if (inet_pton(AF_INET6, buf, a) == 1)
		return 0;
	if (inet_pton(AF_INET, buf, &v4) != 1)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->s6_addr[10] = a->s6_addr[11] = 0xff;
	memcpy(&a->s6_addr[12], &v4, 4);
	return 0;
}

static int unspecified(const struct in6_addr *a)
{
	static const uint8_t v4any[16] = { [10] = 0xff, [11] = 0xff };

	return IN6_IS_ADDR_UNSPECIFIED(a) || memcmp(a->s6_addr, v4any, 16) == 0;
}

/*
 * Does the server at peer:port listen with a socket of root or of uid?
 * Every listening socket that could have taken the connection (on its
 * address or on every address, at its port) must be one of theirs; the
 * kernel lets no other user share a port with them (SO_REUSEPORT wants
 * one uid).  0 or -EPERM.
 */
static int server_owner_ok(const struct in6_addr *peer, unsigned port, uid_t uid)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	unsigned found = 0, bad = 0;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		FILE *f = fopen(files[i], "re");
		char line[512], hex[33];
		unsigned lport, state, owner;
		struct in6_addr a;

		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			if (sscanf(line, " %*u: %32[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*x:%*x %*x:%*x %*x %u",
				   hex, &lport, &state, &owner) != 4 || state != 0x0A /* LISTEN */ ||
			    lport != port || proc_addr(hex, &a) != 0)
				continue;
			if (memcmp(&a, peer, sizeof(a)) != 0 && !unspecified(&a))
				continue;
			found++;
			if (owner != 0 && owner != (unsigned)uid)
				bad++;
		}
		fclose(f);
	}
	return found > 0 && bad == 0 ? 0 : -EPERM;
}

/* One transfer's state, reached from libcurl's callbacks. */
struct xfer {
	char *head, *body;
	size_t headlen, bodylen, max;	/* headlen + bodylen < max */
	int too_big;
	int local;			/* check the server's owner first */
	uid_t owner;
	int owner_refused;
};

/* Append n bytes to *buf (NUL-terminated), within x->max in all. */
static int grow(struct xfer *x, char **buf, size_t *len, const char *p, size_t n)
{
	char *b;

	if (x->headlen + x->bodylen + n >= x->max) {
		x->too_big = 1;
		return -EBADMSG;
	}
	if ((b = realloc(*buf, *len + n + 1)) == NULL)
		return -ENOMEM;
	memcpy(b + *len, p, n);
	*len += n;
	b[*len] = '\0';
	*buf = b;
	return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct xfer *x = ctx;

	n *= size;
	return grow(x, &x->body, &x->bodylen, p, n) == 0 ? n : 0;
}

static size_t on_head(char *p, size_t size, size_t n, void *ctx)
{
	struct xfer *x = ctx;

	n *= size;
	/* A status line starts a reply's head: the last one is the answer's
	   (after a "100 Continue"). */
	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0)
		x->headlen = 0;
	return grow(x, &x->head, &x->headlen, p, n) == 0 ? n : 0;
}

/* Connected, before the request (and the token) is sent. */
static int on_connected(void *ctx, char *server_ip, char *local_ip, int server_port,
			int local_port)
{
	struct xfer *x = ctx;
	struct in6_addr a;

	(void)local_ip;
	(void)local_port;
	if (!x->local)
		return CURL_PREREQFUNC_OK;
	if (text_to_in6(server_ip, &a) != 0 || server_owner_ok(&a, (unsigned)server_port, x->owner) != 0) {
		x->owner_refused = 1;
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

/* libcurl's outcome as 0 or -errno. */
static int from_curl(CURLcode c, CURL *h, const struct xfer *x)
{
	long oserr = 0;

	switch (c) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_COULDNT_CONNECT:
		if (curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK && oserr > 0)
			return -(int)oserr;
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_WRITE_ERROR:
		return x->too_big ? -EBADMSG : -ENOMEM;
	case CURLE_FILESIZE_EXCEEDED:
		return -EBADMSG;
	case CURLE_ABORTED_BY_CALLBACK:
		return x->owner_refused ? -EPERM : -EIO;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return -EKEYREJECTED;
	case CURLE_SSL_CONNECT_ERROR:
		return -EPROTO;
	case CURLE_GOT_NOTHING:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EBADMSG;
	case CURLE_RECV_ERROR:
		return -ECONNRESET;
	case CURLE_SEND_ERROR:
		return -EPIPE;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* scheme://host:port/path?query as libcurl's URL object, or NULL. */
static CURLU *make_url(const char *host, int port, int tls, const char *path)
{
	CURLU *u = curl_url();
	char h[300], p[16], *rest = NULL;
	const char *q = strchr(path, '?');
	int ok;

	if (u == NULL)
		return NULL;
	snprintf(h, sizeof(h), strchr(host, ':') != NULL ? "[%s]" : "%s", host);
	snprintf(p, sizeof(p), "%d", port);
	rest = strndup(path, q != NULL ? (size_t)(q - path) : strlen(path));
	ok = rest != NULL && path[0] == '/' && strlen(host) < sizeof(h) - 2 &&
	     curl_url_set(u, CURLUPART_SCHEME, tls ? "https" : "http", 0) == CURLUE_OK &&
	     curl_url_set(u, CURLUPART_HOST, h, 0) == CURLUE_OK &&
	     curl_url_set(u, CURLUPART_PORT, p, 0) == CURLUE_OK &&
	     curl_url_set(u, CURLUPART_PATH, rest, 0) == CURLUE_OK &&
	     (q == NULL || curl_url_set(u, CURLUPART_QUERY, q + 1, 0) == CURLUE_OK);
	free(rest);
	if (!ok) {
		curl_url_cleanup(u);
		return NULL;
	}
	return u;
}

/* Free a header list, wiping it first: it may hold the token. */
static void headers_free(struct curl_slist *l)
{
	for (struct curl_slist *e = l; e != NULL; e = e->next)
		explicit_bzero(e->data, strlen(e->data));
	curl_slist_free_all(l);
}

/* token, if not NULL, goes only to a server whose socket is root's or
   owner's (local). */
static int get_once(const char *host, int port, int tls, int any_cert, const char *path,
		    const char *pin, const char *token, uid_t owner, int local, int64_t deadline,
		    size_t max, struct httpc_reply *out)
{
	struct xfer x = { .max = max, .local = local, .owner = owner };
	struct curl_slist *hdrs = NULL, *l;
	char auth[256];
	int64_t left = deadline - deadline_now_ms();
	long status = 0;
	CURLU *url = NULL;
	CURL *h = NULL;
	int r = -ENOMEM;

	if (left <= 0)
		return -ETIMEDOUT;
	if ((url = make_url(host, port, tls, path)) == NULL) {
		r = -EINVAL;
		goto out;
	}
	if ((h = curl_easy_init()) == NULL || (hdrs = curl_slist_append(NULL, "Accept: application/json")) == NULL)
		goto out;
	if (token != NULL) {
		if (snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token) >= (int)sizeof(auth)) {
			r = -ENAMETOOLONG;
			goto out;
		}
		l = curl_slist_append(hdrs, auth);
		explicit_bzero(auth, sizeof(auth));
		if (l == NULL)
			goto out;
		hdrs = l;
	}
	curl_easy_setopt(h, CURLOPT_CURLU, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, tls ? "https" : "http");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");	/* not the environment's */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);	/* threads: no SIGALRM */
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_head);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_connected);
	curl_easy_setopt(h, CURLOPT_PREREQDATA, &x);
	if (tls && (local || any_cert || pin != NULL)) {
		/* local: the socket's owner is the proof (httpc.h); a pinned
		   key is the trust of a self-signed certificate; any_cert: the
		   caller checks the answer itself. */
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (tls && pin != NULL && curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, pin) != CURLE_OK) {
		r = -EINVAL;
		goto out;
	}
	if ((r = from_curl(curl_easy_perform(h), h, &x)) != 0)
		goto out;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 100 || status > 999 || x.head == NULL) {
		r = -EBADMSG;
		goto out;
	}
	if (x.body == NULL && (x.body = calloc(1, 1)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	out->status = (int)status;
	out->head = x.head;
	out->body = x.body;
	out->len = x.bodylen;
	out->tls = tls;
	x.head = x.body = NULL;	/* the caller's */
	r = 0;
out:
	free(x.head);
	free(x.body);
	headers_free(hdrs);
	curl_easy_cleanup(h);
	curl_url_cleanup(url);
	return r;
}

static int get(const char *host, int port, int tls, const char *path, const char *pin,
	       const char *token, uid_t owner, int local, int timeout_ms, size_t max,
	       struct httpc_reply *out)
{
	int64_t deadline = deadline_now_ms() + timeout_ms;
	int any_cert = (tls & HTTPC_ANY_CERT) != 0, r;

	tls &= ~HTTPC_ANY_CERT;
	memset(out, 0, sizeof(*out));
	if ((r = httpc_init()) != 0)
		return r;
	/* A pinned key is meant for TLS: no plain answer may stand in. */
	if (pin != NULL)
		tls = HTTPC_TLS;
	r = get_once(host, port, tls == HTTPC_TLS, any_cert, path, pin, token, owner, local, deadline,
		     max, out);
	/* An HTTPS server drops a plain request without an HTTP answer. */
	if (tls == HTTPC_AUTO && (r == -EBADMSG || r == -ECONNRESET || r == -EPIPE))
		r = get_once(host, port, 1, any_cert, path, pin, token, owner, local, deadline, max,
			     out);
	return r;
}

int httpc_get(const char *host, int port, int tls, const char *path, const char *pin,
	      int timeout_ms, size_t max, struct httpc_reply *out)
{
	return get(host, port, tls, path, pin, NULL, 0, 0, timeout_ms, max, out);
}

int httpc_get_local(const char *host, int port, enum httpc_tls tls, const char *path,
		    const char *token, uid_t owner, int timeout_ms, size_t max,
		    struct httpc_reply *out)
{
	return get(host, port, tls, path, NULL, token, owner, 1, timeout_ms, max, out);
}

void httpc_reply_free(struct httpc_reply *r)
{
	free(r->head);
	free(r->body);
	r->head = r->body = NULL;
}

const char *httpc_header(const struct httpc_reply *r, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);

	for (const char *p = r->head ? strstr(r->head, "\r\n") : NULL; p != NULL;
	     p = strstr(p + 2, "\r\n")) {
		const char *v = p + 2, *e;

		if (strncasecmp(v, name, nl) != 0 || v[nl] != ':')
			continue;
		for (v += nl + 1; *v == ' ' || *v == '\t'; v++)
			;
		e = strstr(v, "\r\n");
		if (e == NULL || (size_t)(e - v) >= len)
			return NULL;
		memcpy(out, v, (size_t)(e - v));
		out[e - v] = '\0';
		return out;
	}
	return NULL;
}
