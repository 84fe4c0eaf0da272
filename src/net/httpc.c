#include "httpc.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "deadline.h"
#include "httparse.h"

/* Connect to one address before the deadline. */
static int dial(const struct addrinfo *a, int64_t deadline)
{
	int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
	int err = 0, r;
	socklen_t el = sizeof(err);

	if (fd < 0)
		return -errno;
	if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
		r = -errno;
		goto fail;
	}
	if ((r = deadline_wait_fd(fd, POLLOUT, deadline)) != 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
		r = -(err ? err : errno);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

static int dial_host(const char *host, int port, int64_t deadline)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *a;
	char portstr[16];
	int fd = -EHOSTUNREACH;

	snprintf(portstr, sizeof(portstr), "%d", port);
	if (getaddrinfo(host, portstr, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (a = res; a != NULL; a = a->ai_next)
		if ((fd = dial(a, deadline)) >= 0)
			break;
	freeaddrinfo(res);
	return fd;
}

/* An address as IPv6 (IPv4 as v4-mapped) and its port. */
static int sa_to_in6(const struct sockaddr_storage *ss, struct in6_addr *a, unsigned *port)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)ss;

		*a = s6->sin6_addr;
		*port = ntohs(s6->sin6_port);
		return 0;
	}
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)ss;

		a->s6_addr[10] = a->s6_addr[11] = 0xff;
		memcpy(&a->s6_addr[12], &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
		return 0;
	}
	return -EAFNOSUPPORT;
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

static int unspecified(const struct in6_addr *a)
{
	static const uint8_t v4any[16] = { [10] = 0xff, [11] = 0xff };

	return IN6_IS_ADDR_UNSPECIFIED(a) || memcmp(a->s6_addr, v4any, 16) == 0;
}

/*
 * Does the server fd is connected to listen with a socket of root or of
 * uid?  Every listening socket that could have taken the connection (on
 * its address or on every address, at its port) must be one of theirs;
 * the kernel lets no other user share a port with them (SO_REUSEPORT
 * wants one uid).  0 or -EPERM.
 */
static int server_owner_ok(int fd, uid_t uid)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct in6_addr peer;
	unsigned port, found = 0, bad = 0;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0 || sa_to_in6(&ss, &peer, &port) != 0)
		return -EPERM;
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
			if (memcmp(&a, &peer, sizeof(a)) != 0 && !unspecified(&a))
				continue;
			found++;
			if (owner != 0 && owner != (unsigned)uid)
				bad++;
		}
		fclose(f);
	}
	return found > 0 && bad == 0 ? 0 : -EPERM;
}

/* One connection's byte stream, plain or TLS; non-blocking underneath. */
struct conn {
	int fd;
	gnutls_session_t tls;
	gnutls_certificate_credentials_t cred;
	int64_t deadline;
};

static int tls_wait(struct conn *k)
{
	return deadline_wait_fd(k->fd, gnutls_record_get_direction(k->tls) ? POLLOUT : POLLIN,
				k->deadline);
}

static int tls_open(struct conn *k, const char *host)
{
	int r;

	if (gnutls_certificate_allocate_credentials(&k->cred) != GNUTLS_E_SUCCESS)
		return -ENOMEM;
	if (gnutls_init(&k->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK) != GNUTLS_E_SUCCESS) {
		k->tls = NULL;
		return -ENOMEM;
	}
	if (gnutls_set_default_priority(k->tls) != GNUTLS_E_SUCCESS ||
	    gnutls_credentials_set(k->tls, GNUTLS_CRD_CERTIFICATE, k->cred) != GNUTLS_E_SUCCESS)
		return -EPROTO;
	gnutls_server_name_set(k->tls, GNUTLS_NAME_DNS, host, strlen(host));
	gnutls_transport_set_int(k->tls, k->fd);
	while ((r = gnutls_handshake(k->tls)) != GNUTLS_E_SUCCESS) {
		int w;

		if (gnutls_error_is_fatal(r))
			return -EPROTO;
		if ((w = tls_wait(k)) != 0)
			return w;
	}
	return 0;
}

static void conn_close(struct conn *k)
{
	if (k->tls != NULL)
		gnutls_deinit(k->tls);
	if (k->cred != NULL)
		gnutls_certificate_free_credentials(k->cred);
	if (k->fd >= 0)
		close(k->fd);
}

