/* Invocation path of the worker core: registry, queue, dispatch onto warm or
 * new containers, timeouts, completion. See worker.h for the contract. */
#include "worker/worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "worker/worker_internal.h"

/* An idle CPU container of fn, now busy (the most recently used), or
 * NULL. A CPU|GPU function may have GPU containers too, which its CPU
 * invocations must not take. */
static struct ilu_container *cpu_take_idle(struct ilu_worker *w, struct ilu_function *fn)
{
    if (!(fn->compute & ILU_COMPUTE_GPU))
        return ilu_pool_take_idle(&w->pool, fn);
    for (struct ilu_container *c = fn->idle_head; c; c = c->idle_next)
        if (!c->has_gpu_spot) {
            ilu_pool_take(&w->pool, c);
            return c;
        }
    return NULL;
}

/* The queue inv waits in. */
static struct ilu_queue *inv_queue(struct ilu_worker *w, const struct ilu_invocation *inv)
{
    return inv->on_gpu ? &w->gpu_queue : &w->queue;
}

/* What queue policies see of the worker when they decide. */
static struct ilu_queue_view queue_view(const struct ilu_worker *w)
{
    return (struct ilu_queue_view){.now_us = w_now(w),
                                   .cpu_limit = w->cpu_limit,
                                   .cpus_free = w->cpus_in_use < w->cpu_limit ? w->cpu_limit - w->cpus_in_use : 0};
}

static void fn_free(struct ilu_function *fn)
{
    if (!fn)
        return;
    free(fn->name);
    free(fn->version);
    free(fn->fqdn);
    free(fn->image);
    free(fn);
}

/* Finished invocations are kept for reuse (up to INV_SPARE_MAX): at
 * simulation rates, calloc and free of this struct were a tenth of the
 * event loop (bench/sim_speed.sh). Not under ASan, which must see each
 * use after free. */
#if defined(__SANITIZE_ADDRESS__)
#define INV_SPARE_MAX 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define INV_SPARE_MAX 0
#endif
#endif
#ifndef INV_SPARE_MAX
#define INV_SPARE_MAX 4096
#endif

void ilu_worker_inv_free(struct ilu_invocation *inv)
{
    if (inv->args != inv->args_inline)
        free(inv->args);
    free(inv->json_result);
    free(inv->user_error);
    free(inv->container_id);
    free(inv->agent_start);
    free(inv->agent_end);
#if INV_SPARE_MAX > 0
    struct ilu_worker *w = inv->worker;
    if (w && w->n_spare_invs < INV_SPARE_MAX) {
        inv->deadline_next = w->spare_invs; /* the link while spare */
        w->spare_invs = inv;
        w->n_spare_invs++;
        return;
    }
#endif
    free(inv);
}

/* inv->args: a copy of args (len bytes), in the struct when it fits. */
int ilu_worker_inv_set_args(struct ilu_invocation *inv, const char *args, size_t len)
{
    inv->args = len < sizeof inv->args_inline ? inv->args_inline : malloc(len + 1);
    if (!inv->args)
        return -1;
    memcpy(inv->args, args, len);
    inv->args[len] = 0;
    inv->args_len = len;
    return 0;
}

/* ---- deadlines ----------------------------------------------------------- */

/* Every invocation and prewarm gets the same limits.timeout_sec, so deadlines
 * come in arrival order: a list, oldest first, and one timer for its head.
 * The timer is not moved when the head finishes early (nearly always): it
 * fires, finds nothing due and re-arms for the new head, so an invocation
 * costs no timer of its own. */
static void on_deadline(void *arg);

static void deadline_arm(struct ilu_worker *w)
{
    if (w->deadline_timer || !w->deadline_head)
        return;
    uint64_t now = w_now(w), at = w->deadline_head->deadline_us;
    w->deadline_timer = w->env->timer_start(w->env->ctx, at > now ? at - now : 0, on_deadline, w);
}

void ilu_worker_deadline_add(struct ilu_worker *w, struct ilu_invocation *inv)
{
    inv->deadline_us = w_now(w) + (uint64_t)w->cfg.limits.timeout_sec * 1000000;
    struct ilu_invocation *after = w->deadline_tail;
    while (after && after->deadline_us > inv->deadline_us)
        after = after->deadline_prev;
    inv->deadline_prev = after;
    inv->deadline_next = after ? after->deadline_next : w->deadline_head;
    if (inv->deadline_next)
        inv->deadline_next->deadline_prev = inv;
    else
        w->deadline_tail = inv;
    if (after)
        after->deadline_next = inv;
    else
        w->deadline_head = inv;
    inv->on_deadline_list = true;
    if (!after && w->deadline_timer) { /* earlier than the armed head: only if the clock stepped back */
        w->env->timer_cancel(w->env->ctx, w->deadline_timer);
        w->deadline_timer = NULL;
    }
    deadline_arm(w);
}

