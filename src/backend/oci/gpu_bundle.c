/* GPU containers: what config.json gains for a container the core put on
 * a GPU. Verified by hand on an H200 host (issue 16): a plain runc
 * container runs CUDA given the GPU's device nodes, device cgroup rules
 * allowing them and the driver's user-space libraries mounted read-only;
 * no Docker, no NVIDIA container toolkit. A CDI spec for nvidia.com/gpu,
 * when the host has one in JSON, says instead which nodes, mounts and
 * environment a device needs. docs/gpu.md, "Live GPU containers". */
#include "oci_int.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/log.h"

#define GPU_LIB_POINT "/iluvatar/nvidia/lib"
#define GPU_BIN_POINT "/iluvatar/nvidia/bin"
#define MPS_POINT     "/iluvatar/mps"
#define CDI_KIND      "nvidia.com/gpu"

void oci_gpu_defaults(struct oci_backend *ob)
{
    snprintf(ob->gpu.dev_dir, sizeof ob->gpu.dev_dir, "/dev");
    snprintf(ob->gpu.cdi_dirs, sizeof ob->gpu.cdi_dirs, "/etc/cdi:/var/run/cdi");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first CDI spec of kind nvidia.com/gpu in the CDI folders (each
 * folder's *.json in name order). YAML specs (nvidia-ctk's default) are
 * not read: the log says so. */
static void cdi_load(struct oci_backend *ob)
{
    char dirs[sizeof ob->gpu.cdi_dirs];
    snprintf(dirs, sizeof dirs, "%s", ob->gpu.cdi_dirs);
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d && !ob->gpu.cdi; d = strtok_r(NULL, ":", &save)) {
        DIR *dh = opendir(d);
        if (!dh)
            continue;
        char *names[64];
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(dh)) && n < 64) {
            size_t len = strlen(e->d_name);
            if (len > 5 && !strcmp(e->d_name + len - 5, ".json") && (names[n] = strdup(e->d_name)))
                n++;
            else if ((len > 5 && !strcmp(e->d_name + len - 5, ".yaml")) ||
                     (len > 4 && !strcmp(e->d_name + len - 4, ".yml")))
                ilu_warn(ob->log, "startup",
                         "oci backend: CDI spec %s/%s is YAML, which is not read (nvidia-ctk cdi generate "
                         "--format=json writes JSON)",
                         d, e->d_name);
        }
        closedir(dh);
        qsort(names, n, sizeof names[0], cmp_str);
        for (size_t i = 0; i < n; i++) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", d, names[i]);
            json_error_t jerr;
            json_t *spec = !ob->gpu.cdi ? json_load_file(path, 0, &jerr) : NULL;
            const char *kind = json_string_value(json_object_get(spec, "kind"));
            if (spec && kind && !strcmp(kind, CDI_KIND) && json_is_array(json_object_get(spec, "devices"))) {
                ob->gpu.cdi = spec;
                snprintf(ob->gpu.cdi_path, sizeof ob->gpu.cdi_path, "%s", path);
            } else {
                json_decref(spec);
            }
            free(names[i]);
        }
    }
}

/* The spec's entry for host GPU i: named by its index or its UUID. */
static json_t *cdi_device(const struct oci_backend *ob, uint32_t i)
{
    char idx[16];
    snprintf(idx, sizeof idx, "%u", i);
    size_t k;
    json_t *dev;
    json_array_foreach(json_object_get(ob->gpu.cdi, "devices"), k, dev)
    {
        const char *name = json_string_value(json_object_get(dev, "name"));
        if (name && (!strcmp(name, idx) || (ob->gpu.nodes[i].uuid[0] && !strcmp(name, ob->gpu.nodes[i].uuid))))
            return dev;
    }
    return NULL;
}

/* How many invocations share a GPU at once, for MPS's thread share. */
static uint32_t gpu_sharers(const struct ilu_gpu_resource_config *want, const struct ilu_gpu_found *found)
{
    if (want->concurrent_running_funcs)
        return want->concurrent_running_funcs;
    if (want->funcs_per_device)
        return want->funcs_per_device;
    uint32_t mem = want->memory_mb ? want->memory_mb : found->n ? found->dev[0].memory_mb : 0;
    if (want->per_func_memory_mb && mem >= want->per_func_memory_mb)
        return mem / want->per_func_memory_mb;
    return 1;
}

