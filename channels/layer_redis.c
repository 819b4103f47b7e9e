/*
 * layer_redis.c - the Redis pub/sub backend, wire-compatible with
 * channels_redis' RedisPubSubChannelLayer. The connections (health, stalls,
 * backoff) are in layer_redis_conn.c.
 *
 * Shape: an in-memory layer (`local`) does everything inside the process:
 * receivers, groups, capacity, expiry and batched delivery. This file adds
 * what crosses processes:
 *
 *   receiver_add(ch)       local + SUBSCRIBE ch          (a remote send reaches us)
 *   group_add(g, ch)       local + SUBSCRIBE <p>__group__<g> on the first local member
 *   group_discard(g, ch)   local + UNSUBSCRIBE after the last
 *   send(ch)               local when ch is ours, else PUBLISH ch
 *   group_send(g)          local members at once (no Redis round trip, no race
 *                          with a SUBSCRIBE still in flight) + PUBLISH for the
 *                          other processes; the copy Redis echoes back to us is
 *                          recognised and skipped (see "echoes" below)
 *   a shard is down        local members still get group messages; remote ones
 *                          miss them (delivery is at most once) and the caller
 *                          gets CH_ELOCAL (send: CH_EUNAVAIL)
 *   a message from Redis   decoded once, handed to the local fan-out
 *
 * Each URL is a shard with two connections (publish, subscribe); names are
 * placed with channels_redis' crc32 ring.
 */
#include "layer_redis_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---- */

static struct redis_layer *R(struct layer *l)
{
	return (struct redis_layer *)l;
}

static struct shard *shard_for(struct redis_layer *r, const char *name)
{
	return &r->shards[layer_shard_index(name, r->n_shards)];
}

static struct layer__redis_sub *sub_find(struct shard *s, const char *name)
{
	struct layer__hnode *n = layer__hash_find(&s->subs, name, layer__hash_str(name));
	return n ? (struct layer__redis_sub *)n : NULL;
}

static void sub_free(struct layer__redis_sub *sb)
{
	free(sb->echo);
	free(sb);
}

static uint64_t payload_hash(const char *data, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ len; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)data[i]) * 0x100000001b3ULL;
	return h;
}

/*
 * ---- echoes ----
 *
 * A group_send reaches this process's members at once, and is PUBLISHed for
 * the others; when we are subscribed to that channel ourselves, Redis sends
 * the payload back to us, and it must not reach our members a second time,
 * however late it comes (a Redis paused for minutes delivers on resume).
 * So suppression cannot be time-based. It rests on ordering instead:
 *
 * - Redis runs the commands of one connection in order, and writes what one
 *   subscriber receives in the order it ran the PUBLISHes. So the echoes of
 *   the PUBLISHes one publish connection carried come back in publish order.
 * - Each subscribed channel keeps a FIFO of {hash of the payload, generation
 *   of the publish connection} for every PUBLISH we made on it (whatever the
 *   state of the subscription: a SUBSCRIBE on the other connection may take
 *   effect before or after the PUBLISH, we cannot know which).
 * - An incoming payload whose hash is in the FIFO is our echo: that entry
 *   goes, and so does every OLDER entry of the SAME generation: their
 *   echoes, had they been coming, would have come first. Entries of other
 *   generations stay: after a stall, Redis may still be running the dropped
 *   connection's buffered PUBLISHes while the new connection's are echoed,
 *   so the two generations interleave.
 * - An entry whose echo never comes (published before our SUBSCRIBE took
 *   effect, lost with a connection) is dropped by a later echo of its
 *   generation, or when the FIFO is full (the oldest), or with the FIFO when
 *   the channel is unsubscribed. The FIFO holds REDIS__ECHO_MAX entries,
 *   four times the PUBLISHes a connection may have awaiting a reply
 *   (REDIS__PENDING_MAX): the oldest entry is only dropped when at least
 *   that many newer publishes exist, by which time its own PUBLISH has been
 *   answered (or its connection dropped) long ago.
 * What this cannot tell apart: a payload from another process that is
 * byte-identical to one of ours (same type, same fields, same sender name)
 * while ours is expected or stale. It is taken for our echo: that message
 * is lost for our members (delivery is at most once, as in Channels), and
 * if it overtook the echoes of older publishes of ours, those are delivered
 * again. Messages that carry who sent them (chat: the username) make this
 * a corner case; a marker added to our payloads would rule it out, but
 * channels_redis peers would see it.
 */
#define REDIS__ECHO_MAX (4 * REDIS__PENDING_MAX)

