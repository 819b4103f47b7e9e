/*
 * ws.c - the WebSocket client: opening handshake, framing over the socket,
 * closing handshake.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "client_int.h"

#define DEFAULT_TIMEOUT_MS 5000
#define READ_CHUNK	   16384

/* One per connection; owned by the caller of client_ws_connect(). */
struct client_ws {
	int fd;
	int io_timeout_ms; /* bound on each send */
	uint8_t *rbuf;	   /* received, not yet consumed: rbuf[rstart..rend) */
	size_t rstart, rend, rcap;
	struct client_assembler assembler;
	bool close_sent, close_received;
	int failed; /* sticky error after a protocol or I/O failure */
	unsigned long pongs;
	uint8_t rnd[256]; /* pool of random bytes for masks */
	size_t rnd_pos;
};

static int next_mask(struct client_ws *ws, uint8_t mask[4])
{
	if (ws->rnd_pos + 4 > sizeof(ws->rnd)) {
		if (client__random(ws->rnd, sizeof(ws->rnd)))
			return CH_EIO;
		ws->rnd_pos = 0;
	}
	memcpy(mask, ws->rnd + ws->rnd_pos, 4);
	ws->rnd_pos += 4;
	return 0;
}

/* Sends one masked frame; no state checks. */
static int send_frame(struct client_ws *ws, int opcode, bool fin, const void *data, size_t len)
{
	uint8_t mask[4], *frame;
	size_t hlen;
	int rc;

	if (len > SIZE_MAX - WSFRAME_HEADER_MAX)
		return CH_EINVAL;
	rc = next_mask(ws, mask);
	if (rc)
		return rc;
	frame = malloc(WSFRAME_HEADER_MAX + len);
	if (!frame)
		return CH_ENOMEM;
	hlen = wsframe_header_encode(frame, opcode, fin, len, mask);
	if (len) {
		memcpy(frame + hlen, data, len);
		client_frame_mask(frame + hlen, len, mask, 0);
	}
	rc = client__send_all(ws->fd, frame, hlen + len, client__deadline(ws->io_timeout_ms));
	free(frame);
	return rc;
}

static int send_close(struct client_ws *ws, int code)
{
	uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};

	ws->close_sent = true;
	return send_frame(ws, WSFRAME_OP_CLOSE, true, p, code ? 2 : 0);
}

/* Reads once into the buffer, making room for `need` unconsumed bytes.
 * Returns bytes read (0 at EOF) or a negative code. */
static long fill(struct client_ws *ws, size_t need, int64_t deadline)
{
	size_t avail = ws->rend - ws->rstart;
	long n;

	if (need < avail + READ_CHUNK)
		need = avail + READ_CHUNK;
	if (ws->rcap - ws->rstart < need) {
		if (ws->rstart) {
			memmove(ws->rbuf, ws->rbuf + ws->rstart, avail);
			ws->rstart = 0;
			ws->rend = avail;
		}
		if (ws->rcap < need) {
			size_t cap = ws->rcap > READ_CHUNK ? ws->rcap : READ_CHUNK;
			uint8_t *nb;

			while (cap < need)
				cap *= 2;
			nb = realloc(ws->rbuf, cap);
			if (!nb)
				return CH_ENOMEM;
			ws->rbuf = nb;
			ws->rcap = cap;
		}
	}
	n = client__recv_some(ws->fd, ws->rbuf + ws->rend, ws->rcap - ws->rend, deadline);
	if (n > 0)
		ws->rend += (size_t)n;
	return n;
}

/* Waits for a whole frame in the buffer. On 0, *payload points at its
 * payload inside rbuf, unmasked, valid until the next fill(). */
static int next_frame(struct client_ws *ws, int64_t deadline, struct client_frame_header *h,
		      uint8_t **payload)
{
	for (;;) {
		size_t avail = ws->rend - ws->rstart, need;
		int rc = client_frame_header_decode(ws->rbuf + ws->rstart, avail, h);
		long n;

		if (rc < 0)
			return rc;
		if (rc > 0) {
			/* RFC 6455 5.1: a server must not mask its frames. */
			if (h->masked || h->payload_len > CLIENT_MAX_MESSAGE)
				return CH_EPROTO;
			need = h->header_len + (size_t)h->payload_len;
			if (avail >= need) {
				*payload = ws->rbuf + ws->rstart + h->header_len;
				return 0;
			}
		} else {
			need = avail + 1;
		}
		n = fill(ws, need, deadline);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return CH_EIO;
	}
}

/* Makes `err` sticky; a protocol error is reported to the server with a
 * close 1002 (RFC 6455 7.1.7) where the socket still allows it. */
static int fail(struct client_ws *ws, int err)
{
	ws->failed = err;
	if (err == CH_EPROTO && !ws->close_sent)
		(void)send_close(ws, 1002);
	return err;
}

