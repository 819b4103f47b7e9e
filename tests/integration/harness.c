/*
 * harness.c - the real server as a child process, and client helpers.
 * See harness.h.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *server_exe;
static const char *source_root;
static int *test_failed;

void h_init(int argc, char **argv, int *failed)
{
	server_exe = argc > 1 ? argv[1] : getenv("CHANNELS_SERVER_EXE");
	source_root = argc > 2 ? argv[2] : getenv("CHANNELS_SOURCE_ROOT");
	test_failed = failed;
	if (!server_exe || !source_root) {
		fprintf(stderr, "usage: %s SERVER_EXE SOURCE_ROOT "
				"(or CHANNELS_SERVER_EXE and CHANNELS_SOURCE_ROOT)\n",
			argc ? argv[0] : "test");
		exit(77);
	}
	/* A write to a socket the server closed must be an error, not death. */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IONBF, 0);
}

char *h_src_path(const char *rel)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", source_root, rel) < 0)
		return NULL;
	return p;
}

int64_t h_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void h_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- the server process ---- */

int h_file_dump(const char *path, const char *what, const char *detail)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	fprintf(stderr, "----- %s %s -----\n", what, detail);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fprintf(stderr, "----- end of %s -----\n", what);
	fclose(f);
	return 0;
}

void h_server_dump(const struct h_server *s)
{
	char detail[64];
	snprintf(detail, sizeof(detail), "(pid %d, port %d)", (int)s->pid, s->port);
	if (h_file_dump(s->log_path, "server stderr", detail) != 0)
		fprintf(stderr, "(no server log at %s)\n", s->log_path);
}

bool h_server_log_has(const struct h_server *s, const char *needle)
{
	FILE *f = fopen(s->log_path, "r");
	if (!f)
		return false;
	char line[1024];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f))
		if (strstr(line, needle)) {
			fprintf(stderr, "server log: %s", line);
			found = true;
		}
	fclose(f);
	return found;
}

int h_server_log_count(const struct h_server *s, const char *needle)
{
	FILE *f = fopen(s->log_path, "r");
	if (!f)
		return 0;
	/* getline: a line longer than any buffer still counts once. */
	char *line = NULL;
	size_t cap = 0;
	int n = 0;
	while (getline(&line, &cap, f) >= 0)
		n += strstr(line, needle) != NULL;
	free(line);
	fclose(f);
	return n;
}

static void cleanup_dir(struct h_server *s)
{
	char path[128];
	if (!s->dir[0])
		return;
	snprintf(path, sizeof(path), "%s/port", s->dir);
	unlink(path);
	unlink(s->log_path);
	rmdir(s->dir);
	s->dir[0] = '\0';
}

static int read_port(const char *path)
{
	char buf[32];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *end;
	long v = strtol(buf, &end, 10);
	if (end == buf || v < 0 || v > 65535 || (*end && *end != '\n'))
		return 0;
	return v == 0 ? -1 : (int)v; /* -1: written, "0" (a unix socket) */
}

static int status_of(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		fprintf(stderr, "server killed by signal %d\n", WTERMSIG(wstatus));
	return -1;
}

void h_child_stdio(const char *out_path, const char *err_path, int flags)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_DFL);
	int out = open(out_path, O_WRONLY | O_CREAT | flags, 0600);
	int err = strcmp(out_path, err_path) == 0 ? out
						  : open(err_path, O_WRONLY | O_CREAT | flags, 0600);
	int null = open("/dev/null", O_RDONLY);
	if (out < 0 || err < 0 || null < 0)
		_exit(126);
	dup2(null, 0);
	dup2(out, 1);
	dup2(err, 2);
}

/* In the forked child: stdin from /dev/null, stdout and stderr to
 * `log_path`, RLIMIT_NOFILE's soft limit set to `nofile` (0: unchanged),
 * then execs the server. Never returns. */
