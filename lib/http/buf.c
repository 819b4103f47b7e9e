/*
 * buf.c - the growable, NUL-terminated output buffer of responses.
 */
#include "http.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for `extra` more bytes plus the terminating NUL. */
static int buf_reserve(struct http_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - 1 - b->len)
		return CH_ENOMEM;
	size_t need = b->len + extra + 1;
	if (b->data && need <= b->cap)
		return CH_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return CH_ENOMEM;
	b->data = p;
	b->cap = cap;
	return CH_OK;
}

int http_buf_append(struct http_buf *b, const char *s, size_t len)
{
	int rc = buf_reserve(b, len);
	if (rc)
		return rc;
	if (len)
		memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
	return CH_OK;
}

int http_buf_printf(struct http_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc = buf_reserve(b, 0);
	if (rc)
		return rc;

	va_start(ap, fmt);
	int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->data[b->len] = '\0';
		return CH_EINVAL;
	}
	if ((size_t)n >= b->cap - b->len) {
		rc = buf_reserve(b, (size_t)n);
		if (rc) {
			b->data[b->len] = '\0';
			return rc;
		}
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
	return CH_OK;
}

int http_buf_append_escaped(struct http_buf *b, const char *s, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		const char *rep;
		switch (s[i]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#x27;";
			break;
		default:
			continue;
		}
		int rc = http_buf_append(b, s + start, i - start);
		if (!rc)
			rc = http_buf_append(b, rep, strlen(rep));
		if (rc)
			return rc;
		start = i + 1;
	}
	return http_buf_append(b, s + start, len - start);
}

void http_buf_free(struct http_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
