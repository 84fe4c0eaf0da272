/*
 * net_peers.c: peers coming and going: admission (friend requests and
 * proofs), links up and down, and the messages that arrive on them.  Net
 * thread only, but for the lookups other threads make.
 */
#include "net_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <tox/tox.h>

#include "admit.h"
#include "cfg.h"
#include "clock.h"
#include "deadline.h"
#include "log.h"
#include "wire.h"

uint32_t net_peer_of(struct net *n, const uint8_t *pk)
{
	uint32_t f = tox_friend_by_public_key(n->tox, pk, NULL);

	return f < FRIENDS_MAX ? f : UINT32_MAX;
}

/* Was pk removed from the cluster? */
int net_member_removed(struct net *n, const uint8_t *pk)
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
	return net_member_removed(n, pk);
}

/* Is pk unknown, removed or offline in the node list? */
int net_member_offline(struct net *n, const uint8_t *pk)
{
	struct cluster_member *m;
	int off;

	pthread_mutex_lock(&n->lock);
	m = member_locked(n, pk);
	off = m == NULL || cluster_state(&n->cl, m, clock_wall_ms()) >= CL_OFFLINE;
	pthread_mutex_unlock(&n->lock);
	return off;
}

/* Forget everything in flight with friend f (its connection is gone). */
static void peer_reset(struct net *n, uint32_t f, int offline)
{
	struct peer *p = &n->fr[f];

	if (p->reasm != NULL)
		wire_reasm_reset(p->reasm);
	net_q_free(&p->ctl);
	net_q_free(&p->urgent);
	net_q_free(&p->bulk);
	p->queued = 0;
	p->proven = p->sent = 0;
	rpc_peer_down(&n->rpc, p->pk, offline, net_call_done, n);
}

/*
 * Friend f is declared offline (no heartbeat for two intervals) while Tox
 * may still think it connected: its half-received messages go and what
 * waits for it fails now.  The link itself stays, so a peer that was only
 * slow carries on where it left off.
 */
void net_peer_offline(struct net *n, uint32_t f)
{
	struct peer *p = &n->fr[f];

	if (p->reasm != NULL)
		wire_reasm_reset(p->reasm);
	rpc_peer_down(&n->rpc, p->pk, 1, net_call_done, n);
}

/* Unfriend f; with park set its idempotent requests wait for the new
   link (a reconnect), else everything waiting for it fails. */
void net_peer_drop_as(struct net *n, uint32_t f, const char *why, int park)
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
	if (n->files != NULL)
		n->files->peer_down(n->files->ctx, f);
	tox_friend_delete(n->tox, f, NULL);
	wire_reasm_free(n->fr[f].reasm);
	memset(&n->fr[f], 0, sizeof(n->fr[f]));
}

void net_peer_drop(struct net *n, uint32_t f, const char *why)
{
	net_peer_drop_as(n, f, why, 0);
}

/* A friend request: admitted only with a proof of the cluster key for
   exactly this pair; anything else is refused and logged. */
void net_peer_on_request(Tox *tox, const uint8_t *pk, const uint8_t *msg, size_t len,
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
		net_count(n, &n->snap.refused);
		return;
	}
	if (removed) {
		log_warn("net: refused a friend request from %s: removed from the cluster; "
			 "linking it only to tell it so", hex);
		net_count(n, &n->snap.refused);
	}
	if (tox_friend_add_norequest(tox, pk, &err) == UINT32_MAX && err != TOX_ERR_FRIEND_ADD_ALREADY_SENT)
		log_warn("net: cannot add %s %s: error %d", removed ? "removed node" : "member", hex,
			 (int)err);
	else if (!removed)
		log_notice("net: admitted member %s", hex);
}

void net_peer_proof(struct net *n, uint32_t f)
{
	uint8_t pkt[1 + ADMIT_PROOF_BYTES];
	Tox_Err_Friend_Custom_Packet err;

	pkt[0] = PKT_PROOF;
	admit_proof(n->cfg->cluster_key, n->self, n->fr[f].pk, pkt + 1);
	if (tox_friend_send_lossless_packet(n->tox, f, pkt, sizeof(pkt), &err))
		n->fr[f].sent = 1;	/* else: retried at the next iteration */
}

