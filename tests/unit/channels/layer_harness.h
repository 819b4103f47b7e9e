/*
 * layer_harness.h - the harness of the channel-layer conformance suite:
 * the backend factory description, a uv loop per test with "run until"
 * waits guarded by a timer, and counting receivers. Static functions:
 * included by exactly one test file (check.h's counters are per file).
 */
#ifndef TESTS_UNIT_CHANNELS_LAYER_HARNESS_H
#define TESTS_UNIT_CHANNELS_LAYER_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "check.h"
#include "layer.h"

struct backend_factory {
	const char *name;
	struct layer *(*make)(uv_loop_t *loop, const struct layer_config *cfg);
	bool has_capacity;            /* ECHANFULL is enforced per channel */
	bool has_expiry;              /* queued messages expire after cfg.expiry */
	bool has_group_expiry;        /* memberships expire after cfg.group_expiry */
	bool expiry_leaves_groups;    /* an expired unread message removes its channel from
				       * all groups (Channels' InMemoryChannelLayer) */
	bool queues_without_receiver; /* a message waits for a later receiver */
	bool shares_sender_msg;       /* receivers get the very json_t that was sent */
	bool bang_channel_names;      /* new_channel() gives "<prefix>.<tag>!<random>" */
	unsigned timeout_ms;          /* how long a positive wait may take */
	unsigned settle_ms;           /* how long to wait to assert that nothing arrives */
	const char *needs_env;        /* if set, the test is skipped (77) when this
				       * environment variable is unset (e.g. a Redis URL) */
};

/* ---- harness ---------------------------------------------------------- */

struct t {
	uv_loop_t loop;
	struct layer *l;
	const struct backend_factory *bf;
	uv_timer_t guard;     /* ends a wait that took too long */
	uv_prepare_t prepare; /* checks the wait's condition before each poll */
	bool (*cond)(void *);
	void *cond_arg;
	bool timed_out;
	int base_handles; /* the layer's own, counted right after creation */
};

static void count_cb(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		(*(int *)arg)++;
}

static int count_handles(uv_loop_t *loop)
{
	int n = 0;

	uv_walk(loop, count_cb, &n);
	return n;
}

static void t_init(struct t *t, const struct backend_factory *bf, const struct layer_config *cfg)
{
	memset(t, 0, sizeof(*t));
	t->bf = bf;
	uv_loop_init(&t->loop);
	t->l = bf->make(&t->loop, cfg);
	CHECK(t->l != NULL);
	t->base_handles = count_handles(&t->loop);
	uv_timer_init(&t->loop, &t->guard);
	uv_prepare_init(&t->loop, &t->prepare);
	t->guard.data = t;
	t->prepare.data = t;
}

static void on_guard(uv_timer_t *h)
{
	struct t *t = h->data;

	t->timed_out = true;
	uv_stop(&t->loop);
}

static void on_prepare(uv_prepare_t *h)
{
	struct t *t = h->data;

	if (t->cond && t->cond(t->cond_arg))
		uv_stop(&t->loop);
}

/* Runs the loop until cond(arg) holds (true) or timeout_ms passed (false).
 * With cond NULL, just runs for timeout_ms. */
static bool run_until(struct t *t, bool (*cond)(void *), void *arg, unsigned timeout_ms)
{
	if (cond && cond(arg))
		return true;
	t->cond = cond;
	t->cond_arg = arg;
	t->timed_out = false;
	uv_timer_start(&t->guard, on_guard, timeout_ms, 0);
	if (cond)
		uv_prepare_start(&t->prepare, on_prepare);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	uv_timer_stop(&t->guard);
	uv_prepare_stop(&t->prepare);
	t->cond = NULL;
	return cond ? cond(arg) : true;
}

static void run_for(struct t *t, unsigned ms)
{
	run_until(t, NULL, NULL, ms);
}

static void t_finish(struct t *t)
{
	uv_close((uv_handle_t *)&t->guard, NULL);
	uv_close((uv_handle_t *)&t->prepare, NULL);
	/* Nothing but the layer's own handles is left open (closing ones are
	 * not counted). The loop does not run before layer_free(), so whatever
	 * is still queued is dropped, not delivered. */
	CHECK_INT(count_handles(&t->loop), t->l ? t->base_handles : 0);
	layer_free(t->l);
	t->l = NULL;
	uv_run(&t->loop, UV_RUN_NOWAIT);
	CHECK_INT(uv_loop_close(&t->loop), 0);
}

/* ---- receivers -------------------------------------------------------- */

#define RX_KEEP 64

static int cb_depth, cb_max_depth;

struct rx {
	struct t *t;
	int count;
	json_t *msgs[RX_KEEP]; /* own references to the first RX_KEEP messages */
	char channel[LAYER_NAME_MAX];
	void (*hook)(struct rx *r, json_t *msg); /* optional, runs inside the callback */
	void *hook_arg;
};

static void on_rx(void *ud, const char *channel, json_t *msg)
{
	struct rx *r = ud;

	if (++cb_depth > cb_max_depth)
		cb_max_depth = cb_depth;
	if (r->count < RX_KEEP)
		r->msgs[r->count] = json_incref(msg);
	r->count++;
	snprintf(r->channel, sizeof(r->channel), "%s", channel);
	if (r->hook)
		r->hook(r, msg);
	cb_depth--;
}

static void rx_release(struct rx *r)
{
	for (int i = 0; i < r->count && i < RX_KEEP; i++)
		json_decref(r->msgs[i]);
	r->count = 0;
}

static long long rx_n(const struct rx *r, int i)
{
	return json_integer_value(json_object_get(r->msgs[i], "n"));
}

static const char *rx_type(const struct rx *r, int i)
{
	return json_string_value(json_object_get(r->msgs[i], "type"));
}

/* Conditions for run_until(). */
struct want {
	struct rx *rx;
	int n;      /* number of receivers in rx[] */
	int count;  /* each must have at least this many */
};

static bool cond_counts(void *arg)
{
	struct want *w = arg;

	for (int i = 0; i < w->n; i++)
		if (w->rx[i].count < w->count)
			return false;
	return true;
}

/* arg: two receivers; true once either got a message. */
static bool cond_any(void *arg)
{
	struct rx **r = arg;

	return r[0]->count + r[1]->count > 0;
}

static bool cond_freed(void *arg)
{
	return ((struct t *)arg)->l == NULL;
}

static bool wait_count(struct t *t, struct rx *r, int count)
{
	struct want w = {r, 1, count};

	return run_until(t, cond_counts, &w, t->bf->timeout_ms);
}

static json_t *msg_new(const char *type, int n)
{
	return json_pack("{s:s, s:i}", "type", type, "n", n);
}

static struct layer_stats stats(struct t *t)
{
	struct layer_stats s;

	layer_get_stats(t->l, &s);
	return s;
}

#endif
