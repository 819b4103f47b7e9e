/*
 * test_faults.c - a faulty Redis under traffic between two servers.
 *
 * Two channels-server processes (A, B) on one private redis-server, two
 * chat clients on each in one room; A's first client and B's first client
 * send all along, every client receives everything. Faults, one after the
 * other, each followed by "traffic flows again by itself":
 *
 *   pause     SIGSTOP for 20 s, then SIGCONT (with a flood of big publishes
 *             on A's endpoint at the start of the pause)
 *   kill      SIGSTOP for 3 s, SIGKILL, then a new redis-server on the
 *             same port
 *   -publish  ACL SETUSER default -publish, then +publish
 *   -subscribe ACL SETUSER default -subscribe and the subscribers killed,
 *             then +subscribe
 *   garbage   2000 undecodable payloads on the room's channel
 *
 * Asserted: no client ever receives a message twice; no client is closed;
 * every message reaches its own server's two clients (local delivery never
 * depends on Redis); a message sent while Redis was healthy reaches all
 * four; one lost across servers was sent during a fault, and its server
 * reported the fault's losses (503 from the endpoint, channels-cli exit 3,
 * a log line with a count); the servers' RSS stays bounded; every Redis
 * log line is rate-limited (one per cause per 10 s); a refusing Redis is
 * retried at the backoff's pace, not in a loop.
 *
 * argv: SERVER_EXE SOURCE_ROOT CLI_EXE
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "redis_proc.h"
#include "ws_checks.h"

#define TOKEN "faults-test-token-0123456789abcdef"
#define N_MAX 4000
#define PAUSE_MS 20000
#define RECOVERY_MS 20000
#define GROUP "chat_faults"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1 /* the sanitizers' own allocator makes RSS meaningless */
#else
#define SANITIZED 0
#endif

static const char *cli_exe;

enum { SRV_A = 0, SRV_B = 1 };
static const char *const who[4] = {"a1", "a2", "b1", "b2"};

struct traffic {
	struct h_server *srv[2];
	struct client_ws *ws[4];     /* a1 a2 on A, b1 b2 on B; a1 and b1 send */
	bool closed[4];
	unsigned char got[4][2][N_MAX]; /* [client][sending server][n] */
	unsigned char phase[2][N_MAX];  /* 0: sent while healthy, else the fault's number */
	int next[2];
	int fault;                      /* the fault in progress, 0: none */
	long dups, strangers;
};

static int server_of(int client)
{
	return client < 2 ? SRV_A : SRV_B;
}

/* Records one received text message. */
static void absorb(struct traffic *t, int i, const char *data)
{
	json_t *v = json_loads(data, 0, NULL);
	const char *m = json_string_value(json_object_get(v, "message"));
	if (m && (m[0] == 'A' || m[0] == 'B') && m[1] == '-') {
		int src = m[0] == 'A' ? SRV_A : SRV_B, n = atoi(m + 2);
		if (n >= 0 && n < N_MAX) {
			if (t->got[i][src][n]++ >= 1) {
				t->dups++;
				fprintf(stderr, "DUPLICATE at %s: %s (copy %d)\n", who[i], m,
					t->got[i][src][n]);
			}
		}
	} else if (!m || strncmp(m, "E-", 2) != 0) {
		t->strangers++;
		fprintf(stderr, "unexpected message at %s: %s\n", who[i], data);
	}
	json_decref(v);
}

/* Takes what is readable on every client now. */
static void drain_now(struct traffic *t)
{
	for (int i = 0; i < 4; i++) {
		while (t->ws[i] && !t->closed[i]) {
			struct client_ws_message m;
			int rc = client_ws_recv(t->ws[i], 0, &m);
			if (rc == CH_ETIMEDOUT)
				break;
			if (rc != 0 || m.opcode == WSFRAME_OP_CLOSE) {
				fprintf(stderr, "%s CLOSED: %s (code %d)\n", who[i],
					rc ? ch_strerror(rc) : "close frame",
					rc ? 0 : m.close_code);
				t->closed[i] = true;
				if (rc == 0)
					free(m.data);
				break;
			}
			if (m.opcode == WSFRAME_OP_TEXT)
				absorb(t, i, m.data);
			free(m.data);
		}
	}
}

