/*
 * layer_int.h - what a channel-layer backend sees (private to channels/).
 *
 * A backend is a struct that embeds `struct layer` as its FIRST member,
 * allocated with malloc()/calloc(), plus a `static const struct layer_ops`
 * built with designated initializers. Its constructor is the only symbol it
 * exports (declared in layer.h):
 *
 *	struct my_layer { struct layer base; ... };
 *	static const struct layer_ops my_ops = { .name = "redis", .send = ..., };
 *	struct layer *layer_redis_new(uv_loop_t *loop, const struct layer_config *cfg)
 *	{
 *		struct my_layer *r = calloc(1, sizeof(*r));
 *		if (!r || layer__init(&r->base, &my_ops, loop, cfg) != 0) {
 *			free(r);
 *			return NULL;
 *		}
 *		...; return &r->base;
 *	}
 *
 * layer.c owns argument validation, the ECLOSED check, the `sent` counter,
 * the thread-safe queue and the final free: an op is only ever called on the
 * loop thread, with valid names (layer_valid_*_name) and a valid message
 * (an object with a string "type"), and never after layer_free() started
 * (except `free` itself).
 *
 * Teardown: layer_free() sets `closing`, calls ops->free (drop all state,
 * close the backend's own uv handles with layer__close_handle()), then
 * closes the base's handles the same way. When the last handle closed, the
 * base frees the config copy and the struct itself with free().
 */
#ifndef CHANNELS_LAYER_INT_H
#define CHANNELS_LAYER_INT_H

#include "layer.h"

#include <stdint.h>

struct layer_ts_op;

/* A function run on a layer's loop thread by layer__call_threadsafe(). */
typedef void (*layer__ts_fn)(struct layer *l, const char *name, json_t *msg);

/* The backend vtable. Every op returns 0 or a negative CH_E* code unless
 * noted; `stats` is optional (NULL), all the others are required. */
struct layer_ops {
	const char *name; /* layer_backend_name() */
	/* Takes a reference to `msg` on success only. */
	int (*send)(struct layer *l, const char *channel, json_t *msg);
	int (*group_add)(struct layer *l, const char *group, const char *channel);
	int (*group_discard)(struct layer *l, const char *group, const char *channel);
	int (*group_discard_all)(struct layer *l, const char *channel);
	/* Takes a reference to `msg` for each queued copy (or shares one). */
	int (*group_send)(struct layer *l, const char *group, json_t *msg);
	int (*flush)(struct layer *l);
	/* Delivers what is queued for local receivers now (layer_deliver). */
	void (*deliver)(struct layer *l);
	int (*receiver_add)(struct layer *l, const char *channel, layer_message_cb cb, void *ud);
	int (*receiver_remove)(struct layer *l, const char *channel);
	/* `prefix` is valid and non-NULL, `outlen` >= LAYER_NAME_MAX; the wrapper
	 * re-validates the result. */
	int (*new_channel)(struct layer *l, const char *prefix, char *out, size_t outlen);
	/* Starts teardown, see above. May be called from inside a receiver
	 * callback of this layer: the backend then defers touching its state. */
	void (*free)(struct layer *l);
	/* Optional: adjusts *out after the base copied `stats` into it. */
	void (*stats)(const struct layer *l, struct layer_stats *out);
	/* Optional (NULL: always connected): layer_connected(). */
	bool (*connected)(const struct layer *l);
	/* Optional (NULL: from `connected`): layer_health(), an enum layer_health. */
	int (*health)(const struct layer *l);
	/* Optional (NULL: no copy kept): layer_receiver_name(). */
	const char *(*receiver_name)(struct layer *l, const char *channel);
};

