/*
 * test_layer_conformance.c - the channel-layer conformance suite.
 *
 * Written against layer.h only and parameterised by a backend factory, so
 * the same checks run against every backend: `test_layer_conformance memory`
 * (and later `redis`). Each test runs a real uv loop; waits are "run the
 * loop until a condition holds" with a guard timer, never sleeps. Each test
 * ends by checking that only the layer's own handles are left, then frees
 * the layer, runs the loop once (UV_RUN_NOWAIT) and requires
 * uv_loop_close() == 0.
 */
#include <stdio.h>
#include <unistd.h>

#include "layer_harness.h"

static struct layer *make_memory(uv_loop_t *loop, const struct layer_config *cfg)
{
	return layer_memory_new(loop, cfg);
}

static void on_connect_wait(uv_timer_t *t)
{
	struct layer *l = t->data;
	if (layer_connected(l))
		uv_stop(t->loop);
}

/*
 * The Redis backend against the server in CHANNELS_TEST_REDIS_URL (the
 * test is skipped when it is unset; scripts/test.sh and CI set it). A fresh
 * prefix per layer keeps runs apart. Waits until both connections are up.
 */
static struct layer *make_redis(uv_loop_t *loop, const struct layer_config *cfg)
{
	static unsigned n;
	char prefix[64];
	struct layer_config c;
	if (cfg)
		c = *cfg;
	else
		layer_config_init(&c);
	snprintf(prefix, sizeof(prefix), "conformance%ld.%u.", (long)getpid(), n++);
	c.prefix = prefix;
	const char *url = getenv("CHANNELS_TEST_REDIS_URL");
	struct layer_redis_config rc = {.urls = &url, .n_urls = 1, .format = LAYER_WIRE_MSGPACK};
	char err[128];
	struct layer *l = layer_redis_new(loop, &c, &rc, err, sizeof(err));
	if (!l) {
		fprintf(stderr, "layer_redis_new: %s\n", err);
		return NULL;
	}
	uv_timer_t t;
	uv_timer_init(loop, &t);
	t.data = l;
	uv_timer_start(&t, on_connect_wait, 0, 5);
	uint64_t start = uv_now(loop);
	while (!layer_connected(l) && uv_now(loop) - start < 5000)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	if (!layer_connected(l))
		fprintf(stderr, "redis at %s not connected after 5 s\n", url);
	return l;
}

/* Pub/sub keeps no queue for a channel nobody receives (so no capacity or
 * expiry on the wire); what arrives is fanned out by the in-memory layer,
 * whose capacity and group expiry apply locally. */
static const struct backend_factory backends[] = {
	{
		.name = "memory",
		.make = make_memory,
		.has_capacity = true,
		.has_expiry = true,
		.has_group_expiry = true,
		.expiry_leaves_groups = true,
		.queues_without_receiver = true,
		.shares_sender_msg = true,
		.bang_channel_names = true,
		.timeout_ms = 5000,
		.settle_ms = 50,
	},
	{
		.name = "redis",
		.make = make_redis,
		.has_capacity = true,
		.has_expiry = false,
		.has_group_expiry = true,
		.expiry_leaves_groups = false,
		.queues_without_receiver = false,
		.shares_sender_msg = true,
		.timeout_ms = 5000,
		.settle_ms = 200,
		.needs_env = "CHANNELS_TEST_REDIS_URL",
	},
};

/* ---- tests ------------------------------------------------------------ */

