/* The controller and compute (docs/gpu.md): the syntax is checked with the
 * workers' rules, the body is kept and forwarded as sent, and a second
 * registration is compared by meaning ("gpu|cpu" is "CPU|GPU", none is
 * CPU). Whether a worker has GPUs is the worker's to say. */
#include "controller_fixture.h"

static int register_with(struct world *W, const char *name, json_t *compute, struct ilu_error *err)
{
    json_t *r = json_pack("{s:s, s:s, s:s, s:i, s:i}", "function_name", name, "function_version", "1", "image_name",
                          "/fn/f", "memory", 128, "cpus", 1);
    if (compute)
        json_object_set_new(r, "compute", compute);
    int rc = ilu_controller_register_function(W->c, r, true, "t", NULL, NULL, err);
    json_decref(r);
    return rc;
}

static void compute_is_checked_kept_and_compared_by_meaning(void **state)
{
    (void)state;
    struct world W;
    world_init(&W, "CH-BL");
    W.use_store = true;
    world_start(&W);
    struct ilu_error err = {0};
    /* GPU is taken: the controller does not know its workers' GPUs */
    assert_int_equal(register_with(&W, "g", json_string("GPU"), &err), 0);
    assert_string_equal(fake_json_str(W.st.last_registration, "compute"), "GPU");
    assert_int_equal(register_with(&W, "p", json_string("gpu|cpu"), &err), 0);
    assert_string_equal(fake_json_str(W.st.last_registration, "compute"), "gpu|cpu"); /* forwarded as sent */
    assert_int_equal(register_with(&W, "c", NULL, &err), 0);

    /* the same by meaning: no conflict */
    assert_int_equal(register_with(&W, "p", json_string("CPU|GPU"), &err), 0);
    assert_int_equal(register_with(&W, "c", json_string("cpu"), &err), 0);
    /* another compute: 409 */
    assert_int_equal(register_with(&W, "g", json_string("CPU|GPU"), &err), -1);
    assert_int_equal(err.status, 409);
    assert_string_equal(err.msg, "function g-1 is already registered with a different compute");
    assert_int_equal(register_with(&W, "c", json_string("GPU"), &err), -1);
    assert_int_equal(err.status, 409);

    /* bad syntax: 400 naming the field, nothing kept */
    assert_int_equal(register_with(&W, "bad", json_string("FPGA"), &err), -1);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "field compute must be CPU, GPU or CPU|GPU"));
    assert_int_equal(register_with(&W, "bad", json_integer(2), &err), -1);
    assert_int_equal(err.status, 400);
    assert_int_equal(W.st.functions, 3);
    world_end(&W);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compute_is_checked_kept_and_compared_by_meaning),
    };
    return cmocka_run_group_tests_name("controller_compute", tests, NULL, NULL);
}
