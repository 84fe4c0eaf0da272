#include "db_tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "db_tree_int.h"
#include "log.h"

/* Schema 6 (doc/namespace.md, 1.2).  Undo keeps row images: the first
   image of each row a record changed (made: the record made the row). */
const char db_tree_ddl[] =
	"CREATE TABLE origins("
	" org INTEGER PRIMARY KEY, pk BLOB NOT NULL UNIQUE, tag INTEGER NOT NULL,"
	" held INTEGER NOT NULL DEFAULT 0, held_hlc INTEGER NOT NULL DEFAULT 0,"
	" news_seq INTEGER NOT NULL DEFAULT 0, news_hlc INTEGER NOT NULL DEFAULT 0,"
	" floor INTEGER NOT NULL DEFAULT 0, cut INTEGER,"
	" sign_pk BLOB, bind_sig BLOB, key_how INTEGER);"
	"CREATE TABLE reports(member INTEGER NOT NULL, confirmed INTEGER NOT NULL,"
	" org INTEGER NOT NULL, seq INTEGER NOT NULL,"
	" PRIMARY KEY(member, confirmed, org)) WITHOUT ROWID;"
	"CREATE TABLE records("
	" rid INTEGER PRIMARY KEY, org INTEGER NOT NULL, seq INTEGER NOT NULL,"
	" hlc INTEGER NOT NULL, tag INTEGER NOT NULL, type INTEGER NOT NULL, obj BLOB, sha BLOB,"
	" body BLOB NOT NULL, sig BLOB, state INTEGER NOT NULL,"
	" settled INTEGER NOT NULL DEFAULT 0, UNIQUE(org, seq));"
	"CREATE INDEX records_key ON records(hlc, tag, seq);"
	"CREATE INDEX records_state ON records(state, hlc, tag, seq);"
	"CREATE INDEX records_obj ON records(obj) WHERE obj IS NOT NULL;"
	"CREATE INDEX records_sha ON records(sha) WHERE sha IS NOT NULL;"
	"CREATE TABLE inodes("
	" ino INTEGER PRIMARY KEY AUTOINCREMENT, id BLOB NOT NULL UNIQUE, kind INTEGER NOT NULL,"
	" rdev INTEGER NOT NULL DEFAULT 0, target BLOB, init_rid INTEGER,"
	" mode INTEGER NOT NULL DEFAULT 0, mode_rid INTEGER,"
	" uid INTEGER NOT NULL DEFAULT 0, gid INTEGER NOT NULL DEFAULT 0, own_rid INTEGER,"
	" mtime INTEGER NOT NULL DEFAULT 0, mtime_rid INTEGER,"
	" size INTEGER NOT NULL DEFAULT 0, sha BLOB,"
	" head_hlc INTEGER, head_tag INTEGER, head_rid INTEGER,"
	" ctime INTEGER NOT NULL DEFAULT 0, atime INTEGER NOT NULL DEFAULT 0,"
	" nlink INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE entries("
	" ent INTEGER PRIMARY KEY AUTOINCREMENT, id BLOB NOT NULL UNIQUE, ino INTEGER NOT NULL,"
	" dir INTEGER NOT NULL, parent INTEGER, name BLOB,"
	" set_rid INTEGER, set_hlc INTEGER, set_tag INTEGER, set_seq INTEGER,"
	" last_parent INTEGER, last_name BLOB, last_rid INTEGER, shown BLOB);"
	"CREATE UNIQUE INDEX entries_shown ON entries(parent, shown)"
	" WHERE parent > 0 AND shown IS NOT NULL;"
	"CREATE INDEX entries_name ON entries(parent, name) WHERE parent > 0;"
	"CREATE INDEX entries_ino ON entries(ino);"
	"CREATE TABLE xattrs(ino INTEGER NOT NULL, name BLOB NOT NULL, value BLOB, rid INTEGER,"
	" PRIMARY KEY(ino, name)) WITHOUT ROWID;"
	"CREATE TABLE undo_entries(rid INTEGER NOT NULL, ent INTEGER NOT NULL,"
	" made INTEGER NOT NULL, id BLOB, ino INTEGER, dir INTEGER, parent INTEGER, name BLOB,"
	" set_rid INTEGER, set_hlc INTEGER, set_tag INTEGER, set_seq INTEGER,"
	" last_parent INTEGER, last_name BLOB, last_rid INTEGER,"
	" PRIMARY KEY(rid, ent)) WITHOUT ROWID;"
	"CREATE TABLE undo_inodes(rid INTEGER NOT NULL, ino INTEGER NOT NULL,"
	" made INTEGER NOT NULL, kind INTEGER, rdev INTEGER, target BLOB, init_rid INTEGER,"
	" mode INTEGER, mode_rid INTEGER, uid INTEGER, gid INTEGER, own_rid INTEGER,"
	" mtime INTEGER, mtime_rid INTEGER, size INTEGER, sha BLOB,"
	" head_hlc INTEGER, head_tag INTEGER, head_rid INTEGER, ctime INTEGER,"
	" PRIMARY KEY(rid, ino)) WITHOUT ROWID;"
	"CREATE TABLE undo_xattrs(rid INTEGER NOT NULL, ino INTEGER NOT NULL, name BLOB NOT NULL,"
	" made INTEGER NOT NULL, value BLOB, xrid INTEGER,"
	" PRIMARY KEY(rid, ino, name)) WITHOUT ROWID;"
	"CREATE TABLE dirty(ino INTEGER PRIMARY KEY, stage TEXT NOT NULL,"
	" base_hlc INTEGER, base_tag INTEGER, size INTEGER, mtime INTEGER);"
	"INSERT INTO inodes(ino, id, kind, mode, nlink) VALUES(1, zeroblob(16), 100, 493, 2);"
	"INSERT INTO entries(id, ino, dir) VALUES(zeroblob(16), 1, 1);";

