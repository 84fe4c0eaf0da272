/* oand: run a node, or ask a running one (status). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "cfg.h"
#include "ctl.h"
#include "log.h"
#include "node.h"
#include "../fuse/serve.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: oand [-c FILE] [-f] [-d] [-p PIDFILE]     run the node\n"
		"       oand [-c FILE] status [--json]           show the running node\n"
		"       oand [-c FILE] id                        print the node's Tox ID\n"
		"       oand genkey                              print a new cluster key\n"
		"       oand version\n"
		"\n"
		"  -c FILE     configuration file (default " CFG_DEFAULT_FILE
		", built-in defaults if absent)\n"
		"  -f          stay in the foreground, log to stderr\n"
		"  -d          debug logging (implies -f)\n"
		"  -p PIDFILE  write the node's pid to PIDFILE\n");
}

static int cmd_status(const struct cfg *cfg, int json)
{
	char buf[65536];
	int r = ctl_request(cfg->data_dir, json ? "status" : "status text", buf, sizeof(buf), 5000);

	if (r != 0) {
		if (r == -ENOENT || r == -ECONNREFUSED)
			fprintf(stderr, "oand: no node is running on %s\n", cfg->data_dir);
		else
			fprintf(stderr, "oand: cannot ask the node on %s: %s\n", cfg->data_dir,
				strerror(-r));
		return 1;
	}
	fputs(buf, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const char *conf = NULL, *pidfile = NULL;
	int foreground = 0, debug = 0, c, status;
	struct cfg *cfg = NULL;
	char err[1024];
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	log_init("oand", LOG_LVL_INFO);
	while ((c = getopt_long(argc, argv, "+c:fdp:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'f': foreground = 1; break;
		case 'd': debug = foreground = 1; break;
		case 'p': pidfile = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc && strcmp(argv[optind], "version") == 0) {
		printf("oand %s\n", NODE_VERSION);
		return 0;
	}
	if (optind < argc && strcmp(argv[optind], "genkey") == 0) {
		uint8_t key[CFG_KEY_BYTES];
		char hex[2 * CFG_KEY_BYTES + 1];

		if (sodium_init() < 0)
			return 1;
		randombytes_buf(key, sizeof(key));
		sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
		sodium_memzero(key, sizeof(key));
		printf("%s\n", hex);
		sodium_memzero(hex, sizeof(hex));
		return 0;
	}
	if (optind < argc && strcmp(argv[optind], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (cfg_load(conf, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "oand: %s\n", err);
		return 2;
	}
	log_set_level(debug ? LOG_LVL_DEBUG : cfg->log_level);
	if (optind < argc) {
		const char *cmd = argv[optind++];
		int json = 0;

		if (strcmp(cmd, "id") == 0 && optind == argc) {
			char id[77];
			int r = node_tox_id(cfg, id);

			if (r != 0)
				fprintf(stderr, "oand: cannot read the identity in %s: %s\n",
					cfg->data_dir, strerror(-r));
			else
				printf("%s\n", id);
			cfg_free(cfg);
			return r ? 1 : 0;
		}
		if (strcmp(cmd, "status") != 0) {
			fprintf(stderr, "oand: unknown command '%s'\n", cmd);
			usage(stderr);
			cfg_free(cfg);
			return 2;
		}
		for (; optind < argc; optind++) {
			if (strcmp(argv[optind], "--json") == 0) {
				json = 1;
			} else {
				fprintf(stderr, "oand: status: unknown argument '%s'\n", argv[optind]);
				cfg_free(cfg);
				return 2;
			}
		}
		status = cmd_status(cfg, json);
		cfg_free(cfg);
		return status;
	}
	{
		struct serve_opts o = { .cfg = cfg, .mount_point = cfg->mount_point,
					.pidfile = pidfile, .foreground = foreground };

		status = serve_run(&o);
	}
	cfg_free(cfg);
	return status;
}
