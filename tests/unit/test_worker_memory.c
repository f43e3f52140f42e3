/* Worker: memory and eviction (the pool's LRU, waiting for memory, evicting
 * nothing when eviction cannot make room, failing what can never get memory)
 * and keep-alive (idle containers removed after keepalive_sec, clean). */
#include "worker_fixture.h"

#include "worker/keepalive.h"
#include "worker/pool.h"
#include "worker/worker_internal.h"

static void run_alternating(uint32_t pool_mb, long long cold, long long evictions, long long containers)
{
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.memory_mb = pool_mb;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 200);
    fake_register(w, "B", 200);
    struct fake_result r = {0};
    const char *seq[] = {"A", "B", "A", "B"};
    for (int i = 0; i < 4; i++) {
        fake_invoke_settled(&fw, seq[i], "t", &r);
        assert_true(r.success);
        assert_true(fake_status(w, "used_mem_mb") <= pool_mb);
    }
    assert_int_equal(r.calls, 4);
    assert_int_equal(fake_status(w, "cold_starts"), cold);
    assert_int_equal(fake_status(w, "warm_starts"), 4 - cold);
    assert_int_equal(fake_status(w, "evictions"), evictions);
    assert_int_equal(fake_status(w, "num_containers"), containers);
    assert_int_equal(fake_status(w, "used_mem_mb"), 200 * containers);
    assert_int_equal(fw.be.created, cold);
    assert_int_equal(fake_live(&fw.be), containers);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

static void lru_pool_too_small_for_two_cold_starts_every_time(void **state)
{
    (void)state;
    run_alternating(256, 4, 3, 1);
}

static void lru_pool_big_enough_for_two_keeps_both_warm(void **state)
{
    (void)state;
    run_alternating(512, 2, 0, 2);
}

static void lru_evicts_least_recently_used(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.memory_mb = 512;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 200);
    fake_register(w, "B", 200);
    fake_register(w, "C", 200);
    struct fake_result r = {0};
    const char *seq[] = {"A", "B", "A", "C"}; /* C must push out B, used before A's last use */
    for (int i = 0; i < 4; i++) {
        fake_invoke_settled(&fw, seq[i], "t", &r);
    }
    assert_int_equal(fake_status(w, "evictions"), 1);
    assert_non_null(fake_live_ct(&fw.be, "A-1"));
    assert_null(fake_live_ct(&fw.be, "B-1"));
    assert_non_null(fake_live_ct(&fw.be, "C-1"));
    fake_invoke_settled(&fw, "A", "t", &r);
    assert_int_equal(r.kind, ILU_START_WARM);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

/* Pool fits one of A and B; both arrive together with two CPUs: B waits for
 * A's container to become idle, then evicts it. */
static void invocation_waits_for_memory_held_by_busy_container(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.memory_mb = 256;
    fw.cfg.container_resources.cpu_count = 2;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 200);
    fake_register(w, "B", 200);
    struct fake_result ra = {0}, rb = {0};
    fake_invoke_ok(w, &fw.env, "A", "ta", &ra);
    fake_invoke_ok(w, &fw.env, "B", "tb", &rb);
    fake_run_until(&fw.env, T0 + 1);
    assert_int_equal(fake_status(w, "cpu_queue_len"), 1);
    assert_int_equal(fake_status(w, "used_mem_mb"), 200);
    fake_settle(&fw.env, w);
    assert_true(ra.success);
    assert_true(rb.success);
    assert_int_equal(ra.done_at, T0 + COLD + EXEC);
    assert_int_equal(rb.done_at, T0 + 2 * (COLD + EXEC));
    assert_int_equal(fake_json_int(rb.json, "timings.queue_us"), COLD + EXEC);
    assert_int_equal(fake_status(w, "evictions"), 1);
    fake_result_clear(&ra);
    fake_result_clear(&rb);
    fake_world_end(&fw);
}

