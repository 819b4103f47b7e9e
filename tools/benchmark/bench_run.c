/*
 * bench_run.c - the epoll connection engine of channels-benchmark: see
 * bench_int.h. Its loop (epoll events, the senders' schedule, pacing of
 * new connections) and its API; one connection's life and bytes are in
 * bench_conn.c. Single-threaded.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_int.h"
#include "client.h"
#include "log.h"

#define MAX_EVENTS 1024
/* A sender further behind its schedule than this skips ahead. */
#define MAX_LAG_NS 1000000000ull

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the loop -------------------------------------------------------- */

static void heap_swap(struct bench_engine *e, uint32_t a, uint32_t b)
{
	uint32_t t = e->heap[a];

	e->heap[a] = e->heap[b];
	e->heap[b] = t;
}

static uint64_t heap_key(const struct bench_engine *e, uint32_t i)
{
	return e->senders[e->heap[i]].next_ns;
}

static void heap_down(struct bench_engine *e, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < e->n_senders && heap_key(e, l) < heap_key(e, m))
			m = l;
		if (r < e->n_senders && heap_key(e, r) < heap_key(e, m))
			m = r;
		if (m == i)
			return;
		heap_swap(e, i, m);
		i = m;
	}
}

static void send_due(struct bench_engine *e)
{
	uint64_t now = e->now;

	if (!e->sending || !e->n_senders)
		return;
	if (now >= e->send_until_ns) {
		e->sending = false;
		return;
	}
	while (e->senders[e->heap[0]].next_ns <= now) {
		struct sender *s = &e->senders[e->heap[0]];
		struct conn *c = &e->conns[s->conn];

		if (c->state == C_OPEN && c->out_len - c->out_off < OUT_LIMIT) {
			size_t n = bench_chat_build(e->tmp, e->tmp_cap, now, e->heap[0], s->seq,
						    (size_t)e->o->message_size);

			if (n && bench__conn_queue_frame(e, c, WSFRAME_OP_TEXT, e->tmp, n)) {
				s->seq++;
				if (now >= e->win_start && now < e->win_end) {
					e->sent++;
					e->expected += e->room_open[c->room];
				}
			}
		} else if (c->state == C_OPEN) {
			e->skipped++;
		}
		s->next_ns += e->interval_ns;
		if (s->next_ns + MAX_LAG_NS < now)
			s->next_ns = now + e->interval_ns;
		heap_down(e, 0);
	}
}

/* Expires handshakes past their deadline and starts new connections. */
static void connect_step(struct bench_engine *e, uint64_t phase_start)
{
	const struct bench_opts *o = e->o;

	if (e->in_flight && e->now >= e->next_scan_ns) {
		e->next_scan_ns = e->now + 100000000ull;
		for (uint32_t i = 0; i < e->next_start; i++) {
			struct conn *c = &e->conns[i];

			if ((c->state == C_CONNECTING || c->state == C_HANDSHAKE) &&
			    e->now > c->deadline_ns)
				bench__conn_fail(e, c, "connect timeout", 0);
		}
	}
	while (e->next_start < e->n_conns && e->in_flight < (uint32_t)o->connect_concurrency) {
		if (o->connect_rate > 0) {
			double allowed = o->connect_rate * (double)(e->now - phase_start) / 1e9 + 1;

			if ((double)e->next_start >= allowed)
				break;
		}
		bench__conn_start(e, &e->conns[e->next_start++]);
	}
}

static void turn(struct bench_engine *e, int timeout_ms)
{
	struct epoll_event evs[MAX_EVENTS];
	int n = epoll_wait(e->ep, evs, MAX_EVENTS, timeout_ms);

	e->now = bench_now_ns();
	for (int i = 0; i < n; i++) {
		struct conn *c = &e->conns[evs[i].data.u32];
		uint32_t ev = evs[i].events;

		if (c->state == C_CONNECTING) {
			int err = 0;
			socklen_t len = sizeof(err);

			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (err || (ev & (EPOLLERR | EPOLLHUP)))
				bench__conn_fail(e, c, "connect", err ? err : ECONNREFUSED);
			else
				bench__conn_connected(e, c);
			continue;
		}
		if (ev & EPOLLOUT)
			bench__conn_mark_dirty(e, c);
		if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
			if (c->state == C_HANDSHAKE)
				bench__conn_read_handshake(e, c);
			else if (c->state == C_OPEN)
				bench__conn_read_frames(e, c);
		}
	}
	send_due(e);
	bench__flush_dirty(e);
}

/* Milliseconds until `t`, rounded up, at most `cap`. */
static int ms_until(uint64_t now, uint64_t t, int cap)
{
	if (t <= now)
		return 0;
	uint64_t ms = (t - now + 999999) / 1000000;
	return ms > (uint64_t)cap ? cap : (int)ms;
}

