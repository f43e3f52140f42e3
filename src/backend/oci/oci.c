/* The oci backend's ops table and container life cycle:
 *   create:  write bundle -> `runtime run --detach` -> read pid file ->
 *            connect to the agent socket -> events.ready
 *            (a generic sandbox: the same with no function, its agent
 *            ready at once; assign gives it one later, sandbox.c)
 *   invoke:  agent_client.c
 *   death:   init reaped (we are its subreaper) or socket EOF -> one callback
 *   destroy: close, `runtime delete --force`, rm -r the bundle, free. */
#include "oci_int.h"

#include "os/data_dir.h"

#include "api/registration.h"

#include "os/clock.h"
#include "os/gpu.h"
#include "os/spawn.h"

#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct ilu_backend_ops oci_ops;

static struct oci_backend *backend_of(struct ilu_backend *b)
{
    return b->priv;
}

/* ---- image check ---- */

int oci_resolve_in_roots(const struct oci_backend *ob, const char *image, const char *path, char *resolved,
                         struct ilu_error *err)
{
    if (!realpath(path, resolved))
        return path == image
                   ? ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image", "image %s: %s", image, strerror(errno))
                   : ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image", "image %s: %s: %s", image, path, strerror(errno));
    for (unsigned i = 0; i < ob->n_fn_roots; i++) {
        size_t n = strlen(ob->fn_roots[i]);
        if (strncmp(resolved, ob->fn_roots[i], n) == 0 && (resolved[n] == '/' || resolved[n] == '\0'))
            return 0;
    }
    return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image", "image %s (%s) is not under any of functions_dirs (%s)", image,
                   resolved, ob->fn_roots_text);
}

/* A function folder must resolve (symlinks and all) under one of the
 * configured roots: any other host folder holding a main.py would otherwise
 * be mounted into a container. resolved gets the real path, which is what
 * is mounted, so a symlink swapped later cannot redirect the mount. */
int oci_resolve_image(struct oci_backend *ob, const char *image, char *resolved, struct ilu_error *err)
{
    if (!image || image[0] != '/')
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image",
                       "image \"%s\" must be the absolute path of a function folder", image ? image : "");
    if (oci_resolve_in_roots(ob, image, image, resolved, err))
        return -1;
    struct stat st;
    if (stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode))
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image", "image %s is not a directory", image);
    char main_py[PATH_MAX + 16];
    snprintf(main_py, sizeof main_py, "%s/main.py", resolved);
    if (access(main_py, R_OK) != 0)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image", "image %s has no readable main.py: %s", image,
                       strerror(errno));
    /* In a user namespace the function runs as an unmapped stranger to the
     * host's files: it reads only what everyone may read. */
    struct stat mst;
    if (ob->userns && (stat(main_py, &mst) != 0 || !(mst.st_mode & S_IROTH) ||
                       (st.st_mode & (S_IROTH | S_IXOTH)) != (S_IROTH | S_IXOTH)))
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image",
                       "image %s is not readable by the container's unprivileged user (folder mode %03o, main.py "
                       "mode %03o): make it world-readable",
                       image, (unsigned)(st.st_mode & 0777), (unsigned)(mst.st_mode & 0777));
    return 0;
}

/* Every folder above path must let others pass, or a container whose root
 * is an unprivileged host id cannot reach it. */
static int check_reachable(const char *what, const char *path, struct ilu_error *err)
{
    char buf[PATH_MAX];
    if (!realpath(path, buf))
        return ilu_err(err, ILU_ST_INTERNAL, "oci_init", "%s %s: %s", what, path, strerror(errno));
    for (char *slash = strrchr(buf, '/'); slash; slash = strrchr(buf, '/')) {
        struct stat st;
        if (stat(buf, &st) == 0 && !(st.st_mode & S_IXOTH))
            return ilu_err(err, ILU_ST_INTERNAL, "oci_init",
                           "%s %s is out of reach of user-namespaced containers: %s has mode %03o (run chmod o+x "
                           "on it, or set oci.user_namespace to false)",
                           what, path, buf, (unsigned)(st.st_mode & 0777));
        *slash = '\0';
    }
    return 0;
}

static int oci_check_image(struct ilu_backend *b, const char *image, struct ilu_error *err)
{
    char resolved[PATH_MAX];
    if (ilu_image_is_reference(image)) {
        const struct oci_image *img = oci_image_find(b->priv, image);
        if (!img || !img->ready)
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image",
                           "image %s is not prepared (register it through the worker's API, which unpacks it first)",
                           image);
        return 0;
    }
    return oci_resolve_image(b->priv, image, resolved, err);
}

static int oci_prepare_image(struct ilu_backend *b, const char *image, const char *tid,
                             void (*done)(void *arg, const struct ilu_error *err), void *arg, struct ilu_error *err)
{
    if (!ilu_image_is_reference(image))
        return 1;
    return oci_image_prepare(b->priv, image, tid, done, arg, err);
}

