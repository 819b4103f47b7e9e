/*
 * test_wsframe_errors.c - unit tests of lib/wsframe/'s reader, its
 * errors: every protocol error closes 1002, invalid UTF-8 1007 (as soon as
 * the bytes cannot be valid, however they are cut), a message over the
 * limit 1009; each with its reason, and a failed reader stays failed. Part
 * of the test_wsframe executable (main() in test_wsframe.c).
 */
#include "reader_tests.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ---- */

static void b_text(struct bytes *b, const char *s)
{
	frame_s(b, true, WSFRAME_OP_TEXT, s);
}

/*
 * `in` must fail with `code` and a reason containing `why` after `nev`
 * events, however it is cut; later feeds fail the same, delivering nothing.
 */
static void expect_error(const char *what, const struct bytes *in, size_t max, int code,
			 const char *why, size_t nev)
{
	int before = check_failed;
	struct wsframe_reader r;
	struct rec got = {0};

	wsframe_reader_init(&r);
	CHECK_INT(feed_copy(&r, in->p, in->len, max, &got), CH_EPROTO);
	CHECK_INT(r.err_code, code);
	CHECK_CONTAINS(r.err_reason, why);
	CHECK_INT(got.n, nev);
	CHECK(r.failed);
	const char *reason = r.err_reason;

	struct bytes more = {0};
	b_text(&more, "valid");
	CHECK_INT(feed_copy(&r, more.p, more.len, max, &got), CH_EPROTO);
	CHECK_INT(r.err_code, code);
	CHECK(r.err_reason == reason);
	CHECK_INT(feed_copy(&r, more.p, 0, max, &got), CH_EPROTO);
	CHECK_INT(got.n, nev);
	b_free(&more);
	wsframe_reader_clear(&r);
	rec_reset(&got);

	int bad = 0;
	for (size_t cut = 0; cut <= in->len + 1; cut++) {
		wsframe_reader_init(&r);
		int rc = cut <= in->len ? feed_cuts(&r, in, &cut, 1, max, &got)
					: feed_bytewise(&r, in, max, &got);
		if ((rc != CH_EPROTO || r.err_code != code || got.n != nev) && bad++ < 3)
			fprintf(stderr, "  cut %zu: rc %d code %d events %zu\n", cut, rc,
				r.err_code, got.n);
		wsframe_reader_clear(&r);
		rec_reset(&got);
	}
	CHECK_INT(bad, 0);
	rec_free(&got);
	if (check_failed != before)
		fprintf(stderr, "  ^ in error case: %s\n", what);
}

/* 1002 for the header's bits: no mask, RSV bits, unknown opcodes. */
static void errors_header_bits(void)
{
	struct bytes in = {0};
	char what[64];

	frame_raw(&in, 0x81, false, "hi", 2);
	expect_error("unmasked", &in, BIG, 1002, "mask", 0);
	b_free(&in);
	b_text(&in, "ok");
	frame_raw(&in, 0x82, false, NULL, 0);
	expect_error("unmasked after a frame", &in, BIG, 1002, "mask", 1);
	b_free(&in);

	static const unsigned rsv[] = {0x40, 0x20, 0x10, 0x70};
	for (size_t i = 0; i < 4; i++) {
		b_text(&in, "ok");
		frame_raw(&in, 0x80 | rsv[i] | WSFRAME_OP_TEXT, true, "x", 1);
		snprintf(what, sizeof(what), "rsv %#x", rsv[i]);
		expect_error(what, &in, BIG, 1002, "reserved", 1);
		b_free(&in);
		frame_raw(&in, 0x80 | rsv[i] | WSFRAME_OP_PING, true, "x", 1);
		expect_error(what, &in, BIG, 1002, "reserved", 0);
		b_free(&in);
	}

	for (unsigned op = 3; op <= 15; op++) {
		if (op >= 8 && op <= 10)
			continue;
		frame_raw(&in, 0x80 | op, true, "x", 1);
		snprintf(what, sizeof(what), "opcode %u", op);
		expect_error(what, &in, BIG, 1002, "opcode", 0);
		b_free(&in);
		frame_raw(&in, op, true, NULL, 0); /* without FIN too */
		expect_error(what, &in, BIG, 1002, "opcode", 0);
		b_free(&in);
	}
}

