/*
 * proxy.c - who the client of a request is: the one place that decides
 * whether the peer is a trusted proxy (--proxy-headers,
 * --forwarded-allow-ips) and, if so, reads the client's address and scheme
 * from X-Forwarded-For / X-Forwarded-Proto or RFC 7239 Forwarded.
 *
 * The rule (uvicorn's, werkzeug ProxyFix's): the peer must be trusted (in
 * the list, "*" for any; a unix-socket peer always is: the socket file's
 * permissions decide who may connect). Then the hops of X-Forwarded-For
 * (every such field, in order, joined) are read right to left, skipping
 * trusted addresses; the first untrusted one is the client; when every hop
 * is trusted, the leftmost. A hop that is not an IP address stops the
 * walk: the client is then the last trusted address seen (never made up
 * from garbage). Forwarded, when present, is read the same way (its for=
 * values; "unknown" and obfuscated names stop the walk) and wins over
 * X-Forwarded-For. The scheme is the proto= (or X-Forwarded-Proto value)
 * written by the proxy nearest us: the rightmost one.
 *
 * Also what --root-path does to a request's path and a redirect.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "log.h"
#include "server_int.h"

struct proxy_net {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;
};

/* "1.2.3.4", "::1", "[::1]", "::ffff:1.2.3.4" into family + 16 bytes
 * (IPv4-mapped IPv6 becomes IPv4). 0 or -1. */
static int parse_ip(const char *s, size_t n, int *family, unsigned char out[16])
{
	char buf[64];
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(out, 0, 16);
	if (inet_pton(AF_INET, buf, out) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, out) != 1)
		return -1;
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(out, mapped, 12) == 0) {
		memmove(out, out + 12, 4);
		memset(out + 4, 0, 12);
		*family = AF_INET;
	} else {
		*family = AF_INET6;
	}
	return 0;
}

int server__proxy_init(struct server_proxy *p, const char *list, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	if (!list)
		list = "127.0.0.1";
	size_t cap = 1;
	for (const char *c = list; *c; c++)
		cap += *c == ',';
	p->nets = calloc(cap, sizeof(*p->nets));
	if (!p->nets)
		return -1;
	for (const char *c = list; *c;) {
		c += strspn(c, ", ");
		size_t n = strcspn(c, ", ");
		if (!n)
			break;
		if (n == 1 && *c == '*') {
			p->trust_all = true;
		} else {
			struct proxy_net *net = &p->nets[p->n_nets];
			const char *slash = memchr(c, '/', n);
			size_t iplen = slash ? (size_t)(slash - c) : n;
			if (parse_ip(c, iplen, &net->family, net->addr) != 0)
				goto bad;
			unsigned max = net->family == AF_INET ? 32 : 128;
			net->prefix = max;
			if (slash) {
				char *end;
				long v = strtol(slash + 1, &end, 10);
				if (end != c + n || slash + 1 == end || v < 0 || v > (long)max)
					goto bad;
				net->prefix = (unsigned)v;
			}
			p->n_nets++;
		}
		c += n;
		continue;
bad:
		snprintf(err, errlen, "--forwarded-allow-ips: '%.*s' is not an IP address or CIDR",
			 (int)n, c);
		server__proxy_free(p);
		return -1;
	}
	return 0;
}

void server__proxy_free(struct server_proxy *p)
{
	free(p->nets);
	p->nets = NULL;
	p->n_nets = 0;
}

static bool net_has(const struct proxy_net *net, int family, const unsigned char a[16])
{
	if (net->family != family)
		return false;
	unsigned full = net->prefix / 8, rest = net->prefix % 8;
	if (memcmp(net->addr, a, full) != 0)
		return false;
	if (!rest)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (net->addr[full] & mask) == (a[full] & mask);
}

static bool trusted_ip(const struct server_proxy *p, int family, const unsigned char a[16])
{
	if (p->trust_all)
		return true;
	for (size_t i = 0; i < p->n_nets; i++)
		if (net_has(&p->nets[i], family, a))
			return true;
	return false;
}