/*
 * The undo log and the touched sets are kept by triggers, so no change
 * escapes them: while tree_cur holds a record's rid, the first image of
 * every row it changes goes to undo_*; tree_dirs and tree_inos collect the
 * folders whose names and the inodes whose nlink to recompute.  Derived
 * columns are not in the trigger's column lists.
 */
static const char tree_temp[] =
	"CREATE TEMP TABLE tree_cur(rid INTEGER);"
	"CREATE TEMP TABLE tree_dirs(ino INTEGER PRIMARY KEY);"
	"CREATE TEMP TABLE tree_inos(ino INTEGER PRIMARY KEY);"
	"CREATE TEMP TRIGGER tree_ent_ins AFTER INSERT ON main.entries BEGIN"
	" INSERT OR IGNORE INTO undo_entries(rid, ent, made) SELECT rid, NEW.ent, 1 FROM tree_cur;"
	" INSERT OR IGNORE INTO tree_dirs SELECT NEW.parent WHERE NEW.parent > 0;"
	" INSERT OR IGNORE INTO tree_inos VALUES(NEW.ino);"
	" INSERT OR IGNORE INTO tree_inos SELECT NEW.parent WHERE NEW.parent > 0; END;"
	"CREATE TEMP TRIGGER tree_ent_upd AFTER UPDATE OF ino, dir, parent, name, set_rid,"
	" set_hlc, set_tag, set_seq, last_parent, last_name, last_rid ON main.entries BEGIN"
	" INSERT OR IGNORE INTO undo_entries SELECT rid, OLD.ent, 0, OLD.id, OLD.ino, OLD.dir,"
	"  OLD.parent, OLD.name, OLD.set_rid, OLD.set_hlc, OLD.set_tag, OLD.set_seq,"
	"  OLD.last_parent, OLD.last_name, OLD.last_rid FROM tree_cur;"
	" INSERT OR IGNORE INTO tree_dirs SELECT OLD.parent WHERE OLD.parent > 0;"
	" INSERT OR IGNORE INTO tree_dirs SELECT NEW.parent WHERE NEW.parent > 0;"
	" INSERT OR IGNORE INTO tree_inos VALUES(OLD.ino);"
	" INSERT OR IGNORE INTO tree_inos SELECT OLD.parent WHERE OLD.parent > 0;"
	" INSERT OR IGNORE INTO tree_inos SELECT NEW.parent WHERE NEW.parent > 0; END;"
	"CREATE TEMP TRIGGER tree_ent_del AFTER DELETE ON main.entries BEGIN"
	" INSERT OR IGNORE INTO tree_dirs SELECT OLD.parent WHERE OLD.parent > 0;"
	" INSERT OR IGNORE INTO tree_inos VALUES(OLD.ino);"
	" INSERT OR IGNORE INTO tree_inos SELECT OLD.parent WHERE OLD.parent > 0; END;"
	"CREATE TEMP TRIGGER tree_ino_ins AFTER INSERT ON main.inodes BEGIN"
	" INSERT OR IGNORE INTO undo_inodes(rid, ino, made) SELECT rid, NEW.ino, 1 FROM tree_cur;"
	" INSERT OR IGNORE INTO tree_inos VALUES(NEW.ino); END;"
	"CREATE TEMP TRIGGER tree_ino_upd AFTER UPDATE OF kind, rdev, target, init_rid, mode,"
	" mode_rid, uid, gid, own_rid, mtime, mtime_rid, size, sha, head_hlc, head_tag, head_rid,"
	" ctime ON main.inodes BEGIN"
	" INSERT OR IGNORE INTO undo_inodes SELECT rid, OLD.ino, 0, OLD.kind, OLD.rdev,"
	"  OLD.target, OLD.init_rid, OLD.mode, OLD.mode_rid, OLD.uid, OLD.gid, OLD.own_rid,"
	"  OLD.mtime, OLD.mtime_rid, OLD.size, OLD.sha, OLD.head_hlc, OLD.head_tag,"
	"  OLD.head_rid, OLD.ctime FROM tree_cur;"
	" INSERT OR IGNORE INTO tree_dirs SELECT parent FROM entries"
	"  WHERE ino = NEW.ino AND parent > 0 AND (OLD.size IS NOT NEW.size OR OLD.sha IS NOT NEW.sha); END;"
	"CREATE TEMP TRIGGER tree_xa_ins AFTER INSERT ON main.xattrs BEGIN"
	" INSERT OR IGNORE INTO undo_xattrs(rid, ino, name, made)"
	"  SELECT rid, NEW.ino, NEW.name, 1 FROM tree_cur; END;"
	"CREATE TEMP TRIGGER tree_xa_upd AFTER UPDATE OF value, rid ON main.xattrs BEGIN"
	" INSERT OR IGNORE INTO undo_xattrs SELECT rid, OLD.ino, OLD.name, 0, OLD.value, OLD.rid"
	"  FROM tree_cur; END;";

