#include "backend/sim/sim_backend.h"

#include <stdlib.h>
#include <string.h>

#include "core/map.h"
#include "core/types.h"

struct sim_backend {
    struct ilu_backend base;
    struct ilu_sim_env *env;
    struct ilu_sim_backend_params params;
    struct ilu_map timings; /* fqdn -> struct ilu_sim_fn_timing */
    uint64_t rng;
    uint64_t created;
};

struct sim_ct {
    struct sim_backend *sb;
    struct ilu_container *c;
    struct ilu_timer *pending; /* start-up or the invocation in flight */
    uint64_t served;
    uint64_t exec_us, sent_us;
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
    uint64_t start = t->start_us ? t->start_us : sb->params.default_start_us;
    ct->pending = ilu_sim_env_at(sb->env, sb->env->now_us + start, on_started, ct);
    sb->created++;
    return 0;
}

static bool sim_assignable(struct ilu_backend *b, const struct ilu_function *fn)
{
    return true;
}

/* A pre-started sandbox given its function: ready after the configured
 * configured assignment delay (mount, limits, import), whatever the function. */
static int sim_assign(struct ilu_backend *b, struct ilu_container *c, const char *tid, struct ilu_error *err)
{
    struct sim_backend *sb = (struct sim_backend *)b;
    struct sim_ct *ct = c->backend_data;
    if (!ct || ct->pending || ct->served)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "simulated sandbox %s is not a ready, unused sandbox", c->id);
    ct->pending = ilu_sim_env_at(sb->env, sb->env->now_us + sb->params.sandbox_assign_us, on_started, ct);
    if (!ct->pending)
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

static int sim_invoke(struct ilu_backend *b, struct ilu_container *c, const char *tid, const char *args,
                      size_t args_len, struct ilu_error *err)
{
    struct sim_backend *sb = (struct sim_backend *)b;
    struct sim_ct *ct = c->backend_data;
    const struct ilu_sim_fn_timing *t = timing_of(sb, c);
    uint64_t exec = ct->served == 0 ? t->cold_exec_us : t->warm_exec_us;
    if (sb->params.jitter > 0) {
        double u = (double)(splitmix64(&sb->rng) >> 11) / 9007199254740992.0; /* [0, 1) */
        double scaled = (double)exec * (1.0 + sb->params.jitter * (2.0 * u - 1.0));
        exec = scaled > 0 ? (uint64_t)scaled : 0;
    }
    ct->exec_us = exec;
    ct->sent_us = sb->env->now_us;
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
    free(sb);
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
