/* Isolation backend interface. The core decides which container runs what;
 * a backend only creates containers, sends one invocation to a container's
 * agent and removes containers. Every operation is asynchronous: it returns at
 * once and reports through struct ilu_backend_events. After destroy(c) the
 * backend makes no more callbacks about c. */
#ifndef ILU_BACKEND_H
#define ILU_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "gpu_device.h"
#include "log.h"

struct ilu_container;
struct ilu_function;

/* An agent's answer as fields. The backend decodes its agent's wire format
 * (the OCI backend: api/agent_codec.h); the simulator makes them directly. */
struct ilu_agent_result {
    double duration_sec;          /* time inside the function */
    bool was_cold;                /* first call this container served */
    const char *user_result_json; /* the return value as JSON text, or NULL */
    const char *user_error;       /* traceback when the function raised, or NULL */
    const char *start, *end;      /* the agent's timestamps; may be NULL */
    /* the agent answered, but not with a reply it may send: why (the
     * invocation fails with 502 and the container stays); NULL when valid */
    const char *malformed;
};

/* What the agent answered, or why there is no answer. */
struct ilu_agent_reply {
    int status;                            /* 0: the agent answered (result); else ILU_ST_* */
    char error[480];                       /* when status != 0 */
    const struct ilu_agent_result *result; /* when status == 0; borrowed for the callback */
    uint64_t round_trip_us;                /* request written -> reply read, measured by the backend */
};

struct ilu_backend_events {
    void *ctx;
    /* Container c is ready to take invocations (err NULL) or failed to start. */
    void (*ready)(void *ctx, struct ilu_container *c, const struct ilu_error *err);
    /* The invocation sent with invoke() finished (or its transport failed). */
    void (*invoke_done)(void *ctx, struct ilu_container *c, const struct ilu_agent_reply *reply);
    /* c died on its own (process exit, socket closed) while idle. A death
     * during an invocation is reported by invoke_done with status 502. */
    void (*died)(void *ctx, struct ilu_container *c, const char *reason);
};

struct ilu_backend;

struct ilu_backend_ops {
    const char *name;
    /* Registration-time check that image can run here (e.g. folder has main.py). */
    int (*check_image)(struct ilu_backend *b, const char *image, struct ilu_error *err);
    /* Optional, called by the daemon before registering: get image ready
     * to check and run (an OCI image is fetched and unpacked, seconds).
     * Returns 1 when image needs nothing (check it now); 0 when done(arg,
     * err) will be called (err NULL: ready), never from inside this call;
     * -1 with err when it cannot start. NULL op: nothing ever needs it. */
    int (*prepare_image)(struct ilu_backend *b, const char *image, const char *tid,
                         void (*done)(void *arg, const struct ilu_error *err), void *arg, struct ilu_error *err);
    /* Start c (c->fn gives image, memory, cpus); report with events.ready. */
    int (*create)(struct ilu_backend *b, struct ilu_container *c, const char *tid, struct ilu_error *err);
    /* Send args (JSON object text) to c's agent; report with events.invoke_done. */
    int (*invoke)(struct ilu_backend *b, struct ilu_container *c, const char *tid, const char *args, size_t args_len,
                  struct ilu_error *err);
    /* Optional, both or neither (worker/sandbox_pool.h): generic sandboxes.
     * create() starts one when c->fn->sandbox (no function code; c->memory_mb
     * and c->cpus its limits). assignable: whether fn can be given to such a
     * sandbox (e.g. not a function with its own OCI image); fn NULL: whether
     * this backend can pool sandboxes on this host at all. assign: give the
     * ready sandbox c its function, c->fn (code visible at the function's
     * path, read-only; limits c->memory_mb and c->cpus; the function
     * imported); report with events.ready, as create does. A sandbox is
     * assigned once: it never serves another function. */
    bool (*assignable)(struct ilu_backend *b, const struct ilu_function *fn);
    int (*assign)(struct ilu_backend *b, struct ilu_container *c, const char *tid, struct ilu_error *err);
    /* Kill and remove c, in the background. */
    void (*destroy)(struct ilu_backend *b, struct ilu_container *c, const char *tid);
    /* Remove everything this backend made, blocking; used at shutdown. */
    void (*shutdown)(struct ilu_backend *b);
    void (*free)(struct ilu_backend *b);
    /* Add the backend's own figures to a /status object (e.g. its image
     * cache); NULL op: none. */
    void (*status_json)(struct ilu_backend *b, struct json_t *status);
    /* Remove what the backend keeps for later that nothing uses (unpacked
     * images of no registered function); returns how many. NULL op: none. */
    unsigned (*clean)(struct ilu_backend *b, const char *tid);
    /* What runs the containers, for /status and logs ("crun"); NULL op:
     * the backend's name. */
    const char *(*runtime_name)(const struct ilu_backend *b);
    /* Optional: the GPUs this backend's containers can use, asked once by
     * the core at start when want->count > 0 (docs/gpu.md). A live backend
     * looks at its host; the simulated one makes want->count GPUs of
     * want->memory_mb. Fills found (n 0, and found->source saying what was
     * looked for, when there are none); -1 with err when it cannot. NULL
     * op: the backend has no GPUs. */
    int (*gpu_devices)(struct ilu_backend *b, const struct ilu_gpu_resource_config *want, struct ilu_gpu_found *found,
                       struct ilu_error *err);
    /* Optional: the latest measurement of GPU index (the core's index: the
     * host's among those gpu_devices found), for GPU status. Called on the
     * event loop every gpu_resource.status_update_freq_ms, so it must not
     * block for long (a library call; a slow tool runs in the background
     * and this returns its last answer). 0 with out filled; -1 when there
     * is none (yet). NULL op: no measurements (the simulated backend). */
    int (*gpu_sample)(struct ilu_backend *b, uint32_t index, struct ilu_gpu_sample *out);
};

struct ilu_backend {
    const struct ilu_backend_ops *ops;
    void *priv;                       /* backend-owned state */
    struct ilu_backend_events events; /* set by the core before any create */
    const struct ilu_log *log;
};

#endif
