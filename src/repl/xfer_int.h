/*
 * xfer_int.h: what the files of src/repl/xfer share and nothing else
 * includes: the fetches (struct job, xfer.c), the sends (struct send,
 * xfer_send.c) and the module's state.  xfer.h is the module's contract.
 */
#ifndef OAND_XFER_INT_H
#define OAND_XFER_INT_H

#include <pthread.h>
#include <stdint.h>

#include "hex.h"
#include "sha256.h"
#include "xfer.h"

#define TRIED_MAX 64
#define BAD_MAX 16
#define SPANS_MAX 16
#define WANT_BYTES (32 + 8)

enum job_state {
	J_PREP,		/* its first reader looks at the disk */
	J_WAIT,		/* needs a holder */
	J_ASKED,	/* a holder was asked */
	J_RECV,		/* bytes arrive */
	J_CHECK,	/* whole and checked: a reader stores it */
	J_CHECKING,
	J_DONE,
	J_FAILED,
};

struct job {
	uint8_t sha[32];
	uint64_t size;
	int state, result, waiters;
	int64_t progress;	/* created, or last byte (monotonic ms) */
	int64_t since;		/* when its first reader began to wait (monotonic ms) */
	int64_t asked_at, retry_at;
	uint8_t holder[32];
	uint32_t friend, file;
	int fd;
	uint64_t have;		/* bytes in the partial, all of them hashed */
	struct sha256 hash;	/* of those bytes */
	/* Who supplied them, in order; solo: after a check failed, the
	   partial is continued only by the holder that began it. */
	struct xfer_span spans[SPANS_MAX];
	int nspans, solo;
	/* the recent rate: bytes at rate_t */
	uint64_t rate_bytes;
	int64_t rate_t;
	double rate;
	uint8_t tried[TRIED_MAX][32];
	int ntried;
	uint8_t bad[BAD_MAX][32];
	int nbad;
	struct job *next;
};

struct send {
	uint8_t peer[32];
	uint8_t sha[32];
	uint32_t friend, file;
	int fd;
	uint64_t size, done, rate_bytes;
	uint64_t asked;		/* Tox asked for the bytes up to here (done..asked waits) */
	size_t chunk;		/* the size Tox asks for (all but the last chunk) */
	int64_t rate_t;
	double rate;
	struct send *next;
};

struct xfer {
	struct store *store;
	struct db *db;
	uint8_t self[32];
	int64_t timeout_ms;
	pthread_mutex_t lock;	/* guards everything below */
	pthread_cond_t cond;
	struct xfer_net net;
	int attached, closing;
	struct job *jobs;
	struct send *sends;	/* net thread only, but listed under lock */
	int nsends;
	int corrupt;		/* test hook: send wrong bytes (OAND_TEST_CORRUPT_SENDS) */
};

static inline char *short_hex(const uint8_t *k, char out[17])
{
	return hex_encode(k, 8, out);
}

void xfer_send_want(struct xfer *x, Tox *tox, uint32_t f, const uint8_t *body, size_t len);
struct send *xfer_send_find(struct xfer *x, uint32_t f, uint32_t file, struct send ***prev);
void xfer_send_drop(struct xfer *x, struct send **prev);

#endif