void ilu_worker_deadline_remove(struct ilu_worker *w, struct ilu_invocation *inv)
{
    if (!inv->on_deadline_list)
        return;
    if (inv->deadline_prev)
        inv->deadline_prev->deadline_next = inv->deadline_next;
    else
        w->deadline_head = inv->deadline_next;
    if (inv->deadline_next)
        inv->deadline_next->deadline_prev = inv->deadline_prev;
    else
        w->deadline_tail = inv->deadline_prev;
    inv->deadline_prev = inv->deadline_next = NULL;
    inv->on_deadline_list = false;
}

/* ---- completion ---------------------------------------------------------- */

static void finish(struct ilu_worker *w, struct ilu_invocation *inv)
{
    ilu_worker_twin_drop(w, inv);
    ilu_worker_deadline_remove(w, inv);
    if (inv->queued)
        ilu_queue_remove(inv_queue(w, inv), inv);
    if (inv->gpu_token) {
        ilu_gpus_token_return(&w->gpus, inv->gpu_device);
        inv->gpu_token = false;
    }
    if (inv->on_gpu) {
        if (inv->dequeued && !inv->prewarm_only) {
            w->running--;
            if (w->gpu_queue.policy->on_done) {
                struct ilu_queue_view v = ilu_worker_gpu_queue_view(w);
                w->gpu_queue.policy->on_done(w->gpu_queue.state, inv, &v);
            }
        }
    } else if (inv->bypassed) {
        w->bypass_cpus -= inv->fn->cpus;
        w->running--;
    } else if (inv->dequeued && !inv->prewarm_only) {
        w->cpus_in_use -= inv->fn->cpus;
        w->running--;
        if (w->queue.policy->on_done) {
            struct ilu_queue_view v = queue_view(w);
            w->queue.policy->on_done(w->queue.state, inv, &v);
        }
    }
    w->pending--;
    inv->t.done_us = w_now(w);
    struct ilu_fn_stats *st = &inv->fn->stats;
    if (!inv->prewarm_only) {
        st->invocations++;
        w->count.invocations++;
        switch (inv->start_kind) {
        case ILU_START_COLD: st->cold++, w->count.cold++; break;
        case ILU_START_PREWARM: st->prewarm++, w->count.prewarm++; break;
        case ILU_START_WARM: st->warm++, w->count.warm++; break;
        default: break;
        }
        if (inv->success) {
            double e2e = (double)(inv->t.done_us - inv->t.arrived_us);
            ilu_stat_add(&st->exec_us, inv->exec_sec * 1e6);
            ilu_stat_add(&st->on[inv->on_gpu ? ILU_ON_GPU : ILU_ON_CPU].exec_us, inv->exec_sec * 1e6);
            ilu_stat_add(&st->e2e_us, e2e);
            ilu_stat_add(inv->start_kind == ILU_START_COLD ? &st->cold_e2e_us : &st->warm_e2e_us, e2e);
        } else {
            st->errors++;
            w->count.errors++;
        }
    }
    ilu_log_fields(w->log, inv->success ? ILU_LOG_INFO : ILU_LOG_WARN, inv->tid,
                   json_pack("{s:s, s:b, s:s, s:I, s:I, s:s}", "fqdn", inv->fn->fqdn, "success", inv->success,
                             "container_state", ilu_start_kind_name(inv->start_kind), "e2e_us",
                             (json_int_t)(inv->t.done_us - inv->t.arrived_us), "queue_us",
                             (json_int_t)(inv->dequeued ? inv->t.dequeued_us - inv->t.arrived_us : 0), "error_kind",
                             inv->success ? "" : inv->err.kind),
                   "%s%s%s", inv->prewarm_only ? "Prewarm complete" : "Invocation complete", inv->success ? "" : ": ",
                   inv->success ? "" : inv->err.msg);
    if (inv->prewarm_only) {
        if (inv->prewarm_done)
            inv->prewarm_done(inv->done_arg, inv->tid, inv->success ? NULL : &inv->err);
    } else if (inv->done) {
        inv->done(inv->done_arg, inv);
    }
    ilu_worker_inv_free(inv);
    ilu_worker_kick(w);
}

void ilu_worker_fail(struct ilu_worker *w, struct ilu_invocation *inv, int status, const char *kind, const char *msg)
{
    inv->success = false;
    if (inv->start_kind != ILU_START_COLD && inv->start_kind != ILU_START_PREWARM && inv->start_kind != ILU_START_WARM)
        inv->start_kind = ILU_START_ERROR;
    ilu_err(&inv->err, status, kind, "%s", msg);
    finish(w, inv);
}

/* ---- running on a container --------------------------------------------- */

/* Hand inv to c. On -1 the container is removed and err says why; inv is
 * left to the caller. */
static int container_send(struct ilu_worker *w, struct ilu_invocation *inv, struct ilu_container *c,
                          struct ilu_error *err)
{
    c->state = ILU_CT_BUSY;
    c->inv = inv;
    inv->container = c;
    free(inv->container_id);
    inv->container_id = strdup(c->id);
    inv->t.sent_us = w_now(w);
    if (w->backend->ops->invoke(w->backend, c, inv->tid, inv->args, inv->args_len, err)) {
        c->inv = NULL;
        inv->container = NULL;
        ilu_pool_remove(&w->pool, c, inv->tid, "backend could not send the invocation");
        return -1;
    }
    return 0;
}

