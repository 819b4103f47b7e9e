/*
 * test_wsproto.c - the server's own WebSocket frame reader (server/ws_conn.c
 * "receiving", server/wsframe/) checked byte for byte over raw sockets:
 *
 *   pings -> one pong each with the same payload, in order (ten in one
 *   write: ten pongs); over 256 owed (300 in one write, or a client that
 *   never reads) -> the pongs owed, then 1008
 *   a client close C -> a close C back, then EOF; empty -> empty
 *   invalid close codes, 1-byte close payloads -> 1002, then EOF
 *   a frame in the same TCP write as the handshake -> 1002, not delivered
 *   200 frames in one write, one frame in 3000 one-byte writes -> in order
 *   exactly --max-message-size passes; one more byte -> 1009 from the header
 *   RSV bits, reserved opcodes, unmasked frames -> 1002
 *   invalid UTF-8 -> 1007 as soon as its bytes arrive (first bytes of a
 *   frame, a later write, a continuation), before the rest is sent
 *   keepalive: silent clients are pinged, and dropped if they never answer
 *   limits, inclusive: --max-queue Q passes Q bytes, Q + 1 -> 1013;
 *   --max-message-size over fragments; --rate-burst B passes B, then 1008;
 *   the default --max-queue admits a message of --max-message-size
 *
 * After each case a witness in the same chat room still does a round trip.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "check.h"
#include "harness.h"

#define ROOM "/ws/chat/lobby/"
#define MAX_MSG 70000

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

static int raw_fill(struct raw *r, int timeout_ms)
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

static void raw_send_all(struct raw *r, const void *data, size_t len)
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

static int raw_connect(const struct h_server *s)
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

static void raw_free(struct raw *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/*
 * Connects and sends the handshake for ROOM followed by `early` (`early_len`
 * bytes, may be 0) in ONE send(), then reads the response head. 0 when it
 * is a 101 (bytes after it stay buffered); -1 otherwise (diagnostic printed).
 */
static int raw_open_head(const struct h_server *s, struct raw *r, const void *early,
			 size_t early_len)
{
	memset(r, 0, sizeof(*r));
	r->fd = raw_connect(s);
	if (r->fd < 0)
		return -1;
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "GET " ROOM " HTTP/1.1\r\n"
			 "Host: 127.0.0.1:%d\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			 "Sec-WebSocket-Version: 13\r\n\r\n",
			 s->port);
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

/* raw_open_head(); on failure `r` is freed (r->fd is -1). */
static int raw_open_with(const struct h_server *s, struct raw *r, const void *early,
			 size_t early_len)
{
	if (raw_open_head(s, r, early, early_len) == 0)
		return 0;
	raw_free(r);
	return -1;
}

static int raw_open(const struct h_server *s, struct raw *r)
{
	return raw_open_with(s, r, NULL, 0);
}

/*
 * The next server frame, waiting up to `timeout_ms` in all. RAW_FRAME,
 * RAW_EOF (the socket ended; a partial frame is reported), RAW_TIMEOUT or
 * RAW_ERROR.
 */
static int raw_read_frame(struct raw *r, int timeout_ms, struct rframe *f)
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
static bool raw_expect_eof(struct raw *r, int ms, const char *what)
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

/* A masked client frame header for a `len`-byte payload (room for 14 bytes);
 * returns its size. The payload must be masked with mask_key. */
