/*
 * layer_bus.c - the in-memory channel layer across the loops of one process
 * (--workers N). Each worker has an in-memory layer (`local`) for its own
 * connections; the bus, shared by all workers under one mutex, knows which
 * workers have members in each group and which worker registered each
 * receiver:
 *
 *   group_send(g)   local members directly; every other worker with members
 *                   through layer_group_send_threadsafe() on its `local`
 *   send(ch)        the worker that registered ch (or local, when nobody did:
 *                   the message then waits there, as in the in-memory layer)
 *
 * A message crossing threads is copied once per receiving worker (by the
 * thread-safe queue); each worker fans its copy out to its own members.
 * Lock order: bus->lock, then a layer's ts_lock (inside *_threadsafe).
 */
#include "layer_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUS_MAX 64

struct bus_group {
	struct layer__hnode node; /* key = name */
	uint64_t workers;         /* bit i: worker i has local members */
	char name[];
};

struct bus_chan {
	struct layer__hnode node; /* key = name */
	unsigned worker;
	char name[];
};

struct layer_bus {
	unsigned n;
	uv_mutex_t lock;
	struct layer_bus_upstream up; /* up.layer NULL: none */
	bool reachable;               /* what the upstream publishes leaves the process */
	struct layer *local[BUS_MAX]; /* each worker's in-memory layer; NULL once freed */
	struct layer__hash groups;    /* struct bus_group */
	struct layer__hash chans;     /* struct bus_chan */
};

struct bus_layer {
	struct layer base; /* first */
	struct layer_bus *bus;
	unsigned index;
	struct layer *local;
	uint64_t rng; /* channel names (with an upstream) */
};

static struct bus_layer *B(struct layer *l)
{
	return (struct bus_layer *)l;
}

struct layer_bus *layer_bus_new(unsigned n)
{
	if (n == 0 || n > BUS_MAX)
		return NULL;
	struct layer_bus *bus = calloc(1, sizeof(*bus));
	if (!bus)
		return NULL;
	bus->n = n;
	if (uv_mutex_init(&bus->lock) != 0 ||
	    layer__hash_init(&bus->groups, 64, LAYER__KEY_OFF(struct bus_group, node, name)) != 0 ||
	    layer__hash_init(&bus->chans, 256, LAYER__KEY_OFF(struct bus_chan, node, name)) != 0) {
		layer__hash_destroy(&bus->groups);
		free(bus);
		return NULL;
	}
	return bus;
}

static void hash_free_all(struct layer__hash *h)
{
	for (size_t b = 0; h->buckets && b <= h->mask; b++) {
		struct layer__hnode *n = h->buckets[b];
		while (n) {
			struct layer__hnode *next = n->next;
			free(n);
			n = next;
		}
	}
	layer__hash_destroy(h);
}

void layer_bus_free(struct layer_bus *bus)
{
	if (!bus)
		return;
	hash_free_all(&bus->groups);
	hash_free_all(&bus->chans);
	uv_mutex_destroy(&bus->lock);
	free(bus);
}

/* Under bus->lock. */
static struct layer__hnode *find(struct layer__hash *h, const char *key)
{
	return layer__hash_find(h, key, layer__hash_str(key));
}

void layer__bus_set_upstream(struct layer_bus *bus, const struct layer_bus_upstream *up)
{
	uv_mutex_lock(&bus->lock);
	if (up)
		bus->up = *up;
	else
		memset(&bus->up, 0, sizeof(bus->up));
	uv_mutex_unlock(&bus->lock);
}

void layer__bus_set_reachable(struct layer_bus *bus, bool reachable)
{
	uv_mutex_lock(&bus->lock);
	bus->reachable = reachable;
	uv_mutex_unlock(&bus->lock);
}

/* Asks the upstream (worker 0's Redis layer) to run one of its functions. */
enum up_op { UP_WANT, UP_UNWANT, UP_PUBLISH };

/* Returns false when a publish cannot leave the process now (no upstream,
 * or it is unreachable): it is then not queued. */
