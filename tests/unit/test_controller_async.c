/* Controller: async invocations: the result once, retries on another
 * worker, retries exhausted, waiting for a worker, expiry, spreading. */
#include "controller_fixture.h"

static json_t *check(struct world *W, const char *cookie, bool *pending, int *status, struct ilu_error *err)
{
    memset(err, 0, sizeof *err);
    *status = -1;
    return ilu_controller_invoke_async_check(W->c, cookie, pending, status, err);
}

/* cookie's invocation is still running: no result, no error. */
static void expect_pending(struct world *W, const char *cookie)
{
    bool pending = false;
    int status;
    struct ilu_error err;
    assert_null(check(W, cookie, &pending, &status, &err));
    assert_true(pending);
    assert_int_equal(err.status, 0);
}

/* cookie is unknown, or its result was already taken or dropped: 404. */
static void expect_unknown(struct world *W, const char *cookie)
{
    bool pending = true;
    int status;
    struct ilu_error err;
    assert_null(check(W, cookie, &pending, &status, &err));
    assert_false(pending);
    assert_int_equal(err.status, 404);
}

/* cookie's invocation has finished with status: its result, which the
 * caller frees. */
static json_t *expect_finished(struct world *W, const char *cookie, int status)
{
    bool pending = true;
    int got = -1;
    struct ilu_error err;
    json_t *res = check(W, cookie, &pending, &got, &err);
    assert_non_null(res);
    assert_false(pending);
    assert_int_equal(got, status);
    return res;
}

/* As expect_finished, and the result's field key is value; freed here. */
static void expect_result_field(struct world *W, const char *cookie, int status, const char *key, const char *value)
{
    json_t *res = expect_finished(W, cookie, status);
    assert_string_equal(fake_json_str(res, key), value);
    json_decref(res);
}

static void async_result_is_available_once_after_the_worker_answers(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start_with_f(&W, 1);
    struct ilu_error err = {0};
    char *cookie = invoke_async(&W, "f", &err);
    assert_non_null(cookie);
    assert_int_equal(strncmp(cookie, "ctl-", 4), 0);
    char *other = invoke_async(&W, "f", &err);
    assert_non_null(other);
    assert_string_not_equal(cookie, other);
    assert_int_equal(ft_count(&W.ft, INV, "w1"), 2);
    assert_string_equal(W.ft.sends[ft_find(&W.ft, INV, "w1")].tid, "t-a");
    assert_int_equal(ctl_status(&W, "async_held"), 2);

    expect_pending(&W, cookie);

    ft_reply_to(&W.ft, INV, "w1", 200, "{\"success\":true,\"body\":\"r\"}");
    json_t *res = expect_finished(&W, cookie, 200);
    assert_string_equal(fake_json_str(res, "body"), "r");
    assert_string_equal(fake_json_str(res, "worker"), "w1");
    json_decref(res);
    /* once only */
    expect_unknown(&W, cookie);
    expect_unknown(&W, "ctl-0-0");
    expect_unknown(&W, NULL);
    /* the other one is still running */
    expect_pending(&W, other);
    assert_int_equal(ctl_status(&W, "async_held"), 1);
    ft_reply_to(&W.ft, INV, "w1", 422, "{\"success\":false,\"error_kind\":\"user_error\"}");
    /* a worker's answer is final: not retried */
    expect_result_field(&W, other, 422, "error_kind", "user_error");
    assert_int_equal(ft_count(&W.ft, INV, NULL), 2);
    assert_int_equal(ctl_status(&W, "async_held"), 0);
    free(cookie);
    free(other);
    world_end(&W);
}

static void async_lost_with_its_worker_is_sent_again_and_returns_the_second_answer(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.cfg.invocation.async_retries = 1;
    world_start_with_f(&W, 2);
    struct ilu_error err = {0};
    char *cookie = invoke_async(&W, "f", &err);
    assert_non_null(cookie);
    long first = ft_find(&W.ft, INV, NULL);
    assert_true(first >= 0);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 1);
    char lost[64], other[64];
    snprintf(lost, sizeof lost, "%s", W.ft.sends[first].worker);
    snprintf(other, sizeof other, "%s", strcmp(lost, "w1") ? "w1" : "w2");
    json_t *body = json_deep_copy(W.ft.sends[first].body);

    ft_reply(&W.ft, first, 0, NULL);
    assert_string_equal(health(&W, lost), "UNHEALTHY");
    long second = ft_find(&W.ft, INV, NULL);
    assert_true(second > first);
    assert_string_equal(W.ft.sends[second].worker, other); /* sent again at once, elsewhere */
    assert_true(json_equal(W.ft.sends[second].body, body));
    assert_string_equal(W.ft.sends[second].tid, "t-a");
    json_decref(body);
    expect_pending(&W, cookie);

    ft_reply(&W.ft, second, 200, "{\"success\":true,\"body\":\"second\"}");
    json_t *res = expect_finished(&W, cookie, 200);
    assert_string_equal(fake_json_str(res, "body"), "second");
    assert_string_equal(fake_json_str(res, "worker"), other);
    json_decref(res);
    assert_int_equal(ctl_status(&W, "async_retries"), 1);
    assert_int_equal(ctl_status(&W, "async_lost"), 0);
    assert_int_equal(ctl_status(&W, "worker_failures"), 1);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 2);
    free(cookie);
    world_end(&W);
}

