/*
 * test_wsframe.c - unit tests of lib/wsframe/'s reader: client frames
 * built with random masks (frames.h) are fed whole, at every split point,
 * at random cuts and byte by byte; every run must give the same events
 * (kind, bytes, close code) and the same error (err_code and the class of
 * err_reason). UTF-8, unmasking and headers: test_wsframe_codec.c.
 */
#include "check.h"
#include "frames.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Checks got == want, printing both and `what` when they differ. */
#define CHECK_REC(got, want, what)                                                                 \
	do {                                                                                       \
		bool eq_ = rec_equal((got), (want));                                               \
		CHECK(eq_);                                                                        \
		if (!eq_) {                                                                        \
			fprintf(stderr, "  events differ: %s\n", (what));                          \
			rec_print("got", (got));                                                   \
			rec_print("want", (want));                                                 \
		}                                                                                  \
	} while (0)

/*
 * Feeds `in` whole, at every split point (two pieces), byte by byte and at
 * random 3..6-piece cuts; each run must end with `want_rc` and give `want`.
 */
static void check_all_splits(const char *what, const struct bytes *in, size_t max,
			     const struct rec *want, int want_rc)
{
	struct wsframe_reader r;
	struct rec got = {0};
	char label[160];

	wsframe_reader_init(&r);
	CHECK_INT(feed_copy(&r, in->p, in->len, max, &got), want_rc);
	snprintf(label, sizeof(label), "%s, one feed", what);
	CHECK_REC(&got, want, label);
	if (want_rc == WSFRAME_OK)
		CHECK(idle_and_empty(&r));
	wsframe_reader_clear(&r);
	rec_reset(&got);

	int bad = 0;
	for (size_t cut = 0; cut <= in->len; cut++) {
		wsframe_reader_init(&r);
		int rc = feed_cuts(&r, in, &cut, 1, max, &got);
		bool ok = rc == want_rc && rec_equal(&got, want) &&
			  (want_rc != WSFRAME_OK || idle_and_empty(&r));
		if (!ok && bad++ < 3) {
			fprintf(stderr, "  %s: split at %zu of %zu: rc %d (want %d)\n", what, cut,
				in->len, rc, want_rc);
			rec_print("got", &got);
			rec_print("want", want);
		}
		wsframe_reader_clear(&r);
		rec_reset(&got);
	}
	CHECK_INT(bad, 0);

	wsframe_reader_init(&r);
	CHECK_INT(feed_bytewise(&r, in, max, &got), want_rc);
	snprintf(label, sizeof(label), "%s, byte by byte", what);
	CHECK_REC(&got, want, label);
	if (want_rc == WSFRAME_OK)
		CHECK(idle_and_empty(&r));
	wsframe_reader_clear(&r);
	rec_reset(&got);

	bad = 0;
	for (int t = 0; t < 50 && in->len > 8; t++) {
		size_t cuts[5];
		size_t n = 2 + rnd() % 4;
		for (size_t i = 0; i < n; i++)
			cuts[i] = rnd() % (in->len + 1);
		for (size_t i = 1; i < n; i++) /* insertion sort */
			for (size_t k = i; k > 0 && cuts[k - 1] > cuts[k]; k--) {
				size_t x = cuts[k];
				cuts[k] = cuts[k - 1];
				cuts[k - 1] = x;
			}
		wsframe_reader_init(&r);
		int rc = feed_cuts(&r, in, cuts, n, max, &got);
		if ((rc != want_rc || !rec_equal(&got, want)) && bad++ < 3)
			fprintf(stderr, "  %s: random cuts: rc %d (want %d)\n", what, rc, want_rc);
		wsframe_reader_clear(&r);
		rec_reset(&got);
	}
	CHECK_INT(bad, 0);
	rec_free(&got);
}

/* ---- single frames ---- */

