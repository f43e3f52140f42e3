/* ShortestExecTime: the compute where the invocation would run shorter
 * now, warm when the function has an idle container there, else cold. As
 * in Ilúvatar (which compares plain averages), an unknown time, 0, is the
 * shortest, so a compute not tried yet is tried and learned; ties, both
 * unknown included, go to the CPU. */
#include "worker/dispatch.h"

static bool shortest_exec(const struct ilu_dispatch_view *v)
{
    return v->run_us[ILU_ON_GPU] < v->run_us[ILU_ON_CPU];
}

const struct ilu_dispatch_policy_ops ilu_dispatch_shortest_exec = {
    .name = "ShortestExecTime",
    .description = "the compute with the shorter expected run (warm or cold)",
    .on_gpu = shortest_exec,
};
