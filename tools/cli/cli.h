/*
 * cli.h - the pieces of channels-cli, split from main() so they can be
 * unit-tested: option/environment parsing, the token file rules, message
 * validation, and the two transports (Redis PUBLISH/SUBSCRIBE with hiredis'
 * blocking API, and the server's HTTP publish endpoint).
 *
 * Single-threaded; nothing here keeps global state except the signal flag
 * used by cli_redis_listen(). Errors are reported as the process exit code
 * the tool should end with (enum cli_exit) plus a message in a caller's
 * buffer; nothing here prints, except cli_redis_listen() (messages on
 * `out`) and the verbose notes on stderr.
 */
#ifndef TOOLS_CLI_H
#define TOOLS_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "layer.h"

/* The tool's exit codes. */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_INCOMPLETE = 1, /* listen: --timeout elapsed before --count messages */
	CLI_EXIT_USAGE = 2,      /* bad option, name, JSON or token file */
	CLI_EXIT_UNREACHABLE = 3, /* cannot reach Redis or the server */
	CLI_EXIT_REFUSED = 4,    /* the server (or Redis) refused: 401, 403, 404, 413, ... */
};

enum cli_command {
	CLI_CMD_NONE = 0,
	CLI_CMD_GROUP_SEND,
	CLI_CMD_SEND,
	CLI_CMD_LISTEN,
};

#define CLI_DEFAULT_URL "http://127.0.0.1:8000"
#define CLI_DEFAULT_PREFIX "asgi"
#define CLI_MAX_SHARDS 64

/*
 * Everything the command line and the environment say. String members are
 * borrowed from argv / the environment (they outlive the struct), except the
 * arrays filled by the parser.
 */
struct cli_opts {
	enum cli_command cmd;
	const char *target;           /* group (group-send, listen) or channel (send) */
	const char *message;          /* the JSON text (group-send, send) */

	const char *redis;            /* NULL: HTTP transport; else comma-separated URLs */
	char redis_urls[CLI_MAX_SHARDS][512];
	unsigned n_redis_urls;
	const char *prefix;           /* default "asgi" */
	enum layer_wire_format format;

	const char *url;              /* the server's base URL, default CLI_DEFAULT_URL */
	char http_host[256];          /* from `url`; IPv6 literals keep their brackets */
	int http_port;

	const char *token;            /* --token / CHANNELS_PUBLISH_TOKEN, or NULL */
	const char *token_file;       /* --token-file / CHANNELS_PUBLISH_TOKEN_FILE, or NULL */

	long count;                   /* listen: stop after this many messages; 0 = no limit */
	double timeout;               /* listen: stop after this many seconds; send: request
					 timeout; 0 = none (send: 10 s) */
	bool verbose;
	bool help;
	bool version;
};

/* Returns the value of an environment variable or NULL (getenv's shape). */
typedef const char *(*cli_getenv_fn)(const char *name);

/* getenv() with cli_getenv_fn's signature. */
const char *cli_getenv(const char *name);

/*
 * Parses argv (argv[0] is the program name) and the environment (`env`;
 * command-line options win) into `o`, and checks the command's arguments:
 * group/channel name validity (layer_valid_*), the URLs, the numbers.
 * The JSON message is not checked here (cli_message_parse). With --help or
 * --version it stops early, returns 0 and sets o->help / o->version.
 * Returns CLI_EXIT_OK or CLI_EXIT_USAGE with a one-line reason in `err`.
 */
int cli_opts_parse(struct cli_opts *o, int argc, char **argv, cli_getenv_fn env,
		   char *err, size_t errlen);

/* The --help text. */
void cli_usage(FILE *f);

/*
 * Parses "http://HOST[:PORT][/]" (port default 80). HOST may be an [IPv6]
 * literal (brackets kept). https is refused (the client has no TLS).
 * Returns 0 or -1 with a reason in `err`.
 */
int cli_http_url_parse(const char *url, char *host, size_t hostlen, int *port,
		       char *err, size_t errlen);

/* "/tmp/channels-server-<uid>-<port>.token": the file the server writes. */
int cli_token_default_path(unsigned uid, int port, char *out, size_t outlen);

/*
 * Reads a token from `path` into `out` (trailing blanks and newlines
 * trimmed). The file must be a regular file (symlinks are not followed);
 * when `strict`, it must also be owned by `uid` and have no group or other
 * permission bits. Returns CLI_EXIT_OK; -1 (not CLI_EXIT_*) when the file
 * does not exist; CLI_EXIT_USAGE with the reason in `err` otherwise
 * (unsafe permissions, wrong owner, empty, too long, unreadable).
 */
int cli_token_read(const char *path, bool strict, unsigned uid, char *out, size_t outlen,
		   char *err, size_t errlen);

/*
 * Finds the token: o->token, else o->token_file (must exist; not strict),
 * else the default file for o->http_port (strict; absent is fine: *out is
 * left empty and the server will answer 401). Returns CLI_EXIT_OK or
 * CLI_EXIT_USAGE with the reason in `err`.
 */
int cli_token_find(const struct cli_opts *o, unsigned uid, char *out, size_t outlen,
		   char *err, size_t errlen);

/*
 * Parses `text` into a new JSON object with a string "type" (*out, caller
 * decrefs). Returns CLI_EXIT_OK or CLI_EXIT_USAGE with the reason in `err`.
 */
int cli_message_parse(const char *text, json_t **out, char *err, size_t errlen);

/* The exit code for an answer of the publish endpoint. */
int cli_http_status_exit(int status);

/*
 * POSTs `msg` to the server's publish endpoint for o->cmd/o->target with
 * `token` (may be empty: no Authorization header). Writes a one-line outcome
 * into `err` unless it returns CLI_EXIT_OK.
 */
int cli_http_publish(const struct cli_opts *o, const json_t *msg, const char *token,
		     char *err, size_t errlen);

/*
 * The Redis channel for o->cmd/o->target: "<prefix>__group__<group>" or
 * the channel name. Returns 0 or CLI_EXIT_USAGE when it does not fit.
 */
int cli_redis_channel(const struct cli_opts *o, char *out, size_t outlen);

/*
 * PUBLISHes `msg` (encoded as o->format) on the shard of the Redis channel.
 * *receivers gets Redis' answer (subscribers that got it).
 */
int cli_redis_publish(const struct cli_opts *o, const json_t *msg, long long *receivers,
		      char *err, size_t errlen);

/*
 * SUBSCRIBEs to the group's channel and writes each decoded message as one
 * compact JSON line to `out` (flushed per line) until SIGINT/SIGTERM,
 * o->count messages or o->timeout seconds. Installs handlers for SIGINT and
 * SIGTERM. Payloads that do not decode are reported on stderr and skipped.
 * Returns CLI_EXIT_OK (count reached, signal, or timeout without --count),
 * CLI_EXIT_INCOMPLETE (timeout before --count), CLI_EXIT_UNREACHABLE,
 * CLI_EXIT_REFUSED (AUTH or SUBSCRIBE refused), with the reason in `err`.
 */
int cli_redis_listen(const struct cli_opts *o, FILE *out, char *err, size_t errlen);

#endif
