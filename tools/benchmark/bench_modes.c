/*
 * bench_modes.c - the modes of channels-benchmark (fixed, max, idle,
 * listen; publish is bench_publish.c) and the report. Runs on the one
 * thread of the program; prints the report on stdout, progress on stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_int.h"
#include "bench_modes.h"
#include "log.h"

static void progress(const struct bench_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void progress(const struct bench_opts *o, const char *fmt, ...)
{
	va_list ap;

	if (o->quiet)
		return;
	va_start(ap, fmt);
	fputs("channels-benchmark: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Raises the soft RLIMIT_NOFILE to the hard limit. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			LOG(LOG_WARN, "bench", "setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
	}
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void print_latency(const struct bench_result *r)
{
	if (r->p50_ms < 0) {
		printf("  latency:      no samples\n");
		return;
	}
	printf("  latency (ms): p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n",
	       r->p50_ms, r->p90_ms, r->p99_ms, r->p999_ms, r->max_ms, r->mean_ms);
}

void bench_report(const struct bench_opts *o, const struct bench_result *r)
{
	char json[2048];

	printf("channels-benchmark %s\n", bench_mode_name(r->mode));
	switch (r->mode) {
	case BENCH_FIXED:
	case BENCH_MAX:
		printf("  load:         %d room(s) x %d clients, %d sender(s)/room at %.2f msg/s "
		       "(total %.1f msg/s), %d bytes of padding\n",
		       r->rooms, r->clients, r->senders, r->rate, r->total_rate, o->message_size);
		if (r->mode == BENCH_MAX)
			printf("  search:       %d probe(s), p99 limit %.1f ms, best probe %s\n",
			       r->probes, o->p99_limit_ms,
			       r->ok == 1 ? "met the limits" : "none met the limits (last shown)");
		break;
	case BENCH_IDLE:
		printf("  path:         %s\n", o->path);
		break;
	case BENCH_LISTEN:
		printf("  path:         %s, %d clients\n", o->path, r->clients);
		break;
	case BENCH_PUBLISH:
		printf("  published:    %llu to %s__group__%s at %.1f msg/s over %.2f s\n",
		       (unsigned long long)r->sent, o->layer_prefix, o->group, r->total_rate,
		       r->wall_s);
		break;
	}
	if (r->mode != BENCH_PUBLISH) {
		printf("  connections:  %llu open, %llu errors", (unsigned long long)r->connections,
		       (unsigned long long)r->connect_errors);
		if (r->handshakes_per_s >= 0)
			printf(", %.1f handshakes/s", r->handshakes_per_s);
		printf("\n");
	}
	if (r->mode == BENCH_IDLE && r->rss_per_conn_bytes >= 0)
		printf("  server RSS:   %.0f bytes per connection\n", r->rss_per_conn_bytes);
	if (r->mode == BENCH_FIXED || r->mode == BENCH_MAX || r->mode == BENCH_LISTEN) {
		printf(
		    "  messages:     sent %llu, expected %llu, received %llu, loss %lld (%.3f%%)\n",
		    (unsigned long long)r->sent, (unsigned long long)r->expected,
		    (unsigned long long)r->received, (long long)r->loss, r->loss_pct);
		printf("  deliveries:   %.1f/s\n", r->deliveries_per_s);
		print_latency(r);
	}
	if ((r->mode == BENCH_FIXED || r->mode == BENCH_MAX) && r->server_cpu_s >= 0) {
		printf("  server cpu:   %.3f s over %.3f s window", r->server_cpu_s,
		       r->server_cpu_window_s);
		if (r->server_cpu_us_per_delivery >= 0)
			printf(" (%.3f \u00b5s per delivery", r->server_cpu_us_per_delivery);
		else
			printf(" (no delivery");
		printf(", %.1f%% of one core)\n",
		       r->server_cpu_window_s > 0 ? 100.0 * r->server_cpu_s / r->server_cpu_window_s
						  : 0.0);
	}
	if (r->mode != BENCH_PUBLISH)
		printf("  closes:       %llu\n", (unsigned long long)r->closes);
	printf("  client cpu:   %.2f s over %.2f s wall\n", r->client_cpu_s, r->wall_s);
	if (o->json) {
		bench_result_json(r, json, sizeof(json));
		fputs(json, stdout);
	}
	fflush(stdout);
}

/* Opens the connections of a chat mode; NULL (after logging) when none opened. */
static struct bench_engine *chat_open(const struct bench_opts *o, struct bench_result *r,
				      uint32_t *senders)
{
	uint32_t n = (uint32_t)o->rooms * (uint32_t)o->clients;
	struct bench_engine *e = bench_engine_new(o, n, (uint32_t)o->clients, BENCH_RX_CHAT);

	if (!e)
		return NULL;
	progress(o, "opening %u connections", (unsigned)n);
	if (bench_engine_connect(e, r) == 0) {
		LOG(LOG_ERROR, "bench", "no connection could be opened to %s:%d", o->host, o->port);
		bench_engine_free(e);
		return NULL;
	}
	progress(o, "%llu open (%.1f handshakes/s), %llu errors",
		 (unsigned long long)r->connections, r->handshakes_per_s,
		 (unsigned long long)r->connect_errors);
	*senders = bench_engine_pick_senders(e, o->senders);
	if (*senders == 0) {
		LOG(LOG_ERROR, "bench", "no sender");
		bench_engine_free(e);
		return NULL;
	}
	return e;
}

