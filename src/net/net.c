#include "net.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <tox/tox.h>
#include <unistd.h>

#include "admit.h"
#include "bff.h"
#include "cfg.h"
#include "cluster.h"
#include "db.h"
#include "deadline.h"
#include "clock.h"
#include "hex.h"
#include "httpc.h"
#include "log.h"
#include "thread.h"
#include "wire.h"
#include "xfer.h"

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

static void svc_free(struct svc_item *it)
{
	while (it != NULL) {
		struct svc_item *next = it->next;

		free(it->body);
		free(it);
		it = next;
	}
}

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
	struct xfer *xfer;	/* whole files (may be NULL) */
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
	   for has no link to it (tick() looks; net thread). */
	int cut;
	char cut_host[CLUSTER_SERVER_MAX + 1];
	int cut_port;
	uint8_t cut_pk[TOX_PUBLIC_KEY_SIZE];
	int cut_asked;		/* its current DHT key was asked for */
};


/* Another thread handed the net thread something: end its poll. */
static void net_wake(struct net *n)
{
	uint64_t one = 1;

	if (write(n->wake, &one, sizeof(one)) < 0)
		log_warn("net: cannot wake the net thread: %s", strerror(errno));
}

static void count(struct net *n, uint64_t *field)
{
	pthread_mutex_lock(&n->lock);
	(*field)++;
	pthread_mutex_unlock(&n->lock);
}

int net_host_has_ipv6(void)
{
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	FILE *f;
	int c;

	if (fd < 0)
		return 0;
	close(fd);
	/* A kernel with IPv6 compiled in but no address configured. */
	if ((f = fopen("/proc/net/if_inet6", "r")) == NULL)
		return 0;
	c = fgetc(f);
	fclose(f);
	return c != EOF;
}

static const char *tox_new_error(Tox_Err_New e)
{
	switch (e) {
	case TOX_ERR_NEW_PORT_ALLOC: return "no free UDP port in the range";
	case TOX_ERR_NEW_MALLOC: return "out of memory";
	case TOX_ERR_NEW_LOAD_BAD_FORMAT: return "bad key";
	default: return "error";
	}
}

static void hex_key(const uint8_t *k, char out[65])
{
	sodium_bin2hex(out, 65, k, TOX_PUBLIC_KEY_SIZE);
}

/* ---- send queues ---- */

static void outq_free(struct outq *q)
{
	while (q->head != NULL) {
		struct outmsg *m = q->head;

		q->head = m->next;
		free(m->buf);
		free(m);
	}
	q->tail = NULL;
}

static void put_u64(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/*
 * Friend f gave up waiting for its request id (NET_CANCEL): a reply to it
 * not yet begun leaves the queues, and one the service gives later is not
 * sent; a reply begun goes on (its peer holds part of it).
 */
static void cancel_reply(struct net *n, uint32_t f, uint64_t id)
{
	struct peer *p = &n->fr[f];
	struct outq *qs[] = { &p->urgent, &p->bulk };

	p->cancelled[p->ncancelled++ % CANCEL_KEEP] = id;
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		struct outmsg **pp = &qs[i]->head, *prev = NULL;

		while (*pp != NULL) {
			struct outmsg *m = *pp;

			if (!m->reply || m->id != id || m->index != 0) {
				prev = m;
				pp = &m->next;
				continue;
			}
			*pp = m->next;
			if (qs[i]->tail == m)
				qs[i]->tail = prev;
			p->queued -= m->len;
			pthread_mutex_lock(&n->lock);
			n->snap.cancelled++;
			n->snap.cancelled_bytes += m->len;
			pthread_mutex_unlock(&n->lock);
			free(m->buf);
			free(m);
		}
	}
}

static int is_cancelled(const struct peer *p, uint64_t id)
{
	for (unsigned i = 0; i < CANCEL_KEEP; i++)
		if (p->cancelled[i] == id)
			return 1;
	return 0;
}

/* Queue an encoded message (taken over) for friend f: a control message
   (not paced) if ctl is set; a reply to request id if reply is set. */
static int enqueue(struct net *n, uint32_t f, uint8_t *buf, size_t len, int ctl, int reply, uint64_t id)
{
	struct peer *p = &n->fr[f];
	struct outmsg *m = calloc(1, sizeof(*m));
	struct outq *q = ctl ? &p->ctl : !reply && len <= URGENT_MAX ? &p->urgent : &p->bulk;

	if (m == NULL) {
		free(buf);
		return -ENOMEM;
	}
	m->buf = buf;
	m->len = len;
	m->npk = wire_packets(len);
	m->seq = p->seq++;
	m->queued_at = deadline_now_ms();
	m->reply = reply;
	m->id = id;
	if (q->tail != NULL)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	p->queued += len;
	count(n, &n->snap.msgs_out);
	return 0;
}

static int send_msg(struct net *n, uint32_t f, const struct wire_msg *m)
{
	uint8_t *buf;
	size_t len;
	int r = wire_encode(m, &buf, &len);

	return r != 0 ? r : enqueue(n, f, buf, len, m->method < NET_SERVICE_FIRST && len <= URGENT_MAX,
				    m->type == WIRE_REPLY, m->id);
}

/* Packets friend f may have in flight: about PACE_GAIN round trips of
   what the link delivers (the round trip counted with NET_RX's wait). */
static uint64_t pace_window(const struct peer *p)
{
	double w;

	if (p->rate <= 0)
		return PACE_START;
	w = PACE_GAIN * p->rate / WIRE_PACKET_MAX * (double)((p->min_rtt > 0 ? p->min_rtt : 100) + RX_MS) /
	    1000.0;
	return w < PACE_MIN ? PACE_MIN : w > PACE_MAX ? PACE_MAX : (uint64_t)w;
}

/*
 * Packets friend f may hand Tox now: what its window leaves (SIZE_MAX for
 * a peer that is not paced).  No NET_RX for PACE_STALL_MS with the window
 * full: the two counts disagree (a packet dropped before the peer had our
 * proof, a file chunk for a transfer it had ended); they start again.
 */
static size_t pace_room(struct peer *p, int64_t now)
{
	uint64_t out = p->counted - p->counted_up;	/* packet number on this link */

	if (!p->paced)
		return SIZE_MAX;
	if (out < p->acked + p->window)
		return (size_t)(p->acked + p->window - out);
	if (now - p->acked_at < PACE_STALL_MS)
		return 0;
	p->counted_up = p->counted - p->acked;
	p->acked_at = now;
	p->timed_pk = 0;
	return (size_t)p->window;
}

/* One more packet counted by the peer went: time it if none is timed. */
static void pace_sent(struct peer *p)
{
	if (p->timed_pk == 0) {
		p->timed_pk = p->counted - p->counted_up;	/* its number + 1 */
		p->timed_at = deadline_now_ms();
	}
}

/*
 * Send what the queue holds until Tox says SENDQ (try again at the next
 * iteration, nothing is dropped) or *room packets went (room NULL: not
 * paced).  Returns 1 if the queue still holds something.
 */
static int flush_queue(struct net *n, uint32_t f, struct outq *q, size_t *room)
{
	struct peer *p = &n->fr[f];
	uint8_t pkt[WIRE_PACKET_MAX];

	while (q->head != NULL) {
		struct outmsg *m = q->head;
		size_t len;
		Tox_Err_Friend_Custom_Packet err;

		if (room != NULL && *room == 0)
			return 1;
		len = wire_packet(m->seq, m->buf, m->len, m->index, pkt);
		/* A peer that paces counts only what is paced: the control
		   messages' packets (acks among them) are marked apart. */
		if (room == NULL && p->paced)
			pkt[0] = WIRE_PACKET_UNCOUNTED;
		if (!tox_friend_send_lossless_packet(n->tox, f, pkt, len, &err)) {
			p->refused++;
			return 1;	/* SENDQ or a connection going down */
		}
		p->handed++;
		if (pkt[0] == WIRE_PACKET_ID) {
			p->counted++;
			pace_sent(p);
		}
		if (room != NULL && *room != SIZE_MAX)
			(*room)--;
		if (++m->index < m->npk)
			continue;
		q->head = m->next;
		if (q->head == NULL)
			q->tail = NULL;
		p->queued -= m->len;
		free(m->buf);
		free(m);
	}
	return 0;
}

/* File chunks Tox asked for, at most *room of them (src/xfer). */
static int flush_files(struct net *n, uint32_t f, size_t *room)
{
	struct peer *p = &n->fr[f];
	int refused = 0;
	size_t sent;

	if (n->xfer == NULL || *room == 0)
		return n->xfer != NULL && xfer_net_waiting(n->xfer, f);
	sent = xfer_net_pump(n->xfer, n->tox, f, *room, &refused);
	p->handed += sent;
	p->counted += sent;
	for (size_t i = 0; i < sent && p->timed_pk == 0; i++)
		pace_sent(p);
	if (*room != SIZE_MAX)
		*room -= sent;
	p->refused += refused;
	return refused || xfer_net_waiting(n->xfer, f);
}

/* NET_RX from friend f: it received acked packets of this link. */
static void pace_acked(struct peer *p, uint64_t acked, int64_t now)
{
	p->paced = 1;
	p->acked = acked;
	p->acked_at = now;
	if (p->timed_pk != 0 && acked >= p->timed_pk) {
		int64_t rtt = now - p->timed_at;

		/* The shortest only: a sample taken while the window keeps a
		   queue on the path would grow the window, and the queue with
		   it (the link's own round trip changes when it comes up). */
		if (p->min_rtt <= 0 || rtt < p->min_rtt)
			p->min_rtt = rtt > 0 ? rtt : 1;
		p->timed_pk = 0;
	}
}

/*
 * Every RATE_MS: what the link delivered to friend f.  More than the
 * estimate raises it at once (with the window at twice the estimate, the
 * rate doubles every RATE_MS until the link is full).  Less lowers it
 * (averaged) only when the link, not oand, limited what went (the window
 * was full, or Tox refused); otherwise it is only what oand had to send.
 */
static void pace_measure(struct peer *p, int64_t now)
{
	int64_t span = now - p->rate_at;
	double got;
	int limited;

	if (!p->paced || span < RATE_MS)
		return;
	if (p->rate_at != 0 && p->acked >= p->rate_acked) {
		got = (double)(p->acked - p->rate_acked) * WIRE_PACKET_MAX * 1000.0 / (double)span;
		limited = p->pace_waits != p->rate_waits || p->refused != p->rate_refused;
		if (got > p->rate)
			p->rate = got;
		else if (limited)
			p->rate = (3 * p->rate + got) / 4;
	}
	p->rate_at = now;
	p->rate_acked = p->acked;
	p->rate_waits = p->pace_waits;
	p->rate_refused = p->refused;
	p->window = pace_window(p);
}

static void send_notice(struct net *n, uint32_t f, uint16_t method, const uint8_t *body, size_t len);

/* Tell each peer what arrived from it (NET_RX), often enough to pace by. */
static void tell_rx(struct net *n, int64_t now)
{
	for (uint32_t f = 0; f < FRIENDS_MAX; f++) {
		struct peer *p = &n->fr[f];
		uint64_t got = p->rx_pk - p->rx_up;
		uint8_t b[8];

		uint64_t every = (uint64_t)(p->rx_rate / RX_ACKS_PER_S);

		if (!p->up || !p->proven || !p->sent || got == p->rx_told)
			continue;
		/* Often enough to pace by, not one per packet on a fast link. */
		if (got - p->rx_told < (every > RX_EVERY ? every : RX_EVERY) && now - p->rx_told_at < RX_MS)
			continue;
		put_u64(b, got);
		send_notice(n, f, NET_RX, b, sizeof(b));
		p->rx_told = got;
		p->rx_told_at = now;
	}
}

/*
 * What goes to each peer, in this order: control messages (not paced);
 * then, within the window, small requests and notices; then replies and
 * file chunks sharing what is left half and half while both wait (so that
 * a catch-up and a transfer both go on, neither waiting for the other to
 * end), either taking all of it alone.
 */
