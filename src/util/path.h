/*
 * path: names inside the shared tree.  A tree path is absolute ("/",
 * "/a/b"), has no empty, "." or ".." components, no NUL, no trailing
 * slash, components of at most PATH_NAME_MAX bytes, at most PATH_DEPTH_MAX
 * components and a total below PATH_TREE_MAX.  Everything here is pure string work, thread safe.
 */
#ifndef OAND_PATH_H
#define OAND_PATH_H

#include <stddef.h>
#include <stdint.h>

#define PATH_NAME_MAX 255
#define PATH_TREE_MAX 4096
/* Folders a tree path may pass through: deeper than any real tree, and a
   bound on every walk over a path (peers send paths too). */
#define PATH_DEPTH_MAX 512

/* 0 if p is a valid tree path; -ENAMETOOLONG or -EINVAL otherwise. */
int path_check(const char *p);
/* 0 if name is a valid single component; -ENAMETOOLONG or -EINVAL. */
int path_check_name(const char *name);
/*
 * Split p into its parent folder (written to parent, "/" for top-level
 * names) and a pointer to its last component inside p.  p must be valid
 * and not "/".  Returns 0 or -ENAMETOOLONG if parent does not fit.
 */
int path_split(const char *p, char *parent, size_t parentlen, const char **name);
/* 1 if p equals dir or lies below it, else 0. */
int path_is_within(const char *p, const char *dir);
/*
 * Replace the prefix from of p (p within from) by to, into out.
 * Returns 0, or -ENAMETOOLONG when the result would be too long.
 */
int path_rebase(const char *p, const char *from, const char *to, char *out, size_t outlen);
/* A hash of p (FNV-1a, 64 bits) for tables in memory: not for peers. */
uint64_t path_hash(const char *p);

#endif
