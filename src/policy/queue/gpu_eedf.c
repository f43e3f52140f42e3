/* Ilúvatar's GPU eedf (eedf_gpu.rs): earliest expected deadline first, the
 * deadline being arrival + the function's average GPU execution. No
 * batching; ties in arrival order. */
#include "worker/queue.h"

static double gpu_eedf_key(const struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    return (double)inv->t.arrived_us + ilu_compute_warm_us(&inv->fn->stats.on[ILU_ON_GPU]);
}

const struct ilu_queue_policy_ops ilu_gpu_queue_eedf = {
    .name = "eedf",
    .description = "earliest arrival + average GPU execution first",
    ILU_GPU_BATCH_QUEUE,
    .key = gpu_eedf_key,
    .batch_join = ILU_BATCH_NONE,
};
