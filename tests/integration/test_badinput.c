/*
 * test_badinput.c - what a misbehaving client gets from the real server, and
 * that nobody else notices: after each case, a witness connected to the
 * same chat room still sends and receives.
 *
 *   invalid JSON, invalid UTF-8 -> 1007    binary to the chat -> 1003
 *   over --max-message-size     -> 1009    over --rate-limit  -> 1008
 *   fragmented and larger-than-buffer messages are reassembled
 *   garbage bytes, unmasked frames, bad control frames -> 1002
 *   a client that does not read   -> 1013 once its queue is full
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "raw_ws.h"

static struct client_ws *open_client(const struct h_room *rm)
{
	struct client_ws *ws = NULL;
	int rc = h_ws_open(rm->s, ROOM, NULL, NULL, &ws, NULL);
	CHECK_INT(rc, 0);
	return ws;
}

/* Sends one text (or binary) frame and expects the server to close with `code`. */
static void expect_close_after(struct h_room *rm, const char *what, int opcode, const void *data,
			       size_t len, int code)
{
	struct client_ws *x = open_client(rm);
	if (!x)
		return;
	CHECK_INT(client_ws_send_frame(x, opcode, true, data, len), 0);
	int got = h_ws_expect_close(x, 3000, NULL);
	if (got != code)
		fprintf(stderr, "%s: close code %d, expected %d\n", what, got, code);
	CHECK_INT(got, code);
	client_ws_free(x);
	witness_ok(rm, what);
}

/* {"message": "<n_euro x U+20AC><ascii padding>"} of exactly `total` bytes
 * (<= 1000 characters, so the chat accepts it). Returns the message text
 * inside (malloc'd) through `text`. */
static char *big_message(size_t total, size_t n_euro, char **text)
{
	static const char head[] = "{\"message\":\"", tail[] = "\"}";
	size_t body = total - (sizeof(head) - 1) - (sizeof(tail) - 1);
	char *t = malloc(body + 1);
	size_t o = 0;
	for (size_t i = 0; i < n_euro; i++) {
		memcpy(t + o, "\xe2\x82\xac", 3);
		o += 3;
	}
	for (; o < body; o++)
		t[o] = (char)('a' + o % 26);
	t[o] = '\0';
	char *json = malloc(total + 1);
	snprintf(json, total + 1, "%s%s%s", head, t, tail);
	*text = t;
	return json;
}

static void test_fragments(struct h_room *rm)
{
	struct client_ws *x = open_client(rm);
	if (!x)
		return;
	char *text;
	char *json = big_message(1500, 480, &text);
	CHECK_INT(strlen(json), 1500);
	/* Splits fall inside 3-byte characters (500 and 1000 are not multiples of 3
	 * past the 12-byte head): legal, the UTF-8 check spans fragments. */
	CHECK_INT(client_ws_send_frame(x, WSFRAME_OP_TEXT, false, json, 500), 0);
	/* A control frame may come between fragments. */
	unsigned long pongs = client_ws_pongs(x);
	CHECK_INT(client_ws_send_frame(x, WSFRAME_OP_PING, true, "p", 1), 0);
	CHECK_INT(client_ws_send_frame(x, WSFRAME_OP_CONT, false, json + 500, 500), 0);
	CHECK_INT(client_ws_send_frame(x, WSFRAME_OP_CONT, true, json + 1000, 500), 0);
	json_t *v = h_recv_json(rm->witness, 3000, "witness (fragmented message)");
	CHECK_STR(json_string_value(json_object_get(v, "message")), text);
	json_decref(v);
	v = h_recv_json(x, 3000, "sender (fragmented message)");
	CHECK_STR(json_string_value(json_object_get(v, "message")), text);
	json_decref(v);
	CHECK_INT(client_ws_pongs(x), pongs + 1);
	/* The sender still works after reassembly. */
	CHECK_INT(h_chat_roundtrip(x, rm->witness, "after fragments", 3000), 0);
	CHECK_INT(client_ws_close(x, 1000, 3000), 0);
	client_ws_free(x);
	free(json);
	free(text);
	witness_ok(rm, "fragments");

	/* One frame larger than the server's read buffer. */
	x = open_client(rm);
	if (!x)
		return;
	json = big_message(1800, 590, &text);
	CHECK_INT(strlen(json), 1800);
	CHECK_INT(client_ws_send_text(x, json, 1800), 0);
	v = h_recv_json(rm->witness, 3000, "witness (1800-byte frame)");
	CHECK_STR(json_string_value(json_object_get(v, "message")), text);
	json_decref(v);
	/* Twice in a row: the reassembly buffer starts empty again. */
	CHECK_INT(client_ws_send_text(x, json, 1800), 0);
	v = h_recv_json(rm->witness, 3000, "witness (second 1800-byte frame)");
	CHECK_STR(json_string_value(json_object_get(v, "message")), text);
	json_decref(v);
	CHECK_INT(client_ws_close(x, 1000, 3000), 0);
	client_ws_free(x);
	free(json);
	free(text);
	witness_ok(rm, "1800-byte frame");

	/* Fragments adding up to more than --max-message-size 2048. */
	x = open_client(rm);
	if (!x)
		return;
	char chunk[1000];
	memset(chunk, 'a', sizeof(chunk));
	CHECK_INT(client_ws_send_frame(x, WSFRAME_OP_TEXT, false, "{\"message\":\"", 12), 0);
	for (int i = 0; i < 3; i++)
		client_ws_send_frame(x, WSFRAME_OP_CONT, false, chunk, sizeof(chunk));
	client_ws_send_frame(x, WSFRAME_OP_CONT, true, "\"}", 2);
	CHECK_INT(h_ws_expect_close(x, 3000, NULL), 1009);
	client_ws_free(x);
	witness_ok(rm, "3 KB in fragments");
}

