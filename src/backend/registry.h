/* Isolation backends by the name used in config (container_resources.backend):
 * one row each in registry.c, {name, config section, create}. A backend owns
 * its config section (its keys, defaults and checks); the registry attaches
 * every backend's section to the worker config, so a config file may hold the
 * sections of backends it does not use, as it always could. */
#ifndef ILU_BACKEND_REGISTRY_H
#define ILU_BACKEND_REGISTRY_H

#include <stddef.h>

#include "core/backend.h"
#include "core/cfg_schema.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"

struct event_base;
struct ilu_reaper;
struct ilu_sim_env;

/* What a backend runs on; each backend takes what it needs and refuses to
 * start without it. Borrowed: must outlive the backend. */
struct ilu_backend_host {
    struct event_base *base;     /* the live event loop */
    struct ilu_reaper *reaper;   /* the process's reaper (os/spawn.h), for backends that spawn */
    struct ilu_sim_env *sim_env; /* the simulated clock, for the simulated backend */
};

/* What `iluvatar_worker clean` removed (counts), and what it could not. */
struct ilu_clean_report {
    unsigned containers; /* runtime containers deleted */
    unsigned bundles;    /* bundle dirs removed (their mounts first) */
    unsigned cgroups;    /* cgroup dirs removed */
    unsigned failures;   /* things that could not be removed (logged) */
};

struct ilu_backend_kind {
    const char *name;
    /* Its config section: keys "<section>.*" over a struct of config_size
     * bytes that config_defaults fills; schema NULL: none. */
    const struct ilu_cfg_schema *schema;
    size_t config_size;
    void (*config_defaults)(void *config);
    int (*config_validate)(const void *config, struct ilu_error *err); /* NULL: nothing to check */
    /* Construct it; config is its section (NULL without one). */
    struct ilu_backend *(*create)(const struct ilu_backend_host *host, const struct ilu_worker_config *cfg,
                                  const void *config, const struct ilu_log *log, struct ilu_error *err);
    /* Remove what a killed worker of this config left behind, without
     * starting the backend; NULL: it leaves nothing behind. */
    int (*clean)(const struct ilu_worker_config *cfg, const void *config, const struct ilu_log *log,
                 struct ilu_clean_report *rep, struct ilu_error *err);
};

/* The row called name, or NULL. */
const struct ilu_backend_kind *ilu_backend_find(const char *name);
/* "oci, simulation": every name, for messages. */
const char *ilu_backend_names(void);

/* Every backend's section, with its defaults, attached to cfg (cfg->sections)
 * so that ilu_config_apply_json/env, _validate and _dump take its keys. Call
 * after ilu_config_defaults; free after the last use of cfg and its copies. */
struct ilu_backend_configs;
struct ilu_backend_configs *ilu_backend_configs_attach(struct ilu_worker_config *cfg, struct ilu_error *err);
void ilu_backend_configs_free(struct ilu_backend_configs *bc);
/* The section of the backend called name in bc (its struct, e.g. struct
 * ilu_sim_config for "simulation"), borrowed from bc; NULL for an unknown
 * name or a backend without a section. */
const void *ilu_backend_config_of(const struct ilu_backend_configs *bc, const char *name);
/* A local owning the sections: `ilu_cleanup_backend_configs struct
 * ilu_backend_configs *bc = ...;` frees them when it goes out of scope. */
void ilu_backend_configs_freep(struct ilu_backend_configs **bc);
#define ilu_cleanup_backend_configs __attribute__((cleanup(ilu_backend_configs_freep)))

/* Construct the backend called name with its section from bc. Returns NULL
 * and a 404 error for an unknown name, or the constructor's error. Free with
 * b->ops->free. */
struct ilu_backend *ilu_backend_create(const char *name, const struct ilu_backend_host *host,
                                       const struct ilu_worker_config *cfg, const struct ilu_backend_configs *bc,
                                       const struct ilu_log *log, struct ilu_error *err);

/* `iluvatar_worker clean`: the backend called name removes what a killed
 * worker with this config left behind, adding to rep. 0, or -1 with err
 * (unknown backend, bad config); what could not be removed is counted in
 * rep->failures, not an error. Safe to run again (idempotent). */
int ilu_backend_clean(const char *name, const struct ilu_worker_config *cfg, const struct ilu_backend_configs *bc,
                      const struct ilu_log *log, struct ilu_clean_report *rep, struct ilu_error *err);

#endif
