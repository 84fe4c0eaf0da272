#include "notify.h"

#define FUSE_USE_VERSION 314
#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "path.h"
#include "thread.h"

#define QUEUE_MAX 65536
#define WAIT_MS 1000

struct note {
	uint64_t ino;		/* the folder for an entry */
	int content;		/* -1: an entry */
	size_t len;
	char name[PATH_NAME_MAX + 1];
};

struct notify {
	struct fuse_session *se;
	pthread_mutex_t lock;	/* everything below; taken alone */
	pthread_cond_t cond;	/* a note queued, one done, or stop */
	struct note *q;		/* ring of QUEUE_MAX */
	size_t head, count;
	uint64_t queued, done, dropped;
	int stop, running;
	pthread_t thread;
};

static void send_note(struct fuse_session *se, const struct note *nt)
{
	int r;

	if (nt->content < 0) {
		/* Expired, not dropped (kernels since 6.2): the next lookup
		   checks it again, while a process whose working folder it is
		   keeps it (a dropped one makes getcwd fail). */
		r = fuse_lowlevel_notify_expire_entry(se, nt->ino, nt->name, nt->len,
						       FUSE_LL_EXPIRE_ONLY);
		if (r != 0 && r != -ENOENT)
			r = fuse_lowlevel_notify_inval_entry(se, nt->ino, nt->name, nt->len);
	} else
		r = fuse_lowlevel_notify_inval_inode(se, nt->ino, nt->content ? 0 : -1, 0);
	/* ENOENT: the kernel holds nothing of it, which is fine. */
	if (r != 0 && r != -ENOENT)
		log_debug("fuse: invalidation of %llu failed: %s", (unsigned long long)nt->ino,
			  strerror(-r));
}

static void *notify_main(void *arg)
{
	struct notify *nt = arg;
	struct note one;

	pthread_mutex_lock(&nt->lock);
	for (;;) {
		while (nt->count == 0 && !nt->stop)
			pthread_cond_wait(&nt->cond, &nt->lock);
		if (nt->stop)
			break;
		one = nt->q[nt->head];
		nt->head = (nt->head + 1) % QUEUE_MAX;
		nt->count--;
		pthread_mutex_unlock(&nt->lock);
		send_note(nt->se, &one);
		pthread_mutex_lock(&nt->lock);
		nt->done++;
		pthread_cond_broadcast(&nt->cond);
	}
	pthread_mutex_unlock(&nt->lock);
	return NULL;
}

int notify_new(struct fuse_session *se, struct notify **out)
{
	struct notify *nt = calloc(1, sizeof(*nt));
	int r;

	*out = NULL;
	if (nt == NULL || (nt->q = calloc(QUEUE_MAX, sizeof(*nt->q))) == NULL) {
		free(nt);
		return -ENOMEM;
	}
	nt->se = se;
	pthread_mutex_init(&nt->lock, NULL);
	pthread_cond_init(&nt->cond, NULL);
	if ((r = thread_spawn(&nt->thread, notify_main, nt)) != 0) {
		notify_free(nt);
		return r;
	}
	nt->running = 1;
	*out = nt;
	return 0;
}

int notify_free(struct notify *nt)
{
	if (nt == NULL)
		return 0;
	if (nt->running) {
		struct timespec until;

		pthread_mutex_lock(&nt->lock);
		nt->stop = 1;
		pthread_cond_broadcast(&nt->cond);
		pthread_mutex_unlock(&nt->lock);
		/* The thread may be in the kernel, waiting for a folder's lock
		   that a request the loop will never answer holds: only the
		   unmount that follows ends that wait.  It is left to end then,
		   and its queue with it (kept, not freed). */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 2;
		if (pthread_timedjoin_np(nt->thread, NULL, &until) != 0) {
			log_warn("fuse: the invalidation thread is held in the kernel; "
				 "it ends with the unmount");
			pthread_detach(nt->thread);
			return 1;
		}
	}
	if (nt->dropped)
		log_notice("fuse: %llu invalidations dropped (queue full)",
			   (unsigned long long)nt->dropped);
	pthread_cond_destroy(&nt->cond);
	pthread_mutex_destroy(&nt->lock);
	free(nt->q);
	free(nt);
	return 0;
}

static void queue(struct notify *nt, uint64_t ino, int content, const char *name, size_t len)
{
	struct note *slot;

	if (len > PATH_NAME_MAX)
		return;
	pthread_mutex_lock(&nt->lock);
	if (nt->count == QUEUE_MAX) {
		nt->head = (nt->head + 1) % QUEUE_MAX;
		nt->count--;
		nt->done++;
		if (nt->dropped++ == 0)
			log_warn("fuse: invalidation queue full, dropping the oldest");
	}
	slot = &nt->q[(nt->head + nt->count) % QUEUE_MAX];
	slot->ino = ino;
	slot->content = content;
	slot->len = len;
	memcpy(slot->name, name, len);
	slot->name[len] = '\0';
	nt->count++;
	nt->queued++;
	pthread_cond_broadcast(&nt->cond);
	pthread_mutex_unlock(&nt->lock);
}

void notify_entry(struct notify *nt, uint64_t parent, const char *name, size_t len)
{
	queue(nt, parent, -1, name, len);
}

void notify_inode(struct notify *nt, uint64_t ino, int content)
{
	queue(nt, ino, content ? 1 : 0, "", 0);
}

void notify_wait(struct notify *nt)
{
	struct timespec until;
	uint64_t target;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&nt->lock);
	target = nt->queued;
	while (nt->done < target && !nt->stop &&
	       pthread_cond_timedwait(&nt->cond, &nt->lock, &until) == 0)
		;
	pthread_mutex_unlock(&nt->lock);
}
