/*
 * wire: the messages nodes exchange, and their split into Tox custom
 * lossless packets (at most WIRE_PACKET_MAX bytes, first byte 160..191).
 *
 * A message is a request, a reply or a notice in the shape of the seed
 * notes: method, resource, id, from, to, body.  Its encoding is
 * fixed-width little-endian fields; nothing is ever copied as a struct.
 * Fragments carry (message number, total length, offset); Tox delivers
 * them reliably and in order per friend, so any gap, overlap or change of
 * length is a violation: the message is dropped and counted.  Everything
 * here reads untrusted input: lengths are checked before copies, and a
 * reassembler holds at most its caps (messages in flight, bytes), growing
 * buffers only as bytes arrive.  Pure code, no threads: one reassembler
 * per peer, owned by the thread that owns the Tox instance.
 */
#ifndef OAND_WIRE_H
#define OAND_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "sizes.h"

#define WIRE_PACKET_MAX 1373		/* TOX_MAX_CUSTOM_PACKET_SIZE */
#define WIRE_PACKET_ID 160		/* first byte of our fragments */
/* The same fragments, not counted in what the receiver acknowledges
   (src/net's control messages, to peers that pace). */
#define WIRE_PACKET_UNCOUNTED 162
#define WIRE_FRAG_HEADER 13		/* id, message number, total, offset */
#define WIRE_FRAG_PAYLOAD (WIRE_PACKET_MAX - WIRE_FRAG_HEADER)
#define WIRE_VERSION 1
#define WIRE_KEY_BYTES OAND_KEY_BYTES
#define WIRE_RESOURCE_MAX 4096
#define WIRE_BODY_MAX (64u << 20)	/* a message body never exceeds this */
#define WIRE_MSG_HEADER (1 + 1 + 2 + 2 + 8 + 2 * WIRE_KEY_BYTES + 2 + 4)
#define WIRE_MSG_MAX (WIRE_MSG_HEADER + WIRE_RESOURCE_MAX + WIRE_BODY_MAX)

enum wire_type { WIRE_REQUEST = 1, WIRE_REPLY = 2, WIRE_NOTICE = 3 };

struct wire_msg {
	uint8_t type;			/* enum wire_type */
	uint16_t method;		/* what is asked (requests, notices) */
	uint16_t status;		/* 0 or an errno value (replies) */
	uint64_t id;			/* pairs a reply with its request */
	uint8_t from[WIRE_KEY_BYTES];
	uint8_t to[WIRE_KEY_BYTES];
	char *resource;			/* NUL-terminated, no NUL inside; owned */
	uint8_t *body;			/* owned; NULL when body_len is 0 */
	size_t body_len;
};

void wire_msg_clear(struct wire_msg *m);
/* Encode m into a new buffer (*out, owned by the caller). */
int wire_encode(const struct wire_msg *m, uint8_t **out, size_t *len);
/* Decode one whole message: 0, or -EBADMSG / -EMSGSIZE / -EPROTO / -ENOMEM. */
int wire_decode(const uint8_t *buf, size_t len, struct wire_msg *m);

/* How many packets a message of len bytes takes. */
size_t wire_packets(size_t len);
/* Build packet number index (0-based) of message number seq into pkt
   (WIRE_PACKET_MAX bytes); returns its length. */
size_t wire_packet(uint32_t seq, const uint8_t *msg, size_t len, size_t index, uint8_t *pkt);

struct wire_reasm;
struct wire_stats {
	uint64_t packets, messages;	/* accepted packets, completed messages */
	uint64_t malformed;		/* short, unknown id, bad length */
	uint64_t out_of_order;		/* gaps, overlaps, changed totals */
	uint64_t over_cap;		/* refused: one message over the byte cap */
	uint64_t expired;		/* half-received ones dropped for newer */
};

/* max_msgs messages in flight holding at most max_bytes in all; a new
   message that does not fit pushes out the ones whose last packet came
   longest ago (half-received messages expire when room is needed). */
struct wire_reasm *wire_reasm_new(size_t max_msgs, size_t max_bytes);
void wire_reasm_free(struct wire_reasm *r);
/* Forget every partial message (the peer went away). */
void wire_reasm_reset(struct wire_reasm *r);
/*
 * Feed one packet.  Returns 1 with a whole message in *msg (owned by the
 * caller) and its length in *len, 0 when more is needed, or -errno when
 * the packet was dropped (counted in the stats).
 */
int wire_reasm_feed(struct wire_reasm *r, const uint8_t *pkt, size_t n, uint8_t **msg, size_t *len);
/* The same, with the time (any monotonic ms) the packet came: partial
   messages remember when they began and when their last byte came. */
int wire_reasm_feed_at(struct wire_reasm *r, int64_t now, const uint8_t *pkt, size_t n,
		       uint8_t **msg, size_t *len);
/* The partial message that began first: 1 with its state, 0 if none. */
struct wire_partial {
	size_t got, total;	/* bytes received of a message of total */
	int64_t started, last;	/* times given to wire_reasm_feed_at() */
};
int wire_reasm_oldest(const struct wire_reasm *r, struct wire_partial *out);
/* Bytes currently held for partial messages, and how many there are. */
size_t wire_reasm_held(const struct wire_reasm *r, size_t *msgs);
void wire_reasm_stats(const struct wire_reasm *r, struct wire_stats *st);

#endif