static bool upstream(struct layer_bus *bus, enum up_op op, const char *name, json_t *msg)
{
	bool ok = false;
	uv_mutex_lock(&bus->lock);
	if (bus->up.layer && (op != UP_PUBLISH || bus->reachable)) {
		layer__ts_fn fn = op == UP_WANT ? bus->up.want
				  : op == UP_UNWANT ? bus->up.unwant : bus->up.publish;
		ok = layer__call_threadsafe(bus->up.layer, fn, name, msg) == 0;
	}
	uv_mutex_unlock(&bus->lock);
	return ok;
}

/* The Redis channel of `group` under this layer's prefix. */
static bool group_channel(struct layer *l, const char *group, char *out, size_t outlen)
{
	return layer_group_channel(l->cfg.prefix, group, out, outlen) == 0;
}

bool layer__bus_send(struct layer_bus *bus, unsigned index, const char *channel, json_t *msg)
{
	bool done = false;
	uv_mutex_lock(&bus->lock);
	struct bus_chan *c = (struct bus_chan *)find(&bus->chans, channel);
	if (c && c->worker != index && bus->local[c->worker])
		done = layer_send_threadsafe(bus->local[c->worker], channel, msg) == 0;
	uv_mutex_unlock(&bus->lock);
	return done;
}

void layer__bus_attach(struct layer_bus *bus, unsigned index, struct layer *local)
{
	uv_mutex_lock(&bus->lock);
	bus->local[index] = local;
	uv_mutex_unlock(&bus->lock);
}

void layer__bus_forward(struct layer_bus *bus, unsigned index, const char *group, json_t *msg)
{
	uv_mutex_lock(&bus->lock);
	struct bus_group *g = (struct bus_group *)find(&bus->groups, group);
	uint64_t workers = g ? g->workers : 0;
	for (unsigned i = 0; i < bus->n; i++)
		if (i != index && (workers >> i & 1) && bus->local[i])
			layer_group_send_threadsafe(bus->local[i], group, msg);
	uv_mutex_unlock(&bus->lock);
}

void layer__bus_set_member(struct layer_bus *bus, const char *group, unsigned index, bool on)
{
	uv_mutex_lock(&bus->lock);
	struct bus_group *g = (struct bus_group *)find(&bus->groups, group);
	if (!g && on) {
		size_t n = strlen(group);
		g = calloc(1, sizeof(*g) + n + 1);
		if (g) {
			memcpy(g->name, group, n + 1);
			layer__hash_insert(&bus->groups, &g->node);
		}
	}
	if (g) {
		if (on)
			g->workers |= 1ULL << index;
		else
			g->workers &= ~(1ULL << index);
		if (!g->workers) {
			layer__hash_remove(&bus->groups, &g->node);
			free(g);
		}
	}
	uv_mutex_unlock(&bus->lock);
}

/* ---- the vtable ---- */

static int b_send(struct layer *l, const char *channel, json_t *msg)
{
	struct bus_layer *b = B(l);
	struct layer_bus *bus = b->bus;
	int rc = 1;
	uv_mutex_lock(&bus->lock);
	struct bus_chan *c = (struct bus_chan *)find(&bus->chans, channel);
	if (c && c->worker != b->index)
		rc = bus->local[c->worker] ? layer_send_threadsafe(bus->local[c->worker], channel, msg)
					   : CH_ECLOSED;
	bool remote = !c && bus->up.layer, sent = false;
	if (remote && bus->reachable) /* nobody in this process receives it: another may */
		sent = layer__call_threadsafe(bus->up.layer, bus->up.publish, channel, msg) == 0;
	uv_mutex_unlock(&bus->lock);
	if (remote && !sent)
		layer__log_local_only(channel);
	if (remote)
		return sent ? 0 : CH_EUNAVAIL;
	return rc == 1 ? layer_send(b->local, channel, msg) : rc;
}