static void test_names(const struct backend_factory *bf)
{
	static const char *const good_channels[] = {
		"chat", "chat.room-1_x", "a-b_c.d", "...", "0", "specific.inmemory!abcXYZ",
		"foo!", "foo!bar.baz-1_2", "asgi.specific.abc!def_123",
	};
	static const char *const bad_channels[] = {
		"", "\xc2\xaf\\_(\xe3\x83\x84)_/\xc2\xaf", "a b", "a!b!c", "!abc", "a/b",
		"chat\n", "a@b", "\xc3\xbc", "a!b c", "chat?", "a:b",
	};
	static const char *const good_groups[] = {"chat", "a-b_c.d", "room.1", "..", "X"};
	static const char *const bad_groups[] = {
		"", "a!b", "foo!", "a b", "\xc2\xaf\\_(\xe3\x83\x84)_/\xc2\xaf", "chat\n", "g/h",
	};
	char name[512];
	struct t t;
	json_t *msg;
	struct rx r = {0};

	fprintf(stderr, "  names\n");
	for (size_t i = 0; i < sizeof(good_channels) / sizeof(*good_channels); i++)
		if (!layer_valid_channel_name(good_channels[i])) {
			CHECK(layer_valid_channel_name(good_channels[i]));
			fprintf(stderr, "    rejected channel \"%s\"\n", good_channels[i]);
		}
	for (size_t i = 0; i < sizeof(bad_channels) / sizeof(*bad_channels); i++)
		if (layer_valid_channel_name(bad_channels[i])) {
			CHECK(!layer_valid_channel_name(bad_channels[i]));
			fprintf(stderr, "    accepted channel \"%s\"\n", bad_channels[i]);
		}
	for (size_t i = 0; i < sizeof(good_groups) / sizeof(*good_groups); i++)
		if (!layer_valid_group_name(good_groups[i])) {
			CHECK(layer_valid_group_name(good_groups[i]));
			fprintf(stderr, "    rejected group \"%s\"\n", good_groups[i]);
		}
	for (size_t i = 0; i < sizeof(bad_groups) / sizeof(*bad_groups); i++)
		if (layer_valid_group_name(bad_groups[i])) {
			CHECK(!layer_valid_group_name(bad_groups[i]));
			fprintf(stderr, "    accepted group \"%s\"\n", bad_groups[i]);
		}
	CHECK(!layer_valid_channel_name(NULL));
	CHECK(!layer_valid_group_name(NULL));

	/* Channels' own test: "chat" * 100 is too long for both. */
	name[0] = '\0';
	for (int i = 0; i < 100; i++)
		strcat(name, "chat");
	CHECK(!layer_valid_channel_name(name));
	CHECK(!layer_valid_group_name(name));

	/* Length < 100: 99 is fine, 100 is not, for plain and "!" names. */
	memset(name, 'a', 99);
	name[99] = '\0';
	CHECK(layer_valid_channel_name(name));
	CHECK(layer_valid_group_name(name));
	name[50] = '!';
	CHECK(layer_valid_channel_name(name));
	name[50] = 'a';
	name[99] = 'a';
	name[100] = '\0';
	CHECK(!layer_valid_channel_name(name));
	CHECK(!layer_valid_group_name(name));
	name[50] = '!';
	CHECK(!layer_valid_channel_name(name));
	name[50] = 'a';

	/* Every entry point validates. */
	t_init(&t, bf, NULL);
	msg = msg_new("test.message", 0);
	CHECK_INT(layer_send(t.l, "a b", msg), LAYER_EINVAL);
	CHECK_INT(layer_send(t.l, name, msg), LAYER_EINVAL);
	CHECK_INT(layer_group_send(t.l, "a!b", msg), LAYER_EINVAL);
	CHECK_INT(layer_group_add(t.l, "g!", "chan"), LAYER_EINVAL);
	CHECK_INT(layer_group_add(t.l, "g", "bad chan"), LAYER_EINVAL);
	CHECK_INT(layer_group_discard(t.l, "g!", "chan"), LAYER_EINVAL);
	CHECK_INT(layer_group_discard(t.l, "g", "bad chan"), LAYER_EINVAL);
	CHECK_INT(layer_receiver_add(t.l, "", on_rx, &r), LAYER_EINVAL);
	CHECK_INT(layer_receiver_remove(t.l, "a b"), LAYER_EINVAL);
	CHECK_INT(layer_send_threadsafe(t.l, "a b", msg), LAYER_EINVAL);
	CHECK_INT(layer_group_send_threadsafe(t.l, "a!b", msg), LAYER_EINVAL);
	CHECK_INT(msg->refcount, 1);
	CHECK_INT(stats(&t).sent, 0);
	json_decref(msg);
	CHECK_STR(layer_backend_name(t.l), bf->name);
	t_finish(&t);
}

static void test_messages(const struct backend_factory *bf)
{
	json_t *bad[] = {
		json_array(), json_string("chat.message"), json_pack("{s:s}", "text", "hi"),
		json_pack("{s:i}", "type", 3), json_pack("{s:n}", "type"), json_object(),
	};
	struct t t;
	json_t *ok;

	fprintf(stderr, "  messages\n");
	t_init(&t, bf, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		CHECK_INT(layer_send(t.l, "chan", bad[i]), LAYER_EINVAL);
		CHECK_INT(layer_group_send(t.l, "grp", bad[i]), LAYER_EINVAL);
		CHECK_INT(layer_send_threadsafe(t.l, "chan", bad[i]), LAYER_EINVAL);
		CHECK_INT(layer_group_send_threadsafe(t.l, "grp", bad[i]), LAYER_EINVAL);
		CHECK_INT(bad[i]->refcount, 1);
		json_decref(bad[i]);
	}
	CHECK_INT(layer_send(t.l, "chan", NULL), LAYER_EINVAL);
	CHECK_INT(layer_group_send(t.l, "grp", NULL), LAYER_EINVAL);
	ok = json_pack("{s:s, s:{s:[i,i]}}", "type", "x", "nested", "a", 1, 2);
	CHECK_INT(layer_send(t.l, "chan", ok), 0);
	CHECK_INT(layer_group_send(t.l, "grp", ok), 0);
	CHECK_INT(stats(&t).sent, 2);
	json_decref(ok);
	CHECK(strcmp(layer_strerror(LAYER_ECHANFULL), layer_strerror(LAYER_EINVAL)) != 0);
	CHECK(layer_strerror(12345) != NULL);
	t_finish(&t);
}

static void test_send_receive(const struct backend_factory *bf)
{
	struct rx r = {0};
	struct layer_stats s;
	struct t t;
	json_t *msg;

	fprintf(stderr, "  send/receive\n");
	t_init(&t, bf, NULL);
	cb_depth = cb_max_depth = 0;
	CHECK_INT(layer_receiver_add(t.l, "chan.one", on_rx, &r), 0);
	CHECK_INT(layer_receiver_add(t.l, "chan.one", on_rx, &r), LAYER_EEXIST);
	CHECK_INT(layer_receiver_remove(t.l, "chan.none"), LAYER_ENOENT);
	msg = msg_new("chat.message", 7);
	CHECK_INT(layer_send(t.l, "chan.one", msg), 0);
	if (bf->shares_sender_msg)
		CHECK_INT(msg->refcount, 2); /* the layer took its own reference */
	CHECK_INT(r.count, 0);               /* never delivered from inside send */
	CHECK(wait_count(&t, &r, 1));
	CHECK_INT(r.count, 1);
	CHECK_STR(r.channel, "chan.one");
	CHECK_STR(rx_type(&r, 0), "chat.message");
	CHECK_INT(rx_n(&r, 0), 7);
	if (bf->shares_sender_msg) {
		CHECK(r.msgs[0] == msg);
		CHECK_INT(msg->refcount, 2); /* ours + the receiver's copy */
	}
	s = stats(&t);
	CHECK_INT(s.sent, 1);
	CHECK_INT(s.delivered, 1);
	CHECK_INT(s.receivers, 1);
	CHECK_INT(layer_receiver_remove(t.l, "chan.one"), 0);
	CHECK_INT(layer_receiver_remove(t.l, "chan.one"), LAYER_ENOENT);
	CHECK_INT(stats(&t).receivers, 0);
	rx_release(&r);
	if (bf->shares_sender_msg)
		CHECK_INT(msg->refcount, 1);
	json_decref(msg);
	CHECK_INT(cb_max_depth, 1);
	t_finish(&t);
}

