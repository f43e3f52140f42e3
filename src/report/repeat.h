/* Repetitions of one run (iluvatar_load_gen --repeat N): each figure of
 * their summaries as the median over the repetitions with a distribution-free
 * 95 % confidence interval of that median, from order statistics
 * (docs/load_gen.md "Repetitions"; the same rule as
 * scripts/compare_results.py). Pure. */
#ifndef ILU_REPORT_REPEAT_H
#define ILU_REPORT_REPEAT_H

#include <jansson.h>
#include <stddef.h>

/* The 95 % interval [x(k), x(n+1-k)] of the median of n sorted values: the
 * largest k whose coverage 1 - 2 P(Binomial(n, 1/2) <= k - 1) is >= 0.95.
 * Returns k (1-based) with *coverage, or 0 when n is too small (n < 6). */
size_t ilu_median_ci_rank(size_t n, double *coverage);

/* The median of n sorted values (the mean of the middle two when n is even);
 * NAN when n is 0. */
double ilu_median_sorted(const double *sorted, size_t n);

/* summary.json of a repetitions folder from the repetitions' summaries (n >=
 * 1, in order): "repetitions", "runs" (the folder names given), "ci"
 * (method, level) and "aggregate" / "per_function": per figure {"median",
 * "ci95": [lo, hi] or null, "coverage" or null, "values": [...]}. Figures
 * missing from some repetitions use the ones that have them. */
json_t *ilu_repeat_summary(json_t *const *summaries, const char *const *names, size_t n);

#endif
