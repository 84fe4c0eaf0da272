#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "deadline.h"
#include "hex.h"
#include "log.h"
#include "sha256.h"

/*
 * Verified blobs are remembered by identity (device, inode, size, ctime):
 * a blob whose inode has not changed since it was hashed in full is not
 * hashed again at every open.  Any write to it changes its ctime, so a
 * blob modified behind our back is verified again.  Bounded: a fixed
 * table, overwritten on collision.
 */
#define VCACHE_SLOTS 4096
/* The reserve: 2% of the data dir's disk, within these bounds. */
#define RESERVE_MIN (1u << 20)
#define RESERVE_MAX (64u << 20)

struct vcache_slot {
	uint8_t sha[STORE_SHA_BYTES];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec ctime;
	int used;
};

struct store {
	char *dir;
	char *objects;
	char *staging;
	char *corrupt;
	char *partial;		/* downloads under way, kept across restarts */
	uint64_t reserve;
	pthread_mutex_t lock;	/* guards vcache, usage */
	struct vcache_slot vcache[VCACHE_SLOTS];
	struct store_usage usage;	/* as counted at usage_at (monotonic ms) */
	int64_t usage_at;
};

uint64_t store_reserve(const struct store *st)
{
	return st->reserve;
}

int store_space_for(struct store *st, uint64_t bytes)
{
	struct statvfs sv;

	if (statvfs(st->dir, &sv) != 0)
		return 0;
	return (uint64_t)sv.f_bavail * sv.f_frsize >= bytes &&
	       (uint64_t)sv.f_bavail * sv.f_frsize - bytes >= st->reserve ? 0 : -ENOSPC;
}

void store_hex(const uint8_t sha[STORE_SHA_BYTES], char out[STORE_HEX_LEN])
{
	hex_encode(sha, STORE_SHA_BYTES, out);
}

int store_unhex(const char *hex, uint8_t sha[STORE_SHA_BYTES])
{
	for (int i = 0; i < STORE_SHA_BYTES; i++) {
		int v = 0;

		for (int j = 0; j < 2; j++) {
			char c = hex[2 * i + j];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else
				return -EINVAL;
		}
		sha[i] = (uint8_t)v;
	}
	return hex[2 * STORE_SHA_BYTES] == '\0' ? 0 : -EINVAL;
}

static char *join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s/%s", a, b);
	return s;
}

