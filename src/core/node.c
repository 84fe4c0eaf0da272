#include "node.h"
#include "node_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "clock.h"
#include "db.h"
#include "deadline.h"
#include "ident.h"
#include "log.h"
#include "thread.h"
#include "net.h"
#include "path.h"
#include "sha256.h"
#include "store.h"
#include "sync.h"
#include "xfer.h"
#include "replica.h"
#include "rpc.h"

#define XATTR_SHA "user.oand.sha256"
#define PAGE_CACHE_SLOTS 4096
#define XATTR_HOLDERS "user.oand.holders"
#define XATTR_STATE "user.oand.state"
#define XATTR_REPLICAS "user.oand.replicas"

struct node {
	const struct cfg *cfg;
	char *data_dir;
	char *mount_point;
	int lock_fd;			/* the data dir's lock, held; or -1 */
	int stopping_noted;		/* "stopping" is in the lock file */
	struct ident ident;		/* node.key, sign.key: keys, nospam */
	uint8_t id[NODE_ID_BYTES];	/* = ident.public_key */
	uint8_t empty_sha[STORE_SHA_BYTES];
	struct clock *clock;
	struct store *store;
	struct db *db;
	struct net *net;		/* NULL: standalone (no cluster-key) */
	struct sync *sync;		/* the namespace replicated with members */
	struct xfer *xfer;		/* content fetched from members */
	struct replica *replica;	/* keeps `replicas` copies of each content */
	pthread_mutex_t inval_lock;	/* guards inval, inval_ctx; held while calling */
	pthread_mutex_t sync_lock;	/* guards the sync and replica pointers for
					   the callbacks; held while calling them */
	const struct node_inval_ops *inval;
	void *inval_ctx;
	struct node_inos *inos;		/* the mount's inode numbers */
	/* Not under inval_lock: an invalidation may wait in the kernel, and
	   the status must still tell of it. */
	pthread_mutex_t probe_lock;	/* guards mount_probe*; held while calling */
	void (*mount_probe)(struct node_mount_stats *st, void *ctx);
	void *mount_probe_ctx;
	int64_t started;
	/* Set-ID bits: attr_lock makes reading a mode and taking bits away
	   one step against chmod and chown made here; attr_gen (atomic,
	   from 1) counts the changes of modes and owners, so an open file
	   knows when its copy of them is stale. */
	pthread_mutex_t attr_lock;
	uint64_t attr_gen;

	/* Blobs are collected under the write side; publishing holds the read
	   side from storing the blob until the metadata names it. */
	pthread_rwlock_t gc_lock;
	pthread_mutex_t hlock;		/* guards files list and each file's path,
					   and page_cache */
	struct node_file *files;
	int nfiles;
	/* Blobs waiting for the collector (see collect). */
	pthread_mutex_t gc_qlock;	/* guards gc_* below; taken alone */
	pthread_cond_t gc_cond;
	uint8_t (*gc_q)[STORE_SHA_BYTES];
	size_t gc_n, gc_cap;
	int gc_running, gc_stop;
	pthread_t gc_thread;
	/* What the kernel's page cache of each path holds, by path hash: the
	   content readers last opened there (see node_file_keep_cache). */
	struct {
		uint64_t path_hash;
		uint8_t sha[STORE_SHA_BYTES];
	} page_cache[PAGE_CACHE_SLOTS];
};

/*
 * An open file.  The mount's opens of one inode share one (node_file_share):
 * every descriptor of the file on this node reads and writes the same
 * staged bytes, as on a disk, and the kernel's page cache, which is per
 * inode too, stays true to them.  The HTTP API's are private.
 */
struct node_file {
	struct node *node;
	struct node_file *next, *prev;	/* node->files, under hlock */
	char *path;			/* under hlock; NULL once unlinked */
	uint64_t ino;			/* under hlock; the mount's number, or 0 */
	int shared;			/* the mount's state of ino (set once) */
	unsigned opens;			/* under hlock: open descriptions sharing it */
	int cache_stale;		/* under hlock: its content changed at a join */

	pthread_mutex_t lock;		/* guards everything below */
	int writable;
	uid_t uid;			/* owner of a file made by publishing (PUT) */
	gid_t gid;
	int has_sha;			/* content when opened (for readers' cache) */
	uint8_t sha[STORE_SHA_BYTES];
	int blob_fd;			/* published content, or -1 */
	int stage_fd;			/* private copy being written, or -1 */
	int fresh;			/* staged content started empty (stage_reset);
					   with stage_fd < 0 it is still empty */
	char stage_path[PATH_MAX];
	uint64_t size_published;	/* size of blob_fd's content */
	/* Read without the lock by getattr on other paths: atomics. */
	uint64_t size;
	int64_t mtime_ns;
	int dirty;			/* staged changes not yet published */
	int64_t dirty_since_ms;		/* monotonic, when dirty became 1 (atomic) */
	int touched;			/* written or truncated since opened */
	int error;			/* a write failed: never publish */
	/* Running hash while writes arrive in order from an empty file. */
	struct sha256 hash;
	uint64_t hashed;
	int hash_ok;
	int created;			/* made by the node_create that opened it */
	/* The file's mode and group as read at node.attr_gen == setid_gen
	   (0: not read), for the set-ID rules at each write. */
	uint64_t setid_gen;
	uint32_t setid_mode;
	gid_t setid_gid;
};


const uint8_t *node_id(const struct node *n)
{
	return n->id;
}

/* mkdir -p with mode 0700 for the folders we create. */
static int mkdirs(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * The data dir holds the node's key, its tokens and the whole namespace:
 * it is its owner's alone, whatever modes it had before (a 0755
 * /var/lib/oand, or an oand.db that sqlite made 0644, show every file's
 * name, size and link target to every user).  Opened without following
 * links: what is there and not a plain file or folder is refused.
 */
static int make_private(const char *dir)
{
	static const struct {
		const char *name;
		mode_t mode;	/* 0700: a folder */
	} items[] = {
		/* api.token, api.token.ro: the HTTP API's (src/front/api.h) */
		{ "node.key", 0600 }, { "sign.key", 0600 }, { "api.token", 0600 },
		{ "api.token.ro", 0600 },
		{ "lock", 0600 }, { "oand.db", 0600 }, { "oand.db-wal", 0600 },
		{ "oand.db-shm", 0600 }, { "objects", 0700 }, { "staging", 0700 },
		{ "partial", 0700 }, { "corrupt", 0700 },
	};
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (dfd < 0)
		return -errno;
	if (fchmod(dfd, 0700) != 0) {
		r = -errno;
		log_error("cannot make data dir %s private (mode 0700): %s", dir, strerror(-r));
	}
	for (size_t i = 0; r == 0 && i < sizeof(items) / sizeof(items[0]); i++) {
		int folder = items[i].mode == 0700;
		int fd = openat(dfd, items[i].name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
				(folder ? O_DIRECTORY : 0));
		struct stat st;

		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0 || fstat(fd, &st) != 0)
			r = -errno;
		else if (!folder && !S_ISREG(st.st_mode))
			r = -EINVAL;
		else if (fchmod(fd, items[i].mode) != 0)
			r = -errno;
		if (r != 0)
			log_error("cannot make %s/%s private (mode %04o): %s", dir, items[i].name,
				  (unsigned)items[i].mode, strerror(-r));
		if (fd >= 0)
			close(fd);
	}
	close(dfd);
	return r;
}

/* Make sure the blob of empty content exists: new files point at it. */
static int ensure_empty_blob(struct node *n)
{
	char path[PATH_MAX];
	uint64_t size;
	int fd, r;

	if ((r = store_staging_new(n->store, &fd, path, sizeof(path))) != 0)
		return r;
	if ((r = store_hash_fd(fd, n->empty_sha, &size)) == 0)
		r = store_commit(n->store, fd, path, n->empty_sha);
	if (r != 0)
		unlink(path);
	close(fd);
	return r;
}

static int gc_in_use(const uint8_t sha[STORE_SHA_BYTES], void *ctx)
{
	struct node *n = ctx;

	if (memcmp(sha, n->empty_sha, STORE_SHA_BYTES) == 0)
		return 1;
	/* On a database error keep the blob. */
	return db_sha_in_use(n->db, sha) != 0;
}

/*
 * Blobs no longer named are removed only once the database change that
 * dropped them is durable: after a power loss the database may come back
 * a little older, and must then still find the content it names.  The
 * collector thread does this in batches (one WAL sync each), at least
 * every GC_PERIOD_MS; without the thread (before node_start) it is done
 * at once.
 */
#define GC_PERIOD_MS 1000
#define GC_BATCH 1024

static void gc_drain(struct node *n)
{
	uint8_t (*q)[STORE_SHA_BYTES];
	size_t count;

	pthread_mutex_lock(&n->gc_qlock);
	q = n->gc_q;
	count = n->gc_n;
	n->gc_q = NULL;
	n->gc_n = n->gc_cap = 0;
	pthread_mutex_unlock(&n->gc_qlock);
	if (count == 0)
		return;
	if (db_sync(n->db) != 0) {
		log_error("store: cannot make the database durable; %zu blob(s) kept", count);
	} else {
		pthread_rwlock_wrlock(&n->gc_lock);
		for (size_t i = 0; i < count; i++)
			if (!gc_in_use(q[i], n) && store_remove(n->store, q[i]) == 0)
				db_holder_remove(n->db, q[i], n->id);
		pthread_rwlock_unlock(&n->gc_lock);
	}
	free(q);
}

static void publish_due(struct node *n);

