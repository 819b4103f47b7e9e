/*
 * test_observability.c - what the real server says about itself:
 *   /metrics: every line valid Prometheus text format (0.0.4); the counters
 *     move by exactly what N requests, a WebSocket session of M messages,
 *     refused handshakes, a 1008 (rate limit) and a 1013 (slow consumer)
 *     close did; --metrics-path moves or turns it off; a client that is not
 *     loopback gets 403 unless it sends --metrics-token;
 *   /healthz and /readyz: 200 on the memory layer (Redis: tests/redis/
 *     test_readyz.c);
 *   /status/: the page, its script, and its WebSocket's totals once a
 *     second; 403 for a remote client without ?token=;
 *   the access log in both formats: a page, a static file, a 404, a refused
 *     handshake, a WebSocket session (connect and end lines), and a hostile
 *     path whose quotes, backslashes and control bytes come out escaped;
 *     SIGHUP reopening a log file that was moved away.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"

#define TOKEN "observability-publish-token-0123"

/* ---- a scrape, parsed ---- */

struct sample {
	char key[256]; /* name{labels} exactly as written */
	double v;
};

struct scrape {
	struct sample s[512];
	size_t n;
};

static bool metric_name_ok(const char *p, size_t n)
{
	if (!n || !(isalpha((unsigned char)p[0]) || p[0] == '_' || p[0] == ':'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)p[i]) || p[i] == '_' || p[i] == ':'))
			return false;
	return true;
}

/* {name="value",...}: the length of the label set at p, or 0 when invalid. */
static size_t labels_len(const char *p)
{
	const char *q = p + 1;
	while (*q != '}') {
		size_t n = strcspn(q, "=");
		if (!metric_name_ok(q, n) || q[n] != '=' || q[n + 1] != '"')
			return 0;
		q += n + 2;
		while (*q != '"') {
			if (!*q || *q == '\n')
				return 0;
			if (*q == '\\') {
				if (q[1] != '\\' && q[1] != '"' && q[1] != 'n')
					return 0;
				q++;
			}
			q++;
		}
		q++;
		if (*q == ',')
			q++;
		else if (*q != '}')
			return 0;
	}
	return (size_t)(q + 1 - p);
}

/* Checks one line; a sample goes into sc. `types` holds "name type\n" of
 * every TYPE seen. Returns false (printed) for an invalid line. */
static bool parse_line(const char *line, struct scrape *sc, char *types, size_t types_cap)
{
	if (strncmp(line, "# HELP ", 7) == 0) {
		size_t n = strcspn(line + 7, " ");
		return metric_name_ok(line + 7, n) && line[7 + n] == ' ';
	}
	if (strncmp(line, "# TYPE ", 7) == 0) {
		const char *name = line + 7;
		size_t n = strcspn(name, " ");
		const char *type = name + n + 1;
		if (!metric_name_ok(name, n) || name[n] != ' ')
			return false;
		if (strcmp(type, "counter") && strcmp(type, "gauge") && strcmp(type, "untyped"))
			return false;
		if (!strcmp(type, "counter") && (n < 6 || strncmp(name + n - 6, "_total", 6)))
			return false; /* counters end in _total */
		char entry[160];
		snprintf(entry, sizeof(entry), "\n%.*s ", (int)n, name);
		if (strstr(types, entry))
			return false; /* one TYPE per name */
		size_t used = strlen(types);
		snprintf(types + used, types_cap - used, "\n%.*s %s", (int)n, name, type);
		return true;
	}
	if (line[0] == '#')
		return true; /* a comment */
	size_t n = strcspn(line, "{ ");
	if (!metric_name_ok(line, n))
		return false;
	char entry[160];
	snprintf(entry, sizeof(entry), "\n%.*s ", (int)n, line);
	if (!strstr(types, entry))
		return false; /* a sample before (or without) its TYPE */
	size_t key_len = n;
	if (line[n] == '{') {
		size_t l = labels_len(line + n);
		if (!l)
			return false;
		key_len += l;
	}
	if (line[key_len] != ' ' || key_len >= sizeof(sc->s[0].key) || sc->n == 512)
		return false;
	char *end = NULL;
	double v = strtod(line + key_len + 1, &end);
	if (end == line + key_len + 1 || *end)
		return false;
	memcpy(sc->s[sc->n].key, line, key_len);
	sc->s[sc->n].key[key_len] = '\0';
	sc->s[sc->n++].v = v;
	return true;
}

