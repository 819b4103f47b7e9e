/*
 * test_restart.c - Redis stopped and restarted on the same port in the
 * middle of traffic between two servers: while it is down each server keeps
 * answering HTTP and its local WebSocket traffic (new connections and new
 * rooms included); within 10 s of the restart group messages flow both ways
 * again and the subscriptions are back; both servers exit 0 on SIGTERM.
 *
 * argv: SERVER_EXE SOURCE_ROOT [CLI_EXE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "redis_proc.h"
#include "ws_checks.h"

#define RECOVERY_MS 10000

/*
 * Every 200 ms `from` sends "<tag> #n" until `to` receives any message
 * starting with `tag` (earlier attempts may arrive late), or the deadline.
 * Returns the milliseconds it took, or -1.
 */
static int64_t flow_until(struct client_ws *from, struct client_ws *to, const char *tag,
			  int64_t deadline)
{
	int64_t t0 = h_now_ms();
	for (int n = 0; h_now_ms() < deadline; n++) {
		char text[64];
		snprintf(text, sizeof(text), "%s #%d", tag, n);
		if (h_ws_send_chat(from, text) != 0) {
			fprintf(stderr, "%s: send failed\n", tag);
			return -1;
		}
		int64_t step_end = h_now_ms() + 200;
		for (;;) {
			int64_t left = step_end - h_now_ms();
			if (left <= 0)
				break;
			struct client_ws_message m;
			int rc = client_ws_recv(to, (int)left, &m);
			if (rc == CH_ETIMEDOUT)
				break;
			if (rc != 0) {
				fprintf(stderr, "%s: receiver: %s\n", tag, ch_strerror(rc));
				return -1;
			}
			bool hit = m.opcode == WSFRAME_OP_TEXT && strstr(m.data, tag) != NULL;
			free(m.data);
			if (hit)
				return h_now_ms() - t0;
		}
	}
	fprintf(stderr, "%s: nothing arrived before the deadline\n", tag);
	return -1;
}

/* Drops whatever is queued on `ws` (late copies of earlier attempts). */
static void drain(struct client_ws *ws)
{
	struct client_ws_message m;
	while (client_ws_recv(ws, 300, &m) == 0)
		free(m.data);
}

/*
 * Over 80 lines: one scenario on one Redis, two servers and the same
 * clients, in order (traffic, Redis stopped, restarted, traffic again):
 * each phase checks what the one before left.
 */
