/* The load generator's results folder (src/loadgen/common.c lg_write_results,
 * rows from src/report/report.c): written into a fresh mkdtemp folder, read
 * back and parsed as CSV (RFC 4180 quoting), so a spreadsheet or pandas sees
 * the same fields the report holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loadgen/loadgen.h"

#define CSV_COLUMNS 22
static const char csv_header[] =
    "tid,function_name,function_version,scheduled_ms,send_ms,end_ms,lateness_ms,e2e_ms,container_state,"
    "queue_ms,container_start_ms,exec_ms,agent_rtt_ms,overhead_ms,worker_total_ms,success,http_status,"
    "error_kind,error,client,step,sandbox";

/* ---- helpers ---- */

struct fixture {
    char dir[64];
    struct lg_ctx ctx;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ilu-test-csv-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/results/run1", f->dir); /* two levels that do not exist yet */
    lg_ctx_init(&f->ctx, "127.0.0.1", 8079, out);
    f->ctx.no_plots = 1;
    f->ctx.quiet = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    lg_ctx_free(&f->ctx);
    free(f);
    return rc == 0 ? 0 : -1;
}

static char *read_file(const char *dir, const char *name)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    return strdup(buf);
}

/* One CSV record from *p (RFC 4180: a quoted field may hold commas, doubled
 * quotes and line breaks); fields are written into fields[i] (up to max).
 * Returns the number of fields, or -1 at the end of the text; *p moves past
 * the record's line break. */
static int csv_record(const char **p, char fields[][640], int max)
{
    const char *s = *p;
    if (!*s)
        return -1;
    int n = 0;
    for (;;) {
        char field[640];
        size_t o = 0;
        if (*s == '"') {
            for (s++;; s++) {
                if (!*s)
                    return -1; /* unterminated quote */
                if (*s == '"' && s[1] == '"')
                    s++;
                else if (*s == '"') {
                    s++;
                    break;
                }
                if (o < sizeof field - 1)
                    field[o++] = *s;
            }
        } else {
            for (; *s && *s != ',' && *s != '\n'; s++)
                if (o < sizeof field - 1)
                    field[o++] = *s;
        }
        field[o] = 0;
        if (n < max)
            memcpy(fields[n], field, o + 1);
        n++;
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s == '\n')
            s++;
        *p = s;
        return n;
    }
}

static struct ilu_inv_record *add_record(struct lg_ctx *ctx, const char *fn, const char *tid, int http_status,
                                         const char *error_kind, const char *error)
{
    long idx = ilu_report_function(&ctx->report, fn, "1");
    assert_true(idx >= 0);
    struct ilu_inv_record *rec = ilu_report_add(&ctx->report, (unsigned)idx, NULL);
    assert_non_null(rec);
    snprintf(rec->tid, sizeof rec->tid, "%s", tid);
    rec->scheduled_ms = 10;
    rec->send_ms = 10.25;
    rec->end_ms = 30.5;
    rec->state = http_status == 200 ? ILU_START_WARM : ILU_START_ERROR;
    rec->success = http_status == 200;
    rec->http_status = http_status;
    if (error_kind)
        snprintf(rec->error_kind, sizeof rec->error_kind, "%s", error_kind);
    rec->error = error ? strdup(error) : NULL;
    return rec;
}

