/*
 * ws_checks.h - the WebSocket helpers the Redis tests share. Static inline,
 * so each test's CHECKs count in its own check.h counters.
 */
#ifndef TESTS_REDIS_WS_CHECKS_H
#define TESTS_REDIS_WS_CHECKS_H

#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "harness.h"

static inline struct client_ws *open_ws(const struct h_server *s, const char *path,
					const struct h_jar *jar)
{
	struct client_ws *ws = NULL;
	int status = 0;
	CHECK_INT(h_ws_open(s, path, jar, NULL, &ws, &status), 0);
	CHECK_INT(status, 101);
	return ws;
}

static inline void close_ws(struct client_ws **ws)
{
	if (*ws) {
		client_ws_close(*ws, 1000, 2000);
		client_ws_free(*ws);
	}
	*ws = NULL;
}

/* The next message of `ws` must be {"message": text, "username": user}, with
 * exactly `fields` members when `fields` >= 0. */
static inline void expect_chat(struct client_ws *ws, const char *who, const char *text,
			       const char *user, int fields)
{
	json_t *v = h_recv_json(ws, 5000, who);
	CHECK(json_is_object(v));
	if (!v)
		return;
	CHECK_STR(json_string_value(json_object_get(v, "message")), text);
	CHECK_STR(json_string_value(json_object_get(v, "username")), user);
	if (fields >= 0)
		CHECK_INT(json_object_size(v), fields);
	json_decref(v);
}

/* The next message of `ws` must be the name.gossip event with these fields. */
static inline void expect_gossip(struct client_ws *ws, const char *who, const char *sender,
				 const char *message)
{
	json_t *v = h_recv_json(ws, 5000, who);
	CHECK(json_is_object(v));
	if (!v)
		return;
	char *dump = json_dumps(v, JSON_COMPACT);
	fprintf(stderr, "%s got %s\n", who, dump);
	free(dump);
	CHECK_STR(json_string_value(json_object_get(v, "type")), "name.gossip");
	CHECK_STR(json_string_value(json_object_get(v, "event")), "New Post");
	CHECK_STR(json_string_value(json_object_get(v, "sender")), sender);
	CHECK_STR(json_string_value(json_object_get(v, "message")), message);
	json_decref(v);
}

#endif
