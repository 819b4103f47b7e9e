/*
 * test_client.c - tests of tools/client: the pure frame codec, and the HTTP
 * and WebSocket client against a minimal RFC 6455 server written here (one
 * thread, one connection per test case, blocking sockets on 127.0.0.1).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "check.h"
#include "client.h"
#include "client_int.h"
#include "ws_test_server.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct client_ws *ws_open(struct srv *s, int mode)
{
	struct client_ws *ws = NULL;
	int rc;

	srv_start(s, mode);
	rc = client_ws_connect("127.0.0.1", s->port, "/ws/test/", NULL, &ws, NULL);
	CHECK_INT(rc, CH_OK);
	if (rc) {
		srv_join(s);
		exit(check_finish() | 1);
	}
	return ws;
}

/* One HTTP exchange with a one-connection server in `mode`: starts it,
 * sends the request, waits for it; returns client_http_request's code. */
static int http_once(struct srv *s, int mode, const char *method, const char *target,
		     const char *headers, const void *body, size_t body_len, struct client_response *r)
{
	int rc;

	srv_start(s, mode);
	rc = client_http_request("127.0.0.1", s->port, method, target, headers, body, body_len,
				 2000, r);
	srv_join(s);
	return rc;
}

/* A WebSocket handshake with a one-connection server in `mode` that ends
 * with it (refused, or answered and closed); returns client_ws_connect's. */
static int ws_once(struct srv *s, int mode, const char *target, const struct client_ws_options *o,
		   struct client_ws **ws, struct client_response *r)
{
	int rc;

	srv_start(s, mode);
	rc = client_ws_connect("127.0.0.1", s->port, target, o, ws, r);
	srv_join(s);
	return rc;
}

/* Closes `ws` with `code` (the close must succeed), frees it, joins `s`. */
static void ws_close_join(struct client_ws *ws, struct srv *s, int code)
{
	CHECK_INT(client_ws_close(ws, code, 2000), 0);
	client_ws_free(ws);
	srv_join(s);
}

/* Receives one message within `ms` (must succeed): of opcode `op` (not
 * checked when negative) with the text `want`. */
static void expect_msg(struct client_ws *ws, int ms, int op, const char *want)
{
	struct client_ws_message m;

	CHECK_INT(client_ws_recv(ws, ms, &m), 0);
	if (op >= 0)
		CHECK_INT(m.opcode, op);
	CHECK_STR(m.data, want);
	free(m.data);
}

/* ---- frame codec (pure) ------------------------------------------------- */

