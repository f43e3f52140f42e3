/* Speedup: a GPU when the function's average CPU execution over its
 * average GPU execution is above invocation.speedup_ratio (Ilúvatar's
 * rule and key, default 4). A GPU time not known yet makes the ratio
 * infinite, so the GPU is tried once; a CPU time not known makes it 0. */
#include "worker/dispatch.h"

static bool speedup(const struct ilu_dispatch_view *v)
{
    double cpu = v->exec_us[ILU_ON_CPU], gpu = v->exec_us[ILU_ON_GPU];
    if (cpu <= 0)
        return false;
    return gpu <= 0 || cpu / gpu > v->speedup_ratio;
}

const struct ilu_dispatch_policy_ops ilu_dispatch_speedup = {
    .name = "Speedup",
    .description = "a GPU when CPU exec / GPU exec is above invocation.speedup_ratio",
    .on_gpu = speedup,
};
