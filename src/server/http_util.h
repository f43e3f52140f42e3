/* HTTP helpers shared by the worker's and the controller's APIs (evhttp):
 * JSON answers and errors in one format (docs/api.md), transaction ids,
 * request bodies and fields, and requests answered later whose client may
 * hang up first. */
#ifndef ILU_HTTP_UTIL_H
#define ILU_HTTP_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/http_limits.h"
#include "core/log.h"

struct evhttp_request;
struct evhttp_connection;
struct evhttp;
struct evhttp_bound_socket;
struct evconnlistener;
struct event;
struct event_base;
struct evbuffer;
struct timeval;

/* One API's HTTP server: evhttp behind the limits of struct ilu_http_limits
 * (docs/api.md, "Limits"). Connections are counted; at max_connections the
 * listener pauses (new clients wait in the kernel's backlog) and resumes
 * when one closes; when accept() runs out of descriptors it backs off for
 * 100 ms instead of spinning; idle connections and requests that do not
 * arrive whole in time are closed. */
struct ilu_http_server {
    struct evhttp *http;
    struct ilu_http_limits limits;
    const struct ilu_log *log; /* borrowed */
    unsigned connections;      /* open now */
    unsigned long long accepted, fd_backoffs, cap_pauses;
    /* private */
    struct event_base *base;
    struct evhttp_bound_socket *bound;
    struct evconnlistener *listener; /* owned by evhttp through bound */
    struct event *post_accept, *backoff;
    struct ilu_http_conn *fresh;      /* accepted, close callback not yet set */
    const struct timeval *request_tv; /* common timeout of request_timeout_ms */
    int paused_full, paused_fds;
    struct ilu_http_server *next_server;
    uint64_t tid_seed, tid_seq;                  /* ids of errors answered before routing */
    void (*cb)(struct evhttp_request *, void *); /* the API's handler, and its argument */
    void *cb_arg;
};

/* Listen on address:port and hand every request to cb(req, arg). max_body
 * is evhttp's own cut-off for bodies. reuse_port: bind with SO_REUSEPORT,
 * so that servers of other event loops can listen on the same port. */
int ilu_http_server_start(struct ilu_http_server *s, struct event_base *base, const char *address, uint16_t port,
                          bool reuse_port, const struct ilu_http_limits *limits, size_t max_body,
                          const struct ilu_log *log, void (*cb)(struct evhttp_request *, void *), void *arg,
                          struct ilu_error *err);
/* The port the server listens on (the kernel's pick for port 0); 0 when
 * it does not listen. */
uint16_t ilu_http_server_port(const struct ilu_http_server *s);
/* Close the listening socket; open connections are still served. */
void ilu_http_server_stop_accepting(struct ilu_http_server *s);
/* Close everything (connections included). */
void ilu_http_server_free(struct ilu_http_server *s);

/* Raise the soft RLIMIT_NOFILE to the hard one (each connection holds a
 * descriptor); returns the soft limit now in force. */
unsigned long ilu_http_raise_fd_limit(void);

/* Send obj (reference stolen) as the JSON answer; tid is echoed in the body
 * (unless obj has one) and in the X-Transaction-Id header. */
void ilu_http_send_json(struct evhttp_request *req, int status, json_t *obj, const char *tid);
/* The error format of docs/api.md, logged with the tid. */
void ilu_http_send_error(const struct ilu_log *log, struct evhttp_request *req, const struct ilu_error *err,
                         const char *tid);
/* The log line of a failed request (warn, error from 500 on). */
void ilu_http_log_failure(const struct ilu_log *log, const struct ilu_error *err, const char *uri, const char *tid);
/* req's uri with every byte outside printable ASCII as '?', cut to len. */
void ilu_http_printable_uri(struct evhttp_request *req, char *buf, size_t len);

/* The request's transaction id: header X-Transaction-Id, else the body's
 * transaction_id, else a new one from seed and *seq. A given id must pass
 * ilu_tid_check (and a body's be a string): else -1 with a 400 in err and a
 * new id in tid, for the error answer. */
