/* See gpu.h. */
#include "worker/gpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GPU_KEY "container_resources.gpu_resource."

/* Ilúvatar's compute_spots: a fixed count, else the memory a function
 * gets, else the whole GPU for one. */
static int split(struct ilu_gpu *d, uint32_t i, const struct ilu_gpu_resource_config *cfg, struct ilu_error *err)
{
    if (cfg->funcs_per_device) {
        d->spots = cfg->funcs_per_device;
        d->spot_memory_mb = d->memory_mb / d->spots;
    } else if (cfg->per_func_memory_mb) {
        d->spots = d->memory_mb / cfg->per_func_memory_mb;
        d->spot_memory_mb = cfg->per_func_memory_mb;
    } else {
        d->spots = 1;
        d->spot_memory_mb = d->memory_mb;
    }
    if (d->spots == 0)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                       GPU_KEY
                       "per_func_memory_mb (%u MB) is larger than GPU %u's memory (%u MB): it holds no function",
                       cfg->per_func_memory_mb, i, d->memory_mb);
    if (d->spots > ILU_GPU_SPOTS_MAX)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                       "GPU %u (%u MB) would be split into %u spots by " GPU_KEY
                       "per_func_memory_mb %u, over the most supported, %d",
                       i, d->memory_mb, d->spots, cfg->per_func_memory_mb, ILU_GPU_SPOTS_MAX);
    d->tokens = cfg->concurrent_running_funcs ? cfg->concurrent_running_funcs : d->spots;
    if (d->tokens > d->spots)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                       GPU_KEY "concurrent_running_funcs (%u) is more than GPU %u's %u spots: only functions holding "
                               "a spot on a GPU run on it",
                       d->tokens, i, d->spots);
    return 0;
}

int ilu_gpus_init(struct ilu_gpus *g, const struct ilu_gpu_resource_config *cfg, const struct ilu_gpu_found *found,
                  struct ilu_error *err)
{
    memset(g, 0, sizeof *g);
    if (cfg->count == 0)
        return 0;
    size_t have = found ? found->n : 0;
    if (cfg->count > have)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", GPU_KEY "count is %u but %zu GPU%s found: %s", cfg->count,
                       have, have == 1 ? " was" : "s were",
                       found && found->source[0] ? found->source : "none looked for");
    if (!(g->dev = calloc(cfg->count, sizeof *g->dev)))
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    g->n = cfg->count;
    for (uint32_t i = 0; i < g->n; i++) {
        struct ilu_gpu *d = &g->dev[i];
        const struct ilu_gpu_device *f = &found->dev[i];
        snprintf(d->name, sizeof d->name, "%s", f->name);
        if (cfg->memory_mb && f->memory_mb && cfg->memory_mb > f->memory_mb) {
            ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config",
                    GPU_KEY "memory_mb (%u MB) is more than GPU %u (%s) has: %u MB", cfg->memory_mb, i, f->name,
                    f->memory_mb);
            goto fail;
        }
        d->memory_mb = cfg->memory_mb ? cfg->memory_mb : f->memory_mb;
        if (d->memory_mb == 0) {
            ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "GPU %u (%s) has no known memory: set " GPU_KEY "memory_mb",
                    i, f->name);
            goto fail;
        }
        if (split(d, i, cfg, err))
            goto fail;
        if (!(d->holder = calloc(d->spots, sizeof *d->holder))) {
            ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
            goto fail;
        }
        g->spots += d->spots;
    }
    return 0;
fail:
    ilu_gpus_destroy(g);
    return -1;
}

void ilu_gpus_destroy(struct ilu_gpus *g)
{
    for (uint32_t i = 0; g->dev && i < g->n; i++)
        free(g->dev[i].holder);
    free(g->dev);
    memset(g, 0, sizeof *g);
}

int ilu_gpus_pick(const struct ilu_gpus *g)
{
    int best = -1;
    for (uint32_t i = 0; i < g->n; i++) {
        const struct ilu_gpu *d = &g->dev[i];
        if (d->spots_used < d->spots &&
            (best < 0 || d->spots - d->spots_used > g->dev[best].spots - g->dev[best].spots_used))
            best = (int)i;
    }
    return best;
}

int ilu_gpus_assign_device(struct ilu_gpus *g, uint32_t device, const void *holder, struct ilu_gpu_spot *out)
{
    if (device >= g->n || g->dev[device].spots_used >= g->dev[device].spots)
        return -1;
    struct ilu_gpu *d = &g->dev[device];
    uint32_t s = 0;
    while (d->holder[s])
        s++;
    d->holder[s] = holder;
    d->spots_used++;
    g->spots_used++;
    *out = (struct ilu_gpu_spot){.device = device, .index = s};
    return 0;
}

int ilu_gpus_assign(struct ilu_gpus *g, const void *holder, struct ilu_gpu_spot *out)
{
    int d = ilu_gpus_pick(g);
    return d < 0 ? -1 : ilu_gpus_assign_device(g, (uint32_t)d, holder, out);
}

uint32_t ilu_gpus_tokens_free(const struct ilu_gpus *g, uint32_t device)
{
    return device < g->n ? g->dev[device].tokens - g->dev[device].tokens_used : 0;
}

int ilu_gpus_release(struct ilu_gpus *g, const void *holder, struct ilu_gpu_spot spot)
{
    if (spot.device >= g->n || spot.index >= g->dev[spot.device].spots || !holder ||
        g->dev[spot.device].holder[spot.index] != holder)
        return -1;
    struct ilu_gpu *d = &g->dev[spot.device];
    d->holder[spot.index] = NULL;
    d->spots_used--;
    g->spots_used--;
    return 0;
}

int ilu_gpus_token_take(struct ilu_gpus *g, int device, uint32_t *out)
{
    int pick = -1;
    if (device >= 0) {
        if ((uint32_t)device < g->n && g->dev[device].tokens_used < g->dev[device].tokens)
            pick = device;
    } else {
        for (uint32_t i = 0; i < g->n; i++) {
            const struct ilu_gpu *d = &g->dev[i];
            if (d->tokens_used < d->tokens &&
                (pick < 0 || d->tokens - d->tokens_used > g->dev[pick].tokens - g->dev[pick].tokens_used))
                pick = (int)i;
        }
    }
    if (pick < 0)
        return -1;
    g->dev[pick].tokens_used++;
    *out = (uint32_t)pick;
    return 0;
}

int ilu_gpus_token_return(struct ilu_gpus *g, uint32_t device)
{
    if (device >= g->n || g->dev[device].tokens_used == 0)
        return -1;
    g->dev[device].tokens_used--;
    return 0;
}

uint32_t ilu_gpus_tokens_used(const struct ilu_gpus *g)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < g->n; i++)
        n += g->dev[i].tokens_used;
    return n;
}
