/*
 * parse.c - template source -> immutable node tree (no I/O).
 *
 * Tokens follow Django's lexer: {{ ... }}, {% ... %} and {# ... #} must close
 * on the line they open on, otherwise the braces are plain text.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_int.h"

struct tmpl_arena {
	struct tmpl_arena *next;
	size_t used, cap;
	max_align_t data[];
};

struct tmpl_lit {
	json_t *j;
	struct tmpl_lit *next;
};

enum tok_type { TOK_TEXT, TOK_VAR, TOK_BLOCK, TOK_COMMENT };

struct token {
	enum tok_type type;
	const char *s; /* contents, trimmed (tags) or raw (text) */
	size_t len;
	int line;
};

struct word {
	const char *s;
	size_t len;
};

struct parser {
	struct tmpl *t;
	const char *src;
	size_t len, pos;
	int line;
	char *err;
	size_t errlen;
	bool failed;
	bool oom;
	int nest;
	bool seen_nontext;
	struct word *words; /* words of the current block tag; reused */
	size_t nwords, capwords;
	const struct tmpl_node **blocks;
	size_t nblocks, capblocks;
	int cond_depth;
	/* per tag kind ({{, {%, {#): a range already scanned in vain for the
	 * closing pair; keeps lines full of openers linear */
	size_t miss_from[3], miss_to[3];
};

static void *arena_alloc(struct parser *p, size_t n)
{
	struct tmpl_arena *a = p->t->arena;
	n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	if (!a || a->cap - a->used < n) {
		size_t cap = n > 16384 ? n : 16384;
		struct tmpl_arena *na = malloc(sizeof(*na) + cap);
		if (!na) {
			p->oom = true;
			p->failed = true;
			return NULL;
		}
		na->next = a;
		na->used = 0;
		na->cap = cap;
		p->t->arena = na;
		a = na;
	}
	void *r = (char *)a->data + a->used;
	a->used += n;
	memset(r, 0, n);
	return r;
}

