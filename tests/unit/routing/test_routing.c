/*
 * test_routing.c - unit tests of routing/: path() converters, re_path()
 * semantics as in Django, errors, unicode, and concurrent matching.
 */
#include "check.h"
#include "routing.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

/* Targets are compared by address only. */
static const int chat_consumer, gossip_consumer, room_view, two_url_consumer;
static const int t_a, t_b, t_c, t_d, t_e, t_f, t_g;

/* Sentinel to prove router_match() resets *kwargs on no match. */
static json_t *sentinel(void)
{
	static json_t *s;
	if (!s)
		s = json_string("sentinel");
	return s;
}

/* Compact, key-sorted JSON of `v` in a static buffer ("(null)" for NULL). */
static const char *dump(json_t *v)
{
	static char buf[1024];
	if (!v)
		return "(null)";
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	snprintf(buf, sizeof(buf), "%s", s ? s : "(dump failed)");
	free(s);
	return buf;
}

/* Expects `path` to match the route with target `tgt`, with kwargs `want` (JSON). */
#define EXPECT_MATCH(r, path, tgt, want)                                            \
	do {                                                                           \
		json_t *kw_ = sentinel();                                              \
		const struct route *m_ = router_match((r), (path), &kw_);              \
		CHECK(m_ != NULL);                                                     \
		if (m_)                                                                \
			CHECK(m_->target == (const void *)(tgt));                   \
		CHECK(kw_ != sentinel());                                              \
		CHECK(json_is_object(kw_));                                            \
		CHECK_STR(dump(kw_ == sentinel() ? NULL : kw_), (want));               \
		if (kw_ != sentinel())                                                 \
			json_decref(kw_);                                              \
	} while (0)

#define EXPECT_NO_MATCH(r, path)                                                       \
	do {                                                                           \
		json_t *kw_ = sentinel();                                              \
		const struct route *m_ = router_match((r), (path), &kw_);              \
		if (m_)                                                                \
			fprintf(stderr, "unexpected match of \"%s\" by \"%s\"\n", (path), \
				m_->pattern);                                          \
		CHECK(m_ == NULL);                                                     \
		CHECK(kw_ == NULL);                                                    \
		if (kw_ && kw_ != sentinel())                                          \
			json_decref(kw_);                                              \
	} while (0)

static struct router *build(const struct route *routes, size_t n)
{
	struct router *r = NULL;
	char err[256] = "";
	int rc = router_new(routes, n, &r, err, sizeof(err));
	CHECK_INT(rc, 0);
	if (rc != 0)
		fprintf(stderr, "router_new: %s\n", err);
	return r;
}

static const struct route seed_routes[] = {
	RE_PATH("ws/chat/(?P<room_name>\\w+)/$", &chat_consumer),
	PATH("notifications/", &gossip_consumer),
	PATH("chat/<str:room_name>/", &room_view),
	PATH("ws/two_url/", &two_url_consumer),
};

static void test_seed_routes(void)
{
	struct router *r = build(seed_routes, 4);
	if (!r)
		return;
	EXPECT_MATCH(r, "/ws/chat/lobby/", &chat_consumer, "{\"room_name\":\"lobby\"}");
	EXPECT_MATCH(r, "ws/chat/lobby/", &chat_consumer, "{\"room_name\":\"lobby\"}");
	EXPECT_MATCH(r, "/ws/chat/room_2/", &chat_consumer, "{\"room_name\":\"room_2\"}");
	EXPECT_NO_MATCH(r, "/ws/chat/lobby/extra");
	EXPECT_NO_MATCH(r, "/ws/chat//");
	EXPECT_NO_MATCH(r, "/ws/chat/lobby");
	EXPECT_NO_MATCH(r, "/ws/chat/a-b/");     /* \w has no '-' */
	EXPECT_NO_MATCH(r, "/ws/chat/lobby/\n"); /* Django fullmatch()es a route ending in $ */
	EXPECT_NO_MATCH(r, "//ws/chat/lobby/");  /* only one leading '/' is stripped */
	EXPECT_NO_MATCH(r, "/xws/chat/lobby/");  /* re_path is anchored at the start */

	EXPECT_MATCH(r, "/notifications/", &gossip_consumer, "{}");
	EXPECT_NO_MATCH(r, "/notifications");
	EXPECT_NO_MATCH(r, "/notifications/x");
	EXPECT_NO_MATCH(r, "/notifications/\n");

	EXPECT_MATCH(r, "/chat/lobby/", &room_view, "{\"room_name\":\"lobby\"}");
	EXPECT_MATCH(r, "/chat/a.b-c/", &room_view, "{\"room_name\":\"a.b-c\"}");
	EXPECT_NO_MATCH(r, "/chat/a/b/");
	EXPECT_NO_MATCH(r, "/chat//");

	EXPECT_MATCH(r, "/ws/two_url/", &two_url_consumer, "{}");
	EXPECT_NO_MATCH(r, "/ws/two_url");

	/* The returned route carries the caller's fields. */
	const struct route *m = router_match(r, "/notifications/", NULL);
	CHECK(m != NULL);
	if (m) {
		CHECK_STR(m->pattern, "notifications/");
		CHECK_INT(m->kind, ROUTE_PATH);
	}
	EXPECT_NO_MATCH(r, "");
	EXPECT_NO_MATCH(r, "/");
	router_free(r);
}

