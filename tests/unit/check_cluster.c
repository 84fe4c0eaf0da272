/* cluster: the member table, its state rules, the heartbeat and its refusals. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "check_run.h"

#define HB 1000			/* heartbeat interval, ms */
#define FORGET 60000		/* forget-after, ms */
#define NOW 1700000000000LL	/* a wall clock in ms */

/* The heartbeat layout, written here independently of the encoder. */
#define H_HEADER 3
#define H_FIXED (CLUSTER_ADDR_BYTES + 1 + 1 + 8 + 8 + 8 + 1 + 1)
#define H_FLAGS CLUSTER_ADDR_BYTES
#define H_HOPS (CLUSTER_ADDR_BYTES + 1)
#define H_SEQ (CLUSTER_ADDR_BYTES + 2)
#define H_AGE (CLUSTER_ADDR_BYTES + 10)
#define H_FIRST (CLUSTER_ADDR_BYTES + 18)
#define H_NAME_LEN (CLUSTER_ADDR_BYTES + 26)

/* A pseudo-random address for a seed: distinct keys, no order by seed. */
static void mkaddr(uint8_t addr[CLUSTER_ADDR_BYTES], unsigned seed)
{
	uint32_t x = seed * 2654435761u + 0x9e3779b9u;

	for (int i = 0; i < CLUSTER_ADDR_BYTES; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		addr[i] = (uint8_t)(x >> 24);
	}
}

struct hb {
	uint8_t buf[(CLUSTER_MAX + 2) * (H_FIXED + 16) + H_HEADER];
	size_t len;
	unsigned count;
};

