/* Invocation results and the JSON views the API serves. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_out.h"
#include "worker/gpu_status.h"
#include "worker/worker_internal.h"

const char *ilu_start_kind_name(enum ilu_start_kind k)
{
    switch (k) {
    case ILU_START_COLD: return "cold";
    case ILU_START_PREWARM: return "prewarm";
    case ILU_START_WARM: return "warm";
    default: return "error";
    }
}

const char *ilu_sandbox_kind_name(enum ilu_sandbox_kind k)
{
    switch (k) {
    case ILU_SANDBOX_FRESH: return "fresh";
    case ILU_SANDBOX_POOLED: return "pooled";
    default: return "";
    }
}

#define AGENT_MAX_EXEC_SEC 1e6 /* ~11 days, far beyond any invocation timeout */

static void set_user_error(struct ilu_invocation *inv, const char *traceback)
{
    inv->success = false;
    inv->user_error = strdup(traceback);
    /* the traceback's last line names the exception: the most useful summary */
    const char *tb = inv->user_error ? inv->user_error : "";
    size_t n = strlen(tb);
    while (n && tb[n - 1] == '\n')
        n--;
    size_t start = n;
    while (start && tb[start - 1] != '\n')
        start--;
    ilu_err(&inv->err, ILU_ST_USER_ERROR, "user_error", "the function raised: %.*s", (int)(n - start), tb + start);
    inv->json_result = strdup("{\"Error\": \"function raised an exception\"}");
}

void ilu_result_from_agent(struct ilu_invocation *inv, const struct ilu_agent_reply *reply)
{
    const struct ilu_agent_result *r = reply->result;
    if (!r || r->malformed) {
        inv->success = false;
        ilu_err(&inv->err, ILU_ST_BAD_GATEWAY, "container_error", "%s", r ? r->malformed : "the agent sent no reply");
        return;
    }
    /* the agent shares its container with user code: a negative or absurd
     * duration would poison the function's averages and the answer's timings */
    double exec_sec = r->duration_sec;
    inv->exec_sec = isfinite(exec_sec) && exec_sec > 0 ? fmin(exec_sec, AGENT_MAX_EXEC_SEC) : 0;
    inv->agent_start = r->start ? strdup(r->start) : NULL;
    inv->agent_end = r->end ? strdup(r->end) : NULL;
    if (r->user_error) {
        set_user_error(inv, r->user_error);
    } else {
        inv->success = true;
        inv->json_result = strdup(r->user_result_json ? r->user_result_json : "null");
    }
}

void ilu_invocation_timings(const struct ilu_invocation *inv, struct ilu_inv_timings *t)
{
    t->total_us = inv->t.done_us - inv->t.arrived_us;
    t->queue_us = inv->dequeued ? inv->t.dequeued_us - inv->t.arrived_us : t->total_us;
    t->container_start_us = inv->start_kind == ILU_START_COLD ? inv->cold_start_us : 0;
    t->sandbox = inv->start_kind == ILU_START_COLD ? inv->sandbox : ILU_SANDBOX_NONE;
    t->exec_us = inv->exec_sec > 0 ? (uint64_t)llround(inv->exec_sec * 1e6) : 0;
    t->agent_round_trip_us = inv->round_trip_us;
    uint64_t accounted = t->queue_us + t->container_start_us + t->exec_us;
    t->overhead_us = t->total_us > accounted ? t->total_us - accounted : 0;
}

int ilu_invocation_http_status(const struct ilu_invocation *inv)
{
    return inv->success ? 200 : (inv->err.status ? inv->err.status : ILU_ST_INTERNAL);
}