int client_ws_recv(struct client_ws *ws, int timeout_ms, struct client_ws_message *msg)
{
	int64_t deadline = client__deadline(timeout_ms);

	if (!ws || !msg)
		return CH_EINVAL;
	memset(msg, 0, sizeof(*msg));
	if (ws->close_received)
		return CH_ECLOSED;
	if (ws->failed)
		return ws->failed;
	for (;;) {
		struct client_frame_header h;
		uint8_t *payload = NULL;
		int rc = next_frame(ws, deadline, &h, &payload), ev;

		if (rc) {
			if (rc == CH_ETIMEDOUT)
				return rc;
			return fail(ws, rc);
		}
		ev = client_assembler_feed(&ws->assembler, &h, payload, msg);
		ws->rstart += h.header_len + (size_t)h.payload_len;
		switch (ev) {
		case CLIENT_ASM_MORE:
			break;
		case CLIENT_ASM_PONG:
			ws->pongs++;
			break;
		case CLIENT_ASM_PING:
			if (ws->close_sent)
				break;
			rc = send_frame(ws, WSFRAME_OP_PONG, true, payload, (size_t)h.payload_len);
			if (rc)
				return fail(ws, rc);
			break;
		case CLIENT_ASM_MESSAGE:
			return 0;
		case CLIENT_ASM_CLOSE:
			ws->close_received = true;
			/* Echo the code, as RFC 6455 5.5.1 asks; a send error
			 * does not hide the close message. */
			if (!ws->close_sent)
				(void)send_close(ws, msg->close_code == 1005 ? 0 : msg->close_code);
			return 0;
		default:
			return fail(ws, ev);
		}
	}
}

int client_ws_close(struct client_ws *ws, int code, int timeout_ms)
{
	int64_t deadline = client__deadline(timeout_ms);
	int rc;

	if (!ws || code < 0 || code > 65535)
		return CH_EINVAL;
	if (ws->close_received)
		return 0;
	if (!ws->close_sent) {
		rc = send_close(ws, code);
		if (rc)
			return rc == CH_EIO ? 0 : rc;
	}
	for (;;) {
		struct client_ws_message m;

		rc = client_ws_recv(ws, client__remaining(deadline), &m);
		free(m.data);
		if (rc == 0 && m.opcode == WSFRAME_OP_CLOSE)
			return 0;
		if (rc == CH_EIO) /* the server closed the socket first */
			return 0;
		if (rc)
			return rc;
	}
}

static int check_send(struct client_ws *ws, const void *data, size_t len)
{
	if (!ws || (len && !data))
		return CH_EINVAL;
	if (ws->close_received || ws->close_sent)
		return CH_ECLOSED;
	return 0;
}

int client_ws_send_text(struct client_ws *ws, const char *text, size_t len)
{
	int rc = check_send(ws, text, len);

	return rc ? rc : send_frame(ws, WSFRAME_OP_TEXT, true, text, len);
}

int client_ws_send_binary(struct client_ws *ws, const void *data, size_t len)
{
	int rc = check_send(ws, data, len);

	return rc ? rc : send_frame(ws, WSFRAME_OP_BINARY, true, data, len);
}

int client_ws_send_frame(struct client_ws *ws, int opcode, bool fin, const void *data, size_t len)
{
	int rc = check_send(ws, data, len);

	if (rc)
		return rc;
	if (opcode < 0 || opcode > 15)
		return CH_EINVAL;
	if (opcode == WSFRAME_OP_CLOSE)
		ws->close_sent = true;
	return send_frame(ws, opcode, fin, data, len);
}

int client_ws_send_raw(struct client_ws *ws, const void *data, size_t len)
{
	if (!ws || (len && !data))
		return CH_EINVAL;
	return client__send_all(ws->fd, data, len, client__deadline(ws->io_timeout_ms));
}

void client_ws_free(struct client_ws *ws)
{
	if (!ws)
		return;
	if (ws->fd >= 0)
		close(ws->fd);
	client_assembler_clear(&ws->assembler);
	free(ws->rbuf);
	free(ws);
}

int client_ws_fd(const struct client_ws *ws)
{
	return ws ? ws->fd : -1;
}

bool client_ws_pending(const struct client_ws *ws)
{
	return ws && ws->rend > ws->rstart;
}

unsigned long client_ws_pongs(const struct client_ws *ws)
{
	return ws ? ws->pongs : 0;
}

/* ---- opening handshake ------------------------------------------------ */

/* True when `list` (comma-separated tokens) contains `tok` exactly. */
static bool token_in_list(const char *list, const char *tok)
{
	size_t tlen = strlen(tok);

	while (list && *list) {
		const char *end;
		size_t n;

		while (*list == ' ' || *list == '\t' || *list == ',')
			list++;
		end = list;
		while (*end && *end != ',')
			end++;
		n = (size_t)(end - list);
		while (n && (list[n - 1] == ' ' || list[n - 1] == '\t'))
			n--;
		if (n && n == tlen && strncmp(list, tok, n) == 0)
			return true;
		list = end;
	}
	return false;
}

