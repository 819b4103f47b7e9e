/*
 * ws_int.h - one WebSocket connection, shared by the three files that
 * handle it (server/ only):
 *
 *   ws_conn.c   its life: the handshake through the router to a consumer,
 *               the closing handshake (close, fail, end), the lws callback
 *   ws_read.c   the reader: the worker's epoll set, one recv() per ready
 *               socket, frames (lib/wsframe), rate limit, keepalive pings
 *   ws_write.c  the writer: the bounded queue of shared frames, the list of
 *               connections to write this turn, the coalesced writes
 *
 * One struct ws_conn exists per WebSocket, from its accepted handshake to
 * RAW_CLOSE, hung on the wsi with lws_set_opaque_user_data(). Everything
 * here runs on its worker's loop thread.
 */
#ifndef SERVER_WS_INT_H
#define SERVER_WS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

	/* receiving: our own reader once established (ws_read.c) */
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

/* ---- ws_conn.c: closing ---- */

/* The consumer's close (its transport's close): queue our close frame with
 * `code` (0: none) and `reason` after what is queued; 1013 drops the queue
 * first. Idempotent. */
void server__ws_close(void *conn, int code, const char *reason);
/* server__ws_close() without waiting for the peer's close frame. */
void server__ws_fail(struct ws_conn *wc, int code, const char *reason);
/* The connection is over (peer gone, or the closing handshake done): lws
 * closes it from its WRITEABLE callback. */
void server__ws_end(struct ws_conn *wc);

/* ---- ws_read.c ---- */

/* From the 101 on, the worker reads the socket (lws' POLLIN off); on
 * failure the connection is ended. */
void server__ws_start_reading(struct ws_conn *wc);
void server__ws_stop_reading(struct ws_conn *wc);

/* ---- ws_write.c ---- */

/* The consumer transport's send: queues a reference to `f` (CH_ECLOSED
 * once closing, CH_EQUEUE over --max-queue, CH_ENOMEM). */
int server__ws_queue_push(void *conn, struct consumer_frame *f);
/* Drops every queued frame. */
void server__ws_queue_drop(struct ws_conn *wc);
/* On / off the worker's list of connections to write at the end of this
 * turn (server__ws_flush). */
void server__ws_dirty_add(struct ws_conn *wc);
void server__ws_dirty_del(struct ws_conn *wc);
/* Pongs, our ping or frames wait to be written. */
bool server__ws_write_due(const struct ws_conn *wc);
/* lws' WRITEABLE callback: writes what waits, then our close frame; -1
 * when lws must close the connection. */
int server__ws_on_writeable(struct ws_conn *wc);

#endif