static int run_fixed(const struct bench_opts *o, struct bench_result *r)
{
	uint32_t senders;
	struct bench_engine *e = chat_open(o, r, &senders);

	if (!e)
		return 1;
	r->total_rate = o->rate * senders;
	progress(o, "load: %u senders at %.2f msg/s for %.1f + %.1f s", (unsigned)senders, o->rate,
		 o->warmup, o->duration);
	bench_engine_load(e, o->rate, o->warmup, o->duration, o->drain, r);
	bench_engine_free(e);
	return 0;
}

static bool probe_ok(const struct bench_opts *o, const struct bench_result *r)
{
	return r->received > 0 && r->loss == 0 && r->p99_ms >= 0 && r->p99_ms < o->p99_limit_ms;
}

static int run_max(const struct bench_opts *o, struct bench_result *r)
{
	uint32_t senders, open0;
	struct bench_engine *e = chat_open(o, r, &senders);
	struct bench_result best, probe;
	double lo = 0, hi = 0, cur;
	bool have_best = false;

	if (!e)
		return 1;
	open0 = bench_engine_open(e);
	cur = o->rate * senders;
	best = *r;
	for (r->probes = 0; r->probes < o->max_probes;) {
		if (r->probes) {
			uint64_t late = bench_engine_settle(e, 0.3, 30);

			if (late)
				progress(o, "%llu late messages of the last probe drained",
					 (unsigned long long)late);
		}
		probe = *r;
		probe.rate = cur / senders;
		probe.total_rate = cur;
		bench_engine_load(e, probe.rate, o->warmup, o->duration, o->drain, &probe);
		probe.ok = probe_ok(o, &probe);
		r->probes++;
		progress(o, "probe %d: %.1f msg/s total: p99 %.3f ms, loss %lld -> %s", r->probes,
			 cur, probe.p99_ms, (long long)probe.loss, probe.ok ? "ok" : "over");
		if (probe.ok) {
			lo = cur;
			best = probe;
			have_best = true;
		} else {
			hi = cur;
			if (!have_best)
				best = probe;
		}
		if (bench_engine_open(e) < open0) {
			progress(o, "the server closed connections: stopping the search");
			break;
		}
		if (hi == 0)
			cur = lo * 2;
		else if (hi - lo <= 0.05 * hi || hi - lo < 1)
			break;
		else
			cur = (lo + hi) / 2;
	}
	best.probes = r->probes;
	best.connections = r->connections;
	best.connect_errors = r->connect_errors;
	best.handshakes_per_s = r->handshakes_per_s;
	best.closes = bench_engine_closes(e);
	*r = best;
	bench_engine_free(e);
	return 0;
}

