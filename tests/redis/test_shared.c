/*
 * test_shared.c - two channels-server processes on one Redis (and on two
 * Redis shards): chat rooms and notifications across servers,
 * channels-cli's Redis transport (group-send, listen), a raw JSON PUBLISH,
 * --layer-prefix isolation, and no subscription left behind once the
 * clients are gone.
 *
 * argv: SERVER_EXE SOURCE_ROOT CLI_EXE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "check.h"
#include "harness.h"
#include "redis_proc.h"
#include "ws_checks.h"

static const char *cli_exe;

static int start_on(struct h_server *s, const char *redis, const char *prefix)
{
	/* Three workers: still one SUBSCRIBE per group per process (worker 0
	 * holds the Redis connections), which the PUBSUB NUMSUB counts below
	 * check exactly, with members spread over the workers. */
	const char *extra[] = {"--workers", "3", "--redis", redis,
			       prefix ? "--layer-prefix" : NULL, prefix, NULL};
	int rc = h_server_start(s, extra);
	CHECK_INT(rc, 0);
	return rc;
}

/* Starts servers `a` and `b` on `redis`: 0, or -1 with `a` stopped again
 * when either did not start. */
static int start_pair(struct h_server *a, struct h_server *b, const char *redis,
		      const char *prefix)
{
	if (start_on(a, redis, prefix) != 0 || start_on(b, redis, prefix) != 0) {
		h_server_stop(a);
		return -1;
	}
	return 0;
}

static int post(const struct h_server *s, const char *user, const char *text)
{
	struct h_jar jar = {0};
	if (h_login(s, &jar, user, "lobby") != 0)
		return -1;
	char body[512];
	snprintf(body, sizeof(body), "message=%s&csrfmiddlewaretoken=%s", text, jar.csrftoken);
	struct client_response r;
	if (h_http(s, "POST", "/posts/", &jar, NULL, body, strlen(body), &r) != 0)
		return -1;
	int status = r.status;
	client_response_clear(&r);
	CHECK_INT(status, 302);
	return status == 302 ? 0 : -1;
}

/* channels-cli --redis URLS [--layer-prefix PREFIX] group-send gossip of a
 * name.gossip from `sender` saying `message`; the CLI must exit 0. */
static void cli_gossip(const char *urls, const char *prefix, const char *sender,
		       const char *message)
{
	char msg[256];
	char *gs[9] = {(char *)cli_exe, "--redis", (char *)urls};
	size_t n = 3;
	struct cmd_result res;

	snprintf(msg, sizeof(msg),
		 "{\"type\":\"name.gossip\",\"event\":\"New Post\",\"sender\":\"%s\","
		 "\"message\":\"%s\"}",
		 sender, message);
	if (prefix) {
		gs[n++] = "--layer-prefix";
		gs[n++] = (char *)prefix;
	}
	gs[n++] = "group-send";
	gs[n++] = "gossip";
	gs[n++] = msg;
	gs[n] = NULL;
	CHECK_INT(cmd_run(gs, 10000, &res), 0);
	cmd_result_clear(&res);
}

/*
 * Over 80 lines: one scenario on one Redis and two servers, in order;
 * the subscription counts checked between steps depend on the members
 * the steps before added or removed.
 */
