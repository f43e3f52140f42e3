/* The HYBRID_HISTOGRAM keep-alive policy (src/policy/keepalive/histogram.c)
 * through the real worker core, the fake env and the fake backend. Fake
 * timings: cold start 50 ms, execution 10 ms; the clock starts at T0 = 1 s
 * and the pool ticks every 500 ms from T0 (T0 + 0.5 s, T0 + 1 s, ...), so
 * every time below is exact. container_resources.keepalive_sec is 0 so the
 * pool's own cap never cuts the policy's windows. */
#include "fake.h"

#include "worker/pool.h"
#include "worker/worker_internal.h"

#define T0   (1 * SEC)
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)

static struct ilu_worker *start(struct fake_world *fw, void (*adjust)(struct ilu_worker_config *))
{
    fake_world_init(fw, T0);
    snprintf(fw->cfg.container_resources.eviction, sizeof fw->cfg.container_resources.eviction, "HYBRID_HISTOGRAM");
    fw->cfg.container_resources.keepalive_sec = 0;
    fw->cfg.limits.timeout_sec = 600;
    if (adjust)
        adjust(&fw->cfg);
    struct ilu_worker *w = fake_world_start(fw);
    fake_register(w, "A", 128);
    return w;
}

/* Invoke A at time at (running everything due before), wait for it, and
 * return how it started. */
static enum ilu_start_kind invoke_at(struct fake_world *fw, uint64_t at, struct fake_result *r)
{
    fake_run_until(&fw->env, at);
    unsigned before = r->calls;
    fake_invoke_ok(fw->w, &fw->env, "A", "t", r);
    fake_settle(&fw->env, fw->w);
    assert_int_equal(r->calls, before + 1);
    assert_true(r->success);
    return r->kind;
}

/* ---- a periodic function: the paper's histogram windows ------------------- */

/* Every 5 minutes exactly: each idle time is 300 s minus the previous
 * invocation's 60 ms (cold) or 10 ms (warm), all in bin 4 (240-300 s) of 1
 * minute bins. Head (5th) and tail (99th) percentile are both bin 4, so
 * pre-warm = 240 s - 10 % = 216 s and keep-alive = 300 s + 10 % = 330 s
 * after an invocation's end: the container goes at the next tick, comes
 * back 216 s after the end and lives 330 - 216 = 114 s once ready. The
 * first five idle times (histogram_min_samples) are taken under the
 * fallback keep-alive (the 4 h range), so invocations 1-5 are warm. */
