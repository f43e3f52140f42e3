/* See gpu.h. NVML's few entry points are declared here (their documented C
 * signatures); no NVIDIA header is needed to build. */
#include "os/gpu.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "os/clock.h"
#include "os/spawn.h"

#define NVML_LIB     "libnvidia-ml.so.1"
#define NVML_SUCCESS 0

typedef int nvml_return;                    /* nvmlReturn_t */
typedef struct nvml_device_st *nvml_device; /* nvmlDevice_t */
struct nvml_memory {                        /* nvmlMemory_t, bytes */
    unsigned long long total, free, used;
};

struct nvml_api {
    nvml_return (*init)(void);                                        /* nvmlInit_v2 */
    nvml_return (*shutdown)(void);                                    /* nvmlShutdown */
    nvml_return (*count)(unsigned int *n);                            /* nvmlDeviceGetCount_v2 */
    nvml_return (*handle)(unsigned int i, nvml_device *d);            /* nvmlDeviceGetHandleByIndex_v2 */
    nvml_return (*memory)(nvml_device d, struct nvml_memory *m);      /* nvmlDeviceGetMemoryInfo */
    nvml_return (*name)(nvml_device d, char *name, unsigned int len); /* nvmlDeviceGetName */
    const char *(*error)(nvml_return rc);                             /* nvmlErrorString, optional */
    nvml_return (*minor)(nvml_device d, unsigned int *minor);         /* nvmlDeviceGetMinorNumber, optional */
    nvml_return (*uuid)(nvml_device d, char *uuid, unsigned int len); /* nvmlDeviceGetUUID, optional */
};

static const char *nvml_why(const struct nvml_api *api, nvml_return rc, char *buf, size_t len)
{
    const char *s = api->error ? api->error(rc) : NULL;
    snprintf(buf, len, "%s (%d)", s ? s : "error", rc);
    return buf;
}

/* The GPUs NVML reports through lib; 0 on an answer (found filled, maybe
 * with none), -1 with why when NVML cannot be used. */
static int nvml_discover(void *lib, const char *lib_name, struct ilu_gpu_found *found, struct ilu_os_gpu_node *nodes,
                         char *why, size_t why_len)
{
    struct nvml_api api = {0};
    /* dlsym hands back object pointers; POSIX makes them callable */
    api.init = (nvml_return(*)(void))dlsym(lib, "nvmlInit_v2");
    api.shutdown = (nvml_return(*)(void))dlsym(lib, "nvmlShutdown");
    api.count = (nvml_return(*)(unsigned int *))dlsym(lib, "nvmlDeviceGetCount_v2");
    api.handle = (nvml_return(*)(unsigned int, nvml_device *))dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
    api.memory = (nvml_return(*)(nvml_device, struct nvml_memory *))dlsym(lib, "nvmlDeviceGetMemoryInfo");
    api.name = (nvml_return(*)(nvml_device, char *, unsigned int))dlsym(lib, "nvmlDeviceGetName");
    api.error = (const char *(*)(nvml_return))dlsym(lib, "nvmlErrorString");
    api.minor = (nvml_return(*)(nvml_device, unsigned int *))dlsym(lib, "nvmlDeviceGetMinorNumber");
    api.uuid = (nvml_return(*)(nvml_device, char *, unsigned int))dlsym(lib, "nvmlDeviceGetUUID");
    if (!api.init || !api.shutdown || !api.count || !api.handle || !api.memory || !api.name) {
        snprintf(why, why_len, "%s lacks the NVML v2 entry points (nvmlInit_v2, nvmlDeviceGetCount_v2, ...)", lib_name);
        return -1;
    }
    char buf[128];
    nvml_return rc = api.init();
    if (rc != NVML_SUCCESS) {
        snprintf(why, why_len, "nvmlInit_v2 through %s failed: %s", lib_name, nvml_why(&api, rc, buf, sizeof buf));
        return -1;
    }
    unsigned int n = 0;
    if ((rc = api.count(&n)) != NVML_SUCCESS) {
        snprintf(why, why_len, "nvmlDeviceGetCount_v2 failed: %s", nvml_why(&api, rc, buf, sizeof buf));
        api.shutdown();
        return -1;
    }
    found->n = 0;
    for (unsigned int i = 0; i < n && found->n < ILU_GPU_MAX; i++) {
        nvml_device d;
        struct nvml_memory m = {0};
        struct ilu_gpu_device *g = &found->dev[found->n];
        if ((rc = api.handle(i, &d)) != NVML_SUCCESS || (rc = api.memory(d, &m)) != NVML_SUCCESS) {
            snprintf(why, why_len, "NVML could not read GPU %u: %s", i, nvml_why(&api, rc, buf, sizeof buf));
            api.shutdown();
            return -1;
        }
        if (api.name(d, g->name, sizeof g->name) != NVML_SUCCESS)
            snprintf(g->name, sizeof g->name, "GPU %u", i);
        g->name[sizeof g->name - 1] = 0;
        g->memory_mb = (uint32_t)(m.total >> 20);
        if (nodes) {
            unsigned int minor = i;
            if (!api.minor || api.minor(d, &minor) != NVML_SUCCESS)
                minor = i;
            nodes[found->n].minor = (int)minor;
            if (!api.uuid || api.uuid(d, nodes[found->n].uuid, sizeof nodes[found->n].uuid) != NVML_SUCCESS)
                nodes[found->n].uuid[0] = 0;
            nodes[found->n].uuid[sizeof nodes[found->n].uuid - 1] = 0;
        }
        found->n++;
    }
    api.shutdown();
    snprintf(found->source, sizeof found->source, "NVML (%s)", lib_name);
    return 0;
}

