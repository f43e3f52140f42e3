/* Ilúvatar's CPU queue policies beyond fcfs and minheap (minheap_ed,
 * minheap_iat, cold_pri, none), the queue load, and est_invoke_time through
 * the real worker core over the fake backend. Orders are computed by hand. */
#include "fake.h"

#include "core/policy_registry.h"
#include "worker/queue.h"

enum { MAXN = 512 };

struct fixture {
    struct ilu_function fns[8];
    struct ilu_invocation invs[MAXN];
    uint64_t seq;
};

static struct ilu_invocation *mk(struct fixture *fx, size_t i, uint64_t arrived_us, int fn)
{
    struct ilu_invocation *inv = &fx->invs[i];
    memset(inv, 0, sizeof *inv);
    inv->seq = ++fx->seq;
    inv->t.arrived_us = arrived_us;
    inv->fn = &fx->fns[fn];
    return inv;
}

static void queue_open(struct ilu_queue *q, const char *policy)
{
    const struct ilu_queue_policy_ops *ops = ilu_queue_policy_find(policy);
    assert_non_null(ops);
    assert_int_equal(ilu_queue_init(q, ops, NULL, 0, NULL), 0);
}

static void push(struct ilu_queue *q, struct ilu_invocation *inv)
{
    struct ilu_queue_view v = {.now_us = inv->t.arrived_us, .cpu_limit = 1, .cpus_free = 0};
    assert_int_equal(ilu_queue_push(q, inv, &v, NULL), 0);
}

static void expect_pops(struct ilu_queue *q, struct fixture *fx, const size_t *order, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct ilu_invocation *inv = ilu_queue_pop(q, NULL);
        if (inv != &fx->invs[order[i]])
            fail_msg("pop %zu: expected invocation %zu, got %ld", i, order[i], inv ? (long)(inv - fx->invs) : -1L);
    }
    assert_null(ilu_queue_pop(q, NULL));
}

/* ---- minheap_ed ----------------------------------------------------------- */

/* key = arrival + expected execution: a long function that has waited goes
 * before a short one that came later, unlike minheap. */
static void minheap_ed_orders_by_arrival_plus_exec(void **state)
{
    (void)state;
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    struct ilu_queue q;
    queue_open(&q, "minheap_ed");
    fx.fns[0].stats.exec_us.ewma = 500; /* A */
    fx.fns[1].stats.exec_us.ewma = 100; /* B */
    fx.fns[2].stats.exec_us.ewma = 0;   /* C: never measured */
    push(&q, mk(&fx, 0, 1000, 0));      /* 1500 */
    push(&q, mk(&fx, 1, 1100, 1));      /* 1200 */
    push(&q, mk(&fx, 2, 1200, 0));      /* 1700 */
    push(&q, mk(&fx, 3, 1450, 1));      /* 1550 */
    push(&q, mk(&fx, 4, 1600, 2));      /* 1600 */
    push(&q, mk(&fx, 5, 1000, 0));      /* 1500, after 0 (arrival order) */
    /* minheap would run B's 1 and 3 first; EEDF lets A's 0 and 5 (deadline 1500) go before B's 3 */
    static const size_t order[] = {1, 0, 5, 3, 4, 2};
    expect_pops(&q, &fx, order, 6);
    ilu_queue_destroy(&q);
}

/* The deadline is fixed at push: a later change of the average does not move
 * a queued invocation. */
static void minheap_ed_key_is_fixed_at_push(void **state)
{
    (void)state;
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    struct ilu_queue q;
    queue_open(&q, "minheap_ed");
    fx.fns[0].stats.exec_us.ewma = 100;
    fx.fns[1].stats.exec_us.ewma = 300;
    push(&q, mk(&fx, 0, 0, 0)); /* 100 */
    push(&q, mk(&fx, 1, 0, 1)); /* 300 */
    fx.fns[0].stats.exec_us.ewma = 10000;
    push(&q, mk(&fx, 2, 0, 0)); /* 10000 */
    static const size_t order[] = {0, 1, 2};
    expect_pops(&q, &fx, order, 3);
    ilu_queue_destroy(&q);
}

