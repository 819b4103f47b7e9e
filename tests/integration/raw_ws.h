/*
 * raw_ws.h - a WebSocket client over a raw socket for the protocol tests
 * (test_wsproto.c, test_wslimits.c): the handshake by hand, client frames
 * built byte by byte (masked with a fixed key, or not), server frames read
 * as they are, plus the chat-room witness checks.
 *
 * Header-only, all static: the helpers CHECK what they read, and check.h
 * keeps its counters per translation unit, so each test file gets its own
 * copy counting into its own totals. Include after check.h and harness.h.
 */
#ifndef TESTS_INTEGRATION_RAW_WS_H
#define TESTS_INTEGRATION_RAW_WS_H

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "check.h"
#include "harness.h"
#include "wsframe.h"

#define ROOM "/ws/chat/lobby/"

/* ---- raw sockets: one WebSocket without the project's client ---- */

struct raw {
	int fd;
	unsigned char *buf; /* received, not yet parsed */
	size_t len, cap;
	bool eof;
};

/* One server frame as read. */
struct rframe {
	unsigned b0;          /* FIN, RSV bits, opcode */
	bool masked;          /* servers must not mask */
	unsigned char *data;  /* malloc'd (NUL-terminated), caller frees */
	size_t len;
};

enum { RAW_FRAME = 1, RAW_EOF = 0, RAW_TIMEOUT = -1, RAW_ERROR = -2 };

static inline int raw_fill(struct raw *r, int timeout_ms)
{
	if (r->eof)
		return RAW_EOF;
	struct pollfd p = {.fd = r->fd, .events = POLLIN};
	int n = poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms);
	if (n == 0)
		return RAW_TIMEOUT;
	if (n < 0)
		return RAW_ERROR;
	if (r->cap - r->len < 65536) {
		size_t cap = r->cap * 2 + 65536;
		unsigned char *b = realloc(r->buf, cap);
		if (!b)
			return RAW_ERROR;
		r->buf = b;
		r->cap = cap;
	}
	ssize_t got = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
	if (got == 0) {
		r->eof = true;
		return RAW_EOF;
	}
	if (got < 0) {
		fprintf(stderr, "raw recv: %s\n", strerror(errno));
		return RAW_ERROR;
	}
	r->len += (size_t)got;
	return RAW_FRAME;
}

