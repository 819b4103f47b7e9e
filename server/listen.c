/*
 * listen.c - the listening socket.
 *
 * TCP (--host/--port, the default): every worker binds its own socket on
 * the same address with SO_REUSEPORT and the kernel spreads new
 * connections over them.
 *
 * A shared socket (--uds PATH, --fd N, systemd's LISTEN_FDS): one socket
 * made or inherited before the workers start. Each worker polls its own
 * dup() of it and accepts from it (non-blocking: a worker that loses the
 * race gets EAGAIN and waits for the next). Chosen over "accept on one
 * worker and hand the fd over" because it needs no cross-thread handoff
 * (no queue, no wakeup per connection), every worker keeps accepting when
 * another is busy, and a worker's close of its dup never closes the
 * others'. The cost is a wakeup of every idle worker per burst of
 * connections (the thundering herd), which the bounded accept batch of
 * context.c keeps small; SO_REUSEPORT cannot be used because the socket
 * is one socket, not N.
 *
 * --uds PATH: the socket file is created with mode 0660 (owner and group:
 * add the proxy's user to the server's group). A file already at PATH is
 * replaced only when it is a socket nobody accepts on (connect() refused:
 * a stale one left by a server that died); a live socket or any other kind
 * of file is an error. The file is removed at exit.
 *
 * LISTEN_FDS (sd_listen_fds(3)): used only when LISTEN_PID is this
 * process; the sockets are fds 3 .. 3+LISTEN_FDS-1; the first one is
 * served (LISTEN_FDNAMES, if given, names it in the log; more than one is
 * an error: one service, one socket). The variables are then unset, so
 * nothing this process starts takes them for its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "server_int.h"

#define SD_LISTEN_FDS_START 3

/*
 * Listening. Every worker has its own listening socket on the same address
 * (SO_REUSEPORT: the kernel spreads new connections over them) and hands
 * each accepted socket to its lws context as a raw socket
 * (lws_adopt_descriptor_vhost(); the contexts themselves do not listen). Returns the fd, or -1.
 */
static int listen_socket(const char *host, int port, int *bound_port, bool first)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char service[16];
	snprintf(service, sizeof(service), "%d", port);
	int rc = getaddrinfo(host && *host ? host : NULL, service, &hints, &res);
	if (rc != 0) {
		LOG(LOG_ERROR, "server", "--host %s: %s", host, gai_strerror(rc));
		return -1;
	}
	int fd = -1, one = 1;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (first && port != 0) {
			/* SO_REUSEPORT would let us share the port with another
			 * process of the same user: first make sure nobody has it. */
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
				LOG(LOG_ERROR, "server", "cannot listen on %s:%d: %s", host, port,
				    strerror(errno));
				close(fd);
				fd = -1;
				continue;
			}
			close(fd);
			fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (fd < 0)
				continue;
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
			LOG(LOG_ERROR, "server", "cannot listen on %s:%d: %s", host, port,
			    strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd >= 0) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		getsockname(fd, (struct sockaddr *)&ss, &sl);
		*bound_port = ntohs(ss.ss_family == AF_INET6
					    ? ((struct sockaddr_in6 *)&ss)->sin6_port
					    : ((struct sockaddr_in *)&ss)->sin_port);
	}
	return fd;
}

/* The port (or 0) and description of a listening socket. */
static int describe(int fd, char *desc, size_t desclen, const char *how)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?", serv[16] = "0";
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		ss.ss_family = AF_UNSPEC;
	if (ss.ss_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)&ss;
		snprintf(desc, desclen, "%s%sunix:%s", how, *how ? " " : "", un->sun_path[0] ? un->sun_path : "(abstract)");
		return 0;
	}
	getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv, sizeof(serv),
		    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(desc, desclen, ss.ss_family == AF_INET6 ? "%s%shttp://[%s]:%s/" : "%s%shttp://%s:%s/",
		 how, *how ? " " : "", host, serv);
	return atoi(serv);
}

/* `fd` is a listening stream socket: made close-on-exec and non-blocking. */
static int adopt(int fd, const char *what)
{
	int type = 0, acc = 0;
	socklen_t l = sizeof(type), la = sizeof(acc);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) != 0 || type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &la) != 0 || !acc) {
		LOG(LOG_ERROR, "server", "%s: fd %d is not a listening stream socket", what, fd);
		return -1;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
		return -1;
	return fd;
}

