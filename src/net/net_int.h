/*
 * net_int.h: what the files of src/net share and nothing else includes:
 * struct net, struct peer, their queues and the constants they are sized
 * by, and the functions one file of src/net calls in another.  net.h is
 * the public contract.
 */
#ifndef OAND_NET_INT_H
#define OAND_NET_INT_H

#include <pthread.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <tox/tox.h>

#include "cluster.h"
#include "net.h"
#include "rpc.h"
#include "wire.h"

struct db_member;

/* A friend's proof of the cluster key, answering ours (mutual admission). */
#define PKT_PROOF 161
#define FRIENDS_MAX 512
/* Per peer: messages in flight while reassembling, and bytes they hold. */
#define REASM_MSGS 4
#define REASM_BYTES (NET_BODY_MAX + 2 * WIRE_MSG_HEADER + 2 * WIRE_RESOURCE_MAX + (1u << 20))
/* Per peer: bytes queued for sending before new requests are refused. */
#define QUEUE_MAX (4 * (size_t)NET_BODY_MAX)
/*
 * Pacing.  c-toxcore 0.2.18 cuts a friend's lossless rate to 90% of what
 * was delivered lately after every loss (a packet the peer asks for
 * again), and to a fraction of it whenever its send buffer holds more than
 * 64 packets and two seconds' worth, down to 4 packets a second; it grows
 * again only after a second without loss.  A sender that pushes until
 * SENDQ overflows the queue of a slow link (a home router's, tbf's), loses
 * packets, and keeps Tox at that floor for good.  So the receiver tells
 * the sender how many message packets it received on the link (NET_RX,
 * every few packets or RX_MS), and the sender keeps in flight (handed to
 * Tox, not yet received) about twice what the link delivers in a round
 * trip: pace_window().  The link stays busy, the queues on the path stay
 * short, and oand's own queues, not Tox's, decide what goes first.
 * Control messages (heartbeats, pings, NET_RX, cancels) are not held:
 * they are few and small, and a window waiting for NET_RX must not hold
 * NET_RX up.  A peer that never sent NET_RX (an older node) is not paced.
 */
#define PACE_START 16		/* packets in flight before the rate is known */
#define PACE_MIN 2		/* packets in flight at least */
#define PACE_MAX 8192		/* and at most */
#define PACE_GAIN 2		/* round trips' worth of the link in flight */
#define RATE_MS 250		/* the link's rate is measured this often */
#define RX_EVERY 8		/* NET_RX after this many packets at least ... */
#define RX_ACKS_PER_S 200	/* ... or enough for this many a second at most */
#define RX_MS 25		/* and after this long when something came */
/* No NET_RX for this long with the window full: the counts disagree (a
   packet dropped before the peer had our proof); they start again. */
#define PACE_STALL_MS 2000
/* Cancelled requests a peer remembers (their replies are not sent). */
#define CANCEL_KEEP 16
/* A message this small goes ahead of bulk ones (heartbeats, pings). */
#define URGENT_MAX (64u << 10)
#define BUSY_MS 200		/* iterate fast this long after traffic */
#define HEARD_EVERY_MS 250	/* a peer's packets count as life this often */
/* A removed member keeps its link this long after this node learned of
   the removal, so that the tombstone reaches it over a heartbeat even if
   the link was still coming up: five heartbeat intervals, at least 30 s. */
#define REMOVE_GRACE_MS(hb) ((hb) * 5 > 30000 ? (hb) * 5 : 30000)
#define F_INTERNAL 0x100	/* rpc_call flag: no waiter; the net thread frees it */

struct outmsg {
	uint8_t *buf;
	size_t len, index, npk;	/* next packet to send, of npk */
	uint32_t seq;
	int reply;		/* a reply (its asker may have given up) */
	uint64_t id;		/* the request it answers (replies) */
	int64_t queued_at;	/* monotonic ms */
	struct outmsg *next;
};

struct outq {
	struct outmsg *head, *tail;
};

