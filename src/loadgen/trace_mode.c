/* `trace`: register the trace's functions, optionally prewarm them, then send
 * every invocation at its invoke_time_ms, open loop, recording how late each
 * one left against its schedule. */
#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/trace.h"
#include "loadgen.h"

#define FN_VERSION "1"

struct trace_run;

struct sent {
    struct trace_run *run;
    size_t idx;
};

struct trace_run {
    struct lg_ctx *ctx;
    struct ilu_trace trace;
    char **bodies;        /* per function: the invoke request body, built once */
    unsigned *report_fn;  /* trace function -> report function index */
    struct sent *sent;    /* per event */
    size_t next, done, errors;
    struct event *timer, *progress;
    int failed;
};

static char *read_whole_file(const char *path, char *err, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, n, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    if (!buf)
        snprintf(err, n, "out of memory reading %s", path);
    else
        buf[len] = 0;
    return buf;
}

/* Median of a JSON array of numbers; NAN when empty. */
static double json_median(json_t *arr)
{
    size_t n = json_array_size(arr), k = 0;
    double *v = malloc((n + 1) * sizeof *v);
    if (!v)
        return NAN;
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) if (json_is_number(x)) v[k++] = json_number_value(x);
    double m = NAN;
    if (k) {
        for (size_t a = 1; a < k; a++) /* insertion sort: a handful of samples */
            for (size_t b = a; b > 0 && v[b - 1] > v[b]; b--) {
                double t = v[b];
                v[b] = v[b - 1];
                v[b - 1] = t;
            }
        m = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
    }
    free(v);
    return m;
}

/* --load-type functions: the benchmarked function whose median warm time
 * is closest to the trace function's warm duration. */
static const char *closest_benchmark(json_t *data, double warm_ms, double *chosen_ms, const char **chosen_name)
{
    const char *best_image = NULL;
    double best = INFINITY;
    const char *key;
    json_t *entry;
    json_object_foreach(data, key, entry)
    {
        const char *image = json_string_value(json_object_get(entry, "image_name"));
        json_t *cpu = json_object_get(json_object_get(entry, "resource_data"), "CPU");
        double m = json_median(json_object_get(cpu, "warm_results_sec")) * 1000.0;
        if (!image || isnan(m))
            continue;
        if (fabs(m - warm_ms) < best) {
            best = fabs(m - warm_ms);
            best_image = image;
            *chosen_ms = m;
            *chosen_name = key;
        }
    }
    return best_image;
}

static int prepare_functions(struct trace_run *run, const struct lg_trace_opts *o, json_t *inputs, char *err,
                             size_t n)
{
    struct lg_ctx *ctx = run->ctx;
    struct ilu_trace *t = &run->trace;
    json_t *data = NULL;
    char synthetic[PATH_MAX];
    int functions_load = !strcmp(o->load_type, "functions");
    if (functions_load) {
        json_error_t jerr;
        if (!o->function_data) {
            snprintf(err, n, "--load-type functions needs --function-data (a benchmark JSON)");
            return -1;
        }
        data = json_load_file(o->function_data, 0, &jerr);
        if (!json_is_object(data)) {
            snprintf(err, n, "%s:%d: %s", o->function_data, jerr.line,
                     data ? "not a JSON object of benchmarked functions" : jerr.text);
            json_decref(data);
            return -1;
        }
    } else if (strcmp(o->load_type, "synthetic")) {
        snprintf(err, n, "--load-type must be synthetic or functions, not %s", o->load_type);
        return -1;
    } else if (lg_repo_path(ctx, "functions/synthetic", synthetic, sizeof synthetic)) {
        snprintf(err, n, "functions/synthetic not found beside the binary (in %s)", ctx->repo_dir);
        return -1;
    }
    json_t *mapping = json_object();
    int rc = 0;
    for (size_t f = 0; f < t->n_fns && !rc; f++) {
        struct ilu_trace_fn *fn = &t->fns[f];
        const char *image = synthetic;
        json_t *args;
        if (functions_load) {
            double chosen_ms = 0;
            const char *chosen = NULL;
            image = closest_benchmark(data, fn->warm_ms, &chosen_ms, &chosen);
            if (!image) {
                snprintf(err, n, "%s has no function with warm_results_sec", o->function_data);
                rc = -1;
                break;
            }
            json_object_set_new(mapping, fn->name,
                                json_pack("{s:s, s:s, s:f, s:f}", "benchmark", chosen, "image_name", image,
                                          "benchmark_warm_ms", chosen_ms, "trace_warm_ms", fn->warm_ms));
            if (!ctx->quiet)
                fprintf(stderr, "Function mapped to benchmark code: %s -> %s (warm %.1f ms vs %.1f ms)\n", fn->name,
                        chosen, chosen_ms, fn->warm_ms);
            args = json_object();
        } else {
            args = json_pack("{s:f, s:f}", "cold_ms", fn->cold_ms, "warm_ms", fn->warm_ms);
        }
        /* a Python container needs ~20 MB of its own before the function allocates */
        uint32_t memory = fn->mem_mb < 32 ? 32 : fn->mem_mb;
        rc = lg_register(ctx, fn->name, FN_VERSION, image, memory, 1, err, n);
        json_t *body = json_pack("{s:s, s:s, s:o}", "function_name", fn->name, "function_version", FN_VERSION,
                                 "json_args", args);
        run->bodies[f] = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        long idx = ilu_report_function(&ctx->report, fn->name, FN_VERSION);
        if (!rc && (idx < 0 || !run->bodies[f])) {
            snprintf(err, n, "out of memory");
            rc = -1;
        }
        run->report_fn[f] = (unsigned)idx;
    }
    for (size_t f = 0; f < t->n_fns && !rc; f++)
        for (unsigned p = 0; p < o->prewarm && !rc; p++)
            rc = lg_prewarm(ctx, t->fns[f].name, FN_VERSION, err, n);
    if (functions_load)
        json_object_set_new(inputs, "function_mapping", mapping);
    else
        json_decref(mapping);
    json_decref(data);
    return rc;
}

