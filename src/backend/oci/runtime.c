/* The OCI runtime as a process: choosing crun or runc, spawning it, and
 * reaping every child on SIGCHLD (runtime processes and, because we are a
 * child subreaper, the detached container inits). */
#include "oci_int.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

extern char **environ;

uint64_t oci_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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

static pid_t spawn(char *const argv[], posix_spawn_file_actions_t *fa, int first_closed, struct ilu_error *err)
{
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    /* The worker's sockets must not leak into the runtime or the container. */
    posix_spawn_file_actions_addclosefrom_np(fa, first_closed);
    sigset_t none, defs;
    sigemptyset(&none);
    sigemptyset(&defs);
    int sigs[] = {SIGPIPE, SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&defs, sigs[i]);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defs);
    /* Own session: a Ctrl-C meant for the worker must not reach the
     * containers before the worker removes them in order. */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        ilu_err(err, ILU_ST_INTERNAL, "spawn_failed", "cannot start %s: %s", argv[0], strerror(rc));
        return -1;
    }
    return pid;
}

pid_t oci_spawn(char *const argv[], const char *out_path, const char *err_path, struct ilu_error *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND,
                                     0640);
    posix_spawn_file_actions_addopen(&fa, 2, err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND,
                                     0640);
    return spawn(argv, &fa, 3, err);
}

pid_t oci_spawn_fds(char *const argv[], int out_fd, int err_fd, int pass_fd, struct ilu_error *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    /* The worker's own 0-3 are its stdio and event base, never these, so
     * the dup2s cannot clobber one another. */
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    if (pass_fd >= 0) {
        posix_spawn_file_actions_adddup2(&fa, pass_fd, 3);
        return spawn(argv, &fa, 4, err);
    }
    return spawn(argv, &fa, 3, err);
}

static char *read_memfd(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return NULL;
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        return NULL;
    ssize_t n = pread(fd, buf, (size_t)st.st_size, 0);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

int oci_run_sync(char *const argv[], char **out, char **errout, struct ilu_error *err)
{
    if (out)
        *out = NULL;
    if (errout)
        *errout = NULL;
    /* memfds instead of pipes: nothing to drain while waiting. */
    int ofd = memfd_create("oci-out", MFD_CLOEXEC);
    int efd = memfd_create("oci-err", MFD_CLOEXEC);
    if (ofd < 0 || efd < 0) {
        if (ofd >= 0)
            close(ofd);
        if (efd >= 0)
            close(efd);
        return ilu_err(err, ILU_ST_INTERNAL, "spawn_failed", "memfd_create: %s", strerror(errno));
    }
    /* The child reopens our memfds through /proc before closefrom drops
     * its inherited copies (file actions run in order). */
    char opath[64], epath[64];
    snprintf(opath, sizeof opath, "/proc/self/fd/%d", ofd);
    snprintf(epath, sizeof epath, "/proc/self/fd/%d", efd);
    pid_t pid = oci_spawn(argv, opath, epath, err);
    int status = -1;
    if (pid > 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (out)
            *out = read_memfd(ofd);
        if (errout)
            *errout = read_memfd(efd);
    }
    close(ofd);
    close(efd);
    return pid > 0 ? status : -1;
}

int oci_delete_sync(const char *runtime_path, const char *root, const char *id)
{
    char *argv[] = {(char *)runtime_path, "--root", (char *)root, "delete", "--force", (char *)id, NULL};
    return oci_run_sync(argv, NULL, NULL, NULL);
}

/* ---- reaping ---- */

int oci_watch_child(struct oci_backend *ob, pid_t pid, oci_child_fn done, void *arg)
{
    struct oci_child *ch = calloc(1, sizeof *ch);
    if (!ch)
        return -1;
    ch->pid = pid;
    ch->done = done;
    ch->arg = arg;
    ch->next = ob->children;
    ob->children = ch;
    return 0;
}

void oci_unwatch_child(struct oci_backend *ob, pid_t pid)
{
    for (struct oci_child **pp = &ob->children; *pp; pp = &(*pp)->next)
        if ((*pp)->pid == pid) {
            struct oci_child *ch = *pp;
            *pp = ch->next;
            free(ch);
            return;
        }
}

pid_t oci_child_of(struct oci_backend *ob, void *arg)
{
    for (struct oci_child *ch = ob->children; ch; ch = ch->next)
        if (ch->arg == arg)
            return ch->pid;
    return 0;
}

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

void oci_reap(struct oci_backend *ob)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        struct oci_child **pp = &ob->children;
        while (*pp && (*pp)->pid != pid)
            pp = &(*pp)->next;
        if (*pp) {
            struct oci_child *ch = *pp;
            *pp = ch->next; /* unlinked first: done() may spawn more */
            ch->done(ob, ch->arg, status);
            free(ch);
            continue;
        }
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
            continue;
        }
        ob->orphans[ob->orphan_next].pid = pid;
        ob->orphans[ob->orphan_next].status = status;
        ob->orphan_next = (ob->orphan_next + 1) % OCI_ORPHANS;
    }
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
    oci_reap(arg);
}

int oci_reaper_start(struct oci_backend *ob, struct ilu_error *err)
{
    ob->sigchld = evsignal_new(ob->evb, SIGCHLD, on_sigchld, ob);
    if (!ob->sigchld || event_add(ob->sigchld, NULL) != 0)
        return ilu_err(err, ILU_ST_INTERNAL, "oci_init", "cannot watch SIGCHLD on the event loop");
    return 0;
}

/* ---- choosing the runtime ---- */

bool oci_find_binary(const char *name, char *out, size_t len)
{
    const char *path = getenv("PATH");
    /* sbin too: runc lives in /usr/sbin on Debian and a daemon's PATH may lack it. */
    char buf[4096];
    snprintf(buf, sizeof buf, "%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             path ? path : "");
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
    if (oci_write_bundle(ob, dir, id, NULL, 64, 1, args, &err) != 0) {
        snprintf(why, len, "probe bundle: %.400s", err.msg);
        oci_rm_tree(dir);
        return false;
    }
    char *argv[] = {(char *)path, "--root", root, "run", "--bundle", dir, id, NULL};
    char *errout = NULL;
    int st = oci_run_sync(argv, NULL, &errout, &err);
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
                return ilu_err(err, ILU_ST_INTERNAL, "oci_init", "oci.runtime_path %s is not executable: %s",
                               path, strerror(errno));
            snprintf(found, sizeof found, "%s", path);
        } else if (!oci_find_binary(mode, found, sizeof found)) {
            return ilu_err(err, ILU_ST_INTERNAL, "oci_init", "oci.runtime is \"%s\" but %s is not installed",
                           mode, mode);
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
        return ilu_err(err, ILU_ST_INTERNAL, "oci_init", "no usable OCI runtime: crun cannot run (%s) and runc is not installed",
                       why);
    set_runtime(ob, "runc", runc);
    ilu_info(ob->log, "startup", "oci backend: using runc (%s) because %s", runc, why);
    return 0;
}
