#include "ops.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "node.h"
#include "path.h"

#define XATTR_PREFIX "user.oand."

/* private_data is the node once op_init has run. */
static struct node *node(void)
{
	return fuse_get_context()->private_data;
}

/*
 * fi->fh holds a struct node_file * for files, and for folders the path
 * opendir saw, tagged with the low bit (malloc'd pointers are aligned).
 */
#define FH_DIR 1u

static struct node_file *handle(struct fuse_file_info *fi)
{
	if (fi == NULL || fi->fh == 0 || (fi->fh & FH_DIR))
		return NULL;
	return (struct node_file *)(uintptr_t)fi->fh;
}

static const char *dir_handle(struct fuse_file_info *fi)
{
	if (fi == NULL || !(fi->fh & FH_DIR))
		return NULL;
	return (const char *)(uintptr_t)(fi->fh & ~(uint64_t)FH_DIR);
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* O_TRUNC arrives with open, so truncation is staged, not published. */
	conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* Cached pages are dropped by libfuse's auto_cache check at open, not
	   by a size/mtime check on every read. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* Requests are read, not spliced: fuse/watch.c sees each one. */
	conn->want &= ~FUSE_CAP_SPLICE_READ;
	conn->max_write = 1 << 20;
	/* Files are read whole and in order: several 1 MiB requests in flight
	   (the kernel grants at most what session.c set on the bdi). */
	conn->max_readahead = OPS_READAHEAD;
	cfg->nullpath_ok = 1;
	cfg->hard_remove = 1;
	/* Page cache kept or dropped per open by content (set_caching). */
	cfg->auto_cache = 0;
	cfg->kernel_cache = 0;
	/*
	 * Every change reaches the tree through this mount, so the kernel's
	 * caches stay right on their own; a FUSE round trip costs far more
	 * than the work behind it.  Changes from elsewhere (peers) will be
	 * pushed to the kernel with invalidations.
	 */
	cfg->entry_timeout = 10.0;
	cfg->attr_timeout = 10.0;
	/*
	 * No negative entries: a member's change that makes a name cannot
	 * take the kernel's cached "no such name" back (libfuse's high-level
	 * API invalidates by path only what it has a node for), and a name
	 * still missing after the change that follows it was seen breaks
	 * every writer that publishes a pointer last (git: a ref to objects
	 * that seem absent for as long as the negative entry lives).
	 */
	cfg->negative_timeout = 0;
	/* fuse_new was given a slot that the node was put in later. */
	return *(struct node **)fuse_get_context()->private_data;
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	if (handle(fi) != NULL)
		return node_file_getattr(handle(fi), st);
	if (path == NULL)
		path = dir_handle(fi);
	if (path == NULL)
		return -ENOENT;
	return node_getattr(node(), path, st);
}

struct fill_ctx {
	void *buf;
	fuse_fill_dir_t filler;
	enum fuse_fill_dir_flags flags;
};

/*
 * Offsets: 1 and 2 for "." and "..", then DIR_OFF + the entry's cursor.
 * Offsets (not one whole listing per open) are what make libfuse hand
 * READDIRPLUS entries to the kernel, so ls -l needs no lookup per name.
 */
#define DIR_OFF 2

static int fill_one(const char *name, const struct stat *st, int64_t cursor, void *ctx)
{
	struct fill_ctx *fc = ctx;

	return fc->filler(fc->buf, name, st, (off_t)(cursor + DIR_OFF), fc->flags);
}

static int op_opendir(const char *path, struct fuse_file_info *fi)
{
	struct stat st;
	char *dup;
	int r;

	if ((r = node_getattr(node(), path, &st)) != 0)
		return r;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if ((dup = strdup(path)) == NULL)
		return -ENOMEM;
	fi->fh = (uintptr_t)dup | FH_DIR;
	return 0;
}

static int op_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	free((char *)dir_handle(fi));
	return 0;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct fill_ctx fc = { buf, filler, (flags & FUSE_READDIR_PLUS) ? FUSE_FILL_DIR_PLUS : 0 };

	/* With nullpath_ok the path comes from the handle opendir made. */
	if (path == NULL)
		path = dir_handle(fi);
	if (path == NULL)
		return -ENOENT;
	if (off < 1 && filler(buf, ".", NULL, 1, 0) != 0)
		return 0;
	if (off < 2 && filler(buf, "..", NULL, 2, 0) != 0)
		return 0;
	return node_readdir(node(), path, off > DIR_OFF ? off - DIR_OFF : 0, fill_one, &fc);
}

