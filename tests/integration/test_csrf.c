/*
 * test_csrf.c - the CSRF check of unsafe requests as Django 4.x's
 * CsrfViewMiddleware: the Origin header must be the request's own origin
 * (http://<Host>) or in --csrf-trusted-origins; the Referer is not checked
 * on plain http; several csrftoken cookies with different values (cookie
 * tossing from a sibling subdomain) fail closed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"

#define TRUSTED "https://trusted.example, http://*.example.net"

/* POST /chat/ (the login form) with the cookies of `jar` (may be NULL),
 * the extra header lines `hdrs` and the form token `token`: the status,
 * or -1. `body_has` (may be NULL) must be in the response body. */
static int post_form(const struct h_server *s, struct h_jar *jar, const char *hdrs,
		     const char *token, const char *body_has)
{
	char body[256];
	snprintf(body, sizeof(body), "username=olga&room=lobby&csrfmiddlewaretoken=%s", token);
	struct client_response r;
	if (h_http(s, "POST", "/chat/", jar, hdrs, body, strlen(body), &r) != 0)
		return -1;
	int status = r.status;
	if (body_has)
		CHECK_CONTAINS(r.body, body_has);
	client_response_clear(&r);
	return status;
}

/* post_form() with a valid token from `jar`. */
static int post_login(const struct h_server *s, struct h_jar *jar, const char *hdrs,
		      const char *body_has)
{
	return post_form(s, jar, hdrs, jar->csrftoken, body_has);
}

static void test_origin(const struct h_server *s)
{
	struct h_jar jar = {0};
	struct client_response r;
	CHECK_INT(h_http(s, "GET", "/chat/", &jar, NULL, NULL, 0, &r), 0);
	client_response_clear(&r);
	CHECK_INT(strlen(jar.csrftoken), 32);

	/* No Origin (not a browser, or an old one): the token decides. */
	CHECK_INT(post_login(s, &jar, NULL, NULL), 302);

	/* The request's own origin, built from its Host header. */
	char hdr[256];
	snprintf(hdr, sizeof(hdr), "Origin: http://127.0.0.1:%d\r\n", s->port);
	CHECK_INT(post_login(s, &jar, hdr, NULL), 302);
	CHECK_INT(post_login(s, &jar, "Host: shop.example\r\nOrigin: http://shop.example\r\n",
			     NULL),
		  302);

	/* Another site, even with the right token (the cookie and the token can
	 * be had from a sibling subdomain, or a page the attacker controls). */
	CHECK_INT(post_login(s, &jar, "Origin: http://evil.example\r\n",
			     "Origin checking failed - http://evil.example does not match any "
			     "trusted origins."),
		  403);
	CHECK(h_server_log_has(s, "Origin checking failed - http://evil.example"));
	/* Exact comparison, as Django: the scheme, the port and "null" count. */
	snprintf(hdr, sizeof(hdr), "Origin: https://127.0.0.1:%d\r\n", s->port);
	CHECK_INT(post_login(s, &jar, hdr, "Origin checking failed"), 403);
	CHECK_INT(post_login(s, &jar, "Origin: http://127.0.0.1\r\n", "Origin checking failed"),
		  403);
	CHECK_INT(post_login(s, &jar, "Origin: null\r\n", "Origin checking failed"), 403);
	CHECK_INT(post_login(s, &jar, "Host: shop.example\r\nOrigin: http://shop.example.evil\r\n",
			     "Origin checking failed"),
		  403);

	/* --csrf-trusted-origins: exact entries, and "*." for subdomains. */
	CHECK_INT(post_login(s, &jar, "Origin: https://trusted.example\r\n", NULL), 302);
	CHECK_INT(post_login(s, &jar, "Origin: http://trusted.example\r\n",
			     "Origin checking failed"),
		  403);
	CHECK_INT(post_login(s, &jar, "Origin: http://a.example.net\r\n", NULL), 302);
	CHECK_INT(post_login(s, &jar, "Origin: http://example.net\r\n", NULL), 302);
	CHECK_INT(post_login(s, &jar, "Origin: https://a.example.net\r\n",
			     "Origin checking failed"),
		  403);
	CHECK_INT(post_login(s, &jar, "Origin: http://badexample.net\r\n",
			     "Origin checking failed"),
		  403);

	/* A trusted Origin does not replace the token. */
	struct client_response r2;
	const char *form = "username=olga&room=lobby";
	CHECK_INT(h_http(s, "POST", "/chat/", &jar, "Origin: https://trusted.example\r\n", form,
			 strlen(form), &r2),
		  0);
	CHECK_INT(r2.status, 403);
	CHECK_CONTAINS(r2.body, "CSRF token missing.");
	client_response_clear(&r2);

	/* Plain http: the Referer is not checked (Django checks it only on
	 * secure requests, where it is not stripped by the browser). */
	CHECK_INT(post_login(s, &jar, "Referer: http://evil.example/page\r\n", NULL), 302);

	/* The origin check comes first, also where the method is not allowed. */
	char body[sizeof("csrfmiddlewaretoken=") + sizeof(jar.csrftoken)];
	snprintf(body, sizeof(body), "csrfmiddlewaretoken=%s", jar.csrftoken);
	CHECK_INT(h_http(s, "DELETE", "/chat/", &jar, "Origin: http://evil.example\r\n", body,
			 strlen(body), &r2),
		  0);
	CHECK_INT(r2.status, 403);
	CHECK_CONTAINS(r2.body, "Origin checking failed");
	client_response_clear(&r2);
}

