/* GPU containers of the oci backend (src/backend/oci/gpu_bundle.c,
 * gpu_mps.c) without a GPU: config.json made against fake device nodes
 * (mknod, as root; skipped otherwise) in a device folder of the test's
 * own, checked field by field; a CDI spec written here; MPS with a
 * stand-in nvidia-cuda-mps-control that records how it was called; and
 * the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "backend/oci/oci_int.h"

struct fx {
    char base[64];
    char dev[128], lib[128], bin[128], cdi[128], state[128];
    struct oci_backend *ob;
};

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static int make_node(const char *dir, const char *name, unsigned major, unsigned minor)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (mknod(path, S_IFCHR | 0666, makedev(major, minor)) != 0)
        return -1;
    return chmod(path, 0666); /* past the umask, as the driver makes them */
}

/* A device folder like an H200 host's (nvidia0, nvidia1 for two GPUs), the
 * driver's lib64 and bin folders side by side, an empty CDI folder. */
static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->base, sizeof f->base, "/tmp/ilu-gpu-XXXXXX");
    assert_non_null(mkdtemp(f->base));
    snprintf(f->dev, sizeof f->dev, "%s/dev", f->base);
    snprintf(f->lib, sizeof f->lib, "%s/nvidia/lib64", f->base);
    snprintf(f->bin, sizeof f->bin, "%s/nvidia/bin", f->base);
    snprintf(f->cdi, sizeof f->cdi, "%s/cdi", f->base);
    snprintf(f->state, sizeof f->state, "%s/state", f->base);
    char caps[160];
    snprintf(caps, sizeof caps, "%s/nvidia-caps", f->dev);
    assert_int_equal(oci_mkdir_p(caps, 0755), 0);
    assert_int_equal(oci_mkdir_p(f->lib, 0755), 0);
    assert_int_equal(oci_mkdir_p(f->bin, 0755), 0);
    assert_int_equal(oci_mkdir_p(f->cdi, 0755), 0);
    assert_int_equal(oci_mkdir_p(f->state, 0700), 0);
    *state = f;
    if (make_node(f->dev, "nvidiactl", 195, 255) != 0) {
        print_message("mknod needs root: skipped\n");
        return 0;
    }
    assert_int_equal(make_node(f->dev, "nvidia0", 195, 0), 0);
    assert_int_equal(make_node(f->dev, "nvidia1", 195, 1), 0);
    assert_int_equal(make_node(f->dev, "nvidia-uvm", 510, 0), 0);
    assert_int_equal(make_node(f->dev, "nvidia-uvm-tools", 510, 1), 0);
    assert_int_equal(make_node(caps, "nvidia-cap2", 235, 2), 0);
    assert_int_equal(make_node(caps, "nvidia-cap1", 235, 1), 0);
    f->ob = calloc(1, sizeof *f->ob);
    oci_gpu_defaults(f->ob);
    snprintf(f->ob->gpu.dev_dir, sizeof f->ob->gpu.dev_dir, "%s", f->dev);
    snprintf(f->ob->gpu.cdi_dirs, sizeof f->ob->gpu.cdi_dirs, "%s", f->cdi);
    snprintf(f->ob->state_dir, sizeof f->ob->state_dir, "%s", f->state);
    snprintf(f->ob->agent_file, sizeof f->ob->agent_file, "agent.py");
    snprintf(f->ob->agent_dir, sizeof f->ob->agent_dir, "/usr/share/iluvatar/agent");
    snprintf(f->ob->rootfs_dir, sizeof f->ob->rootfs_dir, "%s/rootfs", f->base);
    snprintf(f->ob->python, sizeof f->ob->python, "/usr/bin/python3");
    snprintf(f->ob->cgroup_parent, sizeof f->ob->cgroup_parent, "iluvatar");
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    if (f->ob)
        oci_gpu_stop(f->ob);
    free(f->ob);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->base);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

#define NEED_ROOT(f)  \
    do {              \
        if (!(f)->ob) \
            skip();   \
    } while (0)

/* Two GPUs as NVML finds them: host GPU 0 is /dev/nvidia1 (minors need
 * not follow the index), GPU 1 /dev/nvidia0 with no UUID. */
