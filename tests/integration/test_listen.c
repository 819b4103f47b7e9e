/*
 * test_listen.c - listeners and proxies, against the real binary:
 *   - a socket passed the way systemd passes it (bound here, dup2'd to fd 3
 *     in the child, LISTEN_FDS=1, LISTEN_PID=the child's pid): HTTP and a
 *     chat WebSocket pair through it, with 2 workers sharing it;
 *   - --uds: HTTP and a chat WebSocket pair over the unix socket, its mode,
 *     a stale socket replaced, a live one refused, the file gone at exit;
 *   - --proxy-headers: the client address from X-Forwarded-For (rightmost
 *     untrusted hop) and Forwarded, only from a trusted peer; the scheme
 *     feeding the CSRF Origin check and the Secure cookie; the publish
 *     endpoint refusing forwarded requests by address, trusting the token
 *     with --publish-allow-remote;
 *   - --root-path and the cookie flags.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "raw_ws.h"

/* A listening TCP socket on 127.0.0.1, any port: the fd, *port set. */
static int tcp_listener(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 128) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
		perror("tcp_listener");
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/* Two chat clients on the server: a message from one reaches the other. */
static void chat_pair(const struct h_server *s, const char *what)
{
	struct client_ws *a = NULL, *b = NULL;
	int st = 0;
	CHECK_INT(h_ws_open(s, "/ws/chat/lobby/", NULL, NULL, &a, &st), 0);
	CHECK_INT(st, 101);
	CHECK_INT(h_ws_open(s, "/ws/chat/lobby/", NULL, NULL, &b, &st), 0);
	CHECK_INT(st, 101);
	if (a && b && h_chat_roundtrip(a, b, what, 5000) != 0)
		CHECK(!"chat message delivered");
	if (a) {
		client_ws_close(a, 1000, 2000);
		client_ws_free(a);
	}
	if (b) {
		client_ws_close(b, 1000, 2000);
		client_ws_free(b);
	}
}

static void test_systemd_fd(void)
{
	int port = 0, fd = tcp_listener(&port);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	struct h_server s;
	const char *extra[] = {"--workers", "2", NULL};
	if (h_server_start_opts(&s, extra, &(struct h_start){.listen_fd = fd, .listen_fdname = "channels"}) != 0) {
		CHECK(!"server started on a LISTEN_FDS socket");
		close(fd);
		return;
	}
	close(fd); /* the server has its own copy now */
	CHECK_INT(s.port, port);
	CHECK(h_server_log_has(&s, "listening on systemd socket channels http://127.0.0.1:"));
	CHECK_INT(h_healthz(&s), 0);
	for (int i = 0; i < 8; i++) /* over both workers' dups */
		CHECK_INT(h_healthz(&s), 0);
	chat_pair(&s, "through the systemd socket");
	CHECK_INT(h_server_stop(&s), 0);
}

/* LISTEN_PID of another process: the socket is not ours, TCP as usual. */
static void test_systemd_other_pid(void)
{
	struct h_server s;
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_PID", "1", 1);
	int rc = h_server_start(&s, NULL);
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	CHECK_INT(rc, 0);
	if (rc == 0) {
		CHECK(h_server_log_has(&s, "listening on http://127.0.0.1:"));
		CHECK_INT(h_healthz(&s), 0);
		CHECK_INT(h_server_stop(&s), 0);
	}
}

/* --fd 3 with a socket the parent made (no LISTEN_* variables). */
static void test_fd_flag(void)
{
	int port = 0, fd = tcp_listener(&port);
	if (fd < 0)
		return;
	/* Keep it at a known number across exec: fd 9, not close-on-exec. */
	CHECK_INT(dup2(fd, 9), 9);
	close(fd);
	struct h_server s;
	const char *extra[] = {"--fd", "9", "--workers", "2", NULL};
	int rc = h_server_start(&s, extra);
	close(9);
	CHECK_INT(rc, 0);
	if (rc != 0)
		return;
	CHECK_INT(s.port, port);
	CHECK(h_server_log_has(&s, "listening on fd 9 http://127.0.0.1:"));
	CHECK_INT(h_healthz(&s), 0);
	chat_pair(&s, "through --fd");
	CHECK_INT(h_server_stop(&s), 0);

	const char *bad[] = {"--fd", "0", NULL}; /* /dev/null, not a socket */
	fprintf(stderr, "expected: a server refusing --fd 0 (not a listening socket)\n");
	CHECK(h_server_start(&s, bad) != 0);
}

