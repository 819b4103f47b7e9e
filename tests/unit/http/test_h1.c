/*
 * Unit tests of the HTTP/1.1 request reader (lib/http/h1.c): every
 * stream is read whole and at every split point, and must give the same
 * requests (method, target, fields, body, keep-alive) or the same error
 * status, with nothing of a following request consumed early.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http.h"

static const struct http1_limits LIM = {
	.max_target = 64, .max_head = 512, .max_headers = 8, .max_body = 100};

/* Reads `len` bytes of `in` given in pieces: cut at `split` (0: none).
 * Writes one summary line per request into `out`; returns the error status
 * (0 when none). */
static int read_all(const char *in, size_t len, size_t split, char *out, size_t outlen)
{
	struct http1 *h = http1_new(&LIM);
	size_t pos = 0, o = 0;
	int status = 0;
	out[0] = '\0';
	/* The caller's buffer: what has arrived and is not consumed yet. */
	size_t avail = split ? (split < len ? split : len) : len;
	for (int guard = 0; guard < 10000; guard++) {
		size_t used = 0;
		int rc = http1_parse(h, in + pos, avail - pos, &used);
		pos += used;
		if (rc == HTTP1_ERROR) {
			status = http1_error_status(h);
			break;
		}
		if (rc == HTTP1_DONE) {
			const struct http1_request *r = http1_request(h);
			o += (size_t)snprintf(out + o, outlen - o, "%s %s 1.%d ka=%d", r->method,
					      r->target, r->minor, r->keep_alive);
			for (size_t i = 0; i < r->n_headers; i++)
				o += (size_t)snprintf(out + o, outlen - o, " [%s=%s]",
						      r->headers[i].name, r->headers[i].value);
			o += (size_t)snprintf(out + o, outlen - o, " body=%.*s;", (int)r->body_len,
					      r->body ? r->body : "");
			http1_next(h);
			continue;
		}
		if (rc == HTTP1_HEAD)
			continue;
		if (avail == len)
			break; /* all given, nothing more to read */
		avail = avail + split < len ? avail + split : len;
	}
	http1_free(h);
	return status;
}

static void expect_n(const char *what, const char *in, size_t len, const char *want,
		     int want_status)
{
	char whole[4096];
	int st = read_all(in, len, 0, whole, sizeof(whole));
	if (strcmp(whole, want) != 0 || st != want_status)
		fprintf(stderr, "%s:\n  got  %d %s\n  want %d %s\n", what, st, whole, want_status,
			want);
	CHECK_STR(whole, want);
	CHECK_INT(st, want_status);
	for (size_t split = 1; split < len; split++) {
		char part[4096];
		int ps = read_all(in, len, split, part, sizeof(part));
		if (strcmp(part, whole) != 0 || ps != st) {
			fprintf(stderr, "%s, split %zu: %d %s\n", what, split, ps, part);
			CHECK_STR(part, whole);
			CHECK_INT(ps, st);
			break;
		}
	}
}

static void expect(const char *what, const char *in, const char *want, int want_status)
{
	expect_n(what, in, strlen(in), want, want_status);
}

/* Streams that are read into requests. */
static void test_accepted(void)
{
	expect("one GET", "GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n",
	       "GET /a?b=1 1.1 ka=1 [host=x] body=;", 0);
	expect("pipelined", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\n"
			    "Content-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	       "GET /a 1.1 ka=1 [host=x] body=;POST /b 1.1 ka=1 [host=x] [content-length=3] body=abc;"
	       "GET /c 1.1 ka=0 [host=x] [connection=close] body=;",
	       0);
	expect("chunked with trailer",
	       "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
	       "2;e=1\r\nde\r\n0\r\nT: v\r\n\r\n",
	       "POST /p 1.1 ka=1 [host=x] [transfer-encoding=chunked] body=abcde;", 0);
	expect("names lower-cased, values trimmed", "GET / HTTP/1.1\r\nHoSt:  x \t\r\nX-A:b\r\n\r\n",
	       "GET / 1.1 ka=1 [host=x] [x-a=b] body=;", 0);
	expect("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", "GET / 1.0 ka=0 body=;", 0);
}

