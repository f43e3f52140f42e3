/* GPU status (src/worker/gpu_status.c, docs/gpu.md "GPU status"): per GPU
 * the accounted fields in /status's "gpus", the backend's measurements when
 * its gpu_sample op gives them (here a fake op over the simulated backend,
 * whose own GPUs are not measured), the "GPU status" log line and the
 * periodic update on the env's timers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gpu_world.h"
#include "worker/gpu_status.h"

static unsigned sample_calls;

/* GPU 0 measured, GPU 1 not (yet): as a live backend whose nvidia-smi has
 * not answered for every GPU. */
static int fake_sample(struct ilu_backend *b, uint32_t index, struct ilu_gpu_sample *out)
{
    (void)b;
    sample_calls++;
    if (index != 0)
        return -1;
    *out = (struct ilu_gpu_sample){.utilization_pct = 37.5, .memory_used_mb = 1024, .memory_total_mb = 16384};
    return 0;
}

static struct ilu_backend_ops measured_ops;

/* Two GPUs of 4 spots (16384 / 4096 MB), 2 tokens each. */
static void gpu_world_start(struct world *wd)
{
    world_config(&wd->cfg, 2, 4096);
    struct ilu_gpu_resource_config *g = &wd->cfg.container_resources.gpu_resource;
    g->count = 2;
    g->memory_mb = 16384;
    g->per_func_memory_mb = 4096;
    g->concurrent_running_funcs = 2;
    world_start(wd);
    sample_calls = 0;
}

/* The backend now measures GPUs through fake_sample. */
static void measure(struct world *wd)
{
    measured_ops = *wd->be->ops;
    measured_ops.gpu_sample = fake_sample;
    wd->be->ops = &measured_ops;
}

static json_t *gpu_of(json_t *status, size_t i)
{
    json_t *gpus = json_object_get(status, "gpus");
    assert_true(json_is_array(gpus));
    assert_int_equal(json_array_size(gpus), 2);
    return json_array_get(gpus, i);
}

static long long int_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("no integer %s", key);
    return json_integer_value(v);
}

static void step_until(struct world *wd, uint64_t t_us)
{
    while (ilu_sim_env_next_due(&wd->sim) <= t_us)
        assert_true(ilu_sim_env_step(&wd->sim));
}

/* Accounted per GPU: a running GPU invocation holds a spot and a token of
 * the least loaded GPU (GPU 0); nothing measured without the op. */
static void accounted_fields_per_gpu(void **state)
{
    (void)state;
    struct world wd;
    gpu_world_start(&wd);
    gpu_fn_register(&wd, "g", ILU_COMPUTE_GPU);
    static const char *const fns[] = {"g"};
    static const uint64_t at[] = {0};
    schedule(&wd, 1, fns, at);
    step_until(&wd, 70 * MS); /* started at 50 ms, runs until 110.4 ms */
    json_t *s = ilu_worker_status_json(wd.w);
    json_t *g0 = gpu_of(s, 0), *g1 = gpu_of(s, 1);
    assert_int_equal(int_of(g0, "index"), 0);
    assert_string_equal(json_string_value(json_object_get(g0, "name")), "simulated GPU 0");
    assert_int_equal(int_of(g0, "memory_mb"), 16384);
    assert_int_equal(int_of(g0, "spots"), 4);
    assert_int_equal(int_of(g0, "spots_used"), 1);
    assert_int_equal(int_of(g0, "tokens"), 2);
    assert_int_equal(int_of(g0, "tokens_used"), 1);
    assert_int_equal(int_of(g1, "index"), 1);
    assert_int_equal(int_of(g1, "spots_used"), 0);
    assert_int_equal(int_of(g1, "tokens_used"), 0);
    assert_null(json_object_get(g0, "utilization_pct"));
    assert_null(json_object_get(g0, "measured_at"));
    /* the flat fields stay */
    assert_int_equal(int_of(s, "gpu_count"), 2);
    assert_int_equal(int_of(s, "gpu_spots"), 8);
    assert_int_equal(int_of(s, "gpu_spots_used"), 1);
    json_decref(s);
    /* the simulated backend measures nothing: no timer, no update */
    assert_null(ilu_gpu_status_start(wd.w, 1000));
    assert_int_equal(ilu_gpu_status_update(wd.w, "t"), 0);
    run_all(&wd);
    s = ilu_worker_status_json(wd.w);
    assert_int_equal(int_of(gpu_of(s, 0), "tokens_used"), 0);
    assert_int_equal(int_of(gpu_of(s, 0), "spots_used"), 1); /* the idle container keeps its spot */
    json_decref(s);
    world_end(&wd);
}

