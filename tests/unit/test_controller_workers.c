/* Controller: workers joining, moving, restarting (a new boot id) and
 * refused; what is persisted to the store. */
#include "controller_fixture.h"

static void worker_registered_later_gets_every_function(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    struct reg_rec rr[3] = {{0}};
    reg_fn(&W, "f", &rr[0]);
    reg_fn(&W, "g", &rr[1]);
    reg_fn(&W, "h", &rr[2]);
    for (int k = 0; k < 3; k++)
        assert_int_equal(rr[k].calls, 1);
    add_worker(&W, "w1");
    assert_string_equal(registered_on(&W, "w1"), "f,g,h");
    assert_string_equal(W.ft.sends[ft_find(&W.ft, REG, "w1")].tid, "tw");
    fake_advance(&W.fe, 3 * FREQ);
    add_worker(&W, "w2");
    assert_string_equal(registered_on(&W, "w2"), "f,g,h");
    /* and a function registered after both joined goes to both */
    reg_fn(&W, "k", NULL);
    assert_string_equal(registered_on(&W, "w1"), "f,g,h,k");
    assert_string_equal(registered_on(&W, "w2"), "f,g,h,k");
    assert_int_equal(ctl_status(&W, "workers"), 2);
    world_end(&W);
}

static void worker_moving_to_a_new_address_gets_every_function_and_is_polled_again(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    healthy_worker(&W, "w1");
    reg_fn(&W, "f", NULL);
    reg_fn(&W, "g", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    /* the old address stopped answering: the name is free to move */
    fake_advance(&W.fe, FREQ);
    ft_reply_to(&W.ft, STATUS, "w1", 0, NULL);
    ft_reply_to(&W.ft, STATUS, "w1", 0, NULL);
    assert_string_equal(health(&W, "w1"), "UNHEALTHY");
    struct ilu_error err = {0};
    assert_int_equal(add_worker_at(&W, "w1", 9000, false, &err), 0);
    assert_int_equal(n_workers_listed(&W), 1);
    assert_int_equal(worker_int(&W, "w1", "port"), 9000);
    assert_string_equal(health(&W, "w1"), "UNKNOWN");
    assert_int_equal(W.ft.added, 2);
    assert_int_equal(W.ft.freed, 1);
    assert_string_equal(registered_on(&W, "w1"), "f,g,f,g");
    assert_int_equal(W.ft.sends[ft_last(&W.ft, REG, "w1")].port, 9000);
    struct inv_rec ir = {0};
    assert_int_equal(invoke(&W, "f", &ir, &err), -1);
    assert_int_equal(err.status, 503);
    long p = ft_find(&W.ft, STATUS, "w1");
    assert_true(p >= 0);
    assert_int_equal(W.ft.sends[p].port, 9000);
    ft_reply(&W.ft, p, 200, IDLE);
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    memset(&err, 0, sizeof err);
    assert_int_equal(invoke(&W, "f", &ir, &err), 0);
    assert_int_equal(W.ft.sends[ft_find(&W.ft, INV, "w1")].port, 9000);
    ft_reply_to(&W.ft, INV, "w1", 200, "{}");
    /* the same address again is a heartbeat: cpus updated, nothing else */
    struct ilu_ctl_worker_info info = {.name = "w1", .host = "10.0.0.7", .port = 9000, .cpus = 8, .memory_mb = 1};
    size_t sends = W.ft.n;
    assert_int_equal(ilu_controller_register_worker(W.c, &info, false, "hb", &err), 0);
    assert_int_equal(worker_int(&W, "w1", "cpus"), 8);
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    assert_int_equal(W.ft.n, sends);
    assert_int_equal(W.ft.added, 2);
    /* a bad registration is refused */
    info.port = 0;
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_register_worker(W.c, &info, false, "hb", &err), -1);
    assert_int_equal(err.status, 400);
    info.port = 70000;
    assert_int_equal(ilu_controller_register_worker(W.c, &info, false, "hb", &err), -1);
    info = (struct ilu_ctl_worker_info){.name = "", .host = "h", .port = 1};
    assert_int_equal(ilu_controller_register_worker(W.c, &info, false, "hb", &err), -1);
    assert_int_equal(n_workers_listed(&W), 1);
    inv_clear(&ir);
    world_end(&W);
}

/* A live worker's name cannot be taken by another address (that would divert
 * its invocations): 409 unless the same boot id moves, or the holder has
 * failed its health checks (a restart elsewhere). */
