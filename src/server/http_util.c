#include "http_util.h"
#include "os/http_client.h"
#include "os/random.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include "core/ident.h"
#include "api/registration.h"
#include "api/worker_codec.h"
#include "daemon_util.h"

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
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
    ilu_http_send_json_text(req, status, buf, tid);
}

void ilu_http_send_error(const struct ilu_log *log, struct evhttp_request *req, const struct ilu_error *err,
                         const char *tid)
{
    char uri[256];
    ilu_http_printable_uri(req, uri, sizeof uri);
    ilu_http_log_failure(log, err, uri, tid);
    ilu_http_send_json(req, ilu_api_error_status(err), ilu_api_error_json(err), tid);
}

void ilu_http_printable_uri(struct evhttp_request *req, char *buf, size_t len)
{
    /* the uri may hold any bytes (a JSON log line cannot carry invalid UTF-8) */
    const char *raw = evhttp_request_get_uri(req);
    size_t n = 0;
    for (; raw && raw[n] && n + 1 < len; n++)
        buf[n] = raw[n] >= 0x20 && raw[n] < 0x7f ? raw[n] : '?';
    if (len)
        buf[n] = 0;
}

void ilu_http_log_failure(const struct ilu_log *log, const struct ilu_error *err, const char *uri, const char *tid)
{
    int status = ilu_api_error_status(err);
    ilu_log_emit(log, status >= 500 ? ILU_LOG_ERROR : ILU_LOG_WARN, tid,
                 json_pack("{s:i, s:s}", "status", status, "uri", uri), "request failed: %s", err->msg);
}

int ilu_http_make_tid(struct evhttp_request *req, json_t *body, uint64_t seed, uint64_t *seq, char *tid, size_t n,
                      struct ilu_error *err)
{
    const char *header = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Transaction-Id");
    json_t *field = body ? json_object_get(body, "transaction_id") : NULL;
    const char *why = NULL, *which = NULL;
    if (header && (why = ilu_tid_check(header, strlen(header))))
        which = "header X-Transaction-Id";
    else if (field && !json_is_null(field) &&
             (why = !json_is_string(field) ? "is not a string"
                                           : ilu_tid_check(json_string_value(field), json_string_length(field))))
        which = "field transaction_id";
    if (why) {
        snprintf(tid, n, "%016" PRIx64 "%016" PRIx64, seed, ++*seq);
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "the transaction id (%s) %s", which, why);
    }
    const char *given = header ? header : json_string_value(field);
    if (given)
        snprintf(tid, n, "%s", given);
    else
        snprintf(tid, n, "%016" PRIx64 "%016" PRIx64, seed, ++*seq);
    return 0;
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

/* One rule for strings with the API codecs (src/api): non-empty, no NUL. */
int ilu_http_get_string(json_t *body, const char *key, const char **out, struct ilu_error *err)
{
    return ilu_body_get_string(body, key, out, err);
}

/* Numbers are JSON integers only: every client we ship sends them so, and a
 * string (" 128", "0x80", "1e3") has no single obvious reading. One rule
 * with the API codecs (src/api). */
int ilu_http_get_u32(json_t *body, const char *key, uint32_t def, uint32_t *out, struct ilu_error *err)
{
    return ilu_body_get_u32(body, key, def, out, err);
}

/* ---- connections --------------------------------------------------------- */

/* The server's record of one accepted connection, from the bufferevent
 * evhttp asks for (on_new_bev) to evhttp's close callback (on_conn_close). */
struct ilu_http_conn {
    struct ilu_http_server *srv;
    struct bufferevent *bev;
    struct evhttp_connection *evcon;
    struct ilu_http_pending *pending; /* a request answered later, if any */
    struct ilu_http_conn *next_fresh;
    struct event *request_timer; /* from a request's first byte until it is routed */
    int fd;
    bool in_request;
    bool rewriting;
};

