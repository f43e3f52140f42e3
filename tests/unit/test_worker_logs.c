/* Worker: transaction ids, container ids and log lines (every line one JSON
 * object, also with the longest names and a quote in a name). */
#include "worker_fixture.h"

static void tid_appears_in_the_invocations_log_lines(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fake_world_start_with(&fw, "A", 128);
    struct fake_result r = {0};
    fake_invoke_settled(&fw, "A", "tid-7f3a", &r);
    assert_int_equal(fake_log_count(&fw.env, "\"tid\":\"tid-7f3a\",\"message\":\"starting container\""), 1);
    assert_int_equal(fake_log_count(&fw.env, "\"tid\":\"tid-7f3a\",\"message\":\"container ready\""), 1);
    assert_int_equal(fake_log_count(&fw.env, "\"tid\":\"tid-7f3a\",\"message\":\"Invocation complete\""), 1);
    assert_int_equal(fake_log_count(&fw.env, "tid-7f3a"), 3);
    assert_string_equal(fw.be.last_create_tid, "tid-7f3a");
    assert_string_equal(fw.be.last_invoke_tid, "tid-7f3a");
    fake_result_clear(&r);
    fake_world_end(&fw);
}

static void container_ids_are_unique_and_file_name_safe(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    snprintf(fw.cfg.name, sizeof fw.cfg.name, "w 1/x");
    fw.cfg.container_resources.cpu_count = 2;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r[2] = {{0}};
    fake_invoke_ok(w, &fw.env, "A", "t", &r[0]);
    fake_invoke_settled(&fw, "A", "t", &r[1]);
    assert_string_equal(r[0].container_id, "A-1-1");
    assert_string_equal(r[1].container_id, "A-1-2");
    fake_result_clear(&r[0]);
    fake_result_clear(&r[1]);
    fake_world_end(&fw);
}

/* Regression test (bug found and fixed during review: ilu_invocation_result_json truncates
 * exec_sec * 1e6 instead of rounding: 1.001 s becomes 1000999 us). */
static void exec_us_is_the_agents_duration_rounded_to_the_microsecond(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fake_fn(&fw.be, "A-1")->exec_us = 1001 * MS;
    fake_world_start_with(&fw, "A", 128);
    struct fake_result r = {0};
    fake_invoke_settled(&fw, "A", "t", &r);
    long long exec = fake_json_int(r.json, "timings.exec_us"), overhead = fake_json_int(r.json, "timings.overhead_us");
    fake_result_clear(&r);
    fake_world_end(&fw);
    assert_int_equal(exec, 1001000); /* the agent said "duration_sec":1.001000 */
    assert_int_equal(overhead, 0);
}

static void register_max_length(struct ilu_worker *w, char *name, char *version)
{
    memset(name, 'n', 63);
    name[63] = 0;
    memset(version, 'v', 63);
    version[63] = 0;
    struct ilu_register_req req = {.function_name = name,
                                   .function_version = version,
                                   .image_name = "/functions/long",
                                   .memory_mb = 128,
                                   .cpus = 1,
                                   .parallel_invokes = 1};
    struct ilu_error err = {0};
    assert_int_equal(ilu_worker_register(w, &req, "r", &err), 0);
}

/* Regression test (bug found and fixed during review: pool_new_container cuts the id at 95
 * characters, dropping the sequence number that makes it unique). */
static void container_ids_stay_unique_with_longest_names(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.cpu_count = 2;
    struct ilu_worker *w = fake_world_start(&fw);
    char name[64], version[64];
    register_max_length(w, name, version);
    struct fake_result r[2] = {{0}};
    struct ilu_error err = {0};
    for (int i = 0; i < 2; i++) {
        r[i].env = &fw.env;
        assert_int_equal(ilu_worker_invoke(w, name, version, "{}", 2, "t", fake_result_cb, &r[i], &err), 0);
    }
    fake_settle(&fw.env, w);
    char id0[96], id1[96];
    snprintf(id0, sizeof id0, "%s", r[0].container_id);
    snprintf(id1, sizeof id1, "%s", r[1].container_id);
    fake_result_clear(&r[0]);
    fake_result_clear(&r[1]);
    unsigned violations = fw.be.violations;
    fw.be.violations = 0;
    fake_world_end(&fw);
    assert_string_not_equal(id0, id1);
    assert_int_equal(violations, 0);
}

