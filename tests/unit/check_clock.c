/*
 * Unit tests for src/util/clock, the hybrid logical clock.  The wall clock is
 * injected, so every value here is exact: timestamps follow the wall clock
 * when it moves forward, count up in the logical bits when it stands still
 * or goes backwards, and jump past anything observed from elsewhere.
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "check_run.h"

struct fake_wall {
	uint64_t ms;
	int calls;
};

static uint64_t fake_wall_fn(void *ctx)
{
	struct fake_wall *w = ctx;

	w->calls++;
	return w->ms;
}

#define TS(ms, logical) (((uint64_t)(ms) << CLOCK_LOGICAL_BITS) | (uint64_t)(logical))

START_TEST(test_follows_wall_clock)
{
	struct fake_wall w = { 1000, 0 };
	struct clock *c = clock_new(fake_wall_fn, &w);
	uint64_t t;

	ck_assert_ptr_nonnull(c);
	t = clock_now(c);
	ck_assert_uint_eq(t, TS(1000, 0));
	ck_assert_uint_eq(clock_ms(t), 1000);
	ck_assert_int_gt(w.calls, 0);
	w.ms = 2500;
	t = clock_now(c);
	ck_assert_uint_eq(t, TS(2500, 0));
	ck_assert_uint_eq(clock_ms(t), 2500);
	clock_free(c);
}
END_TEST

/* Within one millisecond the logical counter orders the timestamps. */
START_TEST(test_logical_counter)
{
	struct fake_wall w = { 5000, 0 };
	struct clock *c = clock_new(fake_wall_fn, &w);
	uint64_t prev = clock_now(c);

	ck_assert_uint_eq(prev, TS(5000, 0));
	for (int i = 1; i <= 1000; i++) {
		uint64_t t = clock_now(c);

		ck_assert_uint_eq(t, TS(5000, i));
		ck_assert_uint_eq(clock_ms(t), 5000);
		ck_assert_uint_gt(t, prev);
		prev = t;
	}
	/* the wall clock moving on resets the counter */
	w.ms = 5001;
	ck_assert_uint_eq(clock_now(c), TS(5001, 0));
	clock_free(c);
}
END_TEST

START_TEST(test_wall_clock_goes_backwards)
{
	struct fake_wall w = { 10000, 0 };
	struct clock *c = clock_new(fake_wall_fn, &w);
	uint64_t t1, t2, t3, t4;

	t1 = clock_now(c);
	w.ms = 4000;		/* NTP step back by six seconds */
	t2 = clock_now(c);
	ck_assert_uint_gt(t2, t1);
	ck_assert_uint_eq(clock_ms(t2), 10000);
	ck_assert_uint_eq(t2, TS(10000, 1));
	w.ms = 0;
	t3 = clock_now(c);
	ck_assert_uint_gt(t3, t2);
	/* once the wall clock passes the last timestamp it is followed again */
	w.ms = 10001;
	t4 = clock_now(c);
	ck_assert_uint_eq(t4, TS(10001, 0));
	ck_assert_uint_gt(t4, t3);
	clock_free(c);
}
END_TEST

/* A long run against a wall clock that jumps around never repeats. */
START_TEST(test_monotonic_random_wall)
{
	struct fake_wall w = { 1000000000, 0 };
	struct clock *c = clock_new(fake_wall_fn, &w);
	uint64_t prev = 0;
	unsigned seed = 12345;

	for (int i = 0; i < 100000; i++) {
		uint64_t t;

		seed = seed * 1103515245u + 12345u;
		/* mostly small steps forward, sometimes back by up to a second */
		if ((seed >> 16) % 10 == 0)
			w.ms -= (seed >> 8) % 1000;
		else
			w.ms += (seed >> 20) % 3;
		t = clock_now(c);
		ck_assert_uint_gt(t, prev);
		ck_assert_uint_ge(clock_ms(t), 1);
		prev = t;
	}
	clock_free(c);
}
END_TEST

