/* The controller and compute (docs/gpu.md, docs/controller.md): the syntax
 * is checked with the workers' rules, the body is kept and forwarded as
 * sent, and a second registration is compared by meaning ("gpu|cpu" is
 * "CPU|GPU", none is CPU). Workers say how many GPUs they have when they
 * join (gpus, 0 when they do not say): a GPU-only function is registered
 * on and routed to workers with GPUs only, under every balancer; CPU and
 * CPU|GPU functions go anywhere. */
#include "controller_fixture.h"

#include "api/controller_codec.h"

static int register_with(struct world *W, const char *name, json_t *compute, struct ilu_error *err)
{
    json_t *r = json_pack("{s:s, s:s, s:s, s:i, s:i}", "function_name", name, "function_version", "1", "image_name",
                          "/fn/f", "memory", 128, "cpus", 1);
    if (compute)
        json_object_set_new(r, "compute", compute);
    int rc = ilu_controller_register_function(W->c, r, true, "t", NULL, NULL, err);
    json_decref(r);
    return rc;
}

static void compute_is_checked_kept_and_compared_by_meaning(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.use_store = true;
    world_start(&W);
    struct ilu_error err = {0};
    /* GPU is taken with no worker attached: workers with GPUs may join */
    assert_int_equal(register_with(&W, "g", json_string("GPU"), &err), 0);
    assert_string_equal(fake_json_str(W.st.last_registration, "compute"), "GPU");
    assert_int_equal(register_with(&W, "p", json_string("gpu|cpu"), &err), 0);
    assert_string_equal(fake_json_str(W.st.last_registration, "compute"), "gpu|cpu"); /* forwarded as sent */
    assert_int_equal(register_with(&W, "c", NULL, &err), 0);

    /* the same by meaning: no conflict */
    assert_int_equal(register_with(&W, "p", json_string("CPU|GPU"), &err), 0);
    assert_int_equal(register_with(&W, "c", json_string("cpu"), &err), 0);
    /* another compute: 409 */
    assert_int_equal(register_with(&W, "g", json_string("CPU|GPU"), &err), -1);
    assert_int_equal(err.status, 409);
    assert_string_equal(err.msg, "function g-1 is already registered with a different compute");
    assert_int_equal(register_with(&W, "c", json_string("GPU"), &err), -1);
    assert_int_equal(err.status, 409);

    /* bad syntax: 400 naming the field, nothing kept */
    assert_int_equal(register_with(&W, "bad", json_string("FPGA"), &err), -1);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "field compute must be CPU, GPU or CPU|GPU"));
    assert_int_equal(register_with(&W, "bad", json_integer(2), &err), -1);
    assert_int_equal(err.status, 400);
    assert_int_equal(W.st.functions, 3);
    world_end(&W);
}

/* ---- workers with and without GPUs ------------------------------------------- */

static void add_gpu_worker(struct world *W, const char *name, uint32_t gpus)
{
    struct ilu_error err = {0};
    struct ilu_ctl_worker_info info = {
        .name = name, .host = "10.0.0.8", .port = 8071, .cpus = 2, .memory_mb = 2048, .gpus = gpus};
    if (ilu_controller_register_worker(W->c, &info, true, "tw", &err))
        fail_msg("register_worker %s: %s", name, err.msg);
    ft_reply_to(&W->ft, STATUS, name, 200, IDLE);
}

static int reg_compute(struct world *W, const char *name, const char *compute, struct reg_rec *rec,
                       struct ilu_error *err)
{
    json_t *r = registration(name, "/fn/f", 128, 1);
    if (compute)
        json_object_set_new(r, "compute", json_string(compute));
    int rc = ilu_controller_register_function(W->c, r, true, "tr", rec ? reg_done : NULL, rec, err);
    json_decref(r);
    return rc;
}

