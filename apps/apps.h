/*
 * apps.h - the three apps of the seed chapters, as a user of the framework
 * writes them: consumers (consumers/consumer.h), views (server/server.h)
 * and the two route tables that urls.py and routing.py would hold.
 *
 *   chat.c    /chat/, /chat/<room>/, ws/chat/<room>/ (group chat_<room>)
 *   gossip.c  /notifications/ (page and WebSocket, group gossip), /posts/
 *   chart.c   /chart/ and ws/two_url/ (a point every CHART_INTERVAL_MS)
 *   echo.c    ws/echo/: every message back verbatim (the conformance suite's testee)
 *   urls.c    the route tables and the home page
 */
#ifndef APPS_APPS_H
#define APPS_APPS_H

#include "server.h"

/* All three apps with their routes; what channels-server serves. */
extern const struct server_app apps_default;

/* The consumer classes, for tests that drive them directly. */
extern const struct consumer_class chat_room_consumer;
extern const struct consumer_class gossip_consumer;
extern const struct consumer_class chart_consumer;
extern const struct consumer_class echo_consumer;

/* The views. */
extern const struct view chat_index_view;
extern const struct view chat_room_view;
extern const struct view notifications_view;
extern const struct view posts_view;
extern const struct view chart_view;

/* Rooms with members now, as a JSON array of {"name", "members"} (new
 * reference; any thread). */
json_t *chat_rooms_snapshot(void);

/* Counts the UTF-8 characters of `s`; -1 if it is not valid UTF-8 or has
 * control characters other than tab and newline. */
long apps_text_length(const char *s);

#endif
