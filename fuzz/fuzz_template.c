/*
 * fuzz_template.c - parses arbitrary bytes as a template; when they parse,
 * renders them with a fixed context whose strings carry HTML metacharacters.
 *
 * Invariants checked (abort on violation):
 *  - a parse error has a "line N: " message;
 *  - rendering a parsed template that uses no include/extends succeeds;
 *  - rendering is deterministic (twice, same bytes);
 *  - unless the template says "safe" or contains '<' itself, the output never
 *    holds the context's raw "<script>alert" (values are escaped).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *fuzz_ctx(void)
{
	static json_t *ctx;
	if (!ctx) {
		ctx = json_pack("{s:s, s:[s,s,i,f], s:{s:s, s:f, s:[s]}, s:b, s:s, s:[], s:i, s:n,"
				" s:s}",
				"name", "<script>alert(1)</script>", "items",
				"<script>alert(2)</script>", "b&'\"", 3, 0.5, "obj", "k",
				"<script>alert('k')</script>", "n", 1.5, "l",
				"<script>alert(4)</script>", "flag", 1, "csrf_token",
				"<script>alert(3)</script>", "empty", "n", 0, "z", "s", "\"'<>&");
		if (!ctx)
			abort();
	}
	return ctx;
}

static size_t count(const uint8_t *data, size_t size, const char *needle)
{
	size_t n = 0, nl = strlen(needle);
	for (size_t k = 0; k + nl <= size; k++)
		n += memcmp(data + k, needle, nl) == 0;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tmpl *t = NULL;
	char err[256];
	int rc = tmpl_parse((const char *)data, size, &t, err, sizeof(err));
	if (rc != CH_OK) {
		if (rc != CH_ESYNTAX || strncmp(err, "line ", 5) != 0) {
			fprintf(stderr, "parse failed without a line: %d %s\n", rc, err);
			abort();
		}
		return 0;
	}
	/* nested loops multiply the work; keep each input cheap */
	if (count(data, size, "for") > 3) {
		tmpl_free(t);
		return 0;
	}
	bool refs = count(data, size, "include") || count(data, size, "extends");
	char *out = NULL, *out2 = NULL;
	size_t len = 0, len2 = 0;
	rc = tmpl_render_one(t, fuzz_ctx(), "/s/", &out, &len, err, sizeof(err));
	if (rc != CH_OK && !refs) {
		fprintf(stderr, "render failed: %d %s\n", rc, err);
		abort();
	}
	if (rc == CH_OK) {
		if (strlen(out) > len)
			abort();
		if (tmpl_render_one(t, fuzz_ctx(), "/s/", &out2, &len2, NULL, 0) != CH_OK ||
		    len2 != len || memcmp(out, out2, len) != 0) {
			fprintf(stderr, "rendering is not deterministic\n");
			abort();
		}
		if (!count(data, size, "safe") && !memchr(data, '<', size) &&
		    memmem(out, len, "<script>alert", 13)) {
			fprintf(stderr, "unescaped context value in output: %s\n", out);
			abort();
		}
	}
	free(out);
	free(out2);
	tmpl_free(t);
	return 0;
}
