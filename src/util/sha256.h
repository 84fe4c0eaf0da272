/*
 * sha256: SHA-256 for content hashes, by nettle (GnuTLS's crypto
 * library), which picks the CPU's SHA extensions at run time where
 * present: every byte written or verified is hashed, so this bounds
 * write throughput.  A state is plain data (a copy is a snapshot of the
 * hash so far), owned by one thread at a time.
 */
#ifndef OAND_SHA256_H
#define OAND_SHA256_H

#include <nettle/sha2.h>
#include <stddef.h>
#include <stdint.h>

/* nettle names its functions sha256_init, sha256_update, sha256_digest
   through macros (to nettle_sha256_*); its prototypes are declared by
   now, and without the macros this module's names below are its own. */
#undef sha256_init
#undef sha256_update
#undef sha256_digest

#define SHA256_BYTES 32

struct sha256 {
	struct sha256_ctx ctx;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, uint8_t out[SHA256_BYTES]);
void sha256(const void *data, size_t len, uint8_t out[SHA256_BYTES]);

#endif
