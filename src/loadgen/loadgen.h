/* Shared by the load generator's modes: the run context, setup calls
 * against the target, progress display and the results folder. */
#ifndef LG_LOADGEN_H
#define LG_LOADGEN_H

#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "report/report.h"
#include "os/http_client.h"
#include "sim/sim_env.h"

struct event_base;

struct ilu_bg_writer;

struct lg_ctx {
    struct event_base *base;
    struct ilu_http_client *http;
    char host[256];
    uint16_t port;
    char out_dir[PATH_MAX];
    const char *target;      /* "worker" | "controller" */
    const char *setup;       /* "live" */
    char repo_dir[PATH_MAX]; /* where functions/ and scripts/ are */
    struct ilu_report report;
    struct ilu_bg_writer *csv; /* out_dir/.invocations.csv.tmp, opened by the report's first row */
    char csv_err[320];         /* why it could not be written */
    int csv_done;              /* renamed into place: summary.json may be rewritten, the rows not */
    uint64_t start_ns;         /* CLOCK_MONOTONIC at the run's t = 0 */
    int progress_tty;          /* stderr is a terminal: redraw one line */
    int quiet;
    int no_plots;           /* --no-plots: skip scripts/plot_results.py */
    char tid_prefix[24];    /* makes tids of this run unique */
    json_t *summary_extra;  /* owned, may be NULL: more top-level keys of summary.json (pool ...) */
    json_t *manifest_extra; /* owned, may be NULL: more top-level keys of run.json (functions ...) */
    int argc;               /* the command line, for the run's manifest (run.json) */
    char **argv;
};

/* A run against host:port writing into out_dir; finds the project folder
 * beside the binary. Returns 0. free releases the report. */
int lg_ctx_init(struct lg_ctx *ctx, const char *host, uint16_t port, const char *out_dir);
void lg_ctx_free(struct lg_ctx *ctx);

/* A results file written as the run goes: out_dir/.NAME.tmp (out_dir
 * created), then commit closes it and renames it to NAME, or discard closes
 * it (f may be NULL: already closed) and removes it. open: NULL with err;
 * commit: 0, or -1 with err. */
FILE *lg_results_file_open(struct lg_ctx *ctx, const char *name, struct ilu_error *err);
int lg_results_file_commit(struct lg_ctx *ctx, const char *name, FILE *f, struct ilu_error *err);
void lg_results_file_discard(struct lg_ctx *ctx, const char *name, FILE *f);

/* Milliseconds since ctx->start_ns. */
double lg_now_ms(const struct lg_ctx *ctx);
void lg_start_clock(struct lg_ctx *ctx);

/* Absolute path of a file or folder shipped with the project (functions/..,
 * scripts/..), resolved beside the binary; err when missing. */
int lg_repo_path(const struct lg_ctx *ctx, const char *rel, char *out, size_t n);

/* Setup calls; 0 on success, else -1 with err filled: a sentence, and as
 * status the target's HTTP error status (e.g. 409 when the name is taken),
 * 502 for an answer of success: false, 503 when nothing answered. */
int lg_check_target(struct lg_ctx *ctx, struct ilu_error *err);
/* lg_register's compute is ILU_COMPUTE_* bits sent as "compute"; 0: not
 * sent (the worker's default, CPU). */
int lg_register(struct lg_ctx *ctx, const char *name, const char *version, const char *image, uint32_t memory_mb,
                uint32_t cpus, uint32_t compute, struct ilu_error *err);
int lg_prewarm(struct lg_ctx *ctx, const char *name, const char *version, struct ilu_error *err);
int lg_clean(struct lg_ctx *ctx, struct ilu_error *err);

/* One progress line on stderr: redrawn in place on a terminal, else printed
 * at most every 10% so CI logs stay short. */
void lg_progress(struct lg_ctx *ctx, const char *what, uint64_t done, uint64_t total, uint64_t errors);
void lg_progress_end(struct lg_ctx *ctx);

/* Write invocations.csv and summary.json into ctx->out_dir (each through a
 * temporary file renamed into place), then the plots. inputs is borrowed.
 * Returns 0, or -1 with err when the results could not be written. */
