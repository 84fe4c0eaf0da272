/*
 * Unit tests for src/proto/httparse and src/net/httpc: /value/ URLs into tree paths
 * (escapes decoded; "..", ".", "//", NUL and bad escapes refused, encoded
 * or not), Range headers against a size, the head of a reply; and the
 * client against servers on loopback: a plain one (tests/unit/http_stub:
 * replies, the size limit, the deadline, no redirects, the token) and
 * openssl s_server with a self-signed certificate, refused unless its
 * key is pinned.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deadline.h"
#include "httparse.h"
#include "httpc.h"
#include "http_stub.h"
#include "path.h"
#include "check_run.h"
#define CHECK_TMP_NAME "check_http"
#include "check_tmp.h"

START_TEST(test_tree_path_good)
{
	static const char *const in[][2] = {
		{ "", "/" }, { "/", "/" }, { "/a", "/a" }, { "/a/", "/a" }, { "/a/b.txt", "/a/b.txt" },
		{ "/a%20b", "/a b" }, { "/%41%62", "/Ab" }, { "/caf%C3%A9", "/caf\xc3\xa9" },
		{ "/100%25", "/100%" }, { "/a..b", "/a..b" }, { "/...", "/..." },
	};
	char out[PATH_TREE_MAX];

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		ck_assert_msg(http_tree_path(in[i][0], out, sizeof(out)) == 0, "%s", in[i][0]);
		ck_assert_str_eq(out, in[i][1]);
	}
}
END_TEST

START_TEST(test_tree_path_refused)
{
	static const char *const bad[] = {
		"/..", "/../etc/passwd", "/a/../b", "/%2e%2e", "/%2E%2E/x", "/a/%2e%2e/b", "/.",
		"/a/./b", "/%2e", "//", "//a", "/a//b", "/a%2f%2fb", "/a%00b", "/%00", "/a%zz",
		"/a%4", "/a%", "a", "/a//",
	};
	char out[PATH_TREE_MAX];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(http_tree_path(bad[i], out, sizeof(out)) == -EINVAL, "%s", bad[i]);
}
END_TEST

START_TEST(test_tree_path_long)
{
	char url[3 * PATH_TREE_MAX], out[PATH_TREE_MAX];

	url[0] = '/';
	memset(url + 1, 'x', PATH_NAME_MAX + 1);
	url[PATH_NAME_MAX + 2] = '\0';
	ck_assert_int_eq(http_tree_path(url, out, sizeof(out)), -ENAMETOOLONG);
	for (size_t i = 0; i + 4 < sizeof(url); i += 4)
		memcpy(url + i, "/%61", 4);	/* short names, far too many */
	url[sizeof(url) / 4 * 4 - 4] = '\0';
	ck_assert_int_eq(http_tree_path(url, out, sizeof(out)), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_range)
{
	uint64_t a = 0, b = 0;

	ck_assert_int_eq(http_parse_range(NULL, 100, &a, &b), 0);
	ck_assert_int_eq(http_parse_range("bytes=0-9", 100, &a, &b), 1);
	ck_assert(a == 0 && b == 9);
	ck_assert_int_eq(http_parse_range("bytes=90-", 100, &a, &b), 1);
	ck_assert(a == 90 && b == 99);
	ck_assert_int_eq(http_parse_range("bytes=90-1000", 100, &a, &b), 1);
	ck_assert(a == 90 && b == 99);
	ck_assert_int_eq(http_parse_range("bytes=-10", 100, &a, &b), 1);
	ck_assert(a == 90 && b == 99);
	ck_assert_int_eq(http_parse_range("bytes=-1000", 100, &a, &b), 1);
	ck_assert(a == 0 && b == 99);
	ck_assert_int_eq(http_parse_range("bytes=100-", 100, &a, &b), -1);
	ck_assert_int_eq(http_parse_range("bytes=0-", 0, &a, &b), -1);
	ck_assert_int_eq(http_parse_range("bytes=-0", 100, &a, &b), -1);
	/* Not understood, or several: the whole content. */
	ck_assert_int_eq(http_parse_range("bytes=0-1,5-6", 100, &a, &b), 0);
	ck_assert_int_eq(http_parse_range("bytes=5-1", 100, &a, &b), 0);
	ck_assert_int_eq(http_parse_range("items=0-1", 100, &a, &b), 0);
	ck_assert_int_eq(http_parse_range("bytes=x-1", 100, &a, &b), 0);
	ck_assert_int_eq(http_parse_range("bytes=1-2x", 100, &a, &b), 0);
	ck_assert_int_eq(http_parse_range("bytes=--5", 100, &a, &b), 0);
	ck_assert_int_eq(http_parse_range("bytes=-+5", 100, &a, &b), 0);
	ck_assert_int_eq(http_parse_range("bytes=1-+5", 100, &a, &b), 0);
}
END_TEST

