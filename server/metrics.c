/*
 * metrics.c - what the server says about itself: /metrics (the Prometheus
 * text exposition format, version 0.0.4), /healthz (alive) and /readyz
 * (the layer can publish), all three the server's own routes, placed
 * before the apps'; and each worker's metrics timer, which measures the
 * loop's lateness and copies the layer's counters where a scrape on
 * another thread may read them.
 *
 * Cost. The message path adds one SERVER_METRIC_ADD per counter it moves
 * (server_int.h: a load, an add and a store in the worker's own struct; no
 * atomic read-modify-write, no shared line). The timer runs every
 * SERVER_METRICS_TICK_MS per worker (layer_get_stats(): a copy of a few
 * words). A scrape reads every worker's counters (relaxed loads) on a pool
 * thread and formats ~120 lines: nothing on any loop.
 *
 * Who may read /metrics: local clients (server__client_is_local(): loopback
 * or the unix socket, and not forwarded by a proxy, so a local nginx does
 * not make every visitor local), and anyone sending "Authorization: Bearer
 * <--metrics-token>". Others get 403.
 * /healthz and /readyz answer everybody: they say nothing but ok / why not.
 */
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "server_int.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

bool server__is_loopback(const char *addr)
{
	struct in6_addr a6;
	struct in_addr a4;
	if (!addr)
		return false;
	if (strncmp(addr, "::ffff:", 7) == 0)
		addr += 7;
	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

/* ---- counting (loop thread) ---- */

static const int hs_status[SM_HS_N - 1] = {101, 400, 403, 404, 426, 500, 503};
static const int close_code[SM_CLOSE_N - 1] = {1000, 1001, 1002, 1003, 1006,
					       1007, 1008, 1009, 1011, 1013};

void server__metrics_http_response(struct server_worker *w, int status, size_t body_bytes)
{
	int cls = status >= 100 && status < 600 ? status / 100 : 0;
	SERVER_METRIC_INC(w, http_responses[cls]);
	SERVER_METRIC_ADD(w, http_bytes_out, body_bytes);
}

void server__metrics_handshake(struct server_worker *w, int status)
{
	int i = 0;
	while (i < SM_HS_N - 1 && hs_status[i] != status)
		i++;
	SERVER_METRIC_INC(w, ws_handshakes[i]);
}

void server__metrics_ws_close(struct server_worker *w, int code)
{
	int i = 0;
	while (i < SM_CLOSE_N - 1 && close_code[i] != code)
		i++;
	SERVER_METRIC_INC(w, ws_closes[i]);
}

/* ---- the timer: loop lag and the layer's snapshot ---- */

static void snapshot(struct server_worker *w)
{
	struct layer_stats st = {0};
	layer_get_stats(w->layer, &st);
	STORE(w->metrics.layer_sent, st.sent);
	STORE(w->metrics.layer_delivered, st.delivered);
	STORE(w->metrics.layer_dropped, st.dropped);
	STORE(w->metrics.layer_errors, st.errors);
	STORE(w->metrics.layer_groups, st.groups);
	STORE(w->metrics.layer_members, st.members);
	STORE(w->metrics.layer_receivers, st.receivers);
	if (w->index == 0) /* the worker holding the Redis connections, if any */
		atomic_store(&w->proc->layer_health, (int)layer_health(w->layer));
}

/* One-shot, re-armed each time: how late it fires is the loop's lag. */
static void on_metrics_tick(uv_timer_t *t)
{
	struct server_worker *w = t->data;
	uint64_t now = uv_hrtime();
	unsigned long long lag = now > w->metrics_due ? (now - w->metrics_due) / 1000 : 0;
	STORE(w->metrics.loop_lag_us, lag);
	if (lag > LOAD(w->metrics.loop_lag_max_us))
		STORE(w->metrics.loop_lag_max_us, lag);
	snapshot(w);
	w->metrics_due = uv_hrtime() + SERVER_METRICS_TICK_MS * 1000000ull;
	uv_timer_start(t, on_metrics_tick, SERVER_METRICS_TICK_MS, 0);
}

void server__metrics_start(struct server_worker *w)
{
	uv_timer_init(w->loop, &w->metrics_timer);
	w->metrics_timer.data = w;
	snapshot(w);
	uv_update_time(w->loop);
	w->metrics_due = uv_hrtime() + SERVER_METRICS_TICK_MS * 1000000ull;
	uv_timer_start(&w->metrics_timer, on_metrics_tick, SERVER_METRICS_TICK_MS, 0);
	uv_unref((uv_handle_t *)&w->metrics_timer);
}

void server__metrics_stop(struct server_worker *w)
{
	uv_close((uv_handle_t *)&w->metrics_timer, NULL);
}

/* ---- the exposition (pool thread) ---- */

/* A label value as the format wants it: \\, \" and \n escaped. */
static void label_value(struct text_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			text_buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			text_buf_append(b, "\\n", 2);
		else
			text_buf_append(b, v, 1);
	}
}

