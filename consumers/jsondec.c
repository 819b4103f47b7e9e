/*
 * jsondec.c - the JSON decoder of the receive path (see consumer_int.h):
 * small documents without jansson's per-call stream, lexer and error
 * setup. It parses a buffer in place into the same jansson values, accepting
 * what json_loadb(JSON_DECODE_ANY) accepts (RFC 8259, UTF-8, no \u0000,
 * integers that fit json_int_t, finite reals, values nested at most 2048
 * deep, scalars counted; on duplicate keys the last wins), with one
 * exception: a NUL byte right after a number or literal, which jansson's
 * lookahead drops, is refused, as RFC 8259 and Python's json do.
 * tests/unit/consumers/test_jsondec.c and the fuzz target compare the two.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "consumer_int.h"
#include "text.h"

#define JSONDEC_MAX_DEPTH 2048

struct in {
	const unsigned char *p, *end;
	int depth;
	const char *err;
};

static json_t *value(struct in *in);

static void skip_ws(struct in *in)
{
	while (in->p < in->end &&
	       (*in->p == ' ' || *in->p == '\n' || *in->p == '\r' || *in->p == '\t'))
		in->p++;
}

static json_t *fail(struct in *in, const char *why)
{
	if (!in->err)
		in->err = why;
	return NULL;
}

static int hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int d = text_hex_digit(p[i]);
		if (d < 0)
			return -1;
		v = v << 4 | (unsigned)d;
	}
	*out = v;
	return 0;
}

/*
 * The second pass of string(): the bytes s..e (checked by its first pass,
 * escapes included) unescaped into a malloc'd, NUL-terminated copy (never
 * longer than the source), its length in *len. NULL with *why set on an
 * invalid escape or ENOMEM.
 */
