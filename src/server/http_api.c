/* Routes, request parsing and JSON answers. Every routed request becomes an
 * exchange (http_io.h), handled on the core loop and answered through it:
 * at once, or for invocation, prewarm and health when the core calls back.
 * With http.io_threads, I/O loops own the connections and parse; the
 * handlers below still run on the core loop only. */
#include "http_api.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_out.h"
#include "api/worker_codec.h"
#include "http_io.h"
#include "http_util.h"
#include "metrics.h"
#include "os/random.h"

/* One event loop's server of the worker API: the core loop's (io_threads
 * 0) or an I/O loop's. Transaction ids are made per server (own seed). */
struct ilu_http_api_server {
    struct ilu_http_api *api;
    struct ilu_http_server server;
    struct ilu_http_io_loop *io; /* NULL: the core loop's */
    uint64_t tid_seed, tid_seq;
};

/* ---- handlers ------------------------------------------------------------ */

typedef void (*handler_fn)(struct ilu_http_api *api, struct ilu_http_exchange *ex, json_t *body, const char *tid);

static void h_ping(struct ilu_http_api *api, struct ilu_http_exchange *ex, json_t *body, const char *tid)
{
    ilu_http_answer_json(ex, 200, json_pack("{s:s}", "message", "Pong"));
}

static void register_now(struct ilu_http_api *api, struct ilu_http_exchange *ex, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    struct ilu_register_req r = {0};
    /* the codec and rules the controller uses too (api/registration.h) */
    if (ilu_registration_from_json(body, &r, &err) || ilu_worker_register(api->worker, &r, tid, &err)) {
        ilu_http_answer_error(ex, &err);
        return;
    }
    ilu_http_answer_json(ex, 200, ilu_api_register_answer(&r));
}

/* A registration waiting for its image (an OCI image being unpacked). */
struct image_wait {
    struct ilu_http_api *api;
    struct ilu_http_exchange *ex;
    json_t *body; /* held: r's strings point into it */
    char tid[64];
};

static void on_image_ready(void *arg, const struct ilu_error *err)
{
    struct image_wait *iw = arg;
    if (err)
        ilu_http_answer_error(iw->ex, err);
    else
        register_now(iw->api, iw->ex, iw->body, iw->tid);
    json_decref(iw->body);
    free(iw);
}

/* The backend may need time to get the image ready (seconds for an OCI
 * image): then the answer waits for it, and the loop goes on meanwhile. */
static void h_register(struct ilu_http_api *api, struct ilu_http_exchange *ex, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    struct ilu_register_req r = {0};
    const struct ilu_backend *b = api->backend;
    if (!b || !b->ops->prepare_image || ilu_registration_from_json(body, &r, &err)) {
        register_now(api, ex, body, tid);
        return;
    }
    struct image_wait *iw = calloc(1, sizeof *iw);
    if (!iw) {
        ilu_err(&err, ILU_ST_INTERNAL, NULL, "out of memory");
        ilu_http_answer_error(ex, &err);
        return;
    }
    *iw = (struct image_wait){.api = api, .ex = ex, .body = json_incref(body)};
    snprintf(iw->tid, sizeof iw->tid, "%s", tid);
    int rc = b->ops->prepare_image(api->backend, r.image_name, tid, on_image_ready, iw, &err);
    if (rc == 0)
        return;
    json_decref(iw->body);
    free(iw);
    if (rc < 0)
        ilu_http_answer_error(ex, &err);
    else
        register_now(api, ex, body, tid);
}

enum { TAG_HEALTH = 1 };

static void free_text(const void *data, size_t len, void *arg)
{
    free((void *)data);
}

