/*
 * test_template.c - the Django template subset. Expected strings were
 * checked against Django 3.2's own output for the same template and context
 * (except where noted: null renders "" and not "None").
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "template.h"

/* ---- helpers ---- */

static json_t *ctx_of(const char *json)
{
	json_error_t e;
	json_t *j = json_loads(json, 0, &e);
	if (!j)
		fprintf(stderr, "bad test json %s: %s\n", json, e.text);
	return j;
}

/* Parses and renders `src`; returns the output, or "ERR <code>: <message>". */
static char *render_src(const char *src, const char *json)
{
	struct tmpl *t;
	char err[256];
	char *out = NULL;
	size_t len;
	int rc = tmpl_parse(src, strlen(src), &t, err, sizeof(err));
	if (rc == CH_OK) {
		json_t *ctx = json ? ctx_of(json) : NULL;
		rc = tmpl_render_one(t, ctx, NULL, &out, &len, err, sizeof(err));
		if (rc == CH_OK && strlen(out) != len) {
			free(out);
			out = NULL;
			snprintf(err, sizeof(err), "outlen mismatch");
			rc = -100;
		}
		json_decref(ctx);
		tmpl_free(t);
	}
	if (rc != CH_OK) {
		size_t n = strlen(err) + 32;
		out = malloc(n);
		snprintf(out, n, "ERR %d: %s", rc, err);
	}
	return out;
}

#define CHECK_RENDER(src, json, expected)                                                          \
	do {                                                                                       \
		char *out_ = render_src((src), (json));                                            \
		CHECK_STR(out_, (expected));                                                       \
		free(out_);                                                                        \
	} while (0)

/* A syntax error whose message must contain `msg` (e.g. "line 3: "). */
#define CHECK_SYNTAX(src, msg)                                                                     \
	do {                                                                                       \
		struct tmpl *t_ = NULL;                                                            \
		char err_[256] = "";                                                               \
		CHECK_INT(tmpl_parse((src), strlen(src), &t_, err_, sizeof(err_)), CH_ESYNTAX);  \
		CHECK(t_ == NULL);                                                                 \
		CHECK_CONTAINS(err_, (msg));                                                       \
		tmpl_free(t_);                                                                     \
	} while (0)

struct mem_tmpl {
	const char *name;
	const char *src;
};

static const struct mem_tmpl mem_templates[] = {
    {"base.html", "<title>{% block title %}Base{% endblock %}</title>|"
		  "{% block content %}base content{% endblock %}|"
		  "{% block footer %}foot{% endblock %}"},
    {"mid.html", "{% extends \"base.html\" %}"
		 "{% block title %}Mid/{{ block.super }}{% endblock %}"
		 "{% block content %}mid[{% block inner %}mid-inner{% endblock %}]"
		 "{% endblock %}"},
    {"page.html", "{% extends \"mid.html\" %}ignored"
		  "{% block title %}Page - {{ block.super }}{% endblock %}"
		  "{% block inner %}page-inner {% include \"part.html\" %}{% endblock %}"},
    {"part.html", "<part {{ who }}>"},
    {"loop.html", "{% for who in people %}{% include \"part.html\" %}"
		  "{{ forloop.counter }}{% endfor %}"},
    {"bylayout.html", "{% extends layout %}{% block footer %}F{% endblock %}"},
    {"self.html", "x{% include \"self.html\" %}"},
    {"ping.html", "{% extends \"pong.html\" %}"},
    {"pong.html", "{% extends \"ping.html\" %}"},
    {"missing_inc.html", "a{% include \"nope.html\" %}b"},
    {"bad.html", "ok\n{% if x %}\nnever closed"},
    {"uses_bad.html", "{% include \"bad.html\" %}"},
    {"static.html", "{% load static %}<link href=\"{% static \"css/site.css\" %}\">"},
    {"super_in_include.html", "{% extends \"base.html\" %}"
			      "{% block title %}{% include \"sup.html\" %}{% endblock %}"},
    {"sup.html", "[{{ block.super }}]"},
    {NULL, NULL},
};

static int mem_load(void *ud, const char *name, char **src, size_t *len)
{
	const struct mem_tmpl *m = ud;
	for (; m->name; m++) {
		if (strcmp(m->name, name) == 0) {
			*src = strdup(m->src);
			*len = strlen(m->src);
			return *src ? 0 : CH_ENOMEM;
		}
	}
	return CH_ENOTFOUND;
}

