/* GPU side of the worker core: whether an invocation runs on a GPU (the
 * dispatch policies of invocation.enqueueing_policy), the GPU queue's
 * dispatch onto warm GPU containers or new ones (spots and tokens,
 * worker/gpu.h), batches run back to back, and enqueueing_policy All's
 * copies in both queues (docs/gpu.md "Dispatch"). The rest of the
 * invocation path is worker.c's. */
#include <stdlib.h>
#include <string.h>

#include "worker/dispatch.h"
#include "worker/worker_internal.h"

/* Running tokens over every GPU. */
static uint32_t gpu_tokens(const struct ilu_worker *w)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < w->gpus.n; i++)
        n += w->gpus.dev[i].tokens;
    return n;
}

/* Expected wait in q, as est_invoke_time reckons it for the CPU queue: none
 * while the queue is no longer than the free lanes (CPUs, GPU tokens), else
 * its load spread over the lanes its invocations can use. */
static double queue_wait_us(const struct ilu_queue *q, uint32_t lanes_total, uint32_t lanes_free)
{
    size_t len = ilu_queue_len(q);
    if (len <= lanes_free)
        return 0;
    double lanes = (double)len < (double)lanes_total ? (double)len : (double)lanes_total;
    return ilu_queue_load_us(q) / (lanes >= 1 ? lanes : 1);
}

/* What a dispatch policy sees of fn and the two queues now. */
static struct ilu_dispatch_view dispatch_view(const struct ilu_worker *w, const struct ilu_function *fn)
{
    struct ilu_dispatch_view v = {.fn = fn, .speedup_ratio = w->cfg.invocation.speedup_ratio};
    for (int on = ILU_ON_CPU; on <= ILU_ON_GPU; on++) {
        v.exec_us[on] = ilu_compute_warm_us(&fn->stats.on[on]);
        v.run_us[on] = ilu_queue_expected_on_us(fn, on == ILU_ON_GPU);
    }
    uint32_t cpus_free = w->cpus_in_use < w->cpu_limit ? w->cpu_limit - w->cpus_in_use : 0;
    uint32_t tokens = gpu_tokens(w), tokens_used = ilu_gpus_tokens_used(&w->gpus);
    v.wait_us[ILU_ON_CPU] = queue_wait_us(&w->queue, w->cpu_limit, cpus_free);
    v.wait_us[ILU_ON_GPU] = queue_wait_us(&w->gpu_queue, tokens, tokens - tokens_used);
    return v;
}

/* Whether this invocation of fn runs on a GPU: compute GPU, or CPU|GPU when
 * invocation.enqueueing_policy says so (docs/gpu.md); on a worker without
 * GPUs never. */
bool ilu_worker_fn_on_gpu(const struct ilu_worker *w, const struct ilu_function *fn)
{
    if (w->gpus.n == 0 || !(fn->compute & ILU_COMPUTE_GPU))
        return false;
    if (!(fn->compute & ILU_COMPUTE_CPU))
        return true;
    struct ilu_dispatch_view v = dispatch_view(w, fn);
    return w->dispatch && w->dispatch->on_gpu(&v);
}

/* enqueueing_policy All: fn's invocations wait in both queues. */
bool ilu_worker_fn_in_both(const struct ilu_worker *w, const struct ilu_function *fn)
{
    if (w->gpus.n == 0 || fn->compute != ILU_COMPUTE_ALL)
        return false;
    return w->dispatch && w->dispatch->both;
}

/* What the GPU queue's policy sees: the GPUs' running tokens stand for the
 * CPUs of the CPU queue's view. */
struct ilu_queue_view ilu_worker_gpu_queue_view(const struct ilu_worker *w)
{
    uint32_t total = gpu_tokens(w), used = ilu_gpus_tokens_used(&w->gpus);
    return (struct ilu_queue_view){.now_us = w_now(w), .cpu_limit = total, .cpus_free = total - used, .gpu = true};
}

