/* api codecs (src/api): the worker's and the controller's request bodies
 * decoded into structs with the live API's rules and messages, the answers
 * both sides build, and the controller -> worker calls the simulated
 * cluster decodes with the same rules (a bad type is a 400 there too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "api/controller_codec.h"
#include "api/registration.h"
#include "api/worker_codec.h"

static json_t *body_of(const char *text)
{
    json_error_t jerr;
    json_t *b = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!b)
        fail_msg("bad test JSON %s: %s", text, jerr.text);
    return b;
}

/* A 400 whose message is exactly msg. */
static void assert_refused(const struct ilu_error *err, const char *msg)
{
    assert_int_equal(err->status, ILU_ST_BAD_REQUEST);
    assert_string_equal(err->msg, msg);
}

static int decode_invoke(const char *text, struct ilu_api_invoke_req *req, struct ilu_error *err)
{
    json_t *b = body_of(text);
    int rc = ilu_api_invoke_decode(b, req, err);
    json_decref(b);
    return rc;
}

/* ---- /invoke --------------------------------------------------------------- */

static void invoke_args_as_object_string_or_absent(void **state)
{
    (void)state;
    static const struct {
        const char *body, *args;
    } cases[] = {
        {"{\"function_name\": \"f\", \"function_version\": \"1\", \"json_args\": {\"a\": 1}}", "{\"a\":1}"},
        {"{\"function_name\": \"f\", \"function_version\": \"1\", \"json_args\": \"{\\\"a\\\": 1}\"}", "{\"a\": 1}"},
        {"{\"function_name\": \"f\", \"function_version\": \"1\"}", "{}"},
        {"{\"function_name\": \"f\", \"function_version\": \"1\", \"json_args\": null}", "{}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *b = body_of(cases[i].body);
        struct ilu_api_invoke_req req;
        struct ilu_error err = {0};
        assert_int_equal(ilu_api_invoke_decode(b, &req, &err), 0);
        assert_string_equal(req.function_name, "f");
        assert_string_equal(req.function_version, "1");
        assert_string_equal(req.json_args, cases[i].args);
        assert_int_equal(req.json_args_len, strlen(cases[i].args));
        ilu_api_invoke_req_release(&req);
        assert_null(req.json_args);
        json_decref(b);
    }
}

static void invoke_wrong_types_and_missing_fields_are_400(void **state)
{
    (void)state;
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"{\"function_version\": \"1\"}", "field function_name is required and must be a non-empty string"},
        {"{\"function_name\": 5, \"function_version\": \"1\"}",
         "field function_name is required and must be a non-empty string"},
        {"{\"function_name\": \"\", \"function_version\": \"1\"}",
         "field function_name is required and must be a non-empty string"},
        {"{\"function_name\": null, \"function_version\": \"1\"}",
         "field function_name is required and must be a non-empty string"},
        {"{\"function_name\": \"f\\u0000x\", \"function_version\": \"1\"}",
         "field function_name must not contain a NUL character"},
        {"{\"function_name\": \"f\", \"function_version\": [\"1\"]}",
         "field function_version is required and must be a non-empty string"},
        {"{\"function_name\": \"f\", \"function_version\": 1}",
         "field function_version is required and must be a non-empty string"},
        {"{\"function_name\": \"f\", \"function_version\": \"1\", \"json_args\": 5}",
         "json_args must be a JSON object or a string holding one"},
        {"{\"function_name\": \"f\", \"function_version\": \"1\", \"json_args\": [1]}",
         "json_args must be a JSON object or a string holding one"},
        {"{\"function_name\": \"f\", \"function_version\": \"1\", \"json_args\": true}",
         "json_args must be a JSON object or a string holding one"},
        {"{\"function_name\": \"f\", \"function_version\": \"1\", \"json_args\": \"[1]\"}",
         "json_args is not a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ilu_api_invoke_req req;
        struct ilu_error err = {0};
        assert_int_equal(decode_invoke(cases[i].body, &req, &err), -1);
        assert_refused(&err, cases[i].msg);
        assert_null(req.json_args);
        ilu_api_invoke_req_release(&req); /* safe after a refusal */
    }
    /* a string that is not JSON says why */
    struct ilu_api_invoke_req req;
    struct ilu_error err = {0};
    assert_int_equal(
        decode_invoke("{\"function_name\": \"f\", \"function_version\": \"1\", \"json_args\": \"{a\"}", &req, &err),
        -1);
    assert_int_equal(err.status, ILU_ST_BAD_REQUEST);
    assert_non_null(strstr(err.msg, "json_args is not a JSON object: "));
}