static int file_exists(const char *dir, const char *name)
{
    char path[PATH_MAX + 64];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

/* ---- tests ---- */

static void header_is_the_documented_one(void **state)
{
    struct fixture *f = *state;
    struct ilu_error err = {0};
    assert_int_equal(lg_write_results(&f->ctx, "trace", NULL, NULL, &err), 0);
    char *csv = read_file(f->ctx.out_dir, "invocations.csv");
    assert_non_null(csv);
    /* no records: the header line alone */
    size_t len = strlen(csv_header);
    assert_int_equal(strlen(csv), len + 1);
    assert_memory_equal(csv, csv_header, len);
    assert_int_equal(csv[len], '\n');
    const char *p = csv;
    char fields[CSV_COLUMNS + 2][640];
    assert_int_equal(csv_record(&p, fields, CSV_COLUMNS + 2), CSV_COLUMNS);
    free(csv);
}

static void rows_read_back_field_by_field(void **state)
{
    struct fixture *f = *state;
    add_record(&f->ctx, "hello", "tid-1", 200, NULL, NULL);
    struct ilu_inv_record *closed = add_record(&f->ctx, "hello", "tid-2", 200, NULL, NULL);
    closed->scheduled_ms = NAN; /* closed loop: no schedule, no lateness */
    closed->client = 3;
    closed->step = 1;
    struct ilu_error err = {0};
    assert_int_equal(lg_write_results(&f->ctx, "trace", NULL, NULL, &err), 0);
    char *csv = read_file(f->ctx.out_dir, "invocations.csv");
    assert_non_null(csv);
    const char *p = csv;
    char fields[CSV_COLUMNS + 2][640];
    assert_int_equal(csv_record(&p, fields, CSV_COLUMNS + 2), CSV_COLUMNS); /* header */

    assert_int_equal(csv_record(&p, fields, CSV_COLUMNS + 2), CSV_COLUMNS);
    assert_string_equal(fields[0], "tid-1");
    assert_string_equal(fields[1], "hello");
    assert_string_equal(fields[2], "1");
    assert_string_equal(fields[3], "10.000");
    assert_string_equal(fields[4], "10.250");
    assert_string_equal(fields[5], "30.500");
    assert_string_equal(fields[6], "0.250");  /* lateness: send - scheduled */
    assert_string_equal(fields[7], "20.250"); /* e2e: end - send */
    assert_string_equal(fields[8], "warm");
    assert_string_equal(fields[9], ""); /* timings the answer did not have */
    assert_string_equal(fields[15], "1");
    assert_string_equal(fields[16], "200");
    assert_string_equal(fields[18], "");
    assert_string_equal(fields[19], ""); /* client, step: not applicable */
    assert_string_equal(fields[20], "");

    assert_int_equal(csv_record(&p, fields, CSV_COLUMNS + 2), CSV_COLUMNS);
    assert_string_equal(fields[0], "tid-2");
    assert_string_equal(fields[3], "");
    assert_string_equal(fields[6], "");
    assert_string_equal(fields[19], "3");
    assert_string_equal(fields[20], "1");
    assert_int_equal(csv_record(&p, fields, CSV_COLUMNS + 2), -1); /* nothing after the last row */
    free(csv);
}

static void error_text_is_quoted(void **state)
{
    struct fixture *f = *state;
    add_record(&f->ctx, "f", "t-comma", 502, "container_error", "agent said: a, b, c");
    add_record(&f->ctx, "f", "t-quote", 422, "user_error", "ValueError(\"bad\")");
    add_record(&f->ctx, "f", "t-newline", 504, "timeout", "line one\nline two\r\nline three");
    add_record(&f->ctx, "f", "t-plain", 503, "unavailable", "no worker");
    struct ilu_error err = {0};
    assert_int_equal(lg_write_results(&f->ctx, "trace", NULL, NULL, &err), 0);
    char *csv = read_file(f->ctx.out_dir, "invocations.csv");
    assert_non_null(csv);
    /* the raw text: quoted only where needed, quotes doubled */
    assert_non_null(strstr(csv, ",container_error,\"agent said: a, b, c\",,,\n"));
    assert_non_null(strstr(csv, ",user_error,\"ValueError(\"\"bad\"\")\",,,\n"));
    assert_non_null(strstr(csv, ",unavailable,no worker,,,\n"));
    /* one line per record: a line break inside an error does not start a row */
    int lines = 0;
    for (const char *c = csv; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 5);

    const char *p = csv;
    char fields[CSV_COLUMNS + 2][640];
    assert_int_equal(csv_record(&p, fields, CSV_COLUMNS + 2), CSV_COLUMNS);
    const char *want[][3] = {{"t-comma", "container_error", "agent said: a, b, c"},
                             {"t-quote", "user_error", "ValueError(\"bad\")"},
                             {"t-newline", "timeout", "line one line two  line three"},
                             {"t-plain", "unavailable", "no worker"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(csv_record(&p, fields, CSV_COLUMNS + 2), CSV_COLUMNS);
        assert_string_equal(fields[0], want[i][0]);
        assert_string_equal(fields[15], "0");
        assert_string_equal(fields[17], want[i][1]);
        assert_string_equal(fields[18], want[i][2]);
    }
    free(csv);
}

static void summary_and_no_temporary_files(void **state)
{
    struct fixture *f = *state;
    add_record(&f->ctx, "f", "t1", 200, NULL, NULL);
    add_record(&f->ctx, "f", "t2", 504, "timeout", "slow");
    json_t *inputs = json_pack("{s:s}", "trace", "day.csv");
    json_t *summary = NULL;
    struct ilu_error err = {0};
    assert_int_equal(lg_write_results(&f->ctx, "trace", inputs, &summary, &err), 0);
    assert_non_null(summary);
    json_error_t jerr;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/summary.json", f->ctx.out_dir);
    json_t *on_disk = json_load_file(path, 0, &jerr);
    assert_non_null(on_disk);
    assert_true(json_equal(on_disk, summary));
    assert_int_equal(json_integer_value(json_object_get(on_disk, "invocations")), 2);
    assert_int_equal(json_integer_value(json_object_get(on_disk, "failures")), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(on_disk, "inputs"), "trace")), "day.csv");
    assert_true(json_is_string(json_object_get(on_disk, "finished_at"))); /* a live run is stamped */
    /* written through temporary files renamed into place: only the results and the manifest remain */
    DIR *d = opendir(f->ctx.out_dir);
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        n++;
        assert_true(!strcmp(e->d_name, "invocations.csv") || !strcmp(e->d_name, "summary.json") ||
                    !strcmp(e->d_name, "run.json"));
    }
    closedir(d);
    assert_int_equal(n, 3);
    json_decref(on_disk);
    json_decref(summary);
    json_decref(inputs);
}

