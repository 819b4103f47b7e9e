/*
 * test_handshake.c - the WebSocket opening handshake of the real server:
 * routing (404), the Origin policy (same host, --allowed-origins) and
 * --max-connections (503 while full, admitted again after a close, and
 * not leaked by upgrade requests lws refuses after our checks).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"

/* Opens `path` and expects the handshake to end with `status`. */
static void expect_status(const struct h_server *s, const char *path, const char *origin,
			  int status)
{
	struct client_ws *ws = NULL;
	int got = 0;
	int rc = h_ws_open(s, path, NULL, origin, &ws, &got);
	if (got != status)
		fprintf(stderr, "handshake %s (Origin %s): %d (%s), expected %d\n", path,
			origin ? origin : "none", got, ch_strerror(rc), status);
	CHECK_INT(got, status);
	CHECK_INT(rc, status == 101 ? CH_OK : CH_EHANDSHAKE);
	CHECK((ws != NULL) == (status == 101));
	if (ws) {
		/* An open socket is a working one: the chart pushes a point at once. */
		if (strcmp(path, "/ws/two_url/") == 0) {
			json_t *v = h_recv_json(ws, 3000, path);
			CHECK(json_is_integer(json_object_get(v, "data")));
			json_decref(v);
		}
		CHECK_INT(client_ws_close(ws, 1000, 3000), 0);
	}
	client_ws_free(ws);
}

static void test_routes_and_origin(const struct h_server *s)
{
	char same[64];
	snprintf(same, sizeof(same), "http://127.0.0.1:%d", s->port);

	expect_status(s, "/ws/nowhere/", NULL, 404);
	expect_status(s, "/ws/chat/", NULL, 404);
	expect_status(s, "/", NULL, 404);
	expect_status(s, "/ws/chat/lobby/", "http://evil.example", 403);
	expect_status(s, "/notifications/", "http://evil.example", 403);
	/* Same host name but another port is another origin. */
	char other_port[64];
	snprintf(other_port, sizeof(other_port), "http://127.0.0.1:%d", s->port == 1 ? 2 : 1);
	expect_status(s, "/ws/chat/lobby/", other_port, 403);
	expect_status(s, "/ws/chat/lobby/", same, 101);
	/* Sandboxed frames and file:// pages send "null". */
	expect_status(s, "/ws/chat/lobby/", "null", 403);
	expect_status(s, "/ws/chat/lobby/", NULL, 101);
	expect_status(s, "/notifications/", same, 101);
	expect_status(s, "/ws/two_url/", NULL, 101);
	CHECK_INT(h_healthz(s), 0);
}

static void test_allowed_origins(const struct h_server *s)
{
	expect_status(s, "/ws/chat/lobby/", "http://good.example", 101);
	expect_status(s, "/ws/chat/lobby/", "http://evil.example", 403);
	expect_status(s, "/ws/chat/lobby/", "http://good.example.evil.example", 403);
	expect_status(s, "/ws/chat/lobby/", "https://good.example", 403);
	/* The list replaces the same-host rule. */
	char same[64];
	snprintf(same, sizeof(same), "http://127.0.0.1:%d", s->port);
	expect_status(s, "/ws/chat/lobby/", same, 403);
	expect_status(s, "/ws/chat/lobby/", NULL, 101);
}

/* Opens until one is admitted, for up to `ms`: the server counts a
 * connection as gone only once it has processed the close. */
static struct client_ws *open_eventually(const struct h_server *s, int ms, int *last_status)
{
	int64_t deadline = h_now_ms() + ms;
	for (;;) {
		struct client_ws *ws = NULL;
		h_ws_open(s, "/ws/chat/lobby/", NULL, NULL, &ws, last_status);
		if (ws || h_now_ms() > deadline)
			return ws;
		h_sleep_ms(20);
	}
}

