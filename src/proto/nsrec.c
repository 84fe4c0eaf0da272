#include "nsrec.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"

/* ---- bytes ---- */

struct out {
	uint8_t *p;
	size_t len;
};

static void put(struct out *o, const void *v, size_t n)
{
	if (n > 0)
		memcpy(o->p + o->len, v, n);
	o->len += n;
}

static void put_u(struct out *o, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		o->p[o->len + (size_t)i] = (uint8_t)(v >> (8 * i));
	o->len += (size_t)bytes;
}

static void get_copy(struct le_rd *r, void *dst, size_t n)
{
	const uint8_t *p = le_get_bytes(r, n);

	if (p != NULL)
		memcpy(dst, p, n);
}

/* ---- ids ---- */

static const uint8_t zero_id[NSREC_ID_BYTES];

uint64_t nsrec_tag(const uint8_t origin[NSREC_NODE_BYTES])
{
	uint64_t t = 0;

	for (int i = 0; i < 7; i++)
		t = t << 8 | origin[i];
	return t;
}

int nsrec_id_is_trash(const uint8_t id[NSREC_ID_BYTES])
{
	for (int i = 0; i < NSREC_ID_BYTES; i++)
		if (id[i] != 0xff)
			return 0;
	return 1;
}

int nsrec_id_is_root(const uint8_t id[NSREC_ID_BYTES])
{
	return memcmp(id, zero_id, NSREC_ID_BYTES) == 0;
}

void nsrec_id_trash(uint8_t id[NSREC_ID_BYTES])
{
	memset(id, 0xff, NSREC_ID_BYTES);
}

int nsrec_id_class(const uint8_t id[NSREC_ID_BYTES])
{
	switch (id[0]) {
	case NSREC_ID_ROOT:
		return nsrec_id_is_root(id) ? NSREC_ID_ROOT : -1;
	case NSREC_ID_MADE:
	case NSREC_ID_COPY:
	case NSREC_ID_MIGRATED:
		return id[0];
	default:
		return -1;
	}
}

void nsrec_id_made(uint64_t tag, uint64_t counter, uint8_t id[NSREC_ID_BYTES])
{
	id[0] = NSREC_ID_MADE;
	for (int i = 0; i < 7; i++)
		id[1 + i] = (uint8_t)(tag >> (8 * (6 - i)));
	for (int i = 0; i < 8; i++)
		id[8 + i] = (uint8_t)(counter >> (8 * (7 - i)));
}

void nsrec_id_parts(const uint8_t id[NSREC_ID_BYTES], uint64_t *tag, uint64_t *counter)
{
	uint64_t t = 0, c = 0;

	for (int i = 0; i < 7; i++)
		t = t << 8 | id[1 + i];
	for (int i = 0; i < 8; i++)
		c = c << 8 | id[8 + i];
	*tag = t;
	*counter = c;
}

/* Class byte, then the first 15 bytes of BLAKE2b-128 of what (libsodium
   makes no digest shorter than 16 bytes). */
static void id_hash(int cls, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		    uint8_t id[NSREC_ID_BYTES])
{
	crypto_generichash_state st;
	uint8_t h[16];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, a, alen);
	crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, h, sizeof(h));
	id[0] = (uint8_t)cls;
	memcpy(id + 1, h, NSREC_ID_BYTES - 1);
}

void nsrec_id_copy(const uint8_t inode[NSREC_ID_BYTES], uint64_t hlc, uint64_t tag,
		   uint8_t id[NSREC_ID_BYTES])
{
	uint8_t v[16];
	struct out o = { v, 0 };

	put_u(&o, hlc, 8);
	put_u(&o, tag, 8);
	id_hash(NSREC_ID_COPY, inode, NSREC_ID_BYTES, v, sizeof(v), id);
}

void nsrec_id_path(const char *path, uint8_t id[NSREC_ID_BYTES])
{
	static const char label[] = "oand v5 path";	/* with its NUL */

	if (strcmp(path, "/") == 0) {
		memset(id, 0, NSREC_ID_BYTES);
		return;
	}
	id_hash(NSREC_ID_MIGRATED, (const uint8_t *)label, sizeof(label), (const uint8_t *)path,
		strlen(path), id);
}

