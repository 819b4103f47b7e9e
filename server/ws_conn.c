/*
 * ws_conn.c - WebSocket connections: the handshake (RFC 6455 4.2, from the
 * request http_conn.c read) through the URL router to a consumer class,
 * the consumer transport (a bounded queue of shared frames per
 * connection), reading frames, size and rate limits, and the closing
 * handshake.
 *
 * One struct ws_conn exists per WebSocket, from its accepted handshake to
 * RAW_CLOSE, hung on the wsi with lws_set_opaque_user_data(). Everything
 * here runs on the loop thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "server_int.h"
#include "wsframe.h"

struct ws_conn {
	enum conn_kind kind; /* CONN_WS: first, as in http_conn */
	uint32_t rx_at;      /* loop time (ms, wraps) the socket last had bytes for us */
	struct server_worker *s;
	struct lws *wsi;
	struct consumer *consumer;
	struct ws_conn *prev, *next;

	/* send queue: a ring of frame references */
	struct consumer_frame **q;
	unsigned q_head, q_len, q_cap;
	int close_code;      /* ours, once close_requested */
	size_t q_bytes;

	/* receiving: our own reader once established (see "receiving") */
	struct wsframe_reader rd;
	struct wsframe_pongs *pongs; /* one per ping not yet answered, in order; NULL: none */
	char *close_reason;  /* malloc'd once closing; NULL before */

	/* rate limit: token bucket */
	float tokens;
	uint32_t tokens_at;  /* loop time, ms (wraps: only differences are used) */

	int peer_code;       /* the peer's, from its close frame; 0 if none */
	uint32_t msgs_in, msgs_out; /* for the access log's end line (wrap at 2^32) */
	uint32_t started;    /* loop time (ms, wraps) of the handshake */
	/* one per connection: flags as bits */
	bool dirty : 1;
	bool ping_due : 1;   /* our keepalive ping is to be written */
	bool ping_out : 1;   /* ... and was scheduled: the peer has ping_timeout s */
	bool established : 1;
	bool reading : 1;    /* registered with s->rx_epfd */
	bool close_requested : 1;
	bool close_sent : 1; /* our close frame is out; waiting for the peer's */
	bool fail : 1;       /* end without waiting for the peer's close frame */
};

_Static_assert(sizeof(struct ws_conn) <= 184, "struct ws_conn fits a 192-byte malloc chunk");


/* What a queued frame costs besides its payload (its ring slot, and the
 * frame's header and allocation when it is not shared), counted against
 * --max-queue so that empty or tiny frames cannot queue without bound. */
#define QUEUE_ENTRY_COST 64

/* ---- the transport the consumer sees ---- */

static void queue_drop(struct ws_conn *wc)
{
	while (wc->q_len) {
		consumer_frame_unref(wc->q[wc->q_head]);
		wc->q_head = (wc->q_head + 1) % wc->q_cap;
		wc->q_len--;
	}
	wc->q_bytes = 0;
}

/* Puts wc on the server's list of connections to write at the end of this
 * turn. Without memory for the list it goes the WRITEABLE way instead. */
static void dirty_add(struct ws_conn *wc)
{
	struct server_worker *s = wc->s;
	if (s->n_dirty == s->dirty_cap) {
		unsigned cap = s->dirty_cap ? s->dirty_cap * 2 : 256;
		struct ws_conn **d = realloc(s->dirty, cap * sizeof(*d));
		if (!d) {
			lws_callback_on_writable(wc->wsi);
			return;
		}
		s->dirty = d;
		s->dirty_cap = cap;
	}
	s->dirty[s->n_dirty++] = wc;
	wc->dirty = true;
}

/* Only for a connection freed while on the list (rare): a scan. */
static void dirty_del(struct ws_conn *wc)
{
	struct server_worker *s = wc->s;
	if (!wc->dirty)
		return;
	for (unsigned i = 0; i < s->n_dirty; i++)
		if (s->dirty[i] == wc)
			s->dirty[i] = NULL;
	wc->dirty = false;
}

