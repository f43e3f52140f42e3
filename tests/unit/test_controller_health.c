/* Controller: worker health from the status polls: traffic only after a
 * good poll, unhealthy after failures and back with every function, one
 * poll at a time to a hung worker. */
#include "controller_fixture.h"

static void worker_takes_traffic_only_after_a_good_status_poll(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    struct reg_rec rr = {0};
    reg_fn(&W, "f", &rr);
    assert_int_equal(rr.calls, 1); /* no worker: done at once, nothing sent */
    assert_int_equal(rr.accepted, 0);
    assert_int_equal(rr.refused, 0);
    assert_false(rr.has_error);
    assert_int_equal(W.ft.n, 0);

    add_worker(&W, "w1");
    assert_string_equal(registered_on(&W, "w1"), "f");
    assert_int_equal(ft_count(&W.ft, STATUS, "w1"), 1); /* polled at once */
    assert_string_equal(W.ft.sends[ft_find(&W.ft, STATUS, "w1")].tid, "health");
    assert_int_equal(W.ft.sends[ft_find(&W.ft, STATUS, "w1")].timeout_us, 50 * MS);
    assert_null(W.ft.sends[ft_find(&W.ft, STATUS, "w1")].body);
    assert_string_equal(health(&W, "w1"), "UNKNOWN");

    struct inv_rec ir = {0};
    struct ilu_error err = {0};
    assert_int_equal(invoke(&W, "f", &ir, &err), -1);
    assert_int_equal(err.status, 503);
    assert_string_equal(err.kind, "no_worker");
    assert_int_equal(ir.calls, 0);
    assert_int_equal(ft_count(&W.ft, INV, NULL), 0);

    /* one failed poll (below failures_to_unhealthy): still unknown, unroutable */
    ft_reply_to(&W.ft, STATUS, "w1", 0, NULL);
    assert_string_equal(health(&W, "w1"), "UNKNOWN");
    assert_int_equal(worker_int(&W, "w1", "failed_polls"), 1);
    assert_int_equal(invoke(&W, "f", &ir, &err), -1);
    assert_int_equal(err.status, 503);

    fake_advance(&W.fe, FREQ); /* the next tick polls again */
    assert_int_equal(ft_count(&W.ft, STATUS, "w1"), 2);
    ft_reply_to(&W.ft, STATUS, "w1", 200, "{\"cpu_queue_len\":3,\"num_running_funcs\":2}");
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    assert_int_equal(worker_int(&W, "w1", "failed_polls"), 0);
    assert_int_equal(worker_int(&W, "w1", "last_ok_ms_ago"), 0);
    assert_int_equal(ctl_status(&W, "healthy_workers"), 1);

    memset(&err, 0, sizeof err);
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    assert_int_equal(ft_count(&W.ft, INV, "w1"), 1);
    assert_string_equal(body_fn(&W, ft_find(&W.ft, INV, "w1")), "f");
    /* unknown -> healthy does not push the functions again */
    assert_string_equal(registered_on(&W, "w1"), "f");
    ft_reply_to(&W.ft, INV, "w1", 200, "{\"body\":\"ok\"}");
    assert_int_equal(ir.calls, 1);
    assert_int_equal(ir.status, 200);
    inv_clear(&ir);
    world_end(&W);
}

