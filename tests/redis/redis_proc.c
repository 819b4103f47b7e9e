/*
 * redis_proc.c - a private redis-server for each test, and child programs.
 * See redis_proc.h.
 */
#include "redis_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

int free_tcp_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	int port = 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static redisContext *connect_to(const struct redis_proc *r)
{
	struct timeval tv = {2, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
	if (!c || c->err) {
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	return c;
}

static bool answers_ping(const struct redis_proc *r)
{
	redisContext *c = connect_to(r);
	if (!c)
		return false;
	redisReply *rep = redisCommand(c, "PING");
	bool ok = rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0;
	if (rep)
		freeReplyObject(rep);
	redisFree(c);
	return ok;
}

static void dump_log(const struct redis_proc *r)
{
	char detail[32];
	snprintf(detail, sizeof(detail), "(port %d)", r->port);
	h_file_dump(r->log_path, "redis-server log", detail);
}

/* Starts redis-server on r->port; 0 once it answers PING. */
static int launch(struct redis_proc *r)
{
	char port[16];
	snprintf(port, sizeof(port), "%d", r->port);
	snprintf(r->url, sizeof(r->url), "redis://127.0.0.1:%d", r->port);
	const char *argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1",
			      "--save", "", "--appendonly", "no", "--dir", r->dir,
			      "--logfile", "", "--daemonize", "no", NULL};
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		h_child_stdio(r->log_path, r->log_path, O_APPEND);
		execvp("redis-server", (char *const *)argv);
		dprintf(2, "exec redis-server: %s\n", strerror(errno));
		_exit(127);
	}
	r->pid = pid;
	int64_t deadline = h_now_ms() + 10000;
	while (h_now_ms() < deadline) {
		if (answers_ping(r))
			return 0;
		int ws;
		if (waitpid(pid, &ws, WNOHANG) == pid) {
			fprintf(stderr, "redis-server on port %d exited before answering PING\n",
				r->port);
			dump_log(r);
			r->pid = 0;
			return -1;
		}
		h_sleep_ms(20);
	}
	fprintf(stderr, "redis-server on port %d did not answer PING within 10 s\n", r->port);
	dump_log(r);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	r->pid = 0;
	return -1;
}

int redis_proc_start(struct redis_proc *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "/tmp/channels-redis-XXXXXX");
	if (!mkdtemp(r->dir)) {
		perror("mkdtemp");
		r->dir[0] = '\0';
		return -1;
	}
	snprintf(r->log_path, sizeof(r->log_path), "%s/redis.log", r->dir);
	/* The free port can be taken between the probe and redis' bind. */
	for (int attempt = 0; attempt < 3; attempt++) {
		r->port = free_tcp_port();
		if (r->port > 0 && launch(r) == 0)
			return 0;
	}
	return -1;
}

int redis_proc_restart(struct redis_proc *r)
{
	if (r->pid > 0) {
		fprintf(stderr, "redis_proc_restart: still running\n");
		return -1;
	}
	return launch(r);
}

int redis_proc_stop(struct redis_proc *r)
{
	if (r->pid <= 0)
		return -1;
	kill(r->pid, SIGTERM);
	int64_t deadline = h_now_ms() + 5000;
	int ws = 0;
	pid_t got = 0;
	while ((got = waitpid(r->pid, &ws, WNOHANG)) == 0 && h_now_ms() < deadline)
		h_sleep_ms(5);
	int rc = 0;
	if (got != r->pid) {
		fprintf(stderr, "redis-server pid %d ignored SIGTERM: SIGKILL\n", (int)r->pid);
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		rc = -1;
	}
	r->pid = 0;
	return rc;
}

int redis_proc_signal(const struct redis_proc *r, int sig)
{
	if (r->pid <= 0 || kill(r->pid, sig) != 0) {
		fprintf(stderr, "redis_proc_signal(%d): not running\n", sig);
		return -1;
	}
	return 0;
}

int redis_proc_kill(struct redis_proc *r)
{
	if (r->pid <= 0)
		return -1;
	kill(r->pid, SIGKILL); /* also ends a stopped one, without running it first */
	waitpid(r->pid, NULL, 0);
	r->pid = 0;
	return 0;
}

void redis_proc_destroy(struct redis_proc *r)
{
	if (r->pid > 0)
		redis_proc_stop(r);
	if (r->dir[0]) {
		unlink(r->log_path);
		rmdir(r->dir);
		r->dir[0] = '\0';
	}
}

