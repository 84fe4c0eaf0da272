/*
 * db_tree: the interpreter of namespace records (doc/namespace.md, 2.3)
 * on the schema-6 tables.  It owns the replicated tree: inodes, entries
 * and xattrs as the records in `records` make them, applied in key order
 * (hlc, tag, seq) with undo and redo for late records, and the derived
 * columns (shown names, nlink).  The state is a function of the set of
 * records staged: two trees that staged the same records dump the same.
 *
 * Not yet called by the daemon (step 1 of the plan): it opens its own
 * sqlite file with the schema-6 DDL (db_tree_ddl), and the local
 * operations that make records come with db_ns (step 4).  H (holdings)
 * and F (forget) records are not interpreted here yet (steps 4 and 5).
 * Not thread safe: one caller at a time.  Errors are 0 or -errno (sqlite's
 * through db_errno()).
 */
#ifndef OAND_DB_TREE_H
#define OAND_DB_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "nsrec.h"

struct db_tree;

/* The schema-6 tables, and the root folder (ino 1, id zero). */
extern const char db_tree_ddl[];

/* Open (making the tables if the file is new) file; ":memory:" for a
   database in memory. */
int db_tree_open(const char *file, struct db_tree **out);
void db_tree_close(struct db_tree *t);

/*
 * Keep one record (its unsigned bytes; sig NULL for an own record not sent
 * yet) for the next db_tree_apply().  1 if it is new, 0 if this origin's
 * seq is held already, -EBADMSG if it does not decode, -EOPNOTSUPP for H
 * and F.
 */
int db_tree_stage(struct db_tree *t, const uint8_t *rec, size_t len, const uint8_t *sig);

struct db_tree_stats {
	uint64_t undone;	/* applied records undone for the late ones */
	uint64_t applied, skipped;
};
/* Apply every staged record in key order, in one transaction: the
   applied records above the smallest staged key are undone first, newest
   first, then redone with the staged ones.  st may be NULL. */
int db_tree_apply(struct db_tree *t, struct db_tree_stats *st);

/* An entry and its inode as listed. */
struct db_tree_ent {
	uint8_t id[NSREC_ID_BYTES];		/* the entry */
	uint8_t ino_id[NSREC_ID_BYTES];		/* its inode */
	uint8_t parent[NSREC_ID_BYTES];		/* its folder's id (trash: nsrec_id_trash) */
	int placed;				/* in a folder (not the trash) */
	char name[NSREC_NAME_MAX + 1];		/* the name its placement asked for */
	char shown[NSREC_NAME_MAX + 1];		/* the name listed ("": not listed) */
	int kind;
	uint32_t mode, uid, gid, nlink;
	int64_t mtime, ctime;
	uint64_t size;
	uint8_t sha[NSREC_SHA_BYTES];		/* zero: empty */
	uint64_t head_hlc, head_tag;		/* the content version */
	int64_t ino;				/* the local inode number */
};
/* The entry listed as name in folder dir, or -ENOENT. */
int db_tree_lookup(struct db_tree *t, const uint8_t dir[NSREC_ID_BYTES], const char *name,
		   struct db_tree_ent *out);
/* The entry id (placed or not), or -ENOENT. */
int db_tree_entry(struct db_tree *t, const uint8_t id[NSREC_ID_BYTES], struct db_tree_ent *out);
/* Each listed entry of folder dir, by shown name; cb non-zero stops. */
typedef int (*db_tree_list_cb)(const struct db_tree_ent *e, void *ctx);
int db_tree_list(struct db_tree *t, const uint8_t dir[NSREC_ID_BYTES], db_tree_list_cb cb,
		 void *ctx);
/* The value of xattr name of inode id into buf: its length, -ENODATA
   (none or removed), -ERANGE (cap too small). */
int db_tree_xattr(struct db_tree *t, const uint8_t id[NSREC_ID_BYTES], const char *name,
		  uint8_t *buf, size_t cap);

/* The whole replicated state as text, by id, without local numbers:
   equal on two nodes that hold the same records.  *out is allocated. */
int db_tree_dump(struct db_tree *t, char **out);
/* 0 if the tree is a tree (every placed entry reaches the root, no
   cycle) and the derived columns agree with placements and heads, else
   -EUCLEAN. */
int db_tree_check(struct db_tree *t);

#endif
