/* Generic sandboxes: see sandbox_pool.h. Sandboxes live on this module's
 * two lists (ready, starting), not in the container pool: keep-alive
 * policies, /list and the per-function counts never see them. Only their
 * memory is in the pool's accounting. */
#include "worker/sandbox_pool.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/pool.h"

#define RETRY_AFTER_FAILURE_US 1000000 /* a failing runtime is not hammered */

static struct ilu_sandbox_pool *pool_of(const struct ilu_container *c)
{
    return (struct ilu_sandbox_pool *)((char *)c->fn - offsetof(struct ilu_sandbox_pool, stand_in));
}

static uint64_t now_us(const struct ilu_sandbox_pool *sp)
{
    return sp->env->now_us(sp->env->ctx);
}

int ilu_sandboxes_init(struct ilu_sandbox_pool *sp, const struct ilu_worker_config *cfg, const struct ilu_env *env,
                       struct ilu_backend *backend, struct ilu_pool *pool, struct ilu_worker *worker,
                       const struct ilu_log *log, struct ilu_error *err)
{
    memset(sp, 0, sizeof *sp);
    sp->pool = pool;
    sp->backend = backend;
    sp->env = env;
    sp->log = log;
    sp->target = cfg->container_resources.sandbox_pool_size;
    sp->memory_mb = cfg->container_resources.sandbox_memory_mb;
    sp->max_starting = cfg->container_resources.sandbox_max_starting;
    sp->startup_timeout_us = (uint64_t)cfg->container_resources.startup_timeout_ms * 1000;
    sp->stand_in.name = sp->stand_in.fqdn = "sandbox";
    sp->stand_in.version = "0";
    sp->stand_in.image = "";
    sp->stand_in.memory_mb = sp->memory_mb;
    sp->stand_in.cpus = 1;
    sp->stand_in.system = sp->stand_in.sandbox = true;
    sp->stand_in.worker = worker;
    if (sp->target && (!backend->ops->assign || !backend->ops->assignable || !backend->ops->assignable(backend, NULL)))
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                       "container_resources.sandbox_pool_size is %u but the %s backend cannot pool sandboxes%s",
                       sp->target, backend->ops->name,
                       backend->ops->assign ? " on this host (see its log for why)" : "");
    return 0;
}

/* ---- the two lists (idle_prev/idle_next: a sandbox is on one) ---- */

static void list_push(struct ilu_container **head, struct ilu_container **tail, struct ilu_container *c)
{
    c->idle_next = NULL;
    c->idle_prev = tail ? *tail : NULL;
    if (tail) {
        if (*tail)
            (*tail)->idle_next = c;
        else
            *head = c;
        *tail = c;
        return;
    }
    c->idle_next = *head; /* no tail: push at the head */
    if (*head)
        (*head)->idle_prev = c;
    *head = c;
}

static void list_unlink(struct ilu_container **head, struct ilu_container **tail, struct ilu_container *c)
{
    if (c->idle_prev)
        c->idle_prev->idle_next = c->idle_next;
    else
        *head = c->idle_next;
    if (c->idle_next)
        c->idle_next->idle_prev = c->idle_prev;
    else if (tail)
        *tail = c->idle_prev;
    c->idle_prev = c->idle_next = NULL;
}

static void unlink_any(struct ilu_sandbox_pool *sp, struct ilu_container *c)
{
    if (c->state == ILU_CT_STARTING) {
        list_unlink(&sp->starting, NULL, c);
        sp->n_starting--;
    } else {
        list_unlink(&sp->ready, &sp->ready_tail, c);
        sp->n_ready--;
    }
}

/* Off the lists already: give back its memory and have it destroyed. */
static void discard(struct ilu_sandbox_pool *sp, struct ilu_container *c, const char *tid, const char *reason)
{
    if (c->start_timer) {
        sp->env->timer_cancel(sp->env->ctx, c->start_timer);
        c->start_timer = NULL;
    }
    ilu_pool_release(sp->pool, c->memory_mb);
    ilu_log_fields(sp->log, ILU_LOG_INFO, tid, json_pack("{s:s}", "container_id", c->id), "removing sandbox: %s",
                   reason);
    sp->backend->ops->destroy(sp->backend, c, tid);
    free(c);
}

/* ---- starting ---- */

static void on_start_timeout(void *arg)
{
    struct ilu_container *c = arg;
    struct ilu_sandbox_pool *sp = pool_of(c);
    c->start_timer = NULL;
    struct ilu_error err;
    ilu_err(&err, ILU_ST_BAD_GATEWAY, "container_error", "sandbox %s did not become ready within %llu ms", c->id,
            (unsigned long long)(sp->startup_timeout_us / 1000));
    ilu_sandboxes_on_ready(sp, c, &err);
}

