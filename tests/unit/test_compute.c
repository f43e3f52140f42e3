/* compute on POST /register (Ilúvatar's Compute: CPU, GPU, CPU|GPU): its
 * text forms, the registration rules with and without GPUs, what the worker
 * keeps and lists, and a simulated worker whose GPUs come from
 * container_resources.gpu_resource. */
#include "api/registration.h"
#include "worker_fixture.h"
#include "sim_world.h"

static void compute_text_forms(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint32_t bits;
    } ok[] = {
        {"CPU", ILU_COMPUTE_CPU},     {"cpu", ILU_COMPUTE_CPU},         {"GPU", ILU_COMPUTE_GPU},
        {"gPu", ILU_COMPUTE_GPU},     {"CPU|GPU", ILU_COMPUTE_ALL},     {"gpu|cpu", ILU_COMPUTE_ALL},
        {"CPU|CPU", ILU_COMPUTE_CPU}, {"GPU|GPU|CPU", ILU_COMPUTE_ALL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint32_t bits = 0;
        struct ilu_error err = {0};
        if (ilu_compute_parse(ok[i].text, &bits, &err))
            fail_msg("%s: %s", ok[i].text, err.msg);
        assert_int_equal(bits, ok[i].bits);
    }
    static const char *const bad[] = {"", "FPGA", "CPU|FPGA", "CPU|", "|GPU", "CPU GPU", "CPU,GPU", " CPU", "GPUs"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t bits = 77;
        struct ilu_error err = {0};
        assert_int_equal(ilu_compute_parse(bad[i], &bits, &err), -1);
        assert_int_equal(err.status, 400);
        assert_int_equal(bits, 77);
        char want[160];
        snprintf(want, sizeof want,
                 "field compute must be CPU, GPU or CPU|GPU (names separated by |, any case), not \"%s\"", bad[i]);
        assert_string_equal(err.msg, want);
    }
    assert_string_equal(ilu_compute_name(ILU_COMPUTE_CPU), "CPU");
    assert_string_equal(ilu_compute_name(ILU_COMPUTE_GPU), "GPU");
    assert_string_equal(ilu_compute_name(ILU_COMPUTE_ALL), "CPU|GPU");
    assert_string_equal(ilu_compute_name(0), "CPU");
}

#define REG "{\"function_name\": \"f\", \"function_version\": \"1\", \"image_name\": \"/srv/f\", \"memory\": 128"

static void compute_in_the_register_body(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        uint32_t bits;
    } ok[] = {
        {REG "}", ILU_COMPUTE_CPU},
        {REG ", \"compute\": null}", ILU_COMPUTE_CPU},
        {REG ", \"compute\": \"GPU\"}", ILU_COMPUTE_GPU},
        {REG ", \"compute\": \"cpu|gpu\"}", ILU_COMPUTE_ALL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        json_t *b = json_loads(ok[i].body, 0, NULL);
        struct ilu_register_req r;
        struct ilu_error err = {0};
        assert_int_equal(ilu_registration_from_json(b, &r, &err), 0);
        assert_int_equal(r.compute, ok[i].bits);
        json_decref(b);
    }
    static const struct {
        const char *body, *msg;
    } bad[] = {
        {REG ", \"compute\": 2}", "field compute must be a string: CPU, GPU or CPU|GPU"},
        {REG ", \"compute\": [\"GPU\"]}", "field compute must be a string"},
        {REG ", \"compute\": \"TPU\"}", "field compute must be CPU, GPU or CPU|GPU (names separated by |, any case), "
                                        "not \"TPU\""},
        {REG ", \"compute\": \"GPU\\u0000\"}", "field compute must be a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *b = json_loads(bad[i].body, JSON_ALLOW_NUL, NULL);
        assert_non_null(b);
        struct ilu_register_req r;
        struct ilu_error err = {0};
        assert_int_equal(ilu_registration_from_json(b, &r, &err), -1);
        assert_int_equal(err.status, 400);
        if (!strstr(err.msg, bad[i].msg))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, bad[i].msg);
        json_decref(b);
    }
}

