/*
 * Unit tests for src/core/node, the filesystem operations under FUSE, on a real
 * data dir: write/read round trips, close-to-open (a version is published
 * at flush, never before), truncate, files removed or renamed while open,
 * the sha256 xattr against an independent SHA-256, the data dir lock,
 * the status (its counts, and its text for people) and the set-ID bits a write or chown takes away.
 * Every test has its own data dir below a base folder that the parent
 * process makes and removes around the test case.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "deadline.h"
#include "log.h"
#include "node.h"
#include "status.h"
#include "store.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

#define CHECK_TMP_NAME "check_node"
#include "check_tmp.h"
#include "check_run.h"

struct t {
	char dir[128];
	char data[160];
	struct cfg *cfg;
	struct node *n;
};

static void t_open(struct t *t)
{
	ck_assert_int_eq(node_open(t->cfg, NULL, &t->n), 0);
	ck_assert_ptr_nonnull(t->n);
}

static void t_close(struct t *t)
{
	node_close(t->n);
	t->n = NULL;
}

static void t_init(struct t *t)
{
	char text[512], err[256] = "";

	memset(t, 0, sizeof(*t));
	log_init("check_node", LOG_LVL_WARNING);
	snprintf(t->dir, sizeof(t->dir), "%s/t.XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	/* not there yet: node_open makes it */
	snprintf(t->data, sizeof(t->data), "%s/data", t->dir);
	snprintf(text, sizeof(text),
		 "oand: {\n  server-name = \"unit-node\";\n  data-dir = \"%s\";\n};\n", t->data);
	ck_assert_msg(cfg_parse_string(text, &t->cfg, err, sizeof(err)) == 0, "%s", err);
	t_open(t);
}

static void t_done(struct t *t)
{
	t_close(t);
	cfg_free(t->cfg);
	ck_assert_int_eq(rm_tree(t->dir), 0);
}

static int exists(const char *p)
{
	struct stat sb;

	return lstat(p, &sb) == 0;
}

/* Is the blob of this content in the store on disk? */
static int blob_on_disk(struct t *t, const void *data, size_t len)
{
	uint8_t sha[32];
	char hex[STORE_HEX_LEN], p[PATH_MAX];

	ck_assert_int_ge(sodium_init(), 0);
	crypto_hash_sha256(sha, data, len);
	store_hex(sha, hex);
	snprintf(p, sizeof(p), "%s/objects/%.2s/%.2s/%s", t->data, hex, hex + 2, hex);
	return exists(p);
}

static void put_file(struct t *t, const char *path, const void *data, size_t len)
{
	struct node_file *f = NULL;

	ck_assert_int_eq(node_create(t->n, path, 0644, O_WRONLY | O_CREAT | O_TRUNC, 0, 0, &f), 0);
	ck_assert_ptr_nonnull(f);
	if (len > 0)
		ck_assert_int_eq(node_file_write(f, data, len, 0), (ssize_t)len);
	ck_assert_int_eq(node_file_flush(f), 0);
	ck_assert_int_eq(node_file_release(f), 0);
}

/* Read a whole file through a new handle; its length. */
static ssize_t get_file(struct t *t, const char *path, char *buf, size_t size)
{
	struct node_file *f = NULL;
	ssize_t n;
	int r = node_open_file(t->n, path, O_RDONLY, &f);

	if (r != 0)
		return r;
	n = node_file_read(f, buf, size, 0);
	ck_assert_int_eq(node_file_release(f), 0);
	return n;
}

static void expect_content(struct t *t, const char *path, const char *want, size_t len)
{
	char *buf = malloc(len + 16);
	ssize_t n = get_file(t, path, buf, len + 16);
	struct stat st;

	ck_assert_msg(n == (ssize_t)len, "%s: read %zd bytes, want %zu", path, n, len);
	ck_assert_mem_eq(buf, want, len);
	ck_assert_int_eq(node_getattr(t->n, path, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)len);
	free(buf);
}

static void expect_str(struct t *t, const char *path, const char *want)
{
	expect_content(t, path, want, strlen(want));
}

struct listing {
	char names[64][64];
	int n;
};

static int list_cb(const char *name, const struct stat *st, int64_t cursor, void *ctx)
{
	struct listing *l = ctx;

	(void)st;
	(void)cursor;
	ck_assert_int_lt(l->n, 64);
	snprintf(l->names[l->n++], sizeof(l->names[0]), "%s", name);
	return 0;
}

static int listed(struct t *t, const char *dir, const char *name)
{
	struct listing l = { .n = 0 };

	ck_assert_int_eq(node_readdir(t->n, dir, 0, list_cb, &l), 0);
	for (int i = 0; i < l.n; i++)
		if (strcmp(l.names[i], name) == 0)
			return 1;
	return 0;
}