/* Checks a 101 answer against RFC 6455 4.1. */
static int check_101(const struct client_response *r, const char *key, const char *offered)
{
	const char *upgrade = client_response_header(r, "upgrade");
	const char *conn = client_response_header(r, "connection");
	const char *accept = client_response_header(r, "sec-websocket-accept");
	const char *proto = client_response_header(r, "sec-websocket-protocol");
	char want[29];
	int rc;

	if (!upgrade || strcasecmp(upgrade, "websocket") != 0)
		return CH_EPROTO;
	if (!conn || !strcasestr(conn, "upgrade"))
		return CH_EPROTO;
	rc = client_ws_accept(key, want);
	if (rc)
		return rc;
	if (!accept || strcmp(accept, want) != 0)
		return CH_EPROTO;
	if (proto && !token_in_list(offered, proto))
		return CH_EPROTO;
	if (client_response_header(r, "sec-websocket-extensions"))
		return CH_EPROTO;
	return 0;
}

static char *build_request(const char *host, int port, const char *path, const char *key,
			   const struct client_ws_options *opt)
{
	char *hosthdr = client__host_header(host, port), *req;
	size_t cap;
	int n;

	if (!hosthdr)
		return NULL;
	cap = strlen(path) + strlen(hosthdr) + 256;
	if (opt && opt->origin)
		cap += strlen(opt->origin);
	if (opt && opt->subprotocols)
		cap += strlen(opt->subprotocols);
	if (opt && opt->headers)
		cap += strlen(opt->headers);
	req = malloc(cap);
	if (!req) {
		free(hosthdr);
		return NULL;
	}
	n = snprintf(req, cap,
		     "GET %s HTTP/1.1\r\nUpgrade: websocket\r\n"
		     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
		     "Sec-WebSocket-Version: 13\r\n",
		     path, key);
	if (!client__has_header(opt ? opt->headers : NULL, "host"))
		n += snprintf(req + n, cap - (size_t)n, "Host: %s\r\n", hosthdr);
	free(hosthdr);
	if (opt && opt->origin)
		n += snprintf(req + n, cap - (size_t)n, "Origin: %s\r\n", opt->origin);
	if (opt && opt->subprotocols)
		n += snprintf(req + n, cap - (size_t)n, "Sec-WebSocket-Protocol: %s\r\n",
			      opt->subprotocols);
	snprintf(req + n, cap - (size_t)n, "%s\r\n", opt && opt->headers ? opt->headers : "");
	return req;
}

int client_ws_connect(const char *host, int port, const char *path,
		      const struct client_ws_options *opt, struct client_ws **out,
		      struct client_response *resp)
{
	int timeout = opt && opt->timeout_ms ? opt->timeout_ms : DEFAULT_TIMEOUT_MS;
	int64_t deadline = client__deadline(timeout);
	struct client_response r;
	struct client_ws *ws = NULL;
	uint8_t raw[16], *extra = NULL;
	size_t extra_len = 0;
	char key[25], *req;
	int fd = -1, rc;

	if (out)
		*out = NULL;
	if (resp)
		memset(resp, 0, sizeof(*resp));
	memset(&r, 0, sizeof(r));
	if (!host || !path || !out || strpbrk(path, "\r\n"))
		return CH_EINVAL;
	if (client__random(raw, sizeof(raw)))
		return CH_EIO;
	EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
	req = build_request(host, port, path, key, opt);
	if (!req)
		return CH_ENOMEM;

	rc = client__tcp_connect(host, port, client__remaining(deadline), &fd);
	if (rc == 0)
		rc = client__send_all(fd, req, strlen(req), deadline);
	free(req);
	if (rc == 0)
		rc = client__read_response(fd, deadline, false, true, &r, &extra, &extra_len);
	if (rc == 0 && r.status != 101)
		rc = CH_EHANDSHAKE;
	if (rc == 0)
		rc = check_101(&r, key, opt ? opt->subprotocols : NULL);
	if (rc == 0) {
		ws = calloc(1, sizeof(*ws));
		if (!ws)
			rc = CH_ENOMEM;
	}
	if (rc == 0) {
		ws->fd = fd;
		ws->io_timeout_ms = timeout;
		ws->rnd_pos = sizeof(ws->rnd);
		/* Bytes that followed the 101 in the same read are the first
		 * WebSocket bytes. */
		ws->rbuf = extra;
		ws->rend = ws->rcap = extra_len;
		extra = NULL;
		*out = ws;
	} else if (fd >= 0) {
		close(fd);
	}
	free(extra);
	if (resp && (rc == 0 || rc == CH_EHANDSHAKE || rc == CH_EPROTO))
		*resp = r;
	else
		client_response_clear(&r);
	return rc;
}
