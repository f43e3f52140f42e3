/* Controller: the function registry: a registration fanned out to every
 * worker, conflicts (409), refusals, the worker's rules checked up front. */
#include "controller_fixture.h"

static void register_function_fans_out_to_every_worker_and_counts_answers(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    healthy_worker(&W, "w1");
    healthy_worker(&W, "w2");
    add_worker(&W, "w3"); /* not polled yet: registrations still go there */

    struct reg_rec rr = {0};
    struct ilu_error err = {0};
    json_t *r = registration("f", "/fn/f", 128, 1);
    json_object_set_new(r, "transaction_id", json_string("tx-9"));
    assert_int_equal(ilu_controller_register_function(W.c, r, false, "tx-9", reg_done, &rr, &err), 0);
    json_decref(r);
    assert_int_equal(ft_count(&W.ft, REG, NULL), 3);
    for (int k = 1; k <= 3; k++) {
        char name[8];
        snprintf(name, sizeof name, "w%d", k);
        long i = ft_find(&W.ft, REG, name);
        assert_true(i >= 0);
        json_t *want = registration("f", "/fn/f", 128, 1); /* transaction_id removed */
        assert_true(json_equal(W.ft.sends[i].body, want));
        json_decref(want);
        assert_string_equal(W.ft.sends[i].tid, "tx-9");
    }
    assert_int_equal(rr.calls, 0);
    ft_reply_to(&W.ft, REG, "w1", 200, "{}");
    assert_int_equal(rr.calls, 0);
    ft_reply_to(&W.ft, REG, "w2", 409, "{\"error\":\"different image\"}");
    assert_int_equal(rr.calls, 0);
    ft_reply_to(&W.ft, REG, "w3", 0, NULL); /* unreachable: neither */
    assert_int_equal(rr.calls, 1);
    assert_int_equal(rr.accepted, 1);
    assert_int_equal(rr.refused, 1);
    assert_true(rr.has_error);
    assert_string_equal(rr.first_error, "HTTP 409: different image");

    json_t *fns = ilu_controller_functions_json(W.c);
    assert_int_equal(json_array_size(fns), 1);
    assert_null(json_object_get(json_array_get(fns, 0), "transaction_id"));
    json_decref(fns);

    struct reg_rec rg = {0};
    reg_fn(&W, "g", &rg);
    assert_int_equal(ft_reply_all(&W.ft, REG, NULL, 200, "{}"), 3);
    assert_int_equal(rg.calls, 1);
    assert_int_equal(rg.accepted, 3);
    assert_int_equal(rg.refused, 0);
    assert_false(rg.has_error);

    /* the first refusal is the one reported */
    struct reg_rec rh = {0};
    reg_fn(&W, "h", &rh);
    ft_reply_to(&W.ft, REG, "w1", 500, NULL);
    ft_reply_to(&W.ft, REG, "w2", 422, "{\"error\":\"bad\"}");
    ft_reply_to(&W.ft, REG, "w3", 200, "{}");
    assert_int_equal(rh.calls, 1);
    assert_int_equal(rh.accepted, 1);
    assert_int_equal(rh.refused, 2);
    assert_string_equal(rh.first_error, "HTTP 500: no message");
    world_end(&W);
}