sqlite3_stmt *tree_sql(struct db_tree *t, const char *sql)
{
	for (int i = 0; i < t->nst; i++)
		if (t->sql[i] == sql) {
			sqlite3_reset(t->st[i]);
			sqlite3_clear_bindings(t->st[i]);
			return t->st[i];
		}
	if (t->nst == TREE_STMTS)
		abort();	/* a new statement in the code: raise TREE_STMTS */
	if (sqlite3_prepare_v3(t->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &t->st[t->nst], NULL) !=
	    SQLITE_OK) {
		log_error("db_tree: %s: %s", sqlite3_errmsg(t->h), sql);
		return NULL;
	}
	t->sql[t->nst] = sql;
	return t->st[t->nst++];
}

int tree_done(struct db_tree *t, sqlite3_stmt *s)
{
	int rc;

	if (s == NULL)
		return -EIO;
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_error("db_tree: %s", sqlite3_errmsg(t->h));
		return db_errno(rc) ? db_errno(rc) : -EIO;
	}
	return 0;
}

void tree_bind_id(sqlite3_stmt *s, int i, const uint8_t id[NSREC_ID_BYTES])
{
	sqlite3_bind_blob(s, i, id, NSREC_ID_BYTES, SQLITE_TRANSIENT);
}

static int exec(struct db_tree *t, const char *sql)
{
	int rc = sqlite3_exec(t->h, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : (db_errno(rc) ? db_errno(rc) : -EIO);
}

int db_tree_open(const char *file, struct db_tree **out)
{
	struct db_tree *t = NULL;
	sqlite3_stmt *s;
	int r = -EIO, fresh = 0;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	if (sqlite3_open_v2(file, &t->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK)
		goto out;
	if ((r = exec(t, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")) != 0)
		goto out;
	if ((s = tree_sql(t, "SELECT count(*) FROM sqlite_master WHERE name='inodes'")) == NULL ||
	    sqlite3_step(s) != SQLITE_ROW)
		goto out;
	fresh = sqlite3_column_int(s, 0) == 0;
	sqlite3_reset(s);
	if (fresh && (r = exec(t, "BEGIN")) == 0 && (r = exec(t, db_tree_ddl)) == 0)
		r = exec(t, "COMMIT");
	if (r == 0)
		r = exec(t, tree_temp);
out:
	if (r != 0) {
		db_tree_close(t);
		return r;
	}
	*out = t;
	return 0;
}

void db_tree_close(struct db_tree *t)
{
	if (t == NULL)
		return;
	for (int i = 0; i < t->nst; i++)
		sqlite3_finalize(t->st[i]);
	sqlite3_close(t->h);
	free(t);
}

/* ---- staging ---- */

static int origin_get(struct db_tree *t, const uint8_t pk[NSREC_NODE_BYTES], int64_t *org)
{
	sqlite3_stmt *s = tree_sql(t, "INSERT INTO origins(pk, tag) VALUES(?1, ?2)"
				      " ON CONFLICT(pk) DO NOTHING");
	int r;

	if (s == NULL)
		return -EIO;
	sqlite3_bind_blob(s, 1, pk, NSREC_NODE_BYTES, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)nsrec_tag(pk));
	if ((r = tree_done(t, s)) != 0)
		return r;
	if ((s = tree_sql(t, "SELECT org FROM origins WHERE pk=?1")) == NULL)
		return -EIO;
	sqlite3_bind_blob(s, 1, pk, NSREC_NODE_BYTES, SQLITE_TRANSIENT);
	r = sqlite3_step(s) == SQLITE_ROW ? 0 : -EIO;
	*org = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return r;
}

int db_tree_stage(struct db_tree *t, const uint8_t *rec, size_t len, const uint8_t *sig)
{
	struct nsrec r;
	sqlite3_stmt *s;
	int64_t org;
	int e;

	if (nsrec_decode(rec, len, &r) != 0)
		return -EBADMSG;
	if (r.type == NSREC_HOLD || r.type == NSREC_FORGET)
		return -EOPNOTSUPP;
	if ((e = origin_get(t, r.origin, &org)) != 0)
		return e;
	s = tree_sql(t, "INSERT INTO records(org, seq, hlc, tag, type, obj, sha, body, sig, state)"
			" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0) ON CONFLICT(org, seq) DO NOTHING");
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, org);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)r.seq);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)r.hlc);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)nsrec_tag(r.origin));
	sqlite3_bind_int(s, 5, r.type);
	tree_bind_id(s, 6, r.type == NSREC_PLACE ? r.entry : r.inode);
	if (r.type == NSREC_CONTENT && r.size > 0)
		sqlite3_bind_blob(s, 7, r.sha, NSREC_SHA_BYTES, SQLITE_TRANSIENT);
	sqlite3_bind_blob(s, 8, rec, (int)len, SQLITE_TRANSIENT);
	if (sig != NULL)
		sqlite3_bind_blob(s, 9, sig, NSREC_SIG_BYTES, SQLITE_TRANSIENT);
	if ((e = tree_done(t, s)) != 0)
		return e;
	return sqlite3_changes(t->h) == 1;
}

