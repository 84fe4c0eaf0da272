/*
 * c2o FILE: one file, two descriptors on one node.  A writer changes FILE
 * (a write at the start, then growing it) without closing it; a reader
 * opened meanwhile sees the writer's bytes at once, as on a local disk
 * (all opens of a file on a node share its state); after the writer
 * closes, a new open sees the same.  What other nodes get is published at
 * close (close-to-open): t_consistency checks that part.  Prints what each
 * saw; exit 0 if all is as it must be.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *slurp(const char *path, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap);
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0 || b == NULL)
		exit(2);
	while ((r = read(fd, b + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap && (b = realloc(b, cap *= 2)) == NULL)
			exit(2);
	}
	close(fd);
	*len = n;
	return b;
}

int main(int argc, char **argv)
{
	size_t n0, n1, n2;
	char *before, *during, *after;
	int w, ok = 1;

	if (argc != 2)
		return 2;
	before = slurp(argv[1], &n0);
	if ((w = open(argv[1], O_RDWR)) < 0)
		return 2;
	if (pwrite(w, "BBBB", 4, 0) != 4 || ftruncate(w, (off_t)n0 + 4096) != 0)
		return 2;
	during = slurp(argv[1], &n1);
	if (n1 != n0 + 4096 || memcmp(during, "BBBB", 4) != 0 ||
	    memcmp(during + 4, before + 4, n0 - 4) != 0) {
		printf("reader during the write saw %zu bytes starting '%.4s', not the writer's %zu\n",
		       n1, during, n0 + 4096);
		ok = 0;
	}
	/* The writer's descriptor is still open: the stop must not run yet. */
	if (getenv("C2O_PAUSE") != NULL && system(getenv("C2O_PAUSE")) != 0) {
		printf("the check while the writer is open failed\n");
		ok = 0;
	}
	if (close(w) != 0)
		return 2;
	after = slurp(argv[1], &n2);
	if (n2 != n0 + 4096 || memcmp(after, "BBBB", 4) != 0 ||
	    memcmp(after + 4, before + 4, n0 - 4) != 0) {
		printf("reader after close saw %zu bytes starting '%.4s', not the new version\n", n2,
		       after);
		ok = 0;
	}
	printf("%s\n", ok ? "OK" : "FAIL");
	free(before);
	free(during);
	free(after);
	return ok ? 0 : 1;
}