static int flush_all(struct net *n)
{
	int64_t now = deadline_now_ms();
	int left = 0;

	for (uint32_t f = 0; f < FRIENDS_MAX; f++) {
		struct peer *p = &n->fr[f];
		size_t room, half;
		int more_b, more_f, files;

		if (!p->up || !p->sent)
			continue;
		pace_measure(p, now);
		if (p->ctl.head != NULL && flush_queue(n, f, &p->ctl, NULL))
			left = 1;
		files = n->xfer != NULL && xfer_net_waiting(n->xfer, f);
		if (p->urgent.head == NULL && p->bulk.head == NULL && !files)
			continue;
		room = pace_room(p, now);
		more_b = flush_queue(n, f, &p->urgent, &room);
		if (p->bulk.head != NULL && room != SIZE_MAX && files) {
			/* Both wait: each its half, the first (by turns, as the
			   window may hold one packet) the odd one. */
			half = (room + 1) / 2;
			room -= half;
			if (p->turn ^= 1)
				more_b |= flush_queue(n, f, &p->bulk, &half);
			else
				flush_files(n, f, &half);
			room += half;	/* what the first left */
		}
		more_b |= flush_queue(n, f, &p->bulk, &room);
		more_f = flush_files(n, f, &room);
		if (more_b || more_f) {
			left = 1;
			if (room == 0)
				p->pace_waits++;	/* the link, not oand, limits */
		}
	}
	return left;
}

/* ---- calls ---- */

static void call_done(struct rpc_call *c, int err, void *ctx)
{
	struct net *n = ctx;

	if (c->flags & F_INTERNAL) {
		free(c->reply);
		free(c);
		return;
	}
	pthread_mutex_lock(&n->qlock);
	c->err = err;
	c->done = 1;
	pthread_cond_broadcast(&n->qcond);
	pthread_mutex_unlock(&n->qlock);
}

static uint32_t friend_of(struct net *n, const uint8_t *pk);

/* A call that ran out of time: if its request went out, the peer is told
   to drop the reply (NET_CANCEL), then it fails like any other. */
static void call_expired(struct rpc_call *c, int err, void *ctx)
{
	struct net *n = ctx;
	uint32_t f;

	if (c->phase == RPC_SENT && (f = friend_of(n, c->peer)) != UINT32_MAX && n->fr[f].up &&
	    n->fr[f].proven && n->fr[f].sent) {
		uint8_t b[8];

		put_u64(b, c->id);
		send_notice(n, f, NET_CANCEL, b, sizeof(b));
	}
	call_done(c, err, ctx);
}

/* When a reply last made progress from peer (rpc_extend()). */
static int64_t reply_progress(const uint8_t *peer, void *ctx)
{
	struct net *n = ctx;
	uint32_t f = friend_of(n, peer);

	return f == UINT32_MAX || !n->fr[f].up ? 0 : n->fr[f].progress_at;
}

static uint32_t friend_of(struct net *n, const uint8_t *pk)
{
	uint32_t f = tox_friend_by_public_key(n->tox, pk, NULL);

	return f < FRIENDS_MAX ? f : UINT32_MAX;
}

static struct cluster_member *member_locked(struct net *n, const uint8_t *pk)
{
	return cluster_find(&n->cl, pk);
}

/* Was pk removed from the cluster? */
static int member_removed(struct net *n, const uint8_t *pk)
{
	int r;

	pthread_mutex_lock(&n->lock);
	r = cluster_is_removed(&n->cl, pk);
	pthread_mutex_unlock(&n->lock);
	return r;
}

int net_link(struct net *n, const uint8_t pk[IDENT_KEY_BYTES], struct net_link *out)
{
	int found = 0;

	pthread_mutex_lock(&n->lock);
	for (uint32_t f = 0; f < FRIENDS_MAX && !found; f++)
		if (n->links[f].up && memcmp(n->links[f].pk, pk, IDENT_KEY_BYTES) == 0) {
			*out = n->links[f];
			found = 1;
		}
	pthread_mutex_unlock(&n->lock);
	return found;
}

double net_link_rate(struct net *n, const uint8_t pk[IDENT_KEY_BYTES])
{
	struct net_link l;

	if (!net_link(n, pk, &l) || !l.paced)
		return -1;
	return l.rate;
}

int net_removed(struct net *n, const uint8_t pk[IDENT_KEY_BYTES])
{
	return member_removed(n, pk);
}

/* Is pk unknown, removed or offline in the node list? */
static int member_offline(struct net *n, const uint8_t *pk)
{
	struct cluster_member *m;
	int off;

	pthread_mutex_lock(&n->lock);
	m = member_locked(n, pk);
	off = m == NULL || cluster_state(&n->cl, m, clock_wall_ms()) >= CL_OFFLINE;
	pthread_mutex_unlock(&n->lock);
	return off;
}

/* Send every queued call whose peer is ready; keep or fail the others. */
static void dispatch(struct net *n)
{
	struct rpc_call *c, *next;

	for (c = n->rpc.head; c != NULL; c = next) {
		uint32_t f = friend_of(n, c->peer);
		struct wire_msg m = { 0 };
		int r;

		next = c->next;
		if (c->phase != RPC_QUEUED)
			continue;
		if (member_removed(n, c->peer)) {	/* linked, if at all, only to be told */
			rpc_unlink(&n->rpc, c);
			call_done(c, -EHOSTUNREACH, n);
			continue;
		}
		if (f == UINT32_MAX || !n->fr[f].up || !n->fr[f].proven || !n->fr[f].sent) {
			/* Connected and still proving, or (idempotent) a friend
			   that may connect: wait, up to the deadline or until it
			   is declared offline; anything else cannot be sent. */
			if (f != UINT32_MAX && (n->fr[f].up || ((c->flags & RPC_IDEMPOTENT) &&
								     !member_offline(n, c->peer))))
				continue;
			rpc_unlink(&n->rpc, c);
			call_done(c, -EHOSTUNREACH, n);
			continue;
		}
		if (n->fr[f].queued > QUEUE_MAX) {
			rpc_unlink(&n->rpc, c);
			call_done(c, -ENOBUFS, n);
			continue;
		}
		m.type = WIRE_REQUEST;
		m.method = c->method;
		m.id = c->id;
		memcpy(m.from, n->self, WIRE_KEY_BYTES);
		memcpy(m.to, c->peer, WIRE_KEY_BYTES);
		m.resource = (char *)"";
		m.body = (uint8_t *)c->body;
		m.body_len = c->body_len;
		if ((r = send_msg(n, f, &m)) != 0) {
			rpc_unlink(&n->rpc, c);
			call_done(c, r, n);
			continue;
		}
		c->phase = RPC_SENT;
		c->sends++;
		/* An internal call's body is ours to free once encoded. */
		if (c->flags & F_INTERNAL) {
			free((void *)c->body);
			c->body = NULL;
			c->body_len = 0;
		}
	}
}

/* Take the calls other threads handed over. */
static void take_inbox(struct net *n)
{
	struct rpc_call *c;

	pthread_mutex_lock(&n->qlock);
	c = n->inbox;
	n->inbox = NULL;
	pthread_mutex_unlock(&n->qlock);
	while (c != NULL) {
		struct rpc_call *next = c->next;

		rpc_add(&n->rpc, c);
		c = next;
	}
}

static void ping(struct net *n, const uint8_t *pk, int64_t timeout_ms)
{
	struct rpc_call *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return;
	memcpy(c->peer, pk, RPC_KEY_BYTES);
	c->method = NET_PING;
	c->flags = F_INTERNAL;
	rpc_set_timeout(c, deadline_now_ms(), timeout_ms);
	rpc_add(&n->rpc, c);
}

int net_call(struct net *n, const uint8_t peer[IDENT_KEY_BYTES], uint16_t method,
	     const uint8_t *body, size_t len, int flags, int timeout_ms, uint8_t **reply,
	     size_t *reply_len)
{
	struct rpc_call c = { 0 };

	*reply = NULL;
	*reply_len = 0;
	if (len > NET_BODY_MAX)
		return -EMSGSIZE;
	memcpy(c.peer, peer, RPC_KEY_BYTES);
	c.method = method;
	c.body = body;
	c.body_len = len;
	c.flags = flags & RPC_IDEMPOTENT;
	rpc_set_timeout(&c, deadline_now_ms(), timeout_ms);
	pthread_mutex_lock(&n->qlock);
	if (__atomic_load_n(&n->stop, __ATOMIC_ACQUIRE)) {
		pthread_mutex_unlock(&n->qlock);
		return -ESHUTDOWN;
	}
	c.next = n->inbox;
	n->inbox = &c;
	pthread_mutex_unlock(&n->qlock);
	net_wake(n);
	/* The net thread finishes every call by its deadline (or at stop);
	   the timed wait only guards against a lost wake-up. */
	pthread_mutex_lock(&n->qlock);
	while (!c.done) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&n->qcond, &n->qlock, &ts);
	}
	pthread_mutex_unlock(&n->qlock);
	if (c.err == 0) {
		*reply = c.reply;
		*reply_len = c.reply_len;
	} else {
		free(c.reply);
	}
	return c.err;
}

/* ---- peers coming and going ---- */

/* Forget everything in flight with friend f (its connection is gone). */
static void peer_reset(struct net *n, uint32_t f, int offline)
{
	struct peer *p = &n->fr[f];

	if (p->reasm != NULL)
		wire_reasm_reset(p->reasm);
	outq_free(&p->ctl);
	outq_free(&p->urgent);
	outq_free(&p->bulk);
	p->queued = 0;
	p->proven = p->sent = 0;
	rpc_peer_down(&n->rpc, p->pk, offline, call_done, n);
}

/*
 * Friend f is declared offline (no heartbeat for two intervals) while Tox
 * may still think it connected: its half-received messages go and what
 * waits for it fails now.  The link itself stays, so a peer that was only
 * slow carries on where it left off.
 */
static void peer_offline(struct net *n, uint32_t f)
{
	struct peer *p = &n->fr[f];

	if (p->reasm != NULL)
		wire_reasm_reset(p->reasm);
	rpc_peer_down(&n->rpc, p->pk, 1, call_done, n);
}

/* Unfriend f; with park set its idempotent requests wait for the new
   link (a reconnect), else everything waiting for it fails. */
static void drop_friend_as(struct net *n, uint32_t f, const char *why, int park)
{
	char hex[65];

	hex_key(n->fr[f].pk, hex);
	log_notice("net: dropping %s: %s", hex, why);
	pthread_mutex_lock(&n->lock);
	{
		struct cluster_member *m = member_locked(n, n->fr[f].pk);

		if (m != NULL)
			m->direct = 0;
	}
	pthread_mutex_unlock(&n->lock);
	peer_reset(n, f, !park);
	if (n->xfer != NULL)
		xfer_net_peer_down(n->xfer, f);
	tox_friend_delete(n->tox, f, NULL);
	wire_reasm_free(n->fr[f].reasm);
	memset(&n->fr[f], 0, sizeof(n->fr[f]));
}

static void drop_friend(struct net *n, uint32_t f, const char *why)
{
	drop_friend_as(n, f, why, 0);
}

/* A friend request: admitted only with a proof of the cluster key for
   exactly this pair; anything else is refused and logged. */
static void on_friend_request(Tox *tox, const uint8_t *pk, const uint8_t *msg, size_t len,
			      void *user)
{
	struct net *n = user;
	Tox_Err_Friend_Add err;
	char hex[65];
	int r, removed;

	hex_key(pk, hex);
	r = admit_check_request(n->cfg->cluster_key, pk, n->self, msg, len);
	pthread_mutex_lock(&n->lock);
	removed = n->snap.removed ? -1 : 0;
	if (r == 0 && !removed) {
		struct cluster_member *m = member_locked(n, pk);

		/* A removed member that asks again (it was away when it was
		   removed) is linked for one grace time, in which it hears
		   its tombstone and nothing else; then it is dropped. */
		if (m != NULL && m->removed) {
			int64_t now = clock_wall_ms(), grace = REMOVE_GRACE_MS(n->cfg->heartbeat_ms);

			/* Once per two grace times at most: a removed node
			   that ignores its tombstone is not kept linked. */
			removed = now - m->removed_seen > 2 * grace ? 1 : -1;
			if (removed > 0)
				m->removed_seen = now;
			n->dirty_peers = 1;
		}
	}
	pthread_mutex_unlock(&n->lock);
	if (r == 0 && removed < 0)
		r = n->snap.removed ? -EPERM : -EAGAIN;
	if (r != 0) {
		log_warn("net: refused a friend request from %s: %s", hex,
			 r == -EPERM ? "this node was removed from the cluster"
			 : r == -EAGAIN ? "removed from the cluster, and told so lately"
			 : r == -EACCES ? "no proof of the cluster key" : "not an oand node");
		count(n, &n->snap.refused);
		return;
	}
	if (removed) {
		log_warn("net: refused a friend request from %s: removed from the cluster; "
			 "linking it only to tell it so", hex);
		count(n, &n->snap.refused);
	}
	if (tox_friend_add_norequest(tox, pk, &err) == UINT32_MAX && err != TOX_ERR_FRIEND_ADD_ALREADY_SENT)
		log_warn("net: cannot add %s %s: error %d", removed ? "removed node" : "member", hex,
			 (int)err);
	else if (!removed)
		log_notice("net: admitted member %s", hex);
}