static void invoke_answer(void *arg, struct ilu_invocation *inv)
{
    struct ilu_http_exchange *ex = arg;
    if (ex->tag == TAG_HEALTH) {
        /* healthy iff the bundled hello really ran in a container and greeted us */
        int ok = inv->success && inv->json_result && strstr(inv->json_result, "Hello BADCAFE from python!");
        json_t *obj = json_pack("{s:s}", "status", ok ? "HEALTHY" : "UNHEALTHY");
        if (!ok)
            json_object_set_new(obj, "error", json_string(inv->success ? "unexpected greeting" : inv->err.msg));
        json_object_set_new(obj, "container_state", json_string(ilu_start_kind_name(inv->start_kind)));
        ilu_http_answer_json(ex, ok ? 200 : 503, obj);
        return;
    }
    /* written straight as text, no tree (bench/README.md): the same
     * bytes as the tree's compact dump, and the newline ilu_http_send_json adds */
    struct ilu_json_out o = {0};
    struct evbuffer *buf = evbuffer_new();
    if (ilu_invocation_result_write(inv, &o) == 0)
        ilu_json_out_raw(&o, "\n", 1);
    if (!buf || o.failed || evbuffer_add_reference(buf, o.buf, o.len, free_text, NULL) != 0) {
        free(o.buf);
        if (buf)
            evbuffer_free(buf);
        ilu_http_answer_json(ex, ilu_invocation_http_status(inv), ilu_invocation_result_json(inv));
        return;
    }
    ilu_http_answer_json_text(ex, ilu_invocation_http_status(inv), buf);
}

static void h_invoke(struct ilu_http_api *api, struct ilu_http_exchange *ex, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    struct ilu_api_invoke_req r = {0};
    if (ilu_api_invoke_decode(body, &r, &err) ||
        ilu_worker_invoke(api->worker, r.function_name, r.function_version, r.json_args, r.json_args_len, tid,
                          invoke_answer, ex, &err))
        goto fail;
    ilu_api_invoke_req_release(&r);
    return;
fail:
    ilu_api_invoke_req_release(&r);
    ilu_http_answer_error(ex, &err);
}

static void h_invoke_async(struct ilu_http_api *api, struct ilu_http_exchange *ex, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    struct ilu_api_invoke_req r = {0};
    char *cookie = NULL;
    if (ilu_api_invoke_decode(body, &r, &err) ||
        !(cookie = ilu_async_invoke(api->async, r.function_name, r.function_version, r.json_args, r.json_args_len, tid,
                                    &err))) {
        ilu_api_invoke_req_release(&r);
        ilu_http_answer_error(ex, &err);
        return;
    }
    ilu_http_answer_json(ex, 200, ilu_api_async_answer(cookie));
    ilu_api_invoke_req_release(&r);
    free(cookie);
}

static void h_invoke_async_check(struct ilu_http_api *api, struct ilu_http_exchange *ex, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    struct ilu_api_async_check_req r;
    bool pending = false;
    json_t *result = NULL;
    if (ilu_api_async_check_decode(body, &r, &err) ||
        (!(result = ilu_async_check(api->async, r.lookup_cookie, &pending, &err)) && !pending)) {
        ilu_http_answer_error(ex, &err);
        return;
    }
    if (pending) {
        ilu_http_answer_json(ex, 200, ilu_api_async_pending_answer());
        return;
    }
    int status = (int)json_integer_value(json_object_get(result, "http_status"));
    json_object_del(result, "http_status");
    /* answered under the async invocation's own id, as it was made */
    const char *inv_tid = json_string_value(json_object_get(result, "transaction_id"));
    if (inv_tid)
        snprintf(ex->pending.tid, sizeof ex->pending.tid, "%s", inv_tid);
    ilu_http_answer_json(ex, status ? status : 200, result);
}

static void prewarm_answer(void *arg, const char *tid, const struct ilu_error *err)
{
    struct ilu_http_exchange *ex = arg;
    if (err)
        ilu_http_answer_error(ex, err);
    else
        ilu_http_answer_json(ex, 200, ilu_api_prewarm_answer());
}

static void h_prewarm(struct ilu_http_api *api, struct ilu_http_exchange *ex, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    struct ilu_api_prewarm_req r;
    if (ilu_api_prewarm_decode(body, &r, &err) ||
        ilu_worker_prewarm(api->worker, r.function_name, r.function_version, tid, prewarm_answer, ex, &err))
        ilu_http_answer_error(ex, &err);
}