static void on_answer(void *arg, int status, json_t *answer, const char *transport_error)
{
    struct sent *s = arg;
    struct trace_run *run = s->run;
    struct ilu_inv_record *rec = &run->ctx->report.recs[s->idx];
    rec->end_ms = lg_now_ms(run->ctx);
    ilu_report_fill_from_answer(rec, status, answer);
    if (!status) {
        free(rec->error);
        rec->error = strdup(transport_error ? transport_error : "no answer");
    }
    run->done++;
    run->errors += !rec->success;
    if (run->done == run->trace.n_events)
        event_base_loopbreak(run->ctx->base);
}

static void schedule_next(struct trace_run *run);

static void on_due(evutil_socket_t fd, short what, void *arg)
{
    struct trace_run *run = arg;
    struct lg_ctx *ctx = run->ctx;
    double now = lg_now_ms(ctx);
    /* everything due by now leaves now; lateness is measured per send */
    while (run->next < run->trace.n_events && run->trace.events[run->next].time_ms <= now) {
        size_t i = run->next++;
        struct ilu_inv_record *rec = &ctx->report.recs[i];
        const struct ilu_trace_event *ev = &run->trace.events[i];
        rec->send_ms = lg_now_ms(ctx);
        const char *body = run->bodies[ev->fn];
        if (lg_http_request(ctx->http, "/invoke", body, strlen(body), rec->tid, on_answer, &run->sent[i])) {
            run->failed = 1;
            event_base_loopbreak(ctx->base);
            return;
        }
        now = rec->send_ms;
    }
    schedule_next(run);
}

static void schedule_next(struct trace_run *run)
{
    if (run->next >= run->trace.n_events)
        return;
    double wait_ms = run->trace.events[run->next].time_ms - lg_now_ms(run->ctx);
    if (wait_ms < 0)
        wait_ms = 0;
    struct timeval tv = {.tv_sec = (time_t)(wait_ms / 1000),
                         .tv_usec = (suseconds_t)fmod(wait_ms * 1000.0, 1000000.0)};
    evtimer_add(run->timer, &tv);
}

static void on_progress(evutil_socket_t fd, short what, void *arg)
{
    struct trace_run *run = arg;
    lg_progress(run->ctx, "trace", run->done, run->trace.n_events, run->errors);
}

