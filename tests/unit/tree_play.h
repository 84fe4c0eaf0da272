/*
 * tree_play.h: replicas of the namespace for check_tree.  Each is a
 * db_tree in memory with an origin; operations make records as the local
 * operations of step 4 will (one HLC per transaction, above everything
 * the replica has seen), stage them on their own replica and keep them in
 * one log, from which the tests hand them to the others in the orders
 * they choose.  Static functions, for one test program.
 */
#ifndef OAND_TREE_PLAY_H
#define OAND_TREE_PLAY_H

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_tree.h"
#include "nsrec.h"

#define HLC0 (1700000000000ull << 16)
#define MAXREP 5

struct rec {
	uint8_t *buf;
	size_t len;
	struct nsrec r;		/* decoded from buf */
};

static struct rec *recs;
static size_t nrec, caprec;

struct rep {
	struct db_tree *t;
	uint8_t origin[NSREC_NODE_BYTES];
	uint64_t tag, seq, hlc;
	uint8_t *got;		/* which of recs it has staged */
	size_t gotcap;
};

static struct rep reps[MAXREP];
static int nreps;
static const uint8_t root[NSREC_ID_BYTES];

static void got_set(struct rep *p, size_t i)
{
	if (i >= p->gotcap) {
		size_t c = p->gotcap ? p->gotcap : 256;

		while (c <= i)
			c *= 2;
		p->got = realloc(p->got, c);
		memset(p->got + p->gotcap, 0, c - p->gotcap);
		p->gotcap = c;
	}
	p->got[i] = 1;
}

static int got(const struct rep *p, size_t i)
{
	return i < p->gotcap && p->got[i];
}

static void reps_open(int n)
{
	nreps = n;
	for (int i = 0; i < n; i++) {
		struct rep *p = &reps[i];

		memset(p, 0, sizeof(*p));
		ck_assert_int_eq(db_tree_open(":memory:", &p->t), 0);
		memset(p->origin, 0x10 * (i + 1), sizeof(p->origin));
		p->tag = nsrec_tag(p->origin);
		p->hlc = HLC0;
	}
	nrec = 0;
}

static void reps_close(void)
{
	for (int i = 0; i < nreps; i++) {
		db_tree_close(reps[i].t);
		free(reps[i].got);
	}
	for (size_t i = 0; i < nrec; i++)
		free(recs[i].buf);
	free(recs);
	recs = NULL;
	nrec = caprec = 0;
}

/* Stage record i on p. */
static void deliver(struct rep *p, size_t i)
{
	int r;

	if (got(p, i))
		return;
	r = db_tree_stage(p->t, recs[i].buf, recs[i].len, NULL);
	ck_assert_int_ge(r, 0);
	got_set(p, i);
	if (recs[i].r.hlc > p->hlc)
		p->hlc = recs[i].r.hlc;
}

static struct db_tree_stats apply(struct rep *p)
{
	struct db_tree_stats st;

	ck_assert_int_eq(db_tree_apply(p->t, &st), 0);
	return st;
}

/* ---- local operations: each one transaction ---- */

static uint64_t txn_hlc;

static void txn_begin(struct rep *p)
{
	txn_hlc = ++p->hlc;
}

/* Finish r as p's next record in the open transaction, stage it. */
static void emit(struct rep *p, struct nsrec *r)
{
	struct rec *x;

	if (nrec == caprec) {
		caprec = caprec ? 2 * caprec : 1024;
		recs = realloc(recs, caprec * sizeof(*recs));
	}
	memcpy(r->origin, p->origin, NSREC_NODE_BYTES);
	r->prev = p->seq;
	r->seq = ++p->seq;
	r->hlc = txn_hlc;
	r->wall_ns = (int64_t)(txn_hlc >> 16) * 1000000;
	x = &recs[nrec];
	ck_assert_int_eq(nsrec_encode(r, &x->buf, &x->len), 0);
	ck_assert_int_eq(nsrec_decode(x->buf, x->len, &x->r), 0);
	nrec++;
	deliver(p, nrec - 1);
}

static void txn_end(struct rep *p)
{
	struct db_tree_stats st = apply(p);

	/* Local operations append: nothing to undo. */
	ck_assert_uint_eq(st.undone, 0);
}

