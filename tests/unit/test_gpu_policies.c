/* The GPU queue's policies and the dispatch of CPU|GPU functions
 * (docs/gpu.md "Dispatch"), each on a hand-computed case. Simulated worker,
 * one GPU, no jitter; every function runs
 *   start 50 ms, GPU cold exec 60 ms, GPU warm exec 10 ms, answer 0.4 ms
 * (on a CPU: cold 100 ms, warm 20 ms), so a GPU cold run takes 110.4 ms and
 * a warm one 10.4 ms. What the policies read (the functions' average
 * times) is set by hand before the invocations arrive: a stat with n = 1
 * keeps its value until a run adds to it. */
#include "gpu_world.h"

#include "core/policy_registry.h"

#define CPU_COLD (START + 100 * MS + OVH)

/* One GPU of 16 GB with 4 spots and `tokens` running tokens, the GPU queue
 * under gpu_policy and CPU|GPU functions under dispatch. */
static void world_gpu(struct world *wd, const char *gpu_policy, uint32_t tokens, const char *dispatch)
{
    world_config(&wd->cfg, 1, 4096);
    snprintf(wd->cfg.invocation.gpu_queue_policy, sizeof wd->cfg.invocation.gpu_queue_policy, "%s", gpu_policy);
    snprintf(wd->cfg.invocation.enqueueing_policy, sizeof wd->cfg.invocation.enqueueing_policy, "%s", dispatch);
    struct ilu_gpu_resource_config *g = &wd->cfg.container_resources.gpu_resource;
    g->count = 1;
    g->memory_mb = 16384;
    g->funcs_per_device = 4;
    g->concurrent_running_funcs = tokens;
}

/* What name-1 is known to take on compute on (ILU_ON_*), in ms. */
static void fn_known(struct world *wd, const char *name, int on, double exec_ms, double start_ms)
{
    struct ilu_function *fn = ilu_worker_function(wd->w, name, "1");
    assert_non_null(fn);
    fn->stats.on[on].exec_us = (struct ilu_stat){.mean = exec_ms * 1000, .ewma = exec_ms * 1000, .n = 1};
    fn->stats.on[on].container_start_us = (struct ilu_stat){.mean = start_ms * 1000, .ewma = start_ms * 1000, .n = 1};
}

/* Run the invocations fns[i] at at[i] to the end. */
static void run(struct world *wd, size_t n, const char *const *fns, const uint64_t *at)
{
    schedule(wd, n, fns, at);
    run_all(wd);
    for (size_t i = 0; i < n; i++)
        if (!wd->recs[i].success)
            fail_msg("invocation %zu (%s) failed: %s", i, fns[i], wd->recs[i].error_msg);
}

/* ---- the GPU queue's policies -------------------------------------------- */

/* x at 0 holds the one token until 110.4 ms; a, b, a queue behind it.
 * fcfs batches adjacent invocations only: [a] [b] [a], in arrival order.
 * oldest_batch keeps one batch per function: [a a] [b], so a, a, b. */
static void fcfs_and_oldest_batch_order_a_b_a(void **state)
{
    (void)state;
    const char *fns[] = {"x", "a", "b", "a"};
    const uint64_t at[] = {0, 1 * MS, 2 * MS, 3 * MS};
    struct world wd;

    world_gpu(&wd, "fcfs", 1, "AlwaysCPU");
    world_start(&wd);
    gpu_fn_register(&wd, "x", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "a", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "b", ILU_COMPUTE_GPU);
    run(&wd, 4, fns, at);
    assert_int_equal(wd.recs[1].done_at, 2 * COLD_RUN);            /* a cold: 220.8 */
    assert_int_equal(wd.recs[2].done_at, 3 * COLD_RUN);            /* b cold: 331.2 */
    assert_int_equal(wd.recs[3].done_at, 3 * COLD_RUN + WARM_RUN); /* a warm: 341.6 */
    assert_int_equal(wd.recs[3].kind, ILU_START_WARM);
    world_end(&wd);

    world_gpu(&wd, "oldest_batch", 1, "AlwaysCPU");
    world_start(&wd);
    gpu_fn_register(&wd, "x", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "a", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "b", ILU_COMPUTE_GPU);
    run(&wd, 4, fns, at);
    assert_int_equal(wd.recs[1].done_at, 2 * COLD_RUN);            /* a cold: 220.8 */
    assert_int_equal(wd.recs[3].done_at, 2 * COLD_RUN + WARM_RUN); /* a warm, same container: 231.2 */
    assert_string_equal(wd.recs[1].container_id, wd.recs[3].container_id);
    assert_int_equal(wd.recs[2].done_at, 3 * COLD_RUN + WARM_RUN); /* b cold: 341.6 */
    world_end(&wd);
}

