/* wire: message encoding and fragmentation, and their refusals. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "check_run.h"

static struct wire_msg sample(size_t body_len)
{
	struct wire_msg m = { .type = WIRE_REQUEST, .method = 7, .status = 0, .id = 0x1122334455667788ULL };

	memset(m.from, 0xaa, sizeof(m.from));
	memset(m.to, 0xbb, sizeof(m.to));
	m.resource = strdup("/movies/a file.avi");
	m.body_len = body_len;
	if (body_len) {
		m.body = malloc(body_len);
		for (size_t i = 0; i < body_len; i++)
			m.body[i] = (uint8_t)(i * 31 + 7);
	}
	return m;
}

static void assert_same(const struct wire_msg *a, const struct wire_msg *b)
{
	ck_assert_int_eq(a->type, b->type);
	ck_assert_int_eq(a->method, b->method);
	ck_assert_int_eq(a->status, b->status);
	ck_assert(a->id == b->id);
	ck_assert_mem_eq(a->from, b->from, WIRE_KEY_BYTES);
	ck_assert_mem_eq(a->to, b->to, WIRE_KEY_BYTES);
	ck_assert_str_eq(a->resource, b->resource);
	ck_assert_uint_eq(a->body_len, b->body_len);
	if (a->body_len)
		ck_assert_mem_eq(a->body, b->body, a->body_len);
}

START_TEST(test_encode_decode)
{
	static const size_t sizes[] = { 0, 1, 1000, 1 << 20 };
	struct wire_msg m = sample(sizes[_i]), d;
	uint8_t *buf;
	size_t len;

	ck_assert_int_eq(wire_encode(&m, &buf, &len), 0);
	ck_assert_uint_eq(len, WIRE_MSG_HEADER + strlen(m.resource) + m.body_len);
	/* fixed little-endian layout: the id starts at byte 6 */
	ck_assert_int_eq(buf[6], 0x88);
	ck_assert_int_eq(buf[13], 0x11);
	ck_assert_int_eq(wire_decode(buf, len, &d), 0);
	assert_same(&m, &d);
	/* every truncation is refused */
	for (size_t cut = 0; cut < len && cut < 4096; cut++) {
		struct wire_msg t;

		ck_assert_int_ne(wire_decode(buf, cut, &t), 0);
	}
	free(buf);
	wire_msg_clear(&d);
	wire_msg_clear(&m);
}
END_TEST

START_TEST(test_decode_refuses)
{
	struct wire_msg m = sample(10), d;
	uint8_t *buf, *big;
	size_t len;

	ck_assert_int_eq(wire_encode(&m, &buf, &len), 0);
	buf[0] = 9;					/* unknown version */
	ck_assert_int_eq(wire_decode(buf, len, &d), -EPROTO);
	buf[0] = WIRE_VERSION;
	buf[1] = 0;					/* unknown type */
	ck_assert_int_eq(wire_decode(buf, len, &d), -EBADMSG);
	buf[1] = WIRE_REQUEST;
	buf[WIRE_MSG_HEADER + 2] = '\0';		/* NUL inside the resource */
	ck_assert_int_eq(wire_decode(buf, len, &d), -EBADMSG);
	buf[WIRE_MSG_HEADER + 2] = 'm';
	buf[14 + 64 + 2 + 3] = 0x7f;			/* body length far too big */
	ck_assert_int_eq(wire_decode(buf, len, &d), -EMSGSIZE);
	free(buf);
	/* an encoder refuses what a decoder would */
	big = calloc(1, WIRE_RESOURCE_MAX + 2);
	memset(big, 'x', WIRE_RESOURCE_MAX + 1);
	free(m.resource);
	m.resource = (char *)big;
	ck_assert_int_eq(wire_encode(&m, &buf, &len), -EMSGSIZE);
	wire_msg_clear(&m);
}
END_TEST

/* Split into packets, feed them, get the same bytes back. */
START_TEST(test_fragments_roundtrip)
{
	static const size_t sizes[] = { 0, 1, WIRE_FRAG_PAYLOAD, WIRE_FRAG_PAYLOAD + 1, 100000,
					16u << 20 };
	size_t len = sizes[_i], got_len = 0;
	uint8_t *msg = malloc(len ? len : 1), pkt[WIRE_PACKET_MAX], *got = NULL;
	struct wire_reasm *r = wire_reasm_new(4, 32u << 20);
	size_t np = wire_packets(len), held, msgs;
	int rc = 0;

	for (size_t i = 0; i < len; i++)
		msg[i] = (uint8_t)(i ^ (i >> 8));
	for (size_t i = 0; i < np; i++) {
		size_t n = wire_packet(42, msg, len, i, pkt);

		ck_assert_uint_le(n, WIRE_PACKET_MAX);
		ck_assert_int_eq(pkt[0], WIRE_PACKET_ID);
		rc = wire_reasm_feed(r, pkt, n, &got, &got_len);
		ck_assert_int_eq(rc, i + 1 == np ? 1 : 0);
	}
	ck_assert_uint_eq(got_len, len);
	if (len)
		ck_assert_mem_eq(got, msg, len);
	held = wire_reasm_held(r, &msgs);
	ck_assert_uint_eq(held, 0);
	ck_assert_uint_eq(msgs, 0);
	free(got);
	free(msg);
	wire_reasm_free(r);
}
END_TEST