struct peer {
	int proven;		/* sent us a good proof */
	int sent;		/* we sent ours on this connection */
	int up;			/* Tox connection up */
	uint8_t pk[TOX_PUBLIC_KEY_SIZE];
	struct wire_reasm *reasm;
	/* Control messages (not paced), then small requests and notices,
	   then replies and anything big (both paced). */
	struct outq ctl, urgent, bulk;
	size_t queued;
	uint32_t seq;
	int64_t added;		/* when we asked it (monotonic ms) */
	int64_t up_since;	/* when the link came up (monotonic ms) */
	int64_t up_last;	/* when it was last seen up (monotonic ms) */
	int64_t last_rx;	/* when a message packet last came on it (monotonic ms) */
	int64_t last_msg;	/* when a whole message last came (monotonic ms) */
	int64_t heard_at;	/* when its packets last counted as a sign of life */
	/* Counters for the link report (LINK_REPORT_MS). */
	uint64_t handed;	/* packets Tox took */
	uint64_t refused;	/* sends Tox refused (SENDQ, or the link going) */
	uint64_t rx_pk;		/* packets of messages received */
	uint64_t rep_handed, rep_refused, rep_rx;	/* at the last report */
	double handed_rate, refused_rate, rx_rate;	/* per second, last report */
	/* Pacing (pace_window()), counted from the link's coming up. */
	int paced;		/* the peer sends NET_RX */
	uint64_t counted;	/* packets handed that the peer counts (WIRE_PACKET_ID) */
	uint64_t counted_up;	/* counted when the link came up, plus resyncs */
	uint64_t acked;		/* message packets the peer says it received */
	int64_t acked_at;	/* when its last NET_RX came (monotonic ms) */
	uint64_t rx_up;		/* rx_pk when the link came up */
	uint64_t rx_told;	/* rx_pk - rx_up last told the peer */
	int64_t rx_told_at;
	uint64_t pace_waits;	/* flushes stopped by the window */
	int turn;		/* replies and files share the window by turns */
	uint64_t window;	/* packets in flight at most */
	uint64_t timed_pk;	/* the packet whose round trip is being timed (+1; 0 none) */
	int64_t timed_at;	/* when it was handed (monotonic ms) */
	int64_t min_rtt;	/* the shortest round trip on this link (ms) */
	int64_t rate_at;	/* when the rate was last measured */
	uint64_t rate_acked, rate_waits, rate_refused;	/* acked, pace_waits, refused then */
	/* Bytes a second the link delivers to this peer, measured while the
	   link, not oand, limited what went (0: not measured yet). */
	double rate;
	/* Replies the peer no longer waits for (NET_CANCEL): dropped from
	   the queue if not begun, and when the service answers later. */
	uint64_t cancelled[CANCEL_KEEP];
	unsigned ncancelled;
	/* When a packet of a message longer than one packet last came: a
	   reply on its way, which keeps calls to this peer from expiring. */
	int64_t progress_at;
};

/* A request or notice for the service, or a reply or notice to send. */
struct svc_item {
	uint8_t peer[TOX_PUBLIC_KEY_SIZE];	/* from, or to */
	uint8_t skip[TOX_PUBLIC_KEY_SIZE];
	int notice, all, has_skip;
	uint16_t method;
	uint16_t status;
	uint64_t id;
	uint8_t *body;
	size_t len;
	struct svc_item *next;
};

