/*
 * bench_run.c - the epoll connection engine of channels-benchmark: see
 * bench_int.h. Single-threaded.
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

/* Queued output over this stops a sender (the server is not reading). */
#define OUT_LIMIT (4u * 1024u * 1024u)
/* Free space the shared read buffer offers each recv(). */
#define READ_CHUNK (256u * 1024u)
#define MAX_EVENTS 1024
/* A sender further behind its schedule than this skips ahead. */
#define MAX_LAG_NS 1000000000ull

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

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: keys and masks need no cryptographic strength here. */
static uint64_t rnd(struct bench_engine *e)
{
	e->rng ^= e->rng >> 12;
	e->rng ^= e->rng << 25;
	e->rng ^= e->rng >> 27;
	return e->rng * 2685821657736338717ull;
}

/* ---- output ------------------------------------------------------------ */

static bool out_reserve(struct conn *c, size_t n)
{
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + n <= c->out_cap)
		return true;
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		if (c->out_len + n <= c->out_cap)
			return true;
	}
	size_t cap = c->out_cap ? c->out_cap : 512;
	while (cap < c->out_len + n)
		cap *= 2;
	char *nb = realloc(c->out, cap);
	if (!nb)
		return false;
	c->out = nb;
	c->out_cap = cap;
	return true;
}

static void mark_dirty(struct bench_engine *e, struct conn *c)
{
	if (!c->dirty) {
		c->dirty = true;
		e->dirty[e->n_dirty++] = (uint32_t)(c - e->conns);
	}
}

/* Queues one masked frame. False when out of memory. */
static bool queue_frame(struct bench_engine *e, struct conn *c, int opcode, const void *data,
			size_t len)
{
	uint64_t r = rnd(e);
	uint8_t mask[4] = {(uint8_t)r, (uint8_t)(r >> 8), (uint8_t)(r >> 16), (uint8_t)(r >> 24)};
	const uint8_t *src = data;
	uint8_t *dst;

	if (!out_reserve(c, CLIENT_FRAME_HEADER_MAX + len))
		return false;
	dst = (uint8_t *)c->out + c->out_len;
	dst += client_frame_header_encode(dst, opcode, true, len, mask);
	for (size_t i = 0; i < len; i++)
		dst[i] = src[i] ^ mask[i & 3];
	c->out_len = (size_t)((char *)dst + len - c->out);
	mark_dirty(e, c);
	return true;
}

/* ---- connection life --------------------------------------------------- */

static void conn_close(struct bench_engine *e, struct conn *c)
{
	if (c->state == C_CLOSED || c->state == C_IDLE)
		return;
	if (c->state == C_OPEN) {
		e->n_open--;
		e->room_open[c->room]--;
	} else {
		e->in_flight--;
	}
	if (c->fd >= 0)
		close(c->fd); /* also leaves the epoll set */
	c->fd = -1;
	c->state = C_CLOSED;
	free(c->out);
	free(c->in);
	c->out = NULL;
	c->in = NULL;
	c->out_cap = c->out_len = c->out_off = 0;
	c->in_cap = c->in_len = 0;
	if (c->frag) {
		client_assembler_clear(c->frag);
		free(c->frag);
		c->frag = NULL;
	}
}

/* A connection that never opened. */
static void conn_fail(struct bench_engine *e, struct conn *c, const char *why, int err)
{
	if (e->connect_errors < 5)
		LOG(LOG_WARN, "bench", "connection %u: %s%s%s", (unsigned)(c - e->conns), why,
		    err ? ": " : "", err ? strerror(err) : "");
	else if (e->connect_errors == 5)
		LOG(LOG_WARN, "bench", "more connection errors follow, not logged");
	e->connect_errors++;
	conn_close(e, c);
}

static int set_events(struct bench_engine *e, struct conn *c, uint32_t ev)
{
	struct epoll_event ee = {.events = ev, .data.u32 = (uint32_t)(c - e->conns)};

	return epoll_ctl(e->ep, EPOLL_CTL_MOD, c->fd, &ee);
}