static char *unescape(const unsigned char *s, const unsigned char *e, size_t *len,
		      const char **why)
{
	char *o = malloc((size_t)(e - s) + 1), *w = o;
	if (!o) {
		*why = "out of memory";
		return NULL;
	}
	for (const unsigned char *p = s; p < e;) {
		if (*p != '\\') {
			*w++ = (char)*p++;
			continue;
		}
		p++;
		switch (*p++) {
		case '"': *w++ = '"'; break;
		case '\\': *w++ = '\\'; break;
		case '/': *w++ = '/'; break;
		case 'b': *w++ = '\b'; break;
		case 'f': *w++ = '\f'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 't': *w++ = '\t'; break;
		case 'u': {
			unsigned cp, lo;
			if (e - p < 4 || hex4(p, &cp) < 0)
				goto bad;
			p += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				goto bad; /* a lone low surrogate */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (e - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    hex4(p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
					goto bad;
				p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (cp == 0)
				goto bad; /* as jansson without JSON_ALLOW_NUL */
			w += text_utf8_encode(w, cp);
			break;
		}
		default:
			goto bad;
		}
	}
	*w = '\0';
	*len = (size_t)(w - o);
	return o;
bad:
	free(o);
	*why = "invalid escape";
	return NULL;
}

/*
 * The string at in->p (just past its opening quote). Returns its decoded
 * bytes: a pointer into the input when it has no escape (*owned NULL), or
 * into a malloc'd copy (*owned, caller frees). NULL on error.
 */
static const char *string(struct in *in, size_t *len, char **owned)
{
	const unsigned char *s = in->p;
	bool escapes = false;
	*owned = NULL;
	/* First pass: find the end, check the bytes. */
	while (in->p < in->end && *in->p != '"') {
		unsigned c = *in->p;
		if (c < 0x20)
			return fail(in, "control character in a string"), NULL;
		if (c == '\\') {
			escapes = true;
			if (in->end - in->p < 2)
				return fail(in, "unterminated string"), NULL;
			in->p += 2;
		} else if (c < 0x80) {
			in->p++;
		} else {
			size_t n = text_utf8_char_len(in->p, (size_t)(in->end - in->p));
			if (!n)
				return fail(in, "invalid UTF-8"), NULL;
			in->p += n;
		}
	}
	if (in->p >= in->end)
		return fail(in, "unterminated string"), NULL;
	const unsigned char *e = in->p++; /* the closing quote */
	if (!escapes) {
		*len = (size_t)(e - s);
		return (const char *)s;
	}
	const char *why = NULL;
	char *o = unescape(s, e, len, &why);
	if (!o)
		return fail(in, why), NULL;
	*owned = o;
	return o;
}

static json_t *number(struct in *in)
{
	const unsigned char *s = in->p, *p = s;
	bool is_real = false;
	if (p < in->end && *p == '-')
		p++;
	if (p < in->end && *p == '0') {
		p++;
	} else if (p < in->end && *p >= '1' && *p <= '9') {
		while (p < in->end && *p >= '0' && *p <= '9')
			p++;
	} else {
		return fail(in, "invalid number");
	}
	if (p < in->end && *p == '.') {
		is_real = true;
		p++;
		if (p >= in->end || *p < '0' || *p > '9')
			return fail(in, "invalid number");
		while (p < in->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < in->end && (*p == 'e' || *p == 'E')) {
		is_real = true;
		p++;
		if (p < in->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= in->end || *p < '0' || *p > '9')
			return fail(in, "invalid number");
		while (p < in->end && *p >= '0' && *p <= '9')
			p++;
	}
	in->p = p;
	char tmp[64], *num = tmp, *end;
	size_t n = (size_t)(p - s);
	if (n >= sizeof(tmp) && !(num = malloc(n + 1)))
		return fail(in, "out of memory");
	memcpy(num, s, n);
	num[n] = '\0';
	json_t *v = NULL;
	errno = 0;
	if (!is_real) {
		long long i = strtoll(num, &end, 10);
		if (errno == ERANGE)
			fail(in, "integer out of range");
		else
			v = json_integer((json_int_t)i);
	} else {
		double d = strtod(num, &end);
		if (errno == ERANGE && (d > 1.0 || d < -1.0))
			fail(in, "real number overflow");
		else
			v = json_real(d);
	}
	if (num != tmp)
		free(num);
	return v;
}

static bool literal(struct in *in, const char *word, size_t n)
{
	if ((size_t)(in->end - in->p) < n || memcmp(in->p, word, n) != 0)
		return false;
	in->p += n;
	return true;
}

static json_t *object(struct in *in)
{
	json_t *obj = json_object();
	if (!obj)
		return fail(in, "out of memory");
	skip_ws(in);
	if (in->p < in->end && *in->p == '}') {
		in->p++;
		return obj;
	}
	for (;;) {
		skip_ws(in);
		if (in->p >= in->end || *in->p != '"')
			goto bad;
		in->p++;
		size_t klen;
		char *owned;
		const char *k = string(in, &klen, &owned);
		if (!k)
			goto bad;
		/* Keys are C strings: copy one that came from the input. */
		char kbuf[128], *key = owned;
		if (!owned) {
			key = klen < sizeof(kbuf) ? kbuf : malloc(klen + 1);
			if (!key)
				goto bad;
			memcpy(key, k, klen);
			key[klen] = '\0';
		}
		skip_ws(in);
		json_t *v = NULL;
		if (in->p < in->end && *in->p == ':') {
			in->p++;
			v = value(in);
		} else {
			fail(in, "':' expected");
		}
		int rc = v ? json_object_set_new_nocheck(obj, key, v) : -1;
		if (key != kbuf)
			free(key);
		if (rc < 0)
			goto bad;
		skip_ws(in);
		if (in->p < in->end && *in->p == ',') {
			in->p++;
			continue;
		}
		if (in->p < in->end && *in->p == '}') {
			in->p++;
			return obj;
		}
		fail(in, "',' or '}' expected");
		goto bad;
	}
bad:
	json_decref(obj);
	return fail(in, "invalid object");
}

static json_t *array(struct in *in)
{
	json_t *arr = json_array();
	if (!arr)
		return fail(in, "out of memory");
	skip_ws(in);
	if (in->p < in->end && *in->p == ']') {
		in->p++;
		return arr;
	}
	for (;;) {
		json_t *v = value(in);
		if (!v || json_array_append_new(arr, v) < 0)
			goto bad;
		skip_ws(in);
		if (in->p < in->end && *in->p == ',') {
			in->p++;
			continue;
		}
		if (in->p < in->end && *in->p == ']') {
			in->p++;
			return arr;
		}
		fail(in, "',' or ']' expected");
		goto bad;
	}
bad:
	json_decref(arr);
	return fail(in, "invalid array");
}

static json_t *value(struct in *in)
{
	skip_ws(in);
	if (in->p >= in->end)
		return fail(in, "value expected");
	if (in->depth >= JSONDEC_MAX_DEPTH) /* this value would be one level deeper */
		return fail(in, "too deeply nested");
	switch (*in->p) {
	case '{':
	case '[': {
		in->depth++;
		bool obj = *in->p++ == '{';
		json_t *v = obj ? object(in) : array(in);
		in->depth--;
		return v;
	}
	case '"': {
		in->p++;
		size_t len;
		char *owned;
		const char *s = string(in, &len, &owned);
		if (!s)
			return NULL;
		json_t *v = json_stringn_nocheck(s, len);
		free(owned);
		return v ? v : fail(in, "out of memory");
	}
	case 't':
		return literal(in, "true", 4) ? json_true() : fail(in, "invalid literal");
	case 'f':
		return literal(in, "false", 5) ? json_false() : fail(in, "invalid literal");
	case 'n':
		return literal(in, "null", 4) ? json_null() : fail(in, "invalid literal");
	default:
		return number(in);
	}
}

json_t *consumer__json_decode(const char *data, size_t len, const char **err)
{
	struct in in = {.p = (const unsigned char *)data, .end = (const unsigned char *)data + len};
	json_t *v = value(&in);
	if (v) {
		skip_ws(&in);
		if (in.p != in.end) {
			json_decref(v);
			v = fail(&in, "data after the value");
		}
	}
	if (err)
		*err = v ? NULL : in.err ? in.err : "invalid JSON";
	return v;
}
