#include "backend/sim/sim_backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/sim/cpu_share.h"
#include "core/map.h"
#include "core/types.h"

/* The start-up factors' stream: the seed moved by a fixed odd constant, so
 * that drawing factors never shifts the jitter values. */
#define FACTOR_STREAM 0xd1b54a32d192ed03ull

struct sim_backend {
    struct ilu_backend base;
    struct ilu_sim_env *env;
    struct ilu_sim_backend_params params;
    struct ilu_map timings;    /* fqdn -> struct ilu_sim_fn_timing */
    uint64_t rng;              /* jitter */
    uint64_t factor_rng;       /* start-up factors */
    struct ilu_cpu_share *cpu; /* NULL without host_cpus */
    uint64_t created;
};

/* A container has at most one thing in flight: its start-up (a timer, or a
 * task on the CPUs), an execution (a task on the CPUs, or one timer for the
 * execution and the overhead together), or the overhead after it. */
struct sim_ct {
    struct sim_backend *sb;
    struct ilu_container *c;
    struct ilu_timer *pending; /* start-up, or the invocation's answer */
    struct ilu_cpu_task *task; /* start-up or execution on the shared CPUs */
    uint64_t served;
    uint64_t exec_us, sent_us;
    /* the timing of the function it serves, looked up once (a sandbox
     * changes function when assigned: timing_fn says for which) */
    const struct ilu_sim_fn_timing *timing;
    const struct ilu_function *timing_fn;
};

static const struct ilu_sim_fn_timing no_timing;

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static const struct ilu_sim_fn_timing *timing_of(struct sim_backend *sb, const struct ilu_container *c)
{
    const struct ilu_sim_fn_timing *t = ilu_map_get(&sb->timings, c->fn->fqdn);
    return t ? t : &no_timing;
}

static double uniform01(uint64_t *state)
{
    return (double)(splitmix64(state) >> 11) / 9007199254740992.0; /* [0, 1) */
}

/* A fresh start-up's solo time: the function's, times a factor drawn from
 * the empirical distribution of start_factors (inverse CDF, linear between
 * neighbours). */
static uint64_t start_work(struct sim_backend *sb, uint64_t start)
{
    size_t n = sb->params.n_start_factors;
    if (!n || !sb->params.start_factors)
        return start;
    const double *f = sb->params.start_factors;
    double pos = uniform01(&sb->factor_rng) * (double)(n - 1);
    size_t i = (size_t)pos;
    double factor = i + 1 < n ? f[i] + (pos - (double)i) * (f[i + 1] - f[i]) : f[n - 1];
    double scaled = (double)start * factor;
    return scaled > 0 ? (uint64_t)llround(scaled) : 0;
}

static int sim_check_image(struct ilu_backend *b, const char *image, struct ilu_error *err)
{
    return 0; /* nothing runs: any image will do */
}

static void on_started(void *arg)
{
    struct sim_ct *ct = arg;
    ct->pending = NULL;
    ct->sb->base.events.ready(ct->sb->base.events.ctx, ct->c, NULL);
}

static void on_started_on_cpu(void *arg)
{
    struct sim_ct *ct = arg;
    ct->task = NULL;
    ct->sb->base.events.ready(ct->sb->base.events.ctx, ct->c, NULL);
}

/* A start-up or a sandbox assignment of solo time us: a plain delay, or a
 * task on the shared CPUs. -1 when out of memory. */
static int start_up(struct sim_backend *sb, struct sim_ct *ct, uint64_t us)
{
    if (sb->cpu)
        return (ct->task = ilu_cpu_share_start(sb->cpu, us, sb->params.start_demand, on_started_on_cpu, ct)) ? 0 : -1;
    return (ct->pending = ilu_sim_env_at(sb->env, sb->env->now_us + us, on_started, ct)) ? 0 : -1;
}

