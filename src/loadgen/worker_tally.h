/* Which worker answered each invocation of a run through a controller, live
 * or simulated: DIR/workers.csv (tid,function_name,worker, a row as each
 * record becomes final) and the per-worker counts of summary.json's
 * inputs.per_worker (docs/load_gen.md). Workers are known by the name the
 * controller's answer gives ("worker"). */
#ifndef LG_WORKER_TALLY_H
#define LG_WORKER_TALLY_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "loadgen.h"

struct lg_worker_count {
    char *name;
    uint64_t invocations, cold, prewarm, warm, errors;
};

struct lg_worker_tally {
    struct lg_ctx *ctx;
    struct lg_worker_count *workers;
    size_t n, cap;
    FILE *csv; /* DIR/.workers.csv.tmp once the first record is final */
    int csv_failed, oom;
};

/* An empty tally writing into ctx's results folder; registers the CSV's
 * row writer with ctx's report (call before the first record is added). */
void lg_worker_tally_init(struct lg_worker_tally *t, struct lg_ctx *ctx);
/* The index of the worker called name (added if new), -1 for NULL or when
 * out of memory (the run then fails at commit). */
int lg_worker_tally_index(struct lg_worker_tally *t, const char *name);
/* rec was answered: rec->worker from the answer's "worker", counted. */
void lg_worker_tally_answer(struct lg_worker_tally *t, struct ilu_inv_record *rec, json_t *answer);
/* inputs.per_worker = {name: {invocations, cold, prewarm, warm, errors}}. */
void lg_worker_tally_summary(const struct lg_worker_tally *t, json_t *inputs);
/* DIR/workers.csv renamed into place, after the report is finished (its
 * last rows are written as the records become final). 0, or -1 with err. */
int lg_worker_tally_commit(struct lg_worker_tally *t, struct ilu_error *err);
/* Frees the names; removes an uncommitted CSV. */
void lg_worker_tally_free(struct lg_worker_tally *t);

#endif
