/*
 * publish.c - the HTTP publish endpoint: how a process without Redis (a
 * cron job, channels-cli) puts a message on this server's channel layer.
 *
 *   POST /_channels/group-send/<group>/   body: {"type": "...", ...}
 *   POST /_channels/send/<channel>/
 *   Authorization: Bearer <token>
 *
 * 202 accepted (handed to the layer, and to Redis when there is one), 400
 * bad JSON or name, 401 bad token, 403 not a local client (loopback or
 * unix socket, and no forwarding header: a request through a proxy never
 * is) unless --publish-allow-remote, 413 over --max-body-size, 503 when the message
 * could not be published beyond this process (Redis down, stalled or
 * refusing: a group's members on this server still got it; the body says
 * so) or the layer refused it (e.g. a full channel).
 * The token is --publish-token, or a random one written (mode 0600) to
 * /tmp/channels-server-<uid>-<port>.token, where channels-cli finds it.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "server_int.h"

static void answer(struct http_response *resp, int status, const char *key, const char *text)
{
	json_t *body = json_pack("{s:s}", key, text);
	char *s = json_dumps(body, JSON_COMPACT);
	resp->status = status;
	resp->content_type = "application/json";
	resp->body.len = 0;
	if (s) {
		text_buf_append(&resp->body, s, strlen(s));
		text_buf_append(&resp->body, "\n", 1);
	}
	free(s);
	json_decref(body);
}

static void publish(struct http_request *req, struct http_response *resp, bool group)
{
	struct server_worker *s = req->app;
	const char *name = json_string_value(json_object_get(req->kwargs, "name"));

	/* A request a proxy forwarded is not local, whatever the peer: behind
	 * a local nginx every peer is 127.0.0.1 (server__client_is_local). */
	if (!s->proc->cfg->publish_allow_remote && !server__client_is_local(req)) {
		answer(resp, 403, "error",
		       "the publish endpoint only answers local clients, not forwarded requests "
		       "(--publish-allow-remote 1 lets the token alone decide)");
		return;
	}
	const char *auth = http_request_header(req, "authorization");
	size_t tlen = strlen(s->proc->publish_token);
	if (!auth || strncmp(auth, "Bearer ", 7) != 0 || strlen(auth + 7) != tlen ||
	    CRYPTO_memcmp(auth + 7, s->proc->publish_token, tlen) != 0) {
		static struct log_limit lim_token = LOG_LIMIT_INIT(10);
		LOG_LIMITED(&lim_token, LOG_INFO, "publish", "refused a publish from %s: bad or missing token",
		    req->client_addr);
		answer(resp, 401, "error", "missing or wrong token (Authorization: Bearer <token>)");
		return;
	}
	if (!name || !(group ? layer_valid_group_name(name) : layer_valid_channel_name(name))) {
		answer(resp, 400, "error",
		       group ? "invalid group name" : "invalid channel name");
		return;
	}
	json_error_t err;
	json_t *msg = req->body ? json_loadb(req->body, req->body_len, 0, &err) : NULL;
	if (!json_is_object(msg) || !json_is_string(json_object_get(msg, "type"))) {
		json_decref(msg);
		answer(resp, 400, "error", "the body must be a JSON object with a string \"type\"");
		return;
	}
	/* This view runs on the pool: it waits for the loop's verdict, so a
	 * message that could not leave this process is reported, not 202. */
	int rc = group ? layer_group_send_wait(s->layer, name, msg)
		       : layer_send_wait(s->layer, name, msg);
	json_decref(msg);
	if (rc == CH_ELOCAL) {
		answer(resp, 503, "error",
		       "delivered to this server's own members only, NOT published to other "
		       "processes: Redis is down, stalled or refusing commands");
		return;
	}
	if (rc != 0) {
		answer(resp, rc == CH_EINVAL ? 400 : 503, "error", ch_strerror(rc));
		return;
	}
	answer(resp, 202, "status", "accepted");
}

static void group_send_view(struct http_request *req, struct http_response *resp)
{
	publish(req, resp, true);
}

static void send_view(struct http_request *req, struct http_response *resp)
{
	publish(req, resp, false);
}

static const struct view publish_group_view = {"publish_group_send", group_send_view, VIEW_POST,
					       true};
static const struct view publish_send_view = {"publish_send", send_view, VIEW_POST, true};

const struct route server__publish_routes[2] = {
	PATH("_channels/group-send/<str:name>/", &publish_group_view),
	PATH("_channels/send/<str:name>/", &publish_send_view),
};

void server__publish_token_path(int port, char *out, size_t outlen)
{
	snprintf(out, outlen, "/tmp/channels-server-%u-%d.token", (unsigned)getuid(), port);
}

int server__publish_start(struct server_worker *s)
{
	const char *given = s->proc->cfg->publish_token;
	if (given && *given) {
		if (strlen(given) < 16 || strlen(given) >= sizeof(s->proc->publish_token)) {
			LOG(LOG_ERROR, "publish", "--publish-token must be 16 to 127 characters");
			return -1;
		}
		snprintf(s->proc->publish_token, sizeof(s->proc->publish_token), "%s", given);
		return 0;
	}
	server_random_hex(s->proc->publish_token, 32);
	server__publish_token_path(s->proc->port, s->proc->token_file, sizeof(s->proc->token_file));
	/* Replace only a stale file of ours; never follow a link someone planted. */
	struct stat st;
	if (lstat(s->proc->token_file, &st) == 0) {
		if (!S_ISREG(st.st_mode) || st.st_uid != getuid()) {
			LOG(LOG_ERROR, "publish", "%s exists and is not ours: not writing the token",
			    s->proc->token_file);
			s->proc->token_file[0] = '\0';
			return 0;
		}
		unlink(s->proc->token_file);
	}
	int fd = open(s->proc->token_file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		LOG(LOG_WARN, "publish", "cannot write %s: %s", s->proc->token_file, strerror(errno));
		s->proc->token_file[0] = '\0';
		return 0;
	}
	size_t n = strlen(s->proc->publish_token);
	bool ok = write(fd, s->proc->publish_token, n) == (ssize_t)n && write(fd, "\n", 1) == 1;
	close(fd);
	if (!ok) {
		unlink(s->proc->token_file);
		s->proc->token_file[0] = '\0';
	}
	return 0;
}

void server__publish_stop(struct server_worker *s)
{
	if (s->proc->token_file[0])
		unlink(s->proc->token_file);
	s->proc->token_file[0] = '\0';
}