static void fx_gpus(struct fx *f, struct ilu_gpu_resource_config *want, struct ilu_gpu_found *found,
                    struct ilu_os_gpu_node *nodes)
{
    memset(want, 0, sizeof *want);
    memset(found, 0, sizeof *found);
    memset(nodes, 0, 2 * sizeof *nodes);
    want->count = 2;
    snprintf(want->driver_lib_dir, sizeof want->driver_lib_dir, "%s", f->lib);
    found->n = 2;
    snprintf(found->dev[0].name, sizeof found->dev[0].name, "NVIDIA H200");
    found->dev[0].memory_mb = found->dev[1].memory_mb = 143771;
    nodes[0].minor = 1;
    snprintf(nodes[0].uuid, sizeof nodes[0].uuid, "GPU-8f1e2d3c-0000-1111-2222-333344445555");
    nodes[1].minor = 0;
}

/* config.json of container id on GPU gpu (-1: none); NULL and err set on a refusal. */
static json_t *bundle(struct fx *f, const char *id, int gpu, struct ilu_error *err)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s/%s", f->base, id);
    if (oci_write_bundle(f->ob, dir, id, "/tmp", NULL, false, 256, 1, NULL, gpu, err) != 0)
        return NULL;
    char path[300];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_error_t jerr;
    json_t *cfg = json_load_file(path, 0, &jerr);
    assert_non_null(cfg);
    return cfg;
}

static bool env_has(const json_t *cfg, const char *kv)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(json_object_get(cfg, "process"), "env"), i, e)
    {
        if (!strcmp(json_string_value(e), kv))
            return true;
    }
    return false;
}

static const char *env_get(const json_t *cfg, const char *key)
{
    size_t i, n = strlen(key);
    json_t *e;
    json_array_foreach(json_object_get(json_object_get(cfg, "process"), "env"), i, e)
    {
        const char *s = json_string_value(e);
        if (!strncmp(s, key, n) && s[n] == '=')
            return s + n + 1;
    }
    return NULL;
}

static const json_t *mount_at(const json_t *cfg, const char *dest)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(cfg, "mounts"), i, m)
    {
        if (!strcmp(json_string_value(json_object_get(m, "destination")), dest))
            return m;
    }
    return NULL;
}

static bool has_ipc_namespace(const json_t *cfg)
{
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(json_object_get(cfg, "linux"), "namespaces"), i, n)
    {
        if (!strcmp(json_string_value(json_object_get(n, "type")), "ipc"))
            return true;
    }
    return false;
}

static void assert_node(const json_t *devices, const json_t *rules, size_t i, const char *path, int major, int minor)
{
    json_t *d = json_array_get(devices, i);
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "path")), path);
    assert_string_equal(json_string_value(json_object_get(d, "type")), "c");
    assert_int_equal(json_integer_value(json_object_get(d, "major")), major);
    assert_int_equal(json_integer_value(json_object_get(d, "minor")), minor);
    assert_int_equal(json_integer_value(json_object_get(d, "fileMode")), 0666);
    assert_int_equal(json_integer_value(json_object_get(d, "uid")), 0);
    /* rule i + 1: the first is the default deny */
    json_t *r = json_array_get(rules, i + 1);
    assert_non_null(r);
    assert_true(json_is_true(json_object_get(r, "allow")));
    assert_string_equal(json_string_value(json_object_get(r, "type")), "c");
    assert_int_equal(json_integer_value(json_object_get(r, "major")), major);
    assert_int_equal(json_integer_value(json_object_get(r, "minor")), minor);
    assert_string_equal(json_string_value(json_object_get(r, "access")), "rwm");
}

