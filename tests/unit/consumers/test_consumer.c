/*
 * test_consumer.c - the consumer framework through a fake connection on a
 * real uv loop and in-memory layer: the handshake decision, subprotocols,
 * groups, dispatch by message type, JSON and text receiving, sends, the
 * shared-frame broadcast path and slow-consumer closing.
 *
 * Every test ends with ENV_FINISH: no consumer left, uv_loop_close() == 0.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_transport.h"

/* ---- what the classes saw ---- */

enum connect_mode { CM_ACCEPT, CM_CLOSE, CM_NOTHING, CM_SUBPROTO };

static struct {
	enum connect_mode mode;
	const char *want_subproto; /* CM_SUBPROTO: what to accept */
	int accept_rc;
	int accept_again_rc;
	int send_before_accept_rc;
	int connects;
	int disconnects;
	int disconnect_code;
	int handler_ab, handler_abc;
	json_t *last_json;     /* a copy of what on_receive_json got */
	char raw[64];
	size_t raw_len;
	bool raw_binary;
	int receives;
} seen;

static void seen_reset(void)
{
	json_decref(seen.last_json);
	memset(&seen, 0, sizeof(seen));
}

static void t_connect(struct consumer *c)
{
	seen.connects++;
	seen.send_before_accept_rc = consumer_send_text(c, "early", 5);
	switch (seen.mode) {
	case CM_ACCEPT:
		seen.accept_rc = consumer_accept(c, NULL);
		seen.accept_again_rc = consumer_accept(c, NULL);
		break;
	case CM_CLOSE:
		consumer_close(c, 4000, "go away");
		break;
	case CM_NOTHING:
		break;
	case CM_SUBPROTO:
		seen.accept_rc = consumer_accept(c, seen.want_subproto);
		break;
	}
}

static void t_disconnect(struct consumer *c, int code)
{
	(void)c;
	seen.disconnects++;
	seen.disconnect_code = code;
}

static void t_ab(struct consumer *c, json_t *msg)
{
	(void)c;
	(void)msg;
	seen.handler_ab++;
}

static void t_abc(struct consumer *c, json_t *msg)
{
	(void)c;
	(void)msg;
	seen.handler_abc++;
}

static void t_receive_json(struct consumer *c, json_t *content)
{
	(void)c;
	seen.receives++;
	json_decref(seen.last_json);
	seen.last_json = json_deep_copy(content);
}

static void t_receive(struct consumer *c, const char *data, size_t len, bool binary)
{
	(void)c;
	seen.receives++;
	seen.raw_len = len;
	seen.raw_binary = binary;
	memcpy(seen.raw, data, len < sizeof(seen.raw) ? len : sizeof(seen.raw));
}

static const struct consumer_handler t_handlers[] = {
	{"a.b", t_ab},
	{"a.bc", t_abc},
	{NULL, NULL},
};

static const char *const t_groups[] = {"g1", "g2", NULL};

/* The subprotocols the class lists: a consumer may accept only these. */
static const char *const t_subprotocols[] = {"a", "b", NULL};

static const struct consumer_class json_class = {
	.name = "JsonTest",
	.subprotocols = t_subprotocols,
	.state_size = 32,
	.json = true,
	.groups = t_groups,
	.on_connect = t_connect,
	.on_receive_json = t_receive_json,
	.on_disconnect = t_disconnect,
	.handlers = t_handlers,
};

static const struct consumer_class text_class = {
	.name = "TextTest",
	.on_receive = t_receive,
	.on_disconnect = t_disconnect,
};

static const struct consumer_class bare_class = {
	.name = "Bare",
};

/* ---- handshake ---- */

static void test_no_on_connect_accepts(void)
{
	struct test_env e;
	struct fake_conn fc = {0};

	env_init(&e);
	CHECK(fake_open(&fc, &bare_class, NULL, &e) != NULL);
	CHECK(fc.res.accepted);
	CHECK(fc.res.subprotocol == NULL);
	CHECK_INT(consumer_worker_count(e.cw), 1);
	/* The state block of a class with state_size 0 is still usable as a pointer. */
	CHECK(consumer_state(fc.c) != NULL);
	CHECK(layer_valid_channel_name(consumer_channel_name(fc.c)));
	CHECK_INT(consumer_send_text(fc.c, "x", 1), 0);
	CHECK_INT(fc.nframes, 1);
	fake_end(&fc, 1000);
	fake_clear(&fc);
	CHECK_INT(consumer_worker_count(e.cw), 0);
	ENV_FINISH(&e);
}

