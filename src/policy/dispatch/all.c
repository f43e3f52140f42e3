/* All (Ilúvatar's default): an invocation of a CPU|GPU function waits in
 * both queues at once; whichever copy starts first runs, and the other
 * leaves its queue unanswered. A prewarm goes to the CPU. */
#include "worker/dispatch.h"

static bool all_prewarm_on_gpu(const struct ilu_dispatch_view *v)
{
    return false;
}

const struct ilu_dispatch_policy_ops ilu_dispatch_all = {
    .name = "All",
    .description = "CPU|GPU invocations wait in both queues; the first copy to start runs",
    .on_gpu = all_prewarm_on_gpu,
    .both = true,
};
