#include "cfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <sodium.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hex.h"

/* K_PORT: 1..65535; K_PORT0: 0..65535 (0: let the system choose). */
enum key_type { K_STRING, K_PATH, K_PORT, K_PORT0, K_HEXKEY, K_LOGLEVEL, K_NAME, K_TOXID, K_NODES,
		K_BOOL, K_AUTOBOOL, K_NUM, K_ADDR, K_PIN };

struct key {
	const char *group;
	const char *name;
	enum key_type type;
	size_t offset;		/* into struct cfg */
	/* K_NUM: an int or float in [min, max] units, stored as int64 of
	   value * scale (seconds to ms, days to ms, or 1 for counts) */
	double min, max, scale;
	const char *unit;
};

#define OFF(f) offsetof(struct cfg, f), 0, 0, 0, NULL
#define NUM(f, min, max, scale, unit) offsetof(struct cfg, f), min, max, scale, unit
static const struct key keys[] = {
	{ "oand", "server-name", K_NAME, OFF(server_name) },
	{ "oand", "server-domain-name", K_NAME, OFF(server_domain_name) },
	{ "oand", "server-port", K_PORT, OFF(server_port) },
	{ "oand", "server-address", K_ADDR, OFF(server_address) },
	{ "oand", "bff-name", K_NAME, OFF(bff_name) },
	{ "oand", "bff-domain-name", K_NAME, OFF(bff_domain_name) },
	{ "oand", "bff-port", K_PORT, OFF(bff_port) },
	{ "oand", "bff-pin", K_PIN, OFF(bff_pin) },
	{ "oand", "data-dir", K_PATH, OFF(data_dir) },
	{ "oand", "tox-port", K_PORT0, OFF(tox_port) },
	{ "oand", "cluster-key", K_HEXKEY, OFF(cluster_key) },
	{ "oand", "bff-tox-id", K_TOXID, OFF(bff_tox_id) },
	{ "oand", "ipv6", K_AUTOBOOL, OFF(ipv6) },
	{ "oand", "lan-discovery", K_BOOL, OFF(lan_discovery) },
	{ "oand", "tcp-relay-port", K_PORT0, OFF(tcp_relay_port) },
	{ "oand", "bootstrap-nodes", K_NODES, OFF(bootstrap) },
	{ "oand", "heartbeat-interval", K_NUM, NUM(heartbeat_ms, 0.2, 3600, 1000, "seconds") },
	{ "oand", "forget-after", K_NUM, NUM(forget_after_ms, 0.0001, 3650, 86400000, "days") },
	{ "oand", "max-peers", K_NUM, NUM(max_peers, 2, 256, 1, "peers") },
	{ "oand", "fetch-timeout", K_NUM, NUM(fetch_timeout_ms, 1, 86400, 1000, "seconds") },
	{ "oand", "stuck-request", K_NUM, NUM(stuck_request_ms, 1, 86400, 1000, "seconds") },
	{ "oand", "lock-wait", K_NUM, NUM(lock_wait_ms, 0, 3600, 1000, "seconds") },
	{ "oand", "replicas", K_NUM, NUM(replicas, 1, 64, 1, "copies") },
	{ "oand", "publish-interval", K_NUM, NUM(publish_interval_ms, 0, 86400, 1000, "seconds") },
	{ "oand", "tls-cert", K_PATH, OFF(tls_cert) },
	{ "oand", "tls-key", K_PATH, OFF(tls_key) },
	{ "oand", "api-connections", K_NUM, NUM(api_connections, 1, 10000, 1, "connections") },
	{ "oand", "api-timeout", K_NUM, NUM(api_timeout_ms, 1, 3600, 1000, "seconds") },
	{ "oand", "api-rate-limit", K_NUM, NUM(api_rate_limit, 1, 1000000, 1, "requests per minute") },
	{ "oand", "api-max-upload", K_NUM, NUM(api_max_upload, 0, 1e15, 1, "bytes") },
	{ "oand", "log-level", K_LOGLEVEL, OFF(log_level) },
	{ "oan", "mount-point", K_PATH, OFF(mount_point) },
	{ "oan", "mount-options", K_STRING, OFF(mount_options) },
};

