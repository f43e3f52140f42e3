/* Controller: routing invocations and prewarms to a healthy worker and
 * failing over: transport failures, never-sent requests, timeouts, 404,
 * 400, 503. */
#include "controller_fixture.h"

static void invoke_routes_to_a_healthy_worker_and_passes_its_answer_with_worker_added(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    world_start(&W);
    add_worker(&W, "w1"); /* never answers its poll: not routable */
    healthy_worker(&W, "w2");
    reg_fn(&W, "f", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    fake_advance(&W.fe, 20 * MS);

    struct inv_rec ir = {0};
    struct ilu_error err = {0};
    json_t *b = invoke_body("f");
    assert_int_equal(ilu_controller_invoke(W.c, b, (struct ilu_ctl_text){0}, "t-7", inv_done, &ir, &err), 0);
    long i = ft_find(&W.ft, INV, NULL);
    assert_true(i >= 0);
    assert_string_equal(W.ft.sends[i].worker, "w2");
    assert_true(json_equal(W.ft.sends[i].body, b));
    assert_string_equal(W.ft.sends[i].tid, "t-7");
    assert_int_equal(W.ft.sends[i].timeout_us, 10 * SEC);
    json_decref(b);
    assert_int_equal(ilu_controller_outstanding(W.c), 1);
    assert_int_equal(worker_int(&W, "w2", "in_flight"), 1);
    assert_int_equal(worker_int(&W, "w2", "routed"), 1);
    assert_int_equal(ir.calls, 0);

    fake_advance(&W.fe, 30 * MS);
    ft_reply(&W.ft, i, 200, "{\"success\":true,\"body\":\"{\\\"ok\\\":1}\",\"duration_us\":1234}");
    assert_int_equal(ir.calls, 1);
    assert_int_equal(ir.status, 200);
    assert_string_equal(fake_json_str(ir.answer, "body"), "{\"ok\":1}");
    assert_int_equal(fake_json_int(ir.answer, "duration_us"), 1234);
    assert_true(json_is_true(json_object_get(ir.answer, "success")));
    assert_string_equal(fake_json_str(ir.answer, "worker"), "w2");
    assert_int_equal(fake_json_int(ir.answer, "controller_us"), 30 * MS);
    assert_int_equal(ilu_controller_outstanding(W.c), 0);
    assert_int_equal(worker_int(&W, "w2", "in_flight"), 0);

    /* the worker's own error passes through and the worker stays healthy */
    inv_clear(&ir);
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    ft_reply_to(&W.ft, INV, "w2", 422, "{\"success\":false,\"error\":\"boom\",\"error_kind\":\"user_error\"}");
    expect_error_answer(&ir, 422, "user_error");
    assert_string_equal(fake_json_str(ir.answer, "error"), "boom");
    assert_string_equal(fake_json_str(ir.answer, "worker"), "w2");
    assert_string_equal(health(&W, "w2"), "HEALTHY");
    assert_int_equal(ctl_status(&W, "invocations"), 2);
    assert_int_equal(ctl_status(&W, "errors"), 1);
    assert_int_equal(ctl_status(&W, "worker_failures"), 0);
    assert_int_equal(worker_int(&W, "w2", "routed"), 2);
    assert_int_equal(worker_int(&W, "w1", "routed"), 0);
    inv_clear(&ir);
    world_end(&W);
}

/* The HTTP edges forward bytes: the client's request goes to the worker as
 * it came (also when it is sent again to another worker), and the worker's
 * answer text is handed on when appending "worker" and "controller_us" to
 * it says what the answer object says; not when they would replace members
 * of the worker's, nor for an empty object or the controller's own error. */
static void request_and_answer_bytes_pass_through_when_they_say_what_the_json_says(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    world_start_with_f(&W, 2);
    struct inv_rec ir = {0};
    struct ilu_error err = {0};
    static const char sent[] = "{ \"function_name\": \"f\", \"function_version\": \"1\", \"args\": {} }";
    json_t *b = json_loads(sent, 0, NULL);
    assert_non_null(b);
    struct ilu_ctl_text text = {sent, sizeof sent - 1};
    assert_int_equal(ilu_controller_invoke(W.c, b, text, "t-b", inv_done, &ir, &err), 0);
    long i = ft_find(&W.ft, INV, NULL);
    assert_non_null(W.ft.sends[i].body_text);
    assert_string_equal(W.ft.sends[i].body_text, sent);
    static const char answer[] = "{\"success\":true,\"user_result\":\"{}\",\"timings\":{\"total_us\":9}}\n";
    ft_reply(&W.ft, i, 200, answer);
    assert_int_equal(ir.status, 200);
    assert_non_null(ir.worker_text);
    assert_string_equal(ir.worker_text, answer);
    assert_non_null(json_object_get(ir.answer, "worker"));
    assert_non_null(json_object_get(ir.answer, "controller_us"));

    /* never sent: the next worker gets the same bytes */
    inv_clear(&ir);
    assert_int_equal(ilu_controller_invoke(W.c, b, text, "t-b", inv_done, &ir, &err), 0);
    i = ft_find(&W.ft, INV, NULL);
    const char *first = W.ft.sends[i].worker[1] == '1' ? "w1" : "w2";
    ft_reply(&W.ft, i, ILU_CTL_NOT_SENT, NULL);
    i = ft_find(&W.ft, INV, NULL);
    assert_true(i >= 0);
    assert_string_not_equal(W.ft.sends[i].worker, first);
    assert_string_equal(W.ft.sends[i].body_text, sent);

    /* the worker's own "worker" member would be replaced: the JSON decides */
    ft_reply(&W.ft, i, 200, "{\"success\":true,\"worker\":\"someone\"}");
    assert_null(ir.worker_text);
    assert_string_not_equal(fake_json_str(ir.answer, "worker"), "someone");

    /* no bytes given (a simulation): the transport encodes the JSON */
    inv_clear(&ir);
    assert_int_equal(ilu_controller_invoke(W.c, b, (struct ilu_ctl_text){0}, "t-b", inv_done, &ir, &err), 0);
    i = ft_find(&W.ft, INV, NULL);
    assert_null(W.ft.sends[i].body_text);
    assert_true(json_equal(W.ft.sends[i].body, b));
    ft_reply(&W.ft, i, 200, answer);

    /* an empty object, and the controller's own error: no text */
    inv_clear(&ir);
    assert_int_equal(ilu_controller_invoke(W.c, b, text, "t-b", inv_done, &ir, &err), 0);
    ft_reply(&W.ft, ft_find(&W.ft, INV, NULL), 200, "{}");
    assert_null(ir.worker_text);
    inv_clear(&ir);
    assert_int_equal(ilu_controller_invoke(W.c, b, text, "t-b", inv_done, &ir, &err), 0);
    ft_reply(&W.ft, ft_find(&W.ft, INV, NULL), 0, NULL);
    expect_error_answer(&ir, 502, "worker_failed");
    assert_null(ir.worker_text);

    json_decref(b);
    inv_clear(&ir);
    world_end(&W);
}

static void prewarm_is_routed_like_an_invocation(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start_with_f(&W, 1);
    struct inv_rec ir = {0};
    struct ilu_error err = {0};
    json_t *b = json_pack("{s:s, s:s}", "function_name", "f", "function_version", "1");
    assert_int_equal(ilu_controller_prewarm(W.c, b, (struct ilu_ctl_text){0}, "tp", inv_done, &ir, &err), 0);
    json_decref(b);
    assert_int_equal(ft_count(&W.ft, PREWARM, "w1"), 1);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 0);
    ft_reply_to(&W.ft, PREWARM, "w1", 200, "{\"success\":true}");
    assert_int_equal(ir.status, 200);
    assert_string_equal(fake_json_str(ir.answer, "worker"), "w1");
    assert_int_equal(ctl_status(&W, "invocations"), 0); /* a prewarm is not an invocation */
    b = json_pack("{s:s, s:s}", "function_name", "nope", "function_version", "1");
    assert_int_equal(ilu_controller_prewarm(W.c, b, (struct ilu_ctl_text){0}, "tp", inv_done, &ir, &err), -1);
    assert_int_equal(err.status, 404);
    json_decref(b);
    inv_clear(&ir);
    world_end(&W);
}