static size_t frame_header(unsigned char *out, unsigned b0, size_t len)
{
	size_t o = 0;
	out[o++] = (unsigned char)b0;
	if (len < 126) {
		out[o++] = (unsigned char)(0x80 | len);
	} else if (len <= 0xffff) {
		out[o++] = 0x80 | 126;
		out[o++] = (unsigned char)(len >> 8);
		out[o++] = (unsigned char)len;
	} else {
		out[o++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			out[o++] = (unsigned char)((uint64_t)len >> (8 * i));
	}
	memcpy(out + o, mask_key, 4);
	return o + 4;
}

/*
 * Writes a client frame: first byte `b0` (FIN, RSV, opcode), masked with a
 * fixed non-zero key unless `unmasked`. `out` has room for len + 14 bytes.
 * Returns its size.
 */
static size_t frame_build(unsigned char *out, unsigned b0, const void *payload, size_t len,
			  bool unmasked)
{
	const unsigned char *p = payload;
	if (!unmasked) {
		size_t o = frame_header(out, b0, len);
		for (size_t i = 0; i < len; i++)
			out[o + i] = p[i] ^ mask_key[i % 4];
		return o + len;
	}
	size_t o = frame_header(out, b0, len) - 4;
	out[1] &= 0x7f;
	memcpy(out + o, p, len);
	return o + len;
}

static void raw_send_frame(struct raw *r, unsigned b0, const void *payload, size_t len)
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
static int raw_expect_close(struct raw *r, int ms, unsigned char **payload, size_t *plen,
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
		if (f.b0 != 0x88 || f.masked)
			fprintf(stderr, "%s: close frame byte 0 = 0x%02x, masked %d\n", what, f.b0,
				f.masked);
		CHECK_INT(f.b0, 0x88);
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
static void raw_close_clean(struct raw *r, const char *what)
{
	static const unsigned char bye[] = {0x03, 0xe8};
	raw_send_frame(r, 0x88, bye, 2);
	CHECK_INT(raw_expect_close(r, 3000, NULL, NULL, what), 1000);
	CHECK(raw_expect_eof(r, 2000, what));
	raw_free(r);
}

/* ---- the witness ---- */

/* The witness still sends and receives its own message. */
static void witness_ok(struct h_room *rm, const char *after)
{
	CHECK_INT(h_witness_roundtrip(rm, after), 0);
}

/* The witness round trip, failing if any message before it is `banned`. */
static void witness_never_got(struct h_room *rm, const char *banned, const char *after)
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

/* ---- 1. pings ---- */

static void ping_once(struct raw *r, const unsigned char *payload, size_t len)
{
	char what[64];
	snprintf(what, sizeof(what), "ping of %zu bytes", len);
	raw_send_frame(r, 0x89, payload, len);
	struct rframe f;
	int rc = raw_read_frame(r, 3000, &f);
	CHECK_INT(rc, RAW_FRAME);
	if (rc != RAW_FRAME) {
		fprintf(stderr, "%s: no pong\n", what);
		return;
	}
	if (f.b0 != 0x8a || f.len != len)
		fprintf(stderr, "%s: got frame 0x%02x of %zu bytes\n", what, f.b0, f.len);
	CHECK_INT(f.b0, 0x8a); /* FIN + pong, no RSV */
	CHECK(!f.masked);
	CHECK_INT(f.len, len);
	CHECK(f.len == len && memcmp(f.data, payload, len) == 0);
	free(f.data);
	/* Exactly one. */
	rc = raw_read_frame(r, 200, &f);
	if (rc != RAW_TIMEOUT)
		fprintf(stderr, "%s: a second frame (0x%02x, %zu bytes) or end (%d)\n", what, f.b0,
			f.len, rc);
	CHECK_INT(rc, RAW_TIMEOUT);
	free(f.data);
}

static void test_pings(struct h_room *rm)
{
	struct raw r;
	CHECK_INT(raw_open(rm->s, &r), 0);
	if (r.fd < 0)
		return;
	ping_once(&r, (const unsigned char *)"hello-ping", 10);
	unsigned char big[125];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 7 + 1);
	ping_once(&r, big, sizeof(big));
	ping_once(&r, (const unsigned char *)"", 0);
	/* A ping between two other frames of one write. */
	unsigned char both[64];
	size_t n = frame_build(both, 0x89, "a", 1, false);
	n += frame_build(both + n, 0x89, "bc", 2, false);
	raw_send_all(&r, both, n);
	struct rframe f;
	int pongs = 0;
	while (raw_read_frame(&r, 300, &f) == RAW_FRAME) {
		/* One pong per ping, in order. */
		if (pongs == 0)
			CHECK(f.len == 1 && memcmp(f.data, "a", 1) == 0);
		else
			CHECK(f.len == 2 && memcmp(f.data, "bc", 2) == 0);
		CHECK_INT(f.b0, 0x8a);
		pongs++;
		free(f.data);
	}
	CHECK_INT(pongs, 2);
	raw_close_clean(&r, "pings");
	witness_ok(rm, "pings");
}

/*
 * Reads pongs until a close frame: each pong's payload must be
 * "ping <i>" padded with '.' to `plen` bytes, i counting from 0. Returns
 * the number of pongs in order before the close, or -1 when something
 * else came (printed); *code gets the close code (0: none). Parses in
 * place (megabytes of pongs may be waiting).
 */
static long read_pongs_until_close(struct raw *r, size_t plen, int timeout_ms, int *code,
				   const char *what)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	long n = 0;
	size_t at = 0;
	*code = 0;
	for (;;) {
		while (r->len - at >= 2) {
			unsigned char *p = r->buf + at;
			size_t len = p[1] & 0x7f;
			if ((p[1] & 0x80) || len > 125) {
				fprintf(stderr, "%s: frame 0x%02x 0x%02x after %ld pongs\n", what, p[0],
					p[1], n);
				return -1;
			}
			if (r->len - at < 2 + len)
				break;
			if (p[0] == 0x88) {
				*code = len >= 2 ? p[2] << 8 | p[3] : 1005;
				at += 2 + len;
				memmove(r->buf, r->buf + at, r->len - at);
				r->len -= at;
				return n;
			}
			char want[128];
			memset(want, '.', plen);
			memcpy(want, "ping ", 5);
			int k = snprintf(want + 5, 24, "%ld", n);
			want[5 + k] = '.';
			if (p[0] != 0x8a || len != plen || memcmp(p + 2, want, plen) != 0) {
				fprintf(stderr, "%s: pong %ld is 0x%02x of %zu bytes: %.*s\n", what, n,
					p[0], len, (int)len, (const char *)p + 2);
				return -1;
			}
			n++;
			at += 2 + len;
		}
		memmove(r->buf, r->buf + at, r->len - at);
		r->len -= at;
		at = 0;
		int64_t left = deadline - h_now_ms();
		int rc = left > 0 ? raw_fill(r, (int)left) : RAW_TIMEOUT;
		if (rc != RAW_FRAME) {
			fprintf(stderr, "%s: %s after %ld pongs\n", what,
				rc == RAW_EOF ? "EOF" : rc == RAW_TIMEOUT ? "timeout" : "error", n);
			return n;
		}
	}
}

/* `count` pings "ping <first + i>" padded with '.' to `plen` bytes into
 * `out` (room for count * (plen + 6)); returns the bytes written. */
static size_t build_pings(unsigned char *out, long first, long count, size_t plen)
{
	size_t o = 0;
	for (long i = 0; i < count; i++) {
		char p[128];
		memset(p, '.', plen);
		memcpy(p, "ping ", 5);
		int k = snprintf(p + 5, 24, "%ld", first + i);
		p[5 + k] = '.';
		o += frame_build(out + o, 0x89, p, plen, false);
	}
	return o;
}

/*
 * One pong per ping, in order, with its payload: ten pings in one write
 * get ten pongs. A flood beyond the backlog (256 pongs owed, 8 KiB) closes
 * 1008: 300 pings in one write get the first 256 pongs, then the close;
 * a client that sends pings and never reads is closed 1008 too, once the
 * socket and the backlog are full, and its pongs so far are intact.
 */
