/*
 * render.c - walks a parsed template and writes its output.
 *
 * All state of one render lives in a struct tmpl_rstate on the caller's stack (and
 * scopes chained on the C stack), so renders share nothing but the immutable
 * templates and the borrowed context, which is only read. Values created
 * while rendering (filter results, forloop counters) are owned by the render.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_int.h"

__attribute__((format(printf, 4, 5))) int tmpl__rfail(struct tmpl_rstate *rs, int rc, int line,
						       const char *fmt, ...)
{
	if (rs->rc)
		return -1;
	rs->rc = rc;
	if (rs->err && rs->errlen) {
		int n = snprintf(rs->err, rs->errlen, "line %d: ", line);
		if (n >= 0 && (size_t)n < rs->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(rs->err + n, rs->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return -1;
}

void tmpl__val_drop(struct tmpl_val *v)
{
	if (v->owned)
		json_decref(v->j);
	v->j = NULL;
	v->owned = false;
}

void tmpl__val_own(struct tmpl_val *v, json_t *j, bool safe)
{
	tmpl__val_drop(v);
	v->j = j;
	v->owned = true;
	v->safe = safe;
}

bool tmpl__truthy(const json_t *j)
{
	if (!j)
		return false;
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return json_object_size(j) > 0;
	case JSON_ARRAY:
		return json_array_size(j) > 0;
	case JSON_STRING:
		return json_string_length(j) > 0;
	case JSON_INTEGER:
		return json_integer_value(j) != 0;
	case JSON_REAL:
		return json_real_value(j) != 0;
	case JSON_TRUE:
		return true;
	default:
		return false;
	}
}

/* ---- block context ---- */

struct tmpl_bstack *tmpl__bctx_find(struct tmpl_bctx *bc, const char *name, size_t len)
{
	for (size_t k = 0; k < bc->n; k++)
		if (bc->s[k].len == len && !memcmp(bc->s[k].name, name, len))
			return &bc->s[k];
	return NULL;
}

static void bctx_free(struct tmpl_bctx *bc)
{
	for (size_t k = 0; k < bc->n; k++)
		free(bc->s[k].v);
	free(bc->s);
	free(bc);
}

/* Adds `blocks` under the existing ones (they are overridden by them). */
static bool bctx_add(struct tmpl_bctx *bc, const struct tmpl_node *const *blocks, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		const struct tmpl_node *b = blocks[k];
		struct tmpl_bstack *s = tmpl__bctx_find(bc, b->text, b->len);
		if (!s) {
			if (bc->n == bc->cap) {
				size_t cap = bc->cap ? bc->cap * 2 : 8;
				struct tmpl_bstack *ns = realloc(bc->s, cap * sizeof(*ns));
				if (!ns)
					return false;
				bc->s = ns;
				bc->cap = cap;
			}
			s = &bc->s[bc->n++];
			memset(s, 0, sizeof(*s));
			s->name = b->text;
			s->len = b->len;
		}
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 4;
			const struct tmpl_node **nv = realloc(s->v, cap * sizeof(*nv));
			if (!nv)
				return false;
			s->v = nv;
			s->cap = cap;
		}
		memmove(s->v + 1, s->v, s->n * sizeof(*s->v));
		s->v[0] = b;
		s->n++;
	}
	return true;
}
/* ---- nodes ---- */

static int render_list(struct tmpl_rstate *rs, const struct tmpl_node *n);

static int render_var(struct tmpl_rstate *rs, const struct tmpl_node *n)
{
	struct tmpl_val v;
	if (tmpl__eval_fexpr(rs, n->expr, &v, false, n->line))
		return -1;
	if (v.safe || json_is_number(v.j) || json_is_boolean(v.j)) {
		tmpl__buf_display(rs->out, v.j);
	} else if (json_is_string(v.j)) {
		text_html_escape(rs->out, json_string_value(v.j), json_string_length(v.j));
	} else {
		struct text_buf d = {0};
		tmpl__buf_display(&d, v.j);
		text_html_escape(rs->out, d.data ? d.data : "", d.len);
		rs->out->failed |= d.failed;
		free(d.data);
	}
	tmpl__val_drop(&v);
	return 0;
}

