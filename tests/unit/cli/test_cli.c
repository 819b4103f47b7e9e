/*
 * test_cli.c - channels-cli's pieces: options and environment, the HTTP URL,
 * the token file rules (with real files), message validation, the publish
 * endpoint's answers (against a one-shot HTTP server thread), and the
 * unreachable cases of both transports.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"

/* ---- a fake environment ---- */

static const char *fake_env[16][2];

static const char *env_get(const char *name)
{
	for (int i = 0; i < 16 && fake_env[i][0]; i++)
		if (strcmp(fake_env[i][0], name) == 0)
			return fake_env[i][1];
	return NULL;
}

static void env_set(const char *name, const char *value)
{
	int i;

	for (i = 0; i < 15 && fake_env[i][0]; i++)
		if (strcmp(fake_env[i][0], name) == 0)
			break;
	fake_env[i][0] = name;
	fake_env[i][1] = value;
}

static void env_clear(void)
{
	memset(fake_env, 0, sizeof(fake_env));
}

/* Parses a NULL-terminated argument list (the program name is added). */
static int parse(struct cli_opts *o, char *err, size_t errlen, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	char *a;

	argv[argc++] = (char *)"channels-cli";
	va_start(ap, errlen);
	while ((a = va_arg(ap, char *)) != NULL)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	return cli_opts_parse(o, argc, argv, env_get, err, errlen);
}

/* The defaults, and every option on the command line. */
static void opts_flags(void)
{
	struct cli_opts o;
	char err[512];

	env_clear();
	CHECK_INT(parse(&o, err, sizeof(err), "group-send", "chat", "{}", NULL), 0);
	CHECK_INT(o.cmd, CLI_CMD_GROUP_SEND);
	CHECK_STR(o.target, "chat");
	CHECK_STR(o.message, "{}");
	CHECK(o.redis == NULL);
	CHECK_STR(o.prefix, "asgi");
	CHECK_INT(o.format, LAYER_WIRE_MSGPACK);
	CHECK_STR(o.url, "http://127.0.0.1:8000");
	CHECK_STR(o.http_host, "127.0.0.1");
	CHECK_INT(o.http_port, 8000);
	CHECK(o.token == NULL && o.token_file == NULL);
	CHECK_INT(o.count, 0);
	CHECK(!o.verbose && !o.help && !o.version);

	/* options before, between and after the arguments; --opt=value */
	CHECK_INT(parse(&o, err, sizeof(err), "--redis", "redis://a:1,redis://b:2", "send",
			"--layer-prefix=pfx", "asgi.specific!abc", "--format", "json",
			"{\"type\":\"x\"}", "-v", "--url=http://[::1]:9000/", "--token", "T",
			"--token-file", "/f", "--timeout", "1.5", NULL), 0);
	CHECK_STR(err, "");
	CHECK_INT(o.cmd, CLI_CMD_SEND);
	CHECK_STR(o.target, "asgi.specific!abc");
	CHECK_INT(o.n_redis_urls, 2);
	CHECK_STR(o.redis_urls[0], "redis://a:1");
	CHECK_STR(o.redis_urls[1], "redis://b:2");
	CHECK_STR(o.prefix, "pfx");
	CHECK_INT(o.format, LAYER_WIRE_JSON);
	CHECK_STR(o.http_host, "[::1]");
	CHECK_INT(o.http_port, 9000);
	CHECK_STR(o.token, "T");
	CHECK_STR(o.token_file, "/f");
	CHECK(o.timeout == 1.5);
	CHECK(o.verbose);
}

