/*
 * pct.c - percent-decoding (see text.h): one core for the HTTP parsers
 * (lenient: a bad escape is kept as is, '+' may be a space) and the
 * redis:// URL parser (strict, into a bounded buffer).
 */
#include "text.h"


int text_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int text_pct_decode(const char *s, size_t len, char *out, size_t cap, unsigned flags,
		    size_t *outlen)
{
	size_t o = 0;
	int rc = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			int hi = len - i >= 3 ? text_hex_digit((unsigned char)s[i + 1]) : -1;
			int lo = hi >= 0 ? text_hex_digit((unsigned char)s[i + 2]) : -1;
			if (lo >= 0) {
				c = (unsigned char)(hi << 4 | lo);
				i += 2;
			} else if (flags & TEXT_PCT_STRICT) {
				rc = CH_EINVAL;
				break;
			}
		} else if (c == '+' && (flags & TEXT_PCT_PLUS)) {
			c = ' ';
		}
		if (c == '\0') {
			rc = CH_EINVAL;
			break;
		}
		if (cap < 2 || o > cap - 2) { /* this byte and the NUL */
			rc = CH_ETOOBIG;
			break;
		}
		out[o++] = (char)c;
	}
	if (rc) {
		if (cap)
			out[0] = '\0';
		return rc;
	}
	if (o >= cap) /* only when cap is 0: nothing fits, not even the NUL */
		return CH_ETOOBIG;
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return 0;
}