static void test_ping_burst(struct h_room *rm)
{
	struct raw r;
	CHECK_INT(raw_open(rm->s, &r), 0);
	if (r.fd < 0)
		return;
	unsigned char *buf = malloc(300 * 64);
	size_t n = build_pings(buf, 0, 10, 12);
	raw_send_all(&r, buf, n);
	struct rframe f;
	for (int i = 0; i < 10; i++) {
		char want[16];
		snprintf(want, sizeof(want), "ping %d......", i);
		int rc = raw_read_frame(&r, 3000, &f);
		CHECK_INT(rc, RAW_FRAME);
		if (rc != RAW_FRAME || f.b0 != 0x8a || f.len != 12 || memcmp(f.data, want, 12) != 0) {
			fprintf(stderr, "ten pings: pong %d is 0x%02x \"%s\" (rc %d)\n", i, f.b0,
				f.data ? (char *)f.data : "", rc);
			CHECK(!"ten pongs in order");
			free(f.data);
			break;
		}
		free(f.data);
	}
	CHECK_INT(raw_read_frame(&r, 300, &f), RAW_TIMEOUT); /* and no more */
	free(f.data);
	raw_close_clean(&r, "ten pings");
	witness_ok(rm, "ten pings in one write");

	/* 300 empty-ish pings in one write (one read): 256 pongs, close 1008 */
	CHECK_INT(raw_open(rm->s, &r), 0);
	if (r.fd < 0) {
		free(buf);
		return;
	}
	n = build_pings(buf, 0, 300, 10);
	raw_send_all(&r, buf, n);
	free(buf);
	int code = 0;
	long pongs = read_pongs_until_close(&r, 10, 3000, &code, "300 pings in one write");
	CHECK_INT(pongs, 256);
	CHECK_INT(code, 1008);
	static const unsigned char bye[] = {0x03, 0xe8};
	raw_send_frame(&r, 0x88, bye, 2);
	CHECK(raw_expect_eof(&r, 3000, "300 pings in one write"));
	raw_free(&r);
	witness_ok(rm, "300 pings in one write");

	/* A client that never reads: pings (125 bytes) in writes of 20, 1 ms
	 * apart (so that a read rarely holds 65, over the backlog's 8 KiB),
	 * until the pongs owed exceed by far what the sockets hold (~50 KB
	 * here: the server's send buffer does not grow while the client's
	 * window is closed; 1.5 MiB of pongs are owed in all), then it reads:
	 * pongs in order, then 1008. The server waits 5 s for its close frame
	 * to get out: the sending must take less (~1 s here, 2.5 s in TSan).
	 */
	CHECK_INT(raw_open(rm->s, &r), 0);
	if (r.fd < 0)
		return;
	int small = 16 * 1024;
	setsockopt(r.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	long total = (3 << 19) / 127; /* pongs of 127 bytes */
	buf = malloc(20 * (125 + 14));
	int64_t t0 = h_now_ms();
	for (long sent = 0; sent < total; sent += 20) {
		n = build_pings(buf, sent, 20, 125);
		raw_send_all(&r, buf, n);
		h_sleep_ms(1);
	}
	free(buf);
	int64_t t_sent = h_now_ms() - t0;
	pongs = read_pongs_until_close(&r, 125, 10000, &code, "pings, never reading");
	fprintf(stderr, "ping flood: %ld pings sent in %lld ms, %ld pongs before close %d\n", total,
		(long long)t_sent, pongs, code);
	CHECK(pongs >= 1 && pongs < total);
	CHECK_INT(code, 1008);
	raw_send_frame(&r, 0x88, bye, 2);
	CHECK(raw_expect_eof(&r, 3000, "pings, never reading"));
	raw_free(&r);
	witness_ok(rm, "pings from a client that never reads");
}

/* ---- 2. client close ---- */

static void close_echo(struct h_room *rm, const char *what, const unsigned char *payload,
		       size_t len, int want)
{
	struct raw r;
	CHECK_INT(raw_open(rm->s, &r), 0);
	if (r.fd < 0)
		return;
	raw_send_frame(&r, 0x88, payload, len);
	unsigned char *p = NULL;
	size_t plen = 0;
	int code = raw_expect_close(&r, 3000, &p, &plen, what);
	if (code != want)
		fprintf(stderr, "%s: close %d, expected %d\n", what, code, want);
	CHECK_INT(code, want);
	if (want == 1005) {
		CHECK_INT(plen, 0);
	} else {
		CHECK(plen >= 2 && p[0] == (want >> 8) && p[1] == (want & 0xff));
	}
	free(p);
	int64_t t0 = h_now_ms();
	CHECK(raw_expect_eof(&r, 2000, what));
	if (h_now_ms() - t0 > 2000)
		fprintf(stderr, "%s: EOF after %lld ms\n", what, (long long)(h_now_ms() - t0));
	raw_free(&r);
	witness_ok(rm, what);
}

static void test_client_close(struct h_room *rm)
{
	static const unsigned char c4000[] = {0x0f, 0xa0, 'b', 'y', 'e'};
	close_echo(rm, "close 4000 bye", c4000, sizeof(c4000), 4000);
	close_echo(rm, "empty close", NULL, 0, 1005);
	static const unsigned char c1000[] = {0x03, 0xe8};
	close_echo(rm, "close 1000", c1000, sizeof(c1000), 1000);
	static const unsigned char c1001[] = {0x03, 0xe9, 'g', 'o', 'n', 'e'};
	close_echo(rm, "close 1001 gone", c1001, sizeof(c1001), 1001);
}

/* ---- 3 and 8. protocol errors ---- */

/* Sends `bytes` raw after the handshake; expects close `want` then EOF. */
static void expect_fail(struct h_room *rm, const char *what, const void *bytes, size_t len,
			int want)
{
	struct raw r;
	CHECK_INT(raw_open(rm->s, &r), 0);
	if (r.fd < 0)
		return;
	raw_send_all(&r, bytes, len);
	int code = raw_expect_close(&r, 3000, NULL, NULL, what);
	if (code != want)
		fprintf(stderr, "%s: close %d, expected %d\n", what, code, want);
	CHECK_INT(code, want);
	CHECK(raw_expect_eof(&r, 2000, what));
	raw_free(&r);
	witness_ok(rm, what);
}

static void expect_fail_frame(struct h_room *rm, const char *what, unsigned b0, const void *payload,
			      size_t len, bool unmasked, int want)
{
	unsigned char buf[256];
	size_t n = frame_build(buf, b0, payload, len, unmasked);
	expect_fail(rm, what, buf, n, want);
}

static void test_bad_close(struct h_room *rm)
{
	static const int bad[] = {999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 0};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned char p[2] = {(unsigned char)(bad[i] >> 8), (unsigned char)bad[i]};
		char what[64];
		snprintf(what, sizeof(what), "close code %d on the wire", bad[i]);
		expect_fail_frame(rm, what, 0x88, p, 2, false, 1002);
	}
	expect_fail_frame(rm, "close payload of 1 byte", 0x88, "\x03", 1, false, 1002);
	/* A fragmented close frame. */
	static const unsigned char c1000[] = {0x03, 0xe8};
	expect_fail_frame(rm, "close without FIN", 0x08, c1000, 2, false, 1002);
	/* A reason that is not UTF-8. */
	static const unsigned char badr[] = {0x03, 0xe8, 0xff, 0xfe};
	expect_fail_frame(rm, "close reason not UTF-8", 0x88, badr, sizeof(badr), false, 1007);
}

