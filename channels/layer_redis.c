/*
 * layer_redis.c - the Redis pub/sub backend, wire-compatible with
 * channels_redis' RedisPubSubChannelLayer, and the one file that joins
 * hiredis to libuv.
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
 *                          recognised and skipped (see `struct echo`)
 *   a shard is down        local members still get group messages; remote ones
 *                          miss them (delivery is at most once, as in Channels)
 *   a message from Redis   decoded once, handed to the local fan-out
 *
 * Each URL is a shard with two connections (publish, subscribe); names are
 * placed with channels_redis' crc32 ring. A lost connection is logged once,
 * retried with exponential backoff and jitter, and on reconnect every name
 * still wanted is subscribed again.
 */
#include "layer_int.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000

struct redis_layer;

/* A payload we published on a channel we are subscribed to: Redis sends it
 * back to us, in publish order, and we skip it because its local members
 * had it already. Entries older than ECHO_TTL_MS are dropped (their echo
 * was lost, e.g. the SUBSCRIBE was not active yet). */
#define ECHO_TTL_MS 10000
#define ECHO_MAX 65536

struct echo {
	uint64_t hash;
	uint64_t at; /* uv_now() */
};

/* A name this process wants subscribed (a local channel or a group channel
 * with local members), in its shard's table. */
struct sub {
	struct layer__hnode node; /* key = name */
	unsigned members;         /* group channels: local members; channels: 1 */
	struct echo *echo;        /* ring of expected echoes */
	unsigned echo_head, echo_len, echo_cap;
	char name[];
};

/* One connection of a shard. */
struct conn {
	struct shard *shard;
	redisAsyncContext *ac; /* NULL while down */
	bool up;               /* connect callback said OK (and AUTH sent) */
	bool is_sub;
	unsigned attempt;      /* failed attempts since the last success */
	uint64_t down_since;   /* uv_now() when it went down; 0 while up */
	bool logged_down;
	uv_timer_t retry;
};

struct shard {
	struct redis_layer *r;
	unsigned index;
	struct layer_redis_url url;
	char label[300]; /* "redis://host:port" for logs, no password */
	struct conn pub, sub;
	struct layer__hash subs; /* struct sub by name */
};

struct redis_layer {
	struct layer base; /* first */
	struct layer *local;
	unsigned since_deliver; /* messages from Redis since the last layer_deliver() */
	struct layer_bus *bus; /* the process's workers, or NULL */
	unsigned worker;
	enum layer_wire_format format;
	unsigned n_shards;
	char group_prefix[LAYER_NAME_MAX + 16]; /* "<prefix>__group__" */
	size_t group_prefix_len;
	uint64_t rng;
	/* In the same allocation as the layer: their retry timers close after
	 * layer_free() returns, and the base frees the layer after the last. */
	struct shard shards[];
};

static void conn_start(struct conn *c);
static void on_retry_timer(uv_timer_t *t);

/* A connect that has not completed by then is abandoned and retried
 * (hiredis' libuv adapter does not report every failed connect). */
#define CONNECT_TIMEOUT_MS 2000

/* ---- small helpers ---- */

static struct redis_layer *R(struct layer *l)
{
	return (struct redis_layer *)l;
}

static struct shard *shard_for(struct redis_layer *r, const char *name)
{
	return &r->shards[layer_shard_index(name, r->n_shards)];
}

static struct sub *sub_find(struct shard *s, const char *name)
{
	struct layer__hnode *n = layer__hash_find(&s->subs, name, layer__hash_str(name));
	return n ? (struct sub *)n : NULL;
}

static void sub_free(struct sub *sb)
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

static void echo_expire(struct sub *sb, uint64_t now)
{
	while (sb->echo_len && now - sb->echo[sb->echo_head].at > ECHO_TTL_MS) {
		sb->echo_head = (sb->echo_head + 1) % sb->echo_cap;
		sb->echo_len--;
	}
}

static void echo_expect(struct sub *sb, uint64_t hash, uint64_t now)
{
	echo_expire(sb, now);
	if (sb->echo_len == sb->echo_cap) {
		unsigned cap = sb->echo_cap ? sb->echo_cap * 2 : 16;
		struct echo *e = cap <= ECHO_MAX ? malloc(cap * sizeof(*e)) : NULL;
		if (!e) {
			/* Forget the oldest: its echo, if it comes, is delivered again. */
			sb->echo_head = (sb->echo_head + 1) % sb->echo_cap;
			sb->echo_len--;
		} else {
			for (unsigned i = 0; i < sb->echo_len; i++)
				e[i] = sb->echo[(sb->echo_head + i) % sb->echo_cap];
			free(sb->echo);
			sb->echo = e;
			sb->echo_head = 0;
			sb->echo_cap = cap;
		}
	}
	sb->echo[(sb->echo_head + sb->echo_len) % sb->echo_cap] = (struct echo){hash, now};
	sb->echo_len++;
}

