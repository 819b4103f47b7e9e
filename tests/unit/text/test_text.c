/*
 * test_text.c - unit tests of lib/text/: the growable buffer (growth,
 * printf, take, reset, the latched failure), HTML escaping as Django's
 * escape(), UTF-8 (text_utf8_valid: vectors, every offset, random strings
 * against an independent decoder; text_utf8_scan: fails at the first
 * impossible byte, every split of every multi-byte character, pieces give
 * the state of the whole; decode, encode, count) and percent-decoding
 * (lenient with '+' as the HTTP parsers use it, strict and bounded as the
 * redis:// URL parser does).
 */
#include "check.h"
#include "text.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deterministic xorshift: every run tests the same strings. */
static uint32_t rnd(void)
{
	static uint64_t rng = 0x9e3779b97f4a7c15ull;
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}

/* ---- the buffer ---- */

static void test_buf(void)
{
	struct text_buf b;
	text_buf_init(&b);

	CHECK_INT(text_buf_append(&b, NULL, 0), 0);
	CHECK(b.data != NULL);
	CHECK_STR(b.data, "");
	CHECK_INT(text_buf_append(&b, "abc", 3), 0);
	CHECK_INT(text_buf_printf(&b, "-%d-%s", 42, "x"), 0);
	CHECK_STR(b.data, "abc-42-x");
	CHECK_INT(b.len, 8);
	text_buf_free(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);

	/* Growth past 1 MB, by appends and by one large printf. */
	char chunk[1000];
	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 1100; i++)
		CHECK_INT(text_buf_append(&b, chunk, sizeof(chunk)), 0);
	CHECK_INT(b.len, 1100000);
	CHECK(b.cap > b.len);
	CHECK_INT(b.data[b.len], '\0');
	CHECK_INT(strlen(b.data), 1100000);
	text_buf_free(&b);

	char *big = malloc(2000001);
	if (!big)
		abort();
	memset(big, 'y', 2000000);
	big[2000000] = '\0';
	CHECK_INT(text_buf_printf(&b, "<%s>", big), 0);
	CHECK_INT(b.len, 2000002);
	CHECK_INT(b.data[0], '<');
	CHECK_INT(b.data[2000001], '>');
	CHECK_INT(b.data[2000002], '\0');
	free(big);
	text_buf_free(&b);
}

static void test_buf_more(void)
{
	struct text_buf b = {0};
	/* putc, puts, reserve */
	CHECK_INT(text_buf_putc(&b, 'x'), 0);
	CHECK_INT(text_buf_puts(&b, "yz"), 0);
	CHECK_STR(b.data, "xyz");
	CHECK_INT(text_buf_reserve(&b, 1000), 0);
	CHECK(b.cap >= b.len + 1000 + 1);
	CHECK_INT(b.len, 3);
	/* reset keeps the memory, empties the string */
	char *was = b.data;
	text_buf_reset(&b);
	CHECK(b.data == was && b.len == 0);
	CHECK_STR(b.data, "");
	/* take hands the bytes over and leaves it empty */
	text_buf_puts(&b, "taken");
	size_t n = 0;
	char *t = text_buf_take(&b, &n);
	CHECK_STR(t, "taken");
	CHECK_INT(n, 5);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0 && !b.failed);
	free(t);
	/* take of an empty buffer is an allocated "" */
	t = text_buf_take(&b, NULL);
	CHECK_STR(t, "");
	free(t);
	/* a size that would overflow fails and latches */
	text_buf_puts(&b, "ab");
	CHECK_INT(text_buf_reserve(&b, SIZE_MAX), CH_ENOMEM);
	CHECK(b.failed);
	CHECK_INT(text_buf_append(&b, "c", 1), CH_ENOMEM);
	CHECK_INT(text_buf_printf(&b, "%d", 1), CH_ENOMEM);
	CHECK_INT(text_html_escape(&b, "<", 1), CH_ENOMEM);
	CHECK_STR(b.data, "ab"); /* what it had is kept */
	CHECK_INT(text_buf_append(&b, "c", SIZE_MAX - 1), CH_ENOMEM);
	CHECK(text_buf_take(&b, NULL) == NULL); /* failed: freed, NULL */
	CHECK(b.data == NULL && !b.failed);
	/* reset clears the failure */
	text_buf_puts(&b, "q");
	text_buf_reserve(&b, SIZE_MAX - 1);
	CHECK(b.failed);
	text_buf_reset(&b);
	CHECK(!b.failed);
	CHECK_INT(text_buf_puts(&b, "ok"), 0);
	CHECK_STR(b.data, "ok");
	/* printf exactly filling the capacity, then one past it */
	text_buf_free(&b);
	text_buf_reserve(&b, 0);
	size_t room = b.cap - 1;
	char *fill = malloc(room + 2);
	if (!fill)
		abort();
	memset(fill, 'f', room + 1);
	fill[room] = '\0';
	CHECK_INT(text_buf_printf(&b, "%s", fill), 0);
	CHECK_INT(b.len, room);
	fill[room] = 'f';
	fill[room + 1] = '\0';
	CHECK_INT(text_buf_printf(&b, "%s", fill), 0);
	CHECK_INT(b.len, 2 * room + 1);
	CHECK_INT(strlen(b.data), 2 * room + 1);
	free(fill);
	text_buf_free(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
}

