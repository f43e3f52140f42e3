/* The test doubles themselves: if the fake env (sim_env under a thin layer)
 * mis-orders timers, every worker test built on it means nothing. */
#include "fake.h"

static unsigned order[16], n_order;
static struct fake_env *cur;

static void note(void *arg)
{
    order[n_order++] = (unsigned)(uintptr_t)arg;
}

static void note_and_start_zero(void *arg)
{
    note(arg);
    cur->env.timer_start(cur, 0, note, (void *)(uintptr_t)99);
}

static void timers_fire_by_due_time_then_start_order(void **state)
{
    (void)state;
    struct fake_env f;
    fake_env_init(&f, 1000);
    n_order = 0;
    f.env.timer_start(&f, 30, note, (void *)1);
    f.env.timer_start(&f, 10, note, (void *)2);
    f.env.timer_start(&f, 30, note, (void *)3);
    f.env.timer_start(&f, 10, note, (void *)4);
    assert_int_equal(fake_n_timers(&f), 4);
    fake_run_until(&f, 1020);
    assert_int_equal(n_order, 2);
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 4);
    assert_int_equal(fake_now(&f), 1020);
    fake_run_all(&f);
    assert_int_equal(n_order, 4);
    assert_int_equal(order[2], 1);
    assert_int_equal(order[3], 3);
    assert_int_equal(fake_now(&f), 1030);
    fake_env_destroy(&f);
}

static void zero_delay_fires_after_current_callback_at_same_time(void **state)
{
    (void)state;
    struct fake_env f;
    fake_env_init(&f, 0);
    cur = &f;
    n_order = 0;
    f.env.timer_start(&f, 5, note_and_start_zero, (void *)1);
    f.env.timer_start(&f, 5, note, (void *)2);
    f.env.timer_start(&f, 6, note, (void *)3);
    fake_run_until(&f, 5);
    assert_int_equal(n_order, 3);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 99); /* at t=5, after the already scheduled one */
    assert_int_equal(fake_now(&f), 5);
    fake_run_all(&f);
    assert_int_equal(order[3], 3);
    fake_env_destroy(&f);
}

static void cancelled_timer_never_fires(void **state)
{
    (void)state;
    struct fake_env f;
    fake_env_init(&f, 0);
    n_order = 0;
    struct ilu_timer *t = f.env.timer_start(&f, 5, note, (void *)1);
    f.env.timer_start(&f, 7, note, (void *)2);
    f.env.timer_cancel(&f, t);
    f.env.timer_cancel(&f, NULL);
    fake_run_all(&f);
    assert_int_equal(n_order, 1);
    assert_int_equal(order[0], 2);
    fake_env_destroy(&f);
}

static void log_lines_are_captured(void **state)
{
    (void)state;
    struct fake_env f;
    fake_env_init(&f, 5 * SEC);
    ilu_log_emit(&f.log, ILU_LOG_INFO, "tid-9", json_pack("{s:i}", "k", 1), "hello %d", 42);
    ilu_info(&f.log, "tid-10", "second");
    assert_int_equal(f.log_lines, 2);
    assert_int_equal(fake_log_count(&f, "\"tid\":\"tid-9\",\"message\":\"hello 42\",\"k\":1}"), 1);
    assert_int_equal(fake_log_count(&f, "tid-"), 2);
    json_error_t jerr;
    char first[512];
    snprintf(first, sizeof first, "%.*s", (int)(strchr(f.log_buf, '\n') - f.log_buf), f.log_buf);
    json_t *j = json_loads(first, 0, &jerr);
    assert_non_null(j); /* each line is one JSON object */
    assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
    json_decref(j);
    fake_env_destroy(&f);
}

static void fake_backend_runs_cold_start_then_invocation(void **state)
{
    (void)state;
    struct fake_world fw;
    fake_world_init(&fw, 1 * SEC);
    fake_fn(&fw.be, "A-1")->cold_us = 70 * MS;
    fake_fn(&fw.be, "A-1")->exec_us = 25 * MS;
    struct ilu_worker *w = fake_world_start(&fw);
    fake_register(w, "A", 128);
    struct fake_result r = {0};
    fake_invoke_ok(w, &fw.env, "A", "t", &r);
    fake_settle(&fw.env, w);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.done_at, 1 * SEC + 95 * MS);
    assert_int_equal(fw.be.created, 1);
    assert_int_equal(fw.be.invokes, 1);
    assert_int_equal(fw.be.max_busy, 1);
    assert_int_equal(fw.be.busy, 0);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timers_fire_by_due_time_then_start_order),
        cmocka_unit_test(zero_delay_fires_after_current_callback_at_same_time),
        cmocka_unit_test(cancelled_timer_never_fires),
        cmocka_unit_test(log_lines_are_captured),
        cmocka_unit_test(fake_backend_runs_cold_start_then_invocation),
    };
    return cmocka_run_group_tests_name("fake", tests, NULL, NULL);
}
