/* The invocation's answer on the wire: the agent's reply decoded into
 * fields (api/agent_codec.h), and the answer written as text
 * (ilu_invocation_result_write) byte for byte as the jansson tree of
 * ilu_invocation_result_json dumps compact, for every kind of answer and
 * every character a string may hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "api/agent_codec.h"
#include "api/json_out.h"
#include "worker/worker.h"

/* ---- the agent's reply ---- */

static void decode(const char *body, struct ilu_agent_decoded *d)
{
    ilu_agent_reply_decode(body, strlen(body), d);
}

static void reply_with_a_result_gives_its_fields(void **state)
{
    struct ilu_agent_decoded d;
    decode("{\"start\": \"2026-12-05T10:00:00.000001\", \"was_cold\": true, \"duration_sec\": 0.25, "
           "\"end\": \"2026-12-05T10:00:00.250001\", \"user_result\": {\"a\": [1, 2.5, \"x\"], \"b\": null}}",
           &d);
    assert_null(d.result.malformed);
    assert_string_equal(d.result.user_result_json, "{\"a\":[1,2.5,\"x\"],\"b\":null}");
    assert_null(d.result.user_error);
    assert_true(d.result.was_cold);
    assert_true(d.result.duration_sec == 0.25);
    assert_string_equal(d.result.start, "2026-12-05T10:00:00.000001");
    assert_string_equal(d.result.end, "2026-12-05T10:00:00.250001");
    ilu_agent_decoded_release(&d);
    decode("{\"user_result\": \"text\"}", &d); /* any JSON value is a result */
    assert_string_equal(d.result.user_result_json, "\"text\"");
    assert_null(d.result.start);
    assert_false(d.result.was_cold);
    ilu_agent_decoded_release(&d);
}

static void reply_with_a_traceback_gives_user_error(void **state)
{
    struct ilu_agent_decoded d;
    decode("{\"user_error\": \"Traceback\\nValueError: x\\n\", \"duration_sec\": 0.5, \"user_result\": 1}", &d);
    assert_null(d.result.malformed);
    assert_string_equal(d.result.user_error, "Traceback\nValueError: x\n");
    assert_null(d.result.user_result_json); /* the error wins */
    ilu_agent_decoded_release(&d);
}

