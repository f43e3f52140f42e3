/* Container pool: see pool.h. Idle containers are on two lists: their
 * function's (most recently used first, so warm reuse keeps the hottest
 * container hot) and the pool's (least recently used first, which is the
 * order most policies scan). */
#include "worker/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy_registry.h"
#include "worker/sandbox_pool.h"

int ilu_pool_init(struct ilu_pool *p, const struct ilu_worker_config *cfg, const struct ilu_env *env,
                  struct ilu_backend *backend, const struct ilu_log *log, struct ilu_error *err)
{
    memset(p, 0, sizeof *p);
    p->policy = ilu_keepalive_policy_find(cfg->container_resources.eviction);
    if (!p->policy)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "container_resources.eviction \"%s\" is not one of: %s",
                       cfg->container_resources.eviction, ilu_keepalive_policy_names());
    if (p->policy->create && !(p->policy_state = p->policy->create(cfg, err)))
        return -1;
    p->env = env;
    p->backend = backend;
    p->log = log;
    p->memory_mb = cfg->container_resources.memory_mb;
    p->keepalive_us = (uint64_t)cfg->container_resources.keepalive_sec * 1000000;
    return 0;
}

void ilu_pool_destroy(struct ilu_pool *p)
{
    if (p->policy && p->policy->free)
        p->policy->free(p->policy_state);
    p->policy_state = NULL;
}

#define EVENT(p, ev, c)                                               \
    do {                                                              \
        if ((p)->policy->ev)                                          \
            (p)->policy->ev((p)->policy_state, (c), ilu_pool_now(p)); \
    } while (0)

static void idle_unlink(struct ilu_pool *p, struct ilu_container *c)
{
    if (c->idle_prev)
        c->idle_prev->idle_next = c->idle_next;
    else
        c->fn->idle_head = c->idle_next;
    if (c->idle_next)
        c->idle_next->idle_prev = c->idle_prev;
    c->idle_prev = c->idle_next = NULL;
    if (c->lru_older)
        c->lru_older->lru_newer = c->lru_newer;
    else
        p->idle_lru = c->lru_newer;
    if (c->lru_newer)
        c->lru_newer->lru_older = c->lru_older;
    else
        p->idle_mru = c->lru_older;
    c->lru_older = c->lru_newer = NULL;
    c->fn->n_idle--;
    p->n_idle--;
}

struct ilu_container *ilu_pool_take_idle(struct ilu_pool *p, struct ilu_function *fn)
{
    struct ilu_container *c = fn->idle_head;
    if (!c)
        return NULL;
    ilu_pool_take(p, c);
    return c;
}

void ilu_pool_take(struct ilu_pool *p, struct ilu_container *c)
{
    idle_unlink(p, c);
    c->state = ILU_CT_BUSY;
    EVENT(p, on_use, c);
}

int ilu_pool_evict_gpu(struct ilu_pool *p, const char *tid)
{
    struct ilu_container *c = p->idle_lru;
    while (c && !c->has_gpu_spot)
        c = c->lru_newer;
    if (!c)
        return -1;
    p->evictions++;
    ilu_pool_remove(p, c, tid, "evicted to free a GPU spot");
    return 0;
}

void ilu_pool_put_idle(struct ilu_pool *p, struct ilu_container *c)
{
    c->state = ILU_CT_IDLE;
    c->inv = NULL;
    c->last_used_us = ilu_pool_now(p);
    c->idle_prev = NULL;
    c->idle_next = c->fn->idle_head;
    if (c->idle_next)
        c->idle_next->idle_prev = c;
    c->fn->idle_head = c;
    c->lru_newer = NULL;
    c->lru_older = p->idle_mru;
    if (p->idle_mru)
        p->idle_mru->lru_newer = c;
    else
        p->idle_lru = c;
    p->idle_mru = c;
    c->fn->n_idle++;
    p->n_idle++;
    EVENT(p, on_idle, c);
}

static void insert(struct ilu_pool *p, struct ilu_container *c, struct ilu_function *fn)
{
    c->fn = fn;
    c->state = ILU_CT_STARTING;
    c->memory_mb = fn->memory_mb;
    c->cpus = fn->cpus;
    c->created_us = c->last_used_us = ilu_pool_now(p);
    c->all_next = p->containers;
    if (p->containers)
        p->containers->all_prev = c;
    p->containers = c;
    fn->n_containers++;
    p->n_containers++;
    p->n_starting++;
    p->containers_started++;
    EVENT(p, on_insert, c);
}

void ilu_pool_adopt(struct ilu_pool *p, struct ilu_container *c, struct ilu_function *fn)
{
    c->idle_prev = c->idle_next = NULL;
    c->pooled = true;
    insert(p, c, fn);
}

