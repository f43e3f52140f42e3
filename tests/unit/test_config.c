/* Worker configuration: defaults, JSON file, environment overrides, checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

#define PREFIX "ILUVATAR_WORKER"

static void defaults_validate(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    ilu_config_defaults(&cfg);
    struct ilu_error err = {0};
    assert_int_equal(ilu_config_validate(&cfg, &err), 0);
    assert_int_equal(err.status, 0);
    assert_string_equal(cfg.invocation.queue_policy, "fcfs");
    assert_string_equal(cfg.container_resources.eviction, "LRU");
    assert_int_equal(cfg.container_resources.memory_mb, 2048);
    assert_int_equal(cfg.container_resources.cpu_count, 0);
    assert_int_equal(cfg.port, 8079);
    assert_true(cfg.logging.stdout_enabled);
}

static void json_file_overrides_defaults(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    ilu_config_defaults(&cfg);
    struct ilu_error err = {0};
    const char *doc = "{\"name\":\"w7\",\"port\":9000,"
                      "\"limits\":{\"timeout_sec\":30},"
                      "\"invocation\":{\"queue_policy\":\"minheap\",\"max_queue_len\":5},"
                      "\"logging\":{\"stdout\":false},"
                      "\"container_resources\":{\"memory_mb\":512,\"keepalive_sec\":0}}";
    assert_int_equal(ilu_config_apply_json(&cfg, doc, "worker.json", &err), 0);
    assert_string_equal(cfg.name, "w7");
    assert_int_equal(cfg.port, 9000);
    assert_int_equal(cfg.limits.timeout_sec, 30);
    assert_string_equal(cfg.invocation.queue_policy, "minheap");
    assert_int_equal(cfg.invocation.max_queue_len, 5);
    assert_false(cfg.logging.stdout_enabled);
    assert_int_equal(cfg.container_resources.memory_mb, 512);
    assert_int_equal(cfg.container_resources.keepalive_sec, 0);
    /* untouched keys keep their defaults */
    assert_int_equal(cfg.limits.mem_max_mb, 3096);
    assert_string_equal(cfg.container_resources.eviction, "LRU");
    assert_int_equal(ilu_config_validate(&cfg, &err), 0);
}

static void env_overrides_nested_key(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    ilu_config_defaults(&cfg);
    struct ilu_error err = {0};
    char *envp[] = {"PATH=/usr/bin",
                    "ILUVATAR_WORKER__container_resources__memory_mb=4096",
                    "ILUVATAR_WORKER__invocation__queue_policy=minheap",
                    "ILUVATAR_WORKER__logging__stdout=false",
                    "ILUVATAR_WORKERX__port=1", /* another prefix: ignored */
                    "OTHER__port=1",
                    NULL};
    assert_int_equal(ilu_config_apply_env(&cfg, PREFIX, envp, &err), 0);
    assert_int_equal(cfg.container_resources.memory_mb, 4096);
    assert_string_equal(cfg.invocation.queue_policy, "minheap");
    assert_false(cfg.logging.stdout_enabled);
    assert_int_equal(cfg.port, 8079);
}

static void env_applies_after_json(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    ilu_config_defaults(&cfg);
    struct ilu_error err = {0};
    assert_int_equal(ilu_config_apply_json(&cfg, "{\"port\":9000}", "f", &err), 0);
    char *envp[] = {"ILUVATAR_WORKER__port=9100", NULL};
    assert_int_equal(ilu_config_apply_env(&cfg, PREFIX, envp, &err), 0);
    assert_int_equal(cfg.port, 9100);
}

static void unknown_json_key_is_an_error_naming_it(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    ilu_config_defaults(&cfg);
    struct ilu_error err = {0};
    assert_int_equal(ilu_config_apply_json(&cfg, "{\"limits\":{\"timeout_secs\":5}}", "worker.json", &err), -1);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "limits.timeout_secs"));
    assert_non_null(strstr(err.msg, "worker.json"));
}

static void unknown_env_key_is_an_error_naming_it(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    ilu_config_defaults(&cfg);
    struct ilu_error err = {0};
    char *envp[] = {"ILUVATAR_WORKER__container_resources__memory=4096", NULL};
    assert_int_equal(ilu_config_apply_env(&cfg, PREFIX, envp, &err), -1);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "container_resources.memory"));
    assert_int_equal(cfg.container_resources.memory_mb, 2048);
}

