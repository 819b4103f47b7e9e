/*
 * template.h - the Django template subset the pages need.
 *
 * Syntax:
 *   {{ var }}, {{ a.b.0 }}       lookups into the JSON context (object keys,
 *                               array indexes); missing -> ""; HTML-escaped
 *   {{ v|filter:"arg"|... }}     filters: escape, safe, default:"x", length,
 *                               upper, lower, json_script:"element-id"
 *   {% include "name" %}         renders another template with the same context
 *   {% extends "name" %}         (first tag) with {% block n %}...{% endblock %}
 *   {% block n %}{% endblock %}  overridable sections
 *   {% static "path" %}          static_url + path (escaped)
 *   {% if v %}..{% elif w %}..{% else %}..{% endif %}   truthiness; conditions
 *                               with and, or, not, ==, !=, <, >, <=, >=, in,
 *                               not in, is, is not (Django's precedence)
 *   {% for x in list %}..{% empty %}..{% endfor %}     forloop.counter too
 *   {% csrf_token %}             hidden input with context var csrf_token
 *   {% load static %}            accepted, does nothing
 *   {# comment #}, {% comment %}..{% endcomment %}
 * Truthiness is Django's: false, null, 0, "", [] and {} are false.
 *
 * Why ~2,400 lines and not the few hundred the shipped pages need: this is
 * the template engine of libchannels-c, so of every app built on it
 * (examples/hello), and it implements the subset above with Django's
 * semantics rather than the pages' current use: the lexer (parse_lex.c,
 * ~170 lines), tags and the expression parser with Django's operator
 * precedence and error messages that name line and cause (parse.c,
 * parse_expr.c, ~780), rendering with autoescape and safe strings,
 * extends/block with block.super, for/empty with forloop.* (render.c,
 * ~450), lookups and filters (render_eval.c, ~290), comparisons with
 * Python's rules across JSON types (render_cond.c, ~190), values printed
 * as Django prints them (floats as Python's repr; value.c, ~280) and the
 * thread-safe compile-once cache (env.c, ~240). Each file is under 500
 * lines; tests/unit/template covers every construct, fuzz/fuzz_template.c
 * the parser.
 *
 * Parsing does no I/O (tmpl_parse); a tmpl_env loads sources through a
 * loader, compiles each template once and caches it. Rendering is
 * thread-safe: views on the thread pool render concurrently.
 */
#ifndef LIB_TEMPLATE_H
#define LIB_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"

struct tmpl; /* one parsed template; immutable */

/* Parses `src` (`len` bytes, need not be NUL-terminated). On error returns
 * CH_ESYNTAX and writes "line N: reason" into `err` (may be NULL). */
int tmpl_parse(const char *src, size_t len, struct tmpl **out, char *err, size_t errlen);
void tmpl_free(struct tmpl *t);

/*
 * Loads the source of template `name` into a malloc'd buffer (*src, *len).
 * Returns 0, or a negative CH_E* code (CH_ENOTFOUND, CH_ENOMEM, ...), which
 * tmpl_render() passes on unchanged. Must be safe to call from any thread.
 */
typedef int (*tmpl_load_cb)(void *ud, const char *name, char **src, size_t *len);

struct tmpl_env;

/*
 * `static_url` prefixes {% static %} paths ("/static/"); copied.
 * Returns NULL on allocation failure.
 */
struct tmpl_env *tmpl_env_new(tmpl_load_cb load, void *ud, const char *static_url);

/* A loader reading `dir`/name; names with ".." segments or a leading "/" are
 * refused (CH_ENOTFOUND). `dir` is copied. */
struct tmpl_env *tmpl_env_new_dir(const char *dir, const char *static_url);

void tmpl_env_free(struct tmpl_env *env);

/*
 * Renders template `name` with `ctx` (a JSON object, borrowed; NULL = {}).
 * On success *out is a malloc'd NUL-terminated string of *outlen bytes.
 * On failure returns a CH_E* code with a reason in `err`.
 * Any thread.
 */
int tmpl_render(struct tmpl_env *env, const char *name, json_t *ctx, char **out, size_t *outlen,
		char *err, size_t errlen);

/* Renders an already parsed template that uses no include/extends (tests, fuzz).
 * `static_url` may be NULL ("/static/"). */
int tmpl_render_one(const struct tmpl *t, json_t *ctx, const char *static_url, char **out,
		    size_t *outlen, char *err, size_t errlen);

#endif
