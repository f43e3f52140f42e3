/* Repetitions' summaries (src/report/repeat.c): the order-statistic CI of
 * the median against hand-computed binomial coverages, medians of odd and
 * even counts, and the aggregate of three hand-made summaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "report/repeat.h"

static void ci_rank_matches_the_binomial_by_hand(void **state)
{
    (void)state;
    double c = -1;
    /* n = 5: k = 1 covers 1 - 2/32 = 0.9375 < 0.95: no interval */
    assert_int_equal(ilu_median_ci_rank(5, &c), 0);
    /* n = 6: k = 1 covers 1 - 2/64 = 0.96875 */
    assert_int_equal(ilu_median_ci_rank(6, &c), 1);
    assert_true(fabs(c - 0.96875) < 1e-12);
    /* n = 10: k = 2 covers 1 - 2 * 11/1024 = 0.978515625; k = 3 would cover 1 - 2 * 56/1024 = 0.890625 */
    assert_int_equal(ilu_median_ci_rank(10, &c), 2);
    assert_true(fabs(c - 0.978515625) < 1e-12);
    /* n = 20: P(B <= 5) = 21700/1048576 -> k = 6 covers 0.958611...; P(B <= 6) = 60460/1048576 -> k = 7 < 0.95 */
    assert_int_equal(ilu_median_ci_rank(20, &c), 6);
    assert_true(fabs(c - (1.0 - 2.0 * 21700.0 / 1048576.0)) < 1e-12);
    assert_int_equal(ilu_median_ci_rank(0, NULL), 0);
    assert_int_equal(ilu_median_ci_rank(1, NULL), 0);
}

static void medians_of_odd_and_even_counts(void **state)
{
    (void)state;
    const double odd[] = {1, 2, 9}, even[] = {1, 2, 4, 9};
    assert_true(ilu_median_sorted(odd, 3) == 2.0);
    assert_true(ilu_median_sorted(even, 4) == 3.0);
    assert_true(isnan(ilu_median_sorted(odd, 0)));
}

static json_t *summary(int cold, double p50)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:{s:i, s:i, s:i}, s:{s:f}, s:{s:{s:i, s:{s:f}}}}", "mode", "trace",
                     "target", "worker", "setup", "simulation", "invocations", 10, "container_states", "cold", cold,
                     "warm", 10 - cold, "prewarm", 0, "latency_ms", "p50", p50, "per_function", "f", "invocations", 10,
                     "latency_ms", "p50", p50);
}

static void aggregate_of_three_repetitions(void **state)
{
    (void)state;
    json_t *s[3] = {summary(3, 12.0), summary(1, 10.0), summary(2, 30.0)};
    const char *names[3] = {"rep-1", "rep-2", "rep-3"};
    json_t *agg = ilu_repeat_summary(s, names, 3);
    assert_non_null(agg);
    assert_int_equal(json_integer_value(json_object_get(agg, "repetitions")), 3);
    assert_string_equal(json_string_value(json_object_get(agg, "setup")), "simulation");
    json_t *a = json_object_get(agg, "aggregate");
    json_t *cold = json_object_get(a, "container_states.cold");
    assert_true(json_real_value(json_object_get(cold, "median")) == 2.0);
    assert_true(json_is_null(json_object_get(cold, "ci95"))); /* 3 < 6 repetitions */
    assert_int_equal(json_array_size(json_object_get(cold, "values")), 3);
    assert_true(json_real_value(json_array_get(json_object_get(cold, "values"), 0)) == 3.0); /* in run order */
    assert_true(json_real_value(json_object_get(json_object_get(a, "latency_ms.p50"), "median")) == 12.0);
    assert_null(json_object_get(a, "latency_ms.p99")); /* in no repetition */
    json_t *f = json_object_get(json_object_get(agg, "per_function"), "f");
    assert_true(json_real_value(json_object_get(json_object_get(f, "latency_ms.p50"), "median")) == 12.0);
    json_decref(agg);
    for (int i = 0; i < 3; i++)
        json_decref(s[i]);
}

static void six_repetitions_get_the_min_max_interval(void **state)
{
    (void)state;
    json_t *s[6];
    const char *names[6] = {"rep-1", "rep-2", "rep-3", "rep-4", "rep-5", "rep-6"};
    const double p50[6] = {14, 11, 13, 10, 15, 12};
    for (int i = 0; i < 6; i++)
        s[i] = summary(1, p50[i]);
    json_t *agg = ilu_repeat_summary(s, names, 6);
    json_t *fig = json_object_get(json_object_get(agg, "aggregate"), "latency_ms.p50");
    assert_true(json_real_value(json_object_get(fig, "median")) == 12.5);
    json_t *ci = json_object_get(fig, "ci95");
    assert_true(json_real_value(json_array_get(ci, 0)) == 10.0);
    assert_true(json_real_value(json_array_get(ci, 1)) == 15.0);
    assert_true(fabs(json_real_value(json_object_get(fig, "coverage")) - 0.96875) < 1e-12);
    json_decref(agg);
    for (int i = 0; i < 6; i++)
        json_decref(s[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ci_rank_matches_the_binomial_by_hand),
        cmocka_unit_test(medians_of_odd_and_even_counts),
        cmocka_unit_test(aggregate_of_three_repetitions),
        cmocka_unit_test(six_repetitions_get_the_min_max_interval),
    };
    return cmocka_run_group_tests_name("repeat", tests, NULL, NULL);
}