/* ---- queries ---- */

void redis_proc_free_names(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

int redis_proc_channels(const struct redis_proc *r, const char *pattern, char ***names,
			size_t *n)
{
	if (names) {
		*names = NULL;
		*n = 0;
	}
	redisContext *c = connect_to(r);
	if (!c) {
		fprintf(stderr, "PUBSUB CHANNELS: cannot connect to port %d\n", r->port);
		return -1;
	}
	redisReply *rep = redisCommand(c, "PUBSUB CHANNELS %s", pattern);
	int count = -1;
	if (rep && rep->type == REDIS_REPLY_ARRAY) {
		count = (int)rep->elements;
		if (names && count > 0) {
			*names = calloc(rep->elements, sizeof(char *));
			for (size_t i = 0; *names && i < rep->elements; i++)
				(*names)[i] = strdup(rep->element[i]->str ? rep->element[i]->str : "");
			*n = *names ? rep->elements : 0;
		}
	} else {
		fprintf(stderr, "PUBSUB CHANNELS %s: unexpected reply\n", pattern);
	}
	if (rep)
		freeReplyObject(rep);
	redisFree(c);
	return count;
}

bool redis_proc_has_channel(const struct redis_proc *r, const char *channel)
{
	char **names;
	size_t n;
	if (redis_proc_channels(r, "*", &names, &n) < 0)
		return false;
	bool found = false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], channel) == 0)
			found = true;
	redis_proc_free_names(names, n);
	return found;
}

long long redis_proc_numsub(const struct redis_proc *r, const char *channel)
{
	redisContext *c = connect_to(r);
	if (!c)
		return -1;
	redisReply *rep = redisCommand(c, "PUBSUB NUMSUB %s", channel);
	long long v = -1;
	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[1]->type == REDIS_REPLY_INTEGER)
		v = rep->element[1]->integer;
	if (rep)
		freeReplyObject(rep);
	redisFree(c);
	return v;
}

bool redis_proc_wait_numsub(const struct redis_proc *r, const char *channel, long long want,
			    int ms)
{
	int64_t deadline = h_now_ms() + ms;
	long long got = -1;
	for (;;) {
		got = redis_proc_numsub(r, channel);
		if (got >= want)
			return true;
		if (h_now_ms() >= deadline)
			break;
		h_sleep_ms(20);
	}
	fprintf(stderr, "PUBSUB NUMSUB %s: %lld after %d ms, wanted %lld\n", channel, got, ms,
		want);
	return false;
}

bool redis_proc_wait_channel(const struct redis_proc *r, const char *channel, bool present,
			     int ms)
{
	int64_t deadline = h_now_ms() + ms;
	for (;;) {
		if (redis_proc_has_channel(r, channel) == present)
			return true;
		if (h_now_ms() >= deadline)
			break;
		h_sleep_ms(20);
	}
	fprintf(stderr, "PUBSUB CHANNELS: %s still %s after %d ms\n", channel,
		present ? "absent" : "listed", ms);
	return false;
}

long long redis_proc_publish(const struct redis_proc *r, const char *channel,
			     const void *payload, size_t len)
{
	redisContext *c = connect_to(r);
	if (!c) {
		fprintf(stderr, "PUBLISH: cannot connect to port %d\n", r->port);
		return -1;
	}
	const char *argv[3] = {"PUBLISH", channel, payload};
	size_t lens[3] = {7, strlen(channel), len};
	redisReply *rep = redisCommandArgv(c, 3, argv, lens);
	long long v = -1;
	if (rep && rep->type == REDIS_REPLY_INTEGER)
		v = rep->integer;
	else
		fprintf(stderr, "PUBLISH %s: unexpected reply\n", channel);
	if (rep)
		freeReplyObject(rep);
	redisFree(c);
	return v;
}

int redis_proc_command(const struct redis_proc *r, const char *const *argv)
{
	redisContext *c = connect_to(r);
	if (!c) {
		fprintf(stderr, "%s: cannot connect to port %d\n", argv[0], r->port);
		return -1;
	}
	int argc = 0;
	size_t lens[16];
	while (argv[argc] && argc < 16) {
		lens[argc] = strlen(argv[argc]);
		argc++;
	}
	redisReply *rep = redisCommandArgv(c, argc, (const char **)argv, lens);
	int rc = 0;
	if (!rep || rep->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "%s: %s\n", argv[0], rep ? rep->str : c->errstr);
		rc = -1;
	}
	if (rep)
		freeReplyObject(rep);
	redisFree(c);
	return rc;
}

