/*
 * node_ns: the namespace by inode number (node.h, "The namespace by
 * inode"), over the path functions of node.c and the numbers of
 * node_ino.c.  Each call resolves its numbers to paths, calls the path
 * function, and gives numbers to what it made or found; a rename moves
 * the numbers with the paths.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "node_int.h"
#include "path.h"

/* Resolving a path and giving it a number are two steps; a rename
   between them makes the path stale: resolve again, a few times. */
#define MAP_TRIES 8

/* The entry of path (its number taken once more), resolved at gen. */
static int entry_at(struct node *n, const char *path, uint64_t gen, struct node_entry *out)
{
	int r;

	if ((r = node_getattr(n, path, &out->st)) != 0)
		return r;
	if ((r = node_inos_map(node_inos_of(n), path, out->st.st_mode, gen, &out->ino)) != 0)
		return r;
	out->st.st_ino = out->ino;
	return 0;
}

int node_ino_lookup(struct node *n, node_ino_t parent, const char *name, struct node_entry *out)
{
	struct node_inos *t = node_inos_of(n);
	char path[PATH_TREE_MAX];
	int r = -EAGAIN;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < MAP_TRIES && r == -EAGAIN; i++) {
		uint64_t gen = node_inos_gen(t);

		if ((r = node_inos_child(t, parent, name, path, sizeof(path))) == 0)
			r = entry_at(n, path, gen, out);
	}
	if (r == -EAGAIN)
		r = -ESTALE;
	return r;
}

void node_ino_forget(struct node *n, node_ino_t ino, uint64_t nlookup)
{
	node_inos_unref(node_inos_of(n), ino, nlookup);
}

int node_ino_getattr(struct node *n, node_ino_t ino, struct stat *st)
{
	char path[PATH_TREE_MAX];
	int r;

	r = node_inos_path(node_inos_of(n), ino, path, sizeof(path));
	if (r == -ESTALE)
		r = node_files_stat(n, ino, st);	/* unlinked, still open */
	else if (r == 0)
		r = node_getattr(n, path, st);
	if (r == 0)
		st->st_ino = ino;
	return r;
}

static int setattr_as(struct node *n, node_ino_t ino, struct node_file *f,
		      const struct node_setattr *sa, const struct node_cred *c, struct stat *out);

/* A truncate by name of a file open here goes to its open state, which
   every descriptor of it shares (and would publish over it otherwise). */
int node_ino_setattr(struct node *n, node_ino_t ino, struct node_file *f,
		     const struct node_setattr *sa, const struct node_cred *c, struct stat *out)
{
	struct node_file *held = NULL;
	int r;

	if (f == NULL && (sa->valid & NODE_SET_SIZE))
		f = held = node_files_hold(n, ino, 1);
	r = setattr_as(n, ino, f, sa, c, out);
	if (held != NULL) {
		/* Published at once, as a truncate by name is. */
		int p = node_file_flush(held);

		r = r != 0 ? r : p;
		node_file_release(held);
	}
	return r;
}

static int setattr_as(struct node *n, node_ino_t ino, struct node_file *f,
		      const struct node_setattr *sa, const struct node_cred *c, struct stat *out)
{
	char path[PATH_TREE_MAX];
	int has_path, r;

	r = node_inos_path(node_inos_of(n), ino, path, sizeof(path));
	if (r != 0 && f != NULL && node_file_path(f, path, sizeof(path)) == 0)
		r = 0;	/* the file's own name, if it kept one */
	has_path = r == 0;
	if (!has_path && (f == NULL || (sa->valid & ~NODE_SET_SIZE)))
		return r;
	if ((sa->valid & NODE_SET_MODE) && (r = node_chmod(n, path, sa->mode)) != 0)
		return r;
	if (sa->valid & (NODE_SET_UID | NODE_SET_GID)) {
		struct stat st;

		if ((r = node_getattr(n, path, &st)) != 0)
			return r;
		/* By the rules of the group it had. */
		if ((r = node_setid(n, path, c, NODE_SETID_CHOWN)) < 0)
			return r;
		r = node_chown(n, path, (sa->valid & NODE_SET_UID) ? sa->uid : st.st_uid,
			       (sa->valid & NODE_SET_GID) ? sa->gid : st.st_gid);
		if (r != 0)
			return r;
	}
	if (sa->valid & NODE_SET_SIZE) {
		r = f ? node_file_setid(f, c, NODE_SETID_WRITE)
		      : node_setid(n, path, c, NODE_SETID_WRITE);
		if (r < 0)
			return r;
		r = f ? node_file_truncate(f, sa->size) : node_truncate(n, path, sa->size);
		if (r != 0)
			return r;
	}
	if ((sa->valid & NODE_SET_MTIME) && (r = node_utimens(n, path, sa->mtime_ns)) != 0)
		return r;
	r = f ? node_file_getattr(f, out) : node_getattr(n, path, out);
	if (r == 0)
		out->st_ino = ino;
	return r;
}