/* systemd socket activation: the first passed fd, or -1 (none for us), or
 * -2 (an error, logged). */
static int from_systemd(char *name, size_t namelen)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	name[0] = '\0';
	if (!pid || !fds)
		return -1;
	char *end;
	long p = strtol(pid, &end, 10);
	if (*end || p != (long)getpid())
		return -1; /* meant for another process (our parent) */
	long n = strtol(fds, &end, 10);
	if (names)
		snprintf(name, namelen, "%.*s", (int)strcspn(names, ":"), names);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (*end || n <= 0)
		return -1;
	if (n > 1) {
		LOG(LOG_ERROR, "server", "LISTEN_FDS=%ld: systemd passed %ld sockets; one service "
					 "serves one socket (ListenStream= once)", n, n);
		return -2;
	}
	return adopt(SD_LISTEN_FDS_START, "LISTEN_FDS") < 0 ? -2 : SD_LISTEN_FDS_START;
}

/* Clears the way for a new socket file at `path`: 0, or -1 (logged). */
static int uds_unlink_stale(const char *path, const struct sockaddr_un *sun)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		LOG(LOG_ERROR, "server", "--uds %s: exists and is not a socket", path);
		return -1;
	}
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = probe >= 0 ? connect(probe, (const struct sockaddr *)sun, sizeof(*sun)) : -1;
	int err = errno;
	if (probe >= 0)
		close(probe);
	if (rc == 0 || err != ECONNREFUSED) {
		LOG(LOG_ERROR, "server", "--uds %s: %s", path,
		    rc == 0 ? "a server is listening on it already" : strerror(err));
		return -1;
	}
	LOG(LOG_INFO, "server", "--uds %s: removing the stale socket left by a stopped server",
	    path);
	return unlink(path);
}

static int uds_open(struct server_process *p, const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path)) {
		LOG(LOG_ERROR, "server", "--uds %s: path longer than %zu bytes", path,
		    sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (uds_unlink_stale(path, &sun) != 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* 0660 from the start: no moment where others may connect. */
	mode_t old = umask(0117);
	int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc != 0 || listen(fd, 4096) != 0) {
		LOG(LOG_ERROR, "server", "--uds %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	snprintf(p->uds_path, sizeof(p->uds_path), "%s", path);
	return fd;
}

int server__listen_shared(struct server_process *p)
{
	const struct server_config *cfg = p->cfg;
	char name[256], how[300];
	int fd = from_systemd(name, sizeof(name));
	p->shared_fd = -1;
	if (fd == -2)
		return -1;
	if (fd >= 0) {
		snprintf(how, sizeof(how), "systemd socket%s%s", name[0] ? " " : "", name);
	} else if (cfg->fd >= 0) {
		fd = adopt(cfg->fd, "--fd");
		if (fd < 0)
			return -1;
		snprintf(how, sizeof(how), "fd %d", fd);
	} else if (cfg->uds && *cfg->uds) {
		fd = uds_open(p, cfg->uds);
		if (fd < 0)
			return -1;
		how[0] = '\0';
	} else {
		return 0;
	}
	p->shared_fd = fd;
	p->port = describe(fd, p->listen_desc, sizeof(p->listen_desc), how);
	return 0;
}

int server__listen_worker(struct server_worker *w, int port)
{
	const struct server_process *p = w->proc;
	if (p->shared_fd < 0) {
		int fd = listen_socket(p->cfg->host, port, &w->proc->port, w->index == 0);
		if (fd >= 0 && w->index == 0)
			describe(fd, w->proc->listen_desc, sizeof(w->proc->listen_desc), "");
		return fd;
	}
	int fd = fcntl(p->shared_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		LOG(LOG_ERROR, "server", "dup of the listening socket: %s", strerror(errno));
	return fd;
}

void server__listen_end(struct server_process *p)
{
	if (p->shared_fd >= 0)
		close(p->shared_fd);
	p->shared_fd = -1;
	if (p->uds_path[0])
		unlink(p->uds_path);
	p->uds_path[0] = '\0';
}
