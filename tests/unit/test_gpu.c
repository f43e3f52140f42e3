/* The worker's GPUs (worker/gpu.h): spots per device, assignment order,
 * exhaustion and release, running tokens, the refusals at start, and the
 * container_resources.gpu_resource keys. Every answer is computed by hand
 * in the comment above its assertion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "worker/gpu.h"

/* n GPUs of mem_mb each, as a backend would report them. */
static struct ilu_gpu_found found_of(size_t n, uint32_t mem_mb)
{
    struct ilu_gpu_found f;
    memset(&f, 0, sizeof f);
    for (size_t i = 0; i < n; i++) {
        snprintf(f.dev[i].name, sizeof f.dev[i].name, "test GPU %zu", i);
        f.dev[i].memory_mb = mem_mb;
    }
    f.n = n;
    snprintf(f.source, sizeof f.source, "test");
    return f;
}

static struct ilu_gpu_resource_config gpu_cfg(uint32_t count)
{
    struct ilu_worker_config cfg;
    ilu_config_defaults(&cfg);
    struct ilu_gpu_resource_config g = cfg.container_resources.gpu_resource;
    g.count = count;
    return g;
}

static void count_zero_uses_no_gpu_whatever_is_found(void **state)
{
    (void)state;
    struct ilu_gpu_resource_config c = gpu_cfg(0);
    struct ilu_gpu_found f = found_of(4, 16384);
    struct ilu_gpus g;
    struct ilu_error err = {0};
    assert_int_equal(ilu_gpus_init(&g, &c, &f, &err), 0);
    assert_int_equal(g.n, 0);
    assert_int_equal(g.spots, 0);
    struct ilu_gpu_spot s;
    assert_int_equal(ilu_gpus_assign(&g, &s, &s), -1);
    uint32_t d;
    assert_int_equal(ilu_gpus_token_take(&g, -1, &d), -1);
    ilu_gpus_destroy(&g);
}

static void spots_per_device_as_iluvatar_splits_them(void **state)
{
    (void)state;
    struct ilu_gpus g;
    struct ilu_error err = {0};
    struct ilu_gpu_found f = found_of(2, 16000);

    /* nothing said: one spot, the whole GPU; tokens = spots = 1 */
    struct ilu_gpu_resource_config c = gpu_cfg(2);
    assert_int_equal(ilu_gpus_init(&g, &c, &f, &err), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.dev[0].spots, 1);
    assert_int_equal(g.dev[0].spot_memory_mb, 16000);
    assert_int_equal(g.dev[1].tokens, 1);
    assert_int_equal(g.spots, 2);
    assert_string_equal(g.dev[1].name, "test GPU 1");
    ilu_gpus_destroy(&g);

    /* per_func_memory_mb 3000: 16000 / 3000 = 5 spots of 3000 MB each (the
     * 1000 MB left over is no spot); 2 GPUs: 10 spots */
    c.per_func_memory_mb = 3000;
    assert_int_equal(ilu_gpus_init(&g, &c, &f, &err), 0);
    assert_int_equal(g.dev[0].spots, 5);
    assert_int_equal(g.dev[0].spot_memory_mb, 3000);
    assert_int_equal(g.dev[0].tokens, 5);
    assert_int_equal(g.spots, 10);
    ilu_gpus_destroy(&g);

    /* funcs_per_device wins over per_func_memory_mb: 4 spots of 16000 / 4 =
     * 4000 MB; concurrent_running_funcs 2 tokens each */
    c.funcs_per_device = 4;
    c.concurrent_running_funcs = 2;
    assert_int_equal(ilu_gpus_init(&g, &c, &f, &err), 0);
    assert_int_equal(g.dev[1].spots, 4);
    assert_int_equal(g.dev[1].spot_memory_mb, 4000);
    assert_int_equal(g.dev[1].tokens, 2);
    assert_int_equal(g.spots, 8);
    ilu_gpus_destroy(&g);

    /* memory_mb 8000 of the 16000 found: 8000 / 3000 = 2 spots each */
    c = gpu_cfg(1);
    c.memory_mb = 8000;
    c.per_func_memory_mb = 3000;
    assert_int_equal(ilu_gpus_init(&g, &c, &f, &err), 0);
    assert_int_equal(g.n, 1); /* count 1 of the 2 found: the first */
    assert_int_equal(g.dev[0].memory_mb, 8000);
    assert_int_equal(g.dev[0].spots, 2);
    ilu_gpus_destroy(&g);
}