static void live_worker_name_cannot_be_taken_by_another_address(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    world_start(&W);
    struct ilu_error err = {0};
    struct ilu_ctl_worker_info real = {
        .name = "w1", .host = "10.0.0.7", .port = 8071, .cpus = 2, .memory_mb = 2048, .boot_id = "boot-1"};
    assert_int_equal(ilu_controller_register_worker(W.c, &real, false, "t", &err), 0);
    ft_reply_to(&W.ft, STATUS, "w1", 200, IDLE);
    struct ilu_ctl_worker_info fake = {
        .name = "w1", .host = "10.6.6.6", .port = 8071, .cpus = 64, .memory_mb = 1, .boot_id = "forged"};
    assert_int_equal(ilu_controller_register_worker(W.c, &fake, false, "t", &err), -1);
    assert_int_equal(err.status, 409);
    assert_non_null(strstr(err.msg, "held by a live worker"));
    fake.boot_id = NULL;
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_register_worker(W.c, &fake, false, "t", &err), -1);
    assert_int_equal(err.status, 409);
    fake.boot_id = "";
    assert_int_equal(ilu_controller_register_worker(W.c, &fake, false, "t", &err), -1);
    /* still the real one, still routed to */
    json_t *list, *o = worker_entry(&W, "w1", &list);
    assert_string_equal(json_string_value(json_object_get(o, "host")), "10.0.0.7");
    json_decref(list);
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    assert_int_equal(W.ft.added, 1);
    /* the real worker's heartbeat, a restart at the same address: fine */
    real.boot_id = "boot-2";
    assert_int_equal(ilu_controller_register_worker(W.c, &real, false, "t", &err), 0);
    /* the same boot id may move */
    real.port = 9000;
    assert_int_equal(ilu_controller_register_worker(W.c, &real, false, "t", &err), 0);
    assert_int_equal(worker_int(&W, "w1", "port"), 9000);
    ft_reply_to(&W.ft, STATUS, "w1", 200, IDLE);
    /* once it fails its health checks, a restart elsewhere takes the name */
    fake_advance(&W.fe, FREQ);
    ft_reply_to(&W.ft, STATUS, "w1", ILU_CTL_NOT_SENT, NULL);
    ft_reply_to(&W.ft, STATUS, "w1", ILU_CTL_NOT_SENT, NULL);
    assert_string_equal(health(&W, "w1"), "UNHEALTHY");
    struct ilu_ctl_worker_info restarted = {
        .name = "w1", .host = "10.0.0.8", .port = 8071, .cpus = 2, .memory_mb = 2048, .boot_id = "boot-3"};
    memset(&err, 0, sizeof err);
    assert_int_equal(ilu_controller_register_worker(W.c, &restarted, false, "t", &err), 0);
    assert_int_equal(n_workers_listed(&W), 1);
    world_end(&W);
}

static int heartbeat(struct world *W, const char *name, const char *boot_id)
{
    struct ilu_error err = {0};
    struct ilu_ctl_worker_info info = {
        .name = name, .host = "10.0.0.7", .port = 8071, .cpus = 2, .memory_mb = 2048, .boot_id = boot_id};
    return ilu_controller_register_worker(W->c, &info, false, "hb", &err);
}

/* A worker restarting faster than the health checks keeps its address but
 * sends a new boot id: it lost its registrations and gets them again. */
static void worker_restarted_with_a_new_boot_id_gets_every_function_again(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    world_start(&W);
    assert_int_equal(heartbeat(&W, "w1", "boot-1"), 0);
    ft_reply_to(&W.ft, STATUS, "w1", 200, IDLE);
    reg_fn(&W, "f", NULL);
    reg_fn(&W, "g", NULL);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    size_t sends = W.ft.n;
    assert_int_equal(heartbeat(&W, "w1", "boot-1"), 0); /* same boot: a no-op */
    assert_int_equal(heartbeat(&W, "w1", NULL), 0);     /* no boot id: a no-op */
    assert_int_equal(W.ft.n, sends);
    assert_int_equal(heartbeat(&W, "w1", "boot-2"), 0); /* restarted */
    assert_string_equal(registered_on(&W, "w1"), "f,g,f,g");
    assert_string_equal(W.ft.sends[ft_last(&W.ft, REG, "w1")].tid, "hb");
    assert_string_equal(health(&W, "w1"), "HEALTHY");
    assert_int_equal(W.ft.added, 1);
    assert_int_equal(n_workers_listed(&W), 1);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    sends = W.ft.n;
    assert_int_equal(heartbeat(&W, "w1", "boot-2"), 0);
    assert_int_equal(W.ft.n, sends);
    world_end(&W);
}

/* A worker the transport refuses (worker_added fails) is not kept: not
 * listed, not polled, and registering it again is a fresh registration that
 * calls worker_added. (Regression test: it was once appended to the worker
 * array before worker_added and never removed, so it was polled through a
 * transport that had refused it and its retry took the heartbeat path.) */
static void worker_refused_by_the_transport_is_not_kept(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    world_start(&W);
    snprintf(W.ft.refuse_added, sizeof W.ft.refuse_added, "w1");
    struct ilu_error err = {0};
    assert_int_equal(add_worker_at(&W, "w1", 8071, false, &err), -1);
    assert_int_equal(err.status, 500);
    fake_advance(&W.fe, FREQ);
    unsigned listed = (unsigned)n_workers_listed(&W), bad = W.ft.bad_sends;
    W.ft.refuse_added[0] = 0;
    memset(&err, 0, sizeof err);
    assert_int_equal(add_worker_at(&W, "w1", 8071, false, &err), 0); /* the transport accepts it now */
    unsigned added = W.ft.added;
    W.ft.bad_sends = 0; /* world_end checks the rest */
    world_end(&W);
    print_message("refused worker: listed %u, sends without transport data %u, worker_added calls %u\n", listed, bad,
                  added);
    assert_int_equal(listed, 0);
    assert_int_equal(bad, 0);
    assert_int_equal(added, 1);
}

