/*
 * test_error.c - unit tests of util/error.h: every code of the one error
 * vocabulary has its own name in ch_strerror() (two codes named alike would
 * make a log line ambiguous), 0 is "success", a code outside the table is
 * named "unknown error" and nothing is ever NULL.
 */
#include <string.h>

#include "check.h"
#include "error.h"

/* Every code of enum ch_error, kept in step with error.h (the last one is
 * checked to be the table's end below). */
static const int codes[] = {
	CH_OK,	       CH_EINVAL,    CH_ENOMEM,	   CH_ECLOSED,	 CH_ESTATE,	CH_ENOTFOUND,
	CH_EEXIST,     CH_ECHANFULL, CH_EUNAVAIL,  CH_ETOOBIG,	 CH_ELOCAL,	CH_EQUEUE,
	CH_EBADSIG,    CH_EEXPIRED,  CH_EPATTERN,  CH_ENOMATCH,	 CH_ESYNTAX,	CH_EDEPTH,
	CH_ECONNECT,   CH_ETIMEDOUT, CH_EIO,	   CH_EPROTO,	 CH_EHANDSHAKE, CH_EACCEPT,
};
#define N_CODES (sizeof(codes) / sizeof(codes[0]))

static void test_names(void)
{
	for (size_t i = 0; i < N_CODES; i++) {
		const char *s = ch_strerror(codes[i]);
		CHECK(s != NULL && *s != '\0');
		CHECK(strcmp(s, "unknown error") != 0);
		/* the codes are 0, -1, -2, ... with no gap */
		CHECK_INT(codes[i], -(int)i);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(s, ch_strerror(codes[j])) != 0);
	}
	CHECK_STR(ch_strerror(CH_OK), "success");
	CHECK_STR(ch_strerror(CH_ENOMEM), "out of memory");
	CHECK_STR(ch_strerror(CH_ECHANFULL), "channel is full");
	CHECK_STR(ch_strerror(CH_EQUEUE), "send queue over its limit");
	CHECK_CONTAINS(ch_strerror(CH_ELOCAL), "not published beyond");
}

static void test_unknown(void)
{
	CHECK_STR(ch_strerror(CH_EACCEPT - 1), "unknown error");
	CHECK_STR(ch_strerror(1), "unknown error");
	CHECK_STR(ch_strerror(12345), "unknown error");
	CHECK_STR(ch_strerror(-12345), "unknown error");
}

int main(void)
{
	test_names();
	test_unknown();
	return check_finish();
}
