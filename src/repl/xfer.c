#include "xfer.h"
#include "xfer_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "deadline.h"
#include "hex.h"
#include "log.h"
#include "net.h"
#include "sha256.h"
#include "store.h"


struct xfer *xfer_new(struct store *st, struct db *db, const uint8_t self[32], int64_t timeout_ms)
{
	struct xfer *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return NULL;
	x->store = st;
	x->db = db;
	memcpy(x->self, self, 32);
	x->timeout_ms = timeout_ms;
	/* Fault injection for the tests of a holder that lies. */
	if ((x->corrupt = getenv("OAND_TEST_CORRUPT_SENDS") != NULL))
		log_warn("xfer: OAND_TEST_CORRUPT_SENDS is set: this node sends wrong bytes");
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->cond, NULL);
	return x;
}

void xfer_attach(struct xfer *x, const struct xfer_net *net)
{
	pthread_mutex_lock(&x->lock);
	x->net = *net;
	x->attached = 1;
	pthread_mutex_unlock(&x->lock);
}

static void job_close(struct job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
}

void xfer_detach(struct xfer *x)
{
	pthread_mutex_lock(&x->lock);
	x->attached = 0;
	for (struct job *j = x->jobs; j != NULL; j = j->next) {
		job_close(j);
		if (j->state != J_DONE && j->state != J_CHECKING) {
			j->state = J_FAILED;
			j->result = -ESHUTDOWN;
		}
	}
	while (x->sends != NULL) {
		struct send *s = x->sends;

		x->sends = s->next;
		close(s->fd);
		free(s);
	}
	x->nsends = 0;
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->lock);
}

void xfer_free(struct xfer *x)
{
	if (x == NULL)
		return;
	xfer_detach(x);
	pthread_mutex_lock(&x->lock);
	x->closing = 1;
	while (x->jobs != NULL) {
		struct job *j = x->jobs;

		if (j->waiters > 0) {
			pthread_cond_broadcast(&x->cond);
			pthread_cond_wait(&x->cond, &x->lock);
			continue;
		}
		x->jobs = j->next;
		job_close(j);
		free(j);
	}
	pthread_mutex_unlock(&x->lock);
	pthread_mutex_destroy(&x->lock);
	pthread_cond_destroy(&x->cond);
	free(x);
}

static struct job *job_find(struct xfer *x, const uint8_t *sha)
{
	for (struct job *j = x->jobs; j != NULL; j = j->next)
		if (memcmp(j->sha, sha, 32) == 0)
			return j;
	return NULL;
}

static void job_unlink(struct xfer *x, struct job *j)
{
	for (struct job **p = &x->jobs; *p != NULL; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			return;
		}
}

static int in_list(uint8_t (*v)[32], int n, const uint8_t *pk)
{
	for (int i = 0; i < n; i++)
		if (memcmp(v[i], pk, 32) == 0)
			return 1;
	return 0;
}

/* Hash the first have bytes of the partial of sha into h; if they cannot
   be read, or there are more than size, the partial goes (-EIO). */
static int hash_partial(struct xfer *x, const uint8_t *sha, uint64_t have, uint64_t size,
			struct sha256 *h)
{
	uint8_t *buf = NULL;
	uint64_t off = 0, disk;
	int fd = -1, r = -EIO;

