/*
 * mkfiles SIZE: create every file named on stdin (one name a line,
 * relative to the current folder) with SIZE bytes of content, then close
 * it.  bench/run uses it so that a create phase costs open + write + close
 * per file and not a fork + exec per file, which would hide the file
 * system behind process start-up.
 *
 * Each file's content is distinct (random bytes, then the file's index in
 * the first bytes): oand stores content by hash, and identical files would
 * be stored once and flatter it.
 *
 * Exit 0 when every file was created, 1 (with a message) on the first error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define MAX_SIZE (1u << 20)

static int fill_random(char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = getrandom(buf + got, len - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int make_one(const char *name, char *buf, size_t size, uint64_t index)
{
	int fd, r = 0;

	if ((fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		return -errno;
	if (size > 0) {
		memcpy(buf, &index, size < sizeof(index) ? size : sizeof(index));
		r = write_all(fd, buf, size);
	}
	/* close is where oand publishes: its error is the file's error. */
	if (close(fd) != 0 && r == 0)
		r = -errno;
	return r;
}

int main(int argc, char **argv)
{
	char *buf = NULL, *line = NULL, *end;
	size_t cap = 0, size;
	uint64_t index = 0;
	ssize_t len;
	int r, status = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: mkfiles SIZE < NAMES\n");
		return 2;
	}
	errno = 0;
	size = strtoul(argv[1], &end, 10);
	if (errno != 0 || *end != '\0' || end == argv[1] || size > MAX_SIZE) {
		fprintf(stderr, "mkfiles: SIZE must be 0..%u bytes\n", MAX_SIZE);
		return 2;
	}
	if ((buf = malloc(size ? size : 1)) == NULL) {
		fprintf(stderr, "mkfiles: out of memory\n");
		goto out;
	}
	if ((r = fill_random(buf, size)) < 0) {
		fprintf(stderr, "mkfiles: getrandom: %s\n", strerror(-r));
		goto out;
	}
	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0)
			continue;
		if ((r = make_one(line, buf, size, index++)) < 0) {
			fprintf(stderr, "mkfiles: %s: %s\n", line, strerror(-r));
			goto out;
		}
	}
	if (ferror(stdin)) {
		fprintf(stderr, "mkfiles: reading names: %s\n", strerror(errno));
		goto out;
	}
	status = 0;
out:
	free(line);
	free(buf);
	return status;
}
