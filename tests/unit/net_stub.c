/*
 * What src/sync and src/xfer name of src/net, for the tests and the fuzz
 * targets that link them without the network: nothing is sent, no member
 * is linked.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"

int net_call(struct net *n, const uint8_t peer[IDENT_KEY_BYTES], uint16_t method,
	     const uint8_t *body, size_t len, int flags, int timeout_ms, uint8_t **reply,
	     size_t *reply_len)
{
	(void)n;
	(void)peer;
	(void)method;
	(void)body;
	(void)len;
	(void)flags;
	(void)timeout_ms;
	*reply = NULL;
	*reply_len = 0;
	return -ENOSYS;
}

int net_notify(struct net *n, const uint8_t *to, const uint8_t *skip, uint16_t method,
	       const uint8_t *body, size_t len)
{
	(void)n;
	(void)to;
	(void)skip;
	(void)method;
	(void)body;
	(void)len;
	return 0;
}

size_t net_linked(struct net *n, uint8_t (*pks)[IDENT_KEY_BYTES], size_t max)
{
	(void)n;
	(void)pks;
	(void)max;
	return 0;
}

void net_set_service(struct net *n, net_service_fn fn, void *ctx)
{
	(void)n;
	(void)fn;
	(void)ctx;
}

int net_removed(struct net *n, const uint8_t pk[IDENT_KEY_BYTES])
{
	(void)n;
	(void)pk;
	return 0;
}

double net_link_rate(struct net *n, const uint8_t pk[IDENT_KEY_BYTES])
{
	(void)n;
	(void)pk;
	return -1;
}

void net_wake(struct net *n)
{
	(void)n;
}

uint32_t net_files_friend(struct net *n, const uint8_t pk[IDENT_KEY_BYTES])
{
	(void)n;
	(void)pk;
	return UINT32_MAX;
}

const uint8_t *net_files_pk(struct net *n, uint32_t f)
{
	static const uint8_t none[IDENT_KEY_BYTES];

	(void)n;
	(void)f;
	return none;
}

void net_files_notice(struct net *n, uint32_t f, uint16_t method, const uint8_t *body,
		      size_t len)
{
	(void)n;
	(void)f;
	(void)method;
	(void)body;
	(void)len;
}
