#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void wire_msg_clear(struct wire_msg *m)
{
	free(m->resource);
	free(m->body);
	memset(m, 0, sizeof(*m));
}

int wire_encode(const struct wire_msg *m, uint8_t **out, size_t *len)
{
	size_t rlen = m->resource ? strlen(m->resource) : 0, total;
	uint8_t *b, *p;

	*out = NULL;
	if (rlen > WIRE_RESOURCE_MAX || m->body_len > WIRE_BODY_MAX)
		return -EMSGSIZE;
	if (m->type < WIRE_REQUEST || m->type > WIRE_NOTICE)
		return -EINVAL;
	total = WIRE_MSG_HEADER + rlen + m->body_len;
	if ((b = malloc(total)) == NULL)
		return -ENOMEM;
	p = b;
	*p++ = WIRE_VERSION;
	*p++ = m->type;
	put16(p, m->method), p += 2;
	put16(p, m->status), p += 2;
	put64(p, m->id), p += 8;
	memcpy(p, m->from, WIRE_KEY_BYTES), p += WIRE_KEY_BYTES;
	memcpy(p, m->to, WIRE_KEY_BYTES), p += WIRE_KEY_BYTES;
	put16(p, (uint16_t)rlen), p += 2;
	put32(p, (uint32_t)m->body_len), p += 4;
	if (rlen)
		memcpy(p, m->resource, rlen), p += rlen;
	if (m->body_len)
		memcpy(p, m->body, m->body_len);
	*out = b;
	*len = total;
	return 0;
}

int wire_decode(const uint8_t *buf, size_t len, struct wire_msg *m)
{
	const uint8_t *p = buf;
	size_t rlen, blen;

	memset(m, 0, sizeof(*m));
	if (len < WIRE_MSG_HEADER)
		return -EBADMSG;
	if (p[0] != WIRE_VERSION)
		return -EPROTO;
	if (p[1] < WIRE_REQUEST || p[1] > WIRE_NOTICE)
		return -EBADMSG;
	m->type = p[1];
	m->method = get16(p + 2);
	m->status = get16(p + 4);
	m->id = get64(p + 6);
	memcpy(m->from, p + 14, WIRE_KEY_BYTES);
	memcpy(m->to, p + 14 + WIRE_KEY_BYTES, WIRE_KEY_BYTES);
	p += 14 + 2 * WIRE_KEY_BYTES;
	rlen = get16(p);
	blen = get32(p + 2);
	p += 6;
	if (rlen > WIRE_RESOURCE_MAX || blen > WIRE_BODY_MAX)
		return -EMSGSIZE;
	/* The lengths must account for every byte, no more, no less. */
	if (len - WIRE_MSG_HEADER != rlen + blen)
		return -EBADMSG;
	if (memchr(p, '\0', rlen) != NULL)
		return -EBADMSG;
	if ((m->resource = malloc(rlen + 1)) == NULL)
		return -ENOMEM;
	memcpy(m->resource, p, rlen);
	m->resource[rlen] = '\0';
	p += rlen;
	if (blen > 0) {
		if ((m->body = malloc(blen)) == NULL) {
			wire_msg_clear(m);
			return -ENOMEM;
		}
		memcpy(m->body, p, blen);
	}
	m->body_len = blen;
	return 0;
}

size_t wire_packets(size_t len)
{
	return len == 0 ? 1 : (len + WIRE_FRAG_PAYLOAD - 1) / WIRE_FRAG_PAYLOAD;
}

size_t wire_packet(uint32_t seq, const uint8_t *msg, size_t len, size_t index, uint8_t *pkt)
{
	size_t off = index * WIRE_FRAG_PAYLOAD, n;

	n = off >= len ? 0 : len - off < WIRE_FRAG_PAYLOAD ? len - off : WIRE_FRAG_PAYLOAD;
	pkt[0] = WIRE_PACKET_ID;
	put32(pkt + 1, seq);
	put32(pkt + 5, (uint32_t)len);
	put32(pkt + 9, (uint32_t)off);
	if (n)
		memcpy(pkt + WIRE_FRAG_HEADER, msg + off, n);
	return WIRE_FRAG_HEADER + n;
}

struct partial {
	uint32_t seq;
	uint32_t total;
	uint32_t got;		/* bytes received so far, all contiguous */
	int64_t started, last;	/* first and latest packet (caller's clock) */
	size_t cap;
	uint8_t *buf;
};

struct wire_reasm {
	size_t max_msgs, max_bytes;
	size_t held;		/* sum of cap of live partials */
	size_t n;
	struct partial *v;	/* max_msgs slots, the first n in use */
	struct wire_stats st;
};

struct wire_reasm *wire_reasm_new(size_t max_msgs, size_t max_bytes)
{
	struct wire_reasm *r = calloc(1, sizeof(*r));

	if (r == NULL || max_msgs == 0)
		goto fail;
	if ((r->v = calloc(max_msgs, sizeof(*r->v))) == NULL)
		goto fail;
	r->max_msgs = max_msgs;
	r->max_bytes = max_bytes;
	return r;
fail:
	free(r);
	return NULL;
}

static void drop(struct wire_reasm *r, size_t i)
{
	r->held -= r->v[i].cap;
	free(r->v[i].buf);
	r->v[i] = r->v[--r->n];
	memset(&r->v[r->n], 0, sizeof(r->v[r->n]));
}

