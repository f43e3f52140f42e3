/* Trace and metadata CSV parsing (src/core/trace.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/trace.h"

static const char META[] = "func_name,cold_dur_ms,warm_dur_ms,mem_mb,mean_iat\n"
                           "fa,100,5,64,100\n"
                           "fb,200.5,20,128,250\n";

static void parses_metadata_and_events(void **state)
{
    (void)state;
    struct ilu_trace t = {0};
    struct ilu_error err = {0};
    assert_int_equal(ilu_trace_parse_metadata(&t, META, "meta.csv", &err), 0);
    assert_int_equal(t.n_fns, 2);
    assert_string_equal(t.fns[1].name, "fb");
    assert_true(t.fns[1].cold_ms == 200.5);
    assert_int_equal(t.fns[1].mem_mb, 128);
    assert_true(t.fns[0].mean_iat_ms == 100);
    assert_int_equal(ilu_trace_parse_events(&t, "func_name,invoke_time_ms\nfa,0\nfb,0\r\n\nfa,10.5\n", "t.csv", &err), 0);
    assert_int_equal(t.n_events, 3);
    assert_int_equal(t.events[1].fn, 1);
    assert_true(t.events[2].time_ms == 10.5);
    assert_int_equal(t.fns[0].invocations, 2);
    assert_int_equal(ilu_trace_fn_index(&t, "fb"), 1);
    assert_int_equal(ilu_trace_fn_index(&t, "nope"), -1);
    ilu_trace_free(&t);
}

static void columns_may_come_in_any_order(void **state)
{
    (void)state;
    struct ilu_trace t = {0};
    struct ilu_error err = {0};
    assert_int_equal(ilu_trace_parse_metadata(&t, "mem_mb,warm_dur_ms,func_name,cold_dur_ms\n32,1,x,2\n", "m", &err), 0);
    assert_int_equal(ilu_trace_parse_events(&t, "invoke_time_ms,func_name\n5,x\n", "t", &err), 0);
    assert_true(t.fns[0].warm_ms == 1 && t.fns[0].cold_ms == 2 && t.fns[0].mem_mb == 32);
    assert_true(t.events[0].time_ms == 5);
    ilu_trace_free(&t);
}

/* Parse META then trace; return the error message (static buffer). */
static const char *trace_error(const char *trace)
{
    static struct ilu_error err;
    struct ilu_trace t = {0};
    memset(&err, 0, sizeof err);
    int rc = ilu_trace_parse_metadata(&t, META, "meta.csv", &err);
    assert_int_equal(rc, 0);
    rc = ilu_trace_parse_events(&t, trace, "trace.csv", &err);
    ilu_trace_free(&t);
    assert_int_equal(rc, -1);
    assert_int_equal(err.status, 400);
    return err.msg;
}

static void unsorted_trace_names_the_line(void **state)
{
    (void)state;
    const char *msg = trace_error("func_name,invoke_time_ms\nfa,10\nfb,20\nfa,15\n");
    assert_non_null(strstr(msg, "trace.csv:4"));
    assert_non_null(strstr(msg, "not sorted"));
}

static void unknown_function_names_the_line(void **state)
{
    (void)state;
    const char *msg = trace_error("func_name,invoke_time_ms\nfa,10\nzz,20\n");
    assert_non_null(strstr(msg, "trace.csv:3"));
    assert_non_null(strstr(msg, "zz"));
}

static void non_numeric_time_names_the_line(void **state)
{
    (void)state;
    const char *msg = trace_error("func_name,invoke_time_ms\nfa,ten\n");
    assert_non_null(strstr(msg, "trace.csv:2"));
    assert_non_null(strstr(msg, "ten"));
    msg = trace_error("func_name,invoke_time_ms\nfa,-1\n");
    assert_non_null(strstr(msg, "trace.csv:2"));
    msg = trace_error("func_name,invoke_time_ms\nfa,\n");
    assert_non_null(strstr(msg, "trace.csv:2"));
}

static void missing_column_is_an_error(void **state)
{
    (void)state;
    const char *msg = trace_error("func_name,time\nfa,1\n");
    assert_non_null(strstr(msg, "invoke_time_ms"));
    struct ilu_trace t = {0};
    struct ilu_error err = {0};
    assert_int_equal(ilu_trace_parse_metadata(&t, "func_name,cold_dur_ms,mem_mb\nfa,1,2\n", "m.csv", &err), -1);
    assert_non_null(strstr(err.msg, "warm_dur_ms"));
    ilu_trace_free(&t);
}

static void bad_metadata_values_name_the_line(void **state)
{
    (void)state;
    static const char *bad[] = {
        "func_name,cold_dur_ms,warm_dur_ms,mem_mb\nfa,1,2,lots\n",
        "func_name,cold_dur_ms,warm_dur_ms,mem_mb\nfa,1,-2,64\n",
        "func_name,cold_dur_ms,warm_dur_ms,mem_mb\nfa,1,2,64\nfa,1,2,64\n", /* duplicate */
        "func_name,cold_dur_ms,warm_dur_ms,mem_mb\n,1,2,64\n",
    };
    static const char *line[] = {"m.csv:2", "m.csv:2", "m.csv:3", "m.csv:2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ilu_trace t = {0};
        struct ilu_error err = {0};
        assert_int_equal(ilu_trace_parse_metadata(&t, bad[i], "m.csv", &err), -1);
        assert_non_null(strstr(err.msg, line[i]));
        ilu_trace_free(&t);
    }
}

static void empty_files_are_errors(void **state)
{
    (void)state;
    struct ilu_trace t = {0};
    struct ilu_error err = {0};
    assert_int_equal(ilu_trace_parse_metadata(&t, "", "m.csv", &err), -1);
    assert_non_null(strstr(err.msg, "empty"));
    assert_int_equal(ilu_trace_parse_metadata(&t, "func_name,cold_dur_ms,warm_dur_ms,mem_mb\n", "m.csv", &err), -1);
    assert_non_null(strstr(err.msg, "no functions"));
    ilu_trace_free(&t);
}

static void many_events_parse_in_linear_time(void **state)
{
    (void)state;
    enum { N = 200000 };
    char *text = malloc(N * 16 + 64);
    size_t o = (size_t)sprintf(text, "func_name,invoke_time_ms\n");
    for (int i = 0; i < N; i++)
        o += (size_t)sprintf(text + o, "%s,%d\n", i % 2 ? "fa" : "fb", i);
    struct ilu_trace t = {0};
    struct ilu_error err = {0};
    assert_int_equal(ilu_trace_parse_metadata(&t, META, "m", &err), 0);
    assert_int_equal(ilu_trace_parse_events(&t, text, "t", &err), 0);
    assert_int_equal(t.n_events, N);
    assert_true(t.events[N - 1].time_ms == N - 1);
    ilu_trace_free(&t);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_metadata_and_events),
        cmocka_unit_test(columns_may_come_in_any_order),
        cmocka_unit_test(unsorted_trace_names_the_line),
        cmocka_unit_test(unknown_function_names_the_line),
        cmocka_unit_test(non_numeric_time_names_the_line),
        cmocka_unit_test(missing_column_is_an_error),
        cmocka_unit_test(bad_metadata_values_name_the_line),
        cmocka_unit_test(empty_files_are_errors),
        cmocka_unit_test(many_events_parse_in_linear_time),
    };
    return cmocka_run_group_tests_name("trace", tests, NULL, NULL);
}
