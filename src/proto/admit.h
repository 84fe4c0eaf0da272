/*
 * admit: proof that a node knows the cluster key, bound to both ends.
 * proof(from, to) = HMAC-SHA256(cluster key, label || from || to), so a
 * proof is good for one direction between two given nodes only and
 * reveals nothing of the key.  A friend request carries the requester's
 * proof (ADMIT_REQUEST_BYTES); the accepting side proves the key back in
 * the other direction once connected, so admission is mutual.  Pure code;
 * the message decoder reads untrusted input and is fuzzed.
 */
#ifndef OAND_ADMIT_H
#define OAND_ADMIT_H

#include <stddef.h>
#include <stdint.h>

#include "sizes.h"

#define ADMIT_KEY_BYTES OAND_KEY_BYTES
#define ADMIT_PROOF_BYTES 32
#define ADMIT_MAGIC "OAND1"
#define ADMIT_MAGIC_LEN 5
#define ADMIT_REQUEST_BYTES (ADMIT_MAGIC_LEN + ADMIT_PROOF_BYTES)

void admit_proof(const uint8_t key[ADMIT_KEY_BYTES], const uint8_t from[32], const uint8_t to[32],
		 uint8_t out[ADMIT_PROOF_BYTES]);
/* 0 if proof is from's proof towards to under key, -EACCES if not. */
int admit_check(const uint8_t key[ADMIT_KEY_BYTES], const uint8_t from[32], const uint8_t to[32],
		const uint8_t proof[ADMIT_PROOF_BYTES]);
/* The friend request message from -> to (ADMIT_REQUEST_BYTES bytes). */
void admit_request(const uint8_t key[ADMIT_KEY_BYTES], const uint8_t from[32], const uint8_t to[32],
		   uint8_t out[ADMIT_REQUEST_BYTES]);
/* Check a received friend request message: 0, -EBADMSG (not ours or
   malformed) or -EACCES (wrong key, or meant for another pair). */
int admit_check_request(const uint8_t key[ADMIT_KEY_BYTES], const uint8_t from[32],
			const uint8_t to[32], const uint8_t *msg, size_t len);

#endif