/* g1 (1 GPU), c1, g2 (2 GPUs), c2: healthy. */
static void mixed_world(struct world *W, const char *algorithm)
{
    world_init(W, algorithm);
    W->use_store = true;
    world_start(W);
    add_gpu_worker(W, "g1", 1);
    add_gpu_worker(W, "c1", 0);
    add_gpu_worker(W, "g2", 2);
    add_gpu_worker(W, "c2", 0);
}

/* The worker each of n invocations of name went to, answered 200; counts
 * per worker of g1, c1, g2, c2 into got. */
static void invoke_n(struct world *W, const char *name, int n, unsigned got[4])
{
    static const char *const names[] = {"g1", "c1", "g2", "c2"};
    for (int k = 0; k < n; k++) {
        struct inv_rec ir = {0};
        struct ilu_error err = {0};
        if (invoke(W, name, &ir, &err))
            fail_msg("invoke %s: %s", name, err.msg);
        long i = ft_last(&W->ft, INV, NULL);
        assert_true(i >= 0);
        for (int w = 0; w < 4; w++)
            got[w] += !strcmp(W->ft.sends[i].worker, names[w]);
        ft_reply(&W->ft, i, 200, "{\"success\":true}");
        assert_int_equal(ir.status, 200);
        inv_clear(&ir);
    }
}

static void gpu_functions_are_registered_on_gpu_workers_only(void **state)
{
    (void)state;
    struct world W;
    mixed_world(&W, "CH-BL");
    struct reg_rec g = {0}, p = {0}, c = {0};
    struct ilu_error err = {0};
    assert_int_equal(reg_compute(&W, "g", "GPU", &g, &err), 0);
    assert_int_equal(reg_compute(&W, "p", "CPU|GPU", &p, &err), 0);
    assert_int_equal(reg_compute(&W, "c", NULL, &c, &err), 0);
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    assert_string_equal(registered_on(&W, "g1"), "g,p,c");
    assert_string_equal(registered_on(&W, "g2"), "g,p,c");
    assert_string_equal(registered_on(&W, "c1"), "p,c"); /* never the GPU-only one: it would refuse it */
    assert_string_equal(registered_on(&W, "c2"), "p,c");
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.accepted, 2);
    assert_int_equal(g.refused, 0);
    assert_int_equal(p.accepted, 4);
    assert_int_equal(c.accepted, 4);
    assert_int_equal(ilu_controller_gpu_workers(W.c), 2);
    /* the same again: nothing sent, answered with the workers it runs on */
    struct reg_rec again = {0};
    assert_int_equal(reg_compute(&W, "g", "gpu", &again, &err), 0);
    assert_int_equal(again.accepted, 2);

    /* a worker without GPUs that restarts (new boot id) gets p and c back, not g */
    struct ilu_ctl_worker_info info = {
        .name = "c1", .host = "10.0.0.8", .port = 8071, .cpus = 2, .memory_mb = 2048, .boot_id = "b2"};
    assert_int_equal(ilu_controller_register_worker(W.c, &info, true, "tw", &err), 0);
    assert_string_equal(registered_on(&W, "c1"), "p,c,p,c");
    world_end(&W);
}

/* Every balancer: GPU-only invocations land on g1 and g2 only, CPU and
 * CPU|GPU ones anywhere; a worker without GPUs never sees a GPU one. */
