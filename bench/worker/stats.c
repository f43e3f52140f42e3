/* bench_worker: percentiles of one run and the spread (median, min, max)
 * of a figure over repetitions, printed as a row and written as JSON. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_worker.h"

int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
double pct_sorted_u64(const uint64_t *v, size_t n, double q)
{
    if (!n)
        return NAN;
    size_t i = (size_t)ceil(q * (double)n);
    i = i ? i - 1 : 0;
    return (double)v[i < n ? i : n - 1];
}

struct spread spread_of(const double *v, size_t n)
{
    double *s = malloc(n * sizeof *s);
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_d);
    struct spread r = {n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2, s[0], s[n - 1]};
    free(s);
    return r;
}

json_t *spread_json(struct spread s)
{
    return json_pack("{s:f, s:f, s:f}", "median", s.med, "min", s.min, "max", s.max);
}

void print_row(const char *label, struct spread s, const char *unit)
{
    printf("  %-40s %10.1f   [%9.1f – %9.1f] %s\n", label, s.med, s.min, s.max, unit);
}

void print_row2(const char *label, struct spread s, const char *unit)
{
    printf("  %-40s %10.2f   [%9.2f – %9.2f] %s\n", label, s.med, s.min, s.max, unit);
}
