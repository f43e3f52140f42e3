/* GPU discovery (src/os/gpu.c) on a host without NVIDIA's driver, as CI
 * is: nvidia-smi's CSV parsed, a stand-in nvidia-smi found on PATH when NVML
 * is absent (its GPUs' nodes: index as minor, no UUID), and when nothing
 * answers, a source naming what was looked for; NVIDIA's tools looked for
 * beside the driver's libraries first; GPU status's nvidia-smi CSV and
 * its NVML sampler, against a stand-in libnvidia-ml.so.1 built here.
 * The tests that need NVML to be absent skip on a host that has it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "os/gpu.h"

static void smi_csv_is_parsed(void **state)
{
    (void)state;
    struct ilu_gpu_found f;
    memset(&f, 0, sizeof f);
    char why[256] = "";
    assert_int_equal(
        ilu_os_gpu_parse_smi("NVIDIA H200, 143771\r\nNVIDIA A100-SXM4-40GB, 40960\n\n", &f, why, sizeof why), 2);
    assert_int_equal(f.n, 2);
    assert_string_equal(f.dev[0].name, "NVIDIA H200");
    assert_int_equal(f.dev[0].memory_mb, 143771);
    assert_string_equal(f.dev[1].name, "NVIDIA A100-SXM4-40GB");
    assert_int_equal(f.dev[1].memory_mb, 40960);
    assert_int_equal(ilu_os_gpu_parse_smi("", &f, why, sizeof why), 0);

    static const char *const bad[] = {"NVIDIA H200\n", "NVIDIA H200, [N/A]\n", ", 100\n", "GPU, 12x\n", "GPU, 0\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&f, 0, sizeof f);
        assert_int_equal(ilu_os_gpu_parse_smi(bad[i], &f, why, sizeof why), -1);
        assert_non_null(strstr(why, "not \"name, memory.total in MiB\""));
    }
}

/* Whether this host has NVML (a GPU host): the tests below need it absent. */
static bool host_has_nvml(void)
{
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib)
        dlclose(lib);
    return lib != NULL;
}

struct fake_path {
    char dir[64];
    char *old_path;
};

