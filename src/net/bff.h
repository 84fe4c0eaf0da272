/*
 * bff: finding the cluster through a known node, the BFF.  c-toxcore
 * 0.2.18 makes a new DHT key at every start, so a node cannot be
 * bootstrapped from configuration alone: a member answers
 * GET /v1/bootstrap on its server port (src/front/api) with its Tox ID, current
 * DHT key, UDP port and name, and a joining node fetches that here.  The
 * reply is untrusted input: bff_parse checks every field (and is fuzzed).
 * bff_fetch blocks up to its timeout; no threads of its own.
 */
#ifndef OAND_BFF_H
#define OAND_BFF_H

#include <stddef.h>
#include <stdint.h>

#define BFF_REPLY_MAX 65536

struct bff_info {
	uint8_t tox_id[38];
	uint8_t dht_key[32];
	int udp_port;
	char name[256];
	int64_t run_ms;		/* since the node started; -1 if not told */
	int64_t tox_age_ms;	/* since its Tox instance started; -1 if not told */
};

/* The JSON body of a /v1/bootstrap reply: 0 or -EBADMSG. */
int bff_parse(const char *body, size_t len, struct bff_info *out);
/* GET http://host:port/v1/bootstrap, or https:// when that has no HTTP
   answer (httpc: the certificate checked against the system's CAs), or
   https:// only to a server with the public key pin (bff-pin) when pin
   is not NULL, or to any certificate when key_known (the caller checks
   that the answer carries the key it knows: a member of the node list,
   or a BFF with bff-tox-id): 0, -ETIMEDOUT, -ECONNREFUSED,
   -EHOSTUNREACH, -EKEYREJECTED (certificate or key refused), -EBADMSG
   (not a good reply) or -errno. */
int bff_fetch(const char *host, int port, const char *pin, int key_known, int timeout_ms,
	      struct bff_info *out);

#endif
