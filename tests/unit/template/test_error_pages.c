/*
 * test_error_pages.c - the status pages under templates/errors/ (rendered
 * by server/http_conn.c's render_error with {status, reason, detail}): each
 * shows its status code, its reason and either the detail or its own
 * fallback sentence, inside base.html. Guards the pages' sharing of one
 * layout (errors/error.html, which 404/405/500 extend).
 *
 * Usage: test_error_pages SOURCE_ROOT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "template.h"

struct page {
	const char *name;
	int status;
	const char *reason;
	const char *fallback; /* shown when detail is empty; NULL: nothing */
};

static const struct page pages[] = {
    {"errors/404.html", 404, "Not Found", "<p>There is no page at this address.</p>"},
    {"errors/405.html", 405, "Method Not Allowed",
     "<p>This address does not accept that kind of request.</p>"},
    {"errors/500.html", 500, "Internal Server Error",
     "<p>The server hit an unexpected error. Please try again.</p>"},
    {"errors/error.html", 403, "Forbidden", NULL},
};

static char *render(struct tmpl_env *env, const struct page *p, const char *detail)
{
	json_t *ctx = json_pack("{s:i,s:s,s:s}", "status", p->status, "reason", p->reason,
				"detail", detail);
	char *out = NULL, err[256] = "";
	size_t len = 0;
	int rc = tmpl_render(env, p->name, ctx, &out, &len, err, sizeof(err));

	json_decref(ctx);
	CHECK_INT(rc, CH_OK);
	if (rc != CH_OK)
		fprintf(stderr, "  %s: %s\n", p->name, err);
	CHECK(out && strlen(out) == len);
	return out;
}

static void check_page(struct tmpl_env *env, const struct page *p)
{
	char code[64], title[128], head[128];
	char *out;

	snprintf(code, sizeof(code), "<p class=\"error-code\">%d</p>", p->status);
	snprintf(head, sizeof(head), "<h1>%s</h1>", p->reason);
	snprintf(title, sizeof(title), "<title>%d %s · channels-c</title>", p->status, p->reason);

	out = render(env, p, "");
	CHECK_CONTAINS(out, "<!DOCTYPE html>");
	CHECK_CONTAINS(out, title);
	CHECK_CONTAINS(out, "<section class=\"error-page\">");
	CHECK_CONTAINS(out, code);
	CHECK_CONTAINS(out, head);
	CHECK(out && !strstr(out, "error-detail"));
	if (p->fallback)
		CHECK_CONTAINS(out, p->fallback);
	CHECK_CONTAINS(out, "<a class=\"btn\" href=\"/\">Back to the home page</a>");
	free(out);

	out = render(env, p, "a <detail>");
	CHECK_CONTAINS(out, code);
	CHECK_CONTAINS(out, head);
	CHECK_CONTAINS(out, "<p class=\"error-detail\">a &lt;detail&gt;</p>");
	if (p->fallback)
		CHECK(out && !strstr(out, p->fallback));
	free(out);
}

int main(int argc, char **argv)
{
	char dir[4096];
	struct tmpl_env *env;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SOURCE_ROOT\n", argv[0]);
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/templates", argv[1]);
	env = tmpl_env_new_dir(dir, "/static/");
	CHECK(env != NULL);
	if (!env)
		return check_finish();
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		check_page(env, &pages[i]);
	tmpl_env_free(env);
	return check_finish();
}
