/*
 * value.c - the output buffer and how values print: HTML escaping, Python's
 * float repr, Python's json.dumps, and Django's filepath_to_uri.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_int.h"

void tmpl__buf_put(struct tmpl_buf *b, const char *s, size_t n)
{
	if (b->oom || n == 0)
		return;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2) {
				b->oom = true;
				return;
			}
			cap *= 2;
		}
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

void tmpl__buf_puts(struct tmpl_buf *b, const char *s)
{
	tmpl__buf_put(b, s, strlen(s));
}

void tmpl__buf_escape(struct tmpl_buf *b, const char *s, size_t n)
{
	size_t run = 0;
	for (size_t k = 0; k < n; k++) {
		const char *rep;
		switch (s[k]) {
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
		tmpl__buf_put(b, s + run, k - run);
		tmpl__buf_puts(b, rep);
		run = k + 1;
	}
	tmpl__buf_put(b, s + run, n - run);
}

/* Over 80 lines: one number formatter that mirrors Python's float repr and Django's
 * number_format case by case (nan/inf, scientific, leading zeros, integral, fractional)
 * over shared digit and output buffers. */
void tmpl__buf_real(struct tmpl_buf *b, double d, bool django)
{
	if (isnan(d)) {
		tmpl__buf_puts(b, "nan");
		return;
	}
	if (isinf(d)) {
		tmpl__buf_puts(b, d < 0 ? "-inf" : "inf");
		return;
	}
	/* shortest digits that round-trip, as Python's repr */
	char tmp[40];
	int prec;
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	/* tmp is [-]D[.DDD]e[+-]XX */
	char digits[24];
	size_t nd = 0;
	const char *c = tmp;
	bool neg = *c == '-';
	if (neg)
		c++;
	for (; *c && *c != 'e'; c++)
		if (*c != '.')
			digits[nd++] = *c;
	int exp = atoi(c + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	char out[64];
	size_t o = 0;
	if (neg)
		out[o++] = '-';
	int decpt = exp + 1;
	bool sci = decpt > 16 || decpt < -3;
	if (sci && django) {
		/* Django's number_format: Decimal(repr) printed positionally unless huge */
		int dexp = exp - (int)nd + 1;
		if ((dexp < 0 ? -dexp : dexp) + (int)nd <= 200) {
			if (decpt > 0) {
				memcpy(out + o, digits, nd);
				o += nd;
				tmpl__buf_put(b, out, o);
				for (int z = (int)nd; z < decpt; z++)
					tmpl__buf_put(b, "0", 1);
				return;
			}
			sci = false;
		}
	}
	if (sci) {
		out[o++] = digits[0];
		if (nd > 1) {
			out[o++] = '.';
			memcpy(out + o, digits + 1, nd - 1);
			o += nd - 1;
		}
		o += (size_t)snprintf(out + o, sizeof(out) - o, django ? "e%c%d" : "e%c%02d",
				      exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
	} else if (decpt <= 0) {
		out[o++] = '0';
		out[o++] = '.';
		tmpl__buf_put(b, out, o);
		for (int z = 0; z < -decpt; z++)
			tmpl__buf_put(b, "0", 1);
		o = 0;
		memcpy(out + o, digits, nd);
		o += nd;
	} else if ((size_t)decpt >= nd) {
		memcpy(out + o, digits, nd);
		o += nd;
		for (size_t z = nd; z < (size_t)decpt; z++)
			out[o++] = '0';
		out[o++] = '.';
		out[o++] = '0';
	} else {
		memcpy(out + o, digits, (size_t)decpt);
		o += (size_t)decpt;
		out[o++] = '.';
		memcpy(out + o, digits + decpt, nd - (size_t)decpt);
		o += nd - (size_t)decpt;
	}
	tmpl__buf_put(b, out, o);
}

/* Decodes one UTF-8 sequence at s[*k]; invalid bytes give U+FFFD. */
static unsigned utf8_next(const unsigned char *s, size_t n, size_t *k)
{
	unsigned c = s[*k], min;
	size_t need;
	if (c < 0x80) {
		(*k)++;
		return c;
	}
	if (c >= 0xC2 && c < 0xE0) {
		need = 1;
		min = 0x80;
	} else if (c >= 0xE0 && c < 0xF0) {
		need = 2;
		min = 0x800;
	} else if (c >= 0xF0 && c < 0xF5) {
		need = 3;
		min = 0x10000;
	} else {
		(*k)++;
		return 0xFFFD;
	}
	if (n - *k <= need) {
		(*k)++;
		return 0xFFFD;
	}
	unsigned cp = c & (0x3Fu >> need);
	for (size_t m = 1; m <= need; m++) {
		if ((s[*k + m] & 0xC0) != 0x80) {
			(*k)++;
			return 0xFFFD;
		}
		cp = (cp << 6) | (s[*k + m] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
		(*k)++;
		return 0xFFFD;
	}
	*k += need + 1;
	return cp;
}

static void json_str(struct tmpl_buf *b, const char *str, size_t n, bool ascii, bool script)
{
	const unsigned char *s = (const unsigned char *)str;
	char esc[16];
	tmpl__buf_put(b, "\"", 1);
	size_t k = 0, run = 0;
	while (k < n) {
		unsigned char c = s[k];
		const char *rep = NULL;
		if (c == '"')
			rep = "\\\"";
		else if (c == '\\')
			rep = "\\\\";
		else if (c == '\n')
			rep = "\\n";
		else if (c == '\r')
			rep = "\\r";
		else if (c == '\t')
			rep = "\\t";
		else if (c == '\b')
			rep = "\\b";
		else if (c == '\f')
			rep = "\\f";
		else if (script && c == '<')
			rep = "\\u003C";
		else if (script && c == '>')
			rep = "\\u003E";
		else if (script && c == '&')
			rep = "\\u0026";
		if (rep || c < 0x20 || (ascii && c >= 0x7F)) {
			tmpl__buf_put(b, str + run, k - run);
			if (rep) {
				tmpl__buf_puts(b, rep);
				k++;
			} else if (c < 0x80) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				tmpl__buf_puts(b, esc);
				k++;
			} else {
				unsigned cp = utf8_next(s, n, &k);
				if (cp >= 0x10000) {
					cp -= 0x10000;
					snprintf(esc, sizeof(esc), "\\u%04x\\u%04x",
						 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
				} else {
					snprintf(esc, sizeof(esc), "\\u%04x", cp);
				}
				tmpl__buf_puts(b, esc);
			}
			run = k;
			continue;
		}
		k++;
	}
	tmpl__buf_put(b, str + run, n - run);
	tmpl__buf_put(b, "\"", 1);
}

void tmpl__buf_json(struct tmpl_buf *b, const json_t *j, bool ascii, bool script)
{
	char num[32];
	if (!j) {
		tmpl__buf_puts(b, "null"); /* a missing value, e.g. an unknown filter argument */
		return;
	}
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *v;
		bool first = true;
		tmpl__buf_put(b, "{", 1);
		json_object_foreach((json_t *)j, key, v)
		{
			if (!first)
				tmpl__buf_put(b, ", ", 2);
			first = false;
			json_str(b, key, json_object_iter_key_len(json_object_key_to_iter(key)),
				 ascii, script);
			tmpl__buf_put(b, ": ", 2);
			tmpl__buf_json(b, v, ascii, script);
		}
		tmpl__buf_put(b, "}", 1);
		break;
	}
	case JSON_ARRAY:
		tmpl__buf_put(b, "[", 1);
		for (size_t k = 0; k < json_array_size(j); k++) {
			if (k)
				tmpl__buf_put(b, ", ", 2);
			tmpl__buf_json(b, json_array_get(j, k), ascii, script);
		}
		tmpl__buf_put(b, "]", 1);
		break;
	case JSON_STRING:
		json_str(b, json_string_value(j), json_string_length(j), ascii, script);
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		tmpl__buf_puts(b, num);
		break;
	case JSON_REAL: {
		double d = json_real_value(j);
		if (isnan(d))
			tmpl__buf_puts(b, "NaN");
		else if (isinf(d))
			tmpl__buf_puts(b, d < 0 ? "-Infinity" : "Infinity");
		else
			tmpl__buf_real(b, d, false);
		break;
	}
	case JSON_TRUE:
		tmpl__buf_puts(b, "true");
		break;
	case JSON_FALSE:
		tmpl__buf_puts(b, "false");
		break;
	case JSON_NULL:
		tmpl__buf_puts(b, "null");
		break;
	}
}

void tmpl__buf_display(struct tmpl_buf *b, const json_t *j)
{
	char num[32];
	if (!j)
		return;
	switch (json_typeof(j)) {
	case JSON_STRING:
		tmpl__buf_put(b, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		tmpl__buf_puts(b, num);
		break;
	case JSON_REAL:
		tmpl__buf_real(b, json_real_value(j), true);
		break;
	case JSON_TRUE:
		tmpl__buf_puts(b, "True");
		break;
	case JSON_FALSE:
		tmpl__buf_puts(b, "False");
		break;
	case JSON_NULL:
		break;
	default:
		tmpl__buf_json(b, j, false, false);
		break;
	}
}

void tmpl__buf_uri(struct tmpl_buf *b, const char *s, size_t n)
{
	static const char safe[] = "/~!*()'_.-";
	char esc[4];
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[k];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    (c && strchr(safe, c))) {
			tmpl__buf_put(b, s + k, 1);
		} else if (c == '\\') {
			tmpl__buf_put(b, "/", 1);
		} else {
			snprintf(esc, sizeof(esc), "%%%02X", c);
			tmpl__buf_put(b, esc, 3);
		}
	}
}