/* POST /chat/ with the raw Cookie header `cookies` and the form token
 * `token`: the status, or -1. */
static int post_cookies(const struct h_server *s, const char *cookies, const char *token,
			const char *body_has)
{
	char hdr[512];
	snprintf(hdr, sizeof(hdr), "Cookie: %s\r\n", cookies);
	return post_form(s, NULL, hdr, token, body_has);
}

static void test_cookie_tossing(const struct h_server *s)
{
	const char *ours = "0123456789abcdef0123456789abcdef";
	const char *tossed = "fedcba9876543210fedcba9876543210";
	char c[256];

	/* One cookie: its token passes, another does not. */
	CHECK_INT(post_cookies(s, "csrftoken=0123456789abcdef0123456789abcdef", ours, NULL), 302);
	CHECK_INT(post_cookies(s, "csrftoken=0123456789abcdef0123456789abcdef", tossed,
			       "CSRF token incorrect."),
		  403);
	/* The same value twice (two paths of one site) is not ambiguous. */
	snprintf(c, sizeof(c), "csrftoken=%s; sessionid=x; csrftoken=%s", ours, ours);
	CHECK_INT(post_cookies(s, c, ours, NULL), 302);

	/* A sibling subdomain tossed a csrftoken for the parent domain: with
	 * a longer Path it comes first, set later it comes last. Whichever
	 * value the attacker submits, and in either order: 403. */
	const char *orders[2][2] = {{tossed, ours}, {ours, tossed}};
	for (int o = 0; o < 2; o++) {
		snprintf(c, sizeof(c), "csrftoken=%s; csrftoken=%s", orders[o][0], orders[o][1]);
		CHECK_INT(post_cookies(s, c, tossed, "CSRF cookie ambiguous"), 403);
		CHECK_INT(post_cookies(s, c, ours, "CSRF cookie ambiguous"), 403);
	}
	/* An empty tossed value is a different value too. */
	snprintf(c, sizeof(c), "csrftoken=%s; csrftoken=", ours);
	CHECK_INT(post_cookies(s, c, ours, "CSRF cookie ambiguous"), 403);
}

int main(int argc, char **argv)
{
	struct h_server s;
	h_init(argc, argv, &check_failed);
	const char *extra[] = {"--csrf-trusted-origins", TRUSTED, "--allowed-hosts", "127.0.0.1, shop.example",
			       NULL};
	if (h_server_start(&s, extra) == 0) {
		test_origin(&s);
		test_cookie_tossing(&s);
		CHECK(!h_server_log_has(&s, " ERROR "));
		CHECK_INT(h_server_stop(&s), 0);
	} else {
		CHECK(!"server started");
	}
	/* As Django 4: each trusted origin must start with a scheme. */
	const char *bad[] = {"--csrf-trusted-origins", "https://ok.example, trusted.example", NULL};
	fprintf(stderr, "expected: a server refusing to start on a trusted origin without a scheme\n");
	CHECK(h_server_start(&s, bad) != 0);
	return check_finish();
}
