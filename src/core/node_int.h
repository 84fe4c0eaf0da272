/*
 * node_int.h: what node.c lends the node's other files (nodestat.c), and
 * nothing outside src/core.  The parts named here are the node's and live
 * as long as it does; the figures are read under its locks.
 */
#ifndef OAND_NODE_INT_H
#define OAND_NODE_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "node.h"

struct db;
struct net;
struct store;
struct sync;
struct xfer;

/* What the status reads of the node. */
struct node_parts {
	const char *name;		/* server-name */
	const char *data_dir;
	const char *mount_point;	/* NULL: not mounted */
	const uint8_t *id;		/* NODE_ID_BYTES */
	int64_t started;		/* seconds since the epoch */
	int open_files;
	int has_mount;			/* a mount probe is set: mount is filled in */
	struct node_mount_stats mount;
	struct db *db;
	struct store *store;
	struct net *net;		/* NULL: standalone (no cluster-key) */
	struct sync *sync;		/* NULL: standalone */
	struct xfer *xfer;		/* NULL: standalone */
};
void node_get_parts(struct node *n, struct node_parts *p);

/*
 * The inode numbers' table (node_ino.c): number <-> path, lookup counts.
 * Its lock is taken alone: nothing is called while it is held.
 */
struct node_inos;
int node_inos_new(struct node_inos **out);
void node_inos_free(struct node_inos *t);
/* The node's table (made by node_open). */
struct node_inos *node_inos_of(struct node *n);
/* Moves with every rename and detach: read it before resolving a path,
   and node_inos_map refuses (-EAGAIN) if it moved meanwhile. */
uint64_t node_inos_gen(struct node_inos *t);
/* The path of ino into buf: 0, -ESTALE (unknown, or its name went). */
int node_inos_path(struct node_inos *t, node_ino_t ino, char *buf, size_t len);
/* The path of name in folder parent: 0, -ESTALE, -ENAMETOOLONG, -EINVAL. */
int node_inos_child(struct node_inos *t, node_ino_t parent, const char *name, char *buf,
		    size_t len);
/* The number of path (of kind type), made if it has none or had one of
   another kind, with one more lookup: 0, -EAGAIN (gen moved), -ENOMEM. */
int node_inos_map(struct node_inos *t, const char *path, mode_t type, uint64_t gen,
		  node_ino_t *ino);
/* nlookup lookups fewer; at none the number is gone for good. */
void node_inos_unref(struct node_inos *t, node_ino_t ino, uint64_t nlookup);
/* path was removed: its number (if any) keeps no name. */
void node_inos_detach(struct node_inos *t, const char *path);
/* from was renamed to: the numbers at and below it follow, to's own
   (replaced) loses its name. */
void node_inos_rename(struct node_inos *t, const char *from, const char *to);
/* The node has (open 1) or no longer has (open 0) an open state of ino:
   its size and times are then the state's, not the database's. */
void node_inos_set_open(struct node_inos *t, node_ino_t ino, int open);
int node_inos_is_open(struct node_inos *t, node_ino_t ino);
/* The number of path, or 0, and its S_IFMT bits (0 when not known). */
node_ino_t node_inos_find_type(struct node_inos *t, const char *path, mode_t *type);
/* The number of path, or 0. */
node_ino_t node_inos_find(struct node_inos *t, const char *path);
/* f was just opened by the mount as ino, with open(2) flags: it becomes
   ino's open state, or, if the mount has ino open already, f is freed and
   the state it joins (one more open; emptied by O_TRUNC) is returned. */
struct node_file *node_file_share(struct node_file *f, uint64_t ino, int flags);
/* The mount's open state of ino with one more open (node_file_release
   ends it), writable if asked, or NULL if ino is not open. */
struct node_file *node_files_hold(struct node *n, uint64_t ino, int writable);
/* The attributes of ino from a file open as it, once its name went:
   0, or -ESTALE if none is open. */
int node_files_stat(struct node *n, uint64_t ino, struct stat *st);
/* path changed, not through the mount: ops drop what the kernel holds of
   it and of its folder (the numbers it knows only). */
void node_inos_inval(struct node_inos *t, const char *path, const struct node_inval_ops *ops,
		     void *ctx);

#endif
