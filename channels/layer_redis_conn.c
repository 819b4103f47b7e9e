/*
 * layer_redis_conn.c - the Redis backend's connections (two per shard:
 * publish and subscribe), and the one place hiredis is joined to libuv.
 *
 * A connection is *connected* once TCP (and AUTH, queued first) is done,
 * and *usable* once Redis proved it serves us: the publish connection's
 * PING (or a later PUBLISH) got a reply that is not an error, the subscribe
 * connection's SUBSCRIBE of the shard's probe channel was confirmed. Only
 * then is the backoff reset and "is back" logged, so a Redis that accepts
 * TCP and refuses every command (ACL, NOAUTH) is retried at the backoff's
 * pace, not in a loop.
 *
 * Stalls. A connection that awaits something from Redis (a reply; for the
 * subscribe side, the heartbeat probe the publish side sent through Redis)
 * and sees no progress for --redis-timeout is declared stalled: logged,
 * dropped, and retried with the same backoff. A paused Redis is thus
 * treated exactly as a dead one, and what we queue for it is bounded
 * (REDIS__PENDING_MAX replies, REDIS__OBUF_MAX unwritten bytes).
 *
 * Every line a faulty Redis can trigger is LOG_LIMITED, per connection and
 * cause.
 */
#include "layer_redis_int.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/sds.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void conn_start(struct layer__redis_conn *c);
static void on_retry_timer(uv_timer_t *t);

static uint64_t now_ms(const struct shard *s)
{
	return uv_now(s->r->base.loop);
}

static const char *kind(const struct layer__redis_conn *c)
{
	return c->is_sub ? "subscribe" : "publish";
}

void layer__redis_reachable_update(struct redis_layer *r)
{
	bool ok = r->n_shards > 0;
	for (unsigned i = 0; i < r->n_shards; i++) {
		const struct layer__redis_conn *p = &r->shards[i].pub;
		ok = ok && p->connected && p->usable && !p->refusing;
	}
	if (ok != r->reachable) {
		r->reachable = ok;
		if (r->bus)
			layer__bus_set_reachable(r->bus, ok);
	}
}

static void schedule_retry(struct layer__redis_conn *c)
{
	struct redis_layer *r = c->shard->r;
	uint64_t delay = REDIS__RETRY_MIN_MS;
	for (unsigned i = 0; i < c->attempt && delay < REDIS__RETRY_MAX_MS; i++)
		delay *= 2;
	if (delay > REDIS__RETRY_MAX_MS)
		delay = REDIS__RETRY_MAX_MS;
	/* Full jitter in [delay/2, delay): processes that lost Redis together
	 * do not all come back in the same millisecond. */
	delay = delay / 2 + layer__xorshift(&r->rng) % (delay / 2 + 1);
	c->attempt++;
	uv_timer_start(&c->retry, on_retry_timer, delay, 0);
}

/* The connection is gone (c->ac already freed or being freed by hiredis). */
static void conn_down(struct layer__redis_conn *c, const char *why, bool refused)
{
	struct shard *s = c->shard;
	struct layer *l = &s->r->base;
	c->connected = c->usable = c->refusing = false;
	c->ac = NULL;
	c->awaited = 0;
	if (c->is_sub)
		s->probe_seen = s->probe_sent; /* nothing in flight for this connection */
	else
		s->probe_replied = true; /* the next connection sends its own */
	if (!c->is_sub && c->pending_publishes) {
		s->unconfirmed += c->pending_publishes;
		if (!l->closing)
			LOG_LIMITED(&c->lim_lost, LOG_WARN, "redis",
				    "%s: %lu publishes were awaiting Redis' reply when the publish "
				    "connection was lost: other processes may have missed them",
				    s->label, c->pending_publishes);
		c->pending_publishes = 0;
	}
	if (l->closing)
		return;
	layer__redis_reachable_update(s->r);
	if (!c->down_since)
		c->down_since = now_ms(s);
	if (refused)
		LOG_LIMITED(&c->lim_refused, LOG_WARN, "redis",
			    "%s (%s connection): Redis refused: %s; retrying with backoff",
			    s->label, kind(c), why);
	else if (!c->logged_down)
		LOG_LIMITED(&c->lim_down, LOG_WARN, "redis",
			    "%s (%s connection) is unreachable: %s; retrying with backoff",
			    s->label, kind(c), why);
	c->logged_down = true;
	schedule_retry(c);
}

