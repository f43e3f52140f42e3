/* The container pool: every container of a worker, idle lists per function
 * (most recently used first), memory accounting against
 * container_resources.memory_mb, and the keep-alive policy that chooses
 * eviction victims and expiries. Owns its state; no globals, so a simulated
 * cluster runs many pools in one process. */
#ifndef ILU_POOL_H
#define ILU_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/backend.h"
#include "core/config.h"
#include "core/env.h"
#include "worker/gpu.h"
#include "worker/keepalive.h"
#include "core/log.h"
#include "core/types.h"

struct ilu_sandbox_pool;

struct ilu_pool {
    const struct ilu_keepalive_ops *policy;
    void *policy_state;
    const struct ilu_env *env;
    struct ilu_backend *backend; /* destroys removed containers */
    const struct ilu_log *log;
    uint64_t memory_mb, used_mem_mb;
    uint64_t keepalive_us;              /* container_resources.keepalive_sec: a cap under any policy; 0 none */
    struct ilu_container *containers;   /* all, newest first */
    struct ilu_sandbox_pool *sandboxes; /* borrowed: memory given up first when a function needs room; NULL: none */
    struct ilu_gpus *gpus;              /* borrowed: a removed container's GPU spot goes back here; NULL: none */
    struct ilu_container *idle_lru;     /* idle, least recently used first (the tail of the idle order) */
    struct ilu_container *idle_mru;
    uint32_t n_containers, n_idle, n_starting;
    uint64_t container_seq;
    uint64_t containers_started, evictions, keepalive_removals;
};

/* policy from cfg->container_resources.eviction (already validated). */
int ilu_pool_init(struct ilu_pool *p, const struct ilu_worker_config *cfg, const struct ilu_env *env,
                  struct ilu_backend *backend, const struct ilu_log *log, struct ilu_error *err);
/* Frees the policy state; containers must be gone (ilu_pool_remove). */
void ilu_pool_destroy(struct ilu_pool *p);

/* The env's clock, in microseconds. */
static inline uint64_t ilu_pool_now(const struct ilu_pool *p)
{
    return p->env->now_us(p->env->ctx);
}

/* A new container of fn, STARTING; memory must have been reserved. */
struct ilu_container *ilu_pool_new_container(struct ilu_pool *p, struct ilu_function *fn);
/* Make the generic sandbox c (ilu_sandboxes_take) a STARTING container of
 * fn, as if new: fn's memory must have been reserved. */
void ilu_pool_adopt(struct ilu_pool *p, struct ilu_container *c, struct ilu_function *fn);
/* A STARTING container became ready (it stays out of the idle lists until
 * put idle or used). */
void ilu_pool_ready(struct ilu_pool *p, struct ilu_container *c);
/* The function's most recently used idle container, now BUSY; or NULL. */
struct ilu_container *ilu_pool_take_idle(struct ilu_pool *p, struct ilu_function *fn);
/* The idle container c (of any function), now BUSY. */
void ilu_pool_take(struct ilu_pool *p, struct ilu_container *c);
/* Remove the least recently used idle container holding a GPU spot, so
 * its spot is free (counted as an eviction); -1 when none is idle. */
int ilu_pool_evict_gpu(struct ilu_pool *p, const char *tid);
/* c finished (or became ready unused): IDLE. */
void ilu_pool_put_idle(struct ilu_pool *p, struct ilu_container *c);
/* Remove c everywhere, release its memory and its GPU spot, and have the
 * backend destroy it. */
void ilu_pool_remove(struct ilu_pool *p, struct ilu_container *c, const char *tid, const char *reason);

/* Reserve memory_mb, evicting idle containers as the policy chooses; -1
 * (nothing evicted) when even evicting every idle one would not make room. */
int ilu_pool_reserve(struct ilu_pool *p, uint32_t memory_mb, const char *tid);
void ilu_pool_release(struct ilu_pool *p, uint32_t memory_mb);

/* Time-based removal (policy expiry and the keepalive_sec cap); fills
 * plan with up to cap functions the policy wants prewarmed. */
size_t ilu_pool_tick(struct ilu_pool *p, struct ilu_function **plan, size_t cap);
/* Remove every idle container; returns how many. */
unsigned ilu_pool_remove_idle(struct ilu_pool *p, const char *tid, const char *reason);

/* Idle containers, least recently used first (for policies). */
static inline struct ilu_container *ilu_pool_idle_first(const struct ilu_pool *p)
{
    return p->idle_lru;
}
static inline struct ilu_container *ilu_pool_idle_next(const struct ilu_container *c)
{
    return c->lru_newer;
}

#endif