static void test_frame_codec(void)
{
	static const uint64_t lens[] = {0, 1, 125, 126, 65535, 65536, 1u << 20, 1ull << 40};
	static const size_t hlens[] = {2, 2, 2, 4, 4, 10, 10, 10};
	uint8_t buf[WSFRAME_HEADER_MAX], mask[4] = {0x11, 0x22, 0x33, 0x44};
	struct client_frame_header h;
	char acc[29];

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = wsframe_header_encode(buf, WSFRAME_OP_BINARY, true, lens[i], NULL);

		CHECK_INT(n, hlens[i]);
		CHECK_INT(wsframe_header_size(lens[i], false), hlens[i]);
		CHECK_INT(client_frame_header_decode(buf, n, &h), n);
		CHECK_INT(h.payload_len, lens[i]);
		CHECK(h.fin && !h.masked && h.opcode == WSFRAME_OP_BINARY);
		/* Every shorter prefix asks for more bytes. */
		for (size_t k = 0; k < n; k++)
			CHECK_INT(client_frame_header_decode(buf, k, &h), 0);
		n = wsframe_header_encode(buf, WSFRAME_OP_TEXT, false, lens[i], mask);
		CHECK_INT(n, hlens[i] + 4);
		CHECK_INT(client_frame_header_decode(buf, n, &h), n);
		CHECK(!h.fin && h.masked && h.opcode == WSFRAME_OP_TEXT);
		CHECK(memcmp(h.mask, mask, 4) == 0);
		CHECK_INT(h.payload_len, lens[i]);
		CHECK_INT(client_frame_header_decode(buf, n - 1, &h), 0);
	}
	/* 125 is the largest 7-bit length; 126 switches to 16 bits. */
	wsframe_header_encode(buf, 1, true, 125, NULL);
	CHECK_INT(buf[1], 125);
	wsframe_header_encode(buf, 1, true, 126, NULL);
	CHECK(buf[1] == 126 && buf[2] == 0 && buf[3] == 126);
	wsframe_header_encode(buf, 1, true, 65536, NULL);
	CHECK(buf[1] == 127 && buf[7] == 1 && buf[8] == 0 && buf[9] == 0);

	/* Malformed headers. */
	CHECK_INT(client_frame_header_decode((const uint8_t *)"\xc1\x00", 2, &h), CH_EPROTO);
	CHECK_INT(client_frame_header_decode((const uint8_t *)"\x83\x00", 2, &h), CH_EPROTO);
	CHECK_INT(client_frame_header_decode((const uint8_t *)"\x09\x00", 2, &h), CH_EPROTO);
	CHECK_INT(client_frame_header_decode((const uint8_t *)"\x89\x7e\x00\x7e", 4, &h),
		  CH_EPROTO);
	CHECK_INT(client_frame_header_decode((const uint8_t *)"\x82\x7e\x00\x05", 4, &h),
		  CH_EPROTO);
	CHECK_INT(client_frame_header_decode(
		      (const uint8_t *)"\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10, &h),
		  CH_EPROTO);
	CHECK_INT(client_frame_header_decode(
		      (const uint8_t *)"\x82\x7f\x00\x00\x00\x00\x00\x00\xff\xff", 10, &h),
		  CH_EPROTO);

	/* Masking in pieces equals masking at once. */
	{
		uint8_t a[11] = "hello world", b[11] = "hello world";

		client_frame_mask(a, 11, mask, 0);
		client_frame_mask(b, 3, mask, 0);
		client_frame_mask(b + 3, 8, mask, 3);
		CHECK(memcmp(a, b, 11) == 0);
		CHECK_INT(a[0], 'h' ^ 0x11);
		CHECK_INT(a[5], ' ' ^ 0x22);
		client_frame_mask(a, 11, mask, 0);
		CHECK(memcmp(a, "hello world", 11) == 0);
	}

	/* RFC 6455 section 1.3 example. */
	CHECK_INT(client_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", acc), 0);
	CHECK_STR(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	accept_for("dGhlIHNhbXBsZSBub25jZQ==", acc);
	CHECK_STR(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_close_parse(void)
{
	int code = 0;

	/* the UTF-8 check it uses (lib/text) is tested in tests/unit/text/ */
	CHECK_INT(client_close_parse(NULL, 0, &code), 0);
	CHECK_INT(code, 1005);
	CHECK_INT(client_close_parse((const uint8_t *)"\x03\xe8", 2, &code), 0);
	CHECK_INT(code, 1000);
	CHECK_INT(client_close_parse((const uint8_t *)"\x0f\xa1"
						       "bye",
				      5, &code),
		  0);
	CHECK_INT(code, 4001);
	CHECK_INT(client_close_parse((const uint8_t *)"\x03", 1, &code), CH_EPROTO);
	CHECK_INT(client_close_parse((const uint8_t *)"\x03\xed", 2, &code), CH_EPROTO);
	CHECK_INT(client_close_parse((const uint8_t *)"\x03\xe7", 2, &code), CH_EPROTO);
	CHECK_INT(client_close_parse((const uint8_t *)"\x03\xe8\xff", 3, &code), CH_EPROTO);
}

static struct client_frame_header hdr(int op, bool fin, size_t len)
{
	struct client_frame_header h = {.fin = fin, .opcode = op, .payload_len = len};

	return h;
}

static void test_assembler(void)
{
	struct client_assembler a = {.max_len = 10};
	struct client_ws_message m = {0};
	struct client_frame_header h;

	h = hdr(WSFRAME_OP_TEXT, false, 3);
	CHECK_INT(client_assembler_feed(&a, &h, (const uint8_t *)"abc", &m), CLIENT_ASM_MORE);
	h = hdr(WSFRAME_OP_PING, true, 1);
	CHECK_INT(client_assembler_feed(&a, &h, (const uint8_t *)"p", &m), CLIENT_ASM_PING);
	h = hdr(WSFRAME_OP_TEXT, true, 1);
	CHECK_INT(client_assembler_feed(&a, &h, (const uint8_t *)"x", &m), CH_EPROTO);
	h = hdr(WSFRAME_OP_CONT, true, 3);
	CHECK_INT(client_assembler_feed(&a, &h, (const uint8_t *)"def", &m), CLIENT_ASM_MESSAGE);
	CHECK_INT(m.opcode, WSFRAME_OP_TEXT);
	CHECK_INT(m.len, 6);
	CHECK_STR(m.data, "abcdef");
	free(m.data);
	h = hdr(WSFRAME_OP_CONT, true, 1);
	CHECK_INT(client_assembler_feed(&a, &h, (const uint8_t *)"z", &m), CH_EPROTO);
	h = hdr(WSFRAME_OP_BINARY, true, 0);
	CHECK_INT(client_assembler_feed(&a, &h, NULL, &m), CLIENT_ASM_MESSAGE);
	CHECK_INT(m.opcode, WSFRAME_OP_BINARY);
	CHECK_INT(m.len, 0);
	CHECK(m.data && m.data[0] == '\0');
	free(m.data);
	/* Over max_len, across fragments. */
	h = hdr(WSFRAME_OP_BINARY, false, 6);
	CHECK_INT(client_assembler_feed(&a, &h, (const uint8_t *)"123456", &m), CLIENT_ASM_MORE);
	h = hdr(WSFRAME_OP_CONT, true, 6);
	CHECK_INT(client_assembler_feed(&a, &h, (const uint8_t *)"123456", &m), CH_EPROTO);
	client_assembler_clear(&a);
	h = hdr(WSFRAME_OP_TEXT, true, 2);
	CHECK_INT(client_assembler_feed(&a, &h, (const uint8_t *)"\xc3\x28", &m), CH_EPROTO);
	client_assembler_clear(&a);
	h = hdr(WSFRAME_OP_CLOSE, true, 4);
	CHECK_INT(client_assembler_feed(&a, &h, (const uint8_t *)"\x03\xe9go", &m),
		  CLIENT_ASM_CLOSE);
	CHECK_INT(m.close_code, 1001);
	CHECK_STR(m.data, "go");
	free(m.data);
	client_assembler_clear(&a);
}

/* ---- HTTP --------------------------------------------------------------- */

static void test_http_length(void)
{
	struct srv s;
	struct client_response r;
	char port_hdr[64];
	int rc;

	rc = http_once(&s, SRV_HTTP_LENGTH, "POST", "/echo?x=1", "X-Test: yes\r\n", "hello\0body",
		       10, &r);
	CHECK_INT(rc, CH_OK);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.body_len, 10);
	CHECK(r.body && memcmp(r.body, "hello\0body", 10) == 0 && r.body[10] == '\0');
	CHECK_STR(client_response_header(&r, "x-method"), "POST");
	CHECK_STR(client_response_header(&r, "CONTENT-TYPE"), "application/octet-stream");
	CHECK(client_response_header(&r, "x-missing") == NULL);
	for (size_t i = 0; i < r.n_headers; i++)
		for (const char *c = r.header_names[i]; *c; c++)
			CHECK(*c < 'A' || *c > 'Z');
	snprintf(port_hdr, sizeof(port_hdr), "Host: 127.0.0.1:%d\r\n", s.port);
	CHECK(strncmp(s.request, "POST /echo?x=1 HTTP/1.1\r\n", 25) == 0);
	CHECK_CONTAINS(s.request, port_hdr);
	CHECK_CONTAINS(s.request, "Connection: close\r\n");
	CHECK_CONTAINS(s.request, "Content-Length: 10\r\n");
	CHECK_CONTAINS(s.request, "X-Test: yes\r\n");
	CHECK_INT(s.body_len, 10);
	client_response_clear(&r);
	CHECK_INT(r.n_headers, 0);
	CHECK(r.body == NULL);
	client_response_clear(&r); /* twice is fine */
}

static void test_http_head_and_host(void)
{
	struct srv s;
	struct client_response r;
	int rc;

	rc = http_once(&s, SRV_HTTP_LENGTH, "HEAD", "/", "host: example.test\r\n", NULL, 0, &r);
	CHECK_INT(rc, CH_OK);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.body_len, 0);
	CHECK_STR(r.body, "");
	CHECK_STR(client_response_header(&r, "content-length"), "1234");
	CHECK_CONTAINS(s.request, "host: example.test\r\n");
	CHECK(strstr(s.request, "Host: 127.0.0.1") == NULL);
	client_response_clear(&r);
}

static void test_http_chunked(void)
{
	struct srv s;
	struct client_response r;
	int rc;

	rc = http_once(&s, SRV_HTTP_CHUNKED, "GET", "/chunked", NULL, NULL, 0, &r);
	CHECK_INT(rc, CH_OK);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "hello, world");
	CHECK_INT(r.body_len, 12);
	/* Name and value both arrived in several reads. */
	CHECK_STR(client_response_header(&r, "x-custom"), "hello world");
	CHECK_STR(client_response_header(&r, "transfer-encoding"), "chunked");
	CHECK(strncmp(s.request, "GET /chunked HTTP/1.1\r\n", 23) == 0);
	CHECK(strstr(s.request, "Content-Length") == NULL);
	client_response_clear(&r);
}

static void test_http_eof_and_100(void)
{
	struct srv s;
	struct client_response r;
	int rc;

	rc = http_once(&s, SRV_HTTP_EOF, "GET", "/", NULL, NULL, 0, &r);
	CHECK_INT(rc, CH_OK);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "until the connection closes");
	client_response_clear(&r);

	rc = http_once(&s, SRV_HTTP_100, "PUT", "/x", NULL, "ab", 2, &r);
	CHECK_INT(rc, CH_OK);
	CHECK_INT(r.status, 201);
	CHECK_STR(r.body, "ok");
	CHECK_STR(client_response_header(&r, "content-length"), "2");
	CHECK_INT(r.n_headers, 1);
	client_response_clear(&r);
}

