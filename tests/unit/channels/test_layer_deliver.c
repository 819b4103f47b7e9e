/*
 * test_layer_deliver.c - layer_deliver(): what is queued reaches the
 * receivers at once (not from inside send), a call from inside a receiver
 * callback does nothing, and with it a sender may queue more than a
 * channel's capacity in one turn without losing any message; the same
 * holds for messages handed over from another thread
 * (layer_group_send_threadsafe), which the layer delivers every half
 * capacity by itself.
 */
#include <stdlib.h>
#include <uv.h>

#include "check.h"
#include "layer.h"

struct rx {
	struct layer *l;
	int got;
	int last_seq;
	bool in_order;
	bool nested; /* call layer_deliver() from the callback */
};

static void on_msg(void *ud, const char *channel, json_t *msg)
{
	struct rx *r = ud;
	(void)channel;
	int seq = (int)json_integer_value(json_object_get(msg, "seq"));
	if (seq != r->last_seq + 1)
		r->in_order = false;
	r->last_seq = seq;
	r->got++;
	if (r->nested)
		layer_deliver(r->l); /* a no-op: we are inside a delivery */
}

static json_t *message(int seq)
{
	return json_pack("{s:s,s:i}", "type", "t.m", "seq", seq);
}

/* A memory layer of capacity 10 on `loop` (initialised here) with a new
 * channel, written into ch[LAYER_NAME_MAX], that `r` receives and that is
 * in group "g". */
static struct layer *open_layer(uv_loop_t *loop, char *ch, struct rx *r)
{
	uv_loop_init(loop);
	struct layer_config cfg;
	layer_config_init(&cfg);
	cfg.capacity = 10;
	struct layer *l = layer_memory_new(loop, &cfg);
	CHECK_INT(layer_new_channel(l, "specific", ch, LAYER_NAME_MAX), 0);
	r->l = l;
	CHECK_INT(layer_receiver_add(l, ch, on_msg, r), 0);
	CHECK_INT(layer_group_add(l, "g", ch), 0);
	return l;
}

static void test_memory(void)
{
	uv_loop_t loop;
	char ch[LAYER_NAME_MAX];
	struct rx r = {.last_seq = -1, .in_order = true, .nested = true};
	struct layer *l = open_layer(&loop, ch, &r);

	/* Without layer_deliver the 11th message of a turn does not fit. */
	for (int i = 0; i < 10; i++) {
		json_t *m = message(i);
		CHECK_INT(layer_send(l, ch, m), 0);
		json_decref(m);
	}
	json_t *m = message(10);
	CHECK_INT(layer_send(l, ch, m), CH_ECHANFULL);
	json_decref(m);
	CHECK_INT(r.got, 0); /* never from inside send */
	layer_deliver(l);
	CHECK_INT(r.got, 10);

	/* 25 group messages in one turn, delivered every 5: none lost. */
	for (int i = 10; i < 35; i++) {
		m = message(i);
		CHECK_INT(layer_group_send(l, "g", m), 0);
		json_decref(m);
		if ((i + 1) % 5 == 0)
			layer_deliver(l);
	}
	CHECK_INT(r.got, 35);
	CHECK(r.in_order);
	layer_deliver(l); /* nothing queued: nothing happens */
	CHECK_INT(r.got, 35);
	uv_run(&loop, UV_RUN_NOWAIT);
	CHECK_INT(r.got, 35);

	layer_free(l);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_INT(uv_loop_close(&loop), 0);
}

struct producer {
	struct layer *l;
	int n;
};

static void produce(void *arg)
{
	struct producer *p = arg;
	for (int i = 0; i < p->n; i++) {
		json_t *m = message(i);
		layer_group_send_threadsafe(p->l, "g", m);
		json_decref(m);
	}
}

static void on_guard(uv_timer_t *t)
{
	uv_stop(t->loop);
}

static void on_poll(uv_timer_t *t)
{
	struct rx *r = t->data;
	if (r->got >= 200)
		uv_stop(t->loop);
}

static void test_threadsafe(void)
{
	uv_loop_t loop;
	char ch[LAYER_NAME_MAX];
	struct rx r = {.last_seq = -1, .in_order = true};
	struct layer *l = open_layer(&loop, ch, &r);

	/* 200 messages from another thread, all queued before the loop runs:
	 * one async callback hands over 20x the capacity. */
	struct producer p = {.l = l, .n = 200};
	uv_thread_t th;
	uv_thread_create(&th, produce, &p);
	uv_thread_join(&th);
	uv_timer_t guard, poll;
	uv_timer_init(&loop, &guard);
	uv_timer_init(&loop, &poll);
	poll.data = &r;
	uv_timer_start(&guard, on_guard, 5000, 0);
	uv_timer_start(&poll, on_poll, 1, 1);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_INT(r.got, 200);
	CHECK(r.in_order);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_close((uv_handle_t *)&poll, NULL);
	layer_free(l);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_INT(uv_loop_close(&loop), 0);
}

int main(void)
{
	test_memory();
	test_threadsafe();
	return check_finish();
}
