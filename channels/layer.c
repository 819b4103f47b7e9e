/*
 * layer.c - the backend-independent half of the channel layer: errors,
 * config, name and message validation, the thin wrappers that validate and
 * then call the vtable, the thread-safe queue, and teardown.
 */
#include "layer_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* A thread waiting in layer_*_wait() for its operation's result; lives on
 * that thread's stack until `done`. */
struct ts_wait {
	uv_mutex_t lock;
	uv_cond_t cond;
	bool done;
	int rc;
};

/* One operation handed over by layer_*_threadsafe(). */
struct layer_ts_op {
	struct layer_ts_op *next;
	json_t *msg; /* owned (a private copy), or NULL for a call without one */
	bool group;
	layer__ts_fn call; /* set: run call(l, name, msg) instead of a send */
	struct ts_wait *wait; /* NULL, or told the result (then never touched again) */
	char name[2 * LAYER_NAME_MAX];
};

/* Hands `rc` to the waiter of `op`, if any, and frees `op`. */
static void ts_op_finish(struct layer_ts_op *op, int rc)
{
	struct ts_wait *w = op->wait;
	if (w) {
		uv_mutex_lock(&w->lock);
		w->rc = rc;
		w->done = true;
		uv_cond_signal(&w->cond);
		uv_mutex_unlock(&w->lock);
	}
	json_decref(op->msg);
	free(op);
}

void layer_config_init(struct layer_config *cfg)
{
	cfg->capacity = 100;
	cfg->expiry = 60;
	cfg->group_expiry = 86400;
	cfg->prefix = "asgi";
}

uint64_t layer__seconds_to_ms(double s)
{
	double ms = s * 1000.0;

	if (ms < 1.0)
		return 1;
	if (ms > 1e15)
		return (uint64_t)1e15;
	return (uint64_t)(ms + 0.5);
}

/* Channels: [a-zA-Z\d\-_.], ASCII only (see layer_valid_channel_name). */
static bool name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* Length of the run of name characters at `s`, stopping at LAYER_NAME_MAX. */
static size_t name_run(const char *s, size_t i)
{
	while (i < LAYER_NAME_MAX && name_char((unsigned char)s[i]))
		i++;
	return i;
}

/*
 * Channels: ^[a-zA-Z\d\-_.]+(\![\d\w\-_.]*)?$ and len < 100. Two deliberate
 * differences from Python's `re`, both stricter: \d and \w match ASCII only
 * (no Unicode digits/letters after the "!"), and a trailing "\n", which
 * Python's `$` tolerates, is rejected.
 */
bool layer_valid_channel_name(const char *name)
{
	size_t i;

	if (!name)
		return false;
	i = name_run(name, 0);
	if (i == 0)
		return false;
	if (name[i] == '!')
		i = name_run(name, i + 1);
	return i < LAYER_NAME_MAX && name[i] == '\0';
}

/* Channels: ^[a-zA-Z\d\-_.]+$ and len < 100 (same notes as above). */
bool layer_valid_group_name(const char *name)
{
	size_t i;

	if (!name)
		return false;
	i = name_run(name, 0);
	return i > 0 && i < LAYER_NAME_MAX && name[i] == '\0';
}

bool layer__valid_message(const json_t *msg)
{
	return json_is_object(msg) && json_is_string(json_object_get(msg, "type"));
}

static void on_handle_closed(uv_handle_t *h)
{
	struct layer *l = h->data;

	if (--l->handles_open > 0)
		return;
	uv_mutex_destroy(&l->ts_lock);
	free((char *)l->cfg.prefix);
	free(l);
}

void layer__close_handle(struct layer *l, uv_handle_t *h)
{
	h->data = l;
	l->handles_open++;
	uv_close(h, on_handle_closed);
}

/* Takes the whole thread-safe queue (in order) out under the lock. */
static struct layer_ts_op *ts_take(struct layer *l, bool close)
{
	struct layer_ts_op *ops;

	uv_mutex_lock(&l->ts_lock);
	ops = l->ts_head;
	l->ts_head = l->ts_tail = NULL;
	if (close)
		l->ts_closed = true;
	uv_mutex_unlock(&l->ts_lock);
	return ops;
}

