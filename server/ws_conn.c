/*
 * ws_conn.c - a WebSocket's life: the handshake (RFC 6455 4.2, from the
 * request http_conn.c read; the checks are in ws_handshake.c) through the
 * URL router to a consumer class, the closing handshake, and lws' callback.
 * The reader is ws_read.c, the writer and its queue ws_write.c; ws_int.h
 * has the connection they share.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ws_int.h"

/* ---- closing ---- */

void server__ws_close(void *conn, int code, const char *reason)
{
	struct ws_conn *wc = conn;
	if (wc->close_requested)
		return;
	wc->close_requested = true;
	wc->close_code = code;
	wc->close_reason = strndup(reason ? reason : "", 123); /* a close frame holds 123 */
	if (code == CLOSE_TRY_AGAIN_LATER)
		server__ws_queue_drop(wc); /* the client cannot keep up: do not wait for it */
	if (wc->established) {
		lws_callback_on_writable(wc->wsi);
		/* A client that reads nothing more never lets the close frame
		 * out: it is dropped after 5 s all the same (once the frame is
		 * out, the wait for its answer is 5 s again). */
		lws_set_timeout(wc->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
	}
}

static const struct consumer_transport transport = {
	.send = server__ws_queue_push, /* ws_write.c */
	.close = server__ws_close,
};

void server__ws_fail(struct ws_conn *wc, int code, const char *reason)
{
	wc->fail = true;
	server__ws_close(wc, code, reason);
}

/* The connection is over (peer gone, or the closing handshake done): lws
 * closes it from the WRITEABLE callback (server__ws_on_writeable returns -1). */
void server__ws_end(struct ws_conn *wc)
{
	if (!wc->close_requested)
		wc->close_code = 1006; /* what the consumer is told: no close frame */
	server__ws_stop_reading(wc);
	wc->fail = true;
	wc->close_requested = true;
	wc->close_sent = true;
	server__ws_queue_drop(wc);
	lws_callback_on_writable(wc->wsi);
}

/* ---- lifetime ---- */

static void wc_unlink_free(struct ws_conn *wc)
{
	struct server_worker *s = wc->s;
	server__ws_dirty_del(wc);
	if (wc->prev)
		wc->prev->next = wc->next;
	else
		s->ws_head = wc->next;
	if (wc->next)
		wc->next->prev = wc->prev;
	s->n_ws--;
	SERVER_METRIC_ADD(s, ws_open, -1);
	atomic_fetch_sub(&s->proc->ws_total, 1);
	server__ws_queue_drop(wc);
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
			server__ws_close(wc, code, reason);
	}
}

/* ---- handshake (RFC 6455 4.2; the checks are in ws_handshake.c) ---- */

void server__ws_start_reading(struct ws_conn *wc);
void server__ws_fail(struct ws_conn *wc, int code, const char *reason);
void server__ws_end(struct ws_conn *wc);
bool server__ws_write_due(const struct ws_conn *wc);

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
	*status = server__ws_handshake_check(s, req, &cls, &kwargs, why);
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
	const char *chosen = res.subprotocol; /* decided in consumers/ */
	/* From here the wsi is the WebSocket's. */
	lws_set_opaque_user_data(wsi, wc);
	if (server__ws_write_accept(wsi, key, chosen) != 0) {
		server__ws_end(wc);
		return 0;
	}
	wc->established = true;
	server__access_log_ws(s->proc, req->client_addr, path, 0, 0, 0, 0);
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	if (trailing) {
		/* The client sent more after its handshake without waiting for
		 * our answer, which RFC 6455 4.1 forbids. */
		server__ws_fail(wc, CLOSE_PROTOCOL_ERROR, "data before the handshake response");
		lws_callback_on_writable(wsi);
		return 0;
	}
	server__ws_start_reading(wc); /* on failure it ends the connection itself */
	if (server__ws_write_due(wc) || wc->close_requested) {
		if (!wc->dirty)
			server__ws_dirty_add(wc);
		lws_callback_on_writable(wsi);
	}
	if (wc->close_requested) /* closed in on_connect: see server__ws_close() */
		lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
	return 0;
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
		server__ws_stop_reading(wc);
		server__ws_fail(wc, CLOSE_PROTOCOL_ERROR, "data before the handshake response");
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE:
		return server__ws_on_writeable(wc);
	case LWS_CALLBACK_RAW_CLOSE: {
		int code = wc->peer_code ? wc->peer_code : wc->close_requested ? wc->close_code : 1006;
		if (wc->established)
			ws_ended(wc, code);
		server__ws_stop_reading(wc);
		lws_set_opaque_user_data(wsi, NULL);
		consumer_closed(wc->consumer, code);
		wc_unlink_free(wc);
		return 0;
	}
	default:
		return 0;
	}
}