static void async_without_retries_fails_with_the_reason(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.cfg.invocation.async_retries = 0;
    world_start_with_f(&W, 2);
    struct ilu_error err = {0};
    char *cookie = invoke_async(&W, "f", &err);
    assert_non_null(cookie);
    long i = ft_find(&W.ft, INV, NULL);
    char lost[64];
    snprintf(lost, sizeof lost, "%s", W.ft.sends[i].worker);
    ft_reply(&W.ft, i, 0, NULL);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 1); /* not sent again */
    json_t *res = expect_finished(&W, cookie, 502);
    assert_string_equal(fake_json_str(res, "error_kind"), "worker_failed");
    assert_non_null(strstr(fake_json_str(res, "error"), lost));
    assert_string_equal(fake_json_str(res, "worker"), lost);
    json_decref(res);
    assert_int_equal(ctl_status(&W, "async_lost"), 1);
    assert_int_equal(ctl_status(&W, "async_retries"), 0);
    free(cookie);
    world_end(&W);
}

static void async_retries_exhausted_finish_failed(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    W.cfg.invocation.async_retries = 1;
    world_start_with_f(&W, 3);
    struct ilu_error err = {0};
    char *cookie = invoke_async(&W, "f", &err);
    assert_non_null(cookie);
    ft_reply(&W.ft, ft_find(&W.ft, INV, NULL), 0, NULL);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 2);
    long second = ft_find(&W.ft, INV, NULL);
    char w2nd[64];
    snprintf(w2nd, sizeof w2nd, "%s", W.ft.sends[second].worker);
    ft_reply(&W.ft, second, 0, NULL);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 2); /* one retry only, a healthy worker is left */
    json_t *res = expect_finished(&W, cookie, 502);
    assert_string_equal(fake_json_str(res, "error_kind"), "worker_failed");
    assert_string_equal(fake_json_str(res, "worker"), w2nd);
    json_decref(res);
    assert_int_equal(ctl_status(&W, "async_retries"), 1);
    assert_int_equal(ctl_status(&W, "async_lost"), 1);
    assert_int_equal(ctl_status(&W, "healthy_workers"), 1);
    free(cookie);
    world_end(&W);
}

/* The only worker died: the retry waits 2 poll periods for a healthy worker,
 * at most async_retries + 1 times, then gives up with a reason. */
static void async_whose_only_worker_died_finishes_failed_instead_of_pending_forever(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.cfg.invocation.async_retries = 2;
    world_start_with_f(&W, 1);
    fake_advance(&W.fe, 50 * MS); /* T0 + 50 ms: between two ticks */
    struct ilu_error err = {0};
    char *cookie = invoke_async(&W, "f", &err);
    assert_non_null(cookie);
    uint64_t t = fake_now(&W.fe);
    ft_reply_to(&W.ft, INV, "w1", 0, NULL);
    assert_string_equal(health(&W, "w1"), "UNHEALTHY");
    /* polls keep failing; the retries (t + 200 ms, t + 400 ms) find nobody */
    const uint64_t until = t + 400 * MS - 1;
    while (fake_now(&W.fe) < until) {
        uint64_t next = fake_now(&W.fe) + 10 * MS;
        fake_run_until(&W.fe, next < until ? next : until);
        ft_reply_all(&W.ft, STATUS, NULL, 0, NULL);
    }
    expect_pending(&W, cookie);
    fake_run_until(&W.fe, t + 400 * MS);
    json_t *res = expect_finished(&W, cookie, 503);
    assert_string_equal(fake_json_str(res, "error_kind"), "no_worker");
    assert_non_null(strstr(fake_json_str(res, "error"), "not run after"));
    json_decref(res);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 1);
    assert_int_equal(ctl_status(&W, "async_lost"), 1);
    free(cookie);
    world_end(&W);
}

static void async_waits_for_its_worker_to_come_back(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.cfg.invocation.async_retries = 2;
    world_start_with_f(&W, 1);
    fake_advance(&W.fe, 50 * MS);
    struct ilu_error err = {0};
    char *cookie = invoke_async(&W, "f", &err);
    uint64_t t = fake_now(&W.fe);
    ft_reply_to(&W.ft, INV, "w1", 0, NULL);
    fake_run_until(&W.fe, t + 50 * MS); /* the tick at T0 + 100 ms polls */
    ft_reply_to(&W.ft, STATUS, "w1", 200, IDLE);
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    assert_int_equal(ft_count(&W.ft, INV, NULL), 1);
    fake_run_until(&W.fe, t + 200 * MS); /* the retry */
    assert_int_equal(ft_count(&W.ft, INV, NULL), 2);
    ft_reply_to(&W.ft, INV, "w1", 200, "{\"body\":\"late\"}");
    expect_result_field(&W, cookie, 200, "body", "late");
    free(cookie);
    world_end(&W);
}

