/* The controller core: workers and their health, the function registry,
 * routing through a load-balancing policy, async invocations that survive a
 * worker's death. Pure like the worker core: time and timers come from
 * struct ilu_env; talking to workers goes through struct ilu_ctl_transport
 * (HTTP live, in-process workers in a simulation); persistence through
 * struct ilu_ctl_store (SQLite live, nothing in a simulation). */
#ifndef ILU_CONTROLLER_H
#define ILU_CONTROLLER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "controller/controller_config.h"
#include "core/env.h"
#include "core/error.h"
#include "core/log.h"
#include "core/policy_registry.h"
#include "worker/worker.h"

enum ilu_ctl_health { ILU_WH_UNKNOWN, ILU_WH_HEALTHY, ILU_WH_UNHEALTHY };

struct ilu_ctl_worker {
    char name[64];
    char host[256];
    uint32_t port;
    uint32_t cpus, memory_mb;
    uint32_t gpus;    /* its container_resources.gpu_resource.count; 0: none */
    char boot_id[64]; /* a restart shows as a new boot id: push functions again */
    enum ilu_ctl_health health;
    uint32_t failures; /* consecutive failed status polls */
    uint64_t registered_us, last_ok_us;
    json_t *last_status;        /* owned: the last /status answer, NULL before one */
    uint32_t reported_load;     /* queue + running in last_status beyond this controller's own */
    unsigned in_flight;         /* invocations this controller routed here, unanswered */
    unsigned in_flight_at_poll; /* in_flight when the pending poll was sent */
    uint64_t routed;            /* invocations routed here since registration */
    bool poll_pending;
    unsigned index;       /* position in the controller's worker array */
    void *transport_data; /* the transport's */
};

/* Whether w may take traffic now (healthy). */
static inline bool ilu_ctl_worker_routable(const struct ilu_ctl_worker *w)
{
    return w->health == ILU_WH_HEALTHY;
}

/* Whether w can run a function that needs what needs says (ILU_LB_NEEDS_*
 * of core/policy_registry.h): a GPU-only function only a worker with GPUs,
 * anything else any worker. Registrations are sent by this too. */
static inline bool ilu_ctl_worker_can_run(const struct ilu_ctl_worker *w, unsigned needs)
{
    return !(needs & ILU_LB_NEEDS_GPU) || w->gpus > 0;
}

/* Whether a load-balancing policy may pick w for call: routable now, and
 * able to run it. The one place eligibility is decided: the policies call
 * this and never look at why a worker is or is not eligible. */
static inline bool ilu_lb_eligible(const struct ilu_lb_call *call, const struct ilu_ctl_worker *w)
{
    return ilu_ctl_worker_routable(w) && ilu_ctl_worker_can_run(w, call->needs);
}

/* Load for balancing, in invocations per CPU: what this controller has in
 * flight there (exact, immediate) plus what the worker last reported running
 * or queued beyond that (other clients' work; up to one poll old). */
double ilu_ctl_worker_load(const struct ilu_ctl_worker *w);

enum ilu_ctl_call { ILU_CTL_REGISTER, ILU_CTL_INVOKE, ILU_CTL_PREWARM, ILU_CTL_STATUS, ILU_CTL_CLEAN };

/* A reply status below any HTTP status: the request never reached the
 * worker (connection refused, or closed/reset before the whole request was
 * written), so the worker cannot have acted on it. */
#define ILU_CTL_NOT_SENT (-1)

/* Bytes as they crossed the wire: a request as its client sent it, an
 * answer as its worker wrote it. The HTTP edges forward them unchanged
 * instead of re-encoding the parsed JSON (the JSON is still parsed, to
 * check and route). data NULL: none (a simulation, a controller's own
 * request); the JSON is then encoded as before. */
struct ilu_ctl_text {
    const char *data;
    size_t len;
};

/* status: HTTP status; 0: no answer after the request was sent (the worker
 * may have acted on it), ILU_CTL_NOT_SENT: it never got the request;
 * transport_error says why in both cases. answer is the parsed JSON body or
 * NULL, and text the body as it came (or none); both borrowed for the call. */
typedef void (*ilu_ctl_reply_fn)(void *arg, int status, json_t *answer, struct ilu_ctl_text text,
                                 const char *transport_error);

struct ilu_ctl_transport {
    void *ctx;
    /* A worker was added: set up w->transport_data. */
    int (*worker_added)(void *ctx, struct ilu_ctl_worker *w, struct ilu_error *err);
    void (*worker_freed)(void *ctx, struct ilu_ctl_worker *w);
    /* Send call with body (a JSON object, borrowed) to w; body_text, when
     * given, is the same request as bytes, to send as they are. cb exactly
     * once, never from inside this call; a reply later than timeout_us fails. */
    void (*send)(void *ctx, struct ilu_ctl_worker *w, enum ilu_ctl_call call, json_t *body,
                 struct ilu_ctl_text body_text, const char *tid, uint64_t timeout_us, ilu_ctl_reply_fn cb, void *arg);
};

struct ilu_ctl_store {
    void *ctx;
    /* Remember a registration (a JSON object of the register request). */
    int (*save_function)(void *ctx, const char *fqdn, json_t *registration, struct ilu_error *err);
    /* Remember a worker (name, host, port, cpus, memory_mb). */
    int (*save_worker)(void *ctx, const char *name, json_t *info, struct ilu_error *err);
};

