/*
 * layer_wire.c - the Redis backend's wire format: message payloads (msgpack
 * as channels_redis writes them, or JSON), the crc32 shard ring, group
 * channel names and redis:// URLs. Pure functions: no I/O, no globals, any
 * thread.
 *
 * Encoding uses msgpack-c's packer, which picks the smallest integer and
 * string forms exactly as msgpack-python's packb() does, so a message whose
 * keys are in the same order encodes to the same bytes as in Python.
 *
 * Decoding msgpack is done here, not with msgpack_unpack_next(): msgpack-c's
 * unpacker stops at 32 nested containers (MSGPACK_EMBED_STACK_SIZE, compiled
 * into the library) and allocates a container's element array from the
 * count in its header before reading any element, so a 5-byte payload can
 * ask for gigabytes. The decoder below allows LAYER_WIRE_MAX_DEPTH levels
 * and refuses any count larger than the bytes left, so memory stays linear
 * in the payload size. Decoding choices (msgpack-python with raw=False and
 * strict_map_key=True is the reference):
 *   - str must be valid UTF-8 (NUL allowed), else the payload is refused,
 *     as Python raises UnicodeDecodeError;
 *   - map keys must be str without NUL (jansson loads no NUL key from JSON,
 *     and both formats must accept the same objects); duplicate keys: the
 *     last one wins;
 *   - bin becomes a string when it is valid UTF-8; otherwise, and for every
 *     ext / fixext value, the value is dropped: a map member is omitted, an
 *     array element is omitted;
 *   - uint64 above INT64_MAX becomes a real (json_int_t cannot hold it);
 *   - float32/float64 become reals; NaN and infinities are refused (JSON and
 *     jansson cannot hold them);
 *   - bytes after the top-level map are refused.
 * Both decoders also return CH_ENOMEM when jansson cannot allocate (the
 * header names only CH_EINVAL). The encoder copies strings as they are:
 * one built with json_string_nocheck() that is not UTF-8 goes out in
 * msgpack and is refused by JSON encoding (json_dumps fails). *out is freed
 * with free() in both formats.
 */
#include "layer.h"
#include "text.h"

#include <limits.h>
#include <math.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Containers nested deeper than this (the top-level object is level 1) are
 * refused, by the encoder and by both decoders. */
#define LAYER_WIRE_MAX_DEPTH 64

/* ---- encoding ---- */

static int depth_ok(const json_t *v, int depth)
{
	const char *key;
	json_t *m;
	size_t i;

	if (!json_is_object(v) && !json_is_array(v))
		return 1;
	if (depth > LAYER_WIRE_MAX_DEPTH)
		return 0;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, m)
			if (!depth_ok(m, depth + 1))
				return 0;
	} else {
		json_array_foreach(v, i, m)
			if (!depth_ok(m, depth + 1))
				return 0;
	}
	return 1;
}

/* 0, or -1 when the sbuffer could not grow. `v` has passed depth_ok(). */
static int pack_value(msgpack_packer *pk, const json_t *v)
{
	const char *key;
	size_t klen, i;
	json_t *m;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (msgpack_pack_map(pk, json_object_size(v)))
			return -1;
		json_object_keylen_foreach((json_t *)v, key, klen, m) {
			if (msgpack_pack_str(pk, klen) || msgpack_pack_str_body(pk, key, klen) ||
			    pack_value(pk, m))
				return -1;
		}
		return 0;
	case JSON_ARRAY:
		if (msgpack_pack_array(pk, json_array_size(v)))
			return -1;
		json_array_foreach(v, i, m)
			if (pack_value(pk, m))
				return -1;
		return 0;
	case JSON_STRING:
		return msgpack_pack_str(pk, json_string_length(v)) ||
		       msgpack_pack_str_body(pk, json_string_value(v), json_string_length(v)) ?
			       -1 : 0;
	case JSON_INTEGER:
		return msgpack_pack_int64(pk, (int64_t)json_integer_value(v));
	case JSON_REAL:
		return msgpack_pack_double(pk, json_real_value(v));
	case JSON_TRUE:
		return msgpack_pack_true(pk);
	case JSON_FALSE:
		return msgpack_pack_false(pk);
	case JSON_NULL:
		return msgpack_pack_nil(pk);
	}
	return -1;
}

