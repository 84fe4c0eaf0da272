#include "syncwire.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "path.h"

/* ---- encoding: little-endian, lengths before contents ---- */

/* The fixed part of an encoded record: no record is shorter. */
#define REC_MIN_BYTES (2 + 1 + 1 + 4 + 4 + 4 + 8 + 8 + 8 + 8 + SYNCWIRE_NODE_BYTES + 8 + 1 + 2 + 2)

void syncwire_put(struct syncwire_buf *b, const void *v, size_t n)
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

void syncwire_put_u(struct syncwire_buf *b, uint64_t v, int bytes)
{
	uint8_t x[8];

	for (int i = 0; i < bytes; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	syncwire_put(b, x, (size_t)bytes);
}

int syncwire_encode_pull(const struct syncwire_range *have, size_t n,
			 const struct syncwire_gap *gap, uint8_t **out, size_t *len)
{
	struct syncwire_buf b = { 0 };

	*out = NULL;
	*len = 0;
	if (n > SYNCWIRE_ORIGINS_MAX)
		return -E2BIG;
	syncwire_put_u(&b, SYNCWIRE_VERSION, 1);
	syncwire_put_u(&b, n, 2);
	for (size_t i = 0; i < n; i++) {
		syncwire_put(&b, have[i].origin, SYNCWIRE_NODE_BYTES);
		syncwire_put_u(&b, have[i].upto, 8);
	}
	syncwire_put_u(&b, gap != NULL && gap->has, 1);
	if (gap != NULL && gap->has) {
		if (gap->n == 0 || gap->n > SYNCWIRE_GAP_BUCKETS) {
			free(b.p);
			return -EINVAL;
		}
		syncwire_put_u(&b, gap->direct, 8);
		syncwire_put_u(&b, gap->bucket, 8);
		syncwire_put_u(&b, gap->n, 2);
		syncwire_put(&b, gap->digest, gap->n * SYNCWIRE_DIGEST_BYTES);
	}
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

int syncwire_decode_pull(const uint8_t *buf, size_t len, struct syncwire_range **have, size_t *n,
			 struct syncwire_gap *gap)
{
	struct le_rd r = { buf, len, 0 };
	struct syncwire_gap g = { 0 };
	size_t k;

	*have = NULL;
	*n = 0;
	if (gap != NULL)
		memset(gap, 0, sizeof(*gap));
	if (le_get_u(&r, 1) != SYNCWIRE_VERSION)
		return -EPROTO;
	k = (size_t)le_get_u(&r, 2);
	if (r.bad || k > SYNCWIRE_ORIGINS_MAX || r.left < k * (SYNCWIRE_NODE_BYTES + 8) + 1)
		return -EBADMSG;
	r.p += k * (SYNCWIRE_NODE_BYTES + 8);
	r.left -= k * (SYNCWIRE_NODE_BYTES + 8);
	g.has = (int)le_get_u(&r, 1);
	if (g.has == 1) {
		const uint8_t *d;

		g.direct = le_get_u(&r, 8);
		g.bucket = le_get_u(&r, 8);
		g.n = (size_t)le_get_u(&r, 2);
		if (g.n == 0 || g.n > SYNCWIRE_GAP_BUCKETS || g.bucket == 0 || g.direct > INT64_MAX ||
		    g.bucket > INT64_MAX)
			return -EBADMSG;
		if ((d = le_get_bytes(&r, g.n * SYNCWIRE_DIGEST_BYTES)) != NULL)
			memcpy(g.digest, d, g.n * SYNCWIRE_DIGEST_BYTES);
	}
	if (r.bad || g.has > 1 || r.left != 0)
		return -EBADMSG;
	r.p = buf + 3;
	if (k > 0 && (*have = calloc(k, sizeof(**have))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < k; i++) {
		memcpy((*have)[i].origin, r.p, SYNCWIRE_NODE_BYTES);
		r.p += SYNCWIRE_NODE_BYTES;
		for (int j = 7; j >= 0; j--)
			(*have)[i].upto = (*have)[i].upto << 8 | r.p[j];
		r.p += 8;
	}
	*n = k;
	if (gap != NULL)
		*gap = g;
	return 0;
}

/* The signed form of a version: its encoding (put_rec), then SYNCWIRE_SIG_BYTES
   of Ed25519 signature by its origin's signing key over sig_label and the
   encoding (libsodium's multi-part crypto_sign, Ed25519ph). */
static const char sig_label[] = "oand version 1";

static void put_rec(struct syncwire_buf *b, const struct syncwire_rec *r)
{
	const struct syncwire_rec *e = r;
	size_t plen = r->path ? strlen(r->path) : 0, tlen = e->target && !e->deleted ? strlen(e->target) : 0;

	syncwire_put_u(b, plen, 2);
	syncwire_put(b, r->path, plen);
	syncwire_put_u(b, (uint64_t)e->kind, 1);
	syncwire_put_u(b, e->deleted != 0, 1);
	syncwire_put_u(b, e->mode & 07777, 4);
	syncwire_put_u(b, e->uid, 4);
	syncwire_put_u(b, e->gid, 4);
	syncwire_put_u(b, e->deleted ? 0 : e->size, 8);
	syncwire_put_u(b, (uint64_t)e->mtime_ns, 8);
	syncwire_put_u(b, (uint64_t)e->ctime_ns, 8);
	syncwire_put_u(b, e->hlc, 8);
	syncwire_put(b, e->origin, SYNCWIRE_NODE_BYTES);
	syncwire_put_u(b, e->seq, 8);
	int sha = e->has_sha && (!e->deleted || e->kind == SYNCWIRE_HOLDER);

	syncwire_put_u(b, sha, 1);
	if (sha)
		syncwire_put(b, e->sha256, SYNCWIRE_SHA_BYTES);
	syncwire_put_u(b, tlen, 2);
	syncwire_put(b, e->target, tlen);
	syncwire_put_u(b, r->vv_len, 2);
	syncwire_put(b, r->vv, r->vv_len);
}

/* 1 if vector a covers the single entry b: b's node at b's HLC or later
   (the first entry of the node counts, as db_vv_covers() reads it). */
static int vv_covers(const uint8_t *a, size_t alen, const uint8_t b[SYNCWIRE_VV_ENTRY])
{
	uint64_t at = 0, want = 0;

	for (size_t i = 0; i + SYNCWIRE_VV_ENTRY <= alen; i += SYNCWIRE_VV_ENTRY)
		if (memcmp(a + i, b, SYNCWIRE_NODE_BYTES) == 0) {
			for (int j = 7; j >= 0; j--)
				at = at << 8 | a[i + SYNCWIRE_NODE_BYTES + j];
			break;
		}
	for (int j = 7; j >= 0; j--)
		want = want << 8 | b[SYNCWIRE_NODE_BYTES + j];
	return at >= want;
}

/* Read and check one version.  0 or -EBADMSG. */
static int get_rec(struct le_rd *r, struct syncwire_rec *out)
{
	struct syncwire_rec *e = out;
	size_t plen, tlen, vlen;
	const uint8_t *p, *t, *v, *o;
	int has_sha;

	memset(out, 0, sizeof(*out));
	plen = (size_t)le_get_u(r, 2);
	p = le_get_bytes(r, plen);
	e->kind = (int)le_get_u(r, 1);
	e->deleted = (int)le_get_u(r, 1);
	e->mode = (uint32_t)le_get_u(r, 4);
	e->uid = (uint32_t)le_get_u(r, 4);
	e->gid = (uint32_t)le_get_u(r, 4);
	e->size = le_get_u(r, 8);
	e->mtime_ns = (int64_t)le_get_u(r, 8);
	e->ctime_ns = (int64_t)le_get_u(r, 8);
	e->hlc = le_get_u(r, 8);
	o = le_get_bytes(r, SYNCWIRE_NODE_BYTES);
	e->seq = le_get_u(r, 8);
	has_sha = (int)le_get_u(r, 1);
	if (has_sha == 1 && (t = le_get_bytes(r, SYNCWIRE_SHA_BYTES)) != NULL) {
		memcpy(e->sha256, t, SYNCWIRE_SHA_BYTES);
		e->has_sha = 1;
	}
	tlen = (size_t)le_get_u(r, 2);
	t = le_get_bytes(r, tlen);
	vlen = (size_t)le_get_u(r, 2);
	v = le_get_bytes(r, vlen);
	if (r->bad || p == NULL || o == NULL || has_sha > 1 || e->deleted > 1)
		return -EBADMSG;
	memcpy(e->origin, o, SYNCWIRE_NODE_BYTES);
	if (e->kind == SYNCWIRE_HOLDER) {
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
	if (e->kind != SYNCWIRE_FILE && e->kind != SYNCWIRE_DIR && e->kind != SYNCWIRE_LINK)
		goto bad;
	if (e->mode > 07777 || e->hlc == 0 || e->seq == 0 || e->seq > INT64_MAX ||
	    e->size > SYNCWIRE_SIZE_MAX || e->hlc > INT64_MAX)
		goto bad;
	if (strcmp(out->path, "/") == 0 && (e->kind != SYNCWIRE_DIR || e->deleted))
		goto bad;
	if (!e->deleted) {
		if (e->kind == SYNCWIRE_FILE && e->size > 0 && !e->has_sha)
			goto bad;
		if (e->kind != SYNCWIRE_FILE && e->has_sha)
			goto bad;
		if (e->kind == SYNCWIRE_LINK) {
			if (tlen == 0 || tlen >= PATH_TREE_MAX || memchr(t, 0, tlen) != NULL ||
			    (e->target = strndup((const char *)t, tlen)) == NULL)
				goto bad;
		} else if (tlen != 0) {
			goto bad;
		}
		if (e->kind == SYNCWIRE_DIR && e->size != 0)
			goto bad;
	} else if (tlen != 0 || e->has_sha || e->size != 0) {
		goto bad;
	}
	/* The version vector: sorted by node, each node once, and naming
	   this version itself. */
	if (vlen % SYNCWIRE_VV_ENTRY != 0 || vlen > SYNCWIRE_VV_BYTES)
		goto bad;
	for (size_t i = SYNCWIRE_VV_ENTRY; i < vlen; i += SYNCWIRE_VV_ENTRY)
		if (memcmp(v + i - SYNCWIRE_VV_ENTRY, v + i, SYNCWIRE_NODE_BYTES) >= 0)
			goto bad;
	if (vlen > 0) {
		if ((out->vv = malloc(vlen)) == NULL)
			goto bad;
		memcpy(out->vv, v, vlen);
	}
	out->vv_len = vlen;
	{
		uint8_t self[SYNCWIRE_VV_ENTRY];

		memcpy(self, e->origin, SYNCWIRE_NODE_BYTES);
		for (int i = 0; i < 8; i++)
			self[SYNCWIRE_NODE_BYTES + i] = (uint8_t)(e->hlc >> (8 * i));
		if (!vv_covers(out->vv, out->vv_len, self))
			goto bad;
	}
	return 0;
bad:
	syncwire_rec_clear(out);
	return -EBADMSG;
}

void syncwire_rec_clear(struct syncwire_rec *r)
{
	free(r->path);
	free(r->target);
	free(r->vv);
	free(r->wire);
	memset(r, 0, sizeof(*r));
}

void syncwire_reply_clear(struct syncwire_reply *b)
{
	for (size_t i = 0; i < b->n; i++)
		syncwire_rec_clear(&b->recs[i]);
	free(b->recs);
	free(b->ranges);
	free(b->keys);
	memset(b, 0, sizeof(*b));
}

#define KEY_BYTES (SYNCWIRE_NODE_BYTES + SYNCWIRE_SIGN_PK_BYTES + SYNCWIRE_BIND_SIG_BYTES)

int syncwire_decode_reply(const uint8_t *buf, size_t len, struct syncwire_reply *b)
{
	struct le_rd r = { buf, len, 0 };
	size_t nkeys, nranges, nrecs, cap = 0;
	int more, e = 0;

	memset(b, 0, sizeof(*b));
	if (le_get_u(&r, 1) != SYNCWIRE_VERSION)
		return -EPROTO;
	more = (int)le_get_u(&r, 1);
	nkeys = (size_t)le_get_u(&r, 2);
	nranges = (size_t)le_get_u(&r, 2);
	nrecs = (size_t)le_get_u(&r, 4);
	if (r.bad || more > 1 || nkeys > SYNCWIRE_ORIGINS_MAX || nranges > SYNCWIRE_ORIGINS_MAX ||
	    nrecs > SYNCWIRE_RECS_MAX ||
	    r.left < nkeys * KEY_BYTES + nranges * (SYNCWIRE_NODE_BYTES + 8) +
			     nrecs * (REC_MIN_BYTES + SYNCWIRE_SIG_BYTES))
		return -EBADMSG;
	b->more = more;
	if ((nkeys > 0 && (b->keys = calloc(nkeys, sizeof(*b->keys))) == NULL) ||
	    (nranges > 0 && (b->ranges = calloc(nranges, sizeof(*b->ranges))) == NULL)) {
		syncwire_reply_clear(b);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nkeys; i++) {
		memcpy(b->keys[i].origin, le_get_bytes(&r, SYNCWIRE_NODE_BYTES), SYNCWIRE_NODE_BYTES);
		memcpy(b->keys[i].pk, le_get_bytes(&r, SYNCWIRE_SIGN_PK_BYTES), SYNCWIRE_SIGN_PK_BYTES);
		memcpy(b->keys[i].sig, le_get_bytes(&r, SYNCWIRE_BIND_SIG_BYTES), SYNCWIRE_BIND_SIG_BYTES);
	}
	b->nkeys = nkeys;
	for (size_t i = 0; i < nranges; i++) {
		memcpy(b->ranges[i].origin, le_get_bytes(&r, SYNCWIRE_NODE_BYTES), SYNCWIRE_NODE_BYTES);
		b->ranges[i].upto = le_get_u(&r, 8);
		if (b->ranges[i].upto > INT64_MAX)
			e = -EBADMSG;
	}
	b->nranges = nranges;
	/* Records: memory grows with what arrived, not with the count the
	   head claims. */
	for (size_t i = 0; i < nrecs && e == 0; i++) {
		const uint8_t *at = r.p;
		struct syncwire_rec *rec;

		if (b->n == cap) {
			size_t c = cap ? 2 * cap : 64;
			struct syncwire_rec *v;

			if (c > nrecs)
				c = nrecs;
			if ((v = realloc(b->recs, c * sizeof(*v))) == NULL) {
				e = -ENOMEM;
				break;
			}
			b->recs = v;
			cap = c;
		}
		rec = &b->recs[b->n];
		if ((e = get_rec(&r, rec)) != 0)
			break;
		if (le_get_bytes(&r, SYNCWIRE_SIG_BYTES) == NULL ||
		    (rec->wire = malloc((size_t)(r.p - at))) == NULL) {
			e = r.bad ? -EBADMSG : -ENOMEM;
			syncwire_rec_clear(rec);
			break;
		}
		rec->wire_len = (size_t)(r.p - at);
		memcpy(rec->wire, at, rec->wire_len);
		b->n++;
	}
	if (e == 0 && (r.bad || r.left != 0))
		e = -EBADMSG;
	if (e != 0)
		syncwire_reply_clear(b);
	return e;
}

/* ---- signatures ---- */

static void sig_start(crypto_sign_state *st, const uint8_t *rec, size_t len)
{
	crypto_sign_init(st);
	crypto_sign_update(st, (const uint8_t *)sig_label, sizeof(sig_label));
	crypto_sign_update(st, rec, len);
}

int syncwire_sign_rec(const struct syncwire_rec *r, const uint8_t sign_sk[SYNCWIRE_SIGN_SK_BYTES],
		      uint8_t **wire, size_t *len)
{
	struct syncwire_buf b = { 0 };
	crypto_sign_state st;

	*wire = NULL;
	*len = 0;
	put_rec(&b, r);
	syncwire_put(&b, (const uint8_t[SYNCWIRE_SIG_BYTES]){ 0 }, SYNCWIRE_SIG_BYTES);
	if (b.err) {
		free(b.p);
		return b.err;
	}
	sig_start(&st, b.p, b.len - SYNCWIRE_SIG_BYTES);
	crypto_sign_final_create(&st, b.p + b.len - SYNCWIRE_SIG_BYTES, NULL, sign_sk);
	*wire = b.p;
	*len = b.len;
	return 0;
}

int syncwire_sig_check(const uint8_t *wire, size_t len, const uint8_t pk[SYNCWIRE_SIGN_PK_BYTES])
{
	crypto_sign_state st;

	if (wire == NULL || len <= SYNCWIRE_SIG_BYTES)
		return -EBADMSG;
	sig_start(&st, wire, len - SYNCWIRE_SIG_BYTES);
	return crypto_sign_final_verify(&st, wire + len - SYNCWIRE_SIG_BYTES, pk) == 0 ? 0 : -EBADMSG;
}

/* ---- answering ---- */

void syncwire_put_key(struct syncwire_buf *b, const uint8_t origin[SYNCWIRE_NODE_BYTES],
		      const uint8_t pk[SYNCWIRE_SIGN_PK_BYTES], const uint8_t sig[SYNCWIRE_BIND_SIG_BYTES])
{
	syncwire_put(b, origin, SYNCWIRE_NODE_BYTES);
	syncwire_put(b, pk, SYNCWIRE_SIGN_PK_BYTES);
	syncwire_put(b, sig, SYNCWIRE_BIND_SIG_BYTES);
}

int syncwire_put_answer(int more, size_t nkeys, const struct syncwire_buf *keys, size_t nranges,
			const struct syncwire_buf *ranges, size_t nrecs, const struct syncwire_buf *recs,
			uint8_t **out, size_t *len)
{
	struct syncwire_buf b = { 0 };

	syncwire_put_u(&b, SYNCWIRE_VERSION, 1);
	syncwire_put_u(&b, more != 0, 1);
	syncwire_put_u(&b, nkeys, 2);
	syncwire_put_u(&b, nranges, 2);
	syncwire_put_u(&b, nrecs, 4);
	syncwire_put(&b, keys->p, keys->len);
	syncwire_put(&b, ranges->p, ranges->len);
	syncwire_put(&b, recs->p, recs->len);
	if (b.err | keys->err | ranges->err | recs->err) {
		free(b.p);
		return b.err ? b.err : -ENOMEM;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

/* ---- news ---- */

void syncwire_encode_news(uint64_t seq, uint8_t out[SYNCWIRE_NEWS_BYTES])
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(seq >> (8 * i));
}

int syncwire_decode_news(const uint8_t *body, size_t len, uint64_t *seq)
{
	uint64_t v = 0;

	*seq = 0;
	if (len != SYNCWIRE_NEWS_BYTES)
		return -EBADMSG;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | body[i];
	*seq = v;
	return 0;
}
