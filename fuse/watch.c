#include "watch.h"

#define FUSE_USE_VERSION 314
#include <linux/fs.h>
#include <errno.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"
#include "log.h"
#include "node.h"

/* More than libfuse's workers (16) can hold at once. */
#define SLOTS 64
#define SCAN_MS 1000

struct slot {
	uint64_t unique;	/* 0: free */
	uint32_t opcode;
	int warned;
	int64_t since;		/* monotonic ms */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct slot s[SLOTS];
	uint64_t requests, self_renames, untracked;
	int64_t stuck_ms;
	pthread_t thread;
	int running, stop;
} w = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static const char *op_name(uint32_t op)
{
	static const struct {
		uint32_t op;
		const char *name;
	} names[] = {
		{ FUSE_LOOKUP, "LOOKUP" }, { FUSE_GETATTR, "GETATTR" }, { FUSE_SETATTR, "SETATTR" },
		{ FUSE_READLINK, "READLINK" }, { FUSE_SYMLINK, "SYMLINK" }, { FUSE_MKNOD, "MKNOD" },
		{ FUSE_MKDIR, "MKDIR" }, { FUSE_UNLINK, "UNLINK" }, { FUSE_RMDIR, "RMDIR" },
		{ FUSE_RENAME, "RENAME" }, { FUSE_LINK, "LINK" }, { FUSE_OPEN, "OPEN" },
		{ FUSE_READ, "READ" }, { FUSE_WRITE, "WRITE" }, { FUSE_STATFS, "STATFS" },
		{ FUSE_RELEASE, "RELEASE" }, { FUSE_FSYNC, "FSYNC" }, { FUSE_SETXATTR, "SETXATTR" },
		{ FUSE_GETXATTR, "GETXATTR" }, { FUSE_LISTXATTR, "LISTXATTR" },
		{ FUSE_REMOVEXATTR, "REMOVEXATTR" }, { FUSE_FLUSH, "FLUSH" }, { FUSE_INIT, "INIT" },
		{ FUSE_OPENDIR, "OPENDIR" }, { FUSE_READDIR, "READDIR" },
		{ FUSE_RELEASEDIR, "RELEASEDIR" }, { FUSE_FSYNCDIR, "FSYNCDIR" },
		{ FUSE_GETLK, "GETLK" }, { FUSE_SETLK, "SETLK" }, { FUSE_SETLKW, "SETLKW" },
		{ FUSE_ACCESS, "ACCESS" }, { FUSE_CREATE, "CREATE" }, { FUSE_DESTROY, "DESTROY" },
		{ FUSE_IOCTL, "IOCTL" }, { FUSE_POLL, "POLL" }, { FUSE_FALLOCATE, "FALLOCATE" },
		{ FUSE_READDIRPLUS, "READDIRPLUS" }, { FUSE_RENAME2, "RENAME2" },
		{ FUSE_LSEEK, "LSEEK" }, { FUSE_COPY_FILE_RANGE, "COPY_FILE_RANGE" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].op == op)
			return names[i].name;
	return "OTHER";
}

/* Requests the kernel expects no answer to. */
static int no_answer(uint32_t op)
{
	return op == FUSE_FORGET || op == FUSE_BATCH_FORGET || op == FUSE_INTERRUPT ||
	       op == FUSE_NOTIFY_REPLY;
}

void watch_count_self_rename(void)
{
	pthread_mutex_lock(&w.lock);
	w.self_renames++;
	pthread_mutex_unlock(&w.lock);
}

static void track(const struct fuse_in_header *h)
{
	int64_t now = deadline_now_ms();

	pthread_mutex_lock(&w.lock);
	w.requests++;
	if (!no_answer(h->opcode)) {
		size_t i;

		for (i = 0; i < SLOTS && w.s[i].unique != 0; i++)
			;
		if (i < SLOTS)
			w.s[i] = (struct slot){ .unique = h->unique, .opcode = h->opcode, .since = now };
		else
			w.untracked++;
	}
	pthread_mutex_unlock(&w.lock);
}

static void untrack(uint64_t unique)
{
	if (unique == 0)	/* a notification */
		return;
	pthread_mutex_lock(&w.lock);
	for (size_t i = 0; i < SLOTS; i++)
		if (w.s[i].unique == unique) {
			if (w.s[i].warned)
				log_notice("fuse: the %s request that waited is answered after %lld ms",
					   op_name(w.s[i].opcode),
					   (long long)(deadline_now_ms() - w.s[i].since));
			w.s[i].unique = 0;
			break;
		}
	pthread_mutex_unlock(&w.lock);
}

static ssize_t watch_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t r = read(fd, buf, len);

	(void)userdata;
	if (r >= (ssize_t)sizeof(struct fuse_in_header))
		track(buf);	/* errors and short reads: libfuse's to judge */
	return r;
}

static ssize_t watch_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	ssize_t r;
	int saved;

	(void)userdata;
	r = writev(fd, iov, count);
	saved = errno;	/* libfuse reads it after a failure (ENOENT: interrupted) */
	if (count > 0 && iov[0].iov_len >= sizeof(struct fuse_out_header)) {
		struct fuse_out_header out;

		memcpy(&out, iov[0].iov_base, sizeof(out));
		untrack(out.unique);
	}
	errno = saved;
	return r;
}

static void *watch_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&w.lock);
	while (!w.stop) {
		struct timespec until;
		int64_t now = deadline_now_ms();

		for (size_t i = 0; i < SLOTS; i++) {
			struct slot *s = &w.s[i];

			if (s->unique != 0 && !s->warned && now - s->since >= w.stuck_ms) {
				s->warned = 1;
				log_warn("fuse: a %s request has waited %lld s for an answer",
					 op_name(s->opcode), (long long)((now - s->since) / 1000));
			}
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += SCAN_MS / 1000;
		pthread_cond_timedwait(&w.cond, &w.lock, &until);
	}
	pthread_mutex_unlock(&w.lock);
	return NULL;
}

int watch_attach(struct fuse_session *se, int64_t stuck_ms)
{
	static const struct fuse_custom_io io = { .read = watch_read, .writev = watch_writev };
	int r;

	if ((r = fuse_session_custom_io(se, &io, fuse_session_fd(se))) != 0)
		return r < 0 ? r : -EIO;
	pthread_mutex_lock(&w.lock);
	w.stuck_ms = stuck_ms;
	w.stop = 0;
	if (!w.running && pthread_create(&w.thread, NULL, watch_main, NULL) == 0)
		w.running = 1;
	pthread_mutex_unlock(&w.lock);
	return 0;
}

void watch_detach(void)
{
	int running;

	pthread_mutex_lock(&w.lock);
	running = w.running;
	w.stop = 1;
	w.running = 0;
	pthread_cond_broadcast(&w.cond);
	pthread_mutex_unlock(&w.lock);
	if (running)
		pthread_join(w.thread, NULL);
}

void watch_get(struct node_mount_stats *st, void *ctx)
{
	int64_t now = deadline_now_ms();

	(void)ctx;
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&w.lock);
	for (size_t i = 0; i < SLOTS; i++) {
		const struct slot *s = &w.s[i];

		if (s->unique == 0)
			continue;
		st->in_flight++;
		if (now - s->since >= w.stuck_ms)
			st->stuck++;
		if (st->in_flight == 1 || now - s->since > st->oldest_ms) {
			st->oldest_ms = now - s->since;
			snprintf(st->oldest_op, sizeof(st->oldest_op), "%s", op_name(s->opcode));
		}
	}
	st->requests = w.requests;
	st->self_renames = w.self_renames;
	pthread_mutex_unlock(&w.lock);
}
