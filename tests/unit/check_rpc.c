/* rpc: pending requests, their ids, replies, drops, reconnects and deadlines. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"
#include "check_run.h"

static const uint8_t P[RPC_KEY_BYTES] = { 0x50, 1, 2, 3 }, Q[RPC_KEY_BYTES] = { 0x51, 1, 2, 3 };

/* What the done() callback saw. */
struct done_log {
	struct rpc_table *t;
	struct rpc_call *c[32];
	int err[32];
	int n;
};

static int linked(const struct rpc_table *t, const struct rpc_call *c)
{
	for (const struct rpc_call *p = t->head; p != NULL; p = p->next)
		if (p == c)
			return 1;
	return 0;
}

static size_t count_linked(const struct rpc_table *t)
{
	size_t n = 0;

	for (const struct rpc_call *p = t->head; p != NULL; p = p->next)
		n++;
	return n;
}

static void on_done(struct rpc_call *c, int err, void *ctx)
{
	struct done_log *l = ctx;

	ck_assert_int_lt(l->n, 32);
	/* handed over already unlinked, and the count already right */
	ck_assert(!linked(l->t, c));
	ck_assert_ptr_null(c->next);
	ck_assert_uint_eq(l->t->pending, count_linked(l->t));
	l->c[l->n] = c;
	l->err[l->n] = err;
	l->n++;
	c->err = err;
	c->done = 1;
}

static int logged(const struct done_log *l, const struct rpc_call *c)
{
	int hits = 0;

	for (int i = 0; i < l->n; i++)
		if (l->c[i] == c)
			hits++;
	return hits;
}

static void call(struct rpc_call *c, const uint8_t peer[RPC_KEY_BYTES], int flags,
		 int64_t deadline)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->peer, peer, RPC_KEY_BYTES);
	c->method = 1;
	c->flags = flags;
	c->deadline = deadline;
}

static void sent(struct rpc_call *c)
{
	c->phase = RPC_SENT;
	c->sends++;
}

START_TEST(test_ids)
{
	struct rpc_table t;
	struct rpc_call c[6];

	rpc_init(&t);
	ck_assert_ptr_null(t.head);
	ck_assert_uint_eq(t.pending, 0);
	ck_assert_uint_eq(t.unmatched, 0);
	for (int i = 0; i < 6; i++) {
		call(&c[i], i % 2 ? P : Q, 0, 1000);
		c[i].done = 1;
		c[i].phase = RPC_PARKED;
		rpc_add(&t, &c[i]);
		ck_assert_uint_ne(c[i].id, 0);
		if (i > 0)
			ck_assert(c[i].id > c[i - 1].id);
		ck_assert_int_eq(c[i].phase, RPC_QUEUED);
		ck_assert_int_eq(c[i].done, 0);
		ck_assert_uint_eq(t.pending, (size_t)i + 1);
		ck_assert(linked(&t, &c[i]));
	}
	ck_assert_uint_eq(count_linked(&t), 6);
	/* ids are not reused after calls leave */
	rpc_unlink(&t, &c[5]);
	rpc_unlink(&t, &c[0]);
	ck_assert_uint_eq(t.pending, 4);
	rpc_add(&t, &c[5]);
	ck_assert(c[5].id > c[4].id);
	rpc_unlink(&t, &c[5]);
	ck_assert_uint_eq(t.pending, 4);
	/* unlinking what is not linked changes nothing */
	rpc_unlink(&t, &c[5]);
	rpc_unlink(&t, &c[0]);
	ck_assert_uint_eq(t.pending, 4);
	ck_assert_uint_eq(count_linked(&t), 4);
	ck_assert_uint_eq(t.unmatched, 0);
}
END_TEST