/* ---- minheap_iat ---------------------------------------------------------- */

static void minheap_iat_runs_most_frequent_first(void **state)
{
    (void)state;
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    struct ilu_queue q;
    queue_open(&q, "minheap_iat");
    fx.fns[0].stats.iat_mean_us = 1000; /* A: every ms */
    fx.fns[1].stats.iat_mean_us = 50;   /* B: every 50 us */
    fx.fns[2].stats.iat_mean_us = 0;    /* C: fewer than two arrivals */
    fx.fns[0].stats.exec_us.ewma = 1;   /* execution must not matter */
    fx.fns[1].stats.exec_us.ewma = 1e6;
    int fns[] = {0, 1, 2, 0, 1, 2};
    for (size_t i = 0; i < 6; i++)
        push(&q, mk(&fx, i, 100 * i, fns[i]));
    static const size_t order[] = {2, 5, 1, 4, 0, 3};
    expect_pops(&q, &fx, order, 6);
    ilu_queue_destroy(&q);
}

/* The worker records the arrival before queueing, so the key is the mean
 * gap including the invocation being queued. */
static void minheap_iat_uses_the_inter_arrival_mean(void **state)
{
    (void)state;
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    struct ilu_queue q;
    queue_open(&q, "minheap_iat");
    /* A arrives at 0, 400, 800: mean gap 400. B at 0, 100: mean 100, then 1000: mean 500 */
    uint64_t a[] = {0, 400, 800}, b[] = {0, 100};
    for (size_t i = 0; i < 3; i++)
        ilu_fn_stats_arrival(&fx.fns[0].stats, a[i]);
    for (size_t i = 0; i < 2; i++)
        ilu_fn_stats_arrival(&fx.fns[1].stats, b[i]);
    push(&q, mk(&fx, 0, 800, 0)); /* 400 */
    push(&q, mk(&fx, 1, 100, 1)); /* 100 */
    ilu_fn_stats_arrival(&fx.fns[1].stats, 1000);
    push(&q, mk(&fx, 2, 1000, 1)); /* 500 */
    static const size_t order[] = {1, 0, 2};
    expect_pops(&q, &fx, order, 3);
    ilu_queue_destroy(&q);
}

/* ---- none ----------------------------------------------------------------- */

static void none_is_fifo_whatever_the_stats(void **state)
{
    (void)state;
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    struct ilu_queue q;
    queue_open(&q, "none");
    fx.fns[0].stats.exec_us.ewma = 1e6;
    fx.fns[1].stats.exec_us.ewma = 1;
    fx.fns[1].stats.iat_mean_us = 1;
    /* arrival times out of order: the order is the worker's arrival sequence */
    for (size_t i = 0; i < 10; i++)
        push(&q, mk(&fx, i, 10000 - i, (int)(i % 2)));
    ilu_queue_remove(&q, &fx.invs[4]);
    static const size_t order[] = {0, 1, 2, 3, 5, 6, 7, 8, 9};
    expect_pops(&q, &fx, order, 9);
    ilu_queue_destroy(&q);
}

static void only_none_with_cpu_count_0_is_unlimited(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    ilu_config_defaults(&cfg);
    cfg.container_resources.cpu_count = 0;
    snprintf(cfg.invocation.queue_policy, sizeof cfg.invocation.queue_policy, "none");
    assert_true(ilu_queue_config_unlimited(&cfg));
    cfg.container_resources.cpu_count = 2;
    assert_false(ilu_queue_config_unlimited(&cfg));
    cfg.container_resources.cpu_count = 0;
    static const char *const limited[] = {"fcfs", "minheap", "minheap_ed", "minheap_iat", "cold_pri"};
    for (size_t i = 0; i < sizeof limited / sizeof limited[0]; i++) {
        snprintf(cfg.invocation.queue_policy, sizeof cfg.invocation.queue_policy, "%s", limited[i]);
        assert_false(ilu_queue_config_unlimited(&cfg));
    }
}

/* Through the worker: "none" with cpu_count 0 runs everything at once; fcfs
 * with cpu_count 0 (the core's 1) and "none" with cpu_count 1 do not. */
