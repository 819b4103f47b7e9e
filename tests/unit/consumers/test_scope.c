/*
 * test_scope.c - a consumer's scope as consumer classes read it: the server's
 * strings and JSON are packed into the consumer's own allocation by
 * consumer_open() (header names and values coded, kwargs flattened), so
 * every accessor must give back exactly what the server handed over, for
 * the whole life of the connection. Also the channel name (the layer's own
 * copy) and groups (interned names) across consumers.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_transport.h"

/* ---- a class that reads its scope in on_connect and keeps state ---- */

struct probe {
	long double ld; /* the state block is aligned for any type */
	int connects;
	char path[64];
};

static struct consumer *connected;

static void probe_connect(struct consumer *c)
{
	struct probe *p = consumer_state(c);
	connected = c;
	p->connects++;
	snprintf(p->path, sizeof(p->path), "%s", consumer_scope_path(c));
	consumer_accept(c, NULL);
}

static const struct consumer_class probe_class = {
	.name = "Probe",
	.state_size = sizeof(struct probe),
	.json = true,
	.on_connect = probe_connect,
};

static const struct consumer_class plain_class = {
	.name = "Plain",
	.json = true,
};

/* "name\0value\0...\0\0" from alternating strings ending with NULL. */
static char *pack_headers(const char *const *kv)
{
	size_t n = 1;
	for (const char *const *p = kv; *p; p++)
		n += strlen(*p) + 1;
	char *out = malloc(n), *q = out;
	for (const char *const *p = kv; *p; p++)
		q = stpcpy(q, *p) + 1;
	*q = '\0';
	return out;
}

static const char *const handshake[] = {
	"host", "example.com:8000",
	"upgrade", "websocket",
	"connection", "Upgrade",
	"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==",
	"sec-websocket-version", "13",
	"x-custom", "13",                 /* a known value under an unknown name */
	"x-ctl", "\x01",                  /* a value that looks like a code */
	"x-esc", "\x1f" "escaped",        /* ... and one that starts with the escape */
	"\x02", "name that looks like a code",
	"x-empty", "",
	"cookie", "sessionid=abc; theme=dark",
	NULL,
};

static void test_full_scope(void)
{
	struct test_env e;
	struct fake_conn fc = {0};
	struct consumer_scope s = {0};

	env_init(&e);
	s.path = strdup("/ws/chat/lobby/");
	s.query_string = strdup("a=1&b=2");
	s.client_addr = strdup("2001:db8::1");
	s.subprotocols = strdup("chat, superchat");
	s.headers = pack_headers(handshake);
	s.kwargs = json_pack("{s:s,s:i,s:s,s:s}", "room_name", "lobby", "page", 42, "", "dropped",
			     "empty", "");
	s.session = json_pack("{s:s}", "username", "alice");
	json_t *session = s.session;
	json_t *want_kwargs = json_pack("{s:s,s:i,s:s}", "room_name", "lobby", "page", 42,
					"empty", "");
	s.username = strdup("alice");
	s.is_authenticated = true;

	fake_open(&fc, &probe_class, &s, &e);
	CHECK(fc.res.accepted);
	CHECK(s.path == NULL && s.headers == NULL && s.kwargs == NULL && s.session == NULL);
	struct consumer *c = fc.c;
	CHECK(c == connected);

	struct probe *p = consumer_state(c);
	CHECK_INT((uintptr_t)p % alignof(max_align_t), 0);
	CHECK_INT(p->connects, 1);
	CHECK_STR(p->path, "/ws/chat/lobby/");

	CHECK_STR(consumer_scope_path(c), "/ws/chat/lobby/");
	CHECK_STR(consumer_scope_query_string(c), "a=1&b=2");
	CHECK_STR(consumer_scope_client_addr(c), "2001:db8::1");
	CHECK_STR(consumer_scope_subprotocols(c), "chat, superchat");
	CHECK_STR(consumer_username(c), "alice");
	CHECK(consumer_is_authenticated(c));
	CHECK(consumer_scope_session(c) == session); /* the same object, borrowed */

	for (const char *const *h = handshake; *h; h += 2) {
		const char *got = consumer_scope_header(c, h[0]);
		CHECK(got != NULL);
		if (got)
			CHECK_STR(got, h[1]);
	}
	CHECK(consumer_scope_header(c, "origin") == NULL);
	CHECK(consumer_scope_header(c, "Host") == NULL); /* names are lower-case */
	json_t *cookies = consumer_scope_cookies(c);
	CHECK_STR(json_string_value(json_object_get(cookies, "theme")), "dark");
	json_decref(cookies);

	CHECK_STR(consumer_scope_kwarg(c, "room_name"), "lobby");
	CHECK_STR(consumer_scope_kwarg(c, "page"), "42");
	CHECK_STR(consumer_scope_kwarg(c, "empty"), "");
	CHECK(consumer_scope_kwarg(c, "") == NULL);
	CHECK(consumer_scope_kwarg(c, "missing") == NULL);
	json_t *kw = consumer_scope_kwargs(c);
	CHECK(json_equal(kw, want_kwargs));
	CHECK(json_is_integer(json_object_get(kw, "page")));
	json_decref(kw);
	json_decref(want_kwargs);

	/* The channel name is the layer's copy, registered as the receiver. */
	const char *ch = consumer_channel_name(c);
	CHECK(strncmp(ch, "specific.", 9) == 0);
	CHECK(layer_receiver_name(e.layer, ch) == ch);

	fake_end(&fc, 1000);
	CHECK(layer_receiver_name(e.layer, "specific.x") == NULL);
	ENV_FINISH(&e);
}