static void builtin_list_gives_one_gpu_its_nodes_rules_and_libraries(void **state)
{
    struct fx *f = *state;
    NEED_ROOT(f);
    struct ilu_gpu_resource_config want;
    struct ilu_gpu_found found;
    struct ilu_os_gpu_node nodes[2];
    fx_gpus(f, &want, &found, nodes);
    struct ilu_error err = {0};
    assert_int_equal(oci_gpu_setup(f->ob, &want, &found, nodes, &err), 0);
    json_t *cfg = bundle(f, "g0", 0, &err);
    assert_non_null(cfg);
    json_t *linux_ = json_object_get(cfg, "linux");
    json_t *devices = json_object_get(linux_, "devices");
    json_t *rules = json_object_get(json_object_get(linux_, "resources"), "devices");
    assert_int_equal(json_array_size(devices), 6);
    assert_int_equal(json_array_size(rules), 7);
    /* the default deny stays first */
    assert_false(json_is_true(json_object_get(json_array_get(rules, 0), "allow")));
    assert_node(devices, rules, 0, "/dev/nvidiactl", 195, 255);
    assert_node(devices, rules, 1, "/dev/nvidia1", 195, 1); /* GPU 0's minor, not its index */
    assert_node(devices, rules, 2, "/dev/nvidia-uvm", 510, 0);
    assert_node(devices, rules, 3, "/dev/nvidia-uvm-tools", 510, 1);
    assert_node(devices, rules, 4, "/dev/nvidia-caps/nvidia-cap1", 235, 1);
    assert_node(devices, rules, 5, "/dev/nvidia-caps/nvidia-cap2", 235, 2);
    /* the driver's folders, read-only */
    const json_t *lib = mount_at(cfg, "/iluvatar/nvidia/lib");
    assert_non_null(lib);
    assert_string_equal(json_string_value(json_object_get(lib, "source")), f->lib);
    json_t *opts = json_object_get(lib, "options");
    assert_string_equal(json_string_value(json_array_get(opts, 1)), "ro");
    const json_t *bin = mount_at(cfg, "/iluvatar/nvidia/bin");
    assert_non_null(bin);
    char real_bin[PATH_MAX];
    assert_non_null(realpath(f->bin, real_bin));
    assert_string_equal(json_string_value(json_object_get(bin, "source")), real_bin);
    assert_string_equal(env_get(cfg, "LD_LIBRARY_PATH"), "/iluvatar/nvidia/lib");
    assert_string_equal(env_get(cfg, "PATH"), "/usr/local/bin:/usr/bin:/bin:/iluvatar/nvidia/bin");
    assert_true(env_has(cfg, "CUDA_VISIBLE_DEVICES=GPU-8f1e2d3c-0000-1111-2222-333344445555"));
    assert_true(env_has(cfg, "NVIDIA_VISIBLE_DEVICES=GPU-8f1e2d3c-0000-1111-2222-333344445555"));
    /* no MPS: its own IPC namespace and /dev/shm, no MPS variables */
    assert_true(has_ipc_namespace(cfg));
    assert_string_equal(json_string_value(json_object_get(mount_at(cfg, "/dev/shm"), "type")), "tmpfs");
    assert_null(env_get(cfg, "CUDA_MPS_PIPE_DIRECTORY"));
    assert_null(mount_at(cfg, "/iluvatar/mps"));
    json_decref(cfg);

    /* GPU 1: /dev/nvidia0; no UUID, so CUDA sees the one node it has */
    cfg = bundle(f, "g1", 1, &err);
    devices = json_object_get(json_object_get(cfg, "linux"), "devices");
    assert_string_equal(json_string_value(json_object_get(json_array_get(devices, 1), "path")), "/dev/nvidia0");
    assert_null(env_get(cfg, "CUDA_VISIBLE_DEVICES"));
    json_decref(cfg);
}

static void cpu_container_gets_nothing_of_the_gpus(void **state)
{
    struct fx *f = *state;
    NEED_ROOT(f);
    struct ilu_gpu_resource_config want;
    struct ilu_gpu_found found;
    struct ilu_os_gpu_node nodes[2];
    fx_gpus(f, &want, &found, nodes);
    struct ilu_error err = {0};
    assert_int_equal(oci_gpu_setup(f->ob, &want, &found, nodes, &err), 0);
    json_t *cfg = bundle(f, "cpu", -1, &err);
    assert_non_null(cfg);
    assert_null(json_object_get(json_object_get(cfg, "linux"), "devices"));
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(json_object_get(cfg, "linux"), "resources"), "devices")), 1);
    assert_null(mount_at(cfg, "/iluvatar/nvidia/lib"));
    assert_null(env_get(cfg, "LD_LIBRARY_PATH"));
    assert_null(env_get(cfg, "CUDA_VISIBLE_DEVICES"));
    json_decref(cfg);
}

