/*
 * test_benchmark.c - the pure parts of channels-benchmark: the latency
 * histogram, option parsing, payload encoding and parsing, the handshake
 * request and response, the Redis URL, the /proc/PID/stat parser and the
 * JSON report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "bench_int.h"
#include "check.h"
#include "client.h"
#include "hist.h"

static struct hist h; /* large: not on the stack */

static void test_hist_buckets(void)
{
	/* exact below 64 us */
	for (uint64_t us = 0; us < 64; us++) {
		CHECK_INT(hist_bucket_of(us), us);
		CHECK_INT(hist_bucket_low(us), us);
		CHECK_INT(hist_bucket_high(us), us);
	}
	CHECK_INT(hist_bucket_of(64), 64);
	CHECK_INT(hist_bucket_of(127), 127);
	CHECK_INT(hist_bucket_of(128), 128);
	CHECK_INT(hist_bucket_of(129), 128); /* width 2 from 128 */
	CHECK_INT(hist_bucket_low(128), 128);
	CHECK_INT(hist_bucket_high(128), 129);
	/* every bucket is contiguous with the next, and the index round-trips */
	for (size_t i = 0; i + 1 < HIST_BUCKETS; i++) {
		CHECK_INT(hist_bucket_high(i) + 1, hist_bucket_low(i + 1));
		CHECK_INT(hist_bucket_of(hist_bucket_low(i)), i);
		CHECK_INT(hist_bucket_of(hist_bucket_high(i)), i);
	}
	/* 100 s is inside the range, beyond clamps to the last bucket */
	CHECK(hist_bucket_of(HIST_MAX_US) < HIST_BUCKETS);
	CHECK(hist_bucket_high(HIST_BUCKETS - 1) >= HIST_MAX_US);
	CHECK_INT(hist_bucket_of(UINT64_MAX / 2), HIST_BUCKETS - 1);
	/* relative width under 1/64 above 64 us */
	for (size_t i = 64; i < HIST_BUCKETS; i++) {
		uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
		CHECK((hi - lo + 1) * 64 <= lo);
	}
}

static void test_hist_percentiles(void)
{
	hist_init(&h);
	CHECK_INT(hist_percentile(&h, 50), 0);
	CHECK_INT(h.total, 0);
	/* 1..1000 us: p50 is 500 us within the bucket width */
	for (uint64_t us = 1; us <= 1000; us++)
		hist_record(&h, us * 1000);
	CHECK_INT(h.total, 1000);
	CHECK_INT(h.min_ns, 1000);
	CHECK_INT(h.max_ns, 1000000);
	uint64_t p50 = hist_percentile(&h, 50);
	CHECK(p50 >= 500000 && p50 < 508000);
	if (!(p50 >= 500000 && p50 < 508000))
		fprintf(stderr, "p50 = %llu\n", (unsigned long long)p50);
	uint64_t p99 = hist_percentile(&h, 99);
	CHECK(p99 >= 990000 && p99 < 1000000 + 1);
	CHECK_INT(hist_percentile(&h, 100), 1000000);
	/* never above the maximum: 1000 us lies in a 16-us-wide bucket */
	CHECK(hist_percentile(&h, 99.99) <= 1000000);
	CHECK_INT(hist_percentile(&h, 0), hist_percentile(&h, 0.01));
	CHECK(hist_percentile(&h, 0) <= 1999);
	double mean = hist_mean(&h);
	CHECK(mean > 500400 && mean < 500600);

	/* 99 fast, 1 slow: p99 fast, p99.9 slow */
	hist_init(&h);
	for (int i = 0; i < 99; i++)
		hist_record(&h, 2000000); /* 2 ms */
	hist_record(&h, 80000000);	  /* 80 ms */
	CHECK(hist_percentile(&h, 99) < 2100000);
	CHECK(hist_percentile(&h, 99.9) >= 79000000);
	CHECK_INT(hist_percentile(&h, 99.9), 80000000);

	/* sub-microsecond and overflow values */
	hist_init(&h);
	hist_record(&h, 10);
	hist_record(&h, 200ull * 1000000000ull);
	CHECK_INT(h.counts[0], 1);
	CHECK_INT(h.overflow, 1);
	CHECK_INT(h.counts[HIST_BUCKETS - 1], 1);
	CHECK(hist_percentile(&h, 50) >= 10 && hist_percentile(&h, 50) <= 999);

	/* merge */
	static struct hist a, b;
	hist_init(&a);
	hist_init(&b);
	hist_record(&a, 5000);
	hist_record(&b, 7000000);
	hist_record(&b, 3000);
	hist_merge(&a, &b);
	CHECK_INT(a.total, 3);
	CHECK_INT(a.min_ns, 3000);
	CHECK_INT(a.max_ns, 7000000);
	CHECK_INT(a.counts[5], 1);
	CHECK_INT(a.counts[3], 1);
}