struct net {
	Tox *tox;		/* the net thread's alone once it runs */
	const struct cfg *cfg;
	struct db *db;
	uint8_t self[TOX_PUBLIC_KEY_SIZE];
	uint8_t bff[TOX_PUBLIC_KEY_SIZE];
	int has_bff;
	struct peer fr[FRIENDS_MAX];	/* by friend number; net thread only */
	struct rpc_table rpc;		/* net thread only */
	int64_t busy_until, next_tick, next_hb, next_join;
	int64_t next_report;	/* the link report (net thread) */
	/* Each friend's link as of the last report (under lock). */
	struct net_link links[FRIENDS_MAX];
	int64_t join_retry;	/* ms until the next try while nobody answers */
	int wake;		/* eventfd */
	int stop;		/* atomic */
	pthread_t thread;
	pthread_mutex_t qlock;	/* guards inbox and every call's done/err */
	pthread_cond_t qcond;
	struct rpc_call *inbox;
	pthread_mutex_t lock;	/* guards snap and cl */
	struct net_status snap;
	struct cluster cl;
	int dirty_peers;	/* membership changed: choose peers again */
	int beat_now;		/* atomic: heartbeat and tick at once (other threads) */
	uint8_t reconnect[TOX_PUBLIC_KEY_SIZE];	/* under lock: a link to make afresh */
	int reconnect_asked;	/* under lock */
	size_t join_turn;	/* which saved members to try next */
	struct ident id;	/* for a fresh start of Tox */
	const struct net_files *files;	/* whole files: &files_copy, or NULL */
	struct net_files files_copy;
	/* The service (net_set_service()): its own thread and queues. */
	pthread_mutex_t slock;	/* guards fn, ctx, svc_in, svc_n, svc_stop */
	pthread_cond_t scond;
	net_service_fn svc_fn;
	void *svc_ctx;
	struct svc_item *svc_in, *svc_tail;
	size_t svc_n;
	int svc_stop;
	pthread_t svc_thread;
	int svc_started;
	int svc_busy;		/* fn is running */
	struct svc_item *out;	/* under qlock: replies and notices to send */
	uint8_t (*linked)[TOX_PUBLIC_KEY_SIZE];	/* under lock: members linked now */
	uint8_t (*linked_work)[TOX_PUBLIC_KEY_SIZE];	/* net thread: the next list */
	size_t nlinked;
	int64_t alone_since;	/* no member linked since (monotonic ms), or 0 */
	int64_t heard;		/* another node last answered over HTTP (monotonic ms) */
	int64_t fresh_wait;	/* alone this long (with heard) starts Tox afresh */
	int64_t tox_started;	/* this Tox instance (monotonic ms) */
	int64_t run_started;	/* the network, at net_start (monotonic ms) */
	/* Unlinked members whose bootstrap answers came while alone (see
	   pace_fresh()). */
	int64_t older_since;	/* one that started after this node: since */
	uint8_t older_dht[32];	/* its instance (DHT key) */
	int younger;		/* one that started before this node */
	int follow;		/* one that did, and started Tox afresh since ours */
	uint8_t follow_for[32];	/* the instance followed last */
	uint8_t fresh_for[32];	/* the instance this one last started afresh for */
	int64_t fresh_at;	/* then (monotonic ms) */
	/* Cut off: a member that others hear online and that this node asks
	   for has no link to it (net_nodes_tick() looks; net thread). */
	int cut;
	char cut_host[CLUSTER_SERVER_MAX + 1];
	int cut_port;
	uint8_t cut_pk[TOX_PUBLIC_KEY_SIZE];
	int cut_asked;		/* its current DHT key was asked for */
};

/*
 * Ask the BFF's HTTP service for its Tox ID and current DHT key,
 * bootstrap from it and ask it for admission.  Run by the net thread while
 * this node has no member yet; the fetch blocks at most BFF_TIMEOUT_MS.
 */
#define BFF_TIMEOUT_MS 2000
#define REASK_MS 30000
#define JOIN_PERIOD_MS 5000
/* Nobody answered (a BFF started at the same moment is not listening
   yet): ask again after 250 ms, doubling up to JOIN_PERIOD_MS. */
#define JOIN_RETRY_MS 250
/* Alone this long while members answer over HTTP: start Tox afresh
   (fresh_tox()); the wait doubles while that does not help. */
#define FRESH_TOX_MS 45000
#define FRESH_TOX_MAX_MS 600000
/* An unlinked member that started after this node: after this long
   without a link to its instance, ours starts afresh. */
#define OLDER_WAIT_MS(hb) ((hb) > 10000 ? (hb) : 10000)
/* After that, its current instance is not bootstrapped from this long,
   while it follows (starts afresh too). */
#define FOLLOW_WAIT_MS 30000

#define LINK_REPORT_MS 1000

static inline void hex_key(const uint8_t *k, char out[65])
{
	sodium_bin2hex(out, 65, k, TOX_PUBLIC_KEY_SIZE);
}