/* enqueueing_policy All (docs/gpu.md): inv starts or finishes, so its copy
 * waiting in the other queue goes, unanswered (only inv counts as pending). */
void ilu_worker_twin_drop(struct ilu_worker *w, struct ilu_invocation *inv)
{
    struct ilu_invocation *twin = inv->twin;
    if (!twin)
        return;
    inv->twin = twin->twin = NULL;
    ilu_queue_remove(twin->on_gpu ? &w->gpu_queue : &w->queue, twin);
    ilu_worker_deadline_remove(w, twin);
    ilu_worker_inv_free(twin);
}

/* The GPU queue's inv leaves it and runs on GPU gpu, holding one of its
 * tokens: on c (taken for it) or cold. */
static void gpu_start(struct ilu_worker *w, struct ilu_invocation *inv, uint32_t gpu, struct ilu_container *c)
{
    uint32_t got;
    ilu_gpus_token_take(&w->gpus, (int)gpu, &got);
    inv->gpu_token = true;
    inv->gpu_device = gpu;
    ilu_queue_remove(&w->gpu_queue, inv);
    inv->t.dequeued_us = w_now(w);
    inv->dequeued = true;
    w->running++;
    struct ilu_queue_view v = ilu_worker_gpu_queue_view(w);
    if (w->gpu_queue.policy->on_start)
        w->gpu_queue.policy->on_start(w->gpu_queue.state, inv, &v);
    ilu_worker_twin_drop(w, inv);
    ilu_worker_run_on(w, inv, c);
}

/* A batching GPU policy's next invocation of done's batch (still queued),
 * to run on done's container when done leaves it idle; NULL when none. */
struct ilu_invocation *ilu_worker_gpu_batch_next(struct ilu_worker *w, const struct ilu_invocation *done)
{
    if (!done->on_gpu || !done->dequeued || !w->gpu_queue.policy->batch_next)
        return NULL;
    struct ilu_queue_view v = ilu_worker_gpu_queue_view(w);
    struct ilu_invocation *next = w->gpu_queue.policy->batch_next(w->gpu_queue.state, done, &v);
    return next && next->queued && next->fn == done->fn ? next : NULL;
}

/* Run the batch's next invocation warm on c (kept busy for it), with the
 * token its predecessor just returned; should that token be gone, c goes
 * idle and next waits its turn in the queue. */
void ilu_worker_gpu_batch_run(struct ilu_worker *w, struct ilu_invocation *next, struct ilu_container *c)
{
    if (ilu_gpus_tokens_free(&w->gpus, c->gpu_device) == 0) {
        ilu_pool_put_idle(&w->pool, c);
        ilu_worker_kick(w);
        return;
    }
    gpu_start(w, next, c->gpu_device, c);
}

/* An idle container of fn whose GPU has a running token free (the most
 * recently used such), or NULL. */
static struct ilu_container *gpu_idle_with_token(const struct ilu_worker *w, const struct ilu_function *fn)
{
    for (struct ilu_container *c = fn->idle_head; c; c = c->idle_next)
        if (c->has_gpu_spot && ilu_gpus_tokens_free(&w->gpus, c->gpu_device) > 0)
            return c;
    return NULL;
}

/* The GPU queue (docs/gpu.md): its policy's choice runs on a warm container
 * of its function whose GPU has a token free, else cold on the least loaded
 * GPU with a spot (an idle GPU container of any function is evicted when
 * none is free) if that GPU has a token free. Otherwise the head waits for a
 * completion or a removal; the CPU limit does not apply. */