/* The HTTP layer refuses them first; another driver must not read them as {}. */
static void non_object_bodies_are_400(void **state)
{
    (void)state;
    static const char *const bodies[] = {"[]", "\"f\"", "5", "null", "true"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        json_t *b = body_of(bodies[i]);
        struct ilu_error err = {0};
        struct ilu_api_invoke_req inv;
        struct ilu_api_prewarm_req pw;
        struct ilu_api_async_check_req ac;
        struct ilu_api_est_req est;
        struct ilu_register_req reg;
        struct ilu_ctl_worker_info info;
        assert_int_equal(ilu_api_invoke_decode(b, &inv, &err), -1);
        assert_refused(&err, "the body must be a JSON object");
        assert_int_equal(ilu_api_prewarm_decode(b, &pw, &err), -1);
        assert_refused(&err, "the body must be a JSON object");
        assert_int_equal(ilu_api_async_check_decode(b, &ac, &err), -1);
        assert_refused(&err, "the body must be a JSON object");
        assert_int_equal(ilu_api_est_decode(b, &est, &err), -1);
        assert_refused(&err, "the body must be a JSON object");
        assert_int_equal(ilu_registration_from_json(b, &reg, &err), -1);
        assert_refused(&err, "a registration must be a JSON object");
        assert_int_equal(ilu_api_ctl_register_decode(b, &reg, &err), -1);
        assert_refused(&err, "the body must be a JSON object");
        assert_int_equal(ilu_api_ctl_worker_decode(b, &info, &err), -1);
        assert_refused(&err, "the body must be a JSON object");
        json_decref(b);
    }
    struct ilu_error err = {0};
    struct ilu_api_prewarm_req pw;
    assert_int_equal(ilu_api_prewarm_decode(NULL, &pw, &err), -1);
    assert_refused(&err, "the body must be a JSON object");
}

/* ---- /prewarm, /invoke_async_check, /est_invoke_time ------------------------- */

static void prewarm_and_async_check_bodies(void **state)
{
    (void)state;
    struct ilu_error err = {0};
    json_t *b = body_of("{\"function_name\": \"f\", \"function_version\": \"2\", \"json_args\": 5}");
    struct ilu_api_prewarm_req pw;
    assert_int_equal(ilu_api_prewarm_decode(b, &pw, &err), 0); /* a worker's /prewarm reads no arguments */
    assert_string_equal(pw.function_name, "f");
    assert_string_equal(pw.function_version, "2");
    json_decref(b);
    b = body_of("{\"function_name\": \"f\", \"function_version\": 2}");
    assert_int_equal(ilu_api_prewarm_decode(b, &pw, &err), -1);
    assert_refused(&err, "field function_version is required and must be a non-empty string");
    json_decref(b);

    struct ilu_api_async_check_req ac;
    b = body_of("{\"lookup_cookie\": \"c-1\"}");
    assert_int_equal(ilu_api_async_check_decode(b, &ac, &err), 0);
    assert_string_equal(ac.lookup_cookie, "c-1");
    json_decref(b);
    static const char *const bad[] = {"{}", "{\"lookup_cookie\": 7}", "{\"lookup_cookie\": \"\"}",
                                      "{\"lookup_cookie\": {}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        b = body_of(bad[i]);
        assert_int_equal(ilu_api_async_check_decode(b, &ac, &err), -1);
        assert_refused(&err, "field lookup_cookie is required and must be a non-empty string");
        json_decref(b);
    }
}