bool server__proxy_trusts(const struct server_proxy *p, const char *addr)
{
	int family;
	unsigned char a[16];
	if (addr && strcmp(addr, SERVER_UNIX_PEER) == 0)
		return true;
	return addr && parse_ip(addr, strlen(addr), &family, a) == 0 && trusted_ip(p, family, a);
}

/* Every field `name` of `req`, joined with ", " (malloc'd), or NULL. */
static char *header_all(const struct http_request *req, const char *name)
{
	char *out = NULL;
	size_t len = 0;
	for (size_t i = 0; i < req->n_headers; i++) {
		if (strcasecmp(req->headers[i].name, name) != 0)
			continue;
		size_t vl = strlen(req->headers[i].value);
		char *grown = realloc(out, len + vl + 3);
		if (!grown)
			break;
		out = grown;
		if (len) {
			memcpy(out + len, ", ", 2);
			len += 2;
		}
		memcpy(out + len, req->headers[i].value, vl + 1);
		len += vl;
	}
	return out;
}

/* A Forwarded for= node ("1.2.3.4", "\"[::1]:80\"", "1.2.3.4:80") to its
 * address part, in place; NULL when it is not an IP ("unknown", "_name"). */
static char *node_ip(char *v)
{
	size_t n = strlen(v);
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v[n - 1] = '\0';
		v++;
	}
	if (v[0] == '[') {
		char *e = strchr(v, ']');
		if (!e)
			return NULL;
		e[1] = '\0';
	} else if (strchr(v, ':') == strrchr(v, ':') && strchr(v, ':')) {
		*strchr(v, ':') = '\0'; /* IPv4 with a port */
	}
	int family;
	unsigned char a[16];
	return parse_ip(v, strlen(v), &family, a) == 0 ? v : NULL;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* One hop's address (`ip`, NULL if not an IP) in the right-to-left walk:
 * true when the walk goes on (a trusted address). */
static bool hop(const struct server_proxy *p, const char *ip, struct server_client *c)
{
	int family;
	unsigned char a[16];
	if (!ip || parse_ip(ip, strlen(ip), &family, a) != 0)
		return false;
	const char *s = ip[0] == '[' ? ip + 1 : ip;
	size_t n = ip[0] == '[' ? strlen(ip) - 2 : strlen(ip);
	snprintf(c->addr, sizeof(c->addr), "%.*s", (int)n, s);
	return trusted_ip(p, family, a);
}

/* Splits `list` at commas in place: the elements, in order (malloc'd; the
 * caller frees it), their number in *n. NULL when out of memory. Every
 * element is kept: the right end is the one written by our proxies, and
 * a client controls the left, so a cap must never drop the right end. */
static char **split(char *list, size_t *n)
{
	size_t cap = 1;
	for (const char *c = list; *c; c++)
		cap += *c == ',';
	char **out = malloc(cap * sizeof(*out));
	*n = 0;
	for (char *save = NULL, *e = out ? strtok_r(list, ",", &save) : NULL; e && *n < cap;
	     e = strtok_r(NULL, ",", &save))
		out[(*n)++] = e;
	return out;
}

/* Forwarded's elements, right to left: for= walks the hops, the
 * rightmost proto= is the scheme. */
static void walk_forwarded(const struct server_proxy *p, char *list, struct server_client *c)
{
	size_t n;
	char **elems = split(list, &n);
	bool walking = true, proto_seen = false;
	for (size_t i = elems ? n : 0; i-- > 0;) {
		for (char *save = NULL, *pair = strtok_r(elems[i], ";", &save); pair;
		     pair = strtok_r(NULL, ";", &save)) {
			pair = trim(pair);
			if (strncasecmp(pair, "for=", 4) == 0 && walking) {
				walking = hop(p, node_ip(pair + 4), c);
			} else if (strncasecmp(pair, "proto=", 6) == 0 && !proto_seen) {
				const char *v = pair + 6;
				v += *v == '"';
				c->secure = strncasecmp(v, "https", 5) == 0;
				proto_seen = true;
			}
		}
	}
	free(elems);
}

