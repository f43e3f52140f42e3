/* Worker: async invocations (ilu_async): pending, returned once, expired,
 * freed with the worker. */
#include "worker_fixture.h"

static void async_result_is_pending_then_returned_once_then_404(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct ilu_error err = {0};
    char *cookie = ilu_async_invoke(fw.async, "A", "1", "{}", 2, "t-async", &err);
    assert_non_null(cookie);
    bool pending = false;
    assert_null(ilu_async_check(fw.async, cookie, &pending, &err));
    assert_true(pending);
    fake_run_until(&fw.env, T0 + COLD + EXEC - 1);
    assert_null(ilu_async_check(fw.async, cookie, &pending, &err));
    assert_true(pending);
    fake_settle(&fw.env, w);
    json_t *res = ilu_async_check(fw.async, cookie, &pending, &err);
    assert_non_null(res);
    assert_false(pending);
    assert_true(json_is_true(json_object_get(res, "success")));
    assert_int_equal(fake_json_int(res, "http_status"), 200);
    assert_string_equal(fake_json_str(res, "transaction_id"), "t-async");
    assert_string_equal(fake_json_str(res, "container_state"), "cold");
    json_decref(res);
    memset(&err, 0, sizeof err);
    assert_null(ilu_async_check(fw.async, cookie, &pending, &err));
    assert_false(pending);
    assert_int_equal(err.status, 404);
    assert_int_equal((long long)ilu_async_held(fw.async), 0);
    free(cookie);
    fake_world_end(&fw);
}

static void async_to_unknown_function_is_404_and_holds_nothing(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fake_world_start(&fw);
    struct ilu_error err = {0};
    assert_null(ilu_async_invoke(fw.async, "nope", "1", "{}", 2, "t", &err));
    assert_int_equal(err.status, 404);
    assert_int_equal((long long)ilu_async_held(fw.async), 0);
    bool pending = true;
    assert_null(ilu_async_check(fw.async, "no-such-cookie", &pending, &err));
    assert_false(pending);
    assert_int_equal(err.status, 404);
    fake_world_end(&fw);
}

static void async_result_expires_after_ttl(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.invocation.async_result_ttl_sec = 1;
    fw.cfg.container_resources.pool_freq_ms = 100;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct ilu_error err = {0};
    char *cookie = ilu_async_invoke(fw.async, "A", "1", "{}", 2, "t", &err);
    assert_non_null(cookie);
    fake_settle(&fw.env, w); /* finished at T0 + 60 ms */
    fake_run_until(&fw.env, T0 + 1 * SEC);
    assert_int_equal((long long)ilu_async_held(fw.async), 1);
    fake_run_until(&fw.env, T0 + 1100 * MS);
    assert_int_equal((long long)ilu_async_held(fw.async), 0);
    bool pending = true;
    assert_null(ilu_async_check(fw.async, cookie, &pending, &err));
    assert_int_equal(err.status, 404);
    free(cookie);
    fake_world_end(&fw);
}

static void async_results_still_held_are_freed_with_the_worker(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct ilu_error err = {0};
    char *c1 = ilu_async_invoke(fw.async, "A", "1", "{}", 2, "t1", &err);
    char *c2 = ilu_async_invoke(fw.async, "A", "1", "{}", 2, "t2", &err);
    assert_non_null(c1);
    assert_non_null(c2);
    assert_string_not_equal(c1, c2);
    fake_settle(&fw.env, w);
    assert_int_equal((long long)ilu_async_held(fw.async), 2);
    free(c1);
    free(c2);
    fake_world_end(&fw); /* ASan reports the results if they leak */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(async_result_is_pending_then_returned_once_then_404),
        cmocka_unit_test(async_to_unknown_function_is_404_and_holds_nothing),
        cmocka_unit_test(async_result_expires_after_ttl),
        cmocka_unit_test(async_results_still_held_are_freed_with_the_worker),
    };
    return cmocka_run_group_tests_name("worker_async", tests, NULL, NULL);
}
