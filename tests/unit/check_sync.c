/*
 * Unit tests for src/repl/sync's messages: the pull question and the
 * answer codec (src/proto/syncwire), and replication between two
 * databases through them (src/repl/sync_msg.c).  Changes made on one
 * node, and what it holds, arrive whole on the other, also when the
 * answer comes in parts, and a second pull brings nothing.  Every
 * truncation of an answer and every field out of range is refused with
 * nothing left allocated (the suite runs under ASan with make SAN=1, and
 * a leak fails the test's process).  Neither the sync thread nor src/net
 * is linked.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <malloc.h>
#include <sodium.h>
#if defined(__SANITIZE_ADDRESS__)
/* ASan's own count (libasan; gcc ships no header for it). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#include "clock.h"
#include "db.h"
#include "ident.h"
#include "log.h"
#include "path.h"
#include "sync.h"
#include "syncwire.h"

#define CHECK_TMP_NAME "check_sync"
#include "check_tmp.h"
#include "check_run.h"

/* ---- two nodes, each with its own clock and database ---- */

struct side {
	char dir[128];
	char file[160];
	struct clock *clock;
	struct db *db;
	struct ident id;
	uint8_t self[DB_NODE_BYTES];	/* = id.public_key */
};

static void side_open(struct side *s, uint8_t key)
{
	memset(s, 0, sizeof(*s));
	log_init("check_sync", LOG_LVL_ERROR);
	snprintf(s->dir, sizeof(s->dir), "%s/n.XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
	snprintf(s->file, sizeof(s->file), "%s/oand.db", s->dir);
	(void)key;
	ck_assert_int_eq(ident_load(s->dir, 1, &s->id), 0);
	memcpy(s->self, s->id.public_key, sizeof(s->self));
	s->clock = clock_new(NULL, NULL);
	ck_assert_ptr_nonnull(s->clock);
	ck_assert_int_eq(db_open(s->file, s->self, s->clock, &s->db), 0);
}

static void side_close(struct side *s)
{
	db_close(s->db);
	clock_free(s->clock);
	ident_clear(&s->id);
	ck_assert_int_eq(rm_tree(s->dir), 0);
	memset(s, 0, sizeof(*s));
}

struct ranges {
	struct syncwire_range *v;
	size_t n, cap;
};

static int ranges_add(const uint8_t origin[DB_NODE_BYTES], uint64_t seq, void *ctx)
{
	struct ranges *l = ctx;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 8;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		ck_assert_ptr_nonnull(l->v);
	}
	memcpy(l->v[l->n].origin, origin, DB_NODE_BYTES);
	l->v[l->n++].upto = seq;
	return 0;
}

/* The question node `to` would ask. */
static void question_of(struct side *to, uint8_t **q, size_t *qlen)
{
	struct ranges have = { 0 };

	ck_assert_int_eq(db_seen(to->db, ranges_add, &have), 0);
	ck_assert_int_eq(syncwire_encode_pull(have.v, have.n, NULL, q, qlen), 0);
	free(have.v);
}

struct pull_result {
	size_t answers;		/* answers it took */
	size_t recs;		/* versions they carried */
	size_t first_recs;	/* of them in the first answer */
	int first_more;		/* the first answer said there was more */
	int applied;		/* paths changed */
	size_t biggest;		/* bytes of the biggest answer */
};

/* Bytes of versions per answer in pull(): 0 for sync_answer()'s own. */
static size_t pull_budget;

/* One pull as the sync thread does it: until the member has no more. */
static struct pull_result pull(struct side *to, struct side *from)
{
	struct pull_result res = { 0 };

	for (;;) {
		struct sync_batch b;
		uint8_t *q = NULL, *a = NULL;
		size_t qlen = 0, alen = 0;
		int r;

		ck_assert_int_eq(sync_question(to->db, from->self, &q, &qlen), 0);
		if (pull_budget)
			ck_assert_int_eq(sync_answer_within(from->db, &from->id, q, qlen, pull_budget, &a, &alen), 0);
		else
			ck_assert_int_eq(sync_answer(from->db, &from->id, q, qlen, &a, &alen), 0);
		free(q);
		if (alen > res.biggest)
			res.biggest = alen;
		ck_assert_int_eq(sync_decode_reply(a, alen, &b), 0);
		free(a);
		ck_assert_int_eq(sync_check_reply(to->db, to->self, from->self, &b, NULL, NULL), 0);
		if (res.answers == 0) {
			res.first_recs = b.n;
			res.first_more = b.more;
		}
		res.answers++;
		res.recs += b.n;
		r = db_apply(to->db, b.recs, b.n, b.ranges, b.nranges, NULL, NULL);
		ck_assert_int_ge(r, 0);
		res.applied += r;
		if (!b.more) {
			sync_batch_clear(&b);
			break;
		}
		sync_batch_clear(&b);
		/* Each answer must make progress; a loop here is a bug. */
		ck_assert_uint_lt(res.answers, 1000);
	}
	return res;
}

/* Every live path below dir (dir excluded), depth first. */
struct paths {
	char **v;
	size_t n, cap;
};

static void paths_add(struct paths *p, const char *path)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		p->v = realloc(p->v, p->cap * sizeof(*p->v));
		ck_assert_ptr_nonnull(p->v);
	}
	p->v[p->n] = strdup(path);
	ck_assert_ptr_nonnull(p->v[p->n]);
	p->n++;
}

