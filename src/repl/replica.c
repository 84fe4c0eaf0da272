#include "replica.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "db.h"
#include "hex.h"
#include "log.h"
#include "thread.h"
#include "net.h"
#include "xfer.h"

#define LINKED_MAX 256

struct replica {
	struct db *db;
	struct xfer *xfer;
	struct net *net;
	uint8_t self[32];
	int replicas;
	char *data_dir;
	uint64_t reserve;
	pthread_t thread;
	pthread_mutex_t lock;	/* guards stop, poked */
	pthread_cond_t cond;
	int stop, poked;
	/* one pass: the members online (the same set on every node, as far
	   as the node lists agree) */
	uint8_t (*linked)[32];
	size_t nlinked;
	uint64_t fetched;
	uint8_t cursor[32];	/* the last content looked at */
	int has_cursor;
};

uint64_t replica_rank(const uint8_t sha[32], const uint8_t node[32])
{
	uint8_t in[64], out[8];
	uint64_t v = 0;

	memcpy(in, sha, 32);
	memcpy(in + 32, node, 32);
	crypto_generichash(out, sizeof(out), in, sizeof(in), NULL, 0);
	for (int i = 0; i < 8; i++)
		v = v << 8 | out[i];
	return v;
}

struct held {
	uint8_t (*v)[32];
	size_t n, max;
};

static int add_node(const uint8_t node[DB_NODE_BYTES], void *ctx)
{
	struct held *h = ctx;

	if (h->n < h->max)
		memcpy(h->v[h->n++], node, 32);
	return 0;
}

static int in_set(uint8_t (*v)[32], size_t n, const uint8_t *k)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(v[i], k, 32) == 0)
			return 1;
	return 0;
}

static int room_for(struct replica *r, uint64_t size)
{
	struct statvfs sv;

	return statvfs(r->data_dir, &sv) == 0 &&
	       (uint64_t)sv.f_bavail * sv.f_frsize >= size + r->reserve;
}

static int stopping(struct replica *r)
{
	int s;

	pthread_mutex_lock(&r->lock);
	s = r->stop;
	pthread_mutex_unlock(&r->lock);
	return s;
}

/* One content with too few holders: fetch it here if this node is among
   the first of the ranking of those that could take it. */
static int consider(const uint8_t sha[DB_SHA_BYTES], uint64_t size, void *ctx)
{
	struct replica *r = ctx;
	uint8_t holders[64][32];
	struct held h = { holders, 0, 64 };
	size_t online = 0, ahead = 0;
	uint64_t mine;
	int need, e;

	if (stopping(r))
		return 1;
	memcpy(r->cursor, sha, 32);
	if (db_holders(r->db, sha, add_node, &h) != 0 || in_set(holders, h.n, r->self))
		return 0;
	for (size_t i = 0; i < h.n; i++)
		online += in_set(r->linked, r->nlinked, holders[i]);
	need = r->replicas - (int)online;
	if (need <= 0 || online == 0)	/* enough, or nobody to copy from */
		return 0;
	mine = replica_rank(sha, r->self);
	for (size_t i = 0; i < r->nlinked; i++)
		if (!in_set(holders, h.n, r->linked[i]) && replica_rank(sha, r->linked[i]) < mine)
			ahead++;
	if ((int)ahead >= need || !room_for(r, size))
		return 0;
	{
		char hex[17];

		hex_encode(sha, 8, hex);
		log_info("replica: taking a copy of %s (%zu of %d copies online)", hex, online,
			 r->replicas);
		if ((e = xfer_fetch(r->xfer, sha, size)) != 0)
			log_info("replica: copy of %s failed: %s", hex, strerror(-e));
		else
			r->fetched++;
	}
	return 0;
}

static void *replica_main(void *arg)
{
	struct replica *r = arg;

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += REPLICA_PERIOD_MS / 1000;
		while (!r->stop && !r->poked)
			if (pthread_cond_timedwait(&r->cond, &r->lock, &until) == ETIMEDOUT)
				break;
		r->poked = 0;
		if (r->stop)
			break;
		pthread_mutex_unlock(&r->lock);
		r->nlinked = net_online(r->net, r->linked, LINKED_MAX);
		if (r->nlinked > LINKED_MAX)
			r->nlinked = LINKED_MAX;
		if (r->nlinked > 0) {
			/* A batch at a time, going on from the last one, so
			   contents skipped for now cannot hide the others. */
			int k = db_underheld(r->db, r->replicas, r->has_cursor ? r->cursor : NULL,
					     REPLICA_BATCH, consider, r);

			r->has_cursor = k == REPLICA_BATCH;
			if (r->has_cursor) {
				pthread_mutex_lock(&r->lock);
				r->poked = 1;	/* the next batch at once */
				pthread_mutex_unlock(&r->lock);
			}
		}
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int replica_start(struct db *db, struct xfer *x, struct net *net, const uint8_t self[32],
		  int replicas, const char *data_dir, uint64_t reserve, struct replica **out)
{
	struct replica *r = calloc(1, sizeof(*r));
	int e;

	*out = NULL;
	if (r == NULL || (r->data_dir = strdup(data_dir)) == NULL ||
	    (r->linked = calloc(LINKED_MAX, 32)) == NULL) {
		if (r != NULL) {
			free(r->data_dir);
			free(r);
		}
		return -ENOMEM;
	}
	r->db = db;
	r->xfer = x;
	r->net = net;
	memcpy(r->self, self, 32);
	r->replicas = replicas;
	r->reserve = reserve;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	e = thread_spawn(&r->thread, replica_main, r);
	if (e != 0) {
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->cond);
		free(r->linked);
		free(r->data_dir);
		free(r);
		return e;
	}
	*out = r;
	return 0;
}

void replica_stop(struct replica *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r->linked);
	free(r->data_dir);
	free(r);
}

void replica_poke(struct replica *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->poked = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}