static struct layer__redis_echo *echo_at(struct layer__redis_sub *sb, unsigned k)
{
	return &sb->echo[(sb->echo_head + k) % sb->echo_cap];
}

static void echo_expect(struct layer__redis_sub *sb, uint64_t hash, uint32_t gen)
{
	if (sb->echo_len == sb->echo_cap) {
		unsigned cap = sb->echo_cap ? sb->echo_cap * 2 : 16;
		struct layer__redis_echo *e =
		    cap <= REDIS__ECHO_MAX ? malloc(cap * sizeof(*e)) : NULL;
		if (!e) {
			/* Full: forget the oldest (see above). */
			sb->echo_head = (sb->echo_head + 1) % sb->echo_cap;
			sb->echo_len--;
		} else {
			for (unsigned i = 0; i < sb->echo_len; i++)
				e[i] = *echo_at(sb, i);
			free(sb->echo);
			sb->echo = e;
			sb->echo_head = 0;
			sb->echo_cap = cap;
		}
	}
	sb->echo[(sb->echo_head + sb->echo_len) % sb->echo_cap] =
	    (struct layer__redis_echo){hash, gen};
	sb->echo_len++;
}

/* True (and consumed, see above) when this payload is one of our echoes. */
static bool echo_is_ours(struct layer__redis_sub *sb, uint64_t hash)
{
	unsigned k = 0;
	while (k < sb->echo_len && echo_at(sb, k)->hash != hash)
		k++;
	if (k == sb->echo_len)
		return false;
	uint32_t gen = echo_at(sb, k)->gen;
	/* Compact: keep the entries before k of other generations, in order. */
	unsigned kept = 0;
	for (unsigned i = 0; i < k; i++) {
		struct layer__redis_echo e = *echo_at(sb, i);
		if (e.gen != gen)
			*echo_at(sb, kept++) = e;
	}
	unsigned removed = k + 1 - kept;
	/* Move the kept ones next to the entries after k. */
	for (unsigned i = kept; i-- > 0;)
		*echo_at(sb, i + removed) = *echo_at(sb, i);
	sb->echo_head = (sb->echo_head + removed) % sb->echo_cap;
	sb->echo_len -= removed;
	return true;
}

/* ---- subscriptions ---- */

/* One more local reason to be subscribed to `name`. */
static int want(struct redis_layer *r, const char *name)
{
	struct shard *s = shard_for(r, name);
	struct layer__redis_sub *sb = sub_find(s, name);
	if (sb) {
		sb->members++;
		return 0;
	}
	size_t n = strlen(name);
	sb = calloc(1, sizeof(*sb) + n + 1);
	if (!sb)
		return CH_ENOMEM;
	memcpy(sb->name, name, n + 1);
	sb->members = 1;
	layer__hash_insert(&s->subs, &sb->node);
	layer__redis_sub_send(s, "SUBSCRIBE", name);
	return 0;
}

/* One reason less; UNSUBSCRIBE after the last (its echo FIFO goes with it). */
static void unwant(struct redis_layer *r, const char *name)
{
	struct shard *s = shard_for(r, name);
	struct layer__redis_sub *sb = sub_find(s, name);
	if (!sb || --sb->members > 0)
		return;
	layer__hash_remove(&s->subs, &sb->node);
	layer__redis_sub_send(s, "UNSUBSCRIBE", name);
	sub_free(sb);
}

/* PUBLISH msg on `name`; when we are subscribed to `name` ourselves, the
 * echo Redis will send back is expected (and skipped). CH_EUNAVAIL (and
 * counted) when the shard cannot take it now. */
static int publish(struct redis_layer *r, const char *name, json_t *msg)
{
	struct shard *s = shard_for(r, name);
	if (!layer__redis_pub_ok(s)) {
		s->local_only++;
		return CH_EUNAVAIL;
	}
	char *payload = NULL;
	size_t len = 0;
	int rc = layer_wire_encode(msg, r->format, &payload, &len);
	if (rc != 0)
		return rc;
	rc = layer__redis_pub_send(s, name, payload, len);
	if (rc != 0)
		s->local_only++;
	struct layer__redis_sub *sb = rc == 0 ? sub_find(s, name) : NULL;
	if (sb)
		echo_expect(sb, payload_hash(payload, len), s->pub.gen);
	free(payload);
	return rc;
}

/* ---- incoming messages ---- */

