/* The host's NVIDIA GPUs: how many, their names and memory. Through NVML,
 * loaded at run time (dlopen of the driver's libnvidia-ml.so.1: the project
 * builds and runs without a GPU, a driver or the CUDA toolkit), else
 * `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`.
 * Blocking (a library call or one short process): for start-up only. */
#ifndef ILU_OS_GPU_H
#define ILU_OS_GPU_H

#include "core/gpu_device.h"

/* Fill found with the host's GPUs, in the driver's index order (at most
 * ILU_GPU_MAX). NVML is tried first: <driver_lib_dir>/libnvidia-ml.so.1
 * when driver_lib_dir is set, then the loader's search path; then
 * nvidia-smi on PATH, in /usr/bin and in /usr/local/nvidia/bin. Returns
 * found->n; found->source says which answered, or with 0 what was looked
 * for and why each failed. Never fails otherwise. */
size_t ilu_os_gpu_discover(const char *driver_lib_dir, struct ilu_gpu_found *found);

/* Where one found GPU is on the host, for giving it to a container. */
struct ilu_os_gpu_node {
    int minor;     /* its device node /dev/nvidia<minor>; from NVML, else (nvidia-smi) its index */
    char uuid[96]; /* "GPU-8f1e...", from NVML; "" unknown */
};

/* ilu_os_gpu_discover, and per GPU found (nodes: ILU_GPU_MAX entries, same
 * order as found->dev) its device minor and UUID. */
size_t ilu_os_gpu_discover_nodes(const char *driver_lib_dir, struct ilu_gpu_found *found,
                                 struct ilu_os_gpu_node *nodes);

/* An NVIDIA tool (nvidia-smi, nvidia-cuda-mps-control) into out: first in
 * <driver_lib_dir>/../bin when driver_lib_dir is set, then on PATH, in
 * /usr/bin and in /usr/local/nvidia/bin. 0 when found (executable); -1
 * with looked naming those places. */
int ilu_os_gpu_find_tool(const char *name, const char *driver_lib_dir, char *out, size_t len, char *looked,
                         size_t looked_len);

/* Parse nvidia-smi's "name, memory.total" CSV lines (no header, no units;
 * memory in MiB) into found->dev, appending after found->n. Returns how
 * many lines it took, or -1 at the first line that does not parse (why
 * names it, found->n then counts the lines before it). */
int ilu_os_gpu_parse_smi(const char *csv, struct ilu_gpu_found *found, char *why, size_t why_len);

/* GPU status (docs/gpu.md "GPU status"): NVML opened once and kept, so
 * each sample is a few library calls (microseconds), cheap enough for the
 * event loop. */
struct ilu_os_gpu_sampler;

/* Open NVML as discovery does (<driver_lib_dir>/libnvidia-ml.so.1, then the
 * loader's path) and initialise it; NULL with why when it cannot (no NVML,
 * or one without nvmlDeviceGetUtilizationRates). */
struct ilu_os_gpu_sampler *ilu_os_gpu_sampler_open(const char *driver_lib_dir, char *why, size_t why_len);
/* Read GPU index (NVML's index, the order discovery found them in): its
 * utilisation, memory used and total, and out->wall_us now. 0, or -1 with
 * why when NVML refuses. */
int ilu_os_gpu_sampler_read(struct ilu_os_gpu_sampler *s, unsigned index, struct ilu_gpu_sample *out, char *why,
                            size_t why_len);
/* Shut NVML down and unload it; NULL is ignored. */
void ilu_os_gpu_sampler_close(struct ilu_os_gpu_sampler *s);

/* nvidia-smi's arguments for a sample of every GPU (NULL-terminated, after
 * the program): --query-gpu=utilization.gpu,memory.used,memory.total
 * --format=csv,noheader,nounits. */
extern const char *const ilu_os_gpu_smi_sample_args[];
/* Parse those CSV lines ("37, 1024, 143771" per GPU, in index order) into
 * out[0..max). Returns how many GPUs it took, or -1 at the first line that
 * does not parse (why names it; "[N/A]", which a GPU that cannot
 * report a field prints, is such a line). wall_us is left 0. */
int ilu_os_gpu_parse_smi_sample(const char *csv, struct ilu_gpu_sample *out, size_t max, char *why, size_t why_len);

#endif