static void test_converters(void)
{
	static const struct route routes[] = {
		PATH("int/<int:n>/", &t_a),
		PATH("int/<str:s>/", &t_b), /* catches what int rejects */
		PATH("u/<uuid:id>/", &t_c),
		PATH("s/<slug:slug>/", &t_d),
		PATH("p/<path:rest>", &t_e),
		PATH("d/<name>/", &t_f),
		PATH("blog/<int:year>/<slug:slug>/<path:rest>", &t_g),
	};
	struct router *r = build(routes, sizeof(routes) / sizeof(routes[0]));
	if (!r)
		return;
	EXPECT_MATCH(r, "/int/42/", &t_a, "{\"n\":42}");
	EXPECT_MATCH(r, "/int/007/", &t_a, "{\"n\":7}");
	EXPECT_MATCH(r, "/int/9223372036854775807/", &t_a, "{\"n\":9223372036854775807}");
	/* overflow: the int route does not match, the next one does */
	EXPECT_MATCH(r, "/int/9223372036854775808/", &t_b, "{\"s\":\"9223372036854775808\"}");
	EXPECT_MATCH(r, "/int/-1/", &t_b, "{\"s\":\"-1\"}");
	EXPECT_MATCH(r, "/int/4a/", &t_b, "{\"s\":\"4a\"}");

	json_t *kw = NULL;
	const struct route *m = router_match(r, "/int/123/", &kw);
	CHECK(m && m->target == &t_a);
	CHECK(json_is_integer(json_object_get(kw, "n")));
	CHECK_INT(json_integer_value(json_object_get(kw, "n")), 123);
	json_decref(kw);

	EXPECT_MATCH(r, "/u/12345678-9abc-def0-1234-56789abcdef0/", &t_c,
		     "{\"id\":\"12345678-9abc-def0-1234-56789abcdef0\"}");
	EXPECT_NO_MATCH(r, "/u/12345678-9ABC-DEF0-1234-56789ABCDEF0/");
	EXPECT_NO_MATCH(r, "/u/12345678-9abc-def0-1234-56789abcdef/");
	EXPECT_NO_MATCH(r, "/u/123456789abcdef0123456789abcdef0/");

	EXPECT_MATCH(r, "/s/my-slug_1/", &t_d, "{\"slug\":\"my-slug_1\"}");
	EXPECT_NO_MATCH(r, "/s/a.b/");
	EXPECT_NO_MATCH(r, "/s/caf\xc3\xa9/");

	EXPECT_MATCH(r, "/p/a/b/c.txt", &t_e, "{\"rest\":\"a/b/c.txt\"}");
	EXPECT_MATCH(r, "/p//", &t_e, "{\"rest\":\"/\"}");
	EXPECT_NO_MATCH(r, "/p/");
	EXPECT_NO_MATCH(r, "/p/a\nb"); /* '.' does not match a newline, as in Python */

	EXPECT_MATCH(r, "/d/x y/", &t_f, "{\"name\":\"x y\"}");

	EXPECT_MATCH(r, "/blog/2024/hello-world/x/y", &t_g,
		     "{\"rest\":\"x/y\",\"slug\":\"hello-world\",\"year\":2024}");

	/* kwargs may be NULL */
	m = router_match(r, "/s/ok/", NULL);
	CHECK(m && m->target == &t_d);
	router_free(r);
}