static void *gc_main(void *arg)
{
	struct node *n = arg;
	struct timespec until;

	pthread_mutex_lock(&n->gc_qlock);
	while (!n->gc_stop) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += GC_PERIOD_MS / 1000;
		if (n->gc_n < GC_BATCH)
			pthread_cond_timedwait(&n->gc_cond, &n->gc_qlock, &until);
		pthread_mutex_unlock(&n->gc_qlock);
		gc_drain(n);
		publish_due(n);
		pthread_mutex_lock(&n->gc_qlock);
	}
	pthread_mutex_unlock(&n->gc_qlock);
	return NULL;
}

static void collect(struct node *n, const uint8_t sha[STORE_SHA_BYTES])
{
	int now;

	pthread_mutex_lock(&n->gc_qlock);
	if (n->gc_n == n->gc_cap) {
		size_t cap = n->gc_cap ? 2 * n->gc_cap : 64;
		void *q = realloc(n->gc_q, cap * STORE_SHA_BYTES);

		if (q == NULL) {	/* the blob stays until the next start */
			pthread_mutex_unlock(&n->gc_qlock);
			return;
		}
		n->gc_q = q;
		n->gc_cap = cap;
	}
	memcpy(n->gc_q[n->gc_n++], sha, STORE_SHA_BYTES);
	now = !n->gc_running;
	if (n->gc_n >= GC_BATCH)
		pthread_cond_signal(&n->gc_cond);
	pthread_mutex_unlock(&n->gc_qlock);
	if (now)
		gc_drain(n);
}

int node_tox_id(const struct cfg *cfg, char out[2 * IDENT_ADDRESS_BYTES + 1])
{
	struct ident id;
	int r = mkdirs(cfg->data_dir);

	if (r == 0 && (r = ident_load(cfg->data_dir, 1, &id)) == 0) {
		ident_address_hex(&id, out);
		ident_clear(&id);
	}
	return r;
}

static int held_here(const uint8_t sha[STORE_SHA_BYTES], void *ctx)
{
	struct node *n = ctx;

	return store_has(n->store, sha);
}

/*
 * The data dir's lock file says who holds the lock and how it fares, a
 * line each: its pid; "mounted PATH" once its mount is made (PATH escaped
 * as in mountinfo); "stopping" once it has begun to stop.  A start that
 * finds the lock taken reads it to tell a holder on its way out, which it
 * waits for, from one that runs, which it refuses at once.  Lines are
 * only appended, each in one write, by the holder alone.
 */
#define LOCK_POLL_MS 20
/* A record without its final newline is being written: read it again
   for this long before taking the holder for a running one. */
#define LOCK_PARTIAL_MS 500
#define LOCK_RECORD_MAX (4 * PATH_MAX + 64)

struct lock_record {
	long pid;		/* 0 if not known */
	int complete;		/* read whole: ends with a newline */
	int stopping;
	int mount_gone;		/* it was mounted and that mount is gone */
};

/* Escape as the kernel does in mountinfo's fields. */
static void mount_escape(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in != '\0' && o + 5 < len; in++) {
		if (*in == ' ' || *in == '\t' || *in == '\n' || *in == '\\')
			o += (size_t)snprintf(out + o, len - o, "\\%03o", (unsigned char)*in);
		else
			out[o++] = *in;
	}
	out[o] = '\0';
}

/* Is there an oand mount on mp (escaped) in our mountinfo?  Unknown
   (unreadable) counts as mounted: the holder is then taken for a
   running one. */
static int oand_mounted(const char *mp)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (f == NULL)
		return 1;
	while (!found && getline(&line, &cap, f) > 0) {
		char *save = NULL, *field = strtok_r(line, " ", &save), *sep;

		/* id parent major:minor root MOUNTPOINT ... - FSTYPE source ... */
		for (int i = 1; field != NULL && i < 5; i++)
			field = strtok_r(NULL, " ", &save);
		if (field == NULL || strcmp(field, mp) != 0)
			continue;
		sep = strstr(save, " - ");
		found = sep != NULL && strncmp(sep + 3, "fuse.oand ", 10) == 0;
	}
	free(line);
	fclose(f);
	return found;
}

static void lock_read(int fd, struct lock_record *rec)
{
	char *buf = malloc(LOCK_RECORD_MAX + 1), *save = NULL;
	ssize_t k;

	memset(rec, 0, sizeof(*rec));
	if (buf == NULL)
		return;
	k = pread(fd, buf, LOCK_RECORD_MAX, 0);
	if (k > 0) {
		buf[k] = '\0';
		rec->complete = buf[k - 1] == '\n';
		rec->pid = strtol(buf, NULL, 10);
		if (rec->pid < 0)
			rec->pid = 0;
		for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			if (strcmp(l, "stopping") == 0 && rec->complete)
				rec->stopping = 1;
			else if (strncmp(l, "mounted ", 8) == 0 && l[8] != '\0' && rec->complete)
				rec->mount_gone = !oand_mounted(l + 8);
		}
	}
	free(buf);
}

/* Append a line to our lock file (best effort: it only informs others). */
static void lock_note(struct node *n, const char *line)
{
	size_t len = strlen(line);
	struct stat sb;

	if (n->lock_fd < 0 || fstat(n->lock_fd, &sb) != 0)
		return;
	if (pwrite(n->lock_fd, line, len, sb.st_size) != (ssize_t)len)
		log_debug("cannot write to %s/lock: %s", n->data_dir, strerror(errno));
}

/*
 * Take the data dir's lock (one node per data dir).  A node that was just
 * unmounted or told to stop is still closing its database when the
 * unmount returns, and holds the lock until it exits: wait up to
 * lock-wait for such a one.  A holder that runs is refused at once.
 */
static int take_lock(struct node *n)
{
	char path[PATH_MAX], pid[32];
	struct lock_record rec;
	int64_t start = deadline_now_ms();
	int r, k, fd, waited = 0;

	snprintf(path, sizeof(path), "%s/lock", n->data_dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		r = -errno;
		log_error("cannot open %s: %s", path, strerror(-r));
		return r;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		char who[48] = "";
		int64_t spent = deadline_now_ms() - start;

		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			r = -errno;
			log_error("cannot lock %s: %s", path, strerror(-r));
			goto fail;
		}
		lock_read(fd, &rec);
		if (rec.pid > 0)
			snprintf(who, sizeof(who), " (pid %ld)", rec.pid);
		if (!rec.stopping && !rec.mount_gone) {
			if (rec.complete || spent >= LOCK_PARTIAL_MS) {
				log_error("another oand%s is already running on %s", who, n->data_dir);
				r = -EBUSY;
				goto fail;
			}
		} else {
			if (!waited && n->cfg->lock_wait_ms > 0)
				log_notice("another oand%s is stopping on %s; waiting up to %g s for it"
					   " to exit", who, n->data_dir,
					   (double)n->cfg->lock_wait_ms / 1000);
			waited = 1;
			if (spent >= n->cfg->lock_wait_ms) {
				log_error("another oand%s is stopping on %s but did not exit within"
					  " %g s; giving up", who, n->data_dir,
					  (double)n->cfg->lock_wait_ms / 1000);
				r = -EBUSY;
				goto fail;
			}
		}
		poll(NULL, 0, LOCK_POLL_MS);
	}
	if (waited)
		log_notice("the previous oand on %s exited after %lld ms", n->data_dir,
			   (long long)(deadline_now_ms() - start));
	n->lock_fd = fd;
	k = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)k, 0) != k)
		log_debug("cannot write the pid to %s: %s", path, strerror(errno));
	return 0;
fail:
	close(fd);
	return r;
}

void node_note_mounted(struct node *n, const char *mount_point)
{
	char line[LOCK_RECORD_MAX];

	snprintf(line, sizeof(line), "mounted ");
	mount_escape(mount_point, line + 8, sizeof(line) - 9);
	strcat(line, "\n");
	lock_note(n, line);
}

void node_note_stopping(struct node *n)
{
	if (n == NULL || n->stopping_noted)
		return;
	n->stopping_noted = 1;
	lock_note(n, "stopping\n");
}

