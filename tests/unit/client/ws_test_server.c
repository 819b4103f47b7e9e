/*
 * ws_test_server.c - the in-test server of ws_test_server.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ws_test_server.h"

/* Opcodes, spelled out so this file does not depend on client.h. */
enum { OP_CONT = 0x0, OP_TEXT = 0x1, OP_CLOSE = 0x8, OP_PING = 0x9, OP_PONG = 0xA };

/* Sends (`out`) or reads all `n` bytes; -1 on an error or EOF. */
static int io_all(int fd, void *p, size_t n, bool out)
{
	char *c = p;

	while (n) {
		ssize_t r = out ? send(fd, c, n, MSG_NOSIGNAL) : read(fd, c, n);

		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return -1;
		}
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
	return io_all(fd, (void *)p, n, true);
}

static int read_full(int fd, void *p, size_t n)
{
	return io_all(fd, p, n, false);
}

/* Copies the value of header `name` from the request head into `out`. */
bool header_value(const char *req, const char *name, char *out, size_t cap)
{
	const char *p = req;
	size_t nl = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *e;

			while (*v == ' ')
				v++;
			e = strstr(v, "\r\n");
			if (!e || (size_t)(e - v) >= cap)
				return false;
			memcpy(out, v, (size_t)(e - v));
			out[e - v] = '\0';
			return true;
		}
	}
	return false;
}

/* Reads the request head (and a Content-Length body). */
static int read_request(struct srv *s, int fd)
{
	size_t n = 0;
	char cl[32];

	while (!strstr(s->request, "\r\n\r\n")) {
		if (n + 1 >= sizeof(s->request) || read_full(fd, s->request + n, 1) < 0)
			return -1;
		s->request[++n] = '\0';
	}
	if (header_value(s->request, "Content-Length", cl, sizeof(cl))) {
		s->body_len = strtoul(cl, NULL, 10);
		if (s->body_len >= sizeof(s->body) || read_full(fd, s->body, s->body_len) < 0)
			return -1;
	}
	return 0;
}

