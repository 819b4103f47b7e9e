/*
 * consumer.c - consumer lifecycle, dispatch of layer messages by type,
 * sends, groups, timers and offloaded work.
 */
#include "consumer.h"

#include <assert.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"

enum consumer_state_kind {
	ST_CONNECTING, /* inside on_connect, not decided */
	ST_OPEN,       /* accepted */
	ST_REJECTED,   /* rejected in on_connect */
	ST_CLOSING,    /* consumer_close() called after accept; waiting for the transport */
	ST_GONE,       /* consumer_closed() ran; freed as soon as no callback is on the stack */
};

struct group_ref {
	struct group_ref *next;
	char name[];
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

struct consumer {
	const struct consumer_class *cls;
	struct consumer_scope scope;
	struct layer *layer;
	uv_loop_t *loop;
	const struct consumer_transport *tp;
	void *conn;
	enum consumer_state_kind state;
	int reject_code;
	char *subprotocol; /* owned copy of the accepted token, NUL-terminated */
	int busy; /* callbacks of the class on the stack */
	struct group_ref *groups;
	struct timer *timers;
	struct job *jobs;
	int next_timer_id;
	bool receiving; /* registered as the layer receiver of `channel` */
	char channel[LAYER_NAME_MAX];
	alignas(max_align_t) unsigned char state_block[];
};

/*
 * The broadcast cache: frames encoded from the layer messages dispatched in
 * this loop turn, keyed by (message, fields), and each message's type.
 * The layer hands each channel all its queued messages in turn (A, B, ...
 * to the first member, then A, B, ... to the next), so the cache holds a
 * whole turn's messages: direct-mapped, CACHE_SIZE slots, emptied by
 * consumer_turn_end() (the server calls it once per loop turn, so memory
 * is bounded by one turn's messages). An entry holds a reference to its
 * message, so a pointer cannot be reused while cached. One per loop thread.
 */
#define CACHE_SIZE 1024

struct frame_cache_entry {
	json_t *msg;
	const char *const *fields;
	struct consumer_frame *frame;
};

struct type_cache_entry {
	json_t *msg;
	const char *type; /* borrowed from msg */
};

static _Thread_local json_t *dispatching;
static _Thread_local struct frame_cache_entry frame_cache[CACHE_SIZE];
static _Thread_local struct type_cache_entry type_cache[CACHE_SIZE];
static _Thread_local unsigned short cache_used[2 * CACHE_SIZE]; /* slots to empty */
static _Thread_local unsigned cache_n_used;
static _Thread_local unsigned live_consumers;

static unsigned cache_slot(const void *msg, const void *fields)
{
	uintptr_t h = (uintptr_t)msg >> 4 ^ (uintptr_t)fields >> 3;
	h ^= h >> 11;
	return (unsigned)(h & (CACHE_SIZE - 1));
}

static void cache_clear(void)
{
	for (unsigned k = 0; k < cache_n_used; k++) {
		unsigned i = cache_used[k];
		if (i < CACHE_SIZE) {
			struct frame_cache_entry *e = &frame_cache[i];
			if (e->frame)
				consumer_frame_unref(e->frame);
			json_decref(e->msg);
			memset(e, 0, sizeof(*e));
		} else {
			struct type_cache_entry *t = &type_cache[i - CACHE_SIZE];
			json_decref(t->msg);
			memset(t, 0, sizeof(*t));
		}
	}
	cache_n_used = 0;
}

void consumer_turn_end(void)
{
	cache_clear();
}

static void cache_mark(unsigned slot)
{
	if (cache_n_used < 2 * CACHE_SIZE)
		cache_used[cache_n_used++] = (unsigned short)slot;
}

static struct consumer_frame *cache_find(json_t *msg, const char *const *fields)
{
	struct frame_cache_entry *e = &frame_cache[cache_slot(msg, fields)];
	return e->msg == msg && e->fields == fields ? e->frame : NULL;
}

/* Takes over the reference of `f`. */
static void cache_put(json_t *msg, const char *const *fields, struct consumer_frame *f)
{
	unsigned i = cache_slot(msg, fields);
	struct frame_cache_entry *e = &frame_cache[i];
	if (e->msg) { /* a collision: the older message is re-encoded if it comes again */
		if (e->frame)
			consumer_frame_unref(e->frame);
		json_decref(e->msg);
	} else {
		cache_mark(i);
	}
	e->msg = json_incref(msg);
	e->fields = fields;
	e->frame = f;
}

/* The message's "type", looked up once per message per turn. */
static const char *message_type(json_t *msg)
{
	unsigned i = cache_slot(msg, NULL);
	struct type_cache_entry *t = &type_cache[i];
	if (t->msg == msg)
		return t->type;
	const char *type = json_string_value(json_object_get(msg, "type"));
	if (t->msg)
		json_decref(t->msg);
	else
		cache_mark(CACHE_SIZE + i);
	t->msg = json_incref(msg);
	t->type = type;
	return type;
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
	if (len)
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

static struct consumer_frame *frame_from_json(json_t *content)
{
	size_t n = json_dumpb(content, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	if (n == 0)
		return NULL;
	struct consumer_frame *f = malloc(sizeof(*f) + CONSUMER_FRAME_HEADROOM + n + 1);
	if (!f)
		return NULL;
	f->refs = 1;
	f->binary = false;
	f->len = json_dumpb(content, (char *)consumer_frame_payload(f), n, JSON_COMPACT | JSON_ENCODE_ANY);
	consumer_frame_payload(f)[f->len] = '\0';
	return f;
}

/* ---- scope ---- */

void consumer_scope_clear(struct consumer_scope *s)
{
	free(s->path);
	free(s->query_string);
	free(s->client_addr);
	free(s->subprotocols);
	free(s->headers);
	free(s->username);
	json_decref(s->kwargs);
	json_decref(s->session);
	memset(s, 0, sizeof(*s));
}

/* ---- accessors ---- */

void *consumer_state(struct consumer *c)
{
	return c->state_block;
}

const struct consumer_scope *consumer_scope(const struct consumer *c)
{
	return &c->scope;
}

const char *consumer_channel_name(const struct consumer *c)
{
	return c->channel;
}

const char *consumer_username(const struct consumer *c)
{
	return c->scope.username ? c->scope.username : "";
}

const char *consumer_scope_header(const struct consumer *c, const char *name)
{
	const char *p = c->scope.headers;
	while (p && *p) {
		const char *value = p + strlen(p) + 1;
		if (strcmp(p, name) == 0)
			return value;
		p = value + strlen(value) + 1;
	}
	return NULL;
}

json_t *consumer_scope_cookies(const struct consumer *c)
{
	return http_parse_cookies(consumer_scope_header(c, "cookie"));
}

struct layer *consumer_layer(struct consumer *c)
{
	return c->layer;
}

uv_loop_t *consumer_loop(struct consumer *c)
{
	return c->loop;
}

unsigned consumer_count(void)
{
	return live_consumers;
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
	consumer_scope_clear(&c->scope);
	free(c->subprotocol);
	free(c);
	if (--live_consumers == 0)
		cache_clear();
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
	struct consumer *c = calloc(1, sizeof(*c) + cls->state_size);
	memset(res, 0, sizeof(*res));
	if (!c) {
		consumer_scope_clear(scope);
		return NULL;
	}
	live_consumers++;
	c->cls = cls;
	c->scope = *scope;
	memset(scope, 0, sizeof(*scope));
	c->layer = layer;
	c->loop = loop;
	c->tp = tp;
	c->conn = conn;
	c->state = ST_CONNECTING;
	c->reject_code = 403;

	int rc = layer_new_channel(layer, "specific", c->channel, sizeof(c->channel));
	if (rc == 0)
		rc = layer_receiver_add(layer, c->channel, on_layer_message, c);
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
	res->subprotocol = c->subprotocol;
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
	if (c->receiving)
		layer_receiver_remove(c->layer, c->channel);
	c->receiving = false;
	while (c->groups) {
		struct group_ref *g = c->groups;
		c->groups = g->next;
		layer_group_discard(c->layer, g->name, c->channel);
		free(g);
	}
	while (c->timers) {
		struct timer *t = c->timers;
		c->timers = t->next;
		timer_release(t);
	}
	for (struct job *j = c->jobs; j; j = j->next)
		j->c = NULL;
	c->jobs = NULL;
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
		const char *offered = c->scope.subprotocols;
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
		c->subprotocol = strdup(subprotocol);
		if (!c->subprotocol)
			return CONSUMER_ENOMEM;
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
		LOG(LOG_WARN, "consumer", "%s %s: send queue full, closing (slow consumer)",
		    c->cls->name, c->channel);
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

static json_t *project(json_t *msg, const char *const *fields)
{
	json_t *out = json_object();
	for (const char *const *f = fields; out && f && *f; f++) {
		json_t *v = json_object_get(msg, *f);
		if (v)
			json_object_set(out, *f, v);
	}
	return out;
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
		/* The immutable layer message: encode once per batch, share the frame. */
		struct consumer_frame *f = cache_find(msg, fields);
		if (!f) {
			json_t *obj = fields ? project(msg, fields) : msg;
			f = obj ? frame_from_json(obj) : NULL;
			if (fields)
				json_decref(obj);
			if (!f)
				return CONSUMER_ENOMEM;
			cache_put(msg, fields, f);
		}
		return send_frame(c, f);
	}
	json_t *obj = fields ? project(msg, fields) : msg;
	struct consumer_frame *f = obj ? frame_from_json(obj) : NULL;
	if (fields)
		json_decref(obj);
	if (!f)
		return CONSUMER_ENOMEM;
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
	int rc = layer_group_add(c->layer, group, c->channel);
	if (rc != 0)
		return rc == LAYER_EINVAL ? CONSUMER_EINVAL : CONSUMER_ENOMEM;
	for (struct group_ref *g = c->groups; g; g = g->next)
		if (strcmp(g->name, group) == 0)
			return 0;
	size_t n = strlen(group);
	struct group_ref *g = malloc(sizeof(*g) + n + 1);
	if (!g)
		return CONSUMER_ENOMEM;
	memcpy(g->name, group, n + 1);
	g->next = c->groups;
	c->groups = g;
	return 0;
}

int consumer_group_discard(struct consumer *c, const char *group)
{
	if (c->state == ST_GONE)
		return CONSUMER_ECLOSED;
	for (struct group_ref **pp = &c->groups; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, group) == 0) {
			struct group_ref *g = *pp;
			*pp = g->next;
			free(g);
			break;
		}
	}
	int rc = layer_group_discard(c->layer, group, c->channel);
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
	const char *type = message_type(msg);
	const struct consumer_handler *h = c->cls->handlers;
	while (h && h->type && strcmp(h->type, type ? type : "") != 0)
		h++;
	if (!h || !h->type) {
		LOG(LOG_ERROR, "consumer", "%s %s: no handler for message type '%s'; closing 1011",
		    c->cls->name, c->channel, type ? type : "");
		consumer_close(c, CLOSE_INTERNAL_ERROR, "no handler for message type");
		return;
	}
	json_t *outer = dispatching;
	dispatching = msg;
	enter(c);
	h->fn(c, msg);
	dispatching = outer;
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
	json_error_t err;
	json_t *content = json_loadb(data, len, JSON_DECODE_ANY, &err);
	if (!content) {
		LOG(LOG_DEBUG, "consumer", "%s %s: invalid JSON: %s", c->cls->name, c->channel,
		    err.text);
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
		for (struct timer **pp = &c->timers; *pp; pp = &(*pp)->next) {
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
	struct timer *t = calloc(1, sizeof(*t));
	if (!t)
		return CONSUMER_ENOMEM;
	uv_timer_init(c->loop, &t->handle);
	t->c = c;
	t->cb = cb;
	t->arg = arg;
	t->id = ++c->next_timer_id;
	t->next = c->timers;
	c->timers = t;
	uv_timer_start(&t->handle, on_timer, timeout_ms, repeat_ms);
	return t->id;
}

int consumer_timer_stop(struct consumer *c, int id)
{
	for (struct timer **pp = &c->timers; *pp; pp = &(*pp)->next) {
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
		for (struct job **pp = &c->jobs; *pp; pp = &(*pp)->next) {
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
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return CONSUMER_ENOMEM;
	j->c = c;
	j->work = work;
	j->done = done;
	j->arg = arg;
	if (uv_queue_work(c->loop, &j->req, on_work, on_after_work) != 0) {
		free(j);
		return CONSUMER_ENOMEM;
	}
	j->next = c->jobs;
	c->jobs = j;
	return 0;
}
