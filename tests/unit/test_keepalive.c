/* Keep-alive policies (TTL, LFU, GreedyDual) driven through the real worker
 * core by the fake env and backend: every time and priority below is exact
 * because the clock is virtual. Default fake timings: cold start 50 ms,
 * execution 10 ms; the clock starts at T0 = 1 s and the pool ticks every
 * pool_freq_ms from T0. keepalive_sec is 0 (no cap) unless a test says
 * otherwise, so only the policy removes containers. */
#include "fake.h"

#include "core/policy_registry.h"

#define T0   (1 * SEC)
#define COLD (50 * MS)
#define EXEC (10 * MS)

static void start(struct fake_world *fw, const char *policy, uint32_t pool_mb)
{
    fake_world_init(fw, T0);
    snprintf(fw->cfg.container_resources.eviction, sizeof fw->cfg.container_resources.eviction, "%s", policy);
    fw->cfg.container_resources.keepalive_sec = 0;
    fw->cfg.container_resources.memory_mb = pool_mb;
}

/* Invoke name once and run it to completion; checks success and that memory
 * stays within the pool, as the worker and as the backend see it. */
static enum ilu_start_kind run_one(struct fake_world *fw, const char *name)
{
    struct fake_result r = {0};
    fake_invoke_settled(fw, name, "t", &r);
    assert_int_equal(r.calls, 1);
    assert_true(r.success);
    assert_true(fake_status(fw->w, "used_mem_mb") <= fw->cfg.container_resources.memory_mb);
    assert_true(fake_live_mem(&fw->be) <= fw->cfg.container_resources.memory_mb);
    enum ilu_start_kind kind = r.kind;
    fake_result_clear(&r);
    return kind;
}

static bool live(struct fake_world *fw, const char *fqdn)
{
    return fake_live_ct(&fw->be, fqdn) != NULL;
}

/* Starts the worker with one function per letter of names ("ABC": A, B and
 * C), each of memory_mb. */
static struct ilu_worker *start_with(struct fake_world *fw, const char *names, uint32_t memory_mb)
{
    struct ilu_worker *w = fake_world_start(fw);
    for (const char *p = names; *p; p++)
        fake_register(w, (char[]){*p, 0}, memory_mb);
    return w;
}

/* run_one for each letter of names, in order ("AAB": A twice, then B). */
static void run_each(struct fake_world *fw, const char *names)
{
    for (const char *p = names; *p; p++)
        run_one(fw, (char[]){*p, 0});
}

/* Each function named by a letter of alive has its first container live;
 * each one in gone has not. */
static void expect_live(struct fake_world *fw, const char *alive, const char *gone)
{
    char fqdn[8];
    for (const char *p = alive; *p; p++) {
        snprintf(fqdn, sizeof fqdn, "%c-1", *p);
        if (!live(fw, fqdn))
            fail_msg("%s should be live", fqdn);
    }
    for (const char *p = gone; *p; p++) {
        snprintf(fqdn, sizeof fqdn, "%c-1", *p);
        if (live(fw, fqdn))
            fail_msg("%s should be gone", fqdn);
    }
}

/* After the clock reaches before: n containers live and no keep-alive
 * removal; at the clock at: none live and n removals. */
static void expect_expiry(struct fake_world *fw, uint64_t before, uint64_t at, long long n)
{
    fake_run_until(&fw->env, before);
    assert_int_equal(fake_status(fw->w, "num_containers"), n);
    assert_int_equal(fake_status(fw->w, "keepalive_removals"), 0);
    fake_run_until(&fw->env, at);
    assert_int_equal(fake_status(fw->w, "num_containers"), 0);
    assert_int_equal(fake_status(fw->w, "keepalive_removals"), n);
}

/* The keep-alive priority of fqdn's newest live container. */
static double priority(struct fake_world *fw, const char *fqdn)
{
    struct fake_ct *ct = fake_live_ct(&fw->be, fqdn);
    if (!ct)
        fail_msg("%s has no live container", fqdn);
    return ct->c->ka_priority;
}