START_TEST(test_reply)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nX-Oand-Data-Dir: /var/lib/oand\r\n"
				 "Content-Length: 2\r\n\r\n{}";
	struct httpc_reply r = { 0 };
	char v[64];
	size_t body = strstr(ok, "\r\n\r\n") + 4 - ok;

	r.head = strndup(ok, body);
	ck_assert_str_eq(httpc_header(&r, "x-oand-data-dir", v, sizeof(v)), "/var/lib/oand");
	ck_assert_str_eq(httpc_header(&r, "Content-Length", v, sizeof(v)), "2");
	ck_assert_ptr_null(httpc_header(&r, "Content", v, sizeof(v)));
	ck_assert_ptr_null(httpc_header(&r, "X-Oand-Data-Dir", v, 4));	/* does not fit */
	httpc_reply_free(&r);
}
END_TEST

/* GET path from a stub serving reply: httpc_get's result. */
static int stub_get(const char *reply, size_t max, int timeout_ms, struct httpc_reply *r,
		    int *requests)
{
	struct http_stub *s;
	int rc;

	ck_assert_int_eq(http_stub_start(reply, &s), 0);
	rc = httpc_get("127.0.0.1", http_stub_port(s), HTTPC_PLAIN, "/v1/x?text", NULL, timeout_ms,
		       max, r);
	if (requests != NULL)
		*requests = http_stub_requests(s, NULL, 0);
	http_stub_stop(s);
	return rc;
}

START_TEST(test_get_plain)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nX-Oand-Data-Dir: /d\r\nContent-Length: 2\r\n"
				 "Connection: close\r\n\r\n{}";
	struct httpc_reply r;
	char v[64];

	ck_assert_int_eq(httpc_init(), 0);
	ck_assert_int_eq(stub_get(ok, 4096, 5000, &r, NULL), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.tls, 0);
	ck_assert_uint_eq(r.len, 2);
	ck_assert_str_eq(r.body, "{}");
	ck_assert_str_eq(httpc_header(&r, "x-oand-data-dir", v, sizeof(v)), "/d");
	httpc_reply_free(&r);
	/* No body at all: an empty string. */
	ck_assert_int_eq(stub_get("HTTP/1.0 404 Not Found\r\n\r\n", 4096, 5000, &r, NULL), 0);
	ck_assert_int_eq(r.status, 404);
	ck_assert_str_eq(r.body, "");
	httpc_reply_free(&r);
	/* Not HTTP: no reply. */
	ck_assert_int_eq(stub_get("SSH-2.0-x\r\n", 4096, 5000, &r, NULL), -EBADMSG);
	ck_assert_ptr_null(r.body);
}
END_TEST

/* More than max bytes is refused, told in advance or not. */
START_TEST(test_get_limit)
{
	static char big[4096];
	struct httpc_reply r;
	int n;

	n = snprintf(big, sizeof(big), "HTTP/1.0 200 OK\r\n\r\n");
	memset(big + n, 'x', 2000);
	big[n + 2000] = '\0';
	ck_assert_int_eq(stub_get(big, 1000, 5000, &r, NULL), -EBADMSG);
	ck_assert_int_eq(stub_get("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\nxx", 1000, 5000, &r,
				  NULL), -EBADMSG);
	ck_assert_int_eq(stub_get(big, 4096, 5000, &r, NULL), 0);
	ck_assert_uint_eq(r.len, 2000);
	httpc_reply_free(&r);
}
END_TEST

/* A server that never answers: the call ends at its deadline. */
START_TEST(test_get_deadline)
{
	struct httpc_reply r;
	int64_t t0 = deadline_now_ms();

	ck_assert_int_eq(stub_get(NULL, 4096, 500, &r, NULL), -ETIMEDOUT);
	ck_assert_int_lt(deadline_now_ms() - t0, 3000);
}
END_TEST

/* A redirect is the answer, not followed. */
START_TEST(test_get_no_redirect)
{
	struct httpc_reply r;
	int requests = 0;
	char v[64];

	ck_assert_int_eq(stub_get("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\n"
				  "Content-Length: 0\r\n\r\n", 4096, 5000, &r, &requests), 0);
	ck_assert_int_eq(r.status, 302);
	ck_assert_int_eq(requests, 1);
	ck_assert_str_eq(httpc_header(&r, "Location", v, sizeof(v)), "http://127.0.0.1:1/");
	httpc_reply_free(&r);
}
END_TEST