static unsigned max_parallel(const char *policy, uint32_t cpu_count)
{
    struct fake_world fw;
    fake_world_init(&fw, 1 * SEC);
    fw.cfg.container_resources.cpu_count = cpu_count;
    snprintf(fw.cfg.invocation.queue_policy, sizeof fw.cfg.invocation.queue_policy, "%s", policy);
    fake_fn(&fw.be, "A-1")->cold_us = 50 * MS;
    fake_fn(&fw.be, "A-1")->exec_us = 100 * MS;
    struct ilu_worker *w = fake_world_start(&fw);
    fake_register(w, "A", 128);
    struct fake_result r[4] = {{0}};
    for (int i = 0; i < 4; i++)
        fake_invoke_ok(w, &fw.env, "A", "t", &r[i]);
    fake_settle(&fw.env, w);
    for (int i = 0; i < 4; i++) {
        assert_true(r[i].success);
        fake_result_clear(&r[i]);
    }
    unsigned n = fw.be.max_busy;
    fake_world_end(&fw);
    return n;
}

static void none_with_cpu_count_0_has_no_concurrency_limit(void **state)
{
    (void)state;
    assert_int_equal(max_parallel("none", 0), 4);
    assert_int_equal(max_parallel("none", 1), 1);
    assert_int_equal(max_parallel("none", 2), 2);
    assert_int_equal(max_parallel("fcfs", 0), 1);
}

/* ---- cold_pri ------------------------------------------------------------- */

/* A: warm 100, cold 1100. B: warm 500, cold 700 (us). Which runs first
 * depends on fn->n_idle when next() is called, not when they were queued. */
static void cold_pri_reads_idle_containers_at_next(void **state)
{
    (void)state;
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    struct ilu_queue q;
    queue_open(&q, "cold_pri");
    struct ilu_function *A = &fx.fns[0], *B = &fx.fns[1];
    A->stats.exec_us.ewma = 100;
    A->stats.container_start_us.ewma = 1000;
    B->stats.exec_us.ewma = 500;
    B->stats.container_start_us.ewma = 200;
    push(&q, mk(&fx, 0, 0, 0)); /* a0 */
    push(&q, mk(&fx, 1, 1, 1)); /* b0 */
    /* nothing idle: A cold 1100, B cold 700 */
    assert_ptr_equal(ilu_queue_next(&q, NULL), &fx.invs[1]);
    /* a container of A comes back: A warm 100 */
    A->n_idle = 1;
    assert_ptr_equal(ilu_queue_next(&q, NULL), &fx.invs[0]);
    /* it is taken again, and one of B is free: A cold 1100, B warm 500 */
    A->n_idle = 0;
    B->n_idle = 1;
    assert_ptr_equal(ilu_queue_next(&q, NULL), &fx.invs[1]);
    /* both free: A warm 100, B warm 500 */
    A->n_idle = 2;
    assert_ptr_equal(ilu_queue_next(&q, NULL), &fx.invs[0]);
    /* within a function, arrival order */
    push(&q, mk(&fx, 2, 2, 0)); /* a1 */
    assert_ptr_equal(ilu_queue_pop(&q, NULL), &fx.invs[0]);
    assert_ptr_equal(ilu_queue_next(&q, NULL), &fx.invs[2]);
    A->n_idle = 0;
    assert_ptr_equal(ilu_queue_pop(&q, NULL), &fx.invs[1]);
    assert_ptr_equal(ilu_queue_pop(&q, NULL), &fx.invs[2]);
    assert_null(ilu_queue_pop(&q, NULL));
    ilu_queue_destroy(&q);
}

/* Equal expected times go to the earlier arrival; unknown functions (0)
 * first; removing a function's last invocation drops it from the choice. */
