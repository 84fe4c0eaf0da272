/*
 * Unit tests for fuse/watch: what it tells `oand status` of the mount's
 * requests before any is read.  A rename of a name onto itself is no
 * longer answered here (the node answers it, nothing locks paths); the
 * watch only counts those the operations report.
 */
#include <check.h>
#include <string.h>

#include "node.h"
#include "watch.h"
#include "check_run.h"

START_TEST(test_self_rename_counted)
{
	struct node_mount_stats st;

	memset(&st, 0xff, sizeof(st));
	watch_get(&st, NULL);
	ck_assert_uint_eq(st.in_flight, 0);
	ck_assert_uint_eq(st.stuck, 0);
	ck_assert_str_eq(st.oldest_op, "");
	ck_assert_uint_eq(st.self_renames, 0);
	watch_count_self_rename();
	watch_count_self_rename();
	watch_get(&st, NULL);
	ck_assert_uint_eq(st.self_renames, 2);
	ck_assert_uint_eq(st.requests, 0);
}
END_TEST

static Suite *watch_suite(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_self_rename_counted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(watch_suite());
}