static void test_single_lengths(void)
{
	static const size_t lens[] = {0, 1, 125, 126, 65535, 65536, 200000};
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		for (int text = 0; text < 2; text++) {
			size_t n = lens[li];
			unsigned char *pl = malloc(n ? n : 1);
			for (size_t i = 0; i < n; i++)
				pl[i] = text ? (unsigned char)('a' + i % 26) : (unsigned char)rnd();
			struct bytes in = {0};
			frame(&in, true, text ? OP_TEXT : OP_BIN, pl, n);
			size_t hl = n < 126 ? 6 : n <= 0xffff ? 8 : 14;
			CHECK_INT(in.len, hl + n);
			CHECK_INT(in.p[1] & 0x7f, n < 126 ? n : n <= 0xffff ? 126 : 127);

			struct wsframe_reader r;
			struct rec got = {0};
			wsframe_reader_init(&r);
			unsigned char *buf = malloc(in.len);
			memcpy(buf, in.p, in.len);
			CHECK_INT(wsframe_feed(&r, buf, in.len, BIG, on_event, &got), WSFRAME_OK);
			CHECK_INT(got.n, 1);
			if (got.n == 1) {
				CHECK_INT(got.ev[0].kind, text ? WSFRAME_TEXT : WSFRAME_BINARY);
				CHECK_INT(got.ev[0].len, n);
				CHECK(memcmp(got.ev[0].data, pl, n) == 0);
				/* a whole frame is delivered in place, not copied */
				if (n)
					CHECK(got.ev[0].raw == buf + hl);
			}
			CHECK(idle_and_empty(&r));
			free(buf);
			rec_reset(&got);

			/* header and half the payload, then the rest */
			size_t cut = n ? hl + n / 2 : hl - 1;
			CHECK_INT(feed_copy(&r, in.p, cut, BIG, &got), WSFRAME_OK);
			CHECK_INT(got.n, 0);
			CHECK(wsframe_reader_busy(&r));
			CHECK(r.part != NULL);
			CHECK_INT(feed_copy(&r, in.p + cut, in.len - cut, BIG, &got), WSFRAME_OK);
			CHECK_INT(got.n, 1);
			if (got.n == 1) {
				CHECK_INT(got.ev[0].len, n);
				CHECK(memcmp(got.ev[0].data, pl, n) == 0);
			}
			CHECK(idle_and_empty(&r));
			wsframe_reader_clear(&r);
			rec_free(&got);
			b_free(&in);
			free(pl);
		}
	}
}

static void test_ping_pong(void)
{
	unsigned char p[125];
	for (size_t i = 0; i < sizeof(p); i++)
		p[i] = (unsigned char)rnd();
	struct bytes in = {0};
	struct rec want = {0};
	frame(&in, true, OP_PING, p, 125);
	rec_add(&want, WSFRAME_PING, p, 125, 0);
	frame(&in, true, OP_PING, NULL, 0);
	rec_add(&want, WSFRAME_PING, NULL, 0, 0);
	frame(&in, true, OP_PING, "\xff\x00", 2); /* not UTF-8: fine for a ping */
	rec_add(&want, WSFRAME_PING, "\xff\x00", 2, 0);
	frame_s(&in, true, OP_PONG, "abc");
	rec_add(&want, WSFRAME_PONG, "abc", 3, 0);
	frame(&in, true, OP_PONG, p, 125);
	rec_add(&want, WSFRAME_PONG, p, 125, 0);
	check_all_splits("ping/pong", &in, BIG, &want, WSFRAME_OK);
	b_free(&in);
	rec_free(&want);
}

/* ---- several frames in one buffer ---- */

static void build_mixed(struct bytes *in, struct rec *want)
{
	unsigned char bin[300], utf[200];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)rnd();
	for (size_t i = 0; i < sizeof(utf); i += 2) {
		utf[i] = 0xc3; /* é */
		utf[i + 1] = 0xa9;
	}
	frame_s(in, true, OP_TEXT, "hello");
	rec_add(want, WSFRAME_TEXT, "hello", 5, 0);
	frame(in, true, OP_BIN, bin, sizeof(bin));
	rec_add(want, WSFRAME_BINARY, bin, sizeof(bin), 0);
	frame_s(in, true, OP_PING, "ping!");
	rec_add(want, WSFRAME_PING, "ping!", 5, 0);
	frame(in, true, OP_PONG, NULL, 0);
	rec_add(want, WSFRAME_PONG, NULL, 0, 0);
	frame(in, true, OP_TEXT, utf, sizeof(utf));
	rec_add(want, WSFRAME_TEXT, utf, sizeof(utf), 0);
	frame_s(in, false, OP_BIN, "ab");
	frame_s(in, true, OP_PING, "x");
	rec_add(want, WSFRAME_PING, "x", 1, 0);
	frame(in, false, OP_CONT, NULL, 0);
	frame_s(in, true, OP_CONT, "cd");
	rec_add(want, WSFRAME_BINARY, "abcd", 4, 0);
	frame(in, true, OP_TEXT, NULL, 0);
	rec_add(want, WSFRAME_TEXT, NULL, 0, 0);
	frame_s(in, false, OP_TEXT, "\xe2"); /* € split across fragments */
	frame_s(in, true, OP_CONT, "\x82\xacuro");
	rec_add(want, WSFRAME_TEXT, "\xe2\x82\xacuro", 6, 0);
}

static void test_multi_frames(void)
{
	struct bytes in = {0};
	struct rec want = {0};
	build_mixed(&in, &want);
	check_all_splits("mixed frames", &in, BIG, &want, WSFRAME_OK);

	/* the same followed by a close and frames that must not be delivered */
	frame_close(&in, 1000, "done");
	rec_add(&want, WSFRAME_CLOSE, "done", 4, 1000);
	frame_s(&in, true, OP_TEXT, "after close");
	frame_s(&in, true, OP_PING, "after close");
	check_all_splits("mixed frames + close", &in, BIG, &want, WSFRAME_STOPPED);
	b_free(&in);
	rec_free(&want);
}