void ilu_worker_dispatch_gpu(struct ilu_worker *w)
{
    struct ilu_invocation *inv;
    struct ilu_queue_view v = ilu_worker_gpu_queue_view(w);
    while ((inv = ilu_queue_next(&w->gpu_queue, &v))) {
        struct ilu_function *fn = inv->fn;
        struct ilu_container *c = gpu_idle_with_token(w, fn);
        uint32_t gpu;
        if (c) {
            gpu = c->gpu_device;
        } else {
            int d = ilu_gpus_pick(&w->gpus);
            if (d < 0 && ilu_gpus_tokens_used(&w->gpus) < gpu_tokens(w) && ilu_pool_evict_gpu(&w->pool, inv->tid) == 0)
                d = ilu_gpus_pick(&w->gpus);
            if (d < 0 || ilu_gpus_tokens_free(&w->gpus, (uint32_t)d) == 0)
                return; /* wait for a container to go or an invocation to finish */
            gpu = (uint32_t)d;
            if (ilu_pool_reserve(&w->pool, fn->memory_mb, inv->tid)) {
                if (w->pool.n_starting == 0 && w->running == 0) {
                    ilu_queue_remove(&w->gpu_queue, inv);
                    ilu_worker_fail(w, inv, ILU_ST_UNAVAILABLE, "insufficient_memory",
                                    "not enough memory in the container pool for this function");
                    v = ilu_worker_gpu_queue_view(w);
                    continue;
                }
                return;
            }
        }
        if (c)
            ilu_pool_take(&w->pool, c);
        gpu_start(w, inv, gpu, c); /* the token is free: checked above */
        v = ilu_worker_gpu_queue_view(w);
    }
}

/* enqueueing_policy All: a copy of the queued CPU invocation inv waits in
 * the GPU queue too, with the same arrival, deadline and answer. Out of
 * memory or a full GPU queue: inv alone, on the CPU. */
void ilu_worker_twin_enqueue(struct ilu_worker *w, struct ilu_invocation *inv)
{
    struct ilu_invocation *t = ilu_worker_inv_new(w, inv->fn, inv->tid);
    if (t && ilu_worker_inv_set_args(t, inv->args, inv->args_len)) {
        ilu_worker_inv_free(t);
        t = NULL;
    }
    if (!t)
        return;
    t->t = inv->t;
    t->start_kind = ILU_START_ERROR;
    t->done = inv->done;
    t->done_arg = inv->done_arg;
    t->on_gpu = true;
    struct ilu_queue_view v = ilu_worker_gpu_queue_view(w);
    struct ilu_error err = {0};
    if (ilu_queue_push(&w->gpu_queue, t, &v, &err)) {
        ilu_worker_inv_free(t);
        return;
    }
    inv->twin = t;
    t->twin = inv;
    ilu_worker_deadline_add(w, t);
}

/* container_resources.gpu_resource: the backend says which GPUs it has (found
 * on the host, or simulated), the GPU module takes count of them. */
int ilu_worker_gpus_init(struct ilu_worker *w, struct ilu_error *err)
{
    const struct ilu_gpu_resource_config *gc = &w->cfg.container_resources.gpu_resource;
    if (gc->count == 0)
        return ilu_gpus_init(&w->gpus, gc, NULL, err);
    if (!w->backend->ops->gpu_devices)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                       "container_resources.gpu_resource.count is %u but backend %s has no GPUs", gc->count,
                       w->backend->ops->name);
    struct ilu_gpu_found *found = calloc(1, sizeof *found);
    if (!found)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    int rc = w->backend->ops->gpu_devices(w->backend, gc, found, err) ? -1 : ilu_gpus_init(&w->gpus, gc, found, err);
    if (rc == 0)
        for (uint32_t i = 0; i < w->gpus.n; i++)
            ilu_log_fields(w->log, ILU_LOG_INFO, "startup",
                           json_pack("{s:i, s:s, s:i, s:i, s:i, s:s}", "gpu", (int)i, "name", w->gpus.dev[i].name,
                                     "memory_mb", (int)w->gpus.dev[i].memory_mb, "spots", (int)w->gpus.dev[i].spots,
                                     "concurrent_running_funcs", (int)w->gpus.dev[i].tokens, "source", found->source),
                           "GPU available spots");
    free(found);
    return rc;
}