static void deliver(struct redis_layer *r, struct shard *s, const char *name, const char *data,
		    size_t len)
{
	struct layer__redis_sub *sb = sub_find(s, name);
	if (sb && echo_is_ours(sb, payload_hash(data, len)))
		return; /* our own group_send: its local members have it already */
	json_t *msg = NULL;
	if (layer_wire_decode(data, len, &msg) != 0 || !layer__valid_message(msg)) {
		static struct log_limit lim = LOG_LIMIT_INIT(REDIS__LOG_INTERVAL_S);
		LOG_LIMITED(&lim, LOG_WARN, "redis",
			    "dropped an undecodable message on %s (%zu bytes)", name, len);
		json_decref(msg);
		return;
	}
	int rc;
	if (strncmp(name, r->group_prefix, r->group_prefix_len) == 0) {
		const char *group = name + r->group_prefix_len;
		if (r->bus) /* this process's other workers with members */
			layer__bus_forward(r->bus, r->worker, group, msg);
		rc = layer_group_send(r->local, group, msg);
	} else if (r->bus && layer__bus_send(r->bus, r->worker, name, msg)) {
		rc = 0; /* a consumer of another worker */
	} else {
		rc = layer_send(r->local, name, msg);
	}
	if (rc != 0 && rc != CH_ECHANFULL)
		LOG(LOG_DEBUG, "redis", "message on %s not delivered: %s", name, ch_strerror(rc));
	json_decref(msg);
	/* One read from Redis may carry more messages than a channel holds:
	 * the layer's delivery policy keeps it from overflowing one. */
	layer_input_done(&r->base);
}

void layer__redis_on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct shard *s = privdata;
	redisReply *rep = reply;
	if (!rep || s->r->base.closing || s->sub.ac != ac)
		return;
	if (rep->type == REDIS_REPLY_ERROR) {
		static struct log_limit lim = LOG_LIMIT_INIT(REDIS__LOG_INTERVAL_S);
		LOG_LIMITED(&lim, LOG_WARN, "redis", "%s (subscribe connection): %s", s->label,
			    rep->str);
		return;
	}
	/* ["message", channel, payload] or ["subscribe", channel, count]. */
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3)
		return;
	redisReply *kind = rep->element[0], *chan = rep->element[1], *data = rep->element[2];
	if (kind->type != REDIS_REPLY_STRING || chan->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(kind->str, "subscribe") == 0) {
		layer__redis_sub_confirmed(s, chan->str);
		return;
	}
	if (strcmp(kind->str, "message") != 0 || data->type != REDIS_REPLY_STRING)
		return;
	if (layer__redis_sub_progress(s, chan->str, data->str, (size_t)data->len))
		return; /* the heartbeat */
	deliver(s->r, s, chan->str, data->str, (size_t)data->len);
}

/* ---- the vtable ---- */

static int r_send(struct layer *l, const char *channel, json_t *msg)
{
	struct redis_layer *r = R(l);
	if (r->bus && layer__bus_send(r->bus, r->worker, channel, msg))
		return 0; /* another worker's (it may be subscribed through us) */
	if (layer_receiver_name(r->local, channel))
		return layer_send(r->local, channel, msg); /* ours: no round trip */
	int rc = publish(r, channel, msg);
	if (rc == CH_EUNAVAIL)
		layer__log_local_only(channel);
	return rc;
}

static int group_channel(struct redis_layer *r, const char *group, char *out, size_t outlen)
{
	return layer_group_channel(r->base.cfg.prefix, group, out, outlen);
}

static int r_group_add(struct layer *l, const char *group, const char *channel)
{
	struct redis_layer *r = R(l);
	char gc[2 * LAYER_NAME_MAX];
	int rc = group_channel(r, group, gc, sizeof(gc));
	if (rc != 0)
		return rc;
	unsigned before = layer__memory_group_size(r->local, group);
	rc = layer_group_add(r->local, group, channel);
	if (rc == 0 && layer__memory_group_size(r->local, group) > before) {
		rc = want(r, gc);
		if (before == 0 && r->bus)
			layer__bus_set_member(r->bus, group, r->worker, true);
	}
	return rc;
}

static int r_group_discard(struct layer *l, const char *group, const char *channel)
{
	struct redis_layer *r = R(l);
	char gc[2 * LAYER_NAME_MAX];
	int rc = group_channel(r, group, gc, sizeof(gc));
	if (rc != 0)
		return rc;
	unsigned before = layer__memory_group_size(r->local, group);
	rc = layer_group_discard(r->local, group, channel);
	unsigned after = layer__memory_group_size(r->local, group);
	if (rc == 0 && after < before) {
		unwant(r, gc);
		if (after == 0 && r->bus)
			layer__bus_set_member(r->bus, group, r->worker, false);
	}
	return rc;
}