static void conflicting_registration_is_409_and_identical_succeeds_without_sends(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    healthy_worker(&W, "w1");
    healthy_worker(&W, "w2");
    struct ilu_error err = {0};
    struct reg_rec r1 = {0};
    assert_int_equal(reg_fn_full(&W, "f", "/fn/img1", 128, 1, false, &r1, &err), 0);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    assert_int_equal(r1.accepted, 2);
    size_t sends = W.ft.n;

    struct reg_rec r2 = {0};
    assert_int_equal(reg_fn_full(&W, "f", "/fn/img1", 256, 1, false, &r2, &err), -1);
    assert_int_equal(err.status, 409);
    assert_non_null(strstr(err.msg, "memory"));
    memset(&err, 0, sizeof err);
    assert_int_equal(reg_fn_full(&W, "f", "/fn/img2", 128, 1, false, &r2, &err), -1);
    assert_int_equal(err.status, 409);
    assert_non_null(strstr(err.msg, "image_name"));
    memset(&err, 0, sizeof err);
    assert_int_equal(reg_fn_full(&W, "f", "/fn/img1", 128, 2, false, &r2, &err), -1);
    assert_int_equal(err.status, 409);
    assert_non_null(strstr(err.msg, "cpus"));
    assert_int_equal(r2.calls, 0);
    assert_int_equal(W.ft.n, sends);

    /* identical (another transaction id does not matter): success, no sends */
    json_t *r = registration("f", "/fn/img1", 128, 1);
    json_object_set_new(r, "transaction_id", json_string("other"));
    struct reg_rec r3 = {0};
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_register_function(W.c, r, false, "other", reg_done, &r3, &err), 0);
    json_decref(r);
    assert_int_equal(r3.calls, 1);
    assert_int_equal(r3.accepted, 2);
    assert_int_equal(r3.refused, 0);
    assert_false(r3.has_error);
    assert_int_equal(W.ft.n, sends);

    json_t *fns = ilu_controller_functions_json(W.c);
    assert_int_equal(json_array_size(fns), 1);
    assert_int_equal(fake_json_int(json_array_get(fns, 0), "memory"), 128);
    json_decref(fns);

    /* malformed: 400 */
    json_t *bad = json_pack("{s:s, s:s, s:s}", "function_name", "g", "function_version", "1", "image_name", "i");
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_register_function(W.c, bad, false, "t", NULL, NULL, &err), -1);
    assert_int_equal(err.status, 400); /* no memory */
    json_decref(bad);
    bad = json_pack("{s:s, s:s, s:i}", "function_name", "g", "image_name", "i", "memory", 64);
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_register_function(W.c, bad, false, "t", NULL, NULL, &err), -1);
    assert_int_equal(err.status, 400); /* no version */
    json_decref(bad);
    assert_int_equal(W.ft.n, sends);
    assert_int_equal(ctl_status(&W, "functions"), 1);
    world_end(&W);
}

/* Every worker that answered refused it: not kept (not listed, not stored,
 * not routed). Accepted by one: kept and stored. A worker that joins while
 * a registration is on its way gets it once it is kept. */
static void registration_refused_by_every_worker_is_not_kept(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    W.use_store = true;
    world_start(&W);
    healthy_worker(&W, "w1");
    healthy_worker(&W, "w2");
    struct reg_rec rr = {0};
    struct ilu_error err = {0};
    assert_int_equal(reg_fn_full(&W, "f", "/fn/f", 128, 1, true, &rr, &err), 0);
    ft_reply_to(&W.ft, REG, "w1", 400, "{\"error\":\"image /fn/f is not a directory\"}");
    ft_reply_to(&W.ft, REG, "w2", 400, "{\"error\":\"image /fn/f is not a directory\"}");
    assert_int_equal(rr.calls, 1);
    assert_int_equal(rr.accepted, 0);
    assert_int_equal(rr.refused, 2);
    assert_false(rr.not_kept);
    assert_int_equal(ctl_status(&W, "functions"), 0);
    assert_int_equal(W.st.functions, 0);
    struct inv_rec ir = {0};
    assert_int_equal(invoke(&W, "f", &ir, &err), -1);
    assert_int_equal(err.status, 404);
    /* fixed and sent again: kept (a refusal is not remembered as a conflict) */
    memset(&rr, 0, sizeof rr);
    memset(&err, 0, sizeof err);
    assert_int_equal(reg_fn_full(&W, "f", "/fn/f2", 128, 1, true, &rr, &err), 0);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    assert_int_equal(rr.accepted, 2);
    assert_int_equal(ctl_status(&W, "functions"), 1);
    assert_int_equal(W.st.functions, 1);

    /* one unreachable, one refusing, one accepting: kept */
    healthy_worker(&W, "w3");
    ft_reply_all(&W.ft, REG, "w3", 200, "{}"); /* f, pushed when it joined */
    memset(&rr, 0, sizeof rr);
    assert_int_equal(reg_fn_full(&W, "g", "/fn/g", 128, 1, true, &rr, &err), 0);
    ft_reply_to(&W.ft, REG, "w1", 0, NULL);
    ft_reply_to(&W.ft, REG, "w2", 409, "{\"error\":\"conflict\"}");
    /* w4 joins while w3 has not answered: it gets g only once g is kept */
    add_worker(&W, "w4");
    assert_int_equal(ft_count(&W.ft, REG, "w4"), 1); /* f, kept already */
    ft_reply_to(&W.ft, REG, "w3", 200, "{}");
    assert_int_equal(rr.accepted, 1);
    assert_int_equal(rr.refused, 1);
    assert_int_equal(ctl_status(&W, "functions"), 2);
    assert_int_equal(W.st.functions, 2);
    assert_string_equal(registered_on(&W, "w4"), "f,g");
    world_end(&W);
}

