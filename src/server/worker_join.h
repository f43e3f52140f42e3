/* A worker joining a controller (config load_balancer_url): POST
 * /register_worker every second until the controller accepts (it may start
 * later), then again every 10 s as a heartbeat, so a controller that
 * restarted without its store learns the worker back. Never blocks the loop;
 * an absent controller does not affect local invocations. */
#ifndef ILU_WORKER_JOIN_H
#define ILU_WORKER_JOIN_H

#include <stdint.h>

#include "core/config.h"
#include "core/log.h"

struct event_base;
struct ilu_worker_join;

/* cfg's name, advertise_host (else address), port, cpu_count (resolved) and
 * memory are announced. NULL with err when the URL is bad or out of memory. */
struct ilu_worker_join *ilu_worker_join_start(struct event_base *base, const struct ilu_worker_config *cfg,
                                              const struct ilu_log *log, struct ilu_error *err);
/* Stop registering with the controller; frees j. */
void ilu_worker_join_stop(struct ilu_worker_join *j);

#endif
