/*
 * consumer.c - consumer lifecycle, dispatch of layer messages by type,
 * sends, groups, timers and offloaded work.
 */
#include "consumer_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum consumer_state_kind {
	ST_CONNECTING, /* inside on_connect, not decided */
	ST_OPEN,       /* accepted */
	ST_REJECTED,   /* rejected in on_connect */
	ST_CLOSING,    /* consumer_close() called after accept; waiting for the transport */
	ST_GONE,       /* consumer_closed() ran; freed as soon as no callback is on the stack */
};

struct timer {
	uv_timer_t handle; /* first: the close callback casts back */
	struct timer *next;
	struct consumer *c; /* NULL once the consumer is gone */
	int id;
	consumer_timer_cb cb;
	void *arg;
};

struct job {
	uv_work_t req;
	struct job *next;
	struct consumer *c; /* NULL once the consumer is gone */
	consumer_work_cb work;
	consumer_done_cb done;
	void *arg;
};

/*
 * The broadcast cache: frames encoded from the layer messages dispatched in
 * this loop turn, keyed by (message, fields), and each message's type.
 * The layer hands each channel all its queued messages in turn (A, B, ...
 * to the first member, then A, B, ... to the next), so the cache holds a
 * whole turn's messages: an open-addressing table (linear probing) that
 * doubles while a turn fills it past half, emptied by consumer_turn_end()
 * (the server calls it once per loop turn, so memory is bounded by one
 * turn's messages) and freed with the last consumer of the thread. An entry
 * holds a reference to its message, so a pointer cannot be reused while
 * cached. One per loop thread. If the table cannot grow, messages are
 * simply encoded again (correct, slower).
 */
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

static _Thread_local json_t *dispatching;
static _Thread_local struct cache_entry *dispatch_entry; /* dispatching's, while cache_gen is */
static _Thread_local unsigned dispatch_gen;
static _Thread_local unsigned cache_gen; /* changes whenever entries move or go */
static _Thread_local struct cache_entry *cache;
static _Thread_local unsigned *cache_used; /* slots in use, to empty them */
static _Thread_local unsigned cache_cap, cache_n;
static _Thread_local unsigned live_consumers;

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

static void cache_clear(void)
{
	cache_gen++;
	for (unsigned k = 0; k < cache_n; k++)
		entry_release(&cache[cache_used[k]]);
	cache_n = 0;
}

static void cache_free(void)
{
	cache_clear();
	free(cache);
	free(cache_used);
	cache = NULL;
	cache_used = NULL;
	cache_cap = 0;
}

void consumer_turn_end(void)
{
	cache_clear();
}

/* The slot of (msg, key), or of the empty slot where it would go. */
static struct cache_entry *cache_slot(const void *msg, const void *key)
{
	unsigned mask = cache_cap - 1;
	for (unsigned i = cache_hash(msg, key) & mask;; i = (i + 1) & mask) {
		struct cache_entry *e = &cache[i];
		if (!e->msg || (e->msg == msg && e->key == key))
			return e;
	}
}

/* Makes room for one more entry: false when the table cannot grow. */
static bool cache_reserve(void)
{
	if (cache_cap && (cache_n + 1) * 2 <= cache_cap)
		return true;
	unsigned cap = cache_cap ? cache_cap * 2 : CACHE_MIN;
	struct cache_entry *t = calloc(cap, sizeof(*t));
	unsigned *used = malloc(cap / 2 * sizeof(*used));
	if (!t || !used || cap < cache_cap) {
		free(t);
		free(used);
		return false;
	}
	struct cache_entry *old = cache;
	unsigned *old_used = cache_used, n = cache_n;
	cache_gen++;
	cache = t;
	cache_used = used;
	cache_cap = cap;
	cache_n = 0;
	for (unsigned k = 0; k < n; k++) {
		struct cache_entry *from = &old[old_used[k]], *to = cache_slot(from->msg, from->key);
		*to = *from;
		cache_used[cache_n++] = (unsigned)(to - cache);
	}
	free(old);
	free(old_used);
	return true;
}

