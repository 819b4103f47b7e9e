/*
 * test_apps.c - the three shipped apps through the real server: chat rooms
 * (sender's session name, room isolation, errors to the sender only,
 * Unicode), notifications of new posts (gossip) and the live chart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"

/* The next message of `ws` must be exactly {"message": text, "username": user}
 * (user NULL: any "anon-..." name, copied to anon_out if not NULL). */
static void expect_chat(struct client_ws *ws, const char *who, const char *text, const char *user,
			char *anon_out, size_t anon_cap)
{
	json_t *v = h_recv_json(ws, 3000, who);
	CHECK(json_is_object(v));
	if (!v)
		return;
	CHECK_INT(json_object_size(v), 2);
	CHECK_STR(json_string_value(json_object_get(v, "message")), text);
	const char *u = json_string_value(json_object_get(v, "username"));
	if (user) {
		CHECK_STR(u, user);
	} else {
		CHECK(u && strncmp(u, "anon-", 5) == 0 && strlen(u) > 5);
		if (u && anon_out)
			snprintf(anon_out, anon_cap, "%s", u);
	}
	if (json_object_size(v) != 2) {
		char *dump = json_dumps(v, JSON_COMPACT);
		fprintf(stderr, "%s got %s\n", who, dump);
		free(dump);
	}
	json_decref(v);
}

/* The next message of `ws` must be {"error": "<non-empty>"}. */
static void expect_error(struct client_ws *ws, const char *who)
{
	json_t *v = h_recv_json(ws, 3000, who);
	CHECK(json_is_object(v));
	const char *e = json_string_value(json_object_get(v, "error"));
	CHECK(e && *e);
	CHECK(json_object_get(v, "message") == NULL);
	json_decref(v);
}

/*
 * Over 80 lines: one chat session of three users in two rooms, in order;
 * each message is checked at every member and at the room that must not
 * see it.
 */