static void paths_free(struct paths *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

struct walk {
	const char *dir;
	struct paths *out, dirs;
};

static int walk_one(const char *name, const struct db_entry *e, int64_t cursor, void *ctx)
{
	struct walk *w = ctx;
	char path[PATH_TREE_MAX];

	(void)cursor;
	snprintf(path, sizeof(path), "%s%s%s", w->dir, strcmp(w->dir, "/") ? "/" : "", name);
	paths_add(w->out, path);
	if (e->kind == DB_DIR)
		paths_add(&w->dirs, path);
	return 0;
}

static void walk(struct db *db, const char *dir, struct paths *out)
{
	struct walk w = { .dir = dir, .out = out };

	ck_assert_int_eq(db_list(db, dir, 0, walk_one, &w), 0);
	for (size_t i = 0; i < w.dirs.n; i++)
		walk(db, w.dirs.v[i], out);
	paths_free(&w.dirs);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The same entry at path on both nodes, version included.  A folder's
 * mtime is left out: it moves on each node as names come and go in it
 * (src/store/db touch_parent()), without a new version.
 */
static void assert_same_entry(struct side *a, struct side *b, const char *path)
{
	struct db_entry x, y;
	int r;

	r = db_get(a->db, path, &x);
	ck_assert_msg(r == 0, "%s: db_get on the first node = %d", path, r);
	r = db_get(b->db, path, &y);
	ck_assert_msg(r == 0, "%s: db_get on the second node = %d", path, r);
	ck_assert_msg(x.kind == y.kind, "%s: kind %c, %c", path, x.kind, y.kind);
	ck_assert_msg(x.size == y.size, "%s: size", path);
	ck_assert_msg(x.mode == y.mode, "%s: mode %o, %o", path, x.mode, y.mode);
	ck_assert_msg(x.uid == y.uid && x.gid == y.gid, "%s: owner", path);
	if (x.kind != DB_DIR)
		ck_assert_msg(x.mtime_ns == y.mtime_ns, "%s: mtime", path);
	ck_assert_msg(x.has_sha == y.has_sha, "%s: has_sha", path);
	if (x.has_sha)
		ck_assert_mem_eq(x.sha256, y.sha256, DB_SHA_BYTES);
	ck_assert_msg((x.target == NULL) == (y.target == NULL), "%s: target", path);
	if (x.target != NULL)
		ck_assert_str_eq(x.target, y.target);
	ck_assert_msg(x.hlc == y.hlc, "%s: hlc", path);
	ck_assert_mem_eq(x.origin, y.origin, DB_NODE_BYTES);
	ck_assert_msg(x.seq == y.seq, "%s: seq", path);
	db_entry_clear(&x);
	db_entry_clear(&y);
}

/* Both nodes hold the same tree below "/" (the root itself aside: each
   node made its own at open). */
static void assert_same_tree(struct side *a, struct side *b)
{
	struct paths pa = { 0 }, pb = { 0 };

	walk(a->db, "/", &pa);
	walk(b->db, "/", &pb);
	qsort(pa.v, pa.n, sizeof(*pa.v), cmp_str);
	qsort(pb.v, pb.n, sizeof(*pb.v), cmp_str);
	ck_assert_uint_eq(pa.n, pb.n);
	for (size_t i = 0; i < pa.n; i++) {
		ck_assert_str_eq(pa.v[i], pb.v[i]);
		assert_same_entry(a, b, pa.v[i]);
	}
	paths_free(&pa);
	paths_free(&pb);
}

static void expect_absent(struct side *s, const char *path)
{
	struct db_entry e;
	int r = db_get(s->db, path, &e);

	ck_assert_msg(r == -ENOENT, "db_get(%s) = %d, want -ENOENT", path, r);
}

static void sha_of(unsigned n, uint8_t sha[DB_SHA_BYTES])
{
	for (int i = 0; i < DB_SHA_BYTES; i++)
		sha[i] = (uint8_t)(n * 31u + (unsigned)i * 7u + (n >> 8));
}

static int publish(struct side *s, const char *path, unsigned content, uint64_t size)
{
	uint8_t sha[DB_SHA_BYTES];
	struct db_publish p = { .path = path, .create = 1, .mode = 0644, .uid = 1000,
				.gid = 100, .size = size, .sha = content ? sha : NULL };

	sha_of(content, sha);
	return db_publish(s->db, &p);
}

/* Publish content that this node holds (a holder row, replicated too). */
static int publish_held(struct side *s, const char *path, unsigned content, uint64_t size)
{
	uint8_t sha[DB_SHA_BYTES];
	struct db_publish p = { .path = path, .create = 1, .mode = 0644, .uid = 1000,
				.gid = 100, .size = size, .sha = sha, .holder = s->self };

	sha_of(content, sha);
	return db_publish(s->db, &p);
}

struct holder_find {
	const uint8_t *node;
	int found;
};

static int holder_find(const uint8_t node[DB_NODE_BYTES], void *ctx)
{
	struct holder_find *h = ctx;

	h->found |= memcmp(node, h->node, DB_NODE_BYTES) == 0;
	return h->found;
}

/* 1 if s lists node as a holder of content's hash, else 0. */
static int holds(struct side *s, unsigned content, const uint8_t node[DB_NODE_BYTES])
{
	uint8_t sha[DB_SHA_BYTES];
	struct holder_find h = { node, 0 };

	sha_of(content, sha);
	ck_assert_int_eq(db_holders(s->db, sha, holder_find, &h), 0);
	return h.found;
}

/* ---- an answer written by hand, with the offset of every field ---- */

struct enc {
	uint8_t *p;
	size_t len, cap;
};

struct rec_at {
	size_t plen, path, kind, deleted, mode, size, hlc, origin, seq, has_sha, tlen,
	       target, vvlen, vv;
};

static void enc_put(struct enc *b, const void *v, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	if (n > 0)
		memcpy(b->p + b->len, v, n);
	b->len += n;
}

static void enc_u(struct enc *b, uint64_t v, int bytes)
{
	uint8_t x[8];

	for (int i = 0; i < bytes; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	enc_put(b, x, (size_t)bytes);
}

/* The head of an answer (no keys: enc_header_keys). */
static void enc_header_keys(struct enc *b, int more, size_t nkeys, size_t nranges, size_t nrecs)
{
	enc_u(b, SYNCWIRE_VERSION, 1);
	enc_u(b, (uint64_t)more, 1);
	enc_u(b, nkeys, 2);
	enc_u(b, nranges, 2);
	enc_u(b, nrecs, 4);
}

static void enc_header(struct enc *b, int more, size_t nranges, size_t nrecs)
{
	enc_u(b, SYNCWIRE_VERSION, 1);
	enc_u(b, (uint64_t)more, 1);
	enc_u(b, 0, 2);
	enc_u(b, nranges, 2);
	enc_u(b, nrecs, 4);
}

static void enc_range(struct enc *b, const uint8_t *origin, uint64_t upto)
{
	enc_put(b, origin, DB_NODE_BYTES);
	enc_u(b, upto, 8);
}

/* The record layout of src/repl/sync put_rec(), byte for byte. */
static void enc_rec(struct enc *b, const struct db_rec *r, struct rec_at *at)
{
	const struct db_entry *e = &r->e;
	size_t plen = r->path ? strlen(r->path) : 0, tlen = e->target ? strlen(e->target) : 0;
	struct rec_at dummy;

	if (at == NULL)
		at = &dummy;
	at->plen = b->len;
	enc_u(b, plen, 2);
	at->path = b->len;
	enc_put(b, r->path, plen);
	at->kind = b->len;
	enc_u(b, (uint64_t)e->kind, 1);
	at->deleted = b->len;
	enc_u(b, (uint64_t)e->deleted, 1);
	at->mode = b->len;
	enc_u(b, e->mode, 4);
	enc_u(b, e->uid, 4);
	enc_u(b, e->gid, 4);
	at->size = b->len;
	enc_u(b, e->size, 8);
	enc_u(b, (uint64_t)e->mtime_ns, 8);
	enc_u(b, (uint64_t)e->ctime_ns, 8);
	at->hlc = b->len;
	enc_u(b, e->hlc, 8);
	at->origin = b->len;
	enc_put(b, e->origin, DB_NODE_BYTES);
	at->seq = b->len;
	enc_u(b, e->seq, 8);
	at->has_sha = b->len;
	enc_u(b, (uint64_t)e->has_sha, 1);
	if (e->has_sha)
		enc_put(b, e->sha256, DB_SHA_BYTES);
	at->tlen = b->len;
	enc_u(b, tlen, 2);
	at->target = b->len;
	enc_put(b, e->target, tlen);
	at->vvlen = b->len;
	enc_u(b, r->vv_len, 2);
	at->vv = b->len;
	enc_put(b, r->vv, r->vv_len);
	/* A signature's room (the decoder does not check it). */
	enc_put(b, (const uint8_t[64]){ 0 }, 64);
}

#define HLC0 ((uint64_t)1700000000000ull << CLOCK_LOGICAL_BITS)

/* A valid version of path from the node whose key is all `key`. */
static void rec_init(struct db_rec *r, const char *path, int kind, uint8_t key, uint64_t hlc)
{
	memset(r, 0, sizeof(*r));
	r->path = strdup(path);
	ck_assert_ptr_nonnull(r->path);
	r->e.kind = kind;
	r->e.mode = kind == DB_DIR ? 0755 : kind == DB_LINK ? 0777 : 0644;
	r->e.uid = 1000;
	r->e.gid = 100;
	r->e.mtime_ns = r->e.ctime_ns = 1700000000123456789ll;
	r->e.hlc = hlc;
	memset(r->e.origin, key, DB_NODE_BYTES);
	r->e.seq = 7;
	if (kind == DB_FILE) {
		r->e.size = 12345;
		r->e.has_sha = 1;
		sha_of(9, r->e.sha256);
	} else if (kind == DB_LINK) {
		r->e.target = strdup("../some/where");
		ck_assert_ptr_nonnull(r->e.target);
		r->e.size = strlen(r->e.target);
	}
	r->vv_len = 0;
	ck_assert_int_eq(db_rec_vv_set(r, r->e.origin, hlc), 0);
}

/* Decode must refuse buf with a negative error and leave b empty. */
static void expect_refused(const uint8_t *buf, size_t len, const char *what)
{
	struct sync_batch b;
	int r;

	memset(&b, 0xee, sizeof(b));	/* the decoder must not trust it */
	r = sync_decode_reply(buf, len, &b);
	ck_assert_msg(r < 0, "%s: accepted (len %zu)", what, len);
	ck_assert_msg(r == -EBADMSG || r == -EPROTO, "%s: error %d", what, r);
	ck_assert_msg(b.recs == NULL && b.n == 0 && b.ranges == NULL && b.nranges == 0,
		      "%s: batch not left empty", what);
}

static void expect_accepted(const uint8_t *buf, size_t len, size_t nrecs, const char *what)
{
	struct sync_batch b;
	int r = sync_decode_reply(buf, len, &b);

	ck_assert_msg(r == 0, "%s: refused with %d", what, r);
	ck_assert_uint_eq(b.n, nrecs);
	sync_batch_clear(&b);
}

/* One answer holding the single record r. */
static void answer_of(const struct db_rec *r, struct enc *b, struct rec_at *at)
{
	memset(b, 0, sizeof(*b));
	enc_header(b, 0, 1, 1);
	enc_range(b, r->e.origin, r->e.seq);
	enc_rec(b, r, at);
}

/* ---- the question ---- */

START_TEST(test_pull_roundtrip)
{
	static const size_t counts[] = { 0, 1, 3, SYNCWIRE_ORIGINS_MAX };
	size_t n = counts[_i], got_n = 99;
	struct syncwire_range *have = calloc(n ? n : 1, sizeof(*have)), *got = NULL;
	uint8_t *q = NULL;
	size_t qlen = 0;

	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < DB_NODE_BYTES; k++)
			have[i].origin[k] = (uint8_t)(i * 13 + (size_t)k);
		have[i].upto = i == 1 ? INT64_MAX : (uint64_t)i * 0x0101010101ull + 1;
	}
	ck_assert_int_eq(syncwire_encode_pull(have, n, NULL, &q, &qlen), 0);
	ck_assert_uint_eq(qlen, 3 + n * (DB_NODE_BYTES + 8) + 1);	/* and no gap check */
	ck_assert_int_eq(q[0], SYNCWIRE_VERSION);
	ck_assert_int_eq(syncwire_decode_pull(q, qlen, &got, &got_n, NULL), 0);
	ck_assert_uint_eq(got_n, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_mem_eq(got[i].origin, have[i].origin, DB_NODE_BYTES);
		ck_assert_uint_eq(got[i].upto, have[i].upto);
	}
	free(got);
	/* Every truncation and a byte too many are refused, nothing kept. */
	for (size_t cut = 0; cut < qlen && cut < 2048; cut++) {
		got = (struct syncwire_range *)q;	/* must come back NULL */
		ck_assert_int_lt(syncwire_decode_pull(q, cut, &got, &got_n, NULL), 0);
		ck_assert_ptr_null(got);
		ck_assert_uint_eq(got_n, 0);
	}
	q = realloc(q, qlen + 1);
	ck_assert_ptr_nonnull(q);
	q[qlen] = 0;
	ck_assert_int_eq(syncwire_decode_pull(q, qlen + 1, &got, &got_n, NULL), -EBADMSG);
	q[0] = SYNCWIRE_VERSION + 1;
	ck_assert_int_eq(syncwire_decode_pull(q, qlen, &got, &got_n, NULL), -EPROTO);
	free(q);
	/* With a gap check: it comes back whole, and every cut is refused. */
	{
		struct syncwire_gap gap = { .has = 1, .direct = 0x0102030405ull, .bucket = 64, .n = 3 }, back;

		for (size_t i = 0; i < gap.n * SYNCWIRE_DIGEST_BYTES; i++)
			gap.digest[i / SYNCWIRE_DIGEST_BYTES][i % SYNCWIRE_DIGEST_BYTES] = (uint8_t)(0xa0 + i);
		ck_assert_int_eq(syncwire_encode_pull(have, n, &gap, &q, &qlen), 0);
		ck_assert_uint_eq(qlen, 3 + n * (DB_NODE_BYTES + 8) + 1 + 8 + 8 + 2 + 3 * SYNCWIRE_DIGEST_BYTES);
		ck_assert_int_eq(syncwire_decode_pull(q, qlen, &got, &got_n, &back), 0);
		ck_assert_uint_eq(got_n, n);
		ck_assert_int_eq(back.has, 1);
		ck_assert_uint_eq(back.direct, gap.direct);
		ck_assert_uint_eq(back.bucket, 64);
		ck_assert_uint_eq(back.n, 3);
		ck_assert_mem_eq(back.digest, gap.digest, 3 * SYNCWIRE_DIGEST_BYTES);
		free(got);
		for (size_t cut = qlen > 64 ? qlen - 64 : 0; cut < qlen; cut++) {
			got = (struct syncwire_range *)q;
			ck_assert_int_lt(syncwire_decode_pull(q, cut, &got, &got_n, &back), 0);
			ck_assert_ptr_null(got);
		}
		q[3 + n * (DB_NODE_BYTES + 8)] = 2;	/* a flag neither 0 nor 1 */
		ck_assert_int_eq(syncwire_decode_pull(q, qlen, &got, &got_n, &back), -EBADMSG);
		free(q);
	}
	free(have);
}
END_TEST

START_TEST(test_pull_limits)
{
	struct syncwire_range *have = calloc(SYNCWIRE_ORIGINS_MAX + 1, sizeof(*have)), *got = NULL;
	uint8_t *q = NULL, small[3] = { SYNCWIRE_VERSION, 0, 0 };
	size_t qlen = 0, got_n = 0;

	ck_assert_ptr_nonnull(have);
	ck_assert_int_eq(syncwire_encode_pull(have, SYNCWIRE_ORIGINS_MAX + 1, NULL, &q, &qlen), -E2BIG);
	ck_assert_ptr_null(q);
	/* A count above the limit is refused before anything is read. */
	small[1] = (SYNCWIRE_ORIGINS_MAX + 1) & 0xff;
	small[2] = (SYNCWIRE_ORIGINS_MAX + 1) >> 8;
	ck_assert_int_eq(syncwire_decode_pull(small, sizeof(small), &got, &got_n, NULL), -EBADMSG);
	ck_assert_ptr_null(got);
	/* sync_answer refuses a bad question the same way. */
	{
		struct side a;
		uint8_t *out = (uint8_t *)1;
		size_t len = 1;

		side_open(&a, 0xaa);
		ck_assert_int_eq(sync_answer(a.db, &a.id, small, sizeof(small), &out, &len), -EBADMSG);
		ck_assert_ptr_null(out);
		ck_assert_uint_eq(len, 0);
		small[0] = 0;
		ck_assert_int_eq(sync_answer(a.db, &a.id, small, 1, &out, &len), -EPROTO);
		side_close(&a);
	}
	free(have);
}
END_TEST

/* The news: the sender's newest version, or nothing (older nodes). */
START_TEST(test_news)
{
	uint8_t b[SYNCWIRE_NEWS_BYTES];
	uint64_t seq = 99;

	syncwire_encode_news(0x0102030405060708ull, b);
	ck_assert_int_eq(b[0], 0x08);
	ck_assert_int_eq(b[7], 0x01);
	ck_assert_int_eq(syncwire_decode_news(b, sizeof(b), &seq), 0);
	ck_assert_uint_eq(seq, 0x0102030405060708ull);
	ck_assert_int_eq(syncwire_decode_news(NULL, 0, &seq), -EBADMSG);
	ck_assert_uint_eq(seq, 0);
	ck_assert_int_eq(syncwire_decode_news(b, 3, &seq), -EBADMSG);
}
END_TEST

/* ---- two nodes ---- */

START_TEST(test_two_nodes)
{
	struct side a, b;
	struct pull_result res;
	int has_old;
	uint8_t old[DB_SHA_BYTES];

	side_open(&a, 0xaa);
	side_open(&b, 0xbb);
	ck_assert_int_eq(db_mkdir(a.db, "/d", 0750, 1000, 100), 0);
	ck_assert_int_eq(db_mkdir(a.db, "/d/sub", 0755, 1000, 100), 0);
	ck_assert_int_eq(publish(&a, "/d/sub/x", 1, 100), 0);
	ck_assert_int_eq(publish(&a, "/d/f", 2, 2000), 0);
	ck_assert_int_eq(publish_held(&a, "/d/f", 3, 3000), 0);	/* a second version */
	ck_assert_int_eq(publish(&a, "/empty", 0, 0), 0);
	ck_assert_int_eq(publish(&a, "/top", 4, 40), 0);
	ck_assert_int_eq(db_symlink(a.db, "/d/l", "../top", 1000, 100), 0);
	ck_assert_int_eq(db_setattr(a.db, "/d/f", DB_SET_MODE | DB_SET_MTIME, 0600, 0, 0,
				    1234567890123456789ll), 0);
	ck_assert_int_eq(db_rename(a.db, "/d/sub", "/d/sub2", 0, &has_old, old), 0);
	ck_assert_int_eq(publish(&a, "/gone", 5, 50), 0);
	ck_assert_int_eq(db_unlink(a.db, "/gone", &has_old, old), 0);
	ck_assert_int_eq(db_mkdir(a.db, "/e", 0755, 0, 0), 0);
	ck_assert_int_eq(db_rmdir(a.db, "/e"), 0);

	res = pull(&b, &a);
	ck_assert_uint_eq(res.answers, 1);
	ck_assert_uint_gt(res.recs, 0);
	ck_assert_int_gt(res.applied, 0);
	assert_same_tree(&a, &b);
	expect_absent(&b, "/d/sub");
	expect_absent(&b, "/d/sub/x");
	expect_absent(&b, "/gone");
	expect_absent(&b, "/e");
	/* holdings travel with the versions */
	ck_assert_int_eq(holds(&b, 3, a.self), 1);
	ck_assert_int_eq(holds(&b, 2, a.self), 0);

	/* Nothing new: a second round carries no versions and changes nothing. */
	res = pull(&b, &a);
	ck_assert_uint_eq(res.recs, 0);
	ck_assert_int_eq(res.applied, 0);

	/* Deletions travel too, and B's own root comes back to A unchanged. */
	sha_of(3, old);
	ck_assert_int_eq(db_holder_remove(a.db, old, a.self), 0);
	ck_assert_int_eq(db_unlink(a.db, "/d/l", &has_old, old), 0);
	ck_assert_int_eq(db_rename(a.db, "/d/sub2/x", "/moved", 0, &has_old, old), 0);
	res = pull(&b, &a);
	ck_assert_uint_gt(res.recs, 0);
	assert_same_tree(&a, &b);
	expect_absent(&b, "/d/l");
	expect_absent(&b, "/d/sub2/x");
	ck_assert_int_eq(holds(&b, 3, a.self), 0);
	res = pull(&a, &b);
	ck_assert_int_ge(res.applied, 0);
	assert_same_tree(&a, &b);
	assert_same_entry(&a, &b, "/");
	res = pull(&a, &b);
	ck_assert_uint_eq(res.recs, 0);
	res = pull(&b, &a);
	ck_assert_uint_eq(res.recs, 0);
	side_close(&a);
	side_close(&b);
}
END_TEST

/* More than one answer's worth (SYNC_REPLY_BUDGET): it comes in parts,
   each resuming where the last stopped, and all of it arrives. */
START_TEST(test_two_nodes_in_parts)
{
	char name[PATH_NAME_MAX + 1], dir[PATH_TREE_MAX], path[PATH_TREE_MAX];
	struct side a, b;
	struct pull_result res;
	const int files = 1000;

	side_open(&a, 0xaa);
	side_open(&b, 0xbb);
	/* Long paths make big versions: four folders of 250-byte names. */
	dir[0] = '\0';
	for (int i = 0; i < 4; i++) {
		memset(name, 'a' + i, 250);
		name[250] = '\0';
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		ck_assert_int_eq(db_mkdir(a.db, path, 0755, 0, 0), 0);
		strcpy(dir, path);
	}
	memset(name, 'f', 240);
	for (int i = 0; i < files; i++) {
		snprintf(path, sizeof(path), "%s/%.240s%05d", dir, name, i);
		ck_assert_int_eq(publish(&a, path, (unsigned)i + 1, (uint64_t)i + 1), 0);
	}
	res = pull(&b, &a);
	ck_assert_uint_gt(res.answers, 1);
	ck_assert_int_eq(res.first_more, 1);
	ck_assert_uint_lt(res.first_recs, (size_t)files);
	ck_assert_uint_eq(res.recs, (size_t)files + 4 + 1);	/* and the root */
	assert_same_tree(&a, &b);
	res = pull(&b, &a);
	ck_assert_uint_eq(res.recs, 0);
	side_close(&b);
	/* A slow link's budget: many small answers, each within it (plus the
	   one version that crossed it), and all of it arrives. */
	side_open(&b, 0xbc);
	pull_budget = SYNC_BUDGET_MIN;
	res = pull(&b, &a);
	pull_budget = 0;
	ck_assert_uint_ge(res.answers, 20);
	ck_assert_uint_le(res.biggest, SYNC_BUDGET_MIN + 4096);
	ck_assert_uint_eq(res.recs, (size_t)files + 4 + 1);
	assert_same_tree(&a, &b);
	side_close(&a);
	side_close(&b);
}
END_TEST

/* An answer's budget follows the link's rate, within its bounds. */
START_TEST(test_budget)
{
	ck_assert_uint_eq(sync_budget(-1), SYNC_REPLY_BUDGET);	/* an older peer */
	ck_assert_uint_eq(sync_budget(0), SYNC_BUDGET_START);	/* not measured yet */
	ck_assert_uint_eq(sync_budget(100), SYNC_BUDGET_MIN);	/* 800 bit/s */
	ck_assert_uint_eq(sync_budget(125000), 125000 * SYNC_ANSWER_MS / 1000);	/* 1 Mbit/s */
	ck_assert_uint_eq(sync_budget(125e6), SYNC_REPLY_BUDGET);	/* 1 Gbit/s */
}
END_TEST

/* The wire layout this file writes by hand is the one sync_answer()
   writes: same bytes for the same versions. */
struct capture {
	struct db_rec *v;
	size_t n;
};

static int capture_rec(const struct db_rec *r, void *ctx)
{
	struct capture *c = ctx;
	struct db_rec *d;

	c->v = realloc(c->v, (c->n + 1) * sizeof(*c->v));
	ck_assert_ptr_nonnull(c->v);
	d = &c->v[c->n++];
	*d = *r;
	d->path = r->path ? strdup(r->path) : NULL;	/* none for a holding */
	d->e.target = r->e.target ? strdup(r->e.target) : NULL;
	d->vv = r->vv_len ? malloc(r->vv_len) : NULL;
	if (d->vv != NULL)
		memcpy(d->vv, r->vv, r->vv_len);
	d->wire = NULL;
	d->wire_len = 0;
	return 0;
}

START_TEST(test_answer_layout)
{
	struct side a;
	struct capture c = { 0 };
	struct enc mine = { 0 };
	uint8_t *q = NULL, *ans = NULL;
	size_t qlen = 0, alen = 0;
	int has_old;
	uint8_t old[DB_SHA_BYTES];

	side_open(&a, 0xaa);
	ck_assert_int_eq(db_mkdir(a.db, "/d", 0755, 1, 2), 0);
	ck_assert_int_eq(publish_held(&a, "/d/f", 1, 10), 0);
	ck_assert_int_eq(db_symlink(a.db, "/d/l", "f", 1, 2), 0);
	ck_assert_int_eq(publish(&a, "/g", 2, 20), 0);
	ck_assert_int_eq(db_unlink(a.db, "/g", &has_old, old), 0);
	ck_assert_int_eq(syncwire_encode_pull(NULL, 0, NULL, &q, &qlen), 0);
	ck_assert_int_eq(sync_answer(a.db, &a.id, q, qlen, &ans, &alen), 0);
	ck_assert_int_eq(db_changes(a.db, a.self, 0, INT64_MAX, 100, capture_rec, &c), 0);
	ck_assert_uint_eq(c.n, 6);	/* the root, four versions and a holding */
	enc_header_keys(&mine, 0, 1, 1, c.n);
	enc_put(&mine, a.self, DB_NODE_BYTES);	/* its key, bound to its id */
	enc_put(&mine, a.id.sign_pk, 32);
	enc_put(&mine, a.id.bind_sig, 64);
	enc_range(&mine, a.self, c.v[c.n - 1].e.seq);
	for (size_t i = 0; i < c.n; i++) {
		size_t start = mine.len;
		crypto_sign_state st;
		static const char label[] = "oand version 1";

		if (c.v[i].e.kind == DB_HOLDER) {
			ck_assert_ptr_null(c.v[i].path);
			ck_assert_int_eq(c.v[i].e.has_sha, 1);
		} else if (c.v[i].e.deleted) {
			/* a tombstone carries no content */
			ck_assert_int_eq(c.v[i].e.has_sha, 0);
			ck_assert_uint_eq(c.v[i].e.size, 0);
		}
		enc_rec(&mine, &c.v[i], NULL);
		/* Each version carries a's Ed25519ph signature over the label
		   and its bytes: checked here with libsodium, then taken over. */
		ck_assert_uint_le(mine.len, alen);
		crypto_sign_init(&st);
		crypto_sign_update(&st, (const uint8_t *)label, sizeof(label));
		crypto_sign_update(&st, mine.p + start, mine.len - 64 - start);
		ck_assert_int_eq(crypto_sign_final_verify(&st, ans + mine.len - 64, a.id.sign_pk), 0);
		memcpy(mine.p + mine.len - 64, ans + mine.len - 64, 64);
	}
	ck_assert_uint_eq(alen, mine.len);
	ck_assert_mem_eq(ans, mine.p, alen);
	expect_accepted(mine.p, mine.len, c.n, "the answer as written by hand");
	for (size_t i = 0; i < c.n; i++)
		db_rec_clear(&c.v[i]);
	free(c.v);
	free(mine.p);
	free(ans);
	free(q);
	side_close(&a);
}
END_TEST

/* ---- refusals ---- */

START_TEST(test_reply_truncated)
{
	struct side a;
	uint8_t *q = NULL, *ans = NULL;
	size_t qlen = 0, alen = 0;
	int has_old;
	uint8_t old[DB_SHA_BYTES];

	side_open(&a, 0xaa);
	ck_assert_int_eq(db_mkdir(a.db, "/d", 0755, 1, 2), 0);
	ck_assert_int_eq(publish_held(&a, "/d/f", 1, 10), 0);
	ck_assert_int_eq(publish(&a, "/d/empty", 0, 0), 0);
	ck_assert_int_eq(db_symlink(a.db, "/d/l", "f", 1, 2), 0);
	ck_assert_int_eq(publish(&a, "/g", 2, 20), 0);
	ck_assert_int_eq(db_unlink(a.db, "/g", &has_old, old), 0);
	ck_assert_int_eq(syncwire_encode_pull(NULL, 0, NULL, &q, &qlen), 0);
	ck_assert_int_eq(sync_answer(a.db, &a.id, q, qlen, &ans, &alen), 0);
	expect_accepted(ans, alen, 7, "the whole answer");
	for (size_t cut = 0; cut < alen; cut++)
		expect_refused(ans, cut, "a truncated answer");
	/* a byte too many */
	ans = realloc(ans, alen + 1);
	ck_assert_ptr_nonnull(ans);
	ans[alen] = 0;
	expect_refused(ans, alen + 1, "a byte after the answer");
	free(ans);
	free(q);
	side_close(&a);
}
END_TEST

/* A valid answer with one field spoilt at a time. */
enum spoil {
	SP_VERSION, SP_MORE, SP_NRECS, SP_KIND_X, SP_KIND_0, SP_DELETED_2, SP_MODE_HIGH,
	SP_MODE_TOP, SP_PATH_DOTDOT, SP_PATH_DOT, SP_PATH_NUL, SP_PATH_EMPTY_NAME,
	SP_PATH_TRAILING, SP_PATH_RELATIVE, SP_PLEN_0, SP_HLC_TOP, SP_SEQ_TOP, SP_SIZE_TOP,
	SP_HAS_SHA_2, SP_TLEN, SP_VVLEN_ODD, SP_RANGE_TOP, SP_COUNT
};

START_TEST(test_reply_spoilt)
{
	static const char *const what[SP_COUNT] = {
		"version", "more=2", "one record too many", "kind 'x'", "kind 0", "deleted=2",
		"mode 010644", "mode top bit", "path with ..", "path with .", "path with NUL",
		"path with an empty name", "path with a trailing slash", "relative path",
		"empty path", "hlc top bit", "seq top bit", "size top bit", "has_sha=2",
		"target on a file", "vv length not whole", "range upto top bit",
	};
	struct db_rec r;
	struct rec_at at;
	struct enc b;
	int s = _i;

	/* "/d/r/.a": one byte away from "..", ".", "//" and a trailing slash. */
	rec_init(&r, "/d/r/.a", DB_FILE, 0x11, HLC0 + 5);
	answer_of(&r, &b, &at);
	expect_accepted(b.p, b.len, 1, "the unspoilt answer");
	switch (s) {
	case SP_VERSION:
		b.p[0] = SYNCWIRE_VERSION + 1;
		break;
	case SP_MORE:
		b.p[1] = 2;
		break;
	case SP_NRECS:
		b.p[6]++;
		break;
	case SP_KIND_X:
		b.p[at.kind] = 'x';
		break;
	case SP_KIND_0:
		b.p[at.kind] = 0;
		break;
	case SP_DELETED_2:
		b.p[at.deleted] = 2;
		break;
	case SP_MODE_HIGH:
		b.p[at.mode + 1] |= 0x10;
		break;
	case SP_MODE_TOP:
		b.p[at.mode + 3] = 0x80;
		break;
	case SP_PATH_DOTDOT:
		b.p[at.path + 6] = '.';		/* "/d/r/.." */
		break;
	case SP_PATH_DOT:
		b.p[at.path + 1] = '.';		/* "/./r/.a" */
		break;
	case SP_PATH_NUL:
		b.p[at.path + 3] = '\0';
		break;
	case SP_PATH_EMPTY_NAME:
		b.p[at.path + 3] = '/';		/* "/d///.a" */
		break;
	case SP_PATH_TRAILING:
		b.p[at.path + 6] = '/';		/* "/d/r/./" */
		break;
	case SP_PATH_RELATIVE:
		b.p[at.path] = 'x';
		break;
	case SP_PLEN_0:
		b.p[at.plen] = 0;
		break;
	case SP_HLC_TOP:
		b.p[at.hlc + 7] |= 0x80;
		break;
	case SP_SEQ_TOP:
		b.p[at.seq + 7] |= 0x80;
		break;
	case SP_SIZE_TOP:
		b.p[at.size + 7] = 0x01;	/* 2^56 > SYNCWIRE_SIZE_MAX */
		break;
	case SP_HAS_SHA_2:
		b.p[at.has_sha] = 2;
		break;
	case SP_TLEN:
		/* The target length takes the first byte of the vv length:
		   the layout no longer adds up, or a file gets a target. */
		b.p[at.tlen] = 1;
		break;
	case SP_VVLEN_ODD:
		b.p[at.vvlen]--;
		break;
	case SP_RANGE_TOP:
		b.p[10 + DB_NODE_BYTES + 7] = 0x80;
		break;
	}
	expect_refused(b.p, b.len, what[s]);
	free(b.p);
	db_rec_clear(&r);
}
END_TEST

/* Fields out of range written whole (not a byte flip), and other kinds. */
START_TEST(test_reply_bad_records)
{
	struct db_rec r;
	struct enc b;
	char longname[PATH_NAME_MAX + 3];
	uint8_t key[DB_NODE_BYTES] = { 0x11 };

	/* hlc 0, seq 0 */
	rec_init(&r, "/f", DB_FILE, 0x11, HLC0);
	r.e.hlc = 0;
	answer_of(&r, &b, NULL);
	expect_refused(b.p, b.len, "hlc 0");
	free(b.p);
	r.e.hlc = HLC0;
	r.e.seq = 0;
	answer_of(&r, &b, NULL);
	expect_refused(b.p, b.len, "seq 0");
	free(b.p);
	db_rec_clear(&r);

	/* a live file with content but no hash */
	rec_init(&r, "/f", DB_FILE, 0x11, HLC0);
	r.e.has_sha = 0;
	answer_of(&r, &b, NULL);
	expect_refused(b.p, b.len, "file without hash");
	free(b.p);
	db_rec_clear(&r);

	/* a tombstone that keeps a size, a hash or a target */
	rec_init(&r, "/f", DB_FILE, 0x11, HLC0);
	r.e.deleted = 1;
	answer_of(&r, &b, NULL);
	expect_refused(b.p, b.len, "tombstone with content");
	free(b.p);
	r.e.size = 0;
	r.e.has_sha = 0;
	answer_of(&r, &b, NULL);
	expect_accepted(b.p, b.len, 1, "a plain tombstone");
	free(b.p);
	db_rec_clear(&r);

	/* links: no target, a target with NUL, a hash */
	rec_init(&r, "/l", DB_LINK, 0x11, HLC0);
	answer_of(&r, &b, NULL);
	expect_accepted(b.p, b.len, 1, "a link");
	free(b.p);
	{
		struct rec_at at;

		answer_of(&r, &b, &at);
		b.p[at.target + 3] = '\0';
		expect_refused(b.p, b.len, "link target with NUL");
		free(b.p);
	}
	r.e.has_sha = 1;
	answer_of(&r, &b, NULL);
	expect_refused(b.p, b.len, "link with a hash");
	free(b.p);
	r.e.has_sha = 0;
	free(r.e.target);
	r.e.target = NULL;
	answer_of(&r, &b, NULL);
	expect_refused(b.p, b.len, "link without target");
	free(b.p);
	db_rec_clear(&r);

	/* folders: no size, no target; "/" only as a live folder */
	rec_init(&r, "/d", DB_DIR, 0x11, HLC0);
	r.e.size = 1;
	answer_of(&r, &b, NULL);
	expect_refused(b.p, b.len, "folder with a size");
	free(b.p);
	r.e.size = 0;
	r.e.target = strdup("x");
	answer_of(&r, &b, NULL);
	expect_refused(b.p, b.len, "folder with a target");
	free(b.p);
	db_rec_clear(&r);
	rec_init(&r, "/", DB_FILE, 0x11, HLC0);
	answer_of(&r, &b, NULL);
	expect_refused(b.p, b.len, "root as a file");
	free(b.p);
	db_rec_clear(&r);
	rec_init(&r, "/", DB_DIR, 0x11, HLC0);
	r.e.deleted = 1;
	answer_of(&r, &b, NULL);
	expect_refused(b.p, b.len, "root deleted");
	free(b.p);
	db_rec_clear(&r);

	/* a holding: a hash and a sequence number, nothing else */
	{
		static const char *const what[] = { "holding", "holding with a path",
			"holding with an HLC", "holding without hash", "holding with seq 0",
			"holding with a vv", "holding with a mode", "holding with a size" };

		for (size_t i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
			memset(&r, 0, sizeof(r));
			r.e.kind = DB_HOLDER;
			r.e.has_sha = 1;
			sha_of(4, r.e.sha256);
			memset(r.e.origin, 0x11, DB_NODE_BYTES);
			r.e.seq = 9;
			r.e.deleted = i == 0;	/* a removal is a valid holding too */
			switch (i) {
			case 1:
				r.path = strdup("/f");
				break;
			case 2:
				r.e.hlc = HLC0;
				break;
			case 3:
				r.e.has_sha = 0;
				break;
			case 4:
				r.e.seq = 0;
				break;
			case 5:
				r.vv_len = 0;
				ck_assert_int_eq(db_rec_vv_set(&r, r.e.origin, 0), 0);
				break;
			case 6:
				r.e.mode = 0644;
				break;
			case 7:
				r.e.size = 1;
				break;
			}
			answer_of(&r, &b, NULL);
			if (i == 0)
				expect_accepted(b.p, b.len, 1, what[i]);
			else
				expect_refused(b.p, b.len, what[i]);
			free(b.p);
			db_rec_clear(&r);
		}
	}

	/* paths written whole */
	{
		static const char *const bad[] = { "/d/", "d", "/d/../e", "/d//e", "/.", "//" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			rec_init(&r, bad[i], DB_DIR, 0x11, HLC0);
			answer_of(&r, &b, NULL);
			expect_refused(b.p, b.len, bad[i]);
			free(b.p);
			db_rec_clear(&r);
		}
	}

	/* a name longer than PATH_NAME_MAX */
	longname[0] = '/';
	memset(longname + 1, 'n', PATH_NAME_MAX + 1);
	longname[PATH_NAME_MAX + 2] = '\0';
	rec_init(&r, longname, DB_DIR, 0x11, HLC0);
	answer_of(&r, &b, NULL);
	expect_refused(b.p, b.len, "name too long");
	free(b.p);
	db_rec_clear(&r);

	/* counts past the limits, refused before allocating */
	memset(&b, 0, sizeof(b));
	enc_header(&b, 0, 0, SYNCWIRE_RECS_MAX + 1);
	expect_refused(b.p, b.len, "too many records");
	free(b.p);
	memset(&b, 0, sizeof(b));
	enc_header(&b, 0, SYNCWIRE_ORIGINS_MAX + 1, 0);
	expect_refused(b.p, b.len, "too many ranges");
	free(b.p);
	memset(&b, 0, sizeof(b));
	enc_header(&b, 0, 2, 0);
	enc_range(&b, key, 1);
	expect_refused(b.p, b.len, "fewer ranges than counted");
	free(b.p);
}
END_TEST

/* The vector must name the version itself, sorted, each node once. */
START_TEST(test_reply_bad_vv)
{
	uint8_t other[DB_NODE_BYTES], low[DB_NODE_BYTES];
	struct db_rec r;
	struct rec_at at;
	struct enc b;

	memset(other, 0x22, sizeof(other));
	memset(low, 0x01, sizeof(low));

	/* another node only */
	rec_init(&r, "/f", DB_FILE, 0x11, HLC0 + 9);
	r.vv_len = 0;
	ck_assert_int_eq(db_rec_vv_set(&r, other, HLC0 + 100), 0);
	answer_of(&r, &b, NULL);
	expect_refused(b.p, b.len, "vv without its own origin");
	free(b.p);
	/* empty */
	r.vv_len = 0;
	answer_of(&r, &b, NULL);
	expect_refused(b.p, b.len, "empty vv");
	free(b.p);
	/* its own origin, but older than the version */
	r.vv_len = 0;
	ck_assert_int_eq(db_rec_vv_set(&r, r.e.origin, HLC0 + 8), 0);
	ck_assert_int_eq(db_rec_vv_set(&r, other, HLC0 + 100), 0);
	answer_of(&r, &b, NULL);
	expect_refused(b.p, b.len, "vv older than the version");
	free(b.p);
	/* a version whose hlc moved past its vector by one */
	r.vv_len = 0;
	ck_assert_int_eq(db_rec_vv_set(&r, r.e.origin, r.e.hlc), 0);
	answer_of(&r, &b, &at);
	expect_accepted(b.p, b.len, 1, "vv naming the version");
	b.p[at.hlc]++;
	expect_refused(b.p, b.len, "hlc above its vv");
	b.p[at.hlc]--;
	b.p[at.origin + 5] ^= 0x40;
	expect_refused(b.p, b.len, "origin not in its vv");
	free(b.p);
	/* three nodes, sorted: accepted; out of order or twice: refused */
	ck_assert_int_eq(db_rec_vv_set(&r, other, HLC0 + 1), 0);
	ck_assert_int_eq(db_rec_vv_set(&r, low, HLC0 + 2), 0);
	ck_assert_uint_eq(r.vv_len, 3 * DB_VV_ENTRY);
	answer_of(&r, &b, &at);
	expect_accepted(b.p, b.len, 1, "a sorted vv of three");
	{
		uint8_t tmp[DB_VV_ENTRY];

		memcpy(tmp, b.p + at.vv, DB_VV_ENTRY);
		memcpy(b.p + at.vv, b.p + at.vv + DB_VV_ENTRY, DB_VV_ENTRY);
		memcpy(b.p + at.vv + DB_VV_ENTRY, tmp, DB_VV_ENTRY);
		expect_refused(b.p, b.len, "vv out of order");
		memcpy(b.p + at.vv + DB_VV_ENTRY, b.p + at.vv, DB_VV_ENTRY);
		expect_refused(b.p, b.len, "vv naming a node twice");
	}
	free(b.p);
	/* more entries than DB_VV_MAX */
	{
		struct enc big = { 0 };
		uint8_t node[DB_NODE_BYTES];

		enc_header(&big, 0, 0, 1);
		r.vv_len = 0;
		enc_rec(&big, &r, &at);
		/* Rewrite the vector by hand: DB_VV_MAX + 1 sorted entries,
		   the version's own among them. */
		big.len = at.vvlen;
		enc_u(&big, (DB_VV_MAX + 1) * DB_VV_ENTRY, 2);
		for (int i = 0; i <= DB_VV_MAX; i++) {
			memset(node, 0, sizeof(node));
			node[0] = (uint8_t)(i < 0x11 ? i : i + 1);
			if (i == 0x11)
				memcpy(node, r.e.origin, DB_NODE_BYTES);
			enc_put(&big, node, DB_NODE_BYTES);
			enc_u(&big, r.e.hlc, 8);
		}
		expect_refused(big.p, big.len, "vv longer than DB_VV_MAX");
		free(big.p);
	}
	db_rec_clear(&r);
}
END_TEST

/*
 * A folder renamed with something in it must not come back under its old
 * name on the other node: db_rename() writes the old paths' tombstones
 * children first, so a node taking them in order never sees the folder
 * deleted while it still holds entries (it would keep the folder).
 */
START_TEST(test_rename_folder_synced)
{
	struct side a, b;
	int has_old;
	uint8_t old[DB_SHA_BYTES];

	side_open(&a, 0xaa);
	side_open(&b, 0xbb);
	ck_assert_int_eq(db_mkdir(a.db, "/d", 0755, 0, 0), 0);
	ck_assert_int_eq(publish(&a, "/d/x", 1, 10), 0);
	pull(&b, &a);
	assert_same_tree(&a, &b);
	ck_assert_int_eq(db_rename(a.db, "/d", "/d2", 0, &has_old, old), 0);
	expect_absent(&a, "/d");
	pull(&b, &a);
	expect_absent(&b, "/d/x");
	expect_absent(&b, "/d");
	pull(&a, &b);
	expect_absent(&a, "/d");
	assert_same_tree(&a, &b);
	side_close(&a);
	side_close(&b);
}
END_TEST

/*
 * A folder that a file arrives in before the folder itself does is made
 * as a stand-in with the smallest clock, so the folder's real version
 * (mode, owner) wins over it when it comes.  Answers carry other origins
 * before the answering node's own, so with three nodes this is the usual
 * order: A makes a private folder, B puts a file in it, C pulls from A.
 */
START_TEST(test_three_nodes_folder_attrs)
{
	struct side a, b, c;
	struct db_entry e;

	side_open(&a, 0xaa);
	side_open(&b, 0xbb);
	side_open(&c, 0xcc);
	ck_assert_int_eq(db_mkdir(a.db, "/private", 0700, 1000, 100), 0);
	pull(&b, &a);
	ck_assert_int_eq(publish(&b, "/private/f", 1, 10), 0);
	pull(&a, &b);
	pull(&c, &a);
	pull(&a, &c);
	pull(&b, &a);
	for (int i = 0; i < 3; i++) {
		struct side *s = i == 0 ? &a : i == 1 ? &b : &c;

		ck_assert_int_eq(db_get(s->db, "/private", &e), 0);
		ck_assert_msg(e.mode == 0700 && e.uid == 1000 && e.gid == 100,
			      "node %02x: /private is %04o %u:%u, made 0700 1000:100", s->self[0],
			      e.mode, e.uid, e.gid);
		db_entry_clear(&e);
	}
	assert_same_tree(&a, &c);
	side_close(&a);
	side_close(&b);
	side_close(&c);
}
END_TEST

/*
 * A version stamped far in the future (here INT64_MAX) is well formed, so
 * the decoder takes it and db_apply() keeps it as it is, but the local
 * clock does not follow it: else every later change of this node would
 * carry a clock the other nodes refuse, and its answers would be dropped
 * from then on.
 */
START_TEST(test_far_future_hlc)
{
	struct side a, b;
	struct db_rec r;
	struct sync_batch batch;
	uint8_t *q = NULL, *ans = NULL;
	size_t qlen = 0, alen = 0;
	int rc;

	side_open(&a, 0xaa);
	side_open(&b, 0xbb);
	rec_init(&r, "/future", DB_DIR, 0x11, INT64_MAX);
	{
		struct enc e;

		answer_of(&r, &e, NULL);
		expect_accepted(e.p, e.len, 1, "a version at INT64_MAX");
		free(e.p);
	}
	ck_assert_int_eq(db_apply(b.db, &r, 1, NULL, 0, NULL, NULL), 1);
	db_rec_clear(&r);
	ck_assert_int_eq(db_mkdir(b.db, "/after", 0755, 0, 0), 0);
	question_of(&a, &q, &qlen);
	ck_assert_int_eq(sync_answer(b.db, &b.id, q, qlen, &ans, &alen), 0);
	rc = sync_decode_reply(ans, alen, &batch);
	ck_assert_msg(rc == 0, "an answer after a version at INT64_MAX is refused: %d", rc);
	sync_batch_clear(&batch);
	free(q);
	free(ans);
	side_close(&a);
	side_close(&b);
}
END_TEST



/* Bytes the process holds from malloc now (ASan's own count under ASan). */
static size_t allocated(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
#endif
}

/* An answer of SYNCWIRE_RECS_MAX small versions (about 10 MB) takes memory in
   proportion to what arrived, not a fixed-size vector per version (that
   was about 15 times the answer). */
START_TEST(test_decode_memory)
{
	struct enc b = { 0 };
	struct db_rec r;
	struct sync_batch batch;
	size_t before, held;

	rec_init(&r, "/f", DB_DIR, 0x11, HLC0);
	enc_header(&b, 0, 0, SYNCWIRE_RECS_MAX);
	for (size_t i = 0; i < SYNCWIRE_RECS_MAX; i++)
		enc_rec(&b, &r, NULL);
	db_rec_clear(&r);
	before = allocated();
	ck_assert_int_eq(sync_decode_reply(b.p, b.len, &batch), 0);
	held = allocated() - before;
	ck_assert_uint_eq(batch.n, SYNCWIRE_RECS_MAX);
	ck_assert_msg(held < 3 * b.len, "decoding %zu bytes holds %zu", b.len, held);
	sync_batch_clear(&batch);
	free(b.p);
}
END_TEST

/* ---- what a member may not do (sync_check_reply) ---- */

/* The answer `from` gives `to`, decoded (not checked). */
static void answer_to(struct side *to, struct side *from, struct sync_batch *b)
{
	uint8_t *q = NULL, *a = NULL;
	size_t qlen = 0, alen = 0;

	ck_assert_int_eq(sync_question(to->db, from->self, &q, &qlen), 0);
	ck_assert_int_eq(sync_answer(from->db, &from->id, q, qlen, &a, &alen), 0);
	ck_assert_int_eq(sync_decode_reply(a, alen, b), 0);
	free(q);
	free(a);
}

/* m's answer holding one version of path as if made by victim: signed
   with m's own key, which it tells as victim's (a true signature over a
   false binding). */
static void forged_answer(struct side *m, struct side *victim, const char *path, struct sync_batch *b)
{
	struct ident as = m->id;
	struct db_rec r;
	struct db_key k;
	struct db_range g = { 0 };
	uint8_t *a = NULL;
	size_t alen = 0;

	rec_init(&r, path, DB_FILE, 0, HLC0 + 77);
	memcpy(r.e.origin, victim->self, DB_NODE_BYTES);
	r.vv_len = 0;
	ck_assert_int_eq(db_rec_vv_set(&r, victim->self, r.e.hlc), 0);
	memcpy(as.public_key, victim->self, DB_NODE_BYTES);
	ck_assert_int_eq(sync_sign_rec(&as, &r), 0);
	memcpy(k.origin, victim->self, DB_NODE_BYTES);
	memcpy(k.pk, m->id.sign_pk, DB_SIGN_PK_BYTES);
	ident_bind_sign(victim->self, m->id.sign_sk, k.sig);
	memcpy(g.origin, victim->self, DB_NODE_BYTES);
	g.upto = INT64_MAX;
	ck_assert_int_eq(sync_encode_reply(&k, 1, &g, 1, &r, 1, 0, &a, &alen), 0);
	ck_assert_int_eq(sync_decode_reply(a, alen, b), 0);
	free(a);
	db_rec_clear(&r);
	sodium_memzero(&as, sizeof(as));
}

/* A member cannot make versions of another: a key it tells for another
   node proves nothing (the version waits, unapplied, and no claim of the
   other's progress counts); once the real key is known, the forgery
   condemns the whole answer. */
START_TEST(test_forged_versions)
{
	struct side a, m, c;
	struct sync_batch b;
	struct db_key k;
	uint64_t direct = 99;

	side_open(&a, 0xaa);
	side_open(&m, 0xbb);
	side_open(&c, 0xcc);
	forged_answer(&m, &a, "/forged", &b);
	ck_assert_int_eq(sync_check_reply(c.db, c.self, m.self, &b, NULL, NULL), 0);
	ck_assert_uint_eq(b.n, 0);		/* not applied: no key binds */
	ck_assert_uint_eq(b.nranges, 0);	/* nor the claim */
	ck_assert_int_eq(db_key_get(c.db, a.self, &k), -ENOENT);
	sync_batch_clear(&b);
	/* c learns a's real key (derived from a's id), then the same
	   forgery is refused whole */
	ck_assert_int_eq(db_mkdir(a.db, "/real", 0755, 0, 0), 0);
	pull(&c, &a);
	ck_assert_int_eq(db_key_get(c.db, a.self, &k), 0);
	ck_assert_int_eq(k.how, DB_KEY_DERIVED);
	ck_assert_mem_eq(k.pk, a.id.sign_pk, DB_SIGN_PK_BYTES);
	forged_answer(&m, &a, "/forged", &b);
	ck_assert_int_eq(sync_check_reply(c.db, c.self, m.self, &b, NULL, NULL), -EBADMSG);
	sync_batch_clear(&b);
	ck_assert_int_eq(db_key_get(c.db, a.self, &k), 0);
	ck_assert_mem_eq(k.pk, a.id.sign_pk, DB_SIGN_PK_BYTES);
	expect_absent(&c, "/forged");
	ck_assert_int_eq(db_seen_direct(c.db, a.self, &direct), 0);
	ck_assert_uint_gt(direct, 0);
	side_close(&a);
	side_close(&m);
	side_close(&c);
}
END_TEST

/* A version whose signed bytes were changed on the way is refused whole. */
START_TEST(test_tampered_version)
{
	struct side a, c;
	struct sync_batch b;

	side_open(&a, 0xaa);
	side_open(&c, 0xcc);
	ck_assert_int_eq(publish(&a, "/f", 1, 10), 0);
	answer_to(&c, &a, &b);
	ck_assert_uint_gt(b.n, 0);
	b.recs[b.n - 1].wire[3] ^= 1;	/* a byte of the path, as signed */
	ck_assert_int_eq(sync_check_reply(c.db, c.self, a.self, &b, NULL, NULL), -EBADMSG);
	sync_batch_clear(&b);
	answer_to(&c, &a, &b);
	b.recs[0].wire[b.recs[0].wire_len - 1] ^= 0x80;	/* the signature */
	ck_assert_int_eq(sync_check_reply(c.db, c.self, a.self, &b, NULL, NULL), -EBADMSG);
	sync_batch_clear(&b);
	side_close(&a);
	side_close(&c);
}
END_TEST

/* A relay's claim of another origin's progress counts only up to the
   versions it brought; the origin's own claim counts whole, and the
   origin is asked for all it has not itself said it sent. */
START_TEST(test_claims_bounded)
{
	struct side a, m, c;
	struct sync_batch b;
	struct db_range g = { 0 };
	uint8_t *ans = NULL;
	size_t alen = 0;
	struct pull_result res;

	side_open(&a, 0xaa);
	side_open(&m, 0xbb);
	side_open(&c, 0xcc);
	ck_assert_int_eq(publish(&a, "/one", 1, 10), 0);
	for (unsigned i = 0; i < 300; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/many%u", i);
		ck_assert_int_eq(publish(&a, p, i + 10, 5), 0);
	}
	pull(&m, &a);
	/* m claims a complete up to 2^63-1, sending nothing */
	memcpy(g.origin, a.self, DB_NODE_BYTES);
	g.upto = INT64_MAX;
	ck_assert_int_eq(sync_encode_reply(NULL, 0, &g, 1, NULL, 0, 0, &ans, &alen), 0);
	ck_assert_int_eq(sync_decode_reply(ans, alen, &b), 0);
	free(ans);
	ck_assert_int_eq(sync_check_reply(c.db, c.self, m.self, &b, NULL, NULL), 0);
	ck_assert_uint_eq(b.nranges, 0);
	sync_batch_clear(&b);
	/* m relays a's version honestly: the claim counts up to it */
	answer_to(&c, &m, &b);
	ck_assert_int_eq(sync_check_reply(c.db, c.self, m.self, &b, NULL, NULL), 0);
	ck_assert_uint_gt(b.n, 0);
	{
		uint64_t top = 0;

		for (size_t i = 0; i < b.n; i++)
			if (memcmp(b.recs[i].e.origin, a.self, DB_NODE_BYTES) == 0 && b.recs[i].e.seq > top)
				top = b.recs[i].e.seq;
		ck_assert_uint_gt(top, 0);
		for (size_t i = 0; i < b.nranges; i++) {
			if (memcmp(b.ranges[i].origin, a.self, DB_NODE_BYTES) != 0)
				continue;
			ck_assert_int_eq(b.ranges[i].direct, 0);
			ck_assert_uint_le(b.ranges[i].upto, top);
		}
	}
	ck_assert_int_ge(db_apply(c.db, b.recs, b.n, b.ranges, b.nranges, NULL, NULL), 0);
	sync_batch_clear(&b);
	/* asked directly, a sends again only the bucket of versions where c
	   holds otherwise than a (the root, which c's own version won), not
	   the hundreds c got whole from m; its own claim counts */
	res = pull(&c, &a);
	ck_assert_uint_le(res.recs, SYNC_GAP_BUCKET_MIN);
	ck_assert_int_eq(res.applied, 0);
	assert_same_tree(&a, &c);
	res = pull(&c, &a);
	ck_assert_uint_eq(res.recs, 0);
	/* m withholds one of a's versions and relays the rest: c's claim for
	   a stops at the newest it got, and a, asked, sends them all again */
	ck_assert_int_eq(publish(&a, "/two", 2, 20), 0);
	ck_assert_int_eq(publish(&a, "/three", 3, 30), 0);
	pull(&m, &a);
	answer_to(&c, &m, &b);
	{
		size_t k = 0;

		for (size_t i = 0; i < b.n; i++) {
			if (b.recs[i].path != NULL && strcmp(b.recs[i].path, "/two") == 0) {
				db_rec_clear(&b.recs[i]);
				continue;
			}
			b.recs[k++] = b.recs[i];
		}
		ck_assert_uint_eq(k + 1, b.n);
		b.n = k;
	}
	ck_assert_int_eq(sync_check_reply(c.db, c.self, m.self, &b, NULL, NULL), 0);
	ck_assert_int_ge(db_apply(c.db, b.recs, b.n, b.ranges, b.nranges, NULL, NULL), 0);
	sync_batch_clear(&b);
	expect_absent(&c, "/two");
	res = pull(&c, &m);
	ck_assert_uint_eq(res.recs, 0);	/* m has nothing more to say */
	expect_absent(&c, "/two");
	res = pull(&c, &a);
	ck_assert_uint_gt(res.recs, 0);
	assert_same_tree(&a, &c);
	side_close(&a);
	side_close(&m);
	side_close(&c);
}
END_TEST

static int removed_a(const uint8_t pk[DB_NODE_BYTES], void *ctx)
{
	return memcmp(pk, ctx, DB_NODE_BYTES) == 0;
}

/* Versions and claims of a removed member are refused, relayed or not;
   a member's setuid/setgid bits never come through. */
START_TEST(test_removed_and_setid)
{
	struct side a, m, c;
	struct sync_batch b;
	struct db_entry e;

	side_open(&a, 0xaa);
	side_open(&m, 0xbb);
	side_open(&c, 0xcc);
	ck_assert_int_eq(publish(&a, "/x", 1, 10), 0);
	ck_assert_int_eq(db_setattr(a.db, "/x", DB_SET_MODE, 06755, 0, 0, 0), 0);
	pull(&m, &a);
	answer_to(&c, &m, &b);
	ck_assert_int_eq(sync_check_reply(c.db, c.self, m.self, &b, removed_a, a.self), 0);
	for (size_t i = 0; i < b.n; i++)
		ck_assert_mem_ne(b.recs[i].e.origin, a.self, DB_NODE_BYTES);
	for (size_t i = 0; i < b.nranges; i++)
		ck_assert_mem_ne(b.ranges[i].origin, a.self, DB_NODE_BYTES);
	sync_batch_clear(&b);
	pull(&c, &m);
	ck_assert_int_eq(db_get(c.db, "/x", &e), 0);
	ck_assert_uint_eq(e.mode, 0755);
	db_entry_clear(&e);
	ck_assert_int_eq(db_get(m.db, "/x", &e), 0);
	ck_assert_uint_eq(e.mode, 0755);
	db_entry_clear(&e);
	side_close(&a);
	side_close(&m);
	side_close(&c);
}
END_TEST

static Suite *sync_suite(void)
{
	Suite *s = suite_create("sync");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, base_make, base_remove);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_pull_roundtrip, 0, 4);
	tcase_add_test(tc, test_pull_limits);
	tcase_add_test(tc, test_news);
	tcase_add_test(tc, test_two_nodes);
	tcase_add_test(tc, test_two_nodes_in_parts);
	tcase_add_test(tc, test_budget);
	tcase_add_test(tc, test_answer_layout);
	tcase_add_test(tc, test_reply_truncated);
	tcase_add_loop_test(tc, test_reply_spoilt, 0, SP_COUNT);
	tcase_add_test(tc, test_reply_bad_records);
	tcase_add_test(tc, test_reply_bad_vv);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_unchecked_fixture(tc, base_make, base_remove);
	tcase_add_test(tc, test_forged_versions);
	tcase_add_test(tc, test_tampered_version);
	tcase_add_test(tc, test_claims_bounded);
	tcase_add_test(tc, test_removed_and_setid);
	tcase_add_test(tc, test_decode_memory);
	suite_add_tcase(s, tc);

	tc = tcase_create("found_bugs");
	tcase_add_unchecked_fixture(tc, base_make, base_remove);
	tcase_add_test(tc, test_rename_folder_synced);
	tcase_add_test(tc, test_three_nodes_folder_attrs);
	tcase_add_test(tc, test_far_future_hlc);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(sync_suite());
}