/* No group and no receiver left in the layer. */
static void check_layer_empty(struct test_env *e)
{
	struct layer_stats st;

	layer_get_stats(e->layer, &st);
	CHECK_INT(st.groups, 0);
	CHECK_INT(st.receivers, 0);
}

/* Resets `seen`, sets how on_connect answers, opens `fc` on json_class. */
static void json_open(struct test_env *e, struct fake_conn *fc, enum connect_mode mode)
{
	seen_reset();
	seen.mode = mode;
	fake_open(fc, &json_class, NULL, e);
}

/* Sends a message of `type` to fc's own channel (the send must succeed)
 * and runs the loop until it is handled. */
static void send_to(struct test_env *e, struct fake_conn *fc, const char *type)
{
	json_t *m = msg_new(type, NULL, NULL);

	CHECK_INT(layer_send(e->layer, consumer_channel_name(fc->c), m), 0);
	json_decref(m);
	env_spin(e, 2);
}

static void test_on_connect_decisions(void)
{
	struct test_env e;

	env_init(&e);

	/* accepts */
	struct fake_conn a = {0};
	json_open(&e, &a, CM_ACCEPT);
	CHECK(a.res.accepted);
	CHECK_INT(seen.connects, 1);
	CHECK_INT(seen.accept_rc, 0);
	CHECK_INT(seen.accept_again_rc, CH_ESTATE);
	CHECK_INT(seen.send_before_accept_rc, CH_ESTATE);
	CHECK_INT(a.nframes, 0);
	CHECK_INT(a.closes, 0);
	/* After the handshake, accept is no longer allowed. */
	CHECK_INT(consumer_accept(a.c, NULL), CH_ESTATE);
	fake_end(&a, 1001);
	CHECK_INT(seen.disconnects, 1);
	CHECK_INT(seen.disconnect_code, 1001);

	/* closes: rejected with 403, no transport close, no on_disconnect */
	struct fake_conn b = {0};
	json_open(&e, &b, CM_CLOSE);
	CHECK(!b.res.accepted);
	CHECK_INT(b.res.close_code, 403);
	CHECK_INT(b.closes, 0);
	CHECK_INT(consumer_worker_count(e.cw), 1); /* a rejected consumer lives until consumer_closed */
	/* A rejected consumer gets no layer messages (its groups were joined first). */
	json_t *m = msg_new("a.b", NULL, NULL);
	CHECK_INT(layer_group_send(e.layer, "g1", m), 0);
	json_decref(m);
	env_spin(&e, 3);
	CHECK_INT(seen.handler_ab, 0);
	fake_end(&b, 1006);
	CHECK_INT(seen.disconnects, 0);

	/* neither: rejected */
	struct fake_conn n = {0};
	json_open(&e, &n, CM_NOTHING);
	CHECK(!n.res.accepted);
	CHECK_INT(n.res.close_code, 403);
	fake_end(&n, 1006);
	CHECK_INT(seen.disconnects, 0);

	check_layer_empty(&e);
	seen_reset();
	ENV_FINISH(&e);
}

static void open_with_subprotocols(struct test_env *e, struct fake_conn *fc, const char *offered,
				   const char *want)
{
	struct consumer_scope scope = {0};

	scope.subprotocols = offered ? strdup(offered) : NULL;
	seen_reset();
	seen.mode = CM_SUBPROTO;
	seen.want_subproto = want;
	fake_open(fc, &json_class, &scope, e);
	CHECK(scope.subprotocols == NULL); /* ownership taken, struct zeroed */
}

