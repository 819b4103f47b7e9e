/*
 * bench.h - channels-benchmark, the load generator of the project's
 * benchmarks: the pure parts (options, payload encoding and parsing, the
 * handshake request and response, the result report), shared by the files
 * of tools/benchmark/ and unit-tested by tests/unit/benchmark/.
 *
 * Everything here is pure: bytes in, result out, no I/O, no global state.
 */
#ifndef TOOLS_BENCHMARK_BENCH_H
#define TOOLS_BENCHMARK_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* ---- bench_opts.c ---------------------------------------------------- */

enum bench_mode {
	BENCH_FIXED = 0,
	BENCH_MAX,
	BENCH_IDLE,
	BENCH_LISTEN,
	BENCH_PUBLISH,
};

/* Parsed command line. Strings point into argv (borrowed, never freed). */
struct bench_opts {
	const char *host;
	int port;
	const char *path;
	int rooms;
	int clients; /* per room (chat modes), or total (listen) */
	int senders; /* per room */
	double rate; /* messages/s per sender (publish: messages/s) */
	int message_size;
	double duration, warmup, drain;
	const char *origin;  /* NULL: no Origin header */
	double connect_rate; /* handshakes/s, 0 = unlimited */
	int connect_concurrency;
	double connect_timeout;
	enum bench_mode mode;
	double p99_limit_ms;
	int max_probes;
	int connections; /* idle */
	double hold;	 /* idle */
	long server_pid; /* idle, fixed, max: 0 = none */
	long count;	 /* listen: messages per client, 0 = none */
	long expect;	 /* listen: -1 = unknown */
	const char *expect_file;
	const char *redis;
	const char *layer_prefix;
	const char *group;
	bool json;
	bool quiet;
};

/* Fills the defaults of --help. */
void bench_opts_defaults(struct bench_opts *o);

/*
 * Parses argv[1..argc). "--opt value" and "--opt=value" both work.
 * Returns 0, 1 for --help, or -1 with a message in `err`.
 * Checks ranges (positive counts, senders <= clients, ...).
 */
int bench_opts_parse(struct bench_opts *o, int argc, char **argv, char *err, size_t errlen);

/* The --help text (static). */
const char *bench_usage(void);

const char *bench_mode_name(enum bench_mode m);

/* ---- bench_msg.c ----------------------------------------------------- */

/* Decimal digits of v written at `out` (no NUL); returns the count (<= 20). */
size_t bench_u64_str(char *out, uint64_t v);

/*
 * The chat message text {"message":"<ts> <sender> <seq> <pad x's>"} written
 * at `out` (no NUL). Returns its length, 0 when over `cap`.
 */
size_t bench_chat_build(char *out, size_t cap, uint64_t ts, uint64_t sender, uint64_t seq,
			size_t pad);

/* What a chat message carries. */
struct bench_payload {
	uint64_t ts;
	uint64_t sender;
	uint64_t seq;
};

/*
 * Finds the "message" key of a JSON object (any key order, blanks around
 * the colon) and parses the "<ts> <sender> <seq>" at the start of its
 * string value. Returns 0, or -1 when absent or malformed.
 */
int bench_chat_parse(const char *s, size_t len, struct bench_payload *p);

/*
 * Finds the "ts" key of a JSON object (blanks around the colon allowed) and
 * parses its non-negative integer value. Returns 0 or -1.
 */
int bench_ts_parse(const char *s, size_t len, uint64_t *ts);

/* The publisher's JSON {"type":"name.gossip","ts":..,"seq":..,"pad":"x.."};
 * length, 0 when over `cap`. */
size_t bench_gossip_build(char *out, size_t cap, uint64_t ts, uint64_t seq, size_t pad);

/*
 * Replaces each "{room}" of `pattern` by `room`. Returns the length, or 0
 * when the result (with its NUL) does not fit in `cap`.
 */
size_t bench_path_expand(const char *pattern, int room, char *out, size_t cap);

/* Standard base64 of `len` bytes, NUL-terminated; `out` holds 4*ceil(len/3)+1. */
void bench_base64(const uint8_t *in, size_t len, char *out);

/*
 * The upgrade request for `path` with `key` (24 base64 chars) and an
 * optional Origin. Returns its length, 0 when over `cap`.
 */
size_t bench_handshake_request(char *out, size_t cap, const char *host, int port, const char *path,
			       const char *origin, const char *key);

/* What bench_handshake_parse() returns besides a negative CH_E* code
 * (error.h): CH_EPROTO (malformed HTTP), CH_EHANDSHAKE (a complete non-101
 * response head), CH_EACCEPT (a 101 without Upgrade: websocket, or with a
 * wrong accept). */
enum bench_hs_result {
	BENCH_HS_MORE = 0,     /* incomplete: read more */
	BENCH_HS_OK = 1,       /* a valid 101 */
};

/*
 * Parses (with llhttp) the handshake response in buf[0..len), which holds
 * every byte received so far; may be called again with more bytes. On
 * BENCH_HS_OK, *used is the length of the response head (the bytes after
 * it are WebSocket frames). *status receives the status code once known
 * (0 before). `accept` is the expected Sec-WebSocket-Accept.
 */
int bench_handshake_parse(const char *buf, size_t len, const char *accept, size_t *used,
			  int *status);

/*
 * Splits "redis://host[:port][/db]" (port 6379, db 0 by default; an IPv6
 * host in brackets). Returns 0, or -1 for another scheme, a password, a bad
 * port or db, or a host over `hostcap` - 1 bytes.
 */
int bench_redis_url(const char *url, char *host, size_t hostcap, int *port, int *db);

/* ---- bench_proc.c --------------------------------------------------- */

/*
 * Parses the text of /proc/PID/stat in s[0..len): *ticks = utime + stime
 * (fields 14 and 15, clock ticks; the process' line counts all its threads,
 * live and exited). The command name (field 2) may hold blanks and
 * parentheses: fields are counted from the LAST ')'. Returns 0, or -1 when
 * malformed or cut short.
 */
int bench_proc_stat_ticks(const char *s, size_t len, uint64_t *ticks);

/* ---- the report (bench_msg.c) ----------------------------------------- */

/* Every figure of one run; -1 in a figure that does not apply. */
struct bench_result {
	enum bench_mode mode;
	int rooms, clients, senders;
	double rate;	   /* per sender (publish: total) */
	double total_rate; /* messages/s sent in all */
	uint64_t sent, expected, received;
	int64_t loss;
	double loss_pct;
	double deliveries_per_s;
	double p50_ms, p90_ms, p99_ms, p999_ms, max_ms, mean_ms;
	double handshakes_per_s;
	uint64_t connections; /* open after the connect phase */
	uint64_t connect_errors;
	uint64_t closes;
	double client_cpu_s, wall_s;
	double rss_per_conn_bytes; /* idle with --server-pid, else -1 */
	/* fixed and max (the best probe) with --server-pid, else -1: the
	 * server's CPU time over the measured window, the window as sampled,
	 * and the CPU time per delivery of that window. */
	double server_cpu_s, server_cpu_window_s, server_cpu_us_per_delivery;
	int ok;			   /* max: the probe met the limits (1/0), else -1 */
	int probes;		   /* max: probes run, else 0 */
};

/* Initialises the "does not apply" figures. */
void bench_result_init(struct bench_result *r, enum bench_mode mode);

/* One JSON object line (with '\n') with every figure. Returns the length
 * (as snprintf: may be >= cap, then the text is cut). */
int bench_result_json(const struct bench_result *r, char *out, size_t cap);

#endif