/* functions_dirs: ':'-separated; empty means the bundled functions/ beside
 * the binary plus <state_dir>/functions, an area only the worker's owner
 * can write. Roots that do not exist are skipped with a warning. */
static int set_function_roots(struct oci_backend *ob, const char *setting, struct ilu_error *err)
{
    char list[2 * PATH_MAX + 8];
    if (setting && *setting) {
        snprintf(list, sizeof list, "%s", setting);
    } else {
        char shipped[PATH_MAX];
        ilu_os_data_path("functions", shipped, sizeof shipped);
        char upload[PATH_MAX];
        snprintf(upload, sizeof upload, "%s/functions", ob->state_dir);
        oci_mkdir_p(upload, 0755);
        snprintf(list, sizeof list, "%s:%s", shipped, upload);
    }
    ob->fn_roots_text[0] = '\0';
    char *save = NULL;
    for (char *dir = strtok_r(list, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        if (ob->n_fn_roots == sizeof ob->fn_roots / sizeof ob->fn_roots[0])
            return ilu_err(err, ILU_ST_INTERNAL, "config", "functions_dirs lists more than %zu folders",
                           sizeof ob->fn_roots / sizeof ob->fn_roots[0]);
        if (dir[0] != '/')
            return ilu_err(err, ILU_ST_INTERNAL, "config", "functions_dirs: %s is not an absolute path", dir);
        if (!realpath(dir, ob->fn_roots[ob->n_fn_roots])) {
            ilu_warn(ob->log, "startup", "functions_dirs: %s skipped: %s", dir, strerror(errno));
            continue;
        }
        size_t used = strlen(ob->fn_roots_text);
        snprintf(ob->fn_roots_text + used, sizeof ob->fn_roots_text - used, "%s%s", used ? ":" : "",
                 ob->fn_roots[ob->n_fn_roots]);
        ob->n_fn_roots++;
    }
    if (ob->n_fn_roots == 0)
        return ilu_err(err, ILU_ST_INTERNAL, "config", "functions_dirs names no existing folder");
    return 0;
}

/* Every user-namespaced container runs as the same unprivileged host id
 * (the same one for every worker on the host), and runc gives each a
 * session keyring charged to that id: the kernel's per-user key quota then
 * bounds how many run at once. With Debian's defaults (maxkeys 200,
 * maxbytes 20000) the 201st live container failed here ("unable to create
 * session key: disk quota exceeded"); say so at startup rather than then.
 * A session keyring was charged at most 100 bytes. */
#define KEY_QUOTA_CONTAINERS_WANTED 1000
#define KEY_BYTES_PER_CONTAINER     100

static void warn_key_quota(struct oci_backend *ob)
{
    unsigned long maxkeys = 0, maxbytes = 0;
    FILE *f = fopen("/proc/sys/kernel/keys/maxkeys", "re");
    if (f) {
        if (fscanf(f, "%lu", &maxkeys) != 1)
            maxkeys = 0;
        fclose(f);
    }
    if ((f = fopen("/proc/sys/kernel/keys/maxbytes", "re"))) {
        if (fscanf(f, "%lu", &maxbytes) != 1)
            maxbytes = 0;
        fclose(f);
    }
    unsigned long fits = maxbytes / KEY_BYTES_PER_CONTAINER < maxkeys ? maxbytes / KEY_BYTES_PER_CONTAINER : maxkeys;
    if (maxkeys && maxbytes && fits < KEY_QUOTA_CONTAINERS_WANTED)
        ilu_warn(ob->log, "startup",
                 "oci backend: the kernel's per-user key quota (kernel.keys.maxkeys %lu, maxbytes %lu) allows only "
                 "about %lu user-namespaced containers at once on this host, all workers together (each holds a "
                 "session keyring); raise it with `sysctl -w kernel.keys.maxkeys=20000 kernel.keys.maxbytes=2000000` "
                 "(docs/worker.md)",
                 maxkeys, maxbytes, fits);
}

/* ---- container records ---- */

static void ct_unlink_free(struct oci_ct *ct)
{
    struct oci_backend *ob = ct->ob;
    oci_agent_close(ct);
    if (ct->prev)
        ct->prev->next = ct->next;
    else
        ob->cts = ct->next;
    if (ct->next)
        ct->next->prev = ct->prev;
    oci_output_free(ct->out);
    oci_output_free(ct->errout);
    free(ct->rbuf);
    free(ct);
}

/* A SIGKILLed container that had reached its memory limit was most likely
 * killed by the OOM killer: say so. */
static void oom_hint(struct oci_ct *ct, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!ct->init_exited || oci_status_signal(ct->ob, ct->init_status) != SIGKILL)
        return;
    /* v1 memory.oom_control counts OOM kills in the cgroup (kernel >= 4.13). */
    char path[256], line[128];
    snprintf(path, sizeof path, "/sys/fs/cgroup/memory/%s/%s/memory.oom_control", ct->ob->cgroup_parent, ct->id);
    FILE *f = fopen(path, "re");
    unsigned long long n = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "oom_kill %llu", &n) == 1)
            break;
    if (f)
        fclose(f);
    if (n > 0 && ct->c)
        snprintf(buf, len, " [out of memory: limit %u MiB]",
                 ct->c->memory_mb ? ct->c->memory_mb : ct->c->fn->memory_mb);
}