static void test_subprotocols(void)
{
	struct test_env e;
	struct fake_conn fc;

	env_init(&e);

	/* The first offered one: the server compares res.subprotocol with strcmp
	 * and puts it in the Sec-WebSocket-Protocol header, so it must be "a". */
	memset(&fc, 0, sizeof(fc));
	open_with_subprotocols(&e, &fc, "a, b", "a");
	CHECK_INT(seen.accept_rc, 0);
	CHECK(fc.res.accepted);
	CHECK_STR(fc.res.subprotocol, "a");
	fake_end(&fc, 1000);

	memset(&fc, 0, sizeof(fc));
	open_with_subprotocols(&e, &fc, "a, b", "b");
	CHECK_INT(seen.accept_rc, 0);
	CHECK(fc.res.accepted);
	CHECK_STR(fc.res.subprotocol, "b");
	fake_end(&fc, 1000);

	/* Not offered (nor a prefix/part of one): EINVAL, and undecided = rejected. */
	const char *bad[] = {"c", "", "a,", "a, b", " b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&fc, 0, sizeof(fc));
		open_with_subprotocols(&e, &fc, "a, b", bad[i]);
		CHECK_INT(seen.accept_rc, CH_EINVAL);
		CHECK(!fc.res.accepted);
		fake_end(&fc, 1006);
	}

	/* Nothing offered at all. */
	memset(&fc, 0, sizeof(fc));
	open_with_subprotocols(&e, &fc, NULL, "a");
	CHECK_INT(seen.accept_rc, CH_EINVAL);
	CHECK(!fc.res.accepted);
	fake_end(&fc, 1006);

	/* None chosen although some were offered: the class's choice, the
	 * first offered one it lists (consumer_class_subprotocol decides it
	 * here, for the server's Sec-WebSocket-Protocol answer). */
	memset(&fc, 0, sizeof(fc));
	open_with_subprotocols(&e, &fc, "b, a", NULL);
	CHECK_INT(seen.accept_rc, 0);
	CHECK(fc.res.accepted);
	CHECK_STR(fc.res.subprotocol, "b");
	fake_end(&fc, 1000);

	/* Offered, but not listed by the class: cannot be chosen; none is. */
	memset(&fc, 0, sizeof(fc));
	open_with_subprotocols(&e, &fc, "c", "c");
	CHECK_INT(seen.accept_rc, CH_EINVAL);
	CHECK(!fc.res.accepted);
	fake_end(&fc, 1006);
	memset(&fc, 0, sizeof(fc));
	open_with_subprotocols(&e, &fc, "c", NULL);
	CHECK_INT(seen.accept_rc, 0);
	CHECK(fc.res.accepted);
	CHECK(fc.res.subprotocol == NULL);
	fake_end(&fc, 1000);

	seen_reset();
	ENV_FINISH(&e);
}

/* ---- groups and dispatch ---- */

static void test_groups_and_dispatch(void)
{
	struct test_env e;
	struct fake_conn fc = {0};

	env_init(&e);
	json_open(&e, &fc, CM_ACCEPT);
	CHECK(fc.res.accepted);

	/* Auto-joined groups receive group_send. */
	json_t *m = msg_new("a.b", "k", "v");
	CHECK_INT(layer_group_send(e.layer, "g1", m), 0);
	CHECK_INT(layer_group_send(e.layer, "g2", m), 0);
	json_decref(m);
	CHECK_INT(seen.handler_ab, 0); /* never from inside send */
	env_spin(&e, 2);
	CHECK_INT(seen.handler_ab, 2);
	CHECK_INT(seen.handler_abc, 0);

	/* Exact type match: "a.bc" is not "a.b" and vice versa. */
	send_to(&e, &fc, "a.bc");
	CHECK_INT(seen.handler_ab, 2);
	CHECK_INT(seen.handler_abc, 1);
	CHECK_INT(fc.closes, 0);

	/* No handler (a prefix of a handled type): close 1011. */
	send_to(&e, &fc, "a");
	CHECK_INT(seen.handler_ab, 2);
	CHECK_INT(seen.handler_abc, 1);
	CHECK_INT(fc.closes, 1);
	CHECK_INT(fc.close_code, CLOSE_INTERNAL_ERROR);
	/* Closing: further messages are not dispatched, sends refused. */
	m = msg_new("a.b", NULL, NULL);
	layer_group_send(e.layer, "g1", m);
	json_decref(m);
	env_spin(&e, 2);
	CHECK_INT(seen.handler_ab, 2);
	CHECK_INT(consumer_send_text(fc.c, "x", 1), CH_ECLOSED);
	CHECK_INT(consumer_close(fc.c, 1000, NULL), CH_ECLOSED);
	CHECK_INT(fc.closes, 1);
	fake_end(&fc, CLOSE_INTERNAL_ERROR);
	CHECK_INT(seen.disconnects, 1);
	CHECK_INT(seen.disconnect_code, CLOSE_INTERNAL_ERROR);

	/* The class's groups are left on disconnect. */
	check_layer_empty(&e);
	seen_reset();
	ENV_FINISH(&e);
}