static void hb_begin(struct hb *h)
{
	memset(h, 0, sizeof(*h));
	h->buf[0] = 1;
	h->len = H_HEADER;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Append an entry; returns its offset in the buffer. */
static size_t hb_entry(struct hb *h, const uint8_t addr[CLUSTER_ADDR_BYTES], uint8_t flags,
		       uint8_t hops, uint64_t seq, uint64_t age, uint64_t first,
		       const char *name, const char *server)
{
	size_t at = h->len, nl = strlen(name), sl = strlen(server);
	uint8_t *p = h->buf + at;

	ck_assert_uint_lt(at + H_FIXED + nl + sl, sizeof(h->buf));
	memcpy(p, addr, CLUSTER_ADDR_BYTES);
	p[H_FLAGS] = flags;
	p[H_HOPS] = hops;
	put_u64(p + H_SEQ, seq);
	put_u64(p + H_AGE, age);
	put_u64(p + H_FIRST, first);
	p[H_NAME_LEN] = (uint8_t)nl;
	memcpy(p + H_NAME_LEN + 1, name, nl);
	p[H_NAME_LEN + 1 + nl] = (uint8_t)sl;
	memcpy(p + H_NAME_LEN + 2 + nl, server, sl);
	h->len = at + H_FIXED + nl + sl;
	h->count++;
	h->buf[1] = (uint8_t)h->count;
	h->buf[2] = (uint8_t)(h->count >> 8);
	return at;
}

/* A copy of a table, to prove a refused heartbeat changed nothing. */
struct snap {
	size_t n;
	struct cluster_member *m;
};

static struct snap snap_take(const struct cluster *c)
{
	struct snap s = { .n = c->n, .m = malloc(c->n * sizeof(*c->m)) };

	ck_assert_ptr_nonnull(s.m);
	memcpy(s.m, c->m, c->n * sizeof(*c->m));
	return s;
}

static void snap_same(const struct snap *s, const struct cluster *c)
{
	ck_assert_uint_eq(c->n, s->n);
	ck_assert_int_eq(memcmp(c->m, s->m, s->n * sizeof(*s->m)), 0);
}

static void snap_free(struct snap *s)
{
	free(s->m);
}

/* Merge that must be refused and must leave c exactly as it was. */
static void refused(struct cluster *c, const uint8_t *from, const uint8_t *buf, size_t len)
{
	struct snap s = snap_take(c);
	int self_removed = 7;

	ck_assert_int_eq(cluster_merge(c, from, buf, len, NOW, &self_removed), -EBADMSG);
	ck_assert_int_eq(self_removed, 0);
	snap_same(&s, c);
	snap_free(&s);
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Offset of pk's entry in an encoded heartbeat; 0 when it has none. */
static size_t hb_find(const uint8_t *buf, size_t len, const uint8_t *pk)
{
	size_t at = H_HEADER, count = (size_t)buf[1] | (size_t)buf[2] << 8;

	ck_assert_uint_ge(len, H_HEADER);
	for (size_t i = 0; i < count; i++) {
		size_t nl, sl;

		ck_assert_uint_le(at + H_FIXED, len);
		if (memcmp(buf + at, pk, CLUSTER_KEY_BYTES) == 0)
			return at;
		nl = buf[at + H_NAME_LEN];
		sl = buf[at + H_NAME_LEN + 1 + nl];
		at += H_FIXED + nl + sl;
	}
	ck_assert_uint_eq(at, len);
	return 0;
}

/* from sends its heartbeat at sent (its clock); to takes it at got (its clock). */
static void relay(const struct cluster *from, struct cluster *to, int64_t sent, int64_t got)
{
	uint8_t *buf;
	size_t len;
	int sr = 7;

	ck_assert_int_eq(cluster_encode(from, sent, &buf, &len), 0);
	ck_assert_int_eq(cluster_merge(to, from->m[0].addr, buf, len, got, &sr), buf[1] | buf[2] << 8);
	ck_assert_int_eq(sr, 0);
	free(buf);
}

/* The state of evidence heard at last over hops, at now, by the documented rule. */
static enum cluster_state expected(int64_t last, int hops, int64_t now)
{
	int64_t age = now - last, slack = (int64_t)hops * HB;

	return age <= HB * 3 / 2 + slack ? CL_ONLINE : age <= 2 * HB + slack ? CL_STALE : CL_OFFLINE;
}

START_TEST(test_init)
{
	struct cluster c;
	uint8_t a[CLUSTER_ADDR_BYTES];

	mkaddr(a, 1);
	ck_assert_int_eq(cluster_init(&c, a, "alpha", "10.0.0.1:8080", HB, FORGET, NOW), 0);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_int_eq(c.hb_ms, HB);
	ck_assert_int_eq(c.forget_ms, FORGET);
	ck_assert_int_eq(c.m[0].self, 1);
	ck_assert_mem_eq(c.m[0].addr, a, CLUSTER_ADDR_BYTES);
	ck_assert_str_eq(c.m[0].name, "alpha");
	ck_assert_str_eq(c.m[0].server, "10.0.0.1:8080");
	ck_assert_int_eq(c.m[0].first_seen, NOW);
	ck_assert_int_eq(c.m[0].last_hb, NOW);
	/* heartbeat numbers start from the clock: above those of any earlier run */
	ck_assert_uint_eq(c.m[0].hb_seq, (uint64_t)NOW * 1000);
	ck_assert_int_eq(c.m[0].removed, 0);
	ck_assert_ptr_eq(cluster_find(&c, a), &c.m[0]);
	/* this node is online whatever the clock says */
	ck_assert_int_eq(cluster_state(&c, &c.m[0], NOW), CL_ONLINE);
	ck_assert_int_eq(cluster_state(&c, &c.m[0], NOW + 1000LL * HB), CL_ONLINE);
	ck_assert_str_eq(cluster_state_name(CL_ONLINE), "online");
	ck_assert_str_eq(cluster_state_name(CL_STALE), "stale");
	ck_assert_str_eq(cluster_state_name(CL_OFFLINE), "offline");
	ck_assert_str_eq(cluster_state_name(CL_REMOVED), "removed");
	cluster_free(&c);
	ck_assert_ptr_null(c.m);
	ck_assert_uint_eq(c.n, 0);
	/* a clock at or before the epoch starts at 0 */
	ck_assert_int_eq(cluster_init(&c, a, "alpha", "", HB, FORGET, 0), 0);
	ck_assert_uint_eq(c.m[0].hb_seq, 0);
	cluster_free(&c);
	ck_assert_int_eq(cluster_init(&c, a, "alpha", "", HB, FORGET, -5), 0);
	ck_assert_uint_eq(c.m[0].hb_seq, 0);
	cluster_free(&c);
}
END_TEST

START_TEST(test_add_find_update)
{
	struct cluster c;
	struct cluster_member *m;
	uint8_t a[CLUSTER_ADDR_BYTES], b[CLUSTER_ADDR_BYTES], b2[CLUSTER_ADDR_BYTES],
		x[CLUSTER_ADDR_BYTES];
	char longname[400];

	mkaddr(a, 1);
	mkaddr(b, 2);
	mkaddr(x, 99);
	ck_assert_int_eq(cluster_init(&c, a, "alpha", "", HB, FORGET, NOW), 0);
	ck_assert_ptr_null(cluster_find(&c, b));
	m = cluster_add(&c, b, "bravo", "10.0.0.2:80", 5000);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_int_eq(m->self, 0);
	ck_assert_int_eq(m->last_hb, 0);
	ck_assert_int_eq(m->first_seen, 5000);
	ck_assert_str_eq(m->name, "bravo");
	ck_assert_str_eq(m->server, "10.0.0.2:80");
	ck_assert_ptr_eq(cluster_find(&c, b), m);
	ck_assert_ptr_null(cluster_find(&c, x));
	/* never heard of: offline */
	ck_assert_int_eq(cluster_state(&c, m, NOW), CL_OFFLINE);

	/* the same key with another nospam/checksum: the same member, updated */
	memcpy(b2, b, sizeof(b2));
	b2[CLUSTER_ADDR_BYTES - 1] ^= 0xff;
	b2[CLUSTER_KEY_BYTES] ^= 0x55;
	ck_assert_ptr_eq(cluster_find(&c, b2), m);
	m = cluster_add(&c, b2, "bravo-2", "10.0.0.22:81", 3000);
	ck_assert_ptr_eq(m, &c.m[1]);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_mem_eq(m->addr, b2, CLUSTER_ADDR_BYTES);
	ck_assert_str_eq(m->name, "bravo-2");
	ck_assert_str_eq(m->server, "10.0.0.22:81");
	ck_assert_int_eq(m->first_seen, 3000);	/* the earlier report */
	m = cluster_add(&c, b, NULL, NULL, 9000);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_str_eq(m->name, "bravo-2");	/* NULL keeps what is known */
	ck_assert_str_eq(m->server, "10.0.0.22:81");
	ck_assert_int_eq(m->first_seen, 3000);	/* a later report does not move it */
	ck_assert_mem_eq(m->addr, b, CLUSTER_ADDR_BYTES);

	/* an overlong name is cut to the limit, NUL-terminated */
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	m = cluster_add(&c, b, longname, longname, 0);
	ck_assert_uint_eq(strlen(m->name), CLUSTER_NAME_MAX);
	ck_assert_uint_eq(strlen(m->server), CLUSTER_SERVER_MAX);

	/* the table stops at CLUSTER_MAX */
	for (unsigned i = 1000; c.n < CLUSTER_MAX; i++) {
		size_t before = c.n;

		mkaddr(x, i);
		ck_assert_ptr_nonnull(cluster_add(&c, x, "m", "", NOW));
		ck_assert_uint_eq(c.n, before + 1);
	}
	mkaddr(x, 99);
	ck_assert_ptr_null(cluster_add(&c, x, "one too many", "", NOW));
	ck_assert_uint_eq(c.n, CLUSTER_MAX);
	/* but an update of a known member still works when full */
	ck_assert_ptr_eq(cluster_add(&c, b, "bravo-3", NULL, 0), cluster_find(&c, b));
	ck_assert_str_eq(cluster_find(&c, b)->name, "bravo-3");
	ck_assert_ptr_eq(cluster_find(&c, a), &c.m[0]);
	ck_assert_int_eq(c.m[0].self, 1);
	cluster_free(&c);
}
END_TEST

/* Loop over hops 0..3: heard at t, online until t+1.5hb+hops*hb, stale until t+2hb+hops*hb. */
START_TEST(test_state_thresholds)
{
	struct cluster c;
	struct cluster_member *m;
	uint8_t a[CLUSTER_ADDR_BYTES], b[CLUSTER_ADDR_BYTES];
	const int64_t t = NOW, slack = (int64_t)_i * HB;

	mkaddr(a, 1);
	mkaddr(b, 2);
	ck_assert_int_eq(cluster_init(&c, a, "alpha", "", HB, FORGET, t - 100000), 0);
	m = cluster_add(&c, b, "bravo", "", t - 100000);
	cluster_heard(m, t);
	ck_assert_int_eq(m->last_hb, t);
	ck_assert_int_eq(m->hops, 0);
	m->hops = (int)_i;	/* as if relayed that far */
	ck_assert_int_eq(cluster_state(&c, m, t), CL_ONLINE);
	ck_assert_int_eq(cluster_state(&c, m, t + HB), CL_ONLINE);
	ck_assert_int_eq(cluster_state(&c, m, t + HB * 3 / 2 + slack), CL_ONLINE);
	ck_assert_int_eq(cluster_state(&c, m, t + HB * 3 / 2 + slack + 1), CL_STALE);
	ck_assert_int_eq(cluster_state(&c, m, t + 2 * HB + slack), CL_STALE);
	ck_assert_int_eq(cluster_state(&c, m, t + 2 * HB + slack + 1), CL_OFFLINE);
	ck_assert_int_eq(cluster_state(&c, m, t + 100LL * HB), CL_OFFLINE);

	/* fresher direct evidence: back online, hops reset */
	cluster_heard(m, t + 5000);
	ck_assert_int_eq(m->last_hb, t + 5000);
	ck_assert_int_eq(m->hops, 0);
	ck_assert_int_eq(cluster_state(&c, m, t + 5000 + HB * 3 / 2), CL_ONLINE);
	ck_assert_int_eq(cluster_state(&c, m, t + 5000 + HB * 3 / 2 + 1), CL_STALE);
	/* older evidence changes nothing */
	cluster_heard(m, t + 10);
	ck_assert_int_eq(m->last_hb, t + 5000);
	cluster_free(&c);
}
END_TEST

START_TEST(test_down)
{
	struct cluster c;
	struct cluster_member *m;
	uint8_t a[CLUSTER_ADDR_BYTES], b[CLUSTER_ADDR_BYTES], x[CLUSTER_ADDR_BYTES];
	struct hb h;
	int sr;
	const int64_t t = NOW;

	mkaddr(a, 1);
	mkaddr(b, 2);
	mkaddr(x, 3);
	ck_assert_int_eq(cluster_init(&c, a, "alpha", "", HB, FORGET, t - 100000), 0);
	m = cluster_add(&c, b, "bravo", "", t - 100000);
	cluster_heard(m, t);
	m->direct = 1;
	cluster_down(m, t + 100);
	ck_assert_int_eq(m->direct, 0);
	/* offline at once, although the evidence is young */
	ck_assert_int_eq(cluster_state(&c, m, t + 100), CL_OFFLINE);
	ck_assert_int_eq(cluster_state(&c, m, t + 200), CL_OFFLINE);
	/* newer direct evidence brings it back */
	cluster_heard(m, t + 300);
	ck_assert_int_eq(cluster_state(&c, m, t + 300), CL_ONLINE);
	/* a drop in the same millisecond as the evidence wins */
	cluster_down(m, t + 300);
	ck_assert_int_eq(cluster_state(&c, m, t + 300), CL_OFFLINE);
	cluster_heard(m, t + 301);
	ck_assert_int_eq(cluster_state(&c, m, t + 301), CL_ONLINE);

	/* relayed evidence: only newer than the drop counts */
	cluster_down(m, t + 400);
	ck_assert_int_eq(cluster_state(&c, m, t + 400), CL_OFFLINE);
	hb_begin(&h);
	hb_entry(&h, x, 0, 0, 1, 0, (uint64_t)(t - 100000), "xray", "");
	hb_entry(&h, b, 0, 0, 1, 200, (uint64_t)(t - 100000), "bravo", "");	/* heard at t+300 */
	ck_assert_int_eq(cluster_merge(&c, x, h.buf, h.len, t + 500, &sr), 2);
	ck_assert_int_eq(cluster_state(&c, m, t + 500), CL_OFFLINE);
	hb_begin(&h);
	hb_entry(&h, x, 0, 0, 1, 0, (uint64_t)(t - 100000), "xray", "");
	hb_entry(&h, b, 0, 0, 2, 50, (uint64_t)(t - 100000), "bravo", "");	/* heard at t+550 */
	ck_assert_int_eq(cluster_merge(&c, x, h.buf, h.len, t + 600, &sr), 2);
	ck_assert_int_eq(m->last_hb, t + 550);
	ck_assert_int_eq(m->hops, 1);
	ck_assert_int_eq(cluster_state(&c, m, t + 600), CL_ONLINE);
	ck_assert_ptr_nonnull(cluster_find(&c, x));	/* the relay, learnt */
	cluster_free(&c);
}
END_TEST

START_TEST(test_encode_layout)
{
	struct cluster c;
	struct cluster_member *m;
	uint8_t a[CLUSTER_ADDR_BYTES], b[CLUSTER_ADDR_BYTES], d[CLUSTER_ADDR_BYTES], *buf;
	size_t len;
	struct hb h;
	static const uint8_t self_entry[] = {
		0x00, 0x00,					/* flags, hops */
		0xc0, 0xf4, 0xd1, 0x17, 0x24, 0x0a, 0x06, 0x00,	/* seq (NOW-5000)*1000 */
		0, 0, 0, 0, 0, 0, 0, 0,				/* age */
		0x78, 0x54, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00,	/* first seen NOW-5000 */
		5, 'a', 'l', 'p', 'h', 'a', 3, 'h', ':', '1',
	};

	mkaddr(a, 1);
	mkaddr(b, 2);
	mkaddr(d, 4);
	ck_assert_int_eq(cluster_init(&c, a, "alpha", "h:1", HB, FORGET, NOW - 5000), 0);
	cluster_heard(&c.m[0], NOW);	/* the self entry says age 0 anyway */
	/* a member never heard of is not gossiped */
	ck_assert_ptr_nonnull(cluster_add(&c, b, "bravo", "", NOW));
	ck_assert_int_eq(cluster_encode(&c, NOW + 777, &buf, &len), 0);
	hb_begin(&h);
	hb_entry(&h, a, 0, 0, (uint64_t)(NOW - 5000) * 1000, 0, (uint64_t)(NOW - 5000), "alpha",
		 "h:1");
	ck_assert_uint_eq(len, h.len);
	ck_assert_mem_eq(buf, h.buf, len);
	/* the bytes themselves, little-endian, not only the builder's idea of them */
	ck_assert_uint_eq(len, H_HEADER + CLUSTER_ADDR_BYTES + sizeof(self_entry));
	ck_assert_int_eq(buf[0], 1);
	ck_assert_int_eq(buf[1], 1);
	ck_assert_int_eq(buf[2], 0);
	ck_assert_mem_eq(buf + H_HEADER, a, CLUSTER_ADDR_BYTES);
	ck_assert_mem_eq(buf + H_HEADER + CLUSTER_ADDR_BYTES, self_entry, sizeof(self_entry));
	free(buf);

	/* a relayed member: its hops, its own heartbeat number, the age of the evidence */
	m = cluster_add(&c, d, "delta", "d:4", NOW - 9000);
	m->last_hb = NOW - 300;
	m->hops = 2;
	m->hb_seq = 0x0102030405060708ULL;
	ck_assert_int_eq(cluster_encode(&c, NOW + 777, &buf, &len), 0);
	hb_entry(&h, d, 0, 2, 0x0102030405060708ULL, 1077, (uint64_t)(NOW - 9000), "delta", "d:4");
	ck_assert_uint_eq(len, h.len);
	ck_assert_mem_eq(buf, h.buf, len);
	free(buf);
	cluster_free(&c);
}
END_TEST

START_TEST(test_roundtrip)
{
	struct cluster A, B;
	struct cluster_member *m;
	uint8_t a[CLUSTER_ADDR_BYTES], b[CLUSTER_ADDR_BYTES], c[CLUSTER_ADDR_BYTES],
		d[CLUSTER_ADDR_BYTES], e[CLUSTER_ADDR_BYTES], f[CLUSTER_ADDR_BYTES],
		g[CLUSTER_ADDR_BYTES], h7[CLUSTER_ADDR_BYTES], h8[CLUSTER_ADDR_BYTES], *buf;
	size_t len;
	int sr;
	const int64_t ta = NOW, tb = NOW + 3600000;	/* B's clock is an hour ahead */

	mkaddr(a, 1);
	mkaddr(b, 2);
	mkaddr(c, 3);
	mkaddr(d, 4);
	mkaddr(e, 5);
	mkaddr(f, 6);
	mkaddr(g, 7);
	mkaddr(h7, 8);
	mkaddr(h8, 9);
	ck_assert_int_eq(cluster_init(&A, a, "alpha", "10.0.0.1:1", HB, FORGET, ta - 50000), 0);
	/* c: A heard it directly 3 s ago, a newer heartbeat than B has */
	m = cluster_add(&A, c, "charlie-new", "10.0.0.3:3", ta - 40000);
	cluster_heard(m, ta - 3000);
	m->hb_seq = 5;
	/* d: A heard of it through two hops 500 ms ago */
	m = cluster_add(&A, d, "delta", "10.0.0.4:4", ta - 30000);
	m->last_hb = ta - 500;
	m->hops = 2;
	m->hb_seq = 4;
	/* e: never heard of: not gossiped */
	cluster_add(&A, e, "echo", "", ta - 20000);
	/* f: removed 10 s ago */
	m = cluster_add(&A, f, "foxtrot", "10.0.0.6:6", ta - 60000);
	cluster_heard(m, ta - 20000);
	ck_assert_int_eq(cluster_remove(&A, f, ta - 10000), 0);
	/* g: a first-seen in B's future is not believed */
	m = cluster_add(&A, g, "golf", "", tb + 1000000);
	cluster_heard(m, ta - 100);
	m->hb_seq = 1;
	/* relayed 7 hops: B keeps it at 8; relayed 8 hops: B ignores it */
	m = cluster_add(&A, h7, "hotel7", "", ta - 1000);
	m->last_hb = ta - 100;
	m->hops = 7;
	m->hb_seq = 1;
	m = cluster_add(&A, h8, "hotel8", "", ta - 1000);
	m->last_hb = ta - 100;
	m->hops = 8;
	m->hb_seq = 1;

	ck_assert_int_eq(cluster_init(&B, b, "bravo", "10.0.0.2:2", HB, FORGET, tb - 1000), 0);
	/* B knew c under an old name, first seen later, heard 10 s ago */
	m = cluster_add(&B, c, "charlie-old", "old:3", tb - 20000);
	cluster_heard(m, tb - 10000);
	m->hb_seq = 3;
	/* B knew d first seen earlier than A reports, heard 100 ms ago directly */
	m = cluster_add(&B, d, "delta-b", "b:4", ta - 90000);
	cluster_heard(m, tb - 100);
	m->hb_seq = 9;	/* newer than A's */

	ck_assert_int_eq(cluster_encode(&A, ta, &buf, &len), 0);
	ck_assert_int_eq(buf[0], 1);
	ck_assert_int_eq(buf[1] | buf[2] << 8, 7);	/* a c d f g h7 h8 */
	ck_assert_int_eq(cluster_merge(&B, a, buf, len, tb, &sr), 7);
	ck_assert_int_eq(sr, 0);
	free(buf);

	/* the sender: heard directly now */
	m = cluster_find(&B, a);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->self, 0);
	ck_assert_str_eq(m->name, "alpha");
	ck_assert_str_eq(m->server, "10.0.0.1:1");
	ck_assert_int_eq(m->first_seen, ta - 50000);
	ck_assert_int_eq(m->last_hb, tb);
	ck_assert_int_eq(m->hops, 0);
	ck_assert_uint_eq(m->hb_seq, A.m[0].hb_seq);
	ck_assert_int_eq(cluster_state(&B, m, tb), CL_ONLINE);
	/* c: fresher evidence through A, with the age A reported */
	m = cluster_find(&B, c);
	ck_assert_int_eq(m->last_hb, tb - 3000);
	ck_assert_int_eq(m->hops, 1);
	ck_assert_uint_eq(m->hb_seq, 5);
	ck_assert_str_eq(m->name, "charlie-new");
	ck_assert_str_eq(m->server, "10.0.0.3:3");
	ck_assert_int_eq(m->first_seen, ta - 40000);	/* A's report is the earlier */
	/* one hop: online for 2.5 intervals, stale until 3 */
	ck_assert_int_eq(cluster_state(&B, m, tb - 3000 + 2500), CL_ONLINE);
	ck_assert_int_eq(cluster_state(&B, m, tb - 3000 + 2501), CL_STALE);
	ck_assert_int_eq(cluster_state(&B, m, tb - 3000 + 3000), CL_STALE);
	ck_assert_int_eq(cluster_state(&B, m, tb - 3000 + 3001), CL_OFFLINE);
	/* d: B's own heartbeat is newer: kept, with its own name; first seen the min */
	m = cluster_find(&B, d);
	ck_assert_int_eq(m->last_hb, tb - 100);
	ck_assert_int_eq(m->hops, 0);
	ck_assert_uint_eq(m->hb_seq, 9);
	ck_assert_str_eq(m->name, "delta-b");
	ck_assert_str_eq(m->server, "b:4");
	ck_assert_int_eq(m->first_seen, ta - 90000);
	/* e never gossiped */
	ck_assert_ptr_null(cluster_find(&B, e));
	/* f: a tombstone, removed at the same moment on B's clock */
	m = cluster_find(&B, f);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_ne(m->removed, 0);
	ck_assert_int_eq(m->removed, tb - 10000);
	ck_assert_str_eq(m->name, "foxtrot");
	ck_assert_int_eq(cluster_state(&B, m, tb), CL_REMOVED);
	ck_assert(cluster_is_removed(&B, f));
	/* g: first seen clamped to B's now */
	m = cluster_find(&B, g);
	ck_assert_int_eq(m->first_seen, tb);
	ck_assert_int_eq(m->last_hb, tb - 100);
	ck_assert_int_eq(m->hops, 1);
	/* hops limit */
	m = cluster_find(&B, h7);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->hops, CLUSTER_HOPS_MAX);
	ck_assert_ptr_null(cluster_find(&B, h8));
	/* B itself untouched */
	ck_assert_int_eq(B.m[0].self, 1);
	ck_assert_mem_eq(B.m[0].addr, b, CLUSTER_ADDR_BYTES);
	ck_assert_str_eq(B.m[0].name, "bravo");
	ck_assert_int_eq(B.m[0].last_hb, tb - 1000);
	ck_assert_uint_eq(B.n, 7);	/* b c d a f g h7 */

	/* and back: A learns B; its own fresher evidence stays */
	ck_assert_int_eq(cluster_encode(&B, tb, &buf, &len), 0);
	ck_assert_int_eq(cluster_merge(&A, b, buf, len, ta, &sr), 7);	/* b c d a f g h7 */
	ck_assert_int_eq(sr, 0);
	free(buf);
	m = cluster_find(&A, b);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->name, "bravo");
	ck_assert_int_eq(m->last_hb, ta);
	ck_assert_int_eq(m->hops, 0);
	ck_assert_int_eq(m->first_seen, tb - 1000 <= ta ? tb - 1000 : ta);
	m = cluster_find(&A, c);
	ck_assert_int_eq(m->last_hb, ta - 3000);	/* the same heartbeat, echoed: ignored */
	ck_assert_int_eq(m->hops, 0);
	ck_assert_uint_eq(m->hb_seq, 5);
	m = cluster_find(&A, d);
	ck_assert_int_eq(m->last_hb, ta - 100);	/* B's newer direct heartbeat */
	ck_assert_int_eq(m->hops, 1);
	ck_assert_uint_eq(m->hb_seq, 9);
	ck_assert_str_eq(m->name, "delta-b");
	ck_assert_int_eq(m->first_seen, ta - 90000);
	ck_assert_int_eq(cluster_find(&A, f)->removed, ta - 10000);
	ck_assert_int_eq(A.m[0].self, 1);
	ck_assert_ptr_eq(cluster_find(&A, a), &A.m[0]);
	cluster_free(&A);
	cluster_free(&B);
}
END_TEST

