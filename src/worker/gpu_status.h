/* GPU status (docs/gpu.md "GPU status"): per GPU what the worker accounts
 * (memory, spots, running tokens) and what its backend measured (utilisation,
 * memory in use), for /status, /metrics and the "GPU status" log line.
 * Pure: the measurements come through the backend's gpu_sample op, the time
 * from the env; the live daemon starts the periodic update, the simulator
 * never does (its backend measures nothing, and its results must not
 * depend on status). */
#ifndef ILU_WORKER_GPU_STATUS_H
#define ILU_WORKER_GPU_STATUS_H

#include <jansson.h>
#include <stdint.h>

struct ilu_worker;
struct ilu_gpu_status_timer;

/* Ask the backend (gpu_sample) for a measurement of every GPU of w and keep
 * it with the GPU (a GPU it has none for shows its accounted fields only),
 * then log "GPU status" at INFO with every GPU as /status has it, under tid.
 * Returns how many GPUs were measured; 0 without GPUs or without the op. */
unsigned ilu_gpu_status_update(struct ilu_worker *w, const char *tid);

/* The per-GPU objects of /status's "gpus" (new reference; [] without
 * GPUs): index, name, memory_mb, spots, spots_used, tokens, tokens_used,
 * and when measured utilization_pct, memory_used_mb, memory_total_mb and
 * measured_at (Unix seconds). */
json_t *ilu_gpu_status_json(const struct ilu_worker *w);

/* Update at once and then every period_ms on w's env timers, until
 * ilu_gpu_status_stop. NULL (nothing started) when w has no GPUs, its
 * backend measures nothing, or out of memory. The caller stops it before
 * freeing w. */
struct ilu_gpu_status_timer *ilu_gpu_status_start(struct ilu_worker *w, uint32_t period_ms);
/* Cancel the timer and free it; NULL is ignored. */
void ilu_gpu_status_stop(struct ilu_gpu_status_timer *t);

#endif