int oci_gpu_setup(struct oci_backend *ob, const struct ilu_gpu_resource_config *want, const struct ilu_gpu_found *found,
                  const struct ilu_os_gpu_node *nodes, struct ilu_error *err)
{
    struct oci_gpu *g = &ob->gpu;
    g->n = (unsigned)(found->n < ILU_GPU_MAX ? found->n : ILU_GPU_MAX);
    memcpy(g->nodes, nodes, g->n * sizeof *nodes);
    g->lib_dir[0] = g->bin_dir[0] = 0;
    if (want->driver_lib_dir[0]) {
        struct stat st;
        int rc = stat(want->driver_lib_dir, &st);
        if (rc != 0 || !S_ISDIR(st.st_mode))
            return ilu_err(err, ILU_ST_INTERNAL, "gpu",
                           "container_resources.gpu_resource.driver_lib_dir %s is not a folder: %s",
                           want->driver_lib_dir, rc ? strerror(errno) : "not a directory");
        snprintf(g->lib_dir, sizeof g->lib_dir, "%s", want->driver_lib_dir);
        char bin[sizeof g->bin_dir], real[PATH_MAX];
        snprintf(bin, sizeof bin, "%s/../bin", g->lib_dir);
        if (realpath(bin, real) && stat(real, &st) == 0 && S_ISDIR(st.st_mode))
            snprintf(g->bin_dir, sizeof g->bin_dir, "%s", real);
    }
    json_decref(g->cdi);
    g->cdi = NULL;
    cdi_load(ob);
    if (g->cdi) {
        for (unsigned i = 0; i < g->n && i < want->count; i++)
            if (!cdi_device(ob, i))
                ilu_warn(ob->log, "startup",
                         "oci backend: CDI spec %s has no device \"%u\" (nor %s): GPU %u gets the built-in "
                         "device list",
                         g->cdi_path, i, g->nodes[i].uuid[0] ? g->nodes[i].uuid : "its UUID", i);
        if (json_object_get(json_object_get(g->cdi, "containerEdits"), "hooks"))
            ilu_warn(ob->log, "startup", "oci backend: CDI spec %s has hooks, which are not run", g->cdi_path);
    }
    g->mps = want->use_standalone_mps;
    uint32_t sharers = gpu_sharers(want, found);
    g->mps_thread_pct = sharers ? 100 / sharers : 100;
    if (g->mps_thread_pct < 1)
        g->mps_thread_pct = 1;
    g->mps_mem_limit_mb = want->per_func_memory_mb;
    if (g->mps && oci_mps_start(ob, want->driver_lib_dir, err) != 0)
        return -1;
    g->on = true;
    oci_gpu_status_setup(ob, want);
    ilu_info(ob->log, "startup",
             "oci backend: GPU containers get %s, driver libraries %s, binaries %s; MPS %s (thread share %u%%)",
             g->cdi ? g->cdi_path : "the built-in device list", g->lib_dir[0] ? g->lib_dir : "from /usr",
             g->bin_dir[0] ? g->bin_dir : "from /usr", g->mps ? "on" : "off", g->mps_thread_pct);
    return 0;
}

void oci_gpu_stop(struct oci_backend *ob)
{
    oci_gpu_status_stop(ob);
    if (ob->gpu.mps_running)
        oci_mps_stop(ob);
    json_decref(ob->gpu.cdi);
    ob->gpu.cdi = NULL;
    ob->gpu.on = false;
}

/* ---- config.json edits ---- */

/* env gets KEY=value, replacing an entry of that KEY (the first of a name
 * is the one getenv sees). */
