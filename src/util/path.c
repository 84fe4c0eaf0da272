#include "path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int path_check_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strchr(name, '/') != NULL)
		return -EINVAL;
	if (n > PATH_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int path_check(const char *p)
{
	const char *c;
	size_t total, depth = 0;

	if (p == NULL || p[0] != '/')
		return -EINVAL;
	total = strlen(p);
	if (total >= PATH_TREE_MAX)
		return -ENAMETOOLONG;
	if (total == 1)
		return 0;
	if (p[total - 1] == '/')
		return -EINVAL;
	c = p + 1;
	for (;;) {
		const char *end = strchr(c, '/');
		size_t n = end ? (size_t)(end - c) : strlen(c);

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return -EINVAL;
		if (n > PATH_NAME_MAX || ++depth > PATH_DEPTH_MAX)
			return -ENAMETOOLONG;
		if (end == NULL)
			return 0;
		c = end + 1;
	}
}

int path_split(const char *p, char *parent, size_t parentlen, const char **name)
{
	const char *slash = strrchr(p, '/');
	size_t n;

	if (slash == NULL)
		return -EINVAL;
	n = (size_t)(slash - p);
	if (n == 0)
		n = 1;	/* parent is the root */
	if (n >= parentlen)
		return -ENAMETOOLONG;
	memcpy(parent, p, n);
	parent[n] = '\0';
	*name = slash + 1;
	return 0;
}

int path_is_within(const char *p, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return p[0] == '/';
	return strncmp(p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

int path_rebase(const char *p, const char *from, const char *to, char *out, size_t outlen)
{
	const char *rest;
	int n;

	if (!path_is_within(p, from))
		return -EINVAL;
	/* rest is "" or "/..."; the root's own slash must not be doubled or lost */
	rest = strcmp(from, "/") == 0 ? (strcmp(p, "/") == 0 ? "" : p) : p + strlen(from);
	if (strcmp(to, "/") == 0 && rest[0] != '\0')
		to = "";
	n = snprintf(out, outlen, "%s%s", to, rest);
	if (n < 0 || (size_t)n >= outlen || (size_t)n >= PATH_TREE_MAX)
		return -ENAMETOOLONG;
	return 0;
}

uint64_t path_hash(const char *p)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	return h;
}
