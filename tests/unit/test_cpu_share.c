/* Processor sharing of a simulated host's CPUs (backend/sim/cpu_share.h) on
 * a bare sim_env. Every expected time is worked out by hand in the comment
 * beside it: C cores, D the total demand; above C every activity runs at
 * C/D. Times are microseconds of virtual time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "backend/sim/cpu_share.h"
#include "sim/sim_env.h"

#define MS 1000ULL

struct host {
    struct ilu_sim_env env;
    struct ilu_cpu_share *s;
};

struct job {
    struct host *h;
    uint64_t work;
    double demand;
    uint64_t started, done_at;
    unsigned calls;
    struct ilu_cpu_task *t;
    /* what its done callback does besides noting the time */
    struct job *then_start;
    struct job *then_cancel;
};

static void host_init(struct host *h, double cores)
{
    ilu_sim_env_init(&h->env, 0);
    h->s = ilu_cpu_share_new(&h->env, cores);
    assert_non_null(h->s);
}

static void host_end(struct host *h)
{
    ilu_cpu_share_free(h->s);
    ilu_sim_env_destroy(&h->env);
}

static void job_start(struct job *j);

static void job_done(void *arg)
{
    struct job *j = arg;
    j->calls++;
    j->done_at = j->h->env.now_us;
    j->t = NULL;
    if (j->then_cancel) {
        ilu_cpu_share_cancel(j->h->s, j->then_cancel->t);
        j->then_cancel->t = NULL;
    }
    if (j->then_start)
        job_start(j->then_start);
}

static void job_start(struct job *j)
{
    j->started = j->h->env.now_us;
    j->t = ilu_cpu_share_start(j->h->s, j->work, j->demand, job_done, j);
    assert_non_null(j->t);
}

static void job_start_cb(void *arg)
{
    job_start(arg);
}

static void job_cancel_cb(void *arg)
{
    struct job *j = arg;
    ilu_cpu_share_cancel(j->h->s, j->t);
    j->t = NULL;
}

static struct job job(struct host *h, uint64_t work, double demand)
{
    return (struct job){.h = h, .work = work, .demand = demand};
}

static void run(struct host *h)
{
    while (ilu_sim_env_step(&h->env))
        ;
    assert_int_equal(ilu_cpu_share_running(h->s), 0);
    assert_true(ilu_cpu_share_demand(h->s) == 0);
}

/* ---- the hand-computed cases ---------------------------------------------- */

static void one_task_alone_takes_its_work(void **state)
{
    struct host h;
    host_init(&h, 1);
    struct job a = job(&h, 10 * MS, 1.0);
    job_start(&a);
    assert_int_equal(ilu_cpu_share_running(h.s), 1);
    assert_true(ilu_cpu_share_demand(h.s) == 1.0);
    assert_true(ilu_cpu_share_rate(h.s) == 1.0);
    assert_int_equal(ilu_sim_env_next_due(&h.env), 10 * MS);
    run(&h);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.done_at, 10 * MS);
    /* the host empty again: the next one alone takes its work from now */
    struct job b = job(&h, 7 * MS, 1.0);
    job_start(&b);
    run(&h);
    assert_int_equal(b.done_at, 17 * MS);
    host_end(&h);
}

/* 2 x demand 1 on 1 core: D = 2, rate 1/2, each takes 2 x 10 ms. */
static void two_tasks_on_one_core_take_twice(void **state)
{
    struct host h;
    host_init(&h, 1);
    struct job a = job(&h, 10 * MS, 1.0), b = job(&h, 10 * MS, 1.0);
    job_start(&a);
    job_start(&b);
    assert_true(ilu_cpu_share_demand(h.s) == 2.0);
    assert_true(ilu_cpu_share_rate(h.s) == 0.5);
    run(&h);
    assert_int_equal(a.done_at, 20 * MS);
    assert_int_equal(b.done_at, 20 * MS);
    host_end(&h);
}

