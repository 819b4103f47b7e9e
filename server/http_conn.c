/*
 * http_conn.c - HTTP requests: /static/ files served on the loop, every
 * other request routed to a view that runs on the thread pool; responses
 * written back from the loop in WRITEABLE callbacks.
 *
 * One struct http_conn exists per HTTP transaction in progress, hung on
 * the wsi with lws_set_opaque_user_data(). A view job that outlives its
 * connection (the client went away) finds job->hc == NULL and frees itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "server_int.h"

#define BODY_CHUNK 16384

struct view_job;

struct http_conn {
	enum conn_kind kind; /* CONN_HTTP: first, shares the layout test with ws_conn */
	struct server *s;
	struct lws *wsi;
	struct http_request req;
	struct http_buf body;
	const struct view *view;
	int error_status;          /* set: answer with this error page instead of a view */
	unsigned allow;            /* for 405: the view's methods */
	struct view_job *job;      /* in flight on the pool */
	struct http_response resp; /* ready to write once job is NULL and `ready` */
	bool ready;
	bool close_after;          /* answered before reading the body: drop the connection after */
	bool headers_sent;
	bool head_only;
	size_t body_off;
};

struct view_job {
	uv_work_t work;
	struct http_conn *hc; /* NULL once the connection has gone */
	struct server *s;
	const struct view *view;
	int error_status;
	unsigned allow;
	struct http_request req;
	struct http_response resp;
	struct http_buf body; /* the request body, owned by the job */
};

/* ---- request ---- */

static char *hdr_dup(struct lws *wsi, enum lws_token_indexes t)
{
	int n = lws_hdr_total_length(wsi, t);
	if (n <= 0)
		return NULL;
	char *v = malloc((size_t)n + 1);
	if (v && lws_hdr_copy(wsi, v, n + 1, t) < 0) {
		free(v);
		return NULL;
	}
	return v;
}

static const struct {
	enum lws_token_indexes tok;
	const char *method;
} methods[] = {
	{WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},
	{WSI_TOKEN_PUT_URI, "PUT"},       {WSI_TOKEN_PATCH_URI, "PATCH"},
	{WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
	{WSI_TOKEN_HEAD_URI, "HEAD"},
};

/* Re-encodes one decoded query fragment so http_parse_query() reads it back. */
static void append_query_part(struct http_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			http_buf_append(b, s + i, 1);
		} else {
			char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
			http_buf_append(b, esc, 3);
		}
	}
}

int server__request_fill(struct lws *wsi, const char *path, struct http_request *req)
{
	char buf[4096];
	memset(req, 0, sizeof(*req));
	req->method = "GET";
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (lws_hdr_total_length(wsi, methods[i].tok) > 0) {
			req->method = methods[i].method;
			break;
		}
	req->path = strdup(path && *path ? path : "/");

	/* lws splits the query at '&' and decodes each fragment. */
	struct http_buf q = {0};
	for (int i = 0; lws_hdr_copy_fragment(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_URI_ARGS, i) > 0;
	     i++) {
		if (i)
			http_buf_append(&q, "&", 1);
		char *eq = strchr(buf, '=');
		size_t klen = eq ? (size_t)(eq - buf) : strlen(buf);
		append_query_part(&q, buf, klen);
		if (eq) {
			http_buf_append(&q, "=", 1);
			append_query_part(&q, eq + 1, strlen(eq + 1));
		}
	}
	req->query_string = q.data ? q.data : strdup("");

	size_t cap = 16;
	req->headers = calloc(cap, sizeof(*req->headers));
	for (int t = 0; req->headers && t < WSI_TOKEN_COUNT; t++) {
		const char *name = (const char *)lws_token_to_string((enum lws_token_indexes)t);
		size_t nl = name ? strlen(name) : 0;
		if (nl < 2 || name[nl - 1] != ':' || name[0] == ':')
			continue;
		char *v = hdr_dup(wsi, (enum lws_token_indexes)t);
		if (!v)
			continue;
		if (req->n_headers == cap) {
			struct http_header *h = realloc(req->headers, 2 * cap * sizeof(*h));
			if (!h) {
				free(v);
				break;
			}
			req->headers = h;
			cap *= 2;
		}
		char *n = strndup(name, nl - 1);
		for (char *p = n; p && *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p + 32);
		req->headers[req->n_headers].name = n;
		req->headers[req->n_headers].value = v;
		req->n_headers++;
	}
	/* lws keeps headers it has no token for only by name: fetch the ones
	 * views and proxies use. */
	static const char *const custom[] = {"x-csrftoken:", "x-forwarded-for:",
					      "x-forwarded-proto:", "x-real-ip:",
					      "x-requested-with:", "x-request-id:"};
	for (size_t i = 0; req->headers && i < sizeof(custom) / sizeof(custom[0]); i++) {
		int nl = (int)strlen(custom[i]);
		int vl = lws_hdr_custom_length(wsi, custom[i], nl);
		if (vl < 0 || (size_t)vl >= sizeof(buf))
			continue;
		if (lws_hdr_custom_copy(wsi, buf, (int)sizeof(buf), custom[i], nl) < 0)
			continue;
		if (req->n_headers == cap) {
			struct http_header *h = realloc(req->headers, 2 * cap * sizeof(*h));
			if (!h)
				break;
			req->headers = h;
			cap *= 2;
		}
		req->headers[req->n_headers].name = strndup(custom[i], (size_t)nl - 1);
		req->headers[req->n_headers].value = strdup(buf);
		req->n_headers++;
	}
	req->cookies = http_parse_cookies(http_request_header(req, "cookie"));
	lws_get_peer_simple(wsi, buf, sizeof(buf));
	req->client_addr = strdup(buf);
	req->kwargs = json_object();
	req->session = json_object();
	return req->path && req->query_string && req->headers && req->client_addr ? 0 : -1;
}

