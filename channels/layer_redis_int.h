/*
 * layer_redis_int.h - what the two files of the Redis backend share
 * (private to channels/): layer_redis.c (the vtable, subscriptions, echo
 * suppression, incoming messages) and layer_redis_conn.c (the connections:
 * connect, health, stall detection, backoff, logging).
 *
 * Everything here runs on the loop thread of the layer.
 */
#ifndef CHANNELS_LAYER_REDIS_INT_H
#define CHANNELS_LAYER_REDIS_INT_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "layer_int.h"
#include "log.h"

#define REDIS__RETRY_MIN_MS 100
#define REDIS__RETRY_MAX_MS 5000
/* A connect that has not completed by then is abandoned and retried
 * (hiredis' libuv adapter does not report every failed connect). */
#define REDIS__CONNECT_TIMEOUT_MS 2000
#define REDIS__DEFAULT_TIMEOUT_S 5.0
/* The publish connection's bounds: past either, publishes are refused
 * (CH_ELOCAL) until Redis catches up, so a slow or stalled Redis cannot
 * grow our memory. Also what bounds the echoes that may still come. Both
 * leave room for a burst: hiredis writes on the next loop turn, and one
 * turn of a busy server may publish thousands of messages. */
#define REDIS__PENDING_MAX 65536         /* PUBLISHes awaiting their reply */
#define REDIS__OBUF_MAX (4u << 20)       /* bytes hiredis has not written yet */
/* Log lines a faulty Redis can trigger: one per cause per interval. */
#define REDIS__LOG_INTERVAL_S 10

struct redis_layer;
struct shard;

/* One expected echo: the hash of a payload we published, and the
 * generation of the publish connection that carried it. */
struct layer__redis_echo {
	uint64_t hash;
	uint32_t gen;
};

/* A name this process wants subscribed (a local channel or a group channel
 * with local members), in its shard's table. */
struct layer__redis_sub {
	struct layer__hnode node; /* key = name */
	unsigned members;         /* group channels: local members; channels: 1 */
	struct layer__redis_echo *echo; /* FIFO (ring) of expected echoes, oldest first */
	unsigned echo_head, echo_len, echo_cap;
	char name[];
};

/* One connection of a shard. */
struct layer__redis_conn {
	struct shard *shard;
	redisAsyncContext *ac; /* NULL while down */
	bool connected;        /* the connect callback said OK */
	bool usable;           /* proved usable: publish: a PING/PUBLISH reply was not an
				* error; subscribe: the probe channel's SUBSCRIBE confirmed */
	bool refusing;         /* publish: the last reply was an error (NOAUTH, NOPERM, ...) */
	bool is_sub;
	unsigned attempt;      /* failed attempts since it was last usable */
	uint64_t down_since;   /* uv_now() when it went down; 0 while usable */
	bool logged_down;      /* this outage was logged */
	uint32_t gen;          /* publish: incremented at every connect */
	/* Stall detection: replies (or probes) awaited, and the last progress. */
	unsigned long awaited;
	uint64_t progress_at;
	unsigned long pending_publishes; /* publish: PUBLISHes (not probes) awaiting a reply */
	struct log_limit lim_down, lim_back, lim_stall, lim_refused, lim_lost;
	uv_timer_t retry;
};

struct shard {
	struct redis_layer *r;
	unsigned index;
	struct layer_redis_url url;
	char label[300]; /* "redis://host:port" for logs, no password */
	struct layer__redis_conn pub, sub;
	struct layer__hash subs; /* struct layer__redis_sub by name */
	/* The heartbeat: a probe PUBLISHed on `probe` by the publish connection
	 * comes back on the subscribe connection. It proves both work, and its
	 * absence past the timeout is how a stalled subscribe side is found. */
	char probe[64];
	uint64_t probe_sent;     /* sequence of the last probe published */
	bool probe_replied;      /* the last probe's PUBLISH got its reply */
	bool probe_counts;       /* the subscribe side was usable when it was sent */
	uint64_t probe_seen;     /* sequence of the last probe that came back */
	uv_timer_t beat;
	/* Counted while unreachable, logged when it is back. */
	unsigned long local_only;
	unsigned long unconfirmed;
};

struct redis_layer {
	struct layer base; /* first */
	struct layer *local;
	struct layer_bus *bus;  /* the process's workers, or NULL */
	unsigned worker;
	enum layer_wire_format format;
	uint64_t timeout_ms;
	bool reachable;         /* last value told to the bus */
	unsigned n_shards;
	char group_prefix[LAYER_NAME_MAX + 16]; /* "<prefix>__group__" */
	size_t group_prefix_len;
	uint64_t rng;
	/* In the same allocation as the layer: their timers close after
	 * layer_free() returns, and the base frees the layer after the last. */
	struct shard shards[];
};

/* ---- layer_redis_conn.c ---- */

/* Inits the shard's connections and timers (unref'd) and starts both
 * connections. */
void layer__redis_shard_start(struct shard *s);
/* Frees the connections and closes the timers (layer teardown). */
void layer__redis_shard_close(struct shard *s);
/* May PUBLISH go out on this shard now (usable, not refusing, bounded)? */
bool layer__redis_pub_ok(const struct shard *s);
/* Sends PUBLISH name payload on the publish connection (layer__redis_pub_ok()
 * checked): 0 or CH_EUNAVAIL. */
int layer__redis_pub_send(struct shard *s, const char *name, const char *payload, size_t len);
/* (UN)SUBSCRIBE `name` on the subscribe connection, when it is connected
 * (otherwise done at the next connect). */
void layer__redis_sub_send(struct shard *s, const char *cmd, const char *name);
/* A message arrived on the subscribe connection: counts as progress; true
 * (and consumed) when it was this shard's probe. */
bool layer__redis_sub_progress(struct shard *s, const char *chan, const char *data, size_t len);
/* A subscribe confirmation for `chan` arrived. */
void layer__redis_sub_confirmed(struct shard *s, const char *chan);
/* Recomputes whether every shard can publish and tells the bus. */
void layer__redis_reachable_update(struct redis_layer *r);

/* ---- layer_redis.c ---- */

/* hiredis' reply callback of the subscribe connection (privdata: shard). */
void layer__redis_on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata);

#endif
