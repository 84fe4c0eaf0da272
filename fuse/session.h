/*
 * session: a node's FUSE mount (libfuse3 low level, multithreaded): the
 * mount options, the mount itself (a stale one cleared first), the watch
 * on its requests (fuse/watch.h), the notifier that drops the kernel's
 * caches when members change paths (fuse/notify.h), and the loop.  Owns
 * the FUSE session; the node is the caller's and outlives the session.
 *
 * Used by the code that runs a node (src/front/serve.c), from one thread:
 * session_new before the node exists, session_mount once it is open,
 * session_loop in the final process, session_free after the loop.
 */
#ifndef OAND_SESSION_H
#define OAND_SESSION_H

#include <stdint.h>

struct node;
struct session;

/*
 * The FUSE object for mount_point, with the options of the configuration
 * (cfg_options) and of the command line (extra), each NULL or a -o list.
 * From here SIGTERM, SIGINT and SIGHUP end the loop (it returns at once
 * if it has not started).  Nothing is mounted yet.  0, -EINVAL for
 * options FUSE refuses (logged), or -errno.
 */
int session_new(const char *mount_point, const char *cfg_options, const char *extra,
		struct session **out);
/*
 * Mount for node n: the mount point is made if absent and a stale mount
 * on it cleared; the mount is noted in n's lock (node_note_mounted); the
 * requests are watched (those waiting stuck_ms or more are logged) and
 * n's status and invalidations reach them.  0 or -errno (logged).
 */
int session_mount(struct session *s, struct node *n, int64_t stuck_ms);
/* Serve requests until unmounted or signalled: 0, or -errno. */
int session_loop(struct session *s);
/* Unmount (if mounted), detach from the node and free (NULL-safe). */
void session_free(struct session *s);

#endif
