/* GPU functions run from the GPU queue (docs/gpu.md "Dispatch"): a GPU
 * container holds a spot for its life, a running invocation one of its GPU's
 * tokens; the queue's fcfs head waits while neither a warm container with a
 * token nor a spot with a token is free. Simulated worker, one GPU, no
 * jitter: every time below is computed by hand from
 *   start 50 ms, GPU cold exec 60 ms, GPU warm exec 10 ms, answer 0.4 ms
 * (the CPU times, 100 and 20 ms, must not be used for a GPU container). */
#include "gpu_world.h"

/* One GPU of 16 GB split into spots containers, tokens running at once. */
static void gpu_world(struct world *wd, uint32_t spots, uint32_t tokens)
{
    world_config(&wd->cfg, 1, 4096);
    struct ilu_gpu_resource_config *g = &wd->cfg.container_resources.gpu_resource;
    g->count = 1;
    g->memory_mb = 16384;
    g->funcs_per_device = spots;
    g->concurrent_running_funcs = tokens;
    world_start(wd);
}

/* Step until the clock reaches at (events at at itself included). */
static void run_until(struct world *wd, uint64_t at)
{
    ilu_sim_env_run_until(&wd->sim, at);
}

/* concurrent_running_funcs 1: the second invocation waits for the first's
 * token, then runs warm on the same container. */
static void one_token_runs_one_after_the_other(void **state)
{
    (void)state;
    struct world wd;
    gpu_world(&wd, 2, 1);
    gpu_fn_register(&wd, "g", ILU_COMPUTE_GPU);
    const char *fns[] = {"g", "g"};
    const uint64_t at[] = {0, 0};
    schedule(&wd, 2, fns, at);
    run_until(&wd, 1 * MS);
    assert_int_equal(status_of(&wd, "gpu_queue_len"), 1);
    assert_int_equal(status_of(&wd, "gpu_spots_used"), 1);
    assert_int_equal(status_of(&wd, "cpu_queue_len"), 0);
    assert_int_equal(status_of(&wd, "num_running_funcs"), 1);
    run_all(&wd);
    struct rec *a = &wd.recs[0], *b = &wd.recs[1];
    assert_true(a->success && b->success);
    assert_int_equal(a->kind, ILU_START_COLD);
    assert_int_equal(a->done_at, COLD_RUN);            /* 110.4 ms */
    assert_int_equal(a->exec_us, GCOLD);               /* the GPU's time, not the CPU's 100 ms */
    assert_int_equal(b->kind, ILU_START_WARM);         /* the same container, once free */
    assert_int_equal(b->done_at, COLD_RUN + WARM_RUN); /* 120.8 ms */
    assert_int_equal(b->tm.queue_us, COLD_RUN);
    assert_string_equal(a->container_id, b->container_id);
    assert_int_equal(status_of(&wd, "gpu_queue_len"), 0);
    assert_int_equal(status_of(&wd, "gpu_spots_used"), 1); /* the idle container keeps its spot */
    world_end(&wd);
}

/* concurrent_running_funcs 2: g and h run at once, on two containers. */
static void two_tokens_overlap(void **state)
{
    (void)state;
    struct world wd;
    gpu_world(&wd, 2, 2);
    gpu_fn_register(&wd, "g", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "h", ILU_COMPUTE_GPU);
    const char *fns[] = {"g", "h"};
    const uint64_t at[] = {0, 0};
    schedule(&wd, 2, fns, at);
    run_all(&wd);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(wd.recs[i].kind, ILU_START_COLD);
        assert_int_equal(wd.recs[i].done_at, COLD_RUN);
    }
    assert_string_not_equal(wd.recs[0].container_id, wd.recs[1].container_id);
    assert_int_equal(status_of(&wd, "gpu_spots_used"), 2);
    world_end(&wd);
}

/* fcfs batches adjacent invocations of one function: g, g at 0 are one
 * batch, run back to back on one container with one token, even with a
 * second token free (Ilúvatar's fcfs_gpu.rs: the batch is popped whole). */