/* Records by descriptor, to find a request's record in O(1): descriptors
 * are unique in the process, so one table serves every server in it. */
static __thread struct ilu_http_conn **conn_by_fd;
static __thread size_t conn_by_fd_len;
/* Servers listening, for the accept error callback. Both are per thread:
 * each event loop (http.io_threads) has its own servers and connections. */
static __thread struct ilu_http_server *servers;
/* Inside an API handler called by evhttp's read path (answers given there
 * are left to evhttp's own write path: see send_reply). */
static __thread unsigned in_handler;

static void servers_remove(struct ilu_http_server *s)
{
    for (struct ilu_http_server **p = &servers; *p; p = &(*p)->next_server)
        if (*p == s) {
            *p = s->next_server;
            break;
        }
    s->next_server = NULL;
}

static struct ilu_http_conn *conn_of_evcon(struct evhttp_connection *evcon)
{
    if (!evcon)
        return NULL;
    int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
    if (fd < 0 || (size_t)fd >= conn_by_fd_len)
        return NULL;
    struct ilu_http_conn *c = conn_by_fd[fd];
    return c && c->evcon == evcon ? c : NULL;
}

static void listener_update(struct ilu_http_server *s)
{
    if (!s->listener)
        return;
    if (s->paused_full || s->paused_fds)
        evconnlistener_disable(s->listener);
    else
        evconnlistener_enable(s->listener);
}

static void conn_free(struct ilu_http_conn *c)
{
    struct ilu_http_server *s = c->srv;
    if (c->fd >= 0 && (size_t)c->fd < conn_by_fd_len && conn_by_fd[c->fd] == c)
        conn_by_fd[c->fd] = NULL;
    if (c->pending)
        c->pending->cancelled = 1;
    if (c->request_timer)
        event_free(c->request_timer);
    free(c);
    s->connections--;
    if (s->paused_full && s->connections < s->limits.max_connections) {
        s->paused_full = 0;
        listener_update(s);
    }
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    conn_free(arg);
}

/* A request that did not arrive whole within request_timeout_ms of its
 * first byte (a slow-header client): close its connection. */
static void on_request_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct ilu_http_conn *c = arg;
    c->in_request = false;
    /* evhttp stops reading while a request is being answered: reading
     * means the request is still incomplete */
    if (!c->evcon || !(bufferevent_get_enabled(c->bev) & EV_READ))
        return;
    ilu_log_emit(c->srv->log, ILU_LOG_WARN, "http",
                 json_pack("{s:i}", "timeout_ms", (int)c->srv->limits.request_timeout_ms),
                 "closing a connection whose request did not arrive in time");
    evhttp_connection_free(c->evcon); /* calls on_conn_close, which frees c */
}

/* Bytes arrived: the first of a request starts its deadline. */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct ilu_http_conn *c = arg;
    if (info->n_added && !c->in_request && c->request_timer) {
        c->in_request = true;
        event_add(c->request_timer, c->srv->request_tv);
    }
}

/* evhttp answers the requests it cannot parse itself (malformed request
 * line or header, head over max_header_bytes, bad Content-Length, body over
 * its cut-off) with an HTML page and closes the connection; libevent 2.1
 * has no hook for it. Its last piece, the HTML body, is recognised here as
 * it enters the output buffer, and the whole answer (the only one in the
 * buffer: evhttp writes answers one at a time) is replaced by a JSON one. */