/* ---- checks ---- */

static int flags_ok(int type, int flags)
{
	int allowed;

	switch (type) {
	case NSREC_PLACE:
		allowed = NSREC_TXN_MORE | NSREC_MIGRATED | NSREC_INIT;
		break;
	case NSREC_CONTENT:
		allowed = NSREC_TXN_MORE | NSREC_MIGRATED;
		break;
	case NSREC_ATTR:
		allowed = NSREC_TXN_MORE;
		break;
	case NSREC_XATTR:
	case NSREC_HOLD:
		allowed = NSREC_TXN_MORE | NSREC_REMOVE;
		break;
	case NSREC_FORGET:
		allowed = NSREC_TXN_MORE | NSREC_MIGRATED | NSREC_REJOIN;
		break;
	default:
		return 0;
	}
	return (flags & ~allowed) == 0;
}

/* A name of the tree: 1..255 bytes, no '/' or NUL, not "." or "..". */
static int name_ok(const uint8_t *n, size_t len)
{
	if (len == 0 || len > NSREC_NAME_MAX || n == NULL)
		return 0;
	if ((len == 1 && n[0] == '.') || (len == 2 && n[0] == '.' && n[1] == '.'))
		return 0;
	return memchr(n, '/', len) == NULL && memchr(n, 0, len) == NULL;
}

static int xattr_name_ok(const uint8_t *n, size_t len)
{
	if (len <= 5 || len > NSREC_NAME_MAX || n == NULL || memchr(n, 0, len) != NULL)
		return 0;
	if (memcmp(n, "user.", 5) != 0)
		return 0;
	return !(len >= 10 && memcmp(n, "user.oand.", 10) == 0);
}

static int sha_zero(const uint8_t sha[NSREC_SHA_BYTES])
{
	static const uint8_t z[NSREC_SHA_BYTES];

	return memcmp(sha, z, NSREC_SHA_BYTES) == 0;
}

/* An id a record names: a known class, and a class-0x01 id of the
   record's own origin made by a record not after it. */
static int id_ok(const struct nsrec *r, const uint8_t id[NSREC_ID_BYTES])
{
	int c = nsrec_id_class(id);

	if (c < 0)
		return 0;
	if (c == NSREC_ID_MADE) {
		uint64_t tag, counter;

		nsrec_id_parts(id, &tag, &counter);
		if (tag == nsrec_tag(r->origin) && (counter == 0 || counter > r->seq))
			return 0;
	}
	return 1;
}

static int kind_ok(int k)
{
	return k == 'f' || k == 'd' || k == 'l' || k == 'p' || k == 's' || k == 'c' || k == 'b';
}

/* What each type leaves zero, so that the encoding is canonical. */
static int unused_zero(const struct nsrec *r)
{
	int t = r->type, init = t == NSREC_PLACE && (r->flags & NSREC_INIT);
	int uses_place = t == NSREC_PLACE || t == NSREC_CONTENT;

	if (!uses_place && (!nsrec_id_is_root(r->entry) || !nsrec_id_is_root(r->parent)))
		return 0;
	if (t != NSREC_PLACE && !nsrec_id_is_root(r->from))
		return 0;
	if (t != NSREC_PLACE && t != NSREC_CONTENT && t != NSREC_ATTR && t != NSREC_XATTR &&
	    !nsrec_id_is_root(r->inode))
		return 0;
	if (!uses_place && t != NSREC_XATTR && r->name_len != 0)
		return 0;
	if (!uses_place && (r->base_hlc || r->base_tag))
		return 0;
	if (!init && (r->kind || r->rdev || r->target_len))
		return 0;
	if (!init && t != NSREC_ATTR && (r->mode || r->uid || r->gid))
		return 0;
	if (!init && t != NSREC_ATTR && t != NSREC_CONTENT && r->mtime_ns)
		return 0;
	if (t != NSREC_CONTENT && r->size)
		return 0;
	if (t != NSREC_CONTENT && t != NSREC_HOLD && !sha_zero(r->sha))
		return 0;
	if (t != NSREC_ATTR && r->mask)
		return 0;
	if (t != NSREC_XATTR && r->value_len)
		return 0;
	if (t != NSREC_FORGET && (!sha_zero(r->member) || r->cut || r->removed))
		return 0;
	return 1;
}