START_TEST(test_merge_refuses)
{
	struct cluster A, B;
	struct cluster_member *m;
	uint8_t a[CLUSTER_ADDR_BYTES], b[CLUSTER_ADDR_BYTES], c[CLUSTER_ADDR_BYTES],
		d[CLUSTER_ADDR_BYTES], *buf, *big;
	size_t len, second;
	struct hb h;
	int sr;

	mkaddr(a, 1);
	mkaddr(b, 2);
	mkaddr(c, 3);
	mkaddr(d, 4);
	ck_assert_int_eq(cluster_init(&A, a, "alpha", "10.0.0.1:1", HB, FORGET, NOW - 50000), 0);
	m = cluster_add(&A, c, "charlie", "10.0.0.3:3", NOW - 40000);
	cluster_heard(m, NOW - 3000);
	m->hb_seq = 7;
	m = cluster_add(&A, d, "delta", "", NOW - 40000);
	cluster_heard(m, NOW - 300);
	ck_assert_int_eq(cluster_remove(&A, d, NOW - 200), 0);
	ck_assert_int_eq(cluster_init(&B, b, "bravo", "", HB, FORGET, NOW - 1000), 0);
	m = cluster_add(&B, c, "charlie-b", "", NOW - 90000);
	cluster_heard(m, NOW - 5000);
	m->hb_seq = 2;
	ck_assert_int_eq(cluster_encode(&A, NOW, &buf, &len), 0);

	/* every truncation */
	for (size_t cut = 0; cut < len; cut++)
		refused(&B, a, buf, cut);
	/* trailing garbage */
	big = malloc(len + 1);
	memcpy(big, buf, len);
	big[len] = 'x';
	refused(&B, a, big, len + 1);
	free(big);
	/* not from the sender of the first entry */
	refused(&B, c, buf, len);
	refused(&B, b, buf, len);
	/* version */
	buf[0] = 2;
	refused(&B, a, buf, len);
	buf[0] = 0;
	refused(&B, a, buf, len);
	buf[0] = 1;
	/* counts */
	buf[1] = 0;
	buf[2] = 0;
	refused(&B, a, buf, len);
	buf[1] = (uint8_t)((CLUSTER_MAX + 1) & 0xff);
	buf[2] = (uint8_t)((CLUSTER_MAX + 1) >> 8);
	refused(&B, a, buf, len);
	buf[1] = 4;	/* one more than there is */
	buf[2] = 0;
	refused(&B, a, buf, len);
	buf[1] = 2;	/* one less: the rest is trailing */
	refused(&B, a, buf, len);
	buf[1] = 3;
	/* the sender's entry with an age or a tombstone */
	buf[H_HEADER + H_AGE] = 1;
	refused(&B, a, buf, len);
	buf[H_HEADER + H_AGE] = 0;
	buf[H_HEADER + H_AGE + 7] = 0x01;
	refused(&B, a, buf, len);
	buf[H_HEADER + H_AGE + 7] = 0;
	buf[H_HEADER + H_FLAGS] = 1;
	refused(&B, a, buf, len);
	/* unknown flag bits, in the first and in a later entry */
	second = H_HEADER + H_FIXED + strlen("alpha") + strlen("10.0.0.1:1");
	for (unsigned bit = 1; bit < 8; bit++) {
		buf[H_HEADER + H_FLAGS] = (uint8_t)(1u << bit);
		refused(&B, a, buf, len);
		buf[H_HEADER + H_FLAGS] = 0;
		buf[second + H_FLAGS] = (uint8_t)(1u << bit);
		refused(&B, a, buf, len);
		buf[second + H_FLAGS] = (uint8_t)(1u << bit | 1);
		refused(&B, a, buf, len);
		buf[second + H_FLAGS] = 0;
	}
	/* a control character in a name or server, in a later entry */
	ck_assert_int_eq(buf[second + H_NAME_LEN], strlen("charlie"));
	for (int ch = 0; ch < 0x20; ch++) {
		buf[second + H_NAME_LEN + 1 + 3] = (uint8_t)ch;
		refused(&B, a, buf, len);
	}
	buf[second + H_NAME_LEN + 1 + 3] = 0x7f;
	refused(&B, a, buf, len);
	buf[second + H_NAME_LEN + 1 + 3] = 'r';
	buf[second + H_NAME_LEN + 1 + strlen("charlie") + 1 + 2] = '\n';
	refused(&B, a, buf, len);
	buf[second + H_NAME_LEN + 1 + strlen("charlie") + 1 + 2] = '.';
	/* age beyond ten years */
	buf[second + H_AGE + 7] = 0x7f;
	refused(&B, a, buf, len);
	buf[second + H_AGE + 7] = 0;
	/* first seen beyond INT64_MAX */
	buf[second + H_FIRST + 7] = 0x80;
	refused(&B, a, buf, len);
	buf[second + H_FIRST + 7] = (uint8_t)((uint64_t)(NOW - 40000) >> 56);
	/* all restored: accepted */
	ck_assert_int_eq(cluster_merge(&B, a, buf, len, NOW, &sr), 3);
	ck_assert_str_eq(cluster_find(&B, c)->name, "charlie");
	free(buf);

	/* an empty name */
	hb_begin(&h);
	hb_entry(&h, a, 0, 0, 1, 0, 1, "alpha", "");
	hb_entry(&h, c, 0, 0, 1, 10, 1, "", "x:1");
	refused(&B, a, h.buf, h.len);
	hb_begin(&h);
	hb_entry(&h, a, 0, 0, 1, 0, 1, "", "");
	refused(&B, a, h.buf, h.len);
	/* a tombstone for the receiver before a bad entry: nothing, not even *self_removed */
	hb_begin(&h);
	hb_entry(&h, a, 0, 0, 1, 0, 1, "alpha", "");
	hb_entry(&h, b, 1, 0, 1, 10, 1, "bravo", "");
	hb_entry(&h, c, 4, 0, 1, 10, 1, "charlie", "");
	refused(&B, a, h.buf, h.len);
	/* a header alone, with no entry */
	hb_begin(&h);
	refused(&B, a, h.buf, h.len);
	h.buf[1] = 1;
	refused(&B, a, h.buf, h.len);
	/* a name length that runs past the end */
	hb_begin(&h);
	hb_entry(&h, a, 0, 0, 1, 0, 1, "alpha", "");
	h.buf[H_HEADER + H_NAME_LEN] = 200;
	refused(&B, a, h.buf, h.len);
	cluster_free(&A);
	cluster_free(&B);
}
END_TEST

