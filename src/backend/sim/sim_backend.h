/* The `simulation` isolation backend: containers that take a function's
 * start-up time to become ready and its cold or warm execution time to
 * answer, on the simulated clock. Memory, queueing, eviction and keep-alive
 * stay with the core, exactly as live. */
#ifndef ILU_SIM_BACKEND_H
#define ILU_SIM_BACKEND_H

#include <stdint.h>

#include "core/backend.h"
#include "core/cfg_schema.h"
#include "core/error.h"
#include "sim/sim_env.h"

struct ilu_sim_fn_timing {
    uint64_t start_us;     /* container create -> ready */
    uint64_t cold_exec_us; /* first call a container serves */
    uint64_t warm_exec_us; /* later calls */
};

struct ilu_sim_backend_params {
    uint64_t default_start_us;   /* start-up of functions without a timing */
    uint64_t invoke_overhead_us; /* worker <-> agent round trip beyond the execution */
    uint64_t sandbox_assign_us;  /* a pre-started sandbox given its function -> ready */
    double jitter;               /* execution times scaled by 1 + U(-jitter, jitter); 0: exact */
    uint64_t seed;               /* for the jitter */
};

/* The `simulation` section of the worker config (keys simulation.*,
 * docs/simulation.md), used only when simulated (--setup simulation). */
struct ilu_sim_config {
    uint32_t container_start_ms; /* container create -> agent ready (runc here: ~85 ms) */
    uint32_t invoke_overhead_us; /* worker <-> agent round trip beyond the function's time */
    uint32_t sandbox_assign_us;  /* pooled cold start: sandbox assigned -> ready (bench/sandbox_cold.sh) */
    uint32_t jitter_pct;         /* execution times vary by +-jitter_pct %, seeded; 0: exact */
    uint32_t seed;
};

/* sim_config.c: the section's keys, its defaults, its checks. */
extern const struct ilu_cfg_schema ilu_sim_config_schema;
void ilu_sim_config_defaults(void *config);
int ilu_sim_config_validate(const void *config, struct ilu_error *err);
/* The backend's parameters from its section; seed_offset is added to the
 * seed (one simulated worker of many: its index). */
struct ilu_sim_backend_params ilu_sim_backend_params_of(const struct ilu_sim_config *config, uint64_t seed_offset);

/* env is borrowed and must outlive the backend. */
struct ilu_backend *ilu_sim_backend_new(struct ilu_sim_env *env, const struct ilu_sim_backend_params *params,
                                        const struct ilu_log *log);
/* Timings of the function registered as fqdn ("name-version"). */
int ilu_sim_backend_set_timing(struct ilu_backend *b, const char *fqdn, const struct ilu_sim_fn_timing *t);
/* Containers created / invocations served, for reports and tests. */
uint64_t ilu_sim_backend_containers_created(const struct ilu_backend *b);

#endif
