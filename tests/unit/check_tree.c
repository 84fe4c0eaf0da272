/*
 * Unit tests for src/store/db_tree, the interpreter of namespace records,
 * on replicas in memory (tests/unit/tree_play.h) that make records and
 * hand them to each other in chosen orders:
 *   - the paper's cases: two-node swap, three-node cycle, move vs move,
 *     move vs delete;
 *   - each row of the conflict rules (doc/namespace.md, section 3);
 *   - late records undone and redone at depths 1 to 10,000;
 *   - the property test: 3 to 5 replicas, random workloads, random
 *     deliveries in random batches: identical dumps, a tree, and every
 *     write nobody saw over still at a path or as a conflict copy.
 *     TREE_SEEDS=n runs n seeds (the suite: 1,000), TREE_SEED=s one.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "db_tree.h"
#include "log.h"
#include "nsrec.h"

#include "tree_play.h"

/* ---- the paper's cases ---- */

/* A: mv a b/, B: mv b a/: the earlier by key applies, the later is
   skipped (M1); one is inside the other. */
START_TEST(test_two_node_swap)
{
	uint8_t a[16], b[16];

	reps_open(2);
	op_create(&reps[0], root, "a", 'd', a);
	op_create(&reps[0], root, "b", 'd', b);
	sync_all();
	op_move(&reps[0], a, b, "a");
	op_move(&reps[1], b, a, "b");	/* later by key */
	sync_all();
	same_all();
	ck_assert_str_eq(ls(&reps[0], "/"), "b");
	ck_assert_str_eq(ls(&reps[0], "/b"), "a");
	ck_assert_str_eq(ls(&reps[0], "/b/a"), "");
	reps_close();
}
END_TEST

/* A: a->b/, B: b->c/, C: c->a/: the last by key is skipped. */
START_TEST(test_three_node_cycle)
{
	uint8_t a[16], b[16], c[16];

	reps_open(3);
	op_create(&reps[0], root, "a", 'd', a);
	op_create(&reps[0], root, "b", 'd', b);
	op_create(&reps[0], root, "c", 'd', c);
	sync_all();
	op_move(&reps[0], a, b, "a");
	op_move(&reps[1], b, c, "b");
	op_move(&reps[2], c, a, "c");
	/* Deliveries in different orders on each. */
	send(&reps[2], &reps[0]);
	send(&reps[0], &reps[1]);
	send(&reps[1], &reps[2]);
	sync_all();
	same_all();
	ck_assert_str_eq(ls(&reps[0], "/"), "c");
	ck_assert_str_eq(ls(&reps[0], "/c/b"), "a");
	reps_close();
}
END_TEST

/* A moves x to d1, B to d2: the later key wins, x is in one place. */
START_TEST(test_move_vs_move)
{
	uint8_t x[16], d1[16], d2[16];

	reps_open(2);
	op_create(&reps[0], root, "d1", 'd', d1);
	op_create(&reps[0], root, "d2", 'd', d2);
	op_create(&reps[0], root, "x", 'f', x);
	sync_all();
	op_move(&reps[1], x, d2, "x");
	later(&reps[0]);
	op_move(&reps[0], x, d1, "y");
	sync_all();
	same_all();
	ck_assert_str_eq(ls(&reps[1], "/"), "d1 d2");
	ck_assert_str_eq(ls(&reps[1], "/d1"), "y");
	ck_assert_str_eq(ls(&reps[1], "/d2"), "");
	reps_close();
}
END_TEST

/* A renames x, B deletes x: the later key wins, both ways. */
START_TEST(test_move_vs_delete)
{
	uint8_t x[16];

	reps_open(2);
	op_create(&reps[0], root, "x", 'd', x);
	sync_all();
	if (_i == 0) {
		op_move(&reps[0], x, root, "renamed");
		op_delete(&reps[1], x);
	} else {
		op_delete(&reps[1], x);
		later(&reps[0]);
		op_move(&reps[0], x, root, "renamed");
	}
	sync_all();
	same_all();
	ck_assert_str_eq(ls(&reps[0], "/"), _i == 0 ? "" : "renamed");
	reps_close();
}
END_TEST

/* ---- section 3, row by row ---- */

