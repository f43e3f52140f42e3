/* What the runtime is given: the shared lean Python root and, per container,
 * a bundle dir holding config.json (written with jansson), the agent's
 * listening socket (sockets/sock, never mounted into the container: the
 * agent gets it as descriptor 3) and its stdout/stderr logs; for a generic
 * sandbox also function/, the shared mount point its function's folder is
 * attached to later (sandbox.c), which is why bundles are removed with
 * oci_rm_bundle. */
#include "oci_int.h"

#include "os/data_dir.h"
#include "os/file.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_SIZE "size=65536k"

int oci_mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        /* missing parents as mkdir -p makes them (traversable: a
         * user-namespaced container passes through them), the last one mode */
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Write via a temp file and rename: another worker may be reading it. */
static int write_file_atomic(const char *path, const char *text)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%.4000s.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    bool ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int oci_build_rootfs(struct oci_backend *ob, struct ilu_error *err)
{
    /* Every mount point must exist beforehand: the root is mounted read-only
     * and shared by all containers, so the runtime must not create any. */
    static const char *dirs[] = {"usr",
                                 "proc",
                                 "sys",
                                 "dev",
                                 "tmp",
                                 "etc",
                                 "function",
                                 "iluvatar/agent",
                                 "iluvatar/nvidia/lib",
                                 "iluvatar/nvidia/bin",
                                 "iluvatar/mps"};
    static const char *links[][2] = {
        {"bin", "usr/bin"}, {"lib", "usr/lib"}, {"lib64", "usr/lib64"}, {"sbin", "usr/sbin"}};
    static const char *files[][2] = {
        {"etc/passwd",
         "root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"},
        {"etc/group", "root:x:0:\nnogroup:x:65534:\n"},
        {"etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
    };
    char path[PATH_MAX + 64];
    if (oci_mkdir_p(ob->rootfs_dir, 0755) != 0)
        return ilu_err(err, ILU_ST_INTERNAL, "oci_init", "cannot create the root %s: %s", ob->rootfs_dir,
                       strerror(errno));
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", ob->rootfs_dir, dirs[i]);
        if (oci_mkdir_p(path, 0755) != 0)
            return ilu_err(err, ILU_ST_INTERNAL, "oci_init", "cannot create %s: %s", path, strerror(errno));
    }
    snprintf(path, sizeof path, "%s/tmp", ob->rootfs_dir);
    chmod(path, 01777);
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", ob->rootfs_dir, links[i][0]);
        char cur[PATH_MAX];
        ssize_t n = readlink(path, cur, sizeof cur - 1);
        if (n >= 0) {
            cur[n] = '\0';
            if (strcmp(cur, links[i][1]) == 0)
                continue;
            unlink(path);
        }
        if (symlink(links[i][1], path) != 0)
            return ilu_err(err, ILU_ST_INTERNAL, "oci_init", "cannot create the symlink %s: %s", path, strerror(errno));
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", ob->rootfs_dir, files[i][0]);
        if (write_file_atomic(path, files[i][1]) != 0)
            return ilu_err(err, ILU_ST_INTERNAL, "oci_init", "cannot write %s: %s", path, strerror(errno));
    }
    return 0;
}

int oci_resolve_agent(struct oci_backend *ob, const char *agent_path, struct ilu_error *err)
{
    char want[PATH_MAX + 32];
    if (agent_path && *agent_path) {
        snprintf(want, sizeof want, "%s", agent_path);
    } else {
        /* shipped with the binaries: build/../agent or PREFIX/share/iluvatar/agent */
        ilu_os_data_path("agent/agent.py", want, sizeof want);
    }
    char real[PATH_MAX];
    if (!realpath(want, real) || access(real, R_OK) != 0)
        return ilu_err(err, ILU_ST_INTERNAL, "oci_init",
                       "the container agent %s is not readable: %s "
                       "(set oci.agent_path)",
                       want, strerror(errno));
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", real);
    snprintf(ob->agent_file, sizeof ob->agent_file, "%s", basename(tmp));
    snprintf(tmp, sizeof tmp, "%s", real);
    snprintf(ob->agent_dir, sizeof ob->agent_dir, "%s", dirname(tmp));
    return 0;
}