static void fcfs_batch_runs_on_one_container(void **state)
{
    (void)state;
    struct world wd;
    gpu_world(&wd, 2, 2);
    gpu_fn_register(&wd, "g", ILU_COMPUTE_GPU);
    const char *fns[] = {"g", "g"};
    const uint64_t at[] = {0, 0};
    schedule(&wd, 2, fns, at);
    run_until(&wd, 1 * MS);
    assert_int_equal(status_of(&wd, "num_running_funcs"), 1);
    assert_int_equal(status_of(&wd, "gpu_queue_len"), 1); /* the batch's rest stays queued */
    run_all(&wd);
    assert_int_equal(wd.recs[0].kind, ILU_START_COLD);
    assert_int_equal(wd.recs[0].done_at, COLD_RUN);
    assert_int_equal(wd.recs[1].kind, ILU_START_WARM);
    assert_int_equal(wd.recs[1].done_at, COLD_RUN + WARM_RUN);
    assert_string_equal(wd.recs[0].container_id, wd.recs[1].container_id);
    assert_int_equal(status_of(&wd, "gpu_spots_used"), 1);
    world_end(&wd);
}

/* Two spots, two tokens, three functions: the third waits until a
 * container is idle, which is evicted (the least recently used: a's) to
 * free its spot. */
static void spots_exhaust_and_a_third_waits_for_an_eviction(void **state)
{
    (void)state;
    struct world wd;
    gpu_world(&wd, 2, 2);
    gpu_fn_register(&wd, "a", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "b", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "c", ILU_COMPUTE_GPU);
    const char *fns[] = {"a", "b", "c"};
    const uint64_t at[] = {0, 0, 0};
    schedule(&wd, 3, fns, at);
    run_until(&wd, 100 * MS);
    assert_int_equal(status_of(&wd, "gpu_spots_used"), 2);
    assert_int_equal(status_of(&wd, "gpu_queue_len"), 1);
    run_all(&wd);
    assert_int_equal(wd.recs[0].done_at, COLD_RUN);
    assert_int_equal(wd.recs[1].done_at, COLD_RUN);
    assert_int_equal(wd.recs[2].kind, ILU_START_COLD);
    assert_int_equal(wd.recs[2].done_at, 2 * COLD_RUN); /* 220.8 ms */
    assert_int_equal(status_of(&wd, "evictions"), 1);
    assert_int_equal(status_of(&wd, "gpu_spots_used"), 2);
    assert_int_equal(status_of(&wd, "num_containers"), 2);
    world_end(&wd);
}

/* A spot goes back with its container however it goes: keep-alive expiry
 * (keepalive_sec 1, checked every pool_freq_ms 1 s) and clean. */
static void spots_come_back_on_keepalive_and_clean(void **state)
{
    (void)state;
    struct world wd;
    world_config(&wd.cfg, 1, 4096);
    wd.cfg.container_resources.keepalive_sec = 1;
    struct ilu_gpu_resource_config *g = &wd.cfg.container_resources.gpu_resource;
    g->count = 1;
    g->memory_mb = 16384;
    g->funcs_per_device = 2;
    g->concurrent_running_funcs = 2;
    world_start(&wd);
    gpu_fn_register(&wd, "a", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "b", ILU_COMPUTE_GPU);
    const char *fns[] = {"a", "b"};
    const uint64_t at[] = {0, 0};
    schedule(&wd, 2, fns, at);
    run_all(&wd);
    assert_int_equal(status_of(&wd, "gpu_spots_used"), 2);
    assert_int_equal(ilu_worker_clean(wd.w, "t"), 2);
    assert_int_equal(status_of(&wd, "gpu_spots_used"), 0);
    world_end(&wd);

    world_config(&wd.cfg, 1, 4096);
    wd.cfg.container_resources.keepalive_sec = 1;
    g->count = 1;
    g->memory_mb = 16384;
    g->funcs_per_device = 1;
    g->concurrent_running_funcs = 1;
    world_start(&wd);
    gpu_fn_register(&wd, "a", ILU_COMPUTE_GPU);
    const char *one[] = {"a"};
    const uint64_t at0[] = {0};
    schedule(&wd, 1, one, at0);
    run_all(&wd);
    assert_int_equal(status_of(&wd, "gpu_spots_used"), 1);
    run_until(&wd, 3 * SEC); /* idle since 110.4 ms: gone at the 2 s tick */
    assert_int_equal(status_of(&wd, "keepalive_removals"), 1);
    assert_int_equal(status_of(&wd, "gpu_spots_used"), 0);
    world_end(&wd);
}

