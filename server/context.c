/*
 * context.c - the one file that creates the libwebsockets context on the
 * libuv loop, the protocol callback (one switch over the reasons), signal
 * handling and the graceful stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "server_int.h"

/* Every connection is an lws raw socket: http_conn.c reads HTTP/1.1 on it
 * and hands a WebSocket handshake to ws_conn.c, which then owns it (the
 * wsi's opaque user data says which of the two it is). */
static int on_lws_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len)
{
	struct lws_context *ctx = lws_get_context(wsi);
	struct server_worker *s = ctx ? lws_context_user(ctx) : NULL;
	(void)user;
	if (!s)
		return 0;

	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		return server__http_callback(s, wsi, reason, in, len);
	case LWS_CALLBACK_RAW_RX:
	case LWS_CALLBACK_RAW_WRITEABLE:
	case LWS_CALLBACK_RAW_CLOSE: {
		const enum conn_kind *k = lws_get_opaque_user_data(wsi);
		if (k && *k == CONN_WS)
			return server__ws_callback(s, wsi, reason, in, len);
		return server__http_callback(s, wsi, reason, in, len);
	}
	default:
		return 0;
	}
}

static struct lws_protocols *build_protocols(void)
{
	struct lws_protocols *pr = calloc(2, sizeof(*pr));
	if (!pr)
		return NULL;
	pr[0].name = "channels";
	pr[0].callback = on_lws_event;
	/* lws reads raw sockets into its per-thread buffer (pt_serv_buf_size),
	 * and established WebSockets not at all (ws_conn.c reads them). */
	pr[0].rx_buffer_size = 0;
	/* Without this lws sends at most one buffer's worth per send() and
	 * buffers the rest: our coalesced batches must leave in one call. */
	pr[0].tx_packet_size = 64 * 1024 + 64;
	return pr;
}

static void begin_stop(struct server_worker *s, const char *why);