static void test_ordering(const struct backend_factory *bf)
{
	struct rx r = {0};
	struct t t;

	fprintf(stderr, "  ordering\n");
	t_init(&t, bf, NULL);
	CHECK_INT(layer_receiver_add(t.l, "ordered", on_rx, &r), 0);
	for (int i = 0; i < 50; i++) {
		json_t *m = msg_new("seq", i);

		CHECK_INT(layer_send(t.l, "ordered", m), 0);
		json_decref(m);
		if (i == 20) /* interleave loop turns with sends */
			uv_run(&t.loop, UV_RUN_NOWAIT);
	}
	CHECK(wait_count(&t, &r, 50));
	run_for(&t, bf->settle_ms);
	CHECK_INT(r.count, 50);
	for (int i = 0; i < 50 && i < r.count; i++)
		CHECK_INT(rx_n(&r, i), i);
	rx_release(&r);
	t_finish(&t);
}

static void test_wait_for_receiver(const struct backend_factory *bf)
{
	struct rx r = {0};
	struct t t;

	if (!bf->queues_without_receiver)
		return;
	fprintf(stderr, "  message waits for a later receiver\n");
	t_init(&t, bf, NULL);
	for (int i = 0; i < 3; i++) {
		json_t *m = msg_new("early", i);

		CHECK_INT(layer_send(t.l, "late.chan", m), 0);
		json_decref(m);
	}
	run_for(&t, bf->settle_ms);
	CHECK_INT(layer_receiver_add(t.l, "late.chan", on_rx, &r), 0);
	CHECK_INT(r.count, 0);
	CHECK(wait_count(&t, &r, 3));
	CHECK_INT(r.count, 3);
	for (int i = 0; i < 3 && i < r.count; i++)
		CHECK_INT(rx_n(&r, i), i);
	rx_release(&r);
	t_finish(&t);
}

static void test_capacity(const struct backend_factory *bf)
{
	struct layer_config cfg;
	struct rx r = {0};
	struct t t;
	json_t *m;

	if (!bf->has_capacity || !bf->queues_without_receiver)
		return;
	fprintf(stderr, "  capacity\n");
	layer_config_init(&cfg);
	cfg.capacity = 5;
	t_init(&t, bf, &cfg);
	m = msg_new("fill", 0);
	for (int i = 0; i < 5; i++)
		CHECK_INT(layer_send(t.l, "small", m), 0);
	CHECK_INT(layer_send(t.l, "small", m), LAYER_ECHANFULL);
	CHECK_INT(layer_send(t.l, "small", m), LAYER_ECHANFULL);
	CHECK_INT(stats(&t).sent, 5);
	CHECK(stats(&t).dropped >= 2);
	/* Another channel is unaffected. */
	CHECK_INT(layer_send(t.l, "other", m), 0);
	CHECK_INT(layer_receiver_add(t.l, "small", on_rx, &r), 0);
	CHECK(wait_count(&t, &r, 5));
	run_for(&t, bf->settle_ms);
	CHECK_INT(r.count, 5);
	/* Drained: room again. */
	CHECK_INT(layer_send(t.l, "small", m), 0);
	CHECK(wait_count(&t, &r, 6));
	json_decref(m);
	rx_release(&r);
	t_finish(&t);
}

static void test_expiry(const struct backend_factory *bf)
{
	struct layer_config cfg;
	struct rx r = {0};
	struct t t;
	json_t *m1, *m2;

	if (!bf->has_expiry || !bf->queues_without_receiver)
		return;
	fprintf(stderr, "  expiry\n");
	layer_config_init(&cfg);
	cfg.expiry = 0.2;
	t_init(&t, bf, &cfg);
	uv_update_time(&t.loop);
	m1 = msg_new("old", 1);
	m2 = msg_new("new", 2);
	CHECK_INT(layer_send(t.l, "exp.chan", m1), 0);
	run_for(&t, 350);
	CHECK_INT(layer_send(t.l, "exp.chan", m2), 0);
	CHECK_INT(layer_receiver_add(t.l, "exp.chan", on_rx, &r), 0);
	CHECK(wait_count(&t, &r, 1));
	run_for(&t, bf->settle_ms);
	CHECK_INT(r.count, 1);
	if (r.count >= 1)
		CHECK_INT(rx_n(&r, 0), 2);
	CHECK(stats(&t).dropped >= 1);
	if (bf->shares_sender_msg)
		CHECK_INT(m1->refcount, 1); /* the expired copy was released */
	/* A full channel of expired messages has room again. */
	cfg.capacity = 2;
	rx_release(&r);
	json_decref(m1);
	json_decref(m2);
	t_finish(&t);

	t_init(&t, bf, &cfg);
	m1 = msg_new("old", 1);
	CHECK_INT(layer_send(t.l, "exp.full", m1), 0);
	CHECK_INT(layer_send(t.l, "exp.full", m1), 0);
	CHECK_INT(layer_send(t.l, "exp.full", m1), LAYER_ECHANFULL);
	run_for(&t, 350);
	CHECK_INT(layer_send(t.l, "exp.full", m1), 0);
	json_decref(m1);
	t_finish(&t);
}

