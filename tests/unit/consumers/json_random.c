/*
 * json_random.c - random jansson documents for the JSON encoder and decoder
 * tests (see json_random.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_random.h"

static json_t *rand_string(bool allow_nul)
{
	static const char *const pieces[] = {
		"a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\r", "\b", "\f", "\x01", "\x1f",
		"\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
		"\xed\x9f\xbf", "\xee\x80\x80", "{}", ":,", "[", "0", "-1e5", "u", "\\u0041"};
	char buf[512] = "";
	size_t len = 0, n = (size_t)(rand() % 12);
	for (size_t i = 0; i < n; i++) {
		const char *p = pieces[rand() % (int)(sizeof(pieces) / sizeof(pieces[0]))];
		size_t pl = strlen(p);
		memcpy(buf + len, p, pl);
		len += pl;
	}
	if (allow_nul && rand() % 8 == 0) /* a jansson string may hold a NUL */
		buf[len++] = '\0';
	buf[len] = '\0';
	return json_stringn(buf, len);
}

/* One rand() per statement: the sequence must not depend on the compiler's evaluation order. */
static json_int_t rand_int(void)
{
	int kind = rand() % 6;
	json_int_t a = rand(), b = rand(), sign = rand() % 2 ? 1 : -1;
	switch (kind) {
	case 0: return a % 10;
	case 1: return INT64_MAX - a % 3;
	case 2: return INT64_MIN + a % 3;
	case 3: return (a << 32 | b) * sign;
	default: return a * sign * (b % 1000);
	}
}

static double rand_real(void)
{
	static const double special[] = {0.0, -0.0, 1e300, -1e300, 1.7976931348623157e308,
					 5e-324, 2.2250738585072014e-308, 1e-310, 1e22, 1e21,
					 123456789012345678.0, 0.1, 0.5, -2.5};
	if (rand() % 3 == 0)
		return special[rand() % (int)(sizeof(special) / sizeof(special[0]))];
	double r = (double)rand() / 7.0;
	return r * (rand() % 2 ? 1 : -1e-5);
}

json_t *json_random_value(int depth, bool allow_nul)
{
	int k = rand() % (depth > 3 ? 6 : 8);
	switch (k) {
	case 0: return rand_string(allow_nul);
	case 1: return json_integer(rand_int());
	case 2: return json_real(rand_real());
	case 3: return json_true();
	case 4: return json_false();
	case 5: return json_null();
	case 6: {
		json_t *a = json_array();
		for (int i = rand() % 4; i > 0; i--)
			json_array_append_new(a, json_random_value(depth + 1, allow_nul));
		return a;
	}
	default: {
		json_t *o = json_object();
		for (int i = rand() % 5; i > 0; i--) {
			json_t *key = rand_string(false); /* keys are C strings */
			json_object_set_new(o, json_string_value(key), json_random_value(depth + 1, allow_nul));
			json_decref(key);
		}
		return o;
	}
	}
}

