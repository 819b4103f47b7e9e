/*
 * test_http.c - unit tests of lib/http/: percent-decoding, query and
 * cookie parsing, the output buffer and HTML escaping, signed values, and
 * the request/response helpers.
 */
#include "check.h"
#include "http.h"
#include "http_int.h"

#include <stdlib.h>
#include <string.h>

__attribute__((returns_nonnull)) static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return p;
}

static const unsigned char KEY[] = "test-secret-key";
#define KEYLEN (sizeof(KEY) - 1)

static void check_decode(const char *in, bool plus, const char *want)
{
	char *got = http_url_decode(in, strlen(in), plus);
	if (want) {
		CHECK_STR(got, want);
	} else if (got) {
		fprintf(stderr, "decode(\"%s\") should be NULL, got \"%s\"\n", in, got);
		CHECK(got == NULL);
	}
	free(got);
}

static void test_url_decode(void)
{
	check_decode("", false, "");
	check_decode("abc", false, "abc");
	check_decode("a%20b", false, "a b");
	check_decode("%41%6a%6A", false, "Ajj");
	check_decode("%zz", false, "%zz");
	check_decode("%4", false, "%4");
	check_decode("%", false, "%");
	check_decode("abc%", false, "abc%");
	check_decode("%%41", false, "%A");
	check_decode("%g1%1g", false, "%g1%1g");
	check_decode("a+b", false, "a+b");
	check_decode("a+b", true, "a b");
	check_decode("%2B+", true, "+ ");
	check_decode("%00", false, NULL);
	check_decode("a%00b", true, NULL);
	check_decode("%C3%A9", false, "\xc3\xa9");
	/* Only `len` bytes are read; a raw NUL inside them is refused too. */
	char *got = http_url_decode("abcdef", 3, false);
	CHECK_STR(got, "abc");
	free(got);
	CHECK(http_url_decode("a\0b", 3, false) == NULL);
}

static json_t *query(const char *s)
{
	json_t *o = http_parse_query(s, strlen(s));
	CHECK(o != NULL && json_is_object(o));
	return o;
}

#define CHECK_KEY(obj, key, want) CHECK_STR(json_string_value(json_object_get(obj, key)), want)

static void test_parse_query(void)
{
	json_t *o = query("a=1&b=two%20words&c=x+y");
	CHECK_INT(json_object_size(o), 3);
	CHECK_KEY(o, "a", "1");
	CHECK_KEY(o, "b", "two words");
	CHECK_KEY(o, "c", "x y");
	json_decref(o);

	o = query("");
	CHECK_INT(json_object_size(o), 0);
	json_decref(o);

	o = query("a=1&a=2&a=3");
	CHECK_INT(json_object_size(o), 1);
	CHECK_KEY(o, "a", "3");
	json_decref(o);

	o = query("&&=x&=&flag&k=&&");
	CHECK_INT(json_object_size(o), 2);
	CHECK_KEY(o, "flag", "");
	CHECK_KEY(o, "k", "");
	json_decref(o);

	o = query("k%3Dx=v%26w&e=a=b&s=1;t=2");
	CHECK_KEY(o, "k=x", "v&w");
	CHECK_KEY(o, "e", "a=b");
	CHECK_KEY(o, "s", "1;t=2");
	CHECK_INT(json_object_size(o), 3);
	json_decref(o);

	/* Decoded NUL and invalid UTF-8 drop the pair; the rest survives. */
	o = query("a=%00&b=%FF&%C3%28=1&c=%C3%A9&d=ok");
	CHECK_INT(json_object_size(o), 2);
	CHECK_KEY(o, "c", "\xc3\xa9");
	CHECK_KEY(o, "d", "ok");
	CHECK(json_object_get(o, "a") == NULL);
	json_decref(o);

	o = http_parse_query(NULL, 0);
	CHECK(o && json_object_size(o) == 0);
	json_decref(o);
	/* Length-bounded: "b=2" is past len. */
	o = http_parse_query("a=1&b=2", 3);
	CHECK_INT(json_object_size(o), 1);
	CHECK_KEY(o, "a", "1");
	json_decref(o);
}