static int place_ok(const struct nsrec *r)
{
	int trash = nsrec_id_is_trash(r->parent);

	if (!id_ok(r, r->entry) || !id_ok(r, r->inode) || (!trash && !id_ok(r, r->parent)))
		return 0;
	if (!nsrec_id_is_trash(r->from) && !id_ok(r, r->from))
		return 0;
	if (trash ? r->name_len != 0 : !name_ok(r->name, r->name_len))
		return 0;
	if (r->base_hlc > INT64_MAX)
		return 0;
	if (!(r->flags & NSREC_INIT))
		return 1;
	if (!kind_ok(r->kind) || r->mode > 07777)
		return 0;
	if (r->kind == 'd' && memcmp(r->entry, r->inode, NSREC_ID_BYTES) != 0)
		return 0;
	if ((r->kind == 'l') != (r->target_len > 0))
		return 0;
	if (r->target_len > NSREC_TARGET_MAX || (r->target_len && memchr(r->target, 0, r->target_len)))
		return 0;
	if (r->rdev != 0 && r->kind != 'c' && r->kind != 'b')
		return 0;
	return 1;
}

int nsrec_check(const struct nsrec *r)
{
	int ok;

	if (!flags_ok(r->type, r->flags) || r->seq == 0 || r->seq > INT64_MAX || r->prev >= r->seq ||
	    r->hlc == 0 || r->hlc > INT64_MAX || r->wall_ns < 0 || !unused_zero(r))
		return -EBADMSG;
	switch (r->type) {
	case NSREC_PLACE:
		ok = place_ok(r);
		break;
	case NSREC_CONTENT:
		ok = id_ok(r, r->inode) && nsrec_id_class(r->inode) != NSREC_ID_ROOT &&
		     id_ok(r, r->entry) && id_ok(r, r->parent) && name_ok(r->name, r->name_len) &&
		     r->size <= NSREC_SIZE_MAX && (r->size == 0) == sha_zero(r->sha) &&
		     r->base_hlc <= INT64_MAX;
		break;
	case NSREC_ATTR:
		ok = id_ok(r, r->inode) && r->mask != 0 && r->mask <= 7 && r->mode <= 07777 &&
		     ((r->mask & NSREC_SET_MODE) || r->mode == 0) &&
		     ((r->mask & NSREC_SET_OWNER) || (r->uid == 0 && r->gid == 0)) &&
		     ((r->mask & NSREC_SET_MTIME) || r->mtime_ns == 0);
		break;
	case NSREC_XATTR:
		ok = id_ok(r, r->inode) && xattr_name_ok(r->name, r->name_len) &&
		     r->value_len <= NSREC_XATTR_VALUE_MAX &&
		     (!(r->flags & NSREC_REMOVE) || r->value_len == 0);
		break;
	case NSREC_HOLD:
		ok = !sha_zero(r->sha);
		break;
	case NSREC_FORGET:
		ok = r->cut <= INT64_MAX && r->removed <= 1;
		break;
	default:
		ok = 0;
	}
	return ok ? 0 : -EBADMSG;
}

/* ---- encoding ---- */

static size_t enc_len(const struct nsrec *r)
{
	switch (r->type) {
	case NSREC_PLACE:
		return NSREC_HEAD_BYTES + 64 + 1 + r->name_len + 16 +
		       ((r->flags & NSREC_INIT) ? 1 + 12 + 16 + 2 + r->target_len : 0);
	case NSREC_CONTENT:
		return NSREC_HEAD_BYTES + 16 + 16 + 8 + 32 + 8 + 32 + 1 + r->name_len;
	case NSREC_ATTR:
		return NSREC_HEAD_BYTES + 16 + 1 + 12 + 8;
	case NSREC_XATTR:
		return NSREC_HEAD_BYTES + 16 + 1 + r->name_len + 4 + r->value_len;
	case NSREC_HOLD:
		return NSREC_HEAD_BYTES + 32;
	default:
		return NSREC_HEAD_BYTES + 32 + 8 + 1;
	}
}

