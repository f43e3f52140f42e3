/* Pluggable policies: each is one file filling one ops table, listed once in
 * policy_registry.c and chosen by the name used in config. */
#ifndef ILU_POLICY_REGISTRY_H
#define ILU_POLICY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/dispatch.h"
#include "worker/keepalive.h"
#include "worker/queue.h"
#include "types.h"

/* Queue policies: struct ilu_queue_policy_ops in queue.h. Keep-alive
 * policies: struct ilu_keepalive_ops in keepalive.h. */

/* Load balancing (controller): where to send an invocation of fqdn among
 * the workers. State is the policy's own (a ring, a cursor). */
struct ilu_ctl_worker;
struct ilu_controller_config;

/* One routing decision: the function, and what its worker must have
 * beyond being healthy (ILU_LB_NEEDS_* bits, filled by the controller from
 * the registration: a GPU-only function needs a worker with GPUs). */
enum ilu_lb_needs { ILU_LB_NEEDS_GPU = 1 };
#define ILU_LB_NEEDS_CLASSES 2 /* needs is below this: a policy may keep state per class (a cursor) */
struct ilu_lb_call {
    const char *fqdn;
    unsigned needs;
};

/* What a balancer learns when an invocation it routed finishes. */
struct ilu_lb_done {
    const char *fqdn;
    const struct ilu_ctl_worker *worker;
    int status;             /* HTTP status answered (0: no answer) */
    uint64_t round_trip_us; /* controller sent -> answer */
    uint64_t e2e_us;        /* the worker's timings.total_us; 0 when absent */
    uint64_t exec_us;       /* timings.exec_us; 0 when absent */
    bool cold;              /* container_state "cold" */
};
struct ilu_lb_policy_ops {
    const char *name;
    const char *description;
    void *(*create)(const struct ilu_controller_config *cfg);
    void (*destroy)(void *state);
    /* The worker set changed (a worker joined): rebuild what depends on it. */
    void (*workers_changed)(void *state, struct ilu_ctl_worker *const *workers, size_t n);
    /* Index of the worker to use, among those with ilu_lb_eligible(call, w)
     * (controller.h: routable, and able to run this invocation); -1 when
     * none is. A policy tests eligibility with that one call and never
     * looks at why a worker is or is not eligible. */
    long (*pick)(void *state, const struct ilu_lb_call *call, struct ilu_ctl_worker *const *workers, size_t n);
    /* Optional: an invocation routed to worker finished (for balancers that
     * learn popularity or latency). */
    void (*on_done)(void *state, const struct ilu_lb_done *done);
};

/* Lookup by name (case-insensitive); NULL when unknown. */
const struct ilu_queue_policy_ops *ilu_queue_policy_find(const char *name);
const struct ilu_keepalive_ops *ilu_keepalive_policy_find(const char *name);
const struct ilu_lb_policy_ops *ilu_lb_policy_find(const char *name);
/* The i-th registered policy, NULL past the last (tests run every one). */
const struct ilu_queue_policy_ops *ilu_queue_policy_at(size_t i);
const struct ilu_keepalive_ops *ilu_keepalive_policy_at(size_t i);
/* The GPU queue's policies (queue.h's ops; docs/gpu.md) and the dispatch
 * policies of CPU|GPU functions (worker/dispatch.h): by name
 * (case-insensitive, NULL when unknown), by index (NULL past the last), and
 * their names comma-separated. */
const struct ilu_queue_policy_ops *ilu_gpu_queue_policy_find(const char *name);
const struct ilu_queue_policy_ops *ilu_gpu_queue_policy_at(size_t i);
const char *ilu_gpu_queue_policy_names(void);
const struct ilu_dispatch_policy_ops *ilu_dispatch_policy_find(const char *name);
const struct ilu_dispatch_policy_ops *ilu_dispatch_policy_at(size_t i);
const char *ilu_dispatch_policy_names(void);
/* Comma-separated names, made from the tables, for errors and docs. */
const char *ilu_queue_policy_names(void);
const char *ilu_keepalive_policy_names(void);
const char *ilu_lb_policy_names(void);

#endif