/* A folder with an executable nvidia-smi running script, put first on PATH. */
static void fake_smi(struct fake_path *fp, const char *script)
{
    snprintf(fp->dir, sizeof fp->dir, "/tmp/ilu-smi-XXXXXX");
    assert_non_null(mkdtemp(fp->dir));
    char path[128];
    snprintf(path, sizeof path, "%s/nvidia-smi", fp->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", script);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
    const char *old = getenv("PATH");
    fp->old_path = strdup(old ? old : "");
    char *path_var = malloc(strlen(fp->dir) + strlen(fp->old_path) + 2);
    sprintf(path_var, "%s:%s", fp->dir, fp->old_path);
    setenv("PATH", path_var, 1);
    free(path_var);
}

static void fake_smi_remove(struct fake_path *fp)
{
    setenv("PATH", fp->old_path, 1);
    free(fp->old_path);
    char path[128];
    snprintf(path, sizeof path, "%s/nvidia-smi", fp->dir);
    unlink(path);
    rmdir(fp->dir);
}

static void nvidia_smi_answers_when_nvml_is_absent(void **state)
{
    (void)state;
    if (host_has_nvml())
        skip();
    struct fake_path fp;
    /* the arguments are checked: the wrong query prints nothing */
    fake_smi(&fp, "[ \"$1\" = --query-gpu=name,memory.total ] && [ \"$2\" = --format=csv,noheader,nounits ] || "
                  "exit 3\nprintf 'NVIDIA H200, 143771\\nNVIDIA H200, 143771\\n'");
    struct ilu_gpu_found f;
    assert_int_equal(ilu_os_gpu_discover("", &f), 2);
    assert_int_equal(f.n, 2);
    assert_string_equal(f.dev[1].name, "NVIDIA H200");
    assert_int_equal(f.dev[1].memory_mb, 143771);
    char want[160];
    snprintf(want, sizeof want, "nvidia-smi (%s/nvidia-smi)", fp.dir);
    assert_string_equal(f.source, want);
    fake_smi_remove(&fp);
}

static void nothing_found_says_what_was_looked_for(void **state)
{
    (void)state;
    if (host_has_nvml())
        skip();
    struct fake_path fp;
    fake_smi(&fp, "echo 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver' >&2; exit 9");
    struct ilu_gpu_found f;
    assert_int_equal(ilu_os_gpu_discover("/nonexistent/lib64", &f), 0);
    assert_int_equal(f.n, 0);
    assert_non_null(strstr(f.source, "looked for with NVML and nvidia-smi"));
    assert_non_null(strstr(f.source, "dlopen /nonexistent/lib64/libnvidia-ml.so.1"));
    assert_non_null(strstr(f.source, "dlopen libnvidia-ml.so.1"));
    assert_non_null(strstr(f.source, "failed (status 9): NVIDIA-SMI has failed"));
    fake_smi_remove(&fp);
}

static void smi_gives_index_as_minor_and_no_uuid(void **state)
{
    (void)state;
    if (host_has_nvml())
        skip();
    struct fake_path fp;
    fake_smi(&fp, "printf 'NVIDIA H200, 143771\\nNVIDIA H200, 143771\\n'");
    struct ilu_gpu_found f;
    struct ilu_os_gpu_node nodes[ILU_GPU_MAX];
    memset(nodes, 0x55, sizeof nodes);
    assert_int_equal(ilu_os_gpu_discover_nodes("", &f, nodes), 2);
    assert_int_equal(nodes[0].minor, 0);
    assert_int_equal(nodes[1].minor, 1);
    assert_string_equal(nodes[0].uuid, "");
    assert_string_equal(nodes[1].uuid, "");
    assert_int_equal(nodes[2].minor, 0); /* cleared beyond those found */
    fake_smi_remove(&fp);
}

static void tools_are_looked_for_beside_the_driver_first(void **state)
{
    (void)state;
    char base[64], lib[96], bin[96], tool[160], out[4800], looked[600];
    snprintf(base, sizeof base, "/tmp/ilu-tool-XXXXXX");
    assert_non_null(mkdtemp(base));
    snprintf(lib, sizeof lib, "%s/lib64", base);
    snprintf(bin, sizeof bin, "%s/bin", base);
    assert_int_equal(mkdir(lib, 0755), 0);
    assert_int_equal(mkdir(bin, 0755), 0);
    snprintf(tool, sizeof tool, "%s/ilu-test-tool", bin);
    FILE *f = fopen(tool, "w");
    assert_non_null(f);
    fclose(f);
    /* not executable: not taken */
    assert_int_equal(ilu_os_gpu_find_tool("ilu-test-tool", lib, out, sizeof out, looked, sizeof looked), -1);
    char want[400];
    snprintf(want, sizeof want, "no ilu-test-tool (not in %s/../bin, on PATH, in /usr/bin or /usr/local/nvidia/bin)",
             lib);
    assert_string_equal(looked, want);
    assert_int_equal(chmod(tool, 0755), 0);
    assert_int_equal(ilu_os_gpu_find_tool("ilu-test-tool", lib, out, sizeof out, looked, sizeof looked), 0);
    snprintf(want, sizeof want, "%s/../bin/ilu-test-tool", lib);
    assert_string_equal(out, want);
    /* without a driver folder: only PATH and the usual places */
    assert_int_equal(ilu_os_gpu_find_tool("ilu-test-tool", NULL, out, sizeof out, looked, sizeof looked), -1);
    assert_string_equal(looked, "no ilu-test-tool (not on PATH, in /usr/bin or /usr/local/nvidia/bin)");
    unlink(tool);
    rmdir(bin);
    rmdir(lib);
    rmdir(base);
}

/* GPU status: nvidia-smi's sample CSV. */
static void smi_sample_csv_is_parsed(void **state)
{
    (void)state;
    struct ilu_gpu_sample out[3];
    memset(out, 0x55, sizeof out);
    char why[256] = "";
    assert_int_equal(ilu_os_gpu_parse_smi_sample("37, 1024, 143771\r\n0,0,81559\n\n", out, 3, why, sizeof why), 2);
    assert_float_equal(out[0].utilization_pct, 37, 0);
    assert_int_equal(out[0].memory_used_mb, 1024);
    assert_int_equal(out[0].memory_total_mb, 143771);
    assert_int_equal(out[0].wall_us, 0);
    assert_float_equal(out[1].utilization_pct, 0, 0);
    assert_int_equal(out[1].memory_total_mb, 81559);
    assert_int_equal(ilu_os_gpu_parse_smi_sample("", out, 3, why, sizeof why), 0);
    /* more GPUs than room: the first max */
    assert_int_equal(ilu_os_gpu_parse_smi_sample("1, 2, 3\n4, 5, 6\n", out, 1, why, sizeof why), 1);
    assert_int_equal(out[0].memory_total_mb, 3);

    static const char *const bad[] = {"[N/A], 1024, 143771\n", "37, 1024\n",           "37, 1024, 143771, 9\n",
                                      "101, 1, 2\n",           "37 %, 1024, 143771\n", "NVIDIA H200, 143771\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(ilu_os_gpu_parse_smi_sample(bad[i], out, 3, why, sizeof why), -1);
        assert_non_null(strstr(why, "not \"utilization.gpu %, memory.used MiB, memory.total MiB\""));
    }
    assert_string_equal(ilu_os_gpu_smi_sample_args[0], "--query-gpu=utilization.gpu,memory.used,memory.total");
    assert_string_equal(ilu_os_gpu_smi_sample_args[1], "--format=csv,noheader,nounits");
    assert_null(ilu_os_gpu_smi_sample_args[2]);
}

/* A stand-in libnvidia-ml.so.1, built with the host's C compiler: two
 * GPUs, GPU i (40 + i) % busy, (i + 1) GiB used of 80 GiB. With
 * NO_UTIL it lacks nvmlDeviceGetUtilizationRates. */
static const char fake_nvml_src[] =
    "#include <string.h>\n"
    "struct mem { unsigned long long total, free, used; };\n"
    "struct util { unsigned int gpu, memory; };\n"
    "int nvmlInit_v2(void) { return 0; }\n"
    "int nvmlShutdown(void) { return 0; }\n"
    "const char *nvmlErrorString(int rc) { return rc == 2 ? \"Invalid Argument\" : \"Unknown Error\"; }\n"
    "int nvmlDeviceGetCount_v2(unsigned int *n) { *n = 2; return 0; }\n"
    "int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **d) {\n"
    "    if (i >= 2) return 2;\n"
    "    *d = (void *)(unsigned long)(i + 1); return 0; }\n"
    "int nvmlDeviceGetName(void *d, char *name, unsigned int len) { strncpy(name, \"Fake GPU\", len); return 0; }\n"
    "int nvmlDeviceGetMemoryInfo(void *d, struct mem *m) {\n"
    "    unsigned long i = (unsigned long)d - 1;\n"
    "    m->total = 80ull << 30; m->used = (i + 1) << 30; m->free = m->total - m->used; return 0; }\n"
    "#ifndef NO_UTIL\n"
    "int nvmlDeviceGetUtilizationRates(void *d, struct util *u) {\n"
    "    u->gpu = 40 + (unsigned)((unsigned long)d - 1); u->memory = 5; return 0; }\n"
    "#endif\n";

/* Build the stand-in into dir/libnvidia-ml.so.1; false (the test skips)
 * when there is no C compiler. */
static bool fake_nvml(const char *dir, bool no_util)
{
    char src[128], cmd[512];
    snprintf(src, sizeof src, "%s/fake_nvml.c", dir);
    FILE *f = fopen(src, "w");
    assert_non_null(f);
    fputs(fake_nvml_src, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cc -shared -fPIC %s -o %s/libnvidia-ml.so.1 %s 2>/dev/null", no_util ? "-DNO_UTIL" : "",
             dir, src);
    int rc = system(cmd);
    unlink(src);
    return rc == 0;
}

static void fake_nvml_remove(const char *dir)
{
    char lib[128];
    snprintf(lib, sizeof lib, "%s/libnvidia-ml.so.1", dir);
    unlink(lib);
    rmdir(dir);
}

/* GPU status through NVML: kept open, each read its utilisation and
 * memory; an index NVML refuses names the call; a library without
 * nvmlDeviceGetUtilizationRates cannot sample. Discovery finds the same
 * stand-in. */
static void nvml_sampler_reads_utilization_and_memory(void **state)
{
    (void)state;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/ilu-nvml-XXXXXX");
    assert_non_null(mkdtemp(dir));
    if (!fake_nvml(dir, false)) {
        rmdir(dir);
        print_message("no C compiler (cc) to build a stand-in libnvidia-ml.so.1\n");
        skip();
    }
    char why[512] = "";
    struct ilu_os_gpu_sampler *s = ilu_os_gpu_sampler_open(dir, why, sizeof why);
    if (!s)
        fail_msg("sampler: %s", why);
    struct ilu_gpu_sample out;
    assert_int_equal(ilu_os_gpu_sampler_read(s, 1, &out, why, sizeof why), 0);
    assert_float_equal(out.utilization_pct, 41, 0);
    assert_int_equal(out.memory_used_mb, 2048);
    assert_int_equal(out.memory_total_mb, 80 * 1024);
    assert_true(out.wall_us > 1700000000ull * 1000000);
    assert_int_equal(ilu_os_gpu_sampler_read(s, 0, &out, why, sizeof why), 0);
    assert_float_equal(out.utilization_pct, 40, 0);
    assert_int_equal(out.memory_used_mb, 1024);
    assert_int_equal(ilu_os_gpu_sampler_read(s, 2, &out, why, sizeof why), -1);
    assert_string_equal(why, "GPU 2: nvmlDeviceGetHandleByIndex_v2 failed: Invalid Argument (2)");
    ilu_os_gpu_sampler_close(s);
    ilu_os_gpu_sampler_close(NULL);

    struct ilu_gpu_found f;
    assert_int_equal(ilu_os_gpu_discover(dir, &f), 2);
    assert_string_equal(f.dev[0].name, "Fake GPU");
    assert_int_equal(f.dev[0].memory_mb, 80 * 1024);
    assert_non_null(strstr(f.source, "NVML ("));

    fake_nvml_remove(dir);
    assert_non_null(mkdtemp(strcpy(dir, "/tmp/ilu-nvml-XXXXXX")));
    assert_true(fake_nvml(dir, true));
    assert_null(ilu_os_gpu_sampler_open(dir, why, sizeof why));
    assert_non_null(strstr(why, "lacks the NVML entry points of GPU status"));
    assert_non_null(strstr(why, "nvmlDeviceGetUtilizationRates"));
    fake_nvml_remove(dir);
}

static void no_nvml_no_sampler(void **state)
{
    (void)state;
    if (host_has_nvml())
        skip();
    char why[512] = "";
    assert_null(ilu_os_gpu_sampler_open("/nonexistent/lib64", why, sizeof why));
    assert_non_null(strstr(why, "no NVML: dlopen /nonexistent/lib64/libnvidia-ml.so.1"));
    assert_non_null(strstr(why, "; dlopen libnvidia-ml.so.1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(smi_csv_is_parsed),
        cmocka_unit_test(nvidia_smi_answers_when_nvml_is_absent),
        cmocka_unit_test(nothing_found_says_what_was_looked_for),
        cmocka_unit_test(smi_gives_index_as_minor_and_no_uuid),
        cmocka_unit_test(tools_are_looked_for_beside_the_driver_first),
        cmocka_unit_test(smi_sample_csv_is_parsed),
        cmocka_unit_test(no_nvml_no_sampler),
        /* last: it loads a stand-in NVML into this process */
        cmocka_unit_test(nvml_sampler_reads_utilization_and_memory),
    };
    return cmocka_run_group_tests_name("gpu_discover", tests, NULL, NULL);
}
