/* Spawning with posix_spawn, and the one reaper that dispatches exits by pid. */
#include "spawn.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static pid_t spawn(char *const argv[], posix_spawn_file_actions_t *fa, int first_closed, struct ilu_error *err)
{
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    /* Our sockets must not leak into the child (a runtime, a container). */
    posix_spawn_file_actions_addclosefrom_np(fa, first_closed);
    sigset_t none, defs;
    sigemptyset(&none);
    sigemptyset(&defs);
    int sigs[] = {SIGPIPE, SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&defs, sigs[i]);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defs);
    /* Own session: a Ctrl-C meant for us must not reach the children before
     * we stop them in order. */
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

pid_t ilu_os_spawn(char *const argv[], const char *out_path, const char *err_path, struct ilu_error *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0640);
    posix_spawn_file_actions_addopen(&fa, 2, err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0640);
    return spawn(argv, &fa, 3, err);
}

pid_t ilu_os_spawn_fds(char *const argv[], int out_fd, int err_fd, int pass_fd, struct ilu_error *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    /* Our own 0-3 are stdio and the event base, never these, so the dup2s
     * cannot clobber one another. */
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

int ilu_os_run_sync(char *const argv[], char **out, char **errout, struct ilu_error *err)
{
    if (out)
        *out = NULL;
    if (errout)
        *errout = NULL;
    /* memfds instead of pipes: nothing to drain while waiting. */
    int ofd = memfd_create("ilu-out", MFD_CLOEXEC);
    int efd = memfd_create("ilu-err", MFD_CLOEXEC);
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
    pid_t pid = ilu_os_spawn(argv, opath, epath, err);
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

int ilu_os_become_subreaper(struct ilu_error *err)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
        return ilu_err(err, ILU_ST_INTERNAL, "subreaper", "prctl(PR_SET_CHILD_SUBREAPER): %s", strerror(errno));
    return 0;
}

/* ---- the reaper ---- */

struct reaper_child {
    pid_t pid;
    ilu_reap_fn done;
    void *arg;
    struct reaper_child *next;
};

struct ilu_reaper {
    struct event *sigchld;
    struct reaper_child *children; /* watched pids, newest first */
    ilu_reap_fn orphan_fn;
    void *orphan_arg;
};

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
    ilu_reaper_reap(arg);
}

struct ilu_reaper *ilu_reaper_new(struct event_base *base, struct ilu_error *err)
{
    struct ilu_reaper *r = calloc(1, sizeof *r);
    if (r)
        r->sigchld = evsignal_new(base, SIGCHLD, on_sigchld, r);
    if (!r || !r->sigchld || event_add(r->sigchld, NULL) != 0) {
        ilu_reaper_free(r);
        ilu_err(err, ILU_ST_INTERNAL, "reaper", "cannot watch SIGCHLD on the event loop");
        return NULL;
    }
    return r;
}

void ilu_reaper_free(struct ilu_reaper *r)
{
    if (!r)
        return;
    while (r->children) {
        struct reaper_child *ch = r->children;
        r->children = ch->next;
        free(ch);
    }
    if (r->sigchld)
        event_free(r->sigchld);
    free(r);
}

int ilu_reaper_watch(struct ilu_reaper *r, pid_t pid, ilu_reap_fn done, void *arg)
{
    struct reaper_child *ch = calloc(1, sizeof *ch);
    if (!ch)
        return -1;
    ch->pid = pid;
    ch->done = done;
    ch->arg = arg;
    ch->next = r->children;
    r->children = ch;
    return 0;
}

void ilu_reaper_unwatch(struct ilu_reaper *r, pid_t pid)
{
    for (struct reaper_child **pp = &r->children; *pp; pp = &(*pp)->next)
        if ((*pp)->pid == pid) {
            struct reaper_child *ch = *pp;
            *pp = ch->next;
            free(ch);
            return;
        }
}

pid_t ilu_reaper_pid_of(const struct ilu_reaper *r, const void *arg)
{
    for (const struct reaper_child *ch = r->children; ch; ch = ch->next)
        if (ch->arg == arg)
            return ch->pid;
    return 0;
}

int ilu_reaper_set_orphan_handler(struct ilu_reaper *r, ilu_reap_fn fn, void *arg, struct ilu_error *err)
{
    if (fn && r->orphan_fn && (r->orphan_fn != fn || r->orphan_arg != arg))
        return ilu_err(err, ILU_ST_INTERNAL, "reaper", "the orphan handler is already taken");
    r->orphan_fn = fn;
    r->orphan_arg = fn ? arg : NULL;
    return 0;
}

void ilu_reaper_reap(struct ilu_reaper *r)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        struct reaper_child **pp = &r->children;
        while (*pp && (*pp)->pid != pid)
            pp = &(*pp)->next;
        if (*pp) {
            struct reaper_child *ch = *pp;
            *pp = ch->next; /* unlinked first: done() may spawn and watch more */
            ch->done(ch->arg, pid, status);
            free(ch);
        } else if (r->orphan_fn) {
            r->orphan_fn(r->orphan_arg, pid, status);
        }
    }
}
