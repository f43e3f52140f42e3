/* CPU contention in the simulated backend (simulation.host_cpus,
 * backend/sim/cpu_share.h) and start-up variance (start_factors), through
 * the real worker core as test_sim.c drives it. Start-ups, sandbox
 * assignments and executions share the host's CPUs by processor sharing:
 * with D the demand running and C the CPUs, each progresses at min(1, C/D).
 * Every expected time is worked out by hand beside it; times are
 * microseconds of virtual time. */
#include "sim_world.h"

#include <math.h>

#define T0 (1 * SEC)

/* The params every world below uses, with a host of host_cpus CPUs. */
static struct ilu_sim_backend_params cpu_params(double host_cpus, double start_demand, double exec_demand)
{
    return (struct ilu_sim_backend_params){.default_start_us = 50 * MS,
                                           .invoke_overhead_us = OVH,
                                           .seed = 1,
                                           .host_cpus = host_cpus,
                                           .start_demand = start_demand,
                                           .exec_demand = exec_demand};
}

/* ---- start-ups share the CPUs ---------------------------------------------- */

/* Host of 1 CPU, cpu_count 2: A and B (start-up 50 ms, CPU-bound) cold at
 * the same instant run at 1/2 and are both ready after 100 ms; their
 * executions (demand 0 here) then take their 20 ms. With 2 CPUs, nothing
 * slows down. */
static void two_cold_starts_on_one_cpu_take_twice_the_start_up(void **state)
{
    for (int cpus = 1; cpus <= 2; cpus++) {
        struct world wd;
        world_config(&wd.cfg, 2, 1024);
        struct ilu_sim_backend_params p = cpu_params(cpus, 1.0, 0);
        world_start_params(&wd, &p);
        fn_add(&wd, "A", 128, 0, 20 * MS, 10 * MS);
        fn_add(&wd, "B", 128, 0, 20 * MS, 10 * MS);
        const char *fns[2] = {"A", "B"};
        uint64_t at[2] = {T0, T0};
        schedule(&wd, 2, fns, at);
        run_all(&wd);
        uint64_t start = cpus == 1 ? 100 * MS : 50 * MS;
        for (int i = 0; i < 2; i++) {
            struct rec *r = &wd.recs[i];
            assert_true(r->success);
            assert_int_equal(r->kind, ILU_START_COLD);
            assert_int_equal(r->tm.container_start_us, start);
            assert_int_equal(r->exec_us, 20 * MS);
            assert_int_equal(r->done_at, T0 + start + 20 * MS + OVH);
        }
        world_end(&wd);
    }
}

/* Host of 1 CPU. A prewarmed (alone: 50 ms). At T0, A's call (execution 40
 * ms) and B's cold start (50 ms) share the CPU at 1/2: A's execution is done
 * at T0 + 80 ms, and the agent reports 80 ms; B's start-up had 40 ms done,
 * its last 10 ms alone -> ready at T0 + 90 ms; then B's execution (20 ms)
 * alone, the overhead being no CPU work. */
static void an_execution_overlapping_a_start_up_is_slowed_and_reports_it(void **state)
{
    struct world wd;
    world_config(&wd.cfg, 2, 1024);
    struct ilu_sim_backend_params p = cpu_params(1, 1.0, 1.0);
    world_start_params(&wd, &p);
    fn_add(&wd, "A", 128, 0, 40 * MS, 40 * MS);
    fn_add(&wd, "B", 128, 0, 20 * MS, 10 * MS);
    prewarm(&wd, "A", 1);
    assert_int_equal(wd.sim.now_us, 50 * MS);
    const char *fns[2] = {"A", "B"};
    uint64_t at[2] = {T0, T0};
    schedule(&wd, 2, fns, at);
    run_all(&wd);
    struct rec *a = &wd.recs[0], *b = &wd.recs[1];
    assert_int_equal(a->kind, ILU_START_PREWARM);
    assert_int_equal(a->exec_us, 80 * MS);
    assert_int_equal(a->tm.agent_round_trip_us, 80 * MS + OVH);
    assert_int_equal(a->done_at, T0 + 80 * MS + OVH);
    assert_int_equal(b->kind, ILU_START_COLD);
    assert_int_equal(b->tm.container_start_us, 90 * MS);
    assert_int_equal(b->exec_us, 20 * MS);
    assert_int_equal(b->done_at, T0 + 90 * MS + 20 * MS + OVH);
    world_end(&wd);
}

