/*
 * test_fdlimit.c - out of file descriptors: a server limited to 256 open
 * files, under 400 connections, pauses accepting instead of spinning on
 * accept() (its CPU time stays low), logs the cause at most once per
 * interval, and serves HTTP and WebSockets again once the extra
 * connections are gone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"

#define N_CONNS 400
#define CAUSE "Too many open files"

/* utime + stime of `pid` in ms (/proc/<pid>/stat fields 14 and 15), or -1. */
static long long cpu_ms(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces: count from its ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	unsigned long long utime = 0, stime = 0;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
		   &stime) != 2)
		return -1;
	return (long long)(utime + stime) * 1000 / sysconf(_SC_CLK_TCK);
}

/* Open descriptors of `pid` (entries of /proc/<pid>/fd), or -1. */
static int fd_count(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static long log_size(const struct h_server *s)
{
	struct stat st;
	return stat(s->log_path, &st) == 0 ? (long)st.st_size : -1;
}

/* A non-blocking connect to the server; the kernel completes it (or queues
 * it in the backlog) whether or not the server accepts it. */
static int open_idle(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_out_of_fds(void)
{
	struct h_server s;
	const char *extra[] = {"--workers", "2", NULL};
	if (h_server_start_nofile(&s, extra, 256) != 0) {
		CHECK(!"server started");
		return;
	}
	CHECK_INT(h_healthz(&s), 0);

	int fds[N_CONNS];
	int opened = 0;
	for (int i = 0; i < N_CONNS; i++) {
		fds[i] = open_idle(s.port);
		opened += fds[i] >= 0;
	}
	CHECK_INT(opened, N_CONNS);

	/* The server runs out of descriptors and says so. */
	int64_t deadline = h_now_ms() + 15000;
	while (h_server_log_count(&s, CAUSE) == 0 && h_server_alive(&s) && h_now_ms() < deadline)
		h_sleep_ms(20);
	CHECK(h_server_log_count(&s, CAUSE) >= 1);

	/* While it stays out of them, it idles: before the pause, both workers
	 * spun at 100% CPU on accept() (seconds of CPU time in these 3 s). */
	h_sleep_ms(500);
	long long cpu0 = cpu_ms(s.pid);
	h_sleep_ms(3000);
	long long cpu1 = cpu_ms(s.pid);
	CHECK(cpu0 >= 0 && cpu1 >= 0);
	/* ... and it still was out of them at the end (the window measured
	 * the shortage, not a server that had dropped the idle sockets). */
	int nfd = fd_count(s.pid);
	fprintf(stderr, "server open descriptors after the 3 s: %d of 256\n", nfd);
	CHECK(nfd >= 250);
	fprintf(stderr, "server CPU time over 3 s out of descriptors: %lld ms\n", cpu1 - cpu0);
	CHECK(cpu1 - cpu0 < 600);
	/* One line per 10 s for the cause (the server has run ~4 s with it),
	 * and no other flood in the log. */
	int lines = h_server_log_count(&s, CAUSE);
	CHECK(lines >= 1 && lines <= 2);
	long size = log_size(&s);
	fprintf(stderr, "server log: %d line(s) for the cause, %ld bytes in all\n", lines, size);
	CHECK(size >= 0 && size < 16384);
	CHECK(h_server_alive(&s));

	/* The extra connections go: it serves again. */
	for (int i = 0; i < N_CONNS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	deadline = h_now_ms() + 10000;
	int ok = -1;
	while (ok != 0 && h_server_alive(&s) && h_now_ms() < deadline) {
		struct client_response r;
		if (h_http_ex(&s, "GET", "/healthz", NULL, NULL, NULL, 0, 2000, &r) == 0) {
			ok = r.status == 200 ? 0 : -1;
			client_response_clear(&r);
		}
		if (ok != 0)
			h_sleep_ms(100);
	}
	CHECK_INT(ok, 0);
	struct h_jar jar = {0};
	CHECK_INT(h_login(&s, &jar, "fiona", "lobby"), 0);
	struct client_ws *ws = NULL;
	CHECK_INT(h_ws_open(&s, "/ws/chat/lobby/", &jar, NULL, &ws, NULL), 0);
	if (ws)
		CHECK_INT(h_chat_roundtrip(ws, ws, "after the shortage", 3000), 0);
	client_ws_free(ws);
	CHECK_INT(h_server_stop(&s), 0);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, &check_failed);
	/* This process holds the N_CONNS sockets and its clients' own. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max < N_CONNS + 128) {
		fprintf(stderr, "RLIMIT_NOFILE hard limit below %d: skipped\n", N_CONNS + 128);
		return 77;
	}
	if (rl.rlim_cur < N_CONNS + 128) {
		rl.rlim_cur = N_CONNS + 128;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	test_out_of_fds();
	return check_finish();
}
