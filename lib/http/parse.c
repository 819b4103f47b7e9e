/*
 * parse.c - percent-decoding, query strings / form bodies and Cookie
 * headers. Pure functions: bytes in, new objects out; safe on any thread.
 */
#include "http.h"
#include "http_int.h"

#include <stdlib.h>
#include <string.h>

/* Sets *res to the decoded string (malloc'd); CH_EINVAL for a NUL byte. */
static int url_decode(const char *src, size_t len, bool plus_is_space, char **res)
{
	*res = malloc(len + 1);
	if (!*res)
		return CH_ENOMEM;
	if (text_pct_decode(src, len, *res, len + 1, plus_is_space ? TEXT_PCT_PLUS : 0, NULL)) {
		free(*res);
		*res = NULL;
		return CH_EINVAL;
	}
	return CH_OK;
}

char *http_url_decode(const char *src, size_t len, bool plus_is_space)
{
	char *out;

	url_decode(src, len, plus_is_space, &out);
	return out;
}

/* True when s[0..n) can be a JSON string here: UTF-8 without NUL. */
static bool json_text_ok(const char *s, size_t n)
{
	return text_utf8_valid(s, n) && !memchr(s, 0, n);
}

/*
 * Sets obj[key] = value for one decoded pair. Pairs that cannot be JSON
 * (a NUL, invalid UTF-8) are skipped. Returns CH_ENOMEM or CH_OK.
 */
static int set_string(json_t *obj, const char *key, size_t klen, const char *val, size_t vlen,
		      bool first_wins)
{
	if (klen == 0 || !json_text_ok(key, klen) || !json_text_ok(val, vlen))
		return CH_OK;
	if (first_wins && json_object_get(obj, key))
		return CH_OK;
	json_t *s = json_stringn_nocheck(val, vlen);
	if (!s || json_object_set_new_nocheck(obj, key, s) != 0)
		return CH_ENOMEM;
	return CH_OK;
}

json_t *http_parse_query(const char *src, size_t len)
{
	json_t *obj = json_object();
	size_t pos = 0;

	if (!obj)
		return NULL;
	while (src && pos < len) {
		const char *seg = src + pos;
		const char *amp = memchr(seg, '&', len - pos);
		size_t seglen = amp ? (size_t)(amp - seg) : len - pos;
		pos += seglen + 1;
		if (seglen == 0)
			continue;

		const char *eq = memchr(seg, '=', seglen);
		size_t klen = eq ? (size_t)(eq - seg) : seglen;
		if (klen == 0)
			continue;
		char *key, *val = NULL;
		int rc = url_decode(seg, klen, true, &key);
		if (!rc && eq)
			rc = url_decode(eq + 1, seglen - klen - 1, true, &val);
		else if (!rc && !(val = strdup("")))
			rc = CH_ENOMEM;
		if (!rc)
			rc = set_string(obj, key, strlen(key), val, strlen(val), false);
		free(key);
		free(val);
		if (rc == CH_EINVAL)
			continue; /* a decoded NUL: the pair is dropped */
		if (rc) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

static bool is_cookie_name_char(unsigned char c)
{
	/* RFC 6265 cookie-name is an RFC 2616 token. */
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return !strchr("()<>@,;:\\\"/[]?={}", c);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* The next "name=value" pair of a Cookie header with a valid name, value
 * unquoted and both trimmed; advances *p. False at the end. */
static bool cookie_next(const char **p, const char **name, size_t *nlen, const char **val,
			size_t *vlen)
{
	while (*p && **p) {
		const char *end = strchr(*p, ';');
		size_t seglen = end ? (size_t)(end - *p) : strlen(*p);
		const char *seg = *p;
		*p = end ? end + 1 : NULL;

		while (seglen && is_space(*seg)) {
			seg++;
			seglen--;
		}
		while (seglen && is_space(seg[seglen - 1]))
			seglen--;
		const char *eq = memchr(seg, '=', seglen);
		if (!eq)
			continue;
		size_t nl = (size_t)(eq - seg);
		while (nl && is_space(seg[nl - 1]))
			nl--;
		const char *v = eq + 1;
		size_t vl = seglen - (size_t)(v - seg);
		while (vl && is_space(*v)) {
			v++;
			vl--;
		}
		if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
			v++;
			vl -= 2;
		}
		bool ok = nl > 0;
		for (size_t i = 0; ok && i < nl; i++)
			ok = is_cookie_name_char((unsigned char)seg[i]);
		if (!ok)
			continue;
		*name = seg;
		*nlen = nl;
		*val = v;
		*vlen = vl;
		return true;
	}
	return false;
}

json_t *http_parse_cookies(const char *header)
{
	json_t *obj = json_object();

	if (!obj)
		return NULL;
	const char *p = header, *name, *val;
	size_t nlen, vlen;
	while (cookie_next(&p, &name, &nlen, &val, &vlen)) {
		char *key = strndup(name, nlen);
		int rc = key ? set_string(obj, key, nlen, val, vlen, true) : CH_ENOMEM;
		free(key);
		if (rc) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

bool http_cookie_ambiguous(const char *header, const char *name)
{
	const char *p = header, *n, *v, *first = NULL;
	size_t nlen, vlen, first_len = 0, want = strlen(name);
	while (cookie_next(&p, &n, &nlen, &v, &vlen)) {
		if (nlen != want || memcmp(n, name, want) != 0)
			continue;
		if (!first) {
			first = v;
			first_len = vlen;
		} else if (vlen != first_len || memcmp(v, first, vlen) != 0) {
			return true;
		}
	}
	return false;
}