/* sized_batch caps a batch at 10: x busy, ten a (1..10 ms), b (11 ms), an
 * 11th a (12 ms). Batches [a x10] (1 ms), [b] (11 ms), [a] (12 ms): the ten
 * a end at 220.8 + 9 x 10.4 = 314.4 ms, b cold at 424.8, the last a warm at
 * 435.2. oldest_batch has [a x11] [b]: the 11th a at 324.8, b at 435.2. */
static void sized_batch_caps_batches_at_ten(void **state)
{
    (void)state;
    const char *fns[13];
    uint64_t at[13];
    fns[0] = "x", at[0] = 0;
    for (int i = 1; i <= 10; i++)
        fns[i] = "a", at[i] = (uint64_t)i * MS;
    fns[11] = "b", at[11] = 11 * MS;
    fns[12] = "a", at[12] = 12 * MS;
    const char *policy[] = {"sized_batch", "oldest_batch"};
    const uint64_t last_a[] = {2 * COLD_RUN + 10 * WARM_RUN + COLD_RUN, 2 * COLD_RUN + 10 * WARM_RUN};
    const uint64_t b_at[] = {2 * COLD_RUN + 9 * WARM_RUN + COLD_RUN, 2 * COLD_RUN + 10 * WARM_RUN + COLD_RUN};
    for (int p = 0; p < 2; p++) {
        struct world wd;
        world_gpu(&wd, policy[p], 1, "AlwaysCPU");
        world_start(&wd);
        gpu_fn_register(&wd, "x", ILU_COMPUTE_GPU);
        gpu_fn_register(&wd, "a", ILU_COMPUTE_GPU);
        gpu_fn_register(&wd, "b", ILU_COMPUTE_GPU);
        run(&wd, 13, fns, at);
        assert_int_equal(wd.recs[10].done_at, 2 * COLD_RUN + 9 * WARM_RUN); /* 314.4 */
        assert_int_equal(wd.recs[11].done_at, b_at[p]);
        assert_int_equal(wd.recs[12].done_at, last_a[p]);
        assert_int_equal(wd.recs[12].kind, ILU_START_WARM);
        world_end(&wd);
    }
}

/* sjf: the expected GPU run at arrival, cold here (no idle GPU container):
 * a 30 + 50 = 80 ms, b 10 + 50 = 60 ms, c unknown (0, first). Behind x:
 * c, b, a, each cold. */
static void sjf_runs_the_shortest_expected_first(void **state)
{
    (void)state;
    struct world wd;
    world_gpu(&wd, "sjf", 1, "AlwaysCPU");
    world_start(&wd);
    gpu_fn_register(&wd, "x", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "a", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "b", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "c", ILU_COMPUTE_GPU);
    fn_known(&wd, "a", ILU_ON_GPU, 30, 50);
    fn_known(&wd, "b", ILU_ON_GPU, 10, 50);
    const char *fns[] = {"x", "a", "b", "c"};
    const uint64_t at[] = {0, 1 * MS, 2 * MS, 3 * MS};
    run(&wd, 4, fns, at);
    assert_int_equal(wd.recs[3].done_at, 2 * COLD_RUN); /* c */
    assert_int_equal(wd.recs[2].done_at, 3 * COLD_RUN); /* b */
    assert_int_equal(wd.recs[1].done_at, 4 * COLD_RUN); /* a */
    world_end(&wd);
}

/* The expected GPU run reads the function's GPU stats and its idle GPU
 * containers only: warm with one, else start-up + execution. */
static void expected_gpu_run_is_warm_only_with_an_idle_gpu_container(void **state)
{
    (void)state;
    struct ilu_function fn = {.fqdn = "f-1", .compute = ILU_COMPUTE_ALL};
    fn.stats.on[ILU_ON_GPU].exec_us.ewma = 10000;
    fn.stats.on[ILU_ON_GPU].container_start_us.ewma = 50000;
    fn.stats.on[ILU_ON_CPU].exec_us.ewma = 30000;
    fn.stats.on[ILU_ON_CPU].container_start_us.ewma = 70000;
    struct ilu_container cpu = {.fn = &fn}, gpu = {.fn = &fn, .has_gpu_spot = true};
    fn.idle_head = &cpu;
    assert_true(ilu_queue_expected_on_us(&fn, true) == 60000);  /* only a CPU container idle: GPU cold */
    assert_true(ilu_queue_expected_on_us(&fn, false) == 30000); /* CPU warm */
    cpu.idle_next = &gpu;
    assert_true(ilu_queue_expected_on_us(&fn, true) == 10000);
    assert_int_equal(ilu_fn_idle_on(&fn, true), 1);
    assert_int_equal(ilu_fn_idle_on(&fn, false), 1);
}

