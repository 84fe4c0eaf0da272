/*
 * node: one oand node.  It owns the configuration, identity, metadata
 * (db), content store, clock, network and replication, and offers the
 * filesystem operations its frontends (the FUSE mount, the HTTP API, the
 * control socket) call.  It knows none of them: the code that runs it
 * starts them after node_start and, at the end, calls node_shutdown,
 * stops them, then node_close.
 * Every operation returns 0 or -errno and may be called from any thread.
 *
 * Writes are close-to-open: an open file handle writes to its own staging
 * file; node_file_flush() (close) hashes it, stores the blob durably and
 * only then publishes the new version.  Until then other opens see the
 * previous version; getattr on this node reports the staged size.
 *
 * Lock order: node_file.lock, then node.gc_lock (rwlock), then node.hlock
 * (the open files list and each file's path), then the db's own lock.
 * node.attr_lock (mode changes) is taken with none of the others but the
 * db's, which comes after it.
 * hlock never takes a node_file lock: what getattr needs of an open file
 * is read atomically.
 */
#ifndef OAND_NODE_H
#define OAND_NODE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "sizes.h"

struct cfg;
struct json_t;
struct net;
struct node;
struct node_file;

#define NODE_ID_BYTES OAND_KEY_BYTES
#define NODE_VERSION "0.1.0"

/* Open the data dir, take its lock, open store and db.  cfg stays owned by
 * the caller and must outlive the node. */
int node_open(const struct cfg *cfg, const char *mount_point, struct node **out);
/* Start the node's threads (collector, network, replication); after any
   fork.  On failure node_close still undoes what started. */
int node_start(struct node *n);
/* Stop the network (NULL-safe): what waits on it (a fetch, a call to a
   member) fails at once, so that the frontends stop without waiting.
   Waits for nothing but the network's own thread; the node still serves
   its own tree.  node_close does it too. */
void node_shutdown(struct node *n);
/* Close the node (NULL-safe), once its frontends have stopped. */
void node_close(struct node *n);
/* The node's mount on mount_point (its real path) is made: recorded in
   the data dir's lock file, so that a start that finds the lock taken and
   this mount gone (unmounted, the node about to stop) waits for it. */
void node_note_mounted(struct node *n, const char *mount_point);
/* The node begins to stop (NULL-safe; node_close says it too): a start
   that finds the lock taken waits up to lock-wait for it to exit instead
   of refusing at once. */
void node_note_stopping(struct node *n);
/*
 * Inode numbers, for the mount: 1 is the root; every other number names
 * the path it was given for until the kernel forgets it (node_ino_forget)
 * and is never given again.  A local rename moves the numbers of what it
 * moves; a name removed here loses its number (its open files keep
 * working); a name whose kind changed (replaced behind the mount) gets a
 * new one at its next lookup.
 */
typedef uint64_t node_ino_t;
#define NODE_ROOT_INO 1
/* What the kernel must drop when a change did not come through it (a
   member's, or the HTTP API's).  Called with no lock of the node held
   but the one node_set_inval takes; never waits in the kernel. */
struct node_inval_ops {
	/* The name's cached entry (a negative one too). */
	void (*entry)(void *ctx, node_ino_t parent, const char *name, size_t len);
	/* The inode's attributes, and its pages or listing too if content. */
	void (*inode)(void *ctx, node_ino_t ino, int content);
	/* Wait (briefly, with a deadline) until what was asked is done: the
	   HTTP API's change is seen by the next call into the mount. */
	void (*wait)(void *ctx);
};
/* ops (the caller's, outliving the use) get the invalidations; NULL to
   stop, which waits for a call under way. */