static void send_proof(struct net *n, uint32_t f)
{
	uint8_t pkt[1 + ADMIT_PROOF_BYTES];
	Tox_Err_Friend_Custom_Packet err;

	pkt[0] = PKT_PROOF;
	admit_proof(n->cfg->cluster_key, n->self, n->fr[f].pk, pkt + 1);
	if (tox_friend_send_lossless_packet(n->tox, f, pkt, sizeof(pkt), &err))
		n->fr[f].sent = 1;	/* else: retried at the next iteration */
}

/* A notice of method with body to friend f (net thread). */
static void send_notice(struct net *n, uint32_t f, uint16_t method, const uint8_t *body, size_t len)
{
	struct wire_msg m = { 0 };

	m.type = WIRE_NOTICE;
	m.method = method;
	memcpy(m.from, n->self, WIRE_KEY_BYTES);
	memcpy(m.to, n->fr[f].pk, WIRE_KEY_BYTES);
	m.resource = (char *)"";
	m.body = (uint8_t *)body;
	m.body_len = len;
	send_msg(n, f, &m);
}

static void heartbeat_to(struct net *n, int64_t f_only)
{
	uint8_t *hb;
	size_t len;
	int r;

	pthread_mutex_lock(&n->lock);
	cluster_beat(&n->cl);
	r = cluster_encode(&n->cl, clock_wall_ms(), &hb, &len);
	pthread_mutex_unlock(&n->lock);
	if (r != 0)
		return;
	for (uint32_t f = 0; f < FRIENDS_MAX; f++)
		if ((f_only < 0 || (int64_t)f == f_only) && n->fr[f].up && n->fr[f].sent &&
		    n->fr[f].proven)
			send_notice(n, f, NET_HEARTBEAT, hb, len);
	free(hb);
}

static void on_connection(Tox *tox, uint32_t f, Tox_Connection c, void *user)
{
	struct net *n = user;
	struct cluster_member *m;
	char hex[65];

	if (f >= FRIENDS_MAX)
		return;
	if (!n->fr[f].up && c != TOX_CONNECTION_NONE) {
		tox_friend_get_public_key(tox, f, n->fr[f].pk, NULL);
		n->fr[f].up = 1;
		n->fr[f].up_since = deadline_now_ms();
		n->fr[f].sent = 0;
		n->fr[f].paced = 0;
		n->fr[f].counted_up = n->fr[f].counted;
		n->fr[f].acked = 0;
		n->fr[f].window = PACE_START;
		/* Request ids start again with a restarted peer. */
		memset(n->fr[f].cancelled, 0, sizeof(n->fr[f].cancelled));
		n->fr[f].ncancelled = 0;
		n->fr[f].rate = 0;
		n->fr[f].timed_pk = 0;
		n->fr[f].min_rtt = 0;
		n->fr[f].rate_at = 0;
		n->fr[f].rx_up = n->fr[f].rx_pk;
		n->fr[f].rx_told = 0;
		return;	/* the proofs go out from the loop */
	}
	if (n->fr[f].up && c == TOX_CONNECTION_NONE) {
		/* A reset link is no proof that the node is gone: idempotent
		   requests wait for the reconnect, and the node goes offline
		   when its heartbeats stop (a node that stops says so first:
		   NET_BYE). */
		hex_key(n->fr[f].pk, hex);
		log_info("net: connection to %s lost", hex);
		n->fr[f].up = 0;
		n->fr[f].up_last = deadline_now_ms();
		peer_reset(n, f, 0);
		if (n->xfer != NULL)
			xfer_net_peer_down(n->xfer, f);
		pthread_mutex_lock(&n->lock);
		if ((m = member_locked(n, n->fr[f].pk)) != NULL)
			m->direct = 0;
		pthread_mutex_unlock(&n->lock);
	}
}

static void reply_to(struct net *n, uint32_t f, const struct wire_msg *req, int status,
		     uint8_t *body, size_t len)
{
	struct wire_msg m = { 0 };

	m.type = WIRE_REPLY;
	m.method = req->method;
	m.status = (uint16_t)status;
	m.id = req->id;
	memcpy(m.from, n->self, WIRE_KEY_BYTES);
	memcpy(m.to, req->from, WIRE_KEY_BYTES);
	m.resource = (char *)"";
	m.body = body;
	m.body_len = len;
	if (n->fr[f].queued > QUEUE_MAX) {
		m.status = ENOBUFS;
		m.body_len = 0;
	}
	send_msg(n, f, &m);
}

/* ---- the service ---- */

/* Hand a request or notice to the service thread (net thread); the
   message's body moves to it. */
static void svc_enqueue(struct net *n, uint32_t f, struct wire_msg *m)
{
	struct svc_item *it;
	int status = 0;

	pthread_mutex_lock(&n->slock);
	if (n->svc_fn == NULL)
		status = ENOSYS;
	else if (n->svc_n >= NET_SERVICE_QUEUE)
		status = EBUSY;
	else if ((it = calloc(1, sizeof(*it))) == NULL)
		status = ENOMEM;
	if (status == 0) {
		memcpy(it->peer, m->from, sizeof(it->peer));
		it->notice = m->type == WIRE_NOTICE;
		it->method = m->method;
		it->id = m->id;
		it->body = m->body;
		it->len = m->body_len;
		m->body = NULL;
		m->body_len = 0;
		if (n->svc_tail != NULL)
			n->svc_tail->next = it;
		else
			n->svc_in = it;
		n->svc_tail = it;
		n->svc_n++;
		pthread_cond_broadcast(&n->scond);
	}
	pthread_mutex_unlock(&n->slock);
	if (status != 0 && m->type == WIRE_REQUEST)
		reply_to(n, f, m, status, NULL, 0);
}

/* Stop the service thread; what waits for it or to be sent goes. */
static void svc_stop(struct net *n)
{
	if (n->svc_started) {
		pthread_mutex_lock(&n->slock);
		n->svc_stop = 1;
		pthread_cond_broadcast(&n->scond);
		pthread_mutex_unlock(&n->slock);
		pthread_join(n->svc_thread, NULL);
		n->svc_started = 0;
	}
	svc_free(n->svc_in);
	n->svc_in = n->svc_tail = NULL;
	n->svc_n = 0;
	pthread_mutex_lock(&n->qlock);
	svc_free(n->out);
	n->out = NULL;
	pthread_mutex_unlock(&n->qlock);
}

/* Queue a reply or notice for the net thread to send (any thread). */
static void out_push(struct net *n, struct svc_item *it)
{
	pthread_mutex_lock(&n->qlock);
	it->next = n->out;
	n->out = it;
	pthread_mutex_unlock(&n->qlock);
	net_wake(n);
}

static void *svc_main(void *arg)
{
	struct net *n = arg;

	pthread_mutex_lock(&n->slock);
	for (;;) {
		struct svc_item *it;
		net_service_fn fn;
		void *ctx;
		uint8_t *reply = NULL;
		size_t reply_len = 0;
		int r;

		while (n->svc_in == NULL && !n->svc_stop)
			pthread_cond_wait(&n->scond, &n->slock);
		if (n->svc_stop)
			break;
		it = n->svc_in;
		if ((n->svc_in = it->next) == NULL)
			n->svc_tail = NULL;
		n->svc_n--;
		fn = n->svc_fn;
		ctx = n->svc_ctx;
		if (fn == NULL) {
			pthread_mutex_unlock(&n->slock);
			if (!it->notice) {
				it->status = ENOSYS;
				free(it->body);
				it->body = NULL;
				it->len = 0;
				out_push(n, it);
			} else {
				svc_free(it);
			}
			pthread_mutex_lock(&n->slock);
			continue;
		}
		n->svc_busy = 1;
		pthread_mutex_unlock(&n->slock);
		it->next = NULL;
		r = fn(ctx, it->peer, it->method, it->notice, it->body, it->len, &reply, &reply_len);
		free(it->body);
		it->body = NULL;
		if (it->notice) {
			free(reply);
			free(it);
		} else {
			it->status = (uint16_t)(r < 0 ? -r : 0);
			it->body = r < 0 ? (free(reply), NULL) : reply;
			it->len = r < 0 ? 0 : reply_len;
			out_push(n, it);
		}
		pthread_mutex_lock(&n->slock);
		n->svc_busy = 0;
		pthread_cond_broadcast(&n->scond);
	}
	pthread_mutex_unlock(&n->slock);
	return NULL;
}

void net_set_service(struct net *n, net_service_fn fn, void *ctx)
{
	pthread_mutex_lock(&n->slock);
	/* The old one may be in use: it is done with once this returns. */
	while (n->svc_busy)
		pthread_cond_wait(&n->scond, &n->slock);
	n->svc_fn = fn;
	n->svc_ctx = ctx;
	pthread_mutex_unlock(&n->slock);
}

int net_notify(struct net *n, const uint8_t *to, const uint8_t *skip, uint16_t method,
	       const uint8_t *body, size_t len)
{
	struct svc_item *it;

	if (len > NET_BODY_MAX)
		return -EMSGSIZE;
	if (__atomic_load_n(&n->stop, __ATOMIC_ACQUIRE))
		return -ESHUTDOWN;
	if ((it = calloc(1, sizeof(*it))) == NULL || (len > 0 && (it->body = malloc(len)) == NULL)) {
		free(it);
		return -ENOMEM;
	}
	it->notice = 1;
	it->all = to == NULL;
	if (to != NULL)
		memcpy(it->peer, to, sizeof(it->peer));
	if ((it->has_skip = skip != NULL))
		memcpy(it->skip, skip, sizeof(it->skip));
	it->method = method;
	if (len > 0)
		memcpy(it->body, body, len);
	it->len = len;
	out_push(n, it);
	return 0;
}

size_t net_linked(struct net *n, uint8_t (*pks)[IDENT_KEY_BYTES], size_t max)
{
	size_t k;

	pthread_mutex_lock(&n->lock);
	k = n->nlinked;
	for (size_t i = 0; i < k && i < max; i++)
		memcpy(pks[i], n->linked[i], IDENT_KEY_BYTES);
	pthread_mutex_unlock(&n->lock);
	return k;
}

/* Send what the service queued (net thread). */
static void take_out(struct net *n)
{
	struct svc_item *it, *rev = NULL;

	pthread_mutex_lock(&n->qlock);
	it = n->out;
	n->out = NULL;
	pthread_mutex_unlock(&n->qlock);
	while (it != NULL) {	/* oldest first */
		struct svc_item *next = it->next;

		it->next = rev;
		rev = it;
		it = next;
	}
	for (it = rev; it != NULL; it = it->next) {
		struct wire_msg m = { 0 };

		m.type = it->notice ? WIRE_NOTICE : WIRE_REPLY;
		m.method = it->method;
		m.status = it->status;
		m.id = it->id;
		memcpy(m.from, n->self, WIRE_KEY_BYTES);
		m.resource = (char *)"";
		m.body = it->body;
		m.body_len = it->len;
		for (uint32_t f = 0; f < FRIENDS_MAX; f++) {
			struct peer *p = &n->fr[f];

			if (!p->up || !p->proven || !p->sent)
				continue;
			if (it->all ? it->has_skip && memcmp(p->pk, it->skip, WIRE_KEY_BYTES) == 0
				    : memcmp(p->pk, it->peer, WIRE_KEY_BYTES) != 0)
				continue;
			if (!it->notice && is_cancelled(p, it->id)) {
				pthread_mutex_lock(&n->lock);
				n->snap.cancelled++;
				n->snap.cancelled_bytes += it->len;
				pthread_mutex_unlock(&n->lock);
				break;
			}
			memcpy(m.to, p->pk, WIRE_KEY_BYTES);
			if (!it->notice && p->queued > QUEUE_MAX) {
				m.status = ENOBUFS;
				m.body_len = 0;
			}
			send_msg(n, f, &m);
			if (!it->all)
				break;
		}
	}
	svc_free(rev);
}