static void h_health(struct ilu_http_api *api, struct ilu_http_exchange *ex, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    static const char args[] = "{\"name\":\"BADCAFE\"}";
    ex->tag = TAG_HEALTH;
    if (!ilu_worker_invoke(api->worker, ILU_HEALTH_FUNCTION, ILU_HEALTH_VERSION, args, sizeof args - 1, tid,
                           invoke_answer, ex, &err))
        return;
    ilu_http_answer_json(ex, 503, json_pack("{s:s, s:s}", "status", "UNHEALTHY", "error", err.msg));
}

static void h_status(struct ilu_http_api *api, struct ilu_http_exchange *ex, json_t *body, const char *tid)
{
    json_t *s = ilu_worker_status_json(api->worker);
    json_object_set_new(s, "async_results_held", json_integer((json_int_t)ilu_async_held(api->async)));
    ilu_host_stats_json(api->host, s);
    json_object_set_new(s, "worker_name", json_string(api->worker_name));
    json_object_set_new(s, "runtime", json_string(api->runtime_name ? api->runtime_name : ""));
    if (api->backend && api->backend->ops->status_json)
        api->backend->ops->status_json(api->backend, s);
    ilu_http_answer_json(ex, 200, s);
}

static void h_config(struct ilu_http_api *api, struct ilu_http_exchange *ex, json_t *body, const char *tid)
{
    if (api->config)
        ilu_http_answer_json(ex, 200, json_incref(api->config));
    else
        ilu_http_answer_json(ex, 404, json_pack("{s:b, s:s}", "success", 0, "error", "no config to show"));
}

static void h_list(struct ilu_http_api *api, struct ilu_http_exchange *ex, json_t *body, const char *tid)
{
    ilu_http_answer_json(ex, 200, json_pack("{s:o}", "functions", ilu_worker_list_json(api->worker)));
}

static void h_clean(struct ilu_http_api *api, struct ilu_http_exchange *ex, json_t *body, const char *tid)
{
    json_t *answer = ilu_api_clean_answer(ilu_worker_clean(api->worker, tid));
    if (api->backend && api->backend->ops->clean) /* e.g. unpacked images no function uses */
        json_object_set_new(answer, "images_removed", json_integer(api->backend->ops->clean(api->backend, tid)));
    ilu_http_answer_json(ex, 200, answer);
}

/* Ilúvatar's est_invoke_time. {"fqdns": [...]} answers {"est_time": [...]}
 * in the same order, 0 for an unknown one (as the RPC); {"function_name",
 * "function_version"} answers one number, 404 for an unknown function. */
static void h_est_invoke_time(struct ilu_http_api *api, struct ilu_http_exchange *ex, json_t *body, const char *tid)
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
        ilu_http_answer_json(ex, 200, json_pack("{s:b, s:o}", "success", 1, "est_time", est));
        return;
    }
    if (!(fn = ilu_worker_function(api->worker, r.function_name, r.function_version))) {
        ilu_err(&err, ILU_ST_NOT_FOUND, NULL, "function %s-%s is not registered", r.function_name, r.function_version);
        goto fail;
    }
    ilu_http_answer_json(ex, 200,
                         json_pack("{s:b, s:s, s:f}", "success", 1, "fqdn", fn->fqdn, "est_time",
                                   ilu_worker_est_invoke_time(api->worker, fn)));
    return;
fail:
    ilu_http_answer_error(ex, &err);
}

static void h_metrics(struct ilu_http_api *api, struct ilu_http_exchange *ex, json_t *body, const char *tid)
{
    struct evbuffer *buf = evbuffer_new();
    ilu_metrics_write(buf, api->worker, api->backend, api->host);
    ilu_http_answer_text(ex, 200, ILU_HTTP_METRICS_TYPE, buf);
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
    {{"/config", EVHTTP_REQ_GET, 0}, h_config},
    {{"/metrics", EVHTTP_REQ_GET, 0}, h_metrics},
    {{"/register", EVHTTP_REQ_POST, 1}, h_register},
    {{"/invoke", EVHTTP_REQ_POST, 1}, h_invoke},
    {{"/invoke_async", EVHTTP_REQ_POST, 1}, h_invoke_async},
    {{"/invoke_async_check", EVHTTP_REQ_POST, 1}, h_invoke_async_check},
    {{"/prewarm", EVHTTP_REQ_POST, 1}, h_prewarm},
    {{"/clean", EVHTTP_REQ_POST, 0}, h_clean},
    {{"/est_invoke_time", EVHTTP_REQ_POST, 1}, h_est_invoke_time},
};