static int b_group_add(struct layer *l, const char *group, const char *channel)
{
	struct bus_layer *b = B(l);
	unsigned before = layer__memory_group_size(b->local, group);
	int rc = layer_group_add(b->local, group, channel);
	if (rc == 0 && before == 0 && layer__memory_group_size(b->local, group) > 0) {
		char gc[2 * LAYER_NAME_MAX];
		layer__bus_set_member(b->bus, group, b->index, true);
		if (group_channel(l, group, gc, sizeof(gc)))
			upstream(b->bus, UP_WANT, gc, NULL);
	}
	return rc;
}

static int b_group_discard(struct layer *l, const char *group, const char *channel)
{
	struct bus_layer *b = B(l);
	unsigned before = layer__memory_group_size(b->local, group);
	int rc = layer_group_discard(b->local, group, channel);
	if (rc == 0 && before > 0 && layer__memory_group_size(b->local, group) == 0) {
		char gc[2 * LAYER_NAME_MAX];
		layer__bus_set_member(b->bus, group, b->index, false);
		if (group_channel(l, group, gc, sizeof(gc)))
			upstream(b->bus, UP_UNWANT, gc, NULL);
	}
	return rc;
}

static int b_group_discard_all(struct layer *l, const char *channel)
{
	return layer__group_discard_all_via(l, B(l)->local, channel);
}

static int b_group_send(struct layer *l, const char *group, json_t *msg)
{
	struct bus_layer *b = B(l);
	char gc[2 * LAYER_NAME_MAX];
	layer__bus_forward(b->bus, b->index, group, msg);
	/* Other processes, through worker 0's Redis connection (if any). */
	bool redis, published = false;
	uv_mutex_lock(&b->bus->lock);
	redis = b->bus->up.layer != NULL;
	uv_mutex_unlock(&b->bus->lock);
	if (redis && group_channel(l, group, gc, sizeof(gc)))
		published = upstream(b->bus, UP_PUBLISH, gc, msg);
	/* Local members (the in-memory layer also handles group expiry). */
	int rc = layer_group_send(b->local, group, msg);
	if (redis && !published && rc == 0) {
		layer__log_local_only(gc);
		rc = CH_ELOCAL;
	}
	return rc;
}

/* Drops worker `index` from every group and channel of the bus. */
/* Under bus->lock: drops worker `index` from every group, and with
 * `chans` from every channel it registered. */
static void forget(struct layer_bus *bus, unsigned index, bool chans)
{
	struct layer__hash *tables[2] = {&bus->groups, &bus->chans};
	for (int t = 0; t < (chans ? 2 : 1); t++) {
		struct layer__hash *h = tables[t];
		for (size_t k = 0; h->buckets && k <= h->mask; k++) {
			struct layer__hnode *n = h->buckets[k];
			while (n) {
				struct layer__hnode *next = n->next;
				bool drop;
				if (t == 0) {
					struct bus_group *g = (struct bus_group *)n;
					g->workers &= ~(1ULL << index);
					drop = g->workers == 0;
				} else {
					drop = ((struct bus_chan *)n)->worker == index;
				}
				if (drop) {
					layer__hash_remove(h, n);
					free(n);
				}
				n = next;
			}
		}
	}
}

void layer__bus_detach(struct layer_bus *bus, unsigned index)
{
	uv_mutex_lock(&bus->lock);
	bus->local[index] = NULL; /* no thread queues onto it from now on */
	forget(bus, index, true);
	uv_mutex_unlock(&bus->lock);
}

static void b_deliver(struct layer *l)
{
	layer_deliver(B(l)->local);
}

static int b_flush(struct layer *l)
{
	struct bus_layer *b = B(l);
	/* Groups go; receivers stay registered, as layer_flush(). */
	uv_mutex_lock(&b->bus->lock);
	forget(b->bus, b->index, false);
	uv_mutex_unlock(&b->bus->lock);
	return layer_flush(b->local);
}

/* Worker `index` registered (on) or removed (off) the receiver of
 * `channel`. Off only removes a record of that worker. */
