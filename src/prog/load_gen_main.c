/* iluvatar_load_gen: load generation against a live worker or controller
 * (trace, scaling, benchmark) or a simulated one (trace), each run writing a
 * results folder. */
#include <event2/event.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg_schema.h"
#include "loadgen/loadgen.h"
#include "loadgen/out_dir.h"
#include "report/repeat.h"
#include "os/version.h"
#include "prog/cmdline.h"

extern char **environ;

/* ---- options: one table; each mode names the ones it takes ---------------- */

enum lg_opt_id {
    /* global: before or after the mode name */
    O_HOST,
    O_PORT,
    O_OUT,
    O_TARGET,
    O_SETUP,
    O_QUIET,
    O_NO_PLOTS,
    O_TOKEN,
    O_FORCE,
    O_VERSION,
    O_HELP,
    /* trace */
    O_INPUT,
    O_METADATA,
    O_PREWARM,
    O_LOAD_TYPE,
    O_FUNCTION_DATA,
    O_MAPPING_TOLERANCE,
    O_STRICT_MAPPING,
    O_SYNTHETIC_DIR,
    O_STATUS_MS,
    O_REPEAT,
    O_WORKER_CONFIG,
    O_SIM_NETWORK_US,
    O_WORKERS,
    O_GPU_WORKERS,
    O_CONTROLLER_CONFIG,
    /* scaling */
    O_THREADS_FROM,
    O_THREADS_TO,
    O_DURATION,
    O_FUNCTION_DIR,
    O_ARGS_JSON,
    /* benchmark */
    O_FUNCTIONS_DIR,
    O_FUNCTION_FILE,
    O_COLD_ITERS,
    O_WARM_ITERS,
    O_INCLUDE_TEST_FUNCTIONS,
    /* scaling and benchmark */
    O_MEMORY,
    N_OPTS
};

