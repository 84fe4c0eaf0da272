/* admit: proofs of the cluster key, bound to direction and both ends. */
#include <check.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "check_run.h"

static uint8_t key[32], other[32], a[32], b[32], c[32];

static void setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	randombytes_buf(key, sizeof(key));
	randombytes_buf(other, sizeof(other));
	randombytes_buf(a, sizeof(a));
	randombytes_buf(b, sizeof(b));
	randombytes_buf(c, sizeof(c));
}

START_TEST(test_proof_binds_key_and_ends)
{
	uint8_t p[ADMIT_PROOF_BYTES];

	admit_proof(key, a, b, p);
	ck_assert_int_eq(admit_check(key, a, b, p), 0);
	ck_assert_int_eq(admit_check(other, a, b, p), -EACCES);	/* wrong key */
	ck_assert_int_eq(admit_check(key, b, a, p), -EACCES);	/* other direction */
	ck_assert_int_eq(admit_check(key, a, c, p), -EACCES);	/* other pair */
	ck_assert_int_eq(admit_check(key, c, b, p), -EACCES);
	for (int i = 0; i < ADMIT_PROOF_BYTES; i++) {		/* any flipped bit */
		p[i] ^= 1;
		ck_assert_int_eq(admit_check(key, a, b, p), -EACCES);
		p[i] ^= 1;
	}
}
END_TEST

START_TEST(test_request_message)
{
	uint8_t m[ADMIT_REQUEST_BYTES + 1];

	admit_request(key, a, b, m);
	ck_assert_int_eq(admit_check_request(key, a, b, m, ADMIT_REQUEST_BYTES), 0);
	ck_assert_int_eq(admit_check_request(other, a, b, m, ADMIT_REQUEST_BYTES), -EACCES);
	ck_assert_int_eq(admit_check_request(key, a, b, m, ADMIT_REQUEST_BYTES - 1), -EBADMSG);
	ck_assert_int_eq(admit_check_request(key, a, b, m, ADMIT_REQUEST_BYTES + 1), -EBADMSG);
	ck_assert_int_eq(admit_check_request(key, a, b, NULL, 0), -EBADMSG);
	m[0] = 'X';	/* a friend request that is not ours at all */
	ck_assert_int_eq(admit_check_request(key, a, b, m, ADMIT_REQUEST_BYTES), -EBADMSG);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("admit");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_proof_binds_key_and_ends);
	tcase_add_test(tc, test_request_message);
	suite_add_tcase(s, tc);
	return check_run(s);
}