static int op_mkdir(const char *path, mode_t mode)
{
	struct fuse_context *c = fuse_get_context();

	return node_mkdir(node(), path, mode, c->uid, c->gid);
}

static int op_rmdir(const char *path)
{
	return node_rmdir(node(), path);
}

static int op_unlink(const char *path)
{
	return node_unlink(node(), path);
}

static int op_rename(const char *from, const char *to, unsigned int flags)
{
	return node_rename(node(), from, to, flags);
}

static int op_link(const char *from, const char *to)
{
	(void)from;
	(void)to;
	return -EPERM;	/* one record per path: no hard links */
}

static int op_symlink(const char *target, const char *path)
{
	struct fuse_context *c = fuse_get_context();

	return node_symlink(node(), target, path, c->uid, c->gid);
}

static int op_readlink(const char *path, char *buf, size_t len)
{
	return node_readlink(node(), path, buf, len);
}

/* Is the caller of this request in group g (its supplementary groups)? */
static int caller_in_group(gid_t g, void *ctx)
{
	gid_t few[64], *list = few;
	int n = fuse_getgroups(64, few), in = 0;

	(void)ctx;
	if (n > 64 && (list = malloc((size_t)n * sizeof(*list))) != NULL)
		n = fuse_getgroups(n, list);
	for (int i = 0; list != NULL && i < n; i++)
		in |= list[i] == g;
	if (list != few)
		free(list);
	return in;
}

/* The caller of this request, for the set-ID rules.  FUSE does not pass
   capabilities: root counts as holding CAP_FSETID. */
static struct node_cred caller(void)
{
	struct fuse_context *c = fuse_get_context();
	struct node_cred cr = { c->uid, c->gid, c->uid == 0, caller_in_group, NULL };

	return cr;
}

/*
 * libfuse asks for FUSE_CAP_HANDLE_KILLPRIV: the set-ID rules of writes,
 * truncates and chown are ours.  The kernel applies them to truncates and
 * chown all the same (a mode change comes first), but never to our writes,
 * which bypass its page cache (direct_io), nor to an open with O_TRUNC,
 * which truncates here (FUSE_CAP_ATOMIC_O_TRUNC).  Once bits went, the
 * kernel forgets the mode it cached: it would still run the file set-ID.
 */
static int drop_setid(const char *path, struct fuse_file_info *fi, int change)
{
	struct node_cred cr = caller();
	char buf[PATH_TREE_MAX];
	int r;

	if (handle(fi) != NULL) {
		r = node_file_setid(handle(fi), &cr, change);
		if (r > 0 && path == NULL && node_file_path(handle(fi), buf, sizeof(buf)) == 0)
			path = buf;
	} else {
		r = path ? node_setid(node(), path, &cr, change) : -ENOENT;
	}
	if (r > 0 && path != NULL)
		fuse_invalidate_path(fuse_get_context()->fuse, path);
	return r < 0 ? r : 0;
}

/* The path of a call that may come with a handle only (nullpath_ok), as
   the kernel's mode change for an ftruncate does. */
static const char *path_of(const char *path, struct fuse_file_info *fi, char *buf, size_t len)
{
	if (path == NULL && handle(fi) != NULL && node_file_path(handle(fi), buf, len) == 0)
		path = buf;
	return path;
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	char buf[PATH_TREE_MAX];

	path = path_of(path, fi, buf, sizeof(buf));
	return path ? node_chmod(node(), path, mode) : -ESTALE;
}

static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	char buf[PATH_TREE_MAX];
	int r;

	if ((path = path_of(path, fi, buf, sizeof(buf))) == NULL)
		return -ESTALE;
	/* By the rules of the group it had. */
	if ((r = drop_setid(path, NULL, NODE_SETID_CHOWN)) != 0)
		return r;
	return node_chown(node(), path, uid, gid);
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	int r;

	if (size < 0)
		return -EINVAL;
	if ((r = drop_setid(path, fi, NODE_SETID_WRITE)) != 0)
		return r;
	if (handle(fi) != NULL)
		return node_file_truncate(handle(fi), (uint64_t)size);
	return path ? node_truncate(node(), path, (uint64_t)size) : -ENOENT;
}

