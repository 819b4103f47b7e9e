/*
 * net.c - TCP connect and poll()-based socket I/O with deadlines.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "client_int.h"

int64_t client__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t client__deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return -1;
	return client__now_ms() + timeout_ms;
}

int client__remaining(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - client__now_ms();
	if (left <= 0)
		return 0;
	return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

/* Waits for `events` on fd. 0 when ready, CH_ETIMEDOUT, CH_EIO. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	for (;;) {
		int rc = poll(&pfd, 1, client__remaining(deadline));

		if (rc > 0)
			return 0;
		if (rc == 0)
			return CH_ETIMEDOUT;
		if (errno != EINTR)
			return CH_EIO;
	}
}

/* One connect attempt. 0, CH_ECONNECT or CH_ETIMEDOUT. */
static int connect_one(const struct addrinfo *ai, int64_t deadline, int *out)
{
	int fd, one = 1, err = 0, rc;
	socklen_t elen = sizeof(err);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return CH_ECONNECT;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			close(fd);
			return CH_ECONNECT;
		}
		rc = wait_fd(fd, POLLOUT, deadline);
		if (rc) {
			close(fd);
			return rc == CH_ETIMEDOUT ? rc : CH_ECONNECT;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err) {
			close(fd);
			return CH_ECONNECT;
		}
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*out = fd;
	return 0;
}

int client__tcp_connect(const char *host, int port, int timeout_ms, int *fd)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV};
	struct addrinfo *res = NULL, *ai;
	char portstr[16], name[256];
	size_t hlen;
	int64_t deadline = client__deadline(timeout_ms);
	int rc = CH_ECONNECT;

	if (!host || !*host || port <= 0 || port > 65535)
		return CH_EINVAL;
	snprintf(portstr, sizeof(portstr), "%d", port);
	hlen = strlen(host);
	if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') { /* "[::1]" */
		if (hlen - 2 >= sizeof(name))
			return CH_EINVAL;
		memcpy(name, host + 1, hlen - 2);
		name[hlen - 2] = '\0';
		host = name;
	}
	if (getaddrinfo(host, portstr, &hints, &res) != 0) {
		/* AI_ADDRCONFIG hides loopback-only families on hosts without
		 * a configured address; retry without it. */
		hints.ai_flags = AI_NUMERICSERV;
		if (getaddrinfo(host, portstr, &hints, &res) != 0)
			return CH_ECONNECT;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		rc = connect_one(ai, deadline, fd);
		if (rc == 0 || rc == CH_ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	return rc;
}

int client__send_all(int fd, const void *data, size_t len, int64_t deadline)
{
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = wait_fd(fd, POLLOUT, deadline);

			if (rc)
				return rc;
			continue;
		}
		return CH_EIO;
	}
	return 0;
}

long client__recv_some(int fd, void *buf, size_t cap, int64_t deadline)
{
	for (;;) {
		ssize_t n = recv(fd, buf, cap, 0);

		if (n >= 0)
			return (long)n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int rc = wait_fd(fd, POLLIN, deadline);

			if (rc)
				return rc;
			continue;
		}
		return CH_EIO;
	}
}

char *client__host_header(const char *host, int port)
{
	bool v6 = strchr(host, ':') != NULL && host[0] != '[';
	size_t n = strlen(host) + 16;
	char *s = malloc(n);

	if (!s)
		return NULL;
	snprintf(s, n, v6 ? "[%s]:%d" : "%s:%d", host, port);
	return s;
}

int client__random(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : CH_EIO;
}
