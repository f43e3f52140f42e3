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

#include "metrics.h"

/* A request answered later. The client may hang up first: the connection's
 * close callback marks it so the answer is dropped instead of written to a
 * freed request. */
struct pending {
    struct ilu_http_api *api;
    struct evhttp_request *req;
    struct evhttp_connection *conn;
    int cancelled;
    int is_health;
    char tid[64];
};

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Internal Server Error";
    }
}

/* Sends obj (reference stolen) as the answer. */
static void send_json(struct evhttp_request *req, int status, json_t *obj, const char *tid_in)
{
    /* tid_in may point into obj (an async result's own transaction_id): copy
     * it before obj is changed or freed */
    char tid_buf[64];
    const char *tid = NULL;
    if (tid_in) {
        snprintf(tid_buf, sizeof tid_buf, "%s", tid_in);
        tid = tid_buf;
    }
    if (tid && obj && !json_object_get(obj, "transaction_id"))
        json_object_set_new(obj, "transaction_id", json_string(tid));
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    struct evbuffer *buf = evbuffer_new();
    if (text) {
        evbuffer_add(buf, text, strlen(text));
        evbuffer_add(buf, "\n", 1);
    } else {
        evbuffer_add_printf(buf, "{\"success\":false,\"error\":\"could not encode the answer\"}\n");
        status = 500;
    }
    free(text);
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    evhttp_add_header(headers, "Content-Type", "application/json");
    if (tid)
        evhttp_add_header(headers, "X-Transaction-Id", tid);
    evhttp_send_reply(req, status, reason_phrase(status), buf);
    evbuffer_free(buf);
}

static void send_error(struct ilu_http_api *api, struct evhttp_request *req, const struct ilu_error *err,
                       const char *tid)
{
    int status = err->status ? err->status : 500;
    json_t *obj = json_pack("{s:b, s:s, s:s}", "success", 0, "error", err->msg, "error_kind",
                            err->kind[0] ? err->kind : ilu_status_kind(status));
    ilu_log_emit(api->log, status >= 500 ? ILU_LOG_ERROR : ILU_LOG_WARN, tid,
                 json_pack("{s:i, s:s}", "status", status, "uri", evhttp_request_get_uri(req)), "request failed: %s",
                 err->msg);
    send_json(req, status, obj, tid);
}

static void on_conn_close(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    struct pending *p = arg;
    p->cancelled = 1;
}

static struct pending *pending_new(struct ilu_http_api *api, struct evhttp_request *req, const char *tid)
{
    struct pending *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->api = api;
    p->req = req;
    p->conn = evhttp_request_get_connection(req);
    snprintf(p->tid, sizeof p->tid, "%s", tid);
    if (p->conn)
        evhttp_connection_set_closecb(p->conn, on_conn_close, p);
    api->open_requests++;
    return p;
}

/* Returns 1 when the client is still there to answer; frees p otherwise. */
static int pending_take(struct pending *p)
{
    p->api->open_requests--;
    if (p->cancelled) {
        ilu_log_emit(p->api->log, ILU_LOG_WARN, p->tid, NULL, "client closed the connection before the answer");
        free(p);
        return 0;
    }
    if (p->conn)
        evhttp_connection_set_closecb(p->conn, NULL, NULL);
    return 1;
}

/* ---- request parsing ----------------------------------------------------- */

static void make_tid(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, char *tid, size_t n)
{
    const char *given = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Transaction-Id");
    if (!given && body)
        given = json_string_value(json_object_get(body, "transaction_id"));
    if (given && *given) {
        snprintf(tid, n, "%.63s", given);
        return;
    }
    snprintf(tid, n, "%016" PRIx64 "%016" PRIx64, api->tid_seed, ++api->tid_seq);
}

/* Parse the body as a JSON object; NULL with a 400 in err otherwise. */
static json_t *read_body(struct evhttp_request *req, struct ilu_error *err)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len == 0) {
        ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "the request needs a JSON object body");
        return NULL;
    }
    const char *data = (const char *)evbuffer_pullup(in, (ssize_t)len);
    json_error_t jerr;
    json_t *body = json_loadb(data, len, 0, &jerr);
    if (!body) {
        ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
                jerr.text);
        return NULL;
    }
    if (!json_is_object(body)) {
        json_decref(body);
        ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "the body must be a JSON object");
        return NULL;
    }
    return body;
}