static void test_one_redis(void)
{
	struct redis_proc rp;
	CHECK_INT(redis_proc_start(&rp), 0);
	if (rp.pid <= 0)
		return;
	struct h_server a, b;
	if (start_pair(&a, &b, rp.url, NULL) != 0) {
		redis_proc_destroy(&rp);
		return;
	}
	fprintf(stderr, "redis %s, server A :%d, server B :%d\n", rp.url, a.port, b.port);

	/* Before any consumer: no group and no consumer channel subscribed. */
	CHECK_INT(redis_proc_channels(&rp, "asgi*", NULL, NULL), 0);

	struct h_jar ja = {0}, jb = {0}, jc = {0};
	CHECK_INT(h_login(&a, &ja, "alice", "lobby"), 0);
	CHECK_INT(h_login(&b, &jb, "bob", "lobby"), 0);
	CHECK_INT(h_login(&b, &jc, "carol", "other"), 0);
	struct client_ws *alice = open_ws(&a, "/ws/chat/lobby/", &ja);
	struct client_ws *bob = open_ws(&b, "/ws/chat/lobby/", &jb);
	struct client_ws *carol = open_ws(&b, "/ws/chat/other/", &jc);
	if (!alice || !bob || !carol)
		goto out;
	/* One subscription per server to the room's group channel. */
	CHECK(redis_proc_wait_numsub(&rp, "asgi__group__chat_lobby", 2, 3000));
	CHECK(redis_proc_wait_numsub(&rp, "asgi__group__chat_other", 1, 3000));
	CHECK_INT(redis_proc_numsub(&rp, "asgi__group__chat_lobby"), 2);

	/* The consumers' own channels, as channels_redis names them. */
	char **chat_specific = NULL;
	size_t n_chat_specific = 0;
	int64_t deadline = h_now_ms() + 2000;
	while (redis_proc_channels(&rp, "asgispecific.*", NULL, NULL) < 3 && h_now_ms() < deadline)
		h_sleep_ms(20);
	redis_proc_channels(&rp, "asgispecific.*", &chat_specific, &n_chat_specific);
	fprintf(stderr, "asgispecific.* with 3 chat clients: %zu\n", n_chat_specific);
	CHECK_INT(n_chat_specific, 3);
	for (size_t i = 0; i < n_chat_specific; i++) {
		CHECK_INT(strlen(chat_specific[i]), strlen("asgispecific.") + 32);
		CHECK(strspn(chat_specific[i] + 13, "0123456789abcdef") == 32);
	}

	/* Chat across servers, each side sees the right name; other room: nothing. */
	CHECK_INT(h_ws_send_chat(alice, "hello from A"), 0);
	expect_chat(alice, "alice", "hello from A", "alice", 2);
	expect_chat(bob, "bob", "hello from A", "alice", 2);
	CHECK_INT(h_ws_send_chat(bob, "hello from B"), 0);
	expect_chat(bob, "bob", "hello from B", "bob", 2);
	expect_chat(alice, "alice", "hello from B", "bob", 2);
	CHECK(h_ws_silent(carol, 300, "carol (room other)"));

	/* Notifications on both servers. */
	struct client_ws *na = open_ws(&a, "/notifications/", NULL);
	struct client_ws *nb = open_ws(&b, "/notifications/", NULL);
	if (!na || !nb)
		goto out;
	CHECK(redis_proc_wait_numsub(&rp, "asgi__group__gossip", 2, 3000));

	/* channels-cli --redis group-send reaches both. */
	cli_gossip(rp.url, NULL, "cron", "hi");
	expect_gossip(na, "notifications on A", "cron", "hi");
	expect_gossip(nb, "notifications on B", "cron", "hi");

	/* A post on A reaches B (and A). */
	CHECK_INT(post(&a, "poster", "posted+on+A"), 0);
	expect_gossip(nb, "notifications on B", "poster", "posted on A");
	expect_gossip(na, "notifications on A", "poster", "posted on A");

	/* channels-cli listen prints a post made on A as one JSON line. */
	long long before = redis_proc_numsub(&rp, "asgi__group__gossip");
	struct cmd_result res;
	struct cmd_proc lp;
	char *ls[] = {(char *)cli_exe, "--redis", rp.url, "listen", "gossip", "--count", "1",
		      "--timeout", "15", NULL};
	CHECK_INT(cmd_spawn(&lp, ls), 0);
	CHECK(redis_proc_wait_numsub(&rp, "asgi__group__gossip", before + 1, 5000));
	CHECK_INT(post(&a, "lister", "for+the+listener"), 0);
	CHECK_INT(cmd_wait(&lp, 10000, &res), 0);
	fprintf(stderr, "listen: stdout \"%s\" stderr \"%s\"\n", res.out, res.err);
	{
		size_t nl = 0;
		for (const char *p = res.out; *p; p++)
			nl += *p == '\n';
		CHECK_INT(nl, 1);
		json_error_t jerr;
		json_t *v = json_loads(res.out, JSON_DISABLE_EOF_CHECK, &jerr);
		CHECK(json_is_object(v));
		CHECK_STR(json_string_value(json_object_get(v, "type")), "name.gossip");
		CHECK_STR(json_string_value(json_object_get(v, "event")), "New Post");
		CHECK_STR(json_string_value(json_object_get(v, "sender")), "lister");
		CHECK_STR(json_string_value(json_object_get(v, "message")), "for the listener");
		json_decref(v);
	}
	cmd_result_clear(&res);
	expect_gossip(na, "notifications on A", "lister", "for the listener");
	expect_gossip(nb, "notifications on B", "lister", "for the listener");

	/* A JSON payload PUBLISHed by hand (redis-cli style). */
	const char *raw = "{\"type\":\"name.gossip\",\"event\":\"New Post\",\"sender\":\"redis-cli\","
			  "\"message\":\"raw json\"}";
	CHECK_INT(redis_proc_publish(&rp, "asgi__group__gossip", raw, strlen(raw)), 2);
	expect_gossip(na, "notifications on A", "redis-cli", "raw json");
	expect_gossip(nb, "notifications on B", "redis-cli", "raw json");
	/* ... and a chat message published the same way. */
	const char *rawchat = "{\"type\":\"chat.message\",\"message\":\"from outside\","
			      "\"username\":\"ext\"}";
	CHECK_INT(redis_proc_publish(&rp, "asgi__group__chat_lobby", rawchat, strlen(rawchat)), 2);
	expect_chat(alice, "alice", "from outside", "ext", 2);
	expect_chat(bob, "bob", "from outside", "ext", 2);
	CHECK(h_ws_silent(carol, 200, "carol (room other)"));

	/* No leaked subscriptions once a room's clients are gone. */
	close_ws(&alice);
	close_ws(&bob);
	close_ws(&carol);
	CHECK(redis_proc_wait_channel(&rp, "asgi__group__chat_lobby", false, 2000));
	CHECK(redis_proc_wait_channel(&rp, "asgi__group__chat_other", false, 2000));
	for (size_t i = 0; i < n_chat_specific; i++)
		CHECK(redis_proc_wait_channel(&rp, chat_specific[i], false, 2000));
	CHECK(redis_proc_has_channel(&rp, "asgi__group__gossip"));
	close_ws(&na);
	close_ws(&nb);
	CHECK(redis_proc_wait_channel(&rp, "asgi__group__gossip", false, 2000));
	deadline = h_now_ms() + 2000;
	while (redis_proc_channels(&rp, "asgi*", NULL, NULL) > 0 && h_now_ms() < deadline)
		h_sleep_ms(20);
	{
		char **left = NULL;
		size_t n_left = 0;
		redis_proc_channels(&rp, "asgi*", &left, &n_left);
		for (size_t i = 0; i < n_left; i++)
			fprintf(stderr, "still subscribed after every client left: %s\n", left[i]);
		CHECK_INT(n_left, 0);
		redis_proc_free_names(left, n_left);
	}
	redis_proc_free_names(chat_specific, n_chat_specific);
	CHECK(h_server_alive(&a));
	CHECK(h_server_alive(&b));
out:
	close_ws(&alice);
	close_ws(&bob);
	close_ws(&carol);
	CHECK_INT(h_server_stop(&a), 0);
	CHECK_INT(h_server_stop(&b), 0);
	redis_proc_destroy(&rp);
}

