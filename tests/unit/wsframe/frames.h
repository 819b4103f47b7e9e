/*
 * frames.h - what the wsframe tests share: a client frame builder (random
 * masks, applied bytewise so the reader's own unmasking is checked), an
 * event recorder and feeders that cut the input. Test-only; single thread.
 */
#ifndef TESTS_UNIT_WSFRAME_FRAMES_H
#define TESTS_UNIT_WSFRAME_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wsframe.h"

#define BIG ((size_t)1 << 20)

/* Deterministic xorshift: every run builds the same masks and payloads. */
uint32_t rnd(void);

/* A growable byte string; the frames of one test are appended to one. */
struct bytes {
	unsigned char *p;
	size_t len, cap;
};

void b_put(struct bytes *b, const void *p, size_t n);
void b_free(struct bytes *b);

/*
 * Appends a client frame whose first byte is `b0` (FIN, RSV, opcode as
 * given), with the shortest length encoding (wsframe_header_encode, the
 * one header writer; RSV bits added here); masked with a random mask
 * unless !masked.
 */
void frame_raw(struct bytes *b, unsigned b0, bool masked, const void *payload, size_t n);
void frame(struct bytes *b, bool fin, unsigned op, const void *p, size_t n);
void frame_s(struct bytes *b, bool fin, unsigned op, const char *s);
/* A close frame with a status code and a reason (<= 123 bytes). */
void frame_close(struct bytes *b, int code, const char *reason);
/* A masked frame header alone with a 64-bit length field of `len`. */
void header64(struct bytes *b, unsigned b0, uint64_t len);

/* One event as recorded: its bytes are copied (they live for the callback only). */
struct ev {
	enum wsframe_kind kind;
	unsigned char *data;
	const unsigned char *raw; /* the pointer the reader gave */
	size_t len;
	int code;
};

struct rec {
	struct ev *ev;
	size_t n, cap;
	size_t stop_at; /* on_event returns 1 once n reaches it (0: never) */
};

void rec_add(struct rec *r, enum wsframe_kind kind, const void *data, size_t len, int code);
void rec_free(struct rec *r);
/* Frees the events, keeps stop_at. */
void rec_reset(struct rec *r);
/* The wsframe_cb: ctx is a struct rec. */
int on_event(void *ctx, const struct wsframe_event *e);
bool rec_equal(const struct rec *a, const struct rec *b);
void rec_print(const char *label, const struct rec *r);

/* Feeds a private, exactly sized copy of p[0..n) (the reader writes to it,
 * and ASan sees any read past it). */
int feed_copy(struct wsframe_reader *r, const unsigned char *p, size_t n, size_t max,
	      struct rec *rec);
/* Feeds in->p in pieces ending at cuts[] (ascending) and at the end; stops
 * at the first nonzero result and returns it. */
int feed_cuts(struct wsframe_reader *r, const struct bytes *in, const size_t *cuts, size_t ncut,
	      size_t max, struct rec *rec);
int feed_bytewise(struct wsframe_reader *r, const struct bytes *in, size_t max, struct rec *rec);

/* Not busy, and nothing allocated or half-assembled. */
bool idle_and_empty(const struct wsframe_reader *r);

#endif
