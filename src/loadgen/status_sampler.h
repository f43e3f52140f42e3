/* A live run's status.csv: every period the target's status (a worker's
 * GET /status, or a controller's GET /workers with each worker's last
 * status) is asked for without waiting and written as it comes; before the
 * clock starts and after the last answer a snapshot is taken and waited for,
 * for summary.json's "pool" counts (status_log.h). */
#ifndef LG_STATUS_SAMPLER_H
#define LG_STATUS_SAMPLER_H

#include <event2/event.h>

#include "status_log.h"

struct lg_status_sampler {
    struct lg_ctx *ctx;
    struct lg_status_log log;
    struct event *tick;
    unsigned every_ms; /* 0: snapshots only, no periodic rows */
    int controller;    /* --target controller */
    int in_flight;     /* a periodic request not answered yet */
    char worker[300];  /* the worker's column for a worker target: host:port */
};

/* The start snapshot (waited for), then a row every every_ms. 0, or -1
 * with err (the target did not answer). lg_status_sampler_free either way. */
int lg_status_sampler_start(struct lg_status_sampler *s, struct lg_ctx *ctx, unsigned every_ms, struct ilu_error *err);
/* No more rows; the end snapshot (waited for), summary.json's "pool", and
 * status.csv renamed into place. 0, or -1 with err. */
int lg_status_sampler_finish(struct lg_status_sampler *s, struct ilu_error *err);
/* Stops the timer, waits for a request in flight, drops an unfinished CSV. */
void lg_status_sampler_free(struct lg_status_sampler *s);

#endif