/* ---- undo ---- */

static int undo_one(struct db_tree *t, int64_t rid)
{
	static const char *const steps[] = {
		"DELETE FROM entries WHERE ent IN"
		" (SELECT ent FROM undo_entries WHERE rid=?1 AND made=1)",
		"UPDATE entries SET (ino, dir, parent, name, set_rid, set_hlc, set_tag, set_seq,"
		" last_parent, last_name, last_rid) = (SELECT ino, dir, parent, name, set_rid,"
		" set_hlc, set_tag, set_seq, last_parent, last_name, last_rid FROM undo_entries u"
		" WHERE u.rid=?1 AND u.ent=entries.ent), shown=NULL"
		" WHERE ent IN (SELECT ent FROM undo_entries WHERE rid=?1 AND made=0)",
		"DELETE FROM inodes WHERE ino IN"
		" (SELECT ino FROM undo_inodes WHERE rid=?1 AND made=1)",
		"UPDATE inodes SET (kind, rdev, target, init_rid, mode, mode_rid, uid, gid, own_rid,"
		" mtime, mtime_rid, size, sha, head_hlc, head_tag, head_rid, ctime) = (SELECT kind,"
		" rdev, target, init_rid, mode, mode_rid, uid, gid, own_rid, mtime, mtime_rid, size,"
		" sha, head_hlc, head_tag, head_rid, ctime FROM undo_inodes u"
		" WHERE u.rid=?1 AND u.ino=inodes.ino)"
		" WHERE ino IN (SELECT ino FROM undo_inodes WHERE rid=?1 AND made=0)",
		"DELETE FROM xattrs WHERE (ino, name) IN"
		" (SELECT ino, name FROM undo_xattrs WHERE rid=?1 AND made=1)",
		"UPDATE xattrs SET (value, rid) = (SELECT value, xrid FROM undo_xattrs u"
		" WHERE u.rid=?1 AND u.ino=xattrs.ino AND u.name=xattrs.name)"
		" WHERE (ino, name) IN (SELECT ino, name FROM undo_xattrs WHERE rid=?1 AND made=0)",
		"DELETE FROM undo_entries WHERE rid=?1",
		"DELETE FROM undo_inodes WHERE rid=?1",
		"DELETE FROM undo_xattrs WHERE rid=?1",
	};

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		sqlite3_stmt *s = tree_sql(t, steps[i]);
		int r;

		if (s == NULL)
			return -EIO;
		sqlite3_bind_int64(s, 1, rid);
		if ((r = tree_done(t, s)) != 0)
			return r;
	}
	return 0;
}