static void test_parse_cookies(void)
{
	json_t *o = http_parse_cookies("a=1; b=2");
	CHECK_INT(json_object_size(o), 2);
	CHECK_KEY(o, "a", "1");
	CHECK_KEY(o, "b", "2");
	json_decref(o);

	o = http_parse_cookies("  sessionid = \"quoted value\" ;csrftoken=abc;  ");
	CHECK_KEY(o, "sessionid", "quoted value");
	CHECK_KEY(o, "csrftoken", "abc");
	CHECK_INT(json_object_size(o), 2);
	json_decref(o);

	o = http_parse_cookies("x=first; x=second; y=\"\"; z=\"; w=a=b");
	CHECK_KEY(o, "x", "first");
	CHECK_KEY(o, "y", "");
	CHECK_KEY(o, "z", "\"");
	CHECK_KEY(o, "w", "a=b");
	CHECK_INT(json_object_size(o), 4);
	json_decref(o);

	o = http_parse_cookies(";;garbage; =novalue; bad name=1; a\"b=2; ok=%20; e=\xff; "
			       "u=\xc3\xa9");
	CHECK_INT(json_object_size(o), 2);
	CHECK_KEY(o, "ok", "%20"); /* cookie values are not percent-decoded */
	CHECK_KEY(o, "u", "\xc3\xa9");
	json_decref(o);

	o = http_parse_cookies("");
	CHECK(o && json_object_size(o) == 0);
	json_decref(o);
	o = http_parse_cookies(NULL);
	CHECK(o && json_object_size(o) == 0);
	json_decref(o);
}

