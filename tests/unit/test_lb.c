/* Load-balancing policies called directly on hand-made worker arrays:
 * RoundRobin, LeastLoaded, CH-BL (consistent hashing with bounded loads),
 * and how each keeps to the workers eligible for a call (ilu_lb_eligible:
 * a GPU-only function only on workers with GPUs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/controller.h"
#include "controller/controller_config.h"
#include "core/policy_registry.h"

#define MAXW 8

struct cluster {
    struct ilu_ctl_worker w[MAXW];
    struct ilu_ctl_worker *p[MAXW];
    size_t n;
    struct ilu_controller_config cfg;
    const struct ilu_lb_policy_ops *ops;
    void *state;
};

/* Workers named by names[], 1 CPU, healthy, idle; policy created and told
 * about them. */
static void cluster_init(struct cluster *cl, const char *algorithm, const char *const *names, size_t n)
{
    memset(cl, 0, sizeof *cl);
    assert_true(n <= MAXW);
    ilu_controller_config_defaults(&cl->cfg);
    snprintf(cl->cfg.load_balancer.algorithm, sizeof cl->cfg.load_balancer.algorithm, "%s", algorithm);
    cl->ops = ilu_lb_policy_find(algorithm);
    assert_non_null(cl->ops);
    for (size_t i = 0; i < n; i++) {
        snprintf(cl->w[i].name, sizeof cl->w[i].name, "%s", names[i]);
        snprintf(cl->w[i].host, sizeof cl->w[i].host, "10.0.0.%zu", i + 1);
        cl->w[i].port = 8070;
        cl->w[i].cpus = 1;
        cl->w[i].health = ILU_WH_HEALTHY;
        cl->w[i].index = (unsigned)i;
        cl->p[i] = &cl->w[i];
    }
    cl->n = n;
    cl->state = cl->ops->create(&cl->cfg);
    assert_non_null(cl->state);
    cl->ops->workers_changed(cl->state, cl->p, cl->n);
}

static void cluster_end(struct cluster *cl)
{
    cl->ops->destroy(cl->state);
    cl->state = NULL;
}

/* A pick for a call with these needs (ILU_LB_NEEDS_*); what it picks is
 * always eligible. */
static long pick_needs(struct cluster *cl, const char *fqdn, unsigned needs)
{
    struct ilu_lb_call call = {.fqdn = fqdn, .needs = needs};
    long i = cl->ops->pick(cl->state, &call, cl->p, cl->n);
    assert_true(i >= -1 && i < (long)cl->n);
    if (i >= 0)
        assert_true(ilu_lb_eligible(&call, cl->p[i]));
    return i;
}

static long pick(struct cluster *cl, const char *fqdn)
{
    return pick_needs(cl, fqdn, 0);
}

static const struct ilu_lb_call F1 = {.fqdn = "f-1"};

static const char *pick_name(struct cluster *cl, const char *fqdn)
{
    long i = pick(cl, fqdn);
    return i < 0 ? "(none)" : cl->p[i]->name;
}

static const char *const ABC[] = {"a", "b", "c"};

/* ---- registry ---------------------------------------------------------------- */

static void lb_policies_are_found_by_name(void **state)
{
    (void)state;
    assert_string_equal(ilu_lb_policy_find("RoundRobin")->name, "RoundRobin");
    assert_string_equal(ilu_lb_policy_find("LeastLoaded")->name, "LeastLoaded");
    assert_string_equal(ilu_lb_policy_find("CH-BL")->name, "CH-BL");
    assert_null(ilu_lb_policy_find("Random"));
    assert_null(ilu_lb_policy_find(""));
    assert_string_equal(ilu_lb_policy_names(), "RoundRobin, LeastLoaded, CH-BL");
}

/* load = (this controller's in-flight + what the worker reported beyond it) / cpus */
static void worker_load_is_in_flight_plus_reported_per_cpu(void **state)
{
    (void)state;
    struct ilu_ctl_worker w = {.cpus = 4, .reported_load = 6, .in_flight = 2};
    assert_true(ilu_ctl_worker_load(&w) == 2.0);
    w.in_flight = 10;
    assert_true(ilu_ctl_worker_load(&w) == 4.0);
    w.cpus = 0; /* treated as one CPU */
    assert_true(ilu_ctl_worker_load(&w) == 16.0);
    w = (struct ilu_ctl_worker){.health = ILU_WH_UNKNOWN};
    assert_false(ilu_ctl_worker_routable(&w));
    w.health = ILU_WH_UNHEALTHY;
    assert_false(ilu_ctl_worker_routable(&w));
    w.health = ILU_WH_HEALTHY;
    assert_true(ilu_ctl_worker_routable(&w));
}

