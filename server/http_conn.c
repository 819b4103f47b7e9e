/*
 * http_conn.c - HTTP/1.1 connections: our own reader (http1, on llhttp)
 * over an lws raw socket, /static/ files streamed on the loop, every other
 * request routed to a view that runs on the thread pool, responses written
 * back from the loop; WebSocket handshakes handed to ws_conn.c.
 *
 * Why not lws' HTTP role: libwebsockets 4.1.6 reads freed memory when a
 * request with a body follows another in one packet, spins forever on a
 * GET with a body followed by another request, answers 403 to a second
 * pipelined static request, accepts lenient and duplicate Content-Length
 * values, drops a 64 KiB header with no status (and an ERROR log line per
 * request), answers refused handshakes with HTTP/1.0 and drops a
 * handshake with "Upgrade: WebSocket" or a long Sec-WebSocket-Extensions.
 * tests/integration/test_http1.c pins each of these. lws still owns the
 * socket: the loop, writes (it keeps an unsent remainder), timeouts and
 * closing.
 *
 * One struct http_conn exists per TCP connection until it is closed or
 * becomes a WebSocket, hung on the wsi with lws_set_opaque_user_data().
 * Requests are answered one at a time, in order: while one is answered,
 * what the client pipelined after it waits in `in`, unparsed (bounded:
 * reading stops while more than IN_HOLD bytes wait). A view job that
 * outlives its connection finds job->hc == NULL and frees itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "server_int.h"

#define OUT_CHUNK (64 * 1024)
#define IN_HOLD (64 * 1024)   /* unparsed bytes held while a request is answered */
#define LINGER_SECS 2         /* reading and dropping after an error answer */

struct view_job;

enum hc_state {
	HC_READ,   /* reading a request */
	HC_BUSY,   /* a view runs on the pool */
	HC_WRITE,  /* writing the response */
	HC_LINGER, /* answered an error: draining what the client still sends, then closing */
	HC_DEAD,   /* to be closed from the next WRITEABLE callback */
};

struct http_conn {
	enum conn_kind kind; /* CONN_HTTP: first, shares the layout test with ws_conn */
	enum hc_state state;
	struct server_worker *s;
	struct lws *wsi;
	struct http1 *rd;
	struct text_buf in; /* received, not parsed yet */
	size_t in_off;
	bool reading;       /* in the worker's epoll set (s->rx_epfd) */
	bool peer_eof;      /* the client shut its side: answer what is read, then close */
	bool close_after;   /* no further request on this connection */
	bool head_only;
	bool unread;        /* refused before its request line was read: logged as "-" */
	bool http10;        /* the request was HTTP/1.0: keep-alive is said, not assumed */
	struct http_request req; /* the request answered (filled at its end) */
	struct view_job *job;    /* in flight on the pool */
	struct http_response resp;
	struct text_buf out;     /* the serialized head (and body) to write */
	size_t out_off;
	int file_fd;             /* a static file's body, streamed after `out` */
	off_t file_left;
	uint64_t started;        /* loop time the request ended, for the access log */
	unsigned long long body_bytes; /* the response body's length as sent (access log) */
};

struct view_job {
	uv_work_t work;
	struct http_conn *hc; /* NULL once the connection has gone */
	struct server_worker *s;
	const struct view *view;
	int error_status;
	const char *error_detail;
	unsigned allow;
	struct http_request req;
	struct http_response resp;
};

/* ---- reading ----
 *
 * The socket is read by us, not by lws (its POLLIN is off from adoption):
 * it sits in the worker's epoll set with the WebSockets (ws_conn.c's
 * on_rx_ready calls server__http_readable), so that a client that shuts
 * its sending side still gets the answers to what it sent (lws' raw role
 * closes on EOF), and so that reading stops while more than IN_HOLD
 * pipelined bytes wait.
 */

static void hc_watch(struct http_conn *hc, bool on)
{
	if (hc->reading == on || hc->s->rx_epfd < 0)
		return;
	int fd = lws_get_socket_fd(hc->wsi);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = hc};
	if (epoll_ctl(hc->s->rx_epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev) == 0 || !on)
		hc->reading = on;
}

