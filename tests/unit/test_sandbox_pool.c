/* Pre-started generic sandboxes (worker/sandbox_pool.h) in the real worker
 * core, on the simulated backend: a fresh container takes 50 ms to start,
 * assigning a sandbox its function 3 ms. Expected values are computed by
 * hand from those two figures. */
#include "sim_world.h"

#define ASSIGN_US (3 * MS)

static void sandbox_world(struct world *wd, uint32_t mem_mb, uint32_t sandboxes, uint32_t sandbox_mb)
{
    world_config(&wd->cfg, 4, mem_mb);
    wd->cfg.container_resources.sandbox_pool_size = sandboxes;
    wd->cfg.container_resources.sandbox_memory_mb = sandbox_mb;
    struct ilu_sim_backend_params params = {
        .default_start_us = 50 * MS, .invoke_overhead_us = OVH, .sandbox_assign_us = ASSIGN_US, .seed = 1};
    world_start_params(wd, &params);
}

static void cold_start_takes_a_ready_sandbox_and_the_pool_refills(void **state)
{
    struct world wd;
    sandbox_world(&wd, 1024, 2, 64);
    fn_add(&wd, "a", 128, 0, 10 * MS, 1 * MS);
    assert_int_equal(status_of(&wd, "sandboxes_starting"), 2);
    assert_int_equal(status_of(&wd, "used_mem_mb"), 128);
    const char *fns[] = {"a", "a"};
    const uint64_t at[] = {100 * MS, 200 * MS};
    schedule(&wd, 2, fns, at);
    run_all(&wd);
    /* cold on a sandbox: 3 ms to assign, 10 ms cold run, the round trip */
    assert_int_equal(wd.recs[0].kind, ILU_START_COLD);
    assert_int_equal(wd.recs[0].tm.sandbox, ILU_SANDBOX_POOLED);
    assert_int_equal(wd.recs[0].tm.container_start_us, ASSIGN_US);
    assert_int_equal(wd.recs[0].done_at, 100 * MS + ASSIGN_US + 10 * MS + OVH);
    /* the same container, warm: no sandbox involved */
    assert_int_equal(wd.recs[1].kind, ILU_START_WARM);
    assert_int_equal(wd.recs[1].tm.sandbox, ILU_SANDBOX_NONE);
    assert_string_equal(wd.recs[1].container_id, wd.recs[0].container_id);
    /* the one taken was replaced at 100 ms and is ready at 150 ms */
    assert_int_equal(status_of(&wd, "sandboxes_ready"), 2);
    assert_int_equal(status_of(&wd, "sandbox_hits"), 1);
    assert_int_equal(status_of(&wd, "sandbox_misses"), 0);
    assert_int_equal(status_of(&wd, "used_mem_mb"), 128 + 2 * 64);
    world_end(&wd);
}

static void cold_start_before_any_is_ready_is_a_fresh_miss(void **state)
{
    struct world wd;
    sandbox_world(&wd, 1024, 1, 64);
    fn_add(&wd, "a", 128, 0, 10 * MS, 1 * MS);
    const char *fns[] = {"a"};
    const uint64_t at[] = {10 * MS};
    schedule(&wd, 1, fns, at);
    run_all(&wd);
    assert_int_equal(wd.recs[0].kind, ILU_START_COLD);
    assert_int_equal(wd.recs[0].tm.sandbox, ILU_SANDBOX_FRESH);
    assert_int_equal(wd.recs[0].tm.container_start_us, 50 * MS);
    assert_int_equal(status_of(&wd, "sandbox_misses"), 1);
    assert_int_equal(status_of(&wd, "sandbox_hits"), 0);
    world_end(&wd);
}

static void each_function_gets_its_own_sandbox(void **state)
{
    struct world wd;
    sandbox_world(&wd, 1024, 2, 64);
    fn_add(&wd, "a", 128, 0, 10 * MS, 1 * MS);
    fn_add(&wd, "b", 128, 0, 10 * MS, 1 * MS);
    const char *fns[] = {"a", "b", "a", "b"};
    const uint64_t at[] = {100 * MS, 101 * MS, 300 * MS, 301 * MS};
    schedule(&wd, 4, fns, at);
    run_all(&wd);
    assert_int_equal(wd.recs[0].tm.sandbox, ILU_SANDBOX_POOLED);
    assert_int_equal(wd.recs[1].tm.sandbox, ILU_SANDBOX_POOLED);
    assert_string_not_equal(wd.recs[0].container_id, wd.recs[1].container_id);
    /* later calls stay on their function's container */
    assert_string_equal(wd.recs[2].container_id, wd.recs[0].container_id);
    assert_string_equal(wd.recs[3].container_id, wd.recs[1].container_id);
    assert_int_equal(wd.recs[2].kind, ILU_START_WARM);
    assert_int_equal(wd.recs[3].kind, ILU_START_WARM);
    world_end(&wd);
}