/* eedf: arrival + average GPU execution. a at 1 ms (100 ms: 101), b at 20
 * ms (10 ms: 30), c at 40 ms (unknown: 40). Behind x: b, c, a. */
static void eedf_runs_the_earliest_expected_deadline_first(void **state)
{
    (void)state;
    struct world wd;
    world_gpu(&wd, "eedf", 1, "AlwaysCPU");
    world_start(&wd);
    gpu_fn_register(&wd, "x", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "a", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "b", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "c", ILU_COMPUTE_GPU);
    fn_known(&wd, "a", ILU_ON_GPU, 100, 50);
    fn_known(&wd, "b", ILU_ON_GPU, 10, 50);
    const char *fns[] = {"x", "a", "b", "c"};
    const uint64_t at[] = {0, 1 * MS, 20 * MS, 40 * MS};
    run(&wd, 4, fns, at);
    assert_int_equal(wd.recs[2].done_at, 2 * COLD_RUN); /* b */
    assert_int_equal(wd.recs[3].done_at, 3 * COLD_RUN); /* c */
    assert_int_equal(wd.recs[1].done_at, 4 * COLD_RUN); /* a */
    world_end(&wd);
}

/* paella: a (30 ms) at 0 runs at once; then 60 b (10 ms) at 1 ms and two a
 * at 2 and 3 ms. Two functions, so each dispatch of b moves 0.5 of deficit
 * from b to a: after 50 b, a's deficit is 25 and the a of 2 ms runs
 * although b is shorter (a -> 24.5); one more b (a -> 25), the a of 3 ms,
 * then the last 9 b. a cold 110.4; b1 cold 220.8, then every run warm,
 * 10.4 ms: b50 at 730.4, a 740.8, b51 751.2, a 761.6, b60 855.2. */
static void paella_deficit_lets_a_long_function_through(void **state)
{
    (void)state;
    struct world wd;
    world_gpu(&wd, "paella", 1, "AlwaysCPU");
    world_start(&wd);
    gpu_fn_register(&wd, "a", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "b", ILU_COMPUTE_GPU);
    fn_known(&wd, "a", ILU_ON_GPU, 30, 50);
    fn_known(&wd, "b", ILU_ON_GPU, 10, 50);
    enum { N = 63 };
    const char *fns[N];
    uint64_t at[N];
    fns[0] = "a", at[0] = 0;
    for (int i = 1; i <= 60; i++)
        fns[i] = "b", at[i] = 1 * MS;
    fns[61] = "a", at[61] = 2 * MS;
    fns[62] = "a", at[62] = 3 * MS;
    run(&wd, N, fns, at);
    uint64_t b1 = 2 * COLD_RUN;
    assert_int_equal(wd.recs[0].done_at, COLD_RUN);
    assert_int_equal(wd.recs[1].done_at, b1);
    assert_int_equal(wd.recs[50].done_at, b1 + 49 * WARM_RUN); /* 730.4 */
    assert_int_equal(wd.recs[61].done_at, b1 + 50 * WARM_RUN); /* 740.8 */
    assert_int_equal(wd.recs[51].done_at, b1 + 51 * WARM_RUN);
    assert_int_equal(wd.recs[62].done_at, b1 + 52 * WARM_RUN); /* 761.6 */
    assert_int_equal(wd.recs[60].done_at, b1 + 61 * WARM_RUN); /* 855.2 */
    world_end(&wd);
}

/* MQFQ on the GPU queue (service_average 1, allowed_overrun 0.5, Ilúvatar's
 * non-work-conserving rule), three tokens. a, a, a, b at 0 get start tags
 * 0, 1, 2 and 0; V = 0. a1 (0) and b1 (0) start; a2 (1) is more than 0.5
 * ahead of V, so it waits although a token is free. At 110.4 ms both
 * finish, V = 1: a2 runs warm (120.8), a3 (2) waits until then (131.2). */