void server__request_clear(struct http_request *req)
{
	free((char *)req->path);
	free((char *)req->query_string);
	free((char *)req->client_addr);
	free((char *)req->csrf_token);
	for (size_t i = 0; i < req->n_headers; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	free(req->headers);
	json_decref(req->kwargs);
	json_decref(req->cookies);
	json_decref(req->session);
	memset(req, 0, sizeof(*req));
}

/* ---- the view job (pool thread, then loop thread) ---- */

static void render_error(struct http_request *req, struct http_response *resp, int status,
			 const char *detail)
{
	struct server *s = req->app;
	char name[32], path[PATH_MAX];
	snprintf(name, sizeof(name), "errors/%d.html", status);
	snprintf(path, sizeof(path), "%s/%s", s->cfg->templates_dir, name);
	if (access(path, R_OK) != 0)
		snprintf(name, sizeof(name), "errors/error.html");
	json_t *ctx = json_pack("{s:i,s:s,s:s}", "status", status, "reason",
				http_status_reason(status), "detail", detail ? detail : "");
	if (server_render(req, resp, name, ctx) != 0)
		http_response_error(resp, status, detail);
	resp->status = status;
}

static bool is_unsafe_method(const char *m)
{
	return strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "OPTIONS");
}

static void on_job_work(uv_work_t *w)
{
	struct view_job *job = (struct view_job *)w;
	struct http_request *req = &job->req;
	struct server *s = job->s;
	bool csrf_new = false;

	server__session_load(s, req);
	const char *tok = json_string_value(json_object_get(req->cookies, "csrftoken"));
	char fresh[33];
	if (!tok || strlen(tok) != 32) {
		server_random_hex(fresh, 16);
		tok = fresh;
		csrf_new = true;
	}
	req->csrf_token = strdup(tok);

	char csrf_why[512] = "CSRF verification failed.";
	if (job->error_status == 405 && is_unsafe_method(req->method) &&
	    !server__csrf_check(req, csrf_why, sizeof(csrf_why)))
		job->error_status = 403; /* CSRF is checked before the view, as Django's middleware */
	if (job->error_status) {
		render_error(req, &job->resp, job->error_status,
			     job->error_status == 404   ? "No page at this address."
			     : job->error_status == 403 ? csrf_why
			     : job->error_status == 413 ? "The request body is too large."
			     : job->error_status == 411 ? "Send a Content-Length with the body."
							: NULL);
		if (job->error_status == 405) {
			char allow[64] = "";
			if (job->allow & VIEW_GET)
				strcat(allow, "GET, HEAD, ");
			if (job->allow & VIEW_POST)
				strcat(allow, "POST, ");
			if (job->allow & VIEW_PUT)
				strcat(allow, "PUT, ");
			if (job->allow & VIEW_PATCH)
				strcat(allow, "PATCH, ");
			if (job->allow & VIEW_DELETE)
				strcat(allow, "DELETE, ");
			if (strlen(allow) > 2)
				allow[strlen(allow) - 2] = '\0';
			http_response_add_header(&job->resp, "Allow", allow);
		}
	} else if (is_unsafe_method(req->method) && !job->view->csrf_exempt &&
		   !server__csrf_check(req, csrf_why, sizeof(csrf_why))) {
		LOG(LOG_INFO, "http", "%s %s from %s: %s", req->method,
		    req->path, req->client_addr, csrf_why);
		render_error(req, &job->resp, 403, csrf_why);
	} else {
		job->view->fn(req, &job->resp);
	}
	server__session_save(s, req, &job->resp, csrf_new);
}

