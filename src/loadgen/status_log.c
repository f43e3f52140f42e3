#include "status_log.h"

#include <math.h>
#include <string.h>

/* the columns after t_ms and worker: /status fields, in this order */
static const char *const FIELDS[] = {
    "cpu_queue_len",       "num_running_funcs", "cpus_in_use",    "cpu_limit",
    "used_mem_mb",         "total_mem_mb",      "num_containers", "idle_containers",
    "starting_containers", "invocations",       "errors",         "cold_starts",
    "warm_starts",         "prewarm_starts",    "evictions",      "keepalive_removals",
    "containers_started",  "cpu_util",
};

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
    for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++)
        fprintf(l->csv, ",%s", FIELDS[i]);
    fputc('\n', l->csv);
    return 0;
}

void lg_status_log_row(struct lg_status_log *l, double t_ms, const char *worker, json_t *status)
{
    if (open_csv(l))
        return;
    /* names are the controller's (checked: no comma, quote or newline) */
    fprintf(l->csv, "%.3f,%s", t_ms, worker);
    for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++) {
        json_t *v = json_object_get(status, FIELDS[i]);
        if (json_is_integer(v))
            fprintf(l->csv, ",%lld", (long long)json_integer_value(v));
        else if (json_is_real(v) && isfinite(json_real_value(v)))
            fprintf(l->csv, ",%.3f", json_real_value(v));
        else
            fputc(',', l->csv);
    }
    fputc('\n', l->csv);
    l->rows++;
}

static uint64_t count_of(json_t *status, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(status, key));
    return v > 0 ? (uint64_t)v : 0;
}

void lg_pool_counts_add(struct lg_pool_counts *c, json_t *status)
{
    if (!json_is_object(status))
        return;
    c->evictions += count_of(status, "evictions");
    c->keepalive_removals += count_of(status, "keepalive_removals");
    c->containers_started += count_of(status, "containers_started");
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
