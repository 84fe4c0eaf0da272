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
#include <tox/tox.h>
#include <unistd.h>

#include "cfg.h"
#include "log.h"

struct net {
	Tox *tox;		/* the net thread's alone once it runs */
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
	pthread_mutex_unlock(&n->lock);
}

static void *net_main(void *arg)
{
	struct net *n = arg;
	struct pollfd p = { .fd = n->wake, .events = POLLIN };

	while (!__atomic_load_n(&n->stop, __ATOMIC_ACQUIRE)) {
		uint64_t v;

		tox_iterate(n->tox, n);
		snapshot(n);
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
	n->snap.ipv6 = net_host_has_ipv6();
	tox_options_set_ipv6_enabled(o, n->snap.ipv6);
	tox_options_set_udp_enabled(o, true);
	/* LAN discovery broadcasts on every interface: off until asked for. */
	tox_options_set_local_discovery_enabled(o, false);
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
