/*
 * fuzz_wsframe.c - fuzz target of lib/wsframe/'s client frame reader.
 *
 * Input: byte 0 picks a split point, the rest is what a client sent. The
 * stream is fed four ways, each into a fresh reader with a 4 KiB message
 * limit: whole; in two pieces cut at the split point; byte by byte (when
 * short); and whole with a callback that stops after 1 + byte0 % 4 events.
 * Invariants checked (abort() on violation):
 *   - TEXT and BINARY events are at most the limit; TEXT is valid UTF-8;
 *     PING and PONG are at most 125 bytes;
 *   - CLOSE: code 1005 with no reason, or a valid status code; the reason
 *     is at most 123 bytes of valid UTF-8; nothing is delivered after it
 *     and the feed returns WSFRAME_STOPPED;
 *   - CH_EPROTO comes with err_code 1002, 1007 or 1009 and a reason;
 *     a further feed returns the same and delivers nothing;
 *   - a reader that is not busy holds no buffer;
 *   - fail-fast UTF-8: after a feed that did not fail, the text message
 *     received so far (assembled fragments and the payload of a frame cut
 *     by the read) is the start of valid UTF-8 (lib/text's streaming
 *     check, itself fuzzed against the RFC's grammar in fuzz_text.c):
 *     invalid text fails the feed that brought its first bad byte
 *     (checked after every feed, but only every 61st byte by byte);
 *   - each PING goes to a pong backlog (wsframe_pongs_add): it is refused
 *     exactly when it would make more than WSFRAME_PONGS_MAX pongs or
 *     WSFRAME_PONGS_MAX_BYTES bytes, and then changes nothing; the backlog
 *     parses back to unmasked pong frames with the pings' payloads in
 *     order (checked, then "written", when full and at the end);
 *   - every way of cutting the input gives the same events (kind, length,
 *     code, bytes) and the same end; the stopping callback gets a prefix.
 */
#include "wsframe.h"
#include "fuzz.h"
#include "text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define MAX_MESSAGE 4096
#define MAX_PREFIX  64


/* What one way of feeding saw: a running hash of the events and its value
 * after each of the first MAX_PREFIX events. */
struct run {
	size_t n;
	uint64_t hash;
	uint64_t prefix[MAX_PREFIX];
	size_t stop_at; /* the callback returns 1 once n reaches it (0: never) */
	bool closed;
	int rc;
	int err_code;
	struct wsframe_pongs *pongs; /* the pongs owed for the pings so far */
	uint64_t pong_hash;          /* of the payloads in the backlog, in order */
};

