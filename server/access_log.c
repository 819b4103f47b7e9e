/*
 * access_log.c - the access log: one line per HTTP request (static files
 * and refusals included), one per WebSocket connect and one at its end, in
 * the common format or as JSON lines (README, "Access log").
 *
 * Lines are formatted on the thread that logs them (a loop thread) and
 * appended under a mutex to one buffer; a writer thread of the log's own
 * writes the buffer out with write(2). A loop never waits for the disk: at
 * worst for the mutex, held for one memcpy. When more than ALOG_MAX bytes
 * wait (the disk or the pipe is that far behind), new lines are dropped
 * and counted (channels_access_log_dropped_total), never the loop slowed.
 *
 * Nothing a client sends can forge a line: in the path (and the method,
 * which our reader already limits to a token), quotes, backslashes,
 * control characters and DEL are escaped (\xHH in the common format,
 * \" \\ \uXXXX in JSON), and bytes that are not UTF-8 become \xHH
 * (common) or \u00HH (JSON), so a line ends only where we end it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "server_int.h"

#define ALOG_MAX (4u << 20)

struct access_log {
	int fd;
	bool own_fd;     /* a file we opened (not stdout) */
	bool json;
	bool stop;
	bool reopen;     /* the writer reopens `path` before its next write */
	const char *path; /* borrowed from the config; NULL for stdout */
	uv_mutex_t mu;
	uv_cond_t cond;
	uv_thread_t thread;
	char *buf;       /* lines waiting for the writer */
	size_t len, cap;
	atomic_ullong dropped;
};

/* ---- the writer thread ---- */

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the log is gone: lines are lost, the server goes on */
		p += w;
		n -= (size_t)w;
	}
}

/* On the writer thread (the only user of a->fd): the file at its path
 * again, after logrotate moved it; the old one stays on failure. */
static void reopen_file(struct access_log *a)
{
	int fd = open(a->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0) {
		LOG(LOG_ERROR, "server", "--access-log %s: reopening: %s", a->path, strerror(errno));
		return;
	}
	close(a->fd);
	a->fd = fd;
}

static void writer(void *arg)
{
	struct access_log *a = arg;
	char *mine = NULL;
	uv_mutex_lock(&a->mu);
	for (;;) {
		while (!a->len && !a->stop && !a->reopen)
			uv_cond_wait(&a->cond, &a->mu);
		if (!a->len && a->stop)
			break;
		/* Take the buffer and leave an empty one: the loops append to
		 * it while this thread writes. */
		free(mine);
		mine = a->buf;
		size_t n = a->len;
		bool reopen = a->reopen;
		a->buf = NULL;
		a->len = a->cap = 0;
		a->reopen = false;
		uv_mutex_unlock(&a->mu);
		if (reopen)
			reopen_file(a);
		write_all(a->fd, mine, n);
		uv_mutex_lock(&a->mu);
	}
	uv_mutex_unlock(&a->mu);
	free(mine);
}

static void append(struct access_log *a, const char *line, size_t n)
{
	uv_mutex_lock(&a->mu);
	if (a->len + n > ALOG_MAX) {
		uv_mutex_unlock(&a->mu);
		atomic_fetch_add_explicit(&a->dropped, 1, memory_order_relaxed);
		return;
	}
	if (a->len + n > a->cap) {
		size_t cap = a->cap ? a->cap : 16384;
		while (cap < a->len + n)
			cap *= 2;
		char *b = realloc(a->buf, cap);
		if (!b) {
			uv_mutex_unlock(&a->mu);
			atomic_fetch_add_explicit(&a->dropped, 1, memory_order_relaxed);
			return;
		}
		a->buf = b;
		a->cap = cap;
	}
	memcpy(a->buf + a->len, line, n);
	bool was_empty = a->len == 0;
	a->len += n;
	uv_mutex_unlock(&a->mu);
	if (was_empty)
		uv_cond_signal(&a->cond);
}