/* The environment, options winning over it; --help and --version. */
static void opts_environment(void)
{
	struct cli_opts o;
	char err[512];

	/* environment, and options winning over it */
	env_set("CHANNELS_REDIS", "redis://envhost:7000");
	env_set("CHANNELS_LAYER_PREFIX", "envp");
	env_set("CHANNELS_REDIS_FORMAT", "json");
	env_set("CHANNELS_URL", "http://localhost:8123");
	env_set("CHANNELS_PUBLISH_TOKEN", "envtoken");
	env_set("CHANNELS_PUBLISH_TOKEN_FILE", "/envfile");
	CHECK_INT(parse(&o, err, sizeof(err), "listen", "g", "--count", "3", NULL), 0);
	CHECK_INT(o.cmd, CLI_CMD_LISTEN);
	CHECK_STR(o.redis, "redis://envhost:7000");
	CHECK_INT(o.n_redis_urls, 1);
	CHECK_STR(o.prefix, "envp");
	CHECK_INT(o.format, LAYER_WIRE_JSON);
	CHECK_STR(o.http_host, "localhost");
	CHECK_INT(o.http_port, 8123);
	CHECK_STR(o.token, "envtoken");
	CHECK_STR(o.token_file, "/envfile");
	CHECK_INT(o.count, 3);
	CHECK_INT(parse(&o, err, sizeof(err), "--format", "msgpack", "--layer-prefix", "cli",
			"--redis", "redis://opt:1", "--token", "opt", "listen", "g", NULL), 0);
	CHECK_INT(o.format, LAYER_WIRE_MSGPACK);
	CHECK_STR(o.prefix, "cli");
	CHECK_STR(o.redis, "redis://opt:1");
	CHECK_STR(o.token, "opt");
	env_set("CHANNELS_REDIS_FORMAT", "xml");
	CHECK_INT(parse(&o, err, sizeof(err), "listen", "g", NULL), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "msgpack or json");
	env_clear();

	/* help and version stop early, whatever follows */
	CHECK_INT(parse(&o, err, sizeof(err), "--help", "bogus", NULL), 0);
	CHECK(o.help);
	CHECK_INT(parse(&o, err, sizeof(err), "send", "-h", NULL), 0);
	CHECK(o.help);
	CHECK_INT(parse(&o, err, sizeof(err), "--version", NULL), 0);
	CHECK(o.version);
}

static void opts_usage_errors(void)
{
	struct cli_opts o;
	char err[512];

	/* usage errors */
	CHECK_INT(parse(&o, err, sizeof(err), NULL), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "missing command");
	CHECK_INT(parse(&o, err, sizeof(err), "publish", "g", "{}", NULL), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "unknown command \"publish\"");
	CHECK_INT(parse(&o, err, sizeof(err), "group-send", "g", NULL), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "group-send takes 2 arguments");
	CHECK_INT(parse(&o, err, sizeof(err), "listen", "g", "x", "--redis", "redis://h", NULL),
		  CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "listen takes 1 argument");
	CHECK_INT(parse(&o, err, sizeof(err), "--bogus", NULL), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "unknown option \"--bogus\"");
	CHECK_INT(parse(&o, err, sizeof(err), "listen", "g", "--redis", NULL), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "--redis needs a value");
	CHECK_INT(parse(&o, err, sizeof(err), "group-send", "bad group!", "{}", NULL),
		  CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "invalid group name \"bad group!\"");
	CHECK_INT(parse(&o, err, sizeof(err), "group-send", "a!b", "{}", NULL), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "invalid group name");
	CHECK_INT(parse(&o, err, sizeof(err), "send", "a!b", "{}", NULL), 0);
	CHECK_INT(parse(&o, err, sizeof(err), "send", "a b", "{}", NULL), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "invalid channel name");
	{
		char longname[LAYER_NAME_MAX + 2];

		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		CHECK_INT(parse(&o, err, sizeof(err), "group-send", longname, "{}", NULL),
			  CLI_EXIT_USAGE);
		CHECK_CONTAINS(err, "shorter than 100");
	}
	CHECK_INT(parse(&o, err, sizeof(err), "listen", "g", NULL), CLI_EXIT_USAGE);
	CHECK_STR(err, "listen needs --redis (the in-memory layer is inside the server process)");
	CHECK_INT(parse(&o, err, sizeof(err), "--count", "0", "listen", "g", "--redis",
			"redis://h", NULL), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "--count");
	CHECK_INT(parse(&o, err, sizeof(err), "--count", "2x", "listen", "g", "--redis",
			"redis://h", NULL), CLI_EXIT_USAGE);
	CHECK_INT(parse(&o, err, sizeof(err), "--timeout", "-1", "listen", "g", "--redis",
			"redis://h", NULL), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "--timeout");
	CHECK_INT(parse(&o, err, sizeof(err), "--redis", "redis://h,,redis://i", "listen", "g",
			NULL), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "empty URL");
	CHECK_INT(parse(&o, err, sizeof(err), "--redis", "rediss://h", "listen", "g", NULL),
		  CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "rediss://h");
	CHECK_INT(parse(&o, err, sizeof(err), "--url", "https://h:1", "group-send", "g", "{}",
			NULL), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "https is not supported");
	/* "--" ends the options: a channel name may then start with "-" */
	CHECK_INT(parse(&o, err, sizeof(err), "send", "--", "-x", "{}", NULL), 0);
	CHECK_STR(o.target, "-x");
}

