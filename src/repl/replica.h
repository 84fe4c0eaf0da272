/*
 * replica: keeps `replicas` copies of every file's content on the members.
 *
 * Every node looks, after changes arrive and every REPLICA_PERIOD_MS, for
 * contents that fewer than `replicas` linked members hold.  For each, the
 * members that could take a copy (linked, not holding it, this node
 * included) are ranked by a hash of the content and their key, the same
 * ranking on every node; a node among the first ones missing fetches the
 * content itself (src/repl/xfer), if its disk has room beyond the database's
 * reserve.  So the copies spread without a coordinator, and a holder that
 * is forgotten (offline past forget-after: its holdings are dropped) is
 * replaced from the remaining holders.
 */
#ifndef OAND_REPLICA_H
#define OAND_REPLICA_H

#include <stdint.h>

#define REPLICA_PERIOD_MS 30000
#define REPLICA_BATCH 256	/* contents looked at per pass */

struct db;
struct net;
struct xfer;
struct replica;

int replica_start(struct db *db, struct xfer *x, struct net *net, const uint8_t self[32],
		  int replicas, const char *data_dir, uint64_t reserve, struct replica **out);
/* Stop (a fetch under way fails first: call after xfer_detach()). */
void replica_stop(struct replica *r);
/* Something changed: look again soon. */
void replica_poke(struct replica *r);
/* Rank of node for content sha (smaller: asked first); the same everywhere. */
uint64_t replica_rank(const uint8_t sha[32], const uint8_t node[32]);

#endif
