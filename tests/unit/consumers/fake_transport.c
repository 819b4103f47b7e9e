/*
 * fake_transport.c - the fake connection and loop/layer environment of the
 * consumer tests (see fake_transport.h).
 */
#include "fake_transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fake_send(void *conn, struct consumer_frame *f)
{
	struct fake_conn *fc = conn;

	fc->send_calls++;
	if (fc->send_rc)
		return fc->send_rc;
	if (fc->nframes == FAKE_MAX_FRAMES) {
		fprintf(stderr, "fake_transport: more than %d frames\n", FAKE_MAX_FRAMES);
		abort();
	}
	fc->frames[fc->nframes++] = consumer_frame_ref(f);
	return 0;
}

static void fake_close(void *conn, int code, const char *reason)
{
	struct fake_conn *fc = conn;

	fc->closes++;
	fc->close_code = code;
	snprintf(fc->reason, sizeof(fc->reason), "%s", reason ? reason : "");
	if (fc->close_sync && fc->c) {
		struct consumer *c = fc->c;

		fc->c = NULL;
		consumer_closed(c, code);
	}
}

const struct consumer_transport fake_transport = {
	.send = fake_send,
	.close = fake_close,
};

struct consumer *fake_open(struct fake_conn *fc, const struct consumer_class *cls,
			   struct consumer_scope *scope, struct test_env *e)
{
	struct consumer_scope empty = {0};

	fc->c = consumer_open(cls, scope ? scope : &empty, e->cw, &fake_transport, fc, &fc->res);
	return fc->c;
}

void fake_end(struct fake_conn *fc, int code)
{
	if (fc->c) {
		struct consumer *c = fc->c;

		fc->c = NULL;
		consumer_closed(c, code);
	}
}

void fake_clear(struct fake_conn *fc)
{
	for (int i = 0; i < fc->nframes; i++)
		consumer_frame_unref(fc->frames[i]);
	fc->nframes = 0;
}

const char *fake_text(struct fake_conn *fc, int i)
{
	if (i < 0 || i >= fc->nframes)
		return NULL;
	return (const char *)consumer_frame_payload(fc->frames[i]);
}

json_t *fake_json(struct fake_conn *fc, int i)
{
	if (i < 0 || i >= fc->nframes)
		return NULL;
	return json_loadb((const char *)consumer_frame_payload(fc->frames[i]), fc->frames[i]->len,
			  0, NULL);
}

void env_init(struct test_env *e)
{
	struct layer_config cfg;

	if (uv_loop_init(&e->loop) != 0)
		abort();
	layer_config_init(&cfg);
	e->layer = layer_memory_new(&e->loop, &cfg);
	if (!e->layer)
		abort();
	e->cw = consumer_worker_new(e->layer);
	if (!e->cw)
		abort();
}

/* Reports a handle left on the loop and closes it (its memory is leaked on
 * purpose: we do not know its owner's close callback). */
static void walk_report(uv_handle_t *h, void *arg)
{
	(void)arg;
	fprintf(stderr, "  left open: %s handle %p%s\n", uv_handle_type_name(h->type), (void *)h,
		uv_is_closing(h) ? " (closing)" : "");
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void env_teardown(struct test_env *e, unsigned *consumers_left, int *loop_close_rc)
{
	*consumers_left = consumer_worker_count(e->cw);
	consumer_worker_free(e->cw);
	e->cw = NULL;
	layer_free(e->layer);
	e->layer = NULL;
	uv_run(&e->loop, UV_RUN_NOWAIT);
	uv_run(&e->loop, UV_RUN_NOWAIT);
	*loop_close_rc = uv_loop_close(&e->loop);
	if (*loop_close_rc != 0) {
		uv_walk(&e->loop, walk_report, NULL);
		uv_run(&e->loop, UV_RUN_NOWAIT);
		uv_loop_close(&e->loop);
	}
}

void env_spin(struct test_env *e, int n)
{
	for (int i = 0; i < n; i++)
		uv_run(&e->loop, UV_RUN_NOWAIT);
}

static void on_deadline(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

void env_run_until(struct test_env *e, const volatile int *flag, int target, uint64_t ms)
{
	uv_timer_t deadline;
	int expired = 0;

	uv_timer_init(&e->loop, &deadline);
	deadline.data = &expired;
	uv_timer_start(&deadline, on_deadline, ms, 0);
	while (!expired && (!flag || *flag < target))
		uv_run(&e->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&deadline, NULL);
	uv_run(&e->loop, UV_RUN_NOWAIT);
}

void env_run_for(struct test_env *e, uint64_t ms)
{
	env_run_until(e, NULL, 0, ms);
}

json_t *msg_new(const char *type, const char *key, const char *value)
{
	json_t *m = json_pack("{s:s}", "type", type);

	if (key)
		json_object_set_new(m, key, json_string(value));
	return m;
}
