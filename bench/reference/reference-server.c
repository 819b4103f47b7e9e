/*
 * reference-server.c - the coalescing reference server of the benchmark.
 *
 * A deliberately minimal, single-threaded epoll WebSocket chat server, used
 * only as the yardstick channels-server is compared against (bench/run.sh):
 *
 *   - RFC 6455 handshake (SHA-1 + base64 from OpenSSL's libcrypto);
 *   - the request path is the room: every connection on the same path is a
 *     member of the same room;
 *   - a text frame {"message":"<payload>"} is parsed crudely (the raw bytes
 *     of the "message" string, escapes kept) and
 *     {"message":"<payload>","username":"u<id>"} is broadcast to every member
 *     of the room, the sender included;
 *   - the broadcast frame is built once and appended to each member's output
 *     buffer; each connection with pending output gets ONE write() per
 *     epoll_wait round, after every event of that round was handled, so all
 *     the frames a member got in one round leave in one system call.
 *
 * Not a general server: no fragmentation (each frame is taken as a whole
 * message), no UTF-8 validation, no Origin check, no HTTP besides the
 * upgrade. Connections whose unsent output passes OUT_LIMIT are closed.
 *
 * usage: reference-server [--host ADDR] [--port N]   (default 127.0.0.1:8000)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 512
#define READ_CHUNK 16384
#define REQUEST_MAX 8192
#define FRAME_MAX (1u << 20)
#define OUT_LIMIT (64u << 20)
#define ROOM_BUCKETS 1024

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

struct room;

/* One per accepted socket; freed only at the end of a loop round. */
struct conn {
	int fd;
	unsigned id;
	int websocket;
	int closing;
	int dirty;
	int want_out;
	struct buf in;
	struct buf out;
	struct room *room;
	size_t room_index;
	struct conn *next_dirty;
	struct conn *next_dead;
};

struct room {
	char *path;
	struct conn **members;
	size_t n_members;
	size_t cap_members;
	struct room *next;
};

static int epfd;
static unsigned next_id = 1;
static struct room *rooms[ROOM_BUCKETS];
static struct conn *dirty_list;
static struct conn *dead_list;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int buf_reserve(struct buf *b, size_t extra)
{
	if (b->len + extra <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

static int buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		/* Idle connections keep no buffer memory. */
		free(b->data);
		b->data = NULL;
		b->len = 0;
		b->cap = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

static unsigned long hash_str(const char *s)
{
	unsigned long h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

static struct room *room_get(const char *path)
{
	unsigned long h = hash_str(path) % ROOM_BUCKETS;
	for (struct room *r = rooms[h]; r; r = r->next)
		if (strcmp(r->path, path) == 0)
			return r;
	struct room *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->path = strdup(path);
	if (!r->path) {
		free(r);
		return NULL;
	}
	r->next = rooms[h];
	rooms[h] = r;
	return r;
}

static int room_join(struct room *r, struct conn *c)
{
	if (r->n_members == r->cap_members) {
		size_t cap = r->cap_members ? r->cap_members * 2 : 8;
		struct conn **m = realloc(r->members, cap * sizeof(*m));
		if (!m)
			return -1;
		r->members = m;
		r->cap_members = cap;
	}
	c->room = r;
	c->room_index = r->n_members;
	r->members[r->n_members++] = c;
	return 0;
}

static void room_leave(struct conn *c)
{
	struct room *r = c->room;
	if (!r)
		return;
	struct conn *last = r->members[--r->n_members];
	r->members[c->room_index] = last;
	last->room_index = c->room_index;
	c->room = NULL;
}

static void mark_dirty(struct conn *c)
{
	if (c->dirty || c->closing)
		return;
	c->dirty = 1;
	c->next_dirty = dirty_list;
	dirty_list = c;
}

/* Closes now (fd and room membership); the memory goes at the end of the round. */
static void conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	room_leave(c);
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->next_dead = dead_list;
	dead_list = c;
}

static void set_want_out(struct conn *c, int want)
{
	if (c->want_out == want)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0u), .data.ptr = c};
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = want;
}

/* Writes the header of an unmasked final frame of `n` payload bytes into
 * hdr (at most 10 bytes); returns its length. */
static size_t frame_header(unsigned char hdr[10], unsigned opcode, size_t n)
{
	size_t h = 0;
	hdr[h++] = (unsigned char)(0x80 | opcode);
	if (n < 126) {
		hdr[h++] = (unsigned char)n;
	} else if (n < 65536) {
		hdr[h++] = 126;
		hdr[h++] = (unsigned char)(n >> 8);
		hdr[h++] = (unsigned char)n;
	} else {
		hdr[h++] = 127;
		for (int i = 7; i >= 0; i--)
			hdr[h++] = (unsigned char)((uint64_t)n >> (8 * i));
	}
	return h;
}

