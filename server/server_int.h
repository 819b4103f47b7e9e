/*
 * server_int.h - internals shared by the files of server/ (not installed,
 * not included outside this folder).
 *
 *   context.c   the one file that creates the lws context on the uv loop;
 *               the protocol callback's switch; signals and shutdown
 *   http_conn.c HTTP/1.1 connections on lws raw sockets: our reader
 *               (http1), static files, views on the pool, responses
 *   ws_conn.c   a WebSocket's life: handshake to consumer, closing, lws'
 *               callback (ws_int.h: the connection the next two share)
 *   ws_read.c   the WebSocket reader: epoll set, frames, limits, pings
 *   ws_write.c  the WebSocket writer: bounded queue, coalesced writes
 *   session.c   signed session, CSRF token, user, render helper, settings
 *   config.c    flags and environment variables (the server's and the apps')
 *   static_files.c  /static/: names, validators, ranges, .gz beside a file
 *   mime_types.c    Content-Type by extension (/etc/mime.types, built-in table)
 *   data_dir.c  the default static and templates folders (installed or source tree)
 *   lws_log.c   lws' log lines into util's sink
 *   listen.c    the listening socket: TCP per worker, or one shared
 *               (--uds, --fd, systemd's LISTEN_FDS)
 *   proxy.c     who the client is: trusted proxies and forwarded headers
 *   app.c       the apps: their tables checked, routes joined, identity hook
 *   metrics.c   the counters' scrape (/metrics), /healthz, /readyz, loop lag
 *   status.c    the live status page /status/ and its WebSocket
 *   access_log.c the access log (a writer thread), the client address
 *   main.c      server_main()
 */
#ifndef SERVER_SERVER_INT_H
#define SERVER_SERVER_INT_H

#include <libwebsockets.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "server.h"
#include "template.h"

_Static_assert(CONSUMER_FRAME_HEADROOM >= LWS_PRE, "frame headroom must fit LWS_PRE");

struct ws_conn;
struct http_conn;
struct access_log;

/*
 * The counters of one worker (metrics.c renders them; README lists them).
 * Each is written by its worker's loop thread only, with SERVER_METRIC_ADD:
 * a relaxed load, an add and a relaxed store of a 64-bit word in the
 * worker's own struct (a plain `add` on x86-64 and arm64: no lock prefix,
 * no line shared with another worker's counters), and read by a scrape
 * on any thread with relaxed loads (a value at most one increment old).
 * Gauges (the `*_open` ones) go up and down the same way (unsigned:
 * adding (uint64_t)-1 decrements). The `layer_*`, `loop_lag_*` fields are
 * snapshots the worker's metrics timer stores every SERVER_METRICS_TICK_MS.
 */
enum { SM_HS_101, SM_HS_400, SM_HS_403, SM_HS_404, SM_HS_426, SM_HS_500, SM_HS_503,
       SM_HS_OTHER, SM_HS_N };
enum { SM_CLOSE_1000, SM_CLOSE_1001, SM_CLOSE_1002, SM_CLOSE_1003, SM_CLOSE_1006, SM_CLOSE_1007,
       SM_CLOSE_1008, SM_CLOSE_1009, SM_CLOSE_1011, SM_CLOSE_1013, SM_CLOSE_OTHER, SM_CLOSE_N };
struct server_metrics {
	_Atomic unsigned long long http_conns_total, http_conns_open;
	_Atomic unsigned long long http_responses[6]; /* by status / 100 (1..5); [0] other */
	_Atomic unsigned long long http_bytes_out;    /* response body bytes */
	_Atomic unsigned long long ws_handshakes[SM_HS_N];
	_Atomic unsigned long long ws_open;
	_Atomic unsigned long long ws_msgs_in, ws_bytes_in, ws_msgs_out, ws_bytes_out;
	_Atomic unsigned long long ws_closes[SM_CLOSE_N];
	_Atomic unsigned long long ws_rate_limited;   /* closed 1008 by --rate-limit */
	_Atomic unsigned long long ws_send_refused;   /* messages not queued: over --max-queue */
	_Atomic unsigned long long layer_sent, layer_delivered, layer_dropped, layer_errors;
	_Atomic unsigned long long layer_groups, layer_members, layer_receivers;
	_Atomic unsigned long long loop_lag_us, loop_lag_max_us; /* last tick's, and the largest */
};

#define SERVER_METRICS_TICK_MS 250

