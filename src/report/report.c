#include "report/report.h"

#include "core/decimal.h"

#include "worker/worker.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows are handed to the output in pieces of about this size. */
#define CSV_CHUNK (256 * 1024)

static void block_init(struct ilu_report_block *b)
{
    memset(b, 0, sizeof *b);
    b->first_send = INFINITY;
    b->last_end = -INFINITY;
    ilu_dist_init(&b->lat);
    ilu_dist_init(&b->over);
    ilu_dist_init(&b->late);
}

static void block_free(struct ilu_report_block *b)
{
    ilu_dist_free(&b->lat);
    ilu_dist_free(&b->over);
    ilu_dist_free(&b->late);
    json_decref(b->errors);
    b->errors = NULL;
}

void ilu_report_init(struct ilu_report *r)
{
    memset(r, 0, sizeof *r);
    block_init(&r->all);
}

void ilu_report_free(struct ilu_report *r)
{
    for (uint64_t s = r->base; s < r->next; s++)
        free(r->ring[s & (r->cap - 1)].error);
    for (size_t i = 0; i < r->n_fns; i++) {
        free(r->fn_names[i]);
        free(r->fn_versions[i]);
        block_free(&r->per_fn[i]);
    }
    for (size_t i = 0; i < r->n_steps; i++)
        block_free(&r->steps[i]);
    block_free(&r->all);
    free(r->ring);
    free(r->completed);
    free(r->fn_names);
    free(r->fn_versions);
    free(r->per_fn);
    free(r->steps);
    free(r->csv);
    memset(r, 0, sizeof *r);
    block_init(&r->all);
}

void ilu_report_set_output(struct ilu_report *r, ilu_write_fn out, void *ctx)
{
    r->out = out;
    r->out_ctx = ctx;
}

void ilu_report_on_final(struct ilu_report *r,
                         void (*fn)(void *ctx, const struct ilu_report *r, const struct ilu_inv_record *rec), void *ctx)
{
    r->on_final = fn;
    r->on_final_ctx = ctx;
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
    struct ilu_report_block *blocks = realloc(r->per_fn, (r->n_fns + 1) * sizeof *blocks);
    if (!blocks)
        return -1;
    r->per_fn = blocks;
    if (!(names[r->n_fns] = strdup(name)) || !(versions[r->n_fns] = strdup(version))) {
        free(names[r->n_fns]);
        return -1;
    }
    block_init(&blocks[r->n_fns]);
    return (long)r->n_fns++;
}

/* Twice the ring, records kept at seq % cap. */
static int grow_ring(struct ilu_report *r)
{
    size_t cap = r->cap ? r->cap * 2 : 1024;
    struct ilu_inv_record *ring = malloc(cap * sizeof *ring);
    unsigned char *completed = malloc(cap);
    if (!ring || !completed) {
        free(ring);
        free(completed);
        return -1;
    }
    for (uint64_t s = r->base; s < r->next; s++) {
        ring[s & (cap - 1)] = r->ring[s & (r->cap - 1)];
        completed[s & (cap - 1)] = r->completed[s & (r->cap - 1)];
    }
    free(r->ring);
    free(r->completed);
    r->ring = ring;
    r->completed = completed;
    r->cap = cap;
    return 0;
}

struct ilu_inv_record *ilu_report_add(struct ilu_report *r, unsigned fn, uint64_t *seq)
{
    if (r->next - r->base == r->cap && grow_ring(r))
        return NULL;
    uint64_t s = r->next++;
    struct ilu_inv_record *rec = &r->ring[s & (r->cap - 1)];
    r->completed[s & (r->cap - 1)] = 0;
    memset(rec, 0, sizeof *rec);
    rec->fn = fn;
    rec->scheduled_ms = NAN;
    rec->queue_ms = rec->container_start_ms = rec->exec_ms = rec->agent_rtt_ms = rec->overhead_ms =
        rec->worker_total_ms = NAN;
    rec->state = ILU_START_ERROR;
    rec->client = rec->step = rec->worker = -1;
    if (seq)
        *seq = s;
    return rec;
}

struct ilu_inv_record *ilu_report_get(struct ilu_report *r, uint64_t seq)
{
    return seq >= r->base && seq < r->next ? &r->ring[seq & (r->cap - 1)] : NULL;
}