static void est_invoke_time_one_or_many(void **state)
{
    (void)state;
    struct ilu_error err = {0};
    struct ilu_api_est_req r;
    json_t *b = body_of("{\"function_name\": \"f\", \"function_version\": \"1\"}");
    assert_int_equal(ilu_api_est_decode(b, &r, &err), 0);
    assert_false(r.many);
    assert_string_equal(r.function_name, "f");
    assert_string_equal(r.function_version, "1");
    ilu_api_est_req_release(&r);
    json_decref(b);

    b = body_of("{\"fqdns\": [\"f-1\", \"g-2\"], \"function_name\": 5}");
    assert_int_equal(ilu_api_est_decode(b, &r, &err), 0);
    assert_true(r.many);
    assert_int_equal(r.n_fqdns, 2);
    assert_string_equal(r.fqdns[0], "f-1");
    assert_string_equal(r.fqdns[1], "g-2");
    ilu_api_est_req_release(&r);
    json_decref(b);

    b = body_of("{\"fqdns\": []}");
    assert_int_equal(ilu_api_est_decode(b, &r, &err), 0);
    assert_true(r.many);
    assert_int_equal(r.n_fqdns, 0);
    ilu_api_est_req_release(&r);
    json_decref(b);

    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"{\"fqdns\": \"f-1\"}", "fqdns must be an array of \"name-version\" strings"},
        {"{\"fqdns\": null}", "fqdns must be an array of \"name-version\" strings"},
        {"{\"fqdns\": {\"f\": 1}}", "fqdns must be an array of \"name-version\" strings"},
        {"{\"fqdns\": [\"f-1\", 2]}", "fqdns[1] is not a string"},
        {"{\"function_name\": \"f\"}", "field function_version is required and must be a non-empty string"},
        {"{}", "field function_name is required and must be a non-empty string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        b = body_of(cases[i].body);
        assert_int_equal(ilu_api_est_decode(b, &r, &err), -1);
        assert_refused(&err, cases[i].msg);
        assert_null(r.fqdns);
        json_decref(b);
    }
}

/* ---- /register ----------------------------------------------------------------- */

#define REG_GOOD "\"function_name\": \"f\", \"function_version\": \"1\", \"image_name\": \"/srv/f\""

static void registration_defaults_and_numbers(void **state)
{
    (void)state;
    struct ilu_error err = {0};
    struct ilu_register_req r;
    json_t *b = body_of("{" REG_GOOD ", \"memory\": 128}");
    assert_int_equal(ilu_registration_from_json(b, &r, &err), 0);
    assert_string_equal(r.image_name, "/srv/f");
    assert_int_equal(r.memory_mb, 128);
    assert_int_equal(r.cpus, 1);
    assert_int_equal(r.parallel_invokes, 1);
    assert_false(r.system);
    json_decref(b);
    b = body_of("{" REG_GOOD ", \"memory\": 4294967295, \"cpus\": null, \"parallel_invokes\": 0}");
    assert_int_equal(ilu_registration_from_json(b, &r, &err), 0);
    assert_int_equal(r.memory_mb, UINT32_MAX);
    assert_int_equal(r.cpus, 1);
    assert_int_equal(r.parallel_invokes, 0);
    json_decref(b);
}