/* A whole message from proven friend f. */
static void on_message(struct net *n, uint32_t f, uint8_t *buf, size_t len)
{
	struct wire_msg m = { 0 };
	struct rpc_call *c;
	int self_removed = 0, r;
	size_t tombs;
	int64_t now = clock_wall_ms();

	r = wire_decode(buf, len, &m);
	free(buf);
	if (r != 0 || memcmp(m.from, n->fr[f].pk, WIRE_KEY_BYTES) != 0 ||
	    memcmp(m.to, n->self, WIRE_KEY_BYTES) != 0) {
		count(n, &n->snap.dropped);
		wire_msg_clear(&m);
		return;
	}
	pthread_mutex_lock(&n->lock);
	n->snap.msgs_in++;
	{
		/* Any message is evidence that the peer lives. */
		struct cluster_member *mb = member_locked(n, m.from);

		if (mb != NULL && mb->removed) {
			/* Linked only so that it hears of its removal. */
			n->snap.dropped++;
			pthread_mutex_unlock(&n->lock);
			wire_msg_clear(&m);
			return;
		}
		if (mb != NULL) {
			cluster_heard(mb, now);
			mb->direct = 1;
		}
	}
	pthread_mutex_unlock(&n->lock);
	switch (m.type) {
	case WIRE_NOTICE:
		if (m.method == NET_BYE) {
			char hex[65];

			log_notice("net: %s is stopping", (hex_key(m.from, hex), hex));
			pthread_mutex_lock(&n->lock);
			{
				struct cluster_member *mb = member_locked(n, m.from);

				if (mb != NULL)
					cluster_down(mb, now);
			}
			pthread_mutex_unlock(&n->lock);
			peer_offline(n, f);
			break;
		}
		if (m.method >= NET_SERVICE_FIRST) {
			svc_enqueue(n, f, &m);
			break;
		}
		if (m.method == NET_RX) {
			if (m.body_len == 8) {
				pace_acked(&n->fr[f], get_u64(m.body), deadline_now_ms());
			} else {
				count(n, &n->snap.dropped);
			}
			break;
		}
		if (m.method == NET_CANCEL) {
			if (m.body_len == 8)
				cancel_reply(n, f, get_u64(m.body));
			else
				count(n, &n->snap.dropped);
			break;
		}
		if (m.method == NET_XFER_WANT || m.method == NET_XFER_NOPE) {
			if (n->xfer != NULL)
				xfer_net_notice(n->xfer, n->tox, f, m.method, m.body, m.body_len);
			break;
		}
		if (m.method != NET_HEARTBEAT) {
			count(n, &n->snap.dropped);
			break;
		}
		pthread_mutex_lock(&n->lock);
		tombs = cluster_removed_count(&n->cl);
		r = cluster_merge(&n->cl, m.from, m.body, m.body_len, now, &self_removed);
		if (r > 0) {
			struct cluster_member *mb = member_locked(n, m.from);

			if (mb != NULL)
				mb->direct = 1;
			n->dirty_peers = 1;
			/* News of a removal goes on at once, to the removed node
			   too while its link lasts. */
			if (cluster_removed_count(&n->cl) > tombs)
				n->next_hb = 0;
		}
		pthread_mutex_unlock(&n->lock);
		if (r < 0) {
			char hex[65];

			log_warn("net: malformed heartbeat from %s dropped", (hex_key(m.from, hex), hex));
			count(n, &n->snap.dropped);
		}
		if (self_removed && !n->snap.removed) {
			log_error("net: this node was removed from the cluster; leaving it");
			pthread_mutex_lock(&n->lock);
			n->snap.removed = 1;
			n->cl.m[0].removed = now;
			n->cl.m[0].dirty = 1;
			n->dirty_peers = 1;
			pthread_mutex_unlock(&n->lock);
		}
		break;
	case WIRE_REQUEST:
		if (m.method == NET_PING) {
			reply_to(n, f, &m, 0, NULL, 0);
		} else if (m.method == NET_ECHO) {
			reply_to(n, f, &m, 0, m.body, m.body_len);
		} else if (m.method >= NET_SERVICE_FIRST) {
			svc_enqueue(n, f, &m);
		} else {
			reply_to(n, f, &m, ENOSYS, NULL, 0);
		}
		break;
	case WIRE_REPLY:
		if ((c = rpc_match(&n->rpc, m.from, m.id)) == NULL) {
			count(n, &n->snap.unmatched);	/* late, or never asked */
			pthread_mutex_lock(&n->lock);
			n->snap.unmatched_bytes += len;
			pthread_mutex_unlock(&n->lock);
			break;
		}
		c->reply = m.body;
		c->reply_len = m.body_len;
		m.body = NULL;
		call_done(c, m.status ? -(int)m.status : 0, n);
		break;
	default:
		count(n, &n->snap.dropped);
	}
	wire_msg_clear(&m);
}

static void on_packet(Tox *tox, uint32_t f, const uint8_t *data, size_t len, void *user)
{
	struct net *n = user;
	struct peer *p;
	char hex[65];

	(void)tox;
	if (f >= FRIENDS_MAX || len < 1) {
		count(n, &n->snap.dropped);
		return;
	}
	p = &n->fr[f];
	n->busy_until = deadline_now_ms() + BUSY_MS;
	if (data[0] == WIRE_PACKET_ID || data[0] == WIRE_PACKET_UNCOUNTED) {
		uint8_t *msg;
		size_t mlen;
		int r;

		if (!p->proven) {	/* a member proves itself first */
			count(n, &n->snap.dropped);
			return;
		}
		p->last_rx = deadline_now_ms();
		p->rx_pk += data[0] == WIRE_PACKET_ID;	/* what NET_RX tells */
		/* Packets arriving are a sign of life, also in the middle of a
		   long message that holds the heartbeats up behind it. */
		if (p->last_rx - p->heard_at >= HEARD_EVERY_MS) {
			struct cluster_member *mb;

			p->heard_at = p->last_rx;
			pthread_mutex_lock(&n->lock);
			if ((mb = member_locked(n, p->pk)) != NULL && !mb->removed)
				cluster_heard(mb, clock_wall_ms());
			pthread_mutex_unlock(&n->lock);
		}
		if (p->reasm == NULL && (p->reasm = wire_reasm_new(REASM_MSGS, REASM_BYTES)) == NULL)
			return;
		r = wire_reasm_feed_at(p->reasm, p->last_rx, data, len, &msg, &mlen);
		if (r == 0 || (r == 1 && mlen > WIRE_FRAG_PAYLOAD))
			p->progress_at = p->last_rx;
		if (r == 1) {
			p->last_msg = p->last_rx;
			on_message(n, f, msg, mlen);
		}
		else if (r < 0)
			count(n, &n->snap.dropped);
		return;
	}
	if (data[0] != PKT_PROOF) {	/* no packet of ours */
		count(n, &n->snap.dropped);
		return;
	}
	if (len == 1 + ADMIT_PROOF_BYTES && admit_check(n->cfg->cluster_key, p->pk, n->self, data + 1) == 0) {
		if (!p->proven) {
			size_t k;

			log_info("net: %s proved the cluster key", (hex_key(p->pk, hex), hex));
			p->proven = 1;
			if ((k = rpc_resume(&n->rpc, p->pk)) > 0) {
				log_info("net: %zu request(s) to %s go out again", k, hex);
				pthread_mutex_lock(&n->lock);
				n->snap.retried += k;
				pthread_mutex_unlock(&n->lock);
			}
			n->next_hb = 0;	/* tell it what we know at once */
		}
		return;
	}
	/* A friend that cannot prove the key is no member: drop it. */
	log_warn("net: %s failed to prove the cluster key; removed", (hex_key(p->pk, hex), hex));
	drop_friend(n, f, "no proof of the cluster key");
	count(n, &n->snap.refused);
}

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

/*
 * Two members that cannot find each other over Tox although each answers
 * the other's bootstrap query over HTTP: c-toxcore keeps every DHT key it
 * met among the nodes it draws onion paths from (32, a dead one dropped
 * only when newer ones push it out), and each start of a member leaves
 * its old key there.  In a small cluster, paths (three nodes drawn from
 * those) then seldom hold only live ones, and the two stay apart.  What
 * is decided on b, a member's answer, while alone:
 * - b started after this node (it restarted): once its instance has had
 *   no link for OLDER_WAIT_MS, this node starts Tox afresh (net_main()),
 *   once per instance of b, and does not bootstrap from that instance
 *   for FOLLOW_WAIT_MS: b is to start afresh too, and two fresh instances
 *   that met only each other's new keys hold no dead key at all;
 * - b started before this node and started Tox afresh after ours: this
 *   node follows at once (once per instance of b);
 * - otherwise b is older: this node waits for b (its own timer, far
 *   longer), for a fresh start here would leave a dead key with b.
 * Ages, not clocks: how long each node and its instance have run.
 */
/* What pace_fresh() heard is over: a member linked, or Tox started afresh. */
static void pace_clear(struct net *n)
{
	n->older_since = 0;
	n->younger = 0;
	n->follow = 0;
}

static void pace_fresh(struct net *n, const struct bff_info *b)
{
	uint32_t f = friend_of(n, b->tox_id);
	int64_t now = deadline_now_ms(), run = now - n->run_started, age = now - n->tox_started;

	/* Only a node with no member linked at all: one cut off from a member
	   while it hears others starts afresh by the other rule (net_main()),
	   and a fresh start here would drop those links too. */
	if (n->snap.members > 0 || b->run_ms < 0 || (f != UINT32_MAX && n->fr[f].up))
		return;
	if (b->run_ms < run) {
		if (memcmp(b->dht_key, n->fresh_for, sizeof(b->dht_key)) != 0 &&
		    (n->older_since == 0 || memcmp(b->dht_key, n->older_dht, sizeof(b->dht_key)) != 0)) {
			n->older_since = now;	/* from when this instance was first heard */
			memcpy(n->older_dht, b->dht_key, sizeof(b->dht_key));
		}
	} else if (b->tox_age_ms >= 0 && b->tox_age_ms < age &&
		   memcmp(b->dht_key, n->follow_for, sizeof(b->dht_key)) != 0) {
		n->follow = 1;
		memcpy(n->follow_for, b->dht_key, sizeof(b->dht_key));
	} else {
		n->younger = 1;
	}
}
static void befriend(struct net *n, const uint8_t tox_id[TOX_ADDRESS_SIZE])
{
	uint8_t req[ADMIT_REQUEST_BYTES];
	Tox_Err_Friend_Add err;
	uint32_t f;

	if (memcmp(tox_id, n->self, TOX_PUBLIC_KEY_SIZE) == 0 ||
	    tox_friend_by_public_key(n->tox, tox_id, NULL) != UINT32_MAX)
		return;	/* ourselves, or asked already */
	admit_request(n->cfg->cluster_key, n->self, tox_id, req);
	f = tox_friend_add(n->tox, tox_id, req, sizeof(req), &err);
	if (f == UINT32_MAX) {
		log_warn("net: cannot ask for admission: error %d", (int)err);
		return;
	}
	if (f >= FRIENDS_MAX) {
		tox_friend_delete(n->tox, f, NULL);
		return;
	}
	memset(&n->fr[f], 0, sizeof(n->fr[f]));
	memcpy(n->fr[f].pk, tox_id, TOX_PUBLIC_KEY_SIZE);
	n->fr[f].added = deadline_now_ms();
}

/*
 * Ask host:port (the BFF, or a member known from the saved node list)
 * for its Tox ID and current DHT key, bootstrap from it and ask it for
 * admission.  expect, if not NULL, is the key the answer must carry.
 * Returns 0 if it answered.
 */
static int join_via(struct net *n, const char *host, int port, const uint8_t *expect, int is_bff)
{
	struct bff_info b;
	Tox_Err_Bootstrap err;
	int r = bff_fetch(host, port, is_bff ? n->cfg->bff_pin : NULL, BFF_TIMEOUT_MS, &b);

	if (r != 0) {
		log_info("net: %s %s:%d not reachable: %s", is_bff ? "BFF" : "member", host, port,
			 strerror(-r));
		return r;
	}
	if (expect != NULL && memcmp(b.tox_id, expect, is_bff ? TOX_ADDRESS_SIZE : TOX_PUBLIC_KEY_SIZE)) {
		log_error("net: %s:%d is not the node %s names; not joining through it", host, port,
			  is_bff ? "bff-tox-id" : "the node list");
		return -EPERM;
	}
	if (memcmp(b.tox_id, n->self, TOX_PUBLIC_KEY_SIZE) != 0) {
		n->heard = deadline_now_ms();
		pace_fresh(n, &b);
	}
	/* Not from the instance this node started afresh for, while that one
	   is given time to start afresh too (see pace_fresh()). */
	if (memcmp(b.dht_key, n->fresh_for, sizeof(b.dht_key)) == 0 &&
	    deadline_now_ms() - n->fresh_at < FOLLOW_WAIT_MS)
		log_debug("net: not bootstrapping from %s:%d: its Tox instance is to start afresh",
			  host, port);
	else if (!tox_bootstrap(n->tox, host, (uint16_t)b.udp_port, b.dht_key, &err))
		log_warn("net: cannot bootstrap from %s:%d: error %d", host, port, (int)err);
	if (is_bff) {
		memcpy(n->bff, b.tox_id, TOX_PUBLIC_KEY_SIZE);
		n->has_bff = memcmp(n->bff, n->self, TOX_PUBLIC_KEY_SIZE) != 0;
	}
	{
		/* Asked long ago and never connected: it may have dropped us
		   (beyond its max-peers); a new request reaches it again. */
		uint32_t f = friend_of(n, b.tox_id);

		/* Not a link that was up a moment ago: that one comes back
		   by itself, with its parked requests. */
		if (f != UINT32_MAX && !n->fr[f].up &&
		    deadline_now_ms() - (n->fr[f].added > n->fr[f].up_last ? n->fr[f].added
									: n->fr[f].up_last) > REASK_MS)
			drop_friend(n, f, "asking it for admission again");
	}
	befriend(n, b.tox_id);
	return 0;
}

