/*
 * csrf.c - Django 4.x CsrfViewMiddleware's origin and referer rules
 * (django/middleware/csrf.py: _origin_verified, _check_referer,
 * django.utils.http.is_same_domain), I/O-free. See http.h.
 */
#include "http.h"

#include <stdio.h>
#include <string.h>

/* Python's urlsplit() for what the rules read: `scheme` lowercased (empty
 * when the URL has none) and the netloc after "//" up to "/", "?" or "#"
 * (empty when there is no "//"). */
static void split_url(const char *url, size_t len, char *scheme, size_t slen,
		      const char **netloc, size_t *nlen)
{
	size_t i = 0;
	scheme[0] = '\0';
	*netloc = url;
	*nlen = 0;
	const char *colon = memchr(url, ':', len);
	if (colon && colon > url && ((*url | 32) >= 'a' && (*url | 32) <= 'z')) {
		size_t n = (size_t)(colon - url);
		bool ok = n < slen;
		for (size_t k = 0; ok && k < n; k++) {
			char c = url[k];
			ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
		}
		if (ok) {
			for (size_t k = 0; k < n; k++)
				scheme[k] = (char)(url[k] >= 'A' && url[k] <= 'Z' ? url[k] + 32 : url[k]);
			scheme[n] = '\0';
			i = n + 1;
		}
	}
	if (len - i >= 2 && url[i] == '/' && url[i + 1] == '/') {
		*netloc = url + i + 2;
		size_t rest = len - i - 2;
		*nlen = strcspn(*netloc, "/?#");
		if (*nlen > rest)
			*nlen = rest;
	}
}

/* is_same_domain(host, pattern): `pattern` is compared lowercased, `host`
 * as it is; ".example.com" matches example.com and any subdomain. */
static bool same_domain(const char *host, size_t hlen, const char *pattern, size_t plen)
{
	char low[256];
	if (plen == 0 || plen >= sizeof(low))
		return false;
	for (size_t i = 0; i < plen; i++)
		low[i] = (char)(pattern[i] >= 'A' && pattern[i] <= 'Z' ? pattern[i] + 32 : pattern[i]);
	if (low[0] == '.' && ((hlen >= plen && memcmp(host + hlen - plen, low, plen) == 0) ||
			      (hlen == plen - 1 && memcmp(host, low + 1, hlen) == 0)))
		return true;
	return hlen == plen && memcmp(host, low, plen) == 0;
}

/* The next entry of a comma- or space-separated list; advances *p. */
static bool next_entry(const char **p, const char **e, size_t *elen)
{
	while (*p && (**p == ',' || **p == ' '))
		(*p)++;
	if (!*p || !**p)
		return false;
	*e = *p;
	*elen = strcspn(*p, ", ");
	*p += *elen;
	return true;
}

bool http_csrf_origin_ok(const char *origin, const char *good_origin, const char *trusted)
{
	if (!origin)
		return false;
	if (good_origin && strcmp(origin, good_origin) == 0)
		return true;
	size_t olen = strlen(origin), elen, onet_len, enet_len;
	char oscheme[32], escheme[32];
	const char *e, *onet, *enet;
	split_url(origin, olen, oscheme, sizeof(oscheme), &onet, &onet_len);
	for (const char *p = trusted; next_entry(&p, &e, &elen);) {
		if (!memchr(e, '*', elen)) {
			if (elen == olen && memcmp(e, origin, olen) == 0)
				return true;
			continue;
		}
		split_url(e, elen, escheme, sizeof(escheme), &enet, &enet_len);
		while (enet_len && *enet == '*') {
			enet++;
			enet_len--;
		}
		if (strcmp(escheme, oscheme) == 0 && same_domain(onet, onet_len, enet, enet_len))
			return true;
	}
	return false;
}

const char *http_csrf_referer_check(const char *referer, const char *good_host,
				    const char *trusted, char *buf, size_t buflen)
{
	if (!referer)
		return "Referer checking failed - no Referer.";
	char scheme[32], escheme[32];
	const char *net, *e, *enet;
	size_t nlen, elen, enet_len;
	split_url(referer, strlen(referer), scheme, sizeof(scheme), &net, &nlen);
	if (!scheme[0] || !nlen)
		return "Referer checking failed - Referer is malformed.";
	if (strcmp(scheme, "https") != 0)
		return "Referer checking failed - Referer is insecure while host is secure.";
	for (const char *p = trusted; next_entry(&p, &e, &elen);) {
		split_url(e, elen, escheme, sizeof(escheme), &enet, &enet_len);
		while (enet_len && *enet == '*') {
			enet++;
			enet_len--;
		}
		if (same_domain(net, nlen, enet, enet_len))
			return NULL;
	}
	if (good_host && same_domain(net, nlen, good_host, strlen(good_host)))
		return NULL;
	snprintf(buf, buflen, "Referer checking failed - %s does not match any trusted origins.",
		 referer);
	return buf;
}