static int render_for(struct tmpl_rstate *rs, const struct tmpl_node *n)
{
	struct tmpl_val seq;
	if (tmpl__eval_fexpr(rs, n->expr, &seq, true, n->line))
		return -1;
	json_t *items = seq.j;
	bool own_items = false;
	if (json_is_object(seq.j) || json_is_string(seq.j)) {
		/* iterate keys / characters: materialize them as an array */
		items = json_array();
		own_items = true;
		if (json_is_object(seq.j)) {
			const char *k;
			json_t *val;
			json_object_foreach(seq.j, k, val)
			    json_array_append_new(items, json_string(k));
		} else {
			const char *s = json_string_value(seq.j);
			size_t len = json_string_length(seq.j);
			for (size_t k = 0; k < len;) {
				size_t e = k + 1;
				while (e < len && ((unsigned char)s[e] & 0xC0) == 0x80)
					e++;
				json_array_append_new(items, json_stringn_nocheck(s + k, e - k));
				k = e;
			}
		}
	}
	size_t count = json_is_array(items) ? json_array_size(items) : 0;
	int r = 0;
	if (count == 0) {
		r = render_list(rs, n->empty);
		goto out;
	}
	const struct tmpl_scope *outer = NULL;
	for (const struct tmpl_scope *s = rs->scope; s; s = s->up) {
		if (s->kind == TMPL_SC_LOOP) {
			outer = s;
			break;
		}
	}
	const struct tmpl_scope *saved = rs->scope;
	struct tmpl_scope loop = {
	    .kind = TMPL_SC_LOOP, .name = "forloop", .len = 7, .n = count, .outer = outer, .up = saved};
	struct tmpl_scope vars[TMPL_MAX_LOOPVARS];
	for (size_t i = 0; i < count && r == 0; i++) {
		size_t idx = n->reversed ? count - 1 - i : i;
		json_t *item = json_array_get(items, idx);
		loop.i = i;
		const struct tmpl_scope *up = &loop;
		for (size_t k = 0; k < n->nloopvars; k++) {
			json_t *j = item;
			if (n->nloopvars > 1)
				j = json_array_get(item, k); /* NULL unless an array */
			vars[k] = (struct tmpl_scope){.kind = TMPL_SC_VAR,
						 .name = n->loopvars[k].s,
						 .len = n->loopvars[k].len,
						 .j = j,
						 .up = up};
			up = &vars[k];
		}
		rs->scope = up;
		r = render_list(rs, n->body);
		rs->scope = saved;
	}
out:
	if (own_items)
		json_decref(items);
	tmpl__val_drop(&seq);
	return r;
}

/* Renders the most derived block `name` (or `self` outside {% extends %}),
 * making it unavailable to nested lookups meanwhile, like Django's pop/push. */
int tmpl__render_block(struct tmpl_rstate *rs, const char *name, size_t len,
			const struct tmpl_node *self)
{
	const struct tmpl_node *b = self;
	struct tmpl_bstack *s = rs->bctx ? tmpl__bctx_find(rs->bctx, name, len) : NULL;
	if (s && s->n)
		b = s->v[--s->n];
	else
		s = NULL;
	if (!b)
		return 0;
	const struct tmpl_scope *saved = rs->scope;
	struct tmpl_scope sc = {.kind = TMPL_SC_BLOCK,
			   .name = "block",
			   .len = 5,
			   .block = name,
			   .blocklen = len,
			   .up = saved};
	rs->scope = &sc;
	int r = render_list(rs, b->body);
	rs->scope = saved;
	if (s) {
		/* the stack itself may have moved (bctx_add) while rendering */
		s = tmpl__bctx_find(rs->bctx, name, len);
		s->v[s->n++] = b;
	}
	return r;
}

/* Resolves the template name of an include/extends node and loads it. */
static int load_ref(struct tmpl_rstate *rs, const struct tmpl_node *n, const struct tmpl **out)
{
	const char *what = n->kind == TMPL_N_INCLUDE ? "include" : "extends";
	if (!rs->env)
		return tmpl__rfail(rs, CH_ENOTFOUND, n->line, "%s needs a template env", what);
	if (rs->depth >= TMPL_MAX_DEPTH)
		return tmpl__rfail(rs, CH_EDEPTH, n->line, "%s nested deeper than %d", what,
			     TMPL_MAX_DEPTH);
	struct tmpl_val v;
	if (tmpl__eval_fexpr(rs, n->expr, &v, false, n->line))
		return -1;
	struct text_buf name = {0};
	tmpl__buf_display(&name, v.j);
	text_buf_reserve(&name, 0); /* data, NUL-terminated, even when empty */
	tmpl__val_drop(&v);
	if (name.failed) {
		free(name.data);
		return tmpl__rfail(rs, CH_ENOMEM, n->line, "out of memory");
	}
	char msg[256];
	int rc = tmpl__env_get(rs->env, name.data, out, msg, sizeof(msg));
	if (rc != CH_OK)
		tmpl__rfail(rs, rc, n->line, "%s \"%s\": %s", what, name.data, msg);
	free(name.data);
	return rc == CH_OK ? 0 : -1;
}

static int render_include(struct tmpl_rstate *rs, const struct tmpl_node *n)
{
	const struct tmpl *t;
	if (load_ref(rs, n, &t))
		return -1;
	struct tmpl_bctx *saved = rs->bctx;
	rs->bctx = NULL; /* an included template has its own block context */
	rs->depth++;
	int r = render_list(rs, t->nodes);
	rs->depth--;
	rs->bctx = saved;
	return r;
}