/* Raw bytes that are not a valid client frame: the server closes with 1002
 * (RFC 6455 7.4.1), and the witness notices nothing. */
static void expect_protocol_error(struct h_room *rm, const char *what, const void *bytes,
				  size_t len)
{
	struct client_ws *x = open_client(rm);
	if (!x)
		return;
	CHECK_INT(client_ws_send_raw(x, bytes, len), 0);
	int got = h_ws_expect_close(x, 3000, NULL);
	if (got != 1002)
		fprintf(stderr, "%s: close code %d, expected 1002\n", what, got);
	CHECK_INT(got, 1002);
	client_ws_free(x);
	CHECK_INT(h_healthz(rm->s), 0);
	witness_ok(rm, what);
}

static void test_limits_server(const struct h_server *s)
{
	struct h_room rm;
	struct h_jar jw = {0};
	CHECK_INT(h_login(s, &jw, "witness", "lobby"), 0);
	witness_open(&rm, s, &jw);

	const char *bad_json = "{\"message\": \"unterminated";
	expect_close_after(&rm, "invalid JSON", WSFRAME_OP_TEXT, bad_json, strlen(bad_json), 1007);
	const char *not_json = "hello";
	expect_close_after(&rm, "plain text", WSFRAME_OP_TEXT, not_json, strlen(not_json), 1007);

	const char *bad_utf8[] = {
		"{\"message\":\"\xff\xfe\"}",         /* bytes never valid */
		"{\"message\":\"\xc0\xaf\"}",         /* overlong '/' */
		"{\"message\":\"\xed\xa0\x80\"}",     /* a UTF-16 surrogate */
		"{\"message\":\"\xe2\x82\"}",         /* truncated sequence */
		"{\"message\":\"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
	};
	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		char what[64];
		snprintf(what, sizeof(what), "invalid UTF-8 #%zu", i);
		expect_close_after(&rm, what, WSFRAME_OP_TEXT, bad_utf8[i], strlen(bad_utf8[i]), 1007);
	}

	const char *bin = "{\"message\":\"binary\"}";
	expect_close_after(&rm, "binary frame", WSFRAME_OP_BINARY, bin, strlen(bin), 1003);

	char *text;
	char *big = big_message(4096, 0, &text);
	expect_close_after(&rm, "4096-byte message", WSFRAME_OP_TEXT, big, 4096, 1009);
	free(big);
	free(text);

	test_fragments(&rm);

	static const unsigned char garbage[] = {0xff, 0xff, 0xff, 0xff, 0xde, 0xad, 0xbe, 0xef,
						0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
	expect_protocol_error(&rm, "garbage bytes", garbage, sizeof(garbage));
	static const unsigned char unmasked[] = {0x81, 0x05, 'h', 'e', 'l', 'l', 'o'};
	expect_protocol_error(&rm, "unmasked frame", unmasked, sizeof(unmasked));
	/* A continuation with nothing to continue (masked, key 0). */
	static const unsigned char stray_cont[] = {0x80, 0x82, 0, 0, 0, 0, '{', '}'};
	expect_protocol_error(&rm, "stray continuation", stray_cont, sizeof(stray_cont));
	/* A 126-byte ping: control frames are at most 125 bytes. */
	unsigned char big_ping[4 + 4 + 126] = {0x89, 0x80 | 126, 0, 126};
	expect_protocol_error(&rm, "oversized ping", big_ping, sizeof(big_ping));

	witness_close(&rm);
}

