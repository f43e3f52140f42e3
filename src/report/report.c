#include "report/report.h"

#include "worker/worker.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ilu_report_init(struct ilu_report *r)
{
    memset(r, 0, sizeof *r);
}

void ilu_report_free(struct ilu_report *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->recs[i].error);
    for (size_t i = 0; i < r->n_fns; i++) {
        free(r->fn_names[i]);
        free(r->fn_versions[i]);
    }
    free(r->recs);
    free(r->fn_names);
    free(r->fn_versions);
    memset(r, 0, sizeof *r);
}

long ilu_report_function(struct ilu_report *r, const char *name, const char *version)
{
    for (size_t i = 0; i < r->n_fns; i++)
        if (!strcmp(r->fn_names[i], name) && !strcmp(r->fn_versions[i], version))
            return (long)i;
    char **names = realloc(r->fn_names, (r->n_fns + 1) * sizeof *names);
    if (!names)
        return -1;
    r->fn_names = names;
    char **versions = realloc(r->fn_versions, (r->n_fns + 1) * sizeof *versions);
    if (!versions)
        return -1;
    r->fn_versions = versions;
    if (!(names[r->n_fns] = strdup(name)) || !(versions[r->n_fns] = strdup(version))) {
        free(names[r->n_fns]);
        return -1;
    }
    return (long)r->n_fns++;
}

struct ilu_inv_record *ilu_report_add(struct ilu_report *r, unsigned fn)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        struct ilu_inv_record *recs = realloc(r->recs, cap * sizeof *recs);
        if (!recs)
            return NULL;
        r->recs = recs;
        r->cap = cap;
    }
    struct ilu_inv_record *rec = &r->recs[r->n++];
    memset(rec, 0, sizeof *rec);
    rec->fn = fn;
    rec->scheduled_ms = NAN;
    rec->queue_ms = rec->container_start_ms = rec->exec_ms = rec->agent_rtt_ms = rec->overhead_ms =
        rec->worker_total_ms = NAN;
    rec->state = ILU_START_ERROR;
    rec->client = rec->step = -1;
    return rec;
}

static enum ilu_start_kind state_from_name(const char *s)
{
    if (!s)
        return ILU_START_ERROR;
    if (!strcmp(s, "cold"))
        return ILU_START_COLD;
    if (!strcmp(s, "prewarm"))
        return ILU_START_PREWARM;
    if (!strcmp(s, "warm"))
        return ILU_START_WARM;
    return ILU_START_ERROR;
}

void ilu_report_fill_from_answer(struct ilu_inv_record *rec, int http_status, json_t *answer)
{
    rec->http_status = http_status;
    json_t *timings = json_object_get(answer, "timings");
    static const struct {
        const char *key;
        size_t offset;
    } t[] = {
        {"queue_us", offsetof(struct ilu_inv_record, queue_ms)},
        {"container_start_us", offsetof(struct ilu_inv_record, container_start_ms)},
        {"exec_us", offsetof(struct ilu_inv_record, exec_ms)},
        {"agent_round_trip_us", offsetof(struct ilu_inv_record, agent_rtt_ms)},
        {"overhead_us", offsetof(struct ilu_inv_record, overhead_ms)},
        {"total_us", offsetof(struct ilu_inv_record, worker_total_ms)},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        json_t *v = json_object_get(timings, t[i].key);
        *(double *)((char *)rec + t[i].offset) = json_is_number(v) ? json_number_value(v) / 1000.0 : NAN;
    }
    rec->state = state_from_name(json_string_value(json_object_get(answer, "container_state")));
    const char *sandbox = json_string_value(json_object_get(timings, "sandbox"));
    rec->sandbox = !sandbox                     ? ILU_SANDBOX_NONE
                   : !strcmp(sandbox, "pooled") ? ILU_SANDBOX_POOLED
                   : !strcmp(sandbox, "fresh")  ? ILU_SANDBOX_FRESH
                                                : ILU_SANDBOX_NONE;
    rec->success = http_status == 200 && json_is_true(json_object_get(answer, "success"));
    if (!rec->success) {
        const char *kind = json_string_value(json_object_get(answer, "error_kind"));
        const char *msg = json_string_value(json_object_get(answer, "error"));
        snprintf(rec->error_kind, sizeof rec->error_kind, "%s",
                 kind          ? kind
                 : http_status ? ilu_status_kind(http_status)
                               : "connection");
        free(rec->error);
        rec->error = strdup(msg ? msg : "no error message in the answer");
    }
}