void accept_for(const char *key, char out[29])
{
	char cat[128];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	snprintf(cat, sizeof(cat), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
	EVP_Digest(cat, strlen(cat), md, &len, EVP_sha1(), NULL);
	EVP_EncodeBlock((unsigned char *)out, md, (int)len);
}

static size_t frame_head(uint8_t *h, int op, bool fin, uint64_t len)
{
	size_t n = 2;

	h[0] = (uint8_t)((fin ? 0x80 : 0) | op);
	if (len < 126) {
		h[1] = (uint8_t)len;
	} else if (len < 65536) {
		h[1] = 126;
		h[2] = (uint8_t)(len >> 8);
		h[3] = (uint8_t)len;
		n = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		n = 10;
	}
	return n;
}

/* One unmasked frame in one write. */
static int srv_send(int fd, int op, bool fin, const void *data, size_t len)
{
	uint8_t *buf = malloc(len + 10);
	size_t n = frame_head(buf, op, fin, len);
	int rc;

	memcpy(buf + n, data, len);
	rc = write_all(fd, buf, n + len);
	free(buf);
	return rc;
}

/* Reads one client frame, checks and removes its mask. *data is malloc'd. */
static int srv_recv(struct srv *s, int fd, int *op, bool *fin, uint8_t **data, size_t *len)
{
	uint8_t h[2], ext[8], mask[4] = {0};
	uint64_t n;

	if (read_full(fd, h, 2) < 0)
		return -1;
	*op = h[0] & 0x0f;
	*fin = (h[0] & 0x80) != 0;
	n = h[1] & 0x7f;
	if (n == 126) {
		if (read_full(fd, ext, 2) < 0)
			return -1;
		n = (uint64_t)ext[0] << 8 | ext[1];
	} else if (n == 127) {
		if (read_full(fd, ext, 8) < 0)
			return -1;
		n = 0;
		for (int i = 0; i < 8; i++)
			n = n << 8 | ext[i];
	}
	if (n > (64u << 20))
		return -1;
	if (h[1] & 0x80) {
		if (read_full(fd, mask, 4) < 0)
			return -1;
		if (!mask[0] && !mask[1] && !mask[2] && !mask[3])
			s->zero_masks++;
		if (s->frames < 2)
			memcpy(s->masks[s->frames], mask, 4);
	} else {
		s->unmasked++;
	}
	s->frames++;
	*data = malloc(n + 1);
	if (read_full(fd, *data, n) < 0) {
		free(*data);
		return -1;
	}
	for (uint64_t i = 0; i < n; i++)
		(*data)[i] ^= mask[i & 3];
	(*data)[n] = 0;
	*len = n;
	return 0;
}

static int srv_handshake(struct srv *s, int fd, const char *accept_override, const char *proto,
			 const void *extra, size_t extra_len)
{
	char key[64], acc[29], resp[512];
	size_t n;

	if (read_request(s, fd) < 0 ||
	    !header_value(s->request, "Sec-WebSocket-Key", key, sizeof(key)))
		return -1;
	accept_for(key, acc);
	n = (size_t)snprintf(resp, sizeof(resp),
			     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
			     accept_override ? accept_override : acc,
			     proto ? "Sec-WebSocket-Protocol: " : "", proto ? proto : "",
			     proto ? "\r\n" : "");
	if (extra_len)
		memcpy(resp + n, extra, extra_len);
	return write_all(fd, resp, n + extra_len);
}

/* The plain handshake: no override, no subprotocol, nothing after it. */
static int ws_accept(struct srv *s, int fd)
{
	return srv_handshake(s, fd, NULL, NULL, NULL, 0);
}

/* Reads client frames until its close frame (answered when `echo`) or EOF;
 * with `echo`, answers a ping with a pong, records a pong and echoes data. */
static void recv_loop(struct srv *s, int fd, bool echo)
{
	for (;;) {
		uint8_t *d;
		size_t len;
		int op;
		bool fin;

		if (srv_recv(s, fd, &op, &fin, &d, &len) < 0)
			return;
		if (op == OP_CLOSE) {
			s->close_code = len >= 2 ? (d[0] << 8 | d[1]) : 1005;
			if (echo)
				srv_send(fd, OP_CLOSE, true, d, len);
			free(d);
			return;
		}
		if (echo && op == OP_PING) {
			srv_send(fd, OP_PONG, true, d, len);
		} else if (echo && op == OP_PONG) {
			s->pongs++;
			snprintf(s->pong, sizeof(s->pong), "%s", (char *)d);
		} else if (echo) {
			srv_send(fd, op, fin, d, len);
		}
		free(d);
	}
}

/* Echoes frames until the client's close (answered) or EOF. */
static void echo_loop(struct srv *s, int fd)
{
	recv_loop(s, fd, true);
}

/* Reads client frames until its close frame or EOF. */
static void wait_close(struct srv *s, int fd)
{
	recv_loop(s, fd, false);
}

/* Reads the request, then writes the canned response `r`. */
static void reply(struct srv *s, int fd, const char *r)
{
	if (read_request(s, fd) == 0)
		write_all(fd, r, strlen(r));
}

/* Over 80 lines: one case per scripted mode (enum srv_mode), a few lines
 * each; the switch is the table of what each mode answers. */
static void serve(struct srv *s, int fd)
{
	static const char not_found[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
					"Content-Length: 14\r\n\r\nno such route\n";
	uint8_t early[16];
	size_t n;
	char buf[8192];

	switch (s->mode) {
	case SRV_ECHO:
		if (ws_accept(s, fd) == 0)
			echo_loop(s, fd);
		break;
	case SRV_404:
		reply(s, fd, not_found);
		break;
	case SRV_FIRST_FRAME:
		n = frame_head(early, OP_TEXT, true, 5);
		memcpy(early + n, "early", 5);
		if (srv_handshake(s, fd, NULL, NULL, early, n + 5) == 0)
			echo_loop(s, fd);
		break;
	case SRV_FRAGMENTED:
		if (ws_accept(s, fd) < 0)
			break;
		srv_send(fd, OP_TEXT, false, "Hel", 3);
		srv_send(fd, OP_PING, true, "mid", 3);
		usleep(20000); /* let the client see a partial message */
		srv_send(fd, OP_CONT, false, "lo ", 3);
		srv_send(fd, OP_CONT, true, "World", 5);
		echo_loop(s, fd);
		break;
	case SRV_PING_FIRST:
		if (ws_accept(s, fd) < 0)
			break;
		srv_send(fd, OP_PING, true, "abc", 3);
		srv_send(fd, OP_TEXT, true, "after-ping", 10);
		echo_loop(s, fd);
		break;
	case SRV_CLOSE_CODE:
		if (ws_accept(s, fd) < 0)
			break;
		srv_send(fd, OP_CLOSE, true,
			 "\x0f\xa1"
			 "bye",
			 5); /* 4001 */
		wait_close(s, fd);
		break;
	case SRV_CLOSE_EMPTY:
		if (ws_accept(s, fd) < 0)
			break;
		srv_send(fd, OP_CLOSE, true, "", 0);
		wait_close(s, fd);
		break;
	case SRV_HUGE_LEN: {
		static const uint8_t huge[] = {0x82, 127, 0, 0, 1, 0, 0, 0, 0, 0}; /* 2^40 */

		if (ws_accept(s, fd) < 0)
			break;
		write_all(fd, huge, sizeof(huge));
		wait_close(s, fd);
		break;
	}
	case SRV_MASKED: {
		static const uint8_t masked[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};

		if (ws_accept(s, fd) < 0)
			break;
		write_all(fd, masked, sizeof(masked));
		wait_close(s, fd);
		break;
	}
	case SRV_BAD_UTF8:
		if (ws_accept(s, fd) < 0)
			break;
		srv_send(fd, OP_TEXT, true, "ok\xc0\xafno", 6);
		wait_close(s, fd);
		break;
	case SRV_BAD_ACCEPT:
		srv_handshake(s, fd, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", NULL, NULL, 0);
		break;
	case SRV_SUBPROTO:
		if (srv_handshake(s, fd, NULL, "chat", NULL, 0) == 0)
			echo_loop(s, fd);
		break;
	case SRV_BAD_SUBPROTO:
		srv_handshake(s, fd, NULL, "mqtt", NULL, 0);
		break;
	case SRV_HTTP_CHUNKED: {
		static const char *parts[] = {
		    "HTTP/1.1 200 OK\r\nX-Cust",
		    "om: hel",
		    ("lo world\r\n"
		     "Transfer-Encoding: chunked\r\n\r\n5\r\nhel"), /* one write */
		    "lo\r\n",
		    "7\r\n, world\r\n0\r\n\r\n",
		};

		if (read_request(s, fd) < 0)
			break;
		for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
			write_all(fd, parts[i], strlen(parts[i]));
			usleep(10000);
		}
		break;
	}
	case SRV_HTTP_LENGTH: {
		char method[16] = "";

		if (read_request(s, fd) < 0)
			break;
		sscanf(s->request, "%15s", method);
		if (strcmp(method, "HEAD") == 0) { /* a length, but no body */
			const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";

			write_all(fd, r, strlen(r));
			break;
		}
		n = (size_t)snprintf(buf, sizeof(buf),
				     "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
				     "X-Method: %s\r\nContent-Length: %zu\r\n\r\n",
				     method, s->body_len);
		memcpy(buf + n, s->body, s->body_len);
		write_all(fd, buf, n + s->body_len);
		break;
	}
	case SRV_HTTP_EOF:
		reply(s, fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
			     "until the connection closes");
		break;
	case SRV_HTTP_100:
		reply(s, fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
			     "Content-Length: 2\r\n\r\nok");
		break;
	case SRV_SLOW_FRAME:
		if (ws_accept(s, fd) < 0)
			break;
		write_all(fd, "\x81\x05pa", 4);
		usleep(300000);
		write_all(fd, "rts", 3);
		echo_loop(s, fd);
		break;
	case SRV_SILENT:
		read_request(s, fd);
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		break;
	}
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	int fd = accept(s->lfd, NULL, NULL);

	if (fd >= 0) {
		serve(s, fd);
		close(fd);
	}
	close(s->lfd);
	return NULL;
}

/* Starts a one-connection server on the loopback address of `family`.
 * Returns false (and no thread) when that family is unavailable. */
bool srv_start_family(struct srv *s, int mode, int family)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->close_code = -1;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	}
	s->lfd = socket(family, SOCK_STREAM, 0);
	if (s->lfd < 0)
		return false;
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->lfd, (struct sockaddr *)&ss, len) < 0 || listen(s->lfd, 4) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&ss, &len) < 0) {
		close(s->lfd);
		return false;
	}
	s->port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					   : ((struct sockaddr_in *)&ss)->sin_port);
	pthread_create(&s->th, NULL, srv_main, s);
	return true;
}

void srv_start(struct srv *s, int mode)
{
	if (!srv_start_family(s, mode, AF_INET)) {
		fprintf(stderr, "test server: cannot listen on 127.0.0.1: %s\n", strerror(errno));
		exit(1);
	}
}

void srv_join(struct srv *s)
{
	pthread_join(s->th, NULL);
}