/* Receives for `ms`. */
static void pump(struct traffic *t, int ms)
{
	int64_t end = h_now_ms() + ms;
	do {
		drain_now(t);
		h_sleep_ms(5);
	} while (h_now_ms() < end);
	drain_now(t);
}

/* a1 sends A-n, b1 sends B-n; then receives for `ms`. */
static void step(struct traffic *t, int ms)
{
	for (int srv = 0; srv < 2; srv++) {
		int n = t->next[srv];
		struct client_ws *ws = t->ws[srv == SRV_A ? 0 : 2];
		if (n >= N_MAX || t->closed[srv == SRV_A ? 0 : 2])
			continue;
		char text[32];
		snprintf(text, sizeof(text), "%c-%d", srv == SRV_A ? 'A' : 'B', n);
		if (h_ws_send_chat(ws, text) == 0) {
			t->phase[srv][n] = (unsigned char)t->fault;
			t->next[srv]++;
		}
	}
	pump(t, ms);
}

static void run_for(struct traffic *t, int ms)
{
	int64_t end = h_now_ms() + ms;
	while (h_now_ms() < end)
		step(t, 50);
}

/* Traffic until a message each server sent from now on reached the other
 * server's clients; then the fault is over. Returns the ms it took, or -1. */
static int64_t recover(struct traffic *t, const char *fault)
{
	int from[2] = {t->next[SRV_A], t->next[SRV_B]};
	int64_t t0 = h_now_ms(), deadline = t0 + RECOVERY_MS;
	while (h_now_ms() < deadline) {
		step(t, 50);
		bool ok = true;
		for (int srv = 0; srv < 2; srv++) {
			bool seen = false;
			for (int n = from[srv]; n < t->next[srv] && !seen; n++)
				seen = t->got[srv == SRV_A ? 2 : 0][srv][n] &&
				       t->got[srv == SRV_A ? 3 : 1][srv][n];
			ok = ok && seen;
		}
		if (ok) {
			t->fault = 0;
			fprintf(stderr, "after %s: flowing again in %lld ms\n", fault,
				(long long)(h_now_ms() - t0));
			return h_now_ms() - t0;
		}
	}
	fprintf(stderr, "after %s: traffic did not flow again within %d ms\n", fault,
		RECOVERY_MS);
	t->fault = 0;
	return -1;
}

/* VmRSS of `pid` in KiB, or -1. */
static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long kib = -1;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

/* POSTs `body` to A's (or B's) group-send endpoint: the HTTP status or -1. */
static int endpoint(const struct h_server *s, const char *group, const char *body)
{
	char path[128];
	snprintf(path, sizeof(path), "/_channels/group-send/%s/", group);
	struct client_response r;
	int rc = h_http(s, "POST", path, NULL,
			"Authorization: Bearer " TOKEN "\r\nContent-Type: application/json\r\n",
			body, strlen(body), &r);
	int status = rc == 0 ? r.status : -1;
	if (rc == 0 && status == 503 && !strstr(r.body, "NOT published"))
		fprintf(stderr, "503 without the reason: %s\n", r.body);
	if (rc == 0)
		client_response_clear(&r);
	return status;
}

/* Polls A's endpoint with a chat message until it answers `want`; true when
 * it did within `ms`. */
static bool endpoint_until(struct traffic *t, int want, int ms)
{
	static int seq;
	int64_t deadline = h_now_ms() + ms;
	while (h_now_ms() < deadline) {
		char body[128];
		snprintf(
		    body, sizeof(body),
		    "{\"type\":\"chat.message\",\"message\":\"E-%d\",\"username\":\"endpoint\"}",
		    seq++);
		int status = endpoint(t->srv[SRV_A], GROUP, body);
		if (status == want)
			return true;
		step(t, 100);
	}
	fprintf(stderr, "the endpoint never answered %d within %d ms\n", want, ms);
	return false;
}

