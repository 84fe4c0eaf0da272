/*
 * Unit tests for src/util/cfg: every key with its type, the defaults, and the
 * promise that a refused file is -EINVAL with a message naming the file,
 * the line and the key the user wrote.
 */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"

#define KEY_HEX "00112233445566778899aabbccddeeff0123456789abcdefFEDCBA9876543210"

static const char full_config[] =
	"# every key\n"
	"oand: {\n"
	"  server-name = \"alpha\";\n"
	"  server-domain-name = \"alpha.example.org\";\n"
	"  server-port = 8443;\n"
	"  bff-name = \"beta\";\n"
	"  bff-domain-name = \"beta.example.org\";\n"
	"  bff-port = 9000;\n"
	"  data-dir = \"/srv/oand data\";\n"
	"  tox-port = 33446;\n"
	"  cluster-key = \"" KEY_HEX "\";\n"
	"  log-level = \"debug\";\n"
	"};\n"
	"oan: {\n"
	"  mount-point = \"/mnt/shared\";\n"
	"  mount-options = \"allow_other,default_permissions\";\n"
	"};\n";

/* Temporary files live in base, made and removed by the parent process
 * around the test case, so even a failed test leaves nothing behind. */
#define CHECK_TMP_NAME "check_cfg"
#include "check_tmp.h"
#include "check_run.h"

