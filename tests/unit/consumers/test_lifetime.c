/*
 * test_lifetime.c - what a consumer owns and what happens to it at the end:
 * timers, offloaded work, groups joined with consumer_group_add(), and a
 * consumer ended from inside its own callbacks (the transport calling
 * consumer_closed() synchronously from close()).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_transport.h"

static pthread_t main_thread;

static const struct consumer_class plain_class = {
	.name = "Plain",
};

/* ---- timers ---- */

static volatile int fired_a, fired_b, fired_rep;
static struct consumer *fired_with;
static void *fired_arg;

static void cb_a(struct consumer *c, void *arg)
{
	fired_a++;
	fired_with = c;
	fired_arg = arg;
}

static void cb_b(struct consumer *c, void *arg)
{
	(void)c;
	(void)arg;
	fired_b++;
}

static void cb_rep(struct consumer *c, void *arg)
{
	(void)c;
	(void)arg;
	fired_rep++;
}

static void test_timers(void)
{
	struct test_env e;
	struct fake_conn fc = {0};
	int tag;

	env_init(&e);
	fake_open(&fc, &plain_class, NULL, &e);
	fired_a = fired_b = fired_rep = 0;

	int one = consumer_timer_start(fc.c, 5, 0, cb_a, &tag);
	int rep = consumer_timer_start(fc.c, 5, 5, cb_rep, NULL);
	int stopped = consumer_timer_start(fc.c, 5, 0, cb_b, NULL);
	CHECK(one > 0 && rep > 0 && stopped > 0);
	CHECK(one != rep && rep != stopped && one != stopped);
	CHECK_INT(consumer_timer_start(fc.c, 5, 0, NULL, NULL), CH_EINVAL);
	CHECK_INT(consumer_timer_stop(fc.c, stopped), 0);
	CHECK_INT(consumer_timer_stop(fc.c, stopped), CH_EINVAL);
	CHECK_INT(consumer_timer_stop(fc.c, 9999), CH_EINVAL);

	env_run_until(&e, &fired_rep, 4, 2000);
	CHECK(fired_rep >= 4);
	CHECK_INT(fired_a, 1); /* one-shot: once */
	CHECK(fired_with == fc.c);
	CHECK(fired_arg == &tag);
	CHECK_INT(fired_b, 0);
	/* A fired one-shot timer is gone. */
	CHECK_INT(consumer_timer_stop(fc.c, one), CH_EINVAL);

	CHECK_INT(consumer_timer_stop(fc.c, rep), 0);
	int at_stop = fired_rep;
	env_run_for(&e, 40);
	CHECK_INT(fired_rep, at_stop);
	CHECK_INT(fired_a, 1);

	fake_end(&fc, 1000);
	ENV_FINISH(&e);
}

/* A repeating timer never fires after consumer_closed; its handle is closed. */
static void test_timers_cancelled_on_close(void)
{
	struct test_env e;
	struct fake_conn fc = {0};

	env_init(&e);
	fake_open(&fc, &plain_class, NULL, &e);
	fired_a = fired_rep = 0;
	CHECK(consumer_timer_start(fc.c, 2, 2, cb_rep, NULL) > 0);
	CHECK(consumer_timer_start(fc.c, 60000, 0, cb_a, NULL) > 0);
	env_run_until(&e, &fired_rep, 2, 2000);
	CHECK(fired_rep >= 2);
	fake_end(&fc, 1001);
	int at_close = fired_rep;
	env_run_for(&e, 30);
	CHECK_INT(fired_rep, at_close);
	CHECK_INT(fired_a, 0);
	ENV_FINISH(&e); /* uv_loop_close fails if a timer handle was left */
}

/* A timer whose callback closes the connection (synchronously ended). */
static struct fake_conn *self_closer;
static int after_close_send_rc;

static void cb_close_self(struct consumer *c, void *arg)
{
	(void)arg;
	fired_rep++;
	consumer_close(c, 4001, "bye");
	/* The consumer is ended, but stays allocated while its callback runs. */
	after_close_send_rc = consumer_send_text(c, "late", 4);
}