static void missing_node_or_gpu_is_refused_naming_it(void **state)
{
    struct fx *f = *state;
    NEED_ROOT(f);
    struct ilu_gpu_resource_config want;
    struct ilu_gpu_found found;
    struct ilu_os_gpu_node nodes[2];
    fx_gpus(f, &want, &found, nodes);
    struct ilu_error err = {0};
    /* not set up (count 0, or discovery not asked): refused */
    assert_null(bundle(f, "early", 0, &err));
    assert_non_null(strstr(err.msg, "set up no GPUs"));
    assert_int_equal(oci_gpu_setup(f->ob, &want, &found, nodes, &err), 0);
    memset(&err, 0, sizeof err);
    assert_null(bundle(f, "far", 2, &err));
    assert_non_null(strstr(err.msg, "GPU 2 asked for, but the host has 2"));
    char uvm[256];
    snprintf(uvm, sizeof uvm, "%s/nvidia-uvm", f->dev);
    unlink(uvm);
    memset(&err, 0, sizeof err);
    assert_null(bundle(f, "nouvm", 0, &err));
    assert_non_null(strstr(err.msg, "container nouvm"));
    assert_non_null(strstr(err.msg, uvm));
    assert_non_null(strstr(err.msg, "is not there"));
    /* a regular file is not a device node */
    write_text(uvm, "", 0644);
    memset(&err, 0, sizeof err);
    assert_null(bundle(f, "fileuvm", 0, &err));
    assert_non_null(strstr(err.msg, "is not a device node"));
    /* a driver library folder that is not there */
    snprintf(want.driver_lib_dir, sizeof want.driver_lib_dir, "%s/nowhere", f->base);
    memset(&err, 0, sizeof err);
    assert_int_equal(oci_gpu_setup(f->ob, &want, &found, nodes, &err), -1);
    assert_non_null(strstr(err.msg, "driver_lib_dir"));
    assert_non_null(strstr(err.msg, "nowhere is not a folder"));
}

