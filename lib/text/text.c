/*
 * text.c - see text.h.
 */
#include "text.h"

/* The length of the UTF-8 sequence at p (1-4), 0 when it is not one that
 * RFC 3629 allows. */
static int utf8_seq_len(const unsigned char *p)
{
	unsigned char c = p[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

long text_printable_length(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	long n = 0;
	while (*p) {
		if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f)
			return -1;
		/* A NUL inside a sequence fails its continuation test, so the
		 * reads never pass the terminator. */
		int len = utf8_seq_len(p);
		if (len == 0)
			return -1;
		p += len;
		n++;
	}
	return n;
}