static struct consumer_frame *cache_find(json_t *msg, const char *const *fields)
{
	if (!cache_n)
		return NULL;
	struct cache_entry *e = cache_slot(msg, fields);
	return e->msg ? e->v.frame : NULL;
}

/* Caches `f` (its reference goes to the cache) and returns true, or
 * returns false (the caller keeps its reference) when the table is full. */
static bool cache_put(json_t *msg, const char *const *fields, struct consumer_frame *f)
{
	if (!cache_reserve())
		return false;
	struct cache_entry *e = cache_slot(msg, fields);
	e->msg = json_incref(msg);
	e->key = fields;
	e->v.frame = f;
	cache_used[cache_n++] = (unsigned)(e - cache);
	return true;
}

/* The message's entry (its "type" read once per turn), or NULL when the
 * table is full. Valid until the table changes (cache_gen). */
static struct cache_entry *message_entry(json_t *msg)
{
	if (cache_n) {
		struct cache_entry *e = cache_slot(msg, &type_key);
		if (e->msg)
			return e;
	}
	if (!cache_reserve())
		return NULL;
	struct cache_entry *e = cache_slot(msg, &type_key);
	e->msg = json_incref(msg);
	e->key = &type_key;
	e->v.type = json_string_value(json_object_get(msg, "type"));
	cache_used[cache_n++] = (unsigned)(e - cache);
	return e;
}

const char *consumer_strerror(int err)
{
	switch (err) {
	case CONSUMER_OK: return "success";
	case CONSUMER_EINVAL: return "invalid argument";
	case CONSUMER_ENOMEM: return "out of memory";
	case CONSUMER_ECLOSED: return "connection closed";
	case CONSUMER_ESTATE: return "not allowed in this state";
	case CONSUMER_EQUEUE: return "send queue over its limit";
	default: return "unknown error";
	}
}

/* ---- frames ---- */

struct consumer_frame *consumer_frame_new(const void *data, size_t len, bool binary)
{
	struct consumer_frame *f = malloc(sizeof(*f) + CONSUMER_FRAME_HEADROOM + len + 1);
	if (!f)
		return NULL;
	f->refs = 1;
	f->binary = binary;
	f->len = len;
	if (len && data)
		memcpy(consumer_frame_payload(f), data, len);
	consumer_frame_payload(f)[len] = '\0';
	return f;
}

void consumer_frame_unref(struct consumer_frame *f)
{
	assert(f->refs > 0);
	if (--f->refs == 0)
		free(f);
}

/* Encodes `content` (or its projection on `fields`) once into a scratch
 * buffer and copies it into a new frame; only a document larger than the
 * scratch buffer is encoded again, straight into its frame. NULL with *err
 * CONSUMER_EINVAL (not encodable: nested over 64 levels) or
 * CONSUMER_ENOMEM. */
static struct consumer_frame *frame_from_json(json_t *content, const char *const *fields,
					      int *err)
{
	static _Thread_local char scratch[16 * 1024];
	size_t n = consumer__json_encode(content, fields, scratch, sizeof(scratch));
	*err = CONSUMER_EINVAL;
	if (n == 0)
		return NULL;
	*err = CONSUMER_ENOMEM;
	if (n <= sizeof(scratch))
		return consumer_frame_new(scratch, n, false);
	struct consumer_frame *f = consumer_frame_new(NULL, n, false);
	if (f &&
	    consumer__json_encode(content, fields, (char *)consumer_frame_payload(f), n) != n) {
		consumer_frame_unref(f);
		return NULL;
	}
	return f;
}

/* ---- accessors ---- */

void *consumer_state(struct consumer *c)
{
	return c->data;
}

struct layer *consumer_layer(struct consumer *c)
{
	return c->layer;
}

uv_loop_t *consumer_loop(struct consumer *c)
{
	return layer_loop(c->layer);
}