/* Least loaded first (most free spots, ties to the lowest index), the
 * lowest free spot on it; exhaustion; release frees exactly that spot. */
static void assignment_order_exhaustion_and_release(void **state)
{
    (void)state;
    struct ilu_gpu_resource_config c = gpu_cfg(2);
    c.funcs_per_device = 2; /* 2 GPUs x 2 spots */
    struct ilu_gpu_found f = found_of(2, 8192);
    struct ilu_gpus g;
    struct ilu_error err = {0};
    assert_int_equal(ilu_gpus_init(&g, &c, &f, &err), 0);
    int holders[5];
    struct ilu_gpu_spot s[5];
    /* free spots (2,2): GPU 0 (tie, lower index), spot 0 */
    assert_int_equal(ilu_gpus_assign(&g, &holders[0], &s[0]), 0);
    assert_int_equal(s[0].device, 0);
    assert_int_equal(s[0].index, 0);
    /* (1,2): GPU 1, spot 0 */
    assert_int_equal(ilu_gpus_assign(&g, &holders[1], &s[1]), 0);
    assert_int_equal(s[1].device, 1);
    assert_int_equal(s[1].index, 0);
    /* (1,1): GPU 0, spot 1 */
    assert_int_equal(ilu_gpus_assign(&g, &holders[2], &s[2]), 0);
    assert_int_equal(s[2].device, 0);
    assert_int_equal(s[2].index, 1);
    /* (0,1): GPU 1, spot 1 */
    assert_int_equal(ilu_gpus_assign(&g, &holders[3], &s[3]), 0);
    assert_int_equal(s[3].device, 1);
    assert_int_equal(s[3].index, 1);
    assert_int_equal(g.spots_used, 4);
    assert_int_equal(g.dev[0].spots_used, 2);
    /* (0,0): none left */
    assert_int_equal(ilu_gpus_assign(&g, &holders[4], &s[4]), -1);
    assert_int_equal(g.spots_used, 4);

    /* only its holder gives a spot back, once */
    assert_int_equal(ilu_gpus_release(&g, &holders[1], s[0]), -1);
    assert_int_equal(ilu_gpus_release(&g, &holders[0], s[0]), 0);
    assert_int_equal(ilu_gpus_release(&g, &holders[0], s[0]), -1);
    assert_int_equal(ilu_gpus_release(&g, &holders[0], (struct ilu_gpu_spot){.device = 7, .index = 0}), -1);
    assert_int_equal(g.spots_used, 3);
    assert_int_equal(g.dev[0].spots_used, 1);
    /* (1,0): the freed spot, GPU 0 spot 0, goes next */
    assert_int_equal(ilu_gpus_assign(&g, &holders[4], &s[4]), 0);
    assert_int_equal(s[4].device, 0);
    assert_int_equal(s[4].index, 0);

    /* release GPU 1's two: (0,2) -> the next goes to GPU 1, spot 0 */
    assert_int_equal(ilu_gpus_release(&g, &holders[1], s[1]), 0);
    assert_int_equal(ilu_gpus_release(&g, &holders[3], s[3]), 0);
    assert_int_equal(ilu_gpus_assign(&g, &holders[1], &s[1]), 0);
    assert_int_equal(s[1].device, 1);
    assert_int_equal(s[1].index, 0);
    assert_int_equal(g.spots_used, 3);
    ilu_gpus_destroy(&g);
    assert_int_equal(g.n, 0);
}

/* concurrent_running_funcs tokens per GPU: least loaded first, a named
 * GPU only if it has one, none past the limit. */
