/*
 * Unit tests for src/httparse and src/httpc's header lookup: /value/ URLs
 * into tree paths (escapes decoded; "..", ".", "//", NUL and bad escapes
 * refused, encoded or not), Range headers against a size, and the head of
 * a reply.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "httparse.h"
#include "httpc.h"
#include "path.h"
#include "check_run.h"

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
	size_t body = 0;
	int status = 0;

	ck_assert_int_eq(http_parse_reply(ok, strlen(ok), &status, &body), 0);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(ok + body, "{}");
	ck_assert_int_eq(http_parse_reply("HTTP/1.1 404\r\n\r\n", 16, &status, &body), 0);
	ck_assert_int_eq(status, 404);
	ck_assert_int_eq(http_parse_reply("HTTP/1.1 200 OK\r\n", 17, &status, &body), -EBADMSG);
	ck_assert_int_eq(http_parse_reply("HTTP/2 200 OK\r\n\r\n", 17, &status, &body), -EBADMSG);
	ck_assert_int_eq(http_parse_reply("HTTP/1.1 2x0 OK\r\n\r\n", 19, &status, &body), -EBADMSG);
	ck_assert_int_eq(http_parse_reply("HTTP/1.1 099 OK\r\n\r\n", 19, &status, &body), -EBADMSG);
	ck_assert_int_eq(http_parse_reply("\x16\x03\x01", 3, &status, &body), -EBADMSG);
	ck_assert_int_eq(http_parse_reply(ok, strlen(ok), &status, &body), 0);
	r.head = strndup(ok, body);
	ck_assert_str_eq(httpc_header(&r, "x-oand-data-dir", v, sizeof(v)), "/var/lib/oand");
	ck_assert_str_eq(httpc_header(&r, "Content-Length", v, sizeof(v)), "2");
	ck_assert_ptr_null(httpc_header(&r, "Content", v, sizeof(v)));
	ck_assert_ptr_null(httpc_header(&r, "X-Oand-Data-Dir", v, 4));	/* does not fit */
	httpc_reply_free(&r);
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
	return s;
}

int main(void)
{
	return check_run(http_suite());
}
