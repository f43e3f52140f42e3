/* Routes, request parsing and JSON answers. Invocation, prewarm and health
 * answer asynchronously, when the core calls back. */
#include "http_api.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/worker_codec.h"
#include "http_util.h"
#include "metrics.h"

/* A request answered later. The client may hang up first: the connection's
 * close callback marks it so the answer is dropped instead of written to a
 * freed request. */
struct pending {
    struct ilu_http_pending base; /* first: http_util allocates and frees the whole */
    int is_health;
};

/* ---- handlers ------------------------------------------------------------ */

typedef void (*handler_fn)(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid);

static void h_ping(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    ilu_http_send_json(req, 200, json_pack("{s:s}", "message", "Pong"), tid);
}

static void h_register(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    struct ilu_register_req r = {0};
    /* the codec and rules the controller uses too (api/registration.h) */
    if (ilu_registration_from_json(body, &r, &err) || ilu_worker_register(api->worker, &r, tid, &err)) {
        ilu_http_send_error(api->log, req, &err, tid);
        return;
    }
    ilu_http_send_json(req, 200, ilu_api_register_answer(&r), tid);
}

static void invoke_answer(void *arg, struct ilu_invocation *inv)
{
    struct pending *p = arg;
    if (!ilu_http_pending_take(&p->base))
        return;
    if (p->is_health) {
        /* healthy iff the bundled hello really ran in a container and greeted us */
        int ok = inv->success && inv->json_result && strstr(inv->json_result, "Hello BADCAFE from python!");
        json_t *obj = json_pack("{s:s}", "status", ok ? "HEALTHY" : "UNHEALTHY");
        if (!ok)
            json_object_set_new(obj, "error", json_string(inv->success ? "unexpected greeting" : inv->err.msg));
        json_object_set_new(obj, "container_state", json_string(ilu_start_kind_name(inv->start_kind)));
        ilu_http_send_json(p->base.req, ok ? 200 : 503, obj, p->base.tid);
    } else {
        ilu_http_send_json(p->base.req, ilu_invocation_http_status(inv), ilu_invocation_result_json(inv), p->base.tid);
    }
    free(p);
}

static void h_invoke(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    struct ilu_api_invoke_req r = {0};
    struct pending *p = NULL;
    if (ilu_api_invoke_decode(body, &r, &err))
        goto fail;
    if (!(p = ilu_http_pending_new(sizeof *p, req, tid, &api->open_requests, api->log, &err)))
        goto fail;
    if (ilu_worker_invoke(api->worker, r.function_name, r.function_version, r.json_args, r.json_args_len, tid,
                          invoke_answer, p, &err)) {
        ilu_http_pending_drop(&p->base);
        goto fail;
    }
    ilu_api_invoke_req_release(&r);
    return;
fail:
    ilu_api_invoke_req_release(&r);
    ilu_http_send_error(api->log, req, &err, tid);
}

static void h_invoke_async(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    struct ilu_api_invoke_req r = {0};
    char *cookie = NULL;
    if (ilu_api_invoke_decode(body, &r, &err) ||
        !(cookie = ilu_async_invoke(api->async, r.function_name, r.function_version, r.json_args, r.json_args_len, tid,
                                    &err))) {
        ilu_api_invoke_req_release(&r);
        ilu_http_send_error(api->log, req, &err, tid);
        return;
    }
    ilu_http_send_json(req, 200, ilu_api_async_answer(cookie), tid);
    ilu_api_invoke_req_release(&r);
    free(cookie);
}

static void h_invoke_async_check(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    struct ilu_api_async_check_req r;
    bool pending = false;
    json_t *result = NULL;
    if (ilu_api_async_check_decode(body, &r, &err) ||
        (!(result = ilu_async_check(api->async, r.lookup_cookie, &pending, &err)) && !pending)) {
        ilu_http_send_error(api->log, req, &err, tid);
        return;
    }
    if (pending) {
        ilu_http_send_json(req, 200, ilu_api_async_pending_answer(), tid);
        return;
    }
    int status = (int)json_integer_value(json_object_get(result, "http_status"));
    json_object_del(result, "http_status");
    ilu_http_send_json(req, status ? status : 200, result,
                       json_string_value(json_object_get(result, "transaction_id")));
}

static void prewarm_answer(void *arg, const char *tid, const struct ilu_error *err)
{
    struct pending *p = arg;
    if (!ilu_http_pending_take(&p->base))
        return;
    if (err)
        ilu_http_send_error(p->base.log, p->base.req, err, p->base.tid);
    else
        ilu_http_send_json(p->base.req, 200, ilu_api_prewarm_answer(), p->base.tid);
    free(p);
}

static void h_prewarm(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    struct ilu_api_prewarm_req r;
    struct pending *p = NULL;
    if (ilu_api_prewarm_decode(body, &r, &err))
        goto fail;
    if (!(p = ilu_http_pending_new(sizeof *p, req, tid, &api->open_requests, api->log, &err)))
        goto fail;
    if (ilu_worker_prewarm(api->worker, r.function_name, r.function_version, tid, prewarm_answer, p, &err)) {
        ilu_http_pending_drop(&p->base);
        goto fail;
    }
    return;
fail:
    ilu_http_send_error(api->log, req, &err, tid);
}

