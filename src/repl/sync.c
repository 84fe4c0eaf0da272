#include "sync.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deadline.h"
#include "log.h"
#include "thread.h"
#include "net.h"
#include "sync_int.h"
#include "syncwire.h"

#define NEWS_GAP_MS 50		/* news of local changes go out at most this often */
#define WAIT_MS 250		/* how often the list of linked members is looked at */
#define RETRY_MS 2000		/* a failed pull is tried again after this */

/* ---- the thread ---- */

/* p has (or may have) changes this node lacks (lock held). */
static void behind(struct speer *p, int64_t now)
{
	if (p->caught_up || p->behind_since == 0) {
		p->behind_since = now;
		p->progress_at = now;
	}
	p->caught_up = 0;
}

struct speer *sync_speer_of(struct sync *s, const uint8_t *pk)
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
		if ((p = sync_speer_of(s, from)) != NULL) {
			p->want = 1;
			behind(p, deadline_now_ms());
			uint64_t v;

			/* its own newest version (older nodes: none) */
			if (syncwire_decode_news(body, len, &v) == 0 && v > p->news_seq)
				p->news_seq = v;
		}
		pthread_cond_signal(&s->cond);
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	if (method != NET_SYNC_PULL || notice)
		return -ENOSYS;
	{
		int64_t t0 = deadline_now_ms();

		size_t budget = sync_budget(net_link_rate(s->net, from));

		r = sync_answer_within(s->db, s->id, body, len, budget, reply, reply_len);
		log_debug("sync: answered %02x%02x%02x%02x with %zu bytes (at most %zu) in %lld ms",
			  from[0], from[1], from[2], from[3], r == 0 ? *reply_len : 0, budget,
			  (long long)(deadline_now_ms() - t0));
	}
	pthread_mutex_lock(&s->lock);
	s->st.served += r == 0;
	pthread_mutex_unlock(&s->lock);
	return r;
}


struct seen_one {
	const uint8_t *origin;
	uint64_t seq;
};

static int seen_one(const uint8_t origin[DB_NODE_BYTES], uint64_t seq, void *ctx)
{
	struct seen_one *o = ctx;

	if (memcmp(origin, o->origin, DB_NODE_BYTES) == 0)
		o->seq = seq;
	return 0;
}

/* The newest version of origin this node holds complete (0 none). */
static uint64_t held_of(struct db *db, const uint8_t *origin)
{
	struct seen_one o = { .origin = origin };

	return db_seen(db, seen_one, &o) == 0 ? o.seq : 0;
}

/* News of this node's own changes: its newest version (u64 LE), so that
   members can tell how far behind it they are. */
static void send_news(struct sync *s)
{
	uint64_t v = held_of(s->db, s->id->public_key);
	uint8_t b[SYNCWIRE_NEWS_BYTES];

	syncwire_encode_news(v, b);
	net_notify(s->net, NULL, NULL, NET_SYNC_NEWS, b, sizeof(b));
}

/* A member this node is behind and hears no answer from for long: said
   once in the log (and in the status) until answers come again. */
static void check_stalls(struct sync *s, int64_t now)
{
	for (size_t i = 0; i < s->npeers; i++) {
		struct speer *p = &s->peers[i];

		if (!p->linked || p->caught_up || p->behind_since == 0 || p->stalled ||
		    now - p->progress_at < SYNC_STALL_MS)
			continue;
		p->stalled = 1;
		log_warn("sync: no answer from %02x%02x%02x%02x for %lld s while behind it%s%s",
			 p->pk[0], p->pk[1], p->pk[2], p->pk[3], (long long)((now - p->progress_at) / 1000),
			 p->last_err ? "; last question: " : "", p->last_err ? strerror(-p->last_err) : "");
	}
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
			send_news(s);
		}
		k = net_linked(s->net, linked, PEERS_MAX);
		if (k > PEERS_MAX)
			k = PEERS_MAX;
		pthread_mutex_lock(&s->lock);
		for (size_t i = 0; i < s->npeers; i++)
			s->peers[i].linked = 0;
		for (size_t i = 0; i < k; i++) {
			struct speer *p = sync_speer_of(s, linked[i]);

			if (p == NULL)
				continue;
			if (!p->linked && p->last == 0) {
				p->want = 1;	/* a new link: catch up */
				behind(p, now);
			}
			p->linked = 1;
			if (now - p->last >= SYNC_PERIOD_MS)
				p->want = 1;
		}
		check_stalls(s, now);
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
			r = sync_pull_from(s, todo);
			pthread_mutex_lock(&s->lock);
			if (r != 0) {
				struct speer *p = sync_speer_of(s, todo);

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

int sync_start(struct db *db, struct net *net, const struct ident *id, sync_changed_fn changed,
	       void *ctx, struct sync **out)
{
	struct sync *s = calloc(1, sizeof(*s));
	int r;

	*out = NULL;
	if (s == NULL)
		return -ENOMEM;
	s->db = db;
	s->net = net;
	s->id = id;
	s->changed = changed;
	s->ctx = ctx;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	r = thread_spawn(&s->thread, sync_main, s);
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

size_t sync_members(struct sync *s, struct sync_member *out, size_t max)
{
	int64_t now = deadline_now_ms();
	size_t k = 0;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->npeers && k < max; i++) {
		const struct speer *p = &s->peers[i];
		struct sync_member *o = &out[k++];

		memset(o, 0, sizeof(*o));
		memcpy(o->pk, p->pk, 32);
		o->linked = p->linked;
		o->caught_up = p->caught_up;
		o->news_seq = p->news_seq;
		o->behind_ms = p->behind_since ? now - p->behind_since : 0;
		o->since_answer_ms = p->progress_at ? now - p->progress_at : -1;
		o->stalled = p->stalled;
		o->last_err = p->last_err;
		for (int j = 0; j < 2; j++)
			if (s->asked[j] != 0 && memcmp(s->asked_pk[j], p->pk, 32) == 0) {
				o->pulls++;
				if (now - s->asked[j] > o->pull_age_ms)
					o->pull_age_ms = now - s->asked[j];
			}
	}
	pthread_mutex_unlock(&s->lock);
	/* How far behind: its newest told of, past what is held of it. */
	for (size_t i = 0; i < k; i++) {
		uint64_t held = out[i].news_seq ? held_of(s->db, out[i].pk) : 0;

		out[i].behind = out[i].news_seq > held ? out[i].news_seq - held : 0;
		if (out[i].caught_up)
			out[i].behind = 0;
	}
	return k;
}

void sync_get_stats(struct sync *s, struct sync_stats *st)
{
	int64_t now = deadline_now_ms();

	pthread_mutex_lock(&s->lock);
	*st = s->st;
	st->in_flight = 0;
	st->oldest_ms = 0;
	for (int i = 0; i < 2; i++)
		if (s->asked[i] != 0) {
			st->in_flight++;
			if (now - s->asked[i] > st->oldest_ms)
				st->oldest_ms = now - s->asked[i];
		}
	pthread_mutex_unlock(&s->lock);
}
