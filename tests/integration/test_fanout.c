/*
 * test_fanout.c - fan-out. The coalesced write path: when several frames are queued
 * for one connection, the server frames them itself and writes them in one
 * LWS_WRITE_HTTP (sent raw by lws' ws role). This guards that such batches
 * reach a standard client intact and in order, with every header size the
 * batch can hold (7-bit and 16-bit lengths). And fan-out across --workers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "client.h"
#include "harness.h"

#define BURST 150

/* Appends one masked client text frame to buf; returns the new length. */
static size_t put_frame(uint8_t *buf, size_t at, const char *text)
{
	size_t len = strlen(text);
	uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
	at += wsframe_header_encode(buf + at, WSFRAME_OP_TEXT, true, len, mask);
	memcpy(buf + at, text, len);
	client_frame_mask(buf + at, len, mask, 0);
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

	/* BURST messages of 6..1000 characters in ONE TCP write: the server
	 * reads them in one go, so every member's queue holds many frames. */
	size_t cap = BURST * 1100, at = 0;
	uint8_t *buf = malloc(cap);
	char *texts[BURST];
	for (int i = 0; i < BURST; i++) {
		size_t n = (size_t)(6 + (i * 97) % 995); /* 6..1000: room for the "%04d:" tag */
		char *js = malloc(n + 64), *msg = malloc(n + 1);
		int k = snprintf(msg, n + 1, "%04d:", i);
		for (size_t j = (size_t)k; j < n; j++)
			msg[j] = (char)('a' + (i + j) % 26);
		msg[n] = '\0';
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

/*
 * --workers 4: connections spread over four loop threads (SO_REUSEPORT);
 * a room's messages, a view's group_send and a published event must reach
 * every member whichever worker holds it.
 */
static void test_workers(void)
{
	static const char *const extra[] = {"--workers", "4", "--rate-limit", "0", NULL};
	enum { N = 12 };
	struct h_server s;
	if (h_server_start(&s, extra) != 0) {
		CHECK(!"server started");
		return;
	}
	struct h_jar jar = {0};
	CHECK_INT(h_login(&s, &jar, "wanda", "multi"), 0);
	struct client_ws *room[N] = {NULL}, *notify[N] = {NULL};
	for (int i = 0; i < N; i++) {
		CHECK_INT(h_ws_open(&s, "/ws/chat/multi/", &jar, NULL, &room[i], NULL), 0);
		CHECK_INT(h_ws_open(&s, "/notifications/", NULL, NULL, &notify[i], NULL), 0);
	}
	for (int k = 0; k < 3; k++) {
		char text[32];
		snprintf(text, sizeof(text), "across workers %d", k);
		if (room[k * 5 % N])
			CHECK_INT(h_ws_send_chat(room[k * 5 % N], text), 0);
		int got = 0;
		for (int i = 0; i < N; i++) {
			json_t *v = room[i] ? h_recv_json(room[i], 3000, "room member") : NULL;
			const char *m = json_string_value(json_object_get(v, "message"));
			const char *u = json_string_value(json_object_get(v, "username"));
			got += m && u && strcmp(m, text) == 0 && strcmp(u, "wanda") == 0;
			json_decref(v);
		}
		CHECK_INT(got, N);
	}
	/* A post: the view runs on the pool of whichever worker took the request. */
	char form[256];
	snprintf(form, sizeof(form), "message=from+a+view&csrfmiddlewaretoken=%s", jar.csrftoken);
	struct client_response r;
	CHECK_INT(h_http(&s, "POST", "/posts/", &jar, NULL, form, strlen(form), &r), 0);
	CHECK_INT(r.status, 302);
	client_response_clear(&r);
	int got = 0;
	for (int i = 0; i < N; i++) {
		json_t *v = notify[i] ? h_recv_json(notify[i], 3000, "notification") : NULL;
		got += json_is_string(json_object_get(v, "message")) &&
		       strcmp(json_string_value(json_object_get(v, "message")), "from a view") == 0;
		json_decref(v);
	}
	CHECK_INT(got, N);
	for (int i = 0; i < N; i++) {
		client_ws_free(room[i]);
		client_ws_free(notify[i]);
	}
	h_server_term(&s);
	CHECK_INT(h_server_wait(&s, 5000), 0);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, &check_failed);
	test_burst();
	test_workers();
	return check_finish();
}
