/*
 * conformance_channels.c - the channel-layer conformance suite (see
 * test_layer_conformance.c), part 1: names, messages, send and receive,
 * ordering, capacity, expiry, new channels and receiver names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layer_harness.h"

/* Each of the `n` names must be valid (`want`) or invalid by `valid`; a
 * failing check names the name. */
static void names_judged(bool (*valid)(const char *), const char *kind,
			 const char *const *names, size_t n, bool want)
{
	for (size_t i = 0; i < n; i++)
		if (valid(names[i]) != want) {
			CHECK(valid(names[i]) == want);
			fprintf(stderr, "    %s %s \"%s\"\n", want ? "rejected" : "accepted", kind,
				names[i]);
		}
}

/* The name rules on lists of valid and invalid channel and group names. */
static void names_listed(void)
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

	names_judged(layer_valid_channel_name, "channel", good_channels,
		     sizeof(good_channels) / sizeof(*good_channels), true);
	names_judged(layer_valid_channel_name, "channel", bad_channels,
		     sizeof(bad_channels) / sizeof(*bad_channels), false);
	names_judged(layer_valid_group_name, "group", good_groups,
		     sizeof(good_groups) / sizeof(*good_groups), true);
	names_judged(layer_valid_group_name, "group", bad_groups,
		     sizeof(bad_groups) / sizeof(*bad_groups), false);
	CHECK(!layer_valid_channel_name(NULL));
	CHECK(!layer_valid_group_name(NULL));
}

void test_names(const struct backend_factory *bf)
{
	char name[512];
	struct t t;
	json_t *msg;
	struct rx r = {0};

	fprintf(stderr, "  names\n");
	names_listed();

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
	CHECK_INT(layer_send(t.l, "a b", msg), CH_EINVAL);
	CHECK_INT(layer_send(t.l, name, msg), CH_EINVAL);
	CHECK_INT(layer_group_send(t.l, "a!b", msg), CH_EINVAL);
	CHECK_INT(layer_group_add(t.l, "g!", "chan"), CH_EINVAL);
	CHECK_INT(layer_group_add(t.l, "g", "bad chan"), CH_EINVAL);
	CHECK_INT(layer_group_discard(t.l, "g!", "chan"), CH_EINVAL);
	CHECK_INT(layer_group_discard(t.l, "g", "bad chan"), CH_EINVAL);
	CHECK_INT(layer_receiver_add(t.l, "", on_rx, &r), CH_EINVAL);
	CHECK_INT(layer_receiver_remove(t.l, "a b"), CH_EINVAL);
	CHECK_INT(layer_send_threadsafe(t.l, "a b", msg), CH_EINVAL);
	CHECK_INT(layer_group_send_threadsafe(t.l, "a!b", msg), CH_EINVAL);
	CHECK_INT(msg->refcount, 1);
	CHECK_INT(stats(&t).sent, 0);
	json_decref(msg);
	CHECK_STR(layer_backend_name(t.l), bf->name);
	t_finish(&t);
}

void test_messages(const struct backend_factory *bf)
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
		CHECK_INT(layer_send(t.l, "chan", bad[i]), CH_EINVAL);
		CHECK_INT(layer_group_send(t.l, "grp", bad[i]), CH_EINVAL);
		CHECK_INT(layer_send_threadsafe(t.l, "chan", bad[i]), CH_EINVAL);
		CHECK_INT(layer_group_send_threadsafe(t.l, "grp", bad[i]), CH_EINVAL);
		CHECK_INT(bad[i]->refcount, 1);
		json_decref(bad[i]);
	}
	CHECK_INT(layer_send(t.l, "chan", NULL), CH_EINVAL);
	CHECK_INT(layer_group_send(t.l, "grp", NULL), CH_EINVAL);
	ok = json_pack("{s:s, s:{s:[i,i]}}", "type", "x", "nested", "a", 1, 2);
	CHECK_INT(layer_send(t.l, "chan", ok), 0);
	CHECK_INT(layer_group_send(t.l, "grp", ok), 0);
	CHECK_INT(stats(&t).sent, 2);
	json_decref(ok);
	CHECK(strcmp(ch_strerror(CH_ECHANFULL), ch_strerror(CH_EINVAL)) != 0);
	CHECK(ch_strerror(12345) != NULL);
	t_finish(&t);
}

void test_send_receive(const struct backend_factory *bf)
{
	struct rx r = {0};
	struct layer_stats s;
	struct t t;
	json_t *msg;

	fprintf(stderr, "  send/receive\n");
	t_init(&t, bf, NULL);
	cb_depth = cb_max_depth = 0;
	CHECK_INT(layer_receiver_add(t.l, "chan.one", on_rx, &r), 0);
	CHECK_INT(layer_receiver_add(t.l, "chan.one", on_rx, &r), CH_EEXIST);
	CHECK_INT(layer_receiver_remove(t.l, "chan.none"), CH_ENOTFOUND);
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
	CHECK_INT(layer_receiver_remove(t.l, "chan.one"), CH_ENOTFOUND);
	CHECK_INT(stats(&t).receivers, 0);
	rx_release(&r);
	if (bf->shares_sender_msg)
		CHECK_INT(msg->refcount, 1);
	json_decref(msg);
	CHECK_INT(cb_max_depth, 1);
	t_finish(&t);
}

void test_ordering(const struct backend_factory *bf)
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

void test_wait_for_receiver(const struct backend_factory *bf)
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

void test_capacity(const struct backend_factory *bf)
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
	CHECK_INT(layer_send(t.l, "small", m), CH_ECHANFULL);
	CHECK_INT(layer_send(t.l, "small", m), CH_ECHANFULL);
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

void test_expiry(const struct backend_factory *bf)
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
	CHECK_INT(layer_send(t.l, "exp.full", m1), CH_ECHANFULL);
	run_for(&t, 350);
	CHECK_INT(layer_send(t.l, "exp.full", m1), 0);
	json_decref(m1);
	t_finish(&t);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

#define NAMES 2000

/* layer_receiver_name(): the layer's own copy while a receiver is registered. */
void test_receiver_name(const struct backend_factory *bf)
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

void test_new_channel(const struct backend_factory *bf)
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
	CHECK_INT(layer_new_channel(t.l, "bad!", name, sizeof(name)), CH_EINVAL);
	CHECK_INT(layer_new_channel(t.l, "", name, sizeof(name)), CH_EINVAL);
	CHECK_INT(layer_new_channel(t.l, "a b", name, sizeof(name)), CH_EINVAL);
	CHECK_INT(layer_new_channel(t.l, NULL, small, sizeof(small)), CH_EINVAL);
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

void test_defaults(const struct backend_factory *bf)
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
