/*
 * The rules of one record (doc/namespace.md, 2.3): M0-M5, C0-C2, A and X.
 * Each returns 1 (applied), 0 (skipped: the caller rolls back whatever
 * it changed) or -errno.  The rules read only placements, heads, registers
 * and the record: no clock, no local number order.
 */
#include <errno.h>
#include <string.h>

#include "db_tree_int.h"

#define KIND_DIR 'd'

/* ---- reads ---- */

/* The inode id: 1 found, 0 unknown, -errno. */
static int ino_get(struct db_tree *t, const uint8_t id[NSREC_ID_BYTES], struct tree_ino *in)
{
	sqlite3_stmt *s = tree_sql(t, "SELECT ino, kind, head_hlc, head_tag, size, sha"
				      " FROM inodes WHERE id=?1");
	int rc;

	memset(in, 0, sizeof(*in));
	if (s == NULL)
		return -EIO;
	tree_bind_id(s, 1, id);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		in->ino = sqlite3_column_int64(s, 0);
		in->kind = sqlite3_column_int(s, 1);
		in->has_head = sqlite3_column_type(s, 2) != SQLITE_NULL;
		in->head_hlc = (uint64_t)sqlite3_column_int64(s, 2);
		in->head_tag = (uint64_t)sqlite3_column_int64(s, 3);
		in->size = (uint64_t)sqlite3_column_int64(s, 4);
		if ((in->has_sha = sqlite3_column_bytes(s, 5) == NSREC_SHA_BYTES))
			memcpy(in->sha, sqlite3_column_blob(s, 5), NSREC_SHA_BYTES);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

struct tree_ent {
	int64_t ent, ino, parent;	/* parent -1: not placed */
	uint8_t name[NSREC_NAME_MAX];
	size_t name_len;
};

static int ent_get(struct db_tree *t, const uint8_t id[NSREC_ID_BYTES], struct tree_ent *e)
{
	sqlite3_stmt *s = tree_sql(t, "SELECT ent, ino, parent, name FROM entries WHERE id=?1");
	int rc;

	memset(e, 0, sizeof(*e));
	if (s == NULL)
		return -EIO;
	tree_bind_id(s, 1, id);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		e->ent = sqlite3_column_int64(s, 0);
		e->ino = sqlite3_column_int64(s, 1);
		e->parent = sqlite3_column_type(s, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 2);
		e->name_len = (size_t)sqlite3_column_bytes(s, 3);
		if (e->name_len > NSREC_NAME_MAX)
			e->name_len = NSREC_NAME_MAX;
		if (e->name_len)
			memcpy(e->name, sqlite3_column_blob(s, 3), e->name_len);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

/* One integer from a query with one or two integer parameters: the value,
   or dflt when there is no row. */
static int64_t q_int(struct db_tree *t, const char *sql, int64_t a, int64_t b, int64_t dflt,
		     int *err)
{
	sqlite3_stmt *s = tree_sql(t, sql);
	int64_t v = dflt;
	int rc;

	if (s == NULL) {
		*err = -EIO;
		return dflt;
	}
	sqlite3_bind_int64(s, 1, a);
	sqlite3_bind_int64(s, 2, b);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		*err = -EIO;
	sqlite3_reset(s);
	return v;
}

/* Is folder f the folder p or one of its ancestors?  One recursive walk
   up the folders' single entries; UNION stops on a loop. */
static int is_ancestor(struct db_tree *t, int64_t f, int64_t p, int *err)
{
	return q_int(t, "WITH RECURSIVE up(i) AS (SELECT ?2 UNION SELECT e.parent FROM entries e"
			" JOIN up ON e.ino=up.i WHERE e.dir=1 AND e.parent>0)"
			" SELECT 1 FROM up WHERE i=?1 LIMIT 1", f, p, 0, err) == 1;
}

/* The topmost folder of p's chain that is in the trash (its entry's
   parent is 0), or 0 when the chain reaches the root. */
static int64_t top_trashed(struct db_tree *t, int64_t p, int *err)
{
	return q_int(t, "WITH RECURSIVE up(i, par) AS (SELECT ino, parent FROM entries"
			" WHERE ino=?1 AND dir=1 UNION SELECT e.ino, e.parent FROM entries e"
			" JOIN up ON e.ino=up.par WHERE e.dir=1 AND up.par>0)"
			" SELECT i FROM up WHERE par=0 LIMIT 1", p, 0, 0, err);
}

static int64_t placed_count(struct db_tree *t, int64_t ino, int *err)
{
	return q_int(t, "SELECT count(*) FROM entries WHERE ino=?1 AND parent>0", ino, 0, 0, err);
}

/* ---- writes ---- */

/* M5: place entry ent at (parent, name) with record k's key; into the
   trash (parent 0), the old place is kept in last_*. */
static int place(struct db_tree *t, int64_t ent, int64_t parent, const uint8_t *name,
		 size_t name_len, const struct tree_key *k)
{
	sqlite3_stmt *s = tree_sql(t,
		"UPDATE entries SET last_parent = CASE WHEN ?2=0 AND parent>0 THEN parent ELSE"
		" last_parent END, last_name = CASE WHEN ?2=0 AND parent>0 THEN name ELSE last_name"
		" END, last_rid = CASE WHEN ?2=0 AND parent>0 THEN set_rid ELSE last_rid END,"
		" parent=?2, name=?3, set_rid=?4, set_hlc=?5, set_tag=?6, set_seq=?7, shown=NULL"
		" WHERE ent=?1");

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, ent);
	sqlite3_bind_int64(s, 2, parent);
	if (parent != TREE_TRASH_INO)
		sqlite3_bind_blob(s, 3, name, (int)name_len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, k->rid);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)k->hlc);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)k->tag);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)k->seq);
	return tree_done(t, s);
}

