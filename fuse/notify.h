/*
 * notify: the kernel's caches dropped for changes that did not come
 * through the mount.  Owns a queue and the thread that empties it: the
 * notifications go to the kernel from that thread alone, never from a
 * FUSE worker nor a thread holding a lock of the node, since the kernel
 * may wait on a folder's lock that such a thread's request holds.
 *
 * Any thread queues (notify_entry, notify_inode); a full queue drops its
 * oldest (logged): a lost invalidation only lasts the cache's timeout.
 */
#ifndef OAND_NOTIFY_H
#define OAND_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

struct fuse_session;
struct notify;

/* The queue and its thread for session se (mounted): 0 or -errno. */
int notify_new(struct fuse_session *se, struct notify **out);
/* Stop the thread (what is queued is dropped) and free (NULL-safe): 0,
   or 1 if the thread is held in the kernel and was left to end when the
   session's device closes (the session must then not be freed). */
int notify_free(struct notify *nt);
/* The entry name (len bytes) in folder parent, a negative one too. */
void notify_entry(struct notify *nt, uint64_t parent, const char *name, size_t len);
/* ino's attributes, and its pages or listing too if content. */
void notify_inode(struct notify *nt, uint64_t ino, int content);
/* Wait until what was queued before is done (1 s at most). */
void notify_wait(struct notify *nt);

#endif
