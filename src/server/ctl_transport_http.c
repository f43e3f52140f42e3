/* See ctl_transport_http.h. A worker's connections outlive worker_freed
 * while calls are still in flight on them (a worker that re-registers at a
 * new address keeps its struct, and the core still waits for those answers);
 * they are closed once the last one is answered. */
#include "ctl_transport_http.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os/http_client.h"

#define MAX_POOLS 4

struct ctl_pool {
    unsigned timeout_sec;
    struct ilu_http_client *http;
};

/* One per worker address: w->transport_data. */
struct ctl_peer {
    struct ilu_ctl_http *t;
    struct ilu_ctl_worker *w; /* NULL once freed by the core */
    char host[256];
    uint16_t port;
    struct ctl_pool pools[MAX_POOLS];
    size_t n_pools;
    unsigned in_flight;
    struct ctl_peer *next; /* in t->peers */
};

/* A call: answered by the worker, by its timer, or dropped at shutdown. */
struct ctl_call {
    struct ilu_ctl_http *t;
    struct ctl_peer *peer;
    ilu_ctl_reply_fn cb;
    void *arg;
    struct event *timer;
    enum ilu_ctl_call call;
    uint64_t timeout_us;
    int answered; /* cb already ran (timed out, or failed to send) */
    struct ctl_call *prev, *next;
};

struct ilu_ctl_http {
    struct event_base *base;
    const struct ilu_log *log;
    struct ctl_peer *peers;
    struct ctl_call *calls;
    unsigned in_flight; /* requests at a worker (answered or timed out: not yet back) */
    unsigned owed;      /* calls whose callback has not run yet */
    int failing;        /* shutting down: every call fails at once */
    int closing;
};

static const char *const call_path[] = {
    [ILU_CTL_REGISTER] = "/register", [ILU_CTL_INVOKE] = "/invoke", [ILU_CTL_PREWARM] = "/prewarm",
    [ILU_CTL_STATUS] = "/status",     [ILU_CTL_CLEAN] = "/clean",
};

struct ilu_ctl_http *ilu_ctl_http_new(struct event_base *base, const struct ilu_log *log)
{
    struct ilu_ctl_http *t = calloc(1, sizeof *t);
    if (t) {
        t->base = base;
        t->log = log;
    }
    return t;
}

unsigned ilu_ctl_http_owed(const struct ilu_ctl_http *t)
{
    return t->owed;
}

/* ---- peers ------------------------------------------------------------------- */

