/*
 * config.c - command-line flags and their CHANNELS_* environment variables:
 * the server's own (one table drives parsing, --help and the README's
 * configuration section), then the settings the apps declare
 * (struct server_setting), parsed and printed the same way.
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server_int.h"

enum opt_kind { OPT_STR, OPT_INT, OPT_SIZE, OPT_DOUBLE, OPT_LOG, OPT_BOOL, OPT_FORMAT, OPT_AUTO };

struct opt {
	const char *flag;  /* long option name */
	const char *env;   /* environment variable */
	enum opt_kind kind;
	size_t offset;     /* into struct server_config */
	const char *help;
};

#define OFF(field) offsetof(struct server_config, field)

static const struct opt opts[] = {
	{"host", "CHANNELS_HOST", OPT_STR, OFF(host), "address to listen on (default 127.0.0.1)"},
	{"port", "CHANNELS_PORT", OPT_INT, OFF(port), "port to listen on (default 8000; 0 = any free port)"},
	{"static-dir", "CHANNELS_STATIC_DIR", OPT_STR, OFF(static_dir), "folder served under /static/"},
	{"templates-dir", "CHANNELS_TEMPLATES_DIR", OPT_STR, OFF(templates_dir), "folder of the page templates"},
	{"secret-key", "CHANNELS_SECRET_KEY", OPT_STR, OFF(secret_key), "key signing session cookies (>= 16 chars; default: random per start)"},
	{"allowed-origins", "CHANNELS_ALLOWED_ORIGINS", OPT_STR, OFF(allowed_origins), "comma-separated Origins allowed to open WebSockets, or * (default: same host)"},
	{"csrf-trusted-origins", "CHANNELS_CSRF_TRUSTED_ORIGINS", OPT_STR, OFF(csrf_trusted_origins), "comma-separated origins (https://a.example, https://*.b.example) whose unsafe requests pass the CSRF Origin check, as Django's CSRF_TRUSTED_ORIGINS (default: none)"},
	{"allowed-hosts", "CHANNELS_ALLOWED_HOSTS", OPT_STR, OFF(allowed_hosts), "comma-separated Host names served, \".example.com\" for subdomains, * for any (default: localhost, 127.0.0.1, [::1] and --host); others get 400"},
	{"max-header-size", "CHANNELS_MAX_HEADER_SIZE", OPT_SIZE, OFF(max_header_size), "largest request line + header fields in bytes (default 32768; over it: 431, a target over 8192: 414)"},
	{"http-timeout", "CHANNELS_HTTP_TIMEOUT", OPT_INT, OFF(http_timeout), "seconds to read a request or keep an idle connection open (default 30)"},
	{"max-message-size", "CHANNELS_MAX_MESSAGE_SIZE", OPT_SIZE, OFF(max_message_size), "largest WebSocket message in bytes, at most 2147483648 (default 1048576; over it: close 1009)"},
	{"max-body-size", "CHANNELS_MAX_BODY_SIZE", OPT_SIZE, OFF(max_body_size), "largest HTTP request body in bytes (default 1048576; over it: 413)"},
	{"max-queue", "CHANNELS_MAX_QUEUE", OPT_SIZE, OFF(max_queue_bytes), "unsent bytes per WebSocket, inclusive, before it is closed 1013 (default: 4 x --max-message-size, at least 4194304)"},
	{"max-connections", "CHANNELS_MAX_CONNECTIONS", OPT_INT, OFF(max_connections), "open WebSockets before handshakes get 503 (default 10000)"},
	{"rate-limit", "CHANNELS_RATE_LIMIT", OPT_DOUBLE, OFF(rate_limit), "messages/s a client may send, 0 = off (default 100; over it: close 1008)"},
	{"rate-burst", "CHANNELS_RATE_BURST", OPT_DOUBLE, OFF(rate_burst), "burst allowance of the rate limit (default 200)"},
	{"ping-interval", "CHANNELS_PING_INTERVAL", OPT_INT, OFF(ping_interval), "seconds a WebSocket may be silent before the server pings it, 0 = never (default 20)"},
	{"ping-timeout", "CHANNELS_PING_TIMEOUT", OPT_INT, OFF(ping_timeout), "seconds after that ping before a silent WebSocket is dropped (default 30)"},
	{"workers", "CHANNELS_WORKERS", OPT_INT, OFF(workers), "event-loop threads sharing the port (default: one per core, at most 64)"},
	{"view-threads", "CHANNELS_VIEW_THREADS", OPT_INT, OFF(view_threads), "threads running views and offloaded work (default 4)"},
	{"redis", "CHANNELS_REDIS", OPT_STR, OFF(redis), "Redis URL(s), comma-separated shards: redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N&password=P] (default: in-memory layer)"},
	{"layer-prefix", "CHANNELS_LAYER_PREFIX", OPT_STR, OFF(layer_prefix), "channel-layer prefix, as channels_redis' prefix (default asgi)"},
	{"layer-capacity", "CHANNELS_LAYER_CAPACITY", OPT_INT, OFF(layer_capacity), "messages queued for one consumer before more are dropped (default 1000)"},
	{"redis-timeout", "CHANNELS_REDIS_TIMEOUT", OPT_DOUBLE, OFF(redis_timeout), "seconds Redis may leave a reply (or a heartbeat) pending before it counts as stalled: the connection is dropped and retried, publishes stay local and are reported (default 5, at least 0.1)"},
	{"redis-format", "CHANNELS_REDIS_FORMAT", OPT_FORMAT, OFF(redis_format), "payload of published messages: msgpack (channels_redis) or json (default msgpack)"},
	{"publish-endpoint", "CHANNELS_PUBLISH_ENDPOINT", OPT_BOOL, OFF(publish_endpoint), "1/0: serve POST /_channels/group-send/<group>/ (default 1)"},
	{"publish-token", "CHANNELS_PUBLISH_TOKEN", OPT_STR, OFF(publish_token), "bearer token of the publish endpoint (default: random, in /tmp/channels-server-<uid>-<port>.token)"},
	{"publish-allow-remote", "CHANNELS_PUBLISH_ALLOW_REMOTE", OPT_BOOL, OFF(publish_allow_remote), "1: the publish endpoint also answers clients that are not local, requests forwarded by a proxy included: the token alone decides (default 0)"},
	{"metrics-path", "CHANNELS_METRICS_PATH", OPT_STR, OFF(metrics_path), "path of the Prometheus metrics, or off (default /metrics; loopback clients only unless --metrics-token)"},
	{"metrics-token", "CHANNELS_METRICS_TOKEN", OPT_STR, OFF(metrics_token), "bearer token that also admits non-loopback clients to the metrics (default: none)"},
	{"access-log", "CHANNELS_ACCESS_LOG", OPT_STR, OFF(access_log), "where the access log goes: - (stdout), a file path, or off (default -)"},
	{"access-log-format", "CHANNELS_ACCESS_LOG_FORMAT", OPT_STR, OFF(access_log_format), "common (one line in Apache's common format + duration) or json (JSON lines) (default common)"},
	{"log-level", "CHANNELS_LOG_LEVEL", OPT_LOG, OFF(log_level), "error, warn, info or debug (default info)"},
	{"uds", "CHANNELS_UDS", OPT_STR, OFF(uds), "listen on this unix socket (mode 0660; a stale one is replaced; removed at exit) instead of --host/--port"},
	{"fd", "CHANNELS_FD", OPT_INT, OFF(fd), "listen on this inherited listening socket instead of --host/--port (systemd's LISTEN_FDS is read without it)"},
	{"proxy-headers", "CHANNELS_PROXY_HEADERS", OPT_BOOL, OFF(proxy_headers), "1: take the client address and scheme from X-Forwarded-For/-Proto or Forwarded sent by a trusted proxy (default 0)"},
	{"forwarded-allow-ips", "CHANNELS_FORWARDED_ALLOW_IPS", OPT_STR, OFF(forwarded_allow_ips), "comma-separated proxies (IPs, CIDRs, * for any) whose forwarding headers are believed; unix-socket peers always are (default 127.0.0.1)"},
	{"root-path", "CHANNELS_ROOT_PATH", OPT_STR, OFF(root_path), "URL prefix the site is mounted under behind a proxy (/app): generated URLs carry it; a request path starting with it is routed without it (default none)"},
	{"cookie-secure", "CHANNELS_COOKIE_SECURE", OPT_AUTO, OFF(cookie_secure), "1/0/auto: mark session and CSRF cookies Secure; auto: when the request came over https through a trusted proxy (default auto)"},
	{"cookie-samesite", "CHANNELS_COOKIE_SAMESITE", OPT_STR, OFF(cookie_samesite), "SameSite of session and CSRF cookies: Lax, Strict or None (None implies Secure) (default Lax)"},
	{"port-file", "CHANNELS_PORT_FILE", OPT_STR, OFF(port_file), "write the bound port to this file once listening"},
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

void server_config_init(struct server_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->host = "127.0.0.1";
	cfg->port = 8000;
	server__data_dirs(&cfg->static_dir, &cfg->templates_dir);
	cfg->max_message_size = 1 << 20;
	cfg->max_body_size = 1 << 20;
	cfg->max_header_size = 32 << 10;
	cfg->http_timeout = 30;
	cfg->max_queue_bytes = 4 << 20;
	cfg->max_connections = 10000;
	cfg->rate_limit = 100;
	cfg->rate_burst = 200;
	cfg->ping_interval = 20;
	cfg->ping_timeout = 30;
	cfg->view_threads = 4;
	cfg->log_level = LOG_INFO;
	cfg->layer_prefix = "asgi";
	cfg->layer_capacity = 1000;
	cfg->redis_timeout = 5;
	cfg->publish_endpoint = true;
	cfg->fd = -1;
	cfg->forwarded_allow_ips = "127.0.0.1";
	cfg->root_path = "";
	cfg->cookie_secure = -1;
	cfg->cookie_samesite = "Lax";
	cfg->metrics_path = "/metrics";
	cfg->access_log = "-";
	cfg->access_log_format = "common";
}

/* --root-path: "" or "/a/b" (a leading slash, no trailing one, no ?#%"). */
static bool root_path_ok(const char *v)
{
	size_t n = strlen(v);
	return n == 0 || (v[0] == '/' && v[n - 1] != '/' && !strpbrk(v, "?#%\"<> \t"));
}

/* --metrics-path: off, or an absolute path of plain characters (a route
 * pattern without converters), not "/" and not under /static/. */
static bool metrics_path_ok(const char *v)
{
	if (!strcmp(v, "off"))
		return true;
	if (v[0] != '/' || !v[1] || strncmp(v, "/static/", 8) == 0)
		return false;
	return strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") ==
	       strlen(v);
}

/* Every entry of a comma- or space-separated list starts with a scheme
 * ("https://..."), as Django 4 requires of CSRF_TRUSTED_ORIGINS. */
static bool origins_have_schemes(const char *list)
{
	for (const char *p = list; *p;) {
		p += strspn(p, ", ");
		size_t n = strcspn(p, ", ");
		const char *sep = n ? strstr(p, "://") : NULL;
		if (n && (!sep || sep == p || sep + 3 > p + n))
			return false;
		p += n;
	}
	return true;
}

/* The range and type of each OPT_INT field (one row each). */
struct int_range {
	size_t offset;
	long min, max;
	bool is_unsigned;
};

static const struct int_range int_ranges[] = {
	{OFF(port), 0, 65535, false},
	{OFF(max_connections), 0, 1000000000, true},
	{OFF(layer_capacity), 1, 1000000000, true},
	{OFF(workers), 1, 64, true},
	{OFF(ping_interval), 0, 86400, false},
	{OFF(ping_timeout), 1, 86400, false},
	{OFF(view_threads), 1, 128, true},
	{OFF(http_timeout), 1, 86400, false},
	{OFF(fd), 0, 65535, false},
};

static const struct int_range *int_range_of(size_t offset)
{
	for (size_t i = 0; i < sizeof(int_ranges) / sizeof(int_ranges[0]); i++)
		if (int_ranges[i].offset == offset)
			return &int_ranges[i];
	assert(!"an OPT_INT option without a row in int_ranges");
	return &int_ranges[0];
}

/* The string options with a format: checked here. */
static bool str_ok(size_t offset, const char *val)
{
	if (offset == OFF(csrf_trusted_origins))
		return origins_have_schemes(val);
	if (offset == OFF(root_path))
		return root_path_ok(val);
	if (offset == OFF(cookie_samesite))
		return !strcmp(val, "Lax") || !strcmp(val, "Strict") || !strcmp(val, "None");
	return true;
}

/* "auto" (-1), or 1/0/true/false/yes/no as OPT_BOOL reads them: 0 or -1. */
static int parse_auto_bool(const char *val, int *out)
{
	if (!strcmp(val, "auto"))
		*out = -1;
	else if (!strcmp(val, "1") || !strcmp(val, "true") || !strcmp(val, "yes"))
		*out = 1;
	else if (!strcmp(val, "0") || !strcmp(val, "false") || !strcmp(val, "no"))
		*out = 0;
	else
		return -1;
	return 0;
}

static int set_opt(struct server_config *cfg, const struct opt *o, const char *val,
		   const char *from)
{
	char *end = NULL;
	void *field = (char *)cfg + o->offset;
	errno = 0;
	switch (o->kind) {
	case OPT_STR:
		if (!str_ok(o->offset, val))
			break;
		if (o->offset == OFF(metrics_path) && !metrics_path_ok(val))
			break;
		if (o->offset == OFF(access_log_format) && strcmp(val, "common") &&
		    strcmp(val, "json"))
			break;
		if (o->offset == OFF(access_log) && !*val)
			break;
		*(const char **)field = val;
		return 0;
	case OPT_INT: {
		long v = strtol(val, &end, 10);
		const struct int_range *r = int_range_of(o->offset);
		if (errno || !*val || *end || v < r->min || v > r->max)
			break;
		if (r->is_unsigned)
			*(unsigned *)field = (unsigned)v;
		else
			*(int *)field = (int)v;
		return 0;
	}
	case OPT_SIZE: {
		unsigned long long v = strtoull(val, &end, 10);
		if (errno || !*val || *end || v < 64 || v > (1ULL << 32))
			break;
		if (o->offset == OFF(max_message_size) && v > (1ULL << 31))
			break; /* the frame reader assembles at most 2 GiB */
		*(size_t *)field = (size_t)v;
		return 0;
	}
	case OPT_DOUBLE: {
		double v = strtod(val, &end);
		if (errno || !*val || *end || v < 0 || v > 1e9)
			break;
		if (o->offset == OFF(redis_timeout) && (v < 0.1 || v > 3600))
			break;
		*(double *)field = v;
		return 0;
	}
	case OPT_BOOL:
		if (!strcmp(val, "1") || !strcmp(val, "true") || !strcmp(val, "yes")) {
			*(bool *)field = true;
			return 0;
		}
		if (!strcmp(val, "0") || !strcmp(val, "false") || !strcmp(val, "no")) {
			*(bool *)field = false;
			return 0;
		}
		break;
	case OPT_AUTO:
		if (parse_auto_bool(val, (int *)field) != 0)
			break;
		return 0;
	case OPT_FORMAT:
		if (!strcmp(val, "msgpack") || !strcmp(val, "json")) {
			*(int *)field = strcmp(val, "json") == 0 ? LAYER_WIRE_JSON : LAYER_WIRE_MSGPACK;
			return 0;
		}
		break;
	case OPT_LOG: {
		int v = log_level_parse(val);
		if (v < 0)
			break;
		cfg->log_level = v;
		return 0;
	}
	}
	fprintf(stderr, "channels-server: invalid value '%s' for %s\n", val, from);
	return -1;
}

/* An app's setting from `val`, into `settings`; -1 after printing why. */
static int set_app_setting(json_t *settings, const struct server_setting *st, const char *val,
			   const char *from)
{
	char *end = NULL;
	errno = 0;
	if (st->kind == SERVER_SETTING_INT) {
		long long v = strtoll(val, &end, 10);
		if (!errno && *val && !*end && v >= st->min && v <= st->max) {
			json_object_set_new(settings, st->key, json_integer(v));
			return 0;
		}
	} else if (*val) {
		json_t *v = json_string(val); /* NULL: not UTF-8 */
		if (v) {
			json_object_set_new(settings, st->key, v);
			return 0;
		}
	}
	fprintf(stderr, "channels-server: invalid value '%s' for %s\n", val, from);
	return -1;
}

/* The apps' settings, in list order: a new array of n_out entries (NULL
 * when there are none), or -1 after printing a clash or a malformed entry. */
static int app_settings_collect(const struct server_app *const apps[],
				const struct server_setting ***out, size_t *n_out)
{
	char err[256];
	size_t n = 0;
	*out = NULL;
	*n_out = 0;
	if (server__apps_check(apps, err, sizeof(err)) != 0)
		goto bad;
	for (size_t a = 0; apps && apps[a]; a++)
		n += apps[a]->n_settings;
	if (n == 0)
		return 0;
	const struct server_setting **list = calloc(n, sizeof(*list));
	if (!list)
		return -1;
	n = 0;
	for (size_t a = 0; apps[a]; a++) {
		for (size_t i = 0; i < apps[a]->n_settings; i++) {
			const struct server_setting *st = &apps[a]->settings[i];
			bool clash = !strcmp(st->flag, "help") || !strcmp(st->flag, "version");
			for (size_t k = 0; k < N_OPTS && !clash; k++)
				clash = !strcmp(st->flag, opts[k].flag) ||
					!strcmp(st->env, opts[k].env);
			if (clash) {
				snprintf(err, sizeof(err), "app %s: --%s or %s is the server's own",
					 apps[a]->name, st->flag, st->env);
				free(list);
				goto bad;
			}
			list[n++] = st;
		}
	}
	*out = list;
	*n_out = n;
	return 0;
bad:
	fprintf(stderr, "channels-server: %s\n", err);
	return -1;
}

static void usage(FILE *f, const struct server_app *const apps[],
		  const struct server_setting *const *app_opts, size_t n_app_opts)
{
	fprintf(f, "usage: channels-server [options]\n\n"
		   "Serves HTTP and WebSocket on one port: the apps below, on the in-memory\n"
		   "channel layer, or on Redis with --redis.\n\napps:\n");
	for (size_t a = 0; apps && apps[a]; a++)
		fprintf(f, "  %-20s %s\n", apps[a]->name,
			apps[a]->description ? apps[a]->description : "");
	fprintf(f, "\noptions (environment variable in brackets):\n");
	for (size_t i = 0; i < N_OPTS; i++)
		fprintf(f, "  --%-18s %s [%s]\n", opts[i].flag, opts[i].help, opts[i].env);
	for (size_t i = 0; i < n_app_opts; i++)
		fprintf(f, "  --%-18s %s [%s]\n", app_opts[i]->flag, app_opts[i]->help,
			app_opts[i]->env);
	fprintf(f, "  --%-18s %s\n  --%-18s %s\n", "help", "print this and exit", "version",
		"print the version and exit");
}

/* The environment, before the flags (so that flags win). 0 or -1. */
static int from_env(struct server_config *cfg, const struct server_setting *const *app_opts,
		    size_t n_app, bool *queue_given)
{
	for (size_t i = 0; i < N_OPTS; i++) {
		const char *v = getenv(opts[i].env);
		if (v && *v && set_opt(cfg, &opts[i], v, opts[i].env) != 0)
			return -1;
		*queue_given |= v && *v && opts[i].offset == OFF(max_queue_bytes) &&
				opts[i].kind == OPT_SIZE;
	}
	for (size_t j = 0; j < n_app; j++) {
		const char *v = getenv(app_opts[j]->env);
		if (v && *v &&
		    set_app_setting(cfg->settings, app_opts[j], v, app_opts[j]->env) != 0)
			return -1;
	}
	return 0;
}

/* The send queue admits at least one message of the largest size a client
 * may send (echoed, or forwarded to a group): by default four of them, and
 * never less than 4 MiB; a smaller --max-queue given is warned about. */
static void queue_default(struct server_config *cfg, bool queue_given)
{
	if (!queue_given) {
		unsigned long long q = 4ULL * cfg->max_message_size;
		cfg->max_queue_bytes = q < (4u << 20) ? 4u << 20 : q > (1ULL << 32) ? 1ULL << 32 : q;
	} else if (cfg->max_queue_bytes < cfg->max_message_size) {
		fprintf(stderr, "channels-server: warning: --max-queue %zu is below "
				"--max-message-size %zu: a message that large is never sent\n",
			cfg->max_queue_bytes, cfg->max_message_size);
	}
}

/* Parses into `cfg` once the apps' settings are known (see server_config_parse). */
static int parse(struct server_config *cfg, const struct server_app *const apps[],
		 const struct server_setting *const *app_opts, size_t n_app, int argc, char **argv)
{
	size_t n_all = N_OPTS + n_app;
	struct option *longopts = calloc(n_all + 3, sizeof(*longopts));
	char flagbuf[64];
	int rc = -1;

	if (!longopts)
		return -1;
	/* Every declared setting has its default, then the environment, then the flags. */
	for (size_t j = 0; j < n_app; j++) {
		const struct server_setting *st = app_opts[j];
		if (st->kind == SERVER_SETTING_INT)
			json_object_set_new(cfg->settings, st->key, json_integer(st->int_default));
		else if (st->str_default)
			json_object_set_new(cfg->settings, st->key, json_string(st->str_default));
	}
	bool queue_given = false;
	if (from_env(cfg, app_opts, n_app, &queue_given) != 0)
		goto out;
	for (size_t i = 0; i < n_all; i++) {
		const char *flag = i < N_OPTS ? opts[i].flag : app_opts[i - N_OPTS]->flag;
		longopts[i] = (struct option){flag, required_argument, NULL, (int)(i + 256)};
	}
	longopts[n_all] = (struct option){"help", no_argument, NULL, 'h'};
	longopts[n_all + 1] = (struct option){"version", no_argument, NULL, 'V'};
	longopts[n_all + 2] = (struct option){NULL, 0, NULL, 0};

	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout, apps, app_opts, n_app);
			rc = 1;
			goto out;
		}
		if (c == 'V') {
			printf("channels-server %s\n", CHANNELS_VERSION);
			rc = 1;
			goto out;
		}
		if (c < 256 || c >= (int)(256 + n_all)) {
			usage(stderr, apps, app_opts, n_app);
			goto out;
		}
		size_t i = (size_t)(c - 256);
		snprintf(flagbuf, sizeof(flagbuf), "--%s", longopts[i].name);
		if (i >= N_OPTS) {
			const struct server_setting *st = app_opts[i - N_OPTS];
			if (set_app_setting(cfg->settings, st, optarg, flagbuf) != 0)
				goto out;
			continue;
		}
		const struct opt *o = &opts[i];
		if (set_opt(cfg, o, optarg, flagbuf) != 0)
			goto out;
		queue_given |= o->offset == OFF(max_queue_bytes) && o->kind == OPT_SIZE;
	}
	queue_default(cfg, queue_given);
	if (optind < argc) {
		fprintf(stderr, "channels-server: unexpected argument '%s'\n", argv[optind]);
		usage(stderr, apps, app_opts, n_app);
		goto out;
	}
	/* libuv reads its pool size once, at the first uv_queue_work(). */
	char threads[16];
	snprintf(threads, sizeof(threads), "%u", cfg->view_threads);
	setenv("UV_THREADPOOL_SIZE", threads, 1);
	rc = 0;
out:
	free(longopts);
	return rc;
}

int server_config_parse(struct server_config *cfg, const struct server_app *const apps[], int argc,
			char **argv)
{
	const struct server_setting **app_opts;
	size_t n_app;

	if (!cfg->settings)
		cfg->settings = json_object();
	if (!cfg->settings || app_settings_collect(apps, &app_opts, &n_app) != 0)
		return -1;
	int rc = parse(cfg, apps, app_opts, n_app, argc, argv);
	free(app_opts);
	return rc;
}