int layer_wire_encode(const json_t *msg, enum layer_wire_format fmt, char **out, size_t *outlen)
{
	msgpack_sbuffer sbuf;
	msgpack_packer pk;
	char *s;

	*out = NULL;
	*outlen = 0;
	if (!json_is_object(msg) || !depth_ok(msg, 1))
		return CH_EINVAL;
	if (fmt == LAYER_WIRE_JSON) {
		/* NULL here is either ENOMEM or a string that is not UTF-8 (built
		 * with json_string_nocheck); the latter is the caller's bug. */
		s = json_dumps(msg, JSON_COMPACT);
		if (!s)
			return CH_EINVAL;
		*out = s;
		*outlen = strlen(s);
		return 0;
	}
	if (fmt != LAYER_WIRE_MSGPACK)
		return CH_EINVAL;
	msgpack_sbuffer_init(&sbuf);
	msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
	if (pack_value(&pk, msg)) {
		msgpack_sbuffer_destroy(&sbuf);
		return CH_ENOMEM;
	}
	*outlen = sbuf.size;
	*out = msgpack_sbuffer_release(&sbuf); /* malloc'd by the sbuffer */
	return 0;
}

/* ---- decoding ---- */

struct rd {
	const unsigned char *p;
	const unsigned char *end;
};

static size_t rd_left(const struct rd *r)
{
	return (size_t)(r->end - r->p);
}

/* Reads an n-byte big-endian unsigned integer; 0 when the bytes are missing. */
static int rd_be(struct rd *r, unsigned n, uint64_t *v)
{
	if (rd_left(r) < n)
		return 0;
	*v = 0;
	for (unsigned i = 0; i < n; i++)
		*v = (*v << 8) | *r->p++;
	return 1;
}

/* Reads `len` bytes of a str/bin/ext body. */
static int rd_body(struct rd *r, uint64_t len, const unsigned char **body)
{
	if (len > rd_left(r))
		return 0;
	*body = r->p;
	r->p += len;
	return 1;
}

static int rd_value(struct rd *r, int depth, json_t **out);

/* A map of `n` entries; keys must be str. */
static int rd_map(struct rd *r, uint64_t n, int depth, json_t **out)
{
	json_t *obj, *v;
	uint64_t klen;
	const unsigned char *key;
	unsigned c;
	int rc;

	if (depth > LAYER_WIRE_MAX_DEPTH || n > rd_left(r) / 2)
		return CH_EINVAL;
	obj = json_object();
	if (!obj)
		return CH_ENOMEM;
	for (uint64_t i = 0; i < n; i++) {
		if (!rd_left(r))
			goto einval;
		c = *r->p++;
		if (c >= 0xa0 && c <= 0xbf)
			klen = c & 0x1f;
		else if (c < 0xd9 || c > 0xdb || !rd_be(r, 1u << (c - 0xd9), &klen))
			goto einval;
		if (!rd_body(r, klen, &key) || !text_utf8_valid(key, klen) || memchr(key, 0, klen))
			goto einval;
		rc = rd_value(r, depth + 1, &v);
		if (rc) {
			json_decref(obj);
			return rc;
		}
		if (v && json_object_setn_new_nocheck(obj, (const char *)key, klen, v)) {
			json_decref(obj);
			return CH_ENOMEM;
		}
	}
	*out = obj;
	return 0;
einval:
	json_decref(obj);
	return CH_EINVAL;
}

static int rd_array(struct rd *r, uint64_t n, int depth, json_t **out)
{
	json_t *arr, *v;
	int rc;

	if (depth > LAYER_WIRE_MAX_DEPTH || n > rd_left(r))
		return CH_EINVAL;
	arr = json_array();
	if (!arr)
		return CH_ENOMEM;
	for (uint64_t i = 0; i < n; i++) {
		rc = rd_value(r, depth + 1, &v);
		if (rc) {
			json_decref(arr);
			return rc;
		}
		if (v && json_array_append_new(arr, v)) {
			json_decref(arr);
			return CH_ENOMEM;
		}
	}
	*out = arr;
	return 0;
}

static int mk(json_t *v, json_t **out)
{
	*out = v;
	return v ? 0 : CH_ENOMEM;
}

static int mk_real(double d, json_t **out)
{
	if (!isfinite(d))
		return CH_EINVAL;
	return mk(json_real(d), out);
}

/*
 * Decodes one value at r->p. 0 with *out a new reference, or 0 with *out
 * NULL for a dropped value (non-UTF-8 bin, ext), or a CH_E* code.
 * `depth` is the nesting level a container read here would have.
 * Over 80 lines: one case per msgpack format byte, in the order of the
 * spec's format table, a few lines each; split, that table would be read
 * across functions.
 */
