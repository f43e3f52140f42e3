#include "config.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg_schema.h"
#include "log.h"
#include "policy_registry.h"

#define ILU_CFG_STRUCT struct ilu_worker_config

/* Every key the worker understands; the order is the order of the dump. */
static const struct ilu_cfg_field fields[] = {
    ILU_CFG_STR("name", name),
    ILU_CFG_STR("address", address),
    ILU_CFG_U32("port", port),
    ILU_CFG_STR("load_balancer_url", load_balancer_url),
    ILU_CFG_STR("load_balancer_token", load_balancer_token),
    ILU_CFG_STR("advertise_host", advertise_host),
    ILU_CFG_STR("functions_dirs", functions_dirs),
    ILU_CFG_U32("limits.timeout_sec", limits.timeout_sec),
    ILU_CFG_U32("limits.mem_min_mb", limits.mem_min_mb),
    ILU_CFG_U32("limits.mem_max_mb", limits.mem_max_mb),
    ILU_CFG_U32("limits.cpu_max", limits.cpu_max),
    ILU_CFG_U32("limits.max_payload_bytes", limits.max_payload_bytes),
    ILU_CFG_U32("limits.max_result_bytes", limits.max_result_bytes),
    ILU_CFG_STR("invocation.queue_policy", invocation.queue_policy),
    ILU_CFG_STR("invocation.gpu_queue_policy", invocation.gpu_queue_policy),
    ILU_CFG_STR("invocation.enqueueing_policy", invocation.enqueueing_policy),
    ILU_CFG_F64("invocation.speedup_ratio", invocation.speedup_ratio),
    ILU_CFG_U32("invocation.max_queue_len", invocation.max_queue_len),
    ILU_CFG_U32("invocation.async_result_ttl_sec", invocation.async_result_ttl_sec),
    ILU_CFG_U32("invocation.bypass_duration_ms", invocation.bypass_duration_ms),
    ILU_CFG_F64("invocation.mqfq_config.allowed_overrun", invocation.mqfq.allowed_overrun),
    ILU_CFG_F64("invocation.mqfq_config.service_average", invocation.mqfq.service_average),
    ILU_CFG_F64("invocation.mqfq_config.ttl_sec", invocation.mqfq.ttl_sec),
    ILU_CFG_BOOL("invocation.mqfq_config.work_conserving", invocation.mqfq.work_conserving),
    ILU_CFG_STR("logging.level", logging.level),
    ILU_CFG_STR("logging.directory", logging.directory),
    ILU_CFG_BOOL("logging.stdout", logging.stdout_enabled),
    ILU_CFG_U32("container_resources.memory_mb", container_resources.memory_mb),
    ILU_CFG_STR("container_resources.eviction", container_resources.eviction),
    ILU_CFG_U32("container_resources.keepalive_sec", container_resources.keepalive_sec),
    ILU_CFG_U32("container_resources.ttl_sec", container_resources.ttl_sec),
    ILU_CFG_U32("container_resources.histogram_bin_sec", container_resources.histogram_bin_sec),
    ILU_CFG_U32("container_resources.histogram_range_min", container_resources.histogram_range_min),
    ILU_CFG_U32("container_resources.histogram_head_pct", container_resources.histogram_head_pct),
    ILU_CFG_U32("container_resources.histogram_tail_pct", container_resources.histogram_tail_pct),
    ILU_CFG_U32("container_resources.histogram_margin_pct", container_resources.histogram_margin_pct),
    ILU_CFG_U32("container_resources.histogram_cv_threshold_x100", container_resources.histogram_cv_threshold_x100),
    ILU_CFG_U32("container_resources.histogram_min_samples", container_resources.histogram_min_samples),
    ILU_CFG_U32("container_resources.histogram_oob_pct", container_resources.histogram_oob_pct),
    ILU_CFG_U32("container_resources.histogram_forecast_margin_pct", container_resources.histogram_forecast_margin_pct),
    ILU_CFG_U32("container_resources.histogram_fallback_keepalive_sec",
                container_resources.histogram_fallback_keepalive_sec),
    ILU_CFG_U32("container_resources.startup_timeout_ms", container_resources.startup_timeout_ms),
    ILU_CFG_U32("container_resources.pool_freq_ms", container_resources.pool_freq_ms),
    ILU_CFG_U32("container_resources.sandbox_pool_size", container_resources.sandbox_pool_size),
    ILU_CFG_U32("container_resources.sandbox_memory_mb", container_resources.sandbox_memory_mb),
    ILU_CFG_U32("container_resources.sandbox_max_starting", container_resources.sandbox_max_starting),
    ILU_CFG_U32("container_resources.cpu_count", container_resources.cpu_count),
    ILU_CFG_U32("container_resources.concurrency_update_check_ms", container_resources.concurrency_update_check_ms),
    ILU_CFG_U32("container_resources.max_oversubscribe", container_resources.max_oversubscribe),
    ILU_CFG_F64("container_resources.max_load", container_resources.max_load),
    ILU_CFG_STR("container_resources.backend", container_resources.backend),
    ILU_CFG_U32("container_resources.gpu_resource.count", container_resources.gpu_resource.count),
    ILU_CFG_U32("container_resources.gpu_resource.memory_mb", container_resources.gpu_resource.memory_mb),
    ILU_CFG_U32("container_resources.gpu_resource.funcs_per_device", container_resources.gpu_resource.funcs_per_device),
    ILU_CFG_U32("container_resources.gpu_resource.concurrent_running_funcs",
                container_resources.gpu_resource.concurrent_running_funcs),
    ILU_CFG_BOOL("container_resources.gpu_resource.use_standalone_mps",
                 container_resources.gpu_resource.use_standalone_mps),
    ILU_CFG_U32("container_resources.gpu_resource.per_func_memory_mb",
                container_resources.gpu_resource.per_func_memory_mb),
    ILU_CFG_U32("container_resources.gpu_resource.status_update_freq_ms",
                container_resources.gpu_resource.status_update_freq_ms),
    ILU_CFG_STR("container_resources.gpu_resource.driver_lib_dir", container_resources.gpu_resource.driver_lib_dir),
    ILU_HTTP_LIMITS_FIELDS(struct ilu_worker_config, http),
    ILU_CFG_U32("http.io_threads", http_io_threads),
    ILU_CFG_U32("status.report_freq_ms", status.report_freq_ms),
};
static const struct ilu_cfg_schema schema = {fields, sizeof fields / sizeof fields[0]};