int node_open(const struct cfg *cfg, const char *mount_point, struct node **out)
{
	struct node *n;
	char path[PATH_MAX];
	int r = -ENOMEM;
	long removed;

	*out = NULL;
	if (sodium_init() < 0)
		return -EIO;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return -ENOMEM;
	n->lock_fd = -1;
	n->cfg = cfg;
	n->started = clock_wall_ns() / 1000000000;
	pthread_rwlock_init(&n->gc_lock, NULL);
	pthread_mutex_init(&n->hlock, NULL);
	pthread_mutex_init(&n->inval_lock, NULL);
	pthread_mutex_init(&n->probe_lock, NULL);
	pthread_mutex_init(&n->sync_lock, NULL);
	pthread_mutex_init(&n->gc_qlock, NULL);
	pthread_mutex_init(&n->attr_lock, NULL);
	n->attr_gen = 1;
	if (node_inos_new(&n->inos) != 0)
		goto out;
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&n->gc_cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	if ((n->data_dir = strdup(cfg->data_dir)) == NULL)
		goto out;
	if (mount_point != NULL && (n->mount_point = strdup(mount_point)) == NULL)
		goto out;
	if ((r = mkdirs(n->data_dir)) != 0) {
		log_error("cannot create data dir %s: %s", n->data_dir, strerror(-r));
		goto out;
	}
	if ((r = take_lock(n)) != 0)
		goto out;
	if ((r = make_private(n->data_dir)) != 0)
		goto out;
	if ((r = ident_load(n->data_dir, 1, &n->ident)) != 0) {
		log_error("cannot load node identity: %s", strerror(-r));
		goto out;
	}
	memcpy(n->id, n->ident.public_key, NODE_ID_BYTES);
	if ((n->clock = clock_new(NULL, NULL)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = store_open(n->data_dir, &n->store)) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/oand.db", n->data_dir);
	if ((r = db_open(path, n->id, n->clock, &n->db)) != 0) {
		log_error("cannot open database %s: %s", path, strerror(-r));
		goto out;
	}
	if ((r = ensure_empty_blob(n)) != 0) {
		log_error("cannot write to the store: %s", strerror(-r));
		goto out;
	}
	removed = store_gc(n->store, gc_in_use, n);
	if (removed > 0)
		log_info("store: collected %ld unreferenced blob(s)", removed);
	/* A crash or a damaged blob can leave us listed for content we lack. */
	removed = db_holder_prune(n->db, n->id, held_here, n);
	if (removed > 0)
		log_notice("store: %ld blob(s) listed as held here are missing", removed);
	*out = n;
	n = NULL;
	r = 0;
out:
	node_close(n);
	return r;
}

/* A change made here was committed: the members hear of it. */
static void local_changed(void *ctx)
{
	struct node *n = ctx;

	pthread_mutex_lock(&n->sync_lock);
	sync_local(n->sync);
	pthread_mutex_unlock(&n->sync_lock);
}

/* The kernel forgets what it cached of the path and of its folder's
   listing; with wait, before the next call into the mount. */
static void invalidate(struct node *n, const char *path, int wait)
{
	pthread_mutex_lock(&n->inval_lock);
	if (n->inval != NULL) {
		node_inos_inval(n->inos, path, n->inval, n->inval_ctx);
		if (wait)
			n->inval->wait(n->inval_ctx);
	}
	pthread_mutex_unlock(&n->inval_lock);
}

void node_invalidate(struct node *n, const char *path)
{
	invalidate(n, path, 1);
}

struct node_inos *node_inos_of(struct node *n)
{
	return n->inos;
}

/* The S_IFMT bits of an entry of kind (enum db_kind). */
static mode_t kind_type(int kind)
{
	return kind == DB_DIR ? S_IFDIR : kind == DB_LINK ? S_IFLNK : S_IFREG;
}

/*
 * A member removed path, or made it something of another kind: the
 * number the mount had for it names nothing now (open descriptors keep
 * it, with what they hold; the next lookup gives the name a new one).
 * 1 if so, with that number in *ino.
 */
static int ino_gone(struct node *n, const char *path, node_ino_t *ino)
{
	struct db_entry e;
	mode_t type, now = 0;
	int r;

	if ((*ino = node_inos_find_type(n->inos, path, &type)) == 0)
		return 0;
	if ((r = db_get(n->db, path, &e)) == 0) {
		now = kind_type(e.kind);
		db_entry_clear(&e);
	}
	if (r == -ENOENT || (r == 0 && type != 0 && now != type)) {
		node_inos_detach(n->inos, path);
		return 1;
	}
	return 0;
}

/* A member's change landed here. */
static void remote_changed(const char *path, void *ctx)
{
	struct node *n = ctx;
	node_ino_t ino;
	int gone;

	pthread_mutex_lock(&n->sync_lock);
	replica_poke(n->replica);
	pthread_mutex_unlock(&n->sync_lock);
	/* Its mode may have changed: open files read it again. */
	__atomic_add_fetch(&n->attr_gen, 1, __ATOMIC_RELEASE);
	gone = ino_gone(n, path, &ino);
	/* No waiting here: the kernel may wait on a request of ours. */
	invalidate(n, path, 0);
	if (gone) {
		pthread_mutex_lock(&n->inval_lock);
		if (n->inval != NULL)
			n->inval->inode(n->inval_ctx, ino, 1);
		pthread_mutex_unlock(&n->inval_lock);
	}
}

void node_set_inval(struct node *n, const struct node_inval_ops *ops, void *ctx)
{
	pthread_mutex_lock(&n->inval_lock);
	n->inval = ops;
	n->inval_ctx = ctx;
	pthread_mutex_unlock(&n->inval_lock);
}

void node_set_mount_probe(struct node *n, void (*fn)(struct node_mount_stats *st, void *ctx),
			  void *ctx)
{
	pthread_mutex_lock(&n->probe_lock);
	n->mount_probe = fn;
	n->mount_probe_ctx = ctx;
	pthread_mutex_unlock(&n->probe_lock);
}

int node_start(struct node *n)
{
	/* Signals belong to the main thread. */
	int r = thread_spawn(&n->gc_thread, gc_main, n);

	if (r != 0) {
		log_error("cannot start the collector: %s", strerror(-r));
		return r;
	}
	pthread_mutex_lock(&n->gc_qlock);
	n->gc_running = 1;
	pthread_mutex_unlock(&n->gc_qlock);
	/* A member of a cluster talks Tox; a standalone node opens no socket. */
	if (n->cfg->has_cluster_key &&
	    (n->xfer = xfer_new(n->store, n->db, n->id, n->cfg->fetch_timeout_ms)) == NULL)
		return -ENOMEM;
	if (n->cfg->has_cluster_key) {
		struct net_files files;

		xfer_net_files(n->xfer, &files);
		if ((r = net_start(&n->ident, n->cfg, n->db, &files, &n->net)) != 0) {
			log_error("cannot start the network: %s", strerror(-r));
			return r;
		}
	}
	/* The namespace follows the members'. */
	if (n->net != NULL) {
		if ((r = sync_start(n->db, n->net, &n->ident, remote_changed, n, &n->sync)) != 0) {
			log_error("cannot start replication: %s", strerror(-r));
			return r;
		}
		db_set_hook(n->db, local_changed, n);
		if ((r = replica_start(n->db, n->xfer, n->net, n->id, (int)n->cfg->replicas,
				       n->data_dir, store_reserve(n->store), &n->replica)) != 0) {
			log_error("cannot start the replica keeper: %s", strerror(-r));
			return r;
		}
	}
	return 0;
}

void node_shutdown(struct node *n)
{
	if (n == NULL)
		return;
	/* The net thread stops, failing what waits on it (an HTTP GET
	   waiting for a fetch too), so that the frontends end at once. */
	net_shutdown(n->net);
	if (n->xfer != NULL)
		xfer_detach(n->xfer);
}

void node_close(struct node *n)
{
	if (n == NULL)
		return;
	/* A start from now on waits for us rather than refuse. */
	node_note_stopping(n);
	/* The frontends that called it have ended (node_shutdown first). */
	node_shutdown(n);
	/* Replication stops before what it calls goes: the hook and the
	   callbacks look at n->sync and n->replica under sync_lock. */
	pthread_mutex_lock(&n->sync_lock);
	{
		struct sync *sy = n->sync;
		struct replica *rp = n->replica;

		n->sync = NULL;
		n->replica = NULL;
		pthread_mutex_unlock(&n->sync_lock);
		sync_stop(sy);
		replica_stop(rp);
	}
	net_free(n->net);
	xfer_free(n->xfer);
	n->xfer = NULL;
	if (n->gc_running) {
		pthread_mutex_lock(&n->gc_qlock);
		n->gc_stop = 1;
		pthread_cond_signal(&n->gc_cond);
		pthread_mutex_unlock(&n->gc_qlock);
		pthread_join(n->gc_thread, NULL);
	}
	if (n->db != NULL)
		gc_drain(n);
	free(n->gc_q);
	db_close(n->db);
	store_close(n->store);
	clock_free(n->clock);
	if (n->lock_fd >= 0) {
		/* What it says is about us: a start that finds the lock still
		   taken reads it again until the next holder has written. */
		if (ftruncate(n->lock_fd, 0) != 0)
			log_debug("cannot clear %s/lock: %s", n->data_dir, strerror(errno));
		close(n->lock_fd);
	}
	ident_clear(&n->ident);
	pthread_rwlock_destroy(&n->gc_lock);
	pthread_mutex_destroy(&n->hlock);
	pthread_mutex_destroy(&n->inval_lock);
	pthread_mutex_destroy(&n->probe_lock);
	pthread_mutex_destroy(&n->sync_lock);
	pthread_mutex_destroy(&n->gc_qlock);
	pthread_mutex_destroy(&n->attr_lock);
	pthread_cond_destroy(&n->gc_cond);
	node_inos_free(n->inos);
	free(n->data_dir);
	free(n->mount_point);
	free(n);
}

struct net *node_net(struct node *n)
{
	return n->net;
}

_Static_assert(sizeof(((struct node_contact *)0)->tox_id) ==
	       sizeof(((struct net_status *)0)->tox_id), "a Tox ID as net has it");
_Static_assert(sizeof(((struct node_contact *)0)->dht_key) ==
	       sizeof(((struct net_status *)0)->dht_key), "a DHT key as net has it");
_Static_assert(NODE_ECHO_MAX == NET_BODY_MAX, "an echo's body is a message body");
_Static_assert(NODE_ID_BYTES == IDENT_KEY_BYTES, "a member's id is its key");

int node_peer_name(struct node *n, const uint8_t id[NODE_ID_BYTES], char *out, size_t len)
{
	if (n->net == NULL)
		return -ENOTCONN;
	return net_name_of(n->net, id, out, len);
}

int node_peers(struct node *n, int json, char **out)
{
	*out = NULL;
	if (n->net == NULL)
		return -ENOTCONN;
	*out = net_nodes(n->net, json);
	return *out != NULL ? 0 : -ENOMEM;
}

int node_contact(struct node *n, struct node_contact *out)
{
	struct net_status st;

	memset(out, 0, sizeof(*out));
	if (n->net == NULL)
		return -ENOTCONN;
	net_status(n->net, &st);
	memcpy(out->tox_id, st.tox_id, sizeof(out->tox_id));
	memcpy(out->dht_key, st.dht_key, sizeof(out->dht_key));
	out->udp_port = st.udp_port;
	out->run_ms = st.run_ms;
	out->tox_age_ms = st.tox_age_ms;
	return 0;
}

int node_peer_lookup(struct node *n, const char *what, uint8_t id[NODE_ID_BYTES])
{
	if (n->net == NULL)
		return -ENOTCONN;
	return net_lookup(n->net, what, id);
}

int node_echo(struct node *n, const uint8_t id[NODE_ID_BYTES], const uint8_t *body, size_t len,
	      int timeout_ms, uint8_t **reply, size_t *reply_len)
{
	*reply = NULL;
	*reply_len = 0;
	if (n->net == NULL)
		return -ENOTCONN;
	return net_call(n->net, id, NET_ECHO, body, len, RPC_IDEMPOTENT, timeout_ms, reply,
			reply_len);
}

int node_peer_remove(struct node *n, const char *what)
{
	if (n->net == NULL)
		return -ENOTCONN;
	return net_remove(n->net, what);
}

int node_peer_reconnect(struct node *n, const char *what)
{
	if (n->net == NULL)
		return -ENOTCONN;
	return net_reconnect(n->net, what);
}

int node_host_has_ipv6(void)
{
	return net_host_has_ipv6();
}

static void entry_to_stat(const struct db_entry *e, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = kind_type(e->kind) | (e->mode & 07777);
	st->st_nlink = e->kind == DB_DIR ? 2 : 1;
	st->st_uid = e->uid;
	st->st_gid = e->gid;
	st->st_size = (off_t)e->size;
	st->st_blksize = 65536;
	st->st_blocks = (blkcnt_t)((e->size + 511) / 512);
	st->st_mtim.tv_sec = e->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = e->mtime_ns % 1000000000;
	st->st_atim = st->st_mtim;
	st->st_ctim.tv_sec = e->ctime_ns / 1000000000;
	st->st_ctim.tv_nsec = e->ctime_ns % 1000000000;
}

/* Staged size and mtime of an open, changed copy of path.  hlock held. */
static void overlay_open_file(struct node *n, const char *path, struct stat *st)
{
	for (struct node_file *f = n->files; f != NULL; f = f->next) {
		if (f->path == NULL || strcmp(f->path, path) != 0)
			continue;
		if (__atomic_load_n(&f->dirty, __ATOMIC_ACQUIRE)) {
			uint64_t size = __atomic_load_n(&f->size, __ATOMIC_RELAXED);
			int64_t mt = __atomic_load_n(&f->mtime_ns, __ATOMIC_RELAXED);

			st->st_size = (off_t)size;
			st->st_blocks = (blkcnt_t)((size + 511) / 512);
			st->st_mtim.tv_sec = mt / 1000000000;
			st->st_mtim.tv_nsec = mt % 1000000000;
			st->st_atim = st->st_mtim;
		}
	}
}

int node_getattr(struct node *n, const char *path, struct stat *st)
{
	struct db_entry e;
	int r;

	if ((r = path_check(path)) != 0)
		return r;
	if ((r = db_get(n->db, path, &e)) != 0)
		return r;
	entry_to_stat(&e, st);
	db_entry_clear(&e);
	if (S_ISREG(st->st_mode)) {
		pthread_mutex_lock(&n->hlock);
		if (n->nfiles > 0)
			overlay_open_file(n, path, st);
		pthread_mutex_unlock(&n->hlock);
	}
	return 0;
}

struct list_ctx {
	node_dir_cb cb;
	void *ctx;
};

static int list_one(const char *name, const struct db_entry *e, int64_t cursor, void *ctx)
{
	struct list_ctx *lc = ctx;
	struct stat st;

	entry_to_stat(e, &st);
	return lc->cb(name, &st, cursor, lc->ctx);
}

int node_readdir(struct node *n, const char *path, int64_t after, node_dir_cb cb, void *ctx)
{
	struct list_ctx lc = { cb, ctx };
	int r;

	if ((r = path_check(path)) != 0)
		return r;
	return db_list(n->db, path, after, list_one, &lc);
}

/* Checks every new name: the components are valid, none too long. */
static int check_new(const char *path)
{
	int r = path_check(path);

	if (r == 0 && strcmp(path, "/") == 0)
		r = -EEXIST;
	return r;
}

int node_mkdir(struct node *n, const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	int r = check_new(path);

	return r ? r : db_mkdir(n->db, path, mode & 07777, uid, gid);
}

int node_rmdir(struct node *n, const char *path)
{
	int r = path_check(path);

	return r ? r : db_rmdir(n->db, path);
}

/* Drop the blob of sha if nothing refers to it any more. */
/* Open handles of path lose their name (the file was removed).  hlock held. */
static void detach_files(struct node *n, const char *path)
{
	for (struct node_file *f = n->files; f != NULL; f = f->next)
		if (f->path != NULL && strcmp(f->path, path) == 0) {
			free(f->path);
			f->path = NULL;
		}
}

int node_unlink(struct node *n, const char *path)
{
	uint8_t old[STORE_SHA_BYTES];
	int has_old = 0, r;

	if ((r = path_check(path)) != 0)
		return r;
	pthread_mutex_lock(&n->hlock);
	r = db_unlink(n->db, path, &has_old, old);
	if (r == 0)
		detach_files(n, path);
	pthread_mutex_unlock(&n->hlock);
	if (r == 0 && has_old)
		collect(n, old);
	return r;
}

int node_rename(struct node *n, const char *from, const char *to, unsigned flags)
{
	uint8_t old[STORE_SHA_BYTES];
	int has_old = 0, r;

	if ((r = path_check(from)) != 0 || (r = check_new(to)) != 0)
		return r;
	pthread_mutex_lock(&n->hlock);
	r = db_rename(n->db, from, to, flags, &has_old, old);
	if (r == 0 && strcmp(from, to) != 0) {
		detach_files(n, to);
		for (struct node_file *f = n->files; f != NULL; f = f->next) {
			char np[PATH_TREE_MAX], *dup;

			if (f->path == NULL || !path_is_within(f->path, from))
				continue;
			if (path_rebase(f->path, from, to, np, sizeof(np)) != 0 ||
			    (dup = strdup(np)) == NULL) {
				free(f->path);
				f->path = NULL;
				continue;
			}
			free(f->path);
			f->path = dup;
		}
	}
	pthread_mutex_unlock(&n->hlock);
	if (r == 0 && has_old)
		collect(n, old);
	return r;
}

int node_symlink(struct node *n, const char *target, const char *path, uid_t uid, gid_t gid)
{
	int r = check_new(path);

	if (r != 0)
		return r;
	if (target[0] == '\0')
		return -ENOENT;
	return db_symlink(n->db, path, target, uid, gid);
}

int node_readlink(struct node *n, const char *path, char *buf, size_t len)
{
	struct db_entry e;
	int r;

	if (len == 0)
		return -EINVAL;
	if ((r = path_check(path)) != 0 || (r = db_get(n->db, path, &e)) != 0)
		return r;
	if (e.kind != DB_LINK || e.target == NULL) {
		r = -EINVAL;
	} else {
		/* readlink(2) truncates; FUSE wants it NUL-terminated. */
		snprintf(buf, len, "%s", e.target);
	}
	db_entry_clear(&e);
	return r;
}

/* A mode or owner change, in step with the set-ID rules (setid_apply). */
static int setattr_ids(struct node *n, const char *path, int what, mode_t mode, uid_t uid,
		       gid_t gid)
{
	int r = path_check(path);

	if (r != 0)
		return r;
	pthread_mutex_lock(&n->attr_lock);
	r = db_setattr(n->db, path, what, mode, uid, gid, 0);
	__atomic_add_fetch(&n->attr_gen, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&n->attr_lock);
	return r;
}

int node_chmod(struct node *n, const char *path, mode_t mode)
{
	return setattr_ids(n, path, DB_SET_MODE, mode, 0, 0);
}

int node_chown(struct node *n, const char *path, uid_t uid, gid_t gid)
{
	return setattr_ids(n, path, DB_SET_OWNER, 0, uid, gid);
}

static int cred_in_group(const struct node_cred *c, gid_t g)
{
	return c->gid == g || (c->in_group != NULL && c->in_group(g, c->ctx) > 0);
}

mode_t node_setid_drop(mode_t mode, gid_t gid, const struct node_cred *c, int change)
{
	mode_t drop = 0;

	/* Linux: setattr_should_drop_suidgid() for writes and truncates,
	   chown_common() for chown. */
	if (change == NODE_SETID_WRITE && c->fsetid)
		return 0;
	if (mode & S_ISUID)
		drop |= S_ISUID;
	/* Without group-execute the bit once meant mandatory locking, which
	   its group may keep. */
	if ((mode & S_ISGID) && ((mode & S_IXGRP) || (!c->fsetid && !cred_in_group(c, gid))))
		drop |= S_ISGID;
	return drop;
}

/*
 * Take away from path the set-ID bits that change by c takes: 1 if some
 * went, 0 if there were none to take, or -errno.  The mode and group the
 * file has afterwards, and the attr_gen they go with, into the out
 * parameters.
 */
static int setid_apply(struct node *n, const char *path, const struct node_cred *c, int change,
		       uint64_t *gen, uint32_t *mode, gid_t *gid)
{
	struct db_entry e;
	mode_t drop = 0;
	int r;

	pthread_mutex_lock(&n->attr_lock);
	*gen = __atomic_load_n(&n->attr_gen, __ATOMIC_ACQUIRE);
	if ((r = db_get(n->db, path, &e)) != 0)
		goto out;
	if (e.kind == DB_FILE)
		drop = node_setid_drop(e.mode, e.gid, c, change);
	*mode = e.mode & ~drop;
	*gid = e.gid;
	db_entry_clear(&e);
	if (drop != 0) {
		if ((r = db_setattr(n->db, path, DB_SET_MODE, *mode, 0, 0, 0)) == 0)
			r = 1;
		/* Open files read it again; this one's copy is right. */
		__atomic_add_fetch(&n->attr_gen, 1, __ATOMIC_RELEASE);
		if (r == 1 && *gen + 1 == __atomic_load_n(&n->attr_gen, __ATOMIC_ACQUIRE))
			*gen += 1;
	}
out:
	pthread_mutex_unlock(&n->attr_lock);
	return r;
}

int node_setid(struct node *n, const char *path, const struct node_cred *c, int change)
{
	uint64_t gen;
	uint32_t mode;
	gid_t gid;
	int r = path_check(path);

	return r ? r : setid_apply(n, path, c, change, &gen, &mode, &gid);
}

int node_file_setid(struct node_file *f, const struct node_cred *c, int change)
{
	struct node *n = f->node;
	char path[PATH_TREE_MAX];
	uint64_t gen = __atomic_load_n(&n->attr_gen, __ATOMIC_ACQUIRE);
	uint32_t mode;
	gid_t gid;
	int r;

	if (change == NODE_SETID_WRITE && c->fsetid)
		return 0;
	/* At every write: what the file had the last time, if nothing
	   changed since, answers without the database. */
	pthread_mutex_lock(&f->lock);
	r = f->setid_gen == gen && node_setid_drop(f->setid_mode, f->setid_gid, c, change) == 0;
	pthread_mutex_unlock(&f->lock);
	if (r)
		return 0;
	if ((r = node_file_path(f, path, sizeof(path))) != 0)
		return r == -ESTALE ? 0 : r;	/* removed: no name to run it by */
	if ((r = setid_apply(n, path, c, change, &gen, &mode, &gid)) < 0)
		return r == -ENOENT ? 0 : r;
	pthread_mutex_lock(&f->lock);
	f->setid_gen = gen;
	f->setid_mode = mode;
	f->setid_gid = gid;
	pthread_mutex_unlock(&f->lock);
	return r;
}

int node_file_created(struct node_file *f)
{
	return f->created;
}

int node_utimens(struct node *n, const char *path, int64_t mtime_ns)
{
	int r = path_check(path);

	if (r != 0)
		return r;
	if ((r = db_setattr(n->db, path, DB_SET_MTIME, 0, 0, 0, mtime_ns)) != 0)
		return r;
	/*
	 * cp -p and tar set the time after the last write but before close:
	 * an open, changed copy must publish with this time, not the time of
	 * its last write.  A later write moves it again, as it should.
	 */
	pthread_mutex_lock(&n->hlock);
	for (struct node_file *f = n->files; f != NULL; f = f->next)
		if (f->path != NULL && strcmp(f->path, path) == 0)
			__atomic_store_n(&f->mtime_ns, mtime_ns, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&n->hlock);
	return 0;
}

int node_access(struct node *n, const char *path, int mask, uid_t uid, gid_t gid)
{
	struct stat st;
	int r = node_getattr(n, path, &st);
	mode_t bits;

	if (r != 0 || mask == F_OK)
		return r;
	if (uid == 0) {
		/* root may do anything but execute what nobody may execute */
		if ((mask & X_OK) && !S_ISDIR(st.st_mode) && !(st.st_mode & 0111))
			return -EACCES;
		return 0;
	}
	if (st.st_uid == uid)
		bits = (st.st_mode >> 6) & 7;
	else if (st.st_gid == gid)
		bits = (st.st_mode >> 3) & 7;
	else
		bits = st.st_mode & 7;
	if (((mask & R_OK) && !(bits & 4)) || ((mask & W_OK) && !(bits & 2)) ||
	    ((mask & X_OK) && !(bits & 1)))
		return -EACCES;
	return 0;
}

int node_statfs(struct node *n, struct statvfs *sv)
{
	if (statvfs(n->data_dir, sv) != 0)
		return -errno;
	sv->f_namemax = PATH_NAME_MAX;
	return 0;
}

struct holders_ctx {
	char *buf;
	size_t size, len;
};

static int holder_one(const uint8_t node[DB_NODE_BYTES], void *ctx)
{
	struct holders_ctx *h = ctx;
	char hex[STORE_HEX_LEN];

	store_hex(node, hex);
	if (h->len + (h->len ? 1 : 0) + 64 < h->size) {
		if (h->len)
			h->buf[h->len++] = ',';
		memcpy(h->buf + h->len, hex, 64);
	} else if (h->len) {
		h->len++;
	}
	h->len += 64;
	return 0;
}

/* Copy value (len bytes) out as getxattr(2) does. */
static int xattr_value(const char *value, size_t len, char *buf, size_t size)
{
	if (size == 0)
		return (int)len;
	if (len > size)
		return -ERANGE;
	memcpy(buf, value, len);
	return (int)len;
}

int node_getxattr(struct node *n, const char *path, const char *name, char *buf, size_t size)
{
	struct db_entry e;
	int r;

	/*
	 * Only the user namespace exists here.  ENOTSUP (not ENODATA) for the
	 * others tells tools such as ls that this filesystem has no ACLs or
	 * security labels, so they stop asking for every file.
	 */
	if (strncmp(name, "user.", 5) != 0)
		return -ENOTSUP;
	if ((r = path_check(path)) != 0 || (r = db_get(n->db, path, &e)) != 0)
		return r;
	if (e.kind == DB_FILE && strcmp(name, XATTR_STATE) == 0) {
		/* local: the content is here; fetching N%; remote: elsewhere */
		char v[64];
		uint64_t done = 0;
		int pct;

		if (!e.has_sha || store_has(n->store, e.sha256))
			snprintf(v, sizeof(v), "local");
		else if (n->xfer != NULL && (pct = xfer_progress(n->xfer, e.sha256, &done)) >= 0)
			snprintf(v, sizeof(v), "fetching %d%% (%llu of %llu bytes)", pct,
				 (unsigned long long)done, (unsigned long long)e.size);
		else
			snprintf(v, sizeof(v), "remote");
		r = xattr_value(v, strlen(v), buf, size);
	} else if (e.kind != DB_FILE || !e.has_sha) {
		r = -ENODATA;
	} else if (strcmp(name, XATTR_SHA) == 0) {
		char hex[STORE_HEX_LEN];

		store_hex(e.sha256, hex);
		r = xattr_value(hex, 64, buf, size);
	} else if (strcmp(name, XATTR_REPLICAS) == 0) {
		/* "N of R": nodes known to hold it, of the copies wanted */
		char tmp[8192], v[64];
		struct holders_ctx h = { tmp, sizeof(tmp), 0 };
		int count = 0;

		if ((r = db_holders(n->db, e.sha256, holder_one, &h)) == 0) {
			count = h.len > 0 ? (int)((h.len + 1) / 65) : 0;
			snprintf(v, sizeof(v), "%d of %lld", count, (long long)n->cfg->replicas);
			r = xattr_value(v, strlen(v), buf, size);
		}
	} else if (strcmp(name, XATTR_HOLDERS) == 0) {
		char tmp[8192];
		struct holders_ctx h = { tmp, sizeof(tmp), 0 };

		if ((r = db_holders(n->db, e.sha256, holder_one, &h)) == 0)
			r = h.len > sizeof(tmp) ? -E2BIG : xattr_value(tmp, h.len, buf, size);
	} else {
		r = -ENODATA;
	}
	db_entry_clear(&e);
	return r;
}

int node_listxattr(struct node *n, const char *path, char *buf, size_t size)
{
	static const char names[] = XATTR_SHA "\0" XATTR_HOLDERS "\0" XATTR_STATE "\0" XATTR_REPLICAS;
	struct db_entry e;
	int r;

	if ((r = path_check(path)) != 0 || (r = db_get(n->db, path, &e)) != 0)
		return r;
	if (e.kind == DB_FILE && e.has_sha)
		r = xattr_value(names, sizeof(names), buf, size);
	else if (e.kind == DB_FILE)
		r = xattr_value(XATTR_STATE, sizeof(XATTR_STATE), buf, size);
	else
		r = 0;
	db_entry_clear(&e);
	return r;
}

/* ---- open files ---- */

static void file_link(struct node *n, struct node_file *f)
{
	pthread_mutex_lock(&n->hlock);
	f->next = n->files;
	if (n->files)
		n->files->prev = f;
	n->files = f;
	n->nfiles++;
	pthread_mutex_unlock(&n->hlock);
}

/* hlock held. */
static void file_unlink_locked(struct node *n, struct node_file *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		n->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->next = f->prev = NULL;
	n->nfiles--;
}

static void file_unlink(struct node *n, struct node_file *f)
{
	pthread_mutex_lock(&n->hlock);
	file_unlink_locked(n, f);
	pthread_mutex_unlock(&n->hlock);
}

static void file_free(struct node_file *f)
{
	if (f == NULL)
		return;
	if (f->blob_fd >= 0)
		close(f->blob_fd);
	if (f->stage_fd >= 0) {
		close(f->stage_fd);
		unlink(f->stage_path);
	}
	pthread_mutex_destroy(&f->lock);
	free(f->path);
	free(f);
}

static struct node_file *file_new(struct node *n, const char *path)
{
	struct node_file *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	if ((f->path = strdup(path)) == NULL) {
		free(f);
		return NULL;
	}
	f->node = n;
	f->blob_fd = -1;
	f->stage_fd = -1;
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

/* -ENOSPC if adding bytes would eat into the database's reserve. */
static int space_for(struct node *n, uint64_t bytes)
{
	int r = store_space_for(n->store, bytes);

	if (r == -ENOSPC) {
		gc_drain(n);	/* deleted content may be waiting to be freed */
		r = store_space_for(n->store, bytes);
	}
	return r;
}

/*
 * Start the staged content afresh, empty (O_TRUNC, truncate to 0, a new
 * file).  No staging file is made until the first byte is written, so
 * creating empty files costs no file on disk.
 */
static int stage_reset(struct node_file *f)
{
	if (f->stage_fd >= 0 && ftruncate(f->stage_fd, 0) != 0)
		return -errno;
	f->fresh = 1;
	f->size = 0;
	sha256_init(&f->hash);
	f->hashed = 0;
	f->hash_ok = 1;
	return 0;
}

/* copy_file_range by hand, for filesystems that do not offer it. */
static ssize_t copy_plain(int in_fd, off_t *in, int out_fd, off_t *out, uint64_t len)
{
	char buf[65536];
	ssize_t n = pread(in_fd, buf, len < sizeof(buf) ? len : sizeof(buf), *in);

	if (n <= 0)
		return n;
	if (pwrite(out_fd, buf, (size_t)n, *out) != n)
		return -1;
	*in += n;
	*out += n;
	return n;
}

/* Have a staging file: empty when fresh, else a copy of the published
   content, made before the first change to it. */
static int stage_ensure(struct node_file *f)
{
	off_t in = 0, out = 0;
	int r;

	if (f->stage_fd >= 0)
		return 0;
	if (!f->fresh && (r = space_for(f->node, f->size_published)) != 0)
		return r;
	if ((r = store_staging_new(f->node->store, &f->stage_fd, f->stage_path,
				   sizeof(f->stage_path))) != 0)
		return r;
	if (f->fresh || f->blob_fd < 0 || f->size_published == 0) {
		if (!f->fresh)
			stage_reset(f);
		return 0;
	}
	while ((uint64_t)in < f->size_published) {
		ssize_t c = copy_file_range(f->blob_fd, &in, f->stage_fd, &out,
					    f->size_published - (uint64_t)in, 0);

		if (c < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
			      errno == EOPNOTSUPP))
			c = copy_plain(f->blob_fd, &in, f->stage_fd, &out,
				       f->size_published - (uint64_t)in);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto fail;
		}
		if (c == 0) {
			r = -EIO;	/* blob shorter than its record */
			goto fail;
		}
	}
	f->size = f->size_published;
	f->hash_ok = 0;
	return 0;
fail:
	close(f->stage_fd);
	unlink(f->stage_path);
	f->stage_fd = -1;
	return r;
}

