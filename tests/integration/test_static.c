/*
 * test_static.c - /static/ files over raw sockets, status lines and
 * header fields read exactly: validators (ETag, Last-Modified, 304 for
 * If-None-Match and If-Modified-Since), byte ranges (206 with
 * Content-Range for "a-b", "a-", "-n"; 416 with "bytes" + "*" + "/len"; several
 * ranges, other units and bad syntax answered 200 whole; If-Range by ETag
 * and by date; HEAD ignores Range), the precompressed name.gz beside a
 * file (Content-Encoding, Vary, its own ETag, never a .gz leading out of
 * the root through a link), HEAD with the headers of GET, and the MIME
 * types of /etc/mime.types with the built-in table for what it lacks.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"

/* ---- one request, one raw response ---- */

struct resp {
	char *raw;        /* everything read, NUL-terminated */
	char status[128]; /* the status line, without CRLF */
	const char *body;
	size_t body_len;
};

static void resp_clear(struct resp *r)
{
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

/* `method path` with Host and Connection: close, plus `headers` (lines
 * ending in CRLF); reads to the close. 0, or -1. */
static int ask(const struct h_server *s, const char *method, const char *path, const char *headers,
	       struct resp *r)
{
	memset(r, 0, sizeof(*r));
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char req[2048];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n",
			 method, path, headers ? headers : "");
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	size_t len = 0, cap = 65536;
	r->raw = malloc(cap + 1);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, H_IO_TIMEOUT_MS) <= 0)
			break;
		if (len == cap)
			r->raw = realloc(r->raw, (cap *= 2) + 1);
		ssize_t got = read(fd, r->raw + len, cap - len);
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	r->raw[len] = '\0';
	char *eoh = strstr(r->raw, "\r\n\r\n");
	char *eol = strstr(r->raw, "\r\n");
	if (!eoh || !eol || (size_t)(eol - r->raw) >= sizeof(r->status))
		return -1;
	memcpy(r->status, r->raw, (size_t)(eol - r->raw));
	r->body = eoh + 4;
	r->body_len = len - (size_t)(eoh + 4 - r->raw);
	return 0;
}

/* The value of header `name` (the first one), copied to `out`; NULL when absent. */
static const char *hdr(const struct resp *r, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *end = strstr(r->raw, "\r\n\r\n");
	for (const char *p = strstr(r->raw, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n")) {
		const char *l = p + 2;
		if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			l += nl + 1;
			l += strspn(l, " ");
			size_t vl = strcspn(l, "\r");
			if (vl >= cap)
				vl = cap - 1;
			memcpy(out, l, vl);
			out[vl] = '\0';
			return out;
		}
	}
	return NULL;
}

#define CHECK_HDR(r, name, want)                                                  \
	do {                                                                      \
		char hb_[256];                                                    \
		const char *w_ = (want);                                          \
		const char *g_ = hdr((r), (name), hb_, sizeof(hb_));              \
		if (w_)                                                           \
			CHECK_STR(g_, w_);                                        \
		else if (g_)                                                      \
			CHECK_STR(g_, "(absent)");                                \
	} while (0)

/* ---- the static folder ---- */

static char root[64], dir[96];

static void put(const char *in, const char *name, const char *data, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", in, name);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(data, 1, len, f);
		fclose(f);
	}
}

#define DIGITS "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"