static _Noreturn void child_exec(const char *log_path, unsigned nofile, const char *const *argv,
				  int listen_fd, const char *fdname)
{
	/* The server must not outlive a test that crashed. */
	h_child_stdio(log_path, log_path, O_TRUNC);
	if (listen_fd >= 0) {
		/* As systemd passes a socket: fd 3, LISTEN_FDS=1, LISTEN_PID of
		 * this very process (known only after the fork). */
		char pid[24];
		if (listen_fd != 3 && dup2(listen_fd, 3) != 3)
			_exit(124);
		if (listen_fd != 3)
			close(listen_fd);
		fcntl(3, F_SETFD, 0);
		snprintf(pid, sizeof(pid), "%ld", (long)getpid());
		setenv("LISTEN_FDS", "1", 1);
		setenv("LISTEN_PID", pid, 1);
		if (fdname)
			setenv("LISTEN_FDNAMES", fdname, 1);
	}
	if (nofile) {
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(125);
		rl.rlim_cur = nofile;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			dprintf(2, "setrlimit(RLIMIT_NOFILE, %u): %s\n", nofile, strerror(errno));
			_exit(125);
		}
	}
	execv(server_exe, (char *const *)argv);
	dprintf(2, "exec %s: %s\n", server_exe, strerror(errno));
	_exit(127);
}

int h_with_server(const char *const *extra, void (*test)(const struct h_server *),
		  const char *what)
{
	struct h_server s;
	if (h_server_start(&s, extra) != 0) {
		fprintf(stderr, "%s did not start\n", what);
		return -1;
	}
	test(&s);
	return h_server_stop(&s);
}

int h_server_start(struct h_server *s, const char *const *extra)
{
	return h_server_start_nofile(s, extra, 0);
}

int h_server_start_nofile(struct h_server *s, const char *const *extra, unsigned nofile)
{
	return h_server_start_opts(s, extra, &(struct h_start){.nofile = nofile, .listen_fd = -1});
}

int h_server_start_opts(struct h_server *s, const char *const *extra, const struct h_start *o)
{
	unsigned nofile = o->nofile;
	memset(s, 0, sizeof(*s));
	s->listen_fd = o->listen_fd;
	s->failed_at_start = test_failed ? *test_failed : 0;
	snprintf(s->dir, sizeof(s->dir), "/tmp/channels-itest-XXXXXX");
	if (!mkdtemp(s->dir)) {
		perror("mkdtemp");
		s->dir[0] = '\0';
		return -1;
	}
	char port_path[128];
	snprintf(port_path, sizeof(port_path), "%s/port", s->dir);
	snprintf(s->log_path, sizeof(s->log_path), "%s/stderr.log", s->dir);
	char *static_dir = h_src_path("static");
	char *templates_dir = h_src_path("templates");

	const char *argv[64];
	size_t n = 0;
	const char *fixed[] = {server_exe, "--host", "127.0.0.1", "--port", "0", "--port-file",
			       port_path, "--static-dir", static_dir, "--templates-dir",
			       templates_dir, "--test-views", "1", "--secret-key", H_SECRET_KEY};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		argv[n++] = fixed[i];
	for (size_t i = 0; extra && extra[i] && n < 63; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;

	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		free(static_dir);
		free(templates_dir);
		cleanup_dir(s);
		return -1;
	}
	if (pid == 0)
		child_exec(s->log_path, nofile, argv, s->listen_fd, o->listen_fdname);
	free(static_dir);
	free(templates_dir);
	s->pid = pid;

	int64_t deadline = h_now_ms() + 15000;
	while (h_now_ms() < deadline) {
		s->port = read_port(port_path);
		if (s->port > 0)
			return 0;
		if (s->port < 0) { /* "0": listening on a unix socket */
			s->port = 0;
			return 0;
		}
		int wstatus;
		if (waitpid(pid, &wstatus, WNOHANG) == pid) {
			fprintf(stderr, "server exited before listening (status %d)\n",
				status_of(wstatus));
			h_server_dump(s);
			s->pid = 0;
			cleanup_dir(s);
			return -1;
		}
		h_sleep_ms(10);
	}
	fprintf(stderr, "server wrote no port file within 15 s\n");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	h_server_dump(s);
	s->pid = 0;
	cleanup_dir(s);
	return -1;
}