/* ---- the API --------------------------------------------------------- */

struct bench_engine *bench_engine_new(const struct bench_opts *o, uint32_t n_conns,
				      uint32_t per_room, enum bench_rx rx)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	char port[16];
	struct bench_engine *e = calloc(1, sizeof(*e));
	int rc;

	if (!e)
		return NULL;
	e->o = o;
	e->rx = rx;
	e->ep = -1;
	e->n_conns = n_conns;
	e->per_room = per_room ? per_room : n_conns;
	e->n_rooms = (int)((n_conns + e->per_room - 1) / e->per_room);
	e->rng = bench_now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
	hist_init(&e->hist);
	snprintf(port, sizeof(port), "%d", o->port);
	rc = getaddrinfo(o->host, port, &hints, &res);
	if (rc || !res) {
		LOG(LOG_ERROR, "bench", "cannot resolve %s: %s", o->host, gai_strerror(rc));
		goto fail;
	}
	memcpy(&e->addr, res->ai_addr, res->ai_addrlen);
	e->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	e->conns = calloc(n_conns ? n_conns : 1, sizeof(*e->conns));
	e->dirty = calloc(n_conns ? n_conns : 1, sizeof(*e->dirty));
	e->room_open = calloc((size_t)e->n_rooms + 1, sizeof(*e->room_open));
	e->rbuf_cap = READ_CHUNK * 2;
	e->rbuf = malloc(e->rbuf_cap);
	e->tmp_cap = (size_t)o->message_size + 128;
	e->tmp = malloc(e->tmp_cap);
	e->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!e->conns || !e->dirty || !e->room_open || !e->rbuf || !e->tmp || e->ep < 0) {
		LOG(LOG_ERROR, "bench", "out of memory or epoll_create1 failed");
		goto fail;
	}
	for (uint32_t i = 0; i < n_conns; i++) {
		e->conns[i].fd = -1;
		e->conns[i].room = (int)(i / e->per_room);
	}
	return e;
fail:
	bench_engine_free(e);
	return NULL;
}

void bench_engine_free(struct bench_engine *e)
{
	if (!e)
		return;
	for (uint32_t i = 0; e->conns && i < e->n_conns; i++)
		bench__conn_close(e, &e->conns[i]);
	if (e->ep >= 0)
		close(e->ep);
	free(e->conns);
	free(e->dirty);
	free(e->room_open);
	free(e->rbuf);
	free(e->tmp);
	free(e->senders);
	free(e->heap);
	free(e);
}

uint32_t bench_engine_open(const struct bench_engine *e)
{
	return e->n_open;
}

uint64_t bench_engine_closes(const struct bench_engine *e)
{
	return e->closes;
}

uint32_t bench_engine_connect(struct bench_engine *e, struct bench_result *r)
{
	uint64_t start = bench_now_ns(), last_open = start;
	uint32_t opened_before = e->n_open;

	e->now = start;
	connect_step(e, start);
	while (e->next_start < e->n_conns || e->in_flight) {
		uint32_t before = e->n_open;

		turn(e, e->o->connect_rate > 0 ? 1 : 10);
		if (e->n_open != before)
			last_open = e->now;
		connect_step(e, start);
	}
	bench__flush_dirty(e);
	r->connections = e->n_open;
	r->connect_errors = e->connect_errors;
	if (e->n_open > opened_before && last_open > start)
		r->handshakes_per_s =
		    (double)(e->n_open - opened_before) / ((double)(last_open - start) / 1e9);
	return e->n_open;
}

uint32_t bench_engine_pick_senders(struct bench_engine *e, int per_room_senders)
{
	uint32_t *picked = calloc((size_t)e->n_rooms, sizeof(*picked));

	free(e->senders);
	free(e->heap);
	e->n_senders = 0;
	e->senders = calloc((size_t)e->n_rooms * (size_t)per_room_senders + 1, sizeof(*e->senders));
	e->heap = calloc((size_t)e->n_rooms * (size_t)per_room_senders + 1, sizeof(*e->heap));
	if (!picked || !e->senders || !e->heap) {
		free(picked);
		return 0;
	}
	for (uint32_t i = 0; i < e->n_conns; i++) {
		struct conn *c = &e->conns[i];

		if (c->state != C_OPEN || picked[c->room] >= (uint32_t)per_room_senders)
			continue;
		picked[c->room]++;
		e->senders[e->n_senders].conn = i;
		e->heap[e->n_senders] = e->n_senders;
		e->n_senders++;
	}
	free(picked);
	return e->n_senders;
}

static void reset_counters(struct bench_engine *e)
{
	e->sent = e->expected = e->received = e->received_all = 0;
	e->bad_messages = e->skipped = 0;
	e->count_done = 0;
	hist_init(&e->hist);
}

