/* Routes and JSON answers of the controller. Invocations, prewarms and
 * function registrations answer asynchronously, when the core calls back;
 * errors have the worker API's format (docs/api.md). */
#include "controller_api.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/controller_codec.h"
#include "api/json_out.h"
#include "http_util.h"

/* A request answered later; the client may hang up first (then the answer is
 * dropped instead of written to a freed request). */
struct pending {
    struct ilu_http_pending base; /* first: http_util allocates and frees the whole */
    char fqdn[160];
    struct ilu_controller *controller; /* /register of a GPU-only function: says where it went */
};

static int refuse_if_shutting_down(struct ilu_controller_api *api, struct ilu_error *err)
{
    if (api->shutting_down)
        return ilu_err(err, ILU_ST_UNAVAILABLE, "unavailable", "the controller is shutting down");
    return 0;
}

/* ---- handlers ------------------------------------------------------------ */

typedef void (*handler_fn)(struct ilu_controller_api *api, struct evhttp_request *req, json_t *body, const char *tid);

static void h_ping(struct ilu_controller_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    ilu_http_send_json(req, 200, json_pack("{s:s}", "message", "Pong"), tid);
}

static void h_config(struct ilu_controller_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    if (api->config)
        ilu_http_send_json(req, 200, json_incref(api->config), tid);
    else
        ilu_http_send_json(req, 404, json_pack("{s:b, s:s}", "success", 0, "error", "no config to show"), tid);
}

static void h_status(struct ilu_controller_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    ilu_http_send_json(req, 200, ilu_controller_status_json(api->controller), tid);
}

static void h_workers(struct ilu_controller_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    ilu_http_send_json(req, 200, json_pack("{s:o}", "workers", ilu_controller_workers_json(api->controller)), tid);
}

static void clean_answer(void *arg, unsigned workers, unsigned removed)
{
    struct pending *p = arg;
    if (!ilu_http_pending_take(&p->base))
        return;
    ilu_http_send_json(p->base.req, 200,
                       json_pack("{s:b, s:i, s:i}", "success", 1, "workers", (int)workers, "removed", (int)removed),
                       p->base.tid);
    free(p);
}

/* Every routable worker removes its idle containers. */
static void h_clean(struct ilu_controller_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct ilu_error err;
    struct pending *p = ilu_http_pending_new(sizeof *p, req, tid, &api->open_requests, api->log, &err);
    if (!p) {
        ilu_http_send_error(api->log, req, &err, tid);
        return;
    }
    ilu_controller_clean(api->controller, tid, clean_answer, p);
}

/* The cluster is healthy when it can run something: a routable worker. */
static void h_health(struct ilu_controller_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    unsigned n = ilu_controller_healthy_workers(api->controller);
    ilu_http_send_json(req, n ? 200 : 503,
                       json_pack("{s:s, s:i}", "status", n ? "HEALTHY" : "UNHEALTHY", "healthy_workers", (int)n), tid);
}

static void h_list(struct ilu_controller_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    ilu_http_send_json(req, 200, json_pack("{s:o}", "functions", ilu_controller_functions_json(api->controller)), tid);
}

static void metric_head(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values are worker names: escape what the exposition format requires. */
static void label_escaped(struct evbuffer *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            evbuffer_add_printf(out, "\\%c", *s);
        else if (*s == '\n')
            evbuffer_add(out, "\\n", 2);
        else
            evbuffer_add(out, s, 1);
    }
}

