/* See controller_codec.h. */
#include "api/controller_codec.h"

#include <string.h>

int ilu_api_ctl_register_decode(json_t *body, struct ilu_register_req *req, struct ilu_error *err)
{
    const char *s;
    memset(req, 0, sizeof *req);
    /* name and version first: a system function is refused whatever else it holds */
    if (!json_is_object(body))
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "the body must be a JSON object");
    if (ilu_body_get_string(body, "function_name", &s, err) || ilu_body_get_string(body, "function_version", &s, err))
        return -1;
    if (json_is_true(json_object_get(body, "system_function")))
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "system functions cannot be registered through the controller");
    return ilu_registration_from_json(body, req, err);
}

int ilu_api_ctl_invoke_check(json_t *body, uint32_t max_payload_bytes, struct ilu_error *err)
{
    struct ilu_api_invoke_req req;
    if (ilu_api_invoke_decode(body, &req, err))
        return -1;
    size_t len = req.json_args_len;
    ilu_api_invoke_req_release(&req);
    if (max_payload_bytes && len > max_payload_bytes)
        return ilu_err(err, ILU_ST_TOO_LARGE, "too_large", "json_args is %zu bytes, over the limit of %u", len,
                       max_payload_bytes);
    return 0;
}

int ilu_api_ctl_worker_decode(json_t *body, struct ilu_ctl_worker_info *info, struct ilu_error *err)
{
    memset(info, 0, sizeof *info);
    if (!json_is_object(body))
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "the body must be a JSON object");
    if (ilu_body_get_string(body, "name", &info->name, err) || ilu_body_get_string(body, "host", &info->host, err) ||
        ilu_body_get_u32(body, "port", UINT32_MAX, &info->port, err) ||
        ilu_body_get_u32(body, "cpus", 1, &info->cpus, err) ||
        ilu_body_get_u32(body, "memory_mb", 0, &info->memory_mb, err) ||
        ilu_body_get_u32(body, "gpus", 0, &info->gpus, err))
        return -1;
    json_t *boot = json_object_get(body, "boot_id");
    if (boot && !json_is_null(boot) && !json_is_string(boot))
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "field boot_id must be a string");
    info->boot_id = json_string_value(boot);
    return 0;
}

int ilu_api_worker_call_decode(enum ilu_ctl_call call, json_t *body, struct ilu_api_worker_call *out,
                               struct ilu_error *err)
{
    memset(out, 0, sizeof *out);
    out->call = call;
    switch (call) {
    case ILU_CTL_REGISTER: return ilu_registration_from_json(body, &out->u.reg, err);
    case ILU_CTL_INVOKE: return ilu_api_invoke_decode(body, &out->u.invoke, err);
    case ILU_CTL_PREWARM: return ilu_api_prewarm_decode(body, &out->u.prewarm, err);
    case ILU_CTL_STATUS:
    case ILU_CTL_CLEAN: return 0;
    }
    return ilu_err(err, ILU_ST_NOT_FOUND, NULL, "no worker endpoint for call %d", (int)call);
}

void ilu_api_worker_call_release(struct ilu_api_worker_call *c)
{
    if (c->call == ILU_CTL_INVOKE)
        ilu_api_invoke_req_release(&c->u.invoke);
}
