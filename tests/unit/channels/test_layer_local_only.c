/*
 * test_layer_local_only.c - the Redis backend when Redis cannot be reached
 * (a URL nobody listens on; no redis-server needed): a group_send still
 * reaches this process's members, once, and returns CH_ELOCAL; a send to
 * another process's channel returns CH_EUNAVAIL; the same results reach
 * a publisher on another thread through layer_group_send_wait() /
 * layer_send_wait(); another worker's layer on the same bus says ELOCAL
 * too. Everything frees cleanly (ASan/TSan builds).
 */
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "check.h"
#include "layer.h"

static int received[2];

static void on_msg(void *ud, const char *channel, json_t *msg)
{
	(void)channel;
	(void)msg;
	received[(int)(intptr_t)ud]++;
}

struct waiter {
	struct layer *l;
	atomic_int done;
	int group_rc, send_rc;
};

static void waiter_main(void *arg)
{
	struct waiter *w = arg;
	json_t *msg = json_pack("{s:s}", "type", "test.message");
	w->group_rc = layer_group_send_wait(w->l, "g", msg);
	w->send_rc = layer_send_wait(w->l, "asgispecific.elsewhere", msg);
	json_decref(msg);
	atomic_store(&w->done, 1);
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

/* The layer's handles are unref'd (they never keep a loop alive alone): a
 * ref'd timer stands for the server's own handles while the loop runs. */
static void run_for(uv_loop_t *loop, int ms)
{
	uint64_t end = uv_now(loop) + (uint64_t)ms;
	while (uv_now(loop) < end) {
		uv_run(loop, UV_RUN_NOWAIT);
		uv_sleep(1);
		uv_update_time(loop);
	}
}

int main(void)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	uv_timer_t keep;
	uv_timer_init(&loop, &keep);
	uv_timer_start(&keep, on_tick, 1, 1);
	char url[64];
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", closed_port());
	const char *urls[] = {url};
	struct layer_bus *bus = layer_bus_new(2);
	struct layer_redis_config rcfg = {
		.urls = urls, .n_urls = 1, .bus = bus, .worker = 0, .timeout = 1};
	char err[128] = "";
	struct layer *r = layer_redis_new(&loop, NULL, &rcfg, err, sizeof(err));
	struct layer *w1 = layer_bus_memory_new(bus, 1, &loop, NULL);
	CHECK(r != NULL && w1 != NULL);
	if (!r || !w1)
		return check_finish();
	CHECK(strstr(ch_strerror(CH_ELOCAL), "not published beyond") != NULL);
	run_for(&loop, 200); /* the first connects are refused */
	CHECK(!layer_connected(r));

	CHECK_INT(layer_receiver_add(r, "asgispecific.here", on_msg, (void *)0), 0);
	CHECK_INT(layer_group_add(r, "g", "asgispecific.here"), 0);
	CHECK_INT(layer_receiver_add(w1, "asgispecific.there", on_msg, (void *)1), 0);
	CHECK_INT(layer_group_add(w1, "g", "asgispecific.there"), 0);

	json_t *msg = json_pack("{s:s}", "type", "test.message");
	CHECK_INT(layer_group_send(r, "g", msg), CH_ELOCAL);
	CHECK_INT(layer_send(r, "asgispecific.elsewhere", msg), CH_EUNAVAIL);
	CHECK_INT(layer_group_send(w1, "g", msg), CH_ELOCAL);
	CHECK_INT(layer_send(w1, "asgispecific.elsewhere", msg), CH_EUNAVAIL);
	json_decref(msg);
	run_for(&loop, 100);
	/* Each worker's member got both group messages, once each. */
	CHECK_INT(received[0], 2);
	CHECK_INT(received[1], 2);

	/* A publisher on another thread learns the same. */
	struct waiter w = {.l = r};
	uv_thread_t th;
	uv_thread_create(&th, waiter_main, &w);
	while (!atomic_load(&w.done))
		run_for(&loop, 5);
	uv_thread_join(&th);
	CHECK_INT(w.group_rc, CH_ELOCAL);
	CHECK_INT(w.send_rc, CH_EUNAVAIL);
	run_for(&loop, 50);
	CHECK_INT(received[0], 3);
	CHECK_INT(received[1], 3);

	layer_free(w1);
	layer_free(r);
	uv_close((uv_handle_t *)&keep, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_INT(uv_loop_close(&loop), 0);
	layer_bus_free(bus);
	return check_finish();
}
