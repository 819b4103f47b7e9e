/*
 * test_wsframe.c - unit tests of lib/wsframe/'s reader: client frames
 * built with random masks (frames.h) are fed whole, at every split point,
 * at random cuts and byte by byte; every run must give the same events
 * (kind, bytes, close code) and the same error (err_code and the class of
 * err_reason). This file: valid input, the callback stopping, memory;
 * the errors: test_wsframe_errors.c (same executable). UTF-8, unmasking
 * and headers: test_wsframe_codec.c.
 */
#define CHECK_DEFINE_COUNTERS
#include "reader_tests.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Feeds `in` whole, at every split point (two pieces), byte by byte and at
 * random 3..6-piece cuts; each run must end with `want_rc` and give `want`.
 */
void check_all_splits(const char *what, const struct bytes *in, size_t max,
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
			frame(&in, true, text ? WSFRAME_OP_TEXT : WSFRAME_OP_BINARY, pl, n);
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
	frame(&in, true, WSFRAME_OP_PING, p, 125);
	rec_add(&want, WSFRAME_PING, p, 125, 0);
	frame(&in, true, WSFRAME_OP_PING, NULL, 0);
	rec_add(&want, WSFRAME_PING, NULL, 0, 0);
	frame(&in, true, WSFRAME_OP_PING, "\xff\x00", 2); /* not UTF-8: fine for a ping */
	rec_add(&want, WSFRAME_PING, "\xff\x00", 2, 0);
	frame_s(&in, true, WSFRAME_OP_PONG, "abc");
	rec_add(&want, WSFRAME_PONG, "abc", 3, 0);
	frame(&in, true, WSFRAME_OP_PONG, p, 125);
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
	frame_s(in, true, WSFRAME_OP_TEXT, "hello");
	rec_add(want, WSFRAME_TEXT, "hello", 5, 0);
	frame(in, true, WSFRAME_OP_BINARY, bin, sizeof(bin));
	rec_add(want, WSFRAME_BINARY, bin, sizeof(bin), 0);
	frame_s(in, true, WSFRAME_OP_PING, "ping!");
	rec_add(want, WSFRAME_PING, "ping!", 5, 0);
	frame(in, true, WSFRAME_OP_PONG, NULL, 0);
	rec_add(want, WSFRAME_PONG, NULL, 0, 0);
	frame(in, true, WSFRAME_OP_TEXT, utf, sizeof(utf));
	rec_add(want, WSFRAME_TEXT, utf, sizeof(utf), 0);
	frame_s(in, false, WSFRAME_OP_BINARY, "ab");
	frame_s(in, true, WSFRAME_OP_PING, "x");
	rec_add(want, WSFRAME_PING, "x", 1, 0);
	frame(in, false, WSFRAME_OP_CONT, NULL, 0);
	frame_s(in, true, WSFRAME_OP_CONT, "cd");
	rec_add(want, WSFRAME_BINARY, "abcd", 4, 0);
	frame(in, true, WSFRAME_OP_TEXT, NULL, 0);
	rec_add(want, WSFRAME_TEXT, NULL, 0, 0);
	frame_s(in, false, WSFRAME_OP_TEXT, "\xe2"); /* € split across fragments */
	frame_s(in, true, WSFRAME_OP_CONT, "\x82\xacuro");
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
	frame_s(&in, true, WSFRAME_OP_TEXT, "after close");
	frame_s(&in, true, WSFRAME_OP_PING, "after close");
	check_all_splits("mixed frames + close", &in, BIG, &want, WSFRAME_STOPPED);
	b_free(&in);
	rec_free(&want);
}

/* ---- fragmented messages ---- */

/* A text (is_text: a mix of 1- to 4-byte characters) or a random binary
 * message in `nfrag` fragments cut at random points (some empty), with
 * control frames between them as `variant` says, at every split. */
