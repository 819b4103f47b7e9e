/*
 * test_wsframe_codec.c - unit tests of lib/wsframe/'s byte helpers:
 * wsframe_utf8_valid (vectors, every offset, random strings against an
 * independent decoder), wsframe_utf8_scan (fails at the first impossible
 * byte, by the same decoder; pieces give the state of the whole),
 * wsframe_unmask (against a bytewise reference at every alignment) and
 * wsframe_header (each length encoding).
 */
#include "check.h"
#include "frames.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ---- */

/* An independent reference: decodes each code point and checks its range. */
static bool utf8_ref(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned c = s[i];
		size_t n;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (len - i < n)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

/* Known valid and invalid sequences, checked against the reference too. */
static void utf8_vectors(void)
{
	static const struct {
		const char *s;
		bool ok;
	} v[] = {
	    {"", true},
	    {"hello, world", true},
	    {"\x7f", true},
	    {"\xc2\x80", true},
	    {"\xdf\xbf", true},
	    {"\xc3\xa9t\xc3\xa9", true},
	    {"\xe0\xa0\x80", true},
	    {"\xe2\x82\xac", true},
	    {"\xed\x9f\xbf", true},
	    {"\xee\x80\x80", true},
	    {"\xef\xbf\xbf", true},
	    {"\xf0\x90\x80\x80", true},
	    {"\xf0\x9f\x98\x80", true},
	    {"\xf4\x8f\xbf\xbf", true},
	    {"\xc0\x80", false},
	    {"\xc1\xbf", false},
	    {"\xe0\x80\x80", false},
	    {"\xe0\x9f\xbf", false},
	    {"\xf0\x80\x80\x80", false},
	    {"\xf0\x8f\xbf\xbf", false},
	    {"\xed\xa0\x80", false},
	    {"\xed\xbf\xbf", false},
	    {"\xf4\x90\x80\x80", false},
	    {"\xf5\x80\x80\x80", false},
	    {"\xf7\xbf\xbf\xbf", false},
	    {"\xf8\x88\x80\x80\x80", false},
	    {"\xfc\x84\x80\x80\x80\x80", false},
	    {"\xfe", false},
	    {"\xff", false},
	    {"\xc3", false},
	    {"\xe2\x82", false},
	    {"\xf0\x9f\x98", false},
	    {"abc\xe2", false},
	    {"abcdefgh\xf0\x9f", false},
	    {"\x80", false},
	    {"\xbf", false},
	    {"a\x80z", false},
	    {"\xc3\xa9\xa9", false},
	    {"\xc3\x28", false},
	    {"\xe2\x28\xa1", false},
	    {"\xe2\x82\x28", false},
	    {"\xf0\x28\x8c\xbc", false},
	    {"\xf0\x9f\x28\x80", false},
	    {"\xf0\x9f\x98\x28", false},
	    {"\xe2\x82\xc3\xa9", false},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		const unsigned char *s = (const unsigned char *)v[i].s;
		size_t n = strlen(v[i].s);
		bool got = wsframe_utf8_valid(s, n);
		CHECK_INT(got, v[i].ok);
		CHECK_INT(utf8_ref(s, n), v[i].ok); /* the reference agrees */
		if (got != v[i].ok)
			fprintf(stderr, "  vector %zu\n", i);
	}
	/* an empty string through a NULL pointer */
	CHECK(wsframe_utf8_valid(NULL, 0));
}

static void utf8_offsets(void)
{
	/* ASCII runs (each start alignment) with one bad byte at every offset */
	static const unsigned char bad[] = {0x80, 0xbf, 0xc0, 0xc2, 0xe2, 0xed, 0xf4, 0xf5, 0xff};
	unsigned char buf[64];
	int wrong = 0;
	for (size_t start = 0; start < 8; start++) {
		for (size_t len = 1; len <= 40; len++) {
			memset(buf, 'a', sizeof(buf));
			if (!wsframe_utf8_valid(buf + start, len))
				wrong++;
			for (size_t off = 0; off <= 16 && off < len; off++) {
				for (size_t b = 0; b < sizeof(bad); b++) {
					memset(buf, 'a', sizeof(buf));
					buf[start + off] = bad[b];
					if (wsframe_utf8_valid(buf + start, len))
						wrong++;
				}
				/* a valid 2-byte char at the offset */
				if (off + 1 < len) {
					memset(buf, 'a', sizeof(buf));
					buf[start + off] = 0xc3;
					buf[start + off + 1] = 0xa9;
					if (!wsframe_utf8_valid(buf + start, len))
						wrong++;
				}
			}
		}
	}
	CHECK_INT(wrong, 0);
}

static void utf8_random(void)
{
	/* random strings, mostly near-valid, against the reference */
	static const unsigned char pool[] = {'a',  'z',	 0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0,
					     0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed,
					     0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
	unsigned char buf[64];
	int wrong = 0;
	for (int t = 0; t < 200000; t++) {
		size_t len = rnd() % 24;
		for (size_t i = 0; i < len; i++)
			buf[i] = pool[rnd() % sizeof(pool)];
		if (wsframe_utf8_valid(buf, len) != utf8_ref(buf, len) && wrong++ < 5) {
			fprintf(stderr, "  utf8 mismatch on:");
			for (size_t i = 0; i < len; i++)
				fprintf(stderr, " %02x", buf[i]);
			fprintf(stderr, " (ref %d)\n", utf8_ref(buf, len));
		}
	}
	CHECK_INT(wrong, 0);
}

static void test_utf8(void)
{
	utf8_vectors();
	utf8_offsets();
	utf8_random();
}

/* True when s[0..len) is the start of some valid UTF-8 (valid, or valid
 * but for a character that the right 1-3 bytes would complete), by the
 * reference: the first continuation byte is 80, 90 or A0 (one of them
 * suits every lead byte), the others 80. */
static bool utf8_ref_prefix(const unsigned char *s, size_t len)
{
	if (utf8_ref(s, len))
		return true;
	static const unsigned char first[] = {0x80, 0x90, 0xa0};
	unsigned char buf[64];
	if (len + 3 > sizeof(buf))
		return false;
	memcpy(buf, s, len);
	for (size_t k = 1; k <= 3; k++)
		for (size_t f = 0; f < sizeof(first); f++) {
			buf[len] = first[f];
			for (size_t i = 1; i < k; i++)
				buf[len + i] = 0x80;
			if (utf8_ref(buf, len + k))
				return true;
		}
	return false;
}

/*
 * The incremental check: scanning in pieces gives the state of scanning
 * whole; it is REJECT exactly from the first byte after which the input can
 * no longer start valid UTF-8 (the reference's prefix test), and ACCEPT
 * exactly when the input so far is valid.
 */
static void test_utf8_scan(void)
{
	CHECK_INT(wsframe_utf8_scan(WSFRAME_UTF8_ACCEPT, NULL, 0), WSFRAME_UTF8_ACCEPT);
	CHECK_INT(wsframe_utf8_scan(WSFRAME_UTF8_REJECT, (const unsigned char *)"a", 1),
		  WSFRAME_UTF8_REJECT);
	/* a 4-byte character in four scans: inside it until the last byte */
	const unsigned char *smile = (const unsigned char *)"\xf0\x9f\x98\x80";
	unsigned st = WSFRAME_UTF8_ACCEPT;
	for (int i = 0; i < 4; i++) {
		st = wsframe_utf8_scan(st, smile + i, 1);
		if (i < 3)
			CHECK(st != WSFRAME_UTF8_ACCEPT && st != WSFRAME_UTF8_REJECT);
	}
	CHECK_INT(st, WSFRAME_UTF8_ACCEPT);

	static const unsigned char pool[] = {'a',  'z',	 0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0,
					     0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed,
					     0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
	unsigned char buf[40];
	int wrong = 0;
	for (int t = 0; t < 100000; t++) {
		size_t len = 1 + rnd() % 30;
		for (size_t i = 0; i < len; i++)
			buf[i] = rnd() % 4 ? pool[rnd() % sizeof(pool)] : (unsigned char)rnd();
		/* byte by byte against the reference, prefix by prefix */
		st = WSFRAME_UTF8_ACCEPT;
		for (size_t i = 0; i < len; i++) {
			st = wsframe_utf8_scan(st, buf + i, 1);
			bool ok_prefix = utf8_ref_prefix(buf, i + 1);
			bool valid = utf8_ref(buf, i + 1);
			if (((st == WSFRAME_UTF8_REJECT) == ok_prefix ||
			     (st == WSFRAME_UTF8_ACCEPT) != valid) &&
			    wrong++ < 5) {
				fprintf(stderr, "  scan state %u after byte %zu of:", st, i);
				for (size_t k = 0; k < len; k++)
					fprintf(stderr, " %02x", buf[k]);
				fprintf(stderr, " (ref prefix %d, valid %d)\n", ok_prefix, valid);
			}
		}
		/* in two pieces at a random cut: the same state as whole */
		size_t cut = rnd() % (len + 1);
		unsigned whole = wsframe_utf8_scan(WSFRAME_UTF8_ACCEPT, buf, len);
		unsigned two = wsframe_utf8_scan(wsframe_utf8_scan(WSFRAME_UTF8_ACCEPT, buf, cut),
						 buf + cut, len - cut);
		if ((whole != st || two != st) && wrong++ < 5)
			fprintf(stderr, "  whole %u, cut at %zu %u, bytewise %u\n", whole, cut, two,
				st);
	}
	CHECK_INT(wrong, 0);

	/* long ASCII runs around a character, every cut */
	unsigned char run[64];
	memset(run, 'a', sizeof(run));
	memcpy(run + 29, "\xe2\x82\xac", 3);
	for (size_t cut = 0; cut <= sizeof(run); cut++) {
		st = wsframe_utf8_scan(WSFRAME_UTF8_ACCEPT, run, cut);
		st = wsframe_utf8_scan(st, run + cut, sizeof(run) - cut);
		if (st != WSFRAME_UTF8_ACCEPT && wrong++ < 3)
			fprintf(stderr, "  ASCII run cut at %zu: state %u\n", cut, st);
	}
	CHECK_INT(wrong, 0);
}

/* ---- unmask and header ---- */

static void test_unmask(void)
{
	int wrong = 0;
	for (size_t off = 0; off < 8; off++) {
		for (size_t len = 0; len <= 40; len++) {
			unsigned char a[64], b[64], mask[4];
			for (size_t i = 0; i < sizeof(a); i++)
				a[i] = b[i] = (unsigned char)rnd();
			for (int i = 0; i < 4; i++)
				mask[i] = (unsigned char)rnd();
			for (size_t i = 0; i < len; i++)
				b[off + i] ^= mask[i % 4];
			wsframe_unmask(a + off, len, mask);
			if (memcmp(a, b, sizeof(a)) != 0 && wrong++ < 3)
				fprintf(stderr, "  unmask differs: offset %zu, length %zu\n", off,
					len);
		}
	}
	CHECK_INT(wrong, 0);
	/* twice is the identity */
	unsigned char p[37], q[37], mask[4] = {1, 2, 3, 4};
	for (size_t i = 0; i < sizeof(p); i++)
		p[i] = q[i] = (unsigned char)i;
	wsframe_unmask(p + 1, 36, mask);
	wsframe_unmask(p + 1, 36, mask);
	CHECK(memcmp(p, q, sizeof(p)) == 0);
}

static void test_header(void)
{
	static const struct {
		unsigned op;
		uint64_t len;
		size_t n;
		unsigned char want[10];
	} v[] = {
	    {1, 0, 2, {0x81, 0x00}},
	    {2, 125, 2, {0x82, 0x7d}},
	    {1, 126, 4, {0x81, 0x7e, 0x00, 0x7e}},
	    {2, 65535, 4, {0x82, 0x7e, 0xff, 0xff}},
	    {1, 65536, 10, {0x81, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}},
	    {2, 200000, 10, {0x82, 0x7f, 0, 0, 0, 0, 0, 0x03, 0x0d, 0x40}},
	    {2, (uint64_t)1 << 40, 10, {0x82, 0x7f, 0, 0, 0x01, 0, 0, 0, 0, 0}},
	    {8, 2, 2, {0x88, 0x02}},
	    {9, 125, 2, {0x89, 0x7d}},
	    {10, 0, 2, {0x8a, 0x00}},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		unsigned char out[16];
		memset(out, 0xee, sizeof(out));
		size_t n = wsframe_header(out, v[i].op, v[i].len);
		CHECK_INT(n, v[i].n);
		bool same = memcmp(out, v[i].want, v[i].n) == 0;
		CHECK(same);
		if (!same)
			fprintf(stderr, "  header for op %u len %llu differs\n", v[i].op,
				(unsigned long long)v[i].len);
		CHECK_INT(out[v[i].n], 0xee); /* nothing written past it */
	}
}

int main(void)
{
	test_utf8();
	test_utf8_scan();
	test_unmask();
	test_header();
	return check_finish();
}
