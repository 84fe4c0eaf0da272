/*
 * net_call.c: calls: requests to members handed over by other threads,
 * their replies, timeouts and cancels (the rpc table is the net thread's).
 */
#include "net_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tox/tox.h>

#include "clock.h"
#include "deadline.h"
#include "wire.h"

void net_call_done(struct rpc_call *c, int err, void *ctx)
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

/* A call that ran out of time: if its request went out, the peer is told
   to drop the reply (NET_CANCEL), then it fails like any other. */
void net_call_expired(struct rpc_call *c, int err, void *ctx)
{
	struct net *n = ctx;
	uint32_t f;

	if (c->phase == RPC_SENT && (f = net_peer_of(n, c->peer)) != UINT32_MAX && n->fr[f].up &&
	    n->fr[f].proven && n->fr[f].sent) {
		uint8_t b[8];

		put_u64(b, c->id);
		net_q_notice(n, f, NET_CANCEL, b, sizeof(b));
	}
	net_call_done(c, err, ctx);
}

/* When a reply last made progress from peer (rpc_extend()). */
int64_t net_call_progress(const uint8_t *peer, void *ctx)
{
	struct net *n = ctx;
	uint32_t f = net_peer_of(n, peer);

	return f == UINT32_MAX || !n->fr[f].up ? 0 : n->fr[f].progress_at;
}

/* Send every queued call whose peer is ready; keep or fail the others. */
void net_call_dispatch(struct net *n)
{
	struct rpc_call *c, *next;

	for (c = n->rpc.head; c != NULL; c = next) {
		uint32_t f = net_peer_of(n, c->peer);
		struct wire_msg m = { 0 };
		int r;

		next = c->next;
		if (c->phase != RPC_QUEUED)
			continue;
		if (net_member_removed(n, c->peer)) {	/* linked, if at all, only to be told */
			rpc_unlink(&n->rpc, c);
			net_call_done(c, -EHOSTUNREACH, n);
			continue;
		}
		if (f == UINT32_MAX || !n->fr[f].up || !n->fr[f].proven || !n->fr[f].sent) {
			/* Connected and still proving, or (idempotent) a friend
			   that may connect: wait, up to the deadline or until it
			   is declared offline; anything else cannot be sent. */
			if (f != UINT32_MAX && (n->fr[f].up || ((c->flags & RPC_IDEMPOTENT) &&
								     !net_member_offline(n, c->peer))))
				continue;
			rpc_unlink(&n->rpc, c);
			net_call_done(c, -EHOSTUNREACH, n);
			continue;
		}
		if (n->fr[f].queued > QUEUE_MAX) {
			rpc_unlink(&n->rpc, c);
			net_call_done(c, -ENOBUFS, n);
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
		if ((r = net_q_msg(n, f, &m)) != 0) {
			rpc_unlink(&n->rpc, c);
			net_call_done(c, r, n);
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
void net_call_take(struct net *n)
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

void net_call_ping(struct net *n, const uint8_t *pk, int64_t timeout_ms)
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

/* Requests parked for a reconnect fail once their node is declared
   offline (its heartbeats stopped, or it said it stops). */
void net_call_fail_parked(struct net *n)
{
	for (;;) {
		uint8_t pk[RPC_KEY_BYTES];
		struct rpc_call *c;

		for (c = n->rpc.head; c != NULL; c = c->next)
			if ((c->phase == RPC_PARKED && net_member_offline(n, c->peer)) ||
			    net_member_removed(n, c->peer))
				break;
		if (c == NULL)
			return;
		/* c may be gone once the first call is done: its key is copied. */
		memcpy(pk, c->peer, sizeof(pk));
		rpc_peer_down(&n->rpc, pk, 1, net_call_done, n);
	}
}
