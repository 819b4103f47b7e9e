/*
 * fuzz.h - what every fuzz target shares: the entry point libFuzzer (or
 * standalone.c, which replays a corpus as a test) calls, and REQUIRE(),
 * which aborts with the broken invariant's text.
 */
#ifndef FUZZ_FUZZ_H
#define FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                   \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                 \
			abort();                                                        \
		}                                                                       \
	} while (0)

#endif