/*
 * True (and consumed) when this payload is one of the echoes we expect.
 * Echoes come back in publish order, so entries before the match are echoes
 * that will never come (published before our SUBSCRIBE took effect) and are
 * dropped with it. Only the oldest ECHO_SCAN entries are looked at.
 */
#define ECHO_SCAN 64

static bool echo_is_ours(struct sub *sb, uint64_t hash, uint64_t now)
{
	echo_expire(sb, now);
	for (unsigned k = 0; k < sb->echo_len && k < ECHO_SCAN; k++) {
		if (sb->echo[(sb->echo_head + k) % sb->echo_cap].hash == hash) {
			sb->echo_head = (sb->echo_head + k + 1) % sb->echo_cap;
			sb->echo_len -= k + 1;
			return true;
		}
	}
	return false;
}

/* ---- commands ---- */

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata);

static void send_subscribe(struct shard *s, const char *cmd, const char *name)
{
	if (!s->sub.up)
		return; /* done on reconnect */
	const char *argv[2] = {cmd, name};
	size_t lens[2] = {strlen(cmd), strlen(name)};
	redisAsyncCommandArgv(s->sub.ac, on_sub_reply, s, 2, argv, lens);
}

/* One more local reason to be subscribed to `name`. */
static int want(struct redis_layer *r, const char *name)
{
	struct shard *s = shard_for(r, name);
	struct sub *sb = sub_find(s, name);
	if (sb) {
		sb->members++;
		return 0;
	}
	size_t n = strlen(name);
	sb = calloc(1, sizeof(*sb) + n + 1);
	if (!sb)
		return LAYER_ENOMEM;
	memcpy(sb->name, name, n + 1);
	sb->members = 1;
	layer__hash_insert(&s->subs, &sb->node);
	send_subscribe(s, "SUBSCRIBE", name);
	return 0;
}

/* One reason less; UNSUBSCRIBE after the last. */
static void unwant(struct redis_layer *r, const char *name)
{
	struct shard *s = shard_for(r, name);
	struct sub *sb = sub_find(s, name);
	if (!sb || --sb->members > 0)
		return;
	layer__hash_remove(&s->subs, &sb->node);
	send_subscribe(s, "UNSUBSCRIBE", name);
	sub_free(sb);
}

/* PUBLISH msg on `name`; when we are subscribed to `name` ourselves, the
 * echo Redis will send back is expected (and skipped). */
static int publish(struct redis_layer *r, const char *name, json_t *msg)
{
	struct shard *s = shard_for(r, name);
	if (!s->pub.up)
		return LAYER_EUNAVAIL;
	char *payload = NULL;
	size_t len = 0;
	int rc = layer_wire_encode(msg, r->format, &payload, &len);
	if (rc != 0)
		return rc;
	struct sub *sb = sub_find(s, name);
	if (sb && s->sub.up)
		echo_expect(sb, payload_hash(payload, len), uv_now(r->base.loop));
	const char *argv[3] = {"PUBLISH", name, payload};
	size_t lens[3] = {7, strlen(name), len};
	rc = redisAsyncCommandArgv(s->pub.ac, NULL, NULL, 3, argv, lens);
	free(payload);
	return rc == REDIS_OK ? 0 : LAYER_EUNAVAIL;
}

/* ---- incoming messages ---- */

static void deliver(struct redis_layer *r, struct shard *s, const char *name, const char *data,
		    size_t len)
{
	struct sub *sb = sub_find(s, name);
	if (sb && echo_is_ours(sb, payload_hash(data, len), uv_now(r->base.loop)))
		return; /* our own group_send: its local members have it already */
	json_t *msg = NULL;
	if (layer_wire_decode(data, len, &msg) != 0 || !layer__valid_message(msg)) {
		LOG(LOG_WARN, "redis", "dropped an undecodable message on %s (%zu bytes)", name,
		    len);
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
	if (rc != 0 && rc != LAYER_ECHANFULL)
		LOG(LOG_DEBUG, "redis", "message on %s not delivered: %s", name, layer_strerror(rc));
	json_decref(msg);
	/* One read from Redis may carry more messages than a channel holds:
	 * deliver every half capacity of them (each adds at most one per
	 * channel), so such a batch does not overflow a channel by itself. */
	unsigned every = r->base.cfg.capacity / 2 ? r->base.cfg.capacity / 2 : 1;
	if (++r->since_deliver >= every) {
		r->since_deliver = 0;
		layer_deliver(r->local);
	}
}

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct shard *s = privdata;
	redisReply *rep = reply;
	(void)ac;
	if (!rep || s->r->base.closing)
		return;
	if (rep->type == REDIS_REPLY_ERROR) {
		LOG(LOG_ERROR, "redis", "%s: %s", s->label, rep->str);
		return;
	}
	/* ["message", channel, payload]; subscribe/unsubscribe confirmations are skipped. */
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3)
		return;
	redisReply *kind = rep->element[0], *chan = rep->element[1], *data = rep->element[2];
	if (kind->type != REDIS_REPLY_STRING || strcmp(kind->str, "message") != 0 ||
	    chan->type != REDIS_REPLY_STRING || data->type != REDIS_REPLY_STRING)
		return;
	deliver(s->r, s, chan->str, data->str, (size_t)data->len);
}

