/*
 * h1.c - the server's HTTP/1.1 request reader (RFC 9112) on llhttp.
 *
 * llhttp runs in its strict mode (no lenient flag is ever set): it refuses
 * a Content-Length that is not digits, two Content-Length fields, both
 * Content-Length and Transfer-Encoding, a Transfer-Encoding whose last
 * coding is not chunked, white space before a field's colon, bare LF and
 * obs-fold. What llhttp leaves to the server is checked here: one Host
 * field in HTTP/1.1, the version (1.x only), and the size limits, each with
 * the status RFC 9110/9112 give it.
 *
 * The reader pauses llhttp at the end of each request head and at the end
 * of each request, so that the bytes of a pipelined request that follows
 * are never consumed before the caller has answered the one before.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "llhttp.h"

struct http1 {
	llhttp_t p; /* first: the callbacks cast the parser back */
	struct http1_limits lim;
	struct http1_request req;
	size_t hdr_cap;
	struct text_buf target;
	struct text_buf name, value; /* the field being read */
	struct text_buf body;
	size_t head_bytes;
	int n_host;
	bool has_te; /* a Transfer-Encoding field, whatever its value */
	const char *frame_from; /* chunked: the framing bytes not yet checked start here */
	bool frame_cr;          /* ... and the last one checked was CR */
	char first[8];   /* the request line's first word, while short */
	size_t first_len;
	bool first_done; /* ... ended by SP/HTAB (first_len 0: by anything else) */
	bool lead_cr;    /* a CR before the first word, waiting for its LF */
	int status; /* the answer to an error, once failed */
	const char *why;
	bool in_value;
	bool last_lf;    /* the last head byte read was LF */
	bool last_cr;    /* ... was CR */
	bool head_done;  /* paused at the end of the head, or past it */
	bool msg_done;   /* paused at the end of the request */
	bool in_trailer; /* fields after a chunked body */
	bool failed;
};

static struct http1 *H(llhttp_t *p)
{
	return (struct http1 *)p;
}

static int fail(struct http1 *h, int status, const char *why)
{
	if (!h->failed) {
		h->failed = true;
		h->status = status;
		h->why = why;
	}
	return HPE_USER;
}

/*
 * Follows the start of the request line in the raw bytes: its first word,
 * and whether SP or HTAB ended it. An answer refusing the request must
 * know whether it answers a HEAD (no body), also when llhttp stopped
 * inside the line and before its end has arrived: a request whose first
 * word is "HEAD" followed by SP or HTAB is answered as a HEAD, valid line
 * or not ("HEAD" alone on a line is not). Decided by a prefix, so not by
 * how the bytes were cut. Empty lines before a request are skipped.
 */
static void scan_line(struct http1 *h, const char *d, size_t n)
{
	for (size_t i = 0; i < n && !h->first_done; i++) {
		char c = d[i];
		if (h->lead_cr && c != '\n') {
			h->first_len = 0; /* a lone CR before the request: not a HEAD */
			h->first_done = true;
			break;
		}
		h->lead_cr = c == '\r' && !h->first_len;
		if ((c == '\r' || c == '\n') && !h->first_len)
			continue; /* an empty line (CRLF or LF) before the request */
		if (c == ' ' || c == '\t') {
			h->first_done = true;
		} else if (c == '\r' || c == '\n' || h->first_len == sizeof(h->first)) {
			h->first_len = 0; /* not a word followed by white space */
			h->first_done = true;
		} else {
			h->first[h->first_len++] = c;
		}
	}
}

/* RFC 9110 5.6.2: tchar. */
static bool is_token(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c && strchr("!#$%&'*+-.^_`|~", c))))
			return false;
	}
	return true;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	struct http1 *h = H(p);
	/* llhttp lets HTAB (and some control bytes) through inside a target:
	 * a target is one word of visible characters (RFC 9112 3.2). */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)at[i] <= 0x20 || (unsigned char)at[i] == 0x7f)
			return fail(h, 400, "white space or a control byte in the request target");
	if (h->target.len + len > h->lim.max_target)
		return fail(h, 414, "request target too long");
	return text_buf_append(&h->target, at, len) ? fail(h, 500, "out of memory") : 0;
}

