/* The simulator (src/sim) driving the real worker core: sim_env + the
 * simulated backend + ilu_worker, wired as src/loadgen/sim_trace.c wires
 * them. Every expected value below is computed by hand from the timings a
 * test sets, so a change in what the simulated worker does shows up as an
 * exact mismatch, not a drift. Times are microseconds of virtual time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "worker/worker.h"
#include "backend/sim/sim_backend.h"
#include "sim/sim_env.h"

#include "sim_world.h"

/* ---- (a) the discrete-event env ------------------------------------------ */

struct order {
    int seen[16];
    int n;
    struct ilu_sim_env *s;
};
struct tag {
    struct order *o;
    int id;
};

static void note(void *arg)
{
    struct tag *t = arg;
    t->o->seen[t->o->n++] = t->id;
}

static void note_and_start_now(void *arg)
{
    struct tag *t = arg;
    note(arg);
    static struct tag child;
    child = (struct tag){t->o, 99};
    /* delay 0 from inside a callback: after everything already due now */
    t->o->s->env.timer_start(t->o->s->env.ctx, 0, note, &child);
}

static void env_fires_in_time_then_start_order(void **state)
{
    (void)state;
    struct ilu_sim_env s;
    ilu_sim_env_init(&s, 5000);
    struct order o = {.s = &s};
    struct tag t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (struct tag){&o, i};
    assert_int_equal(ilu_sim_env_next_due(&s), UINT64_MAX);
    assert_int_equal(ilu_sim_env_step(&s), 0);
    ilu_sim_env_at(&s, 30, note, &t[0]);
    ilu_sim_env_at(&s, 10, note, &t[1]);
    ilu_sim_env_at(&s, 20, note, &t[2]);
    ilu_sim_env_at(&s, 10, note_and_start_now, &t[3]);
    ilu_sim_env_at(&s, 10, note, &t[4]);
    struct ilu_timer *gone = ilu_sim_env_at(&s, 15, note, &t[5]);
    ilu_sim_env_at(&s, 40, note, &t[6]);
    assert_int_equal(ilu_sim_env_next_due(&s), 10);
    ilu_sim_env_cancel(&s, gone);
    ilu_sim_env_cancel(&s, NULL); /* ignored */

    ilu_sim_env_run_until(&s, 25);
    int want1[] = {1, 3, 4, 99, 2};
    assert_int_equal(o.n, 5);
    assert_memory_equal(o.seen, want1, sizeof want1);
    assert_int_equal(s.now_us, 25); /* run_until sets the clock to its bound */
    assert_int_equal(s.env.now_us(s.env.ctx), 25);
    assert_int_equal(s.env.wall_us(s.env.ctx), 5025);
    assert_int_equal(ilu_sim_env_next_due(&s), 30);

    /* a time in the past is clamped to now, and a timer at exactly the bound fires */
    ilu_sim_env_at(&s, 3, note, &t[7]);
    assert_int_equal(ilu_sim_env_next_due(&s), 25);
    ilu_sim_env_run_until(&s, 30);
    int want2[] = {1, 3, 4, 99, 2, 7, 0};
    assert_int_equal(o.n, 7);
    assert_memory_equal(o.seen, want2, sizeof want2);
    assert_int_equal(s.now_us, 30);
    assert_int_equal(s.fired, 7);

    /* the env's own timer_start is relative to now; cancel through the env */
    struct ilu_timer *rel = s.env.timer_start(s.env.ctx, 5, note, &t[5]);
    assert_int_equal(ilu_sim_env_next_due(&s), 35);
    s.env.timer_cancel(s.env.ctx, rel);
    assert_int_equal(ilu_sim_env_next_due(&s), 40);
    assert_int_equal(ilu_sim_env_step(&s), 1);
    assert_int_equal(s.now_us, 40);
    assert_int_equal(o.seen[o.n - 1], 6);
    assert_int_equal(ilu_sim_env_step(&s), 0);
    assert_int_equal(o.n, 8);
    ilu_sim_env_destroy(&s);
}

/* Many timers with random times and cancels against a sorted reference. */
static uint64_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

struct seen_log {
    uint64_t *due;
    size_t *id;
    size_t n;
    struct ilu_sim_env *s;
};
struct heap_item {
    struct seen_log *log;
    size_t id;
    uint64_t due;
};

static void heap_note(void *arg)
{
    struct heap_item *it = arg;
    assert_int_equal(it->log->s->now_us, it->due);
    it->log->due[it->log->n] = it->due;
    it->log->id[it->log->n++] = it->id;
}

