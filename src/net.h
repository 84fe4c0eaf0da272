/*
 * net: the node's Tox instance and the one thread that owns it.  Only
 * that thread calls tox_* (c-toxcore 0.2.18 is not thread safe).  It
 * iterates at tox_iteration_interval() and sleeps on an eventfd that
 * net_stop() (and, later, work handed over by other threads) writes.
 * Other threads read what they need from a snapshot the thread keeps
 * under a mutex.  A node runs Tox only when it belongs to a cluster
 * (cluster-key is set): a standalone node opens no socket.
 */
#ifndef OAND_NET_H
#define OAND_NET_H

#include <stdint.h>

#include "ident.h"

struct net;
struct cfg;

struct net_status {
	char tox_id[2 * IDENT_ADDRESS_BYTES + 1];
	char dht_key[65];	/* changes at every start (0.2.18) */
	uint16_t udp_port;	/* 0 if UDP is off or not bound */
	int ipv6;
	int connected;		/* 0 none, 1 TCP, 2 UDP (Tox_Connection) */
	uint64_t iterations;
	int friends;		/* befriended nodes */
	int online;		/* of them connected now */
	int members;		/* of those, proven to hold the cluster key */
	uint64_t refused;	/* requests and friends refused for lack of proof */
};

/* Start Tox with id's key and the cfg's ports; the thread starts at once. */
int net_start(const struct ident *id, const struct cfg *cfg, struct net **out);
void net_stop(struct net *n);
void net_status(struct net *n, struct net_status *st);
/* 1 if this host can open IPv6 sockets, else 0. */
int net_host_has_ipv6(void);

#endif
