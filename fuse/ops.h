/*
 * ops: the FUSE operations (libfuse3 low level, multithreaded), by inode
 * number.  Each one translates a request into a call of the node's API
 * by inode (node.h) and answers it; the node and the notifier are reached
 * through fuse_req_userdata(), a struct ops_ctx the session owns.  No
 * state of its own but a counter.
 */
#ifndef OAND_OPS_H
#define OAND_OPS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

/* Readahead asked of the kernel, in bytes. */
#define OPS_READAHEAD (4u << 20)

struct node;
struct notify;

/* What the operations reach: set before the session's loop starts. */
struct ops_ctx {
	struct node *node;
	struct notify *notify;
};

extern const struct fuse_lowlevel_ops ops_oand;

#endif
