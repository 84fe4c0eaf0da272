/*
 * xfer_send: the sending side of src/repl/xfer: a member's want answered
 * with a Tox file transfer of content held here, its chunks handed to Tox
 * as the link's pacing allows (xfer_net_pump), and the table of handlers
 * net_start() takes (struct net_files).  Net thread, under xfer's lock.
 */
#include "xfer.h"
#include "xfer_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "deadline.h"
#include "hex.h"
#include "log.h"
#include "net.h"
#include "sha256.h"
#include "store.h"

/* A member asks for content (sender side). */
void xfer_send_want(struct xfer *x, Tox *tox, uint32_t f, const uint8_t *body, size_t len)
{
	uint8_t sha[32];
	uint64_t size = 0;
	struct stat sb;
	struct send *s;
	Tox_Err_File_Send err;
	int fd = -1;
	char hex[17];

	if (len != WANT_BYTES)
		return;
	memcpy(sha, body, 32);
	for (int i = 7; i >= 0; i--)
		size = size << 8 | body[32 + i];
	/* Not read whole here (the net thread would stall): the receiver
	   checks what it gets. */
	if (x->nsends >= XFER_SENDS_MAX ||
	    store_open_blob_unchecked(x->store, sha, &fd) != 0 || fstat(fd, &sb) != 0 ||
	    (uint64_t)sb.st_size != size) {
		if (fd >= 0)
			close(fd);
		x->net.notice(x->net.ctx, f, NET_XFER_NOPE, sha, 32);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		close(fd);
		x->net.notice(x->net.ctx, f, NET_XFER_NOPE, sha, 32);
		return;
	}
	s->file = tox_file_send(tox, f, TOX_FILE_KIND_DATA, size, sha, (const uint8_t *)"oand", 4, &err);
	if (s->file == UINT32_MAX) {
		log_warn("xfer: cannot offer %s: error %d", short_hex(sha, hex), (int)err);
		close(fd);
		free(s);
		x->net.notice(x->net.ctx, f, NET_XFER_NOPE, sha, 32);
		return;
	}
	memcpy(s->peer, x->net.pk_of(x->net.ctx, f), 32);
	memcpy(s->sha, sha, 32);
	s->friend = f;
	s->fd = fd;
	s->size = size;
	s->next = x->sends;
	x->sends = s;
	x->nsends++;
}

struct send *xfer_send_find(struct xfer *x, uint32_t f, uint32_t file, struct send ***prev)
{
	for (struct send **p = &x->sends; *p != NULL; p = &(*p)->next)
		if ((*p)->friend == f && (*p)->file == file) {
			if (prev != NULL)
				*prev = p;
			return *p;
		}
	return NULL;
}

void xfer_send_drop(struct xfer *x, struct send **prev)
{
	struct send *s = *prev;

	*prev = s->next;
	close(s->fd);
	free(s);
	x->nsends--;
}

/*
 * Tox asks for the next chunk when its own congestion control has room,
 * which overflows a slow link's queue (see src/net's pacing).  So a
 * request is only noted here; xfer_net_pump() sends the chunks when the
 * link has room, in order (Tox takes them only in order).
 */
void xfer_net_chunk_request(struct xfer *x, Tox *tox, uint32_t f, uint32_t file, uint64_t pos,
			    size_t len)
{
	struct send *s, **prev;

	pthread_mutex_lock(&x->lock);
	if ((s = xfer_send_find(x, f, file, &prev)) == NULL) {
		pthread_mutex_unlock(&x->lock);
		return;
	}
	if (len == 0) {		/* all sent */
		xfer_send_drop(x, prev);
		pthread_mutex_unlock(&x->lock);
		return;
	}
	/* The first request starts where the receiver resumes (its seek). */
	if (s->asked == 0 && s->done == 0)
		s->asked = s->done = pos;
	if (pos != s->asked || len > TOX_MAX_CUSTOM_PACKET_SIZE || pos > s->size || len > s->size - pos) {
		tox_file_control(tox, f, file, TOX_FILE_CONTROL_CANCEL, NULL);
		xfer_send_drop(x, prev);
		pthread_mutex_unlock(&x->lock);
		return;
	}
	s->asked = pos + len;
	if (len > s->chunk)
		s->chunk = len;
	pthread_mutex_unlock(&x->lock);
}