static void test_opts(void)
{
	opts_flags();
	opts_environment();
	opts_usage_errors();
}

static void test_http_url(void)
{
	char host[64], err[256];
	int port = -1;

	CHECK_INT(cli_http_url_parse("http://example.org", host, sizeof(host), &port, err,
				     sizeof(err)), 0);
	CHECK_STR(host, "example.org");
	CHECK_INT(port, 80);
	CHECK_INT(cli_http_url_parse("http://127.0.0.1:8000/", host, sizeof(host), &port, err,
				     sizeof(err)), 0);
	CHECK_STR(host, "127.0.0.1");
	CHECK_INT(port, 8000);
	CHECK_INT(cli_http_url_parse("http://[::1]:81", host, sizeof(host), &port, err,
				     sizeof(err)), 0);
	CHECK_STR(host, "[::1]");
	CHECK_INT(port, 81);
	CHECK_INT(cli_http_url_parse("http://h:0", host, sizeof(host), &port, err, sizeof(err)),
		  -1);
	CHECK_CONTAINS(err, "bad port");
	CHECK_INT(cli_http_url_parse("http://h:70000", host, sizeof(host), &port, err,
				     sizeof(err)), -1);
	CHECK_INT(cli_http_url_parse("http://h:80/x", host, sizeof(host), &port, err,
				     sizeof(err)), -1);
	CHECK_INT(cli_http_url_parse("http://h/x", host, sizeof(host), &port, err, sizeof(err)),
		  -1);
	CHECK_CONTAINS(err, "without a path");
	CHECK_INT(cli_http_url_parse("http://", host, sizeof(host), &port, err, sizeof(err)), -1);
	CHECK_INT(cli_http_url_parse("http://[::1", host, sizeof(host), &port, err, sizeof(err)),
		  -1);
	CHECK_INT(cli_http_url_parse("ftp://h", host, sizeof(host), &port, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "http://");
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_INT(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
	CHECK_INT(chmod(path, mode), 0);
}

/* --token, then --token-file (`path`, holding "filetoken"; `sub` a
 * directory), then the default file. */
static void token_precedence(const char *path, const char *sub, unsigned uid)
{
	char tok[128], err[512];
	struct cli_opts o;

	/* precedence: --token, then --token-file, then the default file */
	memset(&o, 0, sizeof(o));
	o.http_port = 1; /* /tmp/channels-server-<uid>-1.token: nobody writes it */
	o.token = "direct";
	o.token_file = path;
	CHECK_INT(cli_token_find(&o, uid, tok, sizeof(tok), err, sizeof(err)), 0);
	CHECK_STR(tok, "direct");
	o.token = NULL;
	CHECK_INT(cli_token_find(&o, uid, tok, sizeof(tok), err, sizeof(err)), 0);
	CHECK_STR(tok, "filetoken");
	o.token_file = sub;
	CHECK_INT(cli_token_find(&o, uid, tok, sizeof(tok), err, sizeof(err)), CLI_EXIT_USAGE);
	o.token_file = "/nonexistent/token";
	CHECK_INT(cli_token_find(&o, uid, tok, sizeof(tok), err, sizeof(err)), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "does not exist");
	o.token_file = NULL;
	CHECK_INT(cli_token_find(&o, uid, tok, sizeof(tok), err, sizeof(err)), 0);
	CHECK_STR(tok, "");
	o.token = "two\nlines";
	CHECK_INT(cli_token_find(&o, uid, tok, sizeof(tok), err, sizeof(err)), CLI_EXIT_USAGE);
}

static void test_token(void)
{
	char dir[] = "/tmp/test-cli-XXXXXX";
	char path[256], link[256], sub[256], tok[128], err[512];
	unsigned uid = (unsigned)getuid();

	CHECK_INT(cli_token_default_path(1000, 8000, path, sizeof(path)), 0);
	CHECK_STR(path, "/tmp/channels-server-1000-8000.token");
	CHECK_INT(cli_token_default_path(1000, 8000, path, 10), -1);

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/token", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(sub, sizeof(sub), "%s/sub", dir);

	CHECK_INT(cli_token_read(path, true, uid, tok, sizeof(tok), err, sizeof(err)), -1);

	write_file(path, "s3cret\n", 0600);
	CHECK_INT(cli_token_read(path, true, uid, tok, sizeof(tok), err, sizeof(err)), 0);
	CHECK_STR(tok, "s3cret");
	CHECK_INT(chmod(path, 0400), 0);
	CHECK_INT(cli_token_read(path, true, uid, tok, sizeof(tok), err, sizeof(err)), 0);
	CHECK_STR(tok, "s3cret");

	CHECK_INT(chmod(path, 0640), 0);
	CHECK_INT(cli_token_read(path, true, uid, tok, sizeof(tok), err, sizeof(err)),
		  CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "mode 0640");
	CHECK_CONTAINS(err, "0600 or stricter");
	CHECK_STR(tok, "");
	CHECK_INT(chmod(path, 0604), 0);
	CHECK_INT(cli_token_read(path, true, uid, tok, sizeof(tok), err, sizeof(err)),
		  CLI_EXIT_USAGE);
	/* not strict (an explicit --token-file): the mode is the user's business */
	CHECK_INT(cli_token_read(path, false, uid, tok, sizeof(tok), err, sizeof(err)), 0);
	CHECK_STR(tok, "s3cret");
	CHECK_INT(chmod(path, 0600), 0);

	/* another owner (we pretend to be someone else) */
	CHECK_INT(cli_token_read(path, true, uid + 1, tok, sizeof(tok), err, sizeof(err)),
		  CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "not to you");

	/* symbolic links and directories are refused, strict or not */
	CHECK_INT(symlink(path, link), 0);
	CHECK_INT(cli_token_read(link, true, uid, tok, sizeof(tok), err, sizeof(err)),
		  CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "symbolic link");
	CHECK_INT(cli_token_read(link, false, uid, tok, sizeof(tok), err, sizeof(err)),
		  CLI_EXIT_USAGE);
	CHECK_INT(mkdir(sub, 0700), 0);
	CHECK_INT(cli_token_read(sub, true, uid, tok, sizeof(tok), err, sizeof(err)),
		  CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "not a regular file");

	/* empty, multi-line, too long */
	write_file(path, " \n", 0600);
	CHECK_INT(cli_token_read(path, true, uid, tok, sizeof(tok), err, sizeof(err)),
		  CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "empty");
	write_file(path, "a\nb\n", 0600);
	CHECK_INT(cli_token_read(path, true, uid, tok, sizeof(tok), err, sizeof(err)),
		  CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "one line");
	write_file(path, "0123456789abcdef", 0600);
	CHECK_INT(cli_token_read(path, true, uid, tok, 8, err, sizeof(err)), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "too long");
	write_file(path, "filetoken\r\n", 0600);

	token_precedence(path, sub, uid);

	unlink(link);
	unlink(path);
	rmdir(sub);
	rmdir(dir);
}

static void test_message(void)
{
	char err[512];
	json_t *m = NULL;

	CHECK_INT(cli_message_parse("{\"type\":\"chat.message\",\"text\":\"hi\"}", &m, err,
				    sizeof(err)), 0);
	CHECK(json_is_object(m));
	CHECK_STR(json_string_value(json_object_get(m, "text")), "hi");
	json_decref(m);
	CHECK_INT(cli_message_parse("{\"type\":", &m, err, sizeof(err)), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "not valid JSON");
	CHECK(m == NULL);
	CHECK_INT(cli_message_parse("[1]", &m, err, sizeof(err)), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "must be a JSON object");
	CHECK_INT(cli_message_parse("{\"text\":\"x\"}", &m, err, sizeof(err)), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "\"type\"");
	CHECK_INT(cli_message_parse("{\"type\":3}", &m, err, sizeof(err)), CLI_EXIT_USAGE);
	CHECK_INT(cli_message_parse("{\"type\":\"\"}", &m, err, sizeof(err)), CLI_EXIT_USAGE);
	CHECK_INT(cli_message_parse("{\"type\":\"a\",\"type\":\"b\"}", &m, err, sizeof(err)),
		  CLI_EXIT_USAGE);

	CHECK_INT(cli_http_status_exit(202), CLI_EXIT_OK);
	CHECK_INT(cli_http_status_exit(400), CLI_EXIT_USAGE);
	CHECK_INT(cli_http_status_exit(401), CLI_EXIT_REFUSED);
	CHECK_INT(cli_http_status_exit(403), CLI_EXIT_REFUSED);
	CHECK_INT(cli_http_status_exit(404), CLI_EXIT_REFUSED);
	CHECK_INT(cli_http_status_exit(413), CLI_EXIT_REFUSED);
	CHECK_INT(cli_http_status_exit(500), CLI_EXIT_REFUSED);
	CHECK_INT(cli_http_status_exit(503), CLI_EXIT_UNREACHABLE);
}

static void test_redis_channel(void)
{
	struct cli_opts o;
	char err[256], chan[256];

	env_clear();
	CHECK_INT(parse(&o, err, sizeof(err), "group-send", "room.1", "{}", NULL), 0);
	CHECK_INT(cli_redis_channel(&o, chan, sizeof(chan)), 0);
	CHECK_STR(chan, "asgi__group__room.1");
	CHECK_INT(parse(&o, err, sizeof(err), "--layer-prefix", "p", "listen", "g", "--redis",
			"redis://h", NULL), 0);
	CHECK_INT(cli_redis_channel(&o, chan, sizeof(chan)), 0);
	CHECK_STR(chan, "p__group__g");
	CHECK_INT(parse(&o, err, sizeof(err), "send", "asgispecific.ab!c", "{}", NULL), 0);
	CHECK_INT(cli_redis_channel(&o, chan, sizeof(chan)), 0);
	CHECK_STR(chan, "asgispecific.ab!c");
	CHECK_INT(cli_redis_channel(&o, chan, 5), CLI_EXIT_USAGE);
}

/* ---- a one-shot HTTP server ---- */

struct fake_http {
	int lfd;
	int port;
	const char *answer;  /* the raw response */
	char request[8192];  /* what the client sent */
	size_t request_len;
	pthread_t thread;
};

static void *fake_http_run(void *arg)
{
	struct fake_http *f = arg;
	int fd = accept(f->lfd, NULL, NULL);
	ssize_t n;

	if (fd < 0)
		return NULL;
	for (;;) {
		char *hdr_end, *cl;

		n = read(fd, f->request + f->request_len,
			 sizeof(f->request) - 1 - f->request_len);
		if (n <= 0)
			break;
		f->request_len += (size_t)n;
		f->request[f->request_len] = '\0';
		hdr_end = strstr(f->request, "\r\n\r\n");
		cl = strstr(f->request, "Content-Length: ");
		if (hdr_end && cl &&
		    f->request_len >= (size_t)(hdr_end + 4 - f->request) + (size_t)atoi(cl + 16))
			break;
	}
	n = write(fd, f->answer, strlen(f->answer));
	(void)n;
	close(fd);
	return NULL;
}

static int fake_http_start(struct fake_http *f, const char *answer)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);

	memset(f, 0, sizeof(*f));
	f->answer = answer;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(f->lfd, 4) != 0 || getsockname(f->lfd, (struct sockaddr *)&sa, &sl) != 0)
		return -1;
	f->port = ntohs(sa.sin_port);
	return pthread_create(&f->thread, NULL, fake_http_run, f);
}

