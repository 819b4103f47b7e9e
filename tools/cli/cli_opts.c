/*
 * cli_opts.c - channels-cli's options, environment, token file and message
 * checks. No I/O except reading the token file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return CLI_EXIT_USAGE;
}

const char *cli_getenv(const char *name)
{
	return getenv(name);
}

void cli_usage(FILE *f)
{
	fputs(
"Usage:\n"
"  channels-cli [options] group-send <group> '<json object with \"type\">'\n"
"  channels-cli [options] send <channel> '<json object with \"type\">'\n"
"  channels-cli [options] listen <group>\n"
"\n"
"Publishes a message into the channel layer of a running channels-server from\n"
"another process, or prints what a group receives.\n"
"\n"
"  group-send  deliver the message to every member of <group>\n"
"  send        deliver the message to one consumer's channel name\n"
"  listen      print each message <group> receives, one compact JSON object per\n"
"              line on stdout (flushed per line), until SIGINT/SIGTERM, --count N\n"
"              messages or --timeout S seconds (needs --redis)\n"
"\n"
"Transport: with --redis, the message is PUBLISHed straight to Redis the way\n"
"channels_redis' pub/sub layer does (channel \"<prefix>__group__<group>\" or the\n"
"channel name, on the shard crc32(name) & 0xFFF picks). Without --redis, it is\n"
"POSTed to the server's publish endpoint (/_channels/group-send/<group>/ or\n"
"/_channels/send/<channel>/), which only answers on loopback and needs the\n"
"token the server writes to /tmp/channels-server-<uid>-<port>.token.\n"
"\n"
"Options (environment variable in brackets; options win):\n"
"  --redis URL[,URL...]   Redis URL(s), one per shard [CHANNELS_REDIS]:\n"
"                         redis://[[user]:password@]host[:port][/db],\n"
"                         unix:///path/redis.sock[?password=P]\n"
"  --layer-prefix P       layer prefix, default \"asgi\" [CHANNELS_LAYER_PREFIX]\n"
"  --format msgpack|json  payload published to Redis, default msgpack\n"
"                         [CHANNELS_REDIS_FORMAT]\n"
"  --url http://HOST:PORT the server, default http://127.0.0.1:8000 [CHANNELS_URL]\n"
"  --token T              publish token [CHANNELS_PUBLISH_TOKEN]\n"
"  --token-file F         read the token from F [CHANNELS_PUBLISH_TOKEN_FILE];\n"
"                         default: the server's file above, used only when it is\n"
"                         a regular file of yours with mode 0600 or stricter\n"
"  --count N              listen: exit after N messages\n"
"  --timeout S            listen: exit after S seconds (send: request timeout,\n"
"                         default 10)\n"
"  -v, --verbose          notes on stderr (Redis: how many subscribers got it;\n"
"                         listen: when the subscription is active)\n"
"  -h, --help             this text\n"
"  --version              the version\n"
"\n"
"Exit status: 0 ok; 1 listen --timeout elapsed before --count messages;\n"
"2 usage error or invalid name/JSON/token file; 3 cannot reach Redis or the\n"
"server, or the server answered 503 (the message was not published beyond it:\n"
"its Redis is down, stalled or refusing commands); 4 the server or Redis refused\n"
"(401 bad token, 403 not loopback, 404 no publish endpoint, 413 too large).\n", f);
}

int cli_http_url_parse(const char *url, char *host, size_t hostlen, int *port,
		       char *err, size_t errlen)
{
	const char *p, *h, *hend, *colon = NULL;
	size_t n;

	if (strncmp(url, "https://", 8) == 0) {
		fail(err, errlen, "%s: https is not supported (use http:// on loopback)", url);
		return -1;
	}
	if (strncmp(url, "http://", 7) != 0) {
		fail(err, errlen, "%s: the URL must start with http://", url);
		return -1;
	}
	h = url + 7;
	if (*h == '[') {
		hend = strchr(h, ']');
		if (!hend) {
			fail(err, errlen, "%s: unterminated [IPv6] host", url);
			return -1;
		}
		hend++;
	} else {
		hend = h + strcspn(h, ":/");
	}
	n = (size_t)(hend - h);
	if (n == 0 || n >= hostlen) {
		fail(err, errlen, "%s: missing or too long host", url);
		return -1;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	*port = 80;
	p = hend;
	if (*p == ':') {
		char *end;
		long v;

		colon = p;
		errno = 0;
		v = strtol(colon + 1, &end, 10);
		if (end == colon + 1 || errno || v <= 0 || v > 65535 ||
		    (*end && strcmp(end, "/") != 0)) {
			fail(err, errlen, "%s: bad port", url);
			return -1;
		}
		*port = (int)v;
	} else if (*p && strcmp(p, "/") != 0) {
		fail(err, errlen, "%s: expected http://HOST:PORT without a path", url);
		return -1;
	}
	return 0;
}

static int split_redis_urls(struct cli_opts *o, char *err, size_t errlen)
{
	const char *p = o->redis;

	o->n_redis_urls = 0;
	for (;;) {
		size_t n = strcspn(p, ",");
		struct layer_redis_url parsed;
		char perr[200];

		if (n == 0)
			return fail(err, errlen, "--redis: empty URL in \"%s\"", o->redis);
		if (o->n_redis_urls == CLI_MAX_SHARDS)
			return fail(err, errlen, "--redis: more than %d URLs", CLI_MAX_SHARDS);
		if (n >= sizeof(o->redis_urls[0]))
			return fail(err, errlen, "--redis: URL too long");
		memcpy(o->redis_urls[o->n_redis_urls], p, n);
		o->redis_urls[o->n_redis_urls][n] = '\0';
		if (layer_redis_url_parse(o->redis_urls[o->n_redis_urls], &parsed, perr,
					  sizeof(perr)) != 0)
			return fail(err, errlen, "--redis: %s: %s", o->redis_urls[o->n_redis_urls],
				    perr);
		o->n_redis_urls++;
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

/* "--name value" or "--name=value"; *i advances past what was used. */
static const char *opt_value(const char *name, int argc, char **argv, int *i, bool *matched,
			     bool *missing)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	*matched = false;
	*missing = false;
	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=') {
		*matched = true;
		return a + n + 1;
	}
	if (a[n] != '\0')
		return NULL;
	*matched = true;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	(*i)++;
	return argv[*i];
}