unsigned consumer_count(void)
{
	return live_consumers;
}

static struct consumer_extra *extra(struct consumer *c)
{
	if (!c->extra)
		c->extra = calloc(1, sizeof(*c->extra));
	return c->extra;
}

/* ---- lifetime ---- */

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

static void consumer_free(struct consumer *c)
{
	assert(c->busy == 0);
	if (c->extra) {
		json_decref(c->extra->session);
		free(c->extra->channel);
		free(c->extra->subprotocol);
	}
	free(c->extra);
	free(c);
	if (--live_consumers == 0)
		cache_free();
}

/* Enter/leave a class callback: frees the consumer if it went away meanwhile. */
static void enter(struct consumer *c)
{
	c->busy++;
}

static bool leave(struct consumer *c)
{
	if (--c->busy == 0 && c->state == ST_GONE) {
		consumer_free(c);
		return false;
	}
	return c->state != ST_GONE;
}

static void on_layer_message(void *ud, const char *channel, json_t *msg);

struct consumer *consumer_open(const struct consumer_class *cls, struct consumer_scope *scope,
			       struct layer *layer, uv_loop_t *loop,
			       const struct consumer_transport *tp, void *conn,
			       struct consumer_open_result *res)
{
	char channel[LAYER_NAME_MAX];
	int rc = layer_new_channel(layer, "specific", channel, sizeof(channel));
	memset(res, 0, sizeof(*res));
	struct consumer *c = consumer__alloc(cls, scope);
	if (c && scope->session && !extra(c)) {
		free(c);
		c = NULL;
	}
	if (!c) {
		consumer_scope_clear(scope);
		return NULL;
	}
	live_consumers++;
	if (scope->session) {
		c->extra->session = scope->session;
		scope->session = NULL;
	}
	c->is_authenticated = scope->is_authenticated;
	consumer_scope_clear(scope);
	c->layer = layer;
	assert(loop == layer_loop(layer));
	c->tp = tp;
	c->conn = conn;
	c->channel = "";
	c->state = ST_CONNECTING;
	c->reject_code = 403;

	/* Without a channel the consumer still opens, to be rejected with 500. */
	if (rc == 0)
		rc = layer_receiver_add(layer, channel, on_layer_message, c);
	if (rc == 0) {
		c->channel = layer_receiver_name(layer, channel);
		if (!c->channel) { /* the backend keeps no copy: keep our own */
			struct consumer_extra *x = extra(c);
			if (x)
				x->channel = strdup(channel);
			c->channel = x ? x->channel : NULL;
			if (!c->channel) {
				layer_receiver_remove(layer, channel);
				c->channel = "";
				rc = LAYER_ENOMEM;
			}
		}
	}
	if (rc != 0) {
		LOG(LOG_ERROR, "consumer", "%s: cannot get a channel: %s", cls->name, layer_strerror(rc));
		c->state = ST_REJECTED;
		c->reject_code = 500;
		res->accepted = false;
		res->close_code = 500;
		return c;
	}
	c->receiving = true;
	for (const char *const *g = cls->groups; g && *g; g++)
		consumer_group_add(c, *g);

	if (cls->on_connect) {
		enter(c);
		cls->on_connect(c);
		c->busy--;
	} else {
		c->state = ST_OPEN;
	}
	if (c->state == ST_CONNECTING) {
		LOG(LOG_WARN, "consumer", "%s: on_connect neither accepted nor closed; rejecting",
		    cls->name);
		c->state = ST_REJECTED;
	}
	res->accepted = c->state == ST_OPEN;
	res->close_code = res->accepted ? 0 : c->reject_code;
	res->subprotocol = c->extra ? c->extra->subprotocol : NULL;
	return c;
}

