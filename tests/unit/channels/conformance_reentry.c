/*
 * conformance_reentry.c - the channel-layer conformance suite (see
 * test_layer_conformance.c), part 3: the layer called from inside its own
 * receive callbacks (remove, send, free), and from other threads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layer_harness.h"

/* Hook: remove this receiver and the peer named in hook_arg. */
static void hook_remove(struct rx *r, json_t *msg)
{
	CHECK_INT(layer_receiver_remove(r->t->l, r->channel), 0);
	layer_receiver_remove(r->t->l, r->hook_arg); /* the peer may be gone already */
}

void test_remove_in_callback(const struct backend_factory *bf)
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
	CHECK_INT(layer_receiver_remove(t.l, "rm.a"), CH_ENOTFOUND);
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

void test_send_in_callback(const struct backend_factory *bf)
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

void test_free_with_pending(const struct backend_factory *bf)
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

void test_threadsafe(const struct backend_factory *bf)
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
	CHECK_INT(arg.bad_rc, CH_EINVAL);
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