static void test_b64url(void)
{
	static const struct {
		const char *raw, *enc;
	} v[] = {
		{"", ""},         {"f", "Zg"},         {"fo", "Zm8"},      {"foo", "Zm9v"},
		{"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"\xfb\xff", "-_8"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char out[32];
		const unsigned char *raw = (const unsigned char *)v[i].raw;
		size_t n = http__b64url_encode(raw, strlen(v[i].raw), out);
		CHECK_STR(out, v[i].enc);
		CHECK_INT(n, http__b64url_len(strlen(v[i].raw)));
		size_t dl = 99;
		unsigned char *d = http__b64url_decode(v[i].enc, strlen(v[i].enc), &dl);
		CHECK(d != NULL);
		CHECK_INT(dl, strlen(v[i].raw));
		CHECK(d && memcmp(d, v[i].raw, dl) == 0);
		free(d);
	}
	size_t dl;
	CHECK(http__b64url_decode("Zg==", 4, &dl) == NULL);  /* padding */
	CHECK(http__b64url_decode("Z", 1, &dl) == NULL);     /* 4k+1 */
	CHECK(http__b64url_decode("Zh", 2, &dl) == NULL);    /* non-zero trailing bits */
	CHECK(http__b64url_decode("Zm+v", 4, &dl) == NULL);  /* standard alphabet */
	CHECK(http__b64url_decode("Zm9v\n", 5, &dl) == NULL);
}

static char *sign(json_t *v, long long now)
{
	char *s = http_sign_json(KEY, KEYLEN, v, now);
	CHECK(s != NULL);
	if (!s)
		exit(check_finish() | 1);
	return s;
}

static int unsign(const char *s, long long now, long long max_age, json_t **out)
{
	return http_unsign_json(KEY, KEYLEN, s, now, max_age, out);
}

/* Returns a copy of `s` with the byte at `pos` replaced by `c`. */
static char *tamper(const char *s, size_t pos, char c)
{
	char *t = xmalloc(strlen(s) + 1);
	strcpy(t, s);
	t[pos] = c;
	return t;
}

/* A signed value `s` (of `v`, at `now`) with any part changed: refused. */
static void sign_tampered(json_t *v, const char *s, long long now)
{
	const char *d1 = strchr(s, '.'), *d2 = strchr(d1 + 1, '.');
	json_t *out = NULL;

	/* Tampering with any part. */
	size_t p_json = 2, p_ts = (size_t)(d1 - s) + 2, p_mac = (size_t)(d2 - s) + 5;
	size_t positions[] = {p_json, p_ts, p_mac, strlen(s) - 1};
	for (size_t i = 0; i < sizeof(positions) / sizeof(positions[0]); i++) {
		char c = s[positions[i]] == 'A' ? 'B' : 'A';
		char *t = tamper(s, positions[i], c);
		CHECK_INT(unsign(t, now, 0, &out), CH_EBADSIG);
		CHECK(out == NULL);
		free(t);
	}
	/* A different timestamp with the old MAC. */
	char *s3 = sign(v, now + 1);
	char *t = xmalloc(strlen(s) + 1);
	const char *e1 = strchr(s3, '.'), *e2 = strchr(e1 + 1, '.');
	sprintf(t, "%.*s%s", (int)(e2 - s3), s3, d2);
	CHECK_INT(unsign(t, now, 0, &out), CH_EBADSIG);
	free(t);
	free(s3);

	/* A payload swapped in from another signed value. */
	json_t *v2 = json_pack("{s:s}", "user", "admin");
	char *s4 = sign(v2, now);
	t = xmalloc(strlen(s) + strlen(s4) + 1);
	sprintf(t, "%.*s%s", (int)(strchr(s4, '.') - s4), s4, d1);
	CHECK_INT(unsign(t, now, 0, &out), CH_EBADSIG);
	free(t);
	free(s4);
	json_decref(v2);
}

/* Strings that are no signed value, and `s` with bytes appended. */
static void sign_malformed(const char *s, long long now)
{
	json_t *out = NULL;
	char *t;

	/* Malformed strings. */
	const char *bad[] = {"", ".", "..", "a.b", "a.b.c", "a.b.c.d", "...", s + 1, "!!.??.**"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = (json_t *)1;
		CHECK_INT(unsign(bad[i], now, 0, &out), CH_EBADSIG);
		CHECK(out == NULL);
	}
	size_t tn = strlen(s) + 3;
	t = xmalloc(tn);
	snprintf(t, tn, "%s.x", s);
	CHECK_INT(unsign(t, now, 0, &out), CH_EBADSIG);
	snprintf(t, tn, "%s=", s);
	CHECK_INT(unsign(t, now, 0, &out), CH_EBADSIG);
	free(t);
	CHECK_INT(unsign(NULL, now, 0, &out), CH_EINVAL);
	CHECK_INT(http_unsign_json(KEY, KEYLEN, s, now, 0, NULL), CH_EINVAL);
}

/* Only objects are signed; the empty object and key; the error strings. */
static void sign_objects_only(long long now)
{
	json_t *out = NULL;

	/* Only objects are signed; an empty object and an empty key work. */
	json_t *arr = json_array();
	CHECK(http_sign_json(KEY, KEYLEN, arr, now) == NULL);
	json_decref(arr);
	json_t *empty = json_object();
	char *s = http_sign_json((const unsigned char *)"", 0, empty, 0);
	CHECK(s != NULL);
	CHECK_INT(http_unsign_json((const unsigned char *)"", 0, s, 0, 0, &out), CH_OK);
	CHECK(json_equal(out, empty));
	json_decref(out);
	CHECK_INT(unsign(s, 0, 0, &out), CH_EBADSIG);
	free(s);
	json_decref(empty);

	CHECK_STR(ch_strerror(CH_EBADSIG), "bad signature");
	CHECK_STR(ch_strerror(CH_EEXPIRED), "signature expired");
	CHECK_STR(ch_strerror(12345), "unknown error");
}

static void test_sign(void)
{
	json_t *v = json_pack("{s:s, s:i, s:{s:b}, s:s}", "user", "alice", "n", 7, "nested", "ok",
			      1, "uni", "caf\xc3\xa9 <&>");
	const long long now = 1700000000;
	char *s = sign(v, now);
	json_t *out = NULL;

	/* Three base64url parts, nothing else. */
	CHECK(s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") ==
			   strlen(s));
	const char *d1 = strchr(s, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	CHECK(d1 && d2 && !strchr(d2 + 1, '.'));
	CHECK_INT(strlen(d2 + 1), 43); /* 32-byte MAC */
	size_t tl;
	char *ts = (char *)http__b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &tl);
	CHECK_STR(ts, "1700000000");
	free(ts);

	CHECK_INT(unsign(s, now, 0, &out), CH_OK);
	CHECK(json_equal(out, v));
	json_decref(out);
	/* Deterministic: same input, same output. */
	char *s2 = sign(v, now);
	CHECK_STR(s2, s);
	free(s2);

	/* Age: within max_age, exactly at it, and past it; future stamps pass. */
	CHECK_INT(unsign(s, now + 100, 100, &out), CH_OK);
	json_decref(out);
	CHECK_INT(unsign(s, now + 101, 100, &out), CH_EEXPIRED);
	CHECK(out == NULL);
	CHECK_INT(unsign(s, now + 1000000, 0, &out), CH_OK);
	json_decref(out);
	CHECK_INT(unsign(s, now - 50, 10, &out), CH_OK);
	json_decref(out);
	/* Extremes do not overflow the age computation. */
	char *old = sign(v, -9223372036854775807LL - 1);
	CHECK_INT(unsign(old, 9223372036854775807LL, 1, &out), CH_EEXPIRED);
	CHECK_INT(unsign(old, 9223372036854775807LL, 0, &out), CH_OK);
	json_decref(out);
	free(old);

	/* Wrong key, and a key that is a prefix of the right one. */
	const unsigned char *other = (const unsigned char *)"other";
	CHECK_INT(http_unsign_json(other, 5, s, now, 0, &out), CH_EBADSIG);
	CHECK_INT(http_unsign_json(KEY, KEYLEN - 1, s, now, 0, &out), CH_EBADSIG);
	CHECK(out == NULL);

	sign_tampered(v, s, now);
	sign_malformed(s, now);
	free(s);
	json_decref(v);
	sign_objects_only(now);
}

static void test_request(void)
{
	struct http_header hdrs[] = {
		{"host", "example.com"},
		{"content-type", "Application/X-WWW-Form-Urlencoded; charset=utf-8"},
		{"cookie", "a=1"},
	};
	const char body[] = "name=J%C3%BCrgen+X&msg=a%26b&name2";
	struct http_request req = {
		.method = "POST",
		.path = "/submit",
		.query_string = "page=2&q=hello+world",
		.headers = hdrs,
		.n_headers = 3,
		.body = body,
		.body_len = strlen(body),
		.session = json_object(),
	};

	CHECK_STR(http_request_header(&req, "Host"), "example.com");
	CHECK_STR(http_request_header(&req, "CONTENT-TYPE"), hdrs[1].value);
	CHECK(http_request_header(&req, "accept") == NULL);

	json_t *form = http_request_form(&req);
	CHECK_INT(json_object_size(form), 3);
	CHECK_KEY(form, "name", "J\xc3\xbcrgen X");
	CHECK_KEY(form, "msg", "a&b");
	CHECK_KEY(form, "name2", "");
	json_decref(form);

	json_t *q = http_request_query(&req);
	CHECK_KEY(q, "page", "2");
	CHECK_KEY(q, "q", "hello world");
	json_decref(q);

	/* Other content types give an empty form. */
	hdrs[1].value = "application/json";
	form = http_request_form(&req);
	CHECK(form && json_object_size(form) == 0);
	json_decref(form);
	hdrs[1].value = "application/x-www-form-urlencodedX";
	form = http_request_form(&req);
	CHECK(form && json_object_size(form) == 0);
	json_decref(form);
	req.n_headers = 1;
	form = http_request_form(&req);
	CHECK(form && json_object_size(form) == 0);
	json_decref(form);

	CHECK(!req.session_modified);
	CHECK(http_session_get(&req, "user") == NULL);
	http_session_set(&req, "user", json_string("alice"));
	CHECK(req.session_modified);
	CHECK_STR(http_session_get(&req, "user"), "alice");
	http_session_set(&req, "n", json_integer(3));
	CHECK(http_session_get(&req, "n") == NULL); /* not a string */
	http_session_set(&req, "user", NULL);
	CHECK(http_session_get(&req, "user") == NULL);
	CHECK_INT(json_object_size(req.session), 1);
	json_decref(req.session);
}

static void test_response(void)
{
	struct http_response r;

	http_response_init(&r);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.content_type, "text/html; charset=utf-8");
	CHECK_INT(r.n_headers, 0);
	CHECK_INT(r.body.len, 0);

	CHECK_INT(http_response_add_header(&r, "X-Frame-Options", "DENY"), CH_OK);
	CHECK_INT(http_response_add_header(&r, "Set-Cookie", "a=1; Path=/\tx"), CH_OK);
	CHECK_INT(r.n_headers, 2);
	CHECK_STR(r.headers[0].name, "x-frame-options");
	CHECK_STR(r.headers[0].value, "DENY");
	CHECK_STR(r.headers[1].name, "set-cookie");

	/* Header injection. */
	CHECK_INT(http_response_add_header(&r, "X-A", "v\r\nSet-Cookie: evil=1"), CH_EINVAL);
	CHECK_INT(http_response_add_header(&r, "X-A", "v\nx"), CH_EINVAL);
	CHECK_INT(http_response_add_header(&r, "X-A", "v\rx"), CH_EINVAL);
	CHECK_INT(http_response_add_header(&r, "X-A\r\nEvil", "v"), CH_EINVAL);
	CHECK_INT(http_response_add_header(&r, "X A", "v"), CH_EINVAL);
	CHECK_INT(http_response_add_header(&r, "X-A:", "v"), CH_EINVAL);
	CHECK_INT(http_response_add_header(&r, "", "v"), CH_EINVAL);
	CHECK_INT(http_response_add_header(&r, "X-A", "\x7f"), CH_EINVAL);
	CHECK_INT(http_response_add_header(&r, NULL, "v"), CH_EINVAL);
	CHECK_INT(http_response_add_header(&r, "X-A", NULL), CH_EINVAL);
	CHECK_INT(r.n_headers, 2);

	CHECK_INT(http_response_redirect(&r, "/next\r\nSet-Cookie: x=1"), CH_EINVAL);
	CHECK_INT(http_response_redirect(&r, ""), CH_EINVAL);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.n_headers, 2);
	CHECK_INT(http_response_redirect(&r, "/rooms/lobby/?a=1&b=2"), CH_OK);
	CHECK_INT(r.status, 302);
	CHECK_STR(r.headers[2].name, "location");
	CHECK_STR(r.headers[2].value, "/rooms/lobby/?a=1&b=2");

	http_response_clear(&r);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.n_headers, 0);
	CHECK(r.headers == NULL && r.body.data == NULL);
	http_response_clear(&r); /* twice is fine */

	text_buf_append(&r.body, "old body", 8);
	http_response_error(&r, 404, "No room <script>alert('x')</script> & more");
	CHECK_INT(r.status, 404);
	CHECK_STR(r.content_type, "text/html; charset=utf-8");
	CHECK_CONTAINS(r.body.data, "404 Not Found");
	CHECK_CONTAINS(r.body.data,
		       "No room &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more");
	CHECK(!strstr(r.body.data, "<script>"));
	CHECK(!strstr(r.body.data, "old body"));
	http_response_error(&r, 599, NULL);
	CHECK_INT(r.status, 599);
	CHECK_CONTAINS(r.body.data, "599 Unknown");
	CHECK(!strstr(r.body.data, "<p>"));
	http_response_clear(&r);

	static const struct {
		int code;
		const char *reason;
	} reasons[] = {
		{200, "OK"}, {201, "Created"}, {204, "No Content"}, {301, "Moved Permanently"},
		{302, "Found"}, {303, "See Other"}, {304, "Not Modified"}, {400, "Bad Request"},
		{401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"},
		{405, "Method Not Allowed"}, {408, "Request Timeout"}, {413, "Payload Too Large"},
		{429, "Too Many Requests"}, {500, "Internal Server Error"},
		{501, "Not Implemented"}, {503, "Service Unavailable"}, {0, "Unknown"},
		{418, "Unknown"}, {-1, "Unknown"},
	};
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		CHECK_STR(http_status_reason(reasons[i].code), reasons[i].reason);
}