static char *render_env(struct tmpl_env *env, const char *name, const char *json, int *rc_out)
{
	json_t *ctx = json ? ctx_of(json) : NULL;
	char err[256] = "";
	char *out = NULL;
	size_t len = 0;
	int rc = tmpl_render(env, name, ctx, &out, &len, err, sizeof(err));
	json_decref(ctx);
	if (rc_out)
		*rc_out = rc;
	if (rc != CH_OK) {
		CHECK(out == NULL);
		size_t n = strlen(err) + 32;
		out = malloc(n);
		snprintf(out, n, "ERR %d: %s", rc, err);
	} else {
		CHECK_INT(strlen(out), len);
	}
	return out;
}

#define CHECK_ENV(env, name, json, expected)                                                       \
	do {                                                                                       \
		char *out_ = render_env((env), (name), (json), NULL);                              \
		CHECK_STR(out_, (expected));                                                       \
		free(out_);                                                                        \
	} while (0)

#define CHECK_ENV_ERR(env, name, code, msg)                                                        \
	do {                                                                                       \
		int rc_;                                                                           \
		char *out_ = render_env((env), (name), NULL, &rc_);                                \
		CHECK_INT(rc_, (code));                                                            \
		CHECK_CONTAINS(out_, (msg));                                                       \
		free(out_);                                                                        \
	} while (0)

/* ---- tests ---- */

static void test_variables(void)
{
	CHECK_RENDER("Hello {{ name }}!", "{\"name\":\"World\"}", "Hello World!");
	CHECK_RENDER("{{name}}", "{\"name\":\"x\"}", "x");
	CHECK_RENDER("{{ a.b.0 }}|{{ a.b.1.c }}|{{ a.missing }}|{{ missing.x }}",
		     "{\"a\":{\"b\":[1,{\"c\":\"d\"}]}}", "1|d||");
	CHECK_RENDER("{{ n }} {{ t }} {{ f }} [{{ z }}] {{ neg }}",
		     "{\"n\":42,\"t\":true,\"f\":false,\"z\":null,\"neg\":-7}",
		     "42 True False [] -7");
	CHECK_RENDER("{{ r }} {{ r2 }} {{ big }} {{ small }} {{ neg }}",
		     "{\"r\":0.1,\"r2\":2.0,\"big\":1e16,\"small\":1e-5,\"neg\":-1.5}",
		     "0.1 2.0 10000000000000000 0.00001 -1.5");
	CHECK_RENDER("{{ s.0 }}{{ s.2 }}{{ l.5 }}", "{\"s\":\"h\\u00e9y\",\"l\":[1]}", "hy");
	CHECK_RENDER("{{ \"lit\" }} {{ 5 }} {{ 'it\\'s' }} {{ -2.5 }}", NULL, "lit 5 it's -2.5");
	CHECK_RENDER("{{ a }} {{ b }} {{ c }}", "{\"a\":1e100,\"b\":1.5e300,\"c\":-1e-7}",
		     "1000000000000000000000000000000000000000000000000000"
		     "0000000000000000000000000000000000000000000000000 1.5e+300 -0.0000001");
	CHECK_RENDER("{{ True }} {{ False }}", NULL, "True False");
	CHECK_RENDER("{{ o }}", "{\"o\":{\"a\":[1,\"x\"]}}", "{&quot;a&quot;: [1, &quot;x&quot;]}");
	/* no context at all */
	CHECK_RENDER("[{{ x }}]", NULL, "[]");
}

static void test_escaping(void)
{
	const char *ctx = "{\"x\":\"<script>alert('x')</script>&\\\"\"}";
	const char *esc = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;&quot;";
	const char *raw = "<script>alert('x')</script>&\"";
	CHECK_RENDER("{{ x }}", ctx, esc);
	CHECK_RENDER("{{ x|safe }}", ctx, raw);
	CHECK_RENDER("{{ x|escape }}", ctx, esc);
	CHECK_RENDER("{{ x|escape|escape }}", ctx, esc);
	CHECK_RENDER("{{ x|safe|escape }}", ctx, raw);
	CHECK_RENDER("{{ x|upper }}", ctx,
		     "&lt;SCRIPT&gt;ALERT(&#x27;X&#x27;)&lt;/SCRIPT&gt;&amp;&quot;");
	/* payload in a loop item, an attribute value and a key */
	CHECK_RENDER("{% for i in l %}<a title=\"{{ i }}\">{% endfor %}",
		     "{\"l\":[\"\\\" onmouseover=\\\"x\"]}",
		     "<a title=\"&quot; onmouseover=&quot;x\">");
	/* template text itself is not escaped */
	CHECK_RENDER("<b>&amp;</b>", NULL, "<b>&amp;</b>");
}

