/*
 * bench_int.h - the connection engine of channels-benchmark (bench_run.c:
 * its loop and API; bench_conn.c: one connection), used by the modes
 * (bench_modes.c). One engine per process, driven from one thread; nothing
 * here is thread-safe.
 *
 * The engine owns every connection: a non-blocking socket in one epoll
 * set, its own WebSocket client state machine (TCP connect, upgrade request,
 * the response parsed by bench_handshake_parse(), then frames decoded with
 * tools/client's pure frame functions). Received bytes land in one shared
 * read buffer; a connection keeps only the tail of a partial frame. Output
 * is queued per connection and written with one send() per connection per
 * loop turn.
 */
#ifndef TOOLS_BENCHMARK_BENCH_INT_H
#define TOOLS_BENCHMARK_BENCH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bench.h"
#include "hist.h"

/* What a received text message is parsed for. */
enum bench_rx {
	BENCH_RX_CHAT, /* {"message":"<ts> <sender> <seq> ..."} */
	BENCH_RX_TS,   /* {"ts":<ns>,...} */
	BENCH_RX_NONE, /* counted only */
};

struct bench_engine;

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/*
 * A new engine for `n_conns` connections of `o` (borrowed for its
 * lifetime); connection i joins room i / per_room (paths with {room}
 * expanded). Resolves o->host. NULL on failure (logged).
 */
struct bench_engine *bench_engine_new(const struct bench_opts *o, uint32_t n_conns,
				      uint32_t per_room, enum bench_rx rx);

/* Closes every socket and frees. NULL is fine. */
void bench_engine_free(struct bench_engine *e);

/*
 * Opens every connection (paced by --connect-rate and
 * --connect-concurrency, each bounded by --connect-timeout). Returns the
 * number open; fills the connect figures of `r` (handshakes_per_s,
 * connections, connect_errors).
 */
uint32_t bench_engine_connect(struct bench_engine *e, struct bench_result *r);

/*
 * Makes the first `per_room_senders` open connections of each room senders.
 * Returns the number of senders.
 */
uint32_t bench_engine_pick_senders(struct bench_engine *e, int per_room_senders);

/*
 * One chat load run: every sender sends `rate` messages/s (staggered) for
 * warmup + duration seconds, then the loop runs `drain` more seconds.
 * Counts only messages whose send timestamp lies in the measured window.
 * Fills the load figures of `r` (sent, expected, received, loss, latency)
 * and, with --server-pid, the server CPU figures: its CPU time read at the
 * start and the end of the measured window (not connect, warmup, drain).
 */
void bench_engine_load(struct bench_engine *e, double rate, double warmup, double duration,
		       double drain, struct bench_result *r);

/*
 * Runs the loop (answering pings, counting messages) for `seconds`, or
 * until every open connection received `count` messages (0: no such stop).
 * Fills received, latency (BENCH_RX_TS) and closes of `r`.
 */
void bench_engine_listen(struct bench_engine *e, double seconds, long count,
			 struct bench_result *r);

/*
 * Runs the loop until no message arrived for `quiet_s` seconds, at most
 * `max_s` seconds: lets a backlog of an earlier run drain. Returns the
 * messages that arrived meanwhile.
 */
uint64_t bench_engine_settle(struct bench_engine *e, double quiet_s, double max_s);

/* Open connections now. */
uint32_t bench_engine_open(const struct bench_engine *e);

/* Close frames and EOFs received so far. */
uint64_t bench_engine_closes(const struct bench_engine *e);

/* Fills the latency figures of `r` from `h`. */
void bench_result_latency(struct bench_result *r, const struct hist *h);

/* ---- the engine's layout and its two files' calls (bench_run.c, bench_conn.c) */

/* Queued output over this stops a sender (the server is not reading). */
#define OUT_LIMIT (4u * 1024u * 1024u)
/* Free space the shared read buffer offers each recv(). */
#define READ_CHUNK (256u * 1024u)

struct client_assembler;

enum conn_state {
	C_IDLE = 0, /* not started */
	C_CONNECTING,
	C_HANDSHAKE, /* request queued or sent, response awaited */
	C_OPEN,
	C_CLOSED, /* failed or closed; fd is -1 */
};

/* One per connection; lives in the engine's array. */
struct conn {
	int fd;
	uint8_t state;
	bool dirty;    /* in the flush list */
	bool want_out; /* EPOLLOUT registered */
	int room;
	uint64_t deadline_ns;
	uint64_t received; /* listen: for --count */
	char *out;	   /* queued output: out[out_off..out_len) */
	size_t out_off, out_len, out_cap;
	uint8_t *in; /* handshake bytes, then the tail of a partial frame */
	size_t in_len, in_cap;
	struct client_assembler *frag; /* a fragmented message in progress */
	char accept[29];
};