static void test_cookie_ambiguous(void)
{
	CHECK(!http_cookie_ambiguous(NULL, "csrftoken"));
	CHECK(!http_cookie_ambiguous("", "csrftoken"));
	CHECK(!http_cookie_ambiguous("csrftoken=a", "csrftoken"));
	CHECK(!http_cookie_ambiguous("csrftoken=a; sessionid=b; csrftoken=a", "csrftoken"));
	/* The same value quoted or with spaces is the same value. */
	CHECK(!http_cookie_ambiguous("csrftoken=a; csrftoken=\"a\" ;csrftoken = a", "csrftoken"));
	CHECK(http_cookie_ambiguous("csrftoken=a; csrftoken=b", "csrftoken"));
	CHECK(http_cookie_ambiguous("csrftoken=a; x=1; csrftoken=", "csrftoken"));
	CHECK(http_cookie_ambiguous("csrftoken=; csrftoken=a", "csrftoken"));
	CHECK(http_cookie_ambiguous("csrftoken=ab; csrftoken=a", "csrftoken"));
	/* Only that name, exactly. */
	CHECK(!http_cookie_ambiguous("csrftoken=a; csrftokenx=b; Csrftoken=c; xcsrftoken=d",
				     "csrftoken"));
	CHECK(!http_cookie_ambiguous("a=1; b=2; a=1", "csrftoken"));
}