/* ---- RoundRobin ---------------------------------------------------------------- */

static void rr_cycles_over_all_healthy_workers(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl, "RoundRobin", ABC, 3);
    const long want[] = {0, 1, 2, 0, 1, 2, 0};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
        assert_int_equal(pick(&cl, k % 2 ? "f-1" : "g-1"), want[k]); /* the fqdn does not matter */
    cluster_end(&cl);
}

static void rr_skips_unhealthy_and_unknown_workers(void **state)
{
    (void)state;
    struct cluster cl;
    const char *const names[] = {"a", "b", "c", "d"};
    cluster_init(&cl, "RoundRobin", names, 4);
    cl.w[1].health = ILU_WH_UNHEALTHY;
    cl.w[3].health = ILU_WH_UNKNOWN;
    const long want[] = {0, 2, 0, 2, 0};
    for (size_t k = 0; k < 5; k++)
        assert_int_equal(pick(&cl, "f-1"), want[k]);
    /* last pick was 0: b is back and takes its turn right after */
    cl.w[1].health = ILU_WH_HEALTHY;
    assert_int_equal(pick(&cl, "f-1"), 1);
    assert_int_equal(pick(&cl, "f-1"), 2);
    assert_int_equal(pick(&cl, "f-1"), 0);
    cluster_end(&cl);
}

static void rr_without_routable_worker_is_minus_one(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl, "RoundRobin", ABC, 3);
    for (size_t i = 0; i < 3; i++)
        cl.w[i].health = i == 1 ? ILU_WH_UNKNOWN : ILU_WH_UNHEALTHY;
    assert_int_equal(pick(&cl, "f-1"), -1);
    assert_int_equal(cl.ops->pick(cl.state, &F1, cl.p, 0), -1);
    cl.w[2].health = ILU_WH_HEALTHY;
    assert_int_equal(pick(&cl, "f-1"), 2);
    assert_int_equal(pick(&cl, "f-1"), 2);
    cluster_end(&cl);
}

/* ---- LeastLoaded ----------------------------------------------------------------- */

static void ll_picks_the_lowest_load_per_cpu(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl, "LeastLoaded", ABC, 3);
    cl.w[0].cpus = 4, cl.w[0].reported_load = 4; /* 1.0 per CPU */
    cl.w[1].cpus = 1, cl.w[1].reported_load = 2; /* 2.0 */
    cl.w[2].cpus = 2, cl.w[2].in_flight = 1;     /* 0.5 */
    for (int k = 0; k < 4; k++)
        assert_int_equal(pick(&cl, "f-1"), 2);
    cl.w[2].in_flight = 3; /* 1.5: a (1.0) is now the least loaded */
    for (int k = 0; k < 4; k++)
        assert_int_equal(pick(&cl, "f-1"), 0);
    cl.w[0].in_flight = 9; /* in flight counts when above the report: 2.25 */
    for (int k = 0; k < 4; k++)
        assert_int_equal(pick(&cl, "f-1"), 2);
    cl.w[2].health = ILU_WH_UNHEALTHY; /* the least loaded, but not routable: b (2.0) */
    for (int k = 0; k < 4; k++)
        assert_int_equal(pick(&cl, "f-1"), 1);
    cluster_end(&cl);
}

static void ll_spreads_ties_over_equal_workers(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl, "LeastLoaded", ABC, 3);
    for (size_t i = 0; i < 3; i++)
        cl.w[i].reported_load = 5;
    const long want[] = {0, 1, 2, 0, 1, 2};
    for (size_t k = 0; k < 6; k++)
        assert_int_equal(pick(&cl, "f-1"), want[k]);
    /* a tie between two of three: only those two share it */
    cl.w[1].reported_load = 7;
    unsigned got[3] = {0};
    for (int k = 0; k < 6; k++)
        got[pick(&cl, "f-1")]++;
    assert_int_equal(got[1], 0);
    assert_int_equal(got[0] + got[2], 6);
    assert_true(got[0] >= 1 && got[2] >= 1);
    cluster_end(&cl);
}

