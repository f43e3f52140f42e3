/* See worker_codec.h. */
#include "api/worker_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The HTTP layer answers a non-object body so already; a codec called by
 * another driver (the simulated cluster) must not take it for empty. */
static int need_object(json_t *body, struct ilu_error *err)
{
    if (!json_is_object(body))
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "the body must be a JSON object");
    return 0;
}

static int get_fn(json_t *body, const char **name, const char **version, struct ilu_error *err)
{
    return need_object(body, err) || ilu_body_get_string(body, "function_name", name, err) ||
                   ilu_body_get_string(body, "function_version", version, err)
               ? -1
               : 0;
}

/* json_args as compact JSON text of an object, in *out (caller frees). */
static int get_args(json_t *body, char **out, struct ilu_error *err)
{
    json_t *v = json_object_get(body, "json_args");
    if (!v || json_is_null(v)) {
        *out = strdup("{}");
    } else if (json_is_object(v)) {
        *out = json_dumps(v, JSON_COMPACT);
    } else if (!json_is_string(v)) {
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "json_args must be a JSON object or a string holding one");
    } else {
        json_error_t jerr;
        json_t *parsed = json_loadb(json_string_value(v), json_string_length(v), 0, &jerr);
        int ok = json_is_object(parsed);
        json_decref(parsed);
        if (!ok)
            return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "json_args is not a JSON object%s%s", parsed ? "" : ": ",
                           parsed ? "" : jerr.text);
        *out = strdup(json_string_value(v));
    }
    if (!*out)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    return 0;
}

int ilu_api_invoke_decode(json_t *body, struct ilu_api_invoke_req *req, struct ilu_error *err)
{
    memset(req, 0, sizeof *req);
    if (get_fn(body, &req->function_name, &req->function_version, err) || get_args(body, &req->json_args, err))
        return -1;
    req->json_args_len = strlen(req->json_args);
    return 0;
}

void ilu_api_invoke_req_release(struct ilu_api_invoke_req *req)
{
    free(req->json_args);
    req->json_args = NULL;
    req->json_args_len = 0;
}

int ilu_api_prewarm_decode(json_t *body, struct ilu_api_prewarm_req *req, struct ilu_error *err)
{
    memset(req, 0, sizeof *req);
    return get_fn(body, &req->function_name, &req->function_version, err);
}

int ilu_api_async_check_decode(json_t *body, struct ilu_api_async_check_req *req, struct ilu_error *err)
{
    memset(req, 0, sizeof *req);
    return need_object(body, err) || ilu_body_get_string(body, "lookup_cookie", &req->lookup_cookie, err) ? -1 : 0;
}

int ilu_api_est_decode(json_t *body, struct ilu_api_est_req *req, struct ilu_error *err)
{
    memset(req, 0, sizeof *req);
    if (need_object(body, err))
        return -1;
    json_t *fqdns = json_object_get(body, "fqdns");
    if (!fqdns)
        return get_fn(body, &req->function_name, &req->function_version, err);
    req->many = true;
    if (!json_is_array(fqdns))
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "fqdns must be an array of \"name-version\" strings");
    size_t n = json_array_size(fqdns);
    if (n && !(req->fqdns = calloc(n, sizeof *req->fqdns)))
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(fqdns, i);
        if (!json_is_string(v)) {
            ilu_api_est_req_release(req);
            return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "fqdns[%zu] is not a string", i);
        }
        req->fqdns[i] = json_string_value(v);
    }
    req->n_fqdns = n;
    return 0;
}

void ilu_api_est_req_release(struct ilu_api_est_req *req)
{
    free(req->fqdns);
    req->fqdns = NULL;
    req->n_fqdns = 0;
}

/* ---- answers ------------------------------------------------------------- */

int ilu_api_error_status(const struct ilu_error *err)
{
    return err->status ? err->status : ILU_ST_INTERNAL;
}

json_t *ilu_api_error_json(const struct ilu_error *err)
{
    return json_pack("{s:b, s:s, s:s}", "success", 0, "error", err->msg, "error_kind",
                     err->kind[0] ? err->kind : ilu_status_kind(ilu_api_error_status(err)));
}

json_t *ilu_api_register_answer(const struct ilu_register_req *req)
{
    char fqdn[2 * ILU_NAME_MAX + 2];
    snprintf(fqdn, sizeof fqdn, "%s-%s", req->function_name, req->function_version);
    return json_pack("{s:b, s:s}", "success", 1, "fqdn", fqdn);
}

json_t *ilu_api_prewarm_answer(void)
{
    return json_pack("{s:b, s:s}", "success", 1, "message", "prewarmed");
}

json_t *ilu_api_clean_answer(unsigned removed)
{
    return json_pack("{s:b, s:i}", "success", 1, "removed", (int)removed);
}

json_t *ilu_api_async_answer(const char *cookie)
{
    return json_pack("{s:b, s:s}", "success", 1, "lookup_cookie", cookie);
}

json_t *ilu_api_async_pending_answer(void)
{
    return json_pack("{s:b, s:s}", "success", 0, "status", "Invocation not completed");
}