static void env_heap_order_matches_reference_with_cancels(void **state)
{
    (void)state;
    enum { N = 5000 };
    struct ilu_sim_env s;
    ilu_sim_env_init(&s, 0);
    struct heap_item *items = calloc(N, sizeof *items);
    struct ilu_timer **timers = calloc(N, sizeof *timers);
    bool *cancelled = calloc(N, sizeof *cancelled);
    struct seen_log log = {calloc(N, sizeof(uint64_t)), calloc(N, sizeof(size_t)), 0, &s};
    uint64_t x = 7;
    for (size_t i = 0; i < N; i++) {
        items[i] = (struct heap_item){&log, i, lcg(&x) % 100}; /* many ties */
        timers[i] = ilu_sim_env_at(&s, items[i].due, heap_note, &items[i]);
    }
    size_t n_cancel = 0;
    for (size_t i = 0; i < N; i += 3) {
        ilu_sim_env_cancel(&s, timers[i]);
        cancelled[i] = true;
        n_cancel++;
    }
    while (ilu_sim_env_step(&s))
        ;
    assert_int_equal(log.n, N - n_cancel);
    /* expected: by due time, ties by start order (= id) */
    size_t k = 0;
    for (uint64_t due = 0; due < 100; due++)
        for (size_t i = 0; i < N; i++)
            if (!cancelled[i] && items[i].due == due) {
                assert_int_equal(log.due[k], due);
                assert_int_equal(log.id[k], i);
                k++;
            }
    assert_int_equal(k, log.n);
    ilu_sim_env_destroy(&s);
    free(items);
    free(timers);
    free(cancelled);
    free(log.due);
    free(log.id);
}

/* ---- (b) memory and LRU eviction -------------------------------------------- */

/* A and B of 200 MB alternate in a 256 MB pool, 1 s apart (each call takes
 * 70.4 ms cold): every call evicts the other's idle container. */
static void alternating_functions_in_a_pool_for_one_are_all_cold(void **state)
{
    (void)state;
    enum { N = 10 };
    struct world wd;
    world_config(&wd.cfg, 2, 256);
    world_start(&wd);
    fn_add(&wd, "A", 200, 0, 20 * MS, 10 * MS);
    fn_add(&wd, "B", 200, 0, 20 * MS, 10 * MS);
    const char *fns[N];
    uint64_t at[N];
    for (int i = 0; i < N; i++)
        fns[i] = i % 2 ? "B" : "A", at[i] = (uint64_t)i * SEC;
    schedule(&wd, N, fns, at);
    run_all(&wd);
    for (int i = 0; i < N; i++) {
        struct rec *r = &wd.recs[i];
        assert_true(r->success);
        assert_int_equal(r->kind, ILU_START_COLD);
        assert_int_equal(r->tm.queue_us, 0);
        assert_int_equal(r->tm.container_start_us, 50 * MS);
        assert_int_equal(r->exec_us, 20 * MS);
        assert_int_equal(r->done_at, at[i] + 50 * MS + 20 * MS + OVH);
    }
    assert_int_equal(status_of(&wd, "cold_starts"), N);
    assert_int_equal(status_of(&wd, "warm_starts"), 0);
    assert_int_equal(status_of(&wd, "evictions"), N - 1);
    assert_int_equal(status_of(&wd, "containers_started"), N);
    assert_int_equal(ilu_sim_backend_containers_created(wd.be), N);
    assert_int_equal(status_of(&wd, "num_containers"), 1);
    assert_int_equal(status_of(&wd, "used_mem_mb"), 200);
    world_end(&wd);
}

static void alternating_functions_in_a_pool_for_two_are_cold_twice(void **state)
{
    (void)state;
    enum { N = 10 };
    struct world wd;
    world_config(&wd.cfg, 2, 512);
    world_start(&wd);
    fn_add(&wd, "A", 200, 0, 20 * MS, 10 * MS);
    fn_add(&wd, "B", 200, 0, 20 * MS, 10 * MS);
    const char *fns[N];
    uint64_t at[N];
    for (int i = 0; i < N; i++)
        fns[i] = i % 2 ? "B" : "A", at[i] = (uint64_t)i * SEC;
    schedule(&wd, N, fns, at);
    run_all(&wd);
    for (int i = 0; i < N; i++) {
        struct rec *r = &wd.recs[i];
        assert_true(r->success);
        assert_int_equal(r->kind, i < 2 ? ILU_START_COLD : ILU_START_WARM);
        assert_int_equal(r->done_at, at[i] + (i < 2 ? 50 * MS + 20 * MS : 10 * MS) + OVH);
        assert_string_equal(r->container_id, wd.recs[i % 2].container_id);
    }
    assert_int_equal(status_of(&wd, "cold_starts"), 2);
    assert_int_equal(status_of(&wd, "warm_starts"), N - 2);
    assert_int_equal(status_of(&wd, "evictions"), 0);
    assert_int_equal(ilu_sim_backend_containers_created(wd.be), 2);
    assert_int_equal(status_of(&wd, "used_mem_mb"), 400);
    world_end(&wd);
}

/* ---- (c) LRU picks the least recently used idle container ------------------- */