/* Streams that are refused, with the status each gets. */
static void test_refused(void)
{
	expect("no Host", "GET / HTTP/1.1\r\n\r\n", "", 400);
	expect("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "", 400);
	expect("version", "GET / HTTP/9.9\r\nHost: a\r\n\r\n", "", 505);
	expect("two lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
	       "", 400);
	expect("lenient length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx", "", 400);
	expect("CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
			    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	       "", 400);
	expect("HTTP/1.0 keep-alive, close", "HEAD / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
	       "HEAD / 1.0 ka=0 [connection=keep-alive, close] body=;", 0);
	expect("a chunk line with a lone CR", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
					      "1\r\nx\r\n0\rGET / HTTP/1.1\r\n\r\n",
	       "", 400);
	expect("HTAB inside the target", "GET /\tg HTTP/1.1\r\nHost: a\r\n\r\n", "", 400);
	expect("a control byte before a chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
						     "1\r\nx\r\n\f0\r\n\r\n",
	       "", 400);
	expect("CR and NUL inside chunk data pass", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
						    "3\r\na\rb\r\n0\r\n\r\n",
	       "POST / 1.1 ka=1 [host=a] [transfer-encoding=chunked] body=a\rb;", 0);
	expect("an empty value kept", "GET / HTTP/1.1\r\nHost: a\r\nX-E:\r\n\r\n",
	       "GET / 1.1 ka=1 [host=a] [x-e=] body=;", 0);
	expect("a bad trailer name", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
				     "0\r\nHEAD http://b/ HTTP/1.1\r\n\r\n",
	       "", 400);
	expect("an empty trailer name", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
					"0\r\n: x\r\n\r\n",
	       "", 400);
	expect("empty Transfer-Encoding", "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\nx", "", 400);
	expect("lone CR ends no head", "GET / HTTP/1.1\r\nHost: a\r\n\r:2\n", "", 400);
	expect("CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", "", 501);
	expect("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", "", 400);
	expect("space before the colon of any field", "GET / HTTP/1.1\r\nHost: a\r\nie : c\r\n\r\n", "",
	       400);
	expect("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", "", 400);
	expect("target limit", "GET /0123456789012345678901234567890123456789012345678901234567890123456789"
			       " HTTP/1.1\r\nHost: a\r\n\r\n",
	       "", 414);
	expect("field count", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n"
			      "F: 1\r\nG: 1\r\nH: 1\r\n\r\n",
	       "", 431);
	char big[700];
	int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	memset(big + n, 'v', 600);
	strcpy(big + n + 600, "\r\n\r\n");
	expect("head limit", big, "", 431);
	expect("declared body limit", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n", "",
	       413);
	char chunks[400];
	n = snprintf(chunks, sizeof(chunks),
		     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 11; i++)
		n += snprintf(chunks + n, sizeof(chunks) - (size_t)n, "a\r\n0123456789\r\n");
	strcpy(chunks + n, "0\r\n\r\n");
	expect("chunked body limit", chunks, "", 413);
	static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
	expect_n("NUL in a value", nul, sizeof(nul) - 1, "", 400);

}

int main(void)
{
	test_accepted();
	test_refused();
	/* Token lists. */
	CHECK(http_token_list_has("keep-alive, Upgrade", "upgrade"));
	CHECK(http_token_list_has(" UPGRADE ", "upgrade"));
	CHECK(http_token_list_has("a,,websocket\t", "WebSocket"));
	CHECK(!http_token_list_has("upgrades", "upgrade"));
	CHECK(!http_token_list_has("", "upgrade"));
	CHECK(!http_token_list_has("up grade", "upgrade"));
	return check_finish();
}
