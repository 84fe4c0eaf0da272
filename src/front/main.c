/* oand: run a node, or ask a running one (status). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "cfg.h"
#include "ctl.h"
#include "httpc.h"
#include "log.h"
#include "node.h"
#include "serve.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: oand [-c FILE] [-f] [-d] [-p PIDFILE]     run the node\n"
		"       oand [-c FILE] status [--json]           show the running node\n"
		"       oand [-c FILE] id                        print the node's Tox ID\n"
		"       oand [-c FILE] nodes [--json]            list the cluster's nodes\n"
		"       oand [-c FILE] transfers [--json]        show the transfers in flight\n"
		"       oand [-c FILE] token [--read-only]       print the HTTP API's token\n"
		"       oand [-c FILE] nodes remove NODE         remove a node from the cluster\n"
		"       oand [-c FILE] nodes reconnect NODE      make the link to a node afresh\n"
		"       oand [-c FILE] ping NODE [--size BYTES] [--count N] [--json]\n"
		"                                                echo messages off a member\n"
		"       oand genkey                              print a new cluster key\n"
		"       oand version\n"
		"\n"
		"  -c FILE     configuration file (default " CFG_DEFAULT_FILE
		", built-in defaults if absent)\n"
		"  -f          stay in the foreground, log to stderr\n"
		"  -d          debug logging (implies -f)\n"
		"  -p PIDFILE  write the node's pid to PIDFILE\n");
}

#define REPLY_MAX (4u << 20)

/* Send one request to the running node; the reply, or NULL (reported). */
static char *ask(const struct cfg *cfg, const char *req, int timeout_ms)
{
	char *buf = malloc(REPLY_MAX);
	int r = buf ? ctl_request(cfg->data_dir, req, buf, REPLY_MAX, timeout_ms) : -ENOMEM;

	if (r != 0) {
		if (r == -ENOENT || r == -ECONNREFUSED)
			fprintf(stderr, "oand: no node is running on %s\n", cfg->data_dir);
		else
			fprintf(stderr, "oand: cannot ask the node on %s: %s\n", cfg->data_dir,
				strerror(-r));
		free(buf);
		return NULL;
	}
	return buf;
}

/* Is the node's answer a JSON {"error": ...}? */
static int is_error(const char *body)
{
	return strncmp(body, "{\"error\":", 9) == 0;
}

/* Print a reply; a JSON {"error": ...} goes to stderr and fails. */
static int show(char *buf)
{
	int r = 0;

	if (buf == NULL)
		return 1;
	if (is_error(buf)) {
		fprintf(stderr, "oand: %s", buf);
		r = 1;
	} else {
		fputs(buf, stdout);
	}
	free(buf);
	return r;
}

/* Is the node that answered the one of cfg's data dir? */
static int same_node(const struct cfg *cfg, const struct httpc_reply *rep)
{
	char dir[4096], *real;
	int same;

	if (httpc_header(rep, "X-Oand-Data-Dir", dir, sizeof(dir)) == NULL)
		return 1;	/* an answer with no body to check */
	if (strcmp(dir, cfg->data_dir) == 0)
		return 1;
	real = realpath(cfg->data_dir, NULL);
	same = real != NULL && strcmp(real, dir) == 0;
	free(real);
	return same;
}

/* Where the node's HTTP service is reached from this host: its
   server-address, or loopback when it listens on every address. */
static const char *api_host(const struct cfg *cfg)
{
	const char *a = cfg->server_address;
	struct in6_addr v6;
	struct in_addr v4;

	if (a == NULL || (inet_pton(AF_INET, a, &v4) == 1 && v4.s_addr == htonl(INADDR_ANY)) ||
	    (inet_pton(AF_INET6, a, &v6) == 1 && IN6_IS_ADDR_UNSPECIFIED(&v6)))
		return "localhost";
	return a;
}

/* GET path from the running node's HTTP service, with the token of its
   data dir (readable by the node's user and root only); the body, or
   NULL (reported).  When that fails (a node in another network
   namespace, a port taken, by another user too, every connection busy,
   a token refused), its control socket answers ctl_req. */