static int tp_send(void *conn, struct consumer_frame *f)
{
	struct ws_conn *wc = conn;
	if (wc->close_requested)
		return CH_ECLOSED;
	/* Inclusive: a frame passes when its payload and what already waits
	 * (payloads, plus QUEUE_ENTRY_COST each) are at most --max-queue, so
	 * one message of exactly --max-queue bytes passes an empty queue. */
	if (wc->q_bytes + f->len > wc->s->proc->cfg->max_queue_bytes) {
		SERVER_METRIC_INC(wc->s, ws_send_refused);
		return CH_EQUEUE;
	}
	if (wc->q_len == wc->q_cap) {
		unsigned cap = wc->q_cap ? wc->q_cap * 2 : 8;
		struct consumer_frame **q = malloc(cap * sizeof(*q));
		if (!q)
			return CH_ENOMEM;
		for (unsigned i = 0; i < wc->q_len; i++)
			q[i] = wc->q[(wc->q_head + i) % wc->q_cap];
		free(wc->q);
		wc->q = q;
		wc->q_head = 0;
		wc->q_cap = cap;
	}
	wc->q[(wc->q_head + wc->q_len) % wc->q_cap] = consumer_frame_ref(f);
	wc->q_len++;
	wc->q_bytes += f->len + QUEUE_ENTRY_COST;
	wc->msgs_out++;
	SERVER_METRIC_INC(wc->s, ws_msgs_out);
	SERVER_METRIC_ADD(wc->s, ws_bytes_out, f->len);
	/* Written at the end of this loop turn (server__ws_flush), together
	 * with whatever else is queued for this connection by then. */
	if (wc->established && !wc->dirty)
		dirty_add(wc);
	return 0;
}

