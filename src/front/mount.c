/*
 * mount.oand: the mount(8) helper, also installed as mount.fuse.oand.
 * For an fstab(5) entry or `mount -t` of type oand (or fuse.oand),
 * mount(8) runs /sbin/mount.oand (or /sbin/mount.fuse.oand) as
 *   mount.oand SOURCE MOUNTPOINT [-s] [-f] [-n] [-v] [-N NS] [-t TYPE] [-o OPTIONS]
 * SOURCE is "none" or "oand", or the absolute path of the configuration
 * file.  Starts a node for the configuration and returns once the mount
 * is usable; umount or fusermount3 -u stops that node.  The exit status
 * is what mount(8) passes on from its helpers: 0, 1 (bad usage,
 * configuration or option), 2 (system error), 32 (the mount failed).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ops.h"
#include "serve.h"
#include "cfg.h"
#include "log.h"

/* mount(8)'s exit statuses (mount(8), RETURN CODES). */
#define EX_OK 0
#define EX_USAGE 1
#define EX_SYSERR 2
#define EX_FAIL 32

/* Options of mount(8) and fstab(5) that mean nothing to FUSE. */
static int generic_option(const char *o)
{
	static const char *const names[] = { "defaults", "_netdev", "auto", "noauto", "user",
					     "users", "nouser", "nofail", "owner", "group",
					     "rw", NULL };

	for (int i = 0; names[i]; i++)
		if (strcmp(o, names[i]) == 0)
			return 1;
	return strncmp(o, "x-", 2) == 0 || strncmp(o, "comment=", 8) == 0 ||
	       strncmp(o, "user=", 5) == 0;
}

/* Access-time options FUSE refuses (relatime, lazytime, ...): oand keeps
   no access times anyway (atime reads as mtime). */
static int atime_option(const char *o)
{
	static const char *const names[] = { "atime", "noatime", "relatime", "norelatime",
					     "strictatime", "nostrictatime", "lazytime",
					     "nolazytime", "diratime", "nodiratime", NULL };

	for (int i = 0; names[i]; i++)
		if (strcmp(o, names[i]) == 0)
			return 1;
	return 0;
}

/* Does FUSE take OPT as a mount option?  Asked of fuse_session_new, which
   creates nothing; its complaint about an unknown option is not shown
   (the caller says it better). */
static int fuse_knows(const char *opt)
{
	static const struct fuse_lowlevel_ops none;
	char buf[4096];
	char *argv[] = { "mount.oand", "-o", buf, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse_session *f;
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	snprintf(buf, sizeof(buf), "%s", opt);
	if (saved >= 0 && null >= 0)
		dup2(null, STDERR_FILENO);
	f = fuse_session_new(&args, &none, sizeof(none), NULL);
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	if (null >= 0)
		close(null);
	fuse_opt_free_args(&args);
	if (f == NULL)
		return 0;
	fuse_session_destroy(f);
	return 1;
}

static void append(char *buf, size_t len, const char *o)
{
	size_t used = strlen(buf);

	snprintf(buf + used, len - used, "%s%s", used ? "," : "", o);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mount.oand [-fnsv] [-o conf=FILE,debug,foreground,OPTIONS] [SOURCE] MOUNTPOINT\n"
		"  SOURCE     none, oand, or the configuration file (absolute path)\n"
		"  -o conf=FILE  configuration (default /etc/oand.conf)\n"
		"  -f         fake: check everything, mount nothing\n"
		"  -s         sloppy: drop mount options FUSE does not know\n"
		"  -v         say what is mounted\n"
		"  -n         accepted for mount(8) (there is no mtab to write)\n");
}

struct args {
	char conf[PATH_MAX];
	char fuse_opts[4096];
	char unknown[1024];
	const char *pos[2];
	int npos, debug, foreground, fake, sloppy, verbose;
};

/* One -o list.  Returns EX_OK or EX_USAGE. */
static int parse_options(struct args *a, const char *list)
{
	char *opts, *save = NULL;

	if ((opts = strdup(list)) == NULL)
		return EX_SYSERR;
	for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (strncmp(o, "conf=", 5) == 0) {
			snprintf(a->conf, sizeof(a->conf), "%s", o + 5);
		} else if (strcmp(o, "debug") == 0) {
			a->debug = 1;
		} else if (strcmp(o, "foreground") == 0) {
			a->foreground = 1;
		} else if (strcmp(o, "remount") == 0) {
			fprintf(stderr, "mount.oand: remount is not supported: unmount and mount again\n");
			free(opts);
			return EX_USAGE;
		} else if (generic_option(o)) {
			continue;
		} else if (fuse_knows(o)) {
			append(a->fuse_opts, sizeof(a->fuse_opts), o);
		} else if (atime_option(o)) {
			continue;
		} else if (a->sloppy) {
			fprintf(stderr, "mount.oand: ignoring unknown mount option '%s' (-s)\n", o);
		} else {
			append(a->unknown, sizeof(a->unknown), o);
		}
	}
	free(opts);
	return EX_OK;
}

/*
 * The command line as mount(8) gives it: flags and -o lists may come
 * before or after the two operands, and -o more than once.  The -o lists
 * are parsed after the flags, so that -s applies wherever it stands.
 */
