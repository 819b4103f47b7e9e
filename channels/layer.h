/*
 * layer.h - the channel layer: named channels and groups, Channels semantics.
 *
 * A message is a JSON object with a string member "type" ("chat.message").
 * Every consumer owns one channel name; groups are named sets of channel
 * names. A backend (in-memory, Redis) sits behind a vtable (layer_int.h);
 * this header is the whole public face.
 *
 * Delivery model. Channels' consumers pull with receive(); here a local
 * receiver registers a callback for its channel name (layer_receiver_add)
 * and the layer pushes. Messages are never delivered from inside
 * layer_send()/layer_group_send(): they are queued and delivered on a later
 * turn of the layer's loop, in batches, so a handler may send again without
 * recursion. A message sent to a channel that has no receiver yet waits in
 * that channel's queue (up to `capacity`, for at most `expiry` seconds), as
 * in Channels.
 *
 * Immutability and ownership. layer_send()/layer_group_send() take their
 * own reference to `msg`; from then on the message is shared, possibly by
 * thousands of receivers, and nobody may modify it. A receiver callback gets
 * a borrowed pointer valid until it returns (json_incref() to keep it).
 *
 * Threading. A layer belongs to the thread running its uv loop; every
 * function here must be called on that thread, except the ones marked
 * "any thread".
 *
 * Errors are 0 or a negative CH_E* code; ch_strerror() names them.
 */
#ifndef CHANNELS_LAYER_H
#define CHANNELS_LAYER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "error.h"

/* Channel and group names are shorter than this (Channels' MAX_NAME_LENGTH). */
#define LAYER_NAME_MAX 100

struct layer_config {
	unsigned capacity;    /* messages queued per channel before ECHANFULL; default 100 */
	double expiry;        /* seconds a queued message stays deliverable; default 60 */
	double group_expiry;  /* seconds a group membership lasts without group_add; default 86400 */
	const char *prefix;   /* backend namespace (Redis key prefix); default "asgi" */
};

/* Fills `cfg` with the Channels defaults above. */
void layer_config_init(struct layer_config *cfg);

struct layer;

/*
 * Called on the layer's loop thread with a message for `channel`.
 * `msg` is borrowed and immutable. The callback may call any layer function,
 * including layer_receiver_remove() for its own channel.
 */
typedef void (*layer_message_cb)(void *ud, const char *channel, json_t *msg);

/*
 * The in-memory backend (Channels' InMemoryChannelLayer): one process, no
 * service needed. `cfg` may be NULL for the defaults; it is copied.
 * Returns NULL on allocation failure. Runs on `loop`'s thread.
 */
struct layer *layer_memory_new(uv_loop_t *loop, const struct layer_config *cfg);

/*
 * Frees the layer. Queued messages are dropped and receivers are not called
 * again. The layer closes uv handles: run the loop once more (uv_run with
 * UV_RUN_NOWAIT or DEFAULT) before uv_loop_close().
 */
void layer_free(struct layer *l);

/* "memory", "redis": the backend's name. */
const char *layer_backend_name(const struct layer *l);

/* The loop the layer was created on (the thread that may use it). */
uv_loop_t *layer_loop(const struct layer *l);

/* Channel names: [a-zA-Z0-9-_.]+ optionally followed by "!" [a-zA-Z0-9-_.]*,
 * shorter than LAYER_NAME_MAX. Group names: [a-zA-Z0-9-_.]+, same length. */
bool layer_valid_channel_name(const char *name);
bool layer_valid_group_name(const char *name);

/*
 * Writes a new, process-unique channel name starting with `prefix`
 * (NULL: "specific") into `out` (`outlen` >= LAYER_NAME_MAX).
 * The name is valid for layer_send() and layer_receiver_add().
 */
int layer_new_channel(struct layer *l, const char *prefix, char *out, size_t outlen);

/*
 * Queues `msg` for `channel`. Returns CH_ECHANFULL when the channel holds
 * `capacity` undelivered messages, CH_EUNAVAIL when the channel is in
 * another process and the backend cannot publish now (logged, rate-limited).
 * Takes a reference to `msg`.
 */
int layer_send(struct layer *l, const char *channel, json_t *msg);

/* Adds `channel` to `group` (refreshing its membership time if present). */
int layer_group_add(struct layer *l, const char *group, const char *channel);

/* Removes `channel` from `group`; not being a member is not an error. */
int layer_group_discard(struct layer *l, const char *group, const char *channel);

/*
 * Removes `channel` from every group it belongs to (what a consumer does
 * when its connection ends). The layer is the process's one record of
 * which channels are in which group: a caller keeps no list of its own
 * and asks this instead. Being in no group is not an error.
 */
int layer_group_discard_all(struct layer *l, const char *channel);

/*
 * Queues `msg` once for every member of `group` (members whose channel is
 * full are skipped, as in Channels). Takes a reference to `msg`; the same
 * json_t is handed to every local member's receiver. Returns CH_ELOCAL
 * when this process's members got it but the backend could not publish it
 * to other processes (Redis down, stalled or refusing; logged, rate-limited).
 */
