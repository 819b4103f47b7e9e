/*
 * http.h - what a view sees: the request, the response it fills, and the
 * small parsers around them (cookies, query strings and forms, percent
 * decoding) plus signed values for the session cookie.
 *
 * Nothing here does I/O: the server fills a request from libwebsockets and
 * writes the response out; tests and fuzzers drive the parsers directly.
 * A request and its response belong to one view call: a view runs on a
 * thread-pool thread and owns both for its duration.
 */
#ifndef LIB_HTTP_H
#define LIB_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "text.h"

/* ---- parsers (pure: bytes in, result out) ---- */

/*
 * Percent-decodes `len` bytes of `src` into a new malloc'd NUL-terminated
 * string; with `plus_is_space` '+' becomes ' ' (form encoding). Invalid
 * escapes are kept literally; a decoded NUL byte is refused (returns NULL).
 */
char *http_url_decode(const char *src, size_t len, bool plus_is_space);

/*
 * Parses "a=1&b=two%20words" (query string or
 * application/x-www-form-urlencoded body) into a JSON object of strings.
 * For repeated keys the last value wins. Never NULL except on ENOMEM.
 */
json_t *http_parse_query(const char *src, size_t len);

/*
 * Parses a Cookie header ("a=1; b=2") into a JSON object of strings,
 * first occurrence winning. Quoted values are unquoted. Never NULL except
 * on ENOMEM.
 */
json_t *http_parse_cookies(const char *header);

/*
 * True when the Cookie header `header` (may be NULL) carries cookie `name`
 * more than once with different values (after the unquoting of
 * http_parse_cookies). A browser sends one cookie per (domain, path) it
 * matches, so a second value usually comes from another host of the site
 * (cookie tossing from a sibling subdomain): which one is ours cannot be
 * told from the header.
 */
bool http_cookie_ambiguous(const char *header, const char *name);

/*
 * Django 4.x CsrfViewMiddleware's origin rules (django/middleware/csrf.py),
 * I/O-free. `trusted` is CSRF_TRUSTED_ORIGINS as a comma- or
 * space-separated list (may be NULL) of scheme://host[:port] entries; a
 * host starting with "*." matches that domain and every subdomain of it.
 *
 * http_csrf_origin_ok: an Origin header is accepted when it equals
 * `good_origin` ("http://" or "https://" followed by the Host header; NULL
 * when there is no Host) exactly, equals a trusted entry without a "*"
 * exactly, or has the scheme of a "*" entry and a host[:port] in its domain.
 *
 * http_csrf_referer_check: for secure (https) requests without an Origin.
 * Returns NULL when `referer` (may be NULL) is an https URL whose
 * host[:port] is `good_host` (the Host header) or in a trusted entry's
 * domain; otherwise the reason, one of Django's: "Referer checking failed -
 * no Referer.", "... - Referer is malformed.", "... - Referer is insecure
 * while host is secure.", "... - <referer> does not match any trusted
 * origins." (the last one is written to `buf`, which it returns).
 */
bool http_csrf_origin_ok(const char *origin, const char *good_origin, const char *trusted);
const char *http_csrf_referer_check(const char *referer, const char *good_host,
				    const char *trusted, char *buf, size_t buflen);

/* ---- signing (Django's signing.dumps/loads in spirit) ---- */

/*
 * Signs `value` (a JSON object) with HMAC-SHA256 under `key`:
 *   base64url(json) "." base64url(timestamp) "." base64url(mac)
 * Returns a malloc'd string, NULL on ENOMEM or when `value` is not an
 * object. The MAC is keyed by HMAC-SHA256(key, "channels-c.session"), not
 * by `key` itself. Thread-safe.
 */
char *http_sign_json(const unsigned char *key, size_t keylen, const json_t *value, long long now);

/*
 * Verifies and decodes a value made by http_sign_json(). Returns 0 and a
 * new JSON object in *out, CH_EBADSIG if the MAC (constant-time compare)
 * or the encoding is wrong, CH_EEXPIRED if older than `max_age` seconds
 * (max_age <= 0: no limit).
 */
int http_unsign_json(const unsigned char *key, size_t keylen, const char *signed_value,
		     long long now, long long max_age, json_t **out);

/* ---- request and response ---- */

struct http_header {
	char *name;  /* lower-case */
	char *value;
};

struct http_request {
	const char *method;       /* "GET", "POST", ... */
	const char *path;         /* decoded path, starts with "/" */
	const char *query_string; /* raw, without "?"; "" when none */
	struct http_header *headers;
	size_t n_headers;
	const char *body;         /* NULL when none; not NUL-terminated */
	size_t body_len;
	const char *client_addr;  /* the client's IP as text: the peer's, or the one a trusted
				     proxy forwarded (channels-server: --proxy-headers); "unix"
				     for a unix-socket peer */
	bool is_secure;           /* the client used https (Django's request.is_secure()): a
				     trusted proxy said so */
	bool forwarded;           /* forwarding headers came with it (from a proxy, trusted
				     or not): the peer's address is not the client's */
	json_t *kwargs;           /* captured URL values (object; never NULL) */
	json_t *cookies;          /* parsed Cookie header (object; never NULL) */
	json_t *session;          /* the signed session's data (object; never NULL); a view may change it */
	bool session_modified;    /* set by http_session_set(): the response re-signs the cookie */
	const char *csrf_token;   /* this client's CSRF token (from its cookie, or new) */
	void *app;                /* the server's context, for server_* helpers */
};

