/* `trace --setup simulation`: the same planned trace, run on the worker's
 * own core (queue, policies, pool, accounting) in-process, driven by a
 * discrete-event clock and the simulated backend, writing the same results
 * folder as a live run. Nothing here decides what the worker does: it only
 * delivers invocations at their times and records the answers.
 * The world set-up and the reporting (lg_sim_world_*) are shared with the
 * simulated cluster (sim_cluster.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/secrets.h"
#include "worker/queue.h"
#include "worker/worker.h"
#include "backend/sim/sim_backend.h"
#include "backend/registry.h"
#include "sim/sim_env.h"
#include "loadgen/loadgen.h"
#include "os/file.h"
#include "loadgen/status_log.h"
#include "loadgen/trace_plan.h"

extern char **environ;

/* Simulated time starts at 2026-01-01T00:00:00Z: logs and agent timestamps
 * must not depend on when the simulation ran. */
#define SIM_WALL_BASE_US 1767225600000000ull

struct sim_run {
    struct lg_ctx *ctx;
    struct lg_trace_plan plan;
    struct lg_sim_world world;
    struct ilu_worker *worker;
    struct ilu_function **fns; /* per trace function, looked up once */
    uint64_t t0_us, half_net_us;
    size_t prewarms_pending, prewarm_failures;
    char prewarm_error[512];
};

static double rel_ms(const struct sim_run *run, uint64_t t_us)
{
    return (double)(int64_t)(t_us - run->t0_us) / 1000.0;
}

static void on_done(void *arg, struct ilu_invocation *inv)
{
    struct lg_sim_sent *s = arg;
    struct sim_run *run = s->run;
    struct ilu_inv_record *rec = ilu_report_get(&run->ctx->report, s->seq);
    rec->end_ms = rel_ms(run, run->world.sim.now_us + run->half_net_us);
    ilu_report_fill_from_invocation(rec, inv);
    lg_sim_finish(&run->world, s, rec);
}

void lg_sim_record_refused(struct ilu_inv_record *rec, double end_ms, const struct ilu_error *e)
{
    rec->end_ms = end_ms;
    rec->success = 0;
    rec->http_status = e->status;
    snprintf(rec->error_kind, sizeof rec->error_kind, "%s", e->kind[0] ? e->kind : ilu_status_kind(e->status));
    free(rec->error);
    rec->error = strdup(e->msg);
}

static void deliver_due(void *arg)
{
    struct sim_run *run = arg;
    /* every invocation whose arrival time is now: the simulated client is
     * never late, so send_ms is the schedule and lateness 0 */
    struct lg_sim_sent *s;
    struct ilu_inv_record *rec;
    uint32_t fn;
    while ((rec = lg_sim_next_arrival(&run->world, run->t0_us, run->half_net_us, deliver_due, run, run, &s, &fn))) {
        const struct lg_fn_plan *pl = &run->plan.fns[fn];
        struct ilu_error err = {0};
        if (ilu_worker_invoke_fn(run->worker, run->fns[fn], pl->args_json, pl->args_json_len, rec->tid, on_done, s,
                                 &err)) {
            /* refused at once (queue full, shutting down) */
            lg_sim_record_refused(rec, rel_ms(run, run->world.sim.now_us + run->half_net_us), &err);
            lg_sim_finish(&run->world, s, rec);
        }
    }
}

static void on_prewarmed(void *arg, const char *tid, const struct ilu_error *err)
{
    struct sim_run *run = arg;
    run->prewarms_pending--;
    if (err) {
        run->prewarm_failures++;
        snprintf(run->prewarm_error, sizeof run->prewarm_error, "%s", err->msg);
    }
}