int layer_group_send(struct layer *l, const char *group, json_t *msg);

/* Drops every queued message and every group (Channels' flush()). */
int layer_flush(struct layer *l);

/*
 * Delivers now, to the local receivers, what is queued for them, as the
 * next loop turn would: for a caller at the end of a batch of input (a
 * server after a read round), so the batch goes out before the loop polls.
 * Not from inside a receiver callback (a no-op there). Loop thread only.
 */
void layer_deliver(struct layer *l);

/*
 * The delivery policy, the one place it is written: a caller that queues
 * many messages in one turn (the server's socket reader, the Redis reader,
 * the thread-safe queue) calls this once per unit of input it handled (a
 * message read, whatever its handler sent). The layer counts them since
 * its last delivery and delivers by itself (layer_deliver()) every
 * min(capacity / 2, LAYER_DELIVER_EVERY_MAX) of them (at least 1).
 * Each unit adds at most one message per channel (a handler that sends
 * once per message), so a burst never overflows a channel by itself, and
 * channel queues hold one batch, not a turn's. Loop thread only.
 */
void layer_input_done(struct layer *l);

#define LAYER_DELIVER_EVERY_MAX 512

/*
 * A delivery round is one batch of receiver callbacks: a layer_deliver(),
 * or the layer's own delivery on a loop turn. `cb(ud)` runs on the loop
 * thread at the end of every round, after the last receiver callback of
 * the batch returned (not when the layer is being freed). A receiver that
 * keeps something per round (the consumers' broadcast cache, see
 * consumer.h) drops it there: nobody has to remember an end-of-turn call.
 * The hook must not deliver (layer_deliver() is a no-op in it). One hook
 * per layer: setting it again replaces it; cb NULL removes it.
 */
typedef void (*layer_round_cb)(void *ud);
void layer_round_hook_set(struct layer *l, layer_round_cb cb, void *ud);

/*
 * Registers the local receiver for `channel`: messages queued for it (and
 * any that arrive later) are delivered to `cb` on later loop turns.
 * One receiver per channel (CH_EEXIST otherwise).
 */
int layer_receiver_add(struct layer *l, const char *channel, layer_message_cb cb, void *ud);

/* Unregisters it; no callback for `channel` fires after this returns.
 * Messages still queued for it are dropped. `channel` may be the pointer
 * layer_receiver_name() returned. */
int layer_receiver_remove(struct layer *l, const char *channel);

/*
 * The layer's own copy of the name of `channel` while a receiver is
 * registered for it: unchanged and valid until layer_receiver_remove() for
 * that channel (the layer must not be freed before). NULL when no receiver
 * is registered, or when the backend keeps no such copy. Lets a receiver
 * that must know its name at all times (one per connection) hold no copy.
 */
const char *layer_receiver_name(struct layer *l, const char *channel);

/*
 * Any thread: queue a layer_group_send()/layer_send() to run on the layer's
 * loop thread (how a view on the thread pool signals a group). The layer
 * queues a private deep copy of `msg` (borrowed: the caller keeps and frees
 * its own), so no json_t is ever shared between threads. Validation errors
 * are returned at once; delivery errors are logged on the loop.
 */
int layer_group_send_threadsafe(struct layer *l, const char *group, json_t *msg);
int layer_send_threadsafe(struct layer *l, const char *channel, json_t *msg);

/*
 * Like the two above, but waits until the loop thread ran the call and
 * returns its result (CH_ELOCAL, CH_EUNAVAIL, ...): how a publisher
 * on another thread (the HTTP publish endpoint, a view) learns that its
 * message did not go beyond this process. Any thread EXCEPT the layer's
 * loop thread (it would wait for itself); blocks for one turn of that
 * loop. Returns CH_ECLOSED when the layer is freed meanwhile.
 */
int layer_group_send_wait(struct layer *l, const char *group, json_t *msg);
int layer_send_wait(struct layer *l, const char *channel, json_t *msg);

/* ---- several loops in one process (channels-server --workers N) ---- */

struct layer_bus;

/* The process-wide bus joining `n` (1..64) in-memory layers, one per loop
 * thread. Any thread. NULL on ENOMEM. */
struct layer_bus *layer_bus_new(unsigned n);

/* After every layer of the bus was freed (and its loop ran). */
void layer_bus_free(struct layer_bus *bus);

/*
 * Worker `index`'s layer: an in-memory layer whose groups and channels span
 * every worker on the bus. A group_send reaches local members directly and
 * each other worker with members once (through that worker's thread-safe
 * queue, as one copy that worker then shares among its members); a send
 * reaches the worker that registered the receiver. Runs on `loop`'s thread.
 */
struct layer *layer_bus_memory_new(struct layer_bus *bus, unsigned index, uv_loop_t *loop,
				   const struct layer_config *cfg);

/* ---- the Redis backend ---- */

/* The payload format of published messages. Incoming payloads of either
 * format are always accepted. */
enum layer_wire_format {
	LAYER_WIRE_MSGPACK = 0, /* channels_redis' format (msgpack map); the default */
	LAYER_WIRE_JSON = 1,    /* a JSON object, for publishers without msgpack */
};