/* Counts up to CLUSTER_MAX are taken, one more is refused; a full table stays full. */
START_TEST(test_merge_count_limit)
{
	static struct hb h;
	struct cluster B;
	uint8_t a[CLUSTER_ADDR_BYTES], b[CLUSTER_ADDR_BYTES], x[CLUSTER_ADDR_BYTES];
	int sr;

	mkaddr(a, 1);
	mkaddr(b, 2);
	ck_assert_int_eq(cluster_init(&B, b, "bravo", "", HB, FORGET, NOW), 0);
	hb_begin(&h);
	hb_entry(&h, a, 0, 0, 1, 0, 1, "alpha", "");
	for (unsigned i = 1; i <= CLUSTER_MAX; i++) {
		mkaddr(x, 10000 + i);
		hb_entry(&h, x, 0, 0, i, i, 1, "m", "");
	}
	ck_assert_uint_eq(h.count, CLUSTER_MAX + 1);
	refused(&B, a, h.buf, h.len);
	/* the same without the last entry */
	h.len -= H_FIXED + 1;
	h.buf[1] = (uint8_t)(CLUSTER_MAX & 0xff);
	h.buf[2] = (uint8_t)(CLUSTER_MAX >> 8);
	ck_assert_int_eq(cluster_merge(&B, a, h.buf, h.len, NOW, &sr), CLUSTER_MAX);
	ck_assert_uint_eq(B.n, CLUSTER_MAX);	/* b, a, and as many others as fit */
	ck_assert_int_eq(B.m[0].self, 1);
	ck_assert_ptr_nonnull(cluster_find(&B, a));
	mkaddr(x, 10000 + CLUSTER_MAX - 2);
	ck_assert_ptr_nonnull(cluster_find(&B, x));
	mkaddr(x, 10000 + CLUSTER_MAX - 1);
	ck_assert_ptr_null(cluster_find(&B, x));
	cluster_free(&B);
}
END_TEST