static void test_html_escape(void)
{
	struct text_buf b = {0};

	const char *raw = "<a href=\"x\">Tom & Jerry's</a>";
	CHECK_INT(text_html_escape(&b, raw, strlen(raw)), 0);
	CHECK_STR(b.data, "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#x27;s&lt;/a&gt;");
	text_buf_free(&b);
	CHECK_INT(text_html_escape(&b, "plain", 5), 0);
	CHECK_INT(text_html_escape(&b, "&&", 2), 0);
	CHECK_INT(text_html_escape(&b, "", 0), 0);
	CHECK_STR(b.data, "plain&amp;&amp;");
	text_buf_free(&b);
}


static void test_html_escape_more(void)
{
	struct text_buf b = {0};
	/* every special alone, at the start, the end, doubled; all else as is */
	static const struct {
		const char *in, *out;
	} v[] = {
	    {"&", "&amp;"},
	    {"<", "&lt;"},
	    {">", "&gt;"},
	    {"\"", "&quot;"},
	    {"'", "&#x27;"},
	    {"<<", "&lt;&lt;"},
	    {"a<", "a&lt;"},
	    {"<a", "&lt;a"},
	    {"&amp;", "&amp;amp;"},
	    {"\xc3\xa9 \t\n/\\`=", "\xc3\xa9 \t\n/\\`="},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		text_buf_reset(&b);
		CHECK_INT(text_html_escape(&b, v[i].in, strlen(v[i].in)), 0);
		CHECK_STR(b.data, v[i].out);
	}
	/* only `len` bytes, a NUL among them copied */
	text_buf_reset(&b);
	CHECK_INT(text_html_escape(&b, "a\0<b", 3), 0);
	CHECK_INT(b.len, 6);
	CHECK(memcmp(b.data, "a\0&lt;", 6) == 0);
	text_buf_free(&b);
}

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
		bool got = text_utf8_valid(s, n);
		CHECK_INT(got, v[i].ok);
		CHECK_INT(utf8_ref(s, n), v[i].ok); /* the reference agrees */
		if (got != v[i].ok)
			fprintf(stderr, "  vector %zu\n", i);
	}
	/* an empty string through a NULL pointer */
	CHECK(text_utf8_valid(NULL, 0));
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
			if (!text_utf8_valid(buf + start, len))
				wrong++;
			for (size_t off = 0; off <= 16 && off < len; off++) {
				for (size_t b = 0; b < sizeof(bad); b++) {
					memset(buf, 'a', sizeof(buf));
					buf[start + off] = bad[b];
					if (text_utf8_valid(buf + start, len))
						wrong++;
				}
				/* a valid 2-byte char at the offset */
				if (off + 1 < len) {
					memset(buf, 'a', sizeof(buf));
					buf[start + off] = 0xc3;
					buf[start + off + 1] = 0xa9;
					if (!text_utf8_valid(buf + start, len))
						wrong++;
				}
			}
		}
	}
	CHECK_INT(wrong, 0);
}

/* Bytes random UTF-8 tests draw from: ASCII, NUL, and the edges of every
 * continuation and lead byte range, so most strings are near-valid. */
static const unsigned char pool[] = {'a',  'z',  0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0,
				     0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed,
				     0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};