static void cdi_spec_replaces_the_builtin_list(void **state)
{
    struct fx *f = *state;
    NEED_ROOT(f);
    char path[256], text[2048];
    /* another kind, and YAML, are not taken */
    snprintf(path, sizeof path, "%s/a-other.json", f->cdi);
    write_text(path, "{\"cdiVersion\": \"0.5.0\", \"kind\": \"vendor.com/fpga\", \"devices\": []}", 0644);
    snprintf(path, sizeof path, "%s/nvidia.yaml", f->cdi);
    write_text(path, "kind: nvidia.com/gpu\n", 0644);
    snprintf(path, sizeof path, "%s/nvidia.json", f->cdi);
    snprintf(text, sizeof text,
             "{\"cdiVersion\": \"0.5.0\", \"kind\": \"nvidia.com/gpu\","
             " \"devices\": [{\"name\": \"GPU-8f1e2d3c-0000-1111-2222-333344445555\", \"containerEdits\":"
             "   {\"deviceNodes\": [{\"path\": \"/dev/nvidia1\", \"hostPath\": \"%s/nvidia1\"}]}},"
             "  {\"name\": \"1\", \"containerEdits\": {\"deviceNodes\": [{\"path\": \"/dev/nvidia0\","
             "   \"type\": \"c\", \"major\": 195, \"minor\": 0, \"permissions\": \"rw\"}]}}],"
             " \"containerEdits\": {\"env\": [\"NVIDIA_VISIBLE_DEVICES=void\", \"NVIDIA_CTK_LIBCUDA_DIR=/usr/lib\"],"
             "  \"deviceNodes\": [{\"path\": \"/dev/nvidiactl\", \"hostPath\": \"%s/nvidiactl\"}],"
             "  \"mounts\": [{\"hostPath\": \"/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15\","
             "   \"containerPath\": \"/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15\","
             "   \"options\": [\"ro\", \"nosuid\", \"nodev\", \"bind\"]}]}}",
             f->dev, f->dev);
    write_text(path, text, 0644);
    struct ilu_gpu_resource_config want;
    struct ilu_gpu_found found;
    struct ilu_os_gpu_node nodes[2];
    fx_gpus(f, &want, &found, nodes);
    struct ilu_error err = {0};
    assert_int_equal(oci_gpu_setup(f->ob, &want, &found, nodes, &err), 0);
    assert_string_equal(f->ob->gpu.cdi_path, path);
    json_t *cfg = bundle(f, "cdi0", 0, &err);
    assert_non_null(cfg);
    json_t *devices = json_object_get(json_object_get(cfg, "linux"), "devices");
    json_t *rules = json_object_get(json_object_get(json_object_get(cfg, "linux"), "resources"), "devices");
    /* the spec's nodes only (common ones first), found by the GPU's UUID */
    assert_int_equal(json_array_size(devices), 2);
    assert_node(devices, rules, 0, "/dev/nvidiactl", 195, 255);
    assert_node(devices, rules, 1, "/dev/nvidia1", 195, 1);
    const json_t *m = mount_at(cfg, "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15");
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "type")), "bind");
    assert_string_equal(json_string_value(json_array_get(json_object_get(m, "options"), 3)), "bind");
    assert_null(mount_at(cfg, "/iluvatar/nvidia/lib")); /* the spec says what to mount */
    assert_true(env_has(cfg, "NVIDIA_CTK_LIBCUDA_DIR=/usr/lib"));
    /* the spec's "void" gives way to the GPU's UUID */
    assert_string_equal(env_get(cfg, "NVIDIA_VISIBLE_DEVICES"), "GPU-8f1e2d3c-0000-1111-2222-333344445555");
    json_decref(cfg);
    /* GPU 1 by its index; the node as the spec gives it, with its permissions */
    cfg = bundle(f, "cdi1", 1, &err);
    assert_non_null(cfg);
    devices = json_object_get(json_object_get(cfg, "linux"), "devices");
    rules = json_object_get(json_object_get(json_object_get(cfg, "linux"), "resources"), "devices");
    assert_string_equal(json_string_value(json_object_get(json_array_get(devices, 1), "path")), "/dev/nvidia0");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rules, 2), "access")), "rw");
    json_decref(cfg);
}

/* A stand-in control daemon in the driver's bin folder: it records its
 * arguments, its environment's MPS folders and, without -d, its stdin. */
static char *fake_mps(struct fx *f)
{
    char path[256], script[1024];
    static char calls[256];
    snprintf(calls, sizeof calls, "%s/mps-calls", f->base);
    snprintf(path, sizeof path, "%s/nvidia-cuda-mps-control", f->bin);
    snprintf(script, sizeof script,
             "#!/bin/sh\n{ echo \"args: $*\"; echo \"pipe: $CUDA_MPS_PIPE_DIRECTORY\";"
             " echo \"log: $CUDA_MPS_LOG_DIRECTORY\"; [ \"$1\" = -d ] || echo \"stdin: $(cat)\"; } >>%s\n",
             calls);
    write_text(path, script, 0755);
    return calls;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = 0;
    fclose(fp);
    return buf;
}

