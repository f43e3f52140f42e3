/* Per-invocation records, percentiles, summary and CSV (src/report/report.c). */
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
    struct ilu_inv_record *rec = ilu_report_add(r, fn, NULL);
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
    assert_int_equal(ilu_report_finish(&r), 0);
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
    assert_int_equal(ilu_report_finish(&r), 0);
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
    ilu_report_set_output(&r, append, out);
    assert_int_equal(ilu_report_finish(&r), 0);
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

static void on_final(void *ctx, const struct ilu_report *r, const struct ilu_inv_record *rec)
{
    char *order = ctx;
    size_t n = strlen(order);
    order[n] = rec->tid[0];
    order[n + 1] = 0;
}

/* Records completed out of order become final (summed, written) in the order
 * they were added, as soon as every earlier one is complete; the window of
 * records held is only those in flight. */
static void records_become_final_in_order(void **state)
{
    (void)state;
    struct ilu_report r;
    ilu_report_init(&r);
    static char out[8192], order[16];
    out[0] = order[0] = 0;
    ilu_report_set_output(&r, append, out);
    ilu_report_on_final(&r, on_final, order);
    long a = ilu_report_function(&r, "a", "1");
    uint64_t seq[3];
    for (int i = 0; i < 3; i++) {
        struct ilu_inv_record *rec = ilu_report_add(&r, (unsigned)a, &seq[i]);
        rec->tid[0] = (char)('x' + i);
        rec->send_ms = i;
        rec->end_ms = i + 1;
        rec->success = 1;
        assert_int_equal(seq[i], (uint64_t)i);
    }
    assert_int_equal(ilu_report_complete(&r, seq[2]), 0);
    assert_int_equal(ilu_report_complete(&r, seq[1]), 0);
    assert_string_equal(order, ""); /* x is still in flight */
    assert_int_equal(ilu_report_count(&r), 0);
    assert_non_null(ilu_report_get(&r, seq[2]));
    assert_int_equal(ilu_report_complete(&r, seq[0]), 0);
    assert_string_equal(order, "xyz");
    assert_null(ilu_report_get(&r, seq[0]));
    assert_int_equal(ilu_report_count(&r), 3);
    assert_int_equal(ilu_report_successes(&r), 3);
    assert_int_equal(ilu_report_finish(&r), 0);
    char *row = strchr(out, '\n') + 1;
    assert_true(row[0] == 'x' && strchr(row, '\n')[1] == 'y');
    /* a million records, never more than 8 in flight: the ring stays small */
    ilu_report_set_output(&r, NULL, NULL);
    ilu_report_on_final(&r, NULL, NULL);
    for (uint64_t i = 0; i < 1000000; i++) {
        uint64_t s;
        struct ilu_inv_record *rec = ilu_report_add(&r, (unsigned)a, &s);
        rec->send_ms = (double)i;
        rec->end_ms = (double)i + 1 + (double)(i % 7);
        rec->success = 1;
        if (i >= 7)
            ilu_report_complete(&r, s - 7);
    }
    assert_true(r.cap <= 1024);
    assert_int_equal(ilu_report_finish(&r), 0);
    json_t *s = ilu_report_summary(&r, "trace", "worker", "simulation", NULL);
    json_t *lat = json_object_get(s, "latency_ms");
    assert_int_equal(json_integer_value(json_object_get(lat, "count")), 1000003);
    assert_true(json_is_false(json_object_get(lat, "exact")));
    assert_true(json_number_value(json_object_get(lat, "max")) == 7);
    /* past ILU_DIST_EXACT_MAX values: within the stated bound */
    assert_true(fabs(json_number_value(json_object_get(lat, "p50")) - 4) <= 4 * ILU_DIST_REL_ERROR);
    json_decref(s);
    ilu_report_free(&r);
}

/* An output that fails: its error comes back from complete and finish. */
static int failing(void *ctx, const char *text, size_t len)
{
    return -1;
}

static void output_errors_are_returned(void **state)
{
    (void)state;
    struct ilu_report r;
    ilu_report_init(&r);
    ilu_report_set_output(&r, failing, NULL);
    long a = ilu_report_function(&r, "a", "1");
    uint64_t s;
    ilu_report_add(&r, (unsigned)a, &s);
    ilu_report_complete(&r, s);
    assert_int_not_equal(ilu_report_finish(&r), 0);
    ilu_report_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nearest_rank_percentiles),       cmocka_unit_test(distribution_sorts_and_summarises),
        cmocka_unit_test(summary_counts_and_percentiles), cmocka_unit_test(steps_summarise_closed_loop_runs),
        cmocka_unit_test(csv_rows_and_escaping),          cmocka_unit_test(records_become_final_in_order),
        cmocka_unit_test(output_errors_are_returned),
    };
    return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
