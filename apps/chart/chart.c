/*
 * chart.c - the live chart: the seed's TwoConsumer pushes {"data": 0..100}
 * every CHART_INTERVAL_MS (default 2000) for CHART_POINTS (default 100)
 * points, from a timer the consumer owns. Both are settings of the app
 * (--chart-interval, --chart-points).
 */
#include <stdint.h>
#include <stdlib.h>

#include "chart.h"

#define CHART_INTERVAL_DEFAULT 2000
#define CHART_POINTS_DEFAULT 100

struct chart {
	uint64_t rng;
	int sent;
	int points;
	int timer;
};

static int next_value(struct chart *ch)
{
	/* xorshift64*: a cheap per-connection source, enough for a demo chart. */
	ch->rng ^= ch->rng >> 12;
	ch->rng ^= ch->rng << 25;
	ch->rng ^= ch->rng >> 27;
	return (int)(((ch->rng * 2685821657736338717ULL) >> 33) % 101);
}

static void chart_tick(struct consumer *c, void *arg)
{
	struct chart *ch = consumer_state(c);
	(void)arg;
	json_t *point = json_pack("{s:i}", "data", next_value(ch));
	consumer_send_json(c, point);
	json_decref(point);
	if (++ch->sent >= ch->points)
		consumer_timer_stop(c, ch->timer);
}

static void chart_connect(struct consumer *c)
{
	struct chart *ch = consumer_state(c);
	char seed[17];
	server_random_hex(seed, 8);
	ch->rng = strtoull(seed, NULL, 16) | 1;
	ch->points = (int)server_setting_int("CHART_POINTS", CHART_POINTS_DEFAULT);
	uint64_t interval =
		(uint64_t)server_setting_int("CHART_INTERVAL_MS", CHART_INTERVAL_DEFAULT);
	consumer_accept(c, NULL);
	/* The first point at once, then one per interval. */
	ch->timer = consumer_timer_start(c, 0, interval, chart_tick, NULL);
}

const struct consumer_class chart_consumer = {
	.name = "TwoConsumer",
	.state_size = sizeof(struct chart),
	.json = true,
	.on_connect = chart_connect,
};

static void chart_page(struct http_request *req, struct http_response *resp)
{
	json_int_t points = server_setting_int("CHART_POINTS", CHART_POINTS_DEFAULT);
	json_int_t interval = server_setting_int("CHART_INTERVAL_MS", CHART_INTERVAL_DEFAULT);
	json_t *ctx = json_pack("{s:I,s:I}", "points", points, "interval_ms", interval);
	server_render(req, resp, "chart/chart.html", ctx);
}

const struct view chart_view = {"chart", chart_page, VIEW_GET, false};

static const struct server_setting chart_settings[] = {
	{.key = "CHART_INTERVAL_MS", .flag = "chart-interval", .env = "CHANNELS_CHART_INTERVAL",
	 .kind = SERVER_SETTING_INT, .min = 1, .max = 100000000,
	 .int_default = CHART_INTERVAL_DEFAULT,
	 .help = "live chart: milliseconds between points (default 2000)"},
	{.key = "CHART_POINTS", .flag = "chart-points", .env = "CHANNELS_CHART_POINTS",
	 .kind = SERVER_SETTING_INT, .min = 1, .max = 100000000,
	 .int_default = CHART_POINTS_DEFAULT,
	 .help = "live chart: points per connection (default 100)"},
};

static const struct route chart_http_routes[] = {
	PATH("chart/", &chart_view),
};

static const struct route chart_ws_routes[] = {
	PATH("ws/two_url/", &chart_consumer),
};

const struct server_app chart_app = {
	.name = "chart",
	.description = "the live chart: /chart/, ws/two_url/",
	.http_routes = chart_http_routes,
	.n_http_routes = sizeof(chart_http_routes) / sizeof(chart_http_routes[0]),
	.ws_routes = chart_ws_routes,
	.n_ws_routes = sizeof(chart_ws_routes) / sizeof(chart_ws_routes[0]),
	.settings = chart_settings,
	.n_settings = sizeof(chart_settings) / sizeof(chart_settings[0]),
};
