/*
 * wsframe.c - client frames to messages (see wsframe.h). Frames that arrive
 * whole in the caller's buffer are handled in place; only a frame cut by
 * the end of a read is copied (into r->part), and only a fragmented message
 * is assembled (into r->msg).
 */
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "wsframe.h"

/* A parsed frame header. */
struct hdr {
	unsigned opcode;
	bool fin;
	size_t size;    /* header bytes, mask included: 6, 8 or 14 */
	uint64_t plen;  /* payload bytes */
	unsigned char mask[4];
};

static int fail(struct wsframe_reader *r, int code, const char *reason)
{
	r->failed = true;
	r->err_code = (uint16_t)code;
	r->err_reason = reason;
	return CH_EPROTO;
}

static int fail_nomem(struct wsframe_reader *r)
{
	r->failed = true;
	r->err_code = 1011;
	r->err_reason = "out of memory";
	return CH_ENOMEM;
}

void wsframe_reader_init(struct wsframe_reader *r)
{
	memset(r, 0, sizeof(*r));
}

static void part_free(struct wsframe_reader *r)
{
	free(r->part);
	r->part = NULL;
	r->part_len = r->part_cap = 0;
}

static void msg_free(struct wsframe_reader *r)
{
	free(r->msg);
	r->msg = NULL;
	r->msg_len = r->msg_cap = 0;
	r->msg_opcode = 0;
}

void wsframe_reader_clear(struct wsframe_reader *r)
{
	part_free(r);
	msg_free(r);
	wsframe_reader_init(r);
}

bool wsframe_reader_busy(const struct wsframe_reader *r)
{
	return r->part_len || r->msg_opcode;
}

/* Appends n bytes to a buffer that doubles as data arrives, up to `limit`
 * bytes (the size of what is being put together, when known: a header
 * announcing a large frame reserves nothing until its payload comes).
 * Not a struct text_buf (lib/text): these grow to a known bound, not by
 * doubling past it, and their 32-bit sizes keep the reader 48 bytes per
 * WebSocket. */
static int append(unsigned char **buf, uint32_t *len, uint32_t *cap, const unsigned char *p,
		  size_t n, size_t limit)
{
	if (n == 0)
		return 0;
	if (*len + n > *cap) {
		size_t c = *cap ? (size_t)*cap * 2 : 64;
		if (limit && c > limit)
			c = limit;
		if (c < *len + n)
			c = *len + n;
		unsigned char *b = realloc(*buf, c);
		if (!b)
			return -1;
		*buf = b;
		*cap = (uint32_t)c;
	}
	memcpy(*buf + *len, p, n);
	*len += (uint32_t)n;
	return 0;
}

/*
 * Parses the frame header at p (n bytes). Returns 1 when it is complete
 * (*h filled), 0 when more bytes are needed (h->size: the header's size
 * once known, else 2), or CH_EPROTO. Every check that the header
 * alone allows is made here, so a bad or oversized frame is refused
 * before its payload is read.
 */
static int parse_header(struct wsframe_reader *r, const unsigned char *p, size_t n,
			size_t max_message, struct hdr *h)
{
	h->size = 2;
	if (n < 2)
		return 0;
	h->fin = p[0] & 0x80;
	h->opcode = p[0] & 0x0f;
	unsigned len7 = p[1] & 0x7f;
	if (p[0] & 0x70)
		return fail(r, 1002, "reserved bits set");
	if (!(p[1] & 0x80))
		return fail(r, 1002, "client frame not masked");
	switch (h->opcode) {
	case WSFRAME_OP_CONT:
		if (!r->msg_opcode)
			return fail(r, 1002, "continuation frame without a message");
		break;
	case WSFRAME_OP_TEXT:
	case WSFRAME_OP_BINARY:
		if (r->msg_opcode)
			return fail(r, 1002, "new message inside a fragmented one");
		break;
	case WSFRAME_OP_CLOSE:
	case WSFRAME_OP_PING:
	case WSFRAME_OP_PONG:
		if (!h->fin)
			return fail(r, 1002, "fragmented control frame");
		if (len7 > 125)
			return fail(r, 1002, "control frame over 125 bytes");
		break;
	default:
		return fail(r, 1002, "unknown opcode");
	}
	h->size = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
	if (n < h->size)
		return 0;
	const unsigned char *q = p + 2;
	if (len7 == 126) {
		h->plen = (uint64_t)q[0] << 8 | q[1];
		q += 2;
	} else if (len7 == 127) {
		h->plen = 0;
		for (int i = 0; i < 8; i++)
			h->plen = h->plen << 8 | q[i];
		if (h->plen >> 63)
			return fail(r, 1002, "frame length has its top bit set");
		q += 8;
	} else {
		h->plen = len7;
	}
	memcpy(h->mask, q, 4);
	if (h->opcode < WSFRAME_OP_CLOSE &&
	    (h->plen > max_message || r->msg_len + h->plen > max_message))
		return fail(r, 1009, "message too big");
	return 1;
}

