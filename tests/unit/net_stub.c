/*
 * What src/repl/xfer names of src/net, for check_xfer, which links it without
 * the network: nothing is sent, no member is linked.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"



size_t net_linked(struct net *n, uint8_t (*pks)[IDENT_KEY_BYTES], size_t max)
{
	(void)n;
	(void)pks;
	(void)max;
	return 0;
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