/*
 * Not connected to any member: ask the BFF, then (auto-reconnect, and the
 * way back for a node whose BFF is gone) the members the node list knows,
 * a few per round, in turn.
 */
#define JOIN_TRIES 3

/* A member's server address "host:port" split: 0, or -EINVAL. */
static int server_addr(const char *server, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(server, ':');

	if (colon == NULL || colon == server || (size_t)(colon - server) >= hostlen)
		return -EINVAL;
	*port = atoi(colon + 1);
	if (*port <= 0 || *port > 65535)
		return -EINVAL;
	memcpy(host, server, (size_t)(colon - server));
	host[colon - server] = '\0';
	return 0;
}

/* Ask the BFF, else up to JOIN_TRIES saved members, for admission:
   0 once one of them answered, else -EHOSTUNREACH. */
static int join(struct net *n)
{
	const struct cfg *c = n->cfg;
	struct { char host[CLUSTER_SERVER_MAX + 1]; int port; uint8_t pk[TOX_PUBLIC_KEY_SIZE]; } cand[JOIN_TRIES];
	size_t nc = 0, members;
	int answered = 0;

	/* A BFF that is this node itself (the one that started the
	   cluster, restarted) is no way in: its saved members are. */
	if (c->bff_domain_name != NULL &&
	    join_via(n, c->bff_domain_name, c->bff_port, c->has_bff_tox_id ? c->bff_tox_id : NULL, 1) == 0 &&
	    n->has_bff)
		return 0;
	pthread_mutex_lock(&n->lock);
	members = n->cl.n;
	for (size_t k = 0; k < members && nc < JOIN_TRIES; k++) {
		const struct cluster_member *m = &n->cl.m[(n->join_turn + k) % members];

		if (m->self || m->removed ||
		    server_addr(m->server, cand[nc].host, sizeof(cand[nc].host), &cand[nc].port) != 0)
			continue;
		memcpy(cand[nc++].pk, m->addr, TOX_PUBLIC_KEY_SIZE);
	}
	n->join_turn += JOIN_TRIES;
	pthread_mutex_unlock(&n->lock);
	for (size_t k = 0; k < nc; k++)
		answered |= join_via(n, cand[k].host, cand[k].port, cand[k].pk, 0) == 0;
	return answered ? 0 : -EHOSTUNREACH;
}

/* ---- the node list ---- */

static void on_forgotten(const struct cluster_member *m, void *ctx)
{
	struct net *n = ctx;
	char hex[65];

	log_notice("net: forgetting %s (%s), offline for longer than forget-after",
		   (hex_key(m->addr, hex), hex), m->name);
	db_member_delete(n->db, m->addr);
	/* What it held is held no longer: the replica keeper makes new copies. */
	db_holders_forget(n->db, m->addr);
}

/* Save the members that changed, in one transaction, outside n->lock. */
static void save_members(struct net *n)
{
	struct saved {
		struct db_member m;
		char name[CLUSTER_NAME_MAX + 1], server[CLUSTER_SERVER_MAX + 1];
	} *v;
	struct db_member *dm;
	size_t k = 0;

	pthread_mutex_lock(&n->lock);
	v = calloc(n->cl.n, sizeof(*v));
	for (size_t i = 0; v != NULL && i < n->cl.n; i++) {
		struct cluster_member *m = &n->cl.m[i];

		if (!m->dirty)
			continue;
		m->dirty = 0;
		memcpy(v[k].m.addr, m->addr, DB_ADDR_BYTES);
		memcpy(v[k].name, m->name, sizeof(v[k].name));
		memcpy(v[k].server, m->server, sizeof(v[k].server));
		v[k].m.first_seen = m->first_seen;
		v[k].m.last_heartbeat = m->self ? 0 : m->last_hb;
		v[k].m.removed = m->removed;
		k++;
	}
	pthread_mutex_unlock(&n->lock);
	if (v == NULL || k == 0) {
		free(v);
		return;
	}
	if ((dm = calloc(k, sizeof(*dm))) != NULL) {
		for (size_t i = 0; i < k; i++) {
			dm[i] = v[i].m;
			dm[i].name = v[i].name;
			dm[i].server = v[i].server;
		}
		if (db_members_save(n->db, dm, k) != 0)
			log_warn("net: cannot save the node list");
		free(dm);
	}
	free(v);
}

static int load_member(const struct db_member *dm, void *ctx)
{
	struct net *n = ctx;
	struct cluster_member *m;

	if (memcmp(dm->addr, n->self, TOX_PUBLIC_KEY_SIZE) == 0) {
		m = &n->cl.m[0];
		if (dm->first_seen > 0)
			m->first_seen = dm->first_seen;
		m->removed = dm->removed;
		n->snap.removed = dm->removed != 0;
		return 0;
	}
	if ((m = cluster_add(&n->cl, dm->addr, dm->name, dm->server, dm->first_seen)) != NULL) {
		m->last_hb = dm->last_heartbeat;
		m->removed = dm->removed;
		m->state_seen = m->removed ? CL_REMOVED : CL_OFFLINE;
		m->dirty = 0;
	}
	return 0;
}

/*
 * Keep direct connections to the members cluster_peers() picks (and the
 * BFF while joining): befriend those missing, drop removed members and,
 * beyond max-peers, those not picked.
 */
static void choose_peers(struct net *n)
{
	size_t idx[CLUSTER_MAX], k;
	uint8_t (*want)[TOX_ADDRESS_SIZE];
	size_t friends, nwant = 0;
	uint32_t *list;

	if ((want = calloc(CLUSTER_MAX, sizeof(*want))) == NULL)
		return;
	pthread_mutex_lock(&n->lock);
	n->dirty_peers = 0;
	if (!n->snap.removed) {
		k = cluster_peers(&n->cl, (size_t)n->cfg->max_peers, idx);
		for (size_t i = 0; i < k; i++)
			memcpy(want[nwant++], n->cl.m[idx[i]].addr, TOX_ADDRESS_SIZE);
	}
	pthread_mutex_unlock(&n->lock);
	for (size_t i = 0; i < nwant; i++)
		befriend(n, want[i]);
	/* Counted after befriend() added to it: the list is copied whole. */
	friends = tox_self_get_friend_list_size(n->tox);
	if ((list = calloc(friends ? friends : 1, sizeof(*list))) != NULL) {
		tox_self_get_friend_list(n->tox, list);
		for (size_t i = 0; i < friends; i++) {
			uint32_t f = list[i];
			int removed, known, wanted = 0;

			if (f >= FRIENDS_MAX)
				continue;
			pthread_mutex_lock(&n->lock);
			{
				/* A removed member keeps its link for a grace time,
				   so the tombstone reaches it too. */
				struct cluster_member *m = member_locked(n, n->fr[f].pk);
				int64_t now = clock_wall_ms();

				removed = n->snap.removed ||
					  (m != NULL && m->removed &&
					   now - m->removed_seen > REMOVE_GRACE_MS(n->cfg->heartbeat_ms));
				/* A friend not yet in the node list has just been
				   admitted: it stays until its first heartbeat says who
				   it is, so it learns the list and its own peers. */
				known = m != NULL;
				if (m != NULL && m->removed && !removed)
					n->dirty_peers = 1;	/* look again next tick */
			}
			pthread_mutex_unlock(&n->lock);
			if (removed) {
				drop_friend(n, f, "removed from the cluster");
				continue;
			}
			for (size_t j = 0; j < nwant && !wanted; j++)
				wanted = memcmp(want[j], n->fr[f].pk, TOX_PUBLIC_KEY_SIZE) == 0;
			if (!wanted && known &&
			    tox_self_get_friend_list_size(n->tox) > (size_t)n->cfg->max_peers &&
			    !(n->has_bff && memcmp(n->bff, n->fr[f].pk, TOX_PUBLIC_KEY_SIZE) == 0))
				drop_friend(n, f, "beyond max-peers");
		}
		free(list);
	}
	free(want);
}

/* Requests parked for a reconnect fail once their node is declared
   offline (its heartbeats stopped, or it said it stops). */
static void fail_parked(struct net *n)
{
	for (;;) {
		uint8_t pk[RPC_KEY_BYTES];
		struct rpc_call *c;

		for (c = n->rpc.head; c != NULL; c = c->next)
			if ((c->phase == RPC_PARKED && member_offline(n, c->peer)) ||
			    member_removed(n, c->peer))
				break;
		if (c == NULL)
			return;
		/* c may be gone once the first call is done: its key is copied. */
		memcpy(pk, c->peer, sizeof(pk));
		rpc_peer_down(&n->rpc, pk, 1, call_done, n);
	}
}

/* Members looked at per tick for a missing link. */
#define CUT_CHECK 8

/* Once per heartbeat interval: states, pings, forgetting, saving. */
static void tick(struct net *n)
{
	int64_t now = clock_wall_ms();
	struct {
		uint8_t pk[TOX_PUBLIC_KEY_SIZE];
		int what;	/* 1 ping */
	} todo[64];
	size_t nt = 0, ncut;
	int online = 0;
	struct {
		uint8_t pk[TOX_PUBLIC_KEY_SIZE];
		char host[CLUSTER_SERVER_MAX + 1];
		int port;
	} cut[CUT_CHECK];
	struct {
		uint32_t f;
		uint8_t addr[TOX_ADDRESS_SIZE];
	} off[FRIENDS_MAX];
	size_t noff = 0;

	pthread_mutex_lock(&n->lock);
	for (size_t i = 0; i < n->cl.n; i++) {
		struct cluster_member *m = &n->cl.m[i];
		enum cluster_state s = cluster_state(&n->cl, m, now);
		char hex[65];

		online += s == CL_ONLINE || s == CL_STALE;
		if (m->self)
			continue;
		if (s == CL_STALE && m->direct && m->pinged < m->last_hb && nt < 64) {
			m->pinged = now;	/* a stale node is pinged once */
			memcpy(todo[nt].pk, m->addr, TOX_PUBLIC_KEY_SIZE);
			todo[nt++].what = 1;
		}
		if ((int)s != m->state_seen) {
			hex_key(m->addr, hex);
			if (s == CL_OFFLINE && m->state_seen != CL_REMOVED) {
				log_notice("net: %s (%s) is offline", m->name, hex);
			} else if (s == CL_ONLINE && m->state_seen != CL_STALE) {
				log_notice("net: %s (%s) is online", m->name, hex);
			}
			m->state_seen = (int)s;
		}
	}
	/* Level, not edge: every friend that is offline now holds nothing. */
	for (uint32_t f = 0; f < FRIENDS_MAX; f++) {
		struct cluster_member *m;

		if (!n->fr[f].up && n->fr[f].reasm == NULL)
			continue;
		m = member_locked(n, n->fr[f].pk);
		if (m != NULL && !m->removed && cluster_state(&n->cl, m, now) == CL_OFFLINE) {
			off[noff].f = f;
			memcpy(off[noff++].addr, m->addr, TOX_ADDRESS_SIZE);
		}
	}
	n->snap.nodes = (int)n->cl.n;
	n->snap.nodes_online = online;
	/* Online by what others say, without a link of ours: in turn, the
	   first whose server address is known. */
	ncut = 0;
	for (size_t k = 0; k < n->cl.n && ncut < CUT_CHECK; k++) {
		struct cluster_member *m = &n->cl.m[(n->join_turn + k) % n->cl.n];

		if (m->self || m->removed || m->direct || cluster_state(&n->cl, m, now) != CL_ONLINE ||
		    server_addr(m->server, cut[ncut].host, sizeof(cut[0].host), &cut[ncut].port) != 0)
			continue;
		memcpy(cut[ncut++].pk, m->addr, TOX_PUBLIC_KEY_SIZE);
	}
	if (cluster_forget(&n->cl, now, on_forgotten, n) > 0)
		n->dirty_peers = 1;
	pthread_mutex_unlock(&n->lock);
	/* Of those, one that this node asks for (beyond max-peers it may
	   rightly have no link) and whose link is down. */
	n->cut = 0;
	for (size_t i = 0; i < ncut && !n->cut; i++) {
		uint32_t f = friend_of(n, cut[i].pk);

		if (f == UINT32_MAX || n->fr[f].up)
			continue;
		snprintf(n->cut_host, sizeof(n->cut_host), "%s", cut[i].host);
		n->cut_port = cut[i].port;
		memcpy(n->cut_pk, cut[i].pk, TOX_PUBLIC_KEY_SIZE);
		n->cut = 1;
	}
	for (size_t i = 0; i < nt; i++)
		ping(n, todo[i].pk, n->cfg->heartbeat_ms / 2);
	fail_parked(n);
	for (size_t i = 0; i < noff; i++) {
		uint32_t f = off[i].f;

		if (!n->fr[f].up) {
			peer_offline(n, f);
			continue;
		}
		/* A link that has just come up to a node we had lost, with
		   no message on it yet: its first heartbeat is on the way. */
		if (n->fr[f].last_rx < n->fr[f].up_since &&
		    deadline_now_ms() - n->fr[f].up_since < 2 * n->cfg->heartbeat_ms)
			continue;
		/* Silent for two intervals while Tox still holds the link: the
		   node is gone (or a new run of it has a new DHT key).  A new
		   friendship makes Tox look for it afresh. */
		drop_friend(n, f, "silent for two heartbeat intervals");
		befriend(n, off[i].addr);
	}
	save_members(n);
}

