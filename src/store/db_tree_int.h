/*
 * db_tree_int.h: what db_tree.c (records, undo, derived columns, reads)
 * and db_tree_rules.c (the rules of one record) share.  Private to
 * src/store.
 */
#ifndef OAND_DB_TREE_INT_H
#define OAND_DB_TREE_INT_H

#include <sqlite3.h>
#include <stdint.h>

#include "db_tree.h"

#define TREE_STMTS 64
#define TREE_ROOT_INO 1
#define TREE_TRASH_INO 0

struct db_tree {
	sqlite3 *h;
	/* Prepared statements, keyed by their (static) SQL text. */
	const char *sql[TREE_STMTS];
	sqlite3_stmt *st[TREE_STMTS];
	int nst;
};

/* The key of a record: its place in the order. */
struct tree_key {
	uint64_t hlc, tag, seq;
	int64_t rid;
};

/* An inode as the rules read it. */
struct tree_ino {
	int64_t ino;
	int kind;
	int has_head;
	uint64_t head_hlc, head_tag, size;
	int has_sha;
	uint8_t sha[NSREC_SHA_BYTES];
};

/* The statement of sql (a static string), reset, or NULL. */
sqlite3_stmt *tree_sql(struct db_tree *t, const char *sql);
/* Step a statement that returns no rows: 0 or -errno. */
int tree_done(struct db_tree *t, sqlite3_stmt *s);
/* Bind an id (16 bytes) to parameter i. */
void tree_bind_id(sqlite3_stmt *s, int i, const uint8_t id[NSREC_ID_BYTES]);

/* name.conflict-XXXXXXXX-YYYYMMDDTHHMMSSZ after the version (hlc, tag),
   and with id (may be NULL) -XXXXXXXX from its last 4 bytes; name cut on
   a UTF-8 boundary to stay within 255 bytes.  out holds 256 bytes. */
void tree_conflict_name(const uint8_t *name, size_t len, uint64_t tag, uint64_t hlc,
			const uint8_t *id, char out[NSREC_NAME_MAX + 1]);

/* Apply record r (row rid, key k) to the tree: 1 applied, 0 skipped (the
   caller rolls back what it did), or -errno. */
int tree_rule_apply(struct db_tree *t, const struct tree_key *k, const struct nsrec *r);

#endif
