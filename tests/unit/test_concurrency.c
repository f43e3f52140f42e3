/* Concurrency policies through the real worker core and the fake backend:
 * the mqfq queue policy, the bypass, dynamic concurrency; and their config
 * keys. Times are exact (virtual clock). Fake timings unless set: cold start
 * 50 ms, execution 10 ms; the clock starts at T0 = 1 s. */
#include "fake.h"

#include "core/config.h"

#define T0 (1 * SEC)

static void mqfq_world(struct fake_world *fw, uint32_t cpus, double overrun, double service, double ttl)
{
    fake_world_init(fw, T0);
    fw->cfg.container_resources.cpu_count = cpus;
    snprintf(fw->cfg.invocation.queue_policy, sizeof fw->cfg.invocation.queue_policy, "mqfq");
    fw->cfg.invocation.mqfq.allowed_overrun = overrun;
    fw->cfg.invocation.mqfq.service_average = service;
    fw->cfg.invocation.mqfq.ttl_sec = ttl;
    fw->cfg.invocation.mqfq.work_conserving = false; /* Ilúvatar's rule; the default is tested apart */
}

/* ---- mqfq ------------------------------------------------------------------ */

/* Starts the worker with L (1 s long) and B, then invokes L once and B ten
 * times, all at the current time. */
static struct ilu_worker *start_l_and_ten_b(struct fake_world *fw, struct fake_result *l, struct fake_result b[10])
{
    fake_fn(&fw->be, "L-1")->exec_us = 1000 * MS;
    struct ilu_worker *w = fake_world_start_with(fw, "L", 128);
    fake_register(w, "B", 128);
    fake_invoke_ok(w, &fw->env, "L", "l", l);
    for (int i = 0; i < 10; i++)
        fake_invoke_ok(w, &fw->env, "B", "b", &b[i]);
    return w;
}

/* Every invocation of start_l_and_ten_b succeeded; frees their results. */
static void expect_l_and_ten_b_succeeded(struct fake_result *l, struct fake_result b[10])
{
    for (int i = 0; i < 10; i++)
        assert_true(b[i].success), fake_result_clear(&b[i]);
    assert_true(l->success);
    fake_result_clear(l);
}

/* One CPU, every invocation 1 s of virtual service. A floods 20 at T0 (tags
 * 0..19); B's 2 arrive 5 ms later, while A0 runs, with V = 0: tags 0 and 1.
 * Order: A0, B0 (0), A1 (1, ties go to the older flow), B1 (1), A2...A19.
 * Under fcfs B would wait for all of A. */
static void mqfq_interleaves_a_flood_fairly(void **state)
{
    (void)state;
    struct fake_world fw;
    mqfq_world(&fw, 1, 10.0, 1.0, 2.0);
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    fake_register(w, "B", 128);
    struct fake_result a[20] = {0}, b[2] = {0};
    for (int i = 0; i < 20; i++)
        fake_invoke_ok(w, &fw.env, "A", "a", &a[i]);
    fake_advance(&fw.env, 5 * MS);
    fake_invoke_ok(w, &fw.env, "B", "b0", &b[0]);
    fake_invoke_settled(&fw, "B", "b1", &b[1]);
    assert_int_equal(a[0].done_at, T0 + 60 * MS);  /* cold */
    assert_int_equal(b[0].done_at, T0 + 120 * MS); /* cold, right after A0 */
    assert_int_equal(a[1].done_at, T0 + 130 * MS);
    assert_int_equal(b[1].done_at, T0 + 140 * MS);
    for (int i = 2; i < 20; i++)
        assert_int_equal(a[i].done_at, T0 + 140 * MS + (uint64_t)(i - 1) * 10 * MS);
    for (int i = 0; i < 20; i++)
        assert_true(a[i].success), fake_result_clear(&a[i]);
    for (int i = 0; i < 2; i++)
        assert_true(b[i].success), fake_result_clear(&b[i]);
    fake_world_end(&fw);
}

/* Two CPUs, 1 s of service each, overrun 2 s. L (1 s long) and B's ten run
 * side by side; V stays at L0's tag 0 while L0 runs, so B may only reach
 * tag 2: B0, B1, B2 run, then B3 (tag 3) is throttled although a CPU is free,
 * until L0 finishes and V moves to 3. */