static void registration_wrong_types_and_ranges_are_400(void **state)
{
    (void)state;
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"{" REG_GOOD "}", "field memory is required"},
        {"{" REG_GOOD ", \"memory\": null}", "field memory is required"},
        {"{" REG_GOOD ", \"memory\": \"128\"}", "field memory must be a JSON integer in [0, 4294967295]"},
        {"{" REG_GOOD ", \"memory\": \" 128\"}", "field memory must be a JSON integer in [0, 4294967295]"},
        {"{" REG_GOOD ", \"memory\": 128.0}", "field memory must be a JSON integer in [0, 4294967295]"},
        {"{" REG_GOOD ", \"memory\": true}", "field memory must be a JSON integer in [0, 4294967295]"},
        {"{" REG_GOOD ", \"memory\": -1}", "field memory must be a JSON integer in [0, 4294967295]"},
        {"{" REG_GOOD ", \"memory\": 4294967296}", "field memory must be a JSON integer in [0, 4294967295]"},
        {"{" REG_GOOD ", \"memory\": 128, \"cpus\": \"1\"}", "field cpus must be a JSON integer in [0, 4294967295]"},
        {"{" REG_GOOD ", \"memory\": 128, \"parallel_invokes\": [1]}",
         "field parallel_invokes must be a JSON integer in [0, 4294967295]"},
        {"{\"function_name\": \"f\", \"function_version\": \"1\", \"memory\": 128}",
         "field image_name is required and must be a non-empty string"},
        {"{\"function_name\": \"f\", \"function_version\": \"1\", \"image_name\": 5, \"memory\": 128}",
         "field image_name is required and must be a non-empty string"},
        {"{\"function_name\": \"f\", \"function_version\": 1, \"image_name\": \"/srv/f\", \"memory\": 128}",
         "field function_version is required and must be a non-empty string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *b = body_of(cases[i].body);
        struct ilu_register_req r;
        struct ilu_error err = {0};
        assert_int_equal(ilu_registration_from_json(b, &r, &err), -1);
        assert_refused(&err, cases[i].msg);
        json_decref(b);
    }
}

/* ---- controller ------------------------------------------------------------------- */

static void controller_register_refuses_system_functions(void **state)
{
    (void)state;
    struct ilu_error err = {0};
    struct ilu_register_req r;
    json_t *b = body_of("{" REG_GOOD ", \"memory\": 128, \"system_function\": false}");
    assert_int_equal(ilu_api_ctl_register_decode(b, &r, &err), 0);
    assert_string_equal(r.function_name, "f");
    assert_int_equal(r.memory_mb, 128);
    json_decref(b);
    /* refused for what it is, whatever else is wrong with it */
    b = body_of("{\"function_name\": \"f\", \"function_version\": \"1\", \"system_function\": true}");
    assert_int_equal(ilu_api_ctl_register_decode(b, &r, &err), -1);
    assert_refused(&err, "system functions cannot be registered through the controller");
    json_decref(b);
    /* otherwise the worker's codec: a bad type is the worker's 400 */
    b = body_of("{" REG_GOOD ", \"memory\": \"128\"}");
    assert_int_equal(ilu_api_ctl_register_decode(b, &r, &err), -1);
    assert_refused(&err, "field memory must be a JSON integer in [0, 4294967295]");
    json_decref(b);
}

static void controller_invoke_check_limits_the_arguments(void **state)
{
    (void)state;
    struct ilu_error err = {0};
    json_t *b = body_of("{\"function_name\": \"f\", \"function_version\": \"1\", \"json_args\": {\"a\": \"xxxx\"}}");
    /* {"a":"xxxx"}: 12 bytes, compact */
    assert_int_equal(ilu_api_ctl_invoke_check(b, 12, &err), 0);
    assert_int_equal(ilu_api_ctl_invoke_check(b, 0, &err), 0);
    assert_int_equal(ilu_api_ctl_invoke_check(b, 11, &err), -1);
    assert_int_equal(err.status, ILU_ST_TOO_LARGE);
    assert_string_equal(err.kind, "too_large");
    assert_string_equal(err.msg, "json_args is 12 bytes, over the limit of 11");
    json_decref(b);
    b = body_of("{\"function_name\": \"f\", \"function_version\": \"1\", \"json_args\": 3}");
    assert_int_equal(ilu_api_ctl_invoke_check(b, 0, &err), -1);
    assert_refused(&err, "json_args must be a JSON object or a string holding one");
    json_decref(b);
}

