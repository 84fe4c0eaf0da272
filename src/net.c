#include "net.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <tox/tox.h>
#include <unistd.h>

#include "admit.h"
#include "bff.h"
#include "cfg.h"
#include "deadline.h"
#include "log.h"

/* A friend's proof of the cluster key, answering ours (mutual admission). */
#define PKT_PROOF 161
#define FRIENDS_MAX 256

struct net {
	Tox *tox;		/* the net thread's alone once it runs */
	const struct cfg *cfg;
	uint8_t self[TOX_PUBLIC_KEY_SIZE];
	/* Per friend number, touched by the net thread only. */
	struct {
		int proven;	/* sent us a good proof */
		int sent;	/* we sent ours on this connection */
	} fr[FRIENDS_MAX];
	int wake;		/* eventfd */
	int stop;		/* atomic */
	pthread_t thread;
	pthread_mutex_t lock;	/* guards snap */
	struct net_status snap;
};

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

/* A friend request: admitted only with a proof of the cluster key for
   exactly this pair; anything else is refused and logged. */
static void on_friend_request(Tox *tox, const uint8_t *pk, const uint8_t *msg, size_t len,
			      void *user)
{
	struct net *n = user;
	Tox_Err_Friend_Add err;
	char hex[65];
	int r;

	hex_key(pk, hex);
	r = admit_check_request(n->cfg->cluster_key, pk, n->self, msg, len);
	if (r != 0) {
		log_warn("net: refused a friend request from %s: %s", hex,
			 r == -EACCES ? "no proof of the cluster key" : "not an oand node");
		pthread_mutex_lock(&n->lock);
		n->snap.refused++;
		pthread_mutex_unlock(&n->lock);
		return;
	}
	if (tox_friend_add_norequest(tox, pk, &err) == UINT32_MAX && err != TOX_ERR_FRIEND_ADD_ALREADY_SENT)
		log_warn("net: cannot add member %s: error %d", hex, (int)err);
	else
		log_notice("net: admitted member %s", hex);
}

static void send_proof(struct net *n, uint32_t f)
{
	uint8_t pk[TOX_PUBLIC_KEY_SIZE], pkt[1 + ADMIT_PROOF_BYTES];
	Tox_Err_Friend_Custom_Packet err;

	if (!tox_friend_get_public_key(n->tox, f, pk, NULL))
		return;
	pkt[0] = PKT_PROOF;
	admit_proof(n->cfg->cluster_key, n->self, pk, pkt + 1);
	if (tox_friend_send_lossless_packet(n->tox, f, pkt, sizeof(pkt), &err))
		n->fr[f].sent = 1;	/* else: retried at the next iteration */
}

static void on_connection(Tox *tox, uint32_t f, Tox_Connection c, void *user)
{
	struct net *n = user;

	(void)tox;
	if (f >= FRIENDS_MAX)
		return;
	n->fr[f].sent = 0;
	if (c == TOX_CONNECTION_NONE)
		n->fr[f].proven = 0;	/* prove again on the next connection */
}

static void on_packet(Tox *tox, uint32_t f, const uint8_t *data, size_t len, void *user)
{
	struct net *n = user;
	uint8_t pk[TOX_PUBLIC_KEY_SIZE];
	char hex[65];

	if (f >= FRIENDS_MAX || len < 1 || data[0] != PKT_PROOF)
		return;
	if (!tox_friend_get_public_key(tox, f, pk, NULL))
		return;
	if (len == 1 + ADMIT_PROOF_BYTES && admit_check(n->cfg->cluster_key, pk, n->self, data + 1) == 0) {
		if (!n->fr[f].proven)
			log_info("net: %s proved the cluster key", (hex_key(pk, hex), hex));
		n->fr[f].proven = 1;
		return;
	}
	/* A friend that cannot prove the key is no member: drop it. */
	hex_key(pk, hex);
	log_warn("net: %s failed to prove the cluster key; removed", hex);
	tox_friend_delete(tox, f, NULL);
	n->fr[f].proven = n->fr[f].sent = 0;
	pthread_mutex_lock(&n->lock);
	n->snap.refused++;
	pthread_mutex_unlock(&n->lock);
}

