/* AlwaysGPU: a CPU|GPU function runs on a GPU. */
#include "worker/dispatch.h"

static bool always_gpu(const struct ilu_dispatch_view *v)
{
    return true;
}

const struct ilu_dispatch_policy_ops ilu_dispatch_always_gpu = {
    .name = "AlwaysGPU",
    .description = "CPU|GPU functions run on a GPU",
    .on_gpu = always_gpu,
};
