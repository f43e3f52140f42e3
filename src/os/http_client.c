#include "os/http_client.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lg_req;

struct lg_conn {
    struct evhttp_connection *evcon;
    struct evbuffer *out; /* its bufferevent's output: watched to see a request leave */
    struct evbuffer_cb_entry *out_cb;
    struct lg_conn *next_idle;
    struct lg_req *current; /* the request in flight on it, NULL when idle */
};

struct ilu_http_client {
    struct event_base *base;
    char host[256];
    uint16_t port;
    unsigned timeout_sec;
    char *bearer; /* "Bearer <token>" sent as Authorization, or NULL */
    struct lg_conn *idle;
    struct lg_conn **all;
    size_t n_all;
    unsigned in_flight;
};

struct lg_req {
    struct ilu_http_client *h;
    struct lg_conn *conn;
    ilu_http_client_answer_fn cb;
    ilu_http_client_sent_fn cb_sent; /* instead of cb */
    void *arg;
    int queued; /* evhttp put the request into the connection's output */
    int sent;   /* ...and all of it went to the socket */
};

static const char *default_bearer;
/* Inside an answer callback (its connection's evhttp read path is on the
 * stack): requests made there are left to evhttp's own write path. */
static __thread unsigned in_answer_cb;

/* evhttp queues what it sends and writes it on a later loop turn, when
 * epoll says the socket is writable: write interest switched on (an
 * epoll_ctl), an epoll_wait that returns at once, the write, write interest
 * off (one more epoll_ctl). Here it is written at once, as evhttp's
 * bufferevent would (the output's front unfrozen around the write); when it
 * all went, evhttp's write callback runs now (a server's request is done
 * and the next one may be read; a client's request waits for its answer),
 * and the write interest it switched on goes off again before the loop
 * applies either change. What did not go (a full socket, a connection not
 * yet made, an error) stays for evhttp's own path. */
void ilu_evhttp_write_now(struct evhttp_connection *evcon)
{
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    int fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd < 0)
        return;
    struct evbuffer *out = bufferevent_get_output(bev);
    if (!evbuffer_get_length(out))
        return;
    evbuffer_unfreeze(out, 1);
    int n = evbuffer_write(out, fd);
    evbuffer_freeze(out, 1);
    if (n > 0 && evbuffer_get_length(out) == 0)
        bufferevent_trigger(bev, EV_WRITE, 0);
}

void ilu_http_client_set_default_bearer(const char *token)
{
    default_bearer = token;
}

struct ilu_http_client *ilu_http_client_new(struct event_base *base, const char *host, uint16_t port,
                                            unsigned timeout_sec)
{
    struct ilu_http_client *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->base = base;
    snprintf(h->host, sizeof h->host, "%s", host);
    h->port = port;
    h->timeout_sec = timeout_sec;
    if (default_bearer && ilu_http_client_set_bearer(h, default_bearer) != 0) {
        free(h);
        return NULL;
    }
    return h;
}

void ilu_http_client_free(struct ilu_http_client *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n_all; i++) {
        /* evhttp drops its queued requests without calling back: free ours */
        evbuffer_remove_cb_entry(h->all[i]->out, h->all[i]->out_cb);
        evhttp_connection_free(h->all[i]->evcon);
        free(h->all[i]->current);
        free(h->all[i]);
    }
    free(h->all);
    free(h->bearer);
    free(h);
}

int ilu_http_client_set_bearer(struct ilu_http_client *h, const char *token)
{
    free(h->bearer);
    h->bearer = NULL;
    if (!token || !*token)
        return 0;
    size_t n = strlen(token) + 8;
    if (!(h->bearer = malloc(n)))
        return -1;
    snprintf(h->bearer, n, "Bearer %s", token);
    return 0;
}

unsigned ilu_http_client_in_flight(const struct ilu_http_client *h)
{
    return h->in_flight;
}

/* Whether a request left this process: evhttp writes it into the
 * connection's output buffer, and the socket drains it. evhttp also empties
 * that buffer when it gives up on a connection (refused, reset), but only
 * after detaching the socket: an emptying with no socket is a request that
 * never went out. */
static void on_output_changed(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct lg_conn *c = arg;
    struct lg_req *r = c->current;
    if (!r)
        return;
    if (info->n_added)
        r->queued = 1;
    if (r->queued && info->n_deleted && evbuffer_get_length(buf) == 0 &&
        bufferevent_getfd(evhttp_connection_get_bufferevent(c->evcon)) != -1)
        r->sent = 1;
}

