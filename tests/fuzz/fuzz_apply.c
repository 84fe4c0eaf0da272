/*
 * libFuzzer target for what a peer's answer does to a database: the input
 * is decoded as an answer (sync_decode_reply), checked as the sync thread
 * checks it (sync_check_reply, with the keys the answer brings), and what
 * decodes is applied to a real database (db_apply) whatever its
 * signatures say, so that every shape of version a member could sign
 * reaches the apply code: deep paths, folders replaced by files, deletions
 * of folders with entries, conflicts, holdings.  The database must stay
 * sound (PRAGMA integrity_check) and its tree walkable from the root to
 * every entry, and nothing may crash or leak.  Each input starts from a
 * fresh database that holds a few entries of its own.
 *
 *   make fuzz FUZZ_SECONDS=600      a longer run (make check runs a short one)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "db.h"
#include "log.h"
#include "path.h"
#include "sync.h"

static char file[64];

static void remove_db(void)
{
	char p[96];

	unlink(file);
	snprintf(p, sizeof(p), "%s-wal", file);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", file);
	unlink(p);
}

struct walk {
	const char *dir;	/* the folder being listed */
	char **v;		/* its entries' paths (db_list holds the lock: they
				   are looked up after) */
	int *kind;
	size_t n, cap;
};

static int walk_child(const char *name, const struct db_entry *e, int64_t cursor, void *ctx)
{
	struct walk *w = ctx;
	char path[PATH_TREE_MAX];

	(void)cursor;
	if (snprintf(path, sizeof(path), "%s%s%s", w->dir, strcmp(w->dir, "/") ? "/" : "",
		     name) >= (int)sizeof(path))
		abort();
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 64;
		if ((w->v = realloc(w->v, w->cap * sizeof(*w->v))) == NULL ||
		    (w->kind = realloc(w->kind, w->cap * sizeof(*w->kind))) == NULL)
			abort();
	}
	if ((w->v[w->n] = strdup(path)) == NULL)
		abort();
	w->kind[w->n++] = e->kind;
	return 0;
}

/* Walk the tree from the root with a stack, not a recursion: what a
   listing shows, a lookup finds. */
static void walk_tree(struct db *db)
{
	struct walk w = { 0 };
	size_t done = 0;

	if ((w.v = malloc(sizeof(*w.v))) == NULL || (w.kind = malloc(sizeof(*w.kind))) == NULL ||
	    (w.v[0] = strdup("/")) == NULL)
		abort();
	w.kind[0] = DB_DIR;
	w.n = w.cap = 1;
	/* w.v[done..n) are found but not yet looked into */
	while (done < w.n) {
		char *path = w.v[done];
		int kind = w.kind[done++];
		struct db_entry got;

		if (db_get(db, path, &got) != 0 || got.kind != kind)
			abort();
		db_entry_clear(&got);
		if (kind == DB_DIR) {
			w.dir = path;
			if (db_list(db, path, 0, walk_child, &w) != 0)
				abort();
		}
	}
	for (size_t i = 0; i < w.n; i++)
		free(w.v[i]);
	free(w.v);
	free(w.kind);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t self[DB_NODE_BYTES] = { 0x5e };
	static const uint8_t from[DB_NODE_BYTES] = { 0xf0 };
	struct sync_batch b, c;
	struct clock *clock;
	struct db *db = NULL;
	struct db_publish p = { 0 };
	uint8_t sha[DB_SHA_BYTES] = { 1 };

	if (file[0] == '\0') {
		log_init("fuzz_apply", LOG_LVL_ERROR);
		snprintf(file, sizeof(file), "/dev/shm/fuzz_apply.%d.db", (int)getpid());
	}
	if (sync_decode_reply(data, size, &b) != 0)
		return 0;
	remove_db();
	if ((clock = clock_new(NULL, NULL)) == NULL || db_open(file, self, clock, &db) != 0)
		abort();
	/* A little of this node's own for the answer to meet. */
	db_mkdir(db, "/d", 0755, 0, 0);
	db_mkdir(db, "/d/e", 0700, 1, 1);
	p.path = "/d/f";
	p.create = 1;
	p.mode = 0644;
	p.size = 10;
	p.sha = sha;
	p.holder = self;
	db_publish(db, &p);
	db_symlink(db, "/l", "d/f", 0, 0);
	/* As the sync thread checks it: no key binds here, so nothing of
	   another origin survives, but the check itself must not fail
	   otherwise than by refusing. */
	if (sync_decode_reply(data, size, &c) != 0)
		abort();
	if (sync_check_reply(db, self, from, &c, NULL, NULL) == 0) {
		if (db_apply(db, c.recs, c.n, c.ranges, c.nranges, NULL, NULL) < 0)
			;	/* a full disk and the like: refused whole */
	}
	sync_batch_clear(&c);
	/* And applied as if every signature held. */
	db_apply(db, b.recs, b.n, b.ranges, b.nranges, NULL, NULL);
	sync_batch_clear(&b);
	if (db_check(db) != 0)
		abort();
	walk_tree(db);
	db_close(db);
	clock_free(clock);
	remove_db();
	return 0;
}