static void mqfq_throttles_a_flow_beyond_the_overrun(void **state)
{
    (void)state;
    struct fake_world fw;
    mqfq_world(&fw, 2, 2.0, 1.0, 2.0);
    struct fake_result l = {0}, b[10] = {0};
    struct ilu_worker *w = start_l_and_ten_b(&fw, &l, b);
    fake_run_until(&fw.env, T0 + 500 * MS);
    assert_int_equal(b[2].done_at, T0 + 80 * MS);
    assert_int_equal(b[3].calls, 0);
    assert_int_equal(fake_status(w, "cpu_queue_len"), 7);
    assert_int_equal(fake_status(w, "cpus_in_use"), 1); /* a free CPU, held back */
    fake_settle(&fw.env, w);
    assert_int_equal(l.done_at, T0 + 1050 * MS);
    assert_int_equal(b[3].done_at, T0 + 1060 * MS); /* right after V moved */
    expect_l_and_ten_b_succeeded(&l, b);
    fake_world_end(&fw);
}

/* The flood of the test above with the default, work-conserving rule: B3
 * is past the overrun, but a CPU is free, so it runs at once. */
static void mqfq_work_conserving_serves_a_free_cpu(void **state)
{
    (void)state;
    struct fake_world fw;
    mqfq_world(&fw, 2, 2.0, 1.0, 2.0);
    fw.cfg.invocation.mqfq.work_conserving = true;
    struct fake_result l = {0}, b[10] = {0};
    struct ilu_worker *w = start_l_and_ten_b(&fw, &l, b);
    fake_run_until(&fw.env, T0 + 500 * MS);
    assert_int_equal(b[3].done_at, T0 + 90 * MS);
    assert_int_equal(fake_status(w, "cpu_queue_len"), 0);
    fake_settle(&fw.env, w);
    expect_l_and_ten_b_succeeded(&l, b);
    fake_world_end(&fw);
}

/* The same flood with a huge overrun: nothing is throttled, B3 runs long
 * before L0 ends (the control for the test above). */
static void mqfq_without_throttling_uses_the_free_cpu(void **state)
{
    (void)state;
    struct fake_world fw;
    mqfq_world(&fw, 2, 100.0, 1.0, 2.0);
    struct fake_result l = {0}, b[10] = {0};
    struct ilu_worker *w = start_l_and_ten_b(&fw, &l, b);
    fake_settle(&fw.env, w);
    assert_int_equal(b[3].done_at, T0 + 90 * MS);
    assert_int_equal(b[9].done_at, T0 + 150 * MS);
    expect_l_and_ten_b_succeeded(&l, b);
    fake_world_end(&fw);
}

/* Two CPUs, TTL 1 s. L0 (5 s) holds V at 0; A runs three (tags 0, 1, 2:
 * F_A = 3) and goes idle at T0 + 80 ms. Then, at `back`, A and a new flow
 * B arrive together on the one free CPU. Within the TTL A is remembered:
 * its tag is F_A = 3 and B (tag 0) goes first. Past it A is forgotten and
 * starts at V = 0 too: a tie, which the older flow (A, re-created first)
 * wins. Returns 1 when A ran before B. */
static int mqfq_ttl_scenario(uint64_t back)
{
    struct fake_world fw;
    mqfq_world(&fw, 2, 10.0, 1.0, 1.0);
    fake_fn(&fw.be, "L-1")->exec_us = 5000 * MS;
    struct ilu_worker *w = fake_world_start_with(&fw, "L", 128);
    fake_register(w, "A", 128);
    fake_register(w, "B", 128);
    struct fake_result l = {0}, a[4] = {0}, b = {0};
    fake_invoke_ok(w, &fw.env, "L", "l", &l);
    for (int i = 0; i < 3; i++)
        fake_invoke_ok(w, &fw.env, "A", "a", &a[i]);
    fake_run_until(&fw.env, back);
    assert_int_equal(a[2].done_at, T0 + 80 * MS);
    assert_int_equal(l.calls, 0);
    fake_invoke_ok(w, &fw.env, "A", "a3", &a[3]);
    fake_invoke_settled(&fw, "B", "b", &b);
    assert_true(a[3].success && b.success);
    int a_first = a[3].done_at < b.done_at;
    assert_int_equal(a_first ? a[3].done_at : b.done_at, a_first ? back + 10 * MS : back + 60 * MS);
    for (int i = 0; i < 4; i++)
        fake_result_clear(&a[i]);
    fake_result_clear(&b);
    fake_result_clear(&l);
    fake_world_end(&fw);
    return a_first;
}

static void mqfq_remembers_an_idle_flow_within_its_ttl(void **state)
{
    (void)state;
    assert_int_equal(mqfq_ttl_scenario(T0 + 500 * MS), 0);
}

static void mqfq_forgets_an_idle_flow_after_its_ttl(void **state)
{
    (void)state;
    assert_int_equal(mqfq_ttl_scenario(T0 + 2000 * MS), 1);
}