/* ---- fragmented messages ---- */

static void test_fragmented(void)
{
	/* a text mixing 1- to 4-byte characters, cut at any byte */
	static const char text[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z\xc3\xa9\xe2\x82\xac"
				   "\xf0\x9f\x98\x80 mixed \xe4\xb8\xad\xe6\x96\x87 end";
	size_t tlen = sizeof(text) - 1;
	for (unsigned nfrag = 2; nfrag <= 5; nfrag++) {
		for (int t = 0; t < 2; t++) {
			for (int variant = 0; variant < 6; variant++) {
				bool is_text = t == 1;
				unsigned char msg[64];
				size_t mlen = is_text ? tlen : 40 + (size_t)variant;
				if (is_text)
					memcpy(msg, text, tlen);
				else
					for (size_t i = 0; i < mlen; i++)
						msg[i] = (unsigned char)rnd();
				/* cut points: random, some fragments empty */
				size_t cuts[6];
				cuts[0] = 0;
				cuts[nfrag] = mlen;
				for (unsigned i = 1; i < nfrag; i++) {
					size_t lo = cuts[i - 1];
					cuts[i] = variant == 0 && i == 1
						      ? 0 /* empty first fragment */
						      : lo + rnd() % (mlen - lo + 1);
				}
				struct bytes in = {0};
				struct rec want = {0};
				for (unsigned i = 0; i < nfrag; i++) {
					frame(&in, i == nfrag - 1,
					      i ? OP_CONT : (is_text ? OP_TEXT : OP_BIN),
					      msg + cuts[i], cuts[i + 1] - cuts[i]);
					if (i == nfrag - 1)
						break;
					char c[8];
					snprintf(c, sizeof(c), "c%u", i);
					if ((i + (unsigned)variant) % 3 != 2) {
						unsigned op = i % 2 ? OP_PONG : OP_PING;
						frame_s(&in, true, op, c);
						rec_add(&want, i % 2 ? WSFRAME_PONG : WSFRAME_PING,
							c, strlen(c), 0);
					}
				}
				rec_add(&want, is_text ? WSFRAME_TEXT : WSFRAME_BINARY, msg, mlen,
					0);
				char what[64];
				snprintf(what, sizeof(what), "%s in %u fragments (variant %d)",
					 is_text ? "text" : "binary", nfrag, variant);
				check_all_splits(what, &in, BIG, &want, WSFRAME_OK);
				b_free(&in);
				rec_free(&want);
			}
		}
	}

	/* all fragments empty */
	struct bytes in = {0};
	struct rec want = {0};
	frame(&in, false, OP_TEXT, NULL, 0);
	frame(&in, false, OP_CONT, NULL, 0);
	frame(&in, true, OP_CONT, NULL, 0);
	rec_add(&want, WSFRAME_TEXT, NULL, 0, 0);
	frame(&in, false, OP_BIN, NULL, 0);
	frame_s(&in, true, OP_PING, "");
	rec_add(&want, WSFRAME_PING, NULL, 0, 0);
	frame(&in, true, OP_CONT, NULL, 0);
	rec_add(&want, WSFRAME_BINARY, NULL, 0, 0);
	check_all_splits("empty fragments", &in, BIG, &want, WSFRAME_OK);
	b_free(&in);
	rec_free(&want);

	/* while a message is open: busy, no partial frame held */
	struct wsframe_reader r;
	struct rec got = {0};
	wsframe_reader_init(&r);
	frame_s(&in, false, OP_TEXT, "part one ");
	CHECK_INT(feed_copy(&r, in.p, in.len, BIG, &got), WSFRAME_OK);
	CHECK(wsframe_reader_busy(&r));
	CHECK_INT(r.msg_opcode, OP_TEXT);
	CHECK_INT(r.part_len, 0);
	CHECK(r.part == NULL);
	CHECK_INT(got.n, 0);
	b_free(&in);
	frame_s(&in, true, OP_CONT, "part two");
	CHECK_INT(feed_copy(&r, in.p, in.len, BIG, &got), WSFRAME_OK);
	CHECK_INT(got.n, 1);
	if (got.n == 1)
		CHECK(got.ev[0].len == 17 && memcmp(got.ev[0].data, "part one part two", 17) == 0);
	CHECK(idle_and_empty(&r));
	wsframe_reader_clear(&r);
	rec_free(&got);
	b_free(&in);
}

/* ---- close ---- */

static void test_close(void)
{
	struct bytes in = {0};
	struct rec want = {0};

	frame(&in, true, OP_CLOSE, NULL, 0);
	rec_add(&want, WSFRAME_CLOSE, NULL, 0, 1005);
	check_all_splits("close without payload", &in, BIG, &want, WSFRAME_STOPPED);
	b_free(&in);
	rec_free(&want);

	frame_close(&in, 1000, "");
	rec_add(&want, WSFRAME_CLOSE, NULL, 0, 1000);
	check_all_splits("close 1000", &in, BIG, &want, WSFRAME_STOPPED);
	b_free(&in);
	rec_free(&want);

	frame_close(&in, 1001, "going away \xe2\x9c\x93");
	rec_add(&want, WSFRAME_CLOSE, "going away \xe2\x9c\x93", 14, 1001);
	frame_s(&in, true, OP_TEXT, "not delivered");
	check_all_splits("close 1001 with reason", &in, BIG, &want, WSFRAME_STOPPED);
	b_free(&in);
	rec_free(&want);

	char reason[124];
	memset(reason, 'r', 123);
	reason[123] = '\0';
	frame_s(&in, true, OP_TEXT, "first");
	rec_add(&want, WSFRAME_TEXT, "first", 5, 0);
	frame_close(&in, 4999, reason);
	rec_add(&want, WSFRAME_CLOSE, reason, 123, 4999);
	frame_s(&in, true, OP_PING, "no");
	frame_close(&in, 1000, "again");
	check_all_splits("close with a 123-byte reason", &in, BIG, &want, WSFRAME_STOPPED);
	b_free(&in);
	rec_free(&want);

	/* inside a fragmented message: delivered, the message is dropped */
	frame_s(&in, false, OP_TEXT, "half");
	frame_close(&in, 1000, "bye");
	rec_add(&want, WSFRAME_CLOSE, "bye", 3, 1000);
	frame_s(&in, true, OP_CONT, " never");
	check_all_splits("close inside a fragmented message", &in, BIG, &want, WSFRAME_STOPPED);
	b_free(&in);
	rec_free(&want);

	/* the callback's answer does not matter for a close: parsing stops */
	struct wsframe_reader r;
	struct rec got = {.stop_at = 0};
	wsframe_reader_init(&r);
	frame_close(&in, 1000, "x");
	frame_s(&in, true, OP_TEXT, "y");
	CHECK_INT(feed_copy(&r, in.p, in.len, BIG, &got), WSFRAME_STOPPED);
	CHECK_INT(got.n, 1);
	wsframe_reader_clear(&r);
	rec_free(&got);
	b_free(&in);

	/* valid status codes are delivered as they are */
	static const int valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
				    1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		wsframe_reader_init(&r);
		frame_close(&in, valid[i], "ok");
		CHECK_INT(feed_copy(&r, in.p, in.len, BIG, &got), WSFRAME_STOPPED);
		CHECK_INT(got.n, 1);
		if (got.n == 1) {
			CHECK_INT(got.ev[0].kind, WSFRAME_CLOSE);
			CHECK_INT(got.ev[0].code, valid[i]);
			CHECK_INT(got.ev[0].len, 2);
		}
		CHECK(!r.failed);
		wsframe_reader_clear(&r);
		rec_reset(&got);
		b_free(&in);
	}
	rec_free(&got);
}