static int queue_frame(struct conn *c, unsigned opcode, const char *payload, size_t n)
{
	unsigned char hdr[10];
	size_t h = frame_header(hdr, opcode, n);
	if (buf_reserve(&c->out, h + n) < 0)
		return -1;
	buf_append(&c->out, hdr, h);
	buf_append(&c->out, payload, n);
	mark_dirty(c);
	return 0;
}

/* Finds the raw bytes of the "message" string value; escapes are kept as they are. */
static int find_message(const char *p, size_t n, const char **start, size_t *len)
{
	static const char key[] = "\"message\"";
	const char *end = p + n;
	const char *k = memmem(p, n, key, sizeof(key) - 1);
	if (!k)
		return -1;
	const char *s = k + sizeof(key) - 1;
	while (s < end && (*s == ' ' || *s == ':' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++;
	if (s >= end || *s != '"')
		return -1;
	s++;
	const char *e = s;
	while (e < end && *e != '"') {
		if (*e == '\\')
			e++;
		e++;
	}
	if (e >= end)
		return -1;
	*start = s;
	*len = (size_t)(e - s);
	return 0;
}

static void broadcast(struct conn *from, const char *msg, size_t msg_len)
{
	static struct buf frame;
	char tail[48];
	int tn = snprintf(tail, sizeof(tail), "\",\"username\":\"u%u\"}", from->id);
	static const char head[] = "{\"message\":\"";
	size_t n = sizeof(head) - 1 + msg_len + (size_t)tn;

	/* The frame is built once; each member gets a copy in its output buffer. */
	frame.len = 0;
	unsigned char hdr[10];
	size_t h = frame_header(hdr, 0x1, n);
	if (buf_append(&frame, hdr, h) < 0 || buf_append(&frame, head, sizeof(head) - 1) < 0 ||
	    buf_append(&frame, msg, msg_len) < 0 || buf_append(&frame, tail, (size_t)tn) < 0)
		return;

	struct room *r = from->room;
	for (size_t i = 0; i < r->n_members; i++) {
		struct conn *m = r->members[i];
		if (m->out.len + frame.len > OUT_LIMIT || buf_append(&m->out, frame.data, frame.len) < 0)
			continue; /* closed below, after the loop over members */
		mark_dirty(m);
	}
	for (size_t i = 0; i < r->n_members;) {
		struct conn *m = r->members[i];
		if (m->out.len > OUT_LIMIT - 65536)
			conn_close(m); /* the last member moved into slot i */
		else
			i++;
	}
}

static int handshake(struct conn *c)
{
	char *end = memmem(c->in.data, c->in.len, "\r\n\r\n", 4);
	if (!end)
		return c->in.len > REQUEST_MAX ? -1 : 0;
	size_t req_len = (size_t)(end - c->in.data) + 4;
	*end = '\0';

	char *sp1 = strchr(c->in.data, ' ');
	if (!sp1 || strncmp(c->in.data, "GET ", 4) != 0)
		return -1;
	char *path = sp1 + 1;
	char *sp2 = strchr(path, ' ');
	if (!sp2)
		return -1;
	*sp2 = '\0';
	char *q = strchr(path, '?');
	if (q)
		*q = '\0';

	const char *key = NULL;
	size_t key_len = 0;
	for (char *line = strstr(sp2 + 1, "\r\n"); line; line = strstr(line, "\r\n")) {
		line += 2;
		if (strncasecmp(line, "Sec-WebSocket-Key:", 18) == 0) {
			const char *v = line + 18;
			while (*v == ' ' || *v == '\t')
				v++;
			const char *ve = v;
			while (*ve && *ve != '\r' && *ve != ' ')
				ve++;
			key = v;
			key_len = (size_t)(ve - v);
		}
	}
	if (!key || key_len == 0 || key_len > 64)
		return -1;

	unsigned char digest[SHA_DIGEST_LENGTH];
	char accept_src[128];
	memcpy(accept_src, key, key_len);
	memcpy(accept_src + key_len, ws_guid, sizeof(ws_guid) - 1);
	SHA1((const unsigned char *)accept_src, key_len + sizeof(ws_guid) - 1, digest);
	unsigned char accept[64];
	EVP_EncodeBlock(accept, digest, SHA_DIGEST_LENGTH);

	char resp[256];
	int rn = snprintf(resp, sizeof(resp),
			  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			  (const char *)accept);
	struct room *r = room_get(path);
	if (!r || room_join(r, c) < 0 || buf_append(&c->out, resp, (size_t)rn) < 0)
		return -1;
	c->id = next_id++;
	c->websocket = 1;
	mark_dirty(c);
	buf_consume(&c->in, req_len);
	return 1;
}

/* Handles every complete frame in c->in; returns -1 when the connection must close. */
static int handle_frames(struct conn *c)
{
	size_t off = 0;
	int rc = 0;
	while (!c->closing) {
		unsigned char *p = (unsigned char *)c->in.data + off;
		size_t avail = c->in.len - off;
		if (avail < 2)
			break;
		unsigned opcode = p[0] & 0x0f;
		int masked = p[1] & 0x80;
		uint64_t plen = p[1] & 0x7f;
		size_t h = 2;
		if (plen == 126) {
			if (avail < 4)
				break;
			plen = ((uint64_t)p[2] << 8) | p[3];
			h = 4;
		} else if (plen == 127) {
			if (avail < 10)
				break;
			plen = 0;
			for (int i = 0; i < 8; i++)
				plen = (plen << 8) | p[2 + i];
			h = 10;
		}
		if (!masked || plen > FRAME_MAX) {
			rc = -1;
			break;
		}
		if (avail < h + 4 + plen)
			break;
		unsigned char *mask = p + h;
		char *payload = (char *)p + h + 4;
		for (uint64_t i = 0; i < plen; i++)
			payload[i] = (char)(payload[i] ^ mask[i & 3]);
		off += h + 4 + (size_t)plen;

		if (opcode == 0x1 || opcode == 0x2 || opcode == 0x0) {
			const char *msg;
			size_t msg_len;
			if (find_message(payload, (size_t)plen, &msg, &msg_len) == 0)
				broadcast(c, msg, msg_len);
		} else if (opcode == 0x8) {
			queue_frame(c, 0x8, payload, plen >= 2 ? 2 : 0);
			/* Best effort: the close frame goes out now, then the socket closes. */
			if (write(c->fd, c->out.data, c->out.len) < 0)
				(void)0;
			rc = -1;
			break;
		} else if (opcode == 0x9) {
			if (queue_frame(c, 0xA, payload, (size_t)plen) < 0) {
				rc = -1;
				break;
			}
		}
	}
	if (!c->closing)
		buf_consume(&c->in, off);
	return rc;
}

static void on_readable(struct conn *c)
{
	for (;;) {
		if (buf_reserve(&c->in, READ_CHUNK) < 0) {
			conn_close(c);
			return;
		}
		ssize_t n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_close(c);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		c->in.len += (size_t)n;
		if (!c->websocket) {
			int hs = handshake(c);
			if (hs < 0) {
				conn_close(c);
				return;
			}
			if (hs == 0)
				continue;
		}
		if (handle_frames(c) < 0 || c->closing) {
			conn_close(c);
			return;
		}
		if ((size_t)n < READ_CHUNK)
			break;
	}
	if (c->in.len == 0)
		buf_consume(&c->in, 0);
}

/* The one write() per connection per round. */
static void flush_dirty(void)
{
	while (dirty_list) {
		struct conn *c = dirty_list;
		dirty_list = c->next_dirty;
		c->dirty = 0;
		if (c->closing || c->out.len == 0)
			continue;
		ssize_t n = write(c->fd, c->out.data, c->out.len);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			conn_close(c);
			continue;
		}
		if (n > 0)
			buf_consume(&c->out, (size_t)n);
		set_want_out(c, c->out.len > 0);
	}
}

static void free_dead(void)
{
	while (dead_list) {
		struct conn *c = dead_list;
		dead_list = c->next_dead;
		free(c->in.data);
		free(c->out.data);
		free(c);
	}
}

static void on_accept(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
		}
	}
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int port = 8000;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
			host = argv[++i];
		} else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
			port = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: %s [--host ADDR] [--port N]\n", argv[0]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "bad address %s\n", host);
		return 2;
	}
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0) {
		perror("bind/listen");
		return 1;
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);
	fprintf(stderr, "reference-server listening on %s:%d\n", host, port);

	struct epoll_event evs[MAX_EVENTS];
	while (!stop) {
		int n = epoll_wait(epfd, evs, MAX_EVENTS, 1000);
		if (n < 0 && errno != EINTR) {
			perror("epoll_wait");
			break;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				on_accept(lfd);
				continue;
			}
			if (c->closing)
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				on_readable(c);
			if (!c->closing && (evs[i].events & EPOLLOUT))
				mark_dirty(c);
		}
		flush_dirty();
		free_dead();
	}
	close(lfd);
	close(epfd);
	return 0;
}
