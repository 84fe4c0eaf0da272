#include "cluster.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HB_VERSION 1
#define HB_HEADER 3			/* version, count */
#define HB_ENTRY_FIXED (CLUSTER_ADDR_BYTES + 1 + 1 + 8 + 8 + 8 + 1 + 1)
#define HB_REMOVED 1			/* entry flag: a tombstone */
#define AGE_MAX (10LL * 365 * 86400000)	/* evidence older than this is noise */

static int text_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static void set_text(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

int cluster_init(struct cluster *c, const uint8_t self[CLUSTER_ADDR_BYTES], const char *name,
		 const char *server, int64_t hb_ms, int64_t forget_ms, int64_t now)
{
	memset(c, 0, sizeof(*c));
	c->hb_ms = hb_ms;
	c->forget_ms = forget_ms;
	if (cluster_add(c, self, name, server, now) == NULL)
		return -ENOMEM;
	c->m[0].self = 1;
	c->m[0].last_hb = now;
	/* Numbers from the clock at start stay above those of earlier runs. */
	c->m[0].hb_seq = (uint64_t)(now > 0 ? now : 0) * 1000;
	return 0;
}

void cluster_beat(struct cluster *c)
{
	c->m[0].hb_seq++;
}

void cluster_free(struct cluster *c)
{
	free(c->m);
	memset(c, 0, sizeof(*c));
}

struct cluster_member *cluster_find(struct cluster *c, const uint8_t pk[CLUSTER_KEY_BYTES])
{
	for (size_t i = 0; i < c->n; i++)
		if (memcmp(c->m[i].addr, pk, CLUSTER_KEY_BYTES) == 0)
			return &c->m[i];
	return NULL;
}

struct cluster_member *cluster_add(struct cluster *c, const uint8_t addr[CLUSTER_ADDR_BYTES],
				   const char *name, const char *server, int64_t first_seen)
{
	struct cluster_member *m = cluster_find(c, addr);

	if (m == NULL) {
		if (c->n == CLUSTER_MAX)
			return NULL;
		if (c->n == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 16;
			struct cluster_member *nm = realloc(c->m, cap * sizeof(*nm));

			if (nm == NULL)
				return NULL;
			c->m = nm;
			c->cap = cap;
		}
		m = &c->m[c->n++];
		memset(m, 0, sizeof(*m));
		memcpy(m->addr, addr, CLUSTER_ADDR_BYTES);
		m->first_seen = first_seen;
	} else if (first_seen > 0 && (m->first_seen == 0 || first_seen < m->first_seen)) {
		m->first_seen = first_seen;
	}
	/* The address's nospam and checksum may be learnt later than the key. */
	memcpy(m->addr, addr, CLUSTER_ADDR_BYTES);
	if (name != NULL)
		set_text(m->name, sizeof(m->name), name, strlen(name));
	if (server != NULL)
		set_text(m->server, sizeof(m->server), server, strlen(server));
	m->dirty = 1;
	return m;
}

enum cluster_state cluster_state(const struct cluster *c, const struct cluster_member *m,
				 int64_t now)
{
	int64_t age, slack;

	if (m->removed)
		return CL_REMOVED;
	if (m->self)
		return CL_ONLINE;
	if (m->last_hb == 0 || m->down >= m->last_hb)
		return CL_OFFLINE;
	age = now - m->last_hb;
	slack = (int64_t)m->hops * c->hb_ms;	/* relayed evidence is older */
	if (age <= c->hb_ms * 3 / 2 + slack)
		return CL_ONLINE;
	if (age <= 2 * c->hb_ms + slack)
		return CL_STALE;
	return CL_OFFLINE;
}

const char *cluster_state_name(enum cluster_state s)
{
	switch (s) {
	case CL_ONLINE: return "online";
	case CL_STALE: return "stale";
	case CL_OFFLINE: return "offline";
	case CL_REMOVED: return "removed";
	}
	return "?";
}

void cluster_heard(struct cluster_member *m, int64_t now)
{
	if (now > m->last_hb) {
		m->last_hb = now;
		m->hops = 0;
		m->dirty = 1;
	}
}

void cluster_down(struct cluster_member *m, int64_t now)
{
	m->down = now;
	m->direct = 0;
}

int cluster_remove(struct cluster *c, const uint8_t pk[CLUSTER_KEY_BYTES], int64_t now)
{
	struct cluster_member *m = cluster_find(c, pk);

	if (m == NULL)
		return -ENOENT;
	if (m->self)
		return -EINVAL;
	if (m->removed == 0) {
		m->removed = now;
		m->removed_seen = now;
		m->dirty = 1;
	}
	return 0;
}

int cluster_is_removed(struct cluster *c, const uint8_t pk[CLUSTER_KEY_BYTES])
{
	struct cluster_member *m = cluster_find(c, pk);

	return m != NULL && m->removed != 0;
}

size_t cluster_removed_count(const struct cluster *c)
{
	size_t k = 0;

	for (size_t i = 0; i < c->n; i++)
		k += c->m[i].removed != 0;
	return k;
}

size_t cluster_forget(struct cluster *c, int64_t now,
		      void (*gone)(const struct cluster_member *m, void *ctx), void *ctx)
{
	size_t dropped = 0;

	for (size_t i = 1; i < c->n;) {
		struct cluster_member *m = &c->m[i];
		int64_t seen = m->last_hb > m->first_seen ? m->last_hb : m->first_seen;

		/* Tombstones stay: a removed node must never be admitted again. */
		if (!m->removed && cluster_state(c, m, now) == CL_OFFLINE &&
		    now - seen > c->forget_ms) {
			if (gone != NULL)
				gone(m, ctx);
			c->m[i] = c->m[--c->n];
			dropped++;
			continue;
		}
		i++;
	}
	return dropped;
}

static const struct cluster *sort_ctx;

static int by_key(const void *a, const void *b)
{
	return memcmp(sort_ctx->m[*(const size_t *)a].addr, sort_ctx->m[*(const size_t *)b].addr,
		      CLUSTER_KEY_BYTES);
}

size_t cluster_peers(const struct cluster *c, size_t max, size_t *idx)
{
	size_t ring[CLUSTER_MAX], n = 0, me = 0, out = 0, side;

	for (size_t i = 0; i < c->n; i++)
		if (!c->m[i].removed)
			ring[n++] = i;
	if (n - 1 <= max) {
		for (size_t i = 0; i < n; i++)
			if (!c->m[ring[i]].self)
				idx[out++] = ring[i];
		return out;
	}
	sort_ctx = c;	/* the net thread alone calls this */
	qsort(ring, n, sizeof(ring[0]), by_key);
	while (!c->m[ring[me]].self)
		me++;
	/* The same count on both sides keeps the choice mutual. */
	side = max / 2 ? max / 2 : 1;
	for (size_t d = 1; d <= side; d++) {
		idx[out++] = ring[(me + d) % n];
		idx[out++] = ring[(me + n - d) % n];
	}
	return out;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int cluster_encode(const struct cluster *c, int64_t now, uint8_t **out, size_t *len)
{
	size_t cap = HB_HEADER, count = 0;
	uint8_t *buf, *p;

	for (size_t i = 0; i < c->n; i++)
		cap += HB_ENTRY_FIXED + strlen(c->m[i].name) + strlen(c->m[i].server);
	if ((buf = malloc(cap)) == NULL)
		return -ENOMEM;
	p = buf + HB_HEADER;
	for (size_t i = 0; i < c->n; i++) {
		const struct cluster_member *m = &c->m[i];
		size_t nl = strlen(m->name), sl = strlen(m->server);
		int64_t age;

		/* Only what this node has evidence of; never a member it has
		   not heard of at all. */
		if (!m->removed && !m->self && m->last_hb == 0)
			continue;
		age = m->removed ? now - m->removed : m->self ? 0 : now - m->last_hb;
		memcpy(p, m->addr, CLUSTER_ADDR_BYTES);
		p += CLUSTER_ADDR_BYTES;
		*p++ = m->removed ? HB_REMOVED : 0;
		*p++ = (uint8_t)(m->self ? 0 : m->hops);
		p = put_u64(p, m->hb_seq);
		p = put_u64(p, (uint64_t)(age < 0 ? 0 : age));
		p = put_u64(p, (uint64_t)m->first_seen);
		*p++ = (uint8_t)nl;
		memcpy(p, m->name, nl);
		p += nl;
		*p++ = (uint8_t)sl;
		memcpy(p, m->server, sl);
		p += sl;
		count++;
	}
	buf[0] = HB_VERSION;
	buf[1] = (uint8_t)count;
	buf[2] = (uint8_t)(count >> 8);
	*out = buf;
	*len = (size_t)(p - buf);
	return 0;
}

struct hb_entry {
	const uint8_t *addr;
	int removed, hops;
	uint64_t seq;
	int64_t age, first_seen;
	const char *name, *server;
	size_t name_len, server_len;
};

/* Parse entry at *p (len bytes left); advances *p.  0 or -EBADMSG. */
static int parse_entry(const uint8_t **p, size_t *left, struct hb_entry *e)
{
	const uint8_t *q = *p;
	uint64_t age, first;

	if (*left < HB_ENTRY_FIXED)
		return -EBADMSG;
	e->addr = q;
	q += CLUSTER_ADDR_BYTES;
	if (*q & ~HB_REMOVED)
		return -EBADMSG;
	e->removed = *q++ & HB_REMOVED;
	e->hops = *q++;
	e->seq = get_u64(q);
	q += 8;
	age = get_u64(q);
	q += 8;
	first = get_u64(q);
	q += 8;
	if (age > (uint64_t)AGE_MAX || first > (uint64_t)INT64_MAX)
		return -EBADMSG;
	e->age = (int64_t)age;
	e->first_seen = (int64_t)first;
	e->name_len = *q++;
	if ((size_t)(q - *p) + e->name_len + 1 > *left)
		return -EBADMSG;
	e->name = (const char *)q;
	q += e->name_len;
	e->server_len = *q++;
	if ((size_t)(q - *p) + e->server_len > *left)
		return -EBADMSG;
	e->server = (const char *)q;
	q += e->server_len;
	if (e->name_len == 0 || !text_ok(e->name, e->name_len) ||
	    !text_ok(e->server, e->server_len))
		return -EBADMSG;
	*left -= (size_t)(q - *p);
	*p = q;
	return 0;
}

static void merge_entry(struct cluster *c, const struct hb_entry *e, int sender, int64_t now,
			int *self_removed)
{
	struct cluster_member *m = cluster_find(c, e->addr);
	char name[CLUSTER_NAME_MAX + 1], server[CLUSTER_SERVER_MAX + 1];
	int64_t t = now - e->age;
	/* A first-seen time in the future of this clock is not believed. */
	int64_t first = e->first_seen > 0 && e->first_seen <= now ? e->first_seen : now;

	if (m != NULL && m->self) {
		if (e->removed)
			*self_removed = 1;
		return;
	}
	if (m != NULL && m->removed)
		return;	/* a tombstone is never undone */
	set_text(name, sizeof(name), e->name, e->name_len);
	set_text(server, sizeof(server), e->server, e->server_len);
	if (e->removed) {
		if ((m = cluster_add(c, e->addr, m ? NULL : name, m ? NULL : server, first)) != NULL) {
			m->removed = t > 0 ? t : now;
			m->removed_seen = now;
			m->direct = 0;
		}
		return;
	}
	if (!sender && e->hops + 1 > CLUSTER_HOPS_MAX)
		return;
	if (sender || m == NULL || e->seq > m->hb_seq) {
		/* A newer heartbeat also brings the current name. */
		if ((m = cluster_add(c, e->addr, name, server, first)) == NULL)
			return;
		if (e->seq > m->hb_seq)
			m->hb_seq = e->seq;
		if (sender) {
			m->last_hb = now;	/* heard it just now */
			m->hops = 0;
		} else if (t > m->last_hb) {
			m->last_hb = t;
			m->hops = e->hops + 1;
		}
	} else if (first < m->first_seen) {
		m->first_seen = first;
		m->dirty = 1;
	}
}

int cluster_merge(struct cluster *c, const uint8_t from[CLUSTER_KEY_BYTES], const uint8_t *buf,
		  size_t len, int64_t now, int *self_removed)
{
	struct hb_entry *e;
	const uint8_t *p;
	size_t count, left;
	int r = 0;

	*self_removed = 0;
	if (len < HB_HEADER || buf[0] != HB_VERSION)
		return -EBADMSG;
	count = (size_t)buf[1] | (size_t)buf[2] << 8;
	if (count == 0 || count > CLUSTER_MAX)
		return -EBADMSG;
	if ((e = calloc(count, sizeof(*e))) == NULL)
		return -ENOMEM;
	/* Check all of it before applying any of it. */
	p = buf + HB_HEADER;
	left = len - HB_HEADER;
	for (size_t i = 0; i < count && r == 0; i++)
		r = parse_entry(&p, &left, &e[i]);
	if (r == 0 && (left != 0 || memcmp(e[0].addr, from, CLUSTER_KEY_BYTES) != 0 ||
		       e[0].removed || e[0].age != 0))
		r = -EBADMSG;
	for (size_t i = 0; i < count && r == 0; i++)
		merge_entry(c, &e[i], i == 0, now, self_removed);
	free(e);
	return r == 0 ? (int)count : r;
}

void cluster_iso8601(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	out[0] = '\0';
	if (ms <= 0 || gmtime_r(&t, &tm) == NULL)
		return;
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
