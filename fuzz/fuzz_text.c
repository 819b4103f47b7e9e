/*
 * fuzz_text.c - fuzz target of lib/text/.
 *
 * Input: byte 0 picks split points and flags, the rest is the text. Each
 * input is checked against invariants (abort() on violation):
 *   - UTF-8: text_utf8_valid agrees with RFC 3629's grammar (section 4,
 *     UTF8-octets), transcribed here as a table: the oracle; text_utf8_scan
 *     gives the same state whole, byte by byte and cut at any one or two
 *     points, REJECT exactly when no continuation makes the bytes so far
 *     valid (by the oracle, trying the continuations); walking by
 *     text_utf8_decode reaches the end exactly when valid, each character
 *     re-encoding (text_utf8_encode) to its bytes; text_utf8_count of valid
 *     input is the number of characters decoded;
 *   - text_html_escape: no raw < > " ' left, every & starts one of the five
 *     entities, and unescaping gives the input back;
 *   - text_pct_decode: never longer than the input; without '%', '+' and
 *     NUL it is the identity; strict fails whenever lenient keeps a '%';
 *     a bounded buffer either holds the full result or fails with CH_ETOOBIG;
 *   - text_buf: appended in pieces at the split points, then taken, it is
 *     the input.
 */
#include "fuzz.h"
#include "text.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* RFC 3629's UTF8-2/3/4 rules: a lead byte range, the range of the byte
 * after it, and how many 80..BF bytes follow that. */
static const struct {
	unsigned char lo, hi, lo2, hi2, tail;
} grammar[] = {
    {0xc2, 0xdf, 0x80, 0xbf, 0}, /* UTF8-2 */
    {0xe0, 0xe0, 0xa0, 0xbf, 1}, /* UTF8-3 */
    {0xe1, 0xec, 0x80, 0xbf, 1},
    {0xed, 0xed, 0x80, 0x9f, 1},
    {0xee, 0xef, 0x80, 0xbf, 1},
    {0xf0, 0xf0, 0x90, 0xbf, 2}, /* UTF8-4 */
    {0xf1, 0xf3, 0x80, 0xbf, 2},
    {0xf4, 0xf4, 0x80, 0x8f, 2},
};

/* The oracle: 1 when s[0..n) is UTF8-octets; 0 when it is not, but the
 * right bytes after it would make it so (it ends inside a character); -1
 * when nothing after it can. */
static int oracle(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		size_t r = 0;
		while (r < sizeof(grammar) / sizeof(grammar[0]) &&
		       !(s[i] >= grammar[r].lo && s[i] <= grammar[r].hi))
			r++;
		if (r == sizeof(grammar) / sizeof(grammar[0]))
			return -1;
		if (++i == n)
			return 0;
		if (s[i] < grammar[r].lo2 || s[i] > grammar[r].hi2)
			return -1;
		i++;
		for (unsigned t = 0; t < grammar[r].tail; t++, i++) {
			if (i == n)
				return 0;
			if (s[i] < 0x80 || s[i] > 0xbf)
				return -1;
		}
	}
	return 1;
}

static void check_utf8(const unsigned char *s, size_t n, size_t cut1, size_t cut2)
{
	int want = oracle(s, n);
	REQUIRE(text_utf8_valid(s, n) == (want == 1));
	unsigned whole = text_utf8_scan(TEXT_UTF8_ACCEPT, s, n);
	REQUIRE((whole == TEXT_UTF8_ACCEPT) == (want == 1));
	REQUIRE((whole == TEXT_UTF8_REJECT) == (want == -1));
	REQUIRE(whole <= TEXT_UTF8_REJECT);
	unsigned st = text_utf8_scan(TEXT_UTF8_ACCEPT, s, cut1);
	st = text_utf8_scan(st, s + cut1, cut2 - cut1);
	REQUIRE(text_utf8_scan(st, s + cut2, n - cut2) == whole);
	if (n <= 256) {
		st = TEXT_UTF8_ACCEPT;
		for (size_t i = 0; i < n; i++) {
			st = text_utf8_scan(st, s + i, 1);
			int w = oracle(s, i + 1);
			REQUIRE((st == TEXT_UTF8_REJECT) == (w == -1));
			REQUIRE((st == TEXT_UTF8_ACCEPT) == (w == 1));
		}
		REQUIRE(st == whole);
	}
	size_t at = 0, chars = 0, step;
	uint32_t cp;
	while (at < n && (step = text_utf8_decode(s + at, n - at, &cp)) != 0) {
		char again[4];
		REQUIRE(cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff));
		REQUIRE(text_utf8_encode(again, cp) == step && memcmp(again, s + at, step) == 0);
		at += step;
		chars++;
	}
	REQUIRE((at == n) == (want == 1));
	if (want == 1)
		REQUIRE(text_utf8_count(s, n) == chars);
}

