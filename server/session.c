/*
 * session.c - the signed session cookie, the CSRF token, the user a request
 * or a WebSocket scope carries, the origin policy, template rendering for
 * views and the apps' settings. Everything here may run on any thread.
 */
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "server_int.h"

#define SESSION_COOKIE "sessionid"
#define CSRF_COOKIE "csrftoken"
#define SESSION_MAX_AGE (14LL * 24 * 3600) /* two weeks, as Django */

static json_t *app_settings;

void server_random_hex(char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[64];
	if (n > sizeof(raw))
		n = sizeof(raw);
	if (RAND_bytes(raw, (int)n) != 1) {
		/* RAND_bytes only fails when the OS has no entropy: refuse to go on quietly. */
		LOG(LOG_ERROR, "session", "no randomness available");
		abort();
	}
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * n] = '\0';
}

void server__session_load(struct server_worker *s, struct http_request *req)
{
	const char *cookie = json_string_value(json_object_get(req->cookies, SESSION_COOKIE));
	json_t *session = NULL;
	if (cookie) {
		int rc = http_unsign_json(s->proc->secret, s->proc->secret_len, cookie, (long long)time(NULL),
					  SESSION_MAX_AGE, &session);
		if (rc != 0)
			LOG(LOG_DEBUG, "session", "session cookie refused: %s", ch_strerror(rc));
	}
	json_decref(req->session);
	req->session = session ? session : json_object();
	req->session_modified = false;
}

void server__session_user(const json_t *session, char **username, bool *is_authenticated)
{
	struct server_user user;
	server__identity(SERVER_SCOPE_WEBSOCKET, session, &user);
	*username = user.username;
	*is_authenticated = user.is_authenticated;
}

/* --cookie-secure (auto: the request is https) and --cookie-samesite;
 * SameSite=None requires Secure (browsers drop it otherwise). */
static int add_cookie(const struct server_worker *s, const struct http_request *req,
		      struct http_response *resp, const char *name, const char *value,
		      long long max_age, bool http_only)
{
	const struct server_config *cfg = s->proc->cfg;
	const char *samesite = cfg->cookie_samesite ? cfg->cookie_samesite : "Lax";
	bool secure = cfg->cookie_secure < 0 ? req->is_secure : cfg->cookie_secure > 0;
	secure |= strcmp(samesite, "None") == 0;
	char *line = NULL;
	if (asprintf(&line, "%s=%s; Path=/; Max-Age=%lld; SameSite=%s%s%s", name, value, max_age,
		     samesite, secure ? "; Secure" : "", http_only ? "; HttpOnly" : "") < 0)
		return CH_ENOMEM;
	int rc = http_response_add_header(resp, "Set-Cookie", line);
	free(line);
	return rc;
}

void server__session_save(struct server_worker *s, struct http_request *req, struct http_response *resp,
			  bool csrf_is_new)
{
	if (req->session_modified) {
		char *v = http_sign_json(s->proc->secret, s->proc->secret_len, req->session, (long long)time(NULL));
		if (v)
			add_cookie(s, req, resp, SESSION_COOKIE, v, SESSION_MAX_AGE, true);
		free(v);
	}
	if (csrf_is_new && req->csrf_token)
		add_cookie(s, req, resp, CSRF_COOKIE, req->csrf_token, 365LL * 24 * 3600, false);
}

/* https as a trusted proxy says (--proxy-headers: Django's
 * SECURE_PROXY_SSL_HEADER); the listener itself has no TLS. */
static bool request_is_secure(const struct http_request *req)
{
	return req->is_secure;
}

static bool csrf_fail(char *why, size_t whylen, const char *reason)
{
	snprintf(why, whylen, "CSRF verification failed. %s", reason);
	return false;
}

