/* The streaming distribution (src/report/dist.c): exact nearest-rank while
 * small, bounded-error histogram past ILU_DIST_EXACT_MAX, exact merges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <math.h>

#include "report/dist.h"
#include "report/report.h"

static const double PS[] = {0.001, 1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9, 100};
#define N_PS (sizeof PS / sizeof PS[0])

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double uniform(uint64_t *s)
{
    return (double)(splitmix64(s) >> 11) / 9007199254740992.0;
}

/* Log-uniform ms from 0.1 ms to 100 s, one in 20 negated (lateness). */
static double spread_ms(uint64_t *s)
{
    double v = 0.1 * pow(10.0, 6.0 * uniform(s));
    return splitmix64(s) % 20 == 0 ? -v : v;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* A reference: every value in µs, as the dist rounds them. */
struct ref {
    int64_t *v;
    size_t n, cap;
    int sorted;
};

static void ref_add(struct ref *r, double ms)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 1024;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
        assert_non_null(r->v);
    }
    r->v[r->n++] = llround(ms * 1000.0);
    r->sorted = 0;
}

/* Nearest-rank percentile in µs: rank ceil(p/100 n) of the sorted values. */
static int64_t ref_percentile(struct ref *r, double p)
{
    if (!r->sorted) {
        qsort(r->v, r->n, sizeof *r->v, cmp_i64);
        r->sorted = 1;
    }
    double rank = ceil(p / 100.0 * (double)r->n);
    size_t i = rank < 1 ? 0 : (size_t)rank - 1;
    return r->v[i < r->n ? i : r->n - 1];
}

static int64_t to_us(double ms)
{
    return llround(ms * 1000.0);
}

/* Add ms to both the dist and the reference. */
static void add_both(struct ilu_dist *d, struct ref *r, double ms)
{
    assert_int_equal(ilu_dist_add(d, ms), 0);
    ref_add(r, ms);
}

/* count, min, max, mean exact; percentiles exact, or within the bound. */
static void check_against(struct ilu_dist *d, struct ref *r)
{
    assert_int_equal(ilu_dist_count(d), r->n);
    __int128 sum = 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < r->n; i++) {
        sum += r->v[i];
        lo = r->v[i] < lo ? r->v[i] : lo;
        hi = r->v[i] > hi ? r->v[i] : hi;
    }
    assert_int_equal(to_us(ilu_dist_min(d)), lo);
    assert_int_equal(to_us(ilu_dist_max(d)), hi);
    double mean_us = (double)sum / (double)r->n;
    assert_true(fabs(ilu_dist_mean(d) * 1000.0 - mean_us) <= 1e-9 * fabs(mean_us) + 1e-9);
    for (size_t k = 0; k < N_PS; k++) {
        int64_t want = ref_percentile(r, PS[k]), got = to_us(ilu_dist_percentile(d, PS[k]));
        if (ilu_dist_exact(d) || llabs(want) < 2048) {
            if (got != want)
                fail_msg("p%g: %lld us, want %lld", PS[k], (long long)got, (long long)want);
        } else if (fabs((double)(got - want)) > ILU_DIST_REL_ERROR * fabs((double)want)) {
            fail_msg("p%g: %lld us, want %lld (beyond the bound)", PS[k], (long long)got, (long long)want);
        }
    }
}