static void wrong_json_type_is_an_error(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    ilu_config_defaults(&cfg);
    struct ilu_error err = {0};
    assert_int_equal(ilu_config_apply_json(&cfg, "{\"port\":\"8080\"}", "f", &err), -1);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "port"));
    assert_non_null(strstr(err.msg, "integer"));

    assert_int_equal(ilu_config_apply_json(&cfg, "{\"name\":3}", "f", &err), -1);
    assert_non_null(strstr(err.msg, "name must be a string"));

    assert_int_equal(ilu_config_apply_json(&cfg, "{\"logging\":{\"stdout\":1}}", "f", &err), -1);
    assert_non_null(strstr(err.msg, "logging.stdout"));

    assert_int_equal(ilu_config_apply_json(&cfg, "{\"port\":-1}", "f", &err), -1);
    assert_int_equal(ilu_config_apply_json(&cfg, "{\"port\":4294967296}", "f", &err), -1);
    assert_int_equal(cfg.port, 8079);
}

static void wrong_env_type_is_an_error(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    ilu_config_defaults(&cfg);
    struct ilu_error err = {0};
    char *bad_int[] = {"ILUVATAR_WORKER__container_resources__memory_mb=lots", NULL};
    assert_int_equal(ilu_config_apply_env(&cfg, PREFIX, bad_int, &err), -1);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "ILUVATAR_WORKER__container_resources__memory_mb"));
    char *bad_bool[] = {"ILUVATAR_WORKER__logging__stdout=yes", NULL};
    assert_int_equal(ilu_config_apply_env(&cfg, PREFIX, bad_bool, &err), -1);
    char *neg[] = {"ILUVATAR_WORKER__port=-5", NULL};
    assert_int_equal(ilu_config_apply_env(&cfg, PREFIX, neg, &err), -1);
    assert_non_null(strstr(err.msg, "non-negative integer"));
    assert_int_equal(cfg.container_resources.memory_mb, 2048);
}

static void too_long_string_is_an_error(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    ilu_config_defaults(&cfg);
    struct ilu_error err = {0};
    char doc[256];
    char name[100];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = 0;
    snprintf(doc, sizeof doc, "{\"name\":\"%s\"}", name);
    assert_int_equal(ilu_config_apply_json(&cfg, doc, "f", &err), -1);
    assert_non_null(strstr(err.msg, "longer than 63"));
    assert_string_equal(cfg.name, "worker");
}

static void malformed_json_is_an_error(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    ilu_config_defaults(&cfg);
    struct ilu_error err = {0};
    assert_int_equal(ilu_config_apply_json(&cfg, "{\"port\":", "worker.json", &err), -1);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "worker.json:"));
    assert_int_equal(ilu_config_apply_json(&cfg, "[1,2]", "worker.json", &err), -1);
    assert_non_null(strstr(err.msg, "not a JSON object"));
}

static void unknown_queue_policy_lists_the_names(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    ilu_config_defaults(&cfg);
    struct ilu_error err = {0};
    assert_int_equal(ilu_config_apply_json(&cfg, "{\"invocation\":{\"queue_policy\":\"sjf\"}}", "f", &err), 0);
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "\"sjf\""));
    assert_non_null(strstr(err.msg, "fcfs"));
    assert_non_null(strstr(err.msg, "minheap"));
}

static void unknown_eviction_policy_is_rejected(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    ilu_config_defaults(&cfg);
    struct ilu_error err = {0};
    snprintf(cfg.container_resources.eviction, sizeof cfg.container_resources.eviction, "MRU");
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "LRU"));
}

static void out_of_range_values_fail_validation(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    struct ilu_error err = {0};
    ilu_config_defaults(&cfg);
    cfg.port = 70000;
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "port"));
    ilu_config_defaults(&cfg);
    cfg.container_resources.memory_mb = 0;
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "container_resources.memory_mb"));
    ilu_config_defaults(&cfg);
    cfg.limits.mem_min_mb = 4000;
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    ilu_config_defaults(&cfg);
    snprintf(cfg.logging.level, sizeof cfg.logging.level, "loud");
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "logging.level"));
}

/* A section another module owns (as each isolation backend owns its own,
 * src/backend/registry.h): attached to the config, its keys load, override,
 * validate and dump with the worker's. */