void oci_ct_stderr_tail(struct oci_ct *ct, char *buf, size_t len)
{
    char path[PATH_MAX + 16];
    oci_output_drain(ct->errout);
    snprintf(path, sizeof path, "%s/stderr.log", ct->dir);
    oci_file_tail(path, buf, len);
}

void oci_ct_dead(struct oci_ct *ct, const char *reason)
{
    if (ct->state == OCI_CT_DEAD || ct->state == OCI_CT_TEARDOWN)
        return; /* told the core already, or it does not want to know */
    struct oci_backend *ob = ct->ob;
    enum oci_ct_state was = ct->state;
    bool in_flight = ct->in_flight;
    ct->state = OCI_CT_DEAD;
    ct->in_flight = false;
    oci_agent_close(ct);

    char tail[240], oom[96];
    oci_ct_stderr_tail(ct, tail, sizeof tail);
    oom_hint(ct, oom, sizeof oom);
    const char *sep = tail[0] ? "; stderr: " : "";
    struct ilu_container *c = ct->c;
    void *ctx = ob->base.events.ctx;

    if (was == OCI_CT_LOADING) {
        struct ilu_error err;
        ilu_err(&err, ILU_ST_BAD_GATEWAY, "container_start", "container %s failed to load %s: %s%s%s%s", ct->id,
                c ? c->fn->fqdn : "its function", reason, oom, sep, tail);
        ilu_warn(ob->log, ct->tid, "%s", err.msg);
        ob->base.events.ready(ctx, c, &err);
    } else if (was == OCI_CT_SPAWNING || was == OCI_CT_CONNECTING) {
        struct ilu_error err;
        ilu_err(&err, ILU_ST_BAD_GATEWAY, "container_start", "container %s failed to start: %s%s%s%s", ct->id, reason,
                oom, sep, tail);
        ilu_warn(ob->log, ct->tid, "%s", err.msg);
        ob->base.events.ready(ctx, c, &err);
    } else if (in_flight) {
        struct ilu_agent_reply r = {0};
        r.status = ILU_ST_BAD_GATEWAY;
        snprintf(r.error, sizeof r.error, "container %s: %s%s during the invocation%s%s", ct->id, reason, oom, sep,
                 tail);
        r.round_trip_us = (ilu_os_mono_ns() - ct->sent_ns) / 1000;
        ilu_warn(ob->log, ct->tid, "%s", r.error);
        ob->base.events.invoke_done(ctx, c, &r);
    } else {
        char msg[480];
        snprintf(msg, sizeof msg, "container %s: %s%s while idle%s%s", ct->id, reason, oom, sep, tail);
        ilu_warn(ob->log, ct->tid, "%s", msg);
        ob->base.events.died(ctx, c, msg);
    }
}

void oci_ct_connected(struct oci_ct *ct)
{
    struct oci_backend *ob = ct->ob;
    ct->state = OCI_CT_READY;
    ilu_info(ob->log, ct->tid, "container %s ready in %.1f ms (%s)", ct->id,
             (double)(ilu_os_mono_ns() - ct->create_ns) / 1e6, ob->runtime_name);
    ob->base.events.ready(ob->base.events.ctx, ct->c, NULL);
}

/* ---- create ---- */

static void teardown(struct oci_ct *ct);

static void on_run_exit(void *arg, pid_t run_pid, int status)
{
    struct oci_ct *ct = arg;
    struct oci_backend *ob = ct->ob;
    ct->run_pid = 0;
    if (ct->state == OCI_CT_TEARDOWN) {
        teardown(ct); /* destroyed while the runtime was starting it */
        return;
    }
    char reason[200];
    if (status != 0) {
        char how[96];
        oci_describe_status(status, how, sizeof how);
        snprintf(reason, sizeof reason, "%s run failed (%s)", ob->runtime_name, how);
        oci_ct_dead(ct, reason);
        return;
    }
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/pid", ct->dir);
    FILE *f = fopen(path, "re");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    if (pid <= 1) {
        snprintf(reason, sizeof reason, "%s run succeeded but left no usable pid file %.120s", ob->runtime_name, path);
        oci_ct_dead(ct, reason);
        return;
    }
    ct->init_pid = (pid_t)pid;
    int st;
    if (oci_orphan_take(ob, ct->init_pid, &st)) { /* reaped before we knew it */
        ct->init_exited = true;
        ct->init_status = st;
        char how[96];
        oci_describe_status(st, how, sizeof how);
        snprintf(reason, sizeof reason, "container exited (%s) before its agent listened", how);
        oci_ct_dead(ct, reason);
        return;
    }
    ct->state = OCI_CT_CONNECTING;
    if (ct->conn_lost)
        oci_agent_connection_lost(ct, "the agent closed its connection");
    else if (ct->agent_ready)
        oci_ct_connected(ct);
    /* else the ready check's answer makes it ready */
}