static void test_timer_closes_itself(void)
{
	struct test_env e;
	struct fake_conn fc = {0};

	env_init(&e);
	fake_open(&fc, &plain_class, NULL, &e);
	fc.close_sync = true;
	self_closer = &fc;
	fired_rep = 0;
	after_close_send_rc = 0;
	CHECK(consumer_timer_start(fc.c, 1, 1, cb_close_self, NULL) > 0);
	CHECK(consumer_timer_start(fc.c, 1, 1, cb_rep, NULL) > 0);
	env_run_until(&e, &fired_rep, 1, 2000);
	env_run_for(&e, 20);
	CHECK(fc.c == NULL);
	CHECK_INT(fc.closes, 1);
	CHECK_INT(fc.close_code, 4001);
	CHECK_INT(after_close_send_rc, CH_ECLOSED);
	CHECK_INT(fc.nframes, 0);
	CHECK(fired_rep <= 2); /* the other timer fired at most in the same loop turn */
	int at_end = fired_rep;
	env_run_for(&e, 20);
	CHECK_INT(fired_rep, at_end);
	CHECK_INT(consumer_worker_count(e.cw), 0);
	ENV_FINISH(&e);
}

/* ---- offload ---- */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;

struct job_rec {
	pthread_t work_thread;
	pthread_t done_thread;
	struct consumer *done_c;
	int works;
	volatile int dones;
	bool wait_gate;
};

static void work_fn(void *arg)
{
	struct job_rec *j = arg;

	j->work_thread = pthread_self();
	if (j->wait_gate) {
		pthread_mutex_lock(&gate_lock);
		while (!gate_open)
			pthread_cond_wait(&gate_cond, &gate_lock);
		pthread_mutex_unlock(&gate_lock);
	}
	j->works++;
}

static void done_fn(struct consumer *c, void *arg)
{
	struct job_rec *j = arg;

	j->done_thread = pthread_self();
	j->done_c = c;
	j->dones++;
}

static void test_offload(void)
{
	struct test_env e;
	struct fake_conn fc = {0};
	struct job_rec j = {0};

	env_init(&e);
	fake_open(&fc, &plain_class, NULL, &e);
	CHECK_INT(consumer_offload(fc.c, NULL, done_fn, &j), CH_EINVAL);
	CHECK_INT(consumer_offload(fc.c, work_fn, NULL, &j), CH_EINVAL);
	CHECK_INT(consumer_offload(fc.c, work_fn, done_fn, &j), 0);
	CHECK_INT(j.dones, 0);
	env_run_until(&e, &j.dones, 1, 5000);
	CHECK_INT(j.works, 1);
	CHECK_INT(j.dones, 1);
	CHECK(!pthread_equal(j.work_thread, main_thread));
	CHECK(pthread_equal(j.done_thread, main_thread));
	CHECK(j.done_c == fc.c);
	fake_end(&fc, 1000);
	env_run_for(&e, 5);
	CHECK_INT(j.dones, 1);
	ENV_FINISH(&e);
}

