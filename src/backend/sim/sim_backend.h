/* The `simulation` isolation backend: containers that take a function's
 * start-up time to become ready and its cold or warm execution time to
 * answer, on the simulated clock. Memory, queueing, eviction and keep-alive
 * stay with the core, exactly as live. With host_cpus set, start-ups and
 * executions share the host's CPUs and slow each other down
 * (backend/sim/cpu_share.h). */
#ifndef ILU_SIM_BACKEND_H
#define ILU_SIM_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"
#include "core/cfg_schema.h"
#include "core/error.h"
#include "sim/sim_env.h"

struct ilu_sim_fn_timing {
    uint64_t start_us;     /* container create -> ready */
    uint64_t cold_exec_us; /* first call a container serves */
    uint64_t warm_exec_us; /* later calls */
    /* the same on a GPU container (c->has_gpu_spot); 0: the CPU times
     * above (the benchmark had no "GPU" resource data) */
    uint64_t gpu_cold_exec_us, gpu_warm_exec_us;
};

struct ilu_sim_backend_params {
    uint64_t default_start_us;   /* start-up of functions without a timing */
    uint64_t invoke_overhead_us; /* worker <-> agent round trip beyond the execution */
    uint64_t sandbox_assign_us;  /* a pre-started sandbox given its function -> ready */
    double jitter;               /* execution times scaled by 1 + U(-jitter, jitter); 0: exact */
    uint64_t seed;               /* for the jitter and the start-up factors (two separate streams) */
    /* CPU contention (cpu_share.h). host_cpus: cores that fresh start-ups,
     * sandbox assignments and executions share, processor-sharing; 0: no
     * CPU model, every one takes exactly its own time. The demands are the
     * cores each uses while alone on the host (1.0: CPU-bound; 0.1: mostly
     * waiting; 0: never slows anything). */
    double host_cpus;
    double start_demand; /* a start-up or a sandbox assignment */
    double exec_demand;  /* an execution */
    /* Optional start-up variance: multipliers of a function's start-up
     * (e.g. measured start-up times divided by their median), sorted
     * ascending; borrowed, must outlive the backend. Each fresh start-up
     * takes its function's start-up times a factor drawn from their
     * empirical distribution (uniform draw, linear interpolation between
     * neighbours), seeded. NULL or 0: no variance. */
    const double *start_factors;
    size_t n_start_factors;
};

/* The `simulation` section of the worker config (keys simulation.*,
 * docs/simulation.md), used only when simulated (--setup simulation). */
struct ilu_sim_config {
    uint32_t container_start_ms; /* container create -> agent ready (runc here: ~85 ms) */
    uint32_t invoke_overhead_us; /* worker <-> agent round trip beyond the function's time */
    uint32_t sandbox_assign_us;  /* pooled cold start: sandbox assigned -> ready (bench/sandbox_cold.sh) */
    uint32_t jitter_pct;         /* execution times vary by +-jitter_pct %, seeded; 0: exact */
    uint32_t seed;
    double host_cpus; /* CPUs start-ups and executions share (cpu_share.h), fractions allowed; 0: no CPU contention */
    uint32_t start_cpu_pct; /* % of a CPU a start-up uses alone (100: CPU-bound) */
    uint32_t exec_cpu_pct;  /* % of a CPU an execution uses alone */
    /* a calibration (tools/calibrate/calibrate.py) whose start_factors the
     * load generator reads and hands over as params.start_factors; "": none */
    char calibration_file[4096];
};

/* sim_config.c: the section's keys, its defaults, its checks. */
extern const struct ilu_cfg_schema ilu_sim_config_schema;
void ilu_sim_config_defaults(void *config);
int ilu_sim_config_validate(const void *config, struct ilu_error *err);
/* The backend's parameters from its section; seed_offset is added to the
 * seed (one simulated worker of many: its index). */
struct ilu_sim_backend_params ilu_sim_backend_params_of(const struct ilu_sim_config *config, uint64_t seed_offset);

/* env is borrowed and must outlive the backend; so is params->start_factors
 * (the rest of params is copied). NULL when out of memory. */
struct ilu_backend *ilu_sim_backend_new(struct ilu_sim_env *env, const struct ilu_sim_backend_params *params,
                                        const struct ilu_log *log);
/* Timings of the function registered as fqdn ("name-version"). */
int ilu_sim_backend_set_timing(struct ilu_backend *b, const char *fqdn, const struct ilu_sim_fn_timing *t);
/* Containers created / invocations served, for reports and tests. */
uint64_t ilu_sim_backend_containers_created(const struct ilu_backend *b);

#endif