/* Case-insensitive header lookup; NULL when absent. */
const char *http_request_header(const struct http_request *req, const char *name);

/* Form fields of an application/x-www-form-urlencoded body (new reference). */
json_t *http_request_form(const struct http_request *req);

/* Query string values (new reference). */
json_t *http_request_query(const struct http_request *req);

/* Sets key in the session (steals `value`) and marks it modified; a NULL
 * `value` removes the key. */
void http_session_set(struct http_request *req, const char *key, json_t *value);

/* The session's string value for `key`, or NULL. */
const char *http_session_get(const struct http_request *req, const char *key);

struct http_response {
	int status;                  /* default 200 */
	struct http_header *headers; /* extra headers, in order */
	size_t n_headers;
	struct text_buf body;        /* lib/text's buffer: text_buf_append(), text_buf_printf(),
	                                text_html_escape() fill it */
	const char *content_type;    /* default "text/html; charset=utf-8"; static string */
};

void http_response_init(struct http_response *resp);
void http_response_clear(struct http_response *resp);

/* Adds a header (both copied). Names and values with CR or LF are refused (CH_EINVAL). */
int http_response_add_header(struct http_response *resp, const char *name, const char *value);

/* Sets the status and body of a small text/plain or HTML error page. */
void http_response_error(struct http_response *resp, int status, const char *detail);

/* 302 redirect to `location`. */
int http_response_redirect(struct http_response *resp, const char *location);

/* ---- the HTTP/1.1 request reader (RFC 9112; bytes in, requests out) ----
 *
 * One struct http1 per connection reads its requests one after the other.
 * http1_parse() consumes bytes until the end of a request head
 * (HTTP1_HEAD: the head is in http1_request(); call again for the body),
 * the end of a request (HTTP1_DONE: head and body are there; nothing of a
 * pipelined request that follows is consumed, call http1_next() once the
 * request is answered, then parse on), an error (HTTP1_ERROR: answer
 * http1_error_status() and close the connection: the stream cannot be
 * resynchronised) or the end of the bytes (HTTP1_MORE). *used says how many
 * were consumed; the caller keeps the rest. Strict: see h1.c for what is
 * refused with which status (400, 413, 414, 431, 501, 505). Not thread-safe;
 * one connection's reader is used by one thread. */
struct http1_limits {
	size_t max_target;  /* request target bytes; over: 414 */
	size_t max_head;    /* request line + header fields; over: 431 */
	size_t max_headers; /* header fields; over: 431 */
	size_t max_body;    /* body bytes (declared or chunked); over: 413 */
};

enum http1_result { HTTP1_ERROR = -1, HTTP1_MORE = 0, HTTP1_HEAD = 1, HTTP1_DONE = 2 };

struct http1_request {
	const char *method;        /* "GET", ...: a static string */
	const char *target;        /* as sent (origin, absolute or asterisk form) */
	int minor;                 /* HTTP/1.<minor> */
	struct http_header *headers; /* in order; names lower-case, values trimmed */
	size_t n_headers;
	long long content_length;  /* -1 when none */
	bool chunked;
	bool upgrade;              /* Connection: upgrade with an Upgrade field */
	bool keep_alive;           /* at HTTP1_DONE: the connection may carry another request */
	const char *body;          /* at HTTP1_DONE; NULL when empty; not NUL-terminated */
	size_t body_len;
};

struct http1;
struct http1 *http1_new(const struct http1_limits *lim);
void http1_free(struct http1 *h);
int http1_parse(struct http1 *h, const char *data, size_t len, size_t *used);
/* The request being read; its strings live until http1_next()/http1_free(). */
const struct http1_request *http1_request(const struct http1 *h);
void http1_next(struct http1 *h);
/* After HTTP1_ERROR: the status to answer and why (static strings). */
int http1_error_status(const struct http1 *h);
const char *http1_error_reason(const struct http1 *h);
/* True when the request being read (or refused) is a HEAD: its first
 * word is "HEAD" followed by SP or HTAB, whether or not the rest of its line
 * is valid or has arrived. An answer to it has no body. */
bool http1_is_head(const struct http1 *h);
/* True between requests: nothing of a next request read yet. */
bool http1_idle(const struct http1 *h);

/* True when the comma-separated `list` (a header value such as
 * Connection or Upgrade) holds `token`, compared case-insensitively as
 * RFC 9110 compares tokens. */
bool http_token_list_has(const char *list, const char *token);

/* Standard reason phrase ("Not Found"); "Unknown" when not known. */
const char *http_status_reason(int status);

#endif