static void peer_destroy(struct ctl_peer *p)
{
    struct ilu_ctl_http *t = p->t;
    for (struct ctl_peer **pp = &t->peers; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    for (size_t i = 0; i < p->n_pools; i++)
        ilu_http_client_free(p->pools[i].http);
    free(p);
}

static void on_deferred_destroy(evutil_socket_t fd, short what, void *arg)
{
    peer_destroy(arg);
}

/* Freed by the core and idle: close its connections, but not from inside an
 * evhttp callback running on one of them. */
static void peer_maybe_destroy(struct ctl_peer *p)
{
    if (p->w || p->in_flight)
        return;
    if (event_base_once(p->t->base, -1, EV_TIMEOUT, on_deferred_destroy, p, NULL) != 0)
        ilu_warn(p->t->log, "transport", "cannot schedule closing %s:%u (out of memory?)", p->host, p->port);
}

/* The pool whose whole-second timeout covers timeout_us, created on first use. */
static struct ilu_http_client *peer_pool(struct ctl_peer *p, uint64_t timeout_us)
{
    unsigned sec = (unsigned)((timeout_us + 999999) / 1000000);
    if (sec == 0)
        sec = 1;
    for (size_t i = 0; i < p->n_pools; i++)
        if (p->pools[i].timeout_sec == sec)
            return p->pools[i].http;
    if (p->n_pools == MAX_POOLS) { /* more distinct timeouts than expected: the longest that fits */
        struct ilu_http_client *best = p->pools[0].http;
        unsigned best_sec = p->pools[0].timeout_sec;
        for (size_t i = 1; i < p->n_pools; i++)
            if ((p->pools[i].timeout_sec >= sec && (best_sec < sec || p->pools[i].timeout_sec < best_sec)) ||
                (best_sec < sec && p->pools[i].timeout_sec > best_sec)) {
                best = p->pools[i].http;
                best_sec = p->pools[i].timeout_sec;
            }
        return best;
    }
    struct ilu_http_client *h = ilu_http_client_new(p->t->base, p->host, p->port, sec);
    if (h)
        p->pools[p->n_pools++] = (struct ctl_pool){sec, h};
    return h;
}

static int tr_worker_added(void *ctx, struct ilu_ctl_worker *w, struct ilu_error *err)
{
    struct ilu_ctl_http *t = ctx;
    struct ctl_peer *p = calloc(1, sizeof *p);
    if (!p)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
    p->t = t;
    p->w = w;
    snprintf(p->host, sizeof p->host, "%s", w->host);
    p->port = (uint16_t)w->port;
    p->next = t->peers;
    t->peers = p;
    w->transport_data = p;
    return 0;
}

static void tr_worker_freed(void *ctx, struct ilu_ctl_worker *w)
{
    struct ctl_peer *p = w->transport_data;
    w->transport_data = NULL;
    if (!p)
        return;
    p->w = NULL;
    if (p->t->closing) {
        /* its calls' callbacks are dropped: forget them, then close */
        for (struct ctl_call *c = p->t->calls; c; c = c->next)
            if (c->peer == p)
                c->peer = NULL;
        peer_destroy(p);
        return;
    }
    peer_maybe_destroy(p);
}

/* ---- calls ------------------------------------------------------------------- */

static void call_unlink_free(struct ctl_call *c)
{
    struct ilu_ctl_http *t = c->t;
    if (c->prev)
        c->prev->next = c->next;
    else
        t->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->timer)
        event_free(c->timer);
    free(c);
}

/* The worker answered, or its pool gave up on the connection (sent: whether
 * the whole request had been written to the socket by then). */
static void on_answer(void *arg, int status, json_t *answer, const char *text, size_t text_len,
                      const char *transport_error, bool sent)
{
    struct ctl_call *c = arg;
    struct ilu_ctl_http *t = c->t;
    struct ctl_peer *p = c->peer;
    t->in_flight--;
    if (p)
        p->in_flight--;
    if (!c->answered && !t->closing) {
        c->answered = 1;
        if (c->timer) {
            event_free(c->timer);
            c->timer = NULL;
        }
        char why[300];
        if (!status) {
            snprintf(why, sizeof why, "%s %s: %s%s", c->call == ILU_CTL_STATUS ? "GET" : "POST", call_path[c->call],
                     transport_error ? transport_error : "no answer",
                     sent ? " after the request was sent" : " before the request was sent");
            transport_error = why;
            if (!sent)
                status = ILU_CTL_NOT_SENT;
        }
        t->owed--;
        c->cb(c->arg, status, answer, (struct ilu_ctl_text){text, text_len}, transport_error);
    }
    call_unlink_free(c);
    if (p)
        peer_maybe_destroy(p);
}

/* The core's timeout passed first: fail the call now; the connection's own
 * (whole-second) timeout reclaims it later, and that late answer is ignored. */
static void on_call_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct ctl_call *c = arg;
    event_free(c->timer);
    c->timer = NULL;
    if (c->answered || c->t->closing)
        return;
    c->answered = 1;
    c->t->owed--;
    char why[400];
    snprintf(why, sizeof why, "%s %s: no answer from %s:%u within %llu ms", c->call == ILU_CTL_STATUS ? "GET" : "POST",
             call_path[c->call], c->peer ? c->peer->host : "?", c->peer ? c->peer->port : 0,
             (unsigned long long)(c->timeout_us / 1000));
    c->cb(c->arg, 0, NULL, (struct ilu_ctl_text){0}, why);
}

