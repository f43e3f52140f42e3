/* GPUs as the world gives them to the core: what a backend found on its
 * host (src/os/gpu.h looks with NVML or nvidia-smi) or simulates from
 * container_resources.gpu_resource. Types only; the worker's accounting of
 * them is worker/gpu.h. */
#ifndef ILU_GPU_DEVICE_H
#define ILU_GPU_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct ilu_gpu_device {
    char name[96];      /* "NVIDIA H200", "simulated GPU 0" */
    uint32_t memory_mb; /* its memory; 0: unknown */
};

/* One GPU as its backend last measured it, for GPU status (docs/gpu.md
 * "GPU status"): a live backend reads NVML or nvidia-smi. */
struct ilu_gpu_sample {
    double utilization_pct;   /* busy share of the driver's last sampling period, 0..100 */
    uint32_t memory_used_mb;  /* in use on the device, by anything */
    uint32_t memory_total_mb; /* the device's own */
    uint64_t wall_us;         /* when it was read, microseconds since the Unix epoch; 0: now */
};

/* The GPUs found, in the host's index order. */
struct ilu_gpu_found {
    struct ilu_gpu_device dev[ILU_GPU_MAX];
    size_t n;
    /* How they were found ("NVML", "nvidia-smi", "simulated"), or with n 0
     * what was looked for and why nothing came of it, for the error that
     * refuses a worker asking for GPUs. */
    char source[1024];
};

#endif