#define SERVER_METRIC_ADD(w, field, n)                                                          \
	atomic_store_explicit(&(w)->metrics.field,                                             \
			      atomic_load_explicit(&(w)->metrics.field, memory_order_relaxed) +    \
				      (unsigned long long)(n),                                     \
			      memory_order_relaxed)
#define SERVER_METRIC_INC(w, field) SERVER_METRIC_ADD(w, field, 1)

/* What proxy.c shows as the peer of a unix-socket connection. */
#define SERVER_UNIX_PEER "unix"

/* --forwarded-allow-ips, parsed (proxy.c). Read-only once workers run. */
struct server_proxy {
	bool trust_all;           /* "*" */
	struct proxy_net *nets;   /* owned */
	size_t n_nets;
};

/*
 * The process: what every worker shares. One exists per server_run(), on
 * its stack, from start to the last worker's end. Filled on the main
 * thread before any worker starts; from then on every field is read-only
 * (any thread, views on the pool included) except `ws_total` (an atomic).
 * Owned: what server_run() allocates here it frees after the workers
 * ended.
 */
struct server_process {
	const struct server_config *cfg; /* borrowed from server_run()'s caller */
	struct server_worker *workers;   /* owned: n_workers of them */
	unsigned n_workers;
	atomic_uint ws_total;      /* open WebSockets over all workers (--max-connections);
				    * any thread, atomic */
	struct layer_bus *bus;     /* owned: joins the workers' layers; NULL with 1 worker
				    * (itself guarded by its own mutex) */
	int port;                  /* the bound port (worker 0 binds it, the others reuse it) */
	struct lws_protocols *protocols; /* owned: the one protocol every raw socket is bound to */
	char *allowed_hosts;       /* owned: --allowed-hosts, or the default list */
	struct router *http_router; /* owned: the publish endpoint's and the apps' routes */
	struct router *ws_router;   /* owned: the apps' WebSocket routes */
	struct tmpl_env *tmpl;      /* owned: the page templates */
	unsigned char secret[64];   /* signs sessions */
	size_t secret_len;
	char static_root[PATH_MAX]; /* realpath of cfg->static_dir */
	struct server_mime *mime;   /* owned: /etc/mime.types as read at start; NULL when
				     * missing (the built-in table answers alone) */
	char publish_token[128];    /* set by server__publish_start() before workers run */
	char token_file[PATH_MAX];  /* written by us; removed at exit */
	struct server_proxy proxy;  /* owned: the trusted proxies (proxy.c) */
	int shared_fd;              /* owned: one listening socket all workers accept on
				     * (--uds, --fd, LISTEN_FDS), each through its own dup;
				     * -1: each worker binds its own TCP socket */
	char listen_desc[PATH_MAX + 16]; /* "http://host:port/", "unix:/path", "fd 3 (...)" */
	char uds_path[PATH_MAX];    /* the unix socket we created (removed at exit), or "" */
	struct access_log *alog;    /* owned: NULL with --access-log off (thread-safe itself) */
	/* Written at run time (any thread, atomics; metrics.c): */
	atomic_int layer_health;    /* enum layer_health of worker 0's layer (the Redis one) */
	atomic_int views_queued;    /* view jobs waiting for a pool thread */
	atomic_int views_running;   /* view jobs on a pool thread */
};

/*
 * One per worker: a loop thread with its own lws context (all listening on
 * the port through SO_REUSEPORT), layer, consumers and connections. Every
 * field is owned by the worker and used on its loop thread only, except
 * `stop_async` (any thread may uv_async_send it) and what the main thread
 * sets up before the loop runs and joins after (loop, thread). Lives for
 * the duration of server_run(), in proc->workers.
 */