/* The base every backend embeds first. Loop thread only, except `ts_*`. */
struct layer {
	const struct layer_ops *ops;
	struct layer_config cfg; /* copy; cfg.prefix points to a private copy */
	uv_loop_t *loop;
	bool closing;            /* layer_free() was called */
	unsigned handles_open;   /* closed via layer__close_handle(), not yet called back */
	/* Counters: `sent` is kept by layer.c; the backend keeps `delivered`,
	 * `dropped`, `groups` and `receivers` up to date (or fills them in
	 * ops->stats). */
	struct layer_stats stats;
	/* The delivery policy (layer_input_done()): units of input since the
	 * last layer_deliver(), and how many make a batch. */
	unsigned input_since_deliver;
	unsigned deliver_every;
	/* A backend that delivers through an inner in-memory layer (bus,
	 * Redis) sets `inner`; the round hook lives on the innermost layer,
	 * the one whose rounds call the receivers. */
	struct layer *inner;
	layer_round_cb round_cb;
	void *round_ud;

	/* The thread-safe queue: any thread appends under ts_lock, then calls
	 * uv_async_send(&ts_async); the loop thread drains it in order. */
	uv_mutex_t ts_lock;
	struct layer_ts_op *ts_head, *ts_tail;
	bool ts_closed;          /* under ts_lock: no more appends */
	uv_async_t ts_async;     /* unref'd: never keeps the loop alive alone */
};

/*
 * Fills the base: copies `cfg` (NULL: defaults; zero/negative fields take
 * their default too), inits and unrefs the async handle on `loop`.
 * Returns 0, CH_ENOMEM, or CH_EINVAL (uv failure). On failure nothing
 * needs closing and the caller frees its struct.
 */
int layer__init(struct layer *l, const struct layer_ops *ops, uv_loop_t *loop,
		const struct layer_config *cfg);

/*
 * Closes `h` (an initialized handle of the backend on l->loop) and counts it
 * until its close callback; the layer's memory outlives every such handle.
 * Overwrites h->data.
 */
void layer__close_handle(struct layer *l, uv_handle_t *h);

/* The in-memory layer's end of a delivery round: calls the round hook. */
void layer__round_end(struct layer *l);

/* The name of one group `channel` belongs to in an in-memory layer, NULL
 * when it is in none. Valid until the membership changes. */
const char *layer__memory_first_group(struct layer *mem, const char *channel);

/* group_discard_all for a backend wrapping the in-memory layer `inner`:
 * l's own group_discard for each group `inner` records for `channel`. */
int layer__group_discard_all_via(struct layer *l, struct layer *inner, const char *channel);

/* The number of local members of `group` in an in-memory layer (0 when the
 * group does not exist). The Redis backend builds on an in-memory layer for
 * its local fan-out and uses this to subscribe on the first member and
 * unsubscribe after the last. */
unsigned layer__memory_group_size(struct layer *mem, const char *group);

/*
 * The worker bus (layer_bus.c), for backends whose local fan-out is an
 * in-memory layer per worker: the bus knows each worker's in-memory layer
 * and which workers have members in each group and which worker registered
 * each channel. Worker 0's Redis layer is on it too: the workers of one
 * process reach each other through the bus, never through Redis. All of
 * these take the bus lock; any thread.
 */
void layer__bus_attach(struct layer_bus *bus, unsigned index, struct layer *local);
/* After this returns no thread queues onto that worker's layer. */
void layer__bus_detach(struct layer_bus *bus, unsigned index);
/* Worker `index` has (on) or no longer has (off) local members of `group`. */
void layer__bus_set_member(struct layer_bus *bus, const char *group, unsigned index, bool on);
/* Queues `msg` for `group` on every OTHER worker with members. */
void layer__bus_forward(struct layer_bus *bus, unsigned index, const char *group, json_t *msg);

/*
 * Any thread: runs call(l, name, copy of msg) on l's loop thread, in order
 * with the layer's other thread-safe operations. `msg` may be NULL.
 */
int layer__call_threadsafe(struct layer *l, layer__ts_fn call, const char *name, json_t *msg);

/*
 * The bus's upstream: with Redis, worker 0's Redis layer holds the process's
 * only Redis connections. The other workers ask it (through its thread-safe
 * queue) to subscribe to what their members need and to publish what they
 * send; it hands what arrives from Redis to them through the bus. Set by
 * the Redis layer (NULL to unset). Any thread.
 */
