/*
 * store: content-addressed blobs under DATA/objects/ab/cd/<sha256 hex>,
 * one per distinct content.  New content is written to a staging file
 * (DATA/staging), fsynced, then renamed into place, and the folder is
 * fsynced: a blob that has a name is complete and durable.  Blobs are
 * verified against their name before their bytes are served; a blob that
 * fails is never returned (-EIO, logged, moved to DATA/corrupt).
 * Thread safe.
 */
#ifndef OAND_STORE_H
#define OAND_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "sizes.h"

#define STORE_SHA_BYTES OAND_SHA_BYTES
#define STORE_HEX_LEN 65	/* 64 hex digits and a NUL */

struct store;

/* Open (creating folders) and remove leftovers of a crash in staging. */
int store_open(const char *data_dir, struct store **out);
void store_close(struct store *st);

/* Bytes kept free on the data dir's disk (2% of it, 1 MiB to 64 MiB), so
   the database can always record deletes and the node can always start. */
uint64_t store_reserve(const struct store *st);
/* 0 if bytes more fit on the data dir's disk above the reserve (or if
   that cannot be told: the write finds out), else -ENOSPC. */
int store_space_for(struct store *st, uint64_t bytes);

void store_hex(const uint8_t sha[STORE_SHA_BYTES], char out[STORE_HEX_LEN]);
int store_unhex(const char *hex, uint8_t sha[STORE_SHA_BYTES]);

/* A new empty staging file: fd open read-write, its path in path. */
int store_staging_new(struct store *st, int *fd, char *path, size_t pathlen);
/* SHA-256 and size of everything in fd (read with pread). */
int store_hash_fd(int fd, uint8_t sha[STORE_SHA_BYTES], uint64_t *size);
/*
 * Make the staging file (fd, path) the blob of sha: fsync, rename into
 * place (or drop it when that content is already stored), fsync the
 * folder.  On success the staging file's name is gone; on failure it is
 * left for the caller.  fd stays open for the caller to close.  The caller
 * vouches that sha is fd's hash.
 */
int store_commit(struct store *st, int fd, const char *path, const uint8_t sha[STORE_SHA_BYTES]);
/* Open a blob for reading, verified: 0, -ENOENT, or -EIO if corrupt. */
int store_open_blob(struct store *st, const uint8_t sha[STORE_SHA_BYTES], int *fd);
/* Open a blob for sending to a member, not checked here (that would read
   it whole first): the receiver checks it against its name. */
int store_open_blob_unchecked(struct store *st, const uint8_t sha[STORE_SHA_BYTES], int *fd);
/* 1 if the blob exists, 0 if not. */
int store_has(struct store *st, const uint8_t sha[STORE_SHA_BYTES]);
int store_remove(struct store *st, const uint8_t sha[STORE_SHA_BYTES]);
/* Remove every blob for which in_use returns 0.  Returns how many. */
typedef int (*store_in_use_fn)(const uint8_t sha[STORE_SHA_BYTES], void *ctx);
long store_gc(struct store *st, store_in_use_fn in_use, void *ctx);
/* What this node's disk holds: whole blobs and partial downloads, counted
   on disk (at most every STORE_USAGE_MS; a count that old is given
   meanwhile). */
#define STORE_USAGE_MS 5000
struct store_usage {
	uint64_t blobs, bytes;
	uint64_t partials, partial_bytes;
};
int store_get_usage(struct store *st, struct store_usage *u);
/*
 * Downloads (DATA/partial/<hex>), kept across restarts so they resume.
 * store_partial_open: open (making it if missing) read-write; *have is the
 * bytes it holds.  store_partial_done: it is whole, and the caller checked
 * it against sha as its bytes came: made the blob.
 */
int store_partial_open(struct store *st, const uint8_t sha[STORE_SHA_BYTES], int *fd, uint64_t *have);
/* The bytes a download holds (0 if there is none), making nothing. */
int store_partial_size(struct store *st, const uint8_t sha[STORE_SHA_BYTES], uint64_t *have);
int store_partial_done(struct store *st, const uint8_t sha[STORE_SHA_BYTES]);
void store_partial_drop(struct store *st, const uint8_t sha[STORE_SHA_BYTES]);
/* Forget cached verifications (tests; after external changes). */
void store_forget_verified(struct store *st);

#endif