static char *dump(struct ilu_dist *d)
{
    json_t *j = ilu_dist_json(d);
    assert_non_null(j);
    char *s = json_dumps(j, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(j);
    assert_non_null(s);
    return s;
}

static void small_runs_match_nearest_rank(void **state)
{
    (void)state;
    static const double sets[][4] = {{3.2}, {7.0, -1.5}, {2.0, 2.0, 0.0005}};
    static const size_t lens[] = {1, 2, 3};
    for (size_t s = 0; s < 3; s++) {
        struct ilu_dist d;
        struct ref r = {0};
        ilu_dist_init(&d);
        for (size_t i = 0; i < lens[s]; i++)
            add_both(&d, &r, sets[s][i]);
        assert_true(ilu_dist_exact(&d));
        check_against(&d, &r);
        ilu_dist_free(&d);
        free(r.v);
    }
    /* 100 values: negative, duplicates, sub-µs fractions */
    struct ilu_dist d;
    struct ref r = {0};
    ilu_dist_init(&d);
    uint64_t seed = 7;
    for (int i = 0; i < 100; i++)
        add_both(&d, &r, i % 7 == 0 ? 4.25 : (double)(int)(splitmix64(&seed) % 20001) / 100.0 - 50.0 + 0.0004);
    assert_true(ilu_dist_exact(&d));
    check_against(&d, &r);
    /* adding after a percentile sorted the array still ranks correctly */
    add_both(&d, &r, -1000);
    add_both(&d, &r, 0.001);
    check_against(&d, &r);
    ilu_dist_free(&d);
    free(r.v);
}

static void matches_report_percentiles(void **state)
{
    (void)state;
    double v[] = {9, 1, 5, 3, 7, 2.0004, 2.0004, -3.5};
    size_t n = sizeof v / sizeof v[0];
    struct ilu_dist d;
    ilu_dist_init(&d);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ilu_dist_add(&d, v[i]), 0);
    json_t *want = ilu_distribution_json(v, n);
    json_t *got = ilu_dist_json(&d);
    const char *keys[] = {"count", "p50", "p90", "p99", "max", "mean"};
    for (size_t k = 0; k < 6; k++)
        assert_true(json_equal(json_object_get(got, keys[k]), json_object_get(want, keys[k])));
    assert_true(json_is_true(json_object_get(got, "exact")));
    json_decref(want);
    json_decref(got);
    ilu_dist_free(&d);
}

static void empty_dist_json(void **state)
{
    (void)state;
    struct ilu_dist d;
    ilu_dist_init(&d);
    char *s = dump(&d);
    assert_string_equal(
        s, "{\"count\":0,\"p50\":null,\"p90\":null,\"p99\":null,\"max\":null,\"mean\":null,\"exact\":true}");
    free(s);
    assert_true(isnan(ilu_dist_percentile(&d, 50)));
    assert_true(isnan(ilu_dist_max(&d)) && isnan(ilu_dist_min(&d)) && isnan(ilu_dist_mean(&d)));
    assert_int_equal(ilu_dist_bytes(&d), 0);
}

static void json_keys_in_order(void **state)
{
    (void)state;
    struct ilu_dist d;
    ilu_dist_init(&d);
    assert_int_equal(ilu_dist_add(&d, 1.0), 0);
    assert_int_equal(ilu_dist_add(&d, 2.5004), 0);
    char *s = dump(&d);
    assert_string_equal(s,
                        "{\"count\":2,\"p50\":1.0,\"p90\":2.5,\"p99\":2.5,\"max\":2.5,\"mean\":1.75,\"exact\":true}");
    free(s);
    ilu_dist_free(&d);
}

static void large_run_within_bound(void **state)
{
    (void)state;
    struct ilu_dist d;
    struct ref r = {0};
    ilu_dist_init(&d);
    uint64_t seed = 42;
    for (int i = 0; i < 1000000; i++)
        add_both(&d, &r, spread_ms(&seed));
    assert_false(ilu_dist_exact(&d));
    check_against(&d, &r);
    ilu_dist_free(&d);
    free(r.v);
}

static void large_run_below_2ms_is_exact(void **state)
{
    (void)state;
    struct ilu_dist d;
    struct ref r = {0};
    ilu_dist_init(&d);
    uint64_t seed = 3;
    for (int i = 0; i < 200000; i++)
        add_both(&d, &r, 4.1 * uniform(&seed) - 2.05);
    assert_false(ilu_dist_exact(&d));
    check_against(&d, &r);
    for (double p = 0.5; p <= 100; p += 0.5) {
        double want = (double)ref_percentile(&r, p) / 1000.0;
        if (fabs(want) < 2.048)
            assert_true(ilu_dist_percentile(&d, p) == want);
    }
    ilu_dist_free(&d);
    free(r.v);
}