/* ---- the callback stops ---- */

static void test_callback_stop(void)
{
	struct bytes in = {0};
	struct rec all = {0};
	frame_s(&in, true, OP_TEXT, "one");
	rec_add(&all, WSFRAME_TEXT, "one", 3, 0);
	frame_s(&in, true, OP_BIN, "two");
	rec_add(&all, WSFRAME_BINARY, "two", 3, 0);
	frame_s(&in, false, OP_TEXT, "thr");
	frame_s(&in, true, OP_PING, "four");
	rec_add(&all, WSFRAME_PING, "four", 4, 0);
	frame_s(&in, true, OP_CONT, "ee");
	rec_add(&all, WSFRAME_TEXT, "three", 5, 0);
	frame_s(&in, true, OP_PONG, "six");
	rec_add(&all, WSFRAME_PONG, "six", 3, 0);

	for (size_t stop = 1; stop <= all.n; stop++) {
		struct rec want = {0};
		for (size_t i = 0; i < stop; i++)
			rec_add(&want, all.ev[i].kind, all.ev[i].data, all.ev[i].len, 0);
		/* every split point, bytewise and one feed: stops at event `stop` */
		int bad = 0;
		for (size_t cut = 0; cut <= in.len + 1; cut++) {
			struct wsframe_reader r;
			struct rec got = {.stop_at = stop};
			wsframe_reader_init(&r);
			int rc = cut <= in.len ? feed_cuts(&r, &in, &cut, 1, BIG, &got)
					       : feed_bytewise(&r, &in, BIG, &got);
			if ((rc != WSFRAME_STOPPED || !rec_equal(&got, &want)) && bad++ < 3) {
				fprintf(stderr, "  stop at %zu, cut %zu: rc %d\n", stop, cut, rc);
				rec_print("got", &got);
				rec_print("want", &want);
			}
			if (stop == 4 && rc == WSFRAME_STOPPED && r.msg != NULL && bad++ < 3)
				fprintf(stderr, "  message kept after delivery (cut %zu)\n", cut);
			wsframe_reader_clear(&r);
			rec_free(&got);
		}
		CHECK_INT(bad, 0);
		rec_free(&want);
	}

	/* stopped on a ping between fragments: the message stays held */
	struct wsframe_reader r;
	struct rec got = {.stop_at = 3};
	wsframe_reader_init(&r);
	CHECK_INT(feed_copy(&r, in.p, in.len, BIG, &got), WSFRAME_STOPPED);
	CHECK_INT(got.n, 3);
	CHECK(wsframe_reader_busy(&r));
	CHECK(r.msg != NULL);
	wsframe_reader_clear(&r); /* LSan: frees the held fragment */
	CHECK(idle_and_empty(&r));
	rec_free(&got);
	rec_free(&all);
	b_free(&in);
}

