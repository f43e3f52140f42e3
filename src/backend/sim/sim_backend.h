/* The `simulation` isolation backend: containers that take a function's
 * start-up time to become ready and its cold or warm execution time to
 * answer, on the simulated clock. Memory, queueing, eviction and keep-alive
 * stay with the core, exactly as live. */
#ifndef ILU_SIM_BACKEND_H
#define ILU_SIM_BACKEND_H

#include <stdint.h>

#include "core/backend.h"
#include "sim/sim_env.h"

struct ilu_sim_fn_timing {
    uint64_t start_us;     /* container create -> ready */
    uint64_t cold_exec_us; /* first call a container serves */
    uint64_t warm_exec_us; /* later calls */
};

struct ilu_sim_backend_params {
    uint64_t default_start_us;   /* start-up of functions without a timing */
    uint64_t invoke_overhead_us; /* worker <-> agent round trip beyond the execution */
    double jitter;               /* execution times scaled by 1 + U(-jitter, jitter); 0: exact */
    uint64_t seed;               /* for the jitter */
};

/* env is borrowed and must outlive the backend. */
struct ilu_backend *ilu_sim_backend_new(struct ilu_sim_env *env, const struct ilu_sim_backend_params *params,
                                        const struct ilu_log *log);
/* Timings of the function registered as fqdn ("name-version"). */
int ilu_sim_backend_set_timing(struct ilu_backend *b, const char *fqdn, const struct ilu_sim_fn_timing *t);
/* Containers created / invocations served, for reports and tests. */
uint64_t ilu_sim_backend_containers_created(const struct ilu_backend *b);

#endif
