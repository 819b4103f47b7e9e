/*
 * hello.c - an app of your own on channels-c, built outside the project
 * against the installed library (see Makefile and README.md here):
 *
 *   GET /hello/<name>/   a view: {"greeting": "<--greeting>, <name>!"} as JSON
 *   ws/hello/            a JSON consumer in the group "hello": every
 *                        {"message": "..."} it receives goes to all members
 *                        as {"message": "...", "n": <the sender's count>}
 *   --greeting TEXT      its own flag (environment HELLO_GREETING), listed by
 *                        --help after the server's own flags
 *
 * Every server flag works too (--port, --redis, --static-dir, ...):
 *   ./hello --port 8000 --greeting Bonjour
 */
#include <channels-c/server.h>
#include <stdlib.h>
#include <string.h>

/* ---- the consumer: one struct hello per WebSocket ---- */

struct hello {
	json_int_t sent; /* messages this connection sent */
};

static const char *const hello_groups[] = {"hello", NULL};

/* {"message": "..."} from the client: to every member of the group. */
static void hello_receive(struct consumer *c, json_t *content)
{
	struct hello *h = consumer_state(c);
	json_t *text = json_object_get(content, "message");
	if (!json_is_string(text)) {
		consumer_close(c, 4000, "expected {\"message\": \"...\"}");
		return;
	}
	json_t *msg = json_pack("{s:s,s:O,s:I}", "type", "hello.message", "message", text,
				"n", ++h->sent);
	if (msg)
		consumer_group_send(c, "hello", msg);
	json_decref(msg);
}

/* "hello.message" from the layer: to this client, without "type". */
static void hello_message(struct consumer *c, json_t *msg)
{
	static const char *const fields[] = {"message", "n", NULL};
	consumer_forward_json(c, msg, fields);
}

static const struct consumer_handler hello_handlers[] = {
	{"hello.message", hello_message},
	{NULL, NULL},
};

static const struct consumer_class hello_consumer = {
	.name = "HelloConsumer",
	.state_size = sizeof(struct hello),
	.json = true,
	.groups = hello_groups,
	.on_receive_json = hello_receive,
	.handlers = hello_handlers,
};

/* ---- the view: runs on a pool thread ---- */

static void hello_view_fn(struct http_request *req, struct http_response *resp)
{
	const char *name = json_string_value(json_object_get(req->kwargs, "name"));
	const char *greeting = server_setting_str("GREETING", "Hello");
	json_t *body = json_pack("{s:s+++}", "greeting", greeting, ", ", name ? name : "", "!");
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (!text) {
		http_response_error(resp, 500, NULL);
	} else {
		resp->content_type = "application/json";
		text_buf_append(&resp->body, text, strlen(text));
	}
	free(text);
	json_decref(body);
}

static const struct view hello_view = {"hello", hello_view_fn, VIEW_GET, false};

/* ---- the app: its routes and settings ---- */

static const struct route hello_http_routes[] = {
	PATH("hello/<str:name>/", &hello_view),
};

static const struct route hello_ws_routes[] = {
	PATH("ws/hello/", &hello_consumer),
};

static const struct server_setting hello_settings[] = {
	{.key = "GREETING", .flag = "greeting", .env = "HELLO_GREETING",
	 .kind = SERVER_SETTING_STR, .str_default = "Hello",
	 .help = "hello: the word before the name (default Hello)"},
};

static const struct server_app hello_app = {
	.name = "hello",
	.description = "the example: /hello/<name>/, ws/hello/ (group hello)",
	.http_routes = hello_http_routes,
	.n_http_routes = sizeof(hello_http_routes) / sizeof(hello_http_routes[0]),
	.ws_routes = hello_ws_routes,
	.n_ws_routes = sizeof(hello_ws_routes) / sizeof(hello_ws_routes[0]),
	.settings = hello_settings,
	.n_settings = sizeof(hello_settings) / sizeof(hello_settings[0]),
};

/* ---- the program: its list of apps ---- */

static const struct server_app *const apps[] = {&hello_app, NULL};

int main(int argc, char **argv)
{
	return server_main(argc, argv, apps);
}