/* A full GPU queue does not hold CPU functions back: f runs on the CPU at
 * once (CPU times) while three g wait for the one GPU token in turn. */
static void cpu_functions_ignore_a_full_gpu_queue(void **state)
{
    (void)state;
    struct world wd;
    gpu_world(&wd, 1, 1);
    gpu_fn_register(&wd, "g", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "f", ILU_COMPUTE_CPU);
    gpu_fn_register(&wd, "p", ILU_COMPUTE_ALL); /* AlwaysCPU (the default): the CPU */
    const char *fns[] = {"g", "g", "g", "f", "p"};
    const uint64_t at[] = {0, 0, 0, 1 * MS, 200 * MS};
    schedule(&wd, 5, fns, at);
    run_until(&wd, 2 * MS);
    assert_int_equal(status_of(&wd, "gpu_queue_len"), 2);
    assert_int_equal(status_of(&wd, "cpu_queue_len"), 0);
    assert_int_equal(status_of(&wd, "cpus_in_use"), 1); /* f only: GPU invocations hold no CPU */
    run_all(&wd);
    assert_int_equal(wd.recs[0].done_at, COLD_RUN);
    assert_int_equal(wd.recs[1].done_at, COLD_RUN + WARM_RUN);
    assert_int_equal(wd.recs[2].done_at, COLD_RUN + 2 * WARM_RUN);         /* 131.2 ms */
    assert_int_equal(wd.recs[3].done_at, 1 * MS + START + 100 * MS + OVH); /* 151.4 ms: the CPU's cold time */
    assert_int_equal(wd.recs[4].done_at, 200 * MS + START + 100 * MS + OVH);
    assert_int_equal(status_of(&wd, "gpu_spots_used"), 1); /* g's container only */
    world_end(&wd);
}

/* invocation.enqueueing_policy AlwaysGPU: a CPU|GPU function runs on a GPU. */
static void always_gpu_sends_polymorphic_functions_to_the_gpu(void **state)
{
    (void)state;
    struct world wd;
    world_config(&wd.cfg, 1, 4096);
    snprintf(wd.cfg.invocation.enqueueing_policy, sizeof wd.cfg.invocation.enqueueing_policy, "AlwaysGPU");
    struct ilu_gpu_resource_config *g = &wd.cfg.container_resources.gpu_resource;
    g->count = 1;
    g->memory_mb = 16384;
    g->funcs_per_device = 1;
    world_start(&wd);
    gpu_fn_register(&wd, "p", ILU_COMPUTE_ALL);
    const char *fns[] = {"p"};
    const uint64_t at[] = {0};
    schedule(&wd, 1, fns, at);
    run_all(&wd);
    assert_int_equal(wd.recs[0].done_at, COLD_RUN);
    assert_int_equal(wd.recs[0].exec_us, GCOLD);
    assert_int_equal(status_of(&wd, "gpu_spots_used"), 1);
    world_end(&wd);
}

/* fcfs on the GPU queue: one spot, one token; a, b, a, c arriving 1 ms
 * apart run in arrival order, each evicting the one before it (the second
 * a is not batched with the first: docs/gpu.md). */
static void gpu_fcfs_order(void **state)
{
    (void)state;
    struct world wd;
    gpu_world(&wd, 1, 1);
    gpu_fn_register(&wd, "a", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "b", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "c", ILU_COMPUTE_GPU);
    const char *fns[] = {"a", "b", "a", "c"};
    const uint64_t at[] = {0, 1 * MS, 2 * MS, 3 * MS};
    schedule(&wd, 4, fns, at);
    run_all(&wd);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(wd.recs[i].kind, ILU_START_COLD);
        assert_int_equal(wd.recs[i].done_at, (uint64_t)(i + 1) * COLD_RUN);
    }
    assert_int_equal(status_of(&wd, "evictions"), 3);
    world_end(&wd);
}

