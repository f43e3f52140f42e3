/* HTTP helpers shared by the worker's and the controller's APIs (evhttp):
 * JSON answers and errors in one format (docs/api.md), transaction ids,
 * request bodies and fields, and requests answered later whose client may
 * hang up first. */
#ifndef ILU_HTTP_UTIL_H
#define ILU_HTTP_UTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/log.h"

struct evhttp_request;
struct evhttp_connection;

/* Send obj (reference stolen) as the JSON answer; tid is echoed in the body
 * (unless obj has one) and in the X-Transaction-Id header. */
void ilu_http_send_json(struct evhttp_request *req, int status, json_t *obj, const char *tid);
/* The error format of docs/api.md, logged with the tid. */
void ilu_http_send_error(const struct ilu_log *log, struct evhttp_request *req, const struct ilu_error *err,
                         const char *tid);

/* The request's transaction id: header X-Transaction-Id, else the body's
 * transaction_id, else a new one from seed and *seq. */
void ilu_http_make_tid(struct evhttp_request *req, json_t *body, uint64_t seed, uint64_t *seq, char *tid, size_t n);
/* The body as a JSON object; NULL with a 400 in err otherwise. */
json_t *ilu_http_read_body(struct evhttp_request *req, struct ilu_error *err);
/* A required non-empty string field (borrowed from body). */
int ilu_http_get_string(json_t *body, const char *key, const char **out, struct ilu_error *err);
/* A non-negative integer field, as a JSON number or a numeric string (which
 * is replaced by the number in body); def UINT32_MAX makes it required. */
int ilu_http_get_u32(json_t *body, const char *key, uint32_t def, uint32_t *out, struct ilu_error *err);

/* Routing: an API's route table is an array of structs that each start
 * with a struct ilu_http_match (then the API's own handler). */
struct ilu_http_match {
    const char *path;
    int method;       /* enum evhttp_cmd_type */
    int needs_body;   /* POST with a JSON object body */
};

/* The index of the route matching req's path and method; its body (parsed
 * when needs_body, else NULL; caller decrefs) and transaction id. On -1 the
 * error (404 unknown path, 405 wrong method, 400 bad body) is answered. */
long ilu_http_match_route(struct evhttp_request *req, const void *routes, size_t n_routes, size_t route_size,
                          const struct ilu_log *log, uint64_t tid_seed, uint64_t *tid_seq, json_t **body, char *tid,
                          size_t tid_len);

/* A request answered later, embedded first in the caller's own struct. The
 * connection's close callback marks it cancelled so the answer is dropped
 * instead of written to a request evhttp has freed. */
struct ilu_http_pending {
    struct evhttp_request *req;
    struct evhttp_connection *conn;
    int cancelled;
    char tid[64];
    unsigned *open_requests; /* the API's counter, borrowed */
    const struct ilu_log *log;
};

void ilu_http_pending_init(struct ilu_http_pending *p, struct evhttp_request *req, const char *tid,
                           unsigned *open_requests, const struct ilu_log *log);
/* 1 when the client is still there to answer; 0 when it hung up (logged).
 * Either way the pending is finished; the caller frees its struct. */
int ilu_http_pending_take(struct ilu_http_pending *p);

#endif