#define LINK_REPORT_MS 1000

struct qinfo {
	size_t bytes, msgs, replies;
	int64_t oldest, oldest_reply;	/* ages, ms */
};

static void queue_info(const struct outq *q, int64_t now, struct qinfo *qi)
{
	for (const struct outmsg *m = q->head; m != NULL; m = m->next) {
		int64_t age = now - m->queued_at;

		qi->bytes += m->len - (m->index * WIRE_FRAG_PAYLOAD < m->len ? m->index * WIRE_FRAG_PAYLOAD
									    : m->len);
		qi->msgs++;
		if (age > qi->oldest)
			qi->oldest = age;
		if (m->reply) {
			qi->replies++;
			if (age > qi->oldest_reply)
				qi->oldest_reply = age;
		}
	}
}

/*
 * Once a second: where the bytes to and from each peer sit.  Per peer
 * (debug log): oand's queues (urgent, bulk), what Tox took and refused,
 * what arrived, the oldest half-received message; in all (the status).
 */
static void link_report(struct net *n, int64_t now, int64_t span)
{
	struct qinfo all_u = { 0 }, all_b = { 0 };
	double handed = 0, refused = 0, rx = 0;
	struct wire_partial oldest = { 0 };
	size_t partials = 0;

	for (uint32_t f = 0; f < FRIENDS_MAX; f++) {
		struct peer *p = &n->fr[f];
		struct qinfo u = { 0 }, b = { 0 };
		struct wire_partial w = { 0 };
		size_t held = 0, msgs = 0;
		int has_w = 0;
		char hex[65];

		if (!p->up) {
			pthread_mutex_lock(&n->lock);
			n->links[f].up = 0;
			pthread_mutex_unlock(&n->lock);
		}
		if (!p->up && p->ctl.head == NULL && p->urgent.head == NULL && p->bulk.head == NULL &&
		    p->reasm == NULL)
			continue;
		p->handed_rate = (double)(p->handed - p->rep_handed) * 1000.0 / (double)span;
		p->refused_rate = (double)(p->refused - p->rep_refused) * 1000.0 / (double)span;
		p->rx_rate = (double)(p->rx_pk - p->rep_rx) * 1000.0 / (double)span;
		p->rep_handed = p->handed;
		p->rep_refused = p->refused;
		p->rep_rx = p->rx_pk;
		queue_info(&p->ctl, now, &u);
		queue_info(&p->urgent, now, &u);
		queue_info(&p->bulk, now, &b);
		if (p->reasm != NULL) {
			held = wire_reasm_held(p->reasm, &msgs);
			has_w = wire_reasm_oldest(p->reasm, &w);
		}
		pthread_mutex_lock(&n->lock);
		memcpy(n->links[f].pk, p->pk, IDENT_KEY_BYTES);
		n->links[f].up = p->up;
		n->links[f].paced = p->paced;
		n->links[f].rate = p->rate;
		n->links[f].rtt_ms = p->min_rtt;
		n->links[f].window = p->paced ? p->window : 0;
		n->links[f].in_flight = p->paced ? p->counted - p->counted_up - p->acked : 0;
		n->links[f].queued = p->queued;
		n->links[f].oldest_queued_ms = u.oldest > b.oldest ? u.oldest : b.oldest;
		n->links[f].receiving = has_w ? w.got : 0;
		n->links[f].receiving_of = has_w ? w.total : 0;
		n->links[f].packets_out_per_s = p->handed_rate;
		n->links[f].packets_in_per_s = p->rx_rate;
		pthread_mutex_unlock(&n->lock);
		handed += p->handed_rate;
		refused += p->refused_rate;
		rx += p->rx_rate;
		all_u.bytes += u.bytes;
		all_b.bytes += b.bytes;
		all_b.msgs += u.msgs + b.msgs;
		all_b.replies += u.replies + b.replies;
		if (u.oldest > all_b.oldest)
			all_b.oldest = u.oldest;
		if (b.oldest > all_b.oldest)
			all_b.oldest = b.oldest;
		if (u.oldest_reply > all_b.oldest_reply)
			all_b.oldest_reply = u.oldest_reply;
		if (b.oldest_reply > all_b.oldest_reply)
			all_b.oldest_reply = b.oldest_reply;
		partials += msgs;
		if (has_w && (oldest.total == 0 || w.started < oldest.started))
			oldest = w;
		if (u.msgs + b.msgs == 0 && msgs == 0 && p->handed_rate == 0 && p->rx_rate == 0)
			continue;
		hex_key(p->pk, hex);
		log_debug("net: link %.8s: queued urgent %zu B (%zu msgs), bulk %zu B (%zu msgs), "
			  "oldest %lld ms, %zu replies (oldest %lld ms); Tox took %.0f pk/s, refused %.0f/s; "
			  "paced %d, in flight %lld of %llu pk, window waits %llu, rate %.0f B/s, rtt %lld ms; "
			  "in %.0f pk/s, last message %lld ms ago; half-received %zu msgs %zu B held, "
			  "oldest %zu/%zu B, begun %lld ms ago, last byte %lld ms ago",
			  hex, u.bytes, u.msgs, b.bytes, b.msgs,
			  (long long)(u.oldest > b.oldest ? u.oldest : b.oldest), u.replies + b.replies,
			  (long long)(u.oldest_reply > b.oldest_reply ? u.oldest_reply : b.oldest_reply),
			  p->handed_rate, p->refused_rate, p->paced,
			  (long long)(p->counted - p->counted_up - p->acked),
			  (unsigned long long)p->window, (unsigned long long)p->pace_waits, p->rate,
			  (long long)p->min_rtt,
			  p->rx_rate,
			  (long long)(p->last_msg ? now - p->last_msg : -1), msgs, held, w.got, w.total,
			  (long long)(has_w ? now - w.started : -1), (long long)(has_w ? now - w.last : -1));
	}
	pthread_mutex_lock(&n->lock);
	n->snap.queued_urgent = all_u.bytes;
	n->snap.queued_bulk = all_b.bytes;
	n->snap.oldest_queued_ms = all_b.oldest;
	n->snap.replies_queued = all_b.replies;
	n->snap.oldest_reply_ms = all_b.oldest_reply;
	n->snap.handed_per_s = handed;
	n->snap.refused_per_s = refused;
	n->snap.rx_per_s = rx;
	n->snap.reasm_msgs = partials;
	n->snap.reasm_got = oldest.got;
	n->snap.reasm_total = oldest.total;
	n->snap.reasm_age_ms = oldest.total ? now - oldest.started : 0;
	n->snap.reasm_idle_ms = oldest.total ? now - oldest.last : 0;
	pthread_mutex_unlock(&n->lock);
}

static void snapshot(struct net *n)
{
	Tox_Err_Get_Port perr;
	uint8_t dht[TOX_PUBLIC_KEY_SIZE];
	uint16_t port = tox_self_get_udp_port(n->tox, &perr);
	size_t count = tox_self_get_friend_list_size(n->tox), reasm = 0, queued = 0;
	uint32_t *list = calloc(count ? count : 1, sizeof(*list));
	int friends = 0, online = 0, members = 0;
	uint8_t (*linked)[TOX_PUBLIC_KEY_SIZE] = n->linked_work;
	size_t nlinked = 0;

	if (list != NULL) {
		tox_self_get_friend_list(n->tox, list);
		for (size_t i = 0; i < count; i++) {
			uint32_t f = list[i];
			struct peer *p;

			friends++;
			if (f >= FRIENDS_MAX)
				continue;
			p = &n->fr[f];
			if (p->reasm != NULL)
				reasm += wire_reasm_held(p->reasm, NULL);
			queued += p->queued;
			if (!p->up)
				continue;
			online++;
			if (!p->sent)
				send_proof(n, f);
			members += p->proven;
			if (p->proven && p->sent && nlinked < FRIENDS_MAX)
				memcpy(linked[nlinked++], p->pk, TOX_PUBLIC_KEY_SIZE);
		}
		free(list);
	}
	tox_self_get_dht_id(n->tox, dht);
	pthread_mutex_lock(&n->lock);
	n->snap.udp_port = perr == TOX_ERR_GET_PORT_OK ? port : 0;
	sodium_bin2hex(n->snap.dht_key, sizeof(n->snap.dht_key), dht, sizeof(dht));
	n->snap.tox_age_ms = deadline_now_ms() - n->tox_started;
	n->snap.run_ms = deadline_now_ms() - n->run_started;
	n->snap.connected = (int)tox_self_get_connection_status(n->tox);
	n->snap.iterations++;
	if (list != NULL) {
		n->snap.friends = friends;
		n->snap.online = online;
		n->snap.members = members;
		n->linked_work = n->linked;
		n->linked = linked;
		n->nlinked = nlinked;
	}
	n->snap.reasm_bytes = reasm;
	n->snap.queued_bytes = queued;
	n->snap.pending = n->rpc.pending;
	n->snap.unmatched = n->rpc.unmatched;
	pthread_mutex_unlock(&n->lock);
}

/* A link asked to be made afresh (oand nodes reconnect). */
static void reconnect_asked(struct net *n)
{
	uint8_t addr[TOX_ADDRESS_SIZE];
	int asked = 0;

	pthread_mutex_lock(&n->lock);
	if (n->reconnect_asked) {
		struct cluster_member *m = member_locked(n, n->reconnect);

		n->reconnect_asked = 0;
		if (m != NULL && !m->removed) {
			memcpy(addr, m->addr, TOX_ADDRESS_SIZE);
			asked = 1;
		}
	}
	pthread_mutex_unlock(&n->lock);
	if (!asked)
		return;
	{
		uint32_t f = friend_of(n, addr);

		if (f != UINT32_MAX)
			drop_friend_as(n, f, "reconnect asked", 1);
	}
	befriend(n, addr);
}

/* Stopping: every member linked now hears it, so none waits for our
   heartbeats to stop; the packets go out before tox_kill. */
static void say_bye(struct net *n)
{
	struct wire_msg m = { 0 };

	m.type = WIRE_NOTICE;
	m.method = NET_BYE;
	memcpy(m.from, n->self, WIRE_KEY_BYTES);
	m.resource = (char *)"";
	for (uint32_t f = 0; f < FRIENDS_MAX; f++) {
		if (!n->fr[f].up || !n->fr[f].sent || !n->fr[f].proven ||
		    member_removed(n, n->fr[f].pk))
			continue;
		memcpy(m.to, n->fr[f].pk, WIRE_KEY_BYTES);
		if (send_msg(n, f, &m) == 0)
			flush_queue(n, f, &n->fr[f].ctl, NULL);
	}
}

/* ---- whole files (src/xfer) ---- */

