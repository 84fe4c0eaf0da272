/*
 * Unit tests for src/store: staging + commit puts a read-only blob at
 * objects/ab/cd/<hex>; the same content is stored once; a blob is checked
 * against its name before it is served and a corrupt one is moved to
 * DATA/corrupt and refused with -EIO; opening cleans staging; gc removes
 * only what is not in use; the space kept free on the disk.  Every test
 * has its own data dir below a base folder that the parent process makes
 * and removes around the test case.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store.h"

#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_HELLO "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define SHA_MILLION_A "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

#define CHECK_TMP_NAME "check_store"
#include "check_tmp.h"
#include "check_run.h"

struct t {
	char dir[128];
	struct store *st;
};

static void t_init(struct t *t)
{
	memset(t, 0, sizeof(*t));
	log_init("check_store", LOG_LVL_WARNING);
	snprintf(t->dir, sizeof(t->dir), "%s/t.XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	ck_assert_int_eq(store_open(t->dir, &t->st), 0);
	ck_assert_ptr_nonnull(t->st);
}

static void t_done(struct t *t)
{
	store_close(t->st);
	t->st = NULL;
	ck_assert_int_eq(rm_tree(t->dir), 0);
}

static void sub(const struct t *t, const char *rel, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s", t->dir, rel);

	ck_assert(n > 0 && (size_t)n < len);
}

static void blob_file(const struct t *t, const char *hex, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/objects/%.2s/%.2s/%s", t->dir, hex, hex + 2, hex);

	ck_assert(n > 0 && (size_t)n < len);
}

/* Plain entries (no dot files) in a folder; -1 if it does not exist. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int exists(const char *p)
{
	struct stat sb;

	return lstat(p, &sb) == 0;
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		ck_assert_int_gt(n, 0);
		p += n;
		len -= (size_t)n;
	}
}

/* Store data through staging; its hash in sha.  Returns store_commit's result. */
static int put(struct t *t, const void *data, size_t len, uint8_t sha[STORE_SHA_BYTES],
	       char *stage, size_t stagelen)
{
	char path[PATH_MAX];
	uint64_t size = (uint64_t)-1;
	int fd = -1, r;

	ck_assert_int_eq(store_staging_new(t->st, &fd, path, sizeof(path)), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert(exists(path));
	write_all(fd, data, len);
	ck_assert_int_eq(store_hash_fd(fd, sha, &size), 0);
	ck_assert_uint_eq(size, len);
	r = store_commit(t->st, fd, path, sha);
	close(fd);
	if (stage != NULL)
		snprintf(stage, stagelen, "%s", path);
	return r;
}

/*
 * Wait (at most a few seconds) until the kernel's coarse clock, which
 * stamps ctime on kernels without fine-grained timestamps, has moved past
 * p's ctime: a change made now is then sure to get a different ctime.
 */
static void wait_ctime_passed(const char *p)
{
	struct stat sb;
	struct timespec now, pause = { 0, 1000000 };

	ck_assert_int_eq(stat(p, &sb), 0);
	for (int i = 0; i < 5000; i++) {
		clock_gettime(CLOCK_REALTIME_COARSE, &now);
		if (now.tv_sec > sb.st_ctim.tv_sec ||
		    (now.tv_sec == sb.st_ctim.tv_sec && now.tv_nsec > sb.st_ctim.tv_nsec))
			return;
		nanosleep(&pause, NULL);
	}
	ck_abort_msg("the clock does not move past %s's ctime", p);
}

static void read_fd(int fd, char *buf, size_t len, size_t want)
{
	ssize_t n = pread(fd, buf, len, 0);

	ck_assert_int_eq(n, (ssize_t)want);
}

START_TEST(test_open_makes_folders)
{
	struct t t;
	char p[PATH_MAX];
	struct store *st2 = (struct store *)1;

	t_init(&t);
	sub(&t, "objects", p, sizeof(p));
	ck_assert(exists(p));
	sub(&t, "staging", p, sizeof(p));
	ck_assert(exists(p));
	ck_assert_int_eq(count_entries(p), 0);
	/* the data dir itself must exist */
	sub(&t, "missing/data", p, sizeof(p));
	ck_assert_int_eq(store_open(p, &st2), -ENOENT);
	ck_assert_ptr_null(st2);
	t_done(&t);
}
END_TEST

START_TEST(test_hex)
{
	uint8_t sha[STORE_SHA_BYTES], back[STORE_SHA_BYTES];
	char hex[STORE_HEX_LEN];

	for (int i = 0; i < STORE_SHA_BYTES; i++)
		sha[i] = (uint8_t)(i * 37 + 5);
	sha[0] = 0x00;
	sha[31] = 0xff;
	store_hex(sha, hex);
	ck_assert_uint_eq(strlen(hex), 64);
	ck_assert_int_eq(strncmp(hex, "00", 2), 0);
	ck_assert_str_eq(hex + 62, "ff");
	for (int i = 0; i < 64; i++)
		ck_assert_msg((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f'),
			      "bad digit %c", hex[i]);
	ck_assert_int_eq(store_unhex(hex, back), 0);
	ck_assert_mem_eq(back, sha, STORE_SHA_BYTES);

	ck_assert_int_eq(store_unhex(SHA_ABC, back), 0);
	ck_assert_int_eq(back[0], 0xba);
	ck_assert_int_eq(back[1], 0x78);
	ck_assert_int_eq(back[31], 0xad);
	store_hex(back, hex);
	ck_assert_str_eq(hex, SHA_ABC);
}
END_TEST

START_TEST(test_unhex_refuses)
{
	uint8_t sha[STORE_SHA_BYTES];
	char s[80];

	/* too short, too long, not hex, upper case (blob names are lower case) */
	ck_assert_int_eq(store_unhex("", sha), -EINVAL);
	snprintf(s, sizeof(s), "%.63s", SHA_ABC);
	ck_assert_int_eq(store_unhex(s, sha), -EINVAL);
	snprintf(s, sizeof(s), "%s0", SHA_ABC);
	ck_assert_int_eq(store_unhex(s, sha), -EINVAL);
	snprintf(s, sizeof(s), "%s", SHA_ABC);
	s[10] = 'g';
	ck_assert_int_eq(store_unhex(s, sha), -EINVAL);
	snprintf(s, sizeof(s), "%s", SHA_ABC);
	s[0] = 'B';
	ck_assert_int_eq(store_unhex(s, sha), -EINVAL);
	snprintf(s, sizeof(s), "%s", SHA_ABC);
	s[63] = '.';
	ck_assert_int_eq(store_unhex(s, sha), -EINVAL);
	ck_assert_int_eq(store_unhex("stage.AbC123", sha), -EINVAL);
}
END_TEST

START_TEST(test_hash_fd)
{
	struct t t;
	uint8_t sha[STORE_SHA_BYTES], want[STORE_SHA_BYTES];
	char hex[STORE_HEX_LEN], path[PATH_MAX];
	uint64_t size = 99;
	size_t big = 3u << 20;	/* more than the 1 MiB read buffer */
	char *buf = malloc(1000000 > big ? 1000000 : big);
	int fd;

	t_init(&t);
	ck_assert_int_eq(store_staging_new(t.st, &fd, path, sizeof(path)), 0);
	ck_assert_int_eq(store_hash_fd(fd, sha, &size), 0);
	ck_assert_uint_eq(size, 0);
	store_hex(sha, hex);
	ck_assert_str_eq(hex, SHA_EMPTY);

	write_all(fd, "abc", 3);
	ck_assert_int_eq(store_hash_fd(fd, sha, NULL), 0);
	store_hex(sha, hex);
	ck_assert_str_eq(hex, SHA_ABC);

	ck_assert_int_eq(ftruncate(fd, 0), 0);
	memset(buf, 'a', 1000000);
	ck_assert_int_eq(pwrite(fd, buf, 1000000, 0), 1000000);
	/* the file offset does not matter: pread from 0 */
	ck_assert_int_eq(lseek(fd, 12345, SEEK_SET), 12345);
	ck_assert_int_eq(store_hash_fd(fd, sha, &size), 0);
	ck_assert_uint_eq(size, 1000000);
	store_hex(sha, hex);
	ck_assert_str_eq(hex, SHA_MILLION_A);

	for (size_t i = 0; i < big; i++)
		buf[i] = (char)(i * 131 + (i >> 12));
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(pwrite(fd, buf, big, 0), (ssize_t)big);
	ck_assert_int_eq(store_hash_fd(fd, sha, &size), 0);
	ck_assert_uint_eq(size, big);
	ck_assert_int_eq(sodium_init() >= 0, 1);
	crypto_hash_sha256(want, (const unsigned char *)buf, big);
	ck_assert_mem_eq(sha, want, STORE_SHA_BYTES);
	close(fd);
	free(buf);
	t_done(&t);
}
END_TEST

START_TEST(test_commit_places_blob)
{
	struct t t;
	uint8_t sha[STORE_SHA_BYTES];
	char hex[STORE_HEX_LEN], p[PATH_MAX], stage[PATH_MAX], buf[64];
	struct stat sb;
	int fd = -1;

	t_init(&t);
	ck_assert_int_eq(put(&t, "hello", 5, sha, stage, sizeof(stage)), 0);
	store_hex(sha, hex);
	ck_assert_str_eq(hex, SHA_HELLO);
	/* objects/2c/f2/2cf24d... */
	snprintf(p, sizeof(p), "%s/objects/2c/f2/%s", t.dir, SHA_HELLO);
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_uint_eq(sb.st_size, 5);
	ck_assert_uint_eq(sb.st_mode & 07777, 0400);
	/* the staging name is gone, staging is empty */
	ck_assert(!exists(stage));
	sub(&t, "staging", p, sizeof(p));
	ck_assert_int_eq(count_entries(p), 0);
	ck_assert_int_eq(store_has(t.st, sha), 1);

	ck_assert_int_eq(store_open_blob(t.st, sha, &fd), 0);
	ck_assert_int_ge(fd, 0);
	read_fd(fd, buf, sizeof(buf), 5);
	ck_assert_mem_eq(buf, "hello", 5);
	close(fd);
	/* again, after forgetting the verification */
	store_forget_verified(t.st);
	ck_assert_int_eq(store_open_blob(t.st, sha, &fd), 0);
	read_fd(fd, buf, sizeof(buf), 5);
	close(fd);
	t_done(&t);
}
END_TEST

START_TEST(test_dedup)
{
	struct t t;
	uint8_t s1[STORE_SHA_BYTES], s2[STORE_SHA_BYTES], s3[STORE_SHA_BYTES];
	char p[PATH_MAX], stage[PATH_MAX], buf[16];
	struct stat before, after;
	int fd;

	t_init(&t);
	ck_assert_int_eq(put(&t, "abc", 3, s1, NULL, 0), 0);
	blob_file(&t, SHA_ABC, p, sizeof(p));
	ck_assert_int_eq(stat(p, &before), 0);
	ck_assert_int_eq(put(&t, "abc", 3, s2, stage, sizeof(stage)), 0);
	ck_assert_mem_eq(s1, s2, STORE_SHA_BYTES);
	/* the second staging file was dropped, the first blob kept */
	ck_assert(!exists(stage));
	sub(&t, "staging", p, sizeof(p));
	ck_assert_int_eq(count_entries(p), 0);
	blob_file(&t, SHA_ABC, p, sizeof(p));
	ck_assert_int_eq(stat(p, &after), 0);
	ck_assert_uint_eq(after.st_ino, before.st_ino);
	snprintf(p, sizeof(p), "%s/objects/ba/78", t.dir);
	ck_assert_int_eq(count_entries(p), 1);
	snprintf(p, sizeof(p), "%s/objects", t.dir);
	ck_assert_int_eq(count_entries(p), 1);
	/* different content is a second blob */
	ck_assert_int_eq(put(&t, "abd", 3, s3, NULL, 0), 0);
	ck_assert_int_ne(memcmp(s1, s3, STORE_SHA_BYTES), 0);
	ck_assert_int_eq(store_has(t.st, s3), 1);
	ck_assert_int_eq(store_open_blob(t.st, s1, &fd), 0);
	read_fd(fd, buf, sizeof(buf), 3);
	ck_assert_mem_eq(buf, "abc", 3);
	close(fd);
	t_done(&t);
}
END_TEST

/* A blob changed on disk is never served: -EIO, and it moves to corrupt/. */
START_TEST(test_corrupt_blob_same_size)
{
	struct t t;
	uint8_t sha[STORE_SHA_BYTES];
	char hex[STORE_HEX_LEN], p[PATH_MAX], q[PATH_MAX], buf[64];
	int fd = -1, wfd;

	t_init(&t);
	ck_assert_int_eq(put(&t, "hello world", 11, sha, NULL, 0), 0);
	store_hex(sha, hex);
	/* served once, so its verification is remembered */
	ck_assert_int_eq(store_open_blob(t.st, sha, &fd), 0);
	close(fd);

	blob_file(&t, hex, p, sizeof(p));
	/* verified blobs are remembered by (inode, size, ctime); where ctime has
	   clock-tick granularity a change in the same tick would go unseen */
	wait_ctime_passed(p);
	ck_assert_int_eq(chmod(p, 0600), 0);
	wfd = open(p, O_WRONLY);
	ck_assert_int_ge(wfd, 0);
	ck_assert_int_eq(pwrite(wfd, "J", 1, 0), 1);	/* same size, one byte off */
	close(wfd);

	fd = 1234;
	ck_assert_int_eq(store_open_blob(t.st, sha, &fd), -EIO);
	ck_assert_int_eq(fd, -1);
	ck_assert(!exists(p));
	ck_assert_int_eq(store_has(t.st, sha), 0);
	snprintf(q, sizeof(q), "%s/corrupt/%s", t.dir, hex);
	ck_assert(exists(q));
	wfd = open(q, O_RDONLY);
	ck_assert_int_ge(wfd, 0);
	read_fd(wfd, buf, sizeof(buf), 11);
	ck_assert_mem_eq(buf, "Jello world", 11);
	close(wfd);
	/* gone for good: the next open finds nothing */
	ck_assert_int_eq(store_open_blob(t.st, sha, &fd), -ENOENT);
	/* and storing the content again repairs it */
	ck_assert_int_eq(put(&t, "hello world", 11, sha, NULL, 0), 0);
	ck_assert_int_eq(store_open_blob(t.st, sha, &fd), 0);
	read_fd(fd, buf, sizeof(buf), 11);
	ck_assert_mem_eq(buf, "hello world", 11);
	close(fd);
	t_done(&t);
}
END_TEST

START_TEST(test_corrupt_blob_truncated)
{
	struct t t;
	uint8_t sha[STORE_SHA_BYTES];
	char hex[STORE_HEX_LEN], p[PATH_MAX], q[PATH_MAX];
	int fd = -1;

	t_init(&t);
	ck_assert_int_eq(put(&t, "some longer content", 19, sha, NULL, 0), 0);
	store_hex(sha, hex);
	blob_file(&t, hex, p, sizeof(p));
	ck_assert_int_eq(chmod(p, 0600), 0);
	ck_assert_int_eq(truncate(p, 4), 0);
	ck_assert_int_eq(store_open_blob(t.st, sha, &fd), -EIO);
	ck_assert_int_eq(fd, -1);
	ck_assert(!exists(p));
	snprintf(q, sizeof(q), "%s/corrupt/%s", t.dir, hex);
	ck_assert(exists(q));
	t_done(&t);
}
END_TEST

/* A file under a blob's name that is not that content at all. */
START_TEST(test_wrong_file_under_name)
{
	struct t t;
	uint8_t sha[STORE_SHA_BYTES];
	char p[PATH_MAX];
	int fd = -1, wfd;

	t_init(&t);
	ck_assert_int_eq(store_unhex(SHA_ABC, sha), 0);
	snprintf(p, sizeof(p), "%s/objects/ba", t.dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/objects/ba/78", t.dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	blob_file(&t, SHA_ABC, p, sizeof(p));
	wfd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0400);
	ck_assert_int_ge(wfd, 0);
	write_all(wfd, "xyz", 3);
	close(wfd);
	ck_assert_int_eq(store_has(t.st, sha), 1);
	ck_assert_int_eq(store_open_blob(t.st, sha, &fd), -EIO);
	ck_assert_int_eq(store_has(t.st, sha), 0);
	t_done(&t);
}
END_TEST

START_TEST(test_open_missing_blob)
{
	struct t t;
	uint8_t sha[STORE_SHA_BYTES];
	int fd = 77;

	t_init(&t);
	ck_assert_int_eq(store_unhex(SHA_HELLO, sha), 0);
	ck_assert_int_eq(store_has(t.st, sha), 0);
	ck_assert_int_eq(store_open_blob(t.st, sha, &fd), -ENOENT);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(store_remove(t.st, sha), -ENOENT);
	t_done(&t);
}
END_TEST

START_TEST(test_remove)
{
	struct t t;
	uint8_t sha[STORE_SHA_BYTES];
	int fd;

	t_init(&t);
	ck_assert_int_eq(put(&t, "abc", 3, sha, NULL, 0), 0);
	ck_assert_int_eq(store_has(t.st, sha), 1);
	ck_assert_int_eq(store_remove(t.st, sha), 0);
	ck_assert_int_eq(store_has(t.st, sha), 0);
	ck_assert_int_eq(store_open_blob(t.st, sha, &fd), -ENOENT);
	ck_assert_int_eq(store_remove(t.st, sha), -ENOENT);
	t_done(&t);
}
END_TEST

/* Leftovers of a crash in staging are removed when the store opens. */
START_TEST(test_open_cleans_staging)
{
	struct t t;
	char p[PATH_MAX], stage[PATH_MAX], keep[PATH_MAX];
	uint8_t sha[STORE_SHA_BYTES];
	int fd;

	t_init(&t);
	ck_assert_int_eq(put(&t, "abc", 3, sha, NULL, 0), 0);
	/* an unfinished write: staged but never committed */
	ck_assert_int_eq(store_staging_new(t.st, &fd, stage, sizeof(stage)), 0);
	write_all(fd, "half", 4);
	close(fd);
	ck_assert(exists(stage));
	sub(&t, "staging/stage.leftover", p, sizeof(p));
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	store_close(t.st);
	t.st = NULL;

	ck_assert_int_eq(store_open(t.dir, &t.st), 0);
	ck_assert(!exists(stage));
	ck_assert(!exists(p));
	sub(&t, "staging", keep, sizeof(keep));
	ck_assert_int_eq(count_entries(keep), 0);
	/* blobs are not touched */
	ck_assert_int_eq(store_has(t.st, sha), 1);
	t_done(&t);
}
END_TEST

START_TEST(test_staging_names)
{
	struct t t;
	char p1[PATH_MAX], p2[PATH_MAX], small[8], dir[PATH_MAX];
	int fd1, fd2, fd3 = 5;

	t_init(&t);
	ck_assert_int_eq(store_staging_new(t.st, &fd1, p1, sizeof(p1)), 0);
	ck_assert_int_eq(store_staging_new(t.st, &fd2, p2, sizeof(p2)), 0);
	ck_assert_str_ne(p1, p2);
	sub(&t, "staging/", dir, sizeof(dir));
	ck_assert_int_eq(strncmp(p1, dir, strlen(dir)), 0);
	ck_assert_int_eq(store_staging_new(t.st, &fd3, small, sizeof(small)), -ENAMETOOLONG);
	ck_assert_int_eq(fd3, -1);
	close(fd1);
	close(fd2);
	t_done(&t);
}
END_TEST

struct keep_set {
	uint8_t keep[4][STORE_SHA_BYTES];
	int n;
	int calls;
};

static int in_use(const uint8_t sha[STORE_SHA_BYTES], void *ctx)
{
	struct keep_set *k = ctx;

	k->calls++;
	for (int i = 0; i < k->n; i++)
		if (memcmp(k->keep[i], sha, STORE_SHA_BYTES) == 0)
			return 1;
	return 0;
}

START_TEST(test_gc)
{
	struct t t;
	uint8_t a[STORE_SHA_BYTES], b[STORE_SHA_BYTES], c[STORE_SHA_BYTES], d[STORE_SHA_BYTES];
	struct keep_set k = { 0 };
	char p[PATH_MAX], stray[PATH_MAX], stray2[PATH_MAX];
	int fd;

	t_init(&t);
	ck_assert_int_eq(put(&t, "blob a", 6, a, NULL, 0), 0);
	ck_assert_int_eq(put(&t, "blob b", 6, b, NULL, 0), 0);
	ck_assert_int_eq(put(&t, "blob c", 6, c, NULL, 0), 0);
	ck_assert_int_eq(put(&t, "", 0, d, NULL, 0), 0);
	/* files that are not blobs are left alone */
	snprintf(p, sizeof(p), "%s/objects/zz", t.dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/objects/zz/yy", t.dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(stray, sizeof(stray), "%s/objects/zz/yy/not-a-blob", t.dir);
	fd = open(stray, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(stray2, sizeof(stray2), "%s/objects/README", t.dir);
	fd = open(stray2, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);

	memcpy(k.keep[0], a, STORE_SHA_BYTES);
	memcpy(k.keep[1], d, STORE_SHA_BYTES);
	k.n = 2;
	ck_assert_int_eq(store_gc(t.st, in_use, &k), 2);
	ck_assert_int_eq(k.calls, 4);
	ck_assert_int_eq(store_has(t.st, a), 1);
	ck_assert_int_eq(store_has(t.st, d), 1);
	ck_assert_int_eq(store_has(t.st, b), 0);
	ck_assert_int_eq(store_has(t.st, c), 0);
	ck_assert(exists(stray));
	ck_assert(exists(stray2));
	/* nothing more to collect */
	k.calls = 0;
	ck_assert_int_eq(store_gc(t.st, in_use, &k), 0);
	ck_assert_int_eq(k.calls, 2);
	/* nothing in use: everything goes */
	k.n = 0;
	ck_assert_int_eq(store_gc(t.st, in_use, &k), 2);
	ck_assert_int_eq(store_has(t.st, a), 0);
	ck_assert_int_eq(store_has(t.st, d), 0);
	ck_assert(exists(stray));
	t_done(&t);
}
END_TEST

/* Commit keeps working when fan-out folders already exist or not. */
START_TEST(test_many_blobs)
{
	struct t t;
	uint8_t sha[STORE_SHA_BYTES];
	struct keep_set k = { 0 };
	char data[32];

	t_init(&t);
	for (int i = 0; i < 300; i++) {
		int n = snprintf(data, sizeof(data), "content %d", i);

		ck_assert_int_eq(put(&t, data, (size_t)n, sha, NULL, 0), 0);
		ck_assert_int_eq(store_has(t.st, sha), 1);
	}
	ck_assert_int_eq(store_gc(t.st, in_use, &k), 300);
	t_done(&t);
}
END_TEST

/* The reserve is within its bounds; what exceeds the disk does not fit. */
START_TEST(test_space_for)
{
	struct t t;

	t_init(&t);
	ck_assert_uint_ge(store_reserve(t.st), 1u << 20);
	ck_assert_uint_le(store_reserve(t.st), 64u << 20);
	ck_assert_int_eq(store_space_for(t.st, 0), 0);
	ck_assert_int_eq(store_space_for(t.st, 1ULL << 50), -ENOSPC);
	ck_assert_int_eq(store_space_for(t.st, UINT64_MAX), -ENOSPC);
	t_done(&t);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, base_make, base_remove);
	tcase_add_test(tc, test_open_makes_folders);
	tcase_add_test(tc, test_hex);
	tcase_add_test(tc, test_unhex_refuses);
	tcase_add_test(tc, test_hash_fd);
	tcase_add_test(tc, test_commit_places_blob);
	tcase_add_test(tc, test_dedup);
	tcase_add_test(tc, test_corrupt_blob_same_size);
	tcase_add_test(tc, test_corrupt_blob_truncated);
	tcase_add_test(tc, test_wrong_file_under_name);
	tcase_add_test(tc, test_open_missing_blob);
	tcase_add_test(tc, test_remove);
	tcase_add_test(tc, test_open_cleans_staging);
	tcase_add_test(tc, test_staging_names);
	tcase_add_test(tc, test_gc);
	tcase_add_test(tc, test_many_blobs);
	tcase_add_test(tc, test_space_for);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(store_suite());
}