static void periodic_function_is_prewarmed_before_each_invocation(void **state)
{
    (void)state;
    struct fake_world fw;
    struct ilu_worker *w = start(&fw, NULL);
    struct fake_result r = {0};
    const uint64_t P = 5 * MIN;
    assert_int_equal(invoke_at(&fw, T0, &r), ILU_START_COLD);
    for (int k = 1; k <= 5; k++)
        assert_int_equal(invoke_at(&fw, T0 + k * P, &r), ILU_START_WARM);
    assert_int_equal(fw.be.created, 1);
    uint64_t end5 = T0 + 5 * P + 10 * MS;
    assert_int_equal(r.done_at, end5);

    /* released at the first tick after the end (T0 + 1500.5 s) */
    fake_run_until(&fw.env, T0 + 5 * P + 400 * MS);
    assert_int_equal(fake_live(&fw.be), 1);
    fake_run_until(&fw.env, T0 + 5 * P + 500 * MS);
    assert_int_equal(fake_live(&fw.be), 0);
    /* pre-warm due at end5 + 216 s = T0 + 1716.01 s: the tick at 1716.5 s plans it */
    fake_run_until(&fw.env, T0 + 5 * P + 216 * SEC);
    assert_int_equal(fake_live(&fw.be), 0);
    fake_run_until(&fw.env, T0 + 5 * P + 216 * SEC + 500 * MS);
    assert_int_equal(fw.be.created, 2);
    fake_run_until(&fw.env, T0 + 5 * P + 216 * SEC + 550 * MS);
    assert_int_equal(fake_status(w, "idle_containers"), 1);

    /* the next invocation finds it: a pre-warm start, not a cold one */
    assert_int_equal(invoke_at(&fw, T0 + 6 * P, &r), ILU_START_PREWARM);
    fake_run_until(&fw.env, T0 + 6 * P + 600 * MS);
    assert_int_equal(fake_live(&fw.be), 0); /* released after use again */
    assert_int_equal(invoke_at(&fw, T0 + 7 * P, &r), ILU_START_PREWARM);

    /* skip one: the pre-warmed container (ready at T0 + 2316.55 s, tick
     * 2316.5 s + 50 ms) lives 114 s, expiring at the tick at 2431 s */
    fake_run_until(&fw.env, T0 + 7 * P + 216 * SEC + 550 * MS);
    assert_int_equal(fake_status(w, "idle_containers"), 1);
    fake_run_until(&fw.env, T0 + 7 * P + 330 * SEC + 500 * MS);
    assert_int_equal(fake_live(&fw.be), 1);
    fake_run_until(&fw.env, T0 + 7 * P + 331 * SEC);
    assert_int_equal(fake_live(&fw.be), 0);

    assert_int_equal(fake_status(w, "cold_starts"), 1);
    assert_int_equal(fake_status(w, "prewarm_starts"), 2);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

/* ---- fallbacks ------------------------------------------------------------ */

static void fallback_120(struct ilu_worker_config *cfg)
{
    cfg->container_resources.histogram_fallback_keepalive_sec = 120;
}

/* Fewer than histogram_min_samples idle times: no pre-warm, and the
 * container stays idle histogram_fallback_keepalive_sec after the end. */
static void too_few_samples_use_the_fallback_keepalive(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw, fallback_120);
    struct fake_result r = {0};
    assert_int_equal(invoke_at(&fw, T0, &r), ILU_START_COLD); /* ends at T0 + 60 ms */
    fake_run_until(&fw.env, T0 + 120 * SEC);                  /* deadline T0 + 120.06 s */
    assert_int_equal(fake_live(&fw.be), 1);
    fake_run_until(&fw.env, T0 + 120 * SEC + 500 * MS); /* the first tick past it */
    assert_int_equal(fake_live(&fw.be), 0);
    /* four more, 100 s apart: each finds the last one warm (4 samples < 5) */
    assert_int_equal(invoke_at(&fw, T0 + 200 * SEC, &r), ILU_START_COLD);
    for (int k = 1; k <= 3; k++)
        assert_int_equal(invoke_at(&fw, T0 + (200 + 100 * k) * SEC, &r), ILU_START_WARM);
    fake_run_until(&fw.env, T0 + 620 * SEC); /* the last ended at T0 + 500.01 s */
    assert_int_equal(fake_live(&fw.be), 1);
    fake_run_until(&fw.env, T0 + 620 * SEC + 500 * MS);
    assert_int_equal(fake_live(&fw.be), 0);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

static void range_10min(struct ilu_worker_config *cfg)
{
    cfg->container_resources.histogram_range_min = 10;
    cfg->container_resources.histogram_min_samples = 4;
}

/* histogram_fallback_keepalive_sec 0 (the default) keeps the container for
 * the histogram range, as the paper's "standard keep-alive" does; idle
 * times spread over the bins (1, 3, 5, 7 min in 10 one-minute bins: counts
 * CV = 1.29 < 2) are no pattern, so that fallback stays after 4 samples. */
static void spread_idle_times_fall_back_to_the_range(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw, range_10min);
    struct fake_result r = {0};
    uint64_t t = T0;
    const unsigned gaps_min[] = {1, 3, 5, 7};
    assert_int_equal(invoke_at(&fw, t, &r), ILU_START_COLD);
    for (size_t i = 0; i < 4; i++) {
        t = r.done_at + gaps_min[i] * MIN + 30 * SEC; /* the middle of bin gaps_min[i] */
        assert_int_equal(invoke_at(&fw, t, &r), ILU_START_WARM);
    }
    /* not released at the next tick, not pre-warmed: kept 10 min after the end */
    uint64_t end = r.done_at;
    fake_run_until(&fw.env, end + 10 * MIN);
    assert_int_equal(fake_live(&fw.be), 1);
    assert_int_equal(fw.be.created, 1);
    fake_run_until(&fw.env, end + 10 * MIN + 500 * MS);
    assert_int_equal(fake_live(&fw.be), 0);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

/* Every 5 hours, past the 4 h range: the idle times are out of bound. Until
 * five are known the fallback keeps a container the range (4 h), too short,
 * so those starts are cold; then the forecast (the idle time, ~5 h) pre-warms
 * at 85 % of it and keeps until 115 %, and the starts are pre-warm starts. */
static void out_of_bound_idle_times_use_the_forecast(void **state)
{
    (void)state;
    struct fake_world fw;
    struct ilu_worker *w = start(&fw, NULL);
    struct fake_result r = {0};
    const uint64_t P = 5 * HOUR;
    for (int k = 0; k <= 5; k++)
        assert_int_equal(invoke_at(&fw, T0 + k * P, &r), ILU_START_COLD);
    /* the 4 h fallback removed each container before the next arrival */
    assert_int_equal(fw.be.created, 6);
    uint64_t end5 = r.done_at;
    fake_run_until(&fw.env, end5 + 4 * HOUR); /* 85 % of ~5 h = 4 h 15 min */
    assert_int_equal(fake_live(&fw.be), 0);
    fake_run_until(&fw.env, end5 + 4 * HOUR + 16 * MIN);
    assert_int_equal(fake_live(&fw.be), 1);
    assert_int_equal(invoke_at(&fw, T0 + 6 * P, &r), ILU_START_PREWARM);
    assert_int_equal(invoke_at(&fw, T0 + 7 * P, &r), ILU_START_PREWARM);
    assert_int_equal(fake_status(w, "cold_starts"), 6);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

/* ---- memory ---------------------------------------------------------------- */

static void small_pool(struct ilu_worker_config *cfg)
{
    cfg->container_resources.memory_mb = 512;
    cfg->container_resources.histogram_min_samples = 2;
}

/* Four periodic functions of 256 MB in a 512 MB pool for 3 hours: pre-warms
 * and cold starts evict (least recently used first), and after every event
 * the containers alive fit in the pool. */
static void memory_never_exceeds_the_pool(void **state)
{
    (void)state;
    struct fake_world fw;
    struct ilu_worker *w = start(&fw, small_pool);
    const char *names[] = {"B", "C", "D", "E"};
    const uint64_t period[] = {5 * MIN, 7 * MIN, 11 * MIN, 13 * MIN};
    uint64_t next[4];
    struct fake_result r[4] = {{0}};
    unsigned sent = 0;
    for (int i = 0; i < 4; i++) {
        fake_register(w, names[i], 256);
        next[i] = T0 + (uint64_t)i * 17 * SEC;
    }
    const uint64_t until = T0 + 3 * HOUR;
    for (;;) {
        int i = 0;
        for (int j = 1; j < 4; j++)
            if (next[j] < next[i])
                i = j;
        if (next[i] > until)
            break;
        while (fake_next_due(&fw.env) <= next[i]) {
            fake_step(&fw.env);
            assert_true(fake_live_mem(&fw.be) <= 512);
            assert_true(w->pool.used_mem_mb <= 512);
        }
        fake_run_until(&fw.env, next[i]); /* nothing left due: only moves the clock */
        fake_invoke_ok(w, &fw.env, names[i], "t", &r[i]);
        sent++;
        next[i] += period[i];
    }
    while (ilu_worker_outstanding(w) > 0) {
        assert_true(fake_step(&fw.env));
        assert_true(fake_live_mem(&fw.be) <= 512);
    }
    unsigned answered = 0;
    for (int i = 0; i < 4; i++) {
        answered += r[i].calls;
        fake_result_clear(&r[i]);
    }
    assert_int_equal(answered, sent);
    assert_true(fake_status(w, "prewarm_starts") > 0);
    fake_world_end(&fw);
}

/* ---- config ---------------------------------------------------------------- */

static void config_keys_are_validated_and_accept_the_object_form(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    struct ilu_error err = {0};
    ilu_config_defaults(&cfg);
    assert_int_equal(cfg.container_resources.histogram_bin_sec, 60);
    assert_int_equal(cfg.container_resources.histogram_range_min, 240);
    assert_int_equal(cfg.container_resources.histogram_cv_threshold_x100, 200);
    assert_int_equal(ilu_config_apply_json(&cfg,
                                           "{\"container_resources\":{\"eviction\":{\"HYBRID_HISTOGRAM\":"
                                           "{\"bin_sec\":30,\"tail_pct\":95}}}}",
                                           "worker.json", &err),
                     0);
    assert_string_equal(cfg.container_resources.eviction, "HYBRID_HISTOGRAM");
    assert_int_equal(cfg.container_resources.histogram_bin_sec, 30);
    assert_int_equal(cfg.container_resources.histogram_tail_pct, 95);
    assert_int_equal(ilu_config_validate(&cfg, &err), 0);

    cfg.container_resources.histogram_head_pct = 96;
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "container_resources.histogram_head_pct"));
    cfg.container_resources.histogram_head_pct = 5;
    cfg.container_resources.histogram_bin_sec = 0;
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "container_resources.histogram_bin_sec"));
    cfg.container_resources.histogram_bin_sec = 1;
    cfg.container_resources.histogram_range_min = 100000;
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "container_resources.histogram_range_min"));
    cfg.container_resources.histogram_range_min = 240;
    cfg.container_resources.histogram_oob_pct = 0;
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "container_resources.histogram_oob_pct"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(periodic_function_is_prewarmed_before_each_invocation),
        cmocka_unit_test(too_few_samples_use_the_fallback_keepalive),
        cmocka_unit_test(spread_idle_times_fall_back_to_the_range),
        cmocka_unit_test(out_of_bound_idle_times_use_the_forecast),
        cmocka_unit_test(memory_never_exceeds_the_pool),
        cmocka_unit_test(config_keys_are_validated_and_accept_the_object_form),
    };
    return cmocka_run_group_tests_name("histogram", tests, NULL, NULL);
}