static void crossing_the_threshold(void **state)
{
    (void)state;
    struct ilu_dist d;
    struct ref r = {0};
    ilu_dist_init(&d);
    uint64_t seed = 11;
    for (int i = 0; i < ILU_DIST_EXACT_MAX; i++)
        add_both(&d, &r, spread_ms(&seed));
    assert_true(ilu_dist_exact(&d));
    check_against(&d, &r);
    add_both(&d, &r, spread_ms(&seed));
    assert_false(ilu_dist_exact(&d));
    assert_int_equal(ilu_dist_count(&d), ILU_DIST_EXACT_MAX + 1);
    check_against(&d, &r);
    ilu_dist_free(&d);
    free(r.v);
}

/* Merging a dist of na values with one of nb equals adding all na + nb to one
 * dist; from is left as it was. */
static void merge_case(int na, int nb, uint64_t seed)
{
    struct ilu_dist a, b, all;
    ilu_dist_init(&a);
    ilu_dist_init(&b);
    ilu_dist_init(&all);
    for (int i = 0; i < na + nb; i++) {
        double v = spread_ms(&seed);
        assert_int_equal(ilu_dist_add(i < na ? &a : &b, v), 0);
        assert_int_equal(ilu_dist_add(&all, v), 0);
    }
    char *b_before = dump(&b);
    assert_int_equal(ilu_dist_merge(&a, &b), 0);
    char *b_after = dump(&b), *merged = dump(&a), *want = dump(&all);
    assert_string_equal(b_before, b_after);
    assert_string_equal(merged, want);
    assert_int_equal(ilu_dist_count(&b), nb);
    assert_true(ilu_dist_exact(&a) == ilu_dist_exact(&all));
    for (size_t k = 0; k < N_PS; k++)
        assert_true(ilu_dist_percentile(&a, PS[k]) == ilu_dist_percentile(&all, PS[k]));
    assert_true(ilu_dist_min(&a) == ilu_dist_min(&all));
    free(b_before);
    free(b_after);
    free(merged);
    free(want);
    ilu_dist_free(&a);
    ilu_dist_free(&b);
    ilu_dist_free(&all);
}

static void merge_exact_exact_to_exact(void **state)
{
    (void)state;
    merge_case(100, 200, 1);
    merge_case(0, 50, 2);
    merge_case(50, 0, 3);
    merge_case(ILU_DIST_EXACT_MAX - 10, 10, 4);
}

static void merge_exact_exact_to_histogram(void **state)
{
    (void)state;
    merge_case(40000, 40000, 5);
    merge_case(ILU_DIST_EXACT_MAX, 1, 6);
}

static void merge_histogram_exact(void **state)
{
    (void)state;
    merge_case(100000, 1000, 7);
}

static void merge_exact_histogram(void **state)
{
    (void)state;
    merge_case(1000, 100000, 8);
    merge_case(0, 100000, 9);
}

static void merge_histogram_histogram(void **state)
{
    (void)state;
    merge_case(100000, 150000, 10);
}

static void merge_into_itself(void **state)
{
    (void)state;
    int sizes[] = {10, 40000, 100000};
    for (size_t s = 0; s < 3; s++) {
        struct ilu_dist d, twice;
        ilu_dist_init(&d);
        ilu_dist_init(&twice);
        uint64_t seed = 100 + s;
        for (int i = 0; i < sizes[s]; i++) {
            double v = spread_ms(&seed);
            assert_int_equal(ilu_dist_add(&d, v), 0);
            assert_int_equal(ilu_dist_add(&twice, v), 0);
        }
        assert_int_equal(ilu_dist_merge(&twice, &d), 0);
        assert_int_equal(ilu_dist_merge(&d, &d), 0);
        char *x = dump(&d), *y = dump(&twice);
        assert_string_equal(x, y);
        free(x);
        free(y);
        ilu_dist_free(&d);
        ilu_dist_free(&twice);
    }
}

