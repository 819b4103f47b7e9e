/*
 * chat.c - chat rooms: the seed's RoomConsumer and its two pages.
 *
 * The username of a chat message is always the sender's session name (or
 * the anonymous name its connection was given), never a value from the
 * client's JSON. The site's users are the chat's display names: the app's
 * identity hook (chat_identity) says so to the server.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "log.h"
#include "text.h"

#define ROOM_NAME_MAX 64
#define USERNAME_MAX 32
#define MESSAGE_MAX 1000

/* ---- who is in which room (for the /chat/ page; any thread) ---- */

struct room_count {
	char name[ROOM_NAME_MAX + 1];
	unsigned members;
};

static pthread_mutex_t rooms_lock = PTHREAD_MUTEX_INITIALIZER;
static struct room_count *rooms;
static size_t n_rooms;

static void rooms_adjust(const char *name, int delta)
{
	pthread_mutex_lock(&rooms_lock);
	size_t i = 0;
	while (i < n_rooms && strcmp(rooms[i].name, name) != 0)
		i++;
	if (i == n_rooms && delta > 0) {
		struct room_count *r = realloc(rooms, (n_rooms + 1) * sizeof(*r));
		if (r) {
			rooms = r;
			snprintf(rooms[n_rooms].name, sizeof(rooms[n_rooms].name), "%s", name);
			rooms[n_rooms].members = 0;
			n_rooms++;
		}
	}
	if (i < n_rooms) {
		rooms[i].members = (unsigned)((int)rooms[i].members + delta);
		if (rooms[i].members == 0) {
			rooms[i] = rooms[--n_rooms];
			if (n_rooms == 0) {
				free(rooms);
				rooms = NULL;
			}
		}
	}
	pthread_mutex_unlock(&rooms_lock);
}

json_t *chat_rooms_snapshot(void)
{
	json_t *out = json_array();
	pthread_mutex_lock(&rooms_lock);
	for (size_t i = 0; i < n_rooms; i++)
		json_array_append_new(out, json_pack("{s:s,s:i}", "name", rooms[i].name, "members",
						     (json_int_t)rooms[i].members));
	pthread_mutex_unlock(&rooms_lock);
	return out;
}

long apps_text_length(const char *s)
{
	size_t n = strlen(s);
	if (!text_utf8_valid(s, n))
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch < 0x20 && ch != '\t' && ch != '\n') || ch == 0x7f)
			return -1;
	}
	return (long)text_utf8_count(s, n);
}

static bool valid_room_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ROOM_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_'))
			return false;
	}
	return true;
}

/* "anon-" and 6 random hex digits: the name of a visitor who picked none. */
static void anon_name(char out[16])
{
	char hex[7];
	server_random_hex(hex, 3);
	snprintf(out, 16, "anon-%s", hex);
}

/* ---- who the session is (the app's identity hook; any thread) ---- */

/*
 * The session's "username": picked on /chat/ ("anonymous": false, an
 * authenticated user), or given by a room page to a visitor who picked none
 * ("anonymous": true). A WebSocket without one (no session: a client that
 * never loaded a page) still chats, under a generated name of its own, not
 * authenticated; a page without one shows no name.
 */
static void chat_identity(enum server_scope_type type, const json_t *session,
			  struct server_user *user)
{
	const char *name = json_string_value(json_object_get(session, "username"));
	char anon[16];
	if (name && *name) {
		user->username = strdup(name);
		user->is_authenticated = !json_is_true(json_object_get(session, "anonymous"));
	} else if (type == SERVER_SCOPE_WEBSOCKET) {
		anon_name(anon);
		user->username = strdup(anon);
	}
}

/* ---- the consumer (the seed's RoomConsumer) ---- */

/* The room is the route's room_name kwarg, kept in the scope: the consumer
 * needs no state of its own. The group is "chat_" + room. */
static const char *room_name(const struct consumer *c)
{
	return consumer_scope_kwarg(c, "room_name");
}

static void room_group(const struct consumer *c, char out[LAYER_NAME_MAX])
{
	snprintf(out, LAYER_NAME_MAX, "chat_%s", room_name(c));
}

static void room_connect(struct consumer *c)
{
	const char *name = room_name(c);
	if (!name || !valid_room_name(name)) {
		/* The route admits any \w+ (Unicode); group names are ASCII. */
		consumer_close(c, CLOSE_NORMAL, NULL);
		return;
	}
	char group[LAYER_NAME_MAX];
	room_group(c, group);
	if (consumer_group_add(c, group) != 0) {
		consumer_close(c, CLOSE_NORMAL, NULL);
		return;
	}
	rooms_adjust(name, +1);
	consumer_accept(c, NULL);
}

static void send_error(struct consumer *c, const char *text)
{
	json_t *e = json_pack("{s:s}", "error", text);
	consumer_send_json(c, e);
	json_decref(e);
}