static void h_metrics(struct ilu_controller_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    static const struct {
        const char *key, *name, *type, *help;
    } ctl_series[] = {
        {"workers", "iluvatar_controller_workers", "gauge", "Registered workers."},
        {"healthy_workers", "iluvatar_controller_healthy_workers", "gauge", "Workers taking traffic."},
        {"functions", "iluvatar_controller_functions", "gauge", "Registered functions."},
        {"invocations", "iluvatar_controller_invocations_total", "counter", "Invocations routed to a worker."},
        {"errors", "iluvatar_controller_errors_total", "counter", "Routed invocations that did not answer 200."},
        {"no_worker", "iluvatar_controller_no_worker_total", "counter", "Invocations refused: no healthy worker."},
        {"worker_failures", "iluvatar_controller_worker_failures_total", "counter",
         "Routed calls whose worker failed (no answer, garbage)."},
        {"unsent_retries", "iluvatar_controller_unsent_retries_total", "counter",
         "Invocations sent to another worker because they never reached the first."},
        {"async_retries", "iluvatar_controller_async_retries_total", "counter",
         "Async invocations sent again after their worker failed."},
        {"async_lost", "iluvatar_controller_async_lost_total", "counter",
         "Async invocations finished failed after all retries."},
        {"outstanding", "iluvatar_controller_outstanding", "gauge", "Invocations routed and not answered yet."},
        {"async_held", "iluvatar_controller_async_held", "gauge", "Async invocations running or awaiting a check."},
    };
    static const struct {
        const char *key, *name, *type, *help;
    } worker_series[] = {
        {"routed", "iluvatar_controller_worker_routed_total", "counter", "Invocations routed to the worker."},
        {"in_flight", "iluvatar_controller_worker_in_flight", "gauge", "Invocations at the worker, unanswered."},
        {"failed_polls", "iluvatar_controller_worker_failed_polls", "gauge", "Consecutive failed status polls."},
        {"load", "iluvatar_controller_worker_load", "gauge", "Load used for balancing (invocations per CPU)."},
    };
    struct evbuffer *buf = evbuffer_new();
    json_t *status = ilu_controller_status_json(api->controller);
    for (size_t i = 0; i < sizeof ctl_series / sizeof ctl_series[0]; i++) {
        metric_head(buf, ctl_series[i].name, ctl_series[i].type, ctl_series[i].help);
        evbuffer_add_printf(buf, "%s %.17g\n", ctl_series[i].name,
                            json_number_value(json_object_get(status, ctl_series[i].key)));
    }
    json_decref(status);
    json_t *workers = ilu_controller_workers_json(api->controller);
    size_t i;
    json_t *w;
    metric_head(buf, "iluvatar_controller_worker_healthy", "gauge", "1 when the worker is HEALTHY, else 0.");
    json_array_foreach(workers, i, w)
    {
        evbuffer_add_printf(buf, "iluvatar_controller_worker_healthy{worker=\"");
        label_escaped(buf, json_string_value(json_object_get(w, "name")));
        const char *health = json_string_value(json_object_get(w, "health"));
        evbuffer_add_printf(buf, "\"} %d\n", health && !strcmp(health, "HEALTHY"));
    }
    for (size_t s = 0; s < sizeof worker_series / sizeof worker_series[0]; s++) {
        metric_head(buf, worker_series[s].name, worker_series[s].type, worker_series[s].help);
        json_array_foreach(workers, i, w)
        {
            evbuffer_add_printf(buf, "%s{worker=\"", worker_series[s].name);
            label_escaped(buf, json_string_value(json_object_get(w, "name")));
            evbuffer_add_printf(buf, "\"} %.17g\n", json_number_value(json_object_get(w, worker_series[s].key)));
        }
    }
    json_decref(workers);
    ilu_http_send_metrics(req, buf);
}

/* The status a worker's refusal carried ("HTTP 409: ..."), 502 when none. */
static int refusal_status(const char *first_error)
{
    int st = 0;
    if (!first_error || sscanf(first_error, "HTTP %d", &st) != 1 || st < 400 || st > 599)
        return ILU_ST_BAD_GATEWAY;
    return st;
}