static void test_bad_frames(struct h_room *rm)
{
	const char *hi = "{\"message\":\"rsv\"}";
	size_t n = strlen(hi);
	expect_fail_frame(rm, "text with RSV1", 0x80 | 0x40 | 0x1, hi, n, false, 1002);
	expect_fail_frame(rm, "text with RSV2", 0x80 | 0x20 | 0x1, hi, n, false, 1002);
	expect_fail_frame(rm, "text with RSV3", 0x80 | 0x10 | 0x1, hi, n, false, 1002);
	expect_fail_frame(rm, "opcode 0x3", 0x80 | 0x3, hi, n, false, 1002);
	expect_fail_frame(rm, "opcode 0xB", 0x80 | 0xb, "x", 1, false, 1002);
	expect_fail_frame(rm, "unmasked text", 0x81, hi, n, true, 1002);
	expect_fail_frame(rm, "unmasked ping", 0x89, "x", 1, true, 1002);
	expect_fail_frame(rm, "fragmented ping", 0x09, "x", 1, false, 1002);
	/* A valid frame, then a bad one in the same write: the first is delivered. */
	struct raw r;
	CHECK_INT(raw_open(rm->s, &r), 0);
	if (r.fd < 0)
		return;
	unsigned char buf[256];
	size_t o = frame_build(buf, 0x81, "{\"message\":\"before rsv\"}", 24, false);
	o += frame_build(buf + o, 0xc1, hi, n, false);
	raw_send_all(&r, buf, o);
	json_t *v = h_recv_json(rm->witness, 3000, "witness (valid before RSV1)");
	CHECK_STR(json_string_value(json_object_get(v, "message")), "before rsv");
	json_decref(v);
	CHECK_INT(raw_expect_close(&r, 3000, NULL, NULL, "valid then RSV1"), 1002);
	CHECK(raw_expect_eof(&r, 2000, "valid then RSV1"));
	raw_free(&r);
	witness_ok(rm, "valid then RSV1 in one write");
}

/* ---- 4. data before the 101 ---- */

static void test_early_data(struct h_room *rm)
{
	const char *early = "{\"message\":\"early\"}";
	unsigned char buf[64];
	size_t n = frame_build(buf, 0x81, early, strlen(early), false);
	struct raw r;
	CHECK_INT(raw_open_with(rm->s, &r, buf, n), 0);
	if (r.fd < 0)
		return;
	int code = raw_expect_close(&r, 3000, NULL, NULL, "frame with the handshake");
	CHECK_INT(code, 1002);
	CHECK(raw_expect_eof(&r, 2000, "frame with the handshake"));
	raw_free(&r);
	witness_never_got(rm, "early", "a frame in the handshake's write");

	/* A close frame in the handshake's write: the connection ends too. */
	static const unsigned char c1000[] = {0x03, 0xe8};
	n = frame_build(buf, 0x88, c1000, 2, false);
	CHECK_INT(raw_open_with(rm->s, &r, buf, n), 0);
	if (r.fd < 0)
		return;
	code = raw_expect_close(&r, 3000, NULL, NULL, "close with the handshake");
	/* A close frame (1002, or the echo) or a bare end are all fine. */
	CHECK(code == 1002 || code == 1000 || code == 0);
	if (code != 0)
		CHECK(raw_expect_eof(&r, 2000, "close with the handshake"));
	raw_free(&r);
	witness_ok(rm, "a close in the handshake's write");
}

/* ---- 5. many frames in one write ---- */

