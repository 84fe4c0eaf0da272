#include "httparse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

static int unhex1(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int http_tree_path(const char *raw, char *out, size_t outlen)
{
	size_t o = 0;

	if (raw[0] == '\0')
		raw = "/";
	if (raw[0] != '/')
		return -EINVAL;
	for (const char *p = raw; *p; p++) {
		int ch = (unsigned char)*p;

		if (ch == '%') {
			int hi = unhex1(p[1]), lo = hi < 0 ? -1 : unhex1(p[2]);

			if (hi < 0 || lo < 0)
				return -EINVAL;
			ch = hi * 16 + lo;
			p += 2;
			if (ch == 0)
				return -EINVAL;
		}
		if (o + 1 >= outlen)
			return -ENAMETOOLONG;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	if (strstr(out, "//") != NULL)
		return -EINVAL;	/* an empty name */
	if (o > 1 && out[o - 1] == '/')
		o--;
	out[o] = '\0';
	return path_check(out);
}

int http_parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
	unsigned long long a, b;
	char *end;

	if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
		return 0;
	h += 6;
	while (*h == ' ')
		h++;
	if (*h == '-') {
		if (h[1] < '0' || h[1] > '9')
			return 0;
		a = strtoull(h + 1, &end, 10);
		if (end == h + 1 || *end != '\0')
			return 0;
		if (a == 0 || size == 0)
			return -1;
		*from = a >= size ? 0 : size - a;
		*to = size - 1;
		return 1;
	}
	if (*h < '0' || *h > '9')
		return 0;
	a = strtoull(h, &end, 10);
	if (*end != '-')
		return 0;
	h = end + 1;
	if (*h == '\0') {
		b = size ? size - 1 : 0;
	} else {
		if (*h < '0' || *h > '9')
			return 0;
		b = strtoull(h, &end, 10);
		if (*end != '\0' || b < a)
			return 0;
	}
	if (a >= size)
		return -1;
	*from = a;
	*to = b >= size ? size - 1 : b;
	return 1;
}