struct sender {
	uint32_t conn;
	uint64_t next_ns;
	uint64_t seq;
};

struct bench_engine {
	const struct bench_opts *o;
	enum bench_rx rx;
	int ep;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct conn *conns;
	uint32_t n_conns, per_room;
	int n_rooms;
	uint32_t *room_open; /* open connections per room */
	uint32_t n_open;
	uint32_t next_start, in_flight;
	uint64_t connect_errors, closes, bad_messages, skipped;
	uint32_t *dirty;
	uint32_t n_dirty;
	struct sender *senders;
	uint32_t *heap; /* sender indices, min-heap on next_ns */
	uint32_t n_senders;
	uint64_t interval_ns;
	bool sending;
	uint64_t send_until_ns;
	uint64_t win_start, win_end;
	uint64_t sent, expected, received, received_all;
	long count;
	uint32_t count_done;
	struct hist hist;
	uint8_t *rbuf;
	size_t rbuf_cap;
	char *tmp; /* one message text */
	size_t tmp_cap;
	uint64_t rng;
	uint64_t now;	       /* time of the current loop turn */
	uint64_t next_scan_ns; /* next look for expired handshakes */
};

/* xorshift64*: keys and masks need no cryptographic strength here. */
static inline uint64_t bench__rnd(struct bench_engine *e)
{
	e->rng ^= e->rng >> 12;
	e->rng ^= e->rng << 25;
	e->rng ^= e->rng >> 27;
	return e->rng * 2685821657736338717ull;
}

/* bench_conn.c. `c` is one of e->conns. */

/* Starts a TCP connect (C_CONNECTING, counted in flight); on an immediate
 * connect, bench__conn_connected(). A failure is counted and logged. */
void bench__conn_start(struct bench_engine *e, struct conn *c);
/* TCP connected: queues the upgrade request (C_HANDSHAKE). */
void bench__conn_connected(struct bench_engine *e, struct conn *c);
/* A connection that never opened: counts a connect error (the first 5
 * logged with `why` and strerror(err) when err != 0), then closes it. */
void bench__conn_fail(struct bench_engine *e, struct conn *c, const char *why, int err);
/* Closes the socket, frees the buffers, updates the open and in-flight
 * counts (C_CLOSED). Idle or closed connections are left alone. */
void bench__conn_close(struct bench_engine *e, struct conn *c);
/* Puts `c` on the list bench__flush_dirty() writes. */
void bench__conn_mark_dirty(struct bench_engine *e, struct conn *c);
/* Queues one masked frame. False when out of memory. */
bool bench__conn_queue_frame(struct bench_engine *e, struct conn *c, int opcode,
			     const void *data, size_t len);
/* Reads what the socket has: the 101 response (C_HANDSHAKE), or frames
 * (C_OPEN), counting and timing the messages as e->rx says. */
void bench__conn_read_handshake(struct bench_engine *e, struct conn *c);
void bench__conn_read_frames(struct bench_engine *e, struct conn *c);
/* One send() per dirty connection of its queued output; EPOLLOUT asked
 * for while some is left. Empties the dirty list. */
void bench__flush_dirty(struct bench_engine *e);

/* ---- bench_proc.c (readers; the parser is in bench.h) ---------------- */

/* CPU time (user + system, every thread) of process `pid` in seconds, from
 * /proc/PID/stat (clock-tick resolution); -1 when unreadable. */
double bench_proc_cpu_s(long pid);

/* VmRSS of process `pid` in bytes, -1 when unreadable. */
long long bench_proc_rss(long pid);

/* One sample of the server's CPU time, taken once the loop passed `due`. */
struct bench_cpu_mark {
	uint64_t due; /* CLOCK_MONOTONIC ns */
	uint64_t at;  /* when sampled; 0 until then */
	double cpu_s; /* bench_proc_cpu_s(), -1 when unreadable */
};

/* Samples `pid` into `m` unless done already or `now` < m->due. */
void bench_cpu_mark(long pid, uint64_t now, struct bench_cpu_mark *m);

/*
 * Fills server_cpu_s, server_cpu_window_s and server_cpu_us_per_delivery of
 * `r` from the samples at the window's start `a` and end `b`; `received`
 * deliveries were counted (by send time) over `duration` seconds. Leaves
 * them -1 (and logs) when a sample is missing.
 */
void bench_cpu_result(long pid, const struct bench_cpu_mark *a, const struct bench_cpu_mark *b,
		      uint64_t received, double duration, struct bench_result *r);

/* ---- bench_publish.c ------------------------------------------------- */

/* The publish mode. Fills `r`; returns 0, or 1 on a setup error. */
int bench_publish_run(const struct bench_opts *o, struct bench_result *r);

#endif
