/*
 * consumer_timer.c - a consumer's timers: uv timers on its loop, released
 * with it (their callbacks never see a closed consumer).
 */
#include "consumer_int.h"

#include <stdlib.h>

struct timer {
	uv_timer_t handle; /* first: the close callback casts back */
	struct timer *next;
	struct consumer *c; /* NULL once the consumer is gone */
	int id;
	consumer_timer_cb cb;
	void *arg;
};

static void on_timer_closed(uv_handle_t *h)
{
	free(h); /* struct timer starts with its handle */
}

static void timer_release(struct timer *t)
{
	uv_timer_stop(&t->handle);
	t->c = NULL;
	uv_close((uv_handle_t *)&t->handle, on_timer_closed);
}

static void on_timer(uv_timer_t *h)
{
	struct timer *t = (struct timer *)h;
	struct consumer *c = t->c;
	if (!c)
		return;
	bool one_shot = uv_timer_get_repeat(h) == 0;
	consumer__enter(c);
	t->cb(c, t->arg);
	if (!consumer__leave(c))
		return; /* freed; its timers were released */
	if (one_shot && t->c) {
		/* Unlink and release a one-shot timer that has fired. */
		for (struct timer **pp = &c->extra->timers; *pp; pp = &(*pp)->next) {
			if (*pp == t) {
				*pp = t->next;
				timer_release(t);
				break;
			}
		}
	}
}

int consumer_timer_start(struct consumer *c, uint64_t timeout_ms, uint64_t repeat_ms,
			 consumer_timer_cb cb, void *arg)
{
	if (c->state == CONSUMER__ST_GONE || c->state == CONSUMER__ST_REJECTED)
		return CH_ECLOSED;
	if (!cb)
		return CH_EINVAL;
	struct consumer_extra *x = consumer__extra(c);
	struct timer *t = x ? calloc(1, sizeof(*t)) : NULL;
	if (!t)
		return CH_ENOMEM;
	uv_timer_init(layer_loop(c->layer), &t->handle);
	t->c = c;
	t->cb = cb;
	t->arg = arg;
	t->id = ++x->next_timer_id;
	t->next = x->timers;
	x->timers = t;
	uv_timer_start(&t->handle, on_timer, timeout_ms, repeat_ms);
	return t->id;
}

int consumer_timer_stop(struct consumer *c, int id)
{
	for (struct timer **pp = c->extra ? &c->extra->timers : NULL; pp && *pp;
	     pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			struct timer *t = *pp;
			*pp = t->next;
			timer_release(t);
			return 0;
		}
	}
	return CH_EINVAL;
}


void consumer__timers_release(struct consumer_extra *x)
{
	while (x->timers) {
		struct timer *t = x->timers;
		x->timers = t->next;
		timer_release(t);
	}
}
