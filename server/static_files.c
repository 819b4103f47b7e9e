/*
 * static_files.c - /static/ files: resolving a name below the static root
 * (no "..", no hidden names, no way out through a link), the precompressed
 * `name.gz` beside `name` when the client accepts gzip, the validators
 * (ETag, Last-Modified) and 304 on revalidation (RFC 9110 13.1.2, 13.1.3),
 * single byte ranges (206, 416; If-Range) as RFC 9110 14 says, the MIME
 * type (mime_types.c).
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

/* Opens a resolved regular file; -1 when it is not one. */
static int open_regular(const char *real, struct stat *st)
{
	int fd = open(real, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && (fstat(fd, st) != 0 || !S_ISREG(st->st_mode))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Accept-Encoding (RFC 9110 12.5.3) allows gzip: "gzip" or "*" listed
 * with a q-value above 0, "gzip" taking precedence over "*". */
static bool accepts_gzip(const char *ae)
{
	int gzip = -1, star = -1; /* -1 unlisted, 0 refused, 1 accepted */
	while (ae && *ae) {
		size_t n = strcspn(ae, ",");
		char item[128];
		if (n < sizeof(item)) {
			memcpy(item, ae, n);
			item[n] = '\0';
			char *p = item + strspn(item, " \t");
			size_t tl = strcspn(p, " \t;");
			char *q = strchr(p, ';');
			bool ok = true;
			if (q && (q = strstr(q, "q=")) != NULL)
				ok = strtod(q + 2, NULL) > 0;
			if (tl == 4 && strncasecmp(p, "gzip", 4) == 0)
				gzip = ok;
			else if (tl == 1 && *p == '*')
				star = ok;
		}
		ae += n;
		if (*ae == ',')
			ae++;
	}
	return gzip == 1 || (gzip == -1 && star == 1);
}

/* If-None-Match: "*" or a list of entity tags, compared weakly (RFC 9110
 * 13.1.2: W/ ignored on both sides). */
static bool etag_list_matches(const char *list, const char *etag)
{
	while (*list) {
		list += strspn(list, " \t,");
		if (*list == '*')
			return true;
		if (strncmp(list, "W/", 2) == 0)
			list += 2;
		size_t n = strcspn(list, ",");
		while (n && (list[n - 1] == ' ' || list[n - 1] == '\t'))
			n--;
		if (n && n == strlen(etag) && strncmp(list, etag, n) == 0)
			return true;
		list += strcspn(list, ",");
	}
	return false;
}

/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"); -1 when not one. */
static time_t http_date_parse(const char *v)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = v ? strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm) : NULL;
	if (!end || *end)
		return -1;
	return timegm(&tm);
}

/* The one range of a Range field ("bytes=a-b", "a-", "-n") against a
 * representation of `len` bytes: 1 satisfiable (*from, *count set), 0
 * unsatisfiable (416), -1 to be ignored (not bytes, several ranges, not
 * valid: the whole file with 200, as RFC 9110 14.2 allows). */
static int range_parse(const char *v, off_t len, off_t *from, off_t *count)
{
	if (strncasecmp(v, "bytes=", 6) != 0 || strchr(v, ','))
		return -1;
	v += 6;
	v += strspn(v, " \t");
	char *end;
	if (*v == '-') { /* the last n bytes */
		if (v[1] < '0' || v[1] > '9')
			return -1;
		unsigned long long n = strtoull(v + 1, &end, 10);
		if (*(end + strspn(end, " \t")))
			return -1;
		if (n == 0 || len == 0)
			return 0;
		*count = n > (unsigned long long)len ? len : (off_t)n;
		*from = len - *count;
		return 1;
	}
	if (*v < '0' || *v > '9')
		return -1;
	unsigned long long a = strtoull(v, &end, 10), b;
	if (*end != '-')
		return -1;
	v = end + 1;
	if (*v >= '0' && *v <= '9') {
		b = strtoull(v, &end, 10);
		if (b < a)
			return -1;
	} else {
		b = ~0ULL;
		end = (char *)v;
	}
	if (*(end + strspn(end, " \t")))
		return -1;
	if (a >= (unsigned long long)len)
		return 0;
	if (b >= (unsigned long long)len)
		b = (unsigned long long)len - 1;
	*from = (off_t)a;
	*count = (off_t)(b - a + 1);
	return 1;
}

