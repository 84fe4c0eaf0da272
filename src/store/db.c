#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "path.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif

enum stmt_id {
	S_GET, S_PUT, S_TOMB, S_CHILD, S_LIST, S_SUBTREE, S_SETATTR, S_SHA_USED,
	S_HOLD_ADD, S_HOLD_DEL, S_HOLD_LIST, S_SEQ_SAVE, S_BEGIN, S_COMMIT, S_ROLLBACK,
	S_VV, S_APPLY, S_CHANGES, S_SEEN, S_SEEN_SET, S_HOLD_APPLY, S_SEEN_DIRECT, S_WIRE_SET,
	S_KEY_GET, S_KEY_PUT, S_CURSOR_NAME,
	S_COUNT
};

static const char *const sql_text[S_COUNT] = {
	[S_GET] = "SELECT kind,size,mode,uid,gid,mtime,ctime,sha256,target,hlc,origin,seq,deleted"
		  " FROM entries WHERE path=?1",
	/* An upsert keeps the row (and its rowid, a folder listing's cursor). */
	[S_PUT] = "INSERT INTO entries(path,parent,name,kind,size,mode,uid,gid,mtime,"
		  "ctime,sha256,target,hlc,origin,seq,deleted,vv)"
		  " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,0,oand_vv(NULL,?14,?13))"
		  " ON CONFLICT(path) DO UPDATE SET kind=excluded.kind,size=excluded.size,"
		  "mode=excluded.mode,uid=excluded.uid,gid=excluded.gid,mtime=excluded.mtime,"
		  "ctime=excluded.ctime,sha256=excluded.sha256,target=excluded.target,"
		  "hlc=excluded.hlc,origin=excluded.origin,seq=excluded.seq,deleted=0,"
		  "vv=oand_vv(entries.vv,excluded.origin,excluded.hlc),wire=NULL",
	[S_TOMB] = "UPDATE entries SET deleted=1,size=0,sha256=NULL,target=NULL,ctime=?2,hlc=?3,"
		   "origin=?4,seq=?5,vv=oand_vv(vv,?4,?3),wire=NULL WHERE path=?1",
	[S_CHILD] = "SELECT 1 FROM entries WHERE parent=?1 AND deleted=0 LIMIT 1",
	/* A folder lists by name, bytewise (BINARY): the same order on every
	   node.  ?2 is the last name listed ('' from the start; the root,
	   its own parent, has the name ''). */
	[S_LIST] = "SELECT name,kind,size,mode,uid,gid,mtime,ctime,sha256,target,hlc,origin,seq,"
		   "deleted,rowid FROM entries WHERE parent=?1 AND deleted=0 AND name>?2"
		   " ORDER BY name",
	/* A cursor is an entry's rowid: its row, and so its name, stays
	   while the folder is listed (a removal leaves a tombstone). */
	[S_CURSOR_NAME] = "SELECT name FROM entries WHERE rowid=?1 AND parent=?2",
	/* ?2 = path||'/', ?3 = path||'0': the range of everything below path */
	[S_SUBTREE] = "SELECT path FROM entries WHERE deleted=0 AND (path=?1 OR (path>=?2 AND path<?3))"
		      " ORDER BY path",
	[S_SETATTR] = "UPDATE entries SET mode=?2,uid=?3,gid=?4,mtime=?5,ctime=?6,hlc=?7,origin=?8,"
		      "seq=?9,vv=oand_vv(vv,?8,?7),wire=NULL WHERE path=?1",
	[S_SHA_USED] = "SELECT 1 FROM entries WHERE sha256=?1 AND deleted=0 LIMIT 1",
	/* Holders replicate like entries: a node's own rows carry its
	   sequence numbers, and a removal is a tombstone. */
	[S_HOLD_ADD] = "INSERT INTO holders(sha256,node,since,seq,deleted) VALUES(?1,?2,?3,?4,0)"
		       " ON CONFLICT(sha256,node) DO UPDATE SET deleted=0,seq=excluded.seq,"
		       "since=excluded.since,wire=NULL WHERE holders.deleted=1",
	[S_HOLD_DEL] = "UPDATE holders SET deleted=1,seq=?3,wire=NULL WHERE sha256=?1 AND node=?2 AND deleted=0",
	[S_HOLD_LIST] = "SELECT node FROM holders WHERE sha256=?1 AND deleted=0 ORDER BY since",
	[S_HOLD_APPLY] = "INSERT INTO holders(sha256,node,since,seq,deleted,wire) VALUES(?1,?2,?3,?4,?5,?6)"
			 " ON CONFLICT(sha256,node) DO UPDATE SET seq=excluded.seq,"
			 "deleted=excluded.deleted,wire=excluded.wire WHERE excluded.seq>holders.seq"
			 " OR (excluded.seq=holders.seq AND holders.wire IS NULL)",
	[S_SEQ_SAVE] = "INSERT OR REPLACE INTO meta(key,value) VALUES('next_seq',?1)",
	[S_VV] = "SELECT vv FROM entries WHERE path=?1",
	/* A version from another node, as it was made, with its signed form. */
	[S_APPLY] = "INSERT INTO entries(path,parent,name,kind,size,mode,uid,gid,mtime,"
		    "ctime,sha256,target,hlc,origin,seq,deleted,vv,wire)"
		    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)"
		    " ON CONFLICT(path) DO UPDATE SET kind=excluded.kind,size=excluded.size,"
		    "mode=excluded.mode,uid=excluded.uid,gid=excluded.gid,mtime=excluded.mtime,"
		    "ctime=excluded.ctime,sha256=excluded.sha256,target=excluded.target,"
		    "hlc=excluded.hlc,origin=excluded.origin,seq=excluded.seq,"
		    "deleted=excluded.deleted,vv=excluded.vv,wire=excluded.wire",
	[S_CHANGES] = "SELECT path,kind,size,mode,uid,gid,mtime,ctime,sha256,target,hlc,origin,seq,"
		      "deleted,vv,wire FROM entries WHERE origin=?1 AND seq>?2 AND seq<=?3"
		      " UNION ALL SELECT NULL,104,0,0,0,0,0,0,sha256,NULL,0,node,seq,deleted,NULL,wire"
		      " FROM holders WHERE node=?1 AND seq>?2 AND seq<=?3"
		      " ORDER BY 13 LIMIT ?4",
	[S_SEEN] = "SELECT origin,seq FROM seen",
	[S_SEEN_SET] = "INSERT INTO seen(origin,seq,direct) VALUES(?1,?2,?3)"
		       " ON CONFLICT(origin) DO UPDATE SET seq=max(seq,excluded.seq),"
		       "direct=max(direct,excluded.direct)",
	[S_SEEN_DIRECT] = "SELECT direct FROM seen WHERE origin=?1",
	/* The signed form of a version held here without one (made before
	   versions were signed), once its origin sends it. */
	[S_WIRE_SET] = "UPDATE entries SET wire=?4 WHERE path=?1 AND origin=?2 AND seq=?3 AND wire IS NULL",
	[S_KEY_GET] = "SELECT pk,sig,how FROM origin_keys WHERE origin=?1",
	[S_KEY_PUT] = "INSERT OR REPLACE INTO origin_keys(origin,pk,sig,how) VALUES(?1,?2,?3,?4)",
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
};

/* Migrations: migrations[i] brings user_version i to i + 1. */
static const char *const migrations[] = {
	"CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;"
	"CREATE TABLE entries("
	" path TEXT PRIMARY KEY NOT NULL, parent TEXT NOT NULL, name TEXT NOT NULL,"
	" kind INTEGER NOT NULL, size INTEGER NOT NULL DEFAULT 0, mode INTEGER NOT NULL,"
	" uid INTEGER NOT NULL, gid INTEGER NOT NULL, mtime INTEGER NOT NULL,"
	" ctime INTEGER NOT NULL, sha256 BLOB, target TEXT, hlc INTEGER NOT NULL,"
	" origin BLOB NOT NULL, seq INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX entries_dir ON entries(parent) WHERE deleted=0;"
	"CREATE INDEX entries_sha ON entries(sha256) WHERE deleted=0 AND sha256 IS NOT NULL;"
	"CREATE INDEX entries_origin ON entries(origin, seq);"
	"CREATE TABLE holders(sha256 BLOB NOT NULL, node BLOB NOT NULL, since INTEGER NOT NULL,"
	" PRIMARY KEY(sha256, node)) WITHOUT ROWID;",
	/* 2: the cluster's node list, kept across restarts */
	"CREATE TABLE members(pk BLOB PRIMARY KEY NOT NULL, addr BLOB NOT NULL,"
	" name TEXT NOT NULL, server TEXT NOT NULL, first_seen INTEGER NOT NULL,"
	" last_heartbeat INTEGER NOT NULL, removed INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",
	/* 3: replication: each entry's version vector (which versions of the
	   path it has seen, for conflicts) and, per origin node, the
	   sequence number up to which this node has all its changes. */
	"ALTER TABLE entries ADD COLUMN vv BLOB;"
	"UPDATE entries SET vv=oand_vv(NULL,origin,hlc);"
	"CREATE TABLE seen(origin BLOB PRIMARY KEY NOT NULL, seq INTEGER NOT NULL) WITHOUT ROWID;"
	"ALTER TABLE holders ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE holders ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX holders_node ON holders(node, seq);",
	/* 4: signed versions.  wire: a version from another node exactly as
	   its origin signed it (relayed as it is; NULL for this node's own,
	   signed when sent, and for versions taken in before signing, which
	   are not relayed until their origin sends them signed).  seen.direct:
	   what the origin itself said it sent (0: nothing yet, so every
	   origin sends its versions once more, signed).  origin_keys: each
	   origin's signing key and how it is known (2 derived, 1 from the
	   origin itself, 0 from another member). */
	"ALTER TABLE entries ADD COLUMN wire BLOB;"
	"ALTER TABLE holders ADD COLUMN wire BLOB;"
	"ALTER TABLE seen ADD COLUMN direct INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE origin_keys(origin BLOB PRIMARY KEY NOT NULL, pk BLOB NOT NULL,"
	" sig BLOB NOT NULL, how INTEGER NOT NULL) WITHOUT ROWID;",
	/* 5: folders list by name (the same order on every node), resumed
	   after the name at a cursor. */
	"DROP INDEX entries_dir;"
	"CREATE INDEX entries_dir ON entries(parent, name) WHERE deleted=0;",
};

