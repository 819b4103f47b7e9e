/*
 * http.c - HTTP/1.1 responses read with llhttp, and client_http_request().
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <llhttp.h>

#include "client_int.h"
#include "text.h"

/* Limits on what a response may hold before it is called malformed. */
#define MAX_HEADERS	 256
#define MAX_HEADER_BYTES (256u * 1024u)

const char *client_response_header(const struct client_response *r, const char *name)
{
	if (!r || !name)
		return NULL;
	for (size_t i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->header_names[i], name) == 0)
			return r->header_values[i];
	return NULL;
}

void client_response_clear(struct client_response *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_headers; i++) {
		free(r->header_names[i]);
		free(r->header_values[i]);
	}
	free(r->header_names);
	free(r->header_values);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Appends to a field, value or body; 0 or CH_ENOMEM. */
static int sbuf_add(struct text_buf *b, const char *at, size_t n)
{
	return text_buf_append(b, at, n) ? CH_ENOMEM : 0;
}

/* Reader state; lives on the stack of client__read_response(). */
struct reader {
	llhttp_t parser;
	struct client_response *resp;
	bool head, upgrade;
	bool in_value; /* last header callback was on_header_value */
	struct text_buf field, value, body;
	size_t header_bytes, headers_cap;
	bool complete;
	int err; /* set by a callback before it returns -1 */
};

static struct reader *reader_of(llhttp_t *p)
{
	return p->data;
}