START_TEST(test_tombstones)
{
	struct cluster A, B;
	struct cluster_member *m;
	uint8_t a[CLUSTER_ADDR_BYTES], b[CLUSTER_ADDR_BYTES], c[CLUSTER_ADDR_BYTES],
		x[CLUSTER_ADDR_BYTES], *buf;
	size_t len, k, idx[CLUSTER_MAX];
	struct hb h;
	int sr;

	mkaddr(a, 1);
	mkaddr(b, 2);
	mkaddr(c, 3);
	mkaddr(x, 4);
	ck_assert_int_eq(cluster_init(&A, a, "alpha", "", HB, FORGET, NOW - 50000), 0);
	ck_assert_int_eq(cluster_init(&B, b, "bravo", "", HB, FORGET, NOW - 50000), 0);
	m = cluster_add(&A, c, "charlie", "", NOW - 40000);
	cluster_heard(m, NOW - 100);
	m = cluster_add(&A, b, "bravo", "", NOW - 40000);
	cluster_heard(m, NOW - 100);
	m = cluster_add(&B, c, "charlie", "", NOW - 40000);
	cluster_heard(m, NOW - 50);

	ck_assert_int_eq(cluster_remove(&A, a, NOW), -EINVAL);
	ck_assert_int_eq(A.m[0].removed, 0);
	ck_assert_int_eq(cluster_remove(&A, x, NOW), -ENOENT);
	ck_assert_ptr_null(cluster_find(&A, x));
	ck_assert(!cluster_is_removed(&A, x));
	ck_assert(!cluster_is_removed(&A, c));
	ck_assert_uint_eq(cluster_removed_count(&A), 0);
	ck_assert_int_eq(cluster_remove(&A, c, NOW - 1000), 0);
	m = cluster_find(&A, c);
	ck_assert_int_eq(m->removed, NOW - 1000);
	ck_assert_int_eq(m->removed_seen, NOW - 1000);
	ck_assert_uint_eq(cluster_removed_count(&A), 1);
	ck_assert(cluster_is_removed(&A, c));
	ck_assert_int_eq(cluster_state(&A, m, NOW), CL_REMOVED);
	ck_assert_int_eq(cluster_remove(&A, c, NOW), 0);	/* again: keeps the first time */
	ck_assert_int_eq(m->removed, NOW - 1000);
	ck_assert_uint_eq(cluster_removed_count(&A), 1);
	/* a tombstone is no peer */
	k = cluster_peers(&A, 10, idx);
	ck_assert_uint_eq(k, 1);
	ck_assert_ptr_eq(&A.m[idx[0]], cluster_find(&A, b));

	/* propagates: B had c alive and fresh */
	ck_assert_int_eq(cluster_encode(&A, NOW, &buf, &len), 0);
	ck_assert_uint_eq(cluster_removed_count(&B), 0);
	ck_assert_int_eq(cluster_merge(&B, a, buf, len, NOW, &sr), 3);
	ck_assert_int_eq(sr, 0);
	free(buf);
	m = cluster_find(&B, c);
	ck_assert_int_eq(m->removed, NOW - 1000);
	/* B's grace for telling c runs from when B heard of it */
	ck_assert_int_eq(m->removed_seen, NOW);
	ck_assert_uint_eq(cluster_removed_count(&B), 1);
	ck_assert_int_eq(cluster_state(&B, m, NOW), CL_REMOVED);
	/* fresh evidence never undoes it: from c itself, or relayed */
	hb_begin(&h);
	hb_entry(&h, c, 0, 0, 1, 0, 1, "charlie-again", "");
	ck_assert_int_eq(cluster_merge(&B, c, h.buf, h.len, NOW + 10, &sr), 1);
	hb_begin(&h);
	hb_entry(&h, a, 0, 0, 1, 0, 1, "alpha", "");
	hb_entry(&h, c, 0, 0, 1, 0, 1, "charlie-again", "");
	ck_assert_int_eq(cluster_merge(&B, a, h.buf, h.len, NOW + 20, &sr), 2);
	cluster_heard(m, NOW + 30);
	ck_assert_int_eq(cluster_state(&B, m, NOW + 30), CL_REMOVED);
	ck_assert_int_ne(m->removed, 0);
	ck_assert_str_eq(m->name, "charlie");
	/* and it keeps being gossiped, even to a table that never knew c */
	{
		struct cluster C;
		uint8_t y[CLUSTER_ADDR_BYTES];

		mkaddr(y, 5);
		ck_assert_int_eq(cluster_init(&C, y, "yankee", "", HB, FORGET, NOW), 0);
		ck_assert_int_eq(cluster_encode(&B, NOW + 40, &buf, &len), 0);
		ck_assert_int_ge(cluster_merge(&C, b, buf, len, NOW + 40, &sr), 3);
		free(buf);
		ck_assert(cluster_is_removed(&C, c));
		ck_assert_str_eq(cluster_find(&C, c)->name, "charlie");
		ck_assert_int_eq(cluster_find(&C, c)->removed, NOW - 1000);
		cluster_free(&C);
	}

	/* a tombstone about the receiver */
	ck_assert_int_eq(cluster_remove(&A, b, NOW), 0);
	ck_assert_int_eq(cluster_encode(&A, NOW + 50, &buf, &len), 0);
	sr = 0;
	ck_assert_int_gt(cluster_merge(&B, a, buf, len, NOW + 50, &sr), 0);
	ck_assert_int_eq(sr, 1);
	ck_assert_int_eq(B.m[0].self, 1);
	free(buf);
	/* and the next heartbeat without it clears the flag */
	hb_begin(&h);
	hb_entry(&h, a, 0, 0, 1, 0, 1, "alpha", "");
	ck_assert_int_eq(cluster_merge(&B, a, h.buf, h.len, NOW + 60, &sr), 1);
	ck_assert_int_eq(sr, 0);
	cluster_free(&A);
	cluster_free(&B);
}
END_TEST

/* cluster_beat numbers each heartbeat; the encoding carries the numbers. */
START_TEST(test_beat)
{
	struct cluster A, B;
	struct cluster_member *m;
	uint8_t a[CLUSTER_ADDR_BYTES], b[CLUSTER_ADDR_BYTES], c[CLUSTER_ADDR_BYTES], *buf;
	size_t len, at;
	const uint64_t s0 = (uint64_t)NOW * 1000;

	mkaddr(a, 1);
	mkaddr(b, 2);
	mkaddr(c, 3);
	ck_assert_int_eq(cluster_init(&A, a, "alpha", "a:1", HB, FORGET, NOW), 0);
	ck_assert_int_eq(cluster_init(&B, b, "bravo", "", HB, FORGET, NOW), 0);
	m = cluster_add(&A, c, "charlie", "", NOW - 1000);
	cluster_heard(m, NOW - 10);
	m->hb_seq = 77;

	ck_assert_int_eq(cluster_encode(&A, NOW, &buf, &len), 0);
	ck_assert_uint_eq(hb_find(buf, len, a), H_HEADER);	/* the sender first */
	ck_assert_uint_eq(get_u64(buf + H_HEADER + H_SEQ), s0);
	at = hb_find(buf, len, c);
	ck_assert_uint_ne(at, 0);
	ck_assert_uint_eq(get_u64(buf + at + H_SEQ), 77);	/* a relayed member: its own */
	free(buf);

	for (uint64_t k = 1; k <= 5; k++) {
		int64_t now = NOW + (int64_t)k * HB;

		cluster_beat(&A);
		ck_assert_uint_eq(A.m[0].hb_seq, s0 + k);
		/* nothing else moves */
		ck_assert_int_eq(A.m[0].last_hb, NOW);
		ck_assert_uint_eq(cluster_find(&A, c)->hb_seq, 77);
		ck_assert_int_eq(cluster_find(&A, c)->last_hb, NOW - 10);
		ck_assert_int_eq(cluster_encode(&A, now, &buf, &len), 0);
		ck_assert_uint_eq(get_u64(buf + H_HEADER + H_SEQ), s0 + k);
		at = hb_find(buf, len, c);
		ck_assert_uint_eq(get_u64(buf + at + H_SEQ), 77);
		free(buf);
		relay(&A, &B, now, now + 2);
		m = cluster_find(&B, a);
		ck_assert_uint_eq(m->hb_seq, s0 + k);
		ck_assert_int_eq(m->last_hb, now + 2);
		ck_assert_int_eq(m->hops, 0);
		ck_assert_uint_eq(cluster_find(&B, c)->hb_seq, 77);
	}
	/* and B relays A's number unchanged */
	ck_assert_int_eq(cluster_encode(&B, NOW + 10 * HB, &buf, &len), 0);
	at = hb_find(buf, len, a);
	ck_assert_uint_ne(at, 0);
	ck_assert_uint_eq(get_u64(buf + at + H_SEQ), s0 + 5);
	ck_assert_int_eq(buf[at + H_HOPS], 0);
	free(buf);
	cluster_free(&A);
	cluster_free(&B);
}
END_TEST

/*
 * X's last heartbeat, heard by A directly, bounced between A and B: it
 * must never look newer than it is, nor come from further away, and X
 * goes offline on time.  (Before heartbeat numbers each bounce added the
 * transfer time to the evidence and a hop to it.)
 */
