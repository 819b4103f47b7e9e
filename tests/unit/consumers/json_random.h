/*
 * json_random.h - random jansson values for tests: strings with escapes,
 * control characters and multi-byte UTF-8, integers at the json_int_t
 * limits, special reals, nested arrays and objects (at most ~5 levels).
 * Driven by rand(): seed with srand() for a reproducible sequence (one
 * rand() per statement, so the sequence does not depend on the compiler).
 */
#ifndef TESTS_UNIT_CONSUMERS_JSON_RANDOM_H
#define TESTS_UNIT_CONSUMERS_JSON_RANDOM_H

#include <jansson.h>
#include <stdbool.h>

/* A new value; `depth` 0 at the top. With `allow_nul`, some strings hold a
 * NUL byte (valid for jansson values, refused in JSON text as \u0000). */
json_t *json_random_value(int depth, bool allow_nul);

#endif
