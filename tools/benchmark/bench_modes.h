/*
 * bench_modes.h - entry points of channels-benchmark's modes
 * (bench_modes.c), called by main().
 */
#ifndef TOOLS_BENCHMARK_BENCH_MODES_H
#define TOOLS_BENCHMARK_BENCH_MODES_H

#include "bench.h"

/* Runs the mode of `o` and prints the report. Returns the exit status:
 * 0 when the run completed, 1 on a setup error. Single-threaded. */
int bench_main(const struct bench_opts *o);

/* Prints the human-readable report of `r` on stdout, then the JSON line
 * with --json. */
void bench_report(const struct bench_opts *o, const struct bench_result *r);

#endif
