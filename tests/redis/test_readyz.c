/*
 * test_readyz.c - /readyz and the Redis metrics of a real server on a real
 * redis-server: 200 once Redis is connected; 503 naming the cause within a
 * few seconds of Redis being stopped, and channels_redis_up 0 with
 * channels_layer_state{state="down"} 1; 200 again once it is restarted;
 * 503 while Redis is paused (SIGSTOP: stalled, then dropped) and 200 after
 * SIGCONT. /healthz stays 200 throughout (alive is not ready). And a
 * publish refused while Redis is down moves channels_layer_errors_total.
 *
 * argv: SERVER_EXE SOURCE_ROOT [CLI_EXE]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "redis_proc.h"

#define TOKEN "readyz-publish-token-0123456789ab"

/* GET `path`: the status (body into `body`, may be NULL), or -1. */
static int get(const struct h_server *s, const char *path, char *body, size_t len)
{
	struct client_response r;
	if (h_http(s, "GET", path, NULL, NULL, NULL, 0, &r) != 0)
		return -1;
	int st = r.status;
	if (body)
		snprintf(body, len, "%s", r.body ? r.body : "");
	client_response_clear(&r);
	return st;
}

/* Polls /readyz until it answers `want` (up to `ms`): true when it did. */
static bool readyz_becomes(const struct h_server *s, int want, int ms, char *body, size_t len)
{
	int64_t end = h_now_ms() + ms;
	int st = -1;
	while (h_now_ms() < end) {
		st = get(s, "/readyz", body, len);
		if (st == want)
			return true;
		h_sleep_ms(100);
	}
	fprintf(stderr, "/readyz: %d, expected %d within %d ms\n", st, want, ms);
	return false;
}

/* The metrics body contains `line` (a whole line). */
static bool metrics_has(const struct h_server *s, const char *line)
{
	static char body[65536];
	if (get(s, "/metrics", body, sizeof(body)) != 200)
		return false;
	char needle[256];
	snprintf(needle, sizeof(needle), "\n%s\n", line);
	bool ok = strstr(body, needle) != NULL;
	if (!ok)
		fprintf(stderr, "/metrics has no line '%s'\n", line);
	return ok;
}

/* channels_layer_errors_total summed over the workers (the publish
 * endpoint uses the layer of the worker that took the request), or -1. */
static long layer_errors(const struct h_server *s)
{
	static char body[65536];
	if (get(s, "/metrics", body, sizeof(body)) != 200)
		return -1;
	const char *k = "\nchannels_layer_errors_total{";
	long sum = 0;
	for (const char *p = strstr(body, k); p; p = strstr(p + 1, k))
		sum += atol(strchr(p, '}') + 2);
	return sum;
}

static int publish(const struct h_server *s)
{
	struct client_response r;
	const char *j = "{\"type\":\"chat.message\",\"message\":\"x\",\"username\":\"y\"}";
	if (h_http(s, "POST", "/_channels/group-send/chat_lobby/", NULL,
		   "Authorization: Bearer " TOKEN "\r\nContent-Type: application/json\r\n", j,
		   strlen(j), &r) != 0)
		return -1;
	int st = r.status;
	client_response_clear(&r);
	return st;
}

int main(int argc, char **argv)
{
	h_init(argc, argv, &check_failed);

	struct redis_proc rp;
	if (redis_proc_start(&rp) != 0) {
		CHECK(!"redis-server started");
		return check_finish();
	}
	struct h_server s;
	const char *extra[] = {"--workers", "2", "--redis", rp.url, "--redis-timeout", "1",
			       "--publish-token", TOKEN, NULL};
	if (h_server_start(&s, extra) != 0) {
		CHECK(!"server started");
		redis_proc_destroy(&rp);
		return check_finish();
	}
	char body[256];
	CHECK(readyz_becomes(&s, 200, 10000, body, sizeof(body)));
	CHECK_STR(body, "ok\n");
	CHECK(metrics_has(&s, "channels_redis_up 1"));
	CHECK(metrics_has(&s, "channels_layer_state{state=\"up\"} 1"));

	/* stopped: down */
	CHECK_INT(redis_proc_stop(&rp), 0);
	CHECK(readyz_becomes(&s, 503, 5000, body, sizeof(body)));
	CHECK_CONTAINS(body, "Redis");
	CHECK_INT(h_healthz(&s), 0);
	CHECK(metrics_has(&s, "channels_redis_up 0"));
	CHECK(metrics_has(&s, "channels_layer_state{state=\"down\"} 1"));
	long before = layer_errors(&s);
	CHECK(publish(&s) > 0); /* 503 or 202: the endpoint's answer is not this test's */
	h_sleep_ms(400); /* the layer's counters are copied every 250 ms */
	CHECK(layer_errors(&s) > before);

	/* back */
	CHECK_INT(redis_proc_restart(&rp), 0);
	CHECK(readyz_becomes(&s, 200, 10000, body, sizeof(body)));
	CHECK(metrics_has(&s, "channels_redis_up 1"));

	/* paused: stalled after --redis-timeout, then dropped and retried */
	CHECK_INT(redis_proc_signal(&rp, SIGSTOP), 0);
	CHECK(readyz_becomes(&s, 503, 8000, body, sizeof(body)));
	CHECK_CONTAINS(body, "Redis");
	CHECK(metrics_has(&s, "channels_redis_up 0"));
	CHECK_INT(redis_proc_signal(&rp, SIGCONT), 0);
	CHECK(readyz_becomes(&s, 200, 15000, body, sizeof(body)));

	CHECK_INT(h_server_stop(&s), 0);
	redis_proc_destroy(&rp);
	return check_finish();
}