static void log_to_stderr(void *ctx, int level, const char *line)
{
    fprintf(stderr, "%s\n", line);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Start-up factors (measured start-up over its median) of a calibration
 * file written by tools/calibrate/calibrate.py, sorted. */
static int load_start_factors(const char *path, struct lg_sim_world *w, struct ilu_error *err)
{
    char *text = ilu_read_file(path, err);
    if (!text)
        return ilu_err_wrap(err, "simulation.calibration_file");
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    free(text);
    json_t *factors = json_object_get(doc, "start_factors");
    size_t n = json_array_size(factors);
    if (!doc || !n) {
        json_decref(doc);
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "simulation.calibration_file %s: %s", path,
                       doc ? "no \"start_factors\" array of numbers (write it with tools/calibrate/calibrate.py)"
                           : jerr.text);
    }
    if (!(w->start_factors = malloc(n * sizeof *w->start_factors))) {
        json_decref(doc);
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(factors, i);
        double f = json_number_value(v);
        /* a factor is a start-up over the median: beyond 1000x it is not a measurement */
        if (!json_is_number(v) || !(f > 0 && f <= 1000)) {
            json_decref(doc);
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                           "simulation.calibration_file %s: start_factors[%zu] must be a number in (0, 1000]", path, i);
        }
        w->start_factors[i] = f;
    }
    json_decref(doc);
    qsort(w->start_factors, n, sizeof *w->start_factors, cmp_double);
    w->n_start_factors = n;
    return 0;
}

static int load_config(const struct lg_trace_opts *o, struct lg_sim_world *w, json_t *inputs, struct ilu_error *err)
{
    struct ilu_worker_config *cfg = &w->cfg;
    struct ilu_backend_configs **sections = &w->backend_configs;
    ilu_config_defaults(cfg);
    /* the live backends' sections (oci ...) are accepted and validated as
     * live, so one worker config serves both runs */
    if (!(*sections = ilu_backend_configs_attach(cfg, err)))
        return -1;
    if (o->worker_config) {
        char *text = ilu_read_file(o->worker_config, err);
        if (!text)
            return -1;
        int rc = ilu_config_apply_json(cfg, text, o->worker_config, err);
        free(text);
        if (rc)
            return -1;
    }
    if (ilu_config_apply_env(cfg, "ILUVATAR_WORKER", environ, err) || ilu_config_validate(cfg, err))
        return ilu_err_wrap(err, "worker config");
    if (cfg->container_resources.cpu_count == 0 && !ilu_queue_config_unlimited(cfg)) {
        /* live, 0 means this host's CPUs: simulate the same, and say so
         * (queue policy "none" keeps 0: no concurrency limit, worker/queue.h) */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->container_resources.cpu_count = cpus > 0 ? (uint32_t)cpus : 1;
        fprintf(stderr,
                "iluvatar_load_gen: container_resources.cpu_count is 0 (this host's CPUs when live): simulating %u\n",
                cfg->container_resources.cpu_count);
    }
    /* honoured: limits, invocation, container_resources (memory, cpus,
     * eviction, keep-alive, start-up timeout), simulation (the simulated
     * backend's section). Only meaningful live, and said so rather than
     * silently dropped: */
    if (!ilu_backend_find(cfg->container_resources.backend)) {
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL,
                       "worker config: container_resources.backend \"%s\" cannot be simulated",
                       cfg->container_resources.backend);
    }
    if (cfg->logging.directory[0])
        fprintf(stderr, "iluvatar_load_gen: note: logging.directory is not used in a simulation; the simulated "
                        "worker's warnings go to stderr\n");
    snprintf(cfg->container_resources.backend, sizeof cfg->container_resources.backend, "simulation");
    const struct ilu_sim_config *sc = ilu_backend_config_of(*sections, "simulation");
    if (sc->calibration_file[0] && load_start_factors(sc->calibration_file, w, err))
        return -1;
    w->default_start_ms = sc->container_start_ms;
    json_object_set_new(inputs, "worker_config", o->worker_config ? json_string(o->worker_config) : json_null());
    json_object_set_new(
        inputs, "simulation",
        json_pack("{s:i, s:i, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i}", "cpu_count",
                  (int)cfg->container_resources.cpu_count, "memory_mb", (int)cfg->container_resources.memory_mb,
                  "queue_policy", cfg->invocation.queue_policy, "eviction", cfg->container_resources.eviction,
                  "keepalive_sec", (int)cfg->container_resources.keepalive_sec, "container_start_ms",
                  (int)sc->container_start_ms, "invoke_overhead_us", (int)sc->invoke_overhead_us, "jitter_pct",
                  (int)sc->jitter_pct, "seed", (int)sc->seed, "network_us", (int)o->network_us));
    if (o->repetition) /* --repeat: which one, and the seeds it jittered with (sim_trace, sim_cluster) */
        json_object_set_new(inputs, "repetition", json_integer(o->repetition));
    json_t *sim = json_object_get(inputs, "simulation");
    json_object_set_new(sim, "host_cpus", json_real(sc->host_cpus));
    json_object_set_new(sim, "start_cpu_pct", json_integer(sc->start_cpu_pct));
    json_object_set_new(sim, "exec_cpu_pct", json_integer(sc->exec_cpu_pct));
    json_object_set_new(sim, "calibration_file",
                        sc->calibration_file[0] ? json_string(sc->calibration_file) : json_null());
    json_object_set_new(sim, "start_factors", json_integer((json_int_t)w->n_start_factors));
    return 0;
}