void node_set_inval(struct node *n, const struct node_inval_ops *ops, void *ctx);
/* What the mount's requests are doing, as the FUSE side sees it. */
struct node_mount_stats {
	unsigned in_flight;	/* requests read, not answered yet */
	unsigned stuck;		/* of them, waiting long (see fuse/watch.h) */
	int64_t oldest_ms;	/* age of the oldest in flight */
	char oldest_op[24];	/* its kind ("RENAME"), "" if none */
	uint64_t requests;	/* read since the start */
	uint64_t self_renames;	/* renames onto themselves, answered at once */
};
/* fn fills in the mount's figures for `oand status` (NULL: no mount). */
void node_set_mount_probe(struct node *n, void (*fn)(struct node_mount_stats *st, void *ctx),
			  void *ctx);
/* A change to path made here but not through the mount (the HTTP API):
   the mount drops what the kernel cached of path and of its folder.
   Never from inside a FUSE operation. */
void node_invalidate(struct node *n, const char *path);

const uint8_t *node_id(const struct node *n);
/* The Tox ID (76 hex digits) of the node of cfg, made on first use. */
int node_tox_id(const struct cfg *cfg, char out[77]);
/* The node's network side, or NULL for a standalone node (tests). */
struct net *node_net(struct node *n);

/*
 * The cluster, for the frontends.  Members are named by their key
 * (NODE_ID_BYTES); what names one on a command line is a Tox ID, a key,
 * a name or a unique key prefix (hex).  On a standalone node (no
 * cluster-key) each returns -ENOTCONN.
 */
/* The name the node list gives the member id (into out): 0 or -ENOENT. */
int node_peer_name(struct node *n, const uint8_t id[NODE_ID_BYTES], char *out, size_t len);
/* The node list as JSON or as a text table, in *out (the caller's):
   0, or -ENOMEM with *out NULL. */
int node_peers(struct node *n, int json, char **out);
/* How a joining node reaches this one over Tox (GET /v1/bootstrap). */
struct node_contact {
	char tox_id[77];
	char dht_key[65];	/* changes at every start */
	uint16_t udp_port;	/* 0 if UDP is off or not bound */
	int64_t run_ms;		/* since the network started */
	int64_t tox_age_ms;	/* since this Tox instance started */
};
int node_contact(struct node *n, struct node_contact *out);
/* The member that what names: 0, -ENOENT, or -EEXIST when several match. */
int node_peer_lookup(struct node *n, const char *what, uint8_t id[NODE_ID_BYTES]);
/* Send len (at most NODE_ECHO_MAX) bytes to member id and have them back
   within timeout_ms: 0 with the reply in *reply (the caller's, NULL when
   empty), or -errno as a call to a member fails (src/net/net.h). */
#define NODE_ECHO_MAX (16u << 20)
int node_echo(struct node *n, const uint8_t id[NODE_ID_BYTES], const uint8_t *body, size_t len,
	      int timeout_ms, uint8_t **reply, size_t *reply_len);
/* Remove the member that what names from the cluster: 0, -ENOENT, or
   -EINVAL (malformed, or this node). */
int node_peer_remove(struct node *n, const char *what);
/* Make the link to a member afresh: 0, -ENOENT, -EEXIST, -EINVAL (this
   node), -EPERM (a removed one). */
int node_peer_reconnect(struct node *n, const char *what);
/* 1 if this host can open IPv6 sockets, else 0. */
int node_host_has_ipv6(void);

/* Namespace operations on tree paths. */
int node_getattr(struct node *n, const char *path, struct stat *st);
/* Children of path after cursor after (0: all); see db_list for cursors. */
typedef int (*node_dir_cb)(const char *name, const struct stat *st, int64_t cursor, void *ctx);
int node_readdir(struct node *n, const char *path, int64_t after, node_dir_cb cb, void *ctx);
int node_mkdir(struct node *n, const char *path, mode_t mode, uid_t uid, gid_t gid);
int node_rmdir(struct node *n, const char *path);
int node_unlink(struct node *n, const char *path);
int node_rename(struct node *n, const char *from, const char *to, unsigned flags);
int node_symlink(struct node *n, const char *target, const char *path, uid_t uid, gid_t gid);
int node_readlink(struct node *n, const char *path, char *buf, size_t len);
int node_chmod(struct node *n, const char *path, mode_t mode);
int node_chown(struct node *n, const char *path, uid_t uid, gid_t gid);
/* Set the mtime (any value, before 1970 too); no separate atime is kept. */
int node_utimens(struct node *n, const char *path, int64_t mtime_ns);
int node_truncate(struct node *n, const char *path, uint64_t size);
int node_access(struct node *n, const char *path, int mask, uid_t uid, gid_t gid);
int node_statfs(struct node *n, struct statvfs *sv);
int node_getxattr(struct node *n, const char *path, const char *name, char *buf, size_t size);
int node_listxattr(struct node *n, const char *path, char *buf, size_t size);

