/*
 * server.h - channels-server: one process serving HTTP and WebSocket on one
 * port (libwebsockets on a libuv loop), with a protocol-type router:
 *
 *   HTTP request      -> URL router (app->http_routes) -> a view, run on the
 *                        thread pool; or /static/ files; or a 404 page
 *   WebSocket upgrade -> URL router (app->ws_routes) -> a consumer class
 *                        (consumers/consumer.h); no route: HTTP 404
 *
 * An application is a pair of route tables (routing/routing.h) whose
 * targets are `struct view` (HTTP) and `struct consumer_class` (WebSocket).
 *
 * Threading: server_run() runs the loop on the calling thread and returns
 * when the server has stopped (SIGINT/SIGTERM: open WebSockets are closed
 * with 1001, then the loop ends). Views run on libuv's thread pool.
 */
#ifndef SERVER_SERVER_H
#define SERVER_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "consumer.h"
#include "http.h"
#include "layer.h"
#include "routing.h"

/* ---- views ---- */

enum view_method {
	VIEW_GET = 1 << 0,  /* GET also admits HEAD */
	VIEW_POST = 1 << 1,
	VIEW_PUT = 1 << 2,
	VIEW_PATCH = 1 << 3,
	VIEW_DELETE = 1 << 4,
};

/*
 * A synchronous view. Runs on a thread-pool thread with exclusive use of
 * `req` and `resp`; may block (database, sleep) without delaying any
 * WebSocket traffic. It fills `resp` (status 200 text/html by default).
 */
typedef void (*view_fn)(struct http_request *req, struct http_response *resp);

struct view {
	const char *name;
	view_fn fn;
	unsigned methods;  /* VIEW_* mask; other methods get 405 */
	bool csrf_exempt;  /* POST/PUT/PATCH/DELETE skip the CSRF check (token-authenticated APIs) */
};

/* ---- applications ---- */

struct server_app {
	const char *name;
	const struct route *http_routes; /* targets: const struct view * */
	size_t n_http_routes;
	const struct route *ws_routes;   /* targets: const struct consumer_class * */
	size_t n_ws_routes;
};

/* ---- configuration ---- */

struct server_config {
	const char *host;              /* default "127.0.0.1" */
	int port;                      /* default 8000; 0 picks a free port */
	const char *static_dir;        /* default: the source tree's static/ */
	const char *templates_dir;     /* default: the source tree's templates/ */
	const char *secret_key;        /* signs session cookies; NULL: random per process */
	const char *allowed_origins;   /* comma-separated origins ("https://a.example"), "*" for any;
	                                  NULL: same host as the request's Host header */
	const char *csrf_trusted_origins; /* Django's CSRF_TRUSTED_ORIGINS, comma-separated
	                                  scheme://host[:port] ("*." host: with subdomains);
	                                  NULL: only the request's own origin */
	const char *allowed_hosts;     /* comma-separated Host names (Django's ALLOWED_HOSTS: ".a.example"
	                                  matches subdomains, "*" any); NULL: loopback names and --host */
	size_t max_header_size;        /* bytes of a request line + header fields; default 32 KiB (431) */
	int http_timeout;              /* s an idle keep-alive connection or a request being read may
	                                  take; default 30 */
	size_t max_message_size;       /* bytes of one WebSocket message; default 1 MiB (1009 over it) */
	size_t max_body_size;          /* bytes of an HTTP request body; default 1 MiB (413 over it) */
	size_t max_queue_bytes;        /* unsent bytes per WebSocket; default 4 x max_message_size,
	                                  at least 4 MiB (1013 over it) */
	unsigned max_connections;      /* open WebSockets; default 10000 (503 over it) */
	double rate_limit;             /* messages/s per WebSocket from the client, 0 = none; default 100 */
	double rate_burst;             /* bucket size; default 200 */
	int ping_interval;             /* s of silence before we ping a WebSocket; 0 = never (20) */
	int ping_timeout;              /* s after that ping before it is dropped (30) */
	unsigned view_threads;         /* thread-pool size; default 4 */
	unsigned workers;              /* loop threads sharing the port; 0 (default): one per core */
	int log_level;                 /* LOG_* from log.h; default LOG_INFO */
	const char *redis;             /* comma-separated Redis URLs (shards); NULL: in-memory layer */
	const char *layer_prefix;      /* channel-layer prefix; default "asgi" (channels_redis') */
	unsigned layer_capacity;       /* messages queued per consumer channel; default 1000 */
	int redis_format;              /* enum layer_wire_format of published messages; default msgpack */
	double redis_timeout;          /* s without progress before Redis counts as stalled; default 5 */
	bool publish_endpoint;         /* serve POST /_channels/...; default true */
	bool publish_allow_remote;     /* the publish endpoint answers non-loopback clients too */
	const char *publish_token;     /* NULL: random, written to the token file */
	json_t *settings;              /* app settings (borrowed), read with server_setting_*() */
	const char *port_file;         /* if set, the bound port is written there once listening */
};

/* Fills `cfg` with the defaults above. */
void server_config_init(struct server_config *cfg);

/*
 * Parses argv and CHANNELS_* environment variables into `cfg` (flags win).
 * Returns 0 to run, 1 when --help/--version printed and the program should
 * exit 0, or -1 after printing a usage error to stderr.
 * App settings (--chart-interval, --chart-points) go into cfg->settings,
 * a new object the caller owns.
 */
int server_config_parse(struct server_config *cfg, int argc, char **argv);

/* Runs until SIGINT/SIGTERM (SIGHUP is logged and never stops it). Returns 0 on a clean stop, -1 if it could not start. */
int server_run(const struct server_config *cfg, const struct server_app *app);

/* ---- helpers for views (any thread) ---- */

/*
 * Renders `template_name` with `ctx` (stolen; NULL = {}) into resp's body,
 * adding `request`, `user`, `csrf_token` and `static_url` to the context.
 * On a template error the response becomes a 500 page. Returns 0 or -1.
 */
int server_render(struct http_request *req, struct http_response *resp, const char *template_name,
		  json_t *ctx);

/*
 * layer_group_send() from a view: queued to the loop thread. `msg` is
 * borrowed; the server takes its own reference and nobody may modify it
 * afterwards. Returns 0 or a LAYER_E* code (e.g. invalid group name).
 */
int server_group_send(struct http_request *req, const char *group, json_t *msg);

/* `n` (<= 64) random bytes from the OS CSPRNG as lower-case hex into `out`
 * (2n+1 bytes). Any thread. */
void server_random_hex(char *out, size_t n);

/* App settings (from server_config.settings); any thread after start. */
long long server_setting_int(const char *key, long long fallback);
const char *server_setting_str(const char *key, const char *fallback);

#endif