#define NO_GPU_MSG                                                                                                     \
    "compute GPU needs a GPU: this worker has container_resources.gpu_resource.count 0 (register it with compute CPU " \
    "or CPU|GPU, or on a worker with GPUs)"

static void the_rules_with_and_without_gpus(void **state)
{
    (void)state;
    struct ilu_register_req r = {.function_name = "f",
                                 .function_version = "1",
                                 .image_name = "/srv/f",
                                 .memory_mb = 128,
                                 .cpus = 1,
                                 .parallel_invokes = 1};
    struct ilu_registration_limits lim = {.mem_min_mb = 5, .mem_max_mb = 4096, .pool_mb = 4096, .cpu_max = 4};
    struct ilu_error err = {0};
    r.compute = ILU_COMPUTE_GPU;
    assert_int_equal(ilu_registration_check(&r, &lim, &err), -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.msg, NO_GPU_MSG);
    /* CPU|GPU runs on CPU here; CPU and 0 (a request built in code) too */
    r.compute = ILU_COMPUTE_ALL;
    assert_int_equal(ilu_registration_check(&r, &lim, &err), 0);
    r.compute = ILU_COMPUTE_CPU;
    assert_int_equal(ilu_registration_check(&r, &lim, &err), 0);
    r.compute = 0;
    assert_int_equal(ilu_registration_check(&r, &lim, &err), 0);
    r.compute = 4; /* Ilúvatar's FPGA bit */
    assert_int_equal(ilu_registration_check(&r, &lim, &err), -1);
    assert_non_null(strstr(err.msg, "compute 0x4 has bits other than CPU (1) and GPU (2)"));
    /* with a GPU, GPU is taken */
    lim.gpu_count = 1;
    r.compute = ILU_COMPUTE_GPU;
    assert_int_equal(ilu_registration_check(&r, &lim, &err), 0);
    /* the controller (no limits) takes GPU: its workers decide */
    assert_int_equal(ilu_registration_check(&r, NULL, &err), 0);
}

static struct ilu_register_req req_with(const char *name, uint32_t compute)
{
    struct ilu_register_req r = fake_req(name, "/functions/f", 128);
    r.compute = compute;
    return r;
}

static const char *listed_compute(struct ilu_worker *w, const char *name)
{
    static char out[16];
    json_t *list = ilu_worker_list_json(w);
    size_t i;
    json_t *e;
    out[0] = 0;
    json_array_foreach(list, i, e) if (!strcmp(fake_json_str(e, "function_name"), name))
        snprintf(out, sizeof out, "%s", fake_json_str(e, "compute"));
    json_decref(list);
    return out;
}

/* A worker without GPUs (the default): GPU refused, CPU|GPU kept and listed
 * as such, compute part of what a re-registration must repeat. */
static void worker_without_gpus(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    struct ilu_worker *w = fake_world_start(&fw);
    struct ilu_error err = {0};
    struct ilu_register_req r = req_with("g", ILU_COMPUTE_GPU);
    assert_int_equal(ilu_worker_register(w, &r, "t", &err), -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.msg, NO_GPU_MSG);
    assert_null(ilu_worker_function(w, "g", "1"));

    r = req_with("p", ILU_COMPUTE_ALL);
    assert_int_equal(ilu_worker_register(w, &r, "t", &err), 0);
    assert_int_equal(ilu_worker_function(w, "p", "1")->compute, ILU_COMPUTE_ALL);
    r = req_with("c", 0);
    assert_int_equal(ilu_worker_register(w, &r, "t", &err), 0);
    assert_int_equal(ilu_worker_function(w, "c", "1")->compute, ILU_COMPUTE_CPU);
    assert_string_equal(listed_compute(w, "p"), "CPU|GPU");
    assert_string_equal(listed_compute(w, "c"), "CPU");

    /* same fields: no-op (0 and CPU are one); another compute: 409 */
    r = req_with("c", ILU_COMPUTE_CPU);
    assert_int_equal(ilu_worker_register(w, &r, "t", &err), 0);
    r = req_with("p", ILU_COMPUTE_CPU);
    assert_int_equal(ilu_worker_register(w, &r, "t", &err), -1);
    assert_int_equal(err.status, 409);
    assert_non_null(strstr(err.msg, "compute CPU|GPU"));

    json_t *s = ilu_worker_status_json(w);
    assert_int_equal(json_integer_value(json_object_get(s, "gpu_count")), 0);
    assert_int_equal(json_integer_value(json_object_get(s, "gpu_spots")), 0);
    assert_int_equal(json_integer_value(json_object_get(s, "gpu_spots_used")), 0);
    assert_int_equal(json_integer_value(json_object_get(s, "gpu_queue_len")), 0);
    json_decref(s);
    fake_world_end(&fw);
}

