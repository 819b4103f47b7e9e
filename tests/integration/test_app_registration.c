/*
 * test_app_registration.c - app_whoami (argv[1]): a program of its own
 * apps, served by the framework: its routes answer and the shipped apps'
 * do not, its settings come from flags and the environment, and without an
 * identity hook every user is anonymous ("" and not authenticated), even
 * with a session cookie.
 */
#include <stdlib.h>

#include "check.h"
#include "harness.h"

static void test_routes_and_settings(const struct h_server *s, const char *expect)
{
	struct client_response r = {0};
	CHECK_INT(h_http(s, "GET", "/whoami/", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, expect);
	client_response_clear(&r);
	CHECK_INT(h_healthz(s), 0);
	/* Apps not in its list: no route. */
	CHECK_INT(h_http(s, "GET", "/chat/", NULL, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 404);
	client_response_clear(&r);
	int status = 0;
	struct client_ws *ws = NULL;
	h_ws_open(s, "/ws/echo/", NULL, NULL, &ws, &status);
	CHECK_INT(status, 404);
	client_ws_free(ws);
}

static void test_anonymous(const struct h_server *s)
{
	/* A session holding "username": without a hook it names nobody. */
	struct h_jar jar = {0};
	struct client_response r = {0};
	CHECK_INT(h_http(s, "GET", "/whoami/login/", &jar, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK(jar.sessionid[0] != '\0');
	client_response_clear(&r);
	CHECK_INT(h_http(s, "GET", "/whoami/", &jar, NULL, NULL, 0, &r), 0);
	CHECK_STR(r.body, "hello 1 user=\n");
	client_response_clear(&r);
	struct client_ws *ws = NULL;
	int status = 0;
	CHECK_INT(h_ws_open(s, "/ws/whoami/", &jar, NULL, &ws, &status), 0);
	CHECK_INT(status, 101);
	json_t *m = ws ? h_recv_json(ws, 5000, "whoami") : NULL;
	CHECK_STR(json_string_value(json_object_get(m, "username")), "");
	CHECK(json_is_false(json_object_get(m, "is_authenticated")));
	json_decref(m);
	if (ws)
		CHECK_INT(client_ws_close(ws, 1000, 3000), 0);
	client_ws_free(ws);
}

int main(int argc, char **argv)
{
	struct h_server s;
	h_init(argc, argv, &check_failed);

	unsetenv("CHANNELS_WHOAMI_GREETING");
	unsetenv("CHANNELS_WHOAMI_REPEAT");
	if (h_server_start(&s, NULL) == 0) {
		test_routes_and_settings(&s, "hello 1 user=\n"); /* the defaults */
		test_anonymous(&s);
		CHECK(!h_server_log_has(&s, " ERROR "));
		CHECK_INT(h_server_stop(&s), 0);
	} else {
		CHECK(!"whoami server started");
	}

	/* The environment, and a flag that wins over it. */
	setenv("CHANNELS_WHOAMI_GREETING", "hi", 1);
	setenv("CHANNELS_WHOAMI_REPEAT", "3", 1);
	const char *extra[] = {"--whoami-repeat", "9", NULL};
	if (h_server_start(&s, extra) == 0) {
		test_routes_and_settings(&s, "hi 9 user=\n");
		CHECK_INT(h_server_stop(&s), 0);
	} else {
		CHECK(!"whoami server with settings started");
	}

	/* Out of the app's range: a usage error, exit status 2. */
	const char *bad[] = {"--whoami-repeat", "10", NULL};
	CHECK(h_server_start(&s, bad) != 0);
	return check_finish();
}