#define DEFAULT_SERVER_PORT 8180
#define DEFAULT_TOX_PORT 33445
#define DEFAULT_HEARTBEAT_MS 10000
#define DEFAULT_FORGET_AFTER_MS (3LL * 86400000)
#define DEFAULT_MAX_PEERS 32
#define DEFAULT_FETCH_TIMEOUT_MS 60000
#define DEFAULT_STUCK_REQUEST_MS 30000
#define DEFAULT_REPLICAS 2
#define DEFAULT_LOCK_WAIT_MS 15000
#define DEFAULT_PUBLISH_INTERVAL_MS 30000
#define DEFAULT_API_CONNECTIONS 64
#define DEFAULT_API_TIMEOUT_MS 30000
#define DEFAULT_API_RATE_LIMIT 600
#define DEFAULT_API_MAX_UPLOAD (64LL << 30)

void cfg_free(struct cfg *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->server_name);
	free(cfg->server_domain_name);
	free(cfg->server_address);
	free(cfg->bff_name);
	free(cfg->bff_domain_name);
	free(cfg->bff_pin);
	free(cfg->data_dir);
	free(cfg->mount_point);
	free(cfg->mount_options);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->source);
	/* The cluster key is a secret. */
	explicit_bzero(cfg->cluster_key, sizeof(cfg->cluster_key));
	free(cfg);
}

char *cfg_default_data_dir(void)
{
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	char buf[PATH_MAX];

	if (geteuid() == 0)
		return strdup("/var/lib/oand");
	if (xdg != NULL && xdg[0] == '/')
		snprintf(buf, sizeof(buf), "%s/oand", xdg);
	else if (home != NULL && home[0] == '/')
		snprintf(buf, sizeof(buf), "%s/.local/share/oand", home);
	else
		return strdup("/var/lib/oand");
	return strdup(buf);
}

char *cfg_default_mount_point(void)
{
	const char *home = getenv("HOME");
	char buf[PATH_MAX];

	if (geteuid() == 0 || home == NULL || home[0] != '/')
		return strdup("/mnt/oand");
	snprintf(buf, sizeof(buf), "%s/oand", home);
	return strdup(buf);
}

static struct cfg *cfg_unset(void)
{
	struct cfg *cfg = calloc(1, sizeof(*cfg));

	if (cfg == NULL)
		return NULL;
	cfg->server_port = -1;
	cfg->bff_port = -1;
	cfg->tox_port = -1;
	cfg->log_level = (enum log_level)-1;
	cfg->ipv6 = -1;
	cfg->heartbeat_ms = cfg->forget_after_ms = cfg->max_peers = cfg->fetch_timeout_ms = cfg->replicas = -1;
	cfg->lock_wait_ms = -1;
	cfg->publish_interval_ms = -1;
	cfg->api_connections = cfg->api_timeout_ms = cfg->api_rate_limit = cfg->api_max_upload = -1;
	cfg->stuck_request_ms = -1;
	return cfg;
}

/* Fill in everything left unset.  Returns 0 or -ENOMEM. */
static int cfg_fill_defaults(struct cfg *cfg)
{
	char host[256];

	if (cfg->server_name == NULL) {
		if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
			snprintf(host, sizeof(host), "oand");
		host[sizeof(host) - 1] = '\0';
		if ((cfg->server_name = strdup(host)) == NULL)
			return -ENOMEM;
	}
	if (cfg->server_domain_name == NULL &&
	    (cfg->server_domain_name = strdup("localhost")) == NULL)
		return -ENOMEM;
	if (cfg->server_port < 0)
		cfg->server_port = DEFAULT_SERVER_PORT;
	if (cfg->bff_port < 0)
		cfg->bff_port = DEFAULT_SERVER_PORT;
	if (cfg->tox_port < 0)
		cfg->tox_port = DEFAULT_TOX_PORT;
	if ((int)cfg->log_level < 0)
		cfg->log_level = LOG_LVL_INFO;
	if (cfg->heartbeat_ms < 0)
		cfg->heartbeat_ms = DEFAULT_HEARTBEAT_MS;
	if (cfg->forget_after_ms < 0)
		cfg->forget_after_ms = DEFAULT_FORGET_AFTER_MS;
	if (cfg->max_peers < 0)
		cfg->max_peers = DEFAULT_MAX_PEERS;
	if (cfg->fetch_timeout_ms < 0)
		cfg->fetch_timeout_ms = DEFAULT_FETCH_TIMEOUT_MS;
	if (cfg->stuck_request_ms < 0)
		cfg->stuck_request_ms = DEFAULT_STUCK_REQUEST_MS;
	if (cfg->replicas < 0)
		cfg->replicas = DEFAULT_REPLICAS;
	if (cfg->lock_wait_ms < 0)
		cfg->lock_wait_ms = DEFAULT_LOCK_WAIT_MS;
	if (cfg->publish_interval_ms < 0)
		cfg->publish_interval_ms = DEFAULT_PUBLISH_INTERVAL_MS;
	if (cfg->api_connections < 0)
		cfg->api_connections = DEFAULT_API_CONNECTIONS;
	if (cfg->api_timeout_ms < 0)
		cfg->api_timeout_ms = DEFAULT_API_TIMEOUT_MS;
	if (cfg->api_rate_limit < 0)
		cfg->api_rate_limit = DEFAULT_API_RATE_LIMIT;
	if (cfg->api_max_upload < 0)
		cfg->api_max_upload = DEFAULT_API_MAX_UPLOAD;
	if (cfg->data_dir == NULL && (cfg->data_dir = cfg_default_data_dir()) == NULL)
		return -ENOMEM;
	return 0;
}

