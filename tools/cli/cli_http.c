/*
 * cli_http.c - publishing through the server's HTTP publish endpoint
 * (POST /_channels/group-send/<group>/ or /_channels/send/<channel>/).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

/* The server's body, trimmed to one short line for the message. */
static void body_excerpt(const struct client_response *r, char *out, size_t outlen)
{
	size_t n = r->body ? r->body_len : 0, i;

	if (n >= outlen)
		n = outlen - 1;
	for (i = 0; i < n; i++)
		out[i] = (r->body[i] == '\n' || r->body[i] == '\r') ? ' ' : r->body[i];
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

static const char *status_hint(int status, bool have_token)
{
	switch (status) {
	case 400:
		return "the server rejected the name or the message";
	case 401:
		return have_token ? "the token was refused (is it the one of the server on this port?)"
				  : "no token: pass --token or --token-file, or run as the user "
				    "running the server so its token file can be read";
	case 403:
		return "the publish endpoint only answers on loopback";
	case 404:
		return "no publish endpoint: the server is too old or publishing is disabled";
	case 405:
		return "method not allowed: is this a channels-server?";
	case 413:
		return "the message is too large for the server";
	case 503:
		return "the server cannot reach its channel layer right now (Redis down?)";
	default:
		return "unexpected answer";
	}
}

int cli_http_publish(const struct cli_opts *o, const json_t *msg, const char *token,
		     char *err, size_t errlen)
{
	struct client_response resp = { 0 };
	char path[64 + LAYER_NAME_MAX], headers[1200], excerpt[512];
	char *body;
	int rc, timeout_ms, ex;

	snprintf(path, sizeof(path), "/_channels/%s/%s/",
		 o->cmd == CLI_CMD_SEND ? "send" : "group-send", o->target);
	if (token && *token) {
		if ((size_t)snprintf(headers, sizeof(headers),
				     "Content-Type: application/json\r\n"
				     "Authorization: Bearer %s\r\n", token) >= sizeof(headers)) {
			snprintf(err, errlen, "the token is too long");
			return CLI_EXIT_USAGE;
		}
	} else {
		snprintf(headers, sizeof(headers), "Content-Type: application/json\r\n");
	}
	body = json_dumps(msg, JSON_COMPACT);
	if (!body) {
		snprintf(err, errlen, "out of memory");
		return CLI_EXIT_USAGE;
	}
	timeout_ms = o->timeout > 0 ? (int)(o->timeout * 1000) : 10000;
	rc = client_http_request(o->http_host, o->http_port, "POST", path, headers, body,
				 strlen(body), timeout_ms, &resp);
	free(body);
	if (rc != 0) {
		if (rc == CH_ECONNECT)
			snprintf(err, errlen, "cannot reach the server at %s: is channels-server "
				 "running? For another process without Redis, see README", o->url);
		else
			snprintf(err, errlen, "cannot reach the server at %s: %s", o->url,
				 ch_strerror(rc));
		client_response_clear(&resp);
		return CLI_EXIT_UNREACHABLE;
	}
	ex = cli_http_status_exit(resp.status);
	if (ex != CLI_EXIT_OK) {
		body_excerpt(&resp, excerpt, sizeof(excerpt));
		snprintf(err, errlen, "%s answered %d: %s%s%s", o->url, resp.status,
			 status_hint(resp.status, token && *token), excerpt[0] ? ": " : "",
			 excerpt);
	}
	client_response_clear(&resp);
	return ex;
}
