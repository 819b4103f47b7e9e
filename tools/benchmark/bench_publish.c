/*
 * bench_publish.c - the publish mode of channels-benchmark: PUBLISHes the
 * gossip events that a listen-mode run measures, paced on CLOCK_MONOTONIC
 * (hiredis' blocking API; messages that fell due together are pipelined).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "bench_int.h"
#include "log.h"

/* Most messages pipelined in one round trip when behind schedule. */
#define PIPELINE_MAX 1000

static void sleep_until(uint64_t t)
{
	struct timespec ts = {.tv_sec = (time_t)(t / 1000000000ull),
			      .tv_nsec = (long)(t % 1000000000ull)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Writes `count` to `path` through a temporary file and rename(). */
static int write_count(const char *path, uint64_t count)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%llu\n", (unsigned long long)count);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		remove(tmp);
		return -1;
	}
	return 0;
}

/* A connection to --redis (its database selected), or NULL (logged). */
static redisContext *publish_connect(const struct bench_opts *o)
{
	char host[256];
	int port, db;
	struct timeval tv = {5, 0};
	redisContext *c;
	redisReply *rep;

	if (bench_redis_url(o->redis, host, sizeof(host), &port, &db)) {
		LOG(LOG_ERROR, "bench", "bad --redis URL '%s'", o->redis);
		return NULL;
	}
	c = redisConnectWithTimeout(host, port, tv);
	if (!c || c->err) {
		LOG(LOG_ERROR, "bench", "cannot connect to %s: %s", o->redis,
		    c ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	if (db) {
		rep = redisCommand(c, "SELECT %d", db);
		if (!rep || rep->type == REDIS_REPLY_ERROR) {
			LOG(LOG_ERROR, "bench", "SELECT %d failed", db);
			freeReplyObject(rep);
			redisFree(c);
			return NULL;
		}
		freeReplyObject(rep);
	}
	return c;
}

int bench_publish_run(const struct bench_opts *o, struct bench_result *r)
{
	char chan[512];
	redisContext *c;
	redisReply *rep;
	uint64_t start, end, i = 0, ts;
	double interval;
	size_t cap = (size_t)o->message_size + 128;
	char *buf;
	int rc = 0;

	snprintf(chan, sizeof(chan), "%s__group__%s", o->layer_prefix, o->group);
	c = publish_connect(o);
	if (!c)
		return 1;
	buf = malloc(cap);
	if (!buf) {
		redisFree(c);
		return 1;
	}
	interval = 1e9 / o->rate;
	start = bench_now_ns();
	end = start + (uint64_t)(o->duration * 1e9);
	for (;;) {
		uint64_t due = start + (uint64_t)((double)i * interval), now;
		int k = 0;

		if (due >= end)
			break;
		sleep_until(due);
		now = bench_now_ns();
		while (k < PIPELINE_MAX) {
			size_t n;

			due = start + (uint64_t)((double)i * interval);
			if (due > now || due >= end)
				break;
			ts = bench_now_ns();
			n = bench_gossip_build(buf, cap, ts, i, (size_t)o->message_size);
			if (redisAppendCommand(c, "PUBLISH %s %b", chan, buf, n) != REDIS_OK)
				break;
			i++;
			k++;
		}
		for (int j = 0; j < k; j++) {
			void *reply = NULL;

			if (redisGetReply(c, &reply) != REDIS_OK) {
				LOG(LOG_ERROR, "bench", "redis: %s", c->errstr);
				rc = 1;
				break;
			}
			rep = reply;
			if (rep->type == REDIS_REPLY_ERROR)
				LOG(LOG_WARN, "bench", "PUBLISH: %s", rep->str);
			freeReplyObject(rep);
		}
		if (rc)
			break;
	}
	r->wall_s = (double)(bench_now_ns() - start) / 1e9;
	r->sent = i;
	r->rate = o->rate;
	r->total_rate = r->wall_s > 0 ? (double)i / r->wall_s : 0;
	free(buf);
	redisFree(c);
	if (o->expect_file && write_count(o->expect_file, i)) {
		LOG(LOG_ERROR, "bench", "cannot write %s: %s", o->expect_file, strerror(errno));
		rc = 1;
	}
	return rc;
}
