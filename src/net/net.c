/*
 * net.c: the net thread: its Tox instance from start to stop, the loop, a
 * fresh start of Tox, and the snapshot other threads read (net_status).
 */
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <tox/tox.h>
#include <unistd.h>

#include "cfg.h"
#include "clock.h"
#include "db.h"
#include "deadline.h"
#include "httpc.h"
#include "log.h"
#include "net_int.h"
#include "thread.h"

/* Another thread handed the net thread something: end its poll. */
void net_wake(struct net *n)
{
	uint64_t one = 1;

	if (write(n->wake, &one, sizeof(one)) < 0)
		log_warn("net: cannot wake the net thread: %s", strerror(errno));
}

void net_count(struct net *n, uint64_t *field)
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
				net_peer_proof(n, f);
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
		uint32_t f = net_peer_of(n, addr);

		if (f != UINT32_MAX)
			net_peer_drop_as(n, f, "reconnect asked", 1);
	}
	net_peer_befriend(n, addr);
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
		    net_member_removed(n, n->fr[f].pk))
			continue;
		memcpy(m.to, n->fr[f].pk, WIRE_KEY_BYTES);
		if (net_q_msg(n, f, &m) == 0)
			net_q_flush(n, f, &n->fr[f].ctl, NULL);
	}
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
	tox_callback_friend_request(n->tox, net_peer_on_request);
	tox_callback_friend_connection_status(n->tox, net_peer_on_connection);
	tox_callback_friend_lossless_packet(n->tox, net_peer_on_packet);
	tox_callback_file_recv(n->tox, net_files_on_recv);
	tox_callback_file_recv_chunk(n->tox, net_files_on_chunk);
	tox_callback_file_chunk_request(n->tox, net_files_on_chunk_request);
	tox_callback_file_recv_control(n->tox, net_files_on_control);
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
		net_peer_befriend(n, cfg->bff_tox_id);
	}
	/* The members known from the node list are friends again at once. */
	net_nodes_choose(n);
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
				net_peer_drop_as(n, list[i], "starting Tox afresh", 1);
		free(list);
	}
	if (n->files != NULL)
		n->files->all_down(n->files->ctx);
	tox_kill(n->tox);
	n->tox = NULL;
	if (n->older_since != 0 && !n->follow) {
		memcpy(n->fresh_for, n->older_dht, sizeof(n->fresh_for));
		n->fresh_at = deadline_now_ms();
	}
	net_join_clear(n);
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
		net_call_take(n);
		net_svc_take_out(n);
		net_call_dispatch(n);
		now = deadline_now_ms();
		if (__atomic_exchange_n(&n->beat_now, 0, __ATOMIC_ACQ_REL))
			n->next_hb = n->next_tick = 0;
		reconnect_asked(n);
		/* Heartbeats are queued before the flush and before peers are
		   chosen, so one never waits in a queue that a drop frees. */
		if (now >= n->next_hb) {
			net_peer_heartbeat(n, -1);
			n->next_hb = now + n->cfg->heartbeat_ms;
		}
		net_q_tell_rx(n, now);
		busy = net_q_flush_all(n);
		rpc_extend(&n->rpc, now, net_call_progress, n);
		rpc_expire(&n->rpc, now, net_call_expired, n);
		if (now >= n->next_tick) {
			net_nodes_tick(n);
			pthread_mutex_lock(&n->lock);
			dirty = n->dirty_peers;
			pthread_mutex_unlock(&n->lock);
			if (dirty)
				net_nodes_choose(n);
			n->next_tick = now + (n->cfg->heartbeat_ms < 1000 ? n->cfg->heartbeat_ms / 4 : 250);
		}
		snapshot(n);
		if (now >= n->next_report) {
			int64_t span = n->next_report ? now - n->next_report + LINK_REPORT_MS : LINK_REPORT_MS;

			net_q_report(n, now, span > 0 ? span : LINK_REPORT_MS);
			n->next_report = now + LINK_REPORT_MS;
		}
		/* Alone, or cut off from a member the others hear: first ask
		   that member for its current DHT key and bootstrap from it;
		   if that does not help either, start Tox afresh. */
		if (n->snap.members > 0)
			net_join_clear(n);
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
			if (net_join_via(n, n->cut_host, n->cut_port, n->cut_pk, 0) != 0) {
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
			if (net_join(n) == 0) {
				n->join_retry = JOIN_RETRY_MS;
				n->next_join = deadline_now_ms() + JOIN_PERIOD_MS;
			} else {
				n->join_retry = n->join_retry < JOIN_RETRY_MS ? JOIN_RETRY_MS
						: n->join_retry * 2 > JOIN_PERIOD_MS ? JOIN_PERIOD_MS
						: n->join_retry * 2;
				n->next_join = deadline_now_ms() + n->join_retry;
			}
		}
		if (n->files != NULL) {
			n->files->tick(n->files->ctx, n->tox);
			busy |= n->files->busy(n->files->ctx);
		}
		busy |= n->snap.reasm_bytes > 0 || now < n->busy_until;
		timeout = busy ? 1 : (int)tox_iteration_interval(n->tox);
		if (poll(&p, 1, timeout) > 0 && read(n->wake, &v, sizeof(v)) < 0 && errno != EAGAIN)
			log_warn("net: wake-up: %s", strerror(errno));
	}
	say_bye(n);
	return NULL;
}

/*
 * Free what net_start made, as far as it got, with the net thread not
 * running (never started, or joined by net_shutdown(), which has also
 * stopped the service and killed Tox already).
 */
static void net_destroy(struct net *n)
{
	net_svc_stop(n);
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

int net_start(const struct ident *id, const struct cfg *cfg, struct db *db,
	      const struct net_files *files, struct net **out)
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
	if (files != NULL) {
		n->files_copy = *files;
		n->files = &n->files_copy;
	}
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
	if ((r = db_members(db, net_nodes_load, n)) != 0) {
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
	if (n->files != NULL)
		n->files->attach(n->files->ctx, n);
	r = thread_spawn(&n->svc_thread, net_svc_main, n);
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
	if (n != NULL)
		net_destroy(n);
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
	net_call_take(n);
	rpc_fail_all(&n->rpc, -ESHUTDOWN, net_call_done, n);
	net_svc_stop(n);
	net_nodes_save(n);
	for (uint32_t f = 0; f < FRIENDS_MAX; f++) {
		net_q_free(&n->fr[f].ctl);
		net_q_free(&n->fr[f].urgent);
		net_q_free(&n->fr[f].bulk);
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
	net_destroy(n);
}

void net_status(struct net *n, struct net_status *st)
{
	pthread_mutex_lock(&n->lock);
	*st = n->snap;
	pthread_mutex_unlock(&n->lock);
}