static const struct ilu_cmdline_opt OPTS[N_OPTS] = {
    [O_HOST] = {"host", 'H', "H", "target address (default 127.0.0.1)"},
    [O_PORT] = {"port", 'p', "P", "target port (default 8079; 8078 for a controller)"},
    [O_OUT] = {"out", 'o', "DIR", "results folder, missing or empty unless --force (default results/MODE)"},
    [O_TARGET] = {"target", 't', "worker|controller", "what the load goes to (default worker)"},
    [O_SETUP] = {"setup", 's', "live|simulation", "a live target, or one simulated in-process (default live)"},
    [O_QUIET] = {"quiet", 'q', NULL, "no progress lines"},
    [O_NO_PLOTS] = {"no-plots", 0, NULL, "skip scripts/plot_results.py"},
    [O_TOKEN] = {"token", 0, "T", "a controller's auth.client_token (default $ILUVATAR_TOKEN)"},
    [O_FORCE] = {"force", 0, NULL,
                 "empty the results folder first (never /, $HOME, the current folder or a parent of them)"},
    [O_VERSION] = {"version", 0, NULL, "print the version and the commit this program was built from"},
    [O_HELP] = {"help", 'h', NULL, "this text; after MODE, that mode's options"},
    [O_INPUT] = {"input", 'i', "trace.csv", "the trace (func_name,invoke_time_ms); required"},
    [O_METADATA] = {"metadata", 'm', "meta.csv", "one row per trace function; required"},
    [O_PREWARM] = {"prewarm", 0, "N", "containers started per function before the clock starts"},
    [O_LOAD_TYPE] = {"load-type", 'l', "synthetic|functions",
                     "what the functions run (default synthetic; functions with --function-data)"},
    [O_FUNCTION_DATA] = {"function-data", 'f', "FILE",
                         "a benchmark's worker_function_benchmarks.json; implies --load-type functions"},
    [O_MAPPING_TOLERANCE] = {"mapping-tolerance", 0, "F",
                             "warn about a trace function whose mapped warm time is more than F times (either way) "
                             "the trace's (default 2; >= 1); mapping.csv lists them all"},
    [O_STRICT_MAPPING] = {"strict-mapping", 0, NULL,
                          "refuse the run (nothing sent, nothing written) when a mapping is beyond "
                          "--mapping-tolerance"},
    [O_REPEAT] = {"repeat", 0, "N",
                  "run the trace N times (1-1000) into DIR/rep-1 .. rep-N; DIR/summary.json has each figure's median "
                  "and 95% CI (live: idle containers cleaned before each; simulated: seed + k - 1)"},
    [O_STATUS_MS] = {"status-ms", 0, "MS",
                     "status.csv: the workers' status every MS ms of the run (default 1000; 0: only at its start "
                     "and end)"},
    [O_SYNTHETIC_DIR] = {"synthetic-dir", 0, "DIR",
                         "--load-type synthetic: the synthetic function's folder as the workers see it (default "
                         "functions/synthetic beside this program)"},
    [O_WORKER_CONFIG] = {"worker-config", 0, "worker.json", "--setup simulation: the simulated worker's config"},
    [O_SIM_NETWORK_US] = {"sim-network-us", 0, "US",
                          "--setup simulation: client <-> worker round trip (default 300); with --target "
                          "controller, controller <-> worker"},
    [O_WORKERS] = {"workers", 0, "N",
                   "--setup simulation --target controller: N simulated workers (1-1024) behind the controller "
                   "core; required there"},
    [O_GPU_WORKERS] = {"gpu-workers", 0, "K",
                       "--setup simulation --target controller: only the first K workers get the worker config's "
                       "GPUs (container_resources.gpu_resource), the others none (default: every worker)"},
    [O_CONTROLLER_CONFIG] = {"controller-config", 0, "c.json",
                             "--setup simulation --target controller: the controller's config"},
    [O_THREADS_FROM] = {"threads-from", 0, "A", "clients of the first step; required"},
    [O_THREADS_TO] = {"threads-to", 0, "B", "clients of the last step; required"},
    [O_DURATION] = {"duration", 0, "SEC", "length of each step (default 10)"},
    [O_FUNCTION_DIR] = {"function-dir", 0, "DIR", "the function folder (default functions/hello)"},
    [O_ARGS_JSON] = {"args-json", 0, "'{...}'", "arguments sent with every invocation"},
    [O_FUNCTIONS_DIR] = {"functions-dir", 0, "DIR", "a folder of function folders (each with main.py)"},
    [O_FUNCTION_FILE] = {"function-file", 0, "CSV",
                         "instead: a CSV with columns name,image_name (a folder or an OCI image), Ilúvatar's"},
    [O_COLD_ITERS] = {"cold-iters", 0, "N", "cold iterations per function (default 3)"},
    [O_WARM_ITERS] = {"warm-iters", 0, "N", "warm invocations per cold one (default 10)"},
    [O_INCLUDE_TEST_FUNCTIONS] = {"include-test-functions", 0, NULL,
                                  "--functions-dir: benchmark the platform's test functions too (hello, sleep, "
                                  "synthetic; skipped by default)"},
    [O_MEMORY] = {"memory", 0, "MB", "memory of each function (default 128 for scaling, 256 for benchmark)"},
};

#define BIT(id)     ILU_CMDLINE_BIT(id)
#define GLOBAL_OPTS (BIT(O_HELP + 1) - 1) /* O_HOST..O_HELP */

/* What the command line said: per option its last value ("" for a flag). */
struct lg_cmdline {
    const char *val[N_OPTS];
    const char *mode_name;
    const char *target, *setup;
};

/* Every mode's settings; a mode's parse fills its own. */
struct lg_mode_opts {
    struct lg_trace_opts trace;
    struct lg_scaling_opts scaling;
    struct lg_benchmark_opts bench;
    int sim_cluster; /* --setup simulation --target controller */
};

struct lg_mode {
    const char *name;
    const char *summary; /* one line */
    uint64_t opts;       /* BIT(id) of every option it takes beyond the global ones */
    int simulated;       /* takes --setup simulation */
    const char *notes;   /* more help lines, or NULL */
    /* The options into o: 0, or the exit code (64) after saying why. */
    int (*parse)(const struct lg_cmdline *cl, struct lg_mode_opts *o);
    /* The run: the process exit code. */
    int (*run)(struct lg_ctx *ctx, struct lg_mode_opts *o);
};