static int rd_value(struct rd *r, int depth, json_t **out)
{
	const unsigned char *body;
	uint64_t u, len;
	unsigned c;

	*out = NULL;
	if (!rd_left(r))
		return CH_EINVAL;
	c = *r->p++;
	if (c <= 0x7f)
		return mk(json_integer((json_int_t)c), out);
	if (c >= 0xe0)
		return mk(json_integer((json_int_t)c - 0x100), out);
	if (c <= 0x8f)
		return rd_map(r, c & 0x0f, depth, out);
	if (c <= 0x9f)
		return rd_array(r, c & 0x0f, depth, out);
	if (c <= 0xbf) {
		len = c & 0x1f;
		goto str;
	}
	switch (c) {
	case 0xc0:
		return mk(json_null(), out);
	case 0xc2:
		return mk(json_false(), out);
	case 0xc3:
		return mk(json_true(), out);
	case 0xc4: case 0xc5: case 0xc6: /* bin 8/16/32 */
		if (!rd_be(r, 1u << (c - 0xc4), &len) || !rd_body(r, len, &body))
			return CH_EINVAL;
		if (!text_utf8_valid(body, len))
			return 0;
		return mk(json_stringn_nocheck((const char *)body, len), out);
	case 0xc7: case 0xc8: case 0xc9: /* ext 8/16/32: length, type, data */
		if (!rd_be(r, 1u << (c - 0xc7), &len) || !rd_be(r, 1, &u) ||
		    !rd_body(r, len, &body))
			return CH_EINVAL;
		return 0;
	case 0xca: { /* float32 */
		float f;
		uint32_t bits;

		if (!rd_be(r, 4, &u))
			return CH_EINVAL;
		bits = (uint32_t)u;
		memcpy(&f, &bits, sizeof(f));
		return mk_real((double)f, out);
	}
	case 0xcb: { /* float64 */
		double d;

		if (!rd_be(r, 8, &u))
			return CH_EINVAL;
		memcpy(&d, &u, sizeof(d));
		return mk_real(d, out);
	}
	case 0xcc: case 0xcd: case 0xce: case 0xcf: /* uint 8..64 */
		if (!rd_be(r, 1u << (c - 0xcc), &u))
			return CH_EINVAL;
		if (u > (uint64_t)INT64_MAX)
			return mk_real((double)u, out);
		return mk(json_integer((json_int_t)u), out);
	case 0xd0: case 0xd1: case 0xd2: case 0xd3: { /* int 8..64 */
		unsigned n = 1u << (c - 0xd0);
		int64_t s;

		if (!rd_be(r, n, &u))
			return CH_EINVAL;
		if (n < 8 && (u >> (8 * n - 1)))
			u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
		memcpy(&s, &u, sizeof(s));
		return mk(json_integer((json_int_t)s), out);
	}
	case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: /* fixext 1..16 */
		if (!rd_be(r, 1, &u) || !rd_body(r, 1u << (c - 0xd4), &body))
			return CH_EINVAL;
		return 0;
	case 0xd9: case 0xda: case 0xdb: /* str 8/16/32 */
		if (!rd_be(r, 1u << (c - 0xd9), &len))
			return CH_EINVAL;
		goto str;
	case 0xdc: case 0xdd: /* array 16/32 */
		if (!rd_be(r, c == 0xdc ? 2 : 4, &len))
			return CH_EINVAL;
		return rd_array(r, len, depth, out);
	case 0xde: case 0xdf: /* map 16/32 */
		if (!rd_be(r, c == 0xde ? 2 : 4, &len))
			return CH_EINVAL;
		return rd_map(r, len, depth, out);
	default: /* 0xc1: never used */
		return CH_EINVAL;
	}
str:
	if (!rd_body(r, len, &body) || !text_utf8_valid(body, len))
		return CH_EINVAL;
	return mk(json_stringn_nocheck((const char *)body, len), out);
}