void h_server_term(struct h_server *s)
{
	if (s->pid > 0)
		kill(s->pid, SIGTERM);
}

bool h_server_alive(struct h_server *s)
{
	if (s->pid <= 0)
		return false;
	int wstatus;
	if (waitpid(s->pid, &wstatus, WNOHANG) == s->pid) {
		s->exit_status = status_of(wstatus);
		fprintf(stderr, "server pid %d exited early with status %d\n", (int)s->pid,
			s->exit_status);
		s->pid = -s->pid; /* reaped: h_server_wait() only reports */
		return false;
	}
	return true;
}

int h_server_wait(struct h_server *s, int ms)
{
	if (s->pid < 0) {
		s->pid = -s->pid;
	} else if (s->pid > 0) {
		int64_t deadline = h_now_ms() + ms;
		int wstatus;
		pid_t r = 0;
		while ((r = waitpid(s->pid, &wstatus, WNOHANG)) == 0 && h_now_ms() < deadline)
			h_sleep_ms(5);
		if (r == s->pid) {
			s->exit_status = status_of(wstatus);
		} else {
			fprintf(stderr, "server pid %d did not exit within %d ms: SIGKILL\n",
				(int)s->pid, ms);
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
			s->exit_status = -1;
		}
	}
	/* Any exit, SIGKILL included: a log written before it still counts. */
	if (h_server_log_count(s, H_LEAK_LINE) > 0) {
		fprintf(stderr, "FAIL: server pid %d (port %d) left handles open at shutdown "
				"(\"%s\" in its log)\n",
			(int)s->pid, s->port, H_LEAK_LINE);
		if (test_failed)
			(*test_failed)++;
	}
	if (s->exit_status != 0 || (test_failed && *test_failed > s->failed_at_start)) {
		fprintf(stderr, "server exit status %d\n", s->exit_status);
		h_server_dump(s);
	}
	s->pid = 0;
	cleanup_dir(s);
	return s->exit_status;
}

int h_server_stop(struct h_server *s)
{
	h_server_term(s);
	return h_server_wait(s, 5000);
}

/* ---- HTTP ---- */

const char *h_set_cookie(const struct client_response *r, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < r->n_headers; i++) {
		if (strcmp(r->header_names[i], "set-cookie") != 0)
			continue;
		const char *v = r->header_values[i];
		while (*v == ' ')
			v++;
		if (strncmp(v, name, n) == 0 && v[n] == '=')
			return v;
	}
	return NULL;
}

static void jar_take(const struct client_response *r, const char *name, char *slot, size_t cap)
{
	const char *line = h_set_cookie(r, name);
	if (!line)
		return;
	const char *v = line + strlen(name) + 1;
	size_t n = strcspn(v, ";");
	if (n >= cap) {
		fprintf(stderr, "cookie %s too long for the jar (%zu bytes)\n", name, n);
		return;
	}
	memcpy(slot, v, n);
	slot[n] = '\0';
}

static void jar_header(const struct h_jar *jar, char *out, size_t cap)
{
	out[0] = '\0';
	if (!jar || (!jar->sessionid[0] && !jar->csrftoken[0]))
		return;
	snprintf(out, cap, "Cookie: %s%s%s%s%s\r\n", jar->sessionid[0] ? "sessionid=" : "",
		 jar->sessionid, jar->sessionid[0] && jar->csrftoken[0] ? "; " : "",
		 jar->csrftoken[0] ? "csrftoken=" : "", jar->csrftoken);
}

int h_http(const struct h_server *s, const char *method, const char *path, struct h_jar *jar,
	   const char *headers, const char *body, size_t body_len, struct client_response *resp)
{
	return h_http_ex(s, method, path, jar, headers, body, body_len, H_IO_TIMEOUT_MS, resp);
}

