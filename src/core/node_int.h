/*
 * node_int.h: what node.c lends the node's other files (nodestat.c), and
 * nothing outside src/core.  The parts named here are the node's and live
 * as long as it does; the figures are read under its locks.
 */
#ifndef OAND_NODE_INT_H
#define OAND_NODE_INT_H

#include <stdint.h>

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

#endif