struct db {
	pthread_mutex_t lock;	/* guards everything below; never held across I/O waits
				   other than sqlite's own */
	sqlite3 *h;
	sqlite3_stmt *st[S_COUNT];
	struct clock *clock;
	uint8_t self[DB_NODE_BYTES];
	uint64_t next_seq;
	uint64_t seq_reserved;	/* numbers below this are reserved on disk */
	void (*hook)(void *);	/* told of every committed change made here */
	void *hook_ctx;
	/* db_stats scans every entry: its answer holds while no row changed. */
	int stats_valid;
	sqlite3_int64 stats_changes;
	struct db_stats stats;
};

#define SEQ_BLOCK 1024
/* Versions dated further ahead of this node's clock are not taken in. */
#define DB_SKEW_MAX_MS (24LL * 3600 * 1000)

int db_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_TOOBIG:
		return -ENAMETOOLONG;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	default:
		return -EIO;
	}
}


static sqlite3_stmt *stmt(struct db *db, enum stmt_id id)
{
	sqlite3_stmt *s = db->st[id];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/* Run a statement that returns no rows. */
static int step_done(struct db *db, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_error("db: %s", sqlite3_errmsg(db->h));
		return db_errno(rc) ? db_errno(rc) : -EIO;
	}
	return 0;
}

static int tx_begin(struct db *db)
{
	pthread_mutex_lock(&db->lock);
	int r = step_done(db, stmt(db, S_BEGIN));

	if (r != 0)
		pthread_mutex_unlock(&db->lock);
	return r;
}

/*
 * Commit if r == 0, roll back otherwise; unlocks.  Returns the outcome.
 * Sequence numbers are reserved in blocks, as database sequences are: the
 * stored mark only moves when the numbers in hand run out, so a crash may
 * skip numbers but never hands one out twice.
 */
static int tx_end(struct db *db, int r, uint64_t seq_before)
{
	uint64_t mark = 0;

	if (r == 0 && db->next_seq > db->seq_reserved) {
		sqlite3_stmt *s = stmt(db, S_SEQ_SAVE);

		mark = db->next_seq + SEQ_BLOCK;
		sqlite3_bind_int64(s, 1, (sqlite3_int64)mark);
		r = step_done(db, s);
	}
	if (r == 0)
		r = step_done(db, stmt(db, S_COMMIT));
	/* The reservation counts only once it is on disk. */
	if (r == 0 && mark != 0)
		db->seq_reserved = mark;
	if (r != 0) {
		step_done(db, stmt(db, S_ROLLBACK));
		db->next_seq = seq_before;
	}
	{
		void (*hook)(void *) = r == 0 && db->next_seq != seq_before ? db->hook : NULL;
		void *ctx = db->hook_ctx;

		pthread_mutex_unlock(&db->lock);
		if (hook != NULL)
			hook(ctx);
	}
	return r;
}

void db_set_hook(struct db *db, void (*fn)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&db->lock);
	db->hook = fn;
	db->hook_ctx = ctx;
	pthread_mutex_unlock(&db->lock);
}

void db_entry_clear(struct db_entry *e)
{
	free(e->target);
	memset(e, 0, sizeof(*e));
}

/* Read columns starting at col (kind first) into e. */
static void row_to_entry(sqlite3_stmt *s, int col, struct db_entry *e)
{
	const void *b;

	memset(e, 0, sizeof(*e));
	e->kind = sqlite3_column_int(s, col);
	e->size = (uint64_t)sqlite3_column_int64(s, col + 1);
	e->mode = (uint32_t)sqlite3_column_int64(s, col + 2);
	e->uid = (uint32_t)sqlite3_column_int64(s, col + 3);
	e->gid = (uint32_t)sqlite3_column_int64(s, col + 4);
	e->mtime_ns = sqlite3_column_int64(s, col + 5);
	e->ctime_ns = sqlite3_column_int64(s, col + 6);
	b = sqlite3_column_blob(s, col + 7);
	if (b != NULL && sqlite3_column_bytes(s, col + 7) == DB_SHA_BYTES) {
		memcpy(e->sha256, b, DB_SHA_BYTES);
		e->has_sha = 1;
	}
	if (sqlite3_column_type(s, col + 8) == SQLITE_TEXT)
		e->target = strdup((const char *)sqlite3_column_text(s, col + 8));
	e->hlc = (uint64_t)sqlite3_column_int64(s, col + 9);
	b = sqlite3_column_blob(s, col + 10);
	if (b != NULL && sqlite3_column_bytes(s, col + 10) == DB_NODE_BYTES)
		memcpy(e->origin, b, DB_NODE_BYTES);
	e->seq = (uint64_t)sqlite3_column_int64(s, col + 11);
	e->deleted = sqlite3_column_int(s, col + 12);
}

/* Entry at path including tombstones: 0, -ENOENT or -errno.  Lock held. */
static int get_any(struct db *db, const char *path, struct db_entry *e)
{
	sqlite3_stmt *s = stmt(db, S_GET);
	int rc;

	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		row_to_entry(s, 0, e);
		sqlite3_reset(s);
		if (e->kind == DB_LINK && e->target == NULL && !e->deleted) {
			db_entry_clear(e);
			return -ENOMEM;
		}
		return 0;
	}
	sqlite3_reset(s);
	memset(e, 0, sizeof(*e));
	return rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
}

static int get_live(struct db *db, const char *path, struct db_entry *e)
{
	int r = get_any(db, path, e);

	if (r == 0 && e->deleted) {
		db_entry_clear(e);
		r = -ENOENT;
	}
	return r;
}

/* Write e at path as a new version made here.  Lock held. */
static int put_entry(struct db *db, const char *path, struct db_entry *e)
{
	char parent[PATH_TREE_MAX];
	const char *name = "";
	sqlite3_stmt *s;
	int r;

	if (strcmp(path, "/") == 0) {
		strcpy(parent, "/");
	} else if ((r = path_split(path, parent, sizeof(parent), &name)) != 0) {
		return r;
	}
	e->hlc = clock_now(db->clock);
	memcpy(e->origin, db->self, DB_NODE_BYTES);
	e->seq = db->next_seq++;
	s = stmt(db, S_PUT);
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, parent, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, e->kind);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)e->size);
	sqlite3_bind_int64(s, 6, e->mode & 07777);
	sqlite3_bind_int64(s, 7, e->uid);
	sqlite3_bind_int64(s, 8, e->gid);
	sqlite3_bind_int64(s, 9, e->mtime_ns);
	sqlite3_bind_int64(s, 10, e->ctime_ns);
	if (e->has_sha)
		sqlite3_bind_blob(s, 11, e->sha256, DB_SHA_BYTES, SQLITE_STATIC);
	if (e->target != NULL)
		sqlite3_bind_text(s, 12, e->target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 13, (sqlite3_int64)e->hlc);
	sqlite3_bind_blob(s, 14, e->origin, DB_NODE_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(s, 15, (sqlite3_int64)e->seq);
	return step_done(db, s);
}

static int put_tombstone(struct db *db, const char *path)
{
	sqlite3_stmt *s = stmt(db, S_TOMB);

	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, clock_wall_ns());
	sqlite3_bind_int64(s, 3, (sqlite3_int64)clock_now(db->clock));
	sqlite3_bind_blob(s, 4, db->self, DB_NODE_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)db->next_seq++);
	return step_done(db, s);
}

/*
 * A name was added to or removed from path's folder: its mtime and ctime
 * become now, as POSIX has it, in a new version of the folder made here.
 * The times then travel and settle like any attribute (the folder's
 * version that wins everywhere carries them), so a folder reads the same
 * on every node instead of each node stamping its own time when the
 * change reaches it.  Lock held.
 */
static int touch_parent(struct db *db, const char *path, int64_t now)
{
	char parent[PATH_TREE_MAX];
	const char *name;
	struct db_entry e;
	int r;

	if ((r = path_split(path, parent, sizeof(parent), &name)) != 0)
		return r;
	if ((r = get_live(db, parent, &e)) != 0)
		return r;
	e.mtime_ns = e.ctime_ns = now;
	r = put_entry(db, parent, &e);
	db_entry_clear(&e);
	return r;
}

/* 1 if a and b are names in one folder. */
static int same_parent(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');

	return sa != NULL && sb != NULL && sa - a == sb - b && memcmp(a, b, (size_t)(sa - a)) == 0;
}

/* 1 if dir has live children, 0 if not, -errno on error. */
static int has_children(struct db *db, const char *dir)
{
	sqlite3_stmt *s = stmt(db, S_CHILD);
	int rc;

	sqlite3_bind_text(s, 1, dir, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

/* The parent of path must be a live folder. */
static int parent_ok(struct db *db, const char *path)
{
	char parent[PATH_TREE_MAX];
	const char *name;
	struct db_entry e;
	int r;

	if ((r = path_split(path, parent, sizeof(parent), &name)) != 0)
		return r;
	if ((r = get_live(db, parent, &e)) != 0)
		return r;
	r = e.kind == DB_DIR ? 0 : -ENOTDIR;
	db_entry_clear(&e);
	return r;
}

static void sql_vv(sqlite3_context *cx, int argc, sqlite3_value **argv);
static int holder_set(struct db *db, enum stmt_id id, const uint8_t sha[DB_SHA_BYTES],
		      const uint8_t node[DB_NODE_BYTES], int64_t now);

static int exec_sql(sqlite3 *h, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		log_error("db: %s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return db_errno(rc) ? db_errno(rc) : -EIO;
	}
	return 0;
}

static int migrate(struct db *db)
{
	sqlite3_stmt *s = NULL;
	int version, r;
	int n = (int)(sizeof(migrations) / sizeof(migrations[0]));

	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_finalize(s);
		return -EIO;
	}
	version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (version > n) {
		log_error("db: schema version %d is newer than this oand knows (%d)", version, n);
		return -EPROTO;
	}
	for (; version < n; version++) {
		char pragma[64];

		if ((r = exec_sql(db->h, "BEGIN IMMEDIATE")) != 0)
			return r;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d", version + 1);
		if ((r = exec_sql(db->h, migrations[version])) != 0 ||
		    (r = exec_sql(db->h, pragma)) != 0) {
			exec_sql(db->h, "ROLLBACK");
			return r;
		}
		if ((r = exec_sql(db->h, "COMMIT")) != 0)
			return r;
		log_info("db: schema migrated to version %d", version + 1);
	}
	return 0;
}

static int load_seq(struct db *db)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(db->h, "SELECT value FROM meta WHERE key='next_seq'", -1, &s,
			       NULL) != SQLITE_OK)
		return -EIO;
	rc = sqlite3_step(s);
	/* The stored value is a reservation mark: start above it. */
	db->next_seq = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 1;
	db->seq_reserved = 0;	/* reserve a block at the first commit */
	sqlite3_finalize(s);
	/* Our own clock must not fall behind what we already wrote. */
	if (sqlite3_prepare_v2(db->h, "SELECT MAX(hlc) FROM entries", -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(s) == SQLITE_ROW)
		clock_observe(db->clock, (uint64_t)sqlite3_column_int64(s, 0));
	sqlite3_finalize(s);
	return 0;
}