/* A demand of 0.25 (a function that mostly waits) beside a start-up on 1
 * CPU: D = 1.25, both at 0.8. Execution 40 ms -> 50 ms; start-up 50 ms:
 * 40 ms done by then, the last 10 ms alone -> 60 ms. */
static void a_light_execution_slows_a_start_up_a_little(void **state)
{
    struct world wd;
    world_config(&wd.cfg, 2, 1024);
    struct ilu_sim_backend_params p = cpu_params(1, 1.0, 0.25);
    world_start_params(&wd, &p);
    fn_add(&wd, "A", 128, 0, 40 * MS, 40 * MS);
    fn_add(&wd, "B", 128, 0, 20 * MS, 10 * MS);
    prewarm(&wd, "A", 1);
    const char *fns[2] = {"A", "B"};
    uint64_t at[2] = {T0, T0};
    schedule(&wd, 2, fns, at);
    run_all(&wd);
    assert_int_equal(wd.recs[0].exec_us, 50 * MS);
    assert_int_equal(wd.recs[1].tm.container_start_us, 60 * MS);
    assert_int_equal(wd.recs[1].exec_us, 20 * MS); /* 0.25 alone: no slowdown */
    world_end(&wd);
}

/* ---- host_cpus 0: exactly as before ----------------------------------------- */

struct summary {
    uint64_t sum_done, sum_queue, sum_exec, sum_start, fired;
    unsigned cold, warm, queued;
};

/* test_sim.c's determinism world: 2000 calls of 4 functions (start-up
 * 20-80 ms, jitter 20 %, seed 7) through 2 CPUs and 384 MB. */
static void busy_world(const struct ilu_sim_backend_params *params, struct summary *s, struct rec *out)
{
    enum { N = 2000 };
    struct world wd;
    world_config(&wd.cfg, 2, 384);
    world_start_params(&wd, params);
    const char *names[4] = {"A", "B", "C", "D"};
    for (int f = 0; f < 4; f++)
        fn_add(&wd, names[f], 128, (uint64_t)(f + 1) * 20 * MS, (uint64_t)(f + 1) * 60 * MS,
               (uint64_t)(f + 1) * 30 * MS);
    const char *fns[N];
    uint64_t at[N];
    uint64_t x = 99, t = 0;
    for (size_t i = 0; i < N; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        t += (x >> 33) % (150 * MS);
        at[i] = t;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        fns[i] = names[(x >> 33) % 4];
    }
    schedule(&wd, N, fns, at);
    run_all(&wd);
    *s = (struct summary){.fired = wd.sim.fired};
    for (size_t i = 0; i < N; i++) {
        struct rec *r = &wd.recs[i];
        assert_true(r->success);
        s->sum_done += r->done_at;
        s->sum_queue += r->tm.queue_us;
        s->sum_exec += r->exec_us;
        s->sum_start += r->tm.container_start_us;
        s->cold += r->kind == ILU_START_COLD;
        s->warm += r->kind == ILU_START_WARM;
        s->queued += r->tm.queue_us > 0;
    }
    if (out) {
        memcpy(out, wd.recs, N * sizeof *out);
        for (size_t i = 0; i < N; i++)
            out[i].fn = NULL;
    }
    world_end(&wd);
}

/* busy_world's figures with the backend as it was before host_cpus (no
 * CPU model), run once and written down here */
#define GOLDEN_SUM_DONE  146718916113ull
#define GOLDEN_SUM_QUEUE 1080024358ull
#define GOLDEN_SUM_EXEC  224533654ull
#define GOLDEN_SUM_START 51320000ull
#define GOLDEN_FIRED     9064ull
#define GOLDEN_COLD      1028
#define GOLDEN_WARM      972
#define GOLDEN_QUEUED    1775

/* host_cpus 0 (whatever the demands say) gives what the backend gave before
 * host_cpus existed: the same records, the same number of timers fired, and
 * the figures below, taken from the backend without CPU model. */
