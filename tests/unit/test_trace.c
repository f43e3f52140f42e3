/* Trace and metadata CSV parsing (src/core/trace.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/types.h"
#include "trace/trace.h"

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
    assert_int_equal(ilu_trace_parse_events(&t, "func_name,invoke_time_ms\nfa,0\nfb,0\r\n\nfa,10.5\n", "t.csv", &err),
                     0);
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
    assert_int_equal(ilu_trace_parse_metadata(&t, "mem_mb,warm_dur_ms,func_name,cold_dur_ms\n32,1,x,2\n", "m", &err),
                     0);
    assert_int_equal(ilu_trace_parse_events(&t, "invoke_time_ms,func_name\n5,x\n", "t", &err), 0);
    assert_true(t.fns[0].warm_ms == 1 && t.fns[0].cold_ms == 2 && t.fns[0].mem_mb == 32);
    assert_true(t.events[0].time_ms == 5);
    ilu_trace_free(&t);
}

/* Ilúvatar's optional image_name column: a function's own image; empty or
 * absent means none. */
static void image_name_column_is_kept(void **state)
{
    (void)state;
    struct ilu_trace t = {0};
    struct ilu_error err = {0};
    assert_int_equal(ilu_trace_parse_metadata(&t,
                                              "func_name,cold_dur_ms,warm_dur_ms,mem_mb,image_name\n"
                                              "a,1,1,64,oci:/srv/l:img\nb,1,1,64,\n",
                                              "m", &err),
                     0);
    assert_string_equal(t.fns[0].image, "oci:/srv/l:img");
    assert_null(t.fns[1].image);
    ilu_trace_free(&t);
    assert_int_equal(ilu_trace_parse_metadata(&t, "func_name,cold_dur_ms,warm_dur_ms,mem_mb\nc,1,1,64\n", "m", &err),
                     0);
    assert_null(t.fns[0].image);
    ilu_trace_free(&t);
}

/* Ilúvatar's optional args ("k=v;k=v", values stay strings) and prewarms
 * columns; empty or absent means none. */
static void args_and_prewarms_columns_are_kept(void **state)
{
    (void)state;
    struct ilu_trace t = {0};
    struct ilu_error err = {0};
    assert_int_equal(ilu_trace_parse_metadata(&t,
                                              "func_name,cold_dur_ms,warm_dur_ms,mem_mb,prewarms,args\n"
                                              "a,1,1,64,2,size=100;mode=fast\nb,1,1,64,,\nc,1,1,64,0,k=a=b\n",
                                              "m", &err),
                     0);
    assert_string_equal(t.fns[0].args_json, "{\"size\":\"100\",\"mode\":\"fast\"}");
    assert_int_equal(t.fns[0].prewarms, 2);
    assert_null(t.fns[1].args_json);
    assert_int_equal(t.fns[1].prewarms, -1);
    assert_string_equal(t.fns[2].args_json, "{\"k\":\"a=b\"}"); /* the first = splits */
    assert_int_equal(t.fns[2].prewarms, 0);
    ilu_trace_free(&t);
    static const char *bad[][2] = {
        {"a,1,1,64,1,novalue\n", "m:2: args \"novalue\": each ;-separated item must be key=value"},
        {"a,1,1,64,1,=v\n", "m:2: args \"=v\""},
        {"a,1,1,64,1.5,k=v\n", "m:2: prewarms 1.5 is not a whole number"},
        {"a,1,1,64,-1,k=v\n", "m:2: prewarms"},
        {"a,1,1,64,1001,k=v\n", "beyond the limit of 1000"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "func_name,cold_dur_ms,warm_dur_ms,mem_mb,prewarms,args\n%s", bad[i][0]);
        memset(&err, 0, sizeof err);
        assert_int_equal(ilu_trace_parse_metadata(&t, text, "m", &err), -1);
        if (!strstr(err.msg, bad[i][1]))
            fail_msg("%s: got \"%s\", expected it to hold \"%s\"", bad[i][0], err.msg, bad[i][1]);
        assert_int_equal(err.status, 400);
        ilu_trace_free(&t);
    }
}

/* The compute column (docs/gpu.md): CPU, GPU, CPU|GPU as on /register;
 * empty or absent is 0 (registered without compute: CPU). */
