/* Generic sandboxes (backend.h assignable/assign): a container started with
 * no function (bundle.c: its /function is a one-way slave of the shared
 * mount point <bundle>/function, its agent runs with ILU_POOLED=1) is given
 * one later, in about a millisecond instead of a container start:
 *   1. its cgroup gets the function's limits, written directly (runc update
 *      would cost a process start);
 *   2. the function's folder is cloned (open_tree), made read-only, nosuid
 *      and nodev while still detached (mount_setattr), then attached on the
 *      mount point (move_mount), from where it propagates into the
 *      container: it never sees a writable window;
 *   3. the agent imports main.py (command 2) and says so.
 * A sandbox is assigned once in its life; docs/worker.md ("Pooled
 * sandboxes") has the security argument. */
#include "oci_int.h"

#include "api/registration.h"
#include "os/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CPU_PERIOD  100000

/* ---- the cgroup limits (pure part) ---- */

static void add_write(struct oci_cg_write *out, size_t *n, const char *controller, const char *file, const char *value)
{
    out[*n].controller = controller;
    out[*n].file = file;
    snprintf(out[*n].value, sizeof out[*n].value, "%s", value);
    (*n)++;
}

/* runc's conversion of cpu shares [2, 262144] to cgroup v2's cpu.weight [1, 10000]. */
static unsigned long long shares_to_weight(unsigned long long shares)
{
    return 1 + ((shares - 2) * 9999) / 262142;
}

size_t oci_cgroup_plan(bool v2, bool memsw, uint32_t old_mb, uint32_t memory_mb, uint32_t cpus,
                       struct oci_cg_write *out)
{
    size_t n = 0;
    unsigned long long shares = cpus ? (unsigned long long)cpus * 1024 : 1024;
    char mem[24], quota[24], num[24];
    if (memory_mb)
        snprintf(mem, sizeof mem, "%llu", (unsigned long long)memory_mb << 20);
    else
        snprintf(mem, sizeof mem, "%s", v2 ? "max" : "-1");
    if (cpus)
        snprintf(quota, sizeof quota, "%llu", (unsigned long long)cpus * CPU_PERIOD);
    else
        snprintf(quota, sizeof quota, "%s", v2 ? "max" : "-1");
    if (v2) {
        add_write(out, &n, "", "memory.max", mem);
        /* memory.swap.max is swap alone: memory+swap = memory means none */
        if (memsw)
            add_write(out, &n, "", "memory.swap.max", memory_mb ? "0" : "max");
        snprintf(num, sizeof num, "%llu", cpus ? shares_to_weight(shares) : 100);
        add_write(out, &n, "", "cpu.weight", num);
        snprintf(num, sizeof num, "%s %u", quota, CPU_PERIOD);
        add_write(out, &n, "", "cpu.max", num);
        return n;
    }
    /* v1 refuses memory.limit_in_bytes above memory.memsw.limit_in_bytes:
     * raising, memory+swap goes first; lowering, memory does. */
    bool raise = memory_mb == 0 || (old_mb != 0 && memory_mb >= old_mb);
    if (memsw && raise)
        add_write(out, &n, "memory", "memory.memsw.limit_in_bytes", mem);
    add_write(out, &n, "memory", "memory.limit_in_bytes", mem);
    if (memsw && !raise)
        add_write(out, &n, "memory", "memory.memsw.limit_in_bytes", mem);
    snprintf(num, sizeof num, "%llu", shares);
    add_write(out, &n, "cpu", "cpu.shares", num);
    snprintf(num, sizeof num, "%u", CPU_PERIOD);
    add_write(out, &n, "cpu", "cpu.cfs_period_us", num);
    add_write(out, &n, "cpu", "cpu.cfs_quota_us", quota);
    return n;
}

/* ---- the cgroup limits (writes) ---- */

/* The container's dir for controller: /sys/fs/cgroup/<parent>/<id> (v2),
 * else under the controller's v1 hierarchy, which some hosts mount as
 * "cpu,cpuacct" without a "cpu" link. */