static void no_host_cpus_changes_nothing(void **state)
{
    enum { N = 2000 };
    struct ilu_sim_backend_params before = {
        .default_start_us = 50 * MS, .invoke_overhead_us = OVH, .jitter = 0.2, .seed = 7};
    struct ilu_sim_backend_params now = before;
    now.host_cpus = 0;
    now.start_demand = 1.0;
    now.exec_demand = 1.0;
    struct summary a, b;
    struct rec *ra = calloc(N, sizeof *ra), *rb = calloc(N, sizeof *rb);
    busy_world(&before, &a, ra);
    busy_world(&now, &b, rb);
    assert_memory_equal(ra, rb, N * sizeof *ra);
    assert_memory_equal(&a, &b, sizeof a);
    /* the backend before CPU contention, on this world */
    assert_int_equal(a.sum_done, GOLDEN_SUM_DONE);
    assert_int_equal(a.sum_queue, GOLDEN_SUM_QUEUE);
    assert_int_equal(a.sum_exec, GOLDEN_SUM_EXEC);
    assert_int_equal(a.sum_start, GOLDEN_SUM_START);
    assert_int_equal(a.fired, GOLDEN_FIRED);
    assert_int_equal(a.cold, GOLDEN_COLD);
    assert_int_equal(a.warm, GOLDEN_WARM);
    assert_int_equal(a.queued, GOLDEN_QUEUED);
    /* on a host of 1 CPU the same world is slower: cpu_count 2 lets two
     * start-ups or executions overlap, and they now share that CPU */
    struct ilu_sim_backend_params one = now;
    one.host_cpus = 1;
    struct summary c;
    busy_world(&one, &c, NULL);
    assert_true(c.sum_start > a.sum_start);
    assert_true(c.sum_exec > a.sum_exec);
    /* on 2 CPUs nothing ever waits for a CPU: the same records as
     * without CPU model (one more timer per call: the overhead after the
     * execution) */
    struct ilu_sim_backend_params two = now;
    two.host_cpus = 2;
    busy_world(&two, &c, rb);
    assert_memory_equal(ra, rb, N * sizeof *ra);
    assert_int_equal(c.fired, a.fired + N);
    free(ra);
    free(rb);
}

/* ---- destroying a container cancels its share --------------------------------- */

/* Host of 1 CPU, start-up timeout 1 s. A (start-up 2 s) cold at T0; B
 * (start-up 400 ms) cold at T0 + 500 ms: both at 1/2, B has 250 ms done
 * when A is given up and destroyed at T0 + 1 s; its last 150 ms alone ->
 * ready at T0 + 1150 ms (650 ms; 800 ms had A kept the CPU). */
static void a_container_given_up_mid_start_up_stops_loading_the_cpu(void **state)
{
    struct world wd;
    world_config(&wd.cfg, 2, 1024);
    wd.cfg.container_resources.startup_timeout_ms = 1000;
    struct ilu_sim_backend_params p = cpu_params(1, 1.0, 1.0);
    world_start_params(&wd, &p);
    fn_add(&wd, "A", 128, 2 * SEC, 10 * MS, 10 * MS);
    fn_add(&wd, "B", 128, 400 * MS, 10 * MS, 10 * MS);
    const char *fns[2] = {"A", "B"};
    uint64_t at[2] = {T0, T0 + 500 * MS};
    schedule(&wd, 2, fns, at);
    run_all(&wd);
    assert_false(wd.recs[0].success);
    assert_int_equal(wd.recs[0].http_status, 502);
    assert_int_equal(wd.recs[0].done_at, T0 + 1 * SEC);
    assert_true(wd.recs[1].success);
    assert_int_equal(wd.recs[1].tm.container_start_us, 650 * MS);
    assert_int_equal(wd.recs[1].done_at, T0 + 1150 * MS + 10 * MS + OVH);
    world_end(&wd);
}

/* Host of 1 CPU, timeout 2 s. S and F prewarmed. S (10 s) runs alone from
 * T0; F (1 s) joins at T0 + 1.5 s, both at 1/2; S times out at T0 + 2 s
 * and its container is destroyed. F had 250 ms done, its last 750 ms alone:
 * done at T0 + 2.75 s, and reports 1.25 s. */