/* ---- the servers' logs ---- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return strdup("");
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	size_t got = fread(buf, 1, (size_t)n, f);
	buf[got] = '\0';
	fclose(f);
	return buf;
}

static int count_in_log(const struct h_server *s, const char *needle)
{
	char *log = slurp(s->log_path);
	int n = 0;
	for (const char *p = log; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(log);
	return n;
}

/*
 * Every [redis] and [channels] line, reduced to its cause (timestamp,
 * numbers and the suppression count removed), must be at least 9.5 s after
 * the previous line of the same cause (the limit is one per 10 s).
 * Returns the number of violations (printed).
 */
static int rate_violations(const struct h_server *s, const char *name)
{
	char *log = slurp(s->log_path);
	enum { MAX_CAUSES = 64 };
	char *cause[MAX_CAUSES];
	double last[MAX_CAUSES];
	int n_causes = 0, bad = 0, lines = 0;
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strstr(line, "[redis]") && !strstr(line, "[channels]"))
			continue;
		int hh, mm;
		double ss;
		/* "2026-11-21T10:00:00.123Z LEVEL [module] text" */
		if (strlen(line) < 24 || sscanf(line + 11, "%d:%d:%lfZ", &hh, &mm, &ss) != 3)
			continue;
		double at = hh * 3600.0 + mm * 60.0 + ss;
		char key[512];
		size_t k = 0;
		const char *p = line + 24;
		const char *cut = strstr(p, " (+");
		for (; *p && (!cut || p < cut) && k < sizeof(key) - 1; p++)
			if (!(*p >= '0' && *p <= '9') && *p != '.')
				key[k++] = *p;
		key[k] = '\0';
		lines++;
		int c = 0;
		while (c < n_causes && strcmp(cause[c], key) != 0)
			c++;
		if (c == n_causes) {
			if (n_causes == MAX_CAUSES)
				continue;
			cause[n_causes] = strdup(key);
			last[n_causes++] = at;
			continue;
		}
		if (at < last[c])
			at += 86400; /* past midnight */
		if (at - last[c] < 9.5) {
			fprintf(stderr, "server %s: two lines of one cause %.1f s apart: %s\n",
				name, at - last[c], line);
			bad++;
		}
		last[c] = at;
	}
	fprintf(stderr, "server %s: %d Redis/layer log lines, %d causes\n", name, lines, n_causes);
	for (int c = 0; c < n_causes; c++)
		free(cause[c]);
	free(log);
	return bad;
}

/* ---- faults ---- */

static void acl(const struct redis_proc *rp, const char *rule)
{
	const char *argv[] = {"ACL", "SETUSER", "default", rule, NULL};
	CHECK_INT(redis_proc_command(rp, argv), 0);
}