static void room_receive(struct consumer *c, json_t *content)
{
	const char *text = json_string_value(json_object_get(content, "message"));
	long len = text ? apps_text_length(text) : -1;
	if (!json_is_object(content) || !text) {
		send_error(c, "send {\"message\": \"...\"}");
		return;
	}
	if (len <= 0 || len > MESSAGE_MAX) {
		send_error(c, len == 0 ? "empty message" :
			      len < 0 ? "message has control characters" :
					"message longer than 1000 characters");
		return;
	}
	/* {"type": "chat.message", "message": <the client's string, shared, not
	 * copied>, "username": <the session's name, never the client's>} */
	json_t *msg = json_object();
	if (msg && json_object_set_new_nocheck(msg, "type", json_string_nocheck("chat.message")) == 0 &&
	    json_object_set_nocheck(msg, "message", json_object_get(content, "message")) == 0 &&
	    json_object_set_new_nocheck(msg, "username", json_string(consumer_username(c))) == 0) {
		char group[LAYER_NAME_MAX];
		room_group(c, group);
		consumer_group_send(c, group, msg);
	}
	json_decref(msg);
}

static const char *const chat_fields[] = {"message", "username", NULL};

static void chat_message(struct consumer *c, json_t *msg)
{
	consumer_forward_json(c, msg, chat_fields);
}

static void room_disconnect(struct consumer *c, int code)
{
	(void)code;
	rooms_adjust(room_name(c), -1);
}

static const struct consumer_handler room_handlers[] = {
	{"chat.message", chat_message},
	{NULL, NULL},
};

const struct consumer_class chat_room_consumer = {
	.name = "RoomConsumer",
	.json = true,
	.on_connect = room_connect,
	.on_receive_json = room_receive,
	.on_disconnect = room_disconnect,
	.handlers = room_handlers,
};

/* ---- views ---- */

static void chat_index(struct http_request *req, struct http_response *resp)
{
	json_t *ctx = json_object();
	if (strcmp(req->method, "POST") == 0) {
		json_t *form = http_request_form(req);
		const char *user = json_string_value(json_object_get(form, "username"));
		const char *room = json_string_value(json_object_get(form, "room"));
		char name[4 * USERNAME_MAX + 1] = "";
		if (user) {
			while (*user == ' ')
				user++;
			snprintf(name, sizeof(name), "%s", user);
			size_t n = strlen(name);
			while (n && name[n - 1] == ' ')
				name[--n] = '\0';
		}
		long ulen = user && strlen(user) < sizeof(name) ? apps_text_length(name) : -1;
		if (ulen < 1 || ulen > USERNAME_MAX || strchr(name, '\n') || strchr(name, '\t')) {
			json_object_set_new(ctx, "error",
					    json_string("Pick a display name of 1 to 32 characters."));
		} else if (!room || !valid_room_name(room)) {
			json_object_set_new(ctx, "error",
					    json_string("Room names are 1 to 64 letters, digits or _."));
		} else {
			http_session_set(req, "username", json_string(name));
			http_session_set(req, "anonymous", json_false());
			char location[ROOM_NAME_MAX + 16];
			snprintf(location, sizeof(location), "/chat/%s/", room);
			http_response_redirect(resp, location);
			json_decref(form);
			json_decref(ctx);
			return;
		}
		json_decref(form);
		resp->status = 400;
	}
	json_object_set_new(ctx, "rooms", chat_rooms_snapshot());
	int status = resp->status;
	server_render(req, resp, "chat/index.html", ctx);
	if (resp->status == 200)
		resp->status = status;
}

static void chat_room(struct http_request *req, struct http_response *resp)
{
	const char *room = json_string_value(json_object_get(req->kwargs, "room_name"));
	if (!room || !valid_room_name(room)) {
		http_response_error(resp, 404, "Room names are letters, digits or _.");
		return;
	}
	if (!http_session_get(req, "username")) {
		/* A visitor who picked no name chats under an anonymous one, kept in the session. */
		char anon[16];
		anon_name(anon);
		http_session_set(req, "username", json_string(anon));
		http_session_set(req, "anonymous", json_true());
	}
	server_render(req, resp, "chat/room.html", json_pack("{s:s}", "room_name", room));
}

const struct view chat_index_view = {"chat_index", chat_index, VIEW_GET | VIEW_POST, false};
const struct view chat_room_view = {"chat_room", chat_room, VIEW_GET, false};

static const struct route chat_http_routes[] = {
	PATH("chat/", &chat_index_view),
	PATH("chat/<str:room_name>/", &chat_room_view),
};

static const struct route chat_ws_routes[] = {
	RE_PATH("ws/chat/(?P<room_name>\\w+)/$", &chat_room_consumer),
};

const struct server_app chat_app = {
	.name = "chat",
	.description = "chat rooms: /chat/, /chat/<room>/, ws/chat/<room>/; the site's user names",
	.http_routes = chat_http_routes,
	.n_http_routes = sizeof(chat_http_routes) / sizeof(chat_http_routes[0]),
	.ws_routes = chat_ws_routes,
	.n_ws_routes = sizeof(chat_ws_routes) / sizeof(chat_ws_routes[0]),
	.identity = chat_identity,
};