struct ilu_container *ilu_pool_new_container(struct ilu_pool *p, struct ilu_function *fn)
{
    struct ilu_container *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    /* Ids end in a sequence number so they stay unique whatever the name; the
     * fqdn part is cut short because the agent socket path under the
     * container's bundle must fit in sun_path (108 bytes). */
    int n = snprintf(c->id, sizeof c->id, "%.40s-%llu", fn->fqdn, (unsigned long long)++p->container_seq);
    for (int i = 0; i < n && c->id[i]; i++) {
        char ch = c->id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_' || ch == '.'))
            c->id[i] = '_';
    }
    insert(p, c, fn);
    return c;
}

void ilu_pool_ready(struct ilu_pool *p, struct ilu_container *c)
{
    if (c->state == ILU_CT_STARTING) {
        c->state = ILU_CT_BUSY; /* until put idle or handed its invocation */
        p->n_starting--;
    }
}

void ilu_pool_remove(struct ilu_pool *p, struct ilu_container *c, const char *tid, const char *reason)
{
    EVENT(p, on_remove, c);
    if (c->state == ILU_CT_IDLE)
        idle_unlink(p, c);
    else if (c->state == ILU_CT_STARTING)
        p->n_starting--;
    if (c->start_timer) {
        p->env->timer_cancel(p->env->ctx, c->start_timer);
        c->start_timer = NULL;
    }
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        p->containers = c->all_next;
    if (c->all_next)
        c->all_next->all_prev = c->all_prev;
    p->used_mem_mb -= c->memory_mb;
    if (c->has_gpu_spot && p->gpus)
        ilu_gpus_release(p->gpus, c, (struct ilu_gpu_spot){.device = c->gpu_device, .index = c->gpu_spot});
    c->fn->n_containers--;
    p->n_containers--;
    ilu_log_fields(p->log, ILU_LOG_INFO, tid,
                   json_pack("{s:s, s:s, s:I}", "container_id", c->id, "fqdn", c->fn->fqdn, "used_mem_mb",
                             (json_int_t)p->used_mem_mb),
                   "removing container: %s", reason);
    p->backend->ops->destroy(p->backend, c, tid);
    free(c);
}

int ilu_pool_reserve(struct ilu_pool *p, uint32_t memory_mb, const char *tid)
{
    if (p->used_mem_mb + memory_mb > p->memory_mb) {
        /* evict only if evicting every idle container (and sandbox) would
         * make room: otherwise we would destroy warm containers for nothing */
        uint64_t idle_mb = p->sandboxes ? ilu_sandboxes_reclaimable_mb(p->sandboxes) : 0;
        for (struct ilu_container *c = p->idle_lru; c; c = c->lru_newer)
            idle_mb += c->memory_mb;
        if (p->used_mem_mb - idle_mb + memory_mb > p->memory_mb)
            return -1;
    }
    /* sandboxes waiting for a function go first: they hold nobody's state */
    while (p->used_mem_mb + memory_mb > p->memory_mb && p->sandboxes && ilu_sandboxes_reclaim_one(p->sandboxes, tid))
        ;
    while (p->used_mem_mb + memory_mb > p->memory_mb) {
        struct ilu_container *victim = p->idle_lru ? p->policy->victim(p->policy_state, p, ilu_pool_now(p)) : NULL;
        if (!victim || victim->state != ILU_CT_IDLE) {
            ilu_error_log(p->log, tid, "keep-alive policy %s chose no idle victim with %u idle containers",
                          p->policy->name, p->n_idle);
            return -1;
        }
        p->evictions++;
        ilu_pool_remove(p, victim, tid, "evicted to make room");
    }
    p->used_mem_mb += memory_mb;
    return 0;
}

void ilu_pool_release(struct ilu_pool *p, uint32_t memory_mb)
{
    p->used_mem_mb -= memory_mb;
}

size_t ilu_pool_tick(struct ilu_pool *p, struct ilu_function **plan, size_t cap)
{
    uint64_t now = ilu_pool_now(p);
    if (p->keepalive_us) {
        struct ilu_container *c = p->idle_lru, *next;
        for (; c && now - c->last_used_us >= p->keepalive_us; c = next) {
            next = c->lru_newer;
            p->keepalive_removals++;
            ilu_pool_remove(p, c, "keepalive", "idle longer than container_resources.keepalive_sec");
        }
    }
    if (p->policy->expired) {
        struct ilu_container *c;
        while (p->n_idle && (c = p->policy->expired(p->policy_state, p, now)) && c->state == ILU_CT_IDLE) {
            p->keepalive_removals++;
            ilu_pool_remove(p, c, "keepalive", "its keep-alive ran out");
        }
    }
    size_t n = 0;
    if (p->policy->prewarm_plan && cap)
        n = p->policy->prewarm_plan(p->policy_state, p, now, plan, cap);
    return n;
}

unsigned ilu_pool_remove_idle(struct ilu_pool *p, const char *tid, const char *reason)
{
    unsigned removed = 0;
    while (p->idle_lru) {
        ilu_pool_remove(p, p->idle_lru, tid, reason);
        removed++;
    }
    return removed;
}