bool server__csrf_check(const struct http_request *req, char *why, size_t whylen)
{
	const struct server_worker *s = req->app;
	const char *trusted = s ? s->proc->cfg->csrf_trusted_origins : NULL;
	const char *host = http_request_header(req, "host");
	bool secure = request_is_secure(req);

	const char *origin = http_request_header(req, "origin");
	if (origin) {
		char *good = NULL;
		if (host && asprintf(&good, "%s://%s", secure ? "https" : "http", host) < 0)
			good = NULL;
		bool ok = http_csrf_origin_ok(origin, good, trusted);
		free(good);
		if (!ok) {
			snprintf(why, whylen, "CSRF verification failed. Origin checking failed - "
					      "%s does not match any trusted origins.", origin);
			return false;
		}
	} else if (secure) {
		char buf[512];
		const char *bad = http_csrf_referer_check(http_request_header(req, "referer"), host,
							  trusted, buf, sizeof(buf));
		if (bad)
			return csrf_fail(why, whylen, bad);
	}

	/* Several csrftoken cookies with different values: one may have been
	 * set by a sibling subdomain (cookie tossing), and the header does not
	 * say which is ours. Whichever one we picked, the attacker can choose
	 * to be it (a longer Path comes first, a later one comes last), so no
	 * choice is safe: fail closed. */
	if (http_cookie_ambiguous(http_request_header(req, "cookie"), CSRF_COOKIE))
		return csrf_fail(why, whylen, "CSRF cookie ambiguous: several csrftoken cookies "
					      "with different values.");
	const char *cookie = json_string_value(json_object_get(req->cookies, CSRF_COOKIE));
	if (!cookie)
		return csrf_fail(why, whylen, "CSRF cookie not set.");
	if (strlen(cookie) != 32)
		return csrf_fail(why, whylen, "CSRF cookie has incorrect length.");
	json_t *form = http_request_form(req);
	const char *sent = json_string_value(json_object_get(form, "csrfmiddlewaretoken"));
	if (!sent || !*sent) /* Django: an empty form field falls back to the header */
		sent = http_request_header(req, "x-csrftoken");
	bool ok = false;
	if (!sent)
		csrf_fail(why, whylen, "CSRF token missing.");
	else if (strlen(sent) != 32 || CRYPTO_memcmp(sent, cookie, 32) != 0)
		csrf_fail(why, whylen, "CSRF token incorrect.");
	else
		ok = true;
	json_decref(form);
	return ok;
}

/* "https://Example.com:8000" -> "example.com:8000" (scheme dropped). */
static void origin_hostport(const char *origin, char *out, size_t outlen)
{
	const char *p = strstr(origin, "://");
	p = p ? p + 3 : origin;
	size_t n = strcspn(p, "/");
	if (n >= outlen)
		n = outlen - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
	out[n] = '\0';
}

bool server__origin_allowed(const struct server_worker *s, const char *origin, const char *host)
{
	/* No Origin: not a browser, so no cross-site hijacking to prevent. */
	if (!origin || !*origin)
		return true;
	const char *list = s->proc->cfg->allowed_origins;
	if (list && *list) {
		const char *p = list;
		while (*p) {
			while (*p == ',' || *p == ' ')
				p++;
			size_t n = strcspn(p, ", ");
			if (n == 1 && *p == '*')
				return true;
			if (n && strlen(origin) == n && strncasecmp(origin, p, n) == 0)
				return true;
			p += n;
		}
		return false;
	}
	if (!host)
		return false;
	char a[256], b[256];
	origin_hostport(origin, a, sizeof(a));
	origin_hostport(host, b, sizeof(b));
	return strcmp(a, b) == 0;
}

int server_render(struct http_request *req, struct http_response *resp, const char *template_name,
		  json_t *ctx)
{
	struct server_worker *s = req->app;
	char err[256];
	char *out = NULL;
	size_t outlen = 0;

	if (!ctx)
		ctx = json_object();
	if (!json_object_get(ctx, "request"))
		json_object_set_new(ctx, "request", json_pack("{s:s}", "path", req->path));
	if (!json_object_get(ctx, "user")) {
		struct server_user user;
		server_request_user(req, &user);
		json_object_set_new(ctx, "user",
				    json_pack("{s:s,s:b}", "username",
					      user.username ? user.username : "",
					      "is_authenticated", user.is_authenticated));
		free(user.username);
	}
	json_object_set_new(ctx, "csrf_token", json_string(req->csrf_token ? req->csrf_token : ""));
	const char *root = s->proc->cfg->root_path ? s->proc->cfg->root_path : "";
	char static_url[PATH_MAX];
	snprintf(static_url, sizeof(static_url), "%s/static/", root);
	json_object_set_new(ctx, "static_url", json_string(static_url));
	if (!json_object_get(ctx, "root_path"))
		json_object_set_new(ctx, "root_path", json_string(root));

	int rc = tmpl_render(s->proc->tmpl, template_name, ctx, &out, &outlen, err, sizeof(err));
	json_decref(ctx);
	if (rc != 0) {
		LOG(LOG_ERROR, "template", "%s: %s", template_name, err);
		http_response_error(resp, 500, "The page could not be rendered.");
		return -1;
	}
	resp->body.len = 0;
	text_buf_append(&resp->body, out, outlen);
	free(out);
	return 0;
}

void server_request_user(const struct http_request *req, struct server_user *user)
{
	server__identity(SERVER_SCOPE_HTTP, req->session, user);
}

int server_group_send(struct http_request *req, const char *group, json_t *msg)
{
	struct server_worker *s = req->app;
	return layer_group_send_threadsafe(s->layer, group, msg);
}

long long server_setting_int(const char *key, long long fallback)
{
	json_t *v = json_object_get(app_settings, key);
	return json_is_integer(v) ? json_integer_value(v) : fallback;
}

const char *server_setting_str(const char *key, const char *fallback)
{
	const char *v = json_string_value(json_object_get(app_settings, key));
	return v ? v : fallback;
}

void server__settings_set(json_t *settings)
{
	app_settings = settings;
}
