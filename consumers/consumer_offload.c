/*
 * consumer_offload.c - blocking work on libuv's thread pool, its
 * completion delivered on the consumer's loop, or with a NULL consumer once
 * the consumer closed meanwhile.
 */
#include "consumer_int.h"

#include <stdlib.h>

struct job {
	uv_work_t req;
	struct job *next;
	struct consumer *c; /* NULL once the consumer is gone */
	consumer_work_cb work;
	consumer_done_cb done;
	void *arg;
};

static void on_work(uv_work_t *req)
{
	struct job *j = (struct job *)req;
	j->work(j->arg);
}

static void on_after_work(uv_work_t *req, int status)
{
	struct job *j = (struct job *)req;
	struct consumer *c = j->c;
	(void)status;
	if (c) {
		for (struct job **pp = &c->extra->jobs; *pp; pp = &(*pp)->next) {
			if (*pp == j) {
				*pp = j->next;
				break;
			}
		}
		consumer__enter(c);
		j->done(c, j->arg);
		consumer__leave(c);
	} else {
		j->done(NULL, j->arg);
	}
	free(j);
}

int consumer_offload(struct consumer *c, consumer_work_cb work, consumer_done_cb done, void *arg)
{
	if (c->state == CONSUMER__ST_GONE || c->state == CONSUMER__ST_REJECTED)
		return CH_ECLOSED;
	if (!work || !done)
		return CH_EINVAL;
	struct consumer_extra *x = consumer__extra(c);
	struct job *j = x ? calloc(1, sizeof(*j)) : NULL;
	if (!j)
		return CH_ENOMEM;
	j->c = c;
	j->work = work;
	j->done = done;
	j->arg = arg;
	if (uv_queue_work(layer_loop(c->layer), &j->req, on_work, on_after_work) != 0) {
		free(j);
		return CH_ENOMEM;
	}
	j->next = x->jobs;
	x->jobs = j;
	return 0;
}

void consumer__jobs_detach(struct consumer_extra *x)
{
	for (struct job *j = x->jobs; j; j = j->next)
		j->c = NULL;
	x->jobs = NULL;
}