/* Stores the pending field/value pair in resp. */
static int commit_header(struct reader *r)
{
	struct client_response *resp = r->resp;
	char *name, *value;

	if (!r->field.data)
		return 0;
	if (resp->n_headers >= MAX_HEADERS)
		return CH_EPROTO;
	if (resp->n_headers == r->headers_cap) {
		size_t cap = r->headers_cap ? r->headers_cap * 2 : 16;
		char **n = realloc(resp->header_names, cap * sizeof(*n));

		if (!n)
			return CH_ENOMEM;
		resp->header_names = n;
		n = realloc(resp->header_values, cap * sizeof(*n));
		if (!n)
			return CH_ENOMEM;
		resp->header_values = n;
		r->headers_cap = cap;
	}
	name = r->field.data;
	value = r->value.data ? r->value.data : strdup("");
	if (!value)
		return CH_ENOMEM;
	for (char *c = name; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	resp->header_names[resp->n_headers] = name;
	resp->header_values[resp->n_headers] = value;
	resp->n_headers++;
	text_buf_init(&r->field); /* resp owns their bytes now */
	text_buf_init(&r->value);
	r->in_value = false;
	return 0;
}

static int fail(struct reader *r, int err)
{
	r->err = err;
	return -1;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
	struct reader *r = reader_of(p);
	int rc;

	r->header_bytes += n;
	if (r->header_bytes > MAX_HEADER_BYTES)
		return fail(r, CH_EPROTO);
	if (r->in_value) {
		rc = commit_header(r);
		if (rc)
			return fail(r, rc);
	}
	rc = sbuf_add(&r->field, at, n);
	return rc ? fail(r, rc) : 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
	struct reader *r = reader_of(p);
	int rc;

	r->header_bytes += n;
	if (r->header_bytes > MAX_HEADER_BYTES)
		return fail(r, CH_EPROTO);
	r->in_value = true;
	rc = sbuf_add(&r->value, at, n);
	return rc ? fail(r, rc) : 0;
}

static int on_headers_complete(llhttp_t *p)
{
	struct reader *r = reader_of(p);
	int rc = commit_header(r);

	if (rc)
		return fail(r, rc);
	r->resp->status = p->status_code;
	if (p->status_code == 101)
		return 2; /* no body; the rest of the stream is another protocol */
	if (r->head)
		return 1;
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
	struct reader *r = reader_of(p);
	int rc;

	if (r->body.len + n > CLIENT_MAX_MESSAGE)
		return fail(r, CH_EPROTO);
	rc = sbuf_add(&r->body, at, n);
	return rc ? fail(r, rc) : 0;
}

static void reset_response(struct reader *r)
{
	client_response_clear(r->resp);
	text_buf_free(&r->body);
	text_buf_free(&r->field);
	text_buf_free(&r->value);
	r->headers_cap = 0;
	r->header_bytes = 0;
	r->in_value = false;
}

static int on_message_complete(llhttp_t *p)
{
	struct reader *r = reader_of(p);

	if (p->status_code >= 100 && p->status_code < 200 && p->status_code != 101) {
		reset_response(r); /* interim response: wait for the final one */
		return 0;
	}
	r->complete = true;
	/* Stop at the end of this response; a 101 stops by itself with
	 * HPE_PAUSED_UPGRADE. */
	return p->status_code == 101 ? 0 : HPE_PAUSED;
}

/* llhttp_settings_init() only zeroes the struct, so a static initializer is
 * the same thing and needs no run-time (thread-unsafe) set-up. */
static const llhttp_settings_t reader_settings = {
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Maps an llhttp result to a CH_E* code. */
static int parse_error(struct reader *r, llhttp_errno_t e)
{
	if (r->err)
		return r->err;
	(void)e;
	return CH_EPROTO;
}

/*
 * After a 101 parsed from buf[0..n): the bytes past the response (where
 * llhttp paused; the peer's first frames) copied into a malloc'd *extra
 * (left NULL when there are none). 0 or CH_ENOMEM.
 */
static int upgrade_bytes_keep(struct reader *r, const char *buf, size_t n, uint8_t **extra,
			      size_t *extra_len)
{
	const char *pos = llhttp_get_error_pos(&r->parser);
	size_t used = pos ? (size_t)(pos - buf) : n;

	if (used >= n)
		return 0;
	*extra = malloc(n - used);
	if (!*extra)
		return CH_ENOMEM;
	memcpy(*extra, buf + used, n - used);
	*extra_len = n - used;
	return 0;
}

int client__read_response(int fd, int64_t deadline, bool head, bool upgrade,
			  struct client_response *resp, uint8_t **extra, size_t *extra_len)
{
	struct reader r;
	char buf[16384];
	size_t total = 0;
	int rc = 0;

	memset(&r, 0, sizeof(r));
	r.resp = resp;
	r.head = head;
	r.upgrade = upgrade;
	memset(resp, 0, sizeof(*resp));
	if (extra) {
		*extra = NULL;
		*extra_len = 0;
	}
	llhttp_init(&r.parser, HTTP_RESPONSE, &reader_settings);
	r.parser.data = &r;

	while (!r.complete) {
		long n = client__recv_some(fd, buf, sizeof(buf), deadline);
		llhttp_errno_t e;

		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0) {
			if (total == 0) {
				rc = CH_EIO;
				break;
			}
			e = llhttp_finish(&r.parser);
			if ((e != HPE_OK && e != HPE_PAUSED) || !r.complete)
				rc = r.err ? r.err : CH_EPROTO;
			break;
		}
		total += (size_t)n;
		e = llhttp_execute(&r.parser, buf, (size_t)n);
		if (e == HPE_OK)
			continue;
		if (e == HPE_PAUSED && r.complete)
			break;
		if (e == HPE_PAUSED_UPGRADE && r.complete) {
			if (upgrade && extra)
				rc = upgrade_bytes_keep(&r, buf, (size_t)n, extra, extra_len);
			break;
		}
		rc = parse_error(&r, e);
		break;
	}
	if (rc == 0) {
		resp->status = r.parser.status_code;
		resp->body = text_buf_take(&r.body, &resp->body_len); /* "" when none */
		if (!resp->body)
			rc = CH_ENOMEM;
	}
	text_buf_free(&r.body);
	text_buf_free(&r.field);
	text_buf_free(&r.value);
	if (rc) {
		client_response_clear(resp);
		if (extra) {
			free(*extra);
			*extra = NULL;
			*extra_len = 0;
		}
	}
	return rc;
}

bool client__has_header(const char *headers, const char *name)
{
	size_t n = strlen(name);
	const char *line = headers;

	while (line && *line) {
		if (strncasecmp(line, name, n) == 0 && line[n] == ':')
			return true;
		line = strstr(line, "\r\n");
		if (line)
			line += 2;
	}
	return false;
}

int client_http_request(const char *host, int port, const char *method, const char *path,
			const char *headers, const void *body, size_t body_len, int timeout_ms,
			struct client_response *resp)
{
	char *hosthdr, *req;
	int64_t deadline = client__deadline(timeout_ms);
	size_t cap;
	int fd = -1, rc, n;
	bool head;

	if (!host || !method || !path || !resp || (body_len && !body))
		return CH_EINVAL;
	memset(resp, 0, sizeof(*resp));
	hosthdr = client__host_header(host, port);
	if (!hosthdr)
		return CH_ENOMEM;
	cap =
	    strlen(method) + strlen(path) + strlen(hosthdr) + (headers ? strlen(headers) : 0) + 128;
	req = malloc(cap + body_len);
	if (!req) {
		free(hosthdr);
		return CH_ENOMEM;
	}
	n = snprintf(req, cap, "%s %s HTTP/1.1\r\nConnection: close\r\n", method, path);
	if (!client__has_header(headers, "host"))
		n += snprintf(req + n, cap - (size_t)n, "Host: %s\r\n", hosthdr);
	free(hosthdr);
	/* A body, or a method that normally has one, gets a Content-Length
	 * unless the caller set one (or chunked encoding) itself. */
	if ((body_len || !strcmp(method, "POST") || !strcmp(method, "PUT") ||
	     !strcmp(method, "PATCH")) &&
	    !client__has_header(headers, "content-length") &&
	    !client__has_header(headers, "transfer-encoding"))
		n += snprintf(req + n, cap - (size_t)n, "Content-Length: %zu\r\n", body_len);
	n += snprintf(req + n, cap - (size_t)n, "%s\r\n", headers ? headers : "");
	if (body_len)
		memcpy(req + n, body, body_len);

	rc = client__tcp_connect(host, port, client__remaining(deadline), &fd);
	if (rc == 0)
		rc = client__send_all(fd, req, (size_t)n + body_len, deadline);
	free(req);
	if (rc == 0) {
		head = strcasecmp(method, "HEAD") == 0;
		rc = client__read_response(fd, deadline, head, false, resp, NULL, NULL);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}
