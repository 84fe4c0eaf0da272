/*
 * rpc: the requests a node has sent and not yet seen answered.  Pure
 * bookkeeping owned by the net thread: ids, deadlines, what happens when
 * the peer's connection drops (fail at once, or wait for the reconnect
 * when the request is idempotent) and when it is declared offline (fail
 * everything).  A reply is accepted only from the peer that was asked
 * and only once; anything else is dropped and counted.
 */
#ifndef OAND_RPC_H
#define OAND_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "sizes.h"

#define RPC_KEY_BYTES OAND_KEY_BYTES

enum { RPC_IDEMPOTENT = 1 };	/* safe to send again after a reconnect */

enum rpc_phase { RPC_QUEUED, RPC_SENT, RPC_PARKED };

struct rpc_call {
	/* set by the caller */
	uint8_t peer[RPC_KEY_BYTES];
	uint16_t method;
	const uint8_t *body;
	size_t body_len;
	int flags;
	int64_t deadline;	/* ms, monotonic */
	int64_t timeout;	/* ms without progress before it fails (rpc_extend) */
	int64_t limit;		/* ms, monotonic: the latest deadline, progress or not */
	/* results, valid once done */
	int err;		/* 0, or -errno (transport or the peer's status) */
	uint8_t *reply;		/* owned by the caller once done */
	size_t reply_len;
	int done;
	/* the table's */
	uint64_t id;
	enum rpc_phase phase;
	int sends;		/* how often it went out */
	struct rpc_call *next;
};

struct rpc_table {
	struct rpc_call *head;
	uint64_t next_id;
	uint64_t unmatched;	/* replies to no pending request */
	size_t pending;
};

void rpc_init(struct rpc_table *t);
/* Take a call in (phase RPC_QUEUED) and give it a fresh id. */
void rpc_add(struct rpc_table *t, struct rpc_call *c);
/* The pending call a reply (peer, id) answers, unlinked, or NULL (counted). */
struct rpc_call *rpc_match(struct rpc_table *t, const uint8_t peer[RPC_KEY_BYTES], uint64_t id);
/* Unlink c (when it completes some other way). */
void rpc_unlink(struct rpc_table *t, struct rpc_call *c);
/*
 * The peer's connection dropped: each call to it that is not idempotent
 * is unlinked and handed to done() with -ECONNRESET; idempotent ones are
 * parked until rpc_resume().  With offline set (the peer is declared
 * offline) every call to it fails, parked or not, with -EHOSTUNREACH.
 */
void rpc_peer_down(struct rpc_table *t, const uint8_t peer[RPC_KEY_BYTES], int offline,
		   void (*done)(struct rpc_call *c, int err, void *ctx), void *ctx);
/* The peer is back: its parked calls go back to RPC_QUEUED; returns how many. */
size_t rpc_resume(struct rpc_table *t, const uint8_t peer[RPC_KEY_BYTES]);
/* The longest a call may last while its reply keeps arriving: this many
   times its timeout. */
#define RPC_LIMIT_TIMES 10
/* Give c a deadline timeout_ms from now (ms, monotonic), which progress
   may push back (rpc_extend()) up to RPC_LIMIT_TIMES timeouts. */
void rpc_set_timeout(struct rpc_call *c, int64_t now, int64_t timeout_ms);
/*
 * A reply that is arriving keeps its call alive: every sent call past its
 * deadline whose peer made progress (progress(peer) returns when bytes of
 * a reply last came, ms monotonic, or 0) within its timeout gets a new
 * deadline, that time plus its timeout, never past its limit.  A slow link
 * then fails a call only when nothing comes for a whole timeout.
 */
void rpc_extend(struct rpc_table *t, int64_t now, int64_t (*progress)(const uint8_t *peer, void *ctx),
		void *ctx);
/* Fail (unlink, done() with -ETIMEDOUT) every call past its deadline. */
void rpc_expire(struct rpc_table *t, int64_t now,
		void (*done)(struct rpc_call *c, int err, void *ctx), void *ctx);
/* Unlink every call and hand it to done() with err. */
void rpc_fail_all(struct rpc_table *t, int err,
		  void (*done)(struct rpc_call *c, int err, void *ctx), void *ctx);

#endif