static void test_batch(struct h_room *rm)
{
	enum { N = 200 };
	struct raw r;
	CHECK_INT(raw_open(rm->s, &r), 0);
	if (r.fd < 0)
		return;
	unsigned char *all = malloc(N * 64);
	size_t o = 0;
	for (int i = 0; i < N; i++) {
		char msg[48];
		int n = snprintf(msg, sizeof(msg), "{\"message\":\"burst %03d\"}", i);
		o += frame_build(all + o, 0x81, msg, (size_t)n, false);
	}
	ssize_t sent = send(r.fd, all, o, MSG_NOSIGNAL);
	CHECK_INT(sent, (ssize_t)o);
	free(all);
	int in_order = 0;
	for (int i = 0; i < N; i++) {
		char want[32];
		snprintf(want, sizeof(want), "burst %03d", i);
		json_t *v = h_recv_json(rm->witness, 3000, "witness (burst)");
		const char *m = json_string_value(json_object_get(v, "message"));
		if (m && strcmp(m, want) == 0) {
			in_order++;
		} else {
			fprintf(stderr, "burst: message %d is \"%s\", expected \"%s\"\n", i,
				m ? m : "(none)", want);
			json_decref(v);
			break;
		}
		json_decref(v);
	}
	CHECK_INT(in_order, N);
	/* The sender gets its own messages back, in order too. */
	int echoed = 0;
	for (int i = 0; i < N; i++) {
		struct rframe f;
		if (raw_read_frame(&r, 3000, &f) != RAW_FRAME)
			break;
		char want[32];
		snprintf(want, sizeof(want), "\"burst %03d\"", i);
		bool ok = f.b0 == 0x81 && strstr((char *)f.data, want);
		if (!ok)
			fprintf(stderr, "burst echo %d: 0x%02x %.100s\n", i, f.b0, f.data);
		free(f.data);
		if (!ok)
			break;
		echoed++;
	}
	CHECK_INT(echoed, N);
	raw_close_clean(&r, "burst");
	witness_ok(rm, "200 frames in one write");
}

/* ---- 6. one frame in one-byte writes ---- */

/*
 * Three senders each write 600 messages in one send(), at once: 1,800
 * messages reach the witness's channel within one loop turn, more than the
 * layer's default capacity (1,000). The server hands them to the receivers
 * every 256 messages it reads (layer_deliver), so none is dropped; each
 * sender's messages arrive in its order.
 */
static void test_burst_over_capacity(struct h_room *rm)
{
	enum { SENDERS = 3, N = 600 };
	struct raw r[SENDERS];
	unsigned char *all[SENDERS];
	size_t len[SENDERS];
	for (int k = 0; k < SENDERS; k++) {
		CHECK_INT(raw_open(rm->s, &r[k]), 0);
		all[k] = malloc(N * 64);
		len[k] = 0;
		for (int i = 0; i < N; i++) {
			char msg[48];
			int n = snprintf(msg, sizeof(msg), "{\"message\":\"s%d %03d\"}", k, i);
			len[k] += frame_build(all[k] + len[k], 0x81, msg, (size_t)n, false);
		}
	}
	for (int k = 0; k < SENDERS; k++) {
		if (r[k].fd >= 0)
			CHECK_INT(send(r[k].fd, all[k], len[k], MSG_NOSIGNAL), (ssize_t)len[k]);
		free(all[k]);
	}
	int next[SENDERS] = {0}, got = 0, wrong = 0;
	for (int i = 0; i < SENDERS * N; i++) {
		json_t *v = h_recv_json(rm->witness, 3000, "witness (burst over capacity)");
		const char *m = json_string_value(json_object_get(v, "message"));
		int k = -1, seq = -1;
		if (!m || sscanf(m, "s%d %d", &k, &seq) != 2 || k < 0 || k >= SENDERS ||
		    seq != next[k]) {
			if (wrong++ == 0)
				fprintf(stderr, "burst over capacity: message %d is \"%s\"\n", i,
					m ? m : "(none)");
			json_decref(v);
			if (!m)
				break;
			continue;
		}
		next[k]++;
		got++;
		json_decref(v);
	}
	CHECK_INT(got, SENDERS * N);
	CHECK_INT(wrong, 0);
	for (int k = 0; k < SENDERS; k++) {
		/* each sender's own 600 echoes come back to it too */
		int echoed = 0;
		for (struct rframe f; echoed < N && raw_read_frame(&r[k], 3000, &f) == RAW_FRAME;) {
			echoed += f.b0 == 0x81;
			free(f.data);
		}
		CHECK_INT(echoed, N);
		raw_close_clean(&r[k], "burst over capacity");
	}
	witness_ok(rm, "1,800 messages in one turn");
}

