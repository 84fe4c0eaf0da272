#include "session.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ops.h"
#include "notify.h"
#include "watch.h"
#include "log.h"
#include "node.h"

#define BASE_OPTIONS "fsname=oand,subtype=oand,default_permissions"

struct session {
	struct fuse_session *se;
	struct fuse_loop_config *lc;
	char *mount_point;
	/* fuse_session_new is given &ops before the node exists: the
	   operations read it once the loop starts. */
	struct ops_ctx ops;
	struct node *node;
	int handlers, mounted, watched;
};

/*
 * Options of libfuse's high-level interface, which the low-level session
 * does not take.  A configuration written for a mount that had them
 * still starts: each is left out with a warning, since the mount numbers
 * its inodes and keeps the kernel's caches right itself.
 */
static const char *const high_level_only[] = {
	"kernel_cache", "auto_cache", "noauto_cache", "umask=", "uid=", "gid=",
	"entry_timeout=", "negative_timeout=", "attr_timeout=", "ac_attr_timeout=",
	"noforget", "remember=", "modules=", "intr", "intr_signal=", "hard_remove",
	"use_ino", "readdir_ino", "direct_io", "nopath",
};

static int is_high_level_only(const char *o, size_t len)
{
	for (size_t i = 0; i < sizeof(high_level_only) / sizeof(high_level_only[0]); i++) {
		const char *h = high_level_only[i];
		size_t hl = strlen(h);

		if (h[hl - 1] == '=' ? len >= hl && memcmp(o, h, hl) == 0
				     : len == hl && memcmp(o, h, hl) == 0)
			return 1;
	}
	return 0;
}

/* Append ",opt" to buf for each option of the comma-separated list opt
   (NULL or empty: none), less those of the high-level interface. */
static void add_options(char *buf, size_t len, const char *opt)
{
	while (opt != NULL && *opt != '\0') {
		size_t n = strcspn(opt, ","), used = strlen(buf);

		if (n > 0 && is_high_level_only(opt, n))
			log_warn("mount option %.*s has no effect here (the mount keeps its "
				 "inode numbers and caches itself): left out", (int)n, opt);
		else if (n > 0)
			snprintf(buf + used, len - used, "%s%.*s", used ? "," : "", (int)n, opt);
		opt += n + (opt[n] == ',');
	}
}

/*
 * Make the FUSE session first: bad mount options are refused (exit 2)
 * before anything is created.  The node does not exist yet; the
 * operations read it from *ctx once the loop starts.
 */