static void cold_pri_ties_unknown_and_removal(void **state)
{
    (void)state;
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    struct ilu_queue q;
    queue_open(&q, "cold_pri");
    fx.fns[0].stats.exec_us.ewma = 300; /* cold 300 */
    fx.fns[1].stats.exec_us.ewma = 300;
    fx.fns[2].stats.exec_us.ewma = 0; /* unknown */
    fx.fns[3].stats.exec_us.ewma = 0; /* unknown */
    push(&q, mk(&fx, 0, 0, 1));
    push(&q, mk(&fx, 1, 0, 0));
    push(&q, mk(&fx, 2, 0, 3));
    push(&q, mk(&fx, 3, 0, 2));
    push(&q, mk(&fx, 4, 0, 1));
    ilu_queue_remove(&q, &fx.invs[2]); /* fn3's only one */
    ilu_queue_remove(&q, &fx.invs[0]); /* fn1's head */
    /* 3 (unknown), then fn0's 1 (300, seq 2) before fn1's 4 (300, seq 5) */
    static const size_t order[] = {3, 1, 4};
    expect_pops(&q, &fx, order, 3);
    ilu_queue_destroy(&q);
}

/* xorshift: a fixed seed gives the same run everywhere */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Against a brute force over every queued invocation, with idle counts and
 * statistics changing between calls as the pool would change them. */
static void cold_pri_matches_brute_force(void **state)
{
    (void)state;
    static struct fixture fx;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        memset(&fx, 0, sizeof fx);
        rng_state = 0x9E3779B97F4A7C15ULL * seed;
        struct ilu_queue q;
        queue_open(&q, "cold_pri");
        struct ilu_invocation *queued[MAXN];
        size_t n = 0, next = 0;
        for (int step = 0; step < 800; step++) {
            uint64_t op = rnd() % 10;
            struct ilu_function *f = &fx.fns[rnd() % 8];
            if ((op < 4 || n == 0) && next < MAXN) {
                push(&q, mk(&fx, next, 0, (int)(f - fx.fns)));
                queued[n++] = &fx.invs[next++];
            } else if (op < 5 && n) {
                size_t k = rnd() % n;
                ilu_queue_remove(&q, queued[k]);
                queued[k] = queued[--n];
            } else if (op < 7) {
                f->n_idle = (uint32_t)(rnd() % 3 == 0 ? 1 + rnd() % 2 : 0);
            } else if (op < 8) {
                f->stats.exec_us.ewma = (double)(rnd() % 4) * 100; /* few values: many ties */
                f->stats.container_start_us.ewma = (double)(rnd() % 4) * 100;
            } else if (n) {
                struct ilu_invocation *got = ilu_queue_pop(&q, NULL);
                size_t k = 0;
                while (k < n && queued[k] != got)
                    k++;
                assert_true(k < n);
                queued[k] = queued[--n];
            }
            struct ilu_invocation *want = NULL;
            double want_us = 0;
            for (size_t i = 0; i < n; i++) {
                double us = ilu_queue_expected_us(queued[i]->fn);
                if (!want || us < want_us || (us == want_us && queued[i]->seq < want->seq)) {
                    want = queued[i];
                    want_us = us;
                }
            }
            assert_int_equal(ilu_queue_len(&q), n);
            assert_ptr_equal(ilu_queue_next(&q, NULL), want);
        }
        ilu_queue_destroy(&q); /* frees what is still queued in it */
    }
}

/* ---- the queue load --------------------------------------------------------- */

/* Each invocation adds its expected run as of its push (warm when a warm
 * container is free, else cold) and takes it away when it leaves. */
static void queue_load_sums_push_time_estimates(void **state)
{
    (void)state;
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    struct ilu_queue q;
    queue_open(&q, "fcfs");
    fx.fns[0].stats.exec_us.ewma = 100;
    fx.fns[0].stats.container_start_us.ewma = 1000;
    fx.fns[0].n_idle = 1;
    push(&q, mk(&fx, 0, 0, 0)); /* warm: 100 */
    fx.fns[0].n_idle = 0;
    push(&q, mk(&fx, 1, 0, 0)); /* cold: 1100 */
    push(&q, mk(&fx, 2, 0, 1)); /* unknown: 0 */
    assert_true(ilu_queue_load_us(&q) == 1200);
    fx.fns[0].n_idle = 3; /* a later change does not rewrite what was added */
    ilu_queue_remove(&q, &fx.invs[1]);
    assert_true(ilu_queue_load_us(&q) == 100);
    assert_ptr_equal(ilu_queue_pop(&q, NULL), &fx.invs[0]);
    assert_ptr_equal(ilu_queue_pop(&q, NULL), &fx.invs[2]);
    assert_true(ilu_queue_load_us(&q) == 0);
    ilu_queue_destroy(&q);
}