/* ---- the world every simulated run shares ---------------------------------- */

int lg_sim_world_init(struct lg_ctx *ctx, const struct lg_trace_opts *o, struct lg_sim_world *w,
                      struct lg_trace_plan *p, struct ilu_error *err)
{
    memset(w, 0, sizeof *w);
    w->ctx = ctx;
    w->plan = p;
    clock_gettime(CLOCK_MONOTONIC, &w->wall0);
    lg_start_clock(ctx); /* progress lines show wall time */
    ilu_sim_env_init(&w->sim, SIM_WALL_BASE_US);
    if (lg_trace_plan_load(ctx, o, p, 1, err) || load_config(o, w, p->inputs, err))
        return -1;
    w->status_every_ms = lg_status_every_ms(o);
    /* the workers log warnings and errors only: info would be a line per invocation */
    w->sim.log_line = log_to_stderr;
    int level = ilu_log_level_parse(w->cfg.logging.level);
    w->log = (struct ilu_log){.env = &w->sim.env, .min_level = level > ILU_LOG_WARN ? level : ILU_LOG_WARN};
    return 0;
}

void lg_sim_world_destroy(struct lg_sim_world *w)
{
    if (w->status) {
        lg_status_log_free(w->status);
        free(w->status);
        w->status = NULL;
    }
    while (w->all_sent) {
        struct lg_sim_sent *s = w->all_sent;
        w->all_sent = s->next_all;
        free(s);
    }
    w->free_sent = NULL;
    free(w->start_factors);
    w->start_factors = NULL;
    ilu_backend_configs_free(w->backend_configs);
    w->backend_configs = NULL;
    ilu_sim_env_destroy(&w->sim);
}

struct ilu_inv_record *lg_sim_next_arrival(struct lg_sim_world *w, uint64_t t0_us, uint64_t delay_us,
                                           ilu_timer_fn fn_due, void *arg, void *run, struct lg_sim_sent **sent,
                                           uint32_t *fn)
{
    const struct ilu_trace_event *ev = w->failed ? NULL : lg_trace_plan_peek(w->plan, &w->err);
    if (!ev) {
        w->failed |= w->plan->stream_failed;
        return NULL;
    }
    uint64_t arrive = t0_us + (uint64_t)(ev->time_ms * 1000.0) + delay_us;
    if (arrive > w->sim.now_us) {
        if (!ilu_sim_env_at(&w->sim, arrive, fn_due, arg)) {
            ilu_err(&w->err, ILU_ST_INTERNAL, NULL, "out of memory");
            w->failed = 1;
        }
        return NULL;
    }
    struct ilu_trace_event e = *ev;
    uint64_t row = lg_trace_plan_take(w->plan);
    struct lg_sim_sent *s = w->free_sent;
    if (s) {
        w->free_sent = s->next_free;
    } else if ((s = malloc(sizeof *s))) {
        s->next_all = w->all_sent;
        w->all_sent = s;
    }
    struct ilu_inv_record *rec = s ? lg_trace_record(w->ctx, w->plan, "sim", row, &e, &s->seq) : NULL;
    if (!rec) {
        if (s) { /* back to the free list */
            s->next_free = w->free_sent;
            w->free_sent = s;
        }
        ilu_err(&w->err, ILU_ST_INTERNAL, NULL, "out of memory at trace row %llu", (unsigned long long)row);
        w->failed = 1;
        return NULL;
    }
    s->run = run;
    w->sent++;
    rec->send_ms = rec->scheduled_ms;
    *sent = s;
    *fn = e.fn;
    return rec;
}

