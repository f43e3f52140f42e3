/* ilu_map: string-keyed open-addressing map with tombstones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/map.h"

static void *val(uintptr_t n)
{
    return (void *)n;
}

static void put_get_del_one_key(void **state)
{
    (void)state;
    struct ilu_map m;
    assert_int_equal(ilu_map_init(&m), 0);
    assert_null(ilu_map_get(&m, "a"));
    assert_int_equal(ilu_map_put(&m, "a", val(1)), 0);
    assert_ptr_equal(ilu_map_get(&m, "a"), val(1));
    assert_int_equal(m.len, 1);
    assert_int_equal(ilu_map_put(&m, "a", val(2)), 0); /* replaces */
    assert_ptr_equal(ilu_map_get(&m, "a"), val(2));
    assert_int_equal(m.len, 1);
    assert_ptr_equal(ilu_map_del(&m, "a"), val(2));
    assert_null(ilu_map_get(&m, "a"));
    assert_null(ilu_map_del(&m, "a"));
    assert_int_equal(m.len, 0);
    ilu_map_destroy(&m);
}

static void keys_are_copied(void **state)
{
    (void)state;
    struct ilu_map m;
    assert_int_equal(ilu_map_init(&m), 0);
    char key[8] = "abc";
    assert_int_equal(ilu_map_put(&m, key, val(7)), 0);
    key[0] = 'x';
    assert_ptr_equal(ilu_map_get(&m, "abc"), val(7));
    assert_null(ilu_map_get(&m, "xbc"));
    ilu_map_destroy(&m);
}

static void many_keys_survive_growth(void **state)
{
    (void)state;
    struct ilu_map m;
    assert_int_equal(ilu_map_init(&m), 0);
    size_t cap0 = m.cap;
    char key[32];
    for (uintptr_t i = 1; i <= 5000; i++) {
        snprintf(key, sizeof key, "fn-%lu", (unsigned long)i);
        assert_int_equal(ilu_map_put(&m, key, val(i)), 0);
    }
    assert_int_equal(m.len, 5000);
    assert_true(m.cap > cap0);
    assert_true(m.used * 4 <= m.cap * 3);
    for (uintptr_t i = 1; i <= 5000; i++) {
        snprintf(key, sizeof key, "fn-%lu", (unsigned long)i);
        assert_ptr_equal(ilu_map_get(&m, key), val(i));
    }
    assert_null(ilu_map_get(&m, "fn-0"));
    assert_null(ilu_map_get(&m, "fn-5001"));
    ilu_map_destroy(&m);
}

static void deleted_keys_leave_tombstones_and_can_be_reinserted(void **state)
{
    (void)state;
    struct ilu_map m;
    assert_int_equal(ilu_map_init(&m), 0);
    char key[32];
    for (uintptr_t i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "k%lu", (unsigned long)i);
        assert_int_equal(ilu_map_put(&m, key, val(i + 1)), 0);
    }
    size_t used = m.used;
    for (uintptr_t i = 0; i < 10; i += 2) {
        snprintf(key, sizeof key, "k%lu", (unsigned long)i);
        assert_ptr_equal(ilu_map_del(&m, key), val(i + 1));
    }
    assert_int_equal(m.len, 5);
    assert_int_equal(m.used, used); /* tombstones still count */
    /* keys probed past a tombstone are still found */
    for (uintptr_t i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "k%lu", (unsigned long)i);
        if (i % 2)
            assert_ptr_equal(ilu_map_get(&m, key), val(i + 1));
        else
            assert_null(ilu_map_get(&m, key));
    }
    for (uintptr_t i = 0; i < 10; i += 2) {
        snprintf(key, sizeof key, "k%lu", (unsigned long)i);
        assert_int_equal(ilu_map_put(&m, key, val(100 + i)), 0);
    }
    assert_int_equal(m.len, 10);
    for (uintptr_t i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "k%lu", (unsigned long)i);
        assert_ptr_equal(ilu_map_get(&m, key), val(i % 2 ? i + 1 : 100 + i));
    }
    ilu_map_destroy(&m);
}

/* Insert/delete churn with few live keys: tombstones must not fill the table
 * (find() would loop forever) and every live key stays reachable. */
static void churn_does_not_exhaust_the_table(void **state)
{
    (void)state;
    struct ilu_map m;
    assert_int_equal(ilu_map_init(&m), 0);
    char key[32];
    for (uintptr_t i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "c%lu", (unsigned long)i);
        assert_int_equal(ilu_map_put(&m, key, val(i + 1)), 0);
        if (i >= 3) {
            snprintf(key, sizeof key, "c%lu", (unsigned long)(i - 3));
            assert_ptr_equal(ilu_map_del(&m, key), val(i - 2));
        }
        assert_true(m.used < m.cap);
    }
    assert_int_equal(m.len, 3);
    assert_true(m.cap <= 64); /* rehashed in place, not grown without bound */
    for (uintptr_t i = 19997; i < 20000; i++) {
        snprintf(key, sizeof key, "c%lu", (unsigned long)i);
        assert_ptr_equal(ilu_map_get(&m, key), val(i + 1));
    }
    ilu_map_destroy(&m);
}

static void iteration_visits_each_key_once(void **state)
{
    (void)state;
    struct ilu_map m;
    assert_int_equal(ilu_map_init(&m), 0);
    enum { N = 300 };
    unsigned seen[N] = {0};
    char key[32];
    for (uintptr_t i = 0; i < N; i++) {
        snprintf(key, sizeof key, "it%lu", (unsigned long)i);
        assert_int_equal(ilu_map_put(&m, key, val(i + 1)), 0);
    }
    for (uintptr_t i = 0; i < N; i += 3) { /* tombstones are skipped */
        snprintf(key, sizeof key, "it%lu", (unsigned long)i);
        ilu_map_del(&m, key);
    }
    const char *k;
    void *v;
    size_t visits = 0;
    for (size_t it = 0; ilu_map_next(&m, &it, &k, &v);) {
        uintptr_t i = (uintptr_t)v - 1;
        assert_true(i < N);
        snprintf(key, sizeof key, "it%lu", (unsigned long)i);
        assert_string_equal(k, key);
        seen[i]++;
        visits++;
    }
    assert_int_equal(visits, m.len);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(seen[i], i % 3 ? 1 : 0);
    ilu_map_destroy(&m);
}

static void iteration_of_empty_map_yields_nothing(void **state)
{
    (void)state;
    struct ilu_map m;
    assert_int_equal(ilu_map_init(&m), 0);
    const char *k;
    void *v;
    size_t it = 0;
    assert_int_equal(ilu_map_next(&m, &it, &k, &v), 0);
    ilu_map_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_get_del_one_key),
        cmocka_unit_test(keys_are_copied),
        cmocka_unit_test(many_keys_survive_growth),
        cmocka_unit_test(deleted_keys_leave_tombstones_and_can_be_reinserted),
        cmocka_unit_test(churn_does_not_exhaust_the_table),
        cmocka_unit_test(iteration_visits_each_key_once),
        cmocka_unit_test(iteration_of_empty_map_yields_nothing),
    };
    return cmocka_run_group_tests_name("map", tests, NULL, NULL);
}
