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

/* ---- tags ---- */

/* Parses nodes until EOF (ends == NULL) or a block tag whose first word is one of
 * `ends`; that tag's words are left in p->words and its token in *end. */
static struct tmpl_node *parse_list(struct tmpl_parser *p, const char *const *ends,
				    struct tmpl_token *end, bool *found);

static struct tmpl_node *new_node(struct tmpl_parser *p, enum tmpl_node_kind kind, int line)
{
	struct tmpl_node *n = tmpl__arena_alloc(p, sizeof(*n));
	if (n) {
		n->kind = kind;
		n->line = line;
	}
	return n;
}

static void expect_end(struct tmpl_parser *p, const struct tmpl_token *open, const char *what,
		       bool found, const char *const *ends)
{
	if (found || p->failed)
		return;
	char list[128] = "";
	for (size_t k = 0; ends[k]; k++) {
		size_t used = strlen(list);
		snprintf(list + used, sizeof(list) - used, "%s%s", k ? ", " : "", ends[k]);
	}
	tmpl__fail(p, open->line, "unclosed tag '%s'; looking for one of: %s", what, list);
}

/* Parses a nested body, bounding recursion. */
static struct tmpl_node *parse_body(struct tmpl_parser *p, const struct tmpl_token *open,
				    const char *const *ends, struct tmpl_token *end, bool *found)
{
	*found = false;
	if (++p->nest > TMPL_MAX_NEST) {
		tmpl__fail(p, open->line, "tags nested too deeply");
		return NULL;
	}
	struct tmpl_node *r = parse_list(p, ends, end, found);
	p->nest--;
	return r;
}

static struct tmpl_node *tag_if(struct tmpl_parser *p, const struct tmpl_token *tok)
{
	static const char *const ends[] = {"elif", "else", "endif", NULL};
	struct tmpl_node *n = new_node(p, TMPL_N_IF, tok->line);
	if (!n)
		return NULL;
	struct tmpl_branch **tail = &n->branches;
	bool is_else = false;
	struct tmpl_token cur = *tok;
	for (;;) {
		struct tmpl_branch *b = tmpl__arena_alloc(p, sizeof(*b));
		if (!b)
			return NULL;
		if (!is_else) {
			if (p->nwords < 2) {
				tmpl__fail(p, cur.line, "'%s' requires a condition",
				     cur.len >= 4 && !memcmp(cur.s, "elif", 4) ? "elif" : "if");
				return NULL;
			}
			b->cond = tmpl__parse_cond(p, cur.line);
			if (!b->cond)
				return NULL;
		} else if (p->nwords != 1) {
			tmpl__fail(p, cur.line, "'else' takes no arguments");
			return NULL;
		}
		struct tmpl_token end;
		bool found;
		b->body = parse_body(p, tok, is_else ? ends + 2 : ends, &end, &found);
		expect_end(p, tok, "if", found, is_else ? ends + 2 : ends);
		if (p->failed)
			return NULL;
		*tail = b;
		tail = &b->next;
		if (tmpl__word_is(&p->words[0], "endif")) {
			if (p->nwords != 1) {
				tmpl__fail(p, end.line, "'endif' takes no arguments");
				return NULL;
			}
			return n;
		}
		is_else = tmpl__word_is(&p->words[0], "else");
		cur = end;
	}
}

/* Loop variables are words[1..in_idx): names separated by commas ("k, v", "k,v"). */
static bool parse_loopvars(struct tmpl_parser *p, struct tmpl_node *n, size_t in_idx)
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
				if (!tmpl__is_var_char((unsigned char)s[m]) || s[m] == '.')
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