static void test_max_connections(const struct h_server *s)
{
	struct client_ws *a = NULL, *b = NULL, *c = NULL;
	int st = 0;
	CHECK_INT(h_ws_open(s, "/ws/chat/lobby/", NULL, NULL, &a, &st), 0);
	CHECK_INT(st, 101);
	CHECK_INT(h_ws_open(s, "/notifications/", NULL, NULL, &b, &st), 0);
	CHECK_INT(st, 101);
	CHECK_INT(h_ws_open(s, "/ws/chat/lobby/", NULL, NULL, &c, &st), CH_EHANDSHAKE);
	CHECK_INT(st, 503);
	client_ws_free(c);
	c = NULL;
	/* Refused again: a refusal does not count as a connection that left. */
	CHECK_INT(h_ws_open(s, "/ws/two_url/", NULL, NULL, &c, &st), CH_EHANDSHAKE);
	CHECK_INT(st, 503);
	client_ws_free(c);
	c = NULL;
	/* HTTP is not limited by it. */
	CHECK_INT(h_healthz(s), 0);
	/* The two open ones still work. */
	if (a)
		CHECK_INT(h_chat_roundtrip(a, a, "still here", 3000), 0);

	CHECK_INT(client_ws_close(a, 1000, 3000), 0);
	client_ws_free(a);
	a = NULL;
	c = open_eventually(s, 3000, &st);
	CHECK(c != NULL);
	CHECK_INT(st, 101);
	if (c)
		CHECK_INT(h_chat_roundtrip(c, c, "after a close", 3000), 0);
	/* Full again. */
	struct client_ws *d = NULL;
	CHECK_INT(h_ws_open(s, "/ws/chat/lobby/", NULL, NULL, &d, &st), CH_EHANDSHAKE);
	CHECK_INT(st, 503);
	client_ws_free(d);

	/* A client that vanishes without a close frame frees its slot too. */
	client_ws_free(b);
	b = open_eventually(s, 3000, &st);
	CHECK(b != NULL);
	client_ws_free(b);
	client_ws_free(c);
}

/* Sends `req` on a new connection and returns the response's status (0 on
 * a connection error); reads until the server closes or 2 s pass. */
static int raw_request(const struct h_server *s, const char *req)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	CHECK_INT(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	char buf[512] = "";
	size_t got = 0;
	int64_t deadline = h_now_ms() + 2000;
	while (got < sizeof(buf) - 1 && h_now_ms() < deadline) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	close(fd);
	int status = 0;
	sscanf(buf, "HTTP/1.%*d %d", &status);
	return status;
}

/*
 * Upgrade requests that pass our checks (route, Origin) but that lws then
 * refuses (no Connection: Upgrade, no Sec-WebSocket-Key): the consumer was
 * already opened for them, and must be closed and its slot freed. With
 * --max-connections 2, five of them and then two real handshakes.
 */
static void test_refused_upgrades_free_their_slot(const struct h_server *s)
{
	static const char *const bad[] = {
		"GET /ws/chat/lobby/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
		"GET /ws/chat/lobby/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
	};
	for (int i = 0; i < 5; i++) {
		int st = raw_request(s, bad[i % 2]);
		if (st == 101)
			fprintf(stderr, "refused upgrade %d: got 101\n", i);
		CHECK(st != 101);
	}
	struct client_ws *a = NULL, *b = NULL;
	int st = 0;
	int64_t deadline = h_now_ms() + 3000;
	do { /* the slots come back as lws closes those sockets */
		client_ws_free(a);
		a = NULL;
		h_ws_open(s, "/ws/chat/lobby/", NULL, NULL, &a, &st);
	} while (!a && h_now_ms() < deadline && (h_sleep_ms(50), 1));
	CHECK_INT(st, 101);
	CHECK_INT(h_ws_open(s, "/ws/chat/lobby/", NULL, NULL, &b, &st), 0);
	CHECK_INT(st, 101);
	if (a && b)
		CHECK_INT(h_chat_roundtrip(a, b, "after refused upgrades", 3000), 0);
	client_ws_free(a);
	client_ws_free(b);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, &check_failed);

	CHECK_INT(h_with_server(NULL, test_routes_and_origin, "server"), 0);

	const char *origins[] = {"--allowed-origins", "http://good.example", NULL};
	CHECK_INT(h_with_server(origins, test_allowed_origins, "server with --allowed-origins"), 0);

	const char *maxconn[] = {"--max-connections", "2", NULL};
	CHECK_INT(h_with_server(maxconn, test_max_connections,
				"server with --max-connections 2"),
		  0);
	CHECK_INT(h_with_server(maxconn, test_refused_upgrades_free_their_slot,
				"server with --max-connections 2"),
		  0);
	return check_finish();
}