START_TEST(test_create_same_name)
{
	uint8_t f1[16], f2[16];

	reps_open(2);
	op_create(&reps[0], root, "n", _i == 2 ? 'd' : 'f', f1);
	op_create(&reps[1], root, "n", _i == 2 ? 'd' : 'f', f2);
	if (_i == 1) {	/* different content: both listed */
		op_write(&reps[0], f1, 1);
		op_write(&reps[1], f2, 2);
	}
	sync_all();
	same_all();
	/* Same content (two empty files): one listed. */
	ck_assert_str_eq(ls(&reps[0], "/"), _i == 0 ? "n" : "n n.conflict");
	{
		struct db_tree_ent e;

		ck_assert_int_eq(at(&reps[0], "/n", &e), 0);
		ck_assert_int_eq(memcmp(e.id, f2, 16), 0);	/* the later placement */
	}
	reps_close();
}
END_TEST

START_TEST(test_write_write)
{
	uint8_t f[16];
	struct db_tree_ent e;

	reps_open(2);
	op_create(&reps[0], root, "f", 'f', f);
	sync_all();
	op_write(&reps[0], f, 1);
	op_write(&reps[1], f, 2);	/* later */
	sync_all();
	same_all();
	ck_assert_str_eq(ls(&reps[0], "/"), "f f.conflict");
	ck_assert_int_eq(at(&reps[0], "/f", &e), 0);
	ck_assert_int_eq(e.sha[0], 2);
	reps_close();
}
END_TEST

/* A writes f, B deletes f: B later, f's content stays as a conflict
   name (M3); A later, f comes back at its name (C1). */
START_TEST(test_write_delete)
{
	uint8_t f[16];
	struct db_tree_ent e;

	reps_open(2);
	op_create(&reps[0], root, "f", 'f', f);
	sync_all();
	if (_i == 0) {
		op_write(&reps[0], f, 1);
		op_delete(&reps[1], f);
	} else {
		op_delete(&reps[1], f);
		later(&reps[0]);
		op_write(&reps[0], f, 1);
	}
	sync_all();
	same_all();
	ck_assert_str_eq(ls(&reps[0], "/"), _i == 0 ? "f.conflict" : "f");
	ck_assert_int_eq(db_tree_entry(reps[0].t, f, &e), 0);
	ck_assert_int_eq(e.sha[0], 1);
	ck_assert(e.placed);
	reps_close();
}
END_TEST

/* A rm -r d, B creates d/g: d comes back with g; what A removed stays
   removed (M2, M4). */
START_TEST(test_rmr_vs_create)
{
	uint8_t d[16], old[16], g[16];

	reps_open(2);
	op_create(&reps[0], root, "d", 'd', d);
	op_create(&reps[0], d, "old", 'f', old);
	sync_all();
	op_delete(&reps[0], old);
	op_delete(&reps[0], d);
	if (_i == 1)	/* the create after the rmdir by key: d is revived */
		reps[1].hlc += 10;
	op_create(&reps[1], d, "g", 'f', g);
	sync_all();
	same_all();
	ck_assert_str_eq(ls(&reps[0], "/"), "d");
	ck_assert_str_eq(ls(&reps[0], "/d"), "g");
	reps_close();
}
END_TEST

/* A moves x into d, B rm -r d: d comes back with x in it (M4). */
START_TEST(test_move_into_removed)
{
	uint8_t d[16], x[16], y[16];

	reps_open(2);
	op_create(&reps[0], root, "d", 'd', d);
	op_create(&reps[0], d, "y", 'f', y);
	op_create(&reps[0], root, "x", 'd', x);
	sync_all();
	op_delete(&reps[1], y);
	op_delete(&reps[1], d);
	op_move(&reps[0], x, d, "x");
	sync_all();
	same_all();
	ck_assert_str_eq(ls(&reps[0], "/"), "d");
	ck_assert_str_eq(ls(&reps[0], "/d"), "x");
	reps_close();
}
END_TEST