static void tp_close(void *conn, int code, const char *reason)
{
	struct ws_conn *wc = conn;
	if (wc->close_requested)
		return;
	wc->close_requested = true;
	wc->close_code = code;
	wc->close_reason = strndup(reason ? reason : "", 123); /* a close frame holds 123 */
	if (code == CLOSE_TRY_AGAIN_LATER)
		queue_drop(wc); /* the client cannot keep up: do not wait for it */
	if (wc->established) {
		lws_callback_on_writable(wc->wsi);
		/* A client that reads nothing more never lets the close frame
		 * out: it is dropped after 5 s all the same (once the frame is
		 * out, the wait for its answer is 5 s again). */
		lws_set_timeout(wc->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
	}
}

static const struct consumer_transport transport = {
	.send = tp_send,
	.close = tp_close,
};

/* ---- lifetime ---- */

static void wc_unlink_free(struct ws_conn *wc)
{
	struct server_worker *s = wc->s;
	dirty_del(wc);
	if (wc->prev)
		wc->prev->next = wc->next;
	else
		s->ws_head = wc->next;
	if (wc->next)
		wc->next->prev = wc->prev;
	s->n_ws--;
	SERVER_METRIC_ADD(s, ws_open, -1);
	atomic_fetch_sub(&s->proc->ws_total, 1);
	queue_drop(wc);
	free(wc->q);
	wsframe_reader_clear(&wc->rd);
	wsframe_pongs_free(&wc->pongs);
	free(wc->close_reason);
	free(wc);
}

void server__ws_close_all(struct server_worker *s, int code, const char *reason)
{
	for (struct ws_conn *wc = s->ws_head; wc; wc = wc->next) {
		if (wc->consumer && !wc->close_requested)
			tp_close(wc, code, reason);
	}
}

/* ---- handshake (RFC 6455 4.2; the checks are in ws_handshake.c) ---- */

static void start_reading(struct ws_conn *wc);
static void conn_fail(struct ws_conn *wc, int code, const char *reason);
static void conn_end(struct ws_conn *wc);
static bool write_due(const struct ws_conn *wc);

/* A new WebSocket of `s` on `wsi`, counted and on the worker's list. */
static struct ws_conn *wc_new(struct server_worker *s, struct lws *wsi)
{
	struct ws_conn *wc = calloc(1, sizeof(*wc));
	if (!wc)
		return NULL;
	wc->kind = CONN_WS;
	wc->s = s;
	wc->wsi = wsi;
	wc->tokens = (float)s->proc->cfg->rate_burst;
	wc->tokens_at = (uint32_t)uv_now(s->loop);
	wc->next = s->ws_head;
	if (s->ws_head)
		s->ws_head->prev = wc;
	s->ws_head = wc;
	s->n_ws++;
	SERVER_METRIC_INC(s, ws_open);
	wc->started = (uint32_t)uv_now(s->loop);
	atomic_fetch_add(&s->proc->ws_total, 1);
	return wc;
}

int server__ws_handshake(struct server_worker *s, struct lws *wsi, struct http_request *req,
			 bool trailing, int *status, const char **why)
{
	const struct consumer_class *cls = NULL;
	json_t *kwargs = NULL;
	const char *choice = NULL;
	*status = server__ws_handshake_check(s, req, &cls, &kwargs, &choice, why);
	if (*status)
		return 1;
	const char *path = req->path;
	const char *key = http_request_header(req, "sec-websocket-key");
	const char *offered = http_request_header(req, "sec-websocket-protocol");

	server__session_load(s, req);
	struct consumer_scope scope;
	server__ws_scope_from_request(req, kwargs, offered, &scope);

	struct ws_conn *wc = wc_new(s, wsi);
	if (!wc) {
		consumer_scope_clear(&scope);
		return -1;
	}

	struct consumer_open_result res;
	wc->consumer = consumer_open(cls, &scope, s->consumers, &transport, wc, &res);
	if (!wc->consumer || !res.accepted) {
		/* no consumer at all: out of memory, a server error */
		int st = !wc->consumer || res.close_code == 500 ? 500 : 403;
		if (wc->consumer)
			consumer_closed(wc->consumer, 1006);
		wc_unlink_free(wc);
		server__ws_refused(st, "rejected by the consumer", path);
		*status = st;
		*why = "rejected by the consumer";
		return 1;
	}
	const char *chosen = res.subprotocol ? res.subprotocol : choice;
	if (res.subprotocol && (!choice || strcmp(choice, res.subprotocol) != 0)) {
		LOG(LOG_ERROR, "ws", "%s: accepted subprotocol '%s' but the first offered one the "
				     "class supports is '%s'",
		    cls->name, res.subprotocol, choice ? choice : "");
		consumer_closed(wc->consumer, 1006);
		wc_unlink_free(wc);
		server__ws_refused(500, "subprotocol mismatch", path);
		*status = 500;
		*why = "subprotocol mismatch";
		return 1;
	}
	/* From here the wsi is the WebSocket's. */
	lws_set_opaque_user_data(wsi, wc);
	if (server__ws_write_accept(wsi, key, chosen) != 0) {
		conn_end(wc);
		return 0;
	}
	wc->established = true;
	server__access_log_ws(s->proc, req->client_addr, path, 0, 0, 0, 0);
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	if (trailing) {
		/* The client sent more after its handshake without waiting for
		 * our answer, which RFC 6455 4.1 forbids. */
		conn_fail(wc, CLOSE_PROTOCOL_ERROR, "data before the handshake response");
		lws_callback_on_writable(wsi);
		return 0;
	}
	start_reading(wc); /* on failure it ends the connection itself */
	if (write_due(wc) || wc->close_requested) {
		if (!wc->dirty)
			dirty_add(wc);
		lws_callback_on_writable(wsi);
	}
	if (wc->close_requested) /* closed in on_connect: see tp_close() */
		lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
	return 0;
}

/* ---- receiving ----
 *
 * The handshake was read by http_conn.c on an lws raw socket. From the 101
 * on we read the socket ourselves: lws' POLLIN is switched off (rx flow
 * control), the socket joins the worker's own epoll set (s->rx_epfd,
 * itself polled by the uv loop), and each turn reads up to RX_READ bytes
 * per ready socket, i.e. everything a sender has queued, which the fan-out
 * then writes to each member in one send(). Frames are parsed by wsframe
 * (lib/wsframe/). lws does the writing, the timeouts and the closing of
 * the socket. Bytes a client sent with its handshake, before our 101, close
 * 1002 (RFC 6455 4.1: the client must wait for the answer).
 */

#define RX_READ (64 * 1024)
#define RX_EVENTS 256

static void conn_fail(struct ws_conn *wc, int code, const char *reason)
{
	wc->fail = true;
	tp_close(wc, code, reason);
}

static void stop_reading(struct ws_conn *wc)
{
	if (!wc->reading)
		return;
	wc->reading = false;
	/* ENOENT/EBADF: lws closed the socket first, which removed it. */
	if (wc->s->rx_epfd >= 0 &&
	    epoll_ctl(wc->s->rx_epfd, EPOLL_CTL_DEL, lws_get_socket_fd(wc->wsi), NULL) < 0 &&
	    errno != ENOENT && errno != EBADF)
		LOG(LOG_WARN, "ws", "epoll_ctl(DEL): %s", strerror(errno));
}

/* The connection is over (peer gone, or the closing handshake done): lws
 * closes it from the WRITEABLE callback (on_writeable returns -1). */
static void conn_end(struct ws_conn *wc)
{
	if (!wc->close_requested)
		wc->close_code = 1006; /* what the consumer is told: no close frame */
	stop_reading(wc);
	wc->fail = true;
	wc->close_requested = true;
	wc->close_sent = true;
	queue_drop(wc);
	lws_callback_on_writable(wc->wsi);
}

static bool rate_ok(struct ws_conn *wc)
{
	const struct server_config *cfg = wc->s->proc->cfg;
	if (cfg->rate_limit <= 0)
		return true;
	uint32_t now = (uint32_t)uv_now(wc->s->loop);
	double tokens =
	    wc->tokens + (double)(uint32_t)(now - wc->tokens_at) * cfg->rate_limit / 1000.0;
	wc->tokens_at = now;
	if (tokens > cfg->rate_burst)
		tokens = cfg->rate_burst;
	if (tokens < 1.0) {
		wc->tokens = (float)tokens;
		return false;
	}
	wc->tokens = (float)(tokens - 1.0);
	return true;
}

static void on_message(struct ws_conn *wc, const unsigned char *p, size_t len, bool binary)
{
	if (wc->close_requested)
		return; /* input after we decided to close is ignored */
	if (!rate_ok(wc)) {
		static struct log_limit lim_rate = LOG_LIMIT_INIT(10);
		LOG_LIMITED(&lim_rate, LOG_INFO, "ws", "%s: over %.0f messages/s, closing 1008",
		    consumer_channel_name(wc->consumer), wc->s->proc->cfg->rate_limit);
		tp_close(wc, CLOSE_POLICY, "rate limit exceeded");
		SERVER_METRIC_INC(wc->s, ws_rate_limited);
		return;
	}
	wc->msgs_in++;
	SERVER_METRIC_INC(wc->s, ws_msgs_in);
	SERVER_METRIC_ADD(wc->s, ws_bytes_in, len);
	consumer_receive(wc->consumer, (const char *)p, len, binary);
	/* A 64 KiB read may hold hundreds of messages: the layer decides when
	 * what they queued goes to the receivers (layer_input_done()), so a
	 * burst does not overflow --layer-capacity by itself. Writing still
	 * waits for the flush. */
	layer_input_done(wc->s->layer);
}

static int on_frame(void *ctx, const struct wsframe_event *ev)
{
	struct ws_conn *wc = ctx;
	switch (ev->kind) {
	case WSFRAME_TEXT:
	case WSFRAME_BINARY:
		on_message(wc, ev->data, ev->len, ev->kind == WSFRAME_BINARY);
		return 0;
	case WSFRAME_PING: {
		/* Each ping gets its own pong, in order, written before the
		 * next poll. A client with more owed than the backlog holds
		 * (wsframe.h: WSFRAME_PONGS_MAX, _MAX_BYTES) is flooding, or
		 * not reading: closed 1008 after the pongs already owed. */
		static struct log_limit ping_flood = LOG_LIMIT_INIT(10);
		if (wc->close_requested)
			return 0;
		int rc = wsframe_pongs_add(&wc->pongs, ev->data, ev->len);
		if (rc == CH_EQUEUE) {
			LOG_LIMITED(&ping_flood, LOG_INFO, "ws", "%s: over %d pongs (%d bytes) owed, "
				    "closing 1008", consumer_channel_name(wc->consumer),
				    WSFRAME_PONGS_MAX, WSFRAME_PONGS_MAX_BYTES);
			tp_close(wc, CLOSE_POLICY, "too many pings unanswered");
		} else if (rc < 0) {
			tp_close(wc, CLOSE_INTERNAL_ERROR, ch_strerror(rc));
		} else if (!wc->dirty) {
			dirty_add(wc);
		}
		return 0;
	}
	case WSFRAME_PONG:
		return 0;
	case WSFRAME_CLOSE:
		stop_reading(wc);
		if (wc->close_sent) {
			conn_end(wc); /* the answer to our close frame */
			return 1;
		}
		/* Answer with the same code (none for 1005) and end. What is
		 * already queued (the answers to messages that came before the
		 * close) leaves first: on_writeable writes the queue, then the
		 * close frame; nothing more is queued (tp_send refuses). */
		wc->peer_code = ev->code;
		conn_fail(wc, ev->code == 1005 ? 0 : ev->code, "");
		return 1;
	}
	return 0;
}

/* Reads what one ready socket holds (up to RX_READ) and handles its frames. */
static void read_conn(struct ws_conn *wc)
{
	static _Thread_local unsigned char buf[RX_READ];
	ssize_t n = recv(lws_get_socket_fd(wc->wsi), buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		LOG(LOG_DEBUG, "ws", "%s: peer gone (%s)", consumer_channel_name(wc->consumer),
		    n == 0 ? "eof" : strerror(errno));
		conn_end(wc);
		return;
	}
	wc->rx_at = (uint32_t)uv_now(wc->s->loop);
	wc->ping_out = false;
	int rc = wsframe_feed(&wc->rd, buf, (size_t)n, wc->s->proc->cfg->max_message_size, on_frame, wc);
	if (rc < 0) {
		/* any client can send bad frames as often as it connects */
		static struct log_limit bad_frames = LOG_LIMIT_INIT(10);
		LOG_LIMITED(&bad_frames, LOG_INFO, "ws", "%s: %s, closing %d",
			    consumer_channel_name(wc->consumer), wc->rd.err_reason,
			    wc->rd.err_code);
		stop_reading(wc);
		conn_fail(wc, wc->rd.err_code, wc->rd.err_reason);
	}
}

static void on_rx_ready(uv_poll_t *h, int status, int events)
{
	struct server_worker *s = h->data;
	struct epoll_event ev[RX_EVENTS];
	(void)status;
	(void)events;
	/* Level-triggered: a socket with more than RX_READ pending, or beyond
	 * the first RX_EVENTS x 4 ready ones, is served next turn. No
	 * connection is freed while this runs (lws closes them later, from
	 * their WRITEABLE callback; an HTTP connection that becomes a
	 * WebSocket leaves the set before its http_conn is freed), so every
	 * pointer in ev[] stays valid. HTTP connections not yet upgraded are
	 * in the same set (http_conn.c reads them). */
	for (int round = 0; round < 4; round++) {
		int n = epoll_wait(s->rx_epfd, ev, RX_EVENTS, 0);
		for (int i = 0; i < n; i++) {
			const enum conn_kind *k = ev[i].data.ptr;
			if (*k == CONN_HTTP) {
				server__http_readable(ev[i].data.ptr);
				continue;
			}
			struct ws_conn *wc = ev[i].data.ptr;
			if (wc->reading)
				read_conn(wc);
		}
		layer_deliver(s->layer); /* the end of this round's input */
		if (n < RX_EVENTS)
			break;
	}
}

int server__ws_rx_start(struct server_worker *s)
{
	s->rx_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->rx_epfd < 0)
		return -1;
	uv_poll_init(s->loop, &s->rx_poll, s->rx_epfd);
	s->rx_poll.data = s;
	uv_poll_start(&s->rx_poll, UV_READABLE, on_rx_ready);
	return 0;
}

