/* Test doubles for the controller core, header-only:
 *
 *  - struct fake_transport: records every send (call, worker, a copy of the
 *    body, tid, timeout) and keeps its reply callback pending until the test
 *    answers it with ft_reply (an HTTP status and a JSON text, or status 0
 *    for a transport failure). Callbacks never run from inside send, as the
 *    contract in controller.h asks. It counts worker_added/worker_freed and
 *    can refuse worker_added for one name.
 *  - struct fake_store: counts save_function/save_worker calls and keeps a
 *    copy of the last arguments; can be told to fail.
 *
 * Sends live in a growing array and a reply callback may send again, so
 * tests refer to sends by index, never by pointer across a reply. */
#ifndef FAKE_TRANSPORT_H
#define FAKE_TRANSPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/controller.h"

struct ft_send {
    enum ilu_ctl_call call;
    struct ilu_ctl_worker *w; /* valid while the worker exists */
    char worker[64];          /* its name when sent */
    char host[256];
    uint32_t port;
    json_t *body;    /* a deep copy, NULL for a status poll */
    char *body_text; /* a copy of the bytes to send as they are, NULL: none */
    size_t body_len;
    char tid[64];
    uint64_t timeout_us;
    ilu_ctl_reply_fn cb;
    void *arg;
    bool answered;
};

struct ft_worker_data {
    unsigned magic;
    char name[64];
};
#define FT_MAGIC 0x7e57da7au

struct fake_transport {
    struct ilu_ctl_transport t;
    struct ft_send *sends;
    size_t n, cap;
    unsigned added, freed;
    unsigned bad_sends;    /* send to a worker without our transport_data */
    char refuse_added[64]; /* worker_added fails for this name */
};

static inline int ft_worker_added_cb(void *ctx, struct ilu_ctl_worker *w, struct ilu_error *err)
{
    struct fake_transport *ft = ctx;
    if (ft->refuse_added[0] && !strcmp(ft->refuse_added, w->name))
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "fake transport refuses %s", w->name);
    struct ft_worker_data *d = calloc(1, sizeof *d);
    assert_non_null(d);
    d->magic = FT_MAGIC;
    snprintf(d->name, sizeof d->name, "%s", w->name);
    w->transport_data = d;
    ft->added++;
    return 0;
}

static inline void ft_worker_freed_cb(void *ctx, struct ilu_ctl_worker *w)
{
    struct fake_transport *ft = ctx;
    struct ft_worker_data *d = w->transport_data;
    if (!d)
        return; /* never successfully added */
    assert_int_equal(d->magic, FT_MAGIC);
    d->magic = 0;
    free(d);
    w->transport_data = NULL;
    ft->freed++;
}

static inline void ft_send_cb(void *ctx, struct ilu_ctl_worker *w, enum ilu_ctl_call call, json_t *body,
                              struct ilu_ctl_text body_text, const char *tid, uint64_t timeout_us, ilu_ctl_reply_fn cb,
                              void *arg)
{
    struct fake_transport *ft = ctx;
    const struct ft_worker_data *d = w->transport_data;
    if (!d || d->magic != FT_MAGIC)
        ft->bad_sends++;
    if (ft->n == ft->cap) {
        size_t cap = ft->cap ? ft->cap * 2 : 64;
        struct ft_send *grown = realloc(ft->sends, cap * sizeof *grown);
        assert_non_null(grown);
        ft->sends = grown;
        ft->cap = cap;
    }
    struct ft_send *s = &ft->sends[ft->n++];
    memset(s, 0, sizeof *s);
    s->call = call;
    s->w = w;
    snprintf(s->worker, sizeof s->worker, "%s", w->name);
    snprintf(s->host, sizeof s->host, "%s", w->host);
    s->port = w->port;
    s->body = body ? json_deep_copy(body) : NULL;
    if (body_text.data) {
        s->body_text = malloc(body_text.len + 1);
        assert_non_null(s->body_text);
        memcpy(s->body_text, body_text.data, body_text.len);
        s->body_text[body_text.len] = 0;
        s->body_len = body_text.len;
    }
    snprintf(s->tid, sizeof s->tid, "%s", tid ? tid : "");
    s->timeout_us = timeout_us;
    s->cb = cb;
    s->arg = arg;
}

static inline void ft_init(struct fake_transport *ft)
{
    memset(ft, 0, sizeof *ft);
    ft->t = (struct ilu_ctl_transport){
        .ctx = ft, .worker_added = ft_worker_added_cb, .worker_freed = ft_worker_freed_cb, .send = ft_send_cb};
}

/* Frees the record. Pending sends are dropped without a callback: a test
 * answers everything before freeing the controller. */
static inline void ft_destroy(struct fake_transport *ft)
{
    for (size_t i = 0; i < ft->n; i++) {
        json_decref(ft->sends[i].body);
        free(ft->sends[i].body_text);
    }
    free(ft->sends);
    ft->sends = NULL;
    ft->n = ft->cap = 0;
}

