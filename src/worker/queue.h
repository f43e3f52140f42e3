/* The invocation queue: a bounded container (push fails when full so the
 * API can answer 429) around a queue policy, which owns the order and its
 * own state. A policy is one file under src/policy/queue/ filling struct
 * ilu_queue_policy_ops, plus one row in policy_registry.c. */
#ifndef ILU_QUEUE_H
#define ILU_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "core/types.h"

/* What a policy may consult when deciding: read-only, valid for the call.
 * Per-function state (stats, n_idle warm containers) is on inv->fn. */
struct ilu_queue_view {
    uint64_t now_us;
    uint32_t cpu_limit; /* the concurrency limit now, in CPUs (ILU_CPU_UNLIMITED: none) */
    uint32_t cpus_free; /* of it, not held by running invocations */
    bool gpu;           /* the GPU queue's view: limit and free are GPU tokens, times the GPU's */
};

struct ilu_queue_policy_ops {
    const char *name;
    const char *description;
    /* Own state from the worker config; NULL with err naming the bad key. */
    void *(*create)(const struct ilu_queue_policy_ops *self, const struct ilu_worker_config *cfg,
                    struct ilu_error *err);
    void (*free)(void *st);
    /* Take inv (-1: out of memory). */
    int (*push)(void *st, struct ilu_invocation *inv, const struct ilu_queue_view *v);
    /* The invocation to run next, left in the queue; NULL when none may run
     * now although the queue is not empty (a throttled flow). */
    struct ilu_invocation *(*next)(void *st, const struct ilu_queue_view *v);
    /* Take inv out, wherever it is (it was chosen, or timed out). */
    void (*remove)(void *st, struct ilu_invocation *inv);
    /* Optional events: a chosen invocation started; one finished. */
    void (*on_start)(void *st, const struct ilu_invocation *inv, const struct ilu_queue_view *v);
    void (*on_done)(void *st, const struct ilu_invocation *inv, const struct ilu_queue_view *v);
    /* For keyed heap policies (ILU_KEYED_QUEUE below): the order key,
     * computed once at push; smaller runs first, ties in arrival order. */
    double (*key)(const struct ilu_invocation *inv, const struct ilu_queue_view *v);
    /* container_resources.cpu_count 0 means no concurrency limit at all with
     * this policy (Ilúvatar's queueless "none"), not the online CPUs. */
    bool unlimited_when_cpu_count_0;
    /* Optional, for GPU policies that batch (docs/gpu.md): done, which this
     * policy chose, finished and left its container idle; the next queued
     * invocation of done's batch, to run at once on that container with
     * done's GPU token, or NULL when the batch is over. Called before
     * on_done(done); the worker then removes and starts the one returned
     * as any other (remove, on_start). */
    struct ilu_invocation *(*batch_next)(void *st, const struct ilu_invocation *done, const struct ilu_queue_view *v);
    /* For the batch engine (ILU_GPU_BATCH_QUEUE below): which waiting batch
     * an arriving invocation joins, and the most a batch holds (0: no cap). */
    enum ilu_batch_join {
        ILU_BATCH_NONE,     /* none: each invocation is a batch of its own */
        ILU_BATCH_ADJACENT, /* the last batch queued, when of the same function */
        ILU_BATCH_FUNCTION, /* its function's newest batch not started yet */
    } batch_join;
    uint32_t batch_cap;
};

/* The worker's cpu_limit when nothing limits concurrency. */
#define ILU_CPU_UNLIMITED UINT32_MAX

/* cfg asks for no concurrency limit: cpu_count 0 with a policy that reads
 * it so. Daemons check it before resolving cpu_count 0 to the online CPUs. */
bool ilu_queue_config_unlimited(const struct ilu_worker_config *cfg);

/* A keyed heap: policies that are just an order key fill .key and use these. */
void *ilu_keyed_queue_create(const struct ilu_queue_policy_ops *self, const struct ilu_worker_config *cfg,
                             struct ilu_error *err);
void ilu_keyed_queue_free(void *st);
int ilu_keyed_queue_push(void *st, struct ilu_invocation *inv, const struct ilu_queue_view *v);
struct ilu_invocation *ilu_keyed_queue_next(void *st, const struct ilu_queue_view *v);
void ilu_keyed_queue_remove(void *st, struct ilu_invocation *inv);
#define ILU_KEYED_QUEUE                                                                           \
    .create = ilu_keyed_queue_create, .free = ilu_keyed_queue_free, .push = ilu_keyed_queue_push, \
    .next = ilu_keyed_queue_next, .remove = ilu_keyed_queue_remove

