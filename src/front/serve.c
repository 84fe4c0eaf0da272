#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ops.h"
#include "watch.h"
#include "cfg.h"
#include "log.h"
#include "node.h"
#include "path.h"

#define BASE_OPTIONS "fsname=oand,subtype=oand,default_permissions"

/* Tell the waiting parent how start-up went (once). */
static void report(int *fd, int status)
{
	unsigned char c = (unsigned char)status;

	if (*fd < 0)
		return;
	if (write(*fd, &c, 1) != 1)
		log_warn("cannot report start-up status: %s", strerror(errno));
	close(*fd);
	*fd = -1;
}

/* Fork; the parent waits for the child's start-up status and exits. */
static int daemonize(int *report_fd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -errno;
	if ((pid = fork()) < 0)
		return -errno;
	if (pid > 0) {
		unsigned char c = 1;

		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			c = 1;	/* the child died before it was ready */
		_exit(c);
	}
	close(p[0]);
	*report_fd = p[1];
	setsid();
	if (chdir("/") != 0)
		return -errno;
	return 0;
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	log_to_syslog();
}

static int write_pidfile(const char *path)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if ((f = fopen(tmp, "w")) == NULL)
		return -errno;
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -errno;
	}
	return 0;
}

/* The node data dir's lock is gone by now, so a new node may already
   have written its own pid here: remove the file only if it is ours. */
static void remove_pidfile(const char *path)
{
	FILE *f = fopen(path, "r");
	long pid = -1;

	if (f == NULL)
		return;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	fclose(f);
	if (pid == (long)getpid())
		unlink(path);
}

/* Append ",opt" to buf unless opt is NULL or empty. */
static void add_options(char *buf, size_t len, const char *opt)
{
	size_t used = strlen(buf);

	if (opt != NULL && opt[0] != '\0')
		snprintf(buf + used, len - used, "%s%s", used ? "," : "", opt);
}

/*
 * Make the FUSE object first: bad mount options are refused (exit 2)
 * before anything is created.  The node does not exist yet; op_init
 * reads it from *slot once the loop starts.
 */
static struct fuse *fuse_prepare(const struct serve_opts *o, struct node **slot)
{
	char opts[4096] = "";
	char *argv[] = { "oand", "-o", opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse *f;

	add_options(opts, sizeof(opts), BASE_OPTIONS);
	add_options(opts, sizeof(opts), o->cfg->mount_options);
	add_options(opts, sizeof(opts), o->mount_options);
	f = fuse_new(&args, &ops_oand, sizeof(ops_oand), slot);
	fuse_opt_free_args(&args);
	if (f == NULL)
		log_error("invalid mount options: %s", opts);
	return f;
}

/*
 * A FUSE mount starts with the kernel's default readahead (128 KiB) and
 * at INIT the filesystem may only lower what the bdi has.  Whole files are
 * read in order, so raise the bdi's value before INIT (root only; best
 * effort); op_init then asks for the same.  The mount is found in
 * mountinfo: stat on it would wait for our own loop.
 */
static void raise_readahead(const char *mp)
{
	char line[8192], dev[64] = "", path[128];
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char d[64], m[4096];

		/* id parent major:minor root mountpoint ... */
		if (sscanf(line, "%*d %*d %63s %*s %4095s", d, m) == 2 && strcmp(m, mp) == 0)
			snprintf(dev, sizeof(dev), "%s", d);	/* the last one is ours */
	}
	fclose(f);
	if (dev[0] == '\0')
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	if ((f = fopen(path, "w")) == NULL) {
		log_debug("cannot raise readahead (%s): %s", path, strerror(errno));
		return;
	}
	fprintf(f, "%d\n", OPS_READAHEAD >> 10);
	if (fclose(f) != 0)
		log_debug("cannot raise readahead (%s): %s", path, strerror(errno));
}

static int mount_fs(const struct serve_opts *o, struct fuse *f, struct node *n)
{
	char real[PATH_MAX];
	struct stat sb;

	if (mkdir(o->mount_point, 0755) == 0)
		log_notice("created mount point %s", o->mount_point);
	/* A node killed without unmounting leaves a dead mount ("Transport
	   endpoint is not connected"): clear it rather than stack on it. */
	if (stat(o->mount_point, &sb) != 0 && errno == ENOTCONN) {
		log_notice("clearing the stale mount on %s", o->mount_point);
		if (umount2(o->mount_point, MNT_DETACH) != 0) {
			pid_t pid = fork();

			if (pid == 0) {
				execlp("fusermount3", "fusermount3", "-u", "-z", o->mount_point,
				       (char *)NULL);
				_exit(127);
			}
			if (pid > 0)
				waitpid(pid, NULL, 0);
		}
	}
	/* Resolved before mounting: once mounted, the path leads into our
	   own loop, which does not run yet. */
	if (realpath(o->mount_point, real) == NULL)
		snprintf(real, sizeof(real), "%s", o->mount_point);
	if (fuse_mount(f, o->mount_point) != 0) {
		log_error("cannot mount on %s", o->mount_point);
		return -EIO;
	}
	node_note_mounted(n, real);
	raise_readahead(o->mount_point);
	return 0;
}