static void on_ts_async(uv_async_t *a)
{
	struct layer *l = a->data;
	struct layer_ts_op *op = ts_take(l, false), *next;
	int rc;

	for (; op; op = next) {
		next = op->next;
		/* Another thread may have handed over more messages than a
		 * channel holds: the layer's delivery policy keeps such a batch
		 * from overflowing a channel by itself. */
		layer_input_done(l);
		rc = CH_ECLOSED;
		if (!l->closing && op->call) {
			op->call(l, op->name, op->msg);
			rc = 0;
		} else if (!l->closing) {
			rc = op->group ? layer_group_send(l, op->name, op->msg)
				       : layer_send(l, op->name, op->msg);
			/* A waiter reports it to its publisher; ELOCAL was logged
			 * by the backend. A flood of these must not flood the log. */
			static struct log_limit lim = LOG_LIMIT_INIT(10);
			if (rc != 0 && !op->wait && rc != CH_ELOCAL)
				LOG_LIMITED(&lim, LOG_WARN, "channels", "threadsafe %s to %s: %s",
					    op->group ? "group_send" : "send", op->name,
					    ch_strerror(rc));
		}
		ts_op_finish(op, rc);
	}
}

int layer__init(struct layer *l, const struct layer_ops *ops, uv_loop_t *loop,
		const struct layer_config *cfg)
{
	struct layer_config def;
	char *prefix;

	layer_config_init(&def);
	if (!cfg)
		cfg = &def;
	memset(l, 0, sizeof(*l));
	l->ops = ops;
	l->loop = loop;
	l->cfg.capacity = cfg->capacity ? cfg->capacity : def.capacity;
	l->cfg.expiry = cfg->expiry > 0 ? cfg->expiry : def.expiry;
	l->cfg.group_expiry = cfg->group_expiry > 0 ? cfg->group_expiry : def.group_expiry;
	prefix = strdup(cfg->prefix ? cfg->prefix : def.prefix);
	if (!prefix)
		return CH_ENOMEM;
	l->cfg.prefix = prefix;
	l->deliver_every = l->cfg.capacity / 2;
	if (l->deliver_every < 1)
		l->deliver_every = 1;
	if (l->deliver_every > LAYER_DELIVER_EVERY_MAX)
		l->deliver_every = LAYER_DELIVER_EVERY_MAX;
	if (uv_mutex_init(&l->ts_lock) != 0) {
		free(prefix);
		return CH_ENOMEM;
	}
	if (uv_async_init(loop, &l->ts_async, on_ts_async) != 0) {
		uv_mutex_destroy(&l->ts_lock);
		free(prefix);
		return CH_EINVAL;
	}
	l->ts_async.data = l;
	uv_unref((uv_handle_t *)&l->ts_async);
	return 0;
}

/*
 * Teardown order: the backend drops its state and closes its handles, then
 * the thread-safe queue is closed and emptied and its async handle closed.
 * The memory goes in the last close callback, so the loop must run once
 * more before uv_loop_close(). Calling it again is a no-op (it is not
 * safe once that close callback ran).
 */
void layer_free(struct layer *l)
{
	struct layer_ts_op *op, *next;

	if (!l || l->closing)
		return;
	l->closing = true;
	l->ops->free(l);
	for (op = ts_take(l, true); op; op = next) {
		next = op->next;
		ts_op_finish(op, CH_ECLOSED);
	}
	layer__close_handle(l, (uv_handle_t *)&l->ts_async);
}

const char *layer_backend_name(const struct layer *l)
{
	return l->ops->name;
}

uv_loop_t *layer_loop(const struct layer *l)
{
	return l->loop;
}

int layer_new_channel(struct layer *l, const char *prefix, char *out, size_t outlen)
{
	int rc;

	if (!prefix)
		prefix = "specific";
	/* Room for ".<backend tag>!<random>" after the prefix. */
	if (!out || outlen < LAYER_NAME_MAX || !layer_valid_group_name(prefix) ||
	    strlen(prefix) > LAYER_NAME_MAX / 2)
		return CH_EINVAL;
	if (l->closing)
		return CH_ECLOSED;
	rc = l->ops->new_channel(l, prefix, out, outlen);
	if (rc == 0 && !layer_valid_channel_name(out)) {
		LOG(LOG_ERROR, "channels", "backend %s made an invalid channel name", l->ops->name);
		return CH_EINVAL;
	}
	return rc;
}

int layer_send(struct layer *l, const char *channel, json_t *msg)
{
	int rc;

	if (!layer_valid_channel_name(channel) || !layer__valid_message(msg))
		return CH_EINVAL;
	if (l->closing)
		return CH_ECLOSED;
	rc = l->ops->send(l, channel, msg);
	if (rc == 0)
		l->stats.sent++;
	else
		l->stats.errors++;
	return rc;
}

