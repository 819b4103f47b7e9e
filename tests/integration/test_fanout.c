/*
 * test_fanout.c - the coalesced write path: when several frames are queued
 * for one connection, the server frames them itself and writes them in one
 * LWS_WRITE_HTTP (sent raw by lws' ws role). This guards that such batches
 * reach a standard client intact and in order, with every header size the
 * batch can hold (7-bit and 16-bit lengths).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "client_int.h"
#include "harness.h"

#define BURST 150

/* Appends one masked client text frame to buf; returns the new length. */
static size_t put_frame(uint8_t *buf, size_t at, const char *text)
{
	size_t len = strlen(text);
	uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
	at += client__frame_header_encode(buf + at, WS_OP_TEXT, true, len, mask);
	memcpy(buf + at, text, len);
	client__frame_mask(buf + at, len, mask, 0);
	return at + len;
}

static void test_burst(void)
{
	static const char *const extra[] = {"--rate-limit", "0", NULL};
	struct h_server s;
	if (h_server_start(&s, extra) != 0) {
		CHECK(!"server started");
		return;
	}
	struct client_ws *sender = NULL, *rx[3] = {NULL, NULL, NULL};
	CHECK_INT(h_ws_open(&s, "/ws/chat/burst/", NULL, NULL, &sender, NULL), 0);
	for (int i = 0; i < 3; i++)
		CHECK_INT(h_ws_open(&s, "/ws/chat/burst/", NULL, NULL, &rx[i], NULL), 0);
	if (!sender || !rx[0] || !rx[1] || !rx[2])
		goto out;
	/* Everyone is in the room before the burst (the round trip reads rx[2]'s
	 * copy; the others are drained here). */
	CHECK_INT(h_chat_roundtrip(sender, rx[2], "warm-up", 3000), 0);
	for (int i = 0; i < 2; i++)
		json_decref(h_recv_json(rx[i], 3000, "warm-up drain"));

	/* BURST messages of 1..1000 characters in ONE TCP write: the server
	 * reads them in one go, so every member's queue holds many frames. */
	size_t cap = BURST * 1100, at = 0;
	uint8_t *buf = malloc(cap);
	char *texts[BURST];
	for (int i = 0; i < BURST; i++) {
		size_t n = (size_t)(1 + (i * 97) % 1000);
		char *js = malloc(n + 64), *msg = malloc(n + 1);
		int k = snprintf(msg, n + 1, "%04d:", i);
		for (size_t j = (size_t)k; j < n; j++)
			msg[j] = (char)('a' + (i + j) % 26);
		msg[n > (size_t)k ? n : (size_t)k] = '\0';
		texts[i] = msg;
		snprintf(js, n + 64, "{\"message\":\"%s\"}", msg);
		at = put_frame(buf, at, js);
		free(js);
	}
	CHECK_INT(client_ws_send_raw(sender, buf, at), 0);
	free(buf);

	for (int r = 0; r < 3; r++) {
		int in_order = 0;
		for (int i = 0; i < BURST; i++) {
			json_t *v = h_recv_json(rx[r], 5000, "burst receiver");
			const char *m = json_string_value(json_object_get(v, "message"));
			if (m && strcmp(m, texts[i]) == 0)
				in_order++;
			else if (in_order == i)
				fprintf(stderr, "receiver %d, message %d: got \"%.40s\"\n", r, i,
					m ? m : "(none)");
			json_decref(v);
		}
		CHECK_INT(in_order, BURST);
		CHECK(h_ws_silent(rx[r], 200, "after the burst"));
	}
	for (int i = 0; i < BURST; i++)
		free(texts[i]);
out:
	client_ws_free(sender);
	for (int i = 0; i < 3; i++)
		client_ws_free(rx[i]);
	h_server_term(&s);
	CHECK_INT(h_server_wait(&s, 5000), 0);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, &check_failed);
	test_burst();
	return check_finish();
}
