/*
 * xfer: whole-file transfers between members over Tox file transfer.
 *
 * A reader of a file whose content is not held here calls xfer_fetch():
 * unless the bytes missing would not fit on the disk (-ENOSPC at once,
 * nothing written), it waits (sharing the transfer with other readers of
 * the same content) while the net thread asks a member that holds it
 * (NET_XFER_WANT; a member that does not answers NET_XFER_NOPE) and
 * receives the content as a Tox file transfer whose file_id is its
 * SHA-256, into DATA/partial.  A transfer that breaks off continues from
 * the bytes already received, with the same or another holder
 * (tox_file_seek), also after a restart.  The bytes are hashed as they
 * arrive (those kept from before, first), so the whole file is checked
 * against its SHA-256 as soon as its last byte is in, before it becomes a
 * blob.  A holder that offered another size or sent bytes past it is cut
 * off at once and not asked for it again; a download that fails its
 * check blames its holder only if that one supplied all of it (see
 * xfer_blame).  With no holder answering and no byte arriving for
 * fetch-timeout, the fetch fails with -EIO.
 *
 * Only the net thread calls the xfer_net_* functions (they call tox_*);
 * xfer_fetch and xfer_list may be called from any thread.  xfer.c
 * fetches, xfer_send.c sends (and fills struct net_files); xfer_int.h
 * is what they share.
 */
#ifndef OAND_XFER_H
#define OAND_XFER_H

#include <stddef.h>
#include <stdint.h>
#include <tox/tox.h>

#include "net.h"

struct store;
struct db;
struct xfer;

#define XFER_STALL_MS 30000	/* a transfer silent this long moves to another holder */
#define XFER_ASK_MS 10000	/* a holder that neither sends nor refuses by then is skipped */
#define XFER_SENDS_MAX 64	/* files a node sends at once, to all members */

/* What xfer needs of the net thread. */
struct xfer_net {
	void *ctx;
	/* Friend number of pk if it is linked (connected, proven), else UINT32_MAX. */
	uint32_t (*friend_of)(void *ctx, const uint8_t pk[32]);
	/* Public key of friend f. */
	const uint8_t *(*pk_of)(void *ctx, uint32_t f);
	/* Send a notice of method with body to friend f. */
	void (*notice)(void *ctx, uint32_t f, uint16_t method, const uint8_t *body, size_t len);
	/* The members linked now. */
	size_t (*linked)(void *ctx, uint8_t (*pks)[32], size_t max);
	/* Wake the net thread (any thread). */
	void (*wake)(void *ctx);
};

struct xfer *xfer_new(struct store *st, struct db *db, const uint8_t self[32], int64_t timeout_ms);
/* Fail every fetch (-ESHUTDOWN), wait for the readers to leave, free. */
void xfer_free(struct xfer *x);
/* Called by net_start() before its thread runs (xfer_net_files()). */
void xfer_attach(struct xfer *x, const struct xfer_net *net);
/* The net is gone: fetches fail at once from now on. */
void xfer_detach(struct xfer *x);

/* Fetch the content sha of size bytes into the store: 0 once it is there
   (verified), -EIO when no holder delivered it in time, -ENOSPC, ... */
int xfer_fetch(struct xfer *x, const uint8_t sha[32], uint64_t size);

/* One transfer under way, for status. */
struct xfer_info {
	uint8_t sha[32];
	uint8_t peer[32];
	int sending;		/* 1: to peer, 0: from peer */
	int waiting;		/* a fetch with no holder answering yet (peer: zero) */
	int readers;		/* of a fetch: readers waiting for it */
	int64_t waited_ms;	/* of a fetch: since its first reader began to wait */
	uint64_t done, size;
	double rate;		/* bytes per second, recent */
};
/* Up to max transfers into out; returns how many there are. */
size_t xfer_list(struct xfer *x, struct xfer_info *out, size_t max);
/* Percent of sha received here so far, or -1 if it is not being fetched. */
int xfer_progress(struct xfer *x, const uint8_t sha[32], uint64_t *done);

/* Bytes [from, to) of a download came from holder (all zero: not known,
   such as bytes a partial kept from before a restart). */
struct xfer_span {
	uint8_t holder[32];
	uint64_t from, to;
};
/*
 * A download of size bytes, made of n spans in order, failed its check:
 * 1, and the holder to blame in who, when that one holder alone supplied
 * every byte; else 0 (several holders, or bytes of unknown origin): no
 * one can be blamed, and the download starts again from zero from one
 * holder, so that a member cannot get honest holders blamed for its bytes.
 */
int xfer_blame(const struct xfer_span *s, size_t n, uint64_t size, uint8_t who[32]);

/* ---- the net thread (its Tox callbacks hand on to these) ---- */
void xfer_net_recv(struct xfer *x, Tox *tox, uint32_t f, uint32_t file, uint32_t kind,
		   uint64_t size);
void xfer_net_chunk(struct xfer *x, Tox *tox, uint32_t f, uint32_t file, uint64_t pos,
		    const uint8_t *data, size_t len);
void xfer_net_chunk_request(struct xfer *x, Tox *tox, uint32_t f, uint32_t file, uint64_t pos,
			    size_t len);
/* Send at most max chunks Tox asked for to friend f, in order: how many
   went (fewer, and *refused set, when Tox's queue is full). */
size_t xfer_net_pump(struct xfer *x, Tox *tox, uint32_t f, size_t max, int *refused);
/* 1 if chunks Tox asked for wait to go to friend f. */
int xfer_net_waiting(struct xfer *x, uint32_t f);
void xfer_net_control(struct xfer *x, uint32_t f, uint32_t file, Tox_File_Control c);
void xfer_net_tick(struct xfer *x, Tox *tox);
/* 1 while bytes flow (the net thread then iterates fast). */
int xfer_net_busy(struct xfer *x);
void xfer_net_notice(struct xfer *x, Tox *tox, uint32_t f, uint16_t method, const uint8_t *body,
		     size_t len);
/* Friend f's link went down (Tox ends its transfers); fresh: all friends. */
void xfer_net_peer_down(struct xfer *x, uint32_t f);
void xfer_net_all_down(struct xfer *x);
/* The table net_start() takes: the xfer_net_* above, and an attach that
   gives x the net's side (xfer_attach). */
void xfer_net_files(struct xfer *x, struct net_files *out);

#endif