static bool start_one(struct ilu_sandbox_pool *sp, const char *tid)
{
    struct ilu_container *c = calloc(1, sizeof *c);
    if (!c)
        return false;
    snprintf(c->id, sizeof c->id, "sandbox-%llu", (unsigned long long)++sp->seq);
    c->fn = &sp->stand_in;
    c->state = ILU_CT_STARTING;
    c->memory_mb = sp->memory_mb;
    c->cpus = 1;
    c->created_us = c->last_used_us = now_us(sp);
    sp->pool->used_mem_mb += c->memory_mb;
    list_push(&sp->starting, NULL, c);
    sp->n_starting++;
    sp->started++;
    struct ilu_error err = {0};
    if (sp->backend->ops->create(sp->backend, c, tid, &err)) {
        sp->failures++;
        sp->retry_after_us = now_us(sp) + RETRY_AFTER_FAILURE_US;
        unlink_any(sp, c);
        ilu_pool_release(sp->pool, c->memory_mb);
        ilu_warn(sp->log, tid, "cannot start sandbox %s: %s", c->id, err.msg);
        free(c);
        return false;
    }
    c->start_timer = sp->env->timer_start(sp->env->ctx, sp->startup_timeout_us, on_start_timeout, c);
    return true;
}

void ilu_sandboxes_refill(struct ilu_sandbox_pool *sp, const char *tid)
{
    while (!sp->stopped && sp->n_ready + sp->n_starting < sp->target && sp->n_starting < sp->max_starting &&
           now_us(sp) >= sp->retry_after_us && sp->pool->used_mem_mb + sp->memory_mb <= sp->pool->memory_mb)
        if (!start_one(sp, tid))
            return;
}

void ilu_sandboxes_on_ready(struct ilu_sandbox_pool *sp, struct ilu_container *c, const struct ilu_error *err)
{
    if (c->start_timer) {
        sp->env->timer_cancel(sp->env->ctx, c->start_timer);
        c->start_timer = NULL;
    }
    unlink_any(sp, c);
    if (err) {
        sp->failures++;
        sp->retry_after_us = now_us(sp) + RETRY_AFTER_FAILURE_US;
        ilu_warn(sp->log, "pool", "sandbox %s failed to start: %s", c->id, err->msg);
        discard(sp, c, "pool", "it failed to start");
        return;
    }
    c->state = ILU_CT_IDLE;
    c->ready_us = now_us(sp);
    list_push(&sp->ready, &sp->ready_tail, c);
    sp->n_ready++;
    ilu_log_fields(
        sp->log, ILU_LOG_DEBUG, "pool",
        json_pack("{s:s, s:I}", "container_id", c->id, "start_us", (json_int_t)(c->ready_us - c->created_us)),
        "sandbox ready");
    ilu_sandboxes_refill(sp, "pool");
}

void ilu_sandboxes_on_died(struct ilu_sandbox_pool *sp, struct ilu_container *c, const char *reason)
{
    unlink_any(sp, c);
    sp->deaths++;
    ilu_warn(sp->log, "pool", "sandbox %s died while waiting: %s", c->id, reason);
    discard(sp, c, "pool", "it died");
}

/* ---- taking ---- */

struct ilu_container *ilu_sandboxes_take(struct ilu_sandbox_pool *sp, const struct ilu_function *fn)
{
    if (!sp->target || fn->sandbox || !sp->backend->ops->assignable(sp->backend, fn))
        return NULL;
    struct ilu_container *c = sp->ready;
    if (!c) {
        sp->misses++;
        return NULL;
    }
    list_unlink(&sp->ready, &sp->ready_tail, c);
    sp->n_ready--;
    sp->hits++;
    ilu_pool_release(sp->pool, c->memory_mb);
    return c;
}

/* ---- giving memory back ---- */

uint64_t ilu_sandboxes_reclaimable_mb(const struct ilu_sandbox_pool *sp)
{
    return (uint64_t)(sp->n_ready + sp->n_starting) * sp->memory_mb;
}

bool ilu_sandboxes_reclaim_one(struct ilu_sandbox_pool *sp, const char *tid)
{
    struct ilu_container *c = sp->starting ? sp->starting : sp->ready_tail;
    if (!c)
        return false;
    unlink_any(sp, c);
    sp->reclaimed++;
    discard(sp, c, tid, "its memory is needed by a function");
    return true;
}

unsigned ilu_sandboxes_clear(struct ilu_sandbox_pool *sp, const char *tid, const char *reason)
{
    unsigned n = 0;
    struct ilu_container *c;
    while ((c = sp->starting ? sp->starting : sp->ready)) {
        unlink_any(sp, c);
        discard(sp, c, tid, reason);
        n++;
    }
    return n;
}

void ilu_sandboxes_stop(struct ilu_sandbox_pool *sp)
{
    sp->stopped = true;
}

void ilu_sandboxes_status_json(const struct ilu_sandbox_pool *sp, json_t *s)
{
    json_object_set_new(s, "sandbox_pool_size", json_integer(sp->target));
    json_object_set_new(s, "sandboxes_ready", json_integer(sp->n_ready));
    json_object_set_new(s, "sandboxes_starting", json_integer(sp->n_starting));
    json_object_set_new(s, "sandbox_hits", json_integer((json_int_t)sp->hits));
    json_object_set_new(s, "sandbox_misses", json_integer((json_int_t)sp->misses));
    json_object_set_new(s, "sandbox_start_failures", json_integer((json_int_t)sp->failures));
    json_object_set_new(s, "sandbox_deaths", json_integer((json_int_t)sp->deaths));
    json_object_set_new(s, "sandboxes_reclaimed", json_integer((json_int_t)sp->reclaimed));
}