static bool id_is_safe(const char *id)
{
    if (!*id || !strcmp(id, ".") || !strcmp(id, ".."))
        return false;
    for (const char *p = id; *p; p++)
        if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') || *p == '-' ||
              *p == '_' || *p == '.'))
            return false;
    return true;
}

static int oci_create(struct ilu_backend *b, struct ilu_container *c, const char *tid, struct ilu_error *err)
{
    struct oci_backend *ob = backend_of(b);
    if (ob->shut_down)
        return ilu_err(err, ILU_ST_UNAVAILABLE, "shutting_down", "container %s: the backend is shut down", c->id);
    if (!id_is_safe(c->id))
        return ilu_err(err, ILU_ST_INTERNAL, "bad_id", "container id \"%s\" is not safe as a file name", c->id);
    if (c->backend_data)
        return ilu_err(err, ILU_ST_INTERNAL, "bad_state", "container %s was already created", c->id);
    char image[PATH_MAX] = "(generic sandbox)";
    const struct oci_image *img = NULL;
    bool pooled = c->fn->sandbox;
    if (pooled) {
        if (!ob->can_pool)
            return ilu_err(err, ILU_ST_INTERNAL, "unsupported",
                           "container %s: generic sandboxes need the kernel's new mount API (Linux 5.12)", c->id);
    } else if (ilu_image_is_reference(c->fn->image)) {
        img = oci_image_find(ob, c->fn->image);
        if (!img || !img->ready)
            return ilu_err(err, ILU_ST_BAD_GATEWAY, "bad_image", "container %s: image %s is not prepared", c->id,
                           c->fn->image);
    } else if (oci_resolve_image(ob, c->fn->image, image, err) != 0) {
        return ilu_err_wrap(err, "container %s", c->id);
    }

    struct oci_ct *ct = calloc(1, sizeof *ct);
    if (!ct)
        return ilu_err(err, ILU_ST_INTERNAL, "oom", "container %s: out of memory", c->id);
    ct->ob = ob;
    ct->c = c;
    ct->sock = -1;
    ct->create_ns = ilu_os_mono_ns();
    snprintf(ct->id, sizeof ct->id, "%s", c->id);
    snprintf(ct->tid, sizeof ct->tid, "%s", tid ? tid : "");
    snprintf(ct->dir, sizeof ct->dir, "%s/%s", ob->containers_dir, c->id);
    ct->pooled = pooled;
    if (oci_rm_bundle(ct->dir) != 0) { /* a stale dir of the same id would confuse the runtime */
        ilu_err(err, ILU_ST_INTERNAL, "bundle", "container %s: cannot remove the stale bundle dir %s: %s", c->id,
                ct->dir, strerror(errno));
        free(ct);
        ilu_warn(ob->log, tid, "%s", err ? err->msg : "creating a container failed");
        return -1;
    }

    uint32_t mem = c->memory_mb ? c->memory_mb : c->fn->memory_mb;
    uint32_t cpus = c->cpus ? c->cpus : c->fn->cpus;
    int listen_fd = -1, out_w = -1, err_w = -1;
    if (img)
        snprintf(ct->image_entry, sizeof ct->image_entry, "%s", img->name);
    ct->limit_mb = mem;
    int gpu = c->has_gpu_spot ? (int)c->gpu_device : -1;
    if (oci_write_bundle(ob, ct->dir, ct->id, img || pooled ? NULL : image, img, pooled, mem, cpus, NULL, gpu, err) !=
        0)
        goto fail;

    /* The agent's socket listens before the container exists and reaches it
     * as descriptor 3; stdout/stderr go through pipes the worker caps. */
    char pidfile[PATH_MAX + 16], out[PATH_MAX + 16], errf[PATH_MAX + 16];
    snprintf(pidfile, sizeof pidfile, "%s/pid", ct->dir);
    snprintf(out, sizeof out, "%s/stdout.log", ct->dir);
    snprintf(errf, sizeof errf, "%s/stderr.log", ct->dir);
    if ((listen_fd = oci_agent_listen(ct, err)) < 0 || oci_agent_start_connect(ct, err) != 0 ||
        !(ct->out = oci_output_new(ob, out, &out_w, err)) || !(ct->errout = oci_output_new(ob, errf, &err_w, err)))
        goto fail;
    char *argv[] = {
        ob->runtime_path, "--root",     ob->runtime_root, "run",  "--detach", "--preserve-fds", "1", "--bundle",
        ct->dir,          "--pid-file", pidfile,          ct->id, NULL};
    /* The runtime's stdio becomes the agent's: its errors land in stderr.log. */
    pid_t pid = ilu_os_spawn_fds(argv, out_w, err_w, listen_fd, err);
    close(listen_fd);
    close(out_w);
    close(err_w);
    listen_fd = out_w = err_w = -1;
    if (pid < 0)
        goto fail;
    if (ilu_reaper_watch(ob->reaper, pid, on_run_exit, ct) != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        oci_delete_sync(ob->runtime_path, ob->runtime_root, ct->id);
        ilu_err(err, ILU_ST_INTERNAL, "oom", "out of memory");
        goto fail;
    }
    ct->run_pid = pid;
    ct->state = OCI_CT_SPAWNING;
    ct->next = ob->cts;
    if (ob->cts)
        ob->cts->prev = ct;
    ob->cts = ct;
    c->backend_data = ct;
    ilu_debug(ob->log, tid, "container %s: %s run started (%s, %u MiB, %u cpus)", ct->id, ob->runtime_name, image, mem,
              cpus);
    return 0;

fail:
    if (listen_fd >= 0)
        close(listen_fd);
    if (out_w >= 0)
        close(out_w);
    if (err_w >= 0)
        close(err_w);
    oci_agent_close(ct);
    oci_output_free(ct->out);
    oci_output_free(ct->errout);
    oci_rm_bundle(ct->dir);
    free(ct);
    ilu_err_wrap(err, "creating container %s", c->id);
    ilu_warn(ob->log, tid, "%s", err ? err->msg : "creating a container failed");
    return -1;
}