static void test_filters(void)
{
	CHECK_RENDER("{{ m|default:\"none\" }}|{{ e|default:\"empty\" }}|{{ v|default:\"x\" }}|"
		     "{{ z|default:0 }}|{{ m|default:\"<b>\" }}|{{ m|default:v }}",
		     "{\"e\":\"\",\"v\":\"val\",\"z\":0}", "none|empty|val|0|<b>|val");
	CHECK_RENDER("{{ l|length }} {{ s|length }} {{ o|length }} {{ m|length }} {{ n|length }}",
		     "{\"l\":[1,2,3],\"s\":\"h\\u00e9llo\",\"o\":{\"a\":1},\"n\":5}", "3 5 1 0 0");
	CHECK_RENDER("{{ s|upper }} {{ s|lower }} {{ \"<b>\"|upper }} {{ \"<B>\"|lower }}",
		     "{\"s\":\"MiXed <i>\"}", "MIXED &lt;I&gt; mixed &lt;i&gt; &lt;B&gt; <b>");
	CHECK_RENDER("{{ t|upper }}{{ m|upper }}", "{\"t\":true}", "TRUE");
	CHECK_RENDER("{{ s | lower | upper }}", "{\"s\":\"aB\"}", "AB");
	CHECK_RENDER("{{ l|length|default:\"zero\" }}", "{\"l\":[]}", "zero");
}

static void test_json_script(void)
{
	CHECK_RENDER("{{ data|json_script:\"my-data\" }}",
		     "{\"data\":{\"msg\":\"</script><script>alert(1)</script>\","
		     "\"n\":[1,2.5,true,null],"
		     "\"u\":\"\\u00e9 & < \\ud83d\\ude00 \\u007f\\n\"}}",
		     "<script id=\"my-data\" type=\"application/json\">"
		     "{\"msg\": \"\\u003C/script\\u003E\\u003Cscript\\u003Ealert(1)"
		     "\\u003C/script\\u003E\", \"n\": [1, 2.5, true, null], "
		     "\"u\": \"\\u00e9 \\u0026 \\u003C \\ud83d\\ude00 \\u007f\\n\"}</script>");
	CHECK_RENDER("{{ v|json_script:idv }}{{ m|json_script:\"x\" }}",
		     "{\"v\":\"a\",\"idv\":\"\\\"><x'\"}",
		     "<script id=\"&quot;&gt;&lt;x&#x27;\" type=\"application/json\">\"a\"</script>"
		     "<script id=\"x\" type=\"application/json\">\"\"</script>");
	CHECK_RENDER("{{ n|json_script:\"n\" }}", "{\"n\":0.1}",
		     "<script id=\"n\" type=\"application/json\">0.1</script>");
	CHECK_RENDER("{{ n|json_script:\"n\" }}", "{\"n\":1e100}",
		     "<script id=\"n\" type=\"application/json\">1e+100</script>");
}

static void test_static_csrf(void)
{
	CHECK_RENDER("{% load static %}<link href=\"{% static \"css/site.css\" %}\">"
		     "{% static \"a b&c.css\" %}{% static p %}",
		     "{\"p\":\"/x/\\\"y.js\"}",
		     "<link href=\"/static/css/site.css\">/static/a%20b%26c.css/static/x/%22y.js");
	CHECK_RENDER(
	    "{% csrf_token %}", "{\"csrf_token\":\"abc\\\"<\"}",
	    "<input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"abc&quot;&lt;\">");
	CHECK_RENDER("[{% csrf_token %}]", "{}", "[]");

	struct tmpl_env *env = tmpl_env_new(mem_load, (void *)mem_templates, "/assets/");
	CHECK(env != NULL);
	CHECK_ENV(env, "static.html", NULL, "<link href=\"/assets/css/site.css\">");
	tmpl_env_free(env);
}