struct server_worker {
	struct server_process *proc; /* shared, read-only (see above) */
	unsigned index;            /* worker number; 0 runs on the main thread, owns signals */
	uv_loop_t loop_storage;
	bool loop_ready;
	uv_async_t stop_async;     /* worker 0 asks the others to stop (any thread) */
	uv_thread_t thread;        /* main thread: created and joined there */
	int listen_fd;             /* this worker's SO_REUSEPORT listening socket */
	uv_poll_t listen_poll;
	uv_timer_t accept_timer;   /* resumes listen_poll after an out-of-descriptors pause */
	unsigned accept_pause_ms;  /* current pause (100 ms doubling to 1 s); 0 after an accept */
	struct lws_vhost *vhost;   /* accepted sockets are adopted into it */
	uv_prepare_t flush;        /* writes the frames queued during this loop turn */
	struct ws_conn **dirty;    /* connections with frames queued this turn */
	unsigned n_dirty, dirty_cap;
	int rx_epfd;               /* established WebSockets we read ourselves (ws_read.c) */
	uv_poll_t rx_poll;         /* rx_epfd on the loop */
	uv_timer_t keepalive;      /* pings silent WebSockets, drops dead ones */
	uv_loop_t *loop;           /* &loop_storage */
	struct lws_context *lws;
	struct layer *layer;       /* this worker's channel layer (on the bus with N > 1) */
	struct consumer_worker *consumers; /* on `layer`; freed before it */
	uv_signal_t sig_int, sig_term, sig_hup; /* worker 0 only */
	uv_timer_t shutdown_timer;
	int shutdown_ticks;        /* 50 ms ticks since the stop began */
	bool stopping;
	bool destroying;           /* lws_context_destroy() has begun */
	unsigned n_ws;             /* open (accepted or handshaking) WebSockets */
	struct ws_conn *ws_head;   /* all WebSockets, for shutdown */
	uv_timer_t metrics_timer;  /* loop lag and the layer's snapshot (metrics.c) */
	uint64_t metrics_due;      /* uv_hrtime() the timer is due at */
	struct server_metrics metrics; /* written by this worker only: see above */
};

/* What lws_get_opaque_user_data() holds for a wsi: which of the two. */
enum conn_kind { CONN_HTTP = 1, CONN_WS = 2 };

/* ---- http_conn.c ---- */

/* LWS_CALLBACK_RAW_ADOPT, RAW_RX, RAW_WRITEABLE and RAW_CLOSE of a
 * connection that is not (yet) a WebSocket (the switch in context.c
 * forwards them). Returns what the lws callback must return. */
int server__http_callback(struct server_worker *s, struct lws *wsi, enum lws_callback_reasons reason,
			  void *in, size_t len);

/* The worker's epoll set says `hc`'s socket is readable (ws_read.c's
 * reader calls this for the HTTP connections in the set). Loop thread. */
void server__http_readable(struct http_conn *hc);

/* Frees what a request filled by http_conn.c holds (any thread). */
void server__request_clear(struct http_request *req);

/* ---- proxy.c: the client of a request (use this, not the socket's peer) ---- */

/*
 * Who sent a request: the one function to ask (logs, limits, the publish
 * endpoint, the access log). http_conn.c calls it once per request and
 * stores the result in the request: req->client_addr (= addr below),
 * req->is_secure, req->forwarded; code holding a request reads those.
 */
struct server_client {
	char addr[64];   /* the client: the peer, or what a trusted proxy forwarded */
	char peer[64];   /* the socket's peer: an IP, SERVER_UNIX_PEER, or "unknown" */
	bool secure;     /* a trusted proxy says the client used https */
	bool via_proxy;  /* the peer is a trusted proxy that sent forwarding headers */
	bool forwarded;  /* the request carries forwarding headers (trusted or not) */
};

/*
 * Fills `c` for the connection `fd` and its request `req` (NULL: only the
 * peer is known yet): with --proxy-headers and a trusted peer, the client
 * address from Forwarded or X-Forwarded-For and the scheme from
 * Forwarded's proto or X-Forwarded-Proto (the rule: proxy.c's top comment,
 * README "Deploying"). Any thread (reads proc read-only).
 */
void server__client_of(const struct server_process *proc, int fd, const struct http_request *req,
		       struct server_client *c);

/* True when the request's client is this machine and nothing forwarded it
 * (loopback address or unix socket, no forwarding header). Any thread. */
bool server__client_is_local(const struct http_request *req);

/* --forwarded-allow-ips (NULL: "127.0.0.1") into `p`: 0, or -1 with the
 * reason in `err`. Main thread. */
int server__proxy_init(struct server_proxy *p, const char *list, char *err, size_t errlen);
void server__proxy_free(struct server_proxy *p);

/* True when `addr` (text, or SERVER_UNIX_PEER) is a trusted proxy. */
bool server__proxy_trusts(const struct server_proxy *p, const char *addr);

/* --root-path `root` ("" or "/a/b"): a decoded request path starting with
 * "<root>/" (or equal to it) loses the prefix, in place; another is left
 * as it is (a proxy that strips the prefix itself). Any thread. */
