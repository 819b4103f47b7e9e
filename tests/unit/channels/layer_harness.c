/*
 * layer_harness.c - the conformance suite's harness: see layer_harness.h.
 */
#include "layer_harness.h"

#include <stdio.h>

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

void t_init(struct t *t, const struct backend_factory *bf, const struct layer_config *cfg)
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
bool run_until(struct t *t, bool (*cond)(void *), void *arg, unsigned timeout_ms)
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

void run_for(struct t *t, unsigned ms)
{
	run_until(t, NULL, NULL, ms);
}

void t_finish(struct t *t)
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

int cb_depth, cb_max_depth;

void on_rx(void *ud, const char *channel, json_t *msg)
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

void rx_release(struct rx *r)
{
	for (int i = 0; i < r->count && i < RX_KEEP; i++)
		json_decref(r->msgs[i]);
	r->count = 0;
}

long long rx_n(const struct rx *r, int i)
{
	return json_integer_value(json_object_get(r->msgs[i], "n"));
}

const char *rx_type(const struct rx *r, int i)
{
	return json_string_value(json_object_get(r->msgs[i], "type"));
}

bool cond_counts(void *arg)
{
	struct want *w = arg;

	for (int i = 0; i < w->n; i++)
		if (w->rx[i].count < w->count)
			return false;
	return true;
}

/* arg: two receivers; true once either got a message. */
bool cond_any(void *arg)
{
	struct rx **r = arg;

	return r[0]->count + r[1]->count > 0;
}

bool cond_freed(void *arg)
{
	return ((struct t *)arg)->l == NULL;
}

bool wait_count(struct t *t, struct rx *r, int count)
{
	struct want w = {r, 1, count};

	return run_until(t, cond_counts, &w, t->bf->timeout_ms);
}

json_t *msg_new(const char *type, int n)
{
	return json_pack("{s:s, s:i}", "type", type, "n", n);
}

struct layer_stats stats(struct t *t)
{
	struct layer_stats s;

	layer_get_stats(t->l, &s);
	return s;
}

