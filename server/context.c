/*
 * context.c - the one file that creates the libwebsockets context on the
 * libuv loop, the protocol callback (one switch over the reasons), signal
 * handling and the graceful stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "server_int.h"

struct server *server__current;

static int on_lws_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len)
{
	struct server *s = server__current;
	(void)user;
	if (!s)
		return lws_callback_http_dummy(wsi, reason, user, in, len);

	switch (reason) {
	case LWS_CALLBACK_HTTP:
	case LWS_CALLBACK_HTTP_BODY:
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
	case LWS_CALLBACK_HTTP_WRITEABLE:
	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		return server__http_callback(s, wsi, reason, in, len);

	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
	case LWS_CALLBACK_ESTABLISHED:
	case LWS_CALLBACK_RECEIVE:
	case LWS_CALLBACK_SERVER_WRITEABLE:
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
	case LWS_CALLBACK_CLOSED:
		return server__ws_callback(s, wsi, reason, in, len);

	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

/* Protocols: [0] serves HTTP and subprotocol-less WebSockets; then one per
 * distinct subprotocol a routed consumer class declares (lws picks among
 * registered names); then the terminator. */
static struct lws_protocols *build_protocols(const struct server_app *app)
{
	size_t max = 2;
	for (size_t i = 0; i < app->n_ws_routes; i++) {
		const struct consumer_class *cls = app->ws_routes[i].target;
		for (const char *const *p = cls->subprotocols; p && *p; p++)
			max++;
	}
	struct lws_protocols *pr = calloc(max, sizeof(*pr));
	if (!pr)
		return NULL;
	size_t n = 0;
	pr[n].name = "channels";
	pr[n].callback = on_lws_event;
	pr[n].rx_buffer_size = 1024;
	n++;
	for (size_t i = 0; i < app->n_ws_routes; i++) {
		const struct consumer_class *cls = app->ws_routes[i].target;
		for (const char *const *p = cls->subprotocols; p && *p; p++) {
			bool dup = false;
			for (size_t k = 0; k < n; k++)
				dup = dup || strcmp(pr[k].name, *p) == 0;
			if (dup)
				continue;
			pr[n] = pr[0];
			pr[n].name = *p;
			n++;
		}
	}
	return pr;
}

static void begin_stop(struct server *s, const char *why);