/* Pool for two 128 MB containers; A B A C A B C, 1 s apart.
 *   A cold            {A}
 *   B cold            {A, B}
 *   A warm            A used last
 *   C cold, evicts B  (B used at 1 s, A at 2 s)        {A, C}
 *   A warm
 *   B cold, evicts C  (C used at 3 s, A at 4 s)        {A, B}
 *   C cold, evicts A  (A used at 4 s, B at 5 s)        {B, C}
 * 5 cold, 2 warm, 3 evictions; FIFO eviction would have evicted A at the
 * 4th call and made the 5th cold. */
static void lru_evicts_the_least_recently_used(void **state)
{
    (void)state;
    enum { N = 7 };
    struct world wd;
    world_config(&wd.cfg, 1, 256);
    world_start(&wd);
    fn_add(&wd, "A", 128, 0, 20 * MS, 10 * MS);
    fn_add(&wd, "B", 128, 0, 20 * MS, 10 * MS);
    fn_add(&wd, "C", 128, 0, 20 * MS, 10 * MS);
    const char *fns[N] = {"A", "B", "A", "C", "A", "B", "C"};
    uint64_t at[N];
    for (int i = 0; i < N; i++)
        at[i] = (uint64_t)i * SEC;
    schedule(&wd, N, fns, at);
    run_all(&wd);
    enum ilu_start_kind want[N] = {ILU_START_COLD, ILU_START_COLD, ILU_START_WARM, ILU_START_COLD,
                                   ILU_START_WARM, ILU_START_COLD, ILU_START_COLD};
    for (int i = 0; i < N; i++) {
        assert_true(wd.recs[i].success);
        assert_int_equal(wd.recs[i].kind, want[i]);
    }
    assert_string_equal(wd.recs[2].container_id, wd.recs[0].container_id);
    assert_string_equal(wd.recs[4].container_id, wd.recs[0].container_id);
    assert_string_not_equal(wd.recs[5].container_id, wd.recs[1].container_id);
    assert_int_equal(status_of(&wd, "cold_starts"), 5);
    assert_int_equal(status_of(&wd, "warm_starts"), 2);
    assert_int_equal(status_of(&wd, "evictions"), 3);
    assert_int_equal(status_of(&wd, "num_containers"), 2);
    world_end(&wd);
}

/* The classic LRU worst case: a cycle of 3 through room for 2 misses always. */
static void lru_cycle_of_three_through_room_for_two_is_always_cold(void **state)
{
    (void)state;
    enum { N = 9 };
    struct world wd;
    world_config(&wd.cfg, 1, 256);
    world_start(&wd);
    const char *names[3] = {"A", "B", "C"};
    for (int f = 0; f < 3; f++)
        fn_add(&wd, names[f], 128, 0, 20 * MS, 10 * MS);
    const char *fns[N];
    uint64_t at[N];
    for (int i = 0; i < N; i++)
        fns[i] = names[i % 3], at[i] = (uint64_t)i * SEC;
    schedule(&wd, N, fns, at);
    run_all(&wd);
    assert_int_equal(count_kind(&wd, ILU_START_COLD), N);
    assert_int_equal(status_of(&wd, "evictions"), N - 2);
    world_end(&wd);
}

/* ---- (d) the concurrency limit ------------------------------------------- */

/* cpu_count 1, one prewarmed container, three 100 ms calls at T: they run one
 * after another on that container. */
static void one_cpu_prewarmed_queues_exactly(void **state)
{
    (void)state;
    const uint64_t T = 1 * SEC, X = 100 * MS;
    struct world wd;
    world_config(&wd.cfg, 1, 1024);
    world_start(&wd);
    fn_add(&wd, "F", 128, 0, X, X);
    prewarm(&wd, "F", 1);
    assert_int_equal(wd.sim.now_us, 50 * MS);
    const char *fns[3] = {"F", "F", "F"};
    uint64_t at[3] = {T, T, T};
    schedule(&wd, 3, fns, at);
    run_all(&wd);
    for (int i = 0; i < 3; i++) {
        struct rec *r = &wd.recs[i];
        assert_true(r->success);
        assert_int_equal(r->tm.queue_us, (uint64_t)i * (X + OVH));
        assert_int_equal(r->done_at, T + (uint64_t)(i + 1) * (X + OVH));
        assert_int_equal(r->tm.total_us, r->done_at - T);
        assert_int_equal(r->tm.agent_round_trip_us, X + OVH);
        assert_int_equal(r->tm.container_start_us, 0);
        assert_string_equal(r->container_id, wd.recs[0].container_id);
    }
    assert_int_equal(wd.recs[0].kind, ILU_START_PREWARM);
    assert_int_equal(wd.recs[1].kind, ILU_START_WARM);
    assert_int_equal(wd.recs[2].kind, ILU_START_WARM);
    assert_int_equal(ilu_sim_backend_containers_created(wd.be), 1);
    world_end(&wd);
}

/* cpu_count 2, two prewarmed containers: two run at once, the third waits
 * for the first to finish. */
