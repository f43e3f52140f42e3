/* Ilúvatar's GPU sjf (sjf_gpu.rs): shortest expected GPU run first, taken
 * at arrival: the function's GPU warm time when it has an idle GPU
 * container, else its GPU cold one (0 while unknown, which goes first so
 * it gets learned). No batching; ties in arrival order. */
#include "worker/queue.h"

static double gpu_sjf_key(const struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    return ilu_queue_expected_on_us(inv->fn, true);
}

const struct ilu_queue_policy_ops ilu_gpu_queue_sjf = {
    .name = "sjf",
    .description = "shortest expected GPU time first (warm or cold as containers are now)",
    ILU_GPU_BATCH_QUEUE,
    .key = gpu_sjf_key,
    .batch_join = ILU_BATCH_NONE,
};
