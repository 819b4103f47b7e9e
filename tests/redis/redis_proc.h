/*
 * redis_proc.h - what the Redis tests add to the integration harness: a
 * private redis-server child process (free port of 127.0.0.1, no
 * persistence, its own temp folder), stopped and restarted on the same
 * port; Redis queries with hiredis' blocking API; and other programs
 * (channels-cli) run as children with their output captured.
 *
 * Like the harness, functions print a diagnostic to stderr on failure and
 * return a result; the tests CHECK it. One thread.
 */
#ifndef TESTS_REDIS_PROC_H
#define TESTS_REDIS_PROC_H

#include <stdbool.h>
#include <sys/types.h>

struct redis_proc {
	pid_t pid;          /* 0 when not running */
	int port;           /* kept across redis_proc_stop() for a restart */
	char dir[64];       /* temp folder: --dir and the log */
	char log_path[96];
	char url[64];       /* "redis://127.0.0.1:<port>" */
};

/* Starts redis-server on a free port; waits up to 10 s for PING. 0 or -1. */
int redis_proc_start(struct redis_proc *r);
/* Starts it again on r->port (after redis_proc_stop()). 0 or -1. */
int redis_proc_restart(struct redis_proc *r);
/* SIGTERM + waitpid (SIGKILL after 5 s). Keeps port and folder. 0 when it
 * exited by itself. */
int redis_proc_stop(struct redis_proc *r);
/* Sends `sig` to the running redis-server (SIGSTOP, SIGCONT). 0 or -1. */
int redis_proc_signal(const struct redis_proc *r, int sig);
/* SIGKILL + waitpid: Redis dies without a word. Keeps port and folder for
 * redis_proc_restart(). 0 or -1. */
int redis_proc_kill(struct redis_proc *r);
/* Stops it if running and removes its folder. */
void redis_proc_destroy(struct redis_proc *r);

/*
 * PUBSUB CHANNELS `pattern`: the number of matching channels, or -1 on
 * error. When `names` is not NULL it gets a malloc'd array of `*n` malloc'd
 * strings (free with redis_proc_free_names()).
 */
int redis_proc_channels(const struct redis_proc *r, const char *pattern, char ***names,
			size_t *n);
void redis_proc_free_names(char **names, size_t n);
/* True when PUBSUB CHANNELS lists exactly `channel`. */
bool redis_proc_has_channel(const struct redis_proc *r, const char *channel);
/* PUBSUB NUMSUB `channel`: subscribers, or -1 on error. */
long long redis_proc_numsub(const struct redis_proc *r, const char *channel);
/* Polls redis_proc_numsub() until it is >= `want` (true) or `ms` passed. */
bool redis_proc_wait_numsub(const struct redis_proc *r, const char *channel, long long want,
			    int ms);
/* Polls until `channel` is listed (present) or not (!present) within `ms`. */
bool redis_proc_wait_channel(const struct redis_proc *r, const char *channel, bool present,
			     int ms);
/*
 * Runs one command (`argv` NULL-terminated, e.g. {"ACL", "SETUSER",
 * "default", "-publish", NULL}) on a fresh connection: 0, or -1 when it
 * could not be run or Redis answered an error (printed).
 */
int redis_proc_command(const struct redis_proc *r, const char *const *argv);
/* A numeric field of INFO (e.g. "total_connections_received"), or -1. */
long long redis_proc_info_num(const struct redis_proc *r, const char *field);
/* PUBLISH channel payload (binary-safe): receivers, or -1 on error. */
long long redis_proc_publish(const struct redis_proc *r, const char *channel,
			     const void *payload, size_t len);

/* ---- child programs ---- */

struct cmd_result {
	int status;  /* exit code 0..255; -1 killed by a signal or timed out */
	char *out;   /* stdout, NUL-terminated, malloc'd (never NULL after a run) */
	char *err;   /* stderr, likewise */
};

struct cmd_proc {
	pid_t pid;
	char out_path[96];
	char err_path[96];
};

/* Starts argv (argv[0] a path, NULL-terminated) with stdin /dev/null and
 * stdout/stderr into temp files. 0 or -1. */
int cmd_spawn(struct cmd_proc *p, char *const argv[]);
/* Waits up to `ms` (then SIGKILL) and fills `res`; removes the temp files.
 * Returns res->status. */
int cmd_wait(struct cmd_proc *p, int ms, struct cmd_result *res);
/* cmd_spawn() + cmd_wait(); prints the command line, status and output. */
int cmd_run(char *const argv[], int ms, struct cmd_result *res);
void cmd_result_clear(struct cmd_result *res);
/* The channels-cli path of a Redis test: argv[3] (SERVER_EXE SOURCE_ROOT
 * CLI_EXE) or $CHANNELS_CLI_EXE; NULL, with the usage printed, when neither
 * is given (the test then returns 77, skipped). Also unsets the variables
 * the CLI would read (CHANNELS_REDIS, CHANNELS_PUBLISH_TOKEN[_FILE],
 * CHANNELS_URL), so that it runs on its command line only. */
const char *cmd_cli_exe(int argc, char **argv);

/* A TCP port of 127.0.0.1 that was free a moment ago. 0 on error. */
int free_tcp_port(void);

#endif