int layer_wire_decode(const void *data, size_t len, json_t **out)
{
	const unsigned char *p = data;
	struct rd r;
	json_t *v;
	size_t i = 0;
	int rc;

	*out = NULL;
	if (!data || !len)
		return CH_EINVAL;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	if (i < len && p[i] == '{') {
		/* jansson refuses trailing non-blank bytes, integers out of
		 * range and invalid UTF-8; NUL is allowed as in msgpack. */
		v = json_loadb((const char *)data, len, JSON_ALLOW_NUL, NULL);
		if (!v)
			return CH_EINVAL;
		if (!json_is_object(v) || !depth_ok(v, 1)) {
			json_decref(v);
			return CH_EINVAL;
		}
		*out = v;
		return 0;
	}
	/* msgpack starts at byte 0: blanks are positive fixints, not maps. */
	r.p = p;
	r.end = p + len;
	if (*r.p < 0x80 || (*r.p > 0x8f && *r.p != 0xde && *r.p != 0xdf))
		return CH_EINVAL;
	rc = rd_value(&r, 1, &v);
	if (rc)
		return rc;
	if (r.p != r.end) {
		json_decref(v);
		return CH_EINVAL;
	}
	*out = v;
	return 0;
}

/* ---- sharding and names ---- */

unsigned layer_shard_index(const char *name, unsigned n_shards)
{
	unsigned long bigval;
	unsigned idx;

	if (n_shards <= 1)
		return 0;
	bigval = crc32_z(0, (const Bytef *)name, strlen(name)) & 0xfff;
	/* The same two IEEE double operations as Python's
	 * int(bigval / (4096 / float(ring_size))), so the same result. */
	idx = (unsigned)((double)bigval / (4096.0 / (double)n_shards));
	return idx < n_shards ? idx : n_shards - 1;
}

int layer_group_channel(const char *prefix, const char *group, char *out, size_t outlen)
{
	int n;

	if (!prefix || !group || !out || !outlen)
		return CH_EINVAL;
	n = snprintf(out, outlen, "%s__group__%s", prefix, group);
	if (n < 0 || (size_t)n >= outlen) {
		out[0] = '\0';
		return CH_EINVAL;
	}
	return 0;
}

/* ---- redis:// URLs ---- */

static int url_fail(char *err, size_t errlen, const char *why, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "%s%s%s", why, what ? ": " : "", what ? what : "");
	return CH_EINVAL;
}

/* Decodes a percent-encoded part (user, password, [IPv6] host) into out;
 * nonzero when an escape is malformed, decodes to NUL, or it does not fit. */
static int url_part(const char *s, size_t n, char *out, size_t cap)
{
	return text_pct_decode(s, n, out, cap, TEXT_PCT_STRICT, NULL);
}

/* A decimal number of s[0..n) in [min, max]; 0 if not. */
static int parse_num(const char *s, size_t n, long min, long max, int *out)
{
	long v = 0;

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
		if (v > max)
			return 0;
	}
	if (v < min)
		return 0;
	*out = (int)v;
	return 1;
}

/* "db=N&password=P" (either, both, any order); other keys are refused so a
 * setting this client ignores does not go unnoticed. */
static int parse_query(const char *q, struct layer_redis_url *u, char *err, size_t errlen)
{
	while (*q) {
		size_t n = strcspn(q, "&");
		const char *eq = memchr(q, '=', n);
		size_t klen = eq ? (size_t)(eq - q) : n;
		const char *val = eq ? eq + 1 : q + n;
		size_t vlen = (size_t)(q + n - val);

		if (klen == 2 && !memcmp(q, "db", 2)) {
			if (!parse_num(val, vlen, 0, INT_MAX, &u->db))
				return url_fail(err, errlen, "bad db number in the query", NULL);
		} else if (klen == 8 && !memcmp(q, "password", 8)) {
			if (url_part(val, vlen, u->password, sizeof(u->password)))
				return url_fail(err, errlen, "bad password in the query", NULL);
		} else if (n) {
			return url_fail(err, errlen, "unsupported query parameter", NULL);
		}
		q += n;
		if (*q == '&')
			q++;
	}
	return 0;
}

/* Host names: letters, digits, '-', '_', '.'. An [IPv6] literal: hex
 * digits, ':', '.', then optionally a zone after '%' (already decoded from
 * RFC 6874's "%25"): letters, digits, '-', '_', '.'. */
static int host_valid(const char *h, int ipv6)
{
	int zone = 0;

	if (!*h)
		return 0;
	for (; *h; h++) {
		char c = *h;
		int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			  (c >= 'A' && c <= 'F');
		int word = hex || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   c == '-' || c == '_' || c == '.';

		if (ipv6 && !zone && c == '%') {
			zone = 1;
			if (!h[1])
				return 0;
			continue;
		}
		if (ipv6 && !zone ? !(hex || c == ':' || c == '.') : !word)
			return 0;
	}
	return 1;
}

