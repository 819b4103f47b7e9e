/*
 * chart.h - the live chart (chart.c): /chart/ and ws/two_url/, a point
 * every --chart-interval ms, --chart-points of them.
 */
#ifndef APPS_CHART_CHART_H
#define APPS_CHART_CHART_H

#include "server.h"

extern const struct server_app chart_app;
extern const struct consumer_class chart_consumer;
extern const struct view chart_view;

#endif
