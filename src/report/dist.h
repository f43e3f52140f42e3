/* A streaming distribution of millisecond values (latencies, lateness) for
 * summary.json, so that a long load run need not keep every value.
 *
 * Values are kept to the microsecond: v ms is stored as llround(v * 1000) µs
 * (negative values allowed). Up to ILU_DIST_EXACT_MAX values are kept as they
 * are and percentiles are exact nearest-rank percentiles (the same as
 * ilu_percentile_sorted over the µs-rounded values). Past that, the values
 * move into a log-linear histogram and the array is freed: one bucket per µs
 * for |v| < 2048 µs, and 1024 buckets per octave [2^m, 2^(m+1)) above (width
 * 2^(m-10)), negative values in a mirror image; an octave's buckets are
 * allocated when it gets its first value, so memory stays bounded (8 KiB per
 * octave used) whatever the count. A percentile is then the midpoint of the
 * bucket holding the nearest-rank value, clamped to [min, max]: at most
 * ILU_DIST_REL_ERROR off relatively, and exact below 2.048 ms.
 *
 * count, min, max and mean are always exact (the sum is an exact integer of
 * µs). Merging two distributions gives exactly what adding every value of one
 * to the other would. Same values in the same order, same output bit for bit.
 * Nothing aborts on out of memory: what allocates returns -1 and leaves the
 * distribution as it was. */
#ifndef ILU_DIST_H
#define ILU_DIST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Values kept exactly (as an array) up to this count. */
#define ILU_DIST_EXACT_MAX 65536
/* Bound on the relative error of a percentile once the histogram is used
 * (half a bucket width over the bucket's lower bound: 2^-11, 0.049 %). */
#define ILU_DIST_REL_ERROR (1.0 / 2048)

struct ilu_dist_hist; /* the histogram, private to dist.c */

/* Init gives an empty distribution; free releases what it holds and leaves
 * it empty again (initialised, reusable). A zeroed struct is not valid:
 * call init. */
struct ilu_dist {
    uint64_t n;
    int64_t min_us, max_us;  /* valid when n > 0 */
    __int128 sum_us;         /* exact: |v| <= 2^63, n < 2^64 */
    int64_t *vals;           /* owned; the values while exact (h == NULL) */
    size_t cap;              /* allocated entries of vals */
    bool sorted;             /* vals[0..n) is sorted */
    struct ilu_dist_hist *h; /* owned; non-NULL once past ILU_DIST_EXACT_MAX */
};
void ilu_dist_init(struct ilu_dist *d);
void ilu_dist_free(struct ilu_dist *d);

/* Add a value in ms (rounded to the µs). 0, or -1 when ms is not finite,
 * when ms * 1000 is outside [-2^63, 2^63), or when out of memory; then d is
 * unchanged. */
int ilu_dist_add(struct ilu_dist *d, double ms);
/* Add a value already in µs. 0, or -1 when out of memory (d unchanged). */
int ilu_dist_add_us(struct ilu_dist *d, int64_t us);

/* Add every value of from (borrowed, not modified) to into; into may be from.
 * 0, or -1 when out of memory, and then into is unchanged. */
int ilu_dist_merge(struct ilu_dist *into, const struct ilu_dist *from);

/* Number of values added. */
uint64_t ilu_dist_count(const struct ilu_dist *d);
/* Whether percentiles are exact (still the array, not the histogram). */
bool ilu_dist_exact(const struct ilu_dist *d);

/* The 0-based index of the nearest-rank p-th percentile among n > 0 sorted
 * values: rank ceil(p/100 * n), clamped to [1, n], minus one. The one rule
 * for exact and histogram percentiles alike (and ilu_percentile_sorted). */
uint64_t ilu_nearest_rank(uint64_t n, double p);

/* Nearest-rank percentile in ms (p in (0, 100]; rank ceil(p/100 * n)
 * clamped to [1, n]); NAN when empty or p is NaN. May sort the exact values
 * in place, hence the non-const d. */
double ilu_dist_percentile(struct ilu_dist *d, double p);
/* Exact maximum, minimum and mean in ms; NAN when empty. */
double ilu_dist_max(const struct ilu_dist *d);
double ilu_dist_min(const struct ilu_dist *d);
double ilu_dist_mean(const struct ilu_dist *d);

/* {"count","p50","p90","p99","max","mean","exact"} in that order: numbers in
 * ms rounded to the µs (json_real of llround(ms * 1000) / 1000), null when
 * empty; "exact" a bool (true when empty). New reference; NULL when out of
 * memory. May sort the exact values in place. */
json_t *ilu_dist_json(struct ilu_dist *d);

/* Heap bytes d holds (its array, or its histogram and octaves). */
size_t ilu_dist_bytes(const struct ilu_dist *d);

#endif
