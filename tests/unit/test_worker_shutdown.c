/* Worker: shutdown and lifetime: new work refused with 503, running work
 * finishing, freeing with work in flight. */
#include "worker_fixture.h"

static void shutdown_rejects_new_work_with_503_and_removes_idle(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r = {0};
    fake_invoke_settled(&fw, "A", "t", &r);
    assert_int_equal(fake_status(w, "num_containers"), 1);
    ilu_worker_begin_shutdown(w);
    assert_int_equal(fake_status(w, "num_containers"), 0);
    assert_int_equal(fake_status(w, "used_mem_mb"), 0);
    assert_int_equal(fw.be.destroyed, 1);
    struct ilu_error err = {0};
    assert_int_equal(ilu_worker_invoke(w, "A", "1", "{}", 2, "t", fake_result_cb, &r, &err), -1);
    assert_int_equal(err.status, 503);
    assert_int_equal(ilu_worker_prewarm(w, "A", "1", "t", NULL, NULL, &err), -1);
    assert_int_equal(err.status, 503);
    struct ilu_register_req req = fake_req("B", "/functions/B", 128);
    assert_int_equal(ilu_worker_register(w, &req, "t", &err), -1);
    assert_int_equal(err.status, 503);
    json_t *s = ilu_worker_status_json(w);
    assert_true(json_is_true(json_object_get(s, "shutting_down")));
    json_decref(s);
    assert_int_equal(r.calls, 1);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

static void shutdown_lets_running_invocations_finish(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r = {0};
    fake_invoke_ok(w, &fw.env, "A", "t", &r);
    fake_run_until(&fw.env, T0 + COLD + 1);
    ilu_worker_begin_shutdown(w);
    assert_int_equal(ilu_worker_outstanding(w), 1);
    fake_settle(&fw.env, w);
    assert_true(r.success);
    assert_int_equal(ilu_worker_outstanding(w), 0);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

/* The daemon frees the worker when its shutdown grace period runs out:
 * invocations still running or starting (and prewarms) go with it, with
 * their timers. */
static void free_with_work_in_flight_leaves_no_timer_or_container(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.cpu_count = 1;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    fake_register(w, "B", 128);
    struct fake_result r[3] = {{0}};
    fake_invoke_ok(w, &fw.env, "A", "running", &r[0]);
    fake_run_until(&fw.env, T0 + COLD + 1);
    fake_invoke_ok(w, &fw.env, "A", "queued", &r[1]);
    struct ilu_error err = {0};
    assert_int_equal(ilu_worker_prewarm(w, "B", "1", "starting", NULL, NULL, &err), 0);
    assert_int_equal(ilu_worker_outstanding(w), 3);
    fake_world_end(&fw); /* asserts no timer and no container left; ASan checks the invocations */
    assert_int_equal(r[0].calls + r[1].calls + r[2].calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shutdown_rejects_new_work_with_503_and_removes_idle),
        cmocka_unit_test(shutdown_lets_running_invocations_finish),
        cmocka_unit_test(free_with_work_in_flight_leaves_no_timer_or_container),
    };
    return cmocka_run_group_tests_name("worker_shutdown", tests, NULL, NULL);
}
