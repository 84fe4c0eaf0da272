/*
 * fsop: run one filesystem system call and print its outcome as "OK" or
 * the errno name ("EEXIST"), so integration tests can assert the exact
 * error without parsing locale-dependent messages, and can reach calls
 * the shell tools lack (renameat2 flags, plain rename into a subfolder,
 * which mv refuses before asking the kernel).
 *
 *   fsop rename FROM TO [noreplace|exchange|0]
 *   fsop mkdir PATH | rmdir PATH | unlink PATH | stat PATH | lstat PATH
 *   fsop readdir PATH | readlink PATH | link FROM TO | symlink TARGET PATH
 *   fsop open PATH r|w|rw|wc|wct|wcx      open(2), then close(2)
 *   fsop write PATH TEXT                  O_WRONLY|O_CREAT|O_TRUNC, write, close
 *   fsop truncate PATH SIZE
 *   fsop wmode PATH TEXT                  O_WRONLY, write, then print the
 *                                         mode fstat(2) gives (octal)
 *   fsop setxattr PATH NAME VALUE | getxattr PATH NAME | removexattr PATH NAME
 *
 * Exit status: 0 if the call succeeded, 1 if it failed, 2 on bad usage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: fsop OP ARGS... (see tests/tools/fsop.c)\n");
	return 2;
}

static int open_flags(const char *s, int *flags)
{
	static const struct {
		const char *name;
		int flags;
	} t[] = {
		{ "r", O_RDONLY }, { "w", O_WRONLY }, { "rw", O_RDWR },
		{ "wc", O_WRONLY | O_CREAT }, { "wct", O_WRONLY | O_CREAT | O_TRUNC },
		{ "wcx", O_WRONLY | O_CREAT | O_EXCL },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].name) == 0) {
			*flags = t[i].flags;
			return 0;
		}
	return -1;
}

static int do_readdir(const char *path)
{
	DIR *d = opendir(path);

	if (d == NULL)
		return -1;
	errno = 0;
	while (readdir(d) != NULL)
		;
	if (errno != 0) {
		int e = errno;

		closedir(d);
		errno = e;
		return -1;
	}
	return closedir(d);
}

/* Write into a file and print its permission bits as the writer sees
   them at once, through the same descriptor. */
static int do_wmode(const char *path, const char *text)
{
	size_t len = strlen(text);
	struct stat st;
	int fd = open(path, O_WRONLY), e;

	if (fd < 0)
		return -1;
	if (write(fd, text, len) != (ssize_t)len || fstat(fd, &st) != 0) {
		e = errno ? errno : EIO;
		close(fd);
		errno = e;
		return -1;
	}
	printf("%o\n", (unsigned)(st.st_mode & 07777));
	return close(fd);
}

static int do_write(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return -1;
	if (write(fd, text, len) != (ssize_t)len) {
		int e = errno ? errno : EIO;

		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

int main(int argc, char **argv)
{
	const char *op;
	struct stat st;
	char buf[8192];
	int r, flags;

	if (argc < 3)
		return usage();
	op = argv[1];
	errno = 0;
	if (strcmp(op, "rename") == 0 && (argc == 4 || argc == 5)) {
		unsigned rf = 0;

		if (argc == 5 && strcmp(argv[4], "noreplace") == 0)
			rf = RENAME_NOREPLACE;
		else if (argc == 5 && strcmp(argv[4], "exchange") == 0)
			rf = RENAME_EXCHANGE;
		else if (argc == 5 && strcmp(argv[4], "0") != 0)
			return usage();
		r = renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3], rf);
	} else if (strcmp(op, "mkdir") == 0 && argc == 3) {
		r = mkdir(argv[2], 0755);
	} else if (strcmp(op, "rmdir") == 0 && argc == 3) {
		r = rmdir(argv[2]);
	} else if (strcmp(op, "unlink") == 0 && argc == 3) {
		r = unlink(argv[2]);
	} else if (strcmp(op, "stat") == 0 && argc == 3) {
		r = stat(argv[2], &st);
	} else if (strcmp(op, "lstat") == 0 && argc == 3) {
		r = lstat(argv[2], &st);
	} else if (strcmp(op, "readdir") == 0 && argc == 3) {
		r = do_readdir(argv[2]);
	} else if (strcmp(op, "readlink") == 0 && argc == 3) {
		r = readlink(argv[2], buf, sizeof(buf)) < 0 ? -1 : 0;
	} else if (strcmp(op, "link") == 0 && argc == 4) {
		r = link(argv[2], argv[3]);
	} else if (strcmp(op, "symlink") == 0 && argc == 4) {
		r = symlink(argv[2], argv[3]);
	} else if (strcmp(op, "open") == 0 && argc == 4) {
		if (open_flags(argv[3], &flags) != 0)
			return usage();
		r = open(argv[2], flags, 0644);
		if (r >= 0)
			r = close(r);
	} else if (strcmp(op, "write") == 0 && argc == 4) {
		r = do_write(argv[2], argv[3]);
	} else if (strcmp(op, "wmode") == 0 && argc == 4) {
		if (do_wmode(argv[2], argv[3]) == 0)
			return 0;
		r = -1;
	} else if (strcmp(op, "truncate") == 0 && argc == 4) {
		r = truncate(argv[2], strtoll(argv[3], NULL, 10));
	} else if (strcmp(op, "setxattr") == 0 && argc == 5) {
		r = setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0);
	} else if (strcmp(op, "getxattr") == 0 && argc == 4) {
		r = getxattr(argv[2], argv[3], buf, sizeof(buf)) < 0 ? -1 : 0;
	} else if (strcmp(op, "removexattr") == 0 && argc == 4) {
		r = removexattr(argv[2], argv[3]);
	} else {
		return usage();
	}
	if (r == 0) {
		puts("OK");
		return 0;
	}
	puts(strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
	return 1;
}
