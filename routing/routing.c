/*
 * routing.c - compiles path()/re_path() routes to PCRE2 and matches paths.
 *
 * path() translation follows Django's django/urls/resolvers.py
 * _route_to_regex(): literal text is escaped the way Python's re.escape()
 * does it, each <converter:name> becomes (?P<name>regex), and the result is
 * anchored "^...\z" (Django: is_endpoint, "\Z"). Deliberate differences:
 *   - a '<' with no '>' after it, or an empty "<>", is an error here (Django
 *     silently keeps them as literal text, which in a route is a typo);
 *   - parameter names must be ASCII identifiers of at most 32 characters
 *     (PCRE2 10.42 group names), Django allows any Python identifier.
 *
 * re_path() patterns are compiled as written, with these adjustments so that
 * they mean what Python's re module makes of them:
 *   - PCRE2_UCP: \w, \d, \s, \b are Unicode-aware, as for Python str patterns;
 *   - PCRE2_ALT_BSUX: \uhhhh and \xhh as in Python;
 *   - "\Z" is rewritten to PCRE2's "\z" (Python's \Z is the absolute end);
 *   - newline is LF only, so '.' and '$' treat "\n" as Python does;
 *   - PCRE2_ANCHORED (Django/Channels re.match), and PCRE2_ENDANCHORED when
 *     the pattern ends with '$' (Django >= 3.2 uses re.fullmatch then);
 *   - \C is refused (it could split a UTF-8 character).
 *
 * Thread-safety: a router is immutable after router_new(); compiled code,
 * JIT code and the match context are only read while matching; match data
 * is allocated per router_match() call.
 */
#include "routing.h"
#include "text.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bound of backtracking work per route and path; beyond it the route
 * is treated as not matching (real URL patterns need a few hundred steps). */
#define ROUTING_MATCH_LIMIT 1000000u
/* PCRE2 10.42 limit on group names. */
#define ROUTING_MAX_NAME 32

enum conv {
	CONV_STR,
	CONV_INT,
	CONV_SLUG,
	CONV_UUID,
	CONV_PATH,
	CONV_COUNT,
};

/* Same regexes as django/urls/converters.py. */
static const struct {
	const char *name;
	const char *regex;
} converters[CONV_COUNT] = {
	[CONV_STR] = {"str", "[^/]+"},
	[CONV_INT] = {"int", "[0-9]+"},
	[CONV_SLUG] = {"slug", "[-a-zA-Z0-9_]+"},
	[CONV_UUID] = {"uuid", "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"},
	[CONV_PATH] = {"path", ".+"},
};

struct compiled_route {
	struct route route;  /* copy of the caller's route; pattern stays borrowed */
	pcre2_code *code;    /* owned */
	/* path(): enum conv of capture group i + 1, owned; NULL for re_path */
	unsigned char *convs;
	uint32_t nconv;
};

struct router {
	size_t n;
	uint32_t max_groups; /* largest capture count of all routes */
	pcre2_match_context *mctx; /* owned; read-only after router_new */
	struct compiled_route routes[];
};

__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Python's re.escape(): backslash before each of these, all else as is. */
static void buf_escape(struct text_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] && strchr("()[]{}?*+-|^$\\.&~# \t\n\r\v\f", s[i]))
			text_buf_putc(b, '\\');
		text_buf_putc(b, s[i]);
	}
}

static bool is_ident_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

static bool is_ident(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!is_ident_char(s[i], i == 0))
			return false;
	}
	return n > 0;
}

struct param {
	const char *name;
	size_t len;
};

/*
 * One parameter of a path() pattern, "<converter:name>" or "<name>" from
 * `lt` ('<') to `gt` ('>'), checked against the `np` parameters before it:
 * its converter's index, with the name in *pname_out / *pnlen_out (inside
 * `pattern`), or -1 with `err` set.
 */