/* ---- invoke ---- */

static int oci_invoke(struct ilu_backend *b, struct ilu_container *c, const char *tid, const char *args,
                      size_t args_len, struct ilu_error *err)
{
    struct oci_ct *ct = c->backend_data;
    if (!ct)
        return ilu_err(err, ILU_ST_INTERNAL, "bad_state", "container %s is not known to the oci backend", c->id);
    return oci_agent_send(ct, args, args_len, err);
}

/* ---- generic sandboxes (sandbox.c) ---- */

/* A function folder can be attached to a running sandbox; a function with
 * its own image cannot: its root filesystem is chosen when its container is
 * created. */
static bool oci_assignable(struct ilu_backend *b, const struct ilu_function *fn)
{
    return backend_of(b)->can_pool && (!fn || (!fn->sandbox && !ilu_image_is_reference(fn->image)));
}

static int oci_assign(struct ilu_backend *b, struct ilu_container *c, const char *tid, struct ilu_error *err)
{
    struct oci_ct *ct = c->backend_data;
    if (!ct)
        return ilu_err(err, ILU_ST_INTERNAL, "bad_state", "container %s is not known to the oci backend", c->id);
    return oci_sandbox_assign(backend_of(b), ct, tid, err);
}

/* ---- destroy ---- */

static void on_delete_exit(void *arg, pid_t delete_pid, int status)
{
    struct oci_ct *ct = arg;
    struct oci_backend *ob = ct->ob;
    if (status != 0) {
        char how[96], path[PATH_MAX + 16], tail[240];
        oci_describe_status(status, how, sizeof how);
        snprintf(path, sizeof path, "%s/delete.log", ct->dir);
        oci_file_tail(path, tail, sizeof tail);
        ilu_warn(ob->log, ct->tid, "container %s: %s delete failed (%s): %s", ct->id, ob->runtime_name, how, tail);
    }
    if (oci_rm_bundle(ct->dir) != 0)
        ilu_warn(ob->log, ct->tid, "container %s: cannot remove %s: %s", ct->id, ct->dir, strerror(errno));
    ct_unlink_free(ct);
}

static void teardown(struct oci_ct *ct)
{
    struct oci_backend *ob = ct->ob;
    char logf[PATH_MAX + 16];
    snprintf(logf, sizeof logf, "%s/delete.log", ct->dir);
    char *argv[] = {ob->runtime_path, "--root", ob->runtime_root, "delete", "--force", ct->id, NULL};
    struct ilu_error err = {0};
    pid_t pid = ilu_os_spawn(argv, NULL, logf, &err);
    if (pid > 0 && ilu_reaper_watch(ob->reaper, pid, on_delete_exit, ct) == 0)
        return;
    /* Left for the shutdown/startup sweep, which also removes cgroups. */
    ilu_error_log(ob->log, ct->tid, "container %s: cannot delete it: %s", ct->id, pid > 0 ? "out of memory" : err.msg);
    if (pid > 0) {
        waitpid(pid, NULL, 0);
    }
    oci_rm_bundle(ct->dir);
    ct_unlink_free(ct);
}

