/*
 * net_nodes.c: the node list: loading and saving it, choosing the peers to
 * link, the periodic tick, and the list as people see it (net_nodes,
 * net_lookup).
 */
#include "net_int.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <tox/tox.h>

#include "cfg.h"
#include "clock.h"
#include "db.h"
#include "deadline.h"
#include "hex.h"
#include "log.h"

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
void net_nodes_save(struct net *n)
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

int net_nodes_load(const struct db_member *dm, void *ctx)
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
 * BFF while joining): net_peer_befriend those missing, drop removed members and,
 * beyond max-peers, those not picked.
 */
void net_nodes_choose(struct net *n)
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
		net_peer_befriend(n, want[i]);
	/* Counted after net_peer_befriend() added to it: the list is copied whole. */
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
				net_peer_drop(n, f, "removed from the cluster");
				continue;
			}
			for (size_t j = 0; j < nwant && !wanted; j++)
				wanted = memcmp(want[j], n->fr[f].pk, TOX_PUBLIC_KEY_SIZE) == 0;
			if (!wanted && known &&
			    tox_self_get_friend_list_size(n->tox) > (size_t)n->cfg->max_peers &&
			    !(n->has_bff && memcmp(n->bff, n->fr[f].pk, TOX_PUBLIC_KEY_SIZE) == 0))
				net_peer_drop(n, f, "beyond max-peers");
		}
		free(list);
	}
	free(want);
}

/* Members looked at per tick for a missing link. */
#define CUT_CHECK 8

/* Once per heartbeat interval: states, pings, forgetting, saving. */
void net_nodes_tick(struct net *n)
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
		    net_join_addr(m->server, cut[ncut].host, sizeof(cut[0].host), &cut[ncut].port) != 0)
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
		uint32_t f = net_peer_of(n, cut[i].pk);

		if (f == UINT32_MAX || n->fr[f].up)
			continue;
		snprintf(n->cut_host, sizeof(n->cut_host), "%s", cut[i].host);
		n->cut_port = cut[i].port;
		memcpy(n->cut_pk, cut[i].pk, TOX_PUBLIC_KEY_SIZE);
		n->cut = 1;
	}
	for (size_t i = 0; i < nt; i++)
		net_call_ping(n, todo[i].pk, n->cfg->heartbeat_ms / 2);
	net_call_fail_parked(n);
	for (size_t i = 0; i < noff; i++) {
		uint32_t f = off[i].f;

		if (!n->fr[f].up) {
			net_peer_offline(n, f);
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
		net_peer_drop(n, f, "silent for two heartbeat intervals");
		net_peer_befriend(n, off[i].addr);
	}
	net_nodes_save(n);
}

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
