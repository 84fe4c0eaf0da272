#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "cfg.h"
#include "ctl.h"
#include "log.h"
#include "node.h"
#include "path.h"
#include "session.h"

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

/*
 * The node's HTTP service (the tree, the status, and for joining nodes
 * how to reach it over Tox) and its control socket, on a started node.
 */
static int frontends_start(const struct cfg *cfg, struct node *n, struct api **api,
			   struct ctl **ctl)
{
	int r = api_start(cfg, n, api);

	if (r != 0) {
		/* A member's HTTP service is how others find it; a standalone
		   node's is a convenience, and two users' nodes on one host
		   must not stop each other. */
		if (!cfg->has_cluster_key && r == -EADDRINUSE) {
			log_warn("no HTTP service: port %d is taken (oand status uses the control"
				 " socket)", cfg->server_port);
		} else {
			log_error("cannot start the HTTP service on port %d: %s", cfg->server_port,
				  strerror(-r));
			return r;
		}
	}
	if ((r = ctl_start(n, cfg->data_dir, ctl)) != 0) {
		log_error("cannot start the control socket: %s", strerror(-r));
		return r;
	}
	return 0;
}

int serve_run(const struct serve_opts *o)
{
	struct node *n = NULL;
	struct session *s = NULL;
	struct api *api = NULL;
	struct ctl *ctl = NULL;
	int report_fd = -1, status = 1, r, pid_written = 0;
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
	/* Bad mount options are refused (exit 2) before anything is made;
	   from here a SIGTERM ends the session. */
	if (o->mount_point != NULL &&
	    (r = session_new(o->mount_point, o->cfg->mount_options, o->mount_options, &s)) != 0) {
		if (r == -EINVAL)
			status = 2;
		goto out;
	}
	if ((r = node_open(o->cfg, o->mount_point, &n)) != 0) {
		log_error("cannot start the node on %s: %s", o->cfg->data_dir, strerror(-r));
		goto out;
	}
	if (s != NULL && session_mount(s, n, o->cfg->stuck_request_ms) != 0)
		goto out;
	if (pidfile != NULL) {
		if ((r = write_pidfile(pidfile)) != 0) {
			log_error("cannot write pid file %s: %s", pidfile, strerror(-r));
			goto out;
		}
		pid_written = 1;
	}
	if (node_start(n) != 0 || frontends_start(o->cfg, n, &api, &ctl) != 0)
		goto out;
	log_notice("node %s started on %s%s%s", o->cfg->server_name, o->cfg->data_dir,
		   s ? ", mounted on " : "", s ? o->mount_point : "");
	if (s != NULL) {
		report(&report_fd, 0);
		if (!o->foreground)
			detach_stdio();
		status = session_loop(s) == 0 ? 0 : 1;
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
	/* The mount goes first, as it came last; then the network stops, so
	   that no HTTP or control request still waits on it, then they end,
	   then the node. */
	session_free(s);
	node_shutdown(n);
	ctl_stop(ctl);
	api_stop(api);
	node_close(n);
	if (pid_written)
		remove_pidfile(pidfile);
	if (status == 0)
		log_notice("stopped");
	report(&report_fd, status);
	return status;
}