START_TEST(test_open_makes_data_dir)
{
	struct t t;
	char p[PATH_MAX];
	uint8_t id[NODE_ID_BYTES], zero[NODE_ID_BYTES] = { 0 };
	struct stat sb;

	t_init(&t);
	snprintf(p, sizeof(p), "%s/node.key", t.data);
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_int_eq(sb.st_size, 32);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);	/* a secret */
	snprintf(p, sizeof(p), "%s/oand.db", t.data);
	ck_assert(exists(p));
	snprintf(p, sizeof(p), "%s/objects", t.data);
	ck_assert(exists(p));
	snprintf(p, sizeof(p), "%s/staging", t.data);
	ck_assert(exists(p));
	memcpy(id, node_id(t.n), NODE_ID_BYTES);
	ck_assert_int_ne(memcmp(id, zero, NODE_ID_BYTES), 0);
	/* the identity survives a restart */
	t_close(&t);
	t_open(&t);
	ck_assert_mem_eq(node_id(t.n), id, NODE_ID_BYTES);
	/* the root is an empty folder */
	ck_assert_int_eq(node_getattr(t.n, "/", &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	ck_assert(!listed(&t, "/", "."));
	t_done(&t);
}
END_TEST

/* The data dir's lock file, as the holder wrote it. */
static void lock_text(struct t *t, char *buf, size_t len)
{
	char p[PATH_MAX];
	FILE *f;
	size_t k;

	snprintf(p, sizeof(p), "%s/lock", t->data);
	ck_assert_ptr_nonnull(f = fopen(p, "r"));
	k = fread(buf, 1, len - 1, f);
	buf[k] = '\0';
	fclose(f);
}

/* One node per data dir: a start against a holder that runs is refused
   at once, whatever lock-wait says, and changes nothing of its record. */
START_TEST(test_second_open_busy)
{
	struct t t;
	struct node *n2 = (struct node *)1;
	char want[64], got[256];
	int64_t t0;

	t_init(&t);
	t.cfg->lock_wait_ms = 10000;
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	lock_text(&t, got, sizeof(got));
	ck_assert_str_eq(got, want);
	t0 = deadline_now_ms();
	ck_assert_int_eq(node_open(t.cfg, NULL, &n2), -EBUSY);
	ck_assert_int_lt(deadline_now_ms() - t0, 2000);
	ck_assert_ptr_null(n2);
	lock_text(&t, got, sizeof(got));
	ck_assert_str_eq(got, want);
	/* the first node is unharmed */
	put_file(&t, "/still-works", "ok", 2);
	expect_str(&t, "/still-works", "ok");
	/* and once it is gone, the data dir can be opened again */
	t_close(&t);
	ck_assert_int_eq(node_open(t.cfg, NULL, &n2), 0);
	t.n = n2;
	expect_str(&t, "/still-works", "ok");
	t_done(&t);
}
END_TEST

/* A holder that says it stops but does not exit: waited for lock-wait,
   then refused. */
START_TEST(test_second_open_gives_up)
{
	struct t t;
	struct node *n2 = (struct node *)1;
	char want[64], got[256];
	int64_t t0;

	t_init(&t);
	t.cfg->lock_wait_ms = 300;
	node_note_stopping(t.n);
	snprintf(want, sizeof(want), "%ld\nstopping\n", (long)getpid());
	lock_text(&t, got, sizeof(got));
	ck_assert_str_eq(got, want);
	t0 = deadline_now_ms();
	ck_assert_int_eq(node_open(t.cfg, NULL, &n2), -EBUSY);
	ck_assert_int_ge(deadline_now_ms() - t0, 300);
	ck_assert_ptr_null(n2);
	t_done(&t);
}
END_TEST

struct closer {
	struct t *t;
	int64_t after_ms;
};

static void *close_later(void *arg)
{
	struct closer *c = arg;

	poll(NULL, 0, (int)c->after_ms);
	t_close(c->t);
	return NULL;
}

/* A start while the holder is on its way out waits for it and starts:
   the holder said it stops (_i == 0), or its mount is gone (_i == 1: an
   unmount returns before the node hears of it).  No oand mount is on
   the mount point named here. */
START_TEST(test_open_waits_for_exiting_holder)
{
	struct t t;
	struct node *n2 = NULL;
	struct closer c = { &t, 200 };
	char got[256];
	pthread_t th;
	int64_t t0;

	t_init(&t);
	t.cfg->lock_wait_ms = 10000;
	put_file(&t, "/kept", "ok", 2);
	if (_i == 0) {
		node_note_stopping(t.n);
	} else {
		node_note_mounted(t.n, "/no where/oand");
		lock_text(&t, got, sizeof(got));
		ck_assert_ptr_nonnull(strstr(got, "\nmounted /no\\040where/oand\n"));
	}
	t0 = deadline_now_ms();
	ck_assert_int_eq(pthread_create(&th, NULL, close_later, &c), 0);
	ck_assert_int_eq(node_open(t.cfg, NULL, &n2), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_ge(deadline_now_ms() - t0, 200);
	ck_assert_int_lt(deadline_now_ms() - t0, 5000);
	t.n = n2;
	expect_str(&t, "/kept", "ok");
	t_done(&t);
}
END_TEST

START_TEST(test_round_trip)
{
	struct t t;
	struct node_file *f = NULL;
	struct stat st;
	char buf[64];

	t_init(&t);
	ck_assert_int_eq(node_create(t.n, "/f", 0640, O_RDWR | O_CREAT, 0, 0, &f), 0);
	ck_assert_int_eq(node_file_write(f, "hello ", 6, 0), 6);
	ck_assert_int_eq(node_file_write(f, "world", 5, 6), 5);
	/* the writer sees its own writes, and getattr the staged size */
	ck_assert_int_eq(node_file_read(f, buf, sizeof(buf), 0), 11);
	ck_assert_mem_eq(buf, "hello world", 11);
	ck_assert_int_eq(node_file_read(f, buf, 5, 6), 5);
	ck_assert_mem_eq(buf, "world", 5);
	ck_assert_int_eq(node_file_read(f, buf, sizeof(buf), 100), 0);
	ck_assert_int_eq(node_getattr(t.n, "/f", &st), 0);
	ck_assert_int_eq(st.st_size, 11);
	ck_assert_int_eq(node_file_getattr(f, &st), 0);
	ck_assert_int_eq(st.st_size, 11);
	ck_assert_int_eq(node_file_flush(f), 0);
	ck_assert_int_eq(node_file_release(f), 0);

	expect_str(&t, "/f", "hello world");
	ck_assert_int_eq(node_getattr(t.n, "/f", &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	ck_assert(listed(&t, "/", "f"));
	ck_assert(blob_on_disk(&t, "hello world", 11));

	/* rewrite in place through a read-write handle */
	ck_assert_int_eq(node_open_file(t.n, "/f", O_RDWR, &f), 0);
	ck_assert_int_eq(node_file_write(f, "W", 1, 6), 1);
	ck_assert_int_eq(node_file_write(f, "!", 1, 11), 1);
	ck_assert_int_eq(node_file_release(f), 0);	/* release publishes too */
	expect_str(&t, "/f", "hello World!");
	/* the old content's blob was collected */
	ck_assert(!blob_on_disk(&t, "hello world", 11));
	ck_assert(blob_on_disk(&t, "hello World!", 12));
	t_done(&t);
}
END_TEST

/* Bigger content, written out of order and in pieces. */
START_TEST(test_large_out_of_order)
{
	enum { SIZE = 3 << 20, CHUNK = 65536 };
	struct t t;
	struct node_file *f = NULL;
	char *data = malloc(SIZE), *back = malloc(SIZE);
	uint8_t sha[32];
	char hex[STORE_HEX_LEN], xa[80];

	t_init(&t);
	for (size_t i = 0; i < SIZE; i++)
		data[i] = (char)((i * 2654435761u) >> 13);
	ck_assert_int_eq(node_create(t.n, "/big", 0644, O_WRONLY | O_CREAT, 0, 0, &f), 0);
	/* second half first, then the first half backwards */
	for (size_t off = SIZE / 2; off < SIZE; off += CHUNK)
		ck_assert_int_eq(node_file_write(f, data + off, CHUNK, (off_t)off), CHUNK);
	for (size_t off = SIZE / 2; off > 0; off -= CHUNK)
		ck_assert_int_eq(node_file_write(f, data + off - CHUNK, CHUNK, (off_t)(off - CHUNK)),
				 CHUNK);
	ck_assert_int_eq(node_file_release(f), 0);
	ck_assert_int_eq(get_file(&t, "/big", back, SIZE), SIZE);
	ck_assert_int_eq(memcmp(back, data, SIZE), 0);
	ck_assert_int_ge(sodium_init(), 0);
	crypto_hash_sha256(sha, (unsigned char *)data, SIZE);
	store_hex(sha, hex);
	ck_assert_int_eq(node_getxattr(t.n, "/big", "user.oand.sha256", xa, sizeof(xa)), 64);
	ck_assert_mem_eq(xa, hex, 64);

	/* the same content written in order takes the running-hash path */
	ck_assert_int_eq(node_create(t.n, "/big2", 0644, O_WRONLY | O_CREAT, 0, 0, &f), 0);
	for (size_t off = 0; off < SIZE; off += CHUNK)
		ck_assert_int_eq(node_file_write(f, data + off, CHUNK, (off_t)off), CHUNK);
	ck_assert_int_eq(node_file_release(f), 0);
	ck_assert_int_eq(node_getxattr(t.n, "/big2", "user.oand.sha256", xa, sizeof(xa)), 64);
	ck_assert_mem_eq(xa, hex, 64);
	free(data);
	free(back);
	t_done(&t);
}
END_TEST

/* A version is visible to opens that come after its flush, not before. */
START_TEST(test_close_to_open)
{
	struct t t;
	struct node_file *w = NULL, *early = NULL, *late = NULL;
	char buf[64];

	t_init(&t);
	put_file(&t, "/doc", "old content", 11);
	ck_assert_int_eq(node_open_file(t.n, "/doc", O_RDWR, &w), 0);
	ck_assert_int_eq(node_file_write(w, "NEW CONTENT, LONGER", 19, 0), 19);
	/* opened before the flush: the old version */
	ck_assert_int_eq(node_open_file(t.n, "/doc", O_RDONLY, &early), 0);
	ck_assert_int_eq(node_file_read(early, buf, sizeof(buf), 0), 11);
	ck_assert_mem_eq(buf, "old content", 11);
	ck_assert_int_eq(node_file_flush(w), 0);
	/* an open handle keeps the version it opened, even after the flush */
	ck_assert_int_eq(node_file_read(early, buf, sizeof(buf), 0), 11);
	ck_assert_mem_eq(buf, "old content", 11);
	/* a new open sees the new version */
	ck_assert_int_eq(node_open_file(t.n, "/doc", O_RDONLY, &late), 0);
	ck_assert_int_eq(node_file_read(late, buf, sizeof(buf), 0), 19);
	ck_assert_mem_eq(buf, "NEW CONTENT, LONGER", 19);
	ck_assert_int_eq(node_file_release(early), 0);
	ck_assert_int_eq(node_file_release(late), 0);
	ck_assert_int_eq(node_file_release(w), 0);
	expect_str(&t, "/doc", "NEW CONTENT, LONGER");
	ck_assert(!blob_on_disk(&t, "old content", 11));
	t_done(&t);
}
END_TEST

/* A new file is published empty at create; its content at flush. */
START_TEST(test_create_then_flush)
{
	struct t t;
	struct node_file *f = NULL, *g = NULL;
	char buf[16], xa[80];
	struct stat st;

	t_init(&t);
	ck_assert_int_eq(node_create(t.n, "/new", 0600, O_WRONLY | O_CREAT | O_EXCL, 0, 0, &f), 0);
	ck_assert_int_eq(node_file_write(f, "abc", 3, 0), 3);
	ck_assert_int_eq(node_open_file(t.n, "/new", O_RDONLY, &g), 0);
	ck_assert_int_eq(node_file_read(g, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(node_file_release(g), 0);
	ck_assert_int_eq(node_getxattr(t.n, "/new", "user.oand.sha256", xa, sizeof(xa)), 64);
	ck_assert_mem_eq(xa, SHA_EMPTY, 64);
	ck_assert_int_eq(node_file_flush(f), 0);
	ck_assert_int_eq(node_getxattr(t.n, "/new", "user.oand.sha256", xa, sizeof(xa)), 64);
	ck_assert_mem_eq(xa, SHA_ABC, 64);
	ck_assert_int_eq(node_file_release(f), 0);
	ck_assert_int_eq(node_getattr(t.n, "/new", &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	/* O_EXCL on an existing name; without O_EXCL it opens the file */
	ck_assert_int_eq(node_create(t.n, "/new", 0600, O_WRONLY | O_CREAT | O_EXCL, 0, 0, &f),
			 -EEXIST);
	ck_assert_int_eq(node_create(t.n, "/new", 0600, O_RDWR | O_CREAT, 0, 0, &f), 0);
	ck_assert_int_eq(node_file_read(f, buf, sizeof(buf), 0), 3);
	ck_assert_int_eq(node_file_release(f), 0);
	/* an empty file */
	ck_assert_int_eq(node_create(t.n, "/empty", 0644, O_WRONLY | O_CREAT, 0, 0, &f), 0);
	ck_assert_int_eq(node_file_release(f), 0);
	expect_str(&t, "/empty", "");
	ck_assert_int_eq(node_getxattr(t.n, "/empty", "user.oand.sha256", xa, sizeof(xa)), 64);
	ck_assert_mem_eq(xa, SHA_EMPTY, 64);
	t_done(&t);
}
END_TEST

START_TEST(test_truncate)
{
	struct t t;
	struct node_file *f = NULL;
	char buf[32];
	struct stat st;

	t_init(&t);
	put_file(&t, "/t", "hello world", 11);
	ck_assert_int_eq(node_truncate(t.n, "/t", 5), 0);
	expect_str(&t, "/t", "hello");
	ck_assert_int_eq(node_truncate(t.n, "/t", 8), 0);
	expect_content(&t, "/t", "hello\0\0\0", 8);
	ck_assert_int_eq(node_truncate(t.n, "/t", 0), 0);
	expect_str(&t, "/t", "");
	ck_assert_int_eq(node_truncate(t.n, "/nope", 0), -ENOENT);
	ck_assert_int_eq(node_mkdir(t.n, "/dir", 0755, 0, 0), 0);
	ck_assert_int_eq(node_truncate(t.n, "/dir", 0), -EISDIR);

	/* through a handle: shrink, then write past the end */
	put_file(&t, "/t", "0123456789", 10);
	ck_assert_int_eq(node_open_file(t.n, "/t", O_RDWR, &f), 0);
	ck_assert_int_eq(node_file_truncate(f, 4), 0);
	ck_assert_int_eq(node_file_getattr(f, &st), 0);
	ck_assert_int_eq(st.st_size, 4);
	ck_assert_int_eq(node_file_read(f, buf, sizeof(buf), 0), 4);
	/* other opens still read the published version (getattr on this node
	   reports the staged size, as documented) */
	ck_assert_int_eq(get_file(&t, "/t", buf, sizeof(buf)), 10);
	ck_assert_mem_eq(buf, "0123456789", 10);
	ck_assert_int_eq(node_getattr(t.n, "/t", &st), 0);
	ck_assert_int_eq(st.st_size, 4);
	ck_assert_int_eq(node_file_write(f, "X", 1, 6), 1);
	ck_assert_int_eq(node_file_release(f), 0);
	expect_content(&t, "/t", "0123\0\0X", 7);

	/* O_TRUNC empties at open; the empty version is published at close */
	ck_assert_int_eq(node_open_file(t.n, "/t", O_WRONLY | O_TRUNC, &f), 0);
	ck_assert_int_eq(node_file_getattr(f, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert_int_eq(node_file_release(f), 0);
	expect_str(&t, "/t", "");
	/* truncate to 0 then write from the start */
	put_file(&t, "/t", "abcdef", 6);
	ck_assert_int_eq(node_open_file(t.n, "/t", O_RDWR, &f), 0);
	ck_assert_int_eq(node_file_truncate(f, 0), 0);
	ck_assert_int_eq(node_file_write(f, "xyz", 3, 0), 3);
	ck_assert_int_eq(node_file_release(f), 0);
	expect_str(&t, "/t", "xyz");
	/* a read-only handle cannot change anything */
	ck_assert_int_eq(node_open_file(t.n, "/t", O_RDONLY, &f), 0);
	ck_assert_int_eq(node_file_truncate(f, 1), -EBADF);
	ck_assert_int_eq(node_file_write(f, "q", 1, 0), -EBADF);
	ck_assert_int_eq(node_file_release(f), 0);
	expect_str(&t, "/t", "xyz");
	t_done(&t);
}
END_TEST

/* A file removed while open is not brought back by its flush. */
START_TEST(test_unlink_open_file)
{
	struct t t;
	struct node_file *f = NULL;
	struct stat st;
	char buf[32];

	t_init(&t);
	ck_assert_int_eq(node_create(t.n, "/u", 0644, O_RDWR | O_CREAT, 0, 0, &f), 0);
	ck_assert_int_eq(node_file_write(f, "unlinked data", 13, 0), 13);
	ck_assert_int_eq(node_unlink(t.n, "/u"), 0);
	ck_assert_int_eq(node_file_flush(f), 0);
	ck_assert_int_eq(node_getattr(t.n, "/u", &st), -ENOENT);
	ck_assert(!listed(&t, "/", "u"));
	/* the handle still holds the data */
	ck_assert_int_eq(node_file_read(f, buf, sizeof(buf), 0), 13);
	ck_assert_mem_eq(buf, "unlinked data", 13);
	ck_assert_int_eq(node_file_getattr(f, &st), 0);
	ck_assert_int_eq(st.st_size, 13);
	ck_assert_int_eq(node_file_write(f, "more", 4, 13), 4);
	ck_assert_int_eq(node_file_release(f), 0);
	ck_assert_int_eq(node_getattr(t.n, "/u", &st), -ENOENT);
	ck_assert_int_eq(node_open_file(t.n, "/u", O_RDONLY, &f), -ENOENT);
	/* its content is not kept either */
	ck_assert(!blob_on_disk(&t, "unlinked data", 13));
	ck_assert(!blob_on_disk(&t, "unlinked datamore", 17));

	/* same for a file that had a published version */
	put_file(&t, "/v", "v1", 2);
	ck_assert_int_eq(node_open_file(t.n, "/v", O_WRONLY, &f), 0);
	ck_assert_int_eq(node_file_write(f, "v2", 2, 0), 2);
	ck_assert_int_eq(node_unlink(t.n, "/v"), 0);
	ck_assert_int_eq(node_file_release(f), 0);
	ck_assert_int_eq(node_getattr(t.n, "/v", &st), -ENOENT);
	ck_assert(!blob_on_disk(&t, "v1", 2));
	ck_assert(!blob_on_disk(&t, "v2", 2));
	/* a new file of that name is a new file */
	put_file(&t, "/v", "v3", 2);
	expect_str(&t, "/v", "v3");
	t_done(&t);
}
END_TEST

/* A file renamed while open is published under its new name. */
START_TEST(test_rename_open_file)
{
	struct t t;
	struct node_file *f = NULL;
	struct stat st;

	t_init(&t);
	ck_assert_int_eq(node_mkdir(t.n, "/d", 0755, 0, 0), 0);
	ck_assert_int_eq(node_create(t.n, "/r1", 0644, O_WRONLY | O_CREAT, 0, 0, &f), 0);
	ck_assert_int_eq(node_file_write(f, "moved", 5, 0), 5);
	ck_assert_int_eq(node_rename(t.n, "/r1", "/d/r2", 0), 0);
	ck_assert_int_eq(node_file_flush(f), 0);
	ck_assert_int_eq(node_file_release(f), 0);
	ck_assert_int_eq(node_getattr(t.n, "/r1", &st), -ENOENT);
	expect_str(&t, "/d/r2", "moved");

	/* the folder around an open file moves */
	ck_assert_int_eq(node_mkdir(t.n, "/p", 0755, 0, 0), 0);
	ck_assert_int_eq(node_mkdir(t.n, "/p/q", 0755, 0, 0), 0);
	put_file(&t, "/p/q/x", "before", 6);
	ck_assert_int_eq(node_open_file(t.n, "/p/q/x", O_RDWR, &f), 0);
	ck_assert_int_eq(node_file_write(f, "AFTER!", 6, 0), 6);
	ck_assert_int_eq(node_rename(t.n, "/p", "/p2", 0), 0);
	ck_assert_int_eq(node_file_release(f), 0);
	expect_str(&t, "/p2/q/x", "AFTER!");
	ck_assert_int_eq(node_getattr(t.n, "/p/q/x", &st), -ENOENT);
	ck_assert_int_eq(node_getattr(t.n, "/p", &st), -ENOENT);

	/* renamed over: the open file of the replaced name loses its name */
	put_file(&t, "/a", "aaa", 3);
	put_file(&t, "/b", "bbb", 3);
	ck_assert_int_eq(node_open_file(t.n, "/b", O_RDWR, &f), 0);
	ck_assert_int_eq(node_file_write(f, "BBB", 3, 0), 3);
	ck_assert_int_eq(node_rename(t.n, "/a", "/b", 0), 0);
	ck_assert_int_eq(node_file_release(f), 0);
	expect_str(&t, "/b", "aaa");
	ck_assert_int_eq(node_getattr(t.n, "/a", &st), -ENOENT);
	ck_assert(!blob_on_disk(&t, "bbb", 3));
	ck_assert(!blob_on_disk(&t, "BBB", 3));

	ck_assert_int_eq(node_rename(t.n, "/b", "/d/r2", RENAME_NOREPLACE), -EEXIST);
	t_done(&t);
}
END_TEST

START_TEST(test_xattrs)
{
	struct t t;
	char xa[512], hex[STORE_HEX_LEN];
	const char *content = "The quick brown fox jumps over the lazy dog";
	uint8_t sha[32];
	int len;

	t_init(&t);
	put_file(&t, "/abc", "abc", 3);
	ck_assert_int_eq(node_getxattr(t.n, "/abc", "user.oand.sha256", NULL, 0), 64);
	ck_assert_int_eq(node_getxattr(t.n, "/abc", "user.oand.sha256", xa, sizeof(xa)), 64);
	ck_assert_mem_eq(xa, SHA_ABC, 64);
	ck_assert_int_eq(node_getxattr(t.n, "/abc", "user.oand.sha256", xa, 10), -ERANGE);

	put_file(&t, "/fox", content, strlen(content));
	ck_assert_int_ge(sodium_init(), 0);
	crypto_hash_sha256(sha, (const unsigned char *)content, strlen(content));
	store_hex(sha, hex);
	/* the well-known digest of this sentence */
	ck_assert_str_eq(hex, "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592");
	ck_assert_int_eq(node_getxattr(t.n, "/fox", "user.oand.sha256", xa, sizeof(xa)), 64);
	ck_assert_mem_eq(xa, hex, 64);

	/* this node holds what it wrote */
	store_hex(node_id(t.n), hex);
	len = node_getxattr(t.n, "/fox", "user.oand.holders", xa, sizeof(xa));
	ck_assert_int_ge(len, 64);
	xa[len] = '\0';
	ck_assert_ptr_nonnull(strstr(xa, hex));

	len = node_listxattr(t.n, "/fox", xa, sizeof(xa));
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(node_listxattr(t.n, "/fox", NULL, 0), len);
	ck_assert_str_eq(xa, "user.oand.sha256");
	ck_assert_int_lt((int)strlen(xa) + 1, len);
	ck_assert_str_eq(xa + strlen(xa) + 1, "user.oand.holders");

	ck_assert_int_eq(node_getxattr(t.n, "/fox", "user.other", xa, sizeof(xa)), -ENODATA);
	ck_assert_int_eq(node_mkdir(t.n, "/d", 0755, 0, 0), 0);
	ck_assert_int_eq(node_getxattr(t.n, "/d", "user.oand.sha256", xa, sizeof(xa)), -ENODATA);
	ck_assert_int_eq(node_listxattr(t.n, "/d", xa, sizeof(xa)), 0);
	ck_assert_int_eq(node_getxattr(t.n, "/nope", "user.oand.sha256", xa, sizeof(xa)), -ENOENT);
	t_done(&t);
}
END_TEST

/* Same content in two files is one blob, kept while either uses it. */
START_TEST(test_shared_content)
{
	struct t t;

	t_init(&t);
	put_file(&t, "/one", "shared", 6);
	put_file(&t, "/two", "shared", 6);
	ck_assert(blob_on_disk(&t, "shared", 6));
	ck_assert_int_eq(node_unlink(t.n, "/one"), 0);
	ck_assert(blob_on_disk(&t, "shared", 6));
	expect_str(&t, "/two", "shared");
	ck_assert_int_eq(node_unlink(t.n, "/two"), 0);
	ck_assert(!blob_on_disk(&t, "shared", 6));
	/* the empty blob is always kept */
	ck_assert(blob_on_disk(&t, "", 0));
	t_done(&t);
}
END_TEST

START_TEST(test_namespace_ops)
{
	struct t t;
	struct stat st;
	char name[300], p[320], buf[64];
	struct listing l = { .n = 0 };

	t_init(&t);
	ck_assert_int_eq(node_mkdir(t.n, "/d", 0750, 12, 34), 0);
	ck_assert_int_eq(node_getattr(t.n, "/d", &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0750);
	ck_assert_uint_eq(st.st_uid, 12);
	ck_assert_uint_eq(st.st_gid, 34);
	ck_assert_int_eq(node_mkdir(t.n, "/d", 0755, 0, 0), -EEXIST);
	ck_assert_int_eq(node_mkdir(t.n, "/", 0755, 0, 0), -EEXIST);
	ck_assert_int_eq(node_mkdir(t.n, "/x/y", 0755, 0, 0), -ENOENT);
	ck_assert_int_eq(node_mkdir(t.n, "/d/../e", 0755, 0, 0), -EINVAL);
	ck_assert_int_eq(node_mkdir(t.n, "/d/", 0755, 0, 0), -EINVAL);
	memset(name, 'n', 256);
	name[256] = '\0';
	snprintf(p, sizeof(p), "/%s", name);
	ck_assert_int_eq(node_mkdir(t.n, p, 0755, 0, 0), -ENAMETOOLONG);
	name[255] = '\0';
	snprintf(p, sizeof(p), "/%s", name);
	ck_assert_int_eq(node_mkdir(t.n, p, 0755, 0, 0), 0);

	put_file(&t, "/d/f", "x", 1);
	ck_assert_int_eq(node_rmdir(t.n, "/d"), -ENOTEMPTY);
	ck_assert_int_eq(node_unlink(t.n, "/d"), -EISDIR);
	ck_assert_int_eq(node_rmdir(t.n, "/d/f"), -ENOTDIR);
	ck_assert_int_eq(node_readdir(t.n, "/d", 0, list_cb, &l), 0);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.names[0], "f");
	ck_assert_int_eq(node_readdir(t.n, "/d/f", 0, list_cb, &l), -ENOTDIR);
	ck_assert_int_eq(node_open_file(t.n, "/d", O_RDONLY, &(struct node_file *){ NULL }),
			 -EISDIR);

	ck_assert_int_eq(node_symlink(t.n, "f", "/d/l", 0, 0), 0);
	ck_assert_int_eq(node_readlink(t.n, "/d/l", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "f");
	ck_assert_int_eq(node_getattr(t.n, "/d/l", &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(node_readlink(t.n, "/d/f", buf, sizeof(buf)), -EINVAL);

	ck_assert_int_eq(node_chmod(t.n, "/d/f", 0600), 0);
	ck_assert_int_eq(node_chown(t.n, "/d/f", 7, 8), 0);
	ck_assert_int_eq(node_utimens(t.n, "/d/f", 1000000000123LL), 0);
	ck_assert_int_eq(node_getattr(t.n, "/d/f", &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_uint_eq(st.st_uid, 7);
	ck_assert_uint_eq(st.st_gid, 8);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1000);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 123);

	ck_assert_int_eq(node_unlink(t.n, "/d/f"), 0);
	ck_assert_int_eq(node_unlink(t.n, "/d/l"), 0);
	ck_assert_int_eq(node_rmdir(t.n, "/d"), 0);
	ck_assert_int_eq(node_getattr(t.n, "/d", &st), -ENOENT);
	t_done(&t);
}
END_TEST

/* Everything published survives a restart of the node. */
START_TEST(test_persist_reopen)
{
	struct t t;

	t_init(&t);
	ck_assert_int_eq(node_mkdir(t.n, "/keep", 0755, 0, 0), 0);
	put_file(&t, "/keep/a", "alpha", 5);
	put_file(&t, "/b", "bravo", 5);
	t_close(&t);
	t_open(&t);
	expect_str(&t, "/keep/a", "alpha");
	expect_str(&t, "/b", "bravo");
	ck_assert(blob_on_disk(&t, "alpha", 5));
	t_done(&t);
}
END_TEST

/* A number field of the status. */
static json_int_t st_int(const json_t *st, const char *key)
{
	json_t *v = json_object_get(st, key);

	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

START_TEST(test_status)
{
	struct t t;
	json_t *st;
	struct node_file *f1 = NULL, *f2 = NULL;
	char hex[STORE_HEX_LEN], *json, *text;

	t_init(&t);
	ck_assert_ptr_nonnull(st = node_status_get(t.n));
	ck_assert_str_eq(json_string_value(json_object_get(st, "name")), "unit-node");
	ck_assert_str_eq(json_string_value(json_object_get(st, "data_dir")), t.data);
	ck_assert(json_is_null(json_object_get(st, "mount_point")));
	ck_assert_int_eq(st_int(st, "pid"), (long)getpid());
	ck_assert_int_gt(st_int(st, "started"), 0);
	store_hex(node_id(t.n), hex);
	ck_assert_str_eq(json_string_value(json_object_get(st, "id")), hex);
	ck_assert_int_eq(st_int(st, "entries"), 0);
	ck_assert_int_eq(st_int(st, "open_files"), 0);
	/* Standalone and not mounted: no network, no mount, nothing
	   replicated or transferred (but the fields are there). */
	ck_assert(json_is_null(json_object_get(st, "fuse")));
	ck_assert(json_is_null(json_object_get(st, "tox")));
	ck_assert_int_eq(json_array_size(json_object_get(json_object_get(st, "sync"), "members")), 0);
	ck_assert_int_eq(json_array_size(json_object_get(st, "transfers")), 0);
	json_decref(st);

	ck_assert_int_eq(node_mkdir(t.n, "/d", 0755, 0, 0), 0);
	put_file(&t, "/d/a", "x", 1);
	put_file(&t, "/b", "yy", 2);
	put_file(&t, "/c", "yy", 2);
	put_file(&t, "/gone", "zzz", 3);
	ck_assert_int_eq(node_symlink(t.n, "b", "/l", 0, 0), 0);
	ck_assert_int_eq(node_unlink(t.n, "/gone"), 0);
	ck_assert_int_eq(node_open_file(t.n, "/b", O_RDONLY, &f1), 0);
	ck_assert_int_eq(node_open_file(t.n, "/c", O_RDWR, &f2), 0);

	ck_assert_ptr_nonnull(st = node_status_get(t.n));
	ck_assert_int_eq(st_int(st, "entries"), 5);
	ck_assert_int_eq(st_int(st, "files"), 3);
	ck_assert_int_eq(st_int(st, "folders"), 1);
	ck_assert_int_eq(st_int(st, "symlinks"), 1);
	ck_assert_int_eq(st_int(st, "bytes"), 5);
	ck_assert_int_eq(st_int(st, "tombstones"), 1);
	ck_assert_int_eq(st_int(st, "blobs"), 2);
	ck_assert_int_eq(st_int(st, "bytes_named"), 3);
	/* On disk: what the store holds (not every content named has a
	   blob of its own there). */
	ck_assert_int_ge(st_int(st, "blobs_stored"), 1);
	ck_assert_int_ge(st_int(st, "bytes_stored"), 1);
	ck_assert_int_eq(st_int(st, "partials"), 0);
	ck_assert_int_eq(st_int(st, "open_files"), 2);

	ck_assert_ptr_nonnull(json = json_dumps(st, STATUS_JSON_FLAGS));
	ck_assert_ptr_nonnull(strstr(json, "{\"name\":\"unit-node\",\"id\":\""));
	ck_assert_ptr_nonnull(strstr(json, "\"files\":3"));
	ck_assert_ptr_nonnull(strstr(json, "\"folders\":1"));
	ck_assert_ptr_nonnull(strstr(json, "\"open_files\":2"));
	ck_assert_ptr_nonnull(strstr(json, "\"mount_point\":null"));
	ck_assert_ptr_nonnull(strstr(json, "\"fuse\":null,\"tox\":null,\"sync\":{\"pulls\":0,"));
	ck_assert_ptr_nonnull(strstr(json, "\"members\":[]},\"transfers\":[]}"));
	free(json);
	ck_assert_int_eq(status_text(st, &text), 0);
	ck_assert_ptr_nonnull(strstr(text, "node:        unit-node\n"));
	ck_assert_ptr_nonnull(strstr(text, "entries:     5 (3 files, 1 folders, 1 symlinks)\n"));
	ck_assert_ptr_nonnull(strstr(text, "mount point: (not mounted)\n"));
	ck_assert_ptr_nonnull(strstr(text, "open files:  2\nnetwork:     standalone (no cluster-key)\n"));
	free(text);
	json_decref(st);

	ck_assert_int_eq(node_file_release(f1), 0);
	ck_assert_int_eq(node_file_release(f2), 0);
	ck_assert_ptr_nonnull(st = node_status_get(t.n));
	ck_assert_int_eq(st_int(st, "open_files"), 0);
	json_decref(st);
	t_done(&t);
}
END_TEST

/* The text for people, from a status of a member of a cluster with a
   mount, as the node writes it. */
START_TEST(test_status_text)
{
	static const char in[] =
		"{\"name\":\"b\",\"id\":\"00ff\",\"version\":\"0.1.0\",\"pid\":42,\"started\":86400,"
		"\"data_dir\":\"/var/lib/oand\",\"mount_point\":\"/mnt/oand\",\"entries\":9,"
		"\"files\":6,\"folders\":2,\"symlinks\":1,\"bytes\":1000,\"blobs\":5,"
		"\"bytes_named\":900,\"blobs_stored\":4,\"bytes_stored\":800,\"partials\":1,"
		"\"partial_bytes\":70,\"tombstones\":3,\"open_files\":2,"
		"\"fuse\":{\"in_flight\":2,\"stuck\":1,\"oldest_ms\":2500,\"oldest_op\":\"READ\","
		"\"requests\":77,\"self_renames\":0},"
		"\"tox\":{\"id\":\"T0X\",\"dht_key\":\"D\",\"udp_port\":33445,\"ipv6\":false,"
		"\"connection\":\"udp\",\"friends\":3,\"online\":2,\"members\":2,\"refused\":1,"
		"\"removed\":true,\"nodes\":4,\"nodes_online\":3},"
		"\"sync\":{\"pulls\":1,\"members\":["
		"{\"name\":\"a\",\"linked\":false,\"caught_up\":false,\"behind\":0,"
		"\"behind_seconds\":0.0,\"since_answer_seconds\":-0.0,\"stalled\":false,\"pulls\":0,"
		"\"pull_age_ms\":0,\"last_error\":null,\"link\":null},"
		"{\"name\":\"c\",\"linked\":true,\"caught_up\":true,\"behind\":0,"
		"\"behind_seconds\":0.0,\"since_answer_seconds\":1.5,\"stalled\":false,\"pulls\":0,"
		"\"pull_age_ms\":0,\"last_error\":null,\"link\":{\"paced\":true,\"rate\":10240,"
		"\"rtt_ms\":80,\"queued_bytes\":12,\"receiving\":0,\"receiving_of\":0}},"
		"{\"name\":\"d\",\"linked\":true,\"caught_up\":false,\"behind\":7,"
		"\"behind_seconds\":12.4,\"since_answer_seconds\":30.2,\"stalled\":true,\"pulls\":1,"
		"\"pull_age_ms\":4250,\"last_error\":\"Connection timed out\",\"link\":{\"rate\":512,"
		"\"rtt_ms\":900,\"queued_bytes\":0,\"receiving\":100,\"receiving_of\":400}},"
		"{\"name\":\"e\",\"linked\":true,\"caught_up\":false,\"behind\":0,"
		"\"behind_seconds\":3.0,\"stalled\":false,\"pulls\":1,\"pull_age_ms\":500,"
		"\"link\":{\"rate\":0,\"rtt_ms\":0,\"queued_bytes\":0,\"receiving_of\":0}}]},"
		"\"transfers\":["
		"{\"file\":\"/big\",\"peer\":\"a\",\"direction\":\"out\",\"done\":250,\"size\":1000,"
		"\"bytes_per_second\":2048,\"eta_seconds\":0},"
		"{\"file\":\"/f\",\"peer\":\"\",\"direction\":\"in\",\"done\":5,\"size\":3145728,"
		"\"bytes_per_second\":0,\"eta_seconds\":-1,\"state\":\"waiting for a holder\","
		"\"readers\":1,\"waited_seconds\":2.0},"
		"{\"file\":\"/g\",\"peer\":\"c\",\"direction\":\"in\",\"done\":0,\"size\":0,"
		"\"bytes_per_second\":0,\"eta_seconds\":-1,\"state\":\"asked\",\"readers\":0,"
		"\"waited_seconds\":0.0}]}";
	static const char want[] =
		"node:        b\n"
		"id:          00ff\n"
		"version:     0.1.0\n"
		"pid:         42 (running since 1970-01-02T00:00:00Z)\n"
		"data dir:    /var/lib/oand\n"
		"mount point: /mnt/oand\n"
		"entries:     9 (6 files, 2 folders, 1 symlinks)\n"
		"bytes:       1000 in files\n"
		"contents:    5 distinct, 900 bytes\n"
		"stored:      800 bytes in 4 blobs on this node, 70 bytes in 1 partial download(s)\n"
		"open files:  2\n"
		"network:     Tox T0X on UDP port 33445, DHT connected; 2 member(s) online of 3 "
		"friend(s), 1 refused; 3 of 4 node(s) online; REMOVED from the cluster\n"
		"requests:    2 in flight, the oldest READ for 2.5 s; STUCK (see the log)\n"
		"member:      a: not linked\n"
		"member:      c: caught up; to it: 10.0 KiB/s, round trip 80 ms, 12 bytes queued\n"
		"member:      d: behind by 7 change(s) for 12 s; NO ANSWER for 30 s; an answer under "
		"way for 4.2 s, 100 of 400 bytes here; to it: 0.5 KiB/s, round trip 900 ms, "
		"0 bytes queued\n"
		"member:      e: catching up for 3 s; a question waiting for 0.5 s; to it: 0.0 KiB/s, "
		"round trip 0 ms, 0 bytes queued\n"
		"transfer:    sending /big to a: 250 of 1000 bytes (25%), 2.0 KiB/s, ETA 0 s\n"
		"transfer:    fetching /f: no holder answers yet; 1 reader(s) waiting for 2 s, 5 of "
		"3145728 bytes here\n"
		"transfer:    fetching /g from c: 0 of 0 bytes (100%), 0.0 KiB/s, waiting\n";
	json_t *st = json_loads(in, 0, NULL);
	char *text = NULL;

	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(status_text(st, &text), 0);
	ck_assert_str_eq(text, want);
	free(text);
	/* A mount with nothing in flight. */
	json_object_set_new(json_object_get(st, "fuse"), "in_flight", json_integer(0));
	ck_assert_int_eq(status_text(st, &text), 0);
	ck_assert_ptr_nonnull(strstr(text, "\nrequests:    none in flight (77 in all)\nmember:"));
	free(text);
	json_decref(st);
	ck_assert_int_eq(status_text(json_null(), &text), -EINVAL);
	ck_assert_ptr_null(text);
}
END_TEST

static int in_group_7(gid_t g, void *ctx)
{
	(void)ctx;
	return g == 7;
}

/* The set-ID bits a change takes away, as Linux does on a local disk. */
START_TEST(test_setid_rule)
{
	struct node_cred user = { 1000, 1000, 0, NULL, NULL };
	struct node_cred member = { 1000, 1000, 0, in_group_7, NULL };
	struct node_cred root = { 0, 0, 1, NULL, NULL };
	const int W = NODE_SETID_WRITE, C = NODE_SETID_CHOWN;

	/* a write by a caller without CAP_FSETID */
	ck_assert_uint_eq(node_setid_drop(06777, 0, &user, W), 06000);
	ck_assert_uint_eq(node_setid_drop(04755, 0, &user, W), 04000);
	ck_assert_uint_eq(node_setid_drop(02775, 1000, &user, W), 02000);	/* group-executable */
	ck_assert_uint_eq(node_setid_drop(02767, 7, &user, W), 02000);	/* not in its group */
	ck_assert_uint_eq(node_setid_drop(02767, 1000, &user, W), 0);	/* its own group */
	ck_assert_uint_eq(node_setid_drop(02767, 7, &member, W), 0);	/* a group it is in */
	ck_assert_uint_eq(node_setid_drop(00777, 0, &user, W), 0);
	/* root keeps them when writing */
	ck_assert_uint_eq(node_setid_drop(06777, 5, &root, W), 0);
	/* chown: the set-user-ID bit goes for anyone */
	ck_assert_uint_eq(node_setid_drop(06777, 0, &root, C), 06000);
	ck_assert_uint_eq(node_setid_drop(06745, 5, &root, C), 04000);
	ck_assert_uint_eq(node_setid_drop(02745, 7, &user, C), 02000);
	ck_assert_uint_eq(node_setid_drop(02745, 7, &member, C), 0);
}
END_TEST

static uint32_t mode_of(struct t *t, const char *path)
{
	struct stat st;

	ck_assert_int_eq(node_getattr(t->n, path, &st), 0);
	return st.st_mode & 07777;
}

/*
 * Writes through an open file: the bits go at the first write by a user,
 * stay for root, and go again when set again while the file is open (its
 * copy of the mode is not trusted past a chmod).
 */
START_TEST(test_setid_open_file)
{
	struct node_cred user = { 1000, 1000, 0, NULL, NULL };
	struct node_cred root = { 0, 0, 1, NULL, NULL };
	struct node_file *f = NULL;
	struct t t;

	t_init(&t);
	put_file(&t, "/s", "x", 1);
	ck_assert_int_eq(node_chmod(t.n, "/s", 06777), 0);
	ck_assert_int_eq(node_open_file(t.n, "/s", O_RDWR, &f), 0);
	ck_assert_int_eq(node_file_setid(f, &root, NODE_SETID_WRITE), 0);
	ck_assert_uint_eq(mode_of(&t, "/s"), 06777);
	ck_assert_int_eq(node_file_setid(f, &user, NODE_SETID_WRITE), 1);
	ck_assert_uint_eq(mode_of(&t, "/s"), 0777);
	ck_assert_int_eq(node_file_setid(f, &user, NODE_SETID_WRITE), 0);
	ck_assert_int_eq(node_chmod(t.n, "/s", 04755), 0);
	ck_assert_int_eq(node_file_setid(f, &user, NODE_SETID_WRITE), 1);
	ck_assert_uint_eq(mode_of(&t, "/s"), 0755);
	ck_assert_int_eq(node_file_release(f), 0);
	/* by path (truncate), and for chown; folders keep theirs */
	ck_assert_int_eq(node_chmod(t.n, "/s", 06775), 0);
	ck_assert_int_eq(node_setid(t.n, "/s", &root, NODE_SETID_CHOWN), 1);
	ck_assert_uint_eq(mode_of(&t, "/s"), 0775);
	ck_assert_int_eq(node_mkdir(t.n, "/d", 02775, 0, 0), 0);
	ck_assert_int_eq(node_setid(t.n, "/d", &user, NODE_SETID_WRITE), 0);
	ck_assert_uint_eq(mode_of(&t, "/d"), 02775);
	ck_assert_int_eq(node_setid(t.n, "/nope", &user, NODE_SETID_WRITE), -ENOENT);
	t_done(&t);
}
END_TEST

static Suite *node_suite(void)
{
	Suite *s = suite_create("node");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, base_make, base_remove);
	tcase_add_test(tc, test_open_makes_data_dir);
	tcase_add_test(tc, test_second_open_busy);
	tcase_add_test(tc, test_second_open_gives_up);
	tcase_add_loop_test(tc, test_open_waits_for_exiting_holder, 0, 2);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_large_out_of_order);
	tcase_add_test(tc, test_close_to_open);
	tcase_add_test(tc, test_create_then_flush);
	tcase_add_test(tc, test_truncate);
	tcase_add_test(tc, test_unlink_open_file);
	tcase_add_test(tc, test_rename_open_file);
	tcase_add_test(tc, test_xattrs);
	tcase_add_test(tc, test_shared_content);
	tcase_add_test(tc, test_namespace_ops);
	tcase_add_test(tc, test_persist_reopen);
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_status_text);
	tcase_add_test(tc, test_setid_rule);
	tcase_add_test(tc, test_setid_open_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(node_suite());
}
