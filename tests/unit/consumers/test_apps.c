/*
 * test_apps.c - the shipped consumer classes (apps/apps.h) through the fake
 * connection: chat rooms, gossip notifications, and the chart's first point.
 */
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "check.h"
#include "fake_transport.h"

static struct consumer_scope chat_scope(const char *room, const char *username)
{
	struct consumer_scope s = {0};

	s.path = strdup("/ws/chat/x/");
	s.query_string = strdup("");
	s.kwargs = room ? json_pack("{s:s}", "room_name", room) : NULL;
	s.username = strdup(username);
	s.is_authenticated = true;
	return s;
}

static json_t *rooms_entry(const char *name)
{
	json_t *rooms = chat_rooms_snapshot();
	json_t *found = NULL;
	size_t i;
	json_t *r;

	json_array_foreach(rooms, i, r)
		if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
			found = json_incref(r);
	json_decref(rooms);
	return found;
}

static void check_chat_frame(struct fake_conn *fc, int i, const char *message, const char *user)
{
	json_t *got = fake_json(fc, i);

	CHECK(json_is_object(got));
	CHECK_INT(json_object_size(got), 2);
	CHECK_STR(json_string_value(json_object_get(got, "message")), message);
	CHECK_STR(json_string_value(json_object_get(got, "username")), user);
	json_decref(got);
}

static void test_chat(void)
{
	struct test_env e;
	struct fake_conn alice = {0}, bob = {0}, other = {0};
	struct consumer_scope s;

	env_init(&e);
	s = chat_scope("lobby", "alice");
	fake_open(&alice, &chat_room_consumer, &s, e.layer, &e.loop);
	CHECK(alice.res.accepted);
	CHECK_STR(consumer_username(alice.c), "alice");
	s = chat_scope("lobby", "bob");
	fake_open(&bob, &chat_room_consumer, &s, e.layer, &e.loop);
	CHECK(bob.res.accepted);
	s = chat_scope("kitchen", "carol");
	fake_open(&other, &chat_room_consumer, &s, e.layer, &e.loop);
	CHECK(other.res.accepted);

	json_t *lobby = rooms_entry("lobby");
	CHECK_INT(json_integer_value(json_object_get(lobby, "members")), 2);
	json_decref(lobby);

	/* The username is the sender's, never the client's. */
	const char *hi = "{\"message\":\"hi\",\"username\":\"mallory\"}";
	consumer_receive(alice.c, hi, strlen(hi), false);
	CHECK_INT(alice.nframes, 0); /* through the layer: next loop turn */
	env_spin(&e, 2);
	CHECK_INT(alice.nframes, 1);
	CHECK_INT(bob.nframes, 1);
	CHECK_INT(other.nframes, 0);
	check_chat_frame(&alice, 0, "hi", "alice");
	check_chat_frame(&bob, 0, "hi", "alice");
	CHECK(alice.nframes == 1 && bob.nframes == 1 && alice.frames[0] == bob.frames[0]);
	fake_clear(&alice);
	fake_clear(&bob);

	/* An empty message: an error to the sender only. */
	const char *empty = "{\"message\":\"\"}";
	consumer_receive(alice.c, empty, strlen(empty), false);
	env_spin(&e, 2);
	CHECK_INT(alice.nframes, 1);
	CHECK_INT(bob.nframes, 0);
	json_t *err = fake_json(&alice, 0);
	CHECK(json_is_string(json_object_get(err, "error")));
	CHECK(json_object_get(err, "message") == NULL);
	json_decref(err);
	fake_clear(&alice);

	/* Not a message object: an error too; the connection stays open. */
	consumer_receive(bob.c, "[1]", 3, false);
	consumer_receive(bob.c, "{\"message\":5}", 13, false);
	env_spin(&e, 2);
	CHECK_INT(bob.nframes, 2);
	CHECK_INT(alice.nframes, 0);
	CHECK_INT(bob.closes, 0);
	fake_clear(&bob);

	/* Invalid JSON closes 1007. */
	consumer_receive(bob.c, "{", 1, false);
	CHECK_INT(bob.closes, 1);
	CHECK_INT(bob.close_code, CLOSE_INVALID_PAYLOAD);

	fake_end(&alice, 1000);
	fake_end(&bob, 1000);
	fake_end(&other, 1000);
	CHECK(rooms_entry("lobby") == NULL);
	CHECK(rooms_entry("kitchen") == NULL);
	struct layer_stats st;
	layer_get_stats(e.layer, &st);
	CHECK_INT(st.groups, 0);
	ENV_FINISH(&e);
}