static void on_rx_poll_closed(uv_handle_t *h)
{
	struct server_worker *s = h->data;
	close(s->rx_epfd);
	s->rx_epfd = -1;
}

void server__ws_rx_stop(struct server_worker *s)
{
	if (s->rx_epfd >= 0 && !uv_is_closing((uv_handle_t *)&s->rx_poll))
		uv_close((uv_handle_t *)&s->rx_poll, on_rx_poll_closed);
}

static void start_reading(struct ws_conn *wc)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = wc};
	lws_rx_flow_control(wc->wsi, 0);
	if (wc->s->rx_epfd < 0 ||
	    epoll_ctl(wc->s->rx_epfd, EPOLL_CTL_ADD, lws_get_socket_fd(wc->wsi), &ev) < 0) {
		LOG(LOG_ERROR, "ws", "%s: cannot watch the socket: %s",
		    consumer_channel_name(wc->consumer), strerror(errno));
		conn_end(wc);
		return;
	}
	wc->reading = true;
	wc->rx_at = (uint32_t)uv_now(wc->s->loop);
}

void server__ws_keepalive(uv_timer_t *t)
{
	struct server_worker *s = t->data;
	const struct server_config *cfg = s->proc->cfg;
	uint32_t now = (uint32_t)uv_now(s->loop);
	for (struct ws_conn *wc = s->ws_head; wc; wc = wc->next) {
		if (!wc->reading || wc->close_requested)
			continue;
		uint32_t idle = now - wc->rx_at; /* ms; modular */
		if (wc->ping_out &&
		    idle >= 1000u * (uint32_t)(cfg->ping_interval + cfg->ping_timeout)) {
			static struct log_limit lim_mute = LOG_LIMIT_INIT(10);
			LOG_LIMITED(&lim_mute, LOG_INFO, "ws", "%s: no answer to a ping for %d s, dropping it",
			    consumer_channel_name(wc->consumer), cfg->ping_timeout);
			conn_end(wc);
		} else if (!wc->ping_out && idle >= 1000u * (uint32_t)cfg->ping_interval) {
			wc->ping_out = true;
			wc->ping_due = true;
			if (!wc->dirty)
				dirty_add(wc);
		}
	}
}

