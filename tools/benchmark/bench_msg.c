/*
 * bench_msg.c - payloads, the handshake and the report of
 * channels-benchmark. Pure: no I/O, no global state.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <llhttp.h>

#include "bench.h"

size_t bench_u64_str(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

#define PUT(s, n)                                                                                  \
	do {                                                                                       \
		if (len + (n) > cap)                                                               \
			return 0;                                                                  \
		memcpy(out + len, (s), (n));                                                       \
		len += (n);                                                                        \
	} while (0)

#define PUT_U64(v)                                                                                 \
	do {                                                                                       \
		if (len + 20 > cap)                                                                \
			return 0;                                                                  \
		len += bench_u64_str(out + len, (v));                                              \
	} while (0)

#define PUT_PAD(n)                                                                                 \
	do {                                                                                       \
		if (len + (n) > cap)                                                               \
			return 0;                                                                  \
		memset(out + len, 'x', (n));                                                       \
		len += (n);                                                                        \
	} while (0)

size_t bench_chat_build(char *out, size_t cap, uint64_t ts, uint64_t sender, uint64_t seq,
			size_t pad)
{
	size_t len = 0;

	PUT("{\"message\":\"", 12);
	PUT_U64(ts);
	PUT(" ", 1);
	PUT_U64(sender);
	PUT(" ", 1);
	PUT_U64(seq);
	PUT(" ", 1);
	PUT_PAD(pad);
	PUT("\"}", 2);
	return len;
}

size_t bench_gossip_build(char *out, size_t cap, uint64_t ts, uint64_t seq, size_t pad)
{
	size_t len = 0;

	PUT("{\"type\":\"name.gossip\",\"ts\":", 27);
	PUT_U64(ts);
	PUT(",\"seq\":", 7);
	PUT_U64(seq);
	PUT(",\"pad\":\"", 8);
	PUT_PAD(pad);
	PUT("\"}", 2);
	return len;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Position just after the colon of key `key` (quoted, e.g. "\"ts\"") in
 * s[0..len), skipping the blanks that follow it; NULL when absent. A quoted
 * string equal to the key but not followed by a colon (a value) is skipped.
 */
static const char *find_key(const char *s, size_t len, const char *key, size_t klen)
{
	const char *end = s + len, *p = s;

	while (p < end) {
		const char *hit = memmem(p, (size_t)(end - p), key, klen);
		const char *q;

		if (!hit)
			return NULL;
		q = hit + klen;
		while (q < end && is_blank(*q))
			q++;
		if (q < end && *q == ':') {
			q++;
			while (q < end && is_blank(*q))
				q++;
			return q;
		}
		p = hit + 1;
	}
	return NULL;
}

/* Parses digits at *pp (at least one, at most 19 plus overflow check). */
static int parse_u64(const char **pp, const char *end, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (p >= end || *p < '0' || *p > '9')
		return -1;
	while (p < end && *p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		p++;
	}
	*pp = p;
	*out = v;
	return 0;
}

int bench_chat_parse(const char *s, size_t len, struct bench_payload *pl)
{
	const char *end = s + len;
	const char *p = find_key(s, len, "\"message\"", 9);

	if (!p || p >= end || *p != '"')
		return -1;
	p++;
	if (parse_u64(&p, end, &pl->ts) || p >= end || *p != ' ')
		return -1;
	p++;
	if (parse_u64(&p, end, &pl->sender) || p >= end || *p != ' ')
		return -1;
	p++;
	if (parse_u64(&p, end, &pl->seq) || p >= end || (*p != ' ' && *p != '"'))
		return -1;
	return 0;
}

int bench_ts_parse(const char *s, size_t len, uint64_t *ts)
{
	const char *end = s + len;
	const char *p = find_key(s, len, "\"ts\"", 4);

	if (!p || parse_u64(&p, end, ts))
		return -1;
	/* a number ends at a delimiter, not at '.', 'e' or a letter */
	if (p < end && *p != ',' && *p != '}' && !is_blank(*p))
		return -1;
	return 0;
}

size_t bench_path_expand(const char *pattern, int room, char *out, size_t cap)
{
	size_t len = 0;
	const char *p = pattern;
	char num[24];
	size_t nlen = (size_t)snprintf(num, sizeof(num), "%d", room);

	while (*p) {
		if (strncmp(p, "{room}", 6) == 0) {
			if (len + nlen >= cap)
				return 0;
			memcpy(out + len, num, nlen);
			len += nlen;
			p += 6;
		} else {
			if (len + 1 >= cap)
				return 0;
			out[len++] = *p++;
		}
	}
	if (len >= cap)
		return 0;
	out[len] = '\0';
	return len;
}

