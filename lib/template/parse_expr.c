/*
 * parse_expr.c - operands, filter expressions ({{ a.b|default:"x" }}) and
 * {% if %} conditions (Django's smartif). No I/O.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_int.h"

static json_t *add_literal(struct tmpl_parser *p, json_t *j)
{
	if (!j) {
		p->oom = p->failed = true;
		return NULL;
	}
	struct tmpl_lit *l = tmpl__arena_alloc(p, sizeof(*l));
	if (!l) {
		json_decref(j);
		return NULL;
	}
	l->j = j;
	l->next = p->t->lits;
	p->t->lits = l;
	return j;
}

bool tmpl__is_var_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '.' || c >= 0x80;
}

/* The quoted string literal at s[*i] (backslash escapes only the quote and itself). */
static bool parse_string(struct tmpl_parser *p, int line, const char *s, size_t len, size_t *i,
			 struct tmpl_operand *o)
{
	size_t k = *i;
	char q = s[k];
	size_t j = k + 1;
	while (j < len && s[j] != q)
		j += s[j] == '\\' ? 2 : 1;
	if (j >= len) {
		tmpl__fail(p, line, "unterminated string in '%.*s'", (int)len, s);
		return false;
	}
	char *buf = tmpl__arena_alloc(p, j - k);
	if (!buf)
		return false;
	size_t n = 0;
	for (size_t m = k + 1; m < j; m++) {
		if (s[m] == '\\' && m + 1 < j && (s[m + 1] == q || s[m + 1] == '\\'))
			m++;
		buf[n++] = s[m];
	}
	o->kind = TMPL_OPD_LITERAL;
	o->literal = add_literal(p, json_stringn_nocheck(buf, n));
	o->literal_safe = true;
	*i = j + 1;
	return o->literal != NULL;
}

/* The number at s[*i]: an integer, or a real when it has '.', 'e' or 'E'. */
static bool parse_number(struct tmpl_parser *p, int line, const char *s, size_t len, size_t *i,
			 struct tmpl_operand *o)
{
	size_t k = *i;
	size_t j = k + 1;
	while (j < len &&
	       (isdigit((unsigned char)s[j]) || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
		((s[j] == '-' || s[j] == '+') && (s[j - 1] == 'e' || s[j - 1] == 'E'))))
		j++;
	char tmp[64];
	if (j - k >= sizeof(tmp)) {
		tmpl__fail(p, line, "number too long in '%.*s'", (int)len, s);
		return false;
	}
	memcpy(tmp, s + k, j - k);
	tmp[j - k] = '\0';
	char *end;
	json_t *v;
	errno = 0;
	if (strpbrk(tmp, ".eE")) {
		double d = strtod(tmp, &end);
		v = json_real(d);
	} else {
		long long ll = strtoll(tmp, &end, 10);
		v = json_integer(ll);
	}
	if (*end || errno || tmp[j - k - 1] == '.') {
		json_decref(v);
		tmpl__fail(p, line, "could not parse the number '%s'", tmp);
		return false;
	}
	o->kind = TMPL_OPD_LITERAL;
	o->literal = add_literal(p, v);
	*i = j;
	return o->literal != NULL;
}

/* The dotted lookup at s[*i] ("a.b.0"), one segment per part. */
static bool parse_lookup(struct tmpl_parser *p, int line, const char *s, size_t len, size_t *i,
			 struct tmpl_operand *o)
{
	size_t k = *i;
	size_t j = k;
	while (j < len && tmpl__is_var_char((unsigned char)s[j]))
		j++;
	if (j == k) {
		tmpl__fail(p, line, "could not parse '%.*s'", (int)(len - k), s + k);
		return false;
	}
	size_t nsegs = 1;
	for (size_t m = k; m < j; m++)
		nsegs += s[m] == '.';
	o->kind = TMPL_OPD_LOOKUP;
	o->segs = tmpl__arena_alloc(p, nsegs * sizeof(*o->segs));
	if (!o->segs)
		return false;
	o->nsegs = nsegs;
	size_t start = k, si = 0;
	for (size_t m = k; m <= j; m++) {
		if (m < j && s[m] != '.')
			continue;
		struct tmpl_seg *sg = &o->segs[si++];
		sg->s = s + start;
		sg->len = m - start;
		sg->idx = -1;
		if (sg->len == 0) {
			tmpl__fail(p, line, "empty lookup part in '%.*s'", (int)(j - k), s + k);
			return false;
		}
		if (sg->s[0] == '_') {
			tmpl__fail(p, line,
			     "variables and attributes may not begin with underscores: '%.*s'",
			     (int)(j - k), s + k);
			return false;
		}
		bool digits = sg->len <= 9;
		for (size_t d = 0; d < sg->len && digits; d++)
			digits = isdigit((unsigned char)sg->s[d]);
		if (digits)
			sg->idx = strtol(sg->s, NULL, 10);
		start = m + 1;
	}
	*i = j;
	return true;
}

