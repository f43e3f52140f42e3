#include "status_log.h"

#include "core/decimal.h"

#include <math.h>
#include <string.h>

/* the columns after t_ms and worker: /status fields, in this order, then cpu_util */
#define FIELD(name)                                     \
    {                                                   \
#name, offsetof(struct ilu_worker_status, name) \
    }
static const struct {
    const char *name;
    size_t offset;
} FIELDS[] = {
    FIELD(cpu_queue_len),       FIELD(num_running_funcs), FIELD(cpus_in_use),    FIELD(cpu_limit),
    FIELD(used_mem_mb),         FIELD(total_mem_mb),      FIELD(num_containers), FIELD(idle_containers),
    FIELD(starting_containers), FIELD(invocations),       FIELD(errors),         FIELD(cold_starts),
    FIELD(warm_starts),         FIELD(prewarm_starts),    FIELD(evictions),      FIELD(keepalive_removals),
    FIELD(containers_started),
};
#undef FIELD
#define N_FIELDS (sizeof FIELDS / sizeof FIELDS[0])

static uint64_t *field_of(struct ilu_worker_status *s, size_t i)
{
    return (uint64_t *)((char *)s + FIELDS[i].offset);
}

void lg_status_log_init(struct lg_status_log *l, struct lg_ctx *ctx)
{
    *l = (struct lg_status_log){.ctx = ctx};
}

static int open_csv(struct lg_status_log *l)
{
    if (l->csv || l->failed)
        return l->failed ? -1 : 0;
    struct ilu_error e = {0};
    if (!(l->csv = lg_results_file_open(l->ctx, "status.csv", &e))) {
        l->failed = 1;
        return -1;
    }
    fputs("t_ms,worker", l->csv);
    for (size_t i = 0; i < N_FIELDS; i++)
        fprintf(l->csv, ",%s", FIELDS[i].name);
    fputs(",cpu_util\n", l->csv);
    return 0;
}

void lg_status_log_sample(struct lg_status_log *l, double t_ms, const char *worker, const struct ilu_worker_status *st,
                          double cpu_util)
{
    if (open_csv(l))
        return;
    /* names are the controller's (checked: no comma, quote or newline);
     * a row per worker per second of a simulated day: no printf per field */
    char row[64 * (N_FIELDS + 3) + 256], *o = row;
    o += snprintf(o, 96, "%.3f,", t_ms);
    size_t n = strnlen(worker, 200);
    memcpy(o, worker, n);
    o += n;
    struct ilu_worker_status copy = *st;
    for (size_t i = 0; i < N_FIELDS; i++) {
        *o++ = ',';
        o = ilu_put_u64(o, *field_of(&copy, i));
    }
    *o++ = ',';
    if (isfinite(cpu_util))
        o += snprintf(o, 32, "%.3f", cpu_util);
    *o++ = '\n';
    fwrite(row, 1, (size_t)(o - row), l->csv);
    l->rows++;
}

void lg_status_of_json(json_t *status, struct ilu_worker_status *st, double *cpu_util)
{
    *st = (struct ilu_worker_status){0};
    for (size_t i = 0; i < N_FIELDS; i++) {
        json_int_t v = json_integer_value(json_object_get(status, FIELDS[i].name));
        *field_of(st, i) = v > 0 ? (uint64_t)v : 0;
    }
    json_t *u = json_object_get(status, "cpu_util");
    *cpu_util = json_is_number(u) ? json_number_value(u) : NAN;
}

void lg_pool_counts_add(struct lg_pool_counts *c, const struct ilu_worker_status *st)
{
    c->evictions += st->evictions;
    c->keepalive_removals += st->keepalive_removals;
    c->containers_started += st->containers_started;
    c->workers++;
}

static json_int_t delta(uint64_t end, uint64_t start)
{
    /* a worker restarted during the run counts from 0 again: never negative */
    return end >= start ? (json_int_t)(end - start) : (json_int_t)end;
}

void lg_status_log_summary(const struct lg_status_log *l, unsigned every_ms)
{
    const struct lg_pool_counts *a = &l->start, *b = &l->end;
    if (!l->ctx->summary_extra)
        l->ctx->summary_extra = json_object();
    json_object_set_new(l->ctx->summary_extra, "pool",
                        json_pack("{s:I, s:I, s:I, s:i, s:i}", "evictions", delta(b->evictions, a->evictions),
                                  "keepalive_removals", delta(b->keepalive_removals, a->keepalive_removals),
                                  "containers_started", delta(b->containers_started, a->containers_started), "workers",
                                  (int)b->workers, "status_every_ms", (int)every_ms));
}

int lg_status_log_commit(struct lg_status_log *l, struct ilu_error *err)
{
    if (open_csv(l))
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot write %s/status.csv", l->ctx->out_dir);
    FILE *f = l->csv;
    l->csv = NULL;
    return lg_results_file_commit(l->ctx, "status.csv", f, err);
}

void lg_status_log_free(struct lg_status_log *l)
{
    if (l->csv)
        lg_results_file_discard(l->ctx, "status.csv", l->csv);
    l->csv = NULL;
}

unsigned lg_status_every_ms(const struct lg_trace_opts *o)
{
    return o->status_ms < 0 ? 0 : o->status_ms ? (unsigned)o->status_ms : 1000;
}
