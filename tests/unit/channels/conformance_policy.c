/*
 * conformance_policy.c - the layer calls that make it the one owner of a
 * concern: layer_group_discard_all() (membership), layer_input_done()
 * (when to deliver) and the delivery-round hook (what receivers keep per
 * round), on every backend.
 */
#include "layer_harness.h"

#include <stdio.h>

void test_group_discard_all(const struct backend_factory *bf)
{
	struct rx r[2] = {{0}};
	struct t t;

	fprintf(stderr, "  group_discard_all\n");
	t_init(&t, bf, NULL);
	CHECK_INT(layer_receiver_add(t.l, "all.a", on_rx, &r[0]), 0);
	CHECK_INT(layer_receiver_add(t.l, "all.b", on_rx, &r[1]), 0);
	const char *groups[3] = {"g.one", "g.two", "g.three"};
	for (int i = 0; i < 3; i++)
		CHECK_INT(layer_group_add(t.l, groups[i], "all.a"), 0);
	CHECK_INT(layer_group_add(t.l, "g.two", "all.b"), 0);
	CHECK_INT(stats(&t).groups, 3);
	CHECK_INT(layer_group_discard_all(t.l, "all.a"), 0);
	CHECK_INT(stats(&t).groups, 1); /* g.two keeps all.b */
	CHECK_INT(layer_group_discard_all(t.l, "all.a"), 0);    /* in no group: ok */
	CHECK_INT(layer_group_discard_all(t.l, "nobody"), 0);   /* unknown channel: ok */
	CHECK_INT(layer_group_discard_all(t.l, "bad name"), CH_EINVAL);
	json_t *m = msg_new("room.message", 1);
	for (int i = 0; i < 3; i++)
		CHECK_INT(layer_group_send(t.l, groups[i], m), 0);
	CHECK(wait_count(&t, &r[1], 1));
	run_for(&t, bf->settle_ms);
	CHECK_INT(r[0].count, 0);
	CHECK_INT(r[1].count, 1);
	/* The receiver stays: a send still reaches it, and it may join again. */
	CHECK_INT(layer_send(t.l, "all.a", m), 0);
	CHECK(wait_count(&t, &r[0], 1));
	CHECK_INT(layer_group_add(t.l, "g.one", "all.a"), 0);
	CHECK_INT(layer_group_send(t.l, "g.one", m), 0);
	CHECK(wait_count(&t, &r[0], 2));
	CHECK_INT(layer_group_discard_all(t.l, "all.a"), 0);
	CHECK_INT(layer_group_discard_all(t.l, "all.b"), 0);
	CHECK_INT(stats(&t).groups, 0);
	json_decref(m);
	for (int i = 0; i < 2; i++)
		rx_release(&r[i]);
	t_finish(&t);
}

/* capacity 8: the layer delivers by itself every 4 units of input. */
void test_input_done(const struct backend_factory *bf)
{
	struct rx r = {0};
	struct layer_config cfg;
	struct t t;

	fprintf(stderr, "  input_done\n");
	layer_config_init(&cfg);
	cfg.capacity = 8;
	t_init(&t, bf, &cfg);
	CHECK_INT(layer_receiver_add(t.l, "in.a", on_rx, &r), 0);
	json_t *m = msg_new("in.message", 1);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(layer_send(t.l, "in.a", m), 0);
		layer_input_done(t.l);
	}
	CHECK_INT(r.count, 0); /* not due yet: delivered on a later turn */
	CHECK_INT(layer_send(t.l, "in.a", m), 0);
	layer_input_done(t.l);
	CHECK_INT(r.count, 4); /* the fourth unit: delivered before it returned */
	/* layer_deliver() starts the count again. */
	CHECK_INT(layer_send(t.l, "in.a", m), 0);
	layer_input_done(t.l);
	layer_deliver(t.l);
	CHECK_INT(r.count, 5);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(layer_send(t.l, "in.a", m), 0);
		layer_input_done(t.l);
	}
	CHECK_INT(r.count, 5);
	/* A burst of 40 sends to one channel of capacity 8, one input unit
	 * each: never full. */
	int full = 0;
	for (int i = 0; i < 40; i++) {
		full += layer_send(t.l, "in.a", m) == CH_ECHANFULL;
		layer_input_done(t.l);
	}
	CHECK_INT(full, 0);
	CHECK(wait_count(&t, &r, 48));
	json_decref(m);
	rx_release(&r);
	t_finish(&t);
}

struct round_seen {
	struct rx *rx;
	int rounds;
	int counts_at_round; /* the members' total when the last round ended */
};

static void on_round(void *ud)
{
	struct round_seen *s = ud;
	s->rounds++;
	s->counts_at_round = s->rx[0].count + s->rx[1].count + s->rx[2].count;
}

void test_round_hook(const struct backend_factory *bf)
{
	struct rx r[3] = {{0}};
	struct round_seen seen = {r, 0, 0};
	struct t t;

	fprintf(stderr, "  delivery-round hook\n");
	t_init(&t, bf, NULL);
	layer_round_hook_set(t.l, on_round, &seen);
	const char *names[3] = {"rnd.a", "rnd.b", "rnd.c"};
	for (int i = 0; i < 3; i++) {
		CHECK_INT(layer_receiver_add(t.l, names[i], on_rx, &r[i]), 0);
		CHECK_INT(layer_group_add(t.l, "rnd", names[i]), 0);
	}
	run_for(&t, bf->settle_ms);
	CHECK_INT(seen.rounds, 0); /* nothing delivered: no round */
	json_t *m = msg_new("rnd.message", 1);
	CHECK_INT(layer_group_send(t.l, "rnd", m), 0);
	CHECK_INT(layer_group_send(t.l, "rnd", m), 0);
	layer_deliver(t.l);
	/* One round delivered both messages to every member, then the hook. */
	CHECK_INT(seen.rounds, 1);
	CHECK_INT(seen.counts_at_round, 6);
	CHECK_INT(layer_send(t.l, "rnd.b", m), 0);
	CHECK(wait_count(&t, &r[1], 3));
	run_for(&t, bf->settle_ms);
	CHECK_INT(seen.rounds, 2); /* the loop's own delivery ends a round too */
	CHECK_INT(seen.counts_at_round, 7);
	/* Removed: no more calls. */
	layer_round_hook_set(t.l, NULL, NULL);
	CHECK_INT(layer_send(t.l, "rnd.b", m), 0);
	layer_deliver(t.l);
	CHECK_INT(r[1].count, 4);
	CHECK_INT(seen.rounds, 2);
	json_decref(m);
	for (int i = 0; i < 3; i++)
		rx_release(&r[i]);
	t_finish(&t);
}