static int run_idle(const struct bench_opts *o, struct bench_result *r)
{
	long long before = -1, after;
	struct bench_engine *e;
	uint32_t open;

	if (o->server_pid) {
		before = bench_proc_rss(o->server_pid);
		if (before < 0)
			LOG(LOG_WARN, "bench", "cannot read VmRSS of pid %ld", o->server_pid);
	}
	e = bench_engine_new(o, (uint32_t)o->connections, 0, BENCH_RX_NONE);
	if (!e)
		return 1;
	progress(o, "opening %d connections", o->connections);
	open = bench_engine_connect(e, r);
	if (open == 0) {
		LOG(LOG_ERROR, "bench", "no connection could be opened to %s:%d", o->host, o->port);
		bench_engine_free(e);
		return 1;
	}
	if (before >= 0) {
		after = bench_proc_rss(o->server_pid);
		if (after >= 0)
			r->rss_per_conn_bytes = (double)(after - before) / open;
	}
	progress(o, "%u open (%.1f handshakes/s); holding for %.1f s", (unsigned)open,
		 r->handshakes_per_s, o->hold);
	struct bench_result hold = *r;
	bench_engine_listen(e, o->hold, 0, &hold);
	r->closes = hold.closes;
	r->received = hold.received;
	bench_engine_free(e);
	return 0;
}

/* The count in `path`: waits up to `wait_s` for the file to appear. */
static long read_expect_file(const char *path, double wait_s)
{
	uint64_t end = bench_now_ns() + (uint64_t)(wait_s * 1e9);
	struct timespec ts = {0, 100000000};

	for (;;) {
		FILE *f = fopen(path, "r");
		long v = -1;

		if (f) {
			if (fscanf(f, "%ld", &v) != 1)
				v = -1;
			fclose(f);
			if (v >= 0)
				return v;
		}
		if (bench_now_ns() >= end)
			return -1;
		nanosleep(&ts, NULL);
	}
}

static int run_listen(const struct bench_opts *o, struct bench_result *r)
{
	struct bench_engine *e = bench_engine_new(o, (uint32_t)o->clients, 0, BENCH_RX_TS);
	uint32_t open;
	long expect = o->expect;

	if (!e)
		return 1;
	progress(o, "opening %d connections", o->clients);
	open = bench_engine_connect(e, r);
	if (open == 0) {
		LOG(LOG_ERROR, "bench", "no connection could be opened to %s:%d", o->host, o->port);
		bench_engine_free(e);
		return 1;
	}
	progress(o, "ready: %u open (%.1f handshakes/s); listening for %.1f s", (unsigned)open,
		 r->handshakes_per_s, o->duration);
	bench_engine_listen(e, o->duration, o->count, r);
	if (expect < 0 && o->expect_file) {
		expect = read_expect_file(o->expect_file, o->drain);
		if (expect < 0)
			LOG(LOG_WARN, "bench", "no count in %s", o->expect_file);
	}
	if (expect >= 0) {
		r->sent = (uint64_t)expect;
		r->expected = (uint64_t)expect * open;
		r->loss = (int64_t)r->expected - (int64_t)r->received;
		r->loss_pct = r->expected ? 100.0 * (double)r->loss / (double)r->expected : 0;
	}
	bench_engine_free(e);
	return 0;
}

int bench_main(const struct bench_opts *o)
{
	struct bench_result r;
	uint64_t start = bench_now_ns();
	int rc;

	raise_nofile();
	bench_result_init(&r, o->mode);
	r.rooms = o->rooms;
	r.clients = o->clients;
	r.senders = o->senders;
	r.rate = o->rate;
	switch (o->mode) {
	case BENCH_FIXED:
		rc = run_fixed(o, &r);
		break;
	case BENCH_MAX:
		rc = run_max(o, &r);
		break;
	case BENCH_IDLE:
		r.rooms = 1;
		r.clients = o->connections;
		r.senders = 0;
		r.rate = -1;
		r.total_rate = -1;
		rc = run_idle(o, &r);
		break;
	case BENCH_LISTEN:
		r.rooms = 1;
		r.senders = 0;
		r.rate = -1;
		r.total_rate = -1;
		rc = run_listen(o, &r);
		break;
	case BENCH_PUBLISH:
	default:
		r.rooms = 0;
		r.clients = 0;
		r.senders = 1;
		rc = bench_publish_run(o, &r);
		break;
	}
	if (rc)
		return rc;
	r.client_cpu_s = cpu_seconds();
	r.wall_s = (double)(bench_now_ns() - start) / 1e9;
	bench_report(o, &r);
	return 0;
}