/* If-Range (RFC 9110 13.1.5): an entity tag compared strongly, or the
 * exact Last-Modified date. Absent: true. */
static bool if_range_holds(const char *ifr, const char *etag, const char *date)
{
	if (!ifr)
		return true;
	ifr += strspn(ifr, " \t");
	if (*ifr == '"' || strncmp(ifr, "W/", 2) == 0)
		return strcmp(ifr, etag) == 0; /* a weak tag never matches */
	return strcmp(ifr, date) == 0;
}

/* The file chosen for the request: identity or its .gz. */
struct chosen {
	char real[PATH_MAX];
	struct stat st;
	int fd;
	bool gz, has_gz;
};

static int choose(const struct server_worker *s, const char *rel, const struct http_request *req,
		  struct chosen *c)
{
	if (!static_resolve(s, rel, c->real) || (c->fd = open_regular(c->real, &c->st)) < 0)
		return -1;
	char gz_rel[PATH_MAX], gz_real[PATH_MAX];
	struct stat gst;
	c->gz = c->has_gz = false;
	if ((size_t)snprintf(gz_rel, sizeof(gz_rel), "%s.gz", rel) >= sizeof(gz_rel) ||
	    !static_resolve(s, gz_rel, gz_real))
		return 0; /* no .gz, or one leading out of the root: never served */
	int gfd = open_regular(gz_real, &gst);
	if (gfd < 0)
		return 0;
	c->has_gz = true;
	if (!accepts_gzip(http_request_header(req, "accept-encoding"))) {
		close(gfd);
		return 0;
	}
	close(c->fd);
	c->fd = gfd;
	c->st = gst;
	c->gz = true;
	return 0;
}

int server__static_open(const struct server_worker *s, const char *rel, const struct http_request *req,
			struct http_response *resp, off_t *size)
{
	struct chosen c;
	if (choose(s, rel, req, &c) != 0)
		return -1;
	char etag[80], date[64];
	snprintf(etag, sizeof(etag), "\"%llx-%llx%s\"", (unsigned long long)c.st.st_size,
		 (unsigned long long)c.st.st_mtim.tv_sec * 1000000000ULL +
			 (unsigned long long)c.st.st_mtim.tv_nsec,
		 c.gz ? "-gz" : "");
	struct tm tm;
	gmtime_r(&c.st.st_mtime, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);

	/* RFC 9110 13.2.2: If-None-Match, else If-Modified-Since; then Range. */
	const char *inm = http_request_header(req, "if-none-match");
	time_t ims = inm ? -1 : http_date_parse(http_request_header(req, "if-modified-since"));
	bool not_modified = inm ? etag_list_matches(inm, etag) : (ims != -1 && c.st.st_mtime <= ims);
	off_t from = 0, count = c.st.st_size;
	int range = -1;
	const char *rv = http_request_header(req, "range");
	if (!not_modified && rv && strcmp(req->method, "GET") == 0 &&
	    if_range_holds(http_request_header(req, "if-range"), etag, date))
		range = range_parse(rv, c.st.st_size, &from, &count);

	resp->status = not_modified ? 304 : range == 1 ? 206 : range == 0 ? 416 : 200;
	if (!not_modified && range != 0)
		resp->content_type = server__mime_type(s->proc->mime, c.real);
	http_response_add_header(resp, "ETag", etag);
	if (c.has_gz)
		http_response_add_header(resp, "Vary", "Accept-Encoding");
	if (range != 0)
		http_response_add_header(resp, "Cache-Control", "public, max-age=60");
	if (not_modified || range == 0) {
		char cr[64];
		if (range == 0) { /* 416: no body */
			snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)c.st.st_size);
			http_response_add_header(resp, "Content-Range", cr);
		}
		close(c.fd);
		return -2;
	}
	http_response_add_header(resp, "Last-Modified", date);
	http_response_add_header(resp, "Accept-Ranges", "bytes");
	if (c.gz)
		http_response_add_header(resp, "Content-Encoding", "gzip");
	if (range == 1) {
		char cr[96];
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)from,
			 (unsigned long long)(from + count - 1), (unsigned long long)c.st.st_size);
		http_response_add_header(resp, "Content-Range", cr);
		if (lseek(c.fd, from, SEEK_SET) != from) {
			close(c.fd);
			return -1;
		}
	}
	*size = count;
	return c.fd;
}
