/* Worker: registration and lookup errors (404, 400, 409, 413) and the
 * function list. */
#include "api/registration.h"
#include "worker_fixture.h"

static void unknown_function_is_404(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r = {0};
    struct ilu_error err = {0};
    assert_int_equal(ilu_worker_invoke(w, "nope", "1", "{}", 2, "t", fake_result_cb, &r, &err), -1);
    assert_int_equal(err.status, 404);
    assert_non_null(strstr(err.msg, "nope-1"));
    assert_int_equal(ilu_worker_invoke(w, "A", "2", "{}", 2, "t", fake_result_cb, &r, &err), -1);
    assert_int_equal(err.status, 404);
    assert_int_equal(ilu_worker_prewarm(w, "nope", "1", "t", NULL, NULL, &err), -1);
    assert_int_equal(err.status, 404);
    fake_advance(&fw.env, SEC);
    assert_int_equal(r.calls, 0);
    assert_int_equal(fw.be.created, 0);
    fake_world_end(&fw);
}

static void missing_name_or_version_is_400(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start(&fw);
    struct ilu_error err = {0};
    assert_int_equal(ilu_worker_invoke(w, "", "1", "{}", 2, "t", fake_result_cb, NULL, &err), -1);
    assert_int_equal(err.status, 400);
    assert_int_equal(ilu_worker_invoke(w, "A", NULL, "{}", 2, "t", fake_result_cb, NULL, &err), -1);
    assert_int_equal(err.status, 400);
    fake_world_end(&fw);
}

static void payload_over_limit_is_413(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.limits.max_payload_bytes = 8;
    struct ilu_worker *w = fake_world_start_with(&fw, "A", 128);
    struct fake_result r = {0};
    struct ilu_error err = {0};
    assert_int_equal(ilu_worker_invoke(w, "A", "1", "{\"a\":123}", 9, "t", fake_result_cb, &r, &err), -1);
    assert_int_equal(err.status, 413);
    r.env = &fw.env;
    assert_int_equal(ilu_worker_invoke(w, "A", "1", "{\"a\":12}", 8, "t", fake_result_cb, &r, &err), 0);
    fake_settle(&fw.env, w);
    assert_int_equal(r.calls, 1);
    fake_result_clear(&r);
    fake_world_end(&fw);
}

static void conflicting_reregistration_is_409_identical_is_0(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start(&fw);
    struct ilu_error err = {0};
    struct ilu_register_req req = fake_req("A", "/functions/A", 128);
    assert_int_equal(ilu_worker_register(w, &req, "r1", &err), 0);
    assert_int_equal(ilu_worker_register(w, &req, "r2", &err), 0);
    req.memory_mb = 256;
    assert_int_equal(ilu_worker_register(w, &req, "r3", &err), -1);
    assert_int_equal(err.status, 409);
    assert_non_null(strstr(err.msg, "A-1"));
    req = fake_req("A", "/functions/other", 128);
    assert_int_equal(ilu_worker_register(w, &req, "r4", &err), -1);
    assert_int_equal(err.status, 409);
    assert_int_equal(ilu_worker_function(w, "A", "1")->memory_mb, 128);
    json_t *list = ilu_worker_list_json(w);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    fake_world_end(&fw);
}

static void function_memory_larger_than_pool_is_400(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.memory_mb = 256;
    struct ilu_worker *w = fake_world_start(&fw);
    struct ilu_error err = {0};
    struct ilu_register_req req = fake_req("big", "/functions/big", 512);
    assert_int_equal(ilu_worker_register(w, &req, "r", &err), -1);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "container_resources.memory_mb=256"));
    assert_null(ilu_worker_function(w, "big", "1"));
    fake_world_end(&fw);
}

static void invalid_registrations_are_400(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start(&fw);
    struct ilu_error err = {0};
    struct ilu_register_req req = fake_req("a/b", "/f", 128);
    assert_int_equal(ilu_worker_register(w, &req, "r", &err), -1);
    assert_int_equal(err.status, 400);
    req = fake_req("A", "", 128);
    assert_int_equal(ilu_worker_register(w, &req, "r", &err), -1);
    assert_int_equal(err.status, 400);
    req = fake_req("A", "/f", 1); /* under limits.mem_min_mb */
    assert_int_equal(ilu_worker_register(w, &req, "r", &err), -1);
    assert_int_equal(err.status, 400);
    req = fake_req("A", "/f", 128);
    req.cpus = 0;
    assert_int_equal(ilu_worker_register(w, &req, "r", &err), -1);
    assert_int_equal(err.status, 400);
    req = fake_req("A", "/f", 128);
    req.parallel_invokes = 2;
    assert_int_equal(ilu_worker_register(w, &req, "r", &err), -1);
    assert_int_equal(err.status, 400);
    fw.be.check_image_fails = true;
    req = fake_req("A", "/f", 128);
    assert_int_equal(ilu_worker_register(w, &req, "r", &err), -1);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "registering A-1: /f has no main.py"));
    assert_null(ilu_worker_function(w, "A", "1"));
    fake_world_end(&fw);
}

/* image_name: a folder's absolute path or an OCI image reference; the
 * same rules (control characters, "..") for both. */
static void image_references_pass_the_syntax_check(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start(&fw);
    struct ilu_error err = {0};
    static const char *ok[] = {"oci:/srv/layout:v1", "oci-archive:/srv/i.tar", "docker-archive:/srv/i.tar:repo:tag",
                               "docker://registry.example/repo:tag"};
    static const char *bad[] = {"relative/path", "http://example/x", "oci", "oci:/srv/../etc:v1", "docker://a\tb"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_true(ilu_image_is_reference(ok[i]));
        struct ilu_register_req req = fake_req("I", ok[i], 128);
        char version[8];
        snprintf(version, sizeof version, "%zu", i);
        req.function_version = version;
        assert_int_equal(ilu_worker_register(w, &req, "r", &err), 0);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ilu_register_req req = fake_req("B", bad[i], 128);
        assert_int_equal(ilu_worker_register(w, &req, "r", &err), -1);
        assert_int_equal(err.status, 400);
        assert_string_equal(err.kind, "bad_image");
    }
    assert_false(ilu_image_is_reference("/srv/fn"));
    fake_world_end(&fw);
}

static void system_functions_are_hidden_from_the_list(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start(&fw);
    struct ilu_error err = {0};
    struct ilu_register_req req = fake_req(ILU_HEALTH_FUNCTION, "/functions/health", 32);
    req.function_version = ILU_HEALTH_VERSION;
    req.system = true;
    assert_int_equal(ilu_worker_register(w, &req, "r", &err), 0);
    fake_register(w, "A", 128);
    json_t *list = ilu_worker_list_json(w);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(fake_json_str(json_array_get(list, 0), "function_name"), "A");
    json_decref(list);
    json_t *metrics = ilu_worker_metrics_json(w);
    assert_int_equal(json_array_size(metrics), 2);
    json_decref(metrics);
    fake_world_end(&fw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unknown_function_is_404),
        cmocka_unit_test(missing_name_or_version_is_400),
        cmocka_unit_test(payload_over_limit_is_413),
        cmocka_unit_test(conflicting_reregistration_is_409_identical_is_0),
        cmocka_unit_test(function_memory_larger_than_pool_is_400),
        cmocka_unit_test(invalid_registrations_are_400),
        cmocka_unit_test(image_references_pass_the_syntax_check),
        cmocka_unit_test(system_functions_are_hidden_from_the_list),
    };
    return cmocka_run_group_tests_name("worker_registration", tests, NULL, NULL);
}