/* TCP connected: queue the upgrade request. */
static void conn_connected(struct bench_engine *e, struct conn *c)
{
	uint8_t raw[16];
	char key[25], path[1024], req[2048];
	size_t n;

	for (int i = 0; i < 16; i += 8) {
		uint64_t r = rnd(e);
		memcpy(raw + i, &r, 8);
	}
	bench_base64(raw, 16, key);
	if (client_ws_accept(key, c->accept) != 0) {
		conn_fail(e, c, "out of memory", 0);
		return;
	}
	if (!bench_path_expand(e->o->path, c->room, path, sizeof(path))) {
		conn_fail(e, c, "path too long", 0);
		return;
	}
	n = bench_handshake_request(req, sizeof(req), e->o->host, e->o->port, path, e->o->origin,
				    key);
	if (!n || !out_reserve(c, n)) {
		conn_fail(e, c, "request too long", 0);
		return;
	}
	memcpy(c->out + c->out_len, req, n);
	c->out_len += n;
	c->state = C_HANDSHAKE;
	if (set_events(e, c, EPOLLIN)) {
		conn_fail(e, c, "epoll_ctl", errno);
		return;
	}
	mark_dirty(e, c);
}

static void conn_start(struct bench_engine *e, struct conn *c)
{
	int one = 1;
	struct epoll_event ee = {.events = EPOLLOUT, .data.u32 = (uint32_t)(c - e->conns)};

	c->state = C_CONNECTING;
	e->in_flight++;
	c->deadline_ns = e->now + (uint64_t)(e->o->connect_timeout * 1e9);
	c->fd = socket(e->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		conn_fail(e, c, "socket", errno);
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (epoll_ctl(e->ep, EPOLL_CTL_ADD, c->fd, &ee)) {
		conn_fail(e, c, "epoll_ctl", errno);
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&e->addr, e->addrlen) == 0) {
		conn_connected(e, c);
		return;
	}
	if (errno != EINPROGRESS)
		conn_fail(e, c, "connect", errno);
}

/* ---- input ------------------------------------------------------------- */

static void on_message(struct bench_engine *e, struct conn *c, const char *data, size_t len)
{
	uint64_t ts;

	e->received_all++;
	c->received++;
	if (e->count && c->received == (uint64_t)e->count)
		e->count_done++;
	if (e->rx == BENCH_RX_CHAT) {
		struct bench_payload pl;

		if (bench_chat_parse(data, len, &pl)) {
			if (!e->bad_messages)
				LOG(LOG_WARN, "bench", "unexpected message (%zu bytes): %.*s", len,
				    (int)(len < 200 ? len : 200), data);
			e->bad_messages++;
			return;
		}
		if (pl.ts < e->win_start || pl.ts >= e->win_end)
			return;
		e->received++;
		hist_record(&e->hist, e->now > pl.ts ? e->now - pl.ts : 0);
	} else if (e->rx == BENCH_RX_TS) {
		if (bench_ts_parse(data, len, &ts)) {
			if (!e->bad_messages)
				LOG(LOG_WARN, "bench", "unexpected message (%zu bytes): %.*s", len,
				    (int)(len < 200 ? len : 200), data);
			e->bad_messages++;
			return;
		}
		e->received++;
		hist_record(&e->hist, e->now > ts ? e->now - ts : 0);
	} else {
		e->received++;
	}
}

