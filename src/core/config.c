#include "config.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_schema.h"
#include "log.h"
#include "policy_registry.h"

#define STR(p, m) ILU_CFG_STR_FIELD(struct ilu_worker_config, p, m)
#define U32(p, m) ILU_CFG_U32_FIELD(struct ilu_worker_config, p, m)
#define BOOL(p, m) ILU_CFG_BOOL_FIELD(struct ilu_worker_config, p, m)

/* Every key the worker understands; the order is the order of the dump. */
static const struct ilu_cfg_field fields[] = {
    STR("name", name),
    STR("address", address),
    U32("port", port),
    STR("load_balancer_url", load_balancer_url),
    STR("load_balancer_token", load_balancer_token),
    STR("advertise_host", advertise_host),
    STR("functions_dirs", functions_dirs),
    U32("limits.timeout_sec", limits.timeout_sec),
    U32("limits.mem_min_mb", limits.mem_min_mb),
    U32("limits.mem_max_mb", limits.mem_max_mb),
    U32("limits.cpu_max", limits.cpu_max),
    U32("limits.max_payload_bytes", limits.max_payload_bytes),
    U32("limits.max_result_bytes", limits.max_result_bytes),
    STR("invocation.queue_policy", invocation.queue_policy),
    U32("invocation.max_queue_len", invocation.max_queue_len),
    U32("invocation.async_result_ttl_sec", invocation.async_result_ttl_sec),
    STR("logging.level", logging.level),
    STR("logging.directory", logging.directory),
    BOOL("logging.stdout", logging.stdout_enabled),
    U32("container_resources.memory_mb", container_resources.memory_mb),
    STR("container_resources.eviction", container_resources.eviction),
    U32("container_resources.keepalive_sec", container_resources.keepalive_sec),
    U32("container_resources.startup_timeout_ms", container_resources.startup_timeout_ms),
    U32("container_resources.pool_freq_ms", container_resources.pool_freq_ms),
    U32("container_resources.cpu_count", container_resources.cpu_count),
    STR("container_resources.backend", container_resources.backend),
    STR("oci.runtime", oci.runtime),
    STR("oci.runtime_path", oci.runtime_path),
    STR("oci.state_dir", oci.state_dir),
    STR("oci.rootfs_dir", oci.rootfs_dir),
    STR("oci.python", oci.python),
    STR("oci.agent_path", oci.agent_path),
    STR("oci.cgroup_parent", oci.cgroup_parent),
    U32("oci.pids_limit", oci.pids_limit),
    BOOL("oci.user_namespace", oci.user_namespace),
    U32("oci.userns_host_id", oci.userns_host_id),
    U32("oci.userns_size", oci.userns_size),
    STR("oci.seccomp", oci.seccomp),
    STR("oci.init", oci.init),
    U32("oci.log_max_bytes", oci.log_max_bytes),
    ILU_HTTP_LIMITS_FIELDS(struct ilu_worker_config, http),
    U32("status.report_freq_ms", status.report_freq_ms),
    U32("simulation.container_start_ms", simulation.container_start_ms),
    U32("simulation.invoke_overhead_us", simulation.invoke_overhead_us),
    U32("simulation.jitter_pct", simulation.jitter_pct),
    U32("simulation.seed", simulation.seed),
};
static const struct ilu_cfg_schema schema = {fields, sizeof fields / sizeof fields[0]};

void ilu_config_defaults(struct ilu_worker_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->name, sizeof cfg->name, "worker");
    snprintf(cfg->address, sizeof cfg->address, "127.0.0.1");
    cfg->port = 8079;
    cfg->limits.timeout_sec = 300;
    cfg->limits.mem_min_mb = 5;
    cfg->limits.mem_max_mb = 3096;
    cfg->limits.cpu_max = 4;
    cfg->limits.max_payload_bytes = 1 << 20;
    /* OpenWhisk's default; the worker parses and re-encodes a result on its
     * one loop, about 26 ms per MiB on a busy 2-core VM (docs/worker.md) */
    cfg->limits.max_result_bytes = 1 << 20;
    snprintf(cfg->invocation.queue_policy, sizeof cfg->invocation.queue_policy, "fcfs");
    cfg->invocation.max_queue_len = 1000;
    cfg->invocation.async_result_ttl_sec = 600;
    snprintf(cfg->logging.level, sizeof cfg->logging.level, "info");
    cfg->logging.stdout_enabled = true;
    cfg->container_resources.memory_mb = 2048;
    snprintf(cfg->container_resources.eviction, sizeof cfg->container_resources.eviction, "LRU");
    cfg->container_resources.keepalive_sec = 600;
    cfg->container_resources.startup_timeout_ms = 10000;
    cfg->container_resources.pool_freq_ms = 500;
    cfg->container_resources.cpu_count = 0;
    snprintf(cfg->container_resources.backend, sizeof cfg->container_resources.backend, "oci");
    snprintf(cfg->oci.runtime, sizeof cfg->oci.runtime, "auto");
    snprintf(cfg->oci.state_dir, sizeof cfg->oci.state_dir, "/run/iluvatar");
    snprintf(cfg->oci.rootfs_dir, sizeof cfg->oci.rootfs_dir, "/run/iluvatar/rootfs");
    snprintf(cfg->oci.python, sizeof cfg->oci.python, "/usr/bin/python3");
    snprintf(cfg->oci.cgroup_parent, sizeof cfg->oci.cgroup_parent, "iluvatar");
    cfg->oci.pids_limit = 256;
    cfg->oci.user_namespace = true;
    cfg->oci.userns_host_id = 1u << 30; /* far above login and subuid ranges */
    cfg->oci.userns_size = 65536;
    snprintf(cfg->oci.seccomp, sizeof cfg->oci.seccomp, "default");
    snprintf(cfg->oci.init, sizeof cfg->oci.init, "/usr/bin/tini");
    cfg->oci.log_max_bytes = 1 << 20;
    ilu_http_limits_defaults(&cfg->http);
    cfg->status.report_freq_ms = 1000;
    /* measured on the development VM (bench/README.md): runc start-up plus
     * the agent's import, and the agent round trip beyond the function */
    cfg->simulation.container_start_ms = 85;
    cfg->simulation.invoke_overhead_us = 400;
    cfg->simulation.jitter_pct = 0;
    cfg->simulation.seed = 1;
}

