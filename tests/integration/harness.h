/*
 * harness.h - what the integration tests share: the real channels-server
 * binary started as a child process on a free port of 127.0.0.1, and
 * helpers on top of the project's client (tools/client/client.h) for HTTP
 * with a cookie jar, the chat login, WebSocket connections and JSON
 * messages.
 *
 * The tests' checks live in their own translation unit (check.h keeps its
 * counters per file), so harness functions return results and print a
 * diagnostic to stderr on failure; the test CHECKs what they return.
 *
 * Threading: the functions on one struct h_server or one struct h_jar are
 * for one thread; the HTTP helpers are safe on separate threads with
 * separate jars.
 */
#ifndef TESTS_INTEGRATION_HARNESS_H
#define TESTS_INTEGRATION_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "client.h"

/* A fixed secret (32 chars), so session cookies are stable in a run. */
#define H_SECRET_KEY "itest-secret-key-0123456789abcde"
/* Timeout of one HTTP request or WebSocket handshake. */
#define H_IO_TIMEOUT_MS 10000

/*
 * Reads the server binary and the source root from argv[1] and argv[2]
 * (or CHANNELS_SERVER_EXE and CHANNELS_SOURCE_ROOT). `failed` is the test
 * file's check_failed: a server's stderr is printed at its stop when it
 * grew while that server ran, and h_server_wait() adds a failure to it when
 * a server left handles open at shutdown (H_LEAK_LINE). Exits 77 (skip)
 * when neither is given.
 */
void h_init(int argc, char **argv, int *failed);

/*
 * What server/context.c logs (as a warning) when a worker's uv_loop_close()
 * finds handles still open after shutdown: a leak, which fails the test
 * (h_server_wait()).
 */
#define H_LEAK_LINE "loop closed with handles still open"

/* `rel` inside the source tree, as a malloc'd string the caller frees. */
char *h_src_path(const char *rel);

struct h_server {
	pid_t pid;        /* 0 when not running */
	int port;
	int exit_status;  /* after h_server_wait(): 0..255, or -1 (signal or timeout) */
	int failed_at_start;
	char dir[64];     /* private temp folder: port file, stderr log */
	char log_path[96];
	int listen_fd;    /* h_server_start_opts()' listen_fd, or -1 */
};

/* How h_server_start_opts() starts the server. */
struct h_start {
	unsigned nofile;  /* RLIMIT_NOFILE soft limit of the server; 0: unchanged */
	int listen_fd;    /* >= 0: passed as systemd does (dup2'd to fd 3 in the child,
			     LISTEN_FDS=1, LISTEN_PID=the child's pid); the caller keeps
			     and closes its own copy. -1: none */
	const char *listen_fdname; /* LISTEN_FDNAMES with listen_fd; NULL: not set */
};

/*
 * Starts channels-server with the standard flags (127.0.0.1, port 0, the
 * source tree's static/ and templates/, --test-views 1, H_SECRET_KEY) and
 * `extra` (NULL-terminated flag list, may be NULL; a later flag wins).
 * Waits up to 15 s for the port file. 0 or -1 (diagnostic printed, the
 * child is reaped).
 */
int h_server_start(struct h_server *s, const char *const *extra);
/* h_server_start() with the server's RLIMIT_NOFILE soft limit set to
 * `nofile` (setrlimit in the child before exec; this process keeps its own). */
int h_server_start_nofile(struct h_server *s, const char *const *extra, unsigned nofile);
/* h_server_start() with the options of `o`. A server listening on a unix
 * socket (--uds in `extra`) writes port 0: s->port is then 0. */
int h_server_start_opts(struct h_server *s, const char *const *extra, const struct h_start *o);
/* Sends SIGTERM. */
void h_server_term(struct h_server *s);
/* Waits up to `ms` for the child to exit; on timeout kills it (SIGKILL).
 * Returns s->exit_status. When the server's stderr has H_LEAK_LINE, adds
 * one failure to the test's count (h_init()'s `failed`) and says so.
 * Prints the server's stderr when the status is not 0 or a check failed
 * since the start; removes the temp folder. */
int h_server_wait(struct h_server *s, int ms);
/* h_server_term() + h_server_wait(s, 5000). */
int h_server_stop(struct h_server *s);
/* Starts a server with `extra` (as h_server_start), runs `test` on it and
 * stops it: the status of h_server_stop (0 when it exited cleanly), or -1
 * when it did not start (printed, naming `what`). One CHECK_INT(..., 0)
 * of the result stands for "started, and stopped cleanly". */
int h_with_server(const char *const *extra, void (*test)(const struct h_server *),
		  const char *what);
/* Prints the server's stderr so far. */
void h_server_dump(const struct h_server *s);
/* In a forked child, before exec: it dies with its parent (SIGKILL), has
 * SIGPIPE at its default, stdin from /dev/null, stdout to `out_path` and
 * stderr to `err_path` (one file when the paths are equal), opened with
 * O_WRONLY | O_CREAT | `flags` (O_TRUNC or O_APPEND), mode 0600;
 * _exit(126) when one cannot be opened. */
