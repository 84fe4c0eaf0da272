/*
 * Unit tests for src/proto/nsrec, the records of the namespace: every
 * type encodes and decodes to the same bytes, every check of section 2.2
 * refuses what it should (each by one change to a good record), truncated
 * and extended records are refused, signatures hold and break, and ids
 * are made as section 1.1 says.
 */
#include <check.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "nsrec.h"

static const uint8_t origin[NSREC_NODE_BYTES] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };

static void base(struct nsrec *r, int type)
{
	memset(r, 0, sizeof(*r));
	r->type = (uint8_t)type;
	memcpy(r->origin, origin, sizeof(origin));
	r->seq = 10;
	r->prev = 9;
	r->hlc = 0x123456780001ull;
	r->wall_ns = 1700000000000000000ll;
}

static void made(uint64_t counter, uint8_t id[NSREC_ID_BYTES])
{
	nsrec_id_made(nsrec_tag(origin), counter, id);
}

/* A good record of each kind. */
static void good(struct nsrec *r, int which)
{
	switch (which) {
	case 0:	/* a create: M with INIT, a file */
		base(r, NSREC_PLACE);
		r->flags = NSREC_INIT;
		made(10, r->entry);
		made(10, r->inode);
		made(3, r->parent);
		nsrec_id_trash(r->from);
		r->name = (const uint8_t *)"a file";
		r->name_len = 6;
		r->kind = 'f';
		r->mode = 0644;
		r->uid = 1000;
		r->gid = 1000;
		r->mtime_ns = 5;
		break;
	case 1:	/* a symlink */
		good(r, 0);
		r->kind = 'l';
		r->target = (const uint8_t *)"../x";
		r->target_len = 4;
		break;
	case 2:	/* a move of a folder */
		base(r, NSREC_PLACE);
		made(4, r->entry);
		made(4, r->inode);
		made(3, r->parent);
		r->name = (const uint8_t *)"d";
		r->name_len = 1;
		r->flags = NSREC_TXN_MORE;
		break;
	case 3:	/* an unlink, into the trash */
		base(r, NSREC_PLACE);
		made(5, r->entry);
		made(5, r->inode);
		nsrec_id_trash(r->parent);
		made(3, r->from);
		r->base_hlc = 77;
		r->base_tag = nsrec_tag(origin);
		break;
	case 4:	/* a write */
		base(r, NSREC_CONTENT);
		made(5, r->inode);
		r->base_hlc = 77;
		r->base_tag = 9;
		r->size = 12;
		memset(r->sha, 0xab, sizeof(r->sha));
		r->mtime_ns = -1;
		made(5, r->entry);
		r->name = (const uint8_t *)"f";
		r->name_len = 1;
		break;
	case 5:	/* chmod + utimens */
		base(r, NSREC_ATTR);
		made(5, r->inode);
		r->mask = NSREC_SET_MODE | NSREC_SET_MTIME;
		r->mode = 04755;
		r->mtime_ns = 99;
		break;
	case 6:	/* setxattr */
		base(r, NSREC_XATTR);
		made(5, r->inode);
		r->name = (const uint8_t *)"user.k";
		r->name_len = 6;
		r->value = (const uint8_t *)"v\0v";
		r->value_len = 3;
		break;
	case 7:	/* a holding */
		base(r, NSREC_HOLD);
		memset(r->sha, 1, sizeof(r->sha));
		r->flags = NSREC_REMOVE;
		break;
	case 8:	/* a forget */
		base(r, NSREC_FORGET);
		memset(r->member, 9, sizeof(r->member));
		r->cut = 40;
		r->removed = 1;
		break;
	case 9:	/* a device node, migrated id, root parent */
		good(r, 0);
		r->kind = 'c';
		r->rdev = 0x0103;
		nsrec_id_path("/dev/null", r->entry);
		memcpy(r->inode, r->entry, NSREC_ID_BYTES);
		memset(r->parent, 0, NSREC_ID_BYTES);
		break;
	}
}
#define GOOD_N 10

