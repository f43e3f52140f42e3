#include "worker/queue.h"

#include <stdlib.h>

#include "worker/inv_heap.h"
#include "core/policy_registry.h"

bool ilu_queue_config_unlimited(const struct ilu_worker_config *cfg)
{
    const struct ilu_queue_policy_ops *p = ilu_queue_policy_find(cfg->invocation.queue_policy);
    return cfg->container_resources.cpu_count == 0 && p && p->unlimited_when_cpu_count_0;
}

int ilu_queue_init(struct ilu_queue *q, const struct ilu_queue_policy_ops *policy, const struct ilu_worker_config *cfg,
                   size_t max_len, struct ilu_error *err)
{
    q->policy = policy;
    q->len = 0;
    q->load_us = 0;
    q->gpu = false;
    q->max_len = max_len;
    q->state = policy->create(policy, cfg, err);
    return q->state ? 0 : -1;
}

void ilu_queue_destroy(struct ilu_queue *q)
{
    if (q->policy && q->state)
        q->policy->free(q->state);
    q->state = NULL;
    q->len = 0;
    q->load_us = 0;
}

int ilu_queue_push(struct ilu_queue *q, struct ilu_invocation *inv, const struct ilu_queue_view *v,
                   struct ilu_error *err)
{
    if (q->max_len && q->len >= q->max_len)
        return ilu_err(err, ILU_ST_QUEUE_FULL, "queue_full", "the invocation queue is full (%zu items)", q->len);
    inv->est_us = q->gpu ? ilu_queue_expected_on_us(inv->fn, true) : ilu_queue_expected_us(inv->fn);
    if (q->policy->push(q->state, inv, v))
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory growing the queue");
    inv->queued = true;
    q->len++;
    q->load_us += inv->est_us;
    return 0;
}

struct ilu_invocation *ilu_queue_next(struct ilu_queue *q, const struct ilu_queue_view *v)
{
    return q->len ? q->policy->next(q->state, v) : NULL;
}

void ilu_queue_remove(struct ilu_queue *q, struct ilu_invocation *inv)
{
    if (!inv->queued)
        return;
    q->policy->remove(q->state, inv);
    inv->queued = false;
    q->len--;
    /* an empty queue has no load: no rounding residue left behind */
    q->load_us = q->len && q->load_us > inv->est_us ? q->load_us - inv->est_us : 0;
}

struct ilu_invocation *ilu_queue_pop(struct ilu_queue *q, const struct ilu_queue_view *v)
{
    struct ilu_invocation *head = ilu_queue_next(q, v);
    if (head)
        ilu_queue_remove(q, head);
    return head;
}

double ilu_queue_expected_us(const struct ilu_function *fn)
{
    return fn->n_idle > 0 ? ilu_fn_stats_warm_us(&fn->stats) : ilu_fn_stats_cold_us(&fn->stats);
}

uint32_t ilu_fn_idle_on(const struct ilu_function *fn, bool gpu)
{
    uint32_t n = 0;
    for (const struct ilu_container *c = fn->idle_head; c; c = c->idle_next)
        n += c->has_gpu_spot == gpu;
    return n;
}

double ilu_queue_expected_on_us(const struct ilu_function *fn, bool gpu)
{
    const struct ilu_compute_stats *st = &fn->stats.on[gpu ? ILU_ON_GPU : ILU_ON_CPU];
    return ilu_fn_idle_on(fn, gpu) > 0 ? ilu_compute_warm_us(st) : ilu_compute_cold_us(st);
}

/* ---- the keyed heap ---- */

struct keyed {
    struct ilu_inv_heap heap;
    double (*key)(const struct ilu_invocation *inv, const struct ilu_queue_view *v);
};

void *ilu_keyed_queue_create(const struct ilu_queue_policy_ops *self, const struct ilu_worker_config *cfg,
                             struct ilu_error *err)
{
    struct keyed *k = calloc(1, sizeof *k);
    if (!k || ilu_inv_heap_init(&k->heap)) {
        free(k);
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory creating the %s queue", self->name);
        return NULL;
    }
    k->key = self->key;
    return k;
}

void ilu_keyed_queue_free(void *st)
{
    struct keyed *k = st;
    ilu_inv_heap_destroy(&k->heap);
    free(k);
}

int ilu_keyed_queue_push(void *st, struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    struct keyed *k = st;
    return ilu_inv_heap_push(&k->heap, inv, k->key(inv, v));
}

struct ilu_invocation *ilu_keyed_queue_next(void *st, const struct ilu_queue_view *v)
{
    return ilu_inv_heap_peek(&((struct keyed *)st)->heap);
}

void ilu_keyed_queue_remove(void *st, struct ilu_invocation *inv)
{
    ilu_inv_heap_remove(&((struct keyed *)st)->heap, inv);
}