static void two_cpus_two_prewarmed_queue_exactly(void **state)
{
    (void)state;
    const uint64_t T = 1 * SEC, X = 100 * MS;
    struct world wd;
    world_config(&wd.cfg, 2, 1024);
    world_start(&wd);
    fn_add(&wd, "F", 128, 0, X, X);
    prewarm(&wd, "F", 2);
    assert_int_equal(status_of(&wd, "idle_containers"), 2);
    const char *fns[3] = {"F", "F", "F"};
    uint64_t at[3] = {T, T, T};
    schedule(&wd, 3, fns, at);
    run_all(&wd);
    uint64_t want_queue[3] = {0, 0, X + OVH};
    uint64_t want_done[3] = {T + X + OVH, T + X + OVH, T + 2 * (X + OVH)};
    enum ilu_start_kind want_kind[3] = {ILU_START_PREWARM, ILU_START_PREWARM, ILU_START_WARM};
    for (int i = 0; i < 3; i++) {
        assert_true(wd.recs[i].success);
        assert_int_equal(wd.recs[i].tm.queue_us, want_queue[i]);
        assert_int_equal(wd.recs[i].done_at, want_done[i]);
        assert_int_equal(wd.recs[i].kind, want_kind[i]);
    }
    assert_string_not_equal(wd.recs[0].container_id, wd.recs[1].container_id);
    assert_int_equal(ilu_sim_backend_containers_created(wd.be), 2);
    world_end(&wd);
}

/* cpu_count 2, one prewarmed container: the second call starts a container
 * at once (start 50 ms, cold exec 150 ms), the third waits for a CPU. */
static void two_cpus_one_prewarmed_cold_starts_the_second(void **state)
{
    (void)state;
    const uint64_t T = 1 * SEC, X = 100 * MS, COLDX = 150 * MS, START = 50 * MS;
    struct world wd;
    world_config(&wd.cfg, 2, 1024);
    world_start(&wd);
    fn_add(&wd, "F", 128, START, COLDX, X);
    prewarm(&wd, "F", 1);
    const char *fns[3] = {"F", "F", "F"};
    uint64_t at[3] = {T, T, T};
    schedule(&wd, 3, fns, at);
    run_all(&wd);
    /* 1: the prewarmed container's first call: cold_exec (first call it serves) */
    assert_int_equal(wd.recs[0].kind, ILU_START_PREWARM);
    assert_int_equal(wd.recs[0].tm.queue_us, 0);
    assert_int_equal(wd.recs[0].exec_us, COLDX);
    assert_int_equal(wd.recs[0].done_at, T + COLDX + OVH);
    /* 2: cold on a new container */
    assert_int_equal(wd.recs[1].kind, ILU_START_COLD);
    assert_int_equal(wd.recs[1].tm.queue_us, 0);
    assert_int_equal(wd.recs[1].tm.container_start_us, START);
    assert_int_equal(wd.recs[1].done_at, T + START + COLDX + OVH);
    /* 3: waits for a CPU, then warm on container 1 (idle since T + 150.4 ms) */
    assert_int_equal(wd.recs[2].kind, ILU_START_WARM);
    assert_int_equal(wd.recs[2].tm.queue_us, COLDX + OVH);
    assert_int_equal(wd.recs[2].done_at, T + COLDX + OVH + X + OVH);
    assert_string_equal(wd.recs[2].container_id, wd.recs[0].container_id);
    world_end(&wd);
}

/* A function that does not fit beside a busy one waits for its memory (no
 * eviction of busy containers, no failure): 256 MB pool, 2 CPUs, A and B of
 * 200 MB arriving together; B starts when A's container goes idle. */
static void call_waits_for_memory_held_by_a_busy_container(void **state)
{
    (void)state;
    const uint64_t T = 1 * SEC;
    struct world wd;
    world_config(&wd.cfg, 2, 256);
    world_start(&wd);
    fn_add(&wd, "A", 200, 0, 500 * MS, 500 * MS);
    fn_add(&wd, "B", 200, 0, 100 * MS, 100 * MS);
    const char *fns[2] = {"A", "B"};
    uint64_t at[2] = {T, T};
    schedule(&wd, 2, fns, at);
    run_all(&wd);
    uint64_t a_done = T + 50 * MS + 500 * MS + OVH;
    assert_int_equal(wd.recs[0].done_at, a_done);
    assert_true(wd.recs[1].success);
    assert_int_equal(wd.recs[1].kind, ILU_START_COLD);
    assert_int_equal(wd.recs[1].tm.queue_us, a_done - T);
    assert_int_equal(wd.recs[1].done_at, a_done + 50 * MS + 100 * MS + OVH);
    assert_int_equal(status_of(&wd, "evictions"), 1);
    world_end(&wd);
}

/* ---- (e) keep-alive --------------------------------------------------------- */