static void gpu_invocations_land_on_gpu_workers_under_every_policy(void **state)
{
    (void)state;
    static const char *const algorithms[] = {"RoundRobin", "LeastLoaded", "CH-BL"};
    for (size_t a = 0; a < 3; a++) {
        struct world W;
        mixed_world(&W, algorithms[a]);
        struct ilu_error err = {0};
        assert_int_equal(reg_compute(&W, "g", "GPU", NULL, &err), 0);
        assert_int_equal(reg_compute(&W, "p", "CPU|GPU", NULL, &err), 0);
        ft_reply_all(&W.ft, REG, NULL, 200, "{}");
        for (int f = 0; f < 8; f++) { /* CPU functions, several so that CH-BL spreads them */
            char name[16];
            snprintf(name, sizeof name, "c%d", f);
            assert_int_equal(reg_compute(&W, name, NULL, NULL, &err), 0);
        }
        ft_reply_all(&W.ft, REG, NULL, 200, "{}");
        unsigned g[4] = {0}, cpu[4] = {0};
        invoke_n(&W, "g", 40, g);
        assert_int_equal(g[1] + g[3], 0);
        assert_int_equal(g[0] + g[2], 40);
        for (int f = 0; f < 8; f++) {
            char name[16];
            snprintf(name, sizeof name, "c%d", f);
            invoke_n(&W, name, 5, cpu);
            invoke_n(&W, "p", 5, cpu);
        }
        for (int w = 0; w < 4; w++)
            assert_true(cpu[w] > 0); /* CPU and CPU|GPU functions use every worker */
        /* a GPU-only invocation never reached a worker without GPUs */
        for (size_t i = 0; i < W.ft.n; i++)
            if (W.ft.sends[i].call == INV && W.ft.sends[i].worker[0] == 'c')
                assert_string_not_equal(body_fn(&W, (long)i), "g");
        world_end(&W);
    }
}

/* No worker with GPUs: the registration is kept (workers with GPUs may
 * join later, as with no worker at all), nothing is sent, and invocations
 * answer 503 saying why; sync, async and prewarm alike. */
static void gpu_function_without_gpu_workers_is_kept_and_answers_503(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "RoundRobin");
    W.use_store = true;
    world_start(&W);
    add_gpu_worker(&W, "c1", 0);
    add_gpu_worker(&W, "c2", 0);
    struct reg_rec g = {0};
    struct ilu_error err = {0};
    assert_int_equal(reg_compute(&W, "g", "GPU", &g, &err), 0);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.accepted + g.refused, 0);
    assert_false(g.not_kept);
    assert_int_equal(ft_count(&W.ft, REG, NULL), 0);
    assert_int_equal(W.st.functions, 1);
    assert_int_equal(ilu_controller_gpu_workers(W.c), 0);
    assert_true(fake_log_has(&W.fe, "needs GPUs and none of the 2 workers has any"));

    struct inv_rec ir = {0};
    assert_int_equal(invoke(&W, "g", &ir, &err), -1);
    assert_int_equal(err.status, 503);
    assert_string_equal(err.kind, "no_worker");
    assert_string_equal(err.msg, "no healthy worker with GPUs to run g-1 (compute GPU runs only on workers with "
                                 "container_resources.gpu_resource.count > 0): 2 of 2 workers healthy, 0 with GPUs");
    assert_null(invoke_async(&W, "g", &err));
    assert_int_equal(err.status, 503);
    assert_non_null(strstr(err.msg, "no healthy worker with GPUs"));
    json_t *b = invoke_body("g");
    assert_int_equal(ilu_controller_prewarm(W.c, b, (struct ilu_ctl_text){0}, "t-p", inv_done, &ir, &err), -1);
    json_decref(b);
    assert_int_equal(err.status, 503);
    assert_int_equal(ctl_status(&W, "no_worker"), 3);
    assert_int_equal(ft_count(&W.ft, INV, NULL) + ft_count(&W.ft, PREWARM, NULL), 0);

    /* a worker with GPUs joins later: it gets g, and g runs there */
    add_gpu_worker(&W, "g1", 1);
    assert_string_equal(registered_on(&W, "g1"), "g");
    ft_reply_all(&W.ft, REG, NULL, 200, "{}");
    for (int k = 0; k < 3; k++) {
        assert_int_equal(invoke(&W, "g", &ir, &err), 0);
        ft_reply_to(&W.ft, INV, "g1", 200, "{\"success\":true}");
        assert_int_equal(ir.status, 200);
        assert_string_equal(fake_json_str(ir.answer, "worker"), "g1");
        inv_clear(&ir);
    }
    /* and when it is down, the others are healthy but cannot take g */
    ft_reply_all(&W.ft, STATUS, NULL, 200, IDLE);
    fake_advance(&W.fe, FREQ);
    ft_reply_to(&W.ft, STATUS, "g1", 0, NULL);
    ft_reply_to(&W.ft, STATUS, "g1", 0, NULL);
    assert_string_equal(health(&W, "g1"), "UNHEALTHY");
    assert_int_equal(invoke(&W, "g", &ir, &err), -1);
    assert_int_equal(err.status, 503);
    assert_non_null(strstr(err.msg, "2 of 3 workers healthy, 1 with GPUs"));
    world_end(&W);
}

