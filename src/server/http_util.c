#include "http_util.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
void ilu_http_send_json(struct evhttp_request *req, int status, json_t *obj, const char *tid_in)
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

void ilu_http_send_error(const struct ilu_log *log, struct evhttp_request *req, const struct ilu_error *err,
                         const char *tid)
{
    int status = err->status ? err->status : 500;
    json_t *obj = json_pack("{s:b, s:s, s:s}", "success", 0, "error", err->msg, "error_kind",
                            err->kind[0] ? err->kind : ilu_status_kind(status));
    ilu_log_emit(log, status >= 500 ? ILU_LOG_ERROR : ILU_LOG_WARN, tid,
                 json_pack("{s:i, s:s}", "status", status, "uri", evhttp_request_get_uri(req)), "request failed: %s",
                 err->msg);
    ilu_http_send_json(req, status, obj, tid);
}

void ilu_http_make_tid(struct evhttp_request *req, json_t *body, uint64_t seed, uint64_t *seq, char *tid, size_t n)
{
    const char *given = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Transaction-Id");
    if (!given && body)
        given = json_string_value(json_object_get(body, "transaction_id"));
    if (given && *given) {
        snprintf(tid, n, "%.63s", given);
        return;
    }
    snprintf(tid, n, "%016" PRIx64 "%016" PRIx64, seed, ++*seq);
}

/* Parse the body as a JSON object; NULL with a 400 in err otherwise. */
json_t *ilu_http_read_body(struct evhttp_request *req, struct ilu_error *err)
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

int ilu_http_get_string(json_t *body, const char *key, const char **out, struct ilu_error *err)
{
    json_t *v = json_object_get(body, key);
    if (!json_is_string(v) || !*json_string_value(v))
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "field %s is required and must be a non-empty string", key);
    *out = json_string_value(v);
    return 0;
}

/* Numbers may come as JSON numbers or numeric strings (CLI-friendly), as on
 * the worker; a numeric string is replaced by the number in body so the
 * core and the workers see one form. def UINT32_MAX: required. */
int ilu_http_get_u32(json_t *body, const char *key, uint32_t def, uint32_t *out, struct ilu_error *err)
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
    if (json_is_string(v))
        json_object_set_new(body, key, json_integer(x));
    return 0;
}

static void on_conn_close(struct evhttp_connection *conn, void *arg)
{
    struct ilu_http_pending *p = arg;
    p->cancelled = 1;
}

void ilu_http_pending_init(struct ilu_http_pending *p, struct evhttp_request *req, const char *tid,
                           unsigned *open_requests, const struct ilu_log *log)
{
    p->req = req;
    p->conn = evhttp_request_get_connection(req);
    p->cancelled = 0;
    snprintf(p->tid, sizeof p->tid, "%s", tid);
    p->open_requests = open_requests;
    p->log = log;
    if (p->conn)
        evhttp_connection_set_closecb(p->conn, on_conn_close, p);
    (*open_requests)++;
}

int ilu_http_pending_take(struct ilu_http_pending *p)
{
    (*p->open_requests)--;
    if (p->cancelled) {
        ilu_log_emit(p->log, ILU_LOG_WARN, p->tid, NULL, "client closed the connection before the answer");
        return 0;
    }
    if (p->conn)
        evhttp_connection_set_closecb(p->conn, NULL, NULL);
    return 1;
}

long ilu_http_match_route(struct evhttp_request *req, const void *routes, size_t n_routes, size_t route_size,
                          const struct ilu_log *log, uint64_t tid_seed, uint64_t *tid_seq, json_t **body, char *tid,
                          size_t tid_len)
{
    const char *uri = evhttp_request_get_uri(req);
    size_t path_len = strcspn(uri, "?");
    long found = -1;
    int path_known = 0;
    for (size_t i = 0; i < n_routes; i++) {
        const struct ilu_http_match *m = (const void *)((const char *)routes + i * route_size);
        if (strlen(m->path) == path_len && strncmp(m->path, uri, path_len) == 0) {
            path_known = 1;
            if (m->method == (int)evhttp_request_get_command(req))
                found = (long)i;
        }
    }
    struct ilu_error err = {0};
    const struct ilu_http_match *m = found >= 0 ? (const void *)((const char *)routes + (size_t)found * route_size) : NULL;
    *body = m && m->needs_body ? ilu_http_read_body(req, &err) : NULL;
    ilu_http_make_tid(req, *body, tid_seed, tid_seq, tid, tid_len);
    if (!m) {
        if (path_known)
            ilu_err(&err, 405, "bad_method", "method not allowed for %.*s", (int)path_len, uri);
        else
            ilu_err(&err, ILU_ST_NOT_FOUND, NULL, "no such endpoint: %.*s", (int)path_len, uri);
    }
    if (!m || (m->needs_body && !*body)) {
        ilu_http_send_error(log, req, &err, tid);
        return -1;
    }
    return found;
}
