/* AlwaysCPU (the default): a CPU|GPU function runs on CPU, as it promises
 * to anywhere. */
#include "worker/dispatch.h"

static bool always_cpu(const struct ilu_dispatch_view *v)
{
    return false;
}

const struct ilu_dispatch_policy_ops ilu_dispatch_always_cpu = {
    .name = "AlwaysCPU",
    .description = "CPU|GPU functions run on CPU",
    .on_gpu = always_cpu,
};