static int parse_args(struct args *a, int argc, char **argv)
{
	const char *lists[64];
	int nlists = 0, r;

	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			usage(stdout);
			exit(EX_OK);
		}
		if (s[0] != '-' || s[1] == '\0') {
			if (a->npos == 2) {
				fprintf(stderr, "mount.oand: too many arguments: %s\n", s);
				return EX_USAGE;
			}
			a->pos[a->npos++] = s;
			continue;
		}
		for (const char *c = s + 1; *c; c++) {
			if (*c == 'o' || *c == 't' || *c == 'N') {
				/* The value is the rest of this word, or the next one. */
				const char *v = c[1] ? c + 1 : (i + 1 < argc ? argv[++i] : NULL);

				if (v == NULL) {
					fprintf(stderr, "mount.oand: -%c needs a value\n", *c);
					return EX_USAGE;
				}
				if (*c == 'o') {
					if (nlists == (int)(sizeof(lists) / sizeof(lists[0]))) {
						fprintf(stderr, "mount.oand: too many -o\n");
						return EX_USAGE;
					}
					lists[nlists++] = v;
				}
				/* -t TYPE (oand, fuse.oand) and -N NAMESPACE: not used */
				break;
			} else if (*c == 's') {
				a->sloppy = 1;
			} else if (*c == 'f') {
				a->fake = 1;
			} else if (*c == 'v') {
				a->verbose = 1;
			} else if (*c == 'n') {
				/* no mtab: there is none to write */
			} else {
				fprintf(stderr, "mount.oand: unknown option -%c\n", *c);
				usage(stderr);
				return EX_USAGE;
			}
		}
	}
	for (int i = 0; i < nlists; i++)
		if ((r = parse_options(a, lists[i])) != EX_OK)
			return r;
	if (a->unknown[0] != '\0') {
		fprintf(stderr, "mount.oand: unknown mount option(s): %s "
			"(not an option of oand, mount(8) or FUSE; see mount.oand(8))\n", a->unknown);
		return EX_USAGE;
	}
	if (a->npos == 0) {
		usage(stderr);
		return EX_USAGE;
	}
	/* SOURCE: an absolute path names the configuration file. */
	if (a->npos == 2 && a->pos[0][0] == '/') {
		if (a->conf[0] != '\0' && strcmp(a->conf, a->pos[0]) != 0) {
			fprintf(stderr, "mount.oand: the source names the configuration %s, "
				"but conf= names %s\n", a->pos[0], a->conf);
			return EX_USAGE;
		}
		snprintf(a->conf, sizeof(a->conf), "%s", a->pos[0]);
	}
	return EX_OK;
}

/* serve_run's status (0, 1 runtime, 2 bad options) as mount(8)'s. */
static int exit_status(int serve_status)
{
	return serve_status == 0 ? EX_OK : serve_status == 2 ? EX_USAGE : EX_FAIL;
}

/*
 * In the background, serve_run's parent exits with the start-up status of
 * the node it forked: run it in a child of our own, so that the status
 * can be turned into mount(8)'s.
 */
static int run(const struct serve_opts *o)
{
	int st;
	pid_t pid;

	if (o->foreground)
		return exit_status(serve_run(o));
	if ((pid = fork()) < 0) {
		fprintf(stderr, "mount.oand: cannot fork: %s\n", strerror(errno));
		return EX_SYSERR;
	}
	if (pid == 0)
		exit(serve_run(o));	/* the node, once stopped, ends here too */
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "mount.oand: waitpid: %s\n", strerror(errno));
			return EX_SYSERR;
		}
	}
	return WIFEXITED(st) ? exit_status(WEXITSTATUS(st)) : EX_FAIL;
}

int main(int argc, char **argv)
{
	static struct args a;
	char mp[PATH_MAX], err[1024];
	struct cfg *cfg = NULL;
	const char *mpa;
	int status;

	log_init("mount.oand", LOG_LVL_INFO);
	if ((status = parse_args(&a, argc, argv)) != EX_OK)
		return status;
	mpa = a.pos[a.npos - 1];
	if (realpath(mpa, mp) == NULL) {
		fprintf(stderr, "mount.oand: mount point %s: %s\n", mpa, strerror(errno));
		return EX_FAIL;
	}
	if (cfg_load(a.conf[0] ? a.conf : NULL, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "mount.oand: %s\n", err);
		return EX_USAGE;
	}
	log_set_level(a.debug ? LOG_LVL_DEBUG : cfg->log_level);
	if (a.verbose)
		printf("mount.oand: %smounting oand on %s (configuration %s%s%s)\n",
		       a.fake ? "not (-f) " : "", mp, cfg->source ? cfg->source : "built-in",
		       a.fuse_opts[0] ? ", options " : "", a.fuse_opts);
	if (a.fake) {
		cfg_free(cfg);
		return EX_OK;
	}
	fflush(stdout);
	{
		struct serve_opts o = { .cfg = cfg, .mount_point = mp,
					.mount_options = a.fuse_opts[0] ? a.fuse_opts : NULL,
					.foreground = a.foreground };

		status = run(&o);
	}
	cfg_free(cfg);
	return status;
}