int server__access_log_open(struct server_process *p)
{
	const char *where = p->cfg->access_log;
	p->alog = NULL;
	if (!where || !strcmp(where, "off"))
		return 0;
	struct access_log *a = calloc(1, sizeof(*a));
	if (!a)
		return -1;
	a->json = p->cfg->access_log_format && !strcmp(p->cfg->access_log_format, "json");
	a->fd = STDOUT_FILENO;
	if (strcmp(where, "-") != 0) {
		a->fd = open(where, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (a->fd < 0) {
			LOG(LOG_ERROR, "server", "--access-log %s: %s", where, strerror(errno));
			free(a);
			return -1;
		}
		a->own_fd = true;
		a->path = where;
	}
	atomic_init(&a->dropped, 0);
	uv_mutex_init(&a->mu);
	uv_cond_init(&a->cond);
	if (uv_thread_create(&a->thread, writer, a) != 0) {
		LOG(LOG_ERROR, "server", "cannot start the access log's writer thread");
		uv_cond_destroy(&a->cond);
		uv_mutex_destroy(&a->mu);
		if (a->own_fd)
			close(a->fd);
		free(a);
		return -1;
	}
	p->alog = a;
	return 0;
}

void server__access_log_close(struct server_process *p)
{
	struct access_log *a = p->alog;
	if (!a)
		return;
	uv_mutex_lock(&a->mu);
	a->stop = true;
	uv_mutex_unlock(&a->mu);
	uv_cond_signal(&a->cond);
	uv_thread_join(&a->thread);
	uv_cond_destroy(&a->cond);
	uv_mutex_destroy(&a->mu);
	if (a->own_fd)
		close(a->fd);
	free(a->buf);
	free(a);
	p->alog = NULL;
}

void server__access_log_reopen(struct server_process *p)
{
	struct access_log *a = p->alog;
	if (!a || !a->own_fd)
		return;
	uv_mutex_lock(&a->mu);
	a->reopen = true; /* wakes the writer even with no line waiting */
	uv_mutex_unlock(&a->mu);
	uv_cond_signal(&a->cond);
}

unsigned long long server__access_log_dropped(const struct server_process *p)
{
	return p->alog ? atomic_load_explicit(&p->alog->dropped, memory_order_relaxed) : 0;
}

/* ---- formatting ---- */

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
	if (s[0] >= 0xF5 || len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0) ||
	    (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
		return 0; /* overlong, surrogate, over U+10FFFF */
	return len;
}

/* `v` (may be NULL: "-") with everything a client could use to end or fake
 * a line escaped, as described at the top. */
static void escaped(struct text_buf *b, const char *v, bool json)
{
	if (!v) {
		text_buf_append(b, "-", 1);
		return;
	}
	const unsigned char *s = (const unsigned char *)v;
	size_t n = strlen(v);
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t seq = c >= 0x80 ? utf8_seq(s + i, n - i) : 0;
		if (seq) {
			text_buf_append(b, (const char *)s + i, seq);
			i += seq;
			continue;
		}
		if (c == '"' || c == '\\')
			text_buf_printf(b, json ? "\\%c" : "\\x%02X", c);
		else if (c < 0x20 || c >= 0x7F)
			text_buf_printf(b, json ? "\\u%04x" : "\\x%02X", c);
		else
			text_buf_append(b, (const char *)&c, 1);
		i++;
	}
}

/* Now, for a line: [02/Dec/2026:18:40:00 +0000] (common) or an ISO 8601
 * UTC time with milliseconds (JSON). */
static void stamp(struct text_buf *b, bool json)
{
	struct timeval tv;
	struct tm tm;
	char t[64];
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	if (json) {
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
		text_buf_printf(b, "\"time\":\"%s.%03dZ\"", t, (int)(tv.tv_usec / 1000));
	} else {
		strftime(t, sizeof(t), "[%d/%b/%Y:%H:%M:%S +0000]", &tm);
		text_buf_append(b, t, strlen(t));
	}
}

static void field(struct text_buf *b, const char *name, const char *v)
{
	text_buf_printf(b, ",\"%s\":\"", name);
	escaped(b, v, true);
	text_buf_append(b, "\"", 1);
}

void server__access_log_http(struct server_process *p, const char *addr, const char *method,
			     const char *path, int status, unsigned long long bytes,
			     double seconds)
{
	struct access_log *a = p->alog;
	if (!a)
		return;
	struct text_buf b = {0};
	if (a->json) {
		text_buf_append(&b, "{", 1);
		stamp(&b, true);
		text_buf_printf(&b, ",\"type\":\"http\"");
		field(&b, "client", addr);
		field(&b, "method", method);
		field(&b, "path", path);
		text_buf_printf(&b, ",\"status\":%d,\"bytes\":%llu,\"duration\":%.6f}\n", status,
				bytes, seconds);
	} else {
		escaped(&b, addr, false);
		text_buf_append(&b, " - - ", 5);
		stamp(&b, false);
		text_buf_append(&b, " \"", 2);
		escaped(&b, method, false);
		text_buf_append(&b, " ", 1);
		escaped(&b, path, false);
		text_buf_printf(&b, "\" %d %llu %.6f\n", status, bytes, seconds);
	}
	if (b.data)
		append(a, b.data, b.len);
	text_buf_free(&b);
}

void server__access_log_ws(struct server_process *p, const char *addr, const char *path,
			   int code, double seconds, unsigned long long in, unsigned long long out)
{
	struct access_log *a = p->alog;
	if (!a)
		return;
	struct text_buf b = {0};
	if (a->json) {
		text_buf_append(&b, "{", 1);
		stamp(&b, true);
		text_buf_printf(&b, ",\"type\":\"%s\"", code ? "wsdisconnect" : "wsconnect");
		field(&b, "client", addr);
		field(&b, "path", path);
		if (code)
			text_buf_printf(&b, ",\"code\":%d,\"duration\":%.6f,\"messages_in\":%llu,"
					    "\"messages_out\":%llu",
					code, seconds, in, out);
		text_buf_append(&b, "}\n", 2);
	} else {
		escaped(&b, addr, false);
		text_buf_append(&b, " - - ", 5);
		stamp(&b, false);
		text_buf_printf(&b, " \"%s ", code ? "WSDISCONNECT" : "WSCONNECT");
		escaped(&b, path, false);
		if (code)
			text_buf_printf(&b, "\" %d - %.6f in=%llu out=%llu\n", code, seconds, in, out);
		else
			text_buf_printf(&b, "\" 101 - 0.000000\n");
	}
	if (b.data)
		append(a, b.data, b.len);
	text_buf_free(&b);
}
