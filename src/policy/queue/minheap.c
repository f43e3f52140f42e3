/* Shortest expected execution first (Ilúvatar's "minheap"): the function's
 * running average execution time; unknown functions (0) go first so their
 * time gets learned. Ties keep arrival order. */
#include "core/policy_registry.h"

static double minheap_key(const struct ilu_invocation *inv)
{
    return inv->fn->stats.exec_us;
}

const struct ilu_queue_policy_ops ilu_queue_minheap = {
    .name = "minheap",
    .description = "shortest average execution time first",
    .key = minheap_key,
};
