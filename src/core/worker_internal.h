/* Private to the worker core (worker.c, pool.c, result.c). */
#ifndef ILU_WORKER_INTERNAL_H
#define ILU_WORKER_INTERNAL_H

#include "map.h"
#include "policy_registry.h"
#include "queue.h"
#include "worker.h"

struct ilu_worker_counters {
    uint64_t invocations, errors, timeouts, rejected;
    uint64_t cold, warm, prewarm;
    uint64_t containers_started, evictions, keepalive_removals, deaths, start_failures;
};

struct ilu_worker {
    struct ilu_worker_config cfg;
    const struct ilu_env *env;
    struct ilu_backend *backend;
    const struct ilu_log *log;
    struct ilu_map functions; /* fqdn -> struct ilu_function */
    struct ilu_map async;     /* cookie -> struct async_entry */
    struct ilu_queue queue;
    const struct ilu_eviction_policy_ops *eviction;
    struct ilu_container *containers; /* all containers, newest first */
    uint32_t cpu_limit, cpus_in_use;
    uint64_t used_mem_mb;
    uint32_t n_containers, n_idle, n_starting;
    unsigned running;       /* dequeued invocations not yet finished */
    unsigned pending;       /* queued + running (incl. prewarms) */
    uint64_t seq, container_seq, cookie_seq;
    struct ilu_worker_counters count;
    struct ilu_timer *pool_timer, *kick_timer;
    bool shutting_down;
};

static inline uint64_t w_now(const struct ilu_worker *w) { return w->env->now_us(w->env->ctx); }

/* pool.c */
struct ilu_container *pool_take_idle(struct ilu_worker *w, struct ilu_function *fn);
void pool_put_idle(struct ilu_worker *w, struct ilu_container *c);
int pool_reserve(struct ilu_worker *w, uint32_t memory_mb, const char *tid);
struct ilu_container *pool_new_container(struct ilu_worker *w, struct ilu_function *fn);
/* Remove c everywhere, release its memory and have the backend destroy it. */
void pool_remove(struct ilu_worker *w, struct ilu_container *c, const char *tid, const char *reason);
void pool_enforce_keepalive(struct ilu_worker *w);
unsigned pool_remove_idle(struct ilu_worker *w, const char *tid, const char *reason);

/* result.c */
/* Fill inv's result fields from the agent's reply (JSON body or fields). */
void result_from_agent(struct ilu_invocation *inv, const struct ilu_agent_reply *reply);

/* async.c */
void ilu_async_expire(struct ilu_worker *w, uint64_t ttl_us);
void ilu_async_free_all(struct ilu_worker *w);

#endif