/* ---- through the worker ------------------------------------------------------ */

#define T0 (1 * SEC)

static void assert_near(double got, double want)
{
    if (got < want - 1e-6 || got > want + 1e-6)
        fail_msg("expected %.9f, got %.9f", want, got);
}

static double est(struct ilu_worker *w, const char *name)
{
    const struct ilu_function *fn = ilu_worker_function(w, name, "1");
    assert_non_null(fn);
    return ilu_worker_est_invoke_time(w, fn);
}

/* A: cold start 1 s, execution 100 ms; B: 500 ms and 200 ms; one CPU. */
static void est_invoke_time_follows_queue_and_containers(void **state)
{
    (void)state;
    struct fake_world fw;
    fake_world_init(&fw, T0);
    fw.cfg.container_resources.cpu_count = 1;
    fake_fn(&fw.be, "A-1")->cold_us = 1 * SEC;
    fake_fn(&fw.be, "A-1")->exec_us = 100 * MS;
    fake_fn(&fw.be, "B-1")->cold_us = 500 * MS;
    fake_fn(&fw.be, "B-1")->exec_us = 200 * MS;
    struct ilu_worker *w = fake_world_start(&fw);
    fake_register(w, "A", 128);
    fake_register(w, "B", 128);
    assert_null(ilu_worker_function_fqdn(w, "C-1"));
    assert_ptr_equal(ilu_worker_function_fqdn(w, "A-1"), ilu_worker_function(w, "A", "1"));
    /* nothing known, nothing queued */
    assert_near(est(w, "A"), 0);
    struct fake_result r[5] = {{0}};
    fake_invoke_ok(w, &fw.env, "A", "a0", &r[0]);
    fake_invoke_ok(w, &fw.env, "B", "b0", &r[1]);
    fake_settle(&fw.env, w);
    /* learnt: A start 1 s, exec 0.1 s; B 0.5 s, 0.2 s; both have an idle container */
    assert_near(est(w, "A"), 0.1);
    assert_near(est(w, "B"), 0.2);
    ilu_worker_clean(w, "clean");
    assert_near(est(w, "A"), 1.1); /* cold now */
    assert_near(est(w, "B"), 0.7);
    fake_invoke_ok(w, &fw.env, "A", "a1", &r[2]);
    fake_invoke_ok(w, &fw.env, "A", "a2", &r[3]);
    fake_invoke_ok(w, &fw.env, "B", "b1", &r[4]);
    /* queued, not dispatched yet (that happens after this callback): 3 > 1
     * free CPU, load 1.1 + 1.1 + 0.7 over min(1 CPU, 3) */
    assert_near(est(w, "A"), 2.9 + 1.1);
    /* a1 dispatched (cold start of A): 2 queued, no CPU free, load 1.8 */
    fake_advance(&fw.env, 0);
    assert_int_equal(fake_status(w, "cpu_queue_len"), 2);
    assert_near(est(w, "B"), 1.8 + 0.7);
    fake_settle(&fw.env, w);
    assert_near(est(w, "A"), 0.1);
    for (int i = 0; i < 5; i++) {
        assert_true(r[i].success);
        fake_result_clear(&r[i]);
    }
    fake_world_end(&fw);
}

/* cold_pri in the worker: b2 is queued when B has a free container (warm
 * 300 ms) and a2 when A's is busy (cold 1.1 s), so a choice fixed at push
 * would run b2 first. When a1 finishes, A's container is free again: a2
 * (warm 100 ms) goes first. */