static int parse_unix(const char *s, struct layer_redis_url *u, char *err, size_t errlen)
{
	size_t n = strcspn(s, "?#");

	if (s[n] == '#')
		return url_fail(err, errlen, "fragments are not supported", NULL);
	if (n < 2 || s[0] != '/')
		return url_fail(err, errlen, "unix:// needs an absolute socket path", NULL);
	if (n >= sizeof(u->unix_path))
		return url_fail(err, errlen, "unix socket path too long", NULL);
	memcpy(u->unix_path, s, n);
	u->unix_path[n] = '\0';
	return s[n] == '?' ? parse_query(s + n + 1, u, err, errlen) : 0;
}

static int parse_tcp(const char *s, struct layer_redis_url *u, char *err, size_t errlen)
{
	size_t alen = strcspn(s, "/?#");
	const char *at = NULL, *host, *hend, *rest = s + alen;
	int ipv6;

	for (size_t i = 0; i < alen; i++)
		if (s[i] == '@')
			at = s + i; /* the last '@' ends the userinfo */
	host = s;
	if (at) {
		const char *colon = memchr(s, ':', (size_t)(at - s));
		size_t ulen = colon ? (size_t)(colon - s) : (size_t)(at - s);

		if (url_part(s, ulen, u->username, sizeof(u->username)))
			return url_fail(err, errlen, "bad user name", NULL);
		if (colon && url_part(colon + 1, (size_t)(at - colon - 1), u->password,
				       sizeof(u->password)))
			return url_fail(err, errlen, "bad password", NULL);
		host = at + 1;
	}
	ipv6 = *host == '[';
	if (ipv6) {
		hend = memchr(host, ']', (size_t)(rest - host));
		if (!hend)
			return url_fail(err, errlen, "unterminated [IPv6] host", NULL);
		host++;
	} else {
		hend = memchr(host, ':', (size_t)(rest - host));
		if (!hend)
			hend = rest;
	}
	if (hend == host)
		return url_fail(err, errlen, "empty host", NULL);
	if (ipv6) {
		if (url_part(host, (size_t)(hend - host), u->host, sizeof(u->host)))
			return url_fail(err, errlen, "bad [IPv6] host (or too long)", NULL);
	} else {
		if ((size_t)(hend - host) >= sizeof(u->host))
			return url_fail(err, errlen, "host name too long", NULL);
		memcpy(u->host, host, (size_t)(hend - host));
		u->host[hend - host] = '\0';
	}
	if (!host_valid(u->host, ipv6))
		return url_fail(err, errlen, "invalid character in the host", NULL);
	if (*hend == ']')
		hend++;
	if (hend < rest) {
		if (*hend != ':' ||
		    !parse_num(hend + 1, (size_t)(rest - hend - 1), 1, 65535, &u->port))
			return url_fail(err, errlen, "bad port (1..65535)", NULL);
	}
	if (*rest == '#' || strchr(rest, '#'))
		return url_fail(err, errlen, "fragments are not supported", NULL);
	if (*rest == '/') {
		size_t plen = strcspn(rest + 1, "?");

		if (plen && !parse_num(rest + 1, plen, 0, INT_MAX, &u->db))
			return url_fail(err, errlen, "bad db number in the path", NULL);
		rest += 1 + plen;
	}
	return *rest == '?' ? parse_query(rest + 1, u, err, errlen) : 0;
}

/* Does `s` start with the lower-case `prefix`, ignoring case? */
static int has_scheme(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++) {
		char c = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;

		if (c != *prefix)
			return 0;
	}
	return 1;
}

/*
 * Beyond the header's grammar: the scheme is case-insensitive; "user@host"
 * (no ':') is a user name without password; redis:// also takes the
 * ?db=&password= query of unix:// (the query wins over the path); unix
 * URLs keep the default port 6379, which is unused.
 */
int layer_redis_url_parse(const char *url, struct layer_redis_url *out, char *err, size_t errlen)
{
	struct layer_redis_url u;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!url || !out)
		return url_fail(err, errlen, "no URL", NULL);
	memset(&u, 0, sizeof(u));
	u.port = 6379;
	if (has_scheme(url, "redis://"))
		rc = parse_tcp(url + 8, &u, err, errlen);
	else if (has_scheme(url, "unix://"))
		rc = parse_unix(url + 7, &u, err, errlen);
	else if (has_scheme(url, "rediss://"))
		return url_fail(err, errlen, "rediss:// (TLS) is not supported", NULL);
	else
		return url_fail(err, errlen, "unsupported URL scheme (redis:// or unix://)", NULL);
	if (rc)
		return rc;
	*out = u;
	return 0;
}