/* GET /metrics (or `path`) and parse it: 0, or -1 (printed). */
static int scrape_path(const struct h_server *s, const char *path, struct scrape *sc)
{
	struct client_response r;
	sc->n = 0;
	if (h_http(s, "GET", path, NULL, NULL, NULL, 0, &r) != 0)
		return -1;
	int rc = -1;
	const char *ct = client_response_header(&r, "content-type");
	if (r.status != 200 || !ct || strcmp(ct, "text/plain; version=0.0.4; charset=utf-8")) {
		fprintf(stderr, "GET %s: %d, Content-Type %s\n", path, r.status, ct ? ct : "none");
		goto out;
	}
	size_t len = r.body_len;
	if (!len || r.body[len - 1] != '\n') {
		fprintf(stderr, "GET %s: the body does not end with a newline\n", path);
		goto out;
	}
	static char types[16384];
	types[0] = '\0';
	rc = 0;
	for (char *line = r.body; *line;) {
		char *nl = strchr(line, '\n');
		*nl = '\0';
		if (!parse_line(line, sc, types, sizeof(types))) {
			fprintf(stderr, "invalid exposition line: '%s'\n", line);
			rc = -1;
		}
		line = nl + 1;
	}
out:
	client_response_clear(&r);
	return rc;
}

static int scrape(const struct h_server *s, struct scrape *sc)
{
	return scrape_path(s, "/metrics", sc);
}

/* The value of `key` (name{labels} as written), or -1 when absent. */
static double val(const struct scrape *sc, const char *key)
{
	for (size_t i = 0; i < sc->n; i++)
		if (strcmp(sc->s[i].key, key) == 0)
			return sc->s[i].v;
	fprintf(stderr, "no sample %s\n", key);
	return -1;
}

#define DELTA(a, b, key) (val(b, key) - val(a, key))

/* Scrapes until `key` has `want` (gauges that follow a close), up to 3 s. */
static double wait_val(const struct h_server *s, const char *key, double want)
{
	static struct scrape sc;
	double v = -1;
	for (int i = 0; i < 60; i++) {
		if (scrape(s, &sc) == 0 && (v = val(&sc, key)) == want)
			return v;
		h_sleep_ms(50);
	}
	return v;
}

/* Scrapes until `key` is at least `want`, up to 3 s. */
static double wait_min(const struct h_server *s, const char *key, double want)
{
	static struct scrape sc;
	double v = -1;
	for (int i = 0; i < 60; i++) {
		if (scrape(s, &sc) == 0 && (v = val(&sc, key)) >= want)
			return v;
		h_sleep_ms(50);
	}
	return v;
}

/* ---- /metrics ---- */

