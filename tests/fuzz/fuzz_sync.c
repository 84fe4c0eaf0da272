/*
 * libFuzzer target for the decoders of src/sync: the input is decoded as
 * an answer (sync_decode_reply) and as a question (sync_decode_pull).
 * What the answer decoder accepts must hold to its promises (valid tree
 * paths, known kinds, versions whose vector covers them, holdings with a
 * hash and a sequence number only, each with its signed form), and a
 * question it accepts must
 * encode back to the same bytes.  Everything decoded is freed, so a leak
 * shows up under the fuzzer's LeakSanitizer.
 *
 *   make fuzz FUZZ_SECONDS=600      a longer run (make check runs a short one)
 *
 * src/net is not linked: the four functions sync.c names of it are stubs
 * at the end of this file (the sync thread never runs here).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "net.h"
#include "path.h"
#include "sync.h"

static void check_reply(const uint8_t *data, size_t size)
{
	struct sync_batch b;

	if (sync_decode_reply(data, size, &b) != 0) {
		if (b.recs != NULL || b.n != 0 || b.ranges != NULL || b.nranges != 0 ||
		    b.keys != NULL || b.nkeys != 0)
			abort();
		return;
	}
	if (b.n > SYNC_RECS_MAX || b.nranges > SYNC_ORIGINS_MAX || b.nkeys > SYNC_ORIGINS_MAX ||
	    b.more > 1)
		abort();
	for (size_t i = 0; i < b.n; i++) {
		const struct db_rec *r = &b.recs[i];
		uint8_t self[DB_VV_ENTRY];

		/* every version keeps its signed form: its bytes and 64 more */
		if (r->wire == NULL || r->wire_len <= 64)
			abort();

		if (r->e.kind == DB_HOLDER) {
			/* a holding: a hash and a sequence number, nothing else */
			if (r->path != NULL || !r->e.has_sha || r->e.hlc != 0 || r->e.seq == 0 ||
			    r->vv_len != 0 || r->e.target != NULL)
				abort();
			continue;
		}
		if (r->path == NULL || path_check(r->path) != 0)
			abort();
		if (r->e.kind != DB_FILE && r->e.kind != DB_DIR && r->e.kind != DB_LINK)
			abort();
		if (r->e.mode > 07777 || r->e.hlc == 0 || r->e.seq == 0 ||
		    r->vv_len > DB_VV_BYTES || r->vv_len % DB_VV_ENTRY != 0)
			abort();
		if ((r->e.kind == DB_LINK && !r->e.deleted) != (r->e.target != NULL))
			abort();
		memcpy(self, r->e.origin, DB_NODE_BYTES);
		for (int k = 0; k < 8; k++)
			self[DB_NODE_BYTES + k] = (uint8_t)(r->e.hlc >> (8 * k));
		if (!db_vv_covers(r->vv, r->vv_len, self, sizeof(self)))
			abort();
	}
	sync_batch_clear(&b);
}

static void check_pull(const uint8_t *data, size_t size)
{
	struct db_range *have = NULL;
	struct sync_gap gap;
	uint8_t *again = NULL;
	size_t n = 0, len = 0;

	if (sync_decode_pull(data, size, &have, &n, &gap) != 0) {
		if (have != NULL || n != 0)
			abort();
		return;
	}
	if (gap.has > 1 || sync_encode_pull(have, n, &gap, &again, &len) != 0 || len != size ||
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