static void on_send_failed(evutil_socket_t fd, short what, void *arg)
{
    struct ctl_call *c = arg;
    struct ilu_ctl_http *t = c->t;
    ilu_ctl_reply_fn cb = c->cb;
    void *cb_arg = c->arg;
    call_unlink_free(c);
    t->owed--;
    if (!t->closing)
        cb(cb_arg, 0, NULL, (struct ilu_ctl_text){0},
           t->failing ? "the controller is shutting down" : "could not send the request (out of memory)");
}

static void tr_send(void *ctx, struct ilu_ctl_worker *w, enum ilu_ctl_call call, json_t *body,
                    struct ilu_ctl_text body_text, const char *tid, uint64_t timeout_us, ilu_ctl_reply_fn cb, void *arg)
{
    struct ilu_ctl_http *t = ctx;
    struct ctl_peer *p = w->transport_data;
    struct ctl_call *c = calloc(1, sizeof *c);
    if (!c) { /* nothing to call back with: the core waits forever; log loudly */
        ilu_log_emit(t->log, ILU_LOG_ERROR, tid, NULL, "out of memory sending %s to %s", call_path[call], w->name);
        return;
    }
    *c = (struct ctl_call){.t = t, .peer = p, .cb = cb, .arg = arg, .call = call, .timeout_us = timeout_us};
    t->owed++;
    c->next = t->calls;
    if (t->calls)
        t->calls->prev = c;
    t->calls = c;

    struct ilu_http_client *h = p ? peer_pool(p, timeout_us) : NULL;
    /* the client's bytes as they came when there are some (evhttp copies
     * them into the request), else the JSON encoded */
    char *text = NULL;
    const char *out = body_text.data;
    size_t out_len = body_text.len;
    if (call != ILU_CTL_STATUS && !out) {
        text = body ? json_dumps(body, JSON_COMPACT) : strdup("{}");
        out = text;
        out_len = text ? strlen(text) : 0;
    }
    if (t->failing || !h || (call != ILU_CTL_STATUS && !out) ||
        ilu_http_client_request_sent(h, call_path[call], out, out_len, tid, on_answer, c)) {
        free(text);
        c->peer = NULL;
        c->answered = 1;
        if (event_base_once(t->base, -1, EV_TIMEOUT, on_send_failed, c, NULL) != 0)
            ilu_log_emit(t->log, ILU_LOG_ERROR, tid, NULL, "out of memory sending %s to %s", call_path[call], w->name);
        return;
    }
    free(text);
    t->in_flight++;
    p->in_flight++;
    if (timeout_us) {
        c->timer = evtimer_new(t->base, on_call_timeout, c);
        struct timeval tv = {.tv_sec = (time_t)(timeout_us / 1000000), .tv_usec = (suseconds_t)(timeout_us % 1000000)};
        if (c->timer)
            evtimer_add(c->timer, &tv);
    }
}

struct ilu_ctl_transport ilu_ctl_http_transport(struct ilu_ctl_http *t)
{
    return (struct ilu_ctl_transport){
        .ctx = t, .worker_added = tr_worker_added, .worker_freed = tr_worker_freed, .send = tr_send};
}

int ilu_ctl_http_fail_all(struct ilu_ctl_http *t)
{
    t->failing = 1;
    int failed = 0;
    /* a callback may send again (an async retry): new calls go to the head
     * of the list and fail later, from the loop; none is freed meanwhile */
    for (struct ctl_call *c = t->calls; c; c = c->next) {
        if (c->answered)
            continue;
        c->answered = 1;
        if (c->timer) {
            event_free(c->timer);
            c->timer = NULL;
        }
        failed++;
        t->owed--;
        c->cb(c->arg, 0, NULL, (struct ilu_ctl_text){0}, "the controller is shutting down");
    }
    return failed;
}

void ilu_ctl_http_closing(struct ilu_ctl_http *t)
{
    t->closing = 1;
}

void ilu_ctl_http_free(struct ilu_ctl_http *t)
{
    if (!t)
        return;
    t->closing = 1;
    while (t->peers) {
        for (struct ctl_call *c = t->calls; c; c = c->next)
            if (c->peer == t->peers)
                c->peer = NULL;
        peer_destroy(t->peers);
    }
    while (t->calls)
        call_unlink_free(t->calls);
    free(t);
}