static void test_counters(const struct h_server *s)
{
	static struct scrape a, b;
	enum { N = 5, M = 4 };
	CHECK_INT(scrape(s, &a), 0);
	CHECK(val(&a, "channels_workers") == 1);
	CHECK(val(&a, "channels_layer_state{state=\"up\"}") == 1);
	CHECK(val(&a, "channels_loop_lag_seconds{worker=\"0\"}") >= 0);
	CHECK(val(&a, "channels_view_queue_depth") >= 0);

	/* N pages: N + 1 responses 2xx (the first scrape's own is counted after it) */
	for (int i = 0; i < N; i++) {
		struct client_response r;
		CHECK_INT(h_http(s, "GET", "/", NULL, NULL, NULL, 0, &r), 0);
		CHECK_INT(r.status, 200);
		client_response_clear(&r);
	}
	struct client_response r404;
	CHECK_INT(h_http(s, "GET", "/no/such/", NULL, NULL, NULL, 0, &r404), 0);
	client_response_clear(&r404);
	CHECK_INT(scrape(s, &b), 0);
	CHECK(DELTA(&a, &b, "channels_http_responses_total{code=\"2xx\"}") == N + 1);
	CHECK(DELTA(&a, &b, "channels_http_responses_total{code=\"4xx\"}") == 1);
	CHECK(DELTA(&a, &b, "channels_http_connections_total") >= N + 2);
	CHECK(DELTA(&a, &b, "channels_http_response_bytes_total") > 0);

	/* a WebSocket session of M messages, each echoed by the room */
	a = b;
	struct client_ws *ws = NULL;
	CHECK_INT(h_ws_open(s, "/ws/chat/lobby/", NULL, NULL, &ws, NULL), 0);
	if (ws) {
		CHECK(wait_val(s, "channels_ws_connections_open", 1) == 1);
		/* the chat consumer is in its room's group (copied every 250 ms) */
		CHECK(wait_min(s, "channels_layer_members{worker=\"0\",backend=\"memory\"}", 1) >= 1);
		CHECK(wait_min(s, "channels_layer_groups{worker=\"0\",backend=\"memory\"}", 1) >= 1);
		for (int i = 0; i < M; i++) {
			char text[32];
			snprintf(text, sizeof(text), "m%d", i);
			CHECK_INT(h_ws_send_chat(ws, text), 0);
			json_t *v = h_recv_json(ws, 3000, "lobby");
			CHECK(v != NULL);
			json_decref(v);
		}
		CHECK_INT(client_ws_close(ws, 1000, 3000), 0);
		client_ws_free(ws);
	}
	CHECK(wait_val(s, "channels_ws_connections_open", 0) == 0);
	CHECK(wait_val(s, "channels_layer_members{worker=\"0\",backend=\"memory\"}", 0) == 0);
	CHECK_INT(scrape(s, &b), 0);
	CHECK(DELTA(&a, &b, "channels_ws_handshakes_total{status=\"101\"}") == 1);
	CHECK(DELTA(&a, &b, "channels_ws_connections_total") == 1);
	CHECK(DELTA(&a, &b, "channels_ws_messages_received_total") == M);
	CHECK(DELTA(&a, &b, "channels_ws_received_bytes_total") > M * 10);
	CHECK(DELTA(&a, &b, "channels_ws_messages_sent_total") >= M);
	CHECK(DELTA(&a, &b, "channels_ws_sent_bytes_total") > 0);
	CHECK(DELTA(&a, &b, "channels_ws_closes_total{code=\"1000\"}") == 1);
	/* the layer's counters are copied every 250 ms */
	CHECK(wait_min(s, "channels_layer_publishes_total{worker=\"0\",backend=\"memory\"}", M) >= M);
	CHECK(wait_min(s, "channels_layer_receives_total{worker=\"0\",backend=\"memory\"}", M) >= M);

	/* refused handshakes, by status */
	a = b;
	int st = 0;
	CHECK_INT(h_ws_open(s, "/ws/nowhere/", NULL, NULL, &ws, &st), CH_EHANDSHAKE);
	CHECK_INT(st, 404);
	CHECK_INT(h_ws_open(s, "/ws/chat/lobby/", NULL, "http://evil.example", &ws, &st),
		  CH_EHANDSHAKE);
	CHECK_INT(st, 403);
	CHECK_INT(scrape(s, &b), 0);
	CHECK(DELTA(&a, &b, "channels_ws_handshakes_total{status=\"404\"}") == 1);
	CHECK(DELTA(&a, &b, "channels_ws_handshakes_total{status=\"403\"}") == 1);
	CHECK(DELTA(&a, &b, "channels_ws_handshakes_total{status=\"101\"}") == 0);
}

/* Publishes a name.gossip event of `size` bytes of JSON to group gossip. */
static int publish_sized(const struct h_server *s, size_t size)
{
	const char *head = "{\"type\":\"name.gossip\",\"pad\":\"";
	size_t hn = strlen(head);
	char *j = malloc(size + 1);
	memcpy(j, head, hn);
	memset(j + hn, 'a', size - hn - 2);
	memcpy(j + size - 2, "\"}", 3);
	struct client_response r;
	int rc = h_http(s, "POST", "/_channels/group-send/gossip/", NULL,
			"Authorization: Bearer " TOKEN "\r\nContent-Type: application/json\r\n", j,
			size, &r);
	int status = rc == 0 ? r.status : -1;
	if (rc == 0)
		client_response_clear(&r);
	free(j);
	return status;
}

