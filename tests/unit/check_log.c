/*
 * Unit tests for src/util/log: level names both ways, and that a message above
 * the current level is not written at all.  stderr is captured into a
 * temporary file (each test runs in its own process, CK_FORK).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "check_run.h"

static const char *const level_names[] = { "error", "warning", "notice", "info", "debug" };

struct capture {
	char path[64];
	int fd, saved;
};

/* From now on stderr goes into a fresh temporary file. */
static void capture_start(struct capture *c)
{
	snprintf(c->path, sizeof(c->path), "/tmp/check_log.XXXXXX");
	c->fd = mkstemp(c->path);
	ck_assert_int_ge(c->fd, 0);
	/* nameless from the start: nothing is left behind even if a test fails */
	unlink(c->path);
	fflush(stderr);
	c->saved = dup(STDERR_FILENO);
	ck_assert_int_ge(c->saved, 0);
	ck_assert_int_eq(dup2(c->fd, STDERR_FILENO), STDERR_FILENO);
}

/* Restore stderr; return what was written (malloc'd). */
static char *capture_end(struct capture *c)
{
	char *buf;
	off_t size;

	fflush(stderr);
	ck_assert_int_eq(dup2(c->saved, STDERR_FILENO), STDERR_FILENO);
	close(c->saved);
	size = lseek(c->fd, 0, SEEK_END);
	ck_assert_int_ge(size, 0);
	buf = calloc(1, (size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pread(c->fd, buf, (size_t)size, 0), size);
	close(c->fd);
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

START_TEST(test_level_parse)
{
	enum log_level lv;

	for (int i = 0; i < 5; i++) {
		lv = (enum log_level)99;
		ck_assert_int_eq(log_level_parse(level_names[i], &lv), 0);
		ck_assert_int_eq(lv, i);
	}
	ck_assert_int_eq(log_level_parse("error", &lv), 0);
	ck_assert_int_eq(lv, LOG_LVL_ERROR);
	ck_assert_int_eq(log_level_parse("debug", &lv), 0);
	ck_assert_int_eq(lv, LOG_LVL_DEBUG);
	/* case does not matter */
	ck_assert_int_eq(log_level_parse("DEBUG", &lv), 0);
	ck_assert_int_eq(lv, LOG_LVL_DEBUG);
	ck_assert_int_eq(log_level_parse("Warning", &lv), 0);
	ck_assert_int_eq(lv, LOG_LVL_WARNING);
}
END_TEST

START_TEST(test_level_parse_unknown)
{
	static const char *const bad[] = { "", "warn", "err", "infos", "info ", " info", "trace",
					   "0", "3", "critical" };
	enum log_level lv = LOG_LVL_NOTICE;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(log_level_parse(bad[i], &lv) == -EINVAL, "\"%s\" accepted", bad[i]);
		ck_assert_int_eq(lv, LOG_LVL_NOTICE);
	}
}
END_TEST

START_TEST(test_level_name)
{
	for (int i = 0; i < 5; i++)
		ck_assert_str_eq(log_level_name((enum log_level)i), level_names[i]);
	ck_assert_str_eq(log_level_name(LOG_LVL_INFO), "info");
	ck_assert_str_eq(log_level_name((enum log_level)5), "?");
	ck_assert_str_eq(log_level_name((enum log_level)-1), "?");
	/* names and parse agree */
	for (int i = 0; i < 5; i++) {
		enum log_level lv;

		ck_assert_int_eq(log_level_parse(log_level_name((enum log_level)i), &lv), 0);
		ck_assert_int_eq(lv, i);
	}
}
END_TEST

START_TEST(test_set_get_level)
{
	log_init("t", LOG_LVL_NOTICE);
	ck_assert_int_eq(log_get_level(), LOG_LVL_NOTICE);
	log_set_level(LOG_LVL_DEBUG);
	ck_assert_int_eq(log_get_level(), LOG_LVL_DEBUG);
	log_set_level(LOG_LVL_ERROR);
	ck_assert_int_eq(log_get_level(), LOG_LVL_ERROR);
}
END_TEST

START_TEST(test_filter_warning)
{
	struct capture c;
	char *out;

	log_init("tst", LOG_LVL_WARNING);
	capture_start(&c);
	log_error("msg-e %d", 1);
	log_warn("msg-w %s", "two");
	log_notice("msg-n");
	log_info("msg-i");
	log_debug("msg-d");
	out = capture_end(&c);
	ck_assert_ptr_nonnull(strstr(out, "tst[error]: msg-e 1\n"));
	ck_assert_ptr_nonnull(strstr(out, "tst[warning]: msg-w two\n"));
	ck_assert_ptr_null(strstr(out, "msg-n"));
	ck_assert_ptr_null(strstr(out, "msg-i"));
	ck_assert_ptr_null(strstr(out, "msg-d"));
	ck_assert_int_eq(count_lines(out), 2);
	/* in order, error first */
	ck_assert(strstr(out, "msg-e") < strstr(out, "msg-w"));
	free(out);
}
END_TEST

/* Each level lets through exactly itself and the levels before it. */
START_TEST(test_filter_every_level)
{
	for (int lv = LOG_LVL_ERROR; lv <= LOG_LVL_DEBUG; lv++) {
		struct capture c;
		char *out, want[32];

		log_init("x", (enum log_level)lv);
		capture_start(&c);
		for (int m = LOG_LVL_ERROR; m <= LOG_LVL_DEBUG; m++)
			log_msg((enum log_level)m, "m%d", m);
		out = capture_end(&c);
		ck_assert_int_eq(count_lines(out), lv + 1);
		for (int m = LOG_LVL_ERROR; m <= LOG_LVL_DEBUG; m++) {
			snprintf(want, sizeof(want), "x[%s]: m%d\n", level_names[m], m);
			if (m <= lv)
				ck_assert_msg(strstr(out, want) != NULL, "level %d: %s missing", lv, want);
			else
				ck_assert_msg(strstr(out, want) == NULL, "level %d: %s written", lv, want);
		}
		free(out);
	}
}
END_TEST

/* log_set_level takes effect for the next message. */
START_TEST(test_set_level_filters)
{
	struct capture c;
	char *out;

	log_init("y", LOG_LVL_ERROR);
	capture_start(&c);
	log_info("before");
	log_set_level(LOG_LVL_INFO);
	log_info("after");
	log_debug("never");
	out = capture_end(&c);
	ck_assert_ptr_null(strstr(out, "before"));
	ck_assert_ptr_nonnull(strstr(out, "y[info]: after\n"));
	ck_assert_ptr_null(strstr(out, "never"));
	free(out);
}
END_TEST

/* Logging keeps errno: callers log and then return -errno. */
START_TEST(test_errno_preserved)
{
	struct capture c;
	char *out;

	log_init("z", LOG_LVL_DEBUG);
	capture_start(&c);
	errno = ENOSPC;
	log_error("disk full");
	ck_assert_int_eq(errno, ENOSPC);
	errno = EACCES;
	log_debug("filtered? no, debug is on");
	ck_assert_int_eq(errno, EACCES);
	log_set_level(LOG_LVL_ERROR);
	errno = EPERM;
	log_debug("filtered");
	ck_assert_int_eq(errno, EPERM);
	out = capture_end(&c);
	ck_assert_int_eq(count_lines(out), 2);
	free(out);
}
END_TEST

/* A message longer than the line buffer is cut, not overflowed. */
START_TEST(test_long_message)
{
	struct capture c;
	char *big = malloc(10001), *out;

	ck_assert_ptr_nonnull(big);
	memset(big, 'q', 10000);
	big[10000] = '\0';
	log_init("long", LOG_LVL_INFO);
	capture_start(&c);
	log_info("%s", big);
	log_info("next");
	out = capture_end(&c);
	ck_assert_int_eq(count_lines(out), 2);
	ck_assert_ptr_nonnull(strstr(out, "long[info]: qqqq"));
	ck_assert_ptr_nonnull(strstr(out, "long[info]: next\n"));
	ck_assert_uint_lt(strlen(out), 4096);
	ck_assert_uint_gt(strlen(out), 2000);
	free(out);
	free(big);
}
END_TEST

/* A line starts with an ISO 8601 UTC timestamp with milliseconds. */
START_TEST(test_line_format)
{
	struct capture c;
	char *out;

	log_init("fmt", LOG_LVL_INFO);
	capture_start(&c);
	log_notice("hello %s", "world");
	out = capture_end(&c);
	/* 2024-01-02T03:04:05.678Z fmt[notice]: hello world */
	ck_assert_uint_ge(strlen(out), 24);
	ck_assert_int_eq(out[4], '-');
	ck_assert_int_eq(out[10], 'T');
	ck_assert_int_eq(out[19], '.');
	ck_assert_int_eq(out[23], 'Z');
	ck_assert_str_eq(out + 24, " fmt[notice]: hello world\n");
	free(out);
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_level_parse);
	tcase_add_test(tc, test_level_parse_unknown);
	tcase_add_test(tc, test_level_name);
	tcase_add_test(tc, test_set_get_level);
	tcase_add_test(tc, test_filter_warning);
	tcase_add_test(tc, test_filter_every_level);
	tcase_add_test(tc, test_set_level_filters);
	tcase_add_test(tc, test_errno_preserved);
	tcase_add_test(tc, test_long_message);
	tcase_add_test(tc, test_line_format);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(log_suite());
}
