/*
 * bench_opts.c - the command line of channels-benchmark. Pure.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const char usage_text[] =
    "usage: channels-benchmark [options]\n"
    "\n"
    "WebSocket load generator (single-threaded epoll). Chat peers: a client joins a room\n"
    "path and sends {\"message\":\"<ts ns> <sender> <seq> <padding>\"}; the server echoes\n"
    "{\"message\":...} to every member of the room, the sender included. Latency is\n"
    "CLOCK_MONOTONIC now - ts; loss = messages sent * room members - received.\n"
    "\n"
    "connection:\n"
    "  --host H              server address (default 127.0.0.1)\n"
    "  --port P              server port (default 8000)\n"
    "  --path P              WebSocket path; {room} is replaced by the room index\n"
    "                        (default /ws/chat/bench{room}/)\n"
    "  --origin URL          send this Origin header (default: none)\n"
    "  --connect-rate C      cap on handshakes started per second, 0 = unlimited (default 0)\n"
    "  --connect-concurrency K  handshakes in flight at once (default 256)\n"
    "  --connect-timeout S   seconds for TCP connect + handshake (default 10)\n"
    "\n"
    "load (fixed, max):\n"
    "  --rooms R             rooms (default 1)\n"
    "  --clients M           connections per room (default 100; listen: in all)\n"
    "  --senders S           senders per room, S <= M (default 10)\n"
    "  --rate X              messages/s per sender (default 10; publish: messages/s)\n"
    "  --message-size N      bytes of padding per message (default 32)\n"
    "  --duration D          seconds of measured load (default 10)\n"
    "  --warmup W            seconds of load before it, not counted (default 2)\n"
    "  --drain T             seconds to wait for in-flight messages after the last\n"
    "                        send (default 2)\n"
    "  --server-pid PID      report the server's CPU time (all its threads, from\n"
    "                        /proc/PID/stat) over the measured window: per delivery\n"
    "                        and in % of one core (max: of the best probe)\n"
    "\n"
    "modes (--mode, default fixed):\n"
    "  fixed                 open every connection (handshakes/s), run the load, report\n"
    "  max                   find the highest total rate with p99 < --p99-limit and no\n"
    "                        loss: double from --rate, then bisect; report the best probe\n"
    "    --p99-limit MS      p99 latency limit in ms (default 50)\n"
    "    --max-probes N      probes at most (default 12)\n"
    "  idle                  open --connections to --path and hold them\n"
    "    --connections N     connections (default 10000)\n"
    "    --hold S            seconds to hold them open (default 10)\n"
    "    --server-pid PID    report the server's VmRSS growth per connection\n"
    "  listen                --clients connections to --path (e.g. /notifications/),\n"
    "                        no sending; each text frame carries \"ts\" (ns): measures\n"
    "                        publish-to-delivery latency for --duration seconds\n"
    "    --count N           stop once every client received N messages\n"
    "    --expect N          messages published during the run (loss = N * M - received)\n"
    "    --expect-file F     read that number from F (written by publish mode) at the end\n"
    "  publish               PUBLISH {\"type\":\"name.gossip\",\"ts\":..,\"seq\":..,\"pad\":..}\n"
    "                        at --rate/s for --duration s to <prefix>__group__<group>\n"
    "    --redis URL         redis://host[:port][/db] (default redis://127.0.0.1:6379)\n"
    "    --layer-prefix P    channel layer prefix (default asgi)\n"
    "    --group G           group (default gossip)\n"
    "    --expect-file F     write the count published here\n"
    "\n"
    "output:\n"
    "  --json                also print one JSON line with every figure\n"
    "  --quiet               no progress lines on stderr\n"
    "  --help                print this and exit\n"
    "\n"
    "Exit status: 0 when the run completed (loss is a measured outcome), 1 on setup\n"
    "errors (bad options, no connection could be opened, Redis unreachable).\n";

const char *bench_usage(void)
{
	return usage_text;
}

const char *bench_mode_name(enum bench_mode m)
{
	switch (m) {
	case BENCH_FIXED:
		return "fixed";
	case BENCH_MAX:
		return "max";
	case BENCH_IDLE:
		return "idle";
	case BENCH_LISTEN:
		return "listen";
	case BENCH_PUBLISH:
		return "publish";
	}
	return "?";
}

void bench_opts_defaults(struct bench_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->port = 8000;
	o->path = "/ws/chat/bench{room}/";
	o->rooms = 1;
	o->clients = 100;
	o->senders = 10;
	o->rate = 10;
	o->message_size = 32;
	o->duration = 10;
	o->warmup = 2;
	o->drain = 2;
	o->connect_concurrency = 256;
	o->connect_timeout = 10;
	o->mode = BENCH_FIXED;
	o->p99_limit_ms = 50;
	o->max_probes = 12;
	o->connections = 10000;
	o->hold = 10;
	o->expect = -1;
	o->redis = "redis://127.0.0.1:6379";
	o->layer_prefix = "asgi";
	o->group = "gossip";
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

enum opt_kind { K_STR, K_INT, K_LONG, K_DBL, K_FLAG, K_MODE };

struct opt_def {
	const char *name;
	enum opt_kind kind;
	size_t off;
	double lo, hi;
};

#define O(f) offsetof(struct bench_opts, f)
static const struct opt_def opt_defs[] = {
    {"host", K_STR, O(host), 0, 0},
    {"port", K_INT, O(port), 1, 65535},
    {"path", K_STR, O(path), 0, 0},
    {"rooms", K_INT, O(rooms), 1, 1000000},
    {"clients", K_INT, O(clients), 1, 10000000},
    {"senders", K_INT, O(senders), 0, 10000000},
    {"rate", K_DBL, O(rate), 0.001, 1e9},
    {"message-size", K_INT, O(message_size), 0, 16 * 1024 * 1024},
    {"duration", K_DBL, O(duration), 0.01, 1e7},
    {"warmup", K_DBL, O(warmup), 0, 1e7},
    {"drain", K_DBL, O(drain), 0, 1e7},
    {"origin", K_STR, O(origin), 0, 0},
    {"connect-rate", K_DBL, O(connect_rate), 0, 1e9},
    {"connect-concurrency", K_INT, O(connect_concurrency), 1, 10000000},
    {"connect-timeout", K_DBL, O(connect_timeout), 0.001, 1e6},
    {"mode", K_MODE, O(mode), 0, 0},
    {"p99-limit", K_DBL, O(p99_limit_ms), 0.001, 1e9},
    {"max-probes", K_INT, O(max_probes), 1, 1000},
    {"connections", K_INT, O(connections), 1, 10000000},
    {"hold", K_DBL, O(hold), 0, 1e7},
    {"server-pid", K_LONG, O(server_pid), 1, 4194304},
    {"count", K_LONG, O(count), 1, 1000000000000L},
    {"expect", K_LONG, O(expect), 0, 1000000000000L},
    {"expect-file", K_STR, O(expect_file), 0, 0},
    {"redis", K_STR, O(redis), 0, 0},
    {"layer-prefix", K_STR, O(layer_prefix), 0, 0},
    {"group", K_STR, O(group), 0, 0},
    {"json", K_FLAG, O(json), 0, 0},
    {"quiet", K_FLAG, O(quiet), 0, 0},
};
#undef O

static int parse_mode(const char *s, enum bench_mode *m)
{
	for (int i = BENCH_FIXED; i <= BENCH_PUBLISH; i++) {
		if (strcmp(s, bench_mode_name((enum bench_mode)i)) == 0) {
			*m = (enum bench_mode)i;
			return 0;
		}
	}
	return -1;
}

static int set_opt(struct bench_opts *o, const struct opt_def *d, const char *val)
{
	char *base = (char *)o + d->off;
	long l;
	double v;

	switch (d->kind) {
	case K_STR:
		if (!*val)
			return -1;
		*(const char **)(void *)base = val;
		return 0;
	case K_INT:
		if (parse_long(val, (long)d->lo, (long)d->hi, &l))
			return -1;
		*(int *)(void *)base = (int)l;
		return 0;
	case K_LONG:
		if (parse_long(val, (long)d->lo, (long)d->hi, &l))
			return -1;
		*(long *)(void *)base = l;
		return 0;
	case K_DBL:
		if (parse_double(val, d->lo, d->hi, &v))
			return -1;
		*(double *)(void *)base = v;
		return 0;
	case K_MODE:
		return parse_mode(val, (enum bench_mode *)(void *)base);
	case K_FLAG:
		*(bool *)(void *)base = true;
		return 0;
	}
	return -1;
}

static int check_opts(struct bench_opts *o, char *err, size_t errlen)
{
	if (o->mode == BENCH_FIXED || o->mode == BENCH_MAX) {
		if (o->senders > o->clients) {
			snprintf(err, errlen, "--senders (%d) exceeds --clients (%d)", o->senders,
				 o->clients);
			return -1;
		}
		if (o->senders < 1) {
			snprintf(err, errlen, "--senders must be at least 1 in %s mode",
				 bench_mode_name(o->mode));
			return -1;
		}
		if ((double)o->rooms * o->clients > 10000000.0) {
			snprintf(err, errlen, "--rooms * --clients is over 10000000");
			return -1;
		}
	}
	if (o->mode == BENCH_PUBLISH && strncmp(o->redis, "redis://", 8) != 0) {
		snprintf(err, errlen, "--redis must be a redis:// URL");
		return -1;
	}
	if (o->path[0] != '/') {
		snprintf(err, errlen, "--path must start with '/'");
		return -1;
	}
	return 0;
}

int bench_opts_parse(struct bench_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = NULL, *eq;
		const struct opt_def *d = NULL;
		size_t nlen;

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
			return 1;
		if (strncmp(arg, "--", 2) != 0) {
			snprintf(err, errlen, "unexpected argument '%s'", arg);
			return -1;
		}
		arg += 2;
		eq = strchr(arg, '=');
		nlen = eq ? (size_t)(eq - arg) : strlen(arg);
		for (size_t k = 0; k < sizeof(opt_defs) / sizeof(opt_defs[0]); k++) {
			if (strlen(opt_defs[k].name) == nlen &&
			    strncmp(opt_defs[k].name, arg, nlen) == 0) {
				d = &opt_defs[k];
				break;
			}
		}
		if (!d) {
			snprintf(err, errlen, "unknown option '--%.*s'", (int)nlen, arg);
			return -1;
		}
		if (d->kind == K_FLAG) {
			if (eq) {
				snprintf(err, errlen, "--%s takes no value", d->name);
				return -1;
			}
		} else if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			snprintf(err, errlen, "--%s needs a value", d->name);
			return -1;
		}
		if (set_opt(o, d, val ? val : "")) {
			snprintf(err, errlen, "bad value '%s' for --%s", val ? val : "", d->name);
			return -1;
		}
	}
	return check_opts(o, err, errlen);
}
