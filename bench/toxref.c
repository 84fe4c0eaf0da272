/*
 * toxref: bare c-toxcore in the shape of oand's cluster benchmarks, so
 * that their numbers can be read against what Tox alone does on the same
 * machine.  Every instance runs in this one process, on 127.0.0.1, IPv4
 * and UDP only, with local discovery and hole punching off (as oand runs
 * it).  Tox binds 0.0.0.0: run it inside a network namespace.
 *
 *   toxref online N [BASEPORT]
 *	N instances on UDP ports BASEPORT+i (default 33800); 1..N-1
 *	bootstrap from 0, everyone befriends everyone (keys known, no
 *	requests).  Prints the ms from before the first tox_new until every
 *	instance sees every friend connected:  online N=<n> ms=<ms>
 *
 *   toxref rpc [COUNT] [BYTES_MB] [BASEPORT] [REPEAT]
 *	Two friends A and B.  COUNT (default 200) sequential round trips of
 *	one small lossless packet that B echoes:
 *	    rtt count=<n> median_ms=<x.xxx> p99_ms=<x.xxx>
 *	then REPEAT (default 3) store-and-forward echoes of one message of
 *	BYTES_MB (default 16) MiB, in the shape of oand's echo: A sends it
 *	in full-size (1373-byte) lossless packets, B collects all of it and
 *	only then sends it all back the same way; the clock runs from A's
 *	first packet until A has the last byte back, and MiB/s is the
 *	message size over that round trip (as `oand ping --size` reports
 *	it).  One line per echo:
 *	    stream mib=<n> ms=<ms> mib_s=<x.x>
 *	The data is the bytes after each packet's id byte; A checks every
 *	byte that comes back.
 *
 *   toxref file BYTES [BASEPORT] [REPEAT]
 *	Two friends A and B.  REPEAT (default 1) transfers, one after the
 *	other, of BYTES of pseudo-random data from A to B with Tox file
 *	transfer (tox_file_send, TOX_FILE_KIND_DATA, a 32-byte file id), in
 *	the shape of oand's fetch of a file's content: B accepts at once
 *	(TOX_FILE_CONTROL_RESUME) and checks every byte it receives, A
 *	answers each chunk request from the callback.  The clock runs from
 *	tox_file_send until B has the last byte; one line per transfer:
 *	    file mib=<n> ms=<ms> mib_s=<x.x>
 *	A chunk Tox asked for but would not take (SENDQ) is sent again, in
 *	order, at the next round; how many there were goes to stderr.
 *
 * Iteration is oand's: while anything is in flight, both instances are
 * iterated with a 1 ms sleep between rounds; otherwise the sleep is the
 * shortest tox_iteration_interval().  A full send queue (SENDQ) is never
 * a drop: the packet waits and is sent again at the next round.
 *
 * Exit 0 on success, 1 (with a message) on any error or after 120 s
 * without progress to the end of a phase (for a file transfer: 120 s
 * without a new byte at B), 2 on bad arguments.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tox/tox.h>

#define DEFAULT_BASEPORT 33800
#define DEFAULT_COUNT 200
#define DEFAULT_MB 16
#define DEFAULT_REPEAT 3
#define DEFAULT_FILE_REPEAT 1
#define NODES_MAX 256
#define PHASE_MS 120000.0	/* give up on a phase after this long */
#define BUSY_SLEEP_MS 1		/* oand's sleep while data is in flight */

#define PKT_ID 160		/* first custom lossless id, as oand's wire */
#define PING_ID 1		/* body byte 0 of a round-trip packet */
#define PING_LEN (1 + 16)	/* id byte + body: ping id, counter, padding */
#define PKT_MAX TOX_MAX_CUSTOM_PACKET_SIZE
#define PKT_DATA (PKT_MAX - 1)	/* stream bytes per packet */