static struct tmpl_node *tag_for(struct tmpl_parser *p, const struct tmpl_token *tok)
{
	static const char *const ends[] = {"empty", "endfor", NULL};
	struct tmpl_node *n = new_node(p, TMPL_N_FOR, tok->line);
	if (!n)
		return NULL;
	size_t nw = p->nwords;
	if (nw < 4) {
		tmpl__fail(p, tok->line, "'for' statements should have at least four words");
		return NULL;
	}
	n->reversed = tmpl__word_is(&p->words[nw - 1], "reversed");
	size_t in_idx = n->reversed ? nw - 3 : nw - 2;
	if (in_idx < 2 || !tmpl__word_is(&p->words[in_idx], "in")) {
		tmpl__fail(p, tok->line, "'for' statements should use the format 'for x in y'");
		return NULL;
	}
	if (!parse_loopvars(p, n, in_idx)) {
		tmpl__fail(p, tok->line, "'for' tag received an invalid argument");
		return NULL;
	}
	n->expr = tmpl__parse_fexpr(p, tok->line, p->words[in_idx + 1].s, p->words[in_idx + 1].len);
	if (!n->expr)
		return NULL;
	struct tmpl_token end;
	bool found;
	n->body = parse_body(p, tok, ends, &end, &found);
	expect_end(p, tok, "for", found, ends);
	if (p->failed)
		return NULL;
	if (tmpl__word_is(&p->words[0], "empty")) {
		n->empty = parse_body(p, tok, ends + 1, &end, &found);
		expect_end(p, tok, "for", found, ends + 1);
		if (p->failed)
			return NULL;
	}
	return n;
}

