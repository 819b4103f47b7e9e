/*
 * conformance_groups.c - the channel-layer conformance suite (see
 * test_layer_conformance.c), part 2: groups, fan-out, a full member
 * skipped, group expiry, expired messages leaving groups, flush.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layer_harness.h"

void test_expiry_leaves_groups(const struct backend_factory *bf)
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

void test_groups(const struct backend_factory *bf)
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
	CHECK_INT(layer_group_send(t.l, "no.such.group", NULL), CH_EINVAL);
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

void test_group_fanout(const struct backend_factory *bf)
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

void test_group_skips_full(const struct backend_factory *bf)
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

void test_group_expiry(const struct backend_factory *bf)
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

void test_flush(const struct backend_factory *bf)
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