static void test_http_errors(void)
{
	struct srv s;
	struct client_response r;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int64_t t0;
	int rc, fd, port;

	/* A bound socket that does not listen refuses connections. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_INT(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	port = ntohs(a.sin_port);
	rc = client_http_request("127.0.0.1", port, "GET", "/", NULL, NULL, 0, 2000, &r);
	CHECK_INT(rc, CH_ECONNECT);
	CHECK_STR(ch_strerror(rc), "TCP connect failed");
	{
		struct client_ws *ws = (struct client_ws *)(uintptr_t)1; /* must be reset */

		rc = client_ws_connect("127.0.0.1", port, "/", NULL, &ws, NULL);
		CHECK_INT(rc, CH_ECONNECT);
		CHECK(ws == NULL);
	}
	close(fd);

	CHECK_INT(client_http_request(NULL, 80, "GET", "/", NULL, NULL, 0, 100, &r), CH_EINVAL);
	CHECK_INT(client_http_request("127.0.0.1", 0, "GET", "/", NULL, NULL, 0, 100, &r),
		  CH_EINVAL);

	/* A server that never answers: CH_ETIMEDOUT within the timeout. */
	srv_start(&s, SRV_SILENT);
	t0 = now_ms();
	rc = client_http_request("127.0.0.1", s.port, "GET", "/slow", NULL, NULL, 0, 300, &r);
	t0 = now_ms() - t0;
	srv_join(&s);
	CHECK_INT(rc, CH_ETIMEDOUT);
	CHECK(t0 >= 290 && t0 < 1500);
	if (!(t0 >= 290 && t0 < 1500))
		fprintf(stderr, "  http timeout took %lld ms\n", (long long)t0);

	srv_start(&s, SRV_SILENT);
	t0 = now_ms();
	{
		struct client_ws_options o = {.timeout_ms = 300};
		struct client_ws *ws = NULL;

		rc = client_ws_connect("127.0.0.1", s.port, "/", &o, &ws, NULL);
		CHECK(ws == NULL);
	}
	t0 = now_ms() - t0;
	srv_join(&s);
	CHECK_INT(rc, CH_ETIMEDOUT);
	CHECK(t0 >= 290 && t0 < 1500);
}

