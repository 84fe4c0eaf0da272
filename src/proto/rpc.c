#include "rpc.h"

#include <errno.h>
#include <string.h>

void rpc_init(struct rpc_table *t)
{
	memset(t, 0, sizeof(*t));
	t->next_id = 1;
}

void rpc_add(struct rpc_table *t, struct rpc_call *c)
{
	c->id = t->next_id++;
	c->phase = RPC_QUEUED;
	c->done = 0;
	c->next = t->head;
	t->head = c;
	t->pending++;
}

void rpc_unlink(struct rpc_table *t, struct rpc_call *c)
{
	for (struct rpc_call **pp = &t->head; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			c->next = NULL;
			t->pending--;
			return;
		}
	}
}

struct rpc_call *rpc_match(struct rpc_table *t, const uint8_t peer[RPC_KEY_BYTES], uint64_t id)
{
	for (struct rpc_call **pp = &t->head; *pp != NULL; pp = &(*pp)->next) {
		struct rpc_call *c = *pp;

		/* Only a request that went out can be answered. */
		if (c->id == id && c->phase == RPC_SENT &&
		    memcmp(c->peer, peer, RPC_KEY_BYTES) == 0) {
			*pp = c->next;
			c->next = NULL;
			t->pending--;
			return c;
		}
	}
	t->unmatched++;
	return NULL;
}

/* Unlink and finish every call for which pick() says so. */
static void sweep(struct rpc_table *t, int (*pick)(struct rpc_call *c, const void *arg),
		  const void *arg, int err, void (*done)(struct rpc_call *c, int err, void *ctx),
		  void *ctx)
{
	struct rpc_call **pp = &t->head;

	while (*pp != NULL) {
		struct rpc_call *c = *pp;

		if (!pick(c, arg)) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		c->next = NULL;
		t->pending--;
		done(c, err, ctx);
	}
}

static int to_peer(struct rpc_call *c, const void *peer)
{
	return memcmp(c->peer, peer, RPC_KEY_BYTES) == 0;
}

static int to_peer_not_idempotent(struct rpc_call *c, const void *peer)
{
	if (!to_peer(c, peer))
		return 0;
	if (c->flags & RPC_IDEMPOTENT) {
		c->phase = RPC_PARKED;
		return 0;
	}
	return 1;
}

void rpc_peer_down(struct rpc_table *t, const uint8_t peer[RPC_KEY_BYTES], int offline,
		   void (*done)(struct rpc_call *c, int err, void *ctx), void *ctx)
{
	if (offline)
		sweep(t, to_peer, peer, -EHOSTUNREACH, done, ctx);
	else
		sweep(t, to_peer_not_idempotent, peer, -ECONNRESET, done, ctx);
}

size_t rpc_resume(struct rpc_table *t, const uint8_t peer[RPC_KEY_BYTES])
{
	size_t n = 0;

	for (struct rpc_call *c = t->head; c != NULL; c = c->next) {
		if (c->phase == RPC_PARKED && to_peer(c, peer)) {
			c->phase = RPC_QUEUED;
			n++;
		}
	}
	return n;
}

void rpc_set_timeout(struct rpc_call *c, int64_t now, int64_t timeout_ms)
{
	c->timeout = timeout_ms;
	c->deadline = now + timeout_ms;
	c->limit = now + RPC_LIMIT_TIMES * timeout_ms;
}

void rpc_extend(struct rpc_table *t, int64_t now, int64_t (*progress)(const uint8_t *peer, void *ctx),
		void *ctx)
{
	for (struct rpc_call *c = t->head; c != NULL; c = c->next) {
		int64_t at, d;

		if (c->deadline > now || c->phase != RPC_SENT || c->timeout <= 0)
			continue;
		if ((at = progress(c->peer, ctx)) <= 0 || at + c->timeout <= now)
			continue;
		d = at + c->timeout;
		c->deadline = d < c->limit ? d : c->limit;
	}
}

static int expired(struct rpc_call *c, const void *now)
{
	return c->deadline <= *(const int64_t *)now;
}

void rpc_expire(struct rpc_table *t, int64_t now,
		void (*done)(struct rpc_call *c, int err, void *ctx), void *ctx)
{
	sweep(t, expired, &now, -ETIMEDOUT, done, ctx);
}

static int any(struct rpc_call *c, const void *arg)
{
	(void)c;
	(void)arg;
	return 1;
}

void rpc_fail_all(struct rpc_table *t, int err,
		  void (*done)(struct rpc_call *c, int err, void *ctx), void *ctx)
{
	sweep(t, any, NULL, err, done, ctx);
}