/* ---- connections ---- */

static void schedule_retry(struct conn *c)
{
	struct redis_layer *r = c->shard->r;
	uint64_t delay = RETRY_MIN_MS;
	for (unsigned i = 0; i < c->attempt && delay < RETRY_MAX_MS; i++)
		delay *= 2;
	if (delay > RETRY_MAX_MS)
		delay = RETRY_MAX_MS;
	/* Full jitter in [delay/2, delay): processes that lost Redis together
	 * do not all come back in the same millisecond. */
	delay = delay / 2 + layer__xorshift(&r->rng) % (delay / 2 + 1);
	c->attempt++;
	uv_timer_start(&c->retry, on_retry_timer, delay, 0);
}

static void conn_down(struct conn *c, const char *why)
{
	struct layer *l = &c->shard->r->base;
	c->up = false;
	c->ac = NULL;
	if (l->closing)
		return;
	if (!c->down_since)
		c->down_since = uv_now(l->loop);
	if (!c->logged_down) {
		LOG(LOG_WARN, "redis", "%s (%s connection) is unreachable: %s; retrying with backoff",
		    c->shard->label, c->is_sub ? "subscribe" : "publish", why);
		c->logged_down = true;
	}
	schedule_retry(c);
}

static void resubscribe_all(struct shard *s)
{
	size_t n = s->subs.count;
	if (n == 0)
		return;
	const char **argv = malloc((n + 1) * sizeof(*argv));
	size_t *lens = malloc((n + 1) * sizeof(*lens));
	if (!argv || !lens) {
		free(argv);
		free(lens);
		return;
	}
	argv[0] = "SUBSCRIBE";
	lens[0] = 9;
	size_t k = 1;
	for (size_t b = 0; b <= s->subs.mask; b++)
		for (struct layer__hnode *h = s->subs.buckets[b]; h; h = h->next) {
			argv[k] = layer__hash_key(&s->subs, h);
			lens[k] = strlen(argv[k]);
			k++;
		}
	redisAsyncCommandArgv(s->sub.ac, on_sub_reply, s, (int)k, argv, lens);
	free(argv);
	free(lens);
}

/* The retry timer: a connect attempt that timed out, or the next attempt. */
static void on_retry_timer(uv_timer_t *t)
{
	struct conn *c = t->data;
	if (c->ac && !c->up) {
		redisAsyncContext *ac = c->ac;
		ac->data = NULL; /* its callbacks, run by the free, find no conn */
		c->ac = NULL;
		redisAsyncFree(ac);
		conn_down(c, "connect timed out");
		return;
	}
	if (!c->ac)
		conn_start(c);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct conn *c = ac->data;
	if (!c)
		return;
	if (status != REDIS_OK) {
		conn_down(c, ac->errstr[0] ? ac->errstr : "connect failed");
		return;
	}
	struct layer *l = &c->shard->r->base;
	if (c->down_since && c->logged_down)
		LOG(LOG_INFO, "redis", "%s (%s connection) is back after %.1f s", c->shard->label,
		    c->is_sub ? "subscribe" : "publish",
		    (double)(uv_now(l->loop) - c->down_since) / 1000.0);
	uv_timer_stop(&c->retry);
	c->up = true;
	c->attempt = 0;
	c->down_since = 0;
	c->logged_down = false;
	if (c->is_sub)
		resubscribe_all(c->shard);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct conn *c = ac->data;
	if (!c)
		return;
	conn_down(c, status == REDIS_OK ? "closed" : ac->errstr[0] ? ac->errstr : "disconnected");
}