static void controller_worker_registration(void **state)
{
    (void)state;
    struct ilu_error err = {0};
    struct ilu_ctl_worker_info info;
    json_t *b = body_of("{\"name\": \"w\", \"host\": \"10.0.0.1\", \"port\": 8079, \"boot_id\": \"b1\"}");
    assert_int_equal(ilu_api_ctl_worker_decode(b, &info, &err), 0);
    assert_string_equal(info.name, "w");
    assert_string_equal(info.host, "10.0.0.1");
    assert_int_equal(info.port, 8079);
    assert_int_equal(info.cpus, 1);
    assert_int_equal(info.memory_mb, 0);
    assert_string_equal(info.boot_id, "b1");
    json_decref(b);
    b = body_of("{\"name\": \"w\", \"host\": \"h\", \"port\": 1, \"cpus\": 4, \"memory_mb\": 2048, \"boot_id\": null}");
    assert_int_equal(ilu_api_ctl_worker_decode(b, &info, &err), 0);
    assert_int_equal(info.cpus, 4);
    assert_int_equal(info.memory_mb, 2048);
    assert_null(info.boot_id);
    json_decref(b);
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"{\"host\": \"h\", \"port\": 1}", "field name is required and must be a non-empty string"},
        {"{\"name\": \"w\", \"host\": 1, \"port\": 1}", "field host is required and must be a non-empty string"},
        {"{\"name\": \"w\", \"host\": \"h\"}", "field port is required"},
        {"{\"name\": \"w\", \"host\": \"h\", \"port\": \"8079\"}",
         "field port must be a JSON integer in [0, 4294967295]"},
        {"{\"name\": \"w\", \"host\": \"h\", \"port\": 1, \"cpus\": -2}",
         "field cpus must be a JSON integer in [0, 4294967295]"},
        {"{\"name\": \"w\", \"host\": \"h\", \"port\": 1, \"memory_mb\": 1.5}",
         "field memory_mb must be a JSON integer in [0, 4294967295]"},
        {"{\"name\": \"w\", \"host\": \"h\", \"port\": 1, \"boot_id\": 7}", "field boot_id must be a string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        b = body_of(cases[i].body);
        assert_int_equal(ilu_api_ctl_worker_decode(b, &info, &err), -1);
        assert_refused(&err, cases[i].msg);
        json_decref(b);
    }
}

/* ---- the simulated cluster's calls to a worker ------------------------------------ */

/* What sim_cluster.c does with each delivered call: a bad type is the live
 * worker's 400 (it used to become the default: memory 0, cpus 1, args {}). */
