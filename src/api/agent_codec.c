/* See agent_codec.h. */
#include "api/agent_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void malformed(struct ilu_agent_decoded *d, const char *why, const char *detail)
{
    snprintf(d->malformed_why, sizeof d->malformed_why, "%s%s%s", why, detail ? ": " : "", detail ? detail : "");
    d->result.malformed = d->malformed_why;
}

void ilu_agent_reply_decode(const char *body, size_t len, struct ilu_agent_decoded *d)
{
    memset(d, 0, sizeof *d);
    json_error_t jerr;
    json_t *obj = body && len ? json_loadb(body, len, 0, &jerr) : NULL;
    if (!obj || !json_is_object(obj)) {
        malformed(d, "the agent's reply is not a JSON object",
                  obj           ? "wrong type"
                  : body && len ? jerr.text
                                : "empty reply");
        json_decref(obj);
        return;
    }
    d->tree = obj;
    struct ilu_agent_result *r = &d->result;
    /* a non-number duration reads as 0; the core bounds it */
    r->duration_sec = json_number_value(json_object_get(obj, "duration_sec"));
    r->was_cold = json_is_true(json_object_get(obj, "was_cold"));
    r->start = json_string_value(json_object_get(obj, "start"));
    r->end = json_string_value(json_object_get(obj, "end"));
    json_t *user_error = json_object_get(obj, "user_error");
    json_t *user_result = json_object_get(obj, "user_result");
    if (json_is_string(user_error)) {
        r->user_error = json_string_value(user_error);
    } else if (user_result) {
        d->user_result_text = json_dumps(user_result, JSON_ENCODE_ANY | JSON_COMPACT);
        if (!d->user_result_text)
            malformed(d, "the agent's reply could not be re-encoded", "out of memory");
        r->user_result_json = d->user_result_text;
    } else {
        malformed(d, "the agent's reply has neither user_result nor user_error", NULL);
    }
}

void ilu_agent_decoded_release(struct ilu_agent_decoded *d)
{
    json_decref(d->tree);
    free(d->user_result_text);
    memset(d, 0, sizeof *d);
}