static void on_output(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    static const char html_end[] = "</BODY></HTML>\n";
    struct ilu_http_conn *c = arg;
    size_t len = evbuffer_get_length(buf), tail = sizeof html_end - 1;
    if (c->rewriting || info->n_added < 60 || info->n_added > 200 || len > 1024)
        return;
    char head[16], end[sizeof html_end];
    struct evbuffer_ptr pos;
    if (evbuffer_ptr_set(buf, &pos, len - tail, EVBUFFER_PTR_SET) ||
        evbuffer_copyout_from(buf, &pos, end, tail) != (ev_ssize_t)tail || memcmp(end, html_end, tail) != 0 ||
        evbuffer_copyout(buf, head, 12) != 12 || memcmp(head, "HTTP/1.", 7) != 0)
        return;
    head[12] = 0;
    int status = atoi(head + 9);
    struct ilu_http_server *s = c->srv;
    char tid[40];
    snprintf(tid, sizeof tid, "%016" PRIx64 "%016" PRIx64, s->tid_seed, ++s->tid_seq);
    struct ilu_error err = {0};
    if (status == 413)
        ilu_err(&err, ILU_ST_TOO_LARGE, "too_large", "the request body is over the server's limit");
    else
        ilu_err(&err, status >= 400 && status < 500 ? status : ILU_ST_BAD_REQUEST, NULL,
                "the request could not be parsed: malformed request line or header, a request line or header "
                "block over http.max_header_bytes (%u), or a bad Content-Length",
                s->limits.max_header_bytes);
    json_t *obj = json_pack("{s:b, s:s, s:s, s:s}", "success", 0, "error", err.msg, "error_kind",
                            err.kind[0] ? err.kind : ilu_status_kind(err.status), "transaction_id", tid);
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    ilu_log_emit(s->log, ILU_LOG_WARN, tid, json_pack("{s:i}", "status", err.status), "request failed: %s", err.msg);
    c->rewriting = true;
    evbuffer_drain(buf, len);
    evbuffer_add_printf(buf,
                        "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nConnection: close\r\n"
                        "X-Transaction-Id: %s\r\nContent-Length: %zu\r\n\r\n%s\n",
                        err.status, reason_phrase(err.status), tid, text ? strlen(text) + 1 : 0, text ? text : "");
    c->rewriting = false;
    free(text);
}

/* evhttp asks for the bufferevent of each accepted connection: count it,
 * pause the listener at the cap. Its close callback can only be set once
 * evhttp has made the connection, in on_post_accept, run right after. */
static struct bufferevent *on_new_bev(struct event_base *base, void *arg)
{
    struct ilu_http_server *s = arg;
    struct ilu_http_conn *c = calloc(1, sizeof *c);
    struct bufferevent *bev = c ? bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (!bev) {
        free(c);
        return NULL; /* evhttp makes its own; that connection goes uncounted */
    }
    c->srv = s;
    c->bev = bev;
    c->fd = -1;
    c->request_timer = evtimer_new(base, on_request_timeout, c);
    evbuffer_add_cb(bufferevent_get_input(bev), on_input, c);
    evbuffer_add_cb(bufferevent_get_output(bev), on_output, c);
    /* our reference keeps bev valid until on_post_accept even if evhttp
     * fails the connection and frees it at once */
    bufferevent_incref(bev);
    c->next_fresh = s->fresh;
    s->fresh = c;
    event_active(s->post_accept, EV_TIMEOUT, 1);
    s->connections++;
    s->accepted++;
    if (s->connections >= s->limits.max_connections && !s->paused_full) {
        s->paused_full = 1;
        listener_update(s);
        if (s->cap_pauses++ % 100 == 0)
            ilu_log_emit(s->log, ILU_LOG_WARN, "http",
                         json_pack("{s:i}", "max_connections", (int)s->limits.max_connections),
                         "connection limit reached: new connections wait until one closes");
    }
    return bev;
}

