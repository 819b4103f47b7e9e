#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
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

static void log_vwrite(int level, const char *module, const char *suffix, const char *fmt,
		       va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s [%s] ",
			      ts.tv_nsec / 1000000L,
			      level_names[level < 0 ? 0 : level > 3 ? 3 : level], module);
	if (n < sizeof(line)) {
		int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (m > 0)
			n += (size_t)m;
	}
	if (suffix && n < sizeof(line)) {
		int m = snprintf(line + n, sizeof(line) - n, "%s", suffix);
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

void log_write(int level, const char *module, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vwrite(level, module, NULL, fmt, ap);
	va_end(ap);
}

int log_limit_pass(struct log_limit *lim, unsigned *suppressed)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	long long next = atomic_load(&lim->next_ms);
	if (now < next ||
	    !atomic_compare_exchange_strong(&lim->next_ms, &next,
					    now + 1000LL * (lim->interval_s ? lim->interval_s : 1))) {
		atomic_fetch_add(&lim->suppressed, 1);
		return 0;
	}
	*suppressed = atomic_exchange(&lim->suppressed, 0);
	return 1;
}

void log_write_limited(int level, const char *module, unsigned suppressed, unsigned interval_s,
		       const char *fmt, ...)
{
	char suffix[96] = "";
	if (suppressed)
		snprintf(suffix, sizeof(suffix), " (+%u more like this since the last such line; one line per %u s)", suppressed,
			 interval_s);
	va_list ap;
	va_start(ap, fmt);
	log_vwrite(level, module, suffix, fmt, ap);
	va_end(ap);
}
