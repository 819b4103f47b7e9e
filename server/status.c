/*
 * status.c - the live status page: GET /status/ (templates/status.html,
 * drawn by static/js/status.js on canvases of its own) and its WebSocket
 * /status/ws/, whose consumer sends the server's totals
 * (server__metrics_snapshot()) once a second, the first at once.
 *
 * Both are the server's own routes, present when the metrics are
 * (--metrics-path not off), and admit whom the metrics admit: loopback
 * clients, or a client whose query string carries token=<--metrics-token>
 * (a browser cannot send an Authorization header on a WebSocket); others
 * get 403 (the handshake is rejected by the consumer).
 */
#include <string.h>

#include "server_int.h"

#define STATUS_INTERVAL_MS 1000

/* The process whose totals the consumers send: set by
 * server__status_routes() on the main thread before any worker starts
 * (so before any consumer exists), read-only from then on. */
static struct server_process *status_proc;

/* The value of `token` in a raw query string, into `out` (no decoding:
 * tokens are plain characters). */
static const char *query_token(const char *qs, char *out, size_t len)
{
	for (const char *p = qs; p && *p;) {
		size_t n = strcspn(p, "&");
		if (n > 6 && strncmp(p, "token=", 6) == 0 && n - 6 < len) {
			memcpy(out, p + 6, n - 6);
			out[n - 6] = '\0';
			return out;
		}
		p += n + (p[n] == '&');
	}
	return NULL;
}

static void status_tick(struct consumer *c, void *arg)
{
	(void)arg;
	json_t *snap = server__metrics_snapshot(status_proc);
	if (snap)
		consumer_send_json(c, snap);
	json_decref(snap);
}

static void status_connect(struct consumer *c)
{
	char tok[128];
	/* The handshake's request is gone: local is the scope's address, and no
	 * proxy's forwarding header (as server__client_is_local() reads it). */
	bool local = server__is_loopback(consumer_scope_client_addr(c)) &&
		     !consumer_scope_header(c, "x-forwarded-for") &&
		     !consumer_scope_header(c, "forwarded") && !consumer_scope_header(c, "x-real-ip");
	if (!server__metrics_allowed(status_proc, local,
				     query_token(consumer_scope_query_string(c), tok, sizeof(tok)))) {
		consumer_close(c, CLOSE_POLICY, "loopback clients or the --metrics-token only");
		return;
	}
	consumer_accept(c, NULL);
	consumer_timer_start(c, 0, STATUS_INTERVAL_MS, status_tick, NULL);
}

static const struct consumer_class status_consumer = {
	.name = "StatusConsumer",
	.json = true,
	.on_connect = status_connect,
};

static void status_page(struct http_request *req, struct http_response *resp)
{
	struct server_worker *w = req->app;
	char tok[128];
	if (!server__metrics_allowed(w->proc, server__client_is_local(req),
				     query_token(req->query_string, tok, sizeof(tok)))) {
		resp->status = 403;
		resp->content_type = "text/plain; charset=utf-8";
		text_buf_printf(&resp->body, "status: loopback clients or ?token=<--metrics-token> only\n");
		return;
	}
	json_t *ctx = json_pack("{s:i,s:i}", "interval_ms", STATUS_INTERVAL_MS, "workers",
				(int)w->proc->n_workers);
	server_render(req, resp, "status.html", ctx);
}

static const struct view status_view = {"status", status_page, VIEW_GET, false};

void server__status_routes(struct server_process *p, struct route *http, size_t *n_http,
			   struct route *ws, size_t *n_ws)
{
	status_proc = p;
	*n_http = *n_ws = 0;
	if (!p->cfg->metrics_path || !strcmp(p->cfg->metrics_path, "off"))
		return;
	http[(*n_http)++] = (struct route)PATH("status/", &status_view);
	ws[(*n_ws)++] = (struct route)PATH("status/ws/", &status_consumer);
}