/* keepalive 10 s checked every 1 s: the container, idle since 5.0104 s, goes
 * at the first tick >= 15.0104 s, i.e. at 16 s; the call at 30 s is cold. */
static void keepalive_removes_the_idle_container_between_calls(void **state)
{
    (void)state;
    struct world wd;
    world_config(&wd.cfg, 1, 1024);
    wd.cfg.container_resources.keepalive_sec = 10;
    wd.cfg.container_resources.pool_freq_ms = 1000;
    world_start(&wd);
    fn_add(&wd, "A", 128, 0, 10 * MS, 10 * MS);
    const char *fns[3] = {"A", "A", "A"};
    uint64_t at[3] = {0, 5 * SEC, 30 * SEC};
    schedule(&wd, 3, fns, at);
    ilu_sim_env_run_until(&wd.sim, 15 * SEC);
    assert_int_equal(wd.done, 2);
    assert_int_equal(wd.recs[0].kind, ILU_START_COLD);
    assert_int_equal(wd.recs[1].kind, ILU_START_WARM);
    assert_int_equal(wd.recs[1].done_at, 5 * SEC + 10 * MS + OVH);
    assert_int_equal(status_of(&wd, "num_containers"), 1);
    ilu_sim_env_run_until(&wd.sim, 16 * SEC - 1);
    assert_int_equal(status_of(&wd, "num_containers"), 1);
    ilu_sim_env_run_until(&wd.sim, 16 * SEC);
    assert_int_equal(status_of(&wd, "num_containers"), 0);
    assert_int_equal(status_of(&wd, "used_mem_mb"), 0);
    assert_int_equal(status_of(&wd, "keepalive_removals"), 1);
    run_all(&wd);
    assert_int_equal(wd.recs[2].kind, ILU_START_COLD);
    assert_int_equal(wd.recs[2].done_at, 30 * SEC + 50 * MS + 10 * MS + OVH);
    assert_string_not_equal(wd.recs[2].container_id, wd.recs[0].container_id);
    assert_int_equal(ilu_sim_backend_containers_created(wd.be), 2);
    world_end(&wd);
}

/* ---- (f) timeout ------------------------------------------------------------ */

/* timeout 1 s, a function of 2 s: 504 at exactly arrival + 1 s, its container
 * destroyed (with its pending answer) and the next call cold again. */
static void timeout_is_504_at_arrival_plus_timeout(void **state)
{
    (void)state;
    struct world wd;
    world_config(&wd.cfg, 1, 1024);
    wd.cfg.limits.timeout_sec = 1;
    world_start(&wd);
    fn_add(&wd, "S", 128, 0, 2 * SEC, 2 * SEC);
    const char *fns[2] = {"S", "S"};
    uint64_t at[2] = {100 * MS, 5 * SEC};
    schedule(&wd, 2, fns, at);
    run_all(&wd);
    for (int i = 0; i < 2; i++) {
        struct rec *r = &wd.recs[i];
        assert_false(r->success);
        assert_int_equal(r->http_status, 504);
        assert_string_equal(r->error_kind, "timeout");
        assert_non_null(strstr(r->error_msg, "limits.timeout_sec=1"));
        assert_int_equal(r->done_at, at[i] + 1 * SEC);
    }
    assert_string_not_equal(wd.recs[0].container_id, wd.recs[1].container_id);
    assert_int_equal(status_of(&wd, "timeouts"), 2);
    assert_int_equal(status_of(&wd, "num_containers"), 0);
    assert_int_equal(status_of(&wd, "used_mem_mb"), 0);
    assert_int_equal(status_of(&wd, "cpus_in_use"), 0);
    assert_int_equal(ilu_sim_backend_containers_created(wd.be), 2);
    /* the cancelled answers never arrive: nothing more happens to the records */
    ilu_sim_env_run_until(&wd.sim, 60 * SEC);
    assert_int_equal(wd.recs[0].calls, 1);
    assert_int_equal(wd.recs[1].calls, 1);
    world_end(&wd);
}

/* Deadlines share one timer, armed for the oldest pending invocation: when
 * that one finishes early the timer still fires at its old deadline, finds
 * nothing due and re-arms. Later invocations must still time out at exactly
 * their own arrival + timeout, and the ones that finish in time never. */
static void timeouts_stay_exact_when_earlier_invocations_finish_first(void **state)
{
    (void)state;
    struct world wd;
    world_config(&wd.cfg, 4, 1024);
    wd.cfg.limits.timeout_sec = 1;
    world_start(&wd);
    fn_add(&wd, "F", 128, 0, 10 * MS, 10 * MS);
    fn_add(&wd, "S", 128, 0, 3 * SEC, 3 * SEC);
    const char *fns[5] = {"F", "S", "F", "S", "F"};
    uint64_t at[5] = {0, 100 * MS, 700 * MS, 1500 * MS, 2200 * MS};
    schedule(&wd, 5, fns, at);
    run_all(&wd);
    for (int i = 0; i < 5; i++) {
        struct rec *r = &wd.recs[i];
        assert_int_equal(r->calls, 1);
        if (i % 2 == 0) {
            assert_true(r->success);
            assert_true(r->done_at < at[i] + 1 * SEC);
        } else {
            assert_int_equal(r->http_status, 504);
            assert_int_equal(r->done_at, at[i] + 1 * SEC);
        }
    }
    assert_int_equal(status_of(&wd, "timeouts"), 2);
    world_end(&wd);
}