static int path_param_parse(const char *pattern, const char *lt, const char *gt,
			    const struct param *params, uint32_t np, const char **pname_out,
			    size_t *pnlen_out, char *err, size_t errlen)
{
	if (gt == lt + 1) {
		set_err(err, errlen, "path(\"%s\"): empty \"<>\" at offset %zu", pattern,
			(size_t)(lt - pattern));
		return -1;
	}
	for (const char *p = lt; p < gt; p++) {
		if (strchr(" \t\n\r\v\f", *p)) {
			set_err(err, errlen, "path(\"%s\"): whitespace inside <...>",
				pattern);
			return -1;
		}
	}
	/* Django: <(?:(?P<converter>[^>:]+):)?(?P<parameter>[^>]+)> */
	const char *inner = lt + 1;
	const char *colon = memchr(inner, ':', (size_t)(gt - inner));
	const char *cname = "str", *pname = inner;
	size_t clen = 3, pnlen = (size_t)(gt - inner);
	if (colon && colon > inner && colon + 1 < gt) {
		cname = inner;
		clen = (size_t)(colon - inner);
		pname = colon + 1;
		pnlen = (size_t)(gt - pname);
	}
	if (!is_ident(pname, pnlen)) {
		set_err(err, errlen,
			"path(\"%s\"): parameter name \"%.*s\" is not a valid identifier "
			"(ASCII letters, digits, '_', not starting with a digit)",
			pattern, (int)pnlen, pname);
		return -1;
	}
	if (pnlen > ROUTING_MAX_NAME) {
		set_err(err, errlen,
			"path(\"%s\"): parameter name \"%.*s\" is longer than %d", pattern,
			(int)pnlen, pname, ROUTING_MAX_NAME);
		return -1;
	}
	int conv = 0;
	while (conv < CONV_COUNT && !(strlen(converters[conv].name) == clen &&
				      memcmp(converters[conv].name, cname, clen) == 0))
		conv++;
	if (conv == CONV_COUNT) {
		set_err(err, errlen,
			"path(\"%s\"): invalid converter \"%.*s\" "
			"(expected str, int, slug, uuid or path)",
			pattern, (int)clen, cname);
		return -1;
	}
	for (uint32_t i = 0; i < np; i++) {
		if (params[i].len == pnlen && memcmp(params[i].name, pname, pnlen) == 0) {
			set_err(err, errlen,
				"path(\"%s\"): parameter \"%.*s\" appears twice", pattern,
				(int)pnlen, pname);
			return -1;
		}
	}
	*pname_out = pname;
	*pnlen_out = pnlen;
	return conv;
}

/*
 * Translates a path() pattern. On success returns 0, stores the malloc'd
 * regex in *regex and, if `convs` is not NULL, a malloc'd array of the
 * converters of capture groups 1..*nconv in *convs (NULL when none).
 */
static int path_translate(const char *pattern, char **regex, unsigned char **convs,
			  uint32_t *nconv, char *err, size_t errlen)
{
	size_t plen = strlen(pattern);
	size_t max_params = plen / 3 + 1; /* each parameter takes at least "<x>" */
	struct param *params = malloc(max_params * sizeof(*params));
	unsigned char *cv = malloc(max_params);
	struct text_buf b = {0};
	uint32_t np = 0;
	int rc = CH_ENOMEM;

	if (!params || !cv)
		goto fail;
	text_buf_puts(&b, "^");
	const char *s = pattern;
	for (;;) {
		const char *lt = strchr(s, '<');
		if (!lt) {
			buf_escape(&b, s, strlen(s));
			break;
		}
		rc = CH_EPATTERN;
		const char *gt = strchr(lt + 1, '>');
		if (!gt) {
			set_err(err, errlen,
				"path(\"%s\"): '<' at offset %zu is never closed by '>'", pattern,
				(size_t)(lt - pattern));
			goto fail;
		}
		const char *pname;
		size_t pnlen;
		int conv = path_param_parse(pattern, lt, gt, params, np, &pname, &pnlen, err,
					    errlen);
		if (conv < 0)
			goto fail;
		params[np].name = pname;
		params[np].len = pnlen;
		cv[np++] = (unsigned char)conv;

		buf_escape(&b, s, (size_t)(lt - s));
		text_buf_puts(&b, "(?P<");
		text_buf_append(&b, pname, pnlen);
		text_buf_puts(&b, ">");
		text_buf_puts(&b, converters[conv].regex);
		text_buf_puts(&b, ")");
		s = gt + 1;
	}
	text_buf_puts(&b, "\\z");
	rc = CH_ENOMEM;
	if (b.failed)
		goto fail;
	free(params);
	*regex = b.data;
	if (convs) {
		if (np == 0) {
			free(cv);
			cv = NULL;
		}
		*convs = cv;
	} else {
		free(cv);
	}
	if (nconv)
		*nconv = np;
	return 0;

fail:
	if (rc == CH_ENOMEM)
		set_err(err, errlen, "path(\"%s\"): out of memory", pattern);
	free(params);
	free(cv);
	text_buf_free(&b);
	return rc;
}

