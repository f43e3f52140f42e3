/* GreedyDual keep-alive (FaasCache: Fuerst and Sharma, "FaasCache: keeping
 * serverless computing alive with greedy-dual caching", ASPLOS'21). Each
 * container has a priority
 *
 *     clock + frequency * cost / size
 *
 * and under memory pressure the idle container with the lowest priority
 * goes (ties: the least recently used); the policy's clock then rises to
 * the victim's priority, so containers not used since age relative to those
 * used after. Nothing expires by age (container_resources.keepalive_sec
 * still caps idle time under every policy).
 *
 *  - frequency: invocations the container has served or is serving, counted
 *    per container as FaasCache does (reset when it is created), at least 1:
 *    1 at creation (the miss it serves), c->uses + 1 when an invocation
 *    takes it, c->uses when it goes idle again.
 *  - cost: the function's cold-start overhead in milliseconds, from
 *    fn->stats: cold end-to-end minus warm end-to-end (their EWMAs) when
 *    both are known and cold is the larger, else the container start time
 *    container_start_us.ewma (known from the first container's start, before
 *    any invocation of the function has finished), else 0.
 *  - size: the container's memory_mb.
 *
 * The priority is set at insert and recomputed at every use, as in
 * FaasCache, and once more when the container goes idle: only idle
 * containers can be victims, and the cost of a function's first cold start
 * is measured only after its container was inserted. The clock used is the
 * clock at that moment (it rises only at evictions, so a container busy
 * through an eviction comes back as recent as it is).
 *
 * The victim is a scan of the idle containers, least recently used first.
 * The pool already walks every idle container to size an eviction before
 * asking for a victim, so a heap would not change the order of cost; pools
 * hold hundreds of containers and evict only on a cold start that does not
 * fit. */
#include <stdlib.h>

#include "worker/pool.h"

struct gd_state {
    double clock;
};

static void *gd_create(const struct ilu_worker_config *cfg, struct ilu_error *err)
{
    struct gd_state *st = calloc(1, sizeof *st);
    if (!st)
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory creating the GreedyDual keep-alive policy");
    return st;
}

static void gd_free(void *st)
{
    free(st);
}

/* The function's cold-start overhead, ms. */
static double gd_cost_ms(const struct ilu_fn_stats *s)
{
    if (s->cold_e2e_us.n && s->warm_e2e_us.n && s->cold_e2e_us.ewma > s->warm_e2e_us.ewma)
        return (s->cold_e2e_us.ewma - s->warm_e2e_us.ewma) / 1000.0;
    return s->container_start_us.n ? s->container_start_us.ewma / 1000.0 : 0.0;
}

static void gd_set(const struct gd_state *st, struct ilu_container *c, uint64_t frequency)
{
    double size = c->memory_mb ? (double)c->memory_mb : 1.0;
    c->ka_priority = st->clock + (double)(frequency ? frequency : 1) * gd_cost_ms(&c->fn->stats) / size;
}

static void gd_on_insert(void *st, struct ilu_container *c, uint64_t now_us)
{
    gd_set(st, c, 1);
}
static void gd_on_use(void *st, struct ilu_container *c, uint64_t now_us)
{
    gd_set(st, c, c->uses + 1);
}
static void gd_on_idle(void *st, struct ilu_container *c, uint64_t now_us)
{
    gd_set(st, c, c->uses);
}

static struct ilu_container *gd_victim(void *state, const struct ilu_pool *pool, uint64_t now_us)
{
    struct gd_state *st = state;
    struct ilu_container *best = NULL;
    for (struct ilu_container *c = ilu_pool_idle_first(pool); c; c = ilu_pool_idle_next(c))
        if (!best || c->ka_priority < best->ka_priority)
            best = c;
    if (best && best->ka_priority > st->clock) /* the pool removes best next */
        st->clock = best->ka_priority;
    return best;
}

const struct ilu_keepalive_ops ilu_keepalive_greedy_dual = {
    .name = "GreedyDual",
    .description = "evict the idle container with the lowest clock + frequency * cold-start cost / memory "
                   "(FaasCache)",
    .create = gd_create,
    .free = gd_free,
    .on_insert = gd_on_insert,
    .on_use = gd_on_use,
    .on_idle = gd_on_idle,
    .victim = gd_victim,
};
