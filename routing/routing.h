/*
 * routing.h - Django-style URL routing: path() with converters and
 * re_path() with PCRE2 named groups, declared in C the way urls.py reads:
 *
 *   static const struct route ws_routes[] = {
 *       RE_PATH("ws/chat/(?P<room_name>\\w+)/$", &chat_consumer),
 *       PATH("notifications/", &gossip_consumer),
 *   };
 *
 * path() converters: <str:x> (default; [^/]+), <int:x> ([0-9]+, captured as
 * a JSON integer), <slug:x> ([-a-zA-Z0-9_]+), <uuid:x> (lower-case hex
 * 8-4-4-4-12), <path:x> (.+). A path() pattern must match the whole path.
 * A re_path() pattern is anchored at the start only, as in Django
 * (re.match); named groups are captured as strings, unnamed groups ignored.
 * (Named groups that did not take part in the match are left out; a pattern
 * ending in '$' must match the whole path, like Django's re.fullmatch.)
 * An unknown converter, a '<' with no '>', an empty "<>", whitespace inside
 * <...>, or a parameter name that is not an ASCII identifier of at most 32
 * characters is a compile error (CH_EPATTERN).
 *
 * Matching is done on the request path with its leading "/" removed, as
 * Django's resolver does ("/ws/chat/lobby/" is matched as "ws/chat/lobby/").
 * Routes are tried in order; the first match wins.
 *
 * The router does no I/O; it is immutable once built and may be used from
 * any number of threads at once.
 */
#ifndef ROUTING_ROUTING_H
#define ROUTING_ROUTING_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"

enum route_kind {
	ROUTE_PATH = 0,
	ROUTE_RE_PATH = 1,
};

struct route {
	enum route_kind kind;
	const char *pattern; /* borrowed: must outlive the router (string literals) */
	const void *target;  /* a view or a consumer class; opaque to the router */
	const char *name;    /* optional, for logs */
};

#define PATH(pattern, target) {ROUTE_PATH, (pattern), (target), NULL}
#define RE_PATH(pattern, target) {ROUTE_RE_PATH, (pattern), (target), NULL}

struct router;

/*
 * Compiles `n` routes. The array is copied (the caller may free it); the
 * pattern strings stay borrowed. On success stores a new router in *out and returns 0.
 * On a bad pattern returns CH_EPATTERN and writes a one-line reason
 * naming the pattern into `err` (may be NULL).
 */
int router_new(const struct route *routes, size_t n, struct router **out, char *err, size_t errlen);

void router_free(struct router *r);

/*
 * Matches `path` (a decoded URL path, normally starting with "/").
 * On a match returns the route and, if `kwargs` is not NULL, stores a new
 * JSON object of captured values in *kwargs (caller owns it; empty object
 * when the route captures nothing). Returns NULL when nothing matches
 * (*kwargs is then NULL). The returned route is the router's copy of the
 * caller's entry (same fields), valid until router_free(): compare ->target,
 * not the pointer. A path that is not valid UTF-8 matches nothing; an
 * <int:...> value that does not fit json_int_t makes that route not match.
 * Any thread may call this at the same time as others on the same router.
 */
const struct route *router_match(const struct router *r, const char *path, json_t **kwargs);

/*
 * Translates a path() pattern into the PCRE2 regex it is compiled to
 * ("chat/<str:room>/" -> "^chat/(?P<room>[^/]+)/\z"). Returns a malloc'd
 * string, or NULL with a reason in `err` (unknown converter, bad syntax).
 */
char *router_path_to_regex(const char *pattern, char *err, size_t errlen);

#endif