static void on_post_accept(evutil_socket_t fd_unused, short what, void *arg)
{
    struct ilu_http_server *s = arg;
    while (s->fresh) {
        struct ilu_http_conn *c = s->fresh;
        s->fresh = c->next_fresh;
        bufferevent_data_cb rcb, wcb;
        bufferevent_event_cb ecb;
        void *cbarg = NULL;
        bufferevent_getcb(c->bev, &rcb, &wcb, &ecb, &cbarg);
        int fd = bufferevent_getfd(c->bev);
        if (!ecb || fd < 0) { /* evhttp already freed it */
            evbuffer_remove_cb(bufferevent_get_input(c->bev), on_input, c);
            evbuffer_remove_cb(bufferevent_get_output(c->bev), on_output, c);
            bufferevent_decref(c->bev);
            conn_free(c);
            continue;
        }
        if ((size_t)fd >= conn_by_fd_len) {
            size_t len = conn_by_fd_len ? conn_by_fd_len : 256;
            while (len <= (size_t)fd)
                len *= 2;
            struct ilu_http_conn **t = realloc(conn_by_fd, len * sizeof *t);
            if (t) {
                memset(t + conn_by_fd_len, 0, (len - conn_by_fd_len) * sizeof *t);
                conn_by_fd = t;
                conn_by_fd_len = len;
            }
        }
        c->evcon = cbarg;
        c->fd = fd;
        if ((size_t)fd < conn_by_fd_len)
            conn_by_fd[fd] = c;
        evhttp_connection_set_closecb(c->evcon, on_conn_close, c);
        bufferevent_decref(c->bev);
    }
}

static void on_backoff(evutil_socket_t fd, short what, void *arg)
{
    struct ilu_http_server *s = arg;
    s->paused_fds = 0;
    listener_update(s);
}

/* accept() failed for a reason other than a retriable one. Out of
 * descriptors the listening socket stays readable, so without a pause the
 * loop would spin on it: stop accepting for 100 ms (clients wait in the
 * backlog), then try again. */
static void on_accept_error(struct evconnlistener *lev, void *arg_unused)
{
    /* the listener's argument is evhttp's (its accept callback's): find
     * the server by its listener */
    int e = errno;
    struct ilu_http_server *s = servers;
    while (s && s->listener != lev)
        s = s->next_server;
    if (!s)
        return;
    if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM) {
        ilu_log_emit(s->log, ILU_LOG_ERROR, "http", NULL, "accept failed: %s", strerror(e));
        return;
    }
    if (!s->paused_fds && s->fd_backoffs++ % 100 == 0)
        ilu_log_emit(
            s->log, ILU_LOG_WARN, "http",
            json_pack("{s:i, s:I}", "open_connections", (int)s->connections, "backoffs", (json_int_t)s->fd_backoffs),
            "accept failed (%s): pausing new connections for 100 ms", strerror(e));
    s->paused_fds = 1;
    listener_update(s);
    struct timeval tv = {0, 100000};
    event_add(s->backoff, &tv);
}

/* A listening socket on address:port that other sockets of this process
 * may bind too (SO_REUSEPORT: the kernel spreads connections among them),
 * handed to evhttp; NULL when it cannot be made. */
