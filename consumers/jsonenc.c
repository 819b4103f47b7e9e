/*
 * jsonenc.c - the JSON encoder of the broadcast path (see consumer_int.h):
 * the bytes json_dumpb(JSON_COMPACT | JSON_ENCODE_ANY) gives, written
 * straight into the caller's buffer, for a value or for the projection of
 * an object on some of its keys, without building the projection or
 * jansson's per-call cycle-check table. Reals are formatted by jansson, so
 * the output stays identical to it.
 */
#include <stdio.h>
#include <string.h>

#include "consumer_int.h"

struct out {
	char *buf;
	size_t cap, len; /* len counts every byte, written or not */
	int depth;
};

/* Nesting deeper than this is refused (jansson refuses cycles; a depth
 * bound also keeps the recursion's stack use small). */
#define JSONENC_MAX_DEPTH 64

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len < o->cap) {
		size_t room = o->cap - o->len;
		memcpy(o->buf + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

static void putc1(struct out *o, char c)
{
	if (o->len < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

/* As jansson's dump_string without flags: '"', '\\' and control characters
 * escaped (\b \f \n \r \t, else \u00XX upper-case), everything else raw. */
static void put_string(struct out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	putc1(o, '"');
	size_t run = 0; /* start of the bytes not yet written */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(o, s + run, i - run);
		run = i + 1;
		char esc[6] = {'\\', 0};
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			put(o, esc, 6);
			continue;
		}
		put(o, esc, 2);
	}
	put(o, s + run, n - run);
	putc1(o, '"');
}

static int put_value(struct out *o, json_t *v);

static int put_member(struct out *o, bool *first, const char *key, json_t *v)
{
	if (!*first)
		putc1(o, ',');
	*first = false;
	put_string(o, key, strlen(key));
	putc1(o, ':');
	return put_value(o, v);
}

static int put_value(struct out *o, json_t *v)
{
	char num[32];
	switch (json_typeof(v)) {
	case JSON_STRING:
		put_string(o, json_string_value(v), json_string_length(v));
		return 0;
	case JSON_INTEGER: {
		int n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		put(o, num, (size_t)n);
		return 0;
	}
	case JSON_TRUE:
		put(o, "true", 4);
		return 0;
	case JSON_FALSE:
		put(o, "false", 5);
		return 0;
	case JSON_NULL:
		put(o, "null", 4);
		return 0;
	case JSON_REAL: {
		size_t n = json_dumpb(v, num, sizeof(num), JSON_COMPACT | JSON_ENCODE_ANY);
		if (n == 0 || n > sizeof(num))
			return -1;
		put(o, num, n);
		return 0;
	}
	case JSON_ARRAY: {
		if (++o->depth > JSONENC_MAX_DEPTH)
			return -1;
		putc1(o, '[');
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				putc1(o, ',');
			if (put_value(o, json_array_get(v, i)) < 0)
				return -1;
		}
		putc1(o, ']');
		o->depth--;
		return 0;
	}
	case JSON_OBJECT: {
		if (++o->depth > JSONENC_MAX_DEPTH)
			return -1;
		bool first = true;
		const char *key;
		json_t *m;
		putc1(o, '{');
		json_object_foreach(v, key, m) {
			if (put_member(o, &first, key, m) < 0)
				return -1;
		}
		putc1(o, '}');
		o->depth--;
		return 0;
	}
	}
	return -1;
}

/* True when `*f` already appeared before it in `fields`. */
static bool seen_before(const char *const *fields, const char *const *f)
{
	for (const char *const *p = fields; p != f; p++)
		if (strcmp(*p, *f) == 0)
			return true;
	return false;
}

size_t consumer__json_encode(json_t *v, const char *const *fields, char *buf, size_t cap)
{
	struct out o = {.buf = buf, .cap = cap};
	if (!v)
		return 0;
	if (!fields)
		return put_value(&o, v) < 0 ? 0 : o.len;
	if (!json_is_object(v))
		return 0;
	bool first = true;
	putc1(&o, '{');
	o.depth = 1;
	for (const char *const *f = fields; *f; f++) {
		json_t *m = json_object_get(v, *f);
		if (m && !seen_before(fields, f) && put_member(&o, &first, *f, m) < 0)
			return 0;
	}
	putc1(&o, '}');
	return o.len;
}