struct ilu_ctl_worker_info {
    const char *name, *host;
    uint32_t port, cpus, memory_mb;
    uint32_t gpus;       /* GPUs it has (0: none, also when a worker does not say) */
    const char *boot_id; /* changes when the worker restarts (may be NULL) */
};

struct ilu_controller;

/* store may be NULL (nothing persists). cfg is copied; the rest borrowed. */
struct ilu_controller *ilu_controller_new(const struct ilu_controller_config *cfg, const struct ilu_env *env,
                                          const struct ilu_ctl_transport *transport, const struct ilu_ctl_store *store,
                                          const struct ilu_log *log, struct ilu_error *err);
/* Free everything. The transport must have failed (called back) every call
 * still outstanding first, so the core can release what those calls hold. */
void ilu_controller_free(struct ilu_controller *c);

/* A worker joins, or re-registers: at the same address a heartbeat (a new
 * boot id means it restarted: its functions are registered again); at
 * another address it moves there, but only when the worker holding the name
 * is UNHEALTHY or sends the same (non-empty) boot id, else 409: a live
 * worker's name cannot be taken over. Every known function it can run is
 * registered on it (again when a heartbeat shows it gained GPUs); it takes
 * traffic once a status poll succeeds. persist: write it to the store
 * (also a heartbeat whose cpus, memory_mb or gpus changed). */
int ilu_controller_register_worker(struct ilu_controller *c, const struct ilu_ctl_worker_info *info, bool persist,
                                   const char *tid, struct ilu_error *err);

/* A function: checked with the workers' rules (api/registration.h, syntax
 * only: the controller does not know each worker's limits or files), sent
 * to every worker that can run it (a GPU-only one to workers with GPUs
 * only: ilu_ctl_worker_can_run), and kept (stored, then listed and routed)
 * unless every worker that answered refused it. With no such worker
 * attached it is kept at once; a worker that joins later gets it when it
 * joins (if it can run it). A bad registration
 * returns -1 at once (400, 409). Otherwise done (may be NULL) is called once
 * with the number of workers that accepted and refused it, the first
 * refusal, and not_kept: NULL when the controller kept it or every worker
 * refused it (refused > 0, accepted == 0: not kept either), else why the
 * controller did not keep it although workers accepted it (its store
 * failed, a conflicting registration was kept meanwhile). */
typedef void (*ilu_ctl_register_done_fn)(void *arg, unsigned accepted, unsigned refused, const char *first_error,
                                         const struct ilu_error *not_kept);
int ilu_controller_register_function(struct ilu_controller *c, json_t *registration, bool persist, const char *tid,
                                     ilu_ctl_register_done_fn done, void *arg, struct ilu_error *err);

/* Route an invocation (body: the /invoke request; body_text: the same as
 * the client sent it, or none) to a worker. done gets the worker's answer
 * with "worker" and "controller_us" added, or the controller's own error.
 * worker_text is given only when answer is exactly the worker's answer text
 * plus those two members at its end (no other member was changed), so the
 * edge may write that text and append them instead of re-encoding answer. */
typedef void (*ilu_ctl_invoke_done_fn)(void *arg, int status, json_t *answer, struct ilu_ctl_text worker_text);
int ilu_controller_invoke(struct ilu_controller *c, json_t *body, struct ilu_ctl_text body_text, const char *tid,
                          ilu_ctl_invoke_done_fn done, void *arg, struct ilu_error *err);

/* Async: acknowledged with a cookie; if its worker dies the invocation is
 * sent again elsewhere (invocation.async_retries times), else it finishes
 * failed with the reason. Never dropped silently. */
char *ilu_controller_invoke_async(struct ilu_controller *c, json_t *body, const char *tid, struct ilu_error *err);
json_t *ilu_controller_invoke_async_check(struct ilu_controller *c, const char *cookie, bool *pending, int *status,
                                          struct ilu_error *err);

/* Start a container of the function on the worker routing would pick;
 * done gets that worker's answer or the controller's error. */
int ilu_controller_prewarm(struct ilu_controller *c, json_t *body, struct ilu_ctl_text body_text, const char *tid,
                           ilu_ctl_invoke_done_fn done, void *arg, struct ilu_error *err);

/* Remove idle containers on every routable worker; done gets the number of
 * workers asked and the containers they removed. */
typedef void (*ilu_ctl_clean_done_fn)(void *arg, unsigned workers, unsigned removed);
void ilu_controller_clean(struct ilu_controller *c, const char *tid, ilu_ctl_clean_done_fn done, void *arg);
/* Routable workers: HEALTHY for the cluster when at least one. */
unsigned ilu_controller_healthy_workers(const struct ilu_controller *c);
/* Registered workers (any health) with GPUs: the ones a GPU-only function
 * is registered on and routed to. */
unsigned ilu_controller_gpu_workers(const struct ilu_controller *c);

/* New JSON documents for the API's /list_workers, /list_functions and
 * /status; the caller owns them. Outstanding: invocations not yet answered. */
json_t *ilu_controller_workers_json(const struct ilu_controller *c);
json_t *ilu_controller_functions_json(const struct ilu_controller *c);
json_t *ilu_controller_status_json(const struct ilu_controller *c);
unsigned ilu_controller_outstanding(const struct ilu_controller *c);

#endif