START_TEST(test_roundtrip)
{
	struct nsrec r, d;
	uint8_t *buf = NULL, *again = NULL;
	size_t len, len2;

	good(&r, _i);
	ck_assert_int_eq(nsrec_check(&r), 0);
	ck_assert_int_eq(nsrec_encode(&r, &buf, &len), 0);
	ck_assert_int_eq(nsrec_decode(buf, len, &d), 0);
	ck_assert_int_eq(d.type, r.type);
	ck_assert_int_eq(d.flags, r.flags);
	ck_assert_uint_eq(d.seq, r.seq);
	ck_assert_uint_eq(d.hlc, r.hlc);
	ck_assert_int_eq(d.wall_ns, r.wall_ns);
	ck_assert_int_eq(memcmp(d.inode, r.inode, NSREC_ID_BYTES), 0);
	ck_assert_uint_eq(d.name_len, r.name_len);
	if (r.name_len)
		ck_assert_int_eq(memcmp(d.name, r.name, r.name_len), 0);
	ck_assert_int_eq(d.mtime_ns, r.mtime_ns);
	ck_assert_int_eq(nsrec_encode(&d, &again, &len2), 0);
	ck_assert_uint_eq(len2, len);
	ck_assert_int_eq(memcmp(again, buf, len), 0);
	/* Every shorter prefix and one more byte are refused. */
	for (size_t n = 0; n < len; n++)
		ck_assert_int_eq(nsrec_decode(buf, n, &d), -EBADMSG);
	buf = realloc(buf, len + 1);
	buf[len] = 0;
	ck_assert_int_eq(nsrec_decode(buf, len + 1, &d), -EBADMSG);
	free(buf);
	free(again);
}
END_TEST

/* Each mutation makes one good record bad. */
struct bad {
	int which;
	void (*mut)(struct nsrec *r);
	const char *what;
};

static uint8_t name_buf[300], target_buf[5000];