static int sim_create(struct ilu_backend *b, struct ilu_container *c, const char *tid, struct ilu_error *err)
{
    struct sim_backend *sb = (struct sim_backend *)b;
    struct sim_ct *ct = calloc(1, sizeof *ct);
    if (!ct)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory simulating container %s", c->id);
    ct->sb = sb;
    ct->c = c;
    c->backend_data = ct;
    const struct ilu_sim_fn_timing *t = timing_of(sb, c);
    uint64_t start = start_work(sb, t->start_us ? t->start_us : sb->params.default_start_us);
    if (start_up(sb, ct, start)) {
        c->backend_data = NULL;
        free(ct);
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory simulating container %s", c->id);
    }
    sb->created++;
    return 0;
}

static bool sim_assignable(struct ilu_backend *b, const struct ilu_function *fn)
{
    return true;
}

/* A pre-started sandbox given its function: ready after the configured
 * assignment delay (mount, limits, import), whatever the function. */
static int sim_assign(struct ilu_backend *b, struct ilu_container *c, const char *tid, struct ilu_error *err)
{
    struct sim_backend *sb = (struct sim_backend *)b;
    struct sim_ct *ct = c->backend_data;
    if (!ct || ct->pending || ct->task || ct->served)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "simulated sandbox %s is not a ready, unused sandbox", c->id);
    if (start_up(sb, ct, sb->params.sandbox_assign_us))
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory simulating sandbox %s", c->id);
    return 0;
}

static void on_answered(void *arg)
{
    struct sim_ct *ct = arg;
    struct sim_backend *sb = ct->sb;
    ct->pending = NULL;
    struct ilu_agent_result result = {
        .duration_sec = (double)ct->exec_us / 1e6,
        .was_cold = ct->served == 0,
        .user_result_json = "{}",
    };
    struct ilu_agent_reply reply = {.result = &result, .round_trip_us = sb->env->now_us - ct->sent_us};
    ct->served++;
    sb->base.events.invoke_done(sb->base.events.ctx, ct->c, &reply);
}

/* The execution is done on the shared CPUs: its elapsed time, slowdown
 * included, is what the agent reports; the overhead follows as a delay. */
static void on_executed(void *arg)
{
    struct sim_ct *ct = arg;
    struct sim_backend *sb = ct->sb;
    ct->task = NULL;
    ct->exec_us = sb->env->now_us - ct->sent_us;
    ct->pending = ilu_sim_env_at(sb->env, sb->env->now_us + sb->params.invoke_overhead_us, on_answered, ct);
    if (!ct->pending) /* out of memory: answer without the overhead rather than never */
        on_answered(ct);
}

static int sim_invoke(struct ilu_backend *b, struct ilu_container *c, const char *tid, const char *args,
                      size_t args_len, struct ilu_error *err)
{
    struct sim_backend *sb = (struct sim_backend *)b;
    struct sim_ct *ct = c->backend_data;
    if (ct->timing_fn != c->fn) {
        ct->timing = timing_of(sb, c);
        ct->timing_fn = c->fn;
    }
    const struct ilu_sim_fn_timing *t = ct->timing;
    uint64_t exec = ct->served == 0 ? t->cold_exec_us : t->warm_exec_us;
    if (c->has_gpu_spot && (t->gpu_cold_exec_us || t->gpu_warm_exec_us))
        exec = ct->served == 0 ? t->gpu_cold_exec_us : t->gpu_warm_exec_us;
    if (sb->params.jitter > 0) {
        double u = uniform01(&sb->rng);
        double scaled = (double)exec * (1.0 + sb->params.jitter * (2.0 * u - 1.0));
        exec = scaled > 0 ? (uint64_t)scaled : 0;
    }
    ct->sent_us = sb->env->now_us;
    if (sb->cpu) {
        ct->task = ilu_cpu_share_start(sb->cpu, exec, sb->params.exec_demand, on_executed, ct);
        if (!ct->task)
            return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory simulating an invocation on %s", c->id);
        return 0;
    }
    ct->exec_us = exec;
    ct->pending = ilu_sim_env_at(sb->env, sb->env->now_us + exec + sb->params.invoke_overhead_us, on_answered, ct);
    if (!ct->pending)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory simulating an invocation on %s", c->id);
    return 0;
}

