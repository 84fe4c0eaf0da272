/*
 * libFuzzer target for the BFF's bootstrap reply (src/net/bff), which a
 * joining node reads from the network.  Whatever it accepts must be
 * within bounds: a port in range and a name that fits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bff_info b;

	if (bff_parse((const char *)data, size, &b) == 0 &&
	    (b.udp_port < 1 || b.udp_port > 65535 || strnlen(b.name, sizeof(b.name)) == sizeof(b.name)))
		abort();
	return 0;
}
