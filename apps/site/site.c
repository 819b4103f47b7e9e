/*
 * site.c - the site app: the home page, the test views (/healthz is the
 * server's own, server/metrics.c). What the
 * root urls.py of the seed routes itself; each app's own routes are in its
 * folder.
 */
#include <time.h>
#include <unistd.h>

#include "site.h"

static void home(struct http_request *req, struct http_response *resp)
{
	server_render(req, resp, "index.html", NULL);
}

/* Only with --test-views (setting TEST_VIEWS, 0 = off): a view that blocks its pool
 * thread for <ms> milliseconds, so tests can prove views never delay
 * WebSocket traffic. */
static void test_sleep(struct http_request *req, struct http_response *resp)
{
	if (!server_setting_int("TEST_VIEWS", 0)) {
		http_response_error(resp, 404, NULL);
		return;
	}
	json_int_t ms = json_integer_value(json_object_get(req->kwargs, "ms"));
	if (ms > 10000)
		ms = 10000;
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	resp->content_type = "text/plain; charset=utf-8";
	text_buf_printf(&resp->body, "slept %lld ms\n", (long long)ms);
}

static const struct view home_view = {"home", home, VIEW_GET, false};
static const struct view test_sleep_view = {"test_sleep", test_sleep, VIEW_GET, false};

static const struct route site_http_routes[] = {
	PATH("", &home_view),
	PATH("_test/sleep/<int:ms>/", &test_sleep_view),
};

static const struct server_setting site_settings[] = {
	{.key = "TEST_VIEWS", .flag = "test-views", .env = "CHANNELS_TEST_VIEWS",
	 .kind = SERVER_SETTING_INT, .min = 1, .max = 100000000, .int_default = 0,
	 .help = "1 enables /_test/sleep/<ms>/ (for tests; never in production)"},
};

const struct server_app site_app = {
	.name = "site",
	.description = "the home page, the test views (--test-views)",
	.http_routes = site_http_routes,
	.n_http_routes = sizeof(site_http_routes) / sizeof(site_http_routes[0]),
	.settings = site_settings,
	.n_settings = sizeof(site_settings) / sizeof(site_settings[0]),
};
