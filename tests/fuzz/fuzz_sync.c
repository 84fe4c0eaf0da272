/*
 * libFuzzer target for the decoders of replication's messages
 * (src/proto/syncwire): the input is decoded as an answer
 * (syncwire_decode_reply) and as a question (syncwire_decode_pull).
 * What the answer decoder accepts must hold to its promises (valid tree
 * paths, known kinds, versions whose vector covers them, holdings with a
 * hash and a sequence number only, each with its signed form), and a
 * question it accepts must
 * encode back to the same bytes.  Everything decoded is freed, so a leak
 * shows up under the fuzzer's LeakSanitizer.
 *
 *   make fuzz FUZZ_SECONDS=600      a longer run (make check runs a short one)
 *
 * It links the codec and src/util/path only.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "syncwire.h"

/* 1 if vector vv holds node at hlc or later (its first entry of node). */
static int vv_holds(const uint8_t *vv, size_t len, const uint8_t *node, uint64_t hlc)
{
	for (size_t i = 0; i + SYNCWIRE_VV_ENTRY <= len; i += SYNCWIRE_VV_ENTRY)
		if (memcmp(vv + i, node, SYNCWIRE_NODE_BYTES) == 0) {
			uint64_t v = 0;

			for (int k = 7; k >= 0; k--)
				v = v << 8 | vv[i + SYNCWIRE_NODE_BYTES + k];
			return v >= hlc;
		}
	return 0;
}

static void check_reply(const uint8_t *data, size_t size)
{
	struct syncwire_reply b;

	if (syncwire_decode_reply(data, size, &b) != 0) {
		if (b.recs != NULL || b.n != 0 || b.ranges != NULL || b.nranges != 0 ||
		    b.keys != NULL || b.nkeys != 0)
			abort();
		return;
	}
	if (b.n > SYNCWIRE_RECS_MAX || b.nranges > SYNCWIRE_ORIGINS_MAX ||
	    b.nkeys > SYNCWIRE_ORIGINS_MAX || b.more > 1)
		abort();
	for (size_t i = 0; i < b.n; i++) {
		const struct syncwire_rec *r = &b.recs[i];

		/* every version keeps its signed form: its bytes and 64 more */
		if (r->wire == NULL || r->wire_len <= SYNCWIRE_SIG_BYTES)
			abort();

		if (r->kind == SYNCWIRE_HOLDER) {
			/* a holding: a hash and a sequence number, nothing else */
			if (r->path != NULL || !r->has_sha || r->hlc != 0 || r->seq == 0 ||
			    r->vv_len != 0 || r->target != NULL)
				abort();
			continue;
		}
		if (r->path == NULL || path_check(r->path) != 0)
			abort();
		if (r->kind != SYNCWIRE_FILE && r->kind != SYNCWIRE_DIR && r->kind != SYNCWIRE_LINK)
			abort();
		if (r->mode > 07777 || r->hlc == 0 || r->seq == 0 ||
		    r->vv_len > SYNCWIRE_VV_BYTES || r->vv_len % SYNCWIRE_VV_ENTRY != 0)
			abort();
		if ((r->kind == SYNCWIRE_LINK && !r->deleted) != (r->target != NULL))
			abort();
		if (!vv_holds(r->vv, r->vv_len, r->origin, r->hlc))
			abort();
	}
	syncwire_reply_clear(&b);
}

static void check_pull(const uint8_t *data, size_t size)
{
	struct syncwire_range *have = NULL;
	struct syncwire_gap gap;
	uint8_t *again = NULL;
	size_t n = 0, len = 0;

	if (syncwire_decode_pull(data, size, &have, &n, &gap) != 0) {
		if (have != NULL || n != 0)
			abort();
		return;
	}
	if (gap.has > 1 || syncwire_encode_pull(have, n, &gap, &again, &len) != 0 || len != size ||
	    memcmp(again, data, size) != 0)
		abort();
	free(again);
	free(have);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_reply(data, size);
	check_pull(data, size);
	return 0;
}