/* A new entry id of inode ino (not placed yet): 1, 0 when it is a
   class-0x01 id of another origin than k's, or -errno. */
static int ent_make(struct db_tree *t, const uint8_t id[NSREC_ID_BYTES], int64_t ino, int dir,
		    const struct tree_key *k, struct tree_ent *e)
{
	sqlite3_stmt *s;
	uint64_t tag, counter;
	int r;

	if (nsrec_id_class(id) == NSREC_ID_MADE) {
		nsrec_id_parts(id, &tag, &counter);
		if (tag != k->tag)
			return 0;
	}
	if ((s = tree_sql(t, "INSERT INTO entries(id, ino, dir) VALUES(?1, ?2, ?3)")) == NULL)
		return -EIO;
	tree_bind_id(s, 1, id);
	sqlite3_bind_int64(s, 2, ino);
	sqlite3_bind_int(s, 3, dir);
	if ((r = tree_done(t, s)) != 0)
		return r;
	memset(e, 0, sizeof(*e));
	e->ent = sqlite3_last_insert_rowid(t->h);
	e->ino = ino;
	e->parent = -1;
	return 1;
}

/* M4: while folder p's chain ends in the trash, its topmost trashed
   folder goes back to its last place (the root if that is gone), unless
   that makes a cycle (0: the record is skipped).  Each round takes one
   folder out of the trash, so it ends. */