long long redis_proc_info_num(const struct redis_proc *r, const char *field)
{
	redisContext *c = connect_to(r);
	if (!c)
		return -1;
	redisReply *rep = redisCommand(c, "INFO");
	long long v = -1;
	if (rep && rep->type == REDIS_REPLY_STRING) {
		size_t n = strlen(field);
		for (const char *p = rep->str; p && *p; p = strchr(p, '\n')) {
			if (*p == '\n')
				p++;
			if (strncmp(p, field, n) == 0 && p[n] == ':') {
				v = strtoll(p + n + 1, NULL, 10);
				break;
			}
		}
	}
	if (rep)
		freeReplyObject(rep);
	redisFree(c);
	return v;
}

/* ---- child programs ---- */

int cmd_spawn(struct cmd_proc *p, char *const argv[])
{
	static unsigned seq;
	memset(p, 0, sizeof(*p));
	snprintf(p->out_path, sizeof(p->out_path), "/tmp/channels-rtest-%d-%u.out", (int)getpid(),
		 seq);
	snprintf(p->err_path, sizeof(p->err_path), "/tmp/channels-rtest-%d-%u.err", (int)getpid(),
		 seq++);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		h_child_stdio(p->out_path, p->err_path, O_TRUNC);
		execv(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	p->pid = pid;
	return 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		abort();
	if (f) {
		size_t n;
		while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
			len += n;
			if (cap - len < 2) {
				cap *= 2;
				buf = realloc(buf, cap);
				if (!buf)
					abort();
			}
		}
		fclose(f);
	}
	buf[len] = '\0';
	return buf;
}

int cmd_wait(struct cmd_proc *p, int ms, struct cmd_result *res)
{
	int64_t deadline = h_now_ms() + ms;
	int ws = 0;
	pid_t got = 0;
	while ((got = waitpid(p->pid, &ws, WNOHANG)) == 0 && h_now_ms() < deadline)
		h_sleep_ms(5);
	if (got != p->pid) {
		fprintf(stderr, "child %d still running after %d ms: SIGKILL\n", (int)p->pid, ms);
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		res->status = -1;
	} else if (WIFEXITED(ws)) {
		res->status = WEXITSTATUS(ws);
	} else {
		fprintf(stderr, "child %d killed by signal %d\n", (int)p->pid, WTERMSIG(ws));
		res->status = -1;
	}
	res->out = slurp(p->out_path);
	res->err = slurp(p->err_path);
	unlink(p->out_path);
	unlink(p->err_path);
	p->pid = 0;
	return res->status;
}

int cmd_run(char *const argv[], int ms, struct cmd_result *res)
{
	struct cmd_proc p;
	fprintf(stderr, "$");
	for (size_t i = 0; argv[i]; i++)
		fprintf(stderr, " '%s'", argv[i]);
	fprintf(stderr, "\n");
	if (cmd_spawn(&p, argv) != 0) {
		res->status = -1;
		res->out = slurp("/dev/null");
		res->err = slurp("/dev/null");
		return -1;
	}
	cmd_wait(&p, ms, res);
	fprintf(stderr, "  exit %d; stdout: %s%s  stderr: %s%s", res->status, res->out,
		res->out[0] && res->out[strlen(res->out) - 1] == '\n' ? "" : "\n", res->err,
		res->err[0] && res->err[strlen(res->err) - 1] == '\n' ? "" : "\n");
	return res->status;
}

void cmd_result_clear(struct cmd_result *res)
{
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
}

const char *cmd_cli_exe(int argc, char **argv)
{
	const char *exe = argc > 3 ? argv[3] : getenv("CHANNELS_CLI_EXE");

	if (!exe)
		fprintf(stderr, "usage: %s SERVER_EXE SOURCE_ROOT CLI_EXE\n", argv[0]);
	unsetenv("CHANNELS_REDIS");
	unsetenv("CHANNELS_PUBLISH_TOKEN");
	unsetenv("CHANNELS_PUBLISH_TOKEN_FILE");
	unsetenv("CHANNELS_URL");
	return exe;
}