uint64_t ilu_report_count(const struct ilu_report *r)
{
    return r->all.n;
}

uint64_t ilu_report_successes(const struct ilu_report *r)
{
    return r->all.ok;
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
    return n ? sorted[ilu_nearest_rank(n, p)] : NAN;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Milliseconds are kept to the microsecond: the CSV prints them with
 * put_ms and the summary rounds with round_ms, which agree exactly, so a
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

/* rec's values summed into b; extras: the run's own block, which also
 * has overheads, lateness and errors by kind. -1 when out of memory. */
static int block_add(struct ilu_report_block *b, const struct ilu_inv_record *rec, int extras)
{
    int rc = 0;
    b->n++;
    b->states[rec->state <= ILU_START_ERROR ? rec->state : ILU_START_ERROR]++;
    if (rec->send_ms < b->first_send)
        b->first_send = rec->send_ms;
    if (rec->end_ms > b->last_end)
        b->last_end = rec->end_ms;
    if (extras && !isnan(rec->scheduled_ms))
        rc |= ilu_dist_add(&b->late, rec->send_ms - rec->scheduled_ms);
    if (rec->success) {
        b->ok++;
        rc |= ilu_dist_add(&b->lat, rec->end_ms - rec->send_ms);
        if (extras && !isnan(rec->overhead_ms))
            rc |= ilu_dist_add(&b->over, rec->overhead_ms);
    } else if (extras) {
        const char *kind = rec->error_kind[0] ? rec->error_kind : "unknown";
        if (!b->errors && !(b->errors = json_object()))
            return -1;
        json_t *c = json_object_get(b->errors, kind);
        rc |= json_object_set_new(b->errors, kind, json_integer(c ? json_integer_value(c) + 1 : 1));
    }
    return rc;
}

static json_t *block_json(struct ilu_report_block *b, int extras)
{
    /* from the times as the CSV shows them, so the CSV reproduces it */
    double duration_s = b->n ? (round_ms(b->last_end) - round_ms(b->first_send)) / 1000.0 : 0;
    json_t *j = json_object();
    json_object_set_new(j, "invocations", json_integer((json_int_t)b->n));
    json_object_set_new(j, "successes", json_integer((json_int_t)b->ok));
    json_object_set_new(j, "failures", json_integer((json_int_t)(b->n - b->ok)));
    json_object_set_new(j, "duration_s", num6(duration_s));
    json_object_set_new(j, "throughput_per_s", num6(duration_s > 0 ? (double)b->ok / duration_s : NAN));
    json_object_set_new(j, "latency_ms", ilu_dist_json(&b->lat));
    json_object_set_new(j, "container_states",
                        json_pack("{s:I, s:I, s:I, s:I}", "cold", (json_int_t)b->states[ILU_START_COLD], "prewarm",
                                  (json_int_t)b->states[ILU_START_PREWARM], "warm",
                                  (json_int_t)b->states[ILU_START_WARM], "error",
                                  (json_int_t)b->states[ILU_START_ERROR]));
    if (extras) {
        json_object_set_new(j, "overhead_ms", ilu_dist_json(&b->over));
        json_object_set_new(j, "lateness_ms", ilu_dist_json(&b->late));
        json_object_set_new(j, "errors_by_kind", b->errors ? json_incref(b->errors) : json_object());
    }
    return j;
}

json_t *ilu_report_summary(struct ilu_report *r, const char *mode, const char *target, const char *setup,
                           json_t *inputs)
{
    json_t *s = json_object();
    json_object_set_new(s, "mode", json_string(mode));
    json_object_set_new(s, "target", json_string(target));
    json_object_set_new(s, "setup", json_string(setup));
    json_t *all = block_json(&r->all, 1);
    json_object_update(s, all);
    json_decref(all);
    json_t *per_fn = json_object();
    for (size_t f = 0; f < r->n_fns; f++) {
        char key[192];
        snprintf(key, sizeof key, "%s", r->fn_names[f]);
        if (json_object_get(per_fn, key)) /* same name, other version */
            snprintf(key, sizeof key, "%s-%s", r->fn_names[f], r->fn_versions[f]);
        json_object_set_new(per_fn, key, block_json(&r->per_fn[f], 0));
    }
    json_object_set_new(s, "per_function", per_fn);
    /* closed-loop scaling: one block per step, in order */
    if (r->n_steps) {
        json_t *steps = json_array();
        for (size_t st = 0; st < r->n_steps; st++) {
            json_t *b = ilu_report_step_summary(r, (int)st);
            if (b)
                json_array_append_new(steps, b);
        }
        json_object_set_new(s, "steps", steps);
    }
    if (inputs)
        json_object_set(s, "inputs", inputs);
    return s;
}

json_t *ilu_report_step_summary(struct ilu_report *r, int step)
{
    if (step < 0 || (size_t)step >= r->n_steps || !r->steps[step].n)
        return NULL;
    json_t *b = block_json(&r->steps[step], 0);
    json_object_set_new(b, "clients", json_integer(step));
    return b;
}

/* v with three decimals (to the microsecond), as round_ms rounds it, at o;
 * nothing for NAN (and infinities). Returns the end. Hand-made because it
 * runs 11 times per row of CSVs of millions of rows. */
static char *put_ms(char *o, double v)
{
    if (!isfinite(v))
        return o;
    long long q = llround(v * 1000.0);
    unsigned long long u = q < 0 ? 0ull - (unsigned long long)q : (unsigned long long)q;
    if (q < 0)
        *o++ = '-';
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                "8081828384858687888990919293949596979899";
    unsigned long long whole = u / 1000;
    unsigned frac = (unsigned)(u % 1000);
    char tmp[24];
    int len = 0;
    while (whole >= 100) { /* the integer part, backwards, two digits at a time */
        unsigned d = (unsigned)(whole % 100) * 2;
        whole /= 100;
        tmp[len++] = pairs[d + 1];
        tmp[len++] = pairs[d];
    }
    if (whole >= 10) {
        tmp[len++] = pairs[whole * 2 + 1];
        tmp[len++] = pairs[whole * 2];
    } else {
        tmp[len++] = (char)('0' + whole);
    }
    while (len)
        *o++ = tmp[--len];
    o[0] = '.';
    o[1] = (char)('0' + frac / 100);
    o[2] = pairs[(frac % 100) * 2];
    o[3] = pairs[(frac % 100) * 2 + 1];
    return o + 4;
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

static char *put_str(char *o, const char *s)
{
    size_t n = strlen(s);
    memcpy(o, s, n);
    return o + n;
}

/* Hands the buffered rows to the output; remembers its first error. */
static void csv_flush(struct ilu_report *r)
{
    if (r->csv_len && r->out && !r->out_rc)
        r->out_rc = r->out(r->out_ctx, r->csv, r->csv_len);
    r->csv_len = 0;
}

static int csv_reserve(struct ilu_report *r, size_t n)
{
    if (!r->csv && !(r->csv = malloc(CSV_CHUNK + 4096)))
        return -1;
    if (r->csv_len + n > CSV_CHUNK + 4096)
        csv_flush(r);
    return n <= CSV_CHUNK + 4096 ? 0 : -1;
}

static const char csv_header[] =
    "tid,function_name,function_version,scheduled_ms,send_ms,end_ms,lateness_ms,e2e_ms,container_state,"
    "queue_ms,container_start_ms,exec_ms,agent_rtt_ms,overhead_ms,worker_total_ms,success,http_status,"
    "error_kind,error,client,step,sandbox\n";

/* One row of invocations.csv (docs/load_gen.md), formatted by hand: it runs
 * once per invocation of runs of millions. */
static int csv_row(struct ilu_report *r, const struct ilu_inv_record *rec)
{
    if (!r->out)
        return 0;
    char err_text[600] = "";
    if (rec->error)
        csv_text(err_text, sizeof err_text, rec->error);
    const char *name = r->fn_names[rec->fn], *version = r->fn_versions[rec->fn];
    /* the fixed-size fields by their size: only the names are measured
     * twice (here and as they are copied) */
    size_t need =
        16 * 32 + sizeof rec->tid + strlen(name) + strlen(version) + sizeof rec->error_kind + sizeof err_text + 64;
    if (csv_reserve(r, need))
        return -1;
    char *o = r->csv + r->csv_len;
    o = put_str(o, rec->tid);
    *o++ = ',';
    o = put_str(o, name);
    *o++ = ',';
    o = put_str(o, version);
    *o++ = ',';
    o = put_ms(o, rec->scheduled_ms);
    *o++ = ',';
    o = put_ms(o, rec->send_ms);
    *o++ = ',';
    o = put_ms(o, rec->end_ms);
    *o++ = ',';
    o = put_ms(o, isnan(rec->scheduled_ms) ? NAN : rec->send_ms - rec->scheduled_ms);
    *o++ = ',';
    o = put_ms(o, rec->end_ms - rec->send_ms);
    *o++ = ',';
    o = put_str(o, ilu_start_kind_name(rec->state));
    const double timings[] = {rec->queue_ms,     rec->container_start_ms, rec->exec_ms,
                              rec->agent_rtt_ms, rec->overhead_ms,        rec->worker_total_ms};
    for (size_t i = 0; i < sizeof timings / sizeof timings[0]; i++) {
        *o++ = ',';
        o = put_ms(o, timings[i]);
    }
    *o++ = ',';
    o = ilu_put_i64(o, rec->success);
    *o++ = ',';
    o = ilu_put_i64(o, rec->http_status);
    *o++ = ',';
    o = put_str(o, rec->error_kind);
    *o++ = ',';
    o = put_str(o, err_text);
    *o++ = ',';
    if (rec->client >= 0)
        o = ilu_put_i64(o, rec->client);
    *o++ = ',';
    if (rec->step >= 0)
        o = ilu_put_i64(o, rec->step);
    *o++ = ',';
    o = put_str(o, ilu_sandbox_kind_name(rec->sandbox));
    *o++ = '\n';
    r->csv_len = (size_t)(o - r->csv);
    return 0;
}

static int write_header(struct ilu_report *r)
{
    r->header_done = 1;
    if (!r->out)
        return 0;
    if (csv_reserve(r, sizeof csv_header))
        return -1;
    memcpy(r->csv + r->csv_len, csv_header, sizeof csv_header - 1);
    r->csv_len += sizeof csv_header - 1;
    return 0;
}

static struct ilu_report_block *step_block(struct ilu_report *r, int step)
{
    if ((size_t)step >= r->n_steps) {
        struct ilu_report_block *steps = realloc(r->steps, ((size_t)step + 1) * sizeof *steps);
        if (!steps)
            return NULL;
        r->steps = steps;
        while (r->n_steps <= (size_t)step)
            block_init(&r->steps[r->n_steps++]);
    }
    return &r->steps[step];
}

/* The oldest record becomes final: summed, written, its memory released. */
static int finalise_oldest(struct ilu_report *r)
{
    struct ilu_inv_record *rec = &r->ring[r->base & (r->cap - 1)];
    int rc = r->header_done ? 0 : write_header(r);
    rc |= block_add(&r->all, rec, 1);
    rc |= block_add(&r->per_fn[rec->fn], rec, 0);
    if (rec->step >= 0) {
        struct ilu_report_block *b = step_block(r, rec->step);
        rc |= b ? block_add(b, rec, 0) : -1;
    }
    rc |= csv_row(r, rec);
    if (r->on_final)
        r->on_final(r->on_final_ctx, r, rec);
    free(rec->error);
    rec->error = NULL;
    r->base++;
    return rc;
}

int ilu_report_complete(struct ilu_report *r, uint64_t seq)
{
    int rc = 0;
    if (seq >= r->base && seq < r->next)
        r->completed[seq & (r->cap - 1)] = 1;
    while (r->base < r->next && r->completed[r->base & (r->cap - 1)])
        rc |= finalise_oldest(r);
    if (r->csv_len >= CSV_CHUNK)
        csv_flush(r);
    return rc ? rc : r->out_rc;
}

int ilu_report_finish(struct ilu_report *r)
{
    int rc = r->header_done ? 0 : write_header(r);
    while (r->base < r->next)
        rc |= finalise_oldest(r);
    csv_flush(r);
    return rc ? rc : r->out_rc;
}