static void on_file_recv(Tox *tox, uint32_t f, uint32_t file, uint32_t kind, uint64_t size,
			 const uint8_t *name, size_t name_len, void *user)
{
	struct net *n = user;

	(void)name;
	(void)name_len;
	/* Only proven members may send us anything. */
	if (n->xfer == NULL || f >= FRIENDS_MAX || !n->fr[f].proven) {
		tox_file_control(tox, f, file, TOX_FILE_CONTROL_CANCEL, NULL);
		return;
	}
	xfer_net_recv(n->xfer, tox, f, file, kind, size);
}

static void on_file_chunk(Tox *tox, uint32_t f, uint32_t file, uint64_t pos, const uint8_t *data,
			  size_t len, void *user)
{
	struct net *n = user;

	if (f < FRIENDS_MAX && len > 0)
		n->fr[f].rx_pk++;	/* a packet NET_RX counts */
	if (n->xfer != NULL && f < FRIENDS_MAX && n->fr[f].proven)
		xfer_net_chunk(n->xfer, tox, f, file, pos, data, len);
}

static void on_file_chunk_request(Tox *tox, uint32_t f, uint32_t file, uint64_t pos, size_t len,
				  void *user)
{
	struct net *n = user;

	if (n->xfer != NULL && f < FRIENDS_MAX)
		xfer_net_chunk_request(n->xfer, tox, f, file, pos, len);
}

static void on_file_control(Tox *tox, uint32_t f, uint32_t file, Tox_File_Control c, void *user)
{
	struct net *n = user;

	(void)tox;
	if (n->xfer != NULL && f < FRIENDS_MAX)
		xfer_net_control(n->xfer, f, file, c);
}

static uint32_t xn_friend_of(void *ctx, const uint8_t pk[32])
{
	struct net *n = ctx;
	uint32_t f = friend_of(n, pk);

	return f != UINT32_MAX && n->fr[f].up && n->fr[f].proven && n->fr[f].sent ? f : UINT32_MAX;
}

static const uint8_t *xn_pk_of(void *ctx, uint32_t f)
{
	struct net *n = ctx;

	return n->fr[f < FRIENDS_MAX ? f : 0].pk;
}

static void xn_notice(void *ctx, uint32_t f, uint16_t method, const uint8_t *body, size_t len)
{
	if (f < FRIENDS_MAX)
		send_notice(ctx, f, method, body, len);
}

static size_t xn_linked(void *ctx, uint8_t (*pks)[32], size_t max)
{
	return net_linked(ctx, pks, max);
}

static void xn_wake(void *ctx)
{
	net_wake(ctx);
}

/*
 * Make the Tox instance from the configuration and the node's secret key,
 * with the callbacks set and the configured DHT nodes asked.  Used at
 * start and for a fresh start of Tox (fresh_tox()).
 */
static int tox_open(struct net *n)
{
	const struct cfg *cfg = n->cfg;
	struct Tox_Options *o = tox_options_new(NULL);
	Tox_Err_New err;

	if (o == NULL)
		return -ENOMEM;
	tox_options_set_ipv6_enabled(o, n->snap.ipv6);
	tox_options_set_udp_enabled(o, true);
	/* LAN discovery broadcasts on every interface: only when asked for. */
	tox_options_set_local_discovery_enabled(o, cfg->lan_discovery != 0);
	tox_options_set_tcp_port(o, (uint16_t)cfg->tcp_relay_port);
	tox_options_set_hole_punching_enabled(o, false);
	/* The configured port, or the next free one of the hundred after it. */
	tox_options_set_start_port(o, (uint16_t)cfg->tox_port);
	tox_options_set_end_port(o, (uint16_t)(cfg->tox_port ? (cfg->tox_port > 65435 ? 65535
								 : cfg->tox_port + 100) : 0));
	tox_options_set_savedata_type(o, TOX_SAVEDATA_TYPE_SECRET_KEY);
	tox_options_set_savedata_data(o, n->id.secret, IDENT_KEY_BYTES);
	n->tox = tox_new(o, &err);
	tox_options_free(o);
	n->tox_started = deadline_now_ms();
	if (n->tox == NULL) {
		log_error("net: cannot start Tox: %s", tox_new_error(err));
		return err == TOX_ERR_NEW_PORT_ALLOC ? -EADDRINUSE : -EIO;
	}
	tox_self_set_nospam(n->tox, ident_nospam(&n->id));
	tox_callback_friend_request(n->tox, on_friend_request);
	tox_callback_friend_connection_status(n->tox, on_connection);
	tox_callback_friend_lossless_packet(n->tox, on_packet);
	tox_callback_file_recv(n->tox, on_file_recv);
	tox_callback_file_recv_chunk(n->tox, on_file_chunk);
	tox_callback_file_chunk_request(n->tox, on_file_chunk_request);
	tox_callback_file_recv_control(n->tox, on_file_control);
	for (int i = 0; i < cfg->nbootstrap; i++) {
		const struct cfg_dht_node *d = &cfg->bootstrap[i];
		Tox_Err_Bootstrap berr;

		if (!tox_bootstrap(n->tox, d->host, (uint16_t)d->port, d->key, &berr))
			log_warn("net: cannot bootstrap from %s:%d: error %d", d->host, d->port, (int)berr);
	}
	/* A pinned BFF is asked for admission at once; one known only by
	   address, once its HTTP service has told us who it is. */
	if (cfg->has_bff_tox_id && !n->snap.removed) {
		memcpy(n->bff, cfg->bff_tox_id, TOX_PUBLIC_KEY_SIZE);
		n->has_bff = memcmp(n->bff, n->self, TOX_PUBLIC_KEY_SIZE) != 0;
		befriend(n, cfg->bff_tox_id);
	}
	/* The members known from the node list are friends again at once. */
	choose_peers(n);
	return 0;
}

/* The first wait, with a random part: nodes cut off from each other at
   once do not start afresh in step. */
static int64_t fresh_first(void)
{
	return FRESH_TOX_MS + (int64_t)randombytes_uniform(FRESH_TOX_MS / 2);
}

/*
 * A node that has had no member for a while although some member answers
 * its HTTP bootstrap query (or no link to a member the others hear, see
 * net_main) starts its Tox instance afresh (same identity,
 * a new DHT key, as a restart would).  In a small cluster whose nodes have
 * restarted, Tox's onion paths can hold only nodes that are gone, and a
 * long-running node then finds nobody for many minutes; a new instance
 * starts from the members' current DHT keys.  Requests that may be sent
 * again wait for the new links.
 */
static void fresh_tox(struct net *n)
{
	size_t count = tox_self_get_friend_list_size(n->tox);
	uint32_t *list = calloc(count ? count : 1, sizeof(*list));

	if (n->follow)
		log_notice("net: a member that runs longer started Tox afresh to find this node;"
			   " starting Tox afresh too");
	else if (n->older_since != 0)
		log_notice("net: a member started after this node and has not linked for %lld s;"
			   " starting Tox afresh", (long long)((deadline_now_ms() - n->older_since) / 1000));
	else if (n->cut)
		log_notice("net: no link to the member at %s:%d for %lld s while others hear it;"
			   " starting Tox afresh", n->cut_host, n->cut_port,
			   (long long)(n->fresh_wait / 1000));
	else
		log_notice("net: no member reached over Tox for %lld s while members answer over"
			   " HTTP; starting Tox afresh", (long long)(n->fresh_wait / 1000));
	if (list != NULL) {
		tox_self_get_friend_list(n->tox, list);
		for (size_t i = 0; i < count; i++)
			if (list[i] < FRIENDS_MAX)
				drop_friend_as(n, list[i], "starting Tox afresh", 1);
		free(list);
	}
	if (n->xfer != NULL)
		xfer_net_all_down(n->xfer);
	tox_kill(n->tox);
	n->tox = NULL;
	if (n->older_since != 0 && !n->follow) {
		memcpy(n->fresh_for, n->older_dht, sizeof(n->fresh_for));
		n->fresh_at = deadline_now_ms();
	}
	pace_clear(n);
	pthread_mutex_lock(&n->lock);
	n->snap.fresh_starts++;
	pthread_mutex_unlock(&n->lock);
	/* The port was ours a moment ago; should another program have
	   taken it and the hundred after it, keep trying. */
	while (tox_open(n) != 0 && !__atomic_load_n(&n->stop, __ATOMIC_ACQUIRE))
		poll(NULL, 0, 1000);
	if (n->tox == NULL) {	/* stopping: net_shutdown() needs one */
		while (tox_open(n) != 0)
			poll(NULL, 0, 1000);
	}
	n->next_join = 0;
	n->alone_since = deadline_now_ms();
	n->cut_asked = 0;
}

static void *net_main(void *arg)
{
	struct net *n = arg;
	struct pollfd p = { .fd = n->wake, .events = POLLIN };

	while (!__atomic_load_n(&n->stop, __ATOMIC_ACQUIRE)) {
		int64_t now;
		int busy, timeout, dirty;
		uint64_t v;

		tox_iterate(n->tox, n);
		take_inbox(n);
		take_out(n);
		dispatch(n);
		now = deadline_now_ms();
		if (__atomic_exchange_n(&n->beat_now, 0, __ATOMIC_ACQ_REL))
			n->next_hb = n->next_tick = 0;
		reconnect_asked(n);
		/* Heartbeats are queued before the flush and before peers are
		   chosen, so one never waits in a queue that a drop frees. */
		if (now >= n->next_hb) {
			heartbeat_to(n, -1);
			n->next_hb = now + n->cfg->heartbeat_ms;
		}
		tell_rx(n, now);
		busy = flush_all(n);
		rpc_extend(&n->rpc, now, reply_progress, n);
		rpc_expire(&n->rpc, now, call_expired, n);
		if (now >= n->next_tick) {
			tick(n);
			pthread_mutex_lock(&n->lock);
			dirty = n->dirty_peers;
			pthread_mutex_unlock(&n->lock);
			if (dirty)
				choose_peers(n);
			n->next_tick = now + (n->cfg->heartbeat_ms < 1000 ? n->cfg->heartbeat_ms / 4 : 250);
		}
		snapshot(n);
		if (now >= n->next_report) {
			int64_t span = n->next_report ? now - n->next_report + LINK_REPORT_MS : LINK_REPORT_MS;

			link_report(n, now, span > 0 ? span : LINK_REPORT_MS);
			n->next_report = now + LINK_REPORT_MS;
		}
		/* Alone, or cut off from a member the others hear: first ask
		   that member for its current DHT key and bootstrap from it;
		   if that does not help either, start Tox afresh. */
		if (n->snap.members > 0)
			pace_clear(n);
		if (n->snap.members > 0 && !n->cut) {
			n->alone_since = 0;
			n->cut_asked = 0;
			n->fresh_wait = fresh_first();
		} else if (n->alone_since == 0) {
			n->alone_since = now;
		} else if (!n->snap.removed && n->snap.members == 0 &&
			   (n->follow || (n->older_since != 0 &&
					  now - n->older_since >= OLDER_WAIT_MS(n->cfg->heartbeat_ms)))) {
			fresh_tox(n);
		} else if (n->cut && !n->cut_asked && now - n->alone_since >= n->fresh_wait / 2) {
			char hex[65];

			n->cut_asked = 1;
			log_info("net: no link to %.16s, which other members hear; asking it at %s:%d",
				 (hex_key(n->cut_pk, hex), hex), n->cut_host, n->cut_port);
			/* Not answering: ask again in a while. */
			if (join_via(n, n->cut_host, n->cut_port, n->cut_pk, 0) != 0) {
				n->alone_since = deadline_now_ms();
				n->cut_asked = 0;
			}
		} else if (!n->snap.removed && n->heard > n->alone_since &&
			   now - n->alone_since >= (n->younger ? 4 : 1) * n->fresh_wait) {
			/* Younger than a member that answered: that one starts
			   afresh (a start here would leave one more dead key
			   there); only if it does not, after a longer wait. */
			fresh_tox(n);
			/* Doubled, plus up to half again at random: two nodes
			   alone at once do not start afresh in step (each start
			   would undo the other's search). */
			n->fresh_wait = n->fresh_wait * 2 > FRESH_TOX_MAX_MS ? FRESH_TOX_MAX_MS
									    : n->fresh_wait * 2;
			n->fresh_wait += (int64_t)randombytes_uniform((uint32_t)(n->fresh_wait / 2));
		}
		if (n->snap.members == 0 && !n->snap.removed && now >= n->next_join) {
			if (join(n) == 0) {
				n->join_retry = JOIN_RETRY_MS;
				n->next_join = deadline_now_ms() + JOIN_PERIOD_MS;
			} else {
				n->join_retry = n->join_retry < JOIN_RETRY_MS ? JOIN_RETRY_MS
						: n->join_retry * 2 > JOIN_PERIOD_MS ? JOIN_PERIOD_MS
						: n->join_retry * 2;
				n->next_join = deadline_now_ms() + n->join_retry;
			}
		}
		if (n->xfer != NULL) {
			xfer_net_tick(n->xfer, n->tox);
			busy |= xfer_net_busy(n->xfer);
		}
		busy |= n->snap.reasm_bytes > 0 || now < n->busy_until;
		timeout = busy ? 1 : (int)tox_iteration_interval(n->tox);
		if (poll(&p, 1, timeout) > 0 && read(n->wake, &v, sizeof(v)) < 0 && errno != EAGAIN)
			log_warn("net: wake-up: %s", strerror(errno));
	}
	say_bye(n);
	return NULL;
}