static void test_trickle(struct h_room *rm)
{
	/* 995 x U+20AC and 5 ASCII: 1000 characters (the chat's limit), 2990 bytes. */
	char text[3000];
	size_t t = 0;
	for (int i = 0; i < 995; i++) {
		memcpy(text + t, "\xe2\x82\xac", 3);
		t += 3;
	}
	memcpy(text + t, "tail!", 6);
	char *json = NULL;
	int jn = asprintf(&json, "{\"message\":\"%s\"}", text);
	CHECK(jn >= 3000);
	struct raw r;
	CHECK_INT(raw_open(rm->s, &r), 0);
	if (r.fd < 0 || jn < 0) {
		free(json);
		return;
	}
	int one = 1;
	setsockopt(r.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	unsigned char *frame = malloc((size_t)jn + 14);
	size_t n = frame_build(frame, 0x81, json, (size_t)jn, false);
	for (size_t i = 0; i < n; i++) {
		raw_send_all(&r, frame + i, 1);
		if (i % 50 == 49)
			h_sleep_ms(1);
	}
	free(frame);
	json_t *v = h_recv_json(rm->witness, 5000, "witness (trickled frame)");
	CHECK_STR(json_string_value(json_object_get(v, "message")), text);
	json_decref(v);
	/* Once: the next thing the witness sees is its own round trip. */
	char mark[64];
	snprintf(mark, sizeof(mark), "witness %d after the trickle", ++rm->round);
	CHECK_INT(h_ws_send_chat(rm->witness, mark), 0);
	v = h_recv_json(rm->witness, 3000, "witness (after the trickle)");
	CHECK_STR(json_string_value(json_object_get(v, "message")), mark);
	json_decref(v);
	/* The sender's echo, intact. */
	struct rframe f;
	CHECK_INT(raw_read_frame(&r, 3000, &f), RAW_FRAME);
	json_t *echo = f.data ? json_loadb((char *)f.data, f.len, 0, NULL) : NULL;
	CHECK_STR(json_string_value(json_object_get(echo, "message")), text);
	json_decref(echo);
	free(f.data);
	raw_close_clean(&r, "trickle");
	free(json);
	witness_ok(rm, "one frame in one-byte writes");
}

/* ---- 7. the size limit ---- */

/* A JSON text of exactly `total` bytes the chat accepts: {"message": tag, "pad": "aaa..."}. */
static char *sized_json(size_t total, const char *tag)
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

static void test_size_limit(struct h_room *rm)
{
	static const size_t sizes[] = {125, 126, 65535, 65536, MAX_MSG};
	struct raw r;
	CHECK_INT(raw_open(rm->s, &r), 0);
	if (r.fd < 0)
		return;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char tag[48];
		snprintf(tag, sizeof(tag), "size %zu", sizes[i]);
		char *j = sized_json(sizes[i], tag);
		CHECK_INT(strlen(j), sizes[i]);
		raw_send_frame(&r, 0x81, j, sizes[i]);
		free(j);
		json_t *v = h_recv_json(rm->witness, 3000, "witness (sized message)");
		CHECK_STR(json_string_value(json_object_get(v, "message")), tag);
		json_decref(v);
	}
	/* The limit + 1: refused from the header alone (payload never sent). */
	unsigned char hdr[14];
	size_t hl = frame_header(hdr, 0x81, MAX_MSG + 1);
	CHECK_INT(hl, 14);
	CHECK_INT(hdr[1], 0x80 | 127);
	raw_send_all(&r, hdr, hl);
	int code = raw_expect_close(&r, 3000, NULL, NULL, "limit + 1 (header only)");
	CHECK_INT(code, 1009);
	CHECK(raw_expect_eof(&r, 2000, "limit + 1"));
	raw_free(&r);
	witness_ok(rm, "the size limit");

	/* Limit + 1 over two fragments: refused at the second header. */
	CHECK_INT(raw_open(rm->s, &r), 0);
	if (r.fd < 0)
		return;
	char *half = sized_json(MAX_MSG / 2, "half");
	raw_send_frame(&r, 0x01, half, MAX_MSG / 2); /* text, no FIN */
	free(half);
	hl = frame_header(hdr, 0x80, MAX_MSG / 2 + 1); /* the last continuation */
	CHECK_INT(hl, 8);
	raw_send_all(&r, hdr, hl);
	code = raw_expect_close(&r, 3000, NULL, NULL, "fragments over the limit");
	CHECK_INT(code, 1009);
	CHECK(raw_expect_eof(&r, 2000, "fragments over the limit"));
	raw_free(&r);
	witness_ok(rm, "fragments over the limit");
}

/* ---- 9. UTF-8 fail-fast ---- */

/*
 * Sends the first `sent` bytes of the frame stream `all` (nothing more,
 * ever), with TCP_NODELAY, in writes cut at `cuts` (ascending, 20 ms
 * apart), and expects close 1007 then EOF: the server refuses invalid text
 * as soon as its bytes arrive, not at the end of the frame or message.
 */