void server__root_path_strip(const char *root, char *path);

/* --root-path: a Location header of `resp` that is a path of the site
 * ("/x", not "//host") gets the prefix. Any thread. */
void server__root_path_location(const char *root, struct http_response *resp);

/* ---- listen.c ---- */

/*
 * The shared listening socket, when there is one: LISTEN_FDS (systemd
 * socket activation, sd_listen_fds(3)'s rules), else --fd, else --uds
 * (created: see listen.c). Sets p->shared_fd (-1 with none of them: the
 * workers bind TCP themselves), p->port, p->listen_desc, p->uds_path.
 * 0, or -1 after logging why. Main thread, before the workers.
 */
int server__listen_shared(struct server_process *p);

/* Worker `w`'s listening socket: a dup of the shared one, or its own TCP
 * socket on `port` (SO_REUSEPORT). The fd, or -1 after logging. */
int server__listen_worker(struct server_worker *w, int port);

/* Closes the shared socket and removes the unix socket file we made. */
void server__listen_end(struct server_process *p);

/* ---- hosts.c ---- */

/* True when `host` (a Host field value, "name[:port]") is one the server
 * answers: --allowed-hosts, or the default list. NULL (HTTP/1.0 without
 * Host) passes. Any thread. */
bool server__host_allowed(const struct server_worker *s, const char *host);

/* The default list (malloc'd, comma-separated): localhost, .localhost,
 * 127.0.0.1, [::1] and `listen_host`; for a wildcard listen address also
 * the machine's name and interface addresses. */
char *server__default_allowed_hosts(const char *listen_host);

/* ---- static_files.c ---- */

/*
 * Opens the static file `rel` (below the static root) for `req` (GET or
 * HEAD) and fills `resp`'s status, type and headers: `rel.gz` instead when
 * it exists below the root and Accept-Encoding allows gzip; 304 for
 * If-None-Match / If-Modified-Since; for a GET with one satisfiable byte
 * range (and If-Range holding) 206 with Content-Range, 416 for an
 * unsatisfiable one. Returns the open fd positioned at the first byte to
 * send (200 or 206; *size is how many bytes to send: the caller streams
 * them and closes it), -2 when there is no body (304, 416), or -1 when
 * there is no such file (a 404 for the caller). Loop thread.
 */
int server__static_open(const struct server_worker *s, const char *rel, const struct http_request *req,
			struct http_response *resp, off_t *size);

/* ---- mime_types.c ---- */

struct server_mime;

/* Reads a mime.types file ("type ext ext ...", '#' comments; Debian's
 * /etc/mime.types) whole. Returns NULL when it cannot be read. The caller
 * owns the table (server__mime_free); read-only after, any thread. */
struct server_mime *server__mime_load(const char *path);
void server__mime_free(struct server_mime *m);

/* The Content-Type of file `name` by its extension (the longest listed
 * one: "a.tm.json" tries "tm.json", then "json"; any case): from `m`
 * (NULL: none), else the built-in table, else application/octet-stream.
 * text/ types carry "; charset=utf-8". The string lives as long as `m`. */
const char *server__mime_type(const struct server_mime *m, const char *name);

/* ---- ws_conn.c ---- */

/*
 * A WebSocket handshake request (the Upgrade field holds "websocket"),
 * read whole by http_conn.c: checks it as RFC 6455 4.2.1 says (GET,
 * Connection: upgrade, a 16-byte key, version 13), routes it, checks the
 * origin and the limits, and opens the consumer. `trailing`: the client
 * sent more bytes after the request (before our answer).
 * Returns 0 when the 101 is written and the wsi is the WebSocket's from
 * now on (its opaque user data is the ws_conn); 1 when refused: answer
 * *status (400, 403, 404, 426, 500, 503) with *why; -1 on a failure that
 * must close the connection. `req` stays the caller's.
 */
int server__ws_handshake(struct server_worker *s, struct lws *wsi, struct http_request *req,
			 bool trailing, int *status, const char **why);

/* RAW_RX, RAW_WRITEABLE and RAW_CLOSE of a WebSocket. */
int server__ws_callback(struct server_worker *s, struct lws *wsi, enum lws_callback_reasons reason,
			void *in, size_t len);

/* Starts closing every WebSocket with `code` (shutdown: 1001). */
void server__ws_close_all(struct server_worker *s, int code, const char *reason);

/* ---- ws_read.c ---- */