static bool close_code_valid(int code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

static int emit(wsframe_cb cb, void *ctx, enum wsframe_kind kind, const unsigned char *p,
		size_t len, int code)
{
	struct wsframe_event ev = {.kind = kind, .data = p, .len = len, .code = code};
	return cb(ctx, &ev) ? WSFRAME_STOPPED : WSFRAME_OK;
}

/* True when the frame's payload is part of a text message. */
static bool text_payload(const struct wsframe_reader *r, const struct hdr *h)
{
	return h->opcode == WSFRAME_OP_TEXT ||
	       (h->opcode == WSFRAME_OP_CONT && r->msg_opcode == WSFRAME_OP_TEXT);
}

/*
 * Payload bytes p[0..n) of frame h have arrived, `off` bytes into its
 * payload: they are unmasked in place and, in a text message, checked
 * against the UTF-8 state carried in r->utf8 (across reads and fragments),
 * so invalid text fails at its first impossible byte.
 */
static int payload_arrived(struct wsframe_reader *r, const struct hdr *h, unsigned char *p,
			   size_t off, size_t n)
{
	unsigned char mask[4];
	for (int i = 0; i < 4; i++)
		mask[i] = h->mask[(off + (size_t)i) & 3];
	wsframe_unmask(p, n, mask);
	if (text_payload(r, h)) {
		r->utf8 = (uint8_t)text_utf8_scan(r->utf8, p, n);
		if (r->utf8 == TEXT_UTF8_REJECT)
			return fail(r, 1007, "text message is not UTF-8");
	}
	return WSFRAME_OK;
}

/*
 * One whole frame whose payload (plen bytes) is at p: still masked when
 * `fresh`, else already passed through payload_arrived().
 */
static int frame(struct wsframe_reader *r, const struct hdr *h, unsigned char *p, size_t plen,
		 bool fresh, size_t max_message, wsframe_cb cb, void *ctx)
{
	if (fresh && payload_arrived(r, h, p, 0, plen) < 0)
		return CH_EPROTO;
	switch (h->opcode) {
	case WSFRAME_OP_CLOSE: {
		if (plen == 1)
			return fail(r, 1002, "close frame with a 1-byte payload");
		int code = plen >= 2 ? (p[0] << 8 | p[1]) : 1005;
		if (plen >= 2 && !close_code_valid(code))
			return fail(r, 1002, "invalid close code");
		size_t rlen = plen >= 2 ? plen - 2 : 0;
		if (!text_utf8_valid(p + (plen >= 2 ? 2 : 0), rlen))
			return fail(r, 1007, "close reason is not UTF-8");
		r->closed = true; /* nothing follows a close frame */
		emit(cb, ctx, WSFRAME_CLOSE, p + (plen >= 2 ? 2 : 0), rlen, code);
		return WSFRAME_STOPPED;
	}
	case WSFRAME_OP_PING:
		return emit(cb, ctx, WSFRAME_PING, p, plen, 0);
	case WSFRAME_OP_PONG:
		return emit(cb, ctx, WSFRAME_PONG, p, plen, 0);
	case WSFRAME_OP_TEXT:
	case WSFRAME_OP_BINARY:
		if (h->fin) {
			/* a code point cut by the end of the message */
			if (h->opcode == WSFRAME_OP_TEXT && r->utf8 != TEXT_UTF8_ACCEPT)
				return fail(r, 1007, "text message is not UTF-8");
			return emit(cb, ctx,
				    h->opcode == WSFRAME_OP_TEXT ? WSFRAME_TEXT : WSFRAME_BINARY, p,
				    plen, 0);
		}
		/* the first fragment: assembled like the ones after it */
		r->msg_opcode = (uint8_t)h->opcode;
		/* fall through */
	default: /* WSFRAME_OP_CONT */
		if (append(&r->msg, &r->msg_len, &r->msg_cap, p, plen, max_message) < 0)
			return fail_nomem(r);
		if (!h->fin)
			return WSFRAME_OK;
		bool text = r->msg_opcode == WSFRAME_OP_TEXT;
		if (text && r->utf8 != TEXT_UTF8_ACCEPT)
			return fail(r, 1007, "text message is not UTF-8");
		/* an empty message holds no buffer: its data is "" */
		const unsigned char *data = r->msg ? r->msg : (const unsigned char *)"";
		int rc = emit(cb, ctx, text ? WSFRAME_TEXT : WSFRAME_BINARY, data, r->msg_len, 0);
		msg_free(r);
		return rc;
	}
}

int wsframe_feed(struct wsframe_reader *r, unsigned char *data, size_t len, size_t max_message,
		 wsframe_cb cb, void *ctx)
{
	struct hdr h;
	if (max_message > WSFRAME_MAX_MESSAGE)
		max_message = WSFRAME_MAX_MESSAGE; /* buffer sizes are 32-bit */
	if (r->failed)
		return r->err_code == 1011 ? CH_ENOMEM : CH_EPROTO;
	if (r->closed)
		return WSFRAME_STOPPED;

	/* The frame a previous read left in part: complete it from `data`. */
	while (r->part_len) {
		int st = parse_header(r, r->part, r->part_len, max_message, &h);
		if (st < 0)
			return st;
		size_t want = st ? h.size + (size_t)h.plen : h.size;
		size_t take = want - r->part_len < len ? want - r->part_len : len;
		size_t had = r->part_len;
		if (append(&r->part, &r->part_len, &r->part_cap, data, take, want) < 0)
			return fail_nomem(r);
		data += take;
		len -= take;
		/* with the header whole (st), every byte taken is payload */
		if (st && payload_arrived(r, &h, r->part + had, had - h.size, take) < 0)
			return CH_EPROTO;
		if (r->part_len < want)
			return WSFRAME_OK; /* len is 0: wait for more */
		if (!st)
			continue; /* the header is whole now: parse it again */
		int rc =
		    frame(r, &h, r->part + h.size, (size_t)h.plen, false, max_message, cb, ctx);
		part_free(r);
		if (rc)
			return rc;
	}

	/* Whole frames in place; a cut one at the end goes to part. */
	while (len) {
		int st = parse_header(r, data, len, max_message, &h);
		if (st < 0)
			return st;
		if (!st || h.size + h.plen > len) {
			size_t want = st ? h.size + (size_t)h.plen : 14;
			if (append(&r->part, &r->part_len, &r->part_cap, data, len, want) < 0)
				return fail_nomem(r);
			/* the payload so far is checked now, not when the rest comes */
			if (st && payload_arrived(r, &h, r->part + h.size, 0, len - h.size) < 0)
				return CH_EPROTO;
			return WSFRAME_OK;
		}
		int rc = frame(r, &h, data + h.size, (size_t)h.plen, true, max_message, cb, ctx);
		if (rc)
			return rc;
		data += h.size + h.plen;
		len -= h.size + (size_t)h.plen;
	}
	return WSFRAME_OK;
}

void wsframe_unmask(unsigned char *p, size_t len, const unsigned char mask[4])
{
	unsigned char m8[8];
	for (int i = 0; i < 8; i++)
		m8[i] = mask[i & 3];
	uint64_t m;
	memcpy(&m, m8, 8);
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t v;
		memcpy(&v, p + i, 8);
		v ^= m;
		memcpy(p + i, &v, 8);
	}
	for (; i < len; i++)
		p[i] ^= mask[i & 3];
}

size_t wsframe_header_size(uint64_t len, bool masked)
{
	return 2 + (len > 0xffff ? 8 : len > 125 ? 2 : 0) + (masked ? 4 : 0);
}

size_t wsframe_header_encode(unsigned char *out, unsigned opcode, bool fin, uint64_t len,
			     const unsigned char *mask)
{
	size_t n = 2;
	unsigned char mbit = mask ? 0x80 : 0;
	out[0] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0f));
	if (len < 126) {
		out[1] = (unsigned char)(mbit | len);
	} else if (len <= 0xffff) {
		out[1] = mbit | 126;
		out[2] = (unsigned char)(len >> 8);
		out[3] = (unsigned char)len;
		n = 4;
	} else {
		out[1] = mbit | 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
		n = 10;
	}
	if (mask) {
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}