/* 3 x demand 1 on 2 cores: rate 2/3, 30 ms of work take 45 ms. */
static void three_tasks_on_two_cores_take_one_and_a_half(void **state)
{
    struct host h;
    host_init(&h, 2);
    struct job j[3];
    for (int i = 0; i < 3; i++) {
        j[i] = job(&h, 30 * MS, 1.0);
        job_start(&j[i]);
    }
    run(&h);
    for (int i = 0; i < 3; i++)
        assert_int_equal(j[i].done_at, 45 * MS);
    host_end(&h);
}

/* 2 x demand 0.5 on 1 core: D = 1 = C, no slowdown. */
static void two_half_demands_on_one_core_do_not_slow_down(void **state)
{
    struct host h;
    host_init(&h, 1);
    struct job a = job(&h, 10 * MS, 0.5), b = job(&h, 10 * MS, 0.5);
    job_start(&a);
    job_start(&b);
    assert_true(ilu_cpu_share_rate(h.s) == 1.0);
    run(&h);
    assert_int_equal(a.done_at, 10 * MS);
    assert_int_equal(b.done_at, 10 * MS);
    host_end(&h);
}

/* 1 core. A (20 ms) alone 0..10 ms: 10 ms done. B (20 ms) joins: rate 1/2;
 * A's last 10 ms take 20 ms -> A at 30 ms, B then has 10 ms left -> 40 ms. */
static void a_task_joining_later_shares_from_then_on(void **state)
{
    struct host h;
    host_init(&h, 1);
    struct job a = job(&h, 20 * MS, 1.0), b = job(&h, 20 * MS, 1.0);
    job_start(&a);
    assert_non_null(ilu_sim_env_at(&h.env, 10 * MS, job_start_cb, &b));
    run(&h);
    assert_int_equal(b.started, 10 * MS);
    assert_int_equal(a.done_at, 30 * MS);
    assert_int_equal(b.done_at, 40 * MS);
    host_end(&h);
}

/* 1 core, 10 ms and 30 ms together: both at 1/2 until the first is done at
 * 20 ms (the second has 10 ms done), then the second alone: 20 ms more. */
static void different_works_finish_at_their_own_times(void **state)
{
    struct host h;
    host_init(&h, 1);
    struct job a = job(&h, 10 * MS, 1.0), b = job(&h, 30 * MS, 1.0);
    job_start(&b); /* started first, finishes last */
    job_start(&a);
    run(&h);
    assert_int_equal(a.done_at, 20 * MS);
    assert_int_equal(b.done_at, 40 * MS);
    host_end(&h);
}

/* 1 core, A and B of 20 ms. B cancelled at 10 ms: A had 5 ms done, its
 * other 15 ms alone -> 25 ms. B's callback never runs. */
static void cancel_removes_the_load_from_then_on(void **state)
{
    struct host h;
    host_init(&h, 1);
    struct job a = job(&h, 20 * MS, 1.0), b = job(&h, 20 * MS, 1.0);
    job_start(&a);
    job_start(&b);
    assert_non_null(ilu_sim_env_at(&h.env, 10 * MS, job_cancel_cb, &b));
    run(&h);
    assert_int_equal(a.done_at, 25 * MS);
    assert_int_equal(b.calls, 0);
    /* cancel NULL is ignored */
    ilu_cpu_share_cancel(h.s, NULL);
    host_end(&h);
}

/* 1 core. A (10 ms) and B (30 ms) from 0: A at 20 ms, B has 10 ms done. A's
 * callback starts C (10 ms): B and C at 1/2, C done at 40 ms; B has 10 ms
 * left alone -> 50 ms. */
static void a_done_callback_may_start_a_task(void **state)
{
    struct host h;
    host_init(&h, 1);
    struct job a = job(&h, 10 * MS, 1.0), b = job(&h, 30 * MS, 1.0), c = job(&h, 10 * MS, 1.0);
    a.then_start = &c;
    job_start(&a);
    job_start(&b);
    run(&h);
    assert_int_equal(a.done_at, 20 * MS);
    assert_int_equal(c.started, 20 * MS);
    assert_int_equal(c.done_at, 40 * MS);
    assert_int_equal(b.done_at, 50 * MS);
    host_end(&h);
}

