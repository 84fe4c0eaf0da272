/*
 * bench/syncpath: the namespace path of replication without the network,
 * on one machine: node a holds BENCH_SYNC_ENTRIES versions (folders of
 * 1,000 empty files); a fresh node c asks for them as the sync thread
 * does, answer after answer, and each step is timed apart: a's answers
 * (reading, signing its own versions), c's decoding, c's checks (keys and
 * an Ed25519 verification per version) and c's applying them to its
 * database.  Then c asks a again after taking the same versions from a
 * relay (b): the gap check must send back almost nothing.
 *
 *   make bench-sync     (BENCH_SYNC_ENTRIES, default 100000; BENCH_DIR)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "db.h"
#include "ident.h"
#include "log.h"
#include "sync.h"

struct node {
	struct ident id;
	struct clock *clock;
	struct db *db;
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void node_up(struct node *n, const char *base, const char *name)
{
	char dir[4096], file[4200];

	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	snprintf(file, sizeof(file), "mkdir -p '%s'", dir);
	if (system(file) != 0 || ident_load(dir, 1, &n->id) != 0 ||
	    (n->clock = clock_new(NULL, NULL)) == NULL)
		exit(1);
	snprintf(file, sizeof(file), "%s/oand.db", dir);
	if (db_open(file, n->id.public_key, n->clock, &n->db) != 0)
		exit(1);
}

struct times {
	double answer, decode, check, apply;
	size_t answers, recs, bytes;
};

/* to pulls from from until nothing more comes. */
static void pull(struct node *to, struct node *from, struct times *t)
{
	int more = 1;

	while (more) {
		uint8_t *q = NULL, *ans = NULL;
		size_t qlen = 0, alen = 0;
		struct sync_batch b;
		double s = now();

		if (sync_question(to->db, from->id.public_key, &q, &qlen) != 0 ||
		    sync_answer(from->db, &from->id, q, qlen, &ans, &alen) != 0)
			exit(1);
		t->answer += now() - s;
		s = now();
		if (sync_decode_reply(ans, alen, &b) != 0)
			exit(1);
		t->decode += now() - s;
		s = now();
		if (sync_check_reply(to->db, to->id.public_key, from->id.public_key, &b, NULL, NULL) != 0)
			exit(1);
		t->check += now() - s;
		s = now();
		if (db_apply(to->db, b.recs, b.n, b.ranges, b.nranges, NULL, NULL) < 0)
			exit(1);
		t->apply += now() - s;
		t->answers++;
		t->recs += b.n;
		t->bytes += alen;
		more = b.more;
		sync_batch_clear(&b);
		free(q);
		free(ans);
	}
}

static void row(const char *what, const struct times *t)
{
	double all = t->answer + t->decode + t->check + t->apply;

	printf("| %s | %zu | %zu | %.1f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f |\n", what, t->answers,
	       t->recs, (double)t->bytes / 1048576.0, t->answer, t->decode, t->check, t->apply, all,
	       all > 0 ? (double)t->recs / all : 0.0);
}

int main(void)
{
	const char *env = getenv("BENCH_SYNC_ENTRIES"), *dir = getenv("BENCH_DIR");
	long entries = env ? atol(env) : 100000;
	char base[4096], cmd[4200], path[64];
	struct node a, b, c;
	struct times t1 = { 0 }, t2 = { 0 }, t3 = { 0 };
	double s;

	log_init("syncpath", LOG_LVL_ERROR);
	snprintf(base, sizeof(base), "%s/oand-syncpath.%d", dir ? dir : "/var/tmp", (int)getpid());
	node_up(&a, base, "a");
	node_up(&b, base, "b");
	node_up(&c, base, "c");
	s = now();
	for (long i = 0; i < entries; i++) {
		struct db_publish p = { 0 };

		if (i % 1000 == 0) {
			snprintf(path, sizeof(path), "/d%ld", i / 1000);
			if (db_mkdir(a.db, path, 0755, 0, 0) != 0)
				return 1;
		}
		snprintf(path, sizeof(path), "/d%ld/f%ld", i / 1000, i);
		p.path = path;
		p.create = 1;
		p.mode = 0644;
		if (db_publish(a.db, &p) != 0)
			return 1;
	}
	fprintf(stderr, "syncpath: %ld entries made on a in %.1f s\n", entries, now() - s);
	printf("| pull | answers | versions | MiB | answer s | decode s | check s | apply s | total s | versions/s |\n");
	printf("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
	pull(&c, &a, &t1);
	row("fresh c from a (the origin)", &t1);
	pull(&b, &a, &t2);
	row("fresh b from a (the origin)", &t2);
	/* a fresh node d catches up from the relay b, then asks a */
	{
		struct node d;
		struct times t4 = { 0 };

		node_up(&d, base, "d");
		pull(&d, &b, &t4);
		row("fresh d from b (a relay)", &t4);
		pull(&d, &a, &t3);
		row("then d from a (gap check)", &t3);
		db_close(d.db);
	}
	db_close(a.db);
	db_close(b.db);
	db_close(c.db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : 1;
}
