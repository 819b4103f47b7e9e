/*
 * test_broadcast.c - the broadcast fast path: a layer message sent on by
 * consumer_send_json()/consumer_forward_json() from its handler is encoded
 * once and the same struct consumer_frame is handed to every transport;
 * anything else is encoded per connection. And the slow consumer: a
 * transport refusing with CH_EQUEUE makes the consumer close 1013.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_transport.h"

#define N 50

static int handler_calls;
static int last_rc;
static int bad_rc; /* handler sends that returned neither 0 nor CH_EQUEUE */

static void note_rc(int rc)
{
	last_rc = rc;
	if (rc != 0 && rc != CH_EQUEUE)
		bad_rc++;
}

static void h_send(struct consumer *c, json_t *msg)
{
	handler_calls++;
	note_rc(consumer_send_json(c, msg));
}

static const char *const fwd_fields[] = {"message", "username", NULL};

static void h_forward(struct consumer *c, json_t *msg)
{
	handler_calls++;
	note_rc(consumer_forward_json(c, msg, fwd_fields));
}

static void h_copy(struct consumer *c, json_t *msg)
{
	json_t *copy = json_deep_copy(msg);

	handler_calls++;
	note_rc(consumer_send_json(c, copy));
	json_decref(copy);
}

static const struct consumer_handler bc_handlers[] = {
	{"bc.send", h_send},
	{"bc.forward", h_forward},
	{"bc.copy", h_copy},
	{NULL, NULL},
};

static const char *const bc_groups[] = {"bc", NULL};

static const struct consumer_class bc_class = {
	.name = "Broadcast",
	.json = true,
	.groups = bc_groups,
	.handlers = bc_handlers,
};

static struct fake_conn conns[N];

static void open_all(struct test_env *e, int n)
{
	memset(conns, 0, sizeof(conns));
	for (int i = 0; i < n; i++) {
		fake_open(&conns[i], &bc_class, NULL, e);
		CHECK(conns[i].res.accepted);
	}
	handler_calls = 0;
	bad_rc = 0;
}

static void close_all(int n)
{
	for (int i = 0; i < n; i++) {
		fake_end(&conns[i], 1000);
		fake_clear(&conns[i]);
	}
}

static json_t *bc_msg(const char *type)
{
	return json_pack("{s:s,s:s,s:s,s:i}", "type", type, "message", "hi", "username", "alice",
			 "extra", 42);
}

/* Every connection got exactly `frames` frames; the frames at index `i`
 * are one shared pointer (`shared`) or all distinct (!shared). */
static void check_frames(int frames, int i, bool shared)
{
	int same = 0;

	for (int k = 0; k < N; k++)
		CHECK_INT(conns[k].nframes, frames);
	if (conns[0].nframes <= i)
		return;
	for (int k = 1; k < N; k++)
		if (conns[k].nframes > i && conns[k].frames[i] == conns[0].frames[i])
			same++;
	if (shared) {
		CHECK_INT(same, N - 1);
		/* Our N references, plus at most the framework's cache. */
		CHECK(conns[0].frames[i]->refs >= N && conns[0].frames[i]->refs <= N + 1);
	} else {
		CHECK_INT(same, 0);
		CHECK_INT(conns[0].frames[i]->refs, 1);
	}
}

/* Opens N members of group "bc", sends them one message of `type` and runs
 * the loop: every member's handler ran, no send failed. Returns the message
 * when `keep` (the caller drops it), else drops it before the loop runs. */
static json_t *send_to_all(struct test_env *e, const char *type, bool keep)
{
	open_all(e, N);
	json_t *m = bc_msg(type);
	CHECK_INT(layer_group_send(e->layer, "bc", m), 0);
	if (!keep) {
		json_decref(m);
		m = NULL;
	}
	env_spin(e, 2);
	CHECK_INT(handler_calls, N);
	CHECK_INT(bad_rc, 0);
	return m;
}

static void test_send_json_shared(void)
{
	struct test_env e;

	env_init(&e);
	json_t *m = send_to_all(&e, "bc.send", true);
	check_frames(1, 0, true);
	json_t *got = fake_json(&conns[N - 1], 0);
	CHECK(json_equal(got, m));
	json_decref(got);
	json_decref(m);

	struct layer_stats st;
	layer_get_stats(e.layer, &st);
	CHECK_INT(st.delivered, N);
	close_all(N);
	ENV_FINISH(&e);
}

static void test_forward_json_shared(void)
{
	struct test_env e;

	env_init(&e);
	send_to_all(&e, "bc.forward", false);
	check_frames(1, 0, true);
	json_t *got = fake_json(&conns[7], 0);
	CHECK_INT(json_object_size(got), 2);
	CHECK_STR(json_string_value(json_object_get(got, "message")), "hi");
	CHECK_STR(json_string_value(json_object_get(got, "username")), "alice");
	CHECK(json_object_get(got, "type") == NULL);
	json_decref(got);
	close_all(N);
	ENV_FINISH(&e);
}