static void expect_1007_early(struct h_room *rm, const char *what, const unsigned char *all,
			      size_t sent, const size_t *cuts, size_t ncut)
{
	struct raw r;
	CHECK_INT(raw_open(rm->s, &r), 0);
	if (r.fd < 0)
		return;
	int one = 1;
	setsockopt(r.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	size_t at = 0;
	for (size_t i = 0; i <= ncut; i++) {
		size_t end = i < ncut ? cuts[i] : sent;
		raw_send_all(&r, all + at, end - at);
		at = end;
		if (i < ncut)
			h_sleep_ms(20);
	}
	int code = raw_expect_close(&r, 3000, NULL, NULL, what);
	if (code != 1007)
		fprintf(stderr, "%s: close %d, expected 1007 before the rest is sent\n", what, code);
	CHECK_INT(code, 1007);
	CHECK(raw_expect_eof(&r, 2000, what));
	raw_free(&r);
	witness_ok(rm, what);
}

static void test_utf8_fail_fast(struct h_room *rm)
{
	unsigned char buf[1024];
	char text[600];

	/* One 500-byte text frame: its first 40 bytes, with 0xff at payload
	 * byte 30, in one write. */
	memset(text, 'a', 500);
	memcpy(text, "{\"message\":\"", 12);
	text[30] = (char)0xff;
	size_t n = frame_build(buf, 0x81, text, 500, false);
	CHECK_INT(n, 8 + 500);
	expect_1007_early(rm, "0xff in a frame's first bytes", buf, 8 + 40, NULL, 0);

	/* The same frame in three writes, the bad byte in the third (an
	 * overlong E0 80, refused at its 0x80). */
	text[30] = 'a';
	memcpy(text + 100, "\xe0\x80\x80", 3);
	n = frame_build(buf, 0x81, text, 500, false);
	size_t cuts[] = {5, 60};
	expect_1007_early(rm, "E0 80 in the third write", buf, 8 + 102, cuts, 2);

	/* Fragments: a whole first fragment ending inside a character (valid
	 * so far), a ping, then the start of a continuation whose second byte
	 * is bad: refused before that continuation is complete. */
	size_t o = frame_build(buf, 0x01, "{\"message\":\"caf\xc3", 16, false);
	o += frame_build(buf + o, 0x89, "p", 1, false);
	memset(text, 'b', 200);
	memcpy(text, "\xa9 \xf0\x9f\x28", 6); /* completes the e-acute, then F0 9F 28 */
	size_t cont = o;
	o += frame_build(buf + o, 0x00, text, 200, false);
	size_t fcuts[] = {cont, cont + 8 + 2};
	expect_1007_early(rm, "bad byte in a continuation", buf, cont + 8 + 6, fcuts, 2);

	/* A character split between two fragments and between writes is
	 * fine: the message reaches the room whole. */
	const char *want = "caf\xc3\xa9 \xf0\x9f\x98\x80 ok";
	o = frame_build(buf, 0x01, "{\"message\":\"caf\xc3", 16, false);
	size_t mid = o;
	o += frame_build(buf + o, 0x00, "\xa9 \xf0\x9f", 4, false);
	size_t mid2 = o;
	o += frame_build(buf + o, 0x80, "\x98\x80 ok\"}", 7, false);
	struct raw r;
	CHECK_INT(raw_open(rm->s, &r), 0);
	if (r.fd < 0)
		return;
	int one = 1;
	setsockopt(r.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	size_t pieces[] = {0, mid - 1, mid + 7, mid2 + 7, o};
	for (size_t i = 1; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		raw_send_all(&r, buf + pieces[i - 1], pieces[i] - pieces[i - 1]);
		h_sleep_ms(20);
	}
	json_t *v = h_recv_json(rm->witness, 3000, "witness (character split across fragments)");
	CHECK_STR(json_string_value(json_object_get(v, "message")), want);
	json_decref(v);
	raw_close_clean(&r, "character split across fragments");
	witness_ok(rm, "a character split across fragments");
}

/* ---- 10. the limits' exact boundaries ---- */

#define TOKEN "wsproto-publish-token-0123456789"

/* Publishes to group gossip a name.gossip event whose compact JSON is
 * exactly `size` bytes: {"type":"name.gossip","pad":"aaa..."}. */
static int publish_sized(const struct h_server *s, size_t size)
{
	const char *head = "{\"type\":\"name.gossip\",\"pad\":\"";
	size_t hn = strlen(head);
	char *j = malloc(size + 1);
	memcpy(j, head, hn);
	memset(j + hn, 'a', size - hn - 2);
	memcpy(j + size - 2, "\"}", 3);
	struct client_response r;
	int rc = h_http(s, "POST", "/_channels/group-send/gossip/", NULL,
			"Authorization: Bearer " TOKEN "\r\nContent-Type: application/json\r\n", j,
			size, &r);
	if (rc == 0 && r.status != 202)
		fprintf(stderr, "publish of %zu bytes: HTTP %d\n", size, r.status);
	int status = rc == 0 ? r.status : -1;
	if (rc == 0)
		client_response_clear(&r);
	free(j);
	return status == 202 ? 0 : -1;
}

/*
 * Every limit is inclusive, the first unit over it refused with its code:
 *   --max-queue Q: a message of exactly Q bytes reaches an idle client;
 *     Q + 1 closes it 1013;
 *   --max-message-size M: exactly M passes, also over fragments (M + 1:
 *     test_size_limit);
 *   --rate-limit/--rate-burst B: B messages at once pass, the next one
 *     closes 1008 (the bucket refills 0.001 message/s here).
 * And with no --max-queue, a message of --max-message-size (here 6 MiB,
 * over the old fixed 4 MiB default) is sent whole.
 */
static void test_limits(void)
{
	enum { Q = 70000, M = 50000, B = 5 };
	struct h_server s;
	const char *extra[] = {"--max-queue", "70000", "--max-message-size", "50000",
			       "--rate-limit", "0.001", "--rate-burst", "5",
			       "--publish-token", TOKEN, NULL};
	if (h_server_start(&s, extra) != 0) {
		CHECK(!"server with --max-queue 70000 started");
		return;
	}
	/* --max-queue, exactly */
	struct client_ws *n = NULL;
	CHECK_INT(h_ws_open(&s, "/notifications/", NULL, NULL, &n, NULL), 0);
	if (n) {
		CHECK_INT(publish_sized(&s, Q), 0);
		struct client_ws_message m = {0};
		CHECK_INT(client_ws_recv(n, 3000, &m), 0);
		CHECK_INT(m.opcode, WS_OP_TEXT);
		CHECK_INT(m.len, Q);
		free(m.data);
		CHECK_INT(publish_sized(&s, Q + 1), 0);
		CHECK_INT(h_ws_expect_close(n, 3000, NULL), 1013);
		client_ws_free(n);
	}

	/* --max-message-size, exactly, in three fragments */
	struct raw r;
	struct client_ws *w = NULL;
	CHECK_INT(h_ws_open(&s, ROOM, NULL, NULL, &w, NULL), 0);
	CHECK_INT(raw_open(&s, &r), 0);
	if (r.fd >= 0 && w) {
		char *j = sized_json(M, "exactly M");
		size_t third = M / 3;
		raw_send_frame(&r, 0x01, j, third);
		raw_send_frame(&r, 0x00, j + third, third);
		raw_send_frame(&r, 0x80, j + 2 * third, M - 2 * third);
		free(j);
		json_t *v = h_recv_json(w, 3000, "room (message of exactly --max-message-size)");
		CHECK_STR(json_string_value(json_object_get(v, "message")), "exactly M");
		json_decref(v);
		raw_close_clean(&r, "exactly --max-message-size in fragments");
	}

	/* --rate-burst, exactly: B messages (and their echoes), then 1008;
	 * the witness's messages above count against its own bucket only */
	CHECK_INT(raw_open(&s, &r), 0);
	if (r.fd >= 0) {
		for (int i = 0; i < B; i++) {
			char msg[64];
			int k = snprintf(msg, sizeof(msg), "{\"message\":\"rate %d\"}", i);
			raw_send_frame(&r, 0x81, msg, (size_t)k);
			struct rframe f;
			CHECK_INT(raw_read_frame(&r, 3000, &f), RAW_FRAME);
			char want[16];
			snprintf(want, sizeof(want), "rate %d", i);
			if (!f.data || !strstr((char *)f.data, want)) {
				fprintf(stderr, "rate: echo %d is %s\n", i,
					f.data ? (char *)f.data : "(none)");
				CHECK(!"message within the burst echoed");
			}
			free(f.data);
		}
		raw_send_frame(&r, 0x81, "{\"message\":\"one over\"}", 22);
		CHECK_INT(raw_expect_close(&r, 3000, NULL, NULL, "rate burst + 1"), 1008);
		raw_free(&r);
	}
	if (w) {
		CHECK_INT(client_ws_close(w, 1000, 3000), 0);
		client_ws_free(w);
	}
	CHECK_INT(h_server_stop(&s), 0);

	/* the --max-queue default admits a message of --max-message-size */
	const char *big[] = {"--max-message-size", "6291456", "--max-body-size", "6291456",
			     "--publish-token", TOKEN, NULL};
	if (h_server_start(&s, big) != 0) {
		CHECK(!"server with --max-message-size 6 MiB started");
		return;
	}
	CHECK_INT(h_ws_open(&s, "/notifications/", NULL, NULL, &n, NULL), 0);
	if (n) {
		CHECK_INT(publish_sized(&s, 6291456), 0);
		struct client_ws_message m = {0};
		CHECK_INT(client_ws_recv(n, 10000, &m), 0);
		CHECK_INT(m.opcode, WS_OP_TEXT);
		CHECK_INT(m.len, 6291456);
		free(m.data);
		CHECK_INT(client_ws_close(n, 1000, 3000), 0);
		client_ws_free(n);
	}
	CHECK_INT(h_server_stop(&s), 0);
}

/* Keepalive (--ping-interval 1 --ping-timeout 1): a silent client gets a
 * ping after ~1 s and is dropped ~1 s later unless it answers; one that
 * answers (raw, or the project's client) stays. */
static void test_keepalive(void)
{
	struct h_server s;
	const char *extra[] = {"--ping-interval", "1", "--ping-timeout", "1", NULL};
	if (h_server_start(&s, extra) != 0) {
		CHECK(!"server with --ping-interval 1 started");
		return;
	}
	struct raw mute = {.fd = -1}, polite = {.fd = -1};
	CHECK_INT(raw_open(&s, &mute), 0);
	CHECK_INT(raw_open(&s, &polite), 0);
	struct client_ws *ws = NULL;
	CHECK_INT(h_ws_open(&s, ROOM, NULL, NULL, &ws, NULL), 0);

	/* All three at once for 5 s: the mute one reads but never answers,
	 * the polite one answers each ping, the client answers by itself. */
	int64_t t0 = h_now_ms(), pinged = -1, dropped = -1;
	int mute_pings = 0, polite_pings = 0;
	bool polite_open = true;
	while (h_now_ms() - t0 < 5000) {
		struct rframe f;
		if (dropped < 0) {
			int rc = raw_read_frame(&mute, 30, &f);
			if (rc == RAW_FRAME && f.b0 == 0x89 && f.len == 0 && !f.masked) {
				mute_pings++;
				if (pinged < 0)
					pinged = h_now_ms() - t0;
			} else if (rc == RAW_FRAME) {
				fprintf(stderr, "keepalive: mute client got frame 0x%02x\n", f.b0);
				CHECK(!"only pings to the mute client");
			} else if (rc == RAW_EOF) {
				dropped = h_now_ms() - t0;
			}
			free(f.data);
		}
		int rc = raw_read_frame(&polite, 30, &f);
		if (rc == RAW_FRAME && (f.b0 & 0x0f) == 0x9) {
			polite_pings++;
			raw_send_frame(&polite, 0x8a, f.data, f.len);
		}
		free(f.data);
		if (rc == RAW_EOF || rc == RAW_ERROR)
			polite_open = false;
		struct client_ws_message m;
		if (client_ws_recv(ws, 30, &m) == 0)
			free(m.data);
	}
	fprintf(stderr, "keepalive: mute pinged at %lld ms (%d pings), dropped at %lld ms; "
			"polite answered %d pings\n",
		(long long)pinged, mute_pings, (long long)dropped, polite_pings);
	CHECK(pinged >= 700 && pinged <= 2500);
	CHECK_INT(mute_pings, 1);
	CHECK(dropped > pinged && dropped <= 4500);
	CHECK(polite_open);
	CHECK(polite_pings >= 2);
	CHECK_INT(h_chat_roundtrip(ws, ws, "still here after pings", 3000), 0);
	CHECK_INT(client_ws_close(ws, 1000, 3000), 0);
	client_ws_free(ws);
	raw_free(&polite);
	raw_free(&mute);
	CHECK_INT(h_server_stop(&s), 0);
}

int main(int argc, char **argv)
{
	struct h_server s;
	h_init(argc, argv, &check_failed);
	int64_t t0 = h_now_ms();

	const char *extra[] = {"--max-message-size", "70000", "--rate-limit", "0", NULL};
	if (h_server_start(&s, extra) != 0) {
		CHECK(!"server with --max-message-size 70000 started");
		return check_finish();
	}
	struct h_room rm = {.s = &s};
	CHECK_INT(h_ws_open(&s, ROOM, NULL, NULL, &rm.witness, NULL), 0);
	witness_ok(&rm, "start");

	test_pings(&rm);
	test_ping_burst(&rm);
	test_client_close(&rm);
	test_bad_close(&rm);
	test_early_data(&rm);
	test_batch(&rm);
	test_burst_over_capacity(&rm);
	test_trickle(&rm);
	test_size_limit(&rm);
	test_bad_frames(&rm);
	test_utf8_fail_fast(&rm);

	CHECK_INT(h_healthz(&s), 0);
	CHECK(h_server_alive(&s));
	if (rm.witness)
		CHECK_INT(client_ws_close(rm.witness, 1000, 3000), 0);
	client_ws_free(rm.witness);
	CHECK_INT(h_server_stop(&s), 0);
	test_keepalive();
	test_limits();
	fprintf(stderr, "wsproto: %lld ms\n", (long long)(h_now_ms() - t0));
	return check_finish();
}