START_TEST(test_bounce)
{
	struct cluster A, B;
	struct cluster_member *ma, *mb;
	uint8_t a[CLUSTER_ADDR_BYTES], b[CLUSTER_ADDR_BYTES], x[CLUSTER_ADDR_BYTES];
	struct hb h;
	int sr;
	const int64_t t0 = NOW, lag = 3;	/* X's last heartbeat; transfer time */
	const uint64_t seq = 5000000;
	int64_t now = t0, last_a, last_b;

	mkaddr(a, 1);
	mkaddr(b, 2);
	mkaddr(x, 24);
	ck_assert_int_eq(cluster_init(&A, a, "alpha", "", HB, FORGET, t0 - 100000), 0);
	ck_assert_int_eq(cluster_init(&B, b, "bravo", "", HB, FORGET, t0 - 100000), 0);
	/* B knew X from an older heartbeat, relayed */
	mb = cluster_add(&B, x, "xray", "x:1", t0 - 90000);
	mb->last_hb = t0 - HB;
	mb->hops = 1;
	mb->hb_seq = seq - 1;
	/* X's heartbeat straight to A; then X dies */
	hb_begin(&h);
	hb_entry(&h, x, 0, 0, seq, 0, (uint64_t)(t0 - 90000), "xray", "x:1");
	ck_assert_int_eq(cluster_merge(&A, x, h.buf, h.len, t0, &sr), 1);
	ma = cluster_find(&A, x);
	ck_assert_int_eq(ma->last_hb, t0);
	ck_assert_int_eq(ma->hops, 0);
	ck_assert_uint_eq(ma->hb_seq, seq);

	/* ten rounds A -> B -> A, a few ms each */
	for (int round = 0; round < 10; round++) {
		relay(&A, &B, now, now + lag);
		now += lag;
		mb = cluster_find(&B, x);
		ck_assert_int_ge(mb->last_hb, t0);
		ck_assert_int_le(mb->last_hb, t0 + lag);	/* at most the first transfer */
		ck_assert_int_eq(mb->hops, 1);
		ck_assert_uint_eq(mb->hb_seq, seq);
		relay(&B, &A, now, now + lag);
		now += lag;
		ma = cluster_find(&A, x);
		ck_assert_int_eq(ma->last_hb, t0);
		ck_assert_int_eq(ma->hops, 0);
		ck_assert_uint_eq(ma->hb_seq, seq);
		now += 2;
	}
	last_b = cluster_find(&B, x)->last_hb;
	ck_assert_int_eq(last_b, t0 + lag);	/* A's evidence of t0, the one transfer on top */
	/* and on, every 100 ms, until long after X should be offline everywhere */
	for (; now <= t0 + 5 * HB; now += 100) {
		relay(&A, &B, now, now + lag);
		relay(&B, &A, now + lag, now + 2 * lag);
		ma = cluster_find(&A, x);
		mb = cluster_find(&B, x);
		ck_assert_int_eq(ma->last_hb, t0);
		ck_assert_int_eq(ma->hops, 0);
		ck_assert_int_eq(mb->last_hb, last_b);
		ck_assert_int_le(mb->hops, 1);
		ck_assert_int_eq(cluster_state(&A, ma, now), expected(t0, 0, now));
		ck_assert_int_eq(cluster_state(&B, mb, now), expected(last_b, 1, now));
	}
	/* A heard it directly: offline after 2 intervals; B, one hop: after 3 */
	ma = cluster_find(&A, x);
	mb = cluster_find(&B, x);
	ck_assert_int_eq(cluster_state(&A, ma, t0 + 2 * HB), CL_STALE);
	ck_assert_int_eq(cluster_state(&A, ma, t0 + 2 * HB + 1), CL_OFFLINE);
	ck_assert_int_eq(cluster_state(&B, mb, last_b + 3 * HB), CL_STALE);
	ck_assert_int_eq(cluster_state(&B, mb, last_b + 3 * HB + 1), CL_OFFLINE);
	ck_assert_int_eq(cluster_state(&B, mb, t0 + lag + 3 * HB + 1), CL_OFFLINE);

	/* X back with its next heartbeat, heard by B this time: A takes it over one hop */
	hb_begin(&h);
	hb_entry(&h, x, 0, 0, seq + 1, 0, (uint64_t)(t0 - 90000), "xray", "x:1");
	ck_assert_int_eq(cluster_merge(&B, x, h.buf, h.len, now, &sr), 1);
	relay(&B, &A, now, now + lag);
	ma = cluster_find(&A, x);
	ck_assert_int_eq(ma->last_hb, now + lag);
	ck_assert_int_eq(ma->hops, 1);
	ck_assert_uint_eq(ma->hb_seq, seq + 1);
	ck_assert_int_eq(cluster_state(&A, ma, now + lag), CL_ONLINE);
	/* and that one bounces without growing either */
	last_a = ma->last_hb;
	last_b = cluster_find(&B, x)->last_hb;
	for (int round = 0; round < 10; round++) {
		relay(&A, &B, now + lag, now + 2 * lag);
		relay(&B, &A, now + 2 * lag, now + 3 * lag);
		now += 3 * lag;
		ck_assert_int_eq(cluster_find(&A, x)->last_hb, last_a);
		ck_assert_int_eq(cluster_find(&A, x)->hops, 1);
		ck_assert_int_eq(cluster_find(&B, x)->last_hb, last_b);
		ck_assert_int_eq(cluster_find(&B, x)->hops, 0);
	}
	cluster_free(&A);
	cluster_free(&B);
}
END_TEST

/* A relayed entry counts only with a newer heartbeat number than the one held. */
START_TEST(test_seq_rule)
{
	struct cluster B;
	struct cluster_member *m;
	uint8_t b[CLUSTER_ADDR_BYTES], r[CLUSTER_ADDR_BYTES], x[CLUSTER_ADDR_BYTES];
	struct hb h;
	int sr;
	const int64_t t = NOW, first = NOW - 50000;

	mkaddr(b, 2);
	mkaddr(r, 18);
	mkaddr(x, 24);
	ck_assert_int_eq(cluster_init(&B, b, "bravo", "", HB, FORGET, t - 100000), 0);
	m = cluster_add(&B, x, "xray", "x:1", first);
	m->last_hb = t - 2000;
	m->hops = 2;
	m->hb_seq = 10;

	/* lower and equal numbers: nothing moves, even with fresher-looking evidence,
	   fewer hops and another name; only an earlier first-seen is taken */
	for (uint64_t seq = 0; seq <= 10; seq += 5) {
		hb_begin(&h);
		hb_entry(&h, r, 0, 0, 1, 0, 1, "romeo", "");
		hb_entry(&h, x, 0, 0, seq, 0, (uint64_t)(first - 1 - (int64_t)seq), "xray-new",
			 "x:2");
		ck_assert_int_eq(cluster_merge(&B, r, h.buf, h.len, t, &sr), 2);
		m = cluster_find(&B, x);
		ck_assert_int_eq(m->last_hb, t - 2000);
		ck_assert_int_eq(m->hops, 2);
		ck_assert_uint_eq(m->hb_seq, 10);
		ck_assert_str_eq(m->name, "xray");
		ck_assert_str_eq(m->server, "x:1");
		ck_assert_int_eq(m->first_seen, first - 1 - (int64_t)seq);
		ck_assert_int_eq(cluster_state(&B, m, t), CL_ONLINE);	/* as it was */
	}
	m->first_seen = first;
	/* a higher number: taken, evidence, hops, name and all */
	hb_begin(&h);
	hb_entry(&h, r, 0, 0, 1, 0, 1, "romeo", "");
	hb_entry(&h, x, 0, 1, 11, 100, (uint64_t)first, "xray-11", "x:11");
	ck_assert_int_eq(cluster_merge(&B, r, h.buf, h.len, t, &sr), 2);
	m = cluster_find(&B, x);
	ck_assert_int_eq(m->last_hb, t - 100);
	ck_assert_int_eq(m->hops, 2);
	ck_assert_uint_eq(m->hb_seq, 11);
	ck_assert_str_eq(m->name, "xray-11");
	ck_assert_str_eq(m->server, "x:11");
	ck_assert_int_eq(m->first_seen, first);
	/* the same number again, fresher-looking and nearer: ignored */
	hb_begin(&h);
	hb_entry(&h, r, 0, 0, 1, 0, 1, "romeo", "");
	hb_entry(&h, x, 0, 0, 11, 0, (uint64_t)first, "xray-11b", "x:11b");
	ck_assert_int_eq(cluster_merge(&B, r, h.buf, h.len, t + 50, &sr), 2);
	ck_assert_int_eq(m->last_hb, t - 100);
	ck_assert_int_eq(m->hops, 2);
	ck_assert_str_eq(m->name, "xray-11");
	/* a higher number whose evidence is older than held: the number and name are
	   taken, the evidence time and hops stay */
	hb_begin(&h);
	hb_entry(&h, r, 0, 0, 1, 0, 1, "romeo", "");
	hb_entry(&h, x, 0, 0, 12, 5000, (uint64_t)first, "xray-12", "x:12");
	ck_assert_int_eq(cluster_merge(&B, r, h.buf, h.len, t + 100, &sr), 2);
	ck_assert_int_eq(m->last_hb, t - 100);
	ck_assert_int_eq(m->hops, 2);
	ck_assert_uint_eq(m->hb_seq, 12);
	ck_assert_str_eq(m->name, "xray-12");
	/* ... so that heartbeat, later relayed as fresher, no longer counts */
	hb_begin(&h);
	hb_entry(&h, r, 0, 0, 1, 0, 1, "romeo", "");
	hb_entry(&h, x, 0, 0, 12, 0, (uint64_t)first, "xray-12b", "");
	ck_assert_int_eq(cluster_merge(&B, r, h.buf, h.len, t + 200, &sr), 2);
	ck_assert_int_eq(m->last_hb, t - 100);
	ck_assert_str_eq(m->name, "xray-12");
	/* relayed too far: ignored whatever its number */
	hb_begin(&h);
	hb_entry(&h, r, 0, 0, 1, 0, 1, "romeo", "");
	hb_entry(&h, x, 0, CLUSTER_HOPS_MAX, 1000, 0, (uint64_t)first, "xray-far", "");
	ck_assert_int_eq(cluster_merge(&B, r, h.buf, h.len, t + 300, &sr), 2);
	ck_assert_uint_eq(m->hb_seq, 12);
	ck_assert_int_eq(m->last_hb, t - 100);
	ck_assert_str_eq(m->name, "xray-12");
	/* the number is unsigned, little-endian, all 64 bits of it */
	hb_begin(&h);
	hb_entry(&h, r, 0, 0, 1, 0, 1, "romeo", "");
	hb_entry(&h, x, 0, 0, 1ULL << 56, 10, (uint64_t)first, "xray-big", "");
	ck_assert_int_eq(cluster_merge(&B, r, h.buf, h.len, t + 400, &sr), 2);
	ck_assert_uint_eq(m->hb_seq, 1ULL << 56);
	ck_assert_int_eq(m->last_hb, t + 390);
	ck_assert_str_eq(m->name, "xray-big");
	hb_begin(&h);
	hb_entry(&h, r, 0, 0, 1, 0, 1, "romeo", "");
	hb_entry(&h, x, 0, 0, UINT64_MAX, 0, (uint64_t)first, "xray-max", "");
	ck_assert_int_eq(cluster_merge(&B, r, h.buf, h.len, t + 500, &sr), 2);
	ck_assert_uint_eq(m->hb_seq, UINT64_MAX);
	ck_assert_int_eq(m->last_hb, t + 500);
	ck_assert_int_eq(m->hops, 1);

	/* the sender's own entry always counts as heard now, and never lowers the number */
	hb_begin(&h);
	hb_entry(&h, x, 0, 3, 4, 0, (uint64_t)first, "xray-self", "x:s");
	ck_assert_int_eq(cluster_merge(&B, x, h.buf, h.len, t + 600, &sr), 1);
	ck_assert_int_eq(m->last_hb, t + 600);
	ck_assert_int_eq(m->hops, 0);
	ck_assert_uint_eq(m->hb_seq, UINT64_MAX);
	ck_assert_str_eq(m->name, "xray-self");
	ck_assert_str_eq(m->server, "x:s");
	/* and raises it when higher */
	m->hb_seq = 20;
	hb_begin(&h);
	hb_entry(&h, x, 0, 0, 21, 0, (uint64_t)first, "xray-self", "x:s");
	ck_assert_int_eq(cluster_merge(&B, x, h.buf, h.len, t + 700, &sr), 1);
	ck_assert_uint_eq(m->hb_seq, 21);
	ck_assert_int_eq(m->last_hb, t + 700);
	/* a member first heard of through a relay takes whatever number it carries */
	{
		uint8_t y[CLUSTER_ADDR_BYTES];
		struct cluster_member *my;

		mkaddr(y, 25);
		hb_begin(&h);
		hb_entry(&h, r, 0, 0, 1, 0, 1, "romeo", "");
		hb_entry(&h, y, 0, 0, 0, 30, (uint64_t)first, "yankee", "");
		ck_assert_int_eq(cluster_merge(&B, r, h.buf, h.len, t + 800, &sr), 2);
		my = cluster_find(&B, y);
		ck_assert_ptr_nonnull(my);
		ck_assert_uint_eq(my->hb_seq, 0);
		ck_assert_int_eq(my->last_hb, t + 770);
		ck_assert_int_eq(my->hops, 1);
	}
	cluster_free(&B);
}
END_TEST

