/* GPU status for the core (backend.h gpu_sample, docs/gpu.md "GPU status"):
 * NVML kept open and read on each call (a few library calls), else
 * nvidia-smi's CSV, run in the background through the reaper at most
 * every OCI_GPU_SMI_PERIOD_US (a fork and the driver's query take tens of
 * milliseconds: not on the event loop, not every tick). */
#include "oci_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "os/clock.h"
#include "os/file.h"
#include "os/spawn.h"

#define OCI_GPU_SMI_PERIOD_US (10 * 1000000ull)

void oci_gpu_status_setup(struct oci_backend *ob, const struct ilu_gpu_resource_config *want)
{
    struct oci_gpu *g = &ob->gpu;
    char nvml_why[480], smi_why[480];
    oci_gpu_status_stop(ob);
    if ((g->sampler = ilu_os_gpu_sampler_open(want->driver_lib_dir, nvml_why, sizeof nvml_why))) {
        ilu_info(ob->log, "startup", "oci backend: GPU status from NVML");
        return;
    }
    if (ob->reaper &&
        ilu_os_gpu_find_tool("nvidia-smi", want->driver_lib_dir, g->smi, sizeof g->smi, smi_why, sizeof smi_why) == 0) {
        ilu_info(ob->log, "startup", "oci backend: GPU status from %s, every %llu s at most (%s)", g->smi,
                 (unsigned long long)(OCI_GPU_SMI_PERIOD_US / 1000000), nvml_why);
        return;
    }
    g->smi[0] = 0;
    ilu_warn(ob->log, "startup",
             "oci backend: GPUs are not measured (GPU status has the accounted fields only): %s; %s", nvml_why,
             ob->reaper ? smi_why : "no process reaper for nvidia-smi");
}

static void smi_path(const struct oci_backend *ob, char *out, size_t len)
{
    snprintf(out, len, "%s/gpu-status.csv", ob->state_dir);
}

static void on_smi_exit(void *arg, pid_t pid, int status)
{
    struct oci_backend *ob = arg;
    struct oci_gpu *g = &ob->gpu;
    (void)pid;
    g->smi_pid = 0;
    char path[PATH_MAX], why[480] = "";
    smi_path(ob, path, sizeof path);
    struct ilu_error err = {0};
    char *csv = NULL;
    int n = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        snprintf(why, sizeof why, "%s failed (status %d)", g->smi,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
    else if (!(csv = ilu_read_file(path, &err)))
        snprintf(why, sizeof why, "%s", err.msg);
    else
        n = ilu_os_gpu_parse_smi_sample(csv, g->smi_last, ILU_GPU_MAX, why, sizeof why);
    free(csv);
    unlink(path);
    g->smi_n = n > 0 ? (unsigned)n : 0;
    uint64_t now = ilu_os_wall_us();
    for (unsigned i = 0; i < g->smi_n; i++)
        g->smi_last[i].wall_us = now;
    if (n < 0 && !g->sample_warned) {
        g->sample_warned = true;
        ilu_warn(ob->log, "gpu_status", "oci backend: GPU status: %s (logged once)", why);
    }
}

/* Start nvidia-smi when none runs and the last started long enough ago. */
static void smi_refresh(struct oci_backend *ob)
{
    struct oci_gpu *g = &ob->gpu;
    uint64_t now = ilu_os_mono_us();
    if (g->smi_pid || (g->smi_started_us && now - g->smi_started_us < OCI_GPU_SMI_PERIOD_US))
        return;
    g->smi_started_us = now;
    char path[PATH_MAX];
    smi_path(ob, path, sizeof path);
    unlink(path); /* the spawn appends */
    char *argv[4] = {g->smi, (char *)ilu_os_gpu_smi_sample_args[0], (char *)ilu_os_gpu_smi_sample_args[1], NULL};
    struct ilu_error err = {0};
    pid_t pid = ilu_os_spawn(argv, path, NULL, &err);
    if (pid > 0 && ilu_reaper_watch(ob->reaper, pid, on_smi_exit, ob) == 0) {
        g->smi_pid = pid;
        return;
    }
    if (pid > 0) { /* out of memory: not watched, so wait for it here */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    if (!g->sample_warned) {
        g->sample_warned = true;
        ilu_warn(ob->log, "gpu_status", "oci backend: GPU status: %s could not run: %s (logged once)", g->smi,
                 pid > 0 ? "out of memory" : err.msg);
    }
}

int oci_gpu_sample(struct ilu_backend *b, uint32_t index, struct ilu_gpu_sample *out)
{
    struct oci_backend *ob = b->priv;
    struct oci_gpu *g = &ob->gpu;
    if (g->sampler) {
        char why[256];
        if (ilu_os_gpu_sampler_read(g->sampler, index, out, why, sizeof why) == 0)
            return 0;
        if (!g->sample_warned) {
            g->sample_warned = true;
            ilu_warn(ob->log, "gpu_status", "oci backend: GPU status: NVML: %s (logged once)", why);
        }
        return -1;
    }
    if (!g->smi[0])
        return -1;
    smi_refresh(ob);
    if (index >= g->smi_n)
        return -1;
    *out = g->smi_last[index];
    return 0;
}

void oci_gpu_status_stop(struct oci_backend *ob)
{
    struct oci_gpu *g = &ob->gpu;
    ilu_os_gpu_sampler_close(g->sampler);
    g->sampler = NULL;
    if (g->smi_pid > 0) {
        ilu_reaper_unwatch(ob->reaper, g->smi_pid);
        kill(g->smi_pid, SIGKILL);
        waitpid(g->smi_pid, NULL, 0);
        char path[PATH_MAX];
        smi_path(ob, path, sizeof path);
        unlink(path);
    }
    g->smi_pid = 0;
    g->smi[0] = 0;
    g->smi_n = 0;
    g->smi_started_us = 0;
}