int lg_write_results(struct lg_ctx *ctx, const char *mode, json_t *inputs, json_t **summary_out, struct ilu_error *err);

/* Write a JSON document to dir/name atomically. 0, or -1 with err. */
int lg_write_json_file(const char *dir, const char *name, json_t *doc, struct ilu_error *err);

/* Modes. Each returns the process exit code. */
struct lg_trace_opts {
    const char *input, *metadata, *load_type, *function_data;
    const char *synthetic_dir; /* NULL: functions/synthetic beside the program; else the
                                  path the workers see (another host's install) */
    unsigned prewarm;
    /* a trace function whose mapped warm time differs from the trace's by
     * more than this factor, either way, is warned about (0: the default,
     * LG_MAPPING_TOLERANCE); strict_mapping refuses such a run instead */
    double mapping_tolerance;
    int strict_mapping;
    int status_ms;       /* status.csv's period: 0 the default (1000 ms), < 0 none (snapshots only) */
    unsigned repeat;     /* --repeat N: the run N times into DIR/rep-1 .. rep-N (0, 1: once) */
    unsigned repetition; /* 1-based number of this repetition, 0 when not repeated */
    /* --setup simulation */
    const char *worker_config; /* NULL: built-in defaults */
    unsigned network_us;       /* client <-> worker round trip added to each invocation;
                                  with --target controller: controller <-> worker */
    /* --setup simulation --target controller */
    unsigned workers;              /* simulated workers behind the controller */
    unsigned gpu_workers;          /* with gpu_workers_set: only the first gpu_workers of them get the */
    int gpu_workers_set;           /* worker config's GPUs, the others none; unset: every one gets them */
    const char *controller_config; /* NULL: built-in defaults */
};
int lg_run_trace(struct lg_ctx *ctx, const struct lg_trace_opts *o);
/* o's status.csv period in ms (0: no periodic rows). */
unsigned lg_status_every_ms(const struct lg_trace_opts *o);
/* The same trace on the worker core in-process, on a discrete-event clock. */
int lg_run_trace_simulated(struct lg_ctx *ctx, const struct lg_trace_opts *o);
/* The same trace on a simulated cluster: the controller core routing to
 * o->workers worker cores, all in-process on one discrete-event clock. */
int lg_run_trace_cluster(struct lg_ctx *ctx, const struct lg_trace_opts *o);

/* ---- shared by the simulated runs (sim_trace.c) ---------------------------- */

struct lg_trace_plan;
struct ilu_backend;

/* An invocation in flight of a simulated run: the answer callback's
 * argument. Recycled, so memory follows the invocations in flight, not the
 * trace's length. */
struct lg_sim_sent {
    void *run;    /* the caller's run */
    uint64_t seq; /* its record in the report */
    struct lg_sim_sent *next_free, *next_all;
};

/* What every simulated run sets up alike: the clock, the worker config, the
 * log (warnings and errors to stderr), the planned trace and the
 * invocations in flight. */
struct lg_status_log;
struct lg_pool_counts;
/* One row of status.csv per simulated worker at t_ms of the run, each
 * worker's status added to counts (a snapshot) unless counts is NULL. */
typedef void (*lg_sim_sample_fn)(void *arg, struct lg_status_log *log, double t_ms, struct lg_pool_counts *counts);

struct lg_sim_world {
    struct lg_ctx *ctx;
    struct lg_trace_plan *plan;
    struct ilu_sim_env sim;
    struct ilu_worker_config cfg;                /* every simulated worker's */
    struct ilu_backend_configs *backend_configs; /* cfg's backend sections (oci ...), owned */
    struct ilu_log log;
    double default_start_ms;      /* simulation.container_start_ms: a function's start-up unless planned */
    struct timespec wall0, wall1; /* wall time of the run, for the speed line only */
    uint64_t stop_us;             /* simulated time when the last invocation finished */
    double *start_factors;        /* simulation.calibration_file's start-up factors, sorted; owned */
    size_t n_start_factors;
    struct lg_sim_sent *free_sent, *all_sent;
    size_t sent, done, errors;
    int failed; /* out of memory, or a bad trace row: err says */
    struct ilu_error err;
    /* status.csv and summary.json's pool, at simulated times (lg_sim_status_start) */
    struct lg_status_log *status;
    unsigned status_every_ms;
    uint64_t status_t0_us;
    lg_sim_sample_fn sample;
    void *sample_arg;
};