static struct evhttp_bound_socket *bind_shared(struct ilu_http_server *s, const char *address, uint16_t port)
{
    char service[8];
    snprintf(service, sizeof service, "%u", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    if (getaddrinfo(address, service, &hints, &ai) != 0 || !ai)
        return NULL;
    struct evconnlistener *l = evconnlistener_new_bind(
        s->base, NULL, NULL, LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
        128, ai->ai_addr, (int)ai->ai_addrlen);
    freeaddrinfo(ai);
    if (!l)
        return NULL;
    struct evhttp_bound_socket *b = evhttp_bind_listener(s->http, l);
    if (!b)
        evconnlistener_free(l);
    return b;
}

static void on_any_request(struct evhttp_request *req, void *arg)
{
    struct ilu_http_server *s = arg;
    in_handler++;
    s->cb(req, s->cb_arg);
    in_handler--;
}

int ilu_http_server_start(struct ilu_http_server *s, struct event_base *base, const char *address, uint16_t port,
                          bool reuse_port, const struct ilu_http_limits *limits, size_t max_body,
                          const struct ilu_log *log, void (*cb)(struct evhttp_request *, void *), void *arg,
                          struct ilu_error *err)
{
    memset(s, 0, sizeof *s);
    s->tid_seed = ilu_random_seed();
    /* each connection holds a descriptor: allow as many as the hard limit */
    unsigned long fds = ilu_http_raise_fd_limit();
    if (fds && fds < limits->max_connections + 64)
        ilu_log_emit(
            log, ILU_LOG_WARN, "startup",
            json_pack("{s:I, s:i}", "fd_limit", (json_int_t)fds, "max_connections", (int)limits->max_connections),
            "the descriptor limit is below http.max_connections: accept() backs off when it runs out");
    s->base = base;
    s->limits = *limits;
    s->log = log;
    struct timeval idle = {limits->idle_timeout_ms / 1000, (limits->idle_timeout_ms % 1000) * 1000};
    struct timeval request = {limits->request_timeout_ms / 1000, (limits->request_timeout_ms % 1000) * 1000};
    s->request_tv = event_base_init_common_timeout(base, &request);
    s->http = evhttp_new(base);
    s->post_accept = event_new(base, -1, 0, on_post_accept, s);
    s->backoff = evtimer_new(base, on_backoff, s);
    if (!s->http || !s->post_accept || !s->backoff || !s->request_tv) {
        ilu_http_server_free(s);
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot create the HTTP server");
    }
    evhttp_set_max_body_size(s->http, (ev_ssize_t)max_body);
    /* evhttp checks the request line and the header block each against
     * this many bytes, and answers 400 and closes beyond it */
    evhttp_set_max_headers_size(s->http, (ev_ssize_t)limits->max_header_bytes);
    evhttp_set_timeout_tv(s->http, &idle);
    /* every method, including the ones evhttp does not know (it parses them
     * as an "unknown" type, bit 15): the router answers them with a JSON
     * 405 instead of evhttp's HTML 501 */
    evhttp_set_allowed_methods(s->http, 0xffff);
    evhttp_set_bevcb(s->http, on_new_bev, s);
    s->cb = cb;
    s->cb_arg = arg;
    evhttp_set_gencb(s->http, on_any_request, s);
    s->bound = reuse_port ? bind_shared(s, address, port) : evhttp_bind_socket_with_handle(s->http, address, port);
    if (!s->bound) {
        ilu_http_server_free(s);
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot listen on %s:%u (address in use or not local?)", address,
                       port);
    }
    s->listener = evhttp_bound_socket_get_listener(s->bound);
    evconnlistener_set_error_cb(s->listener, on_accept_error);
    s->next_server = servers;
    servers = s;
    return 0;
}

uint16_t ilu_http_server_port(const struct ilu_http_server *s)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (!s->bound || getsockname(evhttp_bound_socket_get_fd(s->bound), (struct sockaddr *)&sa, &len) != 0)
        return 0;
    if (sa.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&sa)->sin_port);
    if (sa.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
    return 0;
}

void ilu_http_server_stop_accepting(struct ilu_http_server *s)
{
    if (s->http && s->bound)
        evhttp_del_accept_socket(s->http, s->bound);
    s->bound = NULL;
    s->listener = NULL;
    servers_remove(s);
    if (s->backoff)
        event_del(s->backoff);
}

void ilu_http_server_free(struct ilu_http_server *s)
{
    servers_remove(s);
    if (s->post_accept)
        on_post_accept(-1, 0, s); /* records accepted but not yet set up */
    if (s->http)
        evhttp_free(s->http); /* closes the connections: on_conn_close frees their records */
    if (s->post_accept)
        event_free(s->post_accept);
    if (s->backoff)
        event_free(s->backoff);
    s->http = NULL;
    s->bound = NULL;
    s->listener = NULL;
    s->post_accept = s->backoff = NULL;
    if (!servers) { /* this thread's last server: its records are all gone */
        free(conn_by_fd);
        conn_by_fd = NULL;
        conn_by_fd_len = 0;
    }
}

