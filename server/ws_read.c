/*
 * ws_read.c - the WebSocket reader (see ws_int.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "ws_int.h"

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

void server__ws_stop_reading(struct ws_conn *wc)
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
		server__ws_close(wc, CLOSE_POLICY, "rate limit exceeded");
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
			server__ws_close(wc, CLOSE_POLICY, "too many pings unanswered");
		} else if (rc < 0) {
			server__ws_close(wc, CLOSE_INTERNAL_ERROR, ch_strerror(rc));
		} else if (!wc->dirty) {
			server__ws_dirty_add(wc);
		}
		return 0;
	}
	case WSFRAME_PONG:
		return 0;
	case WSFRAME_CLOSE:
		server__ws_stop_reading(wc);
		if (wc->close_sent) {
			server__ws_end(wc); /* the answer to our close frame */
			return 1;
		}
		/* Answer with the same code (none for 1005) and end. What is
		 * already queued (the answers to messages that came before the
		 * close) leaves first: server__ws_on_writeable writes the queue, then the
		 * close frame; nothing more is queued (server__ws_queue_push refuses). */
		wc->peer_code = ev->code;
		server__ws_fail(wc, ev->code == 1005 ? 0 : ev->code, "");
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
		server__ws_end(wc);
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
		server__ws_stop_reading(wc);
		server__ws_fail(wc, wc->rd.err_code, wc->rd.err_reason);
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

void server__ws_start_reading(struct ws_conn *wc)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = wc};
	lws_rx_flow_control(wc->wsi, 0);
	if (wc->s->rx_epfd < 0 ||
	    epoll_ctl(wc->s->rx_epfd, EPOLL_CTL_ADD, lws_get_socket_fd(wc->wsi), &ev) < 0) {
		LOG(LOG_ERROR, "ws", "%s: cannot watch the socket: %s",
		    consumer_channel_name(wc->consumer), strerror(errno));
		server__ws_end(wc);
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
			server__ws_end(wc);
		} else if (!wc->ping_out && idle >= 1000u * (uint32_t)cfg->ping_interval) {
			wc->ping_out = true;
			wc->ping_due = true;
			if (!wc->dirty)
				server__ws_dirty_add(wc);
		}
	}
}