static void running_tokens_least_loaded_first(void **state)
{
    (void)state;
    struct ilu_gpu_resource_config c = gpu_cfg(3);
    c.funcs_per_device = 4;
    c.concurrent_running_funcs = 2; /* 3 GPUs x 2 tokens */
    struct ilu_gpu_found f = found_of(3, 40000);
    struct ilu_gpus g;
    struct ilu_error err = {0};
    assert_int_equal(ilu_gpus_init(&g, &c, &f, &err), 0);
    uint32_t d;
    /* GPU 1 by name: free tokens (2,1,2) */
    assert_int_equal(ilu_gpus_token_take(&g, 1, &d), 0);
    assert_int_equal(d, 1);
    /* least loaded: (2,1,2) -> GPU 0 (tie with 2, lower index) */
    assert_int_equal(ilu_gpus_token_take(&g, -1, &d), 0);
    assert_int_equal(d, 0);
    /* (1,1,2) -> GPU 2 */
    assert_int_equal(ilu_gpus_token_take(&g, -1, &d), 0);
    assert_int_equal(d, 2);
    /* (1,1,1) -> GPU 0 */
    assert_int_equal(ilu_gpus_token_take(&g, -1, &d), 0);
    assert_int_equal(d, 0);
    /* GPU 0 is full: by name refused; (0,1,1) -> GPU 1, then GPU 2 */
    assert_int_equal(ilu_gpus_token_take(&g, 0, &d), -1);
    assert_int_equal(ilu_gpus_token_take(&g, 9, &d), -1);
    assert_int_equal(ilu_gpus_token_take(&g, -1, &d), 0);
    assert_int_equal(d, 1);
    assert_int_equal(ilu_gpus_token_take(&g, -1, &d), 0);
    assert_int_equal(d, 2);
    assert_int_equal(ilu_gpus_tokens_used(&g), 6);
    /* (0,0,0): none */
    assert_int_equal(ilu_gpus_token_take(&g, -1, &d), -1);
    /* back on GPU 2: (0,0,1) -> GPU 2 */
    assert_int_equal(ilu_gpus_token_return(&g, 2), 0);
    assert_int_equal(ilu_gpus_token_take(&g, -1, &d), 0);
    assert_int_equal(d, 2);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(ilu_gpus_token_return(&g, i), 0);
        assert_int_equal(ilu_gpus_token_return(&g, i), 0);
        assert_int_equal(ilu_gpus_token_return(&g, i), -1); /* none out */
    }
    assert_int_equal(ilu_gpus_tokens_used(&g), 0);
    /* tokens and spots are separate: spots are all still free */
    assert_int_equal(g.spots_used, 0);
    ilu_gpus_destroy(&g);
}

static void refusals_name_the_key(void **state)
{
    (void)state;
    struct ilu_gpus g;
    struct ilu_error err = {0};
    struct ilu_gpu_found none = found_of(0, 0);
    snprintf(none.source, sizeof none.source, "no NVML; no nvidia-smi");
    struct ilu_gpu_resource_config c = gpu_cfg(1);
    assert_int_equal(ilu_gpus_init(&g, &c, &none, &err), -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.msg, "container_resources.gpu_resource.count is 1 but 0 GPUs were found: no NVML; no "
                                 "nvidia-smi");
    assert_int_equal(g.n, 0);

    struct ilu_gpu_found two = found_of(2, 16000);
    c = gpu_cfg(3);
    assert_int_equal(ilu_gpus_init(&g, &c, &two, &err), -1);
    assert_non_null(strstr(err.msg, "count is 3 but 2 GPUs were found"));

    c = gpu_cfg(1);
    c.per_func_memory_mb = 20000;
    assert_int_equal(ilu_gpus_init(&g, &c, &two, &err), -1);
    assert_non_null(strstr(err.msg, "container_resources.gpu_resource.per_func_memory_mb (20000 MB) is larger than "
                                    "GPU 0's memory (16000 MB)"));

    c = gpu_cfg(1);
    c.memory_mb = 20000;
    assert_int_equal(ilu_gpus_init(&g, &c, &two, &err), -1);
    assert_non_null(strstr(err.msg, "container_resources.gpu_resource.memory_mb (20000 MB) is more than GPU 0"));

    /* 16000 / 4000 = 4 spots, 5 tokens */
    c = gpu_cfg(2);
    c.per_func_memory_mb = 4000;
    c.concurrent_running_funcs = 5;
    assert_int_equal(ilu_gpus_init(&g, &c, &two, &err), -1);
    assert_non_null(strstr(err.msg, "container_resources.gpu_resource.concurrent_running_funcs (5) is more than GPU "
                                    "0's 4 spots"));

    /* 16000 / 1 = 16000 spots, over the bound */
    c = gpu_cfg(1);
    c.per_func_memory_mb = 1;
    assert_int_equal(ilu_gpus_init(&g, &c, &two, &err), -1);
    assert_non_null(strstr(err.msg, "16000 spots"));

    struct ilu_gpu_found unknown = found_of(1, 0);
    c = gpu_cfg(1);
    assert_int_equal(ilu_gpus_init(&g, &c, &unknown, &err), -1);
    assert_non_null(strstr(err.msg, "set container_resources.gpu_resource.memory_mb"));
    c.memory_mb = 1024; /* then it is taken as given */
    assert_int_equal(ilu_gpus_init(&g, &c, &unknown, &err), 0);
    assert_int_equal(g.dev[0].memory_mb, 1024);
    ilu_gpus_destroy(&g);
}

