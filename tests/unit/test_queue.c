/* ilu_queue: a bounded queue around a policy; the keyed heap policies order on (key, arrival sequence). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

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

static void fcfs_pops_in_arrival_order(void **state)
{
    (void)state;
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    struct ilu_queue q;
    assert_int_equal(ilu_queue_init(&q, ilu_queue_policy_find("fcfs"), NULL, 0, NULL), 0);
    /* function exec times must not matter to fcfs */
    fx.fns[0].stats.exec_us.ewma = 900;
    fx.fns[1].stats.exec_us.ewma = 1;
    for (size_t i = 0; i < 100; i++) /* several arrivals share a timestamp */
        assert_int_equal(ilu_queue_push(&q, mk(&fx, i, 1000 + i / 3, (int)(i % 2)), NULL, NULL), 0);
    assert_int_equal(ilu_queue_len(&q), 100);
    for (size_t i = 0; i < 100; i++) {
        assert_ptr_equal(ilu_queue_next(&q, NULL), &fx.invs[i]);
        struct ilu_invocation *inv = ilu_queue_pop(&q, NULL);
        assert_ptr_equal(inv, &fx.invs[i]);
        assert_false(inv->queued);
    }
    assert_null(ilu_queue_pop(&q, NULL));
    assert_int_equal(ilu_queue_len(&q), 0);
    ilu_queue_destroy(&q);
}

static void minheap_orders_by_exec_time_then_arrival(void **state)
{
    (void)state;
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    struct ilu_queue q;
    assert_int_equal(ilu_queue_init(&q, ilu_queue_policy_find("minheap"), NULL, 0, NULL), 0);
    fx.fns[0].stats.exec_us.ewma = 300;
    fx.fns[1].stats.exec_us.ewma = 100;
    fx.fns[2].stats.exec_us.ewma = 200;
    fx.fns[3].stats.exec_us.ewma = 0; /* never measured: first */
    int order[] = {0, 1, 2, 0, 1, 3, 2, 0, 1, 3};
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(ilu_queue_push(&q, mk(&fx, i, 5000 - i, order[i]), NULL, NULL), 0);
    /* fn3 (5, 9), fn1 (1, 4, 8), fn2 (2, 6), fn0 (0, 3, 7) */
    size_t expect[] = {5, 9, 1, 4, 8, 2, 6, 0, 3, 7};
    for (size_t i = 0; i < 10; i++)
        assert_ptr_equal(ilu_queue_pop(&q, NULL), &fx.invs[expect[i]]);
    assert_null(ilu_queue_pop(&q, NULL));
    ilu_queue_destroy(&q);
}

/* The key is taken when an invocation is queued, so a stats update while it
 * waits does not corrupt the heap. */
static void minheap_key_is_fixed_at_push(void **state)
{
    (void)state;
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    struct ilu_queue q;
    assert_int_equal(ilu_queue_init(&q, ilu_queue_policy_find("minheap"), NULL, 0, NULL), 0);
    fx.fns[0].stats.exec_us.ewma = 100;
    fx.fns[1].stats.exec_us.ewma = 200;
    assert_int_equal(ilu_queue_push(&q, mk(&fx, 0, 0, 0), NULL, NULL), 0);
    assert_int_equal(ilu_queue_push(&q, mk(&fx, 1, 0, 1), NULL, NULL), 0);
    fx.fns[0].stats.exec_us.ewma = 1000;
    assert_int_equal(ilu_queue_push(&q, mk(&fx, 2, 0, 0), NULL, NULL), 0);
    assert_ptr_equal(ilu_queue_pop(&q, NULL), &fx.invs[0]);
    assert_ptr_equal(ilu_queue_pop(&q, NULL), &fx.invs[1]);
    assert_ptr_equal(ilu_queue_pop(&q, NULL), &fx.invs[2]);
    ilu_queue_destroy(&q);
}

static void bounded_queue_push_fails_with_429(void **state)
{
    (void)state;
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    struct ilu_queue q;
    assert_int_equal(ilu_queue_init(&q, ilu_queue_policy_find("fcfs"), NULL, 3, NULL), 0);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(ilu_queue_push(&q, mk(&fx, i, i, 0), NULL, NULL), 0);
    struct ilu_error err = {0};
    struct ilu_invocation *extra = mk(&fx, 3, 3, 0);
    assert_int_equal(ilu_queue_push(&q, extra, NULL, &err), -1);
    assert_int_equal(err.status, ILU_ST_QUEUE_FULL);
    assert_int_equal(err.status, 429);
    assert_string_equal(err.kind, "queue_full");
    assert_false(extra->queued);
    assert_int_equal(ilu_queue_len(&q), 3);
    /* room again after a pop */
    assert_ptr_equal(ilu_queue_pop(&q, NULL), &fx.invs[0]);
    assert_int_equal(ilu_queue_push(&q, extra, NULL, &err), 0);
    ilu_queue_destroy(&q);
}