START_TEST(test_match)
{
	struct rpc_table t;
	struct rpc_call s1, s2, queued, parked, q1;
	struct done_log l = { .t = &t };

	rpc_init(&t);
	call(&s1, P, 0, 1000);
	call(&s2, P, RPC_IDEMPOTENT, 1000);
	call(&queued, P, 0, 1000);
	call(&parked, P, RPC_IDEMPOTENT, 1000);
	call(&q1, Q, 0, 1000);
	rpc_add(&t, &s1);
	rpc_add(&t, &s2);
	rpc_add(&t, &queued);
	rpc_add(&t, &parked);
	rpc_add(&t, &q1);
	sent(&s1);
	sent(&s2);
	sent(&q1);
	parked.phase = RPC_PARKED;
	ck_assert_uint_eq(t.pending, 5);

	/* not sent yet, parked, unknown id, the right id from another peer */
	ck_assert_ptr_null(rpc_match(&t, P, queued.id));
	ck_assert_uint_eq(t.unmatched, 1);
	ck_assert_ptr_null(rpc_match(&t, P, parked.id));
	ck_assert_uint_eq(t.unmatched, 2);
	ck_assert_ptr_null(rpc_match(&t, P, q1.id + 100));
	ck_assert_uint_eq(t.unmatched, 3);
	ck_assert_ptr_null(rpc_match(&t, Q, s1.id));
	ck_assert_uint_eq(t.unmatched, 4);
	ck_assert_ptr_null(rpc_match(&t, P, q1.id));
	ck_assert_uint_eq(t.unmatched, 5);
	ck_assert_uint_eq(t.pending, 5);
	ck_assert_uint_eq(count_linked(&t), 5);

	/* the right one: unlinked, once */
	ck_assert_ptr_eq(rpc_match(&t, P, s1.id), &s1);
	ck_assert_ptr_null(s1.next);
	ck_assert(!linked(&t, &s1));
	ck_assert_uint_eq(t.pending, 4);
	ck_assert_uint_eq(t.unmatched, 5);
	ck_assert_ptr_null(rpc_match(&t, P, s1.id));
	ck_assert_uint_eq(t.unmatched, 6);
	ck_assert_uint_eq(t.pending, 4);
	ck_assert_ptr_eq(rpc_match(&t, Q, q1.id), &q1);
	ck_assert_ptr_eq(rpc_match(&t, P, s2.id), &s2);
	ck_assert_uint_eq(t.pending, 2);
	ck_assert_uint_eq(count_linked(&t), 2);
	/* once sent, the queued one matches too */
	sent(&queued);
	ck_assert_ptr_eq(rpc_match(&t, P, queued.id), &queued);
	ck_assert_uint_eq(t.pending, 1);
	ck_assert_uint_eq(t.unmatched, 6);
	ck_assert(linked(&t, &parked));
	rpc_fail_all(&t, -ECANCELED, on_done, &l);
	ck_assert_int_eq(l.n, 1);
	ck_assert_uint_eq(t.pending, 0);
}
END_TEST

