/* Worker configuration: built-in defaults, then a JSON file, then environment
 * overrides ILUVATAR_WORKER__section__key=value. Unknown keys are errors so a
 * typo in an experiment's config never silently falls back to a default. */
#ifndef ILU_CONFIG_H
#define ILU_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg_schema.h"
#include "error.h"
#include "http_limits.h"

#define ILU_HTTP_IO_THREADS_MAX 64
#define ILU_GPU_MAX             64   /* container_resources.gpu_resource.count */
#define ILU_GPU_SPOTS_MAX       4096 /* container spots one GPU is split into */

/* container_resources.gpu_resource: Ilúvatar's GPU keys (docs/gpu.md). */
struct ilu_gpu_resource_config {
    uint32_t count;                    /* GPUs the worker uses; 0: none, whatever the host has */
    uint32_t memory_mb;                /* memory of each; 0: what was found (simulated: required) */
    uint32_t funcs_per_device;         /* container spots per GPU; 0: memory_mb / per_func_memory_mb */
    uint32_t concurrent_running_funcs; /* invocations running at once per GPU; 0: its spots */
    bool use_standalone_mps;           /* one MPS control daemon for the worker (oci backend) */
    uint32_t per_func_memory_mb;       /* each spot's memory when funcs_per_device is 0; 0: the whole GPU */
    uint32_t status_update_freq_ms;    /* GPU status sampling (live worker); 0: status.report_freq_ms */
    char driver_lib_dir[256];          /* the driver's user-space libraries, given to GPU containers; "": under /usr */
};