char *router_path_to_regex(const char *pattern, char *err, size_t errlen)
{
	char *regex = NULL;
	if (!pattern) {
		set_err(err, errlen, "path(): no pattern");
		return NULL;
	}
	if (path_translate(pattern, &regex, NULL, NULL, err, errlen) != 0)
		return NULL;
	return regex;
}

/* Copies a re_path() pattern, rewriting Python's "\Z" to PCRE2's "\z". */
static char *re_translate(const char *pattern)
{
	size_t n = strlen(pattern);
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	size_t i = 0;
	while (i < n) {
		if (pattern[i] == '\\' && i + 1 < n) {
			out[i] = '\\';
			out[i + 1] = pattern[i + 1] == 'Z' ? 'z' : pattern[i + 1];
			i += 2;
		} else {
			out[i] = pattern[i];
			i++;
		}
	}
	out[n] = '\0';
	return out;
}

static int compile_route(struct compiled_route *cr, size_t idx, pcre2_compile_context *cctx,
			 char *err, size_t errlen)
{
	const struct route *rt = &cr->route;
	char *regex = NULL;
	uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C;
	int rc;

	if (!rt->pattern) {
		set_err(err, errlen, "route %zu: no pattern", idx);
		return CH_EPATTERN;
	}
	if (rt->kind == ROUTE_PATH) {
		char sub[512];
		rc = path_translate(rt->pattern, &regex, &cr->convs, &cr->nconv, sub, sizeof(sub));
		if (rc != 0) {
			set_err(err, errlen, "route %zu: %s", idx, sub);
			return rc;
		}
		opts |= PCRE2_ANCHORED;
	} else if (rt->kind == ROUTE_RE_PATH) {
		regex = re_translate(rt->pattern);
		if (!regex) {
			set_err(err, errlen, "route %zu: out of memory", idx);
			return CH_ENOMEM;
		}
		size_t n = strlen(rt->pattern);
		opts |= PCRE2_ALT_BSUX | PCRE2_ANCHORED;
		if (n > 0 && rt->pattern[n - 1] == '$')
			opts |= PCRE2_ENDANCHORED;
	} else {
		set_err(err, errlen, "route %zu: unknown route kind %d", idx, (int)rt->kind);
		return CH_EPATTERN;
	}

	int ecode;
	PCRE2_SIZE eoff;
	cr->code = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, opts, &ecode, &eoff,
				 cctx);
	if (!cr->code) {
		PCRE2_UCHAR msg[256];
		if (pcre2_get_error_message(ecode, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", ecode);
		if (rt->kind == ROUTE_PATH)
			set_err(err, errlen,
				"route %zu: path(\"%s\"): %s at offset %zu of regex \"%s\"", idx,
				rt->pattern, (char *)msg, (size_t)eoff, regex);
		else
			set_err(err, errlen, "route %zu: re_path(\"%s\"): %s at offset %zu", idx,
				rt->pattern, (char *)msg, (size_t)eoff);
		free(regex);
		return ecode == PCRE2_ERROR_HEAPLIMIT ? CH_ENOMEM : CH_EPATTERN;
	}
	free(regex);
	/* JIT is an optimisation only: the interpreter is used when it fails. */
	(void)pcre2_jit_compile(cr->code, PCRE2_JIT_COMPLETE);
	return 0;
}

int router_new(const struct route *routes, size_t n, struct router **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!routes && n > 0) {
		set_err(err, errlen, "router_new: routes is NULL");
		return CH_EPATTERN;
	}
	struct router *r = calloc(1, sizeof(*r) + n * sizeof(r->routes[0]));
	pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
	if (!r || !cctx)
		goto nomem;
	r->mctx = pcre2_match_context_create(NULL);
	if (!r->mctx)
		goto nomem;
	pcre2_set_match_limit(r->mctx, ROUTING_MATCH_LIMIT);
	pcre2_set_newline(cctx, PCRE2_NEWLINE_LF);

	for (size_t i = 0; i < n; i++) {
		struct compiled_route *cr = &r->routes[i];
		cr->route = routes[i];
		r->n = i + 1; /* router_free() frees routes[0..n) */
		int rc = compile_route(cr, i, cctx, err, errlen);
		if (rc != 0) {
			pcre2_compile_context_free(cctx);
			router_free(r);
			return rc;
		}
		uint32_t groups = 0;
		pcre2_pattern_info(cr->code, PCRE2_INFO_CAPTURECOUNT, &groups);
		if (groups > r->max_groups)
			r->max_groups = groups;
	}
	pcre2_compile_context_free(cctx);
	*out = r;
	return 0;

nomem:
	set_err(err, errlen, "router_new: out of memory");
	pcre2_compile_context_free(cctx);
	router_free(r);
	return CH_ENOMEM;
}