static void env_set(json_t *env, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t klen = eq ? (size_t)(eq - kv) + 1 : strlen(kv);
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        const char *s = json_string_value(e);
        if (s && !strncmp(s, kv, klen)) {
            json_array_set_new(env, i, json_string(kv));
            return;
        }
    }
    json_array_append_new(env, json_string(kv));
}

/* KEY=dir before (prepend) or after what KEY already has. */
static void env_add_dir(json_t *env, const char *key, const char *dir, bool prepend)
{
    size_t klen = strlen(key), i;
    json_t *e;
    char kv[4096];
    json_array_foreach(env, i, e)
    {
        const char *s = json_string_value(e);
        if (s && !strncmp(s, key, klen) && s[klen] == '=') {
            if (prepend)
                snprintf(kv, sizeof kv, "%s=%s:%s", key, dir, s + klen + 1);
            else
                snprintf(kv, sizeof kv, "%s:%s", s, dir);
            json_array_set_new(env, i, json_string(kv));
            return;
        }
    }
    snprintf(kv, sizeof kv, "%s=%s", key, dir);
    json_array_append_new(env, json_string(kv));
}

static json_t *bind_mount(const char *dest, const char *src, bool ro)
{
    return ro ? json_pack("{s:s, s:s, s:s, s:[s, s, s, s]}", "destination", dest, "type", "bind", "source", src,
                          "options", "rbind", "ro", "nosuid", "nodev")
              : json_pack("{s:s, s:s, s:s, s:[s, s, s, s]}", "destination", dest, "type", "bind", "source", src,
                          "options", "rbind", "nosuid", "nodev", "noexec");
}

/* Where a container's devices and their cgroup rules go. */
struct gpu_edits {
    json_t *devices; /* linux.devices */
    json_t *rules;   /* linux.resources.devices, after the default deny */
    json_t *mounts;
    json_t *env;
};

/* Node host (stat()ed now) at container path; cdi: its CDI deviceNode (type,
 * major, minor, fileMode, uid, gid, permissions override), or NULL. */
static int add_node(struct gpu_edits *ed, const char *path, const char *host, const json_t *cdi, struct ilu_error *err)
{
    struct stat st;
    bool given =
        cdi && json_is_integer(json_object_get(cdi, "major")) && json_is_integer(json_object_get(cdi, "minor"));
    if (stat(host, &st) != 0 && !given)
        return ilu_err(err, ILU_ST_INTERNAL, "gpu",
                       "GPU device %s is not there: %s (is the NVIDIA driver loaded? `nvidia-modprobe -u -c=0` "
                       "makes /dev/nvidia-uvm)",
                       host, strerror(errno));
    if (!given && !S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
        return ilu_err(err, ILU_ST_INTERNAL, "gpu", "GPU device %s is not a device node", host);
    const char *type = json_string_value(json_object_get(cdi, "type"));
    if (!type)
        type = given || S_ISCHR(st.st_mode) ? "c" : "b";
    json_int_t major = given ? json_integer_value(json_object_get(cdi, "major")) : (json_int_t)major(st.st_rdev);
    json_int_t minor = given ? json_integer_value(json_object_get(cdi, "minor")) : (json_int_t)minor(st.st_rdev);
    json_t *mode = json_object_get(cdi, "fileMode");
    json_int_t file_mode = json_is_integer(mode) ? json_integer_value(mode)
                           : given               ? 0666
                                                 : (json_int_t)(st.st_mode & 0777);
    json_t *uid = json_object_get(cdi, "uid"), *gid = json_object_get(cdi, "gid");
    const char *perms = json_string_value(json_object_get(cdi, "permissions"));
    json_array_append_new(ed->devices, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "path", path, "type", type,
                                                 "major", major, "minor", minor, "fileMode", file_mode, "uid",
                                                 json_is_integer(uid) ? json_integer_value(uid) : (json_int_t)0, "gid",
                                                 json_is_integer(gid) ? json_integer_value(gid) : (json_int_t)0));
    json_array_append_new(ed->rules, json_pack("{s:b, s:s, s:I, s:I, s:s}", "allow", 1, "type", type, "major", major,
                                               "minor", minor, "access", perms && *perms ? perms : "rwm"));
    return 0;
}