/* dlopen NVML from driver_lib_dir, else from the loader's path; name gets
 * the path opened. NULL with why saying what was tried. */
static void *nvml_open(const char *driver_lib_dir, char *name, size_t name_len, char *why, size_t why_len)
{
    char path[512];
    const char *tried[2];
    size_t n = 0;
    if (driver_lib_dir && *driver_lib_dir) {
        snprintf(path, sizeof path, "%s/%s", driver_lib_dir, NVML_LIB);
        tried[n++] = path;
    }
    tried[n++] = NVML_LIB;
    size_t used = (size_t)snprintf(why, why_len, "no NVML:");
    for (size_t i = 0; i < n; i++) {
        void *lib = dlopen(tried[i], RTLD_NOW | RTLD_LOCAL);
        if (lib) {
            snprintf(name, name_len, "%s", tried[i]);
            return lib;
        }
        const char *e = dlerror();
        if (used < why_len)
            used += (size_t)snprintf(why + used, why_len - used, "%s dlopen %s: %s", i ? ";" : "", tried[i],
                                     e ? e : "failed");
    }
    return NULL;
}

/* NVML from driver_lib_dir, else from the loader's path. */
static int try_nvml(const char *driver_lib_dir, struct ilu_gpu_found *found, struct ilu_os_gpu_node *nodes, char *why,
                    size_t why_len)
{
    char name[512];
    void *lib = nvml_open(driver_lib_dir, name, sizeof name, why, why_len);
    if (!lib)
        return -1;
    int rc = nvml_discover(lib, name, found, nodes, why, why_len);
    dlclose(lib);
    return rc;
}

/* The next line of nvidia-smi's CSV at *cursor into buf (cut at its size,
 * trailing blanks and CR removed), skipping empty ones; 0 at the end. */
static int next_csv_line(const char **cursor, char *buf, size_t cap)
{
    while (*cursor && **cursor) {
        const char *line = *cursor, *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        snprintf(buf, cap, "%.*s", (int)(len < cap ? len : cap - 1), line);
        *cursor = end ? end + 1 : line + len;
        size_t blen = strlen(buf);
        while (blen && (buf[blen - 1] == '\r' || buf[blen - 1] == ' '))
            buf[--blen] = 0;
        if (blen)
            return 1;
    }
    return 0;
}

int ilu_os_gpu_parse_smi(const char *csv, struct ilu_gpu_found *found, char *why, size_t why_len)
{
    int taken = 0;
    char buf[256];
    for (const char *line = csv; next_csv_line(&line, buf, sizeof buf);) {
        char *comma = strrchr(buf, ',');
        char *num_end = NULL;
        unsigned long mb = comma ? strtoul(comma + 1, &num_end, 10) : 0;
        while (num_end && *num_end == ' ')
            num_end++;
        if (!comma || comma == buf || !num_end || num_end == comma + 1 || *num_end || mb == 0 || mb > UINT32_MAX) {
            snprintf(why, why_len, "nvidia-smi printed \"%.80s\", not \"name, memory.total in MiB\"", buf);
            return -1;
        }
        if (found->n >= ILU_GPU_MAX)
            break;
        *comma = 0;
        struct ilu_gpu_device *g = &found->dev[found->n++];
        snprintf(g->name, sizeof g->name, "%s", buf);
        g->memory_mb = (uint32_t)mb;
        taken++;
    }
    return taken;
}