/* A restarted member numbers its heartbeats from its clock again: above the old ones. */
START_TEST(test_restart)
{
	struct cluster A, B, X;
	struct cluster_member *m;
	uint8_t a[CLUSTER_ADDR_BYTES], b[CLUSTER_ADDR_BYTES], x[CLUSTER_ADDR_BYTES];
	const int64_t t1 = NOW, lag = 3;
	uint64_t old;
	int64_t now = t1, t2;

	mkaddr(a, 1);
	mkaddr(b, 2);
	mkaddr(x, 24);
	ck_assert_int_eq(cluster_init(&A, a, "alpha", "", HB, FORGET, t1 - 100000), 0);
	ck_assert_int_eq(cluster_init(&B, b, "bravo", "", HB, FORGET, t1 - 100000), 0);
	ck_assert_int_eq(cluster_init(&X, x, "xray", "x:1", HB, FORGET, t1), 0);
	/* X runs for a while: A hears it, B through A */
	for (int k = 0; k < 50; k++, now += HB) {
		cluster_beat(&X);
		relay(&X, &A, now, now);
		relay(&A, &B, now, now + lag);
	}
	old = X.m[0].hb_seq;
	ck_assert_uint_eq(old, (uint64_t)t1 * 1000 + 50);
	m = cluster_find(&B, x);
	ck_assert_uint_eq(m->hb_seq, old);
	ck_assert_int_eq(m->last_hb, now - HB + lag);
	ck_assert_int_eq(m->hops, 1);

	/* X restarts 1 ms after its last heartbeat, under a new name */
	cluster_free(&X);
	t2 = now - HB + 1;
	ck_assert_int_eq(cluster_init(&X, x, "xray-2", "x:2", HB, FORGET, t2), 0);
	ck_assert_uint_gt(X.m[0].hb_seq, old);
	cluster_beat(&X);
	now = t2 + 10;
	relay(&X, &A, now, now);
	m = cluster_find(&A, x);
	ck_assert_uint_eq(m->hb_seq, (uint64_t)t2 * 1000 + 1);
	ck_assert_int_eq(m->last_hb, now);
	ck_assert_int_eq(m->hops, 0);
	ck_assert_str_eq(m->name, "xray-2");
	/* B takes it from the relay: newer evidence, the new name; first seen the earliest */
	relay(&A, &B, now, now + lag);
	m = cluster_find(&B, x);
	ck_assert_uint_eq(m->hb_seq, (uint64_t)t2 * 1000 + 1);
	ck_assert_int_eq(m->last_hb, now + lag);
	ck_assert_int_eq(m->hops, 1);
	ck_assert_str_eq(m->name, "xray-2");
	ck_assert_str_eq(m->server, "x:2");
	ck_assert_int_eq(m->first_seen, t1);
	ck_assert_int_eq(cluster_state(&B, m, now + lag), CL_ONLINE);
	/* its heartbeats go on from there, and keep being taken */
	for (int k = 0; k < 5; k++) {
		now += HB;
		cluster_beat(&X);
		relay(&X, &A, now, now);
		relay(&A, &B, now, now + lag);
		ck_assert_uint_eq(cluster_find(&B, x)->hb_seq, (uint64_t)t2 * 1000 + 2 + (uint64_t)k);
		ck_assert_int_eq(cluster_find(&B, x)->last_hb, now + lag);
	}
	/* while an old heartbeat from before the restart, relayed late, is not */
	{
		struct hb h;
		int sr;

		hb_begin(&h);
		hb_entry(&h, a, 0, 0, 1, 0, 1, "alpha", "");
		hb_entry(&h, x, 0, 0, old, 0, (uint64_t)t1, "xray", "x:1");
		ck_assert_int_eq(cluster_merge(&B, a, h.buf, h.len, now + HB, &sr), 2);
		m = cluster_find(&B, x);
		ck_assert_int_eq(m->last_hb, now + lag);
		ck_assert_str_eq(m->name, "xray-2");
	}
	cluster_free(&X);
	cluster_free(&A);
	cluster_free(&B);
}
END_TEST

struct gone_log {
	int n;
	char names[8][CLUSTER_NAME_MAX + 1];
};

static void on_gone(const struct cluster_member *m, void *ctx)
{
	struct gone_log *g = ctx;

	ck_assert_int_lt(g->n, 8);
	ck_assert_int_eq(m->self, 0);
	ck_assert_int_eq(m->removed, 0);
	memcpy(g->names[g->n], m->name, sizeof(g->names[0]));
	g->n++;
}

static int gone_has(const struct gone_log *g, const char *name)
{
	for (int i = 0; i < g->n; i++)
		if (strcmp(g->names[i], name) == 0)
			return 1;
	return 0;
}

