/*
 * ident: a node's persistent identity.  DATA/node.key holds a Curve25519
 * secret key (32 bytes, mode 0600, written once and atomically); its public
 * key is the node id.  The same key is the node's Tox identity: the Tox ID
 * (address) is the public key, a 4-byte nospam derived from the secret (so
 * the ID never changes), and toxcore's 2-byte checksum.
 *
 * DATA/sign.key holds the seed of the node's Ed25519 signing key (the key
 * that signs every version the node makes, see src/repl/sync).  A node made by
 * this version derives its Tox key from the signing key
 * (crypto_sign_ed25519_sk_to_curve25519), so anyone can check that a
 * signing key belongs to a node id: the binding is proven, not told.  A
 * node made before keeps its Tox key and gets a random signing key; its
 * binding is learned from the node itself over its Tox link.  Either way
 * bind_sig, the signing key's signature over the node id, goes with the
 * key.  No threads.
 */
#ifndef OAND_IDENT_H
#define OAND_IDENT_H

#include <stdint.h>

#include "sizes.h"

#define IDENT_KEY_BYTES OAND_KEY_BYTES
#define IDENT_NOSPAM_BYTES 4
#define IDENT_ADDRESS_BYTES (IDENT_KEY_BYTES + IDENT_NOSPAM_BYTES + 2)
#define IDENT_SIGN_PK_BYTES OAND_SIGN_PK_BYTES
#define IDENT_SIGN_SK_BYTES OAND_SIGN_SK_BYTES
#define IDENT_SIG_BYTES OAND_SIG_BYTES

struct ident {
	uint8_t secret[IDENT_KEY_BYTES];
	uint8_t public_key[IDENT_KEY_BYTES];
	uint8_t nospam[IDENT_NOSPAM_BYTES];	/* as it stands in the address */
	uint8_t sign_sk[IDENT_SIGN_SK_BYTES];	/* Ed25519 */
	uint8_t sign_pk[IDENT_SIGN_PK_BYTES];
	uint8_t bind_sig[IDENT_SIG_BYTES];	/* sign_pk's signature over public_key */
	int derived;				/* the Tox key comes from the signing key */
};

/* 1 if sign_pk is the signing key node's Tox key was derived from, else 0. */
int ident_derived_from(const uint8_t node[IDENT_KEY_BYTES], const uint8_t sign_pk[IDENT_SIGN_PK_BYTES]);
/* sign_sk's binding signature over node (a node binds its own key so;
   tests make false bindings with it). */
void ident_bind_sign(const uint8_t node[IDENT_KEY_BYTES], const uint8_t sign_sk[IDENT_SIGN_SK_BYTES],
		     uint8_t sig[IDENT_SIG_BYTES]);
/* 0 if sig is sign_pk's binding signature over node, else -EBADMSG. */
int ident_bind_check(const uint8_t node[IDENT_KEY_BYTES], const uint8_t sign_pk[IDENT_SIGN_PK_BYTES],
		     const uint8_t sig[IDENT_SIG_BYTES]);

/* Read DATA/node.key and DATA/sign.key, or with create make what is
   absent.  The data dir must exist.  -ENOENT (not created), -EINVAL
   (damaged) or -errno. */
int ident_load(const char *data_dir, int create, struct ident *id);
/* Wipe the secret. */
void ident_clear(struct ident *id);
/* The nospam as toxcore's tox_self_set_nospam() takes it. */
uint32_t ident_nospam(const struct ident *id);
/* The Tox ID: IDENT_ADDRESS_BYTES bytes, or 76 upper-case hex digits. */
void ident_address(const struct ident *id, uint8_t out[IDENT_ADDRESS_BYTES]);
void ident_address_hex(const struct ident *id, char out[2 * IDENT_ADDRESS_BYTES + 1]);

#endif