static inline void raw_send_all(struct raw *r, const void *data, size_t len)
{
	const unsigned char *p = data;
	while (len) {
		ssize_t n = send(r->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "raw send: %s\n", strerror(errno));
			CHECK(!"raw send");
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

static inline int raw_connect(const struct h_server *s)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		fprintf(stderr, "raw connect: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static inline void raw_free(struct raw *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/*
 * Connects and sends the handshake for `path` followed by `early` (`early_len`
 * bytes, may be 0) in ONE send(), then reads the response head. 0 when it
 * is a 101 (bytes after it stay buffered); -1 otherwise (diagnostic printed).
 */
static inline int raw_open_path(const struct h_server *s, struct raw *r, const char *path,
				const void *early, size_t early_len)
{
	memset(r, 0, sizeof(*r));
	r->fd = raw_connect(s);
	if (r->fd < 0)
		return -1;
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\n"
			 "Host: 127.0.0.1:%d\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			 "Sec-WebSocket-Version: 13\r\n\r\n",
			 path, s->port);
	unsigned char *all = malloc((size_t)n + early_len);
	memcpy(all, req, (size_t)n);
	if (early_len)
		memcpy(all + n, early, early_len);
	ssize_t sent = send(r->fd, all, (size_t)n + early_len, MSG_NOSIGNAL);
	free(all);
	if (sent != (ssize_t)((size_t)n + early_len)) {
		fprintf(stderr, "raw handshake: sent %zd of %zu\n", sent, (size_t)n + early_len);
		return -1;
	}
	int64_t deadline = h_now_ms() + H_IO_TIMEOUT_MS;
	for (;;) {
		unsigned char *end = r->len >= 4 ? memmem(r->buf, r->len, "\r\n\r\n", 4) : NULL;
		if (end) {
			size_t head = (size_t)(end - r->buf) + 4;
			bool ok = r->len >= 12 && memcmp(r->buf, "HTTP/1.1 101", 12) == 0;
			if (!ok)
				fprintf(stderr, "raw handshake: %.*s\n", (int)head, r->buf);
			memmove(r->buf, r->buf + head, r->len - head);
			r->len -= head;
			return ok ? 0 : -1;
		}
		int rc = raw_fill(r, (int)(deadline - h_now_ms()));
		if (rc != RAW_FRAME) {
			fprintf(stderr, "raw handshake: no response head (%d)\n", rc);
			return -1;
		}
	}
}

/* raw_open_path() of ROOM. */
static inline int raw_open_head(const struct h_server *s, struct raw *r, const void *early,
				size_t early_len)
{
	return raw_open_path(s, r, ROOM, early, early_len);
}

/* raw_open_head(); on failure `r` is freed (r->fd is -1). */
static inline int raw_open_with(const struct h_server *s, struct raw *r, const void *early,
			 size_t early_len)
{
	if (raw_open_head(s, r, early, early_len) == 0)
		return 0;
	raw_free(r);
	return -1;
}

static inline int raw_open(const struct h_server *s, struct raw *r)
{
	return raw_open_with(s, r, NULL, 0);
}

/*
 * The next server frame, waiting up to `timeout_ms` in all. RAW_FRAME,
 * RAW_EOF (the socket ended; a partial frame is reported), RAW_TIMEOUT or
 * RAW_ERROR.
 */
static inline int raw_read_frame(struct raw *r, int timeout_ms, struct rframe *f)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	memset(f, 0, sizeof(*f));
	for (;;) {
		if (r->len >= 2) {
			size_t hl = 2;
			uint64_t plen = r->buf[1] & 0x7f;
			bool masked = r->buf[1] & 0x80;
			bool have = true;
			if (plen == 126) {
				hl = 4;
				have = r->len >= hl;
				if (have)
					plen = (uint64_t)r->buf[2] << 8 | r->buf[3];
			} else if (plen == 127) {
				hl = 10;
				have = r->len >= hl;
				if (have) {
					plen = 0;
					for (int i = 0; i < 8; i++)
						plen = plen << 8 | r->buf[2 + i];
				}
			}
			if (masked)
				hl += 4;
			if (have && r->len >= hl && r->len - hl >= plen) {
				f->b0 = r->buf[0];
				f->masked = masked;
				f->len = (size_t)plen;
				f->data = malloc(f->len + 1);
				memcpy(f->data, r->buf + hl, f->len);
				if (masked)
					for (size_t i = 0; i < f->len; i++)
						f->data[i] ^= r->buf[hl - 4 + i % 4];
				f->data[f->len] = '\0';
				size_t used = hl + f->len;
				memmove(r->buf, r->buf + used, r->len - used);
				r->len -= used;
				return RAW_FRAME;
			}
		}
		int64_t left = deadline - h_now_ms();
		if (left <= 0)
			return RAW_TIMEOUT;
		int rc = raw_fill(r, (int)left);
		if (rc == RAW_EOF && r->len)
			fprintf(stderr, "raw: EOF inside a frame (%zu bytes buffered)\n", r->len);
		if (rc != RAW_FRAME)
			return rc;
	}
}

/* True when the socket ends (EOF) within `ms` with nothing else arriving. */
static inline bool raw_expect_eof(struct raw *r, int ms, const char *what)
{
	struct rframe f;
	int rc = raw_read_frame(r, ms, &f);
	if (rc == RAW_EOF && r->len == 0)
		return true;
	if (rc == RAW_FRAME)
		fprintf(stderr, "%s: expected EOF, got a frame 0x%02x of %zu bytes\n", what, f.b0,
			f.len);
	else
		fprintf(stderr, "%s: expected EOF within %d ms, got %s\n", what, ms,
			rc == RAW_TIMEOUT ? "a timeout" : rc == RAW_EOF ? "a partial frame" :
			"an error");
	free(f.data);
	return false;
}

static const unsigned char mask_key[4] = {0x37, 0xfa, 0x21, 0x3d};

/*
 * Writes a client frame: first byte `b0` (FIN, RSV, opcode), masked with a
 * fixed non-zero key unless `unmasked`. `out` has room for len + 14 bytes.
 * Returns its size.
 */
static inline size_t frame_build(unsigned char *out, unsigned b0, const void *payload, size_t len,
			  bool unmasked)
{
	const unsigned char *p = payload;
	size_t o = wsframe_header_encode(out, b0 & 0x0f, b0 & 0x80, len, unmasked ? NULL : mask_key);
	out[0] |= (unsigned char)(b0 & 0x70); /* RSV bits, for the tests that set them */
	for (size_t i = 0; i < len; i++)
		out[o + i] = unmasked ? p[i] : p[i] ^ mask_key[i % 4];
	return o + len;
}

static inline void raw_send_frame(struct raw *r, unsigned b0, const void *payload, size_t len)
{
	unsigned char *f = malloc(len + 14);
	size_t n = frame_build(f, b0, payload, len, false);
	raw_send_all(r, f, n);
	free(f);
}

/*
 * Reads frames, skipping data frames (chat traffic of the room), until a
 * close frame. Returns its code (1005 for an empty payload), 0 on EOF or
 * -1 on a timeout or error. `*payload`/`*plen` (may be NULL) get the close
 * payload (caller frees).
 */
static inline int raw_expect_close(struct raw *r, int ms, unsigned char **payload, size_t *plen,
			    const char *what)
{
	int64_t deadline = h_now_ms() + ms;
	for (;;) {
		struct rframe f;
		int64_t left = deadline - h_now_ms();
		int rc = raw_read_frame(r, left > 0 ? (int)left : 0, &f);
		if (rc != RAW_FRAME) {
			fprintf(stderr, "%s: no close frame (%s)\n", what,
				rc == RAW_EOF ? "EOF" : rc == RAW_TIMEOUT ? "timeout" : "error");
			return rc == RAW_EOF ? 0 : -1;
		}
		if ((f.b0 & 0x0f) != 0x8) {
			free(f.data);
			continue;
		}
		if (f.b0 != (0x80 | WSFRAME_OP_CLOSE) || f.masked)
			fprintf(stderr, "%s: close frame byte 0 = 0x%02x, masked %d\n", what, f.b0,
				f.masked);
		CHECK_INT(f.b0, 0x80 | WSFRAME_OP_CLOSE);
		CHECK(!f.masked);
		int code = f.len >= 2 ? f.data[0] << 8 | f.data[1] : 1005;
		if (payload) {
			*payload = f.data;
			*plen = f.len;
		} else {
			free(f.data);
		}
		return code;
	}
}

/* Ends a raw connection politely: close 1000, the server's close, EOF. */
static inline void raw_close_clean(struct raw *r, const char *what)
{
	static const unsigned char bye[] = {0x03, 0xe8};
	raw_send_frame(r, 0x80 | WSFRAME_OP_CLOSE, bye, 2);
	CHECK_INT(raw_expect_close(r, 3000, NULL, NULL, what), 1000);
	CHECK(raw_expect_eof(r, 2000, what));
	raw_free(r);
}

/* ---- the witness ---- */

/* The witness still sends and receives its own message. */
static inline void witness_ok(struct h_room *rm, const char *after)
{
	CHECK_INT(h_witness_roundtrip(rm, after), 0);
}

/* Connects the room's witness to ROOM (as `jar`'s user, or anonymous when
 * NULL) and checks its first round trip. */
static inline void witness_open(struct h_room *rm, const struct h_server *s,
				const struct h_jar *jar)
{
	*rm = (struct h_room){.s = s};
	CHECK_INT(h_ws_open(s, ROOM, jar, NULL, &rm->witness, NULL), 0);
	witness_ok(rm, "start");
}

/* Closes the witness (the close must succeed when it is connected), frees it. */
static inline void witness_close(struct h_room *rm)
{
	if (rm->witness)
		CHECK_INT(client_ws_close(rm->witness, 1000, 3000), 0);
	client_ws_free(rm->witness);
	rm->witness = NULL;
}

/* The end of a server that hosted `rm`: it still answers /healthz and runs,
 * the witness leaves, and it stops cleanly. */
static inline void room_server_stop(struct h_room *rm, struct h_server *s)
{
	CHECK_INT(h_healthz(s), 0);
	CHECK(h_server_alive(s));
	witness_close(rm);
	CHECK_INT(h_server_stop(s), 0);
}

/* The witness round trip, failing if any message before it is `banned`. */
static inline void witness_never_got(struct h_room *rm, const char *banned, const char *after)
{
	char text[160];
	snprintf(text, sizeof(text), "witness %d after %s", ++rm->round, after);
	if (!rm->witness) {
		CHECK(!"witness connected");
		return;
	}
	CHECK_INT(h_ws_send_chat(rm->witness, text), 0);
	int seen_banned = 0;
	for (;;) {
		json_t *v = h_recv_json(rm->witness, 3000, "witness");
		const char *m = json_string_value(json_object_get(v, "message"));
		bool done = !v || (m && strcmp(m, text) == 0);
		if (m && strcmp(m, banned) == 0) {
			fprintf(stderr, "witness received \"%s\" after %s\n", banned, after);
			seen_banned++;
		}
		CHECK(v != NULL);
		json_decref(v);
		if (done)
			break;
	}
	CHECK_INT(seen_banned, 0);
}

/* A JSON text of exactly `total` bytes the chat accepts: {"message": tag, "pad": "aaa..."}. */
static inline char *sized_json(size_t total, const char *tag)
{
	char head[128];
	int hn = snprintf(head, sizeof(head), "{\"message\":\"%s\",\"pad\":\"", tag);
	char *j = malloc(total + 1);
	memcpy(j, head, (size_t)hn);
	memset(j + hn, 'a', total - (size_t)hn - 2);
	memcpy(j + total - 2, "\"}", 2);
	j[total] = '\0';
	return j;
}

#endif
