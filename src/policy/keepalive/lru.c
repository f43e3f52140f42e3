/* Least recently used: under memory pressure the idle container unused the
 * longest goes first; nothing expires by age alone (container_resources.
 * keepalive_sec still caps idle time under every policy). The pool keeps
 * idle containers in LRU order, so the victim is its first. */
#include "worker/pool.h"

static struct ilu_container *lru_victim(void *st, const struct ilu_pool *pool, uint64_t now_us)
{
    return ilu_pool_idle_first(pool);
}

const struct ilu_keepalive_ops ilu_keepalive_lru = {
    .name = "LRU",
    .description = "evict the least recently used idle container",
    .victim = lru_victim,
};