void bench_result_latency(struct bench_result *r, const struct hist *h)
{
	if (!h->total)
		return;
	r->p50_ms = (double)hist_percentile(h, 50) / 1e6;
	r->p90_ms = (double)hist_percentile(h, 90) / 1e6;
	r->p99_ms = (double)hist_percentile(h, 99) / 1e6;
	r->p999_ms = (double)hist_percentile(h, 99.9) / 1e6;
	r->max_ms = (double)h->max_ns / 1e6;
	r->mean_ms = hist_mean(h) / 1e6;
}

void bench_engine_load(struct bench_engine *e, double rate, double warmup, double duration,
		       double drain, struct bench_result *r)
{
	uint64_t start = bench_now_ns(), drain_end;
	struct bench_cpu_mark cpu0 = {0, 0, -1}, cpu1 = {0, 0, -1};

	reset_counters(e);
	e->interval_ns = (uint64_t)(1e9 / rate);
	if (!e->interval_ns)
		e->interval_ns = 1;
	e->win_start = start + (uint64_t)(warmup * 1e9);
	e->win_end = e->win_start + (uint64_t)(duration * 1e9);
	e->send_until_ns = e->win_end;
	drain_end = e->win_end + (uint64_t)(drain * 1e9);
	cpu0.due = e->win_start;
	cpu1.due = e->win_end;
	/* Staggered starts spread the senders over one interval. */
	for (uint32_t i = 0; i < e->n_senders; i++) {
		e->senders[i].next_ns = start + bench__rnd(e) % e->interval_ns;
		e->heap[i] = i;
	}
	for (uint32_t i = e->n_senders / 2 + 1; i-- > 0;)
		heap_down(e, i);
	e->sending = e->n_senders > 0;
	e->now = start;
	while (e->now < drain_end) {
		uint64_t next = drain_end;

		if (e->sending && e->n_senders) {
			next = e->senders[e->heap[0]].next_ns;
			if (next > e->send_until_ns)
				next = e->send_until_ns;
		}
		if (e->o->server_pid && !cpu0.at && next > cpu0.due)
			next = cpu0.due;
		turn(e, ms_until(bench_now_ns(), next, 100));
		if (e->o->server_pid) {
			bench_cpu_mark(e->o->server_pid, e->now, &cpu0);
			bench_cpu_mark(e->o->server_pid, e->now, &cpu1);
		}
		if (!e->sending && e->n_open == 0)
			break;
		/* Everything measured has arrived: no need to wait the whole drain. */
		if (!e->sending && e->received >= e->expected && e->expected)
			break;
	}
	r->sent = e->sent;
	r->expected = e->expected;
	r->received = e->received;
	r->loss = (int64_t)e->expected - (int64_t)e->received;
	r->loss_pct = e->expected ? 100.0 * (double)r->loss / (double)e->expected : 0;
	r->deliveries_per_s = (double)e->received / duration;
	r->closes = e->closes;
	bench_result_latency(r, &e->hist);
	if (e->o->server_pid)
		bench_cpu_result(e->o->server_pid, &cpu0, &cpu1, e->received, duration, r);
	if (e->bad_messages)
		LOG(LOG_WARN, "bench", "%llu messages without a parsable payload",
		    (unsigned long long)e->bad_messages);
	if (e->skipped)
		LOG(LOG_WARN, "bench", "%llu sends skipped: the server was not reading",
		    (unsigned long long)e->skipped);
}

uint64_t bench_engine_settle(struct bench_engine *e, double quiet_s, double max_s)
{
	uint64_t start = bench_now_ns(), end = start + (uint64_t)(max_s * 1e9);
	uint64_t quiet = (uint64_t)(quiet_s * 1e9), last = start, before, seen;

	e->sending = false;
	e->now = start;
	before = e->received_all;
	seen = before;
	while (e->now < end && e->now - last < quiet && e->n_open) {
		turn(e, ms_until(e->now, last + quiet, 100));
		if (e->received_all != seen) {
			seen = e->received_all;
			last = e->now;
		}
	}
	return e->received_all - before;
}

void bench_engine_listen(struct bench_engine *e, double seconds, long count, struct bench_result *r)
{
	uint64_t start = bench_now_ns(), end = start + (uint64_t)(seconds * 1e9);

	reset_counters(e);
	e->count = count;
	e->sending = false;
	e->now = start;
	while (e->now < end) {
		turn(e, ms_until(e->now, end, 100));
		if (count > 0 && e->count_done >= e->n_open)
			break;
		if (e->n_open == 0)
			break;
	}
	r->received = e->received;
	r->closes = e->closes;
	r->deliveries_per_s = (double)e->received / ((double)(e->now - start) / 1e9);
	bench_result_latency(r, &e->hist);
	if (e->bad_messages)
		LOG(LOG_WARN, "bench", "%llu messages without a parsable \"ts\"",
		    (unsigned long long)e->bad_messages);
}
