/*
 * ops: the FUSE (libfuse3 high-level, multithreaded) operations.  Each one
 * translates a request into a call of the node API; the node is reached
 * through fuse_get_context()->private_data.  No state of its own.
 */
#ifndef OAND_OPS_H
#define OAND_OPS_H

#define FUSE_USE_VERSION 314
#include <fuse.h>

/* Readahead asked of the kernel, in bytes. */
#define OPS_READAHEAD (4u << 20)

extern const struct fuse_operations ops_oand;

#endif