static int ensure_root(struct db *db)
{
	struct db_entry e;
	uint64_t seq;
	int r;

	if ((r = tx_begin(db)) != 0)
		return r;
	seq = db->next_seq;
	r = get_live(db, "/", &e);
	if (r == 0) {
		db_entry_clear(&e);
	} else if (r == -ENOENT) {
		memset(&e, 0, sizeof(e));
		e.kind = DB_DIR;
		e.mode = 0755;
		e.mtime_ns = e.ctime_ns = clock_wall_ns();
		r = put_entry(db, "/", &e);
	}
	return tx_end(db, r, seq);
}

int db_open(const char *file, const uint8_t self[DB_NODE_BYTES], struct clock *clock,
	    struct db **out)
{
	struct db *db = NULL;
	int r = -EIO, rc, fd;

	*out = NULL;
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return -ENOMEM;
	pthread_mutex_init(&db->lock, NULL);
	db->clock = clock;
	memcpy(db->self, self, DB_NODE_BYTES);
	/* sqlite would make the file 0644; its WAL takes the file's mode. */
	if ((fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) >= 0)
		close(fd);
	rc = sqlite3_open_v2(file, &db->h,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("db: cannot open %s: %s", file, db->h ? sqlite3_errmsg(db->h) : "");
		r = db_errno(rc) ? db_errno(rc) : -EIO;
		goto out;
	}
	sqlite3_busy_timeout(db->h, 5000);
	/*
	 * WAL with synchronous=NORMAL: a commit survives a crash of the
	 * process; db_sync() (fsync from a client) makes it survive power
	 * loss.  Blobs are fsynced before the commit that names them.
	 */
	/* One node per data dir (flock): no file locks per transaction, and
	   the WAL index lives in memory. */
	if ((r = exec_sql(db->h, "PRAGMA locking_mode=EXCLUSIVE")) != 0 ||
	    (r = exec_sql(db->h, "PRAGMA journal_mode=WAL")) != 0 ||
	    (r = exec_sql(db->h, "PRAGMA synchronous=NORMAL")) != 0 ||
	    (r = exec_sql(db->h, "PRAGMA foreign_keys=ON")) != 0 ||
	    (r = exec_sql(db->h, "PRAGMA cache_size=-4096")) != 0)
		goto out;
	if (sqlite3_create_function(db->h, "oand_vv", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
				    sql_vv, NULL, NULL) != SQLITE_OK) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = migrate(db)) != 0)
		goto out;
	for (int i = 0; i < S_COUNT; i++) {
		rc = sqlite3_prepare_v3(db->h, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT,
					&db->st[i], NULL);
		if (rc != SQLITE_OK) {
			log_error("db: prepare: %s", sqlite3_errmsg(db->h));
			r = -EIO;
			goto out;
		}
	}
	if ((r = load_seq(db)) != 0 || (r = ensure_root(db)) != 0)
		goto out;
	*out = db;
	db = NULL;
	r = 0;
out:
	db_close(db);
	return r;
}

void db_close(struct db *db)
{
	if (db == NULL)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(db->st[i]);
	if (db->h != NULL)
		sqlite3_close(db->h);
	pthread_mutex_destroy(&db->lock);
	free(db);
}

int db_get(struct db *db, const char *path, struct db_entry *e)
{
	int r;

	pthread_mutex_lock(&db->lock);
	r = get_live(db, path, e);
	pthread_mutex_unlock(&db->lock);
	return r;
}

