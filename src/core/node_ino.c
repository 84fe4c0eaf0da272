/*
 * node_ino: the kernel's inode numbers over a namespace keyed by path
 * (schema 5).  Each number maps to the path it was given for, and each
 * path to at most one number; the kernel's lookup count keeps a number
 * alive.  Numbers count up from 2 and are never given twice, so that the
 * kernel never takes one file for another.  In memory only: the kernel
 * forgets every number when the mount goes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "node_int.h"
#include "path.h"

struct item {
	node_ino_t ino;
	uint64_t nlookup;
	char *path;		/* NULL: its name went (detached) */
	mode_t type;		/* S_IFMT bits when given */
	unsigned open;		/* the node has an open state of it */
	struct item *next_ino, *next_path;
};

struct node_inos {
	pthread_mutex_t lock;	/* everything below; taken alone */
	struct item **by_ino, **by_path;
	size_t nbuckets, count;
	node_ino_t next;
	/* Moves with every rename and detach: a path resolved before a
	   change may name something else after it (see node_inos_map). */
	uint64_t gen;
};

static size_t bucket_ino(const struct node_inos *t, node_ino_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 20) & (t->nbuckets - 1);
}

static size_t bucket_path(const struct node_inos *t, const char *path)
{
	return (size_t)path_hash(path) & (t->nbuckets - 1);
}

static void link_path(struct node_inos *t, struct item *it)
{
	size_t b = bucket_path(t, it->path);

	it->next_path = t->by_path[b];
	t->by_path[b] = it;
}

static void unlink_path(struct node_inos *t, struct item *it)
{
	struct item **pp = &t->by_path[bucket_path(t, it->path)];

	while (*pp != NULL && *pp != it)
		pp = &(*pp)->next_path;
	if (*pp == it)
		*pp = it->next_path;
}

static struct item *find_ino(const struct node_inos *t, node_ino_t ino)
{
	struct item *it = t->by_ino[bucket_ino(t, ino)];

	while (it != NULL && it->ino != ino)
		it = it->next_ino;
	return it;
}

static struct item *find_path(const struct node_inos *t, const char *path)
{
	struct item *it = t->by_path[bucket_path(t, path)];

	while (it != NULL && strcmp(it->path, path) != 0)
		it = it->next_path;
	return it;
}

/* Twice the buckets once there are twice as many items; a failed
   allocation keeps the old (longer chains, nothing lost). */
static void grow(struct node_inos *t)
{
	size_t ob = t->nbuckets, nb = ob * 2;
	struct item **bi = calloc(nb, sizeof(*bi)), **bp = calloc(nb, sizeof(*bp));
	struct item **oi = t->by_ino, **op = t->by_path;

	if (bi == NULL || bp == NULL) {
		free(bi);
		free(bp);
		return;
	}
	t->by_ino = bi;
	t->by_path = bp;
	t->nbuckets = nb;
	for (size_t b = 0; b < ob; b++) {
		struct item *it = oi[b], *next;

		for (; it != NULL; it = next) {
			next = it->next_ino;
			it->next_ino = bi[bucket_ino(t, it->ino)];
			bi[bucket_ino(t, it->ino)] = it;
			if (it->path != NULL)
				link_path(t, it);
		}
	}
	free(oi);
	free(op);
}

static void item_free(struct node_inos *t, struct item *it)
{
	struct item **pp = &t->by_ino[bucket_ino(t, it->ino)];

	while (*pp != it)
		pp = &(*pp)->next_ino;
	*pp = it->next_ino;
	if (it->path != NULL)
		unlink_path(t, it);
	free(it->path);
	free(it);
	t->count--;
}

static void detach(struct node_inos *t, struct item *it)
{
	if (it->ino == NODE_ROOT_INO || it->path == NULL)
		return;
	unlink_path(t, it);
	free(it->path);
	it->path = NULL;
	t->gen++;
}