static void prewarm_without_free_memory_is_503(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.memory_mb = 256;
    fw.cfg.container_resources.cpu_count = 2;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 200);
    struct fake_result r = {0};
    fake_invoke_ok(w, &fw.env, "A", "t", &r);
    fake_run_until(&fw.env, T0 + 1); /* A's container is starting */
    struct fake_prewarm p = {0};
    struct ilu_error err = {0};
    assert_int_equal(ilu_worker_prewarm(w, "A", "1", "pw", fake_prewarm_cb, &p, &err), -1);
    assert_int_equal(err.status, 503);
    assert_string_equal(err.kind, "insufficient_memory");
    fake_settle(&fw.env, w);
    assert_int_equal(p.calls, 0);
    assert_int_equal(fake_status(w, "used_mem_mb"), 200);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

/* A (256 MB) runs for a second while B (128 MB) sits idle; C (384 MB) does
 * not fit even with B gone, so it waits for A and B stays warm: evicting B
 * would destroy a warm container for nothing. Once A is idle too, both go. */
static void eviction_that_cannot_make_room_evicts_nothing(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.memory_mb = 512;
    fw.cfg.container_resources.cpu_count = 2;
    fake_fn(&fw.be, "A-1")->exec_us = 1 * SEC;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 256);
    fake_register(w, "B", 128);
    fake_register(w, "C", 384);
    struct fake_result ra = {0}, rb = {0}, rc = {0};
    fake_invoke_settled(&fw, "B", "tb", &rb);
    fake_invoke_ok(w, &fw.env, "A", "ta", &ra);
    fake_advance(&fw.env, COLD + 1); /* A is running */
    fake_invoke_ok(w, &fw.env, "C", "tc", &rc);
    fake_advance(&fw.env, 1);
    assert_int_equal(fake_status(w, "cpu_queue_len"), 1);
    assert_int_equal(fake_status(w, "evictions"), 0);
    assert_int_equal(fake_status(w, "idle_containers"), 1);
    assert_int_equal(fake_status(w, "used_mem_mb"), 384);
    assert_non_null(fake_live_ct(&fw.be, "B-1"));
    assert_int_equal(fake_log_count(&fw.env, "chose no idle victim"), 0);
    fake_settle(&fw.env, w);
    assert_true(ra.success);
    assert_true(rc.success);
    assert_int_equal(rc.kind, ILU_START_COLD);
    assert_int_equal(rc.done_at, ra.done_at + COLD + EXEC);
    assert_int_equal(fake_status(w, "evictions"), 2);
    assert_int_equal(fake_status(w, "used_mem_mb"), 384);
    fake_result_clear(&ra);
    fake_result_clear(&rb);
    fake_result_clear(&rc);
    fake_world_end(&fw);
}

static struct ilu_container *pin_victim(void *st, const struct ilu_pool *pool, uint64_t now_us)
{
    return NULL;
}

/* A keep-alive policy that never gives up an idle container. */
static const struct ilu_keepalive_ops pin_policy = {
    .name = "pin",
    .description = "never evict (test)",
    .victim = pin_victim,
};

/* Nothing is running or starting, so no memory will ever come free for B:
 * it fails at once with 503 insufficient_memory instead of waiting for its
 * timeout. Every registered policy names a victim while a container is
 * idle, and registration refuses a function larger than the pool, so only a
 * policy that pins its containers gets here: the test installs one. */
static void invocation_that_can_never_get_memory_is_503(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.memory_mb = 256;
    struct ilu_worker *w = fake_world_start(&fw);
    w->pool.policy = &pin_policy; /* in place of LRU, which keeps no state */
    fake_register(w, "A", 200);
    fake_register(w, "B", 200);
    struct fake_result ra = {0}, rb = {0};
    fake_invoke_settled(&fw, "A", "ta", &ra);
    fake_invoke_settled(&fw, "B", "tb", &rb);
    assert_int_equal(rb.calls, 1);
    assert_false(rb.success);
    assert_int_equal(rb.http_status, 503);
    assert_string_equal(rb.err_kind, "insufficient_memory");
    assert_int_equal(rb.done_at, ra.done_at);
    assert_int_equal(fake_status(w, "cpu_queue_len"), 0);
    assert_int_equal(fake_status(w, "errors"), 1);
    assert_int_equal(fake_status(w, "evictions"), 0);
    assert_non_null(fake_live_ct(&fw.be, "A-1")); /* still warm */
    fake_result_clear(&ra);
    fake_result_clear(&rb);
    fake_world_end(&fw);
}

