/*
 * render.c - walks a parsed template and writes its output.
 *
 * All state of one render lives in a struct rstate on the caller's stack (and
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

enum scope_kind { SC_VAR, SC_LOOP, SC_BLOCK };

/* A name visible to lookups; chained from the innermost outwards. */
struct scope {
	enum scope_kind kind;
	const char *name;
	size_t len;
	json_t *j;		   /* SC_VAR; borrowed (kept alive by the loop) */
	size_t i, n;		   /* SC_LOOP: index and length */
	const struct scope *outer; /* SC_LOOP: the enclosing forloop, or NULL */
	const char *block;	   /* SC_BLOCK: name of the block being rendered */
	size_t blocklen;
	const struct scope *up;
};

/* Django's BlockContext: per block name, the overriding blocks, root first. */
struct bstack {
	const char *name;
	size_t len;
	const struct tmpl_node **v;
	size_t n, cap;
};

struct bctx {
	struct bstack *s;
	size_t n, cap;
};

struct rstate {
	struct tmpl_env *env;
	const char *static_url;
	json_t *ctx;
	struct tmpl_buf *out;
	const struct scope *scope;
	struct bctx *bctx; /* NULL unless rendering through {% extends %} */
	int depth;
	int rc;
	char *err;
	size_t errlen;
};

/* A value while rendering: `j` NULL means missing/None. */
struct val {
	json_t *j;
	bool owned;
	bool safe;
};