/* Strict fairness (overrun 0), three flows, arrivals spread out, one queued
 * invocation timing out: everything still completes and nothing leaks. */
static void mqfq_never_starves(void **state)
{
    (void)state;
    struct fake_world fw;
    mqfq_world(&fw, 3, 0.0, 0.0, 0.5);
    fw.cfg.limits.timeout_sec = 2;
    fake_fn(&fw.be, "B-1")->exec_us = 30 * MS;
    fake_fn(&fw.be, "C-1")->exec_us = 3000 * MS; /* C1 times out queued behind C0 */
    struct ilu_worker *w = fake_world_start(&fw);
    const char *names[] = {"A", "B", "C"};
    for (int i = 0; i < 3; i++)
        fake_register(w, names[i], 100);
    struct fake_result r[3][8] = {{{0}}};
    for (int k = 0; k < 8; k++) {
        for (int i = 0; i < 3; i++)
            if (i < 2 || k < 2)
                fake_invoke_ok(w, &fw.env, names[i], "x", &r[i][k]);
        fake_advance(&fw.env, 7 * MS);
    }
    fake_settle(&fw.env, w);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 8; k++)
            assert_int_equal(r[i][k].calls, 1), assert_true(r[i][k].success);
    assert_int_equal(r[2][0].http_status, 504); /* 3 s > limits.timeout_sec */
    assert_int_equal(r[2][1].calls, 1);
    assert_int_equal(fake_status(w, "cpu_queue_len"), 0);
    assert_int_equal(fake_status(w, "cpus_in_use"), 0);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 8; k++)
            fake_result_clear(&r[i][k]);
    fake_world_end(&fw);
}

/* ---- the bypass -------------------------------------------------------------- */

/* One CPU, bypass under 100 ms. S (10 ms) is warmed; L (1 s) holds the CPU;
 * S's next invocation runs at once on its warm container. */
static void bypass_runs_a_short_warm_function_at_once(void **state)
{
    (void)state;
    struct fake_world fw;
    fake_world_init(&fw, T0);
    fw.cfg.invocation.bypass_duration_ms = 100;
    fake_fn(&fw.be, "L-1")->exec_us = 1000 * MS;
    struct ilu_worker *w = fake_world_start_with(&fw, "S", 128);
    fake_register(w, "L", 128);
    struct fake_result s0 = {0}, s1 = {0}, l = {0};
    fake_invoke_ok(w, &fw.env, "S", "s0", &s0); /* no average yet: queued, cold */
    fake_settle(&fw.env, w);
    assert_int_equal(fake_status(w, "bypassed"), 0);
    uint64_t t1 = fake_now(&fw.env);
    fake_invoke_ok(w, &fw.env, "L", "l", &l);
    fake_advance(&fw.env, 100 * MS);
    assert_int_equal(fake_status(w, "cpus_in_use"), 1);
    fake_invoke_ok(w, &fw.env, "S", "s1", &s1);
    assert_int_equal(s1.calls, 0); /* done is never called from inside invoke */
    assert_int_equal(fake_status(w, "bypassed"), 1);
    assert_int_equal(fake_status(w, "num_running_funcs"), 2);
    assert_int_equal(fake_status(w, "cpus_in_use"), 1); /* outside the limit */
    fake_settle(&fw.env, w);
    assert_int_equal(s1.done_at, t1 + 110 * MS);
    assert_int_equal(s1.kind, ILU_START_WARM);
    assert_string_equal(s1.container_id, s0.container_id);
    assert_int_equal(l.done_at, t1 + 1050 * MS);
    assert_int_equal(fake_status(w, "num_running_funcs"), 0);
    fake_result_clear(&s0);
    fake_result_clear(&s1);
    fake_result_clear(&l);
    fake_world_end(&fw);
}

/* S's only warm container is busy (the first S took it by the bypass): the
 * second S queues and waits for the CPU like any other. L is long (1 s
 * average, over the bound) and is never bypassed even with a warm container. */
