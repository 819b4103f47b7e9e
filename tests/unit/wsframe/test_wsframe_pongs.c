/*
 * test_wsframe_pongs.c - unit tests of lib/wsframe/'s pong backlog
 * (wsframe_pongs_add): one pong per ping, with its payload, in order, as
 * server frames; the limits WSFRAME_PONGS_MAX (count) and
 * WSFRAME_PONGS_MAX_BYTES (bytes), inclusive; nothing appended past them.
 */
#include "check.h"
#include "frames.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses q's frames back: each a pong (0x8a), unmasked; their payloads
 * must be want[0..n) in order. */
static void check_frames(const struct wsframe_pongs *q, unsigned char (*want)[126],
			 const size_t *want_len, size_t n)
{
	CHECK(q != NULL);
	if (!q)
		return;
	CHECK_INT(q->n, n);
	size_t at = 0, i = 0;
	while (at < q->len && i < n) {
		CHECK_INT(q->data[at], 0x8a);
		size_t len = q->data[at + 1];
		CHECK(len <= 125); /* no mask bit, 7-bit length */
		CHECK_INT(len, want_len[i]);
		if (len == want_len[i] && memcmp(q->data + at + 2, want[i], len) != 0) {
			fprintf(stderr, "  pong %zu: payload differs\n", i);
			CHECK(!"same payload");
		}
		at += 2 + len;
		i++;
	}
	CHECK_INT(i, n);
	CHECK_INT(at, q->len);
}

static void test_in_order(void)
{
	static unsigned char want[10][126];
	size_t want_len[10];
	struct wsframe_pongs *q = NULL;
	/* ten pings back to back: ten pongs, each with its payload */
	for (size_t i = 0; i < 10; i++) {
		if (i == 0) {
			want_len[i] = 0; /* empty */
		} else if (i == 9) {
			want_len[i] = 125; /* the largest */
			for (size_t k = 0; k < 125; k++)
				want[i][k] = (unsigned char)rnd();
		} else {
			want_len[i] = (size_t)snprintf((char *)want[i], 126, "ping %zu", i);
		}
		CHECK_INT(wsframe_pongs_add(&q, want[i], want_len[i]), 0);
	}
	check_frames(q, want, want_len, 10);
	CHECK(q && q->len <= q->cap);
	wsframe_pongs_free(&q);
	CHECK(q == NULL);
	wsframe_pongs_free(&q); /* NULL: nothing to do */

	/* a NULL payload of 0 bytes */
	CHECK_INT(wsframe_pongs_add(&q, NULL, 0), 0);
	CHECK(q && q->n == 1 && q->len == 2 && q->data[0] == 0x8a && q->data[1] == 0);
	/* not a ping's payload */
	unsigned char big[126] = {0};
	CHECK_INT(wsframe_pongs_add(&q, big, 126), CH_EPROTO);
	CHECK(q && q->n == 1 && q->len == 2);
	wsframe_pongs_free(&q);
}

static void test_count_limit(void)
{
	struct wsframe_pongs *q = NULL;
	/* exactly WSFRAME_PONGS_MAX empty pongs fit (2 bytes each) */
	for (int i = 0; i < WSFRAME_PONGS_MAX; i++)
		if (wsframe_pongs_add(&q, NULL, 0) != 0) {
			fprintf(stderr, "  empty pong %d refused\n", i);
			CHECK(!"pong within the count limit");
			break;
		}
	CHECK(q && q->n == WSFRAME_PONGS_MAX && q->len == 2 * WSFRAME_PONGS_MAX);
	/* one more: refused, nothing appended, and again */
	CHECK_INT(wsframe_pongs_add(&q, NULL, 0), CH_EQUEUE);
	CHECK_INT(wsframe_pongs_add(&q, (const unsigned char *)"x", 1), CH_EQUEUE);
	CHECK(q && q->n == WSFRAME_PONGS_MAX && q->len == 2 * WSFRAME_PONGS_MAX);
	/* once written (freed), pongs are owed anew */
	wsframe_pongs_free(&q);
	CHECK_INT(wsframe_pongs_add(&q, NULL, 0), 0);
	wsframe_pongs_free(&q);
}

static void test_byte_limit(void)
{
	struct wsframe_pongs *q = NULL;
	unsigned char p[125];
	memset(p, 'p', sizeof(p));
	/* 64 pongs of 125 bytes: 64 x 127 = 8128 bytes; then one of 62: 8192 */
	for (int i = 0; i < 64; i++)
		CHECK_INT(wsframe_pongs_add(&q, p, 125), 0);
	CHECK(q && q->len == 64 * 127);
	CHECK_INT(wsframe_pongs_add(&q, p, 63), CH_EQUEUE); /* 8193 */
	CHECK(q && q->len == 64 * 127 && q->n == 64);
	CHECK_INT(wsframe_pongs_add(&q, p, 62), 0); /* exactly the limit */
	CHECK(q && q->len == WSFRAME_PONGS_MAX_BYTES && q->n == 65);
	CHECK(q && q->cap == WSFRAME_PONGS_MAX_BYTES); /* never more than the limit */
	CHECK_INT(wsframe_pongs_add(&q, NULL, 0), CH_EQUEUE);
	CHECK(q && q->len == WSFRAME_PONGS_MAX_BYTES && q->n == 65);
	/* the frames are intact: 64 of 125 'p', one of 62 */
	size_t at = 0;
	for (int i = 0; q && i < 65; i++) {
		size_t len = i < 64 ? 125 : 62;
		CHECK(q->data[at] == 0x8a && q->data[at + 1] == len);
		CHECK(memcmp(q->data + at + 2, p, len) == 0);
		at += 2 + len;
	}
	wsframe_pongs_free(&q);
}

int main(void)
{
	test_in_order();
	test_count_limit();
	test_byte_limit();
	return check_finish();
}