/* A message queued for a consumer that closes before delivery is dropped. */
static void test_message_after_close_dropped(void)
{
	struct test_env e;
	struct fake_conn fc = {0};

	env_init(&e);
	json_open(&e, &fc, CM_ACCEPT);
	json_t *m = msg_new("a.b", NULL, NULL);
	CHECK_INT(layer_group_send(e.layer, "g1", m), 0);
	json_decref(m);
	fake_end(&fc, 1000);
	env_spin(&e, 3);
	CHECK_INT(seen.handler_ab, 0);
	seen_reset();
	ENV_FINISH(&e);
}

/* ---- receiving ---- */

static void test_receive_json(void)
{
	struct test_env e;
	struct fake_conn fc = {0};

	env_init(&e);
	json_open(&e, &fc, CM_ACCEPT);

	const char *ok = "{\"x\": [1, 2], \"s\": \"h\\u00e9\"}";
	consumer_receive(fc.c, ok, strlen(ok), false);
	CHECK_INT(seen.receives, 1);
	CHECK_INT(json_integer_value(json_array_get(json_object_get(seen.last_json, "x"), 1)), 2);
	CHECK_STR(json_string_value(json_object_get(seen.last_json, "s")), "h\xc3\xa9");
	CHECK_INT(fc.closes, 0);

	/* Not NUL-terminated input: only `len` bytes count. */
	consumer_receive(fc.c, "{\"y\":1}garbage", 7, false);
	CHECK_INT(seen.receives, 2);
	CHECK_INT(json_integer_value(json_object_get(seen.last_json, "y")), 1);

	consumer_receive(fc.c, "{\"x\":", 5, false);
	CHECK_INT(seen.receives, 2);
	CHECK_INT(fc.closes, 1);
	CHECK_INT(fc.close_code, CLOSE_INVALID_PAYLOAD);
	/* Closing: later input is ignored. */
	consumer_receive(fc.c, ok, strlen(ok), false);
	CHECK_INT(seen.receives, 2);
	fake_end(&fc, CLOSE_INVALID_PAYLOAD);

	struct fake_conn b = {0};
	fake_open(&b, &json_class, NULL, &e);
	consumer_receive(b.c, "{}", 2, true);
	CHECK_INT(seen.receives, 2);
	CHECK_INT(b.closes, 1);
	CHECK_INT(b.close_code, CLOSE_UNSUPPORTED_DATA);
	fake_end(&b, CLOSE_UNSUPPORTED_DATA);

	seen_reset();
	ENV_FINISH(&e);
}

static void test_receive_text_class(void)
{
	struct test_env e;
	struct fake_conn fc = {0};

	env_init(&e);
	seen_reset();
	fake_open(&fc, &text_class, NULL, &e);
	CHECK(fc.res.accepted);

	consumer_receive(fc.c, "{not json", 9, false);
	CHECK_INT(seen.receives, 1);
	CHECK_INT(seen.raw_len, 9);
	CHECK(!seen.raw_binary);
	CHECK(memcmp(seen.raw, "{not json", 9) == 0);

	const char bin[] = {0x00, (char)0xff, 0x10, 0x00};
	consumer_receive(fc.c, bin, sizeof(bin), true);
	CHECK_INT(seen.receives, 2);
	CHECK_INT(seen.raw_len, 4);
	CHECK(seen.raw_binary);
	CHECK(memcmp(seen.raw, bin, 4) == 0);
	CHECK_INT(fc.closes, 0);
	fake_end(&fc, 1000);
	CHECK_INT(seen.disconnects, 1);
	seen_reset();
	ENV_FINISH(&e);
}

/* ---- sending ---- */

