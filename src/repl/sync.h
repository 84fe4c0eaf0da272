/*
 * sync: the namespace replicated between members.
 *
 * Pull-based anti-entropy.  Every version carries its origin node and that
 * node's sequence number; for each origin, a node knows the number up to
 * which it holds all of that origin's changes (db_seen()).  It asks a
 * member for what lies above those numbers (NET_SYNC_PULL); the member
 * answers with the versions it has there, at most SYNC_REPLY_BUDGET bytes
 * at a time, and for each origin the number up to which the answer is
 * complete.  Versions superseded since are not sent (the newer one is).
 *
 * Every version is signed by its origin (Ed25519, src/util/ident's signing
 * key) and travels, relayed or not, exactly as signed; the answer carries
 * each origin's key with its binding (sync_check_reply() says which keys
 * and claims count).  A member can neither forge another's versions nor,
 * by claiming another origin's progress, stop a node from asking for
 * them: such a claim counts only up to the versions it brought, and each
 * origin checks (struct syncwire_gap) that what others brought of its
 * versions has no gap.
 * A node pulls from a member when their link comes up, when the member
 * sends news (NET_SYNC_NEWS, after any change it made or took in), and
 * every SYNC_PERIOD_MS.  db_apply() decides each path (conflict rules
 * there).  Everything a peer sends is checked here before it is applied;
 * a bad answer is dropped whole and logged.
 * The messages' bytes are src/proto/syncwire's.  The module's parts
 * (sharing src/repl/sync_int.h): sync.c, the thread, the service and the
 * members' state; sync_pull.c, pulling from a member and applying;
 * sync_msg.c, the messages against the database (no thread, no network).
 */
#ifndef OAND_SYNC_H
#define OAND_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "ident.h"

#define SYNC_REPLY_BUDGET (1u << 20)	/* bytes of versions per answer, at most */
/* An answer takes about SYNC_ANSWER_MS on the link it goes over: its
   budget follows the link's measured rate (net_link_rate()), between
   SYNC_BUDGET_MIN and SYNC_REPLY_BUDGET, SYNC_BUDGET_START until the
   rate is known.  A slow link then gets small answers that each arrive
   well within a deadline; a fast one gets big ones. */
#define SYNC_ANSWER_MS 2000
#define SYNC_BUDGET_MIN (16u << 10)
#define SYNC_BUDGET_START (64u << 10)
#define SYNC_PERIOD_MS 30000

struct net;
struct sync;

/* Called for every path a peer's versions changed here (after commit). */
typedef void (*sync_changed_fn)(const char *path, void *ctx);

/* Start replicating db with the members of net; the thread starts at once.
   changed may be NULL. */
int sync_start(struct db *db, struct net *net, const struct ident *id, sync_changed_fn changed,
	       void *ctx, struct sync **out);
/* Stop the thread (before net_shutdown) and free. */
void sync_stop(struct sync *s);
/* A change was committed here: tell the members (coalesced). */
void sync_local(struct sync *s);
/* The service for net_set_service() (ctx: the struct sync). */
int sync_service(void *ctx, const uint8_t from[32], uint16_t method, int notice,
		 const uint8_t *body, size_t len, uint8_t **reply, size_t *reply_len);

struct sync_stats {
	uint64_t pulls;		/* answers taken in */
	uint64_t applied;	/* paths changed by them */
	uint64_t rejected;	/* answers dropped as malformed or failed */
	uint64_t served;	/* questions answered */
	int64_t last_pull;	/* ms since the epoch, 0 never */
	uint64_t timeouts;	/* questions whose answer did not come in time */
	uint64_t answer_bytes;	/* bytes of answers received */
	int in_flight;		/* questions asked and not answered yet */
	int64_t oldest_ms;	/* the age of the oldest of them */
};
void sync_get_stats(struct sync *s, struct sync_stats *st);
/* Where this node stands with each member it has met. */
struct sync_member {
	uint8_t pk[32];
	int linked;
	int caught_up;		/* its last catch-up ended with nothing more, no news since */
	uint64_t news_seq;	/* the newest of its own versions it told of (0 unknown) */
	uint64_t behind;	/* of them, how many this node lacks (0 if unknown) */
	int64_t behind_ms;	/* behind it for this long (0: caught up) */
	int64_t since_answer_ms;	/* since its last answer (-1 never) */
	int stalled;		/* no answer for SYNC_STALL_MS while behind */
	int last_err;		/* the last question's error, 0 none */
	int pulls;		/* questions to it in flight */
	int64_t pull_age_ms;	/* the oldest of them */
};
size_t sync_members(struct sync *s, struct sync_member *out, size_t max);

/* ---- the messages as db's structs (the bytes: src/proto/syncwire) ---- */

/* The gap check of a question (struct syncwire_gap): sequence numbers a
   digest covers at least. */
#define SYNC_GAP_BUCKET_MIN 64

struct sync_batch {
	struct db_rec *recs;	/* each with its signed form (wire) */
	size_t n;
	struct db_range *ranges;
	size_t nranges;
	struct db_key *keys;	/* the signing keys of the origins sent */
	size_t nkeys;
	int more;		/* the member has more to send */
};
void sync_batch_clear(struct sync_batch *b);
/* Decode and check the form of an answer: 0, or -EBADMSG / -EPROTO /
   -ENOMEM.  Signatures are not checked here (sync_check_reply()). */
int sync_decode_reply(const uint8_t *buf, size_t len, struct sync_batch *b);
/*
 * Check a decoded answer from member from, against what db knows: keep
 * the keys that bind (derived, or the member's own), drop versions of
 * self, of removed origins (removed(pk, ctx) non-zero; removed may be
 * NULL) and of origins whose key is not known, and bound each claim of
 * another origin's progress by the newest of its versions sent.  0, or
 * -EBADMSG when a key's binding or a version's signature is false (the
 * whole answer is then to be dropped), or -errno.
 */
typedef int (*sync_removed_fn)(const uint8_t pk[DB_NODE_BYTES], void *ctx);
int sync_check_reply(struct db *db, const uint8_t self[DB_NODE_BYTES], const uint8_t from[DB_NODE_BYTES],
		     struct sync_batch *b, sync_removed_fn removed, void *ctx);
/* The question to ask member: what db holds of each origin, and of the
   member's own versions what the member itself said it sent. */
int sync_question(struct db *db, const uint8_t member[DB_NODE_BYTES], uint8_t **q, size_t *qlen);
/* Bytes of versions an answer over a link of rate bytes/s holds (0 not
   measured, -1 unknown: an older peer). */
size_t sync_budget(double rate);
/* sync_answer() with at most budget bytes of versions. */
int sync_answer_within(struct db *db, const struct ident *id, const uint8_t *question, size_t qlen,
		       size_t budget, uint8_t **out, size_t *len);
/* Answer a question from db's contents, as node id. */
int sync_answer(struct db *db, const struct ident *id, const uint8_t *question, size_t qlen,
		uint8_t **out, size_t *len);
/* Sign r, a version of id's own, into r->wire: 0 or -errno. */
int sync_sign_rec(const struct ident *id, struct db_rec *r);
/* An answer made of given parts (tests and tools; every record must carry
   its wire). */
int sync_encode_reply(const struct db_key *keys, size_t nkeys, const struct db_range *ranges,
		      size_t nranges, const struct db_rec *recs, size_t nrecs, int more,
		      uint8_t **out, size_t *len);

#endif