START_TEST(test_peer_down_and_resume)
{
	struct rpc_table t;
	struct rpc_call n1, n2, i1, i2, q1, q2;
	struct done_log l = { .t = &t };

	rpc_init(&t);
	call(&n1, P, 0, 1000);
	call(&n2, P, 0, 1000);
	call(&i1, P, RPC_IDEMPOTENT, 1000);
	call(&i2, P, RPC_IDEMPOTENT, 1000);
	call(&q1, Q, 0, 1000);
	call(&q2, Q, RPC_IDEMPOTENT, 1000);
	rpc_add(&t, &n1);
	rpc_add(&t, &i1);
	rpc_add(&t, &q1);
	rpc_add(&t, &n2);
	rpc_add(&t, &i2);
	rpc_add(&t, &q2);
	sent(&n1);
	sent(&i1);
	sent(&q1);
	sent(&q2);	/* n2 and i2 still queued */
	ck_assert_uint_eq(t.pending, 6);

	rpc_peer_down(&t, P, 0, on_done, &l);
	ck_assert_int_eq(l.n, 2);
	ck_assert_int_eq(logged(&l, &n1), 1);
	ck_assert_int_eq(logged(&l, &n2), 1);
	ck_assert_int_eq(l.err[0], -ECONNRESET);
	ck_assert_int_eq(l.err[1], -ECONNRESET);
	ck_assert_int_eq(n1.err, -ECONNRESET);
	ck_assert(!linked(&t, &n1));
	ck_assert(!linked(&t, &n2));
	ck_assert_int_eq(i1.phase, RPC_PARKED);
	ck_assert_int_eq(i2.phase, RPC_PARKED);
	ck_assert(linked(&t, &i1));
	ck_assert(linked(&t, &i2));
	ck_assert_int_eq(q1.phase, RPC_SENT);
	ck_assert_int_eq(q2.phase, RPC_SENT);
	ck_assert(linked(&t, &q1));
	ck_assert(linked(&t, &q2));
	ck_assert_uint_eq(t.pending, 4);
	/* a late reply to a parked call is not accepted */
	ck_assert_ptr_null(rpc_match(&t, P, i1.id));
	ck_assert_uint_eq(t.unmatched, 1);
	ck_assert(linked(&t, &i1));
	/* a second drop: nothing more to fail */
	rpc_peer_down(&t, P, 0, on_done, &l);
	ck_assert_int_eq(l.n, 2);
	ck_assert_uint_eq(t.pending, 4);

	/* another peer back: nothing of P's moves */
	ck_assert_uint_eq(rpc_resume(&t, Q), 0);
	ck_assert_int_eq(q2.phase, RPC_SENT);
	ck_assert_int_eq(i1.phase, RPC_PARKED);
	ck_assert_uint_eq(rpc_resume(&t, P), 2);
	ck_assert_int_eq(i1.phase, RPC_QUEUED);
	ck_assert_int_eq(i2.phase, RPC_QUEUED);
	ck_assert_uint_eq(rpc_resume(&t, P), 0);
	ck_assert_uint_eq(t.pending, 4);
	ck_assert_int_eq(i1.id < i2.id, 1);	/* ids kept: a reply to the resend matches */
	sent(&i1);
	ck_assert_ptr_eq(rpc_match(&t, P, i1.id), &i1);
	ck_assert_uint_eq(t.pending, 3);

	/* Q drops: its non-idempotent call fails, the idempotent one parks */
	rpc_peer_down(&t, Q, 0, on_done, &l);
	ck_assert_int_eq(l.n, 3);
	ck_assert_ptr_eq(l.c[2], &q1);
	ck_assert_int_eq(l.err[2], -ECONNRESET);
	ck_assert_int_eq(q2.phase, RPC_PARKED);
	ck_assert_int_eq(i2.phase, RPC_QUEUED);
	ck_assert_uint_eq(t.pending, 2);
	ck_assert_uint_eq(count_linked(&t), 2);
}
END_TEST

START_TEST(test_peer_offline)
{
	struct rpc_table t;
	struct rpc_call n1, i1, i2, q1, q2;
	struct done_log l = { .t = &t };

	rpc_init(&t);
	call(&n1, P, 0, 1000);
	call(&i1, P, RPC_IDEMPOTENT, 1000);
	call(&i2, P, RPC_IDEMPOTENT, 1000);
	call(&q1, Q, 0, 1000);
	call(&q2, Q, RPC_IDEMPOTENT, 1000);
	rpc_add(&t, &i1);
	rpc_add(&t, &q1);
	rpc_add(&t, &q2);
	sent(&i1);
	sent(&q1);
	sent(&q2);
	rpc_peer_down(&t, P, 0, on_done, &l);	/* i1 parks */
	ck_assert_int_eq(l.n, 0);
	ck_assert_int_eq(i1.phase, RPC_PARKED);
	rpc_add(&t, &n1);
	rpc_add(&t, &i2);
	sent(&n1);	/* i2 stays queued */
	ck_assert_uint_eq(t.pending, 5);

	rpc_peer_down(&t, P, 1, on_done, &l);
	ck_assert_int_eq(l.n, 3);
	ck_assert_int_eq(logged(&l, &n1), 1);
	ck_assert_int_eq(logged(&l, &i1), 1);
	ck_assert_int_eq(logged(&l, &i2), 1);
	for (int i = 0; i < l.n; i++)
		ck_assert_int_eq(l.err[i], -EHOSTUNREACH);
	ck_assert_uint_eq(t.pending, 2);
	ck_assert(linked(&t, &q1));
	ck_assert(linked(&t, &q2));
	ck_assert_int_eq(q1.phase, RPC_SENT);
	ck_assert_int_eq(q2.phase, RPC_SENT);
	ck_assert_uint_eq(rpc_resume(&t, P), 0);
	/* offline again, or a peer with nothing pending: no calls */
	rpc_peer_down(&t, P, 1, on_done, &l);
	ck_assert_int_eq(l.n, 3);
	ck_assert_uint_eq(t.pending, 2);
	rpc_peer_down(&t, Q, 1, on_done, &l);
	ck_assert_int_eq(l.n, 5);
	ck_assert_int_eq(l.err[3], -EHOSTUNREACH);
	ck_assert_int_eq(l.err[4], -EHOSTUNREACH);
	ck_assert_uint_eq(t.pending, 0);
	ck_assert_ptr_null(t.head);
}
END_TEST

