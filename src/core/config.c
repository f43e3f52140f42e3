#include "config.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy_registry.h"

enum field_type { F_STR, F_U32, F_BOOL };

struct field {
    const char *path; /* dotted JSON path */
    enum field_type type;
    size_t offset;
    size_t size; /* for strings */
};

#define STR(p, m) {p, F_STR, offsetof(struct ilu_worker_config, m), sizeof(((struct ilu_worker_config *)0)->m)}
#define U32(p, m) {p, F_U32, offsetof(struct ilu_worker_config, m), 0}
#define BOOL(p, m) {p, F_BOOL, offsetof(struct ilu_worker_config, m), 0}

/* Every key the worker understands; the order is the order of the dump. */
static const struct field fields[] = {
    STR("name", name),
    STR("address", address),
    U32("port", port),
    U32("limits.timeout_sec", limits.timeout_sec),
    U32("limits.mem_min_mb", limits.mem_min_mb),
    U32("limits.mem_max_mb", limits.mem_max_mb),
    U32("limits.cpu_max", limits.cpu_max),
    U32("limits.max_payload_bytes", limits.max_payload_bytes),
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
    U32("status.report_freq_ms", status.report_freq_ms),
    U32("simulation.container_start_ms", simulation.container_start_ms),
    U32("simulation.invoke_overhead_us", simulation.invoke_overhead_us),
    U32("simulation.jitter_pct", simulation.jitter_pct),
    U32("simulation.seed", simulation.seed),
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

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
    cfg->status.report_freq_ms = 1000;
    /* measured on the development VM (bench/README.md): runc start-up plus
     * the agent's import, and the agent round trip beyond the function */
    cfg->simulation.container_start_ms = 85;
    cfg->simulation.invoke_overhead_us = 400;
    cfg->simulation.jitter_pct = 0;
    cfg->simulation.seed = 1;
}

static const struct field *field_find(const char *path)
{
    for (size_t i = 0; i < N_FIELDS; i++)
        if (strcmp(fields[i].path, path) == 0)
            return &fields[i];
    return NULL;
}

static int field_set(struct ilu_worker_config *cfg, const struct field *f, json_t *value, const char *source,
                     struct ilu_error *err)
{
    char *base = (char *)cfg + f->offset;
    switch (f->type) {
    case F_STR:
        if (!json_is_string(value))
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s: %s must be a string", source, f->path);
        if (json_string_length(value) >= f->size)
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s: %s is longer than %zu characters", source,
                           f->path, f->size - 1);
        memcpy(base, json_string_value(value), json_string_length(value) + 1);
        return 0;
    case F_U32:
        if (!json_is_integer(value) || json_integer_value(value) < 0 || json_integer_value(value) > UINT32_MAX)
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s: %s must be a non-negative integer", source,
                           f->path);
        *(uint32_t *)base = (uint32_t)json_integer_value(value);
        return 0;
    case F_BOOL:
        if (!json_is_boolean(value))
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s: %s must be true or false", source, f->path);
        *(bool *)base = json_is_true(value);
        return 0;
    }
    return ilu_err(err, ILU_ST_INTERNAL, NULL, "unknown field type");
}

static int apply_object(struct ilu_worker_config *cfg, json_t *obj, const char *prefix, const char *source,
                        struct ilu_error *err)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
        const struct field *f = field_find(path);
        if (f) {
            if (field_set(cfg, f, value, source, err))
                return -1;
        } else if (json_is_object(value)) {
            if (apply_object(cfg, value, path, source, err))
                return -1;
        } else {
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s: unknown key %s", source, path);
        }
    }
    return 0;
}

int ilu_config_apply_json(struct ilu_worker_config *cfg, const char *json, const char *source,
                          struct ilu_error *err)
{
    json_error_t jerr;
    json_t *root = json_loads(json, 0, &jerr);
    if (!root)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s:%d:%d: %s", source, jerr.line, jerr.column,
                       jerr.text);
    int rc = json_is_object(root) ? apply_object(cfg, root, "", source, err)
                                  : ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s: not a JSON object", source);
    json_decref(root);
    return rc;
}