/* A worker's GPUs: listed, stored, updated by a heartbeat that says
 * otherwise (it then gets the GPU functions); no field: none. */
static void worker_gpus_are_listed_stored_and_updated(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.use_store = true;
    world_start(&W);
    struct ilu_error err = {0};
    assert_int_equal(reg_compute(&W, "g", "GPU", NULL, &err), 0);
    add_gpu_worker(&W, "g1", 4);
    assert_int_equal(worker_int(&W, "g1", "gpus"), 4);
    assert_int_equal(fake_json_int(W.st.last_worker_info, "gpus"), 4);
    add_gpu_worker(&W, "w", 0);
    assert_int_equal(worker_int(&W, "w", "gpus"), 0);
    assert_int_equal(fake_json_int(W.st.last_worker_info, "gpus"), 0);
    assert_string_equal(registered_on(&W, "w"), "");
    unsigned saves = W.st.workers;
    /* a heartbeat with the same figures writes nothing */
    struct ilu_ctl_worker_info info = {.name = "w", .host = "10.0.0.8", .port = 8071, .cpus = 2, .memory_mb = 2048};
    assert_int_equal(ilu_controller_register_worker(W.c, &info, true, "tw", &err), 0);
    assert_int_equal(W.st.workers, saves);
    /* the same address now with GPUs (an old worker without boot ids,
     * restarted with another config): stored, and it gets g */
    info.gpus = 2;
    assert_int_equal(ilu_controller_register_worker(W.c, &info, true, "tw", &err), 0);
    assert_int_equal(W.st.workers, saves + 1);
    assert_int_equal(fake_json_int(W.st.last_worker_info, "gpus"), 2);
    assert_int_equal(worker_int(&W, "w", "gpus"), 2);
    assert_string_equal(registered_on(&W, "w"), "g");
    assert_int_equal(ilu_controller_gpu_workers(W.c), 2);
    world_end(&W);
}

/* /register_worker's gpus: a JSON integer, 0 when absent. */
static void register_worker_body_carries_gpus(void **state)
{
    (void)state;
    struct ilu_ctl_worker_info info;
    struct ilu_error err = {0};
    json_t *b = json_pack("{s:s, s:s, s:i, s:i}", "name", "w", "host", "h", "port", 1, "gpus", 3);
    assert_int_equal(ilu_api_ctl_worker_decode(b, &info, &err), 0);
    assert_int_equal(info.gpus, 3);
    json_object_del(b, "gpus"); /* an older worker */
    assert_int_equal(ilu_api_ctl_worker_decode(b, &info, &err), 0);
    assert_int_equal(info.gpus, 0);
    json_object_set_new(b, "gpus", json_string("3"));
    assert_int_equal(ilu_api_ctl_worker_decode(b, &info, &err), -1);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "gpus"));
    json_object_set_new(b, "gpus", json_integer(-1));
    assert_int_equal(ilu_api_ctl_worker_decode(b, &info, &err), -1);
    assert_int_equal(err.status, 400);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compute_is_checked_kept_and_compared_by_meaning),
        cmocka_unit_test(gpu_functions_are_registered_on_gpu_workers_only),
        cmocka_unit_test(gpu_invocations_land_on_gpu_workers_under_every_policy),
        cmocka_unit_test(gpu_function_without_gpu_workers_is_kept_and_answers_503),
        cmocka_unit_test(worker_gpus_are_listed_stored_and_updated),
        cmocka_unit_test(register_worker_body_carries_gpus),
    };
    return cmocka_run_group_tests_name("controller_compute", tests, NULL, NULL);
}
