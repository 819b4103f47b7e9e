/*
 * consumer_dispatch.c - the broadcast fast path: layer messages dispatched
 * to their consumer's handler by type, and the per-round cache (one per
 * worker: struct consumer_worker) that lets every member forwarding one
 * message share one encoded frame.
 */
#include "consumer_int.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The broadcast cache (struct consumer_worker in consumer_int.h): its
 * first size, in slots. */
#define CACHE_MIN 1024

struct cache_entry {
	json_t *msg;     /* referenced; NULL: an empty slot */
	const void *key; /* a frame entry's `fields` (may be NULL), or &type_key */
	union {
		struct consumer_frame *frame;
		const char *type; /* borrowed from msg */
	} v;
	/* Message entries (key &type_key) only: what dispatching it to its
	 * members needs, found with the one lookup per delivery: the last
	 * class it went to and that class's handler, and the first frame
	 * encoded from it (with its fields). */
	const struct consumer_class *cls;
	const struct consumer_handler *handler;
	const char *const *ffields;
	struct consumer_frame *fframe;
};

static const char type_key; /* the key of message entries */

static unsigned cache_hash(const void *msg, const void *key)
{
	uint64_t h = (uint64_t)(uintptr_t)msg * 0x9e3779b97f4a7c15ull ^ (uintptr_t)key;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return (unsigned)(h ^ h >> 32);
}

static void entry_release(struct cache_entry *e)
{
	if (e->key != &type_key && e->v.frame)
		consumer_frame_unref(e->v.frame);
	if (e->fframe)
		consumer_frame_unref(e->fframe);
	json_decref(e->msg);
	memset(e, 0, sizeof(*e));
}

/* The layer's round hook: the round that filled the cache is over. */
static void cache_clear(void *ud)
{
	struct consumer_worker *w = ud;
	if (!w->cache_n)
		return;
	w->cache_gen++;
	for (unsigned k = 0; k < w->cache_n; k++)
		entry_release(&w->cache[w->cache_used[k]]);
	w->cache_n = 0;
}

struct consumer_worker *consumer_worker_new(struct layer *layer)
{
	struct consumer_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->layer = layer;
	layer_round_hook_set(layer, cache_clear, w);
	return w;
}

void consumer_worker_free(struct consumer_worker *w)
{
	if (!w)
		return;
	if (w->live)
		LOG(LOG_ERROR, "consumer", "consumer_worker_free: %u consumer(s) still open", w->live);
	layer_round_hook_set(w->layer, NULL, NULL);
	cache_clear(w);
	free(w->cache);
	free(w->cache_used);
	free(w);
}

unsigned consumer_worker_count(const struct consumer_worker *w)
{
	return w->live;
}

/* The slot of (msg, key), or of the empty slot where it would go. */
static struct cache_entry *cache_slot(struct consumer_worker *w, const void *msg,
				      const void *key)
{
	unsigned mask = w->cache_cap - 1;
	for (unsigned i = cache_hash(msg, key) & mask;; i = (i + 1) & mask) {
		struct cache_entry *e = &w->cache[i];
		if (!e->msg || (e->msg == msg && e->key == key))
			return e;
	}
}

/* Makes room for one more entry: false when the table cannot grow. */
static bool cache_reserve(struct consumer_worker *w)
{
	if (w->cache_cap && (w->cache_n + 1) * 2 <= w->cache_cap)
		return true;
	unsigned cap = w->cache_cap ? w->cache_cap * 2 : CACHE_MIN;
	struct cache_entry *t = calloc(cap, sizeof(*t));
	unsigned *used = malloc(cap / 2 * sizeof(*used));
	if (!t || !used || cap < w->cache_cap) {
		free(t);
		free(used);
		return false;
	}
	struct cache_entry *old = w->cache;
	unsigned *old_used = w->cache_used, n = w->cache_n;
	w->cache_gen++;
	w->cache = t;
	w->cache_used = used;
	w->cache_cap = cap;
	w->cache_n = 0;
	for (unsigned k = 0; k < n; k++) {
		struct cache_entry *from = &old[old_used[k]];
		struct cache_entry *to = cache_slot(w, from->msg, from->key);
		*to = *from;
		w->cache_used[w->cache_n++] = (unsigned)(to - w->cache);
	}
	free(old);
	free(old_used);
	return true;
}

static struct consumer_frame *cache_find(struct consumer_worker *w, json_t *msg,
					 const char *const *fields)
{
	if (!w->cache_n)
		return NULL;
	struct cache_entry *e = cache_slot(w, msg, fields);
	return e->msg ? e->v.frame : NULL;
}

/* Caches `f` (its reference goes to the cache) and returns true, or
 * returns false (the caller keeps its reference) when the table is full. */