/* A member changed path: what the kernel cached of it goes (it may never
   have been looked up: nothing to do then). */
static void inval_path(const char *path, void *ctx)
{
	fuse_invalidate_path(ctx, path);
}

int serve_run(const struct serve_opts *o)
{
	struct node *n = NULL;
	struct fuse *f = NULL;
	struct fuse_loop_config *lc = NULL;
	int report_fd = -1, status = 1, r, pid_written = 0, mounted = 0, handlers = 0, watched = 0;
	char cwd[PATH_MAX], pidpath[PATH_MAX];
	const char *pidfile = o->pidfile;
	sigset_t sigs;

	/* The daemon works from /: a relative pid file names the caller's. */
	if (o->pidfile != NULL && o->pidfile[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL ||
		    snprintf(pidpath, sizeof(pidpath), "%s/%s", cwd, o->pidfile) >= (int)sizeof(pidpath)) {
			log_error("cannot resolve pid file %s", o->pidfile);
			return 2;
		}
		pidfile = pidpath;
	}
	/*
	 * The node's own files must not live inside its mount: they would be
	 * reached through the mount before it serves anything.
	 */
	if (o->mount_point != NULL &&
	    (path_is_within(o->cfg->data_dir, o->mount_point) ||
	     (pidfile != NULL && path_is_within(pidfile, o->mount_point)))) {
		log_error("%s lies inside the mount point %s",
			  path_is_within(o->cfg->data_dir, o->mount_point) ? o->cfg->data_dir : pidfile,
			  o->mount_point);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!o->foreground && (r = daemonize(&report_fd)) != 0) {
		log_error("cannot daemonize: %s", strerror(-r));
		return 1;
	}
	if (o->mount_point != NULL && (f = fuse_prepare(o, &n)) == NULL) {
		status = 2;
		goto out;
	}
	/* From here a SIGTERM ends the session: the loop, if it starts at
	   all, returns at once and the mount is taken down cleanly. */
	if (f != NULL) {
		if (fuse_set_signal_handlers(fuse_get_session(f)) != 0)
			goto out;
		handlers = 1;
	}
	if ((r = node_open(o->cfg, o->mount_point, &n)) != 0) {
		log_error("cannot start the node on %s: %s", o->cfg->data_dir, strerror(-r));
		goto out;
	}
	if (f != NULL) {
		if (mount_fs(o, f, n) != 0)
			goto out;
		mounted = 1;
		if ((r = watch_attach(fuse_get_session(f), o->cfg->stuck_request_ms)) != 0) {
			log_error("cannot watch the mount's requests: %s", strerror(-r));
			goto out;
		}
		watched = 1;
		node_set_mount_probe(n, watch_get, NULL);
		node_set_inval(n, inval_path, f);
	}
	if (pidfile != NULL) {
		if ((r = write_pidfile(pidfile)) != 0) {
			log_error("cannot write pid file %s: %s", pidfile, strerror(-r));
			goto out;
		}
		pid_written = 1;
	}
	if (node_start(n) != 0)
		goto out;
	log_notice("node %s started on %s%s%s", o->cfg->server_name, o->cfg->data_dir,
		   f ? ", mounted on " : "", f ? o->mount_point : "");
	if (f != NULL) {
		if ((lc = fuse_loop_cfg_create()) == NULL)
			goto out;
		/* Keep the workers: making a thread per request burst costs
		   more than the request. */
		fuse_loop_cfg_set_max_threads(lc, 16);
		fuse_loop_cfg_set_idle_threads(lc, 16);
		report(&report_fd, 0);
		if (!o->foreground)
			detach_stdio();
		r = fuse_loop_mt(f, lc);
		status = r == 0 ? 0 : 1;
	} else {
		int sig = 0;

		sigemptyset(&sigs);
		sigaddset(&sigs, SIGTERM);
		sigaddset(&sigs, SIGINT);
		sigaddset(&sigs, SIGHUP);
		pthread_sigmask(SIG_BLOCK, &sigs, NULL);
		report(&report_fd, 0);
		if (!o->foreground)
			detach_stdio();
		sigwait(&sigs, &sig);
		log_notice("signal %d: stopping", sig);
		status = 0;
	}
out:
	/* Said before the slow part (unmount, closing the node): a start
	   from now on waits for us instead of refusing. */
	node_note_stopping(n);
	if (n != NULL) {
		node_set_inval(n, NULL, NULL);
		node_set_mount_probe(n, NULL, NULL);
	}
	if (watched)
		watch_detach();
	if (handlers)
		fuse_remove_signal_handlers(fuse_get_session(f));
	if (f != NULL) {
		if (mounted)
			fuse_unmount(f);
		fuse_destroy(f);
	}
	if (lc != NULL)
		fuse_loop_cfg_destroy(lc);
	node_close(n);
	if (pid_written)
		remove_pidfile(pidfile);
	if (status == 0)
		log_notice("stopped");
	report(&report_fd, status);
	return status;
}
