/*
 * libFuzzer target for the friend-request decoder (src/proto/admit), which
 * reads what any Tox user may send.  Whatever arrives must never be
 * accepted without the key: an input is only ever accepted when it is
 * byte for byte the request the key makes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[32] = { 1, 2, 3 }, from[32] = { 4 }, to[32] = { 5 };
	uint8_t good[ADMIT_REQUEST_BYTES];

	admit_request(key, from, to, good);
	if (admit_check_request(key, from, to, data, size) == 0 &&
	    (size != sizeof(good) || memcmp(data, good, size) != 0))
		abort();
	return 0;
}