static void compute_column_is_kept(void **state)
{
    (void)state;
    struct ilu_trace t = {0};
    struct ilu_error err = {0};
    assert_int_equal(ilu_trace_parse_metadata(&t,
                                              "func_name,cold_dur_ms,warm_dur_ms,mem_mb,compute\n"
                                              "a,1,1,64,GPU\nb,1,1,64,\nc,1,1,64,cpu|gpu\nd,1,1,64,CPU\n",
                                              "m", &err),
                     0);
    assert_int_equal(t.fns[0].compute, ILU_COMPUTE_GPU);
    assert_int_equal(t.fns[1].compute, 0);
    assert_int_equal(t.fns[2].compute, ILU_COMPUTE_CPU | ILU_COMPUTE_GPU);
    assert_int_equal(t.fns[3].compute, ILU_COMPUTE_CPU);
    ilu_trace_free(&t);
    assert_int_equal(ilu_trace_parse_metadata(&t, "func_name,cold_dur_ms,warm_dur_ms,mem_mb\na,1,1,64\n", "m", &err),
                     0);
    assert_int_equal(t.fns[0].compute, 0);
    ilu_trace_free(&t);
    assert_int_equal(
        ilu_trace_parse_metadata(&t, "func_name,cold_dur_ms,warm_dur_ms,mem_mb,compute\na,1,1,64,TPU\n", "m", &err),
        -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.msg, "m:2: field compute must be CPU, GPU or CPU|GPU (names separated by |, any case), "
                                 "not \"TPU\"");
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

/* Times beyond ILU_TRACE_MAX_TIME_MS (30 days) would schedule a run of
 * years; NaN, infinities and negatives are not times at all. */
static void absurd_times_are_refused_naming_the_line(void **state)
{
    (void)state;
    static const char *bad[] = {"1e15", "2592000001", "inf", "-inf", "nan", "1e400", "-0.5", "0x", "1 2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char trace[128];
        snprintf(trace, sizeof trace, "func_name,invoke_time_ms\nfa,0\nfa,%s\n", bad[i]);
        const char *msg = trace_error(trace);
        assert_non_null(strstr(msg, "trace.csv:3: invoke_time_ms"));
    }
    assert_non_null(strstr(trace_error("func_name,invoke_time_ms\nfa,1e15\n"), "beyond the limit of 2592000000"));
    /* the bound itself is a time */
    struct ilu_trace t = {0};
    struct ilu_error err = {0};
    assert_int_equal(ilu_trace_parse_metadata(&t, META, "m", &err), 0);
    assert_int_equal(ilu_trace_parse_events(&t, "func_name,invoke_time_ms\nfa,2592000000\n", "t", &err), 0);
    ilu_trace_free(&t);
}

static void absurd_metadata_values_are_refused(void **state)
{
    (void)state;
    static const char *bad[] = {
        "fa,1e300,2,64", "fa,inf,2,64",    "fa,nan,2,64",      "fa,1,86400001,64", "fa,1,-0.1,64",
        "fa,1,2,0",      "fa,1,2,1048577", "fa,1,2,nan",       "fa,1,2,64,-5",     "fa,1,2,64,1e20",
        "f a,1,2,64",    "f\"a,1,2,64",    "f\xc3\xa9,1,2,64", "f/a,1,2,64",
    };
    static const char *what[] = {"cold_dur_ms", "cold_dur_ms", "cold_dur_ms", "warm_dur_ms", "warm_dur_ms",
                                 "mem_mb",      "mem_mb",      "mem_mb",      "mean_iat",    "mean_iat",
                                 "func_name",   "func_name",   "func_name",   "func_name"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "func_name,cold_dur_ms,warm_dur_ms,mem_mb,mean_iat\nok,1,1,1\n%s\n", bad[i]);
        struct ilu_trace t = {0};
        struct ilu_error err = {0};
        assert_int_equal(ilu_trace_parse_metadata(&t, text, "m.csv", &err), -1);
        if (!strstr(err.msg, "m.csv:3: ") || !strstr(err.msg, what[i]))
            fail_msg("%s: %s", bad[i], err.msg);
        ilu_trace_free(&t);
    }
}