int ilu_config_apply_json(struct ilu_worker_config *cfg, const char *json, const char *source,
                          struct ilu_error *err)
{
    return ilu_cfg_apply_json(&schema, cfg, json, source, err);
}

int ilu_config_apply_env(struct ilu_worker_config *cfg, const char *prefix, char *const *envp,
                         struct ilu_error *err)
{
    return ilu_cfg_apply_env(&schema, cfg, prefix, envp, err);
}

char *ilu_config_dump(const struct ilu_worker_config *cfg)
{
    return ilu_cfg_dump(&schema, cfg);
}

int ilu_config_validate(const struct ilu_worker_config *cfg, struct ilu_error *err)
{
#define REQUIRE(cond, ...)                                                                                   \
    do {                                                                                                     \
        if (!(cond))                                                                                         \
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", __VA_ARGS__);                             \
    } while (0)
    REQUIRE(cfg->port > 0 && cfg->port < 65536, "port %u is out of range", cfg->port);
    REQUIRE(cfg->limits.timeout_sec > 0, "limits.timeout_sec must be positive");
    if (cfg->load_balancer_url[0]) {
        char host[256];
        uint32_t port;
        if (ilu_config_parse_url(cfg->load_balancer_url, host, sizeof host, &port, err))
            return -1;
    }
    REQUIRE(cfg->limits.mem_min_mb <= cfg->limits.mem_max_mb, "limits.mem_min_mb exceeds limits.mem_max_mb");
    REQUIRE(cfg->limits.cpu_max > 0, "limits.cpu_max must be positive");
    REQUIRE(cfg->container_resources.memory_mb > 0, "container_resources.memory_mb must be positive");
    REQUIRE(cfg->container_resources.pool_freq_ms > 0, "container_resources.pool_freq_ms must be positive");
    REQUIRE(cfg->container_resources.startup_timeout_ms > 0, "container_resources.startup_timeout_ms must be positive");
    REQUIRE(cfg->status.report_freq_ms > 0, "status.report_freq_ms must be positive");
    if (ilu_http_limits_validate(&cfg->http, "http", err))
        return -1;
    REQUIRE(cfg->simulation.jitter_pct < 100, "simulation.jitter_pct must be below 100");
    REQUIRE(ilu_queue_policy_find(cfg->invocation.queue_policy), "invocation.queue_policy \"%s\" is not one of: %s",
            cfg->invocation.queue_policy, ilu_queue_policy_names());
    REQUIRE(ilu_keepalive_policy_find(cfg->container_resources.eviction),
            "container_resources.eviction \"%s\" is not one of: %s", cfg->container_resources.eviction,
            ilu_keepalive_policy_names());
    REQUIRE(!strcmp(cfg->oci.runtime, "auto") || !strcmp(cfg->oci.runtime, "crun") || !strcmp(cfg->oci.runtime, "runc"),
            "oci.runtime \"%s\" is not one of: auto, crun, runc", cfg->oci.runtime);
    REQUIRE(cfg->limits.max_result_bytes >= 1024, "limits.max_result_bytes must be at least 1024");
    REQUIRE(!cfg->oci.user_namespace || cfg->oci.userns_host_id > 0,
            "oci.userns_host_id must be above 0: container root would be host root");
    REQUIRE(!cfg->oci.user_namespace ||
                (cfg->oci.userns_size >= 65536 && (uint64_t)cfg->oci.userns_host_id + cfg->oci.userns_size <= UINT32_MAX),
            "oci.userns_size must be at least 65536 (nobody is 65534) and the range must end below 2^32");
    REQUIRE(cfg->oci.log_max_bytes >= 4096, "oci.log_max_bytes must be at least 4096");
    REQUIRE(ilu_log_level_valid(cfg->logging.level), "logging.level \"%s\" is not one of: debug, info, warn, error",
            cfg->logging.level);
#undef REQUIRE
    return 0;
}


int ilu_config_parse_url(const char *url, char *host, size_t host_len, uint32_t *port, struct ilu_error *err)
{
    static const char scheme[] = "http://";
    const char *p = url;
    if (strncmp(p, scheme, sizeof scheme - 1) == 0)
        p += sizeof scheme - 1;
    else if (strstr(p, "://"))
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "load_balancer_url \"%s\": only http:// is supported",
                       url);
    size_t n = strcspn(p, ":/");
    if (n == 0 || n >= host_len)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                       "load_balancer_url \"%s\" has no host (expected http://host:port)", url);
    memcpy(host, p, n);
    host[n] = 0;
    p += n;
    *port = 80;
    if (*p == ':') {
        char *end;
        unsigned long v = strtoul(p + 1, &end, 10);
        if (end == p + 1 || v == 0 || v > 65535 || (*end && strcmp(end, "/") != 0))
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                           "load_balancer_url \"%s\" has a bad port (expected http://host:port)", url);
        *port = (uint32_t)v;
    } else if (*p && strcmp(p, "/") != 0) {
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                       "load_balancer_url \"%s\" must not have a path (expected http://host:port)", url);
    }
    return 0;
}