/* 1002 for control frames: fragmented, or over 125 bytes. */
static void errors_control(void)
{
	struct bytes in = {0};
	char what[64];

	static const unsigned ctl[] = {WSFRAME_OP_CLOSE, WSFRAME_OP_PING, WSFRAME_OP_PONG};
	for (size_t i = 0; i < 3; i++) {
		frame_raw(&in, ctl[i], true, "\x03\xe8", 2); /* FIN clear */
		snprintf(what, sizeof(what), "fragmented control %u", ctl[i]);
		expect_error(what, &in, BIG, 1002, "fragmented control", 0);
		b_free(&in);
		frame_s(&in, false, WSFRAME_OP_TEXT, "open");
		frame_raw(&in, ctl[i], true, NULL, 0);
		expect_error(what, &in, BIG, 1002, "fragmented control", 0);
		b_free(&in);

		unsigned char p[200];
		memset(p, 'a', sizeof(p));
		p[0] = 0x03;
		p[1] = 0xe8;
		frame(&in, true, ctl[i], p, 126);
		snprintf(what, sizeof(what), "control %u of 126 bytes", ctl[i]);
		expect_error(what, &in, BIG, 1002, "125", 0);
		b_free(&in);
		frame(&in, true, ctl[i], p, 200);
		expect_error(what, &in, BIG, 1002, "125", 0);
		b_free(&in);
		header64(&in, 0x80 | ctl[i], 5);
		b_put(&in, "abcde", 5);
		expect_error(what, &in, BIG, 1002, "125", 0);
		b_free(&in);
	}
}

/* 1002 for the order of fragments: a continuation with no message, a new
 * message inside one. */
static void errors_fragments(void)
{
	struct bytes in = {0};

	frame_s(&in, true, WSFRAME_OP_CONT, "x");
	expect_error("continuation alone", &in, BIG, 1002, "continuation", 0);
	b_free(&in);
	frame_s(&in, false, WSFRAME_OP_CONT, "x");
	expect_error("continuation alone, no FIN", &in, BIG, 1002, "continuation", 0);
	b_free(&in);
	frame_s(&in, false, WSFRAME_OP_TEXT, "a");
	frame_s(&in, true, WSFRAME_OP_CONT, "b");
	frame_s(&in, true, WSFRAME_OP_CONT, "c");
	expect_error("continuation after the message ended", &in, BIG, 1002, "continuation", 1);
	b_free(&in);

	frame_s(&in, false, WSFRAME_OP_TEXT, "a");
	frame_s(&in, true, WSFRAME_OP_PING, "p");
	frame_s(&in, true, WSFRAME_OP_TEXT, "b");
	expect_error("text inside a fragmented message", &in, BIG, 1002, "new message", 1);
	b_free(&in);
	frame_s(&in, false, WSFRAME_OP_BINARY, "a");
	frame_s(&in, false, WSFRAME_OP_TEXT, "b");
	expect_error("text inside a fragmented binary", &in, BIG, 1002, "new message", 0);
	b_free(&in);
	frame_s(&in, false, WSFRAME_OP_TEXT, "a");
	frame_s(&in, false, WSFRAME_OP_CONT, "a");
	frame_s(&in, true, WSFRAME_OP_BINARY, "b");
	expect_error("binary inside a fragmented text", &in, BIG, 1002, "new message", 0);
	b_free(&in);
}

