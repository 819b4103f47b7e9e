/*
 * HTTP/1.1 read literally (RFC 9112, RFC 6455 4.2) by the real binary over
 * raw sockets: pipelining in every split, request smuggling shapes, the
 * size limits, Host rules, Expect, upgrades other than WebSocket, and the
 * WebSocket handshake as real clients write it. Each case here failed
 * while lws' HTTP role read the requests (see server/http_conn.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"

#define MAX_RESP 16

struct exchange {
	int n;                   /* responses read */
	int status[MAX_RESP];
	char version[MAX_RESP][9]; /* "HTTP/1.1" */
	char head[MAX_RESP][4096]; /* each response's head (cut) */
	char *body[MAX_RESP];    /* malloc'd */
	bool closed;             /* the server closed the connection */
};

static void exchange_clear(struct exchange *x)
{
	for (int i = 0; i < x->n; i++)
		free(x->body[i]);
	memset(x, 0, sizeof(*x));
}

static int dial(const struct h_server *s)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Parses complete responses out of buf[0..len); returns the bytes used. */
static size_t parse_responses(struct exchange *x, const char *buf, size_t len)
{
	size_t off = 0;
	while (x->n < MAX_RESP) {
		const char *end = memmem(buf + off, len - off, "\r\n\r\n", 4);
		if (!end)
			break;
		size_t hl = (size_t)(end - (buf + off)) + 4;
		const char *h = buf + off;
		int status = 0;
		char ver[9] = "";
		if (sscanf(h, "%8s %d", ver, &status) != 2)
			status = -1;
		long long cl = 0;
		const char *c = strcasestr(h, "\r\ncontent-length:");
		if (c && c < end)
			cl = atoll(c + 17);
		if (status == 100 || status == 101 || status == 204 || status == 304)
			cl = 0;
		if (off + hl + (size_t)cl > len)
			break;
		int i = x->n++;
		x->status[i] = status;
		memcpy(x->version[i], ver, sizeof(ver));
		size_t keep = hl < sizeof(x->head[i]) - 1 ? hl : sizeof(x->head[i]) - 1;
		memcpy(x->head[i], h, keep);
		x->head[i][keep] = '\0';
		x->body[i] = strndup(h + hl, (size_t)cl);
		off += hl + (size_t)cl;
		if (status == 101)
			break; /* what follows is WebSocket frames */
	}
	return off;
}

/*
 * Sends `len` bytes of `req` on a new connection in pieces of `split` bytes
 * (0: at once), then reads responses until `want` are in, the server
 * closes, or 5 s pass; with `wait_close`, then up to 2 s for the close.
 */
static void exchange(const struct h_server *s, const char *req, size_t len, size_t split,
		     int want, bool wait_close, struct exchange *x)
{
	memset(x, 0, sizeof(*x));
	int fd = dial(s);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	for (size_t off = 0; off < len;) {
		size_t n = split ? (len - off < split ? len - off : split) : len - off;
		if (send(fd, req + off, n, MSG_NOSIGNAL) != (ssize_t)n)
			break;
		off += n;
		if (split)
			h_sleep_ms(1);
	}
	static char buf[256 * 1024];
	size_t got = 0, used = 0;
	int64_t deadline = h_now_ms() + 5000;
	while (x->n < want && h_now_ms() < deadline && got < sizeof(buf)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);
		if (n <= 0) {
			x->closed = true;
			break;
		}
		got += (size_t)n;
		used += parse_responses(x, buf + used, got - used);
	}
	if (!x->closed) { /* closed right after the last answer? */
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char c;
		if (poll(&p, 1, x->n >= want && wait_close ? 2000 : 0) > 0 &&
		    recv(fd, &c, 1, MSG_PEEK) == 0)
			x->closed = true;
	}
	close(fd);
}

static void expect_statuses(const char *what, const struct exchange *x, const int *st, int n)
{
	bool ok = x->n == n;
	for (int i = 0; ok && i < n; i++)
		ok = x->status[i] == st[i] && strcmp(x->version[i], "HTTP/1.1") == 0;
	if (!ok) {
		fprintf(stderr, "%s: got %d response(s):", what, x->n);
		for (int i = 0; i < x->n; i++)
			fprintf(stderr, " %s %d", x->version[i], x->status[i]);
		fprintf(stderr, "; expected %d:", n);
		for (int i = 0; i < n; i++)
			fprintf(stderr, " HTTP/1.1 %d", st[i]);
		fprintf(stderr, "\n");
	}
	CHECK(ok);
}

