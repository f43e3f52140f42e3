#include "controller/controller_config.h"

#include <stdio.h>
#include <string.h>

#include "core/cfg_schema.h"
#include "core/log.h"
#include "core/policy_registry.h"

#define ILU_CFG_STRUCT struct ilu_controller_config

static const struct ilu_cfg_field fields[] = {
    ILU_CFG_STR("name", name),
    ILU_CFG_STR("address", address),
    ILU_CFG_U32("port", port),
    ILU_CFG_STR("logging.level", logging.level),
    ILU_CFG_STR("logging.directory", logging.directory),
    ILU_CFG_BOOL("logging.stdout", logging.stdout_enabled),
    ILU_CFG_STR("load_balancer.algorithm", load_balancer.algorithm),
    ILU_CFG_U32("load_balancer.vnodes", load_balancer.vnodes),
    ILU_CFG_U32("load_balancer.bound_pct", load_balancer.bound_pct),
    ILU_CFG_U32("health.status_freq_ms", health.status_freq_ms),
    ILU_CFG_U32("health.failures_to_unhealthy", health.failures_to_unhealthy),
    ILU_CFG_U32("health.request_timeout_ms", health.request_timeout_ms),
    ILU_CFG_U32("invocation.timeout_sec", invocation.timeout_sec),
    ILU_CFG_U32("invocation.async_retries", invocation.async_retries),
    ILU_CFG_U32("invocation.unsent_retries", invocation.unsent_retries),
    ILU_CFG_U32("invocation.async_result_ttl_sec", invocation.async_result_ttl_sec),
    ILU_CFG_U32("invocation.max_payload_bytes", invocation.max_payload_bytes),
    ILU_HTTP_LIMITS_FIELDS(struct ilu_controller_config, http),
    ILU_CFG_STR("store.db_path", store.db_path),
    ILU_CFG_STR("auth.worker_token", auth.worker_token),
    ILU_CFG_STR("auth.client_token", auth.client_token),
};
static const struct ilu_cfg_schema schema = {fields, sizeof fields / sizeof fields[0]};

void ilu_controller_config_defaults(struct ilu_controller_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->name, sizeof cfg->name, "controller");
    snprintf(cfg->address, sizeof cfg->address, "127.0.0.1");
    cfg->port = 8078;
    snprintf(cfg->logging.level, sizeof cfg->logging.level, "info");
    cfg->logging.stdout_enabled = true;
    snprintf(cfg->load_balancer.algorithm, sizeof cfg->load_balancer.algorithm, "CH-BL");
    cfg->load_balancer.vnodes = 64;
    cfg->load_balancer.bound_pct = 125; /* Mirrokni et al.'s c = 1.25 */
    cfg->health.status_freq_ms = 250;
    cfg->health.failures_to_unhealthy = 2;
    cfg->health.request_timeout_ms = 500;
    /* above the worker's limits.timeout_sec (300): its own 504 arrives first */
    cfg->invocation.timeout_sec = 330;
    cfg->invocation.async_retries = 2;
    cfg->invocation.unsent_retries = 2;
    cfg->invocation.async_result_ttl_sec = 600;
    cfg->invocation.max_payload_bytes = 1 << 20;
    ilu_http_limits_defaults(&cfg->http);
    snprintf(cfg->store.db_path, sizeof cfg->store.db_path, "/var/lib/iluvatar/controller.db");
}

int ilu_controller_config_apply_json(struct ilu_controller_config *cfg, const char *json, const char *source,
                                     struct ilu_error *err)
{
    return ilu_cfg_apply_json(&schema, cfg, json, source, err);
}

int ilu_controller_config_apply_env(struct ilu_controller_config *cfg, const char *prefix, char *const *envp,
                                    struct ilu_error *err)
{
    return ilu_cfg_apply_env(&schema, cfg, prefix, envp, err);
}

char *ilu_controller_config_dump(const struct ilu_controller_config *cfg)
{
    return ilu_cfg_dump(&schema, cfg);
}

int ilu_controller_config_validate(const struct ilu_controller_config *cfg, struct ilu_error *err)
{
    ILU_CFG_REQUIRE(cfg->port > 0 && cfg->port < 65536, "port %u is out of range", cfg->port);
    ILU_CFG_REQUIRE(ilu_lb_policy_find(cfg->load_balancer.algorithm),
                    "load_balancer.algorithm \"%s\" is not one of: %s", cfg->load_balancer.algorithm,
                    ilu_lb_policy_names());
    ILU_CFG_REQUIRE(cfg->load_balancer.vnodes >= 1 && cfg->load_balancer.vnodes <= 4096,
                    "load_balancer.vnodes must be in [1, 4096]");
    ILU_CFG_REQUIRE(cfg->load_balancer.bound_pct >= 100, "load_balancer.bound_pct must be at least 100");
    ILU_CFG_REQUIRE(cfg->health.status_freq_ms > 0, "health.status_freq_ms must be positive");
    ILU_CFG_REQUIRE(cfg->health.failures_to_unhealthy > 0, "health.failures_to_unhealthy must be positive");
    ILU_CFG_REQUIRE(cfg->health.request_timeout_ms > 0, "health.request_timeout_ms must be positive");
    ILU_CFG_REQUIRE(cfg->invocation.timeout_sec > 0, "invocation.timeout_sec must be positive");
    if (ilu_http_limits_validate(&cfg->http, "http", err))
        return -1;
    ILU_CFG_REQUIRE(ilu_log_level_valid(cfg->logging.level),
                    "logging.level \"%s\" is not one of: debug, info, warn, error", cfg->logging.level);
    return 0;
}