static void queue_grows_past_initial_capacity(void **state)
{
    (void)state;
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    struct ilu_queue q;
    assert_int_equal(ilu_queue_init(&q, ilu_queue_policy_find("fcfs"), NULL, 0, NULL), 0);
    for (size_t i = 0; i < 300; i++)
        assert_int_equal(ilu_queue_push(&q, mk(&fx, i, 300 - i, 0), NULL, NULL), 0);
    for (size_t i = 0; i < 300; i++)
        assert_ptr_equal(ilu_queue_pop(&q, NULL), &fx.invs[299 - i]);
    ilu_queue_destroy(&q);
}

static void remove_of_unqueued_is_a_no_op(void **state)
{
    (void)state;
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    struct ilu_queue q;
    assert_int_equal(ilu_queue_init(&q, ilu_queue_policy_find("fcfs"), NULL, 0, NULL), 0);
    assert_int_equal(ilu_queue_push(&q, mk(&fx, 0, 1, 0), NULL, NULL), 0);
    struct ilu_invocation *popped = ilu_queue_pop(&q, NULL);
    assert_int_equal(ilu_queue_push(&q, mk(&fx, 1, 2, 0), NULL, NULL), 0);
    ilu_queue_remove(&q, popped);
    assert_int_equal(ilu_queue_len(&q), 1);
    assert_ptr_equal(ilu_queue_next(&q, NULL), &fx.invs[1]);
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

static int ref_cmp(const void *a, const void *b)
{
    const struct ilu_invocation *x = *(struct ilu_invocation *const *)a, *y = *(struct ilu_invocation *const *)b;
    double kx = x->fn->stats.exec_us.ewma, ky = y->fn->stats.exec_us.ewma;
    if (kx != ky)
        return kx < ky ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void remove_from_middle_keeps_heap_order(void **state)
{
    (void)state;
    static struct fixture fx;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        memset(&fx, 0, sizeof fx);
        rng_state = 0x9E3779B97F4A7C15ULL * seed;
        for (int f = 0; f < 8; f++)
            fx.fns[f].stats.exec_us.ewma = (double)(rnd() % 5) * 1000; /* few distinct keys: many ties */
        struct ilu_queue q;
        assert_int_equal(ilu_queue_init(&q, ilu_queue_policy_find("minheap"), NULL, 0, NULL), 0);
        struct ilu_invocation *ref[MAXN];
        size_t nref = 0, next = 0;
        /* interleave pushes, removals anywhere and pops, checked against a sorted array */
        for (int step = 0; step < 600; step++) {
            uint64_t op = rnd() % 10;
            if ((op < 5 || nref == 0) && next < MAXN) {
                struct ilu_invocation *inv = mk(&fx, next++, 0, (int)(rnd() % 8));
                assert_int_equal(ilu_queue_push(&q, inv, NULL, NULL), 0);
                ref[nref++] = inv;
                qsort(ref, nref, sizeof ref[0], ref_cmp);
            } else if (op < 8 && nref) {
                size_t k = rnd() % nref;
                ilu_queue_remove(&q, ref[k]);
                assert_false(ref[k]->queued);
                memmove(&ref[k], &ref[k + 1], (nref - k - 1) * sizeof ref[0]);
                nref--;
            } else if (nref) {
                assert_ptr_equal(ilu_queue_pop(&q, NULL), ref[0]);
                memmove(&ref[0], &ref[1], (nref - 1) * sizeof ref[0]);
                nref--;
            }
            assert_int_equal(ilu_queue_len(&q), nref);
            assert_ptr_equal(ilu_queue_next(&q, NULL), nref ? ref[0] : NULL);
        }
        for (size_t i = 0; i < nref; i++)
            assert_ptr_equal(ilu_queue_pop(&q, NULL), ref[i]);
        assert_null(ilu_queue_pop(&q, NULL));
        ilu_queue_destroy(&q);
    }
}

static void policy_lookup_is_case_insensitive_and_rejects_unknown(void **state)
{
    (void)state;
    assert_non_null(ilu_queue_policy_find("FCFS"));
    assert_non_null(ilu_queue_policy_find("MinHeap"));
    assert_null(ilu_queue_policy_find("sjf"));
    assert_non_null(ilu_keepalive_policy_find("lru"));
    assert_null(ilu_keepalive_policy_find("mru"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fcfs_pops_in_arrival_order),
        cmocka_unit_test(minheap_orders_by_exec_time_then_arrival),
        cmocka_unit_test(minheap_key_is_fixed_at_push),
        cmocka_unit_test(bounded_queue_push_fails_with_429),
        cmocka_unit_test(queue_grows_past_initial_capacity),
        cmocka_unit_test(remove_of_unqueued_is_a_no_op),
        cmocka_unit_test(remove_from_middle_keeps_heap_order),
        cmocka_unit_test(policy_lookup_is_case_insensitive_and_rejects_unknown),
    };
    return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
