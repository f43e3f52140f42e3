#include "status_sampler.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "os/http_client.h"

/* Rows from one answer: a worker's /status, or a controller's /workers
 * (each worker's last status, dated by its age). counts: a snapshot's sums. */
/* One worker's row (and its counts, for a snapshot) from its status object. */
static void take_one(struct lg_status_sampler *s, double t_ms, const char *worker, json_t *status,
                     struct lg_pool_counts *counts)
{
    struct ilu_worker_status st;
    double cpu_util;
    lg_status_of_json(status, &st, &cpu_util);
    lg_status_log_sample(&s->log, t_ms, worker, &st, cpu_util);
    if (counts)
        lg_pool_counts_add(counts, &st);
}

/* Rows from one answer: a worker's /status, or a controller's /workers
 * (each worker's last status, dated by its age). counts: a snapshot's sums. */
static void take(struct lg_status_sampler *s, json_t *answer, struct lg_pool_counts *counts)
{
    /* the start snapshot is taken before the clock starts: row at t = 0 */
    double now = s->ctx->start_ns ? lg_now_ms(s->ctx) : 0;
    if (!s->controller) {
        take_one(s, now, s->worker, answer, counts);
        return;
    }
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(answer, "workers"), i, w)
    {
        json_t *status = json_object_get(w, "status");
        const char *name = json_string_value(json_object_get(w, "name"));
        if (!json_is_object(status) || !name)
            continue;
        json_t *age = json_object_get(w, "last_ok_ms_ago");
        double t = json_is_integer(age) && s->ctx->start_ns ? now - (double)json_integer_value(age) : now;
        take_one(s, t, name, status, counts);
    }
}

static void on_tick_answer(void *arg, int status, json_t *answer, const char *transport_error)
{
    struct lg_status_sampler *s = arg;
    s->in_flight = 0;
    if (status == 200) /* a missed sample is a gap in status.csv, not a failed run */
        take(s, answer, NULL);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct lg_status_sampler *s = arg;
    if (s->in_flight)
        return;
    const char *path = s->controller ? "/workers" : "/status";
    if (!ilu_http_client_request(s->ctx->http, path, NULL, 0, "status", on_tick_answer, s))
        s->in_flight = 1;
}

/* The controller's view of a worker is its last status poll: wait until
 * every worker's was taken after since_ms, so the snapshot includes all
 * that happened before it (3 s at most; then the last one there is). */
static int fresh(json_t *answer, double asked_ago_ms)
{
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(answer, "workers"), i, w)
    {
        json_t *age = json_object_get(w, "last_ok_ms_ago");
        if (json_is_integer(age) && (double)json_integer_value(age) > asked_ago_ms)
            return 0;
    }
    return 1;
}

static int snapshot(struct lg_status_sampler *s, struct lg_pool_counts *counts, struct ilu_error *err)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const char *path = s->controller ? "/workers" : "/status";
    for (int tries = 0;; tries++) {
        json_t *answer = NULL;
        int status = ilu_http_client_call(s->ctx->http, path, NULL, &answer, err);
        if (status != 200) {
            json_decref(answer);
            if (status)
                ilu_err(err, ILU_ST_BAD_GATEWAY, NULL, "GET %s answered %d", path, status);
            return -1;
        }
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double asked_ago_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        if (!s->controller || tries >= 60 || fresh(answer, asked_ago_ms)) {
            *counts = (struct lg_pool_counts){0};
            take(s, answer, counts);
            json_decref(answer);
            return 0;
        }
        json_decref(answer);
        nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
    }
}

int lg_status_sampler_start(struct lg_status_sampler *s, struct lg_ctx *ctx, unsigned every_ms, struct ilu_error *err)
{
    *s = (struct lg_status_sampler){.ctx = ctx, .every_ms = every_ms, .controller = !strcmp(ctx->target, "controller")};
    snprintf(s->worker, sizeof s->worker, "%s:%u", ctx->host, ctx->port);
    lg_status_log_init(&s->log, ctx);
    if (snapshot(s, &s->log.start, err)) {
        ilu_err_wrap(err, "the status before the run");
        return -1;
    }
    if (every_ms) {
        if (!(s->tick = event_new(ctx->base, -1, EV_PERSIST, on_tick, s)))
            return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        struct timeval tv = {every_ms / 1000, (every_ms % 1000) * 1000};
        event_add(s->tick, &tv);
    }
    return 0;
}

static void stop(struct lg_status_sampler *s)
{
    if (s->tick)
        event_free(s->tick);
    s->tick = NULL;
    while (s->in_flight && s->ctx && event_base_loop(s->ctx->base, EVLOOP_ONCE) == 0)
        ;
}

int lg_status_sampler_finish(struct lg_status_sampler *s, struct ilu_error *err)
{
    stop(s);
    if (snapshot(s, &s->log.end, err)) {
        ilu_err_wrap(err, "the status after the run");
        return -1;
    }
    lg_status_log_summary(&s->log, s->every_ms);
    return lg_status_log_commit(&s->log, err);
}

void lg_status_sampler_free(struct lg_status_sampler *s)
{
    stop(s);
    lg_status_log_free(&s->log);
}
