/*
 * test_layer_bus_send.c - layer_send() (one channel, not a group) between
 * the workers of one process when worker 0 holds the Redis layer
 * (channels-server --redis ... --workers 2): a send from worker 0 to a
 * channel worker 1 registered reaches worker 1, and the reverse, whether
 * Redis is unreachable (a port nobody listens on; always run) or up
 * (CHANNELS_TEST_REDIS_URL, when set). The two layers share one loop, as
 * in test_layer_local_only.c; the bus still hands messages over through
 * the layers' thread-safe queues.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "check.h"
#include "layer.h"

static int received[2];
static char last_type[2][64];

static void on_msg(void *ud, const char *channel, json_t *msg)
{
	int i = (int)(intptr_t)ud;
	(void)channel;
	received[i]++;
	snprintf(last_type[i], sizeof(last_type[i]), "%s",
		 json_string_value(json_object_get(msg, "type")));
}

/* A port of 127.0.0.1 nobody listens on (connects are refused). */
static int closed_port(void)
{
	uv_loop_t loop;
	uv_tcp_t tcp;
	struct sockaddr_in a;
	struct sockaddr_storage got;
	int len = sizeof(got);
	uv_loop_init(&loop);
	uv_tcp_init(&loop, &tcp);
	uv_ip4_addr("127.0.0.1", 0, &a);
	uv_tcp_bind(&tcp, (const struct sockaddr *)&a, 0);
	uv_tcp_getsockname(&tcp, (struct sockaddr *)&got, &len);
	int port = ntohs(((struct sockaddr_in *)&got)->sin_port);
	uv_close((uv_handle_t *)&tcp, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return port;
}

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

static void run_for(uv_loop_t *loop, int ms)
{
	uint64_t end = uv_now(loop) + (uint64_t)ms;
	while (uv_now(loop) < end) {
		uv_run(loop, UV_RUN_NOWAIT);
		uv_sleep(1);
		uv_update_time(loop);
	}
}

/* Runs the loop until worker i received n messages (or 3 s). */
static void run_until(uv_loop_t *loop, int i, int n)
{
	for (int t = 0; t < 3000 && received[i] < n; t++)
		run_for(loop, 1);
}

static void one_case(const char *url, bool up)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	uv_timer_t keep;
	uv_timer_init(&loop, &keep);
	uv_timer_start(&keep, on_tick, 1, 1);
	const char *urls[] = {url};
	struct layer_bus *bus = layer_bus_new(2);
	struct layer_redis_config rcfg = {
		.urls = urls, .n_urls = 1, .bus = bus, .worker = 0, .timeout = 1};
	char err[128] = "";
	struct layer *w0 = layer_redis_new(&loop, NULL, &rcfg, err, sizeof(err));
	struct layer *w1 = layer_bus_memory_new(bus, 1, &loop, NULL);
	CHECK(w0 != NULL && w1 != NULL);
	if (!w0 || !w1)
		return;
	for (int t = 0; t < 300 && up && !layer_connected(w0); t++)
		run_for(&loop, 10);
	CHECK(layer_connected(w0) == up);
	memset(received, 0, sizeof(received));

	char ch0[LAYER_NAME_MAX], ch1[LAYER_NAME_MAX];
	CHECK_INT(layer_new_channel(w0, NULL, ch0, sizeof(ch0)), 0);
	CHECK_INT(layer_new_channel(w1, NULL, ch1, sizeof(ch1)), 0);
	CHECK_INT(layer_receiver_add(w0, ch0, on_msg, (void *)0), 0);
	CHECK_INT(layer_receiver_add(w1, ch1, on_msg, (void *)1), 0);
	run_for(&loop, up ? 100 : 20); /* worker 1's subscription reaches worker 0 */

	json_t *to1 = json_pack("{s:s}", "type", "to.one");
	json_t *to0 = json_pack("{s:s}", "type", "to.zero");
	CHECK_INT(layer_send(w0, ch1, to1), 0);
	CHECK_INT(layer_send(w1, ch0, to0), 0);
	json_decref(to1);
	json_decref(to0);
	run_until(&loop, 0, 1);
	run_until(&loop, 1, 1);
	run_for(&loop, 50);
	CHECK_INT(received[0], 1);
	CHECK_INT(received[1], 1);
	CHECK_STR(last_type[0], "to.zero");
	CHECK_STR(last_type[1], "to.one");

	layer_free(w1);
	layer_free(w0);
	uv_close((uv_handle_t *)&keep, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_INT(uv_loop_close(&loop), 0);
	layer_bus_free(bus);
}

int main(void)
{
	char url[64];
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", closed_port());
	one_case(url, false);
	const char *redis = getenv("CHANNELS_TEST_REDIS_URL");
	if (redis && *redis)
		one_case(redis, true);
	else
		printf("# CHANNELS_TEST_REDIS_URL unset: the case with Redis up is not run\n");
	return check_finish();
}