static void head(struct text_buf *b, const char *name, const char *type, const char *help)
{
	text_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static unsigned long long sum_at(const struct server_process *p, size_t off)
{
	unsigned long long sum = 0;
	for (unsigned i = 0; i < p->n_workers; i++) {
		const char *m = (const char *)&p->workers[i].metrics;
		sum += atomic_load_explicit((_Atomic unsigned long long *)(m + off),
					    memory_order_relaxed);
	}
	return sum;
}

#define MOFF(field) offsetof(struct server_metrics, field)

static void one(struct text_buf *b, const struct server_process *p, const char *name,
		const char *type, const char *help, size_t off)
{
	head(b, name, type, help);
	text_buf_printf(b, "%s %llu\n", name, sum_at(p, off));
}

static void connections(struct text_buf *b, const struct server_process *p)
{
	one(b, p, "channels_http_connections_total", "counter",
	    "TCP connections accepted (HTTP first; WebSockets begin as one)",
	    MOFF(http_conns_total));
	one(b, p, "channels_http_connections_open", "gauge",
	    "open connections still speaking HTTP", MOFF(http_conns_open));
	head(b, "channels_http_responses_total", "counter", "HTTP responses by status class");
	for (int c = 1; c <= 5; c++)
		text_buf_printf(b, "channels_http_responses_total{code=\"%dxx\"} %llu\n", c,
				sum_at(p, MOFF(http_responses[c])));
	one(b, p, "channels_http_response_bytes_total", "counter", "HTTP response body bytes",
	    MOFF(http_bytes_out));
	head(b, "channels_ws_handshakes_total", "counter",
	     "WebSocket handshakes by outcome: 101, or the refusal status");
	for (int i = 0; i < SM_HS_N; i++) {
		char st[16];
		snprintf(st, sizeof(st), "%d", hs_status[i < SM_HS_N - 1 ? i : 0]);
		text_buf_printf(b, "channels_ws_handshakes_total{status=\"%s\"} %llu\n",
				i < SM_HS_N - 1 ? st : "other", sum_at(p, MOFF(ws_handshakes[i])));
	}
	one(b, p, "channels_ws_connections_total", "counter", "WebSockets accepted (101)",
	    MOFF(ws_handshakes[SM_HS_101]));
	one(b, p, "channels_ws_connections_open", "gauge", "open WebSockets (handshaking or established)",
	    MOFF(ws_open));
}

static void messages(struct text_buf *b, const struct server_process *p)
{
	one(b, p, "channels_ws_messages_received_total", "counter",
	    "WebSocket messages from clients", MOFF(ws_msgs_in));
	one(b, p, "channels_ws_received_bytes_total", "counter",
	    "payload bytes of WebSocket messages from clients", MOFF(ws_bytes_in));
	one(b, p, "channels_ws_messages_sent_total", "counter",
	    "WebSocket messages queued to clients (one per member of a broadcast)",
	    MOFF(ws_msgs_out));
	one(b, p, "channels_ws_sent_bytes_total", "counter",
	    "payload bytes of WebSocket messages queued to clients", MOFF(ws_bytes_out));
	head(b, "channels_ws_closes_total", "counter", "WebSockets ended, by close code");
	for (int i = 0; i < SM_CLOSE_N; i++) {
		char code[16];
		snprintf(code, sizeof(code), "%d", close_code[i < SM_CLOSE_N - 1 ? i : 0]);
		text_buf_printf(b, "channels_ws_closes_total{code=\"%s\"} %llu\n",
				i < SM_CLOSE_N - 1 ? code : "other", sum_at(p, MOFF(ws_closes[i])));
	}
	one(b, p, "channels_ws_rate_limited_total", "counter",
	    "WebSockets closed 1008 for going over --rate-limit", MOFF(ws_rate_limited));
	one(b, p, "channels_ws_slow_consumer_closes_total", "counter",
	    "WebSockets closed 1013 for a send queue over --max-queue",
	    MOFF(ws_closes[SM_CLOSE_1013]));
	one(b, p, "channels_ws_send_refused_total", "counter",
	    "messages not queued to a client because its queue was full (it is then closed 1013)",
	    MOFF(ws_send_refused));
}

static void per_worker(struct text_buf *b, const struct server_process *p, const char *name,
		       const char *type, const char *help, size_t off, bool backend, double scale)
{
	head(b, name, type, help);
	for (unsigned i = 0; i < p->n_workers; i++) {
		const struct server_worker *w = &p->workers[i];
		const char *m = (const char *)&w->metrics;
		unsigned long long v = atomic_load_explicit(
		    (_Atomic unsigned long long *)(m + off), memory_order_relaxed);
		text_buf_printf(b, "%s{worker=\"%u\"", name, i);
		if (backend) {
			text_buf_append(b, ",backend=\"", 10);
			label_value(b, layer_backend_name(w->layer));
			text_buf_append(b, "\"", 1);
		}
		if (scale != 1.0)
			text_buf_printf(b, "} %.6f\n", (double)v * scale);
		else
			text_buf_printf(b, "} %llu\n", v);
	}
}

static void layer(struct text_buf *b, const struct server_process *p)
{
	per_worker(b, p, "channels_layer_publishes_total", "counter",
		   "messages accepted by the layer's send and group_send", MOFF(layer_sent), true, 1);
	per_worker(b, p, "channels_layer_receives_total", "counter",
		   "messages handed to local receivers", MOFF(layer_delivered), true, 1);
	per_worker(b, p, "channels_layer_errors_total", "counter",
		   "sends refused by the layer (not published beyond this process, full channel)",
		   MOFF(layer_errors), true, 1);
	per_worker(b, p, "channels_layer_dropped_total", "counter",
		   "messages dropped by the layer (expired, channel full, no receiver)",
		   MOFF(layer_dropped), true, 1);
	per_worker(b, p, "channels_layer_groups", "gauge", "groups with local members",
		   MOFF(layer_groups), true, 1);
	per_worker(b, p, "channels_layer_members", "gauge",
		   "group memberships of local channels", MOFF(layer_members), true, 1);
	per_worker(b, p, "channels_layer_receivers", "gauge",
		   "local receivers (one per consumer)", MOFF(layer_receivers), true, 1);
	int h = atomic_load(&p->layer_health);
	head(b, "channels_layer_state", "gauge",
	     "1 for the layer's state: up, down or stalled (memory: always up)");
	static const char *const names[] = {"up", "down", "stalled"};
	for (int i = 0; i < 3; i++)
		text_buf_printf(b, "channels_layer_state{state=\"%s\"} %d\n", names[i], h == i);
	head(b, "channels_redis_up", "gauge",
	     "1 when every Redis shard can publish (absent without --redis)");
	if (p->cfg->redis && *p->cfg->redis)
		text_buf_printf(b, "channels_redis_up %d\n", h == LAYER_UP);
}

static void runtime(struct text_buf *b, const struct server_process *p)
{
	per_worker(b, p, "channels_loop_lag_seconds", "gauge",
		   "how late the worker's 250 ms timer last fired", MOFF(loop_lag_us), false, 1e-6);
	per_worker(b, p, "channels_loop_lag_max_seconds", "gauge",
		   "the largest loop lag seen since the start", MOFF(loop_lag_max_us), false, 1e-6);
	head(b, "channels_view_queue_depth", "gauge", "view jobs waiting for a pool thread");
	text_buf_printf(b, "channels_view_queue_depth %d\n", atomic_load(&p->views_queued));
	head(b, "channels_views_running", "gauge", "view jobs running on a pool thread");
	text_buf_printf(b, "channels_views_running %d\n", atomic_load(&p->views_running));
	head(b, "channels_workers", "gauge", "event-loop threads");
	text_buf_printf(b, "channels_workers %u\n", p->n_workers);
	head(b, "channels_access_log_dropped_total", "counter",
	     "access log lines dropped because the writer fell 4 MiB behind");
	text_buf_printf(b, "channels_access_log_dropped_total %llu\n",
			server__access_log_dropped(p));
}

json_t *server__metrics_snapshot(const struct server_process *p)
{
	unsigned long long http = 0, refused = 0, lag_us = 0;
	for (int c = 0; c < 6; c++)
		http += sum_at(p, MOFF(http_responses[c]));
	for (int i = SM_HS_101 + 1; i < SM_HS_N; i++)
		refused += sum_at(p, MOFF(ws_handshakes[i]));
	for (unsigned i = 0; i < p->n_workers; i++) {
		unsigned long long v = LOAD(p->workers[i].metrics.loop_lag_us);
		lag_us = v > lag_us ? v : lag_us;
	}
	static const char *const states[] = {"up", "down", "stalled"};
	int h = atomic_load(&p->layer_health);
	return json_pack(
	    "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:i,s:i,s:i,s:s}",
	    "http_responses", (json_int_t)http, "http_connections_open",
	    (json_int_t)sum_at(p, MOFF(http_conns_open)), "ws_open",
	    (json_int_t)sum_at(p, MOFF(ws_open)), "ws_accepted",
	    (json_int_t)sum_at(p, MOFF(ws_handshakes[SM_HS_101])), "ws_refused", (json_int_t)refused,
	    "ws_messages_in", (json_int_t)sum_at(p, MOFF(ws_msgs_in)), "ws_messages_out",
	    (json_int_t)sum_at(p, MOFF(ws_msgs_out)), "ws_bytes_in",
	    (json_int_t)sum_at(p, MOFF(ws_bytes_in)), "ws_bytes_out",
	    (json_int_t)sum_at(p, MOFF(ws_bytes_out)), "closes_1008",
	    (json_int_t)sum_at(p, MOFF(ws_closes[SM_CLOSE_1008])), "closes_1013",
	    (json_int_t)sum_at(p, MOFF(ws_closes[SM_CLOSE_1013])), "layer_dropped",
	    (json_int_t)sum_at(p, MOFF(layer_dropped)), "loop_lag_ms", (double)lag_us / 1000.0,
	    "view_queue", atomic_load(&p->views_queued), "views_running",
	    atomic_load(&p->views_running), "workers", (int)p->n_workers, "layer",
	    states[h >= 0 && h < 3 ? h : 1]);
}

bool server__metrics_allowed(const struct server_process *p, bool local, const char *token)
{
	const char *tok = p->cfg->metrics_token;
	if (tok && *tok && token && strlen(token) == strlen(tok) &&
	    CRYPTO_memcmp(token, tok, strlen(tok)) == 0)
		return true;
	return local;
}

static void text(struct http_response *resp, int status, const char *body)
{
	resp->status = status;
	resp->content_type = "text/plain; charset=utf-8";
	text_buf_append(&resp->body, body, strlen(body));
}

static bool metrics_allowed(const struct http_request *req, const struct server_process *p)
{
	const char *auth = http_request_header(req, "authorization");
	return server__metrics_allowed(p, server__client_is_local(req),
				       auth && strncmp(auth, "Bearer ", 7) == 0 ? auth + 7 : NULL);
}

static void metrics_view(struct http_request *req, struct http_response *resp)
{
	struct server_worker *w = req->app;
	const struct server_process *p = w->proc;
	if (!metrics_allowed(req, p)) {
		static struct log_limit lim = LOG_LIMIT_INIT(10);
		LOG_LIMITED(&lim, LOG_INFO, "metrics", "refused %s: not loopback, no --metrics-token",
			    req->client_addr);
		text(resp, 403, "metrics: loopback clients or the --metrics-token only\n");
		return;
	}
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	struct text_buf *b = &resp->body;
	connections(b, p);
	messages(b, p);
	layer(b, p);
	runtime(b, p);
}

static void healthz_view(struct http_request *req, struct http_response *resp)
{
	(void)req;
	text(resp, 200, "ok\n");
}

static void readyz_view(struct http_request *req, struct http_response *resp)
{
	struct server_worker *w = req->app;
	int h = atomic_load(&w->proc->layer_health);
	if (h == LAYER_DOWN)
		text(resp, 503, "layer down: Redis is unreachable\n");
	else if (h == LAYER_STALLED)
		text(resp, 503, "layer stalled: Redis does not answer (or refuses commands)\n");
	else
		text(resp, 200, "ok\n");
}

static const struct view metrics_v = {"metrics", metrics_view, VIEW_GET, false};
static const struct view healthz_v = {"healthz", healthz_view, VIEW_GET, false};
static const struct view readyz_v = {"readyz", readyz_view, VIEW_GET, false};

size_t server__obs_routes(const struct server_config *cfg, struct route *out)
{
	size_t n = 0;
	out[n++] = (struct route)PATH("healthz", &healthz_v);
	out[n++] = (struct route)PATH("readyz", &readyz_v);
	if (cfg->metrics_path && strcmp(cfg->metrics_path, "off") != 0)
		out[n++] = (struct route)PATH(cfg->metrics_path + 1, &metrics_v);
	return n;
}
