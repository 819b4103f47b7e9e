/*
 * test_publish.c - channels-cli against the HTTP publish endpoint of a
 * server on the in-memory layer (no Redis anywhere): the token file, a
 * wrong token (exit 4, the server answered 401), invalid JSON (exit 2), no
 * server (exit 3 and a clear message), listen without --redis (exit 2).
 *
 * argv: SERVER_EXE SOURCE_ROOT CLI_EXE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "redis_proc.h"
#include "ws_checks.h"

static const char *cli_exe;

static const char msg_ok[] = "{\"type\":\"name.gossip\",\"event\":\"New Post\","
			     "\"sender\":\"cron\",\"message\":\"over http\"}";

/*
 * Over 80 lines: one scenario on one server and one listening client, in
 * order; each refused publish is followed by a check that nothing arrived,
 * and the last good one shows that all of it left the server serving.
 */
int main(int argc, char **argv)
{
	h_init(argc, argv, &check_failed);
	cli_exe = cmd_cli_exe(argc, argv);
	if (!cli_exe)
		return 77; /* the CLI's environment is cleared: it uses its arguments only */

	struct h_server s;
	if (h_server_start(&s, NULL) != 0) {
		CHECK(!"server started");
		return check_finish();
	}
	char url[64], token_path[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", s.port);
	snprintf(token_path, sizeof(token_path), "/tmp/channels-server-%u-%d.token",
		 (unsigned)getuid(), s.port);
	struct stat st;
	CHECK_INT(stat(token_path, &st), 0);
	CHECK_INT(st.st_mode & 0077, 0);
	CHECK_INT(st.st_uid, getuid());

	struct client_ws *n = NULL;
	int status = 0;
	CHECK_INT(h_ws_open(&s, "/notifications/", NULL, NULL, &n, &status), 0);
	CHECK_INT(status, 101);
	if (!n)
		goto out;
	struct cmd_result res;

	/* The token from the server's token file. */
	char *ok[] = {(char *)cli_exe, "--url", url, "group-send", "gossip", (char *)msg_ok, NULL};
	CHECK_INT(cmd_run(ok, 15000, &res), 0);
	cmd_result_clear(&res);
	expect_gossip(n, "notifications", "cron", "over http");

	/* A wrong token: refused (4), the server answered 401, nothing delivered. */
	char *bad[] = {(char *)cli_exe, "--url", url, "--token", "not-the-token", "group-send",
		       "gossip", (char *)msg_ok, NULL};
	CHECK_INT(cmd_run(bad, 15000, &res), 4);
	CHECK_CONTAINS(res.err, "401");
	cmd_result_clear(&res);
	CHECK(h_server_log_has(&s, "bad or missing token"));
	{
		struct client_response r;
		CHECK_INT(h_http(&s, "POST", "/_channels/group-send/gossip/", NULL,
				 "Authorization: Bearer not-the-token\r\n"
				 "Content-Type: application/json\r\n",
				 msg_ok, strlen(msg_ok), &r), 0);
		CHECK_INT(r.status, 401);
		client_response_clear(&r);
	}
	CHECK(h_ws_silent(n, 300, "notifications after a wrong token"));

	/* Invalid JSON, and JSON without a "type": usage errors (2), not sent. */
	char *badjson[] = {(char *)cli_exe, "--url", url, "group-send", "gossip",
			   "{\"type\":\"name.gossip\",", NULL};
	CHECK_INT(cmd_run(badjson, 15000, &res), 2);
	CHECK(res.err[0] != '\0');
	cmd_result_clear(&res);
	char *notype[] = {(char *)cli_exe, "--url", url, "group-send", "gossip",
			  "{\"message\":\"no type\"}", NULL};
	CHECK_INT(cmd_run(notype, 15000, &res), 2);
	cmd_result_clear(&res);
	/* An invalid group name. */
	char *badgroup[] = {(char *)cli_exe, "--url", url, "group-send", "no spaces",
			    (char *)msg_ok, NULL};
	CHECK_INT(cmd_run(badgroup, 15000, &res), 2);
	cmd_result_clear(&res);
	CHECK(h_ws_silent(n, 300, "notifications after usage errors"));

	/* listen needs --redis. */
	char *listen[] = {(char *)cli_exe, "--url", url, "listen", "gossip", "--count", "1",
			  "--timeout", "2", NULL};
	CHECK_INT(cmd_run(listen, 15000, &res), 2);
	CHECK_CONTAINS(res.err, "--redis");
	cmd_result_clear(&res);

	/* Still fine after all that. */
	CHECK_INT(cmd_run(ok, 15000, &res), 0);
	cmd_result_clear(&res);
	expect_gossip(n, "notifications", "cron", "over http");
	client_ws_close(n, 1000, 2000);
	client_ws_free(n);
	n = NULL;

	/* No server: unreachable (3), and the message says so. */
	int dead_port = free_tcp_port();
	char dead_url[64], dead_port_s[16];
	snprintf(dead_url, sizeof(dead_url), "http://127.0.0.1:%d", dead_port);
	snprintf(dead_port_s, sizeof(dead_port_s), "%d", dead_port);
	char *dead[] = {(char *)cli_exe, "--url", dead_url, "--token", "x", "group-send", "gossip",
			(char *)msg_ok, NULL};
	CHECK_INT(cmd_run(dead, 15000, &res), 3);
	CHECK_CONTAINS(res.err, dead_port_s);
	CHECK_CONTAINS(res.err, "cannot reach");
	cmd_result_clear(&res);
	/* Same without a token (no token file for that port). */
	char *dead2[] = {(char *)cli_exe, "--url", dead_url, "group-send", "gossip",
			 (char *)msg_ok, NULL};
	CHECK_INT(cmd_run(dead2, 15000, &res), 3);
	cmd_result_clear(&res);
out:
	if (n) {
		client_ws_close(n, 1000, 2000);
		client_ws_free(n);
	}
	CHECK_INT(h_server_stop(&s), 0);
	/* The server removes its token file when it stops. */
	CHECK(access(token_path, F_OK) != 0);
	return check_finish();
}