int h_http_ex(const struct h_server *s, const char *method, const char *path, struct h_jar *jar,
	      const char *headers, const char *body, size_t body_len, int timeout_ms,
	      struct client_response *resp)
{
	char cookie[1400];
	jar_header(jar, cookie, sizeof(cookie));
	const char *ctype = "";
	if (body && !(headers && strcasestr(headers, "content-type:")))
		ctype = "Content-Type: application/x-www-form-urlencoded\r\n";
	char *all = NULL;
	if (asprintf(&all, "%s%s%s", cookie, ctype, headers ? headers : "") < 0)
		return CH_ENOMEM;
	int rc = client_http_request("127.0.0.1", s->port, method, path, all, body, body_len,
				     timeout_ms, resp);
	free(all);
	if (rc != 0) {
		fprintf(stderr, "%s %s: %s\n", method, path, ch_strerror(rc));
		return rc;
	}
	if (jar) {
		jar_take(resp, "sessionid", jar->sessionid, sizeof(jar->sessionid));
		jar_take(resp, "csrftoken", jar->csrftoken, sizeof(jar->csrftoken));
	}
	return 0;
}

static void url_encode(const char *in, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < cap; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.') {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
}

int h_login(const struct h_server *s, struct h_jar *jar, const char *name, const char *room)
{
	struct client_response r;
	int rc = h_http(s, "GET", "/chat/", jar, NULL, NULL, 0, &r);
	if (rc != 0)
		return -1;
	int status = r.status;
	client_response_clear(&r);
	if (status != 200 || !jar->csrftoken[0]) {
		fprintf(stderr, "login %s: GET /chat/ gave %d, csrftoken '%s'\n", name, status,
			jar->csrftoken);
		return -1;
	}
	char user[256], rm[256], body[800];
	url_encode(name, user, sizeof(user));
	url_encode(room, rm, sizeof(rm));
	snprintf(body, sizeof(body), "username=%s&room=%s&csrfmiddlewaretoken=%s", user, rm,
		 jar->csrftoken);
	rc = h_http(s, "POST", "/chat/", jar, NULL, body, strlen(body), &r);
	if (rc != 0)
		return -1;
	bool ok = r.status == 302 && h_set_cookie(&r, "sessionid") && jar->sessionid[0];
	if (!ok)
		fprintf(stderr, "login %s: POST /chat/ gave %d (Set-Cookie sessionid: %s)\n%s\n",
			name, r.status, h_set_cookie(&r, "sessionid") ? "yes" : "no",
			r.body ? r.body : "");
	client_response_clear(&r);
	return ok ? 0 : -1;
}

int h_healthz(const struct h_server *s)
{
	struct client_response r;
	if (h_http(s, "GET", "/healthz", NULL, NULL, NULL, 0, &r) != 0)
		return -1;
	bool ok = r.status == 200 && r.body && strcmp(r.body, "ok\n") == 0;
	if (!ok)
		fprintf(stderr, "GET /healthz: %d \"%s\"\n", r.status, r.body ? r.body : "");
	client_response_clear(&r);
	return ok ? 0 : -1;
}

/* ---- WebSocket ---- */

int h_ws_open(const struct h_server *s, const char *path, const struct h_jar *jar,
	      const char *origin, struct client_ws **out, int *status)
{
	char cookie[1400];
	jar_header(jar, cookie, sizeof(cookie));
	struct client_ws_options opt = {
		.origin = origin,
		.headers = cookie[0] ? cookie : NULL,
		.timeout_ms = H_IO_TIMEOUT_MS,
	};
	struct client_response r;
	int rc = client_ws_connect("127.0.0.1", s->port, path, &opt, out, &r);
	if (status)
		*status = r.status;
	client_response_clear(&r);
	return rc;
}

int h_ws_send(struct client_ws *ws, const char *text)
{
	return client_ws_send_text(ws, text, strlen(text));
}

int h_ws_send_json(struct client_ws *ws, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	if (!text)
		return CH_ENOMEM;
	int rc = h_ws_send(ws, text);
	free(text);
	return rc;
}

