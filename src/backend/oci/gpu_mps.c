/* MPS (container_resources.gpu_resource.use_standalone_mps): one control
 * daemon for the worker, `nvidia-cuda-mps-control -d`, with its pipe and
 * log folders under the backend's state folder; GPU containers get the
 * pipe folder (gpu_bundle.c). Stopped with `quit` at shutdown. */
#include "oci_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "os/spawn.h"

#define MPS_TOOL "nvidia-cuda-mps-control"
#define TIMEOUT  "/usr/bin/timeout"

/* `echo quit | nvidia-cuda-mps-control`, at most 10 s when timeout(1) is
 * there; returns its status (-1: could not run). */
static int mps_quit(struct oci_backend *ob, char **out)
{
    char pipe_env[300], log_env[300];
    snprintf(pipe_env, sizeof pipe_env, "CUDA_MPS_PIPE_DIRECTORY=%s", ob->gpu.mps_pipe_dir);
    snprintf(log_env, sizeof log_env, "CUDA_MPS_LOG_DIRECTORY=%s", ob->gpu.mps_log_dir);
    char *argv[] = {
        TIMEOUT, "10", "/usr/bin/env", pipe_env, log_env, "/bin/sh", "-c", "echo quit | \"$0\"", ob->gpu.mps_control,
        NULL};
    char **run = access(TIMEOUT, X_OK) == 0 ? argv : argv + 2;
    struct ilu_error err = {0};
    return ilu_os_run_sync(run, out, NULL, &err);
}

int oci_mps_start(struct oci_backend *ob, const char *driver_lib_dir, struct ilu_error *err)
{
    struct oci_gpu *g = &ob->gpu;
    char looked[600];
    if (ilu_os_gpu_find_tool(MPS_TOOL, driver_lib_dir, g->mps_control, sizeof g->mps_control, looked, sizeof looked))
        return ilu_err(err, ILU_ST_INTERNAL, "gpu",
                       "container_resources.gpu_resource.use_standalone_mps needs the MPS control daemon: %s", looked);
    snprintf(g->mps_pipe_dir, sizeof g->mps_pipe_dir, "%s/mps/pipe", ob->state_dir);
    snprintf(g->mps_log_dir, sizeof g->mps_log_dir, "%s/mps/log", ob->state_dir);
    /* the containers' root may be an unprivileged id: it passes through */
    if (oci_mkdir_p(g->mps_pipe_dir, 0755) != 0 || oci_mkdir_p(g->mps_log_dir, 0755) != 0)
        return ilu_err(err, ILU_ST_INTERNAL, "gpu", "cannot create the MPS folders under %s/mps: %s", ob->state_dir,
                       strerror(errno));
    /* a daemon an earlier run left on these pipes would refuse -d */
    mps_quit(ob, NULL);
    char pipe_env[300], log_env[300], out_path[300];
    snprintf(pipe_env, sizeof pipe_env, "CUDA_MPS_PIPE_DIRECTORY=%s", g->mps_pipe_dir);
    snprintf(log_env, sizeof log_env, "CUDA_MPS_LOG_DIRECTORY=%s", g->mps_log_dir);
    snprintf(out_path, sizeof out_path, "%s/start.out", g->mps_log_dir);
    unlink(out_path);
    char *argv[] = {"/usr/bin/env", pipe_env, log_env, g->mps_control, "-d", NULL};
    /* to files, not pipes: the daemon it forks keeps them open */
    pid_t pid = ilu_os_spawn(argv, out_path, out_path, err);
    if (pid < 0)
        return ilu_err_wrap(err, "starting %s -d", g->mps_control);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char tail[400];
        oci_file_tail(out_path, tail, sizeof tail);
        return ilu_err(err, ILU_ST_INTERNAL, "gpu", "%s -d failed (status %d): %s", g->mps_control,
                       WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status), tail[0] ? tail : "no output");
    }
    g->mps_running = true;
    ilu_info(ob->log, "startup", "oci backend: MPS control daemon %s started, pipes %s, logs %s", g->mps_control,
             g->mps_pipe_dir, g->mps_log_dir);
    return 0;
}

void oci_mps_stop(struct oci_backend *ob)
{
    char *out = NULL;
    int status = mps_quit(ob, &out);
    ob->gpu.mps_running = false;
    if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        ilu_warn(ob->log, "shutdown", "oci backend: `quit` to the MPS control daemon failed (status %d): %.200s",
                 status < 0          ? -1
                 : WIFEXITED(status) ? WEXITSTATUS(status)
                                     : -WTERMSIG(status),
                 out ? out : "");
    else
        ilu_info(ob->log, "shutdown", "oci backend: MPS control daemon stopped");
    free(out);
}
