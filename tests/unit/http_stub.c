#include "http_stub.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct http_stub {
	int fd, port;
	const char *reply;
	pthread_t thread;
	pthread_mutex_t lock;	/* guards stop, requests, last */
	int stop, requests;
	char last[4096];
};

static int stopping(struct http_stub *s)
{
	int stop;

	pthread_mutex_lock(&s->lock);
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

/* Read one request's head (up to 100 ms of quiet at a time). */
static void read_head(struct http_stub *s, int c, char *buf, size_t len)
{
	size_t got = 0;

	while (got + 1 < len && !stopping(s)) {
		struct pollfd p = { .fd = c, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		if ((n = recv(c, buf + got, len - 1 - got, 0)) <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			break;
	}
	buf[got] = '\0';
}

static void *serve(void *arg)
{
	struct http_stub *s = arg;

	while (!stopping(s)) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		char req[4096];
		int c;

		if (poll(&p, 1, 100) <= 0 || (c = accept(s->fd, NULL, NULL)) < 0)
			continue;
		read_head(s, c, req, sizeof(req));
		pthread_mutex_lock(&s->lock);
		s->requests++;
		snprintf(s->last, sizeof(s->last), "%s", req);
		pthread_mutex_unlock(&s->lock);
		if (s->reply != NULL) {
			if (send(c, s->reply, strlen(s->reply), MSG_NOSIGNAL) < 0)
				perror("http_stub: send");
		} else {
			while (!stopping(s))
				poll(NULL, 0, 50);
		}
		close(c);
	}
	return NULL;
}

int http_stub_start(const char *reply, struct http_stub **out)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	struct http_stub *s = calloc(1, sizeof(*s));
	int r;

	*out = NULL;
	if (s == NULL)
		return -ENOMEM;
	s->reply = reply;
	pthread_mutex_init(&s->lock, NULL);
	if ((s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s->fd, 16) != 0 ||
	    getsockname(s->fd, (struct sockaddr *)&a, &al) != 0) {
		r = -errno;
		goto fail;
	}
	s->port = ntohs(a.sin_port);
	if ((r = -pthread_create(&s->thread, NULL, serve, s)) != 0)
		goto fail;
	*out = s;
	return 0;
fail:
	if (s->fd >= 0)
		close(s->fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return r;
}

int http_stub_port(const struct http_stub *s)
{
	return s->port;
}

int http_stub_requests(struct http_stub *s, char *last, size_t len)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->requests;
	if (last != NULL)
		snprintf(last, len, "%s", s->last);
	pthread_mutex_unlock(&s->lock);
	return n;
}

void http_stub_stop(struct http_stub *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	close(s->fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
