/* The `oci` isolation backend: every container is a real OCI container run by
 * crun (or runc where crun cannot run on the host's cgroup layout), rooted in
 * a lean read-only Python root built from the host's /usr, with the function
 * folder at /function and the in-container agent (agent/agent.py) serving
 * invocations over a Unix socket bind-mounted from the host.
 *
 * Everything runs on one libevent loop: runtime processes are spawned with
 * posix_spawn and handed to the process's reaper (os/spawn.h); the worker is
 * made a child subreaper and the backend takes the reaper's orphans, so the
 * detached container inits (the agents) are reaped by it too, which is how a
 * container's death is noticed (as well as by EOF on the agent socket).
 *
 * After invoke_done with status ILU_ST_BAD_GATEWAY the container is dead (its
 * process exited, or its connection broke or spoke garbage): the core should
 * destroy it. */
#ifndef ILU_BACKEND_OCI_H
#define ILU_BACKEND_OCI_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/registry.h"
#include "core/backend.h"
#include "core/cfg_schema.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"

/* The `oci` section of the worker config (keys oci.*, docs/worker.md). */
struct ilu_oci_config {
    char runtime[16];       /* "auto", "crun" or "runc" */
    char runtime_path[256]; /* empty: look the runtime up in PATH */
    char state_dir[256];    /* bundles, sockets, runtime state */
    char rootfs_dir[256];   /* lean Python root built at start */
    char python[256];       /* interpreter inside the container */
    char agent_path[256];   /* empty: agent/agent.py beside the binary */
    char cgroup_parent[64]; /* cgroups go under /<cgroup_parent>/<id> */
    uint32_t pids_limit;
    bool user_namespace;         /* container root = an unprivileged host id */
    uint32_t userns_host_id;     /* first host uid/gid of the mapped range */
    uint32_t userns_size;        /* ids mapped (container 0..size-1) */
    char seccomp[256];           /* "default", "off" or the path of an OCI linux.seccomp JSON */
    char init[256];              /* init run as pid 1 (reaps orphans); "" or "off": the agent is pid 1 */
    uint32_t log_max_bytes;      /* per container stdout/stderr file, rotated once beyond it */
    char image_cache_dir[256];   /* unpacked OCI images; empty: <state_dir>/images */
    char image_tool[256];        /* empty: tools/images/prepare.sh beside the binary's folder */
    uint32_t image_cache_max_mb; /* unused images beyond this go, least recently used first; 0: no bound */
    uint32_t agent_threads;      /* threads doing warm invocations' agent I/O; 0: the core loop does it */
};

/* oci_config.c: the section's keys, its defaults, its checks. */
extern const struct ilu_cfg_schema ilu_oci_config_schema;
void ilu_oci_config_defaults(void *config);
int ilu_oci_config_validate(const void *config, struct ilu_error *err);

/* Build the root, pick the runtime, clean leftovers of an earlier run and
 * return the backend (free with b->ops->free, after b->ops->shutdown).
 * Blocks for a few runtime calls. config is a struct ilu_oci_config (copied);
 * host (base and reaper), cfg and log are borrowed and must outlive the
 * backend. Makes the process a child subreaper and takes the reaper's orphan
 * handler, so only one oci backend may exist per process. */
struct ilu_backend *ilu_oci_backend_new(const struct ilu_backend_host *host, const struct ilu_worker_config *cfg,
                                        const void *config, const struct ilu_log *log, struct ilu_error *err);

/* What a killed worker with this config left behind, removed without
 * starting the backend: the runtime's containers under <state_dir>/runtime,
 * the bundle dirs (their sandbox mounts first) and the cgroups under
 * /<cgroup_parent>, their processes killed. Counts go to rep. 0, or -1 with
 * err for a bad config. Blocking. */
int ilu_oci_clean(const struct ilu_worker_config *cfg, const void *config, const struct ilu_log *log,
                  struct ilu_clean_report *rep, struct ilu_error *err);

/* "crun" or "runc": the runtime actually in use. */
const char *ilu_oci_runtime_name(const struct ilu_backend *b);

#endif
