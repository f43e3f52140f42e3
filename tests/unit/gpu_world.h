/* What the GPU unit tests share (test_gpu_dispatch.c, test_gpu_policies.c):
 * a simulated worker's functions run
 *   start 50 ms, GPU cold exec 60 ms, GPU warm exec 10 ms, answer 0.4 ms
 * on a GPU and cold 100 ms, warm 20 ms on a CPU, so every time a test
 * expects is computed by hand from these. */
#ifndef ILU_TEST_GPU_WORLD_H
#define ILU_TEST_GPU_WORLD_H

#include "sim_world.h"

#define START    (50 * MS)
#define GCOLD    (60 * MS)
#define GWARM    (10 * MS)
#define COLD_RUN (START + GCOLD + OVH) /* 110.4 ms: GPU cold start to answer */
#define WARM_RUN (GWARM + OVH)         /* 10.4 ms */

/* name-1 registered with compute (ILU_COMPUTE_*) and the times above. */
static inline void gpu_fn_register(struct world *wd, const char *name, uint32_t compute)
{
    struct ilu_register_req req = {.function_name = name,
                                   .function_version = "1",
                                   .image_name = "/sim/fn",
                                   .memory_mb = 128,
                                   .cpus = 1,
                                   .compute = compute};
    struct ilu_error err = {0};
    if (ilu_worker_register(wd->w, &req, "setup", &err))
        fail_msg("register %s: %s", name, err.msg);
    char fqdn[96];
    snprintf(fqdn, sizeof fqdn, "%s-1", name);
    struct ilu_sim_fn_timing t = {.start_us = START,
                                  .cold_exec_us = 100 * MS,
                                  .warm_exec_us = 20 * MS,
                                  .gpu_cold_exec_us = GCOLD,
                                  .gpu_warm_exec_us = GWARM};
    assert_int_equal(ilu_sim_backend_set_timing(wd->be, fqdn, &t), 0);
}

#endif