/* "Ties go round robin, so equal workers share" (least_loaded.c): with an
 * unhealthy worker between two tied ones the share stays even. (Regression
 * test: the tie cursor once advanced one position per pick over all workers,
 * giving the worker after the unhealthy one 4 picks in 6.) */
static void ll_ties_share_evenly_around_an_unhealthy_worker(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl, "LeastLoaded", ABC, 3);
    cl.w[1].health = ILU_WH_UNHEALTHY;
    unsigned got[3] = {0};
    for (int k = 0; k < 6; k++)
        got[pick(&cl, "f-1")]++;
    cluster_end(&cl);
    print_message("LeastLoaded ties around an unhealthy worker: a %u, b %u, c %u of 6\n", got[0], got[1], got[2]);
    assert_int_equal(got[1], 0);
    assert_int_equal(got[0], 3);
    assert_int_equal(got[2], 3);
}

static void ll_without_routable_worker_is_minus_one(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl, "LeastLoaded", ABC, 3);
    for (size_t i = 0; i < 3; i++)
        cl.w[i].health = ILU_WH_UNHEALTHY;
    assert_int_equal(pick(&cl, "f-1"), -1);
    assert_int_equal(cl.ops->pick(cl.state, &F1, cl.p, 0), -1);
    cluster_end(&cl);
}

/* ---- CH-BL --------------------------------------------------------------------------- */

static void fqdn_name(char *buf, size_t n, int k)
{
    snprintf(buf, n, "fn%d-1", k);
}

static void chbl_same_fqdn_same_worker_while_loads_are_equal(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl, "CH-BL", ABC, 3);
    const unsigned loads[] = {0, 1, 2, 10, 50};
    for (int k = 0; k < 40; k++) {
        char f[32];
        fqdn_name(f, sizeof f, k);
        long home = pick(&cl, f);
        assert_true(home >= 0);
        for (size_t l = 0; l < sizeof loads / sizeof loads[0]; l++) {
            for (size_t i = 0; i < 3; i++)
                cl.w[i].reported_load = loads[l];
            for (int r = 0; r < 3; r++)
                assert_int_equal(pick(&cl, f), home);
        }
        for (size_t i = 0; i < 3; i++)
            cl.w[i].reported_load = 0;
    }
    cluster_end(&cl);
}

static void chbl_spreads_different_functions_over_workers(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl, "CH-BL", ABC, 3);
    unsigned got[3] = {0};
    for (int k = 0; k < 300; k++) {
        char f[32];
        fqdn_name(f, sizeof f, k);
        got[pick(&cl, f)]++;
    }
    for (size_t i = 0; i < 3; i++) {
        print_message("CH-BL: worker %s got %u of 300\n", cl.w[i].name, got[i]);
        assert_true(got[i] >= 60 && got[i] <= 141); /* 20% .. 47% */
    }
    assert_int_equal(got[0] + got[1] + got[2], 300);
    cluster_end(&cl);
}

/* The next distinct worker clockwise is the one the function uses when its
 * home is not routable; an overloaded home must hand over to that one. */