/* --layer-prefix other on both servers: works, and asgi__group__ traffic
 * is not heard. */
static void test_prefix(void)
{
	struct redis_proc rp;
	CHECK_INT(redis_proc_start(&rp), 0);
	if (rp.pid <= 0)
		return;
	struct h_server a, b;
	if (start_pair(&a, &b, rp.url, "other") != 0) {
		redis_proc_destroy(&rp);
		return;
	}
	struct h_jar ja = {0}, jb = {0};
	CHECK_INT(h_login(&a, &ja, "alice", "lobby"), 0);
	CHECK_INT(h_login(&b, &jb, "bob", "lobby"), 0);
	struct client_ws *alice = open_ws(&a, "/ws/chat/lobby/", &ja);
	struct client_ws *bob = open_ws(&b, "/ws/chat/lobby/", &jb);
	struct client_ws *nb = open_ws(&b, "/notifications/", NULL);
	if (!alice || !bob || !nb)
		goto out;
	CHECK(redis_proc_wait_numsub(&rp, "other__group__chat_lobby", 2, 3000));
	CHECK(redis_proc_wait_numsub(&rp, "other__group__gossip", 1, 3000));
	CHECK_INT(redis_proc_channels(&rp, "asgi*", NULL, NULL), 0);
	CHECK(redis_proc_channels(&rp, "otherspecific.*", NULL, NULL) >= 1);

	CHECK_INT(h_ws_send_chat(alice, "prefixed from A"), 0);
	expect_chat(bob, "bob", "prefixed from A", "alice", 2);
	expect_chat(alice, "alice", "prefixed from A", "alice", 2);
	CHECK_INT(h_ws_send_chat(bob, "prefixed from B"), 0);
	expect_chat(alice, "alice", "prefixed from B", "bob", 2);
	expect_chat(bob, "bob", "prefixed from B", "bob", 2);

	/* The default prefix's traffic: nobody listens, nobody hears. */
	const char *chat = "{\"type\":\"chat.message\",\"message\":\"wrong prefix\","
			   "\"username\":\"x\"}";
	CHECK_INT(redis_proc_publish(&rp, "asgi__group__chat_lobby", chat, strlen(chat)), 0);
	cli_gossip(rp.url, NULL, "asgi", "wrong prefix");
	CHECK(h_ws_silent(alice, 300, "alice (prefix other)"));
	CHECK(h_ws_silent(bob, 100, "bob (prefix other)"));
	CHECK(h_ws_silent(nb, 100, "notifications (prefix other)"));

	/* The same through the right prefix is heard. */
	cli_gossip(rp.url, "other", "other", "right prefix");
	expect_gossip(nb, "notifications (prefix other)", "other", "right prefix");
	CHECK_INT(post(&a, "poster", "prefixed+post"), 0);
	expect_gossip(nb, "notifications (prefix other)", "poster", "prefixed post");
out:
	close_ws(&alice);
	close_ws(&bob);
	close_ws(&nb);
	CHECK_INT(h_server_stop(&a), 0);
	CHECK_INT(h_server_stop(&b), 0);
	redis_proc_destroy(&rp);
}

