#include "sync.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deadline.h"
#include "log.h"
#include "net.h"
#include "path.h"

#define PULL_TIMEOUT_MS 60000
#define PULL_ROUNDS 64		/* answers in a row from one member before others get a turn */
#define NEWS_GAP_MS 50		/* news of local changes go out at most this often */
#define WAIT_MS 250		/* how often the list of linked members is looked at */
#define PEERS_MAX 512
#define RETRY_MS 2000		/* a failed pull is tried again after this */

/* ---- encoding: little-endian, lengths before contents ---- */

/* The fixed part of an encoded record: no record is shorter. */
#define REC_MIN_BYTES (2 + 1 + 1 + 4 + 4 + 4 + 8 + 8 + 8 + 8 + DB_NODE_BYTES + 8 + 1 + 2 + 2)

struct buf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static void put(struct buf *b, const void *v, size_t n)
{
	if (b->err || n == 0)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *p;

		while (cap < b->len + n)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->err = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, v, n);
	b->len += n;
}

static void put_u(struct buf *b, uint64_t v, int bytes)
{
	uint8_t x[8];

	for (int i = 0; i < bytes; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	put(b, x, (size_t)bytes);
}

struct rd {
	const uint8_t *p;
	size_t left;
	int bad;
};

static uint64_t get_u(struct rd *r, int bytes)
{
	uint64_t v = 0;

	if (r->bad || r->left < (size_t)bytes) {
		r->bad = 1;
		return 0;
	}
	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | r->p[i];
	r->p += bytes;
	r->left -= (size_t)bytes;
	return v;
}

static const uint8_t *get_bytes(struct rd *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->bad || r->left < n) {
		r->bad = 1;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

int sync_encode_pull(const struct db_range *have, size_t n, uint8_t **out, size_t *len)
{
	struct buf b = { 0 };

	*out = NULL;
	*len = 0;
	if (n > SYNC_ORIGINS_MAX)
		return -E2BIG;
	put_u(&b, SYNC_VERSION, 1);
	put_u(&b, n, 2);
	for (size_t i = 0; i < n; i++) {
		put(&b, have[i].origin, DB_NODE_BYTES);
		put_u(&b, have[i].upto, 8);
	}
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

int sync_decode_pull(const uint8_t *buf, size_t len, struct db_range **have, size_t *n)
{
	struct rd r = { buf, len, 0 };
	size_t k;

	*have = NULL;
	*n = 0;
	if (get_u(&r, 1) != SYNC_VERSION)
		return -EPROTO;
	k = (size_t)get_u(&r, 2);
	if (r.bad || k > SYNC_ORIGINS_MAX || r.left != k * (DB_NODE_BYTES + 8))
		return -EBADMSG;
	if (k > 0 && (*have = calloc(k, sizeof(**have))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < k; i++) {
		memcpy((*have)[i].origin, get_bytes(&r, DB_NODE_BYTES), DB_NODE_BYTES);
		(*have)[i].upto = get_u(&r, 8);
	}
	*n = k;
	return 0;
}

static void put_rec(struct buf *b, const struct db_rec *r)
{
	const struct db_entry *e = &r->e;
	size_t plen = r->path ? strlen(r->path) : 0, tlen = e->target && !e->deleted ? strlen(e->target) : 0;

	put_u(b, plen, 2);
	put(b, r->path, plen);
	put_u(b, (uint64_t)e->kind, 1);
	put_u(b, e->deleted != 0, 1);
	put_u(b, e->mode & 07777, 4);
	put_u(b, e->uid, 4);
	put_u(b, e->gid, 4);
	put_u(b, e->deleted ? 0 : e->size, 8);
	put_u(b, (uint64_t)e->mtime_ns, 8);
	put_u(b, (uint64_t)e->ctime_ns, 8);
	put_u(b, e->hlc, 8);
	put(b, e->origin, DB_NODE_BYTES);
	put_u(b, e->seq, 8);
	int sha = e->has_sha && (!e->deleted || e->kind == DB_HOLDER);

	put_u(b, sha, 1);
	if (sha)
		put(b, e->sha256, DB_SHA_BYTES);
	put_u(b, tlen, 2);
	put(b, e->target, tlen);
	put_u(b, r->vv_len, 2);
	put(b, r->vv, r->vv_len);
}

/* Read and check one version.  0 or -EBADMSG. */
static int get_rec(struct rd *r, struct db_rec *out)
{
	struct db_entry *e = &out->e;
	size_t plen, tlen, vlen;
	const uint8_t *p, *t, *v, *o;
	int has_sha;

	memset(out, 0, sizeof(*out));
	plen = (size_t)get_u(r, 2);
	p = get_bytes(r, plen);
	e->kind = (int)get_u(r, 1);
	e->deleted = (int)get_u(r, 1);
	e->mode = (uint32_t)get_u(r, 4);
	e->uid = (uint32_t)get_u(r, 4);
	e->gid = (uint32_t)get_u(r, 4);
	e->size = get_u(r, 8);
	e->mtime_ns = (int64_t)get_u(r, 8);
	e->ctime_ns = (int64_t)get_u(r, 8);
	e->hlc = get_u(r, 8);
	o = get_bytes(r, DB_NODE_BYTES);
	e->seq = get_u(r, 8);
	has_sha = (int)get_u(r, 1);
	if (has_sha == 1 && (t = get_bytes(r, DB_SHA_BYTES)) != NULL) {
		memcpy(e->sha256, t, DB_SHA_BYTES);
		e->has_sha = 1;
	}
	tlen = (size_t)get_u(r, 2);
	t = get_bytes(r, tlen);
	vlen = (size_t)get_u(r, 2);
	v = get_bytes(r, vlen);
	if (r->bad || p == NULL || o == NULL || has_sha > 1 || e->deleted > 1)
		return -EBADMSG;
	memcpy(e->origin, o, DB_NODE_BYTES);
	if (e->kind == DB_HOLDER) {
		/* A holding: a content hash and a sequence number, nothing else. */
		if (plen != 0 || !e->has_sha || tlen != 0 || vlen != 0 || e->mode || e->uid ||
		    e->gid || e->size || e->mtime_ns || e->ctime_ns || e->hlc || e->seq == 0 ||
		    e->seq > INT64_MAX)
			goto bad;
		return 0;
	}
	/* The path: a tree path, no NUL, no "..", names of at most 255. */
	if (plen == 0 || plen >= PATH_TREE_MAX || memchr(p, 0, plen) != NULL ||
	    (out->path = strndup((const char *)p, plen)) == NULL || path_check(out->path) != 0)
		goto bad;
	if (e->kind != DB_FILE && e->kind != DB_DIR && e->kind != DB_LINK)
		goto bad;
	if (e->mode > 07777 || e->hlc == 0 || e->seq == 0 || e->seq > INT64_MAX ||
	    e->size > SYNC_SIZE_MAX || e->hlc > INT64_MAX)
		goto bad;
	if (strcmp(out->path, "/") == 0 && (e->kind != DB_DIR || e->deleted))
		goto bad;
	if (!e->deleted) {
		if (e->kind == DB_FILE && e->size > 0 && !e->has_sha)
			goto bad;
		if (e->kind != DB_FILE && e->has_sha)
			goto bad;
		if (e->kind == DB_LINK) {
			if (tlen == 0 || tlen >= PATH_TREE_MAX || memchr(t, 0, tlen) != NULL ||
			    (e->target = strndup((const char *)t, tlen)) == NULL)
				goto bad;
		} else if (tlen != 0) {
			goto bad;
		}
		if (e->kind == DB_DIR && e->size != 0)
			goto bad;
	} else if (tlen != 0 || e->has_sha || e->size != 0) {
		goto bad;
	}
	/* The version vector: sorted by node, each node once, and naming
	   this version itself. */
	if (vlen % DB_VV_ENTRY != 0 || vlen > DB_VV_BYTES)
		goto bad;
	for (size_t i = DB_VV_ENTRY; i < vlen; i += DB_VV_ENTRY)
		if (memcmp(v + i - DB_VV_ENTRY, v + i, DB_NODE_BYTES) >= 0)
			goto bad;
	if (vlen > 0)
		memcpy(out->vv, v, vlen);
	out->vv_len = vlen;
	{
		uint8_t self[DB_VV_ENTRY];

		memcpy(self, e->origin, DB_NODE_BYTES);
		for (int i = 0; i < 8; i++)
			self[DB_NODE_BYTES + i] = (uint8_t)(e->hlc >> (8 * i));
		if (!db_vv_covers(out->vv, out->vv_len, self, sizeof(self)))
			goto bad;
	}
	return 0;
bad:
	db_rec_clear(out);
	return -EBADMSG;
}

void sync_batch_clear(struct sync_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		db_rec_clear(&b->recs[i]);
	free(b->recs);
	free(b->ranges);
	memset(b, 0, sizeof(*b));
}

int sync_decode_reply(const uint8_t *buf, size_t len, struct sync_batch *b)
{
	struct rd r = { buf, len, 0 };
	size_t nranges, nrecs;
	int more, e = 0;

	memset(b, 0, sizeof(*b));
	if (get_u(&r, 1) != SYNC_VERSION)
		return -EPROTO;
	more = (int)get_u(&r, 1);
	nranges = (size_t)get_u(&r, 2);
	nrecs = (size_t)get_u(&r, 4);
	if (r.bad || more > 1 || nranges > SYNC_ORIGINS_MAX || nrecs > SYNC_RECS_MAX ||
	    r.left < nranges * (DB_NODE_BYTES + 8) + nrecs * REC_MIN_BYTES)
		return -EBADMSG;
	b->more = more;
	if ((nranges > 0 && (b->ranges = calloc(nranges, sizeof(*b->ranges))) == NULL) ||
	    (nrecs > 0 && (b->recs = calloc(nrecs, sizeof(*b->recs))) == NULL)) {
		sync_batch_clear(b);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nranges; i++) {
		memcpy(b->ranges[i].origin, get_bytes(&r, DB_NODE_BYTES), DB_NODE_BYTES);
		b->ranges[i].upto = get_u(&r, 8);
		if (b->ranges[i].upto > INT64_MAX)
			e = -EBADMSG;
	}
	b->nranges = nranges;
	for (size_t i = 0; i < nrecs && e == 0; i++) {
		if ((e = get_rec(&r, &b->recs[i])) == 0)
			b->n++;
	}
	if (e == 0 && (r.bad || r.left != 0))
		e = -EBADMSG;
	if (e != 0)
		sync_batch_clear(b);
	return e;
}

/* ---- answering ---- */

struct answer {
	struct buf b;
	size_t recs;
	uint64_t last;	/* seq of the last version put in */
	int full;
};

static int answer_rec(const struct db_rec *r, void *ctx)
{
	struct answer *a = ctx;

	put_rec(&a->b, r);
	a->recs++;
	a->last = r->e.seq;
	if (a->b.err)
		return a->b.err;
	if (a->b.len >= SYNC_REPLY_BUDGET || a->recs >= SYNC_RECS_MAX) {
		a->full = 1;
		return 1;
	}
	return 0;
}

struct seen_list {
	struct db_range *v;
	size_t n, cap;
};

static int seen_add(const uint8_t origin[DB_NODE_BYTES], uint64_t seq, void *ctx)
{
	struct seen_list *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct db_range *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	memcpy(l->v[l->n].origin, origin, DB_NODE_BYTES);
	l->v[l->n++].upto = seq;
	return 0;
}

int sync_answer(struct db *db, const uint8_t *question, size_t qlen, uint8_t **out, size_t *len)
{
	struct db_range *have = NULL;
	struct seen_list mine = { 0 };
	struct buf ranges = { 0 };
	struct answer a = { 0 };
	size_t nhave = 0, nranges = 0;
	int r;

	*out = NULL;
	*len = 0;
	if ((r = sync_decode_pull(question, qlen, &have, &nhave)) != 0)
		return r;
	if ((r = db_seen(db, seen_add, &mine)) != 0)
		goto out;
	for (size_t i = 0; i < mine.n && !a.full && nranges < SYNC_ORIGINS_MAX; i++) {
		uint64_t theirs = 0;

		for (size_t j = 0; j < nhave; j++)
			if (memcmp(have[j].origin, mine.v[i].origin, DB_NODE_BYTES) == 0)
				theirs = have[j].upto;
		if (mine.v[i].upto <= theirs)
			continue;
		a.last = 0;
		if ((r = db_changes(db, mine.v[i].origin, theirs, mine.v[i].upto,
				    SYNC_RECS_MAX - a.recs, answer_rec, &a)) != 0 || a.b.err)
			goto out;
		put(&ranges, mine.v[i].origin, DB_NODE_BYTES);
		put_u(&ranges, a.full ? a.last : mine.v[i].upto, 8);
		nranges++;
	}
	{
		struct buf b = { 0 };

		put_u(&b, SYNC_VERSION, 1);
		put_u(&b, a.full || nranges == SYNC_ORIGINS_MAX, 1);
		put_u(&b, nranges, 2);
		put_u(&b, a.recs, 4);
		put(&b, ranges.p, ranges.len);
		put(&b, a.b.p, a.b.len);
		if ((r = b.err | ranges.err) != 0) {
			free(b.p);
			goto out;
		}
		*out = b.p;
		*len = b.len;
	}
out:
	free(have);
	free(mine.v);
	free(ranges.p);
	free(a.b.p);
	return r;
}

/* ---- the thread ---- */

struct speer {
	uint8_t pk[32];
	int linked;
	int want;		/* pull soon */
	int64_t last;		/* last pull (monotonic ms) */
	int64_t retry_at;	/* after a failure, not before this (monotonic ms) */
};

struct sync {
	struct db *db;
	struct net *net;
	sync_changed_fn changed;
	void *ctx;
	pthread_t thread;
	pthread_mutex_t lock;	/* guards everything below */
	pthread_cond_t cond;
	int stop, local, started;
	struct speer peers[PEERS_MAX];
	size_t npeers;
	struct sync_stats st;
};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The entry for pk, made if missing (lock held); NULL if full. */
static struct speer *speer_of(struct sync *s, const uint8_t *pk)
{
	for (size_t i = 0; i < s->npeers; i++)
		if (memcmp(s->peers[i].pk, pk, 32) == 0)
			return &s->peers[i];
	if (s->npeers == PEERS_MAX)
		return NULL;
	memset(&s->peers[s->npeers], 0, sizeof(s->peers[0]));
	memcpy(s->peers[s->npeers].pk, pk, 32);
	return &s->peers[s->npeers++];
}

int sync_service(void *ctx, const uint8_t from[32], uint16_t method, int notice,
		 const uint8_t *body, size_t len, uint8_t **reply, size_t *reply_len)
{
	struct sync *s = ctx;
	int r;

	if (method == NET_SYNC_NEWS && notice) {
		struct speer *p;

		pthread_mutex_lock(&s->lock);
		if ((p = speer_of(s, from)) != NULL)
			p->want = 1;
		pthread_cond_signal(&s->cond);
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	if (method != NET_SYNC_PULL || notice)
		return -ENOSYS;
	r = sync_answer(s->db, body, len, reply, reply_len);
	pthread_mutex_lock(&s->lock);
	s->st.served += r == 0;
	pthread_mutex_unlock(&s->lock);
	return r;
}

static void on_changed(const char *path, void *ctx)
{
	struct sync *s = ctx;

	if (s->changed != NULL)
		s->changed(path, s->ctx);
}

/* Pull from one member until it has nothing more (or PULL_ROUNDS):
   0, or -errno when it failed (asked again later). */
static int pull_from(struct sync *s, const uint8_t *pk)
{
	char hex[17];

	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", pk[i]);
	for (int round = 0; round < PULL_ROUNDS; round++) {
		struct seen_list mine = { 0 };
		struct sync_batch b;
		uint8_t *q = NULL, *reply = NULL;
		size_t qlen = 0, rlen = 0;
		int r, applied, more;

		if ((r = db_seen(s->db, seen_add, &mine)) == 0)
			r = sync_encode_pull(mine.v, mine.n, &q, &qlen);
		free(mine.v);
		if (r == 0)
			r = net_call(s->net, pk, NET_SYNC_PULL, q, qlen, RPC_IDEMPOTENT,
				     PULL_TIMEOUT_MS, &reply, &rlen);
		free(q);
		if (r != 0) {
			if (r != -EHOSTUNREACH && r != -ESHUTDOWN && r != -ENOSYS)
				log_info("sync: asking %s for changes failed: %s", hex, strerror(-r));
			pthread_mutex_lock(&s->lock);
			s->st.rejected += r != -EHOSTUNREACH && r != -ESHUTDOWN;
			pthread_mutex_unlock(&s->lock);
			return r;
		}
		r = sync_decode_reply(reply, rlen, &b);
		free(reply);
		if (r != 0) {
			log_warn("sync: a malformed answer from %s was dropped: %s", hex, strerror(-r));
			pthread_mutex_lock(&s->lock);
			s->st.rejected++;
			pthread_mutex_unlock(&s->lock);
			return r;
		}
		applied = db_apply(s->db, b.recs, b.n, b.ranges, b.nranges, on_changed, s);
		more = b.more;
		sync_batch_clear(&b);
		pthread_mutex_lock(&s->lock);
		if (applied < 0) {
			s->st.rejected++;
		} else {
			s->st.pulls++;
			s->st.applied += (uint64_t)applied;
			s->st.last_pull = wall_ms();
		}
		pthread_mutex_unlock(&s->lock);
		if (applied < 0) {
			log_error("sync: cannot apply the changes from %s: %s", hex, strerror(-applied));
			return applied;
		}
		/* News travel on: members not linked to that one hear it from us. */
		if (applied > 0)
			net_notify(s->net, NULL, pk, NET_SYNC_NEWS, NULL, 0);
		if (!more)
			return 0;
	}
	/* More remains: come back after the others had their turn. */
	pthread_mutex_lock(&s->lock);
	{
		struct speer *p = speer_of(s, pk);

		if (p != NULL)
			p->want = 1;
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void *sync_main(void *arg)
{
	struct sync *s = arg;
	uint8_t (*linked)[32] = calloc(PEERS_MAX, 32);
	int64_t last_news = 0;

	if (linked == NULL) {
		log_error("sync: out of memory; not replicating");
		return NULL;
	}
	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		uint8_t todo[32];
		int have_todo = 0, news;
		size_t k;
		int64_t now = deadline_now_ms();

		news = s->local && now - last_news >= NEWS_GAP_MS;
		if (news)
			s->local = 0;
		pthread_mutex_unlock(&s->lock);
		if (news) {
			last_news = now;
			net_notify(s->net, NULL, NULL, NET_SYNC_NEWS, NULL, 0);
		}
		k = net_linked(s->net, linked, PEERS_MAX);
		if (k > PEERS_MAX)
			k = PEERS_MAX;
		pthread_mutex_lock(&s->lock);
		for (size_t i = 0; i < s->npeers; i++)
			s->peers[i].linked = 0;
		for (size_t i = 0; i < k; i++) {
			struct speer *p = speer_of(s, linked[i]);

			if (p == NULL)
				continue;
			if (!p->linked && p->last == 0)
				p->want = 1;	/* a new link: catch up */
			p->linked = 1;
			if (now - p->last >= SYNC_PERIOD_MS)
				p->want = 1;
		}
		for (size_t i = 0; i < s->npeers && !have_todo; i++) {
			struct speer *p = &s->peers[i];

			if (!p->linked) {
				p->last = 0;	/* pull again when it is back */
				continue;
			}
			if (p->want && now >= p->retry_at) {
				p->want = 0;
				p->last = now;
				memcpy(todo, p->pk, 32);
				have_todo = 1;
			}
		}
		if (have_todo) {
			int r;

			pthread_mutex_unlock(&s->lock);
			r = pull_from(s, todo);
			pthread_mutex_lock(&s->lock);
			if (r != 0) {
				struct speer *p = speer_of(s, todo);

				if (p != NULL) {
					p->want = 1;
					p->retry_at = deadline_now_ms() + RETRY_MS;
				}
			}
			continue;
		}
		if (!s->stop && !s->local) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += WAIT_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&s->cond, &s->lock, &ts);
		} else if (s->local) {
			/* News wait for the gap to pass. */
			pthread_mutex_unlock(&s->lock);
			poll(NULL, 0, NEWS_GAP_MS);
			pthread_mutex_lock(&s->lock);
		}
	}
	pthread_mutex_unlock(&s->lock);
	free(linked);
	return NULL;
}

int sync_start(struct db *db, struct net *net, sync_changed_fn changed, void *ctx,
	       struct sync **out)
{
	struct sync *s = calloc(1, sizeof(*s));
	sigset_t all, old;
	int r;

	*out = NULL;
	if (s == NULL)
		return -ENOMEM;
	s->db = db;
	s->net = net;
	s->changed = changed;
	s->ctx = ctx;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = -pthread_create(&s->thread, NULL, sync_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
		free(s);
		return r;
	}
	s->started = 1;
	net_set_service(net, sync_service, s);
	*out = s;
	return 0;
}

void sync_stop(struct sync *s)
{
	if (s == NULL)
		return;
	net_set_service(s->net, NULL, NULL);
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->started)
		pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

void sync_local(struct sync *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->local = 1;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void sync_get_stats(struct sync *s, struct sync_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}