/* One request string, whole and in every split size from 1 to 7 bytes. */
static void expect_all_splits(const struct h_server *s, const char *what, const char *req,
			      const int *st, int n, bool closes)
{
	size_t len = strlen(req);
	for (size_t split = 0; split <= 7; split++) {
		struct exchange x;
		exchange(s, req, len, split, n, closes, &x);
		char label[160];
		snprintf(label, sizeof(label), "%s (split %zu)", what, split);
		expect_statuses(label, &x, st, n);
		if (closes && !x.closed)
			fprintf(stderr, "%s: connection left open\n", label);
		if (closes)
			CHECK(x.closed);
		exchange_clear(&x);
	}
}

#define H "Host: 127.0.0.1\r\n"

static void test_pipelining(const struct h_server *s)
{
	/* The bytes: no Host in HTTP/1.1 is a 400 (RFC 9112 3.2),
	 * and the connection ends (nothing after it can be trusted). Under
	 * lws this was a heap-use-after-free. */
	const char uaf[] = "GET /healthz HTTP/1.1\r\n\r\nPOST /posts/ HTTP/1.1\r\n\r\n"
			   "message=hello%20there";
	expect_all_splits(s, "issue bytes", uaf, (int[]){400}, 1, true);

	/* The same with Hosts: a GET, then a POST with a body (403: no CSRF
	 * token), answered in order. */
	const char two[] = "GET /healthz HTTP/1.1\r\n" H "\r\nPOST /posts/ HTTP/1.1\r\n" H
			   "Content-Type: application/x-www-form-urlencoded\r\n"
			   "Content-Length: 21\r\n\r\nmessage=hello%20there";
	expect_all_splits(s, "GET + POST", two, (int[]){200, 403}, 2, false);

	/* GETs with a body (the worker spun forever under lws). */
	const char getbody[] = "GET /healthz HTTP/1.1\r\n" H "Content-Length: 2\r\n\r\n{}"
			       "GET /healthz HTTP/1.1\r\n" H "Content-Length: 2\r\n\r\n{}";
	expect_all_splits(s, "GETs with bodies", getbody, (int[]){200, 200}, 2, false);

	/* Static files, pipelined (the second was 403 under lws). */
	const char stat[] = "GET /static/css/site.css HTTP/1.1\r\n" H "\r\n"
			    "GET /static/js/ws.js HTTP/1.1\r\n" H "\r\n"
			    "GET /static/img/favicon.svg HTTP/1.1\r\n" H "\r\n"
			    "GET /healthz HTTP/1.1\r\n" H "Connection: close\r\n\r\n";
	expect_all_splits(s, "static x3 + close", stat, (int[]){200, 200, 200, 200}, 4, true);

	/* Many at once, and a chunked body among them. */
	char many[8192] = "";
	for (int i = 0; i < 10; i++)
		strcat(many, "GET /healthz HTTP/1.1\r\n" H "\r\n");
	strcat(many, "POST /posts/ HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
		     "5\r\nmessa\r\n3;ext=1\r\nge=\r\n2\r\nhi\r\n0\r\nTrailer: x\r\n\r\n");
	strcat(many, "GET /healthz HTTP/1.1\r\n" H "\r\n");
	struct exchange x;
	exchange(s, many, strlen(many), 0, 12, false, &x);
	int want[12] = {200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 403, 200};
	expect_statuses("ten GETs, a chunked POST, a GET", &x, want, 12);
	exchange_clear(&x);
	CHECK_INT(h_healthz(s), 0);
}