static void fake_http_stop(struct fake_http *f)
{
	pthread_join(f->thread, NULL);
	close(f->lfd);
}

/* Publishes through a fake server answering `answer`; returns the exit code. */
static int publish_via(const char *answer, const char *cmd, const char *target,
		       const char *token, struct fake_http *f, char *err, size_t errlen)
{
	struct cli_opts o;
	char url[64];
	json_t *m = json_pack("{s:s, s:i}", "type", "chat.message", "n", 1);
	int ex;

	if (fake_http_start(f, answer) != 0) {
		CHECK(!"fake server");
		json_decref(m);
		return -1;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f->port);
	env_clear();
	CHECK_INT(parse(&o, err, errlen, "--url", url, cmd, target, "{}", NULL), 0);
	err[0] = '\0';
	ex = cli_http_publish(&o, m, token, err, errlen);
	fake_http_stop(f);
	json_decref(m);
	return ex;
}

static void test_http_publish(void)
{
	struct fake_http f;
	char err[1024];

	CHECK_INT(publish_via("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", "group-send",
			      "chat", "tok", &f, err, sizeof(err)), CLI_EXIT_OK);
	CHECK_CONTAINS(f.request, "POST /_channels/group-send/chat/ HTTP/1.1\r\n");
	CHECK_CONTAINS(f.request, "Content-Type: application/json\r\n");
	CHECK_CONTAINS(f.request, "Authorization: Bearer tok\r\n");
	CHECK_CONTAINS(f.request, "\r\n\r\n{\"type\":\"chat.message\",\"n\":1}");

	CHECK_INT(publish_via("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", "send",
			      "asgi.specific!x", "", &f, err, sizeof(err)), CLI_EXIT_OK);
	CHECK_CONTAINS(f.request, "POST /_channels/send/asgi.specific!x/ HTTP/1.1\r\n");
	CHECK(strstr(f.request, "Authorization") == NULL);

	CHECK_INT(publish_via("HTTP/1.1 400 Bad Request\r\nContent-Length: 24\r\n\r\n"
			      "message needs a \"type\"\r\n", "group-send", "g", "t", &f, err,
			      sizeof(err)), CLI_EXIT_USAGE);
	CHECK_CONTAINS(err, "answered 400");
	CHECK_CONTAINS(err, "message needs a \"type\"");

	/* Refusals: the status, the exit code, what the message says. */
	static const struct {
		const char *status; /* the status line, without CRLF */
		const char *token;
		int exit;
		const char *says, *says_too;
	} refused[] = {
	    {"401 Unauthorized", "t", CLI_EXIT_REFUSED, "401", "token was refused"},
	    {"401 Unauthorized", "", CLI_EXIT_REFUSED, "no token", NULL},
	    {"403 Forbidden", "t", CLI_EXIT_REFUSED, "loopback", NULL},
	    {"404 Not Found", "t", CLI_EXIT_REFUSED, "no publish endpoint", NULL},
	    {"413 Payload Too Large", "t", CLI_EXIT_REFUSED, "too large", NULL},
	    {"503 Service Unavailable", "t", CLI_EXIT_UNREACHABLE, "channel layer", NULL},
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char resp[128];
		snprintf(resp, sizeof(resp), "HTTP/1.1 %s\r\nContent-Length: 0\r\n\r\n",
			 refused[i].status);
		CHECK_INT(publish_via(resp, "group-send", "g", refused[i].token, &f, err, sizeof(err)),
			  refused[i].exit);
		CHECK_CONTAINS(err, refused[i].says);
		if (refused[i].says_too)
			CHECK_CONTAINS(err, refused[i].says_too);
	}
}

