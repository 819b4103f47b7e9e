/*
 * response.c - the response a view fills, and the status and error tables.
 * A response belongs to one view call (see http.h); no locks.
 */
#include "http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char default_content_type[] = "text/html; charset=utf-8";

const char *http_status_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

void http_response_init(struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->status = 200;
	resp->content_type = default_content_type;
}

void http_response_clear(struct http_response *resp)
{
	for (size_t i = 0; i < resp->n_headers; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	free(resp->headers);
	text_buf_free(&resp->body);
	http_response_init(resp);
}

/* RFC 9110 tchar. */
static bool is_token_char(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Field values: visible ASCII, obs-text, SP and HTAB; no CR, LF, NUL or
 * other controls, so a value can never start a new header line. */
static bool is_value_ok(const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	return true;
}

int http_response_add_header(struct http_response *resp, const char *name, const char *value)
{
	if (!resp || !name || !value || !*name || !is_value_ok(value))
		return CH_EINVAL;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (!is_token_char(*p))
			return CH_EINVAL;

	struct http_header *h = realloc(resp->headers, (resp->n_headers + 1) * sizeof(*h));
	if (!h)
		return CH_ENOMEM;
	resp->headers = h;
	char *n = strdup(name);
	char *v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return CH_ENOMEM;
	}
	for (char *p = n; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	h[resp->n_headers].name = n;
	h[resp->n_headers].value = v;
	resp->n_headers++;
	return CH_OK;
}

void http_response_error(struct http_response *resp, int status, const char *detail)
{
	const char *reason = http_status_reason(status);
	struct text_buf *b = &resp->body;

	resp->status = status;
	resp->content_type = default_content_type;
	text_buf_free(b);
	int rc = text_buf_printf(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
				 "<title>%d %s</title></head>\n<body><h1>%d %s</h1>\n",
				 status, reason, status, reason);
	if (!rc && detail && *detail) {
		rc = text_buf_append(b, "<p>", 3);
		if (!rc)
			rc = text_html_escape(b, detail, strlen(detail));
		if (!rc)
			rc = text_buf_append(b, "</p>\n", 5);
	}
	if (!rc)
		rc = text_buf_append(b, "</body></html>\n", 15);
	if (rc)
		text_buf_free(b); /* ENOMEM: an empty body still carries the status */
}

int http_response_redirect(struct http_response *resp, const char *location)
{
	if (!location || !*location)
		return CH_EINVAL;
	int rc = http_response_add_header(resp, "Location", location);
	if (rc)
		return rc;
	resp->status = 302;
	return CH_OK;
}