/* The core's part first, then the attached sections; n is their count. */
static size_t config_parts(const struct ilu_worker_config *cfg, struct ilu_cfg_part *parts, size_t max)
{
    size_t n = 0;
    parts[n++] = (struct ilu_cfg_part){.schema = &schema, .base = (void *)cfg};
    for (size_t i = 0; i < cfg->n_sections && n < max; i++)
        parts[n++] = cfg->sections[i];
    return n;
}

#define ILU_CONFIG_MAX_PARTS 16

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
    snprintf(cfg->invocation.gpu_queue_policy, sizeof cfg->invocation.gpu_queue_policy, "fcfs");
    snprintf(cfg->invocation.enqueueing_policy, sizeof cfg->invocation.enqueueing_policy, "AlwaysCPU");
    cfg->invocation.speedup_ratio = 4.0; /* Ilúvatar's default */
    cfg->invocation.max_queue_len = 1000;
    cfg->invocation.async_result_ttl_sec = 600;
    cfg->invocation.bypass_duration_ms = 0;
    /* Ilúvatar's defaults when mqfq_config leaves them out */
    cfg->invocation.mqfq.allowed_overrun = 10.0;
    cfg->invocation.mqfq.service_average = 0.0;
    cfg->invocation.mqfq.ttl_sec = 2.0;
    /* ours: Ilúvatar's MQFQ (false) leaves CPUs idle while a long invocation
     * holds virtual time back, which timed out 37% of a day trace that every
     * other policy ran without a failure (docs/policies.md) */
    cfg->invocation.mqfq.work_conserving = true;
    snprintf(cfg->logging.level, sizeof cfg->logging.level, "info");
    cfg->logging.stdout_enabled = true;
    cfg->container_resources.memory_mb = 2048;
    snprintf(cfg->container_resources.eviction, sizeof cfg->container_resources.eviction, "LRU");
    cfg->container_resources.keepalive_sec = 600;
    cfg->container_resources.ttl_sec = 600;
    /* HYBRID_HISTOGRAM: the paper's values (Shahrad et al., ATC'20), docs/policies.md */
    cfg->container_resources.histogram_bin_sec = 60;
    cfg->container_resources.histogram_range_min = 240;
    cfg->container_resources.histogram_head_pct = 5;
    cfg->container_resources.histogram_tail_pct = 99;
    cfg->container_resources.histogram_margin_pct = 10;
    cfg->container_resources.histogram_cv_threshold_x100 = 200;
    cfg->container_resources.histogram_min_samples = 5;
    cfg->container_resources.histogram_oob_pct = 50;
    cfg->container_resources.histogram_forecast_margin_pct = 15;
    cfg->container_resources.histogram_fallback_keepalive_sec = 0;
    cfg->container_resources.startup_timeout_ms = 10000;
    cfg->container_resources.pool_freq_ms = 500;
    cfg->container_resources.sandbox_pool_size = 0;
    cfg->container_resources.sandbox_memory_mb = 64;
    /* a refill of many sandboxes at once would take the CPUs from the
     * invocations that emptied the pool (bench/README.md) */
    cfg->container_resources.sandbox_max_starting = 2;
    cfg->container_resources.cpu_count = 0;
    cfg->container_resources.concurrency_update_check_ms = 0;
    cfg->container_resources.max_oversubscribe = 0;
    cfg->container_resources.max_load = 1.0;
    snprintf(cfg->container_resources.backend, sizeof cfg->container_resources.backend, "oci");
    /* Ilúvatar's: no GPUs unless asked for; the other keys 0 mean "derive" */
    cfg->container_resources.gpu_resource.count = 0;
    ilu_http_limits_defaults(&cfg->http);
    cfg->status.report_freq_ms = 1000;
}

