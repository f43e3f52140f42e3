/* GPU discovery (src/os/gpu.c) on a host without NVIDIA's driver, as CI
 * is: nvidia-smi's CSV parsed, a stand-in nvidia-smi found on PATH when NVML
 * is absent (its GPUs' nodes: index as minor, no UUID), and when nothing
 * answers, a source naming what was looked for; NVIDIA's tools looked for
 * beside the driver's libraries first.
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(smi_csv_is_parsed),
        cmocka_unit_test(nvidia_smi_answers_when_nvml_is_absent),
        cmocka_unit_test(nothing_found_says_what_was_looked_for),
        cmocka_unit_test(smi_gives_index_as_minor_and_no_uuid),
        cmocka_unit_test(tools_are_looked_for_beside_the_driver_first),
    };
    return cmocka_run_group_tests_name("gpu_discover", tests, NULL, NULL);
}