/* Frees our side of the connection; hiredis' callbacks find no conn. */
static void conn_drop(struct layer__redis_conn *c)
{
	redisAsyncContext *ac = c->ac;
	c->ac = NULL;
	if (ac) {
		ac->data = NULL;
		redisAsyncFree(ac);
	}
}

/* Redis proved this connection serves us. */
static void conn_usable(struct layer__redis_conn *c)
{
	struct shard *s = c->shard;
	c->usable = true;
	c->refusing = false;
	c->attempt = 0;
	if (c->logged_down) {
		unsigned n;
		if (LOG_INFO <= log_threshold && log_limit_pass(&c->lim_back, &n)) {
			char extra[160] = "";
			if (!c->is_sub && (s->local_only || s->unconfirmed))
				snprintf(extra, sizeof(extra),
					 "; meanwhile %lu publishes stayed in this process and %lu "
					 "were unconfirmed",
					 s->local_only, s->unconfirmed);
			log_write_limited(LOG_INFO, "redis", n, c->lim_back.interval_s,
					  "%s (%s connection) is back after %.1f s%s", s->label,
					  kind(c), (double)(now_ms(s) - c->down_since) / 1000.0,
					  extra);
			if (!c->is_sub)
				s->local_only = s->unconfirmed = 0;
		}
	}
	c->down_since = 0;
	c->logged_down = false;
	layer__redis_reachable_update(s->r);
}

/* A reply on the publish connection: progress, and the verdict on it. */
static bool pub_reply(redisAsyncContext *ac, redisReply *rep, struct layer__redis_conn *c,
		      const char *what)
{
	if (!rep || c->ac != ac)
		return false; /* teardown: conn_down() counts what was pending */
	if (c->awaited)
		c->awaited--;
	c->progress_at = now_ms(c->shard);
	if (rep->type == REDIS_REPLY_ERROR) {
		LOG_LIMITED(&c->lim_refused, LOG_WARN, "redis", "%s refused %s: %s",
			    c->shard->label, what, rep->str);
		if (!c->refusing) {
			c->refusing = true;
			layer__redis_reachable_update(c->shard->r);
		}
		return false;
	}
	if (!c->usable || c->refusing)
		conn_usable(c);
	return true;
}

static void on_publish_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct layer__redis_conn *c = privdata;
	if (reply && c->ac == ac && c->pending_publishes)
		c->pending_publishes--;
	pub_reply(ac, reply, c, "a PUBLISH (the message reached no other process)");
}

static void on_ping_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	pub_reply(ac, reply, privdata, "PING");
}

static void on_probe_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct layer__redis_conn *c = privdata;
	struct shard *s = c->shard;
	if (!reply || c->ac != ac)
		return;
	s->probe_replied = true;
	/* Refused: it never went through Redis, the subscribe side is not to
	 * blame for not seeing it. */
	if (!pub_reply(ac, reply, c, "the heartbeat PUBLISH") && s->probe_counts)
		s->sub.awaited = 0;
}

bool layer__redis_pub_ok(const struct shard *s)
{
	const struct layer__redis_conn *c = &s->pub;
	return c->ac && c->connected && c->usable && !c->refusing &&
	       c->pending_publishes < REDIS__PENDING_MAX &&
	       sdslen((sds)c->ac->c.obuf) < REDIS__OBUF_MAX;
}

static void awaiting(struct layer__redis_conn *c)
{
	if (!c->awaited++)
		c->progress_at = now_ms(c->shard);
}

int layer__redis_pub_send(struct shard *s, const char *name, const char *payload, size_t len)
{
	struct layer__redis_conn *c = &s->pub;
	const char *argv[3] = {"PUBLISH", name, payload};
	size_t lens[3] = {7, strlen(name), len};
	if (redisAsyncCommandArgv(c->ac, on_publish_reply, c, 3, argv, lens) != REDIS_OK)
		return CH_EUNAVAIL;
	c->pending_publishes++;
	awaiting(c);
	return 0;
}

void layer__redis_sub_send(struct shard *s, const char *cmd, const char *name)
{
	if (!s->sub.connected)
		return; /* done on reconnect */
	const char *argv[2] = {cmd, name};
	size_t lens[2] = {strlen(cmd), strlen(name)};
	redisAsyncCommandArgv(s->sub.ac, layer__redis_on_sub_reply, s, 2, argv, lens);
}