/* The worker's WebSocket reader: an epoll set of established sockets,
 * polled by the loop. start: 0 or -1; stop: closes it (the handle closes
 * on the loop; sockets still in it are dropped from it as they close). */
int server__ws_rx_start(struct server_worker *s);
void server__ws_rx_stop(struct server_worker *s);

/* uv_timer callback: pings each WebSocket silent for --ping-interval s and
 * drops one still silent --ping-timeout s later (a scan of this worker's
 * WebSockets, a few times per interval; nothing per message). */
void server__ws_keepalive(uv_timer_t *t);

/* ---- ws_write.c ---- */

/* uv_prepare callback: writes every dirty connection's queued frames
 * (one write each) before the loop polls again. */
void server__ws_flush(uv_prepare_t *h);

/* Frees the list of connections to flush (at worker teardown). */
void server__ws_dirty_free(struct server_worker *s);

/* ---- ws_handshake.c ---- */

/*
 * Checks a handshake request as RFC 6455 4.2.1 says, then the server's
 * state and limits, the route, the origin and the subprotocol (refused
 * when the client offers some and the class lists none of them: the
 * choice itself is the consumer's, consumer_class_subprotocol()). Returns 0
 * with the consumer class and the URL kwargs (a new reference, or NULL); or the
 * HTTP status to refuse with (400, 403, 404, 426, 503) and *why. Logged
 * (rate-limited) when refused.
 */
int server__ws_handshake_check(struct server_worker *s, struct http_request *req,
			       const struct consumer_class **cls, json_t **kwargs, const char **why);

/* The scope of a WebSocket from its handshake request; takes `kwargs`. */
void server__ws_scope_from_request(struct http_request *req, json_t *kwargs, const char *offered,
				   struct consumer_scope *scope);

/* Writes the 101 answer for `key`. 0, or -1 when the socket failed. */
int server__ws_write_accept(struct lws *wsi, const char *key, const char *subprotocol);

/* Logs a refused handshake (one line per 10 s with a count). */
void server__ws_refused(int status, const char *why, const char *path);


/* ---- publish.c ---- */

/* The publish endpoint's routes, placed before the app's. */
extern const struct route server__publish_routes[2];

/* The token file channels-cli reads by default for a server on `port`. */
void server__publish_token_path(int port, char *out, size_t outlen);

/* Sets the token (given, or random + token file). 0, or -1 on a bad token. */
int server__publish_start(struct server_worker *s);
void server__publish_stop(struct server_worker *s);

/* ---- metrics.c ---- */

/* Fills `out` (room for 3) with the server's /healthz, /readyz and, unless
 * --metrics-path is off, /metrics routes; returns how many. Main thread. */
size_t server__obs_routes(const struct server_config *cfg, struct route *out);

/* The worker's metrics timer: started by worker_init() (its first
 * snapshot taken at once, on the main thread before the loop runs),
 * closed with the worker's other handles. Loop thread after that. */
void server__metrics_start(struct server_worker *w);
void server__metrics_stop(struct server_worker *w);

/* The response status of an HTTP request, counted. Loop thread. */
void server__metrics_http_response(struct server_worker *w, int status, size_t body_bytes);
/* A handshake's outcome (101, or the refusal status). Loop thread. */
void server__metrics_handshake(struct server_worker *w, int status);
/* A WebSocket's end with `code`. Loop thread. */
void server__metrics_ws_close(struct server_worker *w, int code);

/* The totals the /status/ page draws (a new object). Any thread. */
json_t *server__metrics_snapshot(const struct server_process *p);

/* May a client read the metrics (and /status/)? A local one (loopback or
 * unix socket, and not forwarded by a proxy: server__client_is_local()),
 * or one whose `token` (may be NULL) equals --metrics-token. Any thread. */
bool server__metrics_allowed(const struct server_process *p, bool local, const char *token);

/* ---- status.c ---- */

/* The live status page (GET /status/) and its WebSocket (/status/ws/),
 * served when the metrics are (--metrics-path not off): fill `http`
 * (room for 1) and `ws` (room for 1), return how many of each. Remembers
 * `p` for the WebSocket consumers. Main thread, before the workers. */
void server__status_routes(struct server_process *p, struct route *http, size_t *n_http,
			   struct route *ws, size_t *n_ws);

/* True for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z. */
bool server__is_loopback(const char *addr);

/* ---- access_log.c ---- */