static void on_signal(uv_signal_t *h, int signum)
{
	struct server *s = h->data;
	begin_stop(s, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

static void finish_stop(struct server *s)
{
	if (!s->lws || s->destroying)
		return;
	s->destroying = true;
	LOG(LOG_INFO, "server", "stopped");
	uv_signal_stop(&s->sig_int);
	uv_signal_stop(&s->sig_term);
	uv_close((uv_handle_t *)&s->sig_int, NULL);
	uv_close((uv_handle_t *)&s->sig_term, NULL);
	uv_close((uv_handle_t *)&s->shutdown_timer, NULL);
	/* With a foreign loop the context is freed in steps as its uv handles
	 * close; lws clears s->lws (info.pcontext) when it is gone. */
	lws_context_destroy(s->lws);
}

static void on_shutdown_tick(uv_timer_t *t)
{
	struct server *s = t->data;
	/* Wait until every WebSocket has finished its closing handshake, or 3 s. */
	if (s->n_ws == 0 || ++s->shutdown_ticks > 60)
		finish_stop(s);
}

static void begin_stop(struct server *s, const char *why)
{
	if (s->stopping) {
		LOG(LOG_WARN, "server", "%s again: stopping now", why);
		finish_stop(s);
		return;
	}
	s->stopping = true;
	LOG(LOG_INFO, "server", "%s: closing %u WebSocket(s) with 1001 and stopping", why, s->n_ws);
	server__ws_close_all(s, CLOSE_GOING_AWAY, "server shutdown");
	uv_timer_start(&s->shutdown_timer, on_shutdown_tick, 0, 50);
}

/* Splits --redis at commas into the layer's shard list. */
static struct layer *make_layer(struct server *s, uv_loop_t *loop)
{
	struct layer_config lcfg;
	layer_config_init(&lcfg);
	lcfg.prefix = s->cfg->layer_prefix;
	if (!s->cfg->redis || !*s->cfg->redis)
		return layer_memory_new(loop, &lcfg);

	char *copy = strdup(s->cfg->redis);
	const char *urls[64];
	size_t n = 0;
	for (char *save = NULL, *tok = strtok_r(copy, ", ", &save); tok && n < 64;
	     tok = strtok_r(NULL, ", ", &save))
		urls[n++] = tok;
	struct layer_redis_config rcfg = {
		.urls = urls,
		.n_urls = n,
		.format = (enum layer_wire_format)s->cfg->redis_format,
	};
	char err[256] = "";
	struct layer *l = layer_redis_new(loop, &lcfg, &rcfg, err, sizeof(err));
	if (!l)
		LOG(LOG_ERROR, "server", "--redis: %s", err[0] ? err : "cannot create the layer");
	free(copy);
	return l;
}

static int load_secret(struct server *s)
{
	const char *key = s->cfg->secret_key;
	if (key && *key) {
		size_t n = strlen(key);
		if (n < 16) {
			LOG(LOG_ERROR, "server", "--secret-key must be at least 16 characters");
			return -1;
		}
		if (n > sizeof(s->secret))
			n = sizeof(s->secret); /* HMAC keys longer than a block are hashed anyway */
		memcpy(s->secret, key, n);
		s->secret_len = n;
		return 0;
	}
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t got = fd >= 0 ? read(fd, s->secret, 32) : -1;
	if (fd >= 0)
		close(fd);
	if (got != 32)
		return -1;
	s->secret_len = 32;
	LOG(LOG_WARN, "server", "no --secret-key (CHANNELS_SECRET_KEY): sessions are signed with a "
				"random key and end when the server restarts");
	return 0;
}

static void write_port_file(const char *path, int port)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%d\n", port);
	fclose(f);
	rename(tmp, path);
}

int server_run(const struct server_config *cfg, const struct server_app *app)
{
	struct server srv;
	struct server *s = &srv;
	uv_loop_t loop;
	char err[256];
	int rc = -1;

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->app = app;
	s->loop = &loop;
	log_set_level(cfg->log_level);
	server__settings_set(cfg->settings);
	log_route_lws();
	signal(SIGPIPE, SIG_IGN);

	if (uv_loop_init(&loop) != 0)
		return -1;
	if (load_secret(s) != 0)
		goto out_loop;
	if (!realpath(cfg->static_dir, s->static_root)) {
		LOG(LOG_ERROR, "server", "static dir %s: %s", cfg->static_dir, strerror(errno));
		goto out_loop;
	}
	/* The server's own routes (the publish endpoint) come before the app's. */
	size_t n_own = cfg->publish_endpoint ? 2 : 0;
	s->http_routes = calloc(n_own + app->n_http_routes + 1, sizeof(*s->http_routes));
	if (!s->http_routes)
		goto out_loop;
	for (size_t i = 0; i < n_own; i++)
		s->http_routes[i] = server__publish_routes[i];
	for (size_t i = 0; i < app->n_http_routes; i++)
		s->http_routes[n_own + i] = app->http_routes[i];
	if (router_new(s->http_routes, n_own + app->n_http_routes, &s->http_router, err,
		       sizeof(err)) ||
	    router_new(app->ws_routes, app->n_ws_routes, &s->ws_router, err, sizeof(err))) {
		LOG(LOG_ERROR, "server", "routes: %s", err);
		goto out_routers;
	}
	s->tmpl = tmpl_env_new_dir(cfg->templates_dir, "/static/");
	s->layer = make_layer(s, &loop);
	s->protocols = build_protocols(app);
	if (!s->tmpl || !s->layer || !s->protocols)
		goto out_all;
	server__current = s;

	void *foreign[1] = {&loop};
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = cfg->port;
	info.iface = cfg->host;
	info.protocols = s->protocols;
	info.foreign_loops = foreign;
	info.pcontext = &s->lws;
	/* Security headers are ours (http_conn.c), not lws' best-practice set. */
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.timeout_secs = 30;
	info.keepalive_timeout = 30;
	info.max_http_header_data = 8192;
	info.fd_limit_per_thread = 0;
	s->lws = lws_create_context(&info);
	if (!s->lws) {
		LOG(LOG_ERROR, "server", "cannot listen on %s:%d", cfg->host, cfg->port);
		goto out_all;
	}
	s->port = lws_get_vhost_listen_port(lws_get_vhost_by_name(s->lws, "default"));
	if (s->port <= 0)
		s->port = cfg->port;

	if (cfg->publish_endpoint && server__publish_start(s) != 0)
		goto out_all;

	uv_signal_init(&loop, &s->sig_int);
	uv_signal_init(&loop, &s->sig_term);
	uv_timer_init(&loop, &s->shutdown_timer);
	s->sig_int.data = s->sig_term.data = s->shutdown_timer.data = s;
	uv_signal_start(&s->sig_int, on_signal, SIGINT);
	uv_signal_start(&s->sig_term, on_signal, SIGTERM);

	LOG(LOG_INFO, "server", "channels-server %s listening on http://%s:%d/ (layer: %s%s%s)",
	    CHANNELS_VERSION, cfg->host, s->port, layer_backend_name(s->layer),
	    cfg->redis ? " " : "", cfg->redis ? cfg->redis : "");
	if (cfg->port_file)
		write_port_file(cfg->port_file, s->port);

	uv_run(&loop, UV_RUN_DEFAULT);
	rc = 0;

out_all:
	/* A context whose first destroy step ran is finished by a second call
	 * once the loop has closed its handles (lws' foreign-loop protocol). */
	for (int i = 0; s->lws && i < 3; i++) {
		lws_context_destroy(s->lws);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	if (s->layer)
		layer_free(s->layer);
	uv_run(&loop, UV_RUN_DEFAULT);
	server__current = NULL;
	server__publish_stop(s);
	tmpl_env_free(s->tmpl);
	free(s->protocols);
out_routers:
	router_free(s->http_router);
	router_free(s->ws_router);
	free(s->http_routes);
out_loop:
	if (uv_loop_close(&loop) != 0)
		LOG(LOG_WARN, "server", "loop closed with handles still open");
	return rc;
}
