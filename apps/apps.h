/*
 * apps.h - the three apps of the seed chapters, as a user of the framework
 * writes them: consumers (consumers/consumer.h), views, and one
 * `struct server_app` each (server/server.h) declaring its routes (what
 * urls.py and routing.py would hold), settings and identity hook.
 *
 *   chat.c    chat_app: /chat/, /chat/<room>/, ws/chat/<room>/ (group
 *             chat_<room>); its identity hook names the site's users
 *   gossip.c  gossip_app: /notifications/ (page and WebSocket, group gossip), /posts/
 *   chart.c   chart_app: /chart/ and ws/two_url/ (a point every
 *             --chart-interval ms, --chart-points of them)
 *   echo.c    echo_app: ws/echo/, every message back verbatim (the
 *             conformance suite's testee)
 *   urls.c    site_app: the home page, /healthz, /_test/sleep/<ms>/
 *             (--test-views); and apps_installed, the list of them all
 *   main.c    channels-server: server_main() with apps_installed
 */
#ifndef APPS_APPS_H
#define APPS_APPS_H

#include "server.h"

/* The apps, and the NULL-terminated list channels-server serves. */
extern const struct server_app chat_app;
extern const struct server_app gossip_app;
extern const struct server_app chart_app;
extern const struct server_app echo_app;
extern const struct server_app site_app;
extern const struct server_app *const apps_installed[];

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