static int mkdir_p1(const char *p)
{
	if (mkdir(p, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		r = -errno;
	close(fd);
	return r;
}

/* Remove every plain file in dir (crash leftovers). */
static void clean_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	long n = 0;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	if (n > 0)
		log_notice("store: removed %ld unpublished staging file(s) left by a crash", n);
}

int store_open(const char *data_dir, struct store **out)
{
	struct store *st;
	int r = -ENOMEM;

	*out = NULL;
	if (sodium_init() < 0)
		return -EIO;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return -ENOMEM;
	pthread_mutex_init(&st->lock, NULL);
	if ((st->dir = strdup(data_dir)) == NULL ||
	    (st->objects = join(data_dir, "objects")) == NULL ||
	    (st->staging = join(data_dir, "staging")) == NULL ||
	    (st->corrupt = join(data_dir, "corrupt")) == NULL ||
	    (st->partial = join(data_dir, "partial")) == NULL)
		goto out;
	if ((r = mkdir_p1(st->objects)) != 0 || (r = mkdir_p1(st->staging)) != 0 ||
	    (r = mkdir_p1(st->partial)) != 0) {
		log_error("store: cannot create folders under %s: %s", data_dir, strerror(-r));
		goto out;
	}
	clean_dir(st->staging);
	{
		struct statvfs sv;
		uint64_t total = 0;

		if (statvfs(st->dir, &sv) == 0)
			total = (uint64_t)sv.f_blocks * sv.f_frsize;
		st->reserve = total / 50;
		if (st->reserve < RESERVE_MIN)
			st->reserve = RESERVE_MIN;
		if (st->reserve > RESERVE_MAX)
			st->reserve = RESERVE_MAX;
	}
	*out = st;
	st = NULL;
	r = 0;
out:
	store_close(st);
	return r;
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	pthread_mutex_destroy(&st->lock);
	free(st->partial);
	free(st->dir);
	free(st->objects);
	free(st->staging);
	free(st->corrupt);
	free(st);
}

/* objects/ab/cd/<hex>; with mk, create the fan-out folders. */
static int blob_path(struct store *st, const uint8_t sha[STORE_SHA_BYTES], char *out,
		     size_t outlen, int mk)
{
	char hex[STORE_HEX_LEN];
	int n, r;

	store_hex(sha, hex);
	if (mk) {
		n = snprintf(out, outlen, "%s/%.2s", st->objects, hex);
		if (n < 0 || (size_t)n >= outlen)
			return -ENAMETOOLONG;
		if ((r = mkdir_p1(out)) != 0)
			return r;
		n = snprintf(out, outlen, "%s/%.2s/%.2s", st->objects, hex, hex + 2);
		if (n < 0 || (size_t)n >= outlen)
			return -ENAMETOOLONG;
		if ((r = mkdir_p1(out)) != 0)
			return r;
	}
	n = snprintf(out, outlen, "%s/%.2s/%.2s/%s", st->objects, hex, hex + 2, hex);
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

int store_staging_new(struct store *st, int *fd, char *path, size_t pathlen)
{
	int n = snprintf(path, pathlen, "%s/stage.XXXXXX", st->staging);

	*fd = -1;
	if (n < 0 || (size_t)n >= pathlen)
		return -ENAMETOOLONG;
	if ((*fd = mkostemp(path, O_CLOEXEC)) < 0)
		return -errno;
	return 0;
}

int store_hash_fd(int fd, uint8_t sha[STORE_SHA_BYTES], uint64_t *size)
{
	struct sha256 h;
	size_t bufsz = 1 << 20;
	uint8_t *buf = malloc(bufsz);
	uint64_t off = 0;
	int r = 0;

	if (buf == NULL)
		return -ENOMEM;
	sha256_init(&h);
	for (;;) {
		ssize_t n = pread(fd, buf, bufsz, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		sha256_update(&h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	free(buf);
	if (r == 0) {
		sha256_final(&h, sha);
		if (size != NULL)
			*size = off;
	}
	return r;
}

static unsigned vslot(const uint8_t sha[STORE_SHA_BYTES])
{
	return ((unsigned)sha[0] << 8 | sha[1]) % VCACHE_SLOTS;
}

static void vcache_put(struct store *st, const uint8_t sha[STORE_SHA_BYTES], const struct stat *sb)
{
	struct vcache_slot *s = &st->vcache[vslot(sha)];

	pthread_mutex_lock(&st->lock);
	memcpy(s->sha, sha, STORE_SHA_BYTES);
	s->dev = sb->st_dev;
	s->ino = sb->st_ino;
	s->size = sb->st_size;
	s->ctime = sb->st_ctim;
	s->used = 1;
	pthread_mutex_unlock(&st->lock);
}

static int vcache_hit(struct store *st, const uint8_t sha[STORE_SHA_BYTES], const struct stat *sb)
{
	struct vcache_slot *s = &st->vcache[vslot(sha)];
	int hit;

	pthread_mutex_lock(&st->lock);
	hit = s->used && memcmp(s->sha, sha, STORE_SHA_BYTES) == 0 && s->dev == sb->st_dev &&
	      s->ino == sb->st_ino && s->size == sb->st_size &&
	      s->ctime.tv_sec == sb->st_ctim.tv_sec && s->ctime.tv_nsec == sb->st_ctim.tv_nsec;
	pthread_mutex_unlock(&st->lock);
	return hit;
}

void store_forget_verified(struct store *st)
{
	pthread_mutex_lock(&st->lock);
	memset(st->vcache, 0, sizeof(st->vcache));
	pthread_mutex_unlock(&st->lock);
}

/* Move a bad blob aside so it is neither served nor counted as held. */
static void quarantine(struct store *st, const char *path, const char *hex)
{
	char dst[PATH_MAX];

	if (mkdir_p1(st->corrupt) != 0)
		return;
	snprintf(dst, sizeof(dst), "%s/%s", st->corrupt, hex);
	if (rename(path, dst) != 0)
		unlink(path);
}

/*
 * Is the blob at path present and true to its name?  A duplicate is only
 * dropped in favour of a stored copy that is known good; a bad copy is
 * moved aside so the new one takes its place.
 */
static int blob_intact(struct store *st, const uint8_t sha[STORE_SHA_BYTES], const char *path)
{
	uint8_t got[STORE_SHA_BYTES];
	char hex[STORE_HEX_LEN];
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return 0;
	ok = fstat(fd, &sb) == 0 &&
	     (vcache_hit(st, sha, &sb) ||
	      (store_hash_fd(fd, got, NULL) == 0 && memcmp(got, sha, STORE_SHA_BYTES) == 0));
	if (ok) {
		vcache_put(st, sha, &sb);
	} else {
		store_hex(sha, hex);
		log_error("store: blob %s fails its SHA-256 check; replaced by the new copy", hex);
		quarantine(st, path, hex);
	}
	close(fd);
	return ok;
}

/* The store changed: the next usage is counted afresh. */
static void usage_stale(struct store *st)
{
	pthread_mutex_lock(&st->lock);
	st->usage_at = 0;
	pthread_mutex_unlock(&st->lock);
}

int store_commit(struct store *st, int fd, const char *path, const uint8_t sha[STORE_SHA_BYTES])
{
	char dst[PATH_MAX], dir[PATH_MAX];
	struct stat sb;
	int r;

	usage_stale(st);
	if ((r = blob_path(st, sha, dst, sizeof(dst), 1)) != 0)
		goto fail;
	if (blob_intact(st, sha, dst)) {
		/* Same content is stored already (and was fsynced then). */
		unlink(path);
		return 0;
	}
	if (fsync(fd) != 0) {
		r = -errno;
		goto fail;
	}
	/* Blobs are immutable: read-only for everyone but root. */
	fchmod(fd, 0400);
	if (rename(path, dst) != 0) {
		r = -errno;
		goto fail;
	}
	snprintf(dir, sizeof(dir), "%s", dst);
	*strrchr(dir, '/') = '\0';
	if ((r = fsync_dir(dir)) != 0) {
		log_error("store: fsync of %s: %s", dir, strerror(-r));
		return r;
	}
	if (fstat(fd, &sb) == 0)
		vcache_put(st, sha, &sb);
	return 0;
fail:
	log_error("store: cannot store blob: %s", strerror(-r));
	return r;
}

int store_open_blob(struct store *st, const uint8_t sha[STORE_SHA_BYTES], int *fdp)
{
	char path[PATH_MAX], hex[STORE_HEX_LEN];
	uint8_t got[STORE_SHA_BYTES];
	struct stat sb;
	int fd, r;

	*fdp = -1;
	if ((r = blob_path(st, sha, path, sizeof(path), 0)) != 0)
		return r;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	if (fstat(fd, &sb) != 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!vcache_hit(st, sha, &sb)) {
		if ((r = store_hash_fd(fd, got, NULL)) != 0) {
			close(fd);
			return r;
		}
		if (memcmp(got, sha, STORE_SHA_BYTES) != 0) {
			store_hex(sha, hex);
			log_error("store: blob %s fails its SHA-256 check; not served, moved to %s",
				  hex, st->corrupt);
			quarantine(st, path, hex);
			close(fd);
			return -EIO;
		}
		vcache_put(st, sha, &sb);
	}
	*fdp = fd;
	return 0;
}

int store_open_blob_unchecked(struct store *st, const uint8_t sha[STORE_SHA_BYTES], int *fdp)
{
	char path[PATH_MAX];
	int r;

	*fdp = -1;
	if ((r = blob_path(st, sha, path, sizeof(path), 0)) != 0)
		return r;
	if ((*fdp = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	return 0;
}

int store_has(struct store *st, const uint8_t sha[STORE_SHA_BYTES])
{
	char path[PATH_MAX];

	if (blob_path(st, sha, path, sizeof(path), 0) != 0)
		return 0;
	return access(path, F_OK) == 0;
}

int store_remove(struct store *st, const uint8_t sha[STORE_SHA_BYTES])
{
	char path[PATH_MAX];
	int r;

	usage_stale(st);
	if ((r = blob_path(st, sha, path, sizeof(path), 0)) != 0)
		return r;
	if (unlink(path) != 0)
		return -errno;
	return 0;
}

/* Open a sub-folder of d as a new DIR stream. */
static DIR *opendir_at(DIR *d, const char *name)
{
	int fd = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *sub;

	if (fd < 0)
		return NULL;
	if ((sub = fdopendir(fd)) == NULL)
		close(fd);
	return sub;
}

/* fn(d, ctx) for each folder of blobs (objects/ab/cd): 0, or -errno if
   objects/ cannot be read. */
static int each_blob_dir(struct store *st, void (*fn)(DIR *d, void *ctx), void *ctx)
{
	DIR *d1 = opendir(st->objects), *d2, *d3;
	struct dirent *a, *b;

	if (d1 == NULL)
		return -errno;
	while ((a = readdir(d1)) != NULL) {
		if (a->d_name[0] == '.' || (d2 = opendir_at(d1, a->d_name)) == NULL)
			continue;
		while ((b = readdir(d2)) != NULL) {
			if (b->d_name[0] == '.' || (d3 = opendir_at(d2, b->d_name)) == NULL)
				continue;
			fn(d3, ctx);
			closedir(d3);
		}
		closedir(d2);
	}
	closedir(d1);
	return 0;
}

struct gc_walk {
	store_in_use_fn in_use;
	void *ctx;
	long removed;
};

static void gc_dir(DIR *d, void *ctx)
{
	struct gc_walk *g = ctx;
	struct dirent *c;

	while ((c = readdir(d)) != NULL) {
		uint8_t sha[STORE_SHA_BYTES];

		if (c->d_name[0] == '.' || store_unhex(c->d_name, sha) != 0)
			continue;
		if (g->in_use(sha, g->ctx) == 0 && unlinkat(dirfd(d), c->d_name, 0) == 0)
			g->removed++;
	}
}

long store_gc(struct store *st, store_in_use_fn in_use, void *ctx)
{
	struct gc_walk g = { .in_use = in_use, .ctx = ctx };
	int r;

	usage_stale(st);
	if ((r = each_blob_dir(st, gc_dir, &g)) != 0)
		return r;
	return g.removed;
}

static void count_dir(DIR *d, uint64_t *n, uint64_t *bytes)
{
	struct dirent *e;
	struct stat sb;

	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(sb.st_mode)) {
			(*n)++;
			*bytes += (uint64_t)sb.st_size;
		}
}

static void count_blobs(DIR *d, void *ctx)
{
	struct store_usage *c = ctx;

	count_dir(d, &c->blobs, &c->bytes);
}

int store_get_usage(struct store *st, struct store_usage *u)
{
	struct store_usage c = { 0 };
	int64_t now = deadline_now_ms();
	DIR *d1;
	int r;

	pthread_mutex_lock(&st->lock);
	if (st->usage_at != 0 && now - st->usage_at < STORE_USAGE_MS) {
		*u = st->usage;
		pthread_mutex_unlock(&st->lock);
		return 0;
	}
	pthread_mutex_unlock(&st->lock);
	if ((r = each_blob_dir(st, count_blobs, &c)) != 0)
		return r;
	if ((d1 = opendir(st->partial)) != NULL) {
		count_dir(d1, &c.partials, &c.partial_bytes);
		closedir(d1);
	}
	pthread_mutex_lock(&st->lock);
	st->usage = c;
	st->usage_at = now;
	pthread_mutex_unlock(&st->lock);
	*u = c;
	return 0;
}

/* ---- partial downloads: DATA/partial/<hex> ---- */

static int partial_path(struct store *st, const uint8_t sha[STORE_SHA_BYTES], char *out, size_t len)
{
	char hex[STORE_HEX_LEN];

	store_hex(sha, hex);
	return snprintf(out, len, "%s/%s", st->partial, hex) >= (int)len ? -ENAMETOOLONG : 0;
}

int store_partial_open(struct store *st, const uint8_t sha[STORE_SHA_BYTES], int *fd, uint64_t *have)
{
	char path[PATH_MAX];
	struct stat sb;
	int r;

	*fd = -1;
	*have = 0;
	if ((r = partial_path(st, sha, path, sizeof(path))) != 0)
		return r;
	if ((*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -errno;
	if (fstat(*fd, &sb) != 0) {
		r = -errno;
		close(*fd);
		*fd = -1;
		return r;
	}
	*have = (uint64_t)sb.st_size;
	return 0;
}

int store_partial_size(struct store *st, const uint8_t sha[STORE_SHA_BYTES], uint64_t *have)
{
	char path[PATH_MAX];
	struct stat sb;
	int r;

	*have = 0;
	if ((r = partial_path(st, sha, path, sizeof(path))) != 0)
		return r;
	if (stat(path, &sb) != 0)
		return errno == ENOENT ? 0 : -errno;
	*have = (uint64_t)sb.st_size;
	return 0;
}

int store_partial_done(struct store *st, const uint8_t sha[STORE_SHA_BYTES])
{
	char path[PATH_MAX];
	int fd, r;

	if ((r = partial_path(st, sha, path, sizeof(path))) != 0)
		return r;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	r = store_commit(st, fd, path, sha);
	close(fd);
	return r;
}

void store_partial_drop(struct store *st, const uint8_t sha[STORE_SHA_BYTES])
{
	char path[PATH_MAX];

	usage_stale(st);
	if (partial_path(st, sha, path, sizeof(path)) == 0)
		unlink(path);
}
