/*
 * net_files.c: whole files: the Tox file transfer callbacks and the file
 * chunks that share a link's window, handed on to src/xfer.
 */
#include "net_int.h"

#include <stdint.h>
#include <tox/tox.h>

#include "xfer.h"

/* File chunks Tox asked for, at most *room of them (src/xfer). */
int net_files_flush(struct net *n, uint32_t f, size_t *room)
{
	struct peer *p = &n->fr[f];
	int refused = 0;
	size_t sent;

	if (n->xfer == NULL || *room == 0)
		return n->xfer != NULL && xfer_net_waiting(n->xfer, f);
	sent = xfer_net_pump(n->xfer, n->tox, f, *room, &refused);
	p->handed += sent;
	p->counted += sent;
	for (size_t i = 0; i < sent && p->timed_pk == 0; i++)
		net_q_sent(p);
	if (*room != SIZE_MAX)
		*room -= sent;
	p->refused += refused;
	return refused || xfer_net_waiting(n->xfer, f);
}

void net_files_on_recv(Tox *tox, uint32_t f, uint32_t file, uint32_t kind, uint64_t size,
		       const uint8_t *name, size_t name_len, void *user)
{
	struct net *n = user;

	(void)name;
	(void)name_len;
	/* Only proven members may send us anything. */
	if (n->xfer == NULL || f >= FRIENDS_MAX || !n->fr[f].proven) {
		tox_file_control(tox, f, file, TOX_FILE_CONTROL_CANCEL, NULL);
		return;
	}
	xfer_net_recv(n->xfer, tox, f, file, kind, size);
}

void net_files_on_chunk(Tox *tox, uint32_t f, uint32_t file, uint64_t pos, const uint8_t *data,
			size_t len, void *user)
{
	struct net *n = user;

	if (f < FRIENDS_MAX && len > 0)
		n->fr[f].rx_pk++;	/* a packet NET_RX counts */
	if (n->xfer != NULL && f < FRIENDS_MAX && n->fr[f].proven)
		xfer_net_chunk(n->xfer, tox, f, file, pos, data, len);
}

void net_files_on_chunk_request(Tox *tox, uint32_t f, uint32_t file, uint64_t pos, size_t len,
				void *user)
{
	struct net *n = user;

	if (n->xfer != NULL && f < FRIENDS_MAX)
		xfer_net_chunk_request(n->xfer, tox, f, file, pos, len);
}

void net_files_on_control(Tox *tox, uint32_t f, uint32_t file, Tox_File_Control c, void *user)
{
	struct net *n = user;

	(void)tox;
	if (n->xfer != NULL && f < FRIENDS_MAX)
		xfer_net_control(n->xfer, f, file, c);
}

static uint32_t xn_friend_of(void *ctx, const uint8_t pk[32])
{
	struct net *n = ctx;
	uint32_t f = net_peer_of(n, pk);

	return f != UINT32_MAX && n->fr[f].up && n->fr[f].proven && n->fr[f].sent ? f : UINT32_MAX;
}

static const uint8_t *xn_pk_of(void *ctx, uint32_t f)
{
	struct net *n = ctx;

	return n->fr[f < FRIENDS_MAX ? f : 0].pk;
}

static void xn_notice(void *ctx, uint32_t f, uint16_t method, const uint8_t *body, size_t len)
{
	if (f < FRIENDS_MAX)
		net_q_notice(ctx, f, method, body, len);
}

static size_t xn_linked(void *ctx, uint8_t (*pks)[32], size_t max)
{
	return net_linked(ctx, pks, max);
}

static void xn_wake(void *ctx)
{
	net_wake(ctx);
}

/* xfer's way to the net thread, given before that thread runs. */
void net_files_attach(struct net *n)
{
	struct xfer_net xn = {
		.ctx = n, .friend_of = xn_friend_of, .pk_of = xn_pk_of, .notice = xn_notice,
		.linked = xn_linked, .wake = xn_wake,
	};

	xfer_attach(n->xfer, &xn);
}
