/*
 * buf.c - the growable byte buffer and HTML escaping (see text.h).
 */
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void text_buf_init(struct text_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = false;
}

int text_buf_reserve(struct text_buf *b, size_t extra)
{
	if (b->failed)
		return CH_ENOMEM;
	if (extra > SIZE_MAX - 1 - b->len)
		goto fail; /* len + extra + NUL would wrap */
	size_t need = b->len + extra + 1;
	if (b->data && need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = realloc(b->data, cap);
	if (!p)
		goto fail;
	if (!b->data)
		p[0] = '\0';
	b->data = p;
	b->cap = cap;
	return 0;
fail:
	b->failed = true;
	return CH_ENOMEM;
}

int text_buf_append(struct text_buf *b, const void *s, size_t len)
{
	int rc = text_buf_reserve(b, len);
	if (rc)
		return rc;
	if (len)
		memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int text_buf_putc(struct text_buf *b, char c)
{
	return text_buf_append(b, &c, 1);
}

int text_buf_puts(struct text_buf *b, const char *s)
{
	return text_buf_append(b, s, strlen(s));
}

int text_buf_vprintf(struct text_buf *b, const char *fmt, va_list ap)
{
	va_list again;
	int rc = text_buf_reserve(b, 0);
	if (rc)
		return rc;
	va_copy(again, ap);
	int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	if (n >= 0 && (size_t)n >= b->cap - b->len) {
		rc = text_buf_reserve(b, (size_t)n);
		if (!rc)
			vsnprintf(b->data + b->len, b->cap - b->len, fmt, again);
	}
	va_end(again);
	if (n < 0) {
		b->failed = true;
		rc = CH_EINVAL;
	}
	if (rc) {
		b->data[b->len] = '\0'; /* whatever vsnprintf wrote is not kept */
		return rc;
	}
	b->len += (size_t)n;
	return 0;
}

int text_buf_printf(struct text_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = text_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *text_buf_take(struct text_buf *b, size_t *len)
{
	if (text_buf_reserve(b, 0)) {
		text_buf_free(b);
		return NULL;
	}
	char *p = b->data;
	if (len)
		*len = b->len;
	text_buf_init(b);
	return p;
}

void text_buf_reset(struct text_buf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->data)
		b->data[0] = '\0';
}

void text_buf_free(struct text_buf *b)
{
	free(b->data);
	text_buf_init(b);
}

int text_html_escape(struct text_buf *b, const char *s, size_t len)
{
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		const char *rep;
		size_t rlen;
		switch (s[i]) {
		case '&':
			rep = "&amp;", rlen = 5;
			break;
		case '<':
			rep = "&lt;", rlen = 4;
			break;
		case '>':
			rep = "&gt;", rlen = 4;
			break;
		case '"':
			rep = "&quot;", rlen = 6;
			break;
		case '\'':
			rep = "&#x27;", rlen = 6;
			break;
		default:
			continue;
		}
		text_buf_append(b, s + run, i - run);
		text_buf_append(b, rep, rlen);
		run = i + 1;
	}
	return text_buf_append(b, s + run, len - run);
}
