#include "metrics.h"

#include <event2/buffer.h>
#include <stdbool.h>

static void gauge(struct evbuffer *out, const char *name, const char *type, const char *help, double value)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, value);
}

static const struct {
    const char *key, *name, *type, *help;
} worker_series[] = {
    {"cpu_queue_len", "iluvatar_queue_length", "gauge", "Invocations waiting in the queue."},
    {"num_running_funcs", "iluvatar_running_invocations", "gauge", "Invocations running on containers."},
    {"used_mem_mb", "iluvatar_used_memory_mb", "gauge", "Memory reserved by containers."},
    {"total_mem_mb", "iluvatar_total_memory_mb", "gauge", "Memory of the container pool."},
    {"num_containers", "iluvatar_containers", "gauge", "Containers starting, idle or busy."},
    {"idle_containers", "iluvatar_idle_containers", "gauge", "Idle (warm) containers."},
    {"invocations", "iluvatar_invocations_total", "counter", "Finished invocations."},
    {"errors", "iluvatar_invocation_errors_total", "counter", "Invocations that did not succeed."},
    {"timeouts", "iluvatar_invocation_timeouts_total", "counter", "Invocations over limits.timeout_sec."},
    {"rejected", "iluvatar_invocations_rejected_total", "counter", "Invocations refused because the queue was full."},
    {"cold_starts", "iluvatar_cold_starts_total", "counter", "Invocations that started a container."},
    {"warm_starts", "iluvatar_warm_starts_total", "counter", "Invocations on a warm container."},
    {"prewarm_starts", "iluvatar_prewarm_starts_total", "counter", "Invocations on a prewarmed container."},
    {"evictions", "iluvatar_evictions_total", "counter", "Idle containers evicted for memory."},
    {"keepalive_removals", "iluvatar_keepalive_removals_total", "counter", "Idle containers removed by keep-alive."},
    {"container_deaths", "iluvatar_container_deaths_total", "counter", "Containers that died on their own."},
    {"sandboxes_ready", "iluvatar_sandboxes_ready", "gauge", "Pre-started generic sandboxes waiting for a function."},
    {"sandboxes_starting", "iluvatar_sandboxes_starting", "gauge", "Generic sandboxes being started."},
    {"sandbox_hits", "iluvatar_sandbox_hits_total", "counter", "Cold starts that took a pre-started sandbox."},
    {"sandbox_misses", "iluvatar_sandbox_misses_total", "counter",
     "Cold starts that could have taken a sandbox but found none ready."},
    {"sandbox_start_failures", "iluvatar_sandbox_start_failures_total", "counter", "Sandboxes that failed to start."},
    {"gpu_count", "iluvatar_gpus", "gauge", "GPUs the worker uses (container_resources.gpu_resource.count)."},
    {"gpu_spots", "iluvatar_gpu_spots", "gauge", "Container spots over every GPU."},
    {"gpu_spots_used", "iluvatar_gpu_spots_used", "gauge", "GPU container spots held by containers."},
    {"gpu_queue_len", "iluvatar_gpu_queue_length", "gauge", "Invocations waiting in the GPU queue."},
};

/* The backend's own figures (backend.h status_json), when it has them. */
static const struct {
    const char *key, *name, *help;
} backend_series[] = {
    {"image_cache_entries", "iluvatar_image_cache_entries", "Unpacked OCI images in the cache."},
    {"image_cache_mb", "iluvatar_image_cache_mb", "Disk held by the unpacked OCI images, MiB."},
};

/* Per GPU (docs/gpu.md "GPU status"): the status's "gpus" objects by key,
 * labelled gpu="<index>"; a measured key only for GPUs that have it, and
 * its family only when some GPU has. */
