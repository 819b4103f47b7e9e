/*
 * template_int.h - internals shared by the files of lib/template/.
 *
 * A parsed template (struct tmpl) is an immutable tree of nodes allocated
 * from one arena owned by the template; text nodes point into the template's
 * own copy of the source. After tmpl_parse returns, nothing in the tree is
 * written again, so any number of threads may render it at once. Literal
 * values are jansson values owned by the template and only read (never
 * incref'd) while rendering.
 *
 * Where Django and this engine differ (deliberately):
 *  - JSON null renders "" (Django: "None"); a missing filter argument is None
 *    instead of an error; whitespace around '|' is accepted;
 *  - upper/lower change ASCII letters only;
 *  - {% load %} and comments may precede {% extends %};
 *  - include takes no "with"/"only"; static takes no "as"; no autoescape tag.
 * Everything else follows Django 3.2 (escaping, float printing, json_script,
 * block inheritance with block.super, smartif precedence, forloop.*).
 */
#ifndef LIB_TEMPLATE_INT_H
#define LIB_TEMPLATE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "template.h"
#include "text.h"

#define TMPL_MAX_DEPTH	  16 /* include/extends levels below the rendered template */
#define TMPL_MAX_NEST	  64 /* tag nesting inside one template (bounds recursion) */
#define TMPL_MAX_LOOPVARS 8

/* One dotted part of a lookup: "a.b.0" has three. */
struct tmpl_seg {
	const char *s; /* points into the template's source copy */
	size_t len;
	long idx; /* >= 0 when the segment is all digits (array index), else -1 */
};

enum tmpl_opd_kind {
	TMPL_OPD_LITERAL,
	TMPL_OPD_LOOKUP,
};

struct tmpl_operand {
	enum tmpl_opd_kind kind;
	json_t *literal;       /* LITERAL: owned by the template */
	bool literal_safe;     /* string literals are safe, like Django's */
	struct tmpl_seg *segs; /* LOOKUP */
	size_t nsegs;
};

enum tmpl_filter_id {
	TMPL_F_ESCAPE,
	TMPL_F_SAFE,
	TMPL_F_DEFAULT,
	TMPL_F_LENGTH,
	TMPL_F_UPPER,
	TMPL_F_LOWER,
	TMPL_F_JSON_SCRIPT,
};

struct tmpl_filter {
	enum tmpl_filter_id id;
	bool has_arg;
	struct tmpl_operand arg;
	struct tmpl_filter *next;
};

/* A Django "filter expression": operand|filter:arg|filter */
struct tmpl_fexpr {
	struct tmpl_operand base;
	struct tmpl_filter *filters;
};

enum tmpl_cond_op {
	TMPL_C_LEAF,
	TMPL_C_OR,
	TMPL_C_AND,
	TMPL_C_NOT,
	TMPL_C_EQ,
	TMPL_C_NE,
	TMPL_C_LT,
	TMPL_C_GT,
	TMPL_C_LE,
	TMPL_C_GE,
	TMPL_C_IN,
	TMPL_C_NOTIN,
	TMPL_C_IS,
	TMPL_C_ISNOT,
};

struct tmpl_cond {
	enum tmpl_cond_op op;
	struct tmpl_cond *a, *b; /* NOT uses a only */
	struct tmpl_fexpr *leaf; /* LEAF */
};

enum tmpl_node_kind {
	TMPL_N_TEXT,
	TMPL_N_VAR,
	TMPL_N_IF,
	TMPL_N_FOR,
	TMPL_N_BLOCK,
	TMPL_N_EXTENDS,
	TMPL_N_INCLUDE,
	TMPL_N_STATIC,
	TMPL_N_CSRF,
};

/* One {% if %} / {% elif %} / {% else %} arm; cond NULL for else. */
struct tmpl_branch {
	struct tmpl_cond *cond;
	struct tmpl_node *body;
	struct tmpl_branch *next;
};

