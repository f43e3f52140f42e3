/* Earliest expected deadline first (Ilúvatar's "minheap_ed", EEDF): the key
 * is the arrival time plus the function's expected execution (EWMA of
 * exec_us) when queued, i.e. the moment it would finish had it run at once.
 * Ilúvatar adds the average execution to the time since the queue was
 * created at insertion; arrival on the worker's clock orders the same. An
 * invocation that has waited long enough goes ahead of shorter newcomers,
 * so unlike minheap nothing starves. Ties keep arrival order. */
#include "worker/queue.h"

static double minheap_ed_key(const struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    return (double)inv->t.arrived_us + inv->fn->stats.exec_us.ewma;
}

const struct ilu_queue_policy_ops ilu_queue_minheap_ed = {
    .name = "minheap_ed",
    .description = "earliest expected deadline (arrival + average execution) first",
    ILU_KEYED_QUEUE,
    .key = minheap_ed_key,
};