unsigned long ilu_http_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    return (unsigned long)rl.rlim_cur;
}

/* ---- requests answered later ---------------------------------------------- */

static void on_pending_conn_close(struct evhttp_connection *conn, void *arg)
{
    struct ilu_http_pending *p = arg;
    p->cancelled = 1;
}

void *ilu_http_pending_new(size_t size, struct evhttp_request *req, const char *tid, unsigned *open_requests,
                           const struct ilu_log *log, struct ilu_error *err)
{
    struct ilu_http_pending *p = calloc(1, size);
    if (!p) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    p->req = req;
    p->conn = evhttp_request_get_connection(req);
    p->cconn = conn_of_evcon(p->conn);
    snprintf(p->tid, sizeof p->tid, "%s", tid);
    p->open_requests = open_requests;
    p->log = log;
    if (p->cconn)
        p->cconn->pending = p; /* on_conn_close marks it cancelled */
    else if (p->conn)
        evhttp_connection_set_closecb(p->conn, on_pending_conn_close, p);
    (*open_requests)++;
    return p;
}

/* Stop tracking p: no close callback may reach it any more. */
static void pending_finish(struct ilu_http_pending *p)
{
    (*p->open_requests)--;
    if (p->cancelled)
        return;
    if (p->cconn)
        p->cconn->pending = NULL;
    else if (p->conn)
        evhttp_connection_set_closecb(p->conn, NULL, NULL);
}

int ilu_http_pending_take(struct ilu_http_pending *p)
{
    pending_finish(p);
    if (!p->cancelled)
        return 1;
    ilu_log_emit(p->log, ILU_LOG_WARN, p->tid, NULL, "client closed the connection before the answer");
    free(p);
    return 0;
}

void ilu_http_pending_drop(struct ilu_http_pending *p)
{
    pending_finish(p);
    free(p);
}

/* Send the answer (buf freed), written at once (ilu_evhttp_write_now) but
 * not inside a handler that evhttp's read path called: evhttp is then
 * mid-request on this connection and its write path is left to do the work.
 * The connection is taken before evhttp_send_reply: a request that has none
 * is freed by it at once. */
static void send_reply(struct evhttp_request *req, int status, struct evbuffer *buf)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    evhttp_send_reply(req, status, reason_phrase(status), buf);
    evbuffer_free(buf);
    if (!in_handler)
        ilu_evhttp_write_now(evcon);
}

void ilu_http_send_text(struct evhttp_request *req, int status, const char *content_type, struct evbuffer *buf)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", content_type);
    send_reply(req, status, buf);
}

void ilu_http_send_json_text(struct evhttp_request *req, int status, struct evbuffer *buf, const char *tid)
{
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    evhttp_add_header(headers, "Content-Type", "application/json");
    if (tid)
        evhttp_add_header(headers, "X-Transaction-Id", tid);
    send_reply(req, status, buf);
}

void ilu_http_send_metrics(struct evhttp_request *req, struct evbuffer *buf)
{
    ilu_http_send_text(req, 200, ILU_HTTP_METRICS_TYPE, buf);
}

/* ---- routing --------------------------------------------------------------- */

/* Answer err and close the connection after it (framing errors: what
 * follows in the connection cannot be trusted to be a new request). */
static void send_error_close(const struct ilu_log *log, struct evhttp_request *req, const struct ilu_error *err,
                             const char *tid)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
    ilu_http_send_error(log, req, err, tid);
}

