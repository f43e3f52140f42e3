/* Removing what an earlier (crashed) run or this one left behind: runtime
 * state, bundle dirs and cgroups under /<cgroup_parent>. Blocking; used at
 * construction and shutdown only. Every container's mounts are inside its
 * own mount namespace, except a generic sandbox's <bundle>/function (the
 * shared mount point and the function's folder attached on it, bundle.c and
 * sandbox.c), mounted in ours: each bundle dir is unmounted there before it
 * is removed (oci_rm_bundle), or rm would walk into the function's code. */
#include "oci_int.h"

#include "os/spawn.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CGROUP_ROOT "/sys/fs/cgroup"

static bool is_dir(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void kill_cgroup_procs(const char *cg)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/cgroup.procs", cg);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    long pid;
    while (fscanf(f, "%ld", &pid) == 1)
        if (pid > 1 && pid != getpid())
            kill((pid_t)pid, SIGKILL);
    fclose(f);
}

/* rmdir a cgroup and its children; killed tasks take a moment to leave.
 * *removed counts the directories removed. */
static int rmdir_cgroup(const char *cg, bool kill_procs, unsigned *removed)
{
    DIR *d = opendir(cg);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s/%s", cg, e->d_name) < (int)sizeof sub)
            rmdir_cgroup(sub, kill_procs, removed);
    }
    closedir(d);
    if (kill_procs)
        kill_cgroup_procs(cg);
    for (int i = 0; i < 100; i++) {
        if (rmdir(cg) == 0) {
            (*removed)++;
            return 0;
        }
        if (errno == ENOENT)
            return 0;
        if (errno != EBUSY)
            return -1;
        const struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

void oci_clean_cgroups(struct oci_backend *ob, bool kill_procs, const char *tid, struct ilu_clean_report *rep)
{
    DIR *d = opendir(CGROUP_ROOT);
    if (!d)
        return;
    int removed = 0, failed = 0;
    unsigned dirs = 0;
    struct dirent *e;
    char parent[PATH_MAX];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        /* One v1 hierarchy (or the hybrid "unified" cgroup2) per entry. */
        if (snprintf(parent, sizeof parent, "%s/%s/%s", CGROUP_ROOT, e->d_name, ob->cgroup_parent) >=
            (int)sizeof parent)
            continue;
        if (!is_dir(parent))
            continue;
        if (rmdir_cgroup(parent, kill_procs, &dirs) == 0)
            removed++;
        else
            failed++;
    }
    closedir(d);
    /* A pure cgroup2 host: the parent sits right under the root. */
    char probe[PATH_MAX + 16];
    snprintf(parent, sizeof parent, "%s/%s", CGROUP_ROOT, ob->cgroup_parent);
    snprintf(probe, sizeof probe, "%s/cgroup.procs", parent);
    if (access(probe, F_OK) == 0) {
        if (rmdir_cgroup(parent, kill_procs, &dirs) == 0)
            removed++;
        else
            failed++;
    }
    if (removed || failed)
        ilu_info(ob->log, tid, "oci backend: removed /%s cgroups in %d hierarchies%s", ob->cgroup_parent, removed,
                 failed ? " (some are still busy)" : "");
    if (rep) {
        rep->cgroups += dirs;
        rep->failures += (unsigned)failed;
    }
}

static int delete_listed(struct oci_backend *ob, const char *name, const char *tid, struct ilu_clean_report *rep)
{
    char path[PATH_MAX], root[PATH_MAX + 16];
    snprintf(root, sizeof root, "%s/runtime/%s", ob->state_dir, name);
    if (!is_dir(root) || !oci_find_binary(name, path, sizeof path))
        return 0;
    char *argv[] = {path, "--root", root, "list", "-q", NULL};
    char *out = NULL, *errout = NULL;
    int st = ilu_os_run_sync(argv, &out, &errout, NULL);
    if (st != 0)
        ilu_warn(ob->log, tid, "oci backend: %s list failed: %s", name, errout ? errout : "");
    int n = 0;
    char *save = NULL;
    for (char *id = out ? strtok_r(out, "\n", &save) : NULL; id; id = strtok_r(NULL, "\n", &save)) {
        if (!*id)
            continue;
        int rc = oci_delete_sync(path, root, id);
        ilu_info(ob->log, tid, "oci backend: deleted leftover container %s (%s)%s", id, name,
                 rc == 0 ? "" : " - delete failed");
        n++;
        if (rep && rc == 0)
            rep->containers++;
        else if (rep)
            rep->failures++;
    }
    free(out);
    free(errout);
    return n;
}

void oci_clean_leftovers(struct oci_backend *ob, const char *tid, struct ilu_clean_report *rep)
{
    delete_listed(ob, "crun", tid, rep);
    delete_listed(ob, "runc", tid, rep);
    DIR *d = opendir(ob->containers_dir);
    if (d) {
        struct dirent *e;
        int n = 0;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char path[PATH_MAX];
            if (snprintf(path, sizeof path, "%s/%s", ob->containers_dir, e->d_name) >= (int)sizeof path)
                continue;
            if (oci_rm_bundle(path) != 0) {
                ilu_warn(ob->log, tid, "oci backend: cannot remove %s: %s", path, strerror(errno));
                if (rep)
                    rep->failures++;
            } else if (rep) {
                rep->bundles++;
            }
            n++;
        }
        closedir(d);
        if (n)
            ilu_info(ob->log, tid, "oci backend: removed %d leftover bundle dirs from %s", n, ob->containers_dir);
    }
    oci_clean_cgroups(ob, true, tid, rep);
}
