/* bench_worker: the by-hand side of the cold phase. A copy of a
 * worker-made bundle started with the same OCI runtime under the
 * benchmark's own root, timed from the spawn to the agent's first answer,
 * and removed again on any exit (die, SIGINT, SIGTERM, atexit). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_worker.h"

char hand_root[PATH_MAX];       /* own runtime root + bundles: /tmp/ilu-bench-XXXXXX */
static char hand_id[96];        /* container currently alive, "" if none */
static char hand_dir[PATH_MAX]; /* its bundle */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (flag == FTW_DP ? rmdir : unlink)(path);
    return 0;
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* fork/exec argv, stdio to /dev/null or the given files; returns the pid. */
/* pass_fd >= 0 becomes the child's descriptor 3 (runc --preserve-fds 1). */
static pid_t spawn_pass(char *const argv[], const char *out, const char *err, int pass_fd)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    setsid();
    int in = open("/dev/null", O_RDONLY);
    int o = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0640);
    int e = open(err ? err : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0640);
    if (in < 0 || o < 0 || e < 0)
        _exit(126);
    dup2(in, 0);
    dup2(o, 1);
    dup2(e, 2);
    if (pass_fd >= 0 && dup2(pass_fd, 3) != 3)
        _exit(126);
    for (int fd = pass_fd >= 0 ? 4 : 3; fd < 1024; fd++)
        close(fd);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(argv[0], argv);
    _exit(127);
}

static pid_t spawn(char *const argv[], const char *out, const char *err)
{
    return spawn_pass(argv, out, err, -1);
}

static int wait_status(pid_t pid)
{
    int st = -1;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return st;
}

static void reap_orphans(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

char hand_rootdir[PATH_MAX + 16];

void hand_delete(void)
{
    if (hand_id[0]) {
        char *argv[] = {opt.runtime_path, "--root", hand_rootdir, "delete", "--force", hand_id, NULL};
        pid_t p = spawn(argv, NULL, NULL);
        if (p > 0)
            wait_status(p);
        hand_id[0] = '\0';
        reap_orphans(); /* the container's init, reparented to us (subreaper) */
    }
    if (hand_dir[0]) {
        rm_tree(hand_dir);
        hand_dir[0] = '\0';
    }
}

void cleanup_all(void)
{
    hand_delete();
    if (hand_root[0]) {
        rm_tree(hand_root);
        hand_root[0] = '\0';
    }
}

void on_signal(int sig)
{
    cleanup_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

json_t *template_cfg; /* a worker-made config.json */

void load_template(struct http *ctl)
{
    char ids[1][96];
    if (list_containers(ids, 1) < 1) {
        if (http_req(ctl, "/invoke", invoke_body) != 200)
            die("invoke: %s", body_of(ctl));
        if (list_containers(ids, 1) < 1)
            die("no worker-made bundle to copy under %s/containers", opt.state_dir);
    }
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/containers/%s/config.json", opt.state_dir, ids[0]);
    json_error_t je;
    template_cfg = json_load_file(path, 0, &je);
    if (!template_cfg)
        die("cannot read %s: %s", path, je.text);
}

/* Write <dir>/config.json: the worker's, with our own cgroup (the agent's
 * socket is handed over as descriptor 3, as the worker does). */
static void write_hand_bundle(const char *dir, const char *id)
{
    char sockets[PATH_MAX + 16], cfgpath[PATH_MAX + 16];
    snprintf(sockets, sizeof sockets, "%s/sockets", dir);
    snprintf(cfgpath, sizeof cfgpath, "%s/config.json", dir);
    if (mkdir(dir, 0700) != 0 || mkdir(sockets, 0700) != 0)
        die("mkdir %s: %s", sockets, strerror(errno));
    json_t *cfg = json_deep_copy(template_cfg);
    json_t *lin = json_object_get(cfg, "linux");
    const char *cg = json_string_value(json_object_get(lin, "cgroupsPath"));
    char parent[256] = "";
    if (cg) {
        snprintf(parent, sizeof parent, "%s", cg);
        char *slash = strrchr(parent, '/');
        if (slash)
            *slash = '\0';
    }
    char newcg[400];
    snprintf(newcg, sizeof newcg, "%s/%s", parent, id);
    json_object_set_new(lin, "cgroupsPath", json_string(newcg));
    if (json_dump_file(cfg, cfgpath, JSON_COMPACT) != 0)
        die("cannot write %s", cfgpath);
    json_decref(cfg);
}

/* Start a container by hand; returns spawn -> first answer in ns, or 0. */
uint64_t hand_cold_once(int k)
{
    snprintf(hand_id, sizeof hand_id, "bench-hand-%d-%d", (int)getpid(), k);
    snprintf(hand_dir, sizeof hand_dir, "%s/%s", hand_root, hand_id);
    write_hand_bundle(hand_dir, hand_id);
    char pidf[PATH_MAX + 16], outf[PATH_MAX + 16], errf[PATH_MAX + 16];
    snprintf(pidf, sizeof pidf, "%s/pid", hand_dir);
    snprintf(outf, sizeof outf, "%s/stdout.log", hand_dir);
    snprintf(errf, sizeof errf, "%s/stderr.log", hand_dir);
    char *argv[] = {
        opt.runtime_path, "--root",     hand_rootdir, "run",   "--detach", "--preserve-fds", "1", "--bundle",
        hand_dir,         "--pid-file", pidf,         hand_id, NULL};
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s/sockets/sock", hand_dir) >= sizeof sa.sun_path)
        die("socket path too long under %s", hand_dir);

    uint64_t t0 = now_ns();
    /* As the worker does: listen first, hand the socket over, connect at
     * once; the agent answers once it has imported the function. */
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 16) != 0)
        die("listen on %s: %s", sa.sun_path, strerror(errno));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("connect to %s: %s", sa.sun_path, strerror(errno));
    pid_t pid = spawn_pass(argv, outf, errf, lfd);
    close(lfd);
    if (pid < 0)
        die("fork: %s", strerror(errno));
    int st = wait_status(pid);
    if (st != 0) {
        char cmd[PATH_MAX + 32];
        snprintf(cmd, sizeof cmd, "tail -c 600 '%s' >&2", errf);
        fprintf(stderr, "bench_worker: %s run failed (status 0x%x):\n", opt.runtime_path, (unsigned)st);
        if (system(cmd) != 0) {
        }
        close(fd);
        return 0;
    }
    char reply[4096];
    int rc = agent_invoke(fd, reply, sizeof reply);
    uint64_t t1 = now_ns();
    close(fd);
    if (rc != 0) {
        fprintf(stderr, "bench_worker: the agent of %s failed: %.300s\n", hand_id, reply);
        return 0;
    }
    return t1 - t0;
}