void consumer_closed(struct consumer *c, int code)
{
	if (c->state == ST_GONE)
		return;
	bool was_open = c->state == ST_OPEN || c->state == ST_CLOSING;
	c->state = ST_CLOSING;
	if (was_open && c->cls->on_disconnect) {
		c->busy++;
		c->cls->on_disconnect(c, code);
		c->busy--;
	}
	c->state = ST_GONE;
	const char *channel = c->channel; /* valid until the receiver is removed, last */
	if (c->group) {
		layer_group_discard(c->layer, c->group->name, channel);
		consumer__gname_put(c->group);
		c->group = NULL;
	}
	struct consumer_extra *x = c->extra;
	if (x) {
		while (x->groups) {
			struct group_ref *g = x->groups;
			x->groups = g->next;
			layer_group_discard(c->layer, g->g->name, channel);
			consumer__gname_put(g->g);
			free(g);
		}
		while (x->timers) {
			struct timer *t = x->timers;
			x->timers = t->next;
			timer_release(t);
		}
		for (struct job *j = x->jobs; j; j = j->next)
			j->c = NULL;
		x->jobs = NULL;
	}
	if (c->receiving)
		layer_receiver_remove(c->layer, channel);
	c->receiving = false;
	c->channel = "";
	if (c->busy == 0)
		consumer_free(c);
}

/* ---- handshake decisions ---- */

int consumer_accept(struct consumer *c, const char *subprotocol)
{
	if (c->state != ST_CONNECTING)
		return CONSUMER_ESTATE;
	if (subprotocol) {
		/* Only a subprotocol the client offered may be chosen. */
		const char *offered = consumer_scope_subprotocols(c);
		size_t n = strlen(subprotocol);
		const char *p = offered;
		bool found = false;
		while (p && *p) {
			while (*p == ' ' || *p == ',')
				p++;
			size_t m = strcspn(p, ", ");
			if (m == n && strncmp(p, subprotocol, n) == 0) {
				found = true;
				break;
			}
			p += m;
		}
		if (!found)
			return CONSUMER_EINVAL;
		/* A copy: the token inside the scope's header is not NUL-terminated. */
		struct consumer_extra *x = extra(c);
		char *copy = x ? strdup(subprotocol) : NULL;
		if (!copy)
			return CONSUMER_ENOMEM;
		free(x->subprotocol);
		x->subprotocol = copy;
	}
	c->state = ST_OPEN;
	return 0;
}

int consumer_close(struct consumer *c, int code, const char *reason)
{
	switch (c->state) {
	case ST_CONNECTING:
		c->state = ST_REJECTED;
		c->reject_code = 403;
		return 0;
	case ST_OPEN:
		c->state = ST_CLOSING;
		c->tp->close(c->conn, code ? code : CLOSE_NORMAL, reason);
		return 0;
	default:
		return CONSUMER_ECLOSED;
	}
}

/* ---- sending ---- */

static int send_frame(struct consumer *c, struct consumer_frame *f)
{
	if (c->state != ST_OPEN)
		return c->state == ST_CONNECTING ? CONSUMER_ESTATE : CONSUMER_ECLOSED;
	int rc = c->tp->send(c->conn, f);
	if (rc == CONSUMER_EQUEUE) {
		static struct log_limit lim_slow = LOG_LIMIT_INIT(10);
		LOG_LIMITED(&lim_slow, LOG_WARN, "consumer", "%s %s: send queue full, closing (slow consumer)",
		    c->cls->name, consumer_channel_name(c));
		c->state = ST_CLOSING;
		c->tp->close(c->conn, CLOSE_TRY_AGAIN_LATER, "slow consumer");
	}
	return rc;
}

static int send_copy(struct consumer *c, const void *data, size_t len, bool binary)
{
	if (c->state != ST_OPEN)
		return c->state == ST_CONNECTING ? CONSUMER_ESTATE : CONSUMER_ECLOSED;
	struct consumer_frame *f = consumer_frame_new(data, len, binary);
	if (!f)
		return CONSUMER_ENOMEM;
	int rc = send_frame(c, f);
	consumer_frame_unref(f);
	return rc;
}

