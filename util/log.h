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

/*
 * Rate-limited lines: one per cause per interval, with a count.
 *
 *   static struct log_limit bad_payload = LOG_LIMIT_INIT(10);
 *   LOG_LIMITED(&bad_payload, LOG_WARN, "layer", "undecodable message on %s", ch);
 *
 * The first event of an interval is written at once; the others within
 * LOG_LIMIT_INIT(seconds) are only counted, and the next line written says
 * how many were suppressed ("... (+41 more like this since the last such line; one line per 10 s)").
 * One struct per cause, usually a static at the place of the decision.
 * Any thread: the fields are atomics, and two threads racing at the turn of
 * an interval write at most one line each.
 */
struct log_limit {
	unsigned interval_s;
	_Atomic long long next_ms; /* monotonic ms at which a line may be written again */
	_Atomic unsigned suppressed;
};
#define LOG_LIMIT_INIT(seconds) {.interval_s = (seconds)}

/* True when a line may be written now; then *suppressed is how many were
 * dropped since the last one. Use LOG_LIMITED() instead. */
int log_limit_pass(struct log_limit *lim, unsigned *suppressed);

/* Writes one line with a suppression count appended when it is not 0. */
void log_write_limited(int level, const char *module, unsigned suppressed, unsigned interval_s,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define LOG_LIMITED(lim, level, module, ...)                                           \
	do {                                                                           \
		unsigned log__n_;                                                      \
		if ((level) <= log_threshold && log_limit_pass((lim), &log__n_))       \
			log_write_limited((level), (module), log__n_, (lim)->interval_s, \
					  __VA_ARGS__);                                \
	} while (0)

#define LOG(level, module, ...)                                         \
	do {                                                            \
		if ((level) <= log_threshold)                           \
			log_write((level), (module), __VA_ARGS__);      \
	} while (0)

#endif