static const struct {
    const char *key, *name, *help;
} gpu_series[] = {
    {"memory_mb", "iluvatar_gpu_device_memory_mb", "GPU memory the worker accounts, MiB."},
    {"spots", "iluvatar_gpu_device_spots", "Container spots of the GPU."},
    {"spots_used", "iluvatar_gpu_device_spots_used", "Spots of the GPU held by containers."},
    {"tokens", "iluvatar_gpu_device_tokens", "Invocations the GPU runs at once (concurrent_running_funcs)."},
    {"tokens_used", "iluvatar_gpu_device_running_invocations", "Invocations running on the GPU."},
    {"utilization_pct", "iluvatar_gpu_device_utilization_pct", "GPU busy percentage, as measured by the driver."},
    {"memory_used_mb", "iluvatar_gpu_device_memory_used_mb", "GPU memory in use, as measured, MiB."},
    {"memory_total_mb", "iluvatar_gpu_device_memory_total_mb", "GPU memory, as measured, MiB."},
};

static void gpu_metrics(struct evbuffer *out, json_t *gpus)
{
    for (size_t k = 0; k < sizeof gpu_series / sizeof gpu_series[0]; k++) {
        bool head = false;
        size_t i;
        json_t *g;
        json_array_foreach(gpus, i, g)
        {
            json_t *v = json_object_get(g, gpu_series[k].key);
            if (!v)
                continue;
            if (!head)
                evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", gpu_series[k].name, gpu_series[k].help,
                                    gpu_series[k].name);
            head = true;
            evbuffer_add_printf(out, "%s{gpu=\"%lld\"} %.17g\n", gpu_series[k].name,
                                (long long)json_integer_value(json_object_get(g, "index")), json_number_value(v));
        }
    }
}

void ilu_metrics_write(struct evbuffer *out, const struct ilu_worker *w, struct ilu_backend *backend,
                       const struct ilu_host_stats *host)
{
    json_t *status = ilu_worker_status_json(w);
    for (size_t i = 0; i < sizeof worker_series / sizeof worker_series[0]; i++)
        gauge(out, worker_series[i].name, worker_series[i].type, worker_series[i].help,
              json_number_value(json_object_get(status, worker_series[i].key)));
    gpu_metrics(out, json_object_get(status, "gpus"));
    json_decref(status);
    gauge(out, "iluvatar_host_cpu_util_pct", "gauge", "Host CPU busy percentage.", host->cpu_util_pct);
    gauge(out, "iluvatar_host_load_avg_1m", "gauge", "Host 1-minute load average.", host->load_avg_1m);
    if (backend && backend->ops->status_json) {
        json_t *b = json_object();
        backend->ops->status_json(backend, b);
        for (size_t i = 0; i < sizeof backend_series / sizeof backend_series[0]; i++) {
            json_t *v = json_object_get(b, backend_series[i].key);
            if (v)
                gauge(out, backend_series[i].name, "gauge", backend_series[i].help, json_number_value(v));
        }
        json_decref(b);
    }

    json_t *fns = ilu_worker_metrics_json(w);
    static const char *per_fn[][3] = {
        {"invocations", "iluvatar_function_invocations_total", "counter"},
        {"cold", "iluvatar_function_cold_starts_total", "counter"},
        {"warm", "iluvatar_function_warm_starts_total", "counter"},
        {"prewarm", "iluvatar_function_prewarm_starts_total", "counter"},
        {"errors", "iluvatar_function_errors_total", "counter"},
        {"containers", "iluvatar_function_containers", "gauge"},
        {"avg_exec_us", "iluvatar_function_avg_exec_us", "gauge"},
        {"avg_e2e_us", "iluvatar_function_avg_e2e_us", "gauge"},
        {"avg_cold_start_us", "iluvatar_function_avg_cold_start_us", "gauge"},
    };
    for (size_t k = 0; k < sizeof per_fn / sizeof per_fn[0]; k++) {
        evbuffer_add_printf(out, "# TYPE %s %s\n", per_fn[k][1], per_fn[k][2]);
        size_t i;
        json_t *fn;
        json_array_foreach(fns, i, fn)
        {
            evbuffer_add_printf(out, "%s{fqdn=\"%s\"} %.17g\n", per_fn[k][1],
                                json_string_value(json_object_get(fn, "fqdn")),
                                json_number_value(json_object_get(fn, per_fn[k][0])));
        }
    }
    json_decref(fns);
}