/* ---- writing ---- */

/* Bytes of frames written together in one send at most. */
#define COALESCE_MAX (64 * 1024)

_Static_assert(WSFRAME_PONGS_MAX_BYTES + 2 <= COALESCE_MAX,
	       "the pongs owed and our keepalive ping fit one batch");

/*
 * Writes our close frame (no status when close_code is 0: the answer to a
 * close frame that had none). lws 4.1 drops the frame set by
 * lws_close_reason() when the close starts from a WRITEABLE callback on the
 * libuv loop, so the frame is written here, unmasked as server frames are,
 * through the ws role's raw path (LWS_WRITE_RAW is sent unframed). Unless
 * the connection is failing or answering the peer's close, it ends when
 * the peer's close frame arrives or after 5 s.
 */
static int send_close_frame(struct ws_conn *wc)
{
	unsigned char buf[LWS_PRE + 4 + 123];
	unsigned char *p = buf + LWS_PRE;
	const char *reason = wc->close_reason ? wc->close_reason : "";
	size_t rlen = wc->close_code ? strlen(reason) : 0;
	size_t plen = wc->close_code ? 2 + rlen : 0;
	p[0] = 0x80 | WSFRAME_OP_CLOSE; /* FIN + close */
	p[1] = (unsigned char)plen;
	p[2] = (unsigned char)(wc->close_code >> 8);
	p[3] = (unsigned char)(wc->close_code & 0xff);
	memcpy(p + 4, reason, rlen);
	LOG(LOG_DEBUG, "ws", "%s: sending close %d %s", consumer_channel_name(wc->consumer),
	    wc->close_code, reason);
	wc->close_sent = true;
	if (lws_write(wc->wsi, p, 2 + plen, LWS_WRITE_RAW) < 0 || wc->fail)
		return -1;
	lws_set_timeout(wc->wsi, PENDING_TIMEOUT_CLOSE_ACK, 5);
	return 0;
}

