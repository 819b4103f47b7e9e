/*
 * client.h - the project's own HTTP/1.1 and WebSocket client (RFC 6455),
 * used by the integration tests, channels-cli and channels-benchmark.
 * Responses (HTTP and the WebSocket handshake) are parsed by llhttp.
 *
 * Blocking calls with timeouts, one connection per struct; not thread-safe
 * (one thread per connection). Client frames are masked, as RFC 6455
 * requires. Errors are 0 or a negative CH_E* code.
 */
#ifndef TOOLS_CLIENT_H
#define TOOLS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "text.h"    /* struct text_buf */
#include "wsframe.h" /* the opcodes (WSFRAME_OP_*) and the frame header writer */

/* A parsed HTTP response. */
struct client_response {
	int status;
	char **header_names;  /* lower-case */
	char **header_values;
	size_t n_headers;
	char *body;           /* NUL-terminated */
	size_t body_len;
};

/* Case-insensitive; NULL when absent. */
const char *client_response_header(const struct client_response *r, const char *name);
void client_response_clear(struct client_response *r);

/*
 * One HTTP request over a new connection ("Connection: close").
 * `headers` is NULL or extra raw header lines, each ending in "\r\n"; a Host
 * or Content-Length line there replaces the one the client would add.
 * `timeout_ms` bounds the whole exchange (connect, send, response); < 0 is
 * no limit. Bodies delimited by Content-Length, chunked encoding or the end
 * of the connection are read; interim 1xx responses are skipped.
 * Fills `resp` (caller clears it; it is left empty on error).
 */
int client_http_request(const char *host, int port, const char *method, const char *path,
			const char *headers, const void *body, size_t body_len, int timeout_ms,
			struct client_response *resp);

struct client_ws_options {
	const char *origin;       /* Origin header, NULL for none */
	const char *headers;      /* extra raw header lines ending in "\r\n", or NULL;
				     a Host line here replaces the default */
	const char *subprotocols; /* Sec-WebSocket-Protocol value, or NULL */
	int timeout_ms;           /* connect + handshake, and each later send;
				     0 = 5000, < 0 = no limit */
};

struct client_ws;

/*
 * Connects and performs the opening handshake (the key and
 * Sec-WebSocket-Accept are checked). On CH_EHANDSHAKE, `resp` (if not
 * NULL) holds the server's answer (e.g. status 404 or 403); on success it
 * holds the 101 response. Caller clears `resp`.
 */
int client_ws_connect(const char *host, int port, const char *path,
		      const struct client_ws_options *opt, struct client_ws **out,
		      struct client_response *resp);

/*
 * Sends are bounded by the connect timeout of client_ws_options. After a
 * close frame was sent or received they return CH_ECLOSED (except
 * client_ws_send_raw).
 */
int client_ws_send_text(struct client_ws *ws, const char *text, size_t len);
int client_ws_send_binary(struct client_ws *ws, const void *data, size_t len);
/* One frame with any opcode and FIN bit (fragmentation and protocol tests). */
int client_ws_send_frame(struct client_ws *ws, int opcode, bool fin, const void *data, size_t len);
/* Raw bytes on the socket, unframed (malformed-frame tests). */
int client_ws_send_raw(struct client_ws *ws, const void *data, size_t len);

struct client_ws_message {
	int opcode;          /* WSFRAME_OP_TEXT, WSFRAME_OP_BINARY or WSFRAME_OP_CLOSE */
	char *data;          /* malloc'd, NUL-terminated; reassembled from fragments */
	size_t len;
	int close_code;      /* for WSFRAME_OP_CLOSE: the peer's code, 1005 when none */
};

/*
 * Waits up to `timeout_ms` for the next data or close message (pings are
 * answered and skipped, pongs counted). After a close message, further calls
 * return CH_ECLOSED. Caller frees msg->data. timeout_ms 0 only takes
 * what is already readable; < 0 waits without limit. CH_ETIMEDOUT
 * leaves the connection usable (a partly received frame is kept). A close
 * message from the server is answered with a close frame echoing its code.
 * After CH_EPROTO (e.g. a frame over 64 MiB, invalid UTF-8 text, a
 * masked frame), a close 1002 is sent where possible and every later call
 * returns the same error.
 */
int client_ws_recv(struct client_ws *ws, int timeout_ms, struct client_ws_message *msg);

