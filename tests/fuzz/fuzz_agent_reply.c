/* Fuzz target: decoding the in-container agent's JSON reply into fields
 * (ilu_agent_reply_decode, src/api/agent_codec.c), the invocation's result
 * made from them (ilu_result_from_agent, src/worker/result.c), then the
 * /invoke answer built from it. The agent runs beside user code, so its
 * reply is untrusted input. Checks: the outcome is a success with a JSON
 * result or a failure with a status and message; the answer is complete,
 * and the text written for HTTP is byte for byte the tree's compact dump. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/agent_codec.h"
#include "api/json_out.h"
#include "worker/worker_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ilu_function fn = {.name = "f", .version = "1", .fqdn = "f-1", .memory_mb = 128, .cpus = 1};
    struct ilu_invocation inv = {.fn = &fn, .start_kind = ILU_START_WARM};
    strcpy(inv.tid, "fuzz-1");
    inv.t.arrived_us = 1000;
    inv.t.done_us = 5000;
    struct ilu_agent_decoded d;
    ilu_agent_reply_decode((const char *)data, size, &d);
    struct ilu_agent_reply reply = {.result = &d.result, .round_trip_us = 100};
    ilu_result_from_agent(&inv, &reply);
    ilu_agent_decoded_release(&d);
    if (inv.success) {
        if (!inv.json_result)
            abort();
        json_error_t jerr;
        json_t *v = json_loads(inv.json_result, JSON_DECODE_ANY, &jerr);
        if (!v)
            abort(); /* json_result is JSON */
        json_decref(v);
    } else if (!inv.err.status || !inv.err.msg[0]) {
        abort();
    }
    if (!isfinite(inv.exec_sec) || inv.exec_sec < 0)
        abort(); /* a time from the agent feeds averages and the answer */
    json_t *answer = ilu_invocation_result_json(&inv);
    if (!answer)
        abort();
    if (!inv.success &&
        (!json_is_string(json_object_get(answer, "error")) || !json_is_string(json_object_get(answer, "error_kind"))))
        abort(); /* a failed invocation's answer says why */
    json_t *timings = json_object_get(answer, "timings");
    if (json_integer_value(json_object_get(timings, "exec_us")) < 0)
        abort();
    char *text = json_dumps(answer, JSON_COMPACT);
    if (!text)
        abort();
    struct ilu_json_out o = {0};
    if (ilu_invocation_result_write(&inv, &o) != 0 || o.len != strlen(text) || memcmp(o.buf, text, o.len) != 0)
        abort(); /* the HTTP answer's text is the tree's dump */
    free(o.buf);
    free(text);
    json_decref(answer);
    free(inv.json_result);
    free(inv.user_error);
    free(inv.agent_start);
    free(inv.agent_end);
    return 0;
}