/* Two messages interleaved, as a small notice overtaking a big reply. */
START_TEST(test_interleaved)
{
	uint8_t a[5000], b[3000], pkt[WIRE_PACKET_MAX], *got;
	struct wire_reasm *r = wire_reasm_new(4, 1 << 20);
	size_t n, len;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	n = wire_packet(1, a, sizeof(a), 0, pkt);
	ck_assert_int_eq(wire_reasm_feed(r, pkt, n, &got, &len), 0);
	n = wire_packet(2, b, sizeof(b), 0, pkt);
	ck_assert_int_eq(wire_reasm_feed(r, pkt, n, &got, &len), 0);
	n = wire_packet(2, b, sizeof(b), 1, pkt);
	ck_assert_int_eq(wire_reasm_feed(r, pkt, n, &got, &len), 0);
	n = wire_packet(2, b, sizeof(b), 2, pkt);
	ck_assert_int_eq(wire_reasm_feed(r, pkt, n, &got, &len), 1);
	ck_assert_uint_eq(len, sizeof(b));
	ck_assert_mem_eq(got, b, sizeof(b));
	free(got);
	for (size_t i = 1; i < wire_packets(sizeof(a)); i++) {
		n = wire_packet(1, a, sizeof(a), i, pkt);
		if (wire_reasm_feed(r, pkt, n, &got, &len) == 1) {
			ck_assert_mem_eq(got, a, sizeof(a));
			free(got);
		}
	}
	ck_assert_uint_eq(wire_reasm_held(r, NULL), 0);
	wire_reasm_free(r);
}
END_TEST

