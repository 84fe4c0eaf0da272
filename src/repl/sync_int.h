/*
 * sync_int: what the parts of src/repl/sync share (sync.c: the thread,
 * the service and the members' state; sync_pull.c: pulling from one
 * member and applying; sync_msg.c: the messages against the database).
 * Not for other modules.  Lock order: struct sync's lock is taken alone;
 * it is never held across a call to net or db.
 */
#ifndef OAND_SYNC_INT_H
#define OAND_SYNC_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "sync.h"

#define SYNC_STALL_MS 120000	/* no answer this long while behind: said in log and status */
#define PEERS_MAX 512

struct speer {
	uint8_t pk[32];
	int linked;
	int want;		/* pull soon */
	int64_t last;		/* last pull (monotonic ms) */
	int64_t retry_at;	/* after a failure, not before this (monotonic ms) */
	/* Caught up: its last catch-up ended with nothing more, and no news
	   came since.  news_seq: the newest of its own versions it told of
	   (NET_SYNC_NEWS), 0 unknown. */
	int caught_up;
	uint64_t news_seq;
	int64_t behind_since;	/* when it last stopped being caught up (0: it is) */
	int64_t progress_at;	/* when an answer from it last came (monotonic ms) */
	int stalled;		/* no answer for SYNC_STALL_MS while behind: logged */
	int last_err;		/* the last pull's error (0 none) */
};

struct sync {
	struct db *db;
	struct net *net;
	const struct ident *id;	/* the node's, outlives the sync */
	sync_changed_fn changed;
	void *ctx;
	pthread_t thread;
	pthread_mutex_t lock;	/* guards everything below */
	pthread_cond_t cond;
	int stop, local, started;
	struct speer peers[PEERS_MAX];
	size_t npeers;
	struct sync_stats st;
	int64_t asked[2];	/* questions in flight: since (monotonic ms), 0 free */
	uint8_t asked_pk[2][32];	/* and to whom */
};

/* The entry for pk, made if missing (lock held); NULL if full. */
struct speer *sync_speer_of(struct sync *s, const uint8_t *pk);
/* Pull from one member until it has nothing more (sync_pull.c). */
int sync_pull_from(struct sync *s, const uint8_t *pk);

/* sync_msg.c: the parts of sync_check_reply(), and the question that
   follows an answer not applied yet. */
int sync_check_claims(struct db *db, const uint8_t self[DB_NODE_BYTES], const uint8_t from[DB_NODE_BYTES],
		      struct sync_batch *b, sync_removed_fn removed, void *ctx);
int sync_check_signatures(struct db *db, const struct sync_batch *b);
int sync_question_after(struct db *db, const uint8_t member[DB_NODE_BYTES], const struct db_range *claims,
			size_t n, uint8_t **q, size_t *qlen);

#endif
