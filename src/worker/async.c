/* Async invocations over the worker's public API: see async.h. */
#include "worker/async.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/map.h"

struct ilu_async {
    struct ilu_worker *worker;
    const struct ilu_env *env;
    char name[64];
    uint64_t ttl_us, check_us, seq;
    struct ilu_map entries; /* cookie -> struct async_entry */
    struct ilu_timer *timer;
};

struct async_entry {
    struct ilu_async *a;
    char cookie[128];
    json_t *result; /* NULL while running */
    uint64_t finished_us;
};

static uint64_t now(const struct ilu_async *a)
{
    return a->env->now_us(a->env->ctx);
}

static void on_expire_tick(void *arg)
{
    struct ilu_async *a = arg;
    uint64_t t = now(a);
    const char *key;
    void *value;
    for (size_t it = 0; ilu_map_next(&a->entries, &it, &key, &value);) {
        struct async_entry *e = value;
        if (e->result && t - e->finished_us >= a->ttl_us) {
            json_decref(e->result);
            ilu_map_del(&a->entries, e->cookie);
            free(e);
        }
    }
    a->timer = a->env->timer_start(a->env->ctx, a->check_us, on_expire_tick, a);
}

struct ilu_async *ilu_async_new(struct ilu_worker *worker, const struct ilu_env *env, const char *name, uint64_t ttl_us,
                                uint64_t check_us, struct ilu_error *err)
{
    struct ilu_async *a = calloc(1, sizeof *a);
    if (!a || ilu_map_init(&a->entries)) {
        free(a);
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    a->worker = worker;
    a->env = env;
    snprintf(a->name, sizeof a->name, "%s", name ? name : "");
    a->ttl_us = ttl_us;
    a->check_us = check_us ? check_us : 1000000;
    a->timer = env->timer_start(env->ctx, a->check_us, on_expire_tick, a);
    return a;
}

void ilu_async_free(struct ilu_async *a)
{
    if (!a)
        return;
    if (a->timer)
        a->env->timer_cancel(a->env->ctx, a->timer);
    const char *key;
    void *value;
    for (size_t it = 0; ilu_map_next(&a->entries, &it, &key, &value);) {
        struct async_entry *e = value;
        json_decref(e->result);
        free(e);
    }
    ilu_map_destroy(&a->entries);
    free(a);
}

static void async_done(void *arg, struct ilu_invocation *inv)
{
    struct async_entry *e = arg;
    e->result = ilu_invocation_result_json(inv);
    if (!e->result)
        e->result = json_pack("{s:b, s:s}", "success", 0, "error", "could not build the result");
    json_object_set_new(e->result, "http_status", json_integer(ilu_invocation_http_status(inv)));
    e->finished_us = now(e->a);
}

char *ilu_async_invoke(struct ilu_async *a, const char *name, const char *version, const char *args, size_t args_len,
                       const char *tid, struct ilu_error *err)
{
    struct async_entry *e = calloc(1, sizeof *e);
    if (!e) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    e->a = a;
    /* worker name + start time + counter: unique within this worker's life */
    uint64_t wall = a->env->wall_us ? a->env->wall_us(a->env->ctx) : 0;
    snprintf(e->cookie, sizeof e->cookie, "%.40s-%llx-%llx", a->name, (unsigned long long)wall,
             (unsigned long long)++a->seq);
    char *cookie = strdup(e->cookie);
    if (!cookie || ilu_map_put(&a->entries, e->cookie, e)) {
        free(cookie);
        free(e);
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    if (ilu_worker_invoke(a->worker, name, version, args, args_len, tid, async_done, e, err)) {
        ilu_map_del(&a->entries, e->cookie);
        free(cookie);
        free(e);
        return NULL;
    }
    return cookie;
}

json_t *ilu_async_check(struct ilu_async *a, const char *cookie, bool *pending, struct ilu_error *err)
{
    *pending = false;
    struct async_entry *e = cookie ? ilu_map_get(&a->entries, cookie) : NULL;
    if (!e) {
        ilu_err(err, ILU_ST_NOT_FOUND, NULL, "Invocation not found");
        return NULL;
    }
    if (!e->result) {
        *pending = true;
        return NULL;
    }
    json_t *result = e->result;
    ilu_map_del(&a->entries, cookie);
    free(e);
    return result;
}

size_t ilu_async_held(const struct ilu_async *a)
{
    return a->entries.len;
}