static struct fuse_session *fuse_prepare(const char *cfg_options, const char *extra,
					 struct ops_ctx *ctx)
{
	char opts[4096] = "";
	char *argv[] = { "oand", "-o", opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse_session *se;

	add_options(opts, sizeof(opts), BASE_OPTIONS);
	add_options(opts, sizeof(opts), cfg_options);
	add_options(opts, sizeof(opts), extra);
	se = fuse_session_new(&args, &ops_oand, sizeof(ops_oand), ctx);
	fuse_opt_free_args(&args);
	if (se == NULL)
		log_error("invalid mount options: %s", opts);
	return se;
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

static int mount_fs(const char *mount_point, struct fuse_session *se, struct node *n)
{
	char real[PATH_MAX];
	struct stat sb;

	if (mkdir(mount_point, 0755) == 0)
		log_notice("created mount point %s", mount_point);
	/* A node killed without unmounting leaves a dead mount ("Transport
	   endpoint is not connected"): clear it rather than stack on it. */
	if (stat(mount_point, &sb) != 0 && errno == ENOTCONN) {
		log_notice("clearing the stale mount on %s", mount_point);
		if (umount2(mount_point, MNT_DETACH) != 0) {
			pid_t pid = fork();

			if (pid == 0) {
				execlp("fusermount3", "fusermount3", "-u", "-z", mount_point,
				       (char *)NULL);
				_exit(127);
			}
			if (pid > 0)
				waitpid(pid, NULL, 0);
		}
	}
	/* Resolved before mounting: once mounted, the path leads into our
	   own loop, which does not run yet. */
	if (realpath(mount_point, real) == NULL)
		snprintf(real, sizeof(real), "%s", mount_point);
	if (fuse_session_mount(se, mount_point) != 0) {
		log_error("cannot mount on %s", mount_point);
		return -EIO;
	}
	node_note_mounted(n, real);
	raise_readahead(mount_point);
	return 0;
}

/* What the node asks the kernel to drop goes through the notifier. */
static void inval_entry(void *ctx, node_ino_t parent, const char *name, size_t len)
{
	notify_entry(ctx, parent, name, len);
}

static void inval_inode(void *ctx, node_ino_t ino, int content)
{
	notify_inode(ctx, ino, content);
}

static void inval_wait(void *ctx)
{
	notify_wait(ctx);
}

static const struct node_inval_ops inval_ops = { inval_entry, inval_inode, inval_wait };

int session_new(const char *mount_point, const char *cfg_options, const char *extra,
		struct session **out)
{
	struct session *s = calloc(1, sizeof(*s));
	int r = -ENOMEM;

	*out = NULL;
	if (s == NULL)
		return -ENOMEM;
	if ((s->mount_point = strdup(mount_point)) == NULL)
		goto out;
	if ((s->se = fuse_prepare(cfg_options, extra, &s->ops)) == NULL) {
		r = -EINVAL;
		goto out;
	}
	/* From here a SIGTERM ends the session: the loop, if it starts at
	   all, returns at once and the mount is taken down cleanly. */
	if (fuse_set_signal_handlers(s->se) != 0) {
		r = -EIO;
		goto out;
	}
	s->handlers = 1;
	if ((s->lc = fuse_loop_cfg_create()) == NULL)
		goto out;
	/* Keep the workers: making a thread per request burst costs more
	   than the request. */
	fuse_loop_cfg_set_max_threads(s->lc, 16);
	fuse_loop_cfg_set_idle_threads(s->lc, 16);
	*out = s;
	s = NULL;
	r = 0;
out:
	session_free(s);
	return r;
}

int session_mount(struct session *s, struct node *n, int64_t stuck_ms)
{
	int r;

	s->node = n;
	s->ops.node = n;
	if ((r = mount_fs(s->mount_point, s->se, n)) != 0)
		return r;
	s->mounted = 1;
	if ((r = notify_new(s->se, &s->ops.notify)) != 0) {
		log_error("cannot start the mount's notifier: %s", strerror(-r));
		return r;
	}
	if ((r = watch_attach(s->se, stuck_ms)) != 0) {
		log_error("cannot watch the mount's requests: %s", strerror(-r));
		return r;
	}
	s->watched = 1;
	node_set_mount_probe(n, watch_get, NULL);
	node_set_inval(n, &inval_ops, s->ops.notify);
	return 0;
}

int session_loop(struct session *s)
{
	int r = fuse_session_loop_mt(s->se, s->lc);

	/* libfuse returns the number of the signal that ended it. */
	return r == 0 ? 0 : r > 0 ? -EINTR : -EIO;
}

void session_free(struct session *s)
{
	int held;

	if (s == NULL)
		return;
	if (s->node != NULL) {
		node_set_inval(s->node, NULL, NULL);
		node_set_mount_probe(s->node, NULL, NULL);
	}
	/* No invalidation is asked for any more: the notifier goes before
	   the session it writes to. */
	held = notify_free(s->ops.notify);
	s->ops.notify = NULL;
	if (s->watched)
		watch_detach();
	if (s->handlers)
		fuse_remove_signal_handlers(s->se);
	if (s->se != NULL) {
		if (s->mounted)
			fuse_session_unmount(s->se);
		/* A notifier still in the kernel may use the session: it is
		   kept for the little the process has left to live. */
		if (!held)
			fuse_session_destroy(s->se);
	}
	if (s->lc != NULL)
		fuse_loop_cfg_destroy(s->lc);
	free(s->mount_point);
	free(s);
}