int layer__bus_channel(struct layer_bus *bus, unsigned index, const char *channel, bool on)
{
	struct bus_chan *c = NULL;
	if (on) {
		size_t n = strlen(channel);
		c = calloc(1, sizeof(*c) + n + 1);
		if (!c)
			return CH_ENOMEM;
		memcpy(c->name, channel, n + 1);
		c->worker = index;
	}
	uv_mutex_lock(&bus->lock);
	struct bus_chan *old = (struct bus_chan *)find(&bus->chans, channel);
	/* on: another worker registered the same name: the newest wins */
	bool drop = old && (on || old->worker == index);
	if (drop)
		layer__hash_remove(&bus->chans, &old->node);
	if (c)
		layer__hash_insert(&bus->chans, &c->node);
	uv_mutex_unlock(&bus->lock);
	if (drop)
		free(old);
	return 0;
}

static int b_receiver_add(struct layer *l, const char *channel, layer_message_cb cb, void *ud)
{
	struct bus_layer *b = B(l);
	int rc = layer_receiver_add(b->local, channel, cb, ud);
	if (rc != 0)
		return rc;
	if (layer__bus_channel(b->bus, b->index, channel, true) != 0) {
		layer_receiver_remove(b->local, channel);
		return CH_ENOMEM;
	}
	upstream(b->bus, UP_WANT, channel, NULL); /* a remote send must reach it */
	return 0;
}

static const char *b_receiver_name(struct layer *l, const char *channel)
{
	return layer_receiver_name(B(l)->local, channel);
}

static int b_receiver_remove(struct layer *l, const char *channel)
{
	struct bus_layer *b = B(l);
	int rc = layer_receiver_remove(b->local, channel);
	if (rc == 0) {
		layer__bus_channel(b->bus, b->index, channel, false);
		upstream(b->bus, UP_UNWANT, channel, NULL);
	}
	return rc;
}

/* With an upstream (Redis) the names are channels_redis' pub/sub ones,
 * "<layer prefix><prefix>.<32 hex>", as worker 0's; else the in-memory
 * layer's. */
static int b_new_channel(struct layer *l, const char *prefix, char *out, size_t outlen)
{
	struct bus_layer *b = B(l);
	uv_mutex_lock(&b->bus->lock);
	bool redis = b->bus->up.layer != NULL;
	uv_mutex_unlock(&b->bus->lock);
	if (!redis)
		return layer_new_channel(b->local, prefix, out, outlen);
	return layer__pubsub_channel_name(l, prefix, &b->rng, out, outlen);
}

static void b_free(struct layer *l)
{
	struct bus_layer *b = B(l);
	layer__bus_detach(b->bus, b->index);
	layer_free(b->local);
}

static void b_stats(const struct layer *l, struct layer_stats *out)
{
	layer__stats_from(((const struct bus_layer *)l)->local, out);
}

static const struct layer_ops bus_ops = {
	.name = "memory",
	.send = b_send,
	.group_add = b_group_add,
	.group_discard = b_group_discard,
	.group_discard_all = b_group_discard_all,
	.group_send = b_group_send,
	.flush = b_flush,
	.deliver = b_deliver,
	.receiver_add = b_receiver_add,
	.receiver_name = b_receiver_name,
	.receiver_remove = b_receiver_remove,
	.new_channel = b_new_channel,
	.free = b_free,
	.stats = b_stats,
};

struct layer *layer_bus_memory_new(struct layer_bus *bus, unsigned index, uv_loop_t *loop,
				   const struct layer_config *cfg)
{
	if (!bus || index >= bus->n)
		return NULL;
	struct bus_layer *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	if (layer__init(&b->base, &bus_ops, loop, cfg) != 0) {
		free(b);
		return NULL;
	}
	b->bus = bus;
	b->index = index;
	b->rng = (uv_hrtime() ^ ((uint64_t)(uintptr_t)b << 17) ^ ((uint64_t)index << 40)) | 1;
	b->local = layer_memory_new(loop, &b->base.cfg);
	if (!b->local) {
		layer_free(&b->base);
		return NULL;
	}
	b->base.inner = b->local;
	layer__bus_attach(bus, index, b->local);
	return &b->base;
}
