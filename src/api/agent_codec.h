/* The agent protocol's reply (agent/agent.py) as fields. The agent answers
 * every invocation with one JSON object: "start", "end" (its timestamps),
 * "was_cold", "duration_sec" (time inside the function) and either
 * "user_result" (the return value) or "user_error" (the traceback). A
 * backend that talks to agents decodes it here and hands the core
 * struct ilu_agent_result (core/backend.h), so the core never parses the
 * agent's JSON. Used by the OCI backend and the unit tests' fake backend. */
#ifndef ILU_AGENT_CODEC_H
#define ILU_AGENT_CODEC_H

#include <jansson.h>
#include <stddef.h>

#include "core/backend.h"

/* A decoded reply: result's strings point into what it owns. */
struct ilu_agent_decoded {
    struct ilu_agent_result result;
    json_t *tree;            /* the parsed reply (start, end, user_error) */
    char *user_result_text;  /* user_result as compact JSON text */
    char malformed_why[256]; /* result.malformed points here when set */
};

/* Decode body (len bytes; need not be NUL-terminated). Never fails as a
 * call: a reply that is not such an object gives a result with .malformed
 * saying why (the invocation then fails with 502, and the container stays).
 * Release out afterwards, whatever happened. */
void ilu_agent_reply_decode(const char *body, size_t len, struct ilu_agent_decoded *out);
void ilu_agent_decoded_release(struct ilu_agent_decoded *d);

#endif