static const char *const value_opts[] = {
	"--redis", "--layer-prefix", "--format", "--url", "--token", "--token-file",
	"--count", "--timeout",
};

enum { OPT_REDIS, OPT_PREFIX, OPT_FORMAT, OPT_URL, OPT_TOKEN, OPT_TOKEN_FILE, OPT_COUNT,
       OPT_TIMEOUT, OPT_N };

static int set_format(struct cli_opts *o, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "msgpack") == 0)
		o->format = LAYER_WIRE_MSGPACK;
	else if (strcmp(v, "json") == 0)
		o->format = LAYER_WIRE_JSON;
	else
		return fail(err, errlen, "--format: expected msgpack or json, not \"%s\"", v);
	return 0;
}

static int check_command(struct cli_opts *o, const char **pos, int npos, char *err,
			 size_t errlen)
{
	int want;

	if (npos == 0)
		return fail(err, errlen, "missing command (group-send, send or listen); see --help");
	if (strcmp(pos[0], "group-send") == 0) {
		o->cmd = CLI_CMD_GROUP_SEND;
		want = 3;
	} else if (strcmp(pos[0], "send") == 0) {
		o->cmd = CLI_CMD_SEND;
		want = 3;
	} else if (strcmp(pos[0], "listen") == 0) {
		o->cmd = CLI_CMD_LISTEN;
		want = 2;
	} else {
		return fail(err, errlen, "unknown command \"%s\" (group-send, send or listen)",
			    pos[0]);
	}
	if (npos != want)
		return fail(err, errlen, "%s takes %s, got %d argument%s", pos[0],
			    want == 3 ? "2 arguments (a name and a JSON object)"
				      : "1 argument (a group name)",
			    npos - 1, npos == 2 ? "" : "s");
	o->target = pos[1];
	o->message = want == 3 ? pos[2] : NULL;
	if (o->cmd == CLI_CMD_SEND) {
		if (!layer_valid_channel_name(o->target))
			return fail(err, errlen,
				    "invalid channel name \"%s\": use [a-zA-Z0-9-_.], optionally "
				    "\"!\" and a suffix, shorter than %d characters",
				    o->target, LAYER_NAME_MAX);
	} else if (!layer_valid_group_name(o->target)) {
		return fail(err, errlen,
			    "invalid group name \"%s\": use [a-zA-Z0-9-_.], shorter than %d "
			    "characters", o->target, LAYER_NAME_MAX);
	}
	if (o->cmd == CLI_CMD_LISTEN && !o->redis)
		return fail(err, errlen, "listen needs --redis (the in-memory layer is inside "
			    "the server process)");
	return 0;
}