START_TEST(test_attrs)
{
	uint8_t f[16];
	struct db_tree_ent e;
	uint8_t v[16];

	reps_open(2);
	op_create(&reps[0], root, "f", 'f', f);
	sync_all();
	/* chmod vs write: both. */
	op_chmod(&reps[0], f, 0600);
	op_write(&reps[1], f, 3);
	sync_all();
	same_all();
	ck_assert_int_eq(at(&reps[0], "/f", &e), 0);
	ck_assert_uint_eq(e.mode, 0600);
	ck_assert_int_eq(e.sha[0], 3);
	/* chmod vs chmod: the later. */
	op_chmod(&reps[1], f, 0640);
	later(&reps[0]);
	op_chmod(&reps[0], f, 0604);
	sync_all();
	same_all();
	ck_assert_int_eq(at(&reps[1], "/f", &e), 0);
	ck_assert_uint_eq(e.mode, 0604);
	/* setxattr of one key: the later; of two: both. */
	op_xattr(&reps[0], f, "user.k", "a");
	op_xattr(&reps[1], f, "user.k", "b");
	op_xattr(&reps[1], f, "user.j", "c");
	sync_all();
	same_all();
	ck_assert_int_eq(db_tree_xattr(reps[0].t, f, "user.k", v, sizeof(v)), 1);
	ck_assert_int_eq(v[0], 'b');
	ck_assert_int_eq(db_tree_xattr(reps[0].t, f, "user.j", v, sizeof(v)), 1);
	op_xattr(&reps[0], f, "user.j", NULL);
	sync_all();
	ck_assert_int_eq(db_tree_xattr(reps[1].t, f, "user.j", v, sizeof(v)), -ENODATA);
	/* chmod and setfattr vs delete: deleted. */
	op_chmod(&reps[0], f, 0777);
	op_xattr(&reps[0], f, "user.z", "z");
	op_delete(&reps[1], f);
	sync_all();
	same_all();
	ck_assert_str_eq(ls(&reps[0], "/"), "");
	reps_close();
}
END_TEST

/* A ln f g, B rm f: g stays, nlink 1. */
START_TEST(test_link_vs_rm)
{
	uint8_t f[16], g[16];
	struct db_tree_ent e;

	reps_open(2);
	op_create(&reps[0], root, "f", 'f', f);
	sync_all();
	op_link(&reps[0], f, root, "g", g);
	ck_assert_int_eq(at(&reps[0], "/g", &e), 0);
	ck_assert_uint_eq(e.nlink, 2);
	op_delete(&reps[1], f);
	sync_all();
	same_all();
	ck_assert_str_eq(ls(&reps[0], "/"), "g");
	ck_assert_int_eq(at(&reps[0], "/g", &e), 0);
	ck_assert_uint_eq(e.nlink, 1);
	reps_close();
}
END_TEST

/* ---- late records ---- */

static const int depths[] = { 1, 10, 100, 1000, 10000 };

/* depth records applied on A, then one of B's with a smaller key: all of
   them are undone and redone, and A ends as a replica that got them all
   in order. */
START_TEST(test_late_record)
{
	int depth = depths[_i];
	uint8_t d[16], x[16], id[16];
	struct db_tree_stats st;
	char name[32];

	reps_open(3);
	op_create(&reps[1], root, "late", 'd', d);	/* B's, early by key */
	reps[0].hlc = reps[1].hlc;
	op_create(&reps[0], root, "x", 'd', x);
	/* Folders of 100 at most, renamed as it goes. */
	for (int i = 0; i < depth; i++) {
		if (i % 3 == 2) {
			snprintf(name, sizeof(name), "x%d", i);
			op_move(&reps[0], x, root, name);
		} else if (i % 100 == 0) {
			snprintf(name, sizeof(name), "d%d", i);
			op_create(&reps[0], root, name, 'd', x);
		} else {
			snprintf(name, sizeof(name), "f%d", i);
			op_create(&reps[0], x, name, 'f', id);
		}
	}
	for (size_t j = 0; j < nrec; j++)
		if (!got(&reps[0], j))
			deliver(&reps[0], j);
	st = apply(&reps[0]);
	ck_assert_uint_eq(st.undone, (uint64_t)depth + 1);
	ck_assert_uint_eq(st.applied + st.skipped, (uint64_t)depth + 2);
	for (size_t j = 0; j < nrec; j++)
		deliver(&reps[2], j);
	apply(&reps[2]);
	nreps = 3;
	send(&reps[0], &reps[1]);
	same_all();
	ck_assert_int_eq(at(&reps[0], "/late", &(struct db_tree_ent){ 0 }), 0);
	reps_close();
}
END_TEST

/* ---- the property test ---- */

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned rn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

struct view {
	struct db_tree_ent v[1024];
	int n;
};

static int view_cb(const struct db_tree_ent *e, void *ctx)
{
	struct view *w = ctx;

	if (w->n < 1024)
		w->v[w->n++] = *e;
	return 0;
}