static void chbl_overloaded_home_moves_to_next_worker_and_comes_back(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl, "CH-BL", ABC, 3);
    for (int k = 0; k < 20; k++) {
        char f[32];
        fqdn_name(f, sizeof f, k);
        for (size_t i = 0; i < 3; i++)
            cl.w[i].reported_load = 10;
        long home = pick(&cl, f);
        cl.w[home].health = ILU_WH_UNHEALTHY;
        long next = pick(&cl, f);
        cl.w[home].health = ILU_WH_HEALTHY;
        assert_true(next >= 0 && next != home);
        long third = 3 - home - next;

        /* the bound is Mirrokni et al.'s capacity ceil(c (m + 1) / n) */
        /* loads 14,10,10: ceil(1.25 x 35 / 3) = ceil(14.58) = 15 >= 14 + 1: stays */
        cl.w[home].reported_load = 14;
        assert_int_equal(pick(&cl, f), home);
        /* 15,10,10: ceil(1.25 x 36 / 3) = 15 < 15 + 1: moves to next */
        cl.w[home].reported_load = 15;
        assert_int_equal(pick(&cl, f), next);
        cl.w[home].reported_load = 20; /* far over: still next, not third */
        assert_int_equal(pick(&cl, f), next);
        /* in-flight invocations count as load too */
        cl.w[home].reported_load = 10;
        cl.w[home].in_flight = 20;
        assert_int_equal(pick(&cl, f), next);
        cl.w[home].in_flight = 0;
        /* load dropped: back home */
        assert_int_equal(pick(&cl, f), home);
        /* home and next both over the bound (30,30,10: ceil(29.58) = 30 < 31): third */
        cl.w[home].reported_load = 30;
        cl.w[next].reported_load = 30;
        assert_int_equal(pick(&cl, f), third);
        /* small loads (1,1,1: ceil(1.67) = 2 >= 1 + 1): home */
        cl.w[home].reported_load = 1;
        cl.w[next].reported_load = 1;
        cl.w[third].reported_load = 1;
        assert_int_equal(pick(&cl, f), home);
    }
    cluster_end(&cl);
}

/* The bound is per CPU: 12 running on a 4-CPU home is 3 per CPU. */
static void chbl_bound_is_per_cpu(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl, "CH-BL", ABC, 3);
    const char *f = "hot-1";
    long home = pick(&cl, f);
    cl.w[home].health = ILU_WH_UNHEALTHY;
    long next = pick(&cl, f);
    cl.w[home].health = ILU_WH_HEALTHY;
    for (size_t i = 0; i < 3; i++)
        cl.w[i].reported_load = 3;
    /* total 18 over 6 CPUs: bound 1.25 x 19 / 6 = 3.96 >= 12/4 + 1/4 */
    cl.w[home].cpus = 4;
    cl.w[home].reported_load = 12;
    assert_int_equal(pick(&cl, f), home);
    /* the same 12 on one CPU: total 18 over 3 CPUs, bound 7.92 < 13 */
    cl.w[home].cpus = 1;
    assert_int_equal(pick(&cl, f), next);
    cluster_end(&cl);
}

static void chbl_unhealthy_home_moves_only_its_functions_and_they_come_back(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl, "CH-BL", ABC, 3);
    long home[60];
    for (int k = 0; k < 60; k++) {
        char f[32];
        fqdn_name(f, sizeof f, k);
        home[k] = pick(&cl, f);
    }
    for (size_t down = 0; down < 3; down++) {
        cl.w[down].health = ILU_WH_UNHEALTHY;
        unsigned moved = 0;
        for (int k = 0; k < 60; k++) {
            char f[32];
            fqdn_name(f, sizeof f, k);
            long now = pick(&cl, f);
            if (home[k] == (long)down) {
                assert_true(now >= 0 && now != (long)down);
                moved++;
            } else {
                assert_int_equal(now, home[k]); /* others keep their worker */
            }
        }
        assert_true(moved > 0);
        cl.w[down].health = ILU_WH_HEALTHY;
        for (int k = 0; k < 60; k++) {
            char f[32];
            fqdn_name(f, sizeof f, k);
            assert_int_equal(pick(&cl, f), home[k]); /* back to the same worker */
        }
    }
    cluster_end(&cl);
}

static void chbl_mapping_depends_only_on_worker_names(void **state)
{
    (void)state;
    struct cluster x, y, z;
    cluster_init(&x, "CH-BL", ABC, 3);
    const char *const cab[] = {"c", "a", "b"};
    cluster_init(&y, "CH-BL", cab, 3);
    const char *const abcd[] = {"a", "b", "c", "d"};
    cluster_init(&z, "CH-BL", abcd, 4);
    unsigned to_d = 0;
    for (int k = 0; k < 200; k++) {
        char f[32];
        fqdn_name(f, sizeof f, k);
        char nx[64];
        snprintf(nx, sizeof nx, "%s", pick_name(&x, f));
        assert_string_equal(pick_name(&y, f), nx);
        /* a worker joining takes some functions, the rest do not move */
        const char *nz = pick_name(&z, f);
        if (strcmp(nz, nx)) {
            assert_string_equal(nz, "d");
            to_d++;
        }
    }
    assert_true(to_d >= 20 && to_d <= 90); /* about a quarter of 200 */
    /* the ring is rebuilt by workers_changed: reorder y's array and tell it */
    struct ilu_ctl_worker *tmp = y.p[0];
    y.p[0] = y.p[2];
    y.p[2] = tmp;
    y.ops->workers_changed(y.state, y.p, y.n);
    for (int k = 0; k < 200; k++) {
        char f[32];
        fqdn_name(f, sizeof f, k);
        char nx[64];
        snprintf(nx, sizeof nx, "%s", pick_name(&x, f));
        assert_string_equal(pick_name(&y, f), nx);
    }
    cluster_end(&x);
    cluster_end(&y);
    cluster_end(&z);
}