static void utf8_random(void)
{
	/* random strings, mostly near-valid, against the reference */
	unsigned char buf[64];
	int wrong = 0;
	for (int t = 0; t < 200000; t++) {
		size_t len = rnd() % 24;
		for (size_t i = 0; i < len; i++)
			buf[i] = pool[rnd() % sizeof(pool)];
		if (text_utf8_valid(buf, len) != utf8_ref(buf, len) && wrong++ < 5) {
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
	CHECK_INT(text_utf8_scan(TEXT_UTF8_ACCEPT, NULL, 0), TEXT_UTF8_ACCEPT);
	CHECK_INT(text_utf8_scan(TEXT_UTF8_REJECT, (const unsigned char *)"a", 1),
		  TEXT_UTF8_REJECT);
	/* a 4-byte character in four scans: inside it until the last byte */
	const unsigned char *smile = (const unsigned char *)"\xf0\x9f\x98\x80";
	unsigned st = TEXT_UTF8_ACCEPT;
	for (int i = 0; i < 4; i++) {
		st = text_utf8_scan(st, smile + i, 1);
		if (i < 3)
			CHECK(st != TEXT_UTF8_ACCEPT && st != TEXT_UTF8_REJECT);
	}
	CHECK_INT(st, TEXT_UTF8_ACCEPT);

	unsigned char buf[40];
	int wrong = 0;
	for (int t = 0; t < 100000; t++) {
		size_t len = 1 + rnd() % 30;
		for (size_t i = 0; i < len; i++)
			buf[i] = rnd() % 4 ? pool[rnd() % sizeof(pool)] : (unsigned char)rnd();
		/* byte by byte against the reference, prefix by prefix */
		st = TEXT_UTF8_ACCEPT;
		for (size_t i = 0; i < len; i++) {
			st = text_utf8_scan(st, buf + i, 1);
			bool ok_prefix = utf8_ref_prefix(buf, i + 1);
			bool valid = utf8_ref(buf, i + 1);
			if (((st == TEXT_UTF8_REJECT) == ok_prefix ||
			     (st == TEXT_UTF8_ACCEPT) != valid) &&
			    wrong++ < 5) {
				fprintf(stderr, "  scan state %u after byte %zu of:", st, i);
				for (size_t k = 0; k < len; k++)
					fprintf(stderr, " %02x", buf[k]);
				fprintf(stderr, " (ref prefix %d, valid %d)\n", ok_prefix, valid);
			}
		}
		/* in two pieces at a random cut: the same state as whole */
		size_t cut = rnd() % (len + 1);
		unsigned whole = text_utf8_scan(TEXT_UTF8_ACCEPT, buf, len);
		unsigned two = text_utf8_scan(text_utf8_scan(TEXT_UTF8_ACCEPT, buf, cut),
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
		st = text_utf8_scan(TEXT_UTF8_ACCEPT, run, cut);
		st = text_utf8_scan(st, run + cut, sizeof(run) - cut);
		if (st != TEXT_UTF8_ACCEPT && wrong++ < 3)
			fprintf(stderr, "  ASCII run cut at %zu: state %u\n", cut, st);
	}
	CHECK_INT(wrong, 0);
}


/*
 * Every valid character of each length, cut at every split point, alone
 * and between ASCII runs long enough for the 8-byte path: the state is
 * neither ACCEPT nor REJECT inside the character, ACCEPT after it; each
 * character with its last byte replaced by an impossible one is REJECT at
 * that byte, whatever came before.
 */
static void test_utf8_splits(void)
{
	static const char *const chars[] = {
	    "\xc2\x80", "\xdf\xbf", "\xc3\xa9", "\xe0\xa0\x80", "\xe2\x82\xac",
	    "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80",
	    "\xf0\x9f\x98\x80", "\xf3\xbf\xbf\xbf", "\xf4\x8f\xbf\xbf",
	};
	int wrong = 0;
	for (size_t c = 0; c < sizeof(chars) / sizeof(chars[0]); c++) {
		size_t n = strlen(chars[c]);
		for (size_t pad = 0; pad <= 17; pad += 17) {
			unsigned char buf[48];
			memset(buf, 'a', sizeof(buf));
			memcpy(buf + pad, chars[c], n);
			size_t len = pad + n + pad;
			for (size_t cut = 0; cut <= len; cut++) {
				unsigned st = text_utf8_scan(TEXT_UTF8_ACCEPT, buf, cut);
				bool inside = cut > pad && cut < pad + n;
				if ((inside ? st == TEXT_UTF8_ACCEPT || st == TEXT_UTF8_REJECT
					    : st != TEXT_UTF8_ACCEPT) && wrong++ < 5)
					fprintf(stderr, "  char %zu pad %zu: state %u at cut %zu\n",
						c, pad, st, cut);
				st = text_utf8_scan(st, buf + cut, len - cut);
				if (st != TEXT_UTF8_ACCEPT && wrong++ < 5)
					fprintf(stderr, "  char %zu pad %zu cut %zu: end state %u\n",
						c, pad, cut, st);
			}
			/* three pieces: every pair of cuts */
			for (size_t i = 0; i <= len; i++)
				for (size_t j = i; j <= len; j++) {
					unsigned st = text_utf8_scan(TEXT_UTF8_ACCEPT, buf, i);
					st = text_utf8_scan(st, buf + i, j - i);
					st = text_utf8_scan(st, buf + j, len - j);
					if (st != TEXT_UTF8_ACCEPT && wrong++ < 5)
						fprintf(stderr, "  char %zu: cuts %zu %zu\n", c, i, j);
				}
			/* a bad byte in place of each continuation byte */
			for (size_t k = 1; k < n; k++) {
				static const unsigned char bad[] = {'a', 0x7f, 0xc0, 0xc3, 0xff};
				for (size_t b = 0; b < sizeof(bad); b++) {
					memcpy(buf + pad, chars[c], n);
					buf[pad + k] = bad[b];
					unsigned st = TEXT_UTF8_ACCEPT;
					for (size_t i = 0; i < pad + k; i++)
						st = text_utf8_scan(st, buf + i, 1);
					if (st == TEXT_UTF8_REJECT || st == TEXT_UTF8_ACCEPT)
						wrong++;
					st = text_utf8_scan(st, buf + pad + k, 1);
					if (st != TEXT_UTF8_REJECT && wrong++ < 5)
						fprintf(stderr, "  char %zu: byte %zu = %02x passed\n", c,
							k, bad[b]);
				}
			}
		}
	}
	CHECK_INT(wrong, 0);
}

/* text_utf8_decode and text_utf8_encode against each other over every
 * code point, and decode against the reference on random bytes. */
static void test_utf8_decode_encode(void)
{
	int wrong = 0;
	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		char out[4];
		size_t n = text_utf8_encode(out, cp);
		size_t want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
		uint32_t back = 0xffffffff;
		size_t m = text_utf8_decode(out, n, &back);
		bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
		if (n != want || (surrogate ? m != 0 : m != n || back != cp)) {
			if (wrong++ < 5)
				fprintf(stderr, "  U+%04X: encoded in %zu, decoded %zu as U+%04X\n",
					(unsigned)cp, n, m, (unsigned)back);
		}
		/* cut short, it is not a character */
		if (n > 1 && text_utf8_decode(out, n - 1, NULL) != 0)
			wrong++;
		if (text_utf8_count(out, n) != 1)
			wrong++;
	}
	CHECK_INT(wrong, 0);
	char out[4] = {0};
	CHECK_INT(text_utf8_encode(out, 0x110000), 0);
	CHECK_INT(text_utf8_encode(out, 0xffffffff), 0);
	uint32_t cp = 0;
	CHECK_INT(text_utf8_decode("\xc0\x80", 2, &cp), 0);
	CHECK_INT(text_utf8_decode("\xf4\x90\x80\x80", 4, &cp), 0);
	CHECK_INT(text_utf8_decode("\x80", 1, &cp), 0);
	CHECK_INT(text_utf8_decode("\xe2\x82\xac!", 4, &cp), 3);
	CHECK_INT(cp, 0x20ac);
	CHECK_INT(text_utf8_decode("", 1, &cp), 1); /* NUL is a character */
	CHECK_INT(cp, 0);
	CHECK_INT(text_utf8_count("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15), 9);
	CHECK_INT(text_utf8_count("", 0), 0);

	/* text_utf8_char_len (the inline per-character rule) agrees with the
	 * state machine: at a byte >= 0x80 it is the shortest valid prefix of
	 * 2-4 bytes, or 0 when there is none */
	for (int t = 0; t < 200000; t++) {
		unsigned char c[4];
		c[0] = (unsigned char)(0x80 | rnd());
		for (int i = 1; i < 4; i++)
			c[i] = (unsigned char)(rnd() % 4 ? 0x80 + rnd() % 0x40 : rnd());
		size_t len = 1 + rnd() % 4, want = 0;
		for (size_t j = 2; j <= len && !want; j++)
			if (text_utf8_scan(TEXT_UTF8_ACCEPT, c, j) == TEXT_UTF8_ACCEPT)
				want = j;
		if (text_utf8_char_len(c, len) != want && wrong++ < 5)
			fprintf(stderr, "  char_len %02x %02x %02x %02x (len %zu): %zu, not %zu\n",
				c[0], c[1], c[2], c[3], len, text_utf8_char_len(c, len), want);
	}
	CHECK_INT(wrong, 0);

	/* walking by decode accepts exactly what text_utf8_valid accepts */
	unsigned char buf[24];
	wrong = 0;
	for (int t = 0; t < 100000; t++) {
		size_t len = rnd() % sizeof(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)(rnd() % 3 ? 0x80 + rnd() % 0x80 : rnd() % 0x80);
		size_t at = 0, step;
		while (at < len && (step = text_utf8_decode(buf + at, len - at, NULL)) != 0)
			at += step;
		if ((at == len) != utf8_ref(buf, len) && wrong++ < 5)
			fprintf(stderr, "  decode walk stops at %zu of %zu\n", at, len);
	}
	CHECK_INT(wrong, 0);
}

/* ---- percent-decoding ---- */

/* Decodes with `flags` into a buffer of `cap`; "" is returned for failure
 * codes as "!EINVAL" / "!ETOOBIG". */
static const char *pct(const char *in, unsigned flags, size_t cap)
{
	static char out[256];
	char buf[256];
	size_t n = 12345;
	int rc = text_pct_decode(in, strlen(in), buf, cap, flags, &n);
	if (rc == CH_EINVAL)
		return "!EINVAL";
	if (rc == CH_ETOOBIG)
		return "!ETOOBIG";
	if (rc || n != strlen(buf))
		return "!other";
	snprintf(out, sizeof(out), "%s", buf);
	return out;
}

static void test_pct_decode(void)
{
	/* lenient, as http_url_decode (its own vectors are in test_http) */
	CHECK_STR(pct("", 0, 1), "");
	CHECK_STR(pct("abc", 0, 4), "abc");
	CHECK_STR(pct("a%20b", 0, 256), "a b");
	CHECK_STR(pct("%41%6a%6A", 0, 256), "Ajj");
	CHECK_STR(pct("%zz", 0, 256), "%zz");
	CHECK_STR(pct("%4", 0, 256), "%4");
	CHECK_STR(pct("%", 0, 256), "%");
	CHECK_STR(pct("%%41", 0, 256), "%A");
	CHECK_STR(pct("%g1%1g", 0, 256), "%g1%1g");
	CHECK_STR(pct("a+b", 0, 256), "a+b");
	CHECK_STR(pct("a+b", TEXT_PCT_PLUS, 256), "a b");
	CHECK_STR(pct("%2B+", TEXT_PCT_PLUS, 256), "+ ");
	CHECK_STR(pct("%00", 0, 256), "!EINVAL");
	CHECK_STR(pct("a%00b", TEXT_PCT_PLUS, 256), "!EINVAL");
	CHECK_STR(pct("%C3%A9", 0, 256), "\xc3\xa9");
	/* strict, as the redis:// URL parser */
	CHECK_STR(pct("p%40ss%3Aw0rd", TEXT_PCT_STRICT, 256), "p@ss:w0rd");
	CHECK_STR(pct("%zz", TEXT_PCT_STRICT, 256), "!EINVAL");
	CHECK_STR(pct("%4", TEXT_PCT_STRICT, 256), "!EINVAL");
	CHECK_STR(pct("ab%", TEXT_PCT_STRICT, 256), "!EINVAL");
	CHECK_STR(pct("%4g", TEXT_PCT_STRICT, 256), "!EINVAL");
	CHECK_STR(pct("%00", TEXT_PCT_STRICT, 256), "!EINVAL");
	CHECK_STR(pct("a+b", TEXT_PCT_STRICT, 256), "a+b");
	/* bounded: the result and its NUL must fit */
	CHECK_STR(pct("abc", TEXT_PCT_STRICT, 4), "abc");
	CHECK_STR(pct("abcd", TEXT_PCT_STRICT, 4), "!ETOOBIG");
	CHECK_STR(pct("%41%42%43", TEXT_PCT_STRICT, 4), "ABC");
	CHECK_STR(pct("%41%42%43%44", TEXT_PCT_STRICT, 4), "!ETOOBIG");
	CHECK_STR(pct("", 0, 0), "!ETOOBIG");
	CHECK_STR(pct("a", 0, 1), "!ETOOBIG");
	/* only `len` bytes are read; a failure leaves "" */
	char out[8] = "zzzzzzz";
	size_t n = 0;
	CHECK_INT(text_pct_decode("abcdef", 3, out, sizeof(out), 0, &n), 0);
	CHECK_STR(out, "abc");
	CHECK_INT(n, 3);
	CHECK_INT(text_pct_decode("a\0b", 3, out, sizeof(out), 0, &n), CH_EINVAL);
	CHECK_STR(out, "");
	/* never longer than the input */
	for (int t = 0; t < 20000; t++) {
		char in[16], o[17];
		size_t len = rnd() % sizeof(in);
		for (size_t i = 0; i < len; i++)
			in[i] = "%+a0F9g\xc3"[rnd() % 8];
		int rc = text_pct_decode(in, len, o, len + 1, rnd() % 4, &n);
		if (!rc && (n > len || strlen(o) != n))
			CHECK(!"decoded longer than the input");
		if (rc && rc != CH_EINVAL)
			CHECK_INT(rc, CH_EINVAL);
	}
	/* hex digits */
	CHECK_INT(text_hex_digit('0'), 0);
	CHECK_INT(text_hex_digit('9'), 9);
	CHECK_INT(text_hex_digit('a'), 10);
	CHECK_INT(text_hex_digit('F'), 15);
	CHECK_INT(text_hex_digit('g'), -1);
	CHECK_INT(text_hex_digit('/'), -1);
	CHECK_INT(text_hex_digit(':'), -1);
	CHECK_INT(text_hex_digit('@'), -1);
	CHECK_INT(text_hex_digit('`'), -1);
	CHECK_INT(text_hex_digit(0xc3), -1);
}

/* The cases tools/client's own UTF-8 check was tested with. */
static void test_utf8_client_cases(void)
{
	CHECK(text_utf8_valid("", 0));
	CHECK(text_utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
	CHECK(!text_utf8_valid("\xc0\xaf", 2));	       /* overlong */
	CHECK(!text_utf8_valid("\xed\xa0\x80", 3));       /* surrogate */
	CHECK(!text_utf8_valid("\xe2\x82", 2));	       /* truncated */
	CHECK(!text_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	CHECK(!text_utf8_valid("\xff", 1));
	/* NUL is valid UTF-8 (callers that refuse it check for it) */
	CHECK(text_utf8_valid("a\0b", 3));
}

/* text_printable_length (the chat's and gossip's text check): characters of
 * valid UTF-8 without control characters (tab and newline allowed). The
 * overlong, surrogate and out-of-range cases passed when it was the chat's
 * own loop (apps_text_length, which counted each as 1 character). */
static void test_printable_length(void)
{
	CHECK_INT(text_printable_length(""), 0);
	CHECK_INT(text_printable_length("hi there"), 8);
	CHECK_INT(text_printable_length("h\xc3\xa9 \xe2\x82\xac\t\xf0\x9f\x98\x80\n"), 7);
	CHECK_INT(text_printable_length("a\x01"), -1);
	CHECK_INT(text_printable_length("\x7f"), -1);
	CHECK_INT(text_printable_length("\xc3"), -1);
	CHECK_INT(text_printable_length("\xc0\xaf"), -1);         /* overlong '/' */
	CHECK_INT(text_printable_length("\xed\xa0\x80"), -1);     /* surrogate */
	CHECK_INT(text_printable_length("\xf4\x90\x80\x80"), -1); /* > U+10FFFF */
}

int main(void)
{
	test_buf();
	test_buf_more();
	test_html_escape();
	test_html_escape_more();
	test_utf8();
	test_utf8_client_cases();
	test_utf8_scan();
	test_utf8_splits();
	test_utf8_decode_encode();
	test_pct_decode();
	test_printable_length();
	return check_finish();
}