struct ext_section {
    char mode[16];
    uint32_t size;
};
static const struct ilu_cfg_field ext_fields[] = {
    ILU_CFG_STR_FIELD(struct ext_section, "ext.mode", mode),
    ILU_CFG_U32_FIELD(struct ext_section, "ext.size", size),
};
static const struct ilu_cfg_schema ext_schema = {ext_fields, 2};
static int ext_validate(const void *base, struct ilu_error *err)
{
    const struct ext_section *e = base;
    if (strcmp(e->mode, "auto") && strcmp(e->mode, "fast"))
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "ext.mode \"%s\" is not one of: auto, fast", e->mode);
    return 0;
}

static void attached_section_loads_overrides_validates_and_dumps(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    struct ilu_error err = {0};
    struct ext_section ext = {.mode = "auto", .size = 1};
    struct ilu_cfg_part part = {.schema = &ext_schema, .base = &ext, .validate = ext_validate};
    ilu_config_defaults(&cfg);
    assert_int_equal(ilu_config_apply_json(&cfg, "{\"ext\":{\"size\":7}}", "w.json", &err), -1);
    assert_non_null(strstr(err.msg, "ext.size")); /* not attached: unknown */
    cfg.sections = &part;
    cfg.n_sections = 1;
    assert_int_equal(ilu_config_apply_json(&cfg, "{\"port\":9000,\"ext\":{\"size\":7}}", "w.json", &err), 0);
    assert_int_equal(ext.size, 7);
    assert_int_equal(cfg.port, 9000);
    char *envp[] = {PREFIX "__ext__mode=fast", NULL};
    assert_int_equal(ilu_config_apply_env(&cfg, PREFIX, envp, &err), 0);
    assert_string_equal(ext.mode, "fast");
    assert_int_equal(ilu_config_validate(&cfg, &err), 0);
    char *dump = ilu_config_dump(&cfg);
    assert_non_null(strstr(dump, "\"ext\": {"));
    assert_non_null(strstr(dump, "\"size\": 7"));
    free(dump);
    snprintf(ext.mode, sizeof ext.mode, "youki");
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "ext.mode"));
}

static void dump_round_trips_through_apply_json(void **state)
{
    (void)state;
    struct ilu_worker_config a, b;
    struct ilu_error err = {0};
    ilu_config_defaults(&a);
    assert_int_equal(ilu_config_apply_json(&a,
                                           "{\"name\":\"rt \\\"quoted\\\"\",\"logging\":{\"stdout\":false,"
                                           "\"directory\":\"/tmp/l\"},\"container_resources\":{\"cpu_count\":3}}",
                                           "f", &err),
                     0);
    char *d1 = ilu_config_dump(&a);
    assert_non_null(d1);
    memset(&b, 0x5a, sizeof b); /* every field must come from the dump */
    ilu_config_defaults(&b);
    assert_int_equal(ilu_config_apply_json(&b, d1, "dump", &err), 0);
    char *d2 = ilu_config_dump(&b);
    assert_non_null(d2);
    assert_string_equal(d1, d2);
    assert_string_equal(b.name, "rt \"quoted\"");
    assert_false(b.logging.stdout_enabled);
    assert_int_equal(b.container_resources.cpu_count, 3);
    /* and the dump of the defaults differs, so the comparison can fail */
    struct ilu_worker_config c;
    ilu_config_defaults(&c);
    char *d3 = ilu_config_dump(&c);
    assert_string_not_equal(d1, d3);
    free(d1);
    free(d2);
    free(d3);
}

/* Ilúvatar's object spelling of the TTL policy, in both spellings of the
 * parameter, becomes the flat keys. */
static void eviction_object_form_sets_policy_and_ttl(void **state)
{
    (void)state;
    const char *docs[] = {"{\"container_resources\":{\"eviction\":{\"TTL\":{\"timout_sec\":7}}}}",
                          "{\"container_resources\":{\"eviction\":{\"TTL\":{\"timeout_sec\":7}},\"memory_mb\":512}}"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        struct ilu_worker_config cfg;
        ilu_config_defaults(&cfg);
        struct ilu_error err = {0};
        assert_int_equal(ilu_config_apply_json(&cfg, docs[i], "f", &err), 0);
        assert_string_equal(cfg.container_resources.eviction, "TTL");
        assert_int_equal(cfg.container_resources.ttl_sec, 7);
        assert_int_equal(ilu_config_validate(&cfg, &err), 0);
    }
    /* a policy without parameters may be given as an object too */
    struct ilu_worker_config cfg;
    ilu_config_defaults(&cfg);
    struct ilu_error err = {0};
    assert_int_equal(ilu_config_apply_json(&cfg, "{\"container_resources\":{\"eviction\":{\"LFU\":{}}}}", "f", &err),
                     0);
    assert_string_equal(cfg.container_resources.eviction, "LFU");
    /* and the flat form still works */
    assert_int_equal(
        ilu_config_apply_json(&cfg, "{\"container_resources\":{\"eviction\":\"TTL\",\"ttl_sec\":3}}", "f", &err), 0);
    assert_string_equal(cfg.container_resources.eviction, "TTL");
    assert_int_equal(cfg.container_resources.ttl_sec, 3);
}