struct layer_bus_upstream {
	struct layer *layer;
	layer__ts_fn want;    /* name: a Redis channel to be subscribed to (counted) */
	layer__ts_fn unwant;
	layer__ts_fn publish; /* name: the Redis channel; msg: the message */
};
void layer__bus_set_upstream(struct layer_bus *bus, const struct layer_bus_upstream *up);

/* The upstream says whether what the workers publish can leave the process
 * now (Redis up and usable). While it cannot, the workers' group_send
 * returns CH_ELOCAL and their send to another process CH_EUNAVAIL.
 * Starts false. Any thread. */
void layer__bus_set_reachable(struct layer_bus *bus, bool reachable);

/*
 * Logs (rate-limited, one line per 10 s with a count) that a group_send or
 * send to `name` stayed in this process because the backend could not be
 * reached. The one place this cause is logged, whichever worker saw it.
 * Any thread.
 */
void layer__log_local_only(const char *name);

/* Worker `index` registered (on) or removed (off) the local receiver of
 * `channel`: what layer__bus_send() routes by. Every backend on a bus
 * (the bus layers, worker 0's Redis layer) calls it from its receiver_add
 * and receiver_remove. 0 or CH_ENOMEM (on). */
int layer__bus_channel(struct layer_bus *bus, unsigned index, const char *channel, bool on);

/* Forwards `msg` for `channel` to the worker (not `index`) that registered
 * it. Returns true when one did. */
bool layer__bus_send(struct layer_bus *bus, unsigned index, const char *channel, json_t *msg);

/* Advances the xorshift64 state *rng (non-zero) and returns it: names and
 * jitter, not secrets. */
uint64_t layer__xorshift(uint64_t *rng);

/*
 * channels_redis' pub/sub channel name, "<l's prefix><prefix>.<32 hex>"
 * ("asgispecific.3f0c..."), from the xorshift state *rng (non-zero).
 */
int layer__pubsub_channel_name(const struct layer *l, const char *prefix, uint64_t *rng,
			       char *out, size_t outlen);

/* For a backend that wraps an inner layer for its local fan-out (Redis,
 * the worker bus): takes the delivery counters from `inner`. */
void layer__stats_from(const struct layer *inner, struct layer_stats *out);

/* Milliseconds from the config's seconds (at least 1). */
uint64_t layer__seconds_to_ms(double s);

/* The message rule: a JSON object with a string member "type". */
bool layer__valid_message(const json_t *msg);

/*
 * A tiny intrusive string-keyed hash table (chained, power-of-two buckets,
 * grows at load factor 1). The node lives inside the caller's struct and
 * the key is a NUL-terminated string at a fixed offset from the node in the
 * same struct (the struct's trailing `char name[]`), so a node costs no key
 * pointer; the key must not change while the node is in a table.
 */
struct layer__hnode {
	struct layer__hnode *next;
	uint32_t hash;
};

struct layer__hash {
	struct layer__hnode **buckets;
	size_t mask;    /* bucket count - 1 */
	size_t count;
	size_t key_off; /* the key's offset from the node */
};

/* The key_off of a table of `type`, keyed by `key` and linked by `node`. */
#define LAYER__KEY_OFF(type, node, key) (offsetof(type, key) - offsetof(type, node))

uint32_t layer__hash_str(const char *s);
/* `buckets` is a power of two; `key_off` from LAYER__KEY_OFF(). */
int layer__hash_init(struct layer__hash *h, size_t buckets, size_t key_off);
void layer__hash_destroy(struct layer__hash *h);              /* nodes are not touched */
static inline const char *layer__hash_key(const struct layer__hash *h,
					  const struct layer__hnode *n)
{
	return (const char *)n + h->key_off;
}
/* `hash` is layer__hash_str(key). */
struct layer__hnode *layer__hash_find(const struct layer__hash *h, const char *key,
				      uint32_t hash);
/* Sets n->hash from its key. The key must not be present. Never fails: if
 * growing fails the table just stays denser. */
void layer__hash_insert(struct layer__hash *h, struct layer__hnode *n);
void layer__hash_remove(struct layer__hash *h, struct layer__hnode *n);

#endif