static void store_is_written_only_when_persisting(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.use_store = true;
    world_start(&W);
    struct ilu_error err = {0};
    assert_int_equal(add_worker_at(&W, "w1", 8071, true, &err), 0);
    assert_int_equal(W.st.workers, 1);
    assert_string_equal(W.st.last_worker, "w1");
    assert_string_equal(fake_json_str(W.st.last_worker_info, "name"), "w1");
    assert_string_equal(fake_json_str(W.st.last_worker_info, "host"), "10.0.0.7");
    assert_int_equal(fake_json_int(W.st.last_worker_info, "port"), 8071);
    assert_int_equal(fake_json_int(W.st.last_worker_info, "cpus"), 2);
    assert_int_equal(fake_json_int(W.st.last_worker_info, "memory_mb"), 2048);
    assert_int_equal(add_worker_at(&W, "w2", 8071, false, &err), 0);
    assert_int_equal(W.st.workers, 1);
    assert_int_equal(add_worker_at(&W, "w1", 8071, true, &err), 0); /* heartbeat: nothing new */
    assert_int_equal(W.st.workers, 1);
    ft_reply_to(&W.ft, STATUS, "w1", 0, NULL); /* gone from its old address... */
    ft_reply_to(&W.ft, STATUS, "w1", 0, NULL);
    assert_int_equal(add_worker_at(&W, "w1", 8072, true, &err), 0); /* ...moved: saved */
    assert_int_equal(W.st.workers, 2);
    assert_int_equal(fake_json_int(W.st.last_worker_info, "port"), 8072);

    /* stored once a worker accepted it */
    assert_int_equal(reg_fn_full(&W, "f", "/fn/img1", 128, 1, true, NULL, &err), 0);
    assert_int_equal(W.st.functions, 0);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    assert_int_equal(W.st.functions, 1);
    assert_string_equal(W.st.last_fqdn, "f-1");
    assert_string_equal(fake_json_str(W.st.last_registration, "image_name"), "/fn/img1");
    assert_int_equal(fake_json_int(W.st.last_registration, "memory"), 128);
    assert_int_equal(reg_fn_full(&W, "g", "/fn/img1", 128, 1, false, NULL, &err), 0);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    assert_int_equal(W.st.functions, 1);
    assert_int_equal(reg_fn_full(&W, "f", "/fn/img1", 128, 1, true, NULL, &err), 0); /* identical */
    assert_int_equal(W.st.functions, 1);
    assert_int_equal(reg_fn_full(&W, "f", "/fn/img1", 64, 1, true, NULL, &err), -1); /* conflict */
    assert_int_equal(W.st.functions, 1);

    /* the store fails after the workers accepted it: not kept, and done
     * says why (the store's own message) */
    W.st.fail = true;
    struct reg_rec rr = {0};
    memset(&err, 0, sizeof err);
    assert_int_equal(reg_fn_full(&W, "h", "/fn/img1", 128, 1, true, &rr, &err), 0);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    assert_int_equal(rr.calls, 1);
    assert_true(rr.not_kept);
    assert_non_null(strstr(rr.not_kept_msg, "h-1"));
    assert_non_null(strstr(rr.not_kept_msg, "disk full (fake)"));
    assert_int_equal(ctl_status(&W, "functions"), 2);
    size_t sends = W.ft.n;
    memset(&err, 0, sizeof err);
    assert_int_equal(add_worker_at(&W, "w3", 8071, true, &err), -1);
    assert_int_equal(err.status, 500);
    assert_int_equal(n_workers_listed(&W), 2);
    assert_int_equal(W.ft.n, sends);
    /* not persisting does not touch the failing store */
    assert_int_equal(reg_fn_full(&W, "k", "/fn/img1", 128, 1, false, NULL, &err), 0);
    assert_int_equal(add_worker_at(&W, "w4", 8071, false, &err), 0);
    world_end(&W);

    /* no store at all: persist is a no-op */
    world_init(&W, "CH-BL");
    world_start(&W);
    assert_int_equal(add_worker_at(&W, "w1", 8071, true, &err), 0);
    assert_int_equal(reg_fn_full(&W, "f", "/fn/img1", 128, 1, true, NULL, &err), 0);
    assert_int_equal(W.st.workers + W.st.functions, 0);
    world_end(&W);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(worker_registered_later_gets_every_function),
        cmocka_unit_test(worker_moving_to_a_new_address_gets_every_function_and_is_polled_again),
        cmocka_unit_test(worker_restarted_with_a_new_boot_id_gets_every_function_again),
        cmocka_unit_test(live_worker_name_cannot_be_taken_by_another_address),
        cmocka_unit_test(worker_refused_by_the_transport_is_not_kept),
        cmocka_unit_test(store_is_written_only_when_persisting),
    };
    return cmocka_run_group_tests_name("controller_workers", tests, NULL, NULL);
}