static void test_expiry_leaves_groups(const struct backend_factory *bf)
{
	struct layer_config cfg;
	struct rx x = {0}, y = {0};
	struct t t;
	json_t *m1, *m2;

	if (!bf->expiry_leaves_groups)
		return;
	fprintf(stderr, "  an expired message removes its channel from its groups\n");
	layer_config_init(&cfg);
	cfg.expiry = 0.2;
	t_init(&t, bf, &cfg);
	uv_update_time(&t.loop);
	CHECK_INT(layer_group_add(t.l, "eg", "eg.dead"), 0);
	CHECK_INT(layer_group_add(t.l, "eg", "eg.live"), 0);
	CHECK_INT(layer_group_add(t.l, "eg.other", "eg.dead"), 0);
	CHECK_INT(layer_receiver_add(t.l, "eg.live", on_rx, &y), 0);
	m1 = msg_new("eg.one", 1);
	m2 = msg_new("eg.two", 2);
	CHECK_INT(layer_group_send(t.l, "eg", m1), 0);
	CHECK(wait_count(&t, &y, 1));
	run_for(&t, 350);
	CHECK_INT(layer_group_send(t.l, "eg", m2), 0);
	CHECK(wait_count(&t, &y, 2));
	CHECK_INT(stats(&t).groups, 1); /* "eg.other" lost its only member */
	CHECK_INT(layer_receiver_add(t.l, "eg.dead", on_rx, &x), 0);
	run_for(&t, bf->settle_ms);
	CHECK_INT(x.count, 0);
	if (bf->shares_sender_msg) { /* ours + eg.live's copy: eg.dead's copy is gone */
		CHECK_INT(m1->refcount, 2);
		CHECK_INT(m2->refcount, 2);
	}
	json_decref(m1);
	json_decref(m2);
	rx_release(&x);
	rx_release(&y);
	t_finish(&t);
}

static void test_groups(const struct backend_factory *bf)
{
	struct rx r[3] = {{0}};
	const char *names[3] = {"grp.a", "grp.b", "grp.c"};
	struct t t;
	json_t *m;

	fprintf(stderr, "  groups\n");
	t_init(&t, bf, NULL);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(layer_receiver_add(t.l, names[i], on_rx, &r[i]), 0);
		CHECK_INT(layer_group_add(t.l, "room", names[i]), 0);
	}
	CHECK_INT(layer_group_add(t.l, "room", "grp.a"), 0); /* twice: still one member */
	CHECK_INT(stats(&t).groups, 1);
	CHECK_INT(layer_group_discard(t.l, "room", "grp.b"), 0);
	CHECK_INT(layer_group_discard(t.l, "room", "grp.b"), 0);       /* not a member: ok */
	CHECK_INT(layer_group_discard(t.l, "room", "nobody"), 0);      /* unknown channel */
	CHECK_INT(layer_group_discard(t.l, "no.such.group", "grp.a"), 0);
	CHECK_INT(layer_group_send(t.l, "no.such.group", NULL), LAYER_EINVAL);
	m = msg_new("room.message", 1);
	CHECK_INT(layer_group_send(t.l, "empty.group", m), 0);
	CHECK_INT(layer_group_send(t.l, "room", m), 0);
	CHECK_INT(r[0].count + r[2].count, 0);
	CHECK(wait_count(&t, &r[0], 1));
	CHECK(wait_count(&t, &r[2], 1));
	run_for(&t, bf->settle_ms);
	CHECK_INT(r[0].count, 1);
	CHECK_INT(r[1].count, 0);
	CHECK_INT(r[2].count, 1);
	if (r[0].count && r[2].count) {
		CHECK(r[0].msgs[0] == r[2].msgs[0]); /* one json_t for every member */
		CHECK_STR(r[2].channel, "grp.c");
		CHECK_STR(rx_type(&r[2], 0), "room.message");
	}
	CHECK_INT(stats(&t).sent, 2);
	CHECK_INT(layer_group_discard(t.l, "room", "grp.a"), 0);
	CHECK_INT(layer_group_discard(t.l, "room", "grp.c"), 0);
	CHECK_INT(stats(&t).groups, 0); /* empty groups are gone */
	CHECK_INT(layer_group_send(t.l, "room", m), 0);
	run_for(&t, bf->settle_ms);
	CHECK_INT(r[0].count + r[1].count + r[2].count, 2);
	/* A member without a receiver still belongs; a channel in two groups
	 * gets one copy per group_send. */
	CHECK_INT(layer_group_add(t.l, "g1", "grp.a"), 0);
	CHECK_INT(layer_group_add(t.l, "g2", "grp.a"), 0);
	CHECK_INT(stats(&t).groups, 2);
	CHECK_INT(layer_group_send(t.l, "g1", m), 0);
	CHECK_INT(layer_group_send(t.l, "g2", m), 0);
	CHECK(wait_count(&t, &r[0], 3));
	run_for(&t, bf->settle_ms);
	CHECK_INT(r[0].count, 3);
	json_decref(m);
	for (int i = 0; i < 3; i++)
		rx_release(&r[i]);
	t_finish(&t);
}

#define FANOUT 1000