static void a_call_timed_out_mid_execution_stops_loading_the_cpu(void **state)
{
    struct world wd;
    world_config(&wd.cfg, 2, 1024);
    wd.cfg.limits.timeout_sec = 2;
    struct ilu_sim_backend_params p = cpu_params(1, 1.0, 1.0);
    world_start_params(&wd, &p);
    fn_add(&wd, "S", 128, 0, 10 * SEC, 10 * SEC);
    fn_add(&wd, "F", 128, 0, 1 * SEC, 1 * SEC);
    prewarm(&wd, "S", 1);
    prewarm(&wd, "F", 1);
    const char *fns[2] = {"S", "F"};
    uint64_t at[2] = {T0, T0 + 1500 * MS};
    schedule(&wd, 2, fns, at);
    run_all(&wd);
    assert_int_equal(wd.recs[0].http_status, 504);
    assert_int_equal(wd.recs[0].done_at, T0 + 2 * SEC);
    assert_true(wd.recs[1].success);
    assert_int_equal(wd.recs[1].exec_us, 1250 * MS);
    assert_int_equal(wd.recs[1].done_at, T0 + 2750 * MS + OVH);
    world_end(&wd);
}

/* Freeing the worker and the backend with start-ups and executions on the
 * CPUs leaves nothing behind (ASan). */
static void free_with_cpu_work_in_flight_leaks_nothing(void **state)
{
    struct world wd;
    world_config(&wd.cfg, 2, 1024);
    struct ilu_sim_backend_params p = cpu_params(1, 1.0, 1.0);
    world_start_params(&wd, &p);
    fn_add(&wd, "A", 128, 0, 1 * SEC, 1 * SEC);
    fn_add(&wd, "B", 128, 0, 1 * SEC, 1 * SEC);
    prewarm(&wd, "A", 1);
    const char *fns[3] = {"A", "B", "A"};
    uint64_t at[3] = {T0, T0, T0};
    schedule(&wd, 3, fns, at);
    ilu_sim_env_run_until(&wd.sim, T0 + 10 * MS);
    assert_int_equal(wd.done, 0);
    world_end(&wd);
}

/* ---- sandbox assignment shares the CPUs ----------------------------------------- */

/* Host of 1 CPU, a pool of 1 sandbox (ready at 50 ms), assignment 3 ms. At
 * 100 ms, a takes the sandbox and b (no sandbox left) starts fresh (50
 * ms): at 1/2, a's assignment takes 6 ms. From 106 ms the pool's refill (50
 * ms), a's execution (10 ms) and b's start-up share at 1/3: a's execution
 * takes 30 ms (done at 136 ms). b then has 13 ms done and the refill 10 ms,
 * at 1/2: b ready at 136 + 2 x 37 = 210 ms (110 ms), the refill then has 3
 * ms left. b's execution (10 ms) and the refill at 1/2 until 216 ms, then b
 * alone: done at 223 ms (13 ms). */
static void sandbox_assignment_shares_the_cpus(void **state)
{
    struct world wd;
    world_config(&wd.cfg, 4, 1024);
    wd.cfg.container_resources.sandbox_pool_size = 1;
    wd.cfg.container_resources.sandbox_memory_mb = 64;
    struct ilu_sim_backend_params p = cpu_params(1, 1.0, 1.0);
    p.sandbox_assign_us = 3 * MS;
    world_start_params(&wd, &p);
    fn_add(&wd, "a", 128, 0, 10 * MS, 1 * MS);
    fn_add(&wd, "b", 128, 0, 10 * MS, 1 * MS);
    const char *fns[2] = {"a", "b"};
    const uint64_t at[2] = {100 * MS, 100 * MS};
    schedule(&wd, 2, fns, at);
    run_all(&wd);
    assert_int_equal(wd.recs[0].tm.sandbox, ILU_SANDBOX_POOLED);
    assert_int_equal(wd.recs[0].tm.container_start_us, 6 * MS);
    assert_int_equal(wd.recs[0].exec_us, 30 * MS);
    assert_int_equal(wd.recs[0].done_at, 136 * MS + OVH);
    assert_int_equal(wd.recs[1].tm.sandbox, ILU_SANDBOX_FRESH);
    assert_int_equal(wd.recs[1].tm.container_start_us, 110 * MS);
    assert_int_equal(wd.recs[1].exec_us, 13 * MS);
    assert_int_equal(wd.recs[1].done_at, 223 * MS + OVH);
    ilu_sim_env_run_until(&wd.sim, 300 * MS);
    assert_int_equal(status_of(&wd, "sandboxes_ready"), 1); /* the refill, ready at 216 ms */
    world_end(&wd);
}

/* ---- start-up variance ------------------------------------------------------------ */