/* p's next operation sorts after everything made so far. */
static void later(struct rep *p)
{
	p->hlc += 100;
}

static void new_id(struct rep *p, uint8_t id[NSREC_ID_BYTES])
{
	nsrec_id_made(p->tag, p->seq + 1, id);
}

static void get_ent(struct rep *p, const uint8_t id[NSREC_ID_BYTES], struct db_tree_ent *e)
{
	ck_assert_int_eq(db_tree_entry(p->t, id, e), 0);
}

/* Create name in dir: returns the new id (entry = inode). */
static void op_create(struct rep *p, const uint8_t dir[NSREC_ID_BYTES], const char *name, int kind,
		      uint8_t id[NSREC_ID_BYTES])
{
	struct nsrec r = { 0 };

	txn_begin(p);
	r.type = NSREC_PLACE;
	r.flags = NSREC_INIT;
	new_id(p, id);
	memcpy(r.entry, id, NSREC_ID_BYTES);
	memcpy(r.inode, id, NSREC_ID_BYTES);
	memcpy(r.parent, dir, NSREC_ID_BYTES);
	nsrec_id_trash(r.from);
	r.name = (const uint8_t *)name;
	r.name_len = strlen(name);
	r.kind = kind;
	r.mode = kind == 'd' ? 0755 : 0644;
	if (kind == 'l') {
		r.target = (const uint8_t *)"target";
		r.target_len = 6;
	}
	emit(p, &r);
	txn_end(p);
}

/* The M of a move of entry e to (dir, name), or into the trash. */
static void place_rec(const struct db_tree_ent *e, const uint8_t *dir, const char *name,
		      struct nsrec *r)
{
	memset(r, 0, sizeof(*r));
	r->type = NSREC_PLACE;
	memcpy(r->entry, e->id, NSREC_ID_BYTES);
	memcpy(r->inode, e->ino_id, NSREC_ID_BYTES);
	if (dir == NULL) {
		nsrec_id_trash(r->parent);
	} else {
		memcpy(r->parent, dir, NSREC_ID_BYTES);
		r->name = (const uint8_t *)name;
		r->name_len = strlen(name);
	}
	memcpy(r->from, e->parent, NSREC_ID_BYTES);
	r->base_hlc = e->head_hlc;
	r->base_tag = e->head_tag;
}

static void op_move(struct rep *p, const uint8_t id[NSREC_ID_BYTES], const uint8_t *dir,
		    const char *name)
{
	struct db_tree_ent e;
	struct nsrec r;

	get_ent(p, id, &e);
	txn_begin(p);
	place_rec(&e, dir, name, &r);
	emit(p, &r);
	txn_end(p);
}

static void op_delete(struct rep *p, const uint8_t id[NSREC_ID_BYTES])
{
	op_move(p, id, NULL, NULL);
}

static void op_link(struct rep *p, const uint8_t ino[NSREC_ID_BYTES], const uint8_t dir[NSREC_ID_BYTES],
		    const char *name, uint8_t id[NSREC_ID_BYTES])
{
	struct db_tree_ent e;
	struct nsrec r;

	get_ent(p, ino, &e);
	txn_begin(p);
	place_rec(&e, dir, name, &r);
	new_id(p, id);
	memcpy(r.entry, id, NSREC_ID_BYTES);
	nsrec_id_trash(r.from);
	emit(p, &r);
	txn_end(p);
}

/* Write content c (its size, and the first bytes of its hash; 0: empty)
   through entry id. */
static void op_write(struct rep *p, const uint8_t id[NSREC_ID_BYTES], int c)
{
	struct db_tree_ent e;
	struct nsrec r = { 0 };

	get_ent(p, id, &e);
	txn_begin(p);
	r.type = NSREC_CONTENT;
	memcpy(r.inode, e.ino_id, NSREC_ID_BYTES);
	r.base_hlc = e.head_hlc;
	r.base_tag = e.head_tag;
	r.size = (uint64_t)c;
	if (c != 0) {
		memset(r.sha, 0x5a, sizeof(r.sha));
		for (int i = 0; i < 4; i++)
			r.sha[i] = (uint8_t)((unsigned)c >> (8 * i));
	}
	r.mtime_ns = (int64_t)txn_hlc;
	memcpy(r.entry, e.id, NSREC_ID_BYTES);
	memcpy(r.parent, e.parent, NSREC_ID_BYTES);
	r.name = (const uint8_t *)e.name;
	r.name_len = strlen(e.name);
	emit(p, &r);
	txn_end(p);
}

