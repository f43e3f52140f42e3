/* `scaling`: closed-loop load with a growing number of clients, as
 * Ilúvatar's scaling.rs. For T = threads_from..threads_to (one step each):
 * register T copies of the function named "scaling-T" with versions
 * "1".."T", prewarm each once, then run T closed-loop clients for the step's
 * duration on the single-threaded event loop: client c (0-based) invokes its
 * own version c+1 again as soon as the previous answer arrives. After the
 * duration no new invocation leaves and the step ends when the in-flight
 * ones have answered. Every invocation is recorded with client = c and
 * step = T; all steps share one report, written once at the end. */
#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loadgen.h"

struct scaling_run;

struct client {
    struct scaling_run *run;
    unsigned idx; /* 0-based; invokes version idx + 1 */
    unsigned fn;  /* report function index */
    char *body;   /* invoke request body, built once */
    uint64_t rec; /* the record in flight (records move: found by its sequence number) */
    uint64_t sent;
};

struct scaling_run {
    struct lg_ctx *ctx;
    unsigned step;
    double duration_ms, step_start_ms;
    struct client *clients;
    unsigned n_clients;
    unsigned in_flight;
    uint64_t done, errors;
    int stopping, finished, failed;
    struct event *stop_timer, *progress;
};

static void finish_if_drained(struct scaling_run *run)
{
    if (run->stopping && !run->in_flight && !run->finished) {
        run->finished = 1;
        event_base_loopbreak(run->ctx->base);
    }
}

static void on_answer(void *arg, int status, json_t *answer, const char *transport_error);

/* Send client c's next invocation, recording it. */
static int send_next(struct client *c)
{
    struct scaling_run *run = c->run;
    struct lg_ctx *ctx = run->ctx;
    struct ilu_inv_record *rec = ilu_report_add(&ctx->report, c->fn, &c->rec);
    if (!rec)
        return -1;
    rec->client = (int)c->idx;
    rec->step = (int)run->step;
    snprintf(rec->tid, sizeof rec->tid, "%s-s%u-c%u-%llu", ctx->tid_prefix, run->step, c->idx,
             (unsigned long long)c->sent++);
    rec->send_ms = lg_now_ms(ctx);
    if (ilu_http_client_request(ctx->http, "/invoke", c->body, strlen(c->body), rec->tid, on_answer, c))
        return -1;
    run->in_flight++;
    return 0;
}

static void on_answer(void *arg, int status, json_t *answer, const char *transport_error)
{
    struct client *c = arg;
    struct scaling_run *run = c->run;
    struct lg_ctx *ctx = run->ctx;
    struct ilu_inv_record *rec = ilu_report_get(&ctx->report, c->rec);
    rec->end_ms = lg_now_ms(ctx);
    ilu_report_fill_from_answer(rec, status, answer);
    if (!status) {
        free(rec->error);
        rec->error = strdup(transport_error ? transport_error : "no answer");
    }
    run->in_flight--;
    run->done++;
    run->errors += !rec->success;
    ilu_report_complete(&ctx->report, c->rec); /* output errors: lg_write_results says */
    if (!run->stopping && send_next(c)) {
        run->failed = 1;
        run->stopping = 1;
    }
    finish_if_drained(run);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    struct scaling_run *run = arg;
    run->stopping = 1;
    finish_if_drained(run);
}

static void show_progress(struct scaling_run *run)
{
    char what[160];
    snprintf(what, sizeof what, "scaling, %u client%s, %llu answers; ms into the step", run->step,
             run->step == 1 ? "" : "s", (unsigned long long)run->done);
    double elapsed = lg_now_ms(run->ctx) - run->step_start_ms;
    if (elapsed > run->duration_ms)
        elapsed = run->duration_ms;
    lg_progress(run->ctx, what, (uint64_t)(elapsed < 0 ? 0 : elapsed), (uint64_t)run->duration_ms, run->errors);
}

static void on_progress(evutil_socket_t fd, short what, void *arg)
{
    show_progress(arg);
}

/* The step's line on stderr: clients, throughput, p50, p99 (the summary's
 * "steps" entry for it). */