void lg_sim_progress(struct lg_sim_world *w)
{
    lg_progress(w->ctx, "simulation", w->done, lg_trace_plan_expected_rows(w->plan), w->errors);
}

void lg_sim_finish(struct lg_sim_world *w, struct lg_sim_sent *sent, const struct ilu_inv_record *rec)
{
    w->done++;
    w->errors += !rec->success;
    /* final once the rows before it are: the report writes it (output
     * errors: lg_write_results says) */
    ilu_report_complete(&w->ctx->report, sent->seq);
    sent->next_free = w->free_sent;
    w->free_sent = sent;
    if (!(w->done & 0xffff))
        lg_sim_progress(w);
}

int lg_sim_all_done(const struct lg_sim_world *w)
{
    return w->plan->stream_done && w->done == w->sent;
}

struct ilu_backend *lg_sim_world_backend(struct lg_sim_world *w, const struct lg_trace_plan *p, uint64_t seed_offset)
{
    /* the simulated backend's own section, as ilu_backend_create gives it */
    struct ilu_sim_backend_params params =
        ilu_sim_backend_params_of(ilu_backend_config_of(w->backend_configs, "simulation"), seed_offset);
    params.start_factors = w->start_factors; /* freed by lg_sim_world_destroy, after the backends */
    params.n_start_factors = w->n_start_factors;
    struct ilu_backend *b = ilu_sim_backend_new(&w->sim, &params, &w->log);
    for (size_t f = 0; b && f < p->trace.n_fns; f++) {
        const struct lg_fn_plan *pl = &p->fns[f];
        char fqdn[160];
        snprintf(fqdn, sizeof fqdn, "%s-%s", pl->name, LG_TRACE_FN_VERSION);
        struct ilu_sim_fn_timing timing = {.start_us = (uint64_t)(pl->start_ms * 1000.0),
                                           .cold_exec_us = (uint64_t)(pl->cold_exec_ms * 1000.0),
                                           .warm_exec_us = (uint64_t)(pl->warm_exec_ms * 1000.0),
                                           .gpu_cold_exec_us = (uint64_t)(pl->gpu_cold_exec_ms * 1000.0),
                                           .gpu_warm_exec_us = (uint64_t)(pl->gpu_warm_exec_ms * 1000.0)};
        if (ilu_sim_backend_set_timing(b, fqdn, &timing)) {
            b->ops->free(b);
            b = NULL;
        }
    }
    return b;
}

static void sample_due(void *arg)
{
    struct lg_sim_world *w = arg;
    /* nothing else pending: the run is over (or stalled, which the run's
     * loop must still see), so the samples stop */
    if (lg_sim_all_done(w) || !ilu_sim_env_pending(&w->sim))
        return;
    w->sample(w->sample_arg, w->status, (double)(w->sim.now_us - w->status_t0_us) / 1000.0, NULL);
    ilu_sim_env_at(&w->sim, w->sim.now_us + (uint64_t)w->status_every_ms * 1000, sample_due, w);
}