/* Ilúvatar configures a keep-alive policy with its parameters as one object,
 * "eviction": {"TTL": {"timout_sec": 600}}; the schema knows flat keys
 * ("eviction": "TTL", "ttl_sec": 600). One row per accepted parameter: the
 * policy, the parameter's name in the object, its flat key under
 * container_resources (all unsigned integers). */
static const struct {
    const char *policy, *param, *key;
} eviction_params[] = {
    {"TTL", "timout_sec", "ttl_sec"}, /* Ilúvatar's spelling */
    {"TTL", "timeout_sec", "ttl_sec"},
    {"HYBRID_HISTOGRAM", "bin_sec", "histogram_bin_sec"},
    {"HYBRID_HISTOGRAM", "range_min", "histogram_range_min"},
    {"HYBRID_HISTOGRAM", "head_pct", "histogram_head_pct"},
    {"HYBRID_HISTOGRAM", "tail_pct", "histogram_tail_pct"},
    {"HYBRID_HISTOGRAM", "margin_pct", "histogram_margin_pct"},
    {"HYBRID_HISTOGRAM", "cv_threshold_x100", "histogram_cv_threshold_x100"},
    {"HYBRID_HISTOGRAM", "min_samples", "histogram_min_samples"},
    {"HYBRID_HISTOGRAM", "oob_pct", "histogram_oob_pct"},
    {"HYBRID_HISTOGRAM", "forecast_margin_pct", "histogram_forecast_margin_pct"},
    {"HYBRID_HISTOGRAM", "fallback_keepalive_sec", "histogram_fallback_keepalive_sec"},
};

static const char *eviction_param_key(const char *policy, const char *param)
{
    for (size_t i = 0; i < sizeof eviction_params / sizeof eviction_params[0]; i++)
        if (!strcasecmp(eviction_params[i].policy, policy) && !strcmp(eviction_params[i].param, param))
            return eviction_params[i].key;
    return NULL;
}

/* "a, b" of the parameters policy accepts in the object form; "none". */
static void eviction_param_names(const char *policy, char *buf, size_t len)
{
    snprintf(buf, len, "none");
    for (size_t i = 0, n = 0; i < sizeof eviction_params / sizeof eviction_params[0]; i++) {
        if (strcasecmp(eviction_params[i].policy, policy))
            continue;
        size_t used = n ? strlen(buf) : 0;
        snprintf(buf + used, len - used, "%s%s", n++ ? ", " : "", eviction_params[i].param);
    }
}

/* Rewrite container_resources.eviction given as {"POLICY": {params}} into
 * the flat keys, in place; 1 when it did, 0 when there was nothing to do. */