static void fault_pause(struct traffic *t, struct redis_proc *rp, long rss0[2])
{
	fprintf(stderr, "--- pause: SIGSTOP for %d ms\n", PAUSE_MS);
	t->fault = 1;
	int stalls_before = count_in_log(t->srv[SRV_A], "connection) stalled");
	CHECK_INT(redis_proc_signal(rp, SIGSTOP), 0);
	int64_t stopped = h_now_ms();
	/* A flood of big publishes to a group nobody here is in: without a
	 * bound they would all wait in A's memory for the paused Redis. */
	size_t pad = 256 * 1024;
	char *big = malloc(pad + 64);
	int n = snprintf(big, 64, "{\"type\":\"flood.x\",\"pad\":\"");
	memset(big + n, 'x', pad);
	strcpy(big + n + pad, "\"}");
	int n202 = 0, n503 = 0, other = 0;
	for (int i = 0; i < 120; i++) {
		int st = endpoint(t->srv[SRV_A], "flood", big);
		n202 += st == 202;
		n503 += st == 503;
		other += st != 202 && st != 503;
		if (i % 8 == 0)
			step(t, 10);
	}
	free(big);
	fprintf(stderr, "flood: %d x 202, %d x 503, %d other\n", n202, n503, other);
	CHECK_INT(other, 0);
	CHECK(n503 > 0);
	/* The endpoint reports what it cannot publish. */
	CHECK(endpoint_until(t, 503, 10000));
	/* channels-cli through the paused Redis: exit 3 after its timeout. */
	const char *msg = "{\"type\":\"chat.message\",\"message\":\"E-cli\",\"username\":\"cli\"}";
	char *via_redis[] = {(char *)cli_exe, "--redis", rp->url, "--timeout", "1", "group-send",
			     GROUP, (char *)msg, NULL};
	struct cmd_result res;
	CHECK_INT(cmd_run(via_redis, 15000, &res), 3);
	cmd_result_clear(&res);
	while (h_now_ms() < stopped + PAUSE_MS)
		step(t, 50);
	for (int srv = 0; srv < 2; srv++) {
		long rss = rss_kib(t->srv[srv]->pid);
		fprintf(stderr, "server %c RSS after the pause: %ld KiB (start %ld KiB)\n",
			'A' + srv, rss, rss0[srv]);
		if (!SANITIZED)
			CHECK(rss - rss0[srv] < 16 * 1024);
	}
	CHECK_INT(redis_proc_signal(rp, SIGCONT), 0);
	/* Detected and logged once per connection (not once per second). */
	int stalls = count_in_log(t->srv[SRV_A], "connection) stalled") - stalls_before;
	CHECK(stalls >= 1);
	CHECK(stalls <= 2); /* once per connection, not once per reconnect attempt */
	CHECK(recover(t, "the pause") >= 0);
}

/* Stopped under traffic (past the timeout), then killed while stopped,
 * then restarted on the same port. */
