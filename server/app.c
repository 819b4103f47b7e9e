/*
 * app.c - the program's apps (struct server_app, server.h): their tables
 * checked, their routes joined after the server's own into the two
 * routers, and the one identity hook.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

/* Set by server__apps_start() before any worker thread or pool thread
 * exists; read-only while the server runs. */
static server_identity_cb identity_hook;

static bool setting_ok(const struct server_setting *st)
{
	if (!st->key || !*st->key || !st->flag || !*st->flag || !st->env || !*st->env || !st->help)
		return false;
	if (st->kind == SERVER_SETTING_INT)
		return st->min <= st->max;
	return st->kind == SERVER_SETTING_STR;
}

/* Some earlier setting of the apps (up to app a, entry i) already uses
 * st's key, flag or environment variable. */
static bool setting_clash(const struct server_app *const apps[], size_t a, size_t i,
			  const struct server_setting *st)
{
	for (size_t b = 0; b <= a; b++) {
		size_t n = b == a ? i : apps[b]->n_settings;
		for (size_t j = 0; j < n; j++) {
			const struct server_setting *o = &apps[b]->settings[j];
			if (!strcmp(o->key, st->key) || !strcmp(o->flag, st->flag) ||
			    !strcmp(o->env, st->env))
				return true;
		}
	}
	return false;
}

int server__apps_check(const struct server_app *const apps[], char *err, size_t errlen)
{
	const struct server_app *with_hook = NULL;
	for (size_t a = 0; apps && apps[a]; a++) {
		const struct server_app *app = apps[a];
		if (!app->name || !*app->name) {
			snprintf(err, errlen, "app %zu of the list has no name", a);
			return -1;
		}
		if ((app->n_http_routes && !app->http_routes) ||
		    (app->n_ws_routes && !app->ws_routes) || (app->n_settings && !app->settings)) {
			snprintf(err, errlen, "app %s: a table with entries is NULL", app->name);
			return -1;
		}
		for (size_t i = 0; i < app->n_settings; i++) {
			const struct server_setting *st = &app->settings[i];
			if (!setting_ok(st)) {
				snprintf(err, errlen,
					 "app %s: setting %zu is incomplete (key, flag, env, "
					 "help, kind, min <= max)",
					 app->name, i);
				return -1;
			}
			if (setting_clash(apps, a, i, st)) {
				snprintf(err, errlen,
					 "app %s: setting %s (--%s, %s) is declared twice",
					 app->name, st->key, st->flag, st->env);
				return -1;
			}
		}
		if (app->identity && with_hook) {
			snprintf(err, errlen, "apps %s and %s both have an identity hook",
				 with_hook->name, app->name);
			return -1;
		}
		if (app->identity)
			with_hook = app;
	}
	return 0;
}

/* The routes of every app (after `n_own` of the server's own), as one new
 * array in *out; -1 when out of memory. */
static int routes_join(const struct server_app *const apps[], bool websocket,
		       const struct route *own, size_t n_own, struct route **out, size_t *n_out)
{
	size_t n = n_own;
	for (size_t a = 0; apps && apps[a]; a++)
		n += websocket ? apps[a]->n_ws_routes : apps[a]->n_http_routes;
	struct route *r = calloc(n + 1, sizeof(*r));
	if (!r)
		return -1;
	if (n_own)
		memcpy(r, own, n_own * sizeof(*r));
	n = n_own;
	for (size_t a = 0; apps && apps[a]; a++) {
		size_t k = websocket ? apps[a]->n_ws_routes : apps[a]->n_http_routes;
		if (k)
			memcpy(r + n, websocket ? apps[a]->ws_routes : apps[a]->http_routes,
			       k * sizeof(*r));
		n += k;
	}
	*out = r;
	*n_out = n;
	return 0;
}

int server__apps_start(struct server_process *p, const struct server_app *const apps[], char *err,
		       size_t errlen)
{
	if (server__apps_check(apps, err, errlen) != 0)
		return -1;
	identity_hook = NULL;
	for (size_t a = 0; apps && apps[a]; a++)
		if (apps[a]->identity)
			identity_hook = apps[a]->identity;

	/* The server's own routes (the publish endpoint, metrics.c's, status.c's) come before the apps'.
	 * The router keeps copies of the entries: the joined arrays go. */
	struct route *http = NULL, *ws = NULL;
	size_t n_http = 0, n_ws = 0;
	struct route own[6], own_ws[1];
	size_t n_own = 0, n_status = 0, n_own_ws = 0;
	if (p->cfg->publish_endpoint) {
		memcpy(own, server__publish_routes, sizeof(server__publish_routes));
		n_own = 2;
	}
	n_own += server__obs_routes(p->cfg, own + n_own); /* /healthz, /readyz, /metrics */
	server__status_routes(p, own + n_own, &n_status, own_ws, &n_own_ws); /* /status/ */
	n_own += n_status;
	int rc = -1;
	if (routes_join(apps, false, own, n_own, &http, &n_http) != 0 ||
	    routes_join(apps, true, own_ws, n_own_ws, &ws, &n_ws) != 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (router_new(http, n_http, &p->http_router, err, errlen) == 0 &&
	    router_new(ws, n_ws, &p->ws_router, err, errlen) == 0)
		rc = 0;
out:
	free(http);
	free(ws);
	return rc;
}

void server__identity(enum server_scope_type type, const json_t *session, struct server_user *user)
{
	user->username = NULL;
	user->is_authenticated = false;
	if (identity_hook)
		identity_hook(type, session, user);
}
