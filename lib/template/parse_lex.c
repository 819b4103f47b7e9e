/*
 * parse_lex.c - the parser's lexer and shared helpers: the node arena, error
 * reporting, {{ }} / {% %} / {# #} tokens, and split_contents() words.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_int.h"

void *tmpl__arena_alloc(struct tmpl_parser *p, size_t n)
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

__attribute__((format(printf, 3, 4))) void tmpl__fail(struct tmpl_parser *p, int line,
						      const char *fmt, ...)
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

bool tmpl__is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

void tmpl__trim(const char **s, size_t *len)
{
	while (*len && tmpl__is_space(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && tmpl__is_space((*s)[*len - 1]))
		(*len)--;
}

/* Returns false at the end of the source. */
bool tmpl__next_token(struct tmpl_parser *p, struct tmpl_token *tok)
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
			tok->type = close == '}' ? TMPL_TOK_VAR : close == '%' ? TMPL_TOK_BLOCK : TMPL_TOK_COMMENT;
			tok->s = s + 2;
			tok->len = j - 2;
			tok->line = line;
			tmpl__trim(&tok->s, &tok->len);
			p->pos += j + 2;
			return true;
		}
		i++; /* unterminated on this line: the brace is text */
	}
	tok->type = TMPL_TOK_TEXT;
	tok->s = s;
	tok->len = i;
	tok->line = line;
	for (size_t k = 0; k < i; k++)
		p->line += s[k] == '\n';
	p->pos += i;
	return true;
}

/* Splits a block tag's contents like Django's split_contents(). */
bool tmpl__split_words(struct tmpl_parser *p, const char *s, size_t len)
{
	p->nwords = 0;
	size_t i = 0;
	while (i < len) {
		while (i < len && tmpl__is_space(s[i]))
			i++;
		if (i >= len)
			break;
		size_t start = i;
		while (i < len && !tmpl__is_space(s[i])) {
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
			struct tmpl_word *w = realloc(p->words, cap * sizeof(*w));
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

bool tmpl__word_is(const struct tmpl_word *w, const char *lit)
{
	return w->len == strlen(lit) && memcmp(w->s, lit, w->len) == 0;
}