static struct consumer_frame *queue_pop(struct ws_conn *wc)
{
	struct consumer_frame *f = wc->q[wc->q_head];
	wc->q_head = (wc->q_head + 1) % wc->q_cap;
	wc->q_len--;
	wc->q_bytes -= f->len + QUEUE_ENTRY_COST;
	return f;
}

/*
 * Writes the pongs owed and what is queued, up to COALESCE_MAX bytes, in one
 * lws_write: one frame the ordinary way (no copy), or several framed by us
 * into one buffer written as LWS_WRITE_RAW, which lws' ws role sends raw
 * (server frames are unmasked, so they need nothing from lws); lws keeps
 * any unsent remainder and calls back when it is out. This is where the
 * fan-out speed is: one send() per connection per loop turn instead of one
 * per message. Returns -1 when the connection must close.
 */
static int write_queued(struct ws_conn *wc)
{
	static _Thread_local unsigned char batch[LWS_PRE + COALESCE_MAX];
	struct lws *wsi = wc->wsi;
	if (!wc->pongs && !wc->ping_due &&
	    (wc->q_len == 1 || (wc->q_len && wc->q[wc->q_head]->len + 10 > COALESCE_MAX))) {
		/* One frame: its header goes into the frame's headroom (the same
		 * bytes for every member: server frames are unmasked). */
		struct consumer_frame *f = queue_pop(wc);
		unsigned char hdr[10]; /* the longest server frame header */
		size_t hl = wsframe_header(hdr, f->binary ? WSFRAME_OP_BINARY : WSFRAME_OP_TEXT, f->len);
		unsigned char *start = consumer_frame_payload(f) - hl;
		memcpy(start, hdr, hl);
		int n = lws_write(wsi, start, hl + f->len, LWS_WRITE_RAW);
		consumer_frame_unref(f);
		return n < 0 ? -1 : 0;
	}
	unsigned char *p = batch + LWS_PRE;
	size_t used = 0;
	if (wc->pongs) { /* at most WSFRAME_PONGS_MAX_BYTES: they fit */
		memcpy(p, wc->pongs->data, wc->pongs->len);
		used += wc->pongs->len;
		wsframe_pongs_free(&wc->pongs);
	}
	if (wc->ping_due) {
		used += wsframe_header(p + used, WSFRAME_OP_PING, 0);
		wc->ping_due = false;
	}
	while (wc->q_len && used + wc->q[wc->q_head]->len + 10 <= COALESCE_MAX) {
		struct consumer_frame *f = queue_pop(wc);
		used += wsframe_header(p + used, f->binary ? WSFRAME_OP_BINARY : WSFRAME_OP_TEXT,
				       f->len);
		memcpy(p + used, consumer_frame_payload(f), f->len);
		used += f->len;
		consumer_frame_unref(f);
	}
	return lws_write(wsi, p, used, LWS_WRITE_RAW) < 0 ? -1 : 0;
}

