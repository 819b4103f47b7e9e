/*
 * gossip.h - notifications (gossip.c): /notifications/ (page and
 * WebSocket, group gossip) and /posts/, whose creation signals them.
 */
#ifndef APPS_GOSSIP_GOSSIP_H
#define APPS_GOSSIP_GOSSIP_H

#include "server.h"

extern const struct server_app gossip_app;
extern const struct consumer_class gossip_consumer;
extern const struct view notifications_view;
extern const struct view posts_view;

#endif