static void oci_destroy(struct ilu_backend *b, struct ilu_container *c, const char *tid)
{
    struct oci_ct *ct = c->backend_data;
    if (!ct)
        return;
    c->backend_data = NULL;
    ct->c = NULL;
    ct->state = OCI_CT_TEARDOWN;
    ct->in_flight = false;
    oci_agent_close(ct);
    if (tid && *tid)
        snprintf(ct->tid, sizeof ct->tid, "%s", tid);
    ilu_debug(ct->ob->log, ct->tid, "container %s: destroying", ct->id);
    if (ct->run_pid == 0)
        teardown(ct);
    /* else on_run_exit calls teardown once the runtime is done */
}

/* ---- shutdown / free ---- */

static void wait_blocking(pid_t pid)
{
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

static void oci_shutdown(struct ilu_backend *b)
{
    struct oci_backend *ob = backend_of(b);
    if (ob->shut_down)
        return;
    ob->shut_down = true;
    oci_agent_loops_stop(ob); /* every connection is the core loop's again */
    int n = 0;
    while (ob->cts) {
        struct oci_ct *ct = ob->cts;
        /* No callbacks during shutdown; later destroy(c) calls are no-ops. */
        if (ct->c)
            ct->c->backend_data = NULL;
        ct->state = OCI_CT_TEARDOWN;
        pid_t pid;
        while ((pid = ilu_reaper_pid_of(ob->reaper, ct)) > 0) { /* its run or delete */
            ilu_reaper_unwatch(ob->reaper, pid);
            wait_blocking(pid);
        }
        /* Reap the init ourselves: a runtime waiting for it to go away would
         * otherwise wait on us while we wait on it. */
        if (ct->init_pid > 0 && !ct->init_exited && kill(ct->init_pid, SIGKILL) == 0)
            wait_blocking(ct->init_pid);
        oci_delete_sync(ob->runtime_path, ob->runtime_root, ct->id);
        oci_rm_bundle(ct->dir);
        ct_unlink_free(ct);
        n++;
    }
    oci_gpu_stop(ob);
    ilu_reaper_reap(ob->reaper); /* stray zombies */
    oci_clean_cgroups(ob, true, "shutdown", NULL);
    ilu_info(ob->log, "shutdown", "oci backend: removed %d containers", n);
}

static void oci_free(struct ilu_backend *b)
{
    if (!b)
        return;
    struct oci_backend *ob = backend_of(b);
    oci_shutdown(b);
    oci_agent_loops_stop(ob); /* a backend that never finished starting */
    oci_gpu_stop(ob);
    oci_images_free(ob);
    if (ob->orphan_handler)
        ilu_reaper_set_orphan_handler(ob->reaper, NULL, NULL, NULL);
    json_decref(ob->seccomp);
    free(ob);
}

static void oci_status_json(struct ilu_backend *b, json_t *status)
{
    struct oci_backend *ob = backend_of(b);
    unsigned entries;
    uint64_t bytes;
    oci_images_usage(ob, &entries, &bytes);
    json_object_set_new(status, "image_cache_entries", json_integer(entries));
    json_object_set_new(status, "image_cache_mb", json_real((double)bytes / (1024.0 * 1024.0)));
    json_object_set_new(status, "image_cache_max_mb", json_integer((json_int_t)(ob->image_cache_max_bytes >> 20)));
}

static unsigned oci_clean(struct ilu_backend *b, const char *tid)
{
    return oci_images_gc(backend_of(b), 0, tid);
}

static const char *oci_runtime_name(const struct ilu_backend *b)
{
    return ((const struct oci_backend *)b->priv)->runtime_name;
}

/* The host's GPUs (NVML, else nvidia-smi); a GPU container gets its
 * GPU's devices, the driver's libraries and, with MPS, the daemon's pipes
 * (gpu_bundle.c, docs/gpu.md). */
static int oci_gpu_devices(struct ilu_backend *b, const struct ilu_gpu_resource_config *want,
                           struct ilu_gpu_found *found, struct ilu_error *err)
{
    struct oci_backend *ob = backend_of(b);
    struct ilu_os_gpu_node *nodes = calloc(ILU_GPU_MAX, sizeof *nodes);
    if (!nodes)
        return ilu_err(err, ILU_ST_INTERNAL, "oom", "oci backend: out of memory");
    ilu_os_gpu_discover_nodes(want->driver_lib_dir, found, nodes);
    /* too few found: the core refuses to start, naming found->source */
    int rc = found->n >= want->count ? oci_gpu_setup(ob, want, found, nodes, err) : 0;
    free(nodes);
    return rc;
}

static const struct ilu_backend_ops oci_ops = {
    .name = "oci",
    .check_image = oci_check_image,
    .prepare_image = oci_prepare_image,
    .status_json = oci_status_json,
    .clean = oci_clean,
    .create = oci_create,
    .invoke = oci_invoke,
    .assignable = oci_assignable,
    .assign = oci_assign,
    .destroy = oci_destroy,
    .shutdown = oci_shutdown,
    .free = oci_free,
    .runtime_name = oci_runtime_name,
    .gpu_devices = oci_gpu_devices,
    .gpu_sample = oci_gpu_sample,
};

const char *ilu_oci_runtime_name(const struct ilu_backend *b)
{
    if (!b || b->ops != &oci_ops)
        return NULL;
    return ((const struct oci_backend *)b->priv)->runtime_name;
}

/* ---- construction ---- */

static int copy_setting(char *dst, size_t len, const char *val, const char *dflt, const char *key,
                        struct ilu_error *err)
{
    const char *v = val && *val ? val : dflt;
    if ((size_t)snprintf(dst, len, "%s", v) >= len)
        return ilu_err(err, ILU_ST_INTERNAL, "config", "oci.%s is too long", key);
    return 0;
}

/* Where this config keeps its state, root and cgroups (ob's paths). */
static int oci_paths(struct oci_backend *ob, const struct ilu_oci_config *oc, struct ilu_error *err)
{
    const char *pp = oc->cgroup_parent;
    if (copy_setting(ob->state_dir, sizeof ob->state_dir, oc->state_dir, "/run/iluvatar", "state_dir", err) ||
        copy_setting(ob->python, sizeof ob->python, oc->python, "/usr/bin/python3", "python", err) ||
        copy_setting(ob->cgroup_parent, sizeof ob->cgroup_parent, pp, "iluvatar", "cgroup_parent", err))
        return -1;
    if (oc->rootfs_dir[0])
        snprintf(ob->rootfs_dir, sizeof ob->rootfs_dir, "%s", oc->rootfs_dir);
    else
        snprintf(ob->rootfs_dir, sizeof ob->rootfs_dir, "%s/rootfs", ob->state_dir);
    snprintf(ob->containers_dir, sizeof ob->containers_dir, "%s/containers", ob->state_dir);
    if (strchr(ob->cgroup_parent, '/') || !strcmp(ob->cgroup_parent, ".") || !strcmp(ob->cgroup_parent, ".."))
        return ilu_err(err, ILU_ST_INTERNAL, "config", "oci.cgroup_parent \"%s\" must be a single path component",
                       ob->cgroup_parent);
    return 0;
}

int ilu_oci_clean(const struct ilu_worker_config *cfg, const void *config, const struct ilu_log *log,
                  struct ilu_clean_report *rep, struct ilu_error *err)
{
    const struct ilu_oci_config *oc = config;
    if (!oc)
        return ilu_err(err, ILU_ST_INTERNAL, "config", "oci backend: its config section was not attached");
    struct oci_backend *ob = calloc(1, sizeof *ob);
    if (!ob)
        return ilu_err(err, ILU_ST_INTERNAL, "oom", "oci backend: out of memory");
    ob->log = log;
    int rc = oci_paths(ob, oc, err);
    if (!rc)
        oci_clean_leftovers(ob, "clean", rep);
    free(ob);
    return rc;
}

struct ilu_backend *ilu_oci_backend_new(const struct ilu_backend_host *host, const struct ilu_worker_config *cfg,
                                        const void *config, const struct ilu_log *log, struct ilu_error *err)
{
    const struct ilu_oci_config *oc = config;
    if (!host->base || !host->reaper || !oc) {
        ilu_err(err, ILU_ST_INTERNAL, "oci_init", "oci backend: needs an event loop, the reaper and its config");
        return NULL;
    }
    struct oci_backend *ob = calloc(1, sizeof *ob);
    if (!ob) {
        ilu_err(err, ILU_ST_INTERNAL, "oom", "oci backend: out of memory");
        return NULL;
    }
    ob->base.ops = &oci_ops;
    ob->base.priv = ob;
    ob->base.log = log;
    ob->evb = host->base;
    ob->reaper = host->reaper;
    ob->log = log;
    ob->shut_down = true; /* until constructed: free() must not sweep */
    oci_gpu_defaults(ob);
    if (oci_paths(ob, oc, err))
        goto fail;
    ob->pids_limit = oc->pids_limit;
    ob->userns = oc->user_namespace;
    ob->userns_host_id = oc->userns_host_id;
    ob->userns_size = oc->userns_size;
    ob->log_max_bytes = oc->log_max_bytes;
    ob->max_result_bytes = cfg->limits.max_result_bytes;
    /* the reply adds timestamps, was_cold and duration to the result */
    ob->max_reply_bytes = cfg->limits.max_result_bytes + 4096;
    if (oc->init[0] && strcmp(oc->init, "off") != 0) {
        if (oc->init[0] != '/' || access(oc->init, X_OK) != 0) {
            ilu_err(err, ILU_ST_INTERNAL, "config",
                    "oci.init %s is not an executable absolute path (apt-get install tini, or set oci.init "
                    "to \"off\" to run the agent as pid 1, which then cannot reap orphans)",
                    oc->init);
            goto fail;
        }
        if (strncmp(oc->init, "/usr/", 5) != 0) {
            ilu_err(err, ILU_ST_INTERNAL, "config",
                    "oci.init %s must be under /usr, the only host folder "
                    "the containers see",
                    oc->init);
            goto fail;
        }
        snprintf(ob->init, sizeof ob->init, "%s", oc->init);
    }
    struct ilu_error serr = {0};
    ob->seccomp = oci_seccomp_profile(oc->seccomp, &serr);
    if (!ob->seccomp && strcmp(oc->seccomp, "off") != 0) {
        ilu_err(err, ILU_ST_INTERNAL, "config", "%s", serr.msg);
        goto fail;
    }
    /* memory.swap only where the kernel accounts swap, or runc refuses. */
    ob->memsw = access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0 ||
                access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
    ob->cgroupns = access("/proc/self/ns/cgroup", F_OK) == 0;
    ob->cgroup2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
    ob->can_pool = oci_sandbox_supported();
    if (!ob->can_pool)
        ilu_warn(ob->log, "startup",
                 "oci backend: this kernel lacks open_tree/mount_setattr/move_mount (Linux 5.12): "
                 "container_resources.sandbox_pool_size must stay 0");

    /* Detached container inits are re-parented to us, so we see them exit. */
    if (ilu_os_become_subreaper(err) != 0)
        goto fail;
    char runtime_dir[PATH_MAX + 16];
    snprintf(runtime_dir, sizeof runtime_dir, "%s/runtime", ob->state_dir);
    if (oci_mkdir_p(ob->state_dir, 0700) != 0 || oci_mkdir_p(ob->containers_dir, 0700) != 0 ||
        oci_mkdir_p(runtime_dir, 0700) != 0) {
        ilu_err(err, ILU_ST_INTERNAL, "oci_init", "cannot create the state dir %s: %s", ob->state_dir, strerror(errno));
        goto fail;
    }
    /* In a user namespace the container's root is an unprivileged host id:
     * it must be able to pass through the state dir to the shared root. */
    if (ob->userns)
        chmod(ob->state_dir, 0711);
    if (oci_build_rootfs(ob, err) != 0 || oci_resolve_agent(ob, oc->agent_path, err) != 0 ||
        set_function_roots(ob, cfg->functions_dirs, err) != 0 || oci_images_init(ob, oc, err) != 0)
        goto fail;
    /* runc opens bind-mount sources (the agent, function folders) before it
     * enters the user namespace, but it enters the root from inside. */
    if (ob->userns && check_reachable("oci.rootfs_dir", ob->rootfs_dir, err))
        goto fail;
    char agent[PATH_MAX + 300];
    struct stat ast;
    snprintf(agent, sizeof agent, "%s/%s", ob->agent_dir, ob->agent_file);
    if (ob->userns && (stat(agent, &ast) != 0 || !(ast.st_mode & S_IROTH))) {
        ilu_err(err, ILU_ST_INTERNAL, "oci_init",
                "the agent %s is not world-readable, so user-namespaced "
                "containers cannot run it (chmod o+r)",
                agent);
        goto fail;
    }
    if (ob->userns)
        warn_key_quota(ob);
    oci_clean_leftovers(ob, "startup", NULL);
    if (oci_choose_runtime(ob, oc->runtime[0] ? oc->runtime : "auto", oc->runtime_path, err) != 0)
        goto fail;
    if (ilu_reaper_set_orphan_handler(ob->reaper, oci_on_orphan, ob, err) != 0)
        goto fail;
    ob->orphan_handler = true;
    if (oc->agent_threads && oci_agent_loops_start(ob, oc->agent_threads, err) != 0)
        goto fail;
    ob->shut_down = false;
    ilu_info(log, "startup",
             "oci backend ready: runtime %s, root %s, agent %s/%s, state %s, cgroups /%s%s; "
             "user namespace %s, seccomp %s, init %s; functions from %s; warm invocations' agent I/O on %s%.0u%s",
             ob->runtime_name, ob->rootfs_dir, ob->agent_dir, ob->agent_file, ob->state_dir, ob->cgroup_parent,
             ob->memsw ? "" : " (no swap accounting)", ob->userns ? "on" : "OFF (functions run as host root)",
             ob->seccomp ? oc->seccomp : "OFF", ob->init[0] ? ob->init : "none (agent is pid 1)", ob->fn_roots_text,
             ob->n_aloops ? "" : "the core loop", ob->n_aloops, ob->n_aloops ? " agent threads" : "");
    return &ob->base;

fail:
    ilu_err_wrap(err, "oci backend");
    oci_free(&ob->base);
    return NULL;
}