static int parse_trace(const struct lg_cmdline *cl, struct lg_mode_opts *o);
static int run_trace(struct lg_ctx *ctx, struct lg_mode_opts *o);
static int parse_scaling(const struct lg_cmdline *cl, struct lg_mode_opts *o);
static int run_scaling(struct lg_ctx *ctx, struct lg_mode_opts *o);
static int parse_benchmark(const struct lg_cmdline *cl, struct lg_mode_opts *o);
static int run_benchmark(struct lg_ctx *ctx, struct lg_mode_opts *o);

static const struct lg_mode MODES[] = {
    {"trace", "replay a trace open loop (live), or on the worker or controller core in-process (simulation)",
     BIT(O_INPUT) | BIT(O_METADATA) | BIT(O_PREWARM) | BIT(O_LOAD_TYPE) | BIT(O_FUNCTION_DATA) |
         BIT(O_MAPPING_TOLERANCE) | BIT(O_STRICT_MAPPING) | BIT(O_SYNTHETIC_DIR) | BIT(O_STATUS_MS) | BIT(O_REPEAT) |
         BIT(O_WORKER_CONFIG) | BIT(O_SIM_NETWORK_US) | BIT(O_WORKERS) | BIT(O_GPU_WORKERS) | BIT(O_CONTROLLER_CONFIG),
     1,
     "--setup simulation --target controller: a simulated cluster of --workers N workers behind the controller\n"
     "core; --sim-network-us is then the controller <-> worker round trip.\n",
     parse_trace, run_trace},
    {"scaling", "closed-loop clients, one step per client count from --threads-from to --threads-to",
     BIT(O_THREADS_FROM) | BIT(O_THREADS_TO) | BIT(O_DURATION) | BIT(O_FUNCTION_DIR) | BIT(O_MEMORY) | BIT(O_ARGS_JSON),
     0, NULL, parse_scaling, run_scaling},
    {"benchmark", "cold and warm times of every function folder (worker_function_benchmarks.json)",
     BIT(O_FUNCTIONS_DIR) | BIT(O_FUNCTION_FILE) | BIT(O_COLD_ITERS) | BIT(O_WARM_ITERS) | BIT(O_MEMORY) |
         BIT(O_INCLUDE_TEST_FUNCTIONS),
     0, NULL, parse_benchmark, run_benchmark},
};
#define N_MODES (sizeof MODES / sizeof MODES[0])

static const struct ilu_cmdline_spec CMDLINE = {
    .noun = "an option",
    .opts = OPTS,
    .n_opts = N_OPTS,
    .global_opts = GLOBAL_OPTS,
    .cmds = MODES,
    .n_cmds = N_MODES,
    .cmd_size = sizeof MODES[0],
    .name_at = offsetof(struct lg_mode, name),
    .opts_at = offsetof(struct lg_mode, opts),
};

static void print_opts(FILE *out, uint64_t set)
{
    ilu_cmdline_print_opts(out, &CMDLINE, set, 4, 28);
}

static const char RESULTS_NOTE[] =
    "Every run writes DIR/invocations.csv, DIR/summary.json and plots (docs/load_gen.md). --out DIR must be\n"
    "missing or empty (--force empties it); the default results/MODE is reused: a run first removes the\n"
    "files an earlier run wrote there.\n"
    "--target controller live: the controller serves the worker's API, so every mode runs against it.\n"
    "Exit status: 0 the results were written (failed invocations are counted in them); 1 the run could not\n"
    "start, was interrupted or could not write its results (nothing written); 64 bad usage (a results\n"
    "folder that is not empty included).\n";

/* The whole program's help, from the tables. */
static void usage(FILE *out)
{
    fprintf(out, "usage: iluvatar_load_gen [global options] MODE [mode options]\n"
                 "       iluvatar_load_gen MODE --help   (one mode's options)\n"
                 "global options (before or after MODE):\n");
    print_opts(out, GLOBAL_OPTS);
    fprintf(out, "modes:\n");
    for (size_t m = 0; m < N_MODES; m++) {
        const struct lg_mode *md = &MODES[m];
        fprintf(out, "  %-10s %s%s\n", md->name, md->summary, md->simulated ? "" : " (live only)");
        print_opts(out, md->opts);
    }
    fputs(MODES[0].notes, out);
    fputs(RESULTS_NOTE, out);
}

