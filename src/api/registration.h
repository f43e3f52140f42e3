/* A function registration: the request's fields, decoded from the JSON the
 * worker and the controller both receive, and the rules both check. One
 * codec and one check, so the controller refuses exactly what a worker
 * would refuse by syntax (it cannot see the workers' file systems; a worker
 * also checks that the image folder exists under its functions_dirs). */
#ifndef ILU_REGISTRATION_H
#define ILU_REGISTRATION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/types.h"

#define ILU_NAME_MAX       63   /* function_name, function_version */
#define ILU_IMAGE_PATH_MAX 4095 /* image_name: PATH_MAX less the NUL */

struct ilu_register_req {
    const char *function_name;
    const char *function_version;
    const char *image_name; /* absolute path of a function folder */
    uint32_t memory_mb;
    uint32_t cpus;
    uint32_t parallel_invokes; /* only 1 is supported, as in Ilúvatar */
    uint32_t compute;          /* ILU_COMPUTE_* bits (core/types.h); 0: CPU */
    bool system;
};

/* A worker's limits; a registration outside them is refused. */
struct ilu_registration_limits {
    uint32_t mem_min_mb, mem_max_mb; /* limits.mem_{min,max}_mb */
    uint32_t pool_mb;                /* container_resources.memory_mb */
    uint32_t cpu_max;                /* limits.cpu_max */
    uint32_t gpu_count;              /* GPUs in use (container_resources.gpu_resource.count) */
};

/* Parse Ilúvatar's text form of a compute: names separated by '|', each
 * CPU or GPU in any case ("gpu", "CPU|GPU", "Gpu|cpu"). Fills *out with
 * the ILU_COMPUTE_* bits; -1 with a 400 naming the field compute and the
 * value otherwise (empty, an empty name, FPGA or anything else). */
int ilu_compute_parse(const char *text, uint32_t *out, struct ilu_error *err);

/* The canonical text form of compute bits: "CPU", "GPU", "CPU|GPU"; 0 is
 * "CPU" (the default). Static storage. */
const char *ilu_compute_name(uint32_t compute);

/* Whether image is an OCI image reference (oci:, oci-archive:,
 * docker-archive:, docker://) rather than a function folder's path. */
bool ilu_image_is_reference(const char *image);

/* Whether s is a valid function name or version: 1-63 characters of
 * A-Z a-z 0-9 . _ - (they become parts of container ids, paths, cgroups). */
bool ilu_registration_valid_name(const char *s);

/* The API's one rule for a string field: a non-empty JSON string without
 * a NUL character (borrowed from body). Required. */
int ilu_body_get_string(json_t *body, const char *key, const char **out, struct ilu_error *err);

/* The API's one rule for a number field (docs/api.md): a JSON integer in
 * [0, 2^32-1], not " 128", "0x80" or 128.0. def UINT32_MAX: required.
 * Shared with the HTTP layer (ilu_http_get_u32). */
int ilu_body_get_u32(json_t *body, const char *key, uint32_t def, uint32_t *out, struct ilu_error *err);

/* Decode a /register body into req (strings borrowed from body). Numbers
 * are JSON integers only (ilu_body_get_u32). cpus and
 * parallel_invokes default to 1; compute (a string, ilu_compute_parse)
 * to CPU. Strings holding a NUL are refused. 400 in err for a missing or
 * wrongly typed field or a compute that does not parse. Checks nothing else. */
int ilu_registration_from_json(json_t *body, struct ilu_register_req *req, struct ilu_error *err);

/* The rules: names, image syntax (absolute path or image reference, at most
 * ILU_IMAGE_PATH_MAX bytes, no control characters, no ".." component),
 * memory, cpus, parallel_invokes, compute (known bits; with lim, GPU alone
 * needs lim->gpu_count > 0, while CPU|GPU is taken without GPUs and runs
 * on CPU: docs/gpu.md). lim NULL (the controller, which does not know each
 * worker's limits): memory and cpus need only be positive. 400 in err
 * naming the field. */
int ilu_registration_check(const struct ilu_register_req *req, const struct ilu_registration_limits *lim,
                           struct ilu_error *err);

#endif