static void cold_pri_in_the_worker_decides_at_dispatch(void **state)
{
    (void)state;
    struct fake_world fw;
    fake_world_init(&fw, T0);
    fw.cfg.container_resources.cpu_count = 1;
    snprintf(fw.cfg.invocation.queue_policy, sizeof fw.cfg.invocation.queue_policy, "cold_pri");
    fake_fn(&fw.be, "A-1")->cold_us = 1 * SEC;
    fake_fn(&fw.be, "A-1")->exec_us = 100 * MS;
    fake_fn(&fw.be, "B-1")->cold_us = 1 * SEC;
    fake_fn(&fw.be, "B-1")->exec_us = 300 * MS;
    struct ilu_worker *w = fake_world_start(&fw);
    fake_register(w, "A", 128);
    fake_register(w, "B", 128);
    struct fake_result r[5] = {{0}};
    fake_invoke_ok(w, &fw.env, "A", "a0", &r[0]);
    fake_invoke_ok(w, &fw.env, "B", "b0", &r[1]);
    fake_settle(&fw.env, w); /* one idle container each, times learnt */
    fake_invoke_ok(w, &fw.env, "A", "a1", &r[2]);
    fake_advance(&fw.env, 0); /* a1 takes A's container */
    assert_int_equal(ilu_worker_function(w, "A", "1")->n_idle, 0);
    fake_invoke_ok(w, &fw.env, "B", "b2", &r[4]);
    fake_invoke_ok(w, &fw.env, "A", "a2", &r[3]);
    fake_settle(&fw.env, w);
    uint64_t t = r[2].done_at;
    assert_int_equal(r[3].done_at, t + 100 * MS);
    assert_int_equal(r[4].done_at, t + 100 * MS + 300 * MS);
    assert_int_equal(r[3].kind, ILU_START_WARM);
    assert_int_equal(r[4].kind, ILU_START_WARM);
    for (int i = 0; i < 5; i++) {
        assert_true(r[i].success);
        fake_result_clear(&r[i]);
    }
    fake_world_end(&fw);
}

/* ---- configuration ------------------------------------------------------------ */

static void unknown_queue_policy_is_a_clear_startup_error(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    fake_config(&cfg);
    snprintf(cfg.invocation.queue_policy, sizeof cfg.invocation.queue_policy, "eedf");
    struct ilu_error err = {0};
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "invocation.queue_policy \"eedf\""));
    static const char *const names[] = {"fcfs", "minheap", "minheap_ed", "minheap_iat", "cold_pri", "none"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        assert_non_null(strstr(err.msg, names[i]));
        assert_non_null(ilu_queue_policy_find(names[i]));
    }
    /* the worker refuses to start with it, with the same sentence */
    struct fake_env f;
    struct fake_backend b;
    fake_env_init(&f, T0);
    fake_backend_init(&b, &f);
    struct ilu_error err2 = {0};
    assert_null(ilu_worker_new(&cfg, &f.env, &b.base, &f.log, &err2));
    assert_string_equal(err2.msg, err.msg);
    fake_backend_destroy(&b);
    fake_env_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(minheap_ed_orders_by_arrival_plus_exec),
        cmocka_unit_test(minheap_ed_key_is_fixed_at_push),
        cmocka_unit_test(minheap_iat_runs_most_frequent_first),
        cmocka_unit_test(minheap_iat_uses_the_inter_arrival_mean),
        cmocka_unit_test(none_is_fifo_whatever_the_stats),
        cmocka_unit_test(only_none_with_cpu_count_0_is_unlimited),
        cmocka_unit_test(none_with_cpu_count_0_has_no_concurrency_limit),
        cmocka_unit_test(cold_pri_reads_idle_containers_at_next),
        cmocka_unit_test(cold_pri_ties_unknown_and_removal),
        cmocka_unit_test(cold_pri_matches_brute_force),
        cmocka_unit_test(queue_load_sums_push_time_estimates),
        cmocka_unit_test(est_invoke_time_follows_queue_and_containers),
        cmocka_unit_test(cold_pri_in_the_worker_decides_at_dispatch),
        cmocka_unit_test(unknown_queue_policy_is_a_clear_startup_error),
    };
    return cmocka_run_group_tests_name("queue_policies", tests, NULL, NULL);
}