struct tmpl_node {
	enum tmpl_node_kind kind;
	int line;
	struct tmpl_node *next;
	const char *text; /* TEXT; BLOCK: the name */
	size_t len;
	struct tmpl_fexpr *expr;      /* VAR, STATIC, INCLUDE/EXTENDS (name), FOR (sequence) */
	struct tmpl_branch *branches; /* IF */
	struct tmpl_seg loopvars[TMPL_MAX_LOOPVARS]; /* FOR */
	size_t nloopvars;
	bool reversed;
	struct tmpl_node *body;	  /* FOR, BLOCK, EXTENDS (rest of the template) */
	struct tmpl_node *empty;  /* FOR */
	const struct tmpl *owner; /* EXTENDS: the template it belongs to */
};

struct tmpl_arena;
struct tmpl_lit;

struct tmpl {
	struct tmpl_arena *arena;
	struct tmpl_lit *lits; /* literal json values to decref */
	char *src;	       /* copy of the source; NUL-terminated */
	size_t len;
	struct tmpl_node *nodes;
	const struct tmpl_node *extends; /* the {% extends %} node, or NULL */
	const struct tmpl_node **blocks; /* every {% block %} of the template */
	size_t nblocks;
};

/* Output goes to a struct text_buf (lib/text: text_buf_append, text_html_escape);
 * its `failed` latches the first allocation failure. */

/* Appends a double as Python's repr() prints it ("0.1", "1e+16", "2.0"), or with
 * `django` as a template shows it (no exponent unless huge: "10000000000000000"). */
void tmpl__buf_real(struct text_buf *b, double d, bool django);
/*
 * Appends `j` as Python's json.dumps would: ", " and ": " separators.
 * `ascii` escapes non-ASCII (ensure_ascii); `script` also turns < > & into
 * \u003C \u003E \u0026 (Django's json_script). NULL prints null.
 */
void tmpl__buf_json(struct text_buf *b, const json_t *j, bool ascii, bool script);
/* Appends the text a value renders as: strings raw, null "", True/False, numbers,
 * containers as JSON. `j` may be NULL (missing): nothing. */
void tmpl__buf_display(struct text_buf *b, const json_t *j);
/* Appends `s` percent-encoded like Django's filepath_to_uri(). */
void tmpl__buf_uri(struct text_buf *b, const char *s, size_t n);

/*
 * Finds (loading, compiling and caching on first use) template `name` of
 * `env`. The returned template lives as long as the env. Any thread.
 */
int tmpl__env_get(struct tmpl_env *env, const char *name, const struct tmpl **out, char *err,
		  size_t errlen);
const char *tmpl__env_static_url(const struct tmpl_env *env);

/* Renders `t` (env may be NULL: then include/extends fail). */
int tmpl__render(struct tmpl_env *env, const struct tmpl *t, json_t *ctx, const char *static_url,
		 char **out, size_t *outlen, char *err, size_t errlen);

/* ---- parsing (parse.c, parse_lex.c, parse_expr.c); one parser per tmpl_parse call ---- */

struct tmpl_arena {
	struct tmpl_arena *next;
	size_t used, cap;
	max_align_t data[];
};

struct tmpl_lit {
	json_t *j;
	struct tmpl_lit *next;
};

enum tmpl_tok_type { TMPL_TOK_TEXT, TMPL_TOK_VAR, TMPL_TOK_BLOCK, TMPL_TOK_COMMENT };

struct tmpl_token {
	enum tmpl_tok_type type;
	const char *s; /* contents, trimmed (tags) or raw (text) */
	size_t len;
	int line;
};

struct tmpl_word {
	const char *s;
	size_t len;
};

struct tmpl_parser {
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
	struct tmpl_word *words; /* words of the current block tag; reused */
	size_t nwords, capwords;
	const struct tmpl_node **blocks;
	size_t nblocks, capblocks;
	int cond_depth;
	/* per tag kind ({{, {%, {#): a range already scanned in vain for the
	 * closing pair; keeps lines full of openers linear */
	size_t miss_from[3], miss_to[3];
};

/* Zeroed memory from the template's arena; NULL (and p->oom, p->failed) on failure. */
void *tmpl__arena_alloc(struct tmpl_parser *p, size_t n);
/* Records the first error as "line N: ..."; later calls do nothing. */
__attribute__((format(printf, 3, 4))) void tmpl__fail(struct tmpl_parser *p, int line,
						       const char *fmt, ...);