static void mode_usage(FILE *out, const struct lg_mode *md)
{
    fprintf(out, "usage: iluvatar_load_gen [global options] %s [options]\n%s%s\noptions:\n", md->name, md->summary,
            md->simulated ? "" : " (live only)");
    print_opts(out, md->opts);
    if (md->notes)
        fputs(md->notes, out);
    fprintf(out, "global options (before or after %s): see iluvatar_load_gen --help\n", md->name);
}

static int parse_uint(const char *s, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v > 1000000)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* --setup simulation: one warning per variable of envp that looks like a
 * worker or controller override with a misspelled prefix (ignored else). */
static void warn_stray_env(char *const *envp)
{
    char why[512];
    for (; envp && *envp; envp++)
        if (ilu_cfg_env_stray(*envp, ILU_CFG_ENV_FAMILY, ilu_cfg_env_owners, ilu_cfg_env_n_owners, why, sizeof why))
            fprintf(stderr, "iluvatar_load_gen: warning: %s\n", why);
}

static volatile sig_atomic_t interrupted; /* no more repetitions */

static void on_sigint(evutil_socket_t sig, short what, void *arg)
{
    fprintf(stderr, "\niluvatar_load_gen: interrupted\n");
    interrupted = 1;
    event_base_loopbreak(arg);
}

/* ---- the modes' options and runs --------------------------------------------- */

/* An unsigned option value into *out; -1 after saying so when it is bad. */
static int opt_uint(const struct lg_cmdline *cl, int id, unsigned *out)
{
    if (!cl->val[id])
        return 0;
    if (parse_uint(cl->val[id], out)) {
        fprintf(stderr, "iluvatar_load_gen: bad value \"%s\" for an option of %s\n", cl->val[id], cl->mode_name);
        return -1;
    }
    return 0;
}