/* Stores the field just read (name lower-cased, value without the
 * surrounding white space llhttp leaves on its right). */
static int field_end(struct http1 *h)
{
	if (!h->in_value)
		return 0;
	h->in_value = false;
	/* llhttp lets white space before the colon through for most fields
	 * ("X : v" gives the name "X "), and reads trailer lines loosely:
	 * RFC 9112 5.1 says 400 (trailers too: a bad one may be a request a
	 * proxy would see). */
	if (!is_token(h->name.data, h->name.len))
		return fail(h, 400, "a field name that is not a token");
	if (h->in_trailer) { /* trailer fields are checked, then dropped */
		text_buf_reset(&h->name);
		text_buf_reset(&h->value);
		return 0;
	}
	struct http1_request *r = &h->req;
	if (r->n_headers >= h->lim.max_headers)
		return fail(h, 431, "too many header fields");
	if (r->n_headers == h->hdr_cap) {
		size_t cap = h->hdr_cap ? 2 * h->hdr_cap : 16;
		struct http_header *nh = realloc(r->headers, cap * sizeof(*nh));
		if (!nh)
			return fail(h, 500, "out of memory");
		r->headers = nh;
		h->hdr_cap = cap;
	}
	size_t vl = h->value.len;
	while (vl && (h->value.data[vl - 1] == ' ' || h->value.data[vl - 1] == '\t'))
		vl--;
	char *n = strndup(h->name.data ? h->name.data : "", h->name.len);
	char *v = strndup(h->value.data ? h->value.data : "", vl);
	if (!n || !v) {
		free(n);
		free(v);
		return fail(h, 500, "out of memory");
	}
	for (char *c = n; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c + 32);
	/* A field value holding NUL cannot be represented to views, and
	 * llhttp passes an obs-fold on as CR LF SP inside the value: RFC 9112
	 * 5.2 lets a server refuse it with 400, which we do (a folded line
	 * could smuggle a field past a proxy that unfolds). */
	const char *vd = h->value.data ? h->value.data : "";
	if (memchr(vd, '\0', vl) || memchr(vd, '\r', vl) || memchr(vd, '\n', vl)) {
		free(n);
		free(v);
		return fail(h, 400, "NUL in a header field");
	}
	r->headers[r->n_headers].name = n;
	r->headers[r->n_headers].value = v;
	r->n_headers++;
	if (strcmp(n, "host") == 0)
		h->n_host++;
	if (strcmp(n, "transfer-encoding") == 0)
		h->has_te = true;
	text_buf_reset(&h->name);
	text_buf_reset(&h->value);
	return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct http1 *h = H(p);
	int rc = field_end(h);
	if (rc)
		return rc;
	return text_buf_append(&h->name, at, len) ? fail(h, 500, "out of memory") : 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct http1 *h = H(p);
	h->in_value = true;
	return text_buf_append(&h->value, at, len) ? fail(h, 500, "out of memory") : 0;
}

/* Called at the end of every field line, also one with an empty value
 * (for which on_header_value never comes). */
static int on_header_value_complete(llhttp_t *p)
{
	struct http1 *h = H(p);
	h->in_value = true;
	return field_end(h);
}