/* Ends the connection from outside an lws callback: lws closes it from
 * the WRITEABLE callback, which returns -1. */
static void hc_kill(struct http_conn *hc)
{
	hc_watch(hc, false);
	hc->state = HC_DEAD;
	lws_callback_on_writable(hc->wsi);
}

/* ---- the request handed to views ---- */

void server__request_clear(struct http_request *req)
{
	free((char *)req->path);
	free((char *)req->query_string);
	free((char *)req->client_addr);
	free((char *)req->csrf_token);
	free((char *)req->body);
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

/*
 * Fills `out` from what the reader read: the target's path (decoded) and
 * query (raw), copies of the fields and body, the peer's address. An
 * absolute-form target ("http://host/path", RFC 9112 3.2.2) is read for its
 * path. Returns 0, or the status to refuse the request with.
 */
static int request_fill(struct http_conn *hc, const struct http1_request *r,
			struct http_request *out)
{
	memset(out, 0, sizeof(*out));
	out->method = r->method;
	out->app = hc->s;
	out->kwargs = json_object();
	out->session = json_object();
	const char *t = r->target;
	if (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0) {
		t = strchr(t + (t[4] == ':' ? 7 : 8), '/');
		if (!t)
			t = "/";
	} else if (strcmp(t, "*") == 0 && strcmp(r->method, "OPTIONS") == 0) {
		t = "/";
	} else if (*t != '/') {
		return 400;
	}
	size_t plen = strcspn(t, "?#");
	if (memmem(t, plen, "%00", 3))
		return 400; /* a NUL in the path cannot name anything */
	char *path = http_url_decode(t, plen, false);
	if (!path)
		return 500;
	out->path = path;
	server__root_path_strip(hc->s->proc->cfg->root_path, path);
	const char *q = t[plen] == '?' ? t + plen + 1 : "";
	out->query_string = strndup(q, strcspn(q, "#"));
	out->headers = calloc(r->n_headers ? r->n_headers : 1, sizeof(*out->headers));
	if (!out->query_string || !out->headers)
		return 500;
	for (size_t i = 0; i < r->n_headers; i++) {
		out->headers[i].name = strdup(r->headers[i].name);
		out->headers[i].value = strdup(r->headers[i].value);
		out->n_headers++;
		if (!out->headers[i].name || !out->headers[i].value)
			return 500;
	}
	if (r->body_len) {
		char *b = malloc(r->body_len + 1);
		if (!b)
			return 500;
		memcpy(b, r->body, r->body_len);
		b[r->body_len] = '\0';
		out->body = b;
		out->body_len = r->body_len;
	}
	out->cookies = http_parse_cookies(http_request_header(out, "cookie"));
	struct server_client cl;
	server__client_of(hc->s->proc, lws_get_socket_fd(hc->wsi), out, &cl);
	out->client_addr = strdup(cl.addr);
	out->is_secure = cl.secure;
	out->forwarded = cl.forwarded;
	return out->client_addr && out->cookies ? 0 : 500;
}

/* ---- the view job (pool thread, then loop thread) ---- */

static void render_error(struct http_request *req, struct http_response *resp, int status,
			 const char *detail)
{
	struct server_worker *s = req->app;
	char name[32], path[PATH_MAX];
	snprintf(name, sizeof(name), "errors/%d.html", status);
	snprintf(path, sizeof(path), "%s/%s", s->proc->cfg->templates_dir, name);
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

static void allow_header(struct http_response *resp, unsigned allow)
{
	char list[64] = "";
	if (allow & VIEW_GET)
		strcat(list, "GET, HEAD, ");
	if (allow & VIEW_POST)
		strcat(list, "POST, ");
	if (allow & VIEW_PUT)
		strcat(list, "PUT, ");
	if (allow & VIEW_PATCH)
		strcat(list, "PATCH, ");
	if (allow & VIEW_DELETE)
		strcat(list, "DELETE, ");
	if (strlen(list) > 2)
		list[strlen(list) - 2] = '\0';
	http_response_add_header(resp, "Allow", list);
}

static void on_job_work(uv_work_t *w)
{
	struct view_job *job = (struct view_job *)w;
	struct http_request *req = &job->req;
	struct server_worker *s = job->s;
	bool csrf_new = false;
	atomic_fetch_sub(&s->proc->views_queued, 1);
	atomic_fetch_add(&s->proc->views_running, 1);

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
		const char *detail = job->error_detail;
		if (!detail)
			detail = job->error_status == 404   ? "No page at this address."
				 : job->error_status == 403 ? csrf_why
				 : job->error_status == 413 ? "The request body is too large."
							    : NULL;
		render_error(req, &job->resp, job->error_status, detail);
		if (job->error_status == 405)
			allow_header(&job->resp, job->allow);
		if (job->error_status == 426)
			http_response_add_header(&job->resp, "Sec-WebSocket-Version", "13");
	} else if (is_unsafe_method(req->method) && !job->view->csrf_exempt &&
		   !server__csrf_check(req, csrf_why, sizeof(csrf_why))) {
		static struct log_limit lim_csrf = LOG_LIMIT_INIT(10);
		LOG_LIMITED(&lim_csrf, LOG_INFO, "http", "%s %s from %s: %s", req->method, req->path,
			    req->client_addr, csrf_why);
		render_error(req, &job->resp, 403, csrf_why);
	} else {
		job->view->fn(req, &job->resp);
	}
	server__session_save(s, req, &job->resp, csrf_new);
	server__root_path_location(s->proc->cfg->root_path, &job->resp);
	atomic_fetch_sub(&s->proc->views_running, 1);
}

static void start_write(struct http_conn *hc);

static void on_job_done(uv_work_t *w, int status)
{
	struct view_job *job = (struct view_job *)w;
	struct http_conn *hc = job->hc;
	(void)status;
	if (!hc) {
		server__request_clear(&job->req);
		http_response_clear(&job->resp);
		free(job);
		return;
	}
	hc->job = NULL;
	hc->resp = job->resp;
	hc->req = job->req; /* handed back for the access log and freeing */
	free(job);
	start_write(hc);
}

/* Runs the view (or renders the error page `error_status`) on the pool;
 * the request moves into the job. */
static int dispatch(struct http_conn *hc, const struct view *view, int error_status,
		    const char *detail, unsigned allow)
{
	struct view_job *job = calloc(1, sizeof(*job));
	if (!job)
		return -1;
	job->hc = hc;
	job->s = hc->s;
	job->view = view;
	job->error_status = error_status;
	job->error_detail = detail;
	job->allow = allow;
	job->req = hc->req;
	memset(&hc->req, 0, sizeof(hc->req));
	job->req.app = hc->s;
	http_response_init(&job->resp);
	hc->job = job;
	hc->state = HC_BUSY;
	lws_set_timeout(hc->wsi, NO_PENDING_TIMEOUT, 0);
	atomic_fetch_add(&hc->s->proc->views_queued, 1);
	if (uv_queue_work(hc->s->loop, &job->work, on_job_work, on_job_done) != 0) {
		atomic_fetch_sub(&hc->s->proc->views_queued, 1);
		hc->req = job->req;
		hc->job = NULL;
		free(job);
		return -1;
	}
	return 0;
}

/* Answers with the error page `status` and closes after it: the request
 * could not be read to its end (or should not be), so nothing after it on
 * the connection can be trusted to be a request. */
static int refuse(struct http_conn *hc, int status, const char *why)
{
	static struct log_limit lim = LOG_LIMIT_INIT(10);
	struct server_client cl;
	server__client_of(hc->s->proc, lws_get_socket_fd(hc->wsi), hc->req.kwargs ? &hc->req : NULL,
			  &cl);
	const char *addr = cl.addr;
	LOG_LIMITED(&lim, LOG_INFO, "http", "%s: %d %s", addr, status, why);
	hc->close_after = true;
	if (!hc->started)
		hc->started = uv_now(hc->s->loop);
	const struct http1_request *r = http1_request(hc->rd);
	hc->head_only = http1_is_head(hc->rd); /* no body, even for an error */
	const char *method = hc->head_only ? "HEAD" : NULL;
	if (!hc->req.kwargs && r->method && request_fill(hc, r, &hc->req) != 0)
		server__request_clear(&hc->req); /* its head as far as it is read */
	if (!hc->req.kwargs) { /* nothing usable: a minimal one */
		hc->unread = true;
		memset(&hc->req, 0, sizeof(hc->req));
		hc->req.method = method ? method : "GET";
		hc->req.path = strdup("/");
		hc->req.query_string = strdup("");
		hc->req.client_addr = strdup(addr);
		hc->req.kwargs = json_object();
		hc->req.session = json_object();
		hc->req.cookies = json_object();
	}
	return dispatch(hc, NULL, status, why, 0);
}

/* ---- static files (static_files.c) ---- */

static int serve_static(struct http_conn *hc, const char *rel)
{
	off_t size = 0;
	int fd = server__static_open(hc->s, rel, &hc->req, &hc->resp, &size);
	if (fd == -1)
		return dispatch(hc, NULL, 404, NULL, 0);
	if (fd >= 0) {
		hc->file_fd = fd;
		hc->file_left = size;
	}
	start_write(hc);
	return 0;
}

/* ---- writing the response ---- */

static bool static_response(const struct http_conn *hc)
{
	return hc->file_fd >= 0 || hc->resp.status == 304;
}

/* The status line and header section, into hc->out (after LWS_PRE bytes
 * of headroom, which lws_write wants before what it writes). */
static int serialize_head(struct http_conn *hc)
{
	struct http_response *r = &hc->resp;
	struct text_buf *o = &hc->out;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	static const char pre[LWS_PRE];
	int rc = text_buf_append(o, pre, sizeof(pre));
	rc |= text_buf_printf(o, "HTTP/1.1 %d %s\r\nDate: %s\r\n", r->status,
			      http_status_reason(r->status), date);
	if (r->content_type)
		rc |= text_buf_printf(o, "Content-Type: %s\r\n", r->content_type);
	rc |= text_buf_printf(o, "X-Content-Type-Options: nosniff\r\n");
	if (!static_response(hc))
		rc |= text_buf_printf(
			o, "X-Frame-Options: DENY\r\nReferrer-Policy: same-origin\r\n"
			   "Cache-Control: no-cache\r\n"
			   "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src "
			   "'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
			   "frame-ancestors 'none'; base-uri 'self'; form-action 'self'\r\n");
	for (size_t i = 0; i < r->n_headers; i++)
		rc |= text_buf_printf(o, "%s: %s\r\n", r->headers[i].name, r->headers[i].value);
	hc->body_bytes = hc->file_fd >= 0 ? (unsigned long long)hc->file_left
					   : (unsigned long long)r->body.len;
	if (r->status != 304 && r->status >= 200 && r->status != 204)
		rc |= text_buf_printf(o, "Content-Length: %llu\r\n", hc->body_bytes);
	if (hc->head_only || r->status == 304 || r->status < 200 || r->status == 204)
		hc->body_bytes = 0;
	if (hc->close_after)
		rc |= text_buf_printf(o, "Connection: close\r\n");
	else if (hc->http10)
		rc |= text_buf_printf(o, "Connection: keep-alive\r\n");
	rc |= text_buf_append(o, "\r\n", 2);
	if (!hc->head_only && hc->file_fd < 0 && r->body.len && r->status != 304)
		rc |= text_buf_append(o, r->body.data, r->body.len);
	hc->out_off = LWS_PRE;
	return rc ? -1 : 0;
}

static void start_write(struct http_conn *hc)
{
	if (hc->s->stopping)
		hc->close_after = true;
	if (serialize_head(hc) != 0)
		hc->close_after = true;
	if (hc->head_only && hc->file_fd >= 0) {
		close(hc->file_fd);
		hc->file_fd = -1;
	}
	hc->state = HC_WRITE;
	lws_set_timeout(hc->wsi, PENDING_TIMEOUT_HTTP_CONTENT, 60);
	lws_callback_on_writable(hc->wsi);
}

/* The request's line in the access log, and its counters (metrics.c). */
static void access_log(struct http_conn *hc)
{
	bool known = hc->req.method && !hc->unread;
	struct server_client cl; /* a request refused before it was filled: the peer */
	const char *client = hc->req.client_addr;
	if (!client) {
		server__client_of(hc->s->proc, lws_get_socket_fd(hc->wsi), NULL, &cl);
		client = cl.addr;
	}
	server__metrics_http_response(hc->s, hc->resp.status, hc->body_bytes);
	server__access_log_http(hc->s->proc, client, known ? hc->req.method : NULL,
				known ? hc->req.path : NULL, hc->resp.status, hc->body_bytes,
				(double)(uv_now(hc->s->loop) - hc->started) / 1000.0);
}

static int process(struct http_conn *hc);

/* The response is out: the next request, or the end of the connection. */
static int response_done(struct http_conn *hc)
{
	access_log(hc);
	server__request_clear(&hc->req);
	http_response_clear(&hc->resp);
	http_response_init(&hc->resp);
	text_buf_free(&hc->out);
	hc->out_off = 0;
	if (hc->file_fd >= 0)
		close(hc->file_fd);
	hc->file_fd = -1;
	if (hc->close_after) {
		if (http1_error_status(hc->rd) == 0 && hc->in_off == hc->in.len)
			return -1; /* nothing unread: close now */
		/* Unread bytes may follow (a refused body, a broken stream):
		 * closing now could reset the connection before the client has
		 * read our answer. Stop writing, drop what comes, then close. */
		if (hc->peer_eof)
			return -1; /* nothing more can come */
		shutdown(lws_get_socket_fd(hc->wsi), SHUT_WR);
		hc->state = HC_LINGER;
		hc->in.len = hc->in_off = 0;
		hc_watch(hc, true);
		lws_set_timeout(hc->wsi, PENDING_TIMEOUT_CLOSE_SEND, LINGER_SECS);
		return 0;
	}
	http1_next(hc->rd);
	hc->started = 0;
	hc->head_only = hc->http10 = hc->unread = false;
	hc->state = HC_READ;
	lws_set_timeout(hc->wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE, hc->s->proc->cfg->http_timeout);
	if (!hc->peer_eof)
		hc_watch(hc, true);
	return process(hc);
}

static int on_writeable(struct http_conn *hc)
{
	static _Thread_local unsigned char chunk[LWS_PRE + OUT_CHUNK];
	if (hc->state == HC_DEAD)
		return -1;
	if (hc->state != HC_WRITE)
		return 0;
	if (hc->out_off < hc->out.len) {
		size_t n = hc->out.len - hc->out_off;
		if (n > OUT_CHUNK)
			n = OUT_CHUNK;
		if (lws_write(hc->wsi, (unsigned char *)hc->out.data + hc->out_off, n,
			      LWS_WRITE_RAW) < 0)
			return -1;
		hc->out_off += n;
	} else if (hc->file_fd >= 0 && hc->file_left > 0) {
		size_t n = hc->file_left > OUT_CHUNK ? OUT_CHUNK : (size_t)hc->file_left;
		ssize_t got = read(hc->file_fd, chunk + LWS_PRE, n);
		if (got <= 0)
			return -1; /* the file shrank: the length sent cannot be kept */
		if (lws_write(hc->wsi, chunk + LWS_PRE, (size_t)got, LWS_WRITE_RAW) < 0)
			return -1;
		hc->file_left -= got;
	}
	if (hc->out_off < hc->out.len || (hc->file_fd >= 0 && hc->file_left > 0) ||
	    lws_partial_buffered(hc->wsi)) {
		lws_callback_on_writable(hc->wsi);
		return 0;
	}
	return response_done(hc);
}

/* ---- reading requests ---- */

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

/* The connection becomes a WebSocket: ws_conn.c decides, and on success
 * owns the wsi from here; hc is freed. Returns what the callback returns. */
static int upgrade(struct http_conn *hc)
{
	bool trailing = hc->in_off < hc->in.len;
	int status = 0;
	hc_watch(hc, false); /* ws_conn.c watches the socket with its own pointer */
	const char *why = NULL;
	int rc = server__ws_handshake(hc->s, hc->wsi, &hc->req, trailing, &status, &why);
	server__metrics_handshake(hc->s, rc == 0 ? 101 : rc > 0 ? status : 0);
	if (rc == 0) {
		SERVER_METRIC_ADD(hc->s, http_conns_open, -1); /* a WebSocket from now on */
		server__request_clear(&hc->req);
		http1_free(hc->rd);
		text_buf_free(&hc->in);
		http_response_clear(&hc->resp);
		free(hc);
		return 0;
	}
	if (rc < 0)
		return -1;
	hc->close_after = true;
	return dispatch(hc, NULL, status, why, 0);
}

/* A whole request has been read: answer it. */
static int on_request(struct http_conn *hc)
{
	const struct http1_request *r = http1_request(hc->rd);
	struct server_worker *s = hc->s;
	hc->started = uv_now(s->loop);
	hc->head_only = strcmp(r->method, "HEAD") == 0;
	hc->http10 = r->minor == 0;
	if (!r->keep_alive)
		hc->close_after = true;
	int bad = request_fill(hc, r, &hc->req);
	if (bad) {
		server__request_clear(&hc->req);
		return bad == 500 ? -1 : refuse(hc, bad, "malformed request target");
	}
	const char *host = http_request_header(&hc->req, "host");
	if (!server__host_allowed(s, host)) {
		static struct log_limit lim = LOG_LIMIT_INIT(10);
		LOG_LIMITED(&lim, LOG_WARN, "http", "%s: Host '%s' is not in --allowed-hosts",
			    hc->req.client_addr, host ? host : "");
		return refuse(hc, 400, "Host not allowed.");
	}
	const char *up = http_request_header(&hc->req, "upgrade");
	if (up && http_token_list_has(up, "websocket"))
		return upgrade(hc);
	/* Any other upgrade (h2c...) is declined by answering in HTTP/1.1. */

	if (strncmp(hc->req.path, "/static/", 8) == 0) {
		if (method_bit(hc->req.method) != VIEW_GET)
			return dispatch(hc, NULL, 405, NULL, VIEW_GET);
		return serve_static(hc, hc->req.path + 8);
	}
	json_t *kwargs = NULL;
	const struct route *rt = router_match(s->proc->http_router, hc->req.path, &kwargs);
	if (!rt)
		return dispatch(hc, NULL, 404, NULL, 0);
	json_decref(hc->req.kwargs);
	hc->req.kwargs = kwargs;
	const struct view *view = rt->target;
	if (!(method_bit(hc->req.method) & view->methods))
		return dispatch(hc, view, 405, NULL, view->methods);
	return dispatch(hc, view, 0, NULL, 0);
}

/* Parses what is buffered, as long as no request is being answered. */
static int process(struct http_conn *hc)
{
	/* After a head, once more even with no bytes left: a request without
	 * a body ends right there. */
	bool after_head = false;
	while (hc->state == HC_READ && (hc->in_off < hc->in.len || after_head)) {
		after_head = false;
		size_t used = 0;
		int rc = http1_parse(hc->rd, hc->in.data + hc->in_off, hc->in.len - hc->in_off, &used);
		hc->in_off += used;
		if (rc == HTTP1_HEAD) {
			const struct http1_request *r = http1_request(hc->rd);
			const char *expect = NULL;
			for (size_t i = 0; i < r->n_headers; i++)
				if (strcmp(r->headers[i].name, "expect") == 0)
					expect = r->headers[i].value;
			if (expect && r->minor >= 1 && (r->content_length > 0 || r->chunked)) {
				if (strcasecmp(expect, "100-continue") != 0)
					return refuse(hc, 417, "unsupported expectation");
				static const char cont[LWS_PRE + 25] = "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
								       "HTTP/1.1 100 Continue\r\n\r\n";
				/* Small, and first on the socket: lws keeps what
				 * the kernel does not take. */
				if (lws_write(hc->wsi, (unsigned char *)cont + LWS_PRE, 25,
					      LWS_WRITE_RAW) < 0)
					return -1;
			}
			after_head = true;
			continue;
		}
		if (rc == HTTP1_DONE)
			return on_request(hc);
		if (rc == HTTP1_ERROR)
			return refuse(hc, http1_error_status(hc->rd), http1_error_reason(hc->rd));
	}
	if (hc->in_off == hc->in.len)
		hc->in.len = hc->in_off = 0;
	if (hc->state == HC_READ && hc->peer_eof)
		return -1; /* every whole request is answered; no more can come */
	return 0;
}

static int on_rx(struct http_conn *hc, const void *in, size_t len)
{
	if (hc->state == HC_LINGER)
		return 0;
	if (hc->in_off && hc->in_off == hc->in.len)
		hc->in.len = hc->in_off = 0;
	if (hc->in_off > IN_HOLD) { /* compact */
		memmove(hc->in.data, hc->in.data + hc->in_off, hc->in.len - hc->in_off);
		hc->in.len -= hc->in_off;
		hc->in_off = 0;
	}
	if (text_buf_append(&hc->in, in, len))
		return -1;
	if (hc->state == HC_READ)
		return process(hc) ? -1 : 0;
	if (hc->in.len - hc->in_off > IN_HOLD)
		hc_watch(hc, false); /* pipelined more than we hold: wait */
	return 0;
}

void server__http_readable(struct http_conn *hc)
{
	static _Thread_local char buf[64 * 1024];
	if (hc->state == HC_DEAD)
		return;
	ssize_t n = recv(lws_get_socket_fd(hc->wsi), buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n < 0 || (n == 0 && hc->state == HC_LINGER)) {
		hc_kill(hc);
		return;
	}
	if (n == 0) {
		hc->peer_eof = true;
		hc_watch(hc, false);
		if (hc->state == HC_READ && process(hc) != 0)
			hc_kill(hc);
		return;
	}
	if (on_rx(hc, buf, (size_t)n) != 0)
		hc_kill(hc);
}

/* ---- the callback ---- */

static void hc_free(struct http_conn *hc)
{
	SERVER_METRIC_ADD(hc->s, http_conns_open, -1);
	hc_watch(hc, false);
	if (hc->job)
		hc->job->hc = NULL; /* the job frees itself when the view returns */
	server__request_clear(&hc->req);
	http_response_clear(&hc->resp);
	text_buf_free(&hc->out);
	text_buf_free(&hc->in);
	http1_free(hc->rd);
	if (hc->file_fd >= 0)
		close(hc->file_fd);
	free(hc);
}

static int on_adopt(struct server_worker *s, struct lws *wsi)
{
	const struct server_config *cfg = s->proc->cfg;
	struct http1_limits lim = {
		.max_target = 8192,
		.max_head = cfg->max_header_size,
		.max_headers = 100,
		.max_body = cfg->max_body_size,
	};
	struct http_conn *hc = calloc(1, sizeof(*hc));
	if (!hc)
		return -1;
	hc->kind = CONN_HTTP;
	hc->s = s;
	hc->wsi = wsi;
	hc->file_fd = -1;
	SERVER_METRIC_INC(s, http_conns_total);
	SERVER_METRIC_INC(s, http_conns_open); /* until hc_free() or the upgrade */
	hc->rd = http1_new(&lim);
	http_response_init(&hc->resp);
	if (!hc->rd) {
		hc_free(hc);
		return -1;
	}
	lws_set_opaque_user_data(wsi, hc);
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE, cfg->http_timeout);
	lws_rx_flow_control(wsi, 0); /* we read it: see "reading" */
	hc_watch(hc, true);
	if (!hc->reading)
		return -1;
	return 0;
}

int server__http_callback(struct server_worker *s, struct lws *wsi, enum lws_callback_reasons reason,
			  void *in, size_t len)
{
	struct http_conn *hc = lws_get_opaque_user_data(wsi);
	if (hc && hc->kind != CONN_HTTP)
		hc = NULL;

	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		return on_adopt(s, wsi);
	case LWS_CALLBACK_RAW_RX:
		return hc ? on_rx(hc, in, len) : -1;
	case LWS_CALLBACK_RAW_WRITEABLE:
		return hc ? on_writeable(hc) : 0;
	case LWS_CALLBACK_RAW_CLOSE:
		if (hc) {
			lws_set_opaque_user_data(wsi, NULL);
			hc_free(hc);
		}
		return 0;
	default:
		return 0;
	}
}
