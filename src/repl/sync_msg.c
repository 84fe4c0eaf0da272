/*
 * The messages of sync against the database: the question to ask, the
 * answer to give, the check of an answer taken in, and their conversion
 * to and from the codec's structs (src/proto/syncwire).  No thread, no
 * network: the tests, the fuzz target and the benchmark use these alone.
 */
#include "sync.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "sync_int.h"
#include "syncwire.h"

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
int sync_question_after(struct db *db, const uint8_t member[DB_NODE_BYTES], const struct db_range *claims,
			size_t n, uint8_t **q, size_t *qlen)
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
   and claims; no signature is checked yet (sync_check_signatures()). */
int sync_check_claims(struct db *db, const uint8_t self[DB_NODE_BYTES], const uint8_t from[DB_NODE_BYTES],
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
int sync_check_signatures(struct db *db, const struct sync_batch *b)
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
	int r = sync_check_claims(db, self, from, b, removed, ctx);

	return r != 0 ? r : sync_check_signatures(db, b);
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

