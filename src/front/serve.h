/*
 * serve: run a node, mounted or not, in the foreground or as a daemon,
 * with its frontends around it: the node starts, then the HTTP API, the
 * control socket and the FUSE loop (fuse/session.h); at the end the mount
 * goes, node_shutdown stops the network, the control socket and the API
 * stop, then the node closes.  Shared by `oand` and `mount.oand`.  As
 * sshfs does, everything that can fail (data dir, database, mount) is
 * done before the parent returns, so errors reach the terminal and a
 * returning parent means a usable mount.  Threads start only in the
 * final process.
 */
#ifndef OAND_SERVE_H
#define OAND_SERVE_H

struct cfg;

struct serve_opts {
	const struct cfg *cfg;
	const char *mount_point;	/* NULL: do not mount */
	const char *mount_options;	/* extra FUSE -o options, or NULL */
	const char *pidfile;		/* or NULL */
	int foreground;
};

/* Returns the process exit status: 0, 1 (runtime error), 2 (bad options). */
int serve_run(const struct serve_opts *o);

#endif