static int eviction_object_flatten(json_t *root, const char *source, struct ilu_error *err)
{
    json_t *cr = json_object_get(root, "container_resources");
    json_t *ev = json_is_object(cr) ? json_object_get(cr, "eviction") : NULL;
    if (!json_is_object(ev))
        return 0;
    if (json_object_size(ev) != 1)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                       "%s: container_resources.eviction as an object must hold exactly one key, the policy "
                       "name, e.g. {\"TTL\": {\"timeout_sec\": 600}}",
                       source);
    void *it = json_object_iter(ev);
    const char *policy = json_object_iter_key(it);
    json_t *params = json_object_iter_value(it);
    if (!ilu_keepalive_policy_find(policy))
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                       "%s: container_resources.eviction \"%s\" is not one of: %s", source, policy,
                       ilu_keepalive_policy_names());
    if (!json_is_object(params))
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                       "%s: container_resources.eviction.%s must be an object of its parameters", source, policy);
    json_t *flat = json_object();
    const char *param;
    json_t *value;
    int rc = 0;
    json_object_foreach(params, param, value)
    {
        const char *key = eviction_param_key(policy, param);
        if (!key) {
            char names[256];
            eviction_param_names(policy, names, sizeof names);
            rc = ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                         "%s: unknown key container_resources.eviction.%s.%s (%s takes: %s)", source, policy, param,
                         policy, names);
            break;
        }
        if (!json_is_integer(value) || json_integer_value(value) < 0 || json_integer_value(value) > UINT32_MAX) {
            rc =
                ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                        "%s: container_resources.eviction.%s.%s must be a non-negative integer", source, policy, param);
            break;
        }
        if (json_object_get(cr, key) || json_object_get(flat, key)) {
            rc = ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                         "%s: container_resources.%s is given twice (container_resources.eviction.%s.%s sets it)",
                         source, key, policy, param);
            break;
        }
        json_object_set(flat, key, value);
    }
    if (rc == 0) {
        json_object_update(cr, flat);
        json_object_set_new(cr, "eviction", json_string(policy)); /* copies policy before ev goes */
        rc = 1;
    }
    json_decref(flat);
    return rc;
}

int ilu_config_apply_json(struct ilu_worker_config *cfg, const char *json, const char *source, struct ilu_error *err)
{
    /* a malformed document goes to the schema loader as it is, for its error */
    json_t *root = json_loads(json, 0, NULL);
    int flattened = json_is_object(root) ? eviction_object_flatten(root, source, err) : 0;
    char *text = flattened == 1 ? json_dumps(root, JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (flattened < 0)
        return -1;
    if (flattened && !text)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "%s: out of memory", source);
    struct ilu_cfg_part parts[ILU_CONFIG_MAX_PARTS];
    size_t n = config_parts(cfg, parts, ILU_CONFIG_MAX_PARTS);
    int rc = ilu_cfg_apply_json_parts(parts, n, text ? text : json, source, err);
    free(text);
    return rc;
}

int ilu_config_apply_env(struct ilu_worker_config *cfg, const char *prefix, char *const *envp, struct ilu_error *err)
{
    struct ilu_cfg_part parts[ILU_CONFIG_MAX_PARTS];
    size_t n = config_parts(cfg, parts, ILU_CONFIG_MAX_PARTS);
    return ilu_cfg_apply_env_parts(parts, n, prefix, envp, err);
}

char *ilu_config_dump(const struct ilu_worker_config *cfg)
{
    struct ilu_cfg_part parts[ILU_CONFIG_MAX_PARTS];
    size_t n = config_parts(cfg, parts, ILU_CONFIG_MAX_PARTS);
    return ilu_cfg_dump_parts(parts, n);
}

/* What can be checked before the GPUs are known; the rest (memory_mb
 * against a GPU's memory, the spots it makes) at start (worker/gpu.h). */
