/* What a trace run registers and sends, decided once for live and simulated
 * runs alike: the parsed trace, and per trace function the image, memory,
 * arguments and (for the simulator) the times the function takes. */
#ifndef LG_TRACE_PLAN_H
#define LG_TRACE_PLAN_H

#include <jansson.h>
#include <limits.h>

#include "os/file.h"
#include "trace/trace.h"
#include "loadgen.h"

#define LG_TRACE_FN_VERSION "1"

/* --mapping-tolerance's default: a mapped warm time within half to twice
 * the trace's is not warned about */
#define LG_MAPPING_TOLERANCE 2.0

/* Where a trace function's code came from (mapping.csv's source column). */
enum lg_fn_source {
    LG_FN_SYNTHETIC, /* functions/synthetic, told the trace's cold and warm times */
    LG_FN_BENCHMARK, /* the benchmarked function closest in warm time (--function-data) */
    LG_FN_METADATA,  /* the metadata's image_name, with its args */
};

struct lg_fn_plan {
    const char *name; /* borrowed from the trace */
    char image[PATH_MAX];
    uint32_t memory_mb;
    char *invoke_body; /* the /invoke request body, owned */
    char *args_json;   /* its json_args, owned (in-process invocations) */
    size_t args_json_len;
    unsigned report_fn; /* index in ctx->report */
    unsigned prewarms;  /* containers to prewarm: the metadata's prewarms column, else --prewarm */
    /* what the function costs, for the simulated backend */
    double start_ms; /* container start-up; 0: the simulation's default */
    double cold_exec_ms, warm_exec_ms;
    /* on a GPU, from the benchmark's resource_data.GPU; 0: none (the CPU times) */
    double gpu_cold_exec_ms, gpu_warm_exec_ms;
    uint32_t compute; /* registered with: the metadata's compute column, else 0 (CPU) */
    /* the mapping, for mapping.csv and the warnings */
    enum lg_fn_source source;
    char function[128];    /* what runs: the benchmark entry's name, else the image's last path component */
    double mapped_warm_ms; /* its benchmarked warm time (synthetic: the trace's); NAN: never measured */
    double ratio;          /* mapped_warm_ms / the trace's warm_dur_ms; NAN when not measured */
    int distorted;         /* ratio beyond the tolerance, either way */
};

struct lg_trace_plan {
    struct ilu_trace trace; /* streamed: events holds the current piece of rows */
    struct lg_fn_plan *fns; /* one per trace function */
    json_t *inputs;         /* for summary.json */
    /* a streamed trace: read a piece at a time while it is run, so memory
     * does not grow with its length */
    struct lg_ctx *ctx;
    const struct lg_trace_opts *opts;
    int streaming, stream_eof, stream_failed;
    int stream_done; /* every row was taken (set by peek), or reading failed */
    struct ilu_line_reader reader;
    struct ilu_trace_csv csv;
    size_t cursor;  /* next row in trace.events */
    uint64_t taken; /* rows taken so far */
    uint64_t input_bytes;
};

/* Parse the metadata and plan every function; the trace too, whole, unless
 * stream (then lg_trace_plan_peek reads it a piece at a time). 0, or -1 with
 * err naming the file and line. inputs records the run's inputs. */
int lg_trace_plan_load(struct lg_ctx *ctx, const struct lg_trace_opts *o, struct lg_trace_plan *p, int stream,
                       struct ilu_error *err);
/* The next row not yet taken; NULL at the end of the trace, or when reading
 * it failed (stream_failed set, err filled: a bad row stops the run). At the
 * end, inputs gets the row count and the last time. */
const struct ilu_trace_event *lg_trace_plan_peek(struct lg_trace_plan *p, struct ilu_error *err);
/* Takes the peeked row; returns its 0-based row number. */
uint64_t lg_trace_plan_take(struct lg_trace_plan *p);
/* run.json's "functions": per trace function its image, memory, prewarms,
 * arguments, and the times it was planned to take (cold and warm, and for a
 * simulation the container start-up used: start_ms, else default_start_ms;
 * NAN for a live run, where start-ups are what they are). */
json_t *lg_trace_plan_functions_json(const struct lg_trace_plan *p, double default_start_ms);
/* mapping.csv into ctx->out_dir (through a temporary file renamed into
 * place): per trace function, in the metadata's order, the function and
 * arguments it runs, its trace and mapped warm times, their ratio, where
 * the mapping came from and whether it is beyond the tolerance. 0, or -1
 * with err. Called with the other results of a run that succeeded. */
int lg_trace_plan_write_mapping(struct lg_ctx *ctx, const struct lg_trace_plan *p, struct ilu_error *err);
/* Rows in the trace: exact once it was read, an estimate from the bytes
 * read while it is streamed (for progress lines). */
uint64_t lg_trace_plan_expected_rows(const struct lg_trace_plan *p);
void lg_trace_plan_free(struct lg_trace_plan *p);

/* The record of trace row `row` (0-based, event ev), added to ctx->report
 * when it is sent: scheduled time, tid "<tid_prefix>-<row>", its sequence
 * number in *seq. NULL when out of memory. */
struct ilu_inv_record *lg_trace_record(struct lg_ctx *ctx, const struct lg_trace_plan *p, const char *tid_prefix,
                                       uint64_t row, const struct ilu_trace_event *ev, uint64_t *seq);

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
