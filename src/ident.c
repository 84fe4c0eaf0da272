#include "ident.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static void derive(struct ident *id)
{
	static const char label[] = "oand nospam";
	crypto_hash_sha256_state h;
	uint8_t d[crypto_hash_sha256_BYTES];

	crypto_scalarmult_curve25519_base(id->public_key, id->secret);
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (const uint8_t *)label, sizeof(label) - 1);
	crypto_hash_sha256_update(&h, id->secret, IDENT_KEY_BYTES);
	crypto_hash_sha256_final(&h, d);
	memcpy(id->nospam, d, IDENT_NOSPAM_BYTES);
	sodium_memzero(d, sizeof(d));
}

int ident_load(const char *data_dir, int create, struct ident *id)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int fd, r = 0;
	ssize_t got;

	memset(id, 0, sizeof(*id));
	if (sodium_init() < 0)
		return -EIO;
	if (snprintf(path, sizeof(path), "%s/node.key", data_dir) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/node.key.tmp", data_dir) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		got = read(fd, id->secret, sizeof(id->secret));
		close(fd);
		if (got != (ssize_t)sizeof(id->secret)) {
			log_error("%s: damaged key file (expected %zu bytes)", path, sizeof(id->secret));
			ident_clear(id);
			return -EINVAL;
		}
		derive(id);
		return 0;
	}
	if (errno != ENOENT || !create)
		return -errno;
	randombytes_buf(id->secret, sizeof(id->secret));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		ident_clear(id);
		return r;
	}
	if (write(fd, id->secret, sizeof(id->secret)) != (ssize_t)sizeof(id->secret) ||
	    fsync(fd) != 0)
		r = errno ? -errno : -EIO;
	close(fd);
	if (r == 0 && rename(tmp, path) != 0)
		r = -errno;
	if (r != 0) {
		unlink(tmp);
		ident_clear(id);
		return r;
	}
	log_notice("created node identity in %s", path);
	derive(id);
	return 0;
}

void ident_clear(struct ident *id)
{
	sodium_memzero(id, sizeof(*id));
}

uint32_t ident_nospam(const struct ident *id)
{
	/* toxcore keeps the nospam in network order inside the address */
	return (uint32_t)id->nospam[0] << 24 | (uint32_t)id->nospam[1] << 16 |
	       (uint32_t)id->nospam[2] << 8 | id->nospam[3];
}

void ident_address(const struct ident *id, uint8_t out[IDENT_ADDRESS_BYTES])
{
	uint8_t sum[2] = { 0, 0 };

	memcpy(out, id->public_key, IDENT_KEY_BYTES);
	memcpy(out + IDENT_KEY_BYTES, id->nospam, IDENT_NOSPAM_BYTES);
	for (int i = 0; i < IDENT_KEY_BYTES + IDENT_NOSPAM_BYTES; i++)
		sum[i % 2] ^= out[i];
	memcpy(out + IDENT_KEY_BYTES + IDENT_NOSPAM_BYTES, sum, 2);
}

void ident_address_hex(const struct ident *id, char out[2 * IDENT_ADDRESS_BYTES + 1])
{
	static const char digits[] = "0123456789ABCDEF";
	uint8_t a[IDENT_ADDRESS_BYTES];

	ident_address(id, a);
	for (int i = 0; i < IDENT_ADDRESS_BYTES; i++) {
		out[2 * i] = digits[a[i] >> 4];
		out[2 * i + 1] = digits[a[i] & 15];
	}
	out[2 * IDENT_ADDRESS_BYTES] = '\0';
}
