/*
 * test_http.c - the real server's HTTP side: pages, 404/405, CSRF, static
 * files (content type, ETag, 304, traversal), the body size limit, the chat
 * login form and its session cookie; on IPv6 loopback, the start line's URL
 * in brackets and a page served.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"

/* The start of the source tree's meson.build: must never be served. */
#define MESON_MARK "project('channels-c'"

static bool starts_with(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int header_count(const struct client_response *r, const char *name)
{
	int n = 0;
	for (size_t i = 0; i < r->n_headers; i++)
		n += strcmp(r->header_names[i], name) == 0;
	return n;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = '\0';
	*len = (size_t)n;
	fclose(f);
	return buf;
}

static void test_pages(const struct h_server *s)
{
	struct client_response r;

	CHECK_INT(h_http(s, "GET", "/", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK(starts_with(client_response_header(&r, "content-type"), "text/html"));
	CHECK_CONTAINS(r.body, "<html");
	client_response_clear(&r);

	CHECK_INT(h_http(s, "GET", "/healthz", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "ok\n");
	/* Security headers once each: two policies would both be enforced. */
	static const char *const once[] = {"content-security-policy", "x-frame-options",
					   "x-content-type-options", "referrer-policy",
					   "content-type"};
	for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++) {
		int n = header_count(&r, once[i]);
		if (n != 1)
			fprintf(stderr, "GET /healthz: %d '%s' headers\n", n, once[i]);
		CHECK_INT(n, 1);
	}
	CHECK(starts_with(client_response_header(&r, "content-type"), "text/plain"));
	client_response_clear(&r);

	CHECK_INT(h_http(s, "GET", "/no/such/page/", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 404);
	CHECK(starts_with(client_response_header(&r, "content-type"), "text/html"));
	CHECK_CONTAINS(r.body, "<html");
	CHECK_CONTAINS(r.body, "404");
	client_response_clear(&r);

	/* HEAD: the headers of GET, no body. */
	CHECK_INT(h_http(s, "HEAD", "/healthz", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.body_len, 0);
	client_response_clear(&r);
}

static void test_methods_and_csrf(const struct h_server *s)
{
	struct client_response r;
	struct h_jar jar = {0};
	const char *form = "username=eve&room=lobby";

	/* As Django's CsrfViewMiddleware: an unsafe method without a token is refused. */
	CHECK_INT(h_http(s, "POST", "/", NULL, NULL, form, strlen(form), &r), 0);
	CHECK_INT(r.status, 403);
	client_response_clear(&r);

	/* The same without a body (Content-Length: 0). */
	CHECK_INT(h_http(s, "POST", "/", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 403);
	client_response_clear(&r);

	CHECK_INT(h_http(s, "POST", "/chat/", NULL, NULL, form, strlen(form), &r), 0);
	CHECK_INT(r.status, 403);
	CHECK_CONTAINS(r.body, "CSRF");
	CHECK(h_set_cookie(&r, "sessionid") == NULL);
	client_response_clear(&r);

	/* The cookie alone is not enough: the form must repeat the token. */
	CHECK_INT(h_http(s, "GET", "/chat/", &jar, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(strlen(jar.csrftoken), 32);
	client_response_clear(&r);
	CHECK_INT(h_http(s, "POST", "/chat/", &jar, NULL, form, strlen(form), &r), 0);
	CHECK_INT(r.status, 403);
	client_response_clear(&r);
	char body[256];
	snprintf(body, sizeof(body), "%s&csrfmiddlewaretoken=%032d", form, 7);
	CHECK_INT(h_http(s, "POST", "/chat/", &jar, NULL, body, strlen(body), &r), 0);
	CHECK_INT(r.status, 403);
	client_response_clear(&r);

	/* The X-CSRFToken header is the other way to send it (fetch() in pages). */
	char hdr[sizeof("X-CSRFToken: \r\n") + sizeof(jar.csrftoken)]; /* fits any jar token */
	snprintf(hdr, sizeof(hdr), "X-CSRFToken: %s\r\n", jar.csrftoken);
	CHECK_INT(h_http(s, "POST", "/chat/", &jar, hdr, form, strlen(form), &r), 0);
	CHECK_INT(r.status, 302);
	client_response_clear(&r);

	/* CSRF is checked before the method, as Django's middleware runs before
	 * the view: without the token a DELETE is 403, with it 405 + Allow. */
	CHECK_INT(h_http(s, "DELETE", "/chat/", &jar, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 403);
	client_response_clear(&r);
	CHECK_INT(h_http(s, "DELETE", "/chat/", &jar, hdr, NULL, 0, &r), 0);
	CHECK_INT(r.status, 405);
	const char *allow = client_response_header(&r, "allow");
	CHECK(allow != NULL);
	CHECK_CONTAINS(allow, "GET");
	CHECK_CONTAINS(allow, "POST");
	CHECK(!allow || !strstr(allow, "DELETE"));
	client_response_clear(&r);
}

static void test_static(const struct h_server *s)
{
	struct client_response r;
	size_t css_len = 0;
	char *css_path = h_src_path("static/css/site.css");
	char *css = read_file(css_path, &css_len);
	free(css_path);
	CHECK(css != NULL);

	CHECK_INT(h_http(s, "GET", "/static/css/site.css", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK(starts_with(client_response_header(&r, "content-type"), "text/css"));
	CHECK_INT(r.body_len, css_len);
	CHECK(css && r.body && r.body_len == css_len && memcmp(r.body, css, css_len) == 0);
	const char *etag = client_response_header(&r, "etag");
	CHECK(etag != NULL && strlen(etag) > 2);
	char hdr[256] = "";
	if (etag)
		snprintf(hdr, sizeof(hdr), "If-None-Match: %s\r\n", etag);
	client_response_clear(&r);
	free(css);

	CHECK_INT(h_http(s, "GET", "/static/css/site.css", NULL, hdr, NULL, 0, &r), 0);
	CHECK_INT(r.status, 304);
	CHECK_INT(r.body_len, 0);
	client_response_clear(&r);

	/* A different validator is not a match. */
	CHECK_INT(h_http(s, "GET", "/static/css/site.css", NULL, "If-None-Match: \"nope\"\r\n",
			 NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	client_response_clear(&r);

	CHECK_INT(h_http(s, "GET", "/static/css/no-such.css", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 404);
	client_response_clear(&r);

	CHECK_INT(h_http(s, "POST", "/static/css/site.css", NULL, NULL, "a=b", 3, &r), 0);
	CHECK(r.status == 405 || r.status == 403);
	client_response_clear(&r);
}

/* GET `path` must not answer 200 nor show `secret` anywhere. */
static void check_refused(const struct h_server *s, const char *path, const char *secret)
{
	struct client_response r;
	int rc = h_http(s, "GET", path, NULL, NULL, NULL, 0, &r);
	/* An error status, or the connection dropped: both are refusals. */
	if (rc == 0) {
		if (r.status == 200 || r.status < 400)
			fprintf(stderr, "GET %s answered %d\n", path, r.status);
		CHECK(r.status >= 400);
		CHECK(!r.body || !strstr(r.body, secret));
	} else {
		CHECK(rc == CH_EIO || rc == CH_EPROTO);
	}
	client_response_clear(&r);
	CHECK_INT(h_healthz(s), 0);
}

static void test_traversal_tree(const struct h_server *s)
{
	static const char *const paths[] = {
		"/static/../meson.build",       "/static/%2e%2e/meson.build",
		"/static/..%2fmeson.build",     "/static/%2e%2e%2fmeson.build",
		"/static/css/../../meson.build", "/static/css/..%2f..%2fmeson.build",
		"/static/%2E%2E/meson.build",   "/static/..%5cmeson.build",
		"/static/./../meson.build",     "/static//../meson.build",
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		check_refused(s, paths[i], MESON_MARK);
	check_refused(s, "/static/%2fetc/passwd", "root:");
	check_refused(s, "/static//etc/passwd", "root:");
}

/* A static folder of our own, so hidden files and links that escape it exist. */
struct tmp_static {
	char root[64];
	char dir[96];
};

static void write_text(const char *dir, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int tmp_static_make(struct tmp_static *t)
{
	snprintf(t->root, sizeof(t->root), "/tmp/channels-itest-static-XXXXXX");
	if (!mkdtemp(t->root))
		return -1;
	snprintf(t->dir, sizeof(t->dir), "%s/static", t->root);
	if (mkdir(t->dir, 0700) != 0)
		return -1;
	write_text(t->root, "secret.txt", "TOPSECRET-outside\n");
	write_text(t->dir, ".hidden", "TOPSECRET-hidden\n");
	write_text(t->dir, "ok.txt", "visible\n");
	char link[160];
	snprintf(link, sizeof(link), "%s/link.txt", t->dir);
	return symlink("../secret.txt", link);
}

static void tmp_static_remove(struct tmp_static *t)
{
	char path[160];
	const char *const names[] = {"link.txt", "ok.txt", ".hidden"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", t->dir, names[i]);
		unlink(path);
	}
	rmdir(t->dir);
	snprintf(path, sizeof(path), "%s/secret.txt", t->root);
	unlink(path);
	rmdir(t->root);
}

static void test_traversal_own_dir(const struct h_server *s)
{
	struct client_response r;
	CHECK_INT(h_http(s, "GET", "/static/ok.txt", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "visible\n");
	client_response_clear(&r);

	check_refused(s, "/static/.hidden", "TOPSECRET");
	check_refused(s, "/static/%2ehidden", "TOPSECRET");
	check_refused(s, "/static/link.txt", "TOPSECRET");
	check_refused(s, "/static/../secret.txt", "TOPSECRET");
	check_refused(s, "/static/%2e%2e/secret.txt", "TOPSECRET");
	check_refused(s, "/static/..%2fsecret.txt", "TOPSECRET");
	check_refused(s, "/static/%2e%2e%2fsecret.txt", "TOPSECRET");
}

static void test_body_limit(const struct h_server *s)
{
	struct client_response r;
	struct h_jar jar = {0};
	char chunked_small[400];
	CHECK_INT(h_http(s, "GET", "/posts/", &jar, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	client_response_clear(&r);

	char *body = malloc(6000);
	int n = snprintf(body, 6000, "csrfmiddlewaretoken=%s&message=", jar.csrftoken);
	memset(body + n, 'x', (size_t)(5000 - n));
	body[5000] = '\0';
	CHECK_INT(h_http(s, "POST", "/posts/", &jar, NULL, body, 5000, &r), 0);
	CHECK_INT(r.status, 413);
	client_response_clear(&r);

	/* The same without a Content-Length: chunked, 5 chunks of 1000. */
	char *chunked = malloc(6000);
	size_t off = 0;
	for (int i = 0; i < 5; i++) {
		off += (size_t)sprintf(chunked + off, "3e8\r\n");
		memcpy(chunked + off, body + i * 1000, 1000);
		off += 1000;
		off += (size_t)sprintf(chunked + off, "\r\n");
	}
	off += (size_t)sprintf(chunked + off, "0\r\n\r\n");
	int rc = h_http_ex(s, "POST", "/posts/", &jar, "Transfer-Encoding: chunked\r\n", chunked,
			   off, 3000, &r);
	/* A chunked body is read and held to the same limit: 413, not a
	 * dropped connection or no answer. */
	CHECK_INT(rc, 0);
	CHECK_INT(r.status, 413);
	client_response_clear(&r);
	free(chunked);

	/* A small chunked body is accepted like one with a Content-Length
	 * (until the HTTP/1.1 reader replaced lws' HTTP role, both were 411). */
	char small[300];
	int sn = snprintf(small, sizeof(small), "csrfmiddlewaretoken=%s&message=chunked",
			  jar.csrftoken);
	off = (size_t)sprintf(chunked_small, "%x\r\n%s\r\n0\r\n\r\n", sn, small);
	rc = h_http_ex(s, "POST", "/posts/", &jar, "Transfer-Encoding: chunked\r\n", chunked_small,
		       off, 3000, &r);
	CHECK_INT(rc, 0);
	CHECK_INT(r.status, 302);
	client_response_clear(&r);

	/* Under the limit the same form is accepted. */
	body[900] = '\0';
	CHECK_INT(h_http(s, "POST", "/posts/", &jar, NULL, body, 900, &r), 0);
	CHECK_INT(r.status, 302);
	client_response_clear(&r);
	free(body);
	CHECK_INT(h_healthz(s), 0);
}

/* POST /chat/ (the login form) with `fields` and jar's CSRF token; the
 * request must get an answer, left in `r`. */
static void post_login_form(const struct h_server *s, struct h_jar *jar, const char *fields,
			    struct client_response *r)
{
	char body[256];
	snprintf(body, sizeof(body), "%s&csrfmiddlewaretoken=%s", fields, jar->csrftoken);
	CHECK_INT(h_http(s, "POST", "/chat/", jar, NULL, body, strlen(body), r), 0);
}

static void test_login_form(const struct h_server *s)
{
	struct client_response r;
	struct h_jar jar = {0};

	CHECK_INT(h_http(s, "GET", "/chat/", &jar, NULL, NULL, 0, &r), 0);
	client_response_clear(&r);

	post_login_form(s, &jar, "username=alice&room=bad+room%21", &r);
	CHECK_INT(r.status, 400);
	CHECK_CONTAINS(r.body, "Room names are 1 to 64 letters, digits or _.");
	CHECK(h_set_cookie(&r, "sessionid") == NULL);
	client_response_clear(&r);

	post_login_form(s, &jar, "username=+++&room=lobby", &r);
	CHECK_INT(r.status, 400);
	CHECK_CONTAINS(r.body, "Pick a display name of 1 to 32 characters.");
	client_response_clear(&r);

	post_login_form(s, &jar, "username=alice&room=lobby", &r);
	CHECK_INT(r.status, 302);
	CHECK_STR(client_response_header(&r, "location"), "/chat/lobby/");
	const char *cookie = h_set_cookie(&r, "sessionid");
	CHECK(cookie != NULL);
	CHECK_CONTAINS(cookie, "HttpOnly");
	CHECK_CONTAINS(cookie, "SameSite=Lax");
	CHECK_CONTAINS(cookie, "Path=/");
	client_response_clear(&r);

	/* The session carries the name to the room page. */
	CHECK_INT(h_http(s, "GET", "/chat/lobby/", &jar, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "<strong>alice</strong>");
	client_response_clear(&r);

	/* A forged (unsigned) session is ignored: the visitor gets an anonymous name. */
	struct h_jar forged = jar;
	snprintf(forged.sessionid, sizeof(forged.sessionid), "eyJ1c2VybmFtZSI6Im1hbGxvcnkifQ");
	CHECK_INT(h_http(s, "GET", "/chat/lobby/", &forged, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "<strong>anon-");
	client_response_clear(&r);
}

/* True when this machine can listen on [::1]. */
static bool ipv6_loopback(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* --host ::1: the start line says http://[::1]:PORT/ (a URL one can paste),
 * and GET /healthz over IPv6 answers 200. */
static void test_ipv6_start_line(void)
{
	if (!ipv6_loopback()) {
		printf("SKIP part: no IPv6 loopback here (--host ::1 not tried)\n");
		return;
	}
	struct h_server s;
	const char *extra[] = {"--host", "::1", NULL};
	if (h_server_start(&s, extra) != 0) {
		CHECK(!"server on --host ::1 started");
		return;
	}
	char want[64];
	snprintf(want, sizeof(want), "listening on http://[::1]:%d/ (", s.port);
	CHECK(h_server_log_has(&s, want));
	CHECK(!h_server_log_has(&s, "http://::1:"));

	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT,
				 .sin6_port = htons((uint16_t)s.port)};
	char buf[4096] = "";
	size_t len = 0;
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		char req[128];
		int n = snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: [::1]:%d\r\n"
				 "Connection: close\r\n\r\n", s.port);
		CHECK_INT(write(fd, req, (size_t)n), n);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		while (len < sizeof(buf) - 1 && poll(&p, 1, H_IO_TIMEOUT_MS) > 0) {
			ssize_t got = read(fd, buf + len, sizeof(buf) - 1 - len);
			if (got <= 0)
				break;
			len += (size_t)got;
		}
		buf[len] = '\0';
	}
	if (fd >= 0)
		close(fd);
	CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	CHECK_INT(h_server_stop(&s), 0);
}

int main(int argc, char **argv)
{
	struct h_server s;
	h_init(argc, argv, &check_failed);

	if (h_server_start(&s, NULL) == 0) {
		test_pages(&s);
		test_methods_and_csrf(&s);
		test_static(&s);
		test_traversal_tree(&s);
		test_login_form(&s);
		/* Error pages (403, 404, 405) render without a template error. */
		CHECK(!h_server_log_has(&s, " ERROR "));
		CHECK_INT(h_server_stop(&s), 0);
	} else {
		CHECK(!"server started");
	}

	struct tmp_static ts;
	CHECK_INT(tmp_static_make(&ts), 0);
	const char *extra[] = {"--max-body-size", "1024", "--static-dir", ts.dir, NULL};
	if (h_server_start(&s, extra) == 0) {
		test_body_limit(&s);
		test_traversal_own_dir(&s);
		CHECK(!h_server_log_has(&s, " ERROR "));
		CHECK_INT(h_server_stop(&s), 0);
	} else {
		CHECK(!"server with --max-body-size 1024 started");
	}
	tmp_static_remove(&ts);
	test_ipv6_start_line();
	return check_finish();
}