static int parse_trace(const struct lg_cmdline *cl, struct lg_mode_opts *o)
{
    struct lg_trace_opts *t = &o->trace;
    *t = (struct lg_trace_opts){.load_type = "synthetic", .network_us = 300};
    t->input = cl->val[O_INPUT];
    t->metadata = cl->val[O_METADATA];
    t->function_data = cl->val[O_FUNCTION_DATA];
    if (cl->val[O_LOAD_TYPE])
        t->load_type = cl->val[O_LOAD_TYPE];
    else if (t->function_data) /* the benchmark's times only mean something for its functions */
        t->load_type = "functions";
    if (t->function_data && !strcmp(t->load_type, "synthetic")) {
        fprintf(stderr, "iluvatar_load_gen: --function-data is for --load-type functions, not --load-type "
                        "synthetic (the synthetic function ignores it); drop one of the two (--function-data "
                        "alone implies --load-type functions)\n");
        return 64;
    }
    t->strict_mapping = cl->val[O_STRICT_MAPPING] != NULL;
    if (cl->val[O_MAPPING_TOLERANCE]) {
        char *end;
        t->mapping_tolerance = strtod(cl->val[O_MAPPING_TOLERANCE], &end);
        if (end == cl->val[O_MAPPING_TOLERANCE] || *end || !(t->mapping_tolerance >= 1) || t->mapping_tolerance > 1e6) {
            fprintf(stderr,
                    "iluvatar_load_gen: --mapping-tolerance must be a factor in [1, 1000000] (2: a mapped warm "
                    "time within half to twice the trace's), not \"%s\"\n",
                    cl->val[O_MAPPING_TOLERANCE]);
            return 64;
        }
    }
    t->synthetic_dir = cl->val[O_SYNTHETIC_DIR];
    t->worker_config = cl->val[O_WORKER_CONFIG];
    t->controller_config = cl->val[O_CONTROLLER_CONFIG];
    unsigned status_ms = 1000;
    if (opt_uint(cl, O_STATUS_MS, &status_ms))
        return 64;
    if (status_ms > 3600 * 1000) {
        fprintf(stderr, "iluvatar_load_gen: --status-ms must be a number of ms in [0, 3600000], not %u\n", status_ms);
        return 64;
    }
    t->status_ms = status_ms ? (int)status_ms : -1;
    if (opt_uint(cl, O_REPEAT, &t->repeat))
        return 64;
    if (cl->val[O_REPEAT] && (t->repeat < 1 || t->repeat > 1000)) {
        fprintf(stderr, "iluvatar_load_gen: --repeat must be a number of runs in [1, 1000], not %u\n", t->repeat);
        return 64;
    }
    if (opt_uint(cl, O_PREWARM, &t->prewarm) || opt_uint(cl, O_SIM_NETWORK_US, &t->network_us))
        return 64;
    const char *w = cl->val[O_WORKERS];
    if (w && (parse_uint(w, &t->workers) || t->workers == 0 || t->workers > 1024)) {
        fprintf(stderr, "iluvatar_load_gen: --workers must be a number of workers in [1, 1024], not \"%s\"\n", w);
        return 64;
    }
    const char *gw = cl->val[O_GPU_WORKERS];
    if (gw && (parse_uint(gw, &t->gpu_workers) || t->gpu_workers > 1024)) {
        fprintf(stderr, "iluvatar_load_gen: --gpu-workers must be a number of workers in [0, 1024], not \"%s\"\n", gw);
        return 64;
    }
    t->gpu_workers_set = gw != NULL;
    if (gw && w && t->gpu_workers > t->workers) {
        fprintf(stderr, "iluvatar_load_gen: --gpu-workers %u is more than --workers %u\n", t->gpu_workers, t->workers);
        return 64;
    }
    /* a simulated cluster is the only place --workers and --controller-config mean anything */
    o->sim_cluster = !strcmp(cl->setup, "simulation") && !strcmp(cl->target, "controller");
    if ((w || gw || t->controller_config) && !o->sim_cluster) {
        fprintf(stderr, "iluvatar_load_gen: --workers, --gpu-workers and --controller-config are for --setup "
                        "simulation --target controller (a live controller has its own config and workers)\n");
        return 64;
    }
    if (o->sim_cluster && !w) {
        fprintf(stderr, "iluvatar_load_gen: --setup simulation --target controller needs --workers N (1-1024)\n");
        return 64;
    }
    if (!t->input || !t->metadata) {
        fprintf(stderr, "iluvatar_load_gen: trace needs --input and --metadata\n");
        return 64;
    }
    return 0;
}

static int run_trace(struct lg_ctx *ctx, struct lg_mode_opts *o)
{
    if (strcmp(ctx->setup, "simulation"))
        return lg_run_trace(ctx, &o->trace);
    return o->sim_cluster ? lg_run_trace_cluster(ctx, &o->trace) : lg_run_trace_simulated(ctx, &o->trace);
}

static int parse_scaling(const struct lg_cmdline *cl, struct lg_mode_opts *o)
{
    struct lg_scaling_opts *sc = &o->scaling;
    *sc = (struct lg_scaling_opts){.memory_mb = 128, .duration_s = 10};
    sc->function_dir = cl->val[O_FUNCTION_DIR];
    sc->args_json = cl->val[O_ARGS_JSON];
    unsigned mem = sc->memory_mb;
    if (opt_uint(cl, O_THREADS_FROM, &sc->threads_from) || opt_uint(cl, O_THREADS_TO, &sc->threads_to) ||
        opt_uint(cl, O_MEMORY, &mem))
        return 64;
    sc->memory_mb = mem;
    if (cl->val[O_DURATION]) {
        char *end;
        sc->duration_s = strtod(cl->val[O_DURATION], &end);
        if (*end || sc->duration_s <= 0) {
            fprintf(stderr, "iluvatar_load_gen: bad value \"%s\" for an option of %s\n", cl->val[O_DURATION],
                    cl->mode_name);
            return 64;
        }
    }
    return 0;
}

static int run_scaling(struct lg_ctx *ctx, struct lg_mode_opts *o)
{
    return lg_run_scaling(ctx, &o->scaling);
}

