/*
 * db: the namespace and the holders list in sqlite3 (WAL mode).  All SQL
 * of oand lives in this module.  One record per tree path: kind, size,
 * mode, owner, times, content hash, version (HLC timestamp + origin node)
 * with a per-origin sequence number, and a deleted flag (tombstones are
 * kept for replication).  Every call is one transaction; a mutex inside
 * serialises callers, so any thread may call any function.  Errors are
 * 0 or -errno; sqlite codes are translated in db_errno() only.
 */
#ifndef OAND_DB_H
#define OAND_DB_H

#include <stdint.h>
#include <sys/types.h>

#include "sizes.h"

#define DB_SHA_BYTES OAND_SHA_BYTES
#define DB_NODE_BYTES OAND_KEY_BYTES
#define DB_SCHEMA_VERSION 5
#define DB_ADDR_BYTES OAND_ADDR_BYTES		/* a Tox ID: key, nospam, checksum */

struct db;
struct clock;

/* DB_HOLDER only travels in a struct db_rec: its origin holds e.sha256. */
enum db_kind { DB_FILE = 'f', DB_DIR = 'd', DB_LINK = 'l', DB_HOLDER = 'h' };

struct db_entry {
	int kind;			/* enum db_kind */
	uint64_t size;
	uint32_t mode;			/* permission bits (07777) only */
	uint32_t uid, gid;
	int64_t mtime_ns, ctime_ns;
	int has_sha;
	uint8_t sha256[DB_SHA_BYTES];
	char *target;			/* symlink target (owned), or NULL */
	uint64_t hlc;			/* version: HLC timestamp ... */
	uint8_t origin[DB_NODE_BYTES];	/* ... and the node that made it */
	uint64_t seq;			/* per-origin sequence number */
	int deleted;
};

/* Attributes a setattr may change; a bit mask of what to apply. */
enum { DB_SET_MODE = 1, DB_SET_OWNER = 2, DB_SET_MTIME = 4 };

int db_open(const char *file, const uint8_t self[DB_NODE_BYTES], struct clock *clock,
	    struct db **out);
void db_close(struct db *db);
void db_entry_clear(struct db_entry *e);

/* Live entry at path, or -ENOENT (tombstones count as absent). */
int db_get(struct db *db, const char *path, struct db_entry *e);
/*
 * Each live child of dir, by name (bytewise, the same order on every
 * node), after the entry whose cursor is after (0: from the start); cb
 * returning non-zero stops.  A cursor (> 0) names its entry's row, which
 * stays (as a tombstone once removed), so a listing resumed at a cursor
 * goes on after that name: it neither skips nor repeats entries when
 * others are added or removed meanwhile (names added before it are not
 * seen, as POSIX allows).
 */
typedef int (*db_list_cb)(const char *name, const struct db_entry *e, int64_t cursor,
			  void *ctx);
int db_list(struct db *db, const char *dir, int64_t after, db_list_cb cb, void *ctx);

int db_mkdir(struct db *db, const char *path, uint32_t mode, uint32_t uid, uint32_t gid);
int db_symlink(struct db *db, const char *path, const char *target, uint32_t uid, uint32_t gid);
/*
 * Publish file content at path.  With excl, the path must not exist.
 * If the path is a file, its mode/owner are kept unless it is created,
 * and the old hash (if any) is returned in old_sha (has_old set) so the
 * caller can collect the blob.  sha NULL means empty content.
 */
struct db_publish {
	const char *path;
	int excl;		/* fail with -EEXIST if it exists */
	int create;		/* create if missing (else -ENOENT) */
	uint32_t mode, uid, gid;/* for a new file */
	uint64_t size;
	const uint8_t *sha;	/* NULL for no content (size 0) */
	int mtime_set;		/* use mtime_ns, else now */
	int64_t mtime_ns;
	const uint8_t *holder;	/* node to record as holder of sha, or NULL */
	/* out */
	int has_old;
	uint8_t old_sha[DB_SHA_BYTES];
};
int db_publish(struct db *db, struct db_publish *p);
/* Remove a file or symlink; old_sha as for db_publish. */
int db_unlink(struct db *db, const char *path, int *has_old, uint8_t old_sha[DB_SHA_BYTES]);
int db_rmdir(struct db *db, const char *path);
/*
 * Rename with POSIX replace semantics (flags: RENAME_NOREPLACE honoured,
 * RENAME_EXCHANGE refused with -EINVAL).  A replaced file's hash goes to
 * old_sha.  Folders move with everything below them.
 */