static char *ask_http(const struct cfg *cfg, const char *path, const char *ctl_req)
{
	struct httpc_reply rep;
	char tok[API_TOKEN_HEX + 1];
	struct stat st;
	int r = api_token_read(cfg->data_dir, 0, tok);

	if (r == -EACCES || r == -EPERM) {
		fprintf(stderr, "oand: cannot read the node's token in %s: %s (the node answers root "
			"and its own user only)\n", cfg->data_dir, strerror(-r));
		return NULL;
	}
	/* The node runs as the data dir's owner (or root). */
	if (r == 0 && stat(cfg->data_dir, &st) != 0)
		r = -errno;
	if (r == 0)
		r = httpc_get_local(api_host(cfg), cfg->server_port,
				    cfg->tls_cert ? HTTPC_TLS : HTTPC_PLAIN, path, tok, st.st_uid,
				    10000, REPLY_MAX, &rep);
	sodium_memzero(tok, sizeof(tok));

	if (r == 0 && !same_node(cfg, &rep)) {
		/* Another node (of another network namespace's twin port). */
		httpc_reply_free(&rep);
		r = -ECONNREFUSED;
	}
	if (r == 0 && (rep.status == 503 || rep.status == 401 || rep.status == 403)) {
		/* Every connection taken (or shutting down), or the token
		   refused (another node's port): the socket is the node's own
		   way in. */
		httpc_reply_free(&rep);
		r = -EBUSY;
	}
	/* Nothing, another node, or no answer on the port: the control
	   socket answers for the node of this data dir, or says there is
	   none. */
	if (r != 0)
		return ask(cfg, ctl_req, 10000);
	if (rep.status != 200 && !is_error(rep.body)) {
		fprintf(stderr, "oand: the node on port %d answered %d\n", cfg->server_port,
			rep.status);
		httpc_reply_free(&rep);
		return NULL;
	}
	free(rep.head);
	return rep.body;	/* the caller's */
}

static int cmd_status(const struct cfg *cfg, int json)
{
	return show(json ? ask_http(cfg, "/v1/status", "status")
			: ask_http(cfg, "/v1/status?text", "status text"));
}

/* Transfers in flight, from /v1/transfers. */
static int cmd_transfers(const struct cfg *cfg, int argc, char **argv)
{
	char *body;
	json_t *j, *t, *x;
	size_t i;

	if (argc > 1 || (argc == 1 && strcmp(argv[0], "--json") != 0)) {
		fprintf(stderr, "oand: usage: oand transfers [--json]\n");
		return 2;
	}
	/* The control socket has them inside the status. */
	if ((body = ask_http(cfg, "/v1/transfers", "status")) == NULL)
		return 1;
	if (is_error(body))
		return show(body);
	j = json_loads(body, 0, NULL);
	free(body);
	if (j == NULL) {
		fprintf(stderr, "oand: the node's answer is not JSON\n");
		return 1;
	}
	/* A standalone node has none. */
	if ((t = json_object_get(j, "transfers")) == NULL || !json_is_array(t))
		json_object_set_new(j, "transfers", t = json_array());
	if (argc == 1) {
		json_t *o = json_pack("{s:O}", "transfers", t);
		char *out = o ? json_dumps(o, JSON_COMPACT) : NULL;

		printf("%s\n", out ? out : "{\"transfers\":[]}");
		free(out);
		json_decref(o);
		json_decref(j);
		return 0;
	}
	if (json_array_size(t) == 0)
		printf("no transfers\n");
	json_array_foreach(t, i, x) {
		json_int_t done = json_integer_value(json_object_get(x, "done"));
		json_int_t size = json_integer_value(json_object_get(x, "size"));

		const char *peer = json_string_value(json_object_get(x, "peer"));
		const char *state = json_string_value(json_object_get(x, "state"));

		printf("%-3s %-40s %-16s %5.1f%% %lld/%lld bytes",
		       json_string_value(json_object_get(x, "direction")) ?: "?",
		       json_string_value(json_object_get(x, "file")) ?: "?",
		       peer && *peer ? peer : "-",
		       size > 0 ? 100.0 * (double)done / (double)size : 100.0, (long long)done,
		       (long long)size);
		if (state != NULL)	/* a fetch: readers wait for it */
			printf(", %s, %lld reader(s) waiting %.0f s", state,
			       (long long)json_integer_value(json_object_get(x, "readers")),
			       json_number_value(json_object_get(x, "waited_seconds")));
		printf("\n");
	}
	json_decref(j);
	return 0;
}

