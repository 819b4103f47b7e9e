/*
 * test_config.c - app registration (server.h): an app's settings table is
 * parsed with the server's flags (defaults, environment, flags win, ranges),
 * printed by --help, and clashes are refused; the shipped apps declare
 * --chart-interval, --chart-points and --test-views as channels-server
 * always had them, and the chat's identity hook is the one of the list.
 * The default --static-dir and --templates-dir of a program run from the
 * build tree (this test) are the source tree's (server/data_dir.c; the
 * installed cases are tests/install's).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "apps.h"
#include "chat.h"
#include "check.h"
#include "server.h"

static const struct server_setting blog_settings[] = {
	{.key = "POLL_MS", .flag = "poll-interval", .env = "TEST_BLOG_POLL",
	 .kind = SERVER_SETTING_INT, .min = 10, .max = 1000, .int_default = 0, .help = "blog: ms between polls (default off)"},
	{.key = "TITLE", .flag = "blog-title", .env = "TEST_BLOG_TITLE", .kind = SERVER_SETTING_STR,
	 .str_default = "My blog", .help = "blog: the title (default My blog)"},
	{.key = "FEED", .flag = "blog-feed", .env = "TEST_BLOG_FEED", .kind = SERVER_SETTING_STR,
	 .help = "blog: feed URL (default none)"},
};

static void who(enum server_scope_type type, const json_t *session, struct server_user *user)
{
	(void)type;
	(void)session;
	(void)user;
}

static const struct server_app blog = {
	.name = "blog",
	.description = "the blog: /blog/",
	.settings = blog_settings,
	.n_settings = 3,
	.identity = who,
};

/* server_config_parse() of `args` (NULL-terminated, after argv[0]) with
 * `apps`; the parsed settings object in *settings (caller's). */
static int parse(const struct server_app *const apps[], json_t **settings, const char **args)
{
	char *argv[16] = {(char *)"channels-server"};
	int argc = 1;
	while (args && args[argc - 1] && argc < 15) {
		argv[argc] = (char *)args[argc - 1];
		argc++;
	}
	struct server_config cfg;
	server_config_init(&cfg);
	int rc = server_config_parse(&cfg, apps, argc, argv);
	*settings = cfg.settings;
	return rc;
}

/* parse() must refuse `args` (a usage error: -1). */
static void expect_refused(const struct server_app *const apps[], const char **args)
{
	json_t *st = NULL;

	CHECK_INT(parse(apps, &st, args), -1);
	json_decref(st);
}

