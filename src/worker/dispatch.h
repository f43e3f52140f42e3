/* Dispatch of CPU|GPU functions (invocation.enqueueing_policy, docs/gpu.md):
 * on a worker with GPUs, each invocation of a function registered with
 * compute CPU|GPU goes to the CPU queue or the GPU queue as its policy
 * says. A policy is one file under src/policy/dispatch/ filling struct
 * ilu_dispatch_policy_ops, plus one row in policy_registry.c. */
#ifndef ILU_DISPATCH_H
#define ILU_DISPATCH_H

#include <stdbool.h>

#include "core/characteristics.h"
#include "core/types.h"

/* What a dispatch policy sees, per compute (index ILU_ON_CPU, ILU_ON_GPU);
 * every time is in us and 0 while unknown (nothing ran there yet). */
struct ilu_dispatch_view {
    const struct ilu_function *fn;
    double exec_us[2];    /* average execution there (Ilúvatar's CpuExecTime / GpuExecTime) */
    double run_us[2];     /* expected run if sent there now: warm when fn has an idle container there, else cold */
    double wait_us[2];    /* expected wait in that compute's queue now */
    double speedup_ratio; /* invocation.speedup_ratio */
};

struct ilu_dispatch_policy_ops {
    const char *name;
    const char *description;
    /* Whether this invocation of v->fn runs on a GPU. */
    bool (*on_gpu)(const struct ilu_dispatch_view *v);
    /* Instead: enqueue it in both queues, the first copy to start runs and
     * the other is dropped (Ilúvatar's All); on_gpu then only says where a
     * prewarm goes. */
    bool both;
};

#endif