int cfg_defaults(struct cfg **out)
{
	struct cfg *cfg = cfg_unset();

	*out = NULL;
	if (cfg == NULL)
		return -ENOMEM;
	if (cfg_fill_defaults(cfg) != 0 ||
	    (cfg->mount_point = cfg_default_mount_point()) == NULL) {
		cfg_free(cfg);
		return -ENOMEM;
	}
	*out = cfg;
	return 0;
}

/* toxcore's checksum: the XOR of the key and nospam, two bytes at a time. */
static int tox_id_checksum_ok(const uint8_t id[CFG_TOX_ID_BYTES])
{
	uint8_t sum[2] = { 0, 0 };

	for (int i = 0; i < CFG_TOX_ID_BYTES - 2; i++)
		sum[i % 2] ^= id[i];
	return sum[0] == id[CFG_TOX_ID_BYTES - 2] && sum[1] == id[CFG_TOX_ID_BYTES - 1];
}

/* "host:port:key": host without ':' (an IPv6 address goes in brackets). */
static int parse_dht_node(const char *s, struct cfg_dht_node *d)
{
	const char *k = strrchr(s, ':'), *p;
	size_t hl;
	char *end;
	long port;

	if (k == NULL || k == s)
		return -EINVAL;
	for (p = k - 1; p > s && *p != ':'; p--)
		;
	if (*p != ':' || p == s)
		return -EINVAL;
	hl = (size_t)(p - s);
	if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(d->host))
		return -EINVAL;
	memcpy(d->host, s, hl);
	d->host[hl] = '\0';
	port = strtol(p + 1, &end, 10);
	if (end != k || port < 1 || port > 65535)
		return -EINVAL;
	d->port = (int)port;
	if (hex_decode(k + 1, d->key, CFG_KEY_BYTES) != 0)
		return -EINVAL;
	return 0;
}

/* libcurl's public key pins: "sha256//" and the base64 of 32 bytes, one
   or more joined by ';'.  0 or -EINVAL. */