/* A 1008 (--rate-burst 3, nearly no refill) and a 1013 (--max-queue). */
static void test_policy_closes(const struct h_server *s)
{
	static struct scrape a, b;
	CHECK_INT(scrape(s, &a), 0);
	struct client_ws *ws = NULL;
	CHECK_INT(h_ws_open(s, "/ws/chat/lobby/", NULL, NULL, &ws, NULL), 0);
	if (ws) {
		for (int i = 0; i < 6; i++)
			h_ws_send_chat(ws, "flood");
		CHECK_INT(h_ws_expect_close(ws, 3000, NULL), 1008);
		client_ws_free(ws);
	}
	struct client_ws *n = NULL;
	CHECK_INT(h_ws_open(s, "/notifications/", NULL, NULL, &n, NULL), 0);
	if (n) {
		CHECK_INT(publish_sized(s, 70001), 202);
		CHECK_INT(h_ws_expect_close(n, 3000, NULL), 1013);
		client_ws_free(n);
	}
	CHECK(wait_val(s, "channels_ws_connections_open", 0) == 0);
	CHECK_INT(scrape(s, &b), 0);
	CHECK(DELTA(&a, &b, "channels_ws_rate_limited_total") == 1);
	CHECK(DELTA(&a, &b, "channels_ws_closes_total{code=\"1008\"}") == 1);
	CHECK(DELTA(&a, &b, "channels_ws_slow_consumer_closes_total") == 1);
	CHECK(DELTA(&a, &b, "channels_ws_closes_total{code=\"1013\"}") == 1);
	CHECK(DELTA(&a, &b, "channels_ws_send_refused_total") == 1);
}