static void on_auth(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct conn *c = privdata;
	redisReply *rep = reply;
	if (rep && rep->type == REDIS_REPLY_ERROR && c->ac == ac) {
		LOG(LOG_ERROR, "redis", "%s: AUTH refused: %s", c->shard->label, rep->str);
		redisAsyncDisconnect(ac);
	}
}

static void conn_start(struct conn *c)
{
	struct shard *s = c->shard;
	redisAsyncContext *ac = s->url.unix_path[0] ? redisAsyncConnectUnix(s->url.unix_path)
						    : redisAsyncConnect(s->url.host, s->url.port);
	if (!ac) {
		conn_down(c, "out of memory");
		return;
	}
	if (ac->err) {
		char why[128];
		snprintf(why, sizeof(why), "%s", ac->errstr);
		redisAsyncFree(ac);
		conn_down(c, why);
		return;
	}
	ac->data = c;
	c->ac = ac;
	redisLibuvAttach(ac, s->r->base.loop);
	/* The connection alone must not keep the loop alive: the server stops
	 * when its own handles are closed, then frees the layer. */
	uv_unref((uv_handle_t *)&((redisLibuvEvents *)ac->ev.data)->handle);
	uv_timer_start(&c->retry, on_retry_timer, CONNECT_TIMEOUT_MS, 0);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	/* Queued now, sent first once connected. */
	if (s->url.password[0]) {
		if (s->url.username[0])
			redisAsyncCommand(ac, on_auth, c, "AUTH %s %s", s->url.username,
					  s->url.password);
		else
			redisAsyncCommand(ac, on_auth, c, "AUTH %s", s->url.password);
	}
}

/* ---- the vtable ---- */

static int r_send(struct layer *l, const char *channel, json_t *msg)
{
	struct redis_layer *r = R(l);
	if (sub_find(shard_for(r, channel), channel))
		return layer_send(r->local, channel, msg); /* ours: no round trip */
	return publish(r, channel, msg);
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
	return rc == LAYER_EUNAVAIL ? local : rc;
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
						send_subscribe(s, "UNSUBSCRIBE", key);
					sub_free((struct sub *)h);
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
	if (rc == 0)
		unwant(r, channel);
	return rc;
}

/* channels_redis: f"{prefix}{'specific.'}{uuid4().hex}", e.g. "asgispecific.3f0c...". */
static int r_new_channel(struct layer *l, const char *prefix, char *out, size_t outlen)
{
	return layer__pubsub_channel_name(l, prefix, &R(l)->rng, out, outlen);
}

static void conn_close(struct conn *c)
{
	redisAsyncContext *ac = c->ac;
	c->ac = NULL;
	c->up = false;
	uv_timer_stop(&c->retry);
	if (ac) {
		ac->data = NULL; /* callbacks from the free below find no conn */
		redisAsyncFree(ac);
	}
	layer__close_handle(&c->shard->r->base, (uv_handle_t *)&c->retry);
}

static void r_free(struct layer *l)
{
	struct redis_layer *r = R(l);
	drop_subs(r, true, false);
	for (unsigned i = 0; i < r->n_shards; i++) {
		conn_close(&r->shards[i].pub);
		conn_close(&r->shards[i].sub);
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
		if (!r->shards[i].pub.up || !r->shards[i].sub.up)
			return false;
	return true;
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
	if (msg && publish(R(l), name, msg) == LAYER_EUNAVAIL)
		LOG(LOG_DEBUG, "redis", "publish to %s dropped: Redis is down", name);
}

static const struct layer_ops redis_ops = {
	.name = "redis",
	.send = r_send,
	.group_add = r_group_add,
	.group_discard = r_group_discard,
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
		    layer__hash_init(&s->subs, 64, LAYER__KEY_OFF(struct sub, node, name)) != 0) {
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
	for (unsigned i = 0; i < r->n_shards; i++) {
		struct shard *s = &shards[i];
		s->r = r;
		s->index = i;
		s->pub = (struct conn){.shard = s, .is_sub = false};
		s->sub = (struct conn){.shard = s, .is_sub = true};
		uv_timer_init(loop, &s->pub.retry);
		uv_timer_init(loop, &s->sub.retry);
		uv_unref((uv_handle_t *)&s->pub.retry);
		uv_unref((uv_handle_t *)&s->sub.retry);
		s->pub.retry.data = &s->pub;
		s->sub.retry.data = &s->sub;
	}
	if (!r->local) {
		layer_free(&r->base);
		return NULL;
	}
	for (unsigned i = 0; i < r->n_shards; i++) {
		conn_start(&shards[i].pub);
		conn_start(&shards[i].sub);
	}
	return &r->base;
}