static void test_re_path_semantics(void)
{
	static const struct route routes[] = {
		RE_PATH("o/(?P<a>x)?(?P<b>y)$", &t_a),
		RE_PATH("g/(\\d+)/(?P<n>\\w+)/$", &t_b),
		RE_PATH("pre", &t_c),
		RE_PATH("z/\\Z", &t_d),
		RE_PATH("caf\\u00e9/$", &t_e),
		RE_PATH("^d/(?P<n>\\d+)/$", &t_f),
	};
	struct router *r = build(routes, sizeof(routes) / sizeof(routes[0]));
	if (!r)
		return;
	EXPECT_MATCH(r, "/o/y", &t_a, "{\"b\":\"y\"}"); /* unset groups are left out */
	EXPECT_MATCH(r, "/o/xy", &t_a, "{\"a\":\"x\",\"b\":\"y\"}");
	EXPECT_MATCH(r, "/g/12/ab/", &t_b, "{\"n\":\"ab\"}"); /* unnamed groups ignored */
	EXPECT_MATCH(r, "/prefix/and/more", &t_c, "{}");      /* no '$': prefix match */
	EXPECT_NO_MATCH(r, "/xpre");
	EXPECT_MATCH(r, "/z/", &t_d, "{}");
	EXPECT_NO_MATCH(r, "/z/\n"); /* Python's \Z is the very end */
	EXPECT_MATCH(r, "/caf\xc3\xa9/", &t_e, "{}");
	EXPECT_MATCH(r, "/d/\xd9\xa3/", &t_f, "{\"n\":\"\xd9\xa3\"}"); /* Unicode \d */
	router_free(r);
}

static void test_order(void)
{
	static const struct route ab[] = {
		PATH("a/<str:x>/", &t_a),
		PATH("a/b/", &t_b),
	};
	static const struct route ba[] = {
		PATH("a/b/", &t_b),
		PATH("a/<str:x>/", &t_a),
	};
	struct router *r1 = build(ab, 2), *r2 = build(ba, 2);
	if (r1 && r2) {
		EXPECT_MATCH(r1, "/a/b/", &t_a, "{\"x\":\"b\"}");
		EXPECT_MATCH(r2, "/a/b/", &t_b, "{}");
		EXPECT_MATCH(r2, "/a/c/", &t_a, "{\"x\":\"c\"}");
	}
	router_free(r1);
	router_free(r2);

	/* an empty router matches nothing */
	struct router *e = build(NULL, 0);
	if (e)
		EXPECT_NO_MATCH(e, "/anything/");
	router_free(e);
	router_free(NULL);
	CHECK(router_match(NULL, "/x", NULL) == NULL);
}

/* Expects route set {ok, bad} to fail with EPATTERN and a message holding each needle. */
static void expect_bad(struct route bad, const char *needle1, const char *needle2)
{
	struct route routes[2] = {PATH("fine/", &t_a), bad};
	struct router *r = (struct router *)&t_g; /* must be reset to NULL */
	char err[512] = "";
	int rc = router_new(routes, 2, &r, err, sizeof(err));
	CHECK_INT(rc, CH_EPATTERN);
	CHECK(r == NULL);
	CHECK_CONTAINS(err, "route 1");
	CHECK_CONTAINS(err, needle1);
	if (needle2)
		CHECK_CONTAINS(err, needle2);
	CHECK(strchr(err, '\n') == NULL || strchr(bad.pattern ? bad.pattern : "", '\n'));
	if (rc == 0)
		router_free(r);
	/* err may be NULL */
	r = NULL;
	CHECK_INT(router_new(routes, 2, &r, NULL, 0), CH_EPATTERN);
}

