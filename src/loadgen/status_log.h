/* The workers' status over a run, live or simulated: DIR/status.csv (one row
 * per worker per sample, from the worker's /status fields, as Ilúvatar's
 * status logs) and the pool counters of the run for summary.json's "pool"
 * (evictions, keep-alive removals, containers started: the end's counts
 * minus the start's, summed over the workers). docs/load_gen.md. */
#ifndef LG_STATUS_LOG_H
#define LG_STATUS_LOG_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "loadgen.h"
#include "worker/worker.h"

/* summary.json's "pool", summed over the workers of one snapshot */
struct lg_pool_counts {
    uint64_t evictions, keepalive_removals, containers_started;
    unsigned workers; /* how many statuses were summed */
};

struct lg_status_log {
    struct lg_ctx *ctx;
    FILE *csv; /* DIR/.status.csv.tmp, from the first row */
    int failed;
    uint64_t rows;
    struct lg_pool_counts start, end;
};

/* An empty log writing into ctx's results folder. */
void lg_status_log_init(struct lg_status_log *l, struct lg_ctx *ctx);
/* One row: a worker's status at t_ms of the run (relative to its start);
 * cpu_util (the host's busy %) NAN when not known (simulations). */
void lg_status_log_sample(struct lg_status_log *l, double t_ms, const char *worker, const struct ilu_worker_status *st,
                          double cpu_util);
/* A live worker's GET /status object as a struct (a missing field is 0)
 * and its cpu_util (NAN when missing). */
void lg_status_of_json(json_t *status, struct ilu_worker_status *st, double *cpu_util);
/* Adds one worker's status to the counts of a snapshot. */
void lg_pool_counts_add(struct lg_pool_counts *c, const struct ilu_worker_status *st);
/* The run's summary.json gets "pool": the end's counts minus the start's,
 * the workers counted and the sampling period (through ctx->summary_extra). */
void lg_status_log_summary(const struct lg_status_log *l, unsigned every_ms);
/* DIR/status.csv renamed into place (an empty run still gets its header).
 * 0, or -1 with err. */
int lg_status_log_commit(struct lg_status_log *l, struct ilu_error *err);
/* Removes an uncommitted CSV. */
void lg_status_log_free(struct lg_status_log *l);

#endif
