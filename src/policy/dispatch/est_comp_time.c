/* EstCompTime: the compute where the invocation would complete first: its
 * queue's expected wait plus its expected run there (unknown runs count 0,
 * as in ShortestExecTime); ties go to the CPU. */
#include "worker/dispatch.h"

static bool est_comp_time(const struct ilu_dispatch_view *v)
{
    return v->wait_us[ILU_ON_GPU] + v->run_us[ILU_ON_GPU] < v->wait_us[ILU_ON_CPU] + v->run_us[ILU_ON_CPU];
}

const struct ilu_dispatch_policy_ops ilu_dispatch_est_comp_time = {
    .name = "EstCompTime",
    .description = "the compute with the smaller expected queue wait + run",
    .on_gpu = est_comp_time,
};