static void test_group_fanout(const struct backend_factory *bf)
{
	static struct rx r[FANOUT];
	char name[LAYER_NAME_MAX];
	struct layer_stats s;
	struct want w = {r, FANOUT, 1};
	struct t t;
	json_t *m;
	int same = 0, total = 0;

	fprintf(stderr, "  group_send to %d members\n", FANOUT);
	memset(r, 0, sizeof(r));
	t_init(&t, bf, NULL);
	for (int i = 0; i < FANOUT; i++) {
		CHECK_INT(layer_new_channel(t.l, "fan", name, sizeof(name)), 0);
		CHECK_INT(layer_receiver_add(t.l, name, on_rx, &r[i]), 0);
		CHECK_INT(layer_group_add(t.l, "big", name), 0);
	}
	m = msg_new("broadcast", 42);
	CHECK_INT(layer_group_send(t.l, "big", m), 0);
	if (bf->shares_sender_msg)
		CHECK_INT(m->refcount, 1 + FANOUT); /* one reference per queued entry */
	CHECK(run_until(&t, cond_counts, &w, bf->timeout_ms));
	run_for(&t, bf->settle_ms);
	for (int i = 0; i < FANOUT; i++) {
		total += r[i].count;
		if (r[i].count == 1 && r[i].msgs[0] == r[0].msgs[0])
			same++;
	}
	CHECK_INT(total, FANOUT);
	CHECK_INT(same, FANOUT); /* the SAME json_t pointer for every member */
	if (bf->shares_sender_msg)
		CHECK(r[0].msgs[0] == m);
	s = stats(&t);
	CHECK_INT(s.sent, 1);
	CHECK_INT(s.delivered, FANOUT);
	CHECK_INT(s.receivers, FANOUT);
	CHECK_INT(s.groups, 1);
	for (int i = 0; i < FANOUT; i++)
		rx_release(&r[i]);
	if (bf->shares_sender_msg)
		CHECK_INT(m->refcount, 1);
	json_decref(m);
	t_finish(&t);
}

static void test_group_skips_full(const struct backend_factory *bf)
{
	struct layer_config cfg;
	struct rx full = {0}, ok = {0};
	struct t t;
	json_t *direct, *grp;

	if (!bf->has_capacity || !bf->queues_without_receiver)
		return;
	fprintf(stderr, "  group_send skips a full channel\n");
	layer_config_init(&cfg);
	cfg.capacity = 2;
	t_init(&t, bf, &cfg);
	direct = msg_new("direct", 0);
	grp = msg_new("grouped", 1);
	CHECK_INT(layer_send(t.l, "full.chan", direct), 0);
	CHECK_INT(layer_send(t.l, "full.chan", direct), 0);
	CHECK_INT(layer_group_add(t.l, "mixed", "full.chan"), 0);
	CHECK_INT(layer_group_add(t.l, "mixed", "ok.chan"), 0);
	CHECK_INT(layer_receiver_add(t.l, "ok.chan", on_rx, &ok), 0);
	CHECK_INT(layer_group_send(t.l, "mixed", grp), 0); /* no ECHANFULL */
	CHECK(wait_count(&t, &ok, 1));
	CHECK(stats(&t).dropped >= 1);
	CHECK_INT(layer_receiver_add(t.l, "full.chan", on_rx, &full), 0);
	CHECK(wait_count(&t, &full, 2));
	run_for(&t, bf->settle_ms);
	CHECK_INT(full.count, 2);
	for (int i = 0; i < full.count && i < 2; i++)
		CHECK_STR(rx_type(&full, i), "direct");
	CHECK_INT(ok.count, 1);
	json_decref(direct);
	json_decref(grp);
	rx_release(&full);
	rx_release(&ok);
	t_finish(&t);
}

static void test_group_expiry(const struct backend_factory *bf)
{
	struct layer_config cfg;
	struct rx a = {0}, b = {0};
	struct t t;
	json_t *m;

	if (!bf->has_group_expiry)
		return;
	fprintf(stderr, "  group expiry\n");
	layer_config_init(&cfg);
	cfg.group_expiry = 0.4;
	t_init(&t, bf, &cfg);
	uv_update_time(&t.loop);
	CHECK_INT(layer_receiver_add(t.l, "ge.a", on_rx, &a), 0);
	CHECK_INT(layer_receiver_add(t.l, "ge.b", on_rx, &b), 0);
	CHECK_INT(layer_group_add(t.l, "ge", "ge.a"), 0);
	CHECK_INT(layer_group_add(t.l, "ge", "ge.b"), 0);
	run_for(&t, 250);
	CHECK_INT(layer_group_add(t.l, "ge", "ge.b"), 0); /* refresh b only */
	run_for(&t, 250);
	m = msg_new("ge.message", 1);
	CHECK_INT(layer_group_send(t.l, "ge", m), 0);
	CHECK(wait_count(&t, &b, 1));
	run_for(&t, bf->settle_ms);
	CHECK_INT(a.count, 0); /* a's membership expired */
	CHECK_INT(b.count, 1);
	CHECK_INT(layer_group_add(t.l, "ge", "ge.a"), 0); /* joining again works */
	CHECK_INT(layer_group_add(t.l, "ge", "ge.b"), 0); /* b's 0.4 s may be up by now */
	CHECK_INT(layer_group_send(t.l, "ge", m), 0);
	CHECK(wait_count(&t, &a, 1));
	CHECK(wait_count(&t, &b, 2));
	json_decref(m);
	rx_release(&a);
	rx_release(&b);
	t_finish(&t);
}

