/* See http_io.h. Hand-offs are queues under a mutex; the consumer's loop is
 * woken (event_active, which libevent makes thread-safe once
 * evthread_use_pthreads has run) only when its queue was empty, and drains
 * it whole, so under load one wake-up carries many exchanges. */
#include "http_io.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/worker_codec.h"
#include "daemon_util.h"

/* A queue of exchanges between two threads. */
struct exq {
    pthread_mutex_t mu;
    struct ilu_http_exchange *head, *tail;
    struct event *ready; /* on the consumer's base */
};

struct ilu_http_io_loop {
    struct ilu_http_io *io;
    struct event_base *base;
    pthread_t thread;
    bool running;
    void *server;  /* ops->serve's result, made and freed on the loop's thread */
    sem_t started; /* posted once serve has run */
    struct ilu_error start_err;
    struct exq answers;     /* core loop -> this loop */
    unsigned open_requests; /* this loop's thread only */
};

struct ilu_http_io {
    const struct ilu_http_io_ops *ops;
    void *api;
    struct exq to_core; /* I/O loops -> core loop */
    unsigned n;
    struct ilu_http_io_loop loops[];
};

static int exq_init(struct exq *q, struct event_base *base, event_callback_fn drain, void *arg)
{
    q->head = q->tail = NULL;
    if (pthread_mutex_init(&q->mu, NULL))
        return -1;
    q->ready = event_new(base, -1, 0, drain, arg);
    return q->ready ? 0 : -1;
}

static void exq_push(struct exq *q, struct ilu_http_exchange *ex)
{
    ex->next = NULL;
    pthread_mutex_lock(&q->mu);
    bool was_empty = !q->head;
    if (q->tail)
        q->tail->next = ex;
    else
        q->head = ex;
    q->tail = ex;
    pthread_mutex_unlock(&q->mu);
    if (was_empty)
        event_active(q->ready, EV_READ, 0);
}

static struct ilu_http_exchange *exq_take_all(struct exq *q)
{
    pthread_mutex_lock(&q->mu);
    struct ilu_http_exchange *all = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->mu);
    return all;
}

/* ---- exchanges ------------------------------------------------------------ */

struct ilu_http_exchange *ilu_http_exchange_new(struct evhttp_request *req, const char *tid, unsigned *open_requests,
                                                const struct ilu_log *log, struct ilu_error *err)
{
    struct ilu_http_exchange *ex = ilu_http_pending_new(sizeof *ex, req, tid, open_requests, log, err);
    if (!ex)
        return NULL;
    ilu_http_printable_uri(req, ex->uri, sizeof ex->uri); /* for error logs, made on another thread */
    return ex;
}

/* Write ex's answer to its client, on the loop that owns the connection. */
static void deliver(struct ilu_http_exchange *ex)
{
    json_t *answer = ex->answer;
    struct evbuffer *text = ex->text;
    int status = ex->status;
    const char *content_type = ex->content_type;
    ex->answer = NULL;
    ex->text = NULL;
    if (!ilu_http_pending_take(&ex->pending)) { /* the client hung up; ex is freed */
        json_decref(answer);
        if (text)
            evbuffer_free(text);
        return;
    }
    if (text && ex->text_has_tid)
        ilu_http_send_json_text(ex->pending.req, status, text, ex->pending.tid);
    else if (text)
        ilu_http_send_text(ex->pending.req, status, content_type, text);
    else
        ilu_http_send_json(ex->pending.req, status, answer, ex->pending.tid);
    free(ex);
}

static void answer(struct ilu_http_exchange *ex)
{
    if (ex->owner)
        exq_push(&ex->owner->answers, ex);
    else
        deliver(ex);
}

void ilu_http_answer_json(struct ilu_http_exchange *ex, int status, json_t *obj)
{
    ex->status = status;
    ex->answer = obj;
    answer(ex);
}

void ilu_http_answer_error(struct ilu_http_exchange *ex, const struct ilu_error *err)
{
    ilu_http_log_failure(ex->pending.log, err, ex->uri, ex->pending.tid);
    ilu_http_answer_json(ex, ilu_api_error_status(err), ilu_api_error_json(err));
}

void ilu_http_answer_text(struct ilu_http_exchange *ex, int status, const char *content_type, struct evbuffer *buf)
{
    ex->status = status;
    ex->text = buf;
    ex->content_type = content_type;
    answer(ex);
}

void ilu_http_answer_json_text(struct ilu_http_exchange *ex, int status, struct evbuffer *buf)
{
    ex->text_has_tid = true;
    ilu_http_answer_text(ex, status, "application/json", buf);
}

