/* Types shared across the core: registered functions, containers and
 * invocations. Fields marked (core) are written only by the core; a backend
 * may read everything and owns only container->backend_data. */
#ifndef ILU_TYPES_H
#define ILU_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "characteristics.h"
#include "error.h"

struct ilu_container;
struct ilu_invocation;
struct ilu_timer;
struct ilu_worker;

/* What a function can run on: Ilúvatar's Compute flags (CPU 1, GPU 2), the
 * text forms "CPU", "GPU", "CPU|GPU" (api/registration.h). 0 in a request
 * built in code means CPU. */
enum ilu_compute { ILU_COMPUTE_CPU = 1, ILU_COMPUTE_GPU = 2 };
#define ILU_COMPUTE_ALL (ILU_COMPUTE_CPU | ILU_COMPUTE_GPU)

struct ilu_function {
    char *name;
    char *version;
    char *fqdn;  /* "name-version", the key of every map */
    char *image; /* absolute path of a function folder */
    uint32_t memory_mb;
    uint32_t cpus;
    uint32_t parallel_invokes;
    uint32_t compute; /* ILU_COMPUTE_* bits it was registered with (never 0) */
    bool system;      /* internal (health check): hidden from /list */
    bool sandbox;     /* (core) the generic sandboxes' stand-in (worker/sandbox_pool.h), never registered */
    struct ilu_fn_stats stats;
    struct ilu_worker *worker; /* (core) owner, for timer callbacks */
    /* (core) pool bookkeeping */
    struct ilu_container *idle_head; /* most recently used idle container first */
    uint32_t n_containers;           /* starting + idle + busy */
    uint32_t n_idle;                 /* warm containers free now (policies read it) */
};

enum ilu_container_state {
    ILU_CT_STARTING,
    ILU_CT_IDLE,
    ILU_CT_BUSY,
};

enum ilu_start_kind { ILU_START_COLD, ILU_START_PREWARM, ILU_START_WARM, ILU_START_ERROR };

/* How a cold start got its container: a fresh one, or a pre-started
 * generic sandbox given the function (worker/sandbox_pool.h). */
enum ilu_sandbox_kind { ILU_SANDBOX_NONE, ILU_SANDBOX_FRESH, ILU_SANDBOX_POOLED };

/* "fresh", "pooled", or "" (not a cold start): the results CSV's words. */
const char *ilu_sandbox_kind_name(enum ilu_sandbox_kind k);

/* "cold", "prewarm", "warm" or "error": the results CSV's words. */
const char *ilu_start_kind_name(enum ilu_start_kind k);

struct ilu_container {
    char id[96];             /* unique, safe as a file name and runtime id */
    struct ilu_function *fn; /* borrowed from the registry */
    enum ilu_container_state state;
    bool prewarmed; /* started by prewarm and not used yet */
    bool used;      /* has served an invocation */
    bool pooled;    /* a generic sandbox given its function (worker/sandbox_pool.h) */
    uint32_t memory_mb;
    uint32_t cpus;
    uint64_t created_us, ready_us, last_used_us;
    struct ilu_invocation *inv;    /* (core) invocation running or waiting on it */
    struct ilu_timer *start_timer; /* (core) startup timeout */
    void *backend_data;            /* owned by the backend */
    uint64_t uses;                 /* invocations served */
    /* (core) a GPU container's spot (worker/gpu.h), held for its life and
     * given back by ilu_pool_remove */
    bool has_gpu_spot;
    uint32_t gpu_device, gpu_spot;
    /* the keep-alive policy's own per-container fields */
    double ka_priority;
    uint64_t ka_deadline_us;
    void *ka_data;
    /* (core) intrusive lists: function idle list (MRU first), pool idle
     * list (LRU first), all containers */
    struct ilu_container *idle_prev, *idle_next;
    struct ilu_container *lru_older, *lru_newer;
    struct ilu_container *all_prev, *all_next;
};

/* Stage timestamps of one invocation, all on the env's monotonic clock. */
struct ilu_inv_times {
    uint64_t arrived_us, dequeued_us, container_ready_us, sent_us, done_us;
    uint64_t wall_arrived_us; /* epoch time of arrival, for reports */
};

struct ilu_invocation {
    char tid[64];
    struct ilu_function *fn;
    char *args; /* JSON object text: args_inline when it fits, else owned */
    size_t args_len;
    char args_inline[48];
    struct ilu_inv_times t;
    enum ilu_start_kind start_kind;
    uint64_t cold_start_us; /* container create (or sandbox assignment) -> ready, when cold */
    enum ilu_sandbox_kind sandbox;
    uint64_t round_trip_us; /* worker <-> agent round trip */
    double exec_sec;        /* agent's duration_sec */
    /* result */
    bool success;
    struct ilu_error err;          /* when !success */
    char *json_result;             /* function's return value as JSON text, owned */
    char *user_error;              /* traceback when the function raised, owned */
    char *container_id;            /* owned copy */
    char *agent_start, *agent_end; /* agent's timestamps, owned */
    /* (core) */
    uint64_t seq;
    size_t queue_index; /* position in the queue heap */
    double est_us;      /* expected run time when queued (the queue load) */
    bool queued;
    bool dequeued; /* left the queue (holds CPUs until it finishes) */
    bool bypassed; /* ran at once on a warm container, outside the queue and the CPU limit */
    bool on_gpu;   /* (core) queued in and run from the GPU queue, on a GPU container */
    /* (core) enqueueing_policy All: the copy of this invocation waiting in
     * the other queue; the first of the two to start drops the other */
    struct ilu_invocation *twin;
    bool gpu_token; /* (core) holds a running token of GPU gpu_device until it finishes */
    uint32_t gpu_device;
    struct ilu_container *container;
    /* limits.timeout_sec from arrival; on the worker's deadline list (oldest
     * first) while pending */
    uint64_t deadline_us;
    bool on_deadline_list;
    struct ilu_invocation *deadline_prev, *deadline_next;
    void (*done)(void *arg, struct ilu_invocation *inv);
    /* a prewarm travels the same path as an invocation, minus the call */
    bool prewarm_only;
    void (*prewarm_done)(void *arg, const char *tid, const struct ilu_error *err);
    void *done_arg;
    struct ilu_worker *worker; /* (core) the worker that made it, which recycles it */
};

#endif