static int revive(struct db_tree *t, int64_t p, const struct tree_key *k)
{
	static const char last_sql[] =
		"SELECT e.ent, CASE WHEN i.kind=100 THEN e.last_parent END, e.last_name, hex(e.id)"
		" FROM entries e LEFT JOIN inodes i ON i.ino=e.last_parent WHERE e.ino=?1 AND e.dir=1";
	int err = 0;

	for (;;) {
		int64_t top = top_trashed(t, p, &err), ent, dest;
		uint8_t name[NSREC_NAME_MAX];
		size_t len;
		sqlite3_stmt *s;
		int r;

		if (err || top == 0)
			return err ? err : 1;
		if ((s = tree_sql(t, last_sql)) == NULL)
			return -EIO;
		sqlite3_bind_int64(s, 1, top);
		if (sqlite3_step(s) != SQLITE_ROW) {
			sqlite3_reset(s);
			return -EIO;
		}
		ent = sqlite3_column_int64(s, 0);
		dest = sqlite3_column_type(s, 1) == SQLITE_NULL ? TREE_ROOT_INO
								  : sqlite3_column_int64(s, 1);
		/* A folder with no last name (made in the trash) takes its id. */
		len = (size_t)sqlite3_column_bytes(s, sqlite3_column_type(s, 2) == SQLITE_NULL ? 3 : 2);
		if (len > NSREC_NAME_MAX)
			len = NSREC_NAME_MAX;
		memcpy(name, sqlite3_column_type(s, 2) == SQLITE_NULL ? sqlite3_column_text(s, 3)
								      : sqlite3_column_blob(s, 2), len);
		sqlite3_reset(s);
		if (dest == top || is_ancestor(t, top, dest, &err))
			return err ? err : 0;
		if ((r = place(t, ent, dest, name, len, k)) != 0)
			return r;
	}
}

/* Every record raises the ctime of the inodes it names; an M sets the
   mtime of its folders. */
static int touch(struct db_tree *t, int64_t ino, const struct nsrec *r, int folder_mtime,
		 const struct tree_key *k)
{
	sqlite3_stmt *s;

	if (ino <= 0)
		return 0;
	if (folder_mtime) {
		s = tree_sql(t, "UPDATE inodes SET mtime=?2, mtime_rid=?3 WHERE ino=?1 AND kind=100");
		if (s == NULL)
			return -EIO;
		sqlite3_bind_int64(s, 1, ino);
		sqlite3_bind_int64(s, 2, r->wall_ns);
		sqlite3_bind_int64(s, 3, k->rid);
		if (tree_done(t, s) != 0)
			return -EIO;
	}
	if ((s = tree_sql(t, "UPDATE inodes SET ctime=?2 WHERE ino=?1 AND ctime<?2")) == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, ino);
	sqlite3_bind_int64(s, 2, r->wall_ns);
	return tree_done(t, s);
}

/* A new inode: of an INIT (its registers from r) or, with r NULL, a
   regular file known only by its content (C0). */
static int ino_make(struct db_tree *t, const uint8_t id[NSREC_ID_BYTES], const struct nsrec *r,
		    const struct tree_key *k, struct tree_ino *in)
{
	sqlite3_stmt *s = tree_sql(t,
		"INSERT INTO inodes(id, kind, rdev, target, init_rid, mode, mode_rid, uid, gid,"
		" own_rid, mtime, mtime_rid, head_hlc, head_tag, head_rid, ctime)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?5, ?7, ?8, ?5, ?9, ?5, ?10, ?11, ?5, ?12)");
	int e, kind = r ? r->kind : 'f';

	if (s == NULL)
		return -EIO;
	tree_bind_id(s, 1, id);
	sqlite3_bind_int(s, 2, kind);
	if (r != NULL) {
		sqlite3_bind_int64(s, 3, (sqlite3_int64)r->rdev);
		if (r->target_len)
			sqlite3_bind_blob(s, 4, r->target, (int)r->target_len, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 5, k->rid);
		sqlite3_bind_int64(s, 6, r->mode);
		sqlite3_bind_int64(s, 7, r->uid);
		sqlite3_bind_int64(s, 8, r->gid);
		sqlite3_bind_int64(s, 9, r->mtime_ns);
		sqlite3_bind_int64(s, 12, r->wall_ns);
		if (kind == 'f') {	/* the empty content, its version the M */
			sqlite3_bind_int64(s, 10, (sqlite3_int64)k->hlc);
			sqlite3_bind_int64(s, 11, (sqlite3_int64)k->tag);
		}
	} else {
		/* No setter record: the registers wait for one (an A). */
		static const int zero[] = { 3, 7, 8, 9, 12 };

		for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
			sqlite3_bind_int64(s, zero[i], 0);
		sqlite3_bind_int64(s, 6, 0644);
	}
	if ((e = tree_done(t, s)) != 0)
		return e;
	memset(in, 0, sizeof(*in));
	in->ino = sqlite3_last_insert_rowid(t->h);
	in->kind = kind;
	in->has_head = r != NULL && kind == 'f';
	in->head_hlc = k->hlc;
	in->head_tag = k->tag;
	return 1;
}