/*
 * Ask the BFF's HTTP service for its Tox ID and current DHT key,
 * bootstrap from it and ask it for admission.  Run by the net thread while
 * this node has no member yet; the fetch blocks at most BFF_TIMEOUT_MS.
 */
#define BFF_TIMEOUT_MS 2000
#define JOIN_PERIOD_MS 5000

static void befriend(struct net *n, const uint8_t tox_id[TOX_ADDRESS_SIZE])
{
	uint8_t req[ADMIT_REQUEST_BYTES];
	Tox_Err_Friend_Add err;

	if (memcmp(tox_id, n->self, TOX_PUBLIC_KEY_SIZE) == 0 ||
	    tox_friend_by_public_key(n->tox, tox_id, NULL) != UINT32_MAX)
		return;	/* ourselves, or asked already */
	admit_request(n->cfg->cluster_key, n->self, tox_id, req);
	if (tox_friend_add(n->tox, tox_id, req, sizeof(req), &err) == UINT32_MAX)
		log_warn("net: cannot ask for admission: error %d", (int)err);
}

static void join_bff(struct net *n)
{
	const struct cfg *c = n->cfg;
	struct bff_info b;
	Tox_Err_Bootstrap err;
	int r = bff_fetch(c->bff_domain_name, c->bff_port, BFF_TIMEOUT_MS, &b);

	if (r != 0) {
		log_info("net: BFF %s:%d not reachable: %s", c->bff_domain_name, c->bff_port,
			 strerror(-r));
		return;
	}
	if (c->has_bff_tox_id && memcmp(b.tox_id, c->bff_tox_id, TOX_ADDRESS_SIZE) != 0) {
		log_error("net: BFF %s:%d is not the node bff-tox-id names; not joining",
			  c->bff_domain_name, c->bff_port);
		return;
	}
	if (!tox_bootstrap(n->tox, c->bff_domain_name, (uint16_t)b.udp_port, b.dht_key, &err))
		log_warn("net: cannot bootstrap from the BFF: error %d", (int)err);
	befriend(n, b.tox_id);
}

static void snapshot(struct net *n)
{
	Tox_Err_Get_Port perr;
	uint8_t dht[TOX_PUBLIC_KEY_SIZE];
	uint16_t port = tox_self_get_udp_port(n->tox, &perr);

	tox_self_get_dht_id(n->tox, dht);
	pthread_mutex_lock(&n->lock);
	n->snap.udp_port = perr == TOX_ERR_GET_PORT_OK ? port : 0;
	sodium_bin2hex(n->snap.dht_key, sizeof(n->snap.dht_key), dht, sizeof(dht));
	n->snap.connected = (int)tox_self_get_connection_status(n->tox);
	n->snap.iterations++;
	n->snap.friends = n->snap.online = n->snap.members = 0;
	pthread_mutex_unlock(&n->lock);
	{
		size_t count = tox_self_get_friend_list_size(n->tox);
		uint32_t *list = calloc(count ? count : 1, sizeof(*list));
		int friends = 0, online = 0, members = 0;

		if (list == NULL)
			return;
		tox_self_get_friend_list(n->tox, list);
		for (size_t i = 0; i < count; i++) {
			uint32_t f = list[i];
			int up = tox_friend_get_connection_status(n->tox, f, NULL) != TOX_CONNECTION_NONE;

			friends++;
			if (!up || f >= FRIENDS_MAX)
				continue;
			online++;
			if (!n->fr[f].sent)
				send_proof(n, f);
			members += n->fr[f].proven;
		}
		free(list);
		pthread_mutex_lock(&n->lock);
		n->snap.friends = friends;
		n->snap.online = online;
		n->snap.members = members;
		pthread_mutex_unlock(&n->lock);
	}
}

