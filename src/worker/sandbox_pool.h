/* Generic sandboxes started ahead of need: containers whose agent runs with
 * no function loaded, kept at container_resources.sandbox_pool_size in the
 * background. A cold start of a function the backend can assign (backend.h
 * assign) takes one instead of starting a fresh container, and the backend
 * gives it the function: its code, its limits, its import. OpenWhisk calls
 * these stem cells.
 *
 * Each waiting sandbox holds sandbox_memory_mb of the pool's memory
 * accounting, and they are the first memory given up when a function needs
 * room (before any idle container of a function is evicted). A sandbox
 * serves one function for life: once assigned it is an ordinary container
 * of that function in the pool. Owns its state; no globals. */
#ifndef ILU_SANDBOX_POOL_H
#define ILU_SANDBOX_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/backend.h"
#include "core/config.h"
#include "core/env.h"
#include "core/log.h"
#include "core/types.h"

struct ilu_pool;
struct json_t;

struct ilu_sandbox_pool {
    /* every sandbox's c->fn until it is assigned: never registered */
    struct ilu_function stand_in;
    struct ilu_pool *pool; /* memory accounting (borrowed) */
    struct ilu_backend *backend;
    const struct ilu_env *env;
    const struct ilu_log *log;
    uint32_t target;             /* sandbox_pool_size; 0: off */
    uint32_t memory_mb;          /* sandbox_memory_mb */
    uint32_t max_starting;       /* sandbox_max_starting */
    uint64_t startup_timeout_us; /* container_resources.startup_timeout_ms */
    struct ilu_container *ready; /* ready, oldest first (idle_prev/idle_next) */
    struct ilu_container *ready_tail;
    struct ilu_container *starting; /* being started (idle_prev/idle_next) */
    uint32_t n_ready, n_starting;
    uint64_t seq;
    uint64_t hits;           /* cold starts that took a sandbox */
    uint64_t misses;         /* cold starts that could have, but none was ready */
    uint64_t started;        /* sandboxes asked of the backend */
    uint64_t failures;       /* sandboxes that failed to start */
    uint64_t deaths;         /* ready sandboxes that died on their own */
    uint64_t reclaimed;      /* removed to make room for a function */
    uint64_t retry_after_us; /* after a failure, no new one before this */
    bool stopped;
};

/* The pool from cfg (off when sandbox_pool_size is 0). A pool that is on
 * needs a backend with the assign op: otherwise -1 with a config error.
 * worker is the stand-in function's owner (timer callbacks find it). */
int ilu_sandboxes_init(struct ilu_sandbox_pool *sp, const struct ilu_worker_config *cfg, const struct ilu_env *env,
                       struct ilu_backend *backend, struct ilu_pool *pool, struct ilu_worker *worker,
                       const struct ilu_log *log, struct ilu_error *err);

/* Start sandboxes until ready + starting reach the target, at most
 * max_starting at once (each one ready starts the next), as long as each
 * fits in the pool's free memory (never by evicting anything) and no start
 * failed in the last second. */
void ilu_sandboxes_refill(struct ilu_sandbox_pool *sp, const char *tid);

/* A ready sandbox for a cold start of fn, its memory given back to the
 * pool (the caller has reserved fn's), or NULL: the pool is off, fn cannot
 * be assigned, or none is ready (a miss). The caller adopts it into the
 * pool (ilu_pool_adopt) and asks the backend to assign it. */
struct ilu_container *ilu_sandboxes_take(struct ilu_sandbox_pool *sp, const struct ilu_function *fn);

/* Memory the pool could get back by removing sandboxes (ready or starting). */
uint64_t ilu_sandboxes_reclaimable_mb(const struct ilu_sandbox_pool *sp);
/* Remove one sandbox (a starting one first: it serves nobody soonest) and
 * give its memory back; false when there is none. */
bool ilu_sandboxes_reclaim_one(struct ilu_sandbox_pool *sp, const char *tid);

/* The backend's events about a sandbox (c->fn->sandbox): started (err NULL)
 * or failed; died while waiting. */
void ilu_sandboxes_on_ready(struct ilu_sandbox_pool *sp, struct ilu_container *c, const struct ilu_error *err);
void ilu_sandboxes_on_died(struct ilu_sandbox_pool *sp, struct ilu_container *c, const char *reason);

/* Remove every sandbox (reason for the log); returns how many. */
unsigned ilu_sandboxes_clear(struct ilu_sandbox_pool *sp, const char *tid, const char *reason);
/* No more refills (shutdown). */
void ilu_sandboxes_stop(struct ilu_sandbox_pool *sp);

/* The pool's figures as flat keys of a /status object. */
void ilu_sandboxes_status_json(const struct ilu_sandbox_pool *sp, struct json_t *status);

#endif