/* ---- M ---- */

static int rule_place(struct db_tree *t, const struct tree_key *k, const struct nsrec *r)
{
	struct tree_ino in, par = { 0 }, from = { 0 };
	struct tree_ent e;
	int trash = nsrec_id_is_trash(r->parent), init = r->flags & NSREC_INIT, x, err = 0;
	char cname[NSREC_NAME_MAX + 1];

	/* M0 */
	if ((x = ino_get(t, r->inode, &in)) < 0)
		return x;
	if (x == 0 && (!init || (x = ino_make(t, r->inode, r, k, &in)) <= 0))
		return x;
	if (init && in.kind != r->kind)
		return 0;
	if (nsrec_id_is_root(r->entry))
		return 0;
	if ((x = ent_get(t, r->entry, &e)) < 0)
		return x;
	if (x == 0) {
		if (in.kind == KIND_DIR && memcmp(r->entry, r->inode, NSREC_ID_BYTES) != 0)
			return 0;
		if ((x = ent_make(t, r->entry, in.ino, in.kind == KIND_DIR, k, &e)) <= 0)
			return x;
	} else if (e.ino != in.ino) {
		return 0;
	}
	if (!nsrec_id_is_trash(r->from) && (x = ino_get(t, r->from, &from)) < 0)
		return x;
	if (!trash) {
		if ((x = ino_get(t, r->parent, &par)) <= 0 || par.kind != KIND_DIR)
			return x < 0 ? x : 0;
		if ((x = revive(t, par.ino, k)) <= 0)	/* M4 */
			return x;
		/* M1, after the revival, which may have moved folders. */
		if (in.kind == KIND_DIR && (par.ino == in.ino || is_ancestor(t, in.ino, par.ino, &err)))
			return err ? err : 0;
		if ((x = place(t, e.ent, par.ino, r->name, r->name_len, k)) != 0)
			return x;
	} else if (in.kind == KIND_DIR) {
		/* M2: its remover saw it empty. */
		if (q_int(t, "SELECT 1 FROM entries WHERE parent=?1 LIMIT 1", in.ino, 0, 0, &err))
			return err ? err : 0;
		if ((x = place(t, e.ent, TREE_TRASH_INO, NULL, 0, k)) != 0)
			return x;
	} else if (in.kind == 'f' && e.parent > 0 && !(r->flags & NSREC_MIGRATED) &&
		   (in.head_hlc != r->base_hlc || in.head_tag != r->base_tag) &&
		   placed_count(t, in.ino, &err) == 1) {
		/* M3: the last name of a file written since its remover saw it
		   stays, as the conflict name of the version it did not see. */
		if (err)
			return err;
		tree_conflict_name(e.name, e.name_len, in.head_tag, in.head_hlc, NULL, cname);
		if ((x = place(t, e.ent, e.parent, (const uint8_t *)cname, strlen(cname), k)) != 0)
			return x;
		par.ino = e.parent;
	} else {
		if (err)
			return err;
		if ((x = place(t, e.ent, TREE_TRASH_INO, NULL, 0, k)) != 0)
			return x;
	}
	if ((x = touch(t, in.ino, r, 0, k)) != 0 || (x = touch(t, par.ino, r, 1, k)) != 0 ||
	    (x = touch(t, from.ino, r, 1, k)) != 0)
		return x;
	return 1;
}

/* ---- C ---- */