/* ---- derived columns ---- */

static const uint8_t hexd[] = "0123456789abcdef";

void tree_conflict_name(const uint8_t *name, size_t len, uint64_t tag, uint64_t hlc,
			const uint8_t *id, char out[NSREC_NAME_MAX + 1])
{
	char suffix[64];
	time_t secs = (time_t)((hlc >> 16) / 1000);
	struct tm tm;
	size_t n = 0, keep;

	gmtime_r(&secs, &tm);
	n = (size_t)snprintf(suffix, sizeof(suffix), ".conflict-%08x-",
			     (unsigned)((tag >> 24) & 0xffffffffu));
	n += strftime(suffix + n, sizeof(suffix) - n, "%Y%m%dT%H%M%SZ", &tm);
	if (id != NULL) {
		suffix[n++] = '-';
		for (int i = NSREC_ID_BYTES - 4; i < NSREC_ID_BYTES; i++) {
			suffix[n++] = (char)hexd[id[i] >> 4];
			suffix[n++] = (char)hexd[id[i] & 15];
		}
		suffix[n] = 0;
	}
	keep = len;
	if (keep > NSREC_NAME_MAX - n) {
		keep = NSREC_NAME_MAX - n;
		while (keep > 0 && (name[keep] & 0xc0) == 0x80)
			keep--;
	}
	memcpy(out, name, keep);
	memcpy(out + keep, suffix, n + 1);
}

struct shown_row {
	int64_t ent;
	uint8_t id[NSREC_ID_BYTES];
	uint8_t name[NSREC_NAME_MAX];
	size_t name_len;
	uint64_t hlc, tag;
	int kind, winner;
	uint64_t size;
	uint8_t sha[NSREC_SHA_BYTES];
	char shown[NSREC_NAME_MAX + 1];
};

static int row_name_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c != 0 ? c : (alen > blen) - (alen < blen);
}

/* Is name asked for by an entry of the folder (rows are sorted by name,
   and every name asked for is shown by its winner)? */