/* 1 core, X and Y (10 ms) and Z (40 ms): rate 1/3, X and Y done together at
 * 30 ms, X first (started first). X's callback cancels Y, whose callback
 * then never runs. Z has 30 ms left alone -> 60 ms. And a callback that
 * starts a task of no work: it is done in the same microsecond. */
static void a_done_callback_may_cancel_a_task_due_at_the_same_instant(void **state)
{
    struct host h;
    host_init(&h, 1);
    struct job x = job(&h, 10 * MS, 1.0), y = job(&h, 10 * MS, 1.0), z = job(&h, 40 * MS, 1.0), nil = job(&h, 0, 1.0);
    x.then_cancel = &y;
    x.then_start = &nil;
    job_start(&x);
    job_start(&y);
    job_start(&z);
    run(&h);
    assert_int_equal(x.done_at, 30 * MS);
    assert_int_equal(y.calls, 0);
    assert_int_equal(nil.calls, 1);
    assert_int_equal(nil.done_at, 30 * MS);
    /* nil (demand 1, no work) shared the core for no time at all */
    assert_int_equal(z.done_at, 60 * MS);
    host_end(&h);
}

/* 2 cores, X and Y (1001 us) and Z (3000 us), demand 1: rate 2/3, X and Y
 * done at 1501.5 us, both reported at 1502 (X first). X's callback cancels
 * Y, done but not reported yet: Y's callback never runs. Z had 1001 us
 * done at 1501.5, the rest alone: done at 3500.5 -> 3501 (the load of X
 * and Y lifted at 1501.5, not at their reports). */
static void a_done_callback_may_cancel_a_task_done_in_the_same_microsecond(void **state)
{
    struct host h;
    host_init(&h, 2);
    struct job x = job(&h, 1001, 1.0), y = job(&h, 1001, 1.0), z = job(&h, 3000, 1.0);
    x.then_cancel = &y;
    job_start(&x);
    job_start(&y);
    job_start(&z);
    ilu_sim_env_run_until(&h.env, 1502);
    assert_int_equal(x.done_at, 1502);
    assert_int_equal(y.calls, 0);
    assert_int_equal(ilu_cpu_share_running(h.s), 1);
    run(&h);
    assert_int_equal(y.calls, 0);
    assert_int_equal(z.done_at, 3501);
    host_end(&h);
}

/* 1.5 cores: 2 x demand 1 run at 3/4 (30 ms -> 40 ms); 3 x demand 1 at 1/2
 * (30 ms -> 60 ms). A demand above the host's cores counts as all of them:
 * a demand-4 task alone still takes its work. */
static void fractional_cores(void **state)
{
    struct host h;
    host_init(&h, 1.5);
    struct job two[2], three[3];
    for (int i = 0; i < 2; i++) {
        two[i] = job(&h, 30 * MS, 1.0);
        job_start(&two[i]);
    }
    run(&h);
    for (int i = 0; i < 2; i++)
        assert_int_equal(two[i].done_at, 40 * MS);
    for (int i = 0; i < 3; i++) {
        three[i] = job(&h, 30 * MS, 1.0);
        job_start(&three[i]);
    }
    run(&h);
    for (int i = 0; i < 3; i++)
        assert_int_equal(three[i].done_at, 40 * MS + 60 * MS);
    struct job big = job(&h, 10 * MS, 4.0);
    job_start(&big);
    assert_true(ilu_cpu_share_demand(h.s) == 1.5);
    run(&h);
    assert_int_equal(big.done_at, 100 * MS + 10 * MS);
    host_end(&h);
}

/* Demand 0 adds no load: on 1 core, a CPU-bound 10 ms task beside five
 * demand-0 ones is still done at 10 ms, and so are they. Negative and NaN
 * demands count as 0. */