static void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("toxref: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------- the mesh */

struct mesh {
	int n;
	Tox *tox[NODES_MAX];
	uint32_t *fr;		/* fr[i * n + j]: j's friend number on i */
};

static Tox *start_tox(uint16_t port)
{
	Tox_Err_Options_New oerr;
	struct Tox_Options *o = tox_options_new(&oerr);
	Tox_Err_New err;
	Tox *t;

	if (o == NULL) {
		fail("tox_options_new: error %d", (int)oerr);
		return NULL;
	}
	tox_options_set_ipv6_enabled(o, false);
	tox_options_set_udp_enabled(o, true);
	tox_options_set_local_discovery_enabled(o, false);
	tox_options_set_hole_punching_enabled(o, false);
	tox_options_set_tcp_port(o, 0);
	/* Exactly this port: a silent fallback would break the port plan. */
	tox_options_set_start_port(o, port);
	tox_options_set_end_port(o, port);
	t = tox_new(o, &err);
	tox_options_free(o);
	if (t == NULL)
		fail("tox_new on UDP port %u: error %d", port, (int)err);
	return t;
}

static void mesh_free(struct mesh *m)
{
	for (int i = 0; i < m->n; i++)
		if (m->tox[i] != NULL)
			tox_kill(m->tox[i]);
	free(m->fr);
	m->fr = NULL;
	m->n = 0;
}

/* Start n instances, bootstrap 1..n-1 from 0 and befriend all pairs. */
static int mesh_start(struct mesh *m, int n, uint16_t base)
{
	uint8_t pk[NODES_MAX][TOX_PUBLIC_KEY_SIZE], dht[TOX_PUBLIC_KEY_SIZE];
	Tox_Err_Get_Port perr;
	uint16_t port0;

	memset(m, 0, sizeof(*m));
	if ((m->fr = calloc((size_t)n * (size_t)n, sizeof(*m->fr))) == NULL) {
		fail("out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if ((m->tox[i] = start_tox((uint16_t)(base + i))) == NULL)
			return -1;
		m->n = i + 1;	/* what mesh_free must kill */
		tox_self_get_public_key(m->tox[i], pk[i]);
	}
	port0 = tox_self_get_udp_port(m->tox[0], &perr);
	if (perr != TOX_ERR_GET_PORT_OK) {
		fail("tox_self_get_udp_port: error %d", (int)perr);
		return -1;
	}
	tox_self_get_dht_id(m->tox[0], dht);
	for (int i = 1; i < n; i++) {
		Tox_Err_Bootstrap err;

		if (!tox_bootstrap(m->tox[i], "127.0.0.1", port0, dht, &err)) {
			fail("tox_bootstrap of %d from 0: error %d", i, (int)err);
			return -1;
		}
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			Tox_Err_Friend_Add err;
			uint32_t f;

			if (i == j)
				continue;
			f = tox_friend_add_norequest(m->tox[i], pk[j], &err);
			if (f == UINT32_MAX) {
				fail("tox_friend_add_norequest %d -> %d: error %d", i, j, (int)err);
				return -1;
			}
			m->fr[i * n + j] = f;
		}
	return 0;
}

static void mesh_iterate(struct mesh *m, void *user)
{
	for (int i = 0; i < m->n; i++)
		tox_iterate(m->tox[i], user);
}

/* The shortest tox_iteration_interval() of all instances. */
static uint32_t mesh_interval(struct mesh *m)
{
	uint32_t ms = UINT32_MAX;

	for (int i = 0; i < m->n; i++) {
		uint32_t t = tox_iteration_interval(m->tox[i]);

		if (t < ms)
			ms = t;
	}
	return ms;
}

/* 1 when every instance sees every friend connected, 0 if not, -1 on error. */
static int mesh_online(struct mesh *m)
{
	for (int i = 0; i < m->n; i++)
		for (int j = 0; j < m->n; j++) {
			Tox_Err_Friend_Query err;
			Tox_Connection c;

			if (i == j)
				continue;
			c = tox_friend_get_connection_status(m->tox[i], m->fr[i * m->n + j], &err);
			if (err != TOX_ERR_FRIEND_QUERY_OK) {
				fail("tox_friend_get_connection_status %d -> %d: error %d", i, j,
				     (int)err);
				return -1;
			}
			if (c == TOX_CONNECTION_NONE)
				return 0;
		}
	return 1;
}

/* Iterate until the mesh is online; 0, or -1 on error or time-out. */
static int mesh_wait_online(struct mesh *m, double t0)
{
	for (;;) {
		int r;

		mesh_iterate(m, NULL);
		if ((r = mesh_online(m)) != 0)
			return r > 0 ? 0 : -1;
		if (now_ms() - t0 > PHASE_MS) {
			fail("%d instances not all connected after %.0f s", m->n, PHASE_MS / 1e3);
			return -1;
		}
		sleep_ms(mesh_interval(m));
	}
}

static int cmd_online(int n, uint16_t base)
{
	struct mesh m;
	double t0 = now_ms();
	int r;

	r = mesh_start(&m, n, base);
	if (r == 0)
		r = mesh_wait_online(&m, t0);
	if (r == 0)
		printf("online N=%d ms=%.0f\n", n, now_ms() - t0);
	mesh_free(&m);
	return r;
}

/* -------------------------------------------------------------- rpc */

/* Packets B could not send yet, oldest first (a growing ring). */
struct pktq {
	struct pkt {
		uint16_t len;
		uint8_t data[PKT_MAX];
	} *p;
	size_t head, count, cap;
};

static int pktq_push(struct pktq *q, const uint8_t *data, size_t len)
{
	struct pkt *e;

	if (q->count == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct pkt *p = malloc(cap * sizeof(*p));

		if (p == NULL)
			return -1;
		/* Unroll the ring into the new array. */
		for (size_t i = 0; i < q->count; i++)
			p[i] = q->p[(q->head + i) % q->cap];
		free(q->p);
		q->p = p;
		q->cap = cap;
		q->head = 0;
	}
	e = &q->p[(q->head + q->count) % q->cap];
	e->len = (uint16_t)len;
	memcpy(e->data, data, len);
	q->count++;
	return 0;
}

struct rpc {
	struct mesh m;
	Tox *a, *b;
	uint32_t a_to_b, b_to_a;	/* friend numbers */
	int failed;			/* set by a callback; ends the run */
	/* Round trips (A). */
	uint64_t ping_want, ping_sent, ping_got;	/* counters */
	double ping_t0;
	double *rtt;
	/* Stream (A). */
	uint8_t *msg;
	size_t total, sent, got;
	/* Echo (B): round trips go back at once, through q when SENDQ. */
	struct pktq q;
	size_t q_peak;
	/* Stream (B): the whole message is collected, then sent back. */
	uint8_t *bmsg;
	size_t b_got, b_sent;
};

/* Send one packet; 1 sent, 0 SENDQ (retry later), -1 error. */
static int send_pkt(Tox *tox, uint32_t f, const uint8_t *data, size_t len, const char *who)
{
	Tox_Err_Friend_Custom_Packet err;

	if (tox_friend_send_lossless_packet(tox, f, data, len, &err))
		return 1;
	if (err == TOX_ERR_FRIEND_CUSTOM_PACKET_SENDQ)
		return 0;
	fail("%s: tox_friend_send_lossless_packet: error %d", who, (int)err);
	return -1;
}

/*
 * B, stream: once the whole message is in, send it back in full-size
 * packets until Tox says SENDQ (the rest goes at the next round).
 */
static int stream_flush(struct rpc *r)
{
	while (r->bmsg != NULL && r->b_got == r->total && r->b_sent < r->total) {
		uint8_t pkt[PKT_MAX];
		size_t len = r->total - r->b_sent < PKT_DATA ? r->total - r->b_sent : PKT_DATA;
		int s;

		pkt[0] = PKT_ID;
		memcpy(pkt + 1, r->bmsg + r->b_sent, len);
		if ((s = send_pkt(r->b, r->b_to_a, pkt, len + 1, "B")) <= 0)
			return s;
		r->b_sent += len;
	}
	return 0;
}

/* B: send what waits, in order, until the queue is empty or full again. */
static int echo_flush(struct rpc *r)
{
	struct pktq *q = &r->q;

	while (q->count > 0) {
		struct pkt *e = &q->p[q->head];
		int s = send_pkt(r->b, r->b_to_a, e->data, e->len, "B");

		if (s <= 0)
			return s;
		q->head = (q->head + 1) % q->cap;
		q->count--;
	}
	return stream_flush(r);
}

/* B: echo round-trip packets at once, queued behind what already waits
   so order holds; collect stream packets and answer the whole message. */
static void on_b_packet(Tox *tox, uint32_t f, const uint8_t *data, size_t len, void *user)
{
	struct rpc *r = user;
	int s = 0;

	(void)tox;
	if (f != r->b_to_a || r->failed)
		return;
	if (r->bmsg != NULL) {
		if (len < 2 || data[0] != PKT_ID || len - 1 > r->total - r->b_got) {
			fail("B: stream packet of %zu bytes at offset %zu does not fit", len,
			     r->b_got);
			r->failed = 1;
			return;
		}
		memcpy(r->bmsg + r->b_got, data + 1, len - 1);
		r->b_got += len - 1;
		/* All in: the reply starts in this same iteration, as oand's. */
		if (r->b_got == r->total && stream_flush(r) < 0)
			r->failed = 1;
		return;
	}
	if (r->q.count == 0)
		s = send_pkt(r->b, r->b_to_a, data, len, "B");
	if (s < 0) {
		r->failed = 1;
	} else if (s == 0) {
		if (pktq_push(&r->q, data, len) != 0) {
			fail("out of memory");
			r->failed = 1;
		}
		if (r->q.count > r->q_peak)
			r->q_peak = r->q.count;
	}
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void ping_packet(uint8_t pkt[PING_LEN], uint64_t counter)
{
	memset(pkt, 0, PING_LEN);
	pkt[0] = PKT_ID;
	pkt[1] = PING_ID;
	put_u64(pkt + 2, counter);
}

/* A: a round trip ends, or a piece of the stream comes back.  Anything
   but exactly what was sent, in order, is a failure. */
static void on_a_packet(Tox *tox, uint32_t f, const uint8_t *data, size_t len, void *user)
{
	struct rpc *r = user;

	(void)tox;
	if (f != r->a_to_b || r->failed)
		return;
	if (r->msg == NULL) {
		uint8_t want[PING_LEN];

		ping_packet(want, r->ping_got);
		if (r->ping_got >= r->ping_sent || len != PING_LEN || memcmp(data, want, len) != 0) {
			fail("A: unexpected round-trip packet (%zu bytes, counter %llu)", len,
			     len >= 10 ? (unsigned long long)get_u64(data + 2) : 0ULL);
			r->failed = 1;
			return;
		}
		r->rtt[r->ping_got++] = now_ms() - r->ping_t0;
		return;
	}
	if (len < 2 || data[0] != PKT_ID || len - 1 > r->sent - r->got ||
	    memcmp(data + 1, r->msg + r->got, len - 1) != 0) {
		fail("A: stream packet of %zu bytes at offset %zu is not what was sent", len,
		     r->got);
		r->failed = 1;
		return;
	}
	r->got += len - 1;
}

/*
 * One round: retry B's queue, iterate both, then sleep 1 ms while data is
 * in flight or the shortest iteration interval otherwise.  Data waiting
 * to leave (a ping or stream bytes A could not send yet, B's queue)
 * counts as in flight.
 */
static int rpc_round(struct rpc *r, double t0, const char *phase)
{
	int busy;

	if (echo_flush(r) < 0)
		return -1;
	mesh_iterate(&r->m, r);
	if (r->failed)
		return -1;
	if (now_ms() - t0 > PHASE_MS) {
		fail("%s not done after %.0f s", phase, PHASE_MS / 1e3);
		return -1;
	}
	busy = r->ping_got < r->ping_want || r->got < r->total || r->q.count > 0;
	sleep_ms(busy ? BUSY_SLEEP_MS : mesh_interval(&r->m));
	return 0;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

static int rpc_rtt(struct rpc *r, uint64_t count)
{
	double t0 = now_ms(), median;
	size_t p99;

	if ((r->rtt = calloc(count, sizeof(*r->rtt))) == NULL) {
		fail("out of memory");
		return -1;
	}
	r->ping_want = count;
	while (r->ping_got < count) {
		/* One at a time: the next leaves once the last is back. */
		if (r->ping_sent == r->ping_got) {
			uint8_t pkt[PING_LEN];
			int s;

			ping_packet(pkt, r->ping_sent);
			if ((s = send_pkt(r->a, r->a_to_b, pkt, sizeof(pkt), "A")) < 0)
				return -1;
			if (s > 0) {
				r->ping_t0 = now_ms();
				r->ping_sent++;
			}
		}
		if (rpc_round(r, t0, "round trips") != 0)
			return -1;
	}
	qsort(r->rtt, count, sizeof(*r->rtt), cmp_double);
	median = count % 2 ? r->rtt[count / 2] : (r->rtt[count / 2 - 1] + r->rtt[count / 2]) / 2;
	p99 = (size_t)((count * 99 + 99) / 100) - 1;	/* nearest rank */
	printf("rtt count=%llu median_ms=%.3f p99_ms=%.3f\n", (unsigned long long)count, median,
	       r->rtt[p99]);
	return 0;
}

/* One store-and-forward echo of the whole message. */
static int rpc_stream(struct rpc *r, unsigned mb)
{
	double t0, ms;

	r->sent = r->got = r->b_got = r->b_sent = 0;
	t0 = now_ms();
	while (r->got < r->total) {
		/* A sends until Tox says its queue is full. */
		while (r->sent < r->total) {
			uint8_t pkt[PKT_MAX];
			size_t len = r->total - r->sent < PKT_DATA ? r->total - r->sent : PKT_DATA;
			int s;

			pkt[0] = PKT_ID;
			memcpy(pkt + 1, r->msg + r->sent, len);
			if ((s = send_pkt(r->a, r->a_to_b, pkt, len + 1, "A")) < 0)
				return -1;
			if (s == 0)
				break;
			r->sent += len;
		}
		if (rpc_round(r, t0, "stream") != 0)
			return -1;
	}
	ms = now_ms() - t0;
	printf("stream mib=%u ms=%.0f mib_s=%.1f\n", mb, ms, (double)mb / (ms / 1e3));
	fflush(stdout);
	return 0;
}

static int rpc_streams(struct rpc *r, unsigned mb, unsigned repeat)
{
	uint32_t x = 2463534242u;

	r->total = (size_t)mb << 20;
	if ((r->msg = malloc(r->total)) == NULL || (r->bmsg = malloc(r->total)) == NULL) {
		fail("out of memory");
		return -1;
	}
	/* Not constant bytes: a mix-up of packets must show. */
	for (size_t i = 0; i < r->total; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		r->msg[i] = (uint8_t)x;
	}
	for (unsigned i = 0; i < repeat; i++)
		if (rpc_stream(r, mb) != 0)
			return -1;
	fprintf(stderr, "toxref: B's round-trip echo queue peaked at %zu packets\n", r->q_peak);
	return 0;
}

static int cmd_rpc(uint64_t count, unsigned mb, uint16_t base, unsigned repeat)
{
	struct rpc r;
	int ret;

	memset(&r, 0, sizeof(r));
	ret = mesh_start(&r.m, 2, base);
	if (ret == 0)
		ret = mesh_wait_online(&r.m, now_ms());
	if (ret == 0) {
		r.a = r.m.tox[0];
		r.b = r.m.tox[1];
		r.a_to_b = r.m.fr[0 * 2 + 1];
		r.b_to_a = r.m.fr[1 * 2 + 0];
		tox_callback_friend_lossless_packet(r.a, on_a_packet);
		tox_callback_friend_lossless_packet(r.b, on_b_packet);
		ret = rpc_rtt(&r, count);
	}
	if (ret == 0)
		ret = rpc_streams(&r, mb, repeat);
	mesh_free(&r.m);
	free(r.rtt);
	free(r.msg);
	free(r.bmsg);
	free(r.q.p);
	return ret;
}

/* ------------------------------------------------------------- file */

struct ft {
	struct mesh m;
	Tox *a, *b;
	uint32_t a_to_b, b_to_a;	/* friend numbers */
	int failed;			/* set by a callback; ends the run */
	uint64_t total, seed;
	uint8_t id[TOX_FILE_ID_LENGTH];
	/* A: the next position Tox should ask for, and the chunks it asked
	   for but would not take yet: [pend, pend_end), sent in order. */
	uint32_t a_file;
	uint64_t a_next, pend, pend_end;
	size_t chunk;			/* the size of a full chunk, as asked */
	uint64_t retries;		/* chunks sent again after SENDQ */
	int a_done;			/* A was told the transfer is over */
	/* B */
	int b_open;
	uint32_t b_file;
	uint64_t b_got;
	double t_last, t_end;		/* last new byte, last byte (ms) */
};

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The transfer's bytes [pos, pos + len): a function of the position, so
   that neither side holds the whole file and B can check any chunk. */
static void file_bytes(uint64_t seed, uint64_t pos, uint8_t *buf, size_t len)
{
	uint64_t w = 0;

	for (size_t i = 0; i < len; i++, pos++) {
		if (i == 0 || (pos & 7) == 0)
			w = splitmix64(seed ^ (pos >> 3));
		buf[i] = (uint8_t)(w >> (8 * (pos & 7)));
	}
}

/* A: send one chunk; 1 sent, 0 SENDQ (retry later), -1 error. */
static int send_chunk(struct ft *x, uint64_t pos, size_t len)
{
	uint8_t buf[PKT_MAX];
	Tox_Err_File_Send_Chunk err;

	if (len > sizeof(buf)) {
		fail("A: Tox asked for a chunk of %zu bytes", len);
		return -1;
	}
	file_bytes(x->seed, pos, buf, len);
	if (tox_file_send_chunk(x->a, x->a_to_b, x->a_file, pos, buf, len, &err))
		return 1;
	if (err == TOX_ERR_FILE_SEND_CHUNK_SENDQ)
		return 0;
	fail("A: tox_file_send_chunk at %llu: error %d", (unsigned long long)pos, (int)err);
	return -1;
}

/* A: send the chunks that wait, in order, until Tox says SENDQ again. */
static int pend_flush(struct ft *x)
{
	while (x->pend < x->pend_end) {
		size_t len = x->pend_end - x->pend < x->chunk ? x->pend_end - x->pend : x->chunk;
		int s = send_chunk(x, x->pend, len);

		if (s <= 0)
			return s;
		x->pend += len;
		x->retries++;
	}
	return 0;
}

/* A: Tox asks for the next chunk, or (length 0) says the transfer is
   over.  Chunks go in order: behind any that wait, or at once. */
static void on_a_chunk(Tox *tox, uint32_t f, uint32_t file, uint64_t pos, size_t len, void *user)
{
	struct ft *x = user;
	int s;

	(void)tox;
	if (f != x->a_to_b || file != x->a_file || x->failed)
		return;
	if (len == 0) {
		x->a_done = 1;
		return;
	}
	if (pos != x->a_next || len > x->total - pos) {
		fail("A: chunk request at %llu (%zu bytes), expected one at %llu",
		     (unsigned long long)pos, len, (unsigned long long)x->a_next);
		x->failed = 1;
		return;
	}
	x->a_next = pos + len;
	if (len > x->chunk)
		x->chunk = len;
	if (x->pend < x->pend_end) {
		x->pend_end = pos + len;
		return;
	}
	if ((s = send_chunk(x, pos, len)) < 0) {
		x->failed = 1;
	} else if (s == 0) {
		x->pend = pos;
		x->pend_end = pos + len;
	}
}

/* B: the offer; anything but the file A sends is a failure. */
static void on_b_file(Tox *tox, uint32_t f, uint32_t file, uint32_t kind, uint64_t size,
		      const uint8_t *name, size_t name_len, void *user)
{
	struct ft *x = user;
	uint8_t id[TOX_FILE_ID_LENGTH];
	Tox_Err_File_Control cerr;

	(void)name;
	(void)name_len;
	if (f != x->b_to_a || x->failed)
		return;
	if (x->b_open || kind != TOX_FILE_KIND_DATA || size != x->total ||
	    !tox_file_get_file_id(tox, f, file, id, NULL) || memcmp(id, x->id, sizeof(id)) != 0) {
		fail("B: unexpected file offer (kind %u, %llu bytes)", kind,
		     (unsigned long long)size);
		x->failed = 1;
		return;
	}
	x->b_open = 1;
	x->b_file = file;
	if (!tox_file_control(tox, f, file, TOX_FILE_CONTROL_RESUME, &cerr)) {
		fail("B: tox_file_control RESUME: error %d", (int)cerr);
		x->failed = 1;
	}
}

/* B: every byte must be the one A made for that position, in order. */
static void on_b_chunk(Tox *tox, uint32_t f, uint32_t file, uint64_t pos, const uint8_t *data,
		       size_t len, void *user)
{
	struct ft *x = user;
	uint8_t want[PKT_MAX];

	(void)tox;
	if (f != x->b_to_a || !x->b_open || file != x->b_file || x->failed)
		return;
	if (len == 0) {
		if (x->b_got != x->total) {
			fail("B: transfer ended at %llu of %llu bytes",
			     (unsigned long long)x->b_got, (unsigned long long)x->total);
			x->failed = 1;
		}
		return;
	}
	if (pos != x->b_got || len > x->total - x->b_got || len > sizeof(want)) {
		fail("B: chunk of %zu bytes at %llu, expected one at %llu", len,
		     (unsigned long long)pos, (unsigned long long)x->b_got);
		x->failed = 1;
		return;
	}
	file_bytes(x->seed, pos, want, len);
	if (memcmp(data, want, len) != 0) {
		fail("B: wrong bytes in the chunk at %llu", (unsigned long long)pos);
		x->failed = 1;
		return;
	}
	x->b_got += len;
	x->t_last = now_ms();
	if (x->b_got == x->total)
		x->t_end = x->t_last;
}

/* One transfer of x->total bytes, timed from tox_file_send until B has
   the last byte; then until A is told it is over, untimed. */
static int file_one(struct ft *x, unsigned i)
{
	Tox_Err_File_Send err;
	double t0;

	x->seed = splitmix64(0x746f78726566ull + i);
	for (size_t k = 0; k < sizeof(x->id); k += 8) {
		uint64_t w = splitmix64(x->seed + k);

		memcpy(x->id + k, &w, 8);
	}
	x->a_next = x->pend = x->pend_end = 0;
	x->a_done = x->b_open = 0;
	x->b_got = 0;
	t0 = x->t_last = now_ms();
	x->a_file = tox_file_send(x->a, x->a_to_b, TOX_FILE_KIND_DATA, x->total, x->id,
				  (const uint8_t *)"toxref", 6, &err);
	if (err != TOX_ERR_FILE_SEND_OK) {
		fail("A: tox_file_send: error %d", (int)err);
		return -1;
	}
	while (x->b_got < x->total || !x->a_done) {
		if (pend_flush(x) < 0)
			return -1;
		mesh_iterate(&x->m, x);
		if (x->failed)
			return -1;
		if (now_ms() - x->t_last > PHASE_MS) {
			fail("file: no new byte at B for %.0f s (%llu of %llu)", PHASE_MS / 1e3,
			     (unsigned long long)x->b_got, (unsigned long long)x->total);
			return -1;
		}
		sleep_ms(BUSY_SLEEP_MS);
	}
	printf("file mib=%g ms=%.0f mib_s=%.1f\n", (double)x->total / 1048576.0, x->t_end - t0,
	       (double)x->total / 1048576.0 / ((x->t_end - t0) / 1e3));
	fflush(stdout);
	return 0;
}

static int cmd_file(uint64_t bytes, uint16_t base, unsigned repeat)
{
	struct ft x;
	int ret;

	memset(&x, 0, sizeof(x));
	x.total = bytes;
	ret = mesh_start(&x.m, 2, base);
	if (ret == 0)
		ret = mesh_wait_online(&x.m, now_ms());
	if (ret == 0) {
		x.a = x.m.tox[0];
		x.b = x.m.tox[1];
		x.a_to_b = x.m.fr[0 * 2 + 1];
		x.b_to_a = x.m.fr[1 * 2 + 0];
		tox_callback_file_chunk_request(x.a, on_a_chunk);
		tox_callback_file_recv(x.b, on_b_file);
		tox_callback_file_recv_chunk(x.b, on_b_chunk);
	}
	for (unsigned i = 0; ret == 0 && i < repeat; i++)
		ret = file_one(&x, i);
	if (ret == 0)
		fprintf(stderr, "toxref: %llu chunks sent again after SENDQ\n",
			(unsigned long long)x.retries);
	mesh_free(&x.m);
	return ret;
}

/* ------------------------------------------------------------- main */

static int parse(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && s[0] != '-' && *out >= lo && *out <= hi
		? 0 : -1;
}

static int usage(void)
{
	fprintf(stderr, "usage: toxref online N [BASEPORT]\n"
		"       toxref rpc [COUNT] [BYTES_MB] [BASEPORT] [REPEAT]\n"
		"       toxref file BYTES [BASEPORT] [REPEAT]\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long n, count = DEFAULT_COUNT, mb = DEFAULT_MB, base = DEFAULT_BASEPORT;
	unsigned long repeat = DEFAULT_REPEAT;

	if (argc >= 3 && argc <= 4 && strcmp(argv[1], "online") == 0) {
		if (parse(argv[2], 2, NODES_MAX, &n) != 0 ||
		    (argc == 4 && parse(argv[3], 1, 65535, &base) != 0) || base + n - 1 > 65535)
			return usage();
		return cmd_online((int)n, (uint16_t)base) == 0 ? 0 : 1;
	}
	if (argc >= 2 && argc <= 6 && strcmp(argv[1], "rpc") == 0) {
		if ((argc >= 3 && parse(argv[2], 1, 10000000, &count) != 0) ||
		    (argc >= 4 && parse(argv[3], 1, 4096, &mb) != 0) ||
		    (argc >= 5 && parse(argv[4], 1, 65534, &base) != 0) ||
		    (argc == 6 && parse(argv[5], 1, 1000, &repeat) != 0))
			return usage();
		return cmd_rpc(count, (unsigned)mb, (uint16_t)base, (unsigned)repeat) == 0 ? 0 : 1;
	}
	if (argc >= 3 && argc <= 5 && strcmp(argv[1], "file") == 0) {
		repeat = DEFAULT_FILE_REPEAT;
		if (parse(argv[2], 1, ULONG_MAX, &n) != 0 ||
		    (argc >= 4 && parse(argv[3], 1, 65534, &base) != 0) ||
		    (argc == 5 && parse(argv[4], 1, 1000, &repeat) != 0))
			return usage();
		return cmd_file(n, (uint16_t)base, (unsigned)repeat) == 0 ? 0 : 1;
	}
	return usage();
}
