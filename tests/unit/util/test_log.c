/*
 * test_log.c - unit tests of util/log.h's rate-limited lines (LOG_LIMITED,
 * log_limit_pass): the first event of an interval is written, the next
 * ones are only counted, the first line after the interval carries the
 * count; filtered levels count nothing; two threads hammering one limit
 * lose and double-count no event and write at most one line per interval.
 * stderr is captured through a pipe (dup2) around the calls under test.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

static int cap_pipe[2] = {-1, -1};
static int saved_stderr = -1;

static void capture_begin(void)
{
	fflush(stderr);
	dup2(cap_pipe[1], STDERR_FILENO);
}

/* Restores stderr and returns what was written meanwhile (static buffer). */
static const char *capture_end(void)
{
	static char buf[1 << 16];
	dup2(saved_stderr, STDERR_FILENO);
	size_t n = 0;
	ssize_t r;
	while (n < sizeof(buf) - 1 && (r = read(cap_pipe[0], buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void test_interval(void)
{
	/* 2 s: the five suppressed events below take microseconds. */
	static struct log_limit lim = LOG_LIMIT_INIT(2);
	log_set_level(LOG_INFO);

	capture_begin();
	LOG_LIMITED(&lim, LOG_WARN, "test", "bad thing %d", 1);
	const char *out = capture_end();
	CHECK_INT(count_lines(out), 1);
	CHECK_CONTAINS(out, " WARN  [test] bad thing 1\n");
	CHECK(!strstr(out, "more like this"));

	capture_begin();
	for (int i = 2; i <= 6; i++)
		LOG_LIMITED(&lim, LOG_WARN, "test", "bad thing %d", i);
	/* A filtered level is not an event: neither written nor counted. */
	LOG_LIMITED(&lim, LOG_DEBUG, "test", "filtered %d", 0);
	out = capture_end();
	CHECK_STR(out, "");
	CHECK_INT(atomic_load(&lim.suppressed), 5);

	sleep_ms(2100);
	capture_begin();
	LOG_LIMITED(&lim, LOG_WARN, "test", "bad thing %d", 7);
	LOG_LIMITED(&lim, LOG_WARN, "test", "bad thing %d", 8);
	out = capture_end();
	CHECK_INT(count_lines(out), 1);
	CHECK_CONTAINS(out, " WARN  [test] bad thing 7 (+5 more like this since the last such "
			    "line; one line per 2 s)\n");
	CHECK_INT(atomic_load(&lim.suppressed), 1);

	/* log_limit_pass itself: the count is handed over once, then reset. */
	static struct log_limit raw = LOG_LIMIT_INIT(3600);
	unsigned n = 99;
	CHECK_INT(log_limit_pass(&raw, &n), 1);
	CHECK_INT(n, 0);
	for (int i = 0; i < 3; i++)
		CHECK_INT(log_limit_pass(&raw, &n), 0);
	CHECK_INT(atomic_load(&raw.suppressed), 3);
	atomic_store(&raw.next_ms, 0); /* as if the hour had passed */
	CHECK_INT(log_limit_pass(&raw, &n), 1);
	CHECK_INT(n, 3);
	CHECK_INT(atomic_load(&raw.suppressed), 0);
}

#define RUN_MS 2500
static struct log_limit shared_lim = LOG_LIMIT_INIT(1);
static int64_t run_until;

static void *hammer(void *arg)
{
	long *calls = arg;
	while (now_ms() < run_until) {
		LOG_LIMITED(&shared_lim, LOG_WARN, "test", "from thread %p", (void *)calls);
		++*calls;
	}
	return NULL;
}

static void test_threads(void)
{
	long calls[2] = {0, 0};
	pthread_t t[2];
	capture_begin();
	run_until = now_ms() + RUN_MS;
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, hammer, &calls[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	const char *out = capture_end();

	/* Lines are at least 1 s apart: at most 3 in 2.5 s, and at least the
	 * first one and one a second later. */
	int lines = count_lines(out);
	fprintf(stderr, "%ld + %ld calls, %d lines\n", calls[0], calls[1], lines);
	CHECK(lines >= 2 && lines <= 3);
	/* Every event is a line, counted in a later line, or still pending. */
	long long accounted = lines + (long long)atomic_load(&shared_lim.suppressed);
	for (const char *p = out; (p = strstr(p, "(+")); p += 2)
		accounted += strtoll(p + 2, NULL, 10);
	CHECK_INT(accounted, calls[0] + calls[1]);
	/* Whole lines: no two writes interleaved inside one. */
	for (const char *p = out; *p;) {
		const char *nl = strchr(p, '\n');
		CHECK(nl != NULL);
		if (!nl)
			break;
		CHECK(strstr(p, "[test] from thread ") && strstr(p, "[test] from thread ") < nl);
		p = nl + 1;
	}
}

int main(void)
{
	if (pipe2(cap_pipe, O_NONBLOCK | O_CLOEXEC) != 0 ||
	    (saved_stderr = dup(STDERR_FILENO)) < 0) {
		perror("pipe2/dup");
		return 1;
	}
	setvbuf(stderr, NULL, _IONBF, 0);
	test_interval();
	test_threads();
	return check_finish();
}
