/*
 * fuzz_http.c - fuzz target of lib/http/'s parsers and signed values.
 *
 * Every input goes through all of them; each step checks an invariant,
 * not only "no crash", and abort()s when one breaks:
 *  - http_url_decode: NULL or a string no longer than the input; identity
 *    when the input has no '%', '+' or NUL.
 *  - http_parse_query / http_parse_cookies: an object of valid-UTF-8
 *    strings that jansson can dump; no empty key.
 *  - http_unsign_json on the raw input under a fixed key: verifies only if
 *    the input is exactly what http_sign_json() makes from the decoded
 *    value and timestamp (so random bytes never verify).
 *  - sign/unsign round trip of the parsed query: equal object back; any
 *    one-byte change of the signed string is refused.
 *  - http_cookie_ambiguous: the header twice over is as ambiguous as once;
 *    a cookie the parser found, sent again with another value, is.
 *  - http_csrf_origin_ok / http_csrf_referer_check: no Host and no trusted
 *    list accept no origin; an input without separators or "*" trusts
 *    itself; a referer passes only as an https:// URL.
 */
#include "http.h"
#include "fuzz.h"
#include "http_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


static const unsigned char KEY[] = "fuzz-fixed-key";
#define KEYLEN (sizeof(KEY) - 1)
#define NOW 1700000000LL


static void check_decode(const char *s, size_t n, bool plus)
{
	char *out = http_url_decode(s, n, plus);
	bool plain = !memchr(s, '%', n) && !memchr(s, '\0', n) && (!plus || !memchr(s, '+', n));
	if (out) {
		REQUIRE(strlen(out) <= n);
		if (plain)
			REQUIRE(strlen(out) == n && memcmp(out, s, n) == 0);
	} else {
		REQUIRE(!plain);
	}
	free(out);
}

static void check_string_object(json_t *obj)
{
	const char *key;
	json_t *val;

	REQUIRE(json_is_object(obj));
	json_object_foreach(obj, key, val) {
		REQUIRE(*key != '\0');
		REQUIRE(text_utf8_valid(key, strlen(key)));
		REQUIRE(json_is_string(val));
		REQUIRE(text_utf8_valid(json_string_value(val), json_string_length(val)));
		REQUIRE(!memchr(json_string_value(val), 0, json_string_length(val)));
	}
	char *dump = json_dumps(obj, JSON_COMPACT);
	REQUIRE(dump != NULL);
	json_t *back = json_loads(dump, 0, NULL);
	REQUIRE(json_equal(back, obj));
	json_decref(back);
	free(dump);
}

/* If `s` verifies, it must be byte for byte the signing of what it holds. */
static void check_unsign_raw(const char *s)
{
	json_t *out = NULL;
	int rc = http_unsign_json(KEY, KEYLEN, s, NOW, 0, &out);
	REQUIRE(rc == CH_OK || rc == CH_EBADSIG);
	if (rc != CH_OK) {
		REQUIRE(out == NULL);
		return;
	}
	const char *d1 = strchr(s, '.');
	const char *d2 = strchr(d1 + 1, '.');
	size_t tlen;
	char *ts = (char *)http__b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &tlen);
	REQUIRE(ts != NULL);
	char *again = http_sign_json(KEY, KEYLEN, out, strtoll(ts, NULL, 10));
	REQUIRE(again && strcmp(again, s) == 0);
	free(again);
	free(ts);
	json_decref(out);
}

static void check_round_trip(json_t *obj, size_t seed)
{
	char *s = http_sign_json(KEY, KEYLEN, obj, NOW);
	REQUIRE(s != NULL);
	json_t *out = NULL;
	REQUIRE(http_unsign_json(KEY, KEYLEN, s, NOW + 10, 60, &out) == CH_OK);
	REQUIRE(json_equal(out, obj));
	json_decref(out);
	REQUIRE(http_unsign_json(KEY, KEYLEN, s, NOW + 61, 60, &out) == CH_EEXPIRED);
	REQUIRE(http_unsign_json(KEY, KEYLEN - 1, s, NOW, 0, &out) == CH_EBADSIG);

	/* One changed byte, at a position picked by the input. */
	size_t len = strlen(s);
	size_t pos = seed % len;
	char old = s[pos];
	s[pos] = old == 'A' ? 'B' : 'A';
	REQUIRE(http_unsign_json(KEY, KEYLEN, s, NOW, 0, &out) == CH_EBADSIG);
	REQUIRE(out == NULL);
	s[pos] = old;
	free(s);
}

static void check_cookie_ambiguous(const char *h, json_t *cookies)
{
	static const char *const names[] = {"a", "csrftoken"};
	size_t n = strlen(h);
	char *twice = malloc(2 * n + 3);
	REQUIRE(twice != NULL);
	snprintf(twice, 2 * n + 3, "%s; %s", h, h);
	for (size_t i = 0; i < 2; i++) {
		REQUIRE(http_cookie_ambiguous(twice, names[i]) == http_cookie_ambiguous(h, names[i]));
		const char *v = json_string_value(json_object_get(cookies, names[i]));
		if (!v)
			continue;
		char *more = NULL;
		REQUIRE(asprintf(&more, "%s; %s=%sx", h, names[i], v) >= 0);
		REQUIRE(http_cookie_ambiguous(more, names[i]));
		free(more);
	}
	free(twice);
}

static void check_csrf(const char *s)
{
	char buf[256];
	REQUIRE(!http_csrf_origin_ok(s, NULL, NULL));
	REQUIRE(!http_csrf_origin_ok(s, NULL, ""));
	REQUIRE(http_csrf_origin_ok(s, s, NULL));
	if (*s && !strpbrk(s, ", *"))
		REQUIRE(http_csrf_origin_ok(s, NULL, s));
	const char *why = http_csrf_referer_check(s, "example.com", s, buf, sizeof(buf));
	if (!why)
		REQUIRE(strncasecmp(s, "https://", 8) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char *str = malloc(size + 1); /* NUL-terminated copy for the C-string APIs */
	if (!str)
		return 0;
	memcpy(str, data, size);
	str[size] = '\0';

	check_decode(in, size, false);
	check_decode(in, size, true);

	json_t *q = http_parse_query(in, size);
	REQUIRE(q != NULL);
	check_string_object(q);
	size_t seed = 0;
	for (size_t i = 0; i < size; i++)
		seed = seed * 31 + data[i];
	check_round_trip(q, seed);
	json_decref(q);

	json_t *c = http_parse_cookies(str);
	REQUIRE(c != NULL);
	check_string_object(c);
	check_cookie_ambiguous(str, c);
	json_decref(c);
	check_csrf(str);

	check_unsign_raw(str);
	free(str);
	return 0;
}