/* ---- keep-alive ----------------------------------------------------------- */

static void keepalive_removes_idle_container_after_keepalive_sec(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.keepalive_sec = 2;
    fw.cfg.container_resources.pool_freq_ms = 100;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r = {0};
    fake_invoke_settled(&fw, "A", "t", &r);
    uint64_t idle_since = T0 + COLD + EXEC;
    assert_int_equal(fake_now(&fw.env), idle_since);
    /* pool ticks every 100 ms from T0; the first at or past idle_since + 2 s is T0 + 2.1 s */
    fake_run_until(&fw.env, T0 + 2100 * MS - 1);
    assert_int_equal(fake_status(w, "num_containers"), 1);
    assert_int_equal(fake_status(w, "keepalive_removals"), 0);
    fake_run_until(&fw.env, T0 + 2100 * MS);
    assert_int_equal(fake_status(w, "num_containers"), 0);
    assert_int_equal(fake_status(w, "idle_containers"), 0);
    assert_int_equal(fake_status(w, "keepalive_removals"), 1);
    assert_int_equal(fake_status(w, "used_mem_mb"), 0);
    assert_int_equal(fw.be.destroyed, 1);
    fake_invoke_settled(&fw, "A", "t", &r);
    assert_int_equal(r.kind, ILU_START_COLD);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

static void keepalive_counts_from_last_use(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.keepalive_sec = 2;
    fw.cfg.container_resources.pool_freq_ms = 100;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r = {0};
    fake_invoke_settled(&fw, "A", "t", &r);
    fake_run_until(&fw.env, T0 + 1500 * MS);
    fake_invoke_ok(w, &fw.env, "A", "t", &r); /* used again: idle from T0 + 1.51 s */
    fake_settle(&fw.env, w);
    assert_int_equal(r.kind, ILU_START_WARM);
    fake_run_until(&fw.env, T0 + 3500 * MS);
    assert_int_equal(fake_status(w, "num_containers"), 1);
    fake_run_until(&fw.env, T0 + 3600 * MS);
    assert_int_equal(fake_status(w, "num_containers"), 0);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

static void keepalive_zero_keeps_containers(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.keepalive_sec = 0;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r = {0};
    fake_invoke_settled(&fw, "A", "t", &r);
    fake_advance(&fw.env, 3600 * SEC);
    assert_int_equal(fake_status(w, "num_containers"), 1);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

static void clean_removes_only_idle_containers(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.cpu_count = 2;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    fake_register(w, "B", 128);
    struct fake_result ra = {0}, rb = {0};
    fake_invoke_settled(&fw, "A", "t", &ra);
    fake_fn(&fw.be, "B-1")->exec_us = SEC;
    fake_invoke_ok(w, &fw.env, "B", "t", &rb);
    fake_advance(&fw.env, COLD + 1); /* B busy */
    assert_int_equal(ilu_worker_clean(w, "clean"), 1);
    assert_int_equal(fake_status(w, "num_containers"), 1);
    assert_null(fake_live_ct(&fw.be, "A-1"));
    fake_settle(&fw.env, w);
    assert_true(rb.success);
    fake_result_clear(&ra);
    fake_result_clear(&rb);
    fake_world_end(&fw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lru_pool_too_small_for_two_cold_starts_every_time),
        cmocka_unit_test(lru_pool_big_enough_for_two_keeps_both_warm),
        cmocka_unit_test(lru_evicts_least_recently_used),
        cmocka_unit_test(invocation_waits_for_memory_held_by_busy_container),
        cmocka_unit_test(prewarm_without_free_memory_is_503),
        cmocka_unit_test(eviction_that_cannot_make_room_evicts_nothing),
        cmocka_unit_test(invocation_that_can_never_get_memory_is_503),
        cmocka_unit_test(keepalive_removes_idle_container_after_keepalive_sec),
        cmocka_unit_test(keepalive_counts_from_last_use),
        cmocka_unit_test(keepalive_zero_keeps_containers),
        cmocka_unit_test(clean_removes_only_idle_containers),
    };
    return cmocka_run_group_tests_name("worker_memory", tests, NULL, NULL);
}
