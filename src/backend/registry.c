/* One row per isolation backend, looked up by its config name. */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/oci/oci.h"
#include "backend/sim/sim_backend.h"

/* The simulated backend runs on the simulator's clock; config is its
 * `simulation` section. */
static struct ilu_backend *sim_create(const struct ilu_backend_host *host, const struct ilu_worker_config *cfg,
                                      const void *config, const struct ilu_log *log, struct ilu_error *err)
{
    if (!host->sim_env) {
        ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                "the simulation backend runs only in a simulation (iluvatar_load_gen --setup simulation)");
        return NULL;
    }
    struct ilu_sim_backend_params p = ilu_sim_backend_params_of(config, 0);
    struct ilu_backend *b = ilu_sim_backend_new(host->sim_env, &p, log);
    if (!b)
        ilu_err(err, ILU_ST_INTERNAL, "oom", "simulation backend: out of memory");
    return b;
}

static const struct ilu_backend_kind backends[] = {
    {"oci", &ilu_oci_config_schema, sizeof(struct ilu_oci_config), ilu_oci_config_defaults, ilu_oci_config_validate,
     ilu_oci_backend_new, ilu_oci_clean},
    {"simulation", &ilu_sim_config_schema, sizeof(struct ilu_sim_config), ilu_sim_config_defaults,
     ilu_sim_config_validate, sim_create, NULL},
};
#define N_BACKENDS (sizeof backends / sizeof backends[0])

const struct ilu_backend_kind *ilu_backend_find(const char *name)
{
    for (size_t i = 0; name && i < N_BACKENDS; i++)
        if (strcmp(name, backends[i].name) == 0)
            return &backends[i];
    return NULL;
}

const char *ilu_backend_names(void)
{
    static char names[256];
    if (!names[0])
        for (size_t i = 0, used = 0; i < N_BACKENDS && used < sizeof names; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", backends[i].name);
    return names;
}

struct ilu_backend_configs {
    void *config[N_BACKENDS];              /* per row, NULL without a section */
    struct ilu_cfg_part parts[N_BACKENDS]; /* what cfg->sections points at */
};

struct ilu_backend_configs *ilu_backend_configs_attach(struct ilu_worker_config *cfg, struct ilu_error *err)
{
    struct ilu_backend_configs *bc = calloc(1, sizeof *bc);
    size_t n = 0;
    for (size_t i = 0; bc && i < N_BACKENDS; i++) {
        if (!backends[i].schema)
            continue;
        if (!(bc->config[i] = calloc(1, backends[i].config_size))) {
            ilu_backend_configs_free(bc);
            bc = NULL;
            break;
        }
        backends[i].config_defaults(bc->config[i]);
        bc->parts[n++] = (struct ilu_cfg_part){
            .schema = backends[i].schema, .base = bc->config[i], .validate = backends[i].config_validate};
    }
    if (!bc) {
        ilu_err(err, ILU_ST_INTERNAL, "oom", "backend config sections: out of memory");
        return NULL;
    }
    cfg->sections = bc->parts;
    cfg->n_sections = n;
    return bc;
}

const void *ilu_backend_config_of(const struct ilu_backend_configs *bc, const char *name)
{
    const struct ilu_backend_kind *k = ilu_backend_find(name);
    return k && bc ? bc->config[k - backends] : NULL;
}

void ilu_backend_configs_free(struct ilu_backend_configs *bc)
{
    if (!bc)
        return;
    for (size_t i = 0; i < N_BACKENDS; i++)
        free(bc->config[i]);
    free(bc);
}

void ilu_backend_configs_freep(struct ilu_backend_configs **bc)
{
    ilu_backend_configs_free(*bc);
    *bc = NULL;
}

struct ilu_backend *ilu_backend_create(const char *name, const struct ilu_backend_host *host,
                                       const struct ilu_worker_config *cfg, const struct ilu_backend_configs *bc,
                                       const struct ilu_log *log, struct ilu_error *err)
{
    const struct ilu_backend_kind *k = ilu_backend_find(name);
    if (!k) {
        ilu_err(err, ILU_ST_NOT_FOUND, "unknown_backend", "unknown isolation backend \"%s\" (known: %s)",
                name ? name : "", ilu_backend_names());
        return NULL;
    }
    const void *config = ilu_backend_config_of(bc, name);
    if (k->schema && !config) {
        ilu_err(err, ILU_ST_INTERNAL, "config", "backend %s: its config section was not attached", k->name);
        return NULL;
    }
    return k->create(host, cfg, config, log, err);
}

int ilu_backend_clean(const char *name, const struct ilu_worker_config *cfg, const struct ilu_backend_configs *bc,
                      const struct ilu_log *log, struct ilu_clean_report *rep, struct ilu_error *err)
{
    const struct ilu_backend_kind *k = ilu_backend_find(name);
    if (!k)
        return ilu_err(err, ILU_ST_NOT_FOUND, "unknown_backend", "unknown isolation backend \"%s\" (known: %s)",
                       name ? name : "", ilu_backend_names());
    return k->clean ? k->clean(cfg, ilu_backend_config_of(bc, name), log, rep, err) : 0;
}
