/* Ilúvatar's oldest_batch (oldest_gpu.rs): one waiting batch per function,
 * which every arrival of it joins; the batch whose first invocation is the
 * oldest runs next, all of it back to back (a, b, a runs as [a a] [b]). */
#include "worker/queue.h"

static double gpu_oldest_key(const struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    return (double)inv->t.arrived_us;
}

const struct ilu_queue_policy_ops ilu_gpu_queue_oldest_batch = {
    .name = "oldest_batch",
    .description = "one batch per function, the oldest batch first",
    ILU_GPU_BATCH_QUEUE,
    .key = gpu_oldest_key,
    .batch_join = ILU_BATCH_FUNCTION,
};