static uint64_t mix(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static bool close_code_ok(int code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

static uint64_t pong_mix(uint64_t h, const unsigned char *p, size_t n)
{
	unsigned char len = (unsigned char)n;
	return mix(mix(h, &len, 1), p, n);
}

/* Parses the backlog back (pong frames whose payloads hash to
 * r->pong_hash), then frees it, as writing it does. */
static void pongs_flush(struct run *r)
{
	const struct wsframe_pongs *q = r->pongs;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t at = 0, n = 0;
	while (q && at < q->len) {
		REQUIRE(q->len - at >= 2 && q->data[at] == (0x80 | WSFRAME_OP_PONG) &&
			q->data[at + 1] <= 125);
		size_t len = q->data[at + 1];
		REQUIRE(q->len - at - 2 >= len);
		h = pong_mix(h, q->data + at + 2, len);
		at += 2 + len;
		n++;
	}
	REQUIRE(h == r->pong_hash);
	REQUIRE(!q || (q->n == n && q->len <= q->cap && q->cap <= WSFRAME_PONGS_MAX_BYTES));
	wsframe_pongs_free(&r->pongs);
	REQUIRE(r->pongs == NULL);
	r->pong_hash = 0xcbf29ce484222325ull;
}

static void pong_add(struct run *r, const struct wsframe_event *ev)
{
	size_t n = r->pongs ? r->pongs->n : 0, bytes = r->pongs ? r->pongs->len : 0;
	int rc = wsframe_pongs_add(&r->pongs, ev->data, ev->len);
	if (n + 1 > WSFRAME_PONGS_MAX || bytes + 2 + ev->len > WSFRAME_PONGS_MAX_BYTES) {
		REQUIRE(rc == CH_EQUEUE);
		REQUIRE(r->pongs && r->pongs->n == n && r->pongs->len == bytes);
		pongs_flush(r);
		REQUIRE(wsframe_pongs_add(&r->pongs, ev->data, ev->len) == 0);
	} else {
		REQUIRE(rc == 0);
	}
	REQUIRE(r->pongs && r->pongs->len >= 2 + ev->len);
	r->pong_hash = pong_mix(r->pong_hash, ev->data, ev->len);
}

static int on_event(void *ctx, const struct wsframe_event *ev)
{
	struct run *r = ctx;
	REQUIRE(!r->closed);
	REQUIRE(ev->len == 0 || ev->data != NULL);
	switch (ev->kind) {
	case WSFRAME_TEXT:
		REQUIRE(text_utf8_valid(ev->data, ev->len));
		/* fall through */
	case WSFRAME_BINARY:
		REQUIRE(ev->len <= MAX_MESSAGE);
		break;
	case WSFRAME_PING:
		REQUIRE(ev->len <= 125);
		pong_add(r, ev);
		break;
	case WSFRAME_PONG:
		REQUIRE(ev->len <= 125);
		break;
	case WSFRAME_CLOSE:
		REQUIRE(ev->code == 1005 ? ev->len == 0 : close_code_ok(ev->code));
		REQUIRE(ev->len <= 123);
		REQUIRE(text_utf8_valid(ev->data, ev->len));
		r->closed = true;
		break;
	default:
		REQUIRE(!"unknown event kind");
	}
	unsigned char head[16];
	uint64_t len = ev->len;
	int code = ev->kind == WSFRAME_CLOSE ? ev->code : 0;
	memcpy(head, &len, 8);
	memcpy(head + 8, &code, 4);
	head[12] = (unsigned char)ev->kind;
	r->hash = mix(mix(r->hash, head, 13), ev->data, ev->len);
	if (r->n < MAX_PREFIX)
		r->prefix[r->n] = r->hash;
	r->n++;
	return r->stop_at && r->n >= r->stop_at;
}

/* The fail-fast invariant: the text message so far starts valid UTF-8. */
static void check_text_so_far(const struct wsframe_reader *rd)
{
	const unsigned char *pay = NULL;
	size_t plen = 0;
	bool text = rd->msg_opcode == WSFRAME_OP_TEXT;
	if (rd->part_len >= 2) {
		unsigned op = rd->part[0] & 0x0f, len7 = rd->part[1] & 0x7f;
		size_t hsize = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
		if (rd->part_len >= hsize &&
		    (op == WSFRAME_OP_TEXT || (op == WSFRAME_OP_CONT && text))) {
			/* the payload of a frame cut by a read is kept unmasked */
			pay = rd->part + hsize;
			plen = rd->part_len - hsize;
			text = true;
		}
	}
	if (text) {
		unsigned st = text_utf8_scan(TEXT_UTF8_ACCEPT, rd->msg, rd->msg_len);
		REQUIRE(text_utf8_scan(st, pay, plen) != TEXT_UTF8_REJECT);
	}
}

/* Checks the reader after a feed that returned rc. */
static void check_state(struct wsframe_reader *rd, struct run *r, int rc, bool text_check)
{
	REQUIRE(rc == WSFRAME_OK || rc == WSFRAME_STOPPED || rc == CH_EPROTO);
	if (r->closed)
		REQUIRE(rc == WSFRAME_STOPPED);
	if (rc == CH_EPROTO) {
		REQUIRE(rd->failed);
		REQUIRE(rd->err_code == 1002 || rd->err_code == 1007 || rd->err_code == 1009);
		REQUIRE(rd->err_reason != NULL && rd->err_reason[0] != '\0');
		unsigned char more[] = {0x81, 0x80, 1, 2, 3, 4};
		size_t n = r->n;
		int code = rd->err_code;
		REQUIRE(wsframe_feed(rd, more, sizeof(more), MAX_MESSAGE, on_event, r) ==
			CH_EPROTO);
		REQUIRE(rd->err_code == code && r->n == n);
		return;
	}
	REQUIRE(!rd->failed);
	REQUIRE(rd->msg_len <= MAX_MESSAGE);
	if (rc == WSFRAME_OK && text_check)
		check_text_so_far(rd);
	if (!wsframe_reader_busy(rd))
		REQUIRE(rd->part == NULL && rd->msg == NULL && rd->msg_len == 0);
}

/* Feeds copies of in[0..len) cut at the ends in cuts[] (ascending, the
 * last one == len); stops at the first nonzero result. */
static void feed(struct run *r, const uint8_t *in, const size_t *cuts, size_t ncut)
{
	struct wsframe_reader rd;
	wsframe_reader_init(&rd);
	size_t at = 0;
	r->rc = WSFRAME_OK;
	r->pongs = NULL;
	r->pong_hash = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < ncut && r->rc == WSFRAME_OK; i++) {
		size_t n = cuts[i] - at;
		unsigned char *buf = malloc(n ? n : 1);
		REQUIRE(buf != NULL);
		if (n)
			memcpy(buf, in + at, n);
		r->rc = wsframe_feed(&rd, buf, n, MAX_MESSAGE, on_event, r);
		free(buf);
		check_state(&rd, r, r->rc, ncut < 64 || i % 61 == 0 || i + 1 == ncut);
		at = cuts[i];
	}
	r->err_code = r->rc == CH_EPROTO ? rd.err_code : 0;
	pongs_flush(r);
	wsframe_reader_clear(&rd);
	REQUIRE(!wsframe_reader_busy(&rd) && rd.part == NULL && rd.msg == NULL);
}

static void same(const struct run *a, const struct run *b)
{
	REQUIRE(a->n == b->n);
	REQUIRE(a->hash == b->hash);
	REQUIRE(a->rc == b->rc);
	REQUIRE(a->err_code == b->err_code);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	size_t split = len * data[0] / 255;

	struct run whole = {.hash = 0xcbf29ce484222325ull};
	feed(&whole, in, &len, 1);

	struct run two = {.hash = 0xcbf29ce484222325ull};
	size_t cuts2[2] = {split, len};
	feed(&two, in, cuts2, 2);
	same(&whole, &two);

	if (len <= 2048) {
		size_t *cuts = malloc((len ? len : 1) * sizeof(*cuts));
		REQUIRE(cuts != NULL);
		for (size_t i = 0; i < len; i++)
			cuts[i] = i + 1;
		struct run bytewise = {.hash = 0xcbf29ce484222325ull};
		feed(&bytewise, in, cuts, len);
		same(&whole, &bytewise);
		free(cuts);
	}

	struct run stopped = {.hash = 0xcbf29ce484222325ull, .stop_at = 1 + data[0] % 4u};
	feed(&stopped, in, &len, 1);
	if (whole.n >= stopped.stop_at) {
		REQUIRE(stopped.rc == WSFRAME_STOPPED);
		REQUIRE(stopped.n == stopped.stop_at);
		REQUIRE(stopped.hash == whole.prefix[stopped.n - 1]);
	} else {
		same(&whole, &stopped);
	}
	return 0;
}