/* Every listed entry below dir, folders before what they hold. */
static void walk(struct rep *p, const uint8_t dir[NSREC_ID_BYTES], struct view *w)
{
	int from = w->n, to;

	ck_assert_int_eq(db_tree_list(p->t, dir, view_cb, w), 0);
	to = w->n;
	for (int i = from; i < to; i++)
		if (w->v[i].kind == 'd')
			walk(p, w->v[i].ino_id, w);
}

/* Is folder a (an entry id) dir or above it? */
static int above(struct rep *p, const uint8_t a[NSREC_ID_BYTES], const uint8_t dir[NSREC_ID_BYTES])
{
	uint8_t cur[NSREC_ID_BYTES];
	struct db_tree_ent e;

	memcpy(cur, dir, NSREC_ID_BYTES);
	while (!nsrec_id_is_root(cur)) {
		if (memcmp(cur, a, NSREC_ID_BYTES) == 0)
			return 1;
		if (db_tree_entry(p->t, cur, &e) != 0 || !e.placed)
			return 1;
		memcpy(cur, e.parent, NSREC_ID_BYTES);
	}
	return 0;
}

static unsigned writes;

static const char *const names[] = { "a", "b", "c", "d", "e", "f", "g" };

static void random_op(struct rep *p)
{
	static struct view w;
	const uint8_t *dirs[1025];
	struct db_tree_ent x, *e;
	int nd = 0;
	unsigned k = rn(100);
	const char *name = names[rn(7)];
	const uint8_t *dir;
	uint8_t id[NSREC_ID_BYTES];

	w.n = 0;
	walk(p, root, &w);
	dirs[nd++] = root;
	for (int i = 0; i < w.n; i++)
		if (w.v[i].kind == 'd')
			dirs[nd++] = w.v[i].ino_id;
	dir = dirs[rn((unsigned)nd)];
	e = w.n ? &w.v[rn((unsigned)w.n)] : NULL;
	if (k < 38 || e == NULL) {
		if (db_tree_lookup(p->t, dir, name, &x) == 0)
			return;
		op_create(p, dir, name, k < 25 ? 'f' : k < 35 ? 'd' : 'l', id);
	} else if (k < 58) {
		if (e->kind == 'f')
			op_write(p, e->id, (int)++writes);	/* every write its own content */
	} else if (k < 78) {
		struct nsrec r;
		int over = db_tree_lookup(p->t, dir, name, &x) == 0;

		if (e->kind == 'd' && above(p, e->id, dir))
			return;
		if (over && (memcmp(x.id, e->id, 16) == 0 || x.kind == 'd' || e->kind == 'd'))
			return;
		txn_begin(p);
		if (over) {	/* rename over a file: trash it in the same transaction */
			place_rec(&x, NULL, NULL, &r);
			r.flags = NSREC_TXN_MORE;
			emit(p, &r);
		}
		place_rec(e, dir, name, &r);
		emit(p, &r);
		txn_end(p);
	} else if (k < 83) {
		if (e->kind == 'f' && db_tree_lookup(p->t, dir, name, &x) != 0)
			op_link(p, e->id, dir, name, id);
	} else if (k < 95) {
		struct view *sub;

		if (e->kind == 'd') {
			sub = calloc(1, sizeof(*sub));
			ck_assert_int_eq(db_tree_list(p->t, e->ino_id, view_cb, sub), 0);
			if (sub->n == 0)
				op_delete(p, e->id);
			free(sub);
		} else {
			op_delete(p, e->id);
		}
	} else if (k < 98) {
		op_chmod(p, e->ino_id, rn(01000));
	} else {
		op_xattr(p, e->ino_id, rn(2) ? "user.a" : "user.b", rn(3) ? "v" : NULL);
	}
}

/* A random part of what p lacks, staged in a random order, applied. */
static int random_deliver(struct rep *p, int all)
{
	size_t *todo = malloc((nrec + 1) * sizeof(*todo)), n = 0, take;

	for (size_t j = 0; j < nrec; j++)
		if (!got(p, j))
			todo[n++] = j;
	for (size_t i = n; i > 1; i--) {
		size_t j = rn((unsigned)i), t = todo[i - 1];

		todo[i - 1] = todo[j];
		todo[j] = t;
	}
	take = n == 0 ? 0 : all && rn(2) ? n : 1 + rn((unsigned)n);
	for (size_t i = 0; i < take; i++)
		deliver(p, todo[i]);
	free(todo);
	if (take > 0)
		apply(p);
	return n > take;
}