/* Lines are bounded at ILU_TRACE_MAX_LINE bytes: exactly that many is fine,
 * one more is refused with the line's number. */
static void long_lines_are_refused_at_the_bound(void **state)
{
    (void)state;
    size_t n = ILU_TRACE_MAX_LINE + 64;
    char *text = malloc(n + 64);
    int o = sprintf(text, "func_name,invoke_time_ms\nfa,1");
    size_t pad = ILU_TRACE_MAX_LINE - 4; /* "fa,1" + spaces: exactly the bound */
    memset(text + o, ' ', pad);
    strcpy(text + o + pad, "\n");
    struct ilu_trace t = {0};
    struct ilu_error err = {0};
    assert_int_equal(ilu_trace_parse_metadata(&t, META, "m", &err), 0);
    assert_int_equal(ilu_trace_parse_events(&t, text, "t", &err), 0);
    assert_int_equal(t.n_events, 1);
    ilu_trace_free(&t);
    strcpy(text + o + pad, " \n"); /* one byte more */
    const char *msg = trace_error(text);
    assert_non_null(strstr(msg, "trace.csv:2: line longer than 65536 bytes"));
    free(text);
}

/* The line-by-line interface the load generator reads files with: the same
 * answers as the whole-text one, NUL bytes refused. */
static void lines_fed_one_at_a_time(void **state)
{
    (void)state;
    struct ilu_trace t = {0};
    struct ilu_error err = {0};
    struct ilu_trace_csv csv;
    const char *meta[] = {"func_name,cold_dur_ms,warm_dur_ms,mem_mb", "", "fa,1,2,64\r"};
    assert_int_equal(ilu_trace_csv_begin(&csv, &t, ILU_TRACE_CSV_METADATA, "m.csv", &err), 0);
    for (size_t i = 0; i < 3; i++) {
        char line[64];
        strcpy(line, meta[i]);
        assert_int_equal(ilu_trace_csv_line(&csv, line, strlen(line), &err), 0);
    }
    assert_int_equal(ilu_trace_csv_end(&csv, &err), 0);
    assert_int_equal(t.n_fns, 1);
    assert_int_equal(t.fns[0].mem_mb, 64);
    assert_int_equal(ilu_trace_csv_begin(&csv, &t, ILU_TRACE_CSV_EVENTS, "t.csv", &err), 0);
    char header[] = "func_name,invoke_time_ms";
    assert_int_equal(ilu_trace_csv_line(&csv, header, strlen(header), &err), 0);
    char row[] = "fa,5\0junk";
    assert_int_equal(ilu_trace_csv_line(&csv, row, sizeof row - 1, &err), -1);
    assert_non_null(strstr(err.msg, "t.csv:2: a NUL byte"));
    assert_int_equal(ilu_trace_csv_begin(&csv, &t, ILU_TRACE_CSV_EVENTS, "t.csv", &err), 0);
    assert_int_equal(ilu_trace_csv_end(&csv, &err), -1);
    assert_non_null(strstr(err.msg, "empty file"));
    ilu_trace_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_metadata_and_events),
        cmocka_unit_test(columns_may_come_in_any_order),
        cmocka_unit_test(image_name_column_is_kept),
        cmocka_unit_test(args_and_prewarms_columns_are_kept),
        cmocka_unit_test(compute_column_is_kept),
        cmocka_unit_test(unsorted_trace_names_the_line),
        cmocka_unit_test(unknown_function_names_the_line),
        cmocka_unit_test(non_numeric_time_names_the_line),
        cmocka_unit_test(missing_column_is_an_error),
        cmocka_unit_test(bad_metadata_values_name_the_line),
        cmocka_unit_test(empty_files_are_errors),
        cmocka_unit_test(many_events_parse_in_linear_time),
        cmocka_unit_test(absurd_times_are_refused_naming_the_line),
        cmocka_unit_test(absurd_metadata_values_are_refused),
        cmocka_unit_test(long_lines_are_refused_at_the_bound),
        cmocka_unit_test(lines_fed_one_at_a_time),
    };
    return cmocka_run_group_tests_name("trace", tests, NULL, NULL);
}