/* After a call that made name in parent: its entry.  Looked up again
   when a rename moved the folder meanwhile. */
static int made(struct node *n, node_ino_t parent, const char *name, const char *path,
		uint64_t gen, struct node_entry *out)
{
	int r = entry_at(n, path, gen, out);

	return r == -EAGAIN ? node_ino_lookup(n, parent, name, out) : r;
}

int node_ino_mkdir(struct node *n, node_ino_t parent, const char *name, mode_t mode,
		   const struct node_cred *c, struct node_entry *out)
{
	struct node_inos *t = node_inos_of(n);
	char path[PATH_TREE_MAX];
	uint64_t gen = node_inos_gen(t);
	int r;

	if ((r = node_inos_child(t, parent, name, path, sizeof(path))) != 0 ||
	    (r = node_mkdir(n, path, mode, c->uid, c->gid)) != 0)
		return r;
	return made(n, parent, name, path, gen, out);
}

int node_ino_symlink(struct node *n, node_ino_t parent, const char *name, const char *target,
		     const struct node_cred *c, struct node_entry *out)
{
	struct node_inos *t = node_inos_of(n);
	char path[PATH_TREE_MAX];
	uint64_t gen = node_inos_gen(t);
	int r;

	if ((r = node_inos_child(t, parent, name, path, sizeof(path))) != 0 ||
	    (r = node_symlink(n, target, path, c->uid, c->gid)) != 0)
		return r;
	return made(n, parent, name, path, gen, out);
}

int node_ino_create(struct node *n, node_ino_t parent, const char *name, mode_t mode, int flags,
		    const struct node_cred *c, struct node_entry *out, struct node_file **f)
{
	struct node_inos *t = node_inos_of(n);
	char path[PATH_TREE_MAX];
	uint64_t gen = node_inos_gen(t);
	int r;

	*f = NULL;
	if ((r = node_inos_child(t, parent, name, path, sizeof(path))) != 0 ||
	    (r = node_create(n, path, mode, flags, c->uid, c->gid, f)) != 0)
		return r;
	if ((r = made(n, parent, name, path, gen, out)) != 0) {
		node_file_release(*f);
		*f = NULL;
	} else {
		*f = node_file_share(*f, out->ino, flags);
	}
	return r;
}

/* Remove name from parent with fn (node_unlink, node_rmdir). */
static int remove_name(struct node *n, node_ino_t parent, const char *name,
		       int (*fn)(struct node *, const char *))
{
	struct node_inos *t = node_inos_of(n);
	char path[PATH_TREE_MAX];
	int r;

	if ((r = node_inos_child(t, parent, name, path, sizeof(path))) != 0 ||
	    (r = fn(n, path)) != 0)
		return r;
	node_inos_detach(t, path);
	return 0;
}

int node_ino_unlink(struct node *n, node_ino_t parent, const char *name)
{
	return remove_name(n, parent, name, node_unlink);
}

int node_ino_rmdir(struct node *n, node_ino_t parent, const char *name)
{
	return remove_name(n, parent, name, node_rmdir);
}

int node_ino_rename(struct node *n, node_ino_t parent, const char *name, node_ino_t newparent,
		    const char *newname, unsigned flags)
{
	struct node_inos *t = node_inos_of(n);
	char from[PATH_TREE_MAX], to[PATH_TREE_MAX];
	int r;

	if ((r = node_inos_child(t, parent, name, from, sizeof(from))) != 0 ||
	    (r = node_inos_child(t, newparent, newname, to, sizeof(to))) != 0 ||
	    (r = node_rename(n, from, to, flags)) != 0)
		return r;
	node_inos_rename(t, from, to);
	return 0;
}

int node_ino_readlink(struct node *n, node_ino_t ino, char *buf, size_t len)
{
	char path[PATH_TREE_MAX];
	int r;

	if ((r = node_inos_path(node_inos_of(n), ino, path, sizeof(path))) != 0)
		return r;
	return node_readlink(n, path, buf, len);
}

