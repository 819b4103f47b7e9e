/*
 * mime_types.c - the Content-Type of a static file from its name: the
 * system's mime.types (Debian's media-types package: /etc/mime.types), read
 * once at start, and a small built-in table for what it lacks or when it
 * is missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server_int.h"

struct mime_entry {
	char *ext;  /* lower case, without the dot: "js", "tar.gz" */
	char *type; /* text/... with "; charset=utf-8" */
	size_t line;  /* order in the file: the first type listed for an ext wins */
};

struct server_mime {
	struct mime_entry *v; /* sorted by ext, then line */
	size_t n, cap;
};

static const struct {
	const char *ext, *type;
} builtin[] = {
	{"html", "text/html; charset=utf-8"}, {"css", "text/css; charset=utf-8"},
	{"js", "text/javascript; charset=utf-8"}, {"mjs", "text/javascript; charset=utf-8"},
	{"json", "application/json"},          {"map", "application/json"},
	{"svg", "image/svg+xml"},              {"png", "image/png"},
	{"jpg", "image/jpeg"},                 {"jpeg", "image/jpeg"},
	{"gif", "image/gif"},                  {"webp", "image/webp"},
	{"ico", "image/x-icon"},               {"woff2", "font/woff2"},
	{"txt", "text/plain; charset=utf-8"},  {"webmanifest", "application/manifest+json"},
	{"wasm", "application/wasm"},
};

static int entry_cmp(const void *a, const void *b)
{
	const struct mime_entry *x = a, *y = b;
	int c = strcmp(x->ext, y->ext);
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int mime_add(struct server_mime *m, const char *ext, const char *type)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 1024;
		struct mime_entry *v = realloc(m->v, cap * sizeof(*v));
		if (!v)
			return -1;
		m->v = v;
		m->cap = cap;
	}
	bool text = strncasecmp(type, "text/", 5) == 0;
	size_t tl = strlen(type) + (text ? sizeof("; charset=utf-8") : 1);
	struct mime_entry *e = &m->v[m->n];
	e->ext = strdup(ext);
	e->type = malloc(tl);
	if (!e->ext || !e->type) {
		free(e->ext);
		free(e->type);
		return -1;
	}
	e->line = m->n;
	snprintf(e->type, tl, "%s%s", type, text ? "; charset=utf-8" : "");
	for (char *p = e->ext; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	m->n++;
	return 0;
}

struct server_mime *server__mime_load(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	struct server_mime *m = calloc(1, sizeof(*m));
	char line[1024];
	int rc = m ? 0 : -1;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *save = NULL;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		const char *type = strtok_r(line, " \t\r\n", &save);
		if (!type || !strchr(type, '/'))
			continue;
		for (const char *ext; rc == 0 && (ext = strtok_r(NULL, " \t\r\n", &save));)
			rc = mime_add(m, ext, type);
	}
	fclose(f);
	if (rc != 0) {
		server__mime_free(m);
		return NULL;
	}
	qsort(m->v, m->n, sizeof(*m->v), entry_cmp);
	return m;
}

void server__mime_free(struct server_mime *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].ext);
		free(m->v[i].type);
	}
	free(m->v);
	free(m);
}

static const char *mime_find(const struct server_mime *m, const char *ext)
{
	char low[64];
	size_t n = strlen(ext);
	if (n >= sizeof(low))
		return NULL;
	for (size_t i = 0; i <= n; i++)
		low[i] = (ext[i] >= 'A' && ext[i] <= 'Z') ? (char)(ext[i] - 'A' + 'a') : ext[i];
	if (m) {
		size_t lo = 0, hi = m->n;
		while (lo < hi) { /* the first entry >= low */
			size_t mid = lo + (hi - lo) / 2;
			if (strcmp(m->v[mid].ext, low) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < m->n && strcmp(m->v[lo].ext, low) == 0)
			return m->v[lo].type;
	}
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (strcmp(builtin[i].ext, low) == 0)
			return builtin[i].type;
	return NULL;
}

const char *server__mime_type(const struct server_mime *m, const char *name)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	/* "a.tm.json": "tm.json", then "json" */
	for (const char *dot = strchr(base, '.'); dot; dot = strchr(dot + 1, '.')) {
		const char *t = mime_find(m, dot + 1);
		if (t)
			return t;
	}
	return "application/octet-stream";
}