static void mqfq_throttles_a_flow_ahead_of_virtual_time(void **state)
{
    (void)state;
    struct world wd;
    world_gpu(&wd, "mqfq", 3, "AlwaysCPU");
    wd.cfg.invocation.mqfq.service_average = 1.0;
    wd.cfg.invocation.mqfq.allowed_overrun = 0.5;
    wd.cfg.invocation.mqfq.work_conserving = false;
    world_start(&wd);
    gpu_fn_register(&wd, "a", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "b", ILU_COMPUTE_GPU);
    const char *fns[] = {"a", "a", "a", "b"};
    const uint64_t at[] = {0, 0, 0, 0};
    schedule(&wd, 4, fns, at);
    ilu_sim_env_run_until(&wd.sim, 1 * MS);
    assert_int_equal(status_of(&wd, "num_running_funcs"), 2);
    assert_int_equal(status_of(&wd, "gpu_queue_len"), 2);
    run_all(&wd);
    assert_int_equal(wd.recs[0].done_at, COLD_RUN);
    assert_int_equal(wd.recs[3].done_at, COLD_RUN);
    assert_int_equal(wd.recs[1].done_at, COLD_RUN + WARM_RUN);
    assert_int_equal(wd.recs[1].kind, ILU_START_WARM);
    assert_int_equal(wd.recs[2].done_at, COLD_RUN + 2 * WARM_RUN);
    assert_string_equal(wd.recs[0].container_id, wd.recs[2].container_id);
    world_end(&wd);
}

/* MQFQ's service on the GPU queue is the function's average on GPUs, not
 * over every run (queue level, V = 0, allowed_overrun 10 s). a averages
 * 1 s on CPUs and 10 ms on GPUs, b 10 ms on CPUs and 0.5 s on GPUs; a, a,
 * b, b arrive. On the GPU queue the tags are a 0, 0.01 and b 0, 0.5: a, b,
 * a, b. Were the CPU averages used (the CPU queue's view), a's second tag
 * would be 1 and b's 0.01: a, b, b, a. */
static void mqfq_on_the_gpu_queue_serves_by_gpu_times(void **state)
{
    (void)state;
    for (int gpu = 0; gpu <= 1; gpu++) {
        struct ilu_worker_config cfg;
        ilu_config_defaults(&cfg);
        cfg.invocation.mqfq.allowed_overrun = 10.0;
        struct ilu_function fns[2] = {{.name = "a", .fqdn = "a-1"}, {.name = "b", .fqdn = "b-1"}};
        const double cpu_us[2] = {1e6, 1e4}, gpu_us[2] = {1e4, 5e5};
        for (int f = 0; f < 2; f++) {
            ilu_stat_add(&fns[f].stats.exec_us, cpu_us[f]);
            ilu_stat_add(&fns[f].stats.on[ILU_ON_CPU].exec_us, cpu_us[f]);
            ilu_stat_add(&fns[f].stats.on[ILU_ON_GPU].exec_us, gpu_us[f]);
        }
        struct ilu_queue q;
        struct ilu_error err = {0};
        assert_int_equal(ilu_queue_init(&q, ilu_gpu_queue_policy_find("mqfq"), &cfg, 16, &err), 0);
        struct ilu_invocation invs[4];
        const int fn_of[4] = {0, 0, 1, 1};
        struct ilu_queue_view v = {.now_us = 0, .cpu_limit = 1, .cpus_free = 1, .gpu = gpu};
        for (int i = 0; i < 4; i++) {
            memset(&invs[i], 0, sizeof invs[i]);
            invs[i].seq = (uint64_t)i + 1;
            invs[i].fn = &fns[fn_of[i]];
            assert_int_equal(ilu_queue_push(&q, &invs[i], &v, &err), 0);
        }
        const int want[2][4] = {{0, 2, 3, 1}, {0, 2, 1, 3}}; /* CPU view, GPU view */
        for (int k = 0; k < 4; k++) {
            struct ilu_invocation *got = ilu_queue_pop(&q, &v);
            if (got != &invs[want[gpu][k]])
                fail_msg("%s view, pop %d: want invocation %d, got %ld", gpu ? "GPU" : "CPU", k, want[gpu][k],
                         got ? (long)(got - invs) : -1L);
        }
        ilu_queue_destroy(&q);
    }
}

/* MQFQ flow TTL on the GPU (service_average 1, two tokens). At 0: a, a, a
 * (tags 0, 1, 2; a's finish tag 3) and b, whose one invocation (tag 0)
 * runs 2 s and so holds V at 0. a's three run on one container until
 * 131.2 ms. At 500 ms a and c arrive (a first); one token is free. With
 * ttl_sec 2 a's flow is still remembered: a starts at its finish tag 3, c
 * at V = 0, so c runs first (cold, 610.4) and a after it, warm on its own
 * container (620.8): a flow that just had its share does not jump ahead.
 * With ttl_sec 0.1 a was forgotten at 231.2 ms: both start at V = 0, the
 * older flow (a) first, warm (510.4), then c (620.8). */