static void test_for(void)
{
	CHECK_RENDER("{% for x in l %}{{ forloop.counter }}:{{ x }}{% if forloop.first %}F"
		     "{% endif %}{% if forloop.last %}L{% endif %},{% endfor %}",
		     "{\"l\":[\"a\",\"b\",\"c\"]}", "1:aF,2:b,3:cL,");
	CHECK_RENDER("{% for x in l %}{{ x }}{% empty %}none{% endfor %}"
		     "{% for x in m %}{{ x }}{% empty %}none{% endfor %}",
		     "{\"l\":[]}", "nonenone");
	CHECK_RENDER("{% for k in o %}{{ k }};{% endfor %}{% for x in l reversed %}{{ x }}"
		     "{% endfor %}{% for k, v in o.items %}{{ k }}={{ v }};{% endfor %}",
		     "{\"o\":{\"b\":1,\"a\":2},\"l\":[\"a\",\"b\",\"c\"]}", "b;a;cbab=1;a=2;");
	CHECK_RENDER("{% for a in l %}{% for b in l %}{{ forloop.parentloop.counter }}."
		     "{{ forloop.counter }}/{{ forloop.revcounter }}/{{ forloop.counter0 }}/"
		     "{{ forloop.revcounter0 }} {% endfor %}{% endfor %}",
		     "{\"l\":[1,2]}", "1.1/2/0/1 1.2/1/1/0 2.1/2/0/1 2.2/1/1/0 ");
	CHECK_RENDER("{% for a,b in pairs %}{{ a }}-{{ b }} {% endfor %}",
		     "{\"pairs\":[[1,2],[\"x\",\"y\"]]}", "1-2 x-y ");
	CHECK_RENDER("{% for x in l %}{{ x.name }}{% endfor %}{{ x }}",
		     "{\"l\":[{\"name\":\"A\"},{\"name\":\"B\"}],\"x\":\"outer\"}", "ABouter");
	CHECK_RENDER("{% for c in s %}[{{ c }}]{% endfor %}", "{\"s\":\"ab\"}", "[a][b]");
	CHECK_RENDER("{% for x in n %}{{ x }}{% empty %}E{% endfor %}", "{\"n\":5}", "E");
}

static void test_if(void)
{
	CHECK_RENDER("{% if a %}A{% elif b %}B{% else %}C{% endif %}{% if not a %}n{% endif %}"
		     "{% if a and b %}1{% endif %}{% if a or b %}2{% endif %}",
		     "{\"a\":false,\"b\":true}", "Bn2");
	CHECK_RENDER("{% if a %}A{% elif b %}B{% else %}C{% endif %}", "{}", "C");
	CHECK_RENDER("{% if s == \"x\" %}eq{% endif %}{% if n == 3 %}three{% endif %}"
		     "{% if n != 4 %}ne{% endif %}{% if \"b\" in l %}in{% endif %}"
		     "{% if \"z\" not in l %}notin{% endif %}{% if n > 2 %}gt{% endif %}"
		     "{% if n < 2 %}lt{% endif %}{% if n >= 3 and n <= 3 %}ge{% endif %}",
		     "{\"s\":\"x\",\"n\":3,\"l\":[\"a\",\"b\"]}", "eqthreeneinnotingtge");
	CHECK_RENDER("{% if a or b and c %}1{% endif %}{% if not a == b %}2{% endif %}"
		     "{% if m is None %}3{% endif %}{% if a is not None %}4{% endif %}"
		     "{% if x == 1 %}5{% endif %}",
		     "{\"a\":true,\"b\":false,\"c\":false,\"x\":1.0}", "12345");
	CHECK_RENDER("{% for v in vals %}{% if v %}T{% else %}F{% endif %}{% endfor %}",
		     "{\"vals\":[false,null,0,0.0,\"\",[],{},1,\"x\",[0],{\"a\":0},true,-1]}",
		     "FFFFFFFTTTTTT");
	CHECK_RENDER("{% if missing %}T{% else %}F{% endif %}", NULL, "F");
	CHECK_RENDER("{% if '<' in s %}lt{% endif %}{{ s|default:'zz' }}", "{\"s\":\"a<b\"}",
		     "lta&lt;b");
	CHECK_RENDER("{% if l|length > 1 %}many{% endif %}", "{\"l\":[1,2]}", "many");
	/* comparing incomparable types is false, not an error (as in Django) */
	CHECK_RENDER("{% if s < 3 %}y{% else %}n{% endif %}", "{\"s\":\"a\"}", "n");
}

