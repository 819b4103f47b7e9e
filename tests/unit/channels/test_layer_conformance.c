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
 *
 * This file: the backends and main(), which runs every test in order. The
 * tests: conformance_channels.c, conformance_groups.c,
 * conformance_reentry.c; the harness: layer_harness.c.
 */
#define CHECK_DEFINE_COUNTERS
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
	test_group_discard_all(bf);
	test_input_done(bf);
	test_round_hook(bf);
	return check_finish();
}