static void mqfq_flow_ttl_remembers_a_returning_flow(void **state)
{
    (void)state;
    const char *fns[] = {"a", "a", "a", "b", "a", "c"};
    const uint64_t at[] = {0, 0, 0, 0, 500 * MS, 500 * MS};
    const double ttl[] = {2.0, 0.1};
    const uint64_t a_done[] = {500 * MS + COLD_RUN + WARM_RUN, 500 * MS + WARM_RUN};
    const uint64_t c_done[] = {500 * MS + COLD_RUN, 500 * MS + WARM_RUN + COLD_RUN};
    for (int i = 0; i < 2; i++) {
        struct world wd;
        world_gpu(&wd, "mqfq", 2, "AlwaysCPU");
        wd.cfg.invocation.mqfq.service_average = 1.0;
        wd.cfg.invocation.mqfq.ttl_sec = ttl[i];
        world_start(&wd);
        gpu_fn_register(&wd, "a", ILU_COMPUTE_GPU);
        gpu_fn_register(&wd, "b", ILU_COMPUTE_GPU);
        gpu_fn_register(&wd, "c", ILU_COMPUTE_GPU);
        struct ilu_sim_fn_timing slow = {.start_us = START,
                                         .cold_exec_us = 100 * MS,
                                         .warm_exec_us = 20 * MS,
                                         .gpu_cold_exec_us = 2 * SEC,
                                         .gpu_warm_exec_us = 2 * SEC};
        assert_int_equal(ilu_sim_backend_set_timing(wd.be, "b-1", &slow), 0);
        run(&wd, 6, fns, at);
        assert_int_equal(wd.recs[2].done_at, COLD_RUN + 2 * WARM_RUN);
        assert_int_equal(wd.recs[3].done_at, START + 2 * SEC + OVH);
        assert_int_equal(wd.recs[4].kind, ILU_START_WARM); /* the returning flow's container is still hot */
        assert_string_equal(wd.recs[4].container_id, wd.recs[0].container_id);
        assert_int_equal(wd.recs[4].done_at, a_done[i]);
        assert_int_equal(wd.recs[5].done_at, c_done[i]);
        world_end(&wd);
    }
}

/* Every GPU policy serves a mixed load to the end, its rest of a batch
 * included, with CPU|GPU invocations under All leaving one queue or the
 * other, and leaves nothing queued or held. */
static void every_gpu_policy_drains(void **state)
{
    (void)state;
    const char *fns[] = {"a", "b", "p", "a", "a", "c", "p", "b", "a", "c", "p", "c", "a", "p"};
    enum { N = sizeof fns / sizeof fns[0] };
    uint64_t at[N];
    for (int i = 0; i < N; i++)
        at[i] = (uint64_t)(i % 3) * MS;
    for (size_t p = 0; ilu_gpu_queue_policy_at(p); p++) {
        struct world wd;
        world_gpu(&wd, ilu_gpu_queue_policy_at(p)->name, 2, "All");
        world_start(&wd);
        gpu_fn_register(&wd, "a", ILU_COMPUTE_GPU);
        gpu_fn_register(&wd, "b", ILU_COMPUTE_GPU);
        gpu_fn_register(&wd, "c", ILU_COMPUTE_GPU);
        gpu_fn_register(&wd, "p", ILU_COMPUTE_ALL);
        run(&wd, N, fns, at);
        for (int i = 0; i < N; i++)
            assert_int_equal(wd.recs[i].calls, 1);
        assert_int_equal(status_of(&wd, "gpu_queue_len"), 0);
        assert_int_equal(status_of(&wd, "cpu_queue_len"), 0);
        assert_int_equal(status_of(&wd, "num_running_funcs"), 0);
        assert_int_equal(status_of(&wd, "invocations"), N);
        assert_int_equal(ilu_worker_outstanding(wd.w), 0);
        world_end(&wd);
    }
}

/* ---- dispatch of CPU|GPU functions ---------------------------------------- */

/* ShortestExecTime, nothing idle so both cold: p GPU 10 + 50 = 60 ms
 * against CPU 30 + 50 = 80 ms: GPU; q GPU 60 against CPU 55: CPU; r knows
 * nothing: a tie, CPU; s knows its CPU (55) but not its GPU (0): GPU, to
 * learn it. */
static void shortest_exec_time_picks_the_shorter_run(void **state)
{
    (void)state;
    struct world wd;
    world_gpu(&wd, "fcfs", 4, "ShortestExecTime");
    world_start(&wd);
    const char *names[] = {"p", "q", "r", "s"};
    for (int i = 0; i < 4; i++)
        gpu_fn_register(&wd, names[i], ILU_COMPUTE_ALL);
    fn_known(&wd, "p", ILU_ON_GPU, 10, 50);
    fn_known(&wd, "p", ILU_ON_CPU, 30, 50);
    fn_known(&wd, "q", ILU_ON_GPU, 10, 50);
    fn_known(&wd, "q", ILU_ON_CPU, 5, 50);
    fn_known(&wd, "s", ILU_ON_CPU, 5, 50);
    const uint64_t at[] = {0, 0, 0, 0};
    run(&wd, 4, names, at);
    assert_int_equal(wd.recs[0].exec_us, GCOLD); /* p: GPU */
    assert_int_equal(wd.recs[1].exec_us, 100 * MS);
    assert_int_equal(wd.recs[2].exec_us, 100 * MS);
    assert_int_equal(wd.recs[3].exec_us, GCOLD); /* s: GPU */
    assert_int_equal(status_of(&wd, "gpu_spots_used"), 2);
    world_end(&wd);
}

