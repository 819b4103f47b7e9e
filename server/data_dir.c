/*
 * data_dir.c - where the page templates and static files are found when
 * neither --templates-dir nor --static-dir (nor their environment
 * variables) says: the default of server_config_init().
 *
 * The same binary runs uninstalled (from the build tree, where the data is
 * the source tree's) and installed (where `meson install` copied it to
 * <datadir>/channels-c), so the choice is made at run time from the path
 * of the running program (/proc/self/exe), first match wins:
 *   1. <program's folder>/CHANNELS_BINDIR_TO_DATA (meson computes
 *      "../share/channels-c" from bindir and datadir): the program is
 *      installed in bindir, under any prefix, also copied elsewhere with its
 *      tree (DESTDIR staging, a relocated prefix);
 *   2. the program lies inside the build tree (CHANNELS_BUILD_DIR): the
 *      source tree (CHANNELS_SOURCE_DIR), as before installing existed;
 *   3. CHANNELS_INSTALL_DATA_DIR, the configured <prefix>/<datadir>/channels-c:
 *      a program of its own linked against the installed library.
 * Computed once (pthread_once); the strings live as long as the process.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server_int.h"

#ifndef CHANNELS_SOURCE_DIR
#define CHANNELS_SOURCE_DIR "."
#endif
#ifndef CHANNELS_BUILD_DIR
#define CHANNELS_BUILD_DIR ""
#endif
#ifndef CHANNELS_INSTALL_DATA_DIR
#define CHANNELS_INSTALL_DATA_DIR CHANNELS_SOURCE_DIR
#endif
#ifndef CHANNELS_BINDIR_TO_DATA
#define CHANNELS_BINDIR_TO_DATA ""
#endif

static pthread_once_t data_once = PTHREAD_ONCE_INIT;
static char data_static[PATH_MAX + 16];
static char data_templates[PATH_MAX + 16];

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* `path` is `dir` or inside it (both resolved). */
static bool path_inside(const char *path, const char *dir)
{
	char real_dir[PATH_MAX];
	if (!*dir || !realpath(dir, real_dir))
		return false;
	size_t n = strlen(real_dir);
	return strncmp(path, real_dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Writes the data root into `out` (PATH_MAX bytes). */
static void data_root_find(char *out)
{
	char exe[PATH_MAX];
	if (!realpath("/proc/self/exe", exe)) {
		snprintf(out, PATH_MAX, "%s", CHANNELS_INSTALL_DATA_DIR);
		return;
	}
	char *slash = strrchr(exe, '/');
	if (slash && *CHANNELS_BINDIR_TO_DATA) {
		char rel[PATH_MAX];
		int n = snprintf(rel, sizeof(rel), "%.*s/%s", (int)(slash - exe), exe,
				 CHANNELS_BINDIR_TO_DATA);
		if (n > 0 && (size_t)n < sizeof(rel) && is_dir(rel) && realpath(rel, out))
			return;
	}
	snprintf(out, PATH_MAX, "%s",
		 path_inside(exe, CHANNELS_BUILD_DIR) ? CHANNELS_SOURCE_DIR : CHANNELS_INSTALL_DATA_DIR);
}

static void data_init(void)
{
	char root[PATH_MAX];
	data_root_find(root);
	snprintf(data_static, sizeof(data_static), "%s/static", root);
	snprintf(data_templates, sizeof(data_templates), "%s/templates", root);
}

void server__data_dirs(const char **static_dir, const char **templates_dir)
{
	pthread_once(&data_once, data_init);
	*static_dir = data_static;
	*templates_dir = data_templates;
}