static void walk_xff(const struct server_proxy *p, char *list, struct server_client *c)
{
	size_t n;
	char **hops = split(list, &n);
	for (size_t i = hops ? n : 0; i-- > 0;)
		if (!hop(p, trim(hops[i]), c))
			break;
	free(hops);
}

void server__client_of(const struct server_process *proc, int fd, const struct http_request *req,
		       struct server_client *c)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	memset(c, 0, sizeof(*c));
	snprintf(c->peer, sizeof(c->peer), "unknown");
	if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_UNIX)
			snprintf(c->peer, sizeof(c->peer), "%s", SERVER_UNIX_PEER);
		else if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->peer,
				  sizeof(c->peer));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, c->peer,
				  sizeof(c->peer));
		if (strncmp(c->peer, "::ffff:", 7) == 0 && strchr(c->peer, '.'))
			memmove(c->peer, c->peer + 7, strlen(c->peer + 7) + 1);
	}
	snprintf(c->addr, sizeof(c->addr), "%s", c->peer);
	char *fwd = req ? header_all(req, "forwarded") : NULL;
	char *xff = req ? header_all(req, "x-forwarded-for") : NULL;
	char *xfp = req ? header_all(req, "x-forwarded-proto") : NULL;
	c->forwarded = fwd || xff || (req && http_request_header(req, "x-real-ip"));
	if (proc->cfg->proxy_headers && server__proxy_trusts(&proc->proxy, c->peer)) {
		c->via_proxy = c->forwarded || xfp;
		if (fwd)
			walk_forwarded(&proc->proxy, fwd, c);
		else if (xff)
			walk_xff(&proc->proxy, xff, c);
		if (!fwd && xfp) {
			const char *last = strrchr(xfp, ',');
			char *v = trim((char *)(last ? last + 1 : xfp));
			c->secure = strcasecmp(v, "https") == 0 || strcasecmp(v, "wss") == 0;
		}
		if (c->via_proxy)
			LOG(LOG_DEBUG, "proxy", "client %s via proxy %s%s", c->addr, c->peer,
			    c->secure ? " (https)" : "");
	}
	free(fwd);
	free(xff);
	free(xfp);
}

bool server__client_is_local(const struct http_request *req)
{
	int family;
	unsigned char a[16];
	if (req->forwarded || !req->client_addr)
		return false; /* came through a proxy: the peer's address says nothing */
	if (strcmp(req->client_addr, SERVER_UNIX_PEER) == 0)
		return true;
	if (parse_ip(req->client_addr, strlen(req->client_addr), &family, a) != 0)
		return false;
	if (family == AF_INET)
		return a[0] == 127;
	static const unsigned char one[16] = {[15] = 1};
	return memcmp(a, one, 16) == 0;
}

/* ---- --root-path ---- */

/* --root-path: a path that starts with the prefix (a proxy that passes
 * the whole path on) is routed without it; one that does not (a proxy that
 * strips it, as `proxy_pass http://up/;` does) is routed as it is. */
void server__root_path_strip(const char *root, char *path)
{
	size_t n = root ? strlen(root) : 0;
	if (!n || strncmp(path, root, n) != 0 || (path[n] != '/' && path[n] != '\0'))
		return;
	if (path[n] == '\0')
		strcpy(path, "/");
	else
		memmove(path, path + n, strlen(path + n) + 1);
}

/* --root-path: a redirect to a path of the site ("/chat/room/") goes to
 * it under the prefix. Absolute URLs and "//host" are left alone. */
void server__root_path_location(const char *root, struct http_response *resp)
{
	if (!root || !*root)
		return;
	for (size_t i = 0; i < resp->n_headers; i++) {
		struct http_header *h = &resp->headers[i];
		if (strcasecmp(h->name, "location") != 0 || h->value[0] != '/' || h->value[1] == '/')
			continue;
		char *v = NULL;
		if (asprintf(&v, "%s%s", root, h->value) < 0)
			return;
		free(h->value);
		h->value = v;
	}
}