/*
 * Who makes a change, for the set-ID rules of Linux (and POSIX): a write,
 * a truncate or an open with O_TRUNC by a caller without CAP_FSETID takes
 * the set-user-ID bit away, and the set-group-ID bit of a file that is
 * group-executable or whose group the caller is not in; a chown by any
 * caller takes the set-user-ID bit away, and the set-group-ID bit of a
 * group-executable file, or else as a write does.  Folders keep theirs.
 */
struct node_cred {
	uid_t uid;
	gid_t gid;
	int fsetid;		/* may keep set-ID bits (CAP_FSETID) */
	/* Is the caller in group g besides gid?  NULL: no other groups. */
	int (*in_group)(gid_t g, void *ctx);
	void *ctx;
};
enum { NODE_SETID_WRITE, NODE_SETID_CHOWN };
/* The set-ID bits that change (NODE_SETID_*) by c takes away from a file
   of mode and group gid. */
mode_t node_setid_drop(mode_t mode, gid_t gid, const struct node_cred *c, int change);
/* Take them away from path (or from f's file): 1 if some went, 0 if it
   had none to lose, or -errno.  Cheap for an open file that has none. */
int node_setid(struct node *n, const char *path, const struct node_cred *c, int change);
int node_file_setid(struct node_file *f, const struct node_cred *c, int change);
/* 1 if f's file was made by the node_create that opened it. */
int node_file_created(struct node_file *f);

/* Open files.  flags are open(2) flags. */
int node_create(struct node *n, const char *path, mode_t mode, int flags, uid_t uid, gid_t gid,
		struct node_file **out);
int node_open_file(struct node *n, const char *path, int flags, struct node_file **out);
/*
 * May the kernel keep its cached pages of this file at this open?  When
 * the open joined the mount's open state of the file, or its content is
 * the one last opened at this path and no write through the mount left
 * it since: the cache then holds exactly that content.  Otherwise the
 * cache must be dropped.
 */
int node_file_keep_cache(struct node_file *f);
ssize_t node_file_read(struct node_file *f, char *buf, size_t size, off_t off);
ssize_t node_file_write(struct node_file *f, const char *buf, size_t size, off_t off);
int node_file_truncate(struct node_file *f, uint64_t size);
int node_file_getattr(struct node_file *f, struct stat *st);
/* The path of f's file now: 0, or -ESTALE once it was removed. */
int node_file_path(struct node_file *f, char *buf, size_t len);
int node_file_flush(struct node_file *f);
int node_file_fsync(struct node_file *f);
/* Publishes what is still unpublished, then frees f. */
int node_file_release(struct node_file *f);

/*
 * The namespace by inode, for the mount (over the path functions above:
 * schema 5 keys by path, so each number maps to a path kept here).  A
 * name is one component (-ENAMETOOLONG beyond PATH_NAME_MAX bytes, or
 * when the path it makes is too long); a number not known or whose name
 * went gives -ESTALE.  Each call that fills a struct node_entry adds one
 * to the kernel's lookup count of its number, which node_ino_forget
 * takes back.  st_ino is the number.
 */