/* limits.timeout_sec 1 with a 1.5 s GPU run: the running invocation's
 * container is killed (its spot back) and its token returned, the queued one
 * leaves the GPU queue; both answer 504 at 1 s, and a later call starts
 * cold on the freed spot. */
static void timeouts_give_back_tokens_spots_and_queue_places(void **state)
{
    (void)state;
    struct world wd;
    world_config(&wd.cfg, 1, 4096);
    wd.cfg.limits.timeout_sec = 1;
    struct ilu_gpu_resource_config *g = &wd.cfg.container_resources.gpu_resource;
    g->count = 1;
    g->memory_mb = 16384;
    g->funcs_per_device = 1;
    g->concurrent_running_funcs = 1;
    world_start(&wd);
    gpu_fn_register(&wd, "g", ILU_COMPUTE_GPU);
    struct ilu_sim_fn_timing t = {.start_us = START,
                                  .cold_exec_us = 100 * MS,
                                  .warm_exec_us = 20 * MS,
                                  .gpu_cold_exec_us = 1500 * MS,
                                  .gpu_warm_exec_us = 1500 * MS};
    assert_int_equal(ilu_sim_backend_set_timing(wd.be, "g-1", &t), 0);
    const char *fns[] = {"g", "g", "g"};
    const uint64_t at[] = {0, 0, 2 * SEC};
    schedule(&wd, 3, fns, at);
    run_until(&wd, 1 * SEC + 1);
    assert_int_equal(wd.done, 2);
    assert_int_equal(wd.recs[0].http_status, 504);
    assert_int_equal(wd.recs[1].http_status, 504);
    assert_int_equal(wd.recs[0].done_at, 1 * SEC);
    assert_int_equal(wd.recs[1].done_at, 1 * SEC);
    assert_int_equal(status_of(&wd, "gpu_queue_len"), 0);
    assert_int_equal(status_of(&wd, "gpu_spots_used"), 0);
    assert_int_equal(status_of(&wd, "num_running_funcs"), 0);
    run_all(&wd);
    assert_int_equal(wd.recs[2].kind, ILU_START_COLD);
    assert_int_equal(wd.recs[2].http_status, 504); /* 1.5 s again */
    world_end(&wd);
}

/* The new keys: defaults, and bad values refused naming the key. */
static void gpu_queue_config_keys(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    ilu_config_defaults(&cfg);
    assert_string_equal(cfg.invocation.gpu_queue_policy, "fcfs");
    assert_string_equal(cfg.invocation.enqueueing_policy, "AlwaysCPU");
    struct ilu_error err = {0};
    snprintf(cfg.invocation.gpu_queue_policy, sizeof cfg.invocation.gpu_queue_policy, "nope");
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "invocation.gpu_queue_policy \"nope\" is not one of"));
    ilu_config_defaults(&cfg);
    snprintf(cfg.invocation.enqueueing_policy, sizeof cfg.invocation.enqueueing_policy, "Random");
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "invocation.enqueueing_policy \"Random\" is not one of: AlwaysCPU, AlwaysGPU, "
                                    "ShortestExecTime, EstCompTime, Speedup, All"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_token_runs_one_after_the_other),
        cmocka_unit_test(two_tokens_overlap),
        cmocka_unit_test(fcfs_batch_runs_on_one_container),
        cmocka_unit_test(spots_exhaust_and_a_third_waits_for_an_eviction),
        cmocka_unit_test(spots_come_back_on_keepalive_and_clean),
        cmocka_unit_test(cpu_functions_ignore_a_full_gpu_queue),
        cmocka_unit_test(always_gpu_sends_polymorphic_functions_to_the_gpu),
        cmocka_unit_test(gpu_fcfs_order),
        cmocka_unit_test(timeouts_give_back_tokens_spots_and_queue_places),
        cmocka_unit_test(gpu_queue_config_keys),
    };
    return cmocka_run_group_tests_name("gpu_dispatch", tests, NULL, NULL);
}
