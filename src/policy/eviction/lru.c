/* Least recently used: the idle container unused the longest goes first. */
#include "core/policy_registry.h"

static double lru_priority(const struct ilu_container *c, uint64_t now_us)
{
    (void)now_us;
    return (double)c->last_used_us;
}

const struct ilu_eviction_policy_ops ilu_eviction_lru = {
    .name = "LRU",
    .description = "evict the least recently used idle container",
    .priority = lru_priority,
};