/* channels_redis' _consistent_hash: int((crc32(name) & 0xFFF) / (4096 / n)). */
static unsigned expected_shard(const char *name, unsigned n)
{
	unsigned long crc = crc32(0L, (const Bytef *)name, (uInt)strlen(name));
	return (unsigned)((double)(crc & 0xFFF) / (4096.0 / n));
}

/* Two shards: every group lives on the one channels_redis would pick, both
 * are used, and traffic flows both ways for each. The first four rooms hash
 * to shard 0, the others to shard 1. */
#define N_ROOMS 8
static const char *const rooms[N_ROOMS] = {"lobby", "other", "h", "blue",
					   "red", "green", "a", "b"};
/*
 * Over 80 lines: one scenario on two shards and two servers, in order;
 * each step checks where the steps before put each group.
 */
static void test_shards(void)
{
	struct redis_proc r1, r2;
	CHECK_INT(redis_proc_start(&r1), 0);
	CHECK_INT(redis_proc_start(&r2), 0);
	if (r1.pid <= 0 || r2.pid <= 0) {
		redis_proc_destroy(&r1);
		redis_proc_destroy(&r2);
		return;
	}
	char urls[160];
	snprintf(urls, sizeof(urls), "%s,%s", r1.url, r2.url);
	struct h_server a, b;
	if (start_pair(&a, &b, urls, NULL) != 0) {
		redis_proc_destroy(&r1);
		redis_proc_destroy(&r2);
		return;
	}
	struct h_jar ja = {0}, jb = {0};
	CHECK_INT(h_login(&a, &ja, "alice", "lobby"), 0);
	CHECK_INT(h_login(&b, &jb, "bob", "lobby"), 0);
	struct client_ws *wa[N_ROOMS] = {0}, *wb[N_ROOMS] = {0};
	int on1 = 0, on2 = 0;
	for (int i = 0; i < N_ROOMS; i++) {
		char path[64], group[64];
		snprintf(path, sizeof(path), "/ws/chat/%s/", rooms[i]);
		snprintf(group, sizeof(group), "asgi__group__chat_%s", rooms[i]);
		wa[i] = open_ws(&a, path, &ja);
		wb[i] = open_ws(&b, path, &jb);
		if (!wa[i] || !wb[i])
			goto out;
		/* Wait for both servers on whichever shard holds it. */
		int64_t deadline = h_now_ms() + 3000;
		long long n1 = 0, n2 = 0;
		while (h_now_ms() < deadline) {
			n1 = redis_proc_numsub(&r1, group);
			n2 = redis_proc_numsub(&r2, group);
			if (n1 + n2 >= 2)
				break;
			h_sleep_ms(20);
		}
		fprintf(stderr, "%s: %lld subscribers on shard 1, %lld on shard 2\n", group, n1, n2);
		CHECK((n1 == 2 && n2 == 0) || (n1 == 0 && n2 == 2));
		CHECK_INT(n2 == 2, expected_shard(group, 2));
		on1 += n1 == 2;
		on2 += n2 == 2;
	}
	CHECK(on1 > 0);
	CHECK(on2 > 0);
	for (int i = 0; i < N_ROOMS; i++) {
		char text[64];
		snprintf(text, sizeof(text), "A to B in %s", rooms[i]);
		CHECK_INT(h_ws_send_chat(wa[i], text), 0);
		expect_chat(wb[i], "bob", text, "alice", 2);
		expect_chat(wa[i], "alice", text, "alice", 2);
		snprintf(text, sizeof(text), "B to A in %s", rooms[i]);
		CHECK_INT(h_ws_send_chat(wb[i], text), 0);
		expect_chat(wa[i], "alice", text, "bob", 2);
		expect_chat(wb[i], "bob", text, "bob", 2);
	}

	/* Notifications through the shard crc32("asgi__group__gossip") picks. */
	struct client_ws *na = open_ws(&a, "/notifications/", NULL);
	struct client_ws *nb = open_ws(&b, "/notifications/", NULL);
	if (!na || !nb)
		goto out;
	int64_t deadline = h_now_ms() + 3000;
	while (redis_proc_numsub(&r1, "asgi__group__gossip") +
		       redis_proc_numsub(&r2, "asgi__group__gossip") < 2 &&
	       h_now_ms() < deadline)
		h_sleep_ms(20);
	CHECK_INT(redis_proc_numsub(expected_shard("asgi__group__gossip", 2) ? &r2 : &r1,
				    "asgi__group__gossip"), 2);
	cli_gossip(urls, NULL, "cron", "sharded");
	expect_gossip(na, "notifications on A", "cron", "sharded");
	expect_gossip(nb, "notifications on B", "cron", "sharded");
	CHECK_INT(post(&b, "poster", "sharded+post"), 0);
	expect_gossip(na, "notifications on A", "poster", "sharded post");
	expect_gossip(nb, "notifications on B", "poster", "sharded post");
	close_ws(&na);
	close_ws(&nb);
out:
	for (int i = 0; i < N_ROOMS; i++) {
		close_ws(&wa[i]);
		close_ws(&wb[i]);
	}
	CHECK_INT(h_server_stop(&a), 0);
	CHECK_INT(h_server_stop(&b), 0);
	redis_proc_destroy(&r1);
	redis_proc_destroy(&r2);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, &check_failed);
	cli_exe = cmd_cli_exe(argc, argv);
	if (!cli_exe)
		return 77;
	fprintf(stderr, "== two servers, one Redis ==\n");
	test_one_redis();
	fprintf(stderr, "== --layer-prefix other ==\n");
	test_prefix();
	fprintf(stderr, "== two shards ==\n");
	test_shards();
	return check_finish();
}