static void fragmented_one(unsigned nfrag, bool is_text, int variant)
{
	static const char text[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z\xc3\xa9\xe2\x82\xac"
				   "\xf0\x9f\x98\x80 mixed \xe4\xb8\xad\xe6\x96\x87 end";
	size_t tlen = sizeof(text) - 1;
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
		      i ? WSFRAME_OP_CONT : (is_text ? WSFRAME_OP_TEXT : WSFRAME_OP_BINARY),
		      msg + cuts[i], cuts[i + 1] - cuts[i]);
		if (i == nfrag - 1)
			break;
		char c[8];
		snprintf(c, sizeof(c), "c%u", i);
		if ((i + (unsigned)variant) % 3 != 2) {
			unsigned op = i % 2 ? WSFRAME_OP_PONG : WSFRAME_OP_PING;
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

static void test_fragmented(void)
{
	/* texts and binaries in 2..5 fragments, control frames between */
	for (unsigned nfrag = 2; nfrag <= 5; nfrag++)
		for (int t = 0; t < 2; t++)
			for (int variant = 0; variant < 6; variant++)
				fragmented_one(nfrag, t == 1, variant);

	/* all fragments empty */
	struct bytes in = {0};
	struct rec want = {0};
	frame(&in, false, WSFRAME_OP_TEXT, NULL, 0);
	frame(&in, false, WSFRAME_OP_CONT, NULL, 0);
	frame(&in, true, WSFRAME_OP_CONT, NULL, 0);
	rec_add(&want, WSFRAME_TEXT, NULL, 0, 0);
	frame(&in, false, WSFRAME_OP_BINARY, NULL, 0);
	frame_s(&in, true, WSFRAME_OP_PING, "");
	rec_add(&want, WSFRAME_PING, NULL, 0, 0);
	frame(&in, true, WSFRAME_OP_CONT, NULL, 0);
	rec_add(&want, WSFRAME_BINARY, NULL, 0, 0);
	check_all_splits("empty fragments", &in, BIG, &want, WSFRAME_OK);
	b_free(&in);
	rec_free(&want);

	/* while a message is open: busy, no partial frame held */
	struct wsframe_reader r;
	struct rec got = {0};
	wsframe_reader_init(&r);
	frame_s(&in, false, WSFRAME_OP_TEXT, "part one ");
	CHECK_INT(feed_copy(&r, in.p, in.len, BIG, &got), WSFRAME_OK);
	CHECK(wsframe_reader_busy(&r));
	CHECK_INT(r.msg_opcode, WSFRAME_OP_TEXT);
	CHECK_INT(r.part_len, 0);
	CHECK(r.part == NULL);
	CHECK_INT(got.n, 0);
	b_free(&in);
	frame_s(&in, true, WSFRAME_OP_CONT, "part two");
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

	frame(&in, true, WSFRAME_OP_CLOSE, NULL, 0);
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
	frame_s(&in, true, WSFRAME_OP_TEXT, "not delivered");
	check_all_splits("close 1001 with reason", &in, BIG, &want, WSFRAME_STOPPED);
	b_free(&in);
	rec_free(&want);

	char reason[124];
	memset(reason, 'r', 123);
	reason[123] = '\0';
	frame_s(&in, true, WSFRAME_OP_TEXT, "first");
	rec_add(&want, WSFRAME_TEXT, "first", 5, 0);
	frame_close(&in, 4999, reason);
	rec_add(&want, WSFRAME_CLOSE, reason, 123, 4999);
	frame_s(&in, true, WSFRAME_OP_PING, "no");
	frame_close(&in, 1000, "again");
	check_all_splits("close with a 123-byte reason", &in, BIG, &want, WSFRAME_STOPPED);
	b_free(&in);
	rec_free(&want);

	/* inside a fragmented message: delivered, the message is dropped */
	frame_s(&in, false, WSFRAME_OP_TEXT, "half");
	frame_close(&in, 1000, "bye");
	rec_add(&want, WSFRAME_CLOSE, "bye", 3, 1000);
	frame_s(&in, true, WSFRAME_OP_CONT, " never");
	check_all_splits("close inside a fragmented message", &in, BIG, &want, WSFRAME_STOPPED);
	b_free(&in);
	rec_free(&want);

	/* the callback's answer does not matter for a close: parsing stops */
	struct wsframe_reader r;
	struct rec got = {.stop_at = 0};
	wsframe_reader_init(&r);
	frame_close(&in, 1000, "x");
	frame_s(&in, true, WSFRAME_OP_TEXT, "y");
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
	frame_s(&in, true, WSFRAME_OP_TEXT, "one");
	rec_add(&all, WSFRAME_TEXT, "one", 3, 0);
	frame_s(&in, true, WSFRAME_OP_BINARY, "two");
	rec_add(&all, WSFRAME_BINARY, "two", 3, 0);
	frame_s(&in, false, WSFRAME_OP_TEXT, "thr");
	frame_s(&in, true, WSFRAME_OP_PING, "four");
	rec_add(&all, WSFRAME_PING, "four", 4, 0);
	frame_s(&in, true, WSFRAME_OP_CONT, "ee");
	rec_add(&all, WSFRAME_TEXT, "three", 5, 0);
	frame_s(&in, true, WSFRAME_OP_PONG, "six");
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

/* ---- memory ---- */

/*
 * Over 80 lines: one reader taken through its states in order (split
 * frame, fragments, clear when busy, clear after an error); each step
 * checks what the one before left held.
 */
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
	frame(&in, true, WSFRAME_OP_BINARY, big, sizeof(big));
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
	frame(&in, false, WSFRAME_OP_TEXT, big, 1000);
	frame(&in, false, WSFRAME_OP_CONT, big, 1000);
	frame(&in, true, WSFRAME_OP_CONT, big, 1000);
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
	frame_s(&in, true, WSFRAME_OP_TEXT, "x");
	CHECK_INT(feed_copy(&r, in.p, 1, BIG, &got), WSFRAME_OK);
	CHECK(wsframe_reader_busy(&r));
	wsframe_reader_clear(&r);
	CHECK(idle_and_empty(&r));

	/* clear after an error: usable again */
	struct bytes badf = {0};
	frame_raw(&badf, 0x81, false, "x", 1);
	CHECK_INT(feed_copy(&r, badf.p, badf.len, BIG, &got), CH_EPROTO);
	wsframe_reader_clear(&r);
	CHECK(!r.failed);
	CHECK_INT(r.err_code, 0);
	CHECK_INT(feed_copy(&r, in.p, in.len, BIG, &got), WSFRAME_OK);
	CHECK_INT(got.n, 1);
	wsframe_reader_clear(&r);
	b_free(&badf);
	b_free(&in);

	/* an error while a fragment and a partial frame are held: clear frees them */
	frame(&in, false, WSFRAME_OP_BINARY, big, 1000);
	frame(&in, false, WSFRAME_OP_CONT, big, 1000);
	frame_raw(&in, 0x80, false, "x", 1); /* unmasked */
	CHECK_INT(feed_copy(&r, in.p, 1500, BIG, &got), WSFRAME_OK);
	CHECK_INT(feed_copy(&r, in.p + 1500, in.len - 1500, BIG, &got), CH_EPROTO);
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
