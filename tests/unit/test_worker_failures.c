/* Worker: function and container failures: a raising function (422), a
 * bad agent reply (502), timeouts (504), containers dying or failing to
 * start (502), a failed prewarm. */
#include "worker_fixture.h"

static void function_that_raises_is_422_and_container_is_reused(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fake_fn(&fw.be, "A-1")->raise = true;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r1 = {0}, r2 = {0};
    fake_invoke_settled(&fw, "A", "t1", &r1);
    assert_int_equal(r1.calls, 1);
    assert_false(r1.success);
    assert_int_equal(r1.http_status, 422);
    assert_non_null(strstr(r1.user_error, "Traceback (most recent call last)"));
    assert_non_null(strstr(r1.user_error, "ValueError: boom"));
    assert_string_equal(r1.err_kind, "user_error");
    assert_string_equal(r1.err_msg, "the function raised: ValueError: boom");
    assert_false(json_is_true(json_object_get(r1.json, "success")));
    assert_string_equal(fake_json_str(r1.json, "error_kind"), "user_error");
    assert_non_null(strstr(fake_json_str(r1.json, "user_error"), "ValueError: boom"));
    assert_int_equal(fake_status(w, "idle_containers"), 1);
    assert_int_equal(fake_status(w, "errors"), 1);

    fake_fn(&fw.be, "A-1")->raise = false;
    fake_invoke_settled(&fw, "A", "t2", &r2);
    assert_true(r2.success);
    assert_int_equal(r2.kind, ILU_START_WARM);
    assert_string_equal(r2.container_id, r1.container_id);
    assert_int_equal(fw.be.created, 1);
    fake_result_clear(&r1);
    fake_result_clear(&r2);
    fake_world_end(&fw);
}

static void agent_reply_that_is_not_json_is_502(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fake_fn(&fw.be, "A-1")->body = "garbage";
    fake_world_start_with(&fw, "A", 128);
    struct fake_result r = {0};
    fake_invoke_settled(&fw, "A", "t", &r);
    assert_false(r.success);
    assert_int_equal(r.http_status, 502);
    assert_string_equal(r.err_kind, "container_error");
    fake_fn(&fw.be, "A-1")->body = "{\"start\":\"s\",\"end\":\"e\",\"duration_sec\":0.01}";
    fake_invoke_settled(&fw, "A", "t", &r);
    assert_int_equal(r.http_status, 502);
    assert_non_null(strstr(r.err_msg, "neither user_result nor user_error"));
    fake_result_clear(&r);
    fake_world_end(&fw);
}

static void timeout_is_504_destroys_container_and_next_is_cold(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.limits.timeout_sec = 1;
    fake_fn(&fw.be, "A-1")->exec_us = 2 * SEC;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r1 = {0}, r2 = {0};
    fake_invoke_settled(&fw, "A", "t1", &r1);
    assert_int_equal(r1.calls, 1);
    assert_false(r1.success);
    assert_int_equal(r1.http_status, 504);
    assert_string_equal(r1.err_kind, "timeout");
    assert_int_equal(r1.done_at, T0 + 1 * SEC); /* measured from arrival */
    assert_int_equal(fw.be.destroyed, 1);
    assert_int_equal(fake_status(w, "num_containers"), 0);
    assert_int_equal(fake_status(w, "used_mem_mb"), 0);
    assert_int_equal(fake_status(w, "cpus_in_use"), 0);
    assert_int_equal(fake_status(w, "timeouts"), 1);

    fake_fn(&fw.be, "A-1")->exec_us = EXEC;
    fake_invoke_settled(&fw, "A", "t2", &r2);
    assert_true(r2.success);
    assert_int_equal(r2.kind, ILU_START_COLD);
    assert_int_equal(fw.be.created, 2);
    fake_advance(&fw.env, 5 * SEC); /* the killed run's reply never arrives */
    assert_int_equal(r1.calls, 1);
    fake_result_clear(&r1);
    fake_result_clear(&r2);
    fake_world_end(&fw);
}

static void timeout_while_queued_is_504_without_a_container(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.limits.timeout_sec = 1;
    fw.cfg.container_resources.cpu_count = 1;
    fake_fn(&fw.be, "A-1")->exec_us = 2 * SEC;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result ra = {0}, rb = {0};
    fake_invoke_ok(w, &fw.env, "A", "a", &ra);
    fake_invoke_ok(w, &fw.env, "A", "b", &rb); /* waits for the CPU a holds past b's deadline */
    fake_settle(&fw.env, w);
    assert_int_equal(ra.http_status, 504);
    assert_int_equal(rb.http_status, 504);
    assert_int_equal(rb.done_at, T0 + SEC);
    assert_int_equal(rb.kind, ILU_START_ERROR);
    assert_string_equal(rb.container_id, "");
    assert_string_equal(fake_json_str(rb.json, "container_state"), "error");
    assert_int_equal(fake_json_int(rb.json, "timings.queue_us"), SEC);
    assert_int_equal(fw.be.created, 1);
    assert_int_equal(fake_status(w, "cpu_queue_len"), 0);
    assert_int_equal(fake_status(w, "cpus_in_use"), 0);
    assert_int_equal(fake_status(w, "timeouts"), 2);
    fake_result_clear(&ra);
    fake_result_clear(&rb);
    fake_world_end(&fw);
}