static int folder_make(void)
{
	snprintf(root, sizeof(root), "/tmp/channels-itest-static2-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(dir, sizeof(dir), "%s/static", root);
	if (mkdir(dir, 0700) != 0)
		return -1;
	put(dir, "digits.txt", DIGITS, 100);
	put(dir, "empty.txt", "", 0);
	put(dir, "app.js", "console.log('identity');\n", 25);
	put(dir, "app.js.gz", "\x1f\x8bGZIPPED-BYTES", 16);
	put(dir, "leak.css", "body{}\n", 7);
	put(root, "outside.gz", "TOPSECRET-gz\n", 13);
	put(dir, "doc.pdf", "%PDF-1.4\n", 9);
	put(dir, "table.csv", "a,b\n", 4);
	put(dir, "font.woff2", "wOF2", 4);
	put(dir, "app.js.map", "{}", 2);
	put(dir, "blob.zzunknown", "?", 1);
	char link[160];
	snprintf(link, sizeof(link), "%s/leak.css.gz", dir);
	return symlink("../outside.gz", link);
}

static void folder_remove(void)
{
	static const char *const names[] = {"digits.txt", "empty.txt", "app.js", "app.js.gz",
					    "leak.css", "leak.css.gz", "doc.pdf", "table.csv",
					    "font.woff2", "app.js.map", "blob.zzunknown"};
	char path[256];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	snprintf(path, sizeof(path), "%s/outside.gz", root);
	unlink(path);
	rmdir(root);
}

/* ---- the tests ---- */

static void test_validators(const struct h_server *s)
{
	struct resp r;
	char etag[128] = "", lm[128] = "", h[512];
	CHECK_INT(ask(s, "GET", "/static/digits.txt", NULL, &r), 0);
	CHECK_STR(r.status, "HTTP/1.1 200 OK");
	CHECK_HDR(&r, "Content-Type", "text/plain; charset=utf-8");
	CHECK_HDR(&r, "Content-Length", "100");
	CHECK_HDR(&r, "Accept-Ranges", "bytes");
	CHECK_HDR(&r, "Vary", NULL); /* no .gz beside it */
	CHECK(hdr(&r, "ETag", etag, sizeof(etag)) && etag[0] == '"');
	CHECK(hdr(&r, "Last-Modified", lm, sizeof(lm)) && strstr(lm, " GMT"));
	CHECK(r.body_len == 100 && memcmp(r.body, DIGITS, 100) == 0);
	resp_clear(&r);

	/* If-None-Match: the tag, in a list, weak, or "*" */
	const char *inm[] = {"%s", "\"x\", %s", "W/%s", "*"};
	for (size_t i = 0; i < 4; i++) {
		char v[256];
		snprintf(v, sizeof(v), inm[i], etag);
		snprintf(h, sizeof(h), "If-None-Match: %s\r\n", v);
		CHECK_INT(ask(s, "GET", "/static/digits.txt", h, &r), 0);
		CHECK_STR(r.status, "HTTP/1.1 304 Not Modified");
		CHECK_HDR(&r, "ETag", etag);
		CHECK_HDR(&r, "Content-Length", NULL);
		CHECK_INT(r.body_len, 0);
		resp_clear(&r);
	}
	CHECK_INT(ask(s, "GET", "/static/digits.txt", "If-None-Match: \"nope\"\r\n", &r), 0);
	CHECK_STR(r.status, "HTTP/1.1 200 OK");
	resp_clear(&r);

	/* If-Modified-Since: that date or later is 304, earlier 200; a tag wins */
	snprintf(h, sizeof(h), "If-Modified-Since: %s\r\n", lm);
	CHECK_INT(ask(s, "GET", "/static/digits.txt", h, &r), 0);
	CHECK_STR(r.status, "HTTP/1.1 304 Not Modified");
	resp_clear(&r);
	CHECK_INT(ask(s, "GET", "/static/digits.txt",
		      "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n", &r), 0);
	CHECK_STR(r.status, "HTTP/1.1 304 Not Modified");
	resp_clear(&r);
	CHECK_INT(ask(s, "GET", "/static/digits.txt",
		      "If-Modified-Since: Thu, 01 Jan 1998 00:00:00 GMT\r\n", &r), 0);
	CHECK_STR(r.status, "HTTP/1.1 200 OK");
	resp_clear(&r);
	snprintf(h, sizeof(h), "If-None-Match: \"nope\"\r\nIf-Modified-Since: %s\r\n", lm);
	CHECK_INT(ask(s, "GET", "/static/digits.txt", h, &r), 0);
	CHECK_STR(r.status, "HTTP/1.1 200 OK");
	resp_clear(&r);
	CHECK_INT(ask(s, "GET", "/static/digits.txt", "If-Modified-Since: yesterday\r\n", &r), 0);
	CHECK_STR(r.status, "HTTP/1.1 200 OK");
	resp_clear(&r);

	/* HEAD: the same fields as GET, no body */
	CHECK_INT(ask(s, "HEAD", "/static/digits.txt", NULL, &r), 0);
	CHECK_STR(r.status, "HTTP/1.1 200 OK");
	CHECK_HDR(&r, "Content-Length", "100");
	CHECK_HDR(&r, "ETag", etag);
	CHECK_HDR(&r, "Last-Modified", lm);
	CHECK_HDR(&r, "Content-Type", "text/plain; charset=utf-8");
	CHECK_HDR(&r, "Accept-Ranges", "bytes");
	CHECK_INT(r.body_len, 0);
	resp_clear(&r);
}

/* GET with `range` (and `extra` header lines): status line, Content-Range,
 * Content-Length and the body. `body` NULL: whatever it is. */
static void range_case(const struct h_server *s, const char *path, const char *range,
		       const char *extra, const char *status, const char *crange, const char *clen,
		       const char *body)
{
	struct resp r;
	char h[512];
	snprintf(h, sizeof(h), "Range: %s\r\n%s", range, extra ? extra : "");
	CHECK_INT(ask(s, "GET", path, h, &r), 0);
	if (strcmp(r.status, status) != 0)
		fprintf(stderr, "Range: %s %s\n", range, extra ? extra : "");
	CHECK_STR(r.status, status);
	CHECK_HDR(&r, "Content-Range", crange);
	CHECK_HDR(&r, "Content-Length", clen);
	if (body) {
		CHECK_INT(r.body_len, strlen(body));
		CHECK(r.body_len == strlen(body) && memcmp(r.body, body, r.body_len) == 0);
	}
	resp_clear(&r);
}

static void test_ranges(const struct h_server *s)
{
	const char *p = "/static/digits.txt", *ok = "HTTP/1.1 206 Partial Content";
	const char *no = "HTTP/1.1 416 Range Not Satisfiable", *all = "HTTP/1.1 200 OK";
	range_case(s, p, "bytes=0-9", NULL, ok, "bytes 0-9/100", "10", "0123456789");
	range_case(s, p, "bytes=15-17", NULL, ok, "bytes 15-17/100", "3", "567");
	range_case(s, p, "bytes=95-", NULL, ok, "bytes 95-99/100", "5", "56789");
	range_case(s, p, "bytes=-3", NULL, ok, "bytes 97-99/100", "3", "789");
	range_case(s, p, "bytes=90-1000", NULL, ok, "bytes 90-99/100", "10", "0123456789");
	range_case(s, p, "bytes=-500", NULL, ok, "bytes 0-99/100", "100", DIGITS);
	range_case(s, p, "bytes=99-99", NULL, ok, "bytes 99-99/100", "1", "9");
	range_case(s, p, "BYTES=0-0", NULL, ok, "bytes 0-0/100", "1", "0");
	/* unsatisfiable */
	range_case(s, p, "bytes=100-", NULL, no, "bytes */100", "0", "");
	range_case(s, p, "bytes=100-200", NULL, no, "bytes */100", "0", "");
	range_case(s, p, "bytes=-0", NULL, no, "bytes */100", "0", "");
	range_case(s, "/static/empty.txt", "bytes=0-", NULL, no, "bytes */0", "0", "");
	/* ignored: the whole file */
	range_case(s, p, "bytes=0-1,5-6", NULL, all, NULL, "100", DIGITS);
	range_case(s, p, "items=0-1", NULL, all, NULL, "100", DIGITS);
	range_case(s, p, "bytes=5-1", NULL, all, NULL, "100", DIGITS);
	range_case(s, p, "bytes=x-", NULL, all, NULL, "100", DIGITS);
	range_case(s, p, "bytes=1-2x", NULL, all, NULL, "100", DIGITS);

	/* If-Range: the current ETag or date applies the range; another
	 * validator (or a weak tag) gives the whole file */
	struct resp r;
	char etag[128] = "", lm[128] = "", h[512];
	CHECK_INT(ask(s, "GET", p, NULL, &r), 0);
	hdr(&r, "ETag", etag, sizeof(etag));
	hdr(&r, "Last-Modified", lm, sizeof(lm));
	resp_clear(&r);
	snprintf(h, sizeof(h), "If-Range: %s\r\n", etag);
	range_case(s, p, "bytes=0-1", h, ok, "bytes 0-1/100", "2", "01");
	snprintf(h, sizeof(h), "If-Range: %s\r\n", lm);
	range_case(s, p, "bytes=0-1", h, ok, "bytes 0-1/100", "2", "01");
	range_case(s, p, "bytes=0-1", "If-Range: \"old\"\r\n", all, NULL, "100", DIGITS);
	snprintf(h, sizeof(h), "If-Range: W/%s\r\n", etag);
	range_case(s, p, "bytes=0-1", h, all, NULL, "100", DIGITS);
	range_case(s, p, "bytes=0-1", "If-Range: Thu, 01 Jan 1998 00:00:00 GMT\r\n", all, NULL,
		   "100", DIGITS);
	range_case(s, p, "bytes=500-", "If-Range: \"old\"\r\n", all, NULL, "100", DIGITS);

	/* HEAD ignores Range (RFC 9110 14.2: only GET has ranges) */
	CHECK_INT(ask(s, "HEAD", p, "Range: bytes=0-9\r\n", &r), 0);
	CHECK_STR(r.status, "HTTP/1.1 200 OK");
	CHECK_HDR(&r, "Content-Length", "100");
	CHECK_HDR(&r, "Content-Range", NULL);
	resp_clear(&r);
}

static void test_gzip(const struct h_server *s)
{
	struct resp r;
	char id_etag[128] = "", gz_etag[128] = "", h[512];
	const char *p = "/static/app.js";
	CHECK_INT(ask(s, "GET", p, NULL, &r), 0);
	CHECK_STR(r.status, "HTTP/1.1 200 OK");
	CHECK_HDR(&r, "Content-Encoding", NULL);
	CHECK_HDR(&r, "Vary", "Accept-Encoding");
	CHECK_HDR(&r, "Content-Type", "text/javascript; charset=utf-8");
	CHECK_HDR(&r, "Content-Length", "25");
	hdr(&r, "ETag", id_etag, sizeof(id_etag));
	CHECK(r.body_len == 25 && memcmp(r.body, "console.log", 11) == 0);
	resp_clear(&r);

	const char *yes[] = {"gzip", "deflate, gzip, br", "GZIP;q=0.5", "*", "br;q=1, *;q=0.1"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(h, sizeof(h), "Accept-Encoding: %s\r\n", yes[i]);
		CHECK_INT(ask(s, "GET", p, h, &r), 0);
		CHECK_STR(r.status, "HTTP/1.1 200 OK");
		CHECK_HDR(&r, "Content-Encoding", "gzip");
		CHECK_HDR(&r, "Vary", "Accept-Encoding");
		CHECK_HDR(&r, "Content-Type", "text/javascript; charset=utf-8");
		CHECK_HDR(&r, "Content-Length", "16");
		hdr(&r, "ETag", gz_etag, sizeof(gz_etag));
		CHECK(r.body_len == 16 && memcmp(r.body, "\x1f\x8bGZIPPED-BYTES", 16) == 0);
		resp_clear(&r);
	}
	CHECK(gz_etag[0] == '"' && strcmp(gz_etag, id_etag) != 0);
	const char *no[] = {"deflate, br", "gzip;q=0", "*;q=0", "gzip;q=0, *", "identity"};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(h, sizeof(h), "Accept-Encoding: %s\r\n", no[i]);
		CHECK_INT(ask(s, "GET", p, h, &r), 0);
		CHECK_HDR(&r, "Content-Encoding", NULL);
		CHECK_HDR(&r, "Vary", "Accept-Encoding");
		CHECK_HDR(&r, "Content-Length", "25");
		resp_clear(&r);
	}

	/* HEAD: the same fields; the gzip tag revalidates the gzip copy only */
	CHECK_INT(ask(s, "HEAD", p, "Accept-Encoding: gzip\r\n", &r), 0);
	CHECK_STR(r.status, "HTTP/1.1 200 OK");
	CHECK_HDR(&r, "Content-Encoding", "gzip");
	CHECK_HDR(&r, "Vary", "Accept-Encoding");
	CHECK_HDR(&r, "Content-Length", "16");
	CHECK_HDR(&r, "ETag", gz_etag);
	CHECK_INT(r.body_len, 0);
	resp_clear(&r);
	snprintf(h, sizeof(h), "Accept-Encoding: gzip\r\nIf-None-Match: %s\r\n", gz_etag);
	CHECK_INT(ask(s, "GET", p, h, &r), 0);
	CHECK_STR(r.status, "HTTP/1.1 304 Not Modified");
	CHECK_HDR(&r, "Vary", "Accept-Encoding");
	resp_clear(&r);
	snprintf(h, sizeof(h), "If-None-Match: %s\r\n", gz_etag);
	CHECK_INT(ask(s, "GET", p, h, &r), 0);
	CHECK_STR(r.status, "HTTP/1.1 200 OK");
	resp_clear(&r);
	/* a range of the gzip copy */
	range_case(s, p, "bytes=0-1", "Accept-Encoding: gzip\r\n", "HTTP/1.1 206 Partial Content",
		   "bytes 0-1/16", "2", "\x1f\x8b");

	/* leak.css.gz links out of the root: never served, in any way */
	CHECK_INT(ask(s, "GET", "/static/leak.css", "Accept-Encoding: gzip\r\n", &r), 0);
	CHECK_STR(r.status, "HTTP/1.1 200 OK");
	CHECK_HDR(&r, "Content-Encoding", NULL);
	CHECK_HDR(&r, "Vary", NULL);
	CHECK(r.body_len == 7 && memcmp(r.body, "body{}\n", 7) == 0);
	CHECK(!strstr(r.raw, "TOPSECRET"));
	resp_clear(&r);
	CHECK_INT(ask(s, "GET", "/static/leak.css.gz", NULL, &r), 0);
	CHECK_STR(r.status, "HTTP/1.1 404 Not Found");
	CHECK(!strstr(r.raw, "TOPSECRET"));
	resp_clear(&r);
	CHECK_INT(ask(s, "GET", "/static/../outside.gz", "Accept-Encoding: gzip\r\n", &r), 0);
	CHECK(strncmp(r.status, "HTTP/1.1 4", 10) == 0);
	CHECK(!strstr(r.raw, "TOPSECRET"));
	resp_clear(&r);
}