/* Parses one operand at s[*i]: "str", 'str', a number, or a dotted lookup. */
static bool parse_operand(struct tmpl_parser *p, int line, const char *s, size_t len, size_t *i,
			  struct tmpl_operand *o)
{
	size_t k = *i;
	if (k >= len) {
		tmpl__fail(p, line, "expected a value in '%.*s'", (int)len, s);
		return false;
	}
	if (s[k] == '"' || s[k] == '\'')
		return parse_string(p, line, s, len, i, o);
	bool num =
	    isdigit((unsigned char)s[k]) || ((s[k] == '-' || s[k] == '+' || s[k] == '.') &&
					     k + 1 < len && isdigit((unsigned char)s[k + 1]));
	if (num)
		return parse_number(p, line, s, len, i, o);
	return parse_lookup(p, line, s, len, i, o);
}

static const struct {
	const char *name;
	enum tmpl_filter_id id;
	int args; /* 0 none, 1 required */
} filters[] = {
    {"escape", TMPL_F_ESCAPE, 0},
    {"safe", TMPL_F_SAFE, 0},
    {"default", TMPL_F_DEFAULT, 1},
    {"length", TMPL_F_LENGTH, 0},
    {"upper", TMPL_F_UPPER, 0},
    {"lower", TMPL_F_LOWER, 0},
    {"json_script", TMPL_F_JSON_SCRIPT, 1},
};

struct tmpl_fexpr *tmpl__parse_fexpr(struct tmpl_parser *p, int line, const char *s, size_t len)
{
	struct tmpl_fexpr *fe = tmpl__arena_alloc(p, sizeof(*fe));
	if (!fe)
		return NULL;
	size_t i = 0;
	tmpl__trim(&s, &len);
	if (!parse_operand(p, line, s, len, &i, &fe->base))
		return NULL;
	struct tmpl_filter **tail = &fe->filters;
	for (;;) {
		while (i < len && tmpl__is_space(s[i]))
			i++;
		if (i >= len)
			break;
		if (s[i] != '|') {
			tmpl__fail(p, line, "could not parse the remainder: '%.*s' from '%.*s'",
			     (int)(len - i), s + i, (int)len, s);
			return NULL;
		}
		i++;
		while (i < len && tmpl__is_space(s[i]))
			i++;
		size_t st = i;
		while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_'))
			i++;
		size_t fi;
		for (fi = 0; fi < sizeof(filters) / sizeof(filters[0]); fi++)
			if (strlen(filters[fi].name) == i - st &&
			    memcmp(filters[fi].name, s + st, i - st) == 0)
				break;
		if (fi == sizeof(filters) / sizeof(filters[0])) {
			tmpl__fail(p, line, "invalid filter: '%.*s'", (int)(i - st), s + st);
			return NULL;
		}
		struct tmpl_filter *f = tmpl__arena_alloc(p, sizeof(*f));
		if (!f)
			return NULL;
		f->id = filters[fi].id;
		if (i < len && s[i] == ':') {
			i++;
			if (!filters[fi].args) {
				tmpl__fail(p, line, "%s requires 0 arguments, 1 provided",
				     filters[fi].name);
				return NULL;
			}
			if (!parse_operand(p, line, s, len, &i, &f->arg))
				return NULL;
			f->has_arg = true;
		} else if (filters[fi].args) {
			tmpl__fail(p, line, "%s requires 1 argument, 0 provided", filters[fi].name);
			return NULL;
		}
		*tail = f;
		tail = &f->next;
	}
	return fe;
}

/* ---- {% if %} expressions: Django's smartif, top-down operator precedence ---- */

struct cond_parser {
	struct tmpl_parser *p;
	int line;
	const struct tmpl_word *w;
	size_t n, i;
};