int db_list(struct db *db, const char *dir, int64_t after, db_list_cb cb, void *ctx)
{
	struct db_entry e;
	sqlite3_stmt *s;
	char *from = NULL;
	int rc, r = 0;

	pthread_mutex_lock(&db->lock);
	if ((r = get_live(db, dir, &e)) != 0)
		goto out;
	if (e.kind != DB_DIR) {
		db_entry_clear(&e);
		r = -ENOTDIR;
		goto out;
	}
	db_entry_clear(&e);
	if (after > 0) {
		/* Resume after the cursor's name; a cursor of no entry of
		   this folder ends the listing. */
		s = stmt(db, S_CURSOR_NAME);
		sqlite3_bind_int64(s, 1, after);
		sqlite3_bind_text(s, 2, dir, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW &&
		    (from = strdup((const char *)sqlite3_column_text(s, 0))) == NULL)
			r = -ENOMEM;
		else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			r = db_errno(rc) ? db_errno(rc) : -EIO;
		sqlite3_reset(s);
		if (r != 0 || from == NULL)
			goto out;
	}
	s = stmt(db, S_LIST);
	sqlite3_bind_text(s, 1, dir, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, from != NULL ? from : "", -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		int stop;

		row_to_entry(s, 1, &e);
		stop = cb(name, &e, sqlite3_column_int64(s, 14), ctx);
		db_entry_clear(&e);
		if (stop)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = db_errno(rc);
	sqlite3_reset(s);
out:
	pthread_mutex_unlock(&db->lock);
	free(from);
	return r;
}

/* Add e at path, which must not exist, in a folder that does. */
static int create_entry(struct db *db, const char *path, struct db_entry *e)
{
	struct db_entry old;
	uint64_t seq;
	int r;

	if ((r = tx_begin(db)) != 0)
		return r;
	seq = db->next_seq;
	if ((r = parent_ok(db, path)) != 0)
		goto out;
	if ((r = get_live(db, path, &old)) == 0) {
		db_entry_clear(&old);
		r = -EEXIST;
		goto out;
	}
	if (r != -ENOENT)
		goto out;
	e->mtime_ns = e->ctime_ns = clock_wall_ns();
	if ((r = put_entry(db, path, e)) == 0)
		r = touch_parent(db, path, e->ctime_ns);
out:
	return tx_end(db, r, seq);
}

int db_mkdir(struct db *db, const char *path, uint32_t mode, uint32_t uid, uint32_t gid)
{
	struct db_entry e = { .kind = DB_DIR, .mode = mode, .uid = uid, .gid = gid };

	return create_entry(db, path, &e);
}

int db_symlink(struct db *db, const char *path, const char *target, uint32_t uid, uint32_t gid)
{
	struct db_entry e = { .kind = DB_LINK, .mode = 0777, .uid = uid, .gid = gid,
			      .size = strlen(target), .target = (char *)target };

	if (strlen(target) >= PATH_TREE_MAX)
		return -ENAMETOOLONG;
	return create_entry(db, path, &e);
}

int db_publish(struct db *db, struct db_publish *p)
{
	struct db_entry e;
	uint64_t seq;
	int64_t now = clock_wall_ns();
	int r, created = 0;

	p->has_old = 0;
	if ((r = tx_begin(db)) != 0)
		return r;
	seq = db->next_seq;
	r = get_live(db, p->path, &e);
	if (r == 0) {
		if (p->excl) {
			r = -EEXIST;
		} else if (e.kind == DB_DIR) {
			r = -EISDIR;
		} else if (e.kind != DB_FILE) {
			r = -EEXIST;
		}
		if (r != 0) {
			db_entry_clear(&e);
			goto out;
		}
		if (e.has_sha) {
			p->has_old = 1;
			memcpy(p->old_sha, e.sha256, DB_SHA_BYTES);
		}
	} else if (r == -ENOENT && p->create) {
		if ((r = parent_ok(db, p->path)) != 0)
			goto out;
		created = 1;
		memset(&e, 0, sizeof(e));
		e.kind = DB_FILE;
		e.mode = p->mode;
		e.uid = p->uid;
		e.gid = p->gid;
	} else {
		goto out;
	}
	e.size = p->size;
	e.has_sha = p->sha != NULL;
	if (p->sha != NULL)
		memcpy(e.sha256, p->sha, DB_SHA_BYTES);
	e.mtime_ns = p->mtime_set ? p->mtime_ns : now;
	e.ctime_ns = now;
	r = put_entry(db, p->path, &e);
	db_entry_clear(&e);
	if (r == 0 && created)
		r = touch_parent(db, p->path, now);
	if (r == 0 && p->sha != NULL && p->holder != NULL) {
		r = holder_set(db, S_HOLD_ADD, p->sha, p->holder, now);
	}
	if (r == 0 && p->has_old && p->sha != NULL && memcmp(p->sha, p->old_sha, DB_SHA_BYTES) == 0)
		p->has_old = 0;	/* same content: nothing to collect */
out:
	return tx_end(db, r, seq);
}

int db_unlink(struct db *db, const char *path, int *has_old, uint8_t old_sha[DB_SHA_BYTES])
{
	struct db_entry e;
	uint64_t seq;
	int r;

	*has_old = 0;
	if ((r = tx_begin(db)) != 0)
		return r;
	seq = db->next_seq;
	if ((r = get_live(db, path, &e)) != 0)
		goto out;
	if (e.kind == DB_DIR) {
		r = -EISDIR;
	} else {
		if (e.has_sha) {
			*has_old = 1;
			memcpy(old_sha, e.sha256, DB_SHA_BYTES);
		}
		if ((r = put_tombstone(db, path)) == 0)
			r = touch_parent(db, path, clock_wall_ns());
	}
	db_entry_clear(&e);
out:
	return tx_end(db, r, seq);
}

int db_rmdir(struct db *db, const char *path)
{
	struct db_entry e;
	uint64_t seq;
	int r;

	if (strcmp(path, "/") == 0)
		return -EBUSY;
	if ((r = tx_begin(db)) != 0)
		return r;
	seq = db->next_seq;
	if ((r = get_live(db, path, &e)) != 0)
		goto out;
	if (e.kind != DB_DIR)
		r = -ENOTDIR;
	else if ((r = has_children(db, path)) > 0)
		r = -ENOTEMPTY;
	db_entry_clear(&e);
	if (r == 0 && (r = put_tombstone(db, path)) == 0)
		r = touch_parent(db, path, clock_wall_ns());
out:
	return tx_end(db, r, seq);
}

/* Paths of the live subtree at path (path itself first), malloc'd. */
static int subtree(struct db *db, const char *path, char ***outv, size_t *outn)
{
	char lo[PATH_TREE_MAX + 2], hi[PATH_TREE_MAX + 2];
	sqlite3_stmt *s = stmt(db, S_SUBTREE);
	char **v = NULL;
	size_t n = 0, cap = 0;
	int rc, r = 0;

	snprintf(lo, sizeof(lo), "%s/", path);
	snprintf(hi, sizeof(hi), "%s0", path);	/* '0' follows '/' */
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, lo, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, hi, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nv = realloc(v, ncap * sizeof(*v));

			if (nv == NULL) {
				r = -ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		if ((v[n] = strdup((const char *)sqlite3_column_text(s, 0))) == NULL) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_errno(rc) ? db_errno(rc) : -EIO;
	sqlite3_reset(s);
	if (r != 0) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return r;
	}
	*outv = v;
	*outn = n;
	return 0;
}

int db_rename(struct db *db, const char *from, const char *to, unsigned flags,
	      int *has_old, uint8_t old_sha[DB_SHA_BYTES])
{
	struct db_entry src, dst, e;
	char **paths = NULL;
	size_t n = 0;
	uint64_t seq;
	int64_t now = clock_wall_ns();
	int r, have_dst = 0;

	*has_old = 0;
	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	if (flags & ~(unsigned)RENAME_NOREPLACE)
		return -EINVAL;
	if (strcmp(from, "/") == 0 || strcmp(to, "/") == 0)
		return -EBUSY;
	if ((r = tx_begin(db)) != 0)
		return r;
	seq = db->next_seq;
	memset(&dst, 0, sizeof(dst));
	if ((r = get_live(db, from, &src)) != 0)
		goto out;
	if ((r = parent_ok(db, to)) != 0)
		goto out_src;
	if (strcmp(from, to) == 0) {
		/* POSIX: same entry, nothing to do; but it does exist. */
		if (flags & RENAME_NOREPLACE)
			r = -EEXIST;
		goto out_src;
	}
	if (src.kind == DB_DIR && path_is_within(to, from)) {
		r = -EINVAL;
		goto out_src;
	}
	r = get_live(db, to, &dst);
	if (r == 0) {
		have_dst = 1;
		if (flags & RENAME_NOREPLACE)
			r = -EEXIST;
		else if (src.kind == DB_DIR && dst.kind != DB_DIR)
			r = -ENOTDIR;
		else if (src.kind != DB_DIR && dst.kind == DB_DIR)
			r = -EISDIR;
		else if (dst.kind == DB_DIR && (r = has_children(db, to)) > 0)
			r = -ENOTEMPTY;
		if (r != 0)
			goto out_dst;
	} else if (r != -ENOENT) {
		goto out_src;
	}
	if ((r = subtree(db, from, &paths, &n)) != 0)
		goto out_dst;
	for (size_t i = 0; i < n && r == 0; i++) {
		char newp[PATH_TREE_MAX];

		if ((r = path_rebase(paths[i], from, to, newp, sizeof(newp))) != 0)
			break;
		if ((r = get_live(db, paths[i], &e)) != 0)
			break;
		if (i == 0)
			e.ctime_ns = now;
		r = put_entry(db, newp, &e);
		db_entry_clear(&e);
	}
	/* The old paths go children first, so that a node taking in these
	   changes in order never sees a folder deleted while it still holds
	   entries (it would keep the folder). */
	for (size_t i = n; i-- > 0 && r == 0;)
		r = put_tombstone(db, paths[i]);
	/* Both folders change; one version if they are one folder. */
	if (r == 0 && (r = touch_parent(db, from, now)) == 0 && !same_parent(from, to))
		r = touch_parent(db, to, now);
	if (r == 0 && have_dst && dst.kind == DB_FILE && dst.has_sha &&
	    !(src.has_sha && memcmp(src.sha256, dst.sha256, DB_SHA_BYTES) == 0)) {
		*has_old = 1;
		memcpy(old_sha, dst.sha256, DB_SHA_BYTES);
	}
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
out_dst:
	db_entry_clear(&dst);
out_src:
	db_entry_clear(&src);
out:
	return tx_end(db, r, seq);
}

int db_setattr(struct db *db, const char *path, int what, uint32_t mode, uint32_t uid,
	       uint32_t gid, int64_t mtime_ns)
{
	struct db_entry e;
	sqlite3_stmt *s;
	uint64_t seq;
	int r;

	if ((r = tx_begin(db)) != 0)
		return r;
	seq = db->next_seq;
	if ((r = get_live(db, path, &e)) != 0)
		goto out;
	if (what & DB_SET_MODE)
		e.mode = mode & 07777;
	if (what & DB_SET_OWNER) {
		if (uid != (uint32_t)-1)
			e.uid = uid;
		if (gid != (uint32_t)-1)
			e.gid = gid;
	}
	if (what & DB_SET_MTIME)
		e.mtime_ns = mtime_ns;
	s = stmt(db, S_SETATTR);
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, e.mode);
	sqlite3_bind_int64(s, 3, e.uid);
	sqlite3_bind_int64(s, 4, e.gid);
	sqlite3_bind_int64(s, 5, e.mtime_ns);
	sqlite3_bind_int64(s, 6, clock_wall_ns());
	sqlite3_bind_int64(s, 7, (sqlite3_int64)clock_now(db->clock));
	sqlite3_bind_blob(s, 8, db->self, DB_NODE_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(s, 9, (sqlite3_int64)db->next_seq++);
	r = step_done(db, s);
	db_entry_clear(&e);
out:
	return tx_end(db, r, seq);
}

int db_sha_in_use(struct db *db, const uint8_t sha[DB_SHA_BYTES])
{
	sqlite3_stmt *s;
	int rc;

	pthread_mutex_lock(&db->lock);
	s = stmt(db, S_SHA_USED);
	sqlite3_bind_blob(s, 1, sha, DB_SHA_BYTES, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	pthread_mutex_unlock(&db->lock);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : (db_errno(rc) ? db_errno(rc) : -EIO);
}

/* Add or (tombstone) remove a holder row.  Lock held, in a transaction.
   A change of this node's own rows takes a sequence number. */
static int holder_set(struct db *db, enum stmt_id id, const uint8_t sha[DB_SHA_BYTES],
		      const uint8_t node[DB_NODE_BYTES], int64_t now)
{
	sqlite3_stmt *s = stmt(db, id);
	int r;

	sqlite3_bind_blob(s, 1, sha, DB_SHA_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, node, DB_NODE_BYTES, SQLITE_STATIC);
	if (id == S_HOLD_ADD) {
		sqlite3_bind_int64(s, 3, now);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)db->next_seq);
	} else {
		sqlite3_bind_int64(s, 3, (sqlite3_int64)db->next_seq);
	}
	if ((r = step_done(db, s)) == 0 && sqlite3_changes(db->h) > 0)
		db->next_seq++;
	return r;
}

static int holder_change(struct db *db, enum stmt_id id, const uint8_t sha[DB_SHA_BYTES],
			 const uint8_t node[DB_NODE_BYTES])
{
	uint64_t seq;
	int r;

	if ((r = tx_begin(db)) != 0)
		return r;
	seq = db->next_seq;
	r = holder_set(db, id, sha, node, clock_wall_ns());
	return tx_end(db, r, seq);
}

int db_holder_add(struct db *db, const uint8_t sha[DB_SHA_BYTES], const uint8_t node[DB_NODE_BYTES])
{
	return holder_change(db, S_HOLD_ADD, sha, node);
}

int db_holder_remove(struct db *db, const uint8_t sha[DB_SHA_BYTES],
		     const uint8_t node[DB_NODE_BYTES])
{
	return holder_change(db, S_HOLD_DEL, sha, node);
}

long db_holder_prune(struct db *db, const uint8_t node[DB_NODE_BYTES], db_held_fn held, void *ctx)
{
	static const char sql[] = "SELECT sha256 FROM holders WHERE node=?1 AND deleted=0";
	uint8_t (*gone)[DB_SHA_BYTES] = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s = NULL;
	long r = 0;

	pthread_mutex_lock(&db->lock);
	if (sqlite3_prepare_v2(db->h, sql, -1, &s, NULL) != SQLITE_OK) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_blob(s, 1, node, DB_NODE_BYTES, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		const uint8_t *sha = sqlite3_column_blob(s, 0);

		if (sqlite3_column_bytes(s, 0) != DB_SHA_BYTES || held(sha, ctx))
			continue;
		if (n == cap) {
			void *g = realloc(gone, (cap = cap ? 2 * cap : 64) * DB_SHA_BYTES);

			if (g == NULL)
				break;
			gone = g;
		}
		memcpy(gone[n++], sha, DB_SHA_BYTES);
	}
	sqlite3_finalize(s);
	s = NULL;
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&db->lock);
	if (n > 0 && tx_begin(db) == 0) {
		uint64_t seq = db->next_seq;
		int e = 0;

		for (size_t i = 0; i < n && e == 0; i++)
			if ((e = holder_set(db, S_HOLD_DEL, gone[i], node, 0)) == 0)
				r++;
		if (tx_end(db, e, seq) != 0)
			r = 0;
	}
	free(gone);
	return r;
}

