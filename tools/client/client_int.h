/*
 * client_int.h - internals shared by the files of tools/client/ only.
 *
 * frame.c: the WebSocket frame codec and message assembler. Pure functions:
 * bytes in, result out, no I/O, no global state (fuzzable).
 * net.c: TCP connect and poll-based I/O with deadlines.
 * http.c: the llhttp-based response reader.
 */
#ifndef TOOLS_CLIENT_INT_H
#define TOOLS_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"

/* Largest frame payload or reassembled message accepted from a peer, and
 * largest HTTP response body. Anything larger is CLIENT_EPROTO. */
#define CLIENT_MAX_MESSAGE (64u * 1024u * 1024u)

/* Longest frame header: 2 + 8 (64-bit length) + 4 (mask). */
#define CLIENT_FRAME_HEADER_MAX 14

/* ---- frame.c -------------------------------------------------------- */

struct client_frame_header {
	bool fin;
	unsigned rsv; /* RSV1..3 as bits 2..0 */
	int opcode;
	bool masked;
	uint8_t mask[4]; /* valid when masked */
	uint64_t payload_len;
	size_t header_len; /* bytes of the header, mask included */
};

/* Header size for a payload of `len` bytes. */
size_t client__frame_header_size(uint64_t len, bool masked);

/*
 * Writes a frame header into `out` (at least CLIENT_FRAME_HEADER_MAX bytes)
 * with the minimal length encoding; `mask` NULL for an unmasked frame.
 * `opcode` is taken modulo 16. Returns the header length.
 */
size_t client__frame_header_encode(uint8_t *out, int opcode, bool fin, uint64_t len,
				   const uint8_t *mask);

/*
 * Decodes a frame header from the first `len` bytes of `buf`.
 * Returns the header length (> 0) and fills `h`; 0 when more bytes are
 * needed; CLIENT_EPROTO for a header no RFC 6455 peer may send without
 * extensions: RSV bits set, unknown opcode, fragmented or >125-byte control
 * frame, 64-bit length with the top bit set, non-minimal length encoding.
 * The payload size is not limited here (see CLIENT_MAX_MESSAGE).
 */
int client__frame_header_decode(const uint8_t *buf, size_t len, struct client_frame_header *h);

/* XORs `data` with `mask`; `offset` is the position of data[0] within the
 * payload (so a payload can be (un)masked in pieces). */
void client__frame_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset);

/* True when the bytes are valid UTF-8 (no overlongs, no surrogates). */
bool client__utf8_valid(const uint8_t *s, size_t len);

/*
 * Parses a close frame payload: 0 bytes gives code 1005 and no reason;
 * otherwise a 2-byte code (1000-4999 except 1004, 1005, 1006, 1015) and a
 * UTF-8 reason. Returns 0 or CLIENT_EPROTO.
 */
int client__close_parse(const uint8_t *p, size_t len, int *code);

/*
 * Reassembles messages from frames. One per connection; not thread-safe.
 * Zero-initialise, set max_len (0 means CLIENT_MAX_MESSAGE), free with
 * client__assembler_clear().
 */
struct client_assembler {
	size_t max_len;
	int opcode; /* opcode of the fragmented message in progress, 0: none */
	char *buf;
	size_t len, cap;
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
 * enum client_asm_event or a negative CLIENT_E* code (CLIENT_EPROTO for a
 * continuation without a message, a new message inside a fragmented one, a
 * message over max_len, invalid UTF-8 text, a bad close payload;
 * CLIENT_ENOMEM). On CLIENT_ASM_MESSAGE and CLIENT_ASM_CLOSE, `msg` is
 * filled and msg->data (malloc'd, NUL-terminated) belongs to the caller; for
 * a close, data is the reason. For PING/PONG the payload is left in place
 * for the caller (msg is untouched).
 */
int client__assembler_feed(struct client_assembler *a, const struct client_frame_header *h,
			   const uint8_t *payload, struct client_ws_message *msg);

void client__assembler_clear(struct client_assembler *a);

/*
 * Sec-WebSocket-Accept for `key`: base64(SHA-1(key + RFC 6455 GUID)).
 * `out` holds at least 29 bytes. Returns 0 or CLIENT_ENOMEM.
 */
int client__ws_accept(const char *key, char out[29]);

/* ---- net.c ---------------------------------------------------------- */

/* Monotonic milliseconds. */
int64_t client__now_ms(void);

/* Deadline `timeout_ms` from now; -1 (no deadline) when timeout_ms < 0. */
int64_t client__deadline(int timeout_ms);

/* Milliseconds left until `deadline` for poll(): -1 when there is none,
 * 0 when it has passed. */
int client__remaining(int64_t deadline);

/* Connects a non-blocking, close-on-exec TCP socket with TCP_NODELAY;
 * tries every address of `host`. Returns 0 and *fd, or
 * CLIENT_ECONNECT / CLIENT_ETIMEDOUT / CLIENT_EINVAL. */
int client__tcp_connect(const char *host, int port, int timeout_ms, int *fd);

/* Writes all `len` bytes. 0, CLIENT_EIO, CLIENT_ETIMEDOUT. */
int client__send_all(int fd, const void *data, size_t len, int64_t deadline);

/* Reads what is available (at least one byte), waiting until `deadline`.
 * Returns the byte count, 0 at EOF, CLIENT_EIO or CLIENT_ETIMEDOUT. */
long client__recv_some(int fd, void *buf, size_t cap, int64_t deadline);

/* "host:port", or "[host]:port" for an IPv6 literal; malloc'd, NULL on
 * allocation failure. */
char *client__host_header(const char *host, int port);

/* ---- http.c --------------------------------------------------------- */

/*
 * Reads one HTTP response from `fd` into `resp` (must be zeroed), using
 * llhttp. `head`: the request was HEAD (no body). `upgrade`: a 101 ends the
 * response at its header block, and the bytes already read past it are
 * returned in *extra (malloc'd, *extra_len; NULL/0 when none) - they belong
 * to the next protocol. Interim 1xx responses (other than 101) are skipped.
 * Returns 0, CLIENT_EPROTO, CLIENT_EIO (EOF before any byte or read error),
 * CLIENT_ETIMEDOUT or CLIENT_ENOMEM.
 */
int client__read_response(int fd, int64_t deadline, bool head, bool upgrade,
			  struct client_response *resp, uint8_t **extra, size_t *extra_len);

/* True when the raw header lines `headers` (NULL: none) set `name`. */
bool client__has_header(const char *headers, const char *name);

/* Random bytes from OpenSSL. 0 or CLIENT_EIO. */
int client__random(void *buf, size_t len);

#endif