__attribute__((format(printf, 3, 4))) static void fail(struct parser *p, int line, const char *fmt,
						       ...)
{
	if (p->failed)
		return;
	p->failed = true;
	if (!p->err || !p->errlen)
		return;
	int n = snprintf(p->err, p->errlen, "line %d: ", line);
	if (n < 0 || (size_t)n >= p->errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void trim(const char **s, size_t *len)
{
	while (*len && is_space(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && is_space((*s)[*len - 1]))
		(*len)--;
}

/* Returns false at the end of the source. */
static bool next_token(struct parser *p, struct token *tok)
{
	if (p->pos >= p->len)
		return false;
	const char *s = p->src + p->pos;
	size_t rem = p->len - p->pos;
	size_t i = 0;
	int line = p->line;
	for (;;) {
		while (i + 1 < rem &&
		       !(s[i] == '{' && (s[i + 1] == '{' || s[i + 1] == '%' || s[i + 1] == '#')))
			i++;
		if (i + 1 >= rem) {
			i = rem;
			break;
		}
		char close = s[i + 1] == '{' ? '}' : s[i + 1];
		int kind = close == '}' ? 0 : close == '%' ? 1 : 2;
		size_t abs = p->pos + i + 2;
		if (abs >= p->miss_from[kind] && abs < p->miss_to[kind]) {
			i++;
			continue;
		}
		size_t j = i + 2;
		while (j + 1 < rem && s[j] != '\n' && !(s[j] == close && s[j + 1] == '}'))
			j++;
		if (!(j + 1 < rem && s[j] == close && s[j + 1] == '}')) {
			p->miss_from[kind] = abs;
			p->miss_to[kind] = p->pos + j;
		} else {
			if (i > 0)
				break; /* emit the text before the tag first */
			tok->type = close == '}' ? TOK_VAR : close == '%' ? TOK_BLOCK : TOK_COMMENT;
			tok->s = s + 2;
			tok->len = j - 2;
			tok->line = line;
			trim(&tok->s, &tok->len);
			p->pos += j + 2;
			return true;
		}
		i++; /* unterminated on this line: the brace is text */
	}
	tok->type = TOK_TEXT;
	tok->s = s;
	tok->len = i;
	tok->line = line;
	for (size_t k = 0; k < i; k++)
		p->line += s[k] == '\n';
	p->pos += i;
	return true;
}

/* Splits a block tag's contents like Django's split_contents(). */
static bool split_words(struct parser *p, const char *s, size_t len)
{
	p->nwords = 0;
	size_t i = 0;
	while (i < len) {
		while (i < len && is_space(s[i]))
			i++;
		if (i >= len)
			break;
		size_t start = i;
		while (i < len && !is_space(s[i])) {
			if (s[i] == '"' || s[i] == '\'') {
				char q = s[i];
				size_t j = i + 1;
				while (j < len && s[j] != q)
					j += s[j] == '\\' ? 2 : 1;
				if (j < len) {
					i = j + 1;
					continue;
				}
			}
			i++;
		}
		if (i > len)
			i = len;
		if (p->nwords == p->capwords) {
			size_t cap = p->capwords ? p->capwords * 2 : 16;
			struct word *w = realloc(p->words, cap * sizeof(*w));
			if (!w) {
				p->oom = p->failed = true;
				return false;
			}
			p->words = w;
			p->capwords = cap;
		}
		p->words[p->nwords].s = s + start;
		p->words[p->nwords].len = i - start;
		p->nwords++;
	}
	return true;
}

static bool word_is(const struct word *w, const char *lit)
{
	return w->len == strlen(lit) && memcmp(w->s, lit, w->len) == 0;
}

static json_t *add_literal(struct parser *p, json_t *j)
{
	if (!j) {
		p->oom = p->failed = true;
		return NULL;
	}
	struct tmpl_lit *l = arena_alloc(p, sizeof(*l));
	if (!l) {
		json_decref(j);
		return NULL;
	}
	l->j = j;
	l->next = p->t->lits;
	p->t->lits = l;
	return j;
}

static bool is_var_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '.' || c >= 0x80;
}

/* Parses one operand at s[*i]: "str", 'str', a number, or a dotted lookup. */
static bool parse_operand(struct parser *p, int line, const char *s, size_t len, size_t *i,
			  struct tmpl_operand *o)
{
	size_t k = *i;
	if (k >= len) {
		fail(p, line, "expected a value in '%.*s'", (int)len, s);
		return false;
	}
	if (s[k] == '"' || s[k] == '\'') {
		char q = s[k];
		size_t j = k + 1;
		while (j < len && s[j] != q)
			j += s[j] == '\\' ? 2 : 1;
		if (j >= len) {
			fail(p, line, "unterminated string in '%.*s'", (int)len, s);
			return false;
		}
		char *buf = arena_alloc(p, j - k);
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
	bool num =
	    isdigit((unsigned char)s[k]) || ((s[k] == '-' || s[k] == '+' || s[k] == '.') &&
					     k + 1 < len && isdigit((unsigned char)s[k + 1]));
	if (num) {
		size_t j = k + 1;
		while (j < len &&
		       (isdigit((unsigned char)s[j]) || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
			((s[j] == '-' || s[j] == '+') && (s[j - 1] == 'e' || s[j - 1] == 'E'))))
			j++;
		char tmp[64];
		if (j - k >= sizeof(tmp)) {
			fail(p, line, "number too long in '%.*s'", (int)len, s);
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
			fail(p, line, "could not parse the number '%s'", tmp);
			return false;
		}
		o->kind = TMPL_OPD_LITERAL;
		o->literal = add_literal(p, v);
		*i = j;
		return o->literal != NULL;
	}
	size_t j = k;
	while (j < len && is_var_char((unsigned char)s[j]))
		j++;
	if (j == k) {
		fail(p, line, "could not parse '%.*s'", (int)(len - k), s + k);
		return false;
	}
	size_t nsegs = 1;
	for (size_t m = k; m < j; m++)
		nsegs += s[m] == '.';
	o->kind = TMPL_OPD_LOOKUP;
	o->segs = arena_alloc(p, nsegs * sizeof(*o->segs));
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
			fail(p, line, "empty lookup part in '%.*s'", (int)(j - k), s + k);
			return false;
		}
		if (sg->s[0] == '_') {
			fail(p, line,
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

static struct tmpl_fexpr *parse_fexpr(struct parser *p, int line, const char *s, size_t len)
{
	struct tmpl_fexpr *fe = arena_alloc(p, sizeof(*fe));
	if (!fe)
		return NULL;
	size_t i = 0;
	trim(&s, &len);
	if (!parse_operand(p, line, s, len, &i, &fe->base))
		return NULL;
	struct tmpl_filter **tail = &fe->filters;
	for (;;) {
		while (i < len && is_space(s[i]))
			i++;
		if (i >= len)
			break;
		if (s[i] != '|') {
			fail(p, line, "could not parse the remainder: '%.*s' from '%.*s'",
			     (int)(len - i), s + i, (int)len, s);
			return NULL;
		}
		i++;
		while (i < len && is_space(s[i]))
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
			fail(p, line, "invalid filter: '%.*s'", (int)(i - st), s + st);
			return NULL;
		}
		struct tmpl_filter *f = arena_alloc(p, sizeof(*f));
		if (!f)
			return NULL;
		f->id = filters[fi].id;
		if (i < len && s[i] == ':') {
			i++;
			if (!filters[fi].args) {
				fail(p, line, "%s requires 0 arguments, 1 provided",
				     filters[fi].name);
				return NULL;
			}
			if (!parse_operand(p, line, s, len, &i, &f->arg))
				return NULL;
			f->has_arg = true;
		} else if (filters[fi].args) {
			fail(p, line, "%s requires 1 argument, 0 provided", filters[fi].name);
			return NULL;
		}
		*tail = f;
		tail = &f->next;
	}
	return fe;
}

/* ---- {% if %} expressions: Django's smartif, top-down operator precedence ---- */

struct cond_parser {
	struct parser *p;
	int line;
	const struct word *w;
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
	const struct word *w = &c->w[i];
	if (word_is(w, "not") && i + 1 < c->n && word_is(&c->w[i + 1], "in")) {
		*width = 2;
		*op = TMPL_C_NOTIN;
		return 9;
	}
	for (size_t k = 0; k < sizeof(cond_ops) / sizeof(cond_ops[0]); k++) {
		if (!word_is(w, cond_ops[k].name))
			continue;
		*width = 1;
		*op = cond_ops[k].op;
		if (*op == TMPL_C_IS && i + 1 < c->n && word_is(&c->w[i + 1], "not")) {
			*width = 2;
			*op = TMPL_C_ISNOT;
		}
		return cond_ops[k].lbp;
	}
	return -1;
}

static struct tmpl_cond *cond_expr(struct cond_parser *c, int rbp)
{
	struct parser *p = c->p;
	if (++p->cond_depth > TMPL_MAX_NEST) {
		fail(p, c->line, "if expression nested too deeply");
		return NULL;
	}
	struct tmpl_cond *left = arena_alloc(p, sizeof(*left));
	if (!left)
		return NULL;
	if (c->i >= c->n) {
		fail(p, c->line, "unexpected end of expression in if tag");
		return NULL;
	}
	const struct word *w = &c->w[c->i];
	size_t width;
	enum tmpl_cond_op op;
	if (word_is(w, "not")) {
		c->i++;
		left->op = TMPL_C_NOT;
		left->a = cond_expr(c, 8);
		if (!left->a)
			return NULL;
	} else if (infix_at(c, c->i, &width, &op) >= 0) {
		fail(p, c->line, "not expecting '%.*s' in this position in if tag", (int)w->len,
		     w->s);
		return NULL;
	} else {
		left->op = TMPL_C_LEAF;
		left->leaf = parse_fexpr(p, c->line, w->s, w->len);
		if (!left->leaf)
			return NULL;
		c->i++;
	}
	for (;;) {
		int lbp = infix_at(c, c->i, &width, &op);
		if (lbp < 0) {
			if (c->i < c->n && !word_is(&c->w[c->i], "not")) {
				fail(p, c->line, "unused '%.*s' at end of if expression",
				     (int)c->w[c->i].len, c->w[c->i].s);
				return NULL;
			}
			if (c->i < c->n) {
				fail(p, c->line, "not expecting 'not' in this position in if tag");
				return NULL;
			}
			break;
		}
		if (rbp >= lbp)
			break;
		c->i += width;
		struct tmpl_cond *bin = arena_alloc(p, sizeof(*bin));
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
static struct tmpl_cond *parse_cond(struct parser *p, int line)
{
	struct cond_parser c = {.p = p, .line = line, .w = p->words + 1, .n = p->nwords - 1};
	p->cond_depth = 0;
	struct tmpl_cond *r = cond_expr(&c, 0);
	if (r && c.i < c.n) {
		fail(p, line, "unused '%.*s' at end of if expression", (int)c.w[c.i].len,
		     c.w[c.i].s);
		return NULL;
	}
	return r;
}

/* ---- tags ---- */

/* Parses nodes until EOF (ends == NULL) or a block tag whose first word is one of
 * `ends`; that tag's words are left in p->words and its token in *end. */
static struct tmpl_node *parse_list(struct parser *p, const char *const *ends, struct token *end,
				    bool *found);

static struct tmpl_node *new_node(struct parser *p, enum tmpl_node_kind kind, int line)
{
	struct tmpl_node *n = arena_alloc(p, sizeof(*n));
	if (n) {
		n->kind = kind;
		n->line = line;
	}
	return n;
}

static void expect_end(struct parser *p, const struct token *open, const char *what, bool found,
		       const char *const *ends)
{
	if (found || p->failed)
		return;
	char list[128] = "";
	for (size_t k = 0; ends[k]; k++) {
		size_t used = strlen(list);
		snprintf(list + used, sizeof(list) - used, "%s%s", k ? ", " : "", ends[k]);
	}
	fail(p, open->line, "unclosed tag '%s'; looking for one of: %s", what, list);
}

/* Parses a nested body, bounding recursion. */
static struct tmpl_node *parse_body(struct parser *p, const struct token *open,
				    const char *const *ends, struct token *end, bool *found)
{
	*found = false;
	if (++p->nest > TMPL_MAX_NEST) {
		fail(p, open->line, "tags nested too deeply");
		return NULL;
	}
	struct tmpl_node *r = parse_list(p, ends, end, found);
	p->nest--;
	return r;
}

static struct tmpl_node *tag_if(struct parser *p, const struct token *tok)
{
	static const char *const ends[] = {"elif", "else", "endif", NULL};
	struct tmpl_node *n = new_node(p, TMPL_N_IF, tok->line);
	if (!n)
		return NULL;
	struct tmpl_branch **tail = &n->branches;
	bool is_else = false;
	struct token cur = *tok;
	for (;;) {
		struct tmpl_branch *b = arena_alloc(p, sizeof(*b));
		if (!b)
			return NULL;
		if (!is_else) {
			if (p->nwords < 2) {
				fail(p, cur.line, "'%s' requires a condition",
				     cur.len >= 4 && !memcmp(cur.s, "elif", 4) ? "elif" : "if");
				return NULL;
			}
			b->cond = parse_cond(p, cur.line);
			if (!b->cond)
				return NULL;
		} else if (p->nwords != 1) {
			fail(p, cur.line, "'else' takes no arguments");
			return NULL;
		}
		struct token end;
		bool found;
		b->body = parse_body(p, tok, is_else ? ends + 2 : ends, &end, &found);
		expect_end(p, tok, "if", found, is_else ? ends + 2 : ends);
		if (p->failed)
			return NULL;
		*tail = b;
		tail = &b->next;
		if (word_is(&p->words[0], "endif")) {
			if (p->nwords != 1) {
				fail(p, end.line, "'endif' takes no arguments");
				return NULL;
			}
			return n;
		}
		is_else = word_is(&p->words[0], "else");
		cur = end;
	}
}

/* Loop variables are words[1..in_idx): names separated by commas ("k, v", "k,v"). */
static bool parse_loopvars(struct parser *p, struct tmpl_node *n, size_t in_idx)
{
	bool want_name = true;
	for (size_t k = 1; k < in_idx; k++) {
		const char *s = p->words[k].s;
		size_t len = p->words[k].len, m = 0;
		while (m < len) {
			if (s[m] == ',') {
				if (want_name)
					return false;
				want_name = true;
				m++;
				continue;
			}
			size_t st = m;
			for (; m < len && s[m] != ','; m++)
				if (!is_var_char((unsigned char)s[m]) || s[m] == '.')
					return false;
			if (!want_name || n->nloopvars == TMPL_MAX_LOOPVARS)
				return false;
			n->loopvars[n->nloopvars].s = s + st;
			n->loopvars[n->nloopvars].len = m - st;
			n->loopvars[n->nloopvars].idx = -1;
			n->nloopvars++;
			want_name = false;
		}
	}
	return !want_name;
}

static struct tmpl_node *tag_for(struct parser *p, const struct token *tok)
{
	static const char *const ends[] = {"empty", "endfor", NULL};
	struct tmpl_node *n = new_node(p, TMPL_N_FOR, tok->line);
	if (!n)
		return NULL;
	size_t nw = p->nwords;
	if (nw < 4) {
		fail(p, tok->line, "'for' statements should have at least four words");
		return NULL;
	}
	n->reversed = word_is(&p->words[nw - 1], "reversed");
	size_t in_idx = n->reversed ? nw - 3 : nw - 2;
	if (in_idx < 2 || !word_is(&p->words[in_idx], "in")) {
		fail(p, tok->line, "'for' statements should use the format 'for x in y'");
		return NULL;
	}
	if (!parse_loopvars(p, n, in_idx)) {
		fail(p, tok->line, "'for' tag received an invalid argument");
		return NULL;
	}
	n->expr = parse_fexpr(p, tok->line, p->words[in_idx + 1].s, p->words[in_idx + 1].len);
	if (!n->expr)
		return NULL;
	struct token end;
	bool found;
	n->body = parse_body(p, tok, ends, &end, &found);
	expect_end(p, tok, "for", found, ends);
	if (p->failed)
		return NULL;
	if (word_is(&p->words[0], "empty")) {
		n->empty = parse_body(p, tok, ends + 1, &end, &found);
		expect_end(p, tok, "for", found, ends + 1);
		if (p->failed)
			return NULL;
	}
	return n;
}

static struct tmpl_node *tag_block(struct parser *p, const struct token *tok)
{
	static const char *const ends[] = {"endblock", NULL};
	if (p->nwords != 2) {
		fail(p, tok->line, "'block' tag takes only one argument");
		return NULL;
	}
	struct tmpl_node *n = new_node(p, TMPL_N_BLOCK, tok->line);
	if (!n)
		return NULL;
	n->text = p->words[1].s;
	n->len = p->words[1].len;
	for (size_t k = 0; k < p->nblocks; k++) {
		if (p->blocks[k]->len == n->len && !memcmp(p->blocks[k]->text, n->text, n->len)) {
			fail(p, tok->line, "'block' tag with name '%.*s' appears more than once",
			     (int)n->len, n->text);
			return NULL;
		}
	}
	if (p->nblocks == p->capblocks) {
		size_t cap = p->capblocks ? p->capblocks * 2 : 8;
		const struct tmpl_node **b = realloc(p->blocks, cap * sizeof(*b));
		if (!b) {
			p->oom = p->failed = true;
			return NULL;
		}
		p->blocks = b;
		p->capblocks = cap;
	}
	p->blocks[p->nblocks++] = n;
	struct token end;
	bool found;
	n->body = parse_body(p, tok, ends, &end, &found);
	expect_end(p, tok, "block", found, ends);
	if (p->failed)
		return NULL;
	if (p->nwords > 2 || (p->nwords == 2 && (p->words[1].len != n->len ||
						 memcmp(p->words[1].s, n->text, n->len)))) {
		fail(p, end.line, "expected 'endblock' or 'endblock %.*s'", (int)n->len, n->text);
		return NULL;
	}
	return n;
}

/* {% include x %}, {% extends x %}, {% static x %}: exactly one argument. */
static struct tmpl_node *tag_one_arg(struct parser *p, const struct token *tok,
				     enum tmpl_node_kind kind, const char *name)
{
	if (p->nwords != 2) {
		fail(p, tok->line, "'%s' takes one argument", name);
		return NULL;
	}
	struct tmpl_node *n = new_node(p, kind, tok->line);
	if (!n)
		return NULL;
	n->expr = parse_fexpr(p, tok->line, p->words[1].s, p->words[1].len);
	return n->expr ? n : NULL;
}

static struct tmpl_node *tag_extends(struct parser *p, const struct token *tok)
{
	if (p->t->extends) {
		fail(p, tok->line, "'extends' cannot appear more than once in the same template");
		return NULL;
	}
	if (p->seen_nontext || p->nest > 0) {
		fail(p, tok->line, "'extends' must be the first tag in the template");
		return NULL;
	}
	struct tmpl_node *n = tag_one_arg(p, tok, TMPL_N_EXTENDS, "extends");
	if (!n)
		return NULL;
	p->t->extends = n;
	n->owner = p->t;
	struct token end;
	bool found;
	n->body = parse_list(p, NULL, &end, &found);
	return p->failed ? NULL : n;
}

static void skip_comment(struct parser *p, const struct token *tok)
{
	struct token t;
	while (next_token(p, &t))
		if (t.type == TOK_BLOCK && t.len == 10 && !memcmp(t.s, "endcomment", 10))
			return;
	fail(p, tok->line, "unclosed tag 'comment'; looking for one of: endcomment");
}

/* Parses one block tag (not an end tag). Returns the node, or NULL with
 * p->failed set, or NULL for tags that produce no node. */
static struct tmpl_node *parse_tag(struct parser *p, const struct token *tok)
{
	const struct word *w = &p->words[0];
	if (word_is(w, "if"))
		return tag_if(p, tok);
	if (word_is(w, "for"))
		return tag_for(p, tok);
	if (word_is(w, "block"))
		return tag_block(p, tok);
	if (word_is(w, "extends"))
		return tag_extends(p, tok);
	if (word_is(w, "include"))
		return tag_one_arg(p, tok, TMPL_N_INCLUDE, "include");
	if (word_is(w, "static"))
		return tag_one_arg(p, tok, TMPL_N_STATIC, "static");
	if (word_is(w, "csrf_token")) {
		if (p->nwords != 1) {
			fail(p, tok->line, "'csrf_token' takes no arguments");
			return NULL;
		}
		return new_node(p, TMPL_N_CSRF, tok->line);
	}
	if (word_is(w, "load"))
		return NULL;
	if (word_is(w, "comment")) {
		skip_comment(p, tok);
		return NULL;
	}
	fail(p, tok->line, "invalid block tag '%.*s'", (int)w->len, w->s);
	return NULL;
}

static struct tmpl_node *parse_list(struct parser *p, const char *const *ends, struct token *end,
				    bool *found)
{
	struct tmpl_node *head = NULL, **tail = &head;
	struct token tok;
	*found = false;
	while (!p->failed && next_token(p, &tok)) {
		struct tmpl_node *n = NULL;
		switch (tok.type) {
		case TOK_COMMENT:
			continue;
		case TOK_TEXT:
			n = new_node(p, TMPL_N_TEXT, tok.line);
			if (n) {
				n->text = tok.s;
				n->len = tok.len;
			}
			break;
		case TOK_VAR:
			if (tok.len == 0) {
				fail(p, tok.line, "empty variable tag");
				break;
			}
			n = new_node(p, TMPL_N_VAR, tok.line);
			if (n)
				n->expr = parse_fexpr(p, tok.line, tok.s, tok.len);
			p->seen_nontext = true;
			break;
		case TOK_BLOCK:
			if (tok.len == 0) {
				fail(p, tok.line, "empty block tag");
				break;
			}
			if (!split_words(p, tok.s, tok.len))
				break;
			for (size_t k = 0; ends && ends[k]; k++) {
				if (word_is(&p->words[0], ends[k])) {
					*end = tok;
					*found = true;
					return head;
				}
			}
			n = parse_tag(p, &tok);
			if (n && n->kind != TMPL_N_EXTENDS)
				p->seen_nontext = true;
			break;
		}
		if (n) {
			*tail = n;
			tail = &n->next;
		}
	}
	return head;
}

int tmpl_parse(const char *src, size_t len, struct tmpl **out, char *err, size_t errlen)
{
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	struct tmpl *t = calloc(1, sizeof(*t));
	if (!t)
		return TMPL_ENOMEM;
	t->src = malloc(len + 1);
	if (!t->src) {
		free(t);
		return TMPL_ENOMEM;
	}
	if (len)
		memcpy(t->src, src, len);
	t->src[len] = '\0';
	t->len = len;
	struct parser p = {
	    .t = t, .src = t->src, .len = len, .line = 1, .err = err, .errlen = errlen};
	struct token end;
	bool found;
	t->nodes = parse_list(&p, NULL, &end, &found);
	free(p.words);
	if (!p.failed && p.nblocks) {
		t->blocks = arena_alloc(&p, p.nblocks * sizeof(*t->blocks));
		if (t->blocks) {
			memcpy(t->blocks, p.blocks, p.nblocks * sizeof(*t->blocks));
			t->nblocks = p.nblocks;
		}
	}
	free(p.blocks);
	if (p.failed) {
		tmpl_free(t);
		if (p.oom) {
			if (err && errlen)
				snprintf(err, errlen, "out of memory");
			return TMPL_ENOMEM;
		}
		return TMPL_ESYNTAX;
	}
	*out = t;
	return TMPL_OK;
}

void tmpl_free(struct tmpl *t)
{
	if (!t)
		return;
	for (struct tmpl_lit *l = t->lits; l; l = l->next)
		json_decref(l->j);
	struct tmpl_arena *a = t->arena;
	while (a) {
		struct tmpl_arena *next = a->next;
		free(a);
		a = next;
	}
	free(t->src);
	free(t);
}

const char *tmpl_strerror(int err)
{
	switch (err) {
	case TMPL_OK:
		return "success";
	case TMPL_ESYNTAX:
		return "template syntax error";
	case TMPL_ENOTFOUND:
		return "template not found";
	case TMPL_ENOMEM:
		return "out of memory";
	case TMPL_EDEPTH:
		return "include/extends nested too deeply";
	default:
		return "unknown template error";
	}
}