/* ---- config.json ---- */

static json_t *str_array(const char *const *v)
{
    json_t *a = json_array();
    for (; v && *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

static json_t *mount_entry(const char *dest, const char *type, const char *src, const char *const *opts)
{
    return json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type", type, "source", src, "options",
                     str_array(opts));
}

static json_t *build_mounts(struct oci_backend *ob, const char *dir, const char *image, const struct oci_image *img,
                            bool pooled)
{
    static const char *proc_o[] = {"nosuid", "noexec", "nodev", NULL};
    static const char *dev_o[] = {"nosuid", "strictatime", "mode=755", "size=65536k", NULL};
    static const char *pts_o[] = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", NULL};
    static const char *shm_o[] = {"nosuid", "noexec", "nodev", "mode=1777", TMP_SIZE, NULL};
    static const char *mq_o[] = {"nosuid", "noexec", "nodev", NULL};
    static const char *sys_o[] = {"nosuid", "noexec", "nodev", "ro", NULL};
    static const char *usr_o[] = {"rbind", "ro", "nosuid", "nodev", NULL};
    static const char *tmp_o[] = {"nosuid", "nodev", "mode=1777", TMP_SIZE, NULL};
    static const char *fn_o[] = {"rbind", "ro", "nosuid", "nodev", NULL};
    /* rslave: what the host mounts on <bundle>/function later shows inside;
     * nothing mounted inside ever reaches the host. */
    static const char *pool_o[] = {"rbind", "rslave", "ro", "nosuid", "nodev", NULL};
    json_t *m = json_array();
    json_array_append_new(m, mount_entry("/proc", "proc", "proc", proc_o));
    json_array_append_new(m, mount_entry("/dev", "tmpfs", "tmpfs", dev_o));
    json_array_append_new(m, mount_entry("/dev/pts", "devpts", "devpts", pts_o));
    json_array_append_new(m, mount_entry("/dev/shm", "tmpfs", "shm", shm_o));
    json_array_append_new(m, mount_entry("/dev/mqueue", "mqueue", "mqueue", mq_o));
    json_array_append_new(m, mount_entry("/sys", "sysfs", "sysfs", sys_o));
    if (!img) /* an image brings its own /usr */
        json_array_append_new(m, mount_entry("/usr", "bind", "/usr", usr_o));
    json_array_append_new(m, mount_entry("/tmp", "tmpfs", "tmpfs", tmp_o));
    if (image) {
        json_array_append_new(m, mount_entry("/function", "bind", image, fn_o));
    } else if (pooled) {
        char point[PATH_MAX + 16];
        snprintf(point, sizeof point, "%s/function", dir);
        json_array_append_new(m, mount_entry("/function", "bind", point, pool_o));
    }
    json_array_append_new(m, mount_entry("/iluvatar/agent", "bind", ob->agent_dir, fn_o));
    if (img && ob->init_static[0])
        json_array_append_new(m, mount_entry("/iluvatar/init", "bind", ob->init_static, fn_o));
    return m;
}

static json_t *build_resources(struct oci_backend *ob, uint32_t memory_mb, uint32_t cpus)
{
    json_t *r = json_object();
    /* Deny all devices; the runtime adds the standard null/zero/urandom set. */
    json_object_set_new(r, "devices", json_pack("[{s:b, s:s}]", "allow", 0, "access", "rwm"));
    if (memory_mb) {
        json_int_t bytes = (json_int_t)memory_mb * 1024 * 1024;
        json_t *mem = json_pack("{s:I}", "limit", bytes);
        if (ob->memsw) /* memory+swap == memory: no swapping */
            json_object_set_new(mem, "swap", json_integer(bytes));
        json_object_set_new(r, "memory", mem);
    }
    if (cpus)
        json_object_set_new(r, "cpu",
                            json_pack("{s:I, s:I, s:I}", "shares", (json_int_t)cpus * 1024, "quota",
                                      (json_int_t)cpus * 100000, "period", (json_int_t)100000));
    if (ob->pids_limit)
        json_object_set_new(r, "pids", json_pack("{s:I}", "limit", (json_int_t)ob->pids_limit));
    return r;
}

static json_t *id_mapping(uint32_t host_id, uint32_t size)
{
    return json_pack("[{s:i, s:I, s:I}]", "containerID", 0, "hostID", (json_int_t)host_id, "size", (json_int_t)size);
}

/* The agent's command and environment: on the lean root, the host's Python
 * (-S: no site, nothing of the host's site-packages); in an image, the
 * image's own Python with its site (its packages) and Env. */
static void agent_process(struct oci_backend *ob, const struct oci_image *img, bool pooled, const char *agent,
                          const char **argv, json_t *env)
{
    size_t n = 0;
    if (img) {
        if (ob->init_static[0]) {
            argv[n++] = "/iluvatar/init";
            argv[n++] = "--";
        }
        argv[n++] = img->python;
    } else {
        if (ob->init[0]) {
            argv[n++] = ob->init;
            argv[n++] = "--";
        }
        argv[n++] = ob->python;
        argv[n++] = "-S";
    }
    argv[n++] = "-u";
    argv[n++] = agent;
    argv[n] = NULL;
    json_array_append_new(env, json_pack("s+", "ILU_FUNCTION_DIR=", img ? img->workdir : "/function"));
    if (pooled) /* no function yet: the agent waits for its load request */
        json_array_append_new(env, json_string("ILU_POOLED=1"));
    if (!img) {
        json_array_append_new(env, json_string("PATH=/usr/local/bin:/usr/bin:/bin"));
        json_array_append_new(env, json_string("LANG=C.UTF-8"));
        return;
    }
    bool has_path = false, has_lang = false;
    size_t i;
    json_t *e;
    json_array_foreach(img->env, i, e)
    {
        const char *kv = json_string_value(e);
        has_path |= !strncmp(kv, "PATH=", 5);
        has_lang |= !strncmp(kv, "LANG=", 5);
        json_array_append(env, e);
    }
    if (!has_path)
        json_array_append_new(env, json_string("PATH=/usr/local/bin:/usr/bin:/bin"));
    if (!has_lang)
        json_array_append_new(env, json_string("LANG=C.UTF-8"));
}

static json_t *build_config(struct oci_backend *ob, const char *dir, const char *id, const char *image,
                            const struct oci_image *img, bool pooled, uint32_t memory_mb, uint32_t cpus,
                            const char *const *args)
{
    static const char *masked[] = {"/proc/acpi",
                                   "/proc/asound",
                                   "/proc/kcore",
                                   "/proc/keys",
                                   "/proc/latency_stats",
                                   "/proc/timer_list",
                                   "/proc/timer_stats",
                                   "/proc/sched_debug",
                                   "/proc/scsi",
                                   "/sys/firmware",
                                   NULL};
    static const char *ro_paths[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL};
    char agent[320];
    snprintf(agent, sizeof agent, "/iluvatar/agent/%s", ob->agent_file);
    /* A tiny init (tini) as pid 1 reaps the orphans a function leaves and
     * lets signals a function sends itself take effect (pid 1 ignores them).
     * Ours come first: the first of a name is the one getenv sees. */
    const char *run[8];
    char max_result[48];
    snprintf(max_result, sizeof max_result, "ILU_MAX_RESULT_BYTES=%u", ob->max_result_bytes);
    json_t *env = json_pack("[s, s, s, s]", "ILU_AGENT_FD=3", "PYTHONDONTWRITEBYTECODE=1", "HOME=/tmp", max_result);
    agent_process(ob, img, pooled, agent, run, env);
    json_t *caps = json_object();
    static const char *cap_sets[] = {"bounding", "effective", "permitted", "inheritable", "ambient"};
    for (size_t i = 0; i < 5; i++)
        json_object_set_new(caps, cap_sets[i], json_array());

    json_t *process = json_pack("{s:b, s:{s:i, s:i}, s:o, s:o, s:s, s:o, s:b, s:[{s:s, s:I, s:I}]}", "terminal", 0,
                                "user", "uid", 0, "gid", 0, "args", str_array(args ? args : run), "env", env, "cwd",
                                img               ? img->workdir
                                : image || pooled ? "/function"
                                                  : "/",
                                "capabilities", caps, "noNewPrivileges", 1, "rlimits", "type", "RLIMIT_NOFILE", "hard",
                                (json_int_t)1024, "soft", (json_int_t)1024);

    json_t *ns = json_array();
    static const char *ns_types[] = {"pid", "network", "ipc", "uts", "mount"};
    for (size_t i = 0; i < 5; i++)
        json_array_append_new(ns, json_pack("{s:s}", "type", ns_types[i]));
    if (ob->userns)
        json_array_append_new(ns, json_pack("{s:s}", "type", "user"));
    if (ob->cgroupns)
        json_array_append_new(ns, json_pack("{s:s}", "type", "cgroup"));

    char cgpath[256];
    snprintf(cgpath, sizeof cgpath, "/%s/%s", ob->cgroup_parent, id);
    json_t *linux_ =
        json_pack("{s:o, s:s, s:o, s:o, s:o}", "resources", build_resources(ob, memory_mb, cpus), "cgroupsPath", cgpath,
                  "namespaces", ns, "maskedPaths", str_array(masked), "readonlyPaths", str_array(ro_paths));
    if (ob->userns) {
        json_object_set_new(linux_, "uidMappings", id_mapping(ob->userns_host_id, ob->userns_size));
        json_object_set_new(linux_, "gidMappings", id_mapping(ob->userns_host_id, ob->userns_size));
    }
    if (ob->seccomp)
        json_object_set(linux_, "seccomp", ob->seccomp);
    /* runc's default, which crun's is not: the container's copy of the
     * sandbox's mount point stays a slave of the host's. */
    if (pooled)
        json_object_set_new(linux_, "rootfsPropagation", json_string("rslave"));

    return json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", "1.0.2", "process", process, "root",
                     "path", img ? img->rootfs : ob->rootfs_dir, "readonly", 1, "hostname", "iluvatar", "mounts",
                     build_mounts(ob, dir, image, img, pooled), "linux", linux_);
}