void router_free(struct router *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		pcre2_code_free(r->routes[i].code);
		free(r->routes[i].convs);
	}
	pcre2_match_context_free(r->mctx);
	free(r);
}

/* Django's int(value) for [0-9]+; false when it does not fit json_int_t. */
static bool parse_int(const char *s, size_t n, json_int_t *out)
{
	json_int_t v = 0;
	const json_int_t max = (json_int_t)((~(unsigned long long)0) >> 1);
	for (size_t i = 0; i < n; i++) {
		int d = s[i] - '0';
		if (d < 0 || d > 9 || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

enum kw_result {
	KW_OK,
	KW_REJECT, /* a converter refused the value: this route does not match */
	KW_NOMEM,
};

/* Builds the kwargs of a successful match from the pattern's name table. */
static enum kw_result build_kwargs(const struct compiled_route *cr, const char *subj,
				   pcre2_match_data *md, json_t **out)
{
	uint32_t count = 0, esize = 0;
	PCRE2_SPTR table = NULL;
	pcre2_pattern_info(cr->code, PCRE2_INFO_NAMECOUNT, &count);
	pcre2_pattern_info(cr->code, PCRE2_INFO_NAMEENTRYSIZE, &esize);
	pcre2_pattern_info(cr->code, PCRE2_INFO_NAMETABLE, &table);
	uint32_t pairs = pcre2_get_ovector_count(md);
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

	json_t *obj = json_object();
	if (!obj)
		return KW_NOMEM;
	for (uint32_t i = 0; i < count; i++) {
		PCRE2_SPTR e = table + (size_t)i * esize;
		uint32_t g = (uint32_t)e[0] << 8 | e[1];
		const char *name = (const char *)(e + 2);
		if (g >= pairs || ov[2 * g] == PCRE2_UNSET || json_object_get(obj, name))
			continue; /* group not set (Django drops None), or a (?J) duplicate */
		const char *v = subj + ov[2 * g];
		size_t vlen = ov[2 * g + 1] - ov[2 * g];
		json_t *val;
		if (cr->convs && g <= cr->nconv && cr->convs[g - 1] == CONV_INT) {
			json_int_t iv;
			if (!parse_int(v, vlen, &iv)) {
				json_decref(obj);
				return KW_REJECT;
			}
			val = json_integer(iv);
		} else {
			val = json_stringn(v, vlen);
		}
		if (!val || json_object_set_new(obj, name, val) != 0) {
			json_decref(obj);
			return KW_NOMEM;
		}
	}
	*out = obj;
	return KW_OK;
}

const struct route *router_match(const struct router *r, const char *path, json_t **kwargs)
{
	if (kwargs)
		*kwargs = NULL;
	if (!r || !path || r->n == 0)
		return NULL;
	if (path[0] == '/')
		path++;
	size_t len = strlen(path);
	pcre2_match_data *md = pcre2_match_data_create(r->max_groups + 1, NULL);
	if (!md)
		return NULL;

	const struct route *found = NULL;
	uint32_t opts = 0;
	for (size_t i = 0; i < r->n && !found; i++) {
		const struct compiled_route *cr = &r->routes[i];
		int rc = pcre2_match(cr->code, (PCRE2_SPTR)path, len, 0, opts, md, r->mctx);
		if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
			break; /* not UTF-8: no route can match */
		if (rc == PCRE2_ERROR_NOMATCH || rc >= 0)
			opts = PCRE2_NO_UTF_CHECK; /* the subject has been checked once */
		if (rc < 0)
			continue; /* no match, or a match/JIT-stack limit was hit */
		json_t *obj = NULL;
		enum kw_result kr = build_kwargs(cr, path, md, &obj);
		if (kr == KW_REJECT)
			continue;
		if (kr == KW_NOMEM)
			break;
		found = &cr->route;
		if (kwargs)
			*kwargs = obj;
		else
			json_decref(obj);
	}
	pcre2_match_data_free(md);
	return found;
}