static int get_string(json_t *body, const char *key, const char **out, struct ilu_error *err)
{
    json_t *v = json_object_get(body, key);
    if (!json_is_string(v) || !*json_string_value(v))
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "field %s is required and must be a non-empty string", key);
    *out = json_string_value(v);
    return 0;
}

/* Numbers may come as JSON numbers or numeric strings (CLI-friendly). */
static int get_u32(json_t *body, const char *key, uint32_t def, uint32_t *out, struct ilu_error *err)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v)) {
        if (def == UINT32_MAX)
            return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "field %s is required", key);
        *out = def;
        return 0;
    }
    long long x = -1;
    if (json_is_integer(v))
        x = json_integer_value(v);
    else if (json_is_string(v)) {
        char *end;
        x = strtoll(json_string_value(v), &end, 10);
        if (*end || end == json_string_value(v))
            x = -1;
    }
    if (x < 0 || x > UINT32_MAX)
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "field %s must be a non-negative integer", key);
    *out = (uint32_t)x;
    return 0;
}

/* json_args: a string holding a JSON object (Ilúvatar) or an object. Returns
 * compact JSON text the caller frees. */
static char *get_args(json_t *body, struct ilu_error *err)
{
    json_t *v = json_object_get(body, "json_args");
    if (!v || json_is_null(v))
        return strdup("{}");
    if (json_is_object(v))
        return json_dumps(v, JSON_COMPACT);
    if (!json_is_string(v)) {
        ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "json_args must be a JSON object or a string holding one");
        return NULL;
    }
    json_error_t jerr;
    json_t *parsed = json_loadb(json_string_value(v), json_string_length(v), 0, &jerr);
    if (!parsed || !json_is_object(parsed)) {
        json_decref(parsed);
        ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "json_args is not a JSON object%s%s", parsed ? "" : ": ",
                parsed ? "" : jerr.text);
        return NULL;
    }
    json_decref(parsed);
    return strdup(json_string_value(v));
}

/* ---- handlers ------------------------------------------------------------ */

typedef void (*handler_fn)(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid);

static void h_ping(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    send_json(req, 200, json_pack("{s:s}", "message", "Pong"), tid);
}

static void h_register(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    struct ilu_register_req r = {0};
    if (get_string(body, "function_name", &r.function_name, &err) ||
        get_string(body, "function_version", &r.function_version, &err) ||
        get_string(body, "image_name", &r.image_name, &err) || get_u32(body, "memory", UINT32_MAX, &r.memory_mb, &err) ||
        get_u32(body, "cpus", 1, &r.cpus, &err) || get_u32(body, "parallel_invokes", 1, &r.parallel_invokes, &err) ||
        ilu_worker_register(api->worker, &r, tid, &err)) {
        send_error(api, req, &err, tid);
        return;
    }
    char fqdn[160];
    snprintf(fqdn, sizeof fqdn, "%s-%s", r.function_name, r.function_version);
    send_json(req, 200, json_pack("{s:b, s:s}", "success", 1, "fqdn", fqdn), tid);
}

static void invoke_answer(void *arg, struct ilu_invocation *inv)
{
    struct pending *p = arg;
    if (!pending_take(p))
        return;
    if (p->is_health) {
        /* healthy iff the bundled hello really ran in a container and greeted us */
        int ok = inv->success && inv->json_result && strstr(inv->json_result, "Hello BADCAFE from python!");
        json_t *obj = json_pack("{s:s}", "status", ok ? "HEALTHY" : "UNHEALTHY");
        if (!ok)
            json_object_set_new(obj, "error", json_string(inv->success ? "unexpected greeting" : inv->err.msg));
        json_object_set_new(obj, "container_state", json_string(ilu_start_kind_name(inv->start_kind)));
        send_json(p->req, ok ? 200 : 503, obj, p->tid);
    } else {
        send_json(p->req, ilu_invocation_http_status(inv), ilu_invocation_result_json(inv), p->tid);
    }
    free(p);
}

