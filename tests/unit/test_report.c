/* Per-invocation records, percentiles, summary and CSV (src/core/report.c). */
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

#include "report/report.h"

static void nearest_rank_percentiles(void **state)
{
    (void)state;
    double v[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    assert_true(ilu_percentile_sorted(v, 10, 50) == 5);
    assert_true(ilu_percentile_sorted(v, 10, 90) == 9);
    assert_true(ilu_percentile_sorted(v, 10, 99) == 10);
    assert_true(ilu_percentile_sorted(v, 10, 100) == 10);
    assert_true(ilu_percentile_sorted(v, 1, 50) == 1);
    assert_true(isnan(ilu_percentile_sorted(v, 0, 50)));
    double w[] = {3};
    assert_true(ilu_percentile_sorted(w, 1, 99) == 3);
}

static void distribution_sorts_and_summarises(void **state)
{
    (void)state;
    double v[] = {9, 1, 5, 3, 7};
    json_t *d = ilu_distribution_json(v, 5);
    assert_int_equal(json_integer_value(json_object_get(d, "count")), 5);
    assert_true(json_number_value(json_object_get(d, "p50")) == 5);
    assert_true(json_number_value(json_object_get(d, "max")) == 9);
    assert_true(json_number_value(json_object_get(d, "mean")) == 5);
    json_decref(d);
    d = ilu_distribution_json(NULL, 0);
    assert_true(json_is_null(json_object_get(d, "p50")));
    json_decref(d);
}

static struct ilu_inv_record *add(struct ilu_report *r, unsigned fn, double sched, double send, double end,
                                  const char *state, int http)
{
    struct ilu_inv_record *rec = ilu_report_add(r, fn);
    rec->scheduled_ms = sched;
    rec->send_ms = send;
    rec->end_ms = end;
    json_t *answer = json_pack("{s:b, s:s, s:{s:i, s:i, s:i, s:i, s:i, s:i}}", "success", http == 200,
                               "container_state", state, "timings", "queue_us", 10, "container_start_us", 0, "exec_us",
                               1000, "agent_round_trip_us", 1100, "overhead_us", 250, "total_us", 1260);
    if (http != 200)
        json_object_set_new(answer, "error_kind", json_string("timeout")),
            json_object_set_new(answer, "error", json_string("took \"too\" long,\nreally"));
    ilu_report_fill_from_answer(rec, http, answer);
    json_decref(answer);
    return rec;
}

static void summary_counts_and_percentiles(void **state)
{
    (void)state;
    struct ilu_report r;
    ilu_report_init(&r);
    long a = ilu_report_function(&r, "a", "1"), b = ilu_report_function(&r, "b", "1");
    assert_int_equal(ilu_report_function(&r, "a", "1"), a);
    add(&r, (unsigned)a, 0, 0.5, 10.5, "cold", 200);      /* e2e 10, late 0.5 */
    add(&r, (unsigned)a, 100, 100.1, 102.1, "warm", 200); /* e2e 2, late 0.1 */
    add(&r, (unsigned)b, 200, 201, 205, "prewarm", 200);  /* e2e 4, late 1 */
    add(&r, (unsigned)b, 300, 300.2, 1300.2, "error", 504);
    json_t *s = ilu_report_summary(&r, "trace", "worker", "live", NULL);
    assert_int_equal(json_integer_value(json_object_get(s, "invocations")), 4);
    assert_int_equal(json_integer_value(json_object_get(s, "successes")), 3);
    assert_int_equal(json_integer_value(json_object_get(s, "failures")), 1);
    json_t *lat = json_object_get(s, "latency_ms");
    assert_true(json_number_value(json_object_get(lat, "p50")) == 4);
    assert_true(json_number_value(json_object_get(lat, "max")) == 10);
    json_t *late = json_object_get(s, "lateness_ms");
    assert_int_equal(json_integer_value(json_object_get(late, "count")), 4);
    assert_true(json_number_value(json_object_get(late, "max")) == 1);
    assert_true(json_number_value(json_object_get(json_object_get(s, "overhead_ms"), "p50")) == 0.25);
    /* duration: first send 0.5 to last end 1300.2 */
    assert_true(fabs(json_number_value(json_object_get(s, "duration_s")) - 1.2997) < 1e-9);
    json_t *states = json_object_get(s, "container_states");
    assert_int_equal(json_integer_value(json_object_get(states, "cold")), 1);
    assert_int_equal(json_integer_value(json_object_get(states, "error")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "errors_by_kind"), "timeout")), 1);
    json_t *fb = json_object_get(json_object_get(s, "per_function"), "b");
    assert_int_equal(json_integer_value(json_object_get(fb, "invocations")), 2);
    assert_null(json_object_get(s, "steps"));
    json_decref(s);
    ilu_report_free(&r);
}

static void steps_summarise_closed_loop_runs(void **state)
{
    (void)state;
    struct ilu_report r;
    ilu_report_init(&r);
    long a = ilu_report_function(&r, "a", "1");
    for (int step = 1; step <= 2; step++)
        for (int i = 0; i < 3 * step; i++) {
            struct ilu_inv_record *rec =
                add(&r, (unsigned)a, NAN, 1000.0 * step + i, 1000.0 * step + i + 1, "warm", 200);
            rec->step = step;
            rec->client = i % step;
        }
    json_t *s = ilu_report_summary(&r, "scaling", "worker", "live", NULL);
    json_t *steps = json_object_get(s, "steps");
    assert_int_equal(json_array_size(steps), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(steps, 1), "clients")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(steps, 1), "invocations")), 6);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "lateness_ms"), "count")), 0);
    json_decref(s);
    ilu_report_free(&r);
}

static int append(void *ctx, const char *text, size_t len)
{
    strncat(ctx, text, len);
    return 0;
}

static void csv_rows_and_escaping(void **state)
{
    (void)state;
    struct ilu_report r;
    ilu_report_init(&r);
    long a = ilu_report_function(&r, "a", "1");
    struct ilu_inv_record *ok = add(&r, (unsigned)a, 0, 0.5, 10.5, "cold", 200);
    snprintf(ok->tid, sizeof ok->tid, "t1");
    struct ilu_inv_record *bad = add(&r, (unsigned)a, NAN, 1, 2, "error", 504);
    snprintf(bad->tid, sizeof bad->tid, "t2");
    static char out[8192];
    out[0] = 0;
    assert_int_equal(ilu_report_write_csv(&r, append, out), 0);
    char *line2 = strchr(out, '\n') + 1;
    assert_true(
        strncmp(
            line2, "t1,a,1,0.000,0.500,10.500,0.500,10.000,cold,0.010,0.000,1.000,1.100,0.250,1.260,1,200,,,,,\n",
            strlen("t1,a,1,0.000,0.500,10.500,0.500,10.000,cold,0.010,0.000,1.000,1.100,0.250,1.260,1,200,,,,,\n")) ==
        0);
    char *line3 = strchr(line2, '\n') + 1;
    assert_non_null(strstr(line3, "t2,a,1,,1.000,2.000,,1.000,error,"));
    assert_non_null(strstr(line3, ",0,504,timeout,\"took \"\"too\"\" long, really\",,,\n"));
    ilu_report_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nearest_rank_percentiles),       cmocka_unit_test(distribution_sorts_and_summarises),
        cmocka_unit_test(summary_counts_and_percentiles), cmocka_unit_test(steps_summarise_closed_loop_runs),
        cmocka_unit_test(csv_rows_and_escaping),
    };
    return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