static inline void put_u64(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t get_u64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static inline struct cluster_member *member_locked(struct net *n, const uint8_t *pk)
{
	return cluster_find(&n->cl, pk);
}

/* net.c */
void net_count(struct net *n, uint64_t *field);

/* net_send.c */
void net_q_free(struct outq *q);
void net_q_cancel(struct net *n, uint32_t f, uint64_t id);
int net_q_cancelled(const struct peer *p, uint64_t id);
int net_q_msg(struct net *n, uint32_t f, const struct wire_msg *m);
void net_q_sent(struct peer *p);
int net_q_flush(struct net *n, uint32_t f, struct outq *q, size_t *room);
void net_q_acked(struct peer *p, uint64_t acked, int64_t now);
void net_q_tell_rx(struct net *n, int64_t now);
int net_q_flush_all(struct net *n);
void net_q_notice(struct net *n, uint32_t f, uint16_t method, const uint8_t *body, size_t len);
void net_q_reply(struct net *n, uint32_t f, const struct wire_msg *req, int status,
		 uint8_t *body, size_t len);
void net_q_report(struct net *n, int64_t now, int64_t span);

/* net_call.c */
void net_call_done(struct rpc_call *c, int err, void *ctx);
void net_call_expired(struct rpc_call *c, int err, void *ctx);
int64_t net_call_progress(const uint8_t *peer, void *ctx);
void net_call_dispatch(struct net *n);
void net_call_take(struct net *n);
void net_call_ping(struct net *n, const uint8_t *pk, int64_t timeout_ms);
void net_call_fail_parked(struct net *n);

/* net_svc.c */
void net_svc_enqueue(struct net *n, uint32_t f, struct wire_msg *m);
void net_svc_stop(struct net *n);
void *net_svc_main(void *arg);
void net_svc_take_out(struct net *n);

/* net_peers.c */
uint32_t net_peer_of(struct net *n, const uint8_t *pk);
int net_member_removed(struct net *n, const uint8_t *pk);
int net_member_offline(struct net *n, const uint8_t *pk);
void net_peer_offline(struct net *n, uint32_t f);
void net_peer_drop_as(struct net *n, uint32_t f, const char *why, int park);
void net_peer_drop(struct net *n, uint32_t f, const char *why);
void net_peer_on_request(Tox *tox, const uint8_t *pk, const uint8_t *msg, size_t len,
			 void *user);
void net_peer_proof(struct net *n, uint32_t f);
void net_peer_heartbeat(struct net *n, int64_t f_only);
void net_peer_on_connection(Tox *tox, uint32_t f, Tox_Connection c, void *user);
void net_peer_on_packet(Tox *tox, uint32_t f, const uint8_t *data, size_t len, void *user);
void net_peer_befriend(struct net *n, const uint8_t tox_id[TOX_ADDRESS_SIZE]);

/* net_join.c */
void net_join_clear(struct net *n);
int net_join_via(struct net *n, const char *host, int port, const uint8_t *expect, int is_bff);
int net_join_addr(const char *server, char *host, size_t hostlen, int *port);
int net_join(struct net *n);

/* net_nodes.c */
void net_nodes_save(struct net *n);
int net_nodes_load(const struct db_member *dm, void *ctx);
void net_nodes_choose(struct net *n);
void net_nodes_tick(struct net *n);

/* net_files.c */
int net_files_flush(struct net *n, uint32_t f, size_t *room);
void net_files_on_recv(Tox *tox, uint32_t f, uint32_t file, uint32_t kind, uint64_t size,
		       const uint8_t *name, size_t name_len, void *user);
void net_files_on_chunk(Tox *tox, uint32_t f, uint32_t file, uint64_t pos, const uint8_t *data,
			size_t len, void *user);
void net_files_on_chunk_request(Tox *tox, uint32_t f, uint32_t file, uint64_t pos, size_t len,
				void *user);
void net_files_on_control(Tox *tox, uint32_t f, uint32_t file, Tox_File_Control c, void *user);

#endif
