/*
 * Unit tests for fuse/watch: which requests read from the kernel are
 * answered before libfuse sees them.  A rename of a name onto itself (the
 * same folder, the same name; RENAME or RENAME2) is, with success, or
 * EEXIST under RENAME_NOREPLACE; anything else, short or malformed
 * requests included, goes on to libfuse.
 */
#include <check.h>
#include <errno.h>
#include <linux/fs.h>
#include <linux/fuse.h>
#include <string.h>

#include "watch.h"
#include "check_run.h"

/* A RENAME (flags < 0) or RENAME2 request: from in folder dir to to in
   folder newdir; its length. */
static size_t rename_req(unsigned char *buf, uint64_t dir, const char *from, uint64_t newdir,
			 const char *to, int flags)
{
	struct fuse_in_header h = { .opcode = flags < 0 ? FUSE_RENAME : FUSE_RENAME2, .unique = 7,
				    .nodeid = dir };
	size_t len = sizeof(h);

	if (flags < 0) {
		struct fuse_rename_in in = { .newdir = newdir };

		memcpy(buf + len, &in, sizeof(in));
		len += sizeof(in);
	} else {
		struct fuse_rename2_in in = { .newdir = newdir, .flags = (uint32_t)flags };

		memcpy(buf + len, &in, sizeof(in));
		len += sizeof(in);
	}
	memcpy(buf + len, from, strlen(from) + 1);
	len += strlen(from) + 1;
	memcpy(buf + len, to, strlen(to) + 1);
	len += strlen(to) + 1;
	h.len = (uint32_t)len;
	memcpy(buf, &h, sizeof(h));
	return len;
}

START_TEST(test_self_rename)
{
	unsigned char buf[512];
	size_t len;

	len = rename_req(buf, 5, "f3", 5, "f3", -1);
	ck_assert_int_eq(watch_self_rename(buf, len), 0);
	len = rename_req(buf, 5, "f3", 5, "f3", 0);
	ck_assert_int_eq(watch_self_rename(buf, len), 0);
	len = rename_req(buf, 5, "f3", 5, "f3", RENAME_NOREPLACE);
	ck_assert_int_eq(watch_self_rename(buf, len), EEXIST);
	len = rename_req(buf, 5, "f3", 5, "f3", RENAME_EXCHANGE);
	ck_assert_int_eq(watch_self_rename(buf, len), 0);
}
END_TEST

START_TEST(test_passed_on)
{
	unsigned char buf[512];
	struct fuse_in_header h = { .opcode = FUSE_LOOKUP, .nodeid = 1 };
	size_t len;

	/* other names, other folders */
	len = rename_req(buf, 5, "f3", 5, "f4", -1);
	ck_assert_int_eq(watch_self_rename(buf, len), -1);
	len = rename_req(buf, 5, "f3", 6, "f3", 0);
	ck_assert_int_eq(watch_self_rename(buf, len), -1);
	len = rename_req(buf, 5, "f3", 5, "f33", -1);
	ck_assert_int_eq(watch_self_rename(buf, len), -1);
	/* cut short: without the second name's end, without names, without
	   the argument, without a whole header */
	len = rename_req(buf, 5, "f3", 5, "f3", -1);
	ck_assert_int_eq(watch_self_rename(buf, len - 1), -1);
	ck_assert_int_eq(watch_self_rename(buf, len - 3), -1);
	ck_assert_int_eq(watch_self_rename(buf, sizeof(struct fuse_in_header) + 8), -1);
	ck_assert_int_eq(watch_self_rename(buf, sizeof(struct fuse_in_header) + 4), -1);
	ck_assert_int_eq(watch_self_rename(buf, 10), -1);
	/* not a rename */
	h.len = sizeof(h) + 3;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), "f3", 3);
	ck_assert_int_eq(watch_self_rename(buf, sizeof(h) + 3), -1);
}
END_TEST

static Suite *watch_suite(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_self_rename);
	tcase_add_test(tc, test_passed_on);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(watch_suite());
}
