/* First come, first served: order of arrival at the worker. */
#include "worker/queue.h"

static double fcfs_key(const struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    return (double)inv->t.arrived_us;
}

const struct ilu_queue_policy_ops ilu_queue_fcfs = {
    .name = "fcfs",
    .description = "first come, first served",
    ILU_KEYED_QUEUE,
    .key = fcfs_key,
};