static void worker_calls_refuse_what_the_live_worker_refuses(void **state)
{
    (void)state;
    static const struct {
        enum ilu_ctl_call call;
        const char *body, *msg;
    } cases[] = {
        {ILU_CTL_REGISTER, "{" REG_GOOD ", \"memory\": \"128\"}",
         "field memory must be a JSON integer in [0, 4294967295]"},
        {ILU_CTL_REGISTER, "{" REG_GOOD ", \"memory\": 128, \"cpus\": 1.0}",
         "field cpus must be a JSON integer in [0, 4294967295]"},
        {ILU_CTL_REGISTER, "{" REG_GOOD "}", "field memory is required"},
        {ILU_CTL_INVOKE, "{\"function_name\": \"f\", \"function_version\": \"1\", \"json_args\": 5}",
         "json_args must be a JSON object or a string holding one"},
        {ILU_CTL_INVOKE, "{\"function_name\": \"f\", \"function_version\": \"1\", \"json_args\": \"[]\"}",
         "json_args is not a JSON object"},
        {ILU_CTL_INVOKE, "{\"function_name\": \"\", \"function_version\": \"1\"}",
         "field function_name is required and must be a non-empty string"},
        {ILU_CTL_PREWARM, "{\"function_name\": \"f\", \"function_version\": 1}",
         "field function_version is required and must be a non-empty string"},
        {ILU_CTL_PREWARM, "[]", "the body must be a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *b = body_of(cases[i].body);
        struct ilu_api_worker_call c;
        struct ilu_error err = {0};
        assert_int_equal(ilu_api_worker_call_decode(cases[i].call, b, &c, &err), -1);
        assert_refused(&err, cases[i].msg);
        ilu_api_worker_call_release(&c);
        json_decref(b);
    }
}

static void worker_calls_decode_good_bodies(void **state)
{
    (void)state;
    struct ilu_error err = {0};
    struct ilu_api_worker_call c;
    json_t *b = body_of("{" REG_GOOD ", \"memory\": 256, \"cpus\": 2}");
    assert_int_equal(ilu_api_worker_call_decode(ILU_CTL_REGISTER, b, &c, &err), 0);
    assert_int_equal(c.call, ILU_CTL_REGISTER);
    assert_int_equal(c.u.reg.memory_mb, 256);
    assert_int_equal(c.u.reg.cpus, 2);
    ilu_api_worker_call_release(&c);
    json_decref(b);
    b = body_of("{\"function_name\": \"f\", \"function_version\": \"1\", \"json_args\": {\"cold_ms\": 1.5}}");
    assert_int_equal(ilu_api_worker_call_decode(ILU_CTL_INVOKE, b, &c, &err), 0);
    assert_string_equal(c.u.invoke.json_args, "{\"cold_ms\":1.5}");
    ilu_api_worker_call_release(&c);
    assert_int_equal(ilu_api_worker_call_decode(ILU_CTL_PREWARM, b, &c, &err), 0);
    assert_string_equal(c.u.prewarm.function_name, "f");
    ilu_api_worker_call_release(&c);
    json_decref(b);
    /* status and clean carry no body */
    assert_int_equal(ilu_api_worker_call_decode(ILU_CTL_STATUS, NULL, &c, &err), 0);
    assert_int_equal(ilu_api_worker_call_decode(ILU_CTL_CLEAN, NULL, &c, &err), 0);
    ilu_api_worker_call_release(&c);
}

/* ---- answers ------------------------------------------------------------------------ */

static void assert_json(json_t *got, const char *want)
{
    json_t *w = body_of(want);
    if (!json_equal(got, w)) {
        char *text = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("got %s, want %s", text ? text : "NULL", want);
    }
    json_decref(w);
    json_decref(got);
}

static void answers(void **state)
{
    (void)state;
    struct ilu_error err = {0};
    ilu_err(&err, ILU_ST_QUEUE_FULL, NULL, "queue full");
    assert_int_equal(ilu_api_error_status(&err), 429);
    assert_json(ilu_api_error_json(&err),
                "{\"success\": false, \"error\": \"queue full\", \"error_kind\": \"queue_full\"}");
    ilu_err(&err, ILU_ST_BAD_REQUEST, "bad_image", "no image");
    assert_json(ilu_api_error_json(&err),
                "{\"success\": false, \"error\": \"no image\", \"error_kind\": \"bad_image\"}");
    struct ilu_error none = {0};
    assert_int_equal(ilu_api_error_status(&none), 500);
    assert_json(ilu_api_error_json(&none), "{\"success\": false, \"error\": \"\", \"error_kind\": \"internal\"}");
    struct ilu_register_req r = {.function_name = "hello", .function_version = "1"};
    assert_json(ilu_api_register_answer(&r), "{\"success\": true, \"fqdn\": \"hello-1\"}");
    assert_json(ilu_api_prewarm_answer(), "{\"success\": true, \"message\": \"prewarmed\"}");
    assert_json(ilu_api_clean_answer(3), "{\"success\": true, \"removed\": 3}");
    assert_json(ilu_api_async_answer("c"), "{\"success\": true, \"lookup_cookie\": \"c\"}");
    assert_json(ilu_api_async_pending_answer(), "{\"success\": false, \"status\": \"Invocation not completed\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(invoke_args_as_object_string_or_absent),
        cmocka_unit_test(invoke_wrong_types_and_missing_fields_are_400),
        cmocka_unit_test(non_object_bodies_are_400),
        cmocka_unit_test(prewarm_and_async_check_bodies),
        cmocka_unit_test(est_invoke_time_one_or_many),
        cmocka_unit_test(registration_defaults_and_numbers),
        cmocka_unit_test(registration_wrong_types_and_ranges_are_400),
        cmocka_unit_test(controller_register_refuses_system_functions),
        cmocka_unit_test(controller_invoke_check_limits_the_arguments),
        cmocka_unit_test(controller_worker_registration),
        cmocka_unit_test(worker_calls_refuse_what_the_live_worker_refuses),
        cmocka_unit_test(worker_calls_decode_good_bodies),
        cmocka_unit_test(answers),
    };
    return cmocka_run_group_tests_name("api_codec", tests, NULL, NULL);
}
