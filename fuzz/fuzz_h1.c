/*
 * fuzz_h1.c - fuzz target of the HTTP/1.1 request reader (lib/http/h1.c).
 *
 * The input is read twice: whole, and cut into pieces whose sizes come
 * from the input's first byte. Invariants (abort() when one breaks):
 *  - both readings give the same requests, and both end in an error or
 *    neither: what is read does not depend on how the bytes arrive. (A
 *    request with several faults may be refused with the status of the
 *    one noticed first, which can depend on where the bytes were cut:
 *    llhttp reports a field or target in pieces when it arrives in
 *    pieces, so a size limit may be seen before or after a bad byte.)
 *  - an error status is one of 400 413 414 431 501 505, and nothing is
 *    read after it;
 *  - every request has a method, a target within the limit, at most the
 *    field limit of fields with lower-case names and values free of CR,
 *    LF and NUL, a body within the limit; HTTP/1.1 requests have exactly
 *    one Host field;
 *  - each call consumes no more than it was given.
 */
#include "http.h"
#include "fuzz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>



static const struct http1_limits LIM = {
	.max_target = 256, .max_head = 2048, .max_headers = 16, .max_body = 1024};

static unsigned long long mix(unsigned long long h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return (h ^ n) * 1099511628211ULL;
}

static void check_request(const struct http1_request *r)
{
	REQUIRE(r->method && *r->method);
	REQUIRE(strlen(r->target) <= LIM.max_target);
	REQUIRE(r->n_headers <= LIM.max_headers);
	int hosts = 0;
	for (size_t i = 0; i < r->n_headers; i++) {
		const char *n = r->headers[i].name, *v = r->headers[i].value;
		for (const char *c = n; *c; c++)
			REQUIRE(!(*c >= 'A' && *c <= 'Z'));
		REQUIRE(!strpbrk(v, "\r\n"));
		hosts += strcmp(n, "host") == 0;
	}
	if (r->minor >= 1)
		REQUIRE(hosts == 1);
	REQUIRE(r->body_len <= LIM.max_body);
}

/* Reads everything; returns a digest of the requests and the status. */
static unsigned long long read_all(const uint8_t *data, size_t size, size_t piece, int *status)
{
	struct http1 *h = http1_new(&LIM);
	REQUIRE(h);
	unsigned long long d = 1469598103934665603ULL;
	size_t pos = 0, avail = piece ? (piece < size ? piece : size) : size;
	*status = 0;
	for (;;) {
		size_t used = 0;
		int rc = http1_parse(h, (const char *)data + pos, avail - pos, &used);
		REQUIRE(used <= avail - pos);
		pos += used;
		if (rc == HTTP1_ERROR) {
			*status = http1_error_status(h);
			size_t again = 0;
			REQUIRE(http1_parse(h, (const char *)data + pos, size - pos, &again) ==
				HTTP1_ERROR);
			REQUIRE(again == 0);
			break;
		}
		if (rc == HTTP1_DONE) {
			const struct http1_request *r = http1_request(h);
			check_request(r);
			d = mix(d, r->method, strlen(r->method));
			d = mix(d, r->target, strlen(r->target));
			for (size_t i = 0; i < r->n_headers; i++) {
				d = mix(d, r->headers[i].name, strlen(r->headers[i].name));
				d = mix(d, r->headers[i].value, strlen(r->headers[i].value));
			}
			d = mix(d, r->body ? r->body : "", r->body_len);
			d = mix(d, &r->keep_alive, sizeof(r->keep_alive));
			http1_next(h);
			continue;
		}
		if (rc == HTTP1_HEAD)
			continue;
		if (avail == size)
			break;
		avail = avail + piece < size ? avail + piece : size;
	}
	http1_free(h);
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t piece = 1 + data[0] % 17;
	int s1, s2;
	unsigned long long a = read_all(data + 1, size - 1, 0, &s1);
	unsigned long long b = read_all(data + 1, size - 1, piece, &s2);
	REQUIRE((s1 == 0) == (s2 == 0));
	REQUIRE(a == b);
	for (int i = 0; i < 2; i++) {
		int st = i ? s2 : s1;
		REQUIRE(st == 0 || st == 400 || st == 413 || st == 414 || st == 431 || st == 501 ||
			st == 505);
	}
	return 0;
}
