/*
 * cluster: the node list every member keeps, and the heartbeat that
 * carries it (gossip).  Pure code: no Tox, no threads, no clock of its
 * own (callers pass "now" in milliseconds of the wall clock), so the
 * rules below are unit tested and the decoder fuzzed.
 *
 * Each member: Tox ID, name, server address, first seen, last heartbeat,
 * and how that heartbeat was heard (hops: 0 straight from the member,
 * 1 from a member that heard it directly, ...).  A heartbeat lists the
 * sender (age 0) and everything it knows with the age of its evidence,
 * never a wall-clock time of another machine, so clock skew between
 * machines cannot make a dead node look alive.  Every heartbeat a node
 * sends has a higher number than the last (heartbeat seq); relayed
 * evidence counts only when it carries a higher number than the one
 * held, so two members relaying the same old heartbeat back and forth
 * can never make it look newer.  A member is online while
 * its evidence is younger than 1.5 heartbeat intervals (plus one interval
 * per hop), stale until 2 (plus hops), offline after that or at once when
 * it says it stops (cluster_down), and forgotten after forget-after offline.
 * A removed member stays as a tombstone that is gossiped too, so every
 * member drops it and none admits it again.
 */
#ifndef OAND_CLUSTER_H
#define OAND_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "sizes.h"

#define CLUSTER_ADDR_BYTES OAND_ADDR_BYTES		/* a Tox ID */
#define CLUSTER_KEY_BYTES OAND_KEY_BYTES		/* its public key part */
#define CLUSTER_NAME_MAX 255		/* bytes, printable */
#define CLUSTER_SERVER_MAX 255
#define CLUSTER_MAX 1024		/* members a node keeps */
#define CLUSTER_HOPS_MAX 8		/* evidence relayed further is ignored */

enum cluster_state { CL_ONLINE, CL_STALE, CL_OFFLINE, CL_REMOVED };

struct cluster_member {
	uint8_t addr[CLUSTER_ADDR_BYTES];
	char name[CLUSTER_NAME_MAX + 1];
	char server[CLUSTER_SERVER_MAX + 1];	/* "host:port" of its HTTP service */
	int64_t first_seen;	/* ms, earliest report */
	int64_t last_hb;	/* ms, local clock: freshest evidence; 0 never */
	uint64_t hb_seq;	/* the newest of its heartbeats heard of */
	int hops;		/* how that evidence came */
	int64_t down;		/* ms: direct connection lost; evidence must be newer */
	int64_t removed;	/* ms: removed from the cluster, else 0 */
	int64_t removed_seen;	/* ms, local clock: when this node learned it */
	int self;
	int direct;		/* connected and proven now (set by the net thread) */
	int dirty;		/* changed since last saved */
	int64_t pinged;		/* ms: last ping sent while stale */
	int state_seen;		/* last state logged (net thread) */
};

struct cluster {
	struct cluster_member *m;	/* m[0] is this node */
	size_t n, cap;
	int64_t hb_ms, forget_ms;
};

int cluster_init(struct cluster *c, const uint8_t self[CLUSTER_ADDR_BYTES], const char *name,
		 const char *server, int64_t hb_ms, int64_t forget_ms, int64_t now);
void cluster_free(struct cluster *c);

struct cluster_member *cluster_find(struct cluster *c, const uint8_t pk[CLUSTER_KEY_BYTES]);
/* Add (or update the name and server of) a member; NULL when full. */
struct cluster_member *cluster_add(struct cluster *c, const uint8_t addr[CLUSTER_ADDR_BYTES],
				   const char *name, const char *server, int64_t first_seen);
enum cluster_state cluster_state(const struct cluster *c, const struct cluster_member *m,
				 int64_t now);
const char *cluster_state_name(enum cluster_state s);
/* This node sends a new heartbeat: number it. */
void cluster_beat(struct cluster *c);
/* Evidence that m lives, heard directly now. */
void cluster_heard(struct cluster_member *m, int64_t now);
/* m said it stops (or is otherwise known gone) now: offline until newer evidence. */
void cluster_down(struct cluster_member *m, int64_t now);
/* Mark pk removed (a tombstone).  -ENOENT if unknown, -EINVAL for self. */
int cluster_remove(struct cluster *c, const uint8_t pk[CLUSTER_KEY_BYTES], int64_t now);
int cluster_is_removed(struct cluster *c, const uint8_t pk[CLUSTER_KEY_BYTES]);
/* Tombstones held (members removed); a rise after a merge is news. */
size_t cluster_removed_count(const struct cluster *c);
/* Drop members offline for longer than forget-after; returns how many
   were dropped and calls gone() for each before it goes. */
size_t cluster_forget(struct cluster *c, int64_t now,
		      void (*gone)(const struct cluster_member *m, void *ctx), void *ctx);

/*
 * The members this node keeps a direct connection to: all of them while
 * they fit in max, else its max nearest neighbours on the ring of public
 * keys (half on each side), a choice both ends of a pair make alike.
 * Fills idx[] with indices into c->m; returns how many.
 */
size_t cluster_peers(const struct cluster *c, size_t max, size_t *idx);

/* The heartbeat this node sends now (owned by the caller). */
int cluster_encode(const struct cluster *c, int64_t now, uint8_t **out, size_t *len);
/*
 * Merge a heartbeat received from the member whose key is from.  The
 * first entry must be the sender itself.  Returns the number of entries
 * merged, or -EBADMSG for anything malformed (nothing is applied then).
 * *self_removed is set when the heartbeat carries this node's tombstone.
 */
int cluster_merge(struct cluster *c, const uint8_t from[CLUSTER_KEY_BYTES], const uint8_t *buf,
		  size_t len, int64_t now, int *self_removed);

/* "YYYY-MM-DDTHH:MM:SSZ" for ms since the epoch; "" for 0. */
void cluster_iso8601(int64_t ms, char out[32]);

#endif
