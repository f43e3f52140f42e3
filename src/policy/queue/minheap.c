/* Shortest expected execution first (Ilúvatar's "minheap"): the function's
 * exponentially weighted execution time when queued; unknown functions (0)
 * go first so their time gets learned. Ties keep arrival order. */
#include "worker/queue.h"

static double minheap_key(const struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    return inv->fn->stats.exec_us.ewma;
}

const struct ilu_queue_policy_ops ilu_queue_minheap = {
    .name = "minheap",
    .description = "shortest average execution time first",
    ILU_KEYED_QUEUE,
    .key = minheap_key,
};
