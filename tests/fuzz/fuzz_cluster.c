/*
 * libFuzzer target for the heartbeat decoder (src/proto/cluster), which reads
 * what any member sends.  The input is merged into a table that already
 * holds a few members, once as from the key in its first 32 bytes and
 * once as from the key of its first entry (so the sender check can pass).
 * Whatever it holds then must be a sane table (within CLUSTER_MAX, this
 * node first, names and servers terminated and printable), and its own
 * heartbeat must be accepted by a fresh table.  That heartbeat echoed
 * back by a table that knew nothing else must change none of its
 * evidence (heartbeat numbers: an old heartbeat relayed back and forth
 * never looks newer, nearer or renamed).  The input is also read as the
 * fields of a well-formed heartbeat (keys from a small set, any numbers,
 * hops and ages), which must be taken whole, and taken again as a replay
 * without any member's evidence changing but the sender's.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

#define HB 1000
#define FORGET 60000
#define NOW 1700000000000LL
#define HEADER 3
#define ENTRY_FIXED (CLUSTER_ADDR_BYTES + 1 + 1 + 8 + 8 + 8 + 1 + 1)
#define SENDER 50			/* the key of the well-formed heartbeats */
#define CHUNK 16			/* input bytes per entry of those */

static void mkaddr(uint8_t addr[CLUSTER_ADDR_BYTES], uint8_t tag)
{
	for (int i = 0; i < CLUSTER_ADDR_BYTES; i++)
		addr[i] = (uint8_t)(tag * 37 + i * 11);
}