/* Each captured line must parse as one JSON object. */
static unsigned invalid_log_lines(const struct fake_env *f, char *first_bad, size_t n)
{
    unsigned bad = 0;
    first_bad[0] = 0;
    for (const char *line = f->log_buf; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        json_error_t jerr;
        json_t *j = json_loadb(line, len, 0, &jerr);
        if (!json_is_object(j)) {
            if (!bad++)
                snprintf(first_bad, n, "%.*s", (int)len, line);
        }
        json_decref(j);
        line += len + (end ? 1 : 0);
    }
    return bad;
}

/* Regression test (bug found and fixed during review: log fields are built with snprintf into
 * fixed buffers: pool_remove's 256 bytes, on_ready's 192 and
 * start_container's 160 cut long ids and names mid-string). */
static void log_lines_are_json_with_longest_names(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start(&fw);
    char name[64], version[64];
    register_max_length(w, name, version);
    struct fake_result r = {0};
    struct ilu_error err = {0};
    r.env = &fw.env;
    assert_int_equal(ilu_worker_invoke(w, name, version, "{}", 2, "t", fake_result_cb, &r, &err), 0);
    fake_settle(&fw.env, w);
    ilu_worker_clean(w, "clean");
    char bad_line[512];
    unsigned bad = invalid_log_lines(&fw.env, bad_line, sizeof bad_line);
    unsigned lines = fw.env.log_lines;
    fake_result_clear(&r);
    fake_world_end(&fw);
    assert_true(lines >= 5);
    if (bad)
        fail_msg("%u of %u log lines are not JSON, first: %s", bad, lines, bad_line);
}

/* Regression test (bug found and fixed during review: names are pasted into log fields unescaped;
 * valid_name accepts '"'). Rejecting such a name with 400 would also pass. */
static void log_lines_are_json_with_a_quote_in_the_name(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start(&fw);
    struct ilu_register_req req = fake_req("say\"hi", "/functions/q", 128);
    struct ilu_error err = {0};
    if (ilu_worker_register(w, &req, "r", &err) == 0) {
        struct fake_result r = {0};
        r.env = &fw.env;
        assert_int_equal(ilu_worker_invoke(w, "say\"hi", "1", "{}", 2, "t", fake_result_cb, &r, &err), 0);
        fake_settle(&fw.env, w);
        fake_result_clear(&r);
    } else {
        assert_int_equal(err.status, 400);
    }
    char bad_line[512];
    unsigned bad = invalid_log_lines(&fw.env, bad_line, sizeof bad_line);
    unsigned lines = fw.env.log_lines;
    fake_world_end(&fw);
    if (bad)
        fail_msg("%u of %u log lines are not JSON, first: %s", bad, lines, bad_line);
}

static void log_lines_are_json_in_ordinary_use(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fake_fn(&fw.be, "B-1")->raise = true;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    fake_register(w, "B", 128);
    struct fake_result r = {0};
    fake_invoke_ok(w, &fw.env, "A", "t1", &r);
    fake_invoke_settled(&fw, "B", "t2", &r);
    ilu_worker_begin_shutdown(w);
    char bad_line[512];
    unsigned bad = invalid_log_lines(&fw.env, bad_line, sizeof bad_line);
    assert_true(fw.env.log_lines >= 10);
    if (bad)
        fail_msg("%u log lines are not JSON, first: %s", bad, bad_line);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tid_appears_in_the_invocations_log_lines),
        cmocka_unit_test(container_ids_are_unique_and_file_name_safe),
        cmocka_unit_test(exec_us_is_the_agents_duration_rounded_to_the_microsecond),
        cmocka_unit_test(container_ids_stay_unique_with_longest_names),
        cmocka_unit_test(log_lines_are_json_with_longest_names),
        cmocka_unit_test(log_lines_are_json_with_a_quote_in_the_name),
        cmocka_unit_test(log_lines_are_json_in_ordinary_use),
    };
    return cmocka_run_group_tests_name("worker_logs", tests, NULL, NULL);
}
