#include "report/repeat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t ilu_median_ci_rank(size_t n, double *coverage)
{
    /* P(B <= j) for B ~ Binomial(n, 1/2), summed term by term in doubles:
     * n is a count of repetitions (tens), far from overflow */
    size_t best = 0;
    double cdf = 0, term = ldexp(1.0, -(int)n); /* P(B = 0) */
    for (size_t k = 1; k <= n / 2; k++) {
        cdf += term;                                     /* P(B <= k - 1) */
        term = term * (double)(n - (k - 1)) / (double)k; /* P(B = k) */
        double c = 1.0 - 2.0 * cdf;
        if (c < 0.95)
            break;
        best = k;
        if (coverage)
            *coverage = c;
    }
    return best;
}

double ilu_median_sorted(const double *sorted, size_t n)
{
    if (!n)
        return NAN;
    return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The value at a dotted path ("latency_ms.p50") of a summary, if a number. */
static int number_at(json_t *doc, const char *path, double *out)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = doc;
    for (char *save = NULL, *part = strtok_r(buf, ".", &save); part && v; part = strtok_r(NULL, ".", &save))
        v = json_object_get(v, part);
    if (!json_is_number(v))
        return 0;
    *out = json_number_value(v);
    return 1;
}

static json_t *figure(json_t *const *docs, size_t n, const char *path)
{
    double *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return NULL;
    size_t m = 0;
    json_t *values = json_array();
    for (size_t i = 0; i < n; i++) {
        double x;
        if (number_at(docs[i], path, &x)) {
            v[m++] = x;
            json_array_append_new(values, json_real(x));
        } else {
            json_array_append_new(values, json_null());
        }
    }
    qsort(v, m, sizeof *v, cmp_double);
    double coverage = 0;
    size_t k = ilu_median_ci_rank(m, &coverage);
    json_t *f = json_pack("{s:o, s:o, s:o, s:o}", "median", m ? json_real(ilu_median_sorted(v, m)) : json_null(),
                          "ci95", k ? json_pack("[f, f]", v[k - 1], v[m - k]) : json_null(), "coverage",
                          k ? json_real(coverage) : json_null(), "values", values);
    free(v);
    return f;
}

static const char *const RUN_FIGURES[] = {
    "invocations",
    "successes",
    "failures",
    "throughput_per_s",
    "container_states.cold",
    "container_states.prewarm",
    "container_states.warm",
    "latency_ms.p50",
    "latency_ms.p90",
    "latency_ms.p99",
    "latency_ms.mean",
    "lateness_ms.p99",
    "pool.evictions",
    "pool.keepalive_removals",
    "pool.containers_started",
};
static const char *const FN_FIGURES[] = {
    "invocations", "container_states.cold", "latency_ms.p50", "latency_ms.p90", "latency_ms.p99", "latency_ms.mean",
};

static json_t *figures(json_t *const *docs, size_t n, const char *const *paths, size_t n_paths)
{
    json_t *out = json_object();
    for (size_t i = 0; i < n_paths; i++) {
        int present = 0;
        double x;
        for (size_t r = 0; r < n && !present; r++)
            present = number_at(docs[r], paths[i], &x);
        if (present)
            json_object_set_new(out, paths[i], figure(docs, n, paths[i]));
    }
    return out;
}

json_t *ilu_repeat_summary(json_t *const *summaries, const char *const *names, size_t n)
{
    json_t *first = n ? summaries[0] : NULL;
    json_t *runs = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(runs, json_string(names[i]));
    json_t *s = json_pack("{s:O?, s:O?, s:O?, s:i, s:o}", "mode", json_object_get(first, "mode"), "target",
                          json_object_get(first, "target"), "setup", json_object_get(first, "setup"), "repetitions",
                          (int)n, "runs", runs);
    json_object_set_new(s, "ci",
                        json_pack("{s:s, s:f, s:i}", "method",
                                  "distribution-free CI of the median from order statistics (binomial)", "level", 0.95,
                                  "min_repetitions", 6));
    json_object_set_new(s, "aggregate", figures(summaries, n, RUN_FIGURES, sizeof RUN_FIGURES / sizeof *RUN_FIGURES));
    /* per function: the functions of every repetition (a trace's are the same in each) */
    json_t *per_fn = json_object();
    json_t **docs = malloc((n ? n : 1) * sizeof *docs);
    const char *fn;
    json_t *unused;
    json_object_foreach(json_object_get(first, "per_function"), fn, unused)
    {
        for (size_t r = 0; docs && r < n; r++)
            docs[r] = json_object_get(json_object_get(summaries[r], "per_function"), fn);
        if (docs)
            json_object_set_new(per_fn, fn, figures(docs, n, FN_FIGURES, sizeof FN_FIGURES / sizeof *FN_FIGURES));
    }
    free(docs);
    json_object_set_new(s, "per_function", per_fn);
    return s;
}