static void fault_kill(struct traffic *t, struct redis_proc *rp)
{
	fprintf(stderr, "--- kill: SIGSTOP 3 s, SIGKILL, restart on port %d\n", rp->port);
	t->fault = 2;
	CHECK_INT(redis_proc_signal(rp, SIGSTOP), 0);
	run_for(t, 3000);
	CHECK_INT(redis_proc_kill(rp), 0);
	run_for(t, 1000);
	CHECK(endpoint_until(t, 503, 5000));
	/* channels-cli says so too: exit 3, through the endpoint and through Redis. */
	char url[64], rurl[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", t->srv[SRV_A]->port);
	snprintf(rurl, sizeof(rurl), "%s", rp->url);
	const char *msg = "{\"type\":\"chat.message\",\"message\":\"E-cli\",\"username\":\"cli\"}";
	char *via_http[] = {(char *)cli_exe, "--url", url,       "--token", TOKEN,
			    "group-send",    GROUP,   (char *)msg, NULL};
	struct cmd_result res;
	CHECK_INT(cmd_run(via_http, 15000, &res), 3);
	CHECK_CONTAINS(res.err, "503");
	cmd_result_clear(&res);
	char *via_redis[] = {(char *)cli_exe, "--redis", rurl, "group-send", GROUP, (char *)msg,
			     NULL};
	CHECK_INT(cmd_run(via_redis, 15000, &res), 3);
	cmd_result_clear(&res);
	run_for(t, 500);
	CHECK_INT(redis_proc_restart(rp), 0);
	CHECK(recover(t, "the kill") >= 0);
}

static void fault_acl_publish(struct traffic *t, struct redis_proc *rp)
{
	fprintf(stderr, "--- ACL -publish\n");
	t->fault = 3;
	int refused_before = count_in_log(t->srv[SRV_A], "refused a PUBLISH");
	acl(rp, "-publish");
	run_for(t, 500);
	CHECK(endpoint_until(t, 503, 5000));
	run_for(t, 1000);
	CHECK(count_in_log(t->srv[SRV_A], "refused a PUBLISH") > refused_before);
	acl(rp, "+publish");
	CHECK(recover(t, "ACL -publish") >= 0);
	CHECK(endpoint_until(t, 202, 5000));
}

static void fault_acl_subscribe(struct traffic *t, struct redis_proc *rp)
{
	fprintf(stderr, "--- ACL -subscribe, subscribers killed\n");
	t->fault = 4;
	int back_before = count_in_log(t->srv[SRV_B], "(subscribe connection) is back");
	acl(rp, "-subscribe");
	long long conns0 = redis_proc_info_num(rp, "total_connections_received");
	const char *kill_subs[] = {"CLIENT", "KILL", "TYPE", "pubsub", NULL};
	CHECK_INT(redis_proc_command(rp, kill_subs), 0);
	int64_t t0 = h_now_ms();
	run_for(t, 3000);
	long long conns = redis_proc_info_num(rp, "total_connections_received") - conns0;
	double secs = (double)(h_now_ms() - t0) / 1000.0;
	fprintf(stderr, "%lld connections to Redis in %.1f s while SUBSCRIBE was refused\n",
		conns, secs);
	/* Backoff (100 ms doubling, jitter halving it at most): a handful per
	 * server, plus this test's own 2 connections; not ~14/s per server. */
	CHECK(conns <= 2 * 9 + 3);
	/* Never usable, so never "back". */
	CHECK_INT(count_in_log(t->srv[SRV_B], "(subscribe connection) is back"), back_before);
	CHECK(count_in_log(t->srv[SRV_B], "NOPERM") >= 1);
	acl(rp, "+subscribe");
	CHECK(recover(t, "ACL -subscribe") >= 0);
}

static void fault_garbage(struct traffic *t, struct redis_proc *rp)
{
	fprintf(stderr, "--- 2000 undecodable payloads\n");
	int before[2] = {count_in_log(t->srv[SRV_A], "undecodable"),
			 count_in_log(t->srv[SRV_B], "undecodable")};
	for (int i = 0; i < 2000; i++) {
		char junk[32];
		int n = snprintf(junk, sizeof(junk), "\xc1 not msgpack %d", i);
		redis_proc_publish(rp, "asgi__group__" GROUP, junk, (size_t)n);
		if (i % 200 == 0)
			step(t, 10);
	}
	run_for(t, 500);
	for (int srv = 0; srv < 2; srv++) {
		int lines = count_in_log(t->srv[srv], "undecodable") - before[srv];
		fprintf(stderr, "server %c: %d undecodable lines for 2000 payloads\n", 'A' + srv,
			lines);
		CHECK(lines >= 1 && lines <= 2);
	}
}

/* ---- the verdict ---- */

static void verdict(struct traffic *t)
{
	pump(t, 1500);
	CHECK_INT(t->dups, 0);
	CHECK_INT(t->strangers, 0);
	for (int i = 0; i < 4; i++)
		if (t->closed[i])
			CHECK(!"a healthy client was closed");
	long lost[6][2] = {{0}};
	for (int srv = 0; srv < 2; srv++) {
		for (int n = 0; n < t->next[srv]; n++) {
			for (int i = 0; i < 4; i++) {
				if (t->got[i][srv][n])
					continue;
				if (server_of(i) == srv) {
					fprintf(stderr, "LOCAL LOSS: %c-%d at %s\n", 'A' + srv, n,
						who[i]);
					CHECK(!"every message reaches its own server's clients");
				} else if (t->phase[srv][n] == 0) {
					fprintf(stderr, "LOSS while healthy: %c-%d at %s\n",
						'A' + srv, n, who[i]);
					CHECK(!"no loss while Redis is healthy");
				} else if (i == 0 || i == 2) {
					lost[t->phase[srv][n]][srv]++;
				}
			}
		}
		fprintf(stderr, "server %c sent %d messages\n", 'A' + srv, t->next[srv]);
	}
	static const char *const names[] = {"", "pause", "kill", "ACL -publish",
					    "ACL -subscribe", "the start"};
	for (int f = 1; f < 6; f++)
		fprintf(stderr, "%s: lost across servers: %ld from A, %ld from B\n", names[f],
			lost[f][SRV_A], lost[f][SRV_B]);
	CHECK(t->next[SRV_A] > 200 && t->next[SRV_B] > 200);
}

/*
 * Over 80 lines: one run of traffic across the five faults, in order, on
 * the same servers and clients; the memory and log checks at the end are
 * about the whole run.
 */
int main(int argc, char **argv)
{
	h_init(argc, argv, &check_failed);
	cli_exe = cmd_cli_exe(argc, argv);
	if (!cli_exe)
		return 77;

	struct redis_proc rp;
	if (redis_proc_start(&rp) != 0) {
		CHECK(!"redis-server started");
		return check_finish();
	}
	struct h_server a, b;
	/* A 2 s timeout: A through the environment, B through the flag. B has
	 * two workers (its clients may be on either: worker 1 publishes through
	 * worker 0's connection, and learns whether Redis is reachable from it). */
	const char *extra_a[] = {"--workers", "1", "--redis", rp.url, "--publish-token", TOKEN,
				 NULL};
	const char *extra_b[] = {"--workers", "2", "--redis", rp.url, "--publish-token", TOKEN,
				 "--redis-timeout", "2", NULL};
	setenv("CHANNELS_REDIS_TIMEOUT", "2", 1);
	int started = h_server_start(&a, extra_a);
	unsetenv("CHANNELS_REDIS_TIMEOUT");
	if (started != 0 || h_server_start(&b, extra_b) != 0) {
		CHECK(!"servers started");
		redis_proc_destroy(&rp);
		return check_finish();
	}
	fprintf(stderr, "redis %s, server A :%d, server B :%d\n", rp.url, a.port, b.port);

	struct traffic *t = calloc(1, sizeof(*t));
	t->srv[SRV_A] = &a;
	t->srv[SRV_B] = &b;
	struct h_jar jar[4];
	memset(jar, 0, sizeof(jar));
	for (int i = 0; i < 4; i++) {
		CHECK_INT(h_login(t->srv[server_of(i)], &jar[i], who[i], "faults"), 0);
		t->ws[i] = open_ws(t->srv[server_of(i)], "/ws/chat/faults/", &jar[i]);
	}
	if (!t->ws[0] || !t->ws[1] || !t->ws[2] || !t->ws[3])
		goto out;
	CHECK(redis_proc_wait_numsub(&rp, "asgi__" "group__" GROUP, 2, 5000));

	/* Healthy traffic; then the memory baseline. */
	t->fault = 5; /* until both directions are seen to work */
	CHECK(recover(t, "the start") >= 0);
	run_for(t, 1000);
	long rss0[2] = {rss_kib(a.pid), rss_kib(b.pid)};

	fault_pause(t, &rp, rss0);
	run_for(t, 1000);
	fault_kill(t, &rp);
	run_for(t, 1000);
	fault_acl_publish(t, &rp);
	run_for(t, 1000);
	fault_acl_subscribe(t, &rp);
	run_for(t, 1000);
	fault_garbage(t, &rp);
	run_for(t, 1000);

	for (int srv = 0; srv < 2; srv++) {
		long rss = rss_kib(t->srv[srv]->pid);
		fprintf(stderr, "server %c RSS at the end: %ld KiB (start %ld KiB)\n", 'A' + srv,
			rss, rss0[srv]);
		if (!SANITIZED)
			CHECK(rss - rss0[srv] < 16 * 1024);
	}
	verdict(t);
	/* Each fault's losses were reported by A and B in their logs. */
	CHECK(count_in_log(&a, "stayed in this process") >= 1);
	CHECK(count_in_log(&b, "stayed in this process") >= 1);
	CHECK_INT(rate_violations(&a, "A"), 0);
	CHECK_INT(rate_violations(&b, "B"), 0);
out:
	for (int i = 0; i < 4; i++)
		close_ws(&t->ws[i]);
	free(t);
	CHECK_INT(h_server_stop(&a), 0);
	CHECK_INT(h_server_stop(&b), 0);
	redis_proc_destroy(&rp);
	return check_finish();
}