static void transport_failure_on_an_invocation_is_502_and_the_worker_unhealthy_at_once(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    world_start_with_f(&W, 2);
    struct inv_rec ir = {0};
    struct ilu_error err = {0};
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    ft_reply_to(&W.ft, INV, "w1", 0, NULL);
    assert_int_equal(ir.calls, 1);
    expect_error_answer(&ir, 502, "worker_failed");
    assert_int_equal(fake_json_int(ir.answer, "http_status"), 502);
    assert_false(json_is_true(json_object_get(ir.answer, "success")));
    assert_string_equal(fake_json_str(ir.answer, "worker"), "w1");
    assert_non_null(strstr(fake_json_str(ir.answer, "error"), "w1"));
    assert_string_equal(health(&W, "w1"), "UNHEALTHY"); /* no poll needed */
    assert_string_equal(health(&W, "w2"), "HEALTHY");
    assert_int_equal(ctl_status(&W, "worker_failures"), 1);
    assert_int_equal(ctl_status(&W, "errors"), 1);
    assert_int_equal(ctl_status(&W, "outstanding"), 0);

    /* everything goes to w2 now */
    for (int k = 0; k < 3; k++) {
        inv_clear(&ir);
        assert_int_equal(invoke(&W, "f", &ir, &err), 0);
        ft_reply_to(&W.ft, INV, "w2", 200, "{}");
        assert_int_equal(ir.status, 200);
    }
    assert_int_equal(ft_count(&W.ft, INV, "w1"), 1);

    /* an answer that is not a JSON object is a failure too */
    inv_clear(&ir);
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    ft_reply_to(&W.ft, INV, "w2", 200, NULL);
    expect_error_answer(&ir, 502, "worker_failed");
    assert_string_equal(health(&W, "w2"), "UNHEALTHY");
    inv_clear(&ir);
    assert_int_equal(invoke(&W, "f", &ir, &err), -1);
    assert_int_equal(err.status, 503);

    /* a good poll brings w1 back, with its functions */
    fake_advance(&W.fe, FREQ);
    ft_reply_to(&W.ft, STATUS, "w1", 200, IDLE);
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    assert_string_equal(registered_on(&W, "w1"), "f,f");
    memset(&err, 0, sizeof err);
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    assert_int_equal(ft_pending(&W.ft, INV, "w1"), 1);
    ft_reply_to(&W.ft, INV, "w1", 200, "{}");
    inv_clear(&ir);
    world_end(&W);
}