static void no_gpus_is_an_empty_list(void **state)
{
    (void)state;
    struct world wd;
    world_config(&wd.cfg, 2, 4096);
    world_start(&wd);
    measure(&wd);
    json_t *s = ilu_worker_status_json(wd.w);
    json_t *gpus = json_object_get(s, "gpus");
    assert_true(json_is_array(gpus));
    assert_int_equal(json_array_size(gpus), 0);
    json_decref(s);
    assert_null(ilu_gpu_status_start(wd.w, 1000));
    assert_int_equal(ilu_gpu_status_update(wd.w, "t"), 0);
    world_end(&wd);
}

static char logged[8192];

static void keep_line(void *ctx, int level, const char *line)
{
    (void)ctx;
    if (level == ILU_LOG_INFO && strstr(line, "\"GPU status\""))
        snprintf(logged, sizeof logged, "%s", line);
}

/* Measured fields of GPU 0, stamped with the env's wall clock; GPU 1,
 * which the backend has no sample of, shows the accounted ones only; the
 * "GPU status" line carries every GPU as /status does. */
static void measured_fields_and_the_log_line(void **state)
{
    (void)state;
    struct world wd;
    gpu_world_start(&wd);
    measure(&wd);
    wd.log.min_level = ILU_LOG_INFO;
    wd.sim.log_line = keep_line;
    logged[0] = 0;
    step_until(&wd, 2500 * MS);
    assert_int_equal(ilu_gpu_status_update(wd.w, "tick"), 1);
    assert_int_equal(sample_calls, 2);
    json_t *s = ilu_worker_status_json(wd.w);
    json_t *g0 = gpu_of(s, 0), *g1 = gpu_of(s, 1);
    assert_float_equal(json_real_value(json_object_get(g0, "utilization_pct")), 37.5, 1e-9);
    assert_int_equal(int_of(g0, "memory_used_mb"), 1024);
    assert_int_equal(int_of(g0, "memory_total_mb"), 16384);
    double want_at = (double)(1767225600000000ull + wd.sim.now_us) / 1e6;
    assert_float_equal(json_real_value(json_object_get(g0, "measured_at")), want_at, 1e-6);
    assert_int_equal(int_of(g0, "memory_mb"), 16384);
    assert_null(json_object_get(g1, "utilization_pct"));
    assert_null(json_object_get(g1, "memory_used_mb"));
    assert_int_equal(int_of(g1, "spots"), 4);
    json_decref(s);

    json_error_t jerr;
    json_t *line = json_loads(logged, 0, &jerr);
    assert_non_null(line);
    assert_string_equal(json_string_value(json_object_get(line, "message")), "GPU status");
    assert_string_equal(json_string_value(json_object_get(line, "tid")), "tick");
    json_t *gpus = json_object_get(line, "gpus");
    assert_int_equal(json_array_size(gpus), 2);
    assert_int_equal(int_of(json_array_get(gpus, 0), "memory_used_mb"), 1024);
    assert_int_equal(int_of(json_array_get(gpus, 1), "tokens"), 2);
    json_decref(line);
    world_end(&wd);
}

/* At once, then every period on the env's timers, until stopped. */
static void periodic_update_on_the_env_timers(void **state)
{
    (void)state;
    struct world wd;
    gpu_world_start(&wd);
    measure(&wd);
    uint64_t t0 = wd.sim.now_us;
    struct ilu_gpu_status_timer *t = ilu_gpu_status_start(wd.w, 500);
    assert_non_null(t);
    step_until(&wd, t0 + 1200 * MS); /* at t0, t0 + 500, t0 + 1000 ms */
    assert_int_equal(sample_calls, 3 * 2);
    ilu_gpu_status_stop(t);
    step_until(&wd, t0 + 3000 * MS);
    assert_int_equal(sample_calls, 3 * 2);
    ilu_gpu_status_stop(NULL);
    world_end(&wd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accounted_fields_per_gpu),
        cmocka_unit_test(no_gpus_is_an_empty_list),
        cmocka_unit_test(measured_fields_and_the_log_line),
        cmocka_unit_test(periodic_update_on_the_env_timers),
    };
    return cmocka_run_group_tests_name("gpu_status", tests, NULL, NULL);
}
