/* The `simulation` section of the worker config: the simulated backend's own
 * keys, defaults and checks, loaded by the core's schema machinery
 * (core/cfg_schema.h). */
#include "backend/sim/sim_backend.h"

#include <string.h>

#define ILU_CFG_STRUCT struct ilu_sim_config

#define MAX_HOST_CPUS 4096
#define MAX_CPU_PCT   6400 /* 64 CPUs: more than one activity can use on any host simulated here */

/* The order is the order of the dump. */
static const struct ilu_cfg_field fields[] = {
    ILU_CFG_U32("simulation.container_start_ms", container_start_ms),
    ILU_CFG_U32("simulation.invoke_overhead_us", invoke_overhead_us),
    ILU_CFG_U32("simulation.sandbox_assign_us", sandbox_assign_us),
    ILU_CFG_U32("simulation.jitter_pct", jitter_pct),
    ILU_CFG_U32("simulation.seed", seed),
    ILU_CFG_F64("simulation.host_cpus", host_cpus),
    ILU_CFG_U32("simulation.start_cpu_pct", start_cpu_pct),
    ILU_CFG_U32("simulation.exec_cpu_pct", exec_cpu_pct),
    ILU_CFG_STR("simulation.calibration_file", calibration_file),
};
const struct ilu_cfg_schema ilu_sim_config_schema = {fields, sizeof fields / sizeof fields[0]};

void ilu_sim_config_defaults(void *config)
{
    struct ilu_sim_config *sc = config;
    memset(sc, 0, sizeof *sc);
    /* measured on the development VM (bench/README.md): runc start-up plus
     * the agent's import, and the agent round trip beyond the function */
    sc->container_start_ms = 85;
    sc->invoke_overhead_us = 400;
    sc->sandbox_assign_us = 1900; /* container_start_us of a pooled start, bench/sandbox_cold.sh */
    sc->jitter_pct = 0;
    sc->seed = 1;
    /* no CPU model unless asked: start-ups and executions take their own
     * times, as before host_cpus existed */
    sc->host_cpus = 0;
    sc->start_cpu_pct = 100; /* runc and the agent's import keep a CPU busy */
    sc->exec_cpu_pct = 100;
}

int ilu_sim_config_validate(const void *config, struct ilu_error *err)
{
    const struct ilu_sim_config *sc = config;
    if (sc->jitter_pct >= 100)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "simulation.jitter_pct must be below 100");
    ILU_CFG_REQUIRE(sc->host_cpus >= 0 && sc->host_cpus <= MAX_HOST_CPUS,
                    "simulation.host_cpus must be from 0 to %u (0: no CPU contention)", MAX_HOST_CPUS);
    ILU_CFG_REQUIRE(sc->start_cpu_pct <= MAX_CPU_PCT,
                    "simulation.start_cpu_pct must be at most %u (%% of one CPU a start-up uses alone)", MAX_CPU_PCT);
    ILU_CFG_REQUIRE(sc->exec_cpu_pct <= MAX_CPU_PCT,
                    "simulation.exec_cpu_pct must be at most %u (%% of one CPU an execution uses alone)", MAX_CPU_PCT);
    return 0;
}

struct ilu_sim_backend_params ilu_sim_backend_params_of(const struct ilu_sim_config *config, uint64_t seed_offset)
{
    return (struct ilu_sim_backend_params){
        .default_start_us = (uint64_t)config->container_start_ms * 1000,
        .invoke_overhead_us = config->invoke_overhead_us,
        .sandbox_assign_us = config->sandbox_assign_us,
        .jitter = config->jitter_pct / 100.0,
        .seed = config->seed + seed_offset,
        .host_cpus = config->host_cpus,
        .start_demand = config->start_cpu_pct / 100.0,
        .exec_demand = config->exec_cpu_pct / 100.0,
    };
}