/* The counter overflowing carries into the milliseconds, still increasing. */
START_TEST(test_logical_overflow_carries)
{
	struct fake_wall w = { 700, 0 };
	struct clock *c = clock_new(fake_wall_fn, &w);
	uint64_t max_logical = (1u << CLOCK_LOGICAL_BITS) - 1, t;

	clock_observe(c, TS(700, max_logical));
	t = clock_now(c);
	ck_assert_uint_eq(t, TS(701, 0));
	ck_assert_uint_gt(t, TS(700, max_logical));
	clock_free(c);
}
END_TEST

START_TEST(test_observe_larger_remote)
{
	struct fake_wall w = { 2000, 0 };
	struct clock *c = clock_new(fake_wall_fn, &w);
	uint64_t local = clock_now(c), remote = TS(9000, 7), t;

	ck_assert_uint_lt(local, remote);
	clock_observe(c, remote);
	t = clock_now(c);
	/* a peer whose clock runs ahead cannot make our next change look older */
	ck_assert_uint_gt(t, remote);
	ck_assert_uint_eq(t, TS(9000, 8));
	ck_assert_uint_gt(clock_now(c), t);
	clock_free(c);
}
END_TEST

START_TEST(test_observe_smaller_remote)
{
	struct fake_wall w = { 3000, 0 };
	struct clock *c = clock_new(fake_wall_fn, &w);
	uint64_t t1 = clock_now(c), t2;

	clock_observe(c, TS(100, 5));
	clock_observe(c, 0);
	t2 = clock_now(c);
	ck_assert_uint_eq(t2, t1 + 1);
	w.ms = 3001;
	ck_assert_uint_eq(clock_now(c), TS(3001, 0));
	clock_free(c);
}
END_TEST

/* NULL wall clock: real time in milliseconds. */
START_TEST(test_real_wall_clock)
{
	struct clock *c = clock_new(NULL, NULL);
	uint64_t before = (uint64_t)time(NULL) * 1000, t1, t2, after;

	ck_assert_ptr_nonnull(c);
	t1 = clock_now(c);
	t2 = clock_now(c);
	after = ((uint64_t)time(NULL) + 1) * 1000;
	ck_assert_uint_gt(t2, t1);
	ck_assert_uint_ge(clock_ms(t1), before);
	ck_assert_uint_le(clock_ms(t2), after);
	clock_free(c);
	clock_free(NULL);
}
END_TEST

struct thread_arg {
	struct clock *c;
	uint64_t *out;
	int n;
};

static void *grab(void *p)
{
	struct thread_arg *a = p;

	for (int i = 0; i < a->n; i++)
		a->out[i] = clock_now(a->c);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Concurrent callers never get the same timestamp. */
START_TEST(test_threads_unique)
{
	enum { THREADS = 4, EACH = 20000 };
	static uint64_t all[THREADS * EACH];
	struct clock *c = clock_new(NULL, NULL);
	pthread_t th[THREADS];
	struct thread_arg args[THREADS];

	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct thread_arg){ c, all + i * EACH, EACH };
		ck_assert_int_eq(pthread_create(&th[i], NULL, grab, &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < THREADS; i++)
		for (int j = 1; j < EACH; j++)
			ck_assert_uint_gt(all[i * EACH + j], all[i * EACH + j - 1]);
	qsort(all, THREADS * EACH, sizeof(all[0]), cmp_u64);
	for (int i = 1; i < THREADS * EACH; i++)
		ck_assert_uint_ne(all[i], all[i - 1]);
	clock_free(c);
}
END_TEST

static Suite *clock_suite(void)
{
	Suite *s = suite_create("clock");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_follows_wall_clock);
	tcase_add_test(tc, test_logical_counter);
	tcase_add_test(tc, test_wall_clock_goes_backwards);
	tcase_add_test(tc, test_monotonic_random_wall);
	tcase_add_test(tc, test_logical_overflow_carries);
	tcase_add_test(tc, test_observe_larger_remote);
	tcase_add_test(tc, test_observe_smaller_remote);
	tcase_add_test(tc, test_real_wall_clock);
	tcase_add_test(tc, test_threads_unique);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(clock_suite());
}