/* Anything else in the object form is an error naming what is wrong. */
static void eviction_object_form_errors_name_the_key(void **state)
{
    (void)state;
    static const struct {
        const char *doc, *needle;
    } cases[] = {
        {"{\"container_resources\":{\"eviction\":{\"TTL\":{\"ttl\":5}}}}", "container_resources.eviction.TTL.ttl"},
        {"{\"container_resources\":{\"eviction\":{\"TTL\":{\"ttl\":5}}}}", "timout_sec, timeout_sec"},
        {"{\"container_resources\":{\"eviction\":{\"LRU\":{\"timout_sec\":5}}}}", "LRU takes: none"},
        {"{\"container_resources\":{\"eviction\":{\"TTL\":{\"timout_sec\":-1}}}}", "must be a non-negative integer"},
        {"{\"container_resources\":{\"eviction\":{\"TTL\":{\"timout_sec\":\"5\"}}}}", "TTL.timout_sec must be"},
        {"{\"container_resources\":{\"eviction\":{\"TTL\":5}}}", "container_resources.eviction.TTL must be an object"},
        {"{\"container_resources\":{\"eviction\":{}}}", "exactly one key"},
        {"{\"container_resources\":{\"eviction\":{\"TTL\":{},\"LRU\":{}}}}", "exactly one key"},
        {"{\"container_resources\":{\"eviction\":{\"MRU\":{}}}}", "\"MRU\" is not one of"},
        {"{\"container_resources\":{\"ttl_sec\":3,\"eviction\":{\"TTL\":{\"timout_sec\":5}}}}",
         "container_resources.ttl_sec is given twice"},
        {"{\"container_resources\":{\"eviction\":{\"TTL\":{\"timout_sec\":5,\"timeout_sec\":5}}}}", "given twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ilu_worker_config cfg;
        ilu_config_defaults(&cfg);
        struct ilu_error err = {0};
        if (ilu_config_apply_json(&cfg, cases[i].doc, "worker.json", &err) != -1)
            fail_msg("accepted %s", cases[i].doc);
        assert_int_equal(err.status, 400);
        if (!strstr(err.msg, cases[i].needle) || !strstr(err.msg, "worker.json"))
            fail_msg("%s: error \"%s\" does not say \"%s\"", cases[i].doc, err.msg, cases[i].needle);
    }
}

static void ttl_zero_with_ttl_eviction_fails_validation(void **state)
{
    (void)state;
    struct ilu_worker_config cfg;
    ilu_config_defaults(&cfg);
    struct ilu_error err = {0};
    assert_int_equal(
        ilu_config_apply_json(&cfg, "{\"container_resources\":{\"eviction\":{\"TTL\":{\"timout_sec\":0}}}}", "f", &err),
        0);
    assert_int_equal(ilu_config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "container_resources.ttl_sec"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_validate),
        cmocka_unit_test(json_file_overrides_defaults),
        cmocka_unit_test(env_overrides_nested_key),
        cmocka_unit_test(env_applies_after_json),
        cmocka_unit_test(unknown_json_key_is_an_error_naming_it),
        cmocka_unit_test(unknown_env_key_is_an_error_naming_it),
        cmocka_unit_test(wrong_json_type_is_an_error),
        cmocka_unit_test(wrong_env_type_is_an_error),
        cmocka_unit_test(too_long_string_is_an_error),
        cmocka_unit_test(malformed_json_is_an_error),
        cmocka_unit_test(unknown_queue_policy_lists_the_names),
        cmocka_unit_test(unknown_eviction_policy_is_rejected),
        cmocka_unit_test(out_of_range_values_fail_validation),
        cmocka_unit_test(attached_section_loads_overrides_validates_and_dumps),
        cmocka_unit_test(dump_round_trips_through_apply_json),
        cmocka_unit_test(eviction_object_form_sets_policy_and_ttl),
        cmocka_unit_test(eviction_object_form_errors_name_the_key),
        cmocka_unit_test(ttl_zero_with_ttl_eviction_fails_validation),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