static int r_group_discard_all(struct layer *l, const char *channel)
{
	return layer__group_discard_all_via(l, R(l)->local, channel);
}

static int r_group_send(struct layer *l, const char *group, json_t *msg)
{
	struct redis_layer *r = R(l);
	char gc[2 * LAYER_NAME_MAX];
	int rc = group_channel(r, group, gc, sizeof(gc));
	if (rc != 0)
		return rc;
	/* Local members at once, this process's other workers through the bus,
	 * other processes through Redis (they miss it while the shard is down:
	 * delivery is at most once). */
	int local = layer__memory_group_size(r->local, group) ? layer_group_send(r->local, group, msg)
							       : 0;
	if (r->bus)
		layer__bus_forward(r->bus, r->worker, group, msg);
	rc = publish(r, gc, msg);
	if (rc == CH_EUNAVAIL) {
		layer__log_local_only(gc);
		return local != 0 ? local : CH_ELOCAL;
	}
	return rc != 0 ? rc : local;
}

/* Drops (and with `unsubscribe`, UNSUBSCRIBEs) the group subscriptions, or
 * all of them with `all`. */
static void drop_subs(struct redis_layer *r, bool all, bool unsubscribe)
{
	for (unsigned i = 0; i < r->n_shards; i++) {
		struct shard *s = &r->shards[i];
		for (size_t b = 0; s->subs.buckets && b <= s->subs.mask; b++) {
			struct layer__hnode *h = s->subs.buckets[b];
			while (h) {
				struct layer__hnode *next = h->next;
				const char *key = layer__hash_key(&s->subs, h);
				if (all || strncmp(key, r->group_prefix, r->group_prefix_len) == 0) {
					layer__hash_remove(&s->subs, h);
					if (unsubscribe)
						layer__redis_sub_send(s, "UNSUBSCRIBE", key);
					sub_free((struct layer__redis_sub *)h);
				}
				h = next;
			}
		}
	}
}

static void r_deliver(struct layer *l)
{
	layer_deliver(((struct redis_layer *)l)->local);
}

/* Channels' flush(): groups go; receivers stay registered (and subscribed). */
static int r_flush(struct layer *l)
{
	struct redis_layer *r = R(l);
	drop_subs(r, false, true);
	return layer_flush(r->local);
}

static int r_receiver_add(struct layer *l, const char *channel, layer_message_cb cb, void *ud)
{
	struct redis_layer *r = R(l);
	int rc = layer_receiver_add(r->local, channel, cb, ud);
	if (rc == 0 && r->bus && layer__bus_channel(r->bus, r->worker, channel, true) != 0) {
		layer_receiver_remove(r->local, channel);
		return CH_ENOMEM;
	}
	if (rc == 0)
		rc = want(r, channel);
	return rc;
}

static const char *r_receiver_name(struct layer *l, const char *channel)
{
	return layer_receiver_name(R(l)->local, channel);
}

static int r_receiver_remove(struct layer *l, const char *channel)
{
	struct redis_layer *r = R(l);
	int rc = layer_receiver_remove(r->local, channel);
	if (rc == 0 && r->bus)
		layer__bus_channel(r->bus, r->worker, channel, false);
	if (rc == 0)
		unwant(r, channel);
	return rc;
}

/* channels_redis: f"{prefix}{'specific.'}{uuid4().hex}", e.g. "asgispecific.3f0c...". */
static int r_new_channel(struct layer *l, const char *prefix, char *out, size_t outlen)
{
	return layer__pubsub_channel_name(l, prefix, &R(l)->rng, out, outlen);
}

static void r_free(struct layer *l)
{
	struct redis_layer *r = R(l);
	drop_subs(r, true, false);
	for (unsigned i = 0; i < r->n_shards; i++) {
		if (r->shards[i].r) /* started */
			layer__redis_shard_close(&r->shards[i]);
		layer__hash_destroy(&r->shards[i].subs);
	}
	r->n_shards = 0;
	if (r->bus) {
		layer__bus_set_upstream(r->bus, NULL);
		layer__bus_detach(r->bus, r->worker);
	}
	layer_free(r->local);
}

static bool r_connected(const struct layer *l)
{
	const struct redis_layer *r = (const struct redis_layer *)l;
	for (unsigned i = 0; i < r->n_shards; i++)
		if (!layer__redis_pub_ok(&r->shards[i]) || !r->shards[i].sub.usable)
			return false;
	return true;
}

/* DOWN when a connection of a shard is not connected; STALLED when one is
 * connected but not proved usable, refusing, or its publish backlog is full. */
