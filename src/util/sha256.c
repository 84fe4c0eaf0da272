#include "sha256.h"

_Static_assert(SHA256_BYTES == SHA256_DIGEST_SIZE, "nettle's digest size");

void sha256_init(struct sha256 *s)
{
	nettle_sha256_init(&s->ctx);
}

void sha256_update(struct sha256 *s, const void *data, size_t len)
{
	nettle_sha256_update(&s->ctx, len, data);
}

void sha256_final(struct sha256 *s, uint8_t out[SHA256_BYTES])
{
	nettle_sha256_digest(&s->ctx, SHA256_BYTES, out);
}

void sha256(const void *data, size_t len, uint8_t out[SHA256_BYTES])
{
	struct sha256 s;

	sha256_init(&s);
	sha256_update(&s, data, len);
	sha256_final(&s, out);
}