static void test_flush(const struct backend_factory *bf)
{
	struct rx q = {0}, r = {0};
	struct t t;
	json_t *m;

	fprintf(stderr, "  flush\n");
	t_init(&t, bf, NULL);
	m = msg_new("before.flush", 0);
	if (bf->queues_without_receiver)
		for (int i = 0; i < 3; i++)
			CHECK_INT(layer_send(t.l, "fl.queued", m), 0);
	CHECK_INT(layer_receiver_add(t.l, "fl.r", on_rx, &r), 0);
	CHECK_INT(layer_group_add(t.l, "fl.g", "fl.r"), 0);
	CHECK_INT(layer_group_add(t.l, "fl.g", "fl.queued"), 0);
	CHECK_INT(layer_send(t.l, "fl.r", m), 0);
	CHECK_INT(layer_flush(t.l), 0); /* drops fl.r's undelivered message too */
	CHECK_INT(stats(&t).groups, 0);
	CHECK_INT(stats(&t).receivers, 1); /* receivers stay registered */
	if (bf->shares_sender_msg)
		CHECK_INT(m->refcount, 1);
	CHECK_INT(layer_receiver_add(t.l, "fl.queued", on_rx, &q), 0);
	CHECK_INT(layer_group_send(t.l, "fl.g", m), 0);
	run_for(&t, bf->settle_ms);
	CHECK_INT(q.count, 0);
	CHECK_INT(r.count, 0);
	CHECK_INT(layer_send(t.l, "fl.r", m), 0); /* still works after flush */
	CHECK(wait_count(&t, &r, 1));
	json_decref(m);
	rx_release(&q);
	rx_release(&r);
	t_finish(&t);
}

/* Hook: remove this receiver and the peer named in hook_arg. */
static void hook_remove(struct rx *r, json_t *msg)
{
	CHECK_INT(layer_receiver_remove(r->t->l, r->channel), 0);
	layer_receiver_remove(r->t->l, r->hook_arg); /* the peer may be gone already */
}

static void test_remove_in_callback(const struct backend_factory *bf)
{
	struct rx a = {0}, b = {0};
	struct t t;
	json_t *m;

	fprintf(stderr, "  receiver_remove inside a callback\n");
	t_init(&t, bf, NULL);
	a.t = b.t = &t;
	a.hook = b.hook = hook_remove;
	a.hook_arg = "rm.b";
	b.hook_arg = "rm.a";
	CHECK_INT(layer_receiver_add(t.l, "rm.a", on_rx, &a), 0);
	CHECK_INT(layer_receiver_add(t.l, "rm.b", on_rx, &b), 0);
	CHECK_INT(layer_group_add(t.l, "rm.g", "rm.a"), 0);
	m = msg_new("rm", 0);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(layer_send(t.l, "rm.a", m), 0);
		CHECK_INT(layer_send(t.l, "rm.b", m), 0);
	}
	/* One of them fires first and removes both: exactly one callback. */
	CHECK(run_until(&t, cond_any, (struct rx *[]){&a, &b}, bf->timeout_ms));
	run_for(&t, bf->settle_ms);
	CHECK_INT(a.count + b.count, 1);
	CHECK_INT(stats(&t).receivers, 0);
	CHECK_INT(layer_receiver_remove(t.l, "rm.a"), LAYER_ENOENT);
	/* The group membership outlives the receiver; a new receiver gets new
	 * messages, not the dropped ones. */
	a.hook = NULL;
	rx_release(&a);
	CHECK_INT(layer_receiver_add(t.l, "rm.a", on_rx, &a), 0);
	CHECK_INT(layer_group_send(t.l, "rm.g", m), 0);
	CHECK(wait_count(&t, &a, 1));
	run_for(&t, bf->settle_ms);
	CHECK_INT(a.count, 1);
	json_decref(m);
	rx_release(&a);
	rx_release(&b);
	t_finish(&t);
}

/* Hook: while count < 3, send to itself and to "cb.b", checking that
 * nothing is delivered from inside layer_send(). */
static void hook_send(struct rx *r, json_t *msg)
{
	int before = r->count;
	json_t *m;

	if (r->count >= 3)
		return;
	m = msg_new("again", r->count);
	CHECK_INT(layer_send(r->t->l, r->channel, m), 0);
	CHECK_INT(layer_send(r->t->l, "cb.b", m), 0);
	CHECK_INT(layer_group_send(r->t->l, "cb.g", m), 0);
	CHECK_INT(r->count, before);
	json_decref(m);
}

static void test_send_in_callback(const struct backend_factory *bf)
{
	struct rx a = {0}, b = {0}, g = {0};
	struct t t;
	json_t *m;

	fprintf(stderr, "  send inside a callback\n");
	t_init(&t, bf, NULL);
	cb_depth = cb_max_depth = 0;
	a.t = &t;
	a.hook = hook_send;
	CHECK_INT(layer_receiver_add(t.l, "cb.a", on_rx, &a), 0);
	CHECK_INT(layer_receiver_add(t.l, "cb.b", on_rx, &b), 0);
	CHECK_INT(layer_receiver_add(t.l, "cb.gm", on_rx, &g), 0);
	CHECK_INT(layer_group_add(t.l, "cb.g", "cb.gm"), 0);
	m = msg_new("first", 0);
	CHECK_INT(layer_send(t.l, "cb.a", m), 0);
	json_decref(m);
	CHECK(wait_count(&t, &a, 3));
	CHECK(wait_count(&t, &b, 2));
	CHECK(wait_count(&t, &g, 2));
	run_for(&t, bf->settle_ms);
	CHECK_INT(a.count, 3);
	CHECK_INT(b.count, 2);
	CHECK_INT(g.count, 2);
	CHECK_INT(cb_max_depth, 1); /* no callback ran inside another */
	for (int i = 0; i < a.count && i < 3; i++)
		CHECK_INT(rx_n(&a, i), i);
	rx_release(&a);
	rx_release(&b);
	rx_release(&g);
	t_finish(&t);
}

