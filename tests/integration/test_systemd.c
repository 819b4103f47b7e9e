/*
 * test_systemd.c - deploy/systemd/: `systemd-analyze verify` of both units
 * (ExecStart pointed at the built binary; skipped, with the reason, when
 * systemd-analyze is missing), then the server started exactly as
 * channels-server.socket + .service would start it, without systemd as PID
 * 1: a socket bound on the unit's ListenStream= address, passed as fd 3
 * with LISTEN_FDS=1, LISTEN_PID=the child's pid and LISTEN_FDNAMES the
 * unit's FileDescriptorName=, the ExecStart= arguments of the .service;
 * then HTTP and a chat WebSocket pair through it.
 *   argv: server binary, source root, systemd-analyze ("" when missing)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <limits.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"

/* The value of the first "key=" line of a unit file (malloc'd), or NULL. */
static char *unit_value(const char *rel, const char *key)
{
	char *path = h_src_path(rel), line[1024];
	FILE *f = fopen(path, "r");
	free(path);
	char *out = NULL;
	size_t kl = strlen(key);
	while (f && !out && fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == '=') {
			line[strcspn(line, "\n")] = '\0';
			out = strdup(line + kl + 1);
		}
	if (f)
		fclose(f);
	return out;
}

static void verify_units(const char *analyze, const char *server)
{
	if (!analyze || !*analyze) {
		printf("SKIP (part): systemd-analyze not found (Debian package systemd): "
		       "the units are not verified\n");
		return;
	}
	char dir[] = "/tmp/channels-systemd-XXXXXX", cmd[2048];
	if (!mkdtemp(dir))
		return;
	char *svc = h_src_path("deploy/systemd/channels-server.service");
	char *sock = h_src_path("deploy/systemd/channels-server.socket");
	snprintf(cmd, sizeof(cmd),
		 "sed 's|^ExecStart=[^ ]*|ExecStart=%s|' '%s' > %s/channels-server.service && "
		 "cp '%s' %s/ && '%s' verify %s/channels-server.socket %s/channels-server.service",
		 server, svc, dir, sock, dir, analyze, dir, dir);
	int rc = system(cmd);
	CHECK_INT(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	free(svc);
	free(sock);
}

/* Binds ListenStream= ("127.0.0.1:8000"); a port in use here falls back
 * to any free one (said), the address and the rest stay the unit's. */
static int bind_listen_stream(const char *ls, int *port)
{
	char host[64] = "";
	const char *colon = strrchr(ls, ':');
	if (!colon || (size_t)(colon - ls) >= sizeof(host))
		return -1;
	memcpy(host, ls, (size_t)(colon - ls));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno == EADDRINUSE) {
		printf("note: %s is in use on this machine: binding %s on a free port instead\n", ls,
		       host);
		a.sin_port = 0;
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
			return -1;
	}
	socklen_t l = sizeof(a);
	if (listen(fd, 4096) != 0 || getsockname(fd, (struct sockaddr *)&a, &l) != 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

static void start_as_socket_unit(void)
{
	char *ls = unit_value("deploy/systemd/channels-server.socket", "ListenStream");
	char *name = unit_value("deploy/systemd/channels-server.socket", "FileDescriptorName");
	char *exec = unit_value("deploy/systemd/channels-server.service", "ExecStart");
	CHECK(ls && name && exec);
	if (!ls || !name || !exec)
		return;
	/* ExecStart's arguments after the binary (no quoting in our unit). */
	const char *extra[32];
	size_t n = 0;
	char *save = NULL;
	strtok_r(exec, " ", &save);
	for (char *t = strtok_r(NULL, " ", &save); t && n < 31; t = strtok_r(NULL, " ", &save))
		extra[n++] = t;
	extra[n] = NULL;
	int port = 0, fd = bind_listen_stream(ls, &port);
	CHECK(fd >= 0);
	struct h_server s;
	if (fd >= 0 && h_server_start_opts(&s, extra, &(struct h_start){.listen_fd = fd,
					   .listen_fdname = name}) == 0) {
		close(fd);
		CHECK_INT(s.port, port);
		char want[128];
		snprintf(want, sizeof(want), "listening on systemd socket %s http://", name);
		CHECK(h_server_log_has(&s, want));
		CHECK_INT(h_healthz(&s), 0);
		struct client_ws *a = NULL, *b = NULL;
		CHECK_INT(h_ws_open(&s, "/ws/chat/lobby/", NULL, NULL, &a, NULL), 0);
		CHECK_INT(h_ws_open(&s, "/ws/chat/lobby/", NULL, NULL, &b, NULL), 0);
		if (a && b)
			CHECK_INT(h_chat_roundtrip(a, b, "socket-activated", 5000), 0);
		if (a) {
			client_ws_close(a, 1000, 2000);
			client_ws_free(a);
		}
		if (b) {
			client_ws_close(b, 1000, 2000);
			client_ws_free(b);
		}
		CHECK_INT(h_server_stop(&s), 0);
	} else {
		CHECK(!"server started as the socket unit starts it");
		if (fd >= 0)
			close(fd);
	}
	free(ls);
	free(name);
	free(exec);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, &check_failed);
	char *server = argc > 1 ? realpath(argv[1], NULL) : NULL; /* ExecStart= must be absolute */
	verify_units(argc > 3 ? argv[3] : NULL, server ? server : "/bin/false");
	free(server);
	start_as_socket_unit();
	return check_finish();
}