static void send_to_container(struct ilu_worker *w, struct ilu_invocation *inv, struct ilu_container *c)
{
    struct ilu_error err = {0};
    if (container_send(w, inv, c, &err))
        ilu_worker_fail(w, inv, err.status ? err.status : ILU_ST_BAD_GATEWAY,
                        err.kind[0] ? err.kind : "container_error", err.msg);
}

static void on_ready(void *ctx, struct ilu_container *c, const struct ilu_error *err)
{
    struct ilu_worker *w = ctx;
    if (c->fn->sandbox) {
        ilu_sandboxes_on_ready(&w->sandboxes, c, err);
        return;
    }
    struct ilu_invocation *inv = c->inv;
    const char *tid = inv ? inv->tid : "pool";
    if (c->start_timer) {
        w->env->timer_cancel(w->env->ctx, c->start_timer);
        c->start_timer = NULL;
    }
    if (c->pooled) /* assigned (or failed to be): replace it now, not while the assignment ran */
        ilu_sandboxes_refill(&w->sandboxes, tid);
    if (err) {
        w->count.start_failures++;
        c->inv = NULL;
        ilu_pool_remove(&w->pool, c, tid, "container failed to start");
        if (inv) {
            inv->container = NULL;
            char msg[sizeof err->msg + 64];
            snprintf(msg, sizeof msg, "container failed to start: %s", err->msg);
            ilu_worker_fail(w, inv, err->status ? err->status : ILU_ST_BAD_GATEWAY, "container_error", msg);
        }
        return;
    }
    ilu_pool_ready(&w->pool, c);
    c->ready_us = w_now(w);
    struct ilu_fn_stats *st = &c->fn->stats;
    ilu_stat_add(&st->container_start_us, (double)(c->ready_us - c->created_us));
    ilu_stat_add(&st->on[c->has_gpu_spot ? ILU_ON_GPU : ILU_ON_CPU].container_start_us,
                 (double)(c->ready_us - c->created_us));
    if (inv)
        inv->cold_start_us = c->ready_us - c->created_us;
    ilu_log_fields(w->log, ILU_LOG_INFO, tid,
                   json_pack("{s:s, s:s, s:I, s:s}", "container_id", c->id, "fqdn", c->fn->fqdn, "start_us",
                             (json_int_t)(c->ready_us - c->created_us), "sandbox", c->pooled ? "pooled" : "fresh"),
                   "container ready");
    if (!inv) { /* its invocation timed out meanwhile: keep it as a prewarmed container */
        c->prewarmed = true;
        ilu_pool_put_idle(&w->pool, c);
        ilu_worker_kick(w);
        return;
    }
    inv->t.container_ready_us = c->ready_us;
    if (inv->prewarm_only) {
        c->prewarmed = true;
        c->inv = NULL;
        inv->container = NULL;
        ilu_pool_put_idle(&w->pool, c);
        inv->success = true;
        finish(w, inv);
        return;
    }
    inv->start_kind = ILU_START_COLD;
    send_to_container(w, inv, c);
}

static void on_invoke_done(void *ctx, struct ilu_container *c, const struct ilu_agent_reply *reply)
{
    struct ilu_worker *w = ctx;
    struct ilu_invocation *inv = c->inv;
    if (!inv)
        return; /* stale completion after a timeout already answered */
    inv->round_trip_us = reply->round_trip_us ? reply->round_trip_us : w_now(w) - inv->t.sent_us;
    c->inv = NULL;
    inv->container = NULL;
    if (reply->status) {
        w->count.deaths++;
        ilu_pool_remove(&w->pool, c, inv->tid, reply->error);
        ilu_worker_fail(w, inv, reply->status, "container_error", reply->error);
        return;
    }
    c->used = true;
    c->uses++;
    c->prewarmed = false;
    ilu_pool_put_idle(&w->pool, c);
    ilu_result_from_agent(inv, reply);
    /* a GPU batch goes on back to back on this container (docs/gpu.md) */
    struct ilu_invocation *next = ilu_worker_gpu_batch_next(w, inv);
    if (next)
        ilu_pool_take(&w->pool, c);
    finish(w, inv);
    if (next)
        ilu_worker_gpu_batch_run(w, next, c);
}

static void on_died(void *ctx, struct ilu_container *c, const char *reason)
{
    struct ilu_worker *w = ctx;
    if (c->fn->sandbox) {
        ilu_sandboxes_on_died(&w->sandboxes, c, reason);
        return;
    }
    struct ilu_invocation *inv = c->inv;
    w->count.deaths++;
    if (inv) {
        c->inv = NULL;
        inv->container = NULL;
    }
    char msg[512];
    snprintf(msg, sizeof msg, "container died: %s", reason);
    ilu_pool_remove(&w->pool, c, inv ? inv->tid : "pool", msg);
    if (inv)
        ilu_worker_fail(w, inv, ILU_ST_BAD_GATEWAY, "container_error", msg);
    ilu_worker_kick(w);
}

