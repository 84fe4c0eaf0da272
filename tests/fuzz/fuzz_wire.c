/*
 * libFuzzer target for everything that reads network input in src/proto/wire:
 * the message decoder and the fragment reassembler.  The input is a
 * sequence of packets, each prefixed by its length (2 bytes, little
 * endian); packets go through a reassembler with small caps, and every
 * message it completes is decoded.  The input as a whole is also decoded
 * as one message.  A decoded message must encode back to the same bytes,
 * and the reassembler must never hold more than its caps.
 *
 *   make fuzz FUZZ_SECONDS=600      a longer run (make check runs a short one)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define CAP_MSGS 4
#define CAP_BYTES (64 * 1024)

static void check_roundtrip(const uint8_t *buf, size_t len)
{
	struct wire_msg m;
	uint8_t *again = NULL;
	size_t n = 0;

	if (wire_decode(buf, len, &m) != 0)
		return;
	if (wire_encode(&m, &again, &n) != 0 || n != len || memcmp(again, buf, len) != 0)
		abort();
	free(again);
	wire_msg_clear(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_reasm *r = wire_reasm_new(CAP_MSGS, CAP_BYTES);
	size_t off = 0;

	if (r == NULL)
		return 0;
	check_roundtrip(data, size);
	while (off + 2 <= size) {
		size_t n = (size_t)data[off] | (size_t)data[off + 1] << 8, len, msgs;
		uint8_t *msg;

		off += 2;
		if (n > size - off)
			n = size - off;
		if (wire_reasm_feed(r, data + off, n, &msg, &len) == 1) {
			check_roundtrip(msg, len);
			free(msg);
		}
		if (wire_reasm_held(r, &msgs) > CAP_BYTES || msgs > CAP_MSGS)
			abort();
		off += n;
	}
	wire_reasm_free(r);
	return 0;
}
