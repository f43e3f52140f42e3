/* Ilúvatar's sized_batch (sized_batches_gpu.rs): oldest_batch with batches
 * of at most 10 invocations (its fixed max_batch_size); the 11th arrival
 * of a function starts its next batch, which waits its turn by its own
 * first invocation's age. */
#include "worker/queue.h"

static double gpu_sized_key(const struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    return (double)inv->t.arrived_us;
}

const struct ilu_queue_policy_ops ilu_gpu_queue_sized_batch = {
    .name = "sized_batch",
    .description = "batches per function of at most 10, the oldest batch first",
    ILU_GPU_BATCH_QUEUE,
    .key = gpu_sized_key,
    .batch_join = ILU_BATCH_FUNCTION,
    .batch_cap = 10,
};
