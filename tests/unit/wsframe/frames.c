/*
 * frames.c - the wsframe tests' frame builder, event recorder and feeders
 * (see frames.h).
 */
#include "frames.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}

void b_put(struct bytes *b, const void *p, size_t n)
{
	if (!n)
		return;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void b_free(struct bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void frame_raw(struct bytes *b, unsigned b0, bool masked, const void *payload, size_t n)
{
	unsigned char h[WSFRAME_HEADER_MAX], mask[4];
	for (int i = 0; i < 4; i++)
		mask[i] = (unsigned char)rnd();
	size_t hn = wsframe_header_encode(h, b0 & 0x0f, b0 & 0x80, n, masked ? mask : NULL);
	h[0] |= (unsigned char)(b0 & 0x70); /* RSV bits, for the tests that set them */
	b_put(b, h, hn);
	size_t at = b->len;
	b_put(b, payload, n);
	if (masked)
		for (size_t i = 0; i < n; i++)
			b->p[at + i] ^= mask[i & 3];
}

void frame(struct bytes *b, bool fin, unsigned op, const void *p, size_t n)
{
	frame_raw(b, (fin ? 0x80u : 0u) | op, true, p, n);
}

void frame_s(struct bytes *b, bool fin, unsigned op, const char *s)
{
	frame(b, fin, op, s, strlen(s));
}

/* A close frame with a status code and a reason. */
void frame_close(struct bytes *b, int code, const char *reason)
{
	unsigned char p[128];
	size_t rl = strlen(reason);
	p[0] = (unsigned char)(code >> 8);
	p[1] = (unsigned char)code;
	memcpy(p + 2, reason, rl);
	frame(b, true, WSFRAME_OP_CLOSE, p, 2 + rl);
}

/* A masked frame header alone with a 64-bit length field of `len`. */
void header64(struct bytes *b, unsigned b0, uint64_t len)
{
	unsigned char h[14];
	h[0] = (unsigned char)b0;
	h[1] = 0x80 | 127;
	for (int i = 0; i < 8; i++)
		h[2 + i] = (unsigned char)(len >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		h[10 + i] = (unsigned char)rnd();
	b_put(b, h, 14);
}

void rec_add(struct rec *r, enum wsframe_kind kind, const void *data, size_t len, int code)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->ev = realloc(r->ev, r->cap * sizeof(*r->ev));
		if (!r->ev)
			abort();
	}
	struct ev *e = &r->ev[r->n++];
	e->kind = kind;
	e->len = len;
	e->code = code;
	e->raw = data;
	e->data = malloc(len ? len : 1);
	if (!e->data)
		abort();
	if (len)
		memcpy(e->data, data, len);
}

void rec_free(struct rec *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->ev[i].data);
	free(r->ev);
	memset(r, 0, sizeof(*r));
}

void rec_reset(struct rec *r)
{
	size_t stop = r->stop_at;
	rec_free(r);
	r->stop_at = stop;
}

int on_event(void *ctx, const struct wsframe_event *e)
{
	struct rec *r = ctx;
	rec_add(r, e->kind, e->data, e->len, e->kind == WSFRAME_CLOSE ? e->code : 0);
	return r->stop_at && r->n >= r->stop_at;
}

bool rec_equal(const struct rec *a, const struct rec *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct ev *x = &a->ev[i], *y = &b->ev[i];
		if (x->kind != y->kind || x->len != y->len || x->code != y->code ||
		    memcmp(x->data, y->data, x->len) != 0)
			return false;
	}
	return true;
}

void rec_print(const char *label, const struct rec *r)
{
	fprintf(stderr, "  %s: %zu events\n", label, r->n);
	for (size_t i = 0; i < r->n && i < 20; i++)
		fprintf(stderr, "    kind %d len %zu code %d first %02x\n", (int)r->ev[i].kind,
			r->ev[i].len, r->ev[i].code, r->ev[i].len ? r->ev[i].data[0] : 0);
}

/* Feeds a private, exactly sized copy of p[0..n) (the reader writes to it). */
int feed_copy(struct wsframe_reader *r, const unsigned char *p, size_t n, size_t max,
	      struct rec *rec)
{
	unsigned char *c = malloc(n ? n : 1);
	if (!c)
		abort();
	if (n)
		memcpy(c, p, n);
	int rc = wsframe_feed(r, c, n, max, on_event, rec);
	free(c);
	return rc;
}

/* Feeds in->p in pieces ending at cuts[] and at the end; stops at the first
 * nonzero result and returns it. */
int feed_cuts(struct wsframe_reader *r, const struct bytes *in, const size_t *cuts, size_t ncut,
	      size_t max, struct rec *rec)
{
	size_t at = 0;
	for (size_t i = 0; i <= ncut; i++) {
		size_t end = i < ncut ? cuts[i] : in->len;
		int rc = feed_copy(r, in->p + at, end - at, max, rec);
		if (rc)
			return rc;
		at = end;
	}
	return WSFRAME_OK;
}

int feed_bytewise(struct wsframe_reader *r, const struct bytes *in, size_t max, struct rec *rec)
{
	for (size_t i = 0; i < in->len; i++) {
		int rc = feed_copy(r, in->p + i, 1, max, rec);
		if (rc)
			return rc;
	}
	return WSFRAME_OK;
}

bool idle_and_empty(const struct wsframe_reader *r)
{
	return !wsframe_reader_busy(r) && r->part == NULL && r->msg == NULL && r->part_len == 0 &&
	       r->msg_len == 0 && r->msg_opcode == 0;
}
