/* The worker API's JSON (docs/api.md) as typed structs: one decoder per
 * request body, with the rules, messages and statuses the live worker
 * answers with, and the answers that the live worker and the simulated
 * cluster both build. Used by the worker's HTTP API (src/server/http_api.c),
 * the controller's (src/server/controller_api.c, which refuses bad input
 * before it reaches a worker) and the simulated cluster
 * (src/sim/sim_cluster.c), so the three refuse the same bodies.
 *
 * Decoders return 0, or -1 with a 400 in err naming the field; a body that
 * is not a JSON object is refused too. Strings in a decoded struct are
 * borrowed from the body; what a struct owns is freed by its _release.
 * /register is decoded by ilu_registration_from_json (api/registration.h). */
#ifndef ILU_WORKER_CODEC_H
#define ILU_WORKER_CODEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/registration.h"
#include "core/error.h"

/* /invoke and /invoke_async: {"function_name", "function_version",
 * "json_args"}. json_args is a JSON object, or a string holding one
 * (Ilúvatar); missing or null means {}. */
struct ilu_api_invoke_req {
    const char *function_name;
    const char *function_version;
    char *json_args;      /* owned: the arguments as JSON text of an object */
    size_t json_args_len; /* strlen(json_args) */
};
int ilu_api_invoke_decode(json_t *body, struct ilu_api_invoke_req *req, struct ilu_error *err);
/* Free json_args (req itself is the caller's); safe on a zeroed req. */
void ilu_api_invoke_req_release(struct ilu_api_invoke_req *req);

/* /prewarm: {"function_name", "function_version"}. */
struct ilu_api_prewarm_req {
    const char *function_name;
    const char *function_version;
};
int ilu_api_prewarm_decode(json_t *body, struct ilu_api_prewarm_req *req, struct ilu_error *err);

/* /invoke_async_check: {"lookup_cookie"}. */
struct ilu_api_async_check_req {
    const char *lookup_cookie;
};
int ilu_api_async_check_decode(json_t *body, struct ilu_api_async_check_req *req, struct ilu_error *err);

/* /est_invoke_time: {"fqdns": ["name-version", ...]} (Ilúvatar's RPC; the
 * field present, even null, selects this form: it must be an array of
 * strings), else {"function_name", "function_version"}. */
struct ilu_api_est_req {
    bool many;          /* the fqdns form */
    const char **fqdns; /* owned array (its strings borrowed); n_fqdns long */
    size_t n_fqdns;
    const char *function_name; /* the one-function form */
    const char *function_version;
};
int ilu_api_est_decode(json_t *body, struct ilu_api_est_req *req, struct ilu_error *err);
/* Free fqdns; safe on a zeroed req. */
void ilu_api_est_req_release(struct ilu_api_est_req *req);

/* ---- answers (new references; the HTTP layer adds transaction_id) ---------- */

/* Every error: {"success": false, "error": msg, "error_kind": kind}, the
 * kind from the status when err has none (500 when it has no status). */
json_t *ilu_api_error_json(const struct ilu_error *err);
/* The status an error answers with: err's, else 500. */
int ilu_api_error_status(const struct ilu_error *err);
/* /register: {"success": true, "fqdn": "name-version"}. */
json_t *ilu_api_register_answer(const struct ilu_register_req *req);
/* /prewarm: {"success": true, "message": "prewarmed"}. */
json_t *ilu_api_prewarm_answer(void);
/* /clean: {"success": true, "removed": n}. */
json_t *ilu_api_clean_answer(unsigned removed);
/* /invoke_async: {"success": true, "lookup_cookie": cookie}. */
json_t *ilu_api_async_answer(const char *cookie);
/* /invoke_async_check before the result is in:
 * {"success": false, "status": "Invocation not completed"}. */
json_t *ilu_api_async_pending_answer(void);

#endif
