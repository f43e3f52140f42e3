/* See registration.h. */
#include "api/registration.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool ilu_registration_valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > ILU_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_' || *s == '.'))
            return false;
    return true;
}

int ilu_body_get_string(json_t *body, const char *key, const char **out, struct ilu_error *err)
{
    json_t *v = json_object_get(body, key);
    if (!json_is_string(v) || !*json_string_value(v))
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "field %s is required and must be a non-empty string", key);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "field %s must not contain a NUL character", key);
    *out = json_string_value(v);
    return 0;
}

/* Numbers are JSON integers only (docs/api.md): not " 128", "0x80" or
 * 128.0, which have no single obvious reading. */
int ilu_body_get_u32(json_t *body, const char *key, uint32_t def, uint32_t *out, struct ilu_error *err)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v)) {
        if (def == UINT32_MAX)
            return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "field %s is required", key);
        *out = def;
        return 0;
    }
    json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
    if (x < 0 || x > UINT32_MAX)
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "field %s must be a JSON integer in [0, %u]", key, UINT32_MAX);
    *out = (uint32_t)x;
    return 0;
}

/* Ilúvatar's Compute names (iluvatar_library types.rs); FPGA, which it
 * parses and then always refuses, is not one here. */
static const struct {
    const char *name;
    uint32_t bit;
} compute_names[] = {{"CPU", ILU_COMPUTE_CPU}, {"GPU", ILU_COMPUTE_GPU}};

int ilu_compute_parse(const char *text, uint32_t *out, struct ilu_error *err)
{
    uint32_t bits = 0;
    const char *p = text ? text : "";
    for (;;) {
        size_t n = strcspn(p, "|");
        size_t i = 0;
        while (i < sizeof compute_names / sizeof compute_names[0] &&
               (n != strlen(compute_names[i].name) || strncasecmp(p, compute_names[i].name, n)))
            i++;
        if (i == sizeof compute_names / sizeof compute_names[0])
            return ilu_err(err, ILU_ST_BAD_REQUEST, NULL,
                           "field compute must be CPU, GPU or CPU|GPU (names separated by |, any case), not \"%.40s\"",
                           text ? text : "");
        bits |= compute_names[i].bit;
        if (!p[n])
            break;
        p += n + 1;
    }
    *out = bits;
    return 0;
}

const char *ilu_compute_name(uint32_t compute)
{
    switch (compute & ILU_COMPUTE_ALL) {
    case ILU_COMPUTE_GPU: return "GPU";
    case ILU_COMPUTE_ALL: return "CPU|GPU";
    default: return "CPU";
    }
}

int ilu_registration_from_json(json_t *body, struct ilu_register_req *req, struct ilu_error *err)
{
    memset(req, 0, sizeof *req);
    if (!json_is_object(body))
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "a registration must be a JSON object");
    if (ilu_body_get_string(body, "function_name", &req->function_name, err) ||
        ilu_body_get_string(body, "function_version", &req->function_version, err) ||
        ilu_body_get_string(body, "image_name", &req->image_name, err) ||
        ilu_body_get_u32(body, "memory", UINT32_MAX, &req->memory_mb, err) ||
        ilu_body_get_u32(body, "cpus", 1, &req->cpus, err) ||
        ilu_body_get_u32(body, "parallel_invokes", 1, &req->parallel_invokes, err))
        return -1;
    json_t *compute = json_object_get(body, "compute");
    req->compute = ILU_COMPUTE_CPU; /* Ilúvatar's default */
    if (compute && !json_is_null(compute)) {
        if (!json_is_string(compute) || strlen(json_string_value(compute)) != json_string_length(compute))
            return ilu_err(err, ILU_ST_BAD_REQUEST, NULL,
                           "field compute must be a string: CPU, GPU or CPU|GPU (names separated by |, any case)");
        if (ilu_compute_parse(json_string_value(compute), &req->compute, err))
            return -1;
    }
    return 0; /* system stays false: internal functions are never registered from outside */
}

bool ilu_image_is_reference(const char *image)
{
    static const char *const transports[] = {"oci:", "oci-archive:", "docker-archive:", "docker://"};
    for (size_t i = 0; image && i < sizeof transports / sizeof transports[0]; i++)
        if (!strncmp(image, transports[i], strlen(transports[i])))
            return true;
    return false;
}

static int check_image(const char *image, struct ilu_error *err)
{
    if (!image || !*image)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image", "image_name is required");
    size_t len = strlen(image);
    if (image[0] != '/' && !ilu_image_is_reference(image))
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image",
                       "image \"%.200s\" must be the absolute path of a function folder or an image reference "
                       "(oci:, oci-archive:, docker-archive:, docker://)",
                       image);
    if (len > ILU_IMAGE_PATH_MAX)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image", "image_name is %zu bytes, over the limit of %d", len,
                       ILU_IMAGE_PATH_MAX);
    for (const char *p = image; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image", "image_name must not contain control characters");
    for (const char *p = image; (p = strstr(p, "/..")); p += 3)
        if (p[3] == '/' || p[3] == 0)
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image", "image \"%.200s\" must not contain a \"..\" component",
                           image);
    return 0;
}

int ilu_registration_check(const struct ilu_register_req *req, const struct ilu_registration_limits *lim,
                           struct ilu_error *err)
{
    if (!ilu_registration_valid_name(req->function_name) || !ilu_registration_valid_name(req->function_version))
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL,
                       "function_name and function_version must be 1-63 characters of A-Z a-z 0-9 . _ -");
    if (check_image(req->image_name, err))
        return -1;
    if (lim) {
        if (req->memory_mb < lim->mem_min_mb || req->memory_mb > lim->mem_max_mb)
            return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "memory %u MB is outside limits [%u, %u]", req->memory_mb,
                           lim->mem_min_mb, lim->mem_max_mb);
        if (req->memory_mb > lim->pool_mb)
            return ilu_err(err, ILU_ST_BAD_REQUEST, NULL,
                           "memory %u MB exceeds the whole container pool (container_resources.memory_mb=%u)",
                           req->memory_mb, lim->pool_mb);
        if (req->cpus < 1 || req->cpus > lim->cpu_max)
            return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "cpus %u is outside limits [1, %u]", req->cpus, lim->cpu_max);
    } else {
        if (req->memory_mb < 1)
            return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "memory must be at least 1 MB");
        if (req->cpus < 1)
            return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "cpus must be at least 1");
    }
    if (req->parallel_invokes > 1)
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "parallel_invokes must be 1 (one invocation per container)");
    if (req->compute & ~(uint32_t)ILU_COMPUTE_ALL)
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "compute 0x%x has bits other than CPU (1) and GPU (2)",
                       req->compute);
    /* Ilúvatar refuses any GPU bit without GPUs; CPU|GPU promises to run
     * on CPU, so a worker without GPUs takes it (docs/gpu.md) */
    if (lim && req->compute == ILU_COMPUTE_GPU && lim->gpu_count == 0)
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL,
                       "compute GPU needs a GPU: this worker has container_resources.gpu_resource.count 0 "
                       "(register it with compute CPU or CPU|GPU, or on a worker with GPUs)");
    return 0;
}
