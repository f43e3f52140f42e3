/* Container pool: idle lists per function (most recently used first, so warm
 * reuse keeps the hottest container hot), memory accounting against
 * container_resources.memory_mb, eviction of idle containers by the eviction
 * policy, keep-alive expiry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker_internal.h"

static void idle_unlink(struct ilu_worker *w, struct ilu_container *c)
{
    if (c->idle_prev)
        c->idle_prev->idle_next = c->idle_next;
    else
        c->fn->idle_head = c->idle_next;
    if (c->idle_next)
        c->idle_next->idle_prev = c->idle_prev;
    c->idle_prev = c->idle_next = NULL;
    w->n_idle--;
}

struct ilu_container *pool_take_idle(struct ilu_worker *w, struct ilu_function *fn)
{
    struct ilu_container *c = fn->idle_head;
    if (!c)
        return NULL;
    idle_unlink(w, c);
    c->state = ILU_CT_BUSY;
    return c;
}

void pool_put_idle(struct ilu_worker *w, struct ilu_container *c)
{
    c->state = ILU_CT_IDLE;
    c->inv = NULL;
    c->last_used_us = w_now(w);
    c->idle_prev = NULL;
    c->idle_next = c->fn->idle_head;
    if (c->idle_next)
        c->idle_next->idle_prev = c;
    c->fn->idle_head = c;
    w->n_idle++;
}

struct ilu_container *pool_new_container(struct ilu_worker *w, struct ilu_function *fn)
{
    struct ilu_container *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    /* Ids end in a sequence number so they stay unique whatever the name; the
     * fqdn part is cut short because the agent socket path under the
     * container's bundle must fit in sun_path (108 bytes). */
    int n = snprintf(c->id, sizeof c->id, "%.40s-%llu", fn->fqdn, (unsigned long long)++w->container_seq);
    for (int i = 0; i < n && c->id[i]; i++) {
        char ch = c->id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_' || ch == '.'))
            c->id[i] = '_';
    }
    c->fn = fn;
    c->state = ILU_CT_STARTING;
    c->memory_mb = fn->memory_mb;
    c->cpus = fn->cpus;
    c->created_us = c->last_used_us = w_now(w);
    c->all_next = w->containers;
    if (w->containers)
        w->containers->all_prev = c;
    w->containers = c;
    fn->n_containers++;
    w->n_containers++;
    w->n_starting++;
    w->count.containers_started++;
    return c;
}

void pool_remove(struct ilu_worker *w, struct ilu_container *c, const char *tid, const char *reason)
{
    if (c->state == ILU_CT_IDLE)
        idle_unlink(w, c);
    else if (c->state == ILU_CT_STARTING)
        w->n_starting--;
    if (c->start_timer) {
        w->env->timer_cancel(w->env->ctx, c->start_timer);
        c->start_timer = NULL;
    }
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        w->containers = c->all_next;
    if (c->all_next)
        c->all_next->all_prev = c->all_prev;
    w->used_mem_mb -= c->memory_mb;
    c->fn->n_containers--;
    w->n_containers--;
    ilu_log_fields(w->log, ILU_LOG_INFO, tid,
                 json_pack("{s:s, s:s, s:I}", "container_id", c->id, "fqdn", c->fn->fqdn, "used_mem_mb",
                           (json_int_t)w->used_mem_mb),
                 "removing container: %s", reason);
    w->backend->ops->destroy(w->backend, c, tid);
    free(c);
}

/* The idle container the eviction policy ranks lowest. A linear scan: pools
 * hold at most a few hundred containers, and it runs only on a cold start
 * that does not fit. */
static struct ilu_container *pick_victim(struct ilu_worker *w)
{
    struct ilu_container *victim = NULL;
    double best = 0;
    uint64_t now = w_now(w);
    for (struct ilu_container *c = w->containers; c; c = c->all_next) {
        if (c->state != ILU_CT_IDLE)
            continue;
        double p = w->eviction->priority(c, now);
        if (!victim || p < best) {
            victim = c;
            best = p;
        }
    }
    return victim;
}

int pool_reserve(struct ilu_worker *w, uint32_t memory_mb, const char *tid)
{
    uint64_t total = w->cfg.container_resources.memory_mb;
    if (w->used_mem_mb + memory_mb > total) {
        /* evict only if evicting every idle container would make room:
         * otherwise we would destroy warm containers for nothing */
        uint64_t idle_mb = 0;
        for (struct ilu_container *c = w->containers; c; c = c->all_next)
            if (c->state == ILU_CT_IDLE)
                idle_mb += c->memory_mb;
        if (w->used_mem_mb - idle_mb + memory_mb > total)
            return -1;
    }
    while (w->used_mem_mb + memory_mb > total) {
        struct ilu_container *victim = pick_victim(w);
        if (!victim)
            return -1;
        w->count.evictions++;
        pool_remove(w, victim, tid, "evicted to make room");
    }
    w->used_mem_mb += memory_mb;
    return 0;
}

void pool_enforce_keepalive(struct ilu_worker *w)
{
    uint64_t ttl = (uint64_t)w->cfg.container_resources.keepalive_sec * 1000000;
    if (!ttl)
        return;
    uint64_t now = w_now(w);
    struct ilu_container *c = w->containers, *next;
    for (; c; c = next) {
        next = c->all_next;
        if (c->state == ILU_CT_IDLE && now - c->last_used_us >= ttl) {
            w->count.keepalive_removals++;
            pool_remove(w, c, "keepalive", "idle longer than keepalive_sec");
        }
    }
}

unsigned pool_remove_idle(struct ilu_worker *w, const char *tid, const char *reason)
{
    unsigned removed = 0;
    struct ilu_container *c = w->containers, *next;
    for (; c; c = next) {
        next = c->all_next;
        if (c->state == ILU_CT_IDLE) {
            pool_remove(w, c, tid, reason);
            removed++;
        }
    }
    return removed;
}