static void hc_free(struct http_conn *hc)
{
	server__request_clear(&hc->req);
	http_buf_free(&hc->body);
	http_response_clear(&hc->resp);
	free(hc);
}

static void on_job_done(uv_work_t *w, int status)
{
	struct view_job *job = (struct view_job *)w;
	struct http_conn *hc = job->hc;
	(void)status;
	http_buf_free(&job->body);
	if (!hc) {
		server__request_clear(&job->req);
		http_response_clear(&job->resp);
		free(job);
		return;
	}
	hc->job = NULL;
	hc->resp = job->resp;
	hc->req = job->req; /* hand the request back for logging and freeing */
	hc->ready = true;
	free(job);
	lws_set_timeout(hc->wsi, NO_PENDING_TIMEOUT, 0);
	lws_callback_on_writable(hc->wsi);
}

static int dispatch(struct http_conn *hc)
{
	struct view_job *job = calloc(1, sizeof(*job));
	if (!job)
		return -1;
	job->hc = hc;
	job->s = hc->s;
	job->view = hc->view;
	job->error_status = hc->error_status;
	job->allow = hc->allow;
	job->req = hc->req;
	memset(&hc->req, 0, sizeof(hc->req));
	job->body = hc->body;
	memset(&hc->body, 0, sizeof(hc->body));
	job->req.body = job->body.data;
	job->req.body_len = job->body.len;
	job->req.app = hc->s;
	http_response_init(&job->resp);
	hc->job = job;
	lws_set_timeout(hc->wsi, PENDING_TIMEOUT_HTTP_CONTENT, 120);
	if (uv_queue_work(hc->s->loop, &job->work, on_job_work, on_job_done) != 0) {
		hc->req = job->req;
		hc->job = NULL;
		free(job);
		return -1;
	}
	return 0;
}

/* ---- static files ---- */

static const char *mime_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
		{".json", "application/json"},          {".map", "application/json"},
		{".svg", "image/svg+xml"},              {".png", "image/png"},
		{".jpg", "image/jpeg"},                 {".jpeg", "image/jpeg"},
		{".gif", "image/gif"},                  {".webp", "image/webp"},
		{".ico", "image/x-icon"},               {".woff2", "font/woff2"},
		{".txt", "text/plain; charset=utf-8"},  {".webmanifest", "application/manifest+json"},
	};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

/* Refuses anything but plain relative names below static/: no "..", no
 * hidden segments, no backslashes; then realpath() must stay inside. */
static bool static_resolve(const struct server *s, const char *rel, char *out)
{
	if (!*rel || *rel == '/' || strchr(rel, '\\'))
		return false;
	for (const char *seg = rel; seg; seg = strchr(seg, '/')) {
		if (*seg == '/')
			seg++;
		if (*seg == '.')
			return false; /* ".", "..", ".hidden" */
	}
	char full[PATH_MAX];
	if ((size_t)snprintf(full, sizeof(full), "%s/%s", s->static_root, rel) >= sizeof(full))
		return false;
	if (!realpath(full, out))
		return false;
	size_t n = strlen(s->static_root);
	return strncmp(out, s->static_root, n) == 0 && out[n] == '/';
}

