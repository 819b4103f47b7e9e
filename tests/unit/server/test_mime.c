/*
 * test_mime.c - server/mime_types.c: a mime.types file read whole (comments,
 * several extensions per type, the first type listed for an extension wins,
 * any case, multi-dot extensions), text/ types with a charset, the built-in
 * table for what the file lacks, and alone when the file is missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "server_int.h"

int main(void)
{
	char path[] = "/tmp/channels-mime-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("# a comment\n"
	      "text/css\t\t\tcss\n"
	      "application/x-first   dup   # the first one wins\n"
	      "application/x-second  dup\n"
	      "application/vnd.thing Thing thg\n"
	      "application/tm+json   tm.json\n"
	      "application/nothing\n"
	      "notatype  bad\n"
	      "image/png png\n",
	      f);
	fclose(f);

	struct server_mime *m = server__mime_load(path);
	CHECK(m != NULL);
	CHECK_STR(server__mime_type(m, "/a/b/site.css"), "text/css; charset=utf-8");
	CHECK_STR(server__mime_type(m, "x.DUP"), "application/x-first");
	CHECK_STR(server__mime_type(m, "x.thing"), "application/vnd.thing");
	CHECK_STR(server__mime_type(m, "x.thg"), "application/vnd.thing");
	CHECK_STR(server__mime_type(m, "data.tm.json"), "application/tm+json");
	CHECK_STR(server__mime_type(m, "data.json"), "application/json"); /* built-in */
	CHECK_STR(server__mime_type(m, "x.bad"), "application/octet-stream");
	CHECK_STR(server__mime_type(m, "x.png"), "image/png");
	CHECK_STR(server__mime_type(m, "app.js"), "text/javascript; charset=utf-8");
	CHECK_STR(server__mime_type(m, "README"), "application/octet-stream");
	CHECK_STR(server__mime_type(m, "dir.d/README"), "application/octet-stream");
	server__mime_free(m);
	unlink(path);

	/* missing: the built-in table alone */
	CHECK(server__mime_load("/nonexistent/mime.types") == NULL);
	CHECK_STR(server__mime_type(NULL, "a.css"), "text/css; charset=utf-8");
	CHECK_STR(server__mime_type(NULL, "a.svg"), "image/svg+xml");
	CHECK_STR(server__mime_type(NULL, "a.pdf"), "application/octet-stream");

	/* the system's, when there is one (Debian's media-types) */
	m = server__mime_load("/etc/mime.types");
	if (m) {
		CHECK_STR(server__mime_type(m, "a.pdf"), "application/pdf");
		CHECK_STR(server__mime_type(m, "a.html"), "text/html; charset=utf-8");
		server__mime_free(m);
	}
	return check_finish();
}
