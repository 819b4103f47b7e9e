/*
 * hist.c - log-linear latency histogram. Pure.
 */
#include <math.h>
#include <string.h>

#include "hist.h"

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min_ns = UINT64_MAX;
}

static unsigned msb64(uint64_t v)
{
	return 63u - (unsigned)__builtin_clzll(v);
}

size_t hist_bucket_of(uint64_t us)
{
	unsigned k, shift;
	size_t idx;

	if (us < HIST_SUB)
		return (size_t)us;
	k = msb64(us);
	shift = k - HIST_SUB_BITS;
	idx =
	    HIST_SUB + (size_t)(k - HIST_SUB_BITS) * HIST_SUB + (size_t)((us >> shift) - HIST_SUB);
	return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

uint64_t hist_bucket_low(size_t idx)
{
	size_t group, sub;

	if (idx < HIST_SUB)
		return idx;
	group = (idx - HIST_SUB) / HIST_SUB; /* power k = group + HIST_SUB_BITS */
	sub = (idx - HIST_SUB) % HIST_SUB;
	return (uint64_t)(HIST_SUB + sub) << group;
}

uint64_t hist_bucket_high(size_t idx)
{
	size_t group;

	if (idx < HIST_SUB)
		return idx;
	group = (idx - HIST_SUB) / HIST_SUB;
	return hist_bucket_low(idx) + ((uint64_t)1 << group) - 1;
}

void hist_record(struct hist *h, uint64_t ns)
{
	uint64_t us = ns / 1000;

	if (us > HIST_MAX_US)
		h->overflow++;
	h->counts[hist_bucket_of(us)]++;
	h->total++;
	h->sum_ns += (double)ns;
	if (ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	for (size_t i = 0; i < HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->total += src->total;
	dst->overflow += src->overflow;
	dst->sum_ns += src->sum_ns;
	if (src->min_ns < dst->min_ns)
		dst->min_ns = src->min_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
}

uint64_t hist_percentile(const struct hist *h, double pct)
{
	uint64_t rank, seen = 0, v;

	if (!h->total)
		return 0;
	if (pct >= 100.0)
		return h->max_ns;
	if (pct < 0.0)
		pct = 0.0;
	rank = (uint64_t)ceil(pct / 100.0 * (double)h->total);
	if (rank < 1)
		rank = 1;
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			/* the bucket's highest value, to the last nanosecond */
			v = hist_bucket_high(i) * 1000 + 999;
			if (v > h->max_ns)
				v = h->max_ns;
			if (v < h->min_ns)
				v = h->min_ns;
			return v;
		}
	}
	return h->max_ns;
}

double hist_mean(const struct hist *h)
{
	return h->total ? h->sum_ns / (double)h->total : 0.0;
}