static void test_csrf_origin(void)
{
	const char *good = "http://example.com:8000";
	CHECK(http_csrf_origin_ok("http://example.com:8000", good, NULL));
	/* Exact, as Django compares: scheme, case and port all count. */
	CHECK(!http_csrf_origin_ok("https://example.com:8000", good, NULL));
	CHECK(!http_csrf_origin_ok("http://example.com", good, NULL));
	CHECK(!http_csrf_origin_ok("http://EXAMPLE.com:8000", good, NULL));
	CHECK(!http_csrf_origin_ok("http://example.com:8000/", good, NULL));
	CHECK(!http_csrf_origin_ok("http://evil.example.com:8000", good, NULL));
	CHECK(!http_csrf_origin_ok("null", good, NULL));
	CHECK(!http_csrf_origin_ok("", good, NULL));
	CHECK(!http_csrf_origin_ok(NULL, good, NULL));
	CHECK(!http_csrf_origin_ok("http://example.com:8000", NULL, NULL)); /* no Host */

	const char *trusted = "https://app.example.org, http://localhost:3000 https://*.example.net";
	CHECK(http_csrf_origin_ok("https://app.example.org", good, trusted));
	CHECK(http_csrf_origin_ok("http://localhost:3000", good, trusted));
	CHECK(!http_csrf_origin_ok("http://app.example.org", good, trusted));
	CHECK(!http_csrf_origin_ok("https://app.example.org:444", good, trusted));
	CHECK(!http_csrf_origin_ok("http://localhost:30001", good, trusted));
	/* "*." entries: the domain itself and its subdomains, same scheme. */
	CHECK(http_csrf_origin_ok("https://example.net", good, trusted));
	CHECK(http_csrf_origin_ok("https://a.example.net", good, trusted));
	CHECK(http_csrf_origin_ok("https://a.b.example.net", good, trusted));
	CHECK(http_csrf_origin_ok("HTTPS://a.example.net", good, trusted));
	CHECK(!http_csrf_origin_ok("http://a.example.net", good, trusted));
	CHECK(!http_csrf_origin_ok("https://aexample.net", good, trusted));
	CHECK(!http_csrf_origin_ok("https://a.example.net.evil.com", good, trusted));
	CHECK(!http_csrf_origin_ok("https://a.example.net:8443", good, trusted));
	CHECK(http_csrf_origin_ok("https://a.example.net:8443", good, "https://*.example.net:8443"));
	CHECK(!http_csrf_origin_ok("https://a.example.net", good, "https://*.example.net:8443"));
	CHECK(!http_csrf_origin_ok("https://example.net", good, "example.net"));
}

