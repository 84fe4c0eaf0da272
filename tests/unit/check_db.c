/*
 * Unit tests for src/store/db, the namespace in sqlite: schema and reopen, the
 * POSIX errors of every namespace change, folder renames that carry their
 * whole subtree, listing order, versions (hlc and per-origin seq always
 * growing, also across a reopen with a wall clock that went back),
 * tombstones, holders and the integrity check; and the conflict rules of
 * db_apply() with versions written by hand as if from two other nodes.
 * Each test gets its own database under a fresh /tmp folder (CK_FORK:
 * one process per test).
 */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "db.h"
#include "log.h"
#include "path.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif

struct fake_wall {
	uint64_t ms;
};

static uint64_t fake_wall_fn(void *ctx)
{
	return ((struct fake_wall *)ctx)->ms;
}

struct t {
	char dir[128];
	char file[160];
	struct fake_wall wall;
	struct clock *clock;
	struct db *db;
	uint8_t self[DB_NODE_BYTES];
};

static void t_open(struct t *t)
{
	t->clock = clock_new(fake_wall_fn, &t->wall);
	ck_assert_ptr_nonnull(t->clock);
	ck_assert_int_eq(db_open(t->file, t->self, t->clock, &t->db), 0);
	ck_assert_ptr_nonnull(t->db);
}

static void t_close(struct t *t)
{
	db_close(t->db);
	t->db = NULL;
	clock_free(t->clock);
	t->clock = NULL;
}

/* All test folders live below base, made and removed by the parent
 * process around the test case, so even a failed test leaves nothing. */
#define CHECK_TMP_NAME "check_db"
#include "check_tmp.h"
#include "check_run.h"