struct node_entry {
	node_ino_t ino;
	struct stat st;
};
int node_ino_lookup(struct node *n, node_ino_t parent, const char *name, struct node_entry *out);
void node_ino_forget(struct node *n, node_ino_t ino, uint64_t nlookup);
int node_ino_getattr(struct node *n, node_ino_t ino, struct stat *st);
/* What node_ino_setattr changes (any of them, in this order). */
enum {
	NODE_SET_MODE = 1, NODE_SET_UID = 2, NODE_SET_GID = 4, NODE_SET_SIZE = 8,
	NODE_SET_MTIME = 16
};
struct node_setattr {
	int valid;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	uint64_t size;
	int64_t mtime_ns;
};
/* Through f when the kernel names an open file (else NULL), by the rules
   of node_setid for owner and size changes; the attributes after, in out. */
int node_ino_setattr(struct node *n, node_ino_t ino, struct node_file *f,
		     const struct node_setattr *sa, const struct node_cred *c, struct stat *out);
int node_ino_mkdir(struct node *n, node_ino_t parent, const char *name, mode_t mode,
		   const struct node_cred *c, struct node_entry *out);
int node_ino_symlink(struct node *n, node_ino_t parent, const char *name, const char *target,
		     const struct node_cred *c, struct node_entry *out);
int node_ino_unlink(struct node *n, node_ino_t parent, const char *name);
int node_ino_rmdir(struct node *n, node_ino_t parent, const char *name);
/* A rename of a name onto itself is 0 (-ENOENT if it is gone, -EEXIST
   with RENAME_NOREPLACE), as rename(2). */
int node_ino_rename(struct node *n, node_ino_t parent, const char *name, node_ino_t newparent,
		    const char *newname, unsigned flags);
int node_ino_readlink(struct node *n, node_ino_t ino, char *buf, size_t len);
/*
 * Children of folder ino after offset off: "." is 1, ".." 2, each entry
 * past them its cursor + 2.  cb returns non-zero to stop (its buffer is
 * full); with plus, each entry cb accepts (returns 0) takes a lookup.
 */
typedef int (*node_ino_dir_cb)(const char *name, const struct node_entry *e, off_t off,
			       void *ctx);
int node_ino_readdir(struct node *n, node_ino_t ino, off_t off, int plus, node_ino_dir_cb cb,
		     void *ctx);
int node_ino_open(struct node *n, node_ino_t ino, int flags, struct node_file **out);
int node_ino_create(struct node *n, node_ino_t parent, const char *name, mode_t mode, int flags,
		    const struct node_cred *c, struct node_entry *out, struct node_file **f);
int node_ino_getxattr(struct node *n, node_ino_t ino, const char *name, char *buf, size_t size);
int node_ino_listxattr(struct node *n, node_ino_t ino, char *buf, size_t size);

/*
 * A whole new content for path (HTTP PUT): nothing is visible until
 * node_put_commit publishes it (creating or replacing a file); abort
 * leaves the tree as it was.  Write with node_file_write.  The parent
 * must be a folder; path must not be a folder (-EISDIR) or a symlink.
 */
int node_put_open(struct node *n, const char *path, int *existed, struct node_file **out);
int node_put_commit(struct node_file *f, uint64_t *size, uint8_t sha[32]);
void node_put_abort(struct node_file *f);
/* 0, or -ENOSPC if bytes more would eat into the database's reserve. */
int node_space_for(struct node *n, uint64_t bytes);

/* The published content of a file, fetched first if held elsewhere: an
   fd of its own (-1 for an empty file) to read and close. */
struct node_content {
	int fd;
	uint64_t size;
	int64_t mtime_ns;
	int has_sha;
	uint8_t sha[32];
};
int node_open_content(struct node *n, const char *path, struct node_content *out);

/* The node's status as one JSON object (the fields oand(8) lists), or
   NULL (no memory, a database error); the caller json_decref's it.  Its
   reals are tenths of seconds: a writer of 15 digits at most gives them
   back as such (JSON_REAL_PRECISION). */
struct json_t *node_status_get(struct node *n);

#endif
