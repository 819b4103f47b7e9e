/*
 * chart.c - the live chart: the seed's TwoConsumer pushes {"data": 0..100}
 * every CHART_INTERVAL_MS (default 2000) for CHART_POINTS (default 100)
 * points, from a timer the consumer owns.
 */
#include <stdint.h>
#include <stdlib.h>

#include "apps.h"

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
	ch->points = (int)server_setting_int("CHART_POINTS", 100);
	uint64_t interval = (uint64_t)server_setting_int("CHART_INTERVAL_MS", 2000);
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
	json_t *ctx = json_pack("{s:I,s:I}", "points", (json_int_t)server_setting_int("CHART_POINTS", 100),
				"interval_ms", (json_int_t)server_setting_int("CHART_INTERVAL_MS", 2000));
	server_render(req, resp, "chart/chart.html", ctx);
}

const struct view chart_view = {"chart", chart_page, VIEW_GET, false};