static int conn_send(struct conn *k, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n;
		int w;

		if (k->tls != NULL) {
			n = gnutls_record_send(k->tls, buf, len);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
				if ((w = tls_wait(k)) != 0)
					return w;
				continue;
			}
			if (n < 0)
				return -EPROTO;
		} else {
			n = send(k->fd, buf, len, MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				if ((w = deadline_wait_fd(k->fd, POLLOUT, k->deadline)) != 0)
					return w;
				continue;
			}
			if (n < 0)
				return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Bytes read, 0 at the end, or -errno. */
static ssize_t conn_recv(struct conn *k, char *buf, size_t len)
{
	for (;;) {
		ssize_t n;
		int w;

		if (k->tls != NULL) {
			n = gnutls_record_recv(k->tls, buf, len);
			if (n >= 0)
				return n;
			if (n == GNUTLS_E_PREMATURE_TERMINATION)
				return 0;	/* servers that close without notify */
			if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
				return -EPROTO;
			if ((w = tls_wait(k)) != 0)
				return w;
			continue;
		}
		n = recv(k->fd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		if ((w = deadline_wait_fd(k->fd, POLLIN, k->deadline)) != 0)
			return w;
	}
}

/* token, if not NULL, goes only to a server whose socket is root's or
   owner's. */
static int get_once(const char *host, int port, int tls, const char *path, const char *token,
		    uid_t owner, int64_t deadline, size_t max, struct httpc_reply *out)
{
	struct conn k = { .fd = -1, .deadline = deadline };
	char req[1024], *buf = NULL;
	size_t got = 0, body;
	int n, r, v6 = strchr(host, ':') != NULL;

	if ((k.fd = dial_host(host, port, deadline)) < 0)
		return k.fd;
	if (token != NULL && (r = server_owner_ok(k.fd, owner)) != 0)
		goto out;
	if (tls && (r = tls_open(&k, host)) != 0)
		goto out;
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.0\r\nHost: %s%s%s\r\nAccept: application/json\r\n%s%s%s\r\n",
		     path, v6 ? "[" : "", host, v6 ? "]" : "", token ? "Authorization: Bearer " : "",
		     token ? token : "", token ? "\r\n" : "");
	if (n < 0 || n >= (int)sizeof(req)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	r = conn_send(&k, req, (size_t)n);
	explicit_bzero(req, sizeof(req));
	if (r != 0)
		goto out;
	if ((buf = malloc(max + 1)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t c = conn_recv(&k, buf + got, max - got);

		if (c < 0) {
			r = (int)c;
			goto out;
		}
		if (c == 0)
			break;
		got += (size_t)c;
		if (got == max) {
			r = -EBADMSG;	/* more than the caller takes */
			goto out;
		}
	}
	buf[got] = '\0';
	if ((r = http_parse_reply(buf, got, &out->status, &body)) != 0)
		goto out;
	out->len = got - body;
	if ((out->head = strndup(buf, body)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	memmove(buf, buf + body, out->len + 1);
	out->body = buf;
	out->tls = tls;
	buf = NULL;
	r = 0;
out:
	free(buf);
	conn_close(&k);
	return r;
}

static int get(const char *host, int port, enum httpc_tls tls, const char *path,
	       const char *token, uid_t owner, int timeout_ms, size_t max, struct httpc_reply *out)
{
	int64_t deadline = deadline_now_ms() + timeout_ms;
	int r;

	memset(out, 0, sizeof(*out));
	r = get_once(host, port, tls == HTTPC_TLS, path, token, owner, deadline, max, out);
	/* An HTTPS server drops a plain request without an HTTP answer. */
	if (tls == HTTPC_AUTO && (r == -EBADMSG || r == -ECONNRESET || r == -EPIPE))
		r = get_once(host, port, 1, path, token, owner, deadline, max, out);
	return r;
}

int httpc_get(const char *host, int port, enum httpc_tls tls, const char *path, int timeout_ms,
	      size_t max, struct httpc_reply *out)
{
	return get(host, port, tls, path, NULL, 0, timeout_ms, max, out);
}

int httpc_get_local(const char *host, int port, enum httpc_tls tls, const char *path,
		    const char *token, uid_t owner, int timeout_ms, size_t max,
		    struct httpc_reply *out)
{
	return get(host, port, tls, path, token, owner, timeout_ms, max, out);
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
