/*
 * sizes: the byte sizes every layer shares, in one place: a node's key,
 * its Tox address, a SHA-256 and the Ed25519 signing sizes.  A module's
 * own names for them (DB_SHA_BYTES, WIRE_KEY_BYTES, ...) are these.
 */
#ifndef OAND_SIZES_H
#define OAND_SIZES_H

#define OAND_KEY_BYTES 32	/* a node's public key (its Tox long-term key) */
#define OAND_ADDR_BYTES 38	/* a Tox ID: key, nospam (4), checksum (2) */
#define OAND_SHA_BYTES 32	/* a SHA-256 */
#define OAND_SIGN_PK_BYTES 32	/* an Ed25519 public key */
#define OAND_SIGN_SK_BYTES 64	/* an Ed25519 secret key (libsodium's form) */
#define OAND_SIG_BYTES 64	/* an Ed25519 signature */

#endif