/* The peer closed (close frame or EOF): answer a close frame, then close. */
static void on_peer_close(struct bench_engine *e, struct conn *c, const uint8_t *payload,
			  size_t len)
{
	e->closes++;
	if (payload) {
		uint8_t code[2] = {0x03, 0xe8}; /* 1000 */

		if (len >= 2)
			memcpy(code, payload, 2);
		if (queue_frame(e, c, WS_OP_CLOSE, code, 2))
			(void)!send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				    MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	conn_close(e, c);
}

/* One frame with its unmasked payload. False when the connection closed. */
static bool on_frame(struct bench_engine *e, struct conn *c, const struct client_frame_header *h,
		     uint8_t *pl, size_t n)
{
	struct client_ws_message msg;
	int rc;

	switch (h->opcode) {
	case WS_OP_PING:
		queue_frame(e, c, WS_OP_PONG, pl, n);
		return true;
	case WS_OP_PONG:
		return true;
	case WS_OP_CLOSE:
		on_peer_close(e, c, pl, n);
		return false;
	default:
		break;
	}
	if (h->fin && h->opcode != WS_OP_CONT && !c->frag) {
		if (h->opcode == WS_OP_TEXT)
			on_message(e, c, (const char *)pl, n);
		return true;
	}
	/* Fragmented: rare, so the allocating assembler is fine. */
	if (!c->frag) {
		c->frag = calloc(1, sizeof(*c->frag));
		if (!c->frag)
			goto fail;
	}
	rc = client_assembler_feed(c->frag, h, pl, &msg);
	if (rc < 0)
		goto fail;
	if (rc == CLIENT_ASM_MESSAGE) {
		if (msg.opcode == WS_OP_TEXT)
			on_message(e, c, msg.data, msg.len);
		free(msg.data);
	}
	return true;
fail:
	e->bad_messages++;
	e->closes++;
	conn_close(e, c);
	return false;
}

/*
 * Decodes the complete frames of buf[0..len). Returns the bytes consumed,
 * or -1 when the connection was closed.
 */
static long on_frames(struct bench_engine *e, struct conn *c, uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		struct client_frame_header h;
		int hl = client_frame_header_decode(buf + off, len - off, &h);

		if (hl == 0)
			break;
		if (hl < 0 || h.payload_len > CLIENT_MAX_MESSAGE) {
			e->bad_messages++;
			e->closes++;
			conn_close(e, c);
			return -1;
		}
		if (len - off - (size_t)hl < h.payload_len)
			break;
		uint8_t *pl = buf + off + hl;
		if (h.masked)
			client_frame_mask(pl, (size_t)h.payload_len, h.mask, 0);
		if (!on_frame(e, c, &h, pl, (size_t)h.payload_len))
			return -1;
		off += (size_t)hl + (size_t)h.payload_len;
	}
	return (long)off;
}

static bool ensure_rbuf(struct bench_engine *e, size_t need)
{
	if (need <= e->rbuf_cap)
		return true;
	size_t cap = e->rbuf_cap;
	while (cap < need)
		cap *= 2;
	uint8_t *nb = realloc(e->rbuf, cap);
	if (!nb)
		return false;
	e->rbuf = nb;
	e->rbuf_cap = cap;
	return true;
}

/* Keeps buf[0..len) as the connection's pending input. */
static bool keep_tail(struct conn *c, const uint8_t *buf, size_t len)
{
	if (len > c->in_cap) {
		uint8_t *nb = realloc(c->in, len);
		if (!nb)
			return false;
		c->in = nb;
		c->in_cap = len;
	}
	if (len)
		memmove(c->in, buf, len);
	c->in_len = len;
	return true;
}

static void read_handshake(struct bench_engine *e, struct conn *c)
{
	uint8_t buf[4096];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
	size_t used;
	int status, rc;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_fail(e, c, n == 0 ? "closed during the handshake" : "recv", n ? errno : 0);
		return;
	}
	if (c->in_len + (size_t)n > 65536) {
		conn_fail(e, c, "handshake response too long", 0);
		return;
	}
	if (c->in_len + (size_t)n > c->in_cap) {
		uint8_t *nb = realloc(c->in, c->in_len + (size_t)n);

		if (!nb) {
			conn_fail(e, c, "out of memory", 0);
			return;
		}
		c->in = nb;
		c->in_cap = c->in_len + (size_t)n;
	}
	memcpy(c->in + c->in_len, buf, (size_t)n);
	c->in_len += (size_t)n;
	rc = bench_handshake_parse((const char *)c->in, c->in_len, c->accept, &used, &status);
	if (rc == BENCH_HS_MORE)
		return;
	if (rc != BENCH_HS_OK) {
		char why[64];

		snprintf(why, sizeof(why), "handshake failed: %s (status %d)",
			 rc == BENCH_HS_ESTATUS	  ? "not 101"
			 : rc == BENCH_HS_EACCEPT ? "bad Upgrade/accept"
						  : "malformed response",
			 status);
		conn_fail(e, c, why, 0);
		return;
	}
	e->in_flight--;
	c->state = C_OPEN;
	e->n_open++;
	e->room_open[c->room]++;
	size_t rest = c->in_len - used;
	if (rest) {
		if (!ensure_rbuf(e, rest)) {
			conn_close(e, c);
			return;
		}
		memcpy(e->rbuf, c->in + used, rest);
		c->in_len = 0;
		long k = on_frames(e, c, e->rbuf, rest);
		if (k >= 0)
			keep_tail(c, e->rbuf + k, rest - (size_t)k);
	} else {
		c->in_len = 0;
	}
}

