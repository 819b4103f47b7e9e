/*
 * wsframe.h - the receiving half of RFC 6455 for a server: client frames in,
 * whole messages and control frames out.
 *
 * Pure: bytes in, events out, no I/O and no clock. The server reads each
 * WebSocket's socket itself (big reads, many frames per read) and feeds what
 * it read here; tests and the fuzzer feed bytes directly.
 *
 * What it enforces (the close code the caller must send is in ->err_code):
 *   1002  unmasked frame, RSV bits set (no extension is negotiated), unknown
 *         opcode, fragmented or over-125-byte control frame, continuation
 *         without a message, a new message inside a fragmented one, a close
 *         payload of 1 byte or with an invalid status code
 *   1007  a text message (or a close reason) that is not valid UTF-8: a
 *         text message is checked as its bytes arrive (the state carried
 *         across reads and fragments), so it fails at the first byte that
 *         no continuation could make valid, without waiting for the end of
 *         the frame or message; a character cut between fragments is fine
 *   1009  a message (all its fragments) longer than the limit; refused as
 *         soon as a frame header announces it, before its payload arrives
 *
 * Memory: a reader holds nothing while it is between frames and no message
 * is being assembled; a partial frame or a fragmented message is kept in
 * buffers it frees once they are delivered. Those buffers grow with the
 * bytes actually received (a header announcing a large frame reserves
 * nothing), each up to about the message limit: a reader holds at most
 * about twice `max_message` (a frame cut by a read, and the message its
 * fragments are assembled into).
 */
#ifndef LIB_WSFRAME_H
#define LIB_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* RFC 6455 opcodes. */
enum wsframe_opcode {
	WSFRAME_OP_CONT = 0x0,
	WSFRAME_OP_TEXT = 0x1,
	WSFRAME_OP_BINARY = 0x2,
	WSFRAME_OP_CLOSE = 0x8,
	WSFRAME_OP_PING = 0x9,
	WSFRAME_OP_PONG = 0xa,
};

enum wsframe_kind {
	WSFRAME_TEXT,   /* a whole text message (valid UTF-8) */
	WSFRAME_BINARY, /* a whole binary message */
	WSFRAME_PING,   /* data: the payload to echo in a pong (<= 125 bytes) */
	WSFRAME_PONG,
	WSFRAME_CLOSE,  /* code: the status (1005 when the frame had none); data: the reason */
};

struct wsframe_event {
	enum wsframe_kind kind;
	/* never NULL ("" when len is 0); valid during the callback only */
	const unsigned char *data;
	size_t len;
	int code;                  /* WSFRAME_CLOSE only */
};

/*
 * Called for each event in order. Returns 0 to go on, nonzero to stop
 * parsing (the connection is closing): the rest of the input is dropped.
 */
typedef int (*wsframe_cb)(void *ctx, const struct wsframe_event *ev);

/* Per connection; zero-initialise (or wsframe_reader_init). 48 bytes:
 * a server holds one per WebSocket. */
struct wsframe_reader {
	unsigned char *part;   /* the frame received in part: header, payload so far (unmasked) */
	unsigned char *msg;    /* fragments of the message being assembled */
	const char *err_reason;/* on failure: a static, human-readable reason */
	uint32_t part_len, part_cap;
	uint32_t msg_len, msg_cap;
	uint16_t err_code;     /* on failure: the close code to send (1002, 1007, 1009;
	                          1011 after CH_ENOMEM) */
	uint8_t msg_opcode;    /* 1 text, 2 binary while assembling; 0 otherwise */
	uint8_t utf8;          /* text_utf8_scan() state of the text message so far */
	bool failed;           /* a protocol error was reported; feed() refuses more */
	bool closed;           /* a close frame came: feed() returns WSFRAME_STOPPED */
};

/* The largest message a reader assembles (its buffers are 32-bit sized). */
#define WSFRAME_MAX_MESSAGE ((size_t)1 << 31)

/* What wsframe_feed() returns besides a negative CH_E* code (error.h):
 * CH_EPROTO (protocol error: see err_code / err_reason), CH_ENOMEM. */