int ilu_os_gpu_find_tool(const char *name, const char *driver_lib_dir, char *out, size_t len, char *looked,
                         size_t looked_len)
{
    const char *path = getenv("PATH");
    char dirs[4600];
    char bin[300] = "";
    if (driver_lib_dir && *driver_lib_dir)
        snprintf(bin, sizeof bin, "%s/../bin", driver_lib_dir);
    snprintf(dirs, sizeof dirs, "%s:%s:/usr/bin:/usr/local/nvidia/bin", bin, path && *path ? path : "");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        if (!*d)
            continue;
        snprintf(out, len, "%s/%s", d, name);
        if (access(out, X_OK) == 0)
            return 0;
    }
    snprintf(looked, looked_len, "no %s (not %s%s%son PATH, in /usr/bin or /usr/local/nvidia/bin)", name,
             bin[0] ? "in " : "", bin, bin[0] ? ", " : "");
    return -1;
}

static int try_smi(struct ilu_gpu_found *found, struct ilu_os_gpu_node *nodes, char *why, size_t why_len)
{
    char smi[4800];
    if (ilu_os_gpu_find_tool("nvidia-smi", NULL, smi, sizeof smi, why, why_len))
        return -1;
    char *argv[] = {smi, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits", NULL};
    char *out = NULL, *errout = NULL;
    struct ilu_error err = {0};
    int status = ilu_os_run_sync(argv, &out, &errout, &err);
    int rc = -1;
    if (status < 0)
        snprintf(why, why_len, "%s could not run: %s", smi, err.msg);
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        snprintf(why, why_len, "%s failed (status %d): %.200s", smi,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status),
                 errout && *errout ? errout
                 : out             ? out
                                   : "");
    else {
        found->n = 0;
        if (ilu_os_gpu_parse_smi(out ? out : "", found, why, why_len) >= 0) {
            snprintf(found->source, sizeof found->source, "nvidia-smi (%s)", smi);
            /* nvidia-smi's query has no device minor: its index stands in */
            for (size_t i = 0; nodes && i < found->n; i++)
                nodes[i] = (struct ilu_os_gpu_node){.minor = (int)i};
            rc = 0;
        } else {
            found->n = 0;
        }
    }
    free(out);
    free(errout);
    return rc;
}

size_t ilu_os_gpu_discover(const char *driver_lib_dir, struct ilu_gpu_found *found)
{
    return ilu_os_gpu_discover_nodes(driver_lib_dir, found, NULL);
}

size_t ilu_os_gpu_discover_nodes(const char *driver_lib_dir, struct ilu_gpu_found *found, struct ilu_os_gpu_node *nodes)
{
    memset(found, 0, sizeof *found);
    if (nodes)
        memset(nodes, 0, ILU_GPU_MAX * sizeof *nodes);
    char nvml_why[480], smi_why[480];
    if (try_nvml(driver_lib_dir, found, nodes, nvml_why, sizeof nvml_why) == 0)
        return found->n;
    if (try_smi(found, nodes, smi_why, sizeof smi_why) == 0)
        return found->n;
    snprintf(found->source, sizeof found->source, "looked for with NVML and nvidia-smi: %s; %s", nvml_why, smi_why);
    return 0;
}

/* ---- GPU status ---- */

struct nvml_utilization { /* nvmlUtilization_t, percent over the driver's last sample period */
    unsigned int gpu, memory;
};

struct ilu_os_gpu_sampler {
    void *lib;
    struct nvml_api api;
    nvml_return (*utilization)(nvml_device d, struct nvml_utilization *u); /* nvmlDeviceGetUtilizationRates */
};

void ilu_os_gpu_sampler_close(struct ilu_os_gpu_sampler *s)
{
    if (!s)
        return;
    s->api.shutdown();
    dlclose(s->lib);
    free(s);
}