/* Sends a close frame with `code` (0: none) and waits up to `timeout_ms`
 * for the server's close frame; data messages meanwhile are dropped. 0 when
 * the close frame or EOF arrives (or a close was already received). */
int client_ws_close(struct client_ws *ws, int code, int timeout_ms);

/* Closes the socket and frees. NULL is fine. */
void client_ws_free(struct client_ws *ws);

int client_ws_fd(const struct client_ws *ws);

/* True when received bytes are buffered, so client_ws_recv() may return a
 * message without the fd becoming readable (for callers that poll() many
 * connections). */
bool client_ws_pending(const struct client_ws *ws);

/* Number of pong frames received so far (for ping tests). */
unsigned long client_ws_pongs(const struct client_ws *ws);

/* ---- the frame codec (frame.c) --------------------------------------
 * Pure functions: bytes in, result out, no I/O, no global state (fuzzable).
 * For programs that drive their own sockets (channels-benchmark, tests that
 * write frames byte by byte); client_ws_* use it too.
 */

/* Largest frame payload or reassembled message accepted from a peer, and
 * largest HTTP response body. Anything larger is CH_EPROTO. */
#define CLIENT_MAX_MESSAGE (64u * 1024u * 1024u)

struct client_frame_header {
	bool fin;
	unsigned rsv; /* RSV1..3 as bits 2..0 */
	int opcode;
	bool masked;
	uint8_t mask[4]; /* valid when masked */
	uint64_t payload_len;
	size_t header_len; /* bytes of the header, mask included */
};

/*
 * Decodes a frame header from the first `len` bytes of `buf`.
 * Returns the header length (> 0) and fills `h`; 0 when more bytes are
 * needed; CH_EPROTO for a header no RFC 6455 peer may send without
 * extensions: RSV bits set, unknown opcode, fragmented or >125-byte control
 * frame, 64-bit length with the top bit set, non-minimal length encoding.
 * The payload size is not limited here (see CLIENT_MAX_MESSAGE).
 */
int client_frame_header_decode(const uint8_t *buf, size_t len, struct client_frame_header *h);

/* XORs `data` with `mask`; `offset` is the position of data[0] within the
 * payload (so a payload can be (un)masked in pieces). */
void client_frame_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset);

/*
 * Parses a close frame payload: 0 bytes gives code 1005 and no reason;
 * otherwise a 2-byte code (1000-4999 except 1004, 1005, 1006, 1015) and a
 * UTF-8 reason. Returns 0 or CH_EPROTO.
 */
int client_close_parse(const uint8_t *p, size_t len, int *code);

/*
 * Reassembles messages from frames. One per connection; not thread-safe.
 * Zero-initialise, set max_len (0 means CLIENT_MAX_MESSAGE), free with
 * client_assembler_clear().
 */
struct client_assembler {
	size_t max_len;
	int opcode; /* opcode of the fragmented message in progress, 0: none */
	struct text_buf msg; /* its fragments so far */
};

enum client_asm_event {
	CLIENT_ASM_MORE = 0,	/* frame consumed, no message yet */
	CLIENT_ASM_MESSAGE = 1, /* a text/binary message is complete */
	CLIENT_ASM_PING = 2,
	CLIENT_ASM_PONG = 3,
	CLIENT_ASM_CLOSE = 4,
};

/*
 * Feeds one decoded frame with its unmasked payload. Returns an
 * enum client_asm_event or a negative CH_E* code (CH_EPROTO for a
 * continuation without a message, a new message inside a fragmented one, a
 * message over max_len, invalid UTF-8 text, a bad close payload;
 * CH_ENOMEM). On CLIENT_ASM_MESSAGE and CLIENT_ASM_CLOSE, `msg` is
 * filled and msg->data (malloc'd, NUL-terminated) belongs to the caller; for
 * a close, data is the reason. For PING/PONG the payload is left in place
 * for the caller (msg is untouched).
 */
int client_assembler_feed(struct client_assembler *a, const struct client_frame_header *h,
			   const uint8_t *payload, struct client_ws_message *msg);

void client_assembler_clear(struct client_assembler *a);

/*
 * Sec-WebSocket-Accept for `key`: base64(SHA-1(key + RFC 6455 GUID)).
 * `out` holds at least 29 bytes. Returns 0 or CH_ENOMEM.
 */
int client_ws_accept(const char *key, char out[29]);

#endif
