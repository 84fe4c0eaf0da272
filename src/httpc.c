#include "httpc.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

static int get_once(const char *host, int port, int tls, const char *path, int64_t deadline,
		    size_t max, struct httpc_reply *out)
{
	struct conn k = { .fd = -1, .deadline = deadline };
	char req[1024], *buf = NULL;
	size_t got = 0, body;
	int n, r;

	if ((k.fd = dial_host(host, port, deadline)) < 0)
		return k.fd;
	if (tls && (r = tls_open(&k, host)) != 0)
		goto out;
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\nAccept: application/json\r\n\r\n",
		     path, host);
	if (n < 0 || n >= (int)sizeof(req)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	if ((r = conn_send(&k, req, (size_t)n)) != 0)
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

int httpc_get(const char *host, int port, enum httpc_tls tls, const char *path, int timeout_ms,
	      size_t max, struct httpc_reply *out)
{
	int64_t deadline = deadline_now_ms() + timeout_ms;
	int r;

	memset(out, 0, sizeof(*out));
	r = get_once(host, port, tls == HTTPC_TLS, path, deadline, max, out);
	/* An HTTPS server drops a plain request without an HTTP answer. */
	if (tls == HTTPC_AUTO && (r == -EBADMSG || r == -ECONNRESET || r == -EPIPE))
		r = get_once(host, port, 1, path, deadline, max, out);
	return r;
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