static void test_bad_patterns(void)
{
	expect_bad((struct route)PATH("a/<foo:x>/", &t_b), "invalid converter \"foo\"",
		   "a/<foo:x>/");
	expect_bad((struct route)PATH("a/<int:x", &t_b), "never closed", "a/<int:x");
	expect_bad((struct route)PATH("a/<int: x>/", &t_b), "whitespace", "a/<int: x>/");
	expect_bad((struct route)PATH("a/<int:1x>/", &t_b), "not a valid identifier", "\"1x\"");
	expect_bad((struct route)PATH("a/<int:>/", &t_b), "not a valid identifier", "\"int:\"");
	expect_bad((struct route)PATH("a/<:x>/", &t_b), "not a valid identifier", "\":x\"");
	expect_bad((struct route)PATH("a/<x>/<int:x>/", &t_b), "appears twice", "\"x\"");
	expect_bad((struct route)PATH("a/<>/", &t_b), "empty", "a/<>/");
	expect_bad((struct route)PATH("a/<x-y>/", &t_b), "not a valid identifier", "x-y");
	expect_bad((struct route)PATH("\xff/", &t_b), "UTF-8", NULL);
	expect_bad((struct route)RE_PATH("ws/(", &t_b), "missing closing parenthesis",
		   "re_path(\"ws/(\")");
	expect_bad((struct route)RE_PATH("(?P<n>a)(?P<n>b)", &t_b), "same name", NULL);
	expect_bad((struct route)RE_PATH("a\\Cb", &t_b), "\\C", NULL);
	expect_bad((struct route)RE_PATH("[a-", &t_b), "missing terminating ]", NULL);
	expect_bad((struct route)RE_PATH(NULL, &t_b), "no pattern", NULL);
	expect_bad((struct route){(enum route_kind)7, "x", &t_b, NULL}, "unknown route kind", NULL);

	CHECK_STR(ch_strerror(CH_OK), "success");
	CHECK_STR(ch_strerror(CH_EPATTERN), "bad route pattern");
	CHECK_STR(ch_strerror(CH_ENOMEM), "out of memory");
	CHECK_STR(ch_strerror(CH_ENOMATCH), "no route matches");
	CHECK_STR(ch_strerror(12345), "unknown error");
}

static void expect_regex(const char *pattern, const char *want)
{
	char err[256] = "";
	char *re = router_path_to_regex(pattern, err, sizeof(err));
	CHECK_STR(re, want);
	if (!re)
		fprintf(stderr, "  error: %s\n", err);
	free(re);
}

static void test_path_to_regex(void)
{
	expect_regex("chat/<str:room>/", "^chat/(?P<room>[^/]+)/\\z");
	expect_regex("", "^\\z");
	expect_regex("a.b/<int:n>", "^a\\.b/(?P<n>[0-9]+)\\z");
	expect_regex("<slug:s>-<uuid:u>/<path:p>",
		     "^(?P<s>[-a-zA-Z0-9_]+)\\-(?P<u>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
		     "[0-9a-f]{4}-[0-9a-f]{12})/(?P<p>.+)\\z");
	expect_regex("<x>", "^(?P<x>[^/]+)\\z");
	expect_regex("$^()[]{}?*+|\\.&~# x",
		     "^\\$\\^\\(\\)\\[\\]\\{\\}\\?\\*\\+\\|\\\\\\.\\&\\~\\#\\ x\\z");
	expect_regex("a>b/caf\xc3\xa9", "^a>b/caf\xc3\xa9\\z");

	char err[256] = "";
	char *re = router_path_to_regex("x/<bogus:y>", err, sizeof(err));
	CHECK(re == NULL);
	CHECK_CONTAINS(err, "invalid converter \"bogus\"");
	CHECK_CONTAINS(err, "x/<bogus:y>");
	free(re);
	CHECK(router_path_to_regex("<int:a", NULL, 0) == NULL);
	CHECK(router_path_to_regex(NULL, err, sizeof(err)) == NULL);
}

static void test_literal_escaping(void)
{
	static const struct route routes[] = {
		PATH("a.b/", &t_a),
		PATH("c++/(x)/[y]/{2}/$^|?*\\/", &t_b),
		PATH("sp ace/#frag&~/", &t_c),
		PATH("star*/", &t_d),
	};
	struct router *r = build(routes, sizeof(routes) / sizeof(routes[0]));
	if (!r)
		return;
	EXPECT_MATCH(r, "/a.b/", &t_a, "{}");
	EXPECT_NO_MATCH(r, "/axb/");
	EXPECT_MATCH(r, "/c++/(x)/[y]/{2}/$^|?*\\/", &t_b, "{}");
	EXPECT_NO_MATCH(r, "/c/x/y/yy/");
	EXPECT_MATCH(r, "/sp ace/#frag&~/", &t_c, "{}");
	EXPECT_MATCH(r, "/star*/", &t_d, "{}");
	EXPECT_NO_MATCH(r, "/sta/");
	EXPECT_NO_MATCH(r, "/starrr/");
	router_free(r);
}