static void test_non_layer_object_not_shared(void)
{
	struct test_env e;

	env_init(&e);
	json_t *m = send_to_all(&e, "bc.copy", true);
	check_frames(1, 0, false);
	json_t *got = fake_json(&conns[3], 0);
	CHECK(json_equal(got, m));
	json_decref(got);
	json_decref(m);

	/* Outside any dispatch, sending the same object twice is two frames. */
	json_t *o = json_pack("{s:i}", "n", 1);
	CHECK_INT(consumer_send_json(conns[0].c, o), 0);
	CHECK_INT(consumer_send_json(conns[1].c, o), 0);
	CHECK(conns[0].frames[1] != conns[1].frames[1]);
	json_decref(o);
	close_all(N);
	ENV_FINISH(&e);
}

/* Two group messages in one loop turn (a busy room): each is still encoded
 * once, as the header promises ("shared by every connection it is sent to
 * in this batch"). */
static void test_two_messages_one_batch(void)
{
	struct test_env e;

	env_init(&e);
	open_all(&e, N);
	json_t *m1 = bc_msg("bc.send");
	json_t *m2 = json_pack("{s:s,s:s}", "type", "bc.send", "message", "second");
	CHECK_INT(layer_group_send(e.layer, "bc", m1), 0);
	CHECK_INT(layer_group_send(e.layer, "bc", m2), 0);
	json_decref(m1);
	json_decref(m2);
	env_spin(&e, 2);
	CHECK_INT(handler_calls, 2 * N);
	CHECK_INT(bad_rc, 0);
	check_frames(2, 0, true);
	check_frames(2, 1, true);
	json_t *got = fake_json(&conns[N / 2], 1);
	CHECK_STR(json_string_value(json_object_get(got, "message")), "second");
	json_decref(got);
	close_all(N);
	ENV_FINISH(&e);
}

/* The cache lives as long as the delivery round that filled it: once the
 * layer delivered (no end-of-turn call from anybody), the only references
 * left to the message are the sender's, and to the frame the members'. */
static void test_cache_ends_with_round(void)
{
	struct test_env e;

	env_init(&e);
	open_all(&e, N);
	json_t *m = bc_msg("bc.send");
	CHECK_INT(layer_group_send(e.layer, "bc", m), 0);
	layer_deliver(e.layer);
	CHECK_INT(handler_calls, N);
	CHECK_INT(m->refcount, 1);
	CHECK(conns[0].nframes == 1);
	if (conns[0].nframes == 1)
		CHECK_INT(conns[0].frames[0]->refs, N);
	json_decref(m);
	close_all(N);
	ENV_FINISH(&e);
}

/* ---- slow consumers ---- */

static void test_equeue_closes_1013(void)
{
	struct test_env e;
	struct fake_conn fc = {0};

	env_init(&e);
	fake_open(&fc, &bc_class, NULL, &e);
	fc.send_rc = CH_EQUEUE;
	CHECK_INT(consumer_send_text(fc.c, "x", 1), CH_EQUEUE);
	CHECK_INT(fc.send_calls, 1);
	CHECK_INT(fc.nframes, 0);
	CHECK_INT(fc.closes, 1);
	CHECK_INT(fc.close_code, CLOSE_TRY_AGAIN_LATER);
	/* Closing now: nothing more reaches the transport. */
	CHECK_INT(consumer_send_text(fc.c, "y", 1), CH_ECLOSED);
	CHECK_INT(fc.send_calls, 1);
	CHECK_INT(fc.closes, 1);
	fake_end(&fc, CLOSE_TRY_AGAIN_LATER);
	ENV_FINISH(&e);
}

/* One slow member of a broadcast, whose transport ends the consumer from
 * inside close(): the others still get the shared frame; no crash, no leak. */
static void test_equeue_in_broadcast(void)
{
	struct test_env e;

	env_init(&e);
	open_all(&e, 3);
	conns[1].send_rc = CH_EQUEUE;
	conns[1].close_sync = true;
	json_t *m = bc_msg("bc.send");
	CHECK_INT(layer_group_send(e.layer, "bc", m), 0);
	json_decref(m);
	env_spin(&e, 2);
	CHECK_INT(handler_calls, 3);
	CHECK_INT(bad_rc, 0);
	CHECK_INT(conns[0].nframes, 1);
	CHECK_INT(conns[1].nframes, 0);
	CHECK_INT(conns[2].nframes, 1);
	CHECK(conns[0].nframes == 1 && conns[2].nframes == 1 &&
	      conns[0].frames[0] == conns[2].frames[0]);
	CHECK_INT(conns[1].closes, 1);
	CHECK_INT(conns[1].close_code, CLOSE_TRY_AGAIN_LATER);
	CHECK(conns[1].c == NULL);
	CHECK_INT(consumer_worker_count(e.cw), 2);

	/* The closed one left the group: the next broadcast reaches two. */
	m = bc_msg("bc.send");
	layer_group_send(e.layer, "bc", m);
	json_decref(m);
	env_spin(&e, 2);
	CHECK_INT(handler_calls, 5);
	close_all(3);
	ENV_FINISH(&e);
}

int main(void)
{
	test_send_json_shared();
	test_forward_json_shared();
	test_non_layer_object_not_shared();
	test_two_messages_one_batch();
	test_cache_ends_with_round();
	test_equeue_closes_1013();
	test_equeue_in_broadcast();
	return check_finish();
}