/* Hook: free the whole layer from inside a callback. */
static void hook_free(struct rx *r, json_t *msg)
{
	layer_free(r->t->l);
	r->t->l = NULL;
}

static void test_free_with_pending(const struct backend_factory *bf)
{
	struct rx a = {0}, b = {0};
	struct t t;
	json_t *m;

	fprintf(stderr, "  layer_free with queued messages, and inside a callback\n");
	/* Freed from outside: queued messages are dropped, no callback runs. */
	t_init(&t, bf, NULL);
	m = msg_new("pending", 0);
	CHECK_INT(layer_receiver_add(t.l, "fr.a", on_rx, &a), 0);
	CHECK_INT(layer_group_add(t.l, "fr.g", "fr.a"), 0);
	CHECK_INT(layer_group_add(t.l, "fr.g", "fr.nobody"), 0);
	CHECK_INT(layer_group_send(t.l, "fr.g", m), 0);
	CHECK_INT(layer_send(t.l, "fr.a", m), 0);
	CHECK_INT(layer_send_threadsafe(t.l, "fr.a", m), 0);
	t_finish(&t);
	CHECK_INT(a.count, 0);
	CHECK_INT(m->refcount, 1);

	/* Freed from inside a callback while a batch is being delivered. */
	t_init(&t, bf, NULL);
	a.t = b.t = &t;
	a.hook = b.hook = hook_free;
	CHECK_INT(layer_receiver_add(t.l, "fr.a", on_rx, &a), 0);
	CHECK_INT(layer_receiver_add(t.l, "fr.b", on_rx, &b), 0);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(layer_send(t.l, "fr.a", m), 0);
		CHECK_INT(layer_send(t.l, "fr.b", m), 0);
	}
	CHECK(run_until(&t, cond_freed, &t, bf->timeout_ms));
	run_for(&t, bf->settle_ms);
	CHECK_INT(a.count + b.count, 1);
	rx_release(&a);
	rx_release(&b);
	t_finish(&t);
	CHECK_INT(m->refcount, 1);
	json_decref(m);
}

#define TS_GROUP 200
#define TS_DIRECT 20

struct ts_arg {
	struct layer *l;
	int bad_rc;
	int errors;
};

static void ts_thread(void *p)
{
	struct ts_arg *a = p;
	json_t *m;

	a->bad_rc = layer_group_send_threadsafe(a->l, "not valid!", NULL);
	for (int i = 0; i < TS_GROUP; i++) {
		m = msg_new("ts.group", i);
		if (layer_group_send_threadsafe(a->l, "ts.g", m) != 0)
			a->errors++;
		json_decref(m);
		if (i < TS_DIRECT) {
			m = msg_new("ts.direct", i);
			if (layer_send_threadsafe(a->l, "ts.a", m) != 0)
				a->errors++;
			json_decref(m);
		}
	}
}

