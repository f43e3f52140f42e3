/* `trace`, live: register the planned functions on the worker, optionally
 * prewarm them, then send every invocation at its invoke_time_ms, open loop,
 * recording how late each one left against its schedule. */
#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen.h"
#include "trace_plan.h"
#include "status_sampler.h"
#include "worker_tally.h"

struct trace_run;

struct sent {
    struct trace_run *run;
    uint64_t seq; /* its record in the report */
};

struct trace_run {
    struct lg_ctx *ctx;
    struct lg_trace_plan plan;
    struct sent *sent; /* per event: the answer callback's argument */
    size_t next, done, errors;
    struct event *timer, *progress;
    int failed;
    int via_controller;              /* --target controller: which worker answered */
    struct lg_worker_tally tally;    /* workers.csv and inputs.per_worker */
    struct lg_status_sampler status; /* status.csv and summary.json's pool */
};

static void on_answer(void *arg, int status, json_t *answer, const char *transport_error)
{
    struct sent *s = arg;
    struct trace_run *run = s->run;
    struct ilu_inv_record *rec = ilu_report_get(&run->ctx->report, s->seq);
    rec->end_ms = lg_now_ms(run->ctx);
    ilu_report_fill_from_answer(rec, status, answer);
    if (run->via_controller)
        lg_worker_tally_answer(&run->tally, rec, answer);
    if (!status) {
        free(rec->error);
        rec->error = strdup(transport_error ? transport_error : "no answer");
    }
    run->done++;
    run->errors += !rec->success;
    ilu_report_complete(&run->ctx->report, s->seq); /* output errors: lg_write_results says */
    if (run->done == run->plan.trace.n_events)
        event_base_loopbreak(run->ctx->base);
}

static void schedule_next(struct trace_run *run);

static void on_due(evutil_socket_t fd, short what, void *arg)
{
    struct trace_run *run = arg;
    struct lg_ctx *ctx = run->ctx;
    const struct ilu_trace *t = &run->plan.trace;
    double now = lg_now_ms(ctx);
    /* everything due by now leaves now; lateness is measured per send */
    while (run->next < t->n_events && t->events[run->next].time_ms <= now) {
        size_t i = run->next++;
        struct ilu_inv_record *rec =
            lg_trace_record(ctx, &run->plan, ctx->tid_prefix, i, &t->events[i], &run->sent[i].seq);
        if (!rec) {
            run->failed = 1;
            event_base_loopbreak(ctx->base);
            return;
        }
        rec->send_ms = lg_now_ms(ctx);
        const char *body = run->plan.fns[t->events[i].fn].invoke_body;
        if (ilu_http_client_request(ctx->http, "/invoke", body, strlen(body), rec->tid, on_answer, &run->sent[i])) {
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
    const struct ilu_trace *t = &run->plan.trace;
    if (run->next >= t->n_events)
        return;
    double wait_ms = t->events[run->next].time_ms - lg_now_ms(run->ctx);
    if (wait_ms < 0)
        wait_ms = 0;
    struct timeval tv = {.tv_sec = (time_t)(wait_ms / 1000), .tv_usec = (suseconds_t)fmod(wait_ms * 1000.0, 1000000.0)};
    evtimer_add(run->timer, &tv);
}

static void on_progress(evutil_socket_t fd, short what, void *arg)
{
    struct trace_run *run = arg;
    lg_progress(run->ctx, "trace", run->done, run->plan.trace.n_events, run->errors);
}

static int register_all(struct trace_run *run, const struct lg_trace_opts *o, struct ilu_error *err)
{
    struct lg_ctx *ctx = run->ctx;
    for (size_t f = 0; f < run->plan.trace.n_fns; f++) {
        const struct lg_fn_plan *pl = &run->plan.fns[f];
        if (lg_register(ctx, pl->name, LG_TRACE_FN_VERSION, pl->image, pl->memory_mb, 1, pl->compute, err)) {
            if (err->status == ILU_ST_CONFLICT) /* an earlier run's registration with other settings */
                ilu_err_wrap(err,
                             "%s-%s is registered on the target with another image or memory (an earlier run "
                             "with another --load-type or metadata?); restart the worker (its registrations go with "
                             "it) or rename the trace's functions",
                             pl->name, LG_TRACE_FN_VERSION);
            return -1;
        }
    }
    for (size_t f = 0; f < run->plan.trace.n_fns; f++)
        for (unsigned p = 0; p < run->plan.fns[f].prewarms; p++)
            if (lg_prewarm(ctx, run->plan.fns[f].name, LG_TRACE_FN_VERSION, err))
                return -1;
    return 0;
}

int lg_run_trace(struct lg_ctx *ctx, const struct lg_trace_opts *o)
{
    struct ilu_error err = {0};
    struct trace_run run = {.ctx = ctx};
    int code = 1;
    if (lg_trace_plan_load(ctx, o, &run.plan, 0, &err))
        goto out;
    size_t n_events = run.plan.trace.n_events;
    if (!(run.sent = calloc(n_events, sizeof *run.sent))) {
        ilu_err(&err, ILU_ST_INTERNAL, NULL, "out of memory for %zu invocations", n_events);
        goto out;
    }
    if (o->repetition)
        json_object_set_new(run.plan.inputs, "repetition", json_integer(o->repetition));
    /* a repetition starts as the others: no idle container left by the one before */
    if (lg_check_target(ctx, &err) || (o->repetition && lg_clean(ctx, &err)) || register_all(&run, o, &err) ||
        lg_status_sampler_start(&run.status, ctx, lg_status_every_ms(o), &err))
        goto out;
    for (size_t i = 0; i < n_events; i++)
        run.sent[i] = (struct sent){.run = &run};
    if ((run.via_controller = !strcmp(ctx->target, "controller")))
        lg_worker_tally_init(&run.tally, ctx);
    run.timer = evtimer_new(ctx->base, on_due, &run);
    run.progress = event_new(ctx->base, -1, EV_PERSIST, on_progress, &run);
    struct timeval every = {0, 250000};
    event_add(run.progress, &every);
    lg_start_clock(ctx);
    schedule_next(&run);
    event_base_dispatch(ctx->base);
    lg_progress(ctx, "trace", run.done, n_events, run.errors);
    lg_progress_end(ctx);
    if (run.failed || run.done != n_events) {
        ilu_err(&err, ILU_ST_INTERNAL, NULL, "run interrupted after %zu of %zu invocations; no results written",
                run.done, n_events);
        goto out;
    }
    json_t *summary = NULL;
    if (lg_status_sampler_finish(&run.status, &err))
        goto out;
    if (run.via_controller)
        lg_worker_tally_summary(&run.tally, run.plan.inputs);
    ctx->manifest_extra = json_pack("{s:o}", "functions", lg_trace_plan_functions_json(&run.plan, NAN));
    if (lg_trace_plan_write_mapping(ctx, &run.plan, &err) ||
        lg_write_results(ctx, "trace", run.plan.inputs, &summary, &err) ||
        (run.via_controller && lg_worker_tally_commit(&run.tally, &err))) {
        json_decref(summary);
        goto out;
    }
    lg_trace_print_summary(ctx, summary);
    json_decref(summary);
    code = 0;
out:
    if (code)
        fprintf(stderr, "iluvatar_load_gen: trace: %s\n", err.msg);
    if (run.timer)
        event_free(run.timer);
    if (run.progress)
        event_free(run.progress);
    free(run.sent);
    lg_worker_tally_free(&run.tally);
    lg_status_sampler_free(&run.status);
    ilu_report_on_final(&ctx->report, NULL, NULL);
    lg_trace_plan_free(&run.plan);
    return code;
}
