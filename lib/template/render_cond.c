/*
 * render_cond.c - evaluating {% if %} conditions with Python's comparison
 * semantics (==, <, in, is, and/or/not).
 */
#include <math.h>
#include <string.h>

#include "template_int.h"

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
int tmpl__eval_cond(struct tmpl_rstate *rs, const struct tmpl_cond *c, int line)
{
	if (c->op == TMPL_C_LEAF) {
		struct tmpl_val v;
		if (tmpl__eval_fexpr(rs, c->leaf, &v, true, line))
			return -1;
		int r = tmpl__truthy(v.j);
		tmpl__val_drop(&v);
		return r;
	}
	if (c->op == TMPL_C_NOT) {
		int r = tmpl__eval_cond(rs, c->a, line);
		return r < 0 ? r : !r;
	}
	if (c->op == TMPL_C_OR || c->op == TMPL_C_AND) {
		int r = tmpl__eval_cond(rs, c->a, line);
		if (r < 0 || r == (c->op == TMPL_C_OR))
			return r;
		return tmpl__eval_cond(rs, c->b, line);
	}
	/* comparisons operate on the operands' values */
	struct tmpl_val a = {0}, b = {0};
	if (c->a->op != TMPL_C_LEAF || c->b->op != TMPL_C_LEAF) {
		int x = tmpl__eval_cond(rs, c->a, line);
		int y = x < 0 ? -1 : tmpl__eval_cond(rs, c->b, line);
		if (y < 0)
			return -1;
		a.j = c->a->op == TMPL_C_LEAF ? NULL : json_boolean(x);
		b.j = c->b->op == TMPL_C_LEAF ? NULL : json_boolean(y);
	}
	if (!a.j && c->a->op == TMPL_C_LEAF && tmpl__eval_fexpr(rs, c->a->leaf, &a, true, line))
		return -1;
	if (!b.j && c->b->op == TMPL_C_LEAF && tmpl__eval_fexpr(rs, c->b->leaf, &b, true, line)) {
		tmpl__val_drop(&a);
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
	tmpl__val_drop(&a);
	tmpl__val_drop(&b);
	return r;
}