/* A failure at the invocation's timeout may be a slow function on a healthy
 * worker: 502 worker_failed for the caller, but health is left to a status
 * poll sent at once. */
/* An invocation whose request never reached its worker (refused, or reset
 * before it was written) did not run: it goes to another worker chosen by
 * the policy, up to invocation.unsent_retries times; one that was sent and
 * then failed may have run, and is answered 502 saying so. */
static void invocation_never_sent_goes_to_another_worker_and_sent_one_says_it_may_have_run(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    W.cfg.invocation.unsent_retries = 2;
    world_start_with_f(&W, 3);
    struct inv_rec ir = {0};
    struct ilu_error err = {0};

    /* not sent to w1: re-routed, same body and transaction id, answered by w2 */
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    long first = ft_find(&W.ft, INV, NULL);
    assert_true(first >= 0);
    char first_worker[64];
    snprintf(first_worker, sizeof first_worker, "%s", W.ft.sends[first].worker);
    ft_reply(&W.ft, first, ILU_CTL_NOT_SENT, NULL);
    assert_int_equal(ir.calls, 0);
    assert_string_equal(health(&W, first_worker), "UNHEALTHY");
    long second = ft_find(&W.ft, INV, NULL);
    assert_true(second > first);
    assert_string_not_equal(W.ft.sends[second].worker, first_worker);
    assert_true(json_equal(W.ft.sends[second].body, W.ft.sends[first].body));
    assert_string_equal(W.ft.sends[second].tid, "t-1");
    char second_worker[64];
    snprintf(second_worker, sizeof second_worker, "%s", W.ft.sends[second].worker);
    ft_reply(&W.ft, second, 200, "{\"success\":true}");
    assert_int_equal(ir.calls, 1);
    assert_int_equal(ir.status, 200);
    assert_string_equal(fake_json_str(ir.answer, "worker"), second_worker);
    assert_int_equal(ctl_status(&W, "unsent_retries"), 1);
    assert_int_equal(ctl_status(&W, "invocations"), 1);
    assert_int_equal(ctl_status(&W, "errors"), 0);
    assert_int_equal(ctl_status(&W, "outstanding"), 0);
    assert_int_equal(worker_int(&W, first_worker, "in_flight"), 0);

    /* sent, then the connection broke: 502, may have run, not re-sent */
    inv_clear(&ir);
    size_t sends = ft_count(&W.ft, INV, NULL);
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    ft_reply(&W.ft, ft_find(&W.ft, INV, NULL), 0, NULL);
    assert_int_equal(ir.calls, 1);
    expect_error_answer(&ir, 502, "worker_failed");
    assert_true(json_is_true(json_object_get(ir.answer, "may_have_run")));
    assert_non_null(strstr(fake_json_str(ir.answer, "error"), "may have run"));
    assert_int_equal(ft_count(&W.ft, INV, NULL), sends + 1);
    assert_int_equal(ctl_status(&W, "unsent_retries"), 1);

    /* the last worker refuses too and none is left: 502, did not run */
    inv_clear(&ir);
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    long last = ft_find(&W.ft, INV, NULL);
    assert_true(last >= 0);
    ft_reply(&W.ft, last, ILU_CTL_NOT_SENT, NULL);
    assert_int_equal(ir.calls, 1);
    assert_int_equal(ir.status, 502);
    assert_false(json_is_true(json_object_get(ir.answer, "may_have_run")));
    assert_non_null(strstr(fake_json_str(ir.answer, "error"), "did not run"));
    assert_non_null(strstr(fake_json_str(ir.answer, "error"), "no other worker"));
    inv_clear(&ir);
    world_end(&W);

    /* bounded: with every worker refusing, 1 + unsent_retries tries */
    world_init(&W, "RoundRobin");
    W.cfg.invocation.unsent_retries = 1;
    world_start_with_f(&W, 3);
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    for (int k = 0; k < 2; k++)
        ft_reply(&W.ft, ft_find(&W.ft, INV, NULL), ILU_CTL_NOT_SENT, NULL);
    assert_int_equal(ir.calls, 1);
    assert_int_equal(ir.status, 502);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 2);
    assert_non_null(strstr(fake_json_str(ir.answer, "error"), "in 2 tries"));
    assert_string_equal(health(&W, "w3"), "HEALTHY");
    inv_clear(&ir);
    world_end(&W);
}