/* ---- WebSocket ---------------------------------------------------------- */

static void test_ws_handshake_request(void)
{
	struct srv s;
	struct client_ws *ws = NULL;
	struct client_response r;
	struct client_ws_options o = {
	    .origin = "http://example.test",
	    .headers = "Cookie: sessionid=abc\r\n",
	    .subprotocols = "v1.json, chat",
	    .timeout_ms = 2000,
	};
	char key[64], host[64];
	int rc;

	srv_start(&s, SRV_SUBPROTO);
	rc = client_ws_connect("127.0.0.1", s.port, "/ws/chat/lobby/?a=b", &o, &ws, &r);
	CHECK_INT(rc, CH_OK);
	CHECK_INT(r.status, 101);
	CHECK_STR(client_response_header(&r, "sec-websocket-protocol"), "chat");
	client_response_clear(&r);
	CHECK(client_ws_fd(ws) >= 0);
	ws_close_join(ws, &s, 1000);
	snprintf(host, sizeof(host), "Host: 127.0.0.1:%d\r\n", s.port);
	CHECK(strncmp(s.request, "GET /ws/chat/lobby/?a=b HTTP/1.1\r\n", 34) == 0);
	CHECK_CONTAINS(s.request, host);
	CHECK_CONTAINS(s.request, "Upgrade: websocket\r\n");
	CHECK_CONTAINS(s.request, "Connection: Upgrade\r\n");
	CHECK_CONTAINS(s.request, "Sec-WebSocket-Version: 13\r\n");
	CHECK_CONTAINS(s.request, "Origin: http://example.test\r\n");
	CHECK_CONTAINS(s.request, "Sec-WebSocket-Protocol: v1.json, chat\r\n");
	CHECK_CONTAINS(s.request, "Cookie: sessionid=abc\r\n");
	CHECK(header_value(s.request, "Sec-WebSocket-Key", key, sizeof(key)));
	CHECK_INT(strlen(key), 24); /* base64 of 16 bytes */
	CHECK_INT(s.close_code, 1000);

	/* A subprotocol that was not offered is refused. */
	rc = ws_once(&s, SRV_BAD_SUBPROTO, "/", &o, &ws, NULL);
	CHECK_INT(rc, CH_EPROTO);
	CHECK(ws == NULL);

	/* Wrong Sec-WebSocket-Accept. */
	rc = ws_once(&s, SRV_BAD_ACCEPT, "/", NULL, &ws, &r);
	CHECK_INT(rc, CH_EPROTO);
	CHECK_INT(r.status, 101);
	client_response_clear(&r);
}

