#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"
#include "log.h"
#include "node.h"

#define CTL_REQ_MAX 256
#define CTL_REPLY_MAX 65536

struct ctl {
	struct node *node;
	int fd;
	int stop_pipe[2];
	pthread_t thread;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

int ctl_socket_path(const char *data_dir, char *out, size_t outlen)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
	int n = snprintf(out, outlen, "%s/oand.sock", data_dir);

	if (n < 0 || (size_t)n >= outlen || (size_t)n >= max)
		return -ENAMETOOLONG;
	return 0;
}

static void answer(struct ctl *c, int fd)
{
	char req[CTL_REQ_MAX], *reply = NULL;
	size_t got = 0, len;
	int64_t deadline = deadline_now_ms() + 2000;
	struct node_status st;

	while (got < sizeof(req) - 1) {
		ssize_t n;

		if (deadline_wait_fd(fd, POLLIN, deadline) != 0)
			return;
		n = read(fd, req + got, sizeof(req) - 1 - got);
		if (n <= 0)
			return;
		got += (size_t)n;
		if (memchr(req, '\n', got) != NULL)
			break;
	}
	req[got] = '\0';
	req[strcspn(req, "\r\n")] = '\0';
	if ((reply = malloc(CTL_REPLY_MAX)) == NULL)
		return;
	if (strcmp(req, "status") == 0 || strcmp(req, "status text") == 0) {
		int text = req[6] != '\0';

		if (node_status(c->node, &st) != 0 ||
		    (text ? node_status_text(&st, reply, CTL_REPLY_MAX - 1)
			  : node_status_json(&st, reply, CTL_REPLY_MAX - 1)) != 0)
			snprintf(reply, CTL_REPLY_MAX, "{\"error\":\"status unavailable\"}");
	} else {
		snprintf(reply, CTL_REPLY_MAX, "{\"error\":\"unknown request\"}");
	}
	if (reply[strlen(reply) - 1] != '\n')
		strcat(reply, "\n");
	len = strlen(reply);
	for (size_t off = 0; off < len;) {
		ssize_t n;

		if (deadline_wait_fd(fd, POLLOUT, deadline) != 0)
			break;
		n = send(fd, reply + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(reply);
}

static void *ctl_main(void *arg)
{
	struct ctl *c = arg;
	struct pollfd p[2] = { { .fd = c->fd, .events = POLLIN },
			       { .fd = c->stop_pipe[0], .events = POLLIN } };

	for (;;) {
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("ctl: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		answer(c, fd);
		close(fd);
	}
	return NULL;
}

int ctl_start(struct node *n, const char *data_dir, struct ctl **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl *c;
	sigset_t all, old;
	int r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	c->node = n;
	c->fd = c->stop_pipe[0] = c->stop_pipe[1] = -1;
	if ((r = ctl_socket_path(data_dir, c->path, sizeof(c->path))) != 0)
		goto fail;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->path);
	/* The data dir is locked by this node: an old socket is stale. */
	unlink(c->path);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(c->fd, 16) != 0 ||
	    pipe2(c->stop_pipe, O_CLOEXEC) != 0) {
		r = -errno;
		goto fail;
	}
	/* Signals belong to the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = -pthread_create(&c->thread, NULL, ctl_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		goto fail;
	*out = c;
	return 0;
fail:
	if (c->fd >= 0) {
		close(c->fd);
		unlink(c->path);
	}
	if (c->stop_pipe[0] >= 0) {
		close(c->stop_pipe[0]);
		close(c->stop_pipe[1]);
	}
	free(c);
	return r;
}

void ctl_stop(struct ctl *c)
{
	if (c == NULL)
		return;
	if (write(c->stop_pipe[1], "x", 1) < 0)
		log_warn("ctl: cannot wake the control thread: %s", strerror(errno));
	pthread_join(c->thread, NULL);
	close(c->fd);
	unlink(c->path);
	close(c->stop_pipe[0]);
	close(c->stop_pipe[1]);
	free(c);
}

int ctl_request(const char *data_dir, const char *request, char *buf, size_t len, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = deadline_now_ms() + timeout_ms;
	size_t got = 0, rlen = strlen(request);
	int fd, r;

	if (len == 0)
		return -EINVAL;
	if ((r = ctl_socket_path(data_dir, sa.sun_path, sizeof(sa.sun_path))) != 0)
		return r;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	{
		/* connect() on a Unix socket waits while the backlog is full:
		   bound it like everything else. */
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		r = -errno;
		goto out;
	}
	if (send(fd, request, rlen, MSG_NOSIGNAL) != (ssize_t)rlen ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		r = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if ((r = deadline_wait_fd(fd, POLLIN, deadline)) != 0)
			goto out;
		n = read(fd, buf + got, len - 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (n == 0 || got + (size_t)n >= len - 1) {
			got += (size_t)(n > 0 ? n : 0);
			break;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	r = got > 0 ? 0 : -EPROTO;
out:
	close(fd);
	return r;
}