static int gpu_resource_validate(const struct ilu_gpu_resource_config *g, struct ilu_error *err)
{
#define GPU_KEY "container_resources.gpu_resource."
    ILU_CFG_REQUIRE(g->count <= ILU_GPU_MAX, GPU_KEY "count %u is over the most supported, %d", g->count, ILU_GPU_MAX);
    ILU_CFG_REQUIRE(g->funcs_per_device <= ILU_GPU_SPOTS_MAX,
                    GPU_KEY "funcs_per_device %u is over the most supported, %d", g->funcs_per_device,
                    ILU_GPU_SPOTS_MAX);
    ILU_CFG_REQUIRE(!g->funcs_per_device || g->concurrent_running_funcs <= g->funcs_per_device,
                    GPU_KEY "concurrent_running_funcs (%u) must not exceed " GPU_KEY "funcs_per_device (%u): only "
                            "functions holding a spot on a GPU run on it",
                    g->concurrent_running_funcs, g->funcs_per_device);
    ILU_CFG_REQUIRE(g->funcs_per_device || !g->memory_mb || g->per_func_memory_mb <= g->memory_mb,
                    GPU_KEY "per_func_memory_mb (%u) is larger than " GPU_KEY "memory_mb (%u): a GPU would hold no "
                            "function",
                    g->per_func_memory_mb, g->memory_mb);
    ILU_CFG_REQUIRE(!g->driver_lib_dir[0] || g->driver_lib_dir[0] == '/',
                    GPU_KEY "driver_lib_dir \"%s\" must be an absolute path (or \"\": the loader's search path)",
                    g->driver_lib_dir);
#undef GPU_KEY
    return 0;
}

