/*
 * test_wsproto.c - the server's own WebSocket frame reader (server/ws_conn.c
 * "receiving", lib/wsframe/) checked byte for byte over raw sockets:
 *
 *   pings -> one pong each with the same payload, in order
 *   a client close C -> a close C back, then EOF; empty -> empty
 *   invalid close codes, 1-byte close payloads -> 1002, then EOF
 *   a frame in the same TCP write as the handshake -> 1002, not delivered
 *   200 frames in one write, one frame in 3000 one-byte writes -> in order
 *   exactly --max-message-size passes; one more byte -> 1009 from the header
 *   RSV bits, reserved opcodes, unmasked frames -> 1002
 *   invalid UTF-8 -> 1007 as soon as its bytes arrive (first bytes of a
 *   frame, a later write, a continuation), before the rest is sent
 *   keepalive: silent clients are pinged, and dropped if they never answer
 *
 * Ping floods and the limits' exact boundaries: test_wslimits.c; the raw
 * client both use: raw_ws.h.
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

#include "raw_ws.h"

#define MAX_MSG 70000

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
	size_t hl = wsframe_header_encode(hdr, WSFRAME_OP_TEXT, true, MAX_MSG + 1, mask_key);
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
	/* the last continuation */
	hl = wsframe_header_encode(hdr, WSFRAME_OP_CONT, true, MAX_MSG / 2 + 1, mask_key);
	CHECK_INT(hl, 8);
	raw_send_all(&r, hdr, hl);
	code = raw_expect_close(&r, 3000, NULL, NULL, "fragments over the limit");
	CHECK_INT(code, 1009);
	CHECK(raw_expect_eof(&r, 2000, "fragments over the limit"));
	raw_free(&r);
	witness_ok(rm, "fragments over the limit");
}

/* ---- 9. UTF-8 fail-fast ---- */

/* Opens a raw connection to the room (the open must succeed) with
 * TCP_NODELAY; false when it failed. */
static bool raw_open_nodelay(struct h_room *rm, struct raw *r)
{
	CHECK_INT(raw_open(rm->s, r), 0);
	if (r->fd < 0)
		return false;
	int one = 1;
	setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return true;
}

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
	if (!raw_open_nodelay(rm, &r))
		return;
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
	if (!raw_open_nodelay(rm, &r))
		return;
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

/*
 * A message and a close frame in one write: the answer to the message
 * leaves before the close echo (it used to be dropped with the queue when
 * the close came in; conformance case 7.1.1).
 */
static void test_echo_before_close(struct h_room *rm)
{
	struct raw r;
	if (raw_open_path(rm->s, &r, "/ws/echo/", NULL, 0) != 0) {
		CHECK(!"echo route opened");
		raw_free(&r);
		return;
	}
	unsigned char both[64];
	static const unsigned char code[] = {0x03, 0xe8};
	size_t n = frame_build(both, 0x81, "last words", 10, false);
	n += frame_build(both + n, 0x88, code, 2, false);
	raw_send_all(&r, both, n);
	struct rframe f;
	CHECK_INT(raw_read_frame(&r, 3000, &f), RAW_FRAME);
	CHECK_INT(f.b0, 0x81);
	CHECK(f.len == 10 && f.data && memcmp(f.data, "last words", 10) == 0);
	free(f.data);
	CHECK_INT(raw_expect_close(&r, 3000, NULL, NULL, "echo then close"), 1000);
	raw_free(&r);
	witness_ok(rm, "echo before close");
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
	struct h_room rm;
	witness_open(&rm, &s, NULL);

	test_pings(&rm);
	test_client_close(&rm);
	test_bad_close(&rm);
	test_early_data(&rm);
	test_batch(&rm);
	test_burst_over_capacity(&rm);
	test_trickle(&rm);
	test_size_limit(&rm);
	test_bad_frames(&rm);
	test_utf8_fail_fast(&rm);
	test_echo_before_close(&rm);

	room_server_stop(&rm, &s);
	test_keepalive();
	fprintf(stderr, "wsproto: %lld ms\n", (long long)(h_now_ms() - t0));
	return check_finish();
}