int consumer_send_text(struct consumer *c, const char *text, size_t len)
{
	return send_copy(c, text, len, false);
}

int consumer_send_bytes(struct consumer *c, const void *data, size_t len)
{
	return send_copy(c, data, len, true);
}

/* Sends msg (fields == NULL) or its projection; shares one encoded frame
 * per dispatched message. */
static int send_json_shared(struct consumer *c, json_t *msg, const char *const *fields)
{
	if (!msg)
		return CONSUMER_EINVAL;
	if (c->state != ST_OPEN)
		return c->state == ST_CONNECTING ? CONSUMER_ESTATE : CONSUMER_ECLOSED;
	if (msg == dispatching) {
		/* The immutable layer message: encode once per batch, share the
		 * frame. Its first frame hangs on its message entry (no lookup);
		 * frames with other fields go through the table. */
		struct cache_entry *e = dispatch_gen == cache_gen ? dispatch_entry : NULL;
		if (e && e->fframe && e->ffields == fields)
			return send_frame(c, e->fframe);
		int err;
		if (e && !e->fframe) {
			e->fframe = frame_from_json(msg, fields, &err);
			if (!e->fframe)
				return err;
			e->ffields = fields;
			return send_frame(c, e->fframe);
		}
		struct consumer_frame *f = cache_find(msg, fields);
		if (!f) {
			f = frame_from_json(msg, fields, &err);
			if (!f)
				return err;
			if (!cache_put(msg, fields, f)) {
				int rc = send_frame(c, f);
				consumer_frame_unref(f);
				return rc;
			}
		}
		return send_frame(c, f);
	}
	int err;
	struct consumer_frame *f = frame_from_json(msg, fields, &err);
	if (!f)
		return err;
	int rc = send_frame(c, f);
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
		return CONSUMER_EINVAL;
	return send_json_shared(c, msg, fields);
}

/* ---- groups and channels ---- */

int consumer_group_add(struct consumer *c, const char *group)
{
	if (c->state == ST_GONE)
		return CONSUMER_ECLOSED;
	int rc = layer_group_add(c->layer, group, consumer_channel_name(c));
	if (rc != 0)
		return rc == LAYER_EINVAL ? CONSUMER_EINVAL : CONSUMER_ENOMEM;
	if (c->group && strcmp(c->group->name, group) == 0)
		return 0;
	for (struct group_ref *g = c->extra ? c->extra->groups : NULL; g; g = g->next)
		if (strcmp(g->g->name, group) == 0)
			return 0;
	struct gname *name = consumer__gname_get(group);
	if (!name)
		return CONSUMER_ENOMEM;
	if (!c->group) {
		c->group = name;
		return 0;
	}
	struct consumer_extra *x = extra(c);
	struct group_ref *g = x ? malloc(sizeof(*g)) : NULL;
	if (!g) {
		consumer__gname_put(name);
		return CONSUMER_ENOMEM;
	}
	g->g = name;
	g->next = x->groups;
	x->groups = g;
	return 0;
}

int consumer_group_discard(struct consumer *c, const char *group)
{
	if (c->state == ST_GONE)
		return CONSUMER_ECLOSED;
	if (c->group && strcmp(c->group->name, group) == 0) {
		consumer__gname_put(c->group);
		c->group = NULL;
	}
	for (struct group_ref **pp = c->extra ? &c->extra->groups : NULL; pp && *pp;
	     pp = &(*pp)->next) {
		if (strcmp((*pp)->g->name, group) == 0) {
			struct group_ref *g = *pp;
			*pp = g->next;
			consumer__gname_put(g->g);
			free(g);
			break;
		}
	}
	int rc = layer_group_discard(c->layer, group, consumer_channel_name(c));
	return rc == 0 ? 0 : rc == LAYER_EINVAL ? CONSUMER_EINVAL : CONSUMER_ENOMEM;
}

