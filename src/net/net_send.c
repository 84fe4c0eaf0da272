/*
 * net_send.c: what goes out to each peer: the send queues (control,
 * urgent, bulk), the pacing that keeps a link busy without flooding it,
 * and the once-a-second report of where the bytes sit.  Net thread only.
 */
#include "net_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <tox/tox.h>

#include "deadline.h"
#include "log.h"
#include "wire.h"

void net_q_free(struct outq *q)
{
	while (q->head != NULL) {
		struct outmsg *m = q->head;

		q->head = m->next;
		free(m->buf);
		free(m);
	}
	q->tail = NULL;
}

/*
 * Friend f gave up waiting for its request id (NET_CANCEL): a reply to it
 * not yet begun leaves the queues, and one the service gives later is not
 * sent; a reply begun goes on (its peer holds part of it).
 */
void net_q_cancel(struct net *n, uint32_t f, uint64_t id)
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

int net_q_cancelled(const struct peer *p, uint64_t id)
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
	net_count(n, &n->snap.msgs_out);
	return 0;
}

int net_q_msg(struct net *n, uint32_t f, const struct wire_msg *m)
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
void net_q_sent(struct peer *p)
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
int net_q_flush(struct net *n, uint32_t f, struct outq *q, size_t *room)
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
			net_q_sent(p);
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

/* NET_RX from friend f: it received acked packets of this link. */
void net_q_acked(struct peer *p, uint64_t acked, int64_t now)
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

/* Tell each peer what arrived from it (NET_RX), often enough to pace by. */
void net_q_tell_rx(struct net *n, int64_t now)
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
		net_q_notice(n, f, NET_RX, b, sizeof(b));
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
int net_q_flush_all(struct net *n)
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
		if (p->ctl.head != NULL && net_q_flush(n, f, &p->ctl, NULL))
			left = 1;
		files = n->files != NULL && n->files->waiting(n->files->ctx, f);
		if (p->urgent.head == NULL && p->bulk.head == NULL && !files)
			continue;
		room = pace_room(p, now);
		more_b = net_q_flush(n, f, &p->urgent, &room);
		if (p->bulk.head != NULL && room != SIZE_MAX && files) {
			/* Both wait: each its half, the first (by turns, as the
			   window may hold one packet) the odd one. */
			half = (room + 1) / 2;
			room -= half;
			if (p->turn ^= 1)
				more_b |= net_q_flush(n, f, &p->bulk, &half);
			else
				net_files_flush(n, f, &half);
			room += half;	/* what the first left */
		}
		more_b |= net_q_flush(n, f, &p->bulk, &room);
		more_f = net_files_flush(n, f, &room);
		if (more_b || more_f) {
			left = 1;
			if (room == 0)
				p->pace_waits++;	/* the link, not oand, limits */
		}
	}
	return left;
}

/* A notice of method with body to friend f (net thread). */
void net_q_notice(struct net *n, uint32_t f, uint16_t method, const uint8_t *body, size_t len)
{
	struct wire_msg m = { 0 };

	m.type = WIRE_NOTICE;
	m.method = method;
	memcpy(m.from, n->self, WIRE_KEY_BYTES);
	memcpy(m.to, n->fr[f].pk, WIRE_KEY_BYTES);
	m.resource = (char *)"";
	m.body = (uint8_t *)body;
	m.body_len = len;
	net_q_msg(n, f, &m);
}

void net_q_reply(struct net *n, uint32_t f, const struct wire_msg *req, int status,
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
	net_q_msg(n, f, &m);
}

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
void net_q_report(struct net *n, int64_t now, int64_t span)
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
