/*
 * test_shutdown.c - SIGTERM/SIGINT: every open WebSocket gets a close frame
 * with 1001 (going away) and the process exits with status 0, also with a
 * view still running on the pool. SIGHUP never stops it.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"

static void test_close_1001(void)
{
	struct h_server s;
	if (h_server_start(&s, NULL) != 0) {
		CHECK(!"server started");
		return;
	}
	struct h_jar jar = {0};
	CHECK_INT(h_login(&s, &jar, "erin", "lobby"), 0);
	const char *paths[3] = {"/ws/chat/lobby/", "/notifications/", "/ws/two_url/"};
	struct client_ws *ws[3] = {NULL, NULL, NULL};
	for (int i = 0; i < 3; i++)
		CHECK_INT(h_ws_open(&s, paths[i], &jar, NULL, &ws[i], NULL), 0);
	/* All three are live before the signal. */
	if (ws[0])
		CHECK_INT(h_chat_roundtrip(ws[0], ws[0], "before SIGTERM", 3000), 0);
	if (ws[2]) {
		json_t *v = h_recv_json(ws[2], 3000, "chart");
		CHECK(json_is_integer(json_object_get(v, "data")));
		json_decref(v);
	}

	h_server_term(&s);
	for (int i = 0; i < 3; i++) {
		if (!ws[i])
			continue;
		int code = h_ws_expect_close(ws[i], 5000, NULL);
		if (code != 1001)
			fprintf(stderr, "%s: close code %d on SIGTERM\n", paths[i], code);
		CHECK_INT(code, 1001);
	}
	CHECK_INT(h_server_wait(&s, 5000), 0);
	for (int i = 0; i < 3; i++)
		client_ws_free(ws[i]);
}

struct sleeper {
	const struct h_server *s;
	int rc;
};

static void *sleeper_thread(void *arg)
{
	struct sleeper *sl = arg;
	struct client_response r;
	sl->rc = h_http(sl->s, "GET", "/_test/sleep/800/", NULL, NULL, NULL, 0, &r);
	client_response_clear(&r);
	return NULL;
}

static void test_view_in_flight(void)
{
	struct h_server s;
	if (h_server_start(&s, NULL) != 0) {
		CHECK(!"server started");
		return;
	}
	struct client_ws *ws = NULL;
	CHECK_INT(h_ws_open(&s, "/ws/chat/lobby/", NULL, NULL, &ws, NULL), 0);
	struct sleeper sl = {.s = &s};
	pthread_t t;
	CHECK_INT(pthread_create(&t, NULL, sleeper_thread, &sl), 0);
	h_sleep_ms(200); /* pacing: the view is asleep on the pool */
	h_server_term(&s);
	if (ws)
		CHECK_INT(h_ws_expect_close(ws, 5000, NULL), 1001);
	CHECK_INT(h_server_wait(&s, 5000), 0);
	pthread_join(t, NULL);
	client_ws_free(ws);
}

static void test_sigint(void)
{
	struct h_server s;
	if (h_server_start(&s, NULL) != 0) {
		CHECK(!"server started");
		return;
	}
	struct client_ws *ws = NULL;
	CHECK_INT(h_ws_open(&s, "/notifications/", NULL, NULL, &ws, NULL), 0);
	kill(s.pid, SIGINT);
	if (ws)
		CHECK_INT(h_ws_expect_close(ws, 5000, NULL), 1001);
	CHECK_INT(h_server_wait(&s, 5000), 0);
	client_ws_free(ws);
}

/* SIGHUP reloads and never exits: a WebSocket stays open and the server
 * keeps serving across several of them, each logged once. */
static void test_sighup(void)
{
	struct h_server s;
	if (h_server_start(&s, NULL) != 0) {
		CHECK(!"server started");
		return;
	}
	struct h_jar jar = {0};
	CHECK_INT(h_login(&s, &jar, "hugo", "lobby"), 0);
	struct client_ws *ws = NULL;
	CHECK_INT(h_ws_open(&s, "/ws/chat/lobby/", &jar, NULL, &ws, NULL), 0);
	for (int i = 1; i <= 3 && ws && h_server_alive(&s); i++) {
		kill(s.pid, SIGHUP);
		int64_t deadline = h_now_ms() + 5000;
		while (h_server_log_count(&s, "SIGHUP: reload") < i && h_server_alive(&s) &&
		       h_now_ms() < deadline)
			h_sleep_ms(10);
		CHECK_INT(h_server_log_count(&s, "SIGHUP: reload"), i);
		CHECK(h_server_alive(&s));
		char text[32];
		snprintf(text, sizeof(text), "after SIGHUP %d", i);
		CHECK_INT(h_chat_roundtrip(ws, ws, text, 3000), 0);
		CHECK_INT(h_healthz(&s), 0);
	}
	/* Still a clean stop afterwards: the WebSocket gets its 1001. */
	h_server_term(&s);
	if (ws)
		CHECK_INT(h_ws_expect_close(ws, 5000, NULL), 1001);
	CHECK_INT(h_server_wait(&s, 5000), 0);
	client_ws_free(ws);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, &check_failed);
	test_close_1001();
	test_view_in_flight();
	test_sigint();
	test_sighup();
	return check_finish();
}