/* The built-in list: the nodes the H200 host needed, for host GPU i. */
static int builtin_edits(struct oci_backend *ob, uint32_t i, struct gpu_edits *ed, struct ilu_error *err)
{
    const struct oci_gpu *g = &ob->gpu;
    char host[PATH_MAX], path[PATH_MAX];
    char gpu_node[32];
    snprintf(gpu_node, sizeof gpu_node, "nvidia%d", g->nodes[i].minor);
    const char *required[] = {"nvidiactl", gpu_node, "nvidia-uvm"};
    for (size_t k = 0; k < 3; k++) {
        snprintf(host, sizeof host, "%s/%s", g->dev_dir, required[k]);
        snprintf(path, sizeof path, "/dev/%s", required[k]);
        if (add_node(ed, path, host, NULL, err) != 0)
            return -1;
    }
    snprintf(host, sizeof host, "%s/nvidia-uvm-tools", g->dev_dir);
    if (access(host, F_OK) == 0 && add_node(ed, "/dev/nvidia-uvm-tools", host, NULL, err) != 0)
        return -1;
    char caps[PATH_MAX];
    snprintf(caps, sizeof caps, "%s/nvidia-caps", g->dev_dir);
    DIR *dh = opendir(caps);
    if (dh) {
        struct dirent *e;
        char *names[64];
        size_t n = 0;
        while ((e = readdir(dh)) && n < 64)
            if (e->d_name[0] != '.' && (names[n] = strdup(e->d_name)))
                n++;
        closedir(dh);
        qsort(names, n, sizeof names[0], cmp_str);
        int rc = 0;
        for (size_t k = 0; k < n; k++) {
            snprintf(host, sizeof host, "%s/%s", caps, names[k]);
            snprintf(path, sizeof path, "/dev/nvidia-caps/%s", names[k]);
            if (rc == 0)
                rc = add_node(ed, path, host, NULL, err);
            free(names[k]);
        }
        if (rc)
            return -1;
    }
    if (g->lib_dir[0]) {
        json_array_append_new(ed->mounts, bind_mount(GPU_LIB_POINT, g->lib_dir, true));
        env_add_dir(ed->env, "LD_LIBRARY_PATH", GPU_LIB_POINT, true);
    }
    if (g->bin_dir[0]) {
        json_array_append_new(ed->mounts, bind_mount(GPU_BIN_POINT, g->bin_dir, true));
        env_add_dir(ed->env, "PATH", GPU_BIN_POINT, false);
    }
    return 0;
}

/* One CDI containerEdits object: deviceNodes, mounts, env (hooks are not run). */
static int cdi_apply(const json_t *edits, struct gpu_edits *ed, struct ilu_error *err)
{
    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(edits, "deviceNodes"), k, v)
    {
        const char *path = json_string_value(json_object_get(v, "path"));
        const char *host = json_string_value(json_object_get(v, "hostPath"));
        if (!path)
            return ilu_err(err, ILU_ST_INTERNAL, "gpu", "a CDI deviceNode has no path");
        if (add_node(ed, path, host ? host : path, v, err) != 0)
            return -1;
    }
    json_array_foreach(json_object_get(edits, "mounts"), k, v)
    {
        const char *host = json_string_value(json_object_get(v, "hostPath"));
        const char *dest = json_string_value(json_object_get(v, "containerPath"));
        const char *type = json_string_value(json_object_get(v, "type"));
        json_t *opts = json_object_get(v, "options");
        if (!host || !dest)
            return ilu_err(err, ILU_ST_INTERNAL, "gpu", "a CDI mount lacks hostPath or containerPath");
        json_t *o =
            json_is_array(opts) ? json_deep_copy(opts) : json_pack("[s, s, s, s]", "rbind", "ro", "nosuid", "nodev");
        json_array_append_new(ed->mounts, json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type",
                                                    type ? type : "bind", "source", host, "options", o));
    }
    json_array_foreach(json_object_get(edits, "env"), k, v)
    {
        if (json_string_value(v) && strchr(json_string_value(v), '='))
            env_set(ed->env, json_string_value(v));
    }
    return 0;
}

