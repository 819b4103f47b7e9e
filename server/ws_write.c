/*
 * ws_write.c - the WebSocket writer and its bounded queue (see ws_int.h).
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ws_int.h"

/* What a queued frame costs besides its payload (its ring slot, and the
 * frame's header and allocation when it is not shared), counted against
 * --max-queue so that empty or tiny frames cannot queue without bound. */
#define QUEUE_ENTRY_COST 64

/* ---- the queue ---- */

void server__ws_queue_drop(struct ws_conn *wc)
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
void server__ws_dirty_add(struct ws_conn *wc)
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
void server__ws_dirty_del(struct ws_conn *wc)
{
	struct server_worker *s = wc->s;
	if (!wc->dirty)
		return;
	for (unsigned i = 0; i < s->n_dirty; i++)
		if (s->dirty[i] == wc)
			s->dirty[i] = NULL;
	wc->dirty = false;
}

int server__ws_queue_push(void *conn, struct consumer_frame *f)
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
		server__ws_dirty_add(wc);
	return 0;
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

bool server__ws_write_due(const struct ws_conn *wc)
{
	return wc->q_len || wc->pongs || wc->ping_due;
}

int server__ws_on_writeable(struct ws_conn *wc)
{
	struct lws *wsi = wc->wsi;
	if (wc->close_sent)
		return wc->fail ? -1 : 0;
	if (server__ws_write_due(wc)) {
		if (write_queued(wc) < 0)
			return -1;
	} else if (wc->close_requested) {
		return send_close_frame(wc);
	}
	if (server__ws_write_due(wc) || (wc->close_requested && !wc->close_sent))
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
		if (!server__ws_write_due(wc))
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
		if (server__ws_write_due(wc))
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

