/*
 * value.c - how values print into a text_buf (lib/text): Python's
 * float repr, Python's json.dumps, and Django's filepath_to_uri.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_int.h"

/* Over 80 lines: one number formatter that mirrors Python's float repr and Django's
 * number_format case by case (nan/inf, scientific, leading zeros, integral, fractional)
 * over shared digit and output buffers. */
void tmpl__buf_real(struct text_buf *b, double d, bool django)
{
	if (isnan(d)) {
		text_buf_puts(b, "nan");
		return;
	}
	if (isinf(d)) {
		text_buf_puts(b, d < 0 ? "-inf" : "inf");
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
				text_buf_append(b, out, o);
				for (int z = (int)nd; z < decpt; z++)
					text_buf_append(b, "0", 1);
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
		text_buf_append(b, out, o);
		for (int z = 0; z < -decpt; z++)
			text_buf_append(b, "0", 1);
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
	text_buf_append(b, out, o);
}

/* Decodes one UTF-8 sequence at s[*k]; an invalid byte gives U+FFFD. */
static unsigned utf8_next(const unsigned char *s, size_t n, size_t *k)
{
	uint32_t cp;
	size_t len = text_utf8_decode(s + *k, n - *k, &cp);
	*k += len ? len : 1;
	return len ? cp : 0xFFFD;
}

static void json_str(struct text_buf *b, const char *str, size_t n, bool ascii, bool script)
{
	const unsigned char *s = (const unsigned char *)str;
	char esc[16];
	text_buf_append(b, "\"", 1);
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
			text_buf_append(b, str + run, k - run);
			if (rep) {
				text_buf_puts(b, rep);
				k++;
			} else if (c < 0x80) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				text_buf_puts(b, esc);
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
				text_buf_puts(b, esc);
			}
			run = k;
			continue;
		}
		k++;
	}
	text_buf_append(b, str + run, n - run);
	text_buf_append(b, "\"", 1);
}

void tmpl__buf_json(struct text_buf *b, const json_t *j, bool ascii, bool script)
{
	char num[32];
	if (!j) {
		text_buf_puts(b, "null"); /* a missing value, e.g. an unknown filter argument */
		return;
	}
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *v;
		bool first = true;
		text_buf_append(b, "{", 1);
		json_object_foreach((json_t *)j, key, v)
		{
			if (!first)
				text_buf_append(b, ", ", 2);
			first = false;
			json_str(b, key, json_object_iter_key_len(json_object_key_to_iter(key)),
				 ascii, script);
			text_buf_append(b, ": ", 2);
			tmpl__buf_json(b, v, ascii, script);
		}
		text_buf_append(b, "}", 1);
		break;
	}
	case JSON_ARRAY:
		text_buf_append(b, "[", 1);
		for (size_t k = 0; k < json_array_size(j); k++) {
			if (k)
				text_buf_append(b, ", ", 2);
			tmpl__buf_json(b, json_array_get(j, k), ascii, script);
		}
		text_buf_append(b, "]", 1);
		break;
	case JSON_STRING:
		json_str(b, json_string_value(j), json_string_length(j), ascii, script);
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		text_buf_puts(b, num);
		break;
	case JSON_REAL: {
		double d = json_real_value(j);
		if (isnan(d))
			text_buf_puts(b, "NaN");
		else if (isinf(d))
			text_buf_puts(b, d < 0 ? "-Infinity" : "Infinity");
		else
			tmpl__buf_real(b, d, false);
		break;
	}
	case JSON_TRUE:
		text_buf_puts(b, "true");
		break;
	case JSON_FALSE:
		text_buf_puts(b, "false");
		break;
	case JSON_NULL:
		text_buf_puts(b, "null");
		break;
	}
}

void tmpl__buf_display(struct text_buf *b, const json_t *j)
{
	char num[32];
	if (!j)
		return;
	switch (json_typeof(j)) {
	case JSON_STRING:
		text_buf_append(b, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		text_buf_puts(b, num);
		break;
	case JSON_REAL:
		tmpl__buf_real(b, json_real_value(j), true);
		break;
	case JSON_TRUE:
		text_buf_puts(b, "True");
		break;
	case JSON_FALSE:
		text_buf_puts(b, "False");
		break;
	case JSON_NULL:
		break;
	default:
		tmpl__buf_json(b, j, false, false);
		break;
	}
}

void tmpl__buf_uri(struct text_buf *b, const char *s, size_t n)
{
	static const char safe[] = "/~!*()'_.-";
	char esc[4];
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[k];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    (c && strchr(safe, c))) {
			text_buf_append(b, s + k, 1);
		} else if (c == '\\') {
			text_buf_append(b, "/", 1);
		} else {
			snprintf(esc, sizeof(esc), "%%%02X", c);
			text_buf_append(b, esc, 3);
		}
	}
}