/* ---- (g) bad input ---------------------------------------------------------- */

static void function_larger_than_the_pool_is_refused_with_400(void **state)
{
    (void)state;
    struct world wd;
    world_config(&wd.cfg, 1, 256);
    world_start(&wd);
    struct ilu_register_req req = {
        .function_name = "big", .function_version = "1", .image_name = "/sim/fn", .memory_mb = 300, .cpus = 1};
    struct ilu_error err = {0};
    assert_int_equal(ilu_worker_register(wd.w, &req, "setup", &err), -1);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "container_resources.memory_mb=256"));
    assert_null(ilu_worker_function(wd.w, "big", "1"));
    /* exactly the pool fits */
    req.memory_mb = 256;
    assert_int_equal(ilu_worker_register(wd.w, &req, "setup", &err), 0);
    world_end(&wd);
}

static void full_queue_refuses_at_once_with_429(void **state)
{
    (void)state;
    struct world wd;
    world_config(&wd.cfg, 1, 1024);
    wd.cfg.invocation.max_queue_len = 1;
    world_start(&wd);
    fn_add(&wd, "L", 128, 0, 1 * SEC, 1 * SEC);
    /* 1 runs from 0, 2 waits in the queue, 3 and 4 find it full */
    const char *fns[4] = {"L", "L", "L", "L"};
    uint64_t at[4] = {0, 1 * MS, 2 * MS, 3 * MS};
    schedule(&wd, 4, fns, at);
    run_all(&wd);
    assert_true(wd.recs[0].success);
    assert_true(wd.recs[1].success);
    for (int i = 2; i < 4; i++) {
        assert_true(wd.recs[i].refused);
        assert_int_equal(wd.recs[i].http_status, 429);
        assert_string_equal(wd.recs[i].error_kind, "queue_full");
        assert_int_equal(wd.recs[i].done_at, at[i]);
    }
    assert_int_equal(wd.recs[1].tm.queue_us, 50 * MS + 1 * SEC + OVH - 1 * MS);
    assert_int_equal(status_of(&wd, "rejected"), 2);
    world_end(&wd);
}

static void worker_refuses_a_config_it_cannot_honour(void **state)
{
    (void)state;
    struct ilu_sim_env sim;
    ilu_sim_env_init(&sim, 0);
    struct ilu_sim_backend_params params = {.default_start_us = 50 * MS};
    struct ilu_backend *be = ilu_sim_backend_new(&sim, &params, NULL);
    struct ilu_worker_config cfg;
    struct ilu_error err = {0};

    world_config(&cfg, 1, 256);
    snprintf(cfg.container_resources.eviction, sizeof cfg.container_resources.eviction, "MRU-bogus");
    assert_null(ilu_worker_new(&cfg, &sim.env, be, NULL, &err));
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "container_resources.eviction"));

    world_config(&cfg, 1, 0);
    assert_null(ilu_worker_new(&cfg, &sim.env, be, NULL, &err));
    assert_non_null(strstr(err.msg, "container_resources.memory_mb"));

    /* the simulated backend's section, attached by hand as the registry
     * (src/backend/registry.c, not in the core library) attaches it */
    struct ilu_sim_config sc;
    ilu_sim_config_defaults(&sc);
    const struct ilu_cfg_part section = {&ilu_sim_config_schema, &sc, ilu_sim_config_validate};
    world_config(&cfg, 1, 256);
    cfg.sections = &section;
    cfg.n_sections = 1;
    sc.jitter_pct = 100;
    assert_null(ilu_worker_new(&cfg, &sim.env, be, NULL, &err));
    assert_non_null(strstr(err.msg, "simulation.jitter_pct must be below 100"));

    ilu_sim_config_defaults(&sc);
    assert_int_equal(ilu_config_apply_json(&cfg, "{\"simulation\": {\"sed\": 3}}", "w.json", &err), -1);
    assert_non_null(strstr(err.msg, "simulation.sed"));
    assert_int_equal(ilu_sim_env_next_due(&sim), UINT64_MAX); /* nothing left behind */
    be->ops->free(be);
    ilu_sim_env_destroy(&sim);
}

/* The `simulation` section: its defaults, its keys through the worker
 * config (file and environment), and the backend's parameters from it. */