int db_rename(struct db *db, const char *from, const char *to, unsigned flags,
	      int *has_old, uint8_t old_sha[DB_SHA_BYTES]);
int db_setattr(struct db *db, const char *path, int what, uint32_t mode, uint32_t uid,
	       uint32_t gid, int64_t mtime_ns);

/* A live path whose content is sha (into out), or -ENOENT. */
int db_path_of(struct db *db, const uint8_t sha[DB_SHA_BYTES], char *out, size_t len);
/* Contents of live files that fewer than replicas nodes hold, in order of
   hash after after (NULL: from the start), at most limit: cb(sha, size)
   for each, outside the lock; non-zero stops.  Returns how many were
   found, or -errno. */
typedef int (*db_underheld_cb)(const uint8_t sha[DB_SHA_BYTES], uint64_t size, void *ctx);
int db_underheld(struct db *db, int replicas, const uint8_t *after, size_t limit,
		 db_underheld_cb cb, void *ctx);
/* Drop every holding of a forgotten node. */
int db_holders_forget(struct db *db, const uint8_t node[DB_NODE_BYTES]);
/* Is this hash the content of any live file? 1 yes, 0 no, or -errno. */
int db_sha_in_use(struct db *db, const uint8_t sha[DB_SHA_BYTES]);
int db_holder_add(struct db *db, const uint8_t sha[DB_SHA_BYTES], const uint8_t node[DB_NODE_BYTES]);
int db_holder_remove(struct db *db, const uint8_t sha[DB_SHA_BYTES], const uint8_t node[DB_NODE_BYTES]);
/* Drop node's holder rows for which held(sha) returns 0.  Returns how many. */
typedef int (*db_held_fn)(const uint8_t sha[DB_SHA_BYTES], void *ctx);
long db_holder_prune(struct db *db, const uint8_t node[DB_NODE_BYTES], db_held_fn held, void *ctx);
typedef int (*db_holder_cb)(const uint8_t node[DB_NODE_BYTES], void *ctx);
int db_holders(struct db *db, const uint8_t sha[DB_SHA_BYTES], db_holder_cb cb, void *ctx);

struct db_stats {
	uint64_t entries;	/* live files, folders and links, root excluded */
	uint64_t files, dirs, links;
	uint64_t bytes;		/* sum of live file sizes */
	uint64_t tombstones;
	uint64_t blobs;		/* distinct contents of live files */
	uint64_t blob_bytes;	/* their total size */
};
int db_stats(struct db *db, struct db_stats *st);
/* Make every committed change durable (checkpoint the WAL, synced). */
int db_sync(struct db *db);
/* 0 if PRAGMA integrity_check says "ok", -EIO otherwise. */
int db_check(struct db *db);
/* The cluster's node list (src/proto/cluster keeps it in memory). */
struct db_member {
	uint8_t addr[DB_ADDR_BYTES];
	const char *name, *server;
	int64_t first_seen, last_heartbeat, removed;	/* ms since the epoch; 0: never */
};
/* Insert or replace n members in one transaction. */
int db_members_save(struct db *db, const struct db_member *m, size_t n);
int db_member_delete(struct db *db, const uint8_t pk[DB_NODE_BYTES]);
typedef int (*db_member_cb)(const struct db_member *m, void *ctx);
int db_members(struct db *db, db_member_cb cb, void *ctx);

/* fn(ctx) after every commit that made a new version here (outside the
   db's lock); NULL to stop.  Set it before other threads use db. */
void db_set_hook(struct db *db, void (*fn)(void *ctx), void *ctx);
/* Translate a sqlite result code to -errno. */
int db_errno(int rc);

/* ---- replication (src/repl/sync) ---- */

/*
 * A version vector: for each node that changed a path, the newest HLC of
 * its changes this version has seen; sorted by node, at most DB_VV_MAX.
 * Version a supersedes b when a's vector covers b's; neither covering the
 * other means they were made concurrently (a conflict).
 */
#define DB_VV_MAX 32
#define DB_VV_ENTRY (DB_NODE_BYTES + 8)
#define DB_VV_BYTES (DB_VV_MAX * DB_VV_ENTRY)

/* One version of one path, as it travels between nodes; or (e.kind
   DB_HOLDER, path NULL, no vector) a node's holding of e.sha256 (e.deleted:
   no longer), numbered in its sequence like its versions. */
