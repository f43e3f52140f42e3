/* Time to live (Ilúvatar's TTL, configured there as {"TTL":{"timout_sec":N}}):
 * an idle container unused for container_resources.ttl_sec seconds expires
 * at the next pool tick; under memory pressure the least recently used
 * idle container goes first, as under LRU.
 *
 * The pool keeps idle containers in order of last use (last_used_us, set
 * when a container goes idle), oldest first, so only the first can have run
 * out: expired() looks at one container per call, and the pool calls it
 * again after each removal until it answers NULL. */
#include <stdlib.h>

#include "worker/pool.h"

struct ttl_state {
    uint64_t ttl_us;
};

static void *ttl_create(const struct ilu_worker_config *cfg, struct ilu_error *err)
{
    if (cfg->container_resources.ttl_sec == 0) {
        ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                "container_resources.ttl_sec must be positive with container_resources.eviction TTL");
        return NULL;
    }
    struct ttl_state *st = malloc(sizeof *st);
    if (!st) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory creating the TTL keep-alive policy");
        return NULL;
    }
    st->ttl_us = (uint64_t)cfg->container_resources.ttl_sec * 1000000;
    return st;
}

static void ttl_free(void *st)
{
    free(st);
}

static struct ilu_container *ttl_victim(void *st, const struct ilu_pool *pool, uint64_t now_us)
{
    return ilu_pool_idle_first(pool);
}

static struct ilu_container *ttl_expired(void *state, const struct ilu_pool *pool, uint64_t now_us)
{
    const struct ttl_state *st = state;
    struct ilu_container *oldest = ilu_pool_idle_first(pool);
    if (oldest && now_us >= oldest->last_used_us && now_us - oldest->last_used_us >= st->ttl_us)
        return oldest;
    return NULL;
}

const struct ilu_keepalive_ops ilu_keepalive_ttl = {
    .name = "TTL",
    .description = "expire idle containers after container_resources.ttl_sec; evict the least recently used",
    .create = ttl_create,
    .free = ttl_free,
    .victim = ttl_victim,
    .expired = ttl_expired,
};
