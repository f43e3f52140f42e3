/* The `oci` isolation backend: every container is a real OCI container run by
 * crun (or runc where crun cannot run on the host's cgroup layout), rooted in
 * a lean read-only Python root built from the host's /usr, with the function
 * folder at /function and the in-container agent (agent/agent.py) serving
 * invocations over a Unix socket bind-mounted from the host.
 *
 * Everything runs on one libevent loop: runtime processes are spawned with
 * posix_spawn and reaped on SIGCHLD; the worker is made a child subreaper so
 * the detached container inits (the agents) are reaped by it too, which is how
 * a container's death is noticed (as well as by EOF on the agent socket).
 *
 * After invoke_done with status ILU_ST_BAD_GATEWAY the container is dead (its
 * process exited, or its connection broke or spoke garbage): the core should
 * destroy it. */
#ifndef ILU_BACKEND_OCI_H
#define ILU_BACKEND_OCI_H

#include "core/backend.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"

struct event_base;

/* Build the root, pick the runtime, clean leftovers of an earlier run and
 * return the backend (free with b->ops->free, after b->ops->shutdown).
 * Blocks for a few runtime calls. base, cfg and log are borrowed and must
 * outlive the backend (cfg's oci section is copied). Only one oci backend may
 * exist per process: it owns SIGCHLD on base and reaps every child. */
struct ilu_backend *ilu_oci_backend_new(struct event_base *base, const struct ilu_worker_config *cfg,
                                        const struct ilu_log *log, struct ilu_error *err);

/* "crun" or "runc": the runtime actually in use. */
const char *ilu_oci_runtime_name(const struct ilu_backend *b);

#endif