static void invocation_timing_out_is_502_but_health_is_left_to_the_polls(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    world_start_with_f(&W, 2);
    struct inv_rec ir = {0};
    struct ilu_error err = {0};
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    long i = ft_find(&W.ft, INV, "w1");
    assert_true(i >= 0);
    for (int k = 0; k < 100; k++) { /* 10 s of good polls */
        fake_advance(&W.fe, FREQ);
        ft_reply_all(&W.ft, STATUS, NULL, 200, IDLE);
    }
    unsigned polls = ft_count(&W.ft, STATUS, "w1");
    ft_reply(&W.ft, i, 0, NULL); /* the transport's timeout */
    expect_error_answer(&ir, 502, "worker_failed");
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    assert_int_equal(ft_count(&W.ft, STATUS, "w1"), polls + 1);
    assert_int_equal(ft_pending(&W.ft, STATUS, "w1"), 1);
    assert_int_equal(ctl_status(&W, "worker_failures"), 1);
    inv_clear(&ir);
    world_end(&W);
}

static void unknown_function_is_404_and_malformed_request_400(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    healthy_worker(&W, "w1");
    reg_fn(&W, "f", NULL);
    struct inv_rec ir = {0};
    struct ilu_error err = {0};
    assert_int_equal(invoke(&W, "nope", &ir, &err), -1);
    assert_int_equal(err.status, 404);
    assert_non_null(strstr(err.msg, "nope-1"));
    json_t *b = json_pack("{s:s}", "function_name", "f");
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_invoke(W.c, b, (struct ilu_ctl_text){0}, "t", inv_done, &ir, &err), -1);
    assert_int_equal(err.status, 400);
    json_decref(b);
    memset(&err, 0, sizeof err);
    assert_null(invoke_async(&W, "nope", &err));
    assert_int_equal(err.status, 404);
    assert_int_equal(ir.calls, 0);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 0);
    assert_int_equal(ctl_status(&W, "no_worker"), 0);
    assert_int_equal(ctl_status(&W, "async_held"), 0);
    world_end(&W);
}