static void simulation_results_are_not_stamped(void **state)
{
    struct fixture *f = *state;
    f->ctx.setup = "simulation"; /* results that depend on the inputs only: byte for byte repeatable */
    add_record(&f->ctx, "f", "t1", 200, NULL, NULL);
    struct ilu_error err = {0};
    assert_int_equal(lg_write_results(&f->ctx, "trace", NULL, NULL, &err), 0);
    char *first = read_file(f->ctx.out_dir, "summary.json");
    assert_non_null(first);
    assert_null(strstr(first, "finished_at"));
    assert_int_equal(lg_write_results(&f->ctx, "trace", NULL, NULL, &err), 0);
    char *second = read_file(f->ctx.out_dir, "summary.json");
    assert_string_equal(first, second);
    free(first);
    free(second);
}

static void unwritable_folder_is_an_error(void **state)
{
    struct fixture *f = *state;
    /* a file where the results folder should be */
    char blocker[PATH_MAX];
    snprintf(blocker, sizeof blocker, "%s/results", f->dir);
    FILE *fp = fopen(blocker, "w");
    assert_non_null(fp);
    fclose(fp);
    add_record(&f->ctx, "f", "t1", 200, NULL, NULL);
    struct ilu_error err = {0};
    json_t *summary = NULL;
    assert_int_equal(lg_write_results(&f->ctx, "trace", NULL, &summary, &err), -1);
    assert_null(summary);
    assert_int_equal(err.status, ILU_ST_INTERNAL);
    assert_non_null(strstr(err.msg, f->ctx.out_dir)); /* says which folder */
    assert_false(file_exists(f->ctx.out_dir, "invocations.csv"));
}

static void json_file_is_written_whole(void **state)
{
    struct fixture *f = *state;
    json_t *doc = json_pack("{s:i, s:[s, s]}", "n", 3, "names", "a,b", "c\"d");
    struct ilu_error err = {0};
    assert_int_equal(lg_write_json_file(f->ctx.out_dir, "extra.json", doc, &err), 0);
    assert_false(file_exists(f->ctx.out_dir, ".extra.json.tmp"));
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/extra.json", f->ctx.out_dir);
    json_error_t jerr;
    json_t *back = json_load_file(path, 0, &jerr);
    assert_non_null(back);
    assert_true(json_equal(back, doc));
    json_decref(back);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(header_is_the_documented_one, setup, teardown),
        cmocka_unit_test_setup_teardown(rows_read_back_field_by_field, setup, teardown),
        cmocka_unit_test_setup_teardown(error_text_is_quoted, setup, teardown),
        cmocka_unit_test_setup_teardown(summary_and_no_temporary_files, setup, teardown),
        cmocka_unit_test_setup_teardown(simulation_results_are_not_stamped, setup, teardown),
        cmocka_unit_test_setup_teardown(unwritable_folder_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(json_file_is_written_whole, setup, teardown),
    };
    return cmocka_run_group_tests_name("results_csv", tests, NULL, NULL);
}