static struct tmpl_node *tag_block(struct tmpl_parser *p, const struct tmpl_token *tok)
{
	static const char *const ends[] = {"endblock", NULL};
	if (p->nwords != 2) {
		tmpl__fail(p, tok->line, "'block' tag takes only one argument");
		return NULL;
	}
	struct tmpl_node *n = new_node(p, TMPL_N_BLOCK, tok->line);
	if (!n)
		return NULL;
	n->text = p->words[1].s;
	n->len = p->words[1].len;
	for (size_t k = 0; k < p->nblocks; k++) {
		if (p->blocks[k]->len == n->len && !memcmp(p->blocks[k]->text, n->text, n->len)) {
			tmpl__fail(p, tok->line, "'block' tag with name '%.*s' appears more than once",
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
	struct tmpl_token end;
	bool found;
	n->body = parse_body(p, tok, ends, &end, &found);
	expect_end(p, tok, "block", found, ends);
	if (p->failed)
		return NULL;
	if (p->nwords > 2 || (p->nwords == 2 && (p->words[1].len != n->len ||
						 memcmp(p->words[1].s, n->text, n->len)))) {
		tmpl__fail(p, end.line, "expected 'endblock' or 'endblock %.*s'", (int)n->len, n->text);
		return NULL;
	}
	return n;
}

/* {% include x %}, {% extends x %}, {% static x %}: exactly one argument. */
static struct tmpl_node *tag_one_arg(struct tmpl_parser *p, const struct tmpl_token *tok,
				     enum tmpl_node_kind kind, const char *name)
{
	if (p->nwords != 2) {
		tmpl__fail(p, tok->line, "'%s' takes one argument", name);
		return NULL;
	}
	struct tmpl_node *n = new_node(p, kind, tok->line);
	if (!n)
		return NULL;
	n->expr = tmpl__parse_fexpr(p, tok->line, p->words[1].s, p->words[1].len);
	return n->expr ? n : NULL;
}

static struct tmpl_node *tag_extends(struct tmpl_parser *p, const struct tmpl_token *tok)
{
	if (p->t->extends) {
		tmpl__fail(p, tok->line, "'extends' cannot appear more than once in the same template");
		return NULL;
	}
	if (p->seen_nontext || p->nest > 0) {
		tmpl__fail(p, tok->line, "'extends' must be the first tag in the template");
		return NULL;
	}
	struct tmpl_node *n = tag_one_arg(p, tok, TMPL_N_EXTENDS, "extends");
	if (!n)
		return NULL;
	p->t->extends = n;
	n->owner = p->t;
	struct tmpl_token end;
	bool found;
	n->body = parse_list(p, NULL, &end, &found);
	return p->failed ? NULL : n;
}

static void skip_comment(struct tmpl_parser *p, const struct tmpl_token *tok)
{
	struct tmpl_token t;
	while (tmpl__next_token(p, &t))
		if (t.type == TMPL_TOK_BLOCK && t.len == 10 && !memcmp(t.s, "endcomment", 10))
			return;
	tmpl__fail(p, tok->line, "unclosed tag 'comment'; looking for one of: endcomment");
}

/* Parses one block tag (not an end tag). Returns the node, or NULL with
 * p->failed set, or NULL for tags that produce no node. */
static struct tmpl_node *parse_tag(struct tmpl_parser *p, const struct tmpl_token *tok)
{
	const struct tmpl_word *w = &p->words[0];
	if (tmpl__word_is(w, "if"))
		return tag_if(p, tok);
	if (tmpl__word_is(w, "for"))
		return tag_for(p, tok);
	if (tmpl__word_is(w, "block"))
		return tag_block(p, tok);
	if (tmpl__word_is(w, "extends"))
		return tag_extends(p, tok);
	if (tmpl__word_is(w, "include"))
		return tag_one_arg(p, tok, TMPL_N_INCLUDE, "include");
	if (tmpl__word_is(w, "static"))
		return tag_one_arg(p, tok, TMPL_N_STATIC, "static");
	if (tmpl__word_is(w, "csrf_token")) {
		if (p->nwords != 1) {
			tmpl__fail(p, tok->line, "'csrf_token' takes no arguments");
			return NULL;
		}
		return new_node(p, TMPL_N_CSRF, tok->line);
	}
	if (tmpl__word_is(w, "load"))
		return NULL;
	if (tmpl__word_is(w, "comment")) {
		skip_comment(p, tok);
		return NULL;
	}
	tmpl__fail(p, tok->line, "invalid block tag '%.*s'", (int)w->len, w->s);
	return NULL;
}

static struct tmpl_node *parse_list(struct tmpl_parser *p, const char *const *ends,
				    struct tmpl_token *end, bool *found)
{
	struct tmpl_node *head = NULL, **tail = &head;
	struct tmpl_token tok;
	*found = false;
	while (!p->failed && tmpl__next_token(p, &tok)) {
		struct tmpl_node *n = NULL;
		switch (tok.type) {
		case TMPL_TOK_COMMENT:
			continue;
		case TMPL_TOK_TEXT:
			n = new_node(p, TMPL_N_TEXT, tok.line);
			if (n) {
				n->text = tok.s;
				n->len = tok.len;
			}
			break;
		case TMPL_TOK_VAR:
			if (tok.len == 0) {
				tmpl__fail(p, tok.line, "empty variable tag");
				break;
			}
			n = new_node(p, TMPL_N_VAR, tok.line);
			if (n)
				n->expr = tmpl__parse_fexpr(p, tok.line, tok.s, tok.len);
			p->seen_nontext = true;
			break;
		case TMPL_TOK_BLOCK:
			if (tok.len == 0) {
				tmpl__fail(p, tok.line, "empty block tag");
				break;
			}
			if (!tmpl__split_words(p, tok.s, tok.len))
				break;
			for (size_t k = 0; ends && ends[k]; k++) {
				if (tmpl__word_is(&p->words[0], ends[k])) {
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
		return CH_ENOMEM;
	t->src = malloc(len + 1);
	if (!t->src) {
		free(t);
		return CH_ENOMEM;
	}
	if (len)
		memcpy(t->src, src, len);
	t->src[len] = '\0';
	t->len = len;
	struct tmpl_parser p = {
	    .t = t, .src = t->src, .len = len, .line = 1, .err = err, .errlen = errlen};
	struct tmpl_token end;
	bool found;
	t->nodes = parse_list(&p, NULL, &end, &found);
	free(p.words);
	if (!p.failed && p.nblocks) {
		t->blocks = tmpl__arena_alloc(&p, p.nblocks * sizeof(*t->blocks));
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
			return CH_ENOMEM;
		}
		return CH_ESYNTAX;
	}
	*out = t;
	return CH_OK;
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