START_TEST(test_forget)
{
	struct cluster c;
	struct cluster_member *m;
	uint8_t k[8][CLUSTER_ADDR_BYTES];
	struct gone_log g = { 0 };
	const int64_t now = NOW;

	for (unsigned i = 0; i < 8; i++)
		mkaddr(k[i], i + 1);
	/* self heard of long ago: never forgotten */
	ck_assert_int_eq(cluster_init(&c, k[0], "self", "", HB, FORGET, now - 10 * FORGET), 0);
	c.m[0].last_hb = now - 10 * FORGET;
	m = cluster_add(&c, k[1], "old", "", now - 10 * FORGET);	/* offline too long */
	cluster_heard(m, now - FORGET - 2 * HB - 1);
	m = cluster_add(&c, k[2], "recent", "", now - 10 * FORGET);	/* offline, not long */
	cluster_heard(m, now - FORGET + 2 * HB);
	m = cluster_add(&c, k[3], "online", "", now - 10 * FORGET);
	cluster_heard(m, now - 10);
	m = cluster_add(&c, k[4], "tomb", "", now - 10 * FORGET);	/* a tombstone stays */
	cluster_heard(m, now - 10 * FORGET);
	ck_assert_int_eq(cluster_remove(&c, k[4], now - 9 * FORGET), 0);
	cluster_add(&c, k[5], "never", "", now - 2 * FORGET);	/* never heard, admitted long ago */
	cluster_add(&c, k[6], "new", "", now - 10);		/* never heard, admitted now */
	m = cluster_add(&c, k[7], "dropped", "", now - 10 * FORGET);	/* link down, young evidence */
	cluster_heard(m, now - 1000);
	cluster_down(m, now - 500);
	ck_assert_uint_eq(c.n, 8);

	ck_assert_uint_eq(cluster_forget(&c, now, on_gone, &g), 2);
	ck_assert_int_eq(g.n, 2);
	ck_assert(gone_has(&g, "old"));
	ck_assert(gone_has(&g, "never"));
	ck_assert_uint_eq(c.n, 6);
	ck_assert_ptr_null(cluster_find(&c, k[1]));
	ck_assert_ptr_null(cluster_find(&c, k[5]));
	ck_assert_ptr_eq(cluster_find(&c, k[0]), &c.m[0]);
	ck_assert_int_eq(c.m[0].self, 1);
	for (unsigned i = 2; i < 8; i++)
		if (i != 5)
			ck_assert_ptr_nonnull(cluster_find(&c, k[i]));
	ck_assert_str_eq(cluster_find(&c, k[3])->name, "online");
	ck_assert(cluster_is_removed(&c, k[4]));
	/* nothing more to drop now; later the others go too (no callback needed) */
	ck_assert_uint_eq(cluster_forget(&c, now, on_gone, &g), 0);
	ck_assert_uint_eq(cluster_forget(&c, now + 2 * FORGET, NULL, NULL), 4);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_int_eq(c.m[0].self, 1);
	ck_assert(cluster_is_removed(&c, k[4]));
	cluster_free(&c);
}
END_TEST

START_TEST(test_peers_fit)
{
	struct cluster c;
	uint8_t k[CLUSTER_ADDR_BYTES];
	size_t idx[CLUSTER_MAX], n;
	int seen[8] = { 0 };

	mkaddr(k, 1);
	ck_assert_int_eq(cluster_init(&c, k, "self", "", HB, FORGET, NOW), 0);
	ck_assert_uint_eq(cluster_peers(&c, 4, idx), 0);	/* alone */
	for (unsigned i = 2; i <= 7; i++) {
		mkaddr(k, i);
		ck_assert_ptr_nonnull(cluster_add(&c, k, "m", "", NOW));
	}
	mkaddr(k, 4);
	ck_assert_int_eq(cluster_remove(&c, k, NOW), 0);
	/* 5 live members besides self: max 5 and more take them all */
	for (size_t max = 5; max <= 9; max++) {
		memset(seen, 0, sizeof(seen));
		n = cluster_peers(&c, max, idx);
		ck_assert_uint_eq(n, 5);
		for (size_t i = 0; i < n; i++) {
			ck_assert_uint_lt(idx[i], c.n);
			ck_assert_int_eq(c.m[idx[i]].self, 0);
			ck_assert_int_eq(c.m[idx[i]].removed, 0);
			ck_assert_int_eq(seen[idx[i]], 0);
			seen[idx[i]] = 1;
		}
	}
	/* one fewer slot: the ring; 2*(max/2) of them */
	ck_assert_uint_eq(cluster_peers(&c, 4, idx), 4);
	ck_assert_uint_eq(cluster_peers(&c, 3, idx), 2);
	ck_assert_uint_eq(cluster_peers(&c, 2, idx), 2);
	cluster_free(&c);
}
END_TEST

#define RING 20

static const size_t ring_max[] = { 2, 3, 4, 5, 6, 7, 10, 17, 18 };

static int key_cmp(const void *x, const void *y)
{
	return memcmp(x, y, CLUSTER_ADDR_BYTES);
}

/* 20 tables over the same 20 members (and one tombstone), each with another self. */
START_TEST(test_peers_ring)
{
	static struct cluster t[RING];
	static uint8_t k[RING + 1][CLUSTER_ADDR_BYTES], sorted[RING][CLUSTER_ADDR_BYTES];
	static int picks[RING][RING];
	const size_t max = ring_max[_i], side = max / 2;
	size_t idx[CLUSTER_MAX];

	for (unsigned i = 0; i <= RING; i++)
		mkaddr(k[i], 100 + i);
	memcpy(sorted, k, sizeof(sorted));
	qsort(sorted, RING, CLUSTER_ADDR_BYTES, key_cmp);
	memset(picks, 0, sizeof(picks));
	for (unsigned s = 0; s < RING; s++) {
		ck_assert_int_eq(cluster_init(&t[s], k[s], "m", "", HB, FORGET, NOW), 0);
		/* each table learns the others in its own order, the tombstone midway */
		for (unsigned j = 1; j < RING; j++) {
			ck_assert_ptr_nonnull(cluster_add(&t[s], k[(s + j * 7) % RING], "m", "", NOW));
			if (j == RING / 2) {
				ck_assert_ptr_nonnull(cluster_add(&t[s], k[RING], "gone", "", NOW));
				ck_assert_int_eq(cluster_remove(&t[s], k[RING], NOW), 0);
			}
		}
		ck_assert_uint_eq(t[s].n, RING + 1);
	}
	for (unsigned s = 0; s < RING; s++) {
		size_t n = cluster_peers(&t[s], max, idx), me;

		ck_assert_uint_eq(n, 2 * side);
		ck_assert_uint_le(n, max);
		for (me = 0; memcmp(sorted[me], k[s], CLUSTER_ADDR_BYTES) != 0; me++)
			;
		for (size_t i = 0; i < n; i++) {
			const struct cluster_member *m;
			unsigned who = RING;
			size_t pos, dist;

			ck_assert_uint_lt(idx[i], t[s].n);
			m = &t[s].m[idx[i]];
			ck_assert_int_eq(m->self, 0);
			ck_assert_int_eq(m->removed, 0);
			for (unsigned j = 0; j < RING; j++)
				if (memcmp(m->addr, k[j], CLUSTER_ADDR_BYTES) == 0)
					who = j;
			ck_assert_uint_lt(who, RING);
			ck_assert_uint_ne(who, s);
			ck_assert_int_eq(picks[s][who], 0);	/* distinct */
			picks[s][who] = 1;
			/* one of the nearest on the ring of keys */
			for (pos = 0; memcmp(sorted[pos], k[who], CLUSTER_ADDR_BYTES) != 0; pos++)
				;
			dist = (pos + RING - me) % RING;
			if (RING - dist < dist)
				dist = RING - dist;
			ck_assert_uint_ge(dist, 1);
			ck_assert_uint_le(dist, side);
		}
	}
	/* mutual: if X picks Y then Y picks X */
	for (unsigned x = 0; x < RING; x++)
		for (unsigned y = 0; y < RING; y++)
			ck_assert_int_eq(picks[x][y], picks[y][x]);
	for (unsigned s = 0; s < RING; s++)
		cluster_free(&t[s]);
}
END_TEST

START_TEST(test_iso8601)
{
	char out[32];

	memset(out, 'x', sizeof(out));
	cluster_iso8601(0, out);
	ck_assert_str_eq(out, "");
	cluster_iso8601(-5000, out);
	ck_assert_str_eq(out, "");
	cluster_iso8601(1700000000000LL, out);
	ck_assert_str_eq(out, "2023-11-14T22:13:20Z");
	cluster_iso8601(1700000000999LL, out);
	ck_assert_str_eq(out, "2023-11-14T22:13:20Z");
	cluster_iso8601(951782400000LL, out);
	ck_assert_str_eq(out, "2000-02-29T00:00:00Z");
	cluster_iso8601(4102444799000LL, out);
	ck_assert_str_eq(out, "2099-12-31T23:59:59Z");
	cluster_iso8601(1, out);
	ck_assert_str_eq(out, "1970-01-01T00:00:00Z");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cluster");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_init);
	tcase_add_test(tc, test_add_find_update);
	tcase_add_loop_test(tc, test_state_thresholds, 0, 4);
	tcase_add_test(tc, test_down);
	tcase_add_test(tc, test_encode_layout);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_merge_refuses);
	tcase_add_test(tc, test_merge_count_limit);
	tcase_add_test(tc, test_tombstones);
	tcase_add_test(tc, test_beat);
	tcase_add_test(tc, test_bounce);
	tcase_add_test(tc, test_seq_rule);
	tcase_add_test(tc, test_restart);
	tcase_add_test(tc, test_forget);
	tcase_add_test(tc, test_peers_fit);
	tcase_add_loop_test(tc, test_peers_ring, 0, sizeof(ring_max) / sizeof(ring_max[0]));
	tcase_add_test(tc, test_iso8601);
	suite_add_tcase(s, tc);
	return check_run(s);
}