static const double factors[] = {0.8, 0.9, 1.0, 1.5, 3.0}; /* median 1.0 */

enum { N_STARTS = 201 };

/* N_STARTS functions with a 50 ms start-up, called once each 1 s apart (no
 * overlap): their start-ups and execution times. */
static void start_run(const double *f, size_t n_f, uint64_t seed, double jitter, double host_cpus, uint64_t *start,
                      uint64_t *exec)
{
    struct world wd;
    world_config(&wd.cfg, 1, 1024);
    struct ilu_sim_backend_params p = cpu_params(host_cpus, 1.0, 1.0);
    p.seed = seed;
    p.jitter = jitter;
    p.start_factors = f;
    p.n_start_factors = n_f;
    world_start_params(&wd, &p);
    const char *fns[N_STARTS];
    char names[N_STARTS][8];
    uint64_t at[N_STARTS];
    for (int i = 0; i < N_STARTS; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        fn_add(&wd, names[i], 128, 0, 20 * MS, 10 * MS);
        fns[i] = names[i];
        at[i] = (uint64_t)(i + 1) * SEC;
    }
    schedule(&wd, N_STARTS, fns, at);
    run_all(&wd);
    for (int i = 0; i < N_STARTS; i++) {
        assert_int_equal(wd.recs[i].kind, ILU_START_COLD);
        start[i] = wd.recs[i].tm.container_start_us;
        exec[i] = wd.recs[i].exec_us;
    }
    world_end(&wd);
}

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Each start-up is 50 ms times a factor between the smallest and the
 * largest; they vary; the median factor is the array's (1.0, within the
 * spread of 201 draws); the same seed gives the same start-ups and another
 * seed others; turning the factors on leaves the jitter values as they
 * were; with host_cpus the factors apply the same (a start-up alone). */
static void start_factors_vary_start_ups_reproducibly(void **state)
{
    uint64_t s1[N_STARTS], s2[N_STARTS], s3[N_STARTS], s4[N_STARTS], e1[N_STARTS], e2[N_STARTS], e3[N_STARTS],
        e4[N_STARTS];
    start_run(factors, 5, 42, 0, 0, s1, e1);
    start_run(factors, 5, 42, 0, 0, s2, e2);
    start_run(factors, 5, 43, 0, 0, s3, e3);
    assert_memory_equal(s1, s2, sizeof s1);
    assert_memory_not_equal(s1, s3, sizeof s1);
    unsigned distinct = 0, below = 0, above = 0;
    for (int i = 0; i < N_STARTS; i++) {
        assert_true(s1[i] >= 40 * MS && s1[i] <= 150 * MS); /* 0.8 x and 3.0 x 50 ms */
        assert_int_equal(e1[i], 20 * MS);
        distinct += i > 0 && s1[i] != s1[i - 1];
        below += s1[i] < 50 * MS;
        above += s1[i] > 75 * MS; /* factor above 1.5: a quarter of the draws */
    }
    assert_true(distinct > N_STARTS * 9 / 10);
    assert_true(below > N_STARTS / 3 && below < N_STARTS * 2 / 3);
    assert_true(above > N_STARTS / 8 && above < N_STARTS * 3 / 8);
    uint64_t sorted[N_STARTS];
    memcpy(sorted, s1, sizeof sorted);
    qsort(sorted, N_STARTS, sizeof sorted[0], by_value);
    double median = (double)sorted[N_STARTS / 2] / (50.0 * MS);
    if (fabs(median - 1.0) > 0.05)
        fail_msg("median start-up factor %.3f, the array's is 1.0", median);

    /* the jitter stream is the same with or without factors */
    start_run(factors, 5, 42, 0.1, 0, s3, e3);
    start_run(NULL, 0, 42, 0.1, 0, s4, e4);
    assert_memory_equal(e3, e4, sizeof e3);
    assert_memory_equal(s3, s1, sizeof s3); /* and the factors the same with or without jitter */
    for (int i = 0; i < N_STARTS; i++)
        assert_int_equal(s4[i], 50 * MS);

    /* one factor: every start-up scaled by it; on a host with a CPU, a
     * start-up alone takes the same */
    const double twice = 2.0;
    start_run(&twice, 1, 42, 0, 0, s3, e3);
    start_run(factors, 5, 42, 0, 1, s4, e4);
    for (int i = 0; i < N_STARTS; i++)
        assert_int_equal(s3[i], 100 * MS);
    assert_memory_equal(s4, s1, sizeof s4);
}