static void register_done(void *arg, unsigned accepted, unsigned refused, const char *first_error,
                          const struct ilu_error *not_kept)
{
    struct pending *p = arg;
    if (!ilu_http_pending_take(&p->base))
        return;
    if (not_kept) { /* e.g. the store failed: its message says why */
        struct ilu_error err = *not_kept;
        ilu_err_wrap(&err, "%s: accepted by %u worker(s) but not kept by the controller", p->fqdn, accepted);
        ilu_http_send_error(p->base.log, p->base.req, &err, p->base.tid);
    } else if (refused) {
        struct ilu_error err = {0};
        int st = refusal_status(first_error);
        ilu_err(&err, st, ilu_status_kind(st), "%s: %u worker(s) refused the registration (%u accepted; %s): %s",
                p->fqdn, refused, accepted, accepted ? "kept: it runs on the workers that accepted it" : "not kept",
                first_error ? first_error : "no message");
        ilu_http_send_error(p->base.log, p->base.req, &err, p->base.tid);
    } else {
        json_t *out = json_pack("{s:b, s:s, s:i}", "success", 1, "fqdn", p->fqdn, "workers", (int)accepted);
        if (p->controller) { /* compute GPU: only workers with GPUs get it */
            unsigned gpu_workers = ilu_controller_gpu_workers(p->controller);
            json_object_set_new(out, "gpu_workers", json_integer(gpu_workers));
            if (!gpu_workers)
                json_object_set_new(out, "message",
                                    json_string("compute GPU and no worker has GPUs yet: kept, and registered on each "
                                                "worker that joins with GPUs; its invocations answer 503 until then"));
        }
        ilu_http_send_json(p->base.req, 200, out, p->base.tid);
    }
    free(p);
}

static void h_register(struct ilu_controller_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    struct ilu_register_req r;
    struct pending *p = NULL;
    /* the worker's codec; the rules are checked by the core, as a worker checks them */
    if (refuse_if_shutting_down(api, &err) || ilu_api_ctl_register_decode(body, &r, &err))
        goto fail;
    if (!(p = ilu_http_pending_new(sizeof *p, req, tid, &api->open_requests, api->log, &err)))
        goto fail;
    snprintf(p->fqdn, sizeof p->fqdn, "%s-%s", r.function_name, r.function_version);
    p->controller = r.compute == ILU_COMPUTE_GPU ? api->controller : NULL;
    if (ilu_controller_register_function(api->controller, body, true, tid, register_done, p, &err)) {
        ilu_http_pending_drop(&p->base);
        goto fail;
    }
    return;
fail:
    ilu_http_send_error(api->log, req, &err, tid);
}

/* The worker's answer text with "worker" and "controller_us" (and
 * "transaction_id" when the worker's had none) written before its closing
 * brace: what encoding answer would give (the core says when it would), but
 * without copying and re-encoding what the worker wrote. false: not
 * possible (then answer is encoded). */
static bool send_worker_text(struct evhttp_request *req, int status, json_t *answer, struct ilu_ctl_text text,
                             const char *tid)
{
    size_t n = text.len;
    while (n && (text.data[n - 1] == '\n' || text.data[n - 1] == '\r' || text.data[n - 1] == ' ' ||
                 text.data[n - 1] == '\t'))
        n--;
    if (!n || text.data[n - 1] != '}' || json_object_get(answer, "http_status"))
        return false;
    struct ilu_json_out tail = {.need_comma = true};
    ilu_json_out_member_string(&tail, "worker", json_string_value(json_object_get(answer, "worker")));
    ilu_json_out_member_int(&tail, "controller_us", json_integer_value(json_object_get(answer, "controller_us")));
    if (tid && !json_object_get(answer, "transaction_id"))
        ilu_json_out_member_string(&tail, "transaction_id", tid);
    ilu_json_out_raw(&tail, "}\n", 2);
    struct evbuffer *buf = tail.failed ? NULL : evbuffer_new();
    if (!buf || evbuffer_expand(buf, n - 1 + tail.len) || evbuffer_add(buf, text.data, n - 1) ||
        evbuffer_add(buf, tail.buf, tail.len)) {
        if (buf)
            evbuffer_free(buf);
        free(tail.buf);
        return false;
    }
    free(tail.buf);
    ilu_http_send_json_text(req, status, buf, tid);
    return true;
}

/* The worker's answer (with "worker" and "controller_us"), or the core's error. */
static void routed_done(void *arg, int status, json_t *answer, struct ilu_ctl_text worker_text)
{
    struct pending *p = arg;
    if (!ilu_http_pending_take(&p->base))
        return;
    if (worker_text.data && send_worker_text(p->base.req, status ? status : 500, answer, worker_text, p->base.tid)) {
        free(p);
        return;
    }
    json_t *out = json_deep_copy(answer);
    json_object_del(out, "http_status");
    ilu_http_send_json(p->base.req, status ? status : 500, out, p->base.tid);
    free(p);
}

