/* Least frequently used: under memory pressure the idle container of the
 * function invoked the fewest times goes first; among equals, the least
 * recently used one. Nothing expires by age (container_resources.
 * keepalive_sec still caps idle time under every policy).
 *
 * Frequency is counted per function, fn->stats.invocations (invocations the
 * worker finished for it: cold, warm or prewarmed, successful or not), not
 * per container (c->uses): what predicts that a warm container will be
 * used again is how often its function is called, and a per-container count
 * would make a fresh container of a popular function the first victim,
 * ahead of an old container of a function called once. Containers of one
 * function tie, so among them the least recently used goes first. Like any
 * plain LFU it has no aging: a function popular long ago stays protected.
 *
 * The victim is a scan of the idle containers, least recently used first
 * (keeping the first minimum breaks ties by recency). The pool already walks
 * every idle container to size an eviction before asking for a victim, so
 * the scan adds no order of cost; pools hold hundreds of containers and
 * evict only on a cold start that does not fit. */
#include "worker/pool.h"

static struct ilu_container *lfu_victim(void *st, const struct ilu_pool *pool, uint64_t now_us)
{
    struct ilu_container *best = NULL;
    for (struct ilu_container *c = ilu_pool_idle_first(pool); c; c = ilu_pool_idle_next(c))
        if (!best || c->fn->stats.invocations < best->fn->stats.invocations)
            best = c;
    return best;
}

const struct ilu_keepalive_ops ilu_keepalive_lfu = {
    .name = "LFU",
    .description = "evict an idle container of the least frequently invoked function (ties: least recently used)",
    .victim = lfu_victim,
};