static void t_init(struct t *t)
{
	memset(t, 0, sizeof(*t));
	log_init("check_db", LOG_LVL_WARNING);
	snprintf(t->dir, sizeof(t->dir), "%s/t.XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	snprintf(t->file, sizeof(t->file), "%s/oand.db", t->dir);
	memset(t->self, 0x5a, sizeof(t->self));
	t->wall.ms = 1700000000000ull;
	t_open(t);
}

static void t_done(struct t *t)
{
	t_close(t);
	ck_assert_int_eq(rm_tree(t->dir), 0);
}

/* A recognisable fake hash. */
static void sha_of(unsigned n, uint8_t sha[DB_SHA_BYTES])
{
	for (int i = 0; i < DB_SHA_BYTES; i++)
		sha[i] = (uint8_t)(n * 31u + (unsigned)i * 7u + (n >> 8));
}

static int publish_file(struct t *t, const char *path, unsigned content, uint64_t size)
{
	uint8_t sha[DB_SHA_BYTES];
	struct db_publish p = { .path = path, .create = 1, .mode = 0644, .uid = 1000,
				.gid = 100, .size = size, .sha = sha };

	sha_of(content, sha);
	return db_publish(t->db, &p);
}

static void get_ok(struct t *t, const char *path, struct db_entry *e)
{
	int r = db_get(t->db, path, e);

	ck_assert_msg(r == 0, "db_get(%s) = %d", path, r);
}

static void expect_absent(struct t *t, const char *path)
{
	struct db_entry e;
	int r = db_get(t->db, path, &e);

	ck_assert_msg(r == -ENOENT, "db_get(%s) = %d, want -ENOENT", path, r);
}

static int kind_of(struct t *t, const char *path)
{
	struct db_entry e;
	int k;

	if (db_get(t->db, path, &e) != 0)
		return 0;
	k = e.kind;
	db_entry_clear(&e);
	return k;
}

struct row {
	uint64_t hlc, seq;
	int deleted, found;
	uint8_t origin[DB_NODE_BYTES];
};

/* The raw row at path, tombstones included, read by a second connection
 * (the db keeps an exclusive lock while open: call it after t_close). */
static struct row raw_row(struct t *t, const char *path)
{
	struct row r = { 0 };
	sqlite3 *h = NULL;
	sqlite3_stmt *s = NULL;

	ck_assert_int_eq(sqlite3_open_v2(t->file, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(h, 1000);
	ck_assert_int_eq(sqlite3_prepare_v2(h, "SELECT hlc,seq,deleted,origin FROM entries"
					    " WHERE path=?1", -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		r.found = 1;
		r.hlc = (uint64_t)sqlite3_column_int64(s, 0);
		r.seq = (uint64_t)sqlite3_column_int64(s, 1);
		r.deleted = sqlite3_column_int(s, 2);
		if (sqlite3_column_bytes(s, 3) == DB_NODE_BYTES)
			memcpy(r.origin, sqlite3_column_blob(s, 3), DB_NODE_BYTES);
	}
	sqlite3_finalize(s);
	sqlite3_close(h);
	return r;
}

/* The version of a live entry, through the API. */
static struct row live_row(struct t *t, const char *path)
{
	struct row r = { 0 };
	struct db_entry e;

	if (db_get(t->db, path, &e) == 0) {
		r.found = 1;
		r.hlc = e.hlc;
		r.seq = e.seq;
		r.deleted = e.deleted;
		memcpy(r.origin, e.origin, DB_NODE_BYTES);
		db_entry_clear(&e);
	}
	return r;
}
struct names {
	char **v;
	size_t n, cap;
	int stop_after;
	int kinds[4];
	int64_t last_cursor;	/* of the last name collected */
};

static int collect_name(const char *name, const struct db_entry *e, int64_t cursor, void *ctx)
{
	struct names *ns = ctx;

	/* names come in bytewise order, each with its cursor */
	ck_assert_int_gt(cursor, 0);
	if (ns->n > 0)
		ck_assert_msg(strcmp(ns->v[ns->n - 1], name) < 0, "%s listed before %s",
			      ns->v[ns->n - 1], name);
	ns->last_cursor = cursor;

	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? ns->cap * 2 : 64;
		ns->v = realloc(ns->v, ns->cap * sizeof(*ns->v));
		ck_assert_ptr_nonnull(ns->v);
	}
	ns->v[ns->n++] = strdup(name);
	ns->kinds[e->kind == DB_FILE ? 0 : e->kind == DB_DIR ? 1 : e->kind == DB_LINK ? 2 : 3]++;
	return ns->stop_after > 0 && (int)ns->n >= ns->stop_after;
}

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	memset(ns, 0, sizeof(*ns));
}

static size_t count_children(struct t *t, const char *dir)
{
	struct names ns = { 0 };
	size_t n;

	ck_assert_int_eq(db_list(t->db, dir, 0, collect_name, &ns), 0);
	n = ns.n;
	names_free(&ns);
	return n;
}

START_TEST(test_open_schema_reopen)
{
	struct t t;
	struct db_entry e;
	sqlite3 *h = NULL;
	sqlite3_stmt *s = NULL;
	uint8_t sha[DB_SHA_BYTES];

	t_init(&t);
	ck_assert_int_eq(db_mkdir(t.db, "/a", 0750, 1, 2), 0);
	ck_assert_int_eq(publish_file(&t, "/a/f", 7, 1234), 0);
	t_close(&t);

	ck_assert_int_eq(sqlite3_open_v2(t.file, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(s, 0), DB_SCHEMA_VERSION);
	sqlite3_finalize(s);
	ck_assert_int_eq(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(h);

	/* reopening migrates nothing and keeps everything */
	t_open(&t);
	get_ok(&t, "/a", &e);
	ck_assert_int_eq(e.kind, DB_DIR);
	ck_assert_uint_eq(e.mode, 0750);
	ck_assert_uint_eq(e.uid, 1);
	ck_assert_uint_eq(e.gid, 2);
	db_entry_clear(&e);
	get_ok(&t, "/a/f", &e);
	ck_assert_int_eq(e.kind, DB_FILE);
	ck_assert_uint_eq(e.size, 1234);
	sha_of(7, sha);
	ck_assert_int_eq(e.has_sha, 1);
	ck_assert_mem_eq(e.sha256, sha, DB_SHA_BYTES);
	db_entry_clear(&e);
	ck_assert_int_eq(db_check(t.db), 0);
	t_done(&t);
}
END_TEST

/* A database written by a newer oand is refused, not damaged. */
START_TEST(test_newer_schema_refused)
{
	struct t t;
	sqlite3 *h = NULL;
	struct db *db2 = NULL;

	t_init(&t);
	t_close(&t);
	ck_assert_int_eq(sqlite3_open(t.file, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	t.clock = clock_new(fake_wall_fn, &t.wall);
	ck_assert_int_eq(db_open(t.file, t.self, t.clock, &db2), -EPROTO);
	ck_assert_ptr_null(db2);
	t_done(&t);
}
END_TEST

START_TEST(test_open_bad_location)
{
	struct t t;
	struct db *db2 = (struct db *)1;
	char bad[192];

	t_init(&t);
	snprintf(bad, sizeof(bad), "%s/no/such/dir/oand.db", t.dir);
	ck_assert_int_lt(db_open(bad, t.self, t.clock, &db2), 0);
	ck_assert_ptr_null(db2);
	t_done(&t);
}
END_TEST

START_TEST(test_root_exists)
{
	struct t t;
	struct db_entry e;
	struct db_stats st;

	t_init(&t);
	get_ok(&t, "/", &e);
	ck_assert_int_eq(e.kind, DB_DIR);
	ck_assert_uint_eq(e.mode, 0755);
	ck_assert_int_eq(e.deleted, 0);
	ck_assert_mem_eq(e.origin, t.self, DB_NODE_BYTES);
	db_entry_clear(&e);
	/* the root is not its own child */
	ck_assert_uint_eq(count_children(&t, "/"), 0);
	ck_assert_int_eq(db_stats(t.db, &st), 0);
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_uint_eq(st.dirs, 0);
	ck_assert_uint_eq(st.tombstones, 0);
	/* a reopen does not make a second root version */
	{
		struct row before = live_row(&t, "/"), after;

		t_close(&t);
		t_open(&t);
		after = live_row(&t, "/");
		ck_assert_uint_eq(after.seq, before.seq);
		ck_assert_uint_eq(after.hlc, before.hlc);
	}
	ck_assert_int_eq(db_mkdir(t.db, "/", 0755, 0, 0), -EEXIST);
	ck_assert_int_eq(db_rmdir(t.db, "/"), -EBUSY);
	t_done(&t);
}
END_TEST

START_TEST(test_mkdir)
{
	struct t t;
	struct db_entry e;

	t_init(&t);
	ck_assert_int_eq(db_mkdir(t.db, "/a", 0700, 10, 20), 0);
	get_ok(&t, "/a", &e);
	ck_assert_int_eq(e.kind, DB_DIR);
	ck_assert_uint_eq(e.mode, 0700);
	ck_assert_uint_eq(e.uid, 10);
	ck_assert_uint_eq(e.gid, 20);
	ck_assert_int_gt(e.mtime_ns, 0);
	db_entry_clear(&e);
	ck_assert_int_eq(db_mkdir(t.db, "/a/b", 02775, 0, 0), 0);
	get_ok(&t, "/a/b", &e);
	ck_assert_uint_eq(e.mode, 02775);
	db_entry_clear(&e);
	/* only permission bits are kept */
	ck_assert_int_eq(db_mkdir(t.db, "/m", 040755, 0, 0), 0);
	get_ok(&t, "/m", &e);
	ck_assert_uint_eq(e.mode, 0755);
	db_entry_clear(&e);

	ck_assert_int_eq(db_mkdir(t.db, "/a", 0700, 0, 0), -EEXIST);
	ck_assert_int_eq(db_mkdir(t.db, "/a/b", 0700, 0, 0), -EEXIST);
	ck_assert_int_eq(db_mkdir(t.db, "/x/y", 0700, 0, 0), -ENOENT);
	ck_assert_int_eq(db_mkdir(t.db, "/a/x/y", 0700, 0, 0), -ENOENT);
	ck_assert_int_eq(publish_file(&t, "/f", 1, 1), 0);
	ck_assert_int_eq(db_mkdir(t.db, "/f", 0700, 0, 0), -EEXIST);
	ck_assert_int_eq(db_mkdir(t.db, "/f/y", 0700, 0, 0), -ENOTDIR);
	ck_assert_int_eq(db_symlink(t.db, "/l", "/a", 0, 0), 0);
	ck_assert_int_eq(db_mkdir(t.db, "/l/y", 0700, 0, 0), -ENOTDIR);
	expect_absent(&t, "/x");
	expect_absent(&t, "/f/y");
	/* a removed folder can be made again */
	ck_assert_int_eq(db_rmdir(t.db, "/a/b"), 0);
	expect_absent(&t, "/a/b");
	ck_assert_int_eq(db_mkdir(t.db, "/a/b/c", 0700, 0, 0), -ENOENT);
	ck_assert_int_eq(db_mkdir(t.db, "/a/b", 0711, 0, 0), 0);
	get_ok(&t, "/a/b", &e);
	ck_assert_uint_eq(e.mode, 0711);
	db_entry_clear(&e);
	t_done(&t);
}
END_TEST

START_TEST(test_publish)
{
	struct t t;
	struct db_entry e;
	uint8_t s1[DB_SHA_BYTES], s2[DB_SHA_BYTES];
	struct db_publish p;

	t_init(&t);
	sha_of(1, s1);
	sha_of(2, s2);
	ck_assert_int_ne(memcmp(s1, s2, DB_SHA_BYTES), 0);

	/* create */
	p = (struct db_publish){ .path = "/f", .create = 1, .excl = 1, .mode = 0640, .uid = 7,
				 .gid = 8, .size = 100, .sha = s1, .mtime_set = 1, .mtime_ns = 1234567890123 };
	ck_assert_int_eq(db_publish(t.db, &p), 0);
	ck_assert_int_eq(p.has_old, 0);
	get_ok(&t, "/f", &e);
	ck_assert_int_eq(e.kind, DB_FILE);
	ck_assert_uint_eq(e.size, 100);
	ck_assert_uint_eq(e.mode, 0640);
	ck_assert_uint_eq(e.uid, 7);
	ck_assert_uint_eq(e.gid, 8);
	ck_assert_int_eq(e.mtime_ns, 1234567890123);
	ck_assert_int_eq(e.has_sha, 1);
	ck_assert_mem_eq(e.sha256, s1, DB_SHA_BYTES);
	ck_assert_ptr_null(e.target);
	db_entry_clear(&e);

	/* excl on an existing path */
	p = (struct db_publish){ .path = "/f", .create = 1, .excl = 1, .mode = 0600, .size = 1,
				 .sha = s2 };
	ck_assert_int_eq(db_publish(t.db, &p), -EEXIST);
	get_ok(&t, "/f", &e);
	ck_assert_mem_eq(e.sha256, s1, DB_SHA_BYTES);
	db_entry_clear(&e);

	/* overwrite: the old hash comes back; mode and owner stay */
	p = (struct db_publish){ .path = "/f", .create = 1, .mode = 0600, .uid = 99, .gid = 99,
				 .size = 200, .sha = s2 };
	ck_assert_int_eq(db_publish(t.db, &p), 0);
	ck_assert_int_eq(p.has_old, 1);
	ck_assert_mem_eq(p.old_sha, s1, DB_SHA_BYTES);
	get_ok(&t, "/f", &e);
	ck_assert_uint_eq(e.size, 200);
	ck_assert_mem_eq(e.sha256, s2, DB_SHA_BYTES);
	ck_assert_uint_eq(e.mode, 0640);
	ck_assert_uint_eq(e.uid, 7);
	ck_assert_uint_eq(e.gid, 8);
	ck_assert_int_gt(e.mtime_ns, 1234567890123);	/* not set: now */
	db_entry_clear(&e);

	/* same content again: nothing to collect */
	p = (struct db_publish){ .path = "/f", .size = 200, .sha = s2 };
	ck_assert_int_eq(db_publish(t.db, &p), 0);
	ck_assert_int_eq(p.has_old, 0);

	/* no content */
	p = (struct db_publish){ .path = "/f", .size = 0, .sha = NULL };
	ck_assert_int_eq(db_publish(t.db, &p), 0);
	ck_assert_int_eq(p.has_old, 1);
	ck_assert_mem_eq(p.old_sha, s2, DB_SHA_BYTES);
	get_ok(&t, "/f", &e);
	ck_assert_int_eq(e.has_sha, 0);
	ck_assert_uint_eq(e.size, 0);
	db_entry_clear(&e);
	p = (struct db_publish){ .path = "/f", .size = 5, .sha = s1 };
	ck_assert_int_eq(db_publish(t.db, &p), 0);
	ck_assert_int_eq(p.has_old, 0);

	/* without create, a missing path stays missing */
	p = (struct db_publish){ .path = "/g", .size = 1, .sha = s1 };
	ck_assert_int_eq(db_publish(t.db, &p), -ENOENT);
	expect_absent(&t, "/g");
	/* parents must exist and be folders */
	p = (struct db_publish){ .path = "/nodir/g", .create = 1, .size = 1, .sha = s1 };
	ck_assert_int_eq(db_publish(t.db, &p), -ENOENT);
	p = (struct db_publish){ .path = "/f/g", .create = 1, .size = 1, .sha = s1 };
	ck_assert_int_eq(db_publish(t.db, &p), -ENOTDIR);
	/* not over a folder or a symlink */
	ck_assert_int_eq(db_mkdir(t.db, "/d", 0755, 0, 0), 0);
	p = (struct db_publish){ .path = "/d", .create = 1, .size = 1, .sha = s1 };
	ck_assert_int_eq(db_publish(t.db, &p), -EISDIR);
	ck_assert_int_eq(kind_of(&t, "/d"), DB_DIR);
	ck_assert_int_eq(db_symlink(t.db, "/l", "f", 0, 0), 0);
	p = (struct db_publish){ .path = "/l", .create = 1, .size = 1, .sha = s1 };
	ck_assert_int_eq(db_publish(t.db, &p), -EEXIST);
	ck_assert_int_eq(kind_of(&t, "/l"), DB_LINK);
	t_done(&t);
}
END_TEST

START_TEST(test_unlink)
{
	struct t t;
	uint8_t s1[DB_SHA_BYTES], old[DB_SHA_BYTES];
	int has_old = -1;

	t_init(&t);
	sha_of(1, s1);
	ck_assert_int_eq(publish_file(&t, "/f", 1, 10), 0);
	ck_assert_int_eq(db_unlink(t.db, "/f", &has_old, old), 0);
	ck_assert_int_eq(has_old, 1);
	ck_assert_mem_eq(old, s1, DB_SHA_BYTES);
	expect_absent(&t, "/f");
	ck_assert_int_eq(db_unlink(t.db, "/f", &has_old, old), -ENOENT);
	ck_assert_int_eq(has_old, 0);
	ck_assert_int_eq(db_unlink(t.db, "/never", &has_old, old), -ENOENT);

	ck_assert_int_eq(db_mkdir(t.db, "/d", 0755, 0, 0), 0);
	ck_assert_int_eq(db_unlink(t.db, "/d", &has_old, old), -EISDIR);
	ck_assert_int_eq(kind_of(&t, "/d"), DB_DIR);

	/* a symlink has no content to collect */
	ck_assert_int_eq(db_symlink(t.db, "/d/l", "../x", 0, 0), 0);
	has_old = -1;
	ck_assert_int_eq(db_unlink(t.db, "/d/l", &has_old, old), 0);
	ck_assert_int_eq(has_old, 0);
	expect_absent(&t, "/d/l");
	ck_assert_uint_eq(count_children(&t, "/d"), 0);
	/* the name can be used again */
	ck_assert_int_eq(publish_file(&t, "/f", 3, 3), 0);
	ck_assert_int_eq(kind_of(&t, "/f"), DB_FILE);
	t_done(&t);
}
END_TEST

START_TEST(test_rmdir)
{
	struct t t;
	int has_old;
	uint8_t old[DB_SHA_BYTES];

	t_init(&t);
	ck_assert_int_eq(db_mkdir(t.db, "/d", 0755, 0, 0), 0);
	ck_assert_int_eq(db_mkdir(t.db, "/d/e", 0755, 0, 0), 0);
	ck_assert_int_eq(publish_file(&t, "/d/e/f", 1, 1), 0);
	ck_assert_int_eq(db_rmdir(t.db, "/d"), -ENOTEMPTY);
	ck_assert_int_eq(db_rmdir(t.db, "/d/e"), -ENOTEMPTY);
	ck_assert_int_eq(db_rmdir(t.db, "/d/e/f"), -ENOTDIR);
	ck_assert_int_eq(db_rmdir(t.db, "/nope"), -ENOENT);
	ck_assert_int_eq(db_rmdir(t.db, "/"), -EBUSY);
	ck_assert_int_eq(kind_of(&t, "/d/e"), DB_DIR);
	/* tombstones below do not keep a folder busy */
	ck_assert_int_eq(db_unlink(t.db, "/d/e/f", &has_old, old), 0);
	ck_assert_int_eq(db_rmdir(t.db, "/d"), -ENOTEMPTY);
	ck_assert_int_eq(db_rmdir(t.db, "/d/e"), 0);
	expect_absent(&t, "/d/e");
	ck_assert_int_eq(db_rmdir(t.db, "/d/e"), -ENOENT);
	ck_assert_int_eq(db_rmdir(t.db, "/d"), 0);
	expect_absent(&t, "/d");
	ck_assert_uint_eq(count_children(&t, "/"), 0);
	t_done(&t);
}
END_TEST

START_TEST(test_rename_file)
{
	struct t t;
	struct db_entry e;
	uint8_t s1[DB_SHA_BYTES], old[DB_SHA_BYTES];
	int has_old = -1;

	t_init(&t);
	sha_of(1, s1);
	ck_assert_int_eq(db_mkdir(t.db, "/a", 0755, 0, 0), 0);
	ck_assert_int_eq(db_mkdir(t.db, "/b", 0755, 0, 0), 0);
	ck_assert_int_eq(publish_file(&t, "/a/f", 1, 42), 0);
	ck_assert_int_eq(db_rename(t.db, "/a/f", "/b/g", 0, &has_old, old), 0);
	ck_assert_int_eq(has_old, 0);
	expect_absent(&t, "/a/f");
	get_ok(&t, "/b/g", &e);
	ck_assert_int_eq(e.kind, DB_FILE);
	ck_assert_uint_eq(e.size, 42);
	ck_assert_uint_eq(e.mode, 0644);
	ck_assert_uint_eq(e.uid, 1000);
	ck_assert_mem_eq(e.sha256, s1, DB_SHA_BYTES);
	db_entry_clear(&e);
	ck_assert_uint_eq(count_children(&t, "/a"), 0);
	ck_assert_uint_eq(count_children(&t, "/b"), 1);
	/* same name in the same folder: nothing happens */
	ck_assert_int_eq(db_rename(t.db, "/b/g", "/b/g", 0, &has_old, old), 0);
	ck_assert_int_eq(kind_of(&t, "/b/g"), DB_FILE);
	/* symlinks move too */
	ck_assert_int_eq(db_symlink(t.db, "/a/l", "target/x", 0, 0), 0);
	ck_assert_int_eq(db_rename(t.db, "/a/l", "/l2", 0, &has_old, old), 0);
	get_ok(&t, "/l2", &e);
	ck_assert_int_eq(e.kind, DB_LINK);
	ck_assert_str_eq(e.target, "target/x");
	db_entry_clear(&e);
	expect_absent(&t, "/a/l");
	t_done(&t);
}
END_TEST

/* A folder moves with everything below it, and nothing beside it. */
START_TEST(test_rename_tree)
{
	enum { D1 = 8, D2 = 8, F = 6 };
	struct t t;
	struct db_stats before, after;
	char p[128], q[128];
	uint8_t old[DB_SHA_BYTES];
	int has_old;
	unsigned total = 1;

	t_init(&t);
	ck_assert_int_eq(db_mkdir(t.db, "/src", 0755, 0, 0), 0);
	for (int i = 0; i < D1; i++) {
		snprintf(p, sizeof(p), "/src/d%d", i);
		ck_assert_int_eq(db_mkdir(t.db, p, 0755, 0, 0), 0);
		total++;
		for (int j = 0; j < D2; j++) {
			snprintf(p, sizeof(p), "/src/d%d/e%d", i, j);
			ck_assert_int_eq(db_mkdir(t.db, p, 0755, 0, 0), 0);
			total++;
			for (int k = 0; k < F; k++) {
				snprintf(p, sizeof(p), "/src/d%d/e%d/f%d", i, j, k);
				ck_assert_int_eq(publish_file(&t, p, (unsigned)(i * 100 + j * 10 + k),
							      (uint64_t)k), 0);
				total++;
			}
		}
	}
	/* names that sort right around "/src/": must not move */
	ck_assert_int_eq(publish_file(&t, "/src-x", 1, 1), 0);
	ck_assert_int_eq(publish_file(&t, "/src.x", 1, 1), 0);
	ck_assert_int_eq(publish_file(&t, "/src0", 1, 1), 0);
	ck_assert_int_eq(publish_file(&t, "/srcx", 1, 1), 0);
	ck_assert_int_eq(publish_file(&t, "/sr", 1, 1), 0);
	ck_assert_int_eq(db_mkdir(t.db, "/srd", 0755, 0, 0), 0);
	ck_assert_int_eq(publish_file(&t, "/srd/x", 1, 1), 0);
	/* a removed entry below stays removed */
	ck_assert_int_eq(publish_file(&t, "/src/gone", 5, 1), 0);
	ck_assert_int_eq(db_unlink(t.db, "/src/gone", &has_old, old), 0);
	ck_assert_int_eq(db_mkdir(t.db, "/dst-parent", 0755, 0, 0), 0);
	ck_assert_int_eq(db_stats(t.db, &before), 0);

	ck_assert_int_eq(db_rename(t.db, "/src", "/dst-parent/dst", 0, &has_old, old), 0);
	ck_assert_int_eq(has_old, 0);

	expect_absent(&t, "/src");
	ck_assert_int_eq(kind_of(&t, "/dst-parent/dst"), DB_DIR);
	for (int i = 0; i < D1; i++) {
		snprintf(p, sizeof(p), "/src/d%d", i);
		expect_absent(&t, p);
		snprintf(q, sizeof(q), "/dst-parent/dst/d%d", i);
		ck_assert_int_eq(kind_of(&t, q), DB_DIR);
		ck_assert_uint_eq(count_children(&t, q), D2);
		for (int j = 0; j < D2; j++) {
			snprintf(p, sizeof(p), "/src/d%d/e%d", i, j);
			expect_absent(&t, p);
			snprintf(q, sizeof(q), "/dst-parent/dst/d%d/e%d", i, j);
			ck_assert_uint_eq(count_children(&t, q), F);
			for (int k = 0; k < F; k++) {
				struct db_entry e;
				uint8_t sha[DB_SHA_BYTES];

				snprintf(p, sizeof(p), "/src/d%d/e%d/f%d", i, j, k);
				expect_absent(&t, p);
				snprintf(q, sizeof(q), "/dst-parent/dst/d%d/e%d/f%d", i, j, k);
				get_ok(&t, q, &e);
				sha_of((unsigned)(i * 100 + j * 10 + k), sha);
				ck_assert_int_eq(e.kind, DB_FILE);
				ck_assert_uint_eq(e.size, (uint64_t)k);
				ck_assert_mem_eq(e.sha256, sha, DB_SHA_BYTES);
				db_entry_clear(&e);
			}
		}
	}
	ck_assert_uint_eq(count_children(&t, "/dst-parent/dst"), D1);
	expect_absent(&t, "/dst-parent/dst/gone");
	/* the neighbours stayed */
	ck_assert_int_eq(kind_of(&t, "/src-x"), DB_FILE);
	ck_assert_int_eq(kind_of(&t, "/src.x"), DB_FILE);
	ck_assert_int_eq(kind_of(&t, "/src0"), DB_FILE);
	ck_assert_int_eq(kind_of(&t, "/srcx"), DB_FILE);
	ck_assert_int_eq(kind_of(&t, "/sr"), DB_FILE);
	ck_assert_int_eq(kind_of(&t, "/srd/x"), DB_FILE);
	expect_absent(&t, "/dst-parent/dst-x");
	/* same number of live entries; every moved one left a tombstone */
	ck_assert_int_eq(db_stats(t.db, &after), 0);
	ck_assert_uint_eq(after.entries, before.entries);
	ck_assert_uint_eq(after.files, before.files);
	ck_assert_uint_eq(after.dirs, before.dirs);
	ck_assert_uint_eq(after.tombstones, before.tombstones + total);
	/* and back again */
	ck_assert_int_eq(db_rename(t.db, "/dst-parent/dst", "/src", 0, &has_old, old), 0);
	ck_assert_int_eq(kind_of(&t, "/src/d7/e7/f5"), DB_FILE);
	expect_absent(&t, "/dst-parent/dst/d7/e7/f5");
	ck_assert_uint_eq(count_children(&t, "/dst-parent"), 0);
	ck_assert_int_eq(db_check(t.db), 0);
	t_done(&t);
}
END_TEST

START_TEST(test_rename_replace_file)
{
	struct t t;
	struct db_entry e;
	uint8_t s1[DB_SHA_BYTES], s2[DB_SHA_BYTES], old[DB_SHA_BYTES];
	int has_old = -1;

	t_init(&t);
	sha_of(1, s1);
	sha_of(2, s2);
	ck_assert_int_eq(publish_file(&t, "/a", 1, 11), 0);
	ck_assert_int_eq(publish_file(&t, "/b", 2, 22), 0);
	ck_assert_int_eq(db_rename(t.db, "/a", "/b", 0, &has_old, old), 0);
	ck_assert_int_eq(has_old, 1);
	ck_assert_mem_eq(old, s2, DB_SHA_BYTES);
	expect_absent(&t, "/a");
	get_ok(&t, "/b", &e);
	ck_assert_uint_eq(e.size, 11);
	ck_assert_mem_eq(e.sha256, s1, DB_SHA_BYTES);
	db_entry_clear(&e);
	ck_assert_uint_eq(count_children(&t, "/"), 1);
	/* replacing a file with the same content: nothing to collect */
	ck_assert_int_eq(publish_file(&t, "/c", 1, 11), 0);
	has_old = -1;
	ck_assert_int_eq(db_rename(t.db, "/c", "/b", 0, &has_old, old), 0);
	ck_assert_int_eq(has_old, 0);
	/* a symlink replaces a file */
	ck_assert_int_eq(db_symlink(t.db, "/l", "x", 0, 0), 0);
	ck_assert_int_eq(db_rename(t.db, "/l", "/b", 0, &has_old, old), 0);
	ck_assert_int_eq(has_old, 1);
	ck_assert_mem_eq(old, s1, DB_SHA_BYTES);
	ck_assert_int_eq(kind_of(&t, "/b"), DB_LINK);
	t_done(&t);
}
END_TEST

START_TEST(test_rename_errors)
{
	struct t t;
	uint8_t old[DB_SHA_BYTES];
	int has_old;

	t_init(&t);
	ck_assert_int_eq(publish_file(&t, "/f", 1, 1), 0);
	ck_assert_int_eq(publish_file(&t, "/g", 2, 2), 0);
	ck_assert_int_eq(db_mkdir(t.db, "/d", 0755, 0, 0), 0);
	ck_assert_int_eq(db_mkdir(t.db, "/d/sub", 0755, 0, 0), 0);
	ck_assert_int_eq(publish_file(&t, "/d/sub/x", 3, 3), 0);
	ck_assert_int_eq(db_mkdir(t.db, "/full", 0755, 0, 0), 0);
	ck_assert_int_eq(publish_file(&t, "/full/y", 4, 4), 0);
	ck_assert_int_eq(db_mkdir(t.db, "/empty", 0755, 0, 0), 0);

	/* RENAME_NOREPLACE */
	ck_assert_int_eq(db_rename(t.db, "/f", "/g", RENAME_NOREPLACE, &has_old, old), -EEXIST);
	ck_assert_int_eq(db_rename(t.db, "/d", "/empty", RENAME_NOREPLACE, &has_old, old), -EEXIST);
	ck_assert_int_eq(db_rename(t.db, "/f", "/f2", RENAME_NOREPLACE, &has_old, old), 0);
	ck_assert_int_eq(db_rename(t.db, "/f2", "/f", 0, &has_old, old), 0);
	/* RENAME_EXCHANGE is not supported */
	ck_assert_int_eq(db_rename(t.db, "/f", "/g", RENAME_EXCHANGE, &has_old, old), -EINVAL);
	ck_assert_int_eq(db_rename(t.db, "/f", "/g", RENAME_EXCHANGE | RENAME_NOREPLACE, &has_old,
				   old), -EINVAL);
	ck_assert_int_eq(db_rename(t.db, "/f", "/g", 1u << 7, &has_old, old), -EINVAL);
	/* folder over a non-empty folder */
	ck_assert_int_eq(db_rename(t.db, "/d", "/full", 0, &has_old, old), -ENOTEMPTY);
	/* folder into its own subtree */
	ck_assert_int_eq(db_rename(t.db, "/d", "/d/sub/d", 0, &has_old, old), -EINVAL);
	ck_assert_int_eq(db_rename(t.db, "/d", "/d/d", 0, &has_old, old), -EINVAL);
	/* file over a folder, folder over a file */
	ck_assert_int_eq(db_rename(t.db, "/f", "/empty", 0, &has_old, old), -EISDIR);
	ck_assert_int_eq(db_rename(t.db, "/empty", "/f", 0, &has_old, old), -ENOTDIR);
	/* missing source or target parent */
	ck_assert_int_eq(db_rename(t.db, "/nope", "/x", 0, &has_old, old), -ENOENT);
	ck_assert_int_eq(db_rename(t.db, "/f", "/nodir/x", 0, &has_old, old), -ENOENT);
	ck_assert_int_eq(db_rename(t.db, "/f", "/g/x", 0, &has_old, old), -ENOTDIR);
	/* the root */
	ck_assert_int_eq(db_rename(t.db, "/", "/x", 0, &has_old, old), -EBUSY);
	ck_assert_int_eq(db_rename(t.db, "/d", "/", 0, &has_old, old), -EBUSY);

	/* nothing of the above changed anything */
	ck_assert_int_eq(kind_of(&t, "/f"), DB_FILE);
	ck_assert_int_eq(kind_of(&t, "/g"), DB_FILE);
	ck_assert_int_eq(kind_of(&t, "/d/sub/x"), DB_FILE);
	ck_assert_int_eq(kind_of(&t, "/full/y"), DB_FILE);
	ck_assert_int_eq(kind_of(&t, "/empty"), DB_DIR);
	expect_absent(&t, "/d/sub/d");
	expect_absent(&t, "/d/d");

	/* a folder replaces an empty folder and keeps its content */
	ck_assert_int_eq(db_rename(t.db, "/d", "/empty", 0, &has_old, old), 0);
	ck_assert_int_eq(has_old, 0);
	expect_absent(&t, "/d");
	ck_assert_int_eq(kind_of(&t, "/empty/sub/x"), DB_FILE);
	/* an empty folder emptied by removals can be replaced too */
	ck_assert_int_eq(db_unlink(t.db, "/full/y", &has_old, old), 0);
	ck_assert_int_eq(db_rename(t.db, "/empty", "/full", 0, &has_old, old), 0);
	ck_assert_int_eq(kind_of(&t, "/full/sub/x"), DB_FILE);
	expect_absent(&t, "/full/y");
	t_done(&t);
}
END_TEST

/* A folder moved onto names that were removed earlier brings them back. */
START_TEST(test_rename_onto_tombstones)
{
	struct t t;
	struct db_entry e;
	uint8_t old[DB_SHA_BYTES], s9[DB_SHA_BYTES];
	int has_old;

	t_init(&t);
	ck_assert_int_eq(db_mkdir(t.db, "/b", 0755, 0, 0), 0);
	ck_assert_int_eq(publish_file(&t, "/b/x", 1, 1), 0);
	ck_assert_int_eq(db_unlink(t.db, "/b/x", &has_old, old), 0);
	ck_assert_int_eq(db_rmdir(t.db, "/b"), 0);
	ck_assert_int_eq(db_mkdir(t.db, "/a", 0700, 0, 0), 0);
	ck_assert_int_eq(publish_file(&t, "/a/x", 9, 9), 0);
	ck_assert_int_eq(db_rename(t.db, "/a", "/b", 0, &has_old, old), 0);
	get_ok(&t, "/b/x", &e);
	sha_of(9, s9);
	ck_assert_mem_eq(e.sha256, s9, DB_SHA_BYTES);
	ck_assert_int_eq(e.deleted, 0);
	db_entry_clear(&e);
	get_ok(&t, "/b", &e);
	ck_assert_uint_eq(e.mode, 0700);
	db_entry_clear(&e);
	t_done(&t);
}
END_TEST

START_TEST(test_setattr)
{
	struct t t;
	struct db_entry e;
	struct row r0, r1;

	t_init(&t);
	ck_assert_int_eq(publish_file(&t, "/f", 1, 1), 0);
	r0 = live_row(&t, "/f");
	ck_assert_int_eq(db_setattr(t.db, "/f", DB_SET_MODE, 0100600, 5, 5, 5), 0);
	get_ok(&t, "/f", &e);
	ck_assert_uint_eq(e.mode, 0600);
	ck_assert_uint_eq(e.uid, 1000);	/* not asked for */
	ck_assert_uint_eq(e.gid, 100);
	db_entry_clear(&e);
	r1 = live_row(&t, "/f");
	ck_assert_uint_gt(r1.hlc, r0.hlc);
	ck_assert_uint_gt(r1.seq, r0.seq);

	ck_assert_int_eq(db_setattr(t.db, "/f", DB_SET_OWNER, 0, 42, (uint32_t)-1, 0), 0);
	get_ok(&t, "/f", &e);
	ck_assert_uint_eq(e.uid, 42);
	ck_assert_uint_eq(e.gid, 100);	/* -1: unchanged */
	ck_assert_uint_eq(e.mode, 0600);
	db_entry_clear(&e);
	ck_assert_int_eq(db_setattr(t.db, "/f", DB_SET_OWNER, 0, (uint32_t)-1, 7, 0), 0);
	get_ok(&t, "/f", &e);
	ck_assert_uint_eq(e.uid, 42);
	ck_assert_uint_eq(e.gid, 7);
	db_entry_clear(&e);

	ck_assert_int_eq(db_setattr(t.db, "/f", DB_SET_MTIME, 0777, 1, 1, 987654321000), 0);
	get_ok(&t, "/f", &e);
	ck_assert_int_eq(e.mtime_ns, 987654321000);
	ck_assert_uint_eq(e.mode, 0600);
	ck_assert_uint_eq(e.uid, 42);
	ck_assert_uint_eq(e.size, 1);
	ck_assert_int_eq(e.has_sha, 1);
	db_entry_clear(&e);

	ck_assert_int_eq(db_setattr(t.db, "/f", DB_SET_MODE | DB_SET_OWNER | DB_SET_MTIME, 04711,
				    3, 4, 5), 0);
	get_ok(&t, "/f", &e);
	ck_assert_uint_eq(e.mode, 04711);
	ck_assert_uint_eq(e.uid, 3);
	ck_assert_uint_eq(e.gid, 4);
	ck_assert_int_eq(e.mtime_ns, 5);
	db_entry_clear(&e);

	/* folders too; missing paths are ENOENT */
	ck_assert_int_eq(db_setattr(t.db, "/", DB_SET_MODE, 0700, 0, 0, 0), 0);
	get_ok(&t, "/", &e);
	ck_assert_uint_eq(e.mode, 0700);
	ck_assert_int_eq(e.kind, DB_DIR);
	db_entry_clear(&e);
	ck_assert_int_eq(db_setattr(t.db, "/nope", DB_SET_MODE, 0700, 0, 0, 0), -ENOENT);
	t_done(&t);
}
END_TEST

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 10,000 children come back complete and sorted by name (bytewise). */
START_TEST(test_list_many)
{
	enum { N = 10000 };
	struct t t;
	struct names ns = { 0 };
	char **want = calloc(N, sizeof(*want));
	char p[64];
	uint8_t old[DB_SHA_BYTES];
	int has_old;

	t_init(&t);
	ck_assert_int_eq(db_mkdir(t.db, "/big", 0755, 0, 0), 0);
	for (int i = 0; i < N; i++) {
		/* inserted out of order; mixed case and punctuation */
		unsigned k = (unsigned)((i * 7919) % N);
		char name[32];

		snprintf(name, sizeof(name), "%c%u.%s", "aZb-_9"[k % 6], k, k % 3 ? "txt" : "D");
		want[i] = strdup(name);
		snprintf(p, sizeof(p), "/big/%s", name);
		if (k % 10 == 0)
			ck_assert_int_eq(db_mkdir(t.db, p, 0755, 0, 0), 0);
		else
			ck_assert_int_eq(publish_file(&t, p, k, k), 0);
	}
	/* grandchildren and removed entries are not listed */
	ck_assert_int_eq(db_mkdir(t.db, "/big/zz-dir", 0755, 0, 0), 0);
	ck_assert_int_eq(publish_file(&t, "/big/zz-dir/inner", 1, 1), 0);
	ck_assert_int_eq(publish_file(&t, "/big/zz-removed", 1, 1), 0);
	ck_assert_int_eq(db_unlink(t.db, "/big/zz-removed", &has_old, old), 0);
	ck_assert_int_eq(db_rmdir(t.db, "/big/zz-dir"), -ENOTEMPTY);
	ck_assert_int_eq(db_unlink(t.db, "/big/zz-dir/inner", &has_old, old), 0);
	ck_assert_int_eq(db_rmdir(t.db, "/big/zz-dir"), 0);

	ck_assert_int_eq(db_list(t.db, "/big", 0, collect_name, &ns), 0);
	ck_assert_uint_eq(ns.n, N);
	qsort(want, N, sizeof(*want), cmp_str);
	for (int i = 0; i < N; i++) {
		ck_assert_str_eq(ns.v[i], want[i]);
		if (i > 0)
			ck_assert_int_lt(strcmp(ns.v[i - 1], ns.v[i]), 0);
	}
	ck_assert_int_eq(ns.kinds[1], N / 10);
	ck_assert_int_eq(ns.kinds[0], N - N / 10);
	names_free(&ns);

	/* the callback can stop the listing, and it resumes at a cursor even
	   when what was listed is removed meanwhile (rm -r reads and deletes),
	   or names come and go: a name after the cursor is listed, one before
	   it is not (POSIX lets either be), none twice */
	ns.stop_after = 5;
	ck_assert_int_eq(db_list(t.db, "/big", 0, collect_name, &ns), 0);
	ck_assert_uint_eq(ns.n, 5);
	{
		int64_t resume = ns.last_cursor;
		char p5[64], last[64];

		snprintf(last, sizeof(last), "%s", ns.v[4]);
		for (size_t i = 0; i < 5; i++) {
			snprintf(p5, sizeof(p5), "/big/%s", ns.v[i]);
			if (db_unlink(t.db, p5, &has_old, old) != 0)
				ck_assert_int_eq(db_rmdir(t.db, p5), 0);
		}
		ck_assert_int_eq(publish_file(&t, "/big/!before", 1, 1), 0);
		ck_assert_int_eq(publish_file(&t, "/big/\xc3\xa9t\xc3\xa9", 1, 1), 0);
		snprintf(p5, sizeof(p5), "/big/%s", want[5]);
		if (db_unlink(t.db, p5, &has_old, old) != 0)
			ck_assert_int_eq(db_rmdir(t.db, p5), 0);
		names_free(&ns);
		ck_assert_int_eq(db_list(t.db, "/big", resume, collect_name, &ns), 0);
		ck_assert_uint_eq(ns.n, N - 5 - 1 + 1);
		ck_assert_int_lt(strcmp(last, ns.v[0]), 0);
		ck_assert_str_eq(ns.v[0], want[6]);
		/* bytewise: a name starting with byte 0xc3 comes after all ASCII */
		ck_assert_str_eq(ns.v[ns.n - 1], "\xc3\xa9t\xc3\xa9");
		/* a cursor of another folder's entry lists nothing */
		names_free(&ns);
		ck_assert_int_eq(db_list(t.db, "/", resume, collect_name, &ns), 0);
		ck_assert_uint_eq(ns.n, 0);
	}
	names_free(&ns);

	ck_assert_int_eq(db_list(t.db, "/nope", 0, collect_name, &ns), -ENOENT);
	ck_assert_int_eq(db_mkdir(t.db, "/big/empty.D", 0755, 0, 0), 0);
	ck_assert_int_eq(db_list(t.db, "/big/empty.D", 0, collect_name, &ns), 0);
	ck_assert_uint_eq(ns.n, 0);
	snprintf(p, sizeof(p), "/big/%s", want[N - 1]);
	ck_assert_int_eq(kind_of(&t, p), DB_FILE);
	ck_assert_int_eq(db_list(t.db, p, 0, collect_name, &ns), -ENOTDIR);
	for (int i = 0; i < N; i++)
		free(want[i]);
	free(want);
	t_done(&t);
}
END_TEST

/* Every change is a new version: larger hlc, larger seq, our origin. */
START_TEST(test_versions_grow)
{
	/* tomb: the change left a tombstone, read from the file after close */
	static const struct {
		const char *path;
		int tomb;
	} changed[] = {
		{ "/d", 0 }, { "/d/f", 0 }, { "/d/f", 0 }, { "/d/f", 0 }, { "/d/g", 0 },
		{ "/d/g", 1 }, { "/d/h", 0 }, { "/l", 0 }, { "/l", 1 }, { "/d", 1 },
	};
	struct t t;
	struct row rows[10], moved_from;
	uint8_t old[DB_SHA_BYTES];
	int has_old;

	t_init(&t);
	/* the wall clock jumps back between changes: versions still grow */
	ck_assert_int_eq(db_mkdir(t.db, "/d", 0755, 0, 0), 0);
	rows[0] = live_row(&t, "/d");
	t.wall.ms -= 60000;
	ck_assert_int_eq(publish_file(&t, "/d/f", 1, 1), 0);
	rows[1] = live_row(&t, "/d/f");
	t.wall.ms -= 60000;
	ck_assert_int_eq(publish_file(&t, "/d/f", 2, 2), 0);
	rows[2] = live_row(&t, "/d/f");
	ck_assert_int_eq(db_setattr(t.db, "/d/f", DB_SET_MODE, 0600, 0, 0, 0), 0);
	rows[3] = live_row(&t, "/d/f");
	t.wall.ms += 500000;
	ck_assert_int_eq(db_rename(t.db, "/d/f", "/d/g", 0, &has_old, old), 0);
	rows[4] = live_row(&t, "/d/g");
	ck_assert_int_eq(db_unlink(t.db, "/d/g", &has_old, old), 0);
	t.wall.ms = 1;
	ck_assert_int_eq(publish_file(&t, "/d/h", 3, 3), 0);
	rows[6] = live_row(&t, "/d/h");
	ck_assert_int_eq(db_symlink(t.db, "/l", "d/h", 0, 0), 0);
	rows[7] = live_row(&t, "/l");
	ck_assert_int_eq(db_unlink(t.db, "/l", &has_old, old), 0);
	ck_assert_int_eq(db_unlink(t.db, "/d/h", &has_old, old), 0);
	ck_assert_int_eq(db_rmdir(t.db, "/d"), 0);
	t_close(&t);
	rows[5] = raw_row(&t, "/d/g");
	rows[8] = raw_row(&t, "/l");
	rows[9] = raw_row(&t, "/d");
	moved_from = raw_row(&t, "/d/f");

	for (int i = 0; i < 10; i++) {
		ck_assert_msg(rows[i].found, "no row for change %d (%s)", i, changed[i].path);
		ck_assert_int_eq(rows[i].deleted, changed[i].tomb);
		ck_assert_mem_eq(rows[i].origin, t.self, DB_NODE_BYTES);
		if (i == 0)
			continue;
		ck_assert_msg(rows[i].hlc > rows[i - 1].hlc, "hlc of change %d (%s) not larger", i,
			      changed[i].path);
		ck_assert_msg(rows[i].seq > rows[i - 1].seq, "seq of change %d (%s) not larger", i,
			      changed[i].path);
	}
	/* the moved file's old name is a newer tombstone than its last version */
	ck_assert_int_eq(moved_from.deleted, 1);
	ck_assert_uint_gt(moved_from.hlc, rows[3].hlc);
	ck_assert_uint_gt(moved_from.seq, rows[3].seq);
	ck_assert_mem_eq(moved_from.origin, t.self, DB_NODE_BYTES);
	t_done(&t);
}
END_TEST

/* A failed change uses no sequence number. */
START_TEST(test_failed_change_keeps_seq)
{
	struct t t;
	struct row a, b;
	uint8_t old[DB_SHA_BYTES];
	int has_old;

	t_init(&t);
	ck_assert_int_eq(db_mkdir(t.db, "/a", 0755, 0, 0), 0);
	a = live_row(&t, "/");	/* the folder's new times: the last version */
	ck_assert_int_eq(db_mkdir(t.db, "/a", 0755, 0, 0), -EEXIST);
	ck_assert_int_eq(db_rmdir(t.db, "/nope"), -ENOENT);
	ck_assert_int_eq(db_rename(t.db, "/a", "/a/b", 0, &has_old, old), -EINVAL);
	ck_assert_int_eq(db_mkdir(t.db, "/b", 0755, 0, 0), 0);
	b = live_row(&t, "/b");
	ck_assert_uint_eq(b.seq, a.seq + 1);
	t_done(&t);
}
END_TEST

/* After a reopen the sequence continues and the hlc stays ahead, even if
 * the wall clock is now behind what was written. */
START_TEST(test_versions_persist)
{
	struct t t;
	struct row last, next;

	t_init(&t);
	for (int i = 0; i < 20; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/f%d", i);
		ck_assert_int_eq(publish_file(&t, p, (unsigned)i, 1), 0);
	}
	last = live_row(&t, "/f19");
	t_close(&t);
	t.wall.ms -= 3600 * 1000;	/* an hour behind */
	t_open(&t);
	ck_assert_int_eq(db_mkdir(t.db, "/after", 0755, 0, 0), 0);
	next = live_row(&t, "/after");
	ck_assert_uint_gt(next.seq, last.seq);
	ck_assert_uint_gt(next.hlc, last.hlc);
	/* again, after more changes and with the clock far in the past */
	ck_assert_int_eq(publish_file(&t, "/f0", 77, 1), 0);
	last = live_row(&t, "/f0");
	ck_assert_uint_gt(last.seq, next.seq);
	t_close(&t);
	t.wall.ms = 1000;
	t_open(&t);
	ck_assert_int_eq(db_setattr(t.db, "/f1", DB_SET_MODE, 0600, 0, 0, 0), 0);
	next = live_row(&t, "/f1");
	ck_assert_uint_gt(next.seq, last.seq);
	ck_assert_uint_gt(next.hlc, last.hlc);
	t_done(&t);
}
END_TEST

/* A process that dies without closing the db: the next one neither reuses
 * a sequence number nor goes back in hlc. */
START_TEST(test_versions_after_crash)
{
	struct t t;
	struct row last, next;
	pid_t pid;
	int status;

	t_init(&t);
	ck_assert_int_eq(db_mkdir(t.db, "/before", 0755, 0, 0), 0);
	t_close(&t);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct db *db = NULL;
		struct clock *c = clock_new(fake_wall_fn, &t.wall);
		uint8_t sha[DB_SHA_BYTES];

		if (c == NULL || db_open(t.file, t.self, c, &db) != 0)
			_exit(1);
		sha_of(1, sha);
		for (int i = 0; i < 3000; i++) {
			char p[32];
			struct db_publish pub = { .path = p, .create = 1, .mode = 0644, .size = 1,
						  .sha = sha };

			snprintf(p, sizeof(p), "/c%d", i);
			if (db_publish(db, &pub) != 0)
				_exit(2);
		}
		_exit(0);	/* no db_close: as if killed */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	t.wall.ms -= 3600 * 1000;
	t_open(&t);
	last = live_row(&t, "/c2999");
	ck_assert(last.found);
	ck_assert_uint_gt(last.seq, live_row(&t, "/before").seq);
	ck_assert_int_eq(db_mkdir(t.db, "/after", 0755, 0, 0), 0);
	next = live_row(&t, "/after");
	ck_assert_uint_gt(next.seq, last.seq);
	ck_assert_uint_gt(next.hlc, last.hlc);
	ck_assert_int_eq(db_check(t.db), 0);
	t_done(&t);
}
END_TEST

START_TEST(test_stats)
{
	struct t t;
	struct db_stats st;
	uint8_t old[DB_SHA_BYTES];
	int has_old;

	t_init(&t);
	ck_assert_int_eq(db_mkdir(t.db, "/d", 0755, 0, 0), 0);
	ck_assert_int_eq(db_mkdir(t.db, "/d/e", 0755, 0, 0), 0);
	ck_assert_int_eq(publish_file(&t, "/a", 1, 100), 0);
	ck_assert_int_eq(publish_file(&t, "/d/b", 1, 100), 0);	/* same content as /a */
	ck_assert_int_eq(publish_file(&t, "/d/c", 2, 30), 0);
	ck_assert_int_eq(publish_file(&t, "/d/x", 3, 5), 0);
	ck_assert_int_eq(db_symlink(t.db, "/s", "a", 0, 0), 0);
	ck_assert_int_eq(db_stats(t.db, &st), 0);
	ck_assert_uint_eq(st.entries, 7);
	ck_assert_uint_eq(st.files, 4);
	ck_assert_uint_eq(st.dirs, 2);
	ck_assert_uint_eq(st.links, 1);
	ck_assert_uint_eq(st.bytes, 235);
	ck_assert_uint_eq(st.blobs, 3);
	ck_assert_uint_eq(st.blob_bytes, 135);
	ck_assert_uint_eq(st.tombstones, 0);

	ck_assert_int_eq(db_unlink(t.db, "/d/x", &has_old, old), 0);
	ck_assert_int_eq(db_unlink(t.db, "/s", &has_old, old), 0);
	ck_assert_int_eq(db_rmdir(t.db, "/d/e"), 0);
	ck_assert_int_eq(db_stats(t.db, &st), 0);
	ck_assert_uint_eq(st.entries, 4);
	ck_assert_uint_eq(st.files, 3);
	ck_assert_uint_eq(st.dirs, 1);
	ck_assert_uint_eq(st.links, 0);
	ck_assert_uint_eq(st.bytes, 230);
	ck_assert_uint_eq(st.blobs, 2);
	ck_assert_uint_eq(st.blob_bytes, 130);
	ck_assert_uint_eq(st.tombstones, 3);
	/* a name used again is live, not a tombstone */
	ck_assert_int_eq(publish_file(&t, "/d/x", 9, 1), 0);
	ck_assert_int_eq(db_stats(t.db, &st), 0);
	ck_assert_uint_eq(st.tombstones, 2);
	ck_assert_uint_eq(st.files, 4);
	/* Asked again with nothing changed, then after one row changed (the
	   answer is kept between changes). */
	ck_assert_int_eq(db_stats(t.db, &st), 0);
	ck_assert_uint_eq(st.bytes, 231);
	ck_assert_int_eq(publish_file(&t, "/a", 4, 60), 0);
	ck_assert_int_eq(db_stats(t.db, &st), 0);
	ck_assert_uint_eq(st.bytes, 191);
	ck_assert_uint_eq(st.files, 4);
	t_done(&t);
}
END_TEST

START_TEST(test_sha_in_use)
{
	struct t t;
	uint8_t s1[DB_SHA_BYTES], s2[DB_SHA_BYTES], old[DB_SHA_BYTES];
	int has_old;

	t_init(&t);
	sha_of(1, s1);
	sha_of(2, s2);
	ck_assert_int_eq(db_sha_in_use(t.db, s1), 0);
	ck_assert_int_eq(publish_file(&t, "/a", 1, 1), 0);
	ck_assert_int_eq(publish_file(&t, "/b", 1, 1), 0);
	ck_assert_int_eq(db_sha_in_use(t.db, s1), 1);
	ck_assert_int_eq(db_sha_in_use(t.db, s2), 0);
	ck_assert_int_eq(db_unlink(t.db, "/a", &has_old, old), 0);
	ck_assert_int_eq(db_sha_in_use(t.db, s1), 1);
	ck_assert_int_eq(publish_file(&t, "/b", 2, 1), 0);
	ck_assert_int_eq(db_sha_in_use(t.db, s1), 0);
	ck_assert_int_eq(db_sha_in_use(t.db, s2), 1);
	t_done(&t);
}
END_TEST

struct holder_list {
	uint8_t nodes[8][DB_NODE_BYTES];
	int n;
	int stop;
};

static int holder_cb(const uint8_t node[DB_NODE_BYTES], void *ctx)
{
	struct holder_list *h = ctx;

	ck_assert_int_lt(h->n, 8);
	memcpy(h->nodes[h->n++], node, DB_NODE_BYTES);
	return h->stop;
}

static int holds(const struct holder_list *h, const uint8_t node[DB_NODE_BYTES])
{
	for (int i = 0; i < h->n; i++)
		if (memcmp(h->nodes[i], node, DB_NODE_BYTES) == 0)
			return 1;
	return 0;
}

START_TEST(test_holders)
{
	struct t t;
	struct holder_list h;
	uint8_t s1[DB_SHA_BYTES], s2[DB_SHA_BYTES], n1[DB_NODE_BYTES], n2[DB_NODE_BYTES];
	uint8_t n3[DB_NODE_BYTES];

	t_init(&t);
	sha_of(1, s1);
	sha_of(2, s2);
	memset(n1, 1, sizeof(n1));
	memset(n2, 2, sizeof(n2));
	memset(n3, 3, sizeof(n3));

	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(db_holders(t.db, s1, holder_cb, &h), 0);
	ck_assert_int_eq(h.n, 0);

	ck_assert_int_eq(db_holder_add(t.db, s1, n1), 0);
	ck_assert_int_eq(db_holder_add(t.db, s1, n2), 0);
	ck_assert_int_eq(db_holder_add(t.db, s1, n1), 0);	/* again: no duplicate */
	ck_assert_int_eq(db_holder_add(t.db, s2, n3), 0);
	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(db_holders(t.db, s1, holder_cb, &h), 0);
	ck_assert_int_eq(h.n, 2);
	ck_assert(holds(&h, n1));
	ck_assert(holds(&h, n2));
	ck_assert(!holds(&h, n3));

	memset(&h, 0, sizeof(h));
	h.stop = 1;
	ck_assert_int_eq(db_holders(t.db, s1, holder_cb, &h), 0);
	ck_assert_int_eq(h.n, 1);

	ck_assert_int_eq(db_holder_remove(t.db, s1, n1), 0);
	ck_assert_int_eq(db_holder_remove(t.db, s1, n3), 0);	/* not a holder: no-op */
	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(db_holders(t.db, s1, holder_cb, &h), 0);
	ck_assert_int_eq(h.n, 1);
	ck_assert(holds(&h, n2));
	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(db_holders(t.db, s2, holder_cb, &h), 0);
	ck_assert_int_eq(h.n, 1);
	ck_assert(holds(&h, n3));

	/* holders survive a reopen */
	t_close(&t);
	t_open(&t);
	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(db_holders(t.db, s1, holder_cb, &h), 0);
	ck_assert_int_eq(h.n, 1);
	ck_assert(holds(&h, n2));
	ck_assert_int_eq(db_holder_remove(t.db, s1, n2), 0);
	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(db_holders(t.db, s1, holder_cb, &h), 0);
	ck_assert_int_eq(h.n, 0);
	t_done(&t);
}
END_TEST

START_TEST(test_symlink)
{
	struct t t;
	struct db_entry e;
	char *long_target = malloc(PATH_TREE_MAX + 1);

	t_init(&t);
	ck_assert_int_eq(db_symlink(t.db, "/l", "../some/where", 5, 6), 0);
	get_ok(&t, "/l", &e);
	ck_assert_int_eq(e.kind, DB_LINK);
	ck_assert_str_eq(e.target, "../some/where");
	ck_assert_uint_eq(e.size, strlen("../some/where"));
	ck_assert_uint_eq(e.mode, 0777);
	ck_assert_uint_eq(e.uid, 5);
	ck_assert_uint_eq(e.gid, 6);
	ck_assert_int_eq(e.has_sha, 0);
	db_entry_clear(&e);
	ck_assert_ptr_null(e.target);
	ck_assert_int_eq(db_symlink(t.db, "/l", "x", 0, 0), -EEXIST);
	ck_assert_int_eq(db_symlink(t.db, "/no/l", "x", 0, 0), -ENOENT);
	memset(long_target, 'x', PATH_TREE_MAX);
	long_target[PATH_TREE_MAX] = '\0';
	ck_assert_int_eq(db_symlink(t.db, "/long", long_target, 0, 0), -ENAMETOOLONG);
	long_target[PATH_TREE_MAX - 1] = '\0';
	ck_assert_int_eq(db_symlink(t.db, "/long", long_target, 0, 0), 0);
	get_ok(&t, "/long", &e);
	ck_assert_uint_eq(strlen(e.target), PATH_TREE_MAX - 1);
	db_entry_clear(&e);
	free(long_target);
	t_done(&t);
}
END_TEST

START_TEST(test_check_and_sync)
{
	struct t t;

	t_init(&t);
	ck_assert_int_eq(db_mkdir(t.db, "/a", 0755, 0, 0), 0);
	ck_assert_int_eq(db_sync(t.db), 0);
	ck_assert_int_eq(db_check(t.db), 0);
	t_done(&t);
}
END_TEST

START_TEST(test_errno_map)
{
	ck_assert_int_eq(db_errno(SQLITE_OK), 0);
	ck_assert_int_eq(db_errno(SQLITE_DONE), 0);
	ck_assert_int_eq(db_errno(SQLITE_ROW), 0);
	ck_assert_int_eq(db_errno(SQLITE_FULL), -ENOSPC);
	ck_assert_int_eq(db_errno(SQLITE_NOMEM), -ENOMEM);
	ck_assert_int_eq(db_errno(SQLITE_BUSY), -EBUSY);
	ck_assert_int_eq(db_errno(SQLITE_BUSY_SNAPSHOT), -EBUSY);
	ck_assert_int_eq(db_errno(SQLITE_LOCKED), -EBUSY);
	ck_assert_int_eq(db_errno(SQLITE_READONLY), -EROFS);
	ck_assert_int_eq(db_errno(SQLITE_PERM), -EACCES);
	ck_assert_int_eq(db_errno(SQLITE_CONSTRAINT_UNIQUE), -EEXIST);
	ck_assert_int_eq(db_errno(SQLITE_CORRUPT), -EIO);
	ck_assert_int_eq(db_errno(SQLITE_IOERR_FSYNC), -EIO);
}
END_TEST

/* ---- replication: the conflict rules of db_apply ---- */

/* Versions from two other nodes, X and Y, at known HLC times. */
#define KEY_X 0x11
#define KEY_Y 0x22
#define HLC_AT(k) (((uint64_t)1700000000000ull << CLOCK_LOGICAL_BITS) + (k))
/* The conflict-copy suffix of a version of X made at HLC_AT(small k):
   1700000000 s after the epoch is 2023-11-14 22:13:20 UTC. */
#define X_CONFLICT ".conflict-11111111-20231114T221320Z"

/* A live version of path from the node whose key is all `key`; content
   0 for an empty file. */
static void rec_make(struct db_rec *r, const char *path, int kind, uint8_t key, uint64_t hlc,
		     uint64_t seq, unsigned content)
{
	memset(r, 0, sizeof(*r));
	r->path = strdup(path);
	ck_assert_ptr_nonnull(r->path);
	r->e.kind = kind;
	r->e.mode = kind == DB_DIR ? 0755 : kind == DB_LINK ? 0777 : 0644;
	r->e.uid = 1000;
	r->e.gid = 100;
	r->e.mtime_ns = r->e.ctime_ns = 1700000000000000000ll + (int64_t)(hlc & 0xffff);
	r->e.hlc = hlc;
	memset(r->e.origin, key, DB_NODE_BYTES);
	r->e.seq = seq;
	if (kind == DB_FILE && content != 0) {
		r->e.size = content * 10u;
		r->e.has_sha = 1;
		sha_of(content, r->e.sha256);
	} else if (kind == DB_LINK) {
		char target[32];

		snprintf(target, sizeof(target), "target-%u", content);
		r->e.target = strdup(target);
		ck_assert_ptr_nonnull(r->e.target);
		r->e.size = strlen(target);
	}
	ck_assert_int_eq(db_rec_vv_set(r, r->e.origin, hlc), 0);
}

/* A deletion of path (as a tombstone travels: no content). */
static void rec_tomb(struct db_rec *r, const char *path, int kind, uint8_t key, uint64_t hlc,
		     uint64_t seq)
{
	rec_make(r, path, kind == DB_LINK ? DB_FILE : kind, key, hlc, seq, 0);
	r->e.kind = kind;
	r->e.deleted = 1;
}

/* The version now also supersedes node key's change at hlc. */
static void rec_saw(struct db_rec *r, uint8_t key, uint64_t hlc)
{
	uint8_t node[DB_NODE_BYTES];

	memset(node, key, sizeof(node));
	ck_assert_int_eq(db_rec_vv_set(r, node, hlc), 0);
}

static void recs_clear(struct db_rec *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		db_rec_clear(&r[i]);
}

static int apply(struct t *t, const struct db_rec *r, size_t n)
{
	int k = db_apply(t->db, r, n, NULL, 0, NULL, NULL);

	ck_assert_msg(k >= 0, "db_apply = %d", k);
	return k;
}

/* The live file at path holds content (the version of node key, unless
   key is 0: a conflict copy may be a version of any node). */
static void expect_file(struct t *t, const char *path, unsigned content, uint8_t key)
{
	struct db_entry e;
	uint8_t sha[DB_SHA_BYTES], origin[DB_NODE_BYTES];

	get_ok(t, path, &e);
	sha_of(content, sha);
	memset(origin, key, sizeof(origin));
	ck_assert_int_eq(e.kind, DB_FILE);
	ck_assert_int_eq(e.has_sha, 1);
	ck_assert_msg(memcmp(e.sha256, sha, DB_SHA_BYTES) == 0, "%s: not content %u", path,
		      content);
	ck_assert_uint_eq(e.size, content * 10u);
	if (key != 0)
		ck_assert_msg(memcmp(e.origin, origin, DB_NODE_BYTES) == 0,
			      "%s: origin %02x, want %02x", path, e.origin[0], key);
	db_entry_clear(&e);
}

#define ANY_NODE 0

/* The whole live tree, one line an entry, sorted: what a listing shows,
   and with versions set, each entry's version too.  (Entries made here,
   as conflict copies are, get this node's clock, which differs with the
   order things came in.) */
struct dump {
	char **v;
	size_t n, cap;
	int versions;
};

struct dump_dir {
	const char *dir;
	struct dump *d;
	struct dump dirs;
};

static void dump_add(struct dump *d, char *line)
{
	ck_assert_ptr_nonnull(line);
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 32;
		d->v = realloc(d->v, d->cap * sizeof(*d->v));
		ck_assert_ptr_nonnull(d->v);
	}
	d->v[d->n++] = line;
}

static int dump_one(const char *name, const struct db_entry *e, int64_t cursor, void *ctx)
{
	struct dump_dir *dd = ctx;
	char path[PATH_TREE_MAX], *line = NULL;

	(void)cursor;
	snprintf(path, sizeof(path), "%s%s%s", dd->dir, strcmp(dd->dir, "/") ? "/" : "", name);
	ck_assert_int_ge(asprintf(&line, "%s %c %04o %u:%u size %llu sha %02x%02x target %s",
				  path, e->kind, e->mode, e->uid, e->gid,
				  (unsigned long long)e->size, e->has_sha ? e->sha256[0] : 0,
				  e->has_sha ? e->sha256[1] : 0, e->target ? e->target : "-"), 0);
	if (dd->d->versions) {
		char *v = NULL;

		ck_assert_int_ge(asprintf(&v, "%s origin %02x hlc %llx seq %llu", line,
					  e->origin[0], (unsigned long long)e->hlc,
					  (unsigned long long)e->seq), 0);
		free(line);
		line = v;
	}
	dump_add(dd->d, line);
	if (e->kind == DB_DIR)
		dump_add(&dd->dirs, strdup(path));
	return 0;
}

static void dump_free(struct dump *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i]);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static void dump_dir(struct t *t, const char *dir, struct dump *d)
{
	struct dump_dir dd = { .dir = dir, .d = d };

	ck_assert_int_eq(db_list(t->db, dir, 0, dump_one, &dd), 0);
	for (size_t i = 0; i < dd.dirs.n; i++)
		dump_dir(t, dd.dirs.v[i], d);
	dump_free(&dd.dirs);
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void dump_tree(struct t *t, struct dump *d, int versions)
{
	memset(d, 0, sizeof(*d));
	d->versions = versions;
	dump_dir(t, "/", d);
	qsort(d->v, d->n, sizeof(*d->v), cmp_line);
}

static void assert_same_dump(const struct dump *a, const struct dump *b, const char *what)
{
	for (size_t i = 0; i < a->n && i < b->n; i++)
		ck_assert_msg(strcmp(a->v[i], b->v[i]) == 0, "%s: entry %zu differs:\n  %s\n  %s",
			      what, i, a->v[i], b->v[i]);
	ck_assert_msg(a->n == b->n, "%s: %zu entries, %zu entries", what, a->n, b->n);
}

/* ---- folder times ---- */

static struct db_entry entry_of(struct t *t, const char *path)
{
	struct db_entry e;

	get_ok(t, path, &e);
	free(e.target);
	e.target = NULL;
	return e;
}

/* A change of a folder's names gives the folder new times (the child's
   ctime), in a new version of it: the times travel with the folder. */
START_TEST(test_folder_times_local)
{
	struct t t;
	struct db_entry d0, d, f, g;
	uint8_t old[DB_SHA_BYTES];
	int has_old;

	t_init(&t);
	ck_assert_int_eq(db_mkdir(t.db, "/d", 0755, 0, 0), 0);
	ck_assert_int_eq(db_mkdir(t.db, "/e", 0755, 0, 0), 0);
	d0 = entry_of(&t, "/d");
	ck_assert_int_eq(publish_file(&t, "/d/f", 1, 10), 0);
	f = entry_of(&t, "/d/f");
	d = entry_of(&t, "/d");
	ck_assert_int_eq(d.mtime_ns, f.ctime_ns);
	ck_assert_int_eq(d.ctime_ns, f.ctime_ns);
	ck_assert_uint_gt(d.seq, f.seq);
	ck_assert_uint_gt(d.hlc, d0.hlc);
	ck_assert_uint_eq(d.mode, 0755);
	/* new content of a file is no change of its folder */
	ck_assert_int_eq(publish_file(&t, "/d/f", 2, 20), 0);
	ck_assert_uint_eq(entry_of(&t, "/d").seq, d.seq);
	/* a set time stays until the next change of the names */
	ck_assert_int_eq(db_setattr(t.db, "/d", DB_SET_MTIME, 0, 0, 0, 123456789), 0);
	ck_assert_int_eq(entry_of(&t, "/d").mtime_ns, 123456789);
	ck_assert_int_eq(db_setattr(t.db, "/d/f", DB_SET_MODE, 0600, 0, 0, 0), 0);
	ck_assert_int_eq(entry_of(&t, "/d").mtime_ns, 123456789);
	/* a move within one folder: one version of it */
	d0 = entry_of(&t, "/d");
	ck_assert_int_eq(db_rename(t.db, "/d/f", "/d/g", 0, &has_old, old), 0);
	g = entry_of(&t, "/d/g");
	d = entry_of(&t, "/d");
	ck_assert_int_eq(d.mtime_ns, g.ctime_ns);
	ck_assert_uint_eq(d.seq, g.seq + 2);	/* g, the tombstone of f, then /d */
	ck_assert_uint_gt(d.seq, d0.seq);
	/* across folders: both */
	ck_assert_int_eq(db_rename(t.db, "/d/g", "/e/g", 0, &has_old, old), 0);
	g = entry_of(&t, "/e/g");
	ck_assert_int_eq(entry_of(&t, "/d").mtime_ns, g.ctime_ns);
	ck_assert_int_eq(entry_of(&t, "/e").mtime_ns, g.ctime_ns);
	ck_assert_int_eq(db_unlink(t.db, "/e/g", &has_old, old), 0);
	ck_assert_int_gt(entry_of(&t, "/e").mtime_ns, g.ctime_ns);
	ck_assert_int_eq(db_rmdir(t.db, "/e"), 0);
	ck_assert_int_eq(entry_of(&t, "/").mtime_ns, entry_of(&t, "/").ctime_ns);
	t_done(&t);
}
END_TEST

struct recs {
	struct db_rec *v;
	size_t n, cap;
};

static int recs_add(const struct db_rec *r, void *ctx)
{
	struct recs *rs = ctx;
	struct db_rec *c;

	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? 2 * rs->cap : 64;
		rs->v = realloc(rs->v, rs->cap * sizeof(*rs->v));
		ck_assert_ptr_nonnull(rs->v);
	}
	c = &rs->v[rs->n++];
	memset(c, 0, sizeof(*c));
	c->e = r->e;
	c->e.target = r->e.target ? strdup(r->e.target) : NULL;
	if (r->path != NULL)
		ck_assert_ptr_nonnull(c->path = strdup(r->path));
	if (r->vv_len > 0) {
		ck_assert_ptr_nonnull(c->vv = malloc(r->vv_len));
		memcpy(c->vv, r->vv, r->vv_len);
		c->vv_len = r->vv_len;
	}
	return 0;
}

struct origins {
	uint8_t v[8][DB_NODE_BYTES];
	size_t n;
};

static int origin_add(const uint8_t origin[DB_NODE_BYTES], uint64_t seq, void *ctx)
{
	struct origins *o = ctx;

	(void)seq;
	ck_assert_uint_lt(o->n, 8);
	memcpy(o->v[o->n++], origin, DB_NODE_BYTES);
	return 0;
}

/* to takes in every version from holds (as a sync answer brings them). */
static void pull_all(struct t *to, struct t *from)
{
	struct origins o = { .n = 0 };
	struct recs rs = { 0 };

	ck_assert_int_eq(db_seen(from->db, origin_add, &o), 0);
	for (size_t i = 0; i < o.n; i++)
		ck_assert_int_eq(db_changes(from->db, o.v[i], 0, UINT64_MAX, 1000000, recs_add, &rs), 0);
	apply(to, rs.v, rs.n);
	recs_clear(rs.v, rs.n);
	free(rs.v);
}

/* The times of dir on a and b are the same (and its version). */
static void same_times(struct t *a, struct t *b, const char *dir)
{
	struct db_entry ea = entry_of(a, dir), eb = entry_of(b, dir);

	ck_assert_msg(ea.mtime_ns == eb.mtime_ns && ea.ctime_ns == eb.ctime_ns,
		      "%s: mtime %lld ctime %lld vs mtime %lld ctime %lld", dir,
		      (long long)ea.mtime_ns, (long long)ea.ctime_ns, (long long)eb.mtime_ns,
		      (long long)eb.ctime_ns);
	ck_assert_uint_eq(ea.hlc, eb.hlc);
	ck_assert_mem_eq(ea.origin, eb.origin, DB_NODE_BYTES);
}

/* A folder reads the same on every node: its times are the ones the node
   that changed its names (or set them) gave it, never the time a change
   arrived; of concurrent changes, the later version's on every node. */
START_TEST(test_folder_times_replicate)
{
	struct t t1, t2;
	struct db_entry d;
	uint8_t old[DB_SHA_BYTES];
	int has_old;

	t_init(&t1);
	t_init(&t2);
	t_close(&t2);
	memset(t2.self, 0xa5, sizeof(t2.self));
	t_open(&t2);
	ck_assert_int_eq(db_mkdir(t1.db, "/d", 0755, 0, 0), 0);
	ck_assert_int_eq(db_mkdir(t1.db, "/d/sub", 0755, 0, 0), 0);
	ck_assert_int_eq(publish_file(&t1, "/d/f", 1, 10), 0);
	ck_assert_int_eq(publish_file(&t1, "/d/gone", 2, 10), 0);
	ck_assert_int_eq(db_unlink(t1.db, "/d/gone", &has_old, old), 0);
	ck_assert_int_eq(db_setattr(t1.db, "/d/sub", DB_SET_MTIME, 0, 0, 0, 42), 0);
	d = entry_of(&t1, "/d");
	usleep(2000);	/* a node that stamped its own time would differ */
	pull_all(&t2, &t1);
	same_times(&t1, &t2, "/d");
	same_times(&t1, &t2, "/d/sub");
	ck_assert_int_eq(entry_of(&t2, "/d/sub").mtime_ns, 42);
	ck_assert_int_eq(entry_of(&t2, "/d").mtime_ns, d.mtime_ns);
	/* a change of an entry's attributes elsewhere leaves its folder be */
	ck_assert_int_eq(db_setattr(t2.db, "/d/f", DB_SET_MODE, 0600, 0, 0, 0), 0);
	pull_all(&t1, &t2);
	ck_assert_uint_eq(entry_of(&t1, "/d/f").mode, 0600);
	ck_assert_int_eq(entry_of(&t1, "/d").mtime_ns, d.mtime_ns);
	same_times(&t1, &t2, "/d");
	/* concurrent: each adds a name; both end with the later version */
	ck_assert_int_eq(publish_file(&t1, "/d/x1", 3, 10), 0);
	ck_assert_int_eq(db_rename(t2.db, "/d/f", "/d/sub/f", 0, &has_old, old), 0);
	ck_assert_int_eq(publish_file(&t2, "/d/x2", 4, 10), 0);
	pull_all(&t2, &t1);
	pull_all(&t1, &t2);
	same_times(&t1, &t2, "/d");
	same_times(&t1, &t2, "/d/sub");
	same_times(&t1, &t2, "/");
	ck_assert_int_eq(kind_of(&t1, "/d/x2"), DB_FILE);
	ck_assert_int_eq(kind_of(&t2, "/d/x1"), DB_FILE);
	ck_assert_int_eq(kind_of(&t1, "/d/sub/f"), DB_FILE);
	t_done(&t1);
	t_done(&t2);
}
END_TEST

/* Two writes of one path made concurrently on X and Y: the larger HLC
   wins the path, the other stays beside it with its own content. */
START_TEST(test_apply_concurrent_writes)
{
	struct t t1, t2;
	struct db_rec r[2];

	rec_make(&r[0], "/f", DB_FILE, KEY_X, HLC_AT(1), 1, 1);
	rec_make(&r[1], "/f", DB_FILE, KEY_Y, HLC_AT(2), 1, 2);
	t_init(&t1);
	ck_assert_int_eq(apply(&t1, &r[0], 1), 1);
	expect_file(&t1, "/f", 1, KEY_X);
	ck_assert_int_eq(apply(&t1, &r[1], 1), 2);	/* /f and its conflict copy */
	expect_file(&t1, "/f", 2, KEY_Y);
	expect_file(&t1, "/f" X_CONFLICT, 1, ANY_NODE);
	ck_assert_uint_eq(count_children(&t1, "/"), 2);
	/* Both in one batch, the loser last: the same outcome. */
	t_init(&t2);
	{
		struct db_rec rev[2] = { r[1], r[0] };

		ck_assert_int_eq(apply(&t2, rev, 2), 2);
	}
	expect_file(&t2, "/f", 2, KEY_Y);
	expect_file(&t2, "/f" X_CONFLICT, 1, ANY_NODE);
	ck_assert_uint_eq(count_children(&t2, "/"), 2);
	t_done(&t1);
	t_done(&t2);
	recs_clear(r, 2);
}
END_TEST

/* Same HLC on both: the larger origin wins; same content: no copy. */
START_TEST(test_apply_concurrent_ties)
{
	struct t t;
	struct db_rec r[4];

	rec_make(&r[0], "/f", DB_FILE, KEY_Y, HLC_AT(5), 1, 2);
	rec_make(&r[1], "/f", DB_FILE, KEY_X, HLC_AT(5), 1, 1);
	rec_make(&r[2], "/g", DB_FILE, KEY_X, HLC_AT(6), 2, 3);
	rec_make(&r[3], "/g", DB_FILE, KEY_Y, HLC_AT(7), 2, 3);
	t_init(&t);
	apply(&t, r, 4);
	expect_file(&t, "/f", 2, KEY_Y);
	expect_file(&t, "/f" X_CONFLICT, 1, ANY_NODE);
	expect_file(&t, "/g", 3, KEY_Y);
	ck_assert_uint_eq(count_children(&t, "/"), 3);
	t_done(&t);
	recs_clear(r, 4);
}
END_TEST

/* A deletion made concurrently with a write, and later: it takes the
   path, and the write survives beside it as a conflict copy, in either
   order; nothing else appears. */
START_TEST(test_apply_delete_vs_write)
{
	struct t t1, t2;
	struct db_rec r[2];

	rec_make(&r[0], "/f", DB_FILE, KEY_X, HLC_AT(1), 1, 1);
	/* later, but it never saw X's */
	rec_tomb(&r[1], "/f", DB_FILE, KEY_Y, HLC_AT(5), 1);
	t_init(&t1);
	apply(&t1, &r[0], 1);
	apply(&t1, &r[1], 1);
	expect_absent(&t1, "/f");
	expect_file(&t1, "/f" X_CONFLICT, 1, ANY_NODE);
	ck_assert_uint_eq(count_children(&t1, "/"), 1);
	t_init(&t2);
	apply(&t2, &r[1], 1);
	expect_absent(&t2, "/f");
	apply(&t2, &r[0], 1);
	expect_absent(&t2, "/f");
	expect_file(&t2, "/f" X_CONFLICT, 1, ANY_NODE);
	ck_assert_uint_eq(count_children(&t2, "/"), 1);
	t_done(&t1);
	t_done(&t2);
	recs_clear(r, 2);
}
END_TEST

/* A deletion that saw the write (its vector covers it) removes it, in
   either order, and leaves no copy behind. */
START_TEST(test_apply_covering_delete)
{
	struct t t1, t2;
	struct db_rec r[2];

	rec_make(&r[0], "/f", DB_FILE, KEY_X, HLC_AT(1), 1, 1);
	rec_tomb(&r[1], "/f", DB_FILE, KEY_Y, HLC_AT(5), 1);
	rec_saw(&r[1], KEY_X, HLC_AT(1));
	t_init(&t1);
	apply(&t1, &r[0], 1);
	ck_assert_int_eq(apply(&t1, &r[1], 1), 1);
	expect_absent(&t1, "/f");
	ck_assert_uint_eq(count_children(&t1, "/"), 0);
	t_init(&t2);
	apply(&t2, &r[1], 1);
	ck_assert_int_eq(apply(&t2, &r[0], 1), 0);	/* old news */
	expect_absent(&t2, "/f");
	ck_assert_uint_eq(count_children(&t2, "/"), 0);
	/* A write that saw the deletion brings the path back. */
	{
		struct db_rec w;

		rec_make(&w, "/f", DB_FILE, KEY_X, HLC_AT(9), 2, 4);
		rec_saw(&w, KEY_Y, HLC_AT(5));
		ck_assert_int_eq(apply(&t2, &w, 1), 1);
		expect_file(&t2, "/f", 4, KEY_X);
		db_rec_clear(&w);
	}
	t_done(&t1);
	t_done(&t2);
	recs_clear(r, 2);
}
END_TEST

/* A folder deleted on Y while X put a file in it: the folder stays,
   made again as a version of this node that has seen the deletion. */
START_TEST(test_apply_dir_tombstone_live_child)
{
	struct t t;
	struct db_rec r[3];
	struct db_entry e;

	rec_make(&r[0], "/d", DB_DIR, KEY_X, HLC_AT(1), 1, 0);
	rec_make(&r[1], "/d/f", DB_FILE, KEY_X, HLC_AT(2), 2, 1);
	rec_tomb(&r[2], "/d", DB_DIR, KEY_Y, HLC_AT(5), 1);
	rec_saw(&r[2], KEY_X, HLC_AT(1));	/* it saw the folder, not the file */
	t_init(&t);
	ck_assert_int_eq(apply(&t, r, 2), 2);
	ck_assert_int_gt(apply(&t, &r[2], 1), 0);
	get_ok(&t, "/d", &e);
	ck_assert_int_eq(e.kind, DB_DIR);
	ck_assert_mem_eq(e.origin, t.self, DB_NODE_BYTES);	/* a new local version */
	ck_assert_uint_gt(e.hlc, HLC_AT(5));
	db_entry_clear(&e);
	expect_file(&t, "/d/f", 1, KEY_X);
	ck_assert_uint_eq(count_children(&t, "/"), 1);
	/* The same deletion again: already superseded, nothing changes. */
	ck_assert_int_eq(apply(&t, &r[2], 1), 0);
	ck_assert_int_eq(kind_of(&t, "/d"), DB_DIR);

	/* The same with the folder and its file made here. */
	ck_assert_int_eq(db_mkdir(t.db, "/m", 0700, 5, 6), 0);
	get_ok(&t, "/m", &e);
	ck_assert_int_eq(publish_file(&t, "/m/f", 7, 70), 0);
	{
		struct db_rec tomb;

		rec_tomb(&tomb, "/m", DB_DIR, KEY_Y, e.hlc + (1u << CLOCK_LOGICAL_BITS), 2);
		rec_saw(&tomb, t.self[0], e.hlc);
		ck_assert_int_gt(apply(&t, &tomb, 1), 0);
		db_rec_clear(&tomb);
	}
	db_entry_clear(&e);
	get_ok(&t, "/m", &e);
	ck_assert_int_eq(e.kind, DB_DIR);
	ck_assert_uint_eq(e.mode, 0700);	/* its attributes kept */
	ck_assert_uint_eq(e.uid, 5);
	db_entry_clear(&e);
	ck_assert_int_eq(kind_of(&t, "/m/f"), DB_FILE);
	t_done(&t);
	recs_clear(r, 3);
}
END_TEST

/* A live entry whose folders are missing or deleted brings them back. */
START_TEST(test_apply_parent_missing)
{
	struct t t;
	struct db_rec r[4];

	rec_make(&r[0], "/a/b/f", DB_FILE, KEY_X, HLC_AT(3), 3, 1);
	rec_tomb(&r[1], "/d", DB_DIR, KEY_Y, HLC_AT(1), 1);
	rec_make(&r[2], "/d/l", DB_LINK, KEY_X, HLC_AT(4), 4, 1);
	rec_make(&r[3], "/p", DB_FILE, KEY_X, HLC_AT(5), 5, 2);
	t_init(&t);
	ck_assert_int_eq(apply(&t, &r[0], 1), 3);	/* /a, /a/b and the file */
	ck_assert_int_eq(kind_of(&t, "/a"), DB_DIR);
	ck_assert_int_eq(kind_of(&t, "/a/b"), DB_DIR);
	expect_file(&t, "/a/b/f", 1, KEY_X);
	/* a deleted folder */
	apply(&t, &r[1], 1);
	expect_absent(&t, "/d");
	ck_assert_int_eq(apply(&t, &r[2], 1), 2);
	ck_assert_int_eq(kind_of(&t, "/d"), DB_DIR);
	ck_assert_int_eq(kind_of(&t, "/d/l"), DB_LINK);
	/* a file where the folder should be: the folder wins the name and
	   the file moves aside */
	apply(&t, &r[3], 1);
	db_rec_clear(&r[0]);
	rec_make(&r[0], "/p/q", DB_FILE, KEY_Y, HLC_AT(6), 2, 3);
	ck_assert_int_gt(apply(&t, &r[0], 1), 0);
	ck_assert_int_eq(kind_of(&t, "/p"), DB_DIR);
	expect_file(&t, "/p/q", 3, KEY_Y);
	expect_file(&t, "/p" X_CONFLICT, 2, ANY_NODE);
	t_done(&t);
	recs_clear(r, 4);
}
END_TEST

/*
 * A history of X and Y in the shapes replication meets: folders and
 * their files, an overwrite that saw the first version, concurrent
 * writes, a deletion that saw its file, one that did not, a folder
 * deleted while a file went into it, and a symlink.
 */
#define HISTORY 13
static void history(struct db_rec r[HISTORY])
{
	size_t k = 0;

	rec_make(&r[k], "/d", DB_DIR, KEY_X, HLC_AT(1), 1, 0);
	r[k++].e.mode = 0700;
	rec_make(&r[k++], "/d/a", DB_FILE, KEY_X, HLC_AT(2), 2, 1);
	rec_make(&r[k++], "/d/b", DB_FILE, KEY_X, HLC_AT(3), 3, 2);
	rec_make(&r[k++], "/s", DB_FILE, KEY_X, HLC_AT(4), 4, 3);
	rec_make(&r[k++], "/g", DB_FILE, KEY_X, HLC_AT(5), 5, 4);
	rec_make(&r[k++], "/f2", DB_DIR, KEY_X, HLC_AT(6), 6, 0);
	rec_make(&r[k++], "/f2/c", DB_FILE, KEY_X, HLC_AT(7), 7, 5);
	/* Y, having seen X's first three */
	rec_make(&r[k], "/d/a", DB_FILE, KEY_Y, HLC_AT(10), 1, 6);
	rec_saw(&r[k++], KEY_X, HLC_AT(3));
	rec_make(&r[k++], "/s", DB_FILE, KEY_Y, HLC_AT(11), 2, 7);	/* concurrent */
	rec_tomb(&r[k], "/d/b", DB_FILE, KEY_Y, HLC_AT(12), 3);
	rec_saw(&r[k++], KEY_X, HLC_AT(3));
	rec_tomb(&r[k++], "/g", DB_FILE, KEY_Y, HLC_AT(13), 4);	/* never saw X's /g */
	rec_make(&r[k++], "/e/x", DB_LINK, KEY_Y, HLC_AT(14), 5, 8);
	rec_tomb(&r[k], "/f2", DB_DIR, KEY_Y, HLC_AT(15), 6);
	rec_saw(&r[k++], KEY_X, HLC_AT(6));		/* saw the folder, not /f2/c */
	ck_assert_uint_eq(k, HISTORY);
}

/* The same versions taken twice change nothing the second time. */
START_TEST(test_apply_twice)
{
	struct t t;
	struct db_rec r[HISTORY];
	struct dump d1, d2;

	history(r);
	t_init(&t);
	ck_assert_int_gt(apply(&t, r, HISTORY), 0);
	dump_tree(&t, &d1, 1);
	ck_assert_int_eq(apply(&t, r, HISTORY), 0);
	dump_tree(&t, &d2, 1);
	assert_same_dump(&d1, &d2, "after the second apply");
	/* one at a time, too */
	for (size_t i = 0; i < HISTORY; i++)
		ck_assert_int_eq(apply(&t, &r[i], 1), 0);
	dump_free(&d2);
	dump_tree(&t, &d2, 1);
	assert_same_dump(&d1, &d2, "after each again");
	/* what the history says */
	expect_file(&t, "/d/a", 6, KEY_Y);
	expect_absent(&t, "/d/b");
	expect_file(&t, "/s", 7, KEY_Y);
	expect_file(&t, "/s" X_CONFLICT, 3, ANY_NODE);
	expect_absent(&t, "/g");
	expect_file(&t, "/g" X_CONFLICT, 4, ANY_NODE);
	ck_assert_int_eq(kind_of(&t, "/e"), DB_DIR);
	ck_assert_int_eq(kind_of(&t, "/e/x"), DB_LINK);
	ck_assert_int_eq(kind_of(&t, "/f2"), DB_DIR);
	expect_file(&t, "/f2/c", 5, KEY_X);
	dump_free(&d1);
	dump_free(&d2);
	t_done(&t);
	recs_clear(r, HISTORY);
}
END_TEST

/*
 * The same versions in another order end in the same tree: all at once
 * in history order, in reverse, Y's before X's (as a member may answer),
 * and one at a time in an interleaving.
 *
 * When "/d/a" comes before "/d" (orders 0 and 1), the folder is first
 * made as a stand-in with the smallest clock; X's real "/d" (0700,
 * 1000:100) then wins over it, so the tree does not depend on the order.
 */
START_TEST(test_apply_any_order)
{
	static const int orders[][HISTORY] = {
		{ 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0 },
		{ 7, 8, 9, 10, 11, 12, 0, 1, 2, 3, 4, 5, 6 },
		{ 0, 7, 1, 8, 2, 9, 3, 10, 4, 11, 5, 12, 6 },
	};
	struct t t0, t1;
	struct db_rec r[HISTORY], mixed[HISTORY];
	struct dump d0, d1;
	int o = _i;

	history(r);
	t_init(&t0);
	apply(&t0, r, HISTORY);
	dump_tree(&t0, &d0, 0);
	t_init(&t1);
	for (size_t i = 0; i < HISTORY; i++)
		mixed[i] = r[orders[o][i]];
	if (o == 2) {
		for (size_t i = 0; i < HISTORY; i++)
			apply(&t1, &mixed[i], 1);
	} else {
		apply(&t1, mixed, HISTORY);
	}
	dump_tree(&t1, &d1, 0);
	assert_same_dump(&d0, &d1, o == 0 ? "reverse order" : o == 1 ? "Y first" : "interleaved");
	dump_free(&d0);
	dump_free(&d1);
	t_done(&t0);
	t_done(&t1);
	recs_clear(r, HISTORY);
}
END_TEST

/* Every version node from holds, once each (db_changes of every origin). */
static void all_recs(struct t *from, struct recs *rs)
{
	struct origins o = { .n = 0 };

	ck_assert_int_eq(db_seen(from->db, origin_add, &o), 0);
	for (size_t i = 0; i < o.n; i++)
		ck_assert_int_eq(db_changes(from->db, o.v[i], 0, UINT64_MAX, 1000000, recs_add, rs), 0);
}

/*
 * A folder removed (rm -r) on one node while another adds a file to it,
 * each unaware of the other, and every version then reaching every node in
 * a random order (relayed, one at a time or in batches, the order of one
 * origin's versions not kept): the three trees end the same, the folder is
 * back with the new file in it, and the removed file stays removed.
 */
START_TEST(test_apply_folder_removed_while_added_any_order)
{
	struct t n[3];
	struct dump d0, d;
	unsigned seed = 1000 + (unsigned)_i;

	for (int i = 0; i < 3; i++) {
		t_init(&n[i]);
		t_close(&n[i]);
		memset(n[i].self, 0x11 * (i + 1), sizeof(n[i].self));
		n[i].wall.ms += (uint64_t)i * 7;
		t_open(&n[i]);
	}
	ck_assert_int_eq(db_mkdir(n[0].db, "/pd", 0755, 0, 0), 0);
	ck_assert_int_eq(publish_file(&n[0], "/pd/old", 1, 10), 0);
	ck_assert_int_eq(publish_file(&n[0], "/keep", 2, 10), 0);
	pull_all(&n[1], &n[0]);
	pull_all(&n[2], &n[0]);
	for (int i = 0; i < 3; i++)
		n[i].wall.ms += 1000 + (uint64_t)(rand_r(&seed) % 500);
	{
		int has_old;
		uint8_t old[DB_SHA_BYTES];

		ck_assert_int_eq(db_unlink(n[0].db, "/pd/old", &has_old, old), 0);
	}
	ck_assert_int_eq(db_rmdir(n[0].db, "/pd"), 0);
	ck_assert_int_eq(publish_file(&n[1], "/pd/fromb", 3, 10), 0);
	for (int round = 0; round < 8; round++) {
		for (int to = 0; to < 3; to++) {
			struct recs rs = { 0 };

			for (int from = 0; from < 3; from++)
				if (from != to)
					all_recs(&n[from], &rs);
			for (size_t i = rs.n; i > 1; i--) {
				size_t j = (size_t)rand_r(&seed) % i;
				struct db_rec tmp = rs.v[i - 1];

				rs.v[i - 1] = rs.v[j];
				rs.v[j] = tmp;
			}
			for (size_t i = 0; i < rs.n;) {
				size_t k = 1 + (size_t)rand_r(&seed) % 3;

				if (k > rs.n - i)
					k = rs.n - i;
				apply(&n[to], &rs.v[i], k);
				i += k;
			}
			recs_clear(rs.v, rs.n);
			free(rs.v);
			n[to].wall.ms += 10;
		}
	}
	dump_tree(&n[0], &d0, 0);
	for (int i = 0; i < 3; i++) {
		char what[64];

		snprintf(what, sizeof(what), "seed %u, node %d", seed, i);
		ck_assert_msg(kind_of(&n[i], "/pd") == DB_DIR, "%s: /pd is not a folder", what);
		ck_assert_msg(kind_of(&n[i], "/pd/fromb") == DB_FILE, "%s: /pd/fromb is gone", what);
		{
			struct db_entry e;
			int r = db_get(n[i].db, "/pd/old", &e);

			if (r == 0)
				db_entry_clear(&e);
			ck_assert_msg(r == -ENOENT, "%s: /pd/old came back", what);
		}
		dump_tree(&n[i], &d, 0);
		assert_same_dump(&d0, &d, what);
		dump_free(&d);
	}
	dump_free(&d0);
	for (int i = 0; i < 3; i++)
		t_done(&n[i]);
}
END_TEST

/*
 * Two concurrent writes of a path within 35 bytes of PATH_TREE_MAX: the
 * conflict copy's name gives way to the whole path's limit too, and the
 * batch is applied (a refused batch would stop all replication from that
 * member).
 */
START_TEST(test_apply_conflict_deep_path)
{
	char path[PATH_TREE_MAX], name[PATH_NAME_MAX + 1];
	struct t t;
	struct db_rec r[2];
	size_t len = 0;
	int k;

	memset(name, 'n', 250);
	name[250] = '\0';
	for (int i = 0; i < 16; i++)
		len += (size_t)snprintf(path + len, sizeof(path) - len, "/%s", name);
	snprintf(path + len, sizeof(path) - len, "/%.60s", name);
	ck_assert_int_eq(path_check(path), 0);
	rec_make(&r[0], path, DB_FILE, KEY_X, HLC_AT(1), 1, 1);
	rec_make(&r[1], path, DB_FILE, KEY_Y, HLC_AT(2), 1, 2);
	t_init(&t);
	ck_assert_int_gt(apply(&t, &r[0], 1), 0);
	k = db_apply(t.db, &r[1], 1, NULL, 0, NULL, NULL);
	ck_assert_msg(k > 0, "a conflict at a deep path refused the batch: %d", k);
	expect_file(&t, path, 2, KEY_Y);
	t_done(&t);
	recs_clear(r, 2);
}
END_TEST

static Suite *db_suite(void)
{
	Suite *s = suite_create("db");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, base_make, base_remove);

	tcase_add_test(tc, test_open_schema_reopen);
	tcase_add_test(tc, test_newer_schema_refused);
	tcase_add_test(tc, test_open_bad_location);
	tcase_add_test(tc, test_root_exists);
	tcase_add_test(tc, test_mkdir);
	tcase_add_test(tc, test_publish);
	tcase_add_test(tc, test_unlink);
	tcase_add_test(tc, test_rmdir);
	tcase_add_test(tc, test_rename_file);
	tcase_add_test(tc, test_rename_tree);
	tcase_add_test(tc, test_rename_replace_file);
	tcase_add_test(tc, test_rename_errors);
	tcase_add_test(tc, test_rename_onto_tombstones);
	tcase_add_test(tc, test_setattr);
	tcase_add_test(tc, test_list_many);
	tcase_add_test(tc, test_versions_grow);
	tcase_add_test(tc, test_failed_change_keeps_seq);
	tcase_add_test(tc, test_versions_persist);
	tcase_add_test(tc, test_versions_after_crash);
	tcase_add_test(tc, test_stats);
	tcase_add_test(tc, test_sha_in_use);
	tcase_add_test(tc, test_holders);
	tcase_add_test(tc, test_symlink);
	tcase_add_test(tc, test_check_and_sync);
	tcase_add_test(tc, test_errno_map);
	tcase_add_test(tc, test_folder_times_local);
	tcase_add_test(tc, test_folder_times_replicate);
	tcase_add_test(tc, test_apply_concurrent_writes);
	tcase_add_test(tc, test_apply_concurrent_ties);
	tcase_add_test(tc, test_apply_delete_vs_write);
	tcase_add_test(tc, test_apply_covering_delete);
	tcase_add_test(tc, test_apply_dir_tombstone_live_child);
	tcase_add_test(tc, test_apply_parent_missing);
	tcase_add_test(tc, test_apply_twice);
	tcase_add_loop_test(tc, test_apply_folder_removed_while_added_any_order, 0, 200);
	tcase_add_loop_test(tc, test_apply_any_order, 2, 3);
	suite_add_tcase(s, tc);

	tc = tcase_create("found_bugs");
	tcase_add_unchecked_fixture(tc, base_make, base_remove);
	tcase_add_loop_test(tc, test_apply_any_order, 0, 2);
	tcase_add_test(tc, test_apply_conflict_deep_path);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(db_suite());
}