static void no_healthy_worker_is_503(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "LeastLoaded");
    world_start(&W);
    reg_fn(&W, "f", NULL);
    struct inv_rec ir = {0};
    struct ilu_error err = {0};
    assert_int_equal(invoke(&W, "f", &ir, &err), -1); /* no worker at all */
    assert_int_equal(err.status, 503);
    assert_string_equal(err.kind, "no_worker");
    add_worker(&W, "w1");
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    ft_reply_to(&W.ft, STATUS, "w1", 0, NULL);
    fake_advance(&W.fe, FREQ);
    ft_reply_to(&W.ft, STATUS, "w1", 0, NULL);
    assert_string_equal(health(&W, "w1"), "UNHEALTHY");
    memset(&err, 0, sizeof err);
    assert_int_equal(invoke(&W, "f", &ir, &err), -1);
    assert_int_equal(err.status, 503);
    memset(&err, 0, sizeof err);
    assert_null(invoke_async(&W, "f", &err)); /* refused at once, nothing held */
    assert_int_equal(err.status, 503);
    assert_int_equal(ctl_status(&W, "no_worker"), 3);
    assert_int_equal(ctl_status(&W, "async_held"), 0);
    assert_int_equal(ctl_status(&W, "healthy_workers"), 0);
    assert_int_equal(ir.calls, 0);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 0);
    world_end(&W);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(invoke_routes_to_a_healthy_worker_and_passes_its_answer_with_worker_added),
        cmocka_unit_test(request_and_answer_bytes_pass_through_when_they_say_what_the_json_says),
        cmocka_unit_test(prewarm_is_routed_like_an_invocation),
        cmocka_unit_test(transport_failure_on_an_invocation_is_502_and_the_worker_unhealthy_at_once),
        cmocka_unit_test(invocation_never_sent_goes_to_another_worker_and_sent_one_says_it_may_have_run),
        cmocka_unit_test(invocation_timing_out_is_502_but_health_is_left_to_the_polls),
        cmocka_unit_test(unknown_function_is_404_and_malformed_request_400),
        cmocka_unit_test(no_healthy_worker_is_503),
    };
    return cmocka_run_group_tests_name("controller_routing", tests, NULL, NULL);
}
