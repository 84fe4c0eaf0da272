/*
 * syncwire: the messages of replication (src/repl/sync) as bytes: the
 * question (NET_SYNC_PULL's request), the answer, the versions it carries
 * in their signed form, and the news (NET_SYNC_NEWS).  Pure code: no I/O,
 * no database, no threads; its own structs, which src/repl converts.
 * Everything decoded is untrusted input and checked here for form
 * (lengths before copies, counts before allocation, paths and vectors);
 * a version's signature is checked by whoever knows its origin's key
 * (syncwire_sig_check()).
 *
 * Encoding: little-endian, lengths before contents.
 *   question: version (1), n (2), n x (origin (32), upto (8)), gap flag
 *             (1), and with the flag: direct (8), bucket (8), k (2),
 *             k x digest (32)
 *   answer:   version (1), more (1), nkeys (2), nranges (2), nrecs (4),
 *             nkeys x (origin (32), signing key (32), binding signature
 *             (64)), nranges x (origin (32), upto (8)), nrecs x version
 *             in its signed form
 *   version:  path length (2), path, kind (1), deleted (1), mode (4),
 *             uid (4), gid (4), size (8), mtime_ns (8), ctime_ns (8),
 *             hlc (8), origin (32), seq (8), sha flag (1) [sha (32)],
 *             target length (2), target, vector length (2), vector
 *   signed form: the version, then 64 bytes of Ed25519 signature by its
 *             origin's signing key over "oand version 1" (with its NUL)
 *             and the version (libsodium's multi-part crypto_sign)
 *   news:     the sender's newest version of its own, seq (8); older
 *             nodes send none
 */
#ifndef OAND_SYNCWIRE_H
#define OAND_SYNCWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "sizes.h"

#define SYNCWIRE_VERSION 2	/* 2: signed versions and keys */
#define SYNCWIRE_RECS_MAX 65536		/* versions in one answer */
#define SYNCWIRE_ORIGINS_MAX 4096	/* origins in a question or answer */
#define SYNCWIRE_SIZE_MAX (1ull << 50)	/* largest file size accepted */
#define SYNCWIRE_NODE_BYTES OAND_KEY_BYTES
#define SYNCWIRE_SHA_BYTES OAND_SHA_BYTES
#define SYNCWIRE_SIGN_PK_BYTES OAND_SIGN_PK_BYTES
#define SYNCWIRE_SIGN_SK_BYTES OAND_SIGN_SK_BYTES
#define SYNCWIRE_BIND_SIG_BYTES OAND_SIG_BYTES	/* a signing key's binding to its origin */
#define SYNCWIRE_SIG_BYTES OAND_SIG_BYTES		/* a version's signature */
/* A version vector: sorted by node, each (node, HLC), at most VV_MAX. */
#define SYNCWIRE_VV_MAX 32
#define SYNCWIRE_VV_ENTRY (SYNCWIRE_NODE_BYTES + 8)
#define SYNCWIRE_VV_BYTES (SYNCWIRE_VV_MAX * SYNCWIRE_VV_ENTRY)
#define SYNCWIRE_NEWS_BYTES 8

/* SYNCWIRE_HOLDER: origin holds sha256 (deleted: no longer); no path. */
enum syncwire_kind {
	SYNCWIRE_FILE = 'f',
	SYNCWIRE_DIR = 'd',
	SYNCWIRE_LINK = 'l',
	SYNCWIRE_HOLDER = 'h'
};

/* One version of one path, or a holding (kind SYNCWIRE_HOLDER). */
struct syncwire_rec {
	char *path;		/* owned; NULL for a holding */
	int kind;		/* enum syncwire_kind */
	int deleted;
	uint32_t mode;		/* permission bits (07777) only */
	uint32_t uid, gid;
	uint64_t size;
	int64_t mtime_ns, ctime_ns;
	int has_sha;
	uint8_t sha256[SYNCWIRE_SHA_BYTES];
	char *target;		/* owned: a live link's target, else NULL */
	uint64_t hlc;		/* the version: HLC timestamp, origin, seq */
	uint8_t origin[SYNCWIRE_NODE_BYTES];
	uint64_t seq;
	uint8_t *vv;		/* owned, vv_len bytes */
	size_t vv_len;
	uint8_t *wire;		/* owned: the version as its origin signed it, or NULL */
	size_t wire_len;
};
void syncwire_rec_clear(struct syncwire_rec *r);