void ilu_report_fill_from_invocation(struct ilu_inv_record *rec, const struct ilu_invocation *inv)
{
    struct ilu_inv_timings t;
    ilu_invocation_timings(inv, &t);
    rec->http_status = ilu_invocation_http_status(inv);
    rec->queue_ms = (double)t.queue_us / 1000.0;
    rec->container_start_ms = (double)t.container_start_us / 1000.0;
    rec->exec_ms = (double)t.exec_us / 1000.0;
    rec->agent_rtt_ms = (double)t.agent_round_trip_us / 1000.0;
    rec->overhead_ms = (double)t.overhead_us / 1000.0;
    rec->worker_total_ms = (double)t.total_us / 1000.0;
    rec->state = inv->start_kind;
    rec->sandbox = t.sandbox;
    rec->success = inv->success;
    if (!inv->success) {
        snprintf(rec->error_kind, sizeof rec->error_kind, "%s", inv->err.kind);
        free(rec->error);
        rec->error = strdup(inv->err.msg);
    }
}

double ilu_percentile_sorted(const double *sorted, size_t n, double p)
{
    if (!n)
        return NAN;
    double rank = ceil(p / 100.0 * (double)n);
    size_t i = rank < 1 ? 0 : (size_t)rank - 1;
    return sorted[i < n ? i : n - 1];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Milliseconds are kept to the microsecond: the CSV prints them with
 * fmt_ms and the summary rounds with round_ms, which agree exactly, so a
 * value recomputed from the CSV equals the summary's. */
static double round_ms(double v)
{
    return (double)llround(v * 1000.0) / 1000.0;
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(round_ms(v)) : json_null();
}

static json_t *num6(double v)
{
    return isfinite(v) ? json_real((double)llround(v * 1e6) / 1e6) : json_null();
}

json_t *ilu_distribution_json(double *values, size_t n)
{
    if (n)
        qsort(values, n, sizeof *values, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += values[i];
    json_t *d = json_object();
    json_object_set_new(d, "count", json_integer((json_int_t)n));
    json_object_set_new(d, "p50", num(ilu_percentile_sorted(values, n, 50)));
    json_object_set_new(d, "p90", num(ilu_percentile_sorted(values, n, 90)));
    json_object_set_new(d, "p99", num(ilu_percentile_sorted(values, n, 99)));
    json_object_set_new(d, "max", num(n ? values[n - 1] : NAN));
    json_object_set_new(d, "mean", num(n ? sum / (double)n : NAN));
    return d;
}

/* One summary block over the records idx[0..count) (all records when idx is
 * NULL). */
static json_t *block(const struct ilu_report *r, const size_t *idx, size_t count, int with_extras)
{
    size_t n = 0, ok = 0;
    ilu_cleanup_free double *lat = malloc((count + 1) * sizeof *lat);
    ilu_cleanup_free double *over = malloc((count + 1) * sizeof *over);
    ilu_cleanup_free double *late = malloc((count + 1) * sizeof *late);
    size_t n_over = 0, n_late = 0;
    uint64_t states[4] = {0};
    double first_send = INFINITY, last_end = -INFINITY;
    json_t *errors = json_object();
    for (size_t k = 0; lat && over && late && k < count; k++) {
        const struct ilu_inv_record *rec = &r->recs[idx ? idx[k] : k];
        n++;
        states[rec->state <= ILU_START_ERROR ? rec->state : ILU_START_ERROR]++;
        if (rec->send_ms < first_send)
            first_send = rec->send_ms;
        if (rec->end_ms > last_end)
            last_end = rec->end_ms;
        if (!isnan(rec->scheduled_ms))
            late[n_late++] = rec->send_ms - rec->scheduled_ms;
        if (rec->success) {
            lat[ok++] = rec->end_ms - rec->send_ms;
            if (!isnan(rec->overhead_ms))
                over[n_over++] = rec->overhead_ms;
        } else {
            const char *kind = rec->error_kind[0] ? rec->error_kind : "unknown";
            json_t *c = json_object_get(errors, kind);
            json_object_set_new(errors, kind, json_integer(c ? json_integer_value(c) + 1 : 1));
        }
    }
    /* from the times as the CSV shows them, so the CSV reproduces it */
    double duration_s = n ? (round_ms(last_end) - round_ms(first_send)) / 1000.0 : 0;
    json_t *b = json_object();
    json_object_set_new(b, "invocations", json_integer((json_int_t)n));
    json_object_set_new(b, "successes", json_integer((json_int_t)ok));
    json_object_set_new(b, "failures", json_integer((json_int_t)(n - ok)));
    json_object_set_new(b, "duration_s", num6(duration_s));
    json_object_set_new(b, "throughput_per_s", num6(duration_s > 0 ? (double)ok / duration_s : NAN));
    json_object_set_new(b, "latency_ms", ilu_distribution_json(lat, ok));
    json_object_set_new(b, "container_states",
                        json_pack("{s:I, s:I, s:I, s:I}", "cold", (json_int_t)states[ILU_START_COLD], "prewarm",
                                  (json_int_t)states[ILU_START_PREWARM], "warm", (json_int_t)states[ILU_START_WARM],
                                  "error", (json_int_t)states[ILU_START_ERROR]));
    if (with_extras) {
        json_object_set_new(b, "overhead_ms", ilu_distribution_json(over, n_over));
        json_object_set_new(b, "lateness_ms", ilu_distribution_json(late, n_late));
        json_object_set_new(b, "errors_by_kind", errors);
    } else {
        json_decref(errors);
    }
    return b;
}

json_t *ilu_report_summary(const struct ilu_report *r, const char *mode, const char *target, const char *setup,
                           json_t *inputs)
{
    json_t *s = json_object();
    json_object_set_new(s, "mode", json_string(mode));
    json_object_set_new(s, "target", json_string(target));
    json_object_set_new(s, "setup", json_string(setup));
    json_t *all = block(r, NULL, r->n, 1);
    json_object_update(s, all);
    json_decref(all);
    /* group record indices by function, then by step, in one pass each
     * (counting sort), so per-group blocks cost O(n) in all */
    ilu_cleanup_free size_t *idx = malloc((r->n + 1) * sizeof *idx);
    ilu_cleanup_free size_t *start = calloc(r->n_fns + 2, sizeof *start);
    json_t *per_fn = json_object();
    if (idx && start) {
        for (size_t i = 0; i < r->n; i++)
            start[r->recs[i].fn + 1]++;
        for (size_t f = 0; f < r->n_fns; f++)
            start[f + 1] += start[f];
        ilu_cleanup_free size_t *fill = calloc(r->n_fns + 1, sizeof *fill);
        for (size_t i = 0; fill && i < r->n; i++)
            idx[start[r->recs[i].fn] + fill[r->recs[i].fn]++] = i;
        for (size_t f = 0; f < r->n_fns; f++) {
            char key[192];
            snprintf(key, sizeof key, "%s", r->fn_names[f]);
            if (json_object_get(per_fn, key)) /* same name, other version */
                snprintf(key, sizeof key, "%s-%s", r->fn_names[f], r->fn_versions[f]);
            json_object_set_new(per_fn, key, block(r, idx + start[f], start[f + 1] - start[f], 0));
        }
    }
    json_object_set_new(s, "per_function", per_fn);
    /* closed-loop scaling: one block per step, in order */
    int max_step = -1;
    for (size_t i = 0; i < r->n; i++)
        if (r->recs[i].step > max_step)
            max_step = r->recs[i].step;
    if (max_step >= 0 && idx) {
        json_t *steps = json_array();
        for (int st = 0; st <= max_step; st++) {
            size_t count = 0;
            for (size_t i = 0; i < r->n; i++)
                if (r->recs[i].step == st)
                    idx[count++] = i;
            if (!count)
                continue;
            json_t *b = block(r, idx, count, 0);
            json_object_set_new(b, "clients", json_integer(st));
            json_array_append_new(steps, b);
        }
        json_object_set_new(s, "steps", steps);
    }
    if (inputs)
        json_object_set(s, "inputs", inputs);
    return s;
}

/* v with three decimals (to the microsecond), as round_ms rounds it; empty
 * for NAN. Hand-made because it runs 11 times per row of million-row CSVs. */
static void fmt_ms(char *buf, size_t n, double v)
{
    if (isnan(v) || n < 32) {
        buf[0] = 0;
        return;
    }
    long long q = llround(v * 1000.0);
    char tmp[32];
    int neg = q < 0, len = 0;
    unsigned long long u = neg ? (unsigned long long)(-q) : (unsigned long long)q;
    do { /* digits backwards, with the point after three */
        if (len == 3)
            tmp[len++] = '.';
        tmp[len++] = (char)('0' + u % 10);
        u /= 10;
    } while (u || len < 5);
    int o = 0;
    if (neg)
        buf[o++] = '-';
    while (len)
        buf[o++] = tmp[--len];
    buf[o] = 0;
}

/* CSV field: quoted when it holds a comma, quote or newline. */
static void csv_text(char *buf, size_t n, const char *s)
{
    if (!s) {
        buf[0] = 0;
        return;
    }
    if (!strpbrk(s, ",\"\n\r")) {
        snprintf(buf, n, "%s", s);
        return;
    }
    size_t o = 0;
    if (o < n - 1)
        buf[o++] = '"';
    for (; *s && o + 3 < n; s++) {
        if (*s == '"')
            buf[o++] = '"';
        buf[o++] = (*s == '\n' || *s == '\r') ? ' ' : *s;
    }
    buf[o++] = '"';
    buf[o] = 0;
}

int ilu_report_write_csv(const struct ilu_report *r, ilu_write_fn out, void *ctx)
{
    static const char header[] =
        "tid,function_name,function_version,scheduled_ms,send_ms,end_ms,lateness_ms,e2e_ms,container_state,"
        "queue_ms,container_start_ms,exec_ms,agent_rtt_ms,overhead_ms,worker_total_ms,success,http_status,"
        "error_kind,error,client,step,sandbox\n";
    int rc = out(ctx, header, sizeof header - 1);
    for (size_t i = 0; !rc && i < r->n; i++) {
        const struct ilu_inv_record *rec = &r->recs[i];
        char v[12][32], err_text[600], client[16] = "", step[16] = "";
        fmt_ms(v[0], 32, rec->scheduled_ms);
        fmt_ms(v[1], 32, rec->send_ms);
        fmt_ms(v[2], 32, rec->end_ms);
        fmt_ms(v[3], 32, isnan(rec->scheduled_ms) ? NAN : rec->send_ms - rec->scheduled_ms);
        fmt_ms(v[4], 32, rec->end_ms - rec->send_ms);
        fmt_ms(v[5], 32, rec->queue_ms);
        fmt_ms(v[6], 32, rec->container_start_ms);
        fmt_ms(v[7], 32, rec->exec_ms);
        fmt_ms(v[8], 32, rec->agent_rtt_ms);
        fmt_ms(v[9], 32, rec->overhead_ms);
        fmt_ms(v[10], 32, rec->worker_total_ms);
        csv_text(err_text, sizeof err_text, rec->error);
        if (rec->client >= 0)
            snprintf(client, sizeof client, "%d", rec->client);
        if (rec->step >= 0)
            snprintf(step, sizeof step, "%d", rec->step);
        char line[1400];
        int len =
            snprintf(line, sizeof line, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%d,%d,%s,%s,%s,%s,%s\n", rec->tid,
                     r->fn_names[rec->fn], r->fn_versions[rec->fn], v[0], v[1], v[2], v[3], v[4],
                     ilu_start_kind_name(rec->state), v[5], v[6], v[7], v[8], v[9], v[10], rec->success,
                     rec->http_status, rec->error_kind, err_text, client, step, ilu_sandbox_kind_name(rec->sandbox));
        rc = out(ctx, line, (size_t)(len < (int)sizeof line ? len : (int)sizeof line - 1));
    }
    return rc;
}