#define assert_priority(fw, fqdn, expected)                                               \
    do {                                                                                  \
        double got_ = priority(fw, fqdn);                                                 \
        if (got_ < (expected)-1e-9 || got_ > (expected) + 1e-9)                           \
            fail_msg("%s: priority %.9f, expected %.9f", fqdn, got_, (double)(expected)); \
    } while (0)

/* ---- TTL ------------------------------------------------------------------ */

/* Ticks every 10 ms; A is idle from T0 + 60 ms, so it expires at the tick
 * T0 + 2.06 s and not one tick earlier. */
static void ttl_expires_idle_container_exactly_after_ttl_sec(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw, "TTL", 1024);
    fw.cfg.container_resources.ttl_sec = 2;
    fw.cfg.container_resources.pool_freq_ms = 10;
    struct ilu_worker *w = start_with(&fw, "A", 128);
    assert_int_equal(run_one(&fw, "A"), ILU_START_COLD);
    assert_int_equal(fake_now(&fw.env), T0 + COLD + EXEC);
    expect_expiry(&fw, T0 + 2050 * MS, T0 + 2060 * MS, 1);
    assert_int_equal(fake_status(w, "used_mem_mb"), 0);
    assert_true(fake_log_has(&fw.env, "its keep-alive ran out"));
    assert_int_equal(run_one(&fw, "A"), ILU_START_COLD);
    fake_world_end(&fw);
}

/* A use restarts the count: used again at T0 + 1.5 s, idle from T0 + 1.51 s,
 * A stays past T0 + 2.06 s and goes at the tick T0 + 3.6 s (every 100 ms). */
static void ttl_counts_from_last_use(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw, "TTL", 1024);
    fw.cfg.container_resources.ttl_sec = 2;
    fw.cfg.container_resources.pool_freq_ms = 100;
    start_with(&fw, "A", 128);
    run_one(&fw, "A");
    fake_run_until(&fw.env, T0 + 1500 * MS);
    assert_int_equal(run_one(&fw, "A"), ILU_START_WARM);
    expect_expiry(&fw, T0 + 3500 * MS, T0 + 3600 * MS, 1);
    fake_world_end(&fw);
}

/* A idle from T0 + 60 ms, B from T0 + 120 ms; ticks every 500 ms: the tick
 * at T0 + 2.5 s removes both (the pool asks again after each removal), and
 * the oldest goes at its own tick when they fall in different ones. */
static void ttl_expires_every_container_due_at_one_tick(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw, "TTL", 1024);
    fw.cfg.container_resources.ttl_sec = 2;
    fw.cfg.container_resources.pool_freq_ms = 500;
    start_with(&fw, "AB", 128);
    run_each(&fw, "AB");
    expect_expiry(&fw, T0 + 2500 * MS - 1, T0 + 2500 * MS, 2);
    fake_world_end(&fw);
}

/* Under memory pressure TTL evicts the least recently used: B, used before
 * A's last use. */
static void ttl_evicts_least_recently_used(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw, "TTL", 512);
    struct ilu_worker *w = start_with(&fw, "ABC", 200);
    run_each(&fw, "ABAC");
    assert_int_equal(fake_status(w, "evictions"), 1);
    expect_live(&fw, "AC", "B");
    fake_world_end(&fw);
}

static void ttl_zero_is_a_startup_error_naming_the_key(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    fake_config(&cfg);
    snprintf(cfg.container_resources.eviction, sizeof cfg.container_resources.eviction, "TTL");
    cfg.container_resources.ttl_sec = 0;
    struct ilu_error err = {0};
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "container_resources.ttl_sec"));
    /* the policy refuses too, for drivers that build a pool without validating */
    memset(&err, 0, sizeof err);
    const struct ilu_keepalive_ops *ttl = ilu_keepalive_policy_find("TTL");
    assert_non_null(ttl);
    assert_null(ttl->create(&cfg, &err));
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "container_resources.ttl_sec"));
    /* and it does not matter under another policy */
    snprintf(cfg.container_resources.eviction, sizeof cfg.container_resources.eviction, "LRU");
    assert_int_equal(ilu_config_validate(&cfg, &err), 0);
}

/* ---- LFU ------------------------------------------------------------------ */