static int serve_static(struct http_conn *hc, const char *rel)
{
	struct lws *wsi = hc->wsi;
	char real[PATH_MAX];
	struct stat st;
	if (!static_resolve(hc->s, rel, real) || stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
		hc->error_status = 404;
		return dispatch(hc);
	}
	char etag[64], date[64];
	snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL +
			 (unsigned long long)st.st_mtim.tv_nsec);
	struct tm tm;
	gmtime_r(&st.st_mtime, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);

	const char *inm = http_request_header(&hc->req, "if-none-match");
	const char *ims = http_request_header(&hc->req, "if-modified-since");
	bool not_modified = inm ? strstr(inm, etag) != NULL : (ims && strcmp(ims, date) == 0);

	unsigned char hbuf[LWS_PRE + 1024];
	unsigned char *start = hbuf + LWS_PRE, *p = start, *end = hbuf + sizeof(hbuf) - 1;
	static const char cache[] = "public, max-age=60";
	if (not_modified) {
		if (lws_add_http_header_status(wsi, 304, &p, end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"etag:",
						(const unsigned char *)etag, (int)strlen(etag), &p, end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
						(const unsigned char *)cache, (int)strlen(cache), &p,
						end) ||
		    lws_add_http_header_content_length(wsi, 0, &p, end) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		hc_free(hc);
		lws_set_opaque_user_data(wsi, NULL);
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	static const char nosniff[] = "nosniff";
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"etag:",
					(const unsigned char *)etag, (int)strlen(etag), &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"last-modified:",
					(const unsigned char *)date, (int)strlen(date), &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)cache, (int)strlen(cache), &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
					(const unsigned char *)nosniff, (int)strlen(nosniff), &p, end))
		return -1;
	/* lws streams the file from here and reports HTTP_FILE_COMPLETION. */
	hc_free(hc);
	lws_set_opaque_user_data(wsi, NULL);
	int n = lws_serve_http_file(wsi, real, mime_type(real), (const char *)start,
				    (int)(p - start));
	if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
		return -1;
	return 0;
}

/* ---- writing the response ---- */

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
		      unsigned char *end)
{
	char n[128];
	snprintf(n, sizeof(n), "%s:", name);
	for (char *c = n; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c + 32);
	return lws_add_http_header_by_name(wsi, (const unsigned char *)n,
					   (const unsigned char *)value, (int)strlen(value), p, end);
}

