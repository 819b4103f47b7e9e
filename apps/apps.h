/*
 * apps.h - the apps channels-server serves, as a user of the framework
 * writes them: each app is one folder, apps/<name>/, holding its consumers
 * (consumers/consumer.h), views and one `struct server_app <name>_app`
 * (server/server.h) declaring its routes (what urls.py and routing.py
 * would hold), settings and identity hook, in <name>.c and <name>.h.
 *
 *   chat/     chat rooms (group chat_<room>); its identity hook names the
 *             site's users
 *   gossip/   notifications (group gossip) and the posts that signal them
 *   chart/    the live chart
 *   echo/     ws/echo/, the conformance suite's testee
 *   site/     the home page, the test views
 *
 * The list of them (INSTALLED_APPS) is one line each in apps/meson.build,
 * from which the build writes apps_installed[]; main.c serves it.
 */
#ifndef APPS_APPS_H
#define APPS_APPS_H

#include "server.h"

/* The installed apps, in the order of apps/meson.build's list (routes are
 * tried, and settings listed by --help, in this order); NULL-terminated. */
extern const struct server_app *const apps_installed[];

#endif
