/*
 * site.h - the site itself (site.c): the home page and the test
 * views (--test-views).
 */
#ifndef APPS_SITE_SITE_H
#define APPS_SITE_SITE_H

#include "server.h"

extern const struct server_app site_app;

#endif