static void on_signal(uv_signal_t *h, int signum)
{
	struct server_worker *s = h->data;
	if (signum == SIGHUP) {
		/* Never exits. Config reload comes later. */
		server__access_log_reopen(s->proc);
		LOG(LOG_INFO, "server", "SIGHUP: reload (the --access-log file is reopened; nothing "
					"else is reloadable yet); still serving");
		return;
	}
	begin_stop(s, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* After its handle closes libuv restores SIGHUP's default action (exit):
 * ignore it for the rest of the process's life instead. */
static void on_sighup_closed(uv_handle_t *h)
{
	(void)h;
	signal(SIGHUP, SIG_IGN);
}

/* Another worker (worker 0, which owns the signals) asks this one to stop. */
static void on_stop_async(uv_async_t *a)
{
	struct server_worker *s = a->data;
	begin_stop(s, "stop");
}

static void on_listen_readable(uv_poll_t *h, int status, int events);

static void on_accept_resume(uv_timer_t *t)
{
	struct server_worker *w = t->data;
	if (!w->stopping)
		uv_poll_start(&w->listen_poll, UV_READABLE, on_listen_readable);
}

/*
 * accept() failed for a reason that lasts (out of descriptors, of kernel
 * memory): the listener stays readable, so polling it again would spin at
 * 100% CPU and log each turn. As nginx does, stop polling it for a pause
 * (100 ms, doubling to 1 s while the shortage lasts), then try again; the
 * clients meanwhile wait in the kernel's backlog and are served once
 * descriptors are free. One log line per 10 s over all workers. No reserve
 * descriptor to accept-and-close with: a client would get an error for a
 * shortage that may last less than its own patience.
 */
static void accept_pause(struct server_worker *w, int err)
{
	static struct log_limit lim = LOG_LIMIT_INIT(10);
	w->accept_pause_ms = w->accept_pause_ms ? w->accept_pause_ms * 2 : 100;
	if (w->accept_pause_ms > 1000)
		w->accept_pause_ms = 1000;
	LOG_LIMITED(&lim, LOG_WARN, "server",
		    "accept: %s: not accepting new connections for %u ms%s", strerror(err),
		    w->accept_pause_ms,
		    err == EMFILE || err == ENFILE ? " (out of file descriptors: raise ulimit -n "
						     "or lower --max-connections)" : "");
	uv_poll_stop(&w->listen_poll);
	uv_timer_start(&w->accept_timer, on_accept_resume, w->accept_pause_ms, 0);
}

static void on_listen_readable(uv_poll_t *h, int status, int events)
{
	struct server_worker *w = h->data;
	(void)events;
	if (status < 0 || w->stopping)
		return;
	/* A bounded batch per turn, so one busy listener cannot starve the loop. */
	for (int i = 0; i < 64; i++) {
		int fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			switch (errno) {
			case EAGAIN:
#if EWOULDBLOCK != EAGAIN
			case EWOULDBLOCK:
#endif
				return;
			/* That one connection failed (accept(2): network errors
			 * pending on it are reported here): take the next. */
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
			case ENETDOWN:
			case ENOPROTOOPT:
			case EHOSTDOWN:
			case ENONET:
			case EHOSTUNREACH:
			case EOPNOTSUPP:
			case ENETUNREACH:
				continue;
			default: /* EMFILE, ENFILE, ENOBUFS, ENOMEM, or worse */
				accept_pause(w, errno);
				return;
			}
		}
		w->accept_pause_ms = 0;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		lws_sock_file_fd_type desc = {.sockfd = fd};
		if (!lws_adopt_descriptor_vhost(w->vhost, LWS_ADOPT_SOCKET, desc, "channels", NULL))
			close(fd); /* lws closes it itself on most failures; this is the rest */
	}
}

static void on_listen_closed(uv_handle_t *h)
{
	struct server_worker *w = h->data;
	close(w->listen_fd);
	w->listen_fd = -1;
}

static void finish_stop(struct server_worker *s)
{
	if (!s->lws || s->destroying)
		return;
	s->destroying = true;
	if (s->index == 0) {
		LOG(LOG_INFO, "server", "stopped");
		uv_signal_stop(&s->sig_int);
		uv_signal_stop(&s->sig_term);
		uv_close((uv_handle_t *)&s->sig_int, NULL);
		uv_close((uv_handle_t *)&s->sig_term, NULL);
		uv_close((uv_handle_t *)&s->sig_hup, on_sighup_closed);
	}
	uv_close((uv_handle_t *)&s->shutdown_timer, NULL);
	uv_close((uv_handle_t *)&s->stop_async, NULL);
	uv_close((uv_handle_t *)&s->listen_poll, on_listen_closed);
	uv_close((uv_handle_t *)&s->accept_timer, NULL);
	uv_close((uv_handle_t *)&s->flush, NULL);
	uv_close((uv_handle_t *)&s->keepalive, NULL);
	server__metrics_stop(s);
	server__ws_rx_stop(s);
	/* With a foreign loop the context is freed in steps as its uv handles
	 * close; lws clears s->lws (info.pcontext) when it is gone. */
	lws_context_destroy(s->lws);
}

static void on_shutdown_tick(uv_timer_t *t)
{
	struct server_worker *s = t->data;
	/* Wait until every WebSocket has finished its closing handshake, or 3 s. */
	if (s->n_ws == 0 || ++s->shutdown_ticks > 60)
		finish_stop(s);
}

static void begin_stop(struct server_worker *s, const char *why)
{
	if (s->stopping) {
		LOG(LOG_WARN, "server", "%s again: stopping now", why);
		finish_stop(s);
		return;
	}
	s->stopping = true;
	uv_poll_stop(&s->listen_poll); /* no new connections */
	if (s->index == 0) {
		LOG(LOG_INFO, "server", "%s: closing %u WebSocket(s) with 1001 and stopping", why,
		    atomic_load(&s->proc->ws_total));
		for (unsigned i = 1; i < s->proc->n_workers; i++)
			uv_async_send(&s->proc->workers[i].stop_async);
	}
	server__ws_close_all(s, CLOSE_GOING_AWAY, "server shutdown");
	uv_timer_start(&s->shutdown_timer, on_shutdown_tick, 0, 50);
}

/* Splits --redis at commas into the layer's shard list. */
static struct layer *make_layer(struct server_worker *s, uv_loop_t *loop)
{
	struct layer_config lcfg;
	layer_config_init(&lcfg);
	lcfg.prefix = s->proc->cfg->layer_prefix;
	lcfg.capacity = s->proc->cfg->layer_capacity;
	/* Worker 0 holds the process's Redis connections (one SUBSCRIBE per
	 * group per process); the other workers reach Redis through it. */
	if (!s->proc->cfg->redis || !*s->proc->cfg->redis || s->index > 0)
		return s->proc->bus ? layer_bus_memory_new(s->proc->bus, s->index, loop, &lcfg)
			      : layer_memory_new(loop, &lcfg);

	char *copy = strdup(s->proc->cfg->redis);
	const char *urls[64];
	size_t n = 0;
	for (char *save = NULL, *tok = strtok_r(copy, ", ", &save); tok && n < 64;
	     tok = strtok_r(NULL, ", ", &save))
		urls[n++] = tok;
	struct layer_redis_config rcfg = {
		.urls = urls,
		.n_urls = n,
		.format = (enum layer_wire_format)s->proc->cfg->redis_format,
		.bus = s->proc->bus,
		.worker = s->index,
		.timeout = s->proc->cfg->redis_timeout,
	};
	char err[256] = "";
	struct layer *l = layer_redis_new(loop, &lcfg, &rcfg, err, sizeof(err));
	if (!l)
		LOG(LOG_ERROR, "server", "--redis: %s", err[0] ? err : "cannot create the layer");
	free(copy);
	return l;
}

static int load_secret(struct server_process *p)
{
	const char *key = p->cfg->secret_key;
	if (key && *key) {
		size_t n = strlen(key);
		if (n < 16) {
			LOG(LOG_ERROR, "server", "--secret-key must be at least 16 characters");
			return -1;
		}
		if (n > sizeof(p->secret))
			n = sizeof(p->secret); /* HMAC keys longer than a block are hashed anyway */
		memcpy(p->secret, key, n);
		p->secret_len = n;
		return 0;
	}
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t got = fd >= 0 ? read(fd, p->secret, 32) : -1;
	if (fd >= 0)
		close(fd);
	if (got != 32)
		return -1;
	p->secret_len = 32;
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

/* Creates worker `w`'s loop, layer, lws context and listening socket on
 * `port` (0: any; the other workers then use worker 0's). Main thread. */
static int worker_init(struct server_worker *w, int port)
{
	const struct server_config *cfg = w->proc->cfg;
	if (uv_loop_init(&w->loop_storage) != 0)
		return -1;
	w->loop = &w->loop_storage;
	w->loop_ready = true;
	w->layer = make_layer(w, w->loop);
	if (!w->layer)
		return -1;
	w->consumers = consumer_worker_new(w->layer);
	if (!w->consumers)
		return -1;

	void *foreign[1] = {w->loop};
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* we listen: see listen_socket() */
	info.protocols = w->proc->protocols;
	info.foreign_loops = foreign;
	info.pcontext = &w->lws;
	info.user = w;
	/* Security headers are ours (http_conn.c), not lws' best-practice set. */
	info.options = LWS_SERVER_OPTION_LIBUV;
	info.timeout_secs = 30;
	info.pt_serv_buf_size = 32 * 1024; /* what one raw read may bring */
	/* No lws validity timers: lws does not see what we read (ws_conn.c
	 * reads established sockets itself), and each timer is an O(n) insert
	 * into lws' sorted list. Our keepalive is server__ws_keepalive. */
	static const lws_retry_bo_t no_validity = {0};
	info.retry_and_idle_policy = &no_validity;
	w->listen_fd = server__listen_worker(w, port);
	if (w->listen_fd < 0)
		return -1;
	w->lws = lws_create_context(&info);
	w->vhost = w->lws ? lws_get_vhost_by_name(w->lws, "default") : NULL;
	if (!w->vhost) {
		LOG(LOG_ERROR, "server", "cannot create the libwebsockets context");
		close(w->listen_fd);
		w->listen_fd = -1;
		return -1;
	}
	uv_poll_init(w->loop, &w->listen_poll, w->listen_fd);
	w->listen_poll.data = w;
	uv_poll_start(&w->listen_poll, UV_READABLE, on_listen_readable);
	uv_timer_init(w->loop, &w->accept_timer);
	w->accept_timer.data = w;
	uv_prepare_init(w->loop, &w->flush);
	w->flush.data = w;
	uv_prepare_start(&w->flush, server__ws_flush);
	uv_unref((uv_handle_t *)&w->flush);
	uv_timer_init(w->loop, &w->keepalive);
	w->keepalive.data = w;
	if (cfg->ping_interval > 0) {
		uint64_t period = 1000ull * (uint64_t)(cfg->ping_interval < cfg->ping_timeout ?
						       cfg->ping_interval : cfg->ping_timeout) / 4;
		uv_timer_start(&w->keepalive, server__ws_keepalive, period ? period : 250,
			       period ? period : 250);
		uv_unref((uv_handle_t *)&w->keepalive);
	}
	server__metrics_start(w);
	if (server__ws_rx_start(w) != 0) {
		LOG(LOG_ERROR, "server", "cannot create the WebSocket reader: %s", strerror(errno));
		return -1;
	}
	uv_timer_init(w->loop, &w->shutdown_timer);
	uv_async_init(w->loop, &w->stop_async, on_stop_async);
	w->shutdown_timer.data = w->stop_async.data = w;
	if (w->index == 0) {
		uv_signal_init(w->loop, &w->sig_int);
		uv_signal_init(w->loop, &w->sig_term);
		uv_signal_init(w->loop, &w->sig_hup);
		w->sig_int.data = w->sig_term.data = w->sig_hup.data = w;
		uv_signal_start(&w->sig_int, on_signal, SIGINT);
		uv_signal_start(&w->sig_term, on_signal, SIGTERM);
		uv_signal_start(&w->sig_hup, on_signal, SIGHUP);
	}
	return 0;
}

/* Runs a worker's loop until it stopped, then tears it down. */
static void worker_run(struct server_worker *w)
{
	if (w->lws)
		uv_run(w->loop, UV_RUN_DEFAULT);
	/* A context whose first destroy step ran is finished by a second call
	 * once the loop has closed its handles (lws' foreign-loop protocol). */
	for (int i = 0; w->lws && i < 3; i++) {
		lws_context_destroy(w->lws);
		uv_run(w->loop, UV_RUN_DEFAULT);
	}
	consumer_worker_free(w->consumers); /* every consumer was closed with its wsi */
	w->consumers = NULL;
	if (w->layer)
		layer_free(w->layer);
	w->layer = NULL;
	server__ws_dirty_free(w);
	uv_run(w->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(w->loop) != 0)
		LOG(LOG_WARN, "server", "worker %u: loop closed with handles still open", w->index);
}

static void worker_thread(void *arg)
{
	worker_run(arg);
}

/* Closes what worker_init() opened on a worker that never ran. */
static void worker_abandon(struct server_worker *w)
{
	if (!w->loop_ready)
		return;
	if (w->lws) {
		if (w->index == 0) {
			uv_close((uv_handle_t *)&w->sig_int, NULL);
			uv_close((uv_handle_t *)&w->sig_term, NULL);
			uv_close((uv_handle_t *)&w->sig_hup, on_sighup_closed);
		}
		uv_close((uv_handle_t *)&w->shutdown_timer, NULL);
		uv_close((uv_handle_t *)&w->stop_async, NULL);
		uv_close((uv_handle_t *)&w->listen_poll, on_listen_closed);
		uv_close((uv_handle_t *)&w->accept_timer, NULL);
		uv_close((uv_handle_t *)&w->flush, NULL);
		uv_close((uv_handle_t *)&w->keepalive, NULL);
		server__metrics_stop(w);
		server__ws_rx_stop(w);
		lws_context_destroy(w->lws);
	}
	worker_run(w);
}

static unsigned worker_count(const struct server_config *cfg)
{
	long n = cfg->workers ? (long)cfg->workers : sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

/* Makes the process's n_workers workers, with their loops, listeners and
 * the publish token; on failure closes what was opened. 0 or -1. Main
 * thread. */
static int workers_init(struct server_process *p)
{
	const struct server_config *cfg = p->cfg;
	struct server_worker *workers = p->workers;
	unsigned n = p->n_workers;
	int ok = 1;
	for (unsigned i = 0; i < n && ok; i++) {
		workers[i].proc = p;
		workers[i].index = i;
		workers[i].rx_epfd = -1;
		/* worker 0 binds cfg->port (0: any) into p->port; the others reuse it */
		ok = worker_init(&workers[i], i == 0 ? cfg->port : p->port) == 0;
	}
	if (ok && cfg->publish_endpoint)
		ok = server__publish_start(&workers[0]) == 0;
	if (!ok)
		for (unsigned i = 0; i < n; i++)
			worker_abandon(&workers[i]);
	return ok ? 0 : -1;
}

/* What every worker shares, filled in `p` (zeroed): read-only once they
 * run. 0, or -1 (logged; server_run frees what was made). */
static int process_init(struct server_process *p, const struct server_config *cfg,
			const struct server_app *const apps[], unsigned n)
{
	char err[256];
	p->cfg = cfg;
	p->shared_fd = -1;
	p->n_workers = n;
	atomic_init(&p->ws_total, 0);
	atomic_init(&p->layer_health, LAYER_UP);
	atomic_init(&p->views_queued, 0);
	atomic_init(&p->views_running, 0);
	if (load_secret(p) != 0)
		return -1;
	if (!realpath(cfg->static_dir, p->static_root)) {
		LOG(LOG_ERROR, "server", "static dir %s: %s", cfg->static_dir, strerror(errno));
		return -1;
	}
	p->mime = server__mime_load("/etc/mime.types");
	if (!p->mime)
		LOG(LOG_WARN, "server", "/etc/mime.types: %s: using the built-in MIME table",
		    strerror(errno));
	if (server__proxy_init(&p->proxy, cfg->forwarded_allow_ips, err, sizeof(err)) != 0) {
		LOG(LOG_ERROR, "server", "%s", err);
		return -1;
	}
	if (server__apps_start(p, apps, err, sizeof(err)) != 0) {
		LOG(LOG_ERROR, "server", "apps: %s", err);
		return -1;
	}
	/* {% static %} carries --root-path (a site mounted under a prefix). */
	char static_url[PATH_MAX];
	snprintf(static_url, sizeof(static_url), "%s/static/", cfg->root_path ? cfg->root_path : "");
	p->tmpl = tmpl_env_new_dir(cfg->templates_dir, static_url);
	p->protocols = build_protocols();
	p->allowed_hosts = cfg->allowed_hosts ? strdup(cfg->allowed_hosts)
					      : server__default_allowed_hosts(cfg->host);
	if (n > 1)
		p->bus = layer_bus_new(n);
	p->workers = calloc(n, sizeof(*p->workers));
	if (!p->tmpl || !p->protocols || !p->allowed_hosts || !p->workers || (n > 1 && !p->bus))
		return -1;
	return 0;
}

int server_run(const struct server_config *cfg, const struct server_app *const apps[])
{
	struct server_process proc;
	struct server_process *p = &proc;
	unsigned n = worker_count(cfg);
	int rc = -1;

	memset(p, 0, sizeof(*p));
	p->shared_fd = -1;
	log_set_level(cfg->log_level);
	server__settings_set(cfg->settings);
	log_route_lws();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN); /* until worker 0 handles it (worker_init): never exit on it */
	if (process_init(p, cfg, apps, n) != 0)
		goto out;

	struct server_worker *workers = p->workers;
	if (server__listen_shared(p) != 0 || server__access_log_open(p) != 0 || workers_init(p) != 0)
		goto out;

	LOG(LOG_INFO, "server",
	    "channels-server %s listening on %s (%u worker%s, layer: %s%s%s)",
	    CHANNELS_VERSION, p->listen_desc, n, n > 1 ? "s" : "",
	    layer_backend_name(workers[0].layer), cfg->redis ? " " : "", cfg->redis ? cfg->redis : "");
	LOG(LOG_INFO, "server", "static files from %s, templates from %s", p->static_root,
	    cfg->templates_dir);
	if (cfg->port_file)
		write_port_file(cfg->port_file, p->port);

	for (unsigned i = 1; i < n; i++)
		uv_thread_create(&workers[i].thread, worker_thread, &workers[i]);
	worker_run(&workers[0]);
	for (unsigned i = 1; i < n; i++)
		uv_thread_join(&workers[i].thread);
	server__publish_stop(&workers[0]);
	rc = 0;
out:
	server__listen_end(p);
	server__proxy_free(&p->proxy);
	server__access_log_close(p);
	free(p->workers);
	layer_bus_free(p->bus);
	tmpl_env_free(p->tmpl);
	free(p->protocols);
	free(p->allowed_hosts);
	server__mime_free(p->mime);
	router_free(p->http_router);
	router_free(p->ws_router);
	return rc;
}