/* The log, one record a line, for a failing seed. */
static void recs_print(void)
{
	for (size_t i = 0; i < nrec; i++) {
		const struct nsrec *r = &recs[i].r;

		fprintf(stderr, "%3zu %c %02x s%-3llu h%-4llu e%02x%02x i%02x%02x p%02x%02x %.*s base %llu.%02llx sha %02x\n",
			i, r->type, r->origin[0], (unsigned long long)r->seq,
			(unsigned long long)(r->hlc - HLC0), r->entry[7], r->entry[15], r->inode[7],
			r->inode[15], r->parent[7], r->parent[15], (int)r->name_len,
			r->name ? (const char *)r->name : "", (unsigned long long)(r->base_hlc ? r->base_hlc - HLC0 : 0),
			(unsigned long long)(r->base_tag >> 48), r->sha[0]);
	}
}

/* Every write nobody wrote over or removed after seeing it is still the
   content of a file in the tree. */
static void writes_kept(struct rep *p)
{
	static struct view w;

	w.n = 0;
	walk(p, root, &w);
	for (size_t i = 0; i < nrec; i++) {
		const struct nsrec *c = &recs[i].r;
		int seen = 0, found = 0;

		if (c->type != NSREC_CONTENT)
			continue;
		for (size_t j = 0; j < nrec && !seen; j++) {
			const struct nsrec *o = &recs[j].r;

			seen = (o->type == NSREC_CONTENT || (o->type == NSREC_PLACE &&
							     nsrec_id_is_trash(o->parent))) &&
			       o->base_hlc == c->hlc && o->base_tag == nsrec_tag(c->origin);
		}
		for (int j = 0; j < w.n && !seen && !found; j++)
			found = w.v[j].kind == 'f' && w.v[j].size == c->size &&
				memcmp(w.v[j].sha, c->sha, NSREC_SHA_BYTES) == 0;
		ck_assert_msg(seen || found, "write %zu lost", i);
	}
}

START_TEST(test_property)
{
	const char *one = getenv("TREE_SEED");
	uint64_t seed = one ? strtoull(one, NULL, 0) : (uint64_t)_i + 1;
	int steps;

	rng = seed * 0x9e3779b97f4a7c15ull | 1;
	reps_open(3 + (int)rn(3));
	steps = 100 + (int)rn(150);
	for (int s = 0; s < steps; s++) {
		struct rep *p = &reps[rn((unsigned)nreps)];

		if (rn(100) < 60)
			random_op(p);
		else
			random_deliver(p, 0);
	}
	for (int i = 0; i < nreps; i++)
		while (random_deliver(&reps[i], 1))
			;
	same_all();
	if (getenv("TREE_DUMP"))
		recs_print();
	writes_kept(&reps[0]);
	if (getenv("TREE_DUMP")) {
		char *d;

		ck_assert_int_eq(db_tree_dump(reps[0].t, &d), 0);
		fprintf(stderr, "seed %llu, %zu records:\n%s", (unsigned long long)seed, nrec, d);
		free(d);
	}
	reps_close();
}
END_TEST

static Suite *tree_suite(void)
{
	Suite *s = suite_create("tree");
	TCase *tc = tcase_create("core");
	const char *n = getenv("TREE_SEEDS");
	int seeds = getenv("TREE_SEED") ? 1 : n ? atoi(n) : 1000;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_two_node_swap);
	tcase_add_test(tc, test_three_node_cycle);
	tcase_add_test(tc, test_move_vs_move);
	tcase_add_loop_test(tc, test_move_vs_delete, 0, 2);
	tcase_add_loop_test(tc, test_create_same_name, 0, 3);
	tcase_add_test(tc, test_write_write);
	tcase_add_loop_test(tc, test_write_delete, 0, 2);
	tcase_add_loop_test(tc, test_rmr_vs_create, 0, 2);
	tcase_add_test(tc, test_move_into_removed);
	tcase_add_test(tc, test_attrs);
	tcase_add_test(tc, test_link_vs_rm);
	tcase_add_loop_test(tc, test_late_record, 0, (int)(sizeof(depths) / sizeof(depths[0])));
	suite_add_tcase(s, tc);
	tc = tcase_create("property");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_property, 0, seeds);
	suite_add_tcase(s, tc);
	return s;
}


int main(void)
{
	log_init("check_tree", LOG_LVL_WARNING);
	return check_run(tree_suite());
}