int nsrec_encode(const struct nsrec *r, uint8_t **out, size_t *len)
{
	struct out o;

	*out = NULL;
	*len = 0;
	if (nsrec_check(r) != 0)
		return -EINVAL;
	if ((o.p = malloc(enc_len(r))) == NULL)
		return -ENOMEM;
	o.len = 0;
	put_u(&o, r->type, 1);
	put_u(&o, r->flags, 1);
	put(&o, r->origin, NSREC_NODE_BYTES);
	put_u(&o, r->seq, 8);
	put_u(&o, r->prev, 8);
	put_u(&o, r->hlc, 8);
	put_u(&o, (uint64_t)r->wall_ns, 8);
	switch (r->type) {
	case NSREC_PLACE:
		put(&o, r->entry, 16);
		put(&o, r->inode, 16);
		put(&o, r->parent, 16);
		put(&o, r->from, 16);
		put_u(&o, r->name_len, 1);
		put(&o, r->name, r->name_len);
		put_u(&o, r->base_hlc, 8);
		put_u(&o, r->base_tag, 8);
		if (r->flags & NSREC_INIT) {
			put_u(&o, (uint64_t)r->kind, 1);
			put_u(&o, r->mode, 4);
			put_u(&o, r->uid, 4);
			put_u(&o, r->gid, 4);
			put_u(&o, r->rdev, 8);
			put_u(&o, (uint64_t)r->mtime_ns, 8);
			put_u(&o, r->target_len, 2);
			put(&o, r->target, r->target_len);
		}
		break;
	case NSREC_CONTENT:
		put(&o, r->inode, 16);
		put_u(&o, r->base_hlc, 8);
		put_u(&o, r->base_tag, 8);
		put_u(&o, r->size, 8);
		put(&o, r->sha, 32);
		put_u(&o, (uint64_t)r->mtime_ns, 8);
		put(&o, r->entry, 16);
		put(&o, r->parent, 16);
		put_u(&o, r->name_len, 1);
		put(&o, r->name, r->name_len);
		break;
	case NSREC_ATTR:
		put(&o, r->inode, 16);
		put_u(&o, r->mask, 1);
		put_u(&o, r->mode, 4);
		put_u(&o, r->uid, 4);
		put_u(&o, r->gid, 4);
		put_u(&o, (uint64_t)r->mtime_ns, 8);
		break;
	case NSREC_XATTR:
		put(&o, r->inode, 16);
		put_u(&o, r->name_len, 1);
		put(&o, r->name, r->name_len);
		put_u(&o, r->value_len, 4);
		put(&o, r->value, r->value_len);
		break;
	case NSREC_HOLD:
		put(&o, r->sha, 32);
		break;
	default:
		put(&o, r->member, 32);
		put_u(&o, r->cut, 8);
		put_u(&o, r->removed, 1);
	}
	*out = o.p;
	*len = o.len;
	return 0;
}

