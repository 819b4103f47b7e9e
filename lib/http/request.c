/*
 * request.c - what a view reads from its request. A request belongs to one
 * view call (see http.h); these helpers take no locks.
 */
#include "http.h"

#include <string.h>
#include <strings.h>

const char *http_request_header(const struct http_request *req, const char *name)
{
	if (!req || !name)
		return NULL;
	for (size_t i = 0; i < req->n_headers; i++)
		if (req->headers[i].name && strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

/* True when the Content-Type's media type (before any ';' parameters) is
 * application/x-www-form-urlencoded, compared case-insensitively. */
static bool is_form_content_type(const char *ct)
{
	static const char form[] = "application/x-www-form-urlencoded";
	size_t n = sizeof(form) - 1;

	if (!ct)
		return false;
	ct += strspn(ct, " \t");
	if (strncasecmp(ct, form, n) != 0)
		return false;
	ct += n;
	ct += strspn(ct, " \t");
	return *ct == '\0' || *ct == ';';
}

json_t *http_request_form(const struct http_request *req)
{
	if (!req || !req->body || !is_form_content_type(http_request_header(req, "content-type")))
		return json_object();
	return http_parse_query(req->body, req->body_len);
}

json_t *http_request_query(const struct http_request *req)
{
	if (!req || !req->query_string)
		return json_object();
	return http_parse_query(req->query_string, strlen(req->query_string));
}

void http_session_set(struct http_request *req, const char *key, json_t *value)
{
	if (!req || !key) {
		json_decref(value);
		return;
	}
	if (!req->session)
		req->session = json_object();
	if (!value)
		json_object_del(req->session, key);
	else
		json_object_set_new(req->session, key, value);
	req->session_modified = true;
}

const char *http_session_get(const struct http_request *req, const char *key)
{
	if (!req || !key)
		return NULL;
	return json_string_value(json_object_get(req->session, key));
}
