/*
 * Pulling from one member and applying what it sends (the sync thread's
 * work for each member it pulls from).
 */
#include "sync.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "deadline.h"
#include "hex.h"
#include "log.h"
#include "net.h"
#include "sync_int.h"

#define PULL_TIMEOUT_MS 60000
#define PULL_ROUNDS 64		/* answers in a row from one member before others get a turn */

/* Versions and claims of a member removed from the cluster are refused. */
static int is_removed(const uint8_t pk[DB_NODE_BYTES], void *ctx)
{
	struct sync *s = ctx;

	return net_removed(s->net, pk);
}

static void on_changed(const char *path, void *ctx)
{
	struct sync *s = ctx;

	if (s->changed != NULL)
		s->changed(path, s->ctx);
}

/* One question to pk, counted while it is in flight. */
static int pull_call(struct sync *s, const uint8_t *pk, const uint8_t *q, size_t qlen,
		     uint8_t **reply, size_t *rlen)
{
	int64_t t0 = deadline_now_ms();
	int slot = -1, r;

	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < 2 && slot < 0; i++)
		if (s->asked[i] == 0) {
			s->asked[slot = i] = t0;
			memcpy(s->asked_pk[i], pk, 32);
		}
	pthread_mutex_unlock(&s->lock);
	r = net_call(s->net, pk, NET_SYNC_PULL, q, qlen, RPC_IDEMPOTENT, PULL_TIMEOUT_MS, reply, rlen);
	pthread_mutex_lock(&s->lock);
	if (slot >= 0)
		s->asked[slot] = 0;
	s->st.timeouts += r == -ETIMEDOUT;
	if (r == 0)
		s->st.answer_bytes += *rlen;
	{
		struct speer *p = sync_speer_of(s, pk);

		if (p != NULL) {
			p->last_err = r;
			if (r == 0) {
				p->progress_at = deadline_now_ms();
				if (p->stalled)
					log_notice("sync: answers from %02x%02x%02x%02x come again", pk[0], pk[1],
						   pk[2], pk[3]);
				p->stalled = 0;
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
	log_debug("sync: a question to %02x%02x%02x%02x: %s after %lld ms, %zu bytes", pk[0], pk[1],
		  pk[2], pk[3], r == 0 ? "answered" : strerror(-r), (long long)(deadline_now_ms() - t0),
		  r == 0 ? *rlen : 0);
	return r;
}

/* A request on a thread of its own, so that the next answer comes while
   this one is checked and applied (the link stays busy: Tox's lossless
   channel slows down when it idles between answers). */
struct call {
	struct sync *s;
	struct net *net;
	uint8_t pk[32];
	uint8_t *q, *reply;
	size_t qlen, rlen;
	int r;
	pthread_t thread;
};

static void *call_main(void *arg)
{
	struct call *c = arg;

	c->r = pull_call(c->s, c->pk, c->q, c->qlen, &c->reply, &c->rlen);
	return NULL;
}

/* Start c (its q set); -errno if no thread could be made. */
static int call_start(struct call *c)
{
	return -pthread_create(&c->thread, NULL, call_main, c);
}

/* Wait for c; its reply is the caller's then. */
static void call_wait(struct call *c)
{
	pthread_join(c->thread, NULL);
	free(c->q);
	c->q = NULL;
}

/*
 * Answers taken in and checked but not applied yet.  An answer cut short
 * (the member has more) holds an origin's versions up to some point
 * without the later versions of paths that changed again after it: shown
 * alone, a later change (a pointer renamed into place) could show before
 * an earlier one it depends on (the files it names).  So the answers of
 * one catch-up are applied together, in one transaction, once the member
 * has nothing more; only a catch-up larger than STAGE_BYTES, longer than
 * STAGE_MS (a slow link: what came shows within seconds), or cut by a
 * failure, is applied in parts (progress before order then).
 */
#define STAGE_BYTES (16u << 20)
#define STAGE_MS 5000

struct stage {
	struct sync_batch *b;
	size_t n, cap, bytes;
	int64_t since;	/* when the first answer staged came (monotonic ms) */
	struct db_range *claims;	/* every staged answer's, in order */
	size_t nclaims, ccap;
};

/* Take b (it is emptied) into st: 0 or -ENOMEM (b left as it was). */
static int stage_add(struct stage *st, struct sync_batch *b, size_t bytes)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 8;
		struct sync_batch *v = realloc(st->b, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		st->b = v;
		st->cap = cap;
	}
	if (st->nclaims + b->nranges > st->ccap) {
		size_t cap = 2 * (st->nclaims + b->nranges);
		struct db_range *v = realloc(st->claims, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		st->claims = v;
		st->ccap = cap;
	}
	if (b->nranges > 0)
		memcpy(st->claims + st->nclaims, b->ranges, b->nranges * sizeof(*b->ranges));
	st->nclaims += b->nranges;
	if (st->n == 0)
		st->since = deadline_now_ms();
	st->b[st->n++] = *b;
	memset(b, 0, sizeof(*b));
	st->bytes += bytes;
	return 0;
}

static void stage_clear(struct stage *st)
{
	for (size_t i = 0; i < st->n; i++)
		sync_batch_clear(&st->b[i]);
	st->n = st->bytes = st->nclaims = 0;
}

static void stage_free(struct stage *st)
{
	stage_clear(st);
	free(st->b);
	free(st->claims);
}

/* Apply everything staged in one transaction: the number of paths
   changed, or -errno. */
static int stage_apply(struct sync *s, struct stage *st)
{
	struct db_rec *recs;
	size_t n = 0, k = 0;
	int applied;

	if (st->n == 0)
		return 0;
	for (size_t i = 0; i < st->n; i++)
		n += st->b[i].n;
	if ((recs = malloc((n ? n : 1) * sizeof(*recs))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < st->n; i++)
		for (size_t j = 0; j < st->b[i].n; j++)
			recs[k++] = st->b[i].recs[j];	/* borrowed: the batches own them */
	applied = db_apply(s->db, recs, n, st->claims, st->nclaims, on_changed, s);
	free(recs);
	stage_clear(st);
	pthread_mutex_lock(&s->lock);
	if (applied < 0) {
		s->st.rejected++;
	} else {
		s->st.pulls++;
		s->st.applied += (uint64_t)applied;
		s->st.last_pull = clock_wall_ms();
	}
	pthread_mutex_unlock(&s->lock);
	return applied;
}

/*
 * Pull from one member until it has nothing more (or PULL_ROUNDS): 0, or
 * -errno when it failed (asked again later).  While an answer is checked,
 * the question that follows it is already asked, as if everything taken
 * in so far were applied; if the catch-up stops, that next answer is
 * dropped.  Answers are applied together (struct stage).
 */
int sync_pull_from(struct sync *s, const uint8_t *pk)
{
	struct call next = { .s = s, .net = s->net };
	struct stage st = { 0 };
	int have_next = 0, r = 0, applied = 0, total = 0, done = 0;
	char hex[17];

	memcpy(next.pk, pk, 32);
	hex_encode(pk, 8, hex);
	for (int round = 0; round < PULL_ROUNDS; round++) {
		struct sync_batch b = { 0 };
		uint8_t *reply = NULL;
		size_t rlen = 0, nranges = 0;
		int more = 0;
		int64_t t0 = deadline_now_ms(), t1, t2;

		if (have_next) {
			call_wait(&next);
			have_next = 0;
			r = next.r;
			reply = next.reply;
			rlen = next.rlen;
			next.reply = NULL;
		} else {
			uint8_t *q = NULL;
			size_t qlen = 0;

			/* Asked from what is applied: nothing may be staged. */
			if ((applied = stage_apply(s, &st)) < 0)
				break;
			total += applied;
			r = sync_question(s->db, pk, &q, &qlen);
			if (r == 0)
				r = pull_call(s, pk, q, qlen, &reply, &rlen);
			free(q);
		}
		if (r != 0) {
			if (r != -EHOSTUNREACH && r != -ESHUTDOWN && r != -ENOSYS)
				log_info("sync: asking %s for changes failed: %s", hex, strerror(-r));
			pthread_mutex_lock(&s->lock);
			s->st.rejected += r != -EHOSTUNREACH && r != -ESHUTDOWN;
			pthread_mutex_unlock(&s->lock);
			break;
		}
		t1 = deadline_now_ms();
		r = sync_decode_reply(reply, rlen, &b);
		free(reply);
		if (r == 0 && (r = sync_check_claims(s->db, s->id->public_key, pk, &b, is_removed, s)) != 0)
			sync_batch_clear(&b);
		more = b.more;
		nranges = b.nranges;
		if (r == 0 && (r = stage_add(&st, &b, rlen)) != 0)
			sync_batch_clear(&b);
		/* The next question, asked while this answer is checked. */
		if (r == 0 && more && round + 1 < PULL_ROUNDS && st.bytes < STAGE_BYTES &&
		    deadline_now_ms() - st.since < STAGE_MS &&
		    sync_question_after(s->db, pk, st.claims, st.nclaims, &next.q, &next.qlen) == 0) {
			if (call_start(&next) == 0)
				have_next = 1;
			else
				free(next.q), next.q = NULL;
		}
		if (r == 0 && (r = sync_check_signatures(s->db, &st.b[st.n - 1])) != 0) {
			sync_batch_clear(&st.b[--st.n]);
			/* Its claims go with it: the rest is applied alone. */
			st.nclaims -= nranges;
		}
		t2 = deadline_now_ms();
		if (r != 0) {
			log_warn("sync: a malformed answer from %s was dropped: %s", hex, strerror(-r));
			pthread_mutex_lock(&s->lock);
			s->st.rejected++;
			pthread_mutex_unlock(&s->lock);
			break;
		}
		log_debug("sync: %s answered %zu bytes, %zu versions in %lld ms; checked in %lld ms",
			  hex, rlen, st.b[st.n - 1].n, (long long)(t1 - t0), (long long)(t2 - t1));
		if (!more) {
			done = 1;
			break;
		}
		/* Past STAGE_BYTES or STAGE_MS no next question was asked:
		   the next round applies what is staged before it asks. */
	}
	if (have_next) {
		/* Asked as if the answers so far had been applied: not taken. */
		call_wait(&next);
		free(next.reply);
	}
	/* What was taken in is applied, also when the catch-up stopped. */
	if (applied >= 0) {
		int64_t t = deadline_now_ms();

		applied = stage_apply(s, &st);
		total += applied > 0 ? applied : 0;
		log_debug("sync: the answers of %s applied in %lld ms", hex,
			  (long long)(deadline_now_ms() - t));
	}
	stage_free(&st);
	if (applied < 0) {
		log_error("sync: cannot apply the changes from %s: %s", hex, strerror(-applied));
		return applied;
	}
	/* News travel on: members not linked to that one hear it from us. */
	if (total > 0)
		net_notify(s->net, NULL, pk, NET_SYNC_NEWS, NULL, 0);
	if (done) {
		pthread_mutex_lock(&s->lock);
		{
			struct speer *p = sync_speer_of(s, pk);

			/* Unless news came meanwhile (want set again). */
			if (p != NULL && !p->want) {
				p->caught_up = 1;
				p->behind_since = 0;
			}
		}
		pthread_mutex_unlock(&s->lock);
	}
	if (r != 0 || done)
		return r;
	/* More remains: come back after the others had their turn. */
	pthread_mutex_lock(&s->lock);
	{
		struct speer *p = sync_speer_of(s, pk);

		if (p != NULL)
			p->want = 1;
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}