static int render_extends(struct tmpl_rstate *rs, const struct tmpl_node *n,
			  const struct tmpl *self)
{
	const struct tmpl *parent;
	if (load_ref(rs, n, &parent))
		return -1;
	bool own = false;
	if (!rs->bctx) {
		rs->bctx = calloc(1, sizeof(*rs->bctx));
		if (!rs->bctx)
			return tmpl__rfail(rs, CH_ENOMEM, n->line, "out of memory");
		own = true;
	}
	if (!bctx_add(rs->bctx, self->blocks, self->nblocks) ||
	    (!parent->extends && !bctx_add(rs->bctx, parent->blocks, parent->nblocks))) {
		tmpl__rfail(rs, CH_ENOMEM, n->line, "out of memory");
	} else {
		rs->depth++;
		render_list(rs, parent->nodes);
		rs->depth--;
	}
	if (own) {
		bctx_free(rs->bctx);
		rs->bctx = NULL;
	}
	return rs->rc ? -1 : 0;
}

static void render_static(struct tmpl_rstate *rs, const struct text_buf *path)
{
	struct text_buf url = {0};
	const char *p = path->data ? path->data : "";
	size_t len = path->len;
	while (len && *p == '/') {
		p++;
		len--;
	}
	text_buf_puts(&url, rs->static_url);
	tmpl__buf_uri(&url, p, len);
	text_html_escape(rs->out, url.data ? url.data : "", url.len);
	rs->out->failed |= url.failed;
	free(url.data);
}

static int render_node(struct tmpl_rstate *rs, const struct tmpl_node *n)
{
	switch (n->kind) {
	case TMPL_N_TEXT:
		text_buf_append(rs->out, n->text, n->len);
		return 0;
	case TMPL_N_VAR:
		return render_var(rs, n);
	case TMPL_N_IF:
		for (const struct tmpl_branch *b = n->branches; b; b = b->next) {
			int r = b->cond ? tmpl__eval_cond(rs, b->cond, n->line) : 1;
			if (r < 0)
				return -1;
			if (r)
				return render_list(rs, b->body);
		}
		return 0;
	case TMPL_N_FOR:
		return render_for(rs, n);
	case TMPL_N_BLOCK:
		return tmpl__render_block(rs, n->text, n->len, n);
	case TMPL_N_INCLUDE:
		return render_include(rs, n);
	case TMPL_N_EXTENDS:
		return render_extends(rs, n, n->owner);
	case TMPL_N_STATIC:
	case TMPL_N_CSRF: {
		struct tmpl_val v;
		struct text_buf d = {0};
		if (n->kind == TMPL_N_STATIC) {
			if (tmpl__eval_fexpr(rs, n->expr, &v, false, n->line))
				return -1;
			tmpl__buf_display(&d, v.j);
			render_static(rs, &d);
		} else {
			struct tmpl_operand tok = {.kind = TMPL_OPD_LOOKUP,
						   .nsegs = 1,
						   .segs =
						       &(struct tmpl_seg){"csrf_token", 10, -1}};
			if (tmpl__lookup(rs, &tok, &v, n->line))
				return -1;
			tmpl__buf_display(&d, v.j);
			if (d.len && !(d.len == 11 && !memcmp(d.data, "NOTPROVIDED", 11))) {
				text_buf_puts(rs->out, "<input type=\"hidden\" "
							"name=\"csrfmiddlewaretoken\" value=\"");
				text_html_escape(rs->out, d.data, d.len);
				text_buf_puts(rs->out, "\">");
			}
		}
		rs->out->failed |= d.failed;
		free(d.data);
		tmpl__val_drop(&v);
		return 0;
	}
	}
	return 0;
}

static int render_list(struct tmpl_rstate *rs, const struct tmpl_node *n)
{
	for (; n; n = n->next) {
		if (rs->out->failed)
			return tmpl__rfail(rs, CH_ENOMEM, n->line, "out of memory");
		if (render_node(rs, n))
			return -1;
	}
	return 0;
}

int tmpl__render(struct tmpl_env *env, const struct tmpl *t, json_t *ctx, const char *static_url,
		 char **out, size_t *outlen, char *err, size_t errlen)
{
	*out = NULL;
	if (outlen)
		*outlen = 0;
	if (err && errlen)
		err[0] = '\0';
	json_t *empty = NULL;
	if (!json_is_object(ctx)) {
		empty = json_object();
		if (!empty)
			return CH_ENOMEM;
		ctx = empty;
	}
	struct text_buf buf = {0};
	struct tmpl_rstate rs = {.env = env,
			    .static_url = static_url ? static_url : "/static/",
			    .ctx = ctx,
			    .out = &buf,
			    .err = err,
			    .errlen = errlen};
	render_list(&rs, t->nodes);
	json_decref(empty);
	char *text = rs.rc ? NULL : text_buf_take(&buf, outlen);
	if (!rs.rc && !text)
		tmpl__rfail(&rs, CH_ENOMEM, 0, "out of memory");
	if (rs.rc) {
		text_buf_free(&buf);
		return rs.rc;
	}
	*out = text;
	return CH_OK;
}

int tmpl_render_one(const struct tmpl *t, json_t *ctx, const char *static_url, char **out,
		    size_t *outlen, char *err, size_t errlen)
{
	return tmpl__render(NULL, t, ctx, static_url, out, outlen, err, errlen);
}
