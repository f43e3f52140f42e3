/* Results of async invocations, held until fetched once or until
 * invocation.async_result_ttl_sec after they finished. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker_internal.h"

struct async_entry {
    struct ilu_worker *w;
    char cookie[96];
    json_t *result; /* NULL while running */
    uint64_t finished_us;
};

static void async_done(void *arg, struct ilu_invocation *inv)
{
    struct async_entry *e = arg;
    e->result = ilu_invocation_result_json(inv);
    if (!e->result)
        e->result = json_pack("{s:b, s:s}", "success", 0, "error", "could not build the result");
    json_object_set_new(e->result, "http_status", json_integer(ilu_invocation_http_status(inv)));
    e->finished_us = w_now(e->w);
}

char *ilu_worker_invoke_async(struct ilu_worker *w, const char *name, const char *version, const char *args,
                              size_t args_len, const char *tid, struct ilu_error *err)
{
    struct async_entry *e = calloc(1, sizeof *e);
    if (!e) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    e->w = w;
    /* worker name + counter: unique within this worker's life; the tid keeps it traceable */
    snprintf(e->cookie, sizeof e->cookie, "%.40s-%llx-%llx", w->cfg.name, (unsigned long long)w->env->wall_us(w->env->ctx),
             (unsigned long long)++w->cookie_seq);
    char *cookie = strdup(e->cookie);
    if (!cookie || ilu_map_put(&w->async, e->cookie, e)) {
        free(cookie);
        free(e);
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    if (ilu_worker_invoke(w, name, version, args, args_len, tid, async_done, e, err)) {
        ilu_map_del(&w->async, e->cookie);
        free(cookie);
        free(e);
        return NULL;
    }
    return cookie;
}

json_t *ilu_worker_invoke_async_check(struct ilu_worker *w, const char *cookie, bool *pending, struct ilu_error *err)
{
    *pending = false;
    struct async_entry *e = cookie ? ilu_map_get(&w->async, cookie) : NULL;
    if (!e) {
        ilu_err(err, ILU_ST_NOT_FOUND, NULL, "Invocation not found");
        return NULL;
    }
    if (!e->result) {
        *pending = true;
        return NULL;
    }
    json_t *result = e->result;
    ilu_map_del(&w->async, cookie);
    free(e);
    return result;
}

void ilu_async_expire(struct ilu_worker *w, uint64_t ttl_us)
{
    uint64_t now = w_now(w);
    const char *key;
    void *value;
    for (size_t it = 0; ilu_map_next(&w->async, &it, &key, &value);) {
        struct async_entry *e = value;
        if (e->result && now - e->finished_us >= ttl_us) {
            json_decref(e->result);
            ilu_map_del(&w->async, e->cookie);
            free(e);
        }
    }
}

void ilu_async_free_all(struct ilu_worker *w)
{
    const char *key;
    void *value;
    for (size_t it = 0; ilu_map_next(&w->async, &it, &key, &value);) {
        struct async_entry *e = value;
        json_decref(e->result);
        free(e);
    }
}
