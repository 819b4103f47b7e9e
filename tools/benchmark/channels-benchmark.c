/*
 * channels-benchmark - the load generator of the project's benchmarks.
 * See bench_opts.c (--help) for the modes and options.
 */
#include <stdio.h>

#include "bench.h"
#include "bench_modes.h"

int main(int argc, char **argv)
{
	struct bench_opts o;
	char err[256];
	int rc;

	bench_opts_defaults(&o);
	rc = bench_opts_parse(&o, argc, argv, err, sizeof(err));
	if (rc == 1) {
		fputs(bench_usage(), stdout);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "channels-benchmark: %s (see --help)\n", err);
		return 1;
	}
	return bench_main(&o);
}