static void m_type(struct nsrec *r) { r->type = 'Z'; }
static void m_flag(struct nsrec *r) { r->flags |= NSREC_REMOVE; }
static void m_rejoin_on_m(struct nsrec *r) { r->flags |= NSREC_REJOIN; }
static void m_init_on_c(struct nsrec *r) { r->flags |= NSREC_INIT; }
static void m_seq0(struct nsrec *r) { r->seq = 0; r->prev = 0; }
static void m_seq_big(struct nsrec *r) { r->seq = 1ull << 63; }
static void m_prev(struct nsrec *r) { r->prev = r->seq; }
static void m_hlc0(struct nsrec *r) { r->hlc = 0; }
static void m_hlc_big(struct nsrec *r) { r->hlc = 1ull << 63; }
static void m_wall(struct nsrec *r) { r->wall_ns = -1; }
static void m_name_empty(struct nsrec *r) { r->name_len = 0; }
static void m_name_slash(struct nsrec *r) { r->name = (const uint8_t *)"a/b"; r->name_len = 3; }
static void m_name_nul(struct nsrec *r) { r->name = (const uint8_t *)"a\0b"; r->name_len = 3; }
static void m_name_dot(struct nsrec *r) { r->name = (const uint8_t *)"."; r->name_len = 1; }
static void m_name_dotdot(struct nsrec *r) { r->name = (const uint8_t *)".."; r->name_len = 2; }
static void m_name_long(struct nsrec *r)
{
	memset(name_buf, 'n', sizeof(name_buf));
	r->name = name_buf;
	r->name_len = 256;
}
static void m_trash_named(struct nsrec *r) { r->name = (const uint8_t *)"x"; r->name_len = 1; }
static void m_target_on_file(struct nsrec *r) { r->target = (const uint8_t *)"t"; r->target_len = 1; }
static void m_target_missing(struct nsrec *r) { r->target_len = 0; }
static void m_target_nul(struct nsrec *r) { r->target = (const uint8_t *)"a\0"; r->target_len = 2; }
static void m_target_long(struct nsrec *r)
{
	memset(target_buf, 't', sizeof(target_buf));
	r->target = target_buf;
	r->target_len = 4096;
}
static void m_rdev_on_file(struct nsrec *r) { r->rdev = 1; }
static void m_mode(struct nsrec *r) { r->mode = 010000; }
static void m_kind(struct nsrec *r) { r->kind = 'x'; }
static void m_size(struct nsrec *r) { r->size = NSREC_SIZE_MAX + 1; }
static void m_size0_sha(struct nsrec *r) { r->size = 0; }
static void m_sha_missing(struct nsrec *r) { memset(r->sha, 0, sizeof(r->sha)); }
static void m_id_class(struct nsrec *r) { r->inode[0] = 7; }
static void m_root_nonzero(struct nsrec *r) { memset(r->parent, 0, 16); r->parent[5] = 1; }
static void m_trash_inode(struct nsrec *r) { nsrec_id_trash(r->inode); }
static void m_trash_via(struct nsrec *r) { nsrec_id_trash(r->parent); }
static void m_folder_entry(struct nsrec *r) { r->kind = 'd'; made(9, r->entry); }
static void m_future_id(struct nsrec *r) { made(11, r->inode); }
static void m_zero_counter(struct nsrec *r) { made(0, r->entry); }
static void m_xname_user(struct nsrec *r) { r->name = (const uint8_t *)"trusted.k"; r->name_len = 9; }
static void m_xname_oand(struct nsrec *r) { r->name = (const uint8_t *)"user.oand.sha256"; r->name_len = 16; }
static void m_xname_bare(struct nsrec *r) { r->name = (const uint8_t *)"user."; r->name_len = 5; }
static void m_xvalue(struct nsrec *r) { r->value_len = NSREC_XATTR_VALUE_MAX + 1; }
static void m_xremove_value(struct nsrec *r) { r->flags |= NSREC_REMOVE; }
static void m_mask0(struct nsrec *r) { r->mask = 0; }
static void m_mask8(struct nsrec *r) { r->mask = 8; }
static void m_unmasked(struct nsrec *r) { r->uid = 1; }
static void m_hold_sha(struct nsrec *r) { memset(r->sha, 0, sizeof(r->sha)); }
static void m_removed2(struct nsrec *r) { r->removed = 2; }
static void m_stray_size(struct nsrec *r) { r->size = 1; }
static void m_stray_mode(struct nsrec *r) { r->mode = 1; }
static void m_stray_member(struct nsrec *r) { r->member[0] = 1; }
static void m_stray_entry(struct nsrec *r) { r->entry[0] = 1; }

static const struct bad bads[] = {
	{ 0, m_type, "unknown type" },
	{ 0, m_flag, "a flag of another type" },
	{ 2, m_rejoin_on_m, "REJOIN on M" },
	{ 4, m_init_on_c, "INIT on C" },
	{ 4, m_seq0, "seq 0" },
	{ 4, m_seq_big, "seq 2^63" },
	{ 4, m_prev, "prev not before seq" },
	{ 5, m_hlc0, "hlc 0" },
	{ 5, m_hlc_big, "hlc 2^63" },
	{ 5, m_wall, "wall before the epoch" },
	{ 0, m_name_empty, "empty name" },
	{ 0, m_name_slash, "name with /" },
	{ 0, m_name_nul, "name with NUL" },
	{ 2, m_name_dot, "name ." },
	{ 2, m_name_dotdot, "name .." },
	{ 4, m_name_long, "via name of 256" },
	{ 3, m_trash_named, "trash with a name" },
	{ 0, m_target_on_file, "target on a file" },
	{ 1, m_target_missing, "symlink without target" },
	{ 1, m_target_nul, "target with NUL" },
	{ 1, m_target_long, "target of 4096" },
	{ 0, m_rdev_on_file, "rdev on a file" },
	{ 0, m_mode, "mode above 07777" },
	{ 5, m_mode, "A mode above 07777" },
	{ 0, m_kind, "unknown kind" },
	{ 4, m_size, "size above 2^50" },
	{ 4, m_size0_sha, "empty content with a hash" },
	{ 4, m_sha_missing, "content without a hash" },
	{ 4, m_id_class, "unknown id class" },
	{ 2, m_root_nonzero, "class 0 not zero" },
	{ 5, m_trash_inode, "trash as an inode" },
	{ 4, m_trash_via, "trash as via parent" },
	{ 0, m_folder_entry, "folder entry apart from its inode" },
	{ 2, m_future_id, "own id made after the record" },
	{ 2, m_zero_counter, "own id with counter 0" },
	{ 6, m_xname_user, "xattr outside user." },
	{ 6, m_xname_oand, "xattr user.oand." },
	{ 6, m_xname_bare, "xattr user. alone" },
	{ 6, m_xvalue, "xattr value too long" },
	{ 6, m_xremove_value, "xattr REMOVE with a value" },
	{ 5, m_mask0, "empty mask" },
	{ 5, m_mask8, "unknown mask bit" },
	{ 5, m_unmasked, "owner outside the mask" },
	{ 7, m_hold_sha, "holding without hash" },
	{ 8, m_removed2, "removed 2" },
	{ 2, m_stray_size, "size on M" },
	{ 2, m_stray_mode, "mode on M without INIT" },
	{ 2, m_stray_member, "member on M" },
	{ 5, m_stray_entry, "entry on A" },
};

