/*
 * Reading the tree of db_tree: lookups and listings by shown name, the
 * dump that two nodes compare, and the check of its shape and derived
 * columns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db_tree_int.h"
#include "log.h"

#define ENT_COLS \
	"SELECT e.id, i.id, CASE WHEN e.parent=0 THEN NULL ELSE p.id END, e.parent>0, e.name," \
	" e.shown, i.kind, i.mode, i.uid, i.gid, i.nlink, i.mtime, i.ctime, i.size, i.sha," \
	" i.head_hlc, i.head_tag, i.ino FROM entries e JOIN inodes i ON i.ino=e.ino" \
	" LEFT JOIN inodes p ON p.ino=e.parent "

static void blob_copy(sqlite3_stmt *s, int col, void *dst, size_t cap, int text)
{
	size_t n = (size_t)sqlite3_column_bytes(s, col);
	const void *p = sqlite3_column_blob(s, col);

	if (n > cap - (text != 0))
		n = cap - (text != 0);
	if (n > 0 && p != NULL)
		memcpy(dst, p, n);
	if (text)
		((char *)dst)[n] = 0;
}

static void ent_row(sqlite3_stmt *s, struct db_tree_ent *e)
{
	memset(e, 0, sizeof(*e));
	blob_copy(s, 0, e->id, NSREC_ID_BYTES, 0);
	blob_copy(s, 1, e->ino_id, NSREC_ID_BYTES, 0);
	if (sqlite3_column_type(s, 2) == SQLITE_NULL)
		nsrec_id_trash(e->parent);
	else
		blob_copy(s, 2, e->parent, NSREC_ID_BYTES, 0);
	e->placed = sqlite3_column_int(s, 3) == 1;
	blob_copy(s, 4, e->name, sizeof(e->name), 1);
	blob_copy(s, 5, e->shown, sizeof(e->shown), 1);
	e->kind = sqlite3_column_int(s, 6);
	e->mode = (uint32_t)sqlite3_column_int64(s, 7);
	e->uid = (uint32_t)sqlite3_column_int64(s, 8);
	e->gid = (uint32_t)sqlite3_column_int64(s, 9);
	e->nlink = (uint32_t)sqlite3_column_int64(s, 10);
	e->mtime = sqlite3_column_int64(s, 11);
	e->ctime = sqlite3_column_int64(s, 12);
	e->size = (uint64_t)sqlite3_column_int64(s, 13);
	if (sqlite3_column_bytes(s, 14) == NSREC_SHA_BYTES)
		blob_copy(s, 14, e->sha, NSREC_SHA_BYTES, 0);
	e->head_hlc = (uint64_t)sqlite3_column_int64(s, 15);
	e->head_tag = (uint64_t)sqlite3_column_int64(s, 16);
	e->ino = sqlite3_column_int64(s, 17);
}

int db_tree_lookup(struct db_tree *t, const uint8_t dir[NSREC_ID_BYTES], const char *name,
		   struct db_tree_ent *out)
{
	sqlite3_stmt *s = tree_sql(t, ENT_COLS "WHERE e.parent=(SELECT ino FROM inodes WHERE id=?1)"
					       " AND e.shown=?2");
	int rc;

	if (s == NULL)
		return -EIO;
	tree_bind_id(s, 1, dir);
	sqlite3_bind_blob(s, 2, name, (int)strlen(name), SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		ent_row(s, out);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

int db_tree_entry(struct db_tree *t, const uint8_t id[NSREC_ID_BYTES], struct db_tree_ent *out)
{
	sqlite3_stmt *s = tree_sql(t, ENT_COLS "WHERE e.id=?1");
	int rc;

	if (s == NULL)
		return -EIO;
	tree_bind_id(s, 1, id);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		ent_row(s, out);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

int db_tree_list(struct db_tree *t, const uint8_t dir[NSREC_ID_BYTES], db_tree_list_cb cb,
		 void *ctx)
{
	sqlite3_stmt *s = tree_sql(t, ENT_COLS "WHERE e.parent=(SELECT ino FROM inodes WHERE id=?1)"
					       " AND e.parent>0 AND e.shown IS NOT NULL ORDER BY e.shown");
	struct db_tree_ent *v = NULL;
	size_t n = 0, cap = 0;
	int rc, r = 0;

	if (s == NULL)
		return -EIO;
	tree_bind_id(s, 1, dir);
	/* Read first, call after: cb may read the tree itself. */
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			struct db_tree_ent *w;

			cap = cap ? 2 * cap : 16;
			if ((w = realloc(v, cap * sizeof(*v))) == NULL) {
				r = -ENOMEM;
				break;
			}
			v = w;
		}
		ent_row(s, &v[n++]);
	}
	sqlite3_reset(s);
	if (r == 0 && rc != SQLITE_DONE)
		r = -EIO;
	for (size_t i = 0; i < n && r == 0; i++)
		if (cb(&v[i], ctx) != 0)
			break;
	free(v);
	return r;
}