static int parse_benchmark(const struct lg_cmdline *cl, struct lg_mode_opts *o)
{
    struct lg_benchmark_opts *b = &o->bench;
    *b = (struct lg_benchmark_opts){.cold_iters = 3, .warm_iters = 10, .memory_mb = 256};
    b->functions_dir = cl->val[O_FUNCTIONS_DIR];
    b->function_file = cl->val[O_FUNCTION_FILE];
    b->include_test_functions = cl->val[O_INCLUDE_TEST_FUNCTIONS] != NULL;
    unsigned mem = b->memory_mb;
    if (opt_uint(cl, O_COLD_ITERS, &b->cold_iters) || opt_uint(cl, O_WARM_ITERS, &b->warm_iters) ||
        opt_uint(cl, O_MEMORY, &mem))
        return 64;
    b->memory_mb = mem;
    return 0;
}

static int run_benchmark(struct lg_ctx *ctx, struct lg_mode_opts *o)
{
    return lg_run_benchmark(ctx, &o->bench);
}

/* ---- the command line --------------------------------------------------------- */

/* One pass over argv, options on either side of the mode name: fills cl and
 * *mode. 0, -1 for --help or --version (printed), or the exit code. */
static int parse_cmdline(int argc, char **argv, struct lg_cmdline *cl, const struct lg_mode **mode)
{
    struct ilu_cmdline_parsed p;
    ilu_cmdline_parse(&CMDLINE, argc, argv, cl->val, NULL, NULL, &p);
    const char *mode_name = p.name;
    *mode = p.cmd >= 0 ? &MODES[p.cmd] : NULL;
    cl->mode_name = mode_name;
    if (cl->val[O_VERSION]) {
        ilu_version_print(stdout, "iluvatar_load_gen");
        return -1;
    }
    if (cl->val[O_HELP] && (!mode_name || *mode)) {
        if (*mode)
            mode_usage(stdout, *mode);
        else
            usage(stdout);
        return -1;
    }
    if (p.error == '?') {
        fprintf(stderr, "iluvatar_load_gen: unknown option %s%s%s; see iluvatar_load_gen --help\n", p.error_opt,
                *mode ? " for " : "", *mode ? mode_name : "");
        return 64;
    }
    if (p.error == ':') {
        fprintf(stderr, "iluvatar_load_gen: %s needs a value\n", p.error_opt);
        return 64;
    }
    if (!mode_name) {
        usage(stderr);
        return 64;
    }
    if (!*mode) {
        fprintf(stderr, "iluvatar_load_gen: unknown mode %s\n", mode_name);
        usage(stderr);
        return 64;
    }
    if (p.extra) {
        fprintf(stderr, "iluvatar_load_gen: unexpected argument %s\n", p.extra);
        return 64;
    }
    char why[320];
    if (ilu_cmdline_stray_opt(&CMDLINE, (size_t)p.cmd, cl->val, why, sizeof why) >= 0) {
        fprintf(stderr, "iluvatar_load_gen: %s; see iluvatar_load_gen %s --help\n", why, mode_name);
        return 64;
    }
    return 0;
}

/* ---- one run, or repetitions of it ------------------------------------------------ */

/* What every run of this command line shares. */
struct lg_run_setup {
    const struct lg_mode *md;
    struct lg_mode_opts *mo;
    const char *host, *target, *setup;
    uint16_t port;
    int quiet, no_plots;
    int argc;
    char **argv;
};

/* The mode once, its results into out: the process exit code. */
static int run_once(const struct lg_run_setup *rs, const char *out)
{
    /* precise timers: open-loop sends must leave within microseconds of
     * their schedule, not at epoll's millisecond granularity */
    struct event_config *ecfg = event_config_new();
    event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    struct event_base *base = event_base_new_with_config(ecfg);
    event_config_free(ecfg);
    struct lg_ctx ctx;
    lg_ctx_init(&ctx, rs->host, rs->port, out);
    ctx.argc = rs->argc;
    ctx.argv = rs->argv;
    ctx.base = base;
    ctx.quiet = rs->quiet;
    ctx.no_plots = rs->no_plots;
    ctx.target = rs->target;
    ctx.setup = rs->setup;
    ctx.http = ilu_http_client_new(base, rs->host, rs->port, 900);
    signal(SIGPIPE, SIG_IGN);
    struct event *sigint = evsignal_new(base, SIGINT, on_sigint, base);
    event_add(sigint, NULL);

    int code = rs->md->run(&ctx, rs->mo);

    event_free(sigint);
    ilu_http_client_free(ctx.http);
    lg_ctx_free(&ctx);
    event_base_free(base);
    return code;
}