static int on_headers_complete(llhttp_t *p)
{
	struct http1 *h = H(p);
	int rc = field_end(h);
	if (rc)
		return rc;
	struct http1_request *r = &h->req;
	if (p->http_major != 1)
		return fail(h, 505, "HTTP version not supported");
	if (p->http_minor >= 1 && h->n_host != 1)
		return fail(h, 400, h->n_host ? "more than one Host field" : "no Host field");
	if (h->n_host > 1)
		return fail(h, 400, "more than one Host field");
	if (p->method == HTTP_CONNECT)
		return fail(h, 501, "CONNECT: this is no proxy");
	r->method = llhttp_method_name((llhttp_method_t)p->method);
	r->minor = p->http_minor;
	r->target = h->target.data ? h->target.data : "";
	r->chunked = (p->flags & F_CHUNKED) != 0;
	/* RFC 9112 6.3: a Transfer-Encoding whose last coding is not chunked
	 * leaves the length unknown: 400. llhttp refuses such values, but
	 * lets an empty one through as if there were none. */
	if (h->has_te && !r->chunked)
		return fail(h, 400, "Transfer-Encoding without chunked last");
	r->content_length = (p->flags & F_CONTENT_LENGTH) ? (long long)p->content_length : -1;
	if (r->content_length > 0 && (unsigned long long)r->content_length > h->lim.max_body)
		return fail(h, 413, "request body too large");
	/* The caller decides about upgrades (a WebSocket handshake ends its
	 * request like any GET): llhttp reads on as for any request. */
	r->upgrade = p->upgrade != 0;
	p->upgrade = 0;
	h->head_done = true;
	h->in_trailer = true;
	return HPE_PAUSED;
}

/*
 * The framing bytes of a chunked body (chunk-size lines, extensions, CRLFs,
 * trailers): a CR must be followed by LF, and no control byte but HTAB may
 * appear (llhttp takes "0\r" followed by anything for a chunk line, and a
 * form feed before a chunk size). Checks data from
 * h->frame_from up to `to`, the bytes between the body's data spans.
 */