static void test_ws_404(void)
{
	struct srv s;
	struct client_ws *ws = NULL;
	struct client_response r;
	int rc;

	rc = ws_once(&s, SRV_404, "/nowhere/", NULL, &ws, &r);
	CHECK_INT(rc, CH_EHANDSHAKE);
	CHECK(ws == NULL);
	CHECK_INT(r.status, 404);
	CHECK_STR(r.body, "no such route\n");
	CHECK_STR(client_response_header(&r, "content-type"), "text/plain");
	client_response_clear(&r);
}

static void test_ws_echo_sizes(void)
{
	static const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 1u << 20};
	struct srv s;
	struct client_ws *ws = ws_open(&s, SRV_ECHO);
	char *buf = malloc(1u << 20);

	for (size_t i = 0; i < (1u << 20); i++)
		buf[i] = (char)('a' + i % 26);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct client_ws_message m;
		int rc = client_ws_send_text(ws, buf, sizes[i]);

		CHECK_INT(rc, 0);
		rc = client_ws_recv(ws, 5000, &m);
		CHECK_INT(rc, 0);
		CHECK_INT(m.opcode, WSFRAME_OP_TEXT);
		CHECK_INT(m.len, sizes[i]);
		CHECK(m.data && memcmp(m.data, buf, sizes[i]) == 0 && m.data[sizes[i]] == '\0');
		free(m.data);
	}
	/* Binary with NUL bytes. */
	{
		struct client_ws_message m;
		uint8_t bin[300];

		for (size_t i = 0; i < sizeof(bin); i++)
			bin[i] = (uint8_t)i;
		CHECK_INT(client_ws_send_binary(ws, bin, sizeof(bin)), 0);
		CHECK_INT(client_ws_recv(ws, 2000, &m), 0);
		CHECK_INT(m.opcode, WSFRAME_OP_BINARY);
		CHECK_INT(m.len, sizeof(bin));
		CHECK(m.data && memcmp(m.data, bin, sizeof(bin)) == 0);
		free(m.data);
	}
	/* Many small messages sent before reading: buffered frames parse in order. */
	for (int i = 0; i < 200; i++) {
		int n = snprintf(buf, 64, "message %d", i);

		CHECK_INT(client_ws_send_text(ws, buf, (size_t)n), 0);
	}
	for (int i = 0; i < 200; i++) {
		struct client_ws_message m;
		char want[64];

		snprintf(want, sizeof(want), "message %d", i);
		CHECK_INT(client_ws_recv(ws, 2000, &m), 0);
		CHECK_STR(m.data, want);
		free(m.data);
	}
	CHECK(!client_ws_pending(ws));
	CHECK_INT(client_ws_close(ws, 1000, 2000), 0);
	CHECK_INT(client_ws_send_text(ws, "late", 4), CH_ECLOSED);
	client_ws_free(ws);
	srv_join(&s);
	free(buf);
	/* Every client frame was masked, with a non-zero, changing key. */
	CHECK_INT(s.frames, 8 + 1 + 200 + 1);
	CHECK_INT(s.unmasked, 0);
	CHECK_INT(s.zero_masks, 0);
	CHECK(memcmp(s.masks[0], s.masks[1], 4) != 0);
	CHECK_INT(s.close_code, 1000);
}