#define PIN_PREFIX "sha256//"
static int pins_ok(const char *s)
{
	for (;;) {
		const char *end = strchr(s, ';');
		size_t len = end != NULL ? (size_t)(end - s) : strlen(s), bin_len = 0;
		uint8_t bin[32];
		const char *b64_end = NULL;

		if (len <= strlen(PIN_PREFIX) || strncmp(s, PIN_PREFIX, strlen(PIN_PREFIX)) != 0)
			return -EINVAL;
		s += strlen(PIN_PREFIX);
		len -= strlen(PIN_PREFIX);
		if (sodium_base642bin(bin, sizeof(bin), s, len, NULL, &bin_len, &b64_end,
				      sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    bin_len != sizeof(bin) || b64_end != s + len)
			return -EINVAL;
		if (end == NULL)
			return 0;
		s = end + 1;
	}
}

static const char *type_name(enum key_type t)
{
	switch (t) {
	case K_PORT:
	case K_PORT0: return "an integer";
	case K_NAME: return "a non-empty string of at most 255 bytes without control characters";
	case K_HEXKEY: return "a string of 64 hex digits";
	case K_TOXID: return "a Tox ID: a string of 76 hex digits with a valid checksum";
	case K_BOOL: return "true or false";
	case K_AUTOBOOL: return "true, false or \"auto\"";
	case K_NODES: return "a list of \"host:port:DHT key (64 hex digits)\" strings (at most 16)";
	case K_LOGLEVEL: return "one of \"error\", \"warning\", \"notice\", \"info\", \"debug\"";
	case K_PATH: return "an absolute path (string)";
	case K_ADDR: return "an IPv4 or IPv6 address (string), such as \"127.0.0.1\" or \"::1\"";
	case K_NUM: return "a number";
	case K_PIN: return "\"sha256//\" and the base64 of a SHA-256 (44 characters), several joined by ';'";
	default: return "a string";
	}
}

/* Check one setting and store it.  Returns 0 or -EINVAL with err set. */
static int cfg_set_key(struct cfg *cfg, const struct key *k, config_setting_t *s,
		       const char *where, char *err, size_t errlen)
{
	char *base = (char *)cfg;
	int line = config_setting_source_line(s);
	int type = config_setting_type(s);
	const char *str;

	if (k->type == K_PORT || k->type == K_PORT0) {
		long long v, min = k->type == K_PORT ? 1 : 0;

		if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
			goto wrong_type;
		v = config_setting_get_int64(s);
		if (v < min || v > 65535) {
			snprintf(err, errlen, "%s:%d: %s.%s: value %lld out of range (%lld..65535)",
				 where, line, k->group, k->name, v, min);
			return -EINVAL;
		}
		*(int *)(base + k->offset) = (int)v;
		return 0;
	}
	if (k->type == K_NUM) {
		double v;

		if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
			v = (double)config_setting_get_int64(s);
		else if (type == CONFIG_TYPE_FLOAT && k->scale > 1)
			v = config_setting_get_float(s);
		else
			goto wrong_type;
		if (!(v >= k->min && v <= k->max)) {
			snprintf(err, errlen, "%s:%d: %s.%s: value %g out of range (%g..%g %s)",
				 where, line, k->group, k->name, v, k->min, k->max, k->unit);
			return -EINVAL;
		}
		*(int64_t *)(base + k->offset) = (int64_t)(v * k->scale + 0.5);
		return 0;
	}
	if (k->type == K_BOOL || k->type == K_AUTOBOOL) {
		if (type == CONFIG_TYPE_BOOL) {
			*(int *)(base + k->offset) = config_setting_get_bool(s);
			return 0;
		}
		if (k->type == K_AUTOBOOL && type == CONFIG_TYPE_STRING &&
		    strcmp(config_setting_get_string(s), "auto") == 0) {
			*(int *)(base + k->offset) = -1;
			return 0;
		}
		if (k->type == K_AUTOBOOL && type == CONFIG_TYPE_STRING)
			goto bad_value;
		goto wrong_type;
	}
	if (k->type == K_NODES) {
		if (type != CONFIG_TYPE_LIST && type != CONFIG_TYPE_ARRAY)
			goto wrong_type;
		if (config_setting_length(s) > CFG_BOOTSTRAP_MAX)
			goto bad_value;
		for (int i = 0; i < config_setting_length(s); i++) {
			config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			struct cfg_dht_node *d = &cfg->bootstrap[i];

			if (config_setting_type(e) != CONFIG_TYPE_STRING ||
			    parse_dht_node(config_setting_get_string(e), d) != 0)
				goto bad_value;
		}
		cfg->nbootstrap = config_setting_length(s);
		return 0;
	}
	if (type != CONFIG_TYPE_STRING)
		goto wrong_type;
	str = config_setting_get_string(s);
	switch (k->type) {
	case K_TOXID:
		if (hex_decode(str, cfg->bff_tox_id, CFG_TOX_ID_BYTES) != 0 ||
		    !tox_id_checksum_ok(cfg->bff_tox_id))
			goto bad_value;
		cfg->has_bff_tox_id = 1;
		return 0;
	case K_HEXKEY: {
		uint8_t *key = (uint8_t *)(base + k->offset);

		if (hex_decode(str, key, CFG_KEY_BYTES) != 0)
			goto bad_value;
		cfg->has_cluster_key = 1;
		return 0;
	}
	case K_LOGLEVEL:
		if (log_level_parse(str, (enum log_level *)(base + k->offset)) != 0)
			goto bad_value;
		return 0;
	case K_PATH:
		if (str[0] != '/' || strlen(str) >= PATH_MAX)
			goto bad_value;
		break;
	case K_ADDR: {
		struct in6_addr a;

		if (inet_pton(AF_INET, str, &a) != 1 && inet_pton(AF_INET6, str, &a) != 1)
			goto bad_value;
		break;
	}
	case K_PIN:
		if (pins_ok(str) != 0)
			goto bad_value;
		break;
	case K_NAME:
		if (str[0] == '\0' || strlen(str) > 255)
			goto bad_value;
		for (const char *p = str; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				goto bad_value;
		break;
	default:
		break;
	}
	{
		char **slot = (char **)(base + k->offset);

		free(*slot);
		if ((*slot = strdup(str)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	return 0;

wrong_type:
	snprintf(err, errlen, "%s:%d: %s.%s: wrong type, expected %s",
		 where, line, k->group, k->name, type_name(k->type));
	return -EINVAL;
bad_value:
	snprintf(err, errlen, "%s:%d: %s.%s: invalid value, expected %s",
		 where, line, k->group, k->name, type_name(k->type));
	return -EINVAL;
}

static const struct key *key_find(const char *group, const char *name)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].group, group) == 0 && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int cfg_from_config(config_t *lc, const char *where, struct cfg **out,
			   char *err, size_t errlen)
{
	config_setting_t *root = config_root_setting(lc);
	struct cfg *cfg = cfg_unset();
	int r = -EINVAL;

	if (cfg == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int g = 0; g < config_setting_length(root); g++) {
		config_setting_t *grp = config_setting_get_elem(root, g);
		const char *gname = config_setting_name(grp);

		if (strcmp(gname, "oand") != 0 && strcmp(gname, "oan") != 0) {
			snprintf(err, errlen, "%s:%d: unknown key '%s' (expected the groups 'oand' and 'oan')",
				 where, config_setting_source_line(grp), gname);
			goto out;
		}
		if (config_setting_type(grp) != CONFIG_TYPE_GROUP) {
			snprintf(err, errlen, "%s:%d: %s: wrong type, expected a group { ... }",
				 where, config_setting_source_line(grp), gname);
			goto out;
		}
		for (int i = 0; i < config_setting_length(grp); i++) {
			config_setting_t *s = config_setting_get_elem(grp, i);
			const struct key *k = key_find(gname, config_setting_name(s));

			if (k == NULL) {
				snprintf(err, errlen, "%s:%d: unknown key '%s.%s'", where,
					 config_setting_source_line(s), gname,
					 config_setting_name(s));
				goto out;
			}
			if ((r = cfg_set_key(cfg, k, s, where, err, errlen)) != 0)
				goto out;
			/* the checks above go to out without setting r */
			r = -EINVAL;
		}
	}
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
		snprintf(err, errlen, "%s: '%s' is set without '%s': HTTPS needs both", where,
			 cfg->tls_cert ? "oand.tls-cert" : "oand.tls-key",
			 cfg->tls_cert ? "oand.tls-key" : "oand.tls-cert");
		goto out;
	}
	if (cfg->bff_pin != NULL && cfg->bff_domain_name == NULL) {
		snprintf(err, errlen, "%s: 'oand.bff-pin' is set without 'oand.bff-domain-name': "
			 "it pins the BFF's HTTPS key", where);
		goto out;
	}
	if (cfg_fill_defaults(cfg) != 0) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	if (strcmp(where, "(string)") != 0 && (cfg->source = strdup(where)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	*out = cfg;
	cfg = NULL;
	r = 0;
out:
	cfg_free(cfg);
	return r;
}

static void syntax_error(config_t *lc, const char *where, char *err, size_t errlen)
{
	const char *file = config_error_file(lc);

	const char *text = config_error_text(lc);

	/* libconfig's text is often just "syntax error": say it once. */
	if (text == NULL || strstr(text, "syntax error") != NULL)
		snprintf(err, errlen, "%s:%d: syntax error", file ? file : where,
			 config_error_line(lc));
	else
		snprintf(err, errlen, "%s:%d: syntax error: %s", file ? file : where,
			 config_error_line(lc), text);
}

int cfg_parse_string(const char *text, struct cfg **out, char *err, size_t errlen)
{
	config_t lc;
	int r;

	*out = NULL;
	config_init(&lc);
	if (config_read_string(&lc, text) != CONFIG_TRUE) {
		syntax_error(&lc, "(string)", err, errlen);
		config_destroy(&lc);
		return -EINVAL;
	}
	r = cfg_from_config(&lc, "(string)", out, err, errlen);
	config_destroy(&lc);
	return r;
}

int cfg_load(const char *file, struct cfg **out, char *err, size_t errlen)
{
	config_t lc;
	int r;

	*out = NULL;
	if (file == NULL) {
		if (access(CFG_DEFAULT_FILE, F_OK) != 0)
			return cfg_defaults(out);
		file = CFG_DEFAULT_FILE;
	}
	if (access(file, R_OK) != 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return r;
	}
	config_init(&lc);
	if (config_read_file(&lc, file) != CONFIG_TRUE) {
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
			snprintf(err, errlen, "%s: cannot read file", file);
		else
			syntax_error(&lc, file, err, errlen);
		config_destroy(&lc);
		return -EINVAL;
	}
	r = cfg_from_config(&lc, file, out, err, errlen);
	config_destroy(&lc);
	return r;
}