int lg_run_trace(struct lg_ctx *ctx, const struct lg_trace_opts *o)
{
    char err[1024] = "";
    struct trace_run run = {.ctx = ctx};
    int code = 1;
    char *meta_text = NULL, *trace_text = NULL;
    json_t *inputs = json_pack("{s:s, s:s, s:s, s:i}", "input", o->input, "metadata", o->metadata, "load_type",
                               o->load_type, "prewarm", (int)o->prewarm);
    struct ilu_error perr = {0};
    if (!(meta_text = read_whole_file(o->metadata, err, sizeof err)) ||
        !(trace_text = read_whole_file(o->input, err, sizeof err)))
        goto out;
    if (ilu_trace_parse_metadata(&run.trace, meta_text, o->metadata, &perr) ||
        ilu_trace_parse_events(&run.trace, trace_text, o->input, &perr)) {
        snprintf(err, sizeof err, "%s", perr.msg);
        goto out;
    }
    if (!run.trace.n_events) {
        snprintf(err, sizeof err, "%s has no invocations", o->input);
        goto out;
    }
    for (size_t f = 0; f < run.trace.n_fns; f++)
        if (!run.trace.fns[f].invocations && !ctx->quiet)
            fprintf(stderr, "iluvatar_load_gen: note: %s in %s is never invoked by %s\n", run.trace.fns[f].name,
                    o->metadata, o->input);
    if (o->function_data)
        json_object_set_new(inputs, "function_data", json_string(o->function_data));
    json_object_set_new(inputs, "functions", json_integer((json_int_t)run.trace.n_fns));
    json_object_set_new(inputs, "trace_invocations", json_integer((json_int_t)run.trace.n_events));
    json_object_set_new(inputs, "trace_duration_ms", json_real(run.trace.events[run.trace.n_events - 1].time_ms));

    run.bodies = calloc(run.trace.n_fns, sizeof *run.bodies);
    run.report_fn = calloc(run.trace.n_fns, sizeof *run.report_fn);
    run.sent = calloc(run.trace.n_events, sizeof *run.sent);
    if (!run.bodies || !run.report_fn || !run.sent) {
        snprintf(err, sizeof err, "out of memory for %zu invocations", run.trace.n_events);
        goto out;
    }
    if (lg_check_target(ctx, err, sizeof err) || prepare_functions(&run, o, inputs, err, sizeof err))
        goto out;
    /* all records exist before the first send, so their addresses are stable */
    for (size_t i = 0; i < run.trace.n_events; i++) {
        struct ilu_inv_record *rec = ilu_report_add(&ctx->report, run.report_fn[run.trace.events[i].fn]);
        if (!rec) {
            snprintf(err, sizeof err, "out of memory for %zu invocations", run.trace.n_events);
            goto out;
        }
        rec->scheduled_ms = run.trace.events[i].time_ms;
        snprintf(rec->tid, sizeof rec->tid, "%s-%zu", ctx->tid_prefix, i);
        run.sent[i] = (struct sent){&run, i};
    }
    run.timer = evtimer_new(ctx->base, on_due, &run);
    run.progress = event_new(ctx->base, -1, EV_PERSIST, on_progress, &run);
    struct timeval every = {0, 250000};
    event_add(run.progress, &every);
    lg_start_clock(ctx);
    schedule_next(&run);
    event_base_dispatch(ctx->base);
    lg_progress(ctx, "trace", run.done, run.trace.n_events, run.errors);
    lg_progress_end(ctx);
    if (run.failed || run.done != run.trace.n_events) {
        snprintf(err, sizeof err, "run interrupted after %zu of %zu invocations; no results written", run.done,
                 run.trace.n_events);
        goto out;
    }
    json_t *summary = NULL;
    if (lg_write_results(ctx, "trace", inputs, &summary, err, sizeof err))
        goto out;
    json_t *lat = json_object_get(summary, "latency_ms"), *late = json_object_get(summary, "lateness_ms");
    fprintf(stderr,
            "iluvatar_load_gen: %zu invocations, %zu errors, throughput %.1f/s, latency p50 %.3f p99 %.3f ms, "
            "lateness p99 %.3f ms; results in %s\n",
            run.trace.n_events, run.errors, json_number_value(json_object_get(summary, "throughput_per_s")),
            json_number_value(json_object_get(lat, "p50")), json_number_value(json_object_get(lat, "p99")),
            json_number_value(json_object_get(late, "p99")), ctx->out_dir);
    json_decref(summary);
    code = 0;
out:
    if (code)
        fprintf(stderr, "iluvatar_load_gen: trace: %s\n", err);
    if (run.timer)
        event_free(run.timer);
    if (run.progress)
        event_free(run.progress);
    for (size_t f = 0; run.bodies && f < run.trace.n_fns; f++)
        free(run.bodies[f]);
    free(run.bodies);
    free(run.report_fn);
    free(run.sent);
    free(meta_text);
    free(trace_text);
    json_decref(inputs);
    ilu_trace_free(&run.trace);
    return code;
}