/* Offsets 1 and 2 are "." and ".."; entries follow at cursor + DIR_OFF. */
#define DIR_OFF 2
/* A listing's d_ino when no number is given (FUSE_UNKNOWN_INO): never 0,
   which readdir(3) skips. */
#define UNKNOWN_INO ((ino_t)0xffffffff)

struct dir_ctx {
	struct node *n;
	const char *dir;
	int plus;
	uint64_t gen;
	node_ino_dir_cb cb;
	void *ctx;
};

static int dir_one(const char *name, const struct stat *st, int64_t cursor, void *ctx)
{
	struct dir_ctx *dc = ctx;
	struct node_inos *t = node_inos_of(dc->n);
	struct node_entry e = { 0, *st };
	char path[PATH_TREE_MAX];
	int full;

	if (snprintf(path, sizeof(path), "%s%s%s", dc->dir, strcmp(dc->dir, "/") ? "/" : "",
		     name) >= (int)sizeof(path))
		return 0;	/* out of the kernel's reach anyway */
	if (!dc->plus) {
		e.ino = node_inos_find(t, path);
		e.st.st_ino = e.ino ? e.ino : UNKNOWN_INO;
		return dc->cb(name, &e, (off_t)(cursor + DIR_OFF), dc->ctx);
	}
	/* The folder moved since the listing began: an entry without a
	   lookup (ino 0) the kernel will not keep. */
	if (node_inos_map(t, path, st->st_mode, dc->gen, &e.ino) != 0)
		e.ino = 0;
	e.st.st_ino = e.ino ? e.ino : UNKNOWN_INO;
	/* A file open here: its size and times are its open state's, which
	   the listing (the database's) does not have; the kernel would take
	   the published size, and the next O_APPEND write would land there.
	   The entry goes without attributes (ino 0: not kept, no lookup). */
	if (e.ino != 0 && S_ISREG(st->st_mode) && node_inos_is_open(t, e.ino)) {
		node_inos_unref(t, e.ino, 1);
		e.ino = 0;
	}
	full = dc->cb(name, &e, (off_t)(cursor + DIR_OFF), dc->ctx);
	if (full && e.ino != 0)
		node_inos_unref(t, e.ino, 1);
	return full;
}

int node_ino_readdir(struct node *n, node_ino_t ino, off_t off, int plus, node_ino_dir_cb cb,
		     void *ctx)
{
	struct node_inos *t = node_inos_of(n);
	char path[PATH_TREE_MAX];
	struct dir_ctx dc = { n, path, plus, 0, cb, ctx };
	struct node_entry e;
	int r;

	dc.gen = node_inos_gen(t);
	if ((r = node_inos_path(t, ino, path, sizeof(path))) != 0 ||
	    (r = node_getattr(n, path, &e.st)) != 0)
		return r;
	if (!S_ISDIR(e.st.st_mode))
		return -ENOTDIR;
	/* "." and ".." take no lookup: the kernel skips them. */
	e.ino = 0;
	e.st.st_ino = ino;
	if (off < 1 && cb(".", &e, 1, ctx) != 0)
		return 0;
	e.st.st_ino = UNKNOWN_INO;
	if (off < 2 && cb("..", &e, 2, ctx) != 0)
		return 0;
	return node_readdir(n, path, off > DIR_OFF ? off - DIR_OFF : 0, dir_one, &dc);
}

int node_ino_open(struct node *n, node_ino_t ino, int flags, struct node_file **out)
{
	char path[PATH_TREE_MAX];
	int r;

	*out = NULL;
	if ((r = node_inos_path(node_inos_of(n), ino, path, sizeof(path))) != 0)
		return r;
	if ((r = node_open_file(n, path, flags, out)) == 0)
		*out = node_file_share(*out, ino, flags);
	return r;
}

int node_ino_getxattr(struct node *n, node_ino_t ino, const char *name, char *buf, size_t size)
{
	char path[PATH_TREE_MAX];
	int r;

	if ((r = node_inos_path(node_inos_of(n), ino, path, sizeof(path))) != 0)
		return r;
	return node_getxattr(n, path, name, buf, size);
}

int node_ino_listxattr(struct node *n, node_ino_t ino, char *buf, size_t size)
{
	char path[PATH_TREE_MAX];
	int r;

	if ((r = node_inos_path(node_inos_of(n), ino, path, sizeof(path))) != 0)
		return r;
	return node_listxattr(n, path, buf, size);
}
