/* The worker core: function registry, invocation queue, container pool with
 * memory accounting and keep-alive, async results. Pure logic: time, timers
 * and logging come from struct ilu_env, containers from struct ilu_backend.
 * The live daemon (src/prog/worker_main.c) and the simulator drive it. */
#ifndef ILU_WORKER_H
#define ILU_WORKER_H

#include <jansson.h>

#include "core/backend.h"
#include "core/config.h"
#include "core/env.h"
#include "core/log.h"
#include "api/registration.h"
#include "core/types.h"

struct ilu_worker;
struct ilu_json_out;

/* struct ilu_register_req and the registration rules: registration.h */

/* Called once when an invocation finishes (success or not). inv is freed
 * right after the callback returns; copy what you keep. */
typedef void (*ilu_invoke_done_fn)(void *arg, struct ilu_invocation *inv);
/* Called once when a prewarm finishes; err NULL on success. */
typedef void (*ilu_prewarm_done_fn)(void *arg, const char *tid, const struct ilu_error *err);

/* cfg is copied. backend is borrowed and must outlive the worker. */
struct ilu_worker *ilu_worker_new(const struct ilu_worker_config *cfg, const struct ilu_env *env,
                                  struct ilu_backend *backend, const struct ilu_log *log, struct ilu_error *err);
/* Free the worker, its functions, queue and pool (containers destroyed). */
void ilu_worker_free(struct ilu_worker *w);

/* Register a function (req checked with src/api rules and the worker's
 * limits); 0, or -1 with err (400 bad, 409 conflicting registration). */
int ilu_worker_register(struct ilu_worker *w, const struct ilu_register_req *req, const char *tid,
                        struct ilu_error *err);

/* The registered function name-version, or NULL. */
struct ilu_function *ilu_worker_function(const struct ilu_worker *w, const char *name, const char *version);
/* The same by fqdn ("name-version"), or NULL. */
struct ilu_function *ilu_worker_function_fqdn(const struct ilu_worker *w, const char *fqdn);

/* Ilúvatar's est_invoke_time (src/worker/est_invoke.c): seconds until an
 * invocation of fn arriving now would complete. The queue's wait (its load,
 * the expected run times summed, divided by min(CPU limit, queue length);
 * 0 while the queue is no longer than the free CPUs) plus fn's own expected
 * run: warm if a warm container is free now, else cold. 0 for a function
 * that never ran, with an empty queue. */
double ilu_worker_est_invoke_time(const struct ilu_worker *w, const struct ilu_function *fn);

/* Queue an invocation. On 0, done is called exactly once later (never
 * from inside this call). On -1, err says why and done is never called. */
int ilu_worker_invoke(struct ilu_worker *w, const char *name, const char *version, const char *args, size_t args_len,
                      const char *tid, ilu_invoke_done_fn done, void *arg, struct ilu_error *err);
/* ilu_worker_invoke with fn already looked up (ilu_worker_function; a
 * registered function lives as long as the worker): for drivers that send
 * many invocations of few functions, the simulator. */
int ilu_worker_invoke_fn(struct ilu_worker *w, struct ilu_function *fn, const char *args, size_t args_len,
                         const char *tid, ilu_invoke_done_fn done, void *arg, struct ilu_error *err);

/* Async invocations (cookies, held results) are a layer above: async.h. */

/* Start one prewarmed container; done is called when it is ready or failed. */
int ilu_worker_prewarm(struct ilu_worker *w, const char *name, const char *version, const char *tid,
                       ilu_prewarm_done_fn done, void *arg, struct ilu_error *err);

/* Remove all idle containers; returns how many. */
unsigned ilu_worker_clean(struct ilu_worker *w, const char *tid);

/* Start rejecting new work with 503 and remove idle containers. */
void ilu_worker_begin_shutdown(struct ilu_worker *w);
/* Invocations queued or running; the daemon waits for 0 before exiting. */
unsigned ilu_worker_outstanding(const struct ilu_worker *w);
/* Generic sandboxes being started (worker/sandbox_pool.h): a simulated run
 * steps until 0 before its trace starts, as a live worker has filled its
 * pool by the time the load generator begins. */
unsigned ilu_worker_sandboxes_starting(const struct ilu_worker *w);

/* The worker's load and counters, as GET /status names them (counters
 * count from the worker's start). */
struct ilu_worker_status {
    uint64_t cpu_queue_len, num_running_funcs, cpus_in_use, cpu_limit, used_mem_mb, total_mem_mb, num_containers,
        idle_containers, starting_containers, invocations, errors, cold_starts, warm_starts, prewarm_starts, evictions,
        keepalive_removals, containers_started;
    /* container_resources.gpu_resource (worker/gpu.h): GPUs in use, their
     * container spots, those held by GPU containers, and invocations waiting
     * in the GPU queue (docs/gpu.md) */
    uint64_t gpu_count, gpu_spots, gpu_spots_used, gpu_queue_len;
};
/* Fills s from w without allocating: for samples taken every simulated second. */
void ilu_worker_status_read(const struct ilu_worker *w, struct ilu_worker_status *s);

/* JSON views for the API. */
json_t *ilu_worker_status_json(const struct ilu_worker *w);  /* queue, running, memory, counters */
json_t *ilu_worker_list_json(const struct ilu_worker *w);    /* registered functions */
json_t *ilu_worker_metrics_json(const struct ilu_worker *w); /* per-function counters */

/* The InvokeResponse of a finished invocation (json_result, success,
 * duration_us, container_state, transaction_id, timings, error). */
json_t *ilu_invocation_result_json(const struct ilu_invocation *inv);
/* The same answer written as compact JSON text into o, byte for byte what
 * json_dumps(ilu_invocation_result_json(inv), JSON_COMPACT) gives, without
 * building the tree (the HTTP answer of every invocation). -1 when out of
 * memory. */
int ilu_invocation_result_write(const struct ilu_invocation *inv, struct ilu_json_out *o);

/* Stage breakdown of a finished invocation (docs/api.md "timings"). */
struct ilu_inv_timings {
    uint64_t queue_us, container_start_us, exec_us, agent_round_trip_us, overhead_us, total_us;
    enum ilu_sandbox_kind sandbox; /* of a cold start; NONE otherwise */
};
/* The invocation's timings, computed from its timestamps. */
void ilu_invocation_timings(const struct ilu_invocation *inv, struct ilu_inv_timings *t);

/* HTTP status an API edge should answer a finished invocation with. */
int ilu_invocation_http_status(const struct ilu_invocation *inv);

/* Name of the system function /health invokes. */
#define ILU_HEALTH_FUNCTION "worker-health-test"
#define ILU_HEALTH_VERSION  "1"

#endif