int node_inos_new(struct node_inos **out)
{
	struct node_inos *t = calloc(1, sizeof(*t));
	struct item *root = calloc(1, sizeof(*root));

	*out = NULL;
	if (t == NULL || root == NULL || (root->path = strdup("/")) == NULL)
		goto fail;
	t->nbuckets = 1024;
	t->by_ino = calloc(t->nbuckets, sizeof(*t->by_ino));
	t->by_path = calloc(t->nbuckets, sizeof(*t->by_path));
	if (t->by_ino == NULL || t->by_path == NULL)
		goto fail;
	pthread_mutex_init(&t->lock, NULL);
	root->ino = NODE_ROOT_INO;
	root->type = S_IFDIR;
	root->nlookup = 1;
	t->by_ino[bucket_ino(t, root->ino)] = root;
	link_path(t, root);
	t->count = 1;
	t->next = NODE_ROOT_INO + 1;
	*out = t;
	return 0;
fail:
	if (root != NULL)
		free(root->path);
	free(root);
	if (t != NULL) {
		free(t->by_ino);
		free(t->by_path);
	}
	free(t);
	return -ENOMEM;
}

void node_inos_free(struct node_inos *t)
{
	if (t == NULL)
		return;
	for (size_t b = 0; b < t->nbuckets; b++) {
		struct item *it = t->by_ino[b], *next;

		for (; it != NULL; it = next) {
			next = it->next_ino;
			free(it->path);
			free(it);
		}
	}
	free(t->by_ino);
	free(t->by_path);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

uint64_t node_inos_gen(struct node_inos *t)
{
	uint64_t g;

	pthread_mutex_lock(&t->lock);
	g = t->gen;
	pthread_mutex_unlock(&t->lock);
	return g;
}

int node_inos_path(struct node_inos *t, node_ino_t ino, char *buf, size_t len)
{
	struct item *it;
	int r = -ESTALE;

	pthread_mutex_lock(&t->lock);
	if ((it = find_ino(t, ino)) != NULL && it->path != NULL)
		r = snprintf(buf, len, "%s", it->path) < (int)len ? 0 : -ENAMETOOLONG;
	pthread_mutex_unlock(&t->lock);
	return r;
}

int node_inos_child(struct node_inos *t, node_ino_t parent, const char *name, char *buf,
		    size_t len)
{
	char dir[PATH_TREE_MAX];
	int r;

	if ((r = path_check_name(name)) != 0)
		return r;
	if ((r = node_inos_path(t, parent, dir, sizeof(dir))) != 0)
		return r;
	if (snprintf(buf, len, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name) >= (int)len)
		return -ENAMETOOLONG;
	return path_check(buf);
}

int node_inos_map(struct node_inos *t, const char *path, mode_t type, uint64_t gen,
		  node_ino_t *ino)
{
	struct item *it;
	int r = -EAGAIN;

	pthread_mutex_lock(&t->lock);
	if (gen != t->gen)
		goto out;
	it = find_path(t, path);
	/* Replaced behind the mount by something of another kind: the
	   kernel's inode cannot become it. */
	if (it != NULL && (it->type & S_IFMT) != (type & S_IFMT) && it->ino != NODE_ROOT_INO) {
		detach(t, it);
		it = NULL;
	}
	if (it == NULL) {
		r = -ENOMEM;
		if ((it = calloc(1, sizeof(*it))) == NULL || (it->path = strdup(path)) == NULL) {
			free(it);
			goto out;
		}
		it->ino = t->next++;
		it->type = type & S_IFMT;
		it->next_ino = t->by_ino[bucket_ino(t, it->ino)];
		t->by_ino[bucket_ino(t, it->ino)] = it;
		link_path(t, it);
		if (++t->count > 2 * t->nbuckets)
			grow(t);
	}
	it->nlookup++;
	*ino = it->ino;
	r = 0;
out:
	pthread_mutex_unlock(&t->lock);
	return r;
}

void node_inos_unref(struct node_inos *t, node_ino_t ino, uint64_t nlookup)
{
	struct item *it;

	pthread_mutex_lock(&t->lock);
	if ((it = find_ino(t, ino)) != NULL && ino != NODE_ROOT_INO) {
		it->nlookup = nlookup < it->nlookup ? it->nlookup - nlookup : 0;
		if (it->nlookup == 0)
			item_free(t, it);
	}
	pthread_mutex_unlock(&t->lock);
}

node_ino_t node_inos_find_type(struct node_inos *t, const char *path, mode_t *type)
{
	struct item *it;
	node_ino_t ino = 0;

	*type = 0;
	pthread_mutex_lock(&t->lock);
	if ((it = find_path(t, path)) != NULL) {
		ino = it->ino;
		*type = it->type;
	}
	pthread_mutex_unlock(&t->lock);
	return ino;
}

void node_inos_detach(struct node_inos *t, const char *path)
{
	struct item *it;

	pthread_mutex_lock(&t->lock);
	if ((it = find_path(t, path)) != NULL)
		detach(t, it);
	pthread_mutex_unlock(&t->lock);
}

void node_inos_rename(struct node_inos *t, const char *from, const char *to)
{
	struct item *it, *moved = NULL;
	char np[PATH_TREE_MAX];

	pthread_mutex_lock(&t->lock);
	t->gen++;
	if (strcmp(from, to) == 0 || path_is_within(to, from))
		goto out;
	if ((it = find_path(t, to)) != NULL)
		detach(t, it);	/* replaced */
	/* Everything at or below from, unhooked first so that no new path
	   collides with an old one still in the table. */
	for (size_t b = 0; b < t->nbuckets; b++)
		for (it = t->by_ino[b]; it != NULL; it = it->next_ino)
			if (it->path != NULL && path_is_within(it->path, from)) {
				unlink_path(t, it);
				it->next_path = moved;
				moved = it;
			}
	while ((it = moved) != NULL) {
		char *dup = NULL;

		moved = it->next_path;
		if (path_rebase(it->path, from, to, np, sizeof(np)) == 0)
			dup = strdup(np);
		free(it->path);
		it->path = dup;	/* too long or no memory: detached */
		if (dup != NULL)
			link_path(t, it);
	}
out:
	pthread_mutex_unlock(&t->lock);
}

void node_inos_set_open(struct node_inos *t, node_ino_t ino, int open)
{
	struct item *it;

	pthread_mutex_lock(&t->lock);
	if ((it = find_ino(t, ino)) != NULL) {
		if (open)
			it->open++;
		else if (it->open > 0)
			it->open--;
	}
	pthread_mutex_unlock(&t->lock);
}

int node_inos_is_open(struct node_inos *t, node_ino_t ino)
{
	struct item *it;
	int open;

	pthread_mutex_lock(&t->lock);
	open = (it = find_ino(t, ino)) != NULL && it->open > 0;
	pthread_mutex_unlock(&t->lock);
	return open;
}

node_ino_t node_inos_find(struct node_inos *t, const char *path)
{
	struct item *it;
	node_ino_t ino;

	pthread_mutex_lock(&t->lock);
	ino = (it = find_path(t, path)) != NULL ? it->ino : 0;
	pthread_mutex_unlock(&t->lock);
	return ino;
}

void node_inos_inval(struct node_inos *t, const char *path, const struct node_inval_ops *ops,
		     void *ctx)
{
	char parent[PATH_TREE_MAX];
	const char *name;
	node_ino_t ino = node_inos_find(t, path), dir;

	if (ino != 0)
		ops->inode(ctx, ino, 1);
	if (strcmp(path, "/") == 0 || path_split(path, parent, sizeof(parent), &name) != 0)
		return;
	if ((dir = node_inos_find(t, parent)) != 0) {
		ops->entry(ctx, dir, name, strlen(name));
		ops->inode(ctx, dir, 1);	/* its listing, mtime, nlink */
	}
}