int consumer_group_send(struct consumer *c, const char *group, json_t *msg)
{
	int rc = layer_group_send(c->layer, group, msg);
	return rc == 0 ? 0 : rc == LAYER_EINVAL ? CONSUMER_EINVAL : rc;
}

int consumer_channel_send(struct consumer *c, const char *channel, json_t *msg)
{
	int rc = layer_send(c->layer, channel, msg);
	return rc == 0 ? 0 : rc == LAYER_EINVAL ? CONSUMER_EINVAL : rc;
}

/* ---- dispatch ---- */

static void on_layer_message(void *ud, const char *channel, json_t *msg)
{
	struct consumer *c = ud;
	(void)channel;
	if (c->state != ST_OPEN)
		return; /* not accepted yet, or closing: Channels would not deliver either */
	struct cache_entry *e = message_entry(msg);
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
	json_t *outer = dispatching;
	struct cache_entry *outer_entry = dispatch_entry;
	unsigned outer_gen = dispatch_gen;
	dispatching = msg;
	dispatch_entry = e;
	dispatch_gen = cache_gen;
	enter(c);
	h->fn(c, msg);
	dispatching = outer;
	dispatch_entry = outer_entry;
	dispatch_gen = outer_gen;
	leave(c);
}

void consumer_receive(struct consumer *c, const char *data, size_t len, bool binary)
{
	if (c->state != ST_OPEN)
		return;
	if (!c->cls->json) {
		if (c->cls->on_receive) {
			enter(c);
			c->cls->on_receive(c, data, len, binary);
			leave(c);
		}
		return;
	}
	if (binary) {
		consumer_close(c, CLOSE_UNSUPPORTED_DATA, "binary frames are not accepted");
		return;
	}
	const char *err;
	json_t *content = consumer__json_decode(data, len, &err);
	if (!content) {
		LOG(LOG_DEBUG, "consumer", "%s %s: invalid JSON: %s", c->cls->name, consumer_channel_name(c),
		    err);
		consumer_close(c, CLOSE_INVALID_PAYLOAD, "invalid JSON");
		return;
	}
	if (c->cls->on_receive_json) {
		enter(c);
		c->cls->on_receive_json(c, content);
		leave(c);
	}
	json_decref(content);
}

/* ---- timers ---- */

static void on_timer(uv_timer_t *h)
{
	struct timer *t = (struct timer *)h;
	struct consumer *c = t->c;
	if (!c)
		return;
	bool one_shot = uv_timer_get_repeat(h) == 0;
	enter(c);
	t->cb(c, t->arg);
	if (!leave(c))
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
	if (c->state == ST_GONE || c->state == ST_REJECTED)
		return CONSUMER_ECLOSED;
	if (!cb)
		return CONSUMER_EINVAL;
	struct consumer_extra *x = extra(c);
	struct timer *t = x ? calloc(1, sizeof(*t)) : NULL;
	if (!t)
		return CONSUMER_ENOMEM;
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
	return CONSUMER_EINVAL;
}

/* ---- offloading ---- */

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
		enter(c);
		j->done(c, j->arg);
		leave(c);
	} else {
		j->done(NULL, j->arg);
	}
	free(j);
}

int consumer_offload(struct consumer *c, consumer_work_cb work, consumer_done_cb done, void *arg)
{
	if (c->state == ST_GONE || c->state == ST_REJECTED)
		return CONSUMER_ECLOSED;
	if (!work || !done)
		return CONSUMER_EINVAL;
	struct consumer_extra *x = extra(c);
	struct job *j = x ? calloc(1, sizeof(*j)) : NULL;
	if (!j)
		return CONSUMER_ENOMEM;
	j->c = c;
	j->work = work;
	j->done = done;
	j->arg = arg;
	if (uv_queue_work(layer_loop(c->layer), &j->req, on_work, on_after_work) != 0) {
		free(j);
		return CONSUMER_ENOMEM;
	}
	j->next = x->jobs;
	x->jobs = j;
	return 0;
}
