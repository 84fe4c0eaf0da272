/* ident: the persistent identity, and that toxcore agrees on its Tox ID. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>
#include <tox/tox.h>
#include <unistd.h>

#define CHECK_TMP_NAME "check_ident"
#include "check_tmp.h"
#include "ident.h"
#include "check_run.h"

static void tmpdir(char *dir, size_t len)
{
	snprintf(dir, len, "%s/t.XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

START_TEST(test_create_and_reload)
{
	char dir[128], path[256];
	struct ident a, b;
	struct stat sb;

	tmpdir(dir, sizeof(dir));
	ck_assert_int_eq(ident_load(dir, 0, &a), -ENOENT);
	ck_assert_int_eq(ident_load(dir, 1, &a), 0);
	snprintf(path, sizeof(path), "%s/node.key", dir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(sb.st_size, IDENT_KEY_BYTES);
	ck_assert_int_eq(ident_load(dir, 0, &b), 0);
	ck_assert_mem_eq(a.secret, b.secret, IDENT_KEY_BYTES);
	ck_assert_mem_eq(a.public_key, b.public_key, IDENT_KEY_BYTES);
	ck_assert_mem_eq(a.nospam, b.nospam, IDENT_NOSPAM_BYTES);
	/* a damaged key is refused, not replaced */
	ck_assert_int_eq(truncate(path, 5), 0);
	ck_assert_int_eq(ident_load(dir, 1, &b), -EINVAL);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, 5);
	ident_clear(&a);
}
END_TEST

/* A new node's Tox key comes from its signing key, which anyone can
   check; the binding signature holds, and a forged one does not. */
START_TEST(test_signing_key_new)
{
	char dir[128], path[256];
	struct ident a, b;
	struct stat sb;
	uint8_t other[IDENT_KEY_BYTES], sig[IDENT_SIG_BYTES];

	tmpdir(dir, sizeof(dir));
	ck_assert_int_eq(ident_load(dir, 1, &a), 0);
	ck_assert_int_eq(a.derived, 1);
	ck_assert_int_eq(ident_derived_from(a.public_key, a.sign_pk), 1);
	ck_assert_int_eq(ident_bind_check(a.public_key, a.sign_pk, a.bind_sig), 0);
	snprintf(path, sizeof(path), "%s/sign.key", dir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(ident_load(dir, 0, &b), 0);
	ck_assert_mem_eq(a.sign_pk, b.sign_pk, IDENT_SIGN_PK_BYTES);
	ck_assert_mem_eq(a.public_key, b.public_key, IDENT_KEY_BYTES);
	/* another node id, or a damaged signature, does not bind */
	memcpy(other, a.public_key, sizeof(other));
	other[0] ^= 1;
	ck_assert_int_eq(ident_derived_from(other, a.sign_pk), 0);
	ck_assert_int_eq(ident_bind_check(other, a.sign_pk, a.bind_sig), -EBADMSG);
	memcpy(sig, a.bind_sig, sizeof(sig));
	sig[5] ^= 0x40;
	ck_assert_int_eq(ident_bind_check(a.public_key, a.sign_pk, sig), -EBADMSG);
	ident_clear(&a);
	ident_clear(&b);
}
END_TEST

/* A data dir made before signing keys (node.key alone) keeps its Tox
   key and gets a signing key that stays; its binding is not derived. */
START_TEST(test_signing_key_old_dir)
{
	char dir[128], path[256];
	uint8_t old[IDENT_KEY_BYTES];
	struct ident a, b;
	int fd;

	tmpdir(dir, sizeof(dir));
	randombytes_buf(old, sizeof(old));
	snprintf(path, sizeof(path), "%s/node.key", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, old, sizeof(old)), sizeof(old));
	close(fd);
	ck_assert_int_eq(ident_load(dir, 1, &a), 0);
	ck_assert_mem_eq(a.secret, old, sizeof(old));
	ck_assert_int_eq(a.derived, 0);
	ck_assert_int_eq(ident_bind_check(a.public_key, a.sign_pk, a.bind_sig), 0);
	ck_assert_int_eq(ident_load(dir, 0, &b), 0);
	ck_assert_mem_eq(a.sign_pk, b.sign_pk, IDENT_SIGN_PK_BYTES);
	ck_assert_mem_eq(b.secret, old, sizeof(old));
	ident_clear(&a);
	ident_clear(&b);
}
END_TEST

/* The address computed offline is the one toxcore gives the same key. */
START_TEST(test_toxcore_agrees)
{
	char dir[128], hex[2 * IDENT_ADDRESS_BYTES + 1];
	uint8_t mine[IDENT_ADDRESS_BYTES], theirs[TOX_ADDRESS_SIZE], pk[TOX_PUBLIC_KEY_SIZE];
	struct Tox_Options *o = tox_options_new(NULL);
	struct ident id;
	Tox_Err_New err;
	Tox *tox;

	ck_assert_int_eq(IDENT_ADDRESS_BYTES, TOX_ADDRESS_SIZE);
	tmpdir(dir, sizeof(dir));
	ck_assert_int_eq(ident_load(dir, 1, &id), 0);
	/* no sockets: this test talks to nobody */
	tox_options_set_udp_enabled(o, false);
	tox_options_set_local_discovery_enabled(o, false);
	tox_options_set_savedata_type(o, TOX_SAVEDATA_TYPE_SECRET_KEY);
	tox_options_set_savedata_data(o, id.secret, IDENT_KEY_BYTES);
	tox = tox_new(o, &err);
	ck_assert_int_eq(err, TOX_ERR_NEW_OK);
	tox_self_set_nospam(tox, ident_nospam(&id));
	tox_self_get_public_key(tox, pk);
	tox_self_get_address(tox, theirs);
	ident_address(&id, mine);
	ck_assert_mem_eq(pk, id.public_key, IDENT_KEY_BYTES);
	ck_assert_mem_eq(mine, theirs, TOX_ADDRESS_SIZE);
	ident_address_hex(&id, hex);
	ck_assert_uint_eq(strlen(hex), 76);
	tox_kill(tox);
	tox_options_free(o);
	ident_clear(&id);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ident");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, base_make, base_remove);
	tcase_add_test(tc, test_create_and_reload);
	tcase_add_test(tc, test_toxcore_agrees);
	tcase_add_test(tc, test_signing_key_new);
	tcase_add_test(tc, test_signing_key_old_dir);
	suite_add_tcase(s, tc);
	return check_run(s);
}