int net_start(const struct ident *id, const struct cfg *cfg, struct db *db, struct xfer *x,
	      struct net **out)
{
	struct net *n = NULL;
	char server[CLUSTER_SERVER_MAX + 1];
	uint8_t addr[TOX_ADDRESS_SIZE];
	int r = -ENOMEM;

	*out = NULL;
	/* libcurl's global set-up, before the threads that ask BFFs. */
	if ((r = httpc_init()) != 0 || (n = calloc(1, sizeof(*n))) == NULL)
		goto fail;
	n->wake = -1;
	n->db = db;
	n->cfg = cfg;
	n->xfer = x;
	n->run_started = deadline_now_ms();
	n->id = *id;
	pthread_mutex_init(&n->lock, NULL);
	pthread_mutex_init(&n->qlock, NULL);
	pthread_cond_init(&n->qcond, NULL);
	pthread_mutex_init(&n->slock, NULL);
	pthread_cond_init(&n->scond, NULL);
	if ((n->linked = calloc(FRIENDS_MAX, sizeof(*n->linked))) == NULL ||
	    (n->linked_work = calloc(FRIENDS_MAX, sizeof(*n->linked_work))) == NULL)
		goto fail;
	rpc_init(&n->rpc);
	/* Never a failed start on a host without IPv6: "auto" asks the host. */
	n->snap.ipv6 = cfg->ipv6 < 0 ? net_host_has_ipv6() : cfg->ipv6;
	ident_address_hex(id, n->snap.tox_id);
	memcpy(n->self, id->public_key, sizeof(n->self));
	/* The node list: this node first, then what the last run knew. */
	ident_address(id, addr);
	snprintf(server, sizeof(server), "%s:%d", cfg->server_domain_name, cfg->server_port);
	if ((r = cluster_init(&n->cl, addr, cfg->server_name, server, cfg->heartbeat_ms,
			      cfg->forget_after_ms, clock_wall_ms())) != 0)
		goto fail;
	if ((r = db_members(db, load_member, n)) != 0) {
		log_error("net: cannot read the node list: %s", strerror(-r));
		goto fail;
	}
	if (n->snap.removed)
		log_error("net: this node was removed from the cluster; it stays out");
	if ((r = tox_open(n)) != 0)
		goto fail;
	snapshot(n);
	n->snap.iterations = 0;
	n->alone_since = deadline_now_ms();
	n->fresh_wait = fresh_first();
	if ((n->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		r = -errno;
		goto fail;
	}
	if (n->xfer != NULL) {
		struct xfer_net xn = {
			.ctx = n, .friend_of = xn_friend_of, .pk_of = xn_pk_of, .notice = xn_notice,
			.linked = xn_linked, .wake = xn_wake,
		};

		xfer_attach(n->xfer, &xn);
	}
	r = thread_spawn(&n->svc_thread, svc_main, n);
	n->svc_started = r == 0;
	if (r == 0)
		r = thread_spawn(&n->thread, net_main, n);
	if (r != 0)
		goto fail;
	log_notice("net: Tox up on UDP port %u%s, id %s", n->snap.udp_port,
		   n->snap.ipv6 ? " (IPv6 and IPv4)" : " (IPv4)", n->snap.tox_id);
	*out = n;
	return 0;
fail:
	if (n != NULL) {
		svc_stop(n);
		if (n->tox != NULL)
			tox_kill(n->tox);
		if (n->wake >= 0)
			close(n->wake);
		cluster_free(&n->cl);
		pthread_mutex_destroy(&n->lock);
		pthread_mutex_destroy(&n->qlock);
		pthread_cond_destroy(&n->qcond);
		pthread_mutex_destroy(&n->slock);
		pthread_cond_destroy(&n->scond);
		ident_clear(&n->id);
		free(n->linked);
		free(n->linked_work);
		free(n);
	}
	return r;
}

void net_shutdown(struct net *n)
{
	if (n == NULL || n->tox == NULL)
		return;
	pthread_mutex_lock(&n->qlock);
	__atomic_store_n(&n->stop, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&n->qlock);
	net_wake(n);
	pthread_join(n->thread, NULL);
	/* Nobody waits forever: what is pending fails now. */
	take_inbox(n);
	rpc_fail_all(&n->rpc, -ESHUTDOWN, call_done, n);
	svc_stop(n);
	save_members(n);
	for (uint32_t f = 0; f < FRIENDS_MAX; f++) {
		outq_free(&n->fr[f].ctl);
		outq_free(&n->fr[f].urgent);
		outq_free(&n->fr[f].bulk);
		wire_reasm_free(n->fr[f].reasm);
		n->fr[f].reasm = NULL;
	}
	tox_kill(n->tox);
	n->tox = NULL;
}

void net_free(struct net *n)
{
	if (n == NULL)
		return;
	net_shutdown(n);
	close(n->wake);
	cluster_free(&n->cl);
	pthread_mutex_destroy(&n->lock);
	pthread_mutex_destroy(&n->qlock);
	pthread_cond_destroy(&n->qcond);
	pthread_mutex_destroy(&n->slock);
	pthread_cond_destroy(&n->scond);
	ident_clear(&n->id);
	free(n->linked);
	free(n->linked_work);
	free(n);
}

void net_status(struct net *n, struct net_status *st)
{
	pthread_mutex_lock(&n->lock);
	*st = n->snap;
	pthread_mutex_unlock(&n->lock);
}

/* ---- the node list for people ---- */

size_t net_online(struct net *n, uint8_t (*pks)[IDENT_KEY_BYTES], size_t max)
{
	int64_t now = clock_wall_ms();
	size_t k = 0;

	pthread_mutex_lock(&n->lock);
	for (size_t i = 0; i < n->cl.n; i++) {
		const struct cluster_member *m = &n->cl.m[i];

		if (m->self || m->removed || cluster_state(&n->cl, m, now) != CL_ONLINE)
			continue;
		if (k < max)
			memcpy(pks[k], m->addr, IDENT_KEY_BYTES);
		k++;
	}
	pthread_mutex_unlock(&n->lock);
	return k;
}

int net_name_of(struct net *n, const uint8_t pk[IDENT_KEY_BYTES], char *out, size_t len)
{
	struct cluster_member *m;
	int r = -ENOENT;

	if (n == NULL)
		return r;
	pthread_mutex_lock(&n->lock);
	if ((m = member_locked(n, pk)) != NULL) {
		snprintf(out, len, "%s", m->name);
		r = 0;
	}
	pthread_mutex_unlock(&n->lock);
	return r;
}

int net_lookup(struct net *n, const char *what, uint8_t pk[IDENT_KEY_BYTES])
{
	size_t len = strlen(what), hits = 0;
	uint8_t bin[TOX_ADDRESS_SIZE];

	if ((len == 2 * TOX_ADDRESS_SIZE && hex_decode(what, bin, TOX_ADDRESS_SIZE) == 0) ||
	    (len == 2 * TOX_PUBLIC_KEY_SIZE && hex_decode(what, bin, TOX_PUBLIC_KEY_SIZE) == 0)) {
		memcpy(pk, bin, IDENT_KEY_BYTES);
		return 0;
	}
	if (len == 0)
		return -EINVAL;
	/* A name, else a prefix of a key in hex. */
	pthread_mutex_lock(&n->lock);
	for (int pass = 0; pass < 2 && hits == 0; pass++) {
		for (size_t i = 0; i < n->cl.n; i++) {
			char hex[65];

			hex_key(n->cl.m[i].addr, hex);
			if (pass == 0 ? strcmp(n->cl.m[i].name, what) == 0
				      : strncasecmp(hex, what, len) == 0) {
				memcpy(pk, n->cl.m[i].addr, IDENT_KEY_BYTES);
				hits++;
			}
		}
	}
	pthread_mutex_unlock(&n->lock);
	return hits == 1 ? 0 : hits == 0 ? -ENOENT : -EEXIST;
}

int net_remove(struct net *n, const char *what)
{
	uint8_t pk[IDENT_KEY_BYTES];
	int r;

	if ((r = net_lookup(n, what, pk)) != 0)
		return r;
	pthread_mutex_lock(&n->lock);
	r = cluster_remove(&n->cl, pk, clock_wall_ms());
	n->dirty_peers = 1;
	pthread_mutex_unlock(&n->lock);
	if (r == 0) {
		char hex[65];

		log_notice("net: %s removed from the cluster", (hex_key(pk, hex), hex));
		__atomic_store_n(&n->beat_now, 1, __ATOMIC_RELEASE);	/* tell everyone now */
		net_wake(n);
	}
	return r;
}

int net_reconnect(struct net *n, const char *what)
{
	uint8_t pk[IDENT_KEY_BYTES];
	int r;

	if ((r = net_lookup(n, what, pk)) != 0)
		return r;
	if (memcmp(pk, n->self, IDENT_KEY_BYTES) == 0)
		return -EINVAL;
	pthread_mutex_lock(&n->lock);
	if (cluster_is_removed(&n->cl, pk)) {
		r = -EPERM;
	} else {
		memcpy(n->reconnect, pk, sizeof(n->reconnect));
		n->reconnect_asked = 1;
	}
	pthread_mutex_unlock(&n->lock);
	if (r == 0)
		net_wake(n);
	return r;
}

char *net_nodes(struct net *n, int json)
{
	int64_t now = clock_wall_ms();
	json_t *arr = json ? json_array() : NULL, *root = NULL;
	size_t cap = 256, len = 0;
	char *text = json ? NULL : malloc(cap), *out = NULL;

	if ((json && arr == NULL) || (!json && text == NULL))
		goto done;
	if (!json)
		len = (size_t)snprintf(text, cap, "%-8s %-20s %-20s %-21s %-21s %s\n", "STATE", "NAME",
				       "SERVER", "LAST-HEARTBEAT", "FIRST-SEEN", "TOX-ID");
	pthread_mutex_lock(&n->lock);
	for (size_t i = 0; i < n->cl.n; i++) {
		const struct cluster_member *m = &n->cl.m[i];
		const char *state = cluster_state_name(cluster_state(&n->cl, m, now));
		char id[2 * TOX_ADDRESS_SIZE + 1], last[32], first[32];

		sodium_bin2hex(id, sizeof(id), m->addr, TOX_ADDRESS_SIZE);
		for (char *p = id; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		cluster_iso8601(m->self ? now : m->last_hb, last);
		cluster_iso8601(m->first_seen, first);
		if (json) {
			json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "tox_id", id,
					      "name", m->name, "server", m->server, "state", state,
					      "self", m->self, "direct", m->direct && !m->self);

			if (o == NULL)
				continue;
			json_object_set_new(o, "first_seen", first[0] ? json_string(first) : json_null());
			json_object_set_new(o, "last_heartbeat", last[0] ? json_string(last) : json_null());
			json_object_set_new(o, "hops", m->self || !m->last_hb ? json_null()
									      : json_integer(m->hops));
			json_array_append_new(arr, o);
		} else {
			size_t need = len + 2 * CLUSTER_NAME_MAX + 200;

			if (need > cap) {
				char *t = realloc(text, need * 2);

				if (t == NULL)
					break;
				text = t;
				cap = need * 2;
			}
			len += (size_t)snprintf(text + len, cap - len, "%-8s %-20s %-20s %-21s %-21s %s%s\n",
						state, m->name, m->server, last[0] ? last : "-",
						first[0] ? first : "-", id, m->self ? " (this node)" : "");
		}
	}
	pthread_mutex_unlock(&n->lock);
	if (json) {
		root = json_pack("{s:s, s:o}", "self", n->snap.tox_id, "nodes", arr);
		arr = NULL;
		if (root != NULL)
			out = json_dumps(root, JSON_COMPACT);
	} else {
		out = text;
		text = NULL;
	}
done:
	json_decref(arr);
	json_decref(root);
	free(text);
	return out;
}
