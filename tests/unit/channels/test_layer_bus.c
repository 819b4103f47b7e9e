/*
 * test_layer_bus.c - the in-memory layer across worker threads: three
 * loops on three threads, each with its layer on one bus. A group message
 * reaches members on every worker (as the same json_t), a send reaches the
 * worker that registered the channel, leaving a group stops its traffic,
 * and everything frees cleanly (ASan/TSan builds). Each other worker gets
 * its own copy of a message (no json_t is shared between threads).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "check.h"
#include "layer.h"

#define W 3

struct worker {
	unsigned index;
	uv_loop_t loop;
	struct layer *layer;
	uv_async_t cmd;  /* run `op` on this worker's thread */
	uv_thread_t thread;
	void (*op)(struct worker *w);
	atomic_int received;
	atomic_int done;
	json_t *last;    /* last message received (a reference) */
	char channel[LAYER_NAME_MAX];
};

static struct layer_bus *bus;
static struct worker workers[W];
static json_t *shared_msg;
/* The second group_send's: worker 2 must not touch the json_t worker 0's
 * queue may still be releasing (jansson's refcount is not for threads). */
static json_t *second_msg;

static void on_msg(void *ud, const char *channel, json_t *msg)
{
	struct worker *w = ud;
	(void)channel;
	json_decref(w->last);
	w->last = json_incref(msg);
	atomic_fetch_add(&w->received, 1);
}

static void on_cmd(uv_async_t *a)
{
	struct worker *w = a->data;
	void (*op)(struct worker *) = w->op;
	w->op = NULL;
	if (op)
		op(w);
	atomic_fetch_add(&w->done, 1);
}

static void thread_main(void *arg)
{
	struct worker *w = arg;
	uv_run(&w->loop, UV_RUN_DEFAULT);
}

/* Runs op on worker i's thread and waits for it. */
static void run_on(unsigned i, void (*op)(struct worker *))
{
	struct worker *w = &workers[i];
	int before = atomic_load(&w->done);
	w->op = op;
	uv_async_send(&w->cmd);
	while (atomic_load(&w->done) == before)
		uv_sleep(1);
}

static bool wait_received(unsigned i, int n)
{
	for (int t = 0; t < 2000; t++) {
		if (atomic_load(&workers[i].received) >= n)
			return true;
		uv_sleep(1);
	}
	return false;
}

static void op_join(struct worker *w)
{
	layer_new_channel(w->layer, NULL, w->channel, sizeof(w->channel));
	CHECK_INT(layer_receiver_add(w->layer, w->channel, on_msg, w), 0);
	CHECK_INT(layer_group_add(w->layer, "room", w->channel), 0);
}

static void op_group_send(struct worker *w)
{
	CHECK_INT(layer_group_send(w->layer, "room", shared_msg), 0);
}

static void op_group_send_second(struct worker *w)
{
	CHECK_INT(layer_group_send(w->layer, "room", second_msg), 0);
}

static void op_leave(struct worker *w)
{
	CHECK_INT(layer_group_discard(w->layer, "room", w->channel), 0);
}

static void op_send_to_2(struct worker *w)
{
	json_t *m = json_pack("{s:s}", "type", "direct");
	CHECK_INT(layer_send(w->layer, workers[2].channel, m), 0);
	json_decref(m);
}

static void op_stop(struct worker *w)
{
	layer_free(w->layer);
	w->layer = NULL;
	json_decref(w->last);
	w->last = NULL;
	uv_close((uv_handle_t *)&w->cmd, NULL);
}

int main(void)
{
	bus = layer_bus_new(W);
	CHECK(bus != NULL);
	CHECK(layer_bus_new(0) == NULL);
	CHECK(layer_bus_new(65) == NULL);
	for (unsigned i = 0; i < W; i++) {
		struct worker *w = &workers[i];
		w->index = i;
		uv_loop_init(&w->loop);
		w->layer = layer_bus_memory_new(bus, i, &w->loop, NULL);
		CHECK(w->layer != NULL);
		uv_async_init(&w->loop, &w->cmd, on_cmd);
		w->cmd.data = w;
		uv_thread_create(&w->thread, thread_main, w);
	}
	for (unsigned i = 0; i < W; i++)
		run_on(i, op_join);

	/* One group_send from worker 0 reaches every worker: worker 0's members
	 * get the sender's json_t, the others an equal copy of their own. */
	shared_msg = json_pack("{s:s,s:i}", "type", "room.message", "n", 1);
	second_msg = json_pack("{s:s,s:i}", "type", "room.message", "n", 2);
	run_on(0, op_group_send);
	for (unsigned i = 0; i < W; i++) {
		CHECK(wait_received(i, 1));
		CHECK(json_equal(workers[i].last, shared_msg));
		CHECK(i == 0 ? workers[i].last == shared_msg : workers[i].last != shared_msg);
	}
	/* Worker 1 leaves: the next message reaches 0 and 2 only. */
	run_on(1, op_leave);
	run_on(2, op_group_send_second);
	CHECK(wait_received(0, 2));
	CHECK(wait_received(2, 2));
	uv_sleep(50);
	CHECK_INT(atomic_load(&workers[1].received), 1);
	/* A send to worker 2's channel from worker 1 reaches worker 2 only. */
	run_on(1, op_send_to_2);
	CHECK(wait_received(2, 3));
	CHECK_STR(json_string_value(json_object_get(workers[2].last, "type")), "direct");
	uv_sleep(50);
	CHECK_INT(atomic_load(&workers[0].received), 2);

	for (unsigned i = 0; i < W; i++) {
		run_on(i, op_stop);
		uv_thread_join(&workers[i].thread);
		uv_run(&workers[i].loop, UV_RUN_DEFAULT);
		CHECK_INT(uv_loop_close(&workers[i].loop), 0);
	}
	json_decref(shared_msg);
	json_decref(second_msg);
	layer_bus_free(bus);
	return check_finish();
}