static void cgroup_dir(const struct oci_ct *ct, const char *controller, char *buf, size_t len)
{
    const struct oci_backend *ob = ct->ob;
    if (!*controller) {
        snprintf(buf, len, "%s/%s/%s", CGROUP_ROOT, ob->cgroup_parent, ct->id);
        return;
    }
    snprintf(buf, len, "%s/%s/%s/%s", CGROUP_ROOT, controller, ob->cgroup_parent, ct->id);
    if (strcmp(controller, "cpu") == 0 && access(buf, F_OK) != 0)
        snprintf(buf, len, "%s/cpu,cpuacct/%s/%s", CGROUP_ROOT, ob->cgroup_parent, ct->id);
}

static int write_value(const char *path, const char *value)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = strlen(value);
    ssize_t n = write(fd, value, len);
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)len ? 0 : -1;
}

static int apply_limits(struct oci_ct *ct, uint32_t memory_mb, uint32_t cpus, struct ilu_error *err)
{
    struct oci_backend *ob = ct->ob;
    struct oci_cg_write w[OCI_CG_WRITES_MAX];
    size_t n = oci_cgroup_plan(ob->cgroup2, ob->memsw, ct->limit_mb, memory_mb, cpus, w);
    char dir[PATH_MAX], path[PATH_MAX + 64];
    for (size_t i = 0; i < n; i++) {
        cgroup_dir(ct, w[i].controller, dir, sizeof dir);
        snprintf(path, sizeof path, "%s/%s", dir, w[i].file);
        if (write_value(path, w[i].value) != 0)
            return ilu_err(err, ILU_ST_INTERNAL, "container_start", "container %s: cannot write %s to %s: %s", ct->id,
                           w[i].value, path, strerror(errno));
    }
    ct->limit_mb = memory_mb;
    return 0;
}

/* ---- the function's folder ---- */

bool oci_sandbox_supported(void)
{
    /* each call fails on its bad descriptor where the kernel has it */
    struct mount_attr a = {0};
    errno = 0;
    if (mount_setattr(-1, "", AT_EMPTY_PATH, &a, sizeof a) != 0 && errno == ENOSYS)
        return false;
    errno = 0;
    if (move_mount(-1, "", -1, "", MOVE_MOUNT_F_EMPTY_PATH) != 0 && errno == ENOSYS)
        return false;
    int fd = open_tree(AT_FDCWD, "/", OPEN_TREE_CLOEXEC);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

/* folder (resolved, under functions_dirs), read-only, nosuid, nodev, onto
 * <dir>/function in one step. */
static int attach_folder(struct oci_ct *ct, const char *folder, struct ilu_error *err)
{
    char point[PATH_MAX + 16];
    snprintf(point, sizeof point, "%s/function", ct->dir);
    const char *what = "clone";
    int fd = open_tree(AT_FDCWD, folder, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);
    if (fd < 0)
        goto fail;
    struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
    what = "restrict";
    if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) != 0)
        goto fail;
    what = "attach";
    if (move_mount(fd, "", AT_FDCWD, point, MOVE_MOUNT_F_EMPTY_PATH) != 0)
        goto fail;
    close(fd); /* the attached tree stays; only the handle goes */
    return 0;
fail:;
    int e = errno;
    if (fd >= 0)
        close(fd); /* a detached clone goes with its last descriptor */
    return ilu_err(err, ILU_ST_INTERNAL, "container_start", "container %s: cannot %s %s at %s: %s", ct->id, what,
                   folder, point, strerror(e));
}

/* ---- assign ---- */