/* The token goes to a server whose socket is this user's (or root's). */
START_TEST(test_get_local_token)
{
	struct http_stub *s;
	struct httpc_reply r;
	char last[4096];

	ck_assert_int_eq(http_stub_start("HTTP/1.0 200 OK\r\n\r\n{}", &s), 0);
	ck_assert_int_eq(httpc_get_local("127.0.0.1", http_stub_port(s), HTTPC_PLAIN, "/v1/status",
					 "0123abcd", getuid(), 5000, 4096, &r), 0);
	ck_assert_int_eq(http_stub_requests(s, last, sizeof(last)), 1);
	ck_assert_ptr_nonnull(strstr(last, "GET /v1/status HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(last, "\r\nAuthorization: Bearer 0123abcd\r\n"));
	httpc_reply_free(&r);
	http_stub_stop(s);
	/* Nothing listens: no server to check, nothing sent. */
	ck_assert_int_lt(httpc_get_local("127.0.0.1", 1, HTTPC_PLAIN, "/", "t", getuid(), 2000, 4096,
					 &r), 0);
}
END_TEST

/* A free TCP port of the loopback, for a server started after. */
static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static int accepting(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * openssl s_server -www with a certificate made here (self-signed, for
 * localhost and 127.0.0.1): refused by the system's CAs, plainly or
 * after a plain try (HTTPC_AUTO), and with a wrong pin; served with its
 * key's pin, over TLS only.
 */
START_TEST(test_tls_self_signed)
{
	static const char bad_pin[] = "sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
	char cmd[2048], pin[128] = "sha256//", port_s[16];
	struct httpc_reply r;
	int port = free_port(), rc;
	int64_t until;
	FILE *f;
	pid_t pid;

	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
		 "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
		 "-keyout %s/key.pem -out %s/cert.pem 2>/dev/null", base, base);
	ck_assert_msg(system(cmd) == 0, "openssl req failed (make deps)");
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s/cert.pem -pubkey -noout | openssl pkey "
		 "-pubin -outform der | openssl dgst -sha256 -binary | base64", base);
	ck_assert_ptr_nonnull(f = popen(cmd, "r"));
	ck_assert_ptr_nonnull(fgets(pin + strlen(pin), (int)(sizeof(pin) - strlen(pin)), f));
	pclose(f);
	pin[strcspn(pin, "\n")] = '\0';
	ck_assert_uint_eq(strlen(pin), 8 + 44);

	snprintf(port_s, sizeof(port_s), "%d", port);
	snprintf(cmd, sizeof(cmd), "%s/cert.pem", base);
	if ((pid = fork()) == 0) {
		char key[128];

		snprintf(key, sizeof(key), "%s/key.pem", base);
		if (freopen("/dev/null", "w", stdout) == NULL || freopen("/dev/null", "w", stderr) == NULL)
			_exit(127);
		execlp("openssl", "openssl", "s_server", "-quiet", "-www", "-accept", port_s, "-cert",
		       cmd, "-key", key, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(pid, 0);
	for (until = deadline_now_ms() + 10000; !accepting(port) && deadline_now_ms() < until;)
		usleep(20000);
	ck_assert_msg(accepting(port), "openssl s_server did not start");

	rc = httpc_get("127.0.0.1", port, HTTPC_TLS, "/", NULL, 5000, 65536, &r);
	ck_assert_int_eq(rc, -EKEYREJECTED);
	rc = httpc_get("localhost", port, HTTPC_AUTO, "/", NULL, 5000, 65536, &r);
	ck_assert_int_eq(rc, -EKEYREJECTED);
	rc = httpc_get("127.0.0.1", port, HTTPC_TLS, "/", bad_pin, 5000, 65536, &r);
	ck_assert_int_eq(rc, -EKEYREJECTED);
	/* The pinned key: TLS straight away, even when asked for AUTO. */
	rc = httpc_get("127.0.0.1", port, HTTPC_AUTO, "/", pin, 5000, 65536, &r);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.tls, 1);
	httpc_reply_free(&r);
	/* An answer the caller checks itself (a member's key): any
	   certificate. */
	rc = httpc_get("127.0.0.1", port, HTTPC_AUTO | HTTPC_ANY_CERT, "/", NULL, 5000, 65536, &r);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(r.tls, 1);
	httpc_reply_free(&r);

	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}
END_TEST

static Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_tree_path_good);
	tcase_add_test(tc, test_tree_path_refused);
	tcase_add_test(tc, test_tree_path_long);
	tcase_add_test(tc, test_range);
	tcase_add_test(tc, test_reply);
	suite_add_tcase(s, tc);
	tc = tcase_create("client");
	tcase_add_unchecked_fixture(tc, base_make, base_remove);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_get_plain);
	tcase_add_test(tc, test_get_limit);
	tcase_add_test(tc, test_get_deadline);
	tcase_add_test(tc, test_get_no_redirect);
	tcase_add_test(tc, test_get_local_token);
	tcase_add_test(tc, test_tls_self_signed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* libcurl's set-up, before any thread (http_stub's). */
	if (httpc_init() != 0)
		return EXIT_FAILURE;
	return check_run(http_suite());
}
