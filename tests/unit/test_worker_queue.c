/* Worker: concurrency and the queue: CPUs as the limit, exact queue times,
 * a full queue answering 429, callbacks never from inside invoke. */
#include "worker_fixture.h"

static void one_cpu_runs_invocations_one_at_a_time_in_arrival_order(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.cpu_count = 1;
    fake_fn(&fw.be, "A-1")->exec_us = 100 * MS;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r[3] = {{0}};
    const char *tids[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        fake_invoke_ok(w, &fw.env, "A", tids[i], &r[i]);
    fake_settle(&fw.env, w);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_true(r[i].success);
        assert_string_equal(r[i].tid, tids[i]);
        assert_int_equal(r[i].done_at, T0 + COLD + (uint64_t)(i + 1) * 100 * MS);
        assert_int_equal(fake_json_int(r[i].json, "timings.queue_us"), i == 0 ? 0 : COLD + (uint64_t)i * 100 * MS);
    }
    assert_int_equal(r[0].kind, ILU_START_COLD);
    assert_int_equal(r[1].kind, ILU_START_WARM);
    assert_int_equal(r[2].kind, ILU_START_WARM);
    assert_int_equal(fw.be.created, 1);
    assert_int_equal(fw.be.max_busy, 1);
    for (int i = 0; i < 3; i++)
        fake_result_clear(&r[i]);
    fake_world_end(&fw);
}

/* The same three on a prewarmed container: 100/200/300 ms, queued 0/100/200 ms. */
static void one_cpu_prewarmed_gives_exact_queue_times(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.cpu_count = 1;
    fake_fn(&fw.be, "A-1")->exec_us = 100 * MS;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct ilu_error err = {0};
    assert_int_equal(ilu_worker_prewarm(w, "A", "1", "pw", NULL, NULL, &err), 0);
    fake_settle(&fw.env, w);
    uint64_t t1 = fake_now(&fw.env);
    struct fake_result r[3] = {{0}};
    for (int i = 0; i < 3; i++)
        fake_invoke_ok(w, &fw.env, "A", "t", &r[i]);
    fake_settle(&fw.env, w);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i].done_at - t1, (uint64_t)(i + 1) * 100000);
        assert_int_equal(fake_json_int(r[i].json, "timings.queue_us"), (long long)i * 100000);
        fake_result_clear(&r[i]);
    }
    fake_world_end(&fw);
}

static void two_cpus_run_two_containers_in_parallel(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.cpu_count = 2;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r[3] = {{0}};
    for (int i = 0; i < 3; i++)
        fake_invoke_ok(w, &fw.env, "A", "t", &r[i]);
    fake_settle(&fw.env, w);
    assert_int_equal(r[0].done_at, T0 + COLD + EXEC);
    assert_int_equal(r[1].done_at, T0 + COLD + EXEC);
    assert_int_equal(r[2].done_at, T0 + COLD + 2 * EXEC);
    assert_int_equal(r[2].kind, ILU_START_WARM);
    assert_int_equal(fw.be.created, 2);
    assert_int_equal(fw.be.max_busy, 2);
    for (int i = 0; i < 3; i++)
        fake_result_clear(&r[i]);
    fake_world_end(&fw);
}

/* Regression test (bug found and fixed during review: finish() and the result JSON treat
 * t.dequeued_us == 0 as "never dequeued", but 0 is a valid time: a simulator
 * clock starts there). */
static void invocation_dequeued_at_clock_zero_releases_its_cpu(void **state)
{
    (void)state;
    struct fake_world fw;
    fake_world_init(&fw, 0);
    fw.cfg.container_resources.cpu_count = 1;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result ra = {0}, rb = {0};
    fake_invoke_ok(w, &fw.env, "A", "a", &ra);
    fake_invoke_ok(w, &fw.env, "A", "b", &rb);
    fake_run_until(&fw.env, COLD + EXEC);
    assert_int_equal(ra.calls, 1);
    long long queue_us = fake_json_int(ra.json, "timings.queue_us");
    unsigned invokes = fw.be.invokes; /* b is sent to a's container as soon as a is done */
    fake_settle(&fw.env, w);
    bool b_ok = rb.success;
    uint64_t b_done = rb.done_at;
    fake_result_clear(&ra);
    fake_result_clear(&rb);
    fake_world_end(&fw);
    assert_int_equal(queue_us, 0);
    assert_int_equal(invokes, 2);
    assert_true(b_ok);
    assert_int_equal(b_done, COLD + 2 * EXEC);
}

static void full_queue_rejects_with_429(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.invocation.max_queue_len = 2;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r[3] = {{0}};
    fake_invoke_ok(w, &fw.env, "A", "a", &r[0]);
    fake_invoke_ok(w, &fw.env, "A", "b", &r[1]);
    struct ilu_error err = {0};
    assert_int_equal(ilu_worker_invoke(w, "A", "1", "{}", 2, "c", fake_result_cb, &r[2], &err), -1);
    assert_int_equal(err.status, 429);
    assert_string_equal(err.kind, "queue_full");
    assert_int_equal(fake_status(w, "rejected"), 1);
    assert_int_equal(ilu_worker_outstanding(w), 2);
    fake_settle(&fw.env, w);
    assert_int_equal(r[0].calls, 1);
    assert_int_equal(r[1].calls, 1);
    assert_int_equal(r[2].calls, 0);
    for (int i = 0; i < 3; i++)
        fake_result_clear(&r[i]);
    fake_world_end(&fw);
}

static void done_is_never_called_from_inside_invoke(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fake_fn(&fw.be, "A-1")->fail_create_sync = true;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r = {0};
    fake_invoke_ok(w, &fw.env, "A", "t", &r);
    assert_int_equal(r.calls, 0);
    fake_settle(&fw.env, w);
    assert_int_equal(r.calls, 1);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_cpu_runs_invocations_one_at_a_time_in_arrival_order),
        cmocka_unit_test(one_cpu_prewarmed_gives_exact_queue_times),
        cmocka_unit_test(two_cpus_run_two_containers_in_parallel),
        cmocka_unit_test(invocation_dequeued_at_clock_zero_releases_its_cpu),
        cmocka_unit_test(full_queue_rejects_with_429),
        cmocka_unit_test(done_is_never_called_from_inside_invoke),
    };
    return cmocka_run_group_tests_name("worker_queue", tests, NULL, NULL);
}