static void test_text_and_comments(void)
{
	CHECK_RENDER("a{# comment #}b{% comment %}x{% bogus %}{% endcomment %}c{# a\nb #}d", NULL,
		     "abc{# a\nb #}d");
	CHECK_RENDER("a { b } {% c {{ d\n}} e", NULL, "a { b } {% c {{ d\n}} e");
	CHECK_RENDER("", NULL, "");
	CHECK_RENDER("{% comment \"why\" %}gone{% endcomment %}x", NULL, "x");
}

static void test_syntax_errors(void)
{
	CHECK_SYNTAX("a\nb\n{% bogus %}", "line 3: ");
	CHECK_SYNTAX("a\nb\n{% bogus %}", "bogus");
	CHECK_SYNTAX("x\n{% if x %}\nyes", "line 2: unclosed tag 'if'");
	CHECK_SYNTAX("{% for x in l %}\n{% endif %}", "line 2: ");
	CHECK_SYNTAX("{% for x in l %}\n{% endif %}", "endif");
	CHECK_SYNTAX("{% block a %}", "line 1: unclosed tag 'block'");
	CHECK_SYNTAX("\n\n{{ x|nope }}", "line 3: invalid filter: 'nope'");
	CHECK_SYNTAX("{{ }}", "line 1: empty variable tag");
	CHECK_SYNTAX("{% endif %}", "line 1: ");
	CHECK_SYNTAX("{% extends 'a' %}{% extends 'b' %}", "more than once");
	CHECK_SYNTAX("{{ x }}{% extends 'a' %}", "must be the first tag");
	CHECK_SYNTAX("{% block a %}{% endblock %}\n{% block a %}{% endblock %}",
		     "line 2: 'block' tag with name 'a' appears more than once");
	CHECK_SYNTAX("{{ _x }}", "underscores");
	CHECK_SYNTAX("{% if %}{% endif %}", "line 1: ");
	CHECK_SYNTAX("{% if a b %}{% endif %}", "unused 'b'");
	CHECK_SYNTAX("{% if a and %}{% endif %}", "line 1: ");
	CHECK_SYNTAX("{% if == a %}{% endif %}", "not expecting '=='");
	CHECK_SYNTAX("{% for x y %}{% endfor %}", "line 1: ");
	CHECK_SYNTAX("{% for x on l %}{% endfor %}", "line 1: ");
	CHECK_SYNTAX("{% block a %}{% endblock b %}", "endblock");
	CHECK_SYNTAX("{{ x|default }}", "requires 1 argument");
	CHECK_SYNTAX("{{ x|upper:\"a\" }}", "requires 0 arguments");
	CHECK_SYNTAX("{{ x y }}", "could not parse the remainder");
	CHECK_SYNTAX("{{ \"abc }}", "unterminated string");
	CHECK_SYNTAX("{% comment %}never closed", "unclosed tag 'comment'");
	CHECK_SYNTAX("{% include %}", "'include' takes one argument");
	CHECK_SYNTAX("{% csrf_token x %}", "takes no arguments");
	CHECK_SYNTAX("{% if a %}{% else %}{% elif b %}{% endif %}", "elif");

	/* deep nesting is an error, not a stack overflow */
	size_t n = 1000;
	char *deep = malloc(n * 10 + 1);
	deep[0] = '\0';
	for (size_t k = 0; k < n; k++)
		strcat(deep, "{% if a %}");
	CHECK_SYNTAX(deep, "nested too deeply");
	free(deep);
	char *nots = malloc(n * 4 + 32);
	strcpy(nots, "{% if");
	for (size_t k = 0; k < n; k++)
		strcat(nots, " not");
	strcat(nots, " a %}{% endif %}");
	CHECK_SYNTAX(nots, "nested too deeply");
	free(nots);

	/* err may be NULL */
	struct tmpl *t = NULL;
	CHECK_INT(tmpl_parse("{% x %}", 7, &t, NULL, 0), CH_ESYNTAX);
	/* the source need not be NUL-terminated */
	CHECK_INT(tmpl_parse("{{ a }}XYZ", 7, &t, NULL, 0), CH_OK);
	char *out = NULL;
	size_t len = 0;
	json_t *ctx = ctx_of("{\"a\":\"v\"}");
	CHECK_INT(tmpl_render_one(t, ctx, NULL, &out, &len, NULL, 0), CH_OK);
	CHECK_STR(out, "v");
	free(out);
	json_decref(ctx);
	tmpl_free(t);
}

