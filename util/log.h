/*
 * log.h - the one levelled logging sink of the project.
 *
 * LOG(level, fmt, ...) formats and writes one line to stderr:
 *   "2026-11-21T10:00:00.123Z WARN  [module] message"
 * The arguments are not evaluated when `level` is filtered out, so a debug
 * line on the per-message path costs one integer compare.
 *
 * Thread-safety: log_set_level() is meant to be called once at start-up;
 * LOG() may be called from any thread (each line is written with one
 * write(2), so lines from different threads do not interleave).
 */
#ifndef UTIL_LOG_H
#define UTIL_LOG_H

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN = 1,
	LOG_INFO = 2,
	LOG_DEBUG = 3,
};

/* The current threshold; lines with a level above it are dropped. */
extern int log_threshold;

/* Parses "error", "warn", "info" or "debug"; returns the level or -1. */
int log_level_parse(const char *name);

void log_set_level(int level);

/* Writes one formatted line. Use LOG() instead, which filters first. */
void log_write(int level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Routes libwebsockets' own log lines into this sink (call once). */
void log_route_lws(void);

#define LOG(level, module, ...)                                         \
	do {                                                            \
		if ((level) <= log_threshold)                           \
			log_write((level), (module), __VA_ARGS__);      \
	} while (0)

#endif
