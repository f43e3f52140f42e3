/* The worker API on several threads (http.io_threads): I/O loops that own
 * the client connections, and the core loop, the one thread that runs the
 * worker core, its backend and its timers.
 *
 * An I/O loop accepts on the API's port (every loop binds it with
 * SO_REUSEPORT, so the kernel spreads connections), reads and parses the
 * request and its JSON body, and hands the routed request to the core loop
 * as a struct ilu_http_exchange. The core loop runs the route's handler as
 * with one loop; the handler's answer travels back to the connection's loop,
 * which encodes and writes it. The core stays single-threaded (no lock in
 * it, the simulator unchanged); the parsing, encoding and socket work, which
 * is most of a warm invocation's CPU, runs on the I/O loops.
 *
 * With io_threads 0 there are no I/O loops: the core loop serves HTTP and
 * an exchange is answered in place, as before. */
#ifndef ILU_HTTP_IO_H
#define ILU_HTTP_IO_H

#include <jansson.h>
#include <stdbool.h>

#include "core/error.h"
#include "core/log.h"
#include "http_util.h"

struct event_base;
struct evbuffer;
struct ilu_http_io;
struct ilu_http_io_loop;

/* One request and its answer, possibly answered on another thread than the
 * one that owns its connection. The handler (core loop) sees only this; the
 * evhttp request inside is touched by the owning loop alone. */
struct ilu_http_exchange {
    struct ilu_http_pending pending; /* first: the request, cancelled if its client hangs up */
    struct ilu_http_io_loop *owner;  /* the I/O loop of the connection; NULL: the core loop's own */
    struct ilu_http_exchange *next;  /* on a hand-off queue */
    long route;                      /* the API's route index */
    json_t *body;                    /* parsed body (NULL unless the route needs one) */
    int tag;                         /* the API's own use (e.g. "this is /health") */
    char uri[96];                    /* printable copy, for error logs */
    /* the answer, filled on the core loop and written by the owner */
    int status;
    json_t *answer;        /* JSON answer (reference owned) */
    struct evbuffer *text; /* or a text answer (metrics) */
    const char *content_type;
    bool text_has_tid; /* the text answer is the API's JSON: send X-Transaction-Id too */
    bool fail_logged;
};

/* The exchange of req, tracked like a pending request (open_requests counts
 * it until answered); NULL with a 500 in err. */
struct ilu_http_exchange *ilu_http_exchange_new(struct evhttp_request *req, const char *tid, unsigned *open_requests,
                                                const struct ilu_log *log, struct ilu_error *err);

/* Answer ex (core loop): obj (reference stolen) as JSON; err in the format
 * of docs/api.md, logged with the tid; or a text/plain buffer (freed).
 * Where the connection is owned by an I/O loop, the answer is handed to
 * it; else written now. Each exchange is answered exactly once. */
void ilu_http_answer_json(struct ilu_http_exchange *ex, int status, json_t *obj);
void ilu_http_answer_error(struct ilu_http_exchange *ex, const struct ilu_error *err);
void ilu_http_answer_text(struct ilu_http_exchange *ex, int status, const char *content_type, struct evbuffer *buf);
/* A JSON answer already written as text (buf freed), with the headers of
 * ilu_http_answer_json: the invocation answer, written without a tree. */
void ilu_http_answer_json_text(struct ilu_http_exchange *ex, int status, struct evbuffer *buf);

/* What the API gives the I/O loops. */
struct ilu_http_io_ops {
    /* Make this loop's HTTP server on base (on the loop's thread's behalf,
     * before it runs), binding the port with SO_REUSEPORT; its requests are
     * handed on with ilu_http_io_to_core(loop, ...). Returns the server's
     * context, or NULL with err. */
    void *(*serve)(void *api, struct ilu_http_io_loop *loop, struct event_base *base, struct ilu_error *err);
    /* Free the server (its loop has stopped). */
    void (*free)(void *server);
    /* Handle a routed exchange (run on the core loop). */
    void (*handle)(void *api, struct ilu_http_exchange *ex);
};

/* Start n I/O threads (n >= 1), each with its own event loop and server,
 * handing exchanges to ops->handle on core_base. NULL with err when a
 * thread or a server cannot start (nothing is left running). */
struct ilu_http_io *ilu_http_io_start(struct event_base *core_base, unsigned n, const struct ilu_http_io_ops *ops,
                                      void *api, struct ilu_error *err);
/* On an I/O loop: hand ex to the core loop. */
void ilu_http_io_to_core(struct ilu_http_io_loop *loop, struct ilu_http_exchange *ex);
/* The I/O loop's own counter of exchanges it has open, for
 * ilu_http_exchange_new. */
unsigned *ilu_http_io_open_requests(struct ilu_http_io_loop *loop);
/* End the threads (each runs 100 ms more, so answers handed over go out)
 * and free everything, their servers and connections included. */
void ilu_http_io_stop(struct ilu_http_io *io);

#endif
