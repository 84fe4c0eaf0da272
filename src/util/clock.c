#include "clock.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct clock {
	pthread_mutex_t lock;	/* guards last */
	uint64_t last;
	clock_wall_fn wall;
	void *ctx;
};

static uint64_t wall_real(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t clock_wall_ms(void)
{
	return (int64_t)wall_real(NULL);
}

int64_t clock_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct clock *clock_new(clock_wall_fn wall, void *ctx)
{
	struct clock *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->wall = wall ? wall : wall_real;
	c->ctx = ctx;
	return c;
}

void clock_free(struct clock *c)
{
	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}

uint64_t clock_now(struct clock *c)
{
	uint64_t phys = c->wall(c->ctx) << CLOCK_LOGICAL_BITS, ts;

	pthread_mutex_lock(&c->lock);
	/* Logical overflow simply carries into the millisecond part. */
	ts = phys > c->last ? phys : c->last + 1;
	c->last = ts;
	pthread_mutex_unlock(&c->lock);
	return ts;
}

void clock_observe(struct clock *c, uint64_t ts)
{
	pthread_mutex_lock(&c->lock);
	if (ts > c->last)
		c->last = ts;
	pthread_mutex_unlock(&c->lock);
}