int ilu_http_make_tid(struct evhttp_request *req, json_t *body, uint64_t seed, uint64_t *seq, char *tid, size_t n,
                      struct ilu_error *err);
/* The body as a JSON object; NULL with a 400 in err otherwise. */
json_t *ilu_http_read_body(struct evhttp_request *req, struct ilu_error *err);
/* A required non-empty string field without NUL bytes (borrowed from body). */
int ilu_http_get_string(json_t *body, const char *key, const char **out, struct ilu_error *err);
/* A non-negative integer field: a JSON integer, nothing else (not a numeric
 * string, not 128.0); def UINT32_MAX makes it required. */
int ilu_http_get_u32(json_t *body, const char *key, uint32_t def, uint32_t *out, struct ilu_error *err);

/* Routing: an API's route table is an array of structs that each start
 * with a struct ilu_http_match (then the API's own handler). */
struct ilu_http_match {
    const char *path;
    int method;     /* enum evhttp_cmd_type */
    int needs_body; /* POST with a JSON object body */
};

/* The index of the route matching req's path and method; its body (parsed
 * when needs_body, else NULL; caller decrefs) and transaction id. On -1 the
 * error is answered: 400 ambiguous framing (two Content-Length, or one with
 * Transfer-Encoding) or bad transaction id or body, 431 too many headers,
 * 404 unknown or undecodable path, 405 wrong or unknown method; framing and
 * method errors close the connection. srv gives the limits. */
long ilu_http_match_route(struct ilu_http_server *srv, struct evhttp_request *req, const void *routes, size_t n_routes,
                          size_t route_size, const struct ilu_log *log, uint64_t tid_seed, uint64_t *tid_seq,
                          json_t **body, char *tid, size_t tid_len);

/* A request answered later, embedded first in the caller's own struct. The
 * connection's close callback marks it cancelled so the answer is dropped
 * instead of written to a request evhttp has freed. */
struct ilu_http_conn;
struct ilu_http_pending {
    struct evhttp_request *req;
    struct evhttp_connection *conn;
    struct ilu_http_conn *cconn; /* the server's record of conn; NULL: conn's close callback is used */
    int cancelled;
    char tid[64];
    unsigned *open_requests; /* the API's counter, borrowed */
    const struct ilu_log *log;
};

/* A zeroed struct of size bytes that starts with a struct ilu_http_pending,
 * tracking req: counted in open_requests until taken or dropped; if the
 * connection closes first, the answer is dropped and logged. NULL with a
 * 500 "out of memory" in err. */
void *ilu_http_pending_new(size_t size, struct evhttp_request *req, const char *tid, unsigned *open_requests,
                           const struct ilu_log *log, struct ilu_error *err);
/* 1 when the client is still there to answer (the caller answers, then
 * frees p); 0 when it hung up (logged, p freed). */
int ilu_http_pending_take(struct ilu_http_pending *p);
/* Finish and free p unanswered: the call meant to answer it later failed at
 * once, and the caller answers the request itself. */
void ilu_http_pending_drop(struct ilu_http_pending *p);

/* Prometheus' text exposition format. */
#define ILU_HTTP_METRICS_TYPE "text/plain; version=0.0.4"
/* Send buf (freed) as a 200 in Prometheus' text exposition format. */
void ilu_http_send_metrics(struct evhttp_request *req, struct evbuffer *buf);
/* Send buf (freed) with this status and Content-Type. */
void ilu_http_send_text(struct evhttp_request *req, int status, const char *content_type, struct evbuffer *buf);
/* Send buf (freed), JSON text written by the caller, as ilu_http_send_json
 * sends a tree: same headers (X-Transaction-Id: tid when tid is set). */
void ilu_http_send_json_text(struct evhttp_request *req, int status, struct evbuffer *buf, const char *tid);

#endif
