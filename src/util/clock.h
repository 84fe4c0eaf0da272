/*
 * clock: the hybrid logical clock that orders versions.  A timestamp is a
 * uint64_t: milliseconds since the epoch in the top 48 bits, a logical
 * counter in the low 16.  It never goes backwards, even if the wall clock
 * does, and clock_observe() folds in timestamps seen from other nodes so
 * skewed clocks cannot make a later change look older.  The wall clock is
 * passed in, so tests are deterministic.  Thread safe.
 */
#ifndef OAND_CLOCK_H
#define OAND_CLOCK_H

#include <stdint.h>

struct clock;
/* Returns wall time in milliseconds since the epoch. */
typedef uint64_t (*clock_wall_fn)(void *ctx);

#define CLOCK_LOGICAL_BITS 16

struct clock *clock_new(clock_wall_fn wall, void *ctx);	/* wall NULL: real time */
void clock_free(struct clock *c);
/* A new timestamp, greater than every one returned or observed before. */
uint64_t clock_now(struct clock *c);
/* Fold in a timestamp from elsewhere (a peer, or the database at start). */
void clock_observe(struct clock *c, uint64_t ts);
/* The wall clock (CLOCK_REALTIME) since the epoch, in ms and in ns. */
int64_t clock_wall_ms(void);
int64_t clock_wall_ns(void);
/* Milliseconds part of a timestamp. */
static inline uint64_t clock_ms(uint64_t ts) { return ts >> CLOCK_LOGICAL_BITS; }

#endif