int db_holders(struct db *db, const uint8_t sha[DB_SHA_BYTES], db_holder_cb cb, void *ctx)
{
	sqlite3_stmt *s;
	int rc, r = 0;

	pthread_mutex_lock(&db->lock);
	s = stmt(db, S_HOLD_LIST);
	sqlite3_bind_blob(s, 1, sha, DB_SHA_BYTES, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 0) != DB_NODE_BYTES)
			continue;
		if (cb(sqlite3_column_blob(s, 0), ctx))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = db_errno(rc) ? db_errno(rc) : -EIO;
	sqlite3_reset(s);
	pthread_mutex_unlock(&db->lock);
	return r;
}

int db_stats(struct db *db, struct db_stats *st)
{
	static const char sql[] =
		"SELECT kind, deleted, COUNT(*), SUM(size) FROM entries WHERE path<>'/'"
		" GROUP BY kind, deleted";
	static const char blobs_sql[] =
		"SELECT COUNT(*), SUM(sz) FROM (SELECT MAX(size) AS sz FROM entries"
		" WHERE deleted=0 AND sha256 IS NOT NULL GROUP BY sha256)";
	sqlite3_stmt *s = NULL;
	sqlite3_int64 changes;
	int rc, r = 0;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&db->lock);
	/* Every row written on this connection counts (the only one: the
	   data dir is locked), rolled back or not. */
	changes = sqlite3_total_changes64(db->h);
	if (db->stats_valid && db->stats_changes == changes) {
		*st = db->stats;
		pthread_mutex_unlock(&db->lock);
		return 0;
	}
	if (sqlite3_prepare_v2(db->h, sql, -1, &s, NULL) != SQLITE_OK) {
		r = -EIO;
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int kind = sqlite3_column_int(s, 0);
		uint64_t count = (uint64_t)sqlite3_column_int64(s, 2);

		if (sqlite3_column_int(s, 1)) {
			st->tombstones += count;
			continue;
		}
		st->entries += count;
		if (kind == DB_FILE) {
			st->files += count;
			st->bytes += (uint64_t)sqlite3_column_int64(s, 3);
		} else if (kind == DB_DIR) {
			st->dirs += count;
		} else {
			st->links += count;
		}
	}
	if (rc != SQLITE_DONE) {
		r = db_errno(rc) ? db_errno(rc) : -EIO;
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(db->h, blobs_sql, -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		r = -EIO;
		goto out;
	}
	st->blobs = (uint64_t)sqlite3_column_int64(s, 0);
	st->blob_bytes = (uint64_t)sqlite3_column_int64(s, 1);
	db->stats = *st;
	db->stats_changes = changes;
	db->stats_valid = 1;
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&db->lock);
	return r;
}