START_TEST(test_checks)
{
	const struct bad *b = &bads[_i];
	struct nsrec r;
	uint8_t *buf = NULL;
	size_t len;

	good(&r, b->which);
	ck_assert_int_eq(nsrec_check(&r), 0);
	b->mut(&r);
	ck_assert_msg(nsrec_check(&r) == -EBADMSG, "passed: %s", b->what);
	ck_assert_int_eq(nsrec_encode(&r, &buf, &len), -EINVAL);
	ck_assert_ptr_null(buf);
}
END_TEST

/* The decoder applies the same checks: bytes of a good record changed
   in one field on the wire. */
START_TEST(test_decode_refuses)
{
	struct nsrec r, d;
	uint8_t *buf;
	size_t len;

	good(&r, 0);
	ck_assert_int_eq(nsrec_encode(&r, &buf, &len), 0);
	buf[0] = 'Q';		/* type */
	ck_assert_int_eq(nsrec_decode(buf, len, &d), -EBADMSG);
	buf[0] = 'M';
	buf[1] = 0x40;		/* flags */
	ck_assert_int_eq(nsrec_decode(buf, len, &d), -EBADMSG);
	buf[1] = NSREC_INIT;
	memset(buf + 34, 0, 8);	/* seq */
	ck_assert_int_eq(nsrec_decode(buf, len, &d), -EBADMSG);
	free(buf);
	good(&r, 0);
	ck_assert_int_eq(nsrec_encode(&r, &buf, &len), 0);
	buf[NSREC_HEAD_BYTES + 64 + 1] = '/';	/* the name's first byte */
	ck_assert_int_eq(nsrec_decode(buf, len, &d), -EBADMSG);
	buf[NSREC_HEAD_BYTES + 64 + 1] = 'a';
	ck_assert_int_eq(nsrec_decode(buf, len, &d), 0);
	buf[NSREC_HEAD_BYTES + 64] = 200;	/* name length past the end */
	ck_assert_int_eq(nsrec_decode(buf, len, &d), -EBADMSG);
	free(buf);
	ck_assert_int_eq(nsrec_decode(NULL, 0, &d), -EBADMSG);
}
END_TEST