size_t xfer_net_pump(struct xfer *x, Tox *tox, uint32_t f, size_t max, int *refused)
{
	uint8_t buf[TOX_MAX_CUSTOM_PACKET_SIZE];
	size_t sent = 0;
	int full = 0;

	pthread_mutex_lock(&x->lock);
	for (struct send **prev = &x->sends, *s; (s = *prev) != NULL && sent < max && !full;) {
		if (s->friend != f || s->done >= s->asked) {
			prev = &s->next;
			continue;
		}
		while (s->done < s->asked && sent < max) {
			uint64_t pos = s->done;
			size_t len = s->asked - pos > s->chunk ? s->chunk : (size_t)(s->asked - pos);
			Tox_Err_File_Send_Chunk err;

			if (pread(s->fd, buf, len, (off_t)pos) != (ssize_t)len)
				err = TOX_ERR_FILE_SEND_CHUNK_NOT_FOUND;	/* cancelled below */
			else if (x->corrupt && pos == 0)
				buf[0] ^= 0xff;
			if (tox_file_send_chunk(tox, f, s->file, pos, buf, len, &err)) {
				s->done = pos + len;
				sent++;
				continue;
			}
			if (err == TOX_ERR_FILE_SEND_CHUNK_SENDQ) {
				full = 1;	/* Tox's own limit: again later */
				break;
			}
			/* Tox will not take this chunk: end the transfer now
			   (the receiver goes on from what it has), not at its
			   stall. */
			tox_file_control(tox, f, s->file, TOX_FILE_CONTROL_CANCEL, NULL);
			xfer_send_drop(x, prev);
			s = NULL;
			break;
		}
		if (s != NULL && *prev == s)
			prev = &s->next;
	}
	pthread_mutex_unlock(&x->lock);
	*refused = full;
	return sent;
}

int xfer_net_waiting(struct xfer *x, uint32_t f)
{
	int w = 0;

	pthread_mutex_lock(&x->lock);
	for (struct send *s = x->sends; s != NULL && !w; s = s->next)
		w = s->friend == f && s->done < s->asked;
	pthread_mutex_unlock(&x->lock);
	return w;
}

/* ---- the table net_start() takes (struct net_files) ---- */

static uint32_t xn_friend_of(void *ctx, const uint8_t pk[32])
{
	return net_files_friend(ctx, pk);
}

static const uint8_t *xn_pk_of(void *ctx, uint32_t f)
{
	return net_files_pk(ctx, f);
}

static void xn_notice(void *ctx, uint32_t f, uint16_t method, const uint8_t *body, size_t len)
{
	net_files_notice(ctx, f, method, body, len);
}

static size_t xn_linked(void *ctx, uint8_t (*pks)[32], size_t max)
{
	return net_linked(ctx, pks, max);
}

static void xn_wake(void *ctx)
{
	net_wake(ctx);
}

static void nf_attach(void *ctx, struct net *n)
{
	struct xfer_net xn = {
		.ctx = n, .friend_of = xn_friend_of, .pk_of = xn_pk_of, .notice = xn_notice,
		.linked = xn_linked, .wake = xn_wake,
	};

	xfer_attach(ctx, &xn);
}

static void nf_recv(void *ctx, Tox *tox, uint32_t f, uint32_t file, uint32_t kind, uint64_t size)
{
	xfer_net_recv(ctx, tox, f, file, kind, size);
}

static void nf_chunk(void *ctx, Tox *tox, uint32_t f, uint32_t file, uint64_t pos,
		     const uint8_t *data, size_t len)
{
	xfer_net_chunk(ctx, tox, f, file, pos, data, len);
}

static void nf_chunk_request(void *ctx, Tox *tox, uint32_t f, uint32_t file, uint64_t pos,
			     size_t len)
{
	xfer_net_chunk_request(ctx, tox, f, file, pos, len);
}

static void nf_control(void *ctx, uint32_t f, uint32_t file, int control)
{
	xfer_net_control(ctx, f, file, (Tox_File_Control)control);
}

static size_t nf_pump(void *ctx, Tox *tox, uint32_t f, size_t max, int *refused)
{
	return xfer_net_pump(ctx, tox, f, max, refused);
}

static int nf_waiting(void *ctx, uint32_t f)
{
	return xfer_net_waiting(ctx, f);
}

static void nf_tick(void *ctx, Tox *tox)
{
	xfer_net_tick(ctx, tox);
}

static int nf_busy(void *ctx)
{
	return xfer_net_busy(ctx);
}

static void nf_notice(void *ctx, Tox *tox, uint32_t f, uint16_t method, const uint8_t *body,
		      size_t len)
{
	xfer_net_notice(ctx, tox, f, method, body, len);
}

static void nf_peer_down(void *ctx, uint32_t f)
{
	xfer_net_peer_down(ctx, f);
}

static void nf_all_down(void *ctx)
{
	xfer_net_all_down(ctx);
}

void xfer_net_files(struct xfer *x, struct net_files *out)
{
	*out = (struct net_files){
		.ctx = x, .attach = nf_attach, .recv = nf_recv, .chunk = nf_chunk,
		.chunk_request = nf_chunk_request, .control = nf_control, .pump = nf_pump,
		.waiting = nf_waiting, .tick = nf_tick, .busy = nf_busy, .notice = nf_notice,
		.peer_down = nf_peer_down, .all_down = nf_all_down,
	};
}