static void on_start_timeout(void *arg)
{
    struct ilu_container *c = arg;
    struct ilu_worker *w = c->fn->worker;
    c->start_timer = NULL;
    struct ilu_error err;
    ilu_err(&err, ILU_ST_BAD_GATEWAY, "container_error", "container %s did not become ready within %u ms", c->id,
            w->cfg.container_resources.startup_timeout_ms);
    on_ready(w, c, &err);
}

/* Start a container for inv (cold start or prewarm); memory is reserved.
 * On -1 nothing of the container is left (its memory is released) and err
 * says why; the caller fails inv its own way. */
static int start_container(struct ilu_worker *w, struct ilu_invocation *inv, struct ilu_error *err)
{
    /* a GPU container: a spot on the GPU of inv's token, else (a prewarm)
     * on the least loaded GPU */
    int gpu = -1;
    if (inv->on_gpu) {
        gpu = inv->gpu_token ? (int)inv->gpu_device : ilu_gpus_pick(&w->gpus);
        if (gpu < 0 || w->gpus.dev[gpu].spots_used >= w->gpus.dev[gpu].spots) {
            ilu_pool_release(&w->pool, inv->fn->memory_mb);
            return ilu_err(err, ILU_ST_UNAVAILABLE, "no_gpu_spot", "every GPU spot (%u) is held by a container",
                           w->gpus.spots);
        }
    }
    /* a pre-started sandbox when one is ready (never for a GPU container),
     * else a fresh container */
    struct ilu_container *c = gpu < 0 ? ilu_sandboxes_take(&w->sandboxes, inv->fn) : NULL;
    if (c) {
        ilu_pool_adopt(&w->pool, c, inv->fn);
        inv->sandbox = ILU_SANDBOX_POOLED;
        ilu_log_fields(w->log, ILU_LOG_INFO, inv->tid,
                       json_pack("{s:s, s:s}", "container_id", c->id, "fqdn", inv->fn->fqdn), "assigning sandbox");
        int rc = w->backend->ops->assign(w->backend, c, inv->tid, err);
        if (rc) {
            ilu_sandboxes_refill(&w->sandboxes, inv->tid);
            w->count.start_failures++;
            ilu_pool_remove(&w->pool, c, inv->tid, "the backend could not assign the sandbox");
            return -1;
        }
    } else {
        if (!(c = ilu_pool_new_container(&w->pool, inv->fn))) {
            ilu_pool_release(&w->pool, inv->fn->memory_mb);
            return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory creating a container");
        }
        inv->sandbox = ILU_SANDBOX_FRESH;
        if (gpu >= 0) {
            struct ilu_gpu_spot spot;
            ilu_gpus_assign_device(&w->gpus, (uint32_t)gpu, c, &spot); /* free: checked above */
            c->has_gpu_spot = true;
            c->gpu_device = spot.device;
            c->gpu_spot = spot.index;
        }
        ilu_log_fields(w->log, ILU_LOG_INFO, inv->tid,
                       json_pack("{s:s, s:s}", "container_id", c->id, "fqdn", inv->fn->fqdn), "starting container");
        if (w->backend->ops->create(w->backend, c, inv->tid, err)) {
            w->count.start_failures++;
            ilu_pool_remove(&w->pool, c, inv->tid, "the backend could not create it");
            return -1;
        }
    }
    c->inv = inv;
    inv->container = c;
    free(inv->container_id);
    inv->container_id = strdup(c->id);
    c->start_timer = w->env->timer_start(w->env->ctx, (uint64_t)w->cfg.container_resources.startup_timeout_ms * 1000,
                                         on_start_timeout, c);
    return 0;
}

/* A dequeued invocation runs: on c, taken for it (warm or prewarmed), or
 * on a container started now (cold); a failed start fails it. */
void ilu_worker_run_on(struct ilu_worker *w, struct ilu_invocation *inv, struct ilu_container *c)
{
    if (c) {
        inv->start_kind = c->prewarmed ? ILU_START_PREWARM : ILU_START_WARM;
        send_to_container(w, inv, c);
        return;
    }
    struct ilu_error err = {0};
    if (start_container(w, inv, &err))
        ilu_worker_fail(w, inv, err.status ? err.status : ILU_ST_BAD_GATEWAY, "container_error", err.msg);
}

/* ---- dispatch ------------------------------------------------------------ */

static void dispatch(struct ilu_worker *w)
{
    struct ilu_invocation *inv;
    struct ilu_queue_view v = queue_view(w);
    while ((inv = ilu_queue_next(&w->queue, &v))) {
        struct ilu_function *fn = inv->fn;
        /* a function needing more CPUs than the limit still runs, alone */
        if (w->cpus_in_use > 0 && w->cpus_in_use + fn->cpus > w->cpu_limit)
            return;
        struct ilu_container *c = cpu_take_idle(w, fn);
        if (!c && ilu_pool_reserve(&w->pool, fn->memory_mb, inv->tid)) {
            if (w->pool.n_starting == 0 && w->running == 0) { /* nothing will ever free memory */
                ilu_queue_remove(&w->queue, inv);
                ilu_worker_fail(w, inv, ILU_ST_UNAVAILABLE, "insufficient_memory",
                                "not enough memory in the container pool for this function");
                v = queue_view(w);
                continue;
            }
            return; /* wait for a running invocation to free a container */
        }
        ilu_queue_remove(&w->queue, inv);
        inv->t.dequeued_us = w_now(w);
        inv->dequeued = true;
        w->cpus_in_use += fn->cpus;
        w->running++;
        v = queue_view(w);
        if (w->queue.policy->on_start)
            w->queue.policy->on_start(w->queue.state, inv, &v);
        ilu_worker_twin_drop(w, inv);
        ilu_worker_run_on(w, inv, c);
        v = queue_view(w);
    }
}