static void test_ws_fragments_and_pings(void)
{
	struct srv s;
	struct client_ws *ws;
	struct client_ws_message m;

	/* Server -> client: fragmented text with a ping between fragments. */
	ws = ws_open(&s, SRV_FRAGMENTED);
	expect_msg(ws, 2000, WSFRAME_OP_TEXT, "Hello World");
	/* Client -> server: fragments echoed one by one, reassembled here; a
	 * client ping in the middle is answered with a pong. */
	CHECK_INT(client_ws_send_frame(ws, WSFRAME_OP_BINARY, false, "ab", 2), 0);
	CHECK_INT(client_ws_send_frame(ws, WSFRAME_OP_PING, true, "p1", 2), 0);
	CHECK_INT(client_ws_send_frame(ws, WSFRAME_OP_CONT, false, "cd", 2), 0);
	CHECK_INT(client_ws_send_frame(ws, WSFRAME_OP_CONT, true, "ef", 2), 0);
	CHECK_INT(client_ws_recv(ws, 2000, &m), 0);
	CHECK_INT(m.opcode, WSFRAME_OP_BINARY);
	CHECK_STR(m.data, "abcdef");
	CHECK_INT(client_ws_pongs(ws), 1);
	free(m.data);
	CHECK_INT(client_ws_send_frame(ws, 16, true, "", 0), CH_EINVAL);
	ws_close_join(ws, &s, 0);
	CHECK_INT(s.pongs, 1);
	CHECK_STR(s.pong, "mid");
	CHECK_INT(s.close_code, 1005); /* close without a code */

	/* A ping before the first message. */
	ws = ws_open(&s, SRV_PING_FIRST);
	expect_msg(ws, 2000, -1, "after-ping");
	ws_close_join(ws, &s, 1001);
	CHECK_INT(s.pongs, 1);
	CHECK_STR(s.pong, "abc");
	CHECK_INT(s.close_code, 1001);
}

static void test_ws_first_frame_with_101(void)
{
	struct srv s;
	struct client_ws *ws = ws_open(&s, SRV_FIRST_FRAME);

	CHECK(client_ws_pending(ws));
	expect_msg(ws, 0, WSFRAME_OP_TEXT, "early");
	CHECK_INT(client_ws_send_text(ws, "next", 4), 0);
	expect_msg(ws, 2000, -1, "next");
	ws_close_join(ws, &s, 1000);
}

static void test_ws_close_codes(void)
{
	struct srv s;
	struct client_ws *ws;
	struct client_ws_message m;

	ws = ws_open(&s, SRV_CLOSE_CODE);
	CHECK_INT(client_ws_recv(ws, 2000, &m), 0);
	CHECK_INT(m.opcode, WSFRAME_OP_CLOSE);
	CHECK_INT(m.close_code, 4001);
	CHECK_STR(m.data, "bye");
	free(m.data);
	CHECK_INT(client_ws_recv(ws, 100, &m), CH_ECLOSED);
	CHECK(m.data == NULL);
	CHECK_INT(client_ws_send_text(ws, "x", 1), CH_ECLOSED);
	CHECK_INT(client_ws_close(ws, 1000, 1000), 0);
	client_ws_free(ws);
	srv_join(&s);
	CHECK_INT(s.close_code, 4001); /* the client echoed the server's code */

	ws = ws_open(&s, SRV_CLOSE_EMPTY);
	CHECK_INT(client_ws_recv(ws, 2000, &m), 0);
	CHECK_INT(m.opcode, WSFRAME_OP_CLOSE);
	CHECK_INT(m.close_code, 1005);
	CHECK_INT(m.len, 0);
	free(m.data);
	client_ws_free(ws);
	srv_join(&s);
	CHECK_INT(s.close_code, 1005);
}

