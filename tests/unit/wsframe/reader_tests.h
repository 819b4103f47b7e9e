/*
 * reader_tests.h - what the files of the test_wsframe executable share
 * (test_wsframe.c: the reader's valid input and main(); test_wsframe_errors.c:
 * its errors). They share check.h's counters (CHECK_SHARED_COUNTERS) and
 * frames.h's random sequence, so the checks run as in one file.
 */
#ifndef TESTS_UNIT_WSFRAME_READER_TESTS_H
#define TESTS_UNIT_WSFRAME_READER_TESTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "check.h"
#include "frames.h"

/* Checks got == want, printing both and `what` when they differ. */
#define CHECK_REC(got, want, what)                                                                 \
	do {                                                                                       \
		bool eq_ = rec_equal((got), (want));                                               \
		CHECK(eq_);                                                                        \
		if (!eq_) {                                                                        \
			fprintf(stderr, "  events differ: %s\n", (what));                          \
			rec_print("got", (got));                                                   \
			rec_print("want", (want));                                                 \
		}                                                                                  \
	} while (0)

/*
 * Feeds `in` whole, at every split point (two pieces), byte by byte and at
 * random 3..6-piece cuts; each run must end with `want_rc` and give `want`.
 * (test_wsframe.c)
 */
void check_all_splits(const char *what, const struct bytes *in, size_t max,
		      const struct rec *want, int want_rc);

/* test_wsframe_errors.c: protocol errors (1002), invalid UTF-8 (1007, and
 * refused at its first bad byte), messages over the limit (1009). */
void test_errors_1002(void);
void test_errors_1007(void);
void test_utf8_fail_fast(void);
void test_errors_1009(void);

#endif