static void replies_an_agent_may_not_send_say_why(void **state)
{
    static const struct {
        const char *body, *why;
    } cases[] = {
        {"garbage", "the agent's reply is not a JSON object: "},
        {"[1, 2]", "the agent's reply is not a JSON object: wrong type"},
        {"", "the agent's reply is not a JSON object: empty reply"},
        {"{\"start\": \"s\", \"duration_sec\": 0.01}", "the agent's reply has neither user_result nor user_error"},
        {"{\"user_error\": 3}", "the agent's reply has neither user_result nor user_error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ilu_agent_decoded d;
        decode(cases[i].body, &d);
        assert_non_null(d.result.malformed);
        if (strncmp(d.result.malformed, cases[i].why, strlen(cases[i].why)) != 0)
            fail_msg("%s: got \"%s\", want \"%s...\"", cases[i].body, d.result.malformed, cases[i].why);
        ilu_agent_decoded_release(&d);
    }
}

static void duration_that_is_not_a_number_reads_as_zero(void **state)
{
    struct ilu_agent_decoded d;
    decode("{\"duration_sec\": \"1.0\", \"user_result\": {}}", &d);
    assert_null(d.result.malformed);
    assert_true(d.result.duration_sec == 0);
    ilu_agent_decoded_release(&d);
}

/* ---- strings as JSON text ---- */

static char *jansson_string(const char *s)
{
    json_t *j = json_string(s);
    assert_non_null(j);
    char *text = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(j);
    return text;
}

static void assert_string_written_as_jansson_writes_it(const char *s)
{
    struct ilu_json_out o = {0};
    ilu_json_out_string(&o, s);
    ilu_json_out_raw(&o, "", 1);
    char *want = jansson_string(s);
    assert_false(o.failed);
    assert_string_equal(o.buf, want);
    free(want);
    free(o.buf);
}

static void every_escape_is_written_as_jansson_writes_it(void **state)
{
    char all[200];
    size_t n = 0;
    for (int c = 1; c < 0x80; c++) /* every ASCII character but NUL */
        all[n++] = (char)c;
    all[n] = 0;
    assert_string_written_as_jansson_writes_it(all);
    for (int c = 1; c < 0x80; c++) {
        char one[2] = {(char)c, 0};
        assert_string_written_as_jansson_writes_it(one);
    }
    /* UTF-8 beyond ASCII goes through as is: é, €, U+2028, an emoji */
    assert_string_written_as_jansson_writes_it("caf\xc3\xa9 \xe2\x82\xac \xe2\x80\xa8 \xf0\x9f\x98\x80");
    assert_string_written_as_jansson_writes_it("");
    assert_string_written_as_jansson_writes_it("{\"json\": \"inside\\n\", \"path\": \"a/b\"}");
}

/* ---- the answer ---- */

/* Integers are written by hand (not snprintf): every edge as jansson. */
static void integers_are_written_as_jansson_writes_them(void **state)
{
    (void)state;
    const int64_t vals[] = {0,       1,        -1,           9,         10,        -10,          99, 100,
                            1234567, -1234567, 4294967296LL, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        struct ilu_json_out o = {0};
        ilu_json_out_open(&o);
        ilu_json_out_member_int(&o, "n", vals[i]);
        ilu_json_out_close(&o);
        ilu_json_out_raw(&o, "", 1);
        json_t *tree = json_pack("{s:I}", "n", (json_int_t)vals[i]);
        char *want = json_dumps(tree, JSON_COMPACT);
        assert_false(o.failed);
        assert_string_equal(o.buf, want);
        free(want);
        json_decref(tree);
        free(o.buf);
    }
}

static void assert_answer_matches_the_tree(const struct ilu_invocation *inv)
{
    json_t *tree = ilu_invocation_result_json(inv);
    assert_non_null(tree);
    char *want = json_dumps(tree, JSON_COMPACT);
    json_decref(tree);
    struct ilu_json_out o = {0};
    assert_int_equal(ilu_invocation_result_write(inv, &o), 0);
    ilu_json_out_raw(&o, "", 1);
    assert_string_equal(o.buf, want);
    free(want);
    free(o.buf);
}

static void answer_text_is_the_trees_compact_dump(void **state)
{
    struct ilu_function fn = {.name = "fn\"name", .version = "1.0\n"};
    struct ilu_invocation inv = {.fn = &fn, .success = true, .start_kind = ILU_START_WARM, .round_trip_us = 812};
    snprintf(inv.tid, sizeof inv.tid, "tid-\\1");
    inv.t.arrived_us = 1000;
    inv.t.dequeued_us = 1100;
    inv.dequeued = true;
    inv.t.done_us = 2500;
    inv.exec_sec = 0.0005;
    inv.json_result = "{\"escapes\":\"\\\"\\\\\\n\\t\\u0001\",\"caf\xc3\xa9\":1}";
    inv.container_id = "bench-noop-1-abc";
    inv.agent_start = "2026-12-05T10:00:00.000001";
    inv.agent_end = "2026-12-05T10:00:00.000501";
    assert_answer_matches_the_tree(&inv); /* warm success */

    inv.start_kind = ILU_START_COLD;
    inv.cold_start_us = 90000;
    inv.sandbox = ILU_SANDBOX_POOLED;
    inv.t.done_us = 200000;
    assert_answer_matches_the_tree(&inv); /* cold, from a pooled sandbox */

    inv.success = false;
    inv.user_error = "Traceback (most recent call last):\n  File \"main.py\"\nValueError: boom\n";
    inv.json_result = "{\"Error\": \"function raised an exception\"}";
    ilu_err(&inv.err, 422, "user_error", "the function raised: ValueError: boom");
    assert_answer_matches_the_tree(&inv); /* the function raised */

    struct ilu_invocation failed = {.fn = &fn, .start_kind = ILU_START_ERROR};
    snprintf(failed.tid, sizeof failed.tid, "t");
    failed.t.arrived_us = 5;
    failed.t.done_us = 30000005; /* never dequeued: all of it is queueing */
    ilu_err(&failed.err, 504, "timeout", "timed out after 30 s in the queue");
    assert_answer_matches_the_tree(&failed); /* no container, no result */
}

static void big_result_is_written_whole(void **state)
{
    size_t n = 1 << 20;
    char *big = malloc(n + 3);
    big[0] = '"';
    for (size_t i = 1; i <= n; i++)
        big[i] = (char)('a' + i % 26);
    big[n + 1] = '"';
    big[n + 2] = 0;
    struct ilu_function fn = {.name = "f", .version = "1"};
    struct ilu_invocation inv = {.fn = &fn, .success = true, .start_kind = ILU_START_WARM, .json_result = big};
    assert_answer_matches_the_tree(&inv);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reply_with_a_result_gives_its_fields),
        cmocka_unit_test(reply_with_a_traceback_gives_user_error),
        cmocka_unit_test(replies_an_agent_may_not_send_say_why),
        cmocka_unit_test(duration_that_is_not_a_number_reads_as_zero),
        cmocka_unit_test(every_escape_is_written_as_jansson_writes_it),
        cmocka_unit_test(integers_are_written_as_jansson_writes_them),
        cmocka_unit_test(answer_text_is_the_trees_compact_dump),
        cmocka_unit_test(big_result_is_written_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