static void h_invoke(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    const char *name, *version;
    char *args = NULL;
    struct pending *p = NULL;
    if (get_string(body, "function_name", &name, &err) || get_string(body, "function_version", &version, &err) ||
        !(args = get_args(body, &err)))
        goto fail;
    if (!(p = pending_new(api, req, tid))) {
        ilu_err(&err, ILU_ST_INTERNAL, NULL, "out of memory");
        goto fail;
    }
    if (ilu_worker_invoke(api->worker, name, version, args, strlen(args), tid, invoke_answer, p, &err)) {
        pending_take(p);
        free(p);
        goto fail;
    }
    free(args);
    return;
fail:
    free(args);
    send_error(api, req, &err, tid);
}

static void h_invoke_async(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    const char *name, *version;
    char *args = NULL, *cookie = NULL;
    if (get_string(body, "function_name", &name, &err) || get_string(body, "function_version", &version, &err) ||
        !(args = get_args(body, &err)) ||
        !(cookie = ilu_worker_invoke_async(api->worker, name, version, args, strlen(args), tid, &err))) {
        free(args);
        send_error(api, req, &err, tid);
        return;
    }
    send_json(req, 200, json_pack("{s:b, s:s}", "success", 1, "lookup_cookie", cookie), tid);
    free(args);
    free(cookie);
}

static void h_invoke_async_check(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    const char *cookie;
    bool pending = false;
    json_t *result = NULL;
    if (get_string(body, "lookup_cookie", &cookie, &err) ||
        (!(result = ilu_worker_invoke_async_check(api->worker, cookie, &pending, &err)) && !pending)) {
        send_error(api, req, &err, tid);
        return;
    }
    if (pending) {
        send_json(req, 200, json_pack("{s:b, s:s}", "success", 0, "status", "Invocation not completed"), tid);
        return;
    }
    int status = (int)json_integer_value(json_object_get(result, "http_status"));
    json_object_del(result, "http_status");
    send_json(req, status ? status : 200, result, json_string_value(json_object_get(result, "transaction_id")));
}

static void prewarm_answer(void *arg, const char *tid, const struct ilu_error *err)
{
    struct pending *p = arg;
    if (!pending_take(p))
        return;
    if (err)
        send_error(p->api, p->req, err, p->tid);
    else
        send_json(p->req, 200, json_pack("{s:b, s:s}", "success", 1, "message", "prewarmed"), p->tid);
    free(p);
}

static void h_prewarm(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    const char *name, *version;
    struct pending *p = NULL;
    if (get_string(body, "function_name", &name, &err) || get_string(body, "function_version", &version, &err))
        goto fail;
    if (!(p = pending_new(api, req, tid))) {
        ilu_err(&err, ILU_ST_INTERNAL, NULL, "out of memory");
        goto fail;
    }
    if (ilu_worker_prewarm(api->worker, name, version, tid, prewarm_answer, p, &err)) {
        pending_take(p);
        free(p);
        goto fail;
    }
    return;
fail:
    send_error(api, req, &err, tid);
}

static void h_health(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct ilu_error err = {0};
    struct pending *p = pending_new(api, req, tid);
    static const char args[] = "{\"name\":\"BADCAFE\"}";
    if (!p) {
        ilu_err(&err, ILU_ST_INTERNAL, NULL, "out of memory");
    } else {
        p->is_health = 1;
        if (!ilu_worker_invoke(api->worker, ILU_HEALTH_FUNCTION, ILU_HEALTH_VERSION, args, sizeof args - 1, tid,
                               invoke_answer, p, &err))
            return;
        pending_take(p);
        free(p);
    }
    send_json(req, 503, json_pack("{s:s, s:s}", "status", "UNHEALTHY", "error", err.msg), tid);
}

