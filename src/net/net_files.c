/*
 * net_files.c: whole files: the Tox file transfer callbacks and the file
 * chunks that share a link's window, handed on to the file mover (struct
 * net_files, src/repl/xfer), and what it may ask of the net thread.
 */
#include "net_int.h"

#include <stdint.h>
#include <tox/tox.h>

/* File chunks Tox asked for, at most *room of them (the file mover). */
int net_files_flush(struct net *n, uint32_t f, size_t *room)
{
	struct peer *p = &n->fr[f];
	int refused = 0;
	size_t sent;

	if (n->files == NULL || *room == 0)
		return n->files != NULL && n->files->waiting(n->files->ctx, f);
	sent = n->files->pump(n->files->ctx, n->tox, f, *room, &refused);
	p->handed += sent;
	p->counted += sent;
	for (size_t i = 0; i < sent && p->timed_pk == 0; i++)
		net_q_sent(p);
	if (*room != SIZE_MAX)
		*room -= sent;
	p->refused += refused;
	return refused || n->files->waiting(n->files->ctx, f);
}

void net_files_on_recv(Tox *tox, uint32_t f, uint32_t file, uint32_t kind, uint64_t size,
		       const uint8_t *name, size_t name_len, void *user)
{
	struct net *n = user;

	(void)name;
	(void)name_len;
	/* Only proven members may send us anything. */
	if (n->files == NULL || f >= FRIENDS_MAX || !n->fr[f].proven) {
		tox_file_control(tox, f, file, TOX_FILE_CONTROL_CANCEL, NULL);
		return;
	}
	n->files->recv(n->files->ctx, tox, f, file, kind, size);
}

void net_files_on_chunk(Tox *tox, uint32_t f, uint32_t file, uint64_t pos, const uint8_t *data,
			size_t len, void *user)
{
	struct net *n = user;

	if (f < FRIENDS_MAX && len > 0)
		n->fr[f].rx_pk++;	/* a packet NET_RX counts */
	if (n->files != NULL && f < FRIENDS_MAX && n->fr[f].proven)
		n->files->chunk(n->files->ctx, tox, f, file, pos, data, len);
}

void net_files_on_chunk_request(Tox *tox, uint32_t f, uint32_t file, uint64_t pos, size_t len,
				void *user)
{
	struct net *n = user;

	if (n->files != NULL && f < FRIENDS_MAX)
		n->files->chunk_request(n->files->ctx, tox, f, file, pos, len);
}

void net_files_on_control(Tox *tox, uint32_t f, uint32_t file, Tox_File_Control c, void *user)
{
	struct net *n = user;

	(void)tox;
	if (n->files != NULL && f < FRIENDS_MAX)
		n->files->control(n->files->ctx, f, file, (int)c);
}

uint32_t net_files_friend(struct net *n, const uint8_t pk[IDENT_KEY_BYTES])
{
	uint32_t f = net_peer_of(n, pk);

	return f != UINT32_MAX && n->fr[f].up && n->fr[f].proven && n->fr[f].sent ? f : UINT32_MAX;
}

const uint8_t *net_files_pk(struct net *n, uint32_t f)
{
	return n->fr[f < FRIENDS_MAX ? f : 0].pk;
}

void net_files_notice(struct net *n, uint32_t f, uint16_t method, const uint8_t *body, size_t len)
{
	if (f < FRIENDS_MAX)
		net_q_notice(n, f, method, body, len);
}
