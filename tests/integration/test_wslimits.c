/*
 * test_wslimits.c - floods and limits over raw sockets (raw_ws.h), each at
 * its exact boundary:
 *
 *   ten pings in one write -> ten pongs, in order, with their payloads;
 *   over 256 pongs owed (300 pings in one write, or a client that sends
 *   pings and never reads) -> the pongs owed, in order, then 1008
 *   --max-queue Q passes a message of Q bytes; Q + 1 -> 1013
 *   --max-message-size M passes M bytes over fragments (M + 1: wsproto)
 *   --rate-burst B passes B messages at once; the next one -> 1008
 *   the default --max-queue admits a message of --max-message-size
 *   --max-body-size N passes a request body of N bytes; N + 1 -> 413
 *
 * After each ping case a witness in the same chat room still does a round
 * trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "raw_ws.h"

/* ---- pings ---- */

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

/* Opens a raw connection to the room (the open must succeed) and sends
 * `count` pings of `plen` (< 58) bytes in one write; false when it failed. */
static bool open_and_ping(struct h_room *rm, struct raw *r, long count, size_t plen)
{
	CHECK_INT(raw_open(rm->s, r), 0);
	if (r->fd < 0)
		return false;
	unsigned char *buf = malloc((size_t)count * 64);
	size_t n = build_pings(buf, 0, count, plen);
	raw_send_all(r, buf, n);
	free(buf);
	return true;
}

/*
 * One pong per ping, in order, with its payload: ten pings in one write
 * get ten pongs. A flood beyond the backlog (256 pongs owed, 8 KiB) closes
 * 1008: 300 pings in one write get the first 256 pongs, then the close;
 * a client that sends pings and never reads is closed 1008 too, once the
 * socket and the backlog are full, and its pongs so far are intact.
 * One connection each: test_ping_burst() (ten), test_ping_flood() (300),
 * test_ping_never_read().
 */
static void test_ping_burst(struct h_room *rm)
{
	struct raw r;
	if (!open_and_ping(rm, &r, 10, 12))
		return;
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
}

static const unsigned char bye[] = {0x03, 0xe8};

/* 300 empty-ish pings in one write (one read): 256 pongs, close 1008 */
static void test_ping_flood(struct h_room *rm)
{
	struct raw r;
	if (!open_and_ping(rm, &r, 300, 10))
		return;
	int code = 0;
	long pongs = read_pongs_until_close(&r, 10, 3000, &code, "300 pings in one write");
	CHECK_INT(pongs, 256);
	CHECK_INT(code, 1008);
	raw_send_frame(&r, 0x88, bye, 2);
	CHECK(raw_expect_eof(&r, 3000, "300 pings in one write"));
	raw_free(&r);
	witness_ok(rm, "300 pings in one write");
}

static void test_ping_never_read(struct h_room *rm)
{
	struct raw r;
	size_t n;
	int code = 0;

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
	unsigned char *buf = malloc(20 * (125 + 14));
	int64_t t0 = h_now_ms();
	for (long sent = 0; sent < total; sent += 20) {
		n = build_pings(buf, sent, 20, 125);
		raw_send_all(&r, buf, n);
		h_sleep_ms(1);
	}
	free(buf);
	int64_t t_sent = h_now_ms() - t0;
	long pongs = read_pongs_until_close(&r, 125, 10000, &code, "pings, never reading");
	fprintf(stderr, "ping flood: %ld pings sent in %lld ms, %ld pongs before close %d\n", total,
		(long long)t_sent, pongs, code);
	CHECK(pongs >= 1 && pongs < total);
	CHECK_INT(code, 1008);
	raw_send_frame(&r, 0x88, bye, 2);
	CHECK(raw_expect_eof(&r, 3000, "pings, never reading"));
	raw_free(&r);
	witness_ok(rm, "pings from a client that never reads");
}

/* ---- limits ---- */

#define TOKEN "wsproto-publish-token-0123456789"

/* Publishes to group gossip a name.gossip event whose compact JSON is
 * exactly `size` bytes: {"type":"name.gossip","pad":"aaa..."}. Returns
 * the HTTP status (202: accepted), or -1 without an answer. */
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
	int status = rc == 0 ? r.status : -1;
	if (rc == 0)
		client_response_clear(&r);
	free(j);
	return status;
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
 * over the old fixed 4 MiB default) is sent whole; --max-body-size N
 * passes an N-byte body (that message), N + 1 is refused 413.
 *
 * (The second server: test_limits_big().)
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
		CHECK_INT(publish_sized(&s, Q), 202);
		struct client_ws_message m = {0};
		CHECK_INT(client_ws_recv(n, 3000, &m), 0);
		CHECK_INT(m.opcode, WSFRAME_OP_TEXT);
		CHECK_INT(m.len, Q);
		free(m.data);
		CHECK_INT(publish_sized(&s, Q + 1), 202);
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
}

/* The --max-queue default admits a message of --max-message-size (6 MiB),
 * and --max-body-size N passes N bytes, N + 1 is 413. */
static void test_limits_big(void)
{
	struct h_server s;
	struct client_ws *n = NULL;

	/* the --max-queue default admits a message of --max-message-size */
	const char *big[] = {"--max-message-size", "6291456", "--max-body-size", "6291456",
			     "--publish-token", TOKEN, NULL};
	if (h_server_start(&s, big) != 0) {
		CHECK(!"server with --max-message-size 6 MiB started");
		return;
	}
	CHECK_INT(h_ws_open(&s, "/notifications/", NULL, NULL, &n, NULL), 0);
	if (n) {
		/* also --max-body-size, exactly: N passes, N + 1 is 413 */
		CHECK_INT(publish_sized(&s, 6291456), 202);
		struct client_ws_message m = {0};
		CHECK_INT(client_ws_recv(n, 10000, &m), 0);
		CHECK_INT(m.opcode, WSFRAME_OP_TEXT);
		CHECK_INT(m.len, 6291456);
		free(m.data);
		CHECK_INT(publish_sized(&s, 6291457), 413);
		CHECK(h_ws_silent(n, 300, "notifications after a 413"));
		CHECK_INT(client_ws_close(n, 1000, 3000), 0);
		client_ws_free(n);
	}
	CHECK_INT(h_server_stop(&s), 0);
}

int main(int argc, char **argv)
{
	struct h_server s;
	h_init(argc, argv, &check_failed);
	int64_t t0 = h_now_ms();

	const char *extra[] = {"--rate-limit", "0", NULL};
	if (h_server_start(&s, extra) != 0) {
		CHECK(!"server with --rate-limit 0 started");
		return check_finish();
	}
	struct h_room rm;
	witness_open(&rm, &s, NULL);
	test_ping_burst(&rm);
	test_ping_flood(&rm);
	test_ping_never_read(&rm);
	room_server_stop(&rm, &s);

	test_limits();
	test_limits_big();
	fprintf(stderr, "wslimits: %lld ms\n", (long long)(h_now_ms() - t0));
	return check_finish();
}
