/*
 * channels-cli - publish into the channel layer from another process (or
 * print what a group receives). The logic lives in cli_*.c; see cli.h and
 * `channels-cli --help`.
 */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"

int main(int argc, char **argv)
{
	struct cli_opts o;
	char err[1024], token[1024];
	json_t *msg = NULL;
	long long receivers = 0;
	int ex;

	ex = cli_opts_parse(&o, argc, argv, cli_getenv, err, sizeof(err));
	if (ex != CLI_EXIT_OK) {
		fprintf(stderr, "channels-cli: %s\n", err);
		return ex;
	}
	if (o.help) {
		cli_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (o.version) {
		printf("channels-cli %s\n", CHANNELS_VERSION);
		return CLI_EXIT_OK;
	}
	if (o.cmd == CLI_CMD_LISTEN) {
		ex = cli_redis_listen(&o, stdout, err, sizeof(err));
		goto done;
	}
	ex = cli_message_parse(o.message, &msg, err, sizeof(err));
	if (ex != CLI_EXIT_OK)
		goto done;
	if (o.redis) {
		ex = cli_redis_publish(&o, msg, &receivers, err, sizeof(err));
		if (ex == CLI_EXIT_OK && o.verbose)
			fprintf(stderr, "channels-cli: %lld subscriber%s received it\n", receivers,
				receivers == 1 ? "" : "s");
	} else {
		ex = cli_token_find(&o, (unsigned)getuid(), token, sizeof(token), err,
				    sizeof(err));
		if (ex == CLI_EXIT_OK)
			ex = cli_http_publish(&o, msg, token, err, sizeof(err));
		if (ex == CLI_EXIT_OK && o.verbose)
			fprintf(stderr, "channels-cli: accepted by %s\n", o.url);
	}
	json_decref(msg);
done:
	if (ex != CLI_EXIT_OK)
		fprintf(stderr, "channels-cli: %s\n", err);
	return ex;
}
