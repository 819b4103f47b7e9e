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

/* Growable output buffer; `oom` latches the first allocation failure. */
struct tmpl_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

void tmpl__buf_put(struct tmpl_buf *b, const char *s, size_t n);
void tmpl__buf_puts(struct tmpl_buf *b, const char *s);
/* Appends `s` HTML-escaped like Django's escape(): & < > " ' */
void tmpl__buf_escape(struct tmpl_buf *b, const char *s, size_t n);
/* Appends a double as Python's repr() prints it ("0.1", "1e+16", "2.0"), or with
 * `django` as a template shows it (no exponent unless huge: "10000000000000000"). */
void tmpl__buf_real(struct tmpl_buf *b, double d, bool django);
/*
 * Appends `j` as Python's json.dumps would: ", " and ": " separators.
 * `ascii` escapes non-ASCII (ensure_ascii); `script` also turns < > & into
 * \u003C \u003E \u0026 (Django's json_script). NULL prints null.
 */
void tmpl__buf_json(struct tmpl_buf *b, const json_t *j, bool ascii, bool script);
/* Appends the text a value renders as: strings raw, null "", True/False, numbers,
 * containers as JSON. `j` may be NULL (missing): nothing. */
void tmpl__buf_display(struct tmpl_buf *b, const json_t *j);
/* Appends `s` percent-encoded like Django's filepath_to_uri(). */
void tmpl__buf_uri(struct tmpl_buf *b, const char *s, size_t n);

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

#endif
