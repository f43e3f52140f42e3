/* Ilúvatar's queueless policy ("none"): first in, first out, and with
 * container_resources.cpu_count 0 the worker puts no limit on concurrency,
 * so every invocation starts as soon as it arrives (memory permitting), as
 * in a platform without a queue. With a cpu_count it is a FIFO under that
 * limit. The key is constant: the heap keeps arrival order. */
#include "worker/queue.h"

static double none_key(const struct ilu_invocation *inv, const struct ilu_queue_view *v)
{
    return 0;
}

const struct ilu_queue_policy_ops ilu_queue_none = {
    .name = "none",
    .description = "queueless: FIFO, no concurrency limit when container_resources.cpu_count is 0",
    ILU_KEYED_QUEUE,
    .key = none_key,
    .unlimited_when_cpu_count_0 = true,
};
