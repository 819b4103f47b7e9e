/*
 * app_whoami.c - a program written as an app out of this tree would be:
 * its own app (routes and settings, no identity hook) plus the shipped
 * site app (/healthz, --test-views, which the harness passes), through
 * server_main(). test_app_registration.c runs it.
 *
 *   GET /whoami/       "<WHOAMI_GREETING> <WHOAMI_REPEAT> user=<request user>\n"
 *   GET /whoami/login/ puts "username": "alice" in the session (a key the
 *                      framework gives no meaning: there is no identity hook)
 *   ws/whoami/         sends {"username", "is_authenticated"} of its scope
 */
#include <stdlib.h>

#include "site.h"

static void whoami_connect(struct consumer *c)
{
	consumer_accept(c, NULL);
	json_t *m = json_pack("{s:s,s:b}", "username", consumer_username(c), "is_authenticated",
			      consumer_is_authenticated(c));
	consumer_send_json(c, m);
	json_decref(m);
}

static const struct consumer_class whoami_consumer = {
	.name = "WhoamiConsumer",
	.json = true,
	.on_connect = whoami_connect,
};

static void whoami_page(struct http_request *req, struct http_response *resp)
{
	struct server_user user;
	server_request_user(req, &user);
	resp->content_type = "text/plain; charset=utf-8";
	text_buf_printf(&resp->body, "%s %lld user=%s%s\n",
			server_setting_str("WHOAMI_GREETING", "?"),
			server_setting_int("WHOAMI_REPEAT", -1), user.username ? user.username : "",
			user.is_authenticated ? " authenticated" : "");
	free(user.username);
}

static void whoami_login(struct http_request *req, struct http_response *resp)
{
	http_session_set(req, "username", json_string("alice"));
	resp->content_type = "text/plain; charset=utf-8";
	text_buf_printf(&resp->body, "ok\n");
}

static const struct view whoami_view = {"whoami", whoami_page, VIEW_GET, false};
static const struct view whoami_login_view = {"whoami_login", whoami_login, VIEW_GET, false};

static const struct route whoami_http[] = {
	PATH("whoami/", &whoami_view),
	PATH("whoami/login/", &whoami_login_view),
};

static const struct route whoami_ws[] = {
	PATH("ws/whoami/", &whoami_consumer),
};

static const struct server_setting whoami_settings[] = {
	{.key = "WHOAMI_GREETING", .flag = "whoami-greeting", .env = "CHANNELS_WHOAMI_GREETING",
	 .kind = SERVER_SETTING_STR, .str_default = "hello",
	 .help = "whoami: the greeting (default hello)"},
	{.key = "WHOAMI_REPEAT", .flag = "whoami-repeat", .env = "CHANNELS_WHOAMI_REPEAT",
	 .kind = SERVER_SETTING_INT, .min = 1, .max = 9, .int_default = 1,
	 .help = "whoami: 1 to 9 (default 1)"},
};

static const struct server_app whoami_app = {
	.name = "whoami",
	.description = "/whoami/ and ws/whoami/",
	.http_routes = whoami_http,
	.n_http_routes = sizeof(whoami_http) / sizeof(whoami_http[0]),
	.ws_routes = whoami_ws,
	.n_ws_routes = sizeof(whoami_ws) / sizeof(whoami_ws[0]),
	.settings = whoami_settings,
	.n_settings = sizeof(whoami_settings) / sizeof(whoami_settings[0]),
};

static const struct server_app *const apps[] = {&whoami_app, &site_app, NULL};

int main(int argc, char **argv)
{
	return server_main(argc, argv, apps);
}