static bool cache_put(struct consumer_worker *w, json_t *msg, const char *const *fields,
		      struct consumer_frame *f)
{
	if (!cache_reserve(w))
		return false;
	struct cache_entry *e = cache_slot(w, msg, fields);
	e->msg = json_incref(msg);
	e->key = fields;
	e->v.frame = f;
	w->cache_used[w->cache_n++] = (unsigned)(e - w->cache);
	return true;
}

/* The message's entry (its "type" read once per turn), or NULL when the
 * table is full. Valid until the table changes (cache_gen). */
static struct cache_entry *message_entry(struct consumer_worker *w, json_t *msg)
{
	if (w->cache_n) {
		struct cache_entry *e = cache_slot(w, msg, &type_key);
		if (e->msg)
			return e;
	}
	if (!cache_reserve(w))
		return NULL;
	struct cache_entry *e = cache_slot(w, msg, &type_key);
	e->msg = json_incref(msg);
	e->key = &type_key;
	e->v.type = json_string_value(json_object_get(msg, "type"));
	w->cache_used[w->cache_n++] = (unsigned)(e - w->cache);
	return e;
}

/* Sends msg (fields == NULL) or its projection; shares one encoded frame
 * per dispatched message. */
static int send_json_shared(struct consumer *c, json_t *msg, const char *const *fields)
{
	if (!msg)
		return CH_EINVAL;
	if (c->state != CONSUMER__ST_OPEN)
		return c->state == CONSUMER__ST_CONNECTING ? CH_ESTATE : CH_ECLOSED;
	struct consumer_worker *w = c->w;
	if (msg == w->dispatching) {
		/* The immutable layer message: encode once per batch, share the
		 * frame. Its first frame hangs on its message entry (no lookup);
		 * frames with other fields go through the table. */
		struct cache_entry *e = w->dispatch_gen == w->cache_gen ? w->dispatch_entry : NULL;
		if (e && e->fframe && e->ffields == fields)
			return consumer__send_frame(c, e->fframe);
		int err;
		if (e && !e->fframe) {
			e->fframe = consumer__frame_from_json(msg, fields, &err);
			if (!e->fframe)
				return err;
			e->ffields = fields;
			return consumer__send_frame(c, e->fframe);
		}
		struct consumer_frame *f = cache_find(w, msg, fields);
		if (!f) {
			f = consumer__frame_from_json(msg, fields, &err);
			if (!f)
				return err;
			if (!cache_put(w, msg, fields, f)) {
				int rc = consumer__send_frame(c, f);
				consumer_frame_unref(f);
				return rc;
			}
		}
		return consumer__send_frame(c, f);
	}
	int err;
	struct consumer_frame *f = consumer__frame_from_json(msg, fields, &err);
	if (!f)
		return err;
	int rc = consumer__send_frame(c, f);
	consumer_frame_unref(f);
	return rc;
}

int consumer_send_json(struct consumer *c, json_t *content)
{
	return send_json_shared(c, content, NULL);
}

int consumer_forward_json(struct consumer *c, json_t *msg, const char *const *fields)
{
	if (!fields)
		return CH_EINVAL;
	return send_json_shared(c, msg, fields);
}

/* ---- dispatch ---- */

void consumer__on_layer_message(void *ud, const char *channel, json_t *msg)
{
	struct consumer *c = ud;
	(void)channel;
	if (c->state != CONSUMER__ST_OPEN)
		return; /* not accepted yet, or closing: Channels would not deliver either */
	struct consumer_worker *w = c->w;
	struct cache_entry *e = message_entry(w, msg);
	const char *type = e ? e->v.type : json_string_value(json_object_get(msg, "type"));
	const struct consumer_handler *h;
	if (e && e->cls == c->cls) {
		h = e->handler;
	} else {
		h = c->cls->handlers;
		while (h && h->type && strcmp(h->type, type ? type : "") != 0)
			h++;
		if (e) {
			e->cls = c->cls;
			e->handler = h;
		}
	}
	if (!h || !h->type) {
		static struct log_limit lim_type = LOG_LIMIT_INIT(10);
		LOG_LIMITED(&lim_type, LOG_ERROR, "consumer",
			    "%s %s: no handler for message type '%s'; closing 1011",
		    c->cls->name, consumer_channel_name(c), type ? type : "");
		consumer_close(c, CLOSE_INTERNAL_ERROR, "no handler for message type");
		return;
	}
	json_t *outer = w->dispatching;
	struct cache_entry *outer_entry = w->dispatch_entry;
	unsigned outer_gen = w->dispatch_gen;
	w->dispatching = msg;
	w->dispatch_entry = e;
	w->dispatch_gen = w->cache_gen;
	consumer__enter(c);
	h->fn(c, msg);
	w->dispatching = outer;
	w->dispatch_entry = outer_entry;
	w->dispatch_gen = outer_gen;
	consumer__leave(c);
}

