/*
 * net: the node's Tox instance and the one thread that owns it.  Only
 * that thread calls tox_* (c-toxcore 0.2.18 is not thread safe).  It
 * iterates at tox_iteration_interval() and sleeps on an eventfd that
 * net_stop() (and, later, work handed over by other threads) writes.
 * Other threads read what they need from a snapshot the thread keeps
 * under a mutex.  A node runs Tox only when it belongs to a cluster
 * (cluster-key is set): a standalone node opens no socket.
 */
#ifndef OAND_NET_H
#define OAND_NET_H

#include <stddef.h>
#include <stdint.h>

#include "ident.h"
#include "methods.h"
#include "rpc.h"

struct net;
struct cfg;
struct db;

/* Largest request or reply body (bigger ones are refused, not cut). */
#define NET_BODY_MAX (16u << 20)

struct net_status {
	char tox_id[2 * IDENT_ADDRESS_BYTES + 1];
	char dht_key[65];	/* changes at every start (0.2.18) */
	int64_t tox_age_ms;	/* since this Tox instance started */
	int64_t run_ms;		/* since this node's network started */
	uint64_t fresh_starts;	/* Tox instances started afresh (fresh_tox) */
	uint16_t udp_port;	/* 0 if UDP is off or not bound */
	int ipv6;
	int connected;		/* 0 none, 1 TCP, 2 UDP (Tox_Connection) */
	uint64_t iterations;
	int friends;		/* befriended nodes */
	int online;		/* of them connected now */
	int members;		/* of those, proven to hold the cluster key */
	uint64_t refused;	/* requests and friends refused for lack of proof */
	int removed;		/* this node was removed from the cluster */
	int nodes, nodes_online;/* in the node list, this node included */
	uint64_t msgs_in, msgs_out;
	uint64_t dropped;	/* packets and messages dropped as malformed */
	uint64_t unmatched;	/* replies to no pending request */
	size_t reasm_bytes;	/* held for messages still arriving */
	size_t queued_bytes;	/* waiting to be sent (SENDQ back-pressure) */
	size_t pending;		/* requests awaiting a reply */
	uint64_t retried;	/* idempotent requests sent again after a reconnect */
	uint64_t unmatched_bytes;	/* of those replies: whose asker had given up */
	uint64_t cancelled, cancelled_bytes;	/* replies not sent: their asker gave up */
	/* Where the bytes sit, over all peers, as of the last link report
	   (once a second; per peer in the debug log, "net: link"). */
	size_t queued_urgent, queued_bulk;	/* in oand's queues */
	int64_t oldest_queued_ms;	/* age of the oldest message queued */
	size_t replies_queued;		/* replies among them */
	int64_t oldest_reply_ms;	/* age of the oldest reply queued */
	double handed_per_s;		/* packets Tox took */
	double refused_per_s;		/* sends Tox refused (SENDQ) */
	double rx_per_s;		/* message packets received */
	size_t reasm_msgs;		/* messages half received */
	size_t reasm_got, reasm_total;	/* of the oldest: bytes received, of */
	int64_t reasm_age_ms, reasm_idle_ms;	/* since its first, its last byte */
};

struct Tox;
/*
 * Whole files over Tox file transfer, moved by a layer above (src/repl/xfer
 * fills the table, src/core/node hands it to net_start).  The net thread
 * hands on its Tox file callbacks, the notices NET_XFER_WANT and
 * NET_XFER_NOPE, and the room a link's window leaves; f is a friend
 * number, tox the net thread's Tox.  Each runs on the net thread, but
 * attach: net_start calls it before that thread runs, with the net to
 * call back (net_files_friend() and the rest, below).
 */
struct net_files {
	void *ctx;
	void (*attach)(void *ctx, struct net *n);
	void (*recv)(void *ctx, struct Tox *tox, uint32_t f, uint32_t file, uint32_t kind,
		     uint64_t size);
	void (*chunk)(void *ctx, struct Tox *tox, uint32_t f, uint32_t file, uint64_t pos,
		      const uint8_t *data, size_t len);
	void (*chunk_request)(void *ctx, struct Tox *tox, uint32_t f, uint32_t file, uint64_t pos,
			      size_t len);
	/* control: a Tox_File_Control. */
	void (*control)(void *ctx, uint32_t f, uint32_t file, int control);
	/* Send at most max chunks to friend f: how many went (*refused set
	   when Tox's queue is full). */
	size_t (*pump)(void *ctx, struct Tox *tox, uint32_t f, size_t max, int *refused);
	/* 1 if chunks wait to go to friend f. */
	int (*waiting)(void *ctx, uint32_t f);
	void (*tick)(void *ctx, struct Tox *tox);
	/* 1 while bytes flow (the net thread then iterates fast). */
	int (*busy)(void *ctx);
	void (*notice)(void *ctx, struct Tox *tox, uint32_t f, uint16_t method,
		       const uint8_t *body, size_t len);
	/* Friend f's link went down; all_down: every friend's. */
	void (*peer_down)(void *ctx, uint32_t f);
	void (*all_down)(void *ctx);
};

/* Start Tox with id's key and the cfg's ports; the thread starts at once.
   The node list is kept in db.  files (may be NULL, copied) carries whole
   files. */
int net_start(const struct ident *id, const struct cfg *cfg, struct db *db,
	      const struct net_files *files, struct net **out);
/* Stop the thread: pending and later calls fail with -ESHUTDOWN, the
   node list is saved; the lists stay readable until net_free(). */