/* A promise: every change of origin up to upto is sent (an answer), or
   held (a question). */
struct syncwire_range {
	uint8_t origin[SYNCWIRE_NODE_BYTES];
	uint64_t upto;
};

/* An origin's signing key and its binding signature. */
struct syncwire_key {
	uint8_t origin[SYNCWIRE_NODE_BYTES];
	uint8_t pk[SYNCWIRE_SIGN_PK_BYTES];
	uint8_t sig[SYNCWIRE_BIND_SIG_BYTES];
};

/*
 * A question: for each origin, the sequence number held complete; and,
 * for the asked member's own versions, the gap check: up to direct the
 * member itself said it sent them, and the digests (each a BLAKE2b over
 * the sequence numbers of one bucket of them and their count) name those
 * held in (direct, held] as others relayed them.  The member sends again
 * the versions of each bucket whose digest differs from its own.
 */
#define SYNCWIRE_DIGEST_BYTES 32
#define SYNCWIRE_GAP_BUCKETS 256	/* digests in one check at most */
struct syncwire_gap {
	int has;
	uint64_t direct;
	uint64_t bucket;	/* digest i covers (direct + i*bucket, direct + (i+1)*bucket] */
	size_t n;
	uint8_t digest[SYNCWIRE_GAP_BUCKETS][SYNCWIRE_DIGEST_BYTES];
};
/* gap may be NULL (no check). */
int syncwire_encode_pull(const struct syncwire_range *have, size_t n,
			 const struct syncwire_gap *gap, uint8_t **out, size_t *len);
/* gap may be NULL (not wanted). */
int syncwire_decode_pull(const uint8_t *buf, size_t len, struct syncwire_range **have, size_t *n,
			 struct syncwire_gap *gap);

struct syncwire_reply {
	struct syncwire_rec *recs;	/* each with its signed form (wire) */
	size_t n;
	struct syncwire_range *ranges;
	size_t nranges;
	struct syncwire_key *keys;	/* the signing keys of the origins sent */
	size_t nkeys;
	int more;		/* the member has more to send */
};
void syncwire_reply_clear(struct syncwire_reply *b);
/* Decode and check the form of an answer: 0, or -EBADMSG / -EPROTO /
   -ENOMEM (b then empty).  Signatures are not checked here. */
int syncwire_decode_reply(const uint8_t *buf, size_t len, struct syncwire_reply *b);

/* A growing buffer; the first failure stays in err and later puts do
   nothing. */
struct syncwire_buf {
	uint8_t *p;
	size_t len, cap;
	int err;
};
void syncwire_put(struct syncwire_buf *b, const void *v, size_t n);
/* v in bytes bytes, little-endian. */
void syncwire_put_u(struct syncwire_buf *b, uint64_t v, int bytes);
/* One key of an answer. */
void syncwire_put_key(struct syncwire_buf *b, const uint8_t origin[SYNCWIRE_NODE_BYTES],
		      const uint8_t pk[SYNCWIRE_SIGN_PK_BYTES], const uint8_t sig[SYNCWIRE_BIND_SIG_BYTES]);
/* An answer's head, then its parts as they were built (keys, ranges and
   versions, each put one after the other): 0 or -errno (any part's
   error). */
int syncwire_put_answer(int more, size_t nkeys, const struct syncwire_buf *keys, size_t nranges,
			const struct syncwire_buf *ranges, size_t nrecs, const struct syncwire_buf *recs,
			uint8_t **out, size_t *len);

/* The signed form of r (its encoding, then SYNCWIRE_SIG_BYTES of Ed25519
   signature by sign_sk) into *wire (allocated): 0 or -ENOMEM. */
int syncwire_sign_rec(const struct syncwire_rec *r, const uint8_t sign_sk[SYNCWIRE_SIGN_SK_BYTES],
		      uint8_t **wire, size_t *len);
/* 0 if the signed form wire is good under pk, else -EBADMSG. */
int syncwire_sig_check(const uint8_t *wire, size_t len, const uint8_t pk[SYNCWIRE_SIGN_PK_BYTES]);

/* The news: seq, the sender's newest version of its own. */
void syncwire_encode_news(uint64_t seq, uint8_t out[SYNCWIRE_NEWS_BYTES]);
/* 0 and *seq, or -EBADMSG when body holds no number (older nodes). */
int syncwire_decode_news(const uint8_t *body, size_t len, uint64_t *seq);

#endif