/* The controller applies the workers' rules itself: a bad name, version or
 * image is refused (400) even with no worker attached, and nothing is kept. */
static void registration_is_checked_with_the_worker_rules_even_without_workers(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.use_store = true;
    world_start(&W);
    static const struct {
        const char *name, *image;
        int memory, cpus;
        const char *says;
    } bad[] = {
        {"a/b", "/fn/f", 128, 1, "function_name"},
        {"has space", "/fn/f", 128, 1, "function_name"},
        {"x123456789012345678901234567890123456789012345678901234567890123", "/fn/f", 128, 1, "1-63"},
        {"f", "relative/path", 128, 1, "absolute"},
        {"f", "docker.io/alfuerst/hello:latest", 128, 1, "absolute"},
        {"f", "/fn/../etc", 128, 1, ".."},
        {"f", "/fn/with\nnewline", 128, 1, "control"},
        {"f", "/fn/f", 0, 1, "memory"},
        {"f", "/fn/f", 128, 0, "cpus"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        struct ilu_error err = {0};
        struct reg_rec rr = {0};
        json_t *r = json_pack("{s:s, s:s, s:s, s:i, s:i}", "function_name", bad[k].name, "function_version", "1",
                              "image_name", bad[k].image, "memory", bad[k].memory, "cpus", bad[k].cpus);
        assert_int_equal(ilu_controller_register_function(W.c, r, true, "t", reg_done, &rr, &err), -1);
        json_decref(r);
        if (err.status != 400 || !strstr(err.msg, bad[k].says))
            fail_msg("case %zu (%s, %s): %d %s", k, bad[k].name, bad[k].image, err.status, err.msg);
        assert_int_equal(rr.calls, 0);
    }
    /* a NUL inside a string (JSON \u0000) */
    json_error_t jerr;
    json_t *r = json_loads("{\"function_name\":\"f\\u0000x\",\"function_version\":\"1\","
                           "\"image_name\":\"/fn/f\",\"memory\":128}",
                           JSON_ALLOW_NUL, &jerr);
    assert_non_null(r);
    struct ilu_error err = {0};
    assert_int_equal(ilu_controller_register_function(W.c, r, true, "t", NULL, NULL, &err), -1);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "NUL"));
    json_decref(r);
    /* numbers as strings are refused (docs/api.md: numbers are JSON integers) */
    r = json_pack("{s:s, s:s, s:s, s:s, s:i}", "function_name", "ok", "function_version", "1", "image_name", "/fn/ok",
                  "memory", " 128", "cpus", 1);
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_register_function(W.c, r, true, "t", NULL, NULL, &err), -1);
    assert_int_equal(err.status, 400);
    json_decref(r);
    r = json_pack("{s:s, s:s, s:s, s:i, s:i}", "function_name", "ok", "function_version", "1", "image_name", "/fn/ok",
                  "memory", 128, "cpus", 1);
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_register_function(W.c, r, true, "t", NULL, NULL, &err), 0);
    json_decref(r);
    assert_int_equal(fake_json_int(W.st.last_registration, "memory"), 128);
    assert_int_equal(ctl_status(&W, "functions"), 1);
    assert_int_equal(W.st.functions, 1);
    world_end(&W);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(register_function_fans_out_to_every_worker_and_counts_answers),
        cmocka_unit_test(conflicting_registration_is_409_and_identical_succeeds_without_sends),
        cmocka_unit_test(registration_refused_by_every_worker_is_not_kept),
        cmocka_unit_test(registration_is_checked_with_the_worker_rules_even_without_workers),
    };
    return cmocka_run_group_tests_name("controller_functions", tests, NULL, NULL);
}