enum wsframe_result {
	WSFRAME_OK = 0,       /* all input consumed (a partial frame kept) */
	WSFRAME_STOPPED = 1,  /* the callback asked to stop */
};

void wsframe_reader_init(struct wsframe_reader *r);

/* Frees the buffers; the reader may be fed again (as new). */
void wsframe_reader_clear(struct wsframe_reader *r);

/*
 * Parses `len` bytes read from the client. `data` is modified (payloads are
 * unmasked in place, so a whole unfragmented frame is delivered without a
 * copy). `max_message` bounds a message's payload over all its fragments
 * (at most WSFRAME_MAX_MESSAGE; a larger value means that).
 * Returns a wsframe_result or CH_EPROTO / CH_ENOMEM; after these the
 * reader stays failed, and after a close frame every call returns
 * WSFRAME_STOPPED without parsing.
 */
int wsframe_feed(struct wsframe_reader *r, unsigned char *data, size_t len, size_t max_message,
		 wsframe_cb cb, void *ctx);

/* True while a partial frame or a fragmented message is held. */
bool wsframe_reader_busy(const struct wsframe_reader *r);

/*
 * The pongs owed to a client: every ping gets its own pong with its payload,
 * in order (RFC 6455 5.5.2-5.5.3, as Python websockets and Autobahn
 * expect), kept here as ready server frames until the caller writes them.
 * Bounded, so that a client sending pings faster than it reads the pongs
 * (or many in one read) cannot grow memory: at most WSFRAME_PONGS_MAX pongs
 * and WSFRAME_PONGS_MAX_BYTES bytes of frames (headers included) at once,
 * both inclusive. A connection holds a pointer, NULL while nothing is owed.
 */
#define WSFRAME_PONGS_MAX 256
#define WSFRAME_PONGS_MAX_BYTES 8192

struct wsframe_pongs {
	uint16_t n;           /* pongs held */
	uint16_t len;         /* bytes of data[] used: the frames, in order */
	uint16_t cap;
	unsigned char data[];
};

/*
 * Appends the pong answering a ping with `payload` (`len` <= 125 bytes) to
 * *q, allocating it when NULL. Returns 0; CH_EQUEUE when that pong
 * would make more than WSFRAME_PONGS_MAX pongs or WSFRAME_PONGS_MAX_BYTES
 * bytes (nothing is appended: the caller closes 1008); CH_ENOMEM; or
 * CH_EPROTO for a payload over 125 bytes.
 */
int wsframe_pongs_add(struct wsframe_pongs **q, const unsigned char *payload, size_t len);

/* Frees *q (once its frames are written) and sets it to NULL. */
void wsframe_pongs_free(struct wsframe_pongs **q);

/* XORs `len` bytes of `p` with the 4-byte `mask`, starting at mask[0]. */
void wsframe_unmask(unsigned char *p, size_t len, const unsigned char mask[4]);

/* Longest frame header: 2 + 8 (64-bit length) + 4 (mask). */
#define WSFRAME_HEADER_MAX 14

/* Size of the header of a frame with a `len`-byte payload. */
size_t wsframe_header_size(uint64_t len, bool masked);

/*
 * The one frame header writer (the server's frames, the client's, and the
 * frames tests and fuzzers build): writes the header of a frame with
 * `opcode` (taken modulo 16), FIN when `fin`, a `len`-byte payload in the
 * shortest length encoding and, when `mask` is not NULL, the mask bit and
 * those 4 bytes, into `out` (room for WSFRAME_HEADER_MAX bytes); returns
 * its size. RSV bits are 0. The payload is not touched.
 */
size_t wsframe_header_encode(unsigned char *out, unsigned opcode, bool fin, uint64_t len,
			     const unsigned char *mask);

/* A server frame's header (FIN, unmasked) into `out` (room for 10 bytes). */
static inline size_t wsframe_header(unsigned char *out, unsigned opcode, uint64_t len)
{
	return wsframe_header_encode(out, opcode, true, len, NULL);
}

#endif