static void op_chmod(struct rep *p, const uint8_t ino[NSREC_ID_BYTES], uint32_t mode)
{
	struct nsrec r = { 0 };

	txn_begin(p);
	r.type = NSREC_ATTR;
	memcpy(r.inode, ino, NSREC_ID_BYTES);
	r.mask = NSREC_SET_MODE;
	r.mode = mode;
	emit(p, &r);
	txn_end(p);
}

static void op_xattr(struct rep *p, const uint8_t ino[NSREC_ID_BYTES], const char *name,
		     const char *value)
{
	struct nsrec r = { 0 };

	txn_begin(p);
	r.type = NSREC_XATTR;
	memcpy(r.inode, ino, NSREC_ID_BYTES);
	r.name = (const uint8_t *)name;
	r.name_len = strlen(name);
	if (value == NULL) {
		r.flags = NSREC_REMOVE;
	} else {
		r.value = (const uint8_t *)value;
		r.value_len = strlen(value);
	}
	emit(p, &r);
	txn_end(p);
}

/* ---- exchange and comparison ---- */

/* Every record to every replica, in one batch each. */
static void sync_all(void)
{
	for (int i = 0; i < nreps; i++) {
		for (size_t j = nrec; j-- > 0;)
			deliver(&reps[i], j);
		apply(&reps[i]);
	}
}

/* What p holds goes to q. */
static void send(struct rep *p, struct rep *q)
{
	for (size_t j = 0; j < nrec; j++)
		if (got(p, j))
			deliver(q, j);
	apply(q);
}

static void same_all(void)
{
	char *d0 = NULL, *d;

	for (int i = 0; i < nreps; i++) {
		ck_assert_int_eq(db_tree_check(reps[i].t), 0);
		ck_assert_int_eq(db_tree_dump(reps[i].t, i ? &d : &d0), 0);
		if (i > 0) {
			if (strcmp(d0, d) != 0)
				fprintf(stderr, "replica 0:\n%s\nreplica %d:\n%s\n", d0, i, d);
			ck_assert_str_eq(d0, d);
			free(d);
		}
	}
	free(d0);
}

/* The entry at path (shown names) on p: 0 or -ENOENT. */
static int at(struct rep *p, const char *path, struct db_tree_ent *e)
{
	uint8_t dir[NSREC_ID_BYTES] = { 0 };
	char buf[1024], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (db_tree_lookup(p->t, dir, tok, e) != 0)
			return -ENOENT;
		memcpy(dir, e->ino_id, NSREC_ID_BYTES);
	}
	return 0;
}

struct names {
	char v[32][NSREC_NAME_MAX + 1];
	int n;
};

static int names_cb(const struct db_tree_ent *e, void *ctx)
{
	struct names *x = ctx;

	if (x->n < 32)
		snprintf(x->v[x->n++], sizeof(x->v[0]), "%s", e->shown);
	return 0;
}

/* The shown names of folder path on p, space separated; conflict names
   cut to ".conflict". */
static const char *ls(struct rep *p, const char *path)
{
	static char out[2048];
	struct names x = { .n = 0 };
	struct db_tree_ent e;
	const uint8_t *dir = root;

	if (strcmp(path, "/") != 0) {
		ck_assert_int_eq(at(p, path, &e), 0);
		dir = e.ino_id;
	}
	ck_assert_int_eq(db_tree_list(p->t, dir, names_cb, &x), 0);
	out[0] = 0;
	for (int i = 0; i < x.n; i++) {
		char *c = strstr(x.v[i], ".conflict-");

		if (c != NULL)
			c[9] = 0;
		if (i > 0)
			strcat(out, " ");
		strcat(out, x.v[i]);
	}
	return out;
}

#endif
