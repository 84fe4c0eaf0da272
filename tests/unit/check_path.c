/*
 * Unit tests for src/util/path: which tree paths are valid, the length limits
 * (a component of PATH_NAME_MAX bytes is fine, one more is ENAMETOOLONG;
 * the whole path must stay below PATH_TREE_MAX), and the helpers the db
 * uses to move folders (split, is_within, rebase).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "check_run.h"

/* "/" followed by components of at most 200 bytes, exactly len bytes. */
static char *make_path(size_t len)
{
	char *p = malloc(len + 1);
	size_t i = 0, comp = 0;

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_ge(len, 2);
	while (i < len) {
		/* never end on a slash or put two in a row */
		if (comp == 200 && i + 1 < len - 1) {
			p[i++] = '/';
			comp = 0;
		} else if (i == 0) {
			p[i++] = '/';
		} else {
			p[i] = (char)('a' + (i % 26));
			i++;
			comp++;
		}
	}
	p[len] = '\0';
	ck_assert_uint_eq(strlen(p), len);
	ck_assert_int_eq(p[len - 1] == '/', 0);
	return p;
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* FNV-1a's published values. */
START_TEST(test_hash)
{
	ck_assert_uint_eq(path_hash(""), 0xcbf29ce484222325ULL);
	ck_assert_uint_eq(path_hash("a"), 0xaf63dc4c8601ec8cULL);
	ck_assert_uint_eq(path_hash("foobar"), 0x85944171f73967e8ULL);
}
END_TEST

START_TEST(test_valid_paths)
{
	static const char *const ok[] = {
		"/", "/a", "/a/b", "/a/b/c", "/a b/c.d", "/.hidden", "/..x", "/x..",
		"/...", "/a/.b/..c", "/-", "/\xc3\xa9t\xc3\xa9", "/a\\b", "/a:b*?",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(path_check(ok[i]) == 0, "path_check(\"%s\") refused", ok[i]);
}
END_TEST

START_TEST(test_invalid_paths)
{
	static const char *const bad[] = {
		"", "a", "a/b", "./a", "//", "/a/", "/a//b", "//a", "/.", "/..", "/./a",
		"/../a", "/a/.", "/a/..", "/a/./b", "/a/../b", "/a/b/", "///",
	};

	ck_assert_int_eq(path_check(NULL), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(path_check(bad[i]) == -EINVAL, "path_check(\"%s\") = %d, want -EINVAL",
			      bad[i], path_check(bad[i]));
}
END_TEST

START_TEST(test_check_name)
{
	char *n255 = repeat('x', PATH_NAME_MAX), *n256 = repeat('x', PATH_NAME_MAX + 1);

	ck_assert_int_eq(path_check_name("a"), 0);
	ck_assert_int_eq(path_check_name(".a"), 0);
	ck_assert_int_eq(path_check_name("..."), 0);
	ck_assert_int_eq(path_check_name(""), -EINVAL);
	ck_assert_int_eq(path_check_name("."), -EINVAL);
	ck_assert_int_eq(path_check_name(".."), -EINVAL);
	ck_assert_int_eq(path_check_name("a/b"), -EINVAL);
	ck_assert_int_eq(path_check_name("/"), -EINVAL);
	ck_assert_int_eq(path_check_name(n255), 0);
	ck_assert_int_eq(path_check_name(n256), -ENAMETOOLONG);
	free(n255);
	free(n256);
}
END_TEST

/* A component of 255 bytes is fine anywhere; 256 is ENAMETOOLONG. */
START_TEST(test_name_length)
{
	char *n255 = repeat('n', PATH_NAME_MAX), *n256 = repeat('n', PATH_NAME_MAX + 1);
	char buf[1024];

	snprintf(buf, sizeof(buf), "/%s", n255);
	ck_assert_int_eq(path_check(buf), 0);
	snprintf(buf, sizeof(buf), "/%s", n256);
	ck_assert_int_eq(path_check(buf), -ENAMETOOLONG);
	snprintf(buf, sizeof(buf), "/a/%s/b", n255);
	ck_assert_int_eq(path_check(buf), 0);
	snprintf(buf, sizeof(buf), "/a/%s/b", n256);
	ck_assert_int_eq(path_check(buf), -ENAMETOOLONG);
	snprintf(buf, sizeof(buf), "/a/b/%s", n256);
	ck_assert_int_eq(path_check(buf), -ENAMETOOLONG);
	free(n255);
	free(n256);
}
END_TEST

/* The whole path must stay below PATH_TREE_MAX (room for the NUL). */
START_TEST(test_total_length)
{
	char *p4095 = make_path(PATH_TREE_MAX - 1), *p4096 = make_path(PATH_TREE_MAX);
	char *p5000 = make_path(5000);

	ck_assert_int_eq(path_check(p4095), 0);
	ck_assert_int_eq(path_check(p4096), -ENAMETOOLONG);
	ck_assert_int_eq(path_check(p5000), -ENAMETOOLONG);
	free(p4095);
	free(p4096);
	free(p5000);
}
END_TEST

/* PATH_DEPTH_MAX folders deep is fine; one more is ENAMETOOLONG, short as
   the path is (a peer's 2,000-level path must not pass). */
START_TEST(test_depth)
{
	char buf[PATH_TREE_MAX];
	size_t n = 0;

	for (int i = 0; i < PATH_DEPTH_MAX; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "/a");
	ck_assert_int_eq(path_check(buf), 0);
	snprintf(buf + n, sizeof(buf) - n, "/a");
	ck_assert_int_eq(path_check(buf), -ENAMETOOLONG);
	n = 0;
	for (int i = 0; i < 2000; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "/a");
	ck_assert_int_eq(path_check(buf), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_split)
{
	char parent[PATH_TREE_MAX];
	const char *name = NULL;
	const char *p = "/a/bb/ccc";

	ck_assert_int_eq(path_split("/a", parent, sizeof(parent), &name), 0);
	ck_assert_str_eq(parent, "/");
	ck_assert_str_eq(name, "a");

	ck_assert_int_eq(path_split(p, parent, sizeof(parent), &name), 0);
	ck_assert_str_eq(parent, "/a/bb");
	ck_assert_str_eq(name, "ccc");
	/* name points into p, not into a copy */
	ck_assert_ptr_eq(name, p + 6);

	ck_assert_int_eq(path_split("/a/b", parent, sizeof(parent), &name), 0);
	ck_assert_str_eq(parent, "/a");
	ck_assert_str_eq(name, "b");

	/* "/a/bb" needs 6 bytes with the NUL */
	ck_assert_int_eq(path_split(p, parent, 6, &name), 0);
	ck_assert_str_eq(parent, "/a/bb");
	ck_assert_int_eq(path_split(p, parent, 5, &name), -ENAMETOOLONG);
	ck_assert_int_eq(path_split("/a", parent, 1, &name), -ENAMETOOLONG);
	ck_assert_int_eq(path_split("/a", parent, 2, &name), 0);
	ck_assert_str_eq(parent, "/");
}
END_TEST

START_TEST(test_is_within)
{
	ck_assert_int_eq(path_is_within("/a", "/a"), 1);
	ck_assert_int_eq(path_is_within("/a/b", "/a"), 1);
	ck_assert_int_eq(path_is_within("/a/b/c", "/a"), 1);
	ck_assert_int_eq(path_is_within("/a/b/c", "/a/b"), 1);
	/* a common string prefix is not a common folder */
	ck_assert_int_eq(path_is_within("/ab", "/a"), 0);
	ck_assert_int_eq(path_is_within("/ab/c", "/a"), 0);
	ck_assert_int_eq(path_is_within("/a-b", "/a"), 0);
	ck_assert_int_eq(path_is_within("/a", "/ab"), 0);
	ck_assert_int_eq(path_is_within("/a", "/a/b"), 0);
	ck_assert_int_eq(path_is_within("/b", "/a"), 0);
	/* everything is within the root */
	ck_assert_int_eq(path_is_within("/", "/"), 1);
	ck_assert_int_eq(path_is_within("/x", "/"), 1);
	ck_assert_int_eq(path_is_within("/x/y", "/"), 1);
}
END_TEST

START_TEST(test_rebase)
{
	char out[PATH_TREE_MAX];

	ck_assert_int_eq(path_rebase("/a/b/c", "/a", "/x", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/x/b/c");
	ck_assert_int_eq(path_rebase("/a", "/a", "/z/y", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/z/y");
	ck_assert_int_eq(path_rebase("/a/b/c", "/a/b", "/q", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/q/c");
	ck_assert_int_eq(path_rebase("/long/name/x", "/long/name", "/s", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/s/x");
	/* not within from */
	ck_assert_int_eq(path_rebase("/ab/c", "/a", "/x", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(path_rebase("/b", "/a", "/x", out, sizeof(out)), -EINVAL);
	/* the root as source or destination yields valid paths */
	ck_assert_int_eq(path_rebase("/a/b", "/", "/x", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/x/a/b");
	ck_assert_int_eq(path_rebase("/", "/", "/x", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/x");
	ck_assert_int_eq(path_rebase("/a/b", "/a", "/", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/b");
	ck_assert_int_eq(path_rebase("/a", "/a", "/", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/");
}
END_TEST

START_TEST(test_rebase_too_long)
{
	char small[8], out[2 * PATH_TREE_MAX];
	char *from = make_path(100), *to = make_path(PATH_TREE_MAX - 50);
	char p[256];

	/* "/x/b/c" plus NUL is 7 bytes: fits in 7, not in 6 */
	ck_assert_int_eq(path_rebase("/a/b/c", "/a", "/x", small, 7), 0);
	ck_assert_str_eq(small, "/x/b/c");
	ck_assert_int_eq(path_rebase("/a/b/c", "/a", "/xy", small, 7), -ENAMETOOLONG);
	ck_assert_int_eq(path_rebase("/a/b/c", "/a", "/verylongname", small, sizeof(small)),
			 -ENAMETOOLONG);
	/* the buffer is large enough but the result is not a valid tree path */
	snprintf(p, sizeof(p), "%s/%s", from, "0123456789012345678901234567890123456789012345678");
	ck_assert_int_eq(path_rebase(p, from, to, out, sizeof(out)), -ENAMETOOLONG);
	snprintf(p, sizeof(p), "%s/%s", from, "012345678901234567890123456789012345678901234567");
	ck_assert_int_eq(path_rebase(p, from, to, out, sizeof(out)), 0);
	ck_assert_uint_eq(strlen(out), PATH_TREE_MAX - 1);
	ck_assert_int_eq(path_check(out), 0);
	free(from);
	free(to);
}
END_TEST

static Suite *path_suite(void)
{
	Suite *s = suite_create("path");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_valid_paths);
	tcase_add_test(tc, test_invalid_paths);
	tcase_add_test(tc, test_check_name);
	tcase_add_test(tc, test_name_length);
	tcase_add_test(tc, test_total_length);
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_split);
	tcase_add_test(tc, test_is_within);
	tcase_add_test(tc, test_rebase);
	tcase_add_test(tc, test_rebase_too_long);
	tcase_add_test(tc, test_hash);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(path_suite());
}