static void test_threadsafe(const struct backend_factory *bf)
{
	struct rx r[2] = {{0}};
	struct ts_arg arg = {0};
	struct layer_config cfg;
	uv_thread_t th;
	struct t t;
	int grouped = 0, ordered = 1;
	long long last = -1;

	fprintf(stderr, "  threadsafe sends from another thread\n");
	/* The burst may land in one loop turn: make room for all of it. */
	layer_config_init(&cfg);
	cfg.capacity = 1000;
	t_init(&t, bf, &cfg);
	CHECK_INT(layer_receiver_add(t.l, "ts.a", on_rx, &r[0]), 0);
	CHECK_INT(layer_receiver_add(t.l, "ts.b", on_rx, &r[1]), 0);
	CHECK_INT(layer_group_add(t.l, "ts.g", "ts.a"), 0);
	CHECK_INT(layer_group_add(t.l, "ts.g", "ts.b"), 0);
	arg.l = t.l;
	CHECK_INT(uv_thread_create(&th, ts_thread, &arg), 0);
	CHECK(wait_count(&t, &r[0], TS_GROUP + TS_DIRECT));
	CHECK(wait_count(&t, &r[1], TS_GROUP));
	uv_thread_join(&th);
	run_for(&t, bf->settle_ms);
	CHECK_INT(arg.bad_rc, LAYER_EINVAL);
	CHECK_INT(arg.errors, 0);
	CHECK_INT(r[0].count, TS_GROUP + TS_DIRECT);
	CHECK_INT(r[1].count, TS_GROUP);
	/* r[1] only keeps RX_KEEP messages: they are the first ones, in order. */
	for (int i = 0; i < r[1].count && i < RX_KEEP; i++) {
		if (rx_n(&r[1], i) != i)
			ordered = 0;
		grouped++;
	}
	CHECK(ordered);
	CHECK_INT(grouped, RX_KEEP);
	for (int i = 0; i < r[0].count && i < RX_KEEP; i++) {
		if (strcmp(rx_type(&r[0], i), "ts.direct") != 0)
			continue;
		CHECK(rx_n(&r[0], i) > last);
		last = rx_n(&r[0], i);
	}
	CHECK_INT(stats(&t).sent, TS_GROUP + TS_DIRECT);
	rx_release(&r[0]);
	rx_release(&r[1]);
	t_finish(&t);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

#define NAMES 2000

/* layer_receiver_name(): the layer's own copy while a receiver is registered. */
static void test_receiver_name(const struct backend_factory *bf)
{
	char name[LAYER_NAME_MAX];
	struct rx r = {0};
	const char *kept;
	struct t t;

	fprintf(stderr, "  receiver_name\n");
	t_init(&t, bf, NULL);
	CHECK_INT(layer_new_channel(t.l, NULL, name, sizeof(name)), 0);
	CHECK(layer_receiver_name(t.l, name) == NULL);
	CHECK_INT(layer_receiver_add(t.l, name, on_rx, &r), 0);
	CHECK_INT(layer_group_add(t.l, "named", name), 0);
	kept = layer_receiver_name(t.l, name);
	CHECK(kept != NULL && kept != name);
	CHECK_STR(kept, name);
	CHECK(layer_receiver_name(t.l, "no.such!channel") == NULL);
	CHECK(layer_receiver_name(t.l, "bad name") == NULL);
	/* The copy may be given back to the layer, even to remove the receiver. */
	CHECK_INT(layer_group_discard(t.l, "named", kept), 0);
	CHECK_INT(layer_receiver_remove(t.l, kept), 0);
	CHECK(layer_receiver_name(t.l, name) == NULL);
	rx_release(&r);
	t_finish(&t);
}

static void test_new_channel(const struct backend_factory *bf)
{
	static char buf[NAMES][LAYER_NAME_MAX];
	static char *sorted[NAMES];
	char small[LAYER_NAME_MAX / 2], name[LAYER_NAME_MAX];
	struct rx r = {0};
	struct t t;
	int valid = 0, prefixed = 0, dups = 0;
	json_t *m;

	fprintf(stderr, "  new_channel\n");
	t_init(&t, bf, NULL);
	for (int i = 0; i < NAMES; i++) {
		CHECK_INT(layer_new_channel(t.l, i % 2 ? NULL : "chat", buf[i], LAYER_NAME_MAX), 0);
		valid += layer_valid_channel_name(buf[i]);
		/* The in-memory backend names "specific.inmemory!x"; channels_redis'
		 * pub/sub names "<layer prefix>specific.<hex>". */
		prefixed += bf->bang_channel_names
				    ? strncmp(buf[i], i % 2 ? "specific." : "chat.", i % 2 ? 9 : 5) == 0
				    : strstr(buf[i], i % 2 ? "specific." : "chat.") != NULL;
		sorted[i] = buf[i];
	}
	CHECK_INT(valid, NAMES);
	CHECK_INT(prefixed, NAMES);
	if (bf->bang_channel_names)
		CHECK(strchr(buf[0], '!') != NULL);
	qsort(sorted, NAMES, sizeof(*sorted), cmp_str);
	for (int i = 1; i < NAMES; i++)
		dups += strcmp(sorted[i - 1], sorted[i]) == 0;
	CHECK_INT(dups, 0);
	CHECK_INT(layer_new_channel(t.l, "bad!", name, sizeof(name)), LAYER_EINVAL);
	CHECK_INT(layer_new_channel(t.l, "", name, sizeof(name)), LAYER_EINVAL);
	CHECK_INT(layer_new_channel(t.l, "a b", name, sizeof(name)), LAYER_EINVAL);
	CHECK_INT(layer_new_channel(t.l, NULL, small, sizeof(small)), LAYER_EINVAL);
	/* The name works for send and receive. */
	CHECK_INT(layer_new_channel(t.l, NULL, name, sizeof(name)), 0);
	CHECK_INT(layer_receiver_add(t.l, name, on_rx, &r), 0);
	m = msg_new("to.new", 1);
	CHECK_INT(layer_send(t.l, name, m), 0);
	json_decref(m);
	CHECK(wait_count(&t, &r, 1));
	CHECK_STR(r.channel, name);
	rx_release(&r);
	t_finish(&t);
}

static void test_defaults(const struct backend_factory *bf)
{
	struct layer_config cfg;

	fprintf(stderr, "  config defaults\n");
	memset(&cfg, 0xff, sizeof(cfg));
	layer_config_init(&cfg);
	CHECK_INT(cfg.capacity, 100);
	CHECK(cfg.expiry == 60);
	CHECK(cfg.group_expiry == 86400);
	CHECK_STR(cfg.prefix, "asgi");
}

int main(int argc, char **argv)
{
	const char *want = argc > 1 ? argv[1] : "memory";
	const struct backend_factory *bf = NULL;

	for (size_t i = 0; i < sizeof(backends) / sizeof(*backends); i++)
		if (strcmp(backends[i].name, want) == 0)
			bf = &backends[i];
	if (!bf) {
		fprintf(stderr, "unknown backend \"%s\"\n", want);
		return 1;
	}
	if (bf->needs_env && !getenv(bf->needs_env)) {
		fprintf(stderr, "%s unset: skipping backend %s\n", bf->needs_env, bf->name);
		return 77;
	}
	fprintf(stderr, "layer conformance: backend %s\n", bf->name);
	test_defaults(bf);
	test_names(bf);
	test_messages(bf);
	test_send_receive(bf);
	test_ordering(bf);
	test_wait_for_receiver(bf);
	test_capacity(bf);
	test_expiry(bf);
	test_expiry_leaves_groups(bf);
	test_groups(bf);
	test_group_fanout(bf);
	test_group_skips_full(bf);
	test_group_expiry(bf);
	test_flush(bf);
	test_remove_in_callback(bf);
	test_send_in_callback(bf);
	test_free_with_pending(bf);
	test_threadsafe(bf);
	test_new_channel(bf);
	test_receiver_name(bf);
	return check_finish();
}