static void test_empty_scope(void)
{
	struct test_env e;
	struct fake_conn fc = {0};

	env_init(&e);
	fake_open(&fc, &plain_class, NULL, &e);
	CHECK(fc.res.accepted);
	struct consumer *c = fc.c;
	CHECK_STR(consumer_scope_path(c), "");
	CHECK_STR(consumer_scope_query_string(c), "");
	CHECK_STR(consumer_scope_client_addr(c), "");
	CHECK(consumer_scope_subprotocols(c) == NULL);
	CHECK_STR(consumer_username(c), "");
	CHECK(!consumer_is_authenticated(c));
	CHECK(consumer_scope_session(c) == NULL);
	CHECK(consumer_scope_header(c, "host") == NULL);
	CHECK(consumer_scope_kwarg(c, "room_name") == NULL);
	json_t *kw = consumer_scope_kwargs(c);
	CHECK(json_is_object(kw));
	CHECK_INT(json_object_size(kw), 0);
	json_decref(kw);
	CHECK_INT(consumer_send_text(c, "hi", 2), 0);
	CHECK_INT(fc.nframes, 1);
	fake_clear(&fc);
	fake_end(&fc, 1000);
	ENV_FINISH(&e);
}

/* Many consumers share interned group names; extra groups, discards and the
 * automatic leave on disconnect keep the layer's groups exact. */
static void test_groups(void)
{
	enum { N = 50 };
	struct test_env e;
	static struct fake_conn fc[N];
	struct layer_stats st;

	env_init(&e);
	memset(fc, 0, sizeof(fc));
	for (int i = 0; i < N; i++) {
		fake_open(&fc[i], &plain_class, NULL, &e);
		CHECK_INT(consumer_group_add(fc[i].c, "room"), 0);
		CHECK_INT(consumer_group_add(fc[i].c, "room"), 0); /* again: no-op */
		if (i % 2)
			CHECK_INT(consumer_group_add(fc[i].c, "odd"), 0);
		if (i % 3 == 0)
			CHECK_INT(consumer_group_add(fc[i].c, "third"), 0);
	}
	layer_get_stats(e.layer, &st);
	CHECK_INT(st.groups, 3);
	CHECK_INT(consumer_group_discard(fc[1].c, "room"), 0); /* the first group */
	CHECK_INT(consumer_group_discard(fc[3].c, "odd"), 0);  /* a later one */
	CHECK_INT(consumer_group_add(fc[1].c, "room"), 0);     /* joined again */

	json_t *m = json_pack("{s:s}", "type", "x.y");
	CHECK_INT(layer_group_send(e.layer, "odd", m), 0);
	json_decref(m);
	for (int i = 0; i < N; i++)
		fake_end(&fc[i], 1000);
	layer_get_stats(e.layer, &st);
	CHECK_INT(st.groups, 0);
	CHECK_INT(st.receivers, 0);
	env_spin(&e, 2);
	ENV_FINISH(&e);
}

int main(void)
{
	test_full_scope();
	test_empty_scope();
	test_groups();
	return check_finish();
}