typedef int (*route_fn)(struct ilu_controller *c, json_t *body, struct ilu_ctl_text body_text, const char *tid,
                        ilu_ctl_invoke_done_fn done, void *arg, struct ilu_error *err);

static void routed(struct ilu_controller_api *api, struct evhttp_request *req, json_t *body, const char *tid,
                   route_fn fn)
{
    struct ilu_error err = {0};
    struct pending *p = NULL;
    if (refuse_if_shutting_down(api, &err) || ilu_api_ctl_invoke_check(body, api->max_payload_bytes, &err))
        goto fail;
    if (!(p = ilu_http_pending_new(sizeof *p, req, tid, &api->open_requests, api->log, &err)))
        goto fail;
    /* the body as the client sent it goes on to the worker as it is
     * (http_util parsed it from one contiguous buffer, still there) */
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    struct ilu_ctl_text body_text = {(const char *)evbuffer_pullup(in, -1), evbuffer_get_length(in)};
    if (fn(api->controller, body, body_text, tid, routed_done, p, &err)) {
        ilu_http_pending_drop(&p->base);
        goto fail;
    }
    return;
fail:
    ilu_http_send_error(api->log, req, &err, tid);
}

static void h_invoke(struct ilu_controller_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    routed(api, req, body, tid, ilu_controller_invoke);
}

static void h_prewarm(struct ilu_controller_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    routed(api, req, body, tid, ilu_controller_prewarm);
}

static void h_invoke_async(struct ilu_controller_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    char *cookie = NULL;
    if (refuse_if_shutting_down(api, &err) || ilu_api_ctl_invoke_check(body, api->max_payload_bytes, &err) ||
        !(cookie = ilu_controller_invoke_async(api->controller, body, tid, &err))) {
        ilu_http_send_error(api->log, req, &err, tid);
        return;
    }
    ilu_http_send_json(req, 200, ilu_api_async_answer(cookie), tid);
    free(cookie);
}

static void h_invoke_async_check(struct ilu_controller_api *api, struct evhttp_request *req, json_t *body,
                                 const char *tid)
{
    struct ilu_error err = {0};
    struct ilu_api_async_check_req r;
    bool pending = false;
    int status = 200;
    json_t *result = NULL;
    if (ilu_api_async_check_decode(body, &r, &err) ||
        (!(result = ilu_controller_invoke_async_check(api->controller, r.lookup_cookie, &pending, &status, &err)) &&
         !pending)) {
        ilu_http_send_error(api->log, req, &err, tid);
        return;
    }
    if (pending) {
        ilu_http_send_json(req, 200, ilu_api_async_pending_answer(), tid);
        return;
    }
    json_t *out = json_deep_copy(result);
    json_decref(result);
    json_object_del(out, "http_status");
    char result_tid[64];
    const char *rt = json_string_value(json_object_get(out, "transaction_id"));
    snprintf(result_tid, sizeof result_tid, "%s", rt ? rt : tid);
    ilu_http_send_json(req, status ? status : 200, out, result_tid);
}

static void h_register_worker(struct ilu_controller_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    struct ilu_ctl_worker_info info = {0};
    if (refuse_if_shutting_down(api, &err) || ilu_api_ctl_worker_decode(body, &info, &err) ||
        ilu_controller_register_worker(api->controller, &info, true, tid, &err)) {
        ilu_http_send_error(api->log, req, &err, tid);
        return;
    }
    ilu_http_send_json(
        req, 200, json_pack("{s:b, s:s, s:s}", "success", 1, "name", info.name, "message", "worker registered"), tid);
}

/* Who may call a path (docs/security.md): anyone, workers (the worker
 * token), or clients (the client token). */
enum caller { ANYONE, WORKERS, CLIENTS };

struct route {
    struct ilu_http_match match;
    handler_fn fn;
    enum caller caller;
};