static void test_ws_protocol_errors(void)
{
	static const int modes[] = {SRV_HUGE_LEN, SRV_MASKED, SRV_BAD_UTF8};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct srv s;
		struct client_ws *ws = ws_open(&s, modes[i]);
		struct client_ws_message m;

		CHECK_INT(client_ws_recv(ws, 2000, &m), CH_EPROTO);
		CHECK(m.data == NULL);
		CHECK_INT(client_ws_recv(ws, 100, &m), CH_EPROTO); /* sticky */
		client_ws_free(ws);
		srv_join(&s);
		CHECK_INT(s.close_code, 1002);
	}
}

static void test_ws_timeout(void)
{
	struct srv s;
	struct client_ws *ws = ws_open(&s, SRV_ECHO);
	struct client_ws_message m;
	int64_t t0 = now_ms();

	CHECK_INT(client_ws_recv(ws, 200, &m), CH_ETIMEDOUT);
	t0 = now_ms() - t0;
	CHECK(t0 >= 190 && t0 < 1500);
	CHECK_INT(client_ws_recv(ws, 0, &m), CH_ETIMEDOUT);
	/* Still usable after a timeout. */
	CHECK_INT(client_ws_send_text(ws, "still here", 10), 0);
	expect_msg(ws, 2000, -1, "still here");
	/* Raw bytes: a masked frame written in pieces by send_raw. */
	{
		static const char raw[] = "\x81\x85\x01\x02\x03\x04";
		uint8_t payload[5] = {'p' ^ 1, 'a' ^ 2, 'r' ^ 3, 't' ^ 4, 's' ^ 1};

		CHECK_INT(client_ws_send_raw(ws, raw, 6), 0);
		CHECK_INT(client_ws_send_raw(ws, payload, 2), 0);
		CHECK_INT(client_ws_recv(ws, 100, &m), CH_ETIMEDOUT);
		CHECK_INT(client_ws_send_raw(ws, payload + 2, 3), 0);
		CHECK_INT(client_ws_recv(ws, 2000, &m), 0);
		CHECK_STR(m.data, "parts");
		free(m.data);
	}
	ws_close_join(ws, &s, 1000);

	/* A frame from the server arriving in pieces across a timeout. */
	ws = ws_open(&s, SRV_SLOW_FRAME);
	CHECK_INT(client_ws_recv(ws, 100, &m), CH_ETIMEDOUT);
	expect_msg(ws, 2000, -1, "parts");
	ws_close_join(ws, &s, 1000);
	CHECK_INT(s.close_code, 1000);
}

static void test_ws_ipv6(void)
{
	struct srv s;
	struct client_ws *ws = NULL;
	struct client_ws_message m;
	struct client_response r;
	char host[64];
	int rc;

	if (!srv_start_family(&s, SRV_ECHO, AF_INET6)) {
		fprintf(stderr, "no IPv6 loopback: IPv6 test skipped\n");
		return;
	}
	rc = client_ws_connect("::1", s.port, "/", NULL, &ws, NULL);
	CHECK_INT(rc, 0);
	if (rc == 0) {
		CHECK_INT(client_ws_send_text(ws, "six", 3), 0);
		CHECK_INT(client_ws_recv(ws, 2000, &m), 0);
		CHECK_STR(m.data, "six");
		free(m.data);
		CHECK_INT(client_ws_close(ws, 1000, 2000), 0);
		client_ws_free(ws);
	}
	srv_join(&s);
	snprintf(host, sizeof(host), "Host: [::1]:%d\r\n", s.port);
	CHECK_CONTAINS(s.request, host);

	if (!srv_start_family(&s, SRV_HTTP_LENGTH, AF_INET6))
		return;
	rc = client_http_request("[::1]", s.port, "GET", "/", NULL, NULL, 0, 2000, &r);
	srv_join(&s);
	CHECK_INT(rc, 0);
	CHECK_INT(r.status, 200);
	client_response_clear(&r);
}

int main(void)
{
	test_frame_codec();
	test_close_parse();
	test_assembler();
	test_http_length();
	test_http_head_and_host();
	test_http_chunked();
	test_http_eof_and_100();
	test_http_errors();
	test_ws_handshake_request();
	test_ws_404();
	test_ws_echo_sizes();
	test_ws_fragments_and_pings();
	test_ws_first_frame_with_101();
	test_ws_close_codes();
	test_ws_protocol_errors();
	test_ws_timeout();
	test_ws_ipv6();
	return check_finish();
}
