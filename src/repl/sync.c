#include "sync.h"

#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deadline.h"
#include "clock.h"
#include "hex.h"
#include "log.h"
#include "thread.h"
#include "net.h"
#include "path.h"
#include "syncwire.h"

#define PULL_TIMEOUT_MS 60000
#define PULL_ROUNDS 64		/* answers in a row from one member before others get a turn */
#define SYNC_STALL_MS 120000	/* no answer this long while behind: said in log and status */
#define NEWS_GAP_MS 50		/* news of local changes go out at most this often */
#define WAIT_MS 250		/* how often the list of linked members is looked at */
#define PEERS_MAX 512
#define RETRY_MS 2000		/* a failed pull is tried again after this */

/* ---- db's structs and the codec's (src/proto/syncwire) ---- */

_Static_assert(SYNCWIRE_NODE_BYTES == DB_NODE_BYTES && SYNCWIRE_SHA_BYTES == DB_SHA_BYTES &&
		       SYNCWIRE_SIGN_PK_BYTES == DB_SIGN_PK_BYTES &&
		       SYNCWIRE_BIND_SIG_BYTES == DB_SIG_BYTES && SYNCWIRE_VV_ENTRY == DB_VV_ENTRY &&
		       SYNCWIRE_VV_BYTES == DB_VV_BYTES && SYNCWIRE_SIGN_SK_BYTES == IDENT_SIGN_SK_BYTES,
	       "the codec's sizes are db's and ident's");
_Static_assert((int)SYNCWIRE_FILE == (int)DB_FILE && (int)SYNCWIRE_DIR == (int)DB_DIR &&
		       (int)SYNCWIRE_LINK == (int)DB_LINK && (int)SYNCWIRE_HOLDER == (int)DB_HOLDER,
	       "the codec's kinds are db's");

/* r as the codec sees it: w borrows r's strings and buffers. */
static void rec_view(const struct db_rec *r, struct syncwire_rec *w)
{
	const struct db_entry *e = &r->e;

	memset(w, 0, sizeof(*w));
	w->path = r->path;
	w->kind = e->kind;
	w->deleted = e->deleted;
	w->mode = e->mode;
	w->uid = e->uid;
	w->gid = e->gid;
	w->size = e->size;
	w->mtime_ns = e->mtime_ns;
	w->ctime_ns = e->ctime_ns;
	w->has_sha = e->has_sha;
	memcpy(w->sha256, e->sha256, DB_SHA_BYTES);
	w->target = e->target;
	w->hlc = e->hlc;
	memcpy(w->origin, e->origin, DB_NODE_BYTES);
	w->seq = e->seq;
	w->vv = r->vv;
	w->vv_len = r->vv_len;
	w->wire = r->wire;
	w->wire_len = r->wire_len;
}

/* w's contents into r: they move over, w is left empty. */
static void rec_take(struct syncwire_rec *w, struct db_rec *r)
{
	struct db_entry *e = &r->e;

	memset(r, 0, sizeof(*r));
	r->path = w->path;
	e->kind = w->kind;
	e->deleted = w->deleted;
	e->mode = w->mode;
	e->uid = w->uid;
	e->gid = w->gid;
	e->size = w->size;
	e->mtime_ns = w->mtime_ns;
	e->ctime_ns = w->ctime_ns;
	e->has_sha = w->has_sha;
	memcpy(e->sha256, w->sha256, DB_SHA_BYTES);
	e->target = w->target;
	e->hlc = w->hlc;
	memcpy(e->origin, w->origin, DB_NODE_BYTES);
	e->seq = w->seq;
	r->vv = w->vv;
	r->vv_len = w->vv_len;
	r->wire = w->wire;
	r->wire_len = w->wire_len;
	memset(w, 0, sizeof(*w));
}


