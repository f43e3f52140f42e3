/* Per-function characteristics: plain and exponentially weighted means,
 * inter-arrival mean and variance, against hand-computed values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "core/characteristics.h"

static void stat_keeps_plain_and_weighted_means(void **state)
{
    (void)state;
    struct ilu_stat s = {0};
    ilu_stat_add(&s, 100); /* the first sample sets both */
    assert_true(s.mean == 100 && s.ewma == 100 && s.n == 1);
    ilu_stat_add(&s, 200); /* mean 150; ewma 0.9 x 100 + 0.1 x 200 = 110 */
    assert_true(fabs(s.mean - 150) < 1e-9 && fabs(s.ewma - 110) < 1e-9);
    ilu_stat_add(&s, 300); /* mean 200; ewma 0.9 x 110 + 30 = 129 */
    assert_true(fabs(s.mean - 200) < 1e-9 && fabs(s.ewma - 129) < 1e-9);
    assert_int_equal(s.n, 3);
}

static void inter_arrival_mean_and_variance(void **state)
{
    (void)state;
    struct ilu_fn_stats s = {0};
    ilu_fn_stats_arrival(&s, 1000);
    assert_true(s.iat_mean_us == 0 && ilu_fn_stats_iat_var(&s) == 0);
    ilu_fn_stats_arrival(&s, 3000); /* gap 2000 */
    assert_true(fabs(s.iat_mean_us - 2000) < 1e-9);
    assert_true(ilu_fn_stats_iat_var(&s) == 0); /* one gap: no variance yet */
    ilu_fn_stats_arrival(&s, 7000);             /* gap 4000 */
    ilu_fn_stats_arrival(&s, 13000);            /* gap 6000 */
    /* gaps 2000, 4000, 6000: mean 4000, sample variance 4e6 */
    assert_true(fabs(s.iat_mean_us - 4000) < 1e-9);
    assert_true(fabs(ilu_fn_stats_iat_var(&s) - 4e6) < 1e-3);
    assert_int_equal(s.arrivals, 4);
    assert_int_equal(s.last_arrival_us, 13000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stat_keeps_plain_and_weighted_means),
        cmocka_unit_test(inter_arrival_mean_and_variance),
    };
    return cmocka_run_group_tests_name("characteristics", tests, NULL, NULL);
}