/*
 * The options' values (`val`, from the command line; NULL: unset) over
 * their environment variables, then the defaults, into `o`; --format,
 * --count and --timeout checked. 0 or CLI_EXIT_USAGE (err set).
 */
static int opts_from_values(struct cli_opts *o, const char *const *val, cli_getenv_fn env,
			    char *err, size_t errlen)
{
	const char *fmt;
	int rc;

	o->redis = val[OPT_REDIS] ? val[OPT_REDIS] : env("CHANNELS_REDIS");
	if (o->redis && !*o->redis)
		o->redis = NULL;
	o->prefix = val[OPT_PREFIX] ? val[OPT_PREFIX] : env("CHANNELS_LAYER_PREFIX");
	if (!o->prefix || !*o->prefix)
		o->prefix = CLI_DEFAULT_PREFIX;
	o->url = val[OPT_URL] ? val[OPT_URL] : env("CHANNELS_URL");
	if (!o->url || !*o->url)
		o->url = CLI_DEFAULT_URL;
	o->token = val[OPT_TOKEN] ? val[OPT_TOKEN] : env("CHANNELS_PUBLISH_TOKEN");
	if (o->token && !*o->token)
		o->token = NULL;
	o->token_file = val[OPT_TOKEN_FILE] ? val[OPT_TOKEN_FILE]
					    : env("CHANNELS_PUBLISH_TOKEN_FILE");
	if (o->token_file && !*o->token_file)
		o->token_file = NULL;

	fmt = val[OPT_FORMAT] ? val[OPT_FORMAT] : env("CHANNELS_REDIS_FORMAT");
	o->format = LAYER_WIRE_MSGPACK;
	if (fmt && *fmt && (rc = set_format(o, fmt, err, errlen)) != 0)
		return rc;

	if (val[OPT_COUNT]) {
		char *end;

		errno = 0;
		o->count = strtol(val[OPT_COUNT], &end, 10);
		if (end == val[OPT_COUNT] || *end || errno || o->count <= 0)
			return fail(err, errlen, "--count: expected a positive integer, not \"%s\"",
				    val[OPT_COUNT]);
	}
	if (val[OPT_TIMEOUT]) {
		char *end;

		errno = 0;
		o->timeout = strtod(val[OPT_TIMEOUT], &end);
		if (end == val[OPT_TIMEOUT] || *end || errno || !(o->timeout > 0) ||
		    o->timeout > 1e7)
			return fail(err, errlen, "--timeout: expected seconds > 0, not \"%s\"",
				    val[OPT_TIMEOUT]);
	}
	return 0;
}

int cli_opts_parse(struct cli_opts *o, int argc, char **argv, cli_getenv_fn env,
		   char *err, size_t errlen)
{
	const char *pos[8];
	const char *val[OPT_N] = { 0 };
	int npos = 0, i, k, rc;
	bool only_pos = false;

	memset(o, 0, sizeof(*o));
	if (err && errlen)
		err[0] = '\0';
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool matched = false, missing = false;

		if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
			if (npos == (int)(sizeof(pos) / sizeof(pos[0])))
				return fail(err, errlen, "too many arguments");
			pos[npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			o->help = true;
			return 0;
		}
		if (strcmp(a, "--version") == 0) {
			o->version = true;
			return 0;
		}
		if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			o->verbose = true;
			continue;
		}
		for (k = 0; k < OPT_N; k++) {
			const char *v = opt_value(value_opts[k], argc, argv, &i, &matched,
						  &missing);

			if (missing)
				return fail(err, errlen, "%s needs a value", value_opts[k]);
			if (matched) {
				val[k] = v;
				break;
			}
		}
		if (!matched)
			return fail(err, errlen, "unknown option \"%s\"; see --help", a);
	}

	if ((rc = opts_from_values(o, val, env, err, errlen)) != 0)
		return rc;
	if (strlen(o->prefix) >= LAYER_NAME_MAX)
		return fail(err, errlen, "--layer-prefix: too long");

	if (cli_http_url_parse(o->url, o->http_host, sizeof(o->http_host), &o->http_port,
			       err, errlen) != 0)
		return CLI_EXIT_USAGE;
	if (o->redis && (rc = split_redis_urls(o, err, errlen)) != 0)
		return rc;
	return check_command(o, pos, npos, err, errlen);
}