struct db_rec {
	char *path;		/* owned */
	struct db_entry e;	/* e.hlc, e.origin, e.seq: the version */
	uint8_t *vv;		/* owned, vv_len bytes (DB_VV_BYTES when made by
				   db_rec_vv_set) */
	size_t vv_len;		/* a multiple of DB_VV_ENTRY */
	uint8_t *wire;		/* owned: the version as its origin signed it
				   (src/repl/sync), or NULL */
	size_t wire_len;
};
void db_rec_clear(struct db_rec *r);
/* Set node's HLC in r's vector, made on first use: 0 or -ENOMEM. */
int db_rec_vv_set(struct db_rec *r, const uint8_t node[DB_NODE_BYTES], uint64_t hlc);
/* 1 if vector a covers b (every node of b at an HLC no newer in a). */
int db_vv_covers(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
/* Set node's HLC in vv (kept if newer); returns the new length. */
size_t db_vv_set(uint8_t vv[DB_VV_BYTES], size_t len, const uint8_t node[DB_NODE_BYTES], uint64_t hlc);

/* For each origin node, the sequence number up to which this node has
   all its changes (for itself: every change made). */
typedef int (*db_seen_cb)(const uint8_t origin[DB_NODE_BYTES], uint64_t seq, void *ctx);
int db_seen(struct db *db, db_seen_cb cb, void *ctx);
/* The versions origin made with after < seq <= upto that still stand
   here, in seq order, at most limit; cb returning non-zero stops. */
typedef int (*db_rec_cb)(const struct db_rec *r, void *ctx);
int db_changes(struct db *db, const uint8_t origin[DB_NODE_BYTES], uint64_t after, uint64_t upto,
	       size_t limit, db_rec_cb cb, void *ctx);
/* A peer's promise: it sent every change of origin up to upto.  direct
   (never on the wire): the promise is the origin's own. */
struct db_range {
	uint8_t origin[DB_NODE_BYTES];
	uint64_t upto;
	int direct;
};
/* The sequence number up to which origin itself said it sent all its
   changes (0 if never): what to ask the origin for. */
int db_seen_direct(struct db *db, const uint8_t origin[DB_NODE_BYTES], uint64_t *seq);

/* The sequence numbers of origin's versions (and holdings) in (after,
   upto] held here, in order (signed_only: those held in their signed
   form); cb returning non-zero stops. */
typedef int (*db_seq_cb)(uint64_t seq, void *ctx);
int db_origin_seqs(struct db *db, const uint8_t origin[DB_NODE_BYTES], uint64_t after, uint64_t upto,
		   int signed_only, db_seq_cb cb, void *ctx);

/* An origin's signing key (src/repl/sync checks and relays it). */
#define DB_SIGN_PK_BYTES 32
#define DB_SIG_BYTES 64
enum db_key_how { DB_KEY_TOLD = 0, DB_KEY_DIRECT = 1, DB_KEY_DERIVED = 2 };
struct db_key {
	uint8_t origin[DB_NODE_BYTES];
	uint8_t pk[DB_SIGN_PK_BYTES];
	uint8_t sig[DB_SIG_BYTES];	/* pk's signature binding it to origin */
	int how;			/* enum db_key_how */
};
/* 0, -ENOENT (none known) or -errno. */
int db_key_get(struct db *db, const uint8_t origin[DB_NODE_BYTES], struct db_key *k);
int db_key_put(struct db *db, const struct db_key *k);
/* Tells which paths changed (called after the commit, once per path). */
typedef void (*db_changed_cb)(const char *path, void *ctx);
/*
 * Apply records from a peer and then its ranges, in one transaction.  The
 * newer version wins a path (its vector covers the other); of two made
 * concurrently a live one beats a deletion, else the larger (HLC, origin)
 * wins and a losing file whose content differs stays beside it as
 * "NAME.conflict-NODE-TIME".  A folder with live entries is never deleted
 * (it is made again here), and a live entry brings back its folders.
 * A folder's times are those of its version: a change of its names
 * makes a new version of the folder where the change is made, so no time
 * is stamped here when a change arrives.
 * Records must be valid (src/repl/sync checks them).  Returns how many paths
 * changed, or -errno (nothing applied).  Versions from peers never set
 * S_ISUID or S_ISGID here.  Each record's wire (its signed form) is kept
 * and relayed as it is.
 */
int db_apply(struct db *db, const struct db_rec *recs, size_t n, const struct db_range *ranges,
	     size_t nranges, db_changed_cb changed, void *ctx);

#endif
