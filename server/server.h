/*
 * server.h - channels-server: one process serving HTTP and WebSocket on one
 * port (libwebsockets on a libuv loop), with a protocol-type router:
 *
 *   HTTP request      -> URL router (every app's http_routes) -> a view, run
 *                        on the thread pool; or /static/ files; or a 404 page
 *   WebSocket upgrade -> URL router (every app's ws_routes) -> a consumer
 *                        class (consumers/consumer.h); no route: HTTP 404
 *
 * The framework knows no app. A program hands server_main() (or
 * server_config_parse() + server_run()) a NULL-terminated list of apps,
 * Django's INSTALLED_APPS: each `struct server_app` declares its routes
 * (targets: `struct view` for HTTP, `struct consumer_class` for WebSocket),
 * its settings (flags, environment variables, --help lines, defaults) and
 * optionally the identity hook that says who a session belongs to.
 *
 * Threading: one libuv loop per worker (--workers N, default one per core),
 * each on its own thread with its own listening socket on the shared port
 * (SO_REUSEPORT; with --uds, --fd or systemd's LISTEN_FDS, its own dup of
 * the one shared socket), its own connections and channel layer; server_run() runs
 * worker 0's loop (which owns the signals) on the calling thread, starts the
 * others on threads of their own, and returns when every worker has stopped
 * (SIGINT/SIGTERM: open WebSockets are closed with 1001, then the loops
 * end). Views run on libuv's thread pool.
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

/*
 * One setting of an app: a flag, its environment variable and its --help
 * line, parsed with the server's own flags (the environment first, then
 * argv: flags win) into the settings object that server_setting_int() and
 * server_setting_str() read. Declared in a `static const` table that lives
 * as long as the program (every string is borrowed, never copied).
 */
enum server_setting_kind {
	SERVER_SETTING_INT, /* a decimal integer in [min, max]; anything else is a usage error */
	SERVER_SETTING_STR, /* any non-empty UTF-8 string */
};

struct server_setting {
	const char *key;   /* read back with server_setting_*(key): "POLL_INTERVAL_MS" */
	const char *flag;  /* long option without "--": "poll-interval" */
	const char *env;   /* environment variable: "CHANNELS_POLL_INTERVAL" */
	enum server_setting_kind kind;
	long long min, max;        /* SERVER_SETTING_INT: the accepted values, inclusive */
	long long int_default;     /* SERVER_SETTING_INT: the value when neither is given; it
	                              need not be in [min, max] ("off" below a flag's values) */
	const char *str_default;   /* SERVER_SETTING_STR: likewise; NULL: the key stays unset */
	const char *help;  /* the --help line, defaults in words ("(default 100)");
	                      --help appends " [ENV]" */
};

/*
 * Where an identity is asked for (ASGI's scope["type"]): a view's request
 * (server_request_user(), server_render()), or the scope of a WebSocket
 * handshake.
 */
enum server_scope_type {
	SERVER_SCOPE_HTTP,
	SERVER_SCOPE_WEBSOCKET,
};

/* Who a session belongs to, as Django's request.user / scope["user"]. */
struct server_user {
	char *username;        /* malloc'd by the hook, freed by the server; NULL: no name */
	bool is_authenticated;
};

/*
 * An app's identity hook: fills `user` (zeroed by the caller: anonymous,
 * no name) from `session` (the signed session cookie's object, borrowed and
 * read-only for the call; empty or NULL when there is none).
 * Runs for each server_request_user() and server_render() (user.username
 * and user.is_authenticated in the template context): any pool thread;
 * and for each WebSocket handshake, after routing and before the
 * consumer's on_connect (the scope's consumer_username() and
 * consumer_is_authenticated()): the connection's loop thread. So it must
 * be thread-safe, must not block and must not keep `session`.
 * Without a hook (the framework's default) every user is anonymous: no
 * name ("" in templates and consumer_username()), not authenticated, as
 * Channels' AnonymousUser (username ""). The framework generates no names
 * and defines no session keys for users: which keys mean a user, and
 * whether an anonymous WebSocket gets a made-up name (so that every
 * message it sends has a sender), is the app's policy.
 */
typedef void (*server_identity_cb)(enum server_scope_type type, const json_t *session,
				   struct server_user *user);

/*
 * An app: what one file (or folder) of apps/ declares, in a `static const`
 * that outlives server_run(); the server only borrows it. Every member but
 * `name` is optional (NULL / 0).
 * In a program's app list, routes are tried app by app, in list order,
 * after the server's own (the publish endpoint); settings are parsed and
 * printed by --help in list order, after the server's own. A flag, an
 * environment variable or a settings key used twice (by two apps, or by an
 * app and the server) and a second identity hook are refused at start:
 * server_config_parse() prints the clash and returns -1 (server_run()
 * logs it and returns -1).
 */