static const struct {
	const char *name;
	enum tmpl_cond_op op;
	int lbp;
} cond_ops[] = {
    {"or", TMPL_C_OR, 6},  {"and", TMPL_C_AND, 7}, {"in", TMPL_C_IN, 9}, {"==", TMPL_C_EQ, 10},
    {"!=", TMPL_C_NE, 10}, {"<", TMPL_C_LT, 10},   {">", TMPL_C_GT, 10}, {"<=", TMPL_C_LE, 10},
    {">=", TMPL_C_GE, 10}, {"is", TMPL_C_IS, 10},
};

/* Returns the infix operator at position i (advancing past it via *width), or -1. */
static int infix_at(const struct cond_parser *c, size_t i, size_t *width, enum tmpl_cond_op *op)
{
	if (i >= c->n)
		return -1;
	const struct tmpl_word *w = &c->w[i];
	if (tmpl__word_is(w, "not") && i + 1 < c->n && tmpl__word_is(&c->w[i + 1], "in")) {
		*width = 2;
		*op = TMPL_C_NOTIN;
		return 9;
	}
	for (size_t k = 0; k < sizeof(cond_ops) / sizeof(cond_ops[0]); k++) {
		if (!tmpl__word_is(w, cond_ops[k].name))
			continue;
		*width = 1;
		*op = cond_ops[k].op;
		if (*op == TMPL_C_IS && i + 1 < c->n && tmpl__word_is(&c->w[i + 1], "not")) {
			*width = 2;
			*op = TMPL_C_ISNOT;
		}
		return cond_ops[k].lbp;
	}
	return -1;
}

static struct tmpl_cond *cond_expr(struct cond_parser *c, int rbp)
{
	struct tmpl_parser *p = c->p;
	if (++p->cond_depth > TMPL_MAX_NEST) {
		tmpl__fail(p, c->line, "if expression nested too deeply");
		return NULL;
	}
	struct tmpl_cond *left = tmpl__arena_alloc(p, sizeof(*left));
	if (!left)
		return NULL;
	if (c->i >= c->n) {
		tmpl__fail(p, c->line, "unexpected end of expression in if tag");
		return NULL;
	}
	const struct tmpl_word *w = &c->w[c->i];
	size_t width;
	enum tmpl_cond_op op;
	if (tmpl__word_is(w, "not")) {
		c->i++;
		left->op = TMPL_C_NOT;
		left->a = cond_expr(c, 8);
		if (!left->a)
			return NULL;
	} else if (infix_at(c, c->i, &width, &op) >= 0) {
		tmpl__fail(p, c->line, "not expecting '%.*s' in this position in if tag", (int)w->len,
		     w->s);
		return NULL;
	} else {
		left->op = TMPL_C_LEAF;
		left->leaf = tmpl__parse_fexpr(p, c->line, w->s, w->len);
		if (!left->leaf)
			return NULL;
		c->i++;
	}
	for (;;) {
		int lbp = infix_at(c, c->i, &width, &op);
		if (lbp < 0) {
			if (c->i < c->n && !tmpl__word_is(&c->w[c->i], "not")) {
				tmpl__fail(p, c->line, "unused '%.*s' at end of if expression",
				     (int)c->w[c->i].len, c->w[c->i].s);
				return NULL;
			}
			if (c->i < c->n) {
				tmpl__fail(p, c->line, "not expecting 'not' in this position in if tag");
				return NULL;
			}
			break;
		}
		if (rbp >= lbp)
			break;
		c->i += width;
		struct tmpl_cond *bin = tmpl__arena_alloc(p, sizeof(*bin));
		if (!bin)
			return NULL;
		bin->op = op;
		bin->a = left;
		bin->b = cond_expr(c, lbp);
		if (!bin->b)
			return NULL;
		left = bin;
	}
	p->cond_depth--;
	return left;
}

/* Parses the words after the tag name (words[1..]) as a condition. */
struct tmpl_cond *tmpl__parse_cond(struct tmpl_parser *p, int line)
{
	struct cond_parser c = {.p = p, .line = line, .w = p->words + 1, .n = p->nwords - 1};
	p->cond_depth = 0;
	struct tmpl_cond *r = cond_expr(&c, 0);
	if (r && c.i < c.n) {
		tmpl__fail(p, line, "unused '%.*s' at end of if expression", (int)c.w[c.i].len,
		     c.w[c.i].s);
		return NULL;
	}
	return r;
}
