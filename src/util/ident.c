#include "ident.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char bind_label[] = "oand bind 1";

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

static void bind_msg(const uint8_t node[IDENT_KEY_BYTES], uint8_t msg[sizeof(bind_label) + IDENT_KEY_BYTES])
{
	memcpy(msg, bind_label, sizeof(bind_label));
	memcpy(msg + sizeof(bind_label), node, IDENT_KEY_BYTES);
}

int ident_derived_from(const uint8_t node[IDENT_KEY_BYTES], const uint8_t sign_pk[IDENT_SIGN_PK_BYTES])
{
	uint8_t x[crypto_scalarmult_curve25519_BYTES];

	if (crypto_sign_ed25519_pk_to_curve25519(x, sign_pk) != 0)
		return 0;
	return sodium_memcmp(x, node, IDENT_KEY_BYTES) == 0;
}

void ident_bind_sign(const uint8_t node[IDENT_KEY_BYTES], const uint8_t sign_sk[IDENT_SIGN_SK_BYTES],
		     uint8_t sig[IDENT_SIG_BYTES])
{
	uint8_t msg[sizeof(bind_label) + IDENT_KEY_BYTES];

	bind_msg(node, msg);
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), sign_sk);
}

int ident_bind_check(const uint8_t node[IDENT_KEY_BYTES], const uint8_t sign_pk[IDENT_SIGN_PK_BYTES],
		     const uint8_t sig[IDENT_SIG_BYTES])
{
	uint8_t msg[sizeof(bind_label) + IDENT_KEY_BYTES];

	bind_msg(node, msg);
	return crypto_sign_verify_detached(sig, msg, sizeof(msg), sign_pk) == 0 ? 0 : -EBADMSG;
}

/* Read exactly n bytes of dir/name: 0, -ENOENT, -EINVAL (damaged), -errno. */
static int key_read(const char *dir, const char *name, uint8_t *out, size_t n)
{
	char path[PATH_MAX];
	ssize_t got;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	got = read(fd, out, n);
	close(fd);
	if (got != (ssize_t)n) {
		log_error("%s: damaged key file (expected %zu bytes)", path, n);
		return -EINVAL;
	}
	return 0;
}

/* Write dir/name (mode 0600) durably and atomically, once. */
static int key_write(const char *dir, const char *name, const uint8_t *key, size_t n)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int fd, r = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -errno;
	if (write(fd, key, n) != (ssize_t)n || fsync(fd) != 0)
		r = errno ? -errno : -EIO;
	close(fd);
	if (r == 0 && rename(tmp, path) != 0)
		r = -errno;
	if (r != 0)
		unlink(tmp);
	return r;
}

int ident_load(const char *data_dir, int create, struct ident *id)
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	int r, have_seed, have_node;

	memset(id, 0, sizeof(*id));
	if (sodium_init() < 0)
		return -EIO;
	r = key_read(data_dir, "sign.key", seed, sizeof(seed));
	if (r != 0 && r != -ENOENT)
		goto out;
	have_seed = r == 0;
	r = key_read(data_dir, "node.key", id->secret, sizeof(id->secret));
	if (r != 0 && r != -ENOENT)
		goto out;
	have_node = r == 0;
	if (!have_node && !create) {
		r = -ENOENT;
		goto out;
	}
	if (!have_seed) {
		/* A node made before signing keys keeps its Tox key. */
		randombytes_buf(seed, sizeof(seed));
		if (create && (r = key_write(data_dir, "sign.key", seed, sizeof(seed))) != 0)
			goto out;
		if (create)
			log_notice("created the signing key in %s/sign.key", data_dir);
	}
	crypto_sign_seed_keypair(id->sign_pk, id->sign_sk, seed);
	if (!have_node) {
		/* A new node: its Tox key comes from its signing key. */
		if (crypto_sign_ed25519_sk_to_curve25519(id->secret, id->sign_sk) != 0 ||
		    (r = key_write(data_dir, "node.key", id->secret, sizeof(id->secret))) != 0) {
			r = r ? r : -EIO;
			goto out;
		}
		log_notice("created node identity in %s/node.key", data_dir);
	}
	derive(id);
	id->derived = ident_derived_from(id->public_key, id->sign_pk);
	ident_bind_sign(id->public_key, id->sign_sk, id->bind_sig);
	r = 0;
out:
	sodium_memzero(seed, sizeof(seed));
	if (r != 0)
		ident_clear(id);
	return r;
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