static void mps_daemon_started_and_containers_are_its_clients(void **state)
{
    struct fx *f = *state;
    NEED_ROOT(f);
    const char *calls = fake_mps(f);
    struct ilu_gpu_resource_config want;
    struct ilu_gpu_found found;
    struct ilu_os_gpu_node nodes[2];
    fx_gpus(f, &want, &found, nodes);
    want.use_standalone_mps = true;
    want.concurrent_running_funcs = 3;
    want.per_func_memory_mb = 2048;
    struct ilu_error err = {0};
    assert_int_equal(oci_gpu_setup(f->ob, &want, &found, nodes, &err), 0);
    char pipe[256], logd[256], want_calls[1024];
    snprintf(pipe, sizeof pipe, "%s/mps/pipe", f->state);
    snprintf(logd, sizeof logd, "%s/mps/log", f->state);
    /* a quit for a daemon an earlier run may have left, then -d */
    snprintf(want_calls, sizeof want_calls, "args: \npipe: %s\nlog: %s\nstdin: quit\nargs: -d\npipe: %s\nlog: %s\n",
             pipe, logd, pipe, logd);
    assert_string_equal(slurp(calls), want_calls);

    json_t *cfg = bundle(f, "mps0", 0, &err);
    assert_non_null(cfg);
    assert_string_equal(env_get(cfg, "CUDA_MPS_PIPE_DIRECTORY"), "/iluvatar/mps");
    assert_string_equal(env_get(cfg, "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"), "33"); /* 100 / 3 */
    assert_string_equal(env_get(cfg, "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"), "0=2048M");
    const json_t *m = mount_at(cfg, "/iluvatar/mps");
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "source")), pipe);
    /* MPS clients share the host's IPC namespace and /dev/shm with the server */
    assert_false(has_ipc_namespace(cfg));
    assert_string_equal(json_string_value(json_object_get(mount_at(cfg, "/dev/shm"), "source")), "/dev/shm");
    assert_string_equal(json_string_value(json_object_get(mount_at(cfg, "/dev/shm"), "type")), "bind");
    json_decref(cfg);

    oci_gpu_stop(f->ob);
    assert_false(f->ob->gpu.mps_running);
    strncat(want_calls, "args: \n", sizeof want_calls - strlen(want_calls) - 1);
    char tail[600];
    snprintf(tail, sizeof tail, "pipe: %s\nlog: %s\nstdin: quit\n", pipe, logd);
    strncat(want_calls, tail, sizeof want_calls - strlen(want_calls) - 1);
    assert_string_equal(slurp(calls), want_calls);
}

static void mps_share_is_at_least_one_percent(void **state)
{
    struct fx *f = *state;
    NEED_ROOT(f);
    fake_mps(f);
    struct ilu_gpu_resource_config want;
    struct ilu_gpu_found found;
    struct ilu_os_gpu_node nodes[2];
    fx_gpus(f, &want, &found, nodes);
    want.use_standalone_mps = true;
    want.funcs_per_device = 200; /* no concurrent_running_funcs: its spots share it */
    struct ilu_error err = {0};
    assert_int_equal(oci_gpu_setup(f->ob, &want, &found, nodes, &err), 0);
    assert_int_equal(f->ob->gpu.mps_thread_pct, 1);
    json_t *cfg = bundle(f, "mps1", 0, &err);
    assert_string_equal(env_get(cfg, "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"), "1");
    assert_null(env_get(cfg, "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"));
    json_decref(cfg);
}

static void mps_without_its_binary_is_refused_naming_where_it_looked(void **state)
{
    struct fx *f = *state;
    NEED_ROOT(f);
    char probe[PATH_MAX], looked[600];
    if (ilu_os_gpu_find_tool("nvidia-cuda-mps-control", NULL, probe, sizeof probe, looked, sizeof looked) == 0)
        skip(); /* a GPU host */
    struct ilu_gpu_resource_config want;
    struct ilu_gpu_found found;
    struct ilu_os_gpu_node nodes[2];
    fx_gpus(f, &want, &found, nodes);
    want.use_standalone_mps = true;
    struct ilu_error err = {0};
    assert_int_equal(oci_gpu_setup(f->ob, &want, &found, nodes, &err), -1);
    assert_non_null(strstr(err.msg, "use_standalone_mps needs the MPS control daemon: no nvidia-cuda-mps-control"));
    assert_non_null(strstr(err.msg, "/nvidia/lib64/../bin"));
    assert_non_null(strstr(err.msg, "on PATH, in /usr/bin or /usr/local/nvidia/bin"));
    assert_false(f->ob->gpu.on);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(builtin_list_gives_one_gpu_its_nodes_rules_and_libraries, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(cpu_container_gets_nothing_of_the_gpus, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(missing_node_or_gpu_is_refused_naming_it, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(cdi_spec_replaces_the_builtin_list, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(mps_daemon_started_and_containers_are_its_clients, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(mps_share_is_at_least_one_percent, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(mps_without_its_binary_is_refused_naming_where_it_looked, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests_name("oci_gpu", tests, NULL, NULL);
}