/* 1002 for close frames: a 1-byte payload, a code no endpoint may send. */
static void errors_close(void)
{
	struct bytes in = {0};
	char what[64];

	frame(&in, true, WSFRAME_OP_CLOSE, "\x03", 1);
	expect_error("close of 1 byte", &in, BIG, 1002, "1-byte", 0);
	b_free(&in);

	static const int invalid[] = {0,    1,	  999,	1004, 1005, 1006, 1015,
				      1016, 1100, 2000, 2999, 5000, 65535};
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		b_text(&in, "before");
		frame_close(&in, invalid[i], "");
		snprintf(what, sizeof(what), "close code %d", invalid[i]);
		expect_error(what, &in, BIG, 1002, "close code", 1);
		b_free(&in);
		frame_close(&in, invalid[i], "with reason");
		expect_error(what, &in, BIG, 1002, "close code", 0);
		b_free(&in);
	}
}

/* 1002 for a 64-bit length with its top bit set. */
static void errors_length(void)
{
	struct bytes in = {0};

	header64(&in, 0x82, (uint64_t)1 << 63 | 5);
	b_put(&in, "abcde", 5);
	expect_error("64-bit length with the top bit", &in, BIG, 1002, "top bit", 0);
	b_free(&in);
	header64(&in, 0x81, UINT64_MAX);
	expect_error("64-bit length all ones", &in, SIZE_MAX, 1002, "top bit", 0);
	b_free(&in);
}

/* Every protocol error closes 1002, in this order (the frames' random
 * masks come in the same sequence). */
void test_errors_1002(void)
{
	errors_header_bits();
	errors_control();
	errors_fragments();
	errors_close();
	errors_length();
}

void test_errors_1007(void)
{
	struct bytes in = {0};
	struct rec want = {0};

	frame(&in, true, WSFRAME_OP_TEXT, "\xc0\x80", 2);
	expect_error("overlong NUL", &in, BIG, 1007, "UTF-8", 0);
	b_free(&in);
	b_text(&in, "fine");
	frame(&in, true, WSFRAME_OP_TEXT, "abc\xff", 4);
	expect_error("0xff", &in, BIG, 1007, "UTF-8", 1);
	b_free(&in);
	frame(&in, true, WSFRAME_OP_TEXT, "\xed\xa0\x80", 3);
	expect_error("surrogate", &in, BIG, 1007, "UTF-8", 0);
	b_free(&in);

	/* fragmented: bad byte in a middle fragment (refused there: the ping
	 * after it is never delivered); truncated at the end */
	frame_s(&in, false, WSFRAME_OP_TEXT, "ab");
	frame_s(&in, false, WSFRAME_OP_CONT, "\xff");
	frame_s(&in, true, WSFRAME_OP_PING, "p");
	frame_s(&in, true, WSFRAME_OP_CONT, "cd");
	expect_error("fragmented, 0xff", &in, BIG, 1007, "UTF-8", 0);
	b_free(&in);
	frame_s(&in, false, WSFRAME_OP_TEXT, "a");
	frame_s(&in, true, WSFRAME_OP_CONT, "\xe2\x82");
	expect_error("fragmented, truncated", &in, BIG, 1007, "UTF-8", 0);
	b_free(&in);
	frame_s(&in, false, WSFRAME_OP_TEXT, "\xf0\x9f");
	frame_s(&in, true, WSFRAME_OP_CONT, "\x28\x80");
	expect_error("fragmented, bad continuation", &in, BIG, 1007, "UTF-8", 0);
	b_free(&in);

	/* characters split across fragments are fine once joined */
	frame_s(&in, false, WSFRAME_OP_TEXT, "x\xf0");
	frame_s(&in, false, WSFRAME_OP_CONT, "\x9f");
	frame_s(&in, true, WSFRAME_OP_PONG, "");
	rec_add(&want, WSFRAME_PONG, NULL, 0, 0);
	frame_s(&in, false, WSFRAME_OP_CONT, "\x98");
	frame_s(&in, true, WSFRAME_OP_CONT, "\x80y");
	rec_add(&want, WSFRAME_TEXT, "x\xf0\x9f\x98\x80y", 6, 0);
	frame_s(&in, false, WSFRAME_OP_TEXT, "\xc3");
	frame_s(&in, true, WSFRAME_OP_CONT, "\xa9");
	rec_add(&want, WSFRAME_TEXT, "\xc3\xa9", 2, 0);
	check_all_splits("characters split across fragments", &in, BIG, &want, WSFRAME_OK);
	b_free(&in);
	rec_free(&want);

	/* binary messages are not checked */
	frame(&in, true, WSFRAME_OP_BINARY, "\xff\xc0\x80", 3);
	rec_add(&want, WSFRAME_BINARY, "\xff\xc0\x80", 3, 0);
	check_all_splits("binary, not UTF-8", &in, BIG, &want, WSFRAME_OK);
	b_free(&in);
	rec_free(&want);

	frame_close(&in, 1000, "bad \xc3\x28");
	expect_error("close reason", &in, BIG, 1007, "UTF-8", 0);
	b_free(&in);
	frame_close(&in, 1001, "\xe2\x82");
	expect_error("close reason truncated", &in, BIG, 1007, "UTF-8", 0);
	b_free(&in);
}

