/*
 * test_nginx.c - Debian's real nginx, run as the test's user with the
 * site deploy/nginx/channels.conf (its listen port, upstream, static path
 * substituted; nginx's pid, logs and temp files in a temp prefix) in front
 * of the real server (--proxy-headers 1). Through nginx: a page, a static
 * file served by nginx itself, the Host check, a chat WebSocket pair, the
 * client address the server sees (the one nginx forwarded, never one the
 * client made up), the publish endpoint refusing a request without the
 * token.
 *   argv: server binary, source root, nginx binary
 *
 * So that the client's address differs from nginx's, nginx connects to the
 * server from 127.0.0.3 (proxy_bind, added by the test) and the server
 * trusts only that address; the client is 127.0.0.1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	size_t got = fread(b, 1, (size_t)n, f);
	b[got] = '\0';
	fclose(f);
	return b;
}

/* `s` with the first `from` replaced by `to` (frees `s`); NULL if absent. */
static char *subst(char *s, const char *from, const char *to)
{
	char *at = s ? strstr(s, from) : NULL;
	if (!at) {
		fprintf(stderr, "deploy/nginx/channels.conf: '%s' not found\n", from);
		free(s);
		return NULL;
	}
	size_t a = (size_t)(at - s), fl = strlen(from), tl = strlen(to), sl = strlen(s);
	char *out = malloc(sl - fl + tl + 1);
	memcpy(out, s, a);
	memcpy(out + a, to, tl);
	memcpy(out + a + tl, at + fl, sl - a - fl + 1);
	free(s);
	return out;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &l);
	close(fd);
	return ntohs(a.sin_port);
}

static bool port_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* Writes nginx.conf into `dir`: the site with the ports and paths of this
 * run, wrapped in a main config that keeps everything inside `dir`. */
static int write_conf(const char *dir, int nginx_port, int server_port)
{
	char *site_path = h_src_path("deploy/nginx/channels.conf");
	char *static_dir = h_src_path("static");
	char *site = slurp(site_path);
	char buf[512];
	snprintf(buf, sizeof(buf), "listen 127.0.0.1:%d;", nginx_port);
	site = subst(site, "listen 80;", buf);
	snprintf(buf, sizeof(buf), "server 127.0.0.1:%d;", server_port);
	site = subst(site, "server 127.0.0.1:8000;", buf);
	snprintf(buf, sizeof(buf), "alias %s/;", static_dir);
	site = subst(site, "alias /usr/local/share/channels-c/static/;", buf);
	site = subst(site, "proxy_pass http://channels;",
		     "proxy_pass http://channels;\n        proxy_bind 127.0.0.3;");
	free(site_path);
	free(static_dir);
	if (!site)
		return -1;
	char path[256];
	snprintf(path, sizeof(path), "%s/nginx.conf", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f,
		"daemon off;\nworker_processes 1;\npid %s/nginx.pid;\nerror_log %s/error.log info;\n"
		"%s"
		"events { worker_connections 256; }\n"
		"http {\n  access_log %s/access.log;\n"
		"  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
		"  fastcgi_temp_path %s/fastcgi;\n  uwsgi_temp_path %s/uwsgi;\n"
		"  scgi_temp_path %s/scgi;\n"
		"  types { text/css css; image/svg+xml svg; application/javascript js; }\n"
		"%s\n}\n",
		dir, dir, geteuid() == 0 ? "user root;\n" : "", dir, dir, dir, dir, dir, dir, site);
	fclose(f);
	free(site);
	return 0;
}