void net_peer_heartbeat(struct net *n, int64_t f_only)
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
			net_q_notice(n, f, NET_HEARTBEAT, hb, len);
	free(hb);
}

void net_peer_on_connection(Tox *tox, uint32_t f, Tox_Connection c, void *user)
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
		if (n->files != NULL)
			n->files->peer_down(n->files->ctx, f);
		pthread_mutex_lock(&n->lock);
		if ((m = member_locked(n, n->fr[f].pk)) != NULL)
			m->direct = 0;
		pthread_mutex_unlock(&n->lock);
	}
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
		net_count(n, &n->snap.dropped);
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
			net_peer_offline(n, f);
			break;
		}
		if (m.method >= NET_SERVICE_FIRST) {
			net_svc_enqueue(n, f, &m);
			break;
		}
		if (m.method == NET_RX) {
			if (m.body_len == 8) {
				net_q_acked(&n->fr[f], get_u64(m.body), deadline_now_ms());
			} else {
				net_count(n, &n->snap.dropped);
			}
			break;
		}
		if (m.method == NET_CANCEL) {
			if (m.body_len == 8)
				net_q_cancel(n, f, get_u64(m.body));
			else
				net_count(n, &n->snap.dropped);
			break;
		}
		if (m.method == NET_XFER_WANT || m.method == NET_XFER_NOPE) {
			if (n->files != NULL)
				n->files->notice(n->files->ctx, n->tox, f, m.method, m.body, m.body_len);
			break;
		}
		if (m.method != NET_HEARTBEAT) {
			net_count(n, &n->snap.dropped);
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
			net_count(n, &n->snap.dropped);
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
			net_q_reply(n, f, &m, 0, NULL, 0);
		} else if (m.method == NET_ECHO) {
			net_q_reply(n, f, &m, 0, m.body, m.body_len);
		} else if (m.method >= NET_SERVICE_FIRST) {
			net_svc_enqueue(n, f, &m);
		} else {
			net_q_reply(n, f, &m, ENOSYS, NULL, 0);
		}
		break;
	case WIRE_REPLY:
		if ((c = rpc_match(&n->rpc, m.from, m.id)) == NULL) {
			net_count(n, &n->snap.unmatched);	/* late, or never asked */
			pthread_mutex_lock(&n->lock);
			n->snap.unmatched_bytes += len;
			pthread_mutex_unlock(&n->lock);
			break;
		}
		c->reply = m.body;
		c->reply_len = m.body_len;
		m.body = NULL;
		net_call_done(c, m.status ? -(int)m.status : 0, n);
		break;
	default:
		net_count(n, &n->snap.dropped);
	}
	wire_msg_clear(&m);
}

void net_peer_on_packet(Tox *tox, uint32_t f, const uint8_t *data, size_t len, void *user)
{
	struct net *n = user;
	struct peer *p;
	char hex[65];

	(void)tox;
	if (f >= FRIENDS_MAX || len < 1) {
		net_count(n, &n->snap.dropped);
		return;
	}
	p = &n->fr[f];
	n->busy_until = deadline_now_ms() + BUSY_MS;
	if (data[0] == WIRE_PACKET_ID || data[0] == WIRE_PACKET_UNCOUNTED) {
		uint8_t *msg;
		size_t mlen;
		int r;

		if (!p->proven) {	/* a member proves itself first */
			net_count(n, &n->snap.dropped);
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
			net_count(n, &n->snap.dropped);
		return;
	}
	if (data[0] != PKT_PROOF) {	/* no packet of ours */
		net_count(n, &n->snap.dropped);
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
	net_peer_drop(n, f, "no proof of the cluster key");
	net_count(n, &n->snap.refused);
}
void net_peer_befriend(struct net *n, const uint8_t tox_id[TOX_ADDRESS_SIZE])
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