/* A temporary file holding text; its name in path (remove with unlink). */
static void write_temp(char *path, size_t len, const char *text)
{
	FILE *f;
	int fd;

	snprintf(path, len, "%s/conf.XXXXXX", base);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

static void check_full(const struct cfg *c)
{
	static const uint8_t key[CFG_KEY_BYTES] = {
		0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
		0xee, 0xff, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98,
		0x76, 0x54, 0x32, 0x10,
	};

	ck_assert_str_eq(c->server_name, "alpha");
	ck_assert_str_eq(c->server_domain_name, "alpha.example.org");
	ck_assert_int_eq(c->server_port, 8443);
	ck_assert_str_eq(c->bff_name, "beta");
	ck_assert_str_eq(c->bff_domain_name, "beta.example.org");
	ck_assert_int_eq(c->bff_port, 9000);
	ck_assert_str_eq(c->data_dir, "/srv/oand data");
	ck_assert_int_eq(c->tox_port, 33446);
	ck_assert_int_eq(c->has_cluster_key, 1);
	ck_assert_mem_eq(c->cluster_key, key, CFG_KEY_BYTES);
	ck_assert_int_eq(c->log_level, LOG_LVL_DEBUG);
	ck_assert_str_eq(c->mount_point, "/mnt/shared");
	ck_assert_str_eq(c->mount_options, "allow_other,default_permissions");
}

START_TEST(test_every_key_string)
{
	struct cfg *c = NULL;
	char err[512] = "";

	ck_assert_int_eq(cfg_parse_string(full_config, &c, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(c);
	check_full(c);
	ck_assert_ptr_null(c->source);
	cfg_free(c);
}
END_TEST

START_TEST(test_every_key_file)
{
	struct cfg *c = NULL;
	char err[512] = "", path[128];

	write_temp(path, sizeof(path), full_config);
	ck_assert_int_eq(cfg_load(path, &c, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(c);
	check_full(c);
	ck_assert_str_eq(c->source, path);
	cfg_free(c);
	unlink(path);
}
END_TEST

static void check_defaults(const struct cfg *c)
{
	char host[256];
	char *dd = cfg_default_data_dir();

	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	ck_assert_str_eq(c->server_name, host[0] ? host : "oand");
	ck_assert_str_eq(c->server_domain_name, "localhost");
	ck_assert_int_eq(c->server_port, 8180);
	ck_assert_int_eq(c->bff_port, 8180);
	ck_assert_int_eq(c->tox_port, 33445);
	ck_assert_int_eq(c->log_level, LOG_LVL_INFO);
	ck_assert_ptr_nonnull(dd);
	ck_assert_str_eq(c->data_dir, dd);
	ck_assert_ptr_null(c->bff_name);
	ck_assert_ptr_null(c->bff_domain_name);
	ck_assert_int_eq(c->has_cluster_key, 0);
	ck_assert_ptr_null(c->mount_options);
	free(dd);
}

START_TEST(test_defaults_filled)
{
	static const char *const texts[] = { "", "oand: { };", "oan: { };", "oand: { }; oan: { };",
					     "# nothing but a comment\n" };

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct cfg *c = NULL;
		char err[512] = "";

		ck_assert_msg(cfg_parse_string(texts[i], &c, err, sizeof(err)) == 0, "%s: %s",
			      texts[i], err);
		check_defaults(c);
		/* a file without a mount point does not mount */
		ck_assert_ptr_null(c->mount_point);
		cfg_free(c);
	}
}
END_TEST

/* Setting some keys leaves the defaults of the others. */
START_TEST(test_defaults_partial)
{
	struct cfg *c = NULL;
	char err[512] = "";

	ck_assert_int_eq(cfg_parse_string("oand: { tox-port = 1; log-level = \"error\"; };", &c,
					  err, sizeof(err)), 0);
	ck_assert_int_eq(c->tox_port, 1);
	ck_assert_int_eq(c->log_level, LOG_LVL_ERROR);
	ck_assert_int_eq(c->server_port, 8180);
	ck_assert_int_eq(c->bff_port, 8180);
	ck_assert_str_eq(c->server_domain_name, "localhost");
	cfg_free(c);
}
END_TEST

START_TEST(test_builtin_defaults)
{
	struct cfg *c = NULL;
	char *mp = cfg_default_mount_point();

	ck_assert_int_eq(cfg_defaults(&c), 0);
	check_defaults(c);
	ck_assert_ptr_nonnull(mp);
	ck_assert_str_eq(c->mount_point, mp);
	ck_assert_ptr_null(c->source);
	cfg_free(c);
	cfg_free(NULL);
	free(mp);
}
END_TEST

START_TEST(test_default_dirs_by_user)
{
	char *dd = cfg_default_data_dir(), *mp = cfg_default_mount_point();

	if (geteuid() == 0) {
		ck_assert_str_eq(dd, "/var/lib/oand");
		ck_assert_str_eq(mp, "/mnt/oand");
	} else {
		ck_assert_int_eq(dd[0], '/');
		ck_assert_ptr_nonnull(strstr(dd, "oand"));
		ck_assert_int_eq(mp[0], '/');
	}
	free(dd);
	free(mp);
}
END_TEST

/* Integer ports may be written as 64-bit literals; the extremes are kept. */
START_TEST(test_port_forms)
{
	struct cfg *c = NULL;
	char err[512] = "";

	ck_assert_int_eq(cfg_parse_string("oand: { server-port = 65535; bff-port = 1L;"
					  " tox-port = 0; };", &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->server_port, 65535);
	ck_assert_int_eq(c->bff_port, 1);
	ck_assert_int_eq(c->tox_port, 0);
	cfg_free(c);
	ck_assert_int_eq(cfg_parse_string("oand: { server-port = 0x1F90; };", &c, err,
					  sizeof(err)), 0);
	ck_assert_int_eq(c->server_port, 8080);
	cfg_free(c);
}
END_TEST

START_TEST(test_log_levels_and_key_case)
{
	static const char *const lv[] = { "error", "warning", "notice", "info", "debug" };
	char text[256], err[512];
	struct cfg *c;

	for (int i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "oand: { log-level = \"%s\"; };", lv[i]);
		ck_assert_int_eq(cfg_parse_string(text, &c, err, sizeof(err)), 0);
		ck_assert_int_eq(c->log_level, i);
		cfg_free(c);
	}
	/* upper-case hex digits are as good as lower-case */
	ck_assert_int_eq(cfg_parse_string("oand: { cluster-key = \"ABCDEF0123456789ABCDEF0123456789"
					  "ABCDEF0123456789ABCDEF0123456789\"; };",
					  &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->has_cluster_key, 1);
	ck_assert_int_eq(c->cluster_key[0], 0xab);
	ck_assert_int_eq(c->cluster_key[31], 0x89);
	cfg_free(c);
}
END_TEST

struct bad_case {
	const char *text;
	const char *key;	/* must appear in the message */
	const char *also;	/* and this, if not NULL */
};

/* Every one is refused with -EINVAL, a message naming the key, no cfg. */
static const struct bad_case bad_cases[] = {
	/* unknown keys */
	{ "oand: { colour = \"blue\"; };", "oand.colour", "unknown" },
	{ "oand: { server_port = 80; };", "oand.server_port", "unknown" },
	{ "oan: { server-port = 80; };", "oan.server-port", "unknown" },
	{ "oan: { mount-point = \"/m\"; mountpoint = \"/m\"; };", "oan.mountpoint", "unknown" },
	{ "oand: { sub: { x = 1; }; };", "oand.sub", "unknown" },
	/* ... also after a key that was accepted */
	{ "oand: { tox-port = 1; bogus = 2; };", "oand.bogus", "unknown" },
	{ "oand: { tox-port = 1; }; extra: { };", "extra", "unknown" },
	{ "oand: { tox-port = 1; }; oan = 5;", "oan", "group" },
	/* a string where an integer is expected */
	{ "oand: { server-port = \"8080\"; };", "oand.server-port", "wrong type" },
	{ "oand: { bff-port = \"1\"; };", "oand.bff-port", "wrong type" },
	{ "oand: { tox-port = \"33445\"; };", "oand.tox-port", "wrong type" },
	{ "oand: { server-port = 80.0; };", "oand.server-port", "wrong type" },
	{ "oand: { server-port = true; };", "oand.server-port", "wrong type" },
	/* an integer (or other non-string) where a string is expected */
	{ "oand: { server-name = 5; };", "oand.server-name", "wrong type" },
	{ "oand: { server-domain-name = 5; };", "oand.server-domain-name", "wrong type" },
	{ "oand: { bff-name = 1; };", "oand.bff-name", "wrong type" },
	{ "oand: { bff-domain-name = false; };", "oand.bff-domain-name", "wrong type" },
	{ "oand: { data-dir = 7; };", "oand.data-dir", "wrong type" },
	{ "oand: { cluster-key = 1234; };", "oand.cluster-key", "wrong type" },
	{ "oand: { log-level = 3; };", "oand.log-level", "wrong type" },
	{ "oan: { mount-point = 1; };", "oan.mount-point", "wrong type" },
	{ "oan: { mount-options = [\"ro\"]; };", "oan.mount-options", "wrong type" },
	/* out of range ports */
	{ "oand: { server-port = 70000; };", "oand.server-port", "70000" },
	{ "oand: { server-port = -1; };", "oand.server-port", "out of range" },
	{ "oand: { server-port = 0; };", "oand.server-port", "out of range" },
	{ "oand: { bff-port = 65536; };", "oand.bff-port", "65536" },
	{ "oand: { bff-port = 0; };", "oand.bff-port", "out of range" },
	{ "oand: { tox-port = 100000; };", "oand.tox-port", "out of range" },
	{ "oand: { tox-port = 99999999999L; };", "oand.tox-port", "99999999999" },
	/* cluster keys */
	{ "oand: { cluster-key = \"\"; };", "oand.cluster-key", "64 hex" },
	{ "oand: { cluster-key = \"00112233445566778899aabbccddeeff0123456789abcdeffedcba987654321\"; };",
	  "oand.cluster-key", "64 hex" },
	{ "oand: { cluster-key = \"00112233445566778899aabbccddeeff0123456789abcdeffedcba98765432100\"; };",
	  "oand.cluster-key", "64 hex" },
	{ "oand: { cluster-key = \"g0112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210\"; };",
	  "oand.cluster-key", "64 hex" },
	{ "oand: { cluster-key = \"00112233445566778899aabbccddeeff0123456789abcdeffedcba987654321z\"; };",
	  "oand.cluster-key", "64 hex" },
	{ "oand: { cluster-key = \"00112233445566778899aabbccddeeff 123456789abcdeffedcba9876543210\"; };",
	  "oand.cluster-key", "64 hex" },
	/* Tox IDs and DHT nodes */
	{ "oand: { bff-tox-id = \"00\"; };", "oand.bff-tox-id", "76 hex" },
	{ "oand: { bff-tox-id = 5; };", "oand.bff-tox-id", "wrong type" },
	/* a well-formed ID whose checksum is off by one bit */
	{ "oand: { bff-tox-id = \"48B3EE1A055C4BF78B425C4D48279C9484983185B72B450D3D3F9F5BAEBFD64154CD2F9D0D4E\"; };",
	  "oand.bff-tox-id", "checksum" },
	{ "oand: { bootstrap-nodes = \"127.0.0.1:33445:00\"; };", "oand.bootstrap-nodes", "wrong type" },
	{ "oand: { bootstrap-nodes = [ \"127.0.0.1:33445\" ]; };", "oand.bootstrap-nodes", "host:port" },
	{ "oand: { bootstrap-nodes = [ \"127.0.0.1:0:0011223344556677889900112233445566778899001122334455667788990011\" ]; };",
	  "oand.bootstrap-nodes", "host:port" },
	{ "oand: { bootstrap-nodes = [ \":33445:0011223344556677889900112233445566778899001122334455667788990011\" ]; };",
	  "oand.bootstrap-nodes", "host:port" },
	{ "oand: { bootstrap-nodes = [ 5 ]; };", "oand.bootstrap-nodes", "host:port" },
	/* switches */
	{ "oand: { ipv6 = \"yes\"; };", "oand.ipv6", "auto" },
	{ "oand: { ipv6 = 1; };", "oand.ipv6", "wrong type" },
	{ "oand: { lan-discovery = \"auto\"; };", "oand.lan-discovery", "wrong type" },
	{ "oand: { tcp-relay-port = 70000; };", "oand.tcp-relay-port", "out of range" },
	/* log levels */
	{ "oand: { log-level = \"verbose\"; };", "oand.log-level", "invalid value" },
	{ "oand: { log-level = \"\"; };", "oand.log-level", "invalid value" },
	{ "oand: { log-level = \"warn\"; };", "oand.log-level", "invalid value" },
	/* paths must be absolute */
	{ "oand: { data-dir = \"var/lib/oand\"; };", "oand.data-dir", "absolute" },
	{ "oand: { data-dir = \"./data\"; };", "oand.data-dir", "absolute" },
	{ "oand: { data-dir = \"\"; };", "oand.data-dir", "absolute" },
	{ "oan: { mount-point = \"mnt/oand\"; };", "oan.mount-point", "absolute" },
	/* names */
	{ "oand: { server-name = \"\"; };", "oand.server-name", "invalid value" },
	{ "oand: { server-name = \"a\\nb\"; };", "oand.server-name", "invalid value" },
	{ "oand: { bff-domain-name = \"\"; };", "oand.bff-domain-name", "invalid value" },
	/* HTTP API */
	{ "oand: { tls-cert = \"/etc/c.pem\"; };", "oand.tls-cert", "oand.tls-key" },
	{ "oand: { tls-key = \"/etc/k.pem\"; };", "oand.tls-key", "oand.tls-cert" },
	{ "oand: { tls-cert = \"c.pem\"; tls-key = \"/k.pem\"; };", "oand.tls-cert", "absolute" },
	/* bff-pin: curl's sha256// pins of 32 bytes, for a BFF only */
	{ "oand: { bff-domain-name = \"a\"; bff-pin = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"; };",
	  "oand.bff-pin", "sha256//" },
	{ "oand: { bff-domain-name = \"a\"; bff-pin = \"sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw=\"; };",
	  "oand.bff-pin", "invalid value" },
	{ "oand: { bff-domain-name = \"a\"; bff-pin = \"sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=x\"; };",
	  "oand.bff-pin", "invalid value" },
	{ "oand: { bff-domain-name = \"a\"; bff-pin = \"sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=;\"; };",
	  "oand.bff-pin", "invalid value" },
	{ "oand: { bff-domain-name = \"a\"; bff-pin = \"sha256//\"; };", "oand.bff-pin", "invalid value" },
	{ "oand: { bff-domain-name = \"a\"; bff-pin = 5; };", "oand.bff-pin", "wrong type" },
	{ "oand: { bff-pin = \"sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"; };", "oand.bff-pin", "oand.bff-domain-name" },
	{ "oand: { api-connections = 0; };", "oand.api-connections", NULL },
	{ "oand: { api-timeout = 0; };", "oand.api-timeout", NULL },
	{ "oand: { stuck-request = 0; };", "oand.stuck-request", NULL },
	{ "oand: { stuck-request = 86401; };", "oand.stuck-request", NULL },
	{ "oand: { publish-interval = -1; };", "oand.publish-interval", NULL },
	{ "oand: { publish-interval = 86401; };", "oand.publish-interval", NULL },
	{ "oand: { publish-interval = \"30s\"; };", "oand.publish-interval", NULL },
	{ "oand: { api-rate-limit = 0; };", "oand.api-rate-limit", NULL },
	{ "oand: { api-max-upload = -1; };", "oand.api-max-upload", NULL },
	{ "oand: { api-max-upload = \"1G\"; };", "oand.api-max-upload", NULL },
	{ "oand: { server-address = \"localhost\"; };", "oand.server-address", "IPv4 or IPv6" },
	{ "oand: { server-address = \"\"; };", "oand.server-address", "invalid value" },
	{ "oand: { server-address = \"[::1]\"; };", "oand.server-address", "invalid value" },
	{ "oand: { server-address = \"127.0.0.1:8180\"; };", "oand.server-address", "invalid value" },
	{ "oand: { server-address = \"10.0.0.256\"; };", "oand.server-address", "invalid value" },
	{ "oand: { server-address = \"::1%lo\"; };", "oand.server-address", "invalid value" },
	{ "oand: { server-address = 127; };", "oand.server-address", "wrong type" },
	/* unknown groups and top-level keys */
	{ "oanda: { };", "oanda", "unknown" },
	{ "server-port = 8080;", "server-port", "unknown" },
	{ "oand: { }; extra: { data-dir = \"/x\"; };", "extra", "unknown" },
	{ "oand = 5;", "oand", "group" },
	{ "oan = \"x\";", "oan", "group" },
};

START_TEST(test_switches)
{
	struct cfg *c;
	char err[512];

	ck_assert_int_eq(cfg_parse_string("oand: { ipv6 = false; lan-discovery = true;"
					  " tcp-relay-port = 3389; };", &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->ipv6, 0);
	ck_assert_int_eq(c->lan_discovery, 1);
	ck_assert_int_eq(c->tcp_relay_port, 3389);
	cfg_free(c);
	ck_assert_int_eq(cfg_parse_string("oand: { ipv6 = \"auto\"; };", &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->ipv6, -1);
	cfg_free(c);
	ck_assert_int_eq(cfg_parse_string("oand: { ipv6 = true; };", &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->ipv6, 1);
	cfg_free(c);
}
END_TEST

START_TEST(test_api_keys)
{
	struct cfg *c;
	char err[512];

	ck_assert_int_eq(cfg_parse_string("oand: { data-dir = \"/d\"; };", &c, err, sizeof(err)), 0);
	ck_assert_ptr_null(c->tls_cert);
	ck_assert_ptr_null(c->server_address);	/* every address */
	ck_assert_int_eq(c->api_connections, 64);
	ck_assert_int_eq(c->api_timeout_ms, 30000);
	ck_assert_int_eq(c->stuck_request_ms, 30000);
	ck_assert_int_eq(c->api_rate_limit, 600);
	ck_assert_int_eq(c->api_max_upload, 64LL << 30);
	ck_assert_int_eq(c->publish_interval_ms, 30000);
	cfg_free(c);
	ck_assert_int_eq(cfg_parse_string("oand: { publish-interval = 0; };", &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->publish_interval_ms, 0);
	cfg_free(c);
	ck_assert_int_eq(cfg_parse_string("oand: { publish-interval = 2.5; };", &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->publish_interval_ms, 2500);
	cfg_free(c);
	ck_assert_int_eq(cfg_parse_string("oand: { tls-cert = \"/c.pem\"; tls-key = \"/k.pem\";"
					  " api-connections = 2; api-timeout = 1.5; stuck-request = 2;"
					  " api-rate-limit = 30; api-max-upload = 1048576; };",
					  &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c->tls_cert, "/c.pem");
	ck_assert_str_eq(c->tls_key, "/k.pem");
	ck_assert_int_eq(c->api_connections, 2);
	ck_assert_int_eq(c->api_timeout_ms, 1500);
	ck_assert_int_eq(c->stuck_request_ms, 2000);
	ck_assert_int_eq(c->api_rate_limit, 30);
	ck_assert_int_eq(c->api_max_upload, 1048576);
	cfg_free(c);
	for (size_t i = 0; i < 4; i++) {
		static const char *const addrs[] = { "127.0.0.1", "192.0.2.7", "::1", "2001:db8::7" };
		char text[128];

		snprintf(text, sizeof(text), "oand: { server-address = \"%s\"; };", addrs[i]);
		ck_assert_msg(cfg_parse_string(text, &c, err, sizeof(err)) == 0, "%s: %s", addrs[i], err);
		ck_assert_str_eq(c->server_address, addrs[i]);
		cfg_free(c);
	}
}
END_TEST

/* A Tox ID with a good checksum and DHT nodes in all their forms. */
START_TEST(test_tox_keys)
{
	static const char text[] =
		"oand: { bff-tox-id = \"48B3EE1A055C4BF78B425C4D48279C9484983185B72B450D3D3F9F5BAEBFD64154CD2F9D0D4F\";\n"
		"  bootstrap-nodes = [ \"127.0.0.1:33445:00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\",\n"
		"    \"[::1]:1:00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\",\n"
		"    \"tox.example.org:65535:00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\" ]; };";
	struct cfg *c;
	char err[512];

	ck_assert_int_eq(cfg_parse_string(text, &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->has_bff_tox_id, 1);
	ck_assert_int_eq(c->bff_tox_id[0], 0x48);
	ck_assert_int_eq(c->bff_tox_id[37], 0x4f);
	ck_assert_int_eq(c->nbootstrap, 3);
	ck_assert_int_eq(c->ipv6, -1);		/* defaults */
	ck_assert_int_eq(c->lan_discovery, 0);
	ck_assert_int_eq(c->tcp_relay_port, 0);
	ck_assert_str_eq(c->bootstrap[0].host, "127.0.0.1");
	ck_assert_int_eq(c->bootstrap[0].port, 33445);
	ck_assert_int_eq(c->bootstrap[0].key[15], 0xff);
	ck_assert_str_eq(c->bootstrap[1].host, "::1");
	ck_assert_int_eq(c->bootstrap[1].port, 1);
	ck_assert_str_eq(c->bootstrap[2].host, "tox.example.org");
	ck_assert_int_eq(c->bootstrap[2].port, 65535);
	cfg_free(c);
}
END_TEST

/* bff-pin: one pin or several, kept as written for libcurl. */
START_TEST(test_bff_pin)
{
	static const char one[] = "sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", two[] = "sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=;sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
	char text[512], err[512];
	struct cfg *c;

	ck_assert_int_eq(cfg_parse_string("oand: { bff-domain-name = \"a\"; };", &c, err, sizeof(err)), 0);
	ck_assert_ptr_null(c->bff_pin);
	cfg_free(c);
	snprintf(text, sizeof(text), "oand: { bff-domain-name = \"a\"; bff-pin = \"%s\"; };", one);
	ck_assert_msg(cfg_parse_string(text, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c->bff_pin, one);
	cfg_free(c);
	snprintf(text, sizeof(text), "oand: { bff-domain-name = \"a\"; bff-pin = \"%s\"; };", two);
	ck_assert_msg(cfg_parse_string(text, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c->bff_pin, two);
	cfg_free(c);
}
END_TEST

START_TEST(test_bad_values)
{
	const struct bad_case *b = &bad_cases[_i];
	struct cfg *c = (struct cfg *)1;
	char err[512] = "";
	int r = cfg_parse_string(b->text, &c, err, sizeof(err));

	ck_assert_msg(r == -EINVAL, "%s: got %d, want -EINVAL", b->text, r);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, b->key) != NULL, "%s: message \"%s\" does not name %s", b->text,
		      err, b->key);
	ck_assert_msg(b->also == NULL || strstr(err, b->also) != NULL,
		      "%s: message \"%s\" lacks \"%s\"", b->text, err, b->also);
}
END_TEST

/* From a file, the message starts with FILE:LINE of the offending key. */
START_TEST(test_bad_key_names_file_and_line)
{
	static const struct {
		const char *text;
		int line;
		const char *key;
	} cases[] = {
		{ "oand: {\n  server-name = \"x\";\n  server-port = 70000;\n};\n", 3,
		  "oand.server-port" },
		{ "oand: {\n\n\n\n  frobnicate = 1;\n};\n", 5, "oand.frobnicate" },
		{ "oand: {\n  log-level = \"loud\";\n};\n", 2, "oand.log-level" },
		{ "oand: { };\noan: {\n  mount-point = 3;\n};\n", 3, "oan.mount-point" },
		{ "oand: { };\n\nnope: { };\n", 3, "nope" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cfg *c = (struct cfg *)1;
		char err[512] = "", path[128], want[192];

		write_temp(path, sizeof(path), cases[i].text);
		ck_assert_int_eq(cfg_load(path, &c, err, sizeof(err)), -EINVAL);
		ck_assert_ptr_null(c);
		snprintf(want, sizeof(want), "%s:%d: ", path, cases[i].line);
		ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "\"%s\" does not start with \"%s\"",
			      err, want);
		ck_assert_msg(strstr(err, cases[i].key) != NULL, "\"%s\" does not name %s", err,
			      cases[i].key);
		unlink(path);
	}
}
END_TEST

/* The documented example message, word for word. */
START_TEST(test_out_of_range_message)
{
	struct cfg *c;
	char err[512] = "", path[128], want[256];

	write_temp(path, sizeof(path), "oand: {\n  server-port = 70000;\n};\n");
	ck_assert_int_eq(cfg_load(path, &c, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: oand.server-port: value 70000 out of range (1..65535)",
		 path);
	ck_assert_str_eq(err, want);
	unlink(path);
}
END_TEST

START_TEST(test_syntax_error_file)
{
	struct cfg *c = (struct cfg *)1;
	char err[512] = "", path[128], want[192];

	write_temp(path, sizeof(path),
		   "oand: {\n  server-name = \"x\";\n  server-port = = 3;\n};\n");
	ck_assert_int_eq(cfg_load(path, &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(c);
	snprintf(want, sizeof(want), "%s:3: ", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "\"%s\" does not start with \"%s\"",
		      err, want);
	ck_assert_ptr_nonnull(strstr(err, "syntax error"));
	unlink(path);
}
END_TEST

START_TEST(test_syntax_error_missing_semicolon)
{
	struct cfg *c = (struct cfg *)1;
	char err[512] = "", path[128], want[192];

	/* line 3 lacks its "=" */
	write_temp(path, sizeof(path), "oand: {\n  data-dir = \"/x\"\n  tox-port 5;\n};\n");
	ck_assert_int_eq(cfg_load(path, &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(c);
	snprintf(want, sizeof(want), "%s:3: syntax error", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "\"%s\" does not start with \"%s\"",
		      err, want);
	unlink(path);
}
END_TEST

START_TEST(test_syntax_error_string)
{
	struct cfg *c = (struct cfg *)1;
	char err[512] = "";

	ck_assert_int_eq(cfg_parse_string("oand: {\n\n  server-port = ;\n};", &c, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err, ":3: syntax error"));
}
END_TEST

START_TEST(test_missing_file)
{
	struct cfg *c = (struct cfg *)1;
	char err[512] = "";

	ck_assert_int_eq(cfg_load("/tmp/check_cfg.does-not-exist/oand.conf", &c, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err, "/tmp/check_cfg.does-not-exist/oand.conf"));
}
END_TEST

/* No file named and no /etc/oand.conf: the built-in configuration. */
START_TEST(test_no_file_builtin)
{
	struct cfg *c = NULL, *d = NULL;
	char err[512] = "";

	if (access(CFG_DEFAULT_FILE, F_OK) == 0)
		return;	/* this machine has a configuration; nothing to pin */
	ck_assert_int_eq(cfg_load(NULL, &c, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_defaults(&d), 0);
	ck_assert_str_eq(c->mount_point, d->mount_point);
	ck_assert_str_eq(c->data_dir, d->data_dir);
	ck_assert_ptr_null(c->source);
	cfg_free(c);
	cfg_free(d);
}
END_TEST

/* A message longer than the buffer is cut and still terminated. */
START_TEST(test_error_buffer_small)
{
	struct cfg *c = (struct cfg *)1;
	char err[16];

	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(cfg_parse_string("oand: { server-port = 70000; };", &c, err, sizeof(err)),
			 -EINVAL);
	/* truncated but terminated */
	ck_assert_uint_eq(strlen(err), sizeof(err) - 1);
}
END_TEST

static Suite *cfg_suite(void)
{
	Suite *s = suite_create("cfg");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, base_make, base_remove);

	tcase_add_test(tc, test_every_key_string);
	tcase_add_test(tc, test_tox_keys);
	tcase_add_test(tc, test_bff_pin);
	tcase_add_test(tc, test_switches);
	tcase_add_test(tc, test_api_keys);
	tcase_add_test(tc, test_every_key_file);
	tcase_add_test(tc, test_defaults_filled);
	tcase_add_test(tc, test_defaults_partial);
	tcase_add_test(tc, test_builtin_defaults);
	tcase_add_test(tc, test_default_dirs_by_user);
	tcase_add_test(tc, test_port_forms);
	tcase_add_test(tc, test_log_levels_and_key_case);
	tcase_add_loop_test(tc, test_bad_values, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, test_bad_key_names_file_and_line);
	tcase_add_test(tc, test_out_of_range_message);
	tcase_add_test(tc, test_syntax_error_file);
	tcase_add_test(tc, test_syntax_error_missing_semicolon);
	tcase_add_test(tc, test_syntax_error_string);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_no_file_builtin);
	tcase_add_test(tc, test_error_buffer_small);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(cfg_suite());
}