/* A is invoked three times, B once and last: LRU would evict A, LFU evicts
 * B, the rarely used function. */
static void lfu_evicts_the_rarely_used_functions_container(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw, "LFU", 512);
    struct ilu_worker *w = start_with(&fw, "ABC", 200);
    run_each(&fw, "AAAB");
    assert_int_equal(run_one(&fw, "C"), ILU_START_COLD);
    assert_int_equal(fake_status(w, "evictions"), 1);
    expect_live(&fw, "AC", "B");
    assert_int_equal(run_one(&fw, "A"), ILU_START_WARM);
    fake_world_end(&fw);
}

/* Equal counts: the least recently used goes (A, then C). */
static void lfu_breaks_ties_by_least_recent_use(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw, "LFU", 512);
    struct ilu_worker *w = start_with(&fw, "ABC", 200);
    run_each(&fw, "ABC");
    expect_live(&fw, "B", "A");
    /* the idle ones, B and C, have one invocation each: B, the least recent, goes */
    run_one(&fw, "A");
    expect_live(&fw, "C", "B");
    assert_int_equal(fake_status(w, "evictions"), 2);
    fake_world_end(&fw);
}

static void lfu_expires_nothing(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw, "LFU", 512);
    struct ilu_worker *w = start_with(&fw, "A", 200);
    run_one(&fw, "A");
    fake_run_until(&fw.env, T0 + 3600 * SEC);
    assert_int_equal(fake_status(w, "num_containers"), 1);
    assert_int_equal(fake_status(w, "keepalive_removals"), 0);
    assert_int_equal(run_one(&fw, "A"), ILU_START_WARM);
    fake_world_end(&fw);
}

/* ---- GreedyDual ----------------------------------------------------------- */

/* Priority = clock + frequency * cost_ms / memory_mb. Pool 512 MB.
 *   B: 100 MB, cold start 200 ms, used first:  0 + 1 * 200 / 100 = 2.0
 *   A: 400 MB, cold start  20 ms, used second: 0 + 1 *  20 / 400 = 0.05
 *   C: 100 MB needs room (600 > 512). LRU would evict B; GreedyDual evicts
 *      A, the cheap, large one, and its clock rises to 0.05, so C's
 *      priority is 0.05 + 1 * 50 / 100 = 0.55.
 *   B used again (warm, frequency 2): 0.05 + 2 * 200 / 100 = 4.05. */
static void greedy_dual_evicts_cheap_large_container_and_clock_rises(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw, "GreedyDual", 512);
    struct ilu_worker *w = start_with(&fw, "BC", 100);
    fake_register(w, "A", 400);
    fake_fn(&fw.be, "A-1")->cold_us = 20 * MS;
    fake_fn(&fw.be, "B-1")->cold_us = 200 * MS;
    run_each(&fw, "BA");
    assert_priority(&fw, "B-1", 2.0);
    assert_priority(&fw, "A-1", 0.05);
    assert_int_equal(run_one(&fw, "C"), ILU_START_COLD);
    assert_int_equal(fake_status(w, "evictions"), 1);
    expect_live(&fw, "B", "A");
    assert_priority(&fw, "C-1", 0.55);
    assert_int_equal(run_one(&fw, "B"), ILU_START_WARM);
    assert_priority(&fw, "B-1", 4.05);
    /* nothing expires by age */
    fake_run_until(&fw.env, T0 + 3600 * SEC);
    assert_int_equal(fake_status(w, "num_containers"), 2);
    assert_int_equal(fake_status(w, "keepalive_removals"), 0);
    fake_world_end(&fw);
}

/* Frequency protects a hot container. Pool 300 MB, every function 50 ms
 * cold start.
 *   A: 100 MB, used 3 times: 3 * 50 / 100 = 1.5
 *   B: 100 MB, cold 100 ms, used once, last: 1 * 100 / 100 = 1.0
 *   C: 200 MB needs 100 MB more: B goes (LRU would take A); clock 1.0;
 *      C = 1.0 + 1 * 50 / 200 = 1.25
 *   B again (cold, 100 MB more needed): C (1.25) goes before A (1.5);
 *      clock 1.25; B = 1.25 + 1 * 100 / 100 = 2.25. */
