#include "admit.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

static const char label[] = "oand admission v1";

void admit_proof(const uint8_t key[ADMIT_KEY_BYTES], const uint8_t from[32], const uint8_t to[32],
		 uint8_t out[ADMIT_PROOF_BYTES])
{
	crypto_auth_hmacsha256_state h;

	crypto_auth_hmacsha256_init(&h, key, ADMIT_KEY_BYTES);
	crypto_auth_hmacsha256_update(&h, (const uint8_t *)label, sizeof(label) - 1);
	crypto_auth_hmacsha256_update(&h, from, 32);
	crypto_auth_hmacsha256_update(&h, to, 32);
	crypto_auth_hmacsha256_final(&h, out);
	sodium_memzero(&h, sizeof(h));
}

int admit_check(const uint8_t key[ADMIT_KEY_BYTES], const uint8_t from[32], const uint8_t to[32],
		const uint8_t proof[ADMIT_PROOF_BYTES])
{
	uint8_t want[ADMIT_PROOF_BYTES];
	int ok;

	admit_proof(key, from, to, want);
	ok = crypto_verify_32(want, proof) == 0;
	sodium_memzero(want, sizeof(want));
	return ok ? 0 : -EACCES;
}

void admit_request(const uint8_t key[ADMIT_KEY_BYTES], const uint8_t from[32], const uint8_t to[32],
		   uint8_t out[ADMIT_REQUEST_BYTES])
{
	memcpy(out, ADMIT_MAGIC, ADMIT_MAGIC_LEN);
	admit_proof(key, from, to, out + ADMIT_MAGIC_LEN);
}

int admit_check_request(const uint8_t key[ADMIT_KEY_BYTES], const uint8_t from[32],
			const uint8_t to[32], const uint8_t *msg, size_t len)
{
	if (msg == NULL || len != ADMIT_REQUEST_BYTES || memcmp(msg, ADMIT_MAGIC, ADMIT_MAGIC_LEN) != 0)
		return -EBADMSG;
	return admit_check(key, from, to, msg + ADMIT_MAGIC_LEN);
}