static void sim_section_loads_through_the_worker_config(void **state)
{
    (void)state;
    struct ilu_sim_config sc;
    ilu_sim_config_defaults(&sc);
    assert_int_equal(sc.container_start_ms, 85);
    assert_int_equal(sc.invoke_overhead_us, 400);
    assert_int_equal(sc.jitter_pct, 0);
    assert_int_equal(sc.seed, 1);
    const struct ilu_cfg_part section = {&ilu_sim_config_schema, &sc, ilu_sim_config_validate};
    struct ilu_worker_config cfg;
    world_config(&cfg, 1, 256);
    cfg.sections = &section;
    cfg.n_sections = 1;
    struct ilu_error err = {0};
    assert_int_equal(ilu_config_apply_json(&cfg, "{\"simulation\": {\"container_start_ms\": 20, \"jitter_pct\": 10}}",
                                           "w.json", &err),
                     0);
    char *env[] = {"ILUVATAR_WORKER__simulation__seed=7", NULL};
    assert_int_equal(ilu_config_apply_env(&cfg, "ILUVATAR_WORKER", env, &err), 0);
    assert_int_equal(ilu_config_validate(&cfg, &err), 0);
    struct ilu_sim_backend_params p = ilu_sim_backend_params_of(&sc, 2);
    assert_int_equal(p.default_start_us, 20 * MS);
    assert_int_equal(p.invoke_overhead_us, 400);
    assert_true(p.jitter > 0.0999 && p.jitter < 0.1001);
    assert_int_equal(p.seed, 7 + 2);
    char *dump = ilu_config_dump(&cfg);
    assert_non_null(strstr(dump, "\"simulation\""));
    free(dump);
}

/* ---- (h) jitter and determinism ---------------------------------------------- */

/* 40 calls of a 100 ms function, 1 s apart, on one container (call 0 cold). */
static void jitter_run(uint64_t seed, double jitter, uint64_t *exec_out, uint64_t *done_out)
{
    enum { N = 40 };
    struct world wd;
    world_config(&wd.cfg, 1, 1024);
    struct ilu_sim_backend_params params = {
        .default_start_us = 50 * MS, .invoke_overhead_us = OVH, .jitter = jitter, .seed = seed};
    world_start_params(&wd, &params);
    fn_add(&wd, "J", 128, 0, 100 * MS, 100 * MS);
    const char *fns[N];
    uint64_t at[N];
    for (int i = 0; i < N; i++)
        fns[i] = "J", at[i] = (uint64_t)i * SEC;
    schedule(&wd, N, fns, at);
    run_all(&wd);
    for (int i = 0; i < N; i++) {
        assert_true(wd.recs[i].success);
        exec_out[i] = wd.recs[i].exec_us;
        done_out[i] = wd.recs[i].done_at;
        uint64_t start = i == 0 ? 50 * MS : 0;
        assert_int_equal(done_out[i], at[i] + start + exec_out[i] + OVH);
    }
    world_end(&wd);
}

static void jitter_stays_in_bounds_and_repeats_with_its_seed(void **state)
{
    (void)state;
    enum { N = 40 };
    uint64_t e1[N], d1[N], e2[N], d2[N], e3[N], d3[N], e0[N], d0[N];
    jitter_run(42, 0.10, e1, d1);
    jitter_run(42, 0.10, e2, d2);
    jitter_run(43, 0.10, e3, d3);
    jitter_run(42, 0, e0, d0);
    uint64_t lo = UINT64_MAX, hi = 0;
    unsigned distinct = 0;
    for (int i = 0; i < N; i++) {
        assert_true(e1[i] >= 90 * MS && e1[i] <= 110 * MS);
        assert_true(e3[i] >= 90 * MS && e3[i] <= 110 * MS);
        assert_int_equal(e0[i], 100 * MS);
        lo = e1[i] < lo ? e1[i] : lo;
        hi = e1[i] > hi ? e1[i] : hi;
        distinct += i > 0 && e1[i] != e1[i - 1];
    }
    /* it varies, and over 40 draws it spreads over most of the +-10 % range */
    assert_true(distinct > N / 2);
    assert_true(lo < 95 * MS && hi > 105 * MS);
    assert_memory_equal(e1, e2, sizeof e1);
    assert_memory_equal(d1, d2, sizeof d1);
    assert_memory_not_equal(e1, e3, sizeof e1);
}

/* Same world and inputs twice: every recorded field identical. */
static void lru_world(struct rec *out, size_t n)
{
    struct world wd;
    world_config(&wd.cfg, 2, 384);
    struct ilu_sim_backend_params params = {
        .default_start_us = 50 * MS, .invoke_overhead_us = OVH, .jitter = 0.2, .seed = 7};
    world_start_params(&wd, &params);
    const char *names[4] = {"A", "B", "C", "D"};
    for (int f = 0; f < 4; f++)
        fn_add(&wd, names[f], 128, (uint64_t)(f + 1) * 20 * MS, (uint64_t)(f + 1) * 60 * MS,
               (uint64_t)(f + 1) * 30 * MS);
    const char **fns = calloc(n, sizeof *fns);
    uint64_t *at = calloc(n, sizeof *at);
    uint64_t x = 99;
    uint64_t t = 0;
    for (size_t i = 0; i < n; i++) {
        t += lcg(&x) % (150 * MS);
        at[i] = t;
        fns[i] = names[lcg(&x) % 4];
    }
    schedule(&wd, n, fns, at);
    run_all(&wd);
    memcpy(out, wd.recs, n * sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i].fn = NULL; /* pointers into this run's arrays */
    free(fns);
    free(at);
    world_end(&wd);
}