static inline bool ft_match(const struct ft_send *s, int call, const char *worker, bool pending_only)
{
    return (call < 0 || (int)s->call == call) && (!worker || !strcmp(s->worker, worker)) &&
           (!pending_only || !s->answered);
}

/* Sends of call (-1: any) to worker (NULL: any). */
static inline unsigned ft_count(const struct fake_transport *ft, int call, const char *worker)
{
    unsigned k = 0;
    for (size_t i = 0; i < ft->n; i++)
        k += ft_match(&ft->sends[i], call, worker, false);
    return k;
}

static inline unsigned ft_pending(const struct fake_transport *ft, int call, const char *worker)
{
    unsigned k = 0;
    for (size_t i = 0; i < ft->n; i++)
        k += ft_match(&ft->sends[i], call, worker, true);
    return k;
}

/* Index of the first pending send matching, -1 if none. */
static inline long ft_find(const struct fake_transport *ft, int call, const char *worker)
{
    for (size_t i = 0; i < ft->n; i++)
        if (ft_match(&ft->sends[i], call, worker, true))
            return (long)i;
    return -1;
}

/* Index of the last send matching (answered or not), -1 if none. */
static inline long ft_last(const struct fake_transport *ft, int call, const char *worker)
{
    for (size_t i = ft->n; i-- > 0;)
        if (ft_match(&ft->sends[i], call, worker, false))
            return (long)i;
    return -1;
}

/* Answer send i: status 0 is a transport failure after the request was
 * sent, ILU_CTL_NOT_SENT one before; json may be NULL (no body) or a JSON
 * text, which the reply also carries as the answer's bytes (as HTTP does). */
static inline void ft_reply(struct fake_transport *ft, long i, int status, const char *json)
{
    assert_true(i >= 0 && (size_t)i < ft->n);
    struct ft_send *s = &ft->sends[i];
    assert_false(s->answered);
    s->answered = true;
    ilu_ctl_reply_fn cb = s->cb;
    void *arg = s->arg;
    json_t *answer = NULL;
    if (json) {
        json_error_t jerr;
        answer = json_loads(json, JSON_DECODE_ANY, &jerr);
        if (!answer)
            fail_msg("ft_reply: bad JSON in the test: %s", jerr.text);
    }
    cb(arg, status, answer, (struct ilu_ctl_text){json, json ? strlen(json) : 0},
       status > 0                   ? NULL
       : status == ILU_CTL_NOT_SENT ? "connection refused (fake): not sent"
                                    : "connection reset (fake) after the request was sent"); /* s may move */
    json_decref(answer);
}

/* Answer the first pending send of call to worker; fails the test if none. */
static inline void ft_reply_to(struct fake_transport *ft, int call, const char *worker, int status, const char *json)
{
    long i = ft_find(ft, call, worker);
    if (i < 0)
        fail_msg("no pending send of call %d to %s", call, worker ? worker : "(any)");
    ft_reply(ft, i, status, json);
}

/* Answer every send of call to worker pending now (not those the replies
 * cause); returns how many. */
static inline unsigned ft_reply_all(struct fake_transport *ft, int call, const char *worker, int status,
                                    const char *json)
{
    size_t n = ft->n;
    unsigned k = 0;
    for (size_t i = 0; i < n; i++)
        if (ft_match(&ft->sends[i], call, worker, true)) {
            ft_reply(ft, (long)i, status, json);
            k++;
        }
    return k;
}

/* ---- store ------------------------------------------------------------------ */

struct fake_store {
    struct ilu_ctl_store s;
    unsigned functions, workers;
    char last_fqdn[160], last_worker[64];
    json_t *last_registration, *last_worker_info; /* copies */
    bool fail;
};

static inline int fake_store_save_function(void *ctx, const char *fqdn, json_t *registration, struct ilu_error *err)
{
    struct fake_store *st = ctx;
    if (st->fail)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "disk full (fake)");
    st->functions++;
    snprintf(st->last_fqdn, sizeof st->last_fqdn, "%s", fqdn);
    json_decref(st->last_registration);
    st->last_registration = json_deep_copy(registration);
    return 0;
}

static inline int fake_store_save_worker(void *ctx, const char *name, json_t *info, struct ilu_error *err)
{
    struct fake_store *st = ctx;
    if (st->fail)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "disk full (fake)");
    st->workers++;
    snprintf(st->last_worker, sizeof st->last_worker, "%s", name);
    json_decref(st->last_worker_info);
    st->last_worker_info = json_deep_copy(info);
    return 0;
}

static inline void fake_store_init(struct fake_store *st)
{
    memset(st, 0, sizeof *st);
    st->s = (struct ilu_ctl_store){
        .ctx = st, .save_function = fake_store_save_function, .save_worker = fake_store_save_worker};
}

static inline void fake_store_destroy(struct fake_store *st)
{
    json_decref(st->last_registration);
    json_decref(st->last_worker_info);
    st->last_registration = st->last_worker_info = NULL;
}

#endif