/* A backend without the gpu_devices op has no GPUs to give. */
static void backend_without_gpus_refuses_a_gpu_count(void **state)
{
    (void)state;
    struct fake_world fw;
    start(&fw);
    fw.cfg.container_resources.gpu_resource.count = 1;
    struct ilu_error err = {0};
    assert_null(ilu_worker_new(&fw.cfg, &fw.env.env, &fw.be.base, &fw.env.log, &err));
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "container_resources.gpu_resource.count is 1 but backend"));
    assert_non_null(strstr(err.msg, "has no GPUs"));
    fake_backend_destroy(&fw.be);
    fake_env_destroy(&fw.env);
}

/* The simulated backend makes the GPUs the config asks for (Ilúvatar's
 * simulated GPUs), so a simulated worker with count 2 takes GPU functions;
 * memory_mb is needed: there is no device to ask. */
static void simulated_worker_with_two_gpus(void **state)
{
    (void)state;
    struct world wd;
    world_config(&wd.cfg, 2, 2048);
    struct ilu_gpu_resource_config *g = &wd.cfg.container_resources.gpu_resource;
    g->count = 2;
    g->memory_mb = 16384;
    g->per_func_memory_mb = 4096; /* 16384 / 4096 = 4 spots per GPU, 8 in all */
    world_start(&wd);
    struct ilu_register_req r = {.function_name = "g",
                                 .function_version = "1",
                                 .image_name = "/sim/g",
                                 .memory_mb = 128,
                                 .cpus = 1,
                                 .compute = ILU_COMPUTE_GPU};
    struct ilu_error err = {0};
    assert_int_equal(ilu_worker_register(wd.w, &r, "t", &err), 0);
    assert_int_equal(ilu_worker_function(wd.w, "g", "1")->compute, ILU_COMPUTE_GPU);
    assert_int_equal(status_of(&wd, "gpu_count"), 2);
    assert_int_equal(status_of(&wd, "gpu_spots"), 8);
    assert_int_equal(status_of(&wd, "gpu_spots_used"), 0);
    assert_int_equal(status_of(&wd, "gpu_queue_len"), 0);
    struct ilu_worker_status st;
    ilu_worker_status_read(wd.w, &st);
    assert_int_equal(st.gpu_count, 2);
    assert_int_equal(st.gpu_spots, 8);
    world_end(&wd);

    world_config(&wd.cfg, 2, 2048);
    wd.cfg.container_resources.gpu_resource.count = 2;
    ilu_sim_env_init(&wd.sim, 0);
    struct ilu_sim_backend_params params = {.default_start_us = 50 * MS};
    wd.be = ilu_sim_backend_new(&wd.sim, &params, NULL);
    assert_null(ilu_worker_new(&wd.cfg, &wd.sim.env, wd.be, NULL, &err));
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "container_resources.gpu_resource.memory_mb must be set to simulate 2 GPUs"));
    wd.be->ops->free(wd.be);
    ilu_sim_env_destroy(&wd.sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compute_text_forms),
        cmocka_unit_test(compute_in_the_register_body),
        cmocka_unit_test(the_rules_with_and_without_gpus),
        cmocka_unit_test(worker_without_gpus),
        cmocka_unit_test(backend_without_gpus_refuses_a_gpu_count),
        cmocka_unit_test(simulated_worker_with_two_gpus),
    };
    return cmocka_run_group_tests_name("compute", tests, NULL, NULL);
}