/* ---- loops ------------------------------------------------------------------ */

static void on_answers(evutil_socket_t fd, short what, void *arg)
{
    struct ilu_http_io_loop *loop = arg;
    for (struct ilu_http_exchange *ex = exq_take_all(&loop->answers), *next; ex; ex = next) {
        next = ex->next;
        deliver(ex);
    }
}

static void on_to_core(evutil_socket_t fd, short what, void *arg)
{
    struct ilu_http_io *io = arg;
    for (struct ilu_http_exchange *ex = exq_take_all(&io->to_core), *next; ex; ex = next) {
        next = ex->next;
        io->ops->handle(io->api, ex);
    }
}

void ilu_http_io_to_core(struct ilu_http_io_loop *loop, struct ilu_http_exchange *ex)
{
    ex->owner = loop;
    exq_push(&loop->io->to_core, ex);
}

unsigned *ilu_http_io_open_requests(struct ilu_http_io_loop *loop)
{
    return &loop->open_requests;
}

/* Exchanges still queued for a loop that stops belong to connections about
 * to close: drop them. */
static void drop_answers(struct ilu_http_io_loop *loop)
{
    for (struct ilu_http_exchange *ex = exq_take_all(&loop->answers), *next; ex; ex = next) {
        next = ex->next;
        json_decref(ex->answer);
        if (ex->text)
            evbuffer_free(ex->text);
        ilu_http_pending_drop(&ex->pending);
    }
}

/* The loop's thread makes its server, runs, and frees it: the HTTP
 * server's connection records are per thread (http_util.c). */
static void *loop_main(void *arg)
{
    struct ilu_http_io_loop *loop = arg;
    loop->server = loop->io->ops->serve(loop->io->api, loop, loop->base, &loop->start_err);
    bool ok = loop->server != NULL;
    sem_post(&loop->started);
    if (!ok)
        return NULL;
    event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY);
    drop_answers(loop);
    loop->io->ops->free(loop->server);
    loop->server = NULL;
    return NULL;
}

static void exq_destroy(struct exq *q)
{
    if (q->ready) {
        event_free(q->ready);
        q->ready = NULL;
        pthread_mutex_destroy(&q->mu);
    }
}

struct ilu_http_io *ilu_http_io_start(struct event_base *core_base, unsigned n, const struct ilu_http_io_ops *ops,
                                      void *api, struct ilu_error *err)
{
    struct ilu_http_io *io = calloc(1, sizeof *io + n * sizeof io->loops[0]);
    if (!io) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    io->ops = ops;
    io->api = api;
    if (exq_init(&io->to_core, core_base, on_to_core, io)) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot create the I/O loops' queue");
        ilu_http_io_stop(io);
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        struct ilu_http_io_loop *loop = &io->loops[i];
        loop->io = io;
        io->n++;
        if (!(loop->base = ilu_daemon_event_base()) || exq_init(&loop->answers, loop->base, on_answers, loop) ||
            sem_init(&loop->started, 0, 0)) {
            ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot create I/O loop %u", i);
            ilu_http_io_stop(io);
            return NULL;
        }
        if (pthread_create(&loop->thread, NULL, loop_main, loop)) {
            sem_destroy(&loop->started);
            ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot start I/O thread %u", i);
            ilu_http_io_stop(io);
            return NULL;
        }
        loop->running = true;
        sem_wait(&loop->started);
        sem_destroy(&loop->started);
        if (!loop->server) {
            *err = loop->start_err;
            ilu_http_io_stop(io);
            return NULL;
        }
    }
    return io;
}

void ilu_http_io_stop(struct ilu_http_io *io)
{
    if (!io)
        return;
    /* answers already handed over still go out: each loop runs a moment more */
    static const struct timeval grace = {0, 100000};
    for (unsigned i = 0; i < io->n; i++)
        if (io->loops[i].running)
            event_base_loopexit(io->loops[i].base, &grace);
    for (unsigned i = 0; i < io->n; i++) {
        struct ilu_http_io_loop *loop = &io->loops[i];
        if (loop->running)
            pthread_join(loop->thread, NULL);
        loop->running = false;
        exq_destroy(&loop->answers);
        if (loop->base)
            event_base_free(loop->base);
    }
    for (struct ilu_http_exchange *ex = io->to_core.ready ? exq_take_all(&io->to_core) : NULL, *next; ex; ex = next) {
        next = ex->next;
        json_decref(ex->body);
        free(ex); /* its loop and connection are gone */
    }
    exq_destroy(&io->to_core);
    free(io);
}