static void on_kick(void *arg)
{
    struct ilu_worker *w = arg;
    w->kick_timer = NULL;
    dispatch(w);
    ilu_worker_dispatch_gpu(w);
}

/* Dispatch after the current callback returns, so callers never re-enter. */
void ilu_worker_kick(struct ilu_worker *w)
{
    if (!w->kick_timer && (ilu_queue_len(&w->queue) || ilu_queue_len(&w->gpu_queue)))
        w->kick_timer = w->env->timer_start(w->env->ctx, 0, on_kick, w);
}

static void timed_out(struct ilu_worker *w, struct ilu_invocation *inv)
{
    w->count.timeouts++;
    char msg[160];
    snprintf(msg, sizeof msg, "%s did not finish within limits.timeout_sec=%u s",
             inv->prewarm_only ? "prewarm" : "invocation", w->cfg.limits.timeout_sec);
    struct ilu_container *c = inv->container;
    if (c) { /* stuck in the function or in start-up: kill the container */
        c->inv = NULL;
        inv->container = NULL;
        ilu_pool_remove(&w->pool, c, inv->tid, "invocation timed out");
    }
    ilu_worker_fail(w, inv, ILU_ST_TIMEOUT, "timeout", msg);
}

static void on_deadline(void *arg)
{
    struct ilu_worker *w = arg;
    w->deadline_timer = NULL;
    uint64_t now = w_now(w);
    struct ilu_invocation *inv;
    while ((inv = w->deadline_head) && inv->deadline_us <= now) {
        ilu_worker_deadline_remove(w, inv);
        timed_out(w, inv);
    }
    deadline_arm(w);
}

static void on_pool_tick(void *arg)
{
    struct ilu_worker *w = arg;
    struct ilu_function *plan[16];
    size_t n = ilu_pool_tick(&w->pool, plan, sizeof plan / sizeof plan[0]);
    for (size_t i = 0; i < n && !w->shutting_down; i++) {
        struct ilu_error err = {0};
        if (ilu_worker_prewarm(w, plan[i]->name, plan[i]->version, "keepalive-plan", NULL, NULL, &err))
            ilu_log_fields(w->log, ILU_LOG_DEBUG, "keepalive-plan", json_pack("{s:s}", "fqdn", plan[i]->fqdn),
                           "planned prewarm skipped: %s", err.msg);
    }
    ilu_sandboxes_refill(&w->sandboxes, "pool");
    /* a queue policy may hold everything back (a throttled flow) until time
     * passes; completions re-kick, and this covers a queue with none due */
    ilu_worker_kick(w);
    w->pool_timer =
        w->env->timer_start(w->env->ctx, (uint64_t)w->cfg.container_resources.pool_freq_ms * 1000, on_pool_tick, w);
}

/* Dynamic concurrency, Ilúvatar's CPU oversubscription: every
 * concurrency_update_check_ms, one more CPU while the normalised load is at
 * most max_load (up to max_oversubscribe), else half the excess over
 * cpu_count (rounded up) goes. The core reads no /proc/loadavg: its load is
 * the CPUs its running invocations hold (bypassed ones too) / cpu_count. A
 * shrink stops nothing running; dispatch just waits under the new limit. */
static void on_concurrency_check(void *arg)
{
    struct ilu_worker *w = arg;
    double max_load = w->cfg.container_resources.max_load;
    double load = (double)(w->cpus_in_use + w->bypass_cpus) / w->cpu_base;
    uint32_t before = w->cpu_limit;
    if (load > max_load)
        w->cpu_limit -= (w->cpu_limit - w->cpu_base + 1) / 2;
    else if (w->cpu_limit < w->cfg.container_resources.max_oversubscribe)
        w->cpu_limit++;
    if (w->cpu_limit != before)
        ilu_log_fields(
            w->log, ILU_LOG_DEBUG, "concurrency",
            json_pack("{s:i, s:i, s:f}", "old_limit", (int)before, "cpu_limit", (int)w->cpu_limit, "load", load),
            "Current concurrency");
    if (w->cpu_limit > before)
        ilu_worker_kick(w);
    w->concurrency_timer = w->env->timer_start(
        w->env->ctx, (uint64_t)w->cfg.container_resources.concurrency_update_check_ms * 1000, on_concurrency_check, w);
}

/* ---- public API ---------------------------------------------------------- */