struct layer_redis_config {
	const char *const *urls;  /* one per shard, see layer_redis_url_parse(); at least one */
	size_t n_urls;
	enum layer_wire_format format;
	/* Optional (NULL): the bus of the process's workers and this worker's
	 * index. This layer then holds the process's only Redis connections:
	 * the other workers' layers (layer_bus_memory_new() on the same bus)
	 * subscribe and publish through it, and it hands them what arrives. */
	struct layer_bus *bus;
	unsigned worker;
	/* Seconds a connection may go without progress (a reply it awaits, a
	 * write it cannot finish) before Redis counts as stalled: the
	 * connection is then dropped and retried with backoff. 0: 5 s. */
	double timeout;
};

/*
 * The Redis pub/sub backend, wire-compatible with channels_redis'
 * RedisPubSubChannelLayer: a group is the Redis channel
 * "<prefix>__group__<group>", a consumer's channel is
 * "<prefix>specific.<32 hex>", payloads are msgpack maps, names are sharded
 * over the URLs with channels_redis' crc32 ring. One SUBSCRIBE per group per
 * process (all its workers, with rcfg->bus), while it has local members.
 * Local fan-out, capacity and expiry are the in-memory backend's. Survives
 * Redis going away: reconnects with exponential backoff and jitter and
 * resubscribes; while a shard is down, stalled (rcfg->timeout) or refusing
 * commands, group messages reach this process's members only and
 * group_send returns CH_ELOCAL (send to another process's channel:
 * CH_EUNAVAIL); delivery is at most once, never twice. Returns NULL
 * with a reason in `err` for a bad URL.
 */
struct layer *layer_redis_new(uv_loop_t *loop, const struct layer_config *cfg,
			      const struct layer_redis_config *rcfg, char *err, size_t errlen);

/* Is every shard connected now? (memory: always true) */
bool layer_connected(const struct layer *l);

/*
 * Can the layer publish beyond this process now? LAYER_UP (memory: always),
 * LAYER_DOWN (a shard's connection is not connected: refused, closed,
 * reconnecting), LAYER_STALLED (connected, but Redis has not proved it
 * serves us: no reply yet, commands refused, or its publish backlog full).
 * What /readyz and the channels_layer_state metric report. Loop thread.
 */
enum layer_health { LAYER_UP = 0, LAYER_DOWN = 1, LAYER_STALLED = 2 };
enum layer_health layer_health(const struct layer *l);

/* ---- the wire format (pure functions, any thread) ---- */

/*
 * Encodes `msg` (an object) as a msgpack map (strings as str, integers,
 * reals as float64, true/false, null, arrays, nested objects) or as compact
 * JSON. *out is malloc'd. Returns 0 or CH_EINVAL / CH_ENOMEM.
 */
int layer_wire_encode(const json_t *msg, enum layer_wire_format fmt, char **out, size_t *outlen);

/*
 * Decodes a payload: a JSON object when its first non-blank byte is '{',
 * otherwise a msgpack map (bin values become strings when they are UTF-8,
 * are dropped otherwise; map keys must be strings). Returns 0 and a new
 * object in *out, or CH_EINVAL.
 */
int layer_wire_decode(const void *data, size_t len, json_t **out);

/* channels_redis' _consistent_hash: crc32(name) & 0xFFF onto n_shards. */
unsigned layer_shard_index(const char *name, unsigned n_shards);

/* Writes "<prefix>__group__<group>" into out; CH_EINVAL if it does not fit. */
int layer_group_channel(const char *prefix, const char *group, char *out, size_t outlen);

struct layer_redis_url {
	char host[256];      /* empty for unix sockets */
	int port;            /* default 6379 */
	char unix_path[108]; /* set for unix:// URLs */
	char password[256];  /* empty for none */
	char username[128];  /* ACL user (Redis 6), empty for none */
	int db;              /* default 0 (pub/sub channels are server-wide anyway) */
};

/*
 * Parses redis://[[user]:password@]host[:port][/db], rediss:// is refused
 * (no TLS), unix:///path/redis.sock[?db=N&password=P]. Host may be an
 * [IPv6] literal. Percent-escapes in the password are decoded.
 */
int layer_redis_url_parse(const char *url, struct layer_redis_url *out, char *err, size_t errlen);

/* Counters, for tests and metrics (loop thread). */
struct layer_stats {
	unsigned long long sent;       /* messages accepted by send/group_send (group_send counts 1) */
	unsigned long long delivered;  /* receiver callbacks made */
	unsigned long long dropped;    /* expired, full, or no receiver at flush */
	unsigned long long errors;     /* send/group_send refused after validation (CH_ELOCAL:
					  not published beyond this process, CH_EUNAVAIL, a full
					  channel, ...); invalid names and a closing layer excluded */
	unsigned groups;               /* groups with at least one member (local view) */
	unsigned long members;         /* group memberships of local channels (memory-based
					  backends; 0 when a backend does not count them) */
	unsigned receivers;            /* registered local receivers */
};
void layer_get_stats(const struct layer *l, struct layer_stats *out);

#endif