static void test_inheritance(void)
{
	struct tmpl_env *env = tmpl_env_new(mem_load, (void *)mem_templates, "/static/");
	CHECK(env != NULL);
	/* two levels of extends, block.super through both, include inside a block */
	CHECK_ENV(env, "page.html", "{\"who\":\"<b>\"}",
		  "<title>Page - Mid/Base</title>|mid[page-inner <part &lt;b&gt;>]|foot");
	CHECK_ENV(env, "mid.html", NULL, "<title>Mid/Base</title>|mid[mid-inner]|foot");
	CHECK_ENV(env, "base.html", NULL, "<title>Base</title>|base content|foot");
	/* cached: second render is identical */
	CHECK_ENV(env, "page.html", "{\"who\":\"<b>\"}",
		  "<title>Page - Mid/Base</title>|mid[page-inner <part &lt;b&gt;>]|foot");
	/* include sees loop variables */
	CHECK_ENV(env, "loop.html", "{\"people\":[\"a\",\"<\"]}", "<part a>1<part &lt;>2");
	/* extends with a variable name */
	CHECK_ENV(env, "bylayout.html", "{\"layout\":\"base.html\"}",
		  "<title>Base</title>|base content|F");
	/* block.super inside an included template is "" (isolated block context) */
	CHECK_ENV(env, "super_in_include.html", NULL, "<title>[]</title>|base content|foot");

	/* errors */
	CHECK_ENV_ERR(env, "self.html", CH_EDEPTH, "nested deeper than 16");
	CHECK_ENV_ERR(env, "ping.html", CH_EDEPTH, "nested deeper");
	CHECK_ENV_ERR(env, "missing_inc.html", CH_ENOTFOUND, "nope.html");
	CHECK_ENV_ERR(env, "nope.html", CH_ENOTFOUND, "not found");
	CHECK_ENV_ERR(env, "bad.html", CH_ESYNTAX, "bad.html: line 2: unclosed tag 'if'");
	CHECK_ENV_ERR(env, "uses_bad.html", CH_ESYNTAX, "line 2: unclosed tag 'if'");
	CHECK_ENV_ERR(env, "bylayout.html", CH_ENOTFOUND, "extends");
	tmpl_env_free(env);

	/* include/extends without an env fail cleanly */
	CHECK_RENDER("a{% include \"part.html\" %}", NULL,
		     "ERR -5: line 1: include needs a template env");
}

/* ---- directory loader ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_dir_loader(void)
{
	char base[] = "/tmp/tmpl_test_XXXXXX";
	CHECK(mkdtemp(base) != NULL);
	char root[512], p[600];
	snprintf(root, sizeof(root), "%s/root", base);
	CHECK_INT(mkdir(root, 0700), 0);
	snprintf(p, sizeof(p), "%s/sub", root);
	CHECK_INT(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/t.html", root);
	write_file(p, "<{{ x }}>");
	snprintf(p, sizeof(p), "%s/sub/u.html", root);
	write_file(p, "u{% include \"t.html\" %}");
	snprintf(p, sizeof(p), "%s/secret.html", base);
	write_file(p, "SECRET");
	snprintf(p, sizeof(p), "%s/fifo", root);
	CHECK_INT(mkfifo(p, 0600), 0);

	struct tmpl_env *env = tmpl_env_new_dir(root, NULL);
	CHECK(env != NULL);
	CHECK_ENV(env, "t.html", "{\"x\":\"&\"}", "<&amp;>");
	CHECK_ENV(env, "sub/u.html", "{\"x\":1}", "u<1>");
	CHECK_ENV(env, "sub/./u.html", "{\"x\":1}", "u<1>");
	CHECK_ENV_ERR(env, "../secret.html", CH_ENOTFOUND, "not found");
	CHECK_ENV_ERR(env, "sub/../../secret.html", CH_ENOTFOUND, "not found");
	CHECK_ENV_ERR(env, "sub/../t.html", CH_ENOTFOUND, "not found");
	CHECK_ENV_ERR(env, "..", CH_ENOTFOUND, "not found");
	CHECK_ENV_ERR(env, "/etc/passwd", CH_ENOTFOUND, "not found");
	CHECK_ENV_ERR(env, "sub\\..\\..\\secret.html", CH_ENOTFOUND, "not found");
	CHECK_ENV_ERR(env, "", CH_ENOTFOUND, "not found");
	CHECK_ENV_ERR(env, "sub", CH_ENOTFOUND, "not found");	 /* a directory */
	CHECK_ENV_ERR(env, "fifo", CH_ENOTFOUND, "not found"); /* must not block */
	CHECK_ENV_ERR(env, "nope.html", CH_ENOTFOUND, "not found");
	tmpl_env_free(env);

	snprintf(p, sizeof(p), "rm -rf '%s'", base);
	CHECK_INT(system(p), 0);
}