json_t *ilu_invocation_result_json(const struct ilu_invocation *inv)
{
    struct ilu_inv_timings tm;
    ilu_invocation_timings(inv, &tm);
    json_t *timings = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "queue_us", (json_int_t)tm.queue_us,
                                "container_start_us", (json_int_t)tm.container_start_us, "exec_us",
                                (json_int_t)tm.exec_us, "agent_round_trip_us", (json_int_t)tm.agent_round_trip_us,
                                "overhead_us", (json_int_t)tm.overhead_us, "total_us", (json_int_t)tm.total_us);
    /* how a cold start got its container; null when there was none */
    json_object_set_new(timings, "sandbox", tm.sandbox ? json_string(ilu_sandbox_kind_name(tm.sandbox)) : json_null());
    json_t *r = json_pack("{s:b, s:s, s:I, s:s, s:s, s:s?, s:o}", "success", inv->success, "json_result",
                          inv->json_result ? inv->json_result : "", "duration_us", (json_int_t)inv->round_trip_us,
                          "container_state", ilu_start_kind_name(inv->start_kind), "transaction_id", inv->tid,
                          "container_id", inv->container_id, "timings", timings);
    if (!r)
        return NULL;
    json_object_set_new(r, "function_name", json_string(inv->fn->name));
    json_object_set_new(r, "function_version", json_string(inv->fn->version));
    json_object_set_new(r, "compute", json_string(inv->on_gpu ? "GPU" : "CPU")); /* which ran it (docs/gpu.md) */
    json_object_set_new(r, "user_error", inv->user_error ? json_string(inv->user_error) : json_null());
    if (inv->agent_start)
        json_object_set_new(r, "agent_start", json_string(inv->agent_start));
    if (inv->agent_end)
        json_object_set_new(r, "agent_end", json_string(inv->agent_end));
    if (!inv->success) {
        json_object_set_new(r, "error", json_string(inv->err.msg));
        json_object_set_new(r, "error_kind", json_string(inv->err.kind));
    }
    return r;
}

int ilu_invocation_result_write(const struct ilu_invocation *inv, struct ilu_json_out *o)
{
    /* the members of ilu_invocation_result_json, in its order */
    struct ilu_inv_timings tm;
    ilu_invocation_timings(inv, &tm);
    ilu_json_out_open(o);
    ilu_json_out_member_bool(o, "success", inv->success);
    ilu_json_out_member_string(o, "json_result", inv->json_result ? inv->json_result : "");
    ilu_json_out_member_int(o, "duration_us", (int64_t)inv->round_trip_us);
    ilu_json_out_member_string(o, "container_state", ilu_start_kind_name(inv->start_kind));
    ilu_json_out_member_string(o, "transaction_id", inv->tid);
    ilu_json_out_member_string(o, "container_id", inv->container_id);
    ilu_json_out_key(o, "timings");
    ilu_json_out_open(o);
    ilu_json_out_member_int(o, "queue_us", (int64_t)tm.queue_us);
    ilu_json_out_member_int(o, "container_start_us", (int64_t)tm.container_start_us);
    ilu_json_out_member_int(o, "exec_us", (int64_t)tm.exec_us);
    ilu_json_out_member_int(o, "agent_round_trip_us", (int64_t)tm.agent_round_trip_us);
    ilu_json_out_member_int(o, "overhead_us", (int64_t)tm.overhead_us);
    ilu_json_out_member_int(o, "total_us", (int64_t)tm.total_us);
    ilu_json_out_member_string(o, "sandbox", tm.sandbox ? ilu_sandbox_kind_name(tm.sandbox) : NULL);
    ilu_json_out_close(o);
    ilu_json_out_member_string(o, "function_name", inv->fn->name);
    ilu_json_out_member_string(o, "function_version", inv->fn->version);
    ilu_json_out_member_string(o, "compute", inv->on_gpu ? "GPU" : "CPU");
    ilu_json_out_member_string(o, "user_error", inv->user_error);
    if (inv->agent_start)
        ilu_json_out_member_string(o, "agent_start", inv->agent_start);
    if (inv->agent_end)
        ilu_json_out_member_string(o, "agent_end", inv->agent_end);
    if (!inv->success) {
        ilu_json_out_member_string(o, "error", inv->err.msg);
        ilu_json_out_member_string(o, "error_kind", inv->err.kind);
    }
    ilu_json_out_close(o);
    return o->failed ? -1 : 0;
}

void ilu_worker_status_read(const struct ilu_worker *w, struct ilu_worker_status *s)
{
    const struct ilu_worker_counters *c = &w->count;
    *s = (struct ilu_worker_status){.cpu_queue_len = ilu_queue_len(&w->queue),
                                    .num_running_funcs = w->running,
                                    .cpus_in_use = w->cpus_in_use,
                                    .cpu_limit = w->cpu_limit,
                                    .used_mem_mb = w->pool.used_mem_mb,
                                    .total_mem_mb = w->cfg.container_resources.memory_mb,
                                    .num_containers = w->pool.n_containers,
                                    .idle_containers = w->pool.n_idle,
                                    .starting_containers = w->pool.n_starting,
                                    .invocations = c->invocations,
                                    .errors = c->errors,
                                    .cold_starts = c->cold,
                                    .warm_starts = c->warm,
                                    .prewarm_starts = c->prewarm,
                                    .evictions = w->pool.evictions,
                                    .keepalive_removals = w->pool.keepalive_removals,
                                    .containers_started = w->pool.containers_started,
                                    .gpu_count = w->gpus.n,
                                    .gpu_spots = w->gpus.spots,
                                    .gpu_spots_used = w->gpus.spots_used,
                                    .gpu_queue_len = ilu_queue_len(&w->gpu_queue)};
}

