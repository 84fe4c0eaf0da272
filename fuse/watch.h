#ifndef OAND_FUSE_WATCH_H
#define OAND_FUSE_WATCH_H

/*
 * Between the kernel and libfuse: every request is seen as it is read and
 * every answer as it is written.  The requests in flight are kept with
 * their age, so that a request that waits long shows in the log and in
 * `oand status`.  One watch per process; its calls may come from any
 * thread.
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

/* A rename of a name onto itself was asked (the kernel's entry of it
   went stale): counted for `oand status`. */
void watch_count_self_rename(void);

#endif
