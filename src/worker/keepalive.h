/* Keep-alive policies: which idle containers stay warm, which one goes when
 * memory is needed, which expire with time, and (optionally) which
 * functions to start ahead of predicted invocations. A policy is one file
 * under src/policy/keepalive/ filling struct ilu_keepalive_ops, plus one row
 * in policy_registry.c. It keeps its own state (create/free) and learns
 * from the pool's events; it never removes a container itself: the pool
 * asks it (victim, expired) and removes. */
#ifndef ILU_KEEPALIVE_H
#define ILU_KEEPALIVE_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "core/types.h"

struct ilu_pool;

struct ilu_keepalive_ops {
    const char *name;
    const char *description;
    /* Own state from the worker config (parameters under
     * container_resources); NULL with err naming the bad key. May be NULL
     * for a stateless policy (state is then NULL). */
    void *(*create)(const struct ilu_worker_config *cfg, struct ilu_error *err);
    void (*free)(void *st);
    /* Events (each optional). A container is inserted when created
     * (starting), used when an invocation takes it, idle when it finishes
     * one (or becomes ready unused), removed when it goes for any reason. */
    void (*on_insert)(void *st, struct ilu_container *c, uint64_t now_us);
    void (*on_use)(void *st, struct ilu_container *c, uint64_t now_us);
    void (*on_idle)(void *st, struct ilu_container *c, uint64_t now_us);
    void (*on_remove)(void *st, struct ilu_container *c, uint64_t now_us);
    /* The idle container to evict when memory is needed, or NULL. Called
     * only when an idle container exists; the pool removes what it returns
     * (after on_remove). Walk idle containers with ilu_pool_idle_first /
     * ilu_pool_idle_next. */
    struct ilu_container *(*victim)(void *st, const struct ilu_pool *pool, uint64_t now_us);
    /* An idle container whose keep-alive has run out, or NULL; asked
     * repeatedly at every pool tick until NULL. Optional (never expire). */
    struct ilu_container *(*expired)(void *st, const struct ilu_pool *pool, uint64_t now_us);
    /* Optional prewarm plan, asked at every pool tick: up to cap functions
     * to start one container of now (the pool skips what does not fit). */
    size_t (*prewarm_plan)(void *st, const struct ilu_pool *pool, uint64_t now_us, struct ilu_function **out,
                           size_t cap);
};

#endif
