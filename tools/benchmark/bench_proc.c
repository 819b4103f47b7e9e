/*
 * bench_proc.c - what channels-benchmark reads of the server process in
 * /proc (--server-pid): its resident size (idle mode) and its CPU time
 * (fixed and max modes). The parser is pure; the readers open one file
 * per call and keep no state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "bench_int.h"
#include "log.h"

/* Parses the unsigned decimal at *p (after blanks); advances *p past it. */
static int stat_field(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	while (s < end && *s == ' ')
		s++;
	if (s == end || *s < '0' || *s > '9')
		return -1;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	if (s < end && *s != ' ' && *s != '\n')
		return -1;
	*p = s;
	*v = x;
	return 0;
}

int bench_proc_stat_ticks(const char *s, size_t len, uint64_t *ticks)
{
	const char *end = s + len, *p = NULL;
	uint64_t utime, stime;
	int field;

	/* "pid (comm) state ppid ...": comm may hold ' ', '(' and ')'. */
	for (const char *q = s; q < end; q++)
		if (*q == ')')
			p = q;
	if (!p || !memchr(s, '(', (size_t)(p - s)))
		return -1;
	p++;
	/* Field 3 is the state (one letter); utime and stime are 14 and 15. */
	while (p < end && *p == ' ')
		p++;
	if (p == end || *p == ' ' || *p == '\n')
		return -1;
	p++;
	for (field = 4; field < 14; field++) {
		while (p < end && *p == ' ')
			p++;
		/* Fields 4-13 are integers, some negative (tty_nr, tpgid). */
		if (p < end && *p == '-')
			p++;
		if (p == end || *p < '0' || *p > '9')
			return -1;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (stat_field(&p, end, &utime) || stat_field(&p, end, &stime))
		return -1;
	*ticks = utime + stime;
	return 0;
}

double bench_proc_cpu_s(long pid)
{
	char path[64], buf[1024];
	uint64_t ticks;
	long hz = sysconf(_SC_CLK_TCK);
	size_t n;
	FILE *f;

	if (hz <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (bench_proc_stat_ticks(buf, n, &ticks) != 0)
		return -1;
	return (double)ticks / (double)hz;
}

long long bench_proc_rss(long pid)
{
	char path[64], line[256];
	long long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtoll(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

void bench_cpu_mark(long pid, uint64_t now, struct bench_cpu_mark *m)
{
	if (m->at || now < m->due)
		return;
	m->cpu_s = bench_proc_cpu_s(pid);
	m->at = bench_now_ns();
}

void bench_cpu_result(long pid, const struct bench_cpu_mark *a, const struct bench_cpu_mark *b,
		      uint64_t received, double duration, struct bench_result *r)
{
	double win;

	if (!a->at || !b->at || a->cpu_s < 0 || b->cpu_s < 0 || b->at <= a->at) {
		LOG(LOG_WARN, "bench", "no CPU time of pid %ld over the measured window", pid);
		return;
	}
	win = (double)(b->at - a->at) / 1e9;
	r->server_cpu_s = b->cpu_s - a->cpu_s;
	r->server_cpu_window_s = win;
	/* Deliveries are counted by send time over `duration`: scaled to `win`. */
	if (received && duration > 0)
		r->server_cpu_us_per_delivery =
		    r->server_cpu_s * 1e6 / ((double)received / duration * win);
}