/* Speedup (speedup_ratio 4): p CPU 100 / GPU 20 = 5 > 4: GPU; q 60 / 20 =
 * 3: CPU; r nothing known: CPU. */
static void speedup_sends_functions_faster_on_the_gpu(void **state)
{
    (void)state;
    struct world wd;
    world_gpu(&wd, "fcfs", 4, "Speedup");
    world_start(&wd);
    const char *names[] = {"p", "q", "r"};
    for (int i = 0; i < 3; i++)
        gpu_fn_register(&wd, names[i], ILU_COMPUTE_ALL);
    fn_known(&wd, "p", ILU_ON_GPU, 20, 50);
    fn_known(&wd, "p", ILU_ON_CPU, 100, 50);
    fn_known(&wd, "q", ILU_ON_GPU, 20, 50);
    fn_known(&wd, "q", ILU_ON_CPU, 60, 50);
    const uint64_t at[] = {0, 0, 0};
    run(&wd, 3, names, at);
    assert_int_equal(wd.recs[0].exec_us, GCOLD);
    assert_int_equal(wd.recs[1].exec_us, 100 * MS);
    assert_int_equal(wd.recs[2].exec_us, 100 * MS);
    world_end(&wd);
}

/* EstCompTime, one token: g, g, g (GPU only, known cold 60 ms) at 0 form
 * one fcfs batch; one runs, two wait, 120 ms of GPU queue load over one
 * token. p at 1 ms: GPU 120 + 60 = 180 ms against CPU 0 + 80 = 80 ms:
 * CPU, done at 1 + 150.4 ms. ShortestExecTime compares runs only (60 <
 * 80): the GPU, after the batch: 131.2 + 110.4 = 241.6 ms. */
static void est_comp_time_counts_the_gpu_queue(void **state)
{
    (void)state;
    const char *policy[] = {"EstCompTime", "ShortestExecTime"};
    const uint64_t p_done[] = {1 * MS + CPU_COLD, COLD_RUN + 2 * WARM_RUN + COLD_RUN};
    for (int i = 0; i < 2; i++) {
        struct world wd;
        world_gpu(&wd, "fcfs", 1, policy[i]);
        world_start(&wd);
        gpu_fn_register(&wd, "g", ILU_COMPUTE_GPU);
        gpu_fn_register(&wd, "p", ILU_COMPUTE_ALL);
        fn_known(&wd, "g", ILU_ON_GPU, 10, 50);
        fn_known(&wd, "p", ILU_ON_GPU, 10, 50);
        fn_known(&wd, "p", ILU_ON_CPU, 30, 50);
        const char *fns[] = {"g", "g", "g", "p"};
        const uint64_t at[] = {0, 0, 0, 1 * MS};
        run(&wd, 4, fns, at);
        assert_int_equal(wd.recs[2].done_at, COLD_RUN + 2 * WARM_RUN);
        assert_int_equal(wd.recs[3].done_at, p_done[i]);
        world_end(&wd);
    }
    /* with the GPU queue empty, p's 60 ms GPU run wins */
    struct world wd;
    world_gpu(&wd, "fcfs", 1, "EstCompTime");
    world_start(&wd);
    gpu_fn_register(&wd, "p", ILU_COMPUTE_ALL);
    fn_known(&wd, "p", ILU_ON_GPU, 10, 50);
    fn_known(&wd, "p", ILU_ON_CPU, 30, 50);
    const char *one[] = {"p"};
    const uint64_t at0[] = {0};
    run(&wd, 1, one, at0);
    assert_int_equal(wd.recs[0].exec_us, GCOLD);
    world_end(&wd);
}

/* A CPU|GPU function with containers of both kinds: a CPU invocation never
 * takes its idle GPU container. Speedup: p known CPU 100 / GPU 22 ms =
 * 4.5 > 4 runs on the GPU (cold, its 60 ms make the GPU average 0.9 x 22
 * + 0.1 x 60 = 25.8 ms); at 200 ms 100 / 25.8 = 3.9: the CPU, cold
 * (350.4 ms) although p's GPU container is idle. */