static void freeing_with_an_async_waiting_to_retry_leaves_no_timer(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.cfg.invocation.async_retries = 3;
    world_start_with_f(&W, 1);
    struct ilu_error err = {0};
    char *cookie = invoke_async(&W, "f", &err);
    ft_reply_to(&W.ft, INV, "w1", 0, NULL);    /* waits for a worker on a timer */
    assert_int_equal(fake_n_timers(&W.fe), 2); /* the poll tick and the retry */
    free(cookie);
    /* world_end answers nothing that matters here, frees, and checks timers */
    world_end(&W);
}

static void async_results_expire_after_the_ttl(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.cfg.invocation.async_result_ttl_sec = 2;
    world_start_with_f(&W, 1);
    struct ilu_error err = {0};
    char *a = invoke_async(&W, "f", &err), *b = invoke_async(&W, "f", &err), *c = invoke_async(&W, "f", &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    fake_advance(&W.fe, 50 * MS);
    uint64_t t1 = fake_now(&W.fe); /* T0 + 50 ms */
    long ia = ft_find(&W.ft, INV, NULL);
    ft_reply(&W.ft, ia, 200, "{\"body\":\"a\"}");
    ft_reply(&W.ft, ft_find(&W.ft, INV, NULL), 200, "{\"body\":\"b\"}");
    /* c's invocation is still running */
    assert_int_equal(ctl_status(&W, "async_held"), 3);
    fake_run_until(&W.fe, t1 + 2 * SEC - 1);
    assert_int_equal(ctl_status(&W, "async_held"), 3);
    expect_result_field(&W, a, 200, "body", "a");
    /* the first tick at or after t1 + 2 s drops b; c is not finished: kept */
    fake_run_until(&W.fe, t1 + 2 * SEC + FREQ);
    assert_int_equal(ctl_status(&W, "async_held"), 1);
    expect_unknown(&W, b);
    expect_pending(&W, c);
    ft_reply_to(&W.ft, INV, "w1", 200, "{\"body\":\"c\"}");
    expect_result_field(&W, c, 200, "body", "c");
    free(a);
    free(b);
    free(c);
    world_end(&W);
}

/* Async invocations use one pick each, so RoundRobin alternates them like
 * synchronous ones. (Regression test: invoke_async once called route() to
 * refuse early and then picked again to send, moving the RoundRobin cursor
 * twice: with two workers all 4 went to w2.) */
static void async_invocations_are_spread_by_round_robin(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    world_start_with_f(&W, 2);
    /* synchronous invocations alternate */
    struct inv_rec ir = {0};
    struct ilu_error err = {0};
    for (int k = 0; k < 4; k++)
        assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    assert_int_equal(ft_count(&W.ft, INV, "w1"), 2);
    assert_int_equal(ft_count(&W.ft, INV, "w2"), 2);
    ft_reply_all(&W.ft, INV, NULL, 200, "{}");
    char *cookies[4];
    for (int k = 0; k < 4; k++) {
        cookies[k] = invoke_async(&W, "f", &err);
        assert_non_null(cookies[k]);
    }
    unsigned on1 = ft_pending(&W.ft, INV, "w1"), on2 = ft_pending(&W.ft, INV, "w2");
    for (int k = 0; k < 4; k++)
        free(cookies[k]);
    inv_clear(&ir);
    ft_reply_all(&W.ft, INV, NULL, 200, "{}");
    world_end(&W);
    print_message("async with RoundRobin: %u on w1, %u on w2\n", on1, on2);
    assert_int_equal(on1, 2);
    assert_int_equal(on2, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(async_result_is_available_once_after_the_worker_answers),
        cmocka_unit_test(async_lost_with_its_worker_is_sent_again_and_returns_the_second_answer),
        cmocka_unit_test(async_without_retries_fails_with_the_reason),
        cmocka_unit_test(async_retries_exhausted_finish_failed),
        cmocka_unit_test(async_whose_only_worker_died_finishes_failed_instead_of_pending_forever),
        cmocka_unit_test(async_waits_for_its_worker_to_come_back),
        cmocka_unit_test(freeing_with_an_async_waiting_to_retry_leaves_no_timer),
        cmocka_unit_test(async_results_expire_after_the_ttl),
        cmocka_unit_test(async_invocations_are_spread_by_round_robin),
    };
    return cmocka_run_group_tests_name("controller_async", tests, NULL, NULL);
}