static void h_status(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    json_t *s = ilu_worker_status_json(api->worker);
    ilu_host_stats_json(api->host, s);
    json_object_set_new(s, "worker_name", json_string(api->worker_name));
    json_object_set_new(s, "runtime", json_string(api->runtime_name ? api->runtime_name : ""));
    send_json(req, 200, s, tid);
}

static void h_list(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    send_json(req, 200, json_pack("{s:o}", "functions", ilu_worker_list_json(api->worker)), tid);
}

static void h_clean(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    unsigned n = ilu_worker_clean(api->worker, tid);
    send_json(req, 200, json_pack("{s:b, s:i}", "success", 1, "removed", (int)n), tid);
}

static void h_metrics(struct ilu_http_api *api, struct evhttp_request *req, json_t *body, const char *tid)
{
    struct evbuffer *buf = evbuffer_new();
    ilu_metrics_write(buf, api->worker, api->host);
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    evhttp_add_header(headers, "Content-Type", "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", buf);
    evbuffer_free(buf);
}

struct route {
    const char *path;
    enum evhttp_cmd_type method;
    int needs_body;
    handler_fn fn;
};

static const struct route routes[] = {
    {"/ping", EVHTTP_REQ_GET, 0, h_ping},
    {"/health", EVHTTP_REQ_GET, 0, h_health},
    {"/status", EVHTTP_REQ_GET, 0, h_status},
    {"/list", EVHTTP_REQ_GET, 0, h_list},
    {"/metrics", EVHTTP_REQ_GET, 0, h_metrics},
    {"/register", EVHTTP_REQ_POST, 1, h_register},
    {"/invoke", EVHTTP_REQ_POST, 1, h_invoke},
    {"/invoke_async", EVHTTP_REQ_POST, 1, h_invoke_async},
    {"/invoke_async_check", EVHTTP_REQ_POST, 1, h_invoke_async_check},
    {"/prewarm", EVHTTP_REQ_POST, 1, h_prewarm},
    {"/clean", EVHTTP_REQ_POST, 0, h_clean},
};

static void on_request(struct evhttp_request *req, void *arg)
{
    struct ilu_http_api *api = arg;
    const char *uri = evhttp_request_get_uri(req);
    size_t path_len = strcspn(uri, "?");
    const struct route *route = NULL;
    int path_known = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strlen(routes[i].path) == path_len && strncmp(routes[i].path, uri, path_len) == 0) {
            path_known = 1;
            if (routes[i].method == evhttp_request_get_command(req))
                route = &routes[i];
        }
    }
    struct ilu_error err = {0};
    json_t *body = NULL;
    char tid[64];
    if (route && route->needs_body)
        body = read_body(req, &err);
    make_tid(api, req, body, tid, sizeof tid);
    if (!route) {
        if (path_known)
            ilu_err(&err, 405, "bad_method", "method not allowed for %.*s", (int)path_len, uri);
        else
            ilu_err(&err, ILU_ST_NOT_FOUND, NULL, "no such endpoint: %.*s", (int)path_len, uri);
        send_error(api, req, &err, tid);
        return;
    }
    if (route->needs_body && !body) {
        send_error(api, req, &err, tid);
        return;
    }
    route->fn(api, req, body, tid);
    json_decref(body);
}

int ilu_http_api_start(struct ilu_http_api *api, struct event_base *base, const char *address, uint16_t port,
                       struct ilu_error *err)
{
    api->http = evhttp_new(base);
    if (!api->http)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot create the HTTP server");
    /* bodies are checked against limits.max_payload_bytes by the core with a
     * JSON error; evhttp's own cut-off only stops absurd uploads */
    evhttp_set_max_body_size(api->http, (ev_ssize_t)api->max_payload_bytes * 4 + 65536);
    evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(api->http, on_request, api);
    if (evhttp_bind_socket(api->http, address, port) != 0) {
        evhttp_free(api->http);
        api->http = NULL;
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot listen on %s:%u (address in use or not local?)", address,
                       port);
    }
    return 0;
}

void ilu_http_api_stop(struct ilu_http_api *api)
{
    if (api->http)
        evhttp_free(api->http);
    api->http = NULL;
}
