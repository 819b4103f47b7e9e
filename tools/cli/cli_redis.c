/*
 * cli_redis.c - PUBLISH and SUBSCRIBE with hiredis' blocking API, the way
 * channels_redis' RedisPubSubChannelLayer names and shards channels.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define CONNECT_TIMEOUT_MS 5000

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

int cli_redis_channel(const struct cli_opts *o, char *out, size_t outlen)
{
	if (o->cmd == CLI_CMD_SEND) {
		if (strlen(o->target) >= outlen)
			return CLI_EXIT_USAGE;
		strcpy(out, o->target);
		return 0;
	}
	return layer_group_channel(o->prefix, o->target, out, outlen) == 0 ? 0 : CLI_EXIT_USAGE;
}

/* The URL without its password, for messages. */
static void display_url(const struct layer_redis_url *u, char *out, size_t outlen)
{
	if (u->unix_path[0])
		snprintf(out, outlen, "unix://%s", u->unix_path);
	else if (strchr(u->host, ':'))
		snprintf(out, outlen, "redis://[%s]:%d", u->host, u->port);
	else
		snprintf(out, outlen, "redis://%s:%d", u->host, u->port);
}

/*
 * Connects to `url` and authenticates. Returns the context or NULL with
 * *ex set and the reason in err.
 */
static redisContext *redis_open(const char *url, int timeout_ms, int *ex, char *err,
				size_t errlen)
{
	struct layer_redis_url u;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	char perr[200], shown[400];
	redisContext *c;
	redisReply *r;

	if (layer_redis_url_parse(url, &u, perr, sizeof(perr)) != 0) {
		snprintf(err, errlen, "bad Redis URL %s: %s", url, perr);
		*ex = CLI_EXIT_USAGE;
		return NULL;
	}
	display_url(&u, shown, sizeof(shown));
	c = u.unix_path[0] ? redisConnectUnixWithTimeout(u.unix_path, tv)
			   : redisConnectWithTimeout(u.host, u.port, tv);
	if (!c || c->err) {
		snprintf(err, errlen, "cannot reach Redis at %s: %s", shown,
			 c ? c->errstr : "out of memory");
		redisFree(c);
		*ex = CLI_EXIT_UNREACHABLE;
		return NULL;
	}
	redisSetTimeout(c, tv);
	if (u.password[0]) {
		if (u.username[0])
			r = redisCommand(c, "AUTH %s %s", u.username, u.password);
		else
			r = redisCommand(c, "AUTH %s", u.password);
		if (!r) {
			snprintf(err, errlen, "cannot reach Redis at %s: %s", shown, c->errstr);
			redisFree(c);
			*ex = CLI_EXIT_UNREACHABLE;
			return NULL;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "Redis at %s refused AUTH: %s", shown, r->str);
			freeReplyObject(r);
			redisFree(c);
			*ex = CLI_EXIT_REFUSED;
			return NULL;
		}
		freeReplyObject(r);
	}
	return c;
}

int cli_redis_publish(const struct cli_opts *o, const json_t *msg, long long *receivers,
		      char *err, size_t errlen)
{
	char chan[2 * LAYER_NAME_MAX + 16];
	char *payload = NULL;
	size_t plen = 0;
	unsigned shard;
	redisContext *c;
	redisReply *r;
	int ex = CLI_EXIT_OK, rc;

	*receivers = 0;
	if (cli_redis_channel(o, chan, sizeof(chan)) != 0) {
		snprintf(err, errlen, "channel name too long");
		return CLI_EXIT_USAGE;
	}
	rc = layer_wire_encode(msg, o->format, &payload, &plen);
	if (rc != 0) {
		snprintf(err, errlen, "cannot encode the message: %s", ch_strerror(rc));
		return CLI_EXIT_USAGE;
	}
	shard = layer_shard_index(chan, o->n_redis_urls);
	c = redis_open(o->redis_urls[shard],
		       o->timeout > 0 ? (int)(o->timeout * 1000) : CONNECT_TIMEOUT_MS, &ex, err,
		       errlen);
	if (!c) {
		free(payload);
		return ex;
	}
	r = redisCommand(c, "PUBLISH %b %b", chan, strlen(chan), payload, plen);
	free(payload);
	if (!r) {
		snprintf(err, errlen, "Redis connection lost during PUBLISH: %s", c->errstr);
		ex = CLI_EXIT_UNREACHABLE;
	} else if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "Redis refused PUBLISH: %s", r->str);
		ex = CLI_EXIT_REFUSED;
	} else if (r->type == REDIS_REPLY_INTEGER) {
		*receivers = r->integer;
	}
	freeReplyObject(r);
	redisFree(c);
	return ex;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Waits for the next reply, with signals unblocked only inside ppoll().
 * Returns 1 with *out, 0 at the deadline or on a stop signal, -1 when the
 * connection fails.
 */
