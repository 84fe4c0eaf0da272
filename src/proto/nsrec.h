/*
 * nsrec: the records of the namespace (doc/namespace.md, section 2) as
 * bytes: encoding, the checks every record passes at receipt, ids, and
 * signatures.  Pure code: no I/O, no database, no threads; the
 * interpreter (src/store/db_tree) takes records only through
 * nsrec_decode().  Everything decoded is untrusted input and checked here
 * for form (lengths before copies, known type and flags, names, targets,
 * ids, limits); what needs the tree (is the parent a folder, is the id
 * known) is the interpreter's.
 *
 * Encoding, little-endian: type (1), flags (1), origin (32), seq (8),
 * prev (8), hlc (8), wall_ns (8), then the body of the type (2.2); the
 * wire form adds 64 bytes of Ed25519 signature by the origin's signing key
 * over "oand record 3" (with its NUL) and the record (libsodium's
 * multi-part crypto_sign).  The encoding is canonical: every field a type
 * does not use is zero, and nsrec_encode(nsrec_decode(b)) == b.
 */
#ifndef OAND_NSREC_H
#define OAND_NSREC_H

#include <stddef.h>
#include <stdint.h>

#define NSREC_ID_BYTES 16
#define NSREC_NODE_BYTES 32
#define NSREC_SHA_BYTES 32
#define NSREC_SIG_BYTES 64
#define NSREC_SIGN_PK_BYTES 32
#define NSREC_SIGN_SK_BYTES 64
#define NSREC_HEAD_BYTES 66		/* the common header */
#define NSREC_NAME_MAX 255
#define NSREC_TARGET_MAX 4095
#define NSREC_XATTR_VALUE_MAX 65536
#define NSREC_SIZE_MAX (1ull << 50)
#define NSREC_MAX_BYTES (NSREC_HEAD_BYTES + 8192 + NSREC_XATTR_VALUE_MAX)

enum nsrec_type {
	NSREC_PLACE = 'M',
	NSREC_CONTENT = 'C',
	NSREC_ATTR = 'A',
	NSREC_XATTR = 'X',
	NSREC_HOLD = 'H',
	NSREC_FORGET = 'F'
};

enum nsrec_flag {
	NSREC_TXN_MORE = 1,	/* the origin's next record is in the same transaction */
	NSREC_MIGRATED = 2,	/* M, C, F */
	NSREC_INIT = 4,		/* M: a create */
	NSREC_REMOVE = 8,	/* X, H */
	NSREC_REJOIN = 16	/* F */
};

/* A's mask. */
enum { NSREC_SET_MODE = 1, NSREC_SET_OWNER = 2, NSREC_SET_MTIME = 4 };

/* Id classes (1.1). */
enum { NSREC_ID_ROOT = 0, NSREC_ID_MADE = 1, NSREC_ID_COPY = 2, NSREC_ID_MIGRATED = 3 };

/*
 * One record.  Variable fields point into the buffer it was decoded from
 * (or, to encode, anywhere the caller keeps them).
 *   M: entry, inode, parent (nsrec_id_trash: the trash), from (the parent
 *      the origin saw; the trash for a new entry or one in the trash),
 *      name (empty iff parent is the trash), base (the content head the
 *      origin saw; 0 0 none); with INIT kind, mode, uid, gid, rdev,
 *      mtime_ns, target.
 *   C: inode, base, size, sha, mtime_ns, entry/parent/name: the via place.
 *   A: inode, mask, mode, uid, gid, mtime_ns.
 *   X: inode, name (the attribute), value.
 *   H: sha.
 *   F: member, cut, removed.
 */
struct nsrec {
	uint8_t type, flags;
	uint8_t origin[NSREC_NODE_BYTES];
	uint64_t seq, prev, hlc;
	int64_t wall_ns;
	uint8_t entry[NSREC_ID_BYTES], inode[NSREC_ID_BYTES];
	uint8_t parent[NSREC_ID_BYTES], from[NSREC_ID_BYTES];
	const uint8_t *name;
	size_t name_len;
	uint64_t base_hlc, base_tag;
	int kind;			/* 'f' 'd' 'l' 'p' 's' 'c' 'b' */
	uint32_t mode, uid, gid;
	uint64_t rdev;
	int64_t mtime_ns;
	const uint8_t *target;
	size_t target_len;
	uint64_t size;
	uint8_t sha[NSREC_SHA_BYTES];	/* all zero: empty content */
	uint8_t mask;
	const uint8_t *value;
	size_t value_len;
	uint8_t member[NSREC_NODE_BYTES];
	uint64_t cut;
	uint8_t removed;
};

/* r's encoding (without signature) into *out (allocated): 0, -EINVAL if
   r does not pass nsrec_check(), or -ENOMEM. */
int nsrec_encode(const struct nsrec *r, uint8_t **out, size_t *len);
/* Decode and check the unsigned bytes of one record: 0 or -EBADMSG. */
int nsrec_decode(const uint8_t *buf, size_t len, struct nsrec *r);
/* The checks of 2.2 that need no tree: 0 or -EBADMSG. */
int nsrec_check(const struct nsrec *r);

/* The signature of the record rec (unsigned bytes) by sign_sk. */
void nsrec_sign(const uint8_t *rec, size_t len, const uint8_t sign_sk[NSREC_SIGN_SK_BYTES],
		uint8_t sig[NSREC_SIG_BYTES]);
/* 0 if sig is rec's signature under pk, else -EBADMSG. */
int nsrec_sig_check(const uint8_t *rec, size_t len, const uint8_t sig[NSREC_SIG_BYTES],
		    const uint8_t pk[NSREC_SIGN_PK_BYTES]);
/* A wire form (record, then signature): decoded and its signature
   checked under pk.  0 or -EBADMSG. */
int nsrec_open(const uint8_t *wire, size_t len, const uint8_t pk[NSREC_SIGN_PK_BYTES],
	       struct nsrec *r);

/* ---- ids ---- */

/* An origin's tag: the first 7 bytes of its key, big-endian. */
uint64_t nsrec_tag(const uint8_t origin[NSREC_NODE_BYTES]);
/* The class of id, or -1 for none (an unknown class, a non-zero root,
   the trash). */
int nsrec_id_class(const uint8_t id[NSREC_ID_BYTES]);
int nsrec_id_is_trash(const uint8_t id[NSREC_ID_BYTES]);
int nsrec_id_is_root(const uint8_t id[NSREC_ID_BYTES]);
void nsrec_id_trash(uint8_t id[NSREC_ID_BYTES]);
/* Class 0x01: made by the record of tag's origin with seq counter. */
void nsrec_id_made(uint64_t tag, uint64_t counter, uint8_t id[NSREC_ID_BYTES]);
/* Of a class-0x01 id: its tag and counter. */
void nsrec_id_parts(const uint8_t id[NSREC_ID_BYTES], uint64_t *tag, uint64_t *counter);
/* Class 0x02: the conflict copy of inode's version (hlc, tag). */
void nsrec_id_copy(const uint8_t inode[NSREC_ID_BYTES], uint64_t hlc, uint64_t tag,
		   uint8_t id[NSREC_ID_BYTES]);
/* Class 0x03: a path of schema 5 ("/" is the root, zero). */
void nsrec_id_path(const char *path, uint8_t id[NSREC_ID_BYTES]);

#endif