static void demand_zero_never_slows(void **state)
{
    struct host h;
    host_init(&h, 1);
    struct job a = job(&h, 10 * MS, 1.0), idle[7];
    job_start(&a);
    for (int i = 0; i < 7; i++) {
        idle[i] = job(&h, 10 * MS, i == 5 ? -1.0 : i == 6 ? NAN : 0.0);
        job_start(&idle[i]);
    }
    assert_true(ilu_cpu_share_demand(h.s) == 1.0);
    assert_int_equal(ilu_cpu_share_running(h.s), 8);
    run(&h);
    assert_int_equal(a.done_at, 10 * MS);
    for (int i = 0; i < 7; i++)
        assert_int_equal(idle[i].done_at, 10 * MS);
    host_end(&h);
}

/* A completion between two microseconds lands on the next one: 3 x 1001 us
 * on 2 cores take 1501.5 us -> 1502. */
static void completions_are_rounded_up_to_whole_microseconds(void **state)
{
    struct host h;
    host_init(&h, 2);
    struct job j[3];
    for (int i = 0; i < 3; i++) {
        j[i] = job(&h, 1001, 1.0);
        job_start(&j[i]);
    }
    run(&h);
    for (int i = 0; i < 3; i++)
        assert_int_equal(j[i].done_at, 1502);
    host_end(&h);
}

/* A long busy period (V passes 2^30 and is brought back near 0): 1 core, L
 * of 3e9 us from 0, and three 1 ms tasks at 1e9, 2e9 and 2.5e9 us. Each
 * shares the core for 2 ms and delays L by 1 ms -> L at 3e9 + 3 ms. */
static void a_long_busy_period_stays_exact(void **state)
{
    struct host h;
    host_init(&h, 1);
    struct job l = job(&h, 3000000000ull, 1.0), s[3];
    const uint64_t at[3] = {1000000000ull, 2000000000ull, 2500000000ull};
    job_start(&l);
    for (int i = 0; i < 3; i++) {
        s[i] = job(&h, 1 * MS, 1.0);
        assert_non_null(ilu_sim_env_at(&h.env, at[i], job_start_cb, &s[i]));
    }
    run(&h);
    for (int i = 0; i < 3; i++)
        assert_int_equal(s[i].done_at, at[i] + 2 * MS);
    assert_int_equal(l.done_at, 3000000000ull + 3 * MS);
    host_end(&h);
}

/* ---- many tasks --------------------------------------------------------------- */

static uint64_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

/* n tasks of demand 1 started together on C cores, against the closed form
 * of processor sharing: sorted by work, while m tasks remain each runs at
 * min(1, C/m). Each reported at that instant rounded up (1 us of slack for
 * the floats at a boundary): no drift however many finish before it. The
 * makespan at least the total work over C. */
static void many_tasks_started_together_match_the_closed_form(void **state)
{
    enum { N = 2000 };
    const double C = 4;
    struct host h;
    host_init(&h, C);
    struct job *j = calloc(N, sizeof *j);
    uint64_t *w = calloc(N, sizeof *w);
    uint64_t x = 11, total = 0;
    for (size_t i = 0; i < N; i++) {
        j[i] = job(&h, 1 + lcg(&x) % (50 * MS), 1.0);
        w[i] = j[i].work;
        total += w[i];
        job_start(&j[i]);
    }
    run(&h);
    /* the reference: works in ascending order */
    for (size_t i = 1; i < N; i++)
        for (size_t k = i; k > 0 && w[k - 1] > w[k]; k--) {
            uint64_t t = w[k];
            w[k] = w[k - 1];
            w[k - 1] = t;
        }
    double t = 0, prev = 0;
    double *ref = calloc(N, sizeof *ref);
    for (size_t k = 0; k < N; k++) {
        double m = (double)(N - k);
        t += ((double)w[k] - prev) / (m > C ? C / m : 1.0);
        prev = (double)w[k];
        ref[k] = t;
    }
    uint64_t makespan = 0;
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(j[i].calls, 1);
        assert_true(j[i].done_at >= j[i].work);
        /* its place among equal works: any of them has the same reference */
        size_t lo = 0, hi = N;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (w[mid] < j[i].work)
                lo = mid + 1;
            else
                hi = mid;
        }
        double want = ref[lo];
        if (fabs((double)j[i].done_at - ceil(want - 1e-6)) > 1.0)
            fail_msg("task %zu (work %llu): done at %llu, processor sharing says %.3f", i,
                     (unsigned long long)j[i].work, (unsigned long long)j[i].done_at, want);
        makespan = j[i].done_at > makespan ? j[i].done_at : makespan;
    }
    assert_true((double)makespan >= (double)total / C);
    assert_true((double)makespan <= (double)total / C + 50.0 * MS);
    free(ref);
    free(w);
    free(j);
    host_end(&h);
}