static bool write_due(const struct ws_conn *wc)
{
	return wc->q_len || wc->pongs || wc->ping_due;
}

static int on_writeable(struct ws_conn *wc)
{
	struct lws *wsi = wc->wsi;
	if (wc->close_sent)
		return wc->fail ? -1 : 0;
	if (write_due(wc)) {
		if (write_queued(wc) < 0)
			return -1;
	} else if (wc->close_requested) {
		return send_close_frame(wc);
	}
	if (write_due(wc) || (wc->close_requested && !wc->close_sent))
		lws_callback_on_writable(wsi);
	return 0;
}

/*
 * The fast path: frames queued during a loop turn are written right here,
 * before the loop polls, straight to the socket (lws' raw write): no
 * WRITEABLE round trip, so no epoll_ctl to arm and disarm POLLOUT per
 * connection per message. A connection whose socket is full (lws holds a
 * partial write) or that is closing goes the WRITEABLE way instead, and lws
 * appends nothing out of order: it queues behind what it holds.
 */
void server__ws_flush(uv_prepare_t *h)
{
	struct server_worker *s = h->data;
	/* Entries added meanwhile are served too; freed ones are NULL. */
	for (unsigned i = 0; i < s->n_dirty; i++) {
		struct ws_conn *wc = s->dirty[i];
		if (!wc)
			continue;
		wc->dirty = false;
		if (!write_due(wc))
			continue;
		if (wc->close_requested || wc->close_sent || lws_partial_buffered(wc->wsi)) {
			lws_callback_on_writable(wc->wsi);
			continue;
		}
		if (write_queued(wc) < 0) {
			/* The socket failed: let lws find out and close it. */
			lws_callback_on_writable(wc->wsi);
			continue;
		}
		if (write_due(wc))
			lws_callback_on_writable(wc->wsi);
	}
	s->n_dirty = 0;
}