START_TEST(test_expire)
{
	struct rpc_table t;
	struct rpc_call c[6];
	static const int64_t deadline[6] = { 300, 100, 200, 200, 250, 201 };
	struct done_log l = { .t = &t };

	rpc_init(&t);
	for (int i = 0; i < 6; i++) {
		call(&c[i], i % 2 ? P : Q, i % 3 ? RPC_IDEMPOTENT : 0, deadline[i]);
		rpc_add(&t, &c[i]);
	}
	sent(&c[0]);
	sent(&c[1]);
	sent(&c[3]);
	rpc_peer_down(&t, Q, 0, on_done, &l);	/* c[2], c[4] park; c[0] fails */
	ck_assert_int_eq(l.n, 1);
	ck_assert_ptr_eq(l.c[0], &c[0]);
	ck_assert_int_eq(c[2].phase, RPC_PARKED);
	ck_assert_int_eq(c[4].phase, RPC_PARKED);
	l.n = 0;
	ck_assert_uint_eq(t.pending, 5);

	rpc_expire(&t, 99, on_done, &l);
	ck_assert_int_eq(l.n, 0);
	ck_assert_uint_eq(t.pending, 5);
	rpc_expire(&t, 200, on_done, &l);	/* 100, 200 (parked), 200 */
	ck_assert_int_eq(l.n, 3);
	ck_assert_int_eq(logged(&l, &c[1]), 1);
	ck_assert_int_eq(logged(&l, &c[2]), 1);
	ck_assert_int_eq(logged(&l, &c[3]), 1);
	for (int i = 0; i < l.n; i++)
		ck_assert_int_eq(l.err[i], -ETIMEDOUT);
	ck_assert_uint_eq(t.pending, 2);
	ck_assert(linked(&t, &c[4]));
	ck_assert(linked(&t, &c[5]));
	rpc_expire(&t, 200, on_done, &l);
	ck_assert_int_eq(l.n, 3);
	rpc_expire(&t, 201, on_done, &l);
	ck_assert_int_eq(l.n, 4);
	ck_assert_ptr_eq(l.c[3], &c[5]);
	ck_assert_uint_eq(t.pending, 1);
	rpc_expire(&t, 1000000, on_done, &l);
	ck_assert_int_eq(l.n, 5);
	ck_assert_ptr_eq(l.c[4], &c[4]);
	ck_assert_int_eq(l.err[4], -ETIMEDOUT);
	ck_assert_uint_eq(t.pending, 0);
	ck_assert_ptr_null(t.head);
}
END_TEST

/* progress(): P's reply last made progress at progress_p, Q's never. */
static int64_t progress_p;

static int64_t progress(const uint8_t *peer, void *ctx)
{
	(void)ctx;
	return memcmp(peer, P, RPC_KEY_BYTES) == 0 ? progress_p : 0;
}