static void waiting_sandboxes_give_memory_up_before_any_eviction(void **state)
{
    struct world wd;
    /* 256 MB: two 64 MB sandboxes and an idle 128 MB container of a */
    sandbox_world(&wd, 256, 2, 64);
    fn_add(&wd, "a", 64, 0, 1 * MS, 1 * MS);
    fn_add(&wd, "b", 128, 0, 1 * MS, 1 * MS);
    const char *fns[] = {"a", "b", "a"};
    const uint64_t at[] = {100 * MS, 300 * MS, 400 * MS};
    schedule(&wd, 3, fns, at);
    run_all(&wd);
    /* a took a sandbox (64 MB of its own, refilled: 64 + 2 x 64 = 192);
     * b needs 128: one waiting sandbox goes, b takes the other */
    assert_int_equal(wd.recs[1].tm.sandbox, ILU_SANDBOX_POOLED);
    assert_int_equal(status_of(&wd, "evictions"), 0);
    assert_int_equal(status_of(&wd, "sandboxes_reclaimed"), 1);
    /* a's container survived: warm */
    assert_int_equal(wd.recs[2].kind, ILU_START_WARM);
    assert_int_equal(status_of(&wd, "used_mem_mb"), 64 + 128 + 64);
    world_end(&wd);
}

static void prewarm_takes_a_sandbox_too(void **state)
{
    struct world wd;
    sandbox_world(&wd, 1024, 1, 64);
    fn_add(&wd, "a", 128, 0, 10 * MS, 1 * MS);
    ilu_sim_env_run_until(&wd.sim, wd.sim.now_us + 100 * MS);
    uint64_t t0 = wd.sim.now_us;
    prewarm(&wd, "a", 1);
    assert_int_equal(wd.sim.now_us, t0 + ASSIGN_US);
    assert_int_equal(status_of(&wd, "sandbox_hits"), 1);
    world_end(&wd);
}

static void clean_replaces_the_waiting_sandboxes(void **state)
{
    struct world wd;
    sandbox_world(&wd, 1024, 3, 64);
    ilu_sim_env_run_until(&wd.sim, wd.sim.now_us + 200 * MS);
    assert_int_equal(status_of(&wd, "sandboxes_ready"), 3);
    assert_int_equal(ilu_worker_clean(wd.w, "clean"), 3);
    /* refilled two at a time (sandbox_max_starting): 50 ms, then 50 more */
    assert_int_equal(status_of(&wd, "sandboxes_ready"), 0);
    assert_int_equal(status_of(&wd, "sandboxes_starting"), 2);
    assert_int_equal(status_of(&wd, "used_mem_mb"), 2 * 64);
    ilu_sim_env_run_until(&wd.sim, wd.sim.now_us + 50 * MS);
    assert_int_equal(status_of(&wd, "sandboxes_ready"), 2);
    assert_int_equal(status_of(&wd, "sandboxes_starting"), 1);
    ilu_sim_env_run_until(&wd.sim, wd.sim.now_us + 50 * MS);
    assert_int_equal(status_of(&wd, "sandboxes_ready"), 3);
    assert_int_equal(status_of(&wd, "used_mem_mb"), 3 * 64);
    world_end(&wd);
}

static void off_by_default_and_refused_when_it_cannot_fit(void **state)
{
    struct world wd;
    world_config(&wd.cfg, 1, 1024);
    world_start(&wd);
    assert_int_equal(status_of(&wd, "sandbox_pool_size"), 0);
    assert_int_equal(status_of(&wd, "sandboxes_starting"), 0);
    world_end(&wd);

    struct ilu_worker_config cfg;
    world_config(&cfg, 1, 256);
    cfg.container_resources.sandbox_pool_size = 5;
    cfg.container_resources.sandbox_memory_mb = 64;
    struct ilu_error err = {0};
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "sandbox_pool_size x sandbox_memory_mb (5 x 64 MB)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cold_start_takes_a_ready_sandbox_and_the_pool_refills),
        cmocka_unit_test(cold_start_before_any_is_ready_is_a_fresh_miss),
        cmocka_unit_test(each_function_gets_its_own_sandbox),
        cmocka_unit_test(waiting_sandboxes_give_memory_up_before_any_eviction),
        cmocka_unit_test(prewarm_takes_a_sandbox_too),
        cmocka_unit_test(clean_replaces_the_waiting_sandboxes),
        cmocka_unit_test(off_by_default_and_refused_when_it_cannot_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