static void chbl_without_routable_worker_is_minus_one(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl, "CH-BL", ABC, 3);
    for (size_t i = 0; i < 3; i++)
        cl.w[i].health = i == 0 ? ILU_WH_UNKNOWN : ILU_WH_UNHEALTHY;
    assert_int_equal(pick(&cl, "f-1"), -1);
    cl.w[1].health = ILU_WH_HEALTHY; /* the only one: every function goes there */
    for (int k = 0; k < 20; k++) {
        char f[32];
        fqdn_name(f, sizeof f, k);
        assert_int_equal(pick(&cl, f), 1);
    }
    cluster_end(&cl);

    /* no worker ever: an empty ring */
    cluster_init(&cl, "CH-BL", ABC, 0);
    assert_int_equal(cl.ops->pick(cl.state, &F1, cl.p, 0), -1);
    cluster_end(&cl);
    /* created but never told about workers */
    struct ilu_controller_config cfg;
    ilu_controller_config_defaults(&cfg);
    const struct ilu_lb_policy_ops *ops = ilu_lb_policy_find("CH-BL");
    void *s = ops->create(&cfg);
    struct ilu_ctl_worker w = {.name = "a", .cpus = 1, .health = ILU_WH_HEALTHY};
    struct ilu_ctl_worker *p[] = {&w};
    assert_int_equal(ops->pick(s, &F1, p, 1), -1);
    ops->destroy(s);
}

static void chbl_single_vnode_still_works(void **state)
{
    (void)state;
    struct cluster cl;
    memset(&cl, 0, sizeof cl);
    ilu_controller_config_defaults(&cl.cfg);
    cl.cfg.load_balancer.vnodes = 1;
    cl.ops = ilu_lb_policy_find("CH-BL");
    for (size_t i = 0; i < 3; i++) {
        snprintf(cl.w[i].name, sizeof cl.w[i].name, "%s", ABC[i]);
        cl.w[i].cpus = 1;
        cl.w[i].health = ILU_WH_HEALTHY;
        cl.p[i] = &cl.w[i];
    }
    cl.n = 3;
    cl.state = cl.ops->create(&cl.cfg);
    cl.ops->workers_changed(cl.state, cl.p, cl.n);
    for (int k = 0; k < 30; k++) {
        char f[32];
        fqdn_name(f, sizeof f, k);
        long home = pick(&cl, f);
        assert_true(home >= 0);
        assert_int_equal(pick(&cl, f), home);
        cl.w[home].health = ILU_WH_UNHEALTHY;
        long next = pick(&cl, f);
        assert_true(next >= 0 && next != home);
        cl.w[home].health = ILU_WH_HEALTHY;
    }
    cluster_end(&cl);
}

/* ---- eligibility: GPU-only functions on workers with GPUs ----------------------- */

static const char *const MIX[] = {"g1", "c1", "g2", "c2"}; /* g*: with GPUs */

static void mixed_init(struct cluster *cl, const char *algorithm)
{
    cluster_init(cl, algorithm, MIX, 4);
    cl->w[0].gpus = 1;
    cl->w[2].gpus = 2;
}