/* f's path for a message: copied under hlock, as rename may free it. */
static const char *file_name(struct node_file *f, char *buf, size_t len)
{
	pthread_mutex_lock(&f->node->hlock);
	snprintf(buf, len, "%s", f->path ? f->path : "(removed)");
	pthread_mutex_unlock(&f->node->hlock);
	return buf;
}

static void set_changed(struct node_file *f, uint64_t size)
{
	if (!__atomic_load_n(&f->dirty, __ATOMIC_RELAXED))
		__atomic_store_n(&f->dirty_since_ms, deadline_now_ms(), __ATOMIC_RELAXED);
	f->touched = 1;
	__atomic_store_n(&f->size, size, __ATOMIC_RELAXED);
	__atomic_store_n(&f->mtime_ns, clock_wall_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(&f->dirty, 1, __ATOMIC_RELEASE);
}

int node_open_file(struct node *n, const char *path, int flags, struct node_file **out)
{
	struct node_file *f = NULL;
	struct db_entry e = { 0 };
	int r, locked = 0;

	*out = NULL;
	if ((r = path_check(path)) != 0)
		return r;
	/* The collector must not remove the content between the lookup and
	   the open of its blob. */
	pthread_rwlock_rdlock(&n->gc_lock);
	locked = 1;
	if ((r = db_get(n->db, path, &e)) != 0)
		goto out;
	if (e.kind == DB_DIR) {
		r = -EISDIR;
		goto out;
	}
	if (e.kind != DB_FILE) {
		r = -ELOOP;
		goto out;
	}
	if ((f = file_new(n, path)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	f->writable = (flags & O_ACCMODE) != O_RDONLY;
	f->size = f->size_published = e.size;
	f->mtime_ns = e.mtime_ns;
	f->has_sha = e.has_sha;
	memcpy(f->sha, e.sha256, STORE_SHA_BYTES);
	/* With O_TRUNC the old content is never needed, even if it is lost. */
	if (e.has_sha && e.size > 0 && !(f->writable && (flags & O_TRUNC))) {
		r = store_open_blob(n->store, e.sha256, &f->blob_fd);
		if (r == -ENOENT && n->xfer != NULL) {
			/* Held elsewhere: fetched whole, checked, kept.  The
			   collector may run meanwhile; the entry names the
			   content, so it stays once here. */
			pthread_rwlock_unlock(&n->gc_lock);
			locked = 0;
			r = xfer_fetch(n->xfer, e.sha256, e.size);
			pthread_rwlock_rdlock(&n->gc_lock);
			locked = 1;
			if (r != 0) {
				char hex[STORE_HEX_LEN];

				store_hex(e.sha256, hex);
				log_warn("%s: cannot fetch its content %s: %s", path, hex, strerror(-r));
				r = r == -ENOSPC ? r : -EIO;
				goto out;
			}
			r = store_open_blob(n->store, e.sha256, &f->blob_fd);
		}
		if (r == -ENOENT) {
			char hex[STORE_HEX_LEN];

			store_hex(e.sha256, hex);
			log_error("%s: content %s is not held by this node", path, hex);
			r = -EIO;
		}
		if (r == -EIO)	/* missing or damaged: no longer held here */
			db_holder_remove(n->db, e.sha256, n->id);
		if (r != 0)
			goto out;
	}
	pthread_rwlock_unlock(&n->gc_lock);
	locked = 0;
	if (f->writable && (flags & O_TRUNC)) {
		if ((r = stage_reset(f)) != 0)
			goto out;
		/* Even an empty file's times move, as on a disk. */
		set_changed(f, 0);
	}
	file_link(n, f);
	*out = f;
	f = NULL;
	r = 0;
out:
	if (locked)
		pthread_rwlock_unlock(&n->gc_lock);
	file_free(f);
	db_entry_clear(&e);
	return r;
}

/* The next open of f's path does not keep the kernel's pages. */
static void page_cache_forget(struct node_file *f)
{
	struct node *n = f->node;

	pthread_mutex_lock(&n->hlock);
	if (f->path != NULL) {
		uint64_t h = path_hash(f->path);
		unsigned slot = (unsigned)(h % PAGE_CACHE_SLOTS);

		if (n->page_cache[slot].path_hash == h)
			n->page_cache[slot].path_hash = 0;
	}
	pthread_mutex_unlock(&n->hlock);
}

int node_file_keep_cache(struct node_file *f)
{
	struct node *n = f->node;
	uint64_t h;
	int keep = 0;

	pthread_mutex_lock(&n->hlock);
	if (f->cache_stale) {
		f->cache_stale = 0;
	} else if (f->opens > 1) {
		/* Joined an open state: the kernel's pages are its bytes. */
		keep = 1;
	} else if (f->has_sha && f->path != NULL) {
		h = path_hash(f->path);
		unsigned slot = (unsigned)(h % PAGE_CACHE_SLOTS);

		keep = n->page_cache[slot].path_hash == h &&
		       memcmp(n->page_cache[slot].sha, f->sha, STORE_SHA_BYTES) == 0;
		n->page_cache[slot].path_hash = h;
		memcpy(n->page_cache[slot].sha, f->sha, STORE_SHA_BYTES);
	}
	pthread_mutex_unlock(&n->hlock);
	return keep;
}

int node_create(struct node *n, const char *path, mode_t mode, int flags, uid_t uid, gid_t gid,
		struct node_file **out)
{
	struct db_publish p = { .path = path, .excl = 1, .create = 1, .mode = mode & 07777,
				.uid = uid, .gid = gid, .size = 0, .sha = n->empty_sha,
				.holder = n->id };
	struct node_file *f;
	int r;

	*out = NULL;
	if ((r = check_new(path)) != 0)
		return r;
	r = db_publish(n->db, &p);
	if (r == -EEXIST && !(flags & O_EXCL))
		return node_open_file(n, path, flags, out);
	if (r != 0)
		return r;
	if ((f = file_new(n, path)) == NULL)
		return -ENOMEM;
	f->writable = (flags & O_ACCMODE) != O_RDONLY;
	f->mtime_ns = clock_wall_ns();
	f->created = 1;
	/* Fresh: sequential writes are hashed as they come. */
	stage_reset(f);
	file_link(n, f);
	*out = f;
	return 0;
}

ssize_t node_file_read(struct node_file *f, char *buf, size_t size, off_t off)
{
	size_t done = 0;
	ssize_t r = 0;
	int fd;

	if (off < 0)
		return -EINVAL;
	pthread_mutex_lock(&f->lock);
	fd = f->stage_fd >= 0 ? f->stage_fd : f->fresh ? -1 : f->blob_fd;
	while (fd >= 0 && done < size) {
		ssize_t c = pread(fd, buf + done, size - done, off + (off_t)done);

		if (c < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (c == 0)
			break;
		done += (size_t)c;
	}
	pthread_mutex_unlock(&f->lock);
	return r < 0 ? r : (ssize_t)done;
}

ssize_t node_file_write(struct node_file *f, const char *buf, size_t size, off_t off)
{
	char name[PATH_TREE_MAX];
	size_t done = 0;
	ssize_t r = 0;

	if (off < 0)
		return -EINVAL;
	if (!__atomic_load_n(&f->writable, __ATOMIC_ACQUIRE))
		return -EBADF;
	pthread_mutex_lock(&f->lock);
	if (f->error) {
		r = f->error;
		goto out;
	}
	if ((r = stage_ensure(f)) != 0 || (r = space_for(f->node, size)) != 0)
		goto fail;
	while (done < size) {
		ssize_t c = pwrite(f->stage_fd, buf + done, size - done, off + (off_t)done);

		if (c < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto fail;
		}
		done += (size_t)c;
	}
	if (f->hash_ok) {
		if ((uint64_t)off == f->hashed) {
			sha256_update(&f->hash, buf, size);
			f->hashed += size;
		} else {
			f->hash_ok = 0;
		}
	}
	set_changed(f, (uint64_t)off + size > f->size ? (uint64_t)off + size : f->size);
	r = (ssize_t)size;
	goto out;
fail:
	/* A failed write leaves the staged copy incomplete: never publish it. */
	f->error = (int)r;
	log_warn("%s: write failed: %s; the file keeps its previous content",
		 file_name(f, name, sizeof(name)), strerror((int)-r));
out:
	pthread_mutex_unlock(&f->lock);
	return r;
}

int node_file_truncate(struct node_file *f, uint64_t size)
{
	int r;

	if (!__atomic_load_n(&f->writable, __ATOMIC_ACQUIRE))
		return -EBADF;
	if (size > (uint64_t)INT64_MAX)
		return -EFBIG;
	pthread_mutex_lock(&f->lock);
	if ((r = f->error) != 0)
		goto out;
	if (size == 0) {
		r = stage_reset(f);
	} else if ((r = stage_ensure(f)) == 0 && ftruncate(f->stage_fd, (off_t)size) != 0) {
		r = -errno;
	}
	if (r != 0) {
		f->error = r;
		goto out;
	}
	if (size != f->hashed)
		f->hash_ok = 0;
	set_changed(f, size);
out:
	pthread_mutex_unlock(&f->lock);
	return r;
}

int node_file_path(struct node_file *f, char *buf, size_t len)
{
	int r = -ESTALE;

	pthread_mutex_lock(&f->node->hlock);
	if (f->path != NULL)
		r = snprintf(buf, len, "%s", f->path) < (int)len ? 0 : -ENAMETOOLONG;
	pthread_mutex_unlock(&f->node->hlock);
	return r;
}

/* Is f's content still its file's version?  (g may have published a
   newer one since f was opened.) */
static int is_current(struct node_file *f)
{
	char path[PATH_TREE_MAX];
	struct db_entry e;
	int cur;

	if (node_file_path(f, path, sizeof(path)) != 0 || db_get(f->node->db, path, &e) != 0)
		return 0;
	cur = e.kind == DB_FILE && e.has_sha == f->has_sha &&
	      (!e.has_sha || memcmp(e.sha256, f->sha, STORE_SHA_BYTES) == 0);
	db_entry_clear(&e);
	return cur;
}

/* The mount's open state of ino other than except, or NULL.  hlock held. */
static struct node_file *shared_of(struct node *n, uint64_t ino, const struct node_file *except)
{
	struct node_file *g;

	for (g = n->files; g != NULL; g = g->next)
		if (g != except && g->shared && g->ino == ino)
			break;
	return g;
}

struct node_file *node_file_share(struct node_file *f, uint64_t ino, int flags)
{
	struct node *n = f->node;
	struct node_file *g;
	int writer = (flags & O_ACCMODE) != O_RDONLY;

	pthread_mutex_lock(&n->hlock);
	if ((g = shared_of(n, ino, f)) == NULL) {
		f->ino = ino;
		f->shared = 1;
		f->opens = 1;
		pthread_mutex_unlock(&n->hlock);
		node_inos_set_open(n->inos, ino, 1);
		return f;
	}
	g->opens++;	/* found under hlock: its last release waits for ours */
	file_unlink_locked(n, f);
	pthread_mutex_unlock(&n->hlock);
	pthread_mutex_lock(&g->lock);
	/* A member published a new version since g was opened, and g has no
	   change of its own: from now on g is the new version, which f has
	   just opened (fetched if need be).  The kernel's pages of the old
	   one go at this open.  A state with changes keeps them. */
	if (!g->dirty && g->stage_fd < 0 && !(writer && (flags & O_TRUNC)) &&
	    (g->has_sha != f->has_sha || memcmp(g->sha, f->sha, STORE_SHA_BYTES) != 0) &&
	    is_current(f)) {
		int fd = g->blob_fd;

		g->blob_fd = f->blob_fd;
		f->blob_fd = fd;
		g->has_sha = f->has_sha;
		memcpy(g->sha, f->sha, STORE_SHA_BYTES);
		g->size_published = f->size_published;
		__atomic_store_n(&g->size, f->size, __ATOMIC_RELAXED);
		__atomic_store_n(&g->mtime_ns, f->mtime_ns, __ATOMIC_RELAXED);
		g->fresh = 0;
		g->hash_ok = 0;
		pthread_mutex_lock(&n->hlock);
		g->cache_stale = 1;
		pthread_mutex_unlock(&n->hlock);
	}
	file_free(f);	/* opened just now: nothing else of it to keep */
	if (writer)
		__atomic_store_n(&g->writable, 1, __ATOMIC_RELEASE);
	g->created = 0;
	if (writer && (flags & O_TRUNC)) {
		/* Emptied: a failed write's incomplete bytes are gone too. */
		int r = stage_reset(g);

		g->error = r;
		if (r == 0)
			set_changed(g, 0);
	}
	pthread_mutex_unlock(&g->lock);
	return g;
}

struct node_file *node_files_hold(struct node *n, uint64_t ino, int writable)
{
	struct node_file *f;

	pthread_mutex_lock(&n->hlock);
	if ((f = shared_of(n, ino, NULL)) != NULL)
		f->opens++;
	pthread_mutex_unlock(&n->hlock);
	if (f != NULL && writable)
		__atomic_store_n(&f->writable, 1, __ATOMIC_RELEASE);
	return f;
}

int node_files_stat(struct node *n, uint64_t ino, struct stat *st)
{
	int r = -ESTALE;

	pthread_mutex_lock(&n->hlock);
	for (struct node_file *f = n->files; f != NULL; f = f->next) {
		uint64_t size;
		int64_t mt;

		if (f->ino != ino)
			continue;
		/* Removed while open: what the handle holds (as
		   node_file_getattr), read atomically under hlock. */
		size = __atomic_load_n(&f->size, __ATOMIC_RELAXED);
		mt = __atomic_load_n(&f->mtime_ns, __ATOMIC_RELAXED);
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFREG | 0600;
		st->st_size = (off_t)size;
		st->st_blocks = (blkcnt_t)((size + 511) / 512);
		st->st_mtim.tv_sec = mt / 1000000000;
		st->st_mtim.tv_nsec = mt % 1000000000;
		r = 0;
		break;
	}
	pthread_mutex_unlock(&n->hlock);
	return r;
}

int node_file_getattr(struct node_file *f, struct stat *st)
{
	struct node *n = f->node;
	char *path = NULL;
	int r = 0;

	pthread_mutex_lock(&n->hlock);
	if (f->path != NULL && (path = strdup(f->path)) == NULL)
		r = -ENOMEM;
	pthread_mutex_unlock(&n->hlock);
	if (r == 0 && path != NULL)
		r = node_getattr(n, path, st);
	if (path == NULL || r == -ENOENT) {
		/* Removed while open: describe what the handle holds. */
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 0;
		r = 0;
	}
	free(path);
	if (r == 0) {
		pthread_mutex_lock(&f->lock);
		if (f->dirty || path == NULL) {
			st->st_size = (off_t)f->size;
			st->st_blocks = (blkcnt_t)((f->size + 511) / 512);
			st->st_mtim.tv_sec = f->mtime_ns / 1000000000;
			st->st_mtim.tv_nsec = f->mtime_ns % 1000000000;
			/* A change of content is a change of the inode too. */
			if (f->mtime_ns > (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec) {
				st->st_ctim.tv_sec = f->mtime_ns / 1000000000;
				st->st_ctim.tv_nsec = f->mtime_ns % 1000000000;
			}
		}
		pthread_mutex_unlock(&f->lock);
	}
	return r;
}

/* Store the staged copy and publish it as the new version.  f->lock held. */
static int publish(struct node_file *f, int *has_old, uint8_t old[STORE_SHA_BYTES])
{
	struct node *n = f->node;
	uint8_t sha[STORE_SHA_BYTES];
	struct db_publish p = { 0 };
	int r = 0, published = 0;
	int64_t t0 = clock_wall_ns(), t_hash, t_sync;
	char name[PATH_TREE_MAX];

	*has_old = 0;
	if (!f->dirty)
		return 0;
	if (f->error)
		return f->error;
	if (f->stage_fd < 0) {
		/* Truncated and never written: the empty content, always held. */
		memcpy(sha, n->empty_sha, STORE_SHA_BYTES);
	} else if (f->hash_ok && f->hashed == f->size) {
		struct sha256 h = f->hash;

		sha256_final(&h, sha);
	} else if ((r = store_hash_fd(f->stage_fd, sha, NULL)) != 0) {
		goto fail;
	}
	t_hash = clock_wall_ns();
	/* The slow part of storing, outside the collector's lock. */
	if (f->stage_fd >= 0 && fsync(f->stage_fd) != 0) {
		r = -errno;
		goto fail;
	}
	t_sync = clock_wall_ns();
	pthread_rwlock_rdlock(&n->gc_lock);
	if (f->stage_fd >= 0 &&
	    (r = store_commit(n->store, f->stage_fd, f->stage_path, sha)) != 0) {
		pthread_rwlock_unlock(&n->gc_lock);
		goto fail;	/* the staged copy stays; a later close may retry */
	}
	pthread_mutex_lock(&n->hlock);
	if (f->path != NULL) {
		p.path = f->path;
		p.create = 1;
		p.mode = 0644;
		p.uid = f->uid;
		p.gid = f->gid;
		p.size = f->size;
		p.sha = sha;
		p.mtime_set = 1;
		p.mtime_ns = f->mtime_ns;
		p.holder = n->id;
		r = db_publish(n->db, &p);
		published = r == 0;
	}
	pthread_mutex_unlock(&n->hlock);
	pthread_rwlock_unlock(&n->gc_lock);
	/* The staged copy is now the blob (or a duplicate of it): read-only. */
	if (f->blob_fd >= 0)
		close(f->blob_fd);
	f->blob_fd = f->stage_fd;
	f->stage_fd = -1;
	f->fresh = 0;
	f->size_published = f->size;
	memcpy(f->sha, sha, STORE_SHA_BYTES);
	f->has_sha = 1;
	__atomic_store_n(&f->dirty, 0, __ATOMIC_RELEASE);
	if (!published) {
		/* Removed while open, or the database refused: drop the blob
		   again unless something else uses it. */
		collect(n, sha);
		if (r != 0) {
			f->error = r;
			log_error("%s: cannot publish: %s", file_name(f, name, sizeof(name)),
				  strerror(-r));
		}
		return r;
	}
	if (p.has_old) {
		*has_old = 1;
		memcpy(old, p.old_sha, STORE_SHA_BYTES);
	}
	log_debug("published %02x%02x%02x%02x...: %llu bytes (hash %lld ms, fsync %lld ms, "
		  "commit %lld ms)", sha[0], sha[1], sha[2], sha[3], (unsigned long long)f->size,
		  (long long)(t_hash - t0) / 1000000, (long long)(t_sync - t_hash) / 1000000,
		  (long long)(clock_wall_ns() - t_sync) / 1000000);
	return 0;
fail:
	log_error("%s: cannot store the new content: %s; the file keeps its previous content",
		  file_name(f, name, sizeof(name)), strerror(-r));
	return r;
}

/*
 * Publish the mount's files kept open for writing whose changes are older
 * than publish-interval, one at a time (the collector thread, about once
 * a second).  A publication that fails is tried again an interval later.
 */
static void publish_due(struct node *n)
{
	int64_t every = n->cfg->publish_interval_ms;

	if (every <= 0)
		return;
	for (;;) {
		int64_t now = deadline_now_ms();
		struct node_file *f;

		pthread_mutex_lock(&n->hlock);
		for (f = n->files; f != NULL; f = f->next)
			if (f->shared && __atomic_load_n(&f->dirty, __ATOMIC_ACQUIRE) &&
			    now - __atomic_load_n(&f->dirty_since_ms, __ATOMIC_RELAXED) >= every)
				break;
		if (f != NULL)
			f->opens++;	/* kept while published */
		pthread_mutex_unlock(&n->hlock);
		if (f == NULL)
			return;
		if (node_file_flush(f) != 0 || __atomic_load_n(&f->dirty, __ATOMIC_ACQUIRE))
			__atomic_store_n(&f->dirty_since_ms, now, __ATOMIC_RELAXED);
		node_file_release(f);
	}
}

int node_file_flush(struct node_file *f)
{
	uint8_t old[STORE_SHA_BYTES];
	int has_old, r;

	pthread_mutex_lock(&f->lock);
	r = publish(f, &has_old, old);
	pthread_mutex_unlock(&f->lock);
	if (r == 0 && has_old)
		collect(f->node, old);
	return r;
}

int node_file_fsync(struct node_file *f)
{
	int r = node_file_flush(f);

	return r ? r : db_sync(f->node->db);
}

int node_file_release(struct node_file *f)
{
	struct node *n;
	int r;

	if (f == NULL)
		return 0;
	n = f->node;
	if (f->shared) {
		int last;

		pthread_mutex_lock(&n->hlock);
		if ((last = --f->opens == 0))
			file_unlink_locked(n, f);	/* no one joins it now */
		pthread_mutex_unlock(&n->hlock);
		if (!last)
			return 0;
		/* Written through the kernel: its pages may hold what was not
		   published; the next open drops them. */
		if (f->touched)
			page_cache_forget(f);
		r = f->error ? 0 : node_file_flush(f);
		node_inos_set_open(n->inos, f->ino, 0);
		file_free(f);
		return r;
	}
	r = f->error ? 0 : node_file_flush(f);
	file_unlink(n, f);
	file_free(f);
	return r;
}

/* ---- whole-file writes (HTTP PUT): invisible until committed ---- */

int node_put_open(struct node *n, const char *path, int *existed, struct node_file **out)
{
	char parent[PATH_TREE_MAX];
	const char *name;
	struct db_entry e;
	struct node_file *f;
	int r;

	*out = NULL;
	*existed = 0;
	if ((r = check_new(path)) != 0 || (r = path_split(path, parent, sizeof(parent), &name)) != 0)
		return r;
	if ((r = db_get(n->db, parent, &e)) != 0)
		return r;
	r = e.kind == DB_DIR ? 0 : -ENOTDIR;
	db_entry_clear(&e);
	if (r != 0)
		return r;
	if ((r = db_get(n->db, path, &e)) == 0) {
		r = e.kind == DB_DIR ? -EISDIR : e.kind != DB_FILE ? -EEXIST : 0;
		*existed = 1;
		db_entry_clear(&e);
	} else if (r == -ENOENT) {
		r = 0;
	}
	if (r != 0)
		return r;
	if ((f = file_new(n, path)) == NULL)
		return -ENOMEM;
	f->writable = 1;
	f->uid = getuid();	/* a new file is the node's, as from mkdir */
	f->gid = getgid();
	f->mtime_ns = clock_wall_ns();
	stage_reset(f);
	f->dirty = 1;	/* an empty body is an empty file */
	*out = f;
	return 0;
}

int node_put_commit(struct node_file *f, uint64_t *size, uint8_t sha[STORE_SHA_BYTES])
{
	int r;

	if ((r = node_file_flush(f)) == 0) {	/* a failed write's error too */
		*size = f->size;
		memcpy(sha, f->sha, STORE_SHA_BYTES);
	}
	file_free(f);
	return r;
}

void node_put_abort(struct node_file *f)
{
	file_free(f);	/* the staged copy goes with it */
}

int node_space_for(struct node *n, uint64_t bytes)
{
	return space_for(n, bytes);
}

int node_open_content(struct node *n, const char *path, struct node_content *out)
{
	struct node_file *f;
	int r = node_open_file(n, path, O_RDONLY, &f);

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (r != 0)
		return r;
	out->size = f->size_published;
	out->mtime_ns = f->mtime_ns;
	out->has_sha = f->has_sha;
	memcpy(out->sha, f->sha, STORE_SHA_BYTES);
	if (f->blob_fd >= 0 && (out->fd = fcntl(f->blob_fd, F_DUPFD_CLOEXEC, 0)) < 0)
		r = -errno;
	node_file_release(f);
	return r;
}

int node_truncate(struct node *n, const char *path, uint64_t size)
{
	struct node_file *f;
	int r = node_open_file(n, path, O_WRONLY, &f);

	if (r != 0)
		return r;
	r = node_file_truncate(f, size);
	if (r == 0)
		r = node_file_flush(f);
	node_file_release(f);
	return r;
}

/* ---- status ---- */

void node_get_parts(struct node *n, struct node_parts *p)
{
	memset(p, 0, sizeof(*p));
	p->name = n->cfg->server_name;
	p->data_dir = n->data_dir;
	p->mount_point = n->mount_point;
	p->id = n->id;
	p->started = n->started;
	pthread_mutex_lock(&n->hlock);
	p->open_files = n->nfiles;
	pthread_mutex_unlock(&n->hlock);
	pthread_mutex_lock(&n->probe_lock);
	if (n->mount_probe != NULL) {
		p->has_mount = 1;
		n->mount_probe(&p->mount, n->mount_probe_ctx);
	}
	pthread_mutex_unlock(&n->probe_lock);
	p->db = n->db;
	p->store = n->store;
	p->net = n->net;
	p->sync = n->sync;
	p->xfer = n->xfer;
}