static int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct timespec now;
	int64_t mt;

	(void)fi;
	if (path == NULL)
		return -ENOENT;
	if (tv == NULL || tv[1].tv_nsec == UTIME_NOW) {
		clock_gettime(CLOCK_REALTIME, &now);
		mt = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	} else if (tv[1].tv_nsec == UTIME_OMIT) {
		return 0;	/* only the access time: not kept */
	} else {
		/* Nanoseconds in 64 bits reach the years 1678..2262: clamp. */
		const time_t lim = INT64_MAX / 1000000000 - 1;
		time_t sec = tv[1].tv_sec < -lim ? -lim : tv[1].tv_sec > lim ? lim : tv[1].tv_sec;

		mt = (int64_t)sec * 1000000000 + tv[1].tv_nsec;
	}
	return node_utimens(node(), path, mt);
}

/*
 * Close-to-open needs unpublished bytes to stay out of the kernel's page
 * cache, which every open of the file shares: a writer's I/O goes straight
 * to its staging copy (direct_io).  Readers use the page cache, which is
 * kept at open only while it holds the content being opened.  A reader has
 * nothing to publish, so its close() needs no FLUSH round trip.
 */
static void set_caching(const char *path, struct fuse_file_info *fi)
{
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fi->direct_io = 1;
		return;
	}
	fi->noflush = 1;
	fi->keep_cache = node_file_keep_cache(handle(fi));
	/* New content: the kernel's size and times of it are stale too. */
	if (!fi->keep_cache && path != NULL)
		fuse_invalidate_path(fuse_get_context()->fuse, path);
}

/* An open that truncated a file that was there (FUSE_CAP_ATOMIC_O_TRUNC:
   the kernel does not) is a truncate for the set-ID rules. */
static int opened(const char *path, struct node_file *f, struct fuse_file_info *fi)
{
	int r;

	fi->fh = (uintptr_t)f;
	if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY &&
	    !node_file_created(f) && (r = drop_setid(path, fi, NODE_SETID_WRITE)) != 0) {
		node_file_release(f);
		fi->fh = 0;
		return r;
	}
	set_caching(path, fi);
	return 0;
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_context *c = fuse_get_context();
	struct node_file *f;
	int r = node_create(node(), path, mode, fi->flags, c->uid, c->gid, &f);

	return r ? r : opened(path, f, fi);
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct node_file *f;
	int r = node_open_file(node(), path, fi->flags, &f);

	return r ? r : opened(path, f, fi);
}

static int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	return (int)node_file_read(handle(fi), buf, size, off);
}

static int op_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	int r = drop_setid(path, fi, NODE_SETID_WRITE);

	return r ? r : (int)node_file_write(handle(fi), buf, size, off);
}

static int op_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	return node_file_flush(handle(fi));
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	node_file_release(handle(fi));
	return 0;
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	return node_file_fsync(handle(fi));
}

static int op_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	return node_statfs(node(), sv);
}

static int op_access(const char *path, int mask)
{
	struct fuse_context *c = fuse_get_context();

	return node_access(node(), path, mask, c->uid, c->gid);
}

static int op_getxattr(const char *path, const char *name, char *value, size_t size)
{
	return node_getxattr(node(), path, name, value, size);
}

static int op_listxattr(const char *path, char *list, size_t size)
{
	return node_listxattr(node(), path, list, size);
}

static int op_setxattr(const char *path, const char *name, const char *value, size_t size,
		       int flags)
{
	(void)path;
	(void)value;
	(void)size;
	(void)flags;
	/* The oand attributes describe content; they are not set by hand. */
	return strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) == 0 ? -EPERM : -ENOTSUP;
}

static int op_removexattr(const char *path, const char *name)
{
	return op_setxattr(path, name, NULL, 0, 0);
}

const struct fuse_operations ops_oand = {
	.init = op_init,
	.getattr = op_getattr,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.mkdir = op_mkdir,
	.rmdir = op_rmdir,
	.unlink = op_unlink,
	.rename = op_rename,
	.link = op_link,
	.symlink = op_symlink,
	.readlink = op_readlink,
	.chmod = op_chmod,
	.chown = op_chown,
	.truncate = op_truncate,
	.utimens = op_utimens,
	.create = op_create,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.statfs = op_statfs,
	.access = op_access,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.setxattr = op_setxattr,
	.removexattr = op_removexattr,
};