int h_ws_send_chat(struct client_ws *ws, const char *text)
{
	return h_ws_send_json(ws, json_pack("{s:s}", "message", text));
}

json_t *h_recv_json(struct client_ws *ws, int timeout_ms, const char *who)
{
	struct client_ws_message m;
	int rc = client_ws_recv(ws, timeout_ms, &m);
	if (rc != 0) {
		fprintf(stderr, "%s: no message within %d ms: %s\n", who, timeout_ms,
			ch_strerror(rc));
		return NULL;
	}
	json_t *v = NULL;
	if (m.opcode == WSFRAME_OP_CLOSE) {
		fprintf(stderr, "%s: got a close frame (code %d) instead of a message\n", who,
			m.close_code);
	} else if (m.opcode != WSFRAME_OP_TEXT) {
		fprintf(stderr, "%s: got a binary message of %zu bytes\n", who, m.len);
	} else {
		json_error_t err;
		v = json_loadb(m.data, m.len, 0, &err);
		if (!v)
			fprintf(stderr, "%s: message is not JSON (%s): %.300s\n", who, err.text,
				m.data);
	}
	free(m.data);
	return v;
}

bool h_ws_silent(struct client_ws *ws, int ms, const char *who)
{
	struct client_ws_message m;
	int rc = client_ws_recv(ws, ms, &m);
	if (rc == CH_ETIMEDOUT)
		return true;
	if (rc != 0)
		fprintf(stderr, "%s: expected silence, got %s\n", who, ch_strerror(rc));
	else if (m.opcode == WSFRAME_OP_CLOSE)
		fprintf(stderr, "%s: expected silence, got close %d\n", who, m.close_code);
	else
		fprintf(stderr, "%s: expected silence, got: %.300s\n", who, m.data);
	free(m.data);
	return false;
}

int h_ws_expect_close(struct client_ws *ws, int timeout_ms, long *n_data)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	long n = 0;
	int result = -1;
	for (;;) {
		int64_t left = deadline - h_now_ms();
		struct client_ws_message m;
		int rc = client_ws_recv(ws, left > 0 ? (int)left : 0, &m);
		if (rc == 0 && m.opcode == WSFRAME_OP_CLOSE) {
			result = m.close_code;
			free(m.data);
			break;
		}
		free(m.data);
		if (rc == 0) {
			n++;
			continue;
		}
		if (rc == CH_EIO) {
			result = 0;
		} else {
			fprintf(stderr, "waiting for a close frame: %s after %ld messages\n",
				ch_strerror(rc), n);
		}
		break;
	}
	if (n_data)
		*n_data = n;
	return result;
}

int h_chat_roundtrip(struct client_ws *from, struct client_ws *to, const char *text,
		     int timeout_ms)
{
	int rc = h_ws_send_chat(from, text);
	if (rc != 0) {
		fprintf(stderr, "roundtrip '%s': send: %s\n", text, ch_strerror(rc));
		return -1;
	}
	int64_t deadline = h_now_ms() + timeout_ms;
	for (;;) {
		int64_t left = deadline - h_now_ms();
		json_t *v = h_recv_json(to, left > 0 ? (int)left : 0, "roundtrip receiver");
		if (!v) {
			fprintf(stderr, "roundtrip '%s': not received\n", text);
			return -1;
		}
		const char *got = json_string_value(json_object_get(v, "message"));
		bool match = got && strcmp(got, text) == 0;
		json_decref(v);
		if (match)
			return 0;
	}
}

int h_witness_roundtrip(struct h_room *rm, const char *after)
{
	char text[160];
	snprintf(text, sizeof(text), "witness %d after %s", ++rm->round, after);
	int rc = rm->witness ? h_chat_roundtrip(rm->witness, rm->witness, text, 3000) : -1;
	if (rc != 0)
		fprintf(stderr, "witness failed after: %s%s\n", after,
			rm->witness ? "" : " (not connected)");
	return rc;
}
