/*
 * consumer_scope.c - a consumer's scope packed into its own allocation
 * (one block per connection instead of a dozen small ones and a JSON
 * object) and its accessors.
 */
#include "consumer_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/*
 * Header names and values most handshakes carry are packed as one byte, an
 * index below CODE_ESC into these tables (as HPACK's static table does); a
 * string that starts with a byte below 0x20 is stored after a CODE_ESC byte.
 */
#define CODE_ESC 0x1f

static const char *const known_names[] = {
	NULL, "host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
	"sec-websocket-extensions", "sec-websocket-protocol", "origin", "user-agent", "cookie",
	"accept", "accept-encoding", "accept-language", "cache-control", "pragma",
	"authorization", "referer", "x-forwarded-for", "x-real-ip", "x-forwarded-proto",
};
#define N_KNOWN_NAMES (sizeof(known_names) / sizeof(known_names[0]))
_Static_assert(N_KNOWN_NAMES <= CODE_ESC, "codes are control characters");

static const char *const known_values[] = {
	NULL, "websocket", "Upgrade", "upgrade", "keep-alive, Upgrade", "13", "no-cache",
	"permessage-deflate; client_max_window_bits", "gzip, deflate, br", "gzip, deflate",
};
#define N_KNOWN_VALUES (sizeof(known_values) / sizeof(known_values[0]))
_Static_assert(N_KNOWN_VALUES <= CODE_ESC, "codes are control characters");

/* ---- scope ---- */

void consumer_scope_clear(struct consumer_scope *s)
{
	free(s->path);
	free(s->query_string);
	free(s->client_addr);
	free(s->subprotocols);
	free(s->headers);
	free(s->username);
	json_decref(s->kwargs);
	json_decref(s->session);
	memset(s, 0, sizeof(*s));
}

static const char *strings_start(const struct consumer *c)
{
	return (const char *)c->data + c->cls->state_size;
}

static const char *skip(const char *p)
{
	return p + strlen(p) + 1;
}

/* The packed strings: 0 username, 1 path, 2 query, 3 client. */
static const char *scope_field(const struct consumer *c, int i)
{
	const char *p = strings_start(c);
	while (i-- > 0)
		p = skip(p);
	return p;
}

static const char *kwargs_start(const struct consumer *c)
{
	const char *p = scope_field(c, 3);
	p = skip(p); /* client_addr */
	return c->has_subprotocols ? skip(p) : p;
}

static const char *headers_start(const struct consumer *c)
{
	const char *p = kwargs_start(c);
	while (*p)
		p = skip(skip(p));
	return p + 1;
}

/* The string a packed one stands for. */
static const char *decode(const char *packed, const char *const *table, size_t n)
{
	unsigned char b = (unsigned char)packed[0];
	if (b == CODE_ESC)
		return packed + 1;
	return b && b < n && packed[1] == '\0' ? table[b] : packed;
}

static unsigned code_of(const char *s, const char *const *table, size_t n)
{
	for (unsigned i = 1; i < n; i++)
		if (strcmp(table[i], s) == 0)
			return i;
	return 0;
}

/* Bytes `s` takes packed (with its NUL). */
static size_t coded_size(const char *s, const char *const *table, size_t n)
{
	if (code_of(s, table, n))
		return 2;
	return strlen(s) + 1 + ((unsigned char)s[0] - 1u < 0x1fu);
}

static char *put_coded(char *out, const char *s, const char *const *table, size_t n)
{
	unsigned code = code_of(s, table, n);
	if (code) {
		*out++ = (char)code;
		*out++ = '\0';
		return out;
	}
	if ((unsigned char)s[0] - 1u < 0x1fu) /* 1..0x1f */
		*out++ = CODE_ESC;
	size_t len = strlen(s) + 1;
	memcpy(out, s, len);
	return out + len;
}

static size_t str_size(const char *s)
{
	return s ? strlen(s) + 1 : 1;
}

static char *put_str(char *p, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p + n + 1;
}

/* The text stored for a kwarg value: a string as is, anything else as JSON
 * (malloc'd into *tmp). NULL on ENOMEM. */
static const char *kwarg_text(json_t *v, char *tag, char **tmp)
{
	*tmp = NULL;
	if (json_is_string(v)) {
		*tag = 's';
		return json_string_value(v);
	}
	*tag = 'j';
	*tmp = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	return *tmp;
}

/* Bytes the packed kwargs take (with their terminator), 0 on ENOMEM. */
static size_t kwargs_size(json_t *kwargs)
{
	size_t n = 1;
	const char *key;
	json_t *v;
	json_object_foreach(kwargs, key, v) {
		char tag, *tmp;
		const char *text = kwarg_text(v, &tag, &tmp);
		if (!text)
			return 0;
		if (*key)
			n += strlen(key) + 1 + 1 + strlen(text) + 1;
		free(tmp);
	}
	return n;
}

static char *put_kwargs(char *p, json_t *kwargs)
{
	const char *key;
	json_t *v;
	json_object_foreach(kwargs, key, v) {
		char tag, *tmp;
		const char *text = kwarg_text(v, &tag, &tmp);
		if (*key && text) {
			p = put_str(p, key);
			*p++ = tag;
			p = put_str(p, text);
		}
		free(tmp);
	}
	*p++ = '\0';
	return p;
}

/* Bytes the packed headers take (with their terminator). */
static size_t headers_size(const char *h)
{
	size_t n = 1;
	for (const char *p = h; p && *p; p = skip(skip(p)))
		n += coded_size(p, known_names, N_KNOWN_NAMES) +
		     coded_size(skip(p), known_values, N_KNOWN_VALUES);
	return n;
}

static char *put_headers(char *out, const char *h)
{
	for (const char *p = h; p && *p; p = skip(skip(p))) {
		out = put_coded(out, p, known_names, N_KNOWN_NAMES);
		out = put_coded(out, skip(p), known_values, N_KNOWN_VALUES);
	}
	*out++ = '\0';
	return out;
}

const char *consumer_scope_path(const struct consumer *c)
{
	return scope_field(c, 1);
}

const char *consumer_scope_query_string(const struct consumer *c)
{
	return scope_field(c, 2);
}

const char *consumer_scope_client_addr(const struct consumer *c)
{
	return scope_field(c, 3);
}

const char *consumer_scope_subprotocols(const struct consumer *c)
{
	return c->has_subprotocols ? skip(scope_field(c, 3)) : NULL;
}

const char *consumer_scope_header(const struct consumer *c, const char *name)
{
	for (const char *p = headers_start(c); *p; p = skip(skip(p)))
		if (strcmp(decode(p, known_names, N_KNOWN_NAMES), name) == 0)
			return decode(skip(p), known_values, N_KNOWN_VALUES);
	return NULL;
}

json_t *consumer_scope_cookies(const struct consumer *c)
{
	return http_parse_cookies(consumer_scope_header(c, "cookie"));
}

const char *consumer_scope_kwarg(const struct consumer *c, const char *name)
{
	for (const char *p = kwargs_start(c); *p; p = skip(skip(p)))
		if (strcmp(p, name) == 0)
			return skip(p) + 1;
	return NULL;
}

json_t *consumer_scope_kwargs(const struct consumer *c)
{
	json_t *out = json_object();
	for (const char *p = kwargs_start(c); out && *p; p = skip(skip(p))) {
		const char *v = skip(p);
		json_t *val = v[0] == 's' ? json_string(v + 1)
					  : json_loads(v + 1, JSON_DECODE_ANY, NULL);
		if (json_object_set_new(out, p, val) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

json_t *consumer_scope_session(const struct consumer *c)
{
	return c->extra ? c->extra->session : NULL;
}

bool consumer_is_authenticated(const struct consumer *c)
{
	return c->is_authenticated;
}

/* ---- accessors of the packed strings ---- */

const char *consumer_channel_name(const struct consumer *c)
{
	return c->channel;
}

const char *consumer_username(const struct consumer *c)
{
	return scope_field(c, 0);
}

/* A consumer holding `scope` packed after `channel`; NULL on ENOMEM. */
struct consumer *consumer__alloc(const struct consumer_class *cls,
				 const struct consumer_scope *scope)
{
	size_t kw = kwargs_size(scope->kwargs);
	if (kw == 0)
		return NULL;
	size_t n = sizeof(struct consumer) + cls->state_size + str_size(scope->username) +
		   str_size(scope->path) +
		   str_size(scope->query_string) + str_size(scope->client_addr) +
		   (scope->subprotocols ? str_size(scope->subprotocols) : 0) + kw +
		   headers_size(scope->headers);
	struct consumer *c = malloc(n);
	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c) + cls->state_size);
	c->cls = cls;
	char *p = (char *)c->data + cls->state_size;
	p = put_str(p, scope->username);
	p = put_str(p, scope->path);
	p = put_str(p, scope->query_string);
	p = put_str(p, scope->client_addr);
	if (scope->subprotocols) {
		c->has_subprotocols = true;
		p = put_str(p, scope->subprotocols);
	}
	p = put_kwargs(p, scope->kwargs);
	p = put_headers(p, scope->headers);
	assert((size_t)(p - (char *)c) <= n); /* less if a kwarg failed to encode */
	return c;
}

