/* Ilúvatar's GPU fcfs (fcfs_gpu.rs): first come, first served, and an
 * arrival of the function at the back of the queue joins its batch, so
 * adjacent invocations of one function run back to back on one container
 * (a, a, b runs as [a a] [b]; a, b, a as [a] [b] [a]). */
#include "worker/queue.h"

static double gpu_fcfs_key(const struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    return (double)inv->t.arrived_us;
}

const struct ilu_queue_policy_ops ilu_gpu_queue_fcfs = {
    .name = "fcfs",
    .description = "first come, first served; adjacent invocations of one function form a batch",
    ILU_GPU_BATCH_QUEUE,
    .key = gpu_fcfs_key,
    .batch_join = ILU_BATCH_ADJACENT,
};
