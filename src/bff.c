#include "bff.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"
#include "hex.h"

int bff_parse(const char *body, size_t len, struct bff_info *out)
{
	json_t *j, *v;
	const char *name;
	json_error_t e;
	json_int_t port;
	int r = -EBADMSG;

	memset(out, 0, sizeof(*out));
	if (len > BFF_REPLY_MAX)
		return -EBADMSG;
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
	if (j == NULL || !json_is_object(j))
		goto out;
	if (hex_decode(json_string_value(json_object_get(j, "tox_id")), out->tox_id, sizeof(out->tox_id)) ||
	    hex_decode(json_string_value(json_object_get(j, "dht_key")), out->dht_key, sizeof(out->dht_key)))
		goto out;
	v = json_object_get(j, "udp_port");
	if (!json_is_integer(v) || (port = json_integer_value(v)) < 1 || port > 65535)
		goto out;
	out->udp_port = (int)port;
	name = json_string_value(json_object_get(j, "name"));
	if (name != NULL) {
		if (strlen(name) >= sizeof(out->name))
			goto out;
		snprintf(out->name, sizeof(out->name), "%s", name);
	}
	r = 0;
out:
	json_decref(j);
	return r;
}

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

int bff_fetch(const char *host, int port, int timeout_ms, struct bff_info *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *a;
	int64_t deadline = deadline_now_ms() + timeout_ms;
	char portstr[16], req[512], *buf = NULL, *body;
	size_t got = 0;
	int fd = -EHOSTUNREACH, r, n;

	memset(out, 0, sizeof(*out));
	snprintf(portstr, sizeof(portstr), "%d", port);
	if (getaddrinfo(host, portstr, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (a = res; a != NULL; a = a->ai_next)
		if ((fd = dial(a, deadline)) >= 0)
			break;
	freeaddrinfo(res);
	if (fd < 0)
		return fd;
	n = snprintf(req, sizeof(req), "GET /v1/bootstrap HTTP/1.0\r\nHost: %s\r\nAccept: application/json\r\n\r\n",
		     host);
	if (n < 0 || n >= (int)sizeof(req) || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		r = -EIO;
		goto out;
	}
	if ((buf = malloc(BFF_REPLY_MAX + 1)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t k;

		if ((r = deadline_wait_fd(fd, POLLIN, deadline)) != 0)
			goto out;
		k = read(fd, buf + got, BFF_REPLY_MAX - got);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0) {
			r = -errno;
			goto out;
		}
		if (k == 0)
			break;
		got += (size_t)k;
		if (got == BFF_REPLY_MAX) {
			r = -EBADMSG;	/* far more than a bootstrap reply */
			goto out;
		}
	}
	buf[got] = '\0';
	r = -EBADMSG;
	if (strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 8, " 200", 4) != 0)
		goto out;
	if ((body = strstr(buf, "\r\n\r\n")) == NULL)
		goto out;
	body += 4;
	r = bff_parse(body, got - (size_t)(body - buf), out);
out:
	free(buf);
	close(fd);
	return r;
}
