/*
 * ws_test_server.h - a minimal HTTP/1.1 + RFC 6455 server for the client
 * tests, written independently of tools/client so the two do not share
 * bugs. srv_start() listens on an ephemeral loopback port and starts one
 * thread that accepts ONE connection, serves it according to `mode`, closes
 * it and exits. The fields below the marker are written by that thread and
 * may be read only after srv_join().
 */
#ifndef TESTS_UNIT_CLIENT_WS_TEST_SERVER_H
#define TESTS_UNIT_CLIENT_WS_TEST_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum srv_mode {
	SRV_ECHO,	  /* handshake, then echo every frame as it came */
	SRV_404,	  /* answers the upgrade with 404 and a body */
	SRV_FIRST_FRAME,  /* 101 and a first text frame in one write, then echo */
	SRV_FRAGMENTED,	  /* a text message in 3 fragments with a ping inside */
	SRV_PING_FIRST,	  /* a ping, then a text message, then echo */
	SRV_CLOSE_CODE,	  /* sends close 4001 "bye" */
	SRV_CLOSE_EMPTY,  /* sends a close frame without payload */
	SRV_HUGE_LEN,	  /* a frame header announcing 2^40 bytes */
	SRV_MASKED,	  /* a masked frame (servers must not mask) */
	SRV_BAD_UTF8,	  /* a text frame that is not UTF-8 */
	SRV_BAD_ACCEPT,	  /* 101 with a wrong Sec-WebSocket-Accept */
	SRV_SUBPROTO,	  /* 101 selecting subprotocol "chat", then echo */
	SRV_BAD_SUBPROTO, /* 101 selecting a subprotocol that was not offered */
	SRV_HTTP_CHUNKED, /* chunked response, headers split across writes */
	SRV_HTTP_LENGTH,  /* Content-Length response echoing the request body */
	SRV_HTTP_EOF,	  /* body delimited by the end of the connection */
	SRV_HTTP_100,	  /* 100 Continue, then 201 */
	SRV_SILENT,	  /* reads the request, never answers */
	SRV_SLOW_FRAME,	  /* one frame written in two parts 300 ms apart, then echo */
};

struct srv {
	int mode;
	int lfd;
	int port;
	pthread_t th;
	/* ---- written by the server thread, read after srv_join() ---- */
	char request[16384]; /* request head and body */
	char body[4096];     /* request body (HTTP modes) */
	size_t body_len;
	int frames;	     /* frames received from the client */
	int unmasked;	     /* ... of which without the mask bit */
	int zero_masks;	     /* ... of which with an all-zero mask key */
	uint8_t masks[2][4]; /* the first two mask keys */
	int close_code;	     /* client's close: -1 none, 1005 empty */
	char pong[128];	     /* payload of the last pong from the client */
	int pongs;
};

/* Copies the value of header `name` in the request head `req` into `out`. */
bool header_value(const char *req, const char *name, char *out, size_t cap);

/* Sec-WebSocket-Accept for `key`, computed here independently. */
void accept_for(const char *key, char out[29]);

/* Starts a server on the loopback address of `family` (AF_INET or
 * AF_INET6). Returns false, with no thread started, when unavailable. */
bool srv_start_family(struct srv *s, int mode, int family);

/* srv_start_family(AF_INET); exits the test when that fails. */
void srv_start(struct srv *s, int mode);

/* Waits for the server thread to finish its connection. */
void srv_join(struct srv *s);

#endif
