/*
 * sha256: SHA-256 for content hashes.  Uses the CPU's SHA extensions
 * where present (several times faster than portable code; every byte
 * written or verified is hashed, so this bounds write throughput) and
 * libsodium otherwise.  A state is owned by one thread at a time.
 */
#ifndef OAND_SHA256_H
#define OAND_SHA256_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_BYTES 32

struct sha256 {
	int ni;				/* which implementation this state uses */
	crypto_hash_sha256_state sod;
	uint32_t h[8];
	uint8_t buf[64];
	size_t nbuf;
	uint64_t len;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, uint8_t out[SHA256_BYTES]);
void sha256(const void *data, size_t len, uint8_t out[SHA256_BYTES]);
/* 1 if the hardware implementation is in use; sha256_force_portable for tests. */
int sha256_hw(void);
void sha256_force_portable(int on);

#endif