/* ---- threads ---- */

struct thread_arg {
	struct tmpl_env *env;
	json_t *ctx;
	int mismatches;
};

static const char *const page_expected =
    "<title>Page - Mid/Base</title>|mid[page-inner <part &lt;b&gt;>]|foot";

static void *render_thread(void *p)
{
	struct thread_arg *a = p;
	for (int i = 0; i < 300; i++) {
		char *out = NULL;
		size_t len;
		const char *name = i % 3 == 2 ? "loop.html" : "page.html";
		const char *want = i % 3 == 2 ? "<part x>1<part &lt;b&gt;>2" : page_expected;
		int rc = tmpl_render(a->env, name, a->ctx, &out, &len, NULL, 0);
		if (rc != CH_OK || strcmp(out, want) != 0)
			a->mismatches++;
		free(out);
	}
	return NULL;
}

static void test_threads(void)
{
	/* a fresh env, so the first compiles race too */
	struct tmpl_env *env = tmpl_env_new(mem_load, (void *)mem_templates, NULL);
	json_t *ctx = ctx_of("{\"who\":\"<b>\",\"people\":[\"x\",\"<b>\"]}");
	struct thread_arg args[4];
	pthread_t th[4];
	for (int k = 0; k < 4; k++) {
		args[k] = (struct thread_arg){.env = env, .ctx = ctx};
		CHECK_INT(pthread_create(&th[k], NULL, render_thread, &args[k]), 0);
	}
	for (int k = 0; k < 4; k++) {
		pthread_join(th[k], NULL);
		CHECK_INT(args[k].mismatches, 0);
	}
	json_decref(ctx);
	tmpl_env_free(env);
}

/* A loader that fails with the code in `ud` (an int). */
static int failing_load(void *ud, const char *name, char **src, size_t *len)
{
	(void)name;
	(void)src;
	(void)len;
	return *(const int *)ud;
}

/* The loader's code reaches the caller unchanged, and the reason names it:
 * a loader out of memory is not "template not found" (env.c mapped every
 * code but CH_ENOMEM to CH_ENOTFOUND and named them all "not found"). */
static void test_loader_codes_pass_through(void)
{
	static const int codes[] = {CH_ENOTFOUND, CH_ENOMEM, CH_EIO};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct tmpl_env *env = tmpl_env_new(failing_load, (void *)&codes[i], NULL);
		char *out = NULL, err[200] = "";
		size_t outlen = 0;
		CHECK(env != NULL);
		CHECK_INT(tmpl_render(env, "page.html", NULL, &out, &outlen, err, sizeof(err)),
			  codes[i]);
		CHECK(out == NULL);
		CHECK_CONTAINS(err, codes[i] == CH_ENOTFOUND ? "template not found"
							     : ch_strerror(codes[i]));
		tmpl_env_free(env);
	}
}

static void test_ch_strerror(void)
{
	CHECK_STR(ch_strerror(CH_OK), "success");
	CHECK_STR(ch_strerror(CH_EDEPTH), "include/extends nested too deeply");
	CHECK_STR(ch_strerror(12345), "unknown error");
}

int main(void)
{
	test_variables();
	test_escaping();
	test_filters();
	test_json_script();
	test_static_csrf();
	test_for();
	test_if();
	test_text_and_comments();
	test_syntax_errors();
	test_inheritance();
	test_dir_loader();
	test_threads();
	test_loader_codes_pass_through();
	test_ch_strerror();
	return check_finish();
}