static int write_response(struct http_conn *hc)
{
	struct lws *wsi = hc->wsi;
	struct http_response *r = &hc->resp;

	if (!hc->headers_sent) {
		unsigned char hbuf[LWS_PRE + 8192];
		unsigned char *start = hbuf + LWS_PRE, *p = start, *end = hbuf + sizeof(hbuf) - 1;
		if (lws_add_http_header_status(wsi, (unsigned)r->status, &p, end) ||
		    add_header(wsi, "content-type", r->content_type, &p, end) ||
		    add_header(wsi, "x-content-type-options", "nosniff", &p, end) ||
		    add_header(wsi, "x-frame-options", "DENY", &p, end) ||
		    add_header(wsi, "referrer-policy", "same-origin", &p, end) ||
		    add_header(wsi, "cache-control", "no-cache", &p, end) ||
		    add_header(wsi, "content-security-policy",
			       "default-src 'self'; script-src 'self'; style-src 'self' "
			       "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
			       "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
			       &p, end))
			return -1;
		for (size_t i = 0; i < r->n_headers; i++)
			if (add_header(wsi, r->headers[i].name, r->headers[i].value, &p, end))
				return -1;
		if (lws_add_http_header_content_length(wsi, r->body.len, &p, end) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		hc->headers_sent = true;
		LOG(LOG_INFO, "http", "%s %s %d %zu", hc->req.method ? hc->req.method : "-",
		    hc->req.path ? hc->req.path : "-", r->status, r->body.len);
		if (r->body.len && !hc->head_only) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	} else if (hc->body_off < r->body.len) {
		unsigned char chunk[LWS_PRE + BODY_CHUNK];
		size_t n = r->body.len - hc->body_off;
		if (n > BODY_CHUNK)
			n = BODY_CHUNK;
		memcpy(chunk + LWS_PRE, r->body.data + hc->body_off, n);
		hc->body_off += n;
		bool last = hc->body_off == r->body.len;
		if (lws_write(wsi, chunk + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
		    (int)n)
			return -1;
		if (!last) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	bool close_after = hc->close_after;
	lws_set_opaque_user_data(wsi, NULL);
	hc_free(hc);
	if (close_after)
		return -1; /* the unread body makes the connection unusable */
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- the callback ---- */

static unsigned method_bit(const char *m)
{
	if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
		return VIEW_GET;
	if (!strcmp(m, "POST"))
		return VIEW_POST;
	if (!strcmp(m, "PUT"))
		return VIEW_PUT;
	if (!strcmp(m, "PATCH"))
		return VIEW_PATCH;
	if (!strcmp(m, "DELETE"))
		return VIEW_DELETE;
	return 0;
}

/* After routing: wait for the body, or answer at once when it will not be
 * read: a declared length over the limit (413), or a chunked body (411:
 * lws 4.1 does not reliably report the end of a chunked request body, and
 * browsers send form bodies with a Content-Length). */
static int after_route(struct http_conn *hc)
{
	const char *cl = http_request_header(&hc->req, "content-length");
	long long clen = cl ? atoll(cl) : 0;
	bool chunked = http_request_header(&hc->req, "transfer-encoding") != NULL;
	if (chunked || (clen > 0 && (size_t)clen > hc->s->cfg->max_body_size)) {
		hc->error_status = chunked ? 411 : 413;
		hc->close_after = true;
		return dispatch(hc);
	}
	if (clen > 0)
		return 0; /* dispatched at HTTP_BODY_COMPLETION */
	return dispatch(hc);
}

static int on_request(struct server *s, struct lws *wsi, const char *path)
{
	struct http_conn *hc = calloc(1, sizeof(*hc));
	if (!hc)
		return -1;
	hc->kind = CONN_HTTP;
	hc->s = s;
	hc->wsi = wsi;
	http_response_init(&hc->resp);
	lws_set_opaque_user_data(wsi, hc);
	if (server__request_fill(wsi, path, &hc->req) != 0)
		return -1;
	hc->head_only = strcmp(hc->req.method, "HEAD") == 0;

	if (strncmp(hc->req.path, "/static/", 8) == 0) {
		if (method_bit(hc->req.method) != VIEW_GET) {
			hc->error_status = 405;
			hc->allow = VIEW_GET;
			return after_route(hc);
		}
		return serve_static(hc, hc->req.path + 8);
	}

	json_t *kwargs = NULL;
	const struct route *rt = router_match(s->http_router, hc->req.path, &kwargs);
	if (!rt) {
		hc->error_status = 404;
	} else {
		json_decref(hc->req.kwargs);
		hc->req.kwargs = kwargs;
		hc->view = rt->target;
		if (!(method_bit(hc->req.method) & hc->view->methods)) {
			hc->error_status = 405;
			hc->allow = hc->view->methods;
		}
	}
	return after_route(hc);
}


int server__http_callback(struct server *s, struct lws *wsi, enum lws_callback_reasons reason,
			  void *in, size_t len)
{
	struct http_conn *hc = lws_get_opaque_user_data(wsi);
	if (hc && hc->kind != CONN_HTTP)
		hc = NULL;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		if (hc) /* a new transaction while the last one is unfinished: refuse */
			return -1;
		return on_request(s, wsi, (const char *)in) ? -1 : 0;

	case LWS_CALLBACK_HTTP_BODY:
		if (!hc || hc->close_after)
			return 0; /* answered already: the body is discarded */
		if (hc->body.len + len > s->cfg->max_body_size) {
			/* More than Content-Length promised within the limit. */
			hc->error_status = 413;
			hc->close_after = true;
			http_buf_free(&hc->body);
			return dispatch(hc) ? -1 : 0;
		}
		return http_buf_append(&hc->body, in, len) ? -1 : 0;

	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (!hc || hc->close_after || hc->job || hc->ready)
			return 0;
		return dispatch(hc) ? -1 : 0;

	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!hc || !hc->ready)
			return 0;
		return write_response(hc);

	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		return lws_http_transaction_completed(wsi) ? -1 : 0;

	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (hc) {
			lws_set_opaque_user_data(wsi, NULL);
			if (hc->job)
				hc->job->hc = NULL; /* the job frees itself when the view returns */
			hc_free(hc);
		}
		return 0;

	default:
		return 0;
	}
}
