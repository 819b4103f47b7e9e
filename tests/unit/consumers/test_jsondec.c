/*
 * test_jsondec.c - consumer__json_decode (consumers/jsondec.c) against
 * json_loadb(JSON_DECODE_ANY), the decoder it replaces on the receive path.
 *
 * For every input: both accept or both reject, and when both accept the
 * values are json_equal and dump (JSON_COMPACT | JSON_ENCODE_ANY) to the
 * same bytes (same key order, same integer-vs-real). Inputs: fixed RFC 8259
 * edge cases, depth 2047..2049, 20,000 random documents written in several
 * styles, documents with duplicate keys, and 50,000 byte-level mutations of
 * valid documents. Every input is passed in a buffer of exactly its length,
 * so an ASan build catches a read past the end.
 *
 * One difference is intended and asserted as such: jansson drops a NUL byte
 * that comes right after a number or a literal (it is the byte its lexer
 * reads ahead, and a NUL looks like the end of its buffer), so it accepts
 * "1\0" and "[1\0,2]"; jsondec refuses them, as RFC 8259 and Python's json
 * (Django Channels) do. For those inputs jsondec must reject, and must
 * accept the input without those NULs, giving jansson's value.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "consumer_int.h"
#include "json_random.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

/* A growable byte buffer (inputs may hold NUL). */
struct buf {
	char *p;
	size_t len, cap;
};

