/*
 * text.h - the small text jobs every module needs, done once: a growable
 * byte buffer, HTML escaping, UTF-8 (validation, streaming validation,
 * decoding and encoding one character) and percent-decoding.
 *
 * A leaf library: no I/O, no global state, nothing but libc; every function
 * is safe on any thread (a struct text_buf belongs to one thread at a time).
 * Errors are 0 or a negative code of util/error.h (CH_ENOMEM, CH_EINVAL,
 * CH_ETOOBIG), as each function says.
 */
#ifndef LIB_TEXT_H
#define LIB_TEXT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* ---- the growable byte buffer ----
 *
 * Zero-initialise (or text_buf_init). `data` is malloc'd and NUL-terminated
 * (data[len] == '\0', not counted in len) once anything was appended or
 * reserved, NULL before. The first failure (out of memory, or a size that
 * would overflow size_t) latches `failed`: the buffer keeps what it had,
 * later appends do nothing and fail too, so a writer may append freely and
 * check once at the end. text_buf_reset() and text_buf_free() clear it.
 * A reader that consumes bytes from the front may move the rest down and
 * lower `len` itself (a connection's input buffer does); data[len] is then
 * '\0' again after the next append.
 */
struct text_buf {
	char *data;
	size_t len;
	size_t cap;  /* bytes allocated at data (len + 1 <= cap once allocated) */
	bool failed; /* an append or reserve failed since the last reset */
};

void text_buf_init(struct text_buf *b);

/* Makes room for `extra` more bytes (and the NUL) without appending.
 * 0, or CH_ENOMEM (also on overflow, or when `failed` was set). */
int text_buf_reserve(struct text_buf *b, size_t extra);

/* Append `len` bytes of `s` (may be NULL when len is 0), one byte, or a
 * C string. 0, or CH_ENOMEM as text_buf_reserve. */
int text_buf_append(struct text_buf *b, const void *s, size_t len);
int text_buf_putc(struct text_buf *b, char c);
int text_buf_puts(struct text_buf *b, const char *s);

/* Appends printf output. 0, CH_ENOMEM, or CH_EINVAL when vsnprintf fails (an
 * encoding error: `failed` is set and nothing is appended). */
int text_buf_printf(struct text_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int text_buf_vprintf(struct text_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Hands the bytes over: returns `data` (malloc'd, NUL-terminated; an empty
 * string is allocated when nothing was appended), its length in *len (may
 * be NULL), and leaves the buffer empty as after text_buf_init. NULL (the
 * buffer freed) when it had failed or on ENOMEM. The caller frees. */
char *text_buf_take(struct text_buf *b, size_t *len);

/* Empties the buffer, keeping its memory; clears `failed`. */
void text_buf_reset(struct text_buf *b);

/* Frees the memory; the buffer is as after text_buf_init. */
void text_buf_free(struct text_buf *b);

/* ---- HTML ---- */

/* Appends `len` bytes of `s` HTML-escaped as Django's escape() does:
 * & < > " ' become &amp; &lt; &gt; &quot; &#x27;, all else is copied.
 * 0 or CH_ENOMEM (see struct text_buf). */
int text_html_escape(struct text_buf *b, const char *s, size_t len);

/* ---- UTF-8 (RFC 3629) ----
 *
 * Valid means RFC 3629 section 4's UTF8-octets: no overlong form (C0, C1,
 * E0 80..9F, F0 80..8F), no surrogate (ED A0..BF), nothing above U+10FFFF
 * (F4 90.., F5..FF), no stray continuation byte, no character cut at the
 * end. NUL (U+0000) is valid UTF-8; callers that refuse it say so.
 */

/* True when `len` bytes of `s` are valid UTF-8. */
bool text_utf8_valid(const void *s, size_t len);

/* States of the streaming check: between characters (a valid prefix that
 * is whole), and failed (no continuation can make it valid, ever). Other
 * values (1..7) are inside a character. */
#define TEXT_UTF8_ACCEPT 0u
#define TEXT_UTF8_REJECT 8u

/*
 * Continues a UTF-8 check from `state` (TEXT_UTF8_ACCEPT to start) over
 * `len` more bytes and returns the new state: TEXT_UTF8_REJECT from the
 * first byte that no continuation could make valid (E0 80 fails at the
 * 80, not at the end) and from then on; TEXT_UTF8_ACCEPT when the bytes so
 * far end between characters. Input may be cut anywhere: scanning the
 * pieces in order gives the state of scanning them joined, so a message
 * is valid when its pieces end in TEXT_UTF8_ACCEPT. ASCII runs go 8 bytes
 * at a time. The state fits in a uint8_t.
 */
unsigned text_utf8_scan(unsigned state, const void *s, size_t len);

/*
 * The length (2-4) of the valid character that starts at s[0] (a byte >=
 * 0x80) in s[0..len), or 0 when s does not start with one (an invalid
 * byte, or a character cut by the end of s). Inline: the per-character
 * rule the parsers' loops run (consumers/jsondec.c on every message); the
 * streaming state machine in utf8.c applies the same ranges a byte at a
 * time, and tests/unit/text checks that the two agree.
 */
static inline size_t text_utf8_char_len(const unsigned char *s, size_t len)
{
	unsigned c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80; /* no overlongs */
		hi = c == 0xed ? 0x9f : 0xbf; /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		lo = c == 0xf0 ? 0x90 : 0x80; /* no overlongs */
		hi = c == 0xf4 ? 0x8f : 0xbf; /* nothing above U+10FFFF */
	} else {
		return 0; /* ASCII, a continuation byte, C0, C1, F5..FF */
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 2; k < n; k++)
		if ((s[k] & 0xc0) != 0x80)
			return 0;
	return n;
}

/*
 * Decodes the character at the start of s[0..len) (len >= 1): returns its
 * length (1-4) and stores its code point in *cp (when cp is not NULL), or
 * returns 0 when s does not start with a valid character (an invalid byte,
 * or one cut by the end of s).
 */
size_t text_utf8_decode(const void *s, size_t len, uint32_t *cp);

/* Writes code point `cp` as 1-4 bytes at `out` (room for 4); returns that
 * count, 0 for cp > U+10FFFF. Callers pass Unicode scalar values: a
 * surrogate (D800..DFFF) would come out as 3 bytes that are not UTF-8. */
size_t text_utf8_encode(char *out, uint32_t cp);

/* Characters in valid UTF-8 s[0..len) (bytes that are not continuation
 * bytes). */
size_t text_utf8_count(const void *s, size_t len);

/* The characters of the NUL-terminated `s` when it is text a person typed:
 * valid UTF-8 with no control character but tab and newline (C0 and DEL);
 * -1 otherwise. */
long text_printable_length(const char *s);

/* ---- percent-decoding (RFC 3986 2.1) ---- */

#define TEXT_PCT_PLUS 1u   /* '+' decodes to ' ' (application/x-www-form-urlencoded) */
#define TEXT_PCT_STRICT 2u /* '%' not followed by two hex digits fails (else kept as is) */

/*
 * Decodes `len` bytes of `s` into `out` (room for `cap` bytes), with a NUL
 * after them. Returns 0 and the decoded length in *outlen (may be NULL);
 * CH_EINVAL when a decoded byte is NUL (no NUL goes into a C string) or,
 * with TEXT_PCT_STRICT, an escape is malformed; CH_ETOOBIG when the result
 * and its NUL do not fit (never when cap > len: decoding never lengthens).
 * On failure out holds "" when cap > 0.
 */
int text_pct_decode(const char *s, size_t len, char *out, size_t cap, unsigned flags,
		    size_t *outlen);

/* The value of hex digit c (0-9, a-f, A-F), or -1. */
int text_hex_digit(int c);

#endif
