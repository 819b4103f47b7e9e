/*
 * fuzz_jsondec.c - fuzz target of the receive path's JSON decoder
 * (consumers/jsondec.c, consumer__json_decode in consumer_int.h).
 *
 * Input: any bytes, decoded whole by consumer__json_decode and by
 * json_loadb(JSON_DECODE_ANY), the decoder it must match. Invariants
 * checked (the input and both outcomes are printed, then abort()):
 *   - both accept or both reject;
 *   - when both accept, the values are json_equal and dump
 *     (JSON_COMPACT | JSON_ENCODE_ANY) to the same bytes, so key order and
 *     integer-vs-real agree too;
 *   - a rejection by jsondec comes with a non-empty reason, an acceptance
 *     with none; passing a NULL reason pointer gives the same verdict;
 *   - an accepted value's compact dump decodes (jsondec) to an equal value.
 * The one intended difference: jansson drops a NUL byte right after a
 * number or literal, jsondec refuses it; then jsondec must accept the input
 * without those NULs and give jansson's value.
 */
#include "consumer_int.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

static char *dump(const json_t *v, size_t *n)
{
	*n = json_dumpb(v, NULL, 0, DUMP_FLAGS);
	char *s = malloc(*n + 1);
	if (!s)
		abort();
	json_dumpb(v, s, *n, DUMP_FLAGS);
	s[*n] = '\0';
	return s;
}

static void print_escaped(const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "  %s (%zu bytes): \"", what, n);
	for (size_t i = 0; i < n && i < 1024; i++) {
		if (p[i] == '\\' || p[i] == '"')
			fprintf(stderr, "\\%c", p[i]);
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			fputc(p[i], stderr);
		else
			fprintf(stderr, "\\x%02x", p[i]);
	}
	fprintf(stderr, n > 1024 ? "\" ...\n" : "\"\n");
}

static void disagree(const char *why, const uint8_t *data, size_t size, const json_t *a,
		     const json_error_t *jerr, const json_t *b, const char *err)
{
	char *s;
	size_t n;

	fprintf(stderr, "fuzz_jsondec: %s\n", why);
	print_escaped("input", data, size);
	if (a) {
		s = dump(a, &n);
		print_escaped("jansson accepts", (const uint8_t *)s, n);
		free(s);
	} else {
		fprintf(stderr, "  jansson rejects: %s (position %d)\n", jerr->text,
			jerr->position);
	}
	if (b) {
		s = dump(b, &n);
		print_escaped("jsondec accepts", (const uint8_t *)s, n);
		free(s);
	} else {
		fprintf(stderr, "  jsondec rejects: %s\n", err ? err : "(null reason)");
	}
	abort();
}

/* True when jsondec, given `in` without the NUL bytes that follow a letter
 * or digit outside strings, decodes a value equal to `a`. */
static bool nul_lookahead_only(const char *in, size_t size, const json_t *a)
{
	char *t = malloc(size ? size : 1);
	size_t n = 0;
	bool in_str = false;
	if (!t)
		abort();
	for (size_t i = 0; i < size; i++) {
		char c = in[i], prev = i ? in[i - 1] : ' ';
		if (in_str && c == '\\' && i + 1 < size) {
			t[n++] = c;
			t[n++] = in[++i];
			continue;
		}
		if (c == '"')
			in_str = !in_str;
		bool word = (prev >= '0' && prev <= '9') || (prev >= 'a' && prev <= 'z') ||
			    (prev >= 'A' && prev <= 'Z');
		if (!in_str && c == '\0' && word)
			continue;
		t[n++] = c;
	}
	json_t *d = consumer__json_decode(t, n, NULL);
	bool ok = d && json_equal(d, a);
	json_decref(d);
	free(t);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	json_error_t jerr;
	json_t *a = json_loadb(in, size, JSON_DECODE_ANY, &jerr);
	const char *err = "(unset)";
	json_t *b = consumer__json_decode(in, size, &err);

	if (a && !b && nul_lookahead_only(in, size, a)) {
		json_decref(a);
		return 0; /* the intended difference */
	}
	if (!a != !b)
		disagree(a ? "jansson accepts, jsondec rejects"
			   : "jansson rejects, jsondec accepts",
			 data, size, a, &jerr, b, err);
	if (!b) {
		if (!err || !*err || strcmp(err, "(unset)") == 0)
			disagree("rejected without a reason", data, size, a, &jerr, b, err);
	} else {
		size_t na, nb;
		char *da = dump(a, &na), *db = dump(b, &nb);
		if (err)
			disagree("accepted with a reason set", data, size, a, &jerr, b, err);
		if (!json_equal(a, b))
			disagree("values differ (json_equal)", data, size, a, &jerr, b, err);
		if (na != nb || memcmp(da, db, na) != 0)
			disagree("dumps differ (key order or integer/real)", data, size, a,
				 &jerr, b, err);
		json_t *again = consumer__json_decode(db, nb, NULL);
		if (!again || !json_equal(again, b))
			disagree("its own compact dump does not decode to an equal value", data,
				 size, a, &jerr, b, err);
		json_decref(again);
		free(da);
		free(db);
	}
	json_t *c = consumer__json_decode(in, size, NULL);
	if (!c != !b)
		disagree("a NULL reason pointer changes the verdict", data, size, a, &jerr, b, err);
	json_decref(c);
	json_decref(a);
	json_decref(b);
	return 0;
}
