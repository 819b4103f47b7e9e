/*
 * ws_handshake.c - the WebSocket handshake read literally (RFC 6455 4.2):
 * the request's checks (GET, Connection: upgrade, one 16-byte key, version
 * 13), the limits, the route, the origin and the subprotocol; the scope a
 * consumer sees; the 101 answer. ws_conn.c opens the consumer in between.
 * Loop thread.
 */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server_int.h"

/* True when `key` is the base64 encoding of 16 bytes (RFC 6455 4.2.1 5). */
static bool key_valid(const char *key)
{
	if (strlen(key) != 24 || strcmp(key + 22, "==") != 0)
		return false;
	for (int i = 0; i < 22; i++) {
		char c = key[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/'))
			return false;
	}
	return true;
}

void server__ws_refused(int status, const char *why, const char *path)
{
	static struct log_limit lim = LOG_LIMIT_INIT(10);
	LOG_LIMITED(&lim, LOG_INFO, "ws", "handshake %s refused: %d %s", path ? path : "?", status,
		    why);
}

/* Logs and returns `status` for server__ws_handshake_check(). */
static int refuse(int status, const char *why, const char *path, const char **why_out)
{
	server__ws_refused(status, why, path);
	*why_out = why;
	return status;
}

/* Packs the scope of a WebSocket from its handshake request. */
void server__ws_scope_from_request(struct http_request *req, json_t *kwargs, const char *offered,
				   struct consumer_scope *scope)
{
	memset(scope, 0, sizeof(*scope));
	scope->path = strdup(req->path);
	scope->query_string = strdup(req->query_string);
	scope->client_addr = strdup(req->client_addr);
	scope->subprotocols = offered ? strdup(offered) : NULL;
	/* Headers packed in one block: a JSON object per connection would cost
	 * more than everything else it holds. */
	size_t hlen = 1;
	for (size_t i = 0; i < req->n_headers; i++)
		hlen += strlen(req->headers[i].name) + strlen(req->headers[i].value) + 2;
	scope->headers = malloc(hlen);
	if (scope->headers) {
		char *p = scope->headers;
		for (size_t i = 0; i < req->n_headers; i++) {
			p = stpcpy(p, req->headers[i].name) + 1;
			p = stpcpy(p, req->headers[i].value) + 1;
		}
		*p = '\0';
	}
	if (json_object_size(kwargs) == 0) {
		json_decref(kwargs);
		kwargs = NULL;
	}
	scope->kwargs = kwargs;
	scope->session = json_object_size(req->session) ? json_incref(req->session) : NULL;
	server__session_user(req->session, &scope->username, &scope->is_authenticated);
}

/* Writes the 101 answer (RFC 6455 4.2.2). 0, or -1 when the socket failed. */
int server__ws_write_accept(struct lws *wsi, const char *key, const char *subprotocol)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char md[SHA_DIGEST_LENGTH];
	char concat[24 + sizeof(guid)], accept[32];
	snprintf(concat, sizeof(concat), "%s%s", key, guid);
	SHA1((const unsigned char *)concat, strlen(concat), md);
	EVP_EncodeBlock((unsigned char *)accept, md, SHA_DIGEST_LENGTH);
	unsigned char buf[LWS_PRE + 512];
	char *p = (char *)buf + LWS_PRE;
	int n = snprintf(p, sizeof(buf) - LWS_PRE,
			 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
			 accept, subprotocol ? "Sec-WebSocket-Protocol: " : "",
			 subprotocol ? subprotocol : "", subprotocol ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(buf) - LWS_PRE)
		return -1;
	return lws_write(wsi, (unsigned char *)p, (size_t)n, LWS_WRITE_RAW) < 0 ? -1 : 0;
}

int server__ws_handshake_check(struct server_worker *s, struct http_request *req,
			       const struct consumer_class **cls_out, json_t **kwargs_out,
			       const char **why)
{
	const char *path = req->path;
	const char *conn = http_request_header(req, "connection");
	const char *key = http_request_header(req, "sec-websocket-key");
	const char *version = http_request_header(req, "sec-websocket-version");
	if (strcmp(req->method, "GET") != 0)
		return refuse(400, "a WebSocket handshake is a GET", path, why);
	/* RFC 6455 11.3.1, 11.3.5: each at most once in a request. */
	int n_key = 0, n_version = 0;
	for (size_t i = 0; i < req->n_headers; i++) {
		n_key += strcmp(req->headers[i].name, "sec-websocket-key") == 0;
		n_version += strcmp(req->headers[i].name, "sec-websocket-version") == 0;
	}
	if (n_key > 1 || n_version > 1)
		return refuse(400, "Sec-WebSocket-Key or -Version more than once", path, why);
	if (!conn || !http_token_list_has(conn, "upgrade"))
		return refuse(400, "Connection does not hold \"Upgrade\"", path, why);
	if (!key || !key_valid(key))
		return refuse(400, "Sec-WebSocket-Key is not 16 bytes in base64", path, why);
	if (!version)
		return refuse(400, "no Sec-WebSocket-Version", path, why);
	if (strcmp(version, "13") != 0)
		return refuse(426, "Sec-WebSocket-Version is not 13", path, why);
	if (req->body_len)
		return refuse(400, "a WebSocket handshake has no body", path, why);
	if (s->stopping)
		return refuse(503, "server shutting down", path, why);
	if (atomic_load(&s->proc->ws_total) >= s->proc->cfg->max_connections)
		return refuse(503, "too many connections", path, why);

	json_t *kwargs = NULL;
	const struct route *rt = router_match(s->proc->ws_router, path, &kwargs);
	if (!rt)
		return refuse(404, "no WebSocket route", path, why);
	if (!server__origin_allowed(s, http_request_header(req, "origin"),
				    http_request_header(req, "host"))) {
		json_decref(kwargs);
		return refuse(403, "origin not allowed", path, why);
	}
	const struct consumer_class *cls = rt->target;
	const char *offered = http_request_header(req, "sec-websocket-protocol");
	if (offered && !consumer_class_subprotocol(cls, offered, NULL)) {
		json_decref(kwargs);
		return refuse(400, "no supported subprotocol", path, why);
	}
	*cls_out = cls;
	*kwargs_out = kwargs;
	return 0;
}