static void buf_put(struct buf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static char *dump(const json_t *v, size_t *n)
{
	*n = json_dumpb(v, NULL, 0, DUMP_FLAGS);
	char *s = malloc(*n + 1);
	json_dumpb(v, s, *n, DUMP_FLAGS);
	s[*n] = '\0';
	return s;
}

/* Prints `len` bytes as a C string body: printable ASCII as is, else \xNN. */
static void print_escaped(const char *data, size_t len)
{
	const size_t max = 4096;
	fputc('"', stderr);
	for (size_t i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)data[i];
		if (c == '\\' || c == '"')
			fprintf(stderr, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fputc('"', stderr);
	if (len > max)
		fprintf(stderr, " ... (%zu bytes in all)", len);
}

/*
 * Decodes `data` with both decoders; returns true when they agree. When
 * they don't and `print` is set, prints the input and both outcomes.
 * Every accepted value is also checked to dump identically; every rejection
 * by jsondec must come with a reason.
 */
static bool nul_lookahead_kind(const char *s, size_t n);

static bool agree(const char *data, size_t len, const char *what, bool print)
{
	/* An exact-size copy: ASan reports any read past `len`. */
	char *copy = malloc(len ? len : 1);
	memcpy(copy, data, len);
	json_error_t jerr;
	json_t *a = json_loadb(copy, len, JSON_DECODE_ANY, &jerr);
	const char *derr = "(unset)";
	json_t *b = consumer__json_decode(copy, len, &derr);
	char *da = NULL, *db = NULL;
	size_t na = 0, nb = 0;
	const char *why = NULL;

	if (a)
		da = dump(a, &na);
	if (b)
		db = dump(b, &nb);
	if (a && !b && nul_lookahead_kind(data, len))
		why = NULL; /* the intended difference (see the top of this file) */
	else if (!a != !b)
		why = a ? "jansson accepts, jsondec rejects" : "jansson rejects, jsondec accepts";
	else if (a && !json_equal(a, b))
		why = "values differ (json_equal)";
	else if (a && (na != nb || memcmp(da, db, na) != 0))
		why = "dumps differ (key order or integer/real)";
	else if (!b && (!derr || !*derr || strcmp(derr, "(unset)") == 0))
		why = "jsondec rejects without a reason";
	if (why && print) {
		fprintf(stderr, "DISAGREEMENT (%s): %s\n  input (%zu bytes): ", what, why, len);
		print_escaped(data, len);
		fprintf(stderr, "\n  jansson: ");
		if (a) {
			fprintf(stderr, "accepts ");
			print_escaped(da, na);
		} else {
			fprintf(stderr, "rejects: %s (position %d)", jerr.text, jerr.position);
		}
		fprintf(stderr, "\n  jsondec: ");
		if (b) {
			fprintf(stderr, "accepts ");
			print_escaped(db, nb);
		} else {
			fprintf(stderr, "rejects: %s", derr ? derr : "(null reason)");
		}
		fputc('\n', stderr);
	}
	free(da);
	free(db);
	json_decref(a);
	json_decref(b);
	free(copy);
	return why == NULL;
}

/* Expected jansson verdicts of the fixed cases (checked, so the list documents them). */
enum { REJ = 0, ACC = 1, ANY = 2 };

struct fixed {
	const char *name, *data;
	size_t len;
	int expect;
};

#define F(name, lit, expect) {name, lit, sizeof(lit) - 1, expect}

static const struct fixed fixed_cases[] = {
	F("empty", "", REJ),
	F("space only", " ", REJ),
	F("all whitespace only", " \t\r\n", REJ),
	F("whitespace around scalar", " \t\r\n1 \t\r\n", ACC),
	F("whitespace in array", "[ \t\r\n1 \t\r\n, \t\r\n2\t\r\n ]", ACC),
	F("whitespace in object", "{ \t\r\n\"a\" \t\r\n: \t\r\n1 \t\r\n, \"b\"\n:\r[\t]\n}\r", ACC),
	F("form feed is not whitespace", "\f1", REJ),
	F("vertical tab is not whitespace", "1\v", REJ),
	F("NBSP is not whitespace", "\xc2\xa0" "1", REJ),
	F("true", "true", ACC),
	F("false", "false", ACC),
	F("null", "null", ACC),
	F("zero", "0", ACC),
	F("string", "\"abc\"", ACC),
	F("empty string", "\"\"", ACC),
	F("empty array", "[]", ACC),
	F("empty object", "{}", ACC),
	F("nested empties", "[[],{},[[]],{\"a\":{}},[{}]]", ACC),
	F("nested empties ws", " [ [ ] , { } ] ", ACC),
	F("leading zero", "01", REJ),
	F("leading zero neg", "-01", REJ),
	F("double zero", "00", REJ),
	F("zero frac", "0.0", ACC),
	F("minus alone", "-", REJ),
	F("minus zero", "-0", ACC),
	F("minus zero real", "-0.0", ACC),
	F("minus zero exp", "-0e0", ACC),
	F("plus sign", "+1", REJ),
	F("dot end", "1.", REJ),
	F("dot start", ".5", REJ),
	F("minus dot", "-.5", REJ),
	F("exp end", "1e", REJ),
	F("exp plus end", "1e+", REJ),
	F("exp minus end", "1E-", REJ),
	F("dot exp", "1.e5", REJ),
	F("exp dot", "1e5.0", REJ),
	F("exp upper", "1E5", ACC),
	F("exp plus", "1e+5", ACC),
	F("exp minus", "-1.5e-5", ACC),
	F("exp leading zeros", "1e007", ACC),
	F("overflow", "1E400", REJ),
	F("overflow neg", "-1e400", REJ),
	F("overflow long mantissa", "1" "0000000000000000000000000000000000000000000000000000000000"
	  "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  ".0", REJ),
	F("underflow", "1e-400", ACC),
	F("underflow neg", "-1e-400", ACC),
	F("subnormal", "4e-320", ACC),
	F("smallest subnormal", "5e-324", ACC),
	F("int64 min", "-9223372036854775808", ACC),
	F("int64 max", "9223372036854775807", ACC),
	F("int64 max + 1", "9223372036854775808", REJ),
	F("int64 min - 1", "-9223372036854775809", REJ),
	F("huge int", "123456789012345678901234567890", REJ),
	F("int64 max + 1 as real", "9223372036854775808.0", ACC),
	F("big real", "1.7976931348623157e308", ACC),
	F("just over max real", "1.7976931348623159e308", REJ),
	F("long real", "3.14159265358979323846264338327950288419716939937510582097494459230781"
	  "640628620899862803482534211706798214808651328230664709384460955058223172535940", ACC),
	F("long int in array", "[1,-2,30,400,5000000000,-6e3]", ACC),
	F("number then letter", "1x", REJ),
	F("number then minus", "[1-2]", REJ),
	F("hex number", "0x10", REJ),
	F("NaN", "NaN", REJ),
	F("Infinity", "Infinity", REJ),
	F("-Infinity", "-Infinity", REJ),
	F("all escapes", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", ACC),
	F("bad escape", "\"\\a\"", REJ),
	F("escaped quote only", "\"\\\"\"", ACC),
	F("escape x", "\"\\x41\"", REJ),
	F("escape apostrophe", "\"\\'\"", REJ),
	F("escape 0", "\"\\0\"", REJ),
	F("u upper hex", "\"\\u00E9\\u20AC\\uABCD\"", ACC),
	F("u lower hex", "\"\\u00e9\\u20ac\\uabcd\"", ACC),
	F("u mixed hex", "\"\\u00eE\\uAbCd\"", ACC),
	F("u ascii", "\"\\u0041\\u007f\\u0001\\u001F\"", ACC),
	F("u short", "\"\\u12\"", REJ),
	F("u short at end", "\"\\u123", REJ),
	F("u non hex", "\"\\u12G4\"", REJ),
	F("U upper", "\"\\U0041\"", REJ),
	F("surrogate pair", "\"\\uD83D\\uDE00\"", ACC),
	F("surrogate pair lower", "\"\\ud83d\\ude00\"", ACC),
	F("max surrogate pair", "\"\\uDBFF\\uDFFF\"", ACC),
	F("min surrogate pair", "\"\\uD800\\uDC00\"", ACC),
	F("lone high", "\"\\uD800\"", REJ),
	F("lone high then text", "\"\\uD800abcdef\"", REJ),
	F("lone low", "\"\\uDC00\"", REJ),
	F("low then high", "\"\\uDC00\\uD800\"", REJ),
	F("high then non-low", "\"\\uD800\\u0041\"", REJ),
	F("high then high", "\"\\uD800\\uD800\"", REJ),
	F("high then other escape", "\"\\uD800\\n\"", REJ),
	F("high then short u", "\"\\uD800\\u12\"", REJ),
	F("u0000", "\"\\u0000\"", REJ),
	F("u0000 in key", "{\"\\u0000\":1}", REJ),
	F("u0000 in middle", "\"ab\\u0000cd\"", REJ),
	F("raw NUL in string", "\"a\x00" "b\"", REJ),
	F("raw 0x01 in string", "\"\x01\"", REJ),
	F("raw tab in string", "\"\t\"", REJ),
	F("raw newline in string", "\"\n\"", REJ),
	F("raw 0x1f in string", "\"\x1f\"", REJ),
	F("raw 0x7f in string", "\"\x7f\"", ACC),
	F("raw 0x7f outside", "\x7f", REJ),
	F("utf8 2/3/4 bytes", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"", ACC),
	F("utf8 in key", "{\"\xc3\xa9\":\"\xe2\x82\xac\"}", ACC),
	F("overlong 2 (C0 80)", "\"\xc0\x80\"", REJ),
	F("overlong 2 (C1 BF)", "\"\xc1\xbf\"", REJ),
	F("overlong 3", "\"\xe0\x80\xaf\"", REJ),
	F("overlong 3 edge", "\"\xe0\x9f\xbf\"", REJ),
	F("min 3 byte", "\"\xe0\xa0\x80\"", ACC),
	F("overlong 4", "\"\xf0\x80\x80\xaf\"", REJ),
	F("overlong 4 edge", "\"\xf0\x8f\xbf\xbf\"", REJ),
	F("surrogate bytes ED A0 80", "\"\xed\xa0\x80\"", REJ),
	F("surrogate bytes ED BF BF", "\"\xed\xbf\xbf\"", REJ),
	F("last before surrogates ED 9F BF", "\"\xed\x9f\xbf\"", ACC),
	F("above U+10FFFF (F4 90)", "\"\xf4\x90\x80\x80\"", REJ),
	F("F5 lead", "\"\xf5\x80\x80\x80\"", REJ),
	F("FF byte", "\"\xff\"", REJ),
	F("FE byte", "\"\xfe\"", REJ),
	F("truncated 2", "\"\xc3\"", REJ),
	F("truncated 3", "\"\xe2\x82\"", REJ),
	F("truncated 4", "\"\xf0\x9f\x98\"", REJ),
	F("truncated at end", "\"\xf0\x9f", REJ),
	F("stray continuation", "\"\x80\"", REJ),
	F("stray continuation after ascii", "\"a\xbf" "b\"", REJ),
	F("bad second byte", "\"\xc3\x41\"", REJ),
	F("bad third byte", "\"\xe2\x82\x41\"", REJ),
	F("bad fourth byte", "\"\xf0\x9f\x98\x41\"", REJ),
	F("utf8 outside string", "\xc3\xa9", REJ),
	F("invalid utf8 after value", "1\xff", REJ),
	F("invalid utf8 after value ws", "[1] \x80", REJ),
	F("BOM", "\xef\xbb\xbf" "1", REJ),
	F("escaped multibyte", "\"\\\xc3\xa9\"", REJ),
	F("raw NUL alone", "\x00", REJ),
	/*
	 * jansson 2.14 drops a NUL byte read as the lookahead that ends a number
	 * or a literal (stream_unget leaves a NUL in its buffer, which stream_get
	 * takes for "empty"): these are accepted.
	 */
	F("raw NUL after number", "1\x00", ACC),
	F("raw NUL after real", "-1.5e3\x00", ACC),
	F("raw NUL after true", "true\x00", ACC),
	F("raw NUL after null then ws", "null\x00 ", ACC),
	F("raw NUL after number in array", "[1\x00,2\x00]", ACC),
	F("raw NUL after literal in object", "{\"a\":false\x00}", ACC),
	F("two raw NULs after number", "1\x00\x00", REJ),
	F("raw NUL then number", "1\x00" "2", REJ),
	F("raw NUL after ws after number", "1 \x00", REJ),
	F("raw NUL after array", "[1]\x00", REJ),
	F("raw NUL after number dot", "1.\x00", REJ),
	F("raw NUL before value", "\x00" "1", REJ),
	F("raw NUL in array", "[1,\x00]", REJ),
	F("raw NUL after string", "\"a\"\x00", REJ),
	F("trailing garbage", "[1]x", REJ),
	F("two values", "1 2", REJ),
	F("two arrays", "[][]", REJ),
	F("two objects", "{}{}", REJ),
	F("trailing comma array", "[1,]", REJ),
	F("trailing comma object", "{\"a\":1,}", REJ),
	F("leading comma", "[,1]", REJ),
	F("empty element", "[1,,2]", REJ),
	F("missing comma", "[1 2]", REJ),
	F("missing colon", "{\"a\" 1}", REJ),
	F("double colon", "{\"a\"::1}", REJ),
	F("missing value", "{\"a\":}", REJ),
	F("non-string key", "{1:1}", REJ),
	F("bare key", "{a:1}", REJ),
	F("single quotes", "'a'", REJ),
	F("close only", "]", REJ),
	F("mismatched", "[}", REJ),
	F("mismatched obj", "{]", REJ),
	F("comma only", ",", REJ),
	F("colon only", ":", REJ),
	F("truex", "truex", REJ),
	F("true1", "true1", REJ),
	F("trues in array", "[truex]", REJ),
	F("nul", "nul", REJ),
	F("nulll", "nulll", REJ),
	F("fals", "fals", REJ),
	F("True", "True", REJ),
	F("tru at end", "[tru", REJ),
	F("literals packed", "[true,false,null]", ACC),
	F("duplicate keys", "{\"a\":1,\"b\":2,\"a\":3}", ACC),
	F("duplicate keys x3", "{\"a\":1,\"a\":[2],\"a\":{\"a\":3,\"a\":4}}", ACC),
	F("duplicate via escape", "{\"a\":1,\"b\":2,\"\\u0061\":3}", ACC),
	F("duplicate with bad later", "{\"a\":1,\"a\":}", REJ),
	F("empty key", "{\"\":1}", ACC),
	F("empty key twice", "{\"\":1,\"\":2}", ACC),
	F("escaped keys", "{\"\\n\\t\\\"\":1,\"\\u00e9\":2,\"\\uD83D\\uDE00\":3,\"\\/\":4}", ACC),
	F("key order", "{\"z\":1,\"a\":2,\"m\":3,\"b\":4}", ACC),
	F("int vs real", "[1,1.0,1e0,-0,-0.0,0e5]", ACC),
	F("unterminated string", "\"abc", REJ),
	F("unterminated string in array", "[\"abc]", REJ),
	F("unterminated array", "[1,2", REJ),
	F("unterminated array comma", "[1,", REJ),
	F("unterminated array open", "[", REJ),
	F("unterminated object", "{\"a\":1", REJ),
	F("unterminated object key", "{\"a\"", REJ),
	F("unterminated object colon", "{\"a\":", REJ),
	F("unterminated object open", "{", REJ),
	F("unterminated key", "{\"a", REJ),
	F("backslash last", "\"\\", REJ),
	F("backslash last after text", "\"abc\\", REJ),
	F("backslash quote last", "\"\\\"", REJ),
	F("backslash u last", "\"\\u", REJ),
	F("backslash last in key", "{\"\\", REJ),
	F("backslash outside", "\\", REJ),
	F("comment", "[1/*x*/]", REJ),
	F("slash", "/", REJ),
};

static void test_fixed(void)
{
	for (size_t i = 0; i < sizeof(fixed_cases) / sizeof(fixed_cases[0]); i++) {
		const struct fixed *f = &fixed_cases[i];
		CHECK(agree(f->data, f->len, f->name, true));
		/* The expectation documents what jansson does. */
		json_error_t e;
		json_t *v = json_loadb(f->data, f->len, JSON_DECODE_ANY, &e);
		if (f->expect != ANY && (v != NULL) != (f->expect == ACC))
			fprintf(stderr, "fixed case \"%s\": jansson %s, the table says %s\n",
				f->name, v ? "accepts" : "rejects",
				f->expect == ACC ? "accept" : "reject");
		CHECK(f->expect == ANY || (v != NULL) == (f->expect == ACC));
		json_decref(v);
		/* err may be NULL; the verdict is the same. */
		const char *err = NULL;
		json_t *d1 = consumer__json_decode(f->data, f->len, &err);
		json_t *d2 = consumer__json_decode(f->data, f->len, NULL);
		CHECK((d1 != NULL) == (d2 != NULL));
		CHECK(d1 ? err == NULL : err != NULL);
		json_decref(d1);
		json_decref(d2);
	}
	/* A document cut at every length: every prefix, both decoders. */
	static const char doc[] =
		"{\"a\":[1,-2.5e+3,true,false,null,\"x\\u00e9\\uD83D\\uDE00\\n\"],"
				  "\"\":{},\"b\":[[]],\"c\":\"\xc3\xa9\xf0\x9f\x98\x80\"}";
	for (size_t n = 0; n <= sizeof(doc) - 1; n++) {
		char name[32];
		snprintf(name, sizeof(name), "prefix %zu", n);
		CHECK(agree(doc, n, name, true));
	}
}

/*
 * Nesting: `n` copies of `open`, then `leaf`, then `n` copies of `close`.
 * jansson counts every value, scalars included, as one level and allows
 * 2048 levels.
 */
static void deep(int n, const char *open, const char *leaf, const char *close, int levels)
{
	struct buf b = {0};
	for (int i = 0; i < n; i++)
		buf_puts(&b, open);
	buf_puts(&b, leaf);
	for (int i = 0; i < n; i++)
		buf_puts(&b, close);
	char name[96];
	snprintf(name, sizeof(name), "depth: %d x '%s' around '%s' (%d levels)", n, open, leaf,
		 levels);
	CHECK(agree(b.p, b.len, name, true));
	json_error_t e;
	json_t *v = json_loadb(b.p, b.len, JSON_DECODE_ANY, &e);
	CHECK((v != NULL) == (levels <= 2048));
	json_decref(v);
	free(b.p);
}

static void test_depth(void)
{
	for (int n = 2046; n <= 2049; n++) {
		deep(n, "[", "", "]", n);
		deep(n, "[", "1", "]", n + 1);
		deep(n, "[", "\"s\"", "]", n + 1);
		deep(n, "[", "[]", "]", n + 1);
		deep(n, "[", "{}", "]", n + 1);
		deep(n, "{\"a\":", "{}", "}", n + 1);
		deep(n, "{\"a\":", "1", "}", n + 1);
		deep(n, "{\"a\":", "null", "}", n + 1);
		deep(n, "{\"a\":", "[]", "}", n + 1);
		if (n % 2 == 0)
			deep(n / 2, "[{\"a\":", "true", "}]", n + 1);
		else
			deep(n / 2, "[{\"a\":", "[]", "}]", n);
		deep(n, " [ ", " ", " ] ", n);
	}
}

/*
 * Rewrites a JSON text: between tokens, inserts runs of the four
 * whitespace characters; inside strings, lowercases the hex of \u escapes.
 */
static void restyle(const char *s, size_t n, struct buf *out)
{
	static const char ws[] = " \t\n\r";
	bool in_str = false;
	for (size_t i = 0; i < n; i++) {
		/* at token boundaries only: "1 2" is not "12" */
		bool edge = i == 0 || strchr("[]{},:", s[i]) || strchr("[]{},:", s[i - 1]);
		if (!in_str && edge && rand() % 3 == 0)
			for (int k = rand() % 3 + 1; k > 0; k--)
				buf_put(out, &ws[rand() % 4], 1);
		if (in_str && s[i] == '\\') {
			buf_put(out, s + i, 2);
			if (s[i + 1] == 'u') {
				for (int h = 0; h < 4; h++) {
					char c = s[i + 2 + h];
					if (c >= 'A' && c <= 'F' && rand() % 2)
						c = (char)(c - 'A' + 'a');
					buf_put(out, &c, 1);
				}
				i += 4;
			}
			i++;
			continue;
		}
		if (s[i] == '"')
			in_str = !in_str;
		buf_put(out, s + i, 1);
	}
	if (rand() % 2)
		buf_put(out, &ws[rand() % 4], 1);
}

/* Valid documents kept for the mutation stage. */
#define POOL_SIZE 2000
static struct buf pool[POOL_SIZE];
static int pool_len;

static void pool_add(const char *s, size_t n)
{
	struct buf *b = &pool[pool_len < POOL_SIZE ? pool_len++ : rand() % POOL_SIZE];
	b->len = 0;
	buf_put(b, s, n);
}

/*
 * True when jansson accepts `s` and jsondec accepts it with its NUL bytes
 * that follow a letter or a digit outside strings removed, giving the same
 * value: the disagreement is the one "raw NUL after number" shows.
 */
static bool nul_lookahead_kind(const char *s, size_t n)
{
	json_error_t e;
	json_t *a = json_loadb(s, n, JSON_DECODE_ANY, &e);
	struct buf b = {0};
	bool in_str = false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i], prev = i ? s[i - 1] : ' ';
		if (in_str && c == '\\' && i + 1 < n) {
			buf_put(&b, s + i++, 2);
			continue;
		}
		if (c == '"')
			in_str = !in_str;
		bool word = (prev >= '0' && prev <= '9') || (prev >= 'a' && prev <= 'z') ||
			    (prev >= 'A' && prev <= 'Z');
		if (!in_str && c == '\0' && word)
			continue;
		buf_put(&b, &c, 1);
	}
	json_t *d = consumer__json_decode(b.p ? b.p : "", b.len, NULL);
	size_t na, nd;
	char *da = a ? dump(a, &na) : NULL, *dd = d ? dump(d, &nd) : NULL;
	bool kind = da && dd && na == nd && memcmp(da, dd, na) == 0;
	free(da);
	free(dd);
	free(b.p);
	json_decref(a);
	json_decref(d);
	return kind;
}

struct tally {
	int runs, disagreements, nul_kind;
	const char *stage;
};

static void tally_one(struct tally *t, const char *s, size_t n)
{
	t->runs++;
	if (agree(s, n, t->stage, false))
		return;
	bool nul = nul_lookahead_kind(s, n);
	t->nul_kind += nul;
	/* Print the first of each kind (all with JSONDEC_ALL set). */
	int others_before = t->disagreements - (t->nul_kind - nul);
	if (getenv("JSONDEC_ALL") || (nul ? t->nul_kind == 1 : others_before == 0))
		agree(s, n, nul ? "NUL-lookahead kind" : t->stage, true);
	t->disagreements++;
}

static void tally_end(struct tally *t)
{
	fprintf(stderr,
		"%s: %d inputs, %d disagreements (%d of the NUL-lookahead kind, %d other)\n",
		t->stage, t->runs, t->disagreements, t->nul_kind, t->disagreements - t->nul_kind);
	CHECK_INT(t->disagreements, 0);
}

static void test_random(void)
{
	struct tally t = {.stage = "random documents"};
	int wrong_value = 0;
	for (int i = 0; i < 20000; i++) {
		json_t *v = json_random_value(0, false);
		size_t flags;
		switch (i % 4) {
		case 0: flags = JSON_COMPACT; break;
		case 1: flags = JSON_INDENT(2); break;
		case 2: flags = JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ESCAPE_SLASH; break;
		default: flags = JSON_INDENT(1) | JSON_ENSURE_ASCII; break;
		}
		flags |= JSON_ENCODE_ANY;
		size_t n = json_dumpb(v, NULL, 0, flags);
		char *s = malloc(n + 1);
		json_dumpb(v, s, n, flags);
		s[n] = '\0';
		struct buf styled = {0};
		restyle(s, n, &styled);
		tally_one(&t, s, n);
		tally_one(&t, styled.p, styled.len);
		/* ... and the value read back is the one written. */
		json_t *back = consumer__json_decode(styled.p, styled.len, NULL);
		if (!back || !json_equal(back, v))
			wrong_value++;
		json_decref(back);
		if (n < 400)
			pool_add(s, n);
		if (styled.len < 400 && rand() % 4 == 0)
			pool_add(styled.p, styled.len);
		free(styled.p);
		free(s);
		json_decref(v);
	}
	tally_end(&t);
	CHECK_INT(wrong_value, 0);
}

/* Objects written by hand with repeated keys (a json_t cannot hold them). */
static void test_duplicate_keys(void)
{
	static const char *const keys[] = {"\"a\"", "\"b\"", "\"\\u0061\"", "\"\"",
					   "\"\xc3\xa9\"", "\"\\u00E9\"", "\"\\u00e9\""};
	struct tally t = {.stage = "duplicate keys"};
	for (int i = 0; i < 3000; i++) {
		struct buf b = {0};
		buf_puts(&b, rand() % 4 ? "{" : "[{\"a\":{");
		for (int m = rand() % 6; m >= 0; m--) {
			buf_puts(&b, keys[rand() % (int)(sizeof(keys) / sizeof(keys[0]))]);
			buf_puts(&b, ":");
			json_t *v = json_random_value(2, false);
			size_t n;
			char *s = dump(v, &n);
			buf_put(&b, s, n);
			free(s);
			json_decref(v);
			if (m)
				buf_puts(&b, ",");
		}
		buf_puts(&b, b.p[0] == '[' ? "}}]" : "}");
		tally_one(&t, b.p, b.len);
		if (b.len < 400 && rand() % 4 == 0)
			pool_add(b.p, b.len);
		free(b.p);
	}
	tally_end(&t);
}

static const unsigned char interesting[] = {
	'"', '\\', '[', ']', '{', '}', ',', ':', '0', '1', '5', '9', '-', '+', '.', 'e', 'E', 'u',
	'a', 'f', 'n', 't', 'l', '/', ' ', '\t', '\n', '\r', 0x00, 0x01, 0x08, 0x0c, 0x1f, 0x7f,
	0x80, 0xbf, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xff};

static void mutate(struct buf *b)
{
	for (int k = rand() % 3 + 1; k > 0; k--) {
		size_t pos = b->len ? (size_t)rand() % b->len : 0;
		unsigned char c = interesting[rand() % (int)sizeof(interesting)];
		switch (rand() % 5) {
		case 0: /* replace */
			if (b->len)
				b->p[pos] = (char)c;
			break;
		case 1: /* insert */
			buf_put(b, "", 1); /* grow by one */
			memmove(b->p + pos + 1, b->p + pos, b->len - 1 - pos);
			b->p[pos] = (char)c;
			break;
		case 2: /* delete */
			if (b->len) {
				memmove(b->p + pos, b->p + pos + 1, b->len - pos - 1);
				b->len--;
			}
			break;
		case 3: { /* duplicate 1-4 bytes in place */
			size_t n = (size_t)(rand() % 4 + 1);
			if (pos + n > b->len)
				n = b->len - pos;
			char tmp[4];
			memcpy(tmp, b->p + pos, n);
			size_t old = b->len;
			buf_put(b, tmp, n);
			memmove(b->p + pos + n, b->p + pos, old - pos);
			memcpy(b->p + pos, tmp, n);
			break;
		}
		default: /* truncate */
			b->len = pos;
			break;
		}
	}
}

static void test_mutations(void)
{
	struct tally t = {.stage = "mutations"};
	int accepted = 0;
	for (size_t i = 0; i < sizeof(fixed_cases) / sizeof(fixed_cases[0]); i++)
		if (fixed_cases[i].expect == ACC)
			pool_add(fixed_cases[i].data, fixed_cases[i].len);
	const char *env = getenv("JSONDEC_MUTATIONS");
	int runs = env ? atoi(env) : 50000;
	for (int i = 0; i < runs; i++) {
		struct buf b = {0};
		const struct buf *src = &pool[rand() % pool_len];
		buf_put(&b, src->p, src->len);
		mutate(&b);
		json_error_t e;
		json_t *v = json_loadb(b.p, b.len, JSON_DECODE_ANY, &e);
		accepted += v != NULL;
		json_decref(v);
		tally_one(&t, b.p, b.len);
		free(b.p);
	}
	tally_end(&t);
	fprintf(stderr, "mutations: jansson accepted %d of %d\n", accepted, runs);
	CHECK(accepted > runs / 50 && accepted < runs - runs / 50); /* both sides are hit */
}

int main(void)
{
	srand(20261122);
	test_fixed();
	test_depth();
	test_random();
	test_duplicate_keys();
	test_mutations();
	for (int i = 0; i < POOL_SIZE; i++)
		free(pool[i].p);
	return check_finish();
}
