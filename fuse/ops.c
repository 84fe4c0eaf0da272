#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "node.h"
#include "notify.h"
#include "watch.h"

#define XATTR_PREFIX "user.oand."

/*
 * Every change made here passes through the kernel, and the others are
 * invalidated precisely (fuse/notify.h): the timeouts only bound a lost
 * invalidation.  Negative entries are kept as long, since an
 * invalidation of a name drops a negative entry too.
 */
#define CACHE_TIMEOUT 10.0

static struct ops_ctx *ctx_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct node *node_of(fuse_req_t req)
{
	return ctx_of(req)->node;
}

/* fi->fh holds a struct node_file * for files, a struct dir_handle *
   for folders. */
static struct node_file *handle(struct fuse_file_info *fi)
{
	return fi != NULL ? (struct node_file *)(uintptr_t)fi->fh : NULL;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* O_TRUNC arrives with open, so truncation is staged, not published. */
	conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* Cached pages are dropped per open (keep_cache) and by
	   invalidations, not by a size/mtime check on every read. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* Requests are read, not spliced: fuse/watch.c sees each one. */
	conn->want &= ~FUSE_CAP_SPLICE_READ;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	conn->max_write = 1 << 20;
	/* Files are read whole and in order: several 1 MiB requests in flight
	   (the kernel grants at most what session.c set on the bdi). */
	conn->max_readahead = OPS_READAHEAD;
}