static int uds_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends `req` over the unix socket and reads the answer to EOF (malloc'd). */
static char *uds_exchange(const char *path, const char *req)
{
	int fd = uds_connect(path);
	if (fd < 0)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap);
	send(fd, req, strlen(req), MSG_NOSIGNAL);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while (len + 1 < cap && poll(&p, 1, 5000) == 1) {
		ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	out[len] = '\0';
	close(fd);
	return out;
}

/* A chat WebSocket over the unix socket, handshake by hand. */
static int uds_ws(const char *path, struct raw *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = uds_connect(path);
	if (r->fd < 0)
		return -1;
	const char *req = "GET /ws/chat/lobby/ HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
			  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			  "Sec-WebSocket-Version: 13\r\n\r\n";
	raw_send_all(r, req, strlen(req));
	while (!r->len || !memmem(r->buf, r->len, "\r\n\r\n", 4))
		if (raw_fill(r, 5000) != RAW_FRAME)
			return -1;
	unsigned char *end = memmem(r->buf, r->len, "\r\n\r\n", 4);
	size_t head = (size_t)(end - r->buf) + 4;
	bool ok = memcmp(r->buf, "HTTP/1.1 101", 12) == 0;
	memmove(r->buf, r->buf + head, r->len - head);
	r->len -= head;
	return ok ? 0 : -1;
}

static void uds_chat(const char *path)
{
	struct raw a, b;
	CHECK_INT(uds_ws(path, &a), 0);
	CHECK_INT(uds_ws(path, &b), 0);
	const char *msg = "{\"message\": \"over the unix socket\"}";
	raw_send_frame(&a, 0x81, msg, strlen(msg));
	bool got = false;
	for (int i = 0; i < 10 && !got; i++) {
		struct rframe f = {0};
		if (raw_read_frame(&b, 5000, &f) != RAW_FRAME)
			break;
		got = f.data && strstr((char *)f.data, "over the unix socket");
		free(f.data);
	}
	CHECK(got);
	raw_free(&a);
	raw_free(&b);
}

static void test_uds(void)
{
	char dir[] = "/tmp/channels-uds-XXXXXX", path[64];
	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/server.sock", dir);
	/* A stale socket file: bound, then its socket closed without unlink. */
	int stale = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	CHECK_INT(bind(stale, (struct sockaddr *)&a, sizeof(a)), 0);
	close(stale);

	struct h_server s, s2;
	const char *extra[] = {"--uds", path, "--workers", "2", NULL};
	if (h_server_start(&s, extra) != 0) {
		CHECK(!"server started on --uds");
		rmdir(dir);
		return;
	}
	CHECK(h_server_log_has(&s, "removing the stale socket"));
	char want[160];
	snprintf(want, sizeof(want), "listening on unix:%s", path);
	CHECK(h_server_log_has(&s, want));
	struct stat st;
	CHECK_INT(stat(path, &st), 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_INT((int)(st.st_mode & 0777), 0660);
	char *r = uds_exchange(path, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
				     "Connection: close\r\n\r\n");
	CHECK(r && strncmp(r, "HTTP/1.1 200", 12) == 0);
	free(r);
	uds_chat(path);
	/* A second server on the same live socket is refused. */
	fprintf(stderr, "expected: a second server refusing a live --uds socket\n");
	CHECK(h_server_start(&s2, extra) != 0);
	CHECK_INT(h_server_stop(&s), 0);
	CHECK(access(path, F_OK) != 0 && errno == ENOENT); /* removed at exit */
	/* Not a socket: refused, left alone. */
	FILE *f = fopen(path, "w");
	if (f)
		fclose(f);
	fprintf(stderr, "expected: a server refusing a --uds path that is a regular file\n");
	CHECK(h_server_start(&s2, extra) != 0);
	CHECK_INT(access(path, F_OK), 0);
	unlink(path);
	rmdir(dir);
}

static int get_status(const struct h_server *s, const char *path, const char *hdrs)
{
	struct client_response r;
	if (h_http(s, "GET", path, NULL, hdrs, NULL, 0, &r) != 0)
		return -1;
	int st = r.status;
	client_response_clear(&r);
	return st;
}

static void test_forwarded_for(const struct h_server *s)
{
	/* 127.0.0.1 (the peer, trusted) forwards: the rightmost untrusted hop. */
	get_status(s, "/healthz", "X-Forwarded-For: 203.0.113.9, 127.0.0.1\r\n");
	CHECK(h_server_log_has(s, "client 203.0.113.9 via proxy 127.0.0.1"));
	get_status(s, "/healthz", "X-Forwarded-For: 198.51.100.1, 203.0.113.10\r\n");
	CHECK(h_server_log_has(s, "client 203.0.113.10 via proxy 127.0.0.1"));
	CHECK(!h_server_log_has(s, "client 198.51.100.1 "));
	/* Garbage stops the walk: the last trusted address, never the garbage. */
	get_status(s, "/healthz", "X-Forwarded-For: 192.0.2.1, <script>\r\n");
	CHECK(!h_server_log_has(s, "<script>"));
	CHECK(!h_server_log_has(s, "client 192.0.2.1 "));
	/* A long made-up list on the left does not push the proxy's entry out. */
	char many[2048] = "X-Forwarded-For: ";
	for (int i = 0; i < 100; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "6.6.6.%d, ", i);
	strcat(many, "192.0.2.77\r\n");
	get_status(s, "/healthz", many);
	CHECK(h_server_log_has(s, "client 192.0.2.77 via proxy 127.0.0.1"));
	CHECK(!h_server_log_has(s, "client 6.6.6."));
	/* RFC 7239, IPv6 with a port, and the scheme. */
	get_status(s, "/healthz", "Forwarded: for=\"[2001:db8::7]:4711\";proto=https\r\n");
	CHECK(h_server_log_has(s, "client 2001:db8::7 via proxy 127.0.0.1 (https)"));
	get_status(s, "/healthz", "X-Forwarded-For: 192.0.2.44\r\nX-Forwarded-Proto: https\r\n");
	CHECK(h_server_log_has(s, "client 192.0.2.44 via proxy 127.0.0.1 (https)"));
}

/* The CSRF Origin check behind a TLS-terminating proxy, and Secure. */
static void test_https_origin(const struct h_server *s)
{
	struct h_jar jar = {0};
	struct client_response r;
	CHECK_INT(h_http(s, "GET", "/chat/", &jar, NULL, NULL, 0, &r), 0);
	client_response_clear(&r);
	char body[256], hdrs[256];
	snprintf(body, sizeof(body), "username=olga&room=lobby&csrfmiddlewaretoken=%s", jar.csrftoken);
	snprintf(hdrs, sizeof(hdrs), "Origin: https://127.0.0.1:%d\r\n", s->port);
	/* Without the proxy's word the request is http: an https Origin fails. */
	CHECK_INT(h_http(s, "POST", "/chat/", &jar, hdrs, body, strlen(body), &r), 0);
	CHECK_INT(r.status, 403);
	client_response_clear(&r);
	snprintf(hdrs, sizeof(hdrs),
		 "Origin: https://127.0.0.1:%d\r\nX-Forwarded-Proto: https\r\n"
		 "X-Forwarded-For: 192.0.2.5\r\n", s->port);
	CHECK_INT(h_http(s, "POST", "/chat/", &jar, hdrs, body, strlen(body), &r), 0);
	CHECK_INT(r.status, 302);
	const char *c = h_set_cookie(&r, "sessionid");
	CHECK(c && strstr(c, "; Secure") && strstr(c, "SameSite=Lax"));
	client_response_clear(&r);
}

static int publish(const struct h_server *s, const char *hdrs)
{
	struct client_response r;
	const char *body = "{\"type\": \"chat.message\", \"message\": \"hi\"}";
	char all[512];
	snprintf(all, sizeof(all), "Content-Type: application/json\r\n%s", hdrs ? hdrs : "");
	if (h_http(s, "POST", "/_channels/group-send/lobby/", NULL, all, body, strlen(body), &r))
		return -1;
	int st = r.status;
	client_response_clear(&r);
	return st;
}

#define TOKEN "listen-test-token-0123456789"
#define AUTH "Authorization: Bearer " TOKEN "\r\n"

static void test_publish(const struct h_server *s)
{
	CHECK_INT(publish(s, AUTH), 202);
	/* Through a proxy (here: headers as nginx adds them): not local. */
	CHECK_INT(publish(s, AUTH "X-Forwarded-For: 203.0.113.9\r\n"), 403);
	CHECK_INT(publish(s, AUTH "X-Real-IP: 127.0.0.1\r\n"), 403);
	/* Forwarded as if from loopback is still forwarded. */
	CHECK_INT(publish(s, AUTH "X-Forwarded-For: 127.0.0.1\r\n"), 403);
}

static void test_proxy(void)
{
	struct h_server s;
	const char *extra[] = {"--proxy-headers", "1", "--log-level", "debug",
			       "--publish-token", TOKEN, NULL};
	if (h_server_start(&s, extra) != 0) {
		CHECK(!"server started with --proxy-headers");
		return;
	}
	test_forwarded_for(&s);
	test_https_origin(&s);
	test_publish(&s);
	CHECK_INT(h_server_stop(&s), 0);

	/* The peer (127.0.0.1) is not in the list: its headers are not believed. */
	const char *untrusted[] = {"--proxy-headers", "1", "--forwarded-allow-ips",
				   "10.0.0.0/8, ::1", "--log-level", "debug", NULL};
	if (h_server_start(&s, untrusted) == 0) {
		get_status(&s, "/healthz", "X-Forwarded-For: 203.0.113.9\r\n");
		CHECK(!h_server_log_has(&s, "via proxy"));
		CHECK_INT(h_server_stop(&s), 0);
	} else {
		CHECK(!"server started with an untrusted peer");
	}
	/* The token alone decides with --publish-allow-remote. */
	const char *remote[] = {"--proxy-headers", "1", "--publish-allow-remote", "1",
				"--publish-token", TOKEN, NULL};
	if (h_server_start(&s, remote) == 0) {
		CHECK_INT(publish(&s, "X-Forwarded-For: 203.0.113.9\r\n"), 401);
		CHECK_INT(publish(&s, AUTH "X-Forwarded-For: 203.0.113.9\r\n"), 202);
		CHECK_INT(h_server_stop(&s), 0);
	}
	const char *bad[] = {"--forwarded-allow-ips", "10.0.0.0/40", NULL};
	fprintf(stderr, "expected: a server refusing a bad --forwarded-allow-ips\n");
	CHECK(h_server_start(&s, bad) != 0);
}

static void test_root_path_and_cookies(void)
{
	struct h_server s;
	const char *extra[] = {"--root-path", "/app", "--cookie-samesite", "Strict",
			       "--cookie-secure", "1", NULL};
	if (h_server_start(&s, extra) != 0) {
		CHECK(!"server started with --root-path");
		return;
	}
	CHECK_INT(get_status(&s, "/app/healthz", NULL), 200);
	CHECK_INT(get_status(&s, "/healthz", NULL), 200); /* a proxy that strips it */
	CHECK_INT(get_status(&s, "/application/", NULL), 404);
	struct client_response r;
	CHECK_INT(h_http(&s, "GET", "/app/chat/", NULL, NULL, NULL, 0, &r), 0);
	CHECK_CONTAINS(r.body, "/app/static/");
	const char *c = h_set_cookie(&r, "csrftoken");
	CHECK(c && strstr(c, "SameSite=Strict") && strstr(c, "; Secure"));
	client_response_clear(&r);
	struct h_jar jar = {0};
	CHECK_INT(h_http(&s, "GET", "/app/chat/", &jar, NULL, NULL, 0, &r), 0);
	client_response_clear(&r);
	char body[256];
	snprintf(body, sizeof(body), "username=olga&room=lobby&csrfmiddlewaretoken=%s", jar.csrftoken);
	CHECK_INT(h_http(&s, "POST", "/app/chat/", &jar, NULL, body, strlen(body), &r), 0);
	CHECK_INT(r.status, 302);
	const char *loc = client_response_header(&r, "location");
	CHECK(loc && strncmp(loc, "/app/chat/", 10) == 0);
	client_response_clear(&r);
	CHECK_INT(h_server_stop(&s), 0);
	const char *bad[] = {"--root-path", "app/", NULL};
	fprintf(stderr, "expected: a server refusing --root-path app/\n");
	CHECK(h_server_start(&s, bad) != 0);
	const char *bad2[] = {"--cookie-samesite", "lax-ish", NULL};
	fprintf(stderr, "expected: a server refusing --cookie-samesite lax-ish\n");
	CHECK(h_server_start(&s, bad2) != 0);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, &check_failed);
	test_systemd_fd();
	test_systemd_other_pid();
	test_fd_flag();
	test_uds();
	test_proxy();
	test_root_path_and_cookies();
	return check_finish();
}