static void test_chat_rejects_bad_rooms(void)
{
	struct test_env e;
	const char *bad[] = {"bad-name!", "", "caf\xc3\xa9", NULL};

	env_init(&e);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fake_conn fc = {0};
		struct consumer_scope s = chat_scope(bad[i], "alice");

		fake_open(&fc, &chat_room_consumer, &s, e.layer, &e.loop);
		CHECK(!fc.res.accepted);
		CHECK_INT(fc.res.close_code, 403);
		fake_end(&fc, 1006);
	}
	struct layer_stats st;
	layer_get_stats(e.layer, &st);
	CHECK_INT(st.groups, 0);
	ENV_FINISH(&e);
}

static void test_gossip(void)
{
	struct test_env e;
	struct fake_conn a = {0}, b = {0};

	env_init(&e);
	fake_open(&a, &gossip_consumer, NULL, e.layer, &e.loop);
	fake_open(&b, &gossip_consumer, NULL, e.layer, &e.loop);
	CHECK(a.res.accepted && b.res.accepted);
	json_t *ev = json_pack("{s:s,s:s,s:s,s:s}", "type", "name.gossip", "event", "New Post",
			       "sender", "alice", "message", "hello \xe2\x9c\x93");
	CHECK_INT(layer_group_send(e.layer, "gossip", ev), 0);
	env_spin(&e, 2);
	CHECK_INT(a.nframes, 1);
	CHECK_INT(b.nframes, 1);
	json_t *got = fake_json(&a, 0);
	CHECK(json_equal(got, ev));
	json_decref(got);
	CHECK(a.nframes == 1 && b.nframes == 1 && a.frames[0] == b.frames[0]);
	json_decref(ev);

	/* Client messages are ignored (no on_receive_json). */
	consumer_receive(a.c, "{}", 2, false);
	CHECK_INT(a.closes, 0);
	CHECK_INT(a.nframes, 1);

	fake_end(&a, 1000);
	fake_end(&b, 1000);
	fake_clear(&a);
	fake_clear(&b);
	ENV_FINISH(&e);
}

static void test_chart_first_point(void)
{
	struct test_env e;
	struct fake_conn fc = {0};

	env_init(&e);
	fake_open(&fc, &chart_consumer, NULL, e.layer, &e.loop);
	CHECK(fc.res.accepted);
	env_spin(&e, 1); /* a 0 ms timer: the first loop turn */
	CHECK_INT(fc.nframes, 1);
	json_t *got = fake_json(&fc, 0);
	json_t *v = json_object_get(got, "data");
	CHECK(json_is_integer(v));
	CHECK(json_integer_value(v) >= 0 && json_integer_value(v) <= 100);
	CHECK_INT(json_object_size(got), 1);
	json_decref(got);
	fake_end(&fc, 1001);
	fake_clear(&fc);
	ENV_FINISH(&e); /* its repeating timer is gone */
}

/* apps_text_length: characters of valid UTF-8 without control characters
 * (tab and newline allowed). The overlong, surrogate and out-of-range
 * cases passed before it used lib/text's check (it counted 1 character). */
static void test_text_length(void)
{
	CHECK_INT(apps_text_length(""), 0);
	CHECK_INT(apps_text_length("hi there"), 8);
	CHECK_INT(apps_text_length("h\xc3\xa9 \xe2\x82\xac\t\xf0\x9f\x98\x80\n"), 7);
	CHECK_INT(apps_text_length("a\x01"), -1);
	CHECK_INT(apps_text_length("\x7f"), -1);
	CHECK_INT(apps_text_length("\xc3"), -1);
	CHECK_INT(apps_text_length("\xc0\xaf"), -1);         /* overlong '/' */
	CHECK_INT(apps_text_length("\xed\xa0\x80"), -1);     /* surrogate */
	CHECK_INT(apps_text_length("\xf4\x90\x80\x80"), -1); /* > U+10FFFF */
}

int main(void)
{
	test_chat();
	test_chat_rejects_bad_rooms();
	test_gossip();
	test_chart_first_point();
	test_text_length();
	return check_finish();
}
