/* Worker: how an invocation starts (cold, prewarmed, warm) and what its
 * result and the running averages say. */
#include "worker_fixture.h"

static void first_invocation_is_cold_second_warm(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r1 = {0}, r2 = {0};
    fake_invoke_settled(&fw, "A", "t1", &r1);
    assert_int_equal(r1.calls, 1);
    assert_true(r1.success);
    assert_int_equal(r1.http_status, 200);
    assert_int_equal(r1.kind, ILU_START_COLD);
    assert_int_equal(r1.done_at, T0 + COLD + EXEC);

    fake_invoke_settled(&fw, "A", "t2", &r2);
    assert_int_equal(r2.calls, 1);
    assert_int_equal(r2.kind, ILU_START_WARM);
    assert_string_equal(fake_json_str(r2.json, "container_state"), "warm");
    assert_string_equal(r2.container_id, r1.container_id);
    assert_int_equal(r2.done_at, r1.done_at + EXEC);
    assert_int_equal(fw.be.created, 1);
    assert_int_equal(fake_status(w, "cold_starts"), 1);
    assert_int_equal(fake_status(w, "warm_starts"), 1);
    fake_result_clear(&r1);
    fake_result_clear(&r2);
    fake_world_end(&fw);
}

static void invocation_after_prewarm_is_prewarm_then_warm(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_prewarm p = {0};
    struct ilu_error err = {0};
    assert_int_equal(ilu_worker_prewarm(w, "A", "1", "pw", fake_prewarm_cb, &p, &err), 0);
    assert_int_equal(p.calls, 0); /* not from inside the call */
    fake_settle(&fw.env, w);
    assert_int_equal(p.calls, 1);
    assert_int_equal(p.status, 0);
    assert_string_equal(p.tid, "pw");
    assert_int_equal(fake_now(&fw.env), T0 + COLD);
    assert_int_equal(fake_status(w, "idle_containers"), 1);
    assert_int_equal(fake_status(w, "invocations"), 0); /* a prewarm is not an invocation */

    struct fake_result r1 = {0}, r2 = {0};
    fake_invoke_settled(&fw, "A", "t1", &r1);
    assert_int_equal(r1.kind, ILU_START_PREWARM);
    assert_string_equal(fake_json_str(r1.json, "container_state"), "prewarm");
    assert_int_equal(fake_json_int(r1.json, "timings.container_start_us"), 0);
    fake_invoke_settled(&fw, "A", "t2", &r2);
    assert_int_equal(r2.kind, ILU_START_WARM);
    assert_int_equal(fw.be.created, 1);
    assert_int_equal(fake_status(w, "prewarm_starts"), 1);
    assert_int_equal(fake_status(w, "warm_starts"), 1);
    assert_int_equal(fake_status(w, "cold_starts"), 0);
    fake_result_clear(&r1);
    fake_result_clear(&r2);
    fake_world_end(&fw);
}

/* ---- results -------------------------------------------------------------- */

static void result_json_has_fields_and_timings(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r = {0};
    struct ilu_error err = {0};
    r.env = &fw.env;
    assert_int_equal(ilu_worker_invoke(w, "A", "1", "{\"name\":\"x\"}", 12, "tid-json", fake_result_cb, &r, &err), 0);
    fake_settle(&fw.env, w);
    assert_string_equal(fw.be.last_args, "{\"name\":\"x\"}");
    json_t *j = r.json;
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "success")));
    assert_string_equal(fake_json_str(j, "json_result"), "{\"ok\":1}");
    assert_string_equal(fake_json_str(j, "container_state"), "cold");
    assert_string_equal(fake_json_str(j, "transaction_id"), "tid-json");
    assert_string_equal(fake_json_str(j, "function_name"), "A");
    assert_string_equal(fake_json_str(j, "function_version"), "1");
    assert_string_equal(fake_json_str(j, "container_id"), fake_live_ct(&fw.be, "A-1")->id);
    assert_string_equal(fake_json_str(j, "agent_start"), "s");
    assert_string_equal(fake_json_str(j, "agent_end"), "e");
    assert_true(json_is_null(json_object_get(j, "user_error")));
    assert_null(json_object_get(j, "error"));
    assert_int_equal(fake_json_int(j, "duration_us"), EXEC);
    assert_int_equal(fake_json_int(j, "timings.queue_us"), 0);
    assert_int_equal(fake_json_int(j, "timings.container_start_us"), COLD);
    assert_int_equal(fake_json_int(j, "timings.exec_us"), 10000);
    assert_int_equal(fake_json_int(j, "timings.agent_round_trip_us"), EXEC);
    assert_int_equal(fake_json_int(j, "timings.overhead_us"), 0);
    assert_int_equal(fake_json_int(j, "timings.total_us"), COLD + EXEC);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

static void running_averages_follow_the_characteristics_rule(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r = {0};
    fake_invoke_settled(&fw, "A", "t1", &r);
    fake_fn(&fw.be, "A-1")->exec_us = 20 * MS;
    fake_invoke_settled(&fw, "A", "t2", &r);
    const struct ilu_function *fn = ilu_worker_function(w, "A", "1");
    assert_non_null(fn);
    /* first sample sets it, then 0.9 avg + 0.1 x */
    assert_true(fn->stats.exec_us.ewma > 10999.999 && fn->stats.exec_us.ewma < 11000.001);
    assert_int_equal(fn->stats.invocations, 2);
    assert_int_equal(fn->stats.cold, 1);
    assert_int_equal(fn->stats.warm, 1);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

/* Regression test (bug found and fixed during review: on_ready averages cold starts with the
 * worker-wide containers_started count, not the function's own count). */
static void cold_start_average_is_per_function(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fake_fn(&fw.be, "B-1")->cold_us = 80 * MS;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    fake_register(w, "B", 128);
    struct fake_result r = {0};
    fake_invoke_settled(&fw, "A", "t1", &r);
    fake_invoke_settled(&fw, "B", "t2", &r);
    fake_result_clear(&r);
    const struct ilu_function *a = ilu_worker_function(w, "A", "1"), *b = ilu_worker_function(w, "B", "1");
    double a_us = a->stats.container_start_us.ewma, b_us = b->stats.container_start_us.ewma;
    fake_world_end(&fw);
    assert_true(a_us > 49999.999 && a_us < 50000.001);
    /* B's first cold start is B's first sample */
    assert_true(b_us > 79999.999 && b_us < 80000.001);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_invocation_is_cold_second_warm),
        cmocka_unit_test(invocation_after_prewarm_is_prewarm_then_warm),
        cmocka_unit_test(result_json_has_fields_and_timings),
        cmocka_unit_test(running_averages_follow_the_characteristics_rule),
        cmocka_unit_test(cold_start_average_is_per_function),
    };
    return cmocka_run_group_tests_name("worker_start", tests, NULL, NULL);
}
