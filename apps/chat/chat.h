/*
 * chat.h - chat rooms (chat.c): /chat/, /chat/<room>/ and ws/chat/<room>/
 * (group chat_<room>); its identity hook names the site's users.
 */
#ifndef APPS_CHAT_CHAT_H
#define APPS_CHAT_CHAT_H

#include "server.h"

extern const struct server_app chat_app;
extern const struct consumer_class chat_room_consumer;
extern const struct view chat_index_view;
extern const struct view chat_room_view;

/* Rooms with members now, as a JSON array of {"name", "members"} (new
 * reference; any thread). */
json_t *chat_rooms_snapshot(void);

#endif