void server__ws_dirty_free(struct server_worker *s)
{
	free(s->dirty);
	s->dirty = NULL;
	s->n_dirty = s->dirty_cap = 0;
}

/* An accepted WebSocket's end: counted, and its access log line. */
static void ws_ended(struct ws_conn *wc, int code)
{
	server__metrics_ws_close(wc->s, code ? code : 1005);
	server__access_log_ws(wc->s->proc, consumer_scope_client_addr(wc->consumer),
			      consumer_scope_path(wc->consumer), code ? code : 1005,
			      (double)(uint32_t)((uint32_t)uv_now(wc->s->loop) - wc->started) / 1000.0,
			      wc->msgs_in, wc->msgs_out);
}

int server__ws_callback(struct server_worker *s, struct lws *wsi, enum lws_callback_reasons reason,
			void *in, size_t len)
{
	struct ws_conn *wc = lws_get_opaque_user_data(wsi);
	(void)s;
	(void)in;
	(void)len;
	if (!wc || wc->kind != CONN_WS)
		return reason == LWS_CALLBACK_RAW_CLOSE ? 0 : -1;

	switch (reason) {
	case LWS_CALLBACK_RAW_RX:
		/* lws reads nothing once we read the socket ourselves (its POLLIN
		 * is off from the 101 on); bytes here came before that. */
		stop_reading(wc);
		conn_fail(wc, CLOSE_PROTOCOL_ERROR, "data before the handshake response");
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE:
		return on_writeable(wc);
	case LWS_CALLBACK_RAW_CLOSE: {
		int code = wc->peer_code ? wc->peer_code : wc->close_requested ? wc->close_code : 1006;
		if (wc->established)
			ws_ended(wc, code);
		stop_reading(wc);
		lws_set_opaque_user_data(wsi, NULL);
		consumer_closed(wc->consumer, code);
		wc_unlink_free(wc);
		return 0;
	}
	default:
		return 0;
	}
}