static void sim_destroy(struct ilu_backend *b, struct ilu_container *c, const char *tid)
{
    struct sim_backend *sb = (struct sim_backend *)b;
    struct sim_ct *ct = c->backend_data;
    if (!ct)
        return;
    ilu_sim_env_cancel(sb->env, ct->pending);
    ilu_cpu_share_cancel(sb->cpu, ct->task); /* the others speed up */
    c->backend_data = NULL;
    free(ct);
}

static void sim_shutdown(struct ilu_backend *b) {}

static void sim_free(struct ilu_backend *b)
{
    struct sim_backend *sb = (struct sim_backend *)b;
    const char *key;
    void *value;
    for (size_t it = 0; ilu_map_next(&sb->timings, &it, &key, &value);)
        free(value);
    ilu_map_destroy(&sb->timings);
    ilu_cpu_share_free(sb->cpu);
    free(sb);
}

/* Ilúvatar's make_simulated_gpus: the GPUs the config asks for, no
 * hardware; their memory must be given (nothing can be found). */
static int sim_gpu_devices(struct ilu_backend *b, const struct ilu_gpu_resource_config *want,
                           struct ilu_gpu_found *found, struct ilu_error *err)
{
    if (want->memory_mb == 0)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                       "container_resources.gpu_resource.memory_mb must be set to simulate %u GPU%s: the simulated "
                       "backend has no hardware to ask",
                       want->count, want->count == 1 ? "" : "s");
    found->n = 0;
    for (uint32_t i = 0; i < want->count && i < ILU_GPU_MAX; i++) {
        snprintf(found->dev[i].name, sizeof found->dev[i].name, "simulated GPU %u", i);
        found->dev[i].memory_mb = want->memory_mb;
        found->n++;
    }
    snprintf(found->source, sizeof found->source, "simulated from container_resources.gpu_resource");
    return 0;
}

static const struct ilu_backend_ops sim_ops = {
    .name = "simulation",
    .check_image = sim_check_image,
    .create = sim_create,
    .invoke = sim_invoke,
    .assignable = sim_assignable,
    .assign = sim_assign,
    .destroy = sim_destroy,
    .shutdown = sim_shutdown,
    .free = sim_free,
    .gpu_devices = sim_gpu_devices,
    /* no gpu_sample: simulated GPUs are not measured, /status shows their
     * accounting only (docs/gpu.md "GPU status") */
};

struct ilu_backend *ilu_sim_backend_new(struct ilu_sim_env *env, const struct ilu_sim_backend_params *params,
                                        const struct ilu_log *log)
{
    struct sim_backend *sb = calloc(1, sizeof *sb);
    if (!sb || ilu_map_init(&sb->timings)) {
        free(sb);
        return NULL;
    }
    sb->base.ops = &sim_ops;
    sb->base.priv = sb;
    sb->base.log = log;
    sb->env = env;
    sb->params = *params;
    sb->rng = params->seed;
    sb->factor_rng = params->seed ^ FACTOR_STREAM;
    if (params->host_cpus > 0 && !(sb->cpu = ilu_cpu_share_new(env, params->host_cpus))) {
        ilu_map_destroy(&sb->timings);
        free(sb);
        return NULL;
    }
    return &sb->base;
}

int ilu_sim_backend_set_timing(struct ilu_backend *b, const char *fqdn, const struct ilu_sim_fn_timing *t)
{
    struct sim_backend *sb = (struct sim_backend *)b;
    struct ilu_sim_fn_timing *copy = ilu_map_get(&sb->timings, fqdn);
    if (!copy) {
        if (!(copy = malloc(sizeof *copy)) || ilu_map_put(&sb->timings, fqdn, copy)) {
            free(copy);
            return -1;
        }
    }
    *copy = *t;
    return 0;
}

uint64_t ilu_sim_backend_containers_created(const struct ilu_backend *b)
{
    return ((const struct sim_backend *)b)->created;
}
