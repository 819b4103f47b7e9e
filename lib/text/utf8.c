/*
 * utf8.c - UTF-8 (RFC 3629) as one state machine (see text.h): the state
 * says what the next byte must be, so input is refused at its first byte
 * that no continuation could make valid, wherever it is cut (as wsframe
 * needs: across reads, frames and fragments). text_utf8_char_len() in
 * text.h is the same ranges a character at a time (for the decoder and the
 * parsers' loops, where inlined branches run faster than the table); the
 * unit test checks the two agree.
 */
#include "text.h"

#include <string.h>

/* States: TEXT_UTF8_ACCEPT (between characters), then the continuation
 * bytes still owed, with the range the next one must be in. */
enum {
	U_1 = 1, /* 1 continuation byte owed: 80..BF */
	U_2,     /* 2 owed: 80..BF, then U_1 */
	U_3,     /* 3 owed */
	U_E0,    /* after E0: A0..BF (no overlongs), then U_1 */
	U_ED,    /* after ED: 80..9F (no surrogates), then U_1 */
	U_F0,    /* after F0: 90..BF (no overlongs), then U_2 */
	U_F4,    /* after F4: 80..8F (nothing above U+10FFFF), then U_2 */
};

_Static_assert(TEXT_UTF8_ACCEPT == 0 && TEXT_UTF8_REJECT > U_F4 && TEXT_UTF8_REJECT <= 255,
	       "UTF-8 states");

static const struct {
	unsigned char lo, hi, next;
} cont[] = {
    [U_1] = {0x80, 0xbf, TEXT_UTF8_ACCEPT},
    [U_2] = {0x80, 0xbf, U_1},
    [U_3] = {0x80, 0xbf, U_2},
    [U_E0] = {0xa0, 0xbf, U_1},
    [U_ED] = {0x80, 0x9f, U_1},
    [U_F0] = {0x90, 0xbf, U_2},
    [U_F4] = {0x80, 0x8f, U_2},
};

/* The state after lead byte c (>= 0x80). */
static unsigned lead(unsigned c)
{
	if (c >= 0xc2 && c <= 0xdf)
		return U_1;
	if (c >= 0xe0 && c <= 0xef)
		return c == 0xe0 ? U_E0 : c == 0xed ? U_ED : U_2;
	if (c >= 0xf0 && c <= 0xf4)
		return c == 0xf0 ? U_F0 : c == 0xf4 ? U_F4 : U_3;
	return TEXT_UTF8_REJECT; /* continuation, C0, C1, F5..FF */
}

unsigned text_utf8_scan(unsigned state, const void *data, size_t len)
{
	const unsigned char *s = data;
	size_t i = 0;
	if (state == TEXT_UTF8_REJECT)
		return state;
	while (i < len) {
		if (state == TEXT_UTF8_ACCEPT) {
			/* ASCII runs 8 bytes at a time */
			while (i + 8 <= len) {
				uint64_t v;
				memcpy(&v, s + i, 8);
				if (v & 0x8080808080808080ull)
					break;
				i += 8;
			}
			for (; i < len && s[i] < 0x80; i++)
				;
			if (i == len)
				break;
			state = lead(s[i++]);
			if (state == TEXT_UTF8_REJECT)
				return state;
			continue;
		}
		unsigned c = s[i++];
		if (c < cont[state].lo || c > cont[state].hi)
			return TEXT_UTF8_REJECT;
		state = cont[state].next;
	}
	return state;
}

bool text_utf8_valid(const void *s, size_t len)
{
	return text_utf8_scan(TEXT_UTF8_ACCEPT, s, len) == TEXT_UTF8_ACCEPT;
}

size_t text_utf8_decode(const void *data, size_t len, uint32_t *cp)
{
	const unsigned char *s = data;
	uint32_t v = s[0];
	size_t n = v < 0x80 ? 1 : text_utf8_char_len(s, len);
	if (n > 1) {
		/* the lead byte's payload bits: 5 for 2 bytes, 4 for 3, 3 for 4 */
		v &= 0x7fu >> n;
		for (size_t i = 1; i < n; i++)
			v = v << 6 | (s[i] & 0x3fu);
	}
	if (n && cp)
		*cp = v;
	return n;
}

size_t text_utf8_encode(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	if (cp > 0x10ffff)
		return 0;
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

size_t text_utf8_count(const void *data, size_t len)
{
	const unsigned char *s = data;
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += (s[i] & 0xc0) != 0x80;
	return n;
}

long text_printable_length(const char *s)
{
	size_t n = strlen(s);
	if (!text_utf8_valid(s, n))
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch < 0x20 && ch != '\t' && ch != '\n') || ch == 0x7f)
			return -1;
	}
	return (long)text_utf8_count(s, n);
}