json_t *ilu_worker_status_json(const struct ilu_worker *w)
{
    const struct ilu_worker_counters *c = &w->count;
    struct ilu_worker_status st;
    ilu_worker_status_read(w, &st);
    json_t *s = json_object();
#define SET_COUNT(key, v) json_object_set_new(s, key, json_integer((json_int_t)(v)))
    SET_COUNT("cpu_queue_len", st.cpu_queue_len);
    SET_COUNT("num_running_funcs", st.num_running_funcs);
    SET_COUNT("used_mem_mb", st.used_mem_mb);
    SET_COUNT("total_mem_mb", st.total_mem_mb);
    json_object_set_new(s, "used_mem_pct",
                        json_real(st.total_mem_mb ? 100.0 * (double)st.used_mem_mb / (double)st.total_mem_mb : 0));
    SET_COUNT("cpu_limit", st.cpu_limit);
    SET_COUNT("cpus_in_use", st.cpus_in_use);
    SET_COUNT("num_containers", st.num_containers);
    SET_COUNT("idle_containers", st.idle_containers);
    SET_COUNT("starting_containers", st.starting_containers);
    SET_COUNT("invocations", st.invocations);
    SET_COUNT("errors", st.errors);
    SET_COUNT("timeouts", c->timeouts);
    SET_COUNT("rejected", c->rejected);
    SET_COUNT("cold_starts", st.cold_starts);
    SET_COUNT("warm_starts", st.warm_starts);
    SET_COUNT("prewarm_starts", st.prewarm_starts);
    SET_COUNT("bypassed", c->bypassed);
    SET_COUNT("containers_started", st.containers_started);
    SET_COUNT("start_failures", c->start_failures);
    SET_COUNT("evictions", st.evictions);
    SET_COUNT("keepalive_removals", st.keepalive_removals);
    SET_COUNT("container_deaths", c->deaths);
    SET_COUNT("gpu_queue_len", st.gpu_queue_len);
    SET_COUNT("gpu_count", st.gpu_count);
    SET_COUNT("gpu_spots", st.gpu_spots);
    SET_COUNT("gpu_spots_used", st.gpu_spots_used);
#undef SET_COUNT
    json_object_set_new(s, "gpus", ilu_gpu_status_json(w)); /* per GPU, docs/gpu.md "GPU status" */
    ilu_sandboxes_status_json(&w->sandboxes, s);
    json_object_set_new(s, "shutting_down", json_boolean(w->shutting_down));
    return s;
}

json_t *ilu_worker_list_json(const struct ilu_worker *w)
{
    json_t *list = json_array();
    const char *key;
    void *value;
    for (size_t it = 0; ilu_map_next(&w->functions, &it, &key, &value);) {
        const struct ilu_function *fn = value;
        if (fn->system)
            continue;
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:s, s:i, s:i, s:s}", "function_name", fn->name, "function_version",
                                        fn->version, "image_name", fn->image, "memory", (int)fn->memory_mb, "cpus",
                                        (int)fn->cpus, "compute", ilu_compute_name(fn->compute)));
    }
    return list;
}

json_t *ilu_worker_metrics_json(const struct ilu_worker *w)
{
    json_t *list = json_array();
    const char *key;
    void *value;
    for (size_t it = 0; ilu_map_next(&w->functions, &it, &key, &value);) {
        const struct ilu_function *fn = value;
        const struct ilu_fn_stats *st = &fn->stats;
        json_array_append_new(list, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:i, s:f, s:f, s:f}", "fqdn", fn->fqdn,
                                              "invocations", (json_int_t)st->invocations, "cold", (json_int_t)st->cold,
                                              "warm", (json_int_t)st->warm, "prewarm", (json_int_t)st->prewarm,
                                              "errors", (json_int_t)st->errors, "containers", (int)fn->n_containers,
                                              "avg_exec_us", st->exec_us.ewma, "avg_e2e_us", st->e2e_us.ewma,
                                              "avg_cold_start_us", st->container_start_us.ewma));
    }
    return list;
}