static void print_step(struct lg_ctx *ctx, unsigned step)
{
    json_t *b = ilu_report_step_summary(&ctx->report, (int)step);
    if (!b)
        return;
    json_t *lat = json_object_get(b, "latency_ms");
    fprintf(stderr,
            "iluvatar_load_gen: step %u: %u clients, %lld invocations, %lld errors, throughput %.1f/s, "
            "latency p50 %.3f p99 %.3f ms\n",
            step, step, json_integer_value(json_object_get(b, "invocations")),
            json_integer_value(json_object_get(b, "failures")),
            json_number_value(json_object_get(b, "throughput_per_s")), json_number_value(json_object_get(lat, "p50")),
            json_number_value(json_object_get(lat, "p99")));
    json_decref(b);
}

/* Register and prewarm scaling-<T> versions 1..T; build the clients. */
static int prepare_step(struct scaling_run *run, const struct lg_scaling_opts *o, const char *image, json_t *args,
                        struct ilu_error *err)
{
    struct lg_ctx *ctx = run->ctx;
    char name[64], version[16];
    snprintf(name, sizeof name, "scaling-%u", run->step);
    run->clients = calloc(run->step, sizeof *run->clients);
    if (!run->clients) {
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory for %u clients", run->step);
    }
    run->n_clients = run->step;
    for (unsigned c = 0; c < run->step; c++) {
        struct client *cl = &run->clients[c];
        snprintf(version, sizeof version, "%u", c + 1);
        if (lg_register(ctx, name, version, image, o->memory_mb, 1, 0, err))
            return -1;
        long idx = ilu_report_function(&ctx->report, name, version);
        json_t *body =
            json_pack("{s:s, s:s, s:O}", "function_name", name, "function_version", version, "json_args", args);
        cl->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        if (idx < 0 || !cl->body)
            return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        cl->run = run;
        cl->idx = c;
        cl->fn = (unsigned)idx;
    }
    /* one warm container per client, so the step measures warm invocations
     * (a failed prewarm only means that client's first invocation is cold) */
    for (unsigned c = 0; c < run->step; c++) {
        struct ilu_error perr = {0};
        snprintf(version, sizeof version, "%u", c + 1);
        if (lg_prewarm(ctx, name, version, &perr) && !ctx->quiet)
            fprintf(stderr, "iluvatar_load_gen: note: %s\n", perr.msg);
    }
    return 0;
}

static void free_step(struct scaling_run *run)
{
    for (unsigned c = 0; run->clients && c < run->n_clients; c++)
        free(run->clients[c].body);
    free(run->clients);
    run->clients = NULL;
    run->n_clients = 0;
}

/* One step: T clients closed-loop for the duration, then drain.
 * Returns 0, or -1 with err (interrupted, out of memory). */
static int run_step(struct scaling_run *run, struct ilu_error *err)
{
    struct lg_ctx *ctx = run->ctx;
    run->in_flight = 0;
    run->done = run->errors = 0;
    run->stopping = run->finished = run->failed = 0;
    run->step_start_ms = lg_now_ms(ctx);
    struct timeval dur = {.tv_sec = (time_t)(run->duration_ms / 1000),
                          .tv_usec = (suseconds_t)fmod(run->duration_ms * 1000.0, 1000000.0)};
    evtimer_add(run->stop_timer, &dur);
    struct timeval every = {0, 250000};
    event_add(run->progress, &every);
    for (unsigned c = 0; c < run->n_clients && !run->failed; c++)
        if (send_next(&run->clients[c]))
            run->failed = 1;
    if (run->failed)
        run->stopping = 1;
    finish_if_drained(run);
    if (!run->finished)
        event_base_dispatch(ctx->base);
    evtimer_del(run->stop_timer);
    event_del(run->progress);
    show_progress(run);
    lg_progress_end(ctx);
    if (!run->finished)
        return ilu_err(err, ILU_ST_INTERNAL, NULL,
                       "interrupted during the %u-client step with %u invocations in flight; no results written",
                       run->step, run->in_flight);
    if (run->failed)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory during the %u-client step", run->step);
    return 0;
}