struct edge {
    uint64_t at;
    double d; /* + at a start, - at a finish */
};

static int by_time(const void *a, const void *b)
{
    const struct edge *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Processor sharing worked out the slow way, event by event over every
 * running task (O(n^2)): finish[i], the exact instant task i is done. The
 * tasks are given in order of their start. */
static void reference_ps(const struct job *j, size_t n, double C, double *finish)
{
    double *rem = calloc(n, sizeof *rem);
    size_t *run = calloc(n, sizeof *run);
    size_t n_run = 0, next = 0;
    double t = 0, D = 0;
    while (next < n || n_run) {
        double rate = D > C ? C / D : 1.0;
        double first = INFINITY;
        for (size_t k = 0; k < n_run; k++)
            first = rem[run[k]] < first ? rem[run[k]] : first;
        double t_fin = t + first / rate;
        double t_start = next < n ? (double)j[next].started : INFINITY;
        double to = t_fin <= t_start ? t_fin : t_start;
        for (size_t k = 0; k < n_run; k++)
            rem[run[k]] -= (to - t) * rate;
        t = to;
        if (t_fin <= t_start) {
            for (size_t k = 0; k < n_run;) {
                size_t i = run[k];
                if (rem[i] > 1e-6) {
                    k++;
                    continue;
                }
                finish[i] = t;
                D -= j[i].demand > C ? C : j[i].demand;
                run[k] = run[--n_run];
            }
        } else {
            rem[next] = (double)j[next].work;
            D += j[next].demand > C ? C : j[next].demand;
            run[n_run++] = next++;
        }
    }
    free(rem);
    free(run);
}

/* 10,000 tasks of random works, demands and start times on 3 cores,
 * overloaded about two thirds of the run. Each is reported at its exact
 * finish under processor sharing (reference_ps), rounded up to a whole
 * microsecond (1 us of slack for the floats at a boundary). From the starts
 * and reports alone, the CPU time given out, the integral of min(C, D(t)),
 * is the sum of work x demand (up to the last microsecond of each task).
 * Nobody finished before its solo work, nor the last before the core-work
 * over C. */
static void many_random_tasks_match_processor_sharing(void **state)
{
    enum { N = 10000 };
    const double C = 3;
    const double demands[] = {0, 0.25, 0.5, 1, 1, 1.5, 4 /* counts as 3 */};
    struct host h;
    host_init(&h, C);
    struct job *j = calloc(N, sizeof *j);
    uint64_t x = 2026;
    for (size_t i = 0; i < N; i++)
        j[i] = job(&h, lcg(&x) % (200 * MS), demands[lcg(&x) % 7]);
    /* start times in order, so that the reference can take them in turn */
    uint64_t at = 0;
    for (size_t i = 0; i < N; i++) {
        at += lcg(&x) % (80 * MS);
        assert_non_null(ilu_sim_env_at(&h.env, at, job_start_cb, &j[i]));
    }
    run(&h);

    double *finish = calloc(N, sizeof *finish);
    reference_ps(j, N, C, finish);
    unsigned off_by_one = 0;
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(j[i].calls, 1);
        assert_true(j[i].done_at >= j[i].started + j[i].work);
        double want = ceil(finish[i] - 1e-6);
        if (fabs((double)j[i].done_at - want) > 1.0)
            fail_msg("task %zu (work %llu, demand %.2f, started %llu): done at %llu, processor sharing says %.4f", i,
                     (unsigned long long)j[i].work, j[i].demand, (unsigned long long)j[i].started,
                     (unsigned long long)j[i].done_at, finish[i]);
        off_by_one += (double)j[i].done_at != want;
    }
    assert_true(off_by_one < N / 100);

    struct edge *e = calloc(2 * N, sizeof *e);
    double core_work = 0, demand_sum = 0;
    uint64_t last_done = 0;
    for (size_t i = 0; i < N; i++) {
        double d = j[i].demand > C ? C : j[i].demand;
        e[2 * i] = (struct edge){j[i].started, d};
        e[2 * i + 1] = (struct edge){j[i].done_at, -d};
        core_work += (double)j[i].work * d;
        demand_sum += d;
        last_done = j[i].done_at > last_done ? j[i].done_at : last_done;
    }
    qsort(e, 2 * N, sizeof *e, by_time);
    double D = 0, given = 0, overloaded = 0;
    for (size_t k = 0; k < 2 * N; k++) {
        if (k) {
            given += (double)(e[k].at - e[k - 1].at) * (D < C ? D : C);
            overloaded += D > C ? (double)(e[k].at - e[k - 1].at) : 0;
        }
        D += e[k].d;
    }
    assert_true(fabs(D) < 1e-9); /* every start has its report */
    /* the scenario exercises both regimes: the host overloaded for a good
     * part of the run (rate C/D), with room to spare for another part */
    assert_true(overloaded > 0.3 * (double)last_done && overloaded < 0.9 * (double)last_done);
    if (given < core_work - 1e-3 || given > core_work + demand_sum + 1e-3)
        fail_msg("CPU time given %.3f, work x demand %.3f", given, core_work);
    assert_true((double)last_done >= core_work / C);
    free(e);
    free(finish);
    free(j);
    host_end(&h);
}