static void test_smuggling(const struct h_server *s)
{
	static const struct {
		const char *what, *req;
		int status;
	} cases[] = {
		{"two differing Content-Length",
		 "POST /posts/ HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
		 400},
		{"two equal Content-Length",
		 "POST /posts/ HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 5\r\n\r\nabcde",
		 400},
		{"Content-Length +5", "POST /posts/ HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\nabcde",
		 400},
		{"Content-Length 5x", "POST /posts/ HTTP/1.1\r\n" H "Content-Length: 5x\r\n\r\nabcde",
		 400},
		{"Content-Length -1", "POST /posts/ HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n", 400},
		{"space before the colon of any field",
		 "POST /posts/ HTTP/1.1\r\n" H "ie : ;c\r\nContent-Length: 5\r\n\r\nmocke", 400},
		{"a field name that is not a token", "GET /healthz HTTP/1.1\r\n" H "\xfa: x\r\n\r\n", 400},
		{"space before the colon",
		 "POST /posts/ HTTP/1.1\r\n" H "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
		{"Content-Length and Transfer-Encoding",
		 "POST /posts/ HTTP/1.1\r\n" H "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "0\r\n\r\n",
		 400},
		{"Transfer-Encoding not ending in chunked",
		 "POST /posts/ HTTP/1.1\r\n" H "Transfer-Encoding: chunked, gzip\r\n\r\n", 400},
		{"bad chunk size", "POST /posts/ HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
				   "zz\r\nab\r\n0\r\n\r\n",
		 400},
		{"obs-fold", "GET /healthz HTTP/1.1\r\n" H "X-A: b\r\n c\r\n\r\n", 400},
		{"obs-fold with a tab", "GET /healthz HTTP/1.1\r\nX-A: b\r\n\t" H "\r\n", 400},
		{"white space before the first field", "GET /healthz HTTP/1.1\r\n " H "\r\n", 400},
		{"bare LF after a field", "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\n\r\n", 400},
		{"no Host", "GET /healthz HTTP/1.1\r\n\r\n", 400},
		{"two Hosts", "GET /healthz HTTP/1.1\r\n" H H "\r\n", 400},
		{"HTTP/9.9", "GET /healthz HTTP/9.9\r\n" H "\r\n", 505},
		{"HTTP/2.0 text", "GET /healthz HTTP/2.0\r\n" H "\r\n", 505},
		{"a Host not allowed", "GET /healthz HTTP/1.1\r\nHost: evil.example\r\n\r\n", 400},
		{"a Host that is no host", "GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"NUL in the path", "GET /heal%00thz HTTP/1.1\r\n" H "\r\n", 400},
		{"target not a path", "GET healthz HTTP/1.1\r\n" H "\r\n", 400},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Followed by a request that must never be answered: the stream
		 * ends at the bad request. */
		char req[1024];
		snprintf(req, sizeof(req), "%sGET /healthz HTTP/1.1\r\n" H "\r\n", cases[i].req);
		struct exchange x;
		exchange(s, req, strlen(req), 0, 2, true, &x);
		expect_statuses(cases[i].what, &x, &cases[i].status, 1);
		if (!x.closed)
			fprintf(stderr, "%s: connection left open\n", cases[i].what);
		CHECK(x.closed);
		exchange_clear(&x);
	}
	/* Well-formed variants that must pass. */
	expect_all_splits(s, "HTTP/1.0 without Host", "GET /healthz HTTP/1.0\r\n\r\n",
			  (int[]){200}, 1, true);
	/* HTTP/1.0 keep-alive is said in the answer, then the next request
	 * without it ends the connection. */
	const char ka10[] = "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
			    "GET /healthz HTTP/1.0\r\n\r\n";
	struct exchange x;
	exchange(s, ka10, strlen(ka10), 0, 2, true, &x);
	expect_statuses("HTTP/1.0 keep-alive", &x, (int[]){200, 200}, 2);
	CHECK(x.n == 2 && strcasestr(x.head[0], "\r\nConnection: keep-alive\r\n") != NULL);
	CHECK(x.n == 2 && strcasestr(x.head[1], "\r\nConnection: close\r\n") != NULL);
	CHECK(x.closed);
	exchange_clear(&x);
	expect_all_splits(s, "absolute-form target",
			  "GET http://127.0.0.1/healthz HTTP/1.1\r\n" H "\r\n", (int[]){200}, 1,
			  false);
	expect_all_splits(s, "Host with port and odd case",
			  "GET /healthz HTTP/1.1\r\nhOsT:   LOCALHOST:8000  \r\n\r\n", (int[]){200}, 1,
			  false);
	CHECK_INT(h_healthz(s), 0);
}

static void test_limits(const struct h_server *s, const struct h_server *quiet)
{
	/* A 64 KiB header field: 431; a 64 KiB target: 414. Each answered,
	 * and many of them log a bounded number of lines. */
	size_t big = 64 * 1024;
	char *req = malloc(big + 256);
	int n = snprintf(req, 256, "GET /healthz HTTP/1.1\r\n" H "X-Big: ");
	memset(req + n, 'a', big);
	strcpy(req + n + big, "\r\n\r\n");
	for (int i = 0; i < 30; i++) {
		struct exchange x;
		exchange(quiet, req, strlen(req), 0, 1, true, &x);
		expect_statuses("64 KiB header", &x, (int[]){431}, 1);
		CHECK(x.closed);
		exchange_clear(&x);
	}
	n = snprintf(req, 256, "GET /");
	memset(req + n, 'a', big);
	snprintf(req + n + big, 256, " HTTP/1.1\r\n" H "\r\n");
	struct exchange x;
	exchange(s, req, strlen(req), 0, 1, false, &x);
	expect_statuses("64 KiB target", &x, (int[]){414}, 1);
	exchange_clear(&x);
	/* Many header fields. */
	n = snprintf(req, 256, "GET /healthz HTTP/1.1\r\n" H);
	for (int i = 0; i < 150; i++)
		n += sprintf(req + n, "X-F%d: v\r\n", i);
	strcpy(req + n, "\r\n");
	exchange(s, req, strlen(req), 0, 1, false, &x);
	expect_statuses("150 header fields", &x, (int[]){431}, 1);
	exchange_clear(&x);
	free(req);

	/* The log: the 30 refusals of one cause within seconds make at most
	 * two lines, not 30 (and nothing of lws); the access log has its
	 * line per request, as any. */
	FILE *f = fopen(quiet->log_path, "r");
	int lines = 0, lws_lines = 0;
	char line[4096];
	while (f && fgets(line, sizeof(line), f)) {
		lines += strstr(line, "request head too large") != NULL;
		lws_lines += strstr(line, "[lws]") != NULL;
	}
	if (f)
		fclose(f);
	if (lines > 2 || lws_lines)
		h_server_dump(quiet);
	CHECK(lines >= 1 && lines <= 2);
	CHECK_INT(lws_lines, 0);
	CHECK_INT(h_healthz(quiet), 0);
}

/* Reads until the server closes (or 3 s of silence), NUL-terminates, closes
 * `fd`; returns the bytes read. */
static size_t read_to_close(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while (got < cap - 1 && poll(&p, 1, 3000) == 1) {
		ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	return got;
}

/* An error answer to a HEAD has no body, also when the HEAD is refused
 * before its head is read; and a HEAD does not make the next answer on
 * the connection lose its body. */
static void test_head_errors(const struct h_server *s)
{
	static const char *const reqs[] = {
		"HEAD / HTTP/1.1\nH\n",                 /* a field line without a colon */
		"HEAD /healthz HTTP/1.1\r\n\r\n",        /* no Host */
		"HEAD /healthz HTTP/9.9\r\n" H "\r\n",  /* version */
	};
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		int fd = dial(s);
		CHECK(fd >= 0);
		CHECK_INT(send(fd, reqs[i], strlen(reqs[i]), 0), (ssize_t)strlen(reqs[i]));
		shutdown(fd, SHUT_WR);
		char buf[8192];
		size_t got = read_to_close(fd, buf, sizeof(buf));
		const char *end = strstr(buf, "\r\n\r\n");
		if (!end || end[4] != '\0')
			fprintf(stderr, "HEAD error %zu: %zu bytes: %s\n", i, got, buf);
		CHECK(strncmp(buf, "HTTP/1.1 4", 10) == 0 || strncmp(buf, "HTTP/1.1 5", 10) == 0);
		CHECK(end && end[4] == '\0');
	}
	/* HEAD, then a bad request on the same connection: the error page
	 * after it has its body. */
	const char seq[] = "HEAD /static/img/favicon.svg HTTP/1.1\r\n" H "\r\nxGET / HTTP/1.1\r\n\r\n";
	int fd = dial(s);
	CHECK_INT(send(fd, seq, strlen(seq), 0), (ssize_t)strlen(seq));
	shutdown(fd, SHUT_WR);
	char buf[16384];
	read_to_close(fd, buf, sizeof(buf));
	const char *second = strstr(buf + 1, "HTTP/1.1 ");
	CHECK(second != NULL);
	if (second) {
		const char *cl = strcasestr(second, "\r\ncontent-length: ");
		const char *body = strstr(second, "\r\n\r\n");
		CHECK(cl && body);
		if (cl && body)
			CHECK_INT((int)strlen(body + 4), atoi(cl + 18));
	}
}

static void test_expect_and_upgrades(const struct h_server *s)
{
	/* Expect: 100-continue gets the interim answer before the body is
	 * sent, then the final one. */
	int fd = dial(s);
	CHECK(fd >= 0);
	const char head[] = "POST /posts/ HTTP/1.1\r\n" H "Content-Length: 7\r\n"
			    "Expect: 100-continue\r\n\r\n";
	CHECK_INT(send(fd, head, strlen(head), 0), (ssize_t)strlen(head));
	char buf[4096] = "";
	struct pollfd p = {.fd = fd, .events = POLLIN};
	CHECK(poll(&p, 1, 3000) == 1);
	ssize_t got = recv(fd, buf, sizeof(buf) - 1, 0);
	CHECK(got > 0);
	buf[got > 0 ? got : 0] = '\0';
	CHECK_STR(buf, "HTTP/1.1 100 Continue\r\n\r\n");
	CHECK_INT(send(fd, "message", 7, 0), 7);
	CHECK(poll(&p, 1, 3000) == 1);
	got = recv(fd, buf, sizeof(buf) - 1, 0);
	buf[got > 0 ? got : 0] = '\0';
	CHECK(strncmp(buf, "HTTP/1.1 403 ", 13) == 0);
	close(fd);

	/* A request with an unknown expectation: 417. */
	struct exchange x;
	const char e417[] = "POST /posts/ HTTP/1.1\r\n" H "Content-Length: 1\r\nExpect: telepathy\r\n\r\nx";
	exchange(s, e417, strlen(e417), 0, 1, false, &x);
	expect_statuses("unknown expectation", &x, (int[]){417}, 1);
	exchange_clear(&x);

	/* h2c (or any upgrade but WebSocket) is declined by answering in
	 * HTTP/1.1, and the connection goes on. */
	const char h2c[] = "GET /healthz HTTP/1.1\r\n" H "Connection: Upgrade, HTTP2-Settings\r\n"
			   "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
			   "GET /healthz HTTP/1.1\r\n" H "\r\n";
	expect_all_splits(s, "h2c upgrade", h2c, (int[]){200, 200}, 2, false);
}

/* ---- WebSocket handshakes ---- */

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

static void expect_handshake(const struct h_server *s, const char *what, const char *req,
			     int status)
{
	struct exchange x;
	exchange(s, req, strlen(req), 0, 1, false, &x);
	expect_statuses(what, &x, &status, 1);
	if (status == 101 && x.n == 1) {
		/* RFC 6455 4.2.2: the accept value for the RFC's sample key. */
		if (!strstr(x.head[0], "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
			fprintf(stderr, "%s: %s\n", what, x.head[0]);
		CHECK(strstr(x.head[0], "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") !=
		      NULL);
	}
	if (status != 101 && x.n == 1) {
		/* Our own error page, as for plain HTTP. */
		CHECK(strcasestr(x.head[0], "content-type: text/html") != NULL);
		CHECK(x.body[0] && strstr(x.body[0], "<html") != NULL);
	}
	if (status == 426 && x.n == 1)
		CHECK(strcasestr(x.head[0], "\r\nSec-WebSocket-Version: 13\r\n") != NULL);
	exchange_clear(&x);
}

static void handshakes_clients(const struct h_server *s)
{
	/* The header styles of real clients (as each writes them). */
	static const struct {
		const char *client, *req;
	} clients[] = {
		{"Chromium", "GET /ws/chat/lobby/ HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
			     "Connection: Upgrade\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n"
			     "User-Agent: Mozilla/5.0\r\nUpgrade: websocket\r\n"
			     "Origin: http://127.0.0.1:8000\r\nSec-WebSocket-Version: 13\r\n"
			     "Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n"
			     "Sec-WebSocket-Key: " KEY "\r\n"
			     "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"},
		{"Firefox", "GET /ws/chat/lobby/ HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
			    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101\r\n"
			    "Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\n"
			    "Accept-Encoding: gzip, deflate, br\r\nSec-WebSocket-Version: 13\r\n"
			    "Origin: http://127.0.0.1:8000\r\n"
			    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
			    "Sec-WebSocket-Key: " KEY "\r\nConnection: keep-alive, Upgrade\r\n"
			    "Sec-Fetch-Dest: websocket\r\nSec-Fetch-Mode: websocket\r\n"
			    "Pragma: no-cache\r\nCache-Control: no-cache\r\nUpgrade: websocket\r\n\r\n"},
		{"Python websockets", "GET /ws/chat/lobby/ HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
				      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
				      "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"
				      "Sec-WebSocket-Extensions: permessage-deflate; "
				      "client_max_window_bits\r\nUser-Agent: Python/3.11 "
				      "websockets/10.4\r\n\r\n"},
		{"Node ws", "GET /ws/chat/lobby/ HTTP/1.1\r\nSec-WebSocket-Version: 13\r\n"
			    "Sec-WebSocket-Key: " KEY "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
			    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
			    "Host: 127.0.0.1:8000\r\n\r\n"},
		{"OkHttp", "GET /ws/chat/lobby/ HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUpgrade: websocket\r\n"
			   "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
			   "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"
			   "Accept-Encoding: gzip\r\nUser-Agent: okhttp/4.12.0\r\n\r\n"},
		{".NET", "GET /ws/chat/lobby/ HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nConnection: Upgrade\r\n"
			 "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
			 "Sec-WebSocket-Key: " KEY "\r\n\r\n"},
		{"curl", "GET /ws/chat/lobby/ HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: curl/7.88.1\r\n"
			 "Accept: */*\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
			 "Sec-WebSocket-Key: " KEY "\r\nConnection: Upgrade\r\n\r\n"},
		{"Autobahn (mixed case)", "GET /ws/chat/lobby/ HTTP/1.1\r\nUser-Agent: AutobahnTestSuite\r\n"
					  "Host: 127.0.0.1:8000\r\nUpgrade: WebSocket\r\n"
					  "Connection: Upgrade\r\nPragma: no-cache\r\n"
					  "Cache-Control: no-cache\r\nSec-WebSocket-Key: " KEY "\r\n"
					  "Sec-WebSocket-Version: 13\r\n\r\n"},
		{"all upper case", "GET /ws/chat/lobby/ HTTP/1.1\r\nHOST: 127.0.0.1\r\nUPGRADE: WEBSOCKET\r\n"
				   "CONNECTION: UPGRADE\r\nSEC-WEBSOCKET-KEY: " KEY "\r\n"
				   "SEC-WEBSOCKET-VERSION: 13\r\n\r\n"},
		{"token lists", "GET /ws/chat/lobby/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				"Upgrade: foo/1, WebSocket\r\nConnection: close,  upGRADE \r\n"
				"Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n"},
	};
	for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++)
		expect_handshake(s, clients[i].client, clients[i].req, 101);
}

static void handshakes_long_extensions(const struct h_server *s)
{
	/* A long Sec-WebSocket-Extensions (lws 4.1.6 dropped 255 and up). */
	for (size_t len = 200; len <= 8000; len = len < 300 ? len + 1 : len * 2) {
		char *ext = malloc(len + 1);
		size_t n = 0;
		while (n < len) {
			const char *v = "permessage-deflate; client_max_window_bits, ";
			size_t vl = strlen(v);
			memcpy(ext + n, v, n + vl <= len ? vl : len - n);
			n += n + vl <= len ? vl : len - n;
		}
		ext[len] = '\0';
		char *req = malloc(len + 512);
		snprintf(req, len + 512,
			 "GET /ws/chat/lobby/ HTTP/1.1\r\n" H "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
			 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: %s\r\n\r\n",
			 ext);
		char what[64];
		snprintf(what, sizeof(what), "extensions of %zu bytes", len);
		expect_handshake(s, what, req, 101);
		free(req);
		free(ext);
	}
}

static void handshakes_refused(const struct h_server *s)
{
	/* Refusals: HTTP/1.1 with our error page. */
	static const struct {
		const char *what, *req;
		int status;
	} bad[] = {
		{"no route", "GET /ws/nowhere/ HTTP/1.1\r\n" H "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			     "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
		 404},
		{"foreign origin", "GET /ws/chat/lobby/ HTTP/1.1\r\n" H "Upgrade: websocket\r\n"
				   "Connection: Upgrade\r\nOrigin: http://evil.example\r\n"
				   "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
		 403},
		{"version 8", "GET /ws/chat/lobby/ HTTP/1.1\r\n" H "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			      "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 8\r\n\r\n",
		 426},
		{"version 13, 8", "GET /ws/chat/lobby/ HTTP/1.1\r\n" H "Upgrade: websocket\r\n"
				  "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
				  "Sec-WebSocket-Version: 13, 8\r\n\r\n",
		 426},
		{"no version", "GET /ws/chat/lobby/ HTTP/1.1\r\n" H "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			       "Sec-WebSocket-Key: " KEY "\r\n\r\n",
		 400},
		{"short key", "GET /ws/chat/lobby/ HTTP/1.1\r\n" H "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			      "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
		 400},
		{"key not base64", "GET /ws/chat/lobby/ HTTP/1.1\r\n" H "Upgrade: websocket\r\n"
				   "Connection: Upgrade\r\nSec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n"
				   "Sec-WebSocket-Version: 13\r\n\r\n",
		 400},
		{"two keys", "GET /ws/chat/lobby/ HTTP/1.1\r\n" H "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			     "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"
			     "Sec-WebSocket-Key: dGh\r\n\r\n",
		 400},
		{"no key", "GET /ws/chat/lobby/ HTTP/1.1\r\n" H "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			   "Sec-WebSocket-Version: 13\r\n\r\n",
		 400},
		{"no Connection: upgrade", "GET /ws/chat/lobby/ HTTP/1.1\r\n" H "Upgrade: websocket\r\n"
					   "Connection: keep-alive\r\nSec-WebSocket-Key: " KEY "\r\n"
					   "Sec-WebSocket-Version: 13\r\n\r\n",
		 400},
		{"POST", "POST /ws/chat/lobby/ HTTP/1.1\r\n" H "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"
			 "Content-Length: 0\r\n\r\n",
		 400},
		{"a Host not allowed", "GET /ws/chat/lobby/ HTTP/1.1\r\nHost: rebind.example\r\n"
				       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
				       "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
		 400},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_handshake(s, bad[i].what, bad[i].req, bad[i].status);
}

static void test_handshakes(const struct h_server *s)
{
	handshakes_clients(s);
	handshakes_long_extensions(s);
	handshakes_refused(s);
	CHECK_INT(h_healthz(s), 0);
}

/* 503 over --max-connections is HTTP/1.1 with our page too. */
static void test_full(const struct h_server *s)
{
	struct client_ws *a = NULL;
	int st = 0;
	CHECK_INT(h_ws_open(s, "/ws/chat/lobby/", NULL, NULL, &a, &st), 0);
	expect_handshake(s, "over --max-connections",
			 "GET /ws/chat/lobby/ HTTP/1.1\r\n" H "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
			 503);
	client_ws_free(a);
}

/* --http-timeout 1: an idle connection, and one whose request never ends
 * (slowloris), are closed after about a second, not after the default 30
 * (the flag once set --view-threads instead). */
static void test_http_timeout(void)
{
	struct h_server s;
	if (h_server_start(&s, (const char *const[]){"--http-timeout", "1", NULL}) != 0) {
		CHECK(!"server with --http-timeout 1 started");
		return;
	}
	for (int partial = 0; partial < 2; partial++) {
		int fd = dial(&s);
		CHECK(fd >= 0);
		if (partial)
			CHECK_INT(send(fd, "GET /healthz HTTP/1.1\r\n", 23, 0), 23);
		int64_t t0 = h_now_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char c;
		bool closed = poll(&p, 1, 5000) == 1 && recv(fd, &c, 1, 0) <= 0;
		int64_t took = h_now_ms() - t0;
		if (!closed || took > 4000)
			fprintf(stderr, "http-timeout (%s): closed %d after %lld ms\n",
				partial ? "partial request" : "idle", closed, (long long)took);
		CHECK(closed && took <= 4000);
		close(fd);
	}
	CHECK_INT(h_healthz(&s), 0);
	CHECK_INT(h_server_stop(&s), 0);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, &check_failed);
	struct h_server s, quiet, full;
	if (h_server_start(&s, NULL) != 0)
		return 1;
	test_pipelining(&s);
	test_smuggling(&s);
	test_expect_and_upgrades(&s);
	test_head_errors(&s);
	test_handshakes(&s);
	if (h_server_start(&quiet, (const char *const[]){"--workers", "1", NULL}) == 0) {
		test_limits(&s, &quiet);
		CHECK_INT(h_server_stop(&quiet), 0);
	}
	CHECK(h_server_alive(&s));
	CHECK_INT(h_server_stop(&s), 0);
	if (h_server_start(&full, (const char *const[]){"--max-connections", "1", NULL}) == 0) {
		test_full(&full);
		CHECK_INT(h_server_stop(&full), 0);
	}
	test_http_timeout();
	return check_finish();
}
