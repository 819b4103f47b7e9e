/*
 * render_eval.c - evaluating filter expressions while rendering: lookups
 * (dotted parts, forloop.*, block.super) and filters.
 */
#include <stdlib.h>
#include <string.h>

#include "template_int.h"

/* ---- lookups ---- */

static bool seg_is(const struct tmpl_seg *s, const char *lit)
{
	return s->len == strlen(lit) && !memcmp(s->s, lit, s->len);
}

/* {{ block.super }}: the overridden block's output, or "" (Django's BlockNode.super). */
static int block_super(struct tmpl_rstate *rs, const struct tmpl_scope *sc, struct tmpl_val *v,
		       int line)
{
	struct tmpl_bstack *s = rs->bctx ? tmpl__bctx_find(rs->bctx, sc->block, sc->blocklen) : NULL;
	if (!s || !s->n) {
		tmpl__val_own(v, json_string(""), false);
		return v->j ? 0 : tmpl__rfail(rs, CH_ENOMEM, line, "out of memory");
	}
	struct text_buf tmp = {0}, *saved = rs->out;
	rs->out = &tmp;
	int r = tmpl__render_block(rs, sc->block, sc->blocklen, NULL);
	rs->out = saved;
	if (r == 0 && !tmp.failed)
		tmpl__val_own(v, json_stringn_nocheck(tmp.data ? tmp.data : "", tmp.len), true);
	free(tmp.data);
	if (r)
		return r;
	return v->j ? 0 : tmpl__rfail(rs, CH_ENOMEM, line, "out of memory");
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

static json_t *loop_attr(const struct tmpl_scope *sc, const struct tmpl_seg *seg)
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

int tmpl__lookup(struct tmpl_rstate *rs, const struct tmpl_operand *o, struct tmpl_val *v, int line)
{
	const struct tmpl_seg *seg = o->segs;
	size_t k = 1;
	json_t *cur = NULL;
	bool owned = false;
	const struct tmpl_scope *sc;
	for (sc = rs->scope; sc; sc = sc->up)
		if (sc->len == seg->len && !memcmp(sc->name, seg->s, seg->len))
			break;
	v->safe = false;
	if (sc && sc->kind == TMPL_SC_BLOCK) {
		if (o->nsegs == 2 && seg_is(&o->segs[1], "super"))
			return block_super(rs, sc, v, line);
		return 0;
	}
	if (sc && sc->kind == TMPL_SC_LOOP) {
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

static int eval_operand(struct tmpl_rstate *rs, const struct tmpl_operand *o, struct tmpl_val *v,
			int line)
{
	if (o->kind == TMPL_OPD_LITERAL) {
		v->j = o->literal;
		v->owned = false;
		v->safe = o->literal_safe;
		return 0;
	}
	return tmpl__lookup(rs, o, v, line);
}

/* ---- filters ---- */

static size_t length_of(const json_t *j)
{
	if (json_is_string(j))
		return text_utf8_count(json_string_value(j), json_string_length(j));
	if (json_is_array(j))
		return json_array_size(j);
	if (json_is_object(j))
		return json_object_size(j);
	return 0;
}

/* Builds a new string value from a buffer; consumes the buffer. */
static int own_buf(struct tmpl_rstate *rs, struct tmpl_val *v, struct text_buf *b, bool safe,
		   int line)
{
	if (!b->failed)
		tmpl__val_own(v, json_stringn_nocheck(b->data ? b->data : "", b->len), safe);
	free(b->data);
	if (b->failed || !v->j)
		return tmpl__rfail(rs, CH_ENOMEM, line, "out of memory");
	return 0;
}

static int apply_filter(struct tmpl_rstate *rs, const struct tmpl_filter *f, struct tmpl_val *v,
			int line)
{
	struct text_buf b = {0};
	switch (f->id) {
	case TMPL_F_SAFE:
		v->safe = true;
		return 0;
	case TMPL_F_ESCAPE: {
		if (v->safe)
			return 0;
		struct text_buf d = {0};
		tmpl__buf_display(&d, v->j);
		text_html_escape(&b, d.data ? d.data : "", d.len);
		b.failed |= d.failed;
		free(d.data);
		return own_buf(rs, v, &b, true, line);
	}
	case TMPL_F_DEFAULT:
		if (tmpl__truthy(v->j))
			return 0;
		tmpl__val_drop(v);
		if (eval_operand(rs, &f->arg, v, line))
			return -1;
		return 0;
	case TMPL_F_LENGTH:
		tmpl__val_own(v, json_integer((json_int_t)length_of(v->j)), false);
		return v->j ? 0 : tmpl__rfail(rs, CH_ENOMEM, line, "out of memory");
	case TMPL_F_UPPER:
	case TMPL_F_LOWER: {
		tmpl__buf_display(&b, v->j);
		for (size_t k = 0; k < b.len; k++) {
			char c = b.data[k];
			if (f->id == TMPL_F_UPPER && c >= 'a' && c <= 'z')
				b.data[k] = (char)(c - 'a' + 'A');
			else if (f->id == TMPL_F_LOWER && c >= 'A' && c <= 'Z')
				b.data[k] = (char)(c - 'A' + 'a');
		}
		return own_buf(rs, v, &b, f->id == TMPL_F_LOWER && v->safe, line);
	}
	case TMPL_F_JSON_SCRIPT: {
		struct tmpl_val id = {0};
		if (eval_operand(rs, &f->arg, &id, line))
			return -1;
		struct text_buf d = {0};
		tmpl__buf_display(&d, id.j);
		text_buf_puts(&b, "<script id=\"");
		if (id.safe)
			text_buf_append(&b, d.data ? d.data : "", d.len);
		else
			text_html_escape(&b, d.data ? d.data : "", d.len);
		text_buf_puts(&b, "\" type=\"application/json\">");
		tmpl__buf_json(&b, v->j, true, true);
		text_buf_puts(&b, "</script>");
		b.failed |= d.failed;
		free(d.data);
		tmpl__val_drop(&id);
		return own_buf(rs, v, &b, true, line);
	}
	}
	return 0;
}

/* Evaluates a filter expression. `quiet` (if-conditions, for sequences) keeps a
 * missing variable as None; otherwise it becomes "" as in Django's output. */
int tmpl__eval_fexpr(struct tmpl_rstate *rs, const struct tmpl_fexpr *fe, struct tmpl_val *v,
		     bool quiet, int line)
{
	*v = (struct tmpl_val){0};
	if (eval_operand(rs, &fe->base, v, line))
		return -1;
	if (!v->j && !quiet) {
		tmpl__val_own(v, json_string(""), false);
		if (!v->j)
			return tmpl__rfail(rs, CH_ENOMEM, line, "out of memory");
	}
	for (const struct tmpl_filter *f = fe->filters; f; f = f->next) {
		if (apply_filter(rs, f, v, line)) {
			tmpl__val_drop(v);
			return -1;
		}
	}
	return 0;
}

/* ---- if: Python comparison semantics ---- */