int nsrec_decode(const uint8_t *buf, size_t len, struct nsrec *r)
{
	struct le_rd d = { buf, len, 0 };

	memset(r, 0, sizeof(*r));
	if (len > NSREC_MAX_BYTES)
		return -EBADMSG;
	r->type = (uint8_t)le_get_u(&d, 1);
	r->flags = (uint8_t)le_get_u(&d, 1);
	get_copy(&d, r->origin, NSREC_NODE_BYTES);
	r->seq = le_get_u(&d, 8);
	r->prev = le_get_u(&d, 8);
	r->hlc = le_get_u(&d, 8);
	r->wall_ns = (int64_t)le_get_u(&d, 8);
	switch (r->type) {
	case NSREC_PLACE:
		get_copy(&d, r->entry, 16);
		get_copy(&d, r->inode, 16);
		get_copy(&d, r->parent, 16);
		get_copy(&d, r->from, 16);
		r->name_len = (size_t)le_get_u(&d, 1);
		r->name = le_get_bytes(&d, r->name_len);
		r->base_hlc = le_get_u(&d, 8);
		r->base_tag = le_get_u(&d, 8);
		if (r->flags & NSREC_INIT) {
			r->kind = (int)le_get_u(&d, 1);
			r->mode = (uint32_t)le_get_u(&d, 4);
			r->uid = (uint32_t)le_get_u(&d, 4);
			r->gid = (uint32_t)le_get_u(&d, 4);
			r->rdev = le_get_u(&d, 8);
			r->mtime_ns = (int64_t)le_get_u(&d, 8);
			r->target_len = (size_t)le_get_u(&d, 2);
			r->target = le_get_bytes(&d, r->target_len);
		}
		break;
	case NSREC_CONTENT:
		get_copy(&d, r->inode, 16);
		r->base_hlc = le_get_u(&d, 8);
		r->base_tag = le_get_u(&d, 8);
		r->size = le_get_u(&d, 8);
		get_copy(&d, r->sha, 32);
		r->mtime_ns = (int64_t)le_get_u(&d, 8);
		get_copy(&d, r->entry, 16);
		get_copy(&d, r->parent, 16);
		r->name_len = (size_t)le_get_u(&d, 1);
		r->name = le_get_bytes(&d, r->name_len);
		break;
	case NSREC_ATTR:
		get_copy(&d, r->inode, 16);
		r->mask = (uint8_t)le_get_u(&d, 1);
		r->mode = (uint32_t)le_get_u(&d, 4);
		r->uid = (uint32_t)le_get_u(&d, 4);
		r->gid = (uint32_t)le_get_u(&d, 4);
		r->mtime_ns = (int64_t)le_get_u(&d, 8);
		break;
	case NSREC_XATTR:
		get_copy(&d, r->inode, 16);
		r->name_len = (size_t)le_get_u(&d, 1);
		r->name = le_get_bytes(&d, r->name_len);
		r->value_len = (size_t)le_get_u(&d, 4);
		r->value = le_get_bytes(&d, r->value_len);
		break;
	case NSREC_HOLD:
		get_copy(&d, r->sha, 32);
		break;
	case NSREC_FORGET:
		get_copy(&d, r->member, 32);
		r->cut = le_get_u(&d, 8);
		r->removed = (uint8_t)le_get_u(&d, 1);
		break;
	default:
		d.bad = 1;
	}
	if (d.bad || d.left != 0 || nsrec_check(r) != 0) {
		memset(r, 0, sizeof(*r));
		return -EBADMSG;
	}
	return 0;
}

/* ---- signatures ---- */

static const char sig_label[] = "oand record 3";	/* with its NUL */

static void sig_start(crypto_sign_state *st, const uint8_t *rec, size_t len)
{
	crypto_sign_init(st);
	crypto_sign_update(st, (const uint8_t *)sig_label, sizeof(sig_label));
	crypto_sign_update(st, rec, len);
}

void nsrec_sign(const uint8_t *rec, size_t len, const uint8_t sign_sk[NSREC_SIGN_SK_BYTES],
		uint8_t sig[NSREC_SIG_BYTES])
{
	crypto_sign_state st;

	sig_start(&st, rec, len);
	crypto_sign_final_create(&st, sig, NULL, sign_sk);
}

int nsrec_sig_check(const uint8_t *rec, size_t len, const uint8_t sig[NSREC_SIG_BYTES],
		    const uint8_t pk[NSREC_SIGN_PK_BYTES])
{
	crypto_sign_state st;

	sig_start(&st, rec, len);
	return crypto_sign_final_verify(&st, sig, pk) == 0 ? 0 : -EBADMSG;
}

int nsrec_open(const uint8_t *wire, size_t len, const uint8_t pk[NSREC_SIGN_PK_BYTES],
	       struct nsrec *r)
{
	memset(r, 0, sizeof(*r));
	if (wire == NULL || len <= NSREC_SIG_BYTES)
		return -EBADMSG;
	if (nsrec_decode(wire, len - NSREC_SIG_BYTES, r) != 0)
		return -EBADMSG;
	if (nsrec_sig_check(wire, len - NSREC_SIG_BYTES, wire + len - NSREC_SIG_BYTES, pk) != 0) {
		memset(r, 0, sizeof(*r));
		return -EBADMSG;
	}
	return 0;
}