static void eligible_is_routable_and_able_to_run_it(void **state)
{
    (void)state;
    struct ilu_ctl_worker w = {.health = ILU_WH_HEALTHY};
    struct ilu_lb_call cpu = {.fqdn = "f-1"}, gpu = {.fqdn = "g-1", .needs = ILU_LB_NEEDS_GPU};
    assert_true(ilu_lb_eligible(&cpu, &w));
    assert_false(ilu_lb_eligible(&gpu, &w));
    w.gpus = 1;
    assert_true(ilu_lb_eligible(&gpu, &w));
    w.health = ILU_WH_UNKNOWN;
    assert_false(ilu_lb_eligible(&gpu, &w));
    assert_false(ilu_lb_eligible(&cpu, &w));
}

/* Every policy: a GPU call lands on g1 or g2 only, a CPU call anywhere (all
 * four get some), none with GPUs healthy: -1. */
static void every_policy_keeps_gpu_calls_on_gpu_workers(void **state)
{
    (void)state;
    for (size_t k = 0; k < 3; k++) {
        const char *algorithm = ilu_lb_policy_find(k == 0 ? "RoundRobin" : k == 1 ? "LeastLoaded" : "CH-BL")->name;
        struct cluster cl;
        mixed_init(&cl, algorithm);
        unsigned gpu_got[4] = {0}, cpu_got[4] = {0};
        for (int i = 0; i < 200; i++) {
            char f[32];
            fqdn_name(f, sizeof f, i);
            long g = pick_needs(&cl, f, ILU_LB_NEEDS_GPU), c = pick(&cl, f);
            assert_true(g == 0 || g == 2);
            assert_true(c >= 0);
            gpu_got[g]++;
            cpu_got[c]++;
        }
        assert_true(gpu_got[0] > 0 && gpu_got[2] > 0);
        for (int i = 0; i < 4; i++)
            assert_true(cpu_got[i] > 0);
        /* g2 down: g1 only; both down: none, though c1 and c2 are healthy */
        cl.w[2].health = ILU_WH_UNHEALTHY;
        for (int i = 0; i < 10; i++)
            assert_int_equal(pick_needs(&cl, "g-1", ILU_LB_NEEDS_GPU), 0);
        cl.w[0].health = ILU_WH_UNKNOWN;
        assert_int_equal(pick_needs(&cl, "g-1", ILU_LB_NEEDS_GPU), -1);
        assert_true(pick(&cl, "f-1") == 1 || pick(&cl, "f-1") == 3);
        cluster_end(&cl);
    }
}

/* Round robin keeps a cursor per class of needs: GPU and CPU calls in turn
 * each cycle over their own workers (one cursor would send every GPU call
 * to g1 and every CPU call to g2 on g1, g2, c1, c2). */
static void rr_alternating_gpu_and_cpu_calls_each_go_round(void **state)
{
    (void)state;
    static const char *const order[] = {"g1", "g2", "c1", "c2"};
    struct cluster cl;
    cluster_init(&cl, "RoundRobin", order, 4);
    cl.w[0].gpus = cl.w[1].gpus = 1;
    const char *want_gpu[] = {"g1", "g2", "g1", "g2"}, *want_cpu[] = {"g1", "g2", "c1", "c2"};
    for (int k = 0; k < 4; k++) {
        long g = pick_needs(&cl, "g-1", ILU_LB_NEEDS_GPU);
        assert_string_equal(cl.p[g]->name, want_gpu[k]);
        assert_string_equal(pick_name(&cl, "f-1"), want_cpu[k]);
    }
    cluster_end(&cl);
}

/* LeastLoaded: the least loaded worker with GPUs, even when a worker
 * without GPUs is idler. */
static void ll_gpu_call_takes_the_least_loaded_gpu_worker(void **state)
{
    (void)state;
    struct cluster cl;
    mixed_init(&cl, "LeastLoaded");
    cl.w[0].in_flight = 3;
    cl.w[2].in_flight = 2; /* c1 and c2 idle */
    assert_int_equal(pick_needs(&cl, "g-1", ILU_LB_NEEDS_GPU), 2);
    long c = pick(&cl, "f-1");
    assert_true(c == 1 || c == 3);
    cluster_end(&cl);
}

/* CH-BL: a GPU function has a home among the GPU workers and keeps it
 * (also when workers without GPUs join), and its bound is the mean load of
 * the GPU workers, not of the whole cluster. */