/*
 * Fail-fast: `in` must fail with 1007 once its first `at` bytes have
 * arrived and not before, however those bytes are cut: every prefix
 * shorter than `at` is accepted (fed whole, in two pieces at every split,
 * byte by byte), every prefix of `at` bytes or more is refused; fed byte
 * by byte, the feed of byte `at` is the one that fails. `nev` events come
 * first.
 */
static void expect_utf8_fail_at(const char *what, const struct bytes *in, size_t at, size_t nev)
{
	int before = check_failed;
	struct wsframe_reader r;
	struct rec got = {0};
	CHECK(at >= 1 && at <= in->len);

	/* each prefix, whole (past the bad byte, the next 64 and the whole) */
	int bad = 0;
	for (size_t k = 0; k <= in->len; k = k < at + 64 || k == in->len ? k + 1 : in->len) {
		wsframe_reader_init(&r);
		int rc = feed_copy(&r, in->p, k, BIG, &got);
		int want = k < at ? WSFRAME_OK : CH_EPROTO;
		if ((rc != want || (rc < 0 && (r.err_code != 1007 || got.n != nev))) && bad++ < 3)
			fprintf(stderr, "  prefix of %zu (fails at %zu): rc %d code %d events %zu\n",
				k, at, rc, r.err_code, got.n);
		wsframe_reader_clear(&r);
		rec_reset(&got);
	}
	CHECK_INT(bad, 0);

	/* the prefixes of at - 1 and at bytes, in two pieces at every split */
	for (size_t k = at - 1; k <= at; k++) {
		struct bytes pre = {0};
		b_put(&pre, in->p, k);
		for (size_t cut = 0; cut <= k; cut++) {
			wsframe_reader_init(&r);
			int rc = feed_cuts(&r, &pre, &cut, 1, BIG, &got);
			int want = k < at ? WSFRAME_OK : CH_EPROTO;
			if ((rc != want || (rc < 0 && r.err_code != 1007)) && bad++ < 3)
				fprintf(stderr, "  prefix of %zu cut at %zu: rc %d code %d\n", k, cut,
					rc, r.err_code);
			wsframe_reader_clear(&r);
			rec_reset(&got);
		}
		b_free(&pre);
	}
	CHECK_INT(bad, 0);

	/* byte by byte: the byte at index at - 1 fails */
	wsframe_reader_init(&r);
	size_t failed_at = 0;
	for (size_t i = 0; i < in->len && !failed_at; i++)
		if (feed_copy(&r, in->p + i, 1, BIG, &got) != WSFRAME_OK)
			failed_at = i + 1;
	CHECK_INT(failed_at, at);
	CHECK_INT(r.err_code, 1007);
	CHECK_CONTAINS(r.err_reason, "UTF-8");
	CHECK_INT(got.n, nev);
	wsframe_reader_clear(&r);
	rec_free(&got);
	if (check_failed != before)
		fprintf(stderr, "  ^ in fail-fast case: %s\n", what);
}