/*
 * The access log (--access-log -|PATH|off, --access-log-format
 * common|json): lines are formatted on the calling thread and appended to a
 * buffer that a writer thread of its own writes out, so a slow disk never
 * blocks a loop. Past 4 MiB waiting the lines are dropped and counted
 * (channels_access_log_dropped_total). open: 0, or -1 (logged) when the
 * file cannot be opened; p->alog stays NULL when off. close: writes what
 * waits, joins the thread. Main thread, before/after the workers.
 */
int server__access_log_open(struct server_process *p);
void server__access_log_close(struct server_process *p);
unsigned long long server__access_log_dropped(const struct server_process *p);
/* Asks the writer to reopen the --access-log file before its next write
 * (SIGHUP after logrotate moved it); nothing for stdout or off. Any thread. */
void server__access_log_reopen(struct server_process *p);

/* One HTTP request (method/path NULL: unread, logged "-"). Any thread. */
void server__access_log_http(struct server_process *p, const char *addr, const char *method,
			     const char *path, int status, unsigned long long bytes,
			     double seconds);
/* A WebSocket's connect (code 0) or its end (code, duration, messages). */
void server__access_log_ws(struct server_process *p, const char *addr, const char *path,
			   int code, double seconds, unsigned long long in, unsigned long long out);

/* ---- lws_log.c ---- */

/* Routes libwebsockets' own log lines into util's sink at the current
 * threshold (call once, before the first lws context). */
void log_route_lws(void);

/* ---- app.c ---- */

/*
 * Checks the apps' tables: a name each, well-formed settings, no settings
 * key, flag or environment variable declared twice among them, at most
 * one identity hook. 0, or -1 with the reason in `err`. Any thread.
 */
int server__apps_check(const struct server_app *const apps[], char *err, size_t errlen);

/*
 * server__apps_check(), then p->http_router (the publish endpoint's routes
 * when enabled, then every app's, in list order) and p->ws_router (every
 * app's), and makes the apps' identity hook the process's. 0, or -1 with
 * the reason in `err` (the routers made so far are p's to free).
 * Main thread, before any worker starts.
 */
int server__apps_start(struct server_process *p, const struct server_app *const apps[], char *err,
		       size_t errlen);

/* The identity hook's answer for `session` (user zeroed first; left
 * anonymous when no app has a hook). Any thread. */
void server__identity(enum server_scope_type type, const json_t *session, struct server_user *user);

/* ---- session.c ---- */

/*
 * Loads the session (signed cookie "sessionid"), the CSRF token (cookie
 * "csrftoken", or a new one) and the user into `req`. Any thread.
 */
void server__session_load(struct server_worker *s, struct http_request *req);

/* The default --static-dir and --templates-dir: the installed data dir
 * or, for a program run from the build tree, the source tree (data_dir.c
 * says how it is chosen). Any thread; the strings live as long as the
 * process. */
void server__data_dirs(const char **static_dir, const char **templates_dir);

/* The scope user of a WebSocket handshake: server__identity() for
 * SERVER_SCOPE_WEBSOCKET. *username is malloc'd, or NULL (no name). */
void server__session_user(const json_t *session, char **username, bool *is_authenticated);

/* Adds Set-Cookie headers to `resp` for a modified session and a new CSRF
 * token. Any thread. */
void server__session_save(struct server_worker *s, struct http_request *req, struct http_response *resp,
			  bool csrf_is_new);

/*
 * Django 4.x CsrfViewMiddleware's check of an unsafe request (the caller
 * knows the method is unsafe and the view not csrf_exempt), in Django's
 * order: the Origin header when there is one (it must be the request's own
 * origin, http://<Host>, or in --csrf-trusted-origins), else the Referer
 * for a secure request (none is, before TLS); then the csrftoken cookie,
 * which must be unambiguous (several csrftoken cookies with different
 * values fail: see README), and the token sent in the form field
 * csrfmiddlewaretoken or the X-CSRFToken header, which must equal it.
 * True when it passes; otherwise false with "CSRF verification failed. "
 * and Django's reason in `why` (the 403 page's detail).
 * Any thread.
 */
bool server__csrf_check(const struct http_request *req, char *why, size_t whylen);


/* Makes `settings` (borrowed, immutable from now on) the apps' settings. */
void server__settings_set(json_t *settings);

/* Checks the Origin header of a WebSocket handshake against the policy. */
bool server__origin_allowed(const struct server_worker *s, const char *origin, const char *host);

#endif
