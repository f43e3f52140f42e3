/* Isolation backends by the name used in config (container_resources.backend). */
#ifndef ILU_BACKEND_REGISTRY_H
#define ILU_BACKEND_REGISTRY_H

#include "core/backend.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"

struct event_base;

/* Construct the backend called name ("oci"). Returns NULL and a 404 error
 * for an unknown name, or the constructor's error. Free with b->ops->free. */
struct ilu_backend *ilu_backend_create(const char *name, struct event_base *base,
                                       const struct ilu_worker_config *cfg, const struct ilu_log *log,
                                       struct ilu_error *err);

#endif