static long long int_of(json_t *settings, const char *key)
{
	json_t *v = json_object_get(settings, key);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

static void test_defaults_env_flags(void)
{
	const struct server_app *const apps[] = {&blog, NULL};
	json_t *st = NULL;

	unsetenv("TEST_BLOG_POLL");
	unsetenv("TEST_BLOG_TITLE");
	CHECK_INT(parse(apps, &st, NULL), 0);
	CHECK_INT(int_of(st, "POLL_MS"), 0); /* a default below the range: "off" */
	CHECK_STR(json_string_value(json_object_get(st, "TITLE")), "My blog");
	CHECK(json_object_get(st, "FEED") == NULL);
	json_decref(st);

	setenv("TEST_BLOG_POLL", "20", 1);
	setenv("TEST_BLOG_TITLE", "Env", 1);
	CHECK_INT(parse(apps, &st, NULL), 0);
	CHECK_INT(int_of(st, "POLL_MS"), 20);
	CHECK_STR(json_string_value(json_object_get(st, "TITLE")), "Env");
	json_decref(st);

	const char *flags[] = {"--poll-interval", "1000", "--blog-title", "Flag", "--port", "0",
			       "--blog-feed", "http://x/", NULL};
	CHECK_INT(parse(apps, &st, flags), 0); /* flags win */
	CHECK_INT(int_of(st, "POLL_MS"), 1000);
	CHECK_STR(json_string_value(json_object_get(st, "TITLE")), "Flag");
	CHECK_STR(json_string_value(json_object_get(st, "FEED")), "http://x/");
	json_decref(st);
	unsetenv("TEST_BLOG_POLL");
	unsetenv("TEST_BLOG_TITLE");

	/* The range is inclusive; outside it, a usage error. */
	const char *low[] = {"--poll-interval", "9", NULL};
	const char *high[] = {"--poll-interval", "1001", NULL};
	const char *junk[] = {"--poll-interval", "10x", NULL};
	const char *empty[] = {"--blog-title", "", NULL};
	const char *latin1[] = {"--blog-title", "caf\xe9", NULL};
	const char *edge[] = {"--poll-interval", "10", NULL};
	expect_refused(apps, low);
	expect_refused(apps, high);
	expect_refused(apps, junk);
	expect_refused(apps, empty);
	expect_refused(apps, latin1);
	CHECK_INT(parse(apps, &st, edge), 0);
	CHECK_INT(int_of(st, "POLL_MS"), 10);
	json_decref(st);
	setenv("TEST_BLOG_POLL", "5", 1);
	expect_refused(apps, NULL);
	unsetenv("TEST_BLOG_POLL");

	/* Without the app its flags are unknown. */
	const struct server_app *const none[] = {NULL};
	const char *poll[] = {"--poll-interval", "20", NULL};
	expect_refused(none, poll);
}

static void test_clashes(void)
{
	json_t *st = NULL;
	static const struct server_setting port[] = {
		{.key = "P", .flag = "port", .env = "TEST_P", .kind = SERVER_SETTING_INT, .max = 1,
		 .help = "x"},
	};
	static const struct server_setting title[] = {
		{.key = "T2", .flag = "blog-title", .env = "TEST_T2", .kind = SERVER_SETTING_STR,
		 .help = "x"},
	};
	static const struct server_setting key[] = {
		{.key = "TITLE", .flag = "other", .env = "TEST_T3", .kind = SERVER_SETTING_STR,
		 .help = "x"},
	};
	static const struct server_setting bad_range[] = {
		{.key = "R", .flag = "r", .env = "TEST_R", .kind = SERVER_SETTING_INT, .min = 2,
		 .max = 1, .help = "x"},
	};
	const struct server_app a_port = {.name = "a", .settings = port, .n_settings = 1};
	const struct server_app a_title = {.name = "b", .settings = title, .n_settings = 1};
	const struct server_app a_key = {.name = "c", .settings = key, .n_settings = 1};
	const struct server_app a_range = {.name = "d", .settings = bad_range, .n_settings = 1};
	const struct server_app a_hook = {.name = "e", .identity = who};
	const struct server_app a_noname = {.description = "no name"};

	const struct server_app *const l1[] = {&blog, &a_port, NULL};
	const struct server_app *const l2[] = {&blog, &a_title, NULL};
	const struct server_app *const l3[] = {&blog, &a_key, NULL};
	const struct server_app *const l4[] = {&a_range, NULL};
	const struct server_app *const l5[] = {&blog, &a_hook, NULL};
	const struct server_app *const l6[] = {&a_noname, NULL};
	const struct server_app *const ok[] = {&a_hook, &a_title, NULL};
	const struct server_app *const *lists[] = {l1, l2, l3, l4, l5, l6};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		CHECK_INT(parse(lists[i], &st, NULL), -1);
		json_decref(st);
	}
	CHECK_INT(parse(ok, &st, NULL), 0);
	json_decref(st);
}

/* --help of `apps` as one string (malloc'd). */
static char *help_of(const struct server_app *const apps[])
{
	char path[] = "/tmp/test_server_config_XXXXXX";
	int fd = mkstemp(path);
	json_t *st = NULL;
	const char *h[] = {"--help", NULL};
	fflush(stdout);
	int saved = dup(1);
	dup2(fd, 1);
	CHECK_INT(parse(apps, &st, h), 1);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	json_decref(st);
	char *out = calloc(1, 65536);
	lseek(fd, 0, SEEK_SET);
	ssize_t n = read(fd, out, 65535);
	CHECK(n > 0);
	close(fd);
	unlink(path);
	return out;
}

static void test_help(void)
{
	const struct server_app *const apps[] = {&blog, NULL};
	char *out = help_of(apps);
	CHECK_CONTAINS(out, "\n  blog                 the blog: /blog/\n");
	CHECK_CONTAINS(out, "\n  --poll-interval      blog: ms between polls (default off) "
			    "[TEST_BLOG_POLL]\n");
	CHECK_CONTAINS(out, "\n  --port               port to listen on");
	/* a user name is accepted (channels/layer.h's grammar), so it is shown */
	CHECK_CONTAINS(out, "redis://[[user]:password@]host[:port][/db] or "
			    "unix:///path[?db=N&password=P]");
	/* The server's options, then the apps', then --help and --version. */
	CHECK(strstr(out, "--port-file") < strstr(out, "--poll-interval"));
	CHECK(strstr(out, "--blog-feed") < strstr(out, "--help"));
	free(out);

	/* channels-server's app settings, line for line as before they moved
	 * out of server/config.c. */
	out = help_of(apps_installed);
	CHECK_CONTAINS(out, "\n  --chart-interval     live chart: milliseconds between points "
			    "(default 2000) [CHANNELS_CHART_INTERVAL]\n"
			    "  --chart-points       live chart: points per connection "
			    "(default 100) [CHANNELS_CHART_POINTS]\n"
			    "  --test-views         1 enables /_test/sleep/<ms>/ (for tests; "
			    "never in production) [CHANNELS_TEST_VIEWS]\n"
			    "  --help ");
	CHECK_CONTAINS(out, "\n  --port-file          write the bound port to this file once "
			    "listening [CHANNELS_PORT_FILE]\n  --chart-interval");
	free(out);
}