static void test_chat(const struct h_server *s)
{
	struct h_jar ja = {0}, jb = {0}, jc = {0};
	CHECK_INT(h_login(s, &ja, "alice", "lobby"), 0);
	CHECK_INT(h_login(s, &jb, "bob", "lobby"), 0);
	CHECK_INT(h_login(s, &jc, "carol", "other"), 0);

	struct client_ws *a = NULL, *b = NULL, *c = NULL, *anon = NULL;
	CHECK_INT(h_ws_open(s, "/ws/chat/lobby/", &ja, NULL, &a, NULL), 0);
	CHECK_INT(h_ws_open(s, "/ws/chat/lobby/", &jb, NULL, &b, NULL), 0);
	CHECK_INT(h_ws_open(s, "/ws/chat/other/", &jc, NULL, &c, NULL), 0);
	if (!a || !b || !c)
		goto out;

	/* The client's "username" is ignored: the session decides. */
	CHECK_INT(h_ws_send(a, "{\"message\":\"hi\",\"username\":\"mallory\"}"), 0);
	expect_chat(a, "alice", "hi", "alice", NULL, 0);
	expect_chat(b, "bob", "hi", "alice", NULL, 0);
	CHECK(h_ws_silent(c, 300, "carol"));

	CHECK_INT(h_ws_send_chat(b, "hello alice"), 0);
	expect_chat(a, "alice", "hello alice", "bob", NULL, 0);
	expect_chat(b, "bob", "hello alice", "bob", NULL, 0);

	/* Carol's room is hers alone. */
	CHECK_INT(h_ws_send_chat(c, "anyone?"), 0);
	expect_chat(c, "carol", "anyone?", "carol", NULL, 0);
	CHECK(h_ws_silent(a, 300, "alice"));

	/* No session: a generated anonymous name, the same for every reader. */
	CHECK_INT(h_ws_open(s, "/ws/chat/lobby/", NULL, NULL, &anon, NULL), 0);
	if (anon) {
		char name[64] = "", seen[64] = "";
		CHECK_INT(h_ws_send(anon, "{\"message\":\"who am i\",\"username\":\"alice\"}"), 0);
		expect_chat(anon, "anon", "who am i", NULL, name, sizeof(name));
		expect_chat(a, "alice", "who am i", NULL, seen, sizeof(seen));
		expect_chat(b, "bob", "who am i", NULL, NULL, 0);
		CHECK_STR(seen, name);
		CHECK_INT(client_ws_close(anon, 1000, 3000), 0);
	}

	/* Bad messages: an error to the sender only, and the connection stays. */
	static const char *const bad[] = {
		"{\"message\":\"\"}", "{\"nomessage\":1}", "{\"message\":5}",
		"[\"message\"]",      "\"message\"",        "{\"message\":\"a\\u0001b\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(h_ws_send(a, bad[i]), 0);
		expect_error(a, bad[i]);
	}
	CHECK(h_ws_silent(b, 300, "bob (after bad messages)"));
	char long_text[1002];
	memset(long_text, 'x', 1001);
	long_text[1001] = '\0';
	CHECK_INT(h_ws_send_chat(a, long_text), 0);
	expect_error(a, "1001 characters");
	long_text[1000] = '\0';
	CHECK_INT(h_ws_send_chat(a, long_text), 0);
	expect_chat(a, "alice", long_text, "alice", NULL, 0);
	expect_chat(b, "bob", long_text, "alice", NULL, 0);

	CHECK_INT(h_ws_send_chat(a, "still open"), 0);
	expect_chat(a, "alice", "still open", "alice", NULL, 0);
	expect_chat(b, "bob", "still open", "alice", NULL, 0);

	/* Unicode (2, 3 and 4 byte sequences) and markup travel unchanged. */
	const char *uni = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x98\x83 \xe6\x97\xa5\xe6\x9c\xac "
			  "\xf0\x9f\x98\x80 <b>&amp;</b> \"q\" \\";
	CHECK_INT(h_ws_send_chat(b, uni), 0);
	expect_chat(a, "alice", uni, "bob", NULL, 0);
	expect_chat(b, "bob", uni, "bob", NULL, 0);
	CHECK(h_ws_silent(c, 100, "carol (at the end)"));

	/* The chat page lists the rooms with members. */
	struct client_response r;
	CHECK_INT(h_http(s, "GET", "/chat/", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "lobby");
	CHECK_CONTAINS(r.body, "other");
	client_response_clear(&r);
out:
	if (a)
		CHECK_INT(client_ws_close(a, 1000, 3000), 0);
	client_ws_free(a);
	client_ws_free(b);
	client_ws_free(c);
	client_ws_free(anon);
}

static void expect_gossip(struct client_ws *ws, const char *who, const char *sender,
			  const char *text)
{
	json_t *v = h_recv_json(ws, 3000, who);
	CHECK(json_is_object(v));
	if (!v)
		return;
	CHECK_INT(json_object_size(v), 4);
	CHECK_STR(json_string_value(json_object_get(v, "type")), "name.gossip");
	CHECK_STR(json_string_value(json_object_get(v, "event")), "New Post");
	CHECK_STR(json_string_value(json_object_get(v, "sender")), sender);
	CHECK_STR(json_string_value(json_object_get(v, "message")), text);
	json_decref(v);
}

static void test_gossip(const struct h_server *s)
{
	struct h_jar jd = {0};
	struct client_ws *n1 = NULL, *n2 = NULL, *chat = NULL;
	struct client_response r;

	CHECK_INT(h_login(s, &jd, "dave", "lobby"), 0);
	CHECK_INT(h_ws_open(s, "/notifications/", NULL, NULL, &n1, NULL), 0);
	CHECK_INT(h_ws_open(s, "/notifications/", &jd, NULL, &n2, NULL), 0);
	CHECK_INT(h_ws_open(s, "/ws/chat/lobby/", &jd, NULL, &chat, NULL), 0);
	if (!n1 || !n2 || !chat)
		goto out;

	char body[256];
	snprintf(body, sizeof(body), "message=hello&csrfmiddlewaretoken=%s", jd.csrftoken);
	CHECK_INT(h_http(s, "POST", "/posts/", &jd, NULL, body, strlen(body), &r), 0);
	CHECK_INT(r.status, 302);
	CHECK_STR(client_response_header(&r, "location"), "/posts/");
	client_response_clear(&r);
	expect_gossip(n1, "notifications 1", "dave", "hello");
	expect_gossip(n2, "notifications 2", "dave", "hello");
	CHECK(h_ws_silent(chat, 200, "chat client (gossip must not reach it)"));

	/* Without a session the sender is "anonymous"; a bad post signals nothing. */
	struct h_jar anon = {0};
	CHECK_INT(h_http(s, "GET", "/posts/", &anon, NULL, NULL, 0, &r), 0);
	client_response_clear(&r);
	snprintf(body, sizeof(body), "message=&csrfmiddlewaretoken=%s", anon.csrftoken);
	CHECK_INT(h_http(s, "POST", "/posts/", &anon, NULL, body, strlen(body), &r), 0);
	CHECK_INT(r.status, 400);
	client_response_clear(&r);
	/* Text that is not UTF-8 as RFC 3629 has it: an overlong "/", a
	 * surrogate, a code point above U+10FFFF: refused, nothing signalled. */
	static const char *const not_utf8[] = {"%C0%AF", "%ED%A0%80", "%F4%90%80%80"};
	for (size_t i = 0; i < sizeof(not_utf8) / sizeof(not_utf8[0]); i++) {
		snprintf(body, sizeof(body), "message=a%sb&csrfmiddlewaretoken=%s", not_utf8[i],
			 anon.csrftoken);
		CHECK_INT(h_http(s, "POST", "/posts/", &anon, NULL, body, strlen(body), &r), 0);
		CHECK_INT(r.status, 400);
		client_response_clear(&r);
	}
	CHECK(h_ws_silent(n1, 200, "notifications 1 (after posts that are not UTF-8)"));
	snprintf(body, sizeof(body), "message=caf%%C3%%A9+au+lait&csrfmiddlewaretoken=%s",
		 anon.csrftoken);
	CHECK_INT(h_http(s, "POST", "/posts/", &anon, NULL, body, strlen(body), &r), 0);
	CHECK_INT(r.status, 302);
	client_response_clear(&r);
	expect_gossip(n1, "notifications 1", "anonymous", "caf\xc3\xa9 au lait");
	expect_gossip(n2, "notifications 2", "anonymous", "caf\xc3\xa9 au lait");

	/* Without the token: refused, and nobody is told. */
	CHECK_INT(h_http(s, "POST", "/posts/", &jd, NULL, "message=forged", 14, &r), 0);
	CHECK_INT(r.status, 403);
	client_response_clear(&r);
	CHECK(h_ws_silent(n1, 300, "notifications 1 (after a refused post)"));

	CHECK_INT(h_http(s, "GET", "/posts/", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "hello");
	CHECK_CONTAINS(r.body, "dave");
	CHECK_CONTAINS(r.body, "caf\xc3\xa9 au lait");
	CHECK(!r.body || !strstr(r.body, "forged"));
	client_response_clear(&r);
out:
	client_ws_free(n1);
	client_ws_free(n2);
	client_ws_free(chat);
}

/* Five points then silence, for one chart connection. */
static void check_chart(struct client_ws *ws, const char *who, int64_t t0)
{
	int points = 0;
	for (int i = 0; i < 5; i++) {
		json_t *v = h_recv_json(ws, 3000, who);
		if (!v)
			break;
		json_t *d = json_object_get(v, "data");
		CHECK_INT(json_object_size(v), 1);
		CHECK(json_is_integer(d));
		json_int_t n = json_integer_value(d);
		CHECK(n >= 0 && n <= 100);
		json_decref(v);
		points++;
	}
	CHECK_INT(points, 5);
	/* Points at 0, 50, ..., 200 ms: not all at once. */
	int64_t took = h_now_ms() - t0;
	if (took < 150)
		fprintf(stderr, "%s: 5 points at 50 ms intervals took %lld ms\n", who,
			(long long)took);
	CHECK(took >= 150);
	CHECK(h_ws_silent(ws, 300, who));
}

static void test_chart(const struct h_server *s)
{
	struct client_ws *w1 = NULL, *w2 = NULL;
	int64_t t0 = h_now_ms();
	CHECK_INT(h_ws_open(s, "/ws/two_url/", NULL, NULL, &w1, NULL), 0);
	CHECK_INT(h_ws_open(s, "/ws/two_url/", NULL, NULL, &w2, NULL), 0);
	if (w1)
		check_chart(w1, "chart 1", t0);
	if (w2)
		check_chart(w2, "chart 2", t0);
	/* The connection stays open after the last point. */
	if (w1)
		CHECK_INT(client_ws_close(w1, 1000, 3000), 0);
	client_ws_free(w1);
	client_ws_free(w2);

	struct client_response r;
	CHECK_INT(h_http(s, "GET", "/chart/", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	client_response_clear(&r);
}

int main(int argc, char **argv)
{
	struct h_server s;
	h_init(argc, argv, &check_failed);

	if (h_server_start(&s, NULL) == 0) {
		test_chat(&s);
		test_gossip(&s);
		CHECK_INT(h_server_stop(&s), 0);
	} else {
		CHECK(!"server started");
	}

	const char *chart[] = {"--chart-interval", "50", "--chart-points", "5", NULL};
	if (h_server_start(&s, chart) == 0) {
		test_chart(&s);
		CHECK_INT(h_server_stop(&s), 0);
	} else {
		CHECK(!"server with --chart-interval 50 started");
	}
	return check_finish();
}