int db_sync(struct db *db)
{
	char wal[PATH_MAX];
	int fd, r = 0;

	/*
	 * With synchronous=NORMAL a commit is in the WAL but not yet synced;
	 * syncing the WAL makes every commit so far durable (recovery replays
	 * it), which is all a checkpoint would add, at a fraction of the cost.
	 */
	if (snprintf(wal, sizeof(wal), "%s-wal", sqlite3_db_filename(db->h, "main")) >=
	    (int)sizeof(wal))
		return -ENAMETOOLONG;
	if ((fd = open(wal, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -errno;	/* no WAL: nothing pending */
	if (fdatasync(fd) != 0)
		r = -errno;
	close(fd);
	return r;
}

int db_check(struct db *db)
{
	sqlite3_stmt *s = NULL;
	int r = -EIO;

	pthread_mutex_lock(&db->lock);
	if (sqlite3_prepare_v2(db->h, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0)
		r = 0;
	sqlite3_finalize(s);
	pthread_mutex_unlock(&db->lock);
	return r;
}

int db_members_save(struct db *db, const struct db_member *m, size_t n)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO members(pk,addr,name,server,first_seen,last_heartbeat,removed)"
		" VALUES(?1,?2,?3,?4,?5,?6,?7)";
	sqlite3_stmt *s = NULL;
	int r;

	if ((r = tx_begin(db)) != 0)
		return r;
	if (sqlite3_prepare_v2(db->h, sql, -1, &s, NULL) != SQLITE_OK)
		r = -EIO;
	for (size_t i = 0; i < n && r == 0; i++) {
		sqlite3_reset(s);
		sqlite3_bind_blob(s, 1, m[i].addr, DB_NODE_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, m[i].addr, DB_ADDR_BYTES, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, m[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, m[i].server, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, m[i].first_seen);
		sqlite3_bind_int64(s, 6, m[i].last_heartbeat);
		sqlite3_bind_int64(s, 7, m[i].removed);
		r = step_done(db, s);
	}
	sqlite3_finalize(s);
	return tx_end(db, r, db->next_seq);
}

int db_member_delete(struct db *db, const uint8_t pk[DB_NODE_BYTES])
{
	sqlite3_stmt *s = NULL;
	int r;

	if ((r = tx_begin(db)) != 0)
		return r;
	if (sqlite3_prepare_v2(db->h, "DELETE FROM members WHERE pk=?1", -1, &s, NULL) != SQLITE_OK)
		r = -EIO;
	else {
		sqlite3_bind_blob(s, 1, pk, DB_NODE_BYTES, SQLITE_STATIC);
		r = step_done(db, s);
	}
	sqlite3_finalize(s);
	return tx_end(db, r, db->next_seq);
}

int db_members(struct db *db, db_member_cb cb, void *ctx)
{
	static const char sql[] =
		"SELECT addr,name,server,first_seen,last_heartbeat,removed FROM members";
	sqlite3_stmt *s = NULL;
	int r = 0, rc;

	pthread_mutex_lock(&db->lock);
	if (sqlite3_prepare_v2(db->h, sql, -1, &s, NULL) != SQLITE_OK) {
		r = -EIO;
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct db_member m = { 0 };
		const char *name = (const char *)sqlite3_column_text(s, 1);
		const char *server = (const char *)sqlite3_column_text(s, 2);

		if (sqlite3_column_bytes(s, 0) != DB_ADDR_BYTES || name == NULL || server == NULL)
			continue;	/* not written by this module: skip it */
		memcpy(m.addr, sqlite3_column_blob(s, 0), DB_ADDR_BYTES);
		m.name = name;
		m.server = server;
		m.first_seen = sqlite3_column_int64(s, 3);
		m.last_heartbeat = sqlite3_column_int64(s, 4);
		m.removed = sqlite3_column_int64(s, 5);
		if (cb(&m, ctx) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = db_errno(rc) ? db_errno(rc) : -EIO;
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&db->lock);
	return r;
}

/* ---- replication ---- */

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The HLC vv holds for node, or 0. */
static uint64_t vv_get(const uint8_t *vv, size_t len, const uint8_t *node)
{
	for (size_t i = 0; i + DB_VV_ENTRY <= len; i += DB_VV_ENTRY)
		if (memcmp(vv + i, node, DB_NODE_BYTES) == 0)
			return get_le64(vv + i + DB_NODE_BYTES);
	return 0;
}

size_t db_vv_set(uint8_t vv[DB_VV_BYTES], size_t len, const uint8_t node[DB_NODE_BYTES], uint64_t hlc)
{
	size_t i;
	int c = 1;

	len -= len % DB_VV_ENTRY;
	for (i = 0; i < len; i += DB_VV_ENTRY)
		if ((c = memcmp(vv + i, node, DB_NODE_BYTES)) >= 0)
			break;
	if (i < len && c == 0) {
		if (get_le64(vv + i + DB_NODE_BYTES) < hlc)
			put_le64(vv + i + DB_NODE_BYTES, hlc);
		return len;
	}
	if (len == DB_VV_BYTES) {
		/* Full: the oldest entry goes (at worst a later change of
		   that node looks concurrent: a conflict copy, nothing lost). */
		size_t old = 0;

		for (size_t j = DB_VV_ENTRY; j < len; j += DB_VV_ENTRY)
			if (get_le64(vv + j + DB_NODE_BYTES) < get_le64(vv + old + DB_NODE_BYTES))
				old = j;
		if (get_le64(vv + old + DB_NODE_BYTES) >= hlc)
			return len;
		memmove(vv + old, vv + old + DB_VV_ENTRY, len - old - DB_VV_ENTRY);
		len -= DB_VV_ENTRY;
		if (old < i)
			i -= DB_VV_ENTRY;
	}
	memmove(vv + i + DB_VV_ENTRY, vv + i, len - i);
	memcpy(vv + i, node, DB_NODE_BYTES);
	put_le64(vv + i + DB_NODE_BYTES, hlc);
	return len + DB_VV_ENTRY;
}

int db_vv_covers(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	for (size_t i = 0; i + DB_VV_ENTRY <= blen; i += DB_VV_ENTRY)
		if (vv_get(a, alen, b + i) < get_le64(b + i + DB_NODE_BYTES))
			return 0;
	return 1;
}

/* Merge b into a (each node's newer HLC); returns a's new length. */
static size_t vv_merge(uint8_t a[DB_VV_BYTES], size_t alen, const uint8_t *b, size_t blen)
{
	for (size_t i = 0; i + DB_VV_ENTRY <= blen; i += DB_VV_ENTRY)
		alen = db_vv_set(a, alen, b + i, get_le64(b + i + DB_NODE_BYTES));
	return alen;
}

/* SQL oand_vv(vv, node, hlc): vv with node's HLC set. */
static void sql_vv(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	uint8_t vv[DB_VV_BYTES];
	size_t len = 0;
	const void *b = sqlite3_value_blob(argv[0]);
	int blen = sqlite3_value_bytes(argv[0]);

	(void)argc;
	if (b != NULL && blen > 0 && blen <= DB_VV_BYTES && blen % DB_VV_ENTRY == 0) {
		memcpy(vv, b, (size_t)blen);
		len = (size_t)blen;
	}
	if (sqlite3_value_bytes(argv[1]) != DB_NODE_BYTES) {
		sqlite3_result_error(cx, "oand_vv: bad node", -1);
		return;
	}
	len = db_vv_set(vv, len, sqlite3_value_blob(argv[1]),
			(uint64_t)sqlite3_value_int64(argv[2]));
	sqlite3_result_blob(cx, vv, (int)len, SQLITE_TRANSIENT);
}

void db_rec_clear(struct db_rec *r)
{
	free(r->path);
	free(r->vv);
	free(r->wire);
	db_entry_clear(&r->e);
	r->path = NULL;
	r->vv = NULL;
	r->wire = NULL;
	r->vv_len = r->wire_len = 0;
}

int db_rec_vv_set(struct db_rec *r, const uint8_t node[DB_NODE_BYTES], uint64_t hlc)
{
	if (r->vv == NULL) {
		if ((r->vv = malloc(DB_VV_BYTES)) == NULL)
			return -ENOMEM;
		r->vv_len = 0;
	}
	r->vv_len = db_vv_set(r->vv, r->vv_len, node, hlc);
	return 0;
}

int db_seen(struct db *db, db_seen_cb cb, void *ctx)
{
	sqlite3_stmt *s;
	int rc, r = 0;
	uint64_t mine;

	pthread_mutex_lock(&db->lock);
	mine = db->next_seq - 1;
	s = stmt(db, S_SEEN);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const void *o = sqlite3_column_blob(s, 0);

		if (o == NULL || sqlite3_column_bytes(s, 0) != DB_NODE_BYTES ||
		    memcmp(o, db->self, DB_NODE_BYTES) == 0)
			continue;
		if ((r = cb(o, (uint64_t)sqlite3_column_int64(s, 1), ctx)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = db_errno(rc);
	sqlite3_reset(s);
	pthread_mutex_unlock(&db->lock);
	if (r == 0)
		r = cb(db->self, mine, ctx);
	return r < 0 ? r : 0;
}

int db_seen_direct(struct db *db, const uint8_t origin[DB_NODE_BYTES], uint64_t *seq)
{
	sqlite3_stmt *s;
	int rc;

	*seq = 0;
	pthread_mutex_lock(&db->lock);
	s = stmt(db, S_SEEN_DIRECT);
	sqlite3_bind_blob(s, 1, origin, DB_NODE_BYTES, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*seq = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	pthread_mutex_unlock(&db->lock);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int db_origin_seqs(struct db *db, const uint8_t origin[DB_NODE_BYTES], uint64_t after, uint64_t upto,
		   int signed_only, db_seq_cb cb, void *ctx)
{
	static const char sql[] =
		"SELECT seq FROM entries WHERE origin=?1 AND seq>?2 AND seq<=?3 AND (?4=0 OR wire IS NOT NULL)"
		" UNION ALL SELECT seq FROM holders WHERE node=?1 AND seq>?2 AND seq<=?3"
		" AND (?4=0 OR wire IS NOT NULL) ORDER BY 1";
	sqlite3_stmt *s = NULL;
	int rc, r = 0;

	if (upto > INT64_MAX)
		upto = INT64_MAX;
	pthread_mutex_lock(&db->lock);
	if (sqlite3_prepare_v2(db->h, sql, -1, &s, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&db->lock);
		return -EIO;
	}
	sqlite3_bind_blob(s, 1, origin, DB_NODE_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)(after > INT64_MAX ? INT64_MAX : after));
	sqlite3_bind_int64(s, 3, (sqlite3_int64)upto);
	sqlite3_bind_int(s, 4, signed_only != 0);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((r = cb((uint64_t)sqlite3_column_int64(s, 0), ctx)) != 0)
			break;
	if (r == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = db_errno(rc);
	sqlite3_finalize(s);
	pthread_mutex_unlock(&db->lock);
	return r < 0 ? r : 0;
}

int db_key_get(struct db *db, const uint8_t origin[DB_NODE_BYTES], struct db_key *k)
{
	sqlite3_stmt *s;
	int rc, r = -ENOENT;

	memset(k, 0, sizeof(*k));
	pthread_mutex_lock(&db->lock);
	s = stmt(db, S_KEY_GET);
	sqlite3_bind_blob(s, 1, origin, DB_NODE_BYTES, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 0) == DB_SIGN_PK_BYTES &&
		    sqlite3_column_bytes(s, 1) == DB_SIG_BYTES) {
			memcpy(k->origin, origin, DB_NODE_BYTES);
			memcpy(k->pk, sqlite3_column_blob(s, 0), DB_SIGN_PK_BYTES);
			memcpy(k->sig, sqlite3_column_blob(s, 1), DB_SIG_BYTES);
			k->how = sqlite3_column_int(s, 2);
			r = 0;
		} else {
			r = -EIO;
		}
	} else if (rc != SQLITE_DONE) {
		r = db_errno(rc);
	}
	sqlite3_reset(s);
	pthread_mutex_unlock(&db->lock);
	return r;
}

int db_key_put(struct db *db, const struct db_key *k)
{
	sqlite3_stmt *s;
	int r;

	pthread_mutex_lock(&db->lock);
	s = stmt(db, S_KEY_PUT);
	sqlite3_bind_blob(s, 1, k->origin, DB_NODE_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, k->pk, DB_SIGN_PK_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, k->sig, DB_SIG_BYTES, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, k->how);
	r = step_done(db, s);
	pthread_mutex_unlock(&db->lock);
	return r;
}

int db_changes(struct db *db, const uint8_t origin[DB_NODE_BYTES], uint64_t after, uint64_t upto,
	       size_t limit, db_rec_cb cb, void *ctx)
{
	sqlite3_stmt *s;
	int rc, r = 0;

	if (upto > INT64_MAX)
		upto = INT64_MAX;
	if (after >= upto || limit == 0)
		return 0;
	pthread_mutex_lock(&db->lock);
	s = stmt(db, S_CHANGES);
	sqlite3_bind_blob(s, 1, origin, DB_NODE_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)after);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)upto);
	sqlite3_bind_int64(s, 4, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct db_rec rec = { 0 };
		const void *vv = sqlite3_column_blob(s, 14), *wire = sqlite3_column_blob(s, 15);
		int vlen = sqlite3_column_bytes(s, 14), wlen = sqlite3_column_bytes(s, 15);

		row_to_entry(s, 1, &rec.e);
		if (wire != NULL && wlen > 0) {
			if ((rec.wire = malloc((size_t)wlen)) == NULL) {
				db_rec_clear(&rec);
				r = -ENOMEM;
				break;
			}
			memcpy(rec.wire, wire, (size_t)wlen);
			rec.wire_len = (size_t)wlen;
		}
		if (rec.e.kind == DB_HOLDER) {
			/* origin holds (or, deleted, no longer holds) e.sha256 */
			r = rec.e.has_sha ? cb(&rec, ctx) : 0;
			db_rec_clear(&rec);
			if (r != 0)
				break;
			continue;
		}
		rec.path = strdup((const char *)sqlite3_column_text(s, 0));
		if (vv != NULL && vlen > 0 && vlen <= DB_VV_BYTES && vlen % DB_VV_ENTRY == 0) {
			if ((rec.vv = malloc((size_t)vlen)) != NULL) {
				memcpy(rec.vv, vv, (size_t)vlen);
				rec.vv_len = (size_t)vlen;
			}
		} else if (db_rec_vv_set(&rec, rec.e.origin, rec.e.hlc) != 0) {
			db_entry_clear(&rec.e);	/* reported below */
		}
		if (rec.path == NULL || rec.vv == NULL ||
		    (rec.e.kind == DB_LINK && !rec.e.deleted && rec.e.target == NULL)) {
			db_rec_clear(&rec);
			r = -ENOMEM;
			break;
		}
		r = cb(&rec, ctx);
		db_rec_clear(&rec);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = db_errno(rc);
	sqlite3_reset(s);
	pthread_mutex_unlock(&db->lock);
	return r < 0 ? r : 0;
}

/* The version vector stored at path (empty if none).  Lock held. */
static size_t get_vv(struct db *db, const char *path, uint8_t vv[DB_VV_BYTES])
{
	sqlite3_stmt *s = stmt(db, S_VV);
	size_t len = 0;

	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		const void *b = sqlite3_column_blob(s, 0);
		int n = sqlite3_column_bytes(s, 0);

		if (b != NULL && n > 0 && n <= DB_VV_BYTES && n % DB_VV_ENTRY == 0) {
			memcpy(vv, b, (size_t)n);
			len = (size_t)n;
		}
	}
	sqlite3_reset(s);
	return len;
}

/* Write a version from elsewhere at path, as it is, with its signed form
   (wire, may be NULL).  Lock held. */
static int put_rec(struct db *db, const char *path, const struct db_entry *e, const uint8_t *vv,
		   size_t vv_len, const uint8_t *wire, size_t wire_len)
{
	char parent[PATH_TREE_MAX];
	const char *name = "";
	sqlite3_stmt *s;
	int r;

	if (strcmp(path, "/") == 0)
		strcpy(parent, "/");
	else if ((r = path_split(path, parent, sizeof(parent), &name)) != 0)
		return r;
	s = stmt(db, S_APPLY);
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, parent, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, e->kind);
	sqlite3_bind_int64(s, 5, e->deleted ? 0 : (sqlite3_int64)e->size);
	sqlite3_bind_int64(s, 6, e->mode & 07777);
	sqlite3_bind_int64(s, 7, e->uid);
	sqlite3_bind_int64(s, 8, e->gid);
	sqlite3_bind_int64(s, 9, e->mtime_ns);
	sqlite3_bind_int64(s, 10, e->ctime_ns);
	if (e->has_sha && !e->deleted)
		sqlite3_bind_blob(s, 11, e->sha256, DB_SHA_BYTES, SQLITE_STATIC);
	if (e->target != NULL && !e->deleted)
		sqlite3_bind_text(s, 12, e->target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 13, (sqlite3_int64)e->hlc);
	sqlite3_bind_blob(s, 14, e->origin, DB_NODE_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(s, 15, (sqlite3_int64)e->seq);
	sqlite3_bind_int(s, 16, e->deleted != 0);
	sqlite3_bind_blob(s, 17, vv, (int)vv_len, SQLITE_STATIC);
	if (wire != NULL && wire_len > 0)
		sqlite3_bind_blob(s, 18, wire, (int)wire_len, SQLITE_STATIC);
	return step_done(db, s);
}

/* Store a merged vector at path without making a new version.  Lock held. */
static int set_vv(struct db *db, const char *path, const uint8_t *vv, size_t len)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (sqlite3_prepare_v2(db->h, "UPDATE entries SET vv=?2 WHERE path=?1", -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, vv, (int)len, SQLITE_STATIC);
	r = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	return r;
}

struct changed_list {
	char **v;
	size_t n, cap;
};

static void note_changed(struct changed_list *cl, const char *path)
{
	char *p;

	for (size_t i = cl->n; i-- > 0 && i + 8 >= cl->n;)
		if (strcmp(cl->v[i], path) == 0)
			return;
	if (cl->n == cl->cap) {
		size_t cap = cl->cap ? 2 * cl->cap : 64;
		char **v = realloc(cl->v, cap * sizeof(*v));

		if (v == NULL)
			return;
		cl->v = v;
		cl->cap = cap;
	}
	if ((p = strdup(path)) != NULL)
		cl->v[cl->n++] = p;
}

static int conflict_path(const struct db_rec *r, char *out, size_t outlen);

/*
 * Make path (and no folder above it) a live folder again as a new version
 * of this node, one that supersedes vv (a deletion it overrides).  Lock
 * held.
 */
static int revive_one(struct db *db, const char *path, const uint8_t *vv, size_t vv_len,
		      struct changed_list *cl)
{
	struct db_entry e;
	uint8_t have[DB_VV_BYTES];
	size_t hlen;
	int r;

	r = get_any(db, path, &e);
	if (r == 0 && !e.deleted && e.kind == DB_DIR && vv_len == 0) {
		db_entry_clear(&e);
		return 0;
	}
	if (r != 0 && r != -ENOENT)
		return r;
	if (r == 0 && !e.deleted && e.kind != DB_DIR) {
		/* A file stands where a folder is needed: it moves aside, under
		   the name a conflict copy of it would have. */
		char side[PATH_TREE_MAX];
		struct db_rec fr = { 0 };

		fr.path = (char *)path;
		fr.e = e;
		if ((r = conflict_path(&fr, side, sizeof(side))) != 0 ||
		    (r = put_entry(db, side, &e)) != 0) {
			db_entry_clear(&e);
			return r;
		}
		note_changed(cl, side);
	}
	db_entry_clear(&e);
	hlen = get_vv(db, path, have);
	hlen = vv_merge(have, hlen, vv, vv_len);
	if (hlen > 0 && (r = set_vv(db, path, have, hlen)) != 0)
		return r;
	memset(&e, 0, sizeof(e));
	e.kind = DB_DIR;
	e.mode = 0755;
	e.mtime_ns = e.ctime_ns = clock_wall_ns();
	if ((r = get_any(db, path, &e)) == 0) {
		/* Keep the folder's own attributes where it had them. */
		if (e.kind != DB_DIR) {
			e.kind = DB_DIR;
			e.mode = 0755;
			e.size = 0;
			e.has_sha = 0;
			free(e.target);
			e.target = NULL;
		}
		e.deleted = 0;
		e.ctime_ns = clock_wall_ns();
	} else {
		/*
		 * Never seen here: a stand-in until the folder's own version
		 * arrives (an entry inside it came first).  Its clock is the
		 * smallest there is, so that any real version of the folder
		 * wins over it, on every node.
		 */
		uint8_t one[DB_VV_BYTES];
		size_t olen;

		memset(&e, 0, sizeof(e));
		e.kind = DB_DIR;
		e.mode = 0755;
		e.mtime_ns = e.ctime_ns = clock_wall_ns();
		e.hlc = 1;
		memcpy(e.origin, db->self, DB_NODE_BYTES);
		e.seq = db->next_seq++;
		olen = db_vv_set(one, 0, db->self, 1);
		if ((r = put_rec(db, path, &e, one, olen, NULL, 0)) == 0)
			note_changed(cl, path);
		return r;
	}
	r = put_entry(db, path, &e);
	db_entry_clear(&e);
	if (r == 0)
		note_changed(cl, path);
	return r;
}

/*
 * Make path a live folder again (see revive_one), the folders above it
 * first, from the top down: a loop, not a recursion, over at most
 * PATH_DEPTH_MAX levels of a path that may come from a peer.  Lock held.
 */
static int revive_dir(struct db *db, const char *path, const uint8_t *vv, size_t vv_len,
		      struct changed_list *cl)
{
	char up[PATH_TREE_MAX];
	size_t len = strlen(path);
	int r;

	if (len >= sizeof(up) || path_check(path) != 0)
		return -ENAMETOOLONG;
	memcpy(up, path, len + 1);
	for (size_t i = 1; i < len; i++) {
		struct db_entry e;
		int live;

		if (up[i] != '/')
			continue;
		up[i] = '\0';
		r = get_live(db, up, &e);
		live = r == 0 && e.kind == DB_DIR;
		if (r == 0)
			db_entry_clear(&e);
		if (r != 0 && r != -ENOENT)
			return r;
		if (!live && (r = revive_one(db, up, NULL, 0, cl)) != 0)
			return r;
		up[i] = '/';
	}
	if (strcmp(path, "/") == 0 || len == 0)
		return revive_one(db, "/", vv, vv_len, cl);
	return revive_one(db, path, vv, vv_len, cl);
}

/*
 * "dir/name.conflict-NODE-TIME" for the losing version r; the name gives
 * way (it is shortened) when the path would be too long, and where even
 * that leaves no room, the copy goes to the top folder.
 */
static int conflict_path(const struct db_rec *r, char *out, size_t outlen)
{
	char parent[PATH_TREE_MAX], stamp[32], suffix[64];
	const char *name;
	time_t t = (time_t)(clock_ms(r->e.hlc) / 1000);
	struct tm tm;
	int k, room;

	if (path_split(r->path, parent, sizeof(parent), &name) != 0)
		return -EINVAL;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(suffix, sizeof(suffix), ".conflict-%02x%02x%02x%02x-%s", r->e.origin[0],
		 r->e.origin[1], r->e.origin[2], r->e.origin[3], stamp);
	room = PATH_NAME_MAX - (int)strlen(suffix);
	if (room > (int)(PATH_TREE_MAX - 2 - strlen(parent) - strlen(suffix)))
		room = (int)(PATH_TREE_MAX - 2 - strlen(parent) - strlen(suffix));
	if (room < 1) {
		strcpy(parent, "/");
		room = PATH_NAME_MAX - (int)strlen(suffix);
	}
	k = snprintf(out, outlen, "%s%s%.*s%s", parent, strcmp(parent, "/") ? "/" : "", room, name,
		     suffix);
	return k < 0 || (size_t)k >= outlen || path_check(out) != 0 ? -ENAMETOOLONG : 0;
}

static int same_content(const struct db_entry *a, const struct db_entry *b)
{
	if (a->kind != b->kind || a->size != b->size || a->has_sha != b->has_sha)
		return 0;
	if (a->has_sha && memcmp(a->sha256, b->sha256, DB_SHA_BYTES) != 0)
		return 0;
	if (a->kind == DB_LINK)
		return a->target != NULL && b->target != NULL && strcmp(a->target, b->target) == 0;
	return 1;
}


/*
 * Keep the losing version of a conflict beside the winner, as a version
 * of this node: it then travels like any change (to the losing node too,
 * which does not take back versions of its own).  Nodes that resolve the
 * same conflict make the same path with the same content; their versions
 * of it meet like any others and settle on one.  Lock held.
 */
static int keep_loser(struct db *db, const struct db_rec *loser, struct changed_list *cl, int depth)
{
	char path[PATH_TREE_MAX];
	struct db_entry e, have;
	int r;

	if (depth > 0 || loser->e.deleted || loser->e.kind == DB_DIR)
		return 0;
	if ((r = conflict_path(loser, path, sizeof(path))) != 0) {
		log_error("db: no room for a conflict copy of %s: %s", loser->path, strerror(-r));
		return r;
	}
	if (get_live(db, path, &have) == 0) {
		int same = same_content(&have, &loser->e);

		db_entry_clear(&have);
		if (same)
			return 0;	/* made here or elsewhere already */
	}
	log_notice("db: concurrent changes of %s: one version stays as %s", loser->path, path);
	e = loser->e;
	e.target = NULL;
	if (loser->e.target != NULL && (e.target = strdup(loser->e.target)) == NULL)
		return -ENOMEM;
	e.deleted = 0;
	r = put_entry(db, path, &e);
	db_entry_clear(&e);
	if (r == 0)
		note_changed(cl, path);
	return r;
}

/* Apply one record (see db_apply).  Lock held, inside a transaction. */
/* 1 if version a is later than b by (HLC, origin): a total order. */
static int later(const struct db_entry *a, const struct db_entry *b)
{
	return a->hlc > b->hlc ||
	       (a->hlc == b->hlc && memcmp(a->origin, b->origin, DB_NODE_BYTES) > 0);
}

/* Of two concurrent versions, is the loser's content worth a copy beside
   the winner?  A live file or link whose content the winner lacks. */
static int worth_keeping(const struct db_entry *loser, const struct db_entry *winner)
{
	if (loser->deleted || loser->kind == DB_DIR)
		return 0;
	return winner->deleted || !same_content(loser, winner);
}

/*
 * Apply one record (see db_apply).  Lock held, inside a transaction.
 * Each stored version keeps its own vector, so every node holds the same
 * record for the same version; of two concurrent versions the later one
 * by (HLC, origin) takes the path, a total order that gives the same
 * tree whatever order versions arrive in, and what the loser held that
 * the winner lacks (a write against a delete, or other content) stays as
 * a conflict copy.
 */
static int apply_one(struct db *db, const struct db_rec *in, struct changed_list *cl, int depth)
{
	struct db_rec cur = { 0 };
	uint8_t vv[DB_VV_BYTES], cur_vv[DB_VV_BYTES];
	size_t vlen;
	int r, in_covers, cur_covers, take, concurrent, live_dir_children = 0;

	/* A clock far ahead is not followed: every later change here would
	   carry it.  The version itself is kept as it is. */
	if (clock_ms(in->e.hlc) <= (uint64_t)(clock_wall_ns() / 1000000) + DB_SKEW_MAX_MS)
		clock_observe(db->clock, in->e.hlc);
	else
		log_warn("db: a version of %s is dated more than a day ahead of this clock",
			 in->path);
	r = get_any(db, in->path, &cur.e);
	if (r == -ENOENT) {
		if (in->e.deleted)	/* nothing to delete: remember it anyway */
			return put_rec(db, in->path, &in->e, in->vv, in->vv_len, in->wire,
				       in->wire_len);
		goto take_it;
	}
	if (r != 0)
		return r;
	cur.path = (char *)in->path;
	cur.vv = cur_vv;	/* not owned: cur is never cleared whole */
	cur.vv_len = get_vv(db, in->path, cur.vv);
	if (cur.vv_len == 0)
		cur.vv_len = db_vv_set(cur.vv, 0, cur.e.origin, cur.e.hlc);
	if (cur.e.hlc == in->e.hlc && memcmp(cur.e.origin, in->e.origin, DB_NODE_BYTES) == 0) {
		/* Had it already; it may come signed now. */
		r = 0;
		if (in->wire != NULL && cur.e.seq == in->e.seq) {
			sqlite3_stmt *w = stmt(db, S_WIRE_SET);

			sqlite3_bind_text(w, 1, in->path, -1, SQLITE_STATIC);
			sqlite3_bind_blob(w, 2, in->e.origin, DB_NODE_BYTES, SQLITE_STATIC);
			sqlite3_bind_int64(w, 3, (sqlite3_int64)in->e.seq);
			sqlite3_bind_blob(w, 4, in->wire, (int)in->wire_len, SQLITE_STATIC);
			r = step_done(db, w);
		}
		db_entry_clear(&cur.e);
		return r;
	}
	in_covers = db_vv_covers(in->vv, in->vv_len, cur.vv, cur.vv_len);
	cur_covers = db_vv_covers(cur.vv, cur.vv_len, in->vv, in->vv_len);
	concurrent = in_covers == cur_covers;
	take = concurrent ? later(&in->e, &cur.e) : in_covers;
	if (!cur.e.deleted && cur.e.kind == DB_DIR && (r = has_children(db, in->path)) < 0) {
		db_entry_clear(&cur.e);
		return r;
	}
	live_dir_children = !cur.e.deleted && cur.e.kind == DB_DIR && r == 1;
	if (!take) {
		r = concurrent && worth_keeping(&in->e, &cur.e) ? keep_loser(db, in, cl, depth) : 0;
		db_entry_clear(&cur.e);
		return r;
	}
	if (live_dir_children && (in->e.deleted || in->e.kind != DB_DIR)) {
		/* A folder that holds live entries here stays: made again as
		   a version of this node that has seen this one (so it wins
		   everywhere); a file coming in for it goes beside it. */
		vlen = vv_merge(memcpy(vv, cur.vv, cur.vv_len), cur.vv_len, in->vv, in->vv_len);
		db_entry_clear(&cur.e);
		r = revive_dir(db, in->path, vv, vlen, cl);
		if (r == 0 && !in->e.deleted)
			r = keep_loser(db, in, cl, depth);
		return r;
	}
	if (concurrent && worth_keeping(&cur.e, &in->e) && (r = keep_loser(db, &cur, cl, depth)) != 0) {
		db_entry_clear(&cur.e);
		return r;
	}
	db_entry_clear(&cur.e);
take_it:
	if (!in->e.deleted && strcmp(in->path, "/") != 0) {
		char parent[PATH_TREE_MAX];
		const char *name;
		struct db_entry p;

		if ((r = path_split(in->path, parent, sizeof(parent), &name)) != 0)
			return r;
		r = get_live(db, parent, &p);
		if (r == 0 && p.kind != DB_DIR)
			r = -ENOTDIR;
		db_entry_clear(&p);
		if (r != 0 && (r = revive_dir(db, parent, NULL, 0, cl)) != 0)
			return r;
	}
	if ((r = put_rec(db, in->path, &in->e, in->vv, in->vv_len, in->wire, in->wire_len)) != 0)
		return r;
	/* The folder's times come in its own version, as its origin set
	   them: none is stamped here. */
	note_changed(cl, in->path);
	return 0;
}

int db_apply(struct db *db, const struct db_rec *recs, size_t n, const struct db_range *ranges,
	     size_t nranges, db_changed_cb changed, void *ctx)
{
	struct changed_list cl = { 0 };
	struct db_rec in;
	uint64_t seq;
	int r;

	if ((r = tx_begin(db)) != 0)
		return r;
	seq = db->next_seq;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (memcmp(recs[i].e.origin, db->self, DB_NODE_BYTES) == 0)
			continue;	/* our own, back from a peer */
		if (recs[i].e.kind == DB_HOLDER) {
			sqlite3_stmt *h = stmt(db, S_HOLD_APPLY);

			sqlite3_bind_blob(h, 1, recs[i].e.sha256, DB_SHA_BYTES, SQLITE_STATIC);
			sqlite3_bind_blob(h, 2, recs[i].e.origin, DB_NODE_BYTES, SQLITE_STATIC);
			sqlite3_bind_int64(h, 3, clock_wall_ns());
			sqlite3_bind_int64(h, 4, (sqlite3_int64)recs[i].e.seq);
			sqlite3_bind_int(h, 5, recs[i].e.deleted != 0);
			if (recs[i].wire != NULL)
				sqlite3_bind_blob(h, 6, recs[i].wire, (int)recs[i].wire_len, SQLITE_STATIC);
			r = step_done(db, h);
			continue;
		}
		/* A member's version never makes a file set-user-ID or
		   set-group-ID here (its signed form keeps what it said). */
		in = recs[i];
		in.e.mode &= ~(uint32_t)(S_ISUID | S_ISGID);
		if ((r = apply_one(db, &in, &cl, 0)) != 0) {
			log_error("db: cannot apply the version of %s from a peer: %s", recs[i].path,
				  strerror(-r));
			/* One that can never apply is skipped (else the same
			   answer would fail for ever); a full disk or the like
			   fails the batch, to be asked for again. */
			if (r == -ENAMETOOLONG || r == -EINVAL || r == -ENOTDIR || r == -ELOOP)
				r = 0;
		}
	}
	for (size_t i = 0; i < nranges && r == 0; i++) {
		sqlite3_stmt *s;

		if (memcmp(ranges[i].origin, db->self, DB_NODE_BYTES) == 0 || ranges[i].upto > INT64_MAX)
			continue;
		s = stmt(db, S_SEEN_SET);
		sqlite3_bind_blob(s, 1, ranges[i].origin, DB_NODE_BYTES, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)ranges[i].upto);
		sqlite3_bind_int64(s, 3, ranges[i].direct ? (sqlite3_int64)ranges[i].upto : 0);
		r = step_done(db, s);
	}
	r = tx_end(db, r, seq);
	for (size_t i = 0; i < cl.n; i++) {
		if (r == 0 && changed != NULL)
			changed(cl.v[i], ctx);
		free(cl.v[i]);
	}
	free(cl.v);
	return r < 0 ? r : (int)(cl.n > INT32_MAX ? INT32_MAX : cl.n);
}

int db_path_of(struct db *db, const uint8_t sha[DB_SHA_BYTES], char *out, size_t len)
{
	static const char sql[] = "SELECT path FROM entries WHERE sha256=?1 AND deleted=0 LIMIT 1";
	sqlite3_stmt *s = NULL;
	int r = -ENOENT;

	pthread_mutex_lock(&db->lock);
	if (sqlite3_prepare_v2(db->h, sql, -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_blob(s, 1, sha, DB_SHA_BYTES, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW) {
			snprintf(out, len, "%s", (const char *)sqlite3_column_text(s, 0));
			r = 0;
		}
	}
	sqlite3_finalize(s);
	pthread_mutex_unlock(&db->lock);
	return r;
}

int db_underheld(struct db *db, int replicas, const uint8_t *after, size_t limit,
		 db_underheld_cb cb, void *ctx)
{
	static const char sql[] =
		"SELECT e.sha256, max(e.size) FROM entries e WHERE e.deleted=0 AND e.kind=102 AND e.size>0"
		" AND e.sha256 IS NOT NULL AND e.sha256>?3 AND (SELECT count(*) FROM holders h"
		" WHERE h.sha256=e.sha256 AND h.deleted=0) < ?1 GROUP BY e.sha256 ORDER BY e.sha256"
		" LIMIT ?2";
	static const uint8_t zero[1];
	struct item { uint8_t sha[DB_SHA_BYTES]; uint64_t size; } *v = NULL;
	sqlite3_stmt *s = NULL;
	size_t n = 0;
	int r = 0;

	if (limit == 0 || (v = calloc(limit, sizeof(*v))) == NULL)
		return limit == 0 ? 0 : -ENOMEM;
	pthread_mutex_lock(&db->lock);
	if (sqlite3_prepare_v2(db->h, sql, -1, &s, NULL) != SQLITE_OK) {
		r = -EIO;
	} else {
		sqlite3_bind_int(s, 1, replicas);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
		/* Any blob is greater than an empty one. */
		if (after != NULL)
			sqlite3_bind_blob(s, 3, after, DB_SHA_BYTES, SQLITE_STATIC);
		else
			sqlite3_bind_blob(s, 3, zero, 0, SQLITE_STATIC);
		while (n < limit && sqlite3_step(s) == SQLITE_ROW)
			if (sqlite3_column_bytes(s, 0) == DB_SHA_BYTES) {
				memcpy(v[n].sha, sqlite3_column_blob(s, 0), DB_SHA_BYTES);
				v[n++].size = (uint64_t)sqlite3_column_int64(s, 1);
			}
	}
	sqlite3_finalize(s);
	pthread_mutex_unlock(&db->lock);
	/* Called outside the lock: the callback may take its time. */
	for (size_t i = 0; i < n && r == 0; i++)
		r = cb(v[i].sha, v[i].size, ctx);
	free(v);
	return r < 0 ? r : (int)n;
}

int db_holders_forget(struct db *db, const uint8_t node[DB_NODE_BYTES])
{
	sqlite3_stmt *s = NULL;
	int r = -EIO;

	pthread_mutex_lock(&db->lock);
	/* Should it come back, all it says it holds is taken in again. */
	for (int i = 0; i < 2; i++) {
		static const char *const sql[] = { "DELETE FROM holders WHERE node=?1",
						   "DELETE FROM seen WHERE origin=?1" };

		r = -EIO;
		if (sqlite3_prepare_v2(db->h, sql[i], -1, &s, NULL) == SQLITE_OK) {
			sqlite3_bind_blob(s, 1, node, DB_NODE_BYTES, SQLITE_STATIC);
			r = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
		}
		sqlite3_finalize(s);
		s = NULL;
	}
	pthread_mutex_unlock(&db->lock);
	return r;
}