int oci_sandbox_assign(struct oci_backend *ob, struct oci_ct *ct, const char *tid, struct ilu_error *err)
{
    struct ilu_container *c = ct->c;
    if (!ct->pooled)
        return ilu_err(err, ILU_ST_INTERNAL, "bad_state", "container %s is not a generic sandbox", ct->id);
    if (ct->assigned)
        return ilu_err(err, ILU_ST_INTERNAL, "bad_state",
                       "container %s was already assigned a function: a sandbox serves one for life", ct->id);
    if (ct->state != OCI_CT_READY || ct->in_flight || ct->sock < 0)
        return ilu_err(err, ILU_ST_INTERNAL, "bad_state", "container %s is not a ready sandbox", ct->id);
    if (c->fn->sandbox || ilu_image_is_reference(c->fn->image))
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image", "container %s: %s cannot be given to a generic sandbox",
                       ct->id, c->fn->fqdn);
    char folder[PATH_MAX];
    if (oci_resolve_image(ob, c->fn->image, folder, err) != 0)
        return ilu_err_wrap(err, "assigning container %s", ct->id);
    /* one try for life: whatever happens next, it never takes another */
    ct->assigned = true;
    ct->assign_ns = ilu_os_mono_ns();
    if (tid && *tid)
        snprintf(ct->tid, sizeof ct->tid, "%s", tid);
    /* limits before code: the function never runs under the sandbox's */
    if (apply_limits(ct, c->memory_mb, c->cpus, err) != 0 || attach_folder(ct, folder, err) != 0 ||
        oci_agent_load(ct, err) != 0) {
        ilu_err_wrap(err, "assigning %s", c->fn->fqdn);
        ilu_warn(ob->log, ct->tid, "%s", err ? err->msg : "assigning a sandbox failed");
        return -1;
    }
    ct->state = OCI_CT_LOADING;
    ilu_debug(ob->log, ct->tid, "container %s: %s (%s, %u MiB, %u cpus) attached in %.2f ms, loading", ct->id,
              c->fn->fqdn, folder, c->memory_mb, c->cpus, (double)(ilu_os_mono_ns() - ct->assign_ns) / 1e6);
    return 0;
}

int oci_load_reply_parse(const char *body, size_t len, char *why, size_t why_len)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *load_error = json_string_value(json_object_get(j, "load_error"));
    int rc = -1;
    if (json_is_true(json_object_get(j, "loaded")))
        rc = 0;
    else if (load_error)
        snprintf(why, why_len, "%s", load_error);
    else
        snprintf(why, why_len, "the agent's answer to the load request is not understood: %.*s",
                 (int)(len > 120 ? 120 : len), body);
    json_decref(j);
    return rc;
}

/* The last line of text that says something (a traceback's exception). */
static void last_line(const char *text, char *buf, size_t len)
{
    size_t end = strlen(text);
    while (end && (text[end - 1] == '\n' || text[end - 1] == ' '))
        end--;
    size_t start = end;
    while (start && text[start - 1] != '\n')
        start--;
    snprintf(buf, len, "%.*s", (int)(end - start), text + start);
}

void oci_sandbox_loaded(struct oci_ct *ct, const char *body, size_t len)
{
    struct oci_backend *ob = ct->ob;
    struct ilu_container *c = ct->c;
    void *ctx = ob->base.events.ctx;
    ct->load_pending = false;
    char why[2048];
    if (oci_load_reply_parse(body, len, why, sizeof why) == 0) {
        ct->state = OCI_CT_READY;
        ilu_info(ob->log, ct->tid, "container %s assigned %s in %.1f ms", ct->id, c->fn->fqdn,
                 (double)(ilu_os_mono_ns() - ct->assign_ns) / 1e6);
        ob->base.events.ready(ctx, c, NULL);
        return;
    }
    /* The agent lives on but serves nobody: dead to the core, which
     * destroys it when told. */
    ct->state = OCI_CT_DEAD;
    oci_agent_close(ct);
    char tail[240], line[240];
    oci_ct_stderr_tail(ct, tail, sizeof tail);
    last_line(why, line, sizeof line);
    struct ilu_error err;
    ilu_err(&err, ILU_ST_BAD_GATEWAY, "container_start", "container %s failed to load %s: %s%s%s", ct->id, c->fn->fqdn,
            line, tail[0] ? "; stderr: " : "", tail);
    ilu_warn(ob->log, ct->tid, "%s", err.msg);
    ob->base.events.ready(ctx, c, &err);
}