struct ilu_worker_config {
    char name[64];
    char address[64];
    uint32_t port;
    char load_balancer_url[256];   /* http://host:port of a controller to register with; empty: standalone */
    char load_balancer_token[256]; /* the controller's auth.worker_token, sent as a bearer token; empty: none */
    char advertise_host[256];      /* how the controller reaches this worker; empty: address */
    char functions_dirs[1024];     /* ':'-separated roots a function folder must lie under */
    struct {
        uint32_t timeout_sec; /* per-invocation timeout, from arrival */
        uint32_t mem_min_mb;
        uint32_t mem_max_mb;
        uint32_t cpu_max;
        uint32_t max_payload_bytes; /* largest accepted invocation arguments */
        uint32_t max_result_bytes;  /* largest function result (JSON); beyond it the invocation fails */
    } limits;
    struct {
        char queue_policy[32];      /* name in the queue policy registry */
        char gpu_queue_policy[32];  /* the GPU queue's policy, in the GPU queue policy registry (docs/gpu.md) */
        char enqueueing_policy[32]; /* where CPU|GPU functions run: a dispatch policy's name (docs/gpu.md) */
        double speedup_ratio;       /* enqueueing_policy Speedup: GPU when CPU exec / GPU exec is above it */
        uint32_t max_queue_len;     /* beyond this, 429 */
        uint32_t async_result_ttl_sec;
        uint32_t bypass_duration_ms; /* functions averaging less run at once on a free warm container; 0 = off */
        struct {                     /* queue_policy "mqfq" (Ilúvatar's invocation.mqfq_config) */
            double allowed_overrun;  /* s: a flow may be this far ahead of virtual time, else throttled */
            double service_average;  /* s: virtual time per invocation; 0 = the function's average execution */
            double ttl_sec;          /* s an empty flow is remembered; negative: |ttl_sec| x its mean IAT */
            bool work_conserving;    /* a free CPU serves the oldest flow even when every flow is throttled */
        } mqfq;
    } invocation;
    struct {
        char level[16];
        char directory[256]; /* empty: no log file */
        bool stdout_enabled; /* key "stdout" */
    } logging;
    struct {
        uint32_t memory_mb;     /* pool size all containers must fit in */
        char eviction[32];      /* name in the eviction policy registry */
        uint32_t keepalive_sec; /* idle containers older than this go; 0 = keep */
        uint32_t ttl_sec;       /* eviction TTL: idle time before a container expires (> 0) */
        /* eviction HYBRID_HISTOGRAM (src/policy/keepalive/histogram.c, docs/policies.md) */
        uint32_t histogram_bin_sec;                /* idle-time bin width */
        uint32_t histogram_range_min;              /* idle times at or past this are out of bound */
        uint32_t histogram_head_pct;               /* percentile that sets the pre-warm window */
        uint32_t histogram_tail_pct;               /* percentile that sets the keep-alive window */
        uint32_t histogram_margin_pct;             /* pre-warm shortened, keep-alive lengthened by this */
        uint32_t histogram_cv_threshold_x100;      /* bin-count CV below this / 100: not a pattern */
        uint32_t histogram_min_samples;            /* fewer idle times: not a pattern */
        uint32_t histogram_oob_pct;                /* this share out of bound: forecast instead */
        uint32_t histogram_forecast_margin_pct;    /* forecast window: +-this around the forecast */
        uint32_t histogram_fallback_keepalive_sec; /* keep-alive when not a pattern; 0 = the range */
        uint32_t startup_timeout_ms;
        /* generic sandboxes started ahead (worker/sandbox_pool.h); 0: off */
        uint32_t sandbox_pool_size;
        uint32_t sandbox_memory_mb;    /* each one's memory limit and share of memory_mb until assigned */
        uint32_t sandbox_max_starting; /* refill: sandboxes started at once */
        uint32_t pool_freq_ms;         /* how often keep-alive is enforced */
        uint32_t cpu_count;            /* concurrency limit in CPUs; 0 = online CPUs */
        /* dynamic concurrency (Ilúvatar's cpu_resource oversubscription) */
        uint32_t concurrency_update_check_ms; /* how often the limit is adjusted; 0 = off */
        uint32_t max_oversubscribe;           /* the most the limit grows to, in CPUs (>= cpu_count) */
        double max_load;                      /* grow while (CPUs held by running invocations / cpu_count) <= this */
        char backend[16];                     /* isolation backend, by its name in src/backend/registry.c */
        struct ilu_gpu_resource_config gpu_resource;
    } container_resources;
    struct ilu_http_limits http; /* the API server's limits (http.*) */
    uint32_t http_io_threads;    /* http.io_threads: I/O loops beside the core loop (0: one loop) */
    struct {
        uint32_t report_freq_ms; /* host CPU / load sampling period */
    } status;
    /* Sections other modules own (each isolation backend's: oci.*,
     * simulation.*; attached by src/backend/registry.h), borrowed: loading,
     * environment overrides, validation and the dump treat their keys as the
     * worker's. NULL: the core's keys only. */
    const struct ilu_cfg_part *sections;
    size_t n_sections;
};

/* Fill cfg with the built-in defaults. cpu_count stays 0 (resolved by the daemon). */
void ilu_config_defaults(struct ilu_worker_config *cfg);

/* Apply a JSON document (the config file) on top of cfg. source names it in errors. */
int ilu_config_apply_json(struct ilu_worker_config *cfg, const char *json, const char *source, struct ilu_error *err);

/* Apply PREFIX__a__b=value entries from envp (NULL-terminated). */
int ilu_config_apply_env(struct ilu_worker_config *cfg, const char *prefix, char *const *envp, struct ilu_error *err);

/* Check ranges and names (policies exist), then each attached section. */
int ilu_config_validate(const struct ilu_worker_config *cfg, struct ilu_error *err);

/* Split "http://host:port[/]" (load_balancer_url) into host and port; the
 * port defaults to 80. Fails with a sentence naming the URL otherwise. */
int ilu_config_parse_url(const char *url, char *host, size_t host_len, uint32_t *port, struct ilu_error *err);

/* The whole config as pretty JSON; caller frees. */
char *ilu_config_dump(const struct ilu_worker_config *cfg);

#endif
