/*
 * static_files.c - /static/ files: resolving a name below the static root
 * (no "..", no hidden names, no way out through a link), the validators
 * (ETag, Last-Modified) and 304 on revalidation, the MIME type.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server_int.h"

static const char *mime_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
		{".json", "application/json"},          {".map", "application/json"},
		{".svg", "image/svg+xml"},              {".png", "image/png"},
		{".jpg", "image/jpeg"},                 {".jpeg", "image/jpeg"},
		{".gif", "image/gif"},                  {".webp", "image/webp"},
		{".ico", "image/x-icon"},               {".woff2", "font/woff2"},
		{".txt", "text/plain; charset=utf-8"},  {".webmanifest", "application/manifest+json"},
	};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

/* Refuses anything but plain relative names below static/: no "..", no
 * hidden segments, no backslashes; then realpath() must stay inside. */
static bool static_resolve(const struct server_worker *s, const char *rel, char *out)
{
	if (!*rel || *rel == '/' || strchr(rel, '\\'))
		return false;
	for (const char *seg = rel; seg; seg = strchr(seg, '/')) {
		if (*seg == '/')
			seg++;
		if (*seg == '.')
			return false; /* ".", "..", ".hidden" */
	}
	char full[PATH_MAX];
	if ((size_t)snprintf(full, sizeof(full), "%s/%s", s->proc->static_root, rel) >= sizeof(full))
		return false;
	if (!realpath(full, out))
		return false;
	size_t n = strlen(s->proc->static_root);
	return strncmp(out, s->proc->static_root, n) == 0 && out[n] == '/';
}

int server__static_open(const struct server_worker *s, const char *rel, const struct http_request *req,
			struct http_response *resp, off_t *size)
{
	char real[PATH_MAX];
	struct stat st;
	int fd = -1;
	if (!static_resolve(s, rel, real) || (fd = open(real, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char etag[64], date[64];
	snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL +
			 (unsigned long long)st.st_mtim.tv_nsec);
	struct tm tm;
	gmtime_r(&st.st_mtime, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);

	const char *inm = http_request_header(req, "if-none-match");
	const char *ims = http_request_header(req, "if-modified-since");
	bool not_modified = inm ? strstr(inm, etag) != NULL : (ims && strcmp(ims, date) == 0);

	resp->status = not_modified ? 304 : 200;
	resp->content_type = not_modified ? NULL : mime_type(real);
	http_response_add_header(resp, "ETag", etag);
	http_response_add_header(resp, "Cache-Control", "public, max-age=60");
	if (not_modified) {
		close(fd);
		return -2;
	}
	http_response_add_header(resp, "Last-Modified", date);
	*size = st.st_size;
	return fd;
}