static void test_mime(const struct h_server *s)
{
	static const struct {
		const char *path, *type;
	} cases[] = {
		/* from /etc/mime.types (Debian's media-types) */
		{"/static/doc.pdf", "application/pdf"},
		{"/static/table.csv", "text/csv; charset=utf-8"},
		{"/static/font.woff2", "font/woff2"},
		{"/static/app.js", "text/javascript; charset=utf-8"},
		/* not in it: the built-in table, then application/octet-stream */
		{"/static/app.js.map", "application/json"},
		{"/static/blob.zzunknown", "application/octet-stream"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct resp r;
		CHECK_INT(ask(s, "GET", cases[i].path, NULL, &r), 0);
		CHECK_STR(r.status, "HTTP/1.1 200 OK");
		CHECK_HDR(&r, "Content-Type", cases[i].type);
		resp_clear(&r);
	}
}

int main(int argc, char **argv)
{
	struct h_server s;
	h_init(argc, argv, &check_failed);
	if (access("/etc/mime.types", R_OK) != 0) {
		printf("SKIP: /etc/mime.types missing (Debian package media-types; "
		       "scripts/install-deps.sh installs it)\n");
		return 77;
	}
	CHECK_INT(folder_make(), 0);
	const char *extra[] = {"--static-dir", dir, NULL};
	if (h_server_start(&s, extra) == 0) {
		test_validators(&s);
		test_ranges(&s);
		test_gzip(&s);
		test_mime(&s);
		CHECK(!h_server_log_has(&s, " ERROR "));
		CHECK(!h_server_log_has(&s, "mime.types"));
		CHECK_INT(h_server_stop(&s), 0);
	} else {
		CHECK(!"server started");
	}
	folder_remove();
	return check_finish();
}
