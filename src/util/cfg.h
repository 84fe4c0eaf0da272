/*
 * cfg: the configuration file (libconfig) turned into a struct cfg.
 * Every key is parsed as "unset" first; defaults are filled in after, so
 * an error always names the key the user wrote.  Errors are printed to
 * stderr by the caller from cfg_error(); nothing is created or written
 * while parsing.  Plain data, no threads.
 */
#ifndef OAND_CFG_H
#define OAND_CFG_H

#include <stddef.h>
#include <stdint.h>
#include "log.h"
#include "sizes.h"

#define CFG_DEFAULT_FILE "/etc/oand.conf"
#define CFG_KEY_BYTES OAND_KEY_BYTES
#define CFG_TOX_ID_BYTES OAND_ADDR_BYTES
#define CFG_BOOTSTRAP_MAX 16

struct cfg {
	/* group "oand" */
	char *server_name;		/* this node's name; default: host name */
	char *server_domain_name;	/* address others reach us at */
	int server_port;		/* HTTP/bootstrap port */
	char *server_address;		/* the API's address; NULL: every one */
	char *bff_name;			/* optional */
	char *bff_domain_name;		/* optional */
	int bff_port;
	char *data_dir;
	int tox_port;
	int has_cluster_key;
	uint8_t cluster_key[CFG_KEY_BYTES];
	enum log_level log_level;
	int ipv6;			/* 1 on, 0 off, -1 auto (what the host has) */
	int lan_discovery;		/* 1 on, 0 off */
	int tcp_relay_port;		/* 0: no TCP relay */
	char *bff_pin;			/* "sha256//BASE64[;...]": the BFF's TLS key, or NULL */
	int has_bff_tox_id;		/* pin the BFF's identity */
	uint8_t bff_tox_id[CFG_TOX_ID_BYTES];
	struct cfg_dht_node {		/* DHT nodes to bootstrap from */
		char host[256];
		int port;
		uint8_t key[CFG_KEY_BYTES];
	} bootstrap[CFG_BOOTSTRAP_MAX];
	int nbootstrap;
	int64_t heartbeat_ms;		/* heartbeat-interval */
	int64_t forget_after_ms;	/* forget-after (days in the file) */
	int64_t max_peers;		/* direct connections to members */
	int64_t fetch_timeout_ms;	/* fetch-timeout: a read waits this long for a holder */
	int64_t stuck_request_ms;	/* stuck-request: a FUSE request this old is stuck */
	int64_t lock_wait_ms;		/* lock-wait: a start waits this long for a node
					   still stopping on the data dir */
	int64_t replicas;		/* copies of each content kept on members */
	int64_t publish_interval_ms;	/* publish-interval: a file open for writing is
					   published this often (0: at close only) */
	char *tls_cert, *tls_key;	/* PEM files: HTTPS on server-port, or NULL */
	int64_t api_connections;	/* HTTP clients served at once */
	int64_t api_timeout_ms;		/* an idle HTTP connection is closed */
	int64_t api_rate_limit;		/* requests per minute per remote address */
	int64_t api_max_upload;		/* bytes in one PUT */
	/* group "oan" (the FUSE side) */
	char *mount_point;		/* NULL: do not mount */
	char *mount_options;		/* extra -o options for FUSE, or NULL */

	char *source;			/* file it came from, or NULL (built-in) */
};

/*
 * Load FILE.  If FILE is NULL, CFG_DEFAULT_FILE is used when it exists and
 * the built-in defaults (cfg_defaults) otherwise.  Returns 0, or -EINVAL
 * with a message in err (file, line and key named) for a bad file, or
 * -ENOENT when an explicitly named FILE does not exist.
 */
int cfg_load(const char *file, struct cfg **out, char *err, size_t errlen);
/* Parse a configuration held in memory (for tests). */
int cfg_parse_string(const char *text, struct cfg **out, char *err, size_t errlen);
/* The built-in configuration: a working single node. */
int cfg_defaults(struct cfg **out);
void cfg_free(struct cfg *cfg);

/* Default data dir for this user: /var/lib/oand for root, else XDG. */
char *cfg_default_data_dir(void);
/* Default mount point of the built-in configuration. */
char *cfg_default_mount_point(void);

#endif