static void bypass_queues_without_a_free_warm_container(void **state)
{
    (void)state;
    struct fake_world fw;
    fake_world_init(&fw, T0);
    fw.cfg.invocation.bypass_duration_ms = 100;
    fake_fn(&fw.be, "L-1")->exec_us = 1000 * MS;
    struct ilu_worker *w = fake_world_start_with(&fw, "S", 128);
    fake_register(w, "L", 128);
    struct fake_result s[3] = {0}, l[2] = {0};
    fake_invoke_ok(w, &fw.env, "S", "s0", &s[0]);
    fake_invoke_ok(w, &fw.env, "L", "l0", &l[0]);
    fake_settle(&fw.env, w); /* both warm, averages known */
    uint64_t t1 = fake_now(&fw.env);
    fake_invoke_ok(w, &fw.env, "L", "l1", &l[1]); /* takes the CPU */
    fake_advance(&fw.env, 1 * MS);
    fake_invoke_ok(w, &fw.env, "S", "s1", &s[1]); /* bypass */
    fake_invoke_ok(w, &fw.env, "S", "s2", &s[2]); /* no warm S free: queued */
    assert_int_equal(fake_status(w, "bypassed"), 1);
    assert_int_equal(fake_status(w, "cpu_queue_len"), 1);
    fake_settle(&fw.env, w);
    assert_int_equal(l[1].done_at, t1 + 1000 * MS);
    assert_int_equal(s[1].done_at, t1 + 11 * MS);
    assert_int_equal(s[2].done_at, t1 + 1010 * MS);
    assert_int_equal(fake_status(w, "bypassed"), 1);
    for (int i = 0; i < 3; i++)
        fake_result_clear(&s[i]);
    fake_result_clear(&l[0]);
    fake_result_clear(&l[1]);
    fake_world_end(&fw);
}

static void bypass_is_off_by_default(void **state)
{
    (void)state;
    struct fake_world fw;
    fake_world_init(&fw, T0);
    fake_fn(&fw.be, "L-1")->exec_us = 1000 * MS;
    struct ilu_worker *w = fake_world_start_with(&fw, "S", 128);
    fake_register(w, "L", 128);
    struct fake_result s0 = {0}, s1 = {0}, l = {0};
    fake_invoke_settled(&fw, "S", "s0", &s0);
    uint64_t t1 = fake_now(&fw.env);
    fake_invoke_ok(w, &fw.env, "L", "l", &l);
    fake_advance(&fw.env, 1 * MS);
    fake_invoke_settled(&fw, "S", "s1", &s1);
    assert_int_equal(s1.done_at, t1 + 1060 * MS); /* after L */
    assert_int_equal(fake_status(w, "bypassed"), 0);
    fake_result_clear(&s0);
    fake_result_clear(&s1);
    fake_result_clear(&l);
    fake_world_end(&fw);
}

/* ---- dynamic concurrency ------------------------------------------------------- */

static void dynamic_concurrency_grows_under_the_load_bound(void **state)
{
    (void)state;
    struct fake_world fw;
    fake_world_init(&fw, T0);
    fw.cfg.container_resources.cpu_count = 1;
    fw.cfg.container_resources.concurrency_update_check_ms = 100;
    fw.cfg.container_resources.max_oversubscribe = 3;
    fw.cfg.container_resources.max_load = 1.0;
    struct ilu_worker *w = fake_world_start(&fw);
    assert_int_equal(fake_status(w, "cpu_limit"), 1);
    fake_run_until(&fw.env, T0 + 100 * MS);
    assert_int_equal(fake_status(w, "cpu_limit"), 2);
    fake_run_until(&fw.env, T0 + 200 * MS);
    assert_int_equal(fake_status(w, "cpu_limit"), 3);
    fake_run_until(&fw.env, T0 + 500 * MS);
    assert_int_equal(fake_status(w, "cpu_limit"), 3); /* max_oversubscribe */
    fake_world_end(&fw);
}

/* cpu_count 2, up to 6. Idle, the limit reaches 6 by T0 + 400 ms; six 10 s
 * invocations then hold 6 CPUs: load 3 > 1, and each check takes half the
 * excess over 2, rounded up: 6 -> 4 -> 3 -> 2, then stays. */
static void dynamic_concurrency_halves_the_excess_over_the_load_bound(void **state)
{
    (void)state;
    struct fake_world fw;
    fake_world_init(&fw, T0);
    fw.cfg.container_resources.cpu_count = 2;
    fw.cfg.container_resources.concurrency_update_check_ms = 100;
    fw.cfg.container_resources.max_oversubscribe = 6;
    fw.cfg.container_resources.max_load = 1.0;
    fake_fn(&fw.be, "L-1")->exec_us = 10 * SEC;
    struct ilu_worker *w = fake_world_start_with(&fw, "L", 128);
    fake_run_until(&fw.env, T0 + 400 * MS);
    assert_int_equal(fake_status(w, "cpu_limit"), 6);
    struct fake_result r[7] = {0};
    for (int i = 0; i < 7; i++)
        fake_invoke_ok(w, &fw.env, "L", "l", &r[i]);
    fake_advance(&fw.env, 1 * MS);
    assert_int_equal(fake_status(w, "cpus_in_use"), 6);
    assert_int_equal(fake_status(w, "cpu_queue_len"), 1);
    const long long expect[] = {4, 3, 2, 2};
    for (int k = 0; k < 4; k++) {
        fake_run_until(&fw.env, T0 + (500 + 100 * (uint64_t)k) * MS);
        assert_int_equal(fake_status(w, "cpu_limit"), expect[k]);
    }
    assert_int_equal(fake_status(w, "cpus_in_use"), 6); /* nothing running was stopped */
    fake_settle(&fw.env, w);
    for (int i = 0; i < 7; i++)
        assert_true(r[i].success), fake_result_clear(&r[i]);
    fake_world_end(&fw);
}

