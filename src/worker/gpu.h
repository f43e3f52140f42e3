/* The worker's GPUs (Ilúvatar's GpuResourceTracker, docs/gpu.md): per
 * device its memory, its container "spots" and its tokens for running
 * functions. A container that runs on a GPU holds one spot for its life; an
 * invocation running on it holds one token of that GPU while it runs.
 * Pure accounting: the devices come from the backend (found on the host or
 * simulated), and nothing here starts or stops anything.
 *
 * The worker's GPU dispatch (gpu_dispatch.c, docs/gpu.md "Dispatch") takes a
 * spot per GPU container and a token per running GPU invocation. */
#ifndef ILU_WORKER_GPU_H
#define ILU_WORKER_GPU_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "core/gpu_device.h"

struct ilu_gpu {
    char name[96];
    uint32_t memory_mb;      /* accounted: gpu_resource.memory_mb, else the device's */
    uint32_t spots;          /* containers it holds at once */
    uint32_t spot_memory_mb; /* each spot's share of memory_mb */
    uint32_t spots_used;
    uint32_t tokens; /* invocations running at once (concurrent_running_funcs) */
    uint32_t tokens_used;
    const void **holder; /* per spot: who holds it; NULL: free */
    /* the backend's last measurement (worker/gpu_status.h); measured false:
     * none, /status shows the accounted fields only */
    bool measured;
    struct ilu_gpu_sample sample;
};

struct ilu_gpus {
    struct ilu_gpu *dev; /* n of them, the host's first n, in its index order */
    uint32_t n;
    uint32_t spots, spots_used; /* over every GPU */
};

/* A spot: the GPU's index in struct ilu_gpus and the spot's on that GPU. */
struct ilu_gpu_spot {
    uint32_t device, index;
};

/* Take cfg->count of the found GPUs (none with count 0, whatever was
 * found). Each gets cfg->memory_mb (0: the device's; more than the device
 * has is refused) and is split into spots as Ilúvatar splits it:
 * funcs_per_device, else memory / per_func_memory_mb, else one; tokens are
 * concurrent_running_funcs, else its spots. -1 with a 400 bad_config naming
 * the key when count exceeds what was found (with found->source: what was
 * looked for), a GPU makes no spot or more than ILU_GPU_SPOTS_MAX, or the
 * tokens exceed the spots. g is empty on failure. */
int ilu_gpus_init(struct ilu_gpus *g, const struct ilu_gpu_resource_config *cfg, const struct ilu_gpu_found *found,
                  struct ilu_error *err);
/* Free what init allocated; g is empty after. */
void ilu_gpus_destroy(struct ilu_gpus *g);

/* Give holder (a container; borrowed, only compared) a spot on the least
 * loaded GPU: the most free spots, ties to the lowest index; on it the
 * lowest free spot. -1 when every spot is taken. */
int ilu_gpus_assign(struct ilu_gpus *g, const void *holder, struct ilu_gpu_spot *out);
/* The GPU ilu_gpus_assign would choose now, or -1 when every spot is taken. */
int ilu_gpus_pick(const struct ilu_gpus *g);
/* Give holder the lowest free spot of GPU device; -1 when it has none. */
int ilu_gpus_assign_device(struct ilu_gpus *g, uint32_t device, const void *holder, struct ilu_gpu_spot *out);
/* Tokens of GPU device free now (0 for a device it does not have). */
uint32_t ilu_gpus_tokens_free(const struct ilu_gpus *g, uint32_t device);
/* Give spot back; -1 (and nothing changes) when holder does not hold it. */
int ilu_gpus_release(struct ilu_gpus *g, const void *holder, struct ilu_gpu_spot spot);

/* Take a running token of GPU device, or with device -1 of the least loaded
 * GPU (the most free tokens, ties to the lowest index); *out is the GPU.
 * -1 when that GPU (or every GPU) has none free. */
int ilu_gpus_token_take(struct ilu_gpus *g, int device, uint32_t *out);
/* Give a token of GPU device back; -1 when it had none out. */
int ilu_gpus_token_return(struct ilu_gpus *g, uint32_t device);
/* Tokens out over every GPU: invocations running on GPUs. */
uint32_t ilu_gpus_tokens_used(const struct ilu_gpus *g);

#endif