/* MPS: the daemon's pipes, this container's share of the GPU, and the
 * host's IPC namespace and /dev/shm, which MPS clients share with the
 * server. */
static void mps_edits(struct oci_backend *ob, json_t *cfg, struct gpu_edits *ed)
{
    const struct oci_gpu *g = &ob->gpu;
    char kv[128];
    json_array_append_new(ed->mounts, bind_mount(MPS_POINT, g->mps_pipe_dir, false));
    env_set(ed->env, "CUDA_MPS_PIPE_DIRECTORY=" MPS_POINT);
    snprintf(kv, sizeof kv, "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=%u", g->mps_thread_pct);
    env_set(ed->env, kv);
    if (g->mps_mem_limit_mb) { /* the client sees its one GPU as device 0 */
        snprintf(kv, sizeof kv, "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=%uM", g->mps_mem_limit_mb);
        env_set(ed->env, kv);
    }
    json_t *ns = json_object_get(json_object_get(cfg, "linux"), "namespaces");
    size_t i;
    json_t *e;
    json_array_foreach(ns, i, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        if (type && !strcmp(type, "ipc")) {
            json_array_remove(ns, i);
            break;
        }
    }
    json_array_foreach(ed->mounts, i, e)
    {
        const char *dest = json_string_value(json_object_get(e, "destination"));
        if (dest && !strcmp(dest, "/dev/shm")) {
            json_array_set_new(ed->mounts, i, bind_mount("/dev/shm", "/dev/shm", false));
            break;
        }
    }
}

int oci_gpu_edit_config(struct oci_backend *ob, uint32_t gpu, json_t *cfg, struct ilu_error *err)
{
    const struct oci_gpu *g = &ob->gpu;
    if (!g->on)
        return ilu_err(err, ILU_ST_INTERNAL, "gpu", "GPU %u asked for, but the backend has set up no GPUs", gpu);
    if (gpu >= g->n)
        return ilu_err(err, ILU_ST_INTERNAL, "gpu", "GPU %u asked for, but the host has %u", gpu, g->n);
    json_t *linux_ = json_object_get(cfg, "linux");
    json_t *res = json_object_get(linux_, "resources");
    struct gpu_edits ed = {
        .devices = json_object_get(linux_, "devices"),
        .rules = json_object_get(res, "devices"),
        .mounts = json_object_get(cfg, "mounts"),
        .env = json_object_get(json_object_get(cfg, "process"), "env"),
    };
    if (!ed.devices) {
        ed.devices = json_array();
        json_object_set_new(linux_, "devices", ed.devices);
    }
    if (!ed.rules || !ed.mounts || !ed.env)
        return ilu_err(err, ILU_ST_INTERNAL, "gpu", "config.json lacks resources.devices, mounts or env");
    json_t *dev = g->cdi ? cdi_device(ob, gpu) : NULL;
    int rc = dev ? cdi_apply(json_object_get(g->cdi, "containerEdits"), &ed, err) ||
                       cdi_apply(json_object_get(dev, "containerEdits"), &ed, err)
                 : builtin_edits(ob, gpu, &ed, err);
    if (rc)
        return ilu_err_wrap(err, "GPU %u%s%s", gpu, dev ? " from CDI spec " : "", dev ? g->cdi_path : "");
    /* CUDA sees the GPUs whose nodes it can open, here one; its UUID
     * makes sure of it (an MPS server sees them all). Without a UUID
     * (found by nvidia-smi) the one node must do. */
    if (g->nodes[gpu].uuid[0]) {
        char kv[160];
        snprintf(kv, sizeof kv, "CUDA_VISIBLE_DEVICES=%s", g->nodes[gpu].uuid);
        env_set(ed.env, kv);
        snprintf(kv, sizeof kv, "NVIDIA_VISIBLE_DEVICES=%s", g->nodes[gpu].uuid);
        env_set(ed.env, kv);
    }
    if (g->mps)
        mps_edits(ob, cfg, &ed);
    return 0;
}
