/* The controller API's JSON (docs/controller.md) and the controller's calls
 * to a worker as typed structs. The controller refuses what a worker would
 * refuse (same decoders, api/worker_codec.h), before routing; the simulated
 * cluster decodes each call it delivers to a simulated worker exactly as a
 * live worker's HTTP API decodes the matching endpoint. Same conventions as
 * worker_codec.h: 0, or -1 with the error in err; strings borrowed. */
#ifndef ILU_CONTROLLER_CODEC_H
#define ILU_CONTROLLER_CODEC_H

#include <jansson.h>
#include <stdint.h>

#include "api/registration.h"
#include "api/worker_codec.h"
#include "controller/controller.h"
#include "core/error.h"

/* /register at the controller: a worker's registration, and
 * system_function: true refused (as Ilúvatar's controller). Checks the
 * syntax only; the controller core checks the rules. */
int ilu_api_ctl_register_decode(json_t *body, struct ilu_register_req *req, struct ilu_error *err);

/* /invoke, /invoke_async and /prewarm at the controller: the body decoded
 * as a worker's /invoke, and json_args at most max_payload_bytes (0: no
 * limit; 413 beyond). The body itself is what gets routed. */
int ilu_api_ctl_invoke_check(json_t *body, uint32_t max_payload_bytes, struct ilu_error *err);

/* /register_worker: {name, host, port, cpus (default 1), memory_mb
 * (default 0), gpus (default 0: a worker that does not say has none),
 * boot_id (optional string)}. */
int ilu_api_ctl_worker_decode(json_t *body, struct ilu_ctl_worker_info *info, struct ilu_error *err);

/* A controller -> worker call (the transport's enum ilu_ctl_call), decoded
 * as the worker's HTTP API decodes the endpoint it goes to: /register,
 * /invoke, /prewarm; /status and /clean carry no body. */
struct ilu_api_worker_call {
    enum ilu_ctl_call call;
    union {
        struct ilu_register_req reg;        /* ILU_CTL_REGISTER */
        struct ilu_api_invoke_req invoke;   /* ILU_CTL_INVOKE */
        struct ilu_api_prewarm_req prewarm; /* ILU_CTL_PREWARM */
    } u;
};
int ilu_api_worker_call_decode(enum ilu_ctl_call call, json_t *body, struct ilu_api_worker_call *out,
                               struct ilu_error *err);
/* Free what the decoded call owns; safe after a failed decode. */
void ilu_api_worker_call_release(struct ilu_api_worker_call *c);

#endif