static int parse(struct bench_opts *o, char *err, const char *a1, const char *a2, const char *a3,
		 const char *a4)
{
	const char *argv[6] = {"channels-benchmark", a1, a2, a3, a4, NULL};
	int argc = 1;

	while (argc < 5 && argv[argc])
		argc++;
	bench_opts_defaults(o);
	err[0] = '\0';
	return bench_opts_parse(o, argc, (char **)argv, err, 256);
}

/* Every option (and mode) is in --help. */
static void opts_documented(void)
{
	const char *names[] = {"--host",
			       "--port",
			       "--path",
			       "--rooms",
			       "--clients",
			       "--senders",
			       "--rate",
			       "--message-size",
			       "--duration",
			       "--warmup",
			       "--drain",
			       "--origin",
			       "--connect-rate",
			       "--connect-timeout",
			       "--mode",
			       "--p99-limit",
			       "--connections",
			       "--hold",
			       "--server-pid",
			       "--count",
			       "--expect",
			       "--expect-file",
			       "--redis",
			       "--layer-prefix",
			       "--group",
			       "--json",
			       "{room}",
			       "fixed",
			       "max",
			       "idle",
			       "listen",
			       "publish"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		CHECK_CONTAINS(bench_usage(), names[i]);
}

static void test_opts(void)
{
	struct bench_opts o;
	char err[256];

	CHECK_INT(parse(&o, err, NULL, NULL, NULL, NULL), 0);
	CHECK_STR(o.host, "127.0.0.1");
	CHECK_INT(o.port, 8000);
	CHECK_STR(o.path, "/ws/chat/bench{room}/");
	CHECK_INT(o.rooms, 1);
	CHECK_INT(o.clients, 100);
	CHECK_INT(o.senders, 10);
	CHECK(o.rate == 10);
	CHECK_INT(o.message_size, 32);
	CHECK(o.duration == 10 && o.warmup == 2 && o.drain == 2);
	CHECK(o.origin == NULL);
	CHECK(o.connect_rate == 0);
	CHECK_INT(o.mode, BENCH_FIXED);
	CHECK(o.p99_limit_ms == 50);
	CHECK_INT(o.connections, 10000);
	CHECK_INT(o.expect, -1);
	CHECK_STR(o.layer_prefix, "asgi");
	CHECK_STR(o.group, "gossip");
	CHECK(!o.json);

	CHECK_INT(parse(&o, err, "--port", "9001", "--mode=max", "--json"), 0);
	CHECK_INT(o.port, 9001);
	CHECK_INT(o.mode, BENCH_MAX);
	CHECK(o.json);
	CHECK_INT(parse(&o, err, "--rate=2.5", "--clients", "3", "--senders=3"), 0);
	CHECK(o.rate == 2.5);
	CHECK_INT(o.clients, 3);
	CHECK_INT(parse(&o, err, "--mode", "idle", "--server-pid", "1234"), 0);
	CHECK_INT(o.mode, BENCH_IDLE);
	CHECK_INT(o.server_pid, 1234);
	CHECK_INT(parse(&o, err, "--mode", "listen", "--expect-file", "/tmp/x"), 0);
	CHECK_STR(o.expect_file, "/tmp/x");
	CHECK_INT(parse(&o, err, "--origin", "http://127.0.0.1:8000", NULL, NULL), 0);
	CHECK_STR(o.origin, "http://127.0.0.1:8000");
	CHECK_INT(parse(&o, err, "--mode", "publish", "--redis", "redis://h:1"), 0);
	CHECK_STR(o.redis, "redis://h:1");

	CHECK_INT(parse(&o, err, "--help", NULL, NULL, NULL), 1);
	CHECK_INT(parse(&o, err, "--port", "0", NULL, NULL), -1);
	CHECK_CONTAINS(err, "--port");
	CHECK_INT(parse(&o, err, "--port", "80x", NULL, NULL), -1);
	CHECK_INT(parse(&o, err, "--rate", "0", NULL, NULL), -1);
	CHECK_INT(parse(&o, err, "--rate", "nan", NULL, NULL), -1);
	CHECK_INT(parse(&o, err, "--bogus", NULL, NULL, NULL), -1);
	CHECK_CONTAINS(err, "unknown option '--bogus'");
	CHECK_INT(parse(&o, err, "--port", NULL, NULL, NULL), -1);
	CHECK_CONTAINS(err, "needs a value");
	CHECK_INT(parse(&o, err, "--json=1", NULL, NULL, NULL), -1);
	CHECK_INT(parse(&o, err, "--mode", "fast", NULL, NULL), -1);
	CHECK_INT(parse(&o, err, "--clients", "5", "--senders", "6"), -1);
	CHECK_CONTAINS(err, "exceeds");
	CHECK_INT(parse(&o, err, "--path", "ws/x", NULL, NULL), -1);
	CHECK_INT(parse(&o, err, "stray", NULL, NULL, NULL), -1);
	CHECK_INT(parse(&o, err, "--mode", "publish", "--redis", "http://x"), -1);

	opts_documented();
}

static void test_chat_messages(void)
{
	char buf[256];
	struct bench_payload p;
	size_t n;

	n = bench_chat_build(buf, sizeof(buf), 123456789012345ull, 7, 42, 5);
	buf[n] = '\0';
	CHECK_STR(buf, "{\"message\":\"123456789012345 7 42 xxxxx\"}");
	CHECK_INT(bench_chat_build(buf, 20, 1, 2, 3, 5), 0);
	n = bench_chat_build(buf, sizeof(buf), 0, 0, 0, 0);
	buf[n] = '\0';
	CHECK_STR(buf, "{\"message\":\"0 0 0 \"}");
	CHECK_INT(bench_u64_str(buf, UINT64_MAX), 20);

	/* round trip through our own encoding */
	n = bench_chat_build(buf, sizeof(buf), 98765, 3, 11, 32);
	CHECK_INT(bench_chat_parse(buf, n, &p), 0);
	CHECK_INT(p.ts, 98765);
	CHECK_INT(p.sender, 3);
	CHECK_INT(p.seq, 11);

	/* what the peers send back: extra fields, any order, blanks */
	const char *ok[] = {
	    "{\"message\":\"5 6 7 xx\",\"username\":\"u\"}",
	    "{\"message\": \"5 6 7 xx\", \"username\": \"u\"}",
	    "{\"username\":\"message\",\"message\" : \"5 6 7\"}",
	    "{\"type\":\"chat\",\"username\":\"anonymous\",\"message\":\"5 6 7 \"}",
	    "{ \"message\"\t:\t\"5 6 7 x\" }",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		memset(&p, 0, sizeof(p));
		CHECK_INT(bench_chat_parse(ok[i], strlen(ok[i]), &p), 0);
		CHECK_INT(p.ts, 5);
		CHECK_INT(p.sender, 6);
		CHECK_INT(p.seq, 7);
	}
	const char *bad[] = {
	    "{\"message\":\"hello\"}",
	    "{\"message\":\"5 6\"}",
	    "{\"message\":5}",
	    "{\"msg\":\"5 6 7 x\"}",
	    "{\"message\":\"5 6 7x\"}",
	    "{\"message\":\"99999999999999999999999 6 7 x\"}",
	    "",
	    "{\"message\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(bench_chat_parse(bad[i], strlen(bad[i]), &p), -1);
	/* the length bounds the parse: no read past it */
	const char *cut = "{\"message\":\"5 6 7 x\"}";
	CHECK_INT(bench_chat_parse(cut, 16, &p), -1);
}

static void test_ts(void)
{
	char buf[256];
	uint64_t ts = 0;
	size_t n = bench_gossip_build(buf, sizeof(buf), 777000111222, 9, 4);

	buf[n] = '\0';
	CHECK_STR(buf, "{\"type\":\"name.gossip\",\"ts\":777000111222,\"seq\":9,\"pad\":\"xxxx\"}");
	CHECK_INT(bench_ts_parse(buf, n, &ts), 0);
	CHECK_INT(ts, 777000111222);
	CHECK_INT(bench_gossip_build(buf, 30, 1, 1, 1), 0);

	const char *ok = "{\"pad\": \"x\", \"seq\": 1, \"ts\": 42, \"type\": \"name.gossip\"}";
	CHECK_INT(bench_ts_parse(ok, strlen(ok), &ts), 0);
	CHECK_INT(ts, 42);
	const char *end = "{\"a\":\"ts\",\"ts\":43}";
	CHECK_INT(bench_ts_parse(end, strlen(end), &ts), 0);
	CHECK_INT(ts, 43);
	const char *bad[] = {"{\"ts\":\"42\"}", "{\"ts\":-1}", "{\"ts\":1.5}", "{\"t\":1}",
			     "{\"ts\":}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(bench_ts_parse(bad[i], strlen(bad[i]), &ts), -1);
}

static void test_path_and_url(void)
{
	char out[64], host[32];
	int port, db;

	CHECK_INT(bench_path_expand("/ws/chat/bench{room}/", 12, out, sizeof(out)), 17);
	CHECK_STR(out, "/ws/chat/bench12/");
	CHECK(bench_path_expand("/notifications/", 3, out, sizeof(out)) > 0);
	CHECK_STR(out, "/notifications/");
	CHECK(bench_path_expand("/{room}/{room}", 0, out, sizeof(out)) > 0);
	CHECK_STR(out, "/0/0");
	CHECK_INT(bench_path_expand("/abcdef", 0, out, 7), 0);
	CHECK_INT(bench_path_expand("/abcdef", 0, out, 8), 7);

	CHECK_INT(bench_redis_url("redis://127.0.0.1:6390", host, sizeof(host), &port, &db), 0);
	CHECK_STR(host, "127.0.0.1");
	CHECK_INT(port, 6390);
	CHECK_INT(db, 0);
	CHECK_INT(bench_redis_url("redis://localhost/2", host, sizeof(host), &port, &db), 0);
	CHECK_STR(host, "localhost");
	CHECK_INT(port, 6379);
	CHECK_INT(db, 2);
	CHECK_INT(bench_redis_url("redis://[::1]:7000/", host, sizeof(host), &port, &db), 0);
	CHECK_STR(host, "::1");
	CHECK_INT(port, 7000);
	CHECK_INT(bench_redis_url("http://h", host, sizeof(host), &port, &db), -1);
	CHECK_INT(bench_redis_url("redis://:pw@h", host, sizeof(host), &port, &db), -1);
	CHECK_INT(bench_redis_url("redis://h:0", host, sizeof(host), &port, &db), -1);
	CHECK_INT(bench_redis_url("redis://h:70000", host, sizeof(host), &port, &db), -1);
	CHECK_INT(bench_redis_url("redis://", host, sizeof(host), &port, &db), -1);
	CHECK_INT(bench_redis_url("redis://h/x", host, sizeof(host), &port, &db), -1);
}

static void test_handshake(void)
{
	char b64[32], req[512], accept[29];
	size_t used;
	int status;
	const uint8_t raw[] = "the sample nonce"; /* RFC 6455's example key */

	bench_base64(raw, 16, b64);
	CHECK_STR(b64, "dGhlIHNhbXBsZSBub25jZQ==");
	bench_base64((const uint8_t *)"ab", 2, b64);
	CHECK_STR(b64, "YWI=");
	bench_base64((const uint8_t *)"abc", 3, b64);
	CHECK_STR(b64, "YWJj");
	bench_base64((const uint8_t *)"a", 1, b64);
	CHECK_STR(b64, "YQ==");

	size_t n = bench_handshake_request(req, sizeof(req), "127.0.0.1", 8000, "/ws/chat/b0/",
					   "http://127.0.0.1:8000", "dGhlIHNhbXBsZSBub25jZQ==");
	CHECK(n > 0);
	CHECK_CONTAINS(req, "GET /ws/chat/b0/ HTTP/1.1\r\n");
	CHECK_CONTAINS(req, "Host: 127.0.0.1:8000\r\n");
	CHECK_CONTAINS(req, "Upgrade: websocket\r\n");
	CHECK_CONTAINS(req, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
	CHECK_CONTAINS(req, "Sec-WebSocket-Version: 13\r\n");
	CHECK_CONTAINS(req, "Origin: http://127.0.0.1:8000\r\n");
	CHECK(n >= 4 && memcmp(req + n - 4, "\r\n\r\n", 4) == 0);
	n = bench_handshake_request(req, sizeof(req), "::1", 80, "/", NULL, "k");
	CHECK_CONTAINS(req, "Host: [::1]:80\r\n");
	CHECK(strstr(req, "Origin") == NULL);
	CHECK_INT(bench_handshake_request(req, 40, "h", 1, "/", NULL, "k"), 0);

	CHECK_INT(client_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", accept), 0);
	CHECK_STR(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

	const char ok[] = "HTTP/1.1 101 Switching Protocols\r\n"
			  "Upgrade: WebSocket\r\n"
			  "Connection: Upgrade\r\n"
			  "Sec-WebSocket-Accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \r\n"
			  "\r\n";
	size_t head = sizeof(ok) - 1;
	char buf[512];

	memcpy(buf, ok, head);
	memcpy(buf + head, "\x81\x02hi", 4); /* a frame right behind the head */
	CHECK_INT(bench_handshake_parse(buf, head + 4, accept, &used, &status), BENCH_HS_OK);
	CHECK_INT(used, head);
	CHECK_INT(status, 101);
	CHECK_INT(bench_handshake_parse(buf, head, accept, &used, &status), BENCH_HS_OK);
	CHECK_INT(used, head);
	/* every prefix is incomplete */
	for (size_t k = 0; k < head; k++) {
		int rc = bench_handshake_parse(buf, k, accept, &used, &status);
		CHECK_INT(rc, BENCH_HS_MORE);
	}
	/* a wrong accept, a missing Upgrade */
	CHECK_INT(bench_handshake_parse(buf, head, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", &used, &status),
		  CH_EACCEPT);
	const char noup[] = "HTTP/1.1 101 Switching Protocols\r\n"
			    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
	CHECK_INT(bench_handshake_parse(noup, strlen(noup), accept, &used, &status),
		  CH_EACCEPT);
	const char forbidden[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\n";
	CHECK_INT(bench_handshake_parse(forbidden, strlen(forbidden), accept, &used, &status),
		  CH_EHANDSHAKE);
	CHECK_INT(status, 403);
	const char garbage[] = "SSH-2.0-OpenSSH\r\n\r\n";
	CHECK_INT(bench_handshake_parse(garbage, strlen(garbage), accept, &used, &status),
		  CH_EPROTO);
}

static void test_json(void)
{
	struct bench_result r;
	char out[2048];
	int n;

	bench_result_init(&r, BENCH_FIXED);
	r.rooms = 2;
	r.clients = 50;
	r.senders = 5;
	r.rate = 10;
	r.total_rate = 100;
	r.sent = 1000;
	r.expected = 50000;
	r.received = 49990;
	r.loss = 10;
	r.loss_pct = 0.02;
	r.deliveries_per_s = 4999;
	r.p50_ms = 0.5;
	r.p99_ms = 2.25;
	r.handshakes_per_s = 1234.5;
	r.closes = 3;
	n = bench_result_json(&r, out, sizeof(out));
	CHECK(n > 0 && (size_t)n < sizeof(out));
	CHECK_INT(out[n - 1], '\n');
	CHECK_CONTAINS(out, "{\"mode\":\"fixed\",\"rooms\":2,\"clients\":50,\"senders\":5,");
	CHECK_CONTAINS(out, "\"sent\":1000,\"expected\":50000,\"received\":49990,\"loss\":10,");
	CHECK_CONTAINS(out, "\"loss_pct\":0.0200");
	CHECK_CONTAINS(out, "\"p50_ms\":0.500");
	CHECK_CONTAINS(out, "\"p99_ms\":2.250");
	CHECK_CONTAINS(out, "\"p90_ms\":null");
	CHECK_CONTAINS(out, "\"handshakes_per_s\":1234.5");
	CHECK_CONTAINS(out, "\"closes\":3");
	CHECK_CONTAINS(out, "\"rss_per_conn_bytes\":null");
	CHECK_CONTAINS(out, "\"client_cpu_s\":0.000");
	CHECK_CONTAINS(out, "\"ok\":null");
	const char *keys[] = {"mode",
			      "rooms",
			      "clients",
			      "senders",
			      "rate",
			      "sent",
			      "expected",
			      "received",
			      "loss",
			      "loss_pct",
			      "deliveries_per_s",
			      "p50_ms",
			      "p90_ms",
			      "p99_ms",
			      "p999_ms",
			      "max_ms",
			      "handshakes_per_s",
			      "connect_errors",
			      "closes",
			      "client_cpu_s",
			      "wall_s",
			      "rss_per_conn_bytes"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char k[64];
		snprintf(k, sizeof(k), "\"%s\":", keys[i]);
		CHECK_CONTAINS(out, k);
	}
	r.mode = BENCH_IDLE;
	r.rss_per_conn_bytes = 4096.4;
	r.ok = 1;
	bench_result_json(&r, out, sizeof(out));
	CHECK_CONTAINS(out, "\"mode\":\"idle\"");
	CHECK_CONTAINS(out, "\"rss_per_conn_bytes\":4096");
	CHECK_CONTAINS(out, "\"ok\":true");
	/* cut output still reports the full length */
	char small[16];
	CHECK_INT(bench_result_json(&r, small, sizeof(small)), (int)strlen(out));
	CHECK_INT(strlen(small), 15);
}

static void test_proc_stat(void)
{
	/* A real line of /proc/self/stat, shortened after field 20. */
	const char *plain = "1234 (channels-server) S 1 1234 1234 0 -1 4194560 1719 0 0 0 "
			    "250 75 0 0 20 0 3 0";
	/* comm "(a) b)": blanks and parentheses; fields count from the LAST ')'. */
	const char *odd = "42 ((a) b)) R 1 42 42 34816 -1 4194304 100 0 0 0 7 3 1 2 20 0 1 0\n";
	/* comm ") 1 2 3 4 5 6 7 8 9 10 11 12": digits that would fool a first-')' parse */
	const char *fool = "7 () 1 2 3 4 5 6 7 8 9 10 11 12) S 1 7 7 0 -1 0 0 0 0 0 11 22 0 0";
	uint64_t t = 0;

	CHECK_INT(bench_proc_stat_ticks(plain, strlen(plain), &t), 0);
	CHECK_INT(t, 325);
	t = 0;
	CHECK_INT(bench_proc_stat_ticks(odd, strlen(odd), &t), 0);
	CHECK_INT(t, 10);
	t = 0;
	CHECK_INT(bench_proc_stat_ticks(fool, strlen(fool), &t), 0);
	CHECK_INT(t, 33);
	/* large tick counts */
	const char *big = "1 (x) S 0 0 0 0 0 0 0 0 0 0 4000000000 5000000000 0";
	CHECK_INT(bench_proc_stat_ticks(big, strlen(big), &t), 0);
	CHECK(t == 9000000000ull);
	/* malformed: no ')', no '(', cut before stime, letters in utime, empty */
	const char *bad[] = {
	    "1 x S 1 1 1 0 -1 0 0 0 0 0 5 6 0",
	    "1 x) S 1 1 1 0 -1 0 0 0 0 0 5 6 0",
	    "1 (x) S 1 1 1 0 -1 0 0 0 0 0 5",
	    "1 (x) S 1 1 1 0 -1 0 0 0 0 0 5x 6 0",
	    "1 (x) S 1 1 1 0 -1 0 0 0 0 0 -5 6 0",
	    "1 (x)",
	    "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 77;
		CHECK_INT(bench_proc_stat_ticks(bad[i], strlen(bad[i]), &t), -1);
		CHECK_INT(t, 77);
	}
	/* only len bytes are read: the line cut inside utime (no stime) fails */
	CHECK_INT(bench_proc_stat_ticks(plain, strlen(plain) - 17, &t), -1);
	/* cut right after stime still parses */
	const char *cut = "9 (y) S 1 9 9 0 -1 0 0 0 0 0 12 34";
	CHECK_INT(bench_proc_stat_ticks(cut, strlen(cut), &t), 0);
	CHECK_INT(t, 46);
	/* the reader: this process is readable, a pid over pid_max is not */
	CHECK(bench_proc_cpu_s((long)getpid()) >= 0);
	CHECK(bench_proc_cpu_s(4194305) == -1);
	CHECK(bench_proc_rss((long)getpid()) > 0);
}

static void test_json_server_cpu(void)
{
	struct bench_result r;
	char out[2048];

	bench_result_init(&r, BENCH_MAX);
	CHECK(r.server_cpu_s < 0 && r.server_cpu_window_s < 0 && r.server_cpu_us_per_delivery < 0);
	bench_result_json(&r, out, sizeof(out));
	CHECK_CONTAINS(out, "\"server_cpu_s\":null");
	CHECK_CONTAINS(out, "\"server_cpu_window_s\":null");
	CHECK_CONTAINS(out, "\"server_cpu_us_per_delivery\":null");
	r.server_cpu_s = 1.25;
	r.server_cpu_window_s = 2.5;
	r.server_cpu_us_per_delivery = 3.125;
	bench_result_json(&r, out, sizeof(out));
	CHECK_CONTAINS(out, "\"server_cpu_s\":1.250");
	CHECK_CONTAINS(out, "\"server_cpu_window_s\":2.500");
	CHECK_CONTAINS(out, "\"server_cpu_us_per_delivery\":3.125");
}

int main(void)
{
	test_hist_buckets();
	test_hist_percentiles();
	test_opts();
	test_chat_messages();
	test_ts();
	test_path_and_url();
	test_handshake();
	test_json();
	test_proc_stat();
	test_json_server_cpu();
	return check_finish();
}