int db_tree_xattr(struct db_tree *t, const uint8_t id[NSREC_ID_BYTES], const char *name,
		  uint8_t *buf, size_t cap)
{
	sqlite3_stmt *s = tree_sql(t, "SELECT x.value FROM xattrs x JOIN inodes i ON i.ino=x.ino"
				      " WHERE i.id=?1 AND x.name=?2 AND x.value IS NOT NULL");
	int rc, r;

	if (s == NULL)
		return -EIO;
	tree_bind_id(s, 1, id);
	sqlite3_bind_blob(s, 2, name, (int)strlen(name), SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(s, 0);

		if (n > cap) {
			r = -ERANGE;
		} else {
			if (n > 0)
				memcpy(buf, sqlite3_column_blob(s, 0), n);
			r = (int)n;
		}
	} else {
		r = rc == SQLITE_DONE ? -ENODATA : -EIO;
	}
	sqlite3_reset(s);
	return r;
}

/* ---- dump ---- */

struct text {
	char *p;
	size_t len, cap;
	int err;
};

static void text_put(struct text *x, const char *s, size_t n)
{
	if (x->err)
		return;
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *p;

		while (cap < x->len + n + 1)
			cap *= 2;
		if ((p = realloc(x->p, cap)) == NULL) {
			x->err = -ENOMEM;
			return;
		}
		x->p = p;
		x->cap = cap;
	}
	memcpy(x->p + x->len, s, n);
	x->len += n;
	x->p[x->len] = 0;
}

/* Every row of sql as a line: its columns as text, "-" for NULL. */
static int dump_rows(struct db_tree *t, struct text *x, const char *sql)
{
	sqlite3_stmt *s = tree_sql(t, sql);
	int rc;

	if (s == NULL)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(s); i++) {
			const char *v = (const char *)sqlite3_column_text(s, i);

			if (i > 0)
				text_put(x, " ", 1);
			if (v == NULL)
				text_put(x, "-", 1);
			else
				text_put(x, v, strlen(v));
		}
		text_put(x, "\n", 1);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? x->err : -EIO;
}

int db_tree_dump(struct db_tree *t, char **out)
{
	static const char *const parts[] = {
		"SELECT 'E', hex(e.id), hex(i.id), CASE WHEN e.parent=0 THEN 'T' ELSE hex(p.id) END,"
		" hex(e.name), hex(e.shown), e.set_hlc, e.set_tag, e.set_seq, hex(lp.id),"
		" hex(e.last_name) FROM entries e JOIN inodes i ON i.ino=e.ino"
		" LEFT JOIN inodes p ON p.ino=e.parent LEFT JOIN inodes lp ON lp.ino=e.last_parent"
		" ORDER BY e.id",
		"SELECT 'I', hex(id), kind, rdev, hex(target), mode, uid, gid, mtime, ctime, size,"
		" hex(sha), head_hlc, head_tag, nlink FROM inodes ORDER BY id",
		"SELECT 'X', hex(i.id), hex(x.name), hex(x.value) FROM xattrs x"
		" JOIN inodes i ON i.ino=x.ino ORDER BY i.id, x.name",
		"SELECT 'R', tag, seq, state FROM records ORDER BY hlc, tag, seq",
	};
	struct text x = { 0 };
	int r = 0;

	*out = NULL;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && r == 0; i++)
		r = dump_rows(t, &x, parts[i]);
	if (r != 0) {
		free(x.p);
		return r;
	}
	*out = x.p ? x.p : strdup("");
	return *out ? 0 : -ENOMEM;
}

/* ---- check ---- */

int db_tree_check(struct db_tree *t)
{
	static const char *const bad[] = {
		/* A placed entry whose folder does not reach the root. */
		"WITH RECURSIVE ok(i) AS (SELECT 1 UNION SELECT e.ino FROM entries e JOIN ok"
		" ON e.parent=ok.i WHERE e.dir=1) SELECT count(*) FROM entries"
		" WHERE parent>0 AND parent NOT IN ok",
		/* A parent that is not a folder. */
		"SELECT count(*) FROM entries e JOIN inodes i ON i.ino=e.parent WHERE e.parent>0"
		" AND i.kind!=100",
		/* A folder with more than one entry, or an entry id apart from it. */
		"SELECT count(*) FROM entries WHERE dir=1 AND id!=(SELECT id FROM inodes"
		" WHERE ino=entries.ino)",
		/* nlink */
		"SELECT count(*) FROM inodes WHERE nlink != CASE WHEN kind=100 THEN 2 + (SELECT"
		" count(*) FROM entries WHERE parent=inodes.ino AND parent>0 AND dir=1) ELSE"
		" (SELECT count(*) FROM entries WHERE ino=inodes.ino AND parent>0) END",
		/* The newest placement of a name shows it. */
		"SELECT count(*) FROM entries e WHERE e.parent>0 AND (e.shown IS NULL OR"
		" e.shown!=e.name) AND NOT EXISTS (SELECT 1 FROM entries f WHERE"
		" f.parent=e.parent AND f.name=e.name AND (f.set_hlc, f.set_tag, f.set_seq) >"
		" (e.set_hlc, e.set_tag, e.set_seq))",
		/* Only placed entries show a name. */
		"SELECT count(*) FROM entries WHERE shown IS NOT NULL AND NOT parent>0",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sqlite3_stmt *s = tree_sql(t, bad[i]);
		int64_t n;

		if (s == NULL)
			return -EIO;
		if (sqlite3_step(s) != SQLITE_ROW) {
			sqlite3_reset(s);
			return -EIO;
		}
		n = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		if (n != 0) {
			log_error("db_tree_check: %lld rows fail: %s", (long long)n, bad[i]);
			return -EUCLEAN;
		}
	}
	return 0;
}