/* A loopback port with nothing listening (bound, then closed). */
static int closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
		return 1;
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void test_unreachable(void)
{
	struct cli_opts o;
	char url[64], err[1024];
	json_t *m = json_pack("{s:s}", "type", "x");
	long long rcv = -1;
	int port = closed_port();

	env_clear();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	CHECK_INT(parse(&o, err, sizeof(err), "--url", url, "group-send", "g", "{}", NULL), 0);
	CHECK_INT(cli_http_publish(&o, m, "t", err, sizeof(err)), CLI_EXIT_UNREACHABLE);
	CHECK_CONTAINS(err, "cannot reach the server at http://127.0.0.1:");
	CHECK_CONTAINS(err, "is channels-server running?");

	snprintf(url, sizeof(url), "redis://:pw@127.0.0.1:%d", port);
	CHECK_INT(parse(&o, err, sizeof(err), "--redis", url, "group-send", "g", "{}", NULL), 0);
	CHECK_INT(cli_redis_publish(&o, m, &rcv, err, sizeof(err)), CLI_EXIT_UNREACHABLE);
	CHECK_CONTAINS(err, "cannot reach Redis at redis://127.0.0.1:");
	CHECK_CONTAINS(err, "Connection refused");
	CHECK(strstr(err, "pw") == NULL); /* the password is not shown */
	CHECK_INT(cli_redis_listen(&o, stdout, err, sizeof(err)), CLI_EXIT_UNREACHABLE);
	CHECK_CONTAINS(err, "Connection refused");
	json_decref(m);
}

int main(void)
{
	test_opts();
	test_http_url();
	test_token();
	test_message();
	test_redis_channel();
	test_http_publish();
	test_unreachable();
	return check_finish();
}