int layer_group_add(struct layer *l, const char *group, const char *channel)
{
	if (!layer_valid_group_name(group) || !layer_valid_channel_name(channel))
		return CH_EINVAL;
	if (l->closing)
		return CH_ECLOSED;
	return l->ops->group_add(l, group, channel);
}

int layer_group_discard(struct layer *l, const char *group, const char *channel)
{
	if (!layer_valid_group_name(group) || !layer_valid_channel_name(channel))
		return CH_EINVAL;
	if (l->closing)
		return CH_ECLOSED;
	return l->ops->group_discard(l, group, channel);
}

int layer_group_discard_all(struct layer *l, const char *channel)
{
	if (!layer_valid_channel_name(channel))
		return CH_EINVAL;
	if (l->closing)
		return CH_ECLOSED;
	return l->ops->group_discard_all(l, channel);
}

int layer__group_discard_all_via(struct layer *l, struct layer *inner, const char *channel)
{
	char group[LAYER_NAME_MAX];
	const char *g;
	/* Each round removes one membership of `inner` (or fails): it ends. */
	while ((g = layer__memory_first_group(inner, channel))) {
		snprintf(group, sizeof(group), "%s", g);
		int rc = l->ops->group_discard(l, group, channel);
		if (rc != 0)
			return rc;
	}
	return 0;
}

void layer_round_hook_set(struct layer *l, layer_round_cb cb, void *ud)
{
	while (l->inner)
		l = l->inner;
	l->round_cb = cb;
	l->round_ud = ud;
}

void layer__round_end(struct layer *l)
{
	if (l->round_cb)
		l->round_cb(l->round_ud);
}

int layer_group_send(struct layer *l, const char *group, json_t *msg)
{
	int rc;

	if (!layer_valid_group_name(group) || !layer__valid_message(msg))
		return CH_EINVAL;
	if (l->closing)
		return CH_ECLOSED;
	rc = l->ops->group_send(l, group, msg);
	if (rc == 0)
		l->stats.sent++;
	else
		l->stats.errors++;
	return rc;
}

int layer_flush(struct layer *l)
{
	if (l->closing)
		return CH_ECLOSED;
	return l->ops->flush(l);
}

void layer_deliver(struct layer *l)
{
	l->input_since_deliver = 0;
	if (!l->closing && l->ops->deliver)
		l->ops->deliver(l);
}

void layer_input_done(struct layer *l)
{
	if (++l->input_since_deliver >= l->deliver_every)
		layer_deliver(l);
}

int layer_receiver_add(struct layer *l, const char *channel, layer_message_cb cb, void *ud)
{
	if (!layer_valid_channel_name(channel) || !cb)
		return CH_EINVAL;
	if (l->closing)
		return CH_ECLOSED;
	return l->ops->receiver_add(l, channel, cb, ud);
}

int layer_receiver_remove(struct layer *l, const char *channel)
{
	char name[LAYER_NAME_MAX];

	if (!layer_valid_channel_name(channel))
		return CH_EINVAL;
	if (l->closing)
		return CH_ECLOSED;
	/* A copy: `channel` may be the backend's own, freed by the removal. */
	strcpy(name, channel);
	return l->ops->receiver_remove(l, name);
}

const char *layer_receiver_name(struct layer *l, const char *channel)
{
	if (l->closing || !l->ops->receiver_name || !layer_valid_channel_name(channel))
		return NULL;
	return l->ops->receiver_name(l, channel);
}

/*
 * Any thread. The caller must not start layer_free() until every other
 * thread stopped calling these (the async handle is closed by it).
 */
static int ts_push(struct layer *l, bool group, layer__ts_fn call, const char *name, json_t *msg,
		   struct ts_wait *wait)
{
	struct layer_ts_op *op;
	bool closed;

	if (!call && (!(group ? layer_valid_group_name(name) : layer_valid_channel_name(name)) ||
		      !layer__valid_message(msg)))
		return CH_EINVAL;
	if (strlen(name) >= sizeof(op->name))
		return CH_EINVAL;
	op = malloc(sizeof(*op));
	if (!op)
		return CH_ENOMEM;
	op->next = NULL;
	op->group = group;
	op->call = call;
	op->wait = wait;
	/*
	 * A private copy, not a reference: jansson's final json_decref() is a
	 * release without an acquire, so a json_t read by one thread must not
	 * be freed by another. The loop thread is the copy's only user.
	 */
	op->msg = msg ? json_deep_copy(msg) : NULL;
	if (msg && !op->msg) {
		free(op);
		return CH_ENOMEM;
	}
	strcpy(op->name, name);     /* fits: checked above */