static void cpu_invocations_never_take_gpu_containers(void **state)
{
    (void)state;
    struct world wd;
    world_gpu(&wd, "fcfs", 1, "Speedup");
    world_start(&wd);
    gpu_fn_register(&wd, "p", ILU_COMPUTE_ALL);
    fn_known(&wd, "p", ILU_ON_GPU, 22, 50);
    fn_known(&wd, "p", ILU_ON_CPU, 100, 50);
    const char *fns[] = {"p", "p"};
    const uint64_t at[] = {0, 200 * MS};
    run(&wd, 2, fns, at);
    assert_int_equal(wd.recs[0].exec_us, GCOLD);
    assert_int_equal(wd.recs[1].kind, ILU_START_COLD);
    assert_int_equal(wd.recs[1].exec_us, 100 * MS);
    assert_int_equal(wd.recs[1].done_at, 200 * MS + CPU_COLD);
    assert_string_not_equal(wd.recs[0].container_id, wd.recs[1].container_id);
    assert_int_equal(status_of(&wd, "gpu_spots_used"), 1); /* p's GPU container, idle */
    world_end(&wd);
}

/* All: p waits in both queues, the first copy to start runs. With the GPU
 * busy (g, g, g: one batch on the one token) p at 1 ms starts on the free
 * CPU at once and leaves the GPU queue: cold on CPU at 151.4 ms. With the
 * CPU busy (f cold until 150.4 ms) p starts on the free GPU and leaves the
 * CPU queue: cold on the GPU at 111.4 ms. Either way one answer. */
static void all_runs_the_copy_that_starts_first(void **state)
{
    (void)state;
    struct world wd;
    world_gpu(&wd, "fcfs", 1, "All");
    world_start(&wd);
    gpu_fn_register(&wd, "g", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "p", ILU_COMPUTE_ALL);
    const char *busy_gpu[] = {"g", "g", "g", "p"};
    const uint64_t at[] = {0, 0, 0, 1 * MS};
    schedule(&wd, 4, busy_gpu, at);
    ilu_sim_env_run_until(&wd.sim, 2 * MS);
    assert_int_equal(status_of(&wd, "gpu_queue_len"), 2); /* g, g; p's copy gone */
    assert_int_equal(status_of(&wd, "cpu_queue_len"), 0);
    run_all(&wd);
    assert_int_equal(wd.recs[3].calls, 1);
    assert_int_equal(wd.recs[3].exec_us, 100 * MS);
    assert_int_equal(wd.recs[3].done_at, 1 * MS + CPU_COLD);
    assert_int_equal(wd.recs[2].done_at, COLD_RUN + 2 * WARM_RUN);
    assert_int_equal(ilu_worker_outstanding(wd.w), 0);
    world_end(&wd);

    world_gpu(&wd, "fcfs", 1, "All");
    world_start(&wd);
    gpu_fn_register(&wd, "f", ILU_COMPUTE_CPU);
    gpu_fn_register(&wd, "p", ILU_COMPUTE_ALL);
    const char *busy_cpu[] = {"f", "p"};
    schedule(&wd, 2, busy_cpu, (const uint64_t[]){0, 1 * MS});
    ilu_sim_env_run_until(&wd.sim, 2 * MS);
    assert_int_equal(status_of(&wd, "cpu_queue_len"), 0);
    assert_int_equal(status_of(&wd, "gpu_queue_len"), 0);
    run_all(&wd);
    assert_int_equal(wd.recs[1].calls, 1);
    assert_int_equal(wd.recs[1].exec_us, GCOLD);
    assert_int_equal(wd.recs[1].done_at, 1 * MS + COLD_RUN);
    assert_int_equal(wd.recs[0].done_at, CPU_COLD);
    assert_int_equal(ilu_worker_outstanding(wd.w), 0);
    world_end(&wd);
}

/* All, both computes busy past limits.timeout_sec 1 (f on the CPU and g on
 * the GPU run 2 s): p waits in both queues and times out at 1 s with one
 * 504; both queues are empty after. */