bool layer__redis_sub_progress(struct shard *s, const char *chan, const char *data, size_t len)
{
	s->sub.progress_at = now_ms(s);
	if (strcmp(chan, s->probe) != 0)
		return false;
	char buf[24];
	size_t n = len < sizeof(buf) - 1 ? len : sizeof(buf) - 1;
	memcpy(buf, data, n);
	buf[n] = '\0';
	uint64_t seq = strtoull(buf, NULL, 10);
	if (seq > s->probe_seen)
		s->probe_seen = seq;
	if (s->probe_seen >= s->probe_sent)
		s->sub.awaited = 0;
	return true;
}

void layer__redis_sub_confirmed(struct shard *s, const char *chan)
{
	if (strcmp(chan, s->probe) != 0 || s->sub.usable)
		return;
	s->sub.awaited = 0;
	s->sub.progress_at = now_ms(s);
	conn_usable(&s->sub);
}

/* SUBSCRIBE the probe channel and every name still wanted, in one command. */
static void resubscribe_all(struct shard *s)
{
	size_t n = s->subs.count;
	const char **argv = malloc((n + 2) * sizeof(*argv));
	size_t *lens = malloc((n + 2) * sizeof(*lens));
	if (!argv || !lens) {
		free(argv);
		free(lens);
		return; /* no confirmation comes: the stall check retries */
	}
	argv[0] = "SUBSCRIBE";
	argv[1] = s->probe;
	size_t k = 2;
	for (size_t b = 0; b <= s->subs.mask; b++)
		for (struct layer__hnode *h = s->subs.buckets[b]; h; h = h->next)
			argv[k++] = layer__hash_key(&s->subs, h);
	for (size_t i = 0; i < k; i++)
		lens[i] = strlen(argv[i]);
	redisAsyncCommandArgv(s->sub.ac, layer__redis_on_sub_reply, s, (int)k, argv, lens);
	free(argv);
	free(lens);
}

/* The retry timer: a connect attempt that timed out, or the next attempt. */
static void on_retry_timer(uv_timer_t *t)
{
	struct layer__redis_conn *c = t->data;
	if (c->ac && !c->connected) {
		conn_drop(c);
		conn_down(c, "connect timed out", false);
		return;
	}
	if (!c->ac)
		conn_start(c);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct layer__redis_conn *c = ac->data;
	if (!c)
		return;
	if (status != REDIS_OK) {
		conn_down(c, ac->errstr[0] ? ac->errstr : "connect failed", false);
		return;
	}
	struct shard *s = c->shard;
	uv_timer_stop(&c->retry);
	c->connected = true;
	c->awaited = 0;
	if (c->is_sub) {
		resubscribe_all(s);
		awaiting(c); /* the probe channel's confirmation */
	} else {
		c->gen++;
		redisAsyncCommand(c->ac, on_ping_reply, c, "PING");
		awaiting(c);
	}
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct layer__redis_conn *c = ac->data;
	if (!c)
		return;
	/* REDIS_ERR_OTHER: hiredis closed it after an error reply nobody
	 * awaited, e.g. a SUBSCRIBE refused by an ACL. */
	bool refused = status != REDIS_OK && ac->err == REDIS_ERR_OTHER;
	conn_down(c, status == REDIS_OK ? "closed" : ac->errstr[0] ? ac->errstr : "disconnected",
		  refused);
}

static void on_auth(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct layer__redis_conn *c = privdata;
	redisReply *rep = reply;
	if (rep && rep->type == REDIS_REPLY_ERROR && c->ac == ac) {
		LOG_LIMITED(&c->lim_refused, LOG_ERROR, "redis", "%s: AUTH refused: %s",
			    c->shard->label, rep->str);
		redisAsyncDisconnect(ac);
	}
}

