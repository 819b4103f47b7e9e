#include "log.h"

#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int log_threshold = LOG_INFO;

static const char *const level_names[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};

int log_level_parse(const char *name)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++)
		if (strcasecmp(name, names[i]) == 0)
			return i;
	return -1;
}

void log_set_level(int level)
{
	log_threshold = level;
}

void log_write(int level, const char *module, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s [%s] ",
			      ts.tv_nsec / 1000000L,
			      level_names[level < 0 ? 0 : level > 3 ? 3 : level], module);
	if (n < sizeof(line)) {
		va_start(ap, fmt);
		int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		if (m > 0)
			n += (size_t)m;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	while (n > 0 && line[n - 1] == '\n')
		n--;
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}

static void on_lws_log(int level, const char *line)
{
	int ours = (level & LLL_ERR) ? LOG_ERROR : (level & LLL_WARN) ? LOG_WARN : (level & LLL_NOTICE) ? LOG_INFO : LOG_DEBUG;
	/* lws lines carry their own timestamp prefix "[date] X: "; keep the text. */
	const char *p = strstr(line, "]: ");
	if (ours <= log_threshold)
		log_write(ours, "lws", "%s", p ? p + 3 : line);
}

void log_route_lws(void)
{
	int mask = LLL_ERR | LLL_WARN;
	if (log_threshold >= LOG_DEBUG)
		mask |= LLL_NOTICE | LLL_INFO;
	lws_set_log_level(mask, on_lws_log);
}