static void check_escape(const char *s, size_t n)
{
	struct text_buf b = {0};
	REQUIRE(text_html_escape(&b, s, n) == 0);
	REQUIRE(b.data != NULL && b.len >= n && b.data[b.len] == '\0');
	static const char *const ent[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#x27;"};
	static const char raw[] = "&<>\"'";
	size_t o = 0;
	for (size_t i = 0; i < b.len; i++) {
		char c = b.data[i];
		REQUIRE(c != '<' && c != '>' && c != '"' && c != '\'');
		if (c == '&') {
			size_t k = 0;
			while (k < 5 && strncmp(b.data + i, ent[k], strlen(ent[k])) != 0)
				k++;
			REQUIRE(k < 5);
			c = raw[k];
			i += strlen(ent[k]) - 1;
		}
		REQUIRE(o < n && s[o] == c);
		o++;
	}
	REQUIRE(o == n);
	text_buf_free(&b);
}


static void check_pct(const char *s, size_t n, unsigned flags)
{
	char *out = malloc(n + 1), *strict = malloc(n + 1), small[8];
	REQUIRE(out && strict);
	size_t len = 0, slen = 0;
	int rc = text_pct_decode(s, n, out, n + 1, flags & TEXT_PCT_PLUS, &len);
	bool plain = !memchr(s, '%', n) && !memchr(s, 0, n) && (!(flags & 1) || !memchr(s, '+', n));
	REQUIRE(rc == 0 || rc == CH_EINVAL);
	if (rc == 0) {
		REQUIRE(len <= n && strlen(out) == len);
		if (plain)
			REQUIRE(len == n && memcmp(out, s, n) == 0);
	} else {
		REQUIRE(!plain && out[0] == '\0');
	}
	int src = text_pct_decode(s, n, strict, n + 1, (flags & 1) | TEXT_PCT_STRICT, &slen);
	/* strict decodes what lenient does, or fails (it never succeeds
	 * where lenient fails) */
	REQUIRE(src == 0 || src == CH_EINVAL);
	if (src == 0)
		REQUIRE(rc == 0 && slen == len && memcmp(out, strict, len) == 0);
	if (rc)
		REQUIRE(src);
	/* a bounded buffer: the result and its NUL, or CH_ETOOBIG */
	size_t cap = flags >> 1 & 7;
	size_t blen = 0;
	int brc = text_pct_decode(s, n, small, cap, flags & 1, &blen);
	if (rc == 0 && len < cap)
		REQUIRE(brc == 0 && blen == len && memcmp(small, out, len + 1) == 0);
	else if (rc == 0)
		REQUIRE(brc == CH_ETOOBIG);
	else
		REQUIRE(brc == CH_EINVAL || brc == CH_ETOOBIG);
	free(out);
	free(strict);
}

static void check_buf(const char *s, size_t n, size_t cut1, size_t cut2)
{
	struct text_buf b = {0};
	REQUIRE(text_buf_append(&b, s, cut1) == 0);
	REQUIRE(text_buf_append(&b, s + cut1, cut2 - cut1) == 0);
	REQUIRE(text_buf_printf(&b, "%.*s", (int)(n - cut2), s + cut2) == 0 || memchr(s + cut2, 0, n - cut2));
	size_t len = 0;
	char *t = text_buf_take(&b, &len);
	REQUIRE(t && t[len] == '\0' && len <= n && memcmp(t, s, len) == 0);
	if (!memchr(s + cut2, 0, n - cut2))
		REQUIRE(len == n);
	free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const unsigned char *in = data + 1;
	size_t n = size - 1;
	size_t cut1 = n * (data[0] & 0x0f) / 15, cut2 = cut1 + (n - cut1) * (data[0] >> 4) / 15;
	check_utf8(in, n, cut1, cut2);
	check_escape((const char *)in, n);
	check_pct((const char *)in, n, data[0]);
	check_buf((const char *)in, n, cut1, cut2);
	return 0;
}