/* The keys, their defaults (Ilúvatar's: count 0), loading from a file and
 * the environment, the dump, and the checks that need no GPU. */
static void gpu_resource_config_keys(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    struct ilu_error err = {0};
    ilu_config_defaults(&cfg);
    const struct ilu_gpu_resource_config *g = &cfg.container_resources.gpu_resource;
    assert_int_equal(g->count, 0);
    assert_int_equal(g->memory_mb, 0);
    assert_false(g->use_standalone_mps);
    assert_string_equal(g->driver_lib_dir, "");
    assert_int_equal(ilu_config_validate(&cfg, &err), 0);

    assert_int_equal(ilu_config_apply_json(&cfg,
                                           "{\"container_resources\": {\"gpu_resource\": {\"count\": 2, \"memory_mb\": "
                                           "16384, \"funcs_per_device\": 4, \"concurrent_running_funcs\": 2, "
                                           "\"use_standalone_mps\": true, \"per_func_memory_mb\": 2048, "
                                           "\"status_update_freq_ms\": 250, \"driver_lib_dir\": \"/usr/lib/nv\"}}}",
                                           "w.json", &err),
                     0);
    assert_int_equal(g->count, 2);
    assert_int_equal(g->memory_mb, 16384);
    assert_int_equal(g->funcs_per_device, 4);
    assert_int_equal(g->concurrent_running_funcs, 2);
    assert_true(g->use_standalone_mps);
    assert_int_equal(g->per_func_memory_mb, 2048);
    assert_int_equal(g->status_update_freq_ms, 250);
    assert_string_equal(g->driver_lib_dir, "/usr/lib/nv");
    assert_int_equal(ilu_config_validate(&cfg, &err), 0);

    char *envp[] = {"ILUVATAR_WORKER__container_resources__gpu_resource__count=1", NULL};
    assert_int_equal(ilu_config_apply_env(&cfg, "ILUVATAR_WORKER", envp, &err), 0);
    assert_int_equal(g->count, 1);

    char *dump = ilu_config_dump(&cfg);
    assert_non_null(strstr(dump, "\"gpu_resource\": {"));
    assert_non_null(strstr(dump, "\"concurrent_running_funcs\": 2"));
    free(dump);

    assert_int_equal(
        ilu_config_apply_json(&cfg, "{\"container_resources\": {\"gpu_resource\": {\"cnt\": 1}}}", "w.json", &err), -1);
    assert_non_null(strstr(err.msg, "container_resources.gpu_resource.cnt"));
    assert_int_equal(ilu_config_apply_json(&cfg, "{\"container_resources\": {\"gpu_resource\": {\"count\": \"1\"}}}",
                                           "w.json", &err),
                     -1);
    assert_non_null(strstr(err.msg, "container_resources.gpu_resource.count"));

    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"{\"count\": 65}", "container_resources.gpu_resource.count 65 is over the most supported, 64"},
        {"{\"funcs_per_device\": 2, \"concurrent_running_funcs\": 3}",
         "container_resources.gpu_resource.concurrent_running_funcs (3) must not exceed "
         "container_resources.gpu_resource.funcs_per_device (2)"},
        {"{\"memory_mb\": 1000, \"per_func_memory_mb\": 2000}",
         "container_resources.gpu_resource.per_func_memory_mb (2000) is larger than "
         "container_resources.gpu_resource.memory_mb (1000)"},
        {"{\"driver_lib_dir\": \"lib64\"}", "container_resources.gpu_resource.driver_lib_dir \"lib64\" must be an "
                                            "absolute path"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ilu_config_defaults(&cfg);
        char doc[256];
        snprintf(doc, sizeof doc, "{\"container_resources\": {\"gpu_resource\": %s}}", bad[i].json);
        assert_int_equal(ilu_config_apply_json(&cfg, doc, "w.json", &err), 0);
        assert_int_equal(ilu_config_validate(&cfg, &err), -1);
        assert_int_equal(err.status, 400);
        if (!strstr(err.msg, bad[i].msg))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, bad[i].msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(count_zero_uses_no_gpu_whatever_is_found),
        cmocka_unit_test(spots_per_device_as_iluvatar_splits_them),
        cmocka_unit_test(assignment_order_exhaustion_and_release),
        cmocka_unit_test(running_tokens_least_loaded_first),
        cmocka_unit_test(refusals_name_the_key),
        cmocka_unit_test(gpu_resource_config_keys),
    };
    return cmocka_run_group_tests_name("gpu", tests, NULL, NULL);
}
