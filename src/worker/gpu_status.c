/* See gpu_status.h. */
#include "worker/gpu_status.h"

#include <stdlib.h>

#include "core/log.h"
#include "worker/worker_internal.h"

struct ilu_gpu_status_timer {
    struct ilu_worker *w;
    uint64_t period_us;
    struct ilu_timer *timer;
};

unsigned ilu_gpu_status_update(struct ilu_worker *w, const char *tid)
{
    struct ilu_backend *b = w->backend;
    unsigned measured = 0;
    for (uint32_t i = 0; i < w->gpus.n; i++) {
        struct ilu_gpu *g = &w->gpus.dev[i];
        struct ilu_gpu_sample s = {0};
        g->measured = b && b->ops->gpu_sample && b->ops->gpu_sample(b, i, &s) == 0;
        if (g->measured) {
            if (!s.wall_us && w->env->wall_us)
                s.wall_us = w->env->wall_us(w->env->ctx);
            g->sample = s;
            measured++;
        }
    }
    if (w->gpus.n)
        ilu_log_fields(w->log, ILU_LOG_INFO, tid, json_pack("{s:o}", "gpus", ilu_gpu_status_json(w)), "GPU status");
    return measured;
}

json_t *ilu_gpu_status_json(const struct ilu_worker *w)
{
    json_t *list = json_array();
    for (uint32_t i = 0; i < w->gpus.n; i++) {
        const struct ilu_gpu *g = &w->gpus.dev[i];
        json_t *o =
            json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:I}", "index", (int)i, "name", g->name, "memory_mb",
                      (json_int_t)g->memory_mb, "spots", (json_int_t)g->spots, "spots_used", (json_int_t)g->spots_used,
                      "tokens", (json_int_t)g->tokens, "tokens_used", (json_int_t)g->tokens_used);
        if (o && g->measured) {
            json_object_set_new(o, "utilization_pct", json_real(g->sample.utilization_pct));
            json_object_set_new(o, "memory_used_mb", json_integer((json_int_t)g->sample.memory_used_mb));
            json_object_set_new(o, "memory_total_mb", json_integer((json_int_t)g->sample.memory_total_mb));
            json_object_set_new(o, "measured_at", json_real((double)g->sample.wall_us / 1e6));
        }
        json_array_append_new(list, o);
    }
    return list;
}

static void on_tick(void *arg)
{
    struct ilu_gpu_status_timer *t = arg;
    t->timer = NULL;
    ilu_gpu_status_update(t->w, "gpu_status");
    t->timer = t->w->env->timer_start(t->w->env->ctx, t->period_us, on_tick, t);
}

struct ilu_gpu_status_timer *ilu_gpu_status_start(struct ilu_worker *w, uint32_t period_ms)
{
    if (!w->gpus.n || !w->backend || !w->backend->ops->gpu_sample)
        return NULL;
    struct ilu_gpu_status_timer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->w = w;
    t->period_us = (uint64_t)(period_ms ? period_ms : 1000) * 1000;
    t->timer = w->env->timer_start(w->env->ctx, 0, on_tick, t);
    if (!t->timer) {
        free(t);
        return NULL;
    }
    return t;
}

void ilu_gpu_status_stop(struct ilu_gpu_status_timer *t)
{
    if (!t)
        return;
    if (t->timer)
        t->w->env->timer_cancel(t->w->env->ctx, t->timer);
    free(t);
}