static void reply_entry(fuse_req_t req, const struct node_entry *e)
{
	struct fuse_entry_param ep;

	memset(&ep, 0, sizeof(ep));
	ep.ino = e->ino;
	ep.attr = e->st;
	ep.attr_timeout = CACHE_TIMEOUT;
	ep.entry_timeout = CACHE_TIMEOUT;
	/* A lookup answered no after a forget is no leak: the count went
	   with the reply that failed (the kernel was interrupted). */
	if (fuse_reply_entry(req, &ep) == -ENOENT)
		node_ino_forget(node_of(req), e->ino, 1);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node_entry e;
	int r = node_ino_lookup(node_of(req), parent, name, &e);

	if (r == -ENOENT) {
		/* A negative entry, kept as long as a positive one. */
		struct fuse_entry_param ep;

		memset(&ep, 0, sizeof(ep));
		ep.entry_timeout = CACHE_TIMEOUT;
		fuse_reply_entry(req, &ep);
		return;
	}
	if (r != 0)
		fuse_reply_err(req, -r);
	else
		reply_entry(req, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	node_ino_forget(node_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		node_ino_forget(node_of(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int r;

	if (handle(fi) != NULL) {
		r = node_file_getattr(handle(fi), &st);
		st.st_ino = ino;
	} else {
		r = node_ino_getattr(node_of(req), ino, &st);
	}
	if (r != 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, CACHE_TIMEOUT);
}

/* Is the caller of req in group g (its supplementary groups)? */
static int caller_in_group(gid_t g, void *ctx)
{
	gid_t few[64], *list = few;
	int n = fuse_req_getgroups(ctx, 64, few), in = 0;

	if (n > 64 && (list = malloc((size_t)n * sizeof(*list))) != NULL)
		n = fuse_req_getgroups(ctx, n, list);
	for (int i = 0; list != NULL && i < n; i++)
		in |= list[i] == g;
	if (list != few)
		free(list);
	return in;
}

/* The caller of req, for the set-ID rules.  FUSE does not pass
   capabilities: root counts as holding CAP_FSETID. */
static struct node_cred caller(fuse_req_t req)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct node_cred cr = { c->uid, c->gid, c->uid == 0, caller_in_group, req };

	return cr;
}

static int64_t ns_of(const struct timespec *ts)
{
	/* Nanoseconds in 64 bits reach the years 1678..2262: clamp. */
	const time_t lim = INT64_MAX / 1000000000 - 1;
	time_t sec = ts->tv_sec < -lim ? -lim : ts->tv_sec > lim ? lim : ts->tv_sec;

	return (int64_t)sec * 1000000000 + ts->tv_nsec;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct node_setattr sa = { 0 };
	struct node_cred cr = caller(req);
	struct stat st;
	int r;

	if (to_set & FUSE_SET_ATTR_MODE) {
		sa.valid |= NODE_SET_MODE;
		sa.mode = attr->st_mode;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		sa.valid |= NODE_SET_UID;
		sa.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		sa.valid |= NODE_SET_GID;
		sa.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		sa.valid |= NODE_SET_SIZE;
		sa.size = (uint64_t)attr->st_size;
	}
	/* Only the mtime is kept; an atime alone changes nothing. */
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		sa.valid |= NODE_SET_MTIME;
		sa.mtime_ns = ns_of(&now);
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		sa.valid |= NODE_SET_MTIME;
		sa.mtime_ns = ns_of(&attr->st_mtim);
	}
	r = node_ino_setattr(node_of(req), ino, handle(fi), &sa, &cr, &st);
	if (r != 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, CACHE_TIMEOUT);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	int r = node_ino_readlink(node_of(req), ino, buf, sizeof(buf));

	if (r != 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_readlink(req, buf);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct node_cred cr = caller(req);
	struct node_entry e;
	int r = node_ino_mkdir(node_of(req), parent, name, mode, &cr, &e);

	if (r != 0)
		fuse_reply_err(req, -r);
	else
		reply_entry(req, &e);
}

static void op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	struct node_cred cr = caller(req);
	struct node_entry e;
	int r = node_ino_symlink(node_of(req), parent, name, target, &cr, &e);

	if (r != 0)
		fuse_reply_err(req, -r);
	else
		reply_entry(req, &e);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -node_ino_unlink(node_of(req), parent, name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -node_ino_rmdir(node_of(req), parent, name));
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	/* The kernel sends a rename onto itself when its entry of the name
	   went stale between its two lookups: counted for `oand status`. */
	if (parent == newparent && strcmp(name, newname) == 0)
		watch_count_self_rename();
	fuse_reply_err(req, -node_ino_rename(node_of(req), parent, name, newparent, newname, flags));
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino;
	(void)newparent;
	(void)newname;
	fuse_reply_err(req, EPERM);	/* one record per path: no hard links */
}

/* Drop the kernel's cached attributes of ino (a mode changed under it):
   from the notifier, the kernel may wait on what this request holds. */
static void attrs_changed(fuse_req_t req, fuse_ino_t ino)
{
	if (ctx_of(req)->notify != NULL)
		notify_inode(ctx_of(req)->notify, ino, 0);
}

/*
 * All opens of a file on this node share one state in the node, as they
 * share the kernel's page cache of its inode: every I/O goes through that
 * cache (no direct_io), so a write is seen at once by every reader here,
 * O_APPEND takes its offset from the kernel's size under the inode's lock
 * (appends from many processes all land), and mmap(MAP_SHARED) works.
 * The cache is kept at open while it holds the content being opened.  A
 * reader has nothing to publish, so its close() needs no FLUSH round trip;
 * a writer's close publishes the file as this node's writers left it.
 *
 * An open that truncated a file that was there (FUSE_CAP_ATOMIC_O_TRUNC:
 * the kernel does not) is a truncate for the set-ID rules.
 */
static int opened(fuse_req_t req, fuse_ino_t ino, struct node_file *f, struct fuse_file_info *fi)
{
	struct node_cred cr = caller(req);
	int r;

	fi->fh = (uintptr_t)f;
	if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY && !node_file_created(f)) {
		if ((r = node_file_setid(f, &cr, NODE_SETID_WRITE)) < 0) {
			node_file_release(f);
			fi->fh = 0;
			return r;
		}
		if (r > 0)
			attrs_changed(req, ino);
	}
	if ((fi->flags & O_ACCMODE) == O_RDONLY)
		fi->noflush = 1;
	fi->keep_cache = node_file_keep_cache(f);
	/* New content: the kernel's size and times of it are stale too. */
	if (!fi->keep_cache)
		attrs_changed(req, ino);
	return 0;
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct node_cred cr = caller(req);
	struct node_entry e;
	struct node_file *f;
	struct fuse_entry_param ep;
	int r = node_ino_create(node_of(req), parent, name, mode, fi->flags, &cr, &e, &f);

	if (r == 0 && (r = opened(req, e.ino, f, fi)) != 0)
		node_ino_forget(node_of(req), e.ino, 1);
	if (r != 0) {
		fuse_reply_err(req, -r);
		return;
	}
	memset(&ep, 0, sizeof(ep));
	ep.ino = e.ino;
	ep.attr = e.st;
	ep.attr_timeout = CACHE_TIMEOUT;
	ep.entry_timeout = CACHE_TIMEOUT;
	if (fuse_reply_create(req, &ep, fi) == -ENOENT) {
		/* Interrupted: the kernel releases nothing it never got. */
		node_file_release(f);
		node_ino_forget(node_of(req), e.ino, 1);
	}
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node_file *f;
	int r = node_ino_open(node_of(req), ino, fi->flags, &f);

	if (r == 0)
		r = opened(req, ino, f, fi);
	if (r != 0)
		fuse_reply_err(req, -r);
	else if (fuse_reply_open(req, fi) == -ENOENT)
		node_file_release(f);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	char *buf = malloc(size ? size : 1);
	ssize_t r;

	(void)ino;
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = node_file_read(handle(fi), buf, size, off);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
	free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct node_cred cr = caller(req);
	ssize_t r = node_file_setid(handle(fi), &cr, NODE_SETID_WRITE);

	if (r > 0)
		attrs_changed(req, ino);
	if (r >= 0)
		r = node_file_write(handle(fi), buf, size, off);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_write(req, (size_t)r);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fuse_reply_err(req, -node_file_flush(handle(fi)));
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	node_file_release(handle(fi));
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	fuse_reply_err(req, -node_file_fsync(handle(fi)));
}

/* A folder's handle: nothing to keep, its listing is read by offset. */
static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int r = node_ino_getattr(node_of(req), ino, &st);

	if (r == 0 && !S_ISDIR(st.st_mode))
		r = -ENOTDIR;
	fi->fh = 0;
	if (r != 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_open(req, fi);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

struct fill {
	fuse_req_t req;
	char *buf;
	size_t size, used;
	int plus;
};

static int fill_one(const char *name, const struct node_entry *e, off_t off, void *ctx)
{
	struct fill *fl = ctx;
	size_t need;

	if (fl->plus) {
		struct fuse_entry_param ep;

		memset(&ep, 0, sizeof(ep));
		ep.ino = e->ino;
		ep.attr = e->st;
		ep.attr_timeout = CACHE_TIMEOUT;
		ep.entry_timeout = CACHE_TIMEOUT;
		need = fuse_add_direntry_plus(fl->req, fl->buf + fl->used, fl->size - fl->used,
					      name, &ep, off);
	} else {
		need = fuse_add_direntry(fl->req, fl->buf + fl->used, fl->size - fl->used, name,
					 &e->st, off);
	}
	if (need > fl->size - fl->used)
		return 1;	/* full: not added */
	fl->used += need;
	return 0;
}

static void readdir_any(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus)
{
	struct fill fl = { req, malloc(size ? size : 1), size, 0, plus };
	int r;

	if (fl.buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = node_ino_readdir(node_of(req), ino, off, plus, fill_one, &fl);
	/* What was added is answered even if the rest failed: each entry
	   that took a lookup reaches the kernel. */
	if (r != 0 && fl.used == 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, fl.buf, fl.used);
	free(fl.buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	readdir_any(req, ino, size, off, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)fi;
	readdir_any(req, ino, size, off, 1);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);	/* every change is a committed transaction */
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int r = node_statfs(node_of(req), &sv);

	(void)ino;
	if (r != 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_statfs(req, &sv);
}

/* A getxattr or listxattr answer: the size asked for (size 0), or the
   bytes. */
static void reply_xattr(fuse_req_t req, int r, const char *buf, size_t size)
{
	if (r < 0)
		fuse_reply_err(req, -r);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *buf = size ? malloc(size) : NULL;

	if (size && buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	reply_xattr(req, node_ino_getxattr(node_of(req), ino, name, buf, size), buf, size);
	free(buf);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = size ? malloc(size) : NULL;

	if (size && buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	reply_xattr(req, node_ino_listxattr(node_of(req), ino, buf, size), buf, size);
	free(buf);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	(void)ino;
	(void)value;
	(void)size;
	(void)flags;
	/* The oand attributes describe content; they are not set by hand. */
	fuse_reply_err(req, strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) == 0 ? EPERM
										   : ENOTSUP);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	op_setxattr(req, ino, name, NULL, 0, 0);
}

const struct fuse_lowlevel_ops ops_oand = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.create = op_create,
};