START_TEST(test_signature)
{
	uint8_t pk[NSREC_SIGN_PK_BYTES], sk[NSREC_SIGN_SK_BYTES], pk2[NSREC_SIGN_PK_BYTES],
		sk2[NSREC_SIGN_SK_BYTES], sig[NSREC_SIG_BYTES];
	struct nsrec r, d;
	uint8_t *buf, *wire;
	size_t len;

	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
	good(&r, 4);
	ck_assert_int_eq(nsrec_encode(&r, &buf, &len), 0);
	nsrec_sign(buf, len, sk, sig);
	ck_assert_int_eq(nsrec_sig_check(buf, len, sig, pk), 0);
	ck_assert_int_eq(nsrec_sig_check(buf, len, sig, pk2), -EBADMSG);
	wire = malloc(len + NSREC_SIG_BYTES);
	memcpy(wire, buf, len);
	memcpy(wire + len, sig, NSREC_SIG_BYTES);
	ck_assert_int_eq(nsrec_open(wire, len + NSREC_SIG_BYTES, pk, &d), 0);
	ck_assert_uint_eq(d.size, 12);
	ck_assert_int_eq(nsrec_open(wire, len + NSREC_SIG_BYTES, pk2, &d), -EBADMSG);
	/* Any byte changed breaks it, in the record or the signature. */
	for (size_t i = 0; i < len + NSREC_SIG_BYTES; i += 7) {
		wire[i] ^= 0x01;
		ck_assert_int_eq(nsrec_open(wire, len + NSREC_SIG_BYTES, pk, &d), -EBADMSG);
		wire[i] ^= 0x01;
	}
	ck_assert_int_eq(nsrec_open(wire, NSREC_SIG_BYTES, pk, &d), -EBADMSG);
	/* A signature over the same bytes by another label (versions of
	   protocol 2) does not pass: the label is part of what is signed. */
	{
		crypto_sign_state st;
		static const char other[] = "oand version 1";

		crypto_sign_init(&st);
		crypto_sign_update(&st, (const uint8_t *)other, sizeof(other));
		crypto_sign_update(&st, buf, len);
		crypto_sign_final_create(&st, sig, NULL, sk);
		ck_assert_int_eq(nsrec_sig_check(buf, len, sig, pk), -EBADMSG);
	}
	free(buf);
	free(wire);
}
END_TEST

START_TEST(test_ids)
{
	uint8_t id[NSREC_ID_BYTES], id2[NSREC_ID_BYTES], ino[NSREC_ID_BYTES];
	uint64_t tag, counter;

	ck_assert_uint_eq(nsrec_tag(origin), 0x11223344556677ull);
	nsrec_id_made(0x11223344556677ull, 0x0102030405060708ull, id);
	ck_assert_int_eq(id[0], 1);
	ck_assert_int_eq(id[1], 0x11);
	ck_assert_int_eq(id[15], 0x08);
	nsrec_id_parts(id, &tag, &counter);
	ck_assert_uint_eq(tag, 0x11223344556677ull);
	ck_assert_uint_eq(counter, 0x0102030405060708ull);
	ck_assert_int_eq(nsrec_id_class(id), NSREC_ID_MADE);
	memcpy(ino, id, sizeof(ino));
	nsrec_id_copy(ino, 5, 6, id);
	nsrec_id_copy(ino, 5, 6, id2);
	ck_assert_int_eq(id[0], NSREC_ID_COPY);
	ck_assert_int_eq(memcmp(id, id2, sizeof(id)), 0);
	nsrec_id_copy(ino, 5, 7, id2);
	ck_assert_int_ne(memcmp(id, id2, sizeof(id)), 0);
	nsrec_id_path("/a/b", id);
	ck_assert_int_eq(nsrec_id_class(id), NSREC_ID_MIGRATED);
	nsrec_id_path("/a/c", id2);
	ck_assert_int_ne(memcmp(id, id2, sizeof(id)), 0);
	nsrec_id_path("/", id);
	ck_assert(nsrec_id_is_root(id));
	ck_assert_int_eq(nsrec_id_class(id), NSREC_ID_ROOT);
	nsrec_id_trash(id);
	ck_assert(nsrec_id_is_trash(id));
	ck_assert_int_eq(nsrec_id_class(id), -1);
	id[0] = 4;
	ck_assert_int_eq(nsrec_id_class(id), -1);
}
END_TEST

static Suite *nsrec_suite(void)
{
	Suite *s = suite_create("nsrec");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_roundtrip, 0, GOOD_N);
	tcase_add_loop_test(tc, test_checks, 0, (int)(sizeof(bads) / sizeof(bads[0])));
	tcase_add_test(tc, test_decode_refuses);
	tcase_add_test(tc, test_signature);
	tcase_add_test(tc, test_ids);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (sodium_init() < 0)
		return EXIT_FAILURE;
	return check_run(nsrec_suite());
}
