/*
 * test_proxy.c - server/proxy.c without sockets of the network: the trust
 * list (--forwarded-allow-ips: IPs, CIDRs, IPv4-mapped IPv6, "*"), the
 * client of a request from a trusted peer (a unix socketpair: always
 * trusted) and from an untrusted one (a TCP peer outside the list), the
 * X-Forwarded-For and Forwarded walks, and the --root-path helpers.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "server_int.h"

static void test_trust_list(void)
{
	struct server_proxy p;
	char err[128] = "";
	CHECK_INT(server__proxy_init(&p, "127.0.0.1, 10.0.0.0/8,2001:db8::/32", err, sizeof(err)), 0);
	CHECK(server__proxy_trusts(&p, "127.0.0.1"));
	CHECK(server__proxy_trusts(&p, "::ffff:127.0.0.1"));
	CHECK(server__proxy_trusts(&p, "10.200.3.4"));
	CHECK(server__proxy_trusts(&p, "2001:db8:1::5"));
	CHECK(server__proxy_trusts(&p, SERVER_UNIX_PEER));
	CHECK(!server__proxy_trusts(&p, "127.0.0.2"));
	CHECK(!server__proxy_trusts(&p, "11.0.0.1"));
	CHECK(!server__proxy_trusts(&p, "2001:db9::1"));
	CHECK(!server__proxy_trusts(&p, "garbage"));
	server__proxy_free(&p);
	CHECK_INT(server__proxy_init(&p, "*", err, sizeof(err)), 0);
	CHECK(server__proxy_trusts(&p, "203.0.113.1"));
	server__proxy_free(&p);
	CHECK_INT(server__proxy_init(&p, "10.0.0.0/33", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "10.0.0.0/33");
	CHECK_INT(server__proxy_init(&p, "example.com", err, sizeof(err)), -1);
}

static struct http_header hdrs[4];
static struct http_request req;

static void set_headers(const char *n1, const char *v1, const char *n2, const char *v2)
{
	memset(&req, 0, sizeof(req));
	req.headers = hdrs;
	hdrs[0] = (struct http_header){(char *)n1, (char *)v1};
	hdrs[1] = (struct http_header){(char *)n2, (char *)v2};
	req.n_headers = n2 ? 2 : n1 ? 1 : 0;
}

static void test_client(void)
{
	struct server_config cfg;
	server_config_init(&cfg);
	cfg.proxy_headers = true;
	struct server_process proc = {.cfg = &cfg};
	char err[128];
	CHECK_INT(server__proxy_init(&proc.proxy, "10.0.0.0/8", err, sizeof(err)), 0);
	int sv[2];
	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct server_client c;

	set_headers("x-forwarded-for", "198.51.100.1, 203.0.113.5, 10.1.1.1", NULL, NULL);
	server__client_of(&proc, sv[0], &req, &c);
	CHECK_STR(c.peer, SERVER_UNIX_PEER);
	CHECK_STR(c.addr, "203.0.113.5"); /* the rightmost untrusted hop */
	CHECK(c.via_proxy && c.forwarded && !c.secure);

	/* Two fields are one list, in order. */
	set_headers("X-Forwarded-For", "198.51.100.1", "X-Forwarded-For", "10.9.9.9");
	server__client_of(&proc, sv[0], &req, &c);
	CHECK_STR(c.addr, "198.51.100.1");

	/* Every hop trusted: the leftmost. */
	set_headers("x-forwarded-for", "10.0.0.7, 10.0.0.8", "x-forwarded-proto", "http, https");
	server__client_of(&proc, sv[0], &req, &c);
	CHECK_STR(c.addr, "10.0.0.7");
	CHECK(c.secure); /* the rightmost proto */

	/* Not an IP: the walk stops at the last trusted address. */
	set_headers("x-forwarded-for", "1.2.3.4, nonsense, 10.0.0.9", NULL, NULL);
	server__client_of(&proc, sv[0], &req, &c);
	CHECK_STR(c.addr, "10.0.0.9");

	/* RFC 7239 wins over X-Forwarded-For; quoted IPv6 with a port. */
	set_headers("forwarded", "for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]:4711\";proto=https",
		    "x-forwarded-for", "6.6.6.6");
	server__client_of(&proc, sv[0], &req, &c);
	CHECK_STR(c.addr, "2001:db8:cafe::17");
	CHECK(c.secure);
	set_headers("forwarded", "for=unknown", NULL, NULL);
	server__client_of(&proc, sv[0], &req, &c);
	CHECK_STR(c.addr, SERVER_UNIX_PEER);
	set_headers("forwarded", "for=192.0.2.43:8080;by=10.0.0.1", NULL, NULL);
	server__client_of(&proc, sv[0], &req, &c);
	CHECK_STR(c.addr, "192.0.2.43");

	/* --proxy-headers 0: the headers mean nothing, but are seen. */
	cfg.proxy_headers = false;
	set_headers("x-forwarded-for", "203.0.113.5", "x-forwarded-proto", "https");
	server__client_of(&proc, sv[0], &req, &c);
	CHECK_STR(c.addr, SERVER_UNIX_PEER);
	CHECK(!c.secure && !c.via_proxy && c.forwarded);
	close(sv[0]);
	close(sv[1]);

	/* A TCP peer (127.0.0.1) outside the list: not believed. */
	cfg.proxy_headers = true;
	int l = socket(AF_INET, SOCK_STREAM, 0), cl = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	CHECK_INT(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	listen(l, 1);
	getsockname(l, (struct sockaddr *)&a, &al);
	CHECK_INT(connect(cl, (struct sockaddr *)&a, sizeof(a)), 0);
	int acc = accept(l, NULL, NULL);
	server__client_of(&proc, acc, &req, &c);
	CHECK_STR(c.peer, "127.0.0.1");
	CHECK_STR(c.addr, "127.0.0.1");
	CHECK(!c.secure && !c.via_proxy);
	close(acc);
	close(cl);
	close(l);
	server__proxy_free(&proc.proxy);
}

static void test_local(void)
{
	struct http_request r = {.client_addr = "127.0.0.5"};
	CHECK(server__client_is_local(&r));
	r.client_addr = "::1";
	CHECK(server__client_is_local(&r));
	r.client_addr = SERVER_UNIX_PEER;
	CHECK(server__client_is_local(&r));
	r.forwarded = true;
	CHECK(!server__client_is_local(&r));
	r.forwarded = false;
	r.client_addr = "192.0.2.1";
	CHECK(!server__client_is_local(&r));
}

static void test_root_path(void)
{
	char p1[] = "/app/chat/", p2[] = "/app", p3[] = "/application/", p4[] = "/chat/";
	server__root_path_strip("/app", p1);
	server__root_path_strip("/app", p2);
	server__root_path_strip("/app", p3);
	server__root_path_strip("/app", p4);
	CHECK_STR(p1, "/chat/");
	CHECK_STR(p2, "/");
	CHECK_STR(p3, "/application/");
	CHECK_STR(p4, "/chat/");
	struct http_response resp;
	http_response_init(&resp);
	http_response_redirect(&resp, "/chat/lobby/");
	server__root_path_location("/app", &resp);
	CHECK_STR(resp.headers[0].value, "/app/chat/lobby/");
	http_response_clear(&resp);
	http_response_init(&resp);
	http_response_redirect(&resp, "//other.example/x");
	server__root_path_location("/app", &resp);
	CHECK_STR(resp.headers[0].value, "//other.example/x");
	http_response_clear(&resp);
}

int main(void)
{
	test_trust_list();
	test_client();
	test_local();
	test_root_path();
	return check_finish();
}
