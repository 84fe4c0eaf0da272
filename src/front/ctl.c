#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"
#include "log.h"
#include "thread.h"
#include "node.h"
#include "status.h"

#define CTL_REQ_MAX 256
#define CTL_REPLY_MAX 65536
#define CTL_CONNS 8

struct ctl {
	struct node *node;
	int fd;
	int stop_pipe[2];
	pthread_t thread;
	pthread_mutex_t lock;	/* guards active */
	pthread_cond_t idle;
	int active;		/* connections being answered */
	uid_t uid;		/* the node's user: it and root may ask */
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

/* An echo round trip measured on a member: `oand ping`. */
static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static char *do_ping(struct node *nd, const char *args)
{
	char who[200], *out = malloc(1024);
	unsigned long long size = 0, count = 1;
	uint8_t pk[NODE_ID_BYTES], *body = NULL;
	int64_t *rtt = NULL;
	size_t ok = 0, bad = 0;
	int last_err = 0, r;

	if (out == NULL)
		return NULL;
	if (sscanf(args, "%199s %llu %llu", who, &size, &count) != 3 || count == 0 ||
	    count > 100000 || size > NODE_ECHO_MAX) {
		snprintf(out, 1024, "{\"error\":\"usage: ping ID SIZE COUNT (SIZE at most %u)\"}",
			 NODE_ECHO_MAX);
		return out;
	}
	if ((r = node_peer_lookup(nd, who, pk)) != 0) {
		snprintf(out, 1024, "{\"error\":\"%s\"}",
			 r == -ENOTCONN ? "standalone node (no cluster-key)"
			 : r == -EEXIST ? "more than one node matches" : "no such node");
		return out;
	}
	if ((body = malloc(size ? size : 1)) == NULL || (rtt = calloc(count, sizeof(*rtt))) == NULL) {
		free(body);
		snprintf(out, 1024, "{\"error\":\"out of memory\"}");
		return out;
	}
	randombytes_buf(body, size);
	for (unsigned long long i = 0; i < count; i++) {
		uint8_t *reply;
		size_t rlen;
		int64_t t0 = deadline_now_us();

		/* 30 s, plus time for a big body at a slow 256 KiB/s. */
		r = node_echo(nd, pk, body, size, 30000 + (int)(size / 256), &reply, &rlen);
		if (r == 0 && (rlen != size || (size && memcmp(reply, body, size) != 0)))
			r = -EBADMSG;	/* not the same bytes */
		free(reply);
		if (r != 0) {
			bad++;
			last_err = r;
			continue;
		}
		rtt[ok++] = deadline_now_us() - t0;
	}
	qsort(rtt, ok, sizeof(*rtt), cmp_i64);
	if (ok > 0) {
		double med = (double)rtt[ok / 2] / 1000, p99 = (double)rtt[(ok * 99) / 100] / 1000;

		snprintf(out, 1024,
			 "{\"size\":%llu,\"count\":%llu,\"ok\":%zu,\"failed\":%zu,\"error\":%s%s%s,"
			 "\"rtt_ms\":{\"min\":%.3f,\"median\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
			 "\"mib_s\":%.2f}",
			 size, count, ok, bad, last_err ? "\"" : "",
			 last_err ? strerror(-last_err) : "null", last_err ? "\"" : "",
			 (double)rtt[0] / 1000, med, p99, (double)rtt[ok - 1] / 1000,
			 med > 0 ? (double)size / (1 << 20) / (med / 1000) : 0.0);
	} else {
		snprintf(out, 1024, "{\"size\":%llu,\"count\":%llu,\"ok\":0,\"failed\":%zu,"
			 "\"error\":\"%s\"}", size, count, bad, strerror(-last_err));
	}
	free(body);
	free(rtt);
	return out;
}

/* The reply to "nodes VERB NODE": {"<done>":true} or the error. */
static void node_verb(char *reply, int r, const char *done, const char *self)
{
	if (r == 0)
		snprintf(reply, CTL_REPLY_MAX, "{\"%s\":true}", done);
	else
		snprintf(reply, CTL_REPLY_MAX, "{\"error\":\"%s\"}",
			 r == -ENOENT ? "no such node" : r == -EEXIST ? "more than one node matches"
			 : r == -EINVAL ? self
			 : r == -EPERM ? "that node was removed from the cluster"
			 : r == -ENOTCONN ? "standalone node (no cluster-key)" : strerror(-r));
}

/* The status, as JSON or as text for people (owned by the caller). */
static char *status_reply(struct node *n, int text)
{
	json_t *st = node_status_get(n);
	char *out = NULL;

	if (st != NULL && text && status_text(st, &out) != 0)
		out = NULL;
	else if (st != NULL && !text)
		out = json_dumps(st, STATUS_JSON_FLAGS);
	json_decref(st);
	return out != NULL ? out : strdup("{\"error\":\"status unavailable\"}");
}

/* The reply to one request line (owned by the caller), or NULL. */
static char *reply_to(struct ctl *c, const char *req)
{
	char *reply;

	if (strncmp(req, "ping ", 5) == 0)
		return do_ping(c->node, req + 5);
	if (strcmp(req, "nodes") == 0 || strcmp(req, "nodes text") == 0) {
		if (node_peers(c->node, req[5] == '\0', &reply) != -ENOTCONN)
			return reply;
		return strdup("{\"error\":\"standalone node (no cluster-key)\"}");
	}
	if (strcmp(req, "status") == 0 || strcmp(req, "status text") == 0)
		return status_reply(c->node, req[6] != '\0');
	if ((reply = malloc(CTL_REPLY_MAX)) == NULL)
		return NULL;
	if (strncmp(req, "nodes remove ", 13) == 0) {
		node_verb(reply, node_peer_remove(c->node, req + 13), "removed",
			  "this node cannot remove itself");
	} else if (strncmp(req, "nodes reconnect ", 16) == 0) {
		node_verb(reply, node_peer_reconnect(c->node, req + 16),
			  "reconnecting", "this node has no link to itself");
	} else {
		snprintf(reply, CTL_REPLY_MAX, "{\"error\":\"unknown request\"}");
	}
	return reply;
}

/* Is the caller root or the node's own user?  What the socket gives
   (removing a node, the status a token guards over HTTP) is theirs
   alone, even if the data dir's modes were opened up. */
static int caller_allowed(const struct ctl *c, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 || len != sizeof(cr))
		return 0;
	if (cr.uid == 0 || cr.uid == c->uid)
		return 1;
	log_notice("ctl: refused a request from uid %u (pid %d)", (unsigned)cr.uid, (int)cr.pid);
	return 0;
}