long ilu_http_match_route(struct ilu_http_server *srv, struct evhttp_request *req, const void *routes, size_t n_routes,
                          size_t route_size, const struct ilu_log *log, uint64_t tid_seed, uint64_t *tid_seq,
                          json_t **body, char *tid, size_t tid_len)
{
    struct ilu_http_conn *c = conn_of_evcon(evhttp_request_get_connection(req));
    if (c && c->in_request) { /* the request is whole: its deadline is met */
        c->in_request = false;
        event_del(c->request_timer);
    }
    *body = NULL;
    struct ilu_error err = {0};

    /* headers: count, and framing that evhttp would read one way and a proxy
     * in front of us another (request smuggling) */
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyval *h;
    unsigned n_headers = 0, n_length = 0, n_encoding = 0;
    for (h = in->tqh_first; h; h = h->next.tqe_next) {
        n_headers++;
        if ((h->key[0] | 0x20) == 'c' && strcasecmp(h->key, "Content-Length") == 0)
            n_length++;
        else if ((h->key[0] | 0x20) == 't' && strcasecmp(h->key, "Transfer-Encoding") == 0)
            n_encoding++;
    }
    if (n_headers > srv->limits.max_headers)
        ilu_err(&err, 431, "too_large", "the request has %u header lines, over the limit of %u", n_headers,
                srv->limits.max_headers);
    else if (n_length > 1)
        ilu_err(&err, ILU_ST_BAD_REQUEST, NULL, "the request has %u Content-Length headers", n_length);
    else if (n_length && n_encoding)
        ilu_err(&err, ILU_ST_BAD_REQUEST, NULL, "the request has both Content-Length and Transfer-Encoding");
    else if (n_encoding > 1)
        ilu_err(&err, ILU_ST_BAD_REQUEST, NULL, "the request has %u Transfer-Encoding headers", n_encoding);

    int method = (int)evhttp_request_get_command(req);
    const int known = EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                      EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH;
    if (!err.status && !(method & known))
        ilu_err(&err, 405, "bad_method", "unknown method (methods are case-sensitive: GET, POST)");
    if (err.status) {
        /* a valid X-Transaction-Id is still echoed; a bad one is replaced */
        struct ilu_error tid_err;
        ilu_http_make_tid(req, NULL, tid_seed, tid_seq, tid, tid_len, &tid_err);
        send_error_close(log, req, &err, tid);
        return -1;
    }

    const char *uri = evhttp_request_get_uri(req);
    size_t path_len = strcspn(uri, "?");
    const char *bad_path = ilu_path_check(uri, path_len);
    long found = -1;
    int path_known = 0;
    for (size_t i = 0; !bad_path && i < n_routes; i++) {
        const struct ilu_http_match *m = (const void *)((const char *)routes + i * route_size);
        if (strlen(m->path) == path_len && strncmp(m->path, uri, path_len) == 0) {
            path_known = 1;
            if (m->method == method)
                found = (long)i;
        }
    }
    const struct ilu_http_match *m =
        found >= 0 ? (const void *)((const char *)routes + (size_t)found * route_size) : NULL;
    *body = m && m->needs_body ? ilu_http_read_body(req, &err) : NULL;
    struct ilu_error tid_err = {0};
    int tid_bad = ilu_http_make_tid(req, *body, tid_seed, tid_seq, tid, tid_len, &tid_err);
    if (bad_path)
        ilu_err(&err, ILU_ST_NOT_FOUND, NULL, "no such endpoint: the path %s", bad_path);
    else if (!m && path_known)
        ilu_err(&err, 405, "bad_method", "method not allowed for %.*s", (int)path_len, uri);
    else if (!m)
        ilu_err(&err, ILU_ST_NOT_FOUND, NULL, "no such endpoint: %.*s", (int)path_len, uri);
    else if (!err.status && tid_bad)
        err = tid_err;
    if (err.status) {
        json_decref(*body);
        *body = NULL;
        /* HEAD, TRACE: evhttp did not read a body they may carry */
        if (method & (EVHTTP_REQ_HEAD | EVHTTP_REQ_TRACE))
            send_error_close(log, req, &err, tid);
        else
            ilu_http_send_error(log, req, &err, tid);
        return -1;
    }
    return found;
}