int lg_run_scaling(struct lg_ctx *ctx, const struct lg_scaling_opts *o)
{
    struct ilu_error err = {0};
    if (!o->threads_from || !o->threads_to) {
        fprintf(stderr, "iluvatar_load_gen: scaling needs --threads-from and --threads-to (at least 1)\n");
        return 64;
    }
    if (o->threads_to < o->threads_from) {
        fprintf(stderr, "iluvatar_load_gen: scaling: --threads-to %u is below --threads-from %u\n", o->threads_to,
                o->threads_from);
        return 64;
    }
    if (o->threads_to > 1000) {
        fprintf(stderr, "iluvatar_load_gen: scaling: --threads-to %u is more than 1000 clients\n", o->threads_to);
        return 64;
    }
    if (!(o->duration_s > 0) || o->duration_s > 86400) {
        fprintf(stderr, "iluvatar_load_gen: scaling: --duration must be between 0 and 86400 seconds\n");
        return 64;
    }
    if (!o->memory_mb) {
        fprintf(stderr, "iluvatar_load_gen: scaling: --memory must be positive\n");
        return 64;
    }
    /* the function folder: absolute path of a folder with main.py */
    char image[PATH_MAX], main_py[PATH_MAX + 16];
    struct stat st;
    if (o->function_dir) {
        if (!realpath(o->function_dir, image)) {
            fprintf(stderr, "iluvatar_load_gen: scaling: --function-dir %s: %s\n", o->function_dir, strerror(errno));
            return 64;
        }
    } else if (lg_repo_path(ctx, "functions/hello", image, sizeof image)) {
        fprintf(stderr,
                "iluvatar_load_gen: scaling: functions/hello not found beside the binary (in %s); "
                "give --function-dir\n",
                ctx->repo_dir);
        return 64;
    }
    snprintf(main_py, sizeof main_py, "%s/main.py", image);
    if (stat(main_py, &st) || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "iluvatar_load_gen: scaling: %s is not a function folder (no main.py)\n", image);
        return 64;
    }
    json_error_t jerr;
    json_t *args =
        o->args_json ? json_loads(o->args_json, JSON_DECODE_ANY, &jerr) : json_pack("{s:s}", "name", "TESTING");
    if (!json_is_object(args)) {
        fprintf(stderr, "iluvatar_load_gen: scaling: --args-json must be a JSON object%s%s\n", args ? "" : ": ",
                args ? "" : jerr.text);
        json_decref(args);
        return 64;
    }

    int code = 1;
    struct scaling_run run = {.ctx = ctx, .duration_ms = o->duration_s * 1000.0};
    json_t *inputs = json_pack("{s:i, s:i, s:f, s:s, s:i, s:O}", "threads_from", (int)o->threads_from, "threads_to",
                               (int)o->threads_to, "duration_s", o->duration_s, "function_dir", image, "memory_mb",
                               (int)o->memory_mb, "args", args);
    run.stop_timer = evtimer_new(ctx->base, on_stop, &run);
    run.progress = event_new(ctx->base, -1, EV_PERSIST, on_progress, &run);
    if (!inputs || !run.stop_timer || !run.progress) {
        ilu_err(&err, ILU_ST_INTERNAL, NULL, "out of memory");
        goto out;
    }
    if (lg_check_target(ctx, &err))
        goto out;
    lg_start_clock(ctx);
    for (unsigned t = o->threads_from; t <= o->threads_to; t++) {
        run.step = t;
        /* the previous step's idle containers would hold the worker's memory */
        struct ilu_error cerr = {0};
        if (t > o->threads_from && lg_clean(ctx, &cerr) && !ctx->quiet)
            fprintf(stderr, "iluvatar_load_gen: note: %s\n", cerr.msg);
        int rc = prepare_step(&run, o, image, args, &err);
        if (!rc)
            rc = run_step(&run, &err);
        free_step(&run);
        if (rc)
            goto out;
        if (!ctx->quiet)
            print_step(ctx, t);
    }
    json_t *summary = NULL;
    if (lg_write_results(ctx, "scaling", inputs, &summary, &err))
        goto out;
    size_t n = (size_t)ilu_report_count(&ctx->report), successes = (size_t)ilu_report_successes(&ctx->report);
    fprintf(stderr, "iluvatar_load_gen: scaling %u..%u clients: %zu invocations, %zu errors; results in %s\n",
            o->threads_from, o->threads_to, n, n - successes, ctx->out_dir);
    json_decref(summary);
    if (!successes)
        ilu_err(&err, ILU_ST_BAD_GATEWAY, NULL, "no invocation succeeded (see error_kind/error in %s/invocations.csv)",
                ctx->out_dir);
    else
        code = 0;
out:
    if (code)
        fprintf(stderr, "iluvatar_load_gen: scaling: %s\n", err.msg);
    free_step(&run);
    if (run.stop_timer)
        event_free(run.stop_timer);
    if (run.progress)
        event_free(run.progress);
    json_decref(inputs);
    json_decref(args);
    return code;
}