static void greedy_dual_frequency_keeps_the_hot_container(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw, "GreedyDual", 300);
    struct ilu_worker *w = start_with(&fw, "AB", 100);
    fake_register(w, "C", 200);
    fake_fn(&fw.be, "B-1")->cold_us = 100 * MS;
    run_each(&fw, "AAAB");
    assert_priority(&fw, "A-1", 1.5);
    assert_priority(&fw, "B-1", 1.0);
    run_one(&fw, "C");
    expect_live(&fw, "A", "B");
    assert_priority(&fw, "C-1", 1.25);
    assert_priority(&fw, "A-1", 1.5);
    assert_int_equal(run_one(&fw, "B"), ILU_START_COLD);
    expect_live(&fw, "A", "C");
    assert_priority(&fw, "B-1", 2.25);
    assert_int_equal(fake_status(w, "evictions"), 2);
    assert_int_equal(run_one(&fw, "A"), ILU_START_WARM);
    fake_world_end(&fw);
}

/* The cost is cold minus warm end-to-end once both are known, not the
 * container start time. A: 100 MB, cold start 50 ms; the cold invocation
 * runs 10 ms (cold e2e 60 ms), later ones 30 ms (warm e2e 30 ms).
 *   after the 1st: only the start time is known:   1 * 50 / 100 = 0.5
 *   after the 2nd (warm e2e is recorded after the container goes idle,
 *                  so still the start time):       2 * 50 / 100 = 1.0
 *   after the 3rd: cold - warm = 60 - 30 = 30 ms:   3 * 30 / 100 = 0.9 */
static void greedy_dual_cost_is_cold_minus_warm_end_to_end(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw, "GreedyDual", 1024);
    start_with(&fw, "A", 100);
    run_one(&fw, "A");
    assert_priority(&fw, "A-1", 0.5);
    fake_fn(&fw.be, "A-1")->exec_us = 30 * MS;
    run_one(&fw, "A");
    assert_priority(&fw, "A-1", 1.0);
    run_one(&fw, "A");
    assert_priority(&fw, "A-1", 0.9);
    fake_world_end(&fw);
}

/* Alternating functions that do not fit together: every start is cold, one
 * eviction each, and memory never exceeds the pool (run_one checks). */
static void greedy_dual_never_exceeds_the_pool(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw, "GreedyDual", 256);
    struct ilu_worker *w = start_with(&fw, "AB", 200);
    const char *seq[] = {"A", "B", "A", "B", "A"};
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++)
        assert_int_equal(run_one(&fw, seq[i]), ILU_START_COLD);
    assert_int_equal(fake_status(w, "evictions"), 4);
    assert_int_equal(fake_live(&fw.be), 1);
    fake_world_end(&fw);
}

static void every_new_policy_is_registered(void **state)
{
    (void)state;
    const char *names = ilu_keepalive_policy_names();
    assert_non_null(strstr(names, "TTL"));
    assert_non_null(strstr(names, "LFU"));
    assert_non_null(strstr(names, "GreedyDual"));
    assert_non_null(ilu_keepalive_policy_find("greedydual")); /* names are case-insensitive */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ttl_expires_idle_container_exactly_after_ttl_sec),
        cmocka_unit_test(ttl_counts_from_last_use),
        cmocka_unit_test(ttl_expires_every_container_due_at_one_tick),
        cmocka_unit_test(ttl_evicts_least_recently_used),
        cmocka_unit_test(ttl_zero_is_a_startup_error_naming_the_key),
        cmocka_unit_test(lfu_evicts_the_rarely_used_functions_container),
        cmocka_unit_test(lfu_breaks_ties_by_least_recent_use),
        cmocka_unit_test(lfu_expires_nothing),
        cmocka_unit_test(greedy_dual_evicts_cheap_large_container_and_clock_rises),
        cmocka_unit_test(greedy_dual_frequency_keeps_the_hot_container),
        cmocka_unit_test(greedy_dual_cost_is_cold_minus_warm_end_to_end),
        cmocka_unit_test(greedy_dual_never_exceeds_the_pool),
        cmocka_unit_test(every_new_policy_is_registered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
