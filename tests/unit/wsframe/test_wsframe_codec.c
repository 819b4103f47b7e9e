/*
 * test_wsframe_codec.c - unit tests of lib/wsframe/'s byte helpers:
 * wsframe_unmask (against a bytewise reference at every alignment) and
 * wsframe_header (each length encoding). The UTF-8 check it uses is
 * lib/text's, tested in tests/unit/text/test_text.c.
 */
#include "check.h"
#include "frames.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- unmask and header ---- */

static void test_unmask(void)
{
	int wrong = 0;
	for (size_t off = 0; off < 8; off++) {
		for (size_t len = 0; len <= 40; len++) {
			unsigned char a[64], b[64], mask[4];
			for (size_t i = 0; i < sizeof(a); i++)
				a[i] = b[i] = (unsigned char)rnd();
			for (int i = 0; i < 4; i++)
				mask[i] = (unsigned char)rnd();
			for (size_t i = 0; i < len; i++)
				b[off + i] ^= mask[i % 4];
			wsframe_unmask(a + off, len, mask);
			if (memcmp(a, b, sizeof(a)) != 0 && wrong++ < 3)
				fprintf(stderr, "  unmask differs: offset %zu, length %zu\n", off,
					len);
		}
	}
	CHECK_INT(wrong, 0);
	/* twice is the identity */
	unsigned char p[37], q[37], mask[4] = {1, 2, 3, 4};
	for (size_t i = 0; i < sizeof(p); i++)
		p[i] = q[i] = (unsigned char)i;
	wsframe_unmask(p + 1, 36, mask);
	wsframe_unmask(p + 1, 36, mask);
	CHECK(memcmp(p, q, sizeof(p)) == 0);
}

static void test_header(void)
{
	static const struct {
		unsigned op;
		uint64_t len;
		size_t n;
		unsigned char want[10];
	} v[] = {
	    {1, 0, 2, {0x81, 0x00}},
	    {2, 125, 2, {0x82, 0x7d}},
	    {1, 126, 4, {0x81, 0x7e, 0x00, 0x7e}},
	    {2, 65535, 4, {0x82, 0x7e, 0xff, 0xff}},
	    {1, 65536, 10, {0x81, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}},
	    {2, 200000, 10, {0x82, 0x7f, 0, 0, 0, 0, 0, 0x03, 0x0d, 0x40}},
	    {2, (uint64_t)1 << 40, 10, {0x82, 0x7f, 0, 0, 0x01, 0, 0, 0, 0, 0}},
	    {8, 2, 2, {0x88, 0x02}},
	    {9, 125, 2, {0x89, 0x7d}},
	    {10, 0, 2, {0x8a, 0x00}},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		unsigned char out[16];
		memset(out, 0xee, sizeof(out));
		size_t n = wsframe_header(out, v[i].op, v[i].len);
		CHECK_INT(n, v[i].n);
		bool same = memcmp(out, v[i].want, v[i].n) == 0;
		CHECK(same);
		if (!same)
			fprintf(stderr, "  header for op %u len %llu differs\n", v[i].op,
				(unsigned long long)v[i].len);
		CHECK_INT(out[v[i].n], 0xee); /* nothing written past it */
	}
}

int main(void)
{
	test_unmask();
	test_header();
	return check_finish();
}