/* The token remote HTTP clients send (made on first use). */
static int cmd_token(const struct cfg *cfg, int argc, char **argv)
{
	char tok[API_TOKEN_HEX + 1];
	int ro = argc == 1 && strcmp(argv[0], "--read-only") == 0, r;

	if (argc > 1 || (argc == 1 && !ro)) {
		fprintf(stderr, "oand: usage: oand token [--read-only]\n");
		return 2;
	}
	if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "oand: cannot make %s: %s\n", cfg->data_dir, strerror(errno));
		return 1;
	}
	if ((r = api_token(cfg->data_dir, ro, tok)) != 0) {
		fprintf(stderr, "oand: cannot make or read the token in %s: %s\n", cfg->data_dir,
			strerror(-r));
		return 1;
	}
	printf("%s\n", tok);
	sodium_memzero(tok, sizeof(tok));
	return 0;
}

static int cmd_nodes(const struct cfg *cfg, int argc, char **argv)
{
	char req[256];

	if (argc == 2 && (strcmp(argv[0], "remove") == 0 || strcmp(argv[0], "reconnect") == 0)) {
		if (strlen(argv[1]) > 200 || strchr(argv[1], ' ') != NULL) {
			fprintf(stderr, "oand: nodes %s: bad node '%s'\n", argv[0], argv[1]);
			return 2;
		}
		snprintf(req, sizeof(req), "nodes %s %s", argv[0], argv[1]);
		return show(ask(cfg, req, 5000));
	}
	if (argc == 0)
		return show(ask_http(cfg, "/v1/nodes?text", "nodes text"));
	if (argc == 1 && strcmp(argv[0], "--json") == 0)
		return show(ask_http(cfg, "/v1/nodes", "nodes"));
	fprintf(stderr, "oand: usage: oand nodes [--json] | oand nodes remove NODE | "
		"oand nodes reconnect NODE\n");
	return 2;
}

static int cmd_ping(const struct cfg *cfg, int argc, char **argv)
{
	unsigned long long size = 0, count = 4;
	const char *who = NULL;
	int json = 0, r;
	char req[256], *buf, *p;

	for (int i = 0; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if ((strcmp(argv[i], "--size") == 0 || strcmp(argv[i], "--count") == 0) &&
			   i + 1 < argc) {
			unsigned long long v = strtoull(argv[i + 1], &end, 10);

			if (*end != '\0' || argv[i + 1][0] == '-') {
				fprintf(stderr, "oand: ping: bad number '%s'\n", argv[i + 1]);
				return 2;
			}
			*(argv[i][2] == 's' ? &size : &count) = v;
			i++;
		} else if (who == NULL && argv[i][0] != '-' && strlen(argv[i]) <= 200) {
			who = argv[i];
		} else {
			fprintf(stderr, "oand: ping: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (who == NULL) {
		fprintf(stderr, "oand: usage: oand ping NODE [--size BYTES] [--count N] [--json]\n");
		return 2;
	}
	snprintf(req, sizeof(req), "ping %s %llu %llu", who, size, count);
	/* Each echo has its own deadline in the node; this one covers them all. */
	if ((buf = ask(cfg, req, 3600 * 1000)) == NULL)
		return 1;
	if (is_error(buf))
		return show(buf);
	r = strstr(buf, "\"failed\":0,") == NULL;	/* any echo failed */
	if (json) {
		fputs(buf, stdout);
		free(buf);
		return r;
	}
	/* The human form: the same numbers on one line. */
	for (p = buf; *p; p++)
		if (*p == '{' || *p == '}' || *p == '"')
			*p = ' ';
	printf("%s", buf);
	free(buf);
	return r;
}

/* The commands that take their own arguments. */
static const struct {
	const char *name;
	int (*fn)(const struct cfg *cfg, int argc, char **argv);
} commands[] = {
	{ "nodes", cmd_nodes }, { "ping", cmd_ping }, { "token", cmd_token },
	{ "transfers", cmd_transfers },
};

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
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
			if (strcmp(cmd, commands[i].name) != 0)
				continue;
			status = commands[i].fn(cfg, argc - optind, argv + optind);
			cfg_free(cfg);
			return status;
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