/* ---- errors ---- */

static void b_text(struct bytes *b, const char *s)
{
	frame_s(b, true, OP_TEXT, s);
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
	CHECK_INT(feed_copy(&r, in->p, in->len, max, &got), WSFRAME_EPROTO);
	CHECK_INT(r.err_code, code);
	CHECK_CONTAINS(r.err_reason, why);
	CHECK_INT(got.n, nev);
	CHECK(r.failed);
	const char *reason = r.err_reason;

	struct bytes more = {0};
	b_text(&more, "valid");
	CHECK_INT(feed_copy(&r, more.p, more.len, max, &got), WSFRAME_EPROTO);
	CHECK_INT(r.err_code, code);
	CHECK(r.err_reason == reason);
	CHECK_INT(feed_copy(&r, more.p, 0, max, &got), WSFRAME_EPROTO);
	CHECK_INT(got.n, nev);
	b_free(&more);
	wsframe_reader_clear(&r);
	rec_reset(&got);

	int bad = 0;
	for (size_t cut = 0; cut <= in->len + 1; cut++) {
		wsframe_reader_init(&r);
		int rc = cut <= in->len ? feed_cuts(&r, in, &cut, 1, max, &got)
					: feed_bytewise(&r, in, max, &got);
		if ((rc != WSFRAME_EPROTO || r.err_code != code || got.n != nev) && bad++ < 3)
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

static void test_errors_1002(void)
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
		frame_raw(&in, 0x80 | rsv[i] | OP_TEXT, true, "x", 1);
		snprintf(what, sizeof(what), "rsv %#x", rsv[i]);
		expect_error(what, &in, BIG, 1002, "reserved", 1);
		b_free(&in);
		frame_raw(&in, 0x80 | rsv[i] | OP_PING, true, "x", 1);
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

	static const unsigned ctl[] = {OP_CLOSE, OP_PING, OP_PONG};
	for (size_t i = 0; i < 3; i++) {
		frame_raw(&in, ctl[i], true, "\x03\xe8", 2); /* FIN clear */
		snprintf(what, sizeof(what), "fragmented control %u", ctl[i]);
		expect_error(what, &in, BIG, 1002, "fragmented control", 0);
		b_free(&in);
		frame_s(&in, false, OP_TEXT, "open");
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

	frame_s(&in, true, OP_CONT, "x");
	expect_error("continuation alone", &in, BIG, 1002, "continuation", 0);
	b_free(&in);
	frame_s(&in, false, OP_CONT, "x");
	expect_error("continuation alone, no FIN", &in, BIG, 1002, "continuation", 0);
	b_free(&in);
	frame_s(&in, false, OP_TEXT, "a");
	frame_s(&in, true, OP_CONT, "b");
	frame_s(&in, true, OP_CONT, "c");
	expect_error("continuation after the message ended", &in, BIG, 1002, "continuation", 1);
	b_free(&in);

	frame_s(&in, false, OP_TEXT, "a");
	frame_s(&in, true, OP_PING, "p");
	frame_s(&in, true, OP_TEXT, "b");
	expect_error("text inside a fragmented message", &in, BIG, 1002, "new message", 1);
	b_free(&in);
	frame_s(&in, false, OP_BIN, "a");
	frame_s(&in, false, OP_TEXT, "b");
	expect_error("text inside a fragmented binary", &in, BIG, 1002, "new message", 0);
	b_free(&in);
	frame_s(&in, false, OP_TEXT, "a");
	frame_s(&in, false, OP_CONT, "a");
	frame_s(&in, true, OP_BIN, "b");
	expect_error("binary inside a fragmented text", &in, BIG, 1002, "new message", 0);
	b_free(&in);

	frame(&in, true, OP_CLOSE, "\x03", 1);
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

	header64(&in, 0x82, (uint64_t)1 << 63 | 5);
	b_put(&in, "abcde", 5);
	expect_error("64-bit length with the top bit", &in, BIG, 1002, "top bit", 0);
	b_free(&in);
	header64(&in, 0x81, UINT64_MAX);
	expect_error("64-bit length all ones", &in, SIZE_MAX, 1002, "top bit", 0);
	b_free(&in);
}

static void test_errors_1007(void)
{
	struct bytes in = {0};
	struct rec want = {0};

	frame(&in, true, OP_TEXT, "\xc0\x80", 2);
	expect_error("overlong NUL", &in, BIG, 1007, "UTF-8", 0);
	b_free(&in);
	b_text(&in, "fine");
	frame(&in, true, OP_TEXT, "abc\xff", 4);
	expect_error("0xff", &in, BIG, 1007, "UTF-8", 1);
	b_free(&in);
	frame(&in, true, OP_TEXT, "\xed\xa0\x80", 3);
	expect_error("surrogate", &in, BIG, 1007, "UTF-8", 0);
	b_free(&in);

	/* fragmented: bad byte in a middle fragment (refused there: the ping
	 * after it is never delivered); truncated at the end */
	frame_s(&in, false, OP_TEXT, "ab");
	frame_s(&in, false, OP_CONT, "\xff");
	frame_s(&in, true, OP_PING, "p");
	frame_s(&in, true, OP_CONT, "cd");
	expect_error("fragmented, 0xff", &in, BIG, 1007, "UTF-8", 0);
	b_free(&in);
	frame_s(&in, false, OP_TEXT, "a");
	frame_s(&in, true, OP_CONT, "\xe2\x82");
	expect_error("fragmented, truncated", &in, BIG, 1007, "UTF-8", 0);
	b_free(&in);
	frame_s(&in, false, OP_TEXT, "\xf0\x9f");
	frame_s(&in, true, OP_CONT, "\x28\x80");
	expect_error("fragmented, bad continuation", &in, BIG, 1007, "UTF-8", 0);
	b_free(&in);

	/* characters split across fragments are fine once joined */
	frame_s(&in, false, OP_TEXT, "x\xf0");
	frame_s(&in, false, OP_CONT, "\x9f");
	frame_s(&in, true, OP_PONG, "");
	rec_add(&want, WSFRAME_PONG, NULL, 0, 0);
	frame_s(&in, false, OP_CONT, "\x98");
	frame_s(&in, true, OP_CONT, "\x80y");
	rec_add(&want, WSFRAME_TEXT, "x\xf0\x9f\x98\x80y", 6, 0);
	frame_s(&in, false, OP_TEXT, "\xc3");
	frame_s(&in, true, OP_CONT, "\xa9");
	rec_add(&want, WSFRAME_TEXT, "\xc3\xa9", 2, 0);
	check_all_splits("characters split across fragments", &in, BIG, &want, WSFRAME_OK);
	b_free(&in);
	rec_free(&want);

	/* binary messages are not checked */
	frame(&in, true, OP_BIN, "\xff\xc0\x80", 3);
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
		int want = k < at ? WSFRAME_OK : WSFRAME_EPROTO;
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
			int want = k < at ? WSFRAME_OK : WSFRAME_EPROTO;
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

static void test_utf8_fail_fast(void)
{
	struct bytes in = {0};
	unsigned char big[70000];
	memset(big, 'a', sizeof(big));

	/* one frame: the 0xff is payload byte 3 (header 6 bytes) */
	frame_s(&in, true, OP_TEXT, "abc\xff and more after it");
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
		frame_s(&in, true, OP_TEXT, "fine");
		frame_s(&in, true, OP_TEXT, v[i].s);
		expect_utf8_fail_at(what, &in, 10 + 6 + v[i].bad + 1, 1);
		b_free(&in);
	}

	/* a 1000-byte frame (16-bit length) bad at payload byte 500: refused
	 * with 500 bytes still to come */
	big[500] = 0xff;
	frame(&in, true, OP_TEXT, big, 1000);
	expect_utf8_fail_at("0xff in the middle of a 1000-byte frame", &in, 8 + 501, 0);
	b_free(&in);
	/* a 70000-byte frame (64-bit length) bad at byte 3 */
	big[500] = 'a';
	big[3] = 0xc0;
	frame(&in, true, OP_TEXT, big, sizeof(big));
	expect_utf8_fail_at("C0 early in a 70000-byte frame", &in, 14 + 4, 0);
	big[3] = 'a';
	b_free(&in);

	/* across fragments: a character cut between two fragments, then a bad
	 * byte in the third, which is not final; control frames in between */
	frame_s(&in, false, OP_TEXT, "ab\xe2\x82");
	frame_s(&in, false, OP_CONT, "\xac ok");
	frame_s(&in, true, OP_PING, "p");
	size_t third = in.len;
	frame_s(&in, false, OP_CONT, "x\xf0\x9f\x28 and the rest");
	frame_s(&in, true, OP_CONT, "end");
	expect_utf8_fail_at("bad byte in a middle fragment", &in, third + 6 + 4, 1);
	b_free(&in);
	/* the bad byte is the first of a continuation frame, after a lead byte */
	frame_s(&in, false, OP_TEXT, "x\xf0");
	third = in.len;
	frame_s(&in, true, OP_CONT, "\x9f\x28\x80");
	expect_utf8_fail_at("F0 9F | 28", &in, third + 6 + 2, 0);
	b_free(&in);
	/* a binary message is not checked, and does not disturb the text
	 * message after it */
	frame(&in, true, OP_BIN, "\xf0", 1);
	frame_s(&in, false, OP_TEXT, "\xc3");
	third = in.len;
	frame_s(&in, true, OP_CONT, "\xa9\xa9");
	expect_utf8_fail_at("after a binary F0", &in, third + 6 + 2, 1);
	b_free(&in);
}

static void test_errors_1009(void)
{
	const size_t max = 1000;
	unsigned char p[1100];
	memset(p, 'm', sizeof(p));
	struct bytes in = {0};
	struct rec want = {0};
	struct rec got = {0};
	struct wsframe_reader r;

	/* exactly the limit: fine, alone and in fragments */
	frame(&in, true, OP_TEXT, p, 1000);
	rec_add(&want, WSFRAME_TEXT, p, 1000, 0);
	frame(&in, false, OP_BIN, p, 400);
	frame_s(&in, true, OP_PING, "p");
	rec_add(&want, WSFRAME_PING, "p", 1, 0);
	frame(&in, false, OP_CONT, p, 400);
	frame(&in, true, OP_CONT, p, 200);
	rec_add(&want, WSFRAME_BINARY, p, 1000, 0);
	check_all_splits("at the limit", &in, max, &want, WSFRAME_OK);
	b_free(&in);
	rec_free(&want);

	/* one byte over: refused on the header alone */
	frame(&in, true, OP_TEXT, p, 1001);
	CHECK_INT(in.len, 8 + 1001);
	expect_error("1001 bytes", &in, max, 1009, "too big", 0);
	wsframe_reader_init(&r);
	CHECK_INT(feed_copy(&r, in.p, 8, max, &got), WSFRAME_EPROTO);
	CHECK_INT(r.err_code, 1009);
	CHECK_CONTAINS(r.err_reason, "too big");
	CHECK_INT(got.n, 0);
	wsframe_reader_clear(&r);
	/* ... also when the header comes byte by byte */
	wsframe_reader_init(&r);
	int rc = WSFRAME_OK;
	for (size_t i = 0; i < 8 && rc == WSFRAME_OK; i++)
		rc = feed_copy(&r, in.p + i, 1, max, &got);
	CHECK_INT(rc, WSFRAME_EPROTO);
	CHECK_INT(r.err_code, 1009);
	wsframe_reader_clear(&r);
	b_free(&in);

	/* a 64-bit length of 1 TiB: refused at once, nothing allocated for it */
	header64(&in, 0x82, (uint64_t)1 << 40);
	wsframe_reader_init(&r);
	CHECK_INT(feed_copy(&r, in.p, in.len, max, &got), WSFRAME_EPROTO);
	CHECK_INT(r.err_code, 1009);
	CHECK_INT(got.n, 0);
	wsframe_reader_clear(&r);
	expect_error("1 TiB frame", &in, max, 1009, "too big", 0);
	b_free(&in);

	/* fragments that together exceed the limit: refused on the last header */
	frame(&in, false, OP_TEXT, p, 400);
	frame_s(&in, true, OP_PING, "p");
	frame(&in, false, OP_CONT, p, 400);
	size_t before_last = in.len;
	frame(&in, true, OP_CONT, p, 201);
	expect_error("fragments over the limit", &in, max, 1009, "too big", 1);
	wsframe_reader_init(&r);
	CHECK_INT(feed_copy(&r, in.p, before_last + 8, max, &got), WSFRAME_EPROTO);
	CHECK_INT(r.err_code, 1009);
	CHECK_INT(got.n, 1);
	wsframe_reader_clear(&r);
	b_free(&in);

	/* many small fragments */
	for (int i = 0; i < 11; i++)
		frame(&in, i == 10, i ? OP_CONT : OP_BIN, p, 100);
	expect_error("eleven fragments of 100", &in, max, 1009, "too big", 0);
	b_free(&in);
	rec_free(&got);
}

/* ---- memory ---- */

static void test_memory(void)
{
	struct wsframe_reader r;
	struct rec got = {0};
	struct bytes in = {0};
	unsigned char big[3000];
	memset(big, 'b', sizeof(big));

	/* zero-length feeds change nothing */
	wsframe_reader_init(&r);
	unsigned char one = 0;
	CHECK_INT(wsframe_feed(&r, &one, 0, BIG, on_event, &got), WSFRAME_OK);
	CHECK(idle_and_empty(&r));

	/* a split frame, completed: nothing held */
	frame(&in, true, OP_BIN, big, sizeof(big));
	CHECK_INT(feed_copy(&r, in.p, 100, BIG, &got), WSFRAME_OK);
	CHECK(wsframe_reader_busy(&r));
	CHECK(r.part != NULL);
	CHECK_INT(r.part_len, 100);
	CHECK_INT(wsframe_feed(&r, &one, 0, BIG, on_event, &got), WSFRAME_OK);
	CHECK_INT(r.part_len, 100);
	CHECK_INT(feed_copy(&r, in.p + 100, in.len - 100, BIG, &got), WSFRAME_OK);
	CHECK_INT(got.n, 1);
	CHECK(idle_and_empty(&r));
	CHECK_INT(r.part_cap, 0);
	b_free(&in);
	rec_reset(&got);

	/* a fragmented message (split frames too), delivered: nothing held */
	frame(&in, false, OP_TEXT, big, 1000);
	frame(&in, false, OP_CONT, big, 1000);
	frame(&in, true, OP_CONT, big, 1000);
	CHECK_INT(feed_copy(&r, in.p, 1500, BIG, &got), WSFRAME_OK);
	CHECK(r.msg != NULL);
	CHECK(r.part != NULL);
	CHECK_INT(feed_copy(&r, in.p + 1500, in.len - 1500, BIG, &got), WSFRAME_OK);
	CHECK_INT(got.n, 1);
	if (got.n == 1)
		CHECK_INT(got.ev[0].len, 3000);
	CHECK(idle_and_empty(&r));
	CHECK_INT(r.msg_cap, 0);
	rec_reset(&got);

	/* clear on a busy reader: a fragment and a partial frame are freed */
	CHECK_INT(feed_copy(&r, in.p, 1500, BIG, &got), WSFRAME_OK);
	CHECK(wsframe_reader_busy(&r));
	wsframe_reader_clear(&r);
	CHECK(idle_and_empty(&r));
	CHECK(!r.failed);
	CHECK_INT(r.part_cap + r.msg_cap, 0);
	/* and it starts over as new */
	CHECK_INT(feed_copy(&r, in.p, in.len, BIG, &got), WSFRAME_OK);
	CHECK_INT(got.n, 1);
	b_free(&in);
	rec_reset(&got);

	/* a partial header of one byte, then clear */
	frame_s(&in, true, OP_TEXT, "x");
	CHECK_INT(feed_copy(&r, in.p, 1, BIG, &got), WSFRAME_OK);
	CHECK(wsframe_reader_busy(&r));
	wsframe_reader_clear(&r);
	CHECK(idle_and_empty(&r));

	/* clear after an error: usable again */
	struct bytes badf = {0};
	frame_raw(&badf, 0x81, false, "x", 1);
	CHECK_INT(feed_copy(&r, badf.p, badf.len, BIG, &got), WSFRAME_EPROTO);
	wsframe_reader_clear(&r);
	CHECK(!r.failed);
	CHECK_INT(r.err_code, 0);
	CHECK_INT(feed_copy(&r, in.p, in.len, BIG, &got), WSFRAME_OK);
	CHECK_INT(got.n, 1);
	wsframe_reader_clear(&r);
	b_free(&badf);
	b_free(&in);

	/* an error while a fragment and a partial frame are held: clear frees them */
	frame(&in, false, OP_BIN, big, 1000);
	frame(&in, false, OP_CONT, big, 1000);
	frame_raw(&in, 0x80, false, "x", 1); /* unmasked */
	CHECK_INT(feed_copy(&r, in.p, 1500, BIG, &got), WSFRAME_OK);
	CHECK_INT(feed_copy(&r, in.p + 1500, in.len - 1500, BIG, &got), WSFRAME_EPROTO);
	CHECK_INT(r.err_code, 1002);
	wsframe_reader_clear(&r);
	CHECK(idle_and_empty(&r));
	b_free(&in);
	rec_free(&got);
}

int main(void)
{
	test_single_lengths();
	test_ping_pong();
	test_multi_frames();
	test_fragmented();
	test_close();
	test_callback_stop();
	test_errors_1002();
	test_errors_1007();
	test_utf8_fail_fast();
	test_errors_1009();
	test_memory();
	return check_finish();
}