int cli_token_default_path(unsigned uid, int port, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "/tmp/channels-server-%u-%d.token", uid, port);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int cli_token_read(const char *path, bool strict, unsigned uid, char *out, size_t outlen,
		   char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	size_t len;
	int fd;

	out[0] = '\0';
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return -1;
		if (errno == ELOOP)
			return fail(err, errlen, "token file %s is a symbolic link: refusing it",
				    path);
		return fail(err, errlen, "cannot open token file %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		close(fd);
		return fail(err, errlen, "cannot stat token file %s: %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, "token file %s is not a regular file: refusing it", path);
	}
	if (strict && st.st_uid != (uid_t)uid) {
		close(fd);
		return fail(err, errlen,
			    "token file %s belongs to uid %u, not to you (uid %u): refusing it; "
			    "pass --token or --token-file", path, (unsigned)st.st_uid, uid);
	}
	if (strict && (st.st_mode & 077)) {
		close(fd);
		return fail(err, errlen,
			    "token file %s has mode %04o: others could read or change it, so it "
			    "is refused; it must be 0600 or stricter", path,
			    (unsigned)(st.st_mode & 07777));
	}
	n = read(fd, out, outlen - 1);
	close(fd);
	if (n < 0)
		return fail(err, errlen, "cannot read token file %s: %s", path, strerror(errno));
	if ((size_t)n == outlen - 1)
		return fail(err, errlen, "token file %s: token too long", path);
	len = (size_t)n;
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r' ||
			   out[len - 1] == ' ' || out[len - 1] == '\t'))
		len--;
	out[len] = '\0';
	if (len == 0)
		return fail(err, errlen, "token file %s is empty", path);
	if (strcspn(out, "\r\n") != len) {
		out[0] = '\0';
		return fail(err, errlen, "token file %s: the token must be one line", path);
	}
	return 0;
}

int cli_token_find(const struct cli_opts *o, unsigned uid, char *out, size_t outlen,
		   char *err, size_t errlen)
{
	char path[128];
	int rc;

	out[0] = '\0';
	if (o->token) {
		if (strlen(o->token) >= outlen)
			return fail(err, errlen, "--token: too long");
		if (strcspn(o->token, "\r\n") != strlen(o->token))
			return fail(err, errlen, "--token: must be one line");
		strcpy(out, o->token);
		return 0;
	}
	if (o->token_file) {
		rc = cli_token_read(o->token_file, false, uid, out, outlen, err, errlen);
		if (rc == -1)
			return fail(err, errlen, "token file %s does not exist", o->token_file);
		return rc;
	}
	if (cli_token_default_path(uid, o->http_port, path, sizeof(path)) != 0)
		return fail(err, errlen, "token file path too long");
	rc = cli_token_read(path, true, uid, out, outlen, err, errlen);
	return rc == -1 ? 0 : rc;
}

int cli_message_parse(const char *text, json_t **out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *msg, *type;

	*out = NULL;
	msg = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!msg)
		return fail(err, errlen, "the message is not valid JSON: %s (line %d, column %d)",
			    je.text, je.line, je.column);
	if (!json_is_object(msg)) {
		json_decref(msg);
		return fail(err, errlen, "the message must be a JSON object like "
			    "'{\"type\": \"chat.message\", ...}'");
	}
	type = json_object_get(msg, "type");
	if (!json_is_string(type) || json_string_length(type) == 0) {
		json_decref(msg);
		return fail(err, errlen, "the message needs a non-empty string \"type\" member "
			    "(e.g. \"chat.message\")");
	}
	*out = msg;
	return 0;
}

int cli_http_status_exit(int status)
{
	if (status >= 200 && status < 300)
		return CLI_EXIT_OK;
	if (status == 400)
		return CLI_EXIT_USAGE;
	if (status == 502 || status == 503 || status == 504)
		return CLI_EXIT_UNREACHABLE; /* the server's layer (Redis) is down */
	return CLI_EXIT_REFUSED;
}