static void test_offload_orphaned(void)
{
	struct test_env e;
	struct fake_conn fc = {0};
	struct job_rec j = {0};

	env_init(&e);
	fake_open(&fc, &plain_class, NULL, &e);
	gate_open = false;
	j.wait_gate = true;
	j.done_c = (struct consumer *)&j; /* not NULL: done must set it */
	CHECK_INT(consumer_offload(fc.c, work_fn, done_fn, &j), 0);
	env_spin(&e, 1);
	fake_end(&fc, 1006);
	CHECK_INT(j.dones, 0);
	pthread_mutex_lock(&gate_lock);
	gate_open = true;
	pthread_cond_signal(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	env_run_until(&e, &j.dones, 1, 5000);
	env_run_for(&e, 10);
	CHECK_INT(j.works, 1);
	CHECK_INT(j.dones, 1);
	CHECK(j.done_c == NULL);
	CHECK(pthread_equal(j.done_thread, main_thread));
	ENV_FINISH(&e);
}

/* ---- on_disconnect and groups ---- */

static int disconnects, disconnect_code, member_msgs;

static void grp_connect(struct consumer *c)
{
	consumer_accept(c, NULL);
	consumer_group_add(c, "room");
	consumer_group_add(c, "room"); /* twice: still one membership */
	consumer_group_add(c, "other");
}

static void grp_disconnect(struct consumer *c, int code)
{
	disconnects++;
	disconnect_code = code;
	/* Still valid here; sending is refused as the connection is closing. */
	CHECK(consumer_state(c) != NULL);
	CHECK_INT(consumer_send_text(c, "x", 1), CH_ECLOSED);
}

static void grp_msg(struct consumer *c, json_t *msg)
{
	(void)c;
	(void)msg;
	member_msgs++;
}

static const struct consumer_handler grp_handlers[] = {
	{"room.msg", grp_msg},
	{NULL, NULL},
};

static const struct consumer_class grp_class = {
	.name = "Groups",
	.state_size = 8,
	.on_connect = grp_connect,
	.on_disconnect = grp_disconnect,
	.handlers = grp_handlers,
};

static void test_disconnect_leaves_groups(void)
{
	struct test_env e;
	struct fake_conn a = {0}, b = {0};
	struct layer_stats st;

	env_init(&e);
	disconnects = member_msgs = 0;
	fake_open(&a, &grp_class, NULL, &e);
	fake_open(&b, &grp_class, NULL, &e);
	CHECK(a.res.accepted && b.res.accepted);

	json_t *m = msg_new("room.msg", NULL, NULL);
	CHECK_INT(layer_group_send(e.layer, "room", m), 0);
	env_spin(&e, 2);
	CHECK_INT(member_msgs, 2); /* one each, despite the double add */

	/* Discarded explicitly: b no longer gets "other". */
	CHECK_INT(consumer_group_discard(b.c, "other"), 0);
	CHECK_INT(consumer_group_discard(b.c, "never-joined"), 0);
	CHECK_INT(consumer_group_add(b.c, "bad name!"), CH_EINVAL);

	fake_end(&a, 4321);
	CHECK_INT(disconnects, 1);
	CHECK_INT(disconnect_code, 4321);
	member_msgs = 0;
	layer_get_stats(e.layer, &st);
	unsigned long long delivered = st.delivered;
	CHECK_INT(layer_group_send(e.layer, "room", m), 0);
	CHECK_INT(layer_group_send(e.layer, "other", m), 0);
	env_spin(&e, 2);
	CHECK_INT(member_msgs, 1); /* b only */
	layer_get_stats(e.layer, &st);
	CHECK_INT(st.delivered - delivered, 1);
	CHECK_INT(st.groups, 1); /* "room" with b; "other" is empty */

	fake_end(&b, 1000);
	CHECK_INT(disconnects, 2);
	layer_get_stats(e.layer, &st);
	CHECK_INT(st.groups, 0);
	CHECK_INT(st.receivers, 0);
	member_msgs = 0;
	CHECK_INT(layer_group_send(e.layer, "room", m), 0);
	env_spin(&e, 2);
	CHECK_INT(member_msgs, 0);
	json_decref(m);
	ENV_FINISH(&e);
}

/* ---- ended from inside its own callbacks ---- */

static int closer_disconnects, closer_code;
static int late_rc_handler, late_rc_receive, late_rc_done;

static void closer_disconnect(struct consumer *c, int code)
{
	(void)c;
	closer_disconnects++;
	closer_code = code;
}

static void closer_msg(struct consumer *c, json_t *msg)
{
	(void)msg;
	consumer_group_add(c, "closers-extra");
	consumer_close(c, 4002, NULL);
	late_rc_handler = consumer_send_json(c, msg);
}

static void closer_receive(struct consumer *c, const char *data, size_t len, bool binary)
{
	(void)data;
	(void)len;
	(void)binary;
	consumer_close(c, 4003, "from receive");
	late_rc_receive = consumer_send_text(c, "late", 4);
}

static void closer_done(struct consumer *c, void *arg)
{
	struct job_rec *j = arg;

	j->dones++;
	j->done_c = c;
	if (c) {
		consumer_close(c, 4004, NULL);
		late_rc_done = consumer_send_text(c, "late", 4);
	}
}

static void noop_work(void *arg)
{
	(void)arg;
}

static const struct consumer_handler closer_handlers[] = {
	{"close.me", closer_msg},
	{NULL, NULL},
};

static const char *const closer_groups[] = {"closers", NULL};

static const struct consumer_class closer_class = {
	.name = "Closer",
	.state_size = 16,
	.groups = closer_groups,
	.on_receive = closer_receive,
	.on_disconnect = closer_disconnect,
	.handlers = closer_handlers,
};

static void test_closed_inside_callbacks(void)
{
	struct test_env e;
	struct fake_conn a = {0}, b = {0}, d = {0};
	struct job_rec j = {0};
	struct layer_stats st;

	env_init(&e);
	closer_disconnects = 0;

	/* From a layer message handler, with a second message already queued. */
	fake_open(&a, &closer_class, NULL, &e);
	a.close_sync = true;
	json_t *m = msg_new("close.me", NULL, NULL);
	CHECK_INT(layer_send(e.layer, consumer_channel_name(a.c), m), 0);
	CHECK_INT(layer_send(e.layer, consumer_channel_name(a.c), m), 0);
	json_decref(m);
	env_spin(&e, 3);
	CHECK(a.c == NULL);
	CHECK_INT(a.closes, 1);
	CHECK_INT(a.close_code, 4002);
	CHECK_INT(closer_disconnects, 1);
	CHECK_INT(closer_code, 4002);
	CHECK_INT(late_rc_handler, CH_ECLOSED);
	CHECK_INT(consumer_worker_count(e.cw), 0);
	layer_get_stats(e.layer, &st);
	CHECK_INT(st.groups, 0); /* also the group added in the handler */

	/* From on_receive. */
	fake_open(&b, &closer_class, NULL, &e);
	b.close_sync = true;
	consumer_receive(b.c, "x", 1, false);
	CHECK(b.c == NULL);
	CHECK_INT(b.close_code, 4003);
	CHECK_INT(closer_disconnects, 2);
	CHECK_INT(late_rc_receive, CH_ECLOSED);
	CHECK_INT(consumer_worker_count(e.cw), 0);

	/* From an offload's done. */
	fake_open(&d, &closer_class, NULL, &e);
	d.close_sync = true;
	CHECK_INT(consumer_offload(d.c, noop_work, closer_done, &j), 0);
	env_run_until(&e, &j.dones, 1, 5000);
	CHECK_INT(j.dones, 1);
	CHECK(d.c == NULL);
	CHECK_INT(d.close_code, 4004);
	CHECK_INT(closer_disconnects, 3);
	CHECK_INT(late_rc_done, CH_ECLOSED);

	/* A slow consumer ended synchronously by a send outside any callback. */
	struct fake_conn s = {0};
	fake_open(&s, &closer_class, NULL, &e);
	s.close_sync = true;
	s.send_rc = CH_EQUEUE;
	CHECK_INT(consumer_send_text(s.c, "x", 1), CH_EQUEUE);
	CHECK(s.c == NULL);
	CHECK_INT(closer_disconnects, 4);
	CHECK_INT(closer_code, CLOSE_TRY_AGAIN_LATER);

	/* A consumer ended with consumer_close() outside any callback. */
	struct fake_conn o = {0};
	fake_open(&o, &closer_class, NULL, &e);
	o.close_sync = true;
	CHECK_INT(consumer_close(o.c, 0, NULL), 0);
	CHECK(o.c == NULL);
	CHECK_INT(o.close_code, CLOSE_NORMAL); /* 0 means 1000 */
	CHECK_INT(closer_disconnects, 5);

	CHECK_INT(consumer_worker_count(e.cw), 0);
	ENV_FINISH(&e);
}

int main(void)
{
	main_thread = pthread_self();
	test_timers();
	test_timers_cancelled_on_close();
	test_timer_closes_itself();
	test_offload();
	test_offload_orphaned();
	test_disconnect_leaves_groups();
	test_closed_inside_callbacks();
	return check_finish();
}