static int r_health(const struct layer *l)
{
	const struct redis_layer *r = (const struct redis_layer *)l;
	int h = LAYER_UP;
	for (unsigned i = 0; i < r->n_shards; i++) {
		const struct shard *s = &r->shards[i];
		if (!s->pub.ac || !s->pub.connected || !s->sub.ac || !s->sub.connected)
			return LAYER_DOWN;
		if (!layer__redis_pub_ok(s) || !s->sub.usable)
			h = LAYER_STALLED;
	}
	return h;
}

static void r_stats(const struct layer *l, struct layer_stats *out)
{
	layer__stats_from(((const struct redis_layer *)l)->local, out);
}

/* What the other workers ask of this layer through the bus (loop thread). */
static void up_want(struct layer *l, const char *name, json_t *msg)
{
	(void)msg;
	want(R(l), name);
}

static void up_unwant(struct layer *l, const char *name, json_t *msg)
{
	(void)msg;
	unwant(R(l), name);
}

static void up_publish(struct layer *l, const char *name, json_t *msg)
{
	if (msg && publish(R(l), name, msg) == CH_EUNAVAIL)
		layer__log_local_only(name);
}

static const struct layer_ops redis_ops = {
	.name = "redis",
	.send = r_send,
	.group_add = r_group_add,
	.group_discard = r_group_discard,
	.group_discard_all = r_group_discard_all,
	.group_send = r_group_send,
	.flush = r_flush,
	.deliver = r_deliver,
	.receiver_add = r_receiver_add,
	.receiver_name = r_receiver_name,
	.receiver_remove = r_receiver_remove,
	.new_channel = r_new_channel,
	.free = r_free,
	.stats = r_stats,
	.connected = r_connected,
	.health = r_health,
};

struct layer *layer_redis_new(uv_loop_t *loop, const struct layer_config *cfg,
			      const struct layer_redis_config *rcfg, char *err, size_t errlen)
{
	if (!rcfg || rcfg->n_urls == 0) {
		snprintf(err ? err : (char[1]){0}, err ? errlen : 1, "no Redis URL");
		return NULL;
	}
	struct redis_layer *r = calloc(1, sizeof(*r) + rcfg->n_urls * sizeof(struct shard));
	if (!r)
		return NULL;
	struct shard *shards = r->shards;
	for (size_t i = 0; i < rcfg->n_urls; i++) {
		struct shard *s = &shards[i];
		if (layer_redis_url_parse(rcfg->urls[i], &s->url, err, errlen) != 0 ||
		    layer__hash_init(&s->subs, 64,
				     LAYER__KEY_OFF(struct layer__redis_sub, node, name)) != 0) {
			for (size_t k = 0; k <= i; k++)
				layer__hash_destroy(&shards[k].subs);
			free(r);
			return NULL;
		}
		if (s->url.unix_path[0])
			snprintf(s->label, sizeof(s->label), "unix://%s", s->url.unix_path);
		else
			snprintf(s->label, sizeof(s->label), "redis://%s:%d", s->url.host,
				 s->url.port);
	}
	if (layer__init(&r->base, &redis_ops, loop, cfg) != 0) {
		for (size_t k = 0; k < rcfg->n_urls; k++)
			layer__hash_destroy(&shards[k].subs);
		free(r);
		return NULL;
	}
	r->local = layer_memory_new(loop, &r->base.cfg);
	r->base.inner = r->local;
	r->format = rcfg->format;
	r->bus = rcfg->bus;
	r->worker = rcfg->worker;
	if (r->bus && r->local) {
		struct layer_bus_upstream up = {&r->base, up_want, up_unwant, up_publish};
		layer__bus_attach(r->bus, r->worker, r->local);
		layer__bus_set_upstream(r->bus, &up);
	}
	r->n_shards = (unsigned)rcfg->n_urls;
	r->rng = (uint64_t)uv_hrtime() ^ ((uint64_t)(uintptr_t)r << 16) ^ 0x9e3779b97f4a7c15ULL;
	if (!r->rng)
		r->rng = 1;
	snprintf(r->group_prefix, sizeof(r->group_prefix), "%s__group__", r->base.cfg.prefix);
	r->group_prefix_len = strlen(r->group_prefix);
	r->timeout_ms = layer__seconds_to_ms(rcfg->timeout > 0 ? rcfg->timeout
							 : REDIS__DEFAULT_TIMEOUT_S);
	if (!r->local) {
		layer_free(&r->base);
		return NULL;
	}
	for (unsigned i = 0; i < r->n_shards; i++) {
		shards[i].r = r;
		shards[i].index = i;
		layer__redis_shard_start(&shards[i]);
	}
	return &r->base;
}