void net_shutdown(struct net *n);
void net_free(struct net *n);
void net_status(struct net *n, struct net_status *st);
/*
 * Send a request to the member with public key peer and wait for the
 * reply, at most timeout_ms.  Returns 0 with the reply body in *reply
 * (owned by the caller, NULL when empty), or -errno: -EHOSTUNREACH (not
 * connected, or declared offline meanwhile), -ECONNRESET (connection lost
 * before the reply; RPC_IDEMPOTENT requests wait for the reconnect
 * instead and are sent again, unless the peer said it stops or the node
 * list declares it offline first), -ETIMEDOUT, -EMSGSIZE, -ENOBUFS, -ESHUTDOWN, or the peer's
 * own error.  Any thread but the net thread may call it.
 */
int net_call(struct net *n, const uint8_t peer[IDENT_KEY_BYTES], uint16_t method,
	     const uint8_t *body, size_t len, int flags, int timeout_ms, uint8_t **reply,
	     size_t *reply_len);
/* The node list as JSON or as a text table (owned by the caller). */
char *net_nodes(struct net *n, int json);
/* Remove a member from the cluster (by Tox ID or public key, hex):
   0, -ENOENT unknown, -EINVAL malformed or this node. */
int net_remove(struct net *n, const char *hex);
/* Drop the link to a member and make it afresh (a stuck link; tests):
   0, -ENOENT, -EEXIST, -EINVAL for this node, -EPERM for a removed one. */
int net_reconnect(struct net *n, const char *what);
/* Resolve a Tox ID, public key, exact name or unique key prefix (hex) to a
   public key: 0, -ENOENT, or -EEXIST when several match. */
int net_lookup(struct net *n, const char *what, uint8_t pk[IDENT_KEY_BYTES]);
/*
 * The service: requests and notices of methods from NET_SERVICE_FIRST on
 * are handed, one at a time, to fn on a thread of its own (never the net
 * thread).  For a request, fn returns 0 with a reply body (malloc'ed, or
 * NULL) or -errno, sent back as the reply's status; for a notice its
 * result is ignored.  Until it is set, requests get ENOSYS.  At most
 * NET_SERVICE_QUEUE wait; more get EBUSY at once.
 */
#define NET_SERVICE_QUEUE 64
typedef int (*net_service_fn)(void *ctx, const uint8_t from[IDENT_KEY_BYTES], uint16_t method,
			      int notice, const uint8_t *body, size_t len, uint8_t **reply,
			      size_t *reply_len);
void net_set_service(struct net *n, net_service_fn fn, void *ctx);
/* Send a notice to one member (to not NULL) or to every member linked now
   but skip (skip may be NULL).  Nothing waits; body is copied. */
int net_notify(struct net *n, const uint8_t *to, const uint8_t *skip, uint16_t method,
	       const uint8_t *body, size_t len);
/* The members linked now (connected and proven): up to max keys into pks;
   returns how many there are. */
size_t net_linked(struct net *n, uint8_t (*pks)[IDENT_KEY_BYTES], size_t max);
/* One member's link, as of the last report (once a second). */
struct net_link {
	uint8_t pk[IDENT_KEY_BYTES];
	int up;			/* Tox connected */
	int paced;		/* it reports what it receives (NET_RX) */
	double rate;		/* bytes/s the link delivers to it (0 not measured) */
	int64_t rtt_ms;		/* shortest round trip lately, NET_RX's wait included */
	uint64_t window;	/* packets in flight at most */
	uint64_t in_flight;	/* packets handed to Tox, not yet received */
	size_t queued;		/* bytes waiting in oand's queues for it */
	int64_t oldest_queued_ms;	/* age of the oldest message among them */
	size_t receiving, receiving_of;	/* the oldest message half received from it */
	double packets_out_per_s, packets_in_per_s;	/* over the last second */
};
/* The link to pk: 1 and *out, or 0 if it is not connected. */
int net_link(struct net *n, const uint8_t pk[IDENT_KEY_BYTES], struct net_link *out);
/* Bytes a second the link to pk delivers, as measured while it was busy
   (any thread): 0 not measured yet, -1 a peer that does not report what
   it receives (an older node: nothing to go by). */
double net_link_rate(struct net *n, const uint8_t pk[IDENT_KEY_BYTES]);
/* The other members the node list has online now (linked or heard of
   through others): up to max keys into pks; returns how many there are. */
size_t net_online(struct net *n, uint8_t (*pks)[IDENT_KEY_BYTES], size_t max);
/* 1 if pk was removed from the cluster, else 0. */
int net_removed(struct net *n, const uint8_t pk[IDENT_KEY_BYTES]);
/* The name the node list gives pk (into out): 0 or -ENOENT. */
int net_name_of(struct net *n, const uint8_t pk[IDENT_KEY_BYTES], char *out, size_t len);
/* Wake the net thread (any thread). */
void net_wake(struct net *n);
/* For the file mover (struct net_files), on the net thread only: the
   friend number of pk if it is linked (connected, proven), else
   UINT32_MAX; friend f's public key; a notice to friend f. */
uint32_t net_files_friend(struct net *n, const uint8_t pk[IDENT_KEY_BYTES]);
const uint8_t *net_files_pk(struct net *n, uint32_t f);
void net_files_notice(struct net *n, uint32_t f, uint16_t method, const uint8_t *body,
		      size_t len);
/* 1 if this host can open IPv6 sockets, else 0. */
int net_host_has_ipv6(void);

#endif
