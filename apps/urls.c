/*
 * urls.c - the route tables: what urls.py and routing.py say in the seed.
 */
#include <time.h>
#include <unistd.h>

#include "apps.h"

static void home(struct http_request *req, struct http_response *resp)
{
	server_render(req, resp, "index.html", NULL);
}

static void healthz(struct http_request *req, struct http_response *resp)
{
	(void)req;
	resp->content_type = "text/plain; charset=utf-8";
	http_buf_append(&resp->body, "ok\n", 3);
}

/* Only with --test-views (setting TEST_VIEWS): a view that blocks its pool
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
	http_buf_printf(&resp->body, "slept %lld ms\n", (long long)ms);
}

static const struct view home_view = {"home", home, VIEW_GET, false};
static const struct view healthz_view = {"healthz", healthz, VIEW_GET, false};
static const struct view test_sleep_view = {"test_sleep", test_sleep, VIEW_GET, false};

/* urls.py */
static const struct route http_routes[] = {
	PATH("", &home_view),
	PATH("chat/", &chat_index_view),
	PATH("chat/<str:room_name>/", &chat_room_view),
	PATH("notifications/", &notifications_view),
	PATH("posts/", &posts_view),
	PATH("chart/", &chart_view),
	PATH("healthz", &healthz_view),
	PATH("_test/sleep/<int:ms>/", &test_sleep_view),
};

/* routing.py: application = ProtocolTypeRouter({"websocket": URLRouter(...)}) */
static const struct route ws_routes[] = {
	RE_PATH("ws/chat/(?P<room_name>\\w+)/$", &chat_room_consumer),
	PATH("notifications/", &gossip_consumer),
	PATH("ws/two_url/", &chart_consumer),
	PATH("ws/echo/", &echo_consumer),
};

const struct server_app apps_default = {
	.name = "channels-c demo apps",
	.http_routes = http_routes,
	.n_http_routes = sizeof(http_routes) / sizeof(http_routes[0]),
	.ws_routes = ws_routes,
	.n_ws_routes = sizeof(ws_routes) / sizeof(ws_routes[0]),
};