static void read_frames(struct bench_engine *e, struct conn *c)
{
	for (int round = 0; round < 4 && c->state == C_OPEN; round++) {
		size_t have = c->in_len;
		ssize_t n;
		long k;

		if (!ensure_rbuf(e, have + READ_CHUNK)) {
			conn_close(e, c);
			return;
		}
		if (have)
			memcpy(e->rbuf, c->in, have);
		n = recv(c->fd, e->rbuf + have, e->rbuf_cap - have, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			on_peer_close(e, c, NULL, 0); /* EOF or reset */
			return;
		}
		k = on_frames(e, c, e->rbuf, have + (size_t)n);
		if (k < 0)
			return;
		if (!keep_tail(c, e->rbuf + k, have + (size_t)n - (size_t)k)) {
			conn_close(e, c);
			return;
		}
		if ((size_t)n < e->rbuf_cap - have)
			return; /* drained */
	}
}

/* ---- the loop -------------------------------------------------------- */

static void flush_dirty(struct bench_engine *e)
{
	for (uint32_t i = 0; i < e->n_dirty; i++) {
		struct conn *c = &e->conns[e->dirty[i]];
		ssize_t n;

		c->dirty = false;
		if (c->state != C_OPEN && c->state != C_HANDSHAKE)
			continue;
		if (c->out_off == c->out_len)
			continue;
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			if (c->state == C_OPEN)
				on_peer_close(e, c, NULL, 0);
			else
				conn_fail(e, c, "send", errno);
			continue;
		}
		if (n > 0)
			c->out_off += (size_t)n;
		if (c->out_off == c->out_len) {
			c->out_off = c->out_len = 0;
			if (c->want_out && set_events(e, c, EPOLLIN) == 0)
				c->want_out = false;
		} else if (!c->want_out && set_events(e, c, EPOLLIN | EPOLLOUT) == 0) {
			c->want_out = true;
		}
	}
	e->n_dirty = 0;
}

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

			if (n && queue_frame(e, c, WS_OP_TEXT, e->tmp, n)) {
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
				conn_fail(e, c, "connect timeout", 0);
		}
	}
	while (e->next_start < e->n_conns && e->in_flight < (uint32_t)o->connect_concurrency) {
		if (o->connect_rate > 0) {
			double allowed = o->connect_rate * (double)(e->now - phase_start) / 1e9 + 1;

			if ((double)e->next_start >= allowed)
				break;
		}
		conn_start(e, &e->conns[e->next_start++]);
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
				conn_fail(e, c, "connect", err ? err : ECONNREFUSED);
			else
				conn_connected(e, c);
			continue;
		}
		if (ev & EPOLLOUT)
			mark_dirty(e, c);
		if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
			if (c->state == C_HANDSHAKE)
				read_handshake(e, c);
			else if (c->state == C_OPEN)
				read_frames(e, c);
		}
	}
	send_due(e);
	flush_dirty(e);
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
		conn_close(e, &e->conns[i]);
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
	flush_dirty(e);
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
		e->senders[i].next_ns = start + rnd(e) % e->interval_ns;
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
