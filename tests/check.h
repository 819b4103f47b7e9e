/*
 * check.h - the assertions of the project's C tests. Each failing check
 * prints both sides with file:line and counts a failure; the test's main
 * returns check_finish(), which prints "N checks, N failed" and gives the
 * exit status meson reads.
 */
#ifndef TESTS_CHECK_H
#define TESTS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/*
 * The counters are per file, unless a test executable built from several
 * files defines CHECK_SHARED_COUNTERS in all of them (meson c_args) and
 * CHECK_DEFINE_COUNTERS in the one with main(): then every file counts into
 * one pair, and check_finish() reports them all.
 */
#ifdef CHECK_SHARED_COUNTERS
extern int check_total;
extern int check_failed;
#ifdef CHECK_DEFINE_COUNTERS
int check_total;
int check_failed;
#endif
#else
static int check_total;
static int check_failed;
#endif

#define CHECK(cond)                                                                     \
	do {                                                                            \
		check_total++;                                                          \
		if (!(cond)) {                                                          \
			check_failed++;                                                 \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		}                                                                       \
	} while (0)

#define CHECK_INT(a, b)                                                                 \
	do {                                                                            \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);         \
		check_total++;                                                          \
		if (check_a_ != check_b_) {                                             \
			check_failed++;                                                 \
			fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, \
				__LINE__, #a, #b, check_a_, check_b_);                   \
		}                                                                       \
	} while (0)

#define CHECK_STR(a, b)                                                                 \
	do {                                                                            \
		const char *check_a_ = (a), *check_b_ = (b);                            \
		check_total++;                                                          \
		if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {        \
			check_failed++;                                                 \
			fprintf(stderr, "%s:%d: %s == %s failed:\n  left:  \"%s\"\n  right: \"%s\"\n", \
				__FILE__, __LINE__, #a, #b, check_a_ ? check_a_ : "(null)", \
				check_b_ ? check_b_ : "(null)");                         \
		}                                                                       \
	} while (0)

/* Substring check: `hay` contains `needle`. */
#define CHECK_CONTAINS(hay, needle)                                                     \
	do {                                                                            \
		const char *check_h_ = (hay), *check_n_ = (needle);                     \
		check_total++;                                                          \
		if (!check_h_ || !strstr(check_h_, check_n_)) {                         \
			check_failed++;                                                 \
			fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,  \
				__LINE__, check_h_ ? check_h_ : "(null)", check_n_);      \
		}                                                                       \
	} while (0)

static inline int check_finish(void)
{
	fprintf(stderr, "%d checks, %d failed\n", check_total, check_failed);
	return check_failed ? 1 : 0;
}

#endif
