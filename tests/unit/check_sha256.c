/* sha256: known answers, and any split of the input agrees with libsodium. */
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "check_run.h"

static void hex(const uint8_t *b, char *out)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

START_TEST(test_known_vectors)
{
	static const struct { const char *in, *out; } v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	uint8_t d[32];
	char h[65];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		sha256(v[i].in, strlen(v[i].in), d);
		hex(d, h);
		ck_assert_str_eq(h, v[i].out);
	}
}
END_TEST

START_TEST(test_random_chunks_match_libsodium)
{
	srand(42);
	for (int t = 0; t < 500; t++) {
		size_t n = (size_t)rand() % 9000, off = 0;
		uint8_t *b = malloc(n + 1), want[32], got[32];
		struct sha256 s;

		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)rand();
		crypto_hash_sha256(want, b, n);
		sha256_init(&s);
		while (off < n) {
			size_t k = (size_t)rand() % 300;

			if (k > n - off)
				k = n - off;
			sha256_update(&s, b + off, k);
			off += k;
		}
		sha256_final(&s, got);
		ck_assert_mem_eq(got, want, 32);
		free(b);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("core");

	if (sodium_init() < 0)
		return EXIT_FAILURE;
	tcase_add_test(tc, test_known_vectors);
	tcase_add_test(tc, test_random_chunks_match_libsodium);
	suite_add_tcase(s, tc);
	return check_run(s);
}
