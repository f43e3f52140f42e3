/* First come, first served: order of arrival at the worker. */
#include "core/policy_registry.h"

static double fcfs_key(const struct ilu_invocation *inv)
{
    return (double)inv->t.arrived_us;
}

const struct ilu_queue_policy_ops ilu_queue_fcfs = {
    .name = "fcfs",
    .description = "first come, first served",
    .key = fcfs_key,
};