static void text_sane(const char *s, size_t cap)
{
	const char *end = memchr(s, '\0', cap);

	if (end == NULL)
		abort();
	for (const char *p = s; p < end; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
}

static void table_sane(struct cluster *c)
{
	size_t idx[CLUSTER_MAX], k;

	if (c->n == 0 || c->n > CLUSTER_MAX || c->n > c->cap || !c->m[0].self)
		abort();
	for (size_t i = 0; i < c->n; i++) {
		const struct cluster_member *m = &c->m[i];

		if (i > 0 && m->self)
			abort();
		text_sane(m->name, sizeof(m->name));
		text_sane(m->server, sizeof(m->server));
		if (m->hops < 0 || m->hops > CLUSTER_HOPS_MAX)
			abort();
		if (cluster_find(c, m->addr) != m)	/* one entry per key */
			abort();
		if (cluster_state(c, m, NOW) > CL_REMOVED)
			abort();
	}
	k = cluster_peers(c, 6, idx);
	if (k > c->n)
		abort();
	for (size_t i = 0; i < k; i++)
		if (idx[i] >= c->n || c->m[idx[i]].self || c->m[idx[i]].removed)
			abort();
}

/* A table with a few members: heard, relayed, never heard, a tombstone. */
static void table(struct cluster *c, uint8_t tag)
{
	uint8_t a[CLUSTER_ADDR_BYTES];
	struct cluster_member *m;

	mkaddr(a, tag);
	if (cluster_init(c, a, "self", "127.0.0.1:8080", HB, FORGET, NOW - 100000) != 0)
		abort();
	mkaddr(a, (uint8_t)(tag + 1));
	if ((m = cluster_add(c, a, "heard", "10.0.0.1:1", NOW - 90000)) == NULL)
		abort();
	cluster_heard(m, NOW - 500);
	m->hb_seq = (uint64_t)(NOW - 500) * 1000;
	mkaddr(a, (uint8_t)(tag + 2));
	if ((m = cluster_add(c, a, "relayed", "", NOW - 80000)) == NULL)
		abort();
	m->last_hb = NOW - 2000;
	m->hops = 3;
	m->hb_seq = 7;
	mkaddr(a, (uint8_t)(tag + 3));
	if (cluster_add(c, a, "never", "", NOW - 70000) == NULL)
		abort();
	mkaddr(a, (uint8_t)(tag + 4));
	if (cluster_add(c, a, "gone", "", NOW - 60000) == NULL ||
	    cluster_remove(c, a, NOW - 1000) != 0)
		abort();
}

/* c's heartbeat, taken by a table with nothing else and sent straight back. */
static void echo(struct cluster *c)
{
	struct cluster e;
	struct cluster_member *before;
	uint8_t ek[CLUSTER_ADDR_BYTES], *hb;
	size_t len, n = c->n;
	int r, self_removed = -1;

	mkaddr(ek, 201);
	if ((before = malloc(n * sizeof(*before))) == NULL)
		abort();
	memcpy(before, c->m, n * sizeof(*before));
	if (cluster_init(&e, ek, "echo", "", HB, FORGET, NOW) != 0)
		abort();
	if (cluster_encode(c, NOW, &hb, &len) != 0)
		abort();
	r = cluster_merge(&e, c->m[0].addr, hb, len, NOW + 5, &self_removed);
	if (r <= 0 || r != (hb[1] | hb[2] << 8))
		abort();
	free(hb);
	table_sane(&e);
	if (cluster_encode(&e, NOW + 10, &hb, &len) != 0)
		abort();
	r = cluster_merge(c, e.m[0].addr, hb, len, NOW + 15, &self_removed);
	if (r <= 0 || r != (hb[1] | hb[2] << 8) || self_removed != 0)
		abort();
	free(hb);
	table_sane(c);
	/* merging only adds: the echo table itself at most */
	if (c->n < n || c->n > n + 1)
		abort();
	for (size_t i = 0; i < n; i++) {
		const struct cluster_member *o = &before[i], *m = &c->m[i];

		if (memcmp(o->addr, m->addr, CLUSTER_KEY_BYTES) != 0)
			abort();
		if (memcmp(o->addr, ek, CLUSTER_KEY_BYTES) == 0)
			continue;	/* the input named the echo table: it spoke for itself */
		if (m->last_hb != o->last_hb || m->hops != o->hops || m->hb_seq != o->hb_seq ||
		    m->removed != o->removed || m->self != o->self ||
		    strcmp(m->name, o->name) != 0 || strcmp(m->server, o->server) != 0 ||
		    m->first_seen > o->first_seen)
			abort();
	}
	free(before);
	cluster_free(&e);
}

/* After a merge into c: everything said of it must hold. */
static void after(struct cluster *c)
{
	struct cluster d;
	uint8_t *hb;
	size_t len;
	int r, self_removed = -1;

	table_sane(c);
	/* what this table says now, a fresh table must take */
	if (cluster_encode(c, NOW, &hb, &len) != 0)
		abort();
	table(&d, 101);
	r = cluster_merge(&d, c->m[0].addr, hb, len, NOW, &self_removed);
	if (r <= 0 || r != (hb[1] | hb[2] << 8))
		abort();
	table_sane(&d);
	free(hb);
	cluster_free(&d);
	echo(c);
	/* forgetting keeps the table sane */
	cluster_forget(c, NOW + 10 * FORGET, NULL, NULL);
	table_sane(c);
}

static void try_merge(const uint8_t from[CLUSTER_KEY_BYTES], const uint8_t *data, size_t size)
{
	struct cluster c;
	int r, self_removed = -1;

	table(&c, 1);
	r = cluster_merge(&c, from, data, size, NOW, &self_removed);
	if ((r <= 0 && r != -EBADMSG && r != -ENOMEM) || (self_removed != 0 && self_removed != 1))
		abort();
	if (r > 0 && (size < HEADER || r != (data[1] | data[2] << 8)))
		abort();
	after(&c);
	cluster_free(&c);
}

static uint64_t u64_at(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint8_t *put_entry(uint8_t *p, uint8_t tag, uint8_t flags, uint8_t hops, uint64_t seq,
			  uint64_t age, uint64_t first, const char *name, const char *server)
{
	size_t nl = strlen(name), sl = strlen(server);

	mkaddr(p, tag);
	p += CLUSTER_ADDR_BYTES;
	*p++ = flags;
	*p++ = hops;
	p = put_u64(p, seq);
	p = put_u64(p, age);
	p = put_u64(p, first);
	*p++ = (uint8_t)nl;
	memcpy(p, name, nl);
	p += nl;
	*p++ = (uint8_t)sl;
	memcpy(p, server, sl);
	return p + sl;
}

/* The input as the fields of a heartbeat from SENDER that is well formed. */
static void structured(const uint8_t *data, size_t size)
{
	/* table 1's members and the echo table (numbers near theirs), others */
	static const uint8_t tags[16] = { 1, 2, 3, 4, 5, 201, 101, SENDER,
					  60, 61, 62, 63, 64, 65, 66, 67 };
	static const uint64_t near[4] = { 0, 7, (uint64_t)(NOW - 500) * 1000,
					  (uint64_t)(NOW - 100000) * 1000 };
	static uint8_t buf[HEADER + CLUSTER_MAX * (ENTRY_FIXED + 2 + 3)];
	struct cluster c;
	struct cluster_member *before;
	uint8_t *p = buf + HEADER, from[CLUSTER_ADDR_BYTES];
	size_t count = 1, n, len;
	int r, self_removed = -1;

	if (size < 8)
		return;
	p = put_entry(p, SENDER, 0, data[0], u64_at(data, 8), 0, NOW - 5000, "sender", "s:1");
	for (size_t off = 8; off + CHUNK <= size && count < CLUSTER_MAX; off += CHUNK, count++) {
		const uint8_t *q = data + off;
		char name[3] = { 'n', (char)('a' + q[15] % 26), '\0' };
		uint64_t seq = q[2] & 3 ? near[q[2] & 3] + (uint64_t)(int64_t)(int8_t)q[3]
					: u64_at(q + 3, 8);
		uint64_t age = u64_at(q + 11, 4);

		p = put_entry(p, tags[q[0] & 15], (uint8_t)(q[0] >> 4 & 1),
			      (uint8_t)(q[1] % (CLUSTER_HOPS_MAX + 2)), seq, age,
			      q[15] & 0x80 ? (uint64_t)(NOW + 1000) : (uint64_t)(NOW - 1000) - age,
			      name, q[15] & 0x40 ? "h:2" : "");
	}
	buf[0] = 1;
	buf[1] = (uint8_t)count;
	buf[2] = (uint8_t)(count >> 8);
	len = (size_t)(p - buf);
	mkaddr(from, SENDER);
	table(&c, 1);
	r = cluster_merge(&c, from, buf, len, NOW, &self_removed);
	if (r != (int)count || (self_removed != 0 && self_removed != 1))
		abort();
	table_sane(&c);
	/* the same heartbeat again: only the sender is heard anew */
	n = c.n;
	if ((before = malloc(n * sizeof(*before))) == NULL)
		abort();
	memcpy(before, c.m, n * sizeof(*before));
	r = cluster_merge(&c, from, buf, len, NOW + 7, &self_removed);
	if (r != (int)count || c.n != n)
		abort();
	for (size_t i = 0; i < n; i++) {
		const struct cluster_member *o = &before[i], *m = &c.m[i];

		if (memcmp(o->addr, from, CLUSTER_KEY_BYTES) == 0)
			continue;
		if (m->last_hb != o->last_hb || m->hops != o->hops || m->hb_seq != o->hb_seq ||
		    m->removed != o->removed || strcmp(m->name, o->name) != 0 ||
		    strcmp(m->server, o->server) != 0 || m->first_seen != o->first_seen)
			abort();
	}
	free(before);
	after(&c);
	cluster_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t from[CLUSTER_KEY_BYTES] = { 0 };

	memcpy(from, data, size < sizeof(from) ? size : sizeof(from));
	try_merge(from, data, size);
	if (size >= HEADER + CLUSTER_KEY_BYTES)
		try_merge(data + HEADER, data, size);
	structured(data, size);
	return 0;
}