static void h_health(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    struct pending *p = ilu_http_pending_new(sizeof *p, req, tid, &api->open_requests, api->log, &err);
    static const char args[] = "{\"name\":\"BADCAFE\"}";
    if (p) {
        p->is_health = 1;
        if (!ilu_worker_invoke(api->worker, ILU_HEALTH_FUNCTION, ILU_HEALTH_VERSION, args, sizeof args - 1, tid,
                               invoke_answer, p, &err))
            return;
        ilu_http_pending_drop(&p->base);
    }
    ilu_http_send_json(req, 503, json_pack("{s:s, s:s}", "status", "UNHEALTHY", "error", err.msg), tid);
}

static void h_status(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    json_t *s = ilu_worker_status_json(api->worker);
    json_object_set_new(s, "async_results_held", json_integer((json_int_t)ilu_async_held(api->async)));
    ilu_host_stats_json(api->host, s);
    json_object_set_new(s, "worker_name", json_string(api->worker_name));
    json_object_set_new(s, "runtime", json_string(api->runtime_name ? api->runtime_name : ""));
    ilu_http_send_json(req, 200, s, tid);
}

static void h_list(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    ilu_http_send_json(req, 200, json_pack("{s:o}", "functions", ilu_worker_list_json(api->worker)), tid);
}

static void h_clean(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    ilu_http_send_json(req, 200, ilu_api_clean_answer(ilu_worker_clean(api->worker, tid)), tid);
}

/* Ilúvatar's est_invoke_time. {"fqdns": [...]} answers {"est_time": [...]}
 * in the same order, 0 for an unknown one (as the RPC); {"function_name",
 * "function_version"} answers one number, 404 for an unknown function. */
static void h_est_invoke_time(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    struct ilu_api_est_req r;
    const struct ilu_function *fn;
    if (ilu_api_est_decode(body, &r, &err))
        goto fail;
    if (r.many) {
        json_t *est = json_array();
        for (size_t i = 0; i < r.n_fqdns; i++) {
            fn = ilu_worker_function_fqdn(api->worker, r.fqdns[i]);
            json_array_append_new(est, json_real(fn ? ilu_worker_est_invoke_time(api->worker, fn) : 0));
        }
        ilu_api_est_req_release(&r);
        ilu_http_send_json(req, 200, json_pack("{s:b, s:o}", "success", 1, "est_time", est), tid);
        return;
    }
    if (!(fn = ilu_worker_function(api->worker, r.function_name, r.function_version))) {
        ilu_err(&err, ILU_ST_NOT_FOUND, NULL, "function %s-%s is not registered", r.function_name, r.function_version);
        goto fail;
    }
    ilu_http_send_json(req, 200,
                       json_pack("{s:b, s:s, s:f}", "success", 1, "fqdn", fn->fqdn, "est_time",
                                 ilu_worker_est_invoke_time(api->worker, fn)),
                       tid);
    return;
fail:
    ilu_http_send_error(api->log, req, &err, tid);
}

static void h_metrics(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct evbuffer *buf = evbuffer_new();
    ilu_metrics_write(buf, api->worker, api->host);
    ilu_http_send_metrics(req, buf);
}

struct route {
    struct ilu_http_match match;
    handler_fn fn;
};

static const struct route routes[] = {
    {{"/ping", EVHTTP_REQ_GET, 0}, h_ping},
    {{"/health", EVHTTP_REQ_GET, 0}, h_health},
    {{"/status", EVHTTP_REQ_GET, 0}, h_status},
    {{"/list", EVHTTP_REQ_GET, 0}, h_list},
    {{"/metrics", EVHTTP_REQ_GET, 0}, h_metrics},
    {{"/register", EVHTTP_REQ_POST, 1}, h_register},
    {{"/invoke", EVHTTP_REQ_POST, 1}, h_invoke},
    {{"/invoke_async", EVHTTP_REQ_POST, 1}, h_invoke_async},
    {{"/invoke_async_check", EVHTTP_REQ_POST, 1}, h_invoke_async_check},
    {{"/prewarm", EVHTTP_REQ_POST, 1}, h_prewarm},
    {{"/clean", EVHTTP_REQ_POST, 0}, h_clean},
    {{"/est_invoke_time", EVHTTP_REQ_POST, 1}, h_est_invoke_time},
};

static void on_request(struct evhttp_request *req, void *arg)
{
    struct ilu_http_api *api = arg;
    json_t *body = NULL;
    char tid[64];
    long i = ilu_http_match_route(&api->server, req, routes, sizeof routes / sizeof routes[0], sizeof routes[0],
                                  api->log, api->tid_seed, &api->tid_seq, &body, tid, sizeof tid);
    if (i < 0)
        return;
    routes[i].fn(api, req, body, tid);
    json_decref(body);
}

int ilu_http_api_start(struct ilu_http_api *api, struct event_base *base, const char *address, uint16_t port,
                       struct ilu_error *err)
{
    /* bodies are checked against limits.max_payload_bytes by the core with a
     * JSON error; evhttp's own cut-off only stops absurd uploads */
    return ilu_http_server_start(&api->server, base, address, port, &api->http_limits,
                                 (size_t)api->max_payload_bytes * 4 + 65536, api->log, on_request, api, err);
}

void ilu_http_api_stop(struct ilu_http_api *api)
{
    ilu_http_server_free(&api->server);
}