static struct lg_conn *conn_get(struct ilu_http_client *h)
{
    struct lg_conn *c = h->idle;
    if (c) {
        h->idle = c->next_idle;
        return c;
    }
    struct lg_conn **all = realloc(h->all, (h->n_all + 1) * sizeof *all);
    if (!all)
        return NULL;
    h->all = all;
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->evcon = evhttp_connection_base_new(h->base, NULL, h->host, h->port);
    if (!c->evcon) {
        free(c);
        return NULL;
    }
    struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
    c->out = bev ? bufferevent_get_output(bev) : NULL;
    if (!c->out || !(c->out_cb = evbuffer_add_cb(c->out, on_output_changed, c))) {
        evhttp_connection_free(c->evcon);
        free(c);
        return NULL;
    }
    evhttp_connection_set_timeout(c->evcon, (int)h->timeout_sec);
    evhttp_connection_set_retries(c->evcon, 0);
    h->all[h->n_all++] = c;
    return c;
}

static void on_answer(struct evhttp_request *req, void *arg)
{
    struct lg_req *r = arg;
    struct ilu_http_client *h = r->h;
    h->in_flight--;
    int status = req ? evhttp_request_get_response_code(req) : 0;
    json_t *answer = NULL;
    const char *text = NULL;
    size_t len = 0;
    char transport[160] = "";
    if (status) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        len = evbuffer_get_length(in);
        if (len) {
            json_error_t jerr;
            text = (const char *)evbuffer_pullup(in, (ssize_t)len);
            answer = json_loadb(text, len, 0, &jerr);
        }
    } else {
        snprintf(transport, sizeof transport, "no answer from %s:%u (connection refused, reset or timed out)", h->host,
                 h->port);
    }
    /* the connection is reusable (keep-alive; evhttp reconnects if the
     * server closed it) */
    r->conn->current = NULL;
    r->conn->next_idle = h->idle;
    h->idle = r->conn;
    in_answer_cb++;
    if (r->cb_sent)
        r->cb_sent(r->arg, status, answer, text, len, status ? NULL : transport, status || r->sent);
    else
        r->cb(r->arg, status, answer, status ? NULL : transport);
    in_answer_cb--;
    json_decref(answer);
    free(r);
}

static int request(struct ilu_http_client *h, const char *path, const char *body, size_t body_len, const char *tid,
                   ilu_http_client_answer_fn cb, ilu_http_client_sent_fn cb_sent, void *arg)
{
    struct lg_req *r = calloc(1, sizeof *r);
    struct lg_conn *c = r ? conn_get(h) : NULL;
    struct evhttp_request *req = c ? evhttp_request_new(on_answer, r) : NULL;
    if (!req) {
        if (c) {
            c->next_idle = h->idle;
            h->idle = c;
        }
        free(r);
        return -1;
    }
    r->h = h;
    r->conn = c;
    r->cb = cb;
    r->cb_sent = cb_sent;
    r->arg = arg;
    c->current = r;
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    char host[300];
    snprintf(host, sizeof host, "%s:%u", h->host, h->port);
    evhttp_add_header(headers, "Host", host);
    if (tid && *tid)
        evhttp_add_header(headers, "X-Transaction-Id", tid);
    if (h->bearer)
        evhttp_add_header(headers, "Authorization", h->bearer);
    if (body) {
        evhttp_add_header(headers, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), body, body_len);
    }
    h->in_flight++;
    /* on failure evhttp frees req and calls on_answer with NULL */
    if (evhttp_make_request(c->evcon, req, body ? EVHTTP_REQ_POST : EVHTTP_REQ_GET, path) == 0 && !in_answer_cb)
        ilu_evhttp_write_now(c->evcon);
    return 0;
}

int ilu_http_client_request(struct ilu_http_client *h, const char *path, const char *body, size_t body_len,
                            const char *tid, ilu_http_client_answer_fn cb, void *arg)
{
    return request(h, path, body, body_len, tid, cb, NULL, arg);
}

int ilu_http_client_request_sent(struct ilu_http_client *h, const char *path, const char *body, size_t body_len,
                                 const char *tid, ilu_http_client_sent_fn cb, void *arg)
{
    return request(h, path, body, body_len, tid, NULL, cb, arg);
}

struct sync_call {
    int done, status;
    json_t *answer;
    struct ilu_error *err;
};

static void on_sync_answer(void *arg, int status, json_t *answer, const char *transport_error)
{
    struct sync_call *s = arg;
    s->done = 1;
    s->status = status;
    s->answer = json_incref(answer);
    if (!status)
        ilu_err(s->err, ILU_ST_UNAVAILABLE, NULL, "%s", transport_error ? transport_error : "no answer");
}

int ilu_http_client_call(struct ilu_http_client *h, const char *path, json_t *body, json_t **answer,
                         struct ilu_error *err)
{
    struct sync_call s = {.err = err};
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (answer)
        *answer = NULL;
    if (ilu_http_client_request(h, path, text, text ? strlen(text) : 0, NULL, on_sync_answer, &s)) {
        free(text);
        ilu_err(err, ILU_ST_UNAVAILABLE, NULL, "out of memory");
        return 0;
    }
    free(text);
    while (!s.done && event_base_loop(h->base, EVLOOP_ONCE) == 0)
        ;
    if (answer)
        *answer = s.answer;
    else
        json_decref(s.answer);
    return s.status;
}