START_TEST(test_violations_dropped_and_counted)
{
	uint8_t m[10000], pkt[WIRE_PACKET_MAX], *got;
	struct wire_reasm *r = wire_reasm_new(2, 12000);
	struct wire_stats st;
	size_t n, len, msgs;

	memset(m, 'm', sizeof(m));
	/* unknown packet id, too short, too long */
	n = wire_packet(1, m, sizeof(m), 0, pkt);
	pkt[0] = 170;
	ck_assert_int_eq(wire_reasm_feed(r, pkt, n, &got, &len), -EBADMSG);
	ck_assert_int_eq(wire_reasm_feed(r, pkt, 5, &got, &len), -EBADMSG);
	ck_assert_int_eq(wire_reasm_feed(r, pkt, WIRE_PACKET_MAX + 1, &got, &len), -EBADMSG);
	/* a message not starting at 0 */
	n = wire_packet(1, m, sizeof(m), 1, pkt);
	ck_assert_int_eq(wire_reasm_feed(r, pkt, n, &got, &len), -EPROTO);
	/* a gap: first then third fragment drops the message */
	n = wire_packet(1, m, sizeof(m), 0, pkt);
	ck_assert_int_eq(wire_reasm_feed(r, pkt, n, &got, &len), 0);
	n = wire_packet(1, m, sizeof(m), 2, pkt);
	ck_assert_int_eq(wire_reasm_feed(r, pkt, n, &got, &len), -EPROTO);
	ck_assert_uint_eq(wire_reasm_held(r, &msgs), 0);
	/* a changed total drops it too */
	n = wire_packet(3, m, sizeof(m), 0, pkt);
	ck_assert_int_eq(wire_reasm_feed(r, pkt, n, &got, &len), 0);
	n = wire_packet(3, m, sizeof(m) - 1, 1, pkt);
	ck_assert_int_eq(wire_reasm_feed(r, pkt, n, &got, &len), -EPROTO);
	/* a length past the maximum message is refused at once */
	n = wire_packet(4, m, sizeof(m), 0, pkt);
	pkt[8] = 0xff;
	ck_assert_int_eq(wire_reasm_feed(r, pkt, n, &got, &len), -EBADMSG);
	/* caps: two messages in flight at most, 12000 bytes in all; a new
	   one pushes out the one whose last packet came longest ago */
	for (uint32_t s = 10; s < 13; s++) {
		n = wire_packet(s, m, sizeof(m), 0, pkt);
		ck_assert_int_eq(wire_reasm_feed_at(r, s, pkt, n, &got, &len), 0);
	}
	ck_assert_uint_le(wire_reasm_held(r, &msgs), 12000);
	ck_assert_uint_eq(msgs, 2);
	wire_reasm_stats(r, &st);
	ck_assert_uint_eq(st.expired, 1);
	/* 10 went: its next packet belongs to nothing */
	n = wire_packet(10, m, sizeof(m), 1, pkt);
	ck_assert_int_eq(wire_reasm_feed_at(r, 13, pkt, n, &got, &len), -EPROTO);
	/* 12 grows past the byte cap: 11, staler, goes and 12 completes */
	for (size_t i = 1; i < wire_packets(sizeof(m)); i++) {
		int rc;

		n = wire_packet(12, m, sizeof(m), i, pkt);
		rc = wire_reasm_feed_at(r, 20 + (int64_t)i, pkt, n, &got, &len);
		ck_assert_int_eq(rc, i + 1 < wire_packets(sizeof(m)) ? 0 : 1);
		ck_assert_uint_le(wire_reasm_held(r, NULL), 12000);
	}
	ck_assert_uint_eq(len, sizeof(m));
	ck_assert_mem_eq(got, m, sizeof(m));
	free(got);
	ck_assert_uint_eq(wire_reasm_held(r, &msgs), 0);
	ck_assert_uint_eq(msgs, 0);
	/* one message bigger than the byte cap on its own is refused */
	{
		static uint8_t big[20000];
		int rc = 0;

		for (size_t i = 0; i < wire_packets(sizeof(big)) && rc >= 0; i++) {
			n = wire_packet(14, big, sizeof(big), i, pkt);
			rc = wire_reasm_feed_at(r, 40 + (int64_t)i, pkt, n, &got, &len);
		}
		ck_assert_int_eq(rc, -ENOBUFS);
		ck_assert_uint_eq(wire_reasm_held(r, NULL), 0);
	}
	wire_reasm_stats(r, &st);
	ck_assert_uint_eq(st.malformed, 4);
	ck_assert_uint_eq(st.out_of_order, 4);
	ck_assert_uint_eq(st.expired, 2);
	ck_assert_uint_eq(st.over_cap, 1);
	/* a peer gone: nothing stays */
	wire_reasm_reset(r);
	ck_assert_uint_eq(wire_reasm_held(r, &msgs), 0);
	ck_assert_uint_eq(msgs, 0);
	wire_reasm_free(r);
}
END_TEST

/* Half-received messages whose sender gave them up expire when room is
   needed; the one still arriving is never the one pushed out. */
START_TEST(test_abandoned_expire)
{
	uint8_t m[10000], pkt[WIRE_PACKET_MAX], *got = NULL;
	struct wire_reasm *r = wire_reasm_new(4, 25000);
	struct wire_stats st;
	size_t n, len, msgs;
	int done = 0;

	memset(m, 'l', sizeof(m));
	n = wire_packet(20, m, sizeof(m), 0, pkt);
	ck_assert_int_eq(wire_reasm_feed_at(r, 100, pkt, n, &got, &len), 0);
	/* between each two packets of 20, another message starts and stops */
	for (uint32_t s = 21; !done; s++) {
		int rc;

		n = wire_packet(s, m, sizeof(m), 0, pkt);
		ck_assert_int_eq(wire_reasm_feed_at(r, 100 + 2 * (int64_t)s, pkt, n, &got, &len), 0);
		ck_assert_uint_le(wire_reasm_held(r, &msgs), 25000);
		ck_assert_uint_le(msgs, 4);
		n = wire_packet(20, m, sizeof(m), s - 20, pkt);
		rc = wire_reasm_feed_at(r, 101 + 2 * (int64_t)s, pkt, n, &got, &len);
		done = s - 20 + 1 == wire_packets(sizeof(m));
		ck_assert_int_eq(rc, done ? 1 : 0);
	}
	ck_assert_uint_eq(len, sizeof(m));
	ck_assert_mem_eq(got, m, sizeof(m));
	free(got);
	wire_reasm_stats(r, &st);
	ck_assert_uint_ge(st.expired, 3);
	ck_assert_uint_eq(st.over_cap, 0);
	wire_reasm_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_encode_decode, 0, 4);
	tcase_add_test(tc, test_decode_refuses);
	tcase_add_loop_test(tc, test_fragments_roundtrip, 0, 6);
	tcase_add_test(tc, test_interleaved);
	tcase_add_test(tc, test_violations_dropped_and_counted);
	tcase_add_test(tc, test_abandoned_expire);
	suite_add_tcase(s, tc);
	return check_run(s);
}