/* <dir>/function becomes a mount point of its own, shared: a mount
 * attached on it later propagates to its slaves, the container's /function. */
static int make_shared_point(const char *dir, const char *id, struct ilu_error *err)
{
    char point[PATH_MAX + 16];
    snprintf(point, sizeof point, "%s/function", dir);
    if (mkdir(point, 0755) != 0 && errno != EEXIST)
        return ilu_err(err, ILU_ST_INTERNAL, "bundle", "container %s: cannot create %s: %s", id, point,
                       strerror(errno));
    if (mount(point, point, NULL, MS_BIND, NULL) != 0)
        return ilu_err(err, ILU_ST_INTERNAL, "bundle", "container %s: cannot bind-mount %s on itself: %s", id, point,
                       strerror(errno));
    if (mount(NULL, point, NULL, MS_SHARED, NULL) != 0)
        return ilu_err(err, ILU_ST_INTERNAL, "bundle", "container %s: cannot make %s a shared mount: %s", id, point,
                       strerror(errno));
    return 0;
}

int oci_write_bundle(struct oci_backend *ob, const char *dir, const char *id, const char *image,
                     const struct oci_image *img, bool pooled, uint32_t memory_mb, uint32_t cpus,
                     const char *const *args, int gpu, struct ilu_error *err)
{
    char sockets[PATH_MAX + 16], cfgpath[PATH_MAX + 16];
    snprintf(sockets, sizeof sockets, "%s/sockets", dir);
    snprintf(cfgpath, sizeof cfgpath, "%s/config.json", dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return ilu_err(err, ILU_ST_INTERNAL, "bundle", "container %s: cannot create the bundle dir %s: %s", id, dir,
                       strerror(errno));
    if (mkdir(sockets, 0700) != 0 && errno != EEXIST)
        return ilu_err(err, ILU_ST_INTERNAL, "bundle", "container %s: cannot create %s: %s", id, sockets,
                       strerror(errno));
    pooled = pooled && !image && !img && !args;
    if (pooled && make_shared_point(dir, id, err) != 0)
        return -1;
    json_t *cfg = build_config(ob, dir, id, image, img, pooled, memory_mb, cpus, args);
    if (!cfg)
        return ilu_err(err, ILU_ST_INTERNAL, "bundle", "container %s: cannot build config.json (out of memory?)", id);
    if (gpu >= 0 && oci_gpu_edit_config(ob, (uint32_t)gpu, cfg, err) != 0) {
        json_decref(cfg);
        return ilu_err_wrap(err, "container %s", id);
    }
    int rc = json_dump_file(cfg, cfgpath, JSON_COMPACT);
    json_decref(cfg);
    if (rc != 0)
        return ilu_err(err, ILU_ST_INTERNAL, "bundle", "container %s: cannot write %s: %s", id, cfgpath,
                       strerror(errno));
    return 0;
}

/* ---- files ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (flag == FTW_DP ? rmdir : unlink)(path);
    return 0;
}

int oci_rm_tree(const char *path)
{
    /* FTW_PHYS: never follow a symlink out of the bundle. */
    int rc = nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    return rc == 0 || errno == ENOENT ? 0 : -1;
}