/* ---- config ------------------------------------------------------------------------ */

static void config_keys_parse_and_bad_values_name_the_key(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    struct ilu_error err = {0};
    ilu_config_defaults(&cfg);
    assert_int_equal(cfg.invocation.bypass_duration_ms, 0);
    assert_true(cfg.invocation.mqfq.allowed_overrun == 10.0 && cfg.invocation.mqfq.ttl_sec == 2.0);
    assert_int_equal(cfg.container_resources.concurrency_update_check_ms, 0);
    const char *json = "{\"invocation\": {\"queue_policy\": \"mqfq\", \"bypass_duration_ms\": 20, \"mqfq_config\": "
                       "{\"allowed_overrun\": 2.5, \"service_average\": 0, \"ttl_sec\": -1.5}}, "
                       "\"container_resources\": {\"cpu_count\": 2, \"concurrency_update_check_ms\": 1000, "
                       "\"max_oversubscribe\": 4, \"max_load\": 1.5}}";
    assert_int_equal(ilu_config_apply_json(&cfg, json, "test", &err), 0);
    assert_int_equal(ilu_config_validate(&cfg, &err), 0);
    assert_int_equal(cfg.invocation.bypass_duration_ms, 20);
    assert_true(cfg.invocation.mqfq.allowed_overrun == 2.5 && cfg.invocation.mqfq.ttl_sec == -1.5);
    assert_true(cfg.container_resources.max_load == 1.5);
    char *envp[] = {"ILUVATAR_WORKER__invocation__mqfq_config__allowed_overrun=0.25", NULL};
    assert_int_equal(ilu_config_apply_env(&cfg, "ILUVATAR_WORKER", envp, &err), 0);
    assert_true(cfg.invocation.mqfq.allowed_overrun == 0.25);

    assert_int_equal(
        ilu_config_apply_json(&cfg, "{\"invocation\": {\"mqfq_config\": {\"ttl_sec\": \"x\"}}}", "test", &err), -1);
    assert_non_null(strstr(err.msg, "invocation.mqfq_config.ttl_sec must be a number"));

    struct ilu_worker_config bad = cfg;
    bad.invocation.mqfq.allowed_overrun = -1;
    assert_int_equal(ilu_config_validate(&bad, &err), -1);
    assert_non_null(strstr(err.msg, "invocation.mqfq_config.allowed_overrun"));
    bad = cfg;
    bad.container_resources.max_oversubscribe = 1;
    assert_int_equal(ilu_config_validate(&bad, &err), -1);
    assert_non_null(strstr(err.msg, "container_resources.max_oversubscribe"));
    bad = cfg;
    bad.container_resources.max_load = 0;
    assert_int_equal(ilu_config_validate(&bad, &err), -1);
    assert_non_null(strstr(err.msg, "container_resources.max_load"));
    bad.container_resources.concurrency_update_check_ms = 0; /* off: not checked */
    assert_int_equal(ilu_config_validate(&bad, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mqfq_interleaves_a_flood_fairly),
        cmocka_unit_test(mqfq_throttles_a_flow_beyond_the_overrun),
        cmocka_unit_test(mqfq_without_throttling_uses_the_free_cpu),
        cmocka_unit_test(mqfq_work_conserving_serves_a_free_cpu),
        cmocka_unit_test(mqfq_remembers_an_idle_flow_within_its_ttl),
        cmocka_unit_test(mqfq_forgets_an_idle_flow_after_its_ttl),
        cmocka_unit_test(mqfq_never_starves),
        cmocka_unit_test(bypass_runs_a_short_warm_function_at_once),
        cmocka_unit_test(bypass_queues_without_a_free_warm_container),
        cmocka_unit_test(bypass_is_off_by_default),
        cmocka_unit_test(dynamic_concurrency_grows_under_the_load_bound),
        cmocka_unit_test(dynamic_concurrency_halves_the_excess_over_the_load_bound),
        cmocka_unit_test(config_keys_parse_and_bad_values_name_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
