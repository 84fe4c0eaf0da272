/*
 * mount.oand: the mount(8) helper.  Called as
 *   mount.oand [-o conf=FILE,opts] [SOURCE] MOUNTPOINT
 * (mount -t oand and fstab call it with SOURCE first and the options
 * last).  Starts a node for the configuration and returns once the mount
 * is usable; fusermount3 -u or umount stops that node.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "../src/cfg.h"
#include "../src/log.h"

/* mount(8) options that mean nothing to FUSE. */
static int generic_option(const char *o)
{
	static const char *const names[] = { "defaults", "_netdev", "auto", "noauto", "user",
					     "users", "nouser", "nofail", "owner", "group",
					     "rw", NULL };

	for (int i = 0; names[i]; i++)
		if (strcmp(o, names[i]) == 0)
			return 1;
	return strncmp(o, "x-", 2) == 0 || strncmp(o, "comment=", 8) == 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: mount.oand [-o conf=FILE,debug,OPTIONS] [SOURCE] MOUNTPOINT\n");
}

int main(int argc, char **argv)
{
	char fuse_opts[4096] = "", conf[PATH_MAX] = "", mp[PATH_MAX];
	const char *pos[2] = { NULL, NULL };
	int npos = 0, debug = 0, foreground = 0, status;
	struct cfg *cfg = NULL;
	char err[1024];

	log_init("mount.oand", LOG_LVL_INFO);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "-o") == 0) {
			char *opts, *save = NULL;

			if (++i >= argc) {
				usage(stderr);
				return 2;
			}
			if ((opts = strdup(argv[i])) == NULL)
				return 1;
			for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
				if (strncmp(o, "conf=", 5) == 0) {
					snprintf(conf, sizeof(conf), "%s", o + 5);
				} else if (strcmp(o, "debug") == 0) {
					debug = 1;
				} else if (strcmp(o, "foreground") == 0) {
					foreground = 1;
				} else if (!generic_option(o)) {
					size_t used = strlen(fuse_opts);

					snprintf(fuse_opts + used, sizeof(fuse_opts) - used, "%s%s",
						 used ? "," : "", o);
				}
			}
			free(opts);
		} else if (strcmp(a, "-t") == 0 || strcmp(a, "-N") == 0) {
			i++;	/* type.subtype / namespace: not used */
		} else if (a[0] == '-' && a[1] != '\0') {
			/* -s (sloppy), -n (no mtab), -v, -f (fake): nothing to do */
		} else if (npos < 2) {
			pos[npos++] = a;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (npos == 0) {
		usage(stderr);
		return 2;
	}
	if (realpath(pos[npos - 1], mp) == NULL) {
		fprintf(stderr, "mount.oand: %s: %s\n", pos[npos - 1], strerror(errno));
		return 1;
	}
	if (cfg_load(conf[0] ? conf : NULL, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "mount.oand: %s\n", err);
		return 2;
	}
	log_set_level(debug ? LOG_LVL_DEBUG : cfg->log_level);
	{
		struct serve_opts o = { .cfg = cfg, .mount_point = mp,
					.mount_options = fuse_opts[0] ? fuse_opts : NULL,
					.foreground = foreground };

		status = serve_run(&o);
	}
	cfg_free(cfg);
	return status;
}
