/* Private to the worker core (worker.c, pool.c, result.c). */
#ifndef ILU_WORKER_INTERNAL_H
#define ILU_WORKER_INTERNAL_H

#include "core/map.h"
#include "core/policy_registry.h"
#include "worker/gpu.h"
#include "worker/pool.h"
#include "worker/queue.h"
#include "worker/sandbox_pool.h"
#include "worker/worker.h"

struct ilu_worker_counters {
    uint64_t invocations, errors, timeouts, rejected;
    uint64_t cold, warm, prewarm;
    uint64_t deaths, start_failures;
    uint64_t bypassed; /* invocations run at once by invocation.bypass_duration_ms */
};

struct ilu_worker {
    struct ilu_worker_config cfg;
    const struct ilu_env *env;
    struct ilu_backend *backend;
    const struct ilu_log *log;
    struct ilu_map functions; /* fqdn -> struct ilu_function */
    struct ilu_queue queue;
    struct ilu_queue gpu_queue; /* invocations of functions run on GPUs (invocation.gpu_queue_policy) */
    struct ilu_pool pool;
    struct ilu_sandbox_pool sandboxes;
    struct ilu_gpus gpus;              /* container_resources.gpu_resource: spots and tokens of dispatch_gpu */
    struct ilu_invocation *spare_invs; /* finished, kept for reuse (inv_free) */
    size_t n_spare_invs;
    uint32_t cpu_limit, cpus_in_use;
    uint32_t cpu_base;    /* cpu_count: where dynamic concurrency starts and shrinks back to */
    uint32_t bypass_cpus; /* CPUs of bypassed invocations running (outside cpu_limit) */
    unsigned running;     /* dequeued invocations not yet finished */
    unsigned pending;     /* queued + running (incl. prewarms) */
    uint64_t seq;
    struct ilu_worker_counters count;
    struct ilu_timer *pool_timer, *kick_timer;
    /* pending invocations by deadline, oldest first, and the one timer that
     * expires them (see deadline_add in worker.c) */
    struct ilu_invocation *deadline_head, *deadline_tail;
    struct ilu_timer *deadline_timer;
    struct ilu_timer *concurrency_timer; /* container_resources.concurrency_update_check_ms */
    bool shutting_down;
};

/* The env's clock, in microseconds. */
static inline uint64_t w_now(const struct ilu_worker *w)
{
    return w->env->now_us(w->env->ctx);
}

/* result.c */
/* Fill inv's result fields from the agent's reply (decoded by the backend). */
void ilu_result_from_agent(struct ilu_invocation *inv, const struct ilu_agent_reply *reply);

#endif