int lg_sim_status_start(struct lg_sim_world *w, uint64_t t0_us, lg_sim_sample_fn sample, void *arg)
{
    if (!(w->status = calloc(1, sizeof *w->status)))
        return -1;
    lg_status_log_init(w->status, w->ctx);
    w->sample = sample;
    w->sample_arg = arg;
    w->status_t0_us = t0_us;
    sample(arg, w->status, 0, &w->status->start);
    if (w->status_every_ms && !ilu_sim_env_at(&w->sim, t0_us + (uint64_t)w->status_every_ms * 1000, sample_due, w))
        return -1;
    return 0;
}

void lg_sim_world_stop(struct lg_sim_world *w)
{
    clock_gettime(CLOCK_MONOTONIC, &w->wall1);
    w->stop_us = w->sim.now_us;
    if (w->status) /* the end snapshot, when the last invocation finished */
        w->sample(w->sample_arg, w->status, (double)(w->stop_us - w->status_t0_us) / 1000.0, &w->status->end);
}

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

int lg_sim_world_report(struct lg_ctx *ctx, struct lg_sim_world *w, struct lg_trace_plan *p, uint64_t t0_us,
                        struct ilu_error *err)
{
    size_t n_events = p->trace.rows_read;
    double wall = seconds_between(&w->wall0, &w->wall1);
    double simulated_s = (double)(w->stop_us - t0_us) / 1e6;
    json_t *summary = NULL;
    if (w->status)
        lg_status_log_summary(w->status, w->status_every_ms);
    /* run.json: what each function was simulated to take, and the worker's
     * effective config (defaults, file, environment) */
    char *dump = ilu_config_dump(&w->cfg);
    json_t *cfg = dump ? json_loads(dump, 0, NULL) : NULL;
    free(dump);
    ilu_config_hide_secrets(cfg, ilu_worker_config_secrets);
    if (!ctx->manifest_extra)
        ctx->manifest_extra = json_object();
    json_object_set_new(ctx->manifest_extra, "functions", lg_trace_plan_functions_json(p, w->default_start_ms));
    json_object_set_new(ctx->manifest_extra, "simulated_worker_config", cfg ? cfg : json_null());
    /* status.csv is complete (the end snapshot came at stop) and goes before
     * the results: the plots made with them read it */
    if (lg_trace_plan_write_mapping(ctx, p, err) || (w->status && lg_status_log_commit(w->status, err)) ||
        lg_write_results(ctx, "trace", p->inputs, &summary, err)) {
        json_decref(summary);
        return -1;
    }
    struct timespec w2;
    clock_gettime(CLOCK_MONOTONIC, &w2);
    lg_trace_print_summary(ctx, summary);
    json_decref(summary);
    /* wall times go to stderr only: the results must not depend on them */
    fprintf(stderr,
            "iluvatar_load_gen: simulated %zu invocations (%.1f s of trace) in %.3f s of wall time (reading the "
            "trace included): %.0f invocations/s, %.0fx real time; writing the results took %.2f s\n",
            n_events, simulated_s, wall, (double)n_events / wall, simulated_s / wall, seconds_between(&w->wall1, &w2));
    return 0;
}

/* ---- one worker ------------------------------------------------------------- */

static void sample_worker(void *arg, struct lg_status_log *log, double t_ms, struct lg_pool_counts *counts)
{
    struct sim_run *run = arg;
    struct ilu_worker_status st;
    ilu_worker_status_read(run->worker, &st);
    lg_status_log_sample(log, t_ms, run->world.cfg.name, &st, NAN);
    if (counts)
        lg_pool_counts_add(counts, &st);
}

