/* The `oci` section of the worker config: the backend's own keys, defaults
 * and checks, loaded by the core's schema machinery (core/cfg_schema.h). */
#include "oci.h"

#include <stdio.h>
#include <string.h>

#define ILU_CFG_STRUCT struct ilu_oci_config

/* The order is the order of the dump. */
static const struct ilu_cfg_field fields[] = {
    ILU_CFG_STR("oci.runtime", runtime),
    ILU_CFG_STR("oci.runtime_path", runtime_path),
    ILU_CFG_STR("oci.state_dir", state_dir),
    ILU_CFG_STR("oci.rootfs_dir", rootfs_dir),
    ILU_CFG_STR("oci.python", python),
    ILU_CFG_STR("oci.agent_path", agent_path),
    ILU_CFG_STR("oci.cgroup_parent", cgroup_parent),
    ILU_CFG_U32("oci.pids_limit", pids_limit),
    ILU_CFG_BOOL("oci.user_namespace", user_namespace),
    ILU_CFG_U32("oci.userns_host_id", userns_host_id),
    ILU_CFG_U32("oci.userns_size", userns_size),
    ILU_CFG_STR("oci.seccomp", seccomp),
    ILU_CFG_STR("oci.init", init),
    ILU_CFG_U32("oci.log_max_bytes", log_max_bytes),
    ILU_CFG_STR("oci.image_cache_dir", image_cache_dir),
    ILU_CFG_STR("oci.image_tool", image_tool),
    ILU_CFG_U32("oci.image_cache_max_mb", image_cache_max_mb),
    ILU_CFG_U32("oci.agent_threads", agent_threads),
};
const struct ilu_cfg_schema ilu_oci_config_schema = {fields, sizeof fields / sizeof fields[0]};

void ilu_oci_config_defaults(void *section)
{
    struct ilu_oci_config *oc = section;
    memset(oc, 0, sizeof *oc);
    snprintf(oc->runtime, sizeof oc->runtime, "auto");
    snprintf(oc->state_dir, sizeof oc->state_dir, "/run/iluvatar");
    snprintf(oc->rootfs_dir, sizeof oc->rootfs_dir, "/run/iluvatar/rootfs");
    snprintf(oc->python, sizeof oc->python, "/usr/bin/python3");
    snprintf(oc->cgroup_parent, sizeof oc->cgroup_parent, "iluvatar");
    oc->pids_limit = 256;
    oc->user_namespace = true;
    oc->userns_host_id = 1u << 30; /* far above login and subuid ranges */
    oc->userns_size = 65536;
    snprintf(oc->seccomp, sizeof oc->seccomp, "default");
    snprintf(oc->init, sizeof oc->init, "/usr/bin/tini");
    oc->log_max_bytes = 1 << 20;
    oc->image_cache_max_mb = 10240;
}

int ilu_oci_config_validate(const void *section, struct ilu_error *err)
{
    const struct ilu_oci_config *oc = section;
    ILU_CFG_REQUIRE(!strcmp(oc->runtime, "auto") || !strcmp(oc->runtime, "crun") || !strcmp(oc->runtime, "runc"),
                    "oci.runtime \"%s\" is not one of: auto, crun, runc", oc->runtime);
    ILU_CFG_REQUIRE(!oc->user_namespace || oc->userns_host_id > 0,
                    "oci.userns_host_id must be above 0: container root would be host root");
    ILU_CFG_REQUIRE(!oc->user_namespace ||
                        (oc->userns_size >= 65536 && (uint64_t)oc->userns_host_id + oc->userns_size <= UINT32_MAX),
                    "oci.userns_size must be at least 65536 (nobody is 65534) and the range must end below 2^32");
    ILU_CFG_REQUIRE(oc->log_max_bytes >= 4096, "oci.log_max_bytes must be at least 4096");
    ILU_CFG_REQUIRE(oc->agent_threads <= 64, "oci.agent_threads must be at most 64");
    return 0;
}
