/* The OCI runtime as a process: choosing crun or runc, running it, and the
 * exits of the detached container inits that the reaper (os/spawn.h) hands
 * us as orphans because we are a child subreaper. */
#include "oci_int.h"

#include "os/spawn.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

int oci_status_signal(const struct oci_backend *ob, int status)
{
    if (WIFSIGNALED(status))
        return WTERMSIG(status);
    if (ob->init[0] && WIFEXITED(status) && WEXITSTATUS(status) > 128 && WEXITSTATUS(status) < 128 + NSIG)
        return WEXITSTATUS(status) - 128;
    return 0;
}

void oci_describe_status(int status, char *buf, size_t len)
{
    /* tini exits 128 + n when its child (the agent) died of signal n. */
    if (WIFEXITED(status) && WEXITSTATUS(status) > 128 && WEXITSTATUS(status) < 128 + NSIG) {
        int sig = WEXITSTATUS(status) - 128;
        snprintf(buf, len, "status %d: killed by signal %d (%s)", WEXITSTATUS(status), sig, strsignal(sig));
        return;
    }
    if (WIFEXITED(status))
        snprintf(buf, len, "status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "wait status 0x%x", (unsigned)status);
}

int oci_delete_sync(const char *runtime_path, const char *root, const char *id)
{
    char *argv[] = {(char *)runtime_path, "--root", (char *)root, "delete", "--force", (char *)id, NULL};
    return ilu_os_run_sync(argv, NULL, NULL, NULL);
}

/* ---- reaping ---- */

bool oci_orphan_take(struct oci_backend *ob, pid_t pid, int *status)
{
    for (unsigned i = 0; i < OCI_ORPHANS; i++)
        if (ob->orphans[i].pid == pid && pid > 0) {
            *status = ob->orphans[i].status;
            ob->orphans[i].pid = 0;
            return true;
        }
    return false;
}

void oci_on_orphan(void *arg, pid_t pid, int status)
{
    struct oci_backend *ob = arg;
    struct oci_ct *ct = ob->cts;
    while (ct && !(ct->init_pid == pid && !ct->init_exited))
        ct = ct->next;
    if (ct) {
        ct->init_exited = true;
        ct->init_status = status;
        char how[96], reason[160];
        oci_describe_status(status, how, sizeof how);
        snprintf(reason, sizeof reason, "container exited (%s)", how);
        oci_ct_dead(ct, reason);
        return;
    }
    ob->orphans[ob->orphan_next].pid = pid;
    ob->orphans[ob->orphan_next].status = status;
    ob->orphan_next = (ob->orphan_next + 1) % OCI_ORPHANS;
}

/* ---- choosing the runtime ---- */

bool oci_find_binary(const char *name, char *out, size_t len)
{
    const char *path = getenv("PATH");
    /* sbin too: runc lives in /usr/sbin on Debian and a daemon's PATH may lack it. */
    char buf[4096];
    snprintf(buf, sizeof buf, "%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", path ? path : "");
    char *save = NULL;
    for (char *dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        if (!*dir)
            continue;
        snprintf(out, len, "%s/%s", dir, name);
        if (access(out, X_OK) == 0)
            return true;
    }
    return false;
}

/* crun 1.8.1 refuses hybrid hosts whose cgroup2 mount holds controllers
 * ("cgroups in hybrid mode not supported, drop all controllers from
 * cgroupv2"); runc ignores them. */
static bool crun_refuses_cgroups(char *why, size_t len)
{
    struct statfs fs;
    if (statfs("/sys/fs/cgroup", &fs) != 0 || fs.f_type != TMPFS_MAGIC)
        return false;
    if (statfs("/sys/fs/cgroup/unified", &fs) != 0 || fs.f_type != CGROUP2_SUPER_MAGIC)
        return false;
    char ctl[256] = "";
    FILE *f = fopen("/sys/fs/cgroup/unified/cgroup.controllers", "r");
    if (!f)
        return false;
    if (!fgets(ctl, sizeof ctl, f))
        ctl[0] = '\0';
    fclose(f);
    ctl[strcspn(ctl, "\n")] = '\0';
    if (!ctl[0])
        return false;
    snprintf(why, len, "cgroups are hybrid and /sys/fs/cgroup/unified holds controllers (%s), which crun 1.8 refuses",
             ctl);
    return true;
}

/* Run /usr/bin/true in a throwaway container: the only sure test. */
static bool probe_runtime(struct oci_backend *ob, const char *path, const char *name, char *why, size_t len)
{
    char id[64], dir[PATH_MAX + 80], root[PATH_MAX + 16];
    snprintf(id, sizeof id, "ilu-probe-%d", (int)getpid());
    snprintf(dir, sizeof dir, "%s/%s", ob->containers_dir, id);
    snprintf(root, sizeof root, "%s/runtime/%s", ob->state_dir, name);
    mkdir(root, 0700);
    struct ilu_error err = {0};
    const char *args[] = {"/usr/bin/true", NULL};
    if (oci_write_bundle(ob, dir, id, NULL, NULL, false, 64, 1, args, -1, &err) != 0) {
        snprintf(why, len, "probe bundle: %.400s", err.msg);
        oci_rm_tree(dir);
        return false;
    }
    char *argv[] = {(char *)path, "--root", root, "run", "--bundle", dir, id, NULL};
    char *errout = NULL;
    int st = ilu_os_run_sync(argv, NULL, &errout, &err);
    bool ok = st == 0;
    if (!ok) {
        char how[96];
        oci_describe_status(st, how, sizeof how);
        size_t n = errout ? strlen(errout) : 0;
        while (n && (errout[n - 1] == '\n' || errout[n - 1] == ' '))
            errout[--n] = '\0';
        snprintf(why, len, "a test container failed (%.100s): %.300s", st < 0 ? err.msg : how,
                 errout && *errout ? errout : "no message");
    }
    free(errout);
    oci_delete_sync(path, root, id);
    oci_rm_tree(dir);
    return ok;
}

static void set_runtime(struct oci_backend *ob, const char *name, const char *path)
{
    snprintf(ob->runtime_name, sizeof ob->runtime_name, "%s", name);
    snprintf(ob->runtime_path, sizeof ob->runtime_path, "%s", path);
    snprintf(ob->runtime_root, sizeof ob->runtime_root, "%s/runtime/%s", ob->state_dir, name);
    mkdir(ob->runtime_root, 0700);
}

int oci_choose_runtime(struct oci_backend *ob, const char *mode, const char *path, struct ilu_error *err)
{
    char found[PATH_MAX];
    if (strcmp(mode, "crun") == 0 || strcmp(mode, "runc") == 0) {
        if (path && *path) {
            if (access(path, X_OK) != 0)
                return ilu_err(err, ILU_ST_INTERNAL, "oci_init", "oci.runtime_path %s is not executable: %s", path,
                               strerror(errno));
            snprintf(found, sizeof found, "%s", path);
        } else if (!oci_find_binary(mode, found, sizeof found)) {
            return ilu_err(err, ILU_ST_INTERNAL, "oci_init", "oci.runtime is \"%s\" but %s is not installed", mode,
                           mode);
        }
        set_runtime(ob, mode, found);
        ilu_info(ob->log, "startup", "oci backend: using %s (%s), as configured", mode, found);
        return 0;
    }
    if (strcmp(mode, "auto") != 0)
        return ilu_err(err, ILU_ST_INTERNAL, "oci_init", "oci.runtime \"%s\" is not one of auto, crun, runc", mode);
    if (path && *path)
        ilu_warn(ob->log, "startup", "oci.runtime_path %s ignored: oci.runtime is auto", path);

    char why[480] = "crun is not installed";
    if (oci_find_binary("crun", found, sizeof found)) {
        if (!crun_refuses_cgroups(why, sizeof why) && probe_runtime(ob, found, "crun", why, sizeof why)) {
            set_runtime(ob, "crun", found);
            ilu_info(ob->log, "startup", "oci backend: using crun (%s)", found);
            return 0;
        }
    }
    char runc[PATH_MAX];
    if (!oci_find_binary("runc", runc, sizeof runc))
        return ilu_err(err, ILU_ST_INTERNAL, "oci_init",
                       "no usable OCI runtime: crun cannot run (%s) and runc is not installed", why);
    set_runtime(ob, "runc", runc);
    ilu_info(ob->log, "startup", "oci backend: using runc (%s) because %s", runc, why);
    return 0;
}