static void container_death_during_invocation_is_502_and_next_is_cold(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r1 = {0}, r2 = {0};
    fake_invoke_ok(w, &fw.env, "A", "t1", &r1);
    fake_run_until(&fw.env, T0 + COLD + 1);
    struct fake_ct *ct = fake_live_ct(&fw.be, "A-1");
    assert_int_equal(ct->state, FAKE_BUSY);
    fake_kill(&fw.be, ct);
    fake_settle(&fw.env, w);
    assert_int_equal(r1.calls, 1);
    assert_false(r1.success);
    assert_int_equal(r1.http_status, 502);
    assert_string_equal(r1.err_kind, "container_error");
    assert_int_equal(fake_status(w, "container_deaths"), 1);
    assert_int_equal(fake_status(w, "num_containers"), 0);
    assert_int_equal(fake_status(w, "used_mem_mb"), 0);
    assert_int_equal(fake_status(w, "cpus_in_use"), 0);
    fake_invoke_settled(&fw, "A", "t2", &r2);
    assert_true(r2.success);
    assert_int_equal(r2.kind, ILU_START_COLD);
    fake_result_clear(&r1);
    fake_result_clear(&r2);
    fake_world_end(&fw);
}

static void idle_container_death_removes_it(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r = {0};
    fake_invoke_settled(&fw, "A", "t1", &r);
    fake_kill(&fw.be, fake_live_ct(&fw.be, "A-1"));
    assert_int_equal(fake_status(w, "container_deaths"), 1);
    assert_int_equal(fake_status(w, "num_containers"), 0);
    assert_int_equal(fake_status(w, "idle_containers"), 0);
    assert_int_equal(fake_status(w, "used_mem_mb"), 0);
    fake_invoke_settled(&fw, "A", "t2", &r);
    assert_int_equal(r.kind, ILU_START_COLD);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

static void container_failing_to_start_is_502_and_returns_memory(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fake_fn(&fw.be, "A-1")->fail_create = true;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r = {0};
    fake_invoke_ok(w, &fw.env, "A", "t", &r);
    fake_run_until(&fw.env, T0 + 1);
    assert_int_equal(fake_status(w, "used_mem_mb"), 128);
    assert_int_equal(fake_status(w, "starting_containers"), 1);
    fake_settle(&fw.env, w);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.http_status, 502);
    assert_non_null(strstr(r.err_msg, "container failed to start"));
    assert_int_equal(r.done_at, T0 + COLD);
    assert_int_equal(fake_status(w, "used_mem_mb"), 0);
    assert_int_equal(fake_status(w, "num_containers"), 0);
    assert_int_equal(fake_status(w, "starting_containers"), 0);
    assert_int_equal(fake_status(w, "cpus_in_use"), 0);
    assert_int_equal(fake_status(w, "start_failures"), 1);
    assert_int_equal(fw.be.destroyed, 1);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

static void container_create_refused_is_502_and_returns_memory(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fake_fn(&fw.be, "A-1")->fail_create_sync = true;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r = {0};
    fake_invoke_settled(&fw, "A", "t", &r);
    assert_int_equal(r.http_status, 502);
    assert_int_equal(r.done_at, T0);
    assert_int_equal(fake_status(w, "used_mem_mb"), 0);
    assert_int_equal(fake_status(w, "num_containers"), 0);
    assert_int_equal(fake_status(w, "starting_containers"), 0);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

static void container_not_ready_within_startup_timeout_is_502(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.startup_timeout_ms = 100;
    fake_fn(&fw.be, "A-1")->cold_us = 500 * MS;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r = {0};
    fake_invoke_settled(&fw, "A", "t", &r);
    assert_int_equal(r.http_status, 502);
    assert_int_equal(r.done_at, T0 + 100 * MS);
    assert_non_null(strstr(r.err_msg, "did not become ready within 100 ms"));
    assert_int_equal(fw.be.destroyed, 1);
    assert_int_equal(fake_status(w, "used_mem_mb"), 0);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

static void failed_prewarm_reports_its_error(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fake_fn(&fw.be, "A-1")->fail_create = true;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_prewarm p = {0};
    struct ilu_error err = {0};
    assert_int_equal(ilu_worker_prewarm(w, "A", "1", "pw", fake_prewarm_cb, &p, &err), 0);
    fake_settle(&fw.env, w);
    assert_int_equal(p.calls, 1);
    assert_int_equal(p.status, 502);
    assert_int_equal(fake_status(w, "used_mem_mb"), 0);
    assert_int_equal(fake_status(w, "num_containers"), 0);
    fake_world_end(&fw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(function_that_raises_is_422_and_container_is_reused),
        cmocka_unit_test(agent_reply_that_is_not_json_is_502),
        cmocka_unit_test(timeout_is_504_destroys_container_and_next_is_cold),
        cmocka_unit_test(timeout_while_queued_is_504_without_a_container),
        cmocka_unit_test(container_death_during_invocation_is_502_and_next_is_cold),
        cmocka_unit_test(idle_container_death_removes_it),
        cmocka_unit_test(container_failing_to_start_is_502_and_returns_memory),
        cmocka_unit_test(container_create_refused_is_502_and_returns_memory),
        cmocka_unit_test(container_not_ready_within_startup_timeout_is_502),
        cmocka_unit_test(failed_prewarm_reports_its_error),
    };
    return cmocka_run_group_tests_name("worker_failures", tests, NULL, NULL);
}