static int name_asked(const struct shown_row *rows, size_t n, const char *name)
{
	size_t lo = 0, hi = n, len = strlen(name);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = row_name_cmp(rows[mid].name, rows[mid].name_len, (const uint8_t *)name, len);

		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Losers by their shown name, then id. */
static int shown_cmp(const void *a, const void *b)
{
	const struct shown_row *x = *(struct shown_row *const *)a, *y = *(struct shown_row *const *)b;
	int c = strcmp(x->shown, y->shown);

	return c != 0 ? c : memcmp(x->id, y->id, NSREC_ID_BYTES);
}

/* The shown names of folder dir (2.5). */
static int shown_folder(struct db_tree *t, int64_t dir)
{
	sqlite3_stmt *s;
	struct shown_row *rows = NULL, **losers = NULL;
	size_t n = 0, cap = 0, nl = 0;
	int r = -EIO, rc;

	if ((s = tree_sql(t, "UPDATE entries SET shown=NULL WHERE parent=?1")) == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, dir);
	if ((r = tree_done(t, s)) != 0)
		return r;
	s = tree_sql(t, "SELECT e.ent, e.id, e.name, e.set_hlc, e.set_tag, i.kind, i.size, i.sha"
			" FROM entries e JOIN inodes i ON i.ino=e.ino WHERE e.parent=?1"
			" ORDER BY e.name, e.set_hlc DESC, e.set_tag DESC, e.set_seq DESC");
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, dir);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct shown_row *w;
		size_t nl2 = (size_t)sqlite3_column_bytes(s, 2);

		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			if ((w = realloc(rows, cap * sizeof(*rows))) == NULL) {
				r = -ENOMEM;
				goto out;
			}
			rows = w;
		}
		w = &rows[n++];
		memset(w, 0, sizeof(*w));
		w->ent = sqlite3_column_int64(s, 0);
		memcpy(w->id, sqlite3_column_blob(s, 1), NSREC_ID_BYTES);
		w->name_len = nl2 > NSREC_NAME_MAX ? NSREC_NAME_MAX : nl2;
		if (w->name_len)
			memcpy(w->name, sqlite3_column_blob(s, 2), w->name_len);
		w->hlc = (uint64_t)sqlite3_column_int64(s, 3);
		w->tag = (uint64_t)sqlite3_column_int64(s, 4);
		w->kind = sqlite3_column_int(s, 5);
		w->size = (uint64_t)sqlite3_column_int64(s, 6);
		if (sqlite3_column_bytes(s, 7) == NSREC_SHA_BYTES)
			memcpy(w->sha, sqlite3_column_blob(s, 7), NSREC_SHA_BYTES);
		w->winner = n == 1 || row_name_cmp(rows[n - 2].name, rows[n - 2].name_len, w->name,
						   w->name_len) != 0;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		goto out;
	if (n > 0 && (losers = calloc(n, sizeof(*losers))) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	/* The winners first, then the losers by id: the same on every node. */
	for (size_t i = 0, win = 0; i < n; i++) {
		struct shown_row *w = &rows[i];

		if (w->winner) {
			win = i;
			memcpy(w->shown, w->name, w->name_len);
			w->shown[w->name_len] = 0;
			continue;
		}
		/* The same file twice is not a conflict. */
		if (w->kind == 'f' && rows[win].kind == 'f' && w->size == rows[win].size &&
		    memcmp(w->sha, rows[win].sha, NSREC_SHA_BYTES) == 0)
			continue;
		losers[nl++] = w;
	}
	/* Each loser's conflict name; among losers with the same one, the
	   first by id keeps it and the others add their id; a name still
	   taken (asked for, or given twice) is not listed. */
	for (size_t i = 0; i < nl; i++)
		tree_conflict_name(losers[i]->name, losers[i]->name_len, losers[i]->tag,
				   losers[i]->hlc, NULL, losers[i]->shown);
	if (nl > 1)
		qsort(losers, nl, sizeof(*losers), shown_cmp);
	for (size_t i = 0, first = 0; i < nl; i++) {
		struct shown_row *w = losers[i];

		if (i == 0 || strcmp(losers[first]->shown, w->shown) != 0)
			first = i;
		if (i != first || name_asked(rows, n, w->shown))
			tree_conflict_name(w->name, w->name_len, w->tag, w->hlc, w->id, w->shown);
	}
	if (nl > 1)
		qsort(losers, nl, sizeof(*losers), shown_cmp);
	for (size_t i = nl; i-- > 0;)
		if (name_asked(rows, n, losers[i]->shown) ||
		    (i > 0 && strcmp(losers[i - 1]->shown, losers[i]->shown) == 0))
			losers[i]->shown[0] = 0;
	s = tree_sql(t, "UPDATE entries SET shown=?2 WHERE ent=?1");
	r = s == NULL ? -EIO : 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (rows[i].shown[0] == 0)
			continue;
		sqlite3_bind_int64(s, 1, rows[i].ent);
		sqlite3_bind_blob(s, 2, rows[i].shown, (int)strlen(rows[i].shown), SQLITE_TRANSIENT);
		r = tree_done(t, s);
	}
