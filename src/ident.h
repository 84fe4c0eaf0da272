/*
 * ident: a node's persistent identity.  DATA/node.key holds a Curve25519
 * secret key (32 bytes, mode 0600, written once and atomically); its public
 * key is the node id.  The same key is the node's Tox identity: the Tox ID
 * (address) is the public key, a 4-byte nospam derived from the secret (so
 * the ID never changes), and toxcore's 2-byte checksum.  No threads.
 */
#ifndef OAND_IDENT_H
#define OAND_IDENT_H

#include <stdint.h>

#define IDENT_KEY_BYTES 32
#define IDENT_NOSPAM_BYTES 4
#define IDENT_ADDRESS_BYTES (IDENT_KEY_BYTES + IDENT_NOSPAM_BYTES + 2)

struct ident {
	uint8_t secret[IDENT_KEY_BYTES];
	uint8_t public_key[IDENT_KEY_BYTES];
	uint8_t nospam[IDENT_NOSPAM_BYTES];	/* as it stands in the address */
};

/* Read DATA/node.key, or with create make it when absent.  The data dir
   must exist.  -ENOENT (not created), -EINVAL (damaged) or -errno. */
int ident_load(const char *data_dir, int create, struct ident *id);
/* Wipe the secret. */
void ident_clear(struct ident *id);
/* The nospam as toxcore's tox_self_set_nospam() takes it. */
uint32_t ident_nospam(const struct ident *id);
/* The Tox ID: IDENT_ADDRESS_BYTES bytes, or 76 upper-case hex digits. */
void ident_address(const struct ident *id, uint8_t out[IDENT_ADDRESS_BYTES]);
void ident_address_hex(const struct ident *id, char out[2 * IDENT_ADDRESS_BYTES + 1]);

#endif