static void conn_start(struct layer__redis_conn *c)
{
	struct shard *s = c->shard;
	redisAsyncContext *ac = s->url.unix_path[0] ? redisAsyncConnectUnix(s->url.unix_path)
						    : redisAsyncConnect(s->url.host, s->url.port);
	if (!ac) {
		conn_down(c, "out of memory", false);
		return;
	}
	if (ac->err) {
		char why[128];
		snprintf(why, sizeof(why), "%s", ac->errstr);
		redisAsyncFree(ac);
		conn_down(c, why, false);
		return;
	}
	ac->data = c;
	c->ac = ac;
	c->connected = c->usable = c->refusing = false;
	c->awaited = c->pending_publishes = 0;
	redisLibuvAttach(ac, s->r->base.loop);
	/* The connection alone must not keep the loop alive: the server stops
	 * when its own handles are closed, then frees the layer. */
	uv_unref((uv_handle_t *)&((redisLibuvEvents *)ac->ev.data)->handle);
	uv_timer_start(&c->retry, on_retry_timer, REDIS__CONNECT_TIMEOUT_MS, 0);
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

/* Declares `c` stalled when it awaited something for longer than the
 * timeout; returns true when it did. */
static bool check_stall(struct layer__redis_conn *c, uint64_t now)
{
	uint64_t timeout = c->shard->r->timeout_ms;
	if (!c->ac || !c->connected || !c->awaited || now - c->progress_at <= timeout)
		return false;
	/* Once per outage: a reconnect attempt that a still-paused Redis
	 * accepted (the kernel completes the TCP handshake) and never answers
	 * is one more failed attempt, not news. */
	if (!c->logged_down)
		LOG_LIMITED(&c->lim_stall, LOG_WARN, "redis",
			    "%s (%s connection) stalled: nothing from Redis for %.1f s "
			    "(--redis-timeout); dropping the connection and reconnecting",
			    c->shard->label, kind(c), (double)(now - c->progress_at) / 1000.0);
	if (!c->down_since)
		c->down_since = now;
	c->logged_down = true;
	conn_drop(c);
	conn_down(c, "stalled", false);
	return true;
}

/* The shard's heartbeat: stall checks, and a probe when none is in flight. */
static void on_beat(uv_timer_t *t)
{
	struct shard *s = t->data;
	uint64_t now = now_ms(s);
	check_stall(&s->pub, now);
	check_stall(&s->sub, now);
	struct layer__redis_conn *p = &s->pub;
	if (!p->ac || !p->connected || (s->probe_sent && !s->probe_replied))
		return;
	char seq[24];
	int n = snprintf(seq, sizeof(seq), "%llu", (unsigned long long)(s->probe_sent + 1));
	const char *argv[3] = {"PUBLISH", s->probe, seq};
	size_t lens[3] = {7, strlen(s->probe), (size_t)n};
	if (redisAsyncCommandArgv(p->ac, on_probe_reply, p, 3, argv, lens) != REDIS_OK)
		return;
	s->probe_sent++;
	s->probe_replied = false;
	awaiting(p);
	/* The subscribe side awaits it too, once it is subscribed to it. */
	s->probe_counts = s->sub.usable;
	if (s->probe_counts && !s->sub.awaited) {
		s->sub.awaited = 1;
		s->sub.progress_at = now;
	}
}

static void conn_init(struct shard *s, struct layer__redis_conn *c, bool is_sub)
{
	*c = (struct layer__redis_conn){
		.shard = s,
		.is_sub = is_sub,
		.lim_down = LOG_LIMIT_INIT(REDIS__LOG_INTERVAL_S),
		.lim_back = LOG_LIMIT_INIT(REDIS__LOG_INTERVAL_S),
		.lim_stall = LOG_LIMIT_INIT(REDIS__LOG_INTERVAL_S),
		.lim_refused = LOG_LIMIT_INIT(REDIS__LOG_INTERVAL_S),
		.lim_lost = LOG_LIMIT_INIT(REDIS__LOG_INTERVAL_S),
	};
	uv_timer_init(s->r->base.loop, &c->retry);
	uv_unref((uv_handle_t *)&c->retry);
	c->retry.data = c;
}

void layer__redis_shard_start(struct shard *s)
{
	struct redis_layer *r = s->r;
	snprintf(s->probe, sizeof(s->probe), "__channels_probe__.%016llx",
		 (unsigned long long)layer__xorshift(&r->rng));
	conn_init(s, &s->pub, false);
	conn_init(s, &s->sub, true);
	uv_timer_init(r->base.loop, &s->beat);
	uv_unref((uv_handle_t *)&s->beat);
	s->beat.data = s;
	uint64_t every = r->timeout_ms / 4;
	every = every < 20 ? 20 : every > 1000 ? 1000 : every;
	uv_timer_start(&s->beat, on_beat, every, every);
	conn_start(&s->pub);
	conn_start(&s->sub);
}

static void conn_close(struct layer__redis_conn *c)
{
	uv_timer_stop(&c->retry);
	conn_drop(c);
	c->connected = c->usable = false;
	layer__close_handle(&c->shard->r->base, (uv_handle_t *)&c->retry);
}

void layer__redis_shard_close(struct shard *s)
{
	uv_timer_stop(&s->beat);
	conn_close(&s->pub);
	conn_close(&s->sub);
	layer__close_handle(&s->r->base, (uv_handle_t *)&s->beat);
}
