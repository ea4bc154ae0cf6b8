/*
 * check.h - minimal unit-test harness. Each test binary calls CHECK() and
 * ends main() with `return check_done();`, which prints
 * "NAME: N passed, N failed" and returns non-zero on any failure.
 */
#ifndef PM_CHECK_H
#define PM_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_pass, check_fail;

#define CHECK(cond)                                                         \
	do {                                                                \
		if (cond) {                                                 \
			check_pass++;                                       \
		} else {                                                    \
			check_fail++;                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n",        \
				__FILE__, __LINE__, #cond);                 \
		}                                                           \
	} while (0)

#define CHECK_STR(a, b)                                                     \
	do {                                                                \
		const char *a_ = (a), *b_ = (b);                            \
		if (a_ && b_ && strcmp(a_, b_) == 0) {                      \
			check_pass++;                                       \
		} else {                                                    \
			check_fail++;                                       \
			fprintf(stderr, "%s:%d: CHECK_STR failed: %s = \"%s\", " \
				"expected \"%s\"\n", __FILE__, __LINE__, #a,  \
				a_ ? a_ : "(null)", b_ ? b_ : "(null)");    \
		}                                                           \
	} while (0)

static inline int check_done_named(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, check_pass, check_fail);
	return check_fail ? 1 : 0;
}
#define check_done() check_done_named(__FILE__)

#endif