/* Start the clock, load the plan (p) and the worker config (recorded in
 * p->inputs). 0, or -1 with err; call lg_sim_world_destroy either way. */
int lg_sim_world_init(struct lg_ctx *ctx, const struct lg_trace_opts *o, struct lg_sim_world *w,
                      struct lg_trace_plan *p, struct ilu_error *err);
void lg_sim_world_destroy(struct lg_sim_world *w);
/* The start snapshot now (t0_us, the run's t = 0), then sample every
 * status_every_ms of simulated time while anything else is pending. 0, or
 * -1 when out of memory. lg_sim_world_stop takes the end snapshot. */
int lg_sim_status_start(struct lg_sim_world *w, uint64_t t0_us, lg_sim_sample_fn sample, void *arg);
/* A simulated backend with the planned timings of every trace function;
 * its jitter seed is the config's plus seed_offset. NULL when out of memory. */
struct ilu_backend *lg_sim_world_backend(struct lg_sim_world *w, const struct lg_trace_plan *p, uint64_t seed_offset);
/* The next trace row, if it arrives by now (its time after t0_us, plus
 * delay_us): its record (send_ms: its schedule), *sent its in-flight token
 * for run, *fn its trace function. NULL when the row arrives later (fn_due
 * (arg) is then scheduled for its arrival), at the end of the trace, or when
 * reading it failed or memory ran out (w->failed set, w->err says). */
struct ilu_inv_record *lg_sim_next_arrival(struct lg_sim_world *w, uint64_t t0_us, uint64_t delay_us,
                                           ilu_timer_fn fn_due, void *arg, void *run, struct lg_sim_sent **sent,
                                           uint32_t *fn);
/* rec (sent's) is answered: counted, made final in the report, sent recycled. */
void lg_sim_finish(struct lg_sim_world *w, struct lg_sim_sent *sent, const struct ilu_inv_record *rec);
/* Every row of the trace was sent and answered. */
int lg_sim_all_done(const struct lg_sim_world *w);
/* The progress line (done of the rows expected). */
void lg_sim_progress(struct lg_sim_world *w);
/* An invocation refused at once (queue full, no worker...): a failed record. */
void lg_sim_record_refused(struct ilu_inv_record *rec, double end_ms, const struct ilu_error *e);
/* The last invocation has finished: note the simulated and the wall time. */
void lg_sim_world_stop(struct lg_sim_world *w);
/* Write the results folder, print the summary and the speed line. t0_us:
 * the trace's simulated start. 0, or -1 with err. */
int lg_sim_world_report(struct lg_ctx *ctx, struct lg_sim_world *w, struct lg_trace_plan *p, uint64_t t0_us,
                        struct ilu_error *err);

struct lg_scaling_opts {
    unsigned threads_from, threads_to;
    double duration_s;
    const char *function_dir; /* default functions/hello */
    uint32_t memory_mb;
    const char *args_json; /* arguments sent with every invocation */
};
/* Closed-loop scaling: one step per client count; the exit code. */
int lg_run_scaling(struct lg_ctx *ctx, const struct lg_scaling_opts *o);

struct lg_benchmark_opts {
    const char *functions_dir; /* function folders, or: */
    const char *function_file; /* a CSV name,image_name (Ilúvatar's --function-file) */
    unsigned cold_iters, warm_iters;
    uint32_t memory_mb;
    int include_test_functions; /* --functions-dir: benchmark hello, sleep and synthetic too */
};
/* Cold and warm times of every function folder; the exit code. */
int lg_run_benchmark(struct lg_ctx *ctx, const struct lg_benchmark_opts *o);

#endif