static void all_times_out_once(void **state)
{
    (void)state;
    struct world wd;
    world_gpu(&wd, "fcfs", 1, "All");
    wd.cfg.limits.timeout_sec = 1;
    world_start(&wd);
    gpu_fn_register(&wd, "f", ILU_COMPUTE_CPU);
    gpu_fn_register(&wd, "g", ILU_COMPUTE_GPU);
    gpu_fn_register(&wd, "p", ILU_COMPUTE_ALL);
    struct ilu_sim_fn_timing slow = {.start_us = START,
                                     .cold_exec_us = 2 * SEC,
                                     .warm_exec_us = 2 * SEC,
                                     .gpu_cold_exec_us = 2 * SEC,
                                     .gpu_warm_exec_us = 2 * SEC};
    assert_int_equal(ilu_sim_backend_set_timing(wd.be, "f-1", &slow), 0);
    assert_int_equal(ilu_sim_backend_set_timing(wd.be, "g-1", &slow), 0);
    const char *fns[] = {"f", "g", "p"};
    schedule(&wd, 3, fns, (const uint64_t[]){0, 0, 0});
    ilu_sim_env_run_until(&wd.sim, 1 * MS);
    assert_int_equal(status_of(&wd, "cpu_queue_len"), 1);
    assert_int_equal(status_of(&wd, "gpu_queue_len"), 1);
    run_all(&wd);
    assert_int_equal(wd.recs[2].calls, 1);
    assert_int_equal(wd.recs[2].http_status, 504);
    assert_int_equal(wd.recs[2].done_at, 1 * SEC);
    assert_int_equal(status_of(&wd, "cpu_queue_len"), 0);
    assert_int_equal(status_of(&wd, "gpu_queue_len"), 0);
    assert_int_equal(ilu_worker_outstanding(wd.w), 0);
    world_end(&wd);
}

/* The answer says which compute ran it. */
static void the_answer_names_the_compute(void **state)
{
    (void)state;
    struct ilu_function fn = {.name = "p", .version = "1", .fqdn = "p-1", .compute = ILU_COMPUTE_ALL};
    struct ilu_invocation inv = {.fn = &fn, .success = true, .start_kind = ILU_START_WARM, .on_gpu = true};
    json_t *j = ilu_invocation_result_json(&inv);
    assert_string_equal(json_string_value(json_object_get(j, "compute")), "GPU");
    json_decref(j);
    inv.on_gpu = false;
    j = ilu_invocation_result_json(&inv);
    assert_string_equal(json_string_value(json_object_get(j, "compute")), "CPU");
    json_decref(j);
}

/* Unknown names are refused naming the registered ones; speedup_ratio > 0. */
static void config_names_the_registered_policies(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    struct ilu_error err = {0};
    ilu_config_defaults(&cfg);
    assert_true(cfg.invocation.speedup_ratio == 4.0);
    snprintf(cfg.invocation.gpu_queue_policy, sizeof cfg.invocation.gpu_queue_policy, "minheap");
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "invocation.gpu_queue_policy \"minheap\" is not one of: fcfs, sjf, eedf, "
                                    "oldest_batch, sized_batch, paella, mqfq"));
    ilu_config_defaults(&cfg);
    snprintf(cfg.invocation.enqueueing_policy, sizeof cfg.invocation.enqueueing_policy, "speedup");
    assert_int_equal(ilu_config_validate(&cfg, &err), 0); /* any case */
    cfg.invocation.speedup_ratio = 0;
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "invocation.speedup_ratio must be a number > 0"));
    for (size_t i = 0; ilu_gpu_queue_policy_at(i); i++) {
        ilu_config_defaults(&cfg);
        snprintf(cfg.invocation.gpu_queue_policy, sizeof cfg.invocation.gpu_queue_policy, "%s",
                 ilu_gpu_queue_policy_at(i)->name);
        assert_int_equal(ilu_config_validate(&cfg, &err), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fcfs_and_oldest_batch_order_a_b_a),
        cmocka_unit_test(sized_batch_caps_batches_at_ten),
        cmocka_unit_test(sjf_runs_the_shortest_expected_first),
        cmocka_unit_test(expected_gpu_run_is_warm_only_with_an_idle_gpu_container),
        cmocka_unit_test(eedf_runs_the_earliest_expected_deadline_first),
        cmocka_unit_test(paella_deficit_lets_a_long_function_through),
        cmocka_unit_test(mqfq_throttles_a_flow_ahead_of_virtual_time),
        cmocka_unit_test(mqfq_flow_ttl_remembers_a_returning_flow),
        cmocka_unit_test(mqfq_on_the_gpu_queue_serves_by_gpu_times),
        cmocka_unit_test(every_gpu_policy_drains),
        cmocka_unit_test(shortest_exec_time_picks_the_shorter_run),
        cmocka_unit_test(speedup_sends_functions_faster_on_the_gpu),
        cmocka_unit_test(est_comp_time_counts_the_gpu_queue),
        cmocka_unit_test(cpu_invocations_never_take_gpu_containers),
        cmocka_unit_test(all_runs_the_copy_that_starts_first),
        cmocka_unit_test(all_times_out_once),
        cmocka_unit_test(the_answer_names_the_compute),
        cmocka_unit_test(config_names_the_registered_policies),
    };
    return cmocka_run_group_tests_name("gpu_policies", tests, NULL, NULL);
}