	if (have > size || store_partial_open(x->store, sha, &fd, &disk) != 0 || disk != have ||
	    (buf = malloc(1 << 20)) == NULL)
		goto out;
	sha256_init(h);
	while (off < have) {
		ssize_t n = pread(fd, buf, have - off < (1 << 20) ? (size_t)(have - off) : 1 << 20,
				  (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		sha256_update(h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	r = 0;
out:
	if (r != 0)
		store_partial_drop(x->store, sha);
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

/*
 * Before a new fetch asks anyone (x->lock held; dropped meanwhile): its
 * bytes still missing, with those of every other fetch under way, must fit
 * on the data dir's disk above the reserve, or it fails at once with
 * -ENOSPC and nothing is written.  So a member that names a huge size
 * cannot fill the disk with bytes that only the final check would refuse.
 */
static int job_prep(struct xfer *x, struct job *j)
{
	uint64_t others = 0, have = 0, need;
	struct sha256 h;
	char hex[17];
	int r;

	for (struct job *o = x->jobs; o != NULL; o = o->next)
		if (o != j && o->state != J_DONE && o->state != J_FAILED && o->size > o->have)
			others += o->size - o->have;
	pthread_mutex_unlock(&x->lock);
	if ((r = store_partial_size(x->store, j->sha, &have)) == 0) {
		need = have < j->size ? j->size - have : j->size;
		if (others > UINT64_MAX - need || (r = store_space_for(x->store, need + others)) != 0) {
			r = -ENOSPC;
			log_warn("xfer: %s (%llu bytes) does not fit on the data dir's disk: not fetched",
				 short_hex(j->sha, hex), (unsigned long long)j->size);
		}
	}
	/* Bytes kept from before are hashed now, so the check of the whole
	   is done when the last byte arrives. */
	if (r == 0 && have > 0 && hash_partial(x, j->sha, have, j->size, &h) != 0)
		have = 0;
	if (r == 0 && have == 0)
		sha256_init(&h);
	pthread_mutex_lock(&x->lock);
	if (r == 0) {
		j->hash = h;
		j->have = have;
		j->nspans = 0;
		if (have > 0)	/* from whom, this run cannot tell */
			j->spans[j->nspans++] = (struct xfer_span){ { 0 }, 0, have };
	}
	return r;
}

int xfer_fetch(struct xfer *x, const uint8_t sha[32], uint64_t size)
{
	struct job *j;
	int r;

	pthread_mutex_lock(&x->lock);
	if (!x->attached || x->closing) {
		pthread_mutex_unlock(&x->lock);
		return -EIO;	/* no member to fetch it from */
	}
	if ((j = job_find(x, sha)) == NULL || j->state == J_FAILED || j->state == J_DONE) {
		if (j != NULL && j->waiters == 0) {
			job_unlink(x, j);
			free(j);
			j = NULL;
		}
		if (j == NULL || j->waiters > 0) {
			if ((j = calloc(1, sizeof(*j))) == NULL) {
				pthread_mutex_unlock(&x->lock);
				return -ENOMEM;
			}
			memcpy(j->sha, sha, 32);
			j->next = x->jobs;
			x->jobs = j;
		}
		j->size = size;
		j->fd = -1;
		j->state = J_PREP;
		j->result = 0;
		j->progress = j->since = deadline_now_ms();
		j->ntried = 0;
		j->waiters++;
		r = job_prep(x, j);
		j->waiters--;
		if (j->state == J_PREP) {	/* not failed meanwhile (shutdown) */
			j->state = r ? J_FAILED : J_WAIT;
			j->result = r;
			if (r == 0)
				x->net.wake(x->net.ctx);
			pthread_cond_broadcast(&x->cond);
		}
	}
	j->waiters++;
	for (;;) {
		if (j->state == J_CHECK) {
			/* Checked as it came: this reader stores it (fsync and
			   rename, not for the net thread). */
			j->state = J_CHECKING;
			pthread_mutex_unlock(&x->lock);
			r = store_partial_done(x->store, sha);
			pthread_mutex_lock(&x->lock);
			j->state = r == 0 ? J_DONE : J_FAILED;
			j->result = r;
			pthread_cond_broadcast(&x->cond);
			continue;
		}
		if (j->state == J_DONE || j->state == J_FAILED)
			break;
		if (!x->attached || x->closing) {	/* nobody will move it on */
			j->state = J_FAILED;
			j->result = -ESHUTDOWN;
			break;
		}
		pthread_cond_wait(&x->cond, &x->lock);
	}
	r = j->state == J_DONE ? 0 : j->result ? j->result : -EIO;
	if (--j->waiters == 0 && (x->closing || j->state == J_DONE || j->state == J_FAILED)) {
		job_unlink(x, j);
		job_close(j);
		free(j);
		pthread_cond_broadcast(&x->cond);
	}
	pthread_mutex_unlock(&x->lock);
	if (r == 0)
		db_holder_add(x->db, sha, x->self);
	return r;
}

size_t xfer_list(struct xfer *x, struct xfer_info *out, size_t max)
{
	size_t k = 0;

	int64_t now = deadline_now_ms();

	pthread_mutex_lock(&x->lock);
	/* Every fetch a reader waits for, with a holder or not (yet). */
	for (struct job *j = x->jobs; j != NULL; j = j->next) {
		if (j->state == J_DONE || j->state == J_FAILED || j->waiters == 0)
			continue;
		if (k < max) {
			memset(&out[k], 0, sizeof(out[k]));
			memcpy(out[k].sha, j->sha, 32);
			if (j->state == J_RECV || j->state == J_ASKED)
				memcpy(out[k].peer, j->holder, 32);
			out[k].sending = 0;
			out[k].waiting = j->state == J_PREP || j->state == J_WAIT;
			out[k].readers = j->waiters;
			out[k].waited_ms = now - j->since;
			out[k].done = j->have;
			out[k].size = j->size;
			out[k].rate = j->state == J_RECV ? j->rate : 0;
		}
		k++;
	}
	for (struct send *s = x->sends; s != NULL; s = s->next) {
		if (k < max) {
			memset(&out[k], 0, sizeof(out[k]));
			memcpy(out[k].sha, s->sha, 32);
			memcpy(out[k].peer, s->peer, 32);
			out[k].sending = 1;
			out[k].done = s->done;
			out[k].size = s->size;
			out[k].rate = s->rate;
		}
		k++;
	}
	pthread_mutex_unlock(&x->lock);
	return k;
}

int xfer_progress(struct xfer *x, const uint8_t sha[32], uint64_t *done)
{
	struct job *j;
	int pct = -1;

	pthread_mutex_lock(&x->lock);
	if ((j = job_find(x, sha)) != NULL && j->state != J_DONE && j->state != J_FAILED) {
		*done = j->have;
		pct = j->size ? (int)(j->have * 100 / j->size) : 100;
	}
	pthread_mutex_unlock(&x->lock);
	return pct;
}

/* ---- the net thread ---- */

static void update_rate(double *rate, uint64_t *bytes0, int64_t *t0, uint64_t now_bytes, int64_t now)
{
	if (*t0 == 0) {
		*t0 = now;
		*bytes0 = now_bytes;
		return;
	}
	if (now - *t0 >= 1000) {
		*rate = (double)(now_bytes - *bytes0) * 1000.0 / (double)(now - *t0);
		*t0 = now;
		*bytes0 = now_bytes;
	}
}

/* Back to looking for a holder; the bytes received so far stay. */
static void job_requeue(struct xfer *x, Tox *tox, struct job *j, int cancel)
{
	if (cancel && tox != NULL && j->state == J_RECV)
		tox_file_control(tox, j->friend, j->file, TOX_FILE_CONTROL_CANCEL, NULL);
	job_close(j);
	if (j->ntried < TRIED_MAX && !in_list(j->tried, j->ntried, j->holder))
		memcpy(j->tried[j->ntried++], j->holder, 32);
	j->state = J_WAIT;
	(void)x;
}

static void job_fail(struct xfer *x, Tox *tox, struct job *j, int err)
{
	if (tox != NULL && j->state == J_RECV)
		tox_file_control(tox, j->friend, j->file, TOX_FILE_CONTROL_CANCEL, NULL);
	job_close(j);
	j->state = J_FAILED;
	j->result = err;
	pthread_cond_broadcast(&x->cond);
}

/* No byte received yet. */
static void job_reset(struct job *j)
{
	j->have = 0;
	j->nspans = 0;
	sha256_init(&j->hash);
}

/* The holder of bytes of unknown origin. */
static const uint8_t unknown[32];

int xfer_blame(const struct xfer_span *s, size_t n, uint64_t size, uint8_t who[32])
{
	const uint8_t *one = NULL;
	uint64_t at = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i].from == s[i].to)	/* asked, but sent nothing */
			continue;
		if (s[i].from != at || s[i].to < s[i].from ||
		    memcmp(s[i].holder, unknown, 32) == 0 ||
		    (one != NULL && memcmp(one, s[i].holder, 32) != 0))
			return 0;
		one = s[i].holder;
		at = s[i].to;
	}
	if (one == NULL || at != size)
		return 0;
	memcpy(who, one, 32);
	return 1;
}

/* Did pk supply any byte of j's partial? */
static int job_supplied(const struct job *j, const uint8_t *pk)
{
	for (int i = 0; i < j->nspans; i++)
		if (j->spans[i].to > j->spans[i].from && memcmp(j->spans[i].holder, pk, 32) == 0)
			return 1;
	return 0;
}

/* Did pk alone supply every byte of j's partial? */
static int job_alone(const struct job *j, const uint8_t *pk)
{
	uint8_t who[32];

	return xfer_blame(j->spans, (size_t)j->nspans, j->have, who) && memcmp(who, pk, 32) == 0;
}

/* pk supplies the bytes from j->have on. */
static void job_span_start(struct job *j, const uint8_t *pk)
{
	struct xfer_span *last = j->nspans > 0 ? &j->spans[j->nspans - 1] : NULL;

	if (last != NULL && last->to == j->have && memcmp(last->holder, pk, 32) == 0)
		return;		/* the same holder again */
	if (j->nspans == SPANS_MAX) {
		/* Too many to tell apart: the rest counts as of unknown
		   origin, which blames no one. */
		memcpy(last->holder, unknown, 32);
		return;
	}
	j->spans[j->nspans++] = (struct xfer_span){ { 0 }, j->have, j->have };
	memcpy(j->spans[j->nspans - 1].holder, pk, 32);
}

/* "a1b2c3d4 0-1048576, unknown 1048576-..." for the log. */
static void spans_text(const struct job *j, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; i < j->nspans && used < len; i++) {
		const struct xfer_span *s = &j->spans[i];
		char hex[17];
		int n;

		if (s->from == s->to)
			continue;
		n = snprintf(out + used, len - used, "%s%s %llu-%llu", used ? ", " : "",
			     memcmp(s->holder, unknown, 32) ? short_hex(s->holder, hex) : "unknown",
			     (unsigned long long)s->from, (unsigned long long)s->to);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* The partial goes: the next holder starts from zero. */
static void job_restart(struct xfer *x, struct job *j)
{
	job_close(j);
	store_partial_drop(x->store, j->sha);
	job_reset(j);
}

/* A holder proved dishonest: not asked for this content again. */
static void job_blame(struct job *j, const uint8_t *pk)
{
	if (j->nbad < BAD_MAX && !in_list(j->bad, j->nbad, pk))
		memcpy(j->bad[j->nbad++], pk, 32);
}

static void job_ask(struct xfer *x, struct job *j, int64_t now);

/*
 * Every byte is here and hashed (lock held): the content is what its
 * name says, and a reader stores it, or it is not, and the partial goes.
 * Then the holder that supplied all of it is not asked again; if several
 * did (or some bytes were kept from before), the wrong ones cannot be
 * told, so no one is blamed and one holder alone starts again from zero.
 */
static void job_finish(struct xfer *x, struct job *j)
{
	struct sha256 h = j->hash;
	uint8_t got[32], who[32];
	char hex[17], sha[17], from[256];

	job_close(j);
	sha256_final(&h, got);
	if (memcmp(got, j->sha, 32) == 0) {
		j->state = J_CHECK;
		pthread_cond_broadcast(&x->cond);
		return;
	}
	if (xfer_blame(j->spans, (size_t)j->nspans, j->size, who)) {
		log_error("xfer: %s sent wrong bytes for %s; not asked for them again",
			  short_hex(who, hex), short_hex(j->sha, sha));
		job_blame(j, who);
	} else {
		spans_text(j, from, sizeof(from));
		log_warn("xfer: %s fails its check; its bytes came from %s: no one is blamed, "
			 "it starts again from zero from one holder", short_hex(j->sha, sha), from);
		j->solo = 1;
		j->ntried = 0;
	}
	job_restart(x, j);
	j->state = J_WAIT;
	job_ask(x, j, deadline_now_ms());
}

/* A holder that sent or offered what no honest one does: cut off at once
   (x->lock held), its bytes go, and it is not asked again. */
static void job_cut_off(struct xfer *x, Tox *tox, struct job *j, const char *why)
{
	char hex[17], sha[17];

	log_warn("xfer: %s %s for %s; cut off, not asked for it again",
		 short_hex(j->holder, hex), why, short_hex(j->sha, sha));
	if (tox != NULL)
		tox_file_control(tox, j->friend, j->file, TOX_FILE_CONTROL_CANCEL, NULL);
	job_blame(j, j->holder);
	if (j->state == J_RECV || job_supplied(j, j->holder))
		job_restart(x, j);
	j->state = J_WAIT;
	job_ask(x, j, deadline_now_ms());
}

struct holders {
	uint8_t (*v)[32];
	size_t n, max;
};

static int add_holder(const uint8_t node[DB_NODE_BYTES], void *ctx)
{
	struct holders *h = ctx;

	if (h->n < h->max)
		memcpy(h->v[h->n++], node, 32);
	return 0;
}

/* Ask the next holder for j (lock held). */
static void job_ask(struct xfer *x, struct job *j, int64_t now)
{
	uint8_t linked[256][32], known[64][32];
	struct holders h = { known, 0, 64 };
	size_t nl;
	uint8_t body[WANT_BYTES];
	const uint8_t *pick = NULL;

	if (now < j->retry_at)
		return;
	nl = x->net.linked(x->net.ctx, linked, 256);
	if (nl > 256)
		nl = 256;
	/* Those known to hold it first, then every other member (one that
	   does not hold it says so at once). */
	pthread_mutex_unlock(&x->lock);
	db_holders(x->db, j->sha, add_holder, &h);
	pthread_mutex_lock(&x->lock);
	for (size_t i = 0; i < h.n && pick == NULL; i++)
		for (size_t k = 0; k < nl && pick == NULL; k++)
			if (memcmp(known[i], linked[k], 32) == 0 && !in_list(j->tried, j->ntried, known[i]) &&
			    !in_list(j->bad, j->nbad, known[i]))
				pick = linked[k];
	for (size_t k = 0; k < nl && pick == NULL; k++)
		if (!in_list(j->tried, j->ntried, linked[k]) && !in_list(j->bad, j->nbad, linked[k]))
			pick = linked[k];
	if (pick == NULL) {
		/* Everyone was asked: start over in a moment. */
		j->ntried = 0;
		j->retry_at = now + 1000;
		return;
	}
	memcpy(j->holder, pick, 32);
	if ((j->friend = x->net.friend_of(x->net.ctx, pick)) == UINT32_MAX)
		return;
	memcpy(body, j->sha, 32);
	for (int i = 0; i < 8; i++)
		body[32 + i] = (uint8_t)(j->size >> (8 * i));
	x->net.notice(x->net.ctx, j->friend, NET_XFER_WANT, body, sizeof(body));
	j->state = J_ASKED;
	j->asked_at = now;
}

void xfer_net_tick(struct xfer *x, Tox *tox)
{
	int64_t now = deadline_now_ms();

	pthread_mutex_lock(&x->lock);
	if (!x->attached) {
		pthread_mutex_unlock(&x->lock);
		return;
	}
	for (struct job *j = x->jobs; j != NULL; j = j->next) {
		char hex[17], sha[17];

		if (j->state == J_DONE || j->state == J_FAILED || j->state == J_CHECK ||
		    j->state == J_CHECKING || j->state == J_PREP)
			continue;
		if (now - j->progress > x->timeout_ms) {
			log_warn("xfer: no holder delivered %s in %lld s; the read fails",
				 short_hex(j->sha, sha), (long long)(x->timeout_ms / 1000));
			job_fail(x, tox, j, -EIO);
			continue;
		}
		if (j->state == J_RECV &&
		    x->net.friend_of(x->net.ctx, j->holder) != j->friend) {
			log_info("xfer: %s went away in the middle of %s at %llu of %llu bytes",
				 short_hex(j->holder, hex), short_hex(j->sha, sha),
				 (unsigned long long)j->have, (unsigned long long)j->size);
			job_requeue(x, NULL, j, 0);
		} else if (j->state == J_RECV && now - j->progress > XFER_STALL_MS) {
			log_info("xfer: %s stalled; asking another holder", short_hex(j->holder, hex));
			job_requeue(x, tox, j, 1);
		} else if (j->state == J_ASKED && now - j->asked_at > XFER_ASK_MS) {
			job_requeue(x, tox, j, 0);
		}
		if (j->state == J_WAIT)
			job_ask(x, j, now);
	}
	for (struct send *s = x->sends; s != NULL; s = s->next)
		update_rate(&s->rate, &s->rate_bytes, &s->rate_t, s->done, now);
	pthread_mutex_unlock(&x->lock);
}

int xfer_net_busy(struct xfer *x)
{
	int busy = 0;

	pthread_mutex_lock(&x->lock);
	busy = x->sends != NULL;
	for (struct job *j = x->jobs; j != NULL && !busy; j = j->next)
		busy = j->state == J_RECV || j->state == J_ASKED;
	pthread_mutex_unlock(&x->lock);
	return busy;
}


void xfer_net_notice(struct xfer *x, Tox *tox, uint32_t f, uint16_t method, const uint8_t *body,
		     size_t len)
{
	pthread_mutex_lock(&x->lock);
	if (!x->attached) {
		pthread_mutex_unlock(&x->lock);
		return;
	}
	if (method == NET_XFER_WANT) {
		xfer_send_want(x, tox, f, body, len);
	} else if (method == NET_XFER_NOPE && len == 32) {
		struct job *j = job_find(x, body);
		const uint8_t *pk = x->net.pk_of(x->net.ctx, f);

		if (j != NULL && j->state == J_ASKED && memcmp(j->holder, pk, 32) == 0) {
			job_requeue(x, NULL, j, 0);
			job_ask(x, j, deadline_now_ms());
		}
	}
	pthread_mutex_unlock(&x->lock);
}

void xfer_net_recv(struct xfer *x, Tox *tox, uint32_t f, uint32_t file, uint32_t kind,
		   uint64_t size)
{
	uint8_t id[TOX_FILE_ID_LENGTH];
	struct job *j = NULL;
	uint64_t disk;
	int fd, e;
	char hex[17];

	pthread_mutex_lock(&x->lock);
	if (x->attached && kind == TOX_FILE_KIND_DATA && tox_file_get_file_id(tox, f, file, id, NULL))
		j = job_find(x, id);
	if (j == NULL || j->state != J_ASKED || j->friend != f ||
	    memcmp(j->holder, x->net.pk_of(x->net.ctx, f), 32) != 0) {
		/* Nothing asked for: refused. */
		tox_file_control(tox, f, file, TOX_FILE_CONTROL_CANCEL, NULL);
		pthread_mutex_unlock(&x->lock);
		return;
	}
	j->file = file;
	if (size != j->size) {
		/* An honest holder offers exactly what it was asked for. */
		char why[64];

		snprintf(why, sizeof(why), "offered %llu bytes instead of %llu",
			 (unsigned long long)size, (unsigned long long)j->size);
		job_cut_off(x, tox, j, why);
		pthread_mutex_unlock(&x->lock);
		return;
	}
	if ((e = store_partial_open(x->store, j->sha, &fd, &disk)) != 0)
		goto fail;
	j->fd = fd;
	/* The partial holds exactly the bytes hashed so far: more (a write
	   that failed half-way) are cut, fewer (changed behind our back)
	   start it afresh. */
	if (disk != j->have) {
		if (ftruncate(fd, (off_t)(disk > j->have ? j->have : 0)) != 0) {
			e = -errno;
			goto fail;
		}
		if (disk < j->have)
			job_reset(j);
	}
	/* After a failed check, one holder supplies it all. */
	if (j->solo && j->have > 0 && !job_alone(j, j->holder)) {
		if (ftruncate(fd, 0) != 0) {
			e = -errno;
			goto fail;
		}
		job_reset(j);
	}
	j->progress = deadline_now_ms();
	if (j->have == size) {	/* all here already (a restart at the end) */
		tox_file_control(tox, f, file, TOX_FILE_CONTROL_CANCEL, NULL);
		job_finish(x, j);
		pthread_mutex_unlock(&x->lock);
		return;
	}
	if (j->have > 0) {
		if (tox_file_seek(tox, f, file, j->have, NULL)) {
			log_info("xfer: %s resumes at %llu of %llu bytes", short_hex(j->sha, hex),
				 (unsigned long long)j->have, (unsigned long long)size);
		} else if (ftruncate(fd, 0) == 0) {
			job_reset(j);
		} else {
			e = -errno;
			goto fail;
		}
	}
	job_span_start(j, j->holder);
	j->state = J_RECV;
	j->rate_t = 0;
	tox_file_control(tox, f, file, TOX_FILE_CONTROL_RESUME, NULL);
	pthread_mutex_unlock(&x->lock);
	return;
fail:
	log_error("xfer: cannot keep a download: %s", strerror(-e));
	tox_file_control(tox, f, file, TOX_FILE_CONTROL_CANCEL, NULL);
	job_fail(x, NULL, j, e);
	pthread_mutex_unlock(&x->lock);
}

void xfer_net_chunk(struct xfer *x, Tox *tox, uint32_t f, uint32_t file, uint64_t pos,
		    const uint8_t *data, size_t len)
{
	struct job *j;
	int64_t now = deadline_now_ms();

	pthread_mutex_lock(&x->lock);
	for (j = x->jobs; j != NULL; j = j->next)
		if (j->state == J_RECV && j->friend == f && j->file == file)
			break;
	if (j == NULL) {
		pthread_mutex_unlock(&x->lock);
		return;
	}
	if (len == 0) {
		if (j->have != j->size)
			job_requeue(x, NULL, j, 0);	/* it stopped early */
		else
			job_finish(x, j);
		pthread_mutex_unlock(&x->lock);
		return;
	}
	if (pos == j->have && len > j->size - j->have) {
		job_cut_off(x, tox, j, "sent bytes past the size");
	} else if (pos != j->have) {
		char hex[17];

		log_warn("xfer: %s sent bytes out of place; asking another holder",
			 short_hex(j->holder, hex));
		job_requeue(x, tox, j, 1);
	} else {
		size_t off = 0;

		while (off < len) {
			ssize_t w = pwrite(j->fd, data + off, len - off, (off_t)(pos + off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				int e = w < 0 ? -errno : -EIO;

				log_error("xfer: cannot write a download: %s", strerror(-e));
				job_fail(x, tox, j, e);
				break;
			}
			off += (size_t)w;
		}
		if (j->state == J_RECV) {
			sha256_update(&j->hash, data, len);
			j->have += len;
			j->spans[j->nspans - 1].to = j->have;
			j->progress = now;
			update_rate(&j->rate, &j->rate_bytes, &j->rate_t, j->have, now);
		}
	}
	pthread_mutex_unlock(&x->lock);
}






void xfer_net_control(struct xfer *x, uint32_t f, uint32_t file, Tox_File_Control c)
{
	struct send *s, **prev;

	if (c != TOX_FILE_CONTROL_CANCEL)
		return;
	pthread_mutex_lock(&x->lock);
	if ((s = xfer_send_find(x, f, file, &prev)) != NULL)
		xfer_send_drop(x, prev);
	for (struct job *j = x->jobs; j != NULL; j = j->next)
		if (j->state == J_RECV && j->friend == f && j->file == file)
			job_requeue(x, NULL, j, 0);
	pthread_mutex_unlock(&x->lock);
}

void xfer_net_peer_down(struct xfer *x, uint32_t f)
{
	pthread_mutex_lock(&x->lock);
	for (struct send **p = &x->sends; *p != NULL;) {
		if ((*p)->friend == f)
			xfer_send_drop(x, p);
		else
			p = &(*p)->next;
	}
	for (struct job *j = x->jobs; j != NULL; j = j->next)
		if ((j->state == J_RECV || j->state == J_ASKED) && j->friend == f)
			job_requeue(x, NULL, j, 0);
	pthread_mutex_unlock(&x->lock);
}

void xfer_net_all_down(struct xfer *x)
{
	pthread_mutex_lock(&x->lock);
	while (x->sends != NULL)
		xfer_send_drop(x, &x->sends);
	for (struct job *j = x->jobs; j != NULL; j = j->next)
		if (j->state == J_RECV || j->state == J_ASKED)
			job_requeue(x, NULL, j, 0);
	pthread_mutex_unlock(&x->lock);
}