out:
	free(losers);
	free(rows);
	return r;
}

/* Recompute the derived columns of what the batch touched. */
static int derive(struct db_tree *t)
{
	sqlite3_stmt *s = tree_sql(t, "SELECT ino FROM tree_dirs ORDER BY ino");
	int64_t *dirs = NULL;
	size_t n = 0, cap = 0;
	int r = 0, rc;

	if (s == NULL)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			int64_t *d;

			cap = cap ? 2 * cap : 64;
			if ((d = realloc(dirs, cap * sizeof(*d))) == NULL) {
				r = -ENOMEM;
				break;
			}
			dirs = d;
		}
		dirs[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	if (r == 0 && rc != SQLITE_DONE)
		r = -EIO;
	for (size_t i = 0; i < n && r == 0; i++)
		r = shown_folder(t, dirs[i]);
	free(dirs);
	if (r == 0)
		r = tree_done(t, tree_sql(t,
			"UPDATE inodes SET nlink = CASE WHEN kind=100 THEN 2 + (SELECT count(*) FROM"
			" entries WHERE parent=inodes.ino AND parent>0 AND dir=1) ELSE (SELECT count(*)"
			" FROM entries WHERE ino=inodes.ino AND parent>0) END"
			" WHERE ino IN (SELECT ino FROM tree_inos)"));
	if (r == 0)
		r = exec(t, "DELETE FROM tree_dirs; DELETE FROM tree_inos;");
	return r;
}

/* ---- applying ---- */

/* The records of one state (above key k if k is set), by key, ascending
   or not, into *out. */
static int keys_get(struct db_tree *t, int state, const struct tree_key *k, int desc,
		    struct tree_key **out, size_t *n)
{
	static const char asc_sql[] = "SELECT hlc, tag, seq, rid FROM records WHERE state=?1"
				      " AND (hlc, tag, seq) > (?2, ?3, ?4) ORDER BY hlc, tag, seq";
	static const char desc_sql[] = "SELECT hlc, tag, seq, rid FROM records WHERE state=?1"
				       " AND (hlc, tag, seq) > (?2, ?3, ?4)"
				       " ORDER BY hlc DESC, tag DESC, seq DESC";
	sqlite3_stmt *s = tree_sql(t, desc ? desc_sql : asc_sql);
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int(s, 1, state);
	sqlite3_bind_int64(s, 2, k ? (sqlite3_int64)k->hlc : -1);
	sqlite3_bind_int64(s, 3, k ? (sqlite3_int64)k->tag : -1);
	sqlite3_bind_int64(s, 4, k ? (sqlite3_int64)k->seq : -1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			struct tree_key *v;

			cap = cap ? 2 * cap : 256;
			if ((v = realloc(*out, cap * sizeof(*v))) == NULL) {
				sqlite3_reset(s);
				return -ENOMEM;
			}
			*out = v;
		}
		(*out)[*n] = (struct tree_key){ (uint64_t)sqlite3_column_int64(s, 0),
						(uint64_t)sqlite3_column_int64(s, 1),
						(uint64_t)sqlite3_column_int64(s, 2),
						sqlite3_column_int64(s, 3) };
		(*n)++;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int state_set(struct db_tree *t, int64_t rid, int state)
{
	sqlite3_stmt *s = tree_sql(t, "UPDATE records SET state=?2 WHERE rid=?1");

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, rid);
	sqlite3_bind_int(s, 2, state);
	return tree_done(t, s);
}