/* Digests of buckets of sequence numbers (struct syncwire_gap). */
struct digests {
	crypto_generichash_state st;
	uint64_t count, direct, bucket;
	size_t cur, n;
	uint8_t (*out)[SYNCWIRE_DIGEST_BYTES];
};

static void digest_u64(struct digests *d, uint64_t v)
{
	uint8_t x[8];

	for (int i = 0; i < 8; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	crypto_generichash_update(&d->st, x, sizeof(x));
}

/* Close buckets up to (not including) upto: each ends with its count. */
static void digest_close(struct digests *d, size_t upto)
{
	while (d->cur < upto && d->cur < d->n) {
		digest_u64(d, d->count);
		crypto_generichash_final(&d->st, d->out[d->cur++], SYNCWIRE_DIGEST_BYTES);
		crypto_generichash_init(&d->st, NULL, 0, SYNCWIRE_DIGEST_BYTES);
		d->count = 0;
	}
}

static int digest_seq(uint64_t seq, void *ctx)
{
	struct digests *d = ctx;
	uint64_t i = (seq - d->direct - 1) / d->bucket;

	if (i >= d->n)
		return 1;
	digest_close(d, (size_t)i);
	digest_u64(d, seq);
	d->count++;
	return 0;
}

/* The digests of origin's versions held here in (g->direct, upto], in
   g->n buckets of g->bucket (signed_only: those held signed), into out. */
static int gap_digests(struct db *db, const uint8_t origin[DB_NODE_BYTES],
		       const struct syncwire_gap *g, uint64_t upto, int signed_only,
		       uint8_t (*out)[SYNCWIRE_DIGEST_BYTES])
{
	struct digests d = { .direct = g->direct, .bucket = g->bucket, .n = g->n, .out = out };
	uint64_t end = g->direct + (uint64_t)g->n * g->bucket;
	int r;

	if (end < g->direct || end > upto)	/* past upto, or wrapped */
		end = upto;
	crypto_generichash_init(&d.st, NULL, 0, SYNCWIRE_DIGEST_BYTES);
	r = db_origin_seqs(db, origin, g->direct, end, signed_only, digest_seq, &d);
	digest_close(&d, d.n);
	return r;
}
void sync_batch_clear(struct sync_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		db_rec_clear(&b->recs[i]);
	free(b->recs);
	free(b->ranges);
	free(b->keys);
	memset(b, 0, sizeof(*b));
}

int sync_decode_reply(const uint8_t *buf, size_t len, struct sync_batch *b)
{
	struct syncwire_reply w;
	int r;

	memset(b, 0, sizeof(*b));
	if ((r = syncwire_decode_reply(buf, len, &w)) != 0)
		return r;
	if ((w.n > 0 && (b->recs = calloc(w.n, sizeof(*b->recs))) == NULL) ||
	    (w.nranges > 0 && (b->ranges = calloc(w.nranges, sizeof(*b->ranges))) == NULL) ||
	    (w.nkeys > 0 && (b->keys = calloc(w.nkeys, sizeof(*b->keys))) == NULL)) {
		sync_batch_clear(b);
		syncwire_reply_clear(&w);
		return -ENOMEM;
	}
	for (size_t i = 0; i < w.n; i++)
		rec_take(&w.recs[i], &b->recs[i]);
	b->n = w.n;
	for (size_t i = 0; i < w.nranges; i++) {
		memcpy(b->ranges[i].origin, w.ranges[i].origin, DB_NODE_BYTES);
		b->ranges[i].upto = w.ranges[i].upto;
	}
	b->nranges = w.nranges;
	for (size_t i = 0; i < w.nkeys; i++) {
		memcpy(b->keys[i].origin, w.keys[i].origin, DB_NODE_BYTES);
		memcpy(b->keys[i].pk, w.keys[i].pk, DB_SIGN_PK_BYTES);
		memcpy(b->keys[i].sig, w.keys[i].sig, DB_SIG_BYTES);
	}
	b->nkeys = w.nkeys;
	b->more = w.more;
	syncwire_reply_clear(&w);
	return 0;
}

/* ---- signatures ---- */

int sync_sign_rec(const struct ident *id, struct db_rec *r)
{
	struct syncwire_rec w;
	uint8_t *wire;
	size_t len;
	int e;

	if (memcmp(r->e.origin, id->public_key, DB_NODE_BYTES) != 0)
		return -EINVAL;
	rec_view(r, &w);
	if ((e = syncwire_sign_rec(&w, id->sign_sk, &wire, &len)) != 0)
		return e;
	free(r->wire);
	r->wire = wire;
	r->wire_len = len;
	return 0;
}

/* ---- answering ---- */

int sync_encode_reply(const struct db_key *keys, size_t nkeys, const struct db_range *ranges,
		      size_t nranges, const struct db_rec *recs, size_t nrecs, int more,
		      uint8_t **out, size_t *len)
{
	struct syncwire_buf k = { 0 }, g = { 0 }, v = { 0 };
	int r = -EINVAL;

	*out = NULL;
	*len = 0;
	if (nkeys > SYNCWIRE_ORIGINS_MAX || nranges > SYNCWIRE_ORIGINS_MAX || nrecs > SYNCWIRE_RECS_MAX)
		goto out;
	for (size_t i = 0; i < nkeys; i++)
		syncwire_put_key(&k, keys[i].origin, keys[i].pk, keys[i].sig);
	for (size_t i = 0; i < nranges; i++) {
		syncwire_put(&g, ranges[i].origin, DB_NODE_BYTES);
		syncwire_put_u(&g, ranges[i].upto, 8);
	}
	for (size_t i = 0; i < nrecs; i++) {
		if (recs[i].wire == NULL)
			goto out;
		syncwire_put(&v, recs[i].wire, recs[i].wire_len);
	}
	r = syncwire_put_answer(more, nkeys, &k, nranges, &g, nrecs, &v, out, len);
out:
	free(k.p);
	free(g.p);
	free(v.p);
	return r;
}

struct answer {
	const struct ident *id;
	size_t budget;	/* bytes of versions at most */
	struct syncwire_buf b;
	size_t recs;
	uint64_t last;	/* seq of the last version put in */
	int full;
};

static int answer_rec(const struct db_rec *r, void *ctx)
{
	struct answer *a = ctx;

	if (r->wire != NULL) {
		syncwire_put(&a->b, r->wire, r->wire_len);	/* as its origin signed it */
	} else if (memcmp(r->e.origin, a->id->public_key, DB_NODE_BYTES) == 0) {
		struct db_rec mine = *r;
		int e;

		/* This node's own: signed now (the copy owns only wire). */
		mine.wire = NULL;
		if ((e = sync_sign_rec(a->id, &mine)) != 0)
			return e;
		syncwire_put(&a->b, mine.wire, mine.wire_len);
		free(mine.wire);
	} else {
		return 0;	/* taken in unsigned, before signing: not relayed */
	}
	a->recs++;
	a->last = r->e.seq;
	if (a->b.err)
		return a->b.err;
	if (a->b.len >= a->budget || a->recs >= SYNCWIRE_RECS_MAX) {
		a->full = 1;
		return 1;
	}
	return 0;
}

struct seen_list {
	struct syncwire_range *v;
	size_t n, cap;
};

static int seen_add(const uint8_t origin[DB_NODE_BYTES], uint64_t seq, void *ctx)
{
	struct seen_list *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct syncwire_range *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	memcpy(l->v[l->n].origin, origin, DB_NODE_BYTES);
	l->v[l->n++].upto = seq;
	return 0;
}

int sync_question(struct db *db, const uint8_t member[DB_NODE_BYTES], uint8_t **q, size_t *qlen)
{
	struct seen_list mine = { 0 };
	struct syncwire_gap gap = { 0 };
	int r;

	*q = NULL;
	*qlen = 0;
	if ((r = db_seen(db, seen_add, &mine)) == 0) {
		/* Of the member's own versions, what others relayed beyond what
		   the member itself said it sent may have gaps: the member
		   compares its versions there with a digest of those held here,
		   and sends them all when they differ. */
		for (size_t i = 0; i < mine.n && r == 0; i++) {
			if (memcmp(mine.v[i].origin, member, DB_NODE_BYTES) != 0)
				continue;
			if ((r = db_seen_direct(db, member, &gap.direct)) == 0 &&
			    gap.direct < mine.v[i].upto) {
				uint64_t span = mine.v[i].upto - gap.direct;

				gap.has = 1;
				gap.bucket = (span + SYNCWIRE_GAP_BUCKETS - 1) / SYNCWIRE_GAP_BUCKETS;
				if (gap.bucket < SYNC_GAP_BUCKET_MIN)
					gap.bucket = SYNC_GAP_BUCKET_MIN;
				gap.n = (size_t)((span + gap.bucket - 1) / gap.bucket);
				r = gap_digests(db, member, &gap, mine.v[i].upto, 1, gap.digest);
			}
		}
	}
	if (r == 0)
		r = syncwire_encode_pull(mine.v, mine.n, &gap, q, qlen);
	free(mine.v);
	return r;
}

/* The question that follows an answer whose (checked) claims are not yet
   applied: as if they were.  Of the member's own versions it asks from
   what the member itself said it sent; no gap check (the next pull
   makes one). */
static int question_after(struct db *db, const uint8_t member[DB_NODE_BYTES],
			  const struct db_range *claims, size_t n, uint8_t **q, size_t *qlen)
{
	struct seen_list mine = { 0 };
	int r;

	*q = NULL;
	*qlen = 0;
	if ((r = db_seen(db, seen_add, &mine)) != 0)
		goto out;
	for (size_t i = 0; i < n && r == 0; i++) {
		size_t j;

		for (j = 0; j < mine.n; j++)
			if (memcmp(mine.v[j].origin, claims[i].origin, DB_NODE_BYTES) == 0)
				break;
		if (j == mine.n)
			r = seen_add(claims[i].origin, 0, &mine);
		if (r == 0 && mine.v[j].upto < claims[i].upto)
			mine.v[j].upto = claims[i].upto;
	}
	for (size_t j = 0; j < mine.n && r == 0; j++) {
		uint64_t direct = 0;

		if (memcmp(mine.v[j].origin, member, DB_NODE_BYTES) != 0)
			continue;
		r = db_seen_direct(db, member, &direct);
		for (size_t i = 0; i < n; i++)
			if (claims[i].direct && memcmp(claims[i].origin, member, DB_NODE_BYTES) == 0 &&
			    claims[i].upto > direct)
				direct = claims[i].upto;
		if (direct < mine.v[j].upto)
			mine.v[j].upto = direct;
	}
	if (r == 0)
		r = syncwire_encode_pull(mine.v, mine.n, NULL, q, qlen);
out:
	free(mine.v);
	return r;
}

int sync_answer(struct db *db, const struct ident *id, const uint8_t *question, size_t qlen,
		uint8_t **out, size_t *len)
{
	return sync_answer_within(db, id, question, qlen, SYNC_REPLY_BUDGET, out, len);
}

int sync_answer_within(struct db *db, const struct ident *id, const uint8_t *question, size_t qlen,
		       size_t budget, uint8_t **out, size_t *len)
{
	struct syncwire_range *have = NULL;
	struct seen_list mine = { 0 };
	struct syncwire_buf ranges = { 0 }, keys = { 0 };
	struct answer a = { .id = id, .budget = budget };
	struct syncwire_gap gap;
	size_t nhave = 0, nranges = 0, nkeys = 0;
	int r;

	*out = NULL;
	*len = 0;
	if ((r = syncwire_decode_pull(question, qlen, &have, &nhave, &gap)) != 0)
		return r;
	if ((r = db_seen(db, seen_add, &mine)) != 0)
		goto out;
	for (size_t i = 0; i < mine.n && !a.full && nranges < SYNCWIRE_ORIGINS_MAX; i++) {
		const uint8_t *o = mine.v[i].origin;
		uint64_t theirs = 0;
		size_t before = a.recs;
		struct db_key k;

		for (size_t j = 0; j < nhave; j++)
			if (memcmp(have[j].origin, o, DB_NODE_BYTES) == 0)
				theirs = have[j].upto;
		int check = memcmp(o, id->public_key, DB_NODE_BYTES) == 0 && gap.has &&
			    gap.direct < theirs;

		if (mine.v[i].upto <= theirs && !check)
			continue;
		if (memcmp(o, id->public_key, DB_NODE_BYTES) == 0) {
			memcpy(k.origin, o, DB_NODE_BYTES);
			memcpy(k.pk, id->sign_pk, DB_SIGN_PK_BYTES);
			memcpy(k.sig, id->bind_sig, DB_SIG_BYTES);
		} else if (db_key_get(db, o, &k) != 0) {
			continue;	/* nothing of it signed here to relay */
		}
		a.last = 0;
		if (check) {
			/* What others relayed of mine: each bucket the asker holds
			   otherwise than I do comes again from me. */
			uint8_t (*d)[SYNCWIRE_DIGEST_BYTES] = malloc(gap.n * SYNCWIRE_DIGEST_BYTES);

			if (d == NULL) {
				r = -ENOMEM;
				goto out;
			}
			r = gap_digests(db, o, &gap, theirs, 0, d);
			for (size_t b = 0; r == 0 && b < gap.n && !a.full; b++) {
				uint64_t lo = gap.direct + b * gap.bucket, hi = lo + gap.bucket;

				if (hi > theirs)
					hi = theirs;
				if (sodium_memcmp(d[b], gap.digest[b], SYNCWIRE_DIGEST_BYTES) != 0)
					r = db_changes(db, o, lo, hi, SYNCWIRE_RECS_MAX - a.recs, answer_rec, &a);
			}
			free(d);
		}
		if (r == 0 && !a.full)
			r = db_changes(db, o, theirs, mine.v[i].upto, SYNCWIRE_RECS_MAX - a.recs, answer_rec,
				       &a);
		if (r == 0)
			r = a.b.err;
		if (r != 0)
			goto out;
		if (a.recs > before) {
			syncwire_put_key(&keys, k.origin, k.pk, k.sig);
			nkeys++;
		}
		syncwire_put(&ranges, o, DB_NODE_BYTES);
		syncwire_put_u(&ranges, a.full ? a.last : mine.v[i].upto, 8);
		nranges++;
	}
	r = syncwire_put_answer(a.full || nranges == SYNCWIRE_ORIGINS_MAX, nkeys, &keys, nranges, &ranges,
				a.recs, &a.b, out, len);
out:
	free(have);
	free(mine.v);
	free(ranges.p);
	free(keys.p);
	free(a.b.p);
	return r;
}

/*
 * Which of an answer's claims hold.  A key binds to its origin when it is
 * derived (ident_derived_from) or comes from the origin itself; a key a
 * member tells of another, not derived, proves nothing and is not kept.
 * A version verifies under its origin's key or it is not taken in: one
 * whose key is not known yet waits (it comes again), one whose signature
 * fails condemns the whole answer.  A member's claim of progress counts
 * for its own versions; for another origin's, only up to the newest of
 * them it sent here.
 */
/* The first part of sync_check_reply(): keys, which versions are kept,
   and claims; no signature is checked yet (check_signatures()). */
static int check_claims(struct db *db, const uint8_t self[DB_NODE_BYTES], const uint8_t from[DB_NODE_BYTES],
			struct sync_batch *b, sync_removed_fn removed, void *ctx)
{
	struct {
		uint8_t origin[DB_NODE_BYTES];
		int known;	/* its key is known here */
		uint64_t top;	/* newest seq taken in */
	} *o = NULL;
	size_t no = 0, keep = 0;
	int r = 0;

	for (size_t i = 0; i < b->nkeys; i++) {
		struct db_key *k = &b->keys[i], have;
		int how;

		if (ident_bind_check(k->origin, k->pk, k->sig) != 0)
			return -EBADMSG;
		if (memcmp(k->origin, self, DB_NODE_BYTES) == 0)
			continue;
		if (ident_derived_from(k->origin, k->pk))
			how = DB_KEY_DERIVED;
		else if (memcmp(k->origin, from, DB_NODE_BYTES) == 0)
			how = DB_KEY_DIRECT;
		else
			continue;
		r = db_key_get(db, k->origin, &have);
		if (r != 0 && r != -ENOENT)
			return r;
		if (r == 0 && memcmp(have.pk, k->pk, DB_SIGN_PK_BYTES) == 0 && have.how >= how)
			continue;
		if (r == 0 && have.how == DB_KEY_DERIVED && how != DB_KEY_DERIVED)
			continue;	/* a derived key stays */
		k->how = how;
		if ((r = db_key_put(db, k)) != 0)
			return r;
	}
	if (b->n > 0 && (o = calloc(b->n, sizeof(*o))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < b->n; i++) {
		struct db_rec *rec = &b->recs[i];
		size_t j;
		int take = 1;

		for (j = 0; j < no; j++)
			if (memcmp(o[j].origin, rec->e.origin, DB_NODE_BYTES) == 0)
				break;
		if (j == no) {
			struct db_key k;

			memcpy(o[no].origin, rec->e.origin, DB_NODE_BYTES);
			r = db_key_get(db, rec->e.origin, &k);
			if (r != 0 && r != -ENOENT)
				goto out;
			o[no++].known = r == 0;
			r = 0;
		}
		if (memcmp(rec->e.origin, self, DB_NODE_BYTES) == 0 ||
		    (removed != NULL && removed(rec->e.origin, ctx)) || !o[j].known)
			take = 0;
		if (take) {
			if (rec->e.seq > o[j].top)
				o[j].top = rec->e.seq;
			if (keep != i) {
				b->recs[keep] = *rec;
				memset(rec, 0, sizeof(*rec));
			}
			keep++;
		} else {
			db_rec_clear(rec);
		}
	}
	b->n = keep;
	keep = 0;
	for (size_t i = 0; i < b->nranges; i++) {
		struct db_range *g = &b->ranges[i];
		uint64_t top = 0;

		if (removed != NULL && removed(g->origin, ctx))
			continue;
		g->direct = memcmp(g->origin, from, DB_NODE_BYTES) == 0;
		if (!g->direct) {
			for (size_t j = 0; j < no; j++)
				if (memcmp(o[j].origin, g->origin, DB_NODE_BYTES) == 0)
					top = o[j].top;
			if (top == 0)
				continue;
			if (g->upto > top)
				g->upto = top;
		}
		b->ranges[keep++] = *g;
	}
	b->nranges = keep;
out:
	free(o);
	return r;
}

/* The second part: every kept version's signature, under the key it was
   kept for.  0 or -EBADMSG. */
static int check_signatures(struct db *db, const struct sync_batch *b)
{
	struct db_key k;
	const uint8_t *last = NULL;

	for (size_t i = 0; i < b->n; i++) {
		const struct db_rec *rec = &b->recs[i];

		if (last == NULL || memcmp(last, rec->e.origin, DB_NODE_BYTES) != 0) {
			if (db_key_get(db, rec->e.origin, &k) != 0)
				return -EBADMSG;
			last = rec->e.origin;
		}
		if (syncwire_sig_check(rec->wire, rec->wire_len, k.pk) != 0)
			return -EBADMSG;
	}
	return 0;
}

int sync_check_reply(struct db *db, const uint8_t self[DB_NODE_BYTES], const uint8_t from[DB_NODE_BYTES],
		     struct sync_batch *b, sync_removed_fn removed, void *ctx)
{
	int r = check_claims(db, self, from, b, removed, ctx);

	return r != 0 ? r : check_signatures(db, b);
}

/* ---- the thread ---- */

struct speer {
	uint8_t pk[32];
	int linked;
	int want;		/* pull soon */
	int64_t last;		/* last pull (monotonic ms) */
	int64_t retry_at;	/* after a failure, not before this (monotonic ms) */
	/* Caught up: its last catch-up ended with nothing more, and no news
	   came since.  news_seq: the newest of its own versions it told of
	   (NET_SYNC_NEWS), 0 unknown. */
	int caught_up;
	uint64_t news_seq;
	int64_t behind_since;	/* when it last stopped being caught up (0: it is) */
	int64_t progress_at;	/* when an answer from it last came (monotonic ms) */
	int stalled;		/* no answer for SYNC_STALL_MS while behind: logged */
	int last_err;		/* the last pull's error (0 none) */
};

struct sync {
	struct db *db;
	struct net *net;
	const struct ident *id;	/* the node's, outlives the sync */
	sync_changed_fn changed;
	void *ctx;
	pthread_t thread;
	pthread_mutex_t lock;	/* guards everything below */
	pthread_cond_t cond;
	int stop, local, started;
	struct speer peers[PEERS_MAX];
	size_t npeers;
	struct sync_stats st;
	int64_t asked[2];	/* questions in flight: since (monotonic ms), 0 free */
	uint8_t asked_pk[2][32];	/* and to whom */
};


/* p has (or may have) changes this node lacks (lock held). */
static void behind(struct speer *p, int64_t now)
{
	if (p->caught_up || p->behind_since == 0) {
		p->behind_since = now;
		p->progress_at = now;
	}
	p->caught_up = 0;
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
		if ((p = speer_of(s, from)) != NULL) {
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

size_t sync_budget(double rate)
{
	double b;

	if (rate < 0)
		return SYNC_REPLY_BUDGET;	/* an older peer: nothing measured */
	if (rate == 0)
		return SYNC_BUDGET_START;
	b = rate * SYNC_ANSWER_MS / 1000.0;
	return b < SYNC_BUDGET_MIN ? SYNC_BUDGET_MIN : b > SYNC_REPLY_BUDGET ? SYNC_REPLY_BUDGET : (size_t)b;
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
		struct speer *p = speer_of(s, pk);

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
static int pull_from(struct sync *s, const uint8_t *pk)
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
		if (r == 0 && (r = check_claims(s->db, s->id->public_key, pk, &b, is_removed, s)) != 0)
			sync_batch_clear(&b);
		more = b.more;
		nranges = b.nranges;
		if (r == 0 && (r = stage_add(&st, &b, rlen)) != 0)
			sync_batch_clear(&b);
		/* The next question, asked while this answer is checked. */
		if (r == 0 && more && round + 1 < PULL_ROUNDS && st.bytes < STAGE_BYTES &&
		    deadline_now_ms() - st.since < STAGE_MS &&
		    question_after(s->db, pk, st.claims, st.nclaims, &next.q, &next.qlen) == 0) {
			if (call_start(&next) == 0)
				have_next = 1;
			else
				free(next.q), next.q = NULL;
		}
		if (r == 0 && (r = check_signatures(s->db, &st.b[st.n - 1])) != 0) {
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
			struct speer *p = speer_of(s, pk);

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
		struct speer *p = speer_of(s, pk);

		if (p != NULL)
			p->want = 1;
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
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
			struct speer *p = speer_of(s, linked[i]);

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