static pid_t nginx_start(const char *nginx, const char *dir, int port)
{
	char conf[256], log[256];
	snprintf(conf, sizeof(conf), "%s/nginx.conf", dir);
	snprintf(log, sizeof(log), "%s/stderr.log", dir);
	pid_t pid = fork();
	if (pid == 0) {
		h_child_stdio(log, log, O_TRUNC);
		char elog[256];
		snprintf(elog, sizeof(elog), "%s/error.log", dir);
		execl(nginx, nginx, "-p", dir, "-c", conf, "-e", elog, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && pid > 0; i++) {
		if (port_open(port))
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			break;
		h_sleep_ms(10);
	}
	fprintf(stderr, "nginx did not start\n");
	h_file_dump(log, "nginx stderr", "");
	snprintf(log, sizeof(log), "%s/error.log", dir);
	h_file_dump(log, "nginx error.log", "");
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return -1;
}

static int get(const struct h_server *via, const char *path, const char *hdrs, char **body)
{
	struct client_response r;
	if (h_http(via, "GET", path, NULL, hdrs, NULL, 0, &r) != 0)
		return -1;
	int st = r.status;
	if (body)
		*body = r.body ? strdup(r.body) : NULL;
	client_response_clear(&r);
	return st;
}

#define TOKEN "nginx-test-token-0123456789"

static void through_nginx(const struct h_server *s, const struct h_server *via)
{
	char *body = NULL;
	CHECK_INT(get(via, "/", NULL, &body), 200);
	CHECK_CONTAINS(body, "channels");
	free(body);
	/* The server saw the client (127.0.0.1), from nginx (127.0.0.3). */
	CHECK(h_server_log_has(s, "client 127.0.0.1 via proxy 127.0.0.3"));
	/* A made-up X-Forwarded-For is not believed: nginx appends the real one. */
	CHECK_INT(get(via, "/healthz", "X-Forwarded-For: 203.0.113.66\r\n", NULL), 200);
	CHECK(!h_server_log_has(s, "client 203.0.113.66"));
	/* Static files: nginx serves them, the server never sees the request. */
	CHECK_INT(get(via, "/static/css/site.css", NULL, NULL), 200);
	CHECK(!h_server_log_has(s, "GET /static/"));
	/* The Host check, through nginx. */
	CHECK_INT(get(via, "/", "Host: evil.example\r\n", NULL), 400);
	CHECK(h_server_log_has(s, "Host 'evil.example' is not in --allowed-hosts"));
	/* A chat room, through nginx's upgrade. */
	struct client_ws *a = NULL, *b = NULL;
	int st = 0;
	CHECK_INT(h_ws_open(via, "/ws/chat/lobby/", NULL, NULL, &a, &st), 0);
	CHECK_INT(st, 101);
	CHECK_INT(h_ws_open(via, "/ws/chat/lobby/", NULL, NULL, &b, &st), 0);
	CHECK_INT(st, 101);
	if (a && b)
		CHECK_INT(h_chat_roundtrip(a, b, "through nginx", 5000), 0);
	if (a) {
		client_ws_close(a, 1000, 2000);
		client_ws_free(a);
	}
	if (b) {
		client_ws_close(b, 1000, 2000);
		client_ws_free(b);
	}
	/* The publish endpoint: never by address through a proxy; with
	 * --publish-allow-remote the token decides. */
	struct client_response r;
	const char *msg = "{\"type\": \"chat.message\", \"message\": \"x\"}";
	const char *ct = "Content-Type: application/json\r\n";
	CHECK_INT(h_http(via, "POST", "/_channels/group-send/lobby/", NULL, ct, msg, strlen(msg),
			 &r), 0);
	CHECK_INT(r.status, 403);
	client_response_clear(&r);
	CHECK_INT(h_http(via, "POST", "/_channels/group-send/lobby/", NULL,
			 "Content-Type: application/json\r\nAuthorization: Bearer " TOKEN "\r\n",
			 msg, strlen(msg), &r), 0);
	CHECK_INT(r.status, 403); /* even with the token, without --publish-allow-remote */
	client_response_clear(&r);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, &check_failed);
	const char *nginx = argc > 3 ? argv[3] : "/usr/sbin/nginx";
	char dir[] = "/tmp/channels-nginx-XXXXXX";
	if (!mkdtemp(dir))
		return 99;
	chmod(dir, 0755);
	struct h_server s;
	const char *extra[] = {"--proxy-headers", "1", "--forwarded-allow-ips", "127.0.0.3",
			       "--log-level", "debug", "--publish-token", TOKEN,
			       "--allowed-hosts", "127.0.0.1,localhost", NULL};
	if (h_server_start(&s, extra) != 0) {
		CHECK(!"server started");
		return check_finish();
	}
	int nport = free_port();
	pid_t ng = write_conf(dir, nport, s.port) == 0 ? nginx_start(nginx, dir, nport) : -1;
	CHECK(ng > 0);
	if (ng > 0) {
		struct h_server via = s;
		via.port = nport;
		through_nginx(&s, &via);
		kill(ng, SIGQUIT);
		waitpid(ng, NULL, 0);
	}
	CHECK_INT(h_server_stop(&s), 0);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_finish();
}