static void test_unicode(void)
{
	struct router *r = build(seed_routes, 4);
	if (!r)
		return;
	EXPECT_MATCH(r, "/ws/chat/caf\xc3\xa9/", &chat_consumer,
		     "{\"room_name\":\"caf\xc3\xa9\"}");
#define ROOM_RU "\xd0\xba\xd0\xbe\xd0\xbc\xd0\xbd\xd0\xb0\xd1\x82\xd0\xb0"
	EXPECT_MATCH(r, "/ws/chat/" ROOM_RU "/", &chat_consumer, "{\"room_name\":\"" ROOM_RU "\"}");
#undef ROOM_RU
	EXPECT_MATCH(r, "/ws/chat/\xe9\x83\xa8\xe5\xb1\x8b/", &chat_consumer,
		     "{\"room_name\":\"\xe9\x83\xa8\xe5\xb1\x8b\"}");
	EXPECT_MATCH(r, "/chat/\xc3\xbc\xc3\xb1\xc3\xaf/", &room_view,
		     "{\"room_name\":\"\xc3\xbc\xc3\xb1\xc3\xaf\"}");
	EXPECT_NO_MATCH(r, "/ws/chat/\xe2\x98\x83/"); /* a snowman is not \w */
	EXPECT_NO_MATCH(r, "/ws/chat/\xff/");         /* not UTF-8: nothing matches */
	EXPECT_NO_MATCH(r, "/chat/\xc3/");
	router_free(r);

	static const struct route uni[] = {PATH("caf\xc3\xa9/<str:x>", &t_a)};
	r = build(uni, 1);
	if (r) {
		EXPECT_MATCH(r, "/caf\xc3\xa9/\xe2\x98\x83", &t_a, "{\"x\":\"\xe2\x98\x83\"}");
		EXPECT_NO_MATCH(r, "/cafe/x");
	}
	router_free(r);
}

struct worker {
	const struct router *r;
	int iterations;
	int failures;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	static const struct {
		const char *path;
		const void *target;
		const char *key;
		const char *val;
	} cases[] = {
		{"/ws/chat/lobby/", &chat_consumer, "room_name", "lobby"},
		{"/ws/chat/caf\xc3\xa9/", &chat_consumer, "room_name", "caf\xc3\xa9"},
		{"/chat/abc/", &room_view, "room_name", "abc"},
		{"/notifications/", &gossip_consumer, NULL, NULL},
		{"/ws/two_url/", &two_url_consumer, NULL, NULL},
		{"/ws/chat/lobby/extra", NULL, NULL, NULL},
	};
	size_t nc = sizeof(cases) / sizeof(cases[0]);
	for (int i = 0; i < w->iterations; i++) {
		size_t c = (size_t)i % nc;
		json_t *kw = NULL;
		const struct route *m = router_match(w->r, cases[c].path, &kw);
		bool ok = cases[c].target ? (m && m->target == cases[c].target && kw)
					  : (!m && !kw);
		if (ok && cases[c].key) {
			const char *v = json_string_value(json_object_get(kw, cases[c].key));
			ok = v && strcmp(v, cases[c].val) == 0;
		} else if (ok && kw) {
			ok = json_object_size(kw) == 0;
		}
		if (!ok)
			w->failures++;
		json_decref(kw);
	}
	return NULL;
}

static void test_threads(void)
{
	struct router *r = build(seed_routes, 4);
	if (!r)
		return;
	enum { NTHREADS = 4 };
	pthread_t th[NTHREADS];
	struct worker w[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){r, 20000, 0};
		CHECK_INT(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		CHECK_INT(pthread_join(th[i], NULL), 0);
		CHECK_INT(w[i].failures, 0);
	}
	router_free(r);
}

int main(void)
{
	test_seed_routes();
	test_converters();
	test_re_path_semantics();
	test_order();
	test_bad_patterns();
	test_path_to_regex();
	test_literal_escaping();
	test_unicode();
	test_threads();
	json_decref(sentinel());
	return check_finish();
}