struct ilu_worker *ilu_worker_new(const struct ilu_worker_config *cfg, const struct ilu_env *env,
                                  struct ilu_backend *backend, const struct ilu_log *log, struct ilu_error *err)
{
    if (ilu_config_validate(cfg, err))
        return NULL;
    struct ilu_worker *w = calloc(1, sizeof *w);
    if (!w) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    w->cfg = *cfg;
    w->env = env;
    w->backend = backend;
    w->log = log;
    w->cpu_limit = cfg->container_resources.cpu_count ? cfg->container_resources.cpu_count : 1;
    /* queue policy "none" with cpu_count 0: no concurrency limit (Ilúvatar's
     * queueless mode); dispatch's CPU check can then never stop the head */
    if (ilu_queue_config_unlimited(cfg))
        w->cpu_limit = ILU_CPU_UNLIMITED;
    if (ilu_map_init(&w->functions)) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        ilu_worker_free(w);
        return NULL;
    }
    if (ilu_worker_gpus_init(w, err) || ilu_pool_init(&w->pool, cfg, env, backend, log, err) ||
        ilu_sandboxes_init(&w->sandboxes, cfg, env, backend, &w->pool, w, log, err) ||
        ilu_queue_init(&w->queue, ilu_queue_policy_find(cfg->invocation.queue_policy), cfg,
                       cfg->invocation.max_queue_len, err) ||
        ilu_queue_init(&w->gpu_queue, ilu_gpu_queue_policy_find(cfg->invocation.gpu_queue_policy), cfg,
                       cfg->invocation.max_queue_len, err)) {
        ilu_worker_free(w);
        return NULL;
    }
    w->gpu_queue.gpu = true;
    w->dispatch = ilu_dispatch_policy_find(cfg->invocation.enqueueing_policy);
    backend->events =
        (struct ilu_backend_events){.ctx = w, .ready = on_ready, .invoke_done = on_invoke_done, .died = on_died};
    w->pool_timer = env->timer_start(env->ctx, (uint64_t)cfg->container_resources.pool_freq_ms * 1000, on_pool_tick, w);
    w->cpu_base = cfg->container_resources.cpu_count ? cfg->container_resources.cpu_count : 1;
    if (cfg->container_resources.concurrency_update_check_ms && w->cpu_limit != ILU_CPU_UNLIMITED)
        w->concurrency_timer = env->timer_start(
            env->ctx, (uint64_t)cfg->container_resources.concurrency_update_check_ms * 1000, on_concurrency_check, w);
    w->pool.sandboxes = &w->sandboxes;
    w->pool.gpus = &w->gpus;
    ilu_sandboxes_refill(&w->sandboxes, "startup");
    return w;
}

void ilu_worker_free(struct ilu_worker *w)
{
    if (!w)
        return;
    /* invocations still on containers (the shutdown grace period ran out)
     * are dropped with their containers; their clients are gone with the
     * HTTP server */
    if (w->pool.sandboxes)
        ilu_sandboxes_clear(&w->sandboxes, "shutdown", "worker stopping");
    while (w->pool.containers) {
        struct ilu_invocation *running = w->pool.containers->inv;
        ilu_pool_remove(&w->pool, w->pool.containers, "shutdown", "worker stopping");
        if (running)
            ilu_worker_inv_free(running);
    }
    struct ilu_invocation *inv;
    while (w->queue.state && (inv = ilu_queue_pop(&w->queue, NULL)))
        ilu_worker_inv_free(inv);
    while (w->gpu_queue.state && (inv = ilu_queue_pop(&w->gpu_queue, NULL)))
        ilu_worker_inv_free(inv);
    if (w->deadline_timer)
        w->env->timer_cancel(w->env->ctx, w->deadline_timer);
    if (w->pool_timer)
        w->env->timer_cancel(w->env->ctx, w->pool_timer);
    if (w->kick_timer)
        w->env->timer_cancel(w->env->ctx, w->kick_timer);
    if (w->concurrency_timer)
        w->env->timer_cancel(w->env->ctx, w->concurrency_timer);
    const char *key;
    void *value;
    for (size_t it = 0; ilu_map_next(&w->functions, &it, &key, &value);)
        fn_free(value);
    ilu_map_destroy(&w->functions);
    ilu_queue_destroy(&w->queue);
    ilu_queue_destroy(&w->gpu_queue);
    ilu_pool_destroy(&w->pool);
    ilu_gpus_destroy(&w->gpus);
    while (w->spare_invs) {
        inv = w->spare_invs;
        w->spare_invs = inv->deadline_next;
        free(inv);
    }
    free(w);
}

int ilu_worker_register(struct ilu_worker *w, const struct ilu_register_req *req, const char *tid,
                        struct ilu_error *err)
{
    if (w->shutting_down)
        return ilu_err(err, ILU_ST_UNAVAILABLE, NULL, "the worker is shutting down");
    /* the same rules the controller applies, plus this worker's limits */
    const struct ilu_worker_config *cfg = &w->cfg;
    const struct ilu_registration_limits lim = {.mem_min_mb = cfg->limits.mem_min_mb,
                                                .mem_max_mb = cfg->limits.mem_max_mb,
                                                .pool_mb = cfg->container_resources.memory_mb,
                                                .cpu_max = cfg->limits.cpu_max,
                                                .gpu_count = w->gpus.n};
    if (ilu_registration_check(req, &lim, err))
        return -1;
    uint32_t compute = req->compute ? req->compute : ILU_COMPUTE_CPU;