static void answer(struct ctl *c, int fd)
{
	char req[CTL_REQ_MAX], *reply;
	size_t got = 0, len;
	int64_t deadline = deadline_now_ms() + 2000;

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
	/* Read before the refusal: a request left unread would reset the
	   connection, and the caller would not hear why. */
	if (!caller_allowed(c, fd))
		reply = strdup("{\"error\":\"not allowed: the node answers root and its own user only\"}");
	else
		reply = reply_to(c, req);
	if (reply == NULL)
		return;
	len = strlen(reply);
	/* The client waits as long as it chose; a reader that stops reading
	   holds this thread 10 s at most. */
	deadline = deadline_now_ms() + 10000;
	for (size_t off = 0; off <= len;) {
		ssize_t n;

		if (deadline_wait_fd(fd, POLLOUT, deadline) != 0)
			break;
		if (off == len) {
			if (len == 0 || reply[len - 1] != '\n')
				n = send(fd, "\n", 1, MSG_NOSIGNAL);
			break;
		}
		n = send(fd, reply + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(reply);
}

struct conn {
	struct ctl *c;
	int fd;
};

static void *conn_main(void *arg)
{
	struct conn *k = arg;
	struct ctl *c = k->c;

	answer(c, k->fd);
	close(k->fd);
	free(k);
	pthread_mutex_lock(&c->lock);
	c->active--;
	pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static void *ctl_main(void *arg)
{
	struct ctl *c = arg;
	struct pollfd p[2] = { { .fd = c->fd, .events = POLLIN },
			       { .fd = c->stop_pipe[0], .events = POLLIN } };

	for (;;) {
		struct conn *k;
		pthread_t t;
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
		/* A slow request (a ping) does not hold up `oand status`:
		   each connection has its own thread, CTL_CONNS at most. */
		pthread_mutex_lock(&c->lock);
		while (c->active >= CTL_CONNS)
			pthread_cond_wait(&c->idle, &c->lock);
		c->active++;
		pthread_mutex_unlock(&c->lock);
		if ((k = malloc(sizeof(*k))) != NULL) {
			k->c = c;
			k->fd = fd;
			if (pthread_create(&t, NULL, conn_main, k) == 0) {
				pthread_detach(t);
				continue;
			}
			free(k);
		}
		answer(c, fd);
		close(fd);
		pthread_mutex_lock(&c->lock);
		c->active--;
		pthread_mutex_unlock(&c->lock);
	}
	return NULL;
}

int ctl_start(struct node *n, const char *data_dir, struct ctl **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl *c;
	int r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	c->node = n;
	c->uid = geteuid();
	c->fd = c->stop_pipe[0] = c->stop_pipe[1] = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->idle, NULL);
	if ((r = ctl_socket_path(data_dir, c->path, sizeof(c->path))) != 0)
		goto fail;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->path);
	/* The data dir is locked by this node: an old socket is stale. */
	unlink(c->path);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(c->path, 0600) != 0 || listen(c->fd, 16) != 0 ||
	    pipe2(c->stop_pipe, O_CLOEXEC) != 0) {
		r = -errno;
		goto fail;
	}
	/* Signals belong to the main thread. */
	r = thread_spawn(&c->thread, ctl_main, c);
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
	/* Wait for the connections being answered: they use the node. */
	pthread_mutex_lock(&c->lock);
	while (c->active > 0)
		pthread_cond_wait(&c->idle, &c->lock);
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->idle);
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