/* The batch engine of the GPU policies (src/worker/gpu_batch.c): batches of
 * one function's invocations, in the order of .key taken from a batch's
 * first invocation (smaller first, ties in creation order), joined as
 * .batch_join says. A batch that started (one of its invocations was
 * chosen) takes no more arrivals, and while one of its invocations runs it
 * is not chosen again: the rest follow through batch_next. Uses
 * inv->queue_index for itself. */
void *ilu_gpu_batch_create(const struct ilu_queue_policy_ops *self, const struct ilu_worker_config *cfg,
                           struct ilu_error *err);
void ilu_gpu_batch_free(void *st);
int ilu_gpu_batch_push(void *st, struct ilu_invocation *inv, const struct ilu_queue_view *v);
struct ilu_invocation *ilu_gpu_batch_next(void *st, const struct ilu_queue_view *v);
void ilu_gpu_batch_remove(void *st, struct ilu_invocation *inv);
void ilu_gpu_batch_on_start(void *st, const struct ilu_invocation *inv, const struct ilu_queue_view *v);
void ilu_gpu_batch_on_done(void *st, const struct ilu_invocation *inv, const struct ilu_queue_view *v);
struct ilu_invocation *ilu_gpu_batch_next_of(void *st, const struct ilu_invocation *done,
                                             const struct ilu_queue_view *v);
#define ILU_GPU_BATCH_QUEUE                                                                         \
    .create = ilu_gpu_batch_create, .free = ilu_gpu_batch_free, .push = ilu_gpu_batch_push,         \
    .next = ilu_gpu_batch_next, .remove = ilu_gpu_batch_remove, .on_start = ilu_gpu_batch_on_start, \
    .on_done = ilu_gpu_batch_on_done, .batch_next = ilu_gpu_batch_next_of

struct ilu_queue {
    const struct ilu_queue_policy_ops *policy;
    void *state;
    size_t len, max_len;
    /* Ilúvatar's queue load: the sum of the queued invocations' expected
     * run times (inv->est_us, taken at push), whatever the policy */
    double load_us;
    bool gpu; /* the GPU queue: est_us from the function's GPU times */
};

/* cfg may be NULL for policies without parameters (tests). */
int ilu_queue_init(struct ilu_queue *q, const struct ilu_queue_policy_ops *policy, const struct ilu_worker_config *cfg,
                   size_t max_len, struct ilu_error *err);
void ilu_queue_destroy(struct ilu_queue *q);
/* inv->seq must be set (unique, increasing). -1 with 429 when full. */
int ilu_queue_push(struct ilu_queue *q, struct ilu_invocation *inv, const struct ilu_queue_view *v,
                   struct ilu_error *err);
/* The policy's choice (still queued), or NULL. */
struct ilu_invocation *ilu_queue_next(struct ilu_queue *q, const struct ilu_queue_view *v);
/* Remove inv from anywhere in the queue; no-op when not queued. */
void ilu_queue_remove(struct ilu_queue *q, struct ilu_invocation *inv);
/* next + remove. */
struct ilu_invocation *ilu_queue_pop(struct ilu_queue *q, const struct ilu_queue_view *v);
/* Queued invocations, and the sum of their expected run times. */
static inline size_t ilu_queue_len(const struct ilu_queue *q)
{
    return q->len;
}
static inline double ilu_queue_load_us(const struct ilu_queue *q)
{
    return q->load_us;
}

/* Expected run of an invocation of fn started now, in us, queueing
 * excluded: warm when a warm container is free (fn->n_idle > 0), else
 * cold, as ilu_fn_stats_warm_us / _cold_us say; 0 while unknown. */
double ilu_queue_expected_us(const struct ilu_function *fn);
/* The same on one compute (gpu: a GPU container), from fn->stats.on[]:
 * warm when fn has an idle container of that compute. */
double ilu_queue_expected_on_us(const struct ilu_function *fn, bool gpu);
/* fn's idle containers of one compute (gpu: holding a GPU spot). */
uint32_t ilu_fn_idle_on(const struct ilu_function *fn, bool gpu);

#endif
