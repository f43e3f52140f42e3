/* struct ilu_ctl_transport over HTTP/1.1 (docs/api.md): the controller talks
 * to each worker through keep-alive ilu_http_client pools, one per timeout the core
 * asks for (status polls and registrations: health.request_timeout_ms scale;
 * invocations: invocation.timeout_sec), so a pool's coarse whole-second
 * connection timeout matches its calls. Each call also gets its own timer, so
 * a worker that hangs fails the call after exactly the core's timeout. */
#ifndef ILU_CTL_TRANSPORT_HTTP_H
#define ILU_CTL_TRANSPORT_HTTP_H

#include "controller/controller.h"

struct event_base;
struct ilu_ctl_http;

/* log is borrowed. NULL when out of memory. */
struct ilu_ctl_http *ilu_ctl_http_new(struct event_base *base, const struct ilu_log *log);

/* The transport table for ilu_controller_new (ctx is t). */
struct ilu_ctl_transport ilu_ctl_http_transport(struct ilu_ctl_http *t);

/* Shutting down, before the controller is freed: fail every call still
 * waiting for an answer (status 0) so the core releases what it holds for
 * it, and every later call too (from the loop, never inside send). Returns how
 * many failed now; run the loop once and repeat until ilu_ctl_http_owed is 0
 * (an async retry may send again). */
int ilu_ctl_http_fail_all(struct ilu_ctl_http *t);

/* The controller is about to be freed: from now on answers are dropped
 * (their callbacks would reach freed core state) and worker_freed closes
 * connections at once. */
void ilu_ctl_http_closing(struct ilu_ctl_http *t);

/* Calls whose callback has not run yet. */
unsigned ilu_ctl_http_owed(const struct ilu_ctl_http *t);

/* After ilu_controller_free. */
void ilu_ctl_http_free(struct ilu_ctl_http *t);

#endif