START_TEST(test_extend)
{
	struct rpc_table t;
	struct rpc_call a, b, q, idle;
	struct done_log l = { .t = &t };

	rpc_init(&t);
	call(&a, P, RPC_IDEMPOTENT, 0);
	call(&b, P, 0, 0);
	call(&q, Q, 0, 0);
	call(&idle, P, 0, 0);
	rpc_set_timeout(&a, 0, 100);	/* deadline 100, limit 1000 */
	rpc_set_timeout(&b, 0, 100);
	rpc_set_timeout(&q, 0, 100);
	rpc_set_timeout(&idle, 0, 100);
	ck_assert_int_eq(a.deadline, 100);
	ck_assert_int_eq(a.limit, 100 * RPC_LIMIT_TIMES);
	rpc_add(&t, &a);
	rpc_add(&t, &b);
	rpc_add(&t, &q);
	rpc_add(&t, &idle);
	sent(&a);
	sent(&b);
	sent(&q);	/* idle stays queued: not sent, not extended */
	/* bytes from P at 90: P's sent calls live until 190; Q's fails */
	progress_p = 90;
	rpc_extend(&t, 100, progress, NULL);
	rpc_expire(&t, 100, on_done, &l);
	ck_assert_int_eq(l.n, 2);
	ck_assert_int_eq(logged(&l, &q), 1);
	ck_assert_int_eq(logged(&l, &idle), 1);
	ck_assert_int_eq(a.deadline, 190);
	ck_assert_int_eq(b.deadline, 190);
	/* no progress since: they fail at 190 unless bytes came */
	rpc_extend(&t, 150, progress, NULL);
	ck_assert_int_eq(a.deadline, 190);
	progress_p = 185;
	rpc_extend(&t, 190, progress, NULL);
	rpc_expire(&t, 190, on_done, &l);
	ck_assert_int_eq(l.n, 2);
	ck_assert_int_eq(a.deadline, 285);
	/* progress that is older than a timeout does not count */
	progress_p = 150;
	rpc_extend(&t, 285, progress, NULL);
	ck_assert_int_eq(a.deadline, 285);
	/* never past the limit, however steady the progress */
	for (int64_t now = 285; now <= 1035; now += 50) {
		progress_p = now;
		rpc_extend(&t, now, progress, NULL);
		rpc_expire(&t, now, on_done, &l);
		ck_assert_int_le(a.deadline, 1000);
	}
	ck_assert_int_eq(l.n, 4);
	ck_assert_int_eq(logged(&l, &a), 1);
	ck_assert_int_eq(logged(&l, &b), 1);
	ck_assert_uint_eq(t.pending, 0);
}
END_TEST

START_TEST(test_fail_all)
{
	struct rpc_table t;
	struct rpc_call c[5], d;
	struct done_log l = { .t = &t };
	uint64_t last;

	rpc_init(&t);
	rpc_fail_all(&t, -ESHUTDOWN, on_done, &l);	/* empty: fine */
	ck_assert_int_eq(l.n, 0);
	for (int i = 0; i < 5; i++) {
		call(&c[i], i % 2 ? P : Q, i % 2 ? RPC_IDEMPOTENT : 0, 1000 + i);
		rpc_add(&t, &c[i]);
	}
	sent(&c[0]);
	sent(&c[1]);
	rpc_peer_down(&t, P, 0, on_done, &l);	/* c[1], c[3] park */
	ck_assert_int_eq(l.n, 0);
	last = c[4].id;
	rpc_fail_all(&t, -ESHUTDOWN, on_done, &l);
	ck_assert_int_eq(l.n, 5);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(logged(&l, &c[i]), 1);
		ck_assert_int_eq(c[i].err, -ESHUTDOWN);
		ck_assert_int_eq(c[i].done, 1);
	}
	ck_assert_uint_eq(t.pending, 0);
	ck_assert_ptr_null(t.head);
	ck_assert_ptr_null(rpc_match(&t, Q, c[0].id));
	ck_assert_uint_eq(t.unmatched, 1);
	/* the table goes on: fresh ids */
	call(&d, P, 0, 1);
	rpc_add(&t, &d);
	ck_assert(d.id > last);
	ck_assert_uint_eq(t.pending, 1);
	rpc_unlink(&t, &d);
	ck_assert_uint_eq(t.pending, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rpc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_ids);
	tcase_add_test(tc, test_match);
	tcase_add_test(tc, test_peer_down_and_resume);
	tcase_add_test(tc, test_peer_offline);
	tcase_add_test(tc, test_expire);
	tcase_add_test(tc, test_extend);
	tcase_add_test(tc, test_fail_all);
	suite_add_tcase(s, tc);
	return check_run(s);
}