static void test_installed_settings(void)
{
	json_t *st = NULL;
	CHECK_INT(parse(apps_installed, &st, NULL), 0);
	CHECK_INT(int_of(st, "CHART_INTERVAL_MS"), 2000);
	CHECK_INT(int_of(st, "CHART_POINTS"), 100);
	CHECK_INT(int_of(st, "TEST_VIEWS"), 0);
	json_decref(st);

	const char *flags[] = {"--chart-interval", "50", "--chart-points", "5", "--test-views", "1",
			       NULL};
	CHECK_INT(parse(apps_installed, &st, flags), 0);
	CHECK_INT(int_of(st, "CHART_INTERVAL_MS"), 50);
	CHECK_INT(int_of(st, "CHART_POINTS"), 5);
	CHECK_INT(int_of(st, "TEST_VIEWS"), 1);
	json_decref(st);

	/* As before: 1 to 100000000. */
	const char *zero[] = {"--test-views", "0", NULL};
	const char *big[] = {"--chart-points", "100000001", NULL};
	const char *max[] = {"--chart-points", "100000000", NULL};
	expect_refused(apps_installed, zero);
	expect_refused(apps_installed, big);
	CHECK_INT(parse(apps_installed, &st, max), 0);
	json_decref(st);
	setenv("CHANNELS_CHART_INTERVAL", "70", 1);
	CHECK_INT(parse(apps_installed, &st, NULL), 0);
	CHECK_INT(int_of(st, "CHART_INTERVAL_MS"), 70);
	json_decref(st);
	unsetenv("CHANNELS_CHART_INTERVAL");
}

/* chat_app.identity for `session` (a JSON text, NULL: none). */
static struct server_user ask(enum server_scope_type type, const char *session)
{
	struct server_user u = {0};
	json_t *js = session ? json_loads(session, 0, NULL) : NULL;
	chat_app.identity(type, js, &u);
	json_decref(js);
	return u;
}

static void test_installed_identity(void)
{
	size_t hooks = 0;
	for (size_t a = 0; apps_installed[a]; a++)
		hooks += apps_installed[a]->identity != NULL;
	CHECK_INT(hooks, 1);
	CHECK(chat_app.identity != NULL);

	/* A name picked on /chat/: authenticated, on pages and WebSockets. */
	struct server_user u =
		ask(SERVER_SCOPE_WEBSOCKET, "{\"username\":\"alice\",\"anonymous\":false}");
	CHECK_STR(u.username, "alice");
	CHECK(u.is_authenticated);
	free(u.username);
	u = ask(SERVER_SCOPE_HTTP, "{\"username\":\"alice\"}");
	CHECK_STR(u.username, "alice");
	CHECK(u.is_authenticated);
	free(u.username);
	/* A name a room page gave: not authenticated. */
	u = ask(SERVER_SCOPE_HTTP, "{\"username\":\"anon-0a1b2c\",\"anonymous\":true}");
	CHECK_STR(u.username, "anon-0a1b2c");
	CHECK(!u.is_authenticated);
	free(u.username);
	/* No name: none on a page; a generated one for a WebSocket. */
	u = ask(SERVER_SCOPE_HTTP, "{}");
	CHECK(u.username == NULL);
	CHECK(!u.is_authenticated);
	u = ask(SERVER_SCOPE_HTTP, NULL);
	CHECK(u.username == NULL);
	u = ask(SERVER_SCOPE_WEBSOCKET, "{\"username\":\"\"}");
	CHECK(u.username && strncmp(u.username, "anon-", 5) == 0 && strlen(u.username) == 11);
	CHECK(!u.is_authenticated);
	struct server_user v = ask(SERVER_SCOPE_WEBSOCKET, NULL);
	CHECK(v.username && strncmp(v.username, "anon-", 5) == 0);
	CHECK(u.username && v.username && strcmp(u.username, v.username) != 0);
	free(u.username);
	free(v.username);
}

/* Run from the build tree: the source tree's static/ and templates/. */
static void test_data_dirs_build_tree(void)
{
	struct server_config cfg;
	server_config_init(&cfg);
	char got[PATH_MAX], want[PATH_MAX];
	CHECK(realpath(cfg.static_dir, got) && realpath(TEST_SOURCE_DIR "/static", want));
	CHECK_STR(got, want);
	CHECK(realpath(cfg.templates_dir, got) && realpath(TEST_SOURCE_DIR "/templates", want));
	CHECK_STR(got, want);
}

int main(void)
{
	test_data_dirs_build_tree();
	test_defaults_env_flags();
	test_clashes();
	test_help();
	test_installed_settings();
	test_installed_identity();
	return check_finish();
}
