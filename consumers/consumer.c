/*
 * consumer.c - a consumer's life: open (channel, class groups, on_connect),
 * the handshake decision, the messages its client sends, close and free.
 * The other concerns live next to it: consumer_send.c (frames, sends),
 * consumer_dispatch.c (layer messages by type, the broadcast cache),
 * consumer_group.c, consumer_timer.c, consumer_offload.c, consumer_scope.c.
 */
#include "consumer_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"


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

struct consumer_extra *consumer__extra(struct consumer *c)
{
	if (!c->extra)
		c->extra = calloc(1, sizeof(*c->extra));
	return c->extra;
}

/* ---- lifetime ---- */

static void consumer_free(struct consumer *c)
{
	assert(c->busy == 0);
	if (c->extra) {
		json_decref(c->extra->session);
		free(c->extra->channel);
	}
	free(c->extra);
	c->w->live--;
	free(c);
}

bool consumer__leave(struct consumer *c)
{
	if (--c->busy == 0 && c->state == CONSUMER__ST_GONE) {
		consumer_free(c);
		return false;
	}
	return c->state != CONSUMER__ST_GONE;
}

struct consumer *consumer_open(const struct consumer_class *cls, struct consumer_scope *scope,
			       struct consumer_worker *w, const struct consumer_transport *tp,
			       void *conn, struct consumer_open_result *res)
{
	struct layer *layer = w->layer;
	char channel[LAYER_NAME_MAX];
	int rc = layer_new_channel(layer, "specific", channel, sizeof(channel));
	memset(res, 0, sizeof(*res));
	struct consumer *c = consumer__alloc(cls, scope);
	if (c && scope->session && !consumer__extra(c)) {
		free(c);
		c = NULL;
	}
	if (!c) {
		consumer_scope_clear(scope);
		return NULL;
	}
	c->w = w;
	w->live++;
	if (scope->session) {
		c->extra->session = scope->session;
		scope->session = NULL;
	}
	c->is_authenticated = scope->is_authenticated;
	consumer_scope_clear(scope);
	c->layer = layer;
	c->tp = tp;
	c->conn = conn;
	c->channel = "";
	c->state = CONSUMER__ST_CONNECTING;
	c->reject_code = 403;

	/* Without a channel the consumer still opens, to be rejected with 500. */
	if (rc == 0)
		rc = layer_receiver_add(layer, channel, consumer__on_layer_message, c);
	if (rc == 0) {
		c->channel = layer_receiver_name(layer, channel);
		if (!c->channel) { /* the backend keeps no copy: keep our own */
			struct consumer_extra *x = consumer__extra(c);
			if (x)
				x->channel = strdup(channel);
			c->channel = x ? x->channel : NULL;
			if (!c->channel) {
				layer_receiver_remove(layer, channel);
				c->channel = "";
				rc = CH_ENOMEM;
			}
		}
	}
	if (rc != 0) {
		LOG(LOG_ERROR, "consumer", "%s: cannot get a channel: %s", cls->name, ch_strerror(rc));
		c->state = CONSUMER__ST_REJECTED;
		c->reject_code = 500;
		res->accepted = false;
		res->close_code = 500;
		return c;
	}
	c->receiving = true;
	for (const char *const *g = cls->groups; g && *g; g++)
		consumer_group_add(c, *g);

	if (cls->on_connect) {
		consumer__enter(c);
		cls->on_connect(c);
		c->busy--;
	} else {
		c->state = CONSUMER__ST_OPEN;
	}
	if (c->state == CONSUMER__ST_CONNECTING) {
		LOG(LOG_WARN, "consumer", "%s: on_connect neither accepted nor closed; rejecting",
		    cls->name);
		c->state = CONSUMER__ST_REJECTED;
	}
	res->accepted = c->state == CONSUMER__ST_OPEN;
	res->close_code = res->accepted ? 0 : c->reject_code;
	res->subprotocol = c->extra ? c->extra->subprotocol : NULL;
	if (res->accepted && !res->subprotocol) /* accepted without an accept() call */
		res->subprotocol = consumer_class_subprotocol(cls, consumer_scope_subprotocols(c), NULL);
	return c;
}

void consumer_closed(struct consumer *c, int code)
{
	if (c->state == CONSUMER__ST_GONE)
		return;
	bool was_open = c->state == CONSUMER__ST_OPEN || c->state == CONSUMER__ST_CLOSING;
	c->state = CONSUMER__ST_CLOSING;
	if (was_open && c->cls->on_disconnect) {
		c->busy++;
		c->cls->on_disconnect(c, code);
		c->busy--;
	}
	c->state = CONSUMER__ST_GONE;
	const char *channel = c->channel; /* valid until the receiver is removed, last */
	if (c->receiving) /* the layer knows its groups: every one is left */
		layer_group_discard_all(c->layer, channel);
	if (c->extra) {
		consumer__timers_release(c->extra);
		consumer__jobs_detach(c->extra);
	}
	if (c->receiving)
		layer_receiver_remove(c->layer, channel);
	c->receiving = false;
	c->channel = "";
	if (c->busy == 0)
		consumer_free(c);
}

/* ---- handshake decisions ---- */

const char *consumer_class_subprotocol(const struct consumer_class *cls, const char *offered,
				       const char *want)
{
	const char *p = offered;
	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		size_t m = strcspn(p, ", \t");
		for (const char *const *name = cls->subprotocols; name && *name && m; name++)
			if (strlen(*name) == m && strncmp(*name, p, m) == 0 &&
			    (!want || strcmp(want, *name) == 0))
				return *name;
		p += m;
	}
	return NULL;
}

int consumer_accept(struct consumer *c, const char *subprotocol)
{
	if (c->state != CONSUMER__ST_CONNECTING)
		return CH_ESTATE;
	const char *offered = consumer_scope_subprotocols(c);
	const char *chosen = consumer_class_subprotocol(c->cls, offered, subprotocol);
	if (subprotocol && !chosen)
		return CH_EINVAL;
	if (chosen) {
		struct consumer_extra *x = consumer__extra(c);
		if (!x)
			return CH_ENOMEM;
		x->subprotocol = chosen;
	}
	c->state = CONSUMER__ST_OPEN;
	return 0;
}

int consumer_close(struct consumer *c, int code, const char *reason)
{
	switch (c->state) {
	case CONSUMER__ST_CONNECTING:
		c->state = CONSUMER__ST_REJECTED;
		c->reject_code = 403;
		return 0;
	case CONSUMER__ST_OPEN:
		c->state = CONSUMER__ST_CLOSING;
		c->tp->close(c->conn, code ? code : CLOSE_NORMAL, reason);
		return 0;
	default:
		return CH_ECLOSED;
	}
}

/* ---- client messages ---- */

void consumer_receive(struct consumer *c, const char *data, size_t len, bool binary)
{
	if (c->state != CONSUMER__ST_OPEN)
		return;
	if (!c->cls->json) {
		if (c->cls->on_receive) {
			consumer__enter(c);
			c->cls->on_receive(c, data, len, binary);
			consumer__leave(c);
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
		consumer__enter(c);
		c->cls->on_receive_json(c, content);
		consumer__leave(c);
	}
	json_decref(content);
}