void h_child_stdio(const char *out_path, const char *err_path, int flags);
/* Copies the file `path` to stderr between "----- <what> <detail> -----"
 * and "----- end of <what> -----": 0, or -1 (nothing printed) when it
 * cannot be opened. */
int h_file_dump(const char *path, const char *what, const char *detail);
/* True when the server's stderr so far contains `needle` (the line is
 * printed). */
bool h_server_log_has(const struct h_server *s, const char *needle);
/* The number of lines of the server's stderr so far containing `needle`. */
int h_server_log_count(const struct h_server *s, const char *needle);
/* True while the child has not exited (reaps it if it has). */
bool h_server_alive(struct h_server *s);

/* ---- HTTP ---- */

struct h_jar {
	char sessionid[1024];
	char csrftoken[128];
};

/*
 * One request with the jar's cookies (Cookie header); the jar takes the
 * response's Set-Cookie values of sessionid and csrftoken. `jar`, `headers`
 * (raw lines ending in "\r\n") and `body` may be NULL; a body is sent as
 * application/x-www-form-urlencoded unless `headers` has a Content-Type.
 * Returns the client's code; the caller clears `resp`.
 */
int h_http(const struct h_server *s, const char *method, const char *path, struct h_jar *jar,
	   const char *headers, const char *body, size_t body_len, struct client_response *resp);

/* h_http() with a timeout of `timeout_ms` instead of H_IO_TIMEOUT_MS. */
int h_http_ex(const struct h_server *s, const char *method, const char *path, struct h_jar *jar,
	      const char *headers, const char *body, size_t body_len, int timeout_ms,
	      struct client_response *resp);

/* The value of the response's Set-Cookie line for `name` (the whole line,
 * attributes included), or NULL. */
const char *h_set_cookie(const struct client_response *r, const char *name);

/* GET /chat/ (for the csrftoken cookie), then POST /chat/ with the form
 * username, room, csrfmiddlewaretoken. 0 when the answer is a 302 with a
 * sessionid cookie (kept in the jar); -1 otherwise (diagnostic printed). */
int h_login(const struct h_server *s, struct h_jar *jar, const char *name, const char *room);

/* 0 when GET /healthz answers 200 "ok". */
int h_healthz(const struct h_server *s);

/* ---- WebSocket ---- */

/*
 * Opens `path` with the jar's cookies (jar may be NULL) and `origin` (NULL:
 * no Origin header). `*status` (may be NULL) gets the handshake status (101
 * on success, the HTTP status when refused, 0 when no answer). Returns the
 * client's code.
 */
int h_ws_open(const struct h_server *s, const char *path, const struct h_jar *jar,
	      const char *origin, struct client_ws **out, int *status);

/* Sends `text` as one text frame. */
int h_ws_send(struct client_ws *ws, const char *text);
/* Sends json_dumps(`v`) (compact) and decrefs `v`. */
int h_ws_send_json(struct client_ws *ws, json_t *v);
/* {"message": text} */
int h_ws_send_chat(struct client_ws *ws, const char *text);

/*
 * The next text message as JSON (new reference), or NULL on a timeout, a
 * close, an error or text that is not JSON; the diagnostic printed names
 * `who`.
 */
json_t *h_recv_json(struct client_ws *ws, int timeout_ms, const char *who);

/*
 * True when nothing arrives within `ms`; otherwise prints what came (as
 * from `who`) and returns false. A close also counts as something.
 */
bool h_ws_silent(struct client_ws *ws, int ms, const char *who);

/*
 * Reads and drops data messages until a close frame. Returns its code,
 * 0 when the socket ended without one (EOF or reset), -1 on timeout or
 * another error. `*n_data` (may be NULL) gets the number of data
 * messages dropped.
 */
int h_ws_expect_close(struct client_ws *ws, int timeout_ms, long *n_data);

/*
 * Sends {"message": text} from `from` and waits up to `timeout_ms` until
 * `to` receives a chat message with that text (other messages are
 * skipped). 0 when it did; -1 otherwise (diagnostic printed).
 */
int h_chat_roundtrip(struct client_ws *from, struct client_ws *to, const char *text,
		     int timeout_ms);

/*
 * A chat room with a witness: a well-behaved client that checks, after
 * each misbehaving client, that nobody else noticed anything.
 */
struct h_room {
	const struct h_server *s;
	struct client_ws *witness;
	int round;
};

/* The witness sends "witness <n> after <after>" and receives it back
 * within 3 s: 0, or -1 (diagnostic naming `after` printed; also when the
 * witness is not connected). */
int h_witness_roundtrip(struct h_room *rm, const char *after);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t h_now_ms(void);
/* Sleeps `ms` (pacing only, never as an assertion). */
void h_sleep_ms(int ms);

#endif