static int next_reply(redisContext *c, double deadline, const sigset_t *waitmask,
		      redisReply **out)
{
	void *reply = NULL;

	*out = NULL;
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		struct timespec ts, *tsp = NULL;
		int n;

		if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
			return -1;
		if (reply) {
			*out = reply;
			return 1;
		}
		if (stop_signal)
			return 0;
		if (deadline > 0) {
			double left = deadline - now_s();

			if (left <= 0)
				return 0;
			ts.tv_sec = (time_t)left;
			ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
			tsp = &ts;
		}
		n = ppoll(&pfd, 1, tsp, waitmask);
		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0 && redisBufferRead(c) != REDIS_OK)
			return -1;
	}
}

static bool is_push(const redisReply *r, const char *kind)
{
	return r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
	       r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, kind) == 0;
}

/*
 * SIGINT and SIGTERM set stop_signal from now on, and are blocked except
 * inside ppoll() with *waitmask; *saved gets the mask to restore.
 */
static void stop_signals_catch(sigset_t *saved, sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, saved);
	*waitmask = *saved;
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGTERM);
	stop_signal = 0;
}

/* Prints a message's payload (msgpack or JSON) as one line of compact JSON
 * on `out`: true. False for a payload that is neither (said on stderr). */
static bool message_print(const redisReply *payload, FILE *out)
{
	json_t *msg;
	char *line;

	if (layer_wire_decode(payload->str, payload->len, &msg) != 0) {
		fprintf(stderr, "channels-cli: skipped a payload of %zu bytes that "
			"is neither a msgpack map nor a JSON object\n",
			(size_t)payload->len);
		return false;
	}
	line = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(msg);
	if (line) {
		fprintf(out, "%s\n", line);
		fflush(out);
		free(line);
	}
	return true;
}

int cli_redis_listen(const struct cli_opts *o, FILE *out, char *err, size_t errlen)
{
	char chan[2 * LAYER_NAME_MAX + 16];
	sigset_t waitmask, saved;
	double deadline = 0;
	redisContext *c;
	redisReply *r;
	long got = 0;
	int ex = CLI_EXIT_OK, rc, done = 0;

	if (cli_redis_channel(o, chan, sizeof(chan)) != 0) {
		snprintf(err, errlen, "channel name too long");
		return CLI_EXIT_USAGE;
	}
	stop_signals_catch(&saved, &waitmask);
	if (o->timeout > 0)
		deadline = now_s() + o->timeout;

	c = redis_open(o->redis_urls[layer_shard_index(chan, o->n_redis_urls)],
		       CONNECT_TIMEOUT_MS, &ex, err, errlen);
	if (!c)
		goto out;
	if (redisAppendCommand(c, "SUBSCRIBE %b", chan, strlen(chan)) != REDIS_OK) {
		snprintf(err, errlen, "cannot send SUBSCRIBE: %s", c->errstr);
		ex = CLI_EXIT_UNREACHABLE;
		goto out;
	}
	do {
		rc = redisBufferWrite(c, &done);
	} while (rc == REDIS_OK && !done);
	if (rc != REDIS_OK) {
		snprintf(err, errlen, "cannot send SUBSCRIBE: %s", c->errstr);
		ex = CLI_EXIT_UNREACHABLE;
		goto out;
	}
	while (!o->count || got < o->count) {
		rc = next_reply(c, deadline, &waitmask, &r);
		if (rc == 0) {
			if (!stop_signal && o->count) {
				snprintf(err, errlen, "--timeout elapsed after %ld of %ld messages",
					 got, o->count);
				ex = CLI_EXIT_INCOMPLETE;
			}
			break;
		}
		if (rc < 0) {
			snprintf(err, errlen, "lost the Redis connection: %s",
				 c->err ? c->errstr : strerror(errno));
			ex = CLI_EXIT_UNREACHABLE;
			break;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "Redis refused SUBSCRIBE: %s", r->str);
			freeReplyObject(r);
			ex = CLI_EXIT_REFUSED;
			break;
		}
		if (is_push(r, "subscribe")) {
			if (o->verbose)
				fprintf(stderr, "channels-cli: listening on %s\n", chan);
		} else if (is_push(r, "message") && r->element[2]->type == REDIS_REPLY_STRING) {
			if (message_print(r->element[2], out))
				got++;
		}
		freeReplyObject(r);
	}
out:
	redisFree(c);
	sigprocmask(SIG_SETMASK, &saved, NULL);
	return ex;
}