bool tmpl__is_space(char c);
void tmpl__trim(const char **s, size_t *len);
/* Next token of the source; false at its end. */
bool tmpl__next_token(struct tmpl_parser *p, struct tmpl_token *tok);
/* Splits a block tag's contents into p->words like Django's split_contents(). */
bool tmpl__split_words(struct tmpl_parser *p, const char *s, size_t len);
bool tmpl__word_is(const struct tmpl_word *w, const char *lit);
bool tmpl__is_var_char(unsigned char c);
/* Parses "operand|filter:arg|..." into the arena; NULL after tmpl__fail. */
struct tmpl_fexpr *tmpl__parse_fexpr(struct tmpl_parser *p, int line, const char *s, size_t len);
/* Parses the words after the tag name (words[1..]) as a condition. */
struct tmpl_cond *tmpl__parse_cond(struct tmpl_parser *p, int line);

/* ---- rendering (render.c, render_eval.c, render_cond.c); one rstate per render ---- */

enum tmpl_scope_kind { TMPL_SC_VAR, TMPL_SC_LOOP, TMPL_SC_BLOCK };

/* A name visible to lookups; chained from the innermost outwards. */
struct tmpl_scope {
	enum tmpl_scope_kind kind;
	const char *name;
	size_t len;
	json_t *j;		   /* TMPL_SC_VAR; borrowed (kept alive by the loop) */
	size_t i, n;		   /* TMPL_SC_LOOP: index and length */
	const struct tmpl_scope *outer; /* TMPL_SC_LOOP: the enclosing forloop, or NULL */
	const char *block;	   /* TMPL_SC_BLOCK: name of the block being rendered */
	size_t blocklen;
	const struct tmpl_scope *up;
};

/* Django's BlockContext: per block name, the overriding blocks, root first. */
struct tmpl_bstack {
	const char *name;
	size_t len;
	const struct tmpl_node **v;
	size_t n, cap;
};

struct tmpl_bctx {
	struct tmpl_bstack *s;
	size_t n, cap;
};

struct tmpl_rstate {
	struct tmpl_env *env;
	const char *static_url;
	json_t *ctx;
	struct text_buf *out;
	const struct tmpl_scope *scope;
	struct tmpl_bctx *bctx; /* NULL unless rendering through {% extends %} */
	int depth;
	int rc;
	char *err;
	size_t errlen;
};

/* A value while rendering: `j` NULL means missing/None. */
struct tmpl_val {
	json_t *j;
	bool owned;
	bool safe;
};

/* Records the first error (rc and "line N: ..."); returns -1. */
__attribute__((format(printf, 4, 5))) int tmpl__rfail(struct tmpl_rstate *rs, int rc, int line,
						       const char *fmt, ...);
/* The overrides of block `name`, or NULL. */
struct tmpl_bstack *tmpl__bctx_find(struct tmpl_bctx *bc, const char *name, size_t len);
void tmpl__val_drop(struct tmpl_val *v);
/* Replaces v's value with `j`, which v now owns. */
void tmpl__val_own(struct tmpl_val *v, json_t *j, bool safe);
/* Python truthiness; NULL (missing) is false. */
bool tmpl__truthy(const json_t *j);
int tmpl__render_block(struct tmpl_rstate *rs, const char *name, size_t len,
		       const struct tmpl_node *self);
/* Resolves a LOOKUP operand against the scopes and the context. 0 or -1 after tmpl__rfail. */
int tmpl__lookup(struct tmpl_rstate *rs, const struct tmpl_operand *o, struct tmpl_val *v,
		 int line);
int tmpl__eval_fexpr(struct tmpl_rstate *rs, const struct tmpl_fexpr *fe, struct tmpl_val *v,
		     bool quiet, int line);
/* 1 true, 0 false, -1 after tmpl__rfail. */
int tmpl__eval_cond(struct tmpl_rstate *rs, const struct tmpl_cond *c, int line);

#endif
