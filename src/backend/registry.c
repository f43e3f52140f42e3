/* One line per isolation backend, looked up by its config name. */
#include "registry.h"

#include <string.h>

#include "backend/oci/oci.h"

typedef struct ilu_backend *(*ilu_backend_ctor)(struct event_base *base, const struct ilu_worker_config *cfg,
                                                const struct ilu_log *log, struct ilu_error *err);

static const struct {
    const char *name;
    ilu_backend_ctor create;
} backends[] = {
    {"oci", ilu_oci_backend_new},
};

struct ilu_backend *ilu_backend_create(const char *name, struct event_base *base,
                                       const struct ilu_worker_config *cfg, const struct ilu_log *log,
                                       struct ilu_error *err)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (name && strcmp(name, backends[i].name) == 0)
            return backends[i].create(base, cfg, log, err);
    ilu_err(err, ILU_ST_NOT_FOUND, "unknown_backend", "unknown isolation backend \"%s\" (known: oci)",
            name ? name : "");
    return NULL;
}
