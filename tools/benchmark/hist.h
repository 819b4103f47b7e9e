/*
 * hist.h - latency histogram of channels-benchmark: log-linear buckets
 * (HdrHistogram-like), 64 sub-buckets per power of two of microseconds,
 * from 1 us to 100 s; relative error under 1/64 (1.6 %) above 64 us, exact
 * to the microsecond below. Pure: no I/O, no allocation, not thread-safe
 * (one per thread or per run).
 */
#ifndef TOOLS_BENCHMARK_HIST_H
#define TOOLS_BENCHMARK_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_SUB_BITS 6
#define HIST_SUB      (1u << HIST_SUB_BITS)
/* Largest tracked value: 100 s in microseconds (< 2^27). */
#define HIST_MAX_US 100000000ull
/* 64 exact buckets below 64 us, then 64 per power of two up to 2^27 us. */
#define HIST_BUCKETS (HIST_SUB + (27 - HIST_SUB_BITS) * HIST_SUB)

struct hist {
	uint64_t counts[HIST_BUCKETS];
	uint64_t total;
	uint64_t overflow;	 /* values over HIST_MAX_US, counted in the last bucket */
	uint64_t min_ns, max_ns; /* exact; min_ns UINT64_MAX when empty */
	double sum_ns;
};

/* Empties `h`. */
void hist_init(struct hist *h);

/* Records one value in nanoseconds (values under 1 us land in bucket 0). */
void hist_record(struct hist *h, uint64_t ns);

/* Adds the counts of `src` into `dst`. */
void hist_merge(struct hist *dst, const struct hist *src);

/*
 * Value at percentile `pct` (0..100) in nanoseconds: the highest value
 * equivalent to the bucket holding the ceil(pct/100 * total)-th smallest
 * value, never above the exact maximum. 0 when empty. pct 100 gives max_ns.
 */
uint64_t hist_percentile(const struct hist *h, double pct);

/* Mean in nanoseconds, 0 when empty. */
double hist_mean(const struct hist *h);

/* Bucket of a value in microseconds (clamped to the last bucket). */
size_t hist_bucket_of(uint64_t us);

/* Lowest and highest microsecond value of bucket `idx`. */
uint64_t hist_bucket_low(size_t idx);
uint64_t hist_bucket_high(size_t idx);

#endif