/* The partial message (other than slot skip) whose last packet came
   first. */
static size_t stalest(const struct wire_reasm *r, size_t skip)
{
	size_t o = r->n;

	for (size_t i = 0; i < r->n; i++)
		if (i != skip && (o == r->n || r->v[i].last < r->v[o].last))
			o = i;
	return o;
}

void wire_reasm_reset(struct wire_reasm *r)
{
	while (r->n > 0)
		drop(r, r->n - 1);
}

void wire_reasm_free(struct wire_reasm *r)
{
	if (r == NULL)
		return;
	wire_reasm_reset(r);
	free(r->v);
	free(r);
}

size_t wire_reasm_held(const struct wire_reasm *r, size_t *msgs)
{
	if (msgs != NULL)
		*msgs = r->n;
	return r->held;
}

void wire_reasm_stats(const struct wire_reasm *r, struct wire_stats *st)
{
	*st = r->st;
}

int wire_reasm_oldest(const struct wire_reasm *r, struct wire_partial *out)
{
	const struct partial *o = NULL;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < r->n; i++)
		if (o == NULL || r->v[i].started < o->started)
			o = &r->v[i];
	if (o == NULL)
		return 0;
	out->got = o->got;
	out->total = o->total;
	out->started = o->started;
	out->last = o->last;
	return 1;
}

int wire_reasm_feed(struct wire_reasm *r, const uint8_t *pkt, size_t n, uint8_t **msg, size_t *len)
{
	return wire_reasm_feed_at(r, 0, pkt, n, msg, len);
}

int wire_reasm_feed_at(struct wire_reasm *r, int64_t now, const uint8_t *pkt, size_t n,
		       uint8_t **msg, size_t *len)
{
	uint32_t seq, total, off;
	size_t i, data;
	struct partial *p = NULL;

	*msg = NULL;
	*len = 0;
	if (n < WIRE_FRAG_HEADER || n > WIRE_PACKET_MAX || (pkt[0] != WIRE_PACKET_ID && pkt[0] != WIRE_PACKET_UNCOUNTED)) {
		r->st.malformed++;
		return -EBADMSG;
	}
	seq = get32(pkt + 1);
	total = get32(pkt + 5);
	off = get32(pkt + 9);
	data = n - WIRE_FRAG_HEADER;
	if (total > WIRE_MSG_MAX || data > total || off > total - data ||
	    (data == 0 && total != 0)) {
		r->st.malformed++;
		return -EBADMSG;
	}
	for (i = 0; i < r->n; i++)
		if (r->v[i].seq == seq) {
			p = &r->v[i];
			break;
		}
	if (p == NULL) {
		if (off != 0) {		/* a message starts at its first byte */
			r->st.out_of_order++;
			return -EPROTO;
		}
		if (data == total) {	/* whole in one packet: no state kept */
			if ((*msg = malloc(total ? total : 1)) == NULL)
				return -ENOMEM;
			memcpy(*msg, pkt + WIRE_FRAG_HEADER, data);
			*len = total;
			r->st.packets++;
			r->st.messages++;
			return 1;
		}
		/* Every slot taken: the message whose last packet came
		   longest ago goes (its sender gave it up, or dropped its
		   queue).  A sender sends one message of each queue at a
		   time, so a live one is never the stalest of several. */
		if (r->n == r->max_msgs) {
			r->st.expired++;
			drop(r, stalest(r, r->n));
		}
		p = &r->v[r->n++];
		memset(p, 0, sizeof(*p));
		p->seq = seq;
		p->total = total;
		p->started = now;
		i = r->n - 1;
	} else if (p->total != total || p->got != off) {
		r->st.out_of_order++;
		drop(r, i);
		return -EPROTO;
	}
	/* Grow with what arrives, never to what the sender merely claims. */
	if (p->got + data > p->cap) {
		size_t cap = p->cap ? p->cap : 4 * WIRE_FRAG_PAYLOAD;
		uint8_t *b;

		while (cap < p->got + data)
			cap *= 2;
		if (cap > p->total)
			cap = p->total;
		/* Over the byte cap: staler messages go first, then this one. */
		while (r->held - p->cap + cap > r->max_bytes && r->n > 1) {
			size_t j = stalest(r, i);

			r->st.expired++;
			drop(r, j);
			if (i == r->n)		/* drop() moved the last slot to j */
				i = j;
			p = &r->v[i];
		}
		if (r->held - p->cap + cap > r->max_bytes) {
			r->st.over_cap++;
			drop(r, i);
			return -ENOBUFS;
		}
		if ((b = realloc(p->buf, cap)) == NULL) {
			drop(r, i);
			return -ENOMEM;
		}
		r->held += cap - p->cap;
		p->buf = b;
		p->cap = cap;
	}
	memcpy(p->buf + p->got, pkt + WIRE_FRAG_HEADER, data);
	p->got += (uint32_t)data;
	p->last = now;
	r->st.packets++;
	if (p->got < p->total)
		return 0;
	*msg = p->buf;
	*len = p->total;
	r->held -= p->cap;
	p->buf = NULL;
	p->cap = 0;
	r->v[i] = r->v[--r->n];
	memset(&r->v[r->n], 0, sizeof(r->v[r->n]));
	r->st.messages++;
	return 1;
}