/* ---- the config keys --------------------------------------------------------------- */

/* simulation.host_cpus, start_cpu_pct and exec_cpu_pct: their defaults,
 * their bounds, their place in the dump (after the older keys), and the
 * backend's parameters from them. */
static void cpu_keys_load_check_and_become_params(void **state)
{
    struct ilu_sim_config sc;
    ilu_sim_config_defaults(&sc);
    assert_int_equal(sc.host_cpus, 0);
    assert_int_equal(sc.start_cpu_pct, 100);
    assert_int_equal(sc.exec_cpu_pct, 100);
    struct ilu_sim_backend_params p = ilu_sim_backend_params_of(&sc, 0);
    assert_true(p.host_cpus == 0);
    assert_true(p.start_demand == 1.0 && p.exec_demand == 1.0);
    assert_null(p.start_factors);
    assert_int_equal(p.n_start_factors, 0);

    const struct ilu_cfg_part section = {&ilu_sim_config_schema, &sc, ilu_sim_config_validate};
    struct ilu_worker_config cfg;
    world_config(&cfg, 1, 256);
    cfg.sections = &section;
    cfg.n_sections = 1;
    struct ilu_error err = {0};
    assert_int_equal(
        ilu_config_apply_json(
            &cfg, "{\"simulation\": {\"host_cpus\": 2, \"start_cpu_pct\": 150, \"exec_cpu_pct\": 10}}", "w.json", &err),
        0);
    char *env[] = {"ILUVATAR_WORKER__simulation__exec_cpu_pct=25", NULL};
    assert_int_equal(ilu_config_apply_env(&cfg, "ILUVATAR_WORKER", env, &err), 0);
    assert_int_equal(ilu_config_validate(&cfg, &err), 0);
    p = ilu_sim_backend_params_of(&sc, 0);
    assert_true(p.host_cpus == 2.0);
    assert_true(p.start_demand == 1.5);
    assert_true(p.exec_demand == 0.25);

    char *dump = ilu_config_dump(&cfg);
    const char *seed = strstr(dump, "\"seed\"");
    const char *host = strstr(dump, "\"host_cpus\"");
    const char *start = strstr(dump, "\"start_cpu_pct\"");
    const char *exec = strstr(dump, "\"exec_cpu_pct\"");
    assert_true(seed && host && start && exec);
    assert_true(seed < host && host < start && start < exec);
    free(dump);

    sc.host_cpus = 4096;
    assert_int_equal(ilu_config_validate(&cfg, &err), 0);
    sc.host_cpus = 4097;
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "simulation.host_cpus must be from 0 to 4096"));
    sc.host_cpus = -1;
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    sc.host_cpus = 1.5; /* a 2-CPU host with a steady half CPU taken by others */
    assert_int_equal(ilu_config_validate(&cfg, &err), 0);
    assert_true(ilu_sim_backend_params_of(&sc, 0).host_cpus == 1.5);
    sc.host_cpus = 2;
    sc.start_cpu_pct = 6401;
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "simulation.start_cpu_pct must be at most 6400"));
    sc.start_cpu_pct = 6400;
    sc.exec_cpu_pct = 6401;
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "simulation.exec_cpu_pct must be at most 6400"));
    sc.exec_cpu_pct = 0; /* a function that never competes for the CPU */
    assert_int_equal(ilu_config_validate(&cfg, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_cold_starts_on_one_cpu_take_twice_the_start_up),
        cmocka_unit_test(an_execution_overlapping_a_start_up_is_slowed_and_reports_it),
        cmocka_unit_test(a_light_execution_slows_a_start_up_a_little),
        cmocka_unit_test(no_host_cpus_changes_nothing),
        cmocka_unit_test(a_container_given_up_mid_start_up_stops_loading_the_cpu),
        cmocka_unit_test(a_call_timed_out_mid_execution_stops_loading_the_cpu),
        cmocka_unit_test(free_with_cpu_work_in_flight_leaks_nothing),
        cmocka_unit_test(sandbox_assignment_shares_the_cpus),
        cmocka_unit_test(start_factors_vary_start_ups_reproducibly),
        cmocka_unit_test(cpu_keys_load_check_and_become_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