/* ---- lifetime ------------------------------------------------------------------ */

static void refuses_no_cores_and_frees_with_tasks_running(void **state)
{
    struct ilu_sim_env env;
    ilu_sim_env_init(&env, 0);
    assert_null(ilu_cpu_share_new(&env, 0));
    assert_null(ilu_cpu_share_new(&env, -1));
    assert_null(ilu_cpu_share_new(&env, NAN));
    struct ilu_cpu_share *s = ilu_cpu_share_new(&env, 2);
    assert_non_null(s);
    for (int i = 0; i < 100; i++)
        assert_non_null(ilu_cpu_share_start(s, 1 * MS, 1.0, NULL, NULL)); /* never called */
    assert_int_equal(ilu_cpu_share_running(s), 100);
    ilu_sim_env_run_until(&env, 10 * MS);
    assert_int_equal(ilu_cpu_share_running(s), 100); /* 100 ms of work at 1/50 */
    ilu_cpu_share_free(s);
    assert_int_equal(ilu_sim_env_next_due(&env), UINT64_MAX); /* its timer went with it */
    ilu_cpu_share_free(NULL);
    ilu_sim_env_destroy(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_task_alone_takes_its_work),
        cmocka_unit_test(two_tasks_on_one_core_take_twice),
        cmocka_unit_test(three_tasks_on_two_cores_take_one_and_a_half),
        cmocka_unit_test(two_half_demands_on_one_core_do_not_slow_down),
        cmocka_unit_test(a_task_joining_later_shares_from_then_on),
        cmocka_unit_test(different_works_finish_at_their_own_times),
        cmocka_unit_test(cancel_removes_the_load_from_then_on),
        cmocka_unit_test(a_done_callback_may_start_a_task),
        cmocka_unit_test(a_done_callback_may_cancel_a_task_due_at_the_same_instant),
        cmocka_unit_test(a_done_callback_may_cancel_a_task_done_in_the_same_microsecond),
        cmocka_unit_test(fractional_cores),
        cmocka_unit_test(demand_zero_never_slows),
        cmocka_unit_test(completions_are_rounded_up_to_whole_microseconds),
        cmocka_unit_test(a_long_busy_period_stays_exact),
        cmocka_unit_test(many_tasks_started_together_match_the_closed_form),
        cmocka_unit_test(many_random_tasks_match_processor_sharing),
        cmocka_unit_test(refuses_no_cores_and_frees_with_tasks_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