int ilu_config_apply_env(struct ilu_worker_config *cfg, const char *prefix, char *const *envp,
                         struct ilu_error *err)
{
    size_t plen = strlen(prefix);
    for (; envp && *envp; envp++) {
        const char *entry = *envp;
        if (strncmp(entry, prefix, plen) != 0 || strncmp(entry + plen, "__", 2) != 0)
            continue;
        const char *eq = strchr(entry, '=');
        if (!eq)
            continue;
        char path[256];
        size_t n = 0;
        for (const char *p = entry + plen + 2; p < eq && n + 1 < sizeof path; p++) {
            if (p[0] == '_' && p[1] == '_') {
                path[n++] = '.';
                p++;
            } else {
                path[n++] = *p;
            }
        }
        path[n] = 0;
        const struct field *f = field_find(path);
        if (!f)
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "environment: unknown key %s (from %.*s)", path,
                           (int)(eq - entry), entry);
        const char *text = eq + 1;
        json_t *value = NULL;
        if (f->type == F_STR) {
            value = json_string(text);
        } else {
            json_error_t jerr;
            value = json_loads(text, JSON_DECODE_ANY, &jerr);
        }
        char source[300];
        snprintf(source, sizeof source, "environment %.*s", (int)(eq - entry), entry);
        int rc = value ? field_set(cfg, f, value, source, err)
                       : ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s: cannot parse \"%s\"", source, text);
        json_decref(value);
        if (rc)
            return -1;
    }
    return 0;
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
    REQUIRE(cfg->limits.mem_min_mb <= cfg->limits.mem_max_mb, "limits.mem_min_mb exceeds limits.mem_max_mb");
    REQUIRE(cfg->limits.cpu_max > 0, "limits.cpu_max must be positive");
    REQUIRE(cfg->container_resources.memory_mb > 0, "container_resources.memory_mb must be positive");
    REQUIRE(cfg->container_resources.pool_freq_ms > 0, "container_resources.pool_freq_ms must be positive");
    REQUIRE(cfg->container_resources.startup_timeout_ms > 0, "container_resources.startup_timeout_ms must be positive");
    REQUIRE(cfg->status.report_freq_ms > 0, "status.report_freq_ms must be positive");
    REQUIRE(cfg->simulation.jitter_pct < 100, "simulation.jitter_pct must be below 100");
    REQUIRE(ilu_queue_policy_find(cfg->invocation.queue_policy), "invocation.queue_policy \"%s\" is not one of: %s",
            cfg->invocation.queue_policy, ilu_queue_policy_names());
    REQUIRE(ilu_eviction_policy_find(cfg->container_resources.eviction),
            "container_resources.eviction \"%s\" is not one of: %s", cfg->container_resources.eviction,
            ilu_eviction_policy_names());
    REQUIRE(!strcmp(cfg->oci.runtime, "auto") || !strcmp(cfg->oci.runtime, "crun") || !strcmp(cfg->oci.runtime, "runc"),
            "oci.runtime \"%s\" is not one of: auto, crun, runc", cfg->oci.runtime);
    REQUIRE(ilu_log_level_valid(cfg->logging.level), "logging.level \"%s\" is not one of: debug, info, warn, error",
            cfg->logging.level);
#undef REQUIRE
    return 0;
}

char *ilu_config_dump(const struct ilu_worker_config *cfg)
{
    json_t *root = json_object();
    for (size_t i = 0; i < N_FIELDS; i++) {
        const struct field *f = &fields[i];
        const char *base = (const char *)cfg + f->offset;
        json_t *value = f->type == F_STR   ? json_string(base)
                        : f->type == F_U32 ? json_integer(*(const uint32_t *)base)
                                           : json_boolean(*(const bool *)base);
        /* walk/create the nested objects of the dotted path */
        json_t *parent = root;
        char path[256];
        snprintf(path, sizeof path, "%s", f->path);
        char *save = NULL, *part = strtok_r(path, ".", &save), *next;
        while ((next = strtok_r(NULL, ".", &save))) {
            json_t *child = json_object_get(parent, part);
            if (!child) {
                child = json_object();
                json_object_set_new(parent, part, child);
            }
            parent = child;
            part = next;
        }
        json_object_set_new(parent, part, value);
    }
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return text;
}