static void check_framing(struct http1 *h, const char *to)
{
	for (const char *c = h->frame_from; c && c < to && !h->failed; c++) {
		unsigned char u = (unsigned char)*c;
		if ((h->frame_cr && u != '\n') ||
		    ((u < 0x20 && u != '\t' && u != '\r' && u != '\n') || u == 0x7f))
			fail(h, 400, "CR without LF, or a control byte, in the chunked framing");
		h->frame_cr = *c == '\r';
	}
	h->frame_from = to;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct http1 *h = H(p);
	if (h->req.chunked) {
		check_framing(h, at);
		h->frame_from = at + len;
		if (h->failed)
			return HPE_USER;
	}
	if (h->body.len + len > h->lim.max_body)
		return fail(h, 413, "request body too large");
	return text_buf_append(&h->body, at, len) ? fail(h, 500, "out of memory") : 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct http1 *h = H(p);
	int rc = field_end(h);
	if (rc)
		return rc;
	h->req.body = h->body.data;
	h->req.body_len = h->body.len;
	h->req.keep_alive = llhttp_should_keep_alive(p) != 0;
	/* RFC 9112 9.6: a "close" option ends the connection, whatever else the
	 * field says (llhttp keeps an HTTP/1.0 "keep-alive, close" alive). */
	for (size_t i = 0; i < h->req.n_headers && h->req.keep_alive; i++)
		if (strcmp(h->req.headers[i].name, "connection") == 0 &&
		    http_token_list_has(h->req.headers[i].value, "close"))
			h->req.keep_alive = false;
	h->msg_done = true;
	return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_header_value_complete = on_header_value_complete,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

struct http1 *http1_new(const struct http1_limits *lim)
{
	struct http1 *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->lim = *lim;
	llhttp_init(&h->p, HTTP_REQUEST, &settings);
	return h;
}

static void request_clear(struct http1 *h)
{
	for (size_t i = 0; i < h->req.n_headers; i++) {
		free(h->req.headers[i].name);
		free(h->req.headers[i].value);
	}
	struct http_header *keep = h->req.headers;
	memset(&h->req, 0, sizeof(h->req));
	h->req.headers = keep;
	text_buf_reset(&h->target);
	text_buf_reset(&h->name);
	text_buf_reset(&h->value);
	text_buf_free(&h->body);
	h->head_bytes = 0;
	h->n_host = 0;
	h->has_te = false;
	h->frame_from = NULL;
	h->frame_cr = false;
	h->first_len = 0;
	h->first_done = h->lead_cr = false;
	h->in_value = h->head_done = h->msg_done = h->in_trailer = h->last_lf = h->last_cr = false;
}

void http1_free(struct http1 *h)
{
	if (!h)
		return;
	request_clear(h);
	free(h->req.headers);
	text_buf_free(&h->target);
	text_buf_free(&h->name);
	text_buf_free(&h->value);
	free(h);
}

static int llhttp_status(llhttp_errno_t e)
{
	switch (e) {
	case HPE_INVALID_VERSION:
		return 505;
	case HPE_INVALID_METHOD:
		return 501;
	default:
		return 400;
	}
}

int http1_parse(struct http1 *h, const char *data, size_t len, size_t *used)
{
	*used = 0;
	if (h->failed)
		return HTTP1_ERROR;
	if (h->msg_done)
		return HTTP1_DONE; /* http1_next() first */
	bool head_before = h->head_done;
	h->frame_from = data;
	llhttp_errno_t e = llhttp_execute(&h->p, data, len);
	size_t n = len;
	if (e == HPE_PAUSED) {
		n = (size_t)(llhttp_get_error_pos(&h->p) - data);
		llhttp_resume(&h->p);
	}
	*used = n;
	if (head_before && h->req.chunked && !h->failed)
		check_framing(h, data + n); /* what follows the last data span */
	if (!h->first_done)
		scan_line(h, data, e != HPE_OK && e != HPE_PAUSED ? len : n);
	if (!head_before && !h->failed) {
		/* A head line that starts with SP or HTAB: obs-fold, or white
		 * space before the first field. llhttp unfolds the first; RFC
		 * 9112 2.2 and 5.2 let a server refuse both with 400, which
		 * leaves no field a proxy could read differently. */
		for (size_t i = 0; i < n && !h->failed; i++) {
			if (h->last_lf && (data[i] == ' ' || data[i] == '\t'))
				fail(h, 400, "obs-fold or white space at the start of a head line");
			/* A CR is only ever the first half of CRLF (llhttp takes a
			 * lone CR for the end of the head). */
			if (h->last_cr && data[i] != '\n')
				fail(h, 400, "CR without LF in the head");
			h->last_lf = data[i] == '\n';
			h->last_cr = data[i] == '\r';
		}
		if (h->head_done && !h->failed && (h->last_cr || !h->last_lf))
			fail(h, 400, "the head does not end with CRLF CRLF");
		/* Everything up to the end of the head (or all of it, when the
		 * head is not complete yet) counts against the head limit. */
		h->head_bytes += n;
		if (h->head_bytes > h->lim.max_head)
			fail(h, 431, "request head too large"); /* a long target is 414 first */
	}
	if (h->failed) {
		scan_line(h, data, len);
		return HTTP1_ERROR;
	}
	if (e != HPE_OK && e != HPE_PAUSED) {
		h->failed = true;
		h->status = llhttp_status(e);
		h->why = llhttp_get_error_reason(&h->p);
		return HTTP1_ERROR;
	}
	if (h->msg_done)
		return HTTP1_DONE;
	if (h->head_done && !head_before)
		return HTTP1_HEAD;
	return HTTP1_MORE;
}

const struct http1_request *http1_request(const struct http1 *h)
{
	return &h->req;
}

void http1_next(struct http1 *h)
{
	request_clear(h);
}

int http1_error_status(const struct http1 *h)
{
	return h->failed ? h->status : 0;
}

const char *http1_error_reason(const struct http1 *h)
{
	return h->failed ? (h->why ? h->why : "bad request") : NULL;
}

bool http1_is_head(const struct http1 *h)
{
	return h->first_done && h->first_len == 4 && memcmp(h->first, "HEAD", 4) == 0;
}

bool http1_idle(const struct http1 *h)
{
	return !h->failed && !h->head_done && h->head_bytes == 0 && h->target.len == 0;
}

/* ---- header token lists (RFC 9110 5.6.1, tokens case-insensitive) ---- */

bool http_token_list_has(const char *list, const char *token)
{
	size_t tl = strlen(token);
	const char *p = list;
	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *end = p;
		while (*end && *end != ',')
			end++;
		const char *e = end;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - p) == tl && strncasecmp(p, token, tl) == 0)
			return true;
		p = end;
	}
	return false;
}
