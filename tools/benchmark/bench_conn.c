/*
 * bench_conn.c - one connection of the benchmark engine (bench_int.h):
 * its output queue (masked frames, written once per loop turn), its life
 * (connect, upgrade request, close) and its input (the 101 response, then
 * frames parsed straight out of the engine's shared read buffer).
 * Single-threaded.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_int.h"
#include "client.h"
#include "log.h"

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

void bench__conn_mark_dirty(struct bench_engine *e, struct conn *c)
{
	if (!c->dirty) {
		c->dirty = true;
		e->dirty[e->n_dirty++] = (uint32_t)(c - e->conns);
	}
}

/* Queues one masked frame. False when out of memory. */
bool bench__conn_queue_frame(struct bench_engine *e, struct conn *c, int opcode,
			     const void *data, size_t len)
{
	uint64_t r = bench__rnd(e);
	uint8_t mask[4] = {(uint8_t)r, (uint8_t)(r >> 8), (uint8_t)(r >> 16), (uint8_t)(r >> 24)};
	const uint8_t *src = data;
	uint8_t *dst;

	if (!out_reserve(c, WSFRAME_HEADER_MAX + len))
		return false;
	dst = (uint8_t *)c->out + c->out_len;
	dst += wsframe_header_encode(dst, opcode, true, len, mask);
	for (size_t i = 0; i < len; i++)
		dst[i] = src[i] ^ mask[i & 3];
	c->out_len = (size_t)((char *)dst + len - c->out);
	bench__conn_mark_dirty(e, c);
	return true;
}

/* ---- connection life --------------------------------------------------- */

void bench__conn_close(struct bench_engine *e, struct conn *c)
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
void bench__conn_fail(struct bench_engine *e, struct conn *c, const char *why, int err)
{
	if (e->connect_errors < 5)
		LOG(LOG_WARN, "bench", "connection %u: %s%s%s", (unsigned)(c - e->conns), why,
		    err ? ": " : "", err ? strerror(err) : "");
	else if (e->connect_errors == 5)
		LOG(LOG_WARN, "bench", "more connection errors follow, not logged");
	e->connect_errors++;
	bench__conn_close(e, c);
}

static int set_events(struct bench_engine *e, struct conn *c, uint32_t ev)
{
	struct epoll_event ee = {.events = ev, .data.u32 = (uint32_t)(c - e->conns)};

	return epoll_ctl(e->ep, EPOLL_CTL_MOD, c->fd, &ee);
}

/* TCP connected: queue the upgrade request. */
void bench__conn_connected(struct bench_engine *e, struct conn *c)
{
	uint8_t raw[16];
	char key[25], path[1024], req[2048];
	size_t n;

	for (int i = 0; i < 16; i += 8) {
		uint64_t r = bench__rnd(e);
		memcpy(raw + i, &r, 8);
	}
	bench_base64(raw, 16, key);
	if (client_ws_accept(key, c->accept) != 0) {
		bench__conn_fail(e, c, "out of memory", 0);
		return;
	}
	if (!bench_path_expand(e->o->path, c->room, path, sizeof(path))) {
		bench__conn_fail(e, c, "path too long", 0);
		return;
	}
	n = bench_handshake_request(req, sizeof(req), e->o->host, e->o->port, path, e->o->origin,
				    key);
	if (!n || !out_reserve(c, n)) {
		bench__conn_fail(e, c, "request too long", 0);
		return;
	}
	memcpy(c->out + c->out_len, req, n);
	c->out_len += n;
	c->state = C_HANDSHAKE;
	if (set_events(e, c, EPOLLIN)) {
		bench__conn_fail(e, c, "epoll_ctl", errno);
		return;
	}
	bench__conn_mark_dirty(e, c);
}

void bench__conn_start(struct bench_engine *e, struct conn *c)
{
	int one = 1;
	struct epoll_event ee = {.events = EPOLLOUT, .data.u32 = (uint32_t)(c - e->conns)};

	c->state = C_CONNECTING;
	e->in_flight++;
	c->deadline_ns = e->now + (uint64_t)(e->o->connect_timeout * 1e9);
	c->fd = socket(e->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		bench__conn_fail(e, c, "socket", errno);
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (epoll_ctl(e->ep, EPOLL_CTL_ADD, c->fd, &ee)) {
		bench__conn_fail(e, c, "epoll_ctl", errno);
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&e->addr, e->addrlen) == 0) {
		bench__conn_connected(e, c);
		return;
	}
	if (errno != EINPROGRESS)
		bench__conn_fail(e, c, "connect", errno);
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
		if (bench__conn_queue_frame(e, c, WSFRAME_OP_CLOSE, code, 2))
			(void)!send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				    MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	bench__conn_close(e, c);
}

/* One frame with its unmasked payload. False when the connection closed. */
static bool on_frame(struct bench_engine *e, struct conn *c, const struct client_frame_header *h,
		     uint8_t *pl, size_t n)
{
	struct client_ws_message msg;
	int rc;

	switch (h->opcode) {
	case WSFRAME_OP_PING:
		bench__conn_queue_frame(e, c, WSFRAME_OP_PONG, pl, n);
		return true;
	case WSFRAME_OP_PONG:
		return true;
	case WSFRAME_OP_CLOSE:
		on_peer_close(e, c, pl, n);
		return false;
	default:
		break;
	}
	if (h->fin && h->opcode != WSFRAME_OP_CONT && !c->frag) {
		if (h->opcode == WSFRAME_OP_TEXT)
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
		if (msg.opcode == WSFRAME_OP_TEXT)
			on_message(e, c, msg.data, msg.len);
		free(msg.data);
	}
	return true;
fail:
	e->bad_messages++;
	e->closes++;
	bench__conn_close(e, c);
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
			bench__conn_close(e, c);
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

void bench__conn_read_handshake(struct bench_engine *e, struct conn *c)
{
	uint8_t buf[4096];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
	size_t used;
	int status, rc;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		bench__conn_fail(e, c, n == 0 ? "closed during the handshake" : "recv",
				 n ? errno : 0);
		return;
	}
	if (c->in_len + (size_t)n > 65536) {
		bench__conn_fail(e, c, "handshake response too long", 0);
		return;
	}
	if (c->in_len + (size_t)n > c->in_cap) {
		uint8_t *nb = realloc(c->in, c->in_len + (size_t)n);

		if (!nb) {
			bench__conn_fail(e, c, "out of memory", 0);
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
		char why[128];

		snprintf(why, sizeof(why), "handshake failed: %s (status %d)", ch_strerror(rc),
			 status);
		bench__conn_fail(e, c, why, 0);
		return;
	}
	e->in_flight--;
	c->state = C_OPEN;
	e->n_open++;
	e->room_open[c->room]++;
	size_t rest = c->in_len - used;
	if (rest) {
		if (!ensure_rbuf(e, rest)) {
			bench__conn_close(e, c);
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

void bench__conn_read_frames(struct bench_engine *e, struct conn *c)
{
	for (int round = 0; round < 4 && c->state == C_OPEN; round++) {
		size_t have = c->in_len;
		ssize_t n;
		long k;

		if (!ensure_rbuf(e, have + READ_CHUNK)) {
			bench__conn_close(e, c);
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
			bench__conn_close(e, c);
			return;
		}
		if ((size_t)n < e->rbuf_cap - have)
			return; /* drained */
	}
}

/* ---- writes ---------------------------------------------------------- */

void bench__flush_dirty(struct bench_engine *e)
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
				bench__conn_fail(e, c, "send", errno);
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