static void test_csrf_referer(void)
{
	char buf[256];
	const char *host = "example.com";
	CHECK_STR(http_csrf_referer_check(NULL, host, NULL, buf, sizeof(buf)),
		  "Referer checking failed - no Referer.");
	CHECK_STR(http_csrf_referer_check("example.com/page", host, NULL, buf, sizeof(buf)),
		  "Referer checking failed - Referer is malformed.");
	CHECK_STR(http_csrf_referer_check("https:///page", host, NULL, buf, sizeof(buf)),
		  "Referer checking failed - Referer is malformed.");
	CHECK_STR(http_csrf_referer_check("http://example.com/page", host, NULL, buf, sizeof(buf)),
		  "Referer checking failed - Referer is insecure while host is secure.");
	CHECK(!http_csrf_referer_check("https://example.com/page?x=1", host, NULL, buf, sizeof(buf)));
	CHECK(!http_csrf_referer_check("https://example.com", host, NULL, buf, sizeof(buf)));
	CHECK_STR(http_csrf_referer_check("https://evil.com/x", host, NULL, buf, sizeof(buf)),
		  "Referer checking failed - https://evil.com/x does not match any trusted origins.");
	CHECK(http_csrf_referer_check("https://example.com:444/", host, NULL, buf, sizeof(buf)));
	CHECK(http_csrf_referer_check("https://example.com/", NULL, NULL, buf, sizeof(buf)));
	/* Trusted entries: the host, "*." for the domain and its subdomains. */
	const char *trusted = "https://app.example.org,https://*.example.net";
	CHECK(!http_csrf_referer_check("https://app.example.org/", host, trusted, buf, sizeof(buf)));
	CHECK(!http_csrf_referer_check("https://x.example.net/", host, trusted, buf, sizeof(buf)));
	CHECK(!http_csrf_referer_check("https://example.net/", host, trusted, buf, sizeof(buf)));
	CHECK(http_csrf_referer_check("https://evilexample.net/", host, trusted, buf, sizeof(buf)));
}

int main(void)
{
	test_url_decode();
	test_parse_query();
	test_parse_cookies();
	test_cookie_ambiguous();
	test_csrf_origin();
	test_csrf_referer();
	test_b64url();
	test_sign();
	test_request();
	test_response();
	return check_finish();
}
