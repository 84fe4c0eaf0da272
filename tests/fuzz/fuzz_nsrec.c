/*
 * libFuzzer target for src/proto/nsrec, the decoder of namespace records:
 * the input is one record's bytes.  A record that decodes must pass
 * nsrec_check() and encode back to the same bytes (the encoding is
 * canonical), and every variable field must lie inside the input.  The
 * input is also opened as a wire form (record, then signature) under a
 * fixed key, which must fail unless it decodes.
 *
 *   make fuzz FUZZ_SECONDS=600      a longer run (make check runs a short one)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nsrec.h"

static int inside(const uint8_t *p, size_t n, const uint8_t *buf, size_t len)
{
	return n == 0 || (p >= buf && p + n <= buf + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t pk[NSREC_SIGN_PK_BYTES] = { 1 };
	struct nsrec r;
	uint8_t *again = NULL;
	size_t n = 0;

	if (nsrec_decode(data, size, &r) == 0) {
		if (nsrec_check(&r) != 0 || !inside(r.name, r.name_len, data, size) ||
		    !inside(r.target, r.target_len, data, size) ||
		    !inside(r.value, r.value_len, data, size))
			abort();
		if (nsrec_encode(&r, &again, &n) != 0 || n != size || memcmp(again, data, size) != 0)
			abort();
		free(again);
	}
	if (nsrec_open(data, size, pk, &r) == 0 &&
	    (size <= NSREC_SIG_BYTES || nsrec_decode(data, size - NSREC_SIG_BYTES, &r) != 0))
		abort();
	return 0;
}