	uv_mutex_lock(&l->ts_lock);
	closed = l->ts_closed;
	if (!closed) {
		if (l->ts_tail)
			l->ts_tail->next = op;
		else
			l->ts_head = op;
		l->ts_tail = op;
		/* Under the lock, so layer_free() (which takes it before closing
		 * the handle) cannot close it between our append and this call. */
		uv_async_send(&l->ts_async);
	}
	uv_mutex_unlock(&l->ts_lock);
	if (closed) {
		json_decref(op->msg);
		free(op);
		return CH_ECLOSED;
	}
	return 0;
}

int layer_group_send_threadsafe(struct layer *l, const char *group, json_t *msg)
{
	return ts_push(l, true, NULL, group, msg, NULL);
}

int layer_send_threadsafe(struct layer *l, const char *channel, json_t *msg)
{
	return ts_push(l, false, NULL, channel, msg, NULL);
}

/* No timeout is needed: the loop thread runs every queued op on its next
 * turn, and layer_free() finishes the ones still queued with ECLOSED. */
static int ts_push_wait(struct layer *l, bool group, const char *name, json_t *msg)
{
	struct ts_wait w = {.done = false};
	if (uv_mutex_init(&w.lock) != 0)
		return CH_ENOMEM;
	if (uv_cond_init(&w.cond) != 0) {
		uv_mutex_destroy(&w.lock);
		return CH_ENOMEM;
	}
	int rc = ts_push(l, group, NULL, name, msg, &w);
	if (rc == 0) {
		uv_mutex_lock(&w.lock);
		while (!w.done)
			uv_cond_wait(&w.cond, &w.lock);
		rc = w.rc;
		uv_mutex_unlock(&w.lock);
	}
	uv_cond_destroy(&w.cond);
	uv_mutex_destroy(&w.lock);
	return rc;
}

int layer_group_send_wait(struct layer *l, const char *group, json_t *msg)
{
	return ts_push_wait(l, true, group, msg);
}

int layer_send_wait(struct layer *l, const char *channel, json_t *msg)
{
	return ts_push_wait(l, false, channel, msg);
}

int layer__call_threadsafe(struct layer *l, layer__ts_fn call, const char *name, json_t *msg)
{
	return ts_push(l, false, call, name, msg, NULL);
}

uint64_t layer__xorshift(uint64_t *rng)
{
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	return *rng;
}

int layer__pubsub_channel_name(const struct layer *l, const char *prefix, uint64_t *rng,
			       char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	char rnd[33];

	for (int i = 0; i < 32; i += 16) {
		uint64_t v = layer__xorshift(rng);
		for (int k = 0; k < 16; k++, v >>= 4)
			rnd[i + k] = hex[v & 15];
	}
	rnd[32] = '\0';
	int n = snprintf(out, outlen, "%s%s.%s", l->cfg.prefix, prefix, rnd);
	return n > 0 && (size_t)n < outlen && (size_t)n < LAYER_NAME_MAX ? 0 : CH_EINVAL;
}

void layer__stats_from(const struct layer *inner, struct layer_stats *out)
{
	struct layer_stats local;

	layer_get_stats(inner, &local);
	out->delivered = local.delivered;
	out->dropped = local.dropped;
	out->groups = local.groups;
	out->members = local.members;
	out->receivers = local.receivers;
}

void layer__log_local_only(const char *name)
{
	static struct log_limit lim = LOG_LIMIT_INIT(10);
	LOG_LIMITED(&lim, LOG_WARN, "channels",
		    "a publish to %s stayed in this process (not sent to Redis: it is unreachable, "
		    "stalled or refusing commands)",
		    name);
}

bool layer_connected(const struct layer *l)
{
	return !l->ops->connected || l->ops->connected(l);
}

enum layer_health layer_health(const struct layer *l)
{
	if (l->ops->health)
		return (enum layer_health)l->ops->health(l);
	return layer_connected(l) ? LAYER_UP : LAYER_DOWN;
}

void layer_get_stats(const struct layer *l, struct layer_stats *out)
{
	*out = l->stats;
	if (l->ops->stats)
		l->ops->stats(l, out);
}