static void test_rate_limit(const struct h_server *s)
{
	struct h_room rm;
	witness_open(&rm, s, NULL);
	struct client_ws *x = open_client(&rm);
	if (!x)
		return;
	int sent = 0;
	for (int i = 0; i < 30; i++) {
		char msg[64];
		snprintf(msg, sizeof(msg), "{\"message\":\"flood %d\"}", i);
		if (h_ws_send(x, msg) == 0)
			sent++;
	}
	CHECK(sent >= 6);
	int code = h_ws_expect_close(x, 3000, NULL);
	CHECK_INT(code, 1008);
	/* About the burst reached the room, not the flood. */
	const char *mark = "witness after the flood";
	CHECK_INT(h_ws_send_chat(rm.witness, mark), 0);
	int delivered = 0;
	for (;;) {
		json_t *v = h_recv_json(rm.witness, 3000, "witness (counting the flood)");
		const char *m = json_string_value(json_object_get(v, "message"));
		bool done = !v || (m && strcmp(m, mark) == 0);
		if (m && strncmp(m, "flood ", 6) == 0)
			delivered++;
		json_decref(v);
		if (done)
			break;
	}
	if (delivered < 1 || delivered > 10)
		fprintf(stderr, "rate limit: %d of 30 messages were delivered\n", delivered);
	CHECK(delivered >= 1 && delivered <= 10);
	client_ws_free(x);
	witness_ok(&rm, "rate limit");
	witness_close(&rm);
}

/* Receives chat messages on `ws` until the one with `text`. */
static int drain_until(struct client_ws *ws, const char *who, const char *text)
{
	for (;;) {
		json_t *v = h_recv_json(ws, 5000, who);
		if (!v)
			return -1;
		const char *m = json_string_value(json_object_get(v, "message"));
		bool match = m && strcmp(m, text) == 0;
		json_decref(v);
		if (match)
			return 0;
	}
}

static void test_slow_reader(const struct h_server *s)
{
	struct client_ws *sender = NULL, *reader = NULL, *sloth = NULL;
	CHECK_INT(h_ws_open(s, ROOM, NULL, NULL, &sender, NULL), 0);
	CHECK_INT(h_ws_open(s, ROOM, NULL, NULL, &reader, NULL), 0);
	CHECK_INT(h_ws_open(s, ROOM, NULL, NULL, &sloth, NULL), 0);
	if (!sender || !reader || !sloth)
		goto out;

	enum { TOTAL = 8000, BATCH = 25 };
	char text[901];
	int sent = 0, failures = 0;
	for (int i = 0; i < TOTAL && failures == 0; i += BATCH) {
		for (int j = 0; j < BATCH; j++) {
			memset(text, 'a' + (char)((i + j) % 26), 900);
			snprintf(text, sizeof(text), "%06d", i + j);
			text[6] = '-';
			text[900] = '\0';
			if (h_ws_send_chat(sender, text) != 0)
				failures++;
			else
				sent++;
		}
		/* The sender and the reader keep up (they read every batch). */
		if (drain_until(sender, "sender", text) != 0 ||
		    drain_until(reader, "reader", text) != 0)
			failures++;
	}
	CHECK_INT(failures, 0);
	CHECK_INT(sent, TOTAL);

	/* Now the sloth reads: what the kernel held, then the close. */
	long got = 0;
	int code = h_ws_expect_close(sloth, 10000, &got);
	fprintf(stderr, "slow reader: close %d after %ld of %d messages\n", code, got, TOTAL);
	CHECK(code == 1013 || code == 0);
	CHECK(got < TOTAL);

	CHECK_INT(h_chat_roundtrip(sender, reader, "after the slow reader", 3000), 0);
	CHECK_INT(h_healthz(s), 0);
out:
	client_ws_free(sender);
	client_ws_free(reader);
	client_ws_free(sloth);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, &check_failed);

	const char *limits[] = {"--max-message-size", "2048", NULL};
	CHECK_INT(h_with_server(limits, test_limits_server,
				"server with --max-message-size 2048"),
		  0);

	const char *rate[] = {"--rate-limit", "5", "--rate-burst", "5", NULL};
	CHECK_INT(h_with_server(rate, test_rate_limit, "server with --rate-limit 5"), 0);

	const char *queue[] = {"--max-queue", "65536", "--rate-limit", "0", NULL};
	CHECK_INT(h_with_server(queue, test_slow_reader, "server with --max-queue 65536"), 0);
	return check_finish();
}