static void chbl_gpu_function_keeps_a_home_among_gpu_workers(void **state)
{
    (void)state;
    struct cluster cl;
    mixed_init(&cl, "CH-BL");
    long home[40];
    for (int k = 0; k < 40; k++) {
        char f[32];
        fqdn_name(f, sizeof f, k);
        home[k] = pick_needs(&cl, f, ILU_LB_NEEDS_GPU);
        assert_true(home[k] == 0 || home[k] == 2);
        for (int r = 0; r < 3; r++)
            assert_int_equal(pick_needs(&cl, f, ILU_LB_NEEDS_GPU), home[k]);
    }
    /* two workers without GPUs join: no GPU function moves */
    static const char *const more[] = {"c3", "c4"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(cl.w[4 + i].name, sizeof cl.w[4 + i].name, "%s", more[i]);
        cl.w[4 + i].cpus = 1;
        cl.w[4 + i].health = ILU_WH_HEALTHY;
        cl.p[4 + i] = &cl.w[4 + i];
    }
    cl.n = 6;
    cl.ops->workers_changed(cl.state, cl.p, cl.n);
    for (int k = 0; k < 40; k++) {
        char f[32];
        fqdn_name(f, sizeof f, k);
        assert_int_equal(pick_needs(&cl, f, ILU_LB_NEEDS_GPU), home[k]);
    }
    /* the bound is over the GPU workers: home 1 in flight, g2 none, the
     * workers without GPUs idle. Capacity ceil(1.25 x (1 + 1) / 2) = 2 and
     * 1 + 1 fits: it stays (with all six workers' mean, ceil(1.25 x 2 / 6)
     * = 1, it would go to g2). */
    int k = 0;
    while (home[k] != 0)
        k++;
    char f[32];
    fqdn_name(f, sizeof f, k);
    cl.w[0].in_flight = 1;
    assert_int_equal(pick_needs(&cl, f, ILU_LB_NEEDS_GPU), 0);
    cl.w[2].in_flight = 1;
    cl.w[0].in_flight = 3; /* 3 + 1 <= ceil(1.25 x 5 / 2) = 4 */
    assert_int_equal(pick_needs(&cl, f, ILU_LB_NEEDS_GPU), 0);
    cl.w[0].in_flight = 4; /* 4 + 1 > ceil(1.25 x 6 / 2) = 4: on to g2, never to a worker without GPUs */
    assert_int_equal(pick_needs(&cl, f, ILU_LB_NEEDS_GPU), 2);
    cluster_end(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lb_policies_are_found_by_name),
        cmocka_unit_test(worker_load_is_in_flight_plus_reported_per_cpu),
        cmocka_unit_test(rr_cycles_over_all_healthy_workers),
        cmocka_unit_test(rr_skips_unhealthy_and_unknown_workers),
        cmocka_unit_test(rr_without_routable_worker_is_minus_one),
        cmocka_unit_test(ll_picks_the_lowest_load_per_cpu),
        cmocka_unit_test(ll_spreads_ties_over_equal_workers),
        cmocka_unit_test(ll_ties_share_evenly_around_an_unhealthy_worker),
        cmocka_unit_test(ll_without_routable_worker_is_minus_one),
        cmocka_unit_test(chbl_same_fqdn_same_worker_while_loads_are_equal),
        cmocka_unit_test(chbl_spreads_different_functions_over_workers),
        cmocka_unit_test(chbl_overloaded_home_moves_to_next_worker_and_comes_back),
        cmocka_unit_test(chbl_bound_is_per_cpu),
        cmocka_unit_test(chbl_unhealthy_home_moves_only_its_functions_and_they_come_back),
        cmocka_unit_test(chbl_mapping_depends_only_on_worker_names),
        cmocka_unit_test(chbl_without_routable_worker_is_minus_one),
        cmocka_unit_test(chbl_single_vnode_still_works),
        cmocka_unit_test(eligible_is_routable_and_able_to_run_it),
        cmocka_unit_test(every_policy_keeps_gpu_calls_on_gpu_workers),
        cmocka_unit_test(rr_alternating_gpu_and_cpu_calls_each_go_round),
        cmocka_unit_test(ll_gpu_call_takes_the_least_loaded_gpu_worker),
        cmocka_unit_test(chbl_gpu_function_keeps_a_home_among_gpu_workers),
    };
    return cmocka_run_group_tests_name("lb", tests, NULL, NULL);
}