static void same_inputs_and_seed_give_identical_results(void **state)
{
    (void)state;
    enum { N = 2000 };
    struct rec *a = calloc(N, sizeof *a), *b = calloc(N, sizeof *b);
    lru_world(a, N);
    lru_world(b, N);
    unsigned cold = 0, warm = 0, queued = 0;
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(a[i].calls, 1);
        assert_int_equal(a[i].done_at, b[i].done_at);
        assert_int_equal(a[i].kind, b[i].kind);
        assert_int_equal(a[i].tm.queue_us, b[i].tm.queue_us);
        assert_string_equal(a[i].container_id, b[i].container_id);
        cold += a[i].kind == ILU_START_COLD;
        warm += a[i].kind == ILU_START_WARM;
        queued += a[i].tm.queue_us > 0;
    }
    assert_memory_equal(a, b, N * sizeof *a);
    /* the scenario exercises what it should: evictions, warm reuse, queueing */
    assert_true(cold > 10 && warm > 100 && queued > 10);
    free(a);
    free(b);
}

/* ---- teardown with work in flight (ASan) ------------------------------------ */

static void free_with_work_in_flight_leaks_nothing(void **state)
{
    (void)state;
    struct world wd;
    world_config(&wd.cfg, 2, 512);
    world_start(&wd);
    fn_add(&wd, "A", 128, 0, 1 * SEC, 1 * SEC);
    fn_add(&wd, "B", 128, 0, 1 * SEC, 1 * SEC);
    prewarm(&wd, "B", 1);
    const char *fns[6] = {"A", "A", "B", "A", "B", "A"};
    uint64_t at[6] = {0, 0, 0, 10 * MS, 10 * MS, 20 * MS};
    /* stop with: one container starting, one running, calls queued, and
     * some arrivals not yet fired (their slots are freed below) */
    uint64_t t0 = wd.sim.now_us;
    for (int i = 0; i < 6; i++)
        at[i] += t0;
    schedule(&wd, 6, fns, at);
    ilu_sim_env_run_until(&wd.sim, t0 + 10 * MS);
    assert_true(ilu_worker_outstanding(wd.w) > 0);
    assert_int_equal(wd.done, 0);
    ilu_worker_free(wd.w);
    /* what is left in the heap: the arrival at t0 + 20 ms and nothing of the
     * worker's or the backend's (all cancelled) */
    assert_int_equal(ilu_sim_env_pending(&wd.sim), 1);
    assert_int_equal(ilu_sim_env_next_due(&wd.sim), t0 + 20 * MS);
    wd.be->ops->free(wd.be);
    ilu_sim_env_destroy(&wd.sim); /* frees the pending arrival's timer */
    free(wd.recs);
    free(wd.slots);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(env_fires_in_time_then_start_order),
        cmocka_unit_test(env_heap_order_matches_reference_with_cancels),
        cmocka_unit_test(alternating_functions_in_a_pool_for_one_are_all_cold),
        cmocka_unit_test(alternating_functions_in_a_pool_for_two_are_cold_twice),
        cmocka_unit_test(lru_evicts_the_least_recently_used),
        cmocka_unit_test(lru_cycle_of_three_through_room_for_two_is_always_cold),
        cmocka_unit_test(one_cpu_prewarmed_queues_exactly),
        cmocka_unit_test(two_cpus_two_prewarmed_queue_exactly),
        cmocka_unit_test(two_cpus_one_prewarmed_cold_starts_the_second),
        cmocka_unit_test(call_waits_for_memory_held_by_a_busy_container),
        cmocka_unit_test(keepalive_removes_the_idle_container_between_calls),
        cmocka_unit_test(timeout_is_504_at_arrival_plus_timeout),
        cmocka_unit_test(timeouts_stay_exact_when_earlier_invocations_finish_first),
        cmocka_unit_test(function_larger_than_the_pool_is_refused_with_400),
        cmocka_unit_test(full_queue_refuses_at_once_with_429),
        cmocka_unit_test(worker_refuses_a_config_it_cannot_honour),
        cmocka_unit_test(sim_section_loads_through_the_worker_config),
        cmocka_unit_test(jitter_stays_in_bounds_and_repeats_with_its_seed),
        cmocka_unit_test(same_inputs_and_seed_give_identical_results),
        cmocka_unit_test(free_with_work_in_flight_leaks_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