static void *net_main(void *arg)
{
	struct net *n = arg;
	struct pollfd p = { .fd = n->wake, .events = POLLIN };

	int64_t next_join = 0;

	while (!__atomic_load_n(&n->stop, __ATOMIC_ACQUIRE)) {
		uint64_t v;

		tox_iterate(n->tox, n);
		snapshot(n);
		if (n->cfg->bff_domain_name != NULL && n->snap.members == 0 &&
		    deadline_now_ms() >= next_join) {
			join_bff(n);
			next_join = deadline_now_ms() + JOIN_PERIOD_MS;
		}
		if (poll(&p, 1, (int)tox_iteration_interval(n->tox)) > 0 &&
		    read(n->wake, &v, sizeof(v)) < 0 && errno != EAGAIN)
			log_warn("net: wake-up: %s", strerror(errno));
	}
	return NULL;
}

int net_start(const struct ident *id, const struct cfg *cfg, struct net **out)
{
	struct Tox_Options *o = NULL;
	struct net *n = NULL;
	Tox_Err_New err;
	sigset_t all, old;
	int r = -ENOMEM;

	*out = NULL;
	if ((n = calloc(1, sizeof(*n))) == NULL || (o = tox_options_new(NULL)) == NULL)
		goto fail;
	n->wake = -1;
	pthread_mutex_init(&n->lock, NULL);
	/* Never a failed start on a host without IPv6: "auto" asks the host. */
	n->snap.ipv6 = cfg->ipv6 < 0 ? net_host_has_ipv6() : cfg->ipv6;
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
	tox_options_set_savedata_data(o, id->secret, IDENT_KEY_BYTES);
	n->tox = tox_new(o, &err);
	tox_options_free(o);
	o = NULL;
	if (n->tox == NULL) {
		log_error("net: cannot start Tox: %s", tox_new_error(err));
		r = err == TOX_ERR_NEW_PORT_ALLOC ? -EADDRINUSE : -EIO;
		goto fail;
	}
	tox_self_set_nospam(n->tox, ident_nospam(id));
	ident_address_hex(id, n->snap.tox_id);
	n->cfg = cfg;
	memcpy(n->self, id->public_key, sizeof(n->self));
	tox_callback_friend_request(n->tox, on_friend_request);
	tox_callback_friend_connection_status(n->tox, on_connection);
	tox_callback_friend_lossless_packet(n->tox, on_packet);
	for (int i = 0; i < cfg->nbootstrap; i++) {
		const struct cfg_dht_node *d = &cfg->bootstrap[i];
		Tox_Err_Bootstrap berr;

		if (!tox_bootstrap(n->tox, d->host, (uint16_t)d->port, d->key, &berr))
			log_warn("net: cannot bootstrap from %s:%d: error %d", d->host, d->port, (int)berr);
	}
	/* A pinned BFF is asked for admission at once; one known only by
	   address, once its HTTP service has told us who it is. */
	if (cfg->has_bff_tox_id)
		befriend(n, cfg->bff_tox_id);
	snapshot(n);
	n->snap.iterations = 0;
	if ((n->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		r = -errno;
		goto fail;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = -pthread_create(&n->thread, NULL, net_main, n);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		goto fail;
	log_notice("net: Tox up on UDP port %u%s, id %s", n->snap.udp_port,
		   n->snap.ipv6 ? " (IPv6 and IPv4)" : " (IPv4)", n->snap.tox_id);
	*out = n;
	return 0;
fail:
	if (n != NULL) {
		if (n->tox != NULL)
			tox_kill(n->tox);
		if (n->wake >= 0)
			close(n->wake);
		pthread_mutex_destroy(&n->lock);
		free(n);
	}
	tox_options_free(o);
	return r;
}

void net_stop(struct net *n)
{
	uint64_t one = 1;

	if (n == NULL)
		return;
	__atomic_store_n(&n->stop, 1, __ATOMIC_RELEASE);
	if (write(n->wake, &one, sizeof(one)) < 0)
		log_warn("net: cannot wake the net thread: %s", strerror(errno));
	pthread_join(n->thread, NULL);
	tox_kill(n->tox);
	close(n->wake);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

void net_status(struct net *n, struct net_status *st)
{
	pthread_mutex_lock(&n->lock);
	*st = n->snap;
	pthread_mutex_unlock(&n->lock);
}