int ilu_config_validate(const struct ilu_worker_config *cfg, struct ilu_error *err)
{
    ILU_CFG_REQUIRE(cfg->port > 0 && cfg->port < 65536, "port %u is out of range", cfg->port);
    ILU_CFG_REQUIRE(cfg->limits.timeout_sec > 0, "limits.timeout_sec must be positive");
    if (cfg->load_balancer_url[0]) {
        char host[256];
        uint32_t port;
        if (ilu_config_parse_url(cfg->load_balancer_url, host, sizeof host, &port, err))
            return -1;
    }
    ILU_CFG_REQUIRE(cfg->limits.mem_min_mb <= cfg->limits.mem_max_mb, "limits.mem_min_mb exceeds limits.mem_max_mb");
    ILU_CFG_REQUIRE(cfg->limits.cpu_max > 0, "limits.cpu_max must be positive");
    ILU_CFG_REQUIRE(cfg->container_resources.memory_mb > 0, "container_resources.memory_mb must be positive");
    ILU_CFG_REQUIRE(cfg->container_resources.pool_freq_ms > 0, "container_resources.pool_freq_ms must be positive");
    ILU_CFG_REQUIRE(cfg->container_resources.startup_timeout_ms > 0,
                    "container_resources.startup_timeout_ms must be positive");
    ILU_CFG_REQUIRE(
        cfg->container_resources.sandbox_pool_size == 0 ||
            (cfg->container_resources.sandbox_memory_mb > 0 && cfg->container_resources.sandbox_max_starting > 0 &&
             (uint64_t)cfg->container_resources.sandbox_pool_size * cfg->container_resources.sandbox_memory_mb <=
                 cfg->container_resources.memory_mb),
        "container_resources.sandbox_pool_size x sandbox_memory_mb (%u x %u MB) must fit in "
        "container_resources.memory_mb (%u MB), and sandbox_memory_mb and sandbox_max_starting be positive",
        cfg->container_resources.sandbox_pool_size, cfg->container_resources.sandbox_memory_mb,
        cfg->container_resources.memory_mb);
    ILU_CFG_REQUIRE(cfg->status.report_freq_ms > 0, "status.report_freq_ms must be positive");
    ILU_CFG_REQUIRE(cfg->http_io_threads <= ILU_HTTP_IO_THREADS_MAX, "http.io_threads must be at most 64");
    if (ilu_http_limits_validate(&cfg->http, "http", err))
        return -1;
    ILU_CFG_REQUIRE(isfinite(cfg->invocation.mqfq.allowed_overrun) && cfg->invocation.mqfq.allowed_overrun >= 0,
                    "invocation.mqfq_config.allowed_overrun must be a number of seconds >= 0");
    ILU_CFG_REQUIRE(
        isfinite(cfg->invocation.mqfq.service_average) && cfg->invocation.mqfq.service_average >= 0,
        "invocation.mqfq_config.service_average must be a number of seconds >= 0 (0: the function's average)");
    ILU_CFG_REQUIRE(isfinite(cfg->invocation.mqfq.ttl_sec), "invocation.mqfq_config.ttl_sec must be a finite number");
    if (cfg->container_resources.concurrency_update_check_ms) {
        ILU_CFG_REQUIRE(cfg->container_resources.max_oversubscribe > 0,
                        "container_resources.max_oversubscribe must be positive when "
                        "container_resources.concurrency_update_check_ms is set");
        ILU_CFG_REQUIRE(
            cfg->container_resources.max_oversubscribe >= cfg->container_resources.cpu_count,
            "container_resources.max_oversubscribe (%u) must be at least container_resources.cpu_count (%u): "
            "it is the most the concurrency limit grows to",
            cfg->container_resources.max_oversubscribe, cfg->container_resources.cpu_count);
        ILU_CFG_REQUIRE(isfinite(cfg->container_resources.max_load) && cfg->container_resources.max_load > 0,
                        "container_resources.max_load must be a positive number when "
                        "container_resources.concurrency_update_check_ms is set");
    }
    ILU_CFG_REQUIRE(ilu_queue_policy_find(cfg->invocation.queue_policy),
                    "invocation.queue_policy \"%s\" is not one of: %s", cfg->invocation.queue_policy,
                    ilu_queue_policy_names());
    ILU_CFG_REQUIRE(ilu_gpu_queue_policy_find(cfg->invocation.gpu_queue_policy),
                    "invocation.gpu_queue_policy \"%s\" is not one of: %s", cfg->invocation.gpu_queue_policy,
                    ilu_gpu_queue_policy_names());
    ILU_CFG_REQUIRE(ilu_dispatch_policy_find(cfg->invocation.enqueueing_policy),
                    "invocation.enqueueing_policy \"%s\" is not one of: %s", cfg->invocation.enqueueing_policy,
                    ilu_dispatch_policy_names());
    ILU_CFG_REQUIRE(isfinite(cfg->invocation.speedup_ratio) && cfg->invocation.speedup_ratio > 0,
                    "invocation.speedup_ratio must be a number > 0");
    ILU_CFG_REQUIRE(ilu_keepalive_policy_find(cfg->container_resources.eviction),
                    "container_resources.eviction \"%s\" is not one of: %s", cfg->container_resources.eviction,
                    ilu_keepalive_policy_names());
    ILU_CFG_REQUIRE(strcasecmp(cfg->container_resources.eviction, "TTL") != 0 || cfg->container_resources.ttl_sec > 0,
                    "container_resources.ttl_sec must be positive with container_resources.eviction TTL");
    {
        const typeof(cfg->container_resources) *cr = &cfg->container_resources;
        ILU_CFG_REQUIRE(cr->histogram_bin_sec > 0, "container_resources.histogram_bin_sec must be positive");
        ILU_CFG_REQUIRE(cr->histogram_range_min > 0 && (uint64_t)cr->histogram_range_min * 60 >= cr->histogram_bin_sec,
                        "container_resources.histogram_range_min must be positive and at least one "
                        "container_resources.histogram_bin_sec");
        /* bounded memory: one 4-byte counter per bin per function */
        ILU_CFG_REQUIRE(
            ((uint64_t)cr->histogram_range_min * 60 + cr->histogram_bin_sec - 1) / cr->histogram_bin_sec <= 100000,
            "container_resources.histogram_range_min / container_resources.histogram_bin_sec makes more than "
            "100000 bins");
        ILU_CFG_REQUIRE(cr->histogram_tail_pct <= 100, "container_resources.histogram_tail_pct must be at most 100");
        ILU_CFG_REQUIRE(
            cr->histogram_head_pct <= cr->histogram_tail_pct,
            "container_resources.histogram_head_pct must not exceed container_resources.histogram_tail_pct");
        ILU_CFG_REQUIRE(cr->histogram_margin_pct <= 100,
                        "container_resources.histogram_margin_pct must be at most 100");
        ILU_CFG_REQUIRE(cr->histogram_oob_pct > 0 && cr->histogram_oob_pct <= 100,
                        "container_resources.histogram_oob_pct must be between 1 and 100");
        ILU_CFG_REQUIRE(cr->histogram_forecast_margin_pct <= 100,
                        "container_resources.histogram_forecast_margin_pct must be at most 100");
    }
    if (gpu_resource_validate(&cfg->container_resources.gpu_resource, err))
        return -1;
    ILU_CFG_REQUIRE(cfg->limits.max_result_bytes >= 1024, "limits.max_result_bytes must be at least 1024");
    ILU_CFG_REQUIRE(ilu_log_level_valid(cfg->logging.level),
                    "logging.level \"%s\" is not one of: debug, info, warn, error", cfg->logging.level);
    for (size_t i = 0; i < cfg->n_sections; i++)
        if (cfg->sections[i].validate && cfg->sections[i].validate(cfg->sections[i].base, err))
            return -1;
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