/* Reads every repetition's summary.json and writes out/summary.json with
 * each figure's median and CI over them (report/repeat.h). 0, or 1 after
 * saying why. */
static int write_repeat_summary(const char *out, unsigned n, int quiet)
{
    json_t **summaries = calloc(n, sizeof *summaries);
    char **names = calloc(n, sizeof *names);
    int code = summaries && names ? 0 : 1;
    for (unsigned k = 1; k <= n && !code; k++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/rep-%u/summary.json", out, k);
        json_error_t jerr;
        if (!(names[k - 1] = malloc(24)) || !(summaries[k - 1] = json_load_file(path, 0, &jerr))) {
            fprintf(stderr, "iluvatar_load_gen: %s: %s\n", path, names[k - 1] ? jerr.text : "out of memory");
            code = 1;
            break;
        }
        snprintf(names[k - 1], 24, "rep-%u", k);
    }
    json_t *agg = code ? NULL : ilu_repeat_summary(summaries, (const char *const *)names, n);
    struct ilu_error err = {0};
    if (!code && (!agg || lg_write_json_file(out, "summary.json", agg, &err))) {
        fprintf(stderr, "iluvatar_load_gen: %s/summary.json: %s\n", out, agg ? err.msg : "out of memory");
        code = 1;
    }
    if (!code && !quiet) {
        json_t *p50 = json_object_get(json_object_get(agg, "aggregate"), "latency_ms.p50");
        json_t *ci = json_object_get(p50, "ci95");
        char ci_text[96] = "n/a (fewer than 6 repetitions)";
        if (json_is_array(ci))
            snprintf(ci_text, sizeof ci_text, "[%.3f, %.3f] ms", json_real_value(json_array_get(ci, 0)),
                     json_real_value(json_array_get(ci, 1)));
        fprintf(stderr,
                "iluvatar_load_gen: %u repetitions: latency p50 median %.3f ms, 95%% CI %s; in %s/summary.json\n", n,
                json_real_value(json_object_get(p50, "median")), ci_text, out);
    }
    /* a simulation without jitter repeats itself exactly: say so rather than show zero-width intervals */
    json_t *values = json_object_get(json_object_get(json_object_get(agg, "aggregate"), "latency_ms.p50"), "values");
    if (!code && n > 1 && !strcmp(json_string_value(json_object_get(agg, "setup")) ?: "", "simulation") &&
        json_equal(json_array_get(values, 0), json_array_get(values, n - 1)) &&
        json_equal(json_array_get(values, 0), json_array_get(values, n / 2)))
        fprintf(stderr, "iluvatar_load_gen: note: the repetitions give the same latencies: with "
                        "simulation.jitter_pct 0 a simulation is deterministic, whatever its seed\n");
    json_decref(agg);
    for (unsigned k = 0; k < n && summaries; k++)
        json_decref(summaries[k]);
    for (unsigned k = 0; k < n && names; k++)
        free(names[k]);
    free(summaries);
    free(names);
    return code;
}

/* --repeat N: the trace N times into out/rep-1 .. rep-N (each an ordinary
 * results folder), then out/summary.json over them. */
static int run_repeated(const struct lg_run_setup *rs, const char *out)
{
    unsigned n = rs->mo->trace.repeat;
    for (unsigned k = 1; k <= n; k++) {
        char dir[PATH_MAX + 32];
        snprintf(dir, sizeof dir, "%s/rep-%u", out, k);
        if (!rs->quiet)
            fprintf(stderr, "iluvatar_load_gen: repetition %u of %u into %s\n", k, n, dir);
        rs->mo->trace.repetition = k;
        int code = run_once(rs, dir);
        if (code || interrupted) {
            fprintf(stderr, "iluvatar_load_gen: repetition %u of %u failed; no %s/summary.json written\n", k, n, out);
            return code ? code : 1;
        }
    }
    return write_repeat_summary(out, n, rs->quiet);
}