void test_utf8_fail_fast(void)
{
	struct bytes in = {0};
	unsigned char big[70000];
	memset(big, 'a', sizeof(big));

	/* one frame: the 0xff is payload byte 3 (header 6 bytes) */
	frame_s(&in, true, WSFRAME_OP_TEXT, "abc\xff and more after it");
	expect_utf8_fail_at("0xff in a frame", &in, 6 + 4, 0);
	b_free(&in);
	/* the first byte that cannot continue: E0 80, ED A0, F4 90, F0 8F, C3 28 */
	static const struct {
		const char *s;
		size_t bad; /* index of the refused byte */
	} v[] = {
	    {"x\xe0\x80\x80yz", 2}, {"\xed\xa0\x80yz", 1},   {"\xf4\x90\x80\x80", 1},
	    {"\xf0\x8f\xbf\xbf", 1},  {"ok\xc3\x28zz", 3},     {"\xc0\x80", 0},
	    {"\xf5zzz", 0},          {"\xe2\x82\x28zz", 2},   {"\xf0\x9f\x98\x28", 3},
	    {"\x80" "abc", 0},          {"\xe2\x82\xac\xac", 3},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char what[64];
		snprintf(what, sizeof(what), "vector %zu", i);
		frame_s(&in, true, WSFRAME_OP_TEXT, "fine");
		frame_s(&in, true, WSFRAME_OP_TEXT, v[i].s);
		expect_utf8_fail_at(what, &in, 10 + 6 + v[i].bad + 1, 1);
		b_free(&in);
	}

	/* a 1000-byte frame (16-bit length) bad at payload byte 500: refused
	 * with 500 bytes still to come */
	big[500] = 0xff;
	frame(&in, true, WSFRAME_OP_TEXT, big, 1000);
	expect_utf8_fail_at("0xff in the middle of a 1000-byte frame", &in, 8 + 501, 0);
	b_free(&in);
	/* a 70000-byte frame (64-bit length) bad at byte 3 */
	big[500] = 'a';
	big[3] = 0xc0;
	frame(&in, true, WSFRAME_OP_TEXT, big, sizeof(big));
	expect_utf8_fail_at("C0 early in a 70000-byte frame", &in, 14 + 4, 0);
	big[3] = 'a';
	b_free(&in);

	/* across fragments: a character cut between two fragments, then a bad
	 * byte in the third, which is not final; control frames in between */
	frame_s(&in, false, WSFRAME_OP_TEXT, "ab\xe2\x82");
	frame_s(&in, false, WSFRAME_OP_CONT, "\xac ok");
	frame_s(&in, true, WSFRAME_OP_PING, "p");
	size_t third = in.len;
	frame_s(&in, false, WSFRAME_OP_CONT, "x\xf0\x9f\x28 and the rest");
	frame_s(&in, true, WSFRAME_OP_CONT, "end");
	expect_utf8_fail_at("bad byte in a middle fragment", &in, third + 6 + 4, 1);
	b_free(&in);
	/* the bad byte is the first of a continuation frame, after a lead byte */
	frame_s(&in, false, WSFRAME_OP_TEXT, "x\xf0");
	third = in.len;
	frame_s(&in, true, WSFRAME_OP_CONT, "\x9f\x28\x80");
	expect_utf8_fail_at("F0 9F | 28", &in, third + 6 + 2, 0);
	b_free(&in);
	/* a binary message is not checked, and does not disturb the text
	 * message after it */
	frame(&in, true, WSFRAME_OP_BINARY, "\xf0", 1);
	frame_s(&in, false, WSFRAME_OP_TEXT, "\xc3");
	third = in.len;
	frame_s(&in, true, WSFRAME_OP_CONT, "\xa9\xa9");
	expect_utf8_fail_at("after a binary F0", &in, third + 6 + 2, 1);
	b_free(&in);
}