int oci_unmount_function(const char *dir)
{
    char point[PATH_MAX + 16];
    snprintf(point, sizeof point, "%s/function", dir);
    /* The function's folder on top of the shared mount point, or a stack a
     * crashed worker left: until nothing is mounted (EINVAL) or no dir. */
    for (int i = 0; i < 64; i++) {
        if (umount2(point, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
            continue;
        return errno == EINVAL || errno == ENOENT ? 0 : -1;
    }
    return -1;
}

/* Whether path is the root of a mount (other than its parent's). */
static bool is_mount_point(const char *path)
{
    struct statx in, up;
    char parent[PATH_MAX + 16];
    snprintf(parent, sizeof parent, "%s/..", path);
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &in) != 0)
        return false; /* gone: nothing to protect */
    if (in.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
        return (in.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
    if (statx(AT_FDCWD, parent, 0, STATX_MNT_ID, &up) != 0)
        return true; /* cannot tell: assume the worst */
    return (in.stx_mask & STATX_MNT_ID) && (up.stx_mask & STATX_MNT_ID)
               ? in.stx_mnt_id != up.stx_mnt_id
               : in.stx_dev_major != up.stx_dev_major || in.stx_dev_minor != up.stx_dev_minor;
}

int oci_rm_bundle(const char *dir)
{
    char point[PATH_MAX + 16];
    snprintf(point, sizeof point, "%s/function", dir);
    oci_unmount_function(dir);
    /* nftw cannot tell a bind mount of the same filesystem from a folder:
     * never walk into a function's code. */
    if (is_mount_point(point)) {
        errno = EBUSY;
        return -1;
    }
    return oci_rm_tree(dir);
}

void oci_file_tail(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    if (len < 4)
        return;
    ilu_cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    /* Read a little less than fits: each newline becomes 3 bytes. */
    char raw[1024];
    size_t want = len / 2 < sizeof raw - 1 ? len / 2 : sizeof raw - 1;
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)want ? size - (off_t)want : 0;
    ssize_t n = pread(fd, raw, want, from);
    if (n <= 0)
        return;
    raw[n] = '\0';
    while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == ' '))
        raw[--n] = '\0';
    char *start = raw;
    if (from > 0) { /* drop the partial first line */
        char *nl = strchr(raw, '\n');
        if (nl)
            start = nl + 1;
    }
    /* Keep it on one log line. */
    size_t o = 0;
    for (char *p = start; *p && o + 4 < len; p++) {
        if (*p == '\n') {
            memcpy(buf + o, " | ", 3);
            o += 3;
        } else {
            buf[o++] = *p;
        }
    }
    buf[o] = '\0';
}