int main(int argc, char **argv)
{
    struct lg_cmdline cl = {0};
    const struct lg_mode *md = NULL;
    /* the command line as typed, for run.json: parsing permutes argv (the
     * strings stay, their order does not) */
    static char *typed[1024];
    int n_typed = argc < 1024 ? argc : 1024;
    memcpy(typed, argv, (size_t)n_typed * sizeof *typed);
    int rc = parse_cmdline(argc, argv, &cl, &md);
    if (rc)
        return rc < 0 ? 0 : rc;
    const char *host = cl.val[O_HOST] ? cl.val[O_HOST] : "127.0.0.1", *out = cl.val[O_OUT];
    const char *target = cl.val[O_TARGET] ? cl.val[O_TARGET] : "worker";
    const char *setup = cl.val[O_SETUP] ? cl.val[O_SETUP] : "live";
    unsigned port = 0; /* 0: the target's default, 8079 for a worker, 8078 for a controller */
    if (cl.val[O_PORT] && (parse_uint(cl.val[O_PORT], &port) || port == 0 || port > 65535)) {
        fprintf(stderr, "iluvatar_load_gen: --port %s is not a port number\n", cl.val[O_PORT]);
        return 64;
    }
    const char *token = cl.val[O_TOKEN] ? cl.val[O_TOKEN] : getenv("ILUVATAR_TOKEN"); /* auth.client_token */
    if (strcmp(target, "worker") && strcmp(target, "controller")) {
        fprintf(stderr, "iluvatar_load_gen: --target must be worker or controller, not %s\n", target);
        return 64;
    }
    if (strcmp(setup, "live") && strcmp(setup, "simulation")) {
        fprintf(stderr, "iluvatar_load_gen: --setup must be live or simulation, not %s\n", setup);
        return 64;
    }
    cl.target = target;
    cl.setup = setup;
    if (!port)
        port = strcmp(target, "controller") ? 8079 : 8078;
    if (token && (strlen(token) > 512 || strpbrk(token, "\r\n"))) {
        fprintf(stderr, "iluvatar_load_gen: --token is too long or holds a line break\n");
        return 64;
    }
    struct lg_mode_opts mo = {0};
    if ((rc = md->parse(&cl, &mo)))
        return rc;
    if (!strcmp(setup, "simulation") && !md->simulated) {
        fprintf(stderr, "iluvatar_load_gen: %s has no simulation yet (only trace)\n", md->name);
        return 64;
    }
    if (!strcmp(setup, "simulation")) /* the simulated worker and controller read their overrides */
        warn_stray_env(environ);
    ilu_http_client_set_default_bearer(token && *token ? token : NULL);
    char default_out[64];
    if (!out) {
        snprintf(default_out, sizeof default_out, "results/%s", md->name);
        out = default_out;
    }
    /* before anything runs: a run never mixes its files with an earlier one's */
    struct ilu_error err = {0};
    if (lg_out_dir_prepare(out, out == default_out, cl.val[O_FORCE] != NULL, getenv("HOME"), &err)) {
        fprintf(stderr, "iluvatar_load_gen: %s\n", err.msg);
        return err.status == ILU_ST_BAD_REQUEST ? 64 : 1;
    }

    struct lg_run_setup rs = {.md = md,
                              .mo = &mo,
                              .host = host,
                              .port = (uint16_t)port,
                              .target = target,
                              .setup = setup,
                              .quiet = cl.val[O_QUIET] != NULL,
                              .no_plots = cl.val[O_NO_PLOTS] != NULL,
                              .argc = n_typed,
                              .argv = typed};
    if (mo.trace.repeat > 1 && !strcmp(md->name, "trace"))
        return run_repeated(&rs, out);
    return run_once(&rs, out);
}