/* C2: the old head of in becomes a conflict copy beside the inode's
   placed entry with the smallest id. */
static int make_copy(struct db_tree *t, const struct tree_ino *in, const uint8_t ino_id[NSREC_ID_BYTES],
		     const struct tree_key *k)
{
	uint8_t id[NSREC_ID_BYTES];
	struct tree_ino cp;
	struct tree_ent e;
	char cname[NSREC_NAME_MAX + 1];
	sqlite3_stmt *s;
	int64_t parent, copy;
	size_t len;
	int x;

	nsrec_id_copy(ino_id, in->head_hlc, in->head_tag, id);
	if ((x = ino_get(t, id, &cp)) != 0)
		return x < 0 ? x : 0;	/* made before: reused */
	s = tree_sql(t, "SELECT parent, name FROM entries WHERE ino=?1 AND parent>0 ORDER BY id LIMIT 1");
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, in->ino);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		return 0;	/* nowhere to put it: C1 placed the inode, so not reached */
	}
	parent = sqlite3_column_int64(s, 0);
	len = (size_t)sqlite3_column_bytes(s, 1);
	tree_conflict_name(sqlite3_column_blob(s, 1), len > NSREC_NAME_MAX ? NSREC_NAME_MAX : len,
			   in->head_tag, in->head_hlc, NULL, cname);
	sqlite3_reset(s);
	s = tree_sql(t, "INSERT INTO inodes(id, kind, mode, mode_rid, uid, gid, own_rid, mtime,"
			" mtime_rid, size, sha, head_hlc, head_tag, head_rid, ctime)"
			" SELECT ?1, kind, mode, mode_rid, uid, gid, own_rid, mtime, mtime_rid, size,"
			" sha, head_hlc, head_tag, head_rid, ctime FROM inodes WHERE ino=?2");
	if (s == NULL)
		return -EIO;
	tree_bind_id(s, 1, id);
	sqlite3_bind_int64(s, 2, in->ino);
	if ((x = tree_done(t, s)) != 0)
		return x;
	copy = sqlite3_last_insert_rowid(t->h);
	if ((x = ent_make(t, id, copy, 0, k, &e)) <= 0)
		return x < 0 ? x : -EIO;
	return place(t, e.ent, parent, (const uint8_t *)cname, strlen(cname), k);
}

static int rule_content(struct db_tree *t, const struct tree_key *k, const struct nsrec *r)
{
	struct tree_ino in, via;
	struct tree_ent e;
	sqlite3_stmt *s;
	int x, err = 0;

	/* C0 */
	if ((x = ino_get(t, r->inode, &in)) < 0)
		return x;
	if (x == 0 && (x = ino_make(t, r->inode, NULL, k, &in)) <= 0)
		return x;
	if (in.kind != 'f')
		return 0;
	/* C1 */
	if (placed_count(t, in.ino, &err) == 0) {
		int64_t dest = TREE_ROOT_INO;

		if (err)
			return err;
		if ((x = ent_get(t, r->entry, &e)) < 0)
			return x;
		if (x == 0 && (x = ent_make(t, r->entry, in.ino, 0, k, &e)) <= 0)
			return x;
		if (e.ino != in.ino)
			return 0;
		if ((x = ino_get(t, r->parent, &via)) < 0)
			return x;
		if (x == 1 && via.kind == KIND_DIR)
			dest = via.ino;
		if ((x = revive(t, dest, k)) <= 0)
			return x;
		if ((x = place(t, e.ent, dest, r->name, r->name_len, k)) != 0)
			return x;
	}
	/* C2 */
	if (in.has_head && !(r->flags & NSREC_MIGRATED) &&
	    (in.head_hlc != r->base_hlc || in.head_tag != r->base_tag)) {
		static const uint8_t zero[NSREC_SHA_BYTES];
		const uint8_t *old = in.has_sha ? in.sha : zero;

		if ((in.size != r->size || memcmp(old, r->sha, NSREC_SHA_BYTES) != 0) &&
		    (x = make_copy(t, &in, r->inode, k)) < 0)
			return x;
	}
	s = tree_sql(t, "UPDATE inodes SET size=?2, sha=?3, head_hlc=?4, head_tag=?5, head_rid=?6,"
			" mtime=?7, mtime_rid=?6 WHERE ino=?1");
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, in.ino);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)r->size);
	if (r->size > 0)
		sqlite3_bind_blob(s, 3, r->sha, NSREC_SHA_BYTES, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)k->hlc);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)k->tag);
	sqlite3_bind_int64(s, 6, k->rid);
	sqlite3_bind_int64(s, 7, r->mtime_ns);
	if ((x = tree_done(t, s)) != 0 || (x = touch(t, in.ino, r, 0, k)) != 0)
		return x;
	return 1;
}

