/*
 * net_join.c: joining over HTTP: asking the BFF or a saved member for its
 * Tox ID and DHT key, and what their answers say about starting Tox
 * afresh.
 */
#include "net_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <tox/tox.h>

#include "bff.h"
#include "cfg.h"
#include "deadline.h"
#include "log.h"

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
void net_join_clear(struct net *n)
{
	n->older_since = 0;
	n->younger = 0;
	n->follow = 0;
}

static void pace_fresh(struct net *n, const struct bff_info *b)
{
	uint32_t f = net_peer_of(n, b->tox_id);
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

/*
 * Ask host:port (the BFF, or a member known from the saved node list)
 * for its Tox ID and current DHT key, bootstrap from it and ask it for
 * admission.  expect, if not NULL, is the key the answer must carry.
 * Returns 0 if it answered.
 */
int net_join_via(struct net *n, const char *host, int port, const uint8_t *expect, int is_bff)
{
	struct bff_info b;
	Tox_Err_Bootstrap err;
	int r = bff_fetch(host, port, is_bff ? n->cfg->bff_pin : NULL, expect != NULL, BFF_TIMEOUT_MS,
			  &b);

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
		uint32_t f = net_peer_of(n, b.tox_id);

		/* Not a link that was up a moment ago: that one comes back
		   by itself, with its parked requests. */
		if (f != UINT32_MAX && !n->fr[f].up &&
		    deadline_now_ms() - (n->fr[f].added > n->fr[f].up_last ? n->fr[f].added
									: n->fr[f].up_last) > REASK_MS)
			net_peer_drop(n, f, "asking it for admission again");
	}
	net_peer_befriend(n, b.tox_id);
	return 0;
}

/*
 * Not connected to any member: ask the BFF, then (auto-reconnect, and the
 * way back for a node whose BFF is gone) the members the node list knows,
 * a few per round, in turn.
 */
#define JOIN_TRIES 3

/* A member's server address "host:port" split: 0, or -EINVAL. */
int net_join_addr(const char *server, char *host, size_t hostlen, int *port)
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
int net_join(struct net *n)
{
	const struct cfg *c = n->cfg;
	struct { char host[CLUSTER_SERVER_MAX + 1]; int port; uint8_t pk[TOX_PUBLIC_KEY_SIZE]; } cand[JOIN_TRIES];
	size_t nc = 0, members;
	int answered = 0;

	/* A BFF that is this node itself (the one that started the
	   cluster, restarted) is no way in: its saved members are. */
	if (c->bff_domain_name != NULL &&
	    net_join_via(n, c->bff_domain_name, c->bff_port, c->has_bff_tox_id ? c->bff_tox_id : NULL, 1) == 0 &&
	    n->has_bff)
		return 0;
	pthread_mutex_lock(&n->lock);
	members = n->cl.n;
	for (size_t k = 0; k < members && nc < JOIN_TRIES; k++) {
		const struct cluster_member *m = &n->cl.m[(n->join_turn + k) % members];

		if (m->self || m->removed ||
		    net_join_addr(m->server, cand[nc].host, sizeof(cand[nc].host), &cand[nc].port) != 0)
			continue;
		memcpy(cand[nc++].pk, m->addr, TOX_PUBLIC_KEY_SIZE);
	}
	n->join_turn += JOIN_TRIES;
	pthread_mutex_unlock(&n->lock);
	for (size_t k = 0; k < nc; k++)
		answered |= net_join_via(n, cand[k].host, cand[k].port, cand[k].pk, 0) == 0;
	return answered ? 0 : -EHOSTUNREACH;
}