    char fqdn[160];
    snprintf(fqdn, sizeof fqdn, "%s-%s", req->function_name, req->function_version);
    struct ilu_function *old = ilu_map_get(&w->functions, fqdn);
    if (old) {
        if (strcmp(old->image, req->image_name) || old->memory_mb != req->memory_mb || old->cpus != req->cpus ||
            old->compute != compute)
            return ilu_err(err, ILU_ST_CONFLICT, NULL,
                           "function %s is already registered with image %s, memory %u MB, %u cpus, compute %s", fqdn,
                           old->image, old->memory_mb, old->cpus, ilu_compute_name(old->compute));
        return 0; /* identical re-registration is a no-op */
    }
    if (w->backend->ops->check_image(w->backend, req->image_name, err))
        return ilu_err_wrap(err, "registering %s", fqdn);
    struct ilu_function *fn = calloc(1, sizeof *fn);
    if (!fn || !(fn->name = strdup(req->function_name)) || !(fn->version = strdup(req->function_version)) ||
        !(fn->fqdn = strdup(fqdn)) || !(fn->image = strdup(req->image_name)) || ilu_map_put(&w->functions, fqdn, fn)) {
        fn_free(fn);
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory registering %s", fqdn);
    }
    fn->memory_mb = req->memory_mb;
    fn->cpus = req->cpus;
    fn->parallel_invokes = 1;
    fn->compute = compute;
    fn->system = req->system;
    fn->worker = w;
    ilu_log_fields(w->log, ILU_LOG_INFO, tid,
                   json_pack("{s:s, s:i, s:i, s:s}", "fqdn", fqdn, "memory_mb", (int)fn->memory_mb, "cpus",
                             (int)fn->cpus, "compute", ilu_compute_name(fn->compute)),
                   "function registered");
    return 0;
}

struct ilu_function *ilu_worker_function(const struct ilu_worker *w, const char *name, const char *version)
{
    /* "name-version", as snprintf would truncate it, without its cost (it
     * runs once per invocation) */
    char fqdn[160];
    size_t n = name ? strnlen(name, sizeof fqdn - 1) : 0;
    memcpy(fqdn, name ? name : "", n);
    if (n < sizeof fqdn - 1)
        fqdn[n++] = '-';
    size_t v = version ? strnlen(version, sizeof fqdn - 1 - n) : 0;
    memcpy(fqdn + n, version ? version : "", v);
    fqdn[n + v] = 0;
    return ilu_map_get(&w->functions, fqdn);
}

struct ilu_invocation *ilu_worker_inv_new(struct ilu_worker *w, struct ilu_function *fn, const char *tid)
{
    struct ilu_invocation *inv = w->spare_invs;
    if (inv) {
        w->spare_invs = inv->deadline_next;
        w->n_spare_invs--;
        memset(inv, 0, sizeof *inv);
    } else if (!(inv = calloc(1, sizeof *inv))) {
        return NULL;
    }
    inv->worker = w;
    size_t n = tid ? strnlen(tid, sizeof inv->tid - 1) : 0;
    memcpy(inv->tid, tid ? tid : "", n); /* calloc'ed: NUL-terminated */
    inv->fn = fn;
    inv->seq = ++w->seq;
    inv->t.arrived_us = w_now(w);
    inv->t.wall_arrived_us = w->env->wall_us ? w->env->wall_us(w->env->ctx) : 0;
    inv->start_kind = ILU_START_ERROR;
    return inv;
}

static int lookup(struct ilu_worker *w, const char *name, const char *version, struct ilu_function **fn,
                  struct ilu_error *err)
{
    if (w->shutting_down)
        return ilu_err(err, ILU_ST_UNAVAILABLE, NULL, "the worker is shutting down");
    if (!name || !*name || !version || !*version)
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "function_name and function_version are required");
    *fn = ilu_worker_function(w, name, version);
    if (!*fn)
        return ilu_err(err, ILU_ST_NOT_FOUND, NULL, "function %s-%s is not registered", name, version);
    return 0;
}

/* invocation.bypass_duration_ms, Ilúvatar's bypass: a function whose average
 * execution is known and shorter runs now on a free warm container of its
 * own, outside the queue and the CPU limit. False when it does not qualify or
 * the send failed; the caller then queues it as usual. */
static bool bypass(struct ilu_worker *w, struct ilu_invocation *inv)
{
    struct ilu_function *fn = inv->fn;
    const struct ilu_stat *exec = &fn->stats.exec_us;
    uint32_t limit_ms = w->cfg.invocation.bypass_duration_ms;
    if (!limit_ms || exec->n == 0 || exec->ewma >= limit_ms * 1000.0 || fn->n_idle == 0)
        return false;
    struct ilu_container *c = cpu_take_idle(w, fn);
    if (!c)
        return false;
    enum ilu_start_kind kind = c->prewarmed ? ILU_START_PREWARM : ILU_START_WARM;
    struct ilu_error err = {0};
    if (container_send(w, inv, c, &err)) {
        free(inv->container_id);
        inv->container_id = NULL;
        ilu_log_fields(w->log, ILU_LOG_WARN, inv->tid, json_pack("{s:s}", "fqdn", fn->fqdn),
                       "bypass failed, queueing instead: %s", err.msg);
        return false;
    }
    inv->start_kind = kind;
    inv->t.dequeued_us = inv->t.sent_us;
    inv->dequeued = true;
    inv->bypassed = true;
    w->bypass_cpus += fn->cpus;
    w->running++;
    w->count.bypassed++;
    ilu_log_fields(w->log, ILU_LOG_DEBUG, inv->tid,
                   json_pack("{s:s, s:f}", "fqdn", fn->fqdn, "avg_exec_us", exec->ewma), "Bypassing the queue");
    return true;
}

