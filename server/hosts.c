/*
 * hosts.c - which Host names the server answers (Django's ALLOWED_HOSTS):
 * the check every HTTP request and WebSocket handshake passes, and the
 * default list when --allowed-hosts is not given. A page on another name
 * that resolves to this server (DNS rebinding) gets 400.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_int.h"

/* The host part of a Host field value ("a.example:8000", "[::1]:80"),
 * lower-cased into `out`; false when it is not a host[:port] at all. */
static bool host_part(const char *v, char *out, size_t n)
{
	size_t len;
	if (*v == '[') {
		const char *end = strchr(v, ']');
		if (!end)
			return false;
		len = (size_t)(end - v) + 1;
		if (end[1] && end[1] != ':')
			return false;
	} else {
		len = strcspn(v, ":");
	}
	if (!len || len >= n)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("-._~[]:!$&'()*+,;=%", c)))
			return false;
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[len] = '\0';
	const char *port = v + len;
	if (*port == ':')
		for (port++; *port; port++)
			if (*port < '0' || *port > '9')
				return false;
	return true;
}

/* Django's ALLOWED_HOSTS matching: "*" any, ".a.example" a.example and
 * its subdomains, anything else exactly (case-insensitive). An HTTP/1.0
 * request without Host passes (there is nothing to check). */
bool server__host_allowed(const struct server_worker *s, const char *host)
{
	if (!host)
		return true;
	char h[256];
	if (!host_part(host, h, sizeof(h)))
		return false;
	size_t hl = strlen(h);
	if (hl && h[hl - 1] == '.')
		h[--hl] = '\0'; /* a fully qualified "example.com." */
	const char *p = s->proc->allowed_hosts;
	while (p && *p) {
		while (*p == ',' || *p == ' ')
			p++;
		size_t n = strcspn(p, ", ");
		if (n == 1 && *p == '*')
			return true;
		if (n && *p == '.' &&
		    ((hl == n - 1 && strncasecmp(h, p + 1, n - 1) == 0) ||
		     (hl > n && strncasecmp(h + hl - n, p, n) == 0)))
			return true;
		if (n && hl == n && strncasecmp(h, p, n) == 0)
			return true;
		p += n;
	}
	return false;
}


/* The Host names served when --allowed-hosts is not given: loopback names,
 * the --host address, and when that is a wildcard the machine's name and
 * addresses (what a client can reach it by). A malloc'd list. */
char *server__default_allowed_hosts(const char *host)
{
	struct text_buf b = {0};
	text_buf_printf(&b, "localhost,.localhost,127.0.0.1,[::1]");
	bool wildcard = !host || !*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
	if (!wildcard)
		text_buf_printf(&b, strchr(host, ':') ? ",[%s]" : ",%s", host);
	if (wildcard) {
		char name[256];
		if (gethostname(name, sizeof(name)) == 0) {
			name[sizeof(name) - 1] = '\0';
			text_buf_printf(&b, ",%s", name);
		}
		struct ifaddrs *ifs = NULL;
		if (getifaddrs(&ifs) == 0) {
			for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
				char a[INET6_ADDRSTRLEN];
				if (!i->ifa_addr)
					continue;
				if (i->ifa_addr->sa_family == AF_INET &&
				    inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, a,
					      sizeof(a)))
					text_buf_printf(&b, ",%s", a);
				else if (i->ifa_addr->sa_family == AF_INET6 &&
					 inet_ntop(AF_INET6,
						   &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, a,
						   sizeof(a)))
					text_buf_printf(&b, ",[%s]", a);
			}
			freeifaddrs(ifs);
		}
	}
	return text_buf_take(&b, NULL); /* NULL on ENOMEM */
}