int main(int argc, char **argv)
{
	h_init(argc, argv, &check_failed);

	struct redis_proc rp;
	if (redis_proc_start(&rp) != 0) {
		CHECK(!"redis-server started");
		return check_finish();
	}
	struct h_server a, b;
	/* Two workers per server: worker 0 holds the process's Redis
	 * connections (one SUBSCRIBE per group per process, checked below), and
	 * while Redis is down local traffic between the workers goes through
	 * the worker bus. */
	const char *extra[] = {"--workers", "2", "--redis", rp.url, NULL};
	if (h_server_start(&a, extra) != 0) {
		CHECK(!"server A started");
		redis_proc_destroy(&rp);
		return check_finish();
	}
	if (h_server_start(&b, extra) != 0) {
		CHECK(!"server B started");
		h_server_stop(&a);
		redis_proc_destroy(&rp);
		return check_finish();
	}
	fprintf(stderr, "redis %s, server A :%d, server B :%d\n", rp.url, a.port, b.port);

	struct h_jar ja1 = {0}, ja2 = {0}, ja3 = {0}, jb = {0};
	CHECK_INT(h_login(&a, &ja1, "alice", "lobby"), 0);
	CHECK_INT(h_login(&a, &ja2, "anna", "lobby"), 0);
	CHECK_INT(h_login(&a, &ja3, "amy", "lobby"), 0);
	CHECK_INT(h_login(&b, &jb, "bob", "lobby"), 0);
	struct client_ws *a1 = open_ws(&a, "/ws/chat/lobby/", &ja1);
	struct client_ws *a2 = open_ws(&a, "/ws/chat/lobby/", &ja2);
	struct client_ws *b1 = open_ws(&b, "/ws/chat/lobby/", &jb);
	struct client_ws *a3 = NULL, *a_late = NULL, *b_late = NULL;
	if (!a1 || !a2 || !b1)
		goto out;
	CHECK(redis_proc_wait_numsub(&rp, "asgi__group__chat_lobby", 2, 3000));
	CHECK_INT(redis_proc_numsub(&rp, "asgi__group__chat_lobby"), 2);

	/* Traffic before the outage. */
	CHECK_INT(h_ws_send_chat(a1, "before"), 0);
	expect_chat(b1, "bob", "before", "alice", -1);
	expect_chat(a1, "alice", "before", "alice", -1);
	expect_chat(a2, "anna", "before", "alice", -1);
	CHECK_INT(h_ws_send_chat(b1, "before from B"), 0);
	expect_chat(a1, "alice", "before from B", "bob", -1);
	expect_chat(a2, "anna", "before from B", "bob", -1);
	expect_chat(b1, "bob", "before from B", "bob", -1);

	/* Redis goes away. */
	CHECK_INT(redis_proc_stop(&rp), 0);
	fprintf(stderr, "redis stopped\n");
	h_sleep_ms(300);
	CHECK(h_server_alive(&a));
	CHECK(h_server_alive(&b));
	CHECK_INT(h_healthz(&a), 0);
	CHECK_INT(h_healthz(&b), 0);
	/* Local traffic on A goes on: existing clients, a new client, a new room. */
	CHECK_INT(h_chat_roundtrip(a1, a2, "local while down", 3000), 0);
	a3 = open_ws(&a, "/ws/chat/lobby/", &ja3);
	a_late = open_ws(&a, "/ws/chat/late/", &ja1);
	b_late = open_ws(&b, "/ws/chat/late/", &jb);
	if (!a3 || !a_late || !b_late)
		goto out;
	CHECK_INT(h_chat_roundtrip(a2, a3, "local to a newcomer", 3000), 0);
	CHECK_INT(h_chat_roundtrip(a3, a1, "local from a newcomer", 3000), 0);
	CHECK_INT(h_chat_roundtrip(a_late, a_late, "new room while down", 3000), 0);
	/* B on its own too. */
	CHECK_INT(h_chat_roundtrip(b1, b1, "B alone while down", 3000), 0);
	/* Each server's page views still work (sessions, templates). */
	{
		struct h_jar j = {0};
		CHECK_INT(h_login(&b, &j, "dora", "lobby"), 0);
	}
	h_sleep_ms(500); /* a few reconnect attempts fail meanwhile */
	CHECK(h_server_alive(&a));
	CHECK(h_server_alive(&b));
	CHECK_INT(h_healthz(&a), 0);

	/* Redis comes back on the same port. */
	CHECK_INT(redis_proc_restart(&rp), 0);
	int64_t restarted = h_now_ms();
	int64_t deadline = restarted + RECOVERY_MS;
	fprintf(stderr, "redis restarted on port %d\n", rp.port);
	drain(b1);
	drain(a1);
	int64_t t_ab = flow_until(a1, b1, "after restart A->B", deadline);
	CHECK(t_ab >= 0);
	int64_t t_ba = flow_until(b1, a1, "after restart B->A", deadline);
	CHECK(t_ba >= 0);
	int64_t t_late = flow_until(b_late, a_late, "late room B->A", deadline);
	CHECK(t_late >= 0);
	int64_t t_late2 = flow_until(a_late, b_late, "late room A->B", deadline);
	CHECK(t_late2 >= 0);
	fprintf(stderr, "flowing again %lld ms after the restart\n",
		(long long)(h_now_ms() - restarted));
	CHECK(redis_proc_has_channel(&rp, "asgi__group__chat_lobby"));
	CHECK(redis_proc_has_channel(&rp, "asgi__group__chat_late"));
	CHECK_INT(redis_proc_numsub(&rp, "asgi__group__chat_lobby"), 2);
	CHECK_INT(redis_proc_numsub(&rp, "asgi__group__chat_late"), 2);
	/* The consumers' own channels are back too (6 consumers on two servers). */
	CHECK_INT(redis_proc_channels(&rp, "asgispecific.*", NULL, NULL), 6);

	/* After recovery: a clean exchange, every member once, nobody else. */
	drain(a1);
	drain(a2);
	drain(a3);
	drain(b1);
	CHECK_INT(h_ws_send_chat(b1, "all good"), 0);
	expect_chat(a1, "alice", "all good", "bob", -1);
	expect_chat(a2, "anna", "all good", "bob", -1);
	expect_chat(a3, "amy", "all good", "bob", -1);
	expect_chat(b1, "bob", "all good", "bob", -1);
	CHECK(h_ws_silent(a1, 300, "alice after all good"));
	CHECK_INT(h_healthz(&a), 0);
	CHECK_INT(h_healthz(&b), 0);
out:
	close_ws(&a1);
	close_ws(&a2);
	close_ws(&a3);
	close_ws(&b1);
	close_ws(&a_late);
	close_ws(&b_late);
	CHECK_INT(h_server_stop(&a), 0);
	CHECK_INT(h_server_stop(&b), 0);
	redis_proc_destroy(&rp);
	return check_finish();
}
