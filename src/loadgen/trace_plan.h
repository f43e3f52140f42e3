/* What a trace run registers and sends, decided once for live and simulated
 * runs alike: the parsed trace, and per trace function the image, memory,
 * arguments and (for the simulator) the times the function takes. */
#ifndef LG_TRACE_PLAN_H
#define LG_TRACE_PLAN_H

#include <jansson.h>
#include <limits.h>

#include "trace/trace.h"
#include "loadgen.h"

#define LG_TRACE_FN_VERSION "1"

struct lg_fn_plan {
    const char *name; /* borrowed from the trace */
    char image[PATH_MAX];
    uint32_t memory_mb;
    char *invoke_body;  /* the /invoke request body, owned */
    char *args_json;    /* its json_args, owned (in-process invocations) */
    unsigned report_fn; /* index in ctx->report */
    unsigned prewarms;  /* containers to prewarm: the metadata's prewarms column, else --prewarm */
    /* what the function costs, for the simulated backend */
    double start_ms; /* container start-up; 0: the simulation's default */
    double cold_exec_ms, warm_exec_ms;
};

struct lg_trace_plan {
    struct ilu_trace trace;
    struct lg_fn_plan *fns; /* one per trace function */
    json_t *inputs;         /* for summary.json */
};

/* Parse the files and plan every function. 0, or -1 with err naming the file
 * and line. inputs records the run's inputs. */
int lg_trace_plan_load(struct lg_ctx *ctx, const struct lg_trace_opts *o, struct lg_trace_plan *p,
                       struct ilu_error *err);
void lg_trace_plan_free(struct lg_trace_plan *p);

/* Add one record per trace row to ctx->report (scheduled times, tids).
 * 0, or -1 with err (out of memory). */
int lg_trace_plan_records(struct lg_ctx *ctx, struct lg_trace_plan *p, const char *tid_prefix, struct ilu_error *err);

/* The closing line on stderr: counts, throughput, latency and lateness. */
void lg_trace_print_summary(struct lg_ctx *ctx, json_t *summary);

/* --load-type functions: from a benchmark JSON (worker_function_benchmarks.json,
 * parsed), the function whose median warm time is closest to warm_ms; fills
 * pl's image, exec times and start-up and *chosen_name (borrowed from data).
 * -1 when no entry has an image_name and warm_results_sec. */
int lg_benchmark_match(json_t *data, double warm_ms, struct lg_fn_plan *pl, const char **chosen_name);
/* The function map of a benchmark JSON (borrowed from doc): doc itself (our
 * load generator's file), or the object under "data" when doc wraps it as
 * Ilúvatar's BenchmarkStore serialises it ({"data": {...}}). */
json_t *lg_benchmark_functions(json_t *doc);

#endif