/* One record through the rules, inside a savepoint: a skipped record
   leaves nothing behind. */
static int apply_one(struct db_tree *t, const struct tree_key *k, struct db_tree_stats *st)
{
	sqlite3_stmt *s = tree_sql(t, "SELECT body FROM records WHERE rid=?1");
	uint8_t *body = NULL;
	size_t len = 0;
	struct nsrec rec;
	int r, ok = 0;

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, k->rid);
	if (sqlite3_step(s) == SQLITE_ROW && (len = (size_t)sqlite3_column_bytes(s, 0)) > 0 &&
	    (body = malloc(len)) != NULL)
		memcpy(body, sqlite3_column_blob(s, 0), len);
	sqlite3_reset(s);
	if (body == NULL)
		return -EIO;
	if (nsrec_decode(body, len, &rec) == 0) {
		if ((s = tree_sql(t, "INSERT INTO tree_cur VALUES(?1)")) == NULL) {
			free(body);
			return -EIO;
		}
		sqlite3_bind_int64(s, 1, k->rid);
		if ((r = tree_done(t, s)) != 0 || (r = exec(t, "SAVEPOINT tree_rec")) != 0) {
			free(body);
			return r;
		}
		ok = tree_rule_apply(t, k, &rec);
		if (ok <= 0)
			r = exec(t, "ROLLBACK TO tree_rec");
		if (r == 0)
			r = exec(t, "RELEASE tree_rec; DELETE FROM tree_cur;");
		if (ok < 0 && r == 0)
			r = ok;
	} else {
		r = 0;
	}
	free(body);
	if (r != 0)
		return r;
	if (ok > 0)
		st->applied++;
	else
		st->skipped++;
	return state_set(t, k->rid, ok > 0 ? 1 : 2);
}

static int apply_tx(struct db_tree *t, struct db_tree_stats *st)
{
	struct tree_key *staged = NULL, *late = NULL, *todo = NULL;
	size_t ns = 0, nl = 0, nt = 0;
	int r;

	if ((r = keys_get(t, 0, NULL, 0, &staged, &ns)) != 0 || ns == 0)
		goto out;
	/* Everything above the smallest staged key goes back to staged:
	   applied records are undone, newest first; skipped ones are retried. */
	for (int state = 1; state <= 2 && r == 0; state++) {
		free(late);
		if ((r = keys_get(t, state, &staged[0], 1, &late, &nl)) != 0)
			break;
		for (size_t i = 0; i < nl && r == 0; i++) {
			if (state == 1 && (r = undo_one(t, late[i].rid)) == 0)
				st->undone++;
			if (r == 0)
				r = state_set(t, late[i].rid, 0);
		}
	}
	if (r == 0)
		r = keys_get(t, 0, NULL, 0, &todo, &nt);
	for (size_t i = 0; i < nt && r == 0; i++)
		r = apply_one(t, &todo[i], st);
	if (r == 0)
		r = derive(t);
out:
	free(staged);
	free(late);
	free(todo);
	return r;
}

int db_tree_apply(struct db_tree *t, struct db_tree_stats *st)
{
	struct db_tree_stats mine = { 0 };
	int r;

	if (st == NULL)
		st = &mine;
	memset(st, 0, sizeof(*st));
	if ((r = exec(t, "BEGIN IMMEDIATE")) != 0)
		return r;
	r = apply_tx(t, st);
	if (r == 0)
		r = exec(t, "COMMIT");
	if (r != 0) {
		exec(t, "ROLLBACK");
		exec(t, "DELETE FROM tree_cur; DELETE FROM tree_dirs; DELETE FROM tree_inos;");
	}
	return r;
}
