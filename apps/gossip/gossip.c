/*
 * gossip.c - notifications (the seed's NotificationConsumer) and the posts
 * whose creation signals them (the seed's pre_save receiver, done in the
 * view that saves the post).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gossip.h"
#include "log.h"
#include "text.h"

#define POSTS_KEPT 200
#define POST_MAX 1000

/* ---- the consumer ---- */

static void name_gossip(struct consumer *c, json_t *event)
{
	/* The event as it came: encoded once, shared by every member. */
	consumer_send_json(c, event);
}

static const struct consumer_handler gossip_handlers[] = {
	{"name.gossip", name_gossip},
	{NULL, NULL},
};

static const char *const gossip_groups[] = {"gossip", NULL};

const struct consumer_class gossip_consumer = {
	.name = "NotificationConsumer",
	.json = true,
	.groups = gossip_groups,
	.handlers = gossip_handlers,
};

/* ---- posts (in memory; any thread) ---- */

static pthread_mutex_t posts_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *posts; /* array, newest first */

static json_t *posts_snapshot(void)
{
	pthread_mutex_lock(&posts_lock);
	json_t *copy = posts ? json_deep_copy(posts) : json_array();
	pthread_mutex_unlock(&posts_lock);
	return copy;
}

static void posts_add(const char *sender, const char *message)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	pthread_mutex_lock(&posts_lock);
	if (!posts)
		posts = json_array();
	json_array_insert_new(posts, 0,
			      json_pack("{s:s,s:s,s:s}", "sender", sender, "message", message,
					"created", when));
	while (json_array_size(posts) > POSTS_KEPT)
		json_array_remove(posts, json_array_size(posts) - 1);
	pthread_mutex_unlock(&posts_lock);
}

/* ---- views ---- */

static void notifications(struct http_request *req, struct http_response *resp)
{
	server_render(req, resp, "gossip/notifications.html", NULL);
}

static void posts_page(struct http_request *req, struct http_response *resp)
{
	json_t *ctx = json_object();
	if (strcmp(req->method, "POST") == 0) {
		json_t *form = http_request_form(req);
		const char *text = json_string_value(json_object_get(form, "message"));
		long len = text ? text_printable_length(text) : -1;
		if (len < 1 || len > POST_MAX) {
			json_object_set_new(ctx, "error",
					    json_string("A post is 1 to 1000 characters of text."));
			resp->status = 400;
		} else {
			struct server_user user;
			server_request_user(req, &user);
			const char *sender = user.username && *user.username ? user.username
									     : "anonymous";
			posts_add(sender, text);
			/* The seed's pre_save signal: tell everyone on the gossip group. */
			json_t *event = json_pack("{s:s,s:s,s:s,s:s}", "type", "name.gossip", "event",
						  "New Post", "sender", sender, "message", text);
			int rc = server_group_send(req, "gossip", event);
			if (rc != 0)
				LOG(LOG_WARN, "gossip", "group_send failed: %s", ch_strerror(rc));
			json_decref(event);
			free(user.username);
			json_decref(form);
			json_decref(ctx);
			http_response_redirect(resp, "/posts/");
			return;
		}
		json_decref(form);
	}
	json_object_set_new(ctx, "posts", posts_snapshot());
	int status = resp->status;
	server_render(req, resp, "gossip/posts.html", ctx);
	if (resp->status == 200)
		resp->status = status;
}

const struct view notifications_view = {"notifications", notifications, VIEW_GET, false};
const struct view posts_view = {"posts", posts_page, VIEW_GET | VIEW_POST, false};

static const struct route gossip_http_routes[] = {
	PATH("notifications/", &notifications_view),
	PATH("posts/", &posts_view),
};

static const struct route gossip_ws_routes[] = {
	PATH("notifications/", &gossip_consumer),
};

const struct server_app gossip_app = {
	.name = "gossip",
	.description = "notifications of new posts: /notifications/ (page and WebSocket), /posts/",
	.http_routes = gossip_http_routes,
	.n_http_routes = sizeof(gossip_http_routes) / sizeof(gossip_http_routes[0]),
	.ws_routes = gossip_ws_routes,
	.n_ws_routes = sizeof(gossip_ws_routes) / sizeof(gossip_ws_routes[0]),
};
