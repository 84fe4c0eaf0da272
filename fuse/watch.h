#ifndef OAND_FUSE_WATCH_H
#define OAND_FUSE_WATCH_H

/*
 * Between the kernel and libfuse: every request is seen as it is read and
 * every answer as it is written.
 *
 * - A rename of a name onto itself (same folder, same name) is answered
 *   here, before libfuse's high-level API locks the two paths: it would
 *   lock the same node twice and wait for itself forever, with the
 *   kernel holding the folder's lock meanwhile.  The kernel sends such a
 *   rename when the name's cached entry went stale between its two
 *   lookups (the name was removed or replaced by another node).
 * - The requests in flight are kept with their age, so that a request
 *   that waits long shows in the log and in `oand status`.
 */

#include <stddef.h>
#include <stdint.h>

struct fuse_session;
struct node_mount_stats;

/* Put the watch between the mounted session's fd and libfuse: 0 or -errno.
   Starts a thread that logs each request in flight stuck_ms or more
   (once); watch_detach stops it. */
int watch_attach(struct fuse_session *se, int64_t stuck_ms);
void watch_detach(void);
/* The figures for `oand status` (a node_set_mount_probe() function). */
void watch_get(struct node_mount_stats *st, void *ctx);

/* What the watch does with one request as read from the kernel (len
   bytes): -1, pass it on to libfuse; else answer it at once with that
   error (0: success, or a positive errno). */
int watch_self_rename(const void *req, size_t len);

#endif