/* On the core loop: run ex's route. ex may be answered (and freed) inside
 * the handler, so what the handler needs is taken out first. */
static void handle(void *arg, struct ilu_http_exchange *ex)
{
    struct ilu_http_api *api = arg;
    json_t *body = ex->body;
    char tid[sizeof ex->pending.tid];
    memcpy(tid, ex->pending.tid, sizeof tid);
    ex->body = NULL;
    routes[ex->route].fn(api, ex, body, tid);
    json_decref(body);
}

/* On the loop that owns the connection: parse and route req, then handle it
 * here (the core loop's own server) or hand it to the core loop. */
static void on_request(struct evhttp_request *req, void *arg)
{
    struct ilu_http_api_server *srv = arg;
    struct ilu_http_api *api = srv->api;
    json_t *body = NULL;
    char tid[64];
    long i = ilu_http_match_route(&srv->server, req, routes, sizeof routes / sizeof routes[0], sizeof routes[0],
                                  api->log, srv->tid_seed, &srv->tid_seq, &body, tid, sizeof tid);
    if (i < 0)
        return;
    struct ilu_error err = {0};
    struct ilu_http_exchange *ex = ilu_http_exchange_new(
        req, tid, srv->io ? ilu_http_io_open_requests(srv->io) : &api->open_requests, api->log, &err);
    if (!ex) {
        json_decref(body);
        ilu_http_send_error(api->log, req, &err, tid);
        return;
    }
    ex->route = i;
    ex->body = body;
    if (srv->io)
        ilu_http_io_to_core(srv->io, ex);
    else
        handle(api, ex);
}

static struct ilu_http_api_server *server_start(struct ilu_http_api *api, struct ilu_http_io_loop *io,
                                                struct event_base *base, struct ilu_error *err)
{
    struct ilu_http_api_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    srv->api = api;
    srv->io = io;
    srv->tid_seed = ilu_random_seed();
    /* bodies are checked against limits.max_payload_bytes by the core with a
     * JSON error; evhttp's own cut-off only stops absurd uploads */
    /* http.max_connections is the worker's: each I/O loop holds its share */
    struct ilu_http_limits limits = api->http_limits;
    if (io && api->io_threads > 1)
        limits.max_connections = (limits.max_connections + api->io_threads - 1) / api->io_threads;
    if (ilu_http_server_start(&srv->server, base, api->address, api->port, io != NULL, &limits,
                              (size_t)api->max_payload_bytes * 4 + 65536, api->log, on_request, srv, err)) {
        free(srv);
        return NULL;
    }
    if (api->port == 0) /* the kernel's pick: the next loops bind the same */
        api->port = ilu_http_server_port(&srv->server);
    return srv;
}

static void server_free(void *arg)
{
    struct ilu_http_api_server *srv = arg;
    ilu_http_server_free(&srv->server);
    free(srv);
}

static void *io_serve(void *arg, struct ilu_http_io_loop *loop, struct event_base *base, struct ilu_error *err)
{
    return server_start(arg, loop, base, err);
}

static const struct ilu_http_io_ops io_ops = {.serve = io_serve, .free = server_free, .handle = handle};

int ilu_http_api_start(struct ilu_http_api *api, struct event_base *base, const char *address, uint16_t port,
                       unsigned io_threads, struct ilu_error *err)
{
    snprintf(api->address, sizeof api->address, "%s", address);
    api->port = port;
    api->io_threads = io_threads;
    if (io_threads == 0)
        return (api->core_server = server_start(api, NULL, base, err)) ? 0 : -1;
    return (api->io = ilu_http_io_start(base, io_threads, &io_ops, api, err)) ? 0 : -1;
}

void ilu_http_api_stop(struct ilu_http_api *api)
{
    if (api->core_server)
        server_free(api->core_server);
    api->core_server = NULL;
    ilu_http_io_stop(api->io);
    api->io = NULL;
}
