/* Private to the worker core (worker.c, gpu_dispatch.c, pool.c, result.c). */
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
    struct ilu_gpus gpus; /* container_resources.gpu_resource: spots and tokens of dispatch_gpu */
    /* invocation.enqueueing_policy, looked up once (NULL: unknown name, CPU) */
    const struct ilu_dispatch_policy_ops *dispatch;
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
     * expires them (see ilu_worker_deadline_add in worker.c) */
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

/* worker.c, for gpu_dispatch.c: the invocation path's steps */
/* A new invocation of fn (arrival now, next seq), from the spares or calloc. */
struct ilu_invocation *ilu_worker_inv_new(struct ilu_worker *w, struct ilu_function *fn, const char *tid);
/* Free what inv owns and keep it as a spare (or free it). */
void ilu_worker_inv_free(struct ilu_invocation *inv);
/* inv->args: a copy of args (len bytes), in the struct when it fits; -1 out of memory. */
int ilu_worker_inv_set_args(struct ilu_invocation *inv, const char *args, size_t len);
/* Put inv on / take it off the deadline list (limits.timeout_sec). */
void ilu_worker_deadline_add(struct ilu_worker *w, struct ilu_invocation *inv);
void ilu_worker_deadline_remove(struct ilu_worker *w, struct ilu_invocation *inv);
/* Answer inv with this error now. */
void ilu_worker_fail(struct ilu_worker *w, struct ilu_invocation *inv, int status, const char *kind, const char *msg);
/* Run a dequeued inv on c (warm), or start a container for it (c NULL). */
void ilu_worker_run_on(struct ilu_worker *w, struct ilu_invocation *inv, struct ilu_container *c);
/* Dispatch again on the next turn of the loop. */
void ilu_worker_kick(struct ilu_worker *w);

/* gpu_dispatch.c */
/* Whether this invocation of fn runs on a GPU: compute GPU, or CPU|GPU when
 * invocation.enqueueing_policy says so; never on a worker without GPUs. */
bool ilu_worker_fn_on_gpu(const struct ilu_worker *w, const struct ilu_function *fn);
/* enqueueing_policy All: fn's invocations wait in both queues. */
bool ilu_worker_fn_in_both(const struct ilu_worker *w, const struct ilu_function *fn);
/* What the GPU queue's policy sees (GPU tokens for CPUs). */
struct ilu_queue_view ilu_worker_gpu_queue_view(const struct ilu_worker *w);
/* All: inv starts or finishes, so its copy in the other queue goes. */
void ilu_worker_twin_drop(struct ilu_worker *w, struct ilu_invocation *inv);
/* All: a copy of the queued CPU invocation inv waits in the GPU queue too. */
void ilu_worker_twin_enqueue(struct ilu_worker *w, struct ilu_invocation *inv);
/* A batching GPU policy's next invocation of done's batch, or NULL; and
 * running it warm on c with the token done returned. */
struct ilu_invocation *ilu_worker_gpu_batch_next(struct ilu_worker *w, const struct ilu_invocation *done);
void ilu_worker_gpu_batch_run(struct ilu_worker *w, struct ilu_invocation *next, struct ilu_container *c);
/* Start what the GPU queue's policy chooses while GPUs have room. */
void ilu_worker_dispatch_gpu(struct ilu_worker *w);
/* container_resources.gpu_resource: the backend's GPUs into w->gpus. */
int ilu_worker_gpus_init(struct ilu_worker *w, struct ilu_error *err);

/* result.c */
/* Fill inv's result fields from the agent's reply (decoded by the backend). */
void ilu_result_from_agent(struct ilu_invocation *inv, const struct ilu_agent_reply *reply);

#endif
