/* Shortest mean inter-arrival time first (Ilúvatar's "minheap_iat"): the
 * most frequently invoked functions run first, taken when queued. A
 * function with fewer than two arrivals has no gap yet (0) and goes first,
 * as unknown functions do under minheap. Ties keep arrival order. */
#include "worker/queue.h"

static double minheap_iat_key(const struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    return inv->fn->stats.iat_mean_us;
}

const struct ilu_queue_policy_ops ilu_queue_minheap_iat = {
    .name = "minheap_iat",
    .description = "shortest mean inter-arrival time first",
    ILU_KEYED_QUEUE,
    .key = minheap_iat_key,
};