struct ilu_os_gpu_sampler *ilu_os_gpu_sampler_open(const char *driver_lib_dir, char *why, size_t why_len)
{
    char name[512];
    void *lib = nvml_open(driver_lib_dir, name, sizeof name, why, why_len);
    if (!lib)
        return NULL;
    struct ilu_os_gpu_sampler *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(why, why_len, "out of memory");
        dlclose(lib);
        return NULL;
    }
    s->lib = lib;
    s->api.init = (nvml_return(*)(void))dlsym(lib, "nvmlInit_v2");
    s->api.shutdown = (nvml_return(*)(void))dlsym(lib, "nvmlShutdown");
    s->api.handle = (nvml_return(*)(unsigned int, nvml_device *))dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
    s->api.memory = (nvml_return(*)(nvml_device, struct nvml_memory *))dlsym(lib, "nvmlDeviceGetMemoryInfo");
    s->api.error = (const char *(*)(nvml_return))dlsym(lib, "nvmlErrorString");
    s->utilization =
        (nvml_return(*)(nvml_device, struct nvml_utilization *))dlsym(lib, "nvmlDeviceGetUtilizationRates");
    if (!s->api.init || !s->api.shutdown || !s->api.handle || !s->api.memory || !s->utilization) {
        snprintf(why, why_len,
                 "%s lacks the NVML entry points of GPU status (nvmlInit_v2, nvmlDeviceGetHandleByIndex_v2, "
                 "nvmlDeviceGetMemoryInfo, nvmlDeviceGetUtilizationRates)",
                 name);
        dlclose(lib);
        free(s);
        return NULL;
    }
    char buf[128];
    nvml_return rc = s->api.init();
    if (rc != NVML_SUCCESS) {
        snprintf(why, why_len, "nvmlInit_v2 through %s failed: %s", name, nvml_why(&s->api, rc, buf, sizeof buf));
        dlclose(lib);
        free(s);
        return NULL;
    }
    return s;
}

int ilu_os_gpu_sampler_read(struct ilu_os_gpu_sampler *s, unsigned index, struct ilu_gpu_sample *out, char *why,
                            size_t why_len)
{
    nvml_device d;
    struct nvml_memory m = {0};
    struct nvml_utilization u = {0};
    nvml_return rc;
    const char *call = "nvmlDeviceGetHandleByIndex_v2";
    if ((rc = s->api.handle(index, &d)) == NVML_SUCCESS && (call = "nvmlDeviceGetMemoryInfo") &&
        (rc = s->api.memory(d, &m)) == NVML_SUCCESS && (call = "nvmlDeviceGetUtilizationRates") &&
        (rc = s->utilization(d, &u)) == NVML_SUCCESS) {
        *out = (struct ilu_gpu_sample){.utilization_pct = u.gpu,
                                       .memory_used_mb = (uint32_t)(m.used >> 20),
                                       .memory_total_mb = (uint32_t)(m.total >> 20),
                                       .wall_us = ilu_os_wall_us()};
        return 0;
    }
    char buf[128];
    snprintf(why, why_len, "GPU %u: %s failed: %s", index, call, nvml_why(&s->api, rc, buf, sizeof buf));
    return -1;
}

const char *const ilu_os_gpu_smi_sample_args[] = {"--query-gpu=utilization.gpu,memory.used,memory.total",
                                                  "--format=csv,noheader,nounits", NULL};

/* The unsigned number at *p (spaces around it skipped), up to the next
 * comma or the end; *p moves past the comma. -1 when there is none. */
static int smi_field(char **p, unsigned long *v)
{
    char *s = *p, *end = NULL;
    while (*s == ' ')
        s++;
    if (*s < '0' || *s > '9')
        return -1;
    *v = strtoul(s, &end, 10);
    while (*end == ' ')
        end++;
    if (*end && *end != ',')
        return -1;
    *p = *end ? end + 1 : end;
    return *v > UINT32_MAX ? -1 : 0;
}

int ilu_os_gpu_parse_smi_sample(const char *csv, struct ilu_gpu_sample *out, size_t max, char *why, size_t why_len)
{
    int taken = 0;
    char buf[256];
    for (const char *line = csv; next_csv_line(&line, buf, sizeof buf);) {
        char *p = buf;
        unsigned long util, used, total;
        if (smi_field(&p, &util) || smi_field(&p, &used) || smi_field(&p, &total) || *p || util > 100) {
            snprintf(why, why_len,
                     "nvidia-smi printed \"%.80s\", not \"utilization.gpu %%, memory.used MiB, memory.total MiB\"",
                     buf);
            return -1;
        }
        if ((size_t)taken >= max)
            break;
        out[taken++] = (struct ilu_gpu_sample){
            .utilization_pct = (double)util, .memory_used_mb = (uint32_t)used, .memory_total_mb = (uint32_t)total};
    }
    return taken;
}
