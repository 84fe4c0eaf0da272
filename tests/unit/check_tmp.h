/*
 * check_tmp.h: a temporary base folder for a unit test program.  The
 * parent process makes it before the test case and removes it after
 * (tcase_add_unchecked_fixture(tc, base_make, base_remove)), so even a
 * failed or timed-out test leaves nothing behind.  Define CHECK_TMP_NAME
 * before including.
 */
#ifndef OAND_CHECK_TMP_H
#define OAND_CHECK_TMP_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static char base[64];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Remove dir and everything below it; 0 or -1. */
static inline int rm_tree(const char *dir)
{
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void base_make(void)
{
	snprintf(base, sizeof(base), "/tmp/" CHECK_TMP_NAME ".XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		exit(EXIT_FAILURE);
	}
}

static void base_remove(void)
{
	rm_tree(base);
}

#endif