__attribute__((format(printf, 4, 5))) static int rfail(struct rstate *rs, int rc, int line,
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

static void val_drop(struct val *v)
{
	if (v->owned)
		json_decref(v->j);
	v->j = NULL;
	v->owned = false;
}

static void val_own(struct val *v, json_t *j, bool safe)
{
	val_drop(v);
	v->j = j;
	v->owned = true;
	v->safe = safe;
}

static bool truthy(const json_t *j)
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

static struct bstack *bctx_find(struct bctx *bc, const char *name, size_t len)
{
	for (size_t k = 0; k < bc->n; k++)
		if (bc->s[k].len == len && !memcmp(bc->s[k].name, name, len))
			return &bc->s[k];
	return NULL;
}

static void bctx_free(struct bctx *bc)
{
	for (size_t k = 0; k < bc->n; k++)
		free(bc->s[k].v);
	free(bc->s);
	free(bc);
}

/* Adds `blocks` under the existing ones (they are overridden by them). */
static bool bctx_add(struct bctx *bc, const struct tmpl_node *const *blocks, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		const struct tmpl_node *b = blocks[k];
		struct bstack *s = bctx_find(bc, b->text, b->len);
		if (!s) {
			if (bc->n == bc->cap) {
				size_t cap = bc->cap ? bc->cap * 2 : 8;
				struct bstack *ns = realloc(bc->s, cap * sizeof(*ns));
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

/* ---- lookups ---- */

static int render_block(struct rstate *rs, const char *name, size_t len,
			const struct tmpl_node *self);

static bool seg_is(const struct tmpl_seg *s, const char *lit)
{
	return s->len == strlen(lit) && !memcmp(s->s, lit, s->len);
}

/* {{ block.super }}: the overridden block's output, or "" (Django's BlockNode.super). */
static int block_super(struct rstate *rs, const struct scope *sc, struct val *v, int line)
{
	struct bstack *s = rs->bctx ? bctx_find(rs->bctx, sc->block, sc->blocklen) : NULL;
	if (!s || !s->n) {
		val_own(v, json_string(""), false);
		return v->j ? 0 : rfail(rs, TMPL_ENOMEM, line, "out of memory");
	}
	struct tmpl_buf tmp = {0}, *saved = rs->out;
	rs->out = &tmp;
	int r = render_block(rs, sc->block, sc->blocklen, NULL);
	rs->out = saved;
	if (r == 0 && !tmp.oom)
		val_own(v, json_stringn_nocheck(tmp.p ? tmp.p : "", tmp.len), true);
	free(tmp.p);
	if (r)
		return r;
	return v->j ? 0 : rfail(rs, TMPL_ENOMEM, line, "out of memory");
}

/* Django resolves obj.items / .keys / .values by calling the dict method. */
static json_t *dict_method(json_t *obj, const struct tmpl_seg *seg)
{
	bool items = seg_is(seg, "items"), keys = seg_is(seg, "keys"),
	     values = seg_is(seg, "values");
	if (!items && !keys && !values)
		return NULL;
	json_t *arr = json_array();
	const char *k;
	json_t *val;
	json_object_foreach(obj, k, val)
	{
		json_t *e;
		if (items)
			e = json_pack("[sO]", k, val);
		else if (keys)
			e = json_string(k);
		else
			e = json_incref(val);
		if (json_array_append_new(arr, e) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* One step of a lookup from `cur` (borrowed or owned per *owned). */
static json_t *step(json_t *cur, const struct tmpl_seg *seg, bool *owned)
{
	json_t *next = NULL;
	if (json_is_object(cur)) {
		next = json_object_getn(cur, seg->s, seg->len);
		if (!next) {
			json_t *m = dict_method(cur, seg);
			if (*owned)
				json_decref(cur);
			*owned = m != NULL;
			return m;
		}
	} else if (json_is_array(cur) && seg->idx >= 0) {
		next = json_array_get(cur, (size_t)seg->idx);
	} else if (json_is_string(cur) && seg->idx >= 0) {
		/* Django indexes strings by character */
		const char *s = json_string_value(cur);
		size_t len = json_string_length(cur), k = 0;
		for (long c = 0; k < len && c < seg->idx; c++)
			for (k++; k < len && ((unsigned char)s[k] & 0xC0) == 0x80; k++)
				;
		if (k < len) {
			size_t e = k + 1;
			while (e < len && ((unsigned char)s[e] & 0xC0) == 0x80)
				e++;
			json_t *ch = json_stringn_nocheck(s + k, e - k);
			if (*owned)
				json_decref(cur);
			*owned = ch != NULL;
			return ch;
		}
	}
	if (*owned) {
		json_incref(next);
		json_decref(cur);
	}
	return next;
}

static json_t *loop_attr(const struct scope *sc, const struct tmpl_seg *seg)
{
	if (seg_is(seg, "counter"))
		return json_integer((json_int_t)sc->i + 1);
	if (seg_is(seg, "counter0"))
		return json_integer((json_int_t)sc->i);
	if (seg_is(seg, "revcounter"))
		return json_integer((json_int_t)(sc->n - sc->i));
	if (seg_is(seg, "revcounter0"))
		return json_integer((json_int_t)(sc->n - sc->i - 1));
	if (seg_is(seg, "first"))
		return json_boolean(sc->i == 0);
	if (seg_is(seg, "last"))
		return json_boolean(sc->i + 1 == sc->n);
	return NULL;
}

static int lookup(struct rstate *rs, const struct tmpl_operand *o, struct val *v, int line)
{
	const struct tmpl_seg *seg = o->segs;
	size_t k = 1;
	json_t *cur = NULL;
	bool owned = false;
	const struct scope *sc;
	for (sc = rs->scope; sc; sc = sc->up)
		if (sc->len == seg->len && !memcmp(sc->name, seg->s, seg->len))
			break;
	v->safe = false;
	if (sc && sc->kind == SC_BLOCK) {
		if (o->nsegs == 2 && seg_is(&o->segs[1], "super"))
			return block_super(rs, sc, v, line);
		return 0;
	}
	if (sc && sc->kind == SC_LOOP) {
		while (sc && k < o->nsegs && seg_is(&o->segs[k], "parentloop")) {
			sc = sc->outer;
			k++;
		}
		if (!sc || k == o->nsegs)
			return 0;
		cur = loop_attr(sc, &o->segs[k++]);
		owned = cur != NULL;
	} else if (sc) {
		cur = sc->j;
	} else {
		cur = json_object_getn(rs->ctx, seg->s, seg->len);
		if (!cur && seg_is(seg, "True"))
			cur = json_true();
		else if (!cur && seg_is(seg, "False"))
			cur = json_false();
	}
	for (; cur && k < o->nsegs; k++)
		cur = step(cur, &o->segs[k], &owned);
	v->j = cur;
	v->owned = owned && cur;
	return 0;
}

static int eval_operand(struct rstate *rs, const struct tmpl_operand *o, struct val *v, int line)
{
	if (o->kind == TMPL_OPD_LITERAL) {
		v->j = o->literal;
		v->owned = false;
		v->safe = o->literal_safe;
		return 0;
	}
	return lookup(rs, o, v, line);
}

/* ---- filters ---- */

static size_t utf8_len(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t k = 0; k < n; k++)
		c += ((unsigned char)s[k] & 0xC0) != 0x80;
	return c;
}

static size_t length_of(const json_t *j)
{
	if (json_is_string(j))
		return utf8_len(json_string_value(j), json_string_length(j));
	if (json_is_array(j))
		return json_array_size(j);
	if (json_is_object(j))
		return json_object_size(j);
	return 0;
}

/* Builds a new string value from a buffer; consumes the buffer. */
static int own_buf(struct rstate *rs, struct val *v, struct tmpl_buf *b, bool safe, int line)
{
	if (!b->oom)
		val_own(v, json_stringn_nocheck(b->p ? b->p : "", b->len), safe);
	free(b->p);
	if (b->oom || !v->j)
		return rfail(rs, TMPL_ENOMEM, line, "out of memory");
	return 0;
}

static int apply_filter(struct rstate *rs, const struct tmpl_filter *f, struct val *v, int line)
{
	struct tmpl_buf b = {0};
	switch (f->id) {
	case TMPL_F_SAFE:
		v->safe = true;
		return 0;
	case TMPL_F_ESCAPE: {
		if (v->safe)
			return 0;
		struct tmpl_buf d = {0};
		tmpl__buf_display(&d, v->j);
		tmpl__buf_escape(&b, d.p ? d.p : "", d.len);
		b.oom |= d.oom;
		free(d.p);
		return own_buf(rs, v, &b, true, line);
	}
	case TMPL_F_DEFAULT:
		if (truthy(v->j))
			return 0;
		val_drop(v);
		if (eval_operand(rs, &f->arg, v, line))
			return -1;
		return 0;
	case TMPL_F_LENGTH:
		val_own(v, json_integer((json_int_t)length_of(v->j)), false);
		return v->j ? 0 : rfail(rs, TMPL_ENOMEM, line, "out of memory");
	case TMPL_F_UPPER:
	case TMPL_F_LOWER: {
		tmpl__buf_display(&b, v->j);
		for (size_t k = 0; k < b.len; k++) {
			char c = b.p[k];
			if (f->id == TMPL_F_UPPER && c >= 'a' && c <= 'z')
				b.p[k] = (char)(c - 'a' + 'A');
			else if (f->id == TMPL_F_LOWER && c >= 'A' && c <= 'Z')
				b.p[k] = (char)(c - 'A' + 'a');
		}
		return own_buf(rs, v, &b, f->id == TMPL_F_LOWER && v->safe, line);
	}
	case TMPL_F_JSON_SCRIPT: {
		struct val id = {0};
		if (eval_operand(rs, &f->arg, &id, line))
			return -1;
		struct tmpl_buf d = {0};
		tmpl__buf_display(&d, id.j);
		tmpl__buf_puts(&b, "<script id=\"");
		if (id.safe)
			tmpl__buf_put(&b, d.p ? d.p : "", d.len);
		else
			tmpl__buf_escape(&b, d.p ? d.p : "", d.len);
		tmpl__buf_puts(&b, "\" type=\"application/json\">");
		tmpl__buf_json(&b, v->j, true, true);
		tmpl__buf_puts(&b, "</script>");
		b.oom |= d.oom;
		free(d.p);
		val_drop(&id);
		return own_buf(rs, v, &b, true, line);
	}
	}
	return 0;
}

/* Evaluates a filter expression. `quiet` (if-conditions, for sequences) keeps a
 * missing variable as None; otherwise it becomes "" as in Django's output. */
static int eval_fexpr(struct rstate *rs, const struct tmpl_fexpr *fe, struct val *v, bool quiet,
		      int line)
{
	*v = (struct val){0};
	if (eval_operand(rs, &fe->base, v, line))
		return -1;
	if (!v->j && !quiet) {
		val_own(v, json_string(""), false);
		if (!v->j)
			return rfail(rs, TMPL_ENOMEM, line, "out of memory");
	}
	for (const struct tmpl_filter *f = fe->filters; f; f = f->next) {
		if (apply_filter(rs, f, v, line)) {
			val_drop(v);
			return -1;
		}
	}
	return 0;
}

/* ---- if: Python comparison semantics ---- */

static bool is_num(const json_t *j)
{
	return json_is_number(j) || json_is_boolean(j);
}

static double num_of(const json_t *j)
{
	return json_is_boolean(j) ? (json_is_true(j) ? 1 : 0) : json_number_value(j);
}

static bool py_eq(const json_t *a, const json_t *b)
{
	if (!a || json_is_null(a) || !b || json_is_null(b))
		return (!a || json_is_null(a)) && (!b || json_is_null(b));
	if (is_num(a) && is_num(b)) {
		if (json_is_integer(a) && json_is_integer(b))
			return json_integer_value(a) == json_integer_value(b);
		return num_of(a) == num_of(b);
	}
	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t k = 0; k < json_array_size(a); k++)
			if (!py_eq(json_array_get(a, k), json_array_get(b, k)))
				return false;
		return true;
	}
	return json_equal(a, b);
}

/* Python's ordering; returns false when the types are not comparable. */
static bool py_cmp(const json_t *a, const json_t *b, int *res)
{
	if (a && b && is_num(a) && is_num(b)) {
		if (json_is_integer(a) && json_is_integer(b)) {
			json_int_t x = json_integer_value(a), y = json_integer_value(b);
			*res = x < y ? -1 : x > y;
		} else {
			double x = num_of(a), y = num_of(b);
			if (isnan(x) || isnan(y))
				return false;
			*res = x < y ? -1 : x > y;
		}
		return true;
	}
	if (json_is_string(a) && json_is_string(b)) {
		size_t la = json_string_length(a), lb = json_string_length(b);
		int c = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
		*res = c ? (c < 0 ? -1 : 1) : (la < lb ? -1 : la > lb);
		return true;
	}
	if (json_is_array(a) && json_is_array(b)) {
		size_t la = json_array_size(a), lb = json_array_size(b);
		for (size_t k = 0; k < la && k < lb; k++) {
			const json_t *x = json_array_get(a, k), *y = json_array_get(b, k);
			if (!py_eq(x, y))
				return py_cmp(x, y, res);
		}
		*res = la < lb ? -1 : la > lb;
		return true;
	}
	return false;
}

/* `x in y`; false when Python would raise. */
static bool py_in(const json_t *x, const json_t *y, bool *res)
{
	if (json_is_string(y)) {
		if (!json_is_string(x))
			return false;
		*res = memmem(json_string_value(y), json_string_length(y), json_string_value(x),
			      json_string_length(x)) != NULL;
		return true;
	}
	if (json_is_array(y)) {
		*res = false;
		for (size_t k = 0; k < json_array_size(y) && !*res; k++)
			*res = py_eq(x, json_array_get(y, k));
		return true;
	}
	if (json_is_object(y)) {
		*res = json_is_string(x) &&
		       json_object_getn(y, json_string_value(x), json_string_length(x));
		return true;
	}
	return false;
}

static bool py_is(const json_t *a, const json_t *b)
{
	bool an = !a || json_is_null(a), bn = !b || json_is_null(b);
	if (an || bn)
		return an && bn;
	if (json_is_boolean(a) || json_is_boolean(b))
		return json_typeof(a) == json_typeof(b);
	return a == b;
}

/* Evaluates a condition to a boolean; -1 on a render error. */
static int eval_cond(struct rstate *rs, const struct tmpl_cond *c, int line)
{
	if (c->op == TMPL_C_LEAF) {
		struct val v;
		if (eval_fexpr(rs, c->leaf, &v, true, line))
			return -1;
		int r = truthy(v.j);
		val_drop(&v);
		return r;
	}
	if (c->op == TMPL_C_NOT) {
		int r = eval_cond(rs, c->a, line);
		return r < 0 ? r : !r;
	}
	if (c->op == TMPL_C_OR || c->op == TMPL_C_AND) {
		int r = eval_cond(rs, c->a, line);
		if (r < 0 || r == (c->op == TMPL_C_OR))
			return r;
		return eval_cond(rs, c->b, line);
	}
	/* comparisons operate on the operands' values */
	struct val a = {0}, b = {0};
	if (c->a->op != TMPL_C_LEAF || c->b->op != TMPL_C_LEAF) {
		int x = eval_cond(rs, c->a, line);
		int y = x < 0 ? -1 : eval_cond(rs, c->b, line);
		if (y < 0)
			return -1;
		a.j = c->a->op == TMPL_C_LEAF ? NULL : json_boolean(x);
		b.j = c->b->op == TMPL_C_LEAF ? NULL : json_boolean(y);
	}
	if (!a.j && c->a->op == TMPL_C_LEAF && eval_fexpr(rs, c->a->leaf, &a, true, line))
		return -1;
	if (!b.j && c->b->op == TMPL_C_LEAF && eval_fexpr(rs, c->b->leaf, &b, true, line)) {
		val_drop(&a);
		return -1;
	}
	int cmp = 0;
	bool in = false, r = false;
	switch (c->op) {
	case TMPL_C_EQ:
		r = py_eq(a.j, b.j);
		break;
	case TMPL_C_NE:
		r = !py_eq(a.j, b.j);
		break;
	case TMPL_C_LT:
		r = py_cmp(a.j, b.j, &cmp) && cmp < 0;
		break;
	case TMPL_C_GT:
		r = py_cmp(a.j, b.j, &cmp) && cmp > 0;
		break;
	case TMPL_C_LE:
		r = py_cmp(a.j, b.j, &cmp) && cmp <= 0;
		break;
	case TMPL_C_GE:
		r = py_cmp(a.j, b.j, &cmp) && cmp >= 0;
		break;
	case TMPL_C_IN:
		r = py_in(a.j, b.j, &in) && in;
		break;
	case TMPL_C_NOTIN:
		r = py_in(a.j, b.j, &in) && !in;
		break;
	case TMPL_C_IS:
		r = py_is(a.j, b.j);
		break;
	case TMPL_C_ISNOT:
		r = !py_is(a.j, b.j);
		break;
	default:
		break;
	}
	val_drop(&a);
	val_drop(&b);
	return r;
}

/* ---- nodes ---- */

static int render_list(struct rstate *rs, const struct tmpl_node *n);

static int render_var(struct rstate *rs, const struct tmpl_node *n)
{
	struct val v;
	if (eval_fexpr(rs, n->expr, &v, false, n->line))
		return -1;
	if (v.safe || json_is_number(v.j) || json_is_boolean(v.j)) {
		tmpl__buf_display(rs->out, v.j);
	} else if (json_is_string(v.j)) {
		tmpl__buf_escape(rs->out, json_string_value(v.j), json_string_length(v.j));
	} else {
		struct tmpl_buf d = {0};
		tmpl__buf_display(&d, v.j);
		tmpl__buf_escape(rs->out, d.p ? d.p : "", d.len);
		rs->out->oom |= d.oom;
		free(d.p);
	}
	val_drop(&v);
	return 0;
}

static int render_for(struct rstate *rs, const struct tmpl_node *n)
{
	struct val seq;
	if (eval_fexpr(rs, n->expr, &seq, true, n->line))
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
	const struct scope *outer = NULL;
	for (const struct scope *s = rs->scope; s; s = s->up) {
		if (s->kind == SC_LOOP) {
			outer = s;
			break;
		}
	}
	const struct scope *saved = rs->scope;
	struct scope loop = {
	    .kind = SC_LOOP, .name = "forloop", .len = 7, .n = count, .outer = outer, .up = saved};
	struct scope vars[TMPL_MAX_LOOPVARS];
	for (size_t i = 0; i < count && r == 0; i++) {
		size_t idx = n->reversed ? count - 1 - i : i;
		json_t *item = json_array_get(items, idx);
		loop.i = i;
		const struct scope *up = &loop;
		for (size_t k = 0; k < n->nloopvars; k++) {
			json_t *j = item;
			if (n->nloopvars > 1)
				j = json_array_get(item, k); /* NULL unless an array */
			vars[k] = (struct scope){.kind = SC_VAR,
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
	val_drop(&seq);
	return r;
}

/* Renders the most derived block `name` (or `self` outside {% extends %}),
 * making it unavailable to nested lookups meanwhile, like Django's pop/push. */
static int render_block(struct rstate *rs, const char *name, size_t len,
			const struct tmpl_node *self)
{
	const struct tmpl_node *b = self;
	struct bstack *s = rs->bctx ? bctx_find(rs->bctx, name, len) : NULL;
	if (s && s->n)
		b = s->v[--s->n];
	else
		s = NULL;
	if (!b)
		return 0;
	const struct scope *saved = rs->scope;
	struct scope sc = {.kind = SC_BLOCK,
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
		s = bctx_find(rs->bctx, name, len);
		s->v[s->n++] = b;
	}
	return r;
}

/* Resolves the template name of an include/extends node and loads it. */
static int load_ref(struct rstate *rs, const struct tmpl_node *n, const struct tmpl **out)
{
	const char *what = n->kind == TMPL_N_INCLUDE ? "include" : "extends";
	if (!rs->env)
		return rfail(rs, TMPL_ENOTFOUND, n->line, "%s needs a template env", what);
	if (rs->depth >= TMPL_MAX_DEPTH)
		return rfail(rs, TMPL_EDEPTH, n->line, "%s nested deeper than %d", what,
			     TMPL_MAX_DEPTH);
	struct val v;
	if (eval_fexpr(rs, n->expr, &v, false, n->line))
		return -1;
	struct tmpl_buf name = {0};
	tmpl__buf_display(&name, v.j);
	tmpl__buf_put(&name, "", 1);
	val_drop(&v);
	if (name.oom) {
		free(name.p);
		return rfail(rs, TMPL_ENOMEM, n->line, "out of memory");
	}
	char msg[256];
	int rc = tmpl__env_get(rs->env, name.p, out, msg, sizeof(msg));
	if (rc != TMPL_OK)
		rfail(rs, rc, n->line, "%s \"%s\": %s", what, name.p, msg);
	free(name.p);
	return rc == TMPL_OK ? 0 : -1;
}

static int render_include(struct rstate *rs, const struct tmpl_node *n)
{
	const struct tmpl *t;
	if (load_ref(rs, n, &t))
		return -1;
	struct bctx *saved = rs->bctx;
	rs->bctx = NULL; /* an included template has its own block context */
	rs->depth++;
	int r = render_list(rs, t->nodes);
	rs->depth--;
	rs->bctx = saved;
	return r;
}

static int render_extends(struct rstate *rs, const struct tmpl_node *n, const struct tmpl *self)
{
	const struct tmpl *parent;
	if (load_ref(rs, n, &parent))
		return -1;
	bool own = false;
	if (!rs->bctx) {
		rs->bctx = calloc(1, sizeof(*rs->bctx));
		if (!rs->bctx)
			return rfail(rs, TMPL_ENOMEM, n->line, "out of memory");
		own = true;
	}
	if (!bctx_add(rs->bctx, self->blocks, self->nblocks) ||
	    (!parent->extends && !bctx_add(rs->bctx, parent->blocks, parent->nblocks))) {
		rfail(rs, TMPL_ENOMEM, n->line, "out of memory");
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

static void render_static(struct rstate *rs, const struct tmpl_buf *path)
{
	struct tmpl_buf url = {0};
	const char *p = path->p ? path->p : "";
	size_t len = path->len;
	while (len && *p == '/') {
		p++;
		len--;
	}
	tmpl__buf_puts(&url, rs->static_url);
	tmpl__buf_uri(&url, p, len);
	tmpl__buf_escape(rs->out, url.p ? url.p : "", url.len);
	rs->out->oom |= url.oom;
	free(url.p);
}

static int render_node(struct rstate *rs, const struct tmpl_node *n)
{
	switch (n->kind) {
	case TMPL_N_TEXT:
		tmpl__buf_put(rs->out, n->text, n->len);
		return 0;
	case TMPL_N_VAR:
		return render_var(rs, n);
	case TMPL_N_IF:
		for (const struct tmpl_branch *b = n->branches; b; b = b->next) {
			int r = b->cond ? eval_cond(rs, b->cond, n->line) : 1;
			if (r < 0)
				return -1;
			if (r)
				return render_list(rs, b->body);
		}
		return 0;
	case TMPL_N_FOR:
		return render_for(rs, n);
	case TMPL_N_BLOCK:
		return render_block(rs, n->text, n->len, n);
	case TMPL_N_INCLUDE:
		return render_include(rs, n);
	case TMPL_N_EXTENDS:
		return render_extends(rs, n, n->owner);
	case TMPL_N_STATIC:
	case TMPL_N_CSRF: {
		struct val v;
		struct tmpl_buf d = {0};
		if (n->kind == TMPL_N_STATIC) {
			if (eval_fexpr(rs, n->expr, &v, false, n->line))
				return -1;
			tmpl__buf_display(&d, v.j);
			render_static(rs, &d);
		} else {
			struct tmpl_operand tok = {.kind = TMPL_OPD_LOOKUP,
						   .nsegs = 1,
						   .segs =
						       &(struct tmpl_seg){"csrf_token", 10, -1}};
			if (lookup(rs, &tok, &v, n->line))
				return -1;
			tmpl__buf_display(&d, v.j);
			if (d.len && !(d.len == 11 && !memcmp(d.p, "NOTPROVIDED", 11))) {
				tmpl__buf_puts(rs->out, "<input type=\"hidden\" "
							"name=\"csrfmiddlewaretoken\" value=\"");
				tmpl__buf_escape(rs->out, d.p, d.len);
				tmpl__buf_puts(rs->out, "\">");
			}
		}
		rs->out->oom |= d.oom;
		free(d.p);
		val_drop(&v);
		return 0;
	}
	}
	return 0;
}

static int render_list(struct rstate *rs, const struct tmpl_node *n)
{
	for (; n; n = n->next) {
		if (rs->out->oom)
			return rfail(rs, TMPL_ENOMEM, n->line, "out of memory");
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
			return TMPL_ENOMEM;
		ctx = empty;
	}
	struct tmpl_buf buf = {0};
	struct rstate rs = {.env = env,
			    .static_url = static_url ? static_url : "/static/",
			    .ctx = ctx,
			    .out = &buf,
			    .err = err,
			    .errlen = errlen};
	render_list(&rs, t->nodes);
	if (!rs.rc && buf.oom)
		rfail(&rs, TMPL_ENOMEM, 0, "out of memory");
	tmpl__buf_put(&buf, "", 1);
	if (!rs.rc && buf.oom)
		rfail(&rs, TMPL_ENOMEM, 0, "out of memory");
	json_decref(empty);
	if (rs.rc) {
		free(buf.p);
		return rs.rc;
	}
	*out = buf.p;
	if (outlen)
		*outlen = buf.len - 1;
	return TMPL_OK;
}

int tmpl_render_one(const struct tmpl *t, json_t *ctx, const char *static_url, char **out,
		    size_t *outlen, char *err, size_t errlen)
{
	return tmpl__render(NULL, t, ctx, static_url, out, outlen, err, errlen);
}