struct server_app {
	const char *name;              /* one word, for --help and logs: "blog" */
	const char *description;       /* one line for --help: "the blog: /blog/, ws/comments/" */
	const struct route *http_routes; /* targets: const struct view * */
	size_t n_http_routes;
	const struct route *ws_routes;   /* targets: const struct consumer_class * */
	size_t n_ws_routes;
	const struct server_setting *settings;
	size_t n_settings;
	server_identity_cb identity;   /* at most one app of a program has one */
};

/* ---- configuration ---- */

struct server_config {
	const char *host;              /* default "127.0.0.1" */
	int port;                      /* default 8000; 0 picks a free port */
	const char *static_dir;        /* default: <datadir>/channels-c/static, installed; the
	                                  source tree's static/, run from the build tree */
	const char *templates_dir;     /* default: likewise, templates/ */
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
	json_t *settings;              /* the apps' settings (borrowed), read with server_setting_*() */
	const char *port_file;         /* if set, the bound port is written there once listening */
	const char *uds;               /* listen on this unix socket instead of TCP; NULL: TCP */
	int fd;                        /* listen on this inherited listening socket; -1 (default): no */
	bool proxy_headers;            /* believe trusted proxies' X-Forwarded-* / Forwarded */
	const char *forwarded_allow_ips; /* trusted proxies: IPs and CIDRs, "*" any; default 127.0.0.1 */
	const char *root_path;         /* URL prefix the site is mounted under ("/app"); default "" */
	int cookie_secure;             /* session/CSRF cookies Secure: 1 always, 0 never, -1 (default)
	                                  when the request is https (req->is_secure) */
	const char *cookie_samesite;   /* "Lax" (default), "Strict" or "None" */
	const char *metrics_path;      /* "/metrics" (default), or "off" */
	const char *metrics_token;     /* NULL: the metrics answer loopback clients only */
	const char *access_log;        /* "-" (stdout, default), a file path, or "off" */
	const char *access_log_format; /* "common" (default) or "json" */
};

/* Fills `cfg` with the defaults above. */
void server_config_init(struct server_config *cfg);

/*
 * Parses argv and CHANNELS_* environment variables into `cfg` (flags win),
 * with the settings of every app of `apps` (NULL-terminated; borrowed).
 * Returns 0 to run, 1 when --help/--version printed and the program should
 * exit 0, or -1 after printing a usage error (or a clash between the apps'
 * settings) to stderr. The apps' settings (every declared key, with its
 * default unless given) go into cfg->settings, a new object the caller owns
 * (json_decref() it after server_run(), whatever this returned).
 * Main thread, before server_run(); not reentrant (getopt).
 */
int server_config_parse(struct server_config *cfg, const struct server_app *const apps[], int argc,
			char **argv);

/*
 * Serves the routes of every app of `apps` (NULL-terminated, in order;
 * borrowed until it returns) with `cfg`'s settings. Runs until
 * SIGINT/SIGTERM (SIGHUP is logged and never stops it). Returns 0 on a
 * clean stop, -1 if it could not start (a route pattern that does not
 * compile, two identity hooks, no port...).
 */
int server_run(const struct server_config *cfg, const struct server_app *const apps[]);

/*
 * A program's whole main(): defaults, parsing (with the apps' settings),
 * server_run(). Returns the exit status: 0 (a clean stop, or --help), 1
 * (could not start) or 2 (usage error).
 */
int server_main(int argc, char **argv, const struct server_app *const apps[]);

/* ---- helpers for views (any thread) ---- */

/*
 * Renders `template_name` with `ctx` (stolen; NULL = {}) into resp's body,
 * adding `request`, `user` ({username, is_authenticated} from the identity
 * hook: "" and false without one), `csrf_token` and `static_url` to the context.
 * On a template error the response becomes a 500 page. Returns 0 or -1.
 */
int server_render(struct http_request *req, struct http_response *resp, const char *template_name,
		  json_t *ctx);

/*
 * The request's user (Django's request.user) as the identity hook says
 * from req->session: user->username malloc'd (the caller frees it) or
 * NULL when the user has no name. Any thread.
 */
void server_request_user(const struct http_request *req, struct server_user *user);

/*
 * layer_group_send() from a view: queued to the loop thread. `msg` is
 * borrowed; the server takes its own reference and nobody may modify it
 * afterwards. Returns 0 or a CH_E* code (e.g. invalid group name).
 */
int server_group_send(struct http_request *req, const char *group, json_t *msg);

/* `n` (<= 64) random bytes from the OS CSPRNG as lower-case hex into `out`
 * (2n+1 bytes). Any thread. */
void server_random_hex(char *out, size_t n);

/*
 * An app's setting (struct server_setting), as parsed: what was given, else
 * its declared default. `fallback` when `key` is not a declared setting of
 * that kind (or for a STR without default), e.g. before server_run().
 * Any thread once server_run() started (the object is read-only by then).
 */
long long server_setting_int(const char *key, long long fallback);
const char *server_setting_str(const char *key, const char *fallback);

#endif