int lg_run_trace_simulated(struct lg_ctx *ctx, const struct lg_trace_opts *o)
{
    struct sim_run run = {.ctx = ctx, .half_net_us = o->network_us / 2};
    struct ilu_backend *backend = NULL;
    struct ilu_error err = {0};
    int code = 1;
    if (lg_sim_world_init(ctx, o, &run.world, &run.plan, &err))
        goto out;
    /* repetition k jitters with simulation.seed + k - 1 */
    if (!(backend = lg_sim_world_backend(&run.world, &run.plan, o->repetition ? o->repetition - 1 : 0))) {
        ilu_err(&err, ILU_ST_INTERNAL, NULL, "out of memory");
        goto out;
    }
    if (!(run.fns = calloc(run.plan.trace.n_fns ? run.plan.trace.n_fns : 1, sizeof *run.fns))) {
        ilu_err(&err, ILU_ST_INTERNAL, NULL, "out of memory");
        goto out;
    }
    if (!(run.worker = ilu_worker_new(&run.world.cfg, &run.world.sim.env, backend, &run.world.log, &err))) {
        ilu_err_wrap(&err, "worker config");
        goto out;
    }
    for (size_t f = 0; f < run.plan.trace.n_fns; f++) {
        const struct lg_fn_plan *pl = &run.plan.fns[f];
        struct ilu_register_req req = {.function_name = pl->name,
                                       .function_version = LG_TRACE_FN_VERSION,
                                       .image_name = pl->image,
                                       .memory_mb = pl->memory_mb,
                                       .cpus = 1,
                                       .compute = pl->compute};
        struct ilu_error e = {0};
        if (ilu_worker_register(run.worker, &req, "setup", &e)) {
            ilu_err(&err, e.status, e.kind, "the simulated worker refuses %s (from %s): %s", pl->name, o->metadata,
                    e.msg);
            goto out;
        }
        run.fns[f] = ilu_worker_function(run.worker, pl->name, LG_TRACE_FN_VERSION);
    }
    /* prewarm as live does: one request at a time, before the clock starts */
    for (size_t f = 0; f < run.plan.trace.n_fns; f++)
        for (unsigned p = 0; p < run.plan.fns[f].prewarms; p++) {
            run.prewarms_pending++;
            struct ilu_error e = {0};
            if (ilu_worker_prewarm(run.worker, run.plan.fns[f].name, LG_TRACE_FN_VERSION, "setup", on_prewarmed, &run,
                                   &e)) {
                ilu_err(&err, e.status, e.kind, "prewarming %s: %s", run.plan.fns[f].name, e.msg);
                goto out;
            }
            while (run.prewarms_pending && ilu_sim_env_step(&run.world.sim))
                ;
            if (run.prewarm_failures) {
                ilu_err(&err, ILU_ST_BAD_GATEWAY, NULL, "prewarming %s: %s", run.plan.fns[f].name, run.prewarm_error);
                goto out;
            }
        }
    /* a live worker's sandbox pool is full by the time the trace starts */
    while (ilu_worker_sandboxes_starting(run.worker) && ilu_sim_env_step(&run.world.sim))
        ;
    run.t0_us = run.world.sim.now_us;
    if (lg_sim_status_start(&run.world, run.t0_us, sample_worker, &run)) {
        ilu_err(&err, ILU_ST_INTERNAL, NULL, "out of memory");
        goto out;
    }
    deliver_due(&run);
    while (!run.world.failed && !lg_sim_all_done(&run.world) && ilu_sim_env_step(&run.world.sim))
        ;
    lg_sim_progress(&run.world);
    lg_progress_end(ctx);
    if (run.world.failed) {
        err = run.world.err;
        goto out;
    }
    if (!lg_sim_all_done(&run.world)) {
        ilu_err(&err, ILU_ST_INTERNAL, NULL,
                "simulation stalled after %zu of %zu invocations (a bug: please report it)", run.world.done,
                run.world.sent);
        goto out;
    }
    lg_sim_world_stop(&run.world);
    ilu_worker_free(run.worker);
    run.worker = NULL;
    if (lg_sim_world_report(ctx, &run.world, &run.plan, run.t0_us, &err))
        goto out;
    code = 0;
out:
    if (code)
        fprintf(stderr, "iluvatar_load_gen: trace (simulation): %s\n", err.msg);
    ilu_worker_free(run.worker);
    if (backend)
        backend->ops->free(backend);
    lg_sim_world_destroy(&run.world);
    lg_trace_plan_free(&run.plan);
    free(run.fns);
    return code;
}