static void test_sends(void)
{
	struct test_env e;
	struct fake_conn fc = {0};

	env_init(&e);
	fake_open(&fc, &bare_class, NULL, &e);

	CHECK_INT(consumer_send_text(fc.c, "hello", 5), 0);
	const unsigned char raw[] = {1, 0, 2};
	CHECK_INT(consumer_send_bytes(fc.c, raw, 3), 0);
	json_t *obj = json_pack("{s:i,s:s}", "n", 7, "s", "x y");
	CHECK_INT(consumer_send_json(fc.c, obj), 0);
	CHECK_INT(obj->refcount, 1); /* not stolen */
	CHECK_INT(consumer_send_text(fc.c, "", 0), 0);
	CHECK_INT(consumer_forward_json(fc.c, obj, NULL), CH_EINVAL);
	static const char *const only_s[] = {"s", "missing", NULL};
	CHECK_INT(consumer_forward_json(fc.c, obj, only_s), 0);
	CHECK_INT(consumer_send_json(fc.c, NULL), CH_EINVAL);

	CHECK_INT(fc.nframes, 5);
	if (fc.nframes == 5) {
		CHECK(!fc.frames[0]->binary);
		CHECK_INT(fc.frames[0]->len, 5);
		CHECK_STR(fake_text(&fc, 0), "hello");
		CHECK(fc.frames[1]->binary);
		CHECK_INT(fc.frames[1]->len, 3);
		CHECK(memcmp(consumer_frame_payload(fc.frames[1]), raw, 3) == 0);
		CHECK(!fc.frames[2]->binary);
		json_t *got = fake_json(&fc, 2);
		CHECK(json_equal(got, obj));
		json_decref(got);
		/* Compact encoding, members in insertion order. */
		CHECK_STR(fake_text(&fc, 2), "{\"n\":7,\"s\":\"x y\"}");
		CHECK_INT(fc.frames[3]->len, 0);
		CHECK_STR(fake_text(&fc, 3), "");
		CHECK_STR(fake_text(&fc, 4), "{\"s\":\"x y\"}");
		/* Our references only: the framework kept none of these. */
		for (int i = 0; i < 5; i++)
			CHECK_INT(fc.frames[i]->refs, 1);
	}
	json_decref(obj);
	fake_end(&fc, 1000);
	fake_clear(&fc);
	ENV_FINISH(&e);
}

static void test_frame_api(void)
{
	struct consumer_frame *f = consumer_frame_new("abc", 3, true);

	CHECK(f != NULL);
	CHECK_INT(f->refs, 1);
	CHECK(f->binary);
	CHECK_INT(f->len, 3);
	CHECK_STR((const char *)consumer_frame_payload(f), "abc");
	CHECK(consumer_frame_payload(f) - f->buf == CONSUMER_FRAME_HEADROOM);
	CHECK(consumer_frame_ref(f) == f);
	CHECK_INT(f->refs, 2);
	consumer_frame_unref(f);
	consumer_frame_unref(f);
	CHECK_STR(ch_strerror(CH_EQUEUE), "send queue over its limit");
	CHECK(ch_strerror(-1000) != NULL);
}

/* The layer's codes reach the caller unchanged, so the log line names the
 * true cause: a send to a full channel is CH_ECHANFULL, "channel is full"
 * (consumer_channel_send used to hand on the layer's -2, which the
 * consumers' own table named "out of memory"); a bad name is CH_EINVAL. */
static void test_layer_codes_pass_through(void)
{
	struct test_env e;
	struct fake_conn fc = {0};
	struct layer_config cfg;

	layer_config_init(&cfg);
	env_init(&e);
	seen_reset();
	seen.mode = CM_ACCEPT;
	fake_open(&fc, &json_class, NULL, &e);
	CHECK(fc.res.accepted);

	json_t *m = msg_new("a.b", NULL, NULL);
	for (unsigned i = 0; i < cfg.capacity; i++)
		CHECK_INT(consumer_channel_send(fc.c, "test.nobody", m), 0);
	int rc = consumer_channel_send(fc.c, "test.nobody", m);
	CHECK_INT(rc, CH_ECHANFULL);
	CHECK_STR(ch_strerror(rc), "channel is full");
	CHECK_INT(consumer_group_send(fc.c, "no spaces allowed", m), CH_EINVAL);
	CHECK_INT(consumer_channel_send(fc.c, "no spaces allowed", m), CH_EINVAL);
	CHECK_INT(consumer_group_add(fc.c, "no spaces allowed"), CH_EINVAL);
	CHECK_INT(consumer_group_discard(fc.c, "no spaces allowed"), CH_EINVAL);
	json_decref(m);

	fake_end(&fc, CLOSE_NORMAL);
	seen_reset();
	ENV_FINISH(&e);
}

int main(void)
{
	test_frame_api();
	test_no_on_connect_accepts();
	test_on_connect_decisions();
	test_subprotocols();
	test_groups_and_dispatch();
	test_layer_codes_pass_through();
	test_message_after_close_dropped();
	test_receive_json();
	test_receive_text_class();
	test_sends();
	return check_finish();
}