/* The live status page, its script and its WebSocket's totals. */
static void test_status(const struct h_server *s)
{
	struct client_response r;
	CHECK_INT(h_http(s, "GET", "/status/", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "<canvas id=\"c-lag\"");
	CHECK_CONTAINS(r.body, "js/status.js");
	client_response_clear(&r);
	CHECK_INT(h_http(s, "GET", "/static/js/status.js", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "/status/ws/");
	client_response_clear(&r);
	struct client_ws *ws = NULL;
	CHECK_INT(h_ws_open(s, "/status/ws/", NULL, NULL, &ws, NULL), 0);
	if (!ws)
		return;
	int64_t t0 = h_now_ms();
	json_t *a = h_recv_json(ws, 2000, "status (first)");
	json_t *b = h_recv_json(ws, 3000, "status (second)");
	int64_t dt = h_now_ms() - t0;
	CHECK(a && b);
	CHECK(dt >= 800 && dt < 2500); /* one a second, the first at once */
	if (a && b) {
		CHECK(json_integer_value(json_object_get(b, "ws_open")) >= 1); /* itself */
		CHECK(json_integer_value(json_object_get(b, "http_responses")) >= 2);
		CHECK(json_is_number(json_object_get(b, "loop_lag_ms")));
		CHECK_INT(json_integer_value(json_object_get(b, "workers")), 1);
		CHECK_STR(json_string_value(json_object_get(b, "layer")), "up");
	}
	json_decref(a);
	json_decref(b);
	CHECK_INT(client_ws_close(ws, 1000, 3000), 0);
	client_ws_free(ws);
}

static void test_health(const struct h_server *s)
{
	struct client_response r;
	CHECK_INT(h_healthz(s), 0);
	CHECK_INT(h_http(s, "GET", "/readyz", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "ok\n");
	client_response_clear(&r);
}

static void test_metrics_path(const struct h_server *s)
{
	static struct scrape sc;
	struct client_response r;
	CHECK_INT(h_http(s, "GET", "/metrics", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 404);
	client_response_clear(&r);
	CHECK_INT(scrape_path(s, "/internal/prom", &sc), 0);
	CHECK(val(&sc, "channels_workers") == 2);
	CHECK(val(&sc, "channels_loop_lag_seconds{worker=\"1\"}") >= 0);
}

static void test_metrics_off(const struct h_server *s)
{
	struct client_response r;
	CHECK_INT(h_http(s, "GET", "/metrics", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 404);
	client_response_clear(&r);
	CHECK_INT(h_healthz(s), 0);
	CHECK_INT(h_http(s, "GET", "/status/", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 404);
	client_response_clear(&r);
}

/* A non-loopback IPv4 address of this machine into `out`, or false. */
static bool local_address(char *out, size_t len)
{
	struct ifaddrs *ifs = NULL, *i;
	bool found = false;
	if (getifaddrs(&ifs) != 0)
		return false;
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		if ((ntohl(a.s_addr) >> 24) == 127)
			continue;
		found = inet_ntop(AF_INET, &a, out, (socklen_t)len) != NULL;
	}
	freeifaddrs(ifs);
	return found;
}

/* GET `path` from `addr` (a raw request): the status, or -1. */
static int raw_get_status(const char *addr, int port, const char *path, const char *extra)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, addr, &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char req[512], resp[64] = "";
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\n%sConnection: close\r\n\r\n",
			 path, addr, port, extra);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	ssize_t got = read(fd, resp, sizeof(resp) - 1);
	close(fd);
	int status = -1;
	if (got > 12)
		sscanf(resp, "HTTP/1.1 %d", &status);
	return status;
}

static char remote_addr[64];

static void test_metrics_remote(const struct h_server *s)
{
	CHECK_INT(raw_get_status(remote_addr, s->port, "/metrics", ""), 403);
	CHECK_INT(raw_get_status(remote_addr, s->port, "/metrics",
				 "Authorization: Bearer wrong-token-wrong-token\r\n"), 403);
	CHECK_INT(raw_get_status(remote_addr, s->port, "/metrics",
				 "Authorization: Bearer metrics-token-0123456789\r\n"), 200);
	CHECK_INT(raw_get_status("127.0.0.1", s->port, "/metrics", ""), 200);
	CHECK_INT(raw_get_status(remote_addr, s->port, "/healthz", ""), 200);
	CHECK_INT(raw_get_status(remote_addr, s->port, "/status/", ""), 403);
	CHECK_INT(raw_get_status(remote_addr, s->port, "/status/?token=metrics-token-0123456789", ""),
		  200);
	const char *up = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
			 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
	CHECK_INT(raw_get_status(remote_addr, s->port, "/status/ws/", up), 403);
	CHECK_INT(raw_get_status(remote_addr, s->port, "/status/ws/?token=metrics-token-0123456789",
				 up), 101);
	CHECK_INT(raw_get_status(remote_addr, s->port, "/readyz", ""), 200);
}

/* ---- the access log ---- */

static char log_path[128];

/* The log file's text once it contains `needle` (up to 3 s), malloc'd, or NULL. */
static char *log_wait(const char *needle)
{
	for (int i = 0; i < 60; i++) {
		FILE *f = fopen(log_path, "r");
		if (f) {
			static char buf[1 << 16];
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			buf[n] = '\0';
			if (strstr(buf, needle))
				return strdup(buf);
		}
		h_sleep_ms(50);
	}
	fprintf(stderr, "the access log never had '%s'\n", needle);
	return NULL;
}

/* What every access-log test sends: returns the static file's size. */
static long traffic(const struct h_server *s)
{
	struct client_response r;
	struct stat st;
	char *css = h_src_path("static/css/site.css");
	long size = stat(css, &st) == 0 ? (long)st.st_size : -1;
	free(css);
	h_http(s, "GET", "/", NULL, NULL, NULL, 0, &r);
	client_response_clear(&r);
	h_http(s, "GET", "/static/css/site.css", NULL, NULL, NULL, 0, &r);
	CHECK_INT(r.status, 200);
	client_response_clear(&r);
	h_http(s, "GET", "/no/%0d%0afake%22line%5c%01%C3%BC%FF", NULL, NULL, NULL, 0, &r);
	CHECK_INT(r.status, 404);
	client_response_clear(&r);
	struct client_ws *ws = NULL;
	int st_code = 0;
	h_ws_open(s, "/ws/chat/lobby/", NULL, "http://evil.example", &ws, &st_code);
	CHECK_INT(st_code, 403);
	CHECK_INT(h_ws_open(s, "/ws/chat/lobby/", NULL, NULL, &ws, NULL), 0);
	if (ws) {
		for (int i = 0; i < 3; i++) {
			CHECK_INT(h_ws_send_chat(ws, "hello"), 0);
			json_decref(h_recv_json(ws, 3000, "lobby"));
		}
		CHECK_INT(client_ws_close(ws, 1000, 3000), 0);
		client_ws_free(ws);
	}
	return size;
}

static void test_access_common(const struct h_server *s)
{
	long size = traffic(s);
	char *log = log_wait("WSDISCONNECT");
	if (!log)
		return;
	char want[160];
	CHECK_CONTAINS(log, "127.0.0.1 - - [");
	CHECK_CONTAINS(log, "] \"GET /\" 200 ");
	snprintf(want, sizeof(want), "\"GET /static/css/site.css\" 200 %ld ", size);
	CHECK_CONTAINS(log, want);
	CHECK_CONTAINS(log, "\"GET /no/\\x0D\\x0Afake\\x22line\\x5C\\x01\xC3\xBC\\xFF\" 404 ");
	CHECK_CONTAINS(log, "\"GET /ws/chat/lobby/\" 403 ");
	CHECK_CONTAINS(log, "\"WSCONNECT /ws/chat/lobby/\" 101 ");
	CHECK_CONTAINS(log, "\"WSDISCONNECT /ws/chat/lobby/\" 1000 - ");
	CHECK_CONTAINS(log, " in=3 out=");
	/* every line is ours: begins with the address, one request each */
	int lines = 0;
	for (char *p = log; *p; p = strchr(p, '\n') + 1) {
		CHECK(strncmp(p, "127.0.0.1 - - [", 15) == 0);
		lines++;
	}
	CHECK_INT(lines, 6);
	free(log);
}

static void test_access_json(const struct h_server *s)
{
	long size = traffic(s);
	char *log = log_wait("wsdisconnect");
	if (!log)
		return;
	int lines = 0, seen = 0;
	for (char *p = log; *p;) {
		char *nl = strchr(p, '\n');
		*nl = '\0';
		json_error_t err;
		json_t *v = json_loads(p, 0, &err);
		CHECK(v != NULL);
		if (!v) {
			fprintf(stderr, "not JSON: %s (%s)\n", p, err.text);
			p = nl + 1;
			continue;
		}
		lines++;
		const char *type = json_string_value(json_object_get(v, "type"));
		const char *path = json_string_value(json_object_get(v, "path"));
		int status = (int)json_integer_value(json_object_get(v, "status"));
		CHECK_STR(json_string_value(json_object_get(v, "client")), "127.0.0.1");
		CHECK(json_is_string(json_object_get(v, "time")));
		if (!strcmp(type, "http") && !strcmp(path, "/static/css/site.css")) {
			CHECK_INT(status, 200);
			CHECK_INT(json_integer_value(json_object_get(v, "bytes")), size);
			CHECK(json_is_real(json_object_get(v, "duration")));
			seen |= 1;
		} else if (!strcmp(type, "http") && !strncmp(path, "/no/", 4)) {
			CHECK_STR(path, "/no/\r\nfake\"line\\\x01\xC3\xBC\xC3\xBF");
			CHECK_INT(status, 404);
			seen |= 2;
		} else if (!strcmp(type, "http") && status == 403) {
			CHECK_STR(path, "/ws/chat/lobby/");
			seen |= 4;
		} else if (!strcmp(type, "wsconnect")) {
			CHECK_STR(path, "/ws/chat/lobby/");
			seen |= 8;
		} else if (!strcmp(type, "wsdisconnect")) {
			CHECK_INT(json_integer_value(json_object_get(v, "code")), 1000);
			CHECK_INT(json_integer_value(json_object_get(v, "messages_in")), 3);
			CHECK(json_integer_value(json_object_get(v, "messages_out")) >= 3);
			seen |= 16;
		} else if (!strcmp(type, "http") && !strcmp(path, "/")) {
			CHECK_INT(status, 200);
			seen |= 32;
		}
		json_decref(v);
		p = nl + 1;
	}
	CHECK_INT(lines, 6);
	CHECK_INT(seen, 63);
	free(log);
}

/* SIGHUP after the log file was moved away (logrotate): the server writes
 * to a new file at the path, and the moved one keeps what came before. */
static void test_access_reopen(const struct h_server *s)
{
	char moved[160];
	snprintf(moved, sizeof(moved), "%s.1", log_path);
	CHECK_INT(h_healthz(s), 0);
	free(log_wait("\"GET /healthz\""));
	CHECK_INT(rename(log_path, moved), 0);
	kill(s->pid, SIGHUP);
	for (int i = 0; i < 60 && h_server_log_count(s, "SIGHUP: reload") < 1; i++)
		h_sleep_ms(50);
	struct client_response r;
	CHECK_INT(h_http(s, "GET", "/readyz", NULL, NULL, NULL, 0, &r), 0);
	client_response_clear(&r);
	char *log = log_wait("\"GET /readyz\"");
	CHECK(log && !strstr(log, "/healthz"));
	free(log);
	unlink(moved);
}

static void test_access_off(const struct h_server *s)
{
	struct client_response r;
	CHECK_INT(h_http(s, "GET", "/?marker-off", NULL, NULL, NULL, 0, &r), 0);
	client_response_clear(&r);
	CHECK_INT(h_healthz(s), 0);
	CHECK(!h_server_log_has(s, "\"GET /healthz\""));
}

static void test_access_stdout(const struct h_server *s)
{
	CHECK_INT(h_healthz(s), 0);
	for (int i = 0; i < 60 && !h_server_log_has(s, "\"GET /healthz\" 200 3 "); i++)
		h_sleep_ms(50);
	CHECK(h_server_log_has(s, "\"GET /healthz\" 200 3 "));
}

int main(int argc, char **argv)
{
	h_init(argc, argv, &check_failed);

	const char *one[] = {"--workers", "1", NULL};
	CHECK_INT(h_with_server(one, test_counters, "server for the counters"), 0);
	CHECK_INT(h_with_server(one, test_health, "server for /healthz and /readyz"), 0);
	CHECK_INT(h_with_server(one, test_status, "server for /status/"), 0);
	const char *policy[] = {"--workers", "1", "--rate-limit", "0.001", "--rate-burst", "3",
				"--max-queue", "70000", "--publish-token", TOKEN, NULL};
	CHECK_INT(h_with_server(policy, test_policy_closes, "server for 1008 and 1013"), 0);
	const char *moved[] = {"--workers", "2", "--metrics-path", "/internal/prom", NULL};
	CHECK_INT(h_with_server(moved, test_metrics_path, "server with --metrics-path"), 0);
	const char *off[] = {"--metrics-path", "off", "--access-log", "off", NULL};
	CHECK_INT(h_with_server(off, test_metrics_off, "server with --metrics-path off"), 0);
	CHECK_INT(h_with_server(off, test_access_off, "server with --access-log off"), 0);
	CHECK_INT(h_with_server(NULL, test_access_stdout, "server logging to stdout"), 0);
	if (local_address(remote_addr, sizeof(remote_addr))) {
		const char *remote[] = {"--host", "0.0.0.0", "--metrics-token",
					"metrics-token-0123456789", NULL};
		CHECK_INT(h_with_server(remote, test_metrics_remote, "server on 0.0.0.0"), 0);
	} else {
		printf("note: no non-loopback IPv4 address here: the 403 for remote clients is "
		       "not exercised\n");
	}

	snprintf(log_path, sizeof(log_path), "/tmp/channels-itest-access-%d.log", (int)getpid());
	const char *fmts[] = {"common", "json"};
	void (*tests[])(const struct h_server *) = {test_access_common, test_access_json};
	for (int i = 0; i < 2; i++) {
		unlink(log_path);
		const char *alog[] = {"--access-log", log_path, "--access-log-format", fmts[i], NULL};
		CHECK_INT(h_with_server(alog, tests[i], fmts[i]), 0);
	}
	unlink(log_path);
	const char *rot[] = {"--access-log", log_path, NULL};
	CHECK_INT(h_with_server(rot, test_access_reopen, "server for the log reopen"), 0);
	unlink(log_path);
	return check_finish();
}