void bench_base64(const uint8_t *in, size_t len, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, i = 0;

	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

size_t bench_handshake_request(char *out, size_t cap, const char *host, int port, const char *path,
			       const char *origin, const char *key)
{
	bool v6 = strchr(host, ':') != NULL;
	int n;

	n = snprintf(out, cap,
		     "GET %s HTTP/1.1\r\n"
		     "Host: %s%s%s:%d\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\n"
		     "Sec-WebSocket-Version: 13\r\n"
		     "%s%s%s"
		     "\r\n",
		     path, v6 ? "[" : "", host, v6 ? "]" : "", port, key, origin ? "Origin: " : "",
		     origin ? origin : "", origin ? "\r\n" : "");
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

int bench_redis_url(const char *url, char *host, size_t hostcap, int *port, int *db)
{
	const char *p, *hend, *rest;
	size_t hlen;
	char *end;
	long v;

	if (strncmp(url, "redis://", 8) != 0)
		return -1;
	p = url + 8;
	if (strchr(p, '@'))
		return -1;
	if (*p == '[') {
		hend = strchr(p, ']');
		if (!hend)
			return -1;
		p++;
		rest = hend + 1;
	} else {
		hend = p + strcspn(p, ":/");
		rest = hend;
	}
	hlen = (size_t)(hend - p);
	if (!hlen || hlen >= hostcap)
		return -1;
	memcpy(host, p, hlen);
	host[hlen] = '\0';
	*port = 6379;
	*db = 0;
	if (*rest == ':') {
		v = strtol(rest + 1, &end, 10);
		if (end == rest + 1 || v < 1 || v > 65535)
			return -1;
		*port = (int)v;
		rest = end;
	}
	if (*rest == '/' && rest[1]) {
		v = strtol(rest + 1, &end, 10);
		if (end == rest + 1 || *end || v < 0 || v > 1000000)
			return -1;
		*db = (int)v;
		rest = end;
	} else if (*rest == '/') {
		rest++;
	}
	return *rest ? -1 : 0;
}

/* ---- handshake response ---------------------------------------------- */

/* Spans point into the buffer given to one llhttp_execute(), so pieces of
 * one field or value are contiguous and extend the span. */
struct span {
	const char *p;
	size_t n;
};

struct hs_parse {
	struct span field, value;
	bool in_value;
	bool upgrade_ws;
	bool accept_ok;
	bool accept_seen;
	bool head_done;
	const char *accept;
};

static void span_add(struct span *s, const char *at, size_t n)
{
	if (s->p && s->p + s->n == at)
		s->n += n;
	else {
		s->p = at;
		s->n = n;
	}
}

static bool span_is(const struct span *s, const char *lit)
{
	size_t n = strlen(lit);

	return s->n == n && strncasecmp(s->p, lit, n) == 0;
}

static void hs_commit(struct hs_parse *h)
{
	struct span v = h->value;

	if (!h->in_value)
		return;
	while (v.n && is_blank(v.p[v.n - 1]))
		v.n--;
	while (v.n && is_blank(*v.p)) {
		v.p++;
		v.n--;
	}
	if (span_is(&h->field, "upgrade") && span_is(&v, "websocket"))
		h->upgrade_ws = true;
	if (span_is(&h->field, "sec-websocket-accept")) {
		h->accept_seen = true;
		h->accept_ok = v.n == strlen(h->accept) && memcmp(v.p, h->accept, v.n) == 0;
	}
	memset(&h->field, 0, sizeof(h->field));
	memset(&h->value, 0, sizeof(h->value));
	h->in_value = false;
}

static int hs_on_field(llhttp_t *p, const char *at, size_t n)
{
	struct hs_parse *h = p->data;

	if (h->in_value)
		hs_commit(h);
	span_add(&h->field, at, n);
	return 0;
}

static int hs_on_value(llhttp_t *p, const char *at, size_t n)
{
	struct hs_parse *h = p->data;

	h->in_value = true;
	span_add(&h->value, at, n);
	return 0;
}

static int hs_on_headers_complete(llhttp_t *p)
{
	struct hs_parse *h = p->data;

	hs_commit(h);
	h->head_done = true;
	if (p->status_code == 101)
		return 2; /* no body: the rest is WebSocket */
	return HPE_PAUSED;
}

static int hs_on_message_complete(llhttp_t *p)
{
	(void)p;
	return 0;
}

static const llhttp_settings_t hs_settings = {
    .on_header_field = hs_on_field,
    .on_header_value = hs_on_value,
    .on_headers_complete = hs_on_headers_complete,
    .on_message_complete = hs_on_message_complete,
};

int bench_handshake_parse(const char *buf, size_t len, const char *accept, size_t *used,
			  int *status)
{
	struct hs_parse h;
	llhttp_t parser;
	llhttp_errno_t e;

	memset(&h, 0, sizeof(h));
	h.accept = accept;
	*status = 0;
	*used = 0;
	llhttp_init(&parser, HTTP_RESPONSE, &hs_settings);
	parser.data = &h;
	e = llhttp_execute(&parser, buf, len);
	if (parser.status_code)
		*status = parser.status_code;
	if (!h.head_done) {
		if (e == HPE_OK)
			return BENCH_HS_MORE;
		return CH_EPROTO;
	}
	if (parser.status_code != 101) {
		/* 1xx other than 101 is not expected from a WebSocket server */
		return CH_EHANDSHAKE;
	}
	if (e != HPE_PAUSED_UPGRADE && e != HPE_OK)
		return CH_EPROTO;
	if (!h.upgrade_ws || !h.accept_ok)
		return CH_EACCEPT;
	if (e == HPE_PAUSED_UPGRADE) {
		const char *pos = llhttp_get_error_pos(&parser);

		*used = pos ? (size_t)(pos - buf) : len;
	} else {
		*used = len;
	}
	return BENCH_HS_OK;
}

/* ---- the report ------------------------------------------------------ */

void bench_result_init(struct bench_result *r, enum bench_mode mode)
{
	memset(r, 0, sizeof(*r));
	r->mode = mode;
	r->p50_ms = r->p90_ms = r->p99_ms = r->p999_ms = r->max_ms = r->mean_ms = -1;
	r->handshakes_per_s = -1;
	r->rss_per_conn_bytes = -1;
	r->server_cpu_s = r->server_cpu_window_s = r->server_cpu_us_per_delivery = -1;
	r->ok = -1;
}

/* Appends to out[*len..cap) like snprintf; *len counts what would be written. */
static void jput(char *out, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void jput(char *out, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*len < cap ? out + *len : NULL, *len < cap ? cap - *len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n;
}

/* A figure, or null when it does not apply (negative). */
static void jnum(char *out, size_t cap, size_t *len, const char *key, double v, int prec)
{
	if (v < 0)
		jput(out, cap, len, ",\"%s\":null", key);
	else
		jput(out, cap, len, ",\"%s\":%.*f", key, prec, v);
}

int bench_result_json(const struct bench_result *r, char *out, size_t cap)
{
	size_t len = 0;

	jput(out, cap, &len, "{\"mode\":\"%s\",\"rooms\":%d,\"clients\":%d,\"senders\":%d",
	     bench_mode_name(r->mode), r->rooms, r->clients, r->senders);
	jnum(out, cap, &len, "rate", r->rate, 3);
	jnum(out, cap, &len, "total_rate", r->total_rate, 3);
	jput(out, cap, &len, ",\"sent\":%llu,\"expected\":%llu,\"received\":%llu,\"loss\":%lld",
	     (unsigned long long)r->sent, (unsigned long long)r->expected,
	     (unsigned long long)r->received, (long long)r->loss);
	jput(out, cap, &len, ",\"loss_pct\":%.4f", r->loss_pct);
	jnum(out, cap, &len, "deliveries_per_s", r->deliveries_per_s, 1);
	jnum(out, cap, &len, "p50_ms", r->p50_ms, 3);
	jnum(out, cap, &len, "p90_ms", r->p90_ms, 3);
	jnum(out, cap, &len, "p99_ms", r->p99_ms, 3);
	jnum(out, cap, &len, "p999_ms", r->p999_ms, 3);
	jnum(out, cap, &len, "max_ms", r->max_ms, 3);
	jnum(out, cap, &len, "mean_ms", r->mean_ms, 3);
	jnum(out, cap, &len, "handshakes_per_s", r->handshakes_per_s, 1);
	jput(out, cap, &len, ",\"connections\":%llu,\"connect_errors\":%llu,\"closes\":%llu",
	     (unsigned long long)r->connections, (unsigned long long)r->connect_errors,
	     (unsigned long long)r->closes);
	jnum(out, cap, &len, "client_cpu_s", r->client_cpu_s, 3);
	jnum(out, cap, &len, "wall_s", r->wall_s, 3);
	jnum(out, cap, &len, "rss_per_conn_bytes", r->rss_per_conn_bytes, 0);
	jnum(out, cap, &len, "server_cpu_s", r->server_cpu_s, 3);
	jnum(out, cap, &len, "server_cpu_window_s", r->server_cpu_window_s, 3);
	jnum(out, cap, &len, "server_cpu_us_per_delivery", r->server_cpu_us_per_delivery, 3);
	jput(out, cap, &len, ",\"ok\":%s,\"probes\":%d}\n",
	     r->ok < 0 ? "null"
	     : r->ok   ? "true"
		       : "false",
	     r->probes);
	return len > (size_t)__INT_MAX__ ? -1 : (int)len;
}