static const struct route routes[] = {
    {{"/ping", EVHTTP_REQ_GET, 0}, h_ping, ANYONE},
    {{"/status", EVHTTP_REQ_GET, 0}, h_status, CLIENTS},
    {{"/workers", EVHTTP_REQ_GET, 0}, h_workers, CLIENTS},
    {{"/list", EVHTTP_REQ_GET, 0}, h_list, CLIENTS},
    {{"/config", EVHTTP_REQ_GET, 0}, h_config, CLIENTS},
    {{"/health", EVHTTP_REQ_GET, 0}, h_health, CLIENTS},
    {{"/clean", EVHTTP_REQ_POST, 0}, h_clean, CLIENTS},
    {{"/metrics", EVHTTP_REQ_GET, 0}, h_metrics, CLIENTS},
    {{"/register", EVHTTP_REQ_POST, 1}, h_register, CLIENTS},
    {{"/invoke", EVHTTP_REQ_POST, 1}, h_invoke, CLIENTS},
    {{"/invoke_async", EVHTTP_REQ_POST, 1}, h_invoke_async, CLIENTS},
    {{"/invoke_async_check", EVHTTP_REQ_POST, 1}, h_invoke_async_check, CLIENTS},
    {{"/prewarm", EVHTTP_REQ_POST, 1}, h_prewarm, CLIENTS},
    {{"/register_worker", EVHTTP_REQ_POST, 1}, h_register_worker, WORKERS},
};

/* Equal strings, in a time that depends on the lengths only (not on where
 * they first differ), so the token cannot be guessed byte by byte. */
static bool token_equal(const char *given, size_t given_len, const char *want)
{
    size_t want_len = strlen(want);
    volatile unsigned char diff = given_len != want_len;
    for (size_t i = 0; i < want_len; i++)
        diff |= (unsigned char)(want[i] ^ (i < given_len ? given[i] : 0));
    return diff == 0;
}

/* 0 when the caller may call route r; else 401 in err. */
static int check_caller(struct ilu_controller_api *api, struct evhttp_request *req, enum caller caller,
                        struct ilu_error *err)
{
    const char *want = caller == WORKERS ? api->worker_token : caller == CLIENTS ? api->client_token : NULL;
    if (!want || !*want)
        return 0;
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    static const char bearer[] = "Bearer ";
    if (!h || strncasecmp(h, bearer, sizeof bearer - 1))
        return ilu_err(err, 401, "unauthorized", "%s needs an Authorization: Bearer header with the %s token",
                       evhttp_request_get_uri(req), caller == WORKERS ? "worker" : "client");
    h += sizeof bearer - 1;
    if (!token_equal(h, strlen(h), want))
        return ilu_err(err, 401, "unauthorized", "wrong %s token for %s", caller == WORKERS ? "worker" : "client",
                       evhttp_request_get_uri(req));
    return 0;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct ilu_controller_api *api = arg;
    json_t *body = NULL;
    char tid[64];
    long i = ilu_http_match_route(&api->server, req, routes, sizeof routes / sizeof routes[0], sizeof routes[0],
                                  api->log, api->tid_seed, &api->tid_seq, &body, tid, sizeof tid);
    if (i < 0)
        return;
    struct ilu_error err = {0};
    if (check_caller(api, req, routes[i].caller, &err)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
        ilu_http_send_error(api->log, req, &err, tid);
    } else {
        routes[i].fn(api, req, body, tid);
    }
    json_decref(body);
}

int ilu_controller_api_start(struct ilu_controller_api *api, struct event_base *base, const char *address,
                             uint16_t port, struct ilu_error *err)
{
    /* json_args is checked against max_payload_bytes with a JSON 413; evhttp's
     * own cut-off only stops absurd uploads */
    return ilu_http_server_start(&api->server, base, address, port, false, &api->http_limits,
                                 (size_t)api->max_payload_bytes * 4 + 65536, api->log, on_request, api, err);
}

void ilu_controller_api_stop_accepting(struct ilu_controller_api *api)
{
    api->shutting_down = true;
    ilu_http_server_stop_accepting(&api->server);
}

void ilu_controller_api_stop(struct ilu_controller_api *api)
{
    ilu_http_server_free(&api->server);
}