/* ---- A, X ---- */

static int rule_attr(struct db_tree *t, const struct tree_key *k, const struct nsrec *r)
{
	struct tree_ino in;
	sqlite3_stmt *s;
	int x;

	if ((x = ino_get(t, r->inode, &in)) <= 0)
		return x;
	s = tree_sql(t, "UPDATE inodes SET"
			" mode = CASE WHEN ?2 & 1 THEN ?3 ELSE mode END,"
			" mode_rid = CASE WHEN ?2 & 1 THEN ?7 ELSE mode_rid END,"
			" uid = CASE WHEN ?2 & 2 THEN ?4 ELSE uid END,"
			" gid = CASE WHEN ?2 & 2 THEN ?5 ELSE gid END,"
			" own_rid = CASE WHEN ?2 & 2 THEN ?7 ELSE own_rid END,"
			" mtime = CASE WHEN ?2 & 4 THEN ?6 ELSE mtime END,"
			" mtime_rid = CASE WHEN ?2 & 4 THEN ?7 ELSE mtime_rid END WHERE ino=?1");
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, in.ino);
	sqlite3_bind_int(s, 2, r->mask);
	sqlite3_bind_int64(s, 3, r->mode);
	sqlite3_bind_int64(s, 4, r->uid);
	sqlite3_bind_int64(s, 5, r->gid);
	sqlite3_bind_int64(s, 6, r->mtime_ns);
	sqlite3_bind_int64(s, 7, k->rid);
	if ((x = tree_done(t, s)) != 0 || (x = touch(t, in.ino, r, 0, k)) != 0)
		return x;
	return 1;
}

static int rule_xattr(struct db_tree *t, const struct tree_key *k, const struct nsrec *r)
{
	struct tree_ino in;
	sqlite3_stmt *s;
	int x;

	if ((x = ino_get(t, r->inode, &in)) <= 0)
		return x;
	s = tree_sql(t, "INSERT INTO xattrs(ino, name, value, rid) VALUES(?1, ?2, ?3, ?4)"
			" ON CONFLICT(ino, name) DO UPDATE SET value=excluded.value, rid=excluded.rid");
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, in.ino);
	sqlite3_bind_blob(s, 2, r->name, (int)r->name_len, SQLITE_TRANSIENT);
	if (!(r->flags & NSREC_REMOVE))	/* an empty value is a value, not NULL */
		sqlite3_bind_blob(s, 3, r->value_len ? (const void *)r->value : "", (int)r->value_len,
				  SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, k->rid);
	if ((x = tree_done(t, s)) != 0 || (x = touch(t, in.ino, r, 0, k)) != 0)
		return x;
	return 1;
}

int tree_rule_apply(struct db_tree *t, const struct tree_key *k, const struct nsrec *r)
{
	switch (r->type) {
	case NSREC_PLACE:
		return rule_place(t, k, r);
	case NSREC_CONTENT:
		return rule_content(t, k, r);
	case NSREC_ATTR:
		return rule_attr(t, k, r);
	case NSREC_XATTR:
		return rule_xattr(t, k, r);
	default:
		return 0;
	}
}