static void failed_polls_make_worker_unhealthy_and_a_good_poll_brings_it_back_with_every_function(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    W.cfg.health.failures_to_unhealthy = 3;
    world_start(&W);
    healthy_worker(&W, "w1");
    reg_fn(&W, "f", NULL);
    reg_fn(&W, "g", NULL);
    assert_int_equal(ft_reply_all(&W.ft, REG, "w1", 200, "{}"), 2);
    struct inv_rec ir = {0};
    struct ilu_error err = {0};

    /* two failures: still healthy, still routed to */
    for (int k = 1; k <= 2; k++) {
        fake_advance(&W.fe, FREQ);
        ft_reply_to(&W.ft, STATUS, "w1", 0, NULL);
        assert_string_equal(health(&W, "w1"), "HEALTHY");
        assert_int_equal(worker_int(&W, "w1", "failed_polls"), k);
    }
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    ft_reply_to(&W.ft, INV, "w1", 200, "{}");
    assert_int_equal(ir.status, 200);

    /* the third (an HTTP error is a failure too): unhealthy, no routing */
    fake_advance(&W.fe, FREQ);
    ft_reply_to(&W.ft, STATUS, "w1", 500, "{\"error\":\"oops\"}");
    assert_string_equal(health(&W, "w1"), "UNHEALTHY");
    assert_int_equal(worker_int(&W, "w1", "failed_polls"), 3);
    assert_true(fake_log_has(&W.fe, "3 status polls failed"));
    assert_int_equal(invoke(&W, "f", &ir, &err), -1);
    assert_int_equal(err.status, 503);
    unsigned invokes = ft_count(&W.ft, INV, NULL);

    /* still failing: stays unhealthy, nothing pushed */
    fake_advance(&W.fe, FREQ);
    ft_reply_to(&W.ft, STATUS, "w1", 200, "[1,2]"); /* 200 but not a status object */
    assert_string_equal(health(&W, "w1"), "UNHEALTHY");
    assert_string_equal(registered_on(&W, "w1"), "f,g");

    /* a good poll: healthy again and every registration re-sent, in order */
    fake_advance(&W.fe, FREQ);
    ft_reply_to(&W.ft, STATUS, "w1", 200, IDLE);
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    assert_int_equal(worker_int(&W, "w1", "failed_polls"), 0);
    assert_string_equal(registered_on(&W, "w1"), "f,g,f,g");
    assert_string_equal(W.ft.sends[ft_last(&W.ft, REG, "w1")].tid, "health");
    assert_int_equal(fake_json_int(W.ft.sends[ft_last(&W.ft, REG, "w1")].body, "memory"), 128);
    assert_int_equal(ft_reply_all(&W.ft, REG, "w1", 200, "{}"), 2);
    inv_clear(&ir);
    memset(&err, 0, sizeof err);
    assert_int_equal(invoke(&W, "g", &ir, &err), 0);
    assert_int_equal(ft_count(&W.ft, INV, "w1"), invokes + 1);
    ft_reply_to(&W.ft, INV, "w1", 200, "{}");

    /* the failure count restarted: two more failures leave it healthy */
    for (int k = 1; k <= 2; k++) {
        fake_advance(&W.fe, FREQ);
        ft_reply_to(&W.ft, STATUS, "w1", 0, NULL);
    }
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    inv_clear(&ir);
    world_end(&W);
}

static void a_hung_worker_gets_one_poll_at_a_time(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    add_worker(&W, "w1");
    add_worker(&W, "w2");
    ft_reply_to(&W.ft, STATUS, "w2", 200, IDLE);
    for (int k = 0; k < 10; k++) { /* w1 never answers; w2 answers each poll */
        fake_advance(&W.fe, FREQ);
        ft_reply_to(&W.ft, STATUS, "w2", 200, IDLE);
    }
    assert_int_equal(ft_count(&W.ft, STATUS, "w1"), 1);
    assert_int_equal(ft_count(&W.ft, STATUS, "w2"), 11);
    ft_reply_to(&W.ft, STATUS, "w1", 0, NULL); /* its timeout, at last */
    fake_advance(&W.fe, FREQ);
    assert_int_equal(ft_count(&W.ft, STATUS, "w1"), 2);
    assert_int_equal(ft_pending(&W.ft, STATUS, "w1"), 1);
    world_end(&W);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(worker_takes_traffic_only_after_a_good_status_poll),
        cmocka_unit_test(failed_polls_make_worker_unhealthy_and_a_good_poll_brings_it_back_with_every_function),
        cmocka_unit_test(a_hung_worker_gets_one_poll_at_a_time),
    };
    return cmocka_run_group_tests_name("controller_health", tests, NULL, NULL);
}
