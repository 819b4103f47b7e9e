/*
 * test_jsonenc.c - consumer__json_encode (consumers/jsonenc.c) gives the
 * very bytes of json_dumpb(JSON_COMPACT | JSON_ENCODE_ANY), for fixed
 * cases and for random documents, whole or projected on some keys, and
 * handles short buffers as json_dumpb does (full length returned).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "consumer_int.h"
#include "json_random.h"

static const char *const FLAGS_NOTE = "JSON_COMPACT | JSON_ENCODE_ANY";

static char *jansson(json_t *v)
{
	size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	char *s = malloc(n + 1);
	json_dumpb(v, s, n, JSON_COMPACT | JSON_ENCODE_ANY);
	s[n] = '\0';
	return s;
}

static char *ours(json_t *v, const char *const *fields)
{
	size_t n = consumer__json_encode(v, fields, NULL, 0);
	char *s = malloc(n + 1);
	CHECK_INT(consumer__json_encode(v, fields, s, n), n);
	s[n] = '\0';
	return s;
}

static void same(json_t *v, const char *what)
{
	char *a = jansson(v), *b = ours(v, NULL);
	if (strcmp(a, b) != 0)
		fprintf(stderr, "%s (%s):\n  jansson %s\n  ours    %s\n", what, FLAGS_NOTE, a, b);
	CHECK_STR(b, a);
	free(a);
	free(b);
}

static void test_fixed(void)
{
	json_t *v = json_pack("{s:s,s:s,s:s}", "type", "chat.message", "message", "héllo \"x\"\n",
			      "username", "anon-1a2b3c");
	same(v, "chat message");
	static const char *const fields[] = {"message", "username", NULL};
	char *b = ours(v, fields);
	CHECK_STR(b, "{\"message\":\"héllo \\\"x\\\"\\n\",\"username\":\"anon-1a2b3c\"}");
	free(b);
	/* Missing fields are left out, repeated ones written once. */
	static const char *const odd[] = {"nope", "username", "type", "username", NULL};
	b = ours(v, odd);
	CHECK_STR(b, "{\"username\":\"anon-1a2b3c\",\"type\":\"chat.message\"}");
	free(b);
	static const char *const none[] = {NULL};
	b = ours(v, none);
	CHECK_STR(b, "{}");
	free(b);
	/* fields on a non-object, and NULL: not encodable. */
	json_t *s = json_string("x");
	CHECK_INT(consumer__json_encode(s, fields, NULL, 0), 0);
	CHECK_INT(consumer__json_encode(NULL, NULL, NULL, 0), 0);
	same(s, "a bare string");
	json_decref(s);

	/* A short buffer: cut, nothing written past cap, full length returned. */
	char small[8];
	memset(small, '#', sizeof(small));
	size_t full = consumer__json_encode(v, NULL, small, 5);
	char *a = jansson(v);
	CHECK_INT(full, strlen(a));
	CHECK(memcmp(small, a, 5) == 0);
	CHECK(small[5] == '#' && small[7] == '#');
	free(a);
	json_decref(v);

	json_t *nums = json_pack("[I,I,f,f,f]", (json_int_t)-9223372036854775807LL - 1,
				 (json_int_t)9223372036854775807LL, 0.1, 1e300, -0.0);
	same(nums, "integers and reals");
	json_decref(nums);
	json_t *ctl = json_stringn("\x00\x01\x1f\x7f\"\\/", 7);
	same(ctl, "control characters");
	json_decref(ctl);

	/* Nesting over 64 levels is refused (0), 64 is fine. */
	json_t *deep = json_array(), *inner = deep;
	for (int i = 1; i < 64; i++) {
		json_t *a2 = json_array();
		json_array_append_new(inner, a2);
		inner = a2;
	}
	same(deep, "64 levels");
	json_array_append_new(inner, json_array());
	CHECK_INT(consumer__json_encode(deep, NULL, NULL, 0), 0);
	json_decref(deep);
}

static void test_random(void)
{
	srand(20261121);
	static const char *const fields[] = {"a", "Z", "\"", "\xc3\xa9", "{}", NULL};
	for (int i = 0; i < 3000; i++) {
		json_t *v = json_random_value(0, true);
		same(v, "random document");
		if (json_is_object(v)) {
			/* the projection equals jansson's dump of the projected object */
			json_t *p = json_object();
			for (const char *const *f = fields; *f; f++) {
				json_t *m = json_object_get(v, *f);
				if (m && !json_object_get(p, *f))
					json_object_set(p, *f, m);
			}
			char *a = jansson(p), *b = ours(v, fields);
			CHECK_STR(b, a);
			free(a);
			free(b);
			json_decref(p);
		}
		json_decref(v);
	}
}

int main(void)
{
	test_fixed();
	test_random();
	return check_finish();
}