void test_errors_1009(void)
{
	const size_t max = 1000;
	unsigned char p[1100];
	memset(p, 'm', sizeof(p));
	struct bytes in = {0};
	struct rec want = {0};
	struct rec got = {0};
	struct wsframe_reader r;

	/* exactly the limit: fine, alone and in fragments */
	frame(&in, true, WSFRAME_OP_TEXT, p, 1000);
	rec_add(&want, WSFRAME_TEXT, p, 1000, 0);
	frame(&in, false, WSFRAME_OP_BINARY, p, 400);
	frame_s(&in, true, WSFRAME_OP_PING, "p");
	rec_add(&want, WSFRAME_PING, "p", 1, 0);
	frame(&in, false, WSFRAME_OP_CONT, p, 400);
	frame(&in, true, WSFRAME_OP_CONT, p, 200);
	rec_add(&want, WSFRAME_BINARY, p, 1000, 0);
	check_all_splits("at the limit", &in, max, &want, WSFRAME_OK);
	b_free(&in);
	rec_free(&want);

	/* one byte over: refused on the header alone */
	frame(&in, true, WSFRAME_OP_TEXT, p, 1001);
	CHECK_INT(in.len, 8 + 1001);
	expect_error("1001 bytes", &in, max, 1009, "too big", 0);
	wsframe_reader_init(&r);
	CHECK_INT(feed_copy(&r, in.p, 8, max, &got), CH_EPROTO);
	CHECK_INT(r.err_code, 1009);
	CHECK_CONTAINS(r.err_reason, "too big");
	CHECK_INT(got.n, 0);
	wsframe_reader_clear(&r);
	/* ... also when the header comes byte by byte */
	wsframe_reader_init(&r);
	int rc = WSFRAME_OK;
	for (size_t i = 0; i < 8 && rc == WSFRAME_OK; i++)
		rc = feed_copy(&r, in.p + i, 1, max, &got);
	CHECK_INT(rc, CH_EPROTO);
	CHECK_INT(r.err_code, 1009);
	wsframe_reader_clear(&r);
	b_free(&in);

	/* a 64-bit length of 1 TiB: refused at once, nothing allocated for it */
	header64(&in, 0x82, (uint64_t)1 << 40);
	wsframe_reader_init(&r);
	CHECK_INT(feed_copy(&r, in.p, in.len, max, &got), CH_EPROTO);
	CHECK_INT(r.err_code, 1009);
	CHECK_INT(got.n, 0);
	wsframe_reader_clear(&r);
	expect_error("1 TiB frame", &in, max, 1009, "too big", 0);
	b_free(&in);

	/* fragments that together exceed the limit: refused on the last header */
	frame(&in, false, WSFRAME_OP_TEXT, p, 400);
	frame_s(&in, true, WSFRAME_OP_PING, "p");
	frame(&in, false, WSFRAME_OP_CONT, p, 400);
	size_t before_last = in.len;
	frame(&in, true, WSFRAME_OP_CONT, p, 201);
	expect_error("fragments over the limit", &in, max, 1009, "too big", 1);
	wsframe_reader_init(&r);
	CHECK_INT(feed_copy(&r, in.p, before_last + 8, max, &got), CH_EPROTO);
	CHECK_INT(r.err_code, 1009);
	CHECK_INT(got.n, 1);
	wsframe_reader_clear(&r);
	b_free(&in);

	/* many small fragments */
	for (int i = 0; i < 11; i++)
		frame(&in, i == 10, i ? WSFRAME_OP_CONT : WSFRAME_OP_BINARY, p, 100);
	expect_error("eleven fragments of 100", &in, max, 1009, "too big", 0);
	b_free(&in);
	rec_free(&got);
}