int ilu_worker_invoke(struct ilu_worker *w, const char *name, const char *version, const char *args, size_t args_len,
                      const char *tid, ilu_invoke_done_fn done, void *arg, struct ilu_error *err)
{
    struct ilu_function *fn;
    if (lookup(w, name, version, &fn, err))
        return -1;
    return ilu_worker_invoke_fn(w, fn, args, args_len, tid, done, arg, err);
}

int ilu_worker_invoke_fn(struct ilu_worker *w, struct ilu_function *fn, const char *args, size_t args_len,
                         const char *tid, ilu_invoke_done_fn done, void *arg, struct ilu_error *err)
{
    if (w->shutting_down)
        return ilu_err(err, ILU_ST_UNAVAILABLE, NULL, "the worker is shutting down");
    if (args_len > w->cfg.limits.max_payload_bytes)
        return ilu_err(err, ILU_ST_TOO_LARGE, NULL, "arguments are %zu bytes, over limits.max_payload_bytes=%u",
                       args_len, w->cfg.limits.max_payload_bytes);
    struct ilu_invocation *inv = ilu_worker_inv_new(w, fn, tid);
    if (!inv || ilu_worker_inv_set_args(inv, args, args_len)) {
        if (inv)
            ilu_worker_inv_free(inv);
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory queueing an invocation");
    }
    ilu_fn_stats_arrival(&fn->stats, inv->t.arrived_us);
    inv->done = done;
    inv->done_arg = arg;
    inv->on_gpu = ilu_worker_fn_on_gpu(w, fn);
    if (inv->on_gpu || !bypass(w, inv)) {
        struct ilu_queue_view v = inv->on_gpu ? ilu_worker_gpu_queue_view(w) : queue_view(w);
        if (ilu_queue_push(inv_queue(w, inv), inv, &v, err)) {
            w->count.rejected++;
            ilu_worker_inv_free(inv);
            return -1;
        }
    }
    w->pending++;
    ilu_worker_deadline_add(w, inv);
    if (inv->queued && !inv->on_gpu && ilu_worker_fn_in_both(w, fn))
        ilu_worker_twin_enqueue(w, inv);
    ilu_worker_kick(w);
    return 0;
}

int ilu_worker_prewarm(struct ilu_worker *w, const char *name, const char *version, const char *tid,
                       ilu_prewarm_done_fn done, void *arg, struct ilu_error *err)
{
    struct ilu_function *fn;
    if (lookup(w, name, version, &fn, err))
        return -1;
    if (ilu_pool_reserve(&w->pool, fn->memory_mb, tid))
        return ilu_err(err, ILU_ST_UNAVAILABLE, "insufficient_memory",
                       "no memory to prewarm %s: %llu of %u MB held by busy or starting containers", fn->fqdn,
                       (unsigned long long)w->pool.used_mem_mb, w->cfg.container_resources.memory_mb);
    struct ilu_invocation *inv = ilu_worker_inv_new(w, fn, tid);
    if (!inv) {
        ilu_pool_release(&w->pool, fn->memory_mb);
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    }
    inv->prewarm_only = true;
    inv->on_gpu = ilu_worker_fn_on_gpu(w, fn);
    inv->prewarm_done = done;
    inv->done_arg = arg;
    inv->start_kind = ILU_START_PREWARM;
    /* like invoke, done is never called from inside this call */
    if (start_container(w, inv, err)) {
        ilu_worker_inv_free(inv);
        return -1;
    }
    w->pending++;
    ilu_worker_deadline_add(w, inv);
    return 0;
}

unsigned ilu_worker_clean(struct ilu_worker *w, const char *tid)
{
    /* fresh sandboxes take the place of the removed ones */
    unsigned n = ilu_pool_remove_idle(&w->pool, tid, "clean requested") +
                 ilu_sandboxes_clear(&w->sandboxes, tid, "clean requested");
    ilu_sandboxes_refill(&w->sandboxes, tid);
    return n;
}

void ilu_worker_begin_shutdown(struct ilu_worker *w)
{
    w->shutting_down = true;
    ilu_sandboxes_stop(&w->sandboxes);
    ilu_sandboxes_clear(&w->sandboxes, "shutdown", "worker stopping");
    ilu_pool_remove_idle(&w->pool, "shutdown", "worker stopping");
}

unsigned ilu_worker_outstanding(const struct ilu_worker *w)
{
    return w->pending;
}

unsigned ilu_worker_sandboxes_starting(const struct ilu_worker *w)
{
    return w->sandboxes.n_starting;
}