static void deterministic(void **state)
{
    (void)state;
    struct ilu_dist a, b;
    ilu_dist_init(&a);
    ilu_dist_init(&b);
    uint64_t sa = 99, sb = 99;
    for (int i = 0; i < 300000; i++) {
        assert_int_equal(ilu_dist_add(&a, spread_ms(&sa)), 0);
        assert_int_equal(ilu_dist_add(&b, spread_ms(&sb)), 0);
    }
    char *x = dump(&a), *y = dump(&b);
    assert_string_equal(x, y);
    free(x);
    free(y);
    ilu_dist_free(&a);
    ilu_dist_free(&b);
}

static void memory_is_bounded(void **state)
{
    (void)state;
    struct ilu_dist d;
    ilu_dist_init(&d);
    uint64_t seed = 5;
    for (int i = 0; i < 1000000; i++) /* 0.001 ms to 1e6 ms, log-uniform */
        assert_int_equal(ilu_dist_add(&d, 0.001 * pow(10.0, 9.0 * uniform(&seed))), 0);
    assert_false(ilu_dist_exact(&d));
    assert_true(ilu_dist_bytes(&d) < 512 * 1024);
    ilu_dist_free(&d);
    assert_int_equal(ilu_dist_bytes(&d), 0);
    assert_int_equal(ilu_dist_count(&d), 0);
    /* free leaves it reusable */
    assert_int_equal(ilu_dist_add(&d, 1.0), 0);
    assert_int_equal(ilu_dist_count(&d), 1);
    ilu_dist_free(&d);
}

static void refuses_non_finite(void **state)
{
    (void)state;
    struct ilu_dist d;
    ilu_dist_init(&d);
    assert_int_equal(ilu_dist_add(&d, 1.0), 0);
    assert_int_equal(ilu_dist_add(&d, NAN), -1);
    assert_int_equal(ilu_dist_add(&d, INFINITY), -1);
    assert_int_equal(ilu_dist_add(&d, -INFINITY), -1);
    assert_int_equal(ilu_dist_add(&d, 1e300), -1);
    assert_int_equal(ilu_dist_count(&d), 1);
    assert_true(ilu_dist_max(&d) == 1.0);
    ilu_dist_free(&d);
}

static void extreme_values(void **state)
{
    (void)state;
    struct ilu_dist d;
    ilu_dist_init(&d);
    for (int i = 0; i <= ILU_DIST_EXACT_MAX; i++) {
        int64_t v = i % 3 == 0 ? INT64_MIN : i % 3 == 1 ? INT64_MAX : 0;
        assert_int_equal(ilu_dist_add_us(&d, v), 0);
    }
    assert_false(ilu_dist_exact(&d));
    assert_true(ilu_dist_min(&d) == (double)INT64_MIN / 1000.0);
    assert_true(ilu_dist_max(&d) == (double)INT64_MAX / 1000.0);
    assert_true(ilu_dist_percentile(&d, 1) == (double)INT64_MIN / 1000.0);
    assert_true(ilu_dist_percentile(&d, 50) == 0);
    double top = ilu_dist_percentile(&d, 100), want = (double)INT64_MAX / 1000.0;
    assert_true(top <= want && want - top <= ILU_DIST_REL_ERROR * want);
    assert_true(fabs(ilu_dist_mean(&d)) < 1e12);
    ilu_dist_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_runs_match_nearest_rank),
        cmocka_unit_test(matches_report_percentiles),
        cmocka_unit_test(empty_dist_json),
        cmocka_unit_test(json_keys_in_order),
        cmocka_unit_test(large_run_within_bound),
        cmocka_unit_test(large_run_below_2ms_is_exact),
        cmocka_unit_test(crossing_the_threshold),
        cmocka_unit_test(merge_exact_exact_to_exact),
        cmocka_unit_test(merge_exact_exact_to_histogram),
        cmocka_unit_test(merge_histogram_exact),
        cmocka_unit_test(merge_exact_histogram),
        cmocka_unit_test(merge_histogram_histogram),
        cmocka_unit_test(merge_into_itself),
        cmocka_unit_test(deterministic),
        cmocka_unit_test(memory_is_bounded),
        cmocka_unit_test(refuses_non_finite),
        cmocka_unit_test(extreme_values),
    };
    return cmocka_run_group_tests_name("dist", tests, NULL, NULL);
}
