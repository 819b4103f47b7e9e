/*
 * fuzz_routing.c - fuzz target of routing/.
 *
 * Input: "<pattern>\n<path>" (split at the first NUL or newline; with
 * neither, the whole input is both pattern and path). The pattern is
 * compiled as path() and as re_path(), alone and together, and the path is
 * matched. Invariants checked (abort() on violation):
 *   - router_new() and router_path_to_regex() agree on path() patterns, and a
 *     failure always comes with a message naming the route;
 *   - router_match() returns a route iff it returns kwargs, and kwargs is an
 *     object whose values are strings (or non-negative integers for path());
 *     every string value is a substring of the matched path;
 *   - a path() pattern without '<' matches exactly its literal text;
 *   - matching is deterministic, and `kwargs == NULL` changes nothing;
 *   - in a router of [path(p), re_path(p)], the first route that matches
 *     alone is the one that matches.
 */
#include "routing.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static const int path_target, re_target;

static const char *strip1(const char *path)
{
	return path[0] == '/' ? path + 1 : path;
}

/*
 * Matches `path` and checks the invariants that hold for any route; returns
 * the matched route and stores kwargs (caller frees) in *out.
 */
static const struct route *checked_match(const struct router *r, const char *path, json_t **out)
{
	json_t *kw = json_true(); /* must be replaced */
	const struct route *m = router_match(r, path, &kw);
	REQUIRE((m == NULL) == (kw == NULL));
	if (m) {
		REQUIRE(json_is_object(kw));
		REQUIRE(m->target == &path_target || m->target == &re_target);
		const char *key;
		json_t *v;
		json_object_foreach(kw, key, v) {
			if (json_is_integer(v)) {
				REQUIRE(m->kind == ROUTE_PATH);
				REQUIRE(json_integer_value(v) >= 0);
			} else {
				REQUIRE(json_is_string(v));
				REQUIRE(strstr(strip1(path), json_string_value(v)) != NULL);
			}
		}
	}
	/* deterministic, and the same without kwargs */
	json_t *kw2 = NULL;
	REQUIRE(router_match(r, path, &kw2) == m);
	REQUIRE(json_equal(kw, kw2) || (!kw && !kw2));
	json_decref(kw2);
	REQUIRE(router_match(r, path, NULL) == m);
	*out = kw;
	return m;
}

static struct router *compile_one(enum route_kind kind, const char *pattern, const void *target)
{
	struct route rt = {kind, pattern, target, NULL};
	struct router *r = (struct router *)&rt; /* must be overwritten */
	char err[256] = "";
	int rc = router_new(&rt, 1, &r, err, sizeof(err));
	if (rc != 0) {
		REQUIRE(r == NULL);
		REQUIRE(rc == CH_EPATTERN || rc == CH_ENOMEM);
		REQUIRE(strncmp(err, "route 0", 7) == 0);
		return NULL;
	}
	REQUIRE(r != NULL);
	return r;
}

static const struct route *check_path_kind(const char *pattern, const char *path,
					   struct router **keep)
{
	char err[256] = "";
	char *regex = router_path_to_regex(pattern, err, sizeof(err));
	struct router *r = compile_one(ROUTE_PATH, pattern, &path_target);
	*keep = r;
	if (!regex) {
		REQUIRE(r == NULL);
		REQUIRE(err[0] != '\0');
		return NULL;
	}
	size_t rl = strlen(regex);
	REQUIRE(regex[0] == '^' && rl >= 3 && strcmp(regex + rl - 2, "\\z") == 0);
	free(regex);
	if (!r)
		return NULL; /* translated, but PCRE2 refused it (e.g. not UTF-8) */

	json_t *kw;
	const struct route *m = checked_match(r, path, &kw);
	if (!strchr(pattern, '<')) {
		/* a literal route matches exactly its text */
		REQUIRE((m != NULL) == (strcmp(strip1(path), pattern) == 0));
		if (m)
			REQUIRE(json_object_size(kw) == 0);

		size_t n = strlen(pattern);
		char *slashed = malloc(n + 2);
		REQUIRE(slashed);
		slashed[0] = '/';
		memcpy(slashed + 1, pattern, n + 1);
		json_t *kw2;
		REQUIRE(checked_match(r, slashed, &kw2) != NULL);
		REQUIRE(json_object_size(kw2) == 0);
		json_decref(kw2);
		free(slashed);
		REQUIRE((router_match(r, pattern, NULL) != NULL) == (pattern[0] != '/'));
	} else if (m) {
		size_t lts = 0;
		for (const char *p = pattern; *p; p++)
			lts += *p == '<';
		REQUIRE(json_object_size(kw) >= 1 && json_object_size(kw) <= lts);
	}
	json_decref(kw);
	return m;
}

static const struct route *check_re_kind(const char *pattern, const char *path,
					 struct router **keep)
{
	struct router *r = compile_one(ROUTE_RE_PATH, pattern, &re_target);
	*keep = r;
	if (!r)
		return NULL;
	json_t *kw;
	const struct route *m = checked_match(r, path, &kw);
	if (m) {
		const char *key;
		json_t *v;
		json_object_foreach(kw, key, v)
			REQUIRE(json_is_string(v));
	}
	json_decref(kw);
	return m;
}

static void check_pattern(const char *pattern, const char *path)
{
	struct router *rp, *rr;
	const struct route *mp = check_path_kind(pattern, path, &rp);
	const struct route *mr = check_re_kind(pattern, path, &rr);

	if (rp && rr) {
		const struct route both[] = {
			PATH(pattern, &path_target),
			RE_PATH(pattern, &re_target),
		};
		struct router *r = NULL;
		REQUIRE(router_new(both, 2, &r, NULL, 0) == 0);
		json_t *kw;
		const struct route *m = checked_match(r, path, &kw);
		const void *want = mp ? (const void *)&path_target : mr ? (const void *)&re_target
								 : NULL;
		REQUIRE((m ? m->target : NULL) == want);
		json_decref(kw);
		router_free(r);
	}
	router_free(rp);
	router_free(rr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0; /* long inputs only slow the fuzzer down */
	size_t cut = 0;
	while (cut < size && data[cut] != '\0' && data[cut] != '\n')
		cut++;
	char *pattern = malloc(cut + 1);
	REQUIRE(pattern);
	memcpy(pattern, data, cut);
	pattern[cut] = '\0';
	char *path;
	if (cut == size) {
		path = strdup(pattern);
	} else {
		size_t n = size - cut - 1;
		path = malloc(n + 1);
		if (path) {
			memcpy(path, data + cut + 1, n);
			path[n] = '\0'; /* an embedded NUL just ends the path */
		}
	}
	REQUIRE(path);
	check_pattern(pattern, path);
	free(pattern);
	free(path);
	return 0;
}
